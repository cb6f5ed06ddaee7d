//! Twins and helpers shared by the query tests: one detailed twin in the service view
//! shape, a small fleet for aggregates, and shortcuts to parse and run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::{QueryError, parse};

/// One device twin with every kind of value the tests look for.
pub(crate) fn sample_twin() -> Value {
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
        "customRoot": 1,
        "tags": {
            "location": {"city": "Oslo", "floor": 3},
            "group": "a",
            "my-key": "k",
            "Case": "upper",
            "flag": true,
            "nothing": null,
            "list": [10, 20]
        },
        "properties": {
            "desired": {
                "fw": "1.0",
                "$metadata": {"$lastUpdated": "2024-05-01T09:00:00Z"},
                "$version": 2
            },
            "reported": {
                "fw": "1.2.0",
                "temp": 21.5,
                "$metadata": {"$lastUpdated": "2024-05-01T10:00:00Z"},
                "$version": 7
            }
        }
    })
}

/// Six twins whose reported telemetry status is Success ×3, Pending ×2, Error ×1 (the
/// example of IoT Hub's GROUP BY documentation), with numbers to aggregate.
pub(crate) fn fleet() -> Vec<Value> {
    [
        ("d1", "Success", 10, "Oslo"),
        ("d2", "Pending", 20, "Bergen"),
        ("d3", "Success", 30, "Oslo"),
        ("d4", "Error", 40, "Oslo"),
        ("d5", "Success", 50, "Bergen"),
        ("d6", "Pending", 60, "Oslo"),
    ]
    .into_iter()
    .map(|(id, status, temp, city)| {
        json!({
            "deviceId": id,
            "status": "enabled",
            "tags": {"city": city},
            "properties": {
                "desired": {"$version": 1},
                "reported": {
                    "telemetryConfig": {"status": status},
                    "temp": temp,
                    "$version": 1
                }
            }
        })
    })
    .collect()
}

/// Parses and runs `query` over `twins`, panicking on a parse error.
pub(crate) fn run(query: &str, twins: &[Value]) -> Vec<Value> {
    parse(query)
        .unwrap_or_else(|error| panic!("{query}: {error}"))
        .execute(twins)
}

/// The error `query` fails with, panicking when it parses.
pub(crate) fn error(query: &str) -> QueryError {
    match parse(query) {
        Ok(_) => panic!("expected {query:?} to fail"),
        Err(error) => error,
    }
}

/// Asserts that `query` fails at `position` with a message starting with `message`.
pub(crate) fn assert_error(query: &str, position: usize, message: &str) {
    let error = error(query);
    assert_eq!(error.position, position, "{query}: {error}");
    assert!(
        error.message.starts_with(message),
        "{query}: message {:?} does not start with {message:?}",
        error.message
    );
}
