//! The `$metadata` tree of desired and reported properties: when (and, for desired, at
//! which `$version`) each object and leaf was last written, root included.
//!
//! Follows the "Device twin metadata" example of Azure's device twin guide: a write
//! stamps every member it touches and every object on the way down to them, root
//! included, while untouched siblings keep their old stamps; a deleted member loses its
//! metadata, and its parent is stamped ("kept at every level ... to preserve updates
//! that remove object keys").

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::TwinError;
use super::path::JsonPath;
use super::timestamp::{format_timestamp, parse_timestamp};

const LAST_UPDATED: &str = "$lastUpdated";
const LAST_UPDATED_VERSION: &str = "$lastUpdatedVersion";

/// The stamp one write leaves on everything it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// When the write happened.
    pub at: DateTime<Utc>,
    /// The section `$version` the write produced; `None` for reported properties,
    /// whose metadata carries no `$lastUpdatedVersion`.
    pub version: Option<u64>,
}

/// Metadata of one object or leaf; children mirror the members of an object value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetadataNode {
    last_updated: DateTime<Utc>,
    last_updated_version: Option<u64>,
    /// Other `$` entries a real hub may write (e.g. `$lastUpdatedBy` from automatic
    /// device management), kept verbatim until the node is written again.
    other_entries: Map<String, Value>,
    children: BTreeMap<String, MetadataNode>,
}

impl MetadataNode {
    /// A node for something written by `stamp` that has no members yet.
    pub fn new(stamp: Stamp) -> Self {
        Self {
            last_updated: stamp.at,
            last_updated_version: stamp.version,
            other_entries: Map::new(),
            children: BTreeMap::new(),
        }
    }

    /// Records a merge `patch` whose result is `after`: stamps this node, every member
    /// the patch names and every object on the way to them; forgets deleted members.
    pub fn record_patch(
        &mut self,
        patch: &Map<String, Value>,
        after: &Map<String, Value>,
        stamp: Stamp,
    ) {
        self.last_updated = stamp.at;
        self.last_updated_version = stamp.version;
        self.other_entries.clear();
        for (key, patch_value) in patch {
            match (patch_value, after.get(key)) {
                (Value::Null, _) | (_, None) => {
                    self.children.remove(key);
                }
                (Value::Object(inner_patch), Some(Value::Object(inner_after))) => self
                    .children
                    .entry(key.clone())
                    .or_insert_with(|| MetadataNode::new(stamp))
                    .record_patch(inner_patch, inner_after, stamp),
                _ => {
                    self.children.insert(key.clone(), MetadataNode::new(stamp));
                }
            }
        }
    }

    /// The `$metadata` JSON for this node, whose value has `members` when it is an
    /// object. Children are written in the members' order.
    pub fn to_json(&self, members: Option<&Map<String, Value>>) -> Value {
        let mut out = Map::new();
        out.insert(
            LAST_UPDATED.to_owned(),
            format_timestamp(self.last_updated).into(),
        );
        if let Some(version) = self.last_updated_version {
            out.insert(LAST_UPDATED_VERSION.to_owned(), version.into());
        }
        out.extend(self.other_entries.clone());
        for (key, member) in members.into_iter().flatten() {
            if let Some(child) = self.children.get(key) {
                out.insert(key.clone(), child.to_json(member.as_object()));
            }
        }
        Value::Object(out)
    }

    /// Reads a `$metadata` tree back for a value with `members`. Entries for members
    /// that do not exist are dropped; members without entries simply have none.
    pub fn from_json(
        metadata: &Value,
        members: Option<&Map<String, Value>>,
        path: &JsonPath,
    ) -> Result<Self, TwinError> {
        let Value::Object(entries) = metadata else {
            return Err(malformed(path.clone(), "a $metadata object"));
        };
        let last_updated = entries
            .get(LAST_UPDATED)
            .and_then(Value::as_str)
            .and_then(parse_timestamp)
            .ok_or_else(|| malformed(path.child(LAST_UPDATED), "an ISO-8601 UTC timestamp"))?;
        let last_updated_version = entries
            .get(LAST_UPDATED_VERSION)
            .map(|version| {
                version.as_u64().ok_or_else(|| {
                    malformed(path.child(LAST_UPDATED_VERSION), "an unsigned integer")
                })
            })
            .transpose()?;
        let mut node = Self {
            last_updated,
            last_updated_version,
            other_entries: Map::new(),
            children: BTreeMap::new(),
        };
        for (key, entry) in entries {
            if key == LAST_UPDATED || key == LAST_UPDATED_VERSION {
                continue;
            }
            if key.starts_with('$') {
                node.other_entries.insert(key.clone(), entry.clone());
            } else if let Some(member) = members.and_then(|members| members.get(key)) {
                let child = Self::from_json(entry, member.as_object(), &path.child(key))?;
                node.children.insert(key.clone(), child);
            }
        }
        Ok(node)
    }
}

fn malformed(path: JsonPath, expected: &'static str) -> TwinError {
    TwinError::MalformedDocument { path, expected }
}

/// Drops every `$metadata` member, recursively: the service view of a twin as people
/// read it, with `$version` kept.
pub fn strip_metadata(value: &mut Value) {
    if let Value::Object(members) = value {
        members.shift_remove("$metadata");
        for member in members.values_mut() {
            strip_metadata(member);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn stripping_metadata_keeps_versions_and_values() {
        let mut twin = serde_json::json!({
            "tags": {"a": 1},
            "properties": {"desired": {"x": {"y": 1, "$metadata": {}}, "$metadata": {}, "$version": 2}}
        });
        super::strip_metadata(&mut twin);
        assert_eq!(
            twin,
            serde_json::json!({"tags": {"a": 1}, "properties": {"desired": {"x": {"y": 1}, "$version": 2}}})
        );
    }

    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn stamp(day: u32, version: Option<u64>) -> Stamp {
        Stamp {
            at: Utc.with_ymd_and_hms(2016, 3, day, 16, 24, 48).unwrap(),
            version,
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    /// Applies `patch` to `document` and records it, like a section write does.
    fn write(node: &mut MetadataNode, document: &mut Value, patch: Value, stamp: Stamp) {
        crate::twin::merge::merge_patch(document, &patch);
        node.record_patch(&object(patch), document.as_object().unwrap(), stamp);
    }

    #[test]
    fn guide_example_touches_path_but_not_siblings() {
        let mut node = MetadataNode::new(stamp(1, None));
        let mut document = json!({});
        let telemetry = json!({"telemetryConfig": {"sendFrequency": "5m", "status": "success"}});
        write(&mut node, &mut document, telemetry, stamp(30, None));
        write(
            &mut node,
            &mut document,
            json!({"batteryLevel": "55%"}),
            stamp(31, None),
        );
        let t30 = "2016-03-30T16:24:48.0000000Z";
        let t31 = "2016-03-31T16:24:48.0000000Z";
        assert_eq!(
            node.to_json(document.as_object()),
            json!({
                "$lastUpdated": t31,
                "telemetryConfig": {
                    "$lastUpdated": t30,
                    "sendFrequency": {"$lastUpdated": t30},
                    "status": {"$lastUpdated": t30}
                },
                "batteryLevel": {"$lastUpdated": t31}
            })
        );
    }

    #[test]
    fn nested_write_stamps_ancestors_only() {
        let mut node = MetadataNode::new(stamp(1, Some(1)));
        let mut document = json!({});
        write(
            &mut node,
            &mut document,
            json!({"a": {"b": 1, "c": 2}, "d": 3}),
            stamp(2, Some(2)),
        );
        write(
            &mut node,
            &mut document,
            json!({"a": {"b": 5}}),
            stamp(3, Some(3)),
        );
        let metadata = node.to_json(document.as_object());
        assert_eq!(metadata["$lastUpdatedVersion"], json!(3));
        assert_eq!(metadata["a"]["$lastUpdatedVersion"], json!(3));
        assert_eq!(metadata["a"]["b"]["$lastUpdatedVersion"], json!(3));
        assert_eq!(metadata["a"]["c"]["$lastUpdatedVersion"], json!(2));
        assert_eq!(metadata["d"]["$lastUpdatedVersion"], json!(2));
        assert_eq!(
            metadata["a"]["b"]["$lastUpdated"],
            json!("2016-03-03T16:24:48.0000000Z")
        );
    }

    #[test]
    fn deleted_members_lose_metadata_and_stamp_parent() {
        let mut node = MetadataNode::new(stamp(1, Some(1)));
        let mut document = json!({});
        write(
            &mut node,
            &mut document,
            json!({"a": {"b": 1, "c": 2}}),
            stamp(2, Some(2)),
        );
        write(
            &mut node,
            &mut document,
            json!({"a": {"b": null}}),
            stamp(3, Some(3)),
        );
        let metadata = node.to_json(document.as_object());
        assert_eq!(metadata["a"].get("b"), None);
        assert_eq!(metadata["a"]["$lastUpdatedVersion"], json!(3));
        assert_eq!(metadata["a"]["c"]["$lastUpdatedVersion"], json!(2));
    }

    #[test]
    fn replacing_an_object_by_a_leaf_drops_its_children() {
        let mut node = MetadataNode::new(stamp(1, None));
        let mut document = json!({});
        write(
            &mut node,
            &mut document,
            json!({"a": {"b": 1}}),
            stamp(2, None),
        );
        write(&mut node, &mut document, json!({"a": 7}), stamp(3, None));
        write(
            &mut node,
            &mut document,
            json!({"a": {"z": 1}}),
            stamp(4, None),
        );
        let metadata = node.to_json(document.as_object());
        assert_eq!(metadata["a"].get("b"), None);
        assert_eq!(
            metadata["a"]["z"]["$lastUpdated"],
            json!("2016-03-04T16:24:48.0000000Z")
        );
    }

    #[test]
    fn empty_object_from_null_patch_gets_metadata() {
        let mut node = MetadataNode::new(stamp(1, None));
        let mut document = json!({});
        write(
            &mut node,
            &mut document,
            json!({"p1": {"p2": null}}),
            stamp(2, None),
        );
        let metadata = node.to_json(document.as_object());
        assert_eq!(
            metadata["p1"],
            json!({"$lastUpdated": "2016-03-02T16:24:48.0000000Z"})
        );
    }

    #[test]
    fn json_round_trip_keeps_unknown_system_entries() {
        let document = json!({"a": {"b": [1, 2]}});
        let metadata = json!({
            "$lastUpdated": "2018-12-20T20:37:20.3275207Z",
            "$lastUpdatedVersion": 2,
            "$lastUpdatedBy": "config",
            "a": {"$lastUpdated": "2018-12-20T20:37:20.3275207Z", "b": {"$lastUpdated": "2018-12-20T20:37:20.3275207Z"}},
            "orphan": {"$lastUpdated": "2018-12-20T20:37:20.3275207Z"}
        });
        let node =
            MetadataNode::from_json(&metadata, document.as_object(), &JsonPath::root()).unwrap();
        let mut expected = metadata.clone();
        expected.as_object_mut().unwrap().remove("orphan");
        assert_eq!(node.to_json(document.as_object()), expected);
    }

    #[test]
    fn from_json_rejects_bad_stamps() {
        let bad = [
            (json!([]), ""),
            (json!({}), "$lastUpdated"),
            (json!({"$lastUpdated": "soon"}), "$lastUpdated"),
            (
                json!({"$lastUpdated": "2018-12-20T20:37:20Z", "$lastUpdatedVersion": -1}),
                "$lastUpdatedVersion",
            ),
        ];
        for (metadata, path) in bad {
            let error = MetadataNode::from_json(&metadata, None, &JsonPath::root()).unwrap_err();
            assert_eq!(error.path().unwrap().to_string(), path, "{metadata}");
        }
    }
}
