//! Everything that can go wrong when a twin is updated or read back, with IoT Hub's
//! numeric error codes so the local hub can answer exactly as Azure does. Owns the
//! wording of messages; the checks themselves live in `limits`.
//!
//! Code choices: every broken key, value or depth rule is `400004 ArgumentInvalid`, as
//! Azure answers for an over-long value ("Property or Tag value should be maximum 4096
//! bytes"). An oversize section is `403100`: a real hub answered a reported patch with
//! `{"message":"'Properties.Reported' size should be less than 32768 bytes.",
//! "errorCode":403100}` (Azure/iotedge issue 7035); the SDKs' error enums have no name
//! for it, so we call it `TwinSectionSizeExceeded` and use the same code for all three
//! sections.

use thiserror::Error;

use super::limits::{MAX_DEPTH, MAX_KEY_BYTES, MAX_STRING_BYTES, Section};
use super::path::JsonPath;

/// Which IoT Hub rule a rejected update broke, so callers (the hub, the editor) can
/// react to the rule rather than parse the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationRule {
    /// The key starts with `$`, which IoT Hub reserves for `$metadata`, `$version`, ...
    KeyReserved,
    /// The key contains a space.
    KeyContainsSpace,
    /// The key contains `.`.
    KeyContainsDot,
    /// The key contains `$` after its first character.
    KeyContainsDollar,
    /// The key contains a C0/C1 control character.
    KeyContainsControlCharacter,
    /// The key is longer than 1024 UTF-8 bytes.
    KeyTooLong {
        /// Its length in UTF-8 bytes.
        bytes: usize,
    },
    /// An object or array sits deeper than 10 levels below the section root.
    TooDeep,
    /// A string value is longer than 4096 UTF-8 bytes.
    StringTooLong {
        /// Its length in UTF-8 bytes.
        bytes: usize,
    },
    /// An integer lies outside -2^52 ..= 2^52 - 1.
    IntegerOutOfRange,
    /// `null` appears inside an array (it only means "delete" as an object member).
    NullInArray,
    /// The body, or a section in it, is not a JSON object.
    NotAnObject,
    /// The service tried to write reported properties, which only the device writes.
    ReportedNotWritable,
    /// The section would grow past its size limit.
    SectionTooLarge {
        /// Its size after the update, counted the way IoT Hub counts.
        bytes: usize,
        /// The section's limit.
        limit: usize,
    },
}

/// Why a twin operation was refused; nothing was applied when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TwinError {
    /// The update breaks one of IoT Hub's rules at `path`.
    #[error("{}", describe_violation(path, *rule))]
    Invalid {
        /// Where, in the service view of the twin (`properties.desired.x`).
        path: JsonPath,
        /// Which rule.
        rule: ValidationRule,
    },
    /// A stored or imported document does not have the shape of a twin.
    #[error(
        "not a twin document: {} must be {expected}; read twins only from what \
         Twin::to_json or an IoT Hub GET produced",
        describe_location(path)
    )]
    MalformedDocument {
        /// Where the document went wrong.
        path: JsonPath,
        /// What was expected there.
        expected: &'static str,
    },
    /// A version counter cannot grow any further, so no update can be recorded.
    #[error(
        "the twin's version counter is at its maximum and cannot record another update; \
         delete and recreate the device to reset it"
    )]
    VersionExhausted,
}

impl TwinError {
    /// IoT Hub's numeric error code; its first three digits are the HTTP status.
    pub fn error_code(&self) -> u32 {
        match self {
            TwinError::Invalid {
                rule: ValidationRule::SectionTooLarge { .. },
                ..
            } => 403_100,
            TwinError::Invalid { .. } | TwinError::MalformedDocument { .. } => 400_004,
            TwinError::VersionExhausted => 500_001,
        }
    }

    /// IoT Hub's name for [`error_code`](Self::error_code), as sent in the
    /// `iothub-errorcode` header.
    pub fn error_code_name(&self) -> &'static str {
        match self.error_code() {
            403_100 => "TwinSectionSizeExceeded",
            500_001 => "ServerError",
            _ => "ArgumentInvalid",
        }
    }

    /// The HTTP status that goes with the error code (its first three digits).
    pub fn http_status(&self) -> u16 {
        u16::try_from(self.error_code() / 1000).unwrap_or(500)
    }

    /// Where the problem is, when it has a place in the document.
    pub fn path(&self) -> Option<&JsonPath> {
        match self {
            TwinError::Invalid { path, .. } | TwinError::MalformedDocument { path, .. } => {
                Some(path)
            }
            TwinError::VersionExhausted => None,
        }
    }

    /// The broken rule, for validation failures.
    pub fn rule(&self) -> Option<ValidationRule> {
        match self {
            TwinError::Invalid { rule, .. } => Some(*rule),
            TwinError::MalformedDocument { .. } | TwinError::VersionExhausted => None,
        }
    }
}

const KEY_RULES: &str = "keys may not contain spaces, '.', '$' or control characters";

fn describe_violation(path: &JsonPath, rule: ValidationRule) -> String {
    let noun = Section::containing(path).map_or("property", Section::noun);
    let key = path.last_key().map(shortened).unwrap_or_default();
    let parent = path.parent().unwrap_or_default();
    let at = describe_location(&parent);
    match rule {
        ValidationRule::KeyReserved => format!(
            "{noun} key '{key}' at {at} starts with '$', which IoT Hub reserves for system \
             properties such as $metadata and $version; rename the key"
        ),
        ValidationRule::KeyContainsSpace => {
            format!("{noun} key '{key}' at {at} contains a space; {KEY_RULES}")
        }
        ValidationRule::KeyContainsDot => {
            format!("{noun} key '{key}' at {at} contains '.'; {KEY_RULES}")
        }
        ValidationRule::KeyContainsDollar => {
            format!("{noun} key '{key}' at {at} contains '$'; {KEY_RULES}")
        }
        ValidationRule::KeyContainsControlCharacter => {
            format!("{noun} key '{key}' at {at} contains a control character; {KEY_RULES}")
        }
        ValidationRule::KeyTooLong { bytes } => format!(
            "{noun} key '{key}' at {at} is {bytes} bytes long; keys may be at most \
             {MAX_KEY_BYTES} bytes of UTF-8"
        ),
        ValidationRule::TooDeep => format!(
            "{noun} value at {path} is nested too deeply; objects and arrays in tags, desired \
             and reported properties may nest at most {MAX_DEPTH} levels"
        ),
        ValidationRule::StringTooLong { bytes } => format!(
            "{noun} value at {path} is a string of {bytes} bytes; property or tag values may be \
             at most {MAX_STRING_BYTES} bytes of UTF-8"
        ),
        ValidationRule::IntegerOutOfRange => format!(
            "{noun} value at {path} is an integer outside -4503599627370496..=4503599627370495 \
             (±2^52), which IoT Hub cannot store exactly; send it as a string instead"
        ),
        ValidationRule::NullInArray => format!(
            "{noun} value at {path} is null inside an array; arrays may not contain null \
             (null is only allowed as a property value in a patch, where it deletes the property)"
        ),
        ValidationRule::NotAnObject => format!("{} must be a JSON object", describe_location(path)),
        ValidationRule::ReportedNotWritable => format!(
            "{path} cannot be written through the service API: reported properties are written \
             by the device only; remove properties.reported from the request body"
        ),
        ValidationRule::SectionTooLarge { bytes, limit } => {
            let name = Section::containing(path).map_or("'Section'", Section::azure_name);
            format!(
                "{name} size should be less than {limit} bytes, but this update would make it \
                 {bytes} bytes; remove or shorten {noun} values and retry"
            )
        }
    }
}

/// Names a place for a message; the root has no dotted name of its own.
fn describe_location(path: &JsonPath) -> String {
    if path.is_root() {
        "the document root".to_owned()
    } else {
        path.to_string()
    }
}

/// Keys can be a kilobyte long; keep messages readable and control characters visible.
fn shortened(key: &str) -> String {
    const SHOWN: usize = 40;
    let visible: String = key.chars().take(SHOWN).collect::<String>();
    let ellipsis = if key.chars().count() > SHOWN {
        "…"
    } else {
        ""
    };
    format!("{}{ellipsis}", visible.escape_debug())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn invalid(path: &str, rule: ValidationRule) -> TwinError {
        TwinError::Invalid {
            path: path.parse().unwrap(),
            rule,
        }
    }

    #[test]
    fn key_message_names_key_parent_and_rules() {
        let error = invalid(
            r#"properties.desired.x["a b"]"#,
            ValidationRule::KeyContainsSpace,
        );
        assert_eq!(
            error.to_string(),
            "desired property key 'a b' at properties.desired.x contains a space; keys may not \
             contain spaces, '.', '$' or control characters"
        );
        assert_eq!(error.error_code(), 400_004);
        assert_eq!(error.error_code_name(), "ArgumentInvalid");
        assert_eq!(error.http_status(), 400);
    }

    #[test]
    fn control_characters_are_shown_escaped_and_long_keys_shortened() {
        let error = invalid(
            r#"tags["a\u0001b"]"#,
            ValidationRule::KeyContainsControlCharacter,
        );
        assert!(
            error
                .to_string()
                .starts_with(r"tag key 'a\u{1}b' at tags contains")
        );
        let long = "k".repeat(2000);
        let path = JsonPath::from_keys(["tags".to_owned(), long]);
        let error = TwinError::Invalid {
            path,
            rule: ValidationRule::KeyTooLong { bytes: 2000 },
        };
        assert!(
            error
                .to_string()
                .contains(&format!("'{}…'", "k".repeat(40)))
        );
        assert!(error.to_string().contains("2000 bytes long"));
    }

    #[test]
    fn oversize_section_uses_azure_wording_and_code() {
        let error = invalid(
            "properties.reported",
            ValidationRule::SectionTooLarge {
                bytes: 40_000,
                limit: 32_768,
            },
        );
        assert!(
            error
                .to_string()
                .starts_with("'Properties.Reported' size should be less than 32768 bytes")
        );
        assert_eq!(error.error_code(), 403_100);
        assert_eq!(error.error_code_name(), "TwinSectionSizeExceeded");
        assert_eq!(error.http_status(), 403);
    }

    #[test]
    fn root_is_named_in_words() {
        let error = invalid("", ValidationRule::NotAnObject);
        assert_eq!(error.to_string(), "the document root must be a JSON object");
        let error = TwinError::MalformedDocument {
            path: JsonPath::from_keys(["version"]),
            expected: "an unsigned integer",
        };
        assert!(
            error
                .to_string()
                .contains("version must be an unsigned integer")
        );
        assert_eq!(error.rule(), None);
        assert_eq!(error.path(), Some(&JsonPath::from_keys(["version"])));
    }

    #[test]
    fn exhausted_version_is_a_server_error() {
        assert_eq!(TwinError::VersionExhausted.error_code(), 500_001);
        assert_eq!(TwinError::VersionExhausted.error_code_name(), "ServerError");
        assert_eq!(TwinError::VersionExhausted.path(), None);
    }
}
