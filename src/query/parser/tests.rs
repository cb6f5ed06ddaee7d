//! Clause-level parsing: what each clause accepts, and the exact position and wording of
//! every clause-level error.

#![allow(clippy::unwrap_used)]

use super::super::fixtures::{assert_error, error};
use super::super::{ItemType, Source, parse};
use super::MAX_QUERY_CHARACTERS;

#[test]
fn minimal_query_reads_device_twins_as_twins() {
    let query = parse("SELECT * FROM devices").unwrap();
    assert_eq!(query.source(), Source::Devices);
    assert_eq!(query.item_type(), ItemType::Twin);
    assert_eq!(query.item_type().as_str(), "twin");
    assert_eq!(query.top, None);
    assert_eq!(query.filter, None);
}

#[test]
fn keywords_ignore_case_and_whitespace_is_free() {
    let query = parse("select\n\t*\r\nfrom DEVICES   where deviceId = 'x' ").unwrap();
    assert_eq!(query.source(), Source::Devices);
    assert!(query.filter.is_some());
}

#[test]
fn module_twins_are_a_separate_source() {
    for text in [
        "SELECT * FROM devices.modules",
        "SELECT * FROM Devices . Modules WHERE moduleId = 'm'",
    ] {
        let query = parse(text).unwrap();
        assert_eq!(query.source(), Source::DevicesModules, "{text}");
        assert_eq!(query.item_type(), ItemType::Twin, "{text}");
    }
}

#[test]
fn device_jobs_are_queried_whole() {
    for text in [
        "SELECT * FROM devices.jobs",
        "select * from Devices.Jobs WHERE devices.jobs.jobId = 'j' AND status = 'failed'",
    ] {
        let query = parse(text).unwrap();
        assert_eq!(query.source(), Source::DevicesJobs, "{text}");
        assert_eq!(query.item_type().as_str(), "deviceJob", "{text}");
    }
    for text in [
        "SELECT deviceId FROM devices.jobs",
        "SELECT COUNT() AS n FROM devices.jobs",
        "SELECT TOP 3 * FROM devices.jobs",
    ] {
        let message = error(text).to_string();
        assert!(message.contains("queried whole"), "{text}: {message}");
    }
}

#[test]
fn projections_and_aggregates_are_json() {
    for text in [
        "SELECT deviceId FROM devices",
        "SELECT COUNT() AS n FROM devices",
        "SELECT tags.a AS a, COUNT() AS n FROM devices GROUP BY tags.a",
    ] {
        let query = parse(text).unwrap();
        assert_eq!(query.item_type(), ItemType::Json, "{text}");
        assert_eq!(query.item_type().as_str(), "json");
    }
}

#[test]
fn top_takes_a_whole_number() {
    assert_eq!(parse("SELECT TOP 5 * FROM devices").unwrap().top, Some(5));
    assert_eq!(
        parse("select top 0x10 deviceId from devices").unwrap().top,
        Some(16)
    );
    assert_eq!(parse("SELECT TOP 0 * FROM devices").unwrap().top, Some(0));
}

#[test]
fn text_is_kept_verbatim() {
    let text = "  SELECT *  FROM devices  ";
    assert_eq!(parse(text).unwrap().text(), text);
}

#[test]
fn missing_select() {
    assert_error(
        "",
        0,
        "expected SELECT at the start of the query, found end of query",
    );
    assert_error(
        "SELEC * FROM devices",
        0,
        "expected SELECT at the start of the query, found 'SELEC'",
    );
}

#[test]
fn missing_select_list() {
    assert_error(
        "SELECT FROM devices",
        7,
        "expected '*' or a select list after SELECT, found 'FROM'",
    );
    assert_error(
        "SELECT",
        6,
        "expected '*' or a select list after SELECT, found end of query",
    );
}

#[test]
fn missing_from() {
    assert_error(
        "SELECT * WHER x = 1",
        9,
        "expected FROM after the select list, found 'WHER'",
    );
    assert_error(
        "SELECT * WHERE x = 1",
        9,
        "expected FROM after the select list, found 'WHERE'",
    );
    assert_error(
        "SELECT deviceId devices",
        16,
        "expected FROM after the select list, found 'devices'",
    );
    assert_error(
        "SELECT deviceId",
        15,
        "expected FROM after the select list, found end of query",
    );
    assert_error(
        "SELECT *, deviceId FROM devices",
        8,
        "expected FROM after the select list, found ','",
    );
}

#[test]
fn unknown_from_source() {
    assert_error(
        "SELECT * FROM twins",
        14,
        "expected devices, devices.modules or devices.jobs after FROM, found 'twins'",
    );
    assert_error(
        "SELECT * FROM",
        13,
        "expected devices, devices.modules or devices.jobs after FROM, found end of query",
    );
    assert_error(
        "SELECT * FROM devices.twins",
        14,
        "expected devices, devices.modules or devices.jobs after FROM, found 'devices.twins'",
    );
    assert_error(
        "SELECT * FROM devices.",
        14,
        "expected devices, devices.modules or devices.jobs after FROM, found 'devices.'",
    );
}

#[test]
fn trailing_garbage() {
    assert_error(
        "SELECT * FROM devices extra",
        22,
        "expected WHERE, GROUP BY or end of query after the FROM clause, found 'extra'",
    );
    assert_error(
        "SELECT * FROM devices WHERE tags.a = 1 tags.b = 2",
        39,
        "expected AND, OR, GROUP BY or end of query after the WHERE condition, found 'tags'",
    );
    assert_error(
        "SELECT * FROM devices WHERE a = 1 = 2",
        34,
        "expected AND, OR, GROUP BY or end of query after the WHERE condition, found '='",
    );
    assert_error(
        "SELECT tags.a, COUNT() FROM devices GROUP BY tags.a tags.b",
        52,
        "expected ',' or end of query after GROUP BY, found 'tags'",
    );
    assert_error(
        "SELECT * FROM devices ORDER BY deviceId",
        22,
        "expected WHERE, GROUP BY or end of query after the FROM clause, found 'ORDER'",
    );
}

#[test]
fn bad_top() {
    assert_error(
        "SELECT TOP x * FROM devices",
        11,
        "expected a whole number of rows after TOP, found 'x'",
    );
    assert_error(
        "SELECT TOP 1.5 * FROM devices",
        11,
        "expected a whole number of rows after TOP, found '1.5'",
    );
    assert_error(
        "SELECT TOP -1 * FROM devices",
        11,
        "expected a whole number of rows after TOP, found '-'",
    );
}

#[test]
fn bad_group_by() {
    assert_error(
        "SELECT COUNT() FROM devices GROUP tags.a",
        34,
        "expected BY after GROUP, found 'tags'",
    );
    assert_error(
        "SELECT COUNT() FROM devices GROUP BY LOWER(tags.a)",
        37,
        "expected a property path after GROUP BY, found 'LOWER'",
    );
    assert_error(
        "SELECT COUNT() FROM devices GROUP BY 1",
        37,
        "expected a property path after GROUP BY, found '1'",
    );
    assert_error(
        "SELECT COUNT() FROM devices GROUP BY",
        36,
        "expected a property path after GROUP BY, found end of query",
    );
}

#[test]
fn bad_alias() {
    assert_error(
        "SELECT deviceId AS FROM devices",
        19,
        "expected a column name after AS, found 'FROM'",
    );
    assert_error(
        "SELECT deviceId AS 'id' FROM devices",
        19,
        "expected a column name after AS, found ''id''",
    );
}

#[test]
fn quoted_alias_is_allowed() {
    assert!(parse("SELECT deviceId AS [[my id]] FROM devices").is_ok());
}

#[test]
fn too_long() {
    let padded = |length: usize| format!("{:<length$}", "SELECT * FROM devices");
    assert!(parse(&padded(MAX_QUERY_CHARACTERS)).is_ok());
    let too_long = padded(MAX_QUERY_CHARACTERS + 1);
    let error = error(&too_long);
    assert_eq!(error.position, MAX_QUERY_CHARACTERS);
    assert!(
        error
            .message
            .starts_with("query is 8193 characters long, expected at most 8192"),
        "{error}"
    );
}

#[test]
fn too_long_counts_characters_not_bytes() {
    let text = format!(
        "SELECT * FROM devices WHERE tags.a = '{}'",
        "é".repeat(8000)
    );
    assert!(text.len() > MAX_QUERY_CHARACTERS);
    assert!(parse(&text).is_ok());
}

#[test]
fn lexical_errors_surface_with_their_position() {
    assert_error(
        "SELECT * FROM devices WHERE tags.a = 'abc",
        37,
        "unterminated string: expected a closing ' before the end of the query",
    );
    assert_error(
        "SELECT * FROM devices WHERE tags.a = 12abc",
        37,
        "bad number '12abc'",
    );
    assert_error(
        "SELECT * FROM devices WHERE tags.a = 'a\\qb'",
        39,
        "unknown escape '\\q'",
    );
    assert_error(
        "SELECT * FROM devices WHERE tags.a == 1",
        36,
        "expected a value, property path or function call, found '='",
    );
}

#[test]
fn the_first_problem_in_reading_order_is_reported() {
    assert_error(
        "SELECT * FORM devices WHERE x = 'abc",
        9,
        "expected FROM after the select list, found 'FORM'",
    );
}

#[test]
fn display_and_caret_for_a_typical_mistake() {
    let text = "SELECT * WHER deviceId = 'x'";
    let error = error(text);
    assert_eq!(
        error.to_string(),
        "query error at column 10: expected FROM after the select list, found 'WHER'"
    );
    assert_eq!(
        error
            .render_with_caret(text)
            .lines()
            .take(2)
            .collect::<Vec<_>>(),
        vec![text, "         ^"]
    );
}

#[test]
fn the_condition_is_kept_as_written() {
    let text = "SELECT * FROM devices WHERE tags.site = 'nörth' AND (a > 1)  ";
    assert_eq!(
        parse(text).unwrap().condition_text().as_deref(),
        Some("tags.site = 'nörth' AND (a > 1)")
    );
    assert_eq!(
        parse("SELECT * FROM devices").unwrap().condition_text(),
        None
    );
    let grouped = "SELECT COUNT() AS n FROM devices WHERE status = 'enabled' GROUP BY tags.a";
    assert_eq!(
        parse(grouped).unwrap().condition_text().as_deref(),
        Some("status = 'enabled'")
    );
}
