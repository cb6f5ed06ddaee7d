//! The digital twin of a Plug and Play device, as `GET /digitaltwins/{id}` serves it:
//!
//! ```json
//! {"$dtId": "controller", "serialNumber": "SN-1",
//!  "thermostat1": {"targetTemperature": 21.4,
//!                  "$metadata": {"targetTemperature": {"desiredValue": 21.4, "desiredVersion": 4,
//!                                "ackVersion": 4, "ackCode": 200, "ackDescription": "..",
//!                                "lastUpdateTime": ".."}}},
//!  "$metadata": {"$model": "dtmi:com:example:TemperatureController;2",
//!                "serialNumber": {"lastUpdateTime": ".."}}}
//! ```
//!
//! A property's value is what the device reported (the envelope's `value`); one the
//! device has not reported yet appears in `$metadata` only, with its desired value.
//! Every component has a `$metadata`, `{}` when there is nothing to say; `$model` is
//! left out for a device that announced no model.

use serde_json::{Map, Value};

use super::view::{ComponentState, PlugAndPlayTwin, PropertyState};

/// The digital twin `$dtId` of the twin read as `pnp`.
pub fn to_digital_twin(digital_twin_id: &str, pnp: &PlugAndPlayTwin) -> Value {
    let mut twin = Map::new();
    twin.insert("$dtId".into(), digital_twin_id.into());
    let mut metadata = Map::new();
    if !pnp.model_id.is_empty() {
        metadata.insert("$model".into(), pnp.model_id.clone().into());
    }
    write_component(&pnp.root, &mut twin, &mut metadata);
    for component in &pnp.components {
        let Some(name) = &component.name else {
            continue;
        };
        let mut fields = Map::new();
        let mut component_metadata = Map::new();
        write_component(component, &mut fields, &mut component_metadata);
        fields.insert("$metadata".into(), Value::Object(component_metadata));
        twin.insert(name.clone(), Value::Object(fields));
    }
    twin.insert("$metadata".into(), Value::Object(metadata));
    Value::Object(twin)
}

/// Writes a component's property values into `fields` and their metadata into
/// `metadata`.
fn write_component(
    component: &ComponentState,
    fields: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
) {
    for property in &component.properties {
        if let Some(value) = &property.reported {
            fields.insert(property.name.clone(), value.clone());
        }
        metadata.insert(property.name.clone(), property_metadata(property));
    }
}

/// `desiredValue`, `desiredVersion`, `ackVersion`, `ackCode`, `ackDescription` and
/// `lastUpdateTime`, in that order, each when known.
fn property_metadata(property: &PropertyState) -> Value {
    let mut metadata = Map::new();
    if let Some(desired) = &property.desired {
        metadata.insert("desiredValue".into(), desired.clone());
        if let Some(version) = property.desired_version {
            metadata.insert("desiredVersion".into(), version.into());
        }
    }
    if let Some(ack) = &property.acknowledgement {
        if let Some(version) = ack.version {
            metadata.insert("ackVersion".into(), version.into());
        }
        if let Some(code) = ack.code {
            metadata.insert("ackCode".into(), code.into());
        }
        if let Some(description) = &ack.description {
            metadata.insert("ackDescription".into(), description.clone().into());
        }
    }
    if let Some(time) = &property.last_update_time {
        metadata.insert("lastUpdateTime".into(), time.clone().into());
    }
    Value::Object(metadata)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::twin::plug_and_play::view::tests::controller_twin;
    use serde_json::json;

    #[test]
    fn the_digital_twin_has_azures_shape() {
        let pnp = PlugAndPlayTwin::from_twin(&controller_twin());
        let digital = to_digital_twin("controller", &pnp);
        assert_eq!(
            digital,
            json!({
                "$dtId": "controller",
                "serialNumber": "SN-1",
                "fanSpeed": 1,
                "thermostat1": {
                    "maxTempSinceLastReboot": 25.3,
                    "targetTemperature": 21.4,
                    "$metadata": {
                        "maxTempSinceLastReboot": {"lastUpdateTime": "2026-12-01T09:00:00.0000000Z"},
                        "targetTemperature": {
                            "desiredValue": 21.4,
                            "desiredVersion": 4,
                            "ackVersion": 4,
                            "ackCode": 200,
                            "ackDescription": "Successfully executed patch",
                            "lastUpdateTime": "2026-12-01T10:00:03.0000000Z"
                        }
                    }
                },
                "$metadata": {
                    "$model": "dtmi:com:example:TemperatureController;2",
                    "serialNumber": {"lastUpdateTime": "2026-12-01T09:00:00.0000000Z"},
                    "fanSpeed": {
                        "desiredValue": 2,
                        "desiredVersion": 5,
                        "ackVersion": 3,
                        "ackCode": 200,
                        "lastUpdateTime": "2026-12-01T09:30:00.0000000Z"
                    }
                }
            })
        );
        let keys: Vec<&String> = digital["$metadata"]["fanSpeed"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            keys,
            [
                "desiredValue",
                "desiredVersion",
                "ackVersion",
                "ackCode",
                "lastUpdateTime"
            ]
        );
        assert_eq!(
            digital.as_object().unwrap().keys().next_back().unwrap(),
            "$metadata"
        );
    }

    #[test]
    fn a_device_without_model_or_properties_has_an_empty_metadata() {
        let digital = to_digital_twin(
            "plain",
            &PlugAndPlayTwin::from_twin(&json!({"modelId": ""})),
        );
        assert_eq!(digital, json!({"$dtId": "plain", "$metadata": {}}));
    }

    #[test]
    fn a_desired_only_property_appears_in_metadata_only() {
        let twin = json!({"properties": {
            "desired": {"thermostat2": {"__t": "c", "targetTemperature": 19}, "$version": 2},
            "reported": {}
        }});
        let digital = to_digital_twin("d", &PlugAndPlayTwin::from_twin(&twin));
        assert_eq!(
            digital["thermostat2"],
            json!({"$metadata": {"targetTemperature": {"desiredValue": 19, "desiredVersion": 2}}})
        );
    }
}
