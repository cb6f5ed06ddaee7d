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
pub use view::{
    AckStatus, Acknowledgement, ComponentState, PlugAndPlayTwin, PropertyState, acknowledged_value,
};

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

/// The message property a device sets on a component's telemetry (`$.sub`), and the
/// system property IoT Hub turns it into.
const COMPONENT_TELEMETRY_PROPERTY: (&str, &str) = ("$.sub", "dt-subject");
/// The system property naming the model of a Plug and Play device's telemetry.
const DATA_SCHEMA_PROPERTY: &str = "dt-dataschema";

/// Gives a telemetry message the system properties IoT Hub adds for Plug and Play:
/// `dt-subject` in place of the device's `$.sub` on a component's message, and
/// `dt-dataschema` (the model id) when the device announced a model.
pub fn stamp_telemetry_properties(properties: &mut Vec<(String, String)>, model_id: Option<&str>) {
    let (device_name, hub_name) = COMPONENT_TELEMETRY_PROPERTY;
    for (name, _) in properties.iter_mut() {
        if name == device_name {
            *name = hub_name.to_owned();
        }
    }
    if let Some(model_id) = model_id {
        properties.push((DATA_SCHEMA_PROPERTY.to_owned(), model_id.to_owned()));
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
    fn plug_and_play_telemetry_names_its_model_and_component() {
        let mut properties = vec![
            ("$.sub".to_owned(), "thermostat1".to_owned()),
            ("unit".to_owned(), "C".to_owned()),
        ];
        stamp_telemetry_properties(&mut properties, Some("dtmi:com:example:Thermostat;1"));
        assert_eq!(
            properties,
            [
                ("dt-subject".to_owned(), "thermostat1".to_owned()),
                ("unit".to_owned(), "C".to_owned()),
                (
                    "dt-dataschema".to_owned(),
                    "dtmi:com:example:Thermostat;1".to_owned()
                ),
            ]
        );
        let mut plain = vec![("unit".to_owned(), "C".to_owned())];
        stamp_telemetry_properties(&mut plain, None);
        assert_eq!(plain, [("unit".to_owned(), "C".to_owned())]);
    }

    #[test]
    fn only_objects_marked_c_are_components() {
        assert!(is_component(&json!({"__t": "c", "a": 1})));
        assert!(!is_component(&json!({"__t": "x"})));
        assert!(!is_component(&json!({"a": 1})));
        assert!(!is_component(&json!(3)));
    }
}
