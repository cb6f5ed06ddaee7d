//! `twinlens import` against live local hubs: a round trip from one hub into a fresh one
//! that `twinlens diff` finds equal, dry runs, removals, skipped missing devices,
//! reported properties left alone, refused damaged or foreign files with nothing
//! written; and, through the library, etag conflicts, a hub lost mid-import, and
//! exports of chosen devices.

use crate::common;

use std::path::Path;

use common::HubProcess;
use common::local_hub::{request, start_hub};
use reqwest::Method;
use serde_json::{Value, json};
use twinlens::service::{ClientOptions, NewDevice, ServiceClient};
use twinlens::snapshot::{
    ImportAction, ImportError, ImportOptions, ImportOutcome, SnapshotHeader, SnapshotWriter,
    apply_import, export_devices, plan_import, read_snapshot,
};

/// Runs the twinlens binary; returns its exit code, stdout and stderr.
async fn twinlens(args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(args)
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn connection(hub: &HubProcess) -> String {
    hub.ready["service_connection_string"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn import(file: &Path, hub: &HubProcess, extra: &[&str]) -> (i32, String, String) {
    let connection = connection(hub);
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--no-tls",
        "--connection-string",
        &connection,
    ];
    args.extend_from_slice(extra);
    twinlens(&args).await
}

async fn patch_twin(hub: &HubProcess, device_id: &str, patch: Value) {
    let response = hub
        .send_json(Method::PATCH, &format!("/twins/{device_id}"), &patch)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn create_device(hub: &HubProcess, device_id: &str) {
    let response = hub
        .send_json(Method::PUT, &format!("/devices/{device_id}"), &json!({}))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

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

#[tokio::test]
async fn a_round_trip_into_a_fresh_hub_compares_equal() {
    let dir = tempfile::tempdir().unwrap();
    let source = HubProcess::start(&dir.path().join("source"), &["--demo", "5"]);
    patch_twin(
        &source,
        "demo-002",
        json!({"tags": {"owner": {"team": "ops", "contacts": ["a", "b"]}},
               "properties": {"desired": {"telemetry": {"interval": 5, "channels": {"t": true}}}}}),
    )
    .await;
    create_device(&source, "custom-1").await;
    patch_twin(
        &source,
        "custom-1",
        json!({"tags": {"site": {"building": {"floor": 3}}},
               "properties": {"desired": {"mode": "eco"}}}),
    )
    .await;
    let file = dir.path().join("source.json");
    let (code, _, stderr) = twinlens(&[
        "export",
        "--no-tls",
        "--connection-string",
        &connection(&source),
        "--out",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");

    let target = HubProcess::start(&dir.path().join("target"), &[]);
    let (code, stdout, stderr) = import(&file, &target, &["--create-missing"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("+ custom-1  created"), "{stdout}");
    assert!(
        stdout.contains("    + tags.site: {\"building\":{\"floor\":3}}"),
        "{stdout}"
    );
    assert!(
        stderr.contains("0 updated, 6 created, 0 unchanged"),
        "{stderr}"
    );

    let (code, stdout, stderr) = twinlens(&[
        "diff",
        file.to_str().unwrap(),
        &connection(&target),
        "--no-tls",
        "--sections",
        "tags,desired",
    ])
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The demo devices' reported properties stayed behind: they belong to devices.
    let (code, stdout, _) = twinlens(&[
        "diff",
        file.to_str().unwrap(),
        &connection(&target),
        "--no-tls",
        "--sections",
        "reported",
    ])
    .await;
    assert_eq!(code, 1);
    assert!(stdout.contains("- properties.reported."), "{stdout}");

    let (code, stdout, stderr) = import(&file, &target, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("0 updated, 0 created, 6 unchanged"),
        "{stderr}"
    );
}

#[tokio::test]
async fn dry_runs_removals_missing_devices_and_reported_properties() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&dir.path().join("hub"), &[]);
    create_device(&hub, "d1").await;
    patch_twin(
        &hub,
        "d1",
        json!({"tags": {"site": "bergen", "legacy": true},
               "properties": {"desired": {"x": 1, "old": {"y": 2}}}}),
    )
    .await;
    let before = hub.get_json("/twins/d1").await;
    let file = dir.path().join("s.ndjson");
    write_snapshot(
        &file,
        &[
            json!({"deviceId": "d1", "etag": "AAAAAAAAAAE=", "tags": {"site": "oslo"},
                   "properties": {"desired": {"x": 1, "$version": 7}, "reported": {"fw": "9.9"}}}),
            json!({"deviceId": "d2", "tags": {"site": "oslo"},
                   "properties": {"desired": {}, "reported": {}}}),
        ],
    );

    let (code, stdout, stderr) = import(&file, &hub, &["--dry-run"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(
            "~ d1  would be updated\n    ~ tags.site: \"bergen\" -> \"oslo\"\n    - tags.legacy: true\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("- properties.desired.old"), "{stdout}");
    assert!(stdout.contains("? d2  skipped"), "{stdout}");
    assert!(
        stderr.contains("nothing was written") && stderr.contains("--create-missing"),
        "{stderr}"
    );
    assert_eq!(
        hub.get_json("/twins/d1").await,
        before,
        "a dry run writes nothing"
    );

    let (code, _, stderr) = import(&file, &hub, &["--tags"]).await;
    assert_eq!(code, 0, "{stderr}");
    let twin = hub.get_json("/twins/d1").await;
    assert_eq!(twin["tags"], json!({"site": "oslo"}), "legacy is removed");
    assert_eq!(
        twin["properties"]["desired"]["old"],
        json!({"y": 2}),
        "tags only"
    );

    let (code, _, stderr) = import(&file, &hub, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "1 updated, 0 created, 0 unchanged, 1 skipped because missing (pass --create-missing to create them), 0 conflicts, 0 failed"
        ),
        "{stderr}"
    );
    let twin = hub.get_json("/twins/d1").await;
    assert!(twin["properties"]["desired"].get("old").is_none(), "{twin}");
    assert_eq!(twin["properties"]["desired"]["x"], 1);
    assert!(
        twin["properties"]["reported"].get("fw").is_none(),
        "reported properties are never written: {twin}"
    );
    let missing = hub.request(Method::GET, "/twins/d2").send().await.unwrap();
    assert_eq!(missing.status(), 404, "missing devices are only skipped");
}

#[tokio::test]
async fn damaged_and_foreign_files_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&dir.path().join("hub"), &[]);
    for id in ["d1", "d2"] {
        create_device(&hub, id).await;
    }
    let twin =
        |id: &str| json!({"deviceId": id, "tags": {"site": "oslo"}, "properties": {"desired": {}}});
    let before = hub.get_json("/twins/d1").await;

    let damaged = dir.path().join("damaged.ndjson");
    write_snapshot(&damaged, &[twin("d1"), twin("d2")]);
    let text = std::fs::read_to_string(&damaged).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        &damaged,
        format!(
            "{}\n{}\n{{\"deviceId\": \"d2\", broken\n",
            lines[0], lines[1]
        ),
    )
    .unwrap();
    let (code, _, stderr) = import(&damaged, &hub, &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("damaged at line 3"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");

    let truncated = dir.path().join("truncated.json");
    write_snapshot(&truncated, &[twin("d1"), twin("d2")]);
    let text = std::fs::read_to_string(&truncated).unwrap();
    std::fs::write(&truncated, &text[..text.len() - 20]).unwrap();
    let (code, _, stderr) = import(&truncated, &hub, &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("truncated"),
        "{stderr}"
    );

    let foreign = dir.path().join("v3.json");
    std::fs::write(
        &foreign,
        r#"{"format":"twinlens-snapshot","formatVersion":3,"hubHostName":"h","query":"q","takenAt":"t","twins":[]}"#,
    )
    .unwrap();
    let (code, _, stderr) = import(&foreign, &hub, &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("format version 3") && stderr.contains("reads versions 1 to 2"),
        "{stderr}"
    );

    assert_eq!(
        hub.get_json("/twins/d1").await,
        before,
        "nothing was written"
    );
}

#[tokio::test]
async fn twins_changed_after_the_plan_are_conflicts_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(&dir.path().join("hub"), 0, false).await;
    let client = ServiceClient::new(
        &hub.ready.service_connection_string.parse().unwrap(),
        ClientOptions {
            base_url: Some(hub.ready.http_url.clone()),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    for id in ["d1", "d2"] {
        client
            .create_device(id, &NewDevice::default())
            .await
            .unwrap();
        client
            .patch_twin(id, &json!({"tags": {"site": "bergen", "n": 1}}), None)
            .await
            .unwrap();
    }
    let file = dir.path().join("chosen.json");
    let header = SnapshotHeader {
        hub_host_name: "localhost".into(),
        query: "SELECT * FROM devices".into(),
        taken_at: "2026-11-25T00:00:00.0000000Z".into(),
    };
    let ids = ["d2".to_owned(), "d1".to_owned()];
    let mut seen = Vec::new();
    let count = export_devices(&client, &ids, &file, &header, |done, total| {
        seen.push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(count, 2);
    assert_eq!(seen, [(0, Some(2)), (1, Some(2)), (2, Some(2))]);
    let exported = read_snapshot(&file).unwrap();
    assert_eq!(
        exported.twins[0]["deviceId"], "d2",
        "in the order asked for"
    );

    // Both devices drift from the snapshot; the plan undoes it.
    for id in ["d1", "d2"] {
        client
            .patch_twin(id, &json!({"tags": {"site": "oslo"}}), None)
            .await
            .unwrap();
    }
    let options = ImportOptions {
        tags: true,
        desired: true,
        create_missing: false,
    };
    let plan = plan_import(&client, &file, options).await.unwrap();
    assert!(
        plan.devices
            .iter()
            .all(|device| device.action == ImportAction::Update)
    );
    // Someone changes d1 between the preview and the import.
    let response = request(&hub, Method::PATCH, "/twins/d1")
        .json(&json!({"tags": {"n": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let mut progress = Vec::new();
    let report = apply_import(&client, &plan, |done, total| progress.push((done, total)))
        .await
        .unwrap();
    assert_eq!(progress, [(1, 2), (2, 2)]);
    let outcomes: Vec<(&str, &ImportOutcome)> = report
        .results
        .iter()
        .map(|result| (result.device_id.as_str(), &result.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("d2", &ImportOutcome::Updated),
            ("d1", &ImportOutcome::Conflict)
        ]
    );
    let d1 = client.get_twin("d1").await.unwrap();
    assert_eq!(
        Value::Object(d1.tags.unwrap()),
        json!({"site": "oslo", "n": 2}),
        "the conflicting change is kept"
    );
    let d2 = client.get_twin("d2").await.unwrap();
    assert_eq!(
        Value::Object(d2.tags.unwrap()),
        json!({"site": "bergen", "n": 1})
    );

    // A hub that stops answering stops the import, saying where and what to do.
    let plan = plan_import(&client, &file, options).await.unwrap();
    hub.shutdown().await.unwrap();
    let error = apply_import(&client, &plan, |_, _| {}).await.unwrap_err();
    assert!(
        matches!(&error, ImportError::Interrupted { device_id, written: 0, .. } if device_id == "d1"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("run the import again"),
        "{error}"
    );
}

#[tokio::test]
async fn module_twins_travel_with_their_devices_through_export_diff_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let source = HubProcess::start(&dir.path().join("source"), &[]);
    create_device(&source, "edge-1").await;
    let module = source
        .send_json(Method::PUT, "/devices/edge-1/modules/filter", &json!({}))
        .await;
    assert_eq!(module.status(), 200);
    let patched = source
        .send_json(
            Method::PATCH,
            "/twins/edge-1/modules/filter",
            &json!({"tags": {"role": "filter"}, "properties": {"desired": {"threshold": 7}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let file = dir.path().join("edge.ndjson");
    let (code, _, stderr) = twinlens(&[
        "export",
        "--no-tls",
        "--connection-string",
        &connection(&source),
        "--query",
        "SELECT * FROM devices WHERE deviceId = 'edge-1'",
        "--out",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    let snapshot = read_snapshot(&file).unwrap();
    let keys: Vec<(String, Option<String>)> = snapshot
        .twins
        .iter()
        .map(|twin| {
            (
                twin["deviceId"].as_str().unwrap().to_owned(),
                twin.get("moduleId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("edge-1".to_owned(), None),
            ("edge-1".to_owned(), Some("filter".to_owned()))
        ]
    );
    let first_line = std::fs::read_to_string(&file).unwrap();
    assert!(first_line.contains("\"formatVersion\":2"), "{first_line}");

    // The module's desired changes on the hub: diff names the module's twin.
    let changed = source
        .send_json(
            Method::PATCH,
            "/twins/edge-1/modules/filter",
            &json!({"properties": {"desired": {"threshold": 9}}}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let (code, stdout, stderr) = twinlens(&[
        "diff",
        file.to_str().unwrap(),
        &connection(&source),
        "--no-tls",
        "--sections",
        "tags,desired",
    ])
    .await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("edge-1/filter"), "{stdout}");
    assert!(stdout.contains("properties.desired.threshold"), "{stdout}");

    // Importing the file puts the module's desired back; into a fresh hub it creates
    // the device, then its module.
    let (code, _, stderr) = import(&file, &source, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let twin = source.get_json("/twins/edge-1/modules/filter").await;
    assert_eq!(twin["properties"]["desired"]["threshold"], 7);
    let target = HubProcess::start(&dir.path().join("target"), &[]);
    let (code, _, stderr) = import(&file, &target, &["--create-missing"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("0 updated, 2 created"), "{stderr}");
    let twin = target.get_json("/twins/edge-1/modules/filter").await;
    assert_eq!(twin["tags"]["role"], "filter");
    assert_eq!(twin["properties"]["desired"]["threshold"], 7);
}
