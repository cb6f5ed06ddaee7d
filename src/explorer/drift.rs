//! Drift: the desired properties a device has not (yet) taken. Every desired leaf whose
//! reported value at the same path is missing or different is listed; a reported value
//! in the IoT Plug and Play envelope (`{"value": .., "ac": ..}`) counts as taken when
//! its `value` matches.

use serde_json::Value;

use crate::service::DeviceTwin;

/// One desired property out of step with reported.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftEntry {
    /// The path below `properties.desired` / `properties.reported` (`fan.speed`).
    pub path: String,
    /// What was asked.
    pub desired: Value,
    /// What the device reports, if anything.
    pub reported: Option<Value>,
}

/// Every desired leaf of `twin` whose reported counterpart is missing or differs.
pub fn drift(twin: &DeviceTwin) -> Vec<DriftEntry> {
    let mut entries = Vec::new();
    if let Some(properties) = &twin.properties {
        let desired = Value::Object(properties.desired.clone());
        let reported = Value::Object(properties.reported.clone());
        walk(&desired, Some(&reported), "", &mut entries);
    }
    entries
}

fn walk(desired: &Value, reported: Option<&Value>, path: &str, entries: &mut Vec<DriftEntry>) {
    match desired {
        Value::Object(members) if !members.is_empty() || path.is_empty() => {
            for (key, value) in members.iter().filter(|(key, _)| !key.starts_with('$')) {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(value, reported.and_then(|r| r.get(key)), &child, entries);
            }
        }
        leaf => {
            if !is_taken(leaf, reported) {
                entries.push(DriftEntry {
                    path: path.to_owned(),
                    desired: leaf.clone(),
                    reported: reported.cloned(),
                });
            }
        }
    }
}

fn is_taken(desired: &Value, reported: Option<&Value>) -> bool {
    match reported {
        None => false,
        Some(reported) if reported == desired => true,
        Some(Value::Object(envelope)) => envelope.get("value") == Some(desired),
        Some(_) => false,
    }
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
                    reported: Some(json!("y"))
                },
                DriftEntry {
                    path: "b.d".into(),
                    desired: json!(true),
                    reported: None
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
    }

    #[test]
    fn no_desired_means_no_drift() {
        let only_version = json!({"deviceId": "d", "properties": {"desired": {"$version": 1}}});
        assert!(drift(&twin(only_version)).is_empty());
        assert!(drift(&twin(json!({"deviceId": "d"}))).is_empty());
    }
}
