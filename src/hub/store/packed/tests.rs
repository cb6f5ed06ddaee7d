#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};

use super::names::MAX_NAME_BYTES;
use super::*;

fn round_trip(value: &Value) -> Value {
    let names = Names::default();
    let packed = Packed::encode(value, &names);
    let stored = Packed::from_stored(packed.bytes().to_vec(), &names).unwrap();
    stored.to_value(&names)
}

#[test]
fn documents_come_back_exactly() {
    let mut twin = json!({
        "deviceId": "d1",
        "statusUpdateTime": "0001-01-01T00:00:00Z",
        "version": 3,
        "big": 18446744073709551615u64,
        "negative": -1,
        "lowest": i64::MIN,
        "float": 1.0,
        "negativeZero": -0.0,
        "tiny": 5e-324,
        "small": 127,
        "notSmall": 128,
        "tags": {"z": null, "a": [true, false, [], {}], "ü": "ünïcødé \"q\" \\ \u{1}"},
        "properties": {"desired": {"$metadata": {
            "$lastUpdated": "2026-03-04T05:06:07.1234567Z",
            "near": "2026-03-04T05:06:07.123456Z",
            "$lastUpdatedVersion": 2
        }}}
    });
    twin.as_object_mut()
        .unwrap()
        .insert("x".repeat(MAX_NAME_BYTES + 1), json!("inline name"));
    let back = round_trip(&twin);
    assert_eq!(back.to_string(), twin.to_string(), "same text, same order");
}

#[test]
fn timestamps_and_names_are_packed_small() {
    let names = Names::default();
    let leaf = json!({"$lastUpdated": "2026-03-04T05:06:07.1234567Z", "$lastUpdatedVersion": 2});
    let packed = Packed::encode(&leaf, &names);
    // tag, length, count, (name, time tag, 8 bytes of ticks), (name, small integer)
    assert_eq!(packed.bytes().len(), 3 + 1 + 9 + 1 + 1);
    assert_eq!(names.len(), 2);
}

#[test]
fn members_are_found_by_name_and_case() {
    let names = Names::default();
    let packed = Packed::encode(&json!({"Tags": {"a": [10, {"b": "x"}]}}), &names);
    let root = packed.root(&names);
    assert!(root.member("tags", false).is_none());
    let tags = root.member("tags", true).unwrap();
    let items: Vec<Value> = tags
        .member("a", false)
        .unwrap()
        .items()
        .map(Node::to_value)
        .collect();
    assert_eq!(items, vec![json!(10), json!({"b": "x"})]);
}

#[test]
fn damaged_bytes_are_refused() {
    let names = Names::default();
    let packed = Packed::encode(
        &json!({"a": [1, "two", {"b": 3.5}], "t": "2026-03-04T05:06:07.1234567Z"}),
        &names,
    );
    let bytes = packed.bytes();
    for cut in 0..bytes.len() {
        assert!(
            Packed::from_stored(bytes[..cut].to_vec(), &names).is_err(),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(NULL);
    assert!(Packed::from_stored(longer, &names).is_err());
    let unknown_names = Names::default();
    assert!(Packed::from_stored(bytes.to_vec(), &unknown_names).is_err());
}

#[test]
fn nesting_past_the_limit_is_refused() {
    let names = Names::default();
    let mut value = json!(1);
    for _ in 0..MAX_DEPTH {
        value = json!([value]);
    }
    let packed = Packed::encode(&value, &names);
    assert!(Packed::from_stored(packed.bytes().to_vec(), &names).is_ok());
    let deeper = Packed::encode(&json!([value]), &names);
    assert!(Packed::from_stored(deeper.bytes().to_vec(), &names).is_err());
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{7}Z".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(("[a-z$]{0,6}", inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_json_round_trips_to_the_same_text(value in json_value()) {
        prop_assert_eq!(round_trip(&value).to_string(), value.to_string());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let names = Names::from_stored(["a".to_owned(), "b".to_owned()]).unwrap();
        if let Ok(packed) = Packed::from_stored(bytes, &names) {
            let _ = packed.to_value(&names);
        }
    }
}

/// Queries give the same rows over packed twins as over the same twins as JSON.
#[test]
fn queries_read_packed_twins_like_json() {
    let mut twins = crate::query::fixtures::fleet();
    twins.push(crate::query::fixtures::sample_twin());
    let names = Names::default();
    let packed: Vec<Packed> = twins
        .iter()
        .map(|twin| Packed::encode(twin, &names))
        .collect();
    for text in [
        "SELECT * FROM devices",
        "SELECT * FROM devices WHERE tags.city = 'Oslo'",
        "SELECT deviceId, tags.location.city, properties.reported.fw FROM devices",
        "SELECT * FROM DEVICES WHERE TAGS.location.floor >= 3 AND NOT IS_NULL(tags.nothing)",
        "SELECT * FROM devices WHERE IS_DEFINED(properties.reported.noSuch)",
        "SELECT * FROM devices WHERE tags.list[1] = 20 OR STARTSWITH(deviceId, 'd')",
        "SELECT * FROM devices WHERE lastActivityTime > '2024-01-01' AND IS_STRING(etag)",
        "SELECT * FROM devices WHERE x IN [1, 'a', true] OR LENGTH(UPPER(tags.group)) = 1",
        "SELECT * FROM devices WHERE IS_OBJECT(tags) AND IS_ARRAY(tags.list) AND IS_NUMBER(version)",
        "SELECT COUNT() AS n, SUM(x) AS s, AVG(x) AS a, MIN(x) AS lo, MAX(x) AS hi FROM devices",
        "SELECT tags.city, COUNT() AS n FROM devices GROUP BY tags.city",
        "SELECT tags.location, MAX(tags.group) AS g FROM devices GROUP BY tags.location",
        "SELECT TOP 2 deviceId, version + 1 AS next FROM devices WHERE version > 0",
    ] {
        let query = crate::query::parse(text).unwrap();
        let from_json = query.execute(twins.iter());
        let from_packed = query.execute(packed.iter().map(|twin| twin.root(&names)));
        assert_eq!(from_packed, from_json, "{text}");
        let text_of = |rows: &[Value]| serde_json::to_string(rows).unwrap();
        assert_eq!(
            text_of(&from_packed),
            text_of(&from_json),
            "{text}: same text"
        );
    }
}

/// A query keeps a note of how it found a name; the note of one table never misleads a
/// lookup in another, and names kept inline are found too.
#[test]
fn name_lookups_hold_across_tables_and_inline_names() {
    let long = "n".repeat(MAX_NAME_BYTES + 1);
    let query = crate::query::parse(&format!(
        "SELECT * FROM devices WHERE tags.b = 2 OR tags.[[{long}]] = 3"
    ))
    .unwrap();
    let first = Names::default();
    first.number_of_or_add("b");
    let second = Names::default();
    for filler in ["x", "y", "z"] {
        second.number_of_or_add(filler);
    }
    let twin = |b: i32, inline: i32| {
        let mut tags = serde_json::Map::new();
        tags.insert("b".into(), json!(b));
        tags.insert(long.clone(), json!(inline));
        json!({"deviceId": "d", "tags": tags})
    };
    for names in [&first, &second, &first] {
        let hits = Packed::encode(&twin(2, 0), names);
        let inline_hit = Packed::encode(&twin(0, 3), names);
        let miss = Packed::encode(&twin(0, 0), names);
        assert!(query.matches(hits.root(names)));
        assert!(query.matches(inline_hit.root(names)));
        assert!(!query.matches(miss.root(names)));
    }
    let absent =
        crate::query::parse("SELECT * FROM devices WHERE IS_DEFINED(tags.nowhere)").unwrap();
    let names = Names::default();
    assert!(!absent.matches(Packed::encode(&twin(1, 1), &names).root(&names)));
    // The name is noted absent; once a twin uses it, it is found.
    let later = Packed::encode(&json!({"tags": {"nowhere": 1}}), &names);
    assert!(absent.matches(later.root(&names)));
}
