//! The built-in functions: their names (case-insensitive, with the spellings users try),
//! their arity, and what they compute. Scalar functions run per twin; aggregates are only
//! named here and accumulated by the aggregation module.

use std::borrow::Cow;

use super::datum::Datum;
use super::document::Document;

/// A scalar function, applied to each twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    IsDefined,
    IsNull,
    IsString,
    IsNumber,
    IsBool,
    IsObject,
    IsArray,
    IsPrimitive,
    StartsWith,
    EndsWith,
    Contains,
    Lower,
    Upper,
    Length,
    ArrayContains,
}

/// An aggregate function, computed over all twins of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Count,
    Average,
    Sum,
    Min,
    Max,
}

/// Every accepted spelling of a scalar function; the first spelling of each is the one
/// shown in messages.
const FUNCTIONS: &[(&str, Function)] = &[
    ("IS_DEFINED", Function::IsDefined),
    ("IS_NULL", Function::IsNull),
    ("IS_STRING", Function::IsString),
    ("IS_NUMBER", Function::IsNumber),
    ("IS_BOOL", Function::IsBool),
    ("IS_OBJECT", Function::IsObject),
    ("IS_ARRAY", Function::IsArray),
    ("IS_PRIMITIVE", Function::IsPrimitive),
    ("STARTS_WITH", Function::StartsWith),
    ("STARTSWITH", Function::StartsWith),
    ("ENDS_WITH", Function::EndsWith),
    ("ENDSWITH", Function::EndsWith),
    ("CONTAINS", Function::Contains),
    ("LOWER", Function::Lower),
    ("UPPER", Function::Upper),
    ("LENGTH", Function::Length),
    ("ARRAY_CONTAINS", Function::ArrayContains),
];

const AGGREGATES: &[(&str, Aggregate)] = &[
    ("COUNT", Aggregate::Count),
    ("AVG", Aggregate::Average),
    ("SUM", Aggregate::Sum),
    ("MIN", Aggregate::Min),
    ("MAX", Aggregate::Max),
];

/// The list of function names for "unknown function" messages.
pub(crate) fn known_function_names() -> String {
    let scalar = FUNCTIONS.iter().map(|(name, _)| *name);
    let aggregate = AGGREGATES.iter().map(|(name, _)| *name);
    scalar.chain(aggregate).collect::<Vec<_>>().join(", ")
}

impl Function {
    /// The function a name refers to, ignoring case.
    pub fn named(name: &str) -> Option<Self> {
        FUNCTIONS
            .iter()
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(name))
            .map(|(_, function)| *function)
    }

    /// The canonical spelling, for messages.
    pub fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(_, function)| *function == self)
            .map_or("?", |(spelling, _)| spelling)
    }

    /// How many arguments the function takes.
    pub fn arity(self) -> usize {
        match self {
            Self::StartsWith | Self::EndsWith | Self::Contains | Self::ArrayContains => 2,
            _ => 1,
        }
    }

    /// Computes the function. `second` is [`Datum::Undefined`] for one-argument
    /// functions. Type checks are true or false even on undefined; string functions are
    /// undefined unless their arguments are strings.
    pub fn apply<'a, D: Document<'a>>(
        self,
        first: Datum<'a, D>,
        second: Datum<'a, D>,
    ) -> Datum<'a, D> {
        use Datum::{Array, Bool, Null, Number, Object, Text, Undefined};
        match self {
            Self::IsDefined => Bool(!matches!(first, Undefined)),
            Self::IsNull => Bool(matches!(first, Null)),
            Self::IsString => Bool(matches!(first, Text(_))),
            Self::IsNumber => Bool(matches!(first, Number(_))),
            Self::IsBool => Bool(matches!(first, Bool(_))),
            Self::IsObject => Bool(matches!(first, Object(_))),
            Self::IsArray => Bool(matches!(first, Array(_))),
            Self::IsPrimitive => Bool(first.is_primitive()),
            Self::StartsWith | Self::EndsWith | Self::Contains => match (first, second) {
                (Text(text), Text(part)) => Bool(match self {
                    Self::StartsWith => text.starts_with(part.as_ref()),
                    Self::EndsWith => text.ends_with(part.as_ref()),
                    _ => text.contains(part.as_ref()),
                }),
                _ => Undefined,
            },
            Self::Lower => match first {
                Text(text) => Text(Cow::Owned(text.to_lowercase())),
                _ => Undefined,
            },
            Self::Upper => match first {
                Text(text) => Text(Cow::Owned(text.to_uppercase())),
                _ => Undefined,
            },
            Self::Length => match first {
                Text(text) => Number(text.chars().count() as f64),
                _ => Undefined,
            },
            // Whether an item of the array equals the value (primitives only, compared
            // as `=` compares them); undefined when the first argument is no array.
            Self::ArrayContains => match first {
                Array(items) => Bool(
                    (0..)
                        .map_while(|index| items.item(index))
                        .map(Datum::from_document)
                        .any(|item| item.compare(&second) == Some(std::cmp::Ordering::Equal)),
                ),
                _ => Undefined,
            },
        }
    }
}

impl Aggregate {
    /// The aggregate a name refers to, ignoring case.
    pub fn named(name: &str) -> Option<Self> {
        AGGREGATES
            .iter()
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(name))
            .map(|(_, aggregate)| *aggregate)
    }

    /// The canonical spelling, for messages.
    pub fn name(self) -> &'static str {
        AGGREGATES
            .iter()
            .find(|(_, aggregate)| *aggregate == self)
            .map_or("?", |(spelling, _)| spelling)
    }

    /// COUNT() counts rows; the others aggregate one expression.
    pub fn arity(self) -> usize {
        match self {
            Self::Count => 0,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests;
