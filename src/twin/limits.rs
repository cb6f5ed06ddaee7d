//! IoT Hub's limits on tags, desired and reported properties: key rules, value types
//! and sizes, nesting depth and section sizes, checked before anything is applied.
//! Owns the numbers and the checks; the twin decides when to run them.
//!
//! Sources: the "Tags and properties format" and "Device twin size" sections of Azure's
//! device twin guide, and Azure IoT Edge's reported-properties validator (constants
//! "taken from IoTHub"), which fixes how depth is counted: the section root is level 0,
//! every object or array value one level deeper than its parent, and no object or array
//! may sit deeper than level 10 — the guide's ten nested objects `one`..`ten` are fine.

use serde_json::{Map, Number, Value};

use super::error::{TwinError, ValidationRule};
use super::path::JsonPath;

/// Deepest level an object or array may sit at, the section root being level 0.
pub const MAX_DEPTH: usize = 10;
/// Longest key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest string value, in UTF-8 bytes ("Property or Tag value should be maximum 4096 bytes").
pub const MAX_STRING_BYTES: usize = 4096;
/// Smallest integer IoT Hub stores exactly (-2^52).
pub const MIN_INTEGER: i64 = -4_503_599_627_370_496;
/// Largest integer IoT Hub stores exactly (2^52 - 1).
pub const MAX_INTEGER: i64 = 4_503_599_627_370_495;

/// The three user-writable parts of a twin, each with its own limit and wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `tags`: written by the service, invisible to the device.
    Tags,
    /// `properties.desired`: written by the service, read by the device.
    Desired,
    /// `properties.reported`: written by the device, read by the service.
    Reported,
}

impl Section {
    /// Where the section sits in the service view of the twin.
    pub fn path(self) -> JsonPath {
        match self {
            Section::Tags => JsonPath::from_keys(["tags"]),
            Section::Desired => JsonPath::from_keys(["properties", "desired"]),
            Section::Reported => JsonPath::from_keys(["properties", "reported"]),
        }
    }

    /// Largest size the section may grow to (8 KB for tags, 32 KB for properties).
    pub fn size_limit(self) -> usize {
        match self {
            Section::Tags => 8 * 1024,
            Section::Desired | Section::Reported => 32 * 1024,
        }
    }

    /// What one entry of the section is called in messages ("desired property").
    pub fn noun(self) -> &'static str {
        match self {
            Section::Tags => "tag",
            Section::Desired => "desired property",
            Section::Reported => "reported property",
        }
    }

    /// The section's name as IoT Hub spells it in size errors (`'Properties.Desired'`).
    pub fn azure_name(self) -> &'static str {
        match self {
            Section::Tags => "'Tags'",
            Section::Desired => "'Properties.Desired'",
            Section::Reported => "'Properties.Reported'",
        }
    }

    /// The section a twin path lies in, if any.
    pub fn containing(path: &JsonPath) -> Option<Section> {
        [Section::Tags, Section::Desired, Section::Reported]
            .into_iter()
            .find(|section| path.segments().starts_with(section.path().segments()))
    }
}

/// Checks every key and value of a section body (a patch, or a whole replacement).
/// `null` members are accepted, since in a patch they delete; `null` anywhere inside an
/// array is not. Stops at the first violation.
pub fn validate_section_body(section: Section, body: &Map<String, Value>) -> Result<(), TwinError> {
    validate_members(body, &section.path(), 0, false)
}

fn validate_members(
    members: &Map<String, Value>,
    path: &JsonPath,
    depth: usize,
    in_array: bool,
) -> Result<(), TwinError> {
    for (key, value) in members {
        let member_path = path.child(key);
        check_key(key, &member_path)?;
        if value.is_null() && in_array {
            return Err(violation(member_path, ValidationRule::NullInArray));
        }
        validate_value(value, &member_path, depth + 1, in_array)?;
    }
    Ok(())
}

fn validate_value(
    value: &Value,
    path: &JsonPath,
    depth: usize,
    in_array: bool,
) -> Result<(), TwinError> {
    match value {
        Value::Object(members) => {
            check_depth(path, depth)?;
            validate_members(members, path, depth, in_array)
        }
        Value::Array(items) => {
            check_depth(path, depth)?;
            items.iter().enumerate().try_for_each(|(position, item)| {
                let item_path = path.index(position);
                if item.is_null() {
                    return Err(violation(item_path, ValidationRule::NullInArray));
                }
                validate_value(item, &item_path, depth + 1, true)
            })
        }
        Value::String(text) if text.len() > MAX_STRING_BYTES => Err(violation(
            path.clone(),
            ValidationRule::StringTooLong { bytes: text.len() },
        )),
        Value::Number(number) if !integer_in_range(number) => {
            Err(violation(path.clone(), ValidationRule::IntegerOutOfRange))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(()),
    }
}

fn check_depth(path: &JsonPath, depth: usize) -> Result<(), TwinError> {
    if depth > MAX_DEPTH {
        return Err(violation(path.clone(), ValidationRule::TooDeep));
    }
    Ok(())
}

/// Floats are not range-checked (IoT Hub stores them as doubles); integers must fit ±2^52.
fn integer_in_range(number: &Number) -> bool {
    match (number.as_i64(), number.as_u64()) {
        (Some(signed), _) => (MIN_INTEGER..=MAX_INTEGER).contains(&signed),
        (None, Some(_)) => false,
        (None, None) => true,
    }
}

/// Checks one key against IoT Hub's key rules; `path` ends at that key.
pub fn check_key(key: &str, path: &JsonPath) -> Result<(), TwinError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(violation(
            path.clone(),
            ValidationRule::KeyTooLong { bytes: key.len() },
        ));
    }
    if key.starts_with('$') {
        return Err(violation(path.clone(), ValidationRule::KeyReserved));
    }
    let broken_rule = key.chars().find_map(|c| match c {
        ' ' => Some(ValidationRule::KeyContainsSpace),
        '.' => Some(ValidationRule::KeyContainsDot),
        '$' => Some(ValidationRule::KeyContainsDollar),
        c if c.is_control() => Some(ValidationRule::KeyContainsControlCharacter),
        _ => None,
    });
    match broken_rule {
        Some(rule) => Err(violation(path.clone(), rule)),
        None => Ok(()),
    }
}

/// The size IoT Hub charges a section: for every member, its key plus its value, where
/// strings count their characters except control characters, numbers 8, booleans 4,
/// and objects and arrays the sum of what they contain.
pub fn section_size(members: &Map<String, Value>) -> usize {
    members
        .iter()
        .map(|(key, value)| text_size(key) + value_size(value))
        .sum()
}

/// What a number counts towards a section's size.
pub const NUMBER_SIZE: usize = 8;
/// What a boolean counts towards a section's size.
pub const BOOL_SIZE: usize = 4;

fn value_size(value: &Value) -> usize {
    match value {
        Value::String(text) => text_size(text),
        Value::Number(_) => NUMBER_SIZE,
        Value::Bool(_) => BOOL_SIZE,
        Value::Null => 0,
        Value::Object(members) => section_size(members),
        Value::Array(items) => items.iter().map(value_size).sum(),
    }
}

/// What a key or a string counts towards a section's size: its characters, except
/// control characters.
pub fn text_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_control()).count()
}

/// Rejects an operation that would grow a section past its limit. Following the guide
/// ("rejects all operations that would increase the size ... above the limit"), a
/// section already over the limit (e.g. imported) may still shrink.
pub fn check_section_growth(
    section: Section,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), TwinError> {
    check_section_size(section, section_size(after), || section_size(before))
}

/// [`check_section_growth`] for a section whose size after the operation is `bytes`;
/// `before` gives its size before, needed only when `bytes` is over the limit.
pub fn check_section_size(
    section: Section,
    bytes: usize,
    before: impl FnOnce() -> usize,
) -> Result<(), TwinError> {
    let limit = section.size_limit();
    if bytes > limit && bytes > before() {
        return Err(violation(
            section.path(),
            ValidationRule::SectionTooLarge { bytes, limit },
        ));
    }
    Ok(())
}

fn violation(path: JsonPath, rule: ValidationRule) -> TwinError {
    TwinError::Invalid { path, rule }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
