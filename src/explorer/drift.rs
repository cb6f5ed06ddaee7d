//! Drift: the desired properties a device has not (yet) taken. Every desired leaf whose
//! reported value at the same path is missing or different is listed; a reported value
//! in the IoT Plug and Play envelope (`{"value": .., "ac": ..}`) counts as taken when
//! its `value` matches, and a component's marker (`"__t": "c"`) is never drift. Each
//! entry says how the device answered its property, when it acknowledged it, as the
//! Plug and Play reading of the twin ([`PlugAndPlayTwin`]) finds it.

use serde_json::Value;

use super::plug_and_play::{StatusChip, status_chip};
use crate::service::DeviceTwin;
use crate::twin::plug_and_play::{
    COMPONENT_MARKER, PlugAndPlayTwin, acknowledged_value, is_component,
};

/// One desired property out of step with reported.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftEntry {
    /// The path below `properties.desired` / `properties.reported` (`fan.speed`).
    pub path: String,
    /// What was asked.
    pub desired: Value,
    /// What the device reports, if anything (the envelope's `value` for a Plug and Play
    /// acknowledgement).
    pub reported: Option<Value>,
    /// How the device answered the property, when it acknowledged it (`ac`, `av`, `ad`).
    pub answer: Option<StatusChip>,
}

/// Every desired leaf of `twin` whose reported counterpart is missing or differs.
pub fn drift(twin: &DeviceTwin) -> Vec<DriftEntry> {
    let Some(properties) = &twin.properties else {
        return Vec::new();
    };
    let desired = Value::Object(properties.desired.clone());
    let reported = Value::Object(properties.reported.clone());
    let mut entries = Vec::new();
    walk(&desired, Some(&reported), "", &mut entries);
    if entries.is_empty() {
        return entries;
    }
    let plug_and_play = PlugAndPlayTwin::from_twin(&twin.to_json());
    for entry in &mut entries {
        entry.answer = answer(&plug_and_play, &entry.path);
    }
    entries
}

fn walk(desired: &Value, reported: Option<&Value>, path: &str, entries: &mut Vec<DriftEntry>) {
    if !path.is_empty() && is_taken(desired, reported) {
        return;
    }
    match desired {
        Value::Object(members) if !members.is_empty() || path.is_empty() => {
            let component = is_component(desired);
            for (key, value) in members.iter().filter(|(key, _)| {
                !(key.starts_with('$') || component && key.as_str() == COMPONENT_MARKER.0)
            }) {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(value, reported.and_then(|r| r.get(key)), &child, entries);
            }
        }
        leaf => entries.push(DriftEntry {
            path: path.to_owned(),
            desired: leaf.clone(),
            reported: reported.map(|reported| envelope_value(reported).clone()),
            answer: None,
        }),
    }
}

fn is_taken(desired: &Value, reported: Option<&Value>) -> bool {
    reported.is_some_and(|reported| reported == desired || envelope_value(reported) == desired)
}

/// The `value` of a Plug and Play envelope, or `reported` itself.
fn envelope_value(reported: &Value) -> &Value {
    acknowledged_value(reported).unwrap_or(reported)
}

/// The device's answer to the property `path` belongs to (a property of the default
/// component, or `component.property`), when it acknowledged one.
fn answer(twin: &PlugAndPlayTwin, path: &str) -> Option<StatusChip> {
    let mut segments = path.split('.');
    let first = segments.next()?;
    let property = match (twin.component(Some(first)), segments.next()) {
        (Some(component), Some(name)) => component.property(name),
        _ => twin.root.property(first),
    }?;
    property.acknowledgement.as_ref()?;
    Some(status_chip(property))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn twin(document: Value) -> DeviceTwin {
        serde_json::from_value(document).unwrap()
    }

    #[test]
    fn lists_missing_and_different_leaves_only() {
        let twin = twin(json!({"deviceId": "d", "properties": {
            "desired": {"a": 1, "b": {"c": "x", "d": true}, "e": [1], "$version": 4, "$metadata": {}},
            "reported": {"a": 1, "b": {"c": "y"}, "e": [1], "$version": 2}
        }}));
        let entries = drift(&twin);
        assert_eq!(
            entries,
            [
                DriftEntry {
                    path: "b.c".into(),
                    desired: json!("x"),
                    reported: Some(json!("y")),
                    answer: None,
                },
                DriftEntry {
                    path: "b.d".into(),
                    desired: json!(true),
                    reported: None,
                    answer: None,
                },
            ]
        );
    }

    #[test]
    fn plug_and_play_acknowledgements_count_as_taken() {
        let twin = twin(json!({"deviceId": "d", "properties": {
            "desired": {"speed": 3, "mode": "eco"},
            "reported": {"speed": {"value": 3, "ac": 200, "av": 2}, "mode": {"value": "fast", "ac": 200}}
        }}));
        let entries = drift(&twin);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "mode");
        assert_eq!(
            entries[0].reported,
            Some(json!("fast")),
            "the envelope's value"
        );
        assert_eq!(
            entries[0].answer.as_ref().map(|chip| chip.label.as_str()),
            Some("waiting for device"),
            "no av: the device has not answered the current version"
        );
    }

    #[test]
    fn acknowledged_component_properties_and_the_marker_are_not_drift() {
        let twin = twin(json!({"deviceId": "d", "properties": {
            "desired": {
                "thermostat1": {"__t": "c", "targetTemperature": 21},
                "thermostat2": {"__t": "c", "targetTemperature": 18},
                "limits": {"range": [1, 2]},
                "$version": 4
            },
            "reported": {
                "thermostat1": {"__t": "c", "targetTemperature": {"value": 21, "ac": 200, "av": 4}},
                "limits": {"value": {"range": [1, 2]}, "ac": 200, "av": 4},
                "$version": 9
            }
        }}));
        let entries = drift(&twin);
        let paths: Vec<&str> = entries.iter().map(|entry| entry.path.as_str()).collect();
        assert_eq!(
            paths,
            ["thermostat2.targetTemperature"],
            "an unreported component drifts by its properties, never by its marker"
        );
        assert_eq!(entries[0].answer, None, "never acknowledged");
    }

    #[test]
    fn a_refused_component_property_says_how_the_device_answered() {
        let twin = twin(json!({"deviceId": "d", "properties": {
            "desired": {"thermostat1": {"__t": "c", "targetTemperature": 99}, "$version": 5},
            "reported": {"thermostat1": {"__t": "c", "targetTemperature":
                {"value": 21, "ac": 400, "av": 5, "ad": "out of range"}}}
        }}));
        let entries = drift(&twin);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "thermostat1.targetTemperature");
        assert_eq!(entries[0].reported, Some(json!(21)));
        let answer = entries[0].answer.as_ref().unwrap();
        assert_eq!(answer.label, "refused (400)");
        assert!(answer.tooltip.contains("out of range"));
    }

    #[test]
    fn no_desired_means_no_drift() {
        let only_version = json!({"deviceId": "d", "properties": {"desired": {"$version": 1}}});
        assert!(drift(&twin(only_version)).is_empty());
        assert!(drift(&twin(json!({"deviceId": "d"}))).is_empty());
    }
}
