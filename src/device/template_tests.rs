//! Unit tests of the telemetry template engine: every placeholder, every refusal.

use super::*;
use serde_json::Value;

fn values() -> Expansion<'static> {
    Expansion {
        device_id: "sim-7",
        counter: 42,
        now: chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .to_utc(),
    }
}

fn expand(source: &str) -> Value {
    let template = TelemetryTemplate::parse(source).unwrap();
    serde_json::from_str(&template.expand(&values())).unwrap()
}

#[test]
fn text_without_placeholders_is_kept() {
    let source = r#"{"a": [1, "b"]}"#;
    let template = TelemetryTemplate::parse(source).unwrap();
    assert_eq!(template.source(), source);
    assert_eq!(template.expand(&values()), source);
}

#[test]
fn random_stays_in_range_with_two_decimals() {
    let template = TelemetryTemplate::parse(r#"{"t": {{random 20.0 30.0}}}"#).unwrap();
    for _ in 0..200 {
        let body = template.expand(&values());
        let number = body
            .trim_start_matches(r#"{"t": "#)
            .trim_end_matches('}')
            .to_owned();
        assert_eq!(number.split('.').nth(1).unwrap().len(), 2, "{body}");
        let value: f64 = number.parse().unwrap();
        assert!((20.0..=30.0).contains(&value), "{body}");
    }
    assert_eq!(expand(r#"{"t": {{random -1.5 -1.5}}}"#)["t"], -1.5);
}

#[test]
fn random_with_finer_bounds_never_leaves_them() {
    for _ in 0..200 {
        let value = expand(r#"{"t": {{random 1.001 1.004}}}"#)["t"]
            .as_f64()
            .unwrap();
        assert!((1.001..=1.004).contains(&value), "{value}");
    }
}

#[test]
fn random_int_stays_in_range_inclusive() {
    let template = TelemetryTemplate::parse(r#"{"n": {{random_int 1 3}}}"#).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let body: Value = serde_json::from_str(&template.expand(&values())).unwrap();
        seen.insert(body["n"].as_i64().unwrap());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[test]
fn counter_timestamp_and_device_id_come_from_the_device() {
    let body = expand(r#"{"seq": {{counter}}, "at": "{{timestamp}}", "id": "{{ device_id }}"}"#);
    assert_eq!(body["seq"], 42);
    assert_eq!(body["at"], "2024-05-01T12:00:00.0000000Z");
    assert_eq!(body["id"], "sim-7");
}

#[test]
fn placeholders_may_be_spaced_and_repeated() {
    let body = expand("[{{  counter  }}, {{counter}}, {{random_int\t5 5}}]");
    assert_eq!(body, serde_json::json!([42, 42, 5]));
}

#[test]
fn an_unclosed_placeholder_names_its_position() {
    let error = TelemetryTemplate::parse(r#"{"é": {{counter}"#).unwrap_err();
    assert_eq!(error, TemplateError::Unclosed { offset: 7 });
    assert!(error.to_string().contains("character 7"), "{error}");
}

#[test]
fn an_empty_placeholder_is_refused() {
    assert_eq!(
        TelemetryTemplate::parse("[{{ }}]").unwrap_err(),
        TemplateError::Empty { offset: 2 }
    );
}

#[test]
fn an_unknown_placeholder_is_named() {
    let error = TelemetryTemplate::parse(r#"{"a": {{count}}}"#).unwrap_err();
    assert_eq!(
        error,
        TemplateError::Unknown {
            placeholder: "{{count}}".into(),
            offset: 7
        }
    );
    assert!(error.to_string().contains("`{{count}}`"), "{error}");
    assert!(error.to_string().contains("counter"), "{error}");
}

#[test]
fn wrong_argument_counts_are_refused() {
    for (source, placeholder, expected, found) in [
        ("{{random 1}}", "{{random 1}}", "two arguments (MIN MAX)", 1),
        (
            "{{random_int 1 2 3}}",
            "{{random_int 1 2 3}}",
            "two arguments (MIN MAX)",
            3,
        ),
        ("{{counter 1}}", "{{counter 1}}", "no arguments", 1),
        ("{{timestamp utc}}", "{{timestamp utc}}", "no arguments", 1),
        ("{{device_id x}}", "{{device_id x}}", "no arguments", 1),
    ] {
        let error = TelemetryTemplate::parse(source).unwrap_err();
        assert!(
            matches!(&error, TemplateError::Arguments { placeholder: p, expected: e, found: f, .. }
                if p == placeholder && *e == expected && *f == found),
            "{source}: {error:?}"
        );
        assert!(error.to_string().contains(placeholder), "{error}");
    }
}

#[test]
fn arguments_that_are_not_numbers_are_named() {
    for (source, argument, kind) in [
        ("{{random a 2}}", "a", "a number"),
        ("{{random 1 inf}}", "inf", "a number"),
        ("{{random 1 NaN}}", "NaN", "a number"),
        ("{{random_int 1 2.5}}", "2.5", "a whole number"),
    ] {
        let error = TelemetryTemplate::parse(source).unwrap_err();
        assert!(
            matches!(&error, TemplateError::NotANumber { argument: a, kind: k, .. }
                if a == argument && *k == kind),
            "{source}: {error:?}"
        );
        assert!(error.to_string().contains(source), "{error}");
    }
}

#[test]
fn a_reversed_range_is_refused() {
    for source in ["{{random 30 20}}", "{{random_int 5 1}}"] {
        assert_eq!(
            TelemetryTemplate::parse(source).unwrap_err(),
            TemplateError::EmptyRange {
                placeholder: source.into()
            }
        );
    }
}

#[test]
fn a_template_that_does_not_expand_to_json_is_refused() {
    let error = TelemetryTemplate::parse(r#"{"id": {{device_id}}}"#).unwrap_err();
    let TemplateError::NotJson { sample, .. } = &error else {
        panic!("expected NotJson, got {error:?}");
    };
    assert_eq!(sample, r#"{"id": device}"#);
    assert!(error.to_string().contains("does not expand to JSON"));
    assert!(matches!(
        TelemetryTemplate::parse("").unwrap_err(),
        TemplateError::NotJson { .. }
    ));
}
