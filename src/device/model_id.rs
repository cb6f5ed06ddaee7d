//! The IoT Plug and Play model id a simulated device announces when it connects: a DTMI
//! (Digital Twin Model Identifier) such as `dtmi:com:example:Thermostat;1`, checked before
//! the device dials so that a typo is reported at once rather than by the hub.

use std::fmt;
use std::str::FromStr;

use crate::dtdl::{MAX_INTERFACE_DTMI_LENGTH, is_valid_interface_dtmi};

/// A model id that is an interface DTMI ([`is_valid_interface_dtmi`]); the only way to give a simulated device
/// one, so an invalid id never reaches the hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId(String);

/// Why a model id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{model_id:?} is not a DTMI model id: write it as dtmi:<path>;<version>, e.g. dtmi:com:example:Thermostat;1 (segments start with a letter; at most {MAX_INTERFACE_DTMI_LENGTH} characters)"
)]
pub struct ModelIdError {
    /// The text given.
    pub model_id: String,
}

impl ModelId {
    /// The model id `text`, when it is a DTMI.
    pub fn new(text: impl Into<String>) -> Result<Self, ModelIdError> {
        let text = text.into();
        match is_valid_interface_dtmi(&text) {
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
    fn model_ids_are_interface_dtmis_of_at_most_128_characters() {
        assert!(ModelId::new("dtmi:com:example:TemperatureController;2").is_ok());
        for refused in [
            "",
            "dtmi:",
            "com:example:Thermostat;1",
            "dtmi:com:example;0",
        ] {
            assert!(ModelId::new(refused).is_err(), "{refused}");
        }
        let longest = format!("dtmi:{};1", "a".repeat(MAX_INTERFACE_DTMI_LENGTH - 7));
        assert!(ModelId::new(longest).is_ok());
        let longer = format!("dtmi:{};1", "a".repeat(MAX_INTERFACE_DTMI_LENGTH - 6));
        assert!(ModelId::new(longer).is_err());
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
