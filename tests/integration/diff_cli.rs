//! `twinlens diff`: two snapshot files, and a snapshot against a live local hub; the
//! exit status is 0 for no differences, 1 for differences, 2 for errors.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::HubProcess;
use reqwest::Method;
use serde_json::{Value, json};
use twinlens::snapshot::{SnapshotHeader, SnapshotWriter};

fn write_snapshot(path: &Path, twins: &[Value]) {
    let header = SnapshotHeader {
        hub_host_name: "example.azure-devices.net".into(),
        query: "SELECT * FROM devices".into(),
        taken_at: "2026-11-25T00:00:00.0000000Z".into(),
    };
    let mut writer = SnapshotWriter::create(path, &header).unwrap();
    for twin in twins {
        writer.write_twin(twin).unwrap();
    }
    writer.finish().unwrap();
}

fn twin(id: &str, tags: Value) -> Value {
    json!({"deviceId": id, "etag": "AAAAAAAAAAE=", "version": 2, "tags": tags,
           "properties": {"desired": {"$version": 1}, "reported": {"$version": 1}}})
}

fn diff(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .arg("diff")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn two_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.ndjson");
    write_snapshot(
        &a,
        &[twin("d1", json!({"site": "oslo"})), twin("d2", json!({}))],
    );
    write_snapshot(
        &b,
        &[twin("d1", json!({"site": "bergen"})), twin("d3", json!({}))],
    );
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

    let (code, stdout, _) = diff(&[a, b]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("~ d1\n    ~ tags.site: \"oslo\" -> \"bergen\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("- d2") && stdout.contains("+ d3"),
        "{stdout}"
    );

    let (code, stdout, _) = diff(&[a, b, "--json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["d2"]["status"], "removed");
    assert_eq!(report["d1"]["changes"][0]["after"], "bergen");

    let (code, stdout, stderr) = diff(&[a, a]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("no differences"));

    let (code, _, stderr) = diff(&[a, "no-such-file.json"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("neither an existing snapshot file"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_snapshot_against_a_live_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&dir.path().join("hub"), &[]);
    hub.send_json(Method::PUT, "/devices/d1", &json!({})).await;
    hub.send_json(
        Method::PATCH,
        "/twins/d1",
        &json!({"tags": {"site": "oslo"}}),
    )
    .await;
    let snapshot = dir.path().join("s.json");
    write_snapshot(&snapshot, &[twin("d1", json!({"site": "oslo"}))]);
    let connection = hub.ready["service_connection_string"]
        .as_str()
        .unwrap()
        .to_owned();
    let snapshot = snapshot.to_str().unwrap().to_owned();

    let (code, _, stderr) = tokio::task::spawn_blocking({
        let (snapshot, connection) = (snapshot.clone(), connection.clone());
        move || diff(&[&snapshot, &connection, "--no-tls"])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");

    hub.send_json(
        Method::PATCH,
        "/twins/d1",
        &json!({"tags": {"site": "bergen"}}),
    )
    .await;
    let (code, stdout, _) =
        tokio::task::spawn_blocking(move || diff(&[&snapshot, &connection, "--no-tls"]))
            .await
            .unwrap();
    assert_eq!(code, 1);
    assert!(stdout.contains("tags.site"), "{stdout}");
}
