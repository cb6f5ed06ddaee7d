//! Tests for `limits`: one failing example per rule, and the boundaries that pass.

#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn check(section: Section, body: Value) -> Result<(), TwinError> {
    validate_section_body(section, body.as_object().unwrap())
}

fn broken(section: Section, body: Value) -> (String, ValidationRule) {
    let error = check(section, body).unwrap_err();
    (error.path().unwrap().to_string(), error.rule().unwrap())
}

/// `{"l1": {"l2": ... {"l<levels>": leaf}}}`
fn nested(levels: usize, leaf: Value) -> Value {
    (1..=levels)
        .rev()
        .fold(leaf, |inner, level| json!({ format!("l{level}"): inner }))
}

#[test]
fn ordinary_bodies_pass() {
    let body = json!({
        "location": {"city": "Oslo", "floor": 3, "ratio": 0.5, "open": true},
        "list": [1, "two", {"three": [3]}],
        "deleted": null,
        "ünïcode-key_with:punct(uation)": "ok"
    });
    assert_eq!(check(Section::Desired, body), Ok(()));
}

#[test]
fn dollar_prefixed_key_is_reserved() {
    assert_eq!(
        broken(Section::Reported, json!({"$version": 3})),
        (
            "properties.reported.$version".to_owned(),
            ValidationRule::KeyReserved
        )
    );
}

#[test]
fn key_characters_are_restricted() {
    let cases = [
        ("a b", ValidationRule::KeyContainsSpace),
        ("a.b", ValidationRule::KeyContainsDot),
        ("a$b", ValidationRule::KeyContainsDollar),
        ("a\u{0}b", ValidationRule::KeyContainsControlCharacter),
        ("a\tb", ValidationRule::KeyContainsControlCharacter),
        ("a\u{85}b", ValidationRule::KeyContainsControlCharacter),
    ];
    for (key, rule) in cases {
        let (_, found) = broken(Section::Tags, json!({"outer": { key: 1 }}));
        assert_eq!(found, rule, "{key:?}");
    }
}

#[test]
fn key_error_points_at_the_key() {
    let (path, _) = broken(Section::Desired, json!({"x": {"a b": 1}}));
    assert_eq!(path, r#"properties.desired.x["a b"]"#);
}

#[test]
fn keys_up_to_1024_bytes_pass() {
    assert_eq!(check(Section::Tags, json!({ "k".repeat(1024): 1 })), Ok(()));
    let (_, rule) = broken(Section::Tags, json!({ "é".repeat(513): 1 }));
    assert_eq!(rule, ValidationRule::KeyTooLong { bytes: 1026 });
}

#[test]
fn keys_are_checked_even_when_deleting() {
    let (_, rule) = broken(Section::Desired, json!({"a.b": null}));
    assert_eq!(rule, ValidationRule::KeyContainsDot);
}

#[test]
fn strings_up_to_4096_bytes_pass() {
    assert_eq!(
        check(Section::Desired, json!({"s": "x".repeat(4096)})),
        Ok(())
    );
    let (path, rule) = broken(Section::Desired, json!({"s": ["ok", "x".repeat(4097)]}));
    assert_eq!(path, "properties.desired.s[1]");
    assert_eq!(rule, ValidationRule::StringTooLong { bytes: 4097 });
}

#[test]
fn integers_must_fit_plus_minus_two_to_the_52() {
    assert_eq!(
        check(
            Section::Reported,
            json!({"min": MIN_INTEGER, "max": MAX_INTEGER})
        ),
        Ok(())
    );
    assert_eq!(check(Section::Reported, json!({"float": 1.0e300})), Ok(()));
    for value in [
        json!(MAX_INTEGER + 1),
        json!(MIN_INTEGER - 1),
        json!(u64::MAX),
    ] {
        let (path, rule) = broken(Section::Reported, json!({ "n": value }));
        assert_eq!(
            (path.as_str(), rule),
            ("properties.reported.n", ValidationRule::IntegerOutOfRange)
        );
    }
}

#[test]
fn null_is_refused_anywhere_inside_arrays() {
    let (path, rule) = broken(Section::Desired, json!({"a": [1, null]}));
    assert_eq!(
        (path.as_str(), rule),
        ("properties.desired.a[1]", ValidationRule::NullInArray)
    );
    let (path, rule) = broken(Section::Desired, json!({"a": [{"b": {"c": null}}]}));
    assert_eq!(
        (path.as_str(), rule),
        ("properties.desired.a[0].b.c", ValidationRule::NullInArray)
    );
}

#[test]
fn ten_levels_of_objects_pass_eleven_do_not() {
    assert_eq!(
        check(Section::Tags, nested(10, json!({"property": "value"}))),
        Ok(())
    );
    assert_eq!(check(Section::Tags, nested(11, json!("leaf"))), Ok(()));
    let (path, rule) = broken(Section::Tags, nested(11, json!({})));
    assert_eq!(rule, ValidationRule::TooDeep);
    assert_eq!(path, "tags.l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11");
}

#[test]
fn arrays_count_as_levels() {
    let arrays = (0..9).fold(json!(["one"]), |inner, _| json!([inner]));
    assert_eq!(check(Section::Reported, json!({ "a": arrays })), Ok(()));
    let too_deep = json!({"a": [arrays]});
    let (_, rule) = broken(Section::Reported, too_deep);
    assert_eq!(rule, ValidationRule::TooDeep);
}

#[test]
fn deletes_below_ten_levels_are_refused_as_they_would_create_objects() {
    let (_, rule) = broken(Section::Desired, nested(11, json!({"x": null})));
    assert_eq!(rule, ValidationRule::TooDeep);
}

#[test]
fn size_counts_keys_and_values_as_documented() {
    let members = json!({
        "ab": "cde",
        "n": 12345,
        "b": true,
        "o": {"k": "v"},
        "l": [1, "xy"],
        "ctl": "a\u{1}b"
    });
    let expected = (2 + 3) + (1 + 8) + (1 + 4) + (1 + (1 + 1)) + (1 + (8 + 2)) + (3 + 2);
    assert_eq!(section_size(members.as_object().unwrap()), expected);
    assert_eq!(section_size(json!({"é": "日本"}).as_object().unwrap()), 3);
}

#[test]
fn growth_past_the_limit_is_refused_but_shrinking_is_not() {
    let big: Map<String, Value> = (0..3)
        .map(|i| (format!("k{i}"), json!("x".repeat(4000))))
        .collect();
    let empty = Map::new();
    let error = check_section_growth(Section::Tags, &empty, &big).unwrap_err();
    assert_eq!(error.path().unwrap().to_string(), "tags");
    assert_eq!(
        error.rule(),
        Some(ValidationRule::SectionTooLarge {
            bytes: 12_006,
            limit: 8192
        })
    );
    let mut smaller = big.clone();
    smaller.shift_remove("k0");
    assert_eq!(check_section_growth(Section::Tags, &big, &smaller), Ok(()));
    assert_eq!(check_section_growth(Section::Desired, &empty, &big), Ok(()));
}

#[test]
fn sections_know_their_paths() {
    for section in [Section::Tags, Section::Desired, Section::Reported] {
        assert_eq!(
            Section::containing(&section.path().child("x")),
            Some(section)
        );
    }
    assert_eq!(
        Section::containing(&JsonPath::from_keys(["properties"])),
        None
    );
}
