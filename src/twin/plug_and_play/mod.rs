//! IoT Plug and Play conventions on top of the twin: components (objects marked
//! `"__t": "c"`), writable properties acknowledged in the envelope
//! `{"value", "ac", "av", "ad"}`, and the digital twin IoT Hub derives from them.
//!
//! - [`view`]: a twin read the Plug and Play way ([`PlugAndPlayTwin`]): per component, each
//!   property's reported value, acknowledgement, desired value and version. The explorer
//!   shows it; the hub renders it as a digital twin.
//! - [`digital_twin`]: that view in the shape of `GET /digitaltwins/{id}` (`$dtId`,
//!   `$metadata.$model`, per-property `desiredValue`, `desiredVersion`, `ackVersion`,
//!   `ackCode`, `ackDescription`, `lastUpdateTime`).
//! - [`json_patch`]: a digital-twin JSON Patch (`PATCH /digitaltwins/{id}`) turned into
//!   the desired-properties patch of the twin, with IoT Hub's rules for names and values.
//!
//! Sources: Microsoft Learn "IoT Plug and Play conventions", "Understand IoT Plug and
//! Play digital twins" and "Manage IoT Plug and Play digital twins".

pub mod digital_twin;
pub mod json_patch;
pub mod view;

pub use digital_twin::to_digital_twin;
pub use json_patch::{DigitalTwinPatchError, desired_patch_from_json_patch};
pub use view::{Acknowledgement, ComponentState, PlugAndPlayTwin, PropertyState};

/// The key and value that mark an object of desired or reported properties as a
/// component.
pub const COMPONENT_MARKER: (&str, &str) = ("__t", "c");

/// The separator between a component and a command in a direct method's name
/// (`thermostat1*getMaxMinReport`).
pub const COMMAND_SEPARATOR: char = '*';

/// The direct method a device answers for `command` of `component` (the default
/// component when `None`).
pub fn command_method_name(component: Option<&str>, command: &str) -> String {
    match component {
        Some(component) => format!("{component}{COMMAND_SEPARATOR}{command}"),
        None => command.to_owned(),
    }
}

/// Whether `value` is an object marked as a component.
pub fn is_component(value: &serde_json::Value) -> bool {
    value
        .get(COMPONENT_MARKER.0)
        .and_then(serde_json::Value::as_str)
        == Some(COMPONENT_MARKER.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn component_commands_are_named_with_a_star() {
        assert_eq!(
            command_method_name(Some("thermostat1"), "getMaxMinReport"),
            "thermostat1*getMaxMinReport"
        );
        assert_eq!(command_method_name(None, "reboot"), "reboot");
    }

    #[test]
    fn only_objects_marked_c_are_components() {
        assert!(is_component(&json!({"__t": "c", "a": 1})));
        assert!(!is_component(&json!({"__t": "x"})));
        assert!(!is_component(&json!({"a": 1})));
        assert!(!is_component(&json!(3)));
    }
}
