//! Snapshot files: the readers of both layouts (JSON document and NDJSON) on any bytes,
//! and for files they accept, writing the snapshot back, reading the copy, and comparing
//! its twins.
//!
//! The readers take a path, so each input is written to a file in a temporary folder
//! made once per process (point `TMPDIR` at a RAM disk to keep this fast).

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tempfile::TempDir;
use twinlens::snapshot::compare::{
    Sections, compare_twins, comparison_to_json, comparison_to_table,
};
use twinlens::snapshot::{Layout, Snapshot, SnapshotReader, SnapshotWriter, read_snapshot};

fn folder() -> &'static Path {
    static FOLDER: OnceLock<TempDir> = OnceLock::new();
    FOLDER
        .get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
}

fn file(name: &str) -> PathBuf {
    folder().join(name)
}

/// Writes `snapshot` with the writer and checks that the copy reads back the same.
fn check_write_back(snapshot: &Snapshot) {
    let path = file(match snapshot.layout {
        Layout::Json => "copy.json",
        Layout::Ndjson => "copy.ndjson",
    });
    let mut writer = SnapshotWriter::create(&path, &snapshot.header).expect("create a copy");
    for twin in &snapshot.twins {
        writer.write_twin(twin).expect("write a twin that was read");
    }
    assert_eq!(
        writer.finish().expect("finish the copy"),
        snapshot.twins.len()
    );
    let copy = read_snapshot(&path).unwrap_or_else(|error| panic!("the copy is refused: {error}"));
    assert_eq!(copy.header, snapshot.header);
    assert_eq!(copy.layout, snapshot.layout);
    assert_eq!(copy.twins.len(), snapshot.twins.len());
    for (read, written) in copy.twins.iter().zip(&snapshot.twins) {
        assert_eq!(read, written, "{written} was read back as {read}");
    }
}

fn check_compare(snapshot: &Snapshot) {
    let same = compare_twins(&snapshot.twins, &snapshot.twins, Sections::ALL);
    assert!(same.is_empty(), "a snapshot differs from itself: {same:?}");
    let others = [
        json!({"deviceId": "d1", "tags": {"a": 1}, "properties": {"desired": {"x": [1]}}}),
        json!({"deviceId": "d2", "properties": {"reported": {"$version": 3, "y": {"z": null}}}}),
    ];
    let sections = Sections {
        tags: true,
        desired: false,
        reported: true,
    };
    let comparison = compare_twins(&snapshot.twins, &others, sections);
    let _ = comparison_to_json(&comparison);
    let _ = comparison_to_table(&comparison);
}

fuzz_target!(|data: &[u8]| {
    let path = file("input.json");
    std::fs::write(&path, data).expect("write the input file");
    match read_snapshot(&path) {
        Ok(snapshot) => {
            // The streaming reader yields the same twins.
            let reader = SnapshotReader::open(&path).expect("the file opened a moment ago");
            let streamed: Vec<_> = reader
                .map(|twin| twin.expect("a twin read before"))
                .collect();
            assert_eq!(streamed, snapshot.twins);
            check_compare(&snapshot);
            check_write_back(&snapshot);
        }
        Err(error) => {
            let _ = error.to_string();
            // Streaming stops at the first damaged twin; it must not panic either.
            if let Ok(reader) = SnapshotReader::open(&path) {
                for twin in reader {
                    if twin.is_err() {
                        break;
                    }
                }
            }
        }
    }
});
