//! Aggregates and grouping over a small fleet: every aggregate, several groups, undefined
//! keys and values, and TOP over groups.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::super::fixtures::{fleet, run};

#[test]
fn count_with_and_without_a_filter() {
    let twins = fleet();
    assert_eq!(
        run("SELECT COUNT() AS n FROM devices", &twins),
        vec![json!({"n": 6})]
    );
    assert_eq!(
        run(
            "SELECT COUNT() AS n FROM devices WHERE tags.city = 'Oslo'",
            &twins
        ),
        vec![json!({"n": 4})]
    );
}

#[test]
fn aggregates_of_nothing() {
    assert_eq!(
        run(
            "SELECT COUNT() AS n, SUM(x) AS s, AVG(x) AS a, MIN(x) AS lo, MAX(x) AS hi FROM devices",
            &[]
        ),
        vec![json!({"n": 0, "s": 0})]
    );
}

#[test]
fn sum_avg_min_max_over_numbers() {
    let rows = run(
        "SELECT SUM(properties.reported.temp) AS total, AVG(properties.reported.temp) AS mean, \
         MIN(properties.reported.temp) AS low, MAX(properties.reported.temp) AS high \
         FROM devices",
        &fleet(),
    );
    assert_eq!(
        rows,
        vec![json!({"total": 210, "mean": 35, "low": 10, "high": 60})]
    );
}

#[test]
fn average_keeps_fractions() {
    let twins = [json!({"tags": {"x": 1}}), json!({"tags": {"x": 2}})];
    assert_eq!(
        run("SELECT AVG(tags.x) AS a FROM devices", &twins),
        vec![json!({"a": 1.5})]
    );
}

#[test]
fn sum_and_avg_skip_non_numbers() {
    let twins = [
        json!({"tags": {"x": 4}}),
        json!({"tags": {"x": "8"}}),
        json!({"tags": {}}),
        json!({"tags": {"x": null}}),
    ];
    assert_eq!(
        run(
            "SELECT SUM(tags.x) AS s, AVG(tags.x) AS a, COUNT() AS n FROM devices",
            &twins
        ),
        vec![json!({"s": 4, "a": 4, "n": 4})]
    );
}

#[test]
fn min_and_max_order_booleans_numbers_then_strings() {
    let twins = [
        json!({"tags": {"x": "b"}}),
        json!({"tags": {"x": 5}}),
        json!({"tags": {"x": "a"}}),
        json!({"tags": {"x": true}}),
        json!({"tags": {"x": null}}),
        json!({"tags": {"x": {"nested": 1}}}),
    ];
    assert_eq!(
        run(
            "SELECT MIN(tags.x) AS lo, MAX(tags.x) AS hi FROM devices",
            &twins
        ),
        vec![json!({"lo": true, "hi": "b"})]
    );
}

#[test]
fn max_of_timestamps() {
    let twins = [
        json!({"lastActivityTime": "2024-05-01T10:00:00Z"}),
        json!({"lastActivityTime": "2024-06-01T10:00:00Z"}),
    ];
    assert_eq!(
        run("SELECT MAX(lastActivityTime) AS last FROM devices", &twins),
        vec![json!({"last": "2024-06-01T10:00:00Z"})]
    );
}

#[test]
fn group_by_gives_one_row_per_value_in_first_seen_order() {
    let rows = run(
        "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices \
         FROM devices GROUP BY properties.reported.telemetryConfig.status",
        &fleet(),
    );
    assert_eq!(
        rows,
        vec![
            json!({"numberOfDevices": 3, "status": "Success"}),
            json!({"numberOfDevices": 2, "status": "Pending"}),
            json!({"numberOfDevices": 1, "status": "Error"}),
        ]
    );
}

#[test]
fn group_by_with_filter_aggregates_and_top() {
    let rows = run(
        "SELECT TOP 1 tags.city AS city, SUM(properties.reported.temp) AS total \
         FROM devices WHERE properties.reported.temp > 10 GROUP BY tags.city",
        &fleet(),
    );
    assert_eq!(rows, vec![json!({"city": "Bergen", "total": 70})]);
}

#[test]
fn group_by_several_paths() {
    let rows = run(
        "SELECT tags.city, properties.reported.telemetryConfig.status, COUNT() AS n \
         FROM devices GROUP BY tags.city, properties.reported.telemetryConfig.status",
        &fleet(),
    );
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows[0],
        json!({"city": "Oslo", "status": "Success", "n": 2})
    );
}

#[test]
fn undefined_group_keys_form_their_own_group_without_the_column() {
    let twins = [
        json!({"tags": {"city": "Oslo"}}),
        json!({"tags": {}}),
        json!({"tags": {"city": "Oslo"}}),
        json!({}),
    ];
    assert_eq!(
        run(
            "SELECT tags.city AS city, COUNT() AS n FROM devices GROUP BY tags.city",
            &twins
        ),
        vec![json!({"city": "Oslo", "n": 2}), json!({"n": 2})]
    );
}

#[test]
fn group_keys_compare_by_json_value() {
    let twins = [
        json!({"tags": {"k": 1}}),
        json!({"tags": {"k": 1.0}}),
        json!({"tags": {"k": "1"}}),
        json!({"tags": {"k": null}}),
        json!({"tags": {"k": true}}),
        json!({"tags": {"k": [1]}}),
        json!({"tags": {"k": [1]}}),
    ];
    let rows = run("SELECT COUNT() AS n FROM devices GROUP BY tags.k", &twins);
    let counts: Vec<&Value> = rows.iter().map(|row| &row["n"]).collect();
    assert_eq!(
        counts,
        vec![&json!(2), &json!(1), &json!(1), &json!(1), &json!(2)]
    );
}

#[test]
fn grouping_nothing_gives_no_rows() {
    assert_eq!(
        run("SELECT COUNT() AS n FROM devices GROUP BY tags.city", &[]),
        Vec::<Value>::new()
    );
}

#[test]
fn aggregations_of_parts_merge_into_the_whole() {
    let mut twins = super::super::fixtures::fleet();
    twins.extend(super::super::fixtures::fleet());
    for text in [
        "SELECT COUNT() AS n, SUM(x) AS s, AVG(x) AS a, MIN(x) AS lo, MAX(x) AS hi FROM devices",
        "SELECT tags.city, COUNT() AS n, MIN(tags.city) AS first, AVG(x) AS a FROM devices GROUP BY tags.city",
        "SELECT COUNT() AS n FROM devices WHERE tags.city = 'Oslo'",
    ] {
        let query = super::super::parse(text).unwrap();
        let whole = run(text, &twins);
        for split in 0..=twins.len() {
            let part = |range: &[Value]| {
                let mut aggregation = query.aggregation().unwrap();
                for twin in range.iter().filter(|twin| query.matches(*twin)) {
                    aggregation.add(twin);
                }
                aggregation
            };
            let mut merged = part(&twins[..split]);
            merged.merge(part(&twins[split..]));
            assert_eq!(merged.rows(), whole, "{text}, split at {split}");
        }
    }
}
