//! The IoT Plug and Play model id a simulated device announces when it connects: a DTMI
//! (Digital Twin Model Identifier) such as `dtmi:com:example:Thermostat;1`, checked before
//! the device dials so that a typo is reported at once rather than by the hub.

use std::fmt;
use std::str::FromStr;

/// The longest DTMI IoT Hub accepts as a model id.
pub const MAX_DTMI_CHARS: usize = 128;

/// Whether `text` is a DTMI: `dtmi:` then `:`-separated path segments (each starting with
/// a letter, then letters, digits and underscores, not ending with an underscore), then
/// optionally `;` and a version (1 to 999999999, optionally `.` and a minor version of up
/// to six digits, neither with a leading zero); at most [`MAX_DTMI_CHARS`] characters.
///
/// This is the shape of the DTDL v2/v3 specification's regular expression
/// `^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*(?:;[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?)?$`,
/// checked by hand.
pub fn is_valid_dtmi(text: &str) -> bool {
    if text.len() > MAX_DTMI_CHARS {
        return false;
    }
    let Some(rest) = text.strip_prefix("dtmi:") else {
        return false;
    };
    let (path, version) = match rest.split_once(';') {
        Some((path, version)) => (path, Some(version)),
        None => (rest, None),
    };
    path.split(':').all(is_path_segment) && version.is_none_or(is_version)
}

/// `[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?`
fn is_path_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphabetic()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        _ => false,
    }
}

/// `[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?`
fn is_version(version: &str) -> bool {
    let (major, minor) = match version.split_once('.') {
        Some((major, minor)) => (major, Some(minor)),
        None => (version, None),
    };
    let number = |digits: &str, max_len: usize| {
        (1..=max_len).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
    };
    number(major, 9) && minor.is_none_or(|minor| number(minor, 6))
}

/// A model id that is a DTMI ([`is_valid_dtmi`]); the only way to give a simulated device
/// one, so an invalid id never reaches the hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId(String);

/// Why a model id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{model_id:?} is not a DTMI model id: write it as dtmi:<path>;<version>, e.g. dtmi:com:example:Thermostat;1 (segments start with a letter; at most {MAX_DTMI_CHARS} characters)"
)]
pub struct ModelIdError {
    /// The text given.
    pub model_id: String,
}

impl ModelId {
    /// The model id `text`, when it is a DTMI.
    pub fn new(text: impl Into<String>) -> Result<Self, ModelIdError> {
        let text = text.into();
        match is_valid_dtmi(&text) {
            true => Ok(Self(text)),
            false => Err(ModelIdError { model_id: text }),
        }
    }

    /// The DTMI.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ModelId {
    type Err = ModelIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text)
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dtmis_of_the_plug_and_play_samples_are_valid() {
        for dtmi in [
            "dtmi:com:example:Thermostat;1",
            "dtmi:com:example:TemperatureController;2",
            "dtmi:com:example:Thermostat",
            "dtmi:a",
            "dtmi:a_1:b2;999999999",
            "dtmi:com:example:Thermostat;1.5",
            "dtmi:x;1.999999",
        ] {
            assert!(is_valid_dtmi(dtmi), "{dtmi}");
        }
    }

    #[test]
    fn malformed_dtmis_are_refused() {
        for dtmi in [
            "",
            "dtmi:",
            "DTMI:com:example;1",
            "com:example:Thermostat;1",
            "dtmi:com:example:Thermostat;",
            "dtmi:com:example:Thermostat;0",
            "dtmi:com:example:Thermostat;01",
            "dtmi:com:example:Thermostat;1234567890",
            "dtmi:com:example:Thermostat;1.",
            "dtmi:com:example:Thermostat;1.0",
            "dtmi:com:example:Thermostat;1.1234567",
            "dtmi:com:example:Thermostat;1;2",
            "dtmi:com::Thermostat;1",
            "dtmi:com:example:Thermostat:;1",
            "dtmi:1com:example;1",
            "dtmi:com_:example;1",
            "dtmi:_com:example;1",
            "dtmi:com:exa-mple;1",
            "dtmi:com:exämple;1",
            "dtmi:com:example:Thermostat;1 ",
        ] {
            assert!(!is_valid_dtmi(dtmi), "{dtmi}");
        }
    }

    #[test]
    fn at_most_128_characters() {
        let longest = format!("dtmi:{};1", "a".repeat(MAX_DTMI_CHARS - 7));
        assert_eq!(longest.len(), MAX_DTMI_CHARS);
        assert!(is_valid_dtmi(&longest));
        let longer = format!("dtmi:{};1", "a".repeat(MAX_DTMI_CHARS - 6));
        assert!(!is_valid_dtmi(&longer));
    }

    #[test]
    fn the_error_names_the_value_and_the_expected_form() {
        assert!("dtmi:com:example".parse::<ModelId>().is_ok());
        let error = "thermostat".parse::<ModelId>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"thermostat\""), "{message}");
        assert!(message.contains("dtmi:<path>;<version>"), "{message}");
        let model = ModelId::new("dtmi:com:example:Thermostat;1").unwrap();
        assert_eq!(model.as_str(), "dtmi:com:example:Thermostat;1");
        assert_eq!(model.to_string(), model.as_str());
    }
}
