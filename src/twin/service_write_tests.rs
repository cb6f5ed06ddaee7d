//! Tests for `service_write`: PATCH and PUT of tags and desired properties.

#![allow(clippy::unwrap_used)]

use super::*;
use chrono::TimeZone;
use serde_json::json;

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, second).unwrap()
}

fn stamp(second: u32) -> Value {
    json!(format!("2024-06-01T12:00:{second:02}.0000000Z"))
}

fn twin() -> Twin {
    Twin::new("dev1", at(0))
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn desired_patch(desired: Value) -> Value {
    json!({"properties": {"desired": desired}})
}

#[test]
fn tags_patch_bumps_version_and_etag_but_not_desired() {
    let mut twin = twin();
    let change = twin
        .apply_service_patch(&json!({"tags": {"location": {"city": "Oslo"}}}), at(1))
        .unwrap();
    assert_eq!(change, None);
    assert_eq!(twin.tags(), &object(json!({"location": {"city": "Oslo"}})));
    assert_eq!((twin.version, twin.etag.as_str()), (2, "AAAAAAAAAAI="));
    assert_eq!(twin.desired_version(), 1);
    assert_eq!(
        twin.to_json()["properties"]["desired"]["$metadata"]["$lastUpdated"],
        stamp(0)
    );
}

#[test]
fn desired_patch_bumps_both_versions_and_notifies_the_patch_as_sent() {
    let mut twin = twin();
    twin.apply_service_patch(&desired_patch(json!({"keep": 1, "old": 2})), at(1))
        .unwrap();
    let change = twin
        .apply_service_patch(
            &desired_patch(json!({"keep": 1, "old": null, "new": {"a": 1}})),
            at(2),
        )
        .unwrap()
        .unwrap();
    assert_eq!(change.version, 3);
    assert_eq!(
        change.notification,
        json!({"keep": 1, "old": null, "new": {"a": 1}, "$version": 3})
    );
    assert_eq!(twin.desired(), &object(json!({"keep": 1, "new": {"a": 1}})));
    assert_eq!((twin.version, twin.desired_version()), (3, 3));
    assert_ne!(twin.etag, "AAAAAAAAAAI=");
}

#[test]
fn one_request_is_one_version_bump() {
    let mut twin = twin();
    let body = json!({"tags": {"t": 1}, "properties": {"desired": {"d": 1}}});
    let change = twin.apply_service_patch(&body, at(1)).unwrap().unwrap();
    assert_eq!(
        (twin.version, twin.desired_version(), change.version),
        (2, 2, 2)
    );
}

#[test]
fn read_only_fields_are_ignored() {
    let mut twin = twin();
    let body = json!({"deviceId": "other", "etag": "x", "version": 99, "status": "disabled", "tags": {"t": 1}});
    twin.apply_service_patch(&body, at(1)).unwrap();
    assert_eq!(twin.device_id, "dev1");
    assert_eq!(twin.version, 2);
    assert_eq!(twin.status, crate::twin::DeviceStatus::Enabled);
}

#[test]
fn a_fetched_twin_can_be_patched_back() {
    let mut twin = twin();
    twin.apply_reported_patch(&json!({"r": 1}), at(1)).unwrap();
    let mut fetched = twin.to_json();
    fetched["properties"]["desired"]["username"] = json!("userA");
    fetched["properties"]["reported"] = json!({"$metadata": {}, "$version": 2});
    let change = twin.apply_service_patch(&fetched, at(2)).unwrap().unwrap();
    assert_eq!(
        change.notification,
        json!({"username": "userA", "$version": 2})
    );
    assert_eq!(twin.desired(), &object(json!({"username": "userA"})));
}

#[test]
fn csharp_sdk_patch_shape_is_accepted() {
    let mut twin = twin();
    let body = json!({"deviceId": null, "etag": null, "version": null,
                      "properties": {"desired": {"p": "v"}, "reported": {}}});
    let change = twin.apply_service_patch(&body, at(1)).unwrap();
    assert_eq!(
        change.unwrap().notification,
        json!({"p": "v", "$version": 2})
    );
}

#[test]
fn reported_properties_in_a_service_patch_are_refused() {
    let mut twin = twin();
    let before = twin.clone();
    let body = json!({"tags": {"t": 1}, "properties": {"reported": {"temp": 1}}});
    let error = twin.apply_service_patch(&body, at(1)).unwrap_err();
    assert_eq!(error.rule(), Some(ValidationRule::ReportedNotWritable));
    assert_eq!(error.error_code(), 400_004);
    assert_eq!(
        error.path().unwrap().to_string(),
        "properties.reported.temp"
    );
    assert_eq!(twin, before);
}

#[test]
fn empty_requests_change_nothing() {
    let mut twin = twin();
    let before = twin.clone();
    for body in [
        json!({}),
        json!({"tags": {}, "properties": {"desired": {"$version": 4}}}),
        json!({"tags": null}),
    ] {
        assert_eq!(twin.apply_service_patch(&body, at(1)), Ok(None), "{body}");
    }
    assert_eq!(twin, before);
}

#[test]
fn a_bad_part_leaves_every_part_unapplied() {
    let mut twin = twin();
    let before = twin.clone();
    let body = json!({"tags": {"fine": 1}, "properties": {"desired": {"bad key": 1}}});
    let error = twin.apply_service_patch(&body, at(1)).unwrap_err();
    assert_eq!(error.rule(), Some(ValidationRule::KeyContainsSpace));
    assert_eq!(
        error.to_string(),
        "desired property key 'bad key' at properties.desired contains a space; keys may not \
         contain spaces, '.', '$' or control characters"
    );
    assert_eq!(twin, before);
}

#[test]
fn oversize_tags_are_refused_with_403100() {
    let mut twin = twin();
    let tags: Map<String, Value> = (0..3)
        .map(|i| (format!("t{i}"), json!("x".repeat(4000))))
        .collect();
    let error = twin
        .apply_service_patch(&json!({"tags": tags}), at(1))
        .unwrap_err();
    assert_eq!(error.error_code(), 403_100);
    assert_eq!(error.path().unwrap().to_string(), "tags");
    assert!(twin.tags().is_empty());
}

#[test]
fn oversize_desired_is_refused_with_403100() {
    let mut twin = twin();
    let desired: Map<String, Value> = (0..9)
        .map(|i| (format!("d{i}"), json!("x".repeat(4000))))
        .collect();
    let error = twin
        .apply_service_patch(&desired_patch(Value::Object(desired)), at(1))
        .unwrap_err();
    assert_eq!(error.error_code(), 403_100);
    assert!(
        error
            .to_string()
            .starts_with("'Properties.Desired' size should be less than 32768 bytes")
    );
    assert_eq!(twin.desired_version(), 1);
}

#[test]
fn nested_system_keys_are_refused() {
    let mut twin = twin();
    let error = twin
        .apply_service_patch(&desired_patch(json!({"a": {"$metadata": 1}})), at(1))
        .unwrap_err();
    assert_eq!(error.rule(), Some(ValidationRule::KeyReserved));
    assert_eq!(
        error.path().unwrap().to_string(),
        "properties.desired.a.$metadata"
    );
}

#[test]
fn malformed_bodies_are_refused() {
    let mut twin = twin();
    for (body, path) in [
        (json!([]), ""),
        (json!({"tags": 5}), "tags"),
        (json!({"properties": "x"}), "properties"),
        (
            json!({"properties": {"desired": [1]}}),
            "properties.desired",
        ),
    ] {
        let error = twin.apply_service_patch(&body, at(1)).unwrap_err();
        assert_eq!(error.rule(), Some(ValidationRule::NotAnObject), "{body}");
        assert_eq!(error.path().unwrap().to_string(), path);
    }
}

#[test]
fn only_touched_metadata_is_restamped() {
    let mut twin = twin();
    twin.apply_service_patch(
        &desired_patch(json!({"a": {"b": 1, "c": 2}, "d": 3})),
        at(1),
    )
    .unwrap();
    twin.apply_service_patch(&desired_patch(json!({"a": {"b": 9}})), at(2))
        .unwrap();
    let metadata = &twin.to_json()["properties"]["desired"]["$metadata"];
    assert_eq!(
        metadata,
        &json!({
            "$lastUpdated": stamp(2), "$lastUpdatedVersion": 3,
            "a": {
                "$lastUpdated": stamp(2), "$lastUpdatedVersion": 3,
                "b": {"$lastUpdated": stamp(2), "$lastUpdatedVersion": 3},
                "c": {"$lastUpdated": stamp(1), "$lastUpdatedVersion": 2}
            },
            "d": {"$lastUpdated": stamp(1), "$lastUpdatedVersion": 2}
        })
    );
}

#[test]
fn deletes_follow_iot_hub_semantics() {
    let mut twin = twin();
    twin.apply_service_patch(&json!({"tags": {"p": null}}), at(1))
        .unwrap();
    assert!(twin.tags().is_empty());
    twin.apply_service_patch(&desired_patch(json!({"p1": {"p2": null}})), at(2))
        .unwrap();
    assert_eq!(twin.desired(), &object(json!({"p1": {}})));
}

#[test]
fn replace_swaps_tags_and_desired_wholesale() {
    let mut twin = twin();
    twin.apply_service_patch(
        &json!({"tags": {"old": 1}, "properties": {"desired": {"a": 1, "b": 2}}}),
        at(1),
    )
    .unwrap();
    let body = json!({"tags": {"new": 2}, "properties": {"desired": {"b": 3, "c": {"d": 4}}}});
    let change = twin.apply_service_replace(&body, at(2)).unwrap().unwrap();
    assert_eq!(twin.tags(), &object(json!({"new": 2})));
    assert_eq!(twin.desired(), &object(json!({"b": 3, "c": {"d": 4}})));
    assert_eq!((twin.version, twin.desired_version()), (3, 3));
    assert_eq!(
        change.notification,
        json!({"b": 3, "c": {"d": 4}, "a": null, "$version": 3})
    );
    let metadata = &twin.to_json()["properties"]["desired"]["$metadata"];
    assert_eq!(
        metadata["c"]["d"],
        json!({"$lastUpdated": stamp(2), "$lastUpdatedVersion": 3})
    );
    assert_eq!(metadata.get("a"), None);
}

#[test]
fn replace_with_missing_sections_empties_them() {
    let mut twin = twin();
    twin.apply_service_patch(
        &json!({"tags": {"t": 1}, "properties": {"desired": {"d": 1}}}),
        at(1),
    )
    .unwrap();
    let change = twin
        .apply_service_replace(&json!({}), at(2))
        .unwrap()
        .unwrap();
    assert!(twin.tags().is_empty() && twin.desired().is_empty());
    assert_eq!(twin.to_json()["tags"], json!({}));
    assert_eq!(change.notification, json!({"d": null, "$version": 3}));
}

#[test]
fn fetched_twin_can_be_put_back() {
    let mut twin = twin();
    twin.apply_service_patch(
        &json!({"tags": {"t": 1}, "properties": {"desired": {"d": 1}}}),
        at(1),
    )
    .unwrap();
    twin.apply_reported_patch(&json!({"r": 1}), at(2)).unwrap();
    let mut fetched = twin.to_json();
    fetched["tags"]["t"] = json!(2);
    let change = twin
        .apply_service_replace(&fetched, at(3))
        .unwrap()
        .unwrap();
    assert_eq!(twin.tags(), &object(json!({"t": 2})));
    assert_eq!(twin.reported(), &object(json!({"r": 1})));
    assert_eq!(change.notification, json!({"d": 1, "$version": 3}));
}

#[test]
fn invalid_replace_changes_nothing() {
    let mut twin = twin();
    twin.apply_service_patch(&json!({"tags": {"t": 1}}), at(1))
        .unwrap();
    let before = twin.clone();
    let body = json!({"tags": {"ok": 1}, "properties": {"desired": {"s": "x".repeat(5000)}}});
    let error = twin.apply_service_replace(&body, at(2)).unwrap_err();
    assert_eq!(
        error.rule(),
        Some(ValidationRule::StringTooLong { bytes: 5000 })
    );
    assert_eq!(twin, before);
}
