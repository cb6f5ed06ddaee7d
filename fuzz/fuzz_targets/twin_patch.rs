//! Twin patches: RFC 7386 merge and the patch between two documents, the structural
//! diff, IoT Hub's validation limits, dotted paths, and the twin writes the hub performs
//! (service PATCH and PUT, device reported PATCH) with the JSON views of the result.
//!
//! Input: two JSON documents separated by a 0 byte; nothing runs unless both parse.

#![no_main]

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use twinlens::twin::limits::{check_section_growth, section_size, validate_section_body};
use twinlens::twin::{
    ChangeKind, JsonPath, Section, Twin, diff, diff_ignoring_system_keys, merge_patch,
    merge_patch_between, strip_metadata, without_system_keys,
};

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second)
        .single()
        .expect("a valid time")
}

/// Whether any object at any depth has a `null` member, which a merge patch cannot store.
fn has_null_member(value: &Value) -> bool {
    match value {
        Value::Object(members) => members
            .values()
            .any(|member| member.is_null() || has_null_member(member)),
        Value::Array(items) => items.iter().any(has_null_member),
        _ => false,
    }
}

fn check_merge(a: &Value, b: &Value) {
    let mut merged = a.clone();
    merge_patch(&mut merged, b);
    let mut twice = merged.clone();
    merge_patch(&mut twice, b);
    assert_eq!(twice, merged, "a merge patch applied twice changed again");

    let patch = merge_patch_between(a, b);
    if !has_null_member(b) {
        let mut rebuilt = a.clone();
        merge_patch(&mut rebuilt, &patch);
        assert_eq!(
            &rebuilt, b,
            "the patch between two documents does not rebuild the second"
        );
    }
}

fn check_diff(a: &Value, b: &Value) {
    let changes = diff(a, b);
    assert_eq!(changes.is_empty(), a == b);
    for change in &changes {
        let (before, after) = match &change.kind {
            ChangeKind::Added { value } => (None, Some(value)),
            ChangeKind::Removed { value } => (Some(value), None),
            ChangeKind::Changed { from, to } => (Some(from), Some(to)),
        };
        assert_eq!(change.path.resolve(a), before, "at {}", change.path);
        assert_eq!(change.path.resolve(b), after, "at {}", change.path);
        let printed = change.path.to_string();
        let parsed: JsonPath = printed.parse().expect("a printed path parses");
        assert_eq!(parsed, change.path, "path {printed:?}");
    }
    let user_a = without_system_keys(a);
    let user_b = without_system_keys(b);
    assert_eq!(diff_ignoring_system_keys(a, b).is_empty(), user_a == user_b);
    let mut stripped = a.clone();
    strip_metadata(&mut stripped);
}

fn check_limits(a: &Value, b: &Value) {
    let (Value::Object(before), Value::Object(after)) = (a, b) else {
        return;
    };
    for section in [Section::Tags, Section::Desired, Section::Reported] {
        let _ = validate_section_body(section, after);
        let _ = check_section_growth(section, before, after);
    }
    let _ = section_size(after);
}

/// The JSON views of a twin are stable: reading the service view back and printing it
/// again gives the same document.
fn check_views(twin: &Twin) {
    let json = twin.to_json();
    let read = Twin::from_json(&json)
        .unwrap_or_else(|error| panic!("the service view does not read back: {error}\n{json}"));
    assert_eq!(read.to_json(), json);
    let _ = twin.device_view();
}

fn check_writes(mut twin: Twin, a: &Value, b: &Value) {
    let version = twin.version;
    match twin.apply_service_patch(a, at(1)) {
        Ok(_) => assert!(twin.version >= version),
        Err(error) => {
            let _ = (error.error_code(), error.http_status(), error.to_string());
        }
    }
    check_views(&twin);
    let version = twin.version;
    if twin.apply_reported_patch(b, at(2)).is_ok() {
        assert_eq!(twin.version, version + 1);
    }
    check_views(&twin);
    let version = twin.version;
    if twin.apply_service_replace(b, at(3)).is_ok() {
        assert_eq!(twin.version, version + 1);
    }
    check_views(&twin);
}

fn check_twin(a: &Value, b: &Value) {
    check_writes(Twin::new("device-1", at(0)), a, b);
    // A twin read from the first document (as imported from a snapshot), patched with
    // the second.
    if let Ok(imported) = Twin::from_json(a) {
        check_views(&imported);
        check_writes(imported, b, b);
    }
}

fn check_path(a: &Value, b: &Value) {
    let Value::String(text) = a else {
        return;
    };
    if let Ok(path) = text.parse::<JsonPath>() {
        let printed = path.to_string();
        assert_eq!(printed.parse::<JsonPath>().ok(), Some(path.clone()));
        let _ = path.resolve(b);
        let _ = (path.parent(), path.last_key(), path.is_root());
        let _ = Section::containing(&path);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&byte| byte == 0) else {
        return;
    };
    let (Ok(a), Ok(b)) = (
        serde_json::from_slice::<Value>(&data[..split]),
        serde_json::from_slice::<Value>(&data[split + 1..]),
    ) else {
        return;
    };
    check_merge(&a, &b);
    check_merge(&b, &a);
    check_diff(&a, &b);
    check_limits(&a, &b);
    check_path(&a, &b);
    check_twin(&a, &b);
});
