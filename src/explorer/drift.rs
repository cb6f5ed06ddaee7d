//! Drift: the desired properties a device has not (yet) taken. Every desired leaf whose
//! reported value at the same path is missing or different is listed; a reported value
//! in the IoT Plug and Play envelope (`{"value": .., "ac": ..}`) counts as taken when
//! its `value` matches.

use serde_json::Value;

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
pub fn drift(twin: &Value) -> Vec<DriftEntry> {
    let mut entries = Vec::new();
    if let Some(desired) = twin.pointer("/properties/desired") {
        let reported = twin.pointer("/properties/reported");
        walk(desired, reported, "", &mut entries);
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
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_missing_and_different_leaves_only() {
        let twin = json!({"properties": {
            "desired": {"a": 1, "b": {"c": "x", "d": true}, "e": [1], "$version": 4, "$metadata": {}},
            "reported": {"a": 1, "b": {"c": "y"}, "e": [1], "$version": 2}
        }});
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
        let twin = json!({"properties": {
            "desired": {"speed": 3, "mode": "eco"},
            "reported": {"speed": {"value": 3, "ac": 200, "av": 2}, "mode": {"value": "fast", "ac": 200}}
        }});
        let entries = drift(&twin);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "mode");
    }

    #[test]
    fn no_desired_means_no_drift() {
        assert!(drift(&json!({"properties": {"desired": {"$version": 1}}})).is_empty());
        assert!(drift(&json!({})).is_empty());
    }
}
