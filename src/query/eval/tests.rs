//! Operator semantics against one twin: every operator with true, false and undefined
//! outcomes, precedence, parentheses, path rules and the "only true holds" rule.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::super::datum::Datum;
use super::super::fixtures::{run, sample_twin};
use super::super::parse;

/// The outcome of a condition on the sample twin: `Some(bool)`, or `None` for undefined.
fn truth(condition: &str) -> Option<bool> {
    let query = parse(&format!("SELECT * FROM devices WHERE {condition}"))
        .unwrap_or_else(|error| panic!("{condition}: {error}"));
    let twin = sample_twin();
    let filter = query.filter.as_ref().unwrap();
    let outcome = match filter.evaluate(&twin) {
        Datum::Bool(flag) => Some(flag),
        Datum::Undefined => None,
        other => panic!("{condition} is not a condition: {other:?}"),
    };
    assert_eq!(query.matches(&twin), outcome == Some(true), "{condition}");
    outcome
}

/// The value of an expression on the sample twin, `None` when undefined.
fn value(expression: &str) -> Option<Value> {
    let rows = run(
        &format!("SELECT {expression} AS v FROM devices"),
        &[sample_twin()],
    );
    rows.first().unwrap().get("v").cloned()
}

fn check(cases: &[(&str, Option<bool>)]) {
    for (condition, expected) in cases {
        assert_eq!(truth(condition), *expected, "{condition}");
    }
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const U: Option<bool> = None;

#[test]
fn equality_and_inequality() {
    check(&[
        ("tags.location.city = 'Oslo'", T),
        ("tags.location.city = 'Bergen'", F),
        ("tags.missing = 'Oslo'", U),
        ("tags.location.floor = '3'", U),
        ("tags.location.city != 'Bergen'", T),
        ("tags.location.city != 'Oslo'", F),
        ("tags.missing != 'Oslo'", U),
        ("tags.location.floor <> 3", F),
        ("tags.location.floor <> 4", T),
        ("tags.location.floor <> '3'", U),
    ]);
}

#[test]
fn ordering_of_numbers_strings_and_booleans() {
    check(&[
        ("tags.location.floor < 4", T),
        ("tags.location.floor < 3", F),
        ("tags.location.floor <= 3", T),
        ("tags.location.floor <= 2.5", F),
        ("tags.location.floor > 2", T),
        ("tags.location.floor > 3", F),
        ("tags.location.floor >= 3", T),
        ("tags.location.floor >= 4", F),
        ("lastActivityTime > '2024-01-01'", T),
        ("lastActivityTime < '2024-01-01'", F),
        ("'B' < 'a'", T),
        ("false < true", T),
        ("tags.location.floor < 'z'", U),
        ("tags.missing >= 0", U),
        ("tags.location.city > 1", U),
    ]);
}

#[test]
fn null_equals_null_only() {
    check(&[
        ("tags.nothing = null", T),
        ("tags.nothing != null", F),
        ("tags.nothing = 'x'", U),
        ("tags.missing = null", U),
        ("tags.flag = true", T),
        ("tags.flag = false", F),
    ]);
}

#[test]
fn objects_and_arrays_do_not_compare() {
    check(&[
        ("tags.location = tags.location", U),
        ("tags.list = tags.list", U),
        ("tags.location != 'x'", U),
    ]);
}

#[test]
fn undefined_literal_compares_to_nothing() {
    check(&[("tags.missing = undefined", U), ("1 = undefined", U)]);
}

#[test]
fn and_or_not_are_three_valued() {
    let defined_true = "tags.flag";
    let defined_false = "tags.flag = false";
    let undefined = "tags.missing = 1";
    check(&[
        (&format!("{defined_true} AND {defined_true}"), T),
        (&format!("{defined_true} AND {defined_false}"), F),
        (&format!("{defined_false} AND {undefined}"), F),
        (&format!("{undefined} AND {defined_false}"), F),
        (&format!("{defined_true} AND {undefined}"), U),
        (&format!("{defined_false} OR {defined_true}"), T),
        (&format!("{defined_false} OR {defined_false}"), F),
        (&format!("{undefined} OR {defined_true}"), T),
        (&format!("{defined_true} OR {undefined}"), T),
        (&format!("{defined_false} OR {undefined}"), U),
        (&format!("NOT {defined_true}"), F),
        (&format!("NOT {defined_false}"), T),
        (&format!("NOT ({undefined})"), U),
        ("NOT tags.location.city", U),
    ]);
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    check(&[
        ("true OR true AND false", T),
        ("(true OR true) AND false", F),
        ("NOT false AND false", F),
        ("NOT (false AND false)", T),
        ("false AND false OR true", T),
        ("false AND (false OR true)", F),
        ("NOT tags.location.city = 'Bergen'", T),
        ("NOT NOT true", T),
    ]);
}

#[test]
fn keywords_and_literals_ignore_case() {
    check(&[
        ("tags.flag = TRUE and tags.nothing = NULL", T),
        ("tags.flag = False Or TAGS.location.city in ['Oslo']", T),
        ("not tags.flag", F),
    ]);
}

#[test]
fn only_boolean_true_satisfies_a_condition() {
    check(&[("tags.flag", T)]);
    let twin = sample_twin();
    for condition in [
        "1",
        "'true'",
        "null",
        "tags.location",
        "tags.location.city",
        "tags.missing",
    ] {
        let query = parse(&format!("SELECT * FROM devices WHERE {condition}")).unwrap();
        assert!(!query.matches(&twin), "{condition}");
    }
}

#[test]
fn arithmetic_on_numbers() {
    check(&[
        ("tags.location.floor + 1 = 4", T),
        ("tags.location.floor - 1 = 2", T),
        ("tags.location.floor * 2 = 6", T),
        ("tags.location.floor / 2 = 1.5", T),
        ("tags.location.floor % 2 = 1", T),
        ("1 + 2 * 3 = 7", T),
        ("(1 + 2) * 3 = 9", T),
        ("10 - 4 - 3 = 3", T),
        ("-tags.location.floor = -3", T),
        ("- -3 = 3", T),
        ("tags.location.floor + 1 = 5", F),
    ]);
    assert_eq!(value("7 / 2"), Some(json!(3.5)));
    assert_eq!(value("6 / 2"), Some(json!(3)));
    assert_eq!(value("0x10 + 1"), Some(json!(17)));
    assert_eq!(value("-2.5 * 2"), Some(json!(-5)));
}

#[test]
fn arithmetic_is_undefined_off_numbers_and_on_division_by_zero() {
    for expression in [
        "tags.location.city + 1",
        "'1' + 1",
        "tags.missing * 2",
        "-tags.location.city",
        "1 / 0",
        "1 % 0",
        "tags.flag + 1",
    ] {
        assert_eq!(value(expression), None, "{expression}");
    }
    check(&[("tags.location.city + 1 = 1", U)]);
}

#[test]
fn in_and_nin() {
    check(&[
        ("tags.location.city IN ['Oslo', 'Bergen']", T),
        ("tags.location.city IN ['Bergen']", F),
        ("tags.location.city IN []", F),
        ("tags.missing IN ['Oslo']", U),
        ("tags.location.floor IN [1, 3]", T),
        ("tags.location.floor IN ['3']", F),
        ("-tags.location.floor IN [-3]", T),
        ("tags.nothing IN [null, 'x']", T),
        ("tags.flag IN [true]", T),
        ("tags.location IN ['Oslo']", U),
        ("tags.location.city NIN ['Bergen']", T),
        ("tags.location.city NIN ['Oslo', 'Bergen']", F),
        ("tags.missing NIN ['Oslo']", U),
        ("tags.location.city nin ['x'] AND deviceId in ['dev-1']", T),
    ]);
}

#[test]
fn root_names_ignore_case_and_deeper_names_do_not() {
    check(&[
        ("DeviceId = 'dev-1'", T),
        ("DEVICEID = 'dev-1'", T),
        ("CONNECTIONSTATE = 'Connected'", T),
        ("Tags.location.city = 'Oslo'", T),
        ("CUSTOMROOT = 1", T),
        ("Properties.Reported.fw = '1.2.0'", T),
        ("properties.desired.fw = '1.0'", T),
        ("tags.Location.city = 'Oslo'", U),
        ("tags.case = 'upper'", U),
        ("tags.Case = 'upper'", T),
        ("properties.reported.FW = '1.2.0'", U),
    ]);
}

#[test]
fn system_properties_and_collection_qualifiers() {
    check(&[
        ("properties.reported.$version = 7", T),
        ("properties.desired.$metadata.$lastUpdated > '2024'", T),
        ("devices.deviceId = 'dev-1'", T),
        ("version = 4", T),
    ]);
    let module = json!({"deviceId": "d", "moduleId": "m1"});
    let query = parse("SELECT * FROM devices.modules WHERE devices.modules.moduleId = 'm1'");
    assert!(query.unwrap().matches(&module));
}

#[test]
fn quoted_names_and_array_indexes() {
    check(&[
        ("tags.[[group]] = 'a'", T),
        ("tags.group = 'a'", T),
        ("tags.[[my-key]] = 'k'", T),
        ("[[tags]].location.city = 'Oslo'", T),
        ("tags.list[1] = 20", T),
        ("tags.list[0] = 20", F),
        ("tags.list[5] = 20", U),
        ("tags.location[0] = 20", U),
    ]);
}

#[test]
fn functions_inside_conditions() {
    check(&[
        ("IS_DEFINED(tags.nothing)", T),
        ("is_defined(tags.missing)", F),
        ("NOT IS_DEFINED(tags.missing)", T),
        ("IS_NULL(tags.nothing)", T),
        ("IS_STRING(deviceId)", T),
        ("IS_NUMBER(version)", T),
        ("IS_BOOL(tags.flag)", T),
        ("IS_OBJECT(tags.location)", T),
        ("IS_ARRAY(tags.list)", T),
        ("IS_PRIMITIVE(tags.location)", F),
        ("STARTSWITH(deviceId, 'dev')", T),
        ("starts_with(deviceId, 'x')", F),
        ("ENDS_WITH(properties.reported.fw, '.0')", T),
        ("endswith(deviceId, 'x')", F),
        ("CONTAINS(deviceId, 'v-')", T),
        ("CONTAINS(tags.missing, 'v-')", U),
        ("LOWER(tags.Case) = 'upper'", T),
        ("UPPER(deviceId) = 'DEV-1'", T),
        ("LENGTH(deviceId) = 5", T),
        ("LENGTH(version) = 1", U),
    ]);
}

#[test]
fn matches_without_where_is_always_true() {
    let query = parse("SELECT * FROM devices").unwrap();
    assert!(query.matches(&sample_twin()));
    assert!(query.matches(&json!("not even an object")));
}

#[test]
fn paths_on_non_objects_are_undefined() {
    let query = parse("SELECT * FROM devices WHERE deviceId = 'x'").unwrap();
    for twin in [json!(null), json!([1]), json!("deviceId"), json!({})] {
        assert!(!query.matches(&twin), "{twin}");
    }
}

#[test]
fn position_hints_never_change_results_when_key_order_differs() {
    let query = parse("SELECT tags.x AS x FROM devices").unwrap();
    let twins = [
        json!({"deviceId": "a", "tags": {"x": 1, "y": 0}}),
        json!({"tags": {"y": 0, "z": 0, "x": 2}, "deviceId": "b"}),
        json!({"tags": {"y": 0}}),
        json!({"Tags": {"x": 4}}),
        json!({"tags": {"x": 5}}),
        json!({"deviceId": "c", "other": {"x": 9}}),
    ];
    let values: Vec<Value> = query
        .execute(&twins)
        .into_iter()
        .map(|row| row.get("x").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        values,
        vec![
            json!(1),
            json!(2),
            Value::Null,
            json!(4),
            json!(5),
            Value::Null
        ]
    );
}

#[test]
fn large_objects_are_searched_by_hash() {
    let mut tags = serde_json::Map::new();
    for index in 0..100 {
        tags.insert(format!("k{index}"), json!(index));
    }
    let mut twin = serde_json::Map::new();
    for index in 0..40 {
        twin.insert(format!("root{index}"), json!(index));
    }
    twin.insert("tags".into(), Value::Object(tags));
    let twin = Value::Object(twin);
    for (condition, expected) in [
        ("tags.k57 = 57", true),
        ("TAGS.k99 = 99", true),
        ("tags.K57 = 57", false),
        ("ROOT39 = 39", true),
        ("tags.missing = 1", false),
    ] {
        let query = parse(&format!("SELECT * FROM devices WHERE {condition}")).unwrap();
        assert_eq!(query.matches(&twin), expected, "{condition}");
    }
}
