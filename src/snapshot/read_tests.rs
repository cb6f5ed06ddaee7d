//! Round trips and damage handling of snapshot files, on temporary files.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::snapshot::SnapshotWriter;

fn header() -> SnapshotHeader {
    SnapshotHeader {
        hub_host_name: "contoso.azure-devices.net".into(),
        query: "SELECT * FROM devices".into(),
        taken_at: "2026-11-25T23:40:00.0000000Z".into(),
    }
}

fn twins(count: usize) -> Vec<Value> {
    (0..count)
        .map(|n| json!({"deviceId": format!("d{n}"), "version": n, "tags": {"n": n}, "properties": {"desired": {"$version": 1}, "reported": {}}}))
        .collect()
}

fn write(path: &Path, twins: &[Value]) {
    let mut writer = SnapshotWriter::create(path, &header()).unwrap();
    for twin in twins {
        writer.write_twin(twin).unwrap();
    }
    assert_eq!(writer.finish().unwrap(), twins.len());
}

#[test]
fn both_layouts_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (name, layout) in [("s.json", Layout::Json), ("s.ndjson", Layout::Ndjson)] {
        for count in [0, 1, 3] {
            let path = dir.path().join(name);
            write(&path, &twins(count));
            let snapshot = read_snapshot(&path).unwrap();
            assert_eq!(snapshot.header, header(), "{name}");
            assert_eq!(snapshot.layout, layout);
            assert_eq!(snapshot.twins, twins(count), "{name} with {count}");
        }
    }
    // The JSON layout is one valid document with the documented fields.
    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(document["format"], "twinlens-snapshot");
    assert_eq!(document["formatVersion"], 2);
    assert_eq!(document["twinCount"], 3);
}

#[test]
fn an_unfinished_writer_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let mut writer = SnapshotWriter::create(&path, &header()).unwrap();
    writer.write_twin(&twins(1)[0]).unwrap();
    drop(writer);
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file is left"
    );
}

#[test]
fn the_writer_refuses_twins_without_unique_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = SnapshotWriter::create(&dir.path().join("s.ndjson"), &header()).unwrap();
    assert!(writer.write_twin(&json!({"tags": {}})).is_err());
    writer.write_twin(&json!({"deviceId": "d1"})).unwrap();
    assert!(writer.write_twin(&json!({"deviceId": "d1"})).is_err());
}

fn damaged_line(path: &Path) -> usize {
    match read_snapshot(path) {
        Err(SnapshotError::Damaged { line, .. }) => line,
        other => panic!("expected a damaged-file error, got {other:?}"),
    }
}

#[test]
fn truncated_and_damaged_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("s.json");
    write(&json_path, &twins(5));
    let text = std::fs::read_to_string(&json_path).unwrap();
    std::fs::write(&json_path, &text[..text.len() * 2 / 3]).unwrap();
    let line = damaged_line(&json_path);
    assert!((3..=6).contains(&line), "line {line}");
    let message = read_snapshot(&json_path).unwrap_err().to_string();
    assert!(message.contains("truncated"), "{message}");

    let ndjson_path = dir.path().join("s.ndjson");
    write(&ndjson_path, &twins(5));
    let mut lines: Vec<String> = std::fs::read_to_string(&ndjson_path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines[3] = "{\"deviceId\": \"d2\", broken".into();
    std::fs::write(&ndjson_path, lines.join("\n")).unwrap();
    assert_eq!(damaged_line(&ndjson_path), 4);

    lines[3] = "{\"deviceId\": \"d0\"}".into();
    std::fs::write(&ndjson_path, lines.join("\n")).unwrap();
    assert_eq!(damaged_line(&ndjson_path), 4, "a repeated device id");

    write(&ndjson_path, &twins(3));
    let text = std::fs::read_to_string(&ndjson_path).unwrap();
    std::fs::write(&ndjson_path, &text[..text.len() - 10]).unwrap();
    assert_eq!(damaged_line(&ndjson_path), 4, "a cut last line");
}

#[test]
fn other_formats_and_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, r#"{"format":"twinlens-snapshot","formatVersion":3,"hubHostName":"h","query":"q","takenAt":"t","twins":[]}"#).unwrap();
    let error = read_snapshot(&path).unwrap_err();
    assert!(
        matches!(
            error,
            SnapshotError::UnsupportedVersion {
                found: 3,
                supported: 2,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("version 3"));
    assert!(error.to_string().contains("versions 1 to 2"));

    std::fs::write(&path, r#"{"devices": []}"#).unwrap();
    assert!(matches!(
        read_snapshot(&path).unwrap_err(),
        SnapshotError::NotASnapshot { .. }
    ));
    std::fs::write(&path, "[1, 2]").unwrap();
    assert!(matches!(
        read_snapshot(&path).unwrap_err(),
        SnapshotError::NotASnapshot { .. }
    ));
    let missing = dir.path().join("missing.json");
    assert!(matches!(
        read_snapshot(&missing).unwrap_err(),
        SnapshotError::Io { .. }
    ));

    write(&path, &twins(2));
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"twinCount\":2", "\"twinCount\":3");
    std::fs::write(&path, text).unwrap();
    assert!(matches!(
        read_snapshot(&path).unwrap_err(),
        SnapshotError::Damaged { .. }
    ));
}

#[test]
fn floats_survive_a_write_and_a_read() {
    // Found by fuzzing (fuzz/regressions/snapshot_read/float_roundtrip): without exact
    // float parsing, 5.5555555555555556e+32 read back one unit in the last place off.
    let dir = tempfile::tempdir().unwrap();
    let twin: Value = serde_json::from_str(
        r#"{"deviceId":"d","tags":{"x":555555555555555555555555555555551,"y":0.1,"z":-2.5e-300}}"#,
    )
    .unwrap();
    for name in ["s.json", "s.ndjson"] {
        let path = dir.path().join(name);
        write(&path, std::slice::from_ref(&twin));
        assert_eq!(
            read_snapshot(&path).unwrap().twins,
            vec![twin.clone()],
            "{name}"
        );
    }
}

#[test]
fn version_1_files_are_read_and_module_twins_sit_beside_their_devices() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.json");
    std::fs::write(&path, r#"{"format":"twinlens-snapshot","formatVersion":1,"hubHostName":"h","query":"q","takenAt":"t","twins":[{"deviceId":"d1"}],"twinCount":1}"#).unwrap();
    assert_eq!(
        read_snapshot(&path).unwrap().twins,
        vec![json!({"deviceId": "d1"})]
    );

    let with_modules = vec![
        json!({"deviceId": "d1"}),
        json!({"deviceId": "d1", "moduleId": "m1"}),
        json!({"deviceId": "d1", "moduleId": "m2"}),
    ];
    for name in ["m.json", "m.ndjson"] {
        let path = dir.path().join(name);
        write(&path, &with_modules);
        assert_eq!(read_snapshot(&path).unwrap().twins, with_modules, "{name}");
    }
    let path = dir.path().join("m.ndjson");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"deviceId\":\"d1\",\"moduleId\":\"m1\"}\n");
    std::fs::write(&path, text).unwrap();
    let error = read_snapshot(&path).unwrap_err().to_string();
    assert!(
        error.contains("module m1 of d1 appears a second time"),
        "{error}"
    );
}
