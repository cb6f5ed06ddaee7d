//! Every function with a true, a false and an undefined case, and the name table.

use serde_json::json;

use super::*;

/// A datum over JSON twins.
type JsonDatum<'a> = Datum<'a, &'a serde_json::Value>;

fn text(value: &str) -> JsonDatum<'_> {
    Datum::Text(Cow::Borrowed(value))
}

fn one(function: Function, argument: JsonDatum<'_>) -> JsonDatum<'_> {
    function.apply(argument, Datum::Undefined)
}

#[test]
fn names_are_case_insensitive_and_accept_both_spellings() {
    assert_eq!(Function::named("is_defined"), Some(Function::IsDefined));
    assert_eq!(Function::named("StartsWith"), Some(Function::StartsWith));
    assert_eq!(Function::named("STARTS_WITH"), Some(Function::StartsWith));
    assert_eq!(Function::named("endswith"), Some(Function::EndsWith));
    assert_eq!(Function::named("ends_with"), Some(Function::EndsWith));
    assert_eq!(Function::named("concat"), None);
    assert_eq!(Aggregate::named("count"), Some(Aggregate::Count));
    assert_eq!(Aggregate::named("Avg"), Some(Aggregate::Average));
    assert_eq!(Aggregate::named("lower"), None);
}

#[test]
fn canonical_names_and_arity() {
    assert_eq!(Function::StartsWith.name(), "STARTS_WITH");
    assert_eq!(Function::StartsWith.arity(), 2);
    assert_eq!(Function::Lower.arity(), 1);
    assert_eq!(Aggregate::Average.name(), "AVG");
    assert_eq!(Aggregate::Count.arity(), 0);
    assert_eq!(Aggregate::Max.arity(), 1);
    let names = known_function_names();
    assert!(names.starts_with("IS_DEFINED, IS_NULL"), "{names}");
    assert!(names.ends_with("MIN, MAX"), "{names}");
}

#[test]
fn is_defined_is_true_even_for_null_and_false_only_for_undefined() {
    assert_eq!(one(Function::IsDefined, Datum::Null), Datum::Bool(true));
    assert_eq!(one(Function::IsDefined, text("")), Datum::Bool(true));
    assert_eq!(
        one(Function::IsDefined, Datum::Undefined),
        Datum::Bool(false)
    );
}

#[test]
fn type_checks_are_true_false_and_false_on_undefined() {
    let object = json!({});
    let array = json!([1]);
    let cases = [
        (Function::IsNull, Datum::Null, text("null")),
        (Function::IsString, text("x"), Datum::Number(1.0)),
        (Function::IsNumber, Datum::Number(0.0), text("0")),
        (Function::IsBool, Datum::Bool(false), text("false")),
        (
            Function::IsObject,
            Datum::from_document(&object),
            Datum::from_document(&array),
        ),
        (
            Function::IsArray,
            Datum::from_document(&array),
            Datum::from_document(&object),
        ),
        (
            Function::IsPrimitive,
            Datum::Null,
            Datum::from_document(&object),
        ),
    ];
    for (function, matching, other) in cases {
        assert_eq!(one(function, matching), Datum::Bool(true), "{function:?}");
        assert_eq!(one(function, other), Datum::Bool(false), "{function:?}");
        assert_eq!(
            one(function, Datum::Undefined),
            Datum::Bool(false),
            "{function:?}"
        );
    }
}

#[test]
fn is_primitive_covers_every_primitive() {
    for primitive in [
        Datum::Null,
        Datum::Bool(true),
        Datum::Number(1.0),
        text("x"),
    ] {
        assert_eq!(one(Function::IsPrimitive, primitive), Datum::Bool(true));
    }
    let array = json!([]);
    assert_eq!(
        one(Function::IsPrimitive, Datum::from_document(&array)),
        Datum::Bool(false)
    );
}

#[test]
fn string_predicates_are_true_false_or_undefined() {
    let cases = [
        (Function::StartsWith, "firmware-1.2", "firm", "ware"),
        (Function::EndsWith, "firmware-1.2", "1.2", "firm"),
        (Function::Contains, "firmware-1.2", "ware", "xyz"),
    ];
    for (function, haystack, hit, miss) in cases {
        assert_eq!(function.apply(text(haystack), text(hit)), Datum::Bool(true));
        assert_eq!(
            function.apply(text(haystack), text(miss)),
            Datum::Bool(false)
        );
        assert_eq!(
            function.apply(text(haystack), Datum::Number(1.0)),
            Datum::Undefined
        );
        assert_eq!(
            function.apply(Datum::Undefined, text(hit)),
            Datum::Undefined
        );
    }
}

#[test]
fn string_predicates_are_case_sensitive() {
    assert_eq!(
        Function::StartsWith.apply(text("Firmware"), text("firm")),
        Datum::Bool(false)
    );
}

#[test]
fn lower_upper_and_length_work_on_strings_only() {
    assert_eq!(one(Function::Lower, text("AbÉ")), text("abé"));
    assert_eq!(one(Function::Upper, text("AbÉ")), text("ABÉ"));
    assert_eq!(one(Function::Length, text("héllo")), Datum::Number(5.0));
    assert_eq!(one(Function::Length, text("")), Datum::Number(0.0));
    for function in [Function::Lower, Function::Upper, Function::Length] {
        assert_eq!(one(function, Datum::Number(1.0)), Datum::Undefined);
        assert_eq!(one(function, Datum::Null), Datum::Undefined);
        assert_eq!(one(function, Datum::Undefined), Datum::Undefined);
    }
}

#[test]
fn array_contains_compares_items_as_equals_does() {
    let scopes = json!(["ms-azure-iot-edge://e1-1", 7, null]);
    let array = || Datum::Array(&scopes);
    let contains = |value| Function::ArrayContains.apply(array(), value);
    assert_eq!(
        contains(text("ms-azure-iot-edge://e1-1")),
        Datum::Bool(true)
    );
    assert_eq!(contains(Datum::Number(7.0)), Datum::Bool(true));
    assert_eq!(contains(Datum::Null), Datum::Bool(true));
    assert_eq!(contains(text("7")), Datum::Bool(false));
    assert_eq!(contains(Datum::Undefined), Datum::Bool(false));
    let empty = json!([]);
    assert_eq!(
        Function::ArrayContains.apply(Datum::Array(&empty), text("x")),
        Datum::Bool(false)
    );
    assert_eq!(
        Function::ArrayContains.apply(text("abc"), text("a")),
        Datum::Undefined
    );
    assert_eq!(
        Function::named("array_contains"),
        Some(Function::ArrayContains)
    );
}
