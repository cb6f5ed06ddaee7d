//! Reading DTDL members out of JSON: each helper names the member and place it
//! expected, so every structural error says where and what.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::super::dtmi::{is_valid_dtmi, is_valid_name};
use super::super::error::{DtdlError, Location, quote};
use super::super::model::DtdlVersion;
use super::super::text::LocalizedText;

/// A JSON object of DTDL members.
pub(super) type Members = Map<String, Value>;

/// `value` as an object; `expected` says which one for the message.
pub(super) fn object<'v>(
    value: &'v Value,
    at: &Location,
    expected: &'static str,
) -> Result<&'v Members, DtdlError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(at, expected, value))
}

/// `value` as an array.
pub(super) fn array<'v>(value: &'v Value, at: &Location) -> Result<&'v [Value], DtdlError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| wrong_type(at, "an array", value))
}

/// The member `member` of `object` at `at`, which must be there.
pub(super) fn required<'v>(
    object: &'v Members,
    member: &'static str,
    at: &Location,
) -> Result<&'v Value, DtdlError> {
    object.get(member).ok_or_else(|| DtdlError::Missing {
        at: at.clone(),
        member,
    })
}

/// The optional string member `member`.
pub(super) fn optional_string<'v>(
    object: &'v Members,
    member: &'static str,
    at: &Location,
) -> Result<Option<&'v str>, DtdlError> {
    object
        .get(member)
        .map(|value| {
            value
                .as_str()
                .ok_or_else(|| wrong_type(&at.child(member), "a string", value))
        })
        .transpose()
}

/// The optional boolean member `member`.
pub(super) fn optional_bool(
    object: &Members,
    member: &'static str,
    at: &Location,
) -> Result<Option<bool>, DtdlError> {
    object
        .get(member)
        .map(|value| {
            value
                .as_bool()
                .ok_or_else(|| wrong_type(&at.child(member), "true or false", value))
        })
        .transpose()
}

/// `@type`: one string, or an array of them (a kind plus semantic types).
pub(super) fn types<'v>(object: &'v Members, at: &Location) -> Result<Vec<&'v str>, DtdlError> {
    let value = required(object, "@type", at)?;
    let wrong = || wrong_type(&at.child("@type"), "a string or an array of strings", value);
    match value {
        Value::String(single) => Ok(vec![single.as_str()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(wrong))
            .collect(),
        _ => Err(wrong()),
    }
}

/// The one of `kinds` that `types` names; `None` when it names none or several.
pub(super) fn single_kind<'t>(types: &[&'t str], kinds: &[&str]) -> Option<&'t str> {
    let mut found = types.iter().copied().filter(|kind| kinds.contains(kind));
    match (found.next(), found.next()) {
        (Some(kind), None) => Some(kind),
        _ => None,
    }
}

/// A localizable member (`displayName`, `description`): a string or a language map.
pub(super) fn localized(
    object: &Members,
    member: &'static str,
    at: &Location,
) -> Result<LocalizedText, DtdlError> {
    let mut text = LocalizedText::default();
    match object.get(member) {
        None => {}
        Some(Value::String(plain)) => text.push("", plain),
        Some(Value::Object(languages)) => {
            for (language, value) in languages {
                let translation = value.as_str().ok_or_else(|| {
                    wrong_type(&at.child(member).child(language), "a string", value)
                })?;
                text.push(language, translation);
            }
        }
        Some(other) => {
            return Err(wrong_type(
                &at.child(member),
                "a string or a language map ({\"en\": \"...\"})",
                other,
            ));
        }
    }
    Ok(text)
}

/// The `name` member, checked against the naming rule of `version`.
pub(super) fn name(
    object: &Members,
    at: &Location,
    version: DtdlVersion,
) -> Result<String, DtdlError> {
    let value = required(object, "name", at)?;
    let at = at.child("name");
    let name = value
        .as_str()
        .ok_or_else(|| wrong_type(&at, "a string", value))?;
    let max = version.max_name_length();
    if is_valid_name(name, max) {
        Ok(name.to_owned())
    } else {
        Err(DtdlError::InvalidName {
            at,
            value: name.to_owned(),
            max,
        })
    }
}

/// `value` as a DTMI of at most `max` characters.
pub(super) fn dtmi(value: &Value, at: &Location, max: usize) -> Result<String, DtdlError> {
    let text = value
        .as_str()
        .ok_or_else(|| wrong_type(at, "a DTMI string", value))?;
    if text.len() <= max && is_valid_dtmi(text) {
        Ok(text.to_owned())
    } else {
        Err(DtdlError::InvalidDtmi {
            at: at.clone(),
            value: text.to_owned(),
            max,
        })
    }
}

/// A [`DtdlError::WrongType`] for `found` at `at`.
pub(super) fn wrong_type(at: &Location, expected: &'static str, found: &Value) -> DtdlError {
    DtdlError::WrongType {
        at: at.clone(),
        expected,
        found: quote(found),
    }
}

/// Names (or values) that must not repeat within one scope.
pub(super) struct Unique {
    seen: HashSet<String>,
    scope: &'static str,
}

impl Unique {
    /// An empty scope; `scope` names it in messages ("content names of an interface").
    pub(super) fn new(scope: &'static str) -> Self {
        Self {
            seen: HashSet::new(),
            scope,
        }
    }

    /// Adds `name`, found at `at`; an error if the scope already has it.
    pub(super) fn insert(&mut self, name: &str, at: &Location) -> Result<(), DtdlError> {
        if self.seen.insert(name.to_owned()) {
            Ok(())
        } else {
            Err(DtdlError::Duplicate {
                at: at.clone(),
                name: name.to_owned(),
                scope: self.scope,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn members(value: Value) -> Members {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn kinds_must_be_named_once() {
        let kinds = ["Property", "Telemetry"];
        assert_eq!(
            single_kind(&["Property", "Temperature"], &kinds),
            Some("Property")
        );
        assert_eq!(single_kind(&["Temperature"], &kinds), None);
        assert_eq!(single_kind(&["Property", "Telemetry"], &kinds), None);
    }

    #[test]
    fn localized_texts_are_strings_or_language_maps() {
        let at = Location::root("m.json");
        let object = members(json!({"a": {"it": "Ciao", "en": "Hi"}, "b": 3, "c": {"en": 1}}));
        assert_eq!(
            localized(&object, "a", &at).map(|t| t.or("").to_owned()),
            Ok("Hi".into())
        );
        assert_eq!(
            localized(&object, "b", &at).map_err(|e| e.to_string()),
            Err(
                "m.json at /b: expected a string or a language map ({\"en\": \"...\"}), found 3"
                    .into()
            )
        );
        assert!(localized(&object, "c", &at).is_err());
        assert_eq!(
            localized(&object, "none", &at),
            Ok(LocalizedText::default())
        );
    }

    #[test]
    fn names_follow_the_version_limit() {
        let at = Location::root("m.json");
        let long = members(json!({"name": "a".repeat(100)}));
        assert!(name(&long, &at, DtdlVersion::V2).is_err());
        assert_eq!(name(&long, &at, DtdlVersion::V3), Ok("a".repeat(100)));
        assert_eq!(
            name(&members(json!({})), &at, DtdlVersion::V3).map_err(|e| e.to_string()),
            Err("m.json: \"name\" is missing: add it".into())
        );
    }
}
