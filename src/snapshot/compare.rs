//! Comparing two sets of twins (two snapshots, or a snapshot and a live hub): per
//! device, which tags, desired and reported properties were added, removed or changed.
//! System keys (`$metadata`, `$version`) and bookkeeping fields (etag, version,
//! connection state) are not differences a user is after, so they are left out.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::twin::{Change, ChangeKind, diff_ignoring_system_keys};

/// Which parts of the twins to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    /// `tags`.
    pub tags: bool,
    /// `properties.desired`.
    pub desired: bool,
    /// `properties.reported`.
    pub reported: bool,
}

impl Sections {
    /// Tags, desired and reported properties.
    pub const ALL: Sections = Sections {
        tags: true,
        desired: true,
        reported: true,
    };
}

/// How one device differs.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceDifference {
    /// Only the second side has the device.
    Added,
    /// Only the first side has the device.
    Removed,
    /// Both have it, with these differences (paths from the twin root, such as
    /// `tags.site` or `properties.desired.interval`).
    Changed(Vec<Change>),
}

/// Every twin that differs, by its key (device id, or `{deviceId}/{moduleId}`).
pub type Comparison = BTreeMap<String, DeviceDifference>;

/// Compares the twins of `before` with those of `after`, matched by their key: the
/// device id, or `{deviceId}/{moduleId}` for a module's twin ([`crate::twin::key`]).
pub fn compare_twins<'a>(
    before: impl IntoIterator<Item = &'a Value>,
    after: impl IntoIterator<Item = &'a Value>,
    sections: Sections,
) -> Comparison {
    let index = |twins: &mut dyn Iterator<Item = &'a Value>| -> BTreeMap<String, &'a Value> {
        twins
            .filter_map(|twin| crate::twin::key::of_document(twin).map(|key| (key, twin)))
            .collect()
    };
    let before = index(&mut before.into_iter());
    let after = index(&mut after.into_iter());
    let mut comparison = Comparison::new();
    for (device_id, old) in &before {
        let difference = match after.get(device_id) {
            None => DeviceDifference::Removed,
            Some(new) => {
                let changes =
                    diff_ignoring_system_keys(&compared(old, sections), &compared(new, sections));
                if changes.is_empty() {
                    continue;
                }
                DeviceDifference::Changed(changes)
            }
        };
        comparison.insert(device_id.clone(), difference);
    }
    for device_id in after.keys().filter(|id| !before.contains_key(*id)) {
        comparison.insert(device_id.clone(), DeviceDifference::Added);
    }
    comparison
}

/// The parts of a twin that `sections` selects, in the twin's own shape.
pub(super) fn compared(twin: &Value, sections: Sections) -> Value {
    let mut parts = serde_json::Map::new();
    if sections.tags {
        parts.insert(
            "tags".into(),
            twin.get("tags").cloned().unwrap_or_else(|| json!({})),
        );
    }
    let mut properties = serde_json::Map::new();
    for (name, selected) in [
        ("desired", sections.desired),
        ("reported", sections.reported),
    ] {
        if selected {
            let section = twin.get("properties").and_then(|p| p.get(name)).cloned();
            properties.insert(name.into(), section.unwrap_or_else(|| json!({})));
        }
    }
    if !properties.is_empty() {
        parts.insert("properties".into(), Value::Object(properties));
    }
    Value::Object(parts)
}

/// A comparison as JSON: `{"deviceId": {"status": "added"|"removed"|"changed",
/// "changes": [{"path", "change", "before", "after"}]}}`.
pub fn comparison_to_json(comparison: &Comparison) -> Value {
    let devices = comparison
        .iter()
        .map(|(device_id, difference)| {
            let entry = match difference {
                DeviceDifference::Added => json!({"status": "added"}),
                DeviceDifference::Removed => json!({"status": "removed"}),
                DeviceDifference::Changed(changes) => json!({
                    "status": "changed",
                    "changes": changes.iter().map(change_to_json).collect::<Vec<_>>(),
                }),
            };
            (device_id.clone(), entry)
        })
        .collect();
    Value::Object(devices)
}

fn change_to_json(change: &Change) -> Value {
    let path = change.path.to_string();
    match &change.kind {
        ChangeKind::Added { value } => json!({"path": path, "change": "added", "after": value}),
        ChangeKind::Removed { value } => {
            json!({"path": path, "change": "removed", "before": value})
        }
        ChangeKind::Changed { from, to } => {
            json!({"path": path, "change": "changed", "before": from, "after": to})
        }
    }
}

/// A comparison as a table for people: one line per device and per changed path.
pub fn comparison_to_table(comparison: &Comparison) -> String {
    let mut out = String::new();
    for (device_id, difference) in comparison {
        match difference {
            DeviceDifference::Added => {
                out.push_str(&format!("+ {device_id}  (device only in the second)\n"))
            }
            DeviceDifference::Removed => {
                out.push_str(&format!("- {device_id}  (device only in the first)\n"))
            }
            DeviceDifference::Changed(changes) => {
                out.push_str(&format!("~ {device_id}\n"));
                for change in changes {
                    out.push_str(&format!("    {}\n", change_line(change)));
                }
            }
        }
    }
    out
}

/// One change for people: `+ path: value`, `- path: value` or `~ path: from -> to`.
pub fn change_line(change: &Change) -> String {
    match &change.kind {
        ChangeKind::Added { value } => format!("+ {}: {value}", change.path),
        ChangeKind::Removed { value } => format!("- {}: {value}", change.path),
        ChangeKind::Changed { from, to } => format!("~ {}: {from} -> {to}", change.path),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn twin(id: &str, tags: Value, desired: Value, reported: Value) -> Value {
        json!({"deviceId": id, "etag": "x", "version": 7, "connectionState": "Connected", "tags": tags,
               "properties": {"desired": desired, "reported": reported}})
    }

    #[test]
    fn devices_and_paths_are_compared() {
        let before = [
            twin(
                "same",
                json!({"a": 1}),
                json!({"$version": 1, "x": 1}),
                json!({}),
            ),
            twin(
                "changed",
                json!({"site": "oslo"}),
                json!({"interval": 30, "$metadata": {}}),
                json!({"fw": "1"}),
            ),
            twin("gone", json!({}), json!({}), json!({})),
        ];
        let mut same_after = twin(
            "same",
            json!({"a": 1}),
            json!({"$version": 9, "x": 1}),
            json!({}),
        );
        same_after["etag"] = json!("other");
        let after = [
            same_after,
            twin(
                "changed",
                json!({"site": "bergen", "new": true}),
                json!({"interval": 30}),
                json!({}),
            ),
            twin("new", json!({}), json!({}), json!({})),
        ];
        let comparison = compare_twins(&before, &after, Sections::ALL);
        assert_eq!(comparison.len(), 3, "{comparison:?}");
        assert_eq!(comparison["gone"], DeviceDifference::Removed);
        assert_eq!(comparison["new"], DeviceDifference::Added);
        let DeviceDifference::Changed(changes) = &comparison["changed"] else {
            panic!()
        };
        let paths: Vec<String> = changes.iter().map(|c| c.path.to_string()).collect();
        assert_eq!(paths, ["tags.site", "tags.new", "properties.reported.fw"]);

        let tags_and_desired = Sections {
            reported: false,
            ..Sections::ALL
        };
        let comparison = compare_twins(&before, &after, tags_and_desired);
        let DeviceDifference::Changed(changes) = &comparison["changed"] else {
            panic!()
        };
        assert_eq!(changes.len(), 2);

        let json = comparison_to_json(&comparison);
        assert_eq!(
            json["changed"]["changes"][0],
            json!({"path": "tags.site", "change": "changed", "before": "oslo", "after": "bergen"})
        );
        assert_eq!(json["gone"]["status"], "removed");
        let table = comparison_to_table(&comparison);
        assert!(
            table.contains("~ changed\n    ~ tags.site: \"oslo\" -> \"bergen\"\n"),
            "{table}"
        );
        assert!(table.contains("+ new"));
    }

    #[test]
    fn identical_sets_compare_empty() {
        let twins = [twin(
            "d1",
            json!({"a": {"b": 1}}),
            json!({}),
            json!({"r": [1, 2]}),
        )];
        assert!(compare_twins(&twins, &twins, Sections::ALL).is_empty());
    }
}
