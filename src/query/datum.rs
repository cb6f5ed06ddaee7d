//! The values an expression evaluates to while a query runs: values borrowed from the
//! twin or the query, plus `undefined` for what is absent. It owns the value rules shared
//! by every operator — truth, type-strict comparison, and conversion back to JSON — and
//! nothing about syntax. Twins are read through [`Document`], whatever their form.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::ast::Literal;
use super::document::{Document, View};

/// A value during evaluation. Values read from the twin or written in the query are
/// borrowed, so filtering a twin allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Datum<'a, D> {
    /// An absent property, or the result of an operation that is not defined on its
    /// operands (a comparison between different types, arithmetic on a string, ...).
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    Text(Cow<'a, str>),
    Object(D),
    Array(D),
}

/// Largest magnitude below which every integer is exact in an `f64` (2^53).
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

impl<'a, D: Document<'a>> Datum<'a, D> {
    /// Views a value of the twin without copying it.
    pub fn from_document(value: D) -> Self {
        match value.view() {
            View::Null => Self::Null,
            View::Bool(flag) => Self::Bool(flag),
            View::Number(number) => Self::Number(number),
            View::Text(text) => Self::Text(text),
            View::Array => Self::Array(value),
            View::Object => Self::Object(value),
        }
    }

    /// Views a constant written in the query without copying it.
    pub fn from_literal(literal: &'a Literal) -> Self {
        match literal {
            Literal::Undefined => Self::Undefined,
            Literal::Null => Self::Null,
            Literal::Bool(flag) => Self::Bool(*flag),
            Literal::Number(number) => Self::Number(*number),
            Literal::Text(text) => Self::Text(Cow::Borrowed(text)),
        }
    }

    /// True only for boolean `true`: a condition holds on nothing else.
    pub fn is_true(&self) -> bool {
        matches!(self, Self::Bool(true))
    }

    /// True for strings, numbers, booleans and null.
    pub fn is_primitive(&self) -> bool {
        matches!(
            self,
            Self::Null | Self::Bool(_) | Self::Number(_) | Self::Text(_)
        )
    }

    /// Orders two primitives of the same type: numbers numerically, strings by code
    /// point, `false < true`, and null equal to null. Anything else (different types,
    /// objects, arrays, undefined) has no order, which makes every comparison undefined.
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::Null, Datum::Null) => Some(Ordering::Equal),
            (Self::Bool(left), Datum::Bool(right)) => Some(left.cmp(right)),
            (Self::Number(left), Datum::Number(right)) => left.partial_cmp(right),
            (Self::Text(left), Datum::Text(right)) => Some(left.as_ref().cmp(right.as_ref())),
            _ => None,
        }
    }

    /// Converts to JSON for a result row; `None` for undefined, whose column is omitted.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Self::Undefined => None,
            Self::Null => Some(Value::Null),
            Self::Bool(flag) => Some(Value::Bool(flag)),
            Self::Number(number) => number_to_json(number),
            Self::Text(text) => Some(Value::String(text.into_owned())),
            Self::Object(document) | Self::Array(document) => Some(document.to_json()),
        }
    }
}

/// A computed number as JSON: whole numbers print without a fraction (`3`, not `3.0`),
/// as a .NET service would; non-finite results have no JSON form.
pub(crate) fn number_to_json(number: f64) -> Option<Value> {
    if number.fract() == 0.0 && number.abs() < EXACT_INTEGER_LIMIT {
        Some(Value::from(number as i64))
    } else {
        serde_json::Number::from_f64(number).map(Value::Number)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A datum over JSON twins.
    type JsonDatum<'a> = Datum<'a, &'a Value>;

    #[test]
    fn only_boolean_true_is_true() {
        assert!(JsonDatum::Bool(true).is_true());
        for datum in [
            JsonDatum::Bool(false),
            Datum::Undefined,
            Datum::Null,
            Datum::Number(1.0),
            Datum::Text("true".into()),
        ] {
            assert!(!datum.is_true(), "{datum:?}");
        }
    }

    #[test]
    fn json_values_are_viewed_by_type() {
        let value = json!({"n": 2, "s": "x", "b": true, "z": null, "a": [1], "o": {}});
        let members = value.as_object().unwrap();
        let view = |key: &str| Datum::from_document(&members[key]);
        assert_eq!(view("n"), Datum::Number(2.0));
        assert_eq!(view("s"), Datum::Text("x".into()));
        assert_eq!(view("b"), Datum::Bool(true));
        assert_eq!(view("z"), Datum::Null);
        assert!(matches!(view("a"), Datum::Array(items) if items.as_array().unwrap().len() == 1));
        assert!(matches!(view("o"), Datum::Object(_)));
    }

    #[test]
    fn same_type_primitives_compare() {
        let text = |value: &'static str| JsonDatum::Text(value.into());
        assert_eq!(
            JsonDatum::Number(1.0).compare(&Datum::Number(2.0)),
            Some(Ordering::Less)
        );
        assert_eq!(text("b").compare(&text("a")), Some(Ordering::Greater));
        assert_eq!(text("B").compare(&text("a")), Some(Ordering::Less));
        assert_eq!(
            JsonDatum::Bool(false).compare(&Datum::Bool(true)),
            Some(Ordering::Less)
        );
        assert_eq!(JsonDatum::Null.compare(&Datum::Null), Some(Ordering::Equal));
    }

    #[test]
    fn mixed_types_and_composites_do_not_compare() {
        let object = json!({});
        let array = json!([]);
        let pairs = [
            (Datum::Number(1.0), Datum::Text("1".into())),
            (Datum::Bool(true), Datum::Number(1.0)),
            (Datum::Null, Datum::Bool(false)),
            (Datum::Undefined, Datum::Undefined),
            (Datum::from_document(&object), Datum::from_document(&object)),
            (Datum::from_document(&array), Datum::from_document(&array)),
        ];
        for (left, right) in pairs {
            assert_eq!(left.compare(&right), None, "{left:?} vs {right:?}");
        }
    }

    #[test]
    fn numbers_convert_back_without_spurious_fractions() {
        assert_eq!(number_to_json(3.0), Some(json!(3)));
        assert_eq!(number_to_json(-2.0), Some(json!(-2)));
        assert_eq!(number_to_json(1.5), Some(json!(1.5)));
        assert_eq!(number_to_json(1e300), Some(json!(1e300)));
        assert_eq!(number_to_json(f64::INFINITY), None);
    }

    #[test]
    fn undefined_has_no_json_form() {
        assert_eq!(JsonDatum::Undefined.into_json(), None);
        assert_eq!(JsonDatum::Text("x".into()).into_json(), Some(json!("x")));
        let object = json!({"a": 1});
        assert_eq!(
            Datum::from_document(&object).into_json(),
            Some(object.clone())
        );
    }
}
