//! The twins the store serves, byte for byte, after a recorded sequence of writes: the
//! service view (`GET /twins/{id}`) and the device view (MQTT twin GET) after every step,
//! and both twins as read back from the file, compared with `golden/twin_history.txt`.
//! Any change to how twins are kept must serve exactly the same text (key order,
//! `$metadata`, versions, etags) for the same history.
//! After a deliberate change of the served shape, regenerate the file with
//! `TWINLENS_BLESS=1 cargo test --lib golden`, and review its diff.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::{Store, TwinWrite};

const GOLDEN: &str = include_str!("golden/twin_history.txt");

fn at(second: u32, nanos: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, second).unwrap()
        + chrono::Duration::nanoseconds(i64::from(nanos))
}

/// One step of the recorded history, applied to `store` at time `now`.
enum Step {
    Create(&'static str),
    Service(&'static str, TwinWrite, Value),
    Reported(&'static str, Value),
    Connection(&'static str, bool),
    Disable(&'static str),
}

fn history() -> Vec<Step> {
    use Step::*;
    vec![
        Create("d1"),
        Service(
            "d1",
            TwinWrite::Patch,
            json!({"tags": {"site": "Oslo", "floor": 3}}),
        ),
        Service(
            "d1",
            TwinWrite::Patch,
            json!({"properties": {"desired": {"fw": "1.2.0", "limits": {"max": 80.5, "min": -10}}}}),
        ),
        Reported(
            "d1",
            json!({"fw": "1.1.0", "temp": 21.25, "uptime": 12345678901_u64}),
        ),
        Connection("d1", true),
        Reported(
            "d1",
            json!({"limits": {"max": 80.5}, "note": "ünïcødé \"quoted\" \\ \u{1}"}),
        ),
        Service(
            "d1",
            TwinWrite::Patch,
            json!({"tags": {"floor": null, "zone": {"a": [1, 2.5, "x", true]}},
                   "properties": {"desired": {"limits": {"min": null}, "new": {}}}}),
        ),
        Reported(
            "d1",
            json!({"temp": null, "nested": {"deep": {"deeper": {"value": 1e21}}}}),
        ),
        Service(
            "d1",
            TwinWrite::Replace,
            json!({"tags": {"only": "this"}, "properties": {"desired": {"fw": "2.0.0"}}}),
        ),
        Connection("d1", false),
        Create("d2"),
        Reported("d2", json!({})),
        Disable("d2"),
        Service(
            "d2",
            TwinWrite::Patch,
            json!({"properties": {"desired": {"x": 0.1}}}),
        ),
    ]
}

fn run_history() -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db")).unwrap();
    let mut served = String::new();
    for (index, step) in history().into_iter().enumerate() {
        let second = u32::try_from(index).unwrap();
        let now = at(second, second * 1_234_567);
        let (device, name) = match step {
            Step::Create(device) => {
                drop(store.put_device(device, &json!({}), None, now).unwrap());
                (device, "create")
            }
            Step::Service(device, mode, body) => {
                drop(store.write_twin(device, &body, mode, None, now).unwrap());
                (device, "service write")
            }
            Step::Reported(device, patch) => {
                drop(store.write_reported(device, &patch, now).unwrap());
                (device, "reported patch")
            }
            Step::Connection(device, connected) => {
                store
                    .set_connection_state(device, connected, None, now)
                    .unwrap();
                (device, "connection")
            }
            Step::Disable(device) => {
                let mut identity = serde_json::to_value(store.device(device).unwrap()).unwrap();
                identity["status"] = json!("disabled");
                identity["statusReason"] = json!("maintenance");
                let condition = super::IfMatch::Any;
                drop(
                    store
                        .put_device(device, &identity, Some(&condition), now)
                        .unwrap(),
                );
                (device, "disable")
            }
        };
        served.push_str(&format!("## {index} {name} {device}\n"));
        served.push_str(&store.twin(device).unwrap().to_string());
        served.push('\n');
        served.push_str(&store.device_twin(device).unwrap().to_string());
        served.push('\n');
    }
    // What was written comes back the same from the file.
    drop(store);
    let store = Store::open(&dir.path().join("hub.db")).unwrap();
    for device in ["d1", "d2"] {
        served.push_str(&format!("## reopened {device}\n"));
        served.push_str(&store.twin(device).unwrap().to_string());
        served.push('\n');
    }
    served
}

#[test]
fn twins_are_served_byte_for_byte_as_recorded() {
    let served = run_history();
    if std::env::var_os("TWINLENS_BLESS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/hub/store/golden/twin_history.txt");
        std::fs::write(path, &served).unwrap();
        return;
    }
    for (line, (got, expected)) in served.lines().zip(GOLDEN.lines()).enumerate() {
        assert_eq!(
            got,
            expected,
            "line {} of golden/twin_history.txt",
            line + 1
        );
    }
    assert_eq!(served.lines().count(), GOLDEN.lines().count());
}
