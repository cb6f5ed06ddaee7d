//! `twinlens export` against a live local hub: whole exports, filtered exports, both
//! layouts, refused queries, and a diff of the export against the hub.

use crate::common;

use std::process::Command;

use common::HubProcess;
use twinlens::snapshot::{Layout, read_snapshot};

fn twinlens(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn exports_stream_whole_twins_into_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&dir.path().join("hub"), &["--demo", "1200"]);
    let connection = hub.ready["service_connection_string"].as_str().unwrap();
    let all = dir.path().join("all.json");
    let (code, stderr) = twinlens(&[
        "export",
        "--no-tls",
        "--connection-string",
        connection,
        "--out",
        all.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("exported 1200 twins"), "{stderr}");
    let snapshot = read_snapshot(&all).unwrap();
    assert_eq!(snapshot.twins.len(), 1200);
    assert_eq!(snapshot.header.hub_host_name, hub.service().host_name);
    assert!(snapshot.twins[0]["properties"]["desired"]["$metadata"].is_object());
    assert!(
        !std::fs::read_to_string(&all)
            .unwrap()
            .contains("SharedAccessKey"),
        "no keys in snapshots"
    );

    let filtered = dir.path().join("dublin.ndjson");
    let query = "SELECT * FROM devices WHERE tags.location.city = 'Dublin'";
    let (code, stderr) = twinlens(&[
        "export",
        "--no-tls",
        "--connection-string",
        connection,
        "--query",
        query,
        "--out",
        filtered.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let snapshot = read_snapshot(&filtered).unwrap();
    assert_eq!(snapshot.layout, Layout::Ndjson);
    assert!(!snapshot.twins.is_empty() && snapshot.twins.len() < 1200);
    assert!(
        snapshot
            .twins
            .iter()
            .all(|twin| twin["tags"]["location"]["city"] == "Dublin")
    );

    // The export equals the hub it came from.
    let (code, stderr) = twinlens(&["diff", all.to_str().unwrap(), connection, "--no-tls"]);
    assert_eq!(code, 0, "{stderr}");

    let projection = dir.path().join("ids.json");
    let (code, stderr) = twinlens(&[
        "export",
        "--no-tls",
        "--connection-string",
        connection,
        "--query",
        "SELECT deviceId FROM devices",
        "--out",
        projection.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("SELECT * FROM devices"), "{stderr}");
    assert!(!projection.exists());
    let (code, stderr) = twinlens(&[
        "export",
        "--no-tls",
        "--connection-string",
        connection,
        "--query",
        "SELECT * FROM",
        "--out",
        projection.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!projection.exists());
}
