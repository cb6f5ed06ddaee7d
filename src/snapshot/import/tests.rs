//! The patches an import computes, on twins in memory: nested keys, removals, unchanged
//! twins, one section at a time, system keys, and missing devices.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

const BOTH: ImportOptions = ImportOptions {
    tags: true,
    desired: true,
    create_missing: false,
};

fn snapshot(tags: Value, desired: Value) -> Value {
    json!({"deviceId": "d1", "etag": "old", "version": 3, "tags": tags,
           "properties": {"desired": desired, "reported": {"fw": "1.0", "$version": 4}}})
}

fn live(tags: Value, desired: Value) -> DeviceTwin {
    serde_json::from_value(
        json!({"deviceId": "d1", "etag": "AAAAAAAAAAU=", "version": 5,
        "tags": tags, "properties": {"desired": desired, "reported": {"fw": "2.0"}}}),
    )
    .unwrap()
}

fn paths(planned: &PlannedDevice) -> Vec<String> {
    planned.changes.iter().map(|c| c.path.to_string()).collect()
}

#[test]
fn nested_changes_and_removals_become_a_merge_patch() {
    let planned = plan_device(
        &snapshot(
            json!({"location": {"city": "Oslo", "floor": 2}, "owner": "ops"}),
            json!({"telemetry": {"interval": 30}}),
        ),
        Some(&live(
            json!({"location": {"city": "Bergen", "floor": 2, "room": "a"}, "legacy": true}),
            json!({"telemetry": {"interval": 60, "mode": "fast"}, "old": 1}),
        )),
        BOTH,
    )
    .unwrap();
    assert_eq!(planned.action, ImportAction::Update);
    assert_eq!(planned.etag.as_deref(), Some("AAAAAAAAAAU="));
    assert_eq!(
        Value::Object(planned.tags_patch.clone()),
        json!({"location": {"city": "Oslo", "room": null}, "owner": "ops", "legacy": null})
    );
    assert_eq!(
        Value::Object(planned.desired_patch.clone()),
        json!({"telemetry": {"interval": 30, "mode": null}, "old": null})
    );
    assert_eq!(
        paths(&planned),
        [
            "tags.location.city",
            "tags.location.room",
            "tags.owner",
            "tags.legacy",
            "properties.desired.telemetry.interval",
            "properties.desired.telemetry.mode",
            "properties.desired.old",
        ]
    );
    assert_eq!(
        planned.patch().unwrap(),
        json!({"tags": planned.tags_patch, "properties": {"desired": planned.desired_patch}})
    );
}

#[test]
fn a_matching_twin_is_unchanged_and_system_keys_are_ignored() {
    let planned = plan_device(
        &snapshot(
            json!({"a": {"b": 1}}),
            json!({"x": 1, "$version": 3, "$metadata": {"$lastUpdated": "2026-01-01"}}),
        ),
        Some(&live(
            json!({"a": {"b": 1}}),
            json!({"x": 1, "$version": 9, "$metadata": {"$lastUpdated": "2026-11-25"}}),
        )),
        BOTH,
    )
    .unwrap();
    assert_eq!(planned.action, ImportAction::Unchanged);
    assert!(planned.changes.is_empty(), "{:?}", planned.changes);
    assert_eq!(planned.patch(), None);

    // System keys are never sent, not even to a twin that has none.
    let planned = plan_device(
        &snapshot(json!({}), json!({"x": 2, "$version": 3, "$metadata": {}})),
        Some(&live(json!({}), json!({"x": 1}))),
        BOTH,
    )
    .unwrap();
    assert_eq!(
        planned.patch().unwrap(),
        json!({"properties": {"desired": {"x": 2}}})
    );
}

#[test]
fn tags_only_and_desired_only_leave_the_other_section_alone() {
    let file = snapshot(json!({"site": "oslo"}), json!({"x": 2}));
    let hub = live(json!({"site": "bergen"}), json!({"x": 1}));
    let tags_only = ImportOptions {
        desired: false,
        ..BOTH
    };
    let planned = plan_device(&file, Some(&hub), tags_only).unwrap();
    assert_eq!(planned.patch().unwrap(), json!({"tags": {"site": "oslo"}}));
    assert_eq!(paths(&planned), ["tags.site"]);

    let desired_only = ImportOptions {
        tags: false,
        ..BOTH
    };
    let planned = plan_device(&file, Some(&hub), desired_only).unwrap();
    assert_eq!(
        planned.patch().unwrap(),
        json!({"properties": {"desired": {"x": 2}}})
    );
    assert_eq!(paths(&planned), ["properties.desired.x"]);
}

#[test]
fn reported_properties_are_never_part_of_a_plan() {
    let planned = plan_device(
        &snapshot(json!({}), json!({})),
        Some(&live(json!({}), json!({}))),
        BOTH,
    )
    .unwrap();
    assert_eq!(planned.action, ImportAction::Unchanged, "reported differs");
}

#[test]
fn missing_devices_are_skipped_or_created_with_the_whole_sections() {
    let file = snapshot(json!({"site": "oslo"}), json!({"x": 1, "$version": 2}));
    let skipped = plan_device(&file, None, BOTH).unwrap();
    assert_eq!(skipped.action, ImportAction::SkipMissing);
    assert_eq!(skipped.patch(), None);

    let create = ImportOptions {
        create_missing: true,
        ..BOTH
    };
    let created = plan_device(&file, None, create).unwrap();
    assert_eq!(created.action, ImportAction::Create);
    assert_eq!(created.etag, None);
    assert_eq!(
        created.patch().unwrap(),
        json!({"tags": {"site": "oslo"}, "properties": {"desired": {"x": 1}}})
    );
    assert_eq!(paths(&created), ["tags.site", "properties.desired.x"]);
}

#[test]
fn sections_that_are_not_objects_are_refused() {
    let error = plan_device(
        &snapshot(json!(5), json!({})),
        Some(&live(json!({}), json!({}))),
        BOTH,
    )
    .unwrap_err();
    assert_eq!(error, ("d1".to_owned(), "tags"));
}

#[test]
fn plans_and_reports_count_their_devices() {
    let device = |action| PlannedDevice {
        device_id: "d".into(),
        action,
        tags_patch: Map::new(),
        desired_patch: Map::new(),
        changes: Vec::new(),
        etag: None,
    };
    let plan = ImportPlan {
        header: SnapshotHeader {
            hub_host_name: "h".into(),
            query: "q".into(),
            taken_at: "t".into(),
        },
        options: BOTH,
        devices: vec![
            device(ImportAction::Update),
            device(ImportAction::Update),
            device(ImportAction::SkipMissing),
        ],
    };
    let counts = plan.counts();
    assert_eq!((counts.updated, counts.skipped_missing), (2, 1));
    let report = ImportReport {
        results: [ImportOutcome::Updated, ImportOutcome::Conflict]
            .into_iter()
            .map(|outcome| DeviceResult {
                device_id: "d".into(),
                outcome,
            })
            .collect(),
    };
    let counts = report.counts();
    assert_eq!((counts.updated, counts.conflicts), (1, 1));
}
