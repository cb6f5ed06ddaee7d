//! The query language end to end: `query::parse` on any UTF-8 text and, when it parses,
//! every way the hub runs the query over a small fleet of twins (filter, whole result,
//! pages, one row at a time, and the row-count query used for progress).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use twinlens::query::{self, ItemType, Query};

/// Twins in the service view shape, with every kind of JSON value in the places queries
/// look (identity fields, tags, desired, reported, `$metadata`, modules).
fn twins() -> &'static [Value] {
    static TWINS: OnceLock<Vec<Value>> = OnceLock::new();
    TWINS.get_or_init(|| {
        let mut twins = vec![
            json!({
                "deviceId": "dev-1",
                "etag": "AAAAAAAAAAE=",
                "deviceEtag": "NTQ3MjA0NDk2",
                "version": 4,
                "status": "enabled",
                "connectionState": "Connected",
                "lastActivityTime": "2024-05-01T10:00:00Z",
                "cloudToDeviceMessageCount": 0,
                "authenticationType": "sas",
                "capabilities": {"iotEdge": false},
                "tags": {
                    "location": {"city": "Oslo", "floor": 3},
                    "group": "a",
                    "my-key": "k",
                    "Case": "upper",
                    "flag": true,
                    "nothing": null,
                    "list": [10, 20, "x", {"y": 1}],
                    "big": 4_503_599_627_370_495_i64,
                    "small": -1.5e-300,
                    "empty": {}
                },
                "properties": {
                    "desired": {
                        "fw": "1.0",
                        "interval": 30,
                        "$metadata": {"$lastUpdated": "2024-05-01T09:00:00Z"},
                        "$version": 2
                    },
                    "reported": {
                        "fw": "1.2.0",
                        "temp": 21.5,
                        "telemetryConfig": {"status": "Success"},
                        "$metadata": {"$lastUpdated": "2024-05-01T10:00:00Z"},
                        "$version": 7
                    }
                }
            }),
            json!({
                "deviceId": "dev-2",
                "moduleId": "mod-a",
                "status": "disabled",
                "version": 1,
                "tags": {"location": {"city": "Bergen"}, "group": 7, "list": []},
                "properties": {
                    "desired": {"$version": 1},
                    "reported": {"temp": -40, "fw": null, "$version": 1}
                }
            }),
            json!({"deviceId": "dev-3", "properties": {}}),
            json!({"deviceId": "", "tags": "not an object", "properties": []}),
        ];
        for (n, (status, temp, city)) in [
            ("Success", 10, "Oslo"),
            ("Pending", 20, "Bergen"),
            ("Error", 40, "Oslo"),
            ("Pending", 60, "Trondheim"),
        ]
        .into_iter()
        .enumerate()
        {
            twins.push(json!({
                "deviceId": format!("d{n}"),
                "status": "enabled",
                "tags": {"city": city, "n": n},
                "properties": {
                    "desired": {"$version": 1},
                    "reported": {
                        "telemetryConfig": {"status": status},
                        "temp": temp,
                        "$version": 1
                    }
                }
            }));
        }
        twins
    })
}

fn run(query: &Query, text: &str) {
    let twins = twins();
    let rows = query.execute(twins);
    if let Some(top) = query.top() {
        assert!(rows.len() as u64 <= top, "{text}: more rows than TOP");
    }
    match query.item_type() {
        ItemType::Twin => assert!(!query.is_aggregate()),
        ItemType::DeviceJob => assert!(!query.is_aggregate() && query.top().is_none()),
        ItemType::Json => {}
    }
    // Pages put together are the whole result.
    let mut paged = Vec::new();
    for skip in (0..=rows.len()).step_by(3) {
        paged.extend(query.execute_page(twins, skip, 3));
    }
    assert_eq!(paged, rows, "{text}: pages differ from the whole result");
    // Row by row, as the hub walks the store, for queries with one row per twin.
    if !query.is_aggregate() {
        let each: Vec<Value> = twins.iter().filter_map(|twin| query.row_of(twin)).collect();
        let limit = query.top().map_or(usize::MAX, |top| top as usize);
        assert_eq!(
            each.iter().take(limit).cloned().collect::<Vec<_>>(),
            rows,
            "{text}: row_of differs from execute"
        );
        assert_eq!(
            twins.iter().filter(|twin| query.matches(*twin)).count(),
            each.len()
        );
    }
    // The count query parses and counts the rows the query returns.
    if let Some(count) = query.row_count() {
        let counting = query::parse(&count.query)
            .unwrap_or_else(|error| panic!("{text}: count query {:?}: {error}", count.query));
        let counted = counting.execute(twins);
        let n = counted
            .first()
            .and_then(|row| row.get("n"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        assert_eq!(
            count.rows(n),
            rows.len() as u64,
            "{text}: count query {:?} gives {counted:?}",
            count.query
        );
    }
    let _ = query.source();
    assert_eq!(query.text(), text);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match query::parse(text) {
        Ok(query) => run(&query, text),
        Err(error) => {
            let _ = error.render_with_caret(text);
            let _ = error.to_string();
        }
    }
});
