//! Whole queries through the public API: filtering, projection, TOP, the module source,
//! a fleet-sized correctness check, and arbitrary input that must never panic.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};

use super::fixtures::{fleet, run, sample_twin};
use super::{ItemType, Source, parse};

fn ids(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|row| row["deviceId"].as_str().unwrap_or("?"))
        .collect()
}

#[test]
fn select_star_returns_the_matching_twins_unchanged_in_order() {
    let twins = fleet();
    let rows = run("SELECT * FROM devices WHERE tags.city = 'Oslo'", &twins);
    assert_eq!(ids(&rows), vec!["d1", "d3", "d4", "d6"]);
    assert_eq!(rows[0], twins[0]);
}

#[test]
fn row_counts_keep_from_and_where_and_respect_top() {
    let twins = fleet();
    let query = parse("SELECT TOP 3 deviceId\n FROM devices WHERE tags.city = 'Oslo'").unwrap();
    let row_count = query.row_count().unwrap();
    assert_eq!(
        row_count.query,
        "SELECT COUNT() AS n FROM devices WHERE tags.city = 'Oslo'"
    );
    let counted = run(&row_count.query, &twins)[0]["n"].as_u64().unwrap();
    assert_eq!(counted, 4);
    assert_eq!(row_count.rows(counted), 3);
    assert_eq!(
        row_count.rows(counted),
        query.execute(&twins).len() as u64,
        "the count is what the query returns"
    );
    let everything = parse("select * from devices").unwrap().row_count().unwrap();
    assert_eq!(everything.rows(10), 10);
    for aggregate in [
        "SELECT COUNT() AS n FROM devices",
        "SELECT tags.city, COUNT() AS n FROM devices GROUP BY tags.city",
    ] {
        assert_eq!(parse(aggregate).unwrap().row_count(), None, "{aggregate}");
    }
}

#[test]
fn projected_paths_name_plain_paths_and_nothing_else() {
    let paths = |text: &str| parse(text).unwrap().projected_paths();
    assert_eq!(
        paths("SELECT DeviceId, tags.location AS place, properties.reported.fw FROM devices"),
        Some(vec![
            "deviceId".to_owned(),
            "tags.location".to_owned(),
            "properties.reported.fw".to_owned()
        ])
    );
    assert_eq!(paths("SELECT * FROM devices"), None);
    assert_eq!(paths("SELECT tags.list[0] FROM devices"), None);
    assert_eq!(paths("SELECT COUNT() AS n FROM devices"), None);
    assert_eq!(
        parse("SELECT TOP 5 * FROM devices WHERE status = 'enabled'")
            .unwrap()
            .from_clauses(),
        "FROM devices WHERE status = 'enabled'"
    );
}

#[test]
fn top_limits_rows_in_order() {
    let twins = fleet();
    assert_eq!(
        ids(&run("SELECT TOP 2 * FROM devices", &twins)),
        vec!["d1", "d2"]
    );
    assert_eq!(
        ids(&run(
            "SELECT TOP 2 deviceId FROM devices WHERE tags.city = 'Bergen'",
            &twins
        )),
        vec!["d2", "d5"]
    );
    assert!(run("SELECT TOP 0 * FROM devices", &twins).is_empty());
    assert_eq!(run("SELECT TOP 100 * FROM devices", &twins).len(), 6);
}

#[test]
fn pages_are_slices_of_the_result_within_top() {
    let twins = fleet();
    let query = parse("SELECT deviceId FROM devices WHERE tags.city = 'Oslo'").unwrap();
    assert_eq!(ids(&query.execute_page(&twins, 0, 2)), vec!["d1", "d3"]);
    assert_eq!(ids(&query.execute_page(&twins, 2, 2)), vec!["d4", "d6"]);
    assert!(query.execute_page(&twins, 4, 2).is_empty());
    assert_eq!(ids(&query.execute_page(&twins, 3, usize::MAX)), vec!["d6"]);
    let top = parse("SELECT TOP 3 * FROM devices").unwrap();
    assert_eq!(ids(&top.execute_page(&twins, 2, 5)), vec!["d3"]);
    assert!(top.execute_page(&twins, 5, 5).is_empty());
    let groups = parse("SELECT tags.city AS city, COUNT() AS n FROM devices GROUP BY tags.city");
    assert_eq!(
        groups.unwrap().execute_page(&twins, 1, 1),
        vec![json!({"city": "Bergen", "n": 2})]
    );
}

#[test]
fn projection_omits_undefined_columns() {
    let rows = run(
        "SELECT deviceId, tags.location.city AS city, properties.reported.missing AS gone \
         FROM devices",
        &[sample_twin(), json!({"deviceId": "bare"})],
    );
    assert_eq!(
        rows,
        vec![
            json!({"deviceId": "dev-1", "city": "Oslo"}),
            json!({"deviceId": "bare"})
        ]
    );
}

#[test]
fn projection_copies_objects_and_exact_numbers() {
    let twin = json!({"deviceId": "d", "tags": {"big": 18446744073709551615u64, "f": 1.0}, "properties": {"reported": {"a": {"b": 1}}}});
    let rows = run(
        "SELECT tags.big, tags.f, properties.reported.a FROM devices",
        std::slice::from_ref(&twin),
    );
    assert_eq!(
        rows,
        vec![json!({"big": 18446744073709551615u64, "f": 1.0, "a": {"b": 1}})]
    );
}

#[test]
fn projection_of_computed_values() {
    let rows = run(
        "SELECT UPPER(deviceId) AS id, properties.reported.temp * 2 AS doubled, \
         IS_DEFINED(tags.nothing) AS hasNothing FROM devices",
        &[sample_twin()],
    );
    assert_eq!(
        rows,
        vec![json!({"id": "DEV-1", "doubled": 43, "hasNothing": true})]
    );
}

#[test]
fn the_issue_example_projection() {
    let rows = run(
        "SELECT deviceId, tags.location.city AS city, properties.reported.fw FROM devices \
         WHERE DeviceId = 'dev-1'",
        &[sample_twin()],
    );
    assert_eq!(
        rows,
        vec![json!({"deviceId": "dev-1", "city": "Oslo", "fw": "1.2.0"})]
    );
}

#[test]
fn module_queries_run_over_whatever_twins_the_caller_passes() {
    let query = parse("SELECT * FROM devices.modules WHERE moduleId = 'm1'").unwrap();
    assert_eq!(query.source(), Source::DevicesModules);
    assert!(query.execute(&[] as &[Value]).is_empty());
    let module = json!({"deviceId": "d", "moduleId": "m1"});
    assert_eq!(query.execute(std::slice::from_ref(&module)), vec![module]);
}

#[test]
fn execute_accepts_any_iterator_of_twin_references() {
    let twins = fleet();
    let query = parse("SELECT COUNT() AS n FROM devices").unwrap();
    assert_eq!(query.execute(twins.iter().take(3)), vec![json!({"n": 3})]);
    assert_eq!(query.item_type(), ItemType::Json);
}

#[test]
fn queries_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<super::Query>();
    shareable::<super::QueryError>();
}

/// Correctness at fleet size (not a timing test): a tag filter over 10,000 generated
/// twins finds exactly the expected ones, and COUNT agrees.
#[test]
fn tag_filter_over_ten_thousand_twins() {
    const CITIES: [&str; 4] = ["Oslo", "Bergen", "Tromsø", "Bodø"];
    let twins: Vec<Value> = (0..10_000)
        .map(|index| {
            let city = CITIES[index % 4];
            json!({
                "deviceId": format!("device-{index:05}"),
                "etag": "AAAAAAAAAAE=",
                "version": 2,
                "status": "enabled",
                "tags": {"location": {"city": city},
                         "rack": index % 100},
                "properties": {
                    "desired": {"$metadata": {}, "$version": 1},
                    "reported": {"fw": format!("1.{}", index % 7), "$metadata": {}, "$version": 1}
                }
            })
        })
        .collect();
    let filter = "tags.location.city = 'Tromsø' AND tags.rack < 50";
    let rows = run(
        &format!("SELECT deviceId FROM devices WHERE {filter}"),
        &twins,
    );
    let expected: Vec<String> = (0..10_000)
        .filter(|index| index % 4 == 2 && index % 100 < 50)
        .map(|index| format!("device-{index:05}"))
        .collect();
    assert_eq!(rows.len(), expected.len());
    assert!(
        rows.iter()
            .zip(&expected)
            .all(|(row, id)| row["deviceId"] == *id)
    );
    let count = run(
        &format!("SELECT COUNT() AS n FROM devices WHERE {filter}"),
        &twins,
    );
    assert_eq!(count, vec![json!({"n": expected.len()})]);
}

/// Words and symbols that reach deep into the grammar when stitched together at random.
const VOCABULARY: &[&str] = &[
    "SELECT",
    "TOP",
    "*",
    "FROM",
    "devices",
    ".",
    "modules",
    "WHERE",
    "GROUP",
    "BY",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "NIN",
    "(",
    ")",
    "[",
    "]",
    "[[",
    "]]",
    ",",
    "=",
    "!=",
    "<>",
    "<",
    ">=",
    "+",
    "-",
    "/",
    "%",
    "'s'",
    "\"t\"",
    "'\\u00e9'",
    "'\\q'",
    "'open",
    "1",
    "0x1F",
    "2.5",
    "1e3",
    "1.",
    "tags",
    "deviceId",
    "properties",
    "reported",
    "COUNT",
    "AVG",
    "MAX",
    "IS_DEFINED",
    "STARTS_WITH",
    "LOWER",
    "true",
    "null",
    "undefined",
    "é",
    "\n",
    "#",
];

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,120}") {
        if let Err(error) = parse(&text) {
            prop_assert!(error.position <= text.chars().count());
            let _ = error.render_with_caret(&text);
        }
    }

    #[test]
    fn stitched_tokens_never_panic(words in prop::collection::vec(prop::sample::select(VOCABULARY), 0..24)) {
        let text = words.join(" ");
        match parse(&text) {
            Ok(query) => {
                let twins = [sample_twin(), json!(null), json!({"tags": []})];
                let _ = query.execute(&twins);
            }
            Err(error) => prop_assert!(error.position <= text.chars().count()),
        }
    }
}

proptest! {
    /// Any device id written with `string_literal` selects exactly that device.
    #[test]
    fn a_string_literal_selects_exactly_its_text(id in "[ -~]{1,20}") {
        let twins = vec![
            json!({"deviceId": id.clone(), "properties": {"desired": {}, "reported": {}}}),
            json!({"deviceId": format!("{id}x"), "properties": {"desired": {}, "reported": {}}}),
        ];
        let query = format!(
            "SELECT deviceId FROM devices WHERE deviceId IN [{}]",
            super::string_literal(&id)
        );
        let rows = run(&query, &twins);
        prop_assert_eq!(rows, vec![json!({"deviceId": id})]);
    }
}
