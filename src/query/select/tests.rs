//! Column naming and the rules of aggregate queries, each with a failing example.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::super::fixtures::{assert_error, run, sample_twin};

fn row(query: &str) -> serde_json::Value {
    run(query, &[sample_twin()]).remove(0)
}

#[test]
fn aliases_name_columns() {
    assert_eq!(
        row("SELECT deviceId AS id, tags.location.city AS city FROM devices"),
        json!({"id": "dev-1", "city": "Oslo"})
    );
}

#[test]
fn unaliased_paths_are_named_after_their_last_member() {
    assert_eq!(
        row("SELECT deviceId, tags.location.city, properties.reported.fw FROM devices"),
        json!({"deviceId": "dev-1", "city": "Oslo", "fw": "1.2.0"})
    );
}

#[test]
fn unaliased_root_names_take_the_twin_spelling() {
    assert_eq!(
        row("SELECT DeviceId, LastActivityTime FROM devices"),
        json!({"deviceId": "dev-1", "lastActivityTime": "2024-05-01T10:00:00Z"})
    );
}

#[test]
fn other_unaliased_items_are_numbered() {
    assert_eq!(
        row("SELECT LOWER(deviceId), deviceId, 1 + 1, tags.list[0] FROM devices"),
        json!({"$1": "dev-1", "deviceId": "dev-1", "$2": 2, "$3": 10})
    );
    assert_eq!(
        run("SELECT COUNT() FROM devices", &[sample_twin()]),
        vec![json!({"$1": 1})]
    );
}

#[test]
fn duplicate_column_names_are_rejected() {
    assert_error(
        "SELECT deviceId, tags.deviceId FROM devices",
        17,
        "found a second column named 'deviceId', expected distinct column names",
    );
    assert_error(
        "SELECT deviceId AS a, status AS a FROM devices",
        22,
        "found a second column named 'a'",
    );
}

#[test]
fn aggregate_queries_select_only_aggregates_and_grouped_paths() {
    assert_error(
        "SELECT deviceId, COUNT() AS n FROM devices",
        7,
        "found 'deviceId' in an aggregate query, expected an aggregate (COUNT, AVG, SUM, MIN, MAX) or a GROUP BY path",
    );
    assert_error(
        "SELECT tags.city AS city, status FROM devices GROUP BY tags.city",
        26,
        "found 'status' in an aggregate query",
    );
    assert_error(
        "SELECT LOWER(tags.city) AS city, COUNT() AS n FROM devices GROUP BY tags.city",
        7,
        "found 'LOWER(tags.city)' in an aggregate query",
    );
}

#[test]
fn grouped_paths_match_whatever_their_root_case() {
    assert_eq!(
        run(
            "SELECT Status, COUNT() AS n FROM devices GROUP BY status",
            &[sample_twin()]
        ),
        vec![json!({"status": "enabled", "n": 1})]
    );
}

#[test]
fn star_cannot_be_grouped() {
    assert_error(
        "SELECT * FROM devices GROUP BY status",
        7,
        "found '*' in a GROUP BY query, expected a select list of grouped paths and aggregates",
    );
}
