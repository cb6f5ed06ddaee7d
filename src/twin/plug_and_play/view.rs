//! A twin read the IoT Plug and Play way: the default component and each named
//! component (an object marked `"__t": "c"` in desired or reported properties), and for
//! each property its reported value (unwrapped from the acknowledgement envelope), the
//! acknowledgement, the desired value and the desired version it answers.
//!
//! The twin carries no model, so the reading goes by shape alone, as IoT Hub's digital
//! twin does: an object is a component when it is marked, a reported value is an
//! acknowledgement when it is an object with `value` and `ac` or `av`, and a property is
//! writable when it has a desired value or an acknowledgement.

use serde_json::{Map, Value};

use super::{COMPONENT_MARKER, is_component};

/// One twin in Plug and Play terms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlugAndPlayTwin {
    /// The model the device announced (`modelId`), empty when none.
    pub model_id: String,
    /// The default component: properties at the root of desired and reported.
    pub root: ComponentState,
    /// The named components, in the order the twin lists them (reported first).
    pub components: Vec<ComponentState>,
}

/// The properties of one component.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComponentState {
    /// The component's name; `None` for the default component.
    pub name: Option<String>,
    /// Its properties, reported ones first in the twin's order, then desired-only ones.
    pub properties: Vec<PropertyState>,
}

/// What the twin says of one property.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PropertyState {
    /// The property's name.
    pub name: String,
    /// The value the device reported (the envelope's `value` for an acknowledgement).
    pub reported: Option<Value>,
    /// The device's acknowledgement of a desired value, when it reported one.
    pub acknowledgement: Option<Acknowledgement>,
    /// The desired value the service set.
    pub desired: Option<Value>,
    /// The desired `$version` that last wrote the desired value.
    pub desired_version: Option<u64>,
    /// When the device last reported the property (IoT Hub's timestamp text).
    pub last_update_time: Option<String>,
}

/// A writable property's acknowledgement (`ac`, `av`, `ad`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Acknowledgement {
    /// `ac`: an HTTP-like status (200 accepted, 202 in progress, 203 the device's own
    /// value, 4xx/5xx refused or failed).
    pub code: Option<i64>,
    /// `av`: the desired `$version` acknowledged.
    pub version: Option<u64>,
    /// `ad`: the device's description.
    pub description: Option<String>,
}

/// How a property stands between what the service wants and what the device said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// Reported only: the device's own (read-only) property.
    ReadOnly,
    /// A desired value the device has not acknowledged (no acknowledgement, or one of
    /// an older desired version).
    Waiting,
    /// A desired value the device reports back as it is, without an acknowledgement (a
    /// device that does not follow the Plug and Play conventions).
    Reflected,
    /// The device acknowledged the current desired version with this code.
    Current(i64),
    /// The device acknowledged without a desired value to answer (e.g. `ac` 203, its
    /// own default).
    WithoutDesired,
}

impl PlugAndPlayTwin {
    /// Reads a twin in the service shape (`modelId`, `properties.desired` and
    /// `properties.reported` with their `$metadata`).
    pub fn from_twin(twin: &Value) -> Self {
        let model_id = twin
            .get("modelId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let section = |name: &str| {
            twin.pointer(&format!("/properties/{name}"))
                .and_then(Value::as_object)
        };
        let empty = Map::new();
        let desired = section("desired").unwrap_or(&empty);
        let reported = section("reported").unwrap_or(&empty);
        let desired_version = desired.get("$version").and_then(Value::as_u64);
        let mut root = ComponentState::default();
        let mut components = Vec::new();
        for name in property_names(reported, desired) {
            let reported_value = reported.get(name);
            let desired_value = desired.get(name);
            if reported_value.is_some_and(is_component) || desired_value.is_some_and(is_component) {
                let sides = Sides {
                    reported: reported_value.and_then(Value::as_object).unwrap_or(&empty),
                    reported_metadata: metadata_of(reported, &[name]),
                    desired: desired_value.and_then(Value::as_object).unwrap_or(&empty),
                    desired_metadata: metadata_of(desired, &[name]),
                    desired_version,
                };
                components.push(ComponentState {
                    name: Some(name.to_owned()),
                    properties: sides.properties(),
                });
            } else {
                let sides = Sides {
                    reported,
                    reported_metadata: metadata_of(reported, &[]),
                    desired,
                    desired_metadata: metadata_of(desired, &[]),
                    desired_version,
                };
                root.properties.push(sides.property(name));
            }
        }
        Self {
            model_id,
            root,
            components,
        }
    }

    /// The default component, then the named ones.
    pub fn all_components(&self) -> impl Iterator<Item = &ComponentState> {
        std::iter::once(&self.root).chain(&self.components)
    }

    /// The component called `name` (`None`: the default one).
    pub fn component(&self, name: Option<&str>) -> Option<&ComponentState> {
        self.all_components()
            .find(|component| component.name.as_deref() == name)
    }
}

impl ComponentState {
    /// The property called `name`.
    pub fn property(&self, name: &str) -> Option<&PropertyState> {
        self.properties
            .iter()
            .find(|property| property.name == name)
    }
}

impl PropertyState {
    /// Whether the property is writable as far as the twin shows: it has a desired value
    /// or the device acknowledged one.
    pub fn is_writable(&self) -> bool {
        self.desired.is_some() || self.acknowledgement.is_some()
    }

    /// Whether the acknowledgement answers the current desired version.
    pub fn ack_is_current(&self) -> bool {
        match (&self.acknowledgement, self.desired_version) {
            (Some(ack), Some(version)) => ack.version == Some(version),
            _ => false,
        }
    }

    /// How the property stands.
    pub fn status(&self) -> AckStatus {
        match (&self.desired, &self.acknowledgement) {
            (None, None) => AckStatus::ReadOnly,
            (None, Some(_)) => AckStatus::WithoutDesired,
            (Some(_), Some(ack)) if self.ack_is_current() => {
                ack.code.map_or(AckStatus::Waiting, AckStatus::Current)
            }
            (Some(desired), None) if self.reported.as_ref() == Some(desired) => {
                AckStatus::Reflected
            }
            (Some(_), _) => AckStatus::Waiting,
        }
    }
}

/// The names of a section pair's properties: reported first in their order, then the
/// desired-only ones; `$`-keys and the component marker are not properties.
fn property_names<'a>(
    reported: &'a Map<String, Value>,
    desired: &'a Map<String, Value>,
) -> Vec<&'a str> {
    let is_property =
        |name: &&String| !name.starts_with('$') && name.as_str() != COMPONENT_MARKER.0;
    let mut names: Vec<&str> = reported
        .keys()
        .filter(is_property)
        .map(String::as_str)
        .collect();
    names.extend(
        desired
            .keys()
            .filter(is_property)
            .filter(|name| !reported.contains_key(name.as_str()))
            .map(String::as_str),
    );
    names
}

/// The `$metadata` node of a section at `path` (empty: the section's root).
fn metadata_of<'a>(section: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(section.get("$metadata")?, |node, name| node.get(name))
}

/// One component's (or the root's) desired and reported objects with their metadata.
struct Sides<'a> {
    reported: &'a Map<String, Value>,
    reported_metadata: Option<&'a Value>,
    desired: &'a Map<String, Value>,
    desired_metadata: Option<&'a Value>,
    desired_version: Option<u64>,
}

impl Sides<'_> {
    fn properties(&self) -> Vec<PropertyState> {
        property_names(self.reported, self.desired)
            .into_iter()
            .map(|name| self.property(name))
            .collect()
    }

    fn property(&self, name: &str) -> PropertyState {
        let (reported, acknowledgement) = match self.reported.get(name) {
            Some(value) => match acknowledgement_of(value) {
                Some((value, ack)) => (Some(value), Some(ack)),
                None => (Some(value.clone()), None),
            },
            None => (None, None),
        };
        let desired = self.desired.get(name).cloned();
        let desired_version = desired.as_ref().and_then(|_| {
            self.desired_metadata
                .and_then(|metadata| metadata.get(name))
                .and_then(|node| node.get("$lastUpdatedVersion"))
                .and_then(Value::as_u64)
                .or(self.desired_version)
        });
        let last_update_time = reported.as_ref().and_then(|_| {
            self.reported_metadata
                .and_then(|metadata| metadata.get(name))
                .and_then(|node| node.get("$lastUpdated"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        PropertyState {
            name: name.to_owned(),
            reported,
            acknowledgement,
            desired,
            desired_version,
            last_update_time,
        }
    }
}

/// The `value` of a reported acknowledgement envelope `{"value", "ac", "av", "ad"}` (an
/// object with `value` and `ac` or `av`); `None` for any other value.
pub fn acknowledged_value(reported: &Value) -> Option<&Value> {
    let object = reported.as_object()?;
    let inner = object.get("value")?;
    (object.contains_key("ac") || object.contains_key("av")).then_some(inner)
}

/// The value and acknowledgement of a reported envelope; `None` for any other value.
fn acknowledgement_of(value: &Value) -> Option<(Value, Acknowledgement)> {
    let inner = acknowledged_value(value)?;
    let object = value.as_object()?;
    let ack = Acknowledgement {
        code: object.get("ac").and_then(Value::as_i64),
        version: object.get("av").and_then(Value::as_u64),
        description: object.get("ad").and_then(Value::as_str).map(str::to_owned),
    };
    Some((inner.clone(), ack))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A TemperatureController twin as IoT Hub keeps it after a component patch the
    /// device acknowledged, one root patch it did not, and read-only reports.
    pub(crate) fn controller_twin() -> Value {
        json!({
            "deviceId": "controller",
            "modelId": "dtmi:com:example:TemperatureController;2",
            "properties": {
                "desired": {
                    "thermostat1": {"__t": "c", "targetTemperature": 21.4},
                    "fanSpeed": 2,
                    "$metadata": {
                        "$lastUpdated": "2026-12-01T10:00:02.0000000Z",
                        "$lastUpdatedVersion": 5,
                        "thermostat1": {
                            "$lastUpdated": "2026-12-01T10:00:01.0000000Z",
                            "$lastUpdatedVersion": 4,
                            "__t": {"$lastUpdated": "2026-12-01T10:00:01.0000000Z", "$lastUpdatedVersion": 4},
                            "targetTemperature": {"$lastUpdated": "2026-12-01T10:00:01.0000000Z", "$lastUpdatedVersion": 4}
                        },
                        "fanSpeed": {"$lastUpdated": "2026-12-01T10:00:02.0000000Z", "$lastUpdatedVersion": 5}
                    },
                    "$version": 5
                },
                "reported": {
                    "serialNumber": "SN-1",
                    "thermostat1": {
                        "__t": "c",
                        "maxTempSinceLastReboot": 25.3,
                        "targetTemperature": {"value": 21.4, "ac": 200, "av": 4, "ad": "Successfully executed patch"}
                    },
                    "fanSpeed": {"value": 1, "ac": 200, "av": 3},
                    "$metadata": {
                        "$lastUpdated": "2026-12-01T10:00:03.0000000Z",
                        "serialNumber": {"$lastUpdated": "2026-12-01T09:00:00.0000000Z"},
                        "thermostat1": {
                            "$lastUpdated": "2026-12-01T10:00:03.0000000Z",
                            "__t": {"$lastUpdated": "2026-12-01T09:00:00.0000000Z"},
                            "maxTempSinceLastReboot": {"$lastUpdated": "2026-12-01T09:00:00.0000000Z"},
                            "targetTemperature": {
                                "$lastUpdated": "2026-12-01T10:00:03.0000000Z",
                                "value": {"$lastUpdated": "2026-12-01T10:00:03.0000000Z"}
                            }
                        },
                        "fanSpeed": {"$lastUpdated": "2026-12-01T09:30:00.0000000Z"}
                    },
                    "$version": 7
                }
            }
        })
    }

    #[test]
    fn components_properties_and_acknowledgements_are_read_from_the_twin() {
        let pnp = PlugAndPlayTwin::from_twin(&controller_twin());
        assert_eq!(pnp.model_id, "dtmi:com:example:TemperatureController;2");
        let root_names: Vec<&str> = pnp
            .root
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(root_names, ["serialNumber", "fanSpeed"]);
        assert_eq!(pnp.components.len(), 1);

        let serial = pnp.root.property("serialNumber").unwrap();
        assert_eq!(serial.reported, Some(json!("SN-1")));
        assert_eq!(serial.status(), AckStatus::ReadOnly);
        assert_eq!(
            serial.last_update_time.as_deref(),
            Some("2026-12-01T09:00:00.0000000Z")
        );

        let fan = pnp.root.property("fanSpeed").unwrap();
        assert_eq!(fan.reported, Some(json!(1)));
        assert_eq!(fan.desired, Some(json!(2)));
        assert_eq!(fan.desired_version, Some(5));
        assert!(!fan.ack_is_current());
        assert_eq!(fan.status(), AckStatus::Waiting);

        let thermostat = pnp.component(Some("thermostat1")).unwrap();
        let target = thermostat.property("targetTemperature").unwrap();
        assert_eq!(target.reported, Some(json!(21.4)));
        assert_eq!(target.desired_version, Some(4));
        assert_eq!(
            target.acknowledgement,
            Some(Acknowledgement {
                code: Some(200),
                version: Some(4),
                description: Some("Successfully executed patch".into()),
            })
        );
        assert_eq!(target.status(), AckStatus::Current(200));
        assert_eq!(
            thermostat
                .property("maxTempSinceLastReboot")
                .unwrap()
                .status(),
            AckStatus::ReadOnly
        );
    }

    #[test]
    fn a_component_only_desired_is_still_a_component_and_waits_for_its_device() {
        let twin = json!({"properties": {
            "desired": {"thermostat2": {"__t": "c", "targetTemperature": 19}, "$version": 2},
            "reported": {"$version": 1}
        }});
        let pnp = PlugAndPlayTwin::from_twin(&twin);
        assert_eq!(pnp.model_id, "");
        let thermostat = pnp.component(Some("thermostat2")).unwrap();
        let target = thermostat.property("targetTemperature").unwrap();
        assert_eq!(
            target.desired_version,
            Some(2),
            "no metadata: the section's version"
        );
        assert_eq!(target.reported, None);
        assert_eq!(target.status(), AckStatus::Waiting);
    }

    #[test]
    fn an_object_with_value_but_no_ack_fields_is_a_plain_value() {
        let twin = json!({"properties": {"reported": {
            "reading": {"value": 3, "unit": "C"},
            "preset": {"value": 7, "ac": 203, "av": 0}
        }}});
        let pnp = PlugAndPlayTwin::from_twin(&twin);
        let reading = pnp.root.property("reading").unwrap();
        assert_eq!(reading.reported, Some(json!({"value": 3, "unit": "C"})));
        assert!(reading.acknowledgement.is_none());
        let twin = json!({"properties": {
            "desired": {"interval": 30, "mode": "eco", "$version": 3},
            "reported": {"interval": 30, "mode": "boost"}
        }});
        let plain = PlugAndPlayTwin::from_twin(&twin);
        assert_eq!(
            plain.root.property("interval").unwrap().status(),
            AckStatus::Reflected
        );
        assert_eq!(
            plain.root.property("mode").unwrap().status(),
            AckStatus::Waiting
        );
        let preset = pnp.root.property("preset").unwrap();
        assert_eq!(preset.status(), AckStatus::WithoutDesired);
        assert!(preset.is_writable());
    }
}
