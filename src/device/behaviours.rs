//! What a simulated device does on its own: acknowledge desired properties, answer direct
//! methods from a table, and send telemetry on a schedule. Each behaviour is plain data that
//! a [`DeviceCommand`](super::DeviceCommand) can replace while the device runs; the pure
//! decisions (the reported patch that acknowledges a desired patch, the reply a method gets)
//! live here, without I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::twin::plug_and_play::{COMPONENT_MARKER, is_component};

use super::template::{TelemetryTemplate, TemplateError};

/// Everything a device does without being told, switchable at run time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Behaviours {
    /// How desired-property patches are acknowledged in reported properties.
    pub desired_ack: DesiredAck,
    /// How direct methods are answered.
    pub methods: MethodTable,
    /// Telemetry to send periodically, if any.
    pub telemetry: Option<TelemetrySchedule>,
    /// What the device does with cloud-to-device messages.
    pub cloud_messages: CloudMessageHandling,
}

/// What a device does with a cloud-to-device message. Over MQTT a device cannot reject
/// or abandon one: it completes it by acknowledging (PUBACK), or leaves it unacknowledged,
/// and then the hub sends it again on the device's next connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloudMessageHandling {
    /// Acknowledge every message at once, completing it.
    #[default]
    Complete,
    /// Never acknowledge: the message stays in the device's queue for its next connection.
    Ignore,
}

impl CloudMessageHandling {
    /// Both choices, for pickers.
    pub const ALL: [Self; 2] = [Self::Complete, Self::Ignore];

    /// A short name for pickers and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Complete => "Complete",
            Self::Ignore => "Ignore (no PUBACK)",
        }
    }
}

/// How a device acknowledges a desired-property patch, so that an operator sees in the
/// twin's reported section that the device took the change.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum DesiredAck {
    /// Desired patches are received and reported as events, nothing is written back.
    Off,
    /// Each desired patch is copied verbatim into reported (without its `$version`).
    #[default]
    Copy,
    /// Each property is reported in the IoT Plug and Play writable-property envelope
    /// `{"value": .., "ac": 200, "av": <desired $version>, "ad": description}`.
    ///
    /// Components (root objects marked `"__t": "c"`, or named as known components) are
    /// not properties: each property inside one is acknowledged inside it, and the
    /// reported component keeps the marker, as IoT Plug and Play devices do. Other root
    /// objects are object-valued properties, acknowledged whole in one envelope.
    PlugAndPlay {
        /// The `ad` text of every acknowledgement.
        description: String,
    },
}

/// The names of the components at the root of a twin section or patch.
pub(super) fn component_names(section: &Value) -> impl Iterator<Item = &str> {
    section
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, value)| is_component(value))
        .map(|(name, _)| name.as_str())
}

impl DesiredAck {
    /// The reported patch acknowledging `patch` (a desired patch or section) at desired
    /// `version`, or `None` when nothing is to be written. `$`-prefixed keys (`$version`,
    /// `$metadata`) are never copied: IoT Hub refuses them in reported patches. A removed
    /// property (`null`) is removed from reported too, without an envelope.
    ///
    /// `known_components` names the device's components that a patch may not mark (a
    /// service can leave the marker out), so that Plug and Play acknowledges their
    /// properties inside them. A component set to `null` is acknowledged with nothing:
    /// acknowledgements are per property, the component holds the device's own reported
    /// properties too, and a device cannot lose a component of its model, so its reported
    /// component stays as it is.
    pub fn acknowledgement(
        &self,
        patch: &Value,
        version: u64,
        known_components: &BTreeSet<String>,
    ) -> Option<Value> {
        let properties = without_system_keys(patch)?;
        let reported = match self {
            Self::Off => return None,
            Self::Copy => properties,
            Self::PlugAndPlay { description } => {
                let envelope = |value: Value| match value {
                    Value::Null => Value::Null,
                    value => json!({
                        "value": value,
                        "ac": 200,
                        "av": version,
                        "ad": description,
                    }),
                };
                let mut reported = Map::new();
                for (name, value) in properties {
                    let component = is_component(&value) || known_components.contains(&name);
                    match value {
                        Value::Object(fields) if component => {
                            let mut acknowledged = Map::new();
                            for (field, value) in fields {
                                if field != COMPONENT_MARKER.0 {
                                    acknowledged.insert(field, envelope(value));
                                }
                            }
                            if !acknowledged.is_empty() {
                                let mut marked = Map::new();
                                marked.insert(COMPONENT_MARKER.0.into(), COMPONENT_MARKER.1.into());
                                marked.extend(acknowledged);
                                reported.insert(name, Value::Object(marked));
                            }
                        }
                        Value::Null if component => {}
                        value => {
                            reported.insert(name, envelope(value));
                        }
                    }
                }
                reported
            }
        };
        (!reported.is_empty()).then_some(Value::Object(reported))
    }
}

/// The object `value` without `$`-prefixed keys at any depth; `None` when it is no object.
fn without_system_keys(value: &Value) -> Option<Map<String, Value>> {
    let object = value.as_object()?;
    Some(
        object
            .iter()
            .filter(|(name, _)| !name.starts_with('$'))
            .map(|(name, value)| {
                let cleaned = match without_system_keys(value) {
                    Some(inner) => Value::Object(inner),
                    None => value.clone(),
                };
                (name.clone(), cleaned)
            })
            .collect(),
    )
}

/// The answer a device gives to one direct method.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodReply {
    /// The status the caller sees (any integer; 200 by convention for success).
    pub status: i64,
    /// The JSON payload the caller sees.
    pub payload: Value,
    /// How long the device "works" before answering, to exercise the caller's timeout.
    pub delay: Duration,
}

impl MethodReply {
    /// An immediate answer.
    pub fn new(status: i64, payload: Value) -> Self {
        Self {
            status,
            payload,
            delay: Duration::ZERO,
        }
    }

    /// The same answer after `delay`.
    pub fn after(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }
}

/// How a device answers direct methods: a reply per method name, and one for the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodTable {
    /// Replies by exact (case-sensitive) method name.
    pub methods: BTreeMap<String, MethodReply>,
    /// The reply to any method not in `methods`.
    pub default: MethodReply,
}

impl MethodTable {
    /// The reply `name` gets.
    pub fn reply(&self, name: &str) -> &MethodReply {
        self.methods.get(name).unwrap_or(&self.default)
    }

    /// The table with `name` answered by `reply`.
    pub fn with(mut self, name: impl Into<String>, reply: MethodReply) -> Self {
        self.methods.insert(name.into(), reply);
        self
    }
}

/// No methods known; every call gets 404 with a message naming the method table, which is
/// what a real device without a handler for the method would answer by convention.
impl Default for MethodTable {
    fn default() -> Self {
        Self {
            methods: BTreeMap::new(),
            default: MethodReply::new(
                404,
                json!({"message": "the simulated device has no reply for this method; add one to its method table"}),
            ),
        }
    }
}

/// Telemetry a device sends every `interval`.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySchedule {
    /// The message body template.
    pub template: TelemetryTemplate,
    /// Time between messages; at least [`MIN_TELEMETRY_INTERVAL`].
    pub interval: Duration,
}

/// The shortest telemetry interval a device accepts, so that a typo cannot flood a hub
/// (IoT Hub throttles far below this on small tiers anyway).
pub const MIN_TELEMETRY_INTERVAL: Duration = Duration::from_millis(10);

/// Why a telemetry schedule cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// The body template does not parse.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The interval is not a number of seconds, or shorter than [`MIN_TELEMETRY_INTERVAL`].
    #[error(
        "{seconds} s is not a usable telemetry interval: give at least {} s",
        MIN_TELEMETRY_INTERVAL.as_secs_f64()
    )]
    Interval {
        /// The interval given.
        seconds: f64,
    },
}

impl TelemetrySchedule {
    /// The schedule of a template text sent every `seconds`; the command line and the
    /// explorer both build schedules here, with the same rules.
    pub fn new(template: &str, seconds: f64) -> Result<Self, ScheduleError> {
        let template = TelemetryTemplate::parse(template)?;
        let interval = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|interval| *interval >= MIN_TELEMETRY_INTERVAL)
            .ok_or(ScheduleError::Interval { seconds })?;
        Ok(Self { template, interval })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn pnp() -> DesiredAck {
        DesiredAck::PlugAndPlay {
            description: "done".into(),
        }
    }

    #[test]
    fn copy_drops_system_keys_and_keeps_nulls() {
        let patch = json!({"$version": 4, "fan": {"speed": 3, "$metadata": {}}, "old": null});
        assert_eq!(
            DesiredAck::Copy.acknowledgement(&patch, 4, &none()),
            Some(json!({"fan": {"speed": 3}, "old": null}))
        );
    }

    #[test]
    fn plug_and_play_wraps_each_root_property() {
        assert_eq!(
            pnp().acknowledgement(
                &json!({"$version": 7, "target": 21.5, "gone": null, "fan": {"speed": 3}}),
                7,
                &none()
            ),
            Some(json!({
                "target": {"value": 21.5, "ac": 200, "av": 7, "ad": "done"},
                "gone": null,
                "fan": {"value": {"speed": 3}, "ac": 200, "av": 7, "ad": "done"}
            }))
        );
    }

    #[test]
    fn plug_and_play_acknowledges_component_properties_inside_the_component() {
        let patch = json!({"thermostat1": {"__t": "c", "targetTemperature": 21.4}, "$version": 5});
        assert_eq!(
            pnp().acknowledgement(&patch, 5, &none()),
            Some(json!({"thermostat1": {
                "__t": "c",
                "targetTemperature": {"value": 21.4, "ac": 200, "av": 5, "ad": "done"}
            }}))
        );
    }

    #[test]
    fn plug_and_play_handles_root_properties_and_components_together() {
        let patch = json!({
            "$version": 9,
            "targetTemperature": 20,
            "thermostat1": {"__t": "c", "targetTemperature": 21.4, "old": null, "$metadata": {}},
            "thermostat2": {"targetTemperature": 19},
            "settings": {"mode": "eco"},
            "gone": null
        });
        let known = BTreeSet::from(["thermostat2".to_owned()]);
        let envelope = |value: Value| json!({"value": value, "ac": 200, "av": 9, "ad": "done"});
        assert_eq!(
            pnp().acknowledgement(&patch, 9, &known),
            Some(json!({
                "targetTemperature": envelope(json!(20)),
                "thermostat1": {"__t": "c", "targetTemperature": envelope(json!(21.4)), "old": null},
                "thermostat2": {"__t": "c", "targetTemperature": envelope(json!(19))},
                "settings": envelope(json!({"mode": "eco"})),
                "gone": null
            }))
        );
    }

    #[test]
    fn a_removed_or_empty_component_is_acknowledged_with_nothing() {
        let known = BTreeSet::from(["thermostat1".to_owned()]);
        assert_eq!(
            pnp().acknowledgement(&json!({"$version": 3, "thermostat1": null}), 3, &known),
            None
        );
        assert_eq!(
            pnp().acknowledgement(&json!({"thermostat1": {"__t": "c"}}), 3, &none()),
            None
        );
        assert_eq!(
            pnp().acknowledgement(&json!({"thermostat1": null, "a": 1}), 3, &known),
            Some(json!({"a": {"value": 1, "ac": 200, "av": 3, "ad": "done"}}))
        );
        // Not known as a component: an ordinary property, removed.
        assert_eq!(
            pnp().acknowledgement(&json!({"thermostat1": null}), 3, &none()),
            Some(json!({"thermostat1": null}))
        );
    }

    #[test]
    fn a_full_desired_section_is_acknowledged_like_a_patch() {
        let section = json!({
            "thermostat1": {"__t": "c", "targetTemperature": 21.4},
            "interval": 5,
            "$metadata": {"$lastUpdated": "2024-01-01T00:00:00Z"},
            "$version": 4
        });
        assert_eq!(
            pnp().acknowledgement(&section, 4, &none()),
            Some(json!({
                "thermostat1": {"__t": "c", "targetTemperature": {"value": 21.4, "ac": 200, "av": 4, "ad": "done"}},
                "interval": {"value": 5, "ac": 200, "av": 4, "ad": "done"}
            }))
        );
    }

    #[test]
    fn components_are_found_by_their_marker() {
        let section = json!({"a": {"__t": "c"}, "b": {"__t": "x"}, "c": 1, "d": {"e": 1}});
        assert_eq!(component_names(&section).collect::<Vec<_>>(), ["a"]);
        assert_eq!(component_names(&json!(1)).count(), 0);
    }

    #[test]
    fn nothing_is_written_when_off_or_empty() {
        let patch = json!({"$version": 2, "a": 1});
        assert_eq!(DesiredAck::Off.acknowledgement(&patch, 2, &none()), None);
        assert_eq!(
            DesiredAck::Copy.acknowledgement(&json!({"$version": 2}), 2, &none()),
            None
        );
        assert_eq!(
            DesiredAck::Copy.acknowledgement(&json!([1]), 2, &none()),
            None
        );
    }

    #[test]
    fn a_component_command_is_answered_by_its_own_reply() {
        let table = MethodTable::default()
            .with(
                "getMaxMinReport",
                MethodReply::new(200, json!({"root": true})),
            )
            .with(
                "thermostat1*getMaxMinReport",
                MethodReply::new(200, json!({"maxTemp": 25.1})),
            );
        assert_eq!(
            table.reply("thermostat1*getMaxMinReport").payload,
            json!({"maxTemp": 25.1})
        );
        assert_eq!(
            table.reply("getMaxMinReport").payload,
            json!({"root": true})
        );
        assert_eq!(table.reply("thermostat2*getMaxMinReport").status, 404);
    }

    #[test]
    fn methods_fall_back_to_the_default() {
        let table = MethodTable::default().with(
            "reboot",
            MethodReply::new(200, json!({"ok": true})).after(Duration::from_secs(1)),
        );
        assert_eq!(table.reply("reboot").status, 200);
        assert_eq!(table.reply("reboot").delay, Duration::from_secs(1));
        assert_eq!(table.reply("Reboot").status, 404);
        assert_eq!(table.reply("other").delay, Duration::ZERO);
    }

    #[test]
    fn schedules_take_a_template_and_at_least_the_shortest_interval() {
        let schedule = TelemetrySchedule::new(r#"{"n": {{counter}}}"#, 0.5).unwrap();
        assert_eq!(schedule.interval, Duration::from_millis(500));
        for seconds in [0.0, 0.001, -1.0, f64::NAN, f64::INFINITY] {
            let error = TelemetrySchedule::new("{}", seconds).unwrap_err();
            assert!(matches!(error, ScheduleError::Interval { .. }), "{seconds}");
        }
        assert!(matches!(
            TelemetrySchedule::new("{{nope}}", 5.0),
            Err(ScheduleError::Template(_))
        ));
    }
}
