//! Checking the twin editor's document: the editable part of a twin (tags and desired
//! properties, without `$metadata`/`$version`) as pretty JSON, and the checks a text
//! must pass before it can be saved, JSON syntax first, then IoT Hub's rules, each
//! failure with the line and path to fix. Pure functions, so the editor can run them
//! on a helper thread.

use serde_json::{Map, Value, json};

use crate::twin::limits::{Section, section_size, validate_section_body};
use crate::twin::{Change, diff, merge};

/// What the editor's text currently amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum EditCheck {
    /// Valid; saving sends `patch`, which makes `changes`.
    Valid {
        /// The merge patch (`{"tags": .., "properties": {"desired": ..}}`, changed parts only).
        patch: Value,
        /// What the patch changes, path by path.
        changes: Vec<Change>,
    },
    /// Not savable, and why.
    Invalid(EditError),
}

/// Where the text is wrong and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The twin path at fault (`tags.site`), when known.
    pub path: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// The part of a twin the editor edits: `{"tags": .., "properties": {"desired": ..}}`,
/// without `$metadata` and `$version`.
pub fn editable(twin: &Value) -> Value {
    let section = |value: Option<&Value>| -> Value {
        let members = value
            .and_then(Value::as_object)
            .map(|members| {
                members
                    .iter()
                    .filter(|(key, _)| !key.starts_with('$'))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect::<Map<String, Value>>()
            })
            .unwrap_or_default();
        Value::Object(members)
    };
    json!({
        "tags": section(twin.get("tags")),
        "properties": {"desired": section(twin.pointer("/properties/desired"))},
    })
}

/// Pretty JSON with two-space indents, as the editor shows it.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

pub(super) fn check_text(text: &str, base: &Value) -> EditCheck {
    let document = match parse_document(text) {
        Ok(document) => document,
        Err(error) => return EditCheck::Invalid(error),
    };
    let patch = merge::merge_patch_between(base, &document);
    let changes = diff(base, &document);
    EditCheck::Valid { patch, changes }
}

/// Parses and checks the editor's document against IoT Hub's rules.
pub(super) fn parse_document(text: &str) -> Result<Value, EditError> {
    let document: Value = serde_json::from_str(text).map_err(|error| EditError {
        line: Some(error.line()),
        column: Some(error.column()),
        path: None,
        message: format!("not valid JSON: {error}"),
    })?;
    let shape_error = |message: &str| EditError {
        line: None,
        column: None,
        path: None,
        message: message.to_owned(),
    };
    let Value::Object(root) = &document else {
        return Err(shape_error(
            "the editor holds one object: {\"tags\": {...}, \"properties\": {\"desired\": {...}}}",
        ));
    };
    if let Some(key) = root
        .keys()
        .find(|key| *key != "tags" && *key != "properties")
    {
        return Err(shape_error(&format!(
            "'{key}' cannot be edited here; only tags and properties.desired can (reported properties are written by the device)"
        )));
    }
    let tags = root.get("tags").and_then(Value::as_object).ok_or_else(|| {
        shape_error("tags must be an object; to remove every tag, leave it empty: \"tags\": {}")
    })?;
    let properties = root
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| shape_error("properties must be an object holding desired"))?;
    if let Some(key) = properties.keys().find(|key| *key != "desired") {
        return Err(shape_error(&format!(
            "properties.{key} cannot be edited here; only properties.desired can"
        )));
    }
    let desired = properties
        .get("desired")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            shape_error("properties.desired must be an object; leave it empty to remove every desired property")
        })?;
    for (section, members) in [(Section::Tags, tags), (Section::Desired, desired)] {
        check_section(text, section, members)?;
    }
    Ok(document)
}

fn check_section(
    text: &str,
    section: Section,
    members: &Map<String, Value>,
) -> Result<(), EditError> {
    let section_path = section.path().to_string();
    if let Some(path) = first_null(members, &section_path) {
        return Err(EditError {
            line: line_of_key(text, path.rsplit('.').next().unwrap_or_default()),
            column: None,
            message: format!("{path} is null; delete the key instead to remove it"),
            path: Some(path),
        });
    }
    validate_section_body(section, members).map_err(|error| {
        let path = error.path().map(ToString::to_string);
        EditError {
            line: error
                .path()
                .and_then(|path| path.last_key())
                .and_then(|key| line_of_key(text, key)),
            column: None,
            path,
            message: error.to_string(),
        }
    })?;
    let size = section_size(members);
    if size > section.size_limit() {
        return Err(EditError {
            line: None,
            column: None,
            path: Some(section_path.clone()),
            message: format!(
                "{section_path} is {size} bytes, over IoT Hub's limit of {} bytes; make it smaller",
                section.size_limit()
            ),
        });
    }
    Ok(())
}

fn first_null(members: &Map<String, Value>, path: &str) -> Option<String> {
    members.iter().find_map(|(key, value)| {
        let child = format!("{path}.{key}");
        match value {
            Value::Null => Some(child),
            Value::Object(inner) => first_null(inner, &child),
            _ => None,
        }
    })
}

/// The 1-based line where `"key":` first appears, to point the user at a rule's path.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let quoted = serde_json::to_string(key).ok()?;
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(&quoted)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| index + 1)
}
