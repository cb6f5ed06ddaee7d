//! One property section of a twin (desired or reported): its members, its `$metadata`
//! tree and its `$version`. Writes return a new section so the twin can check every
//! part of an operation before committing any of it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::TwinError;
use super::limits::{Section, check_section_growth};
use super::merge::merge_members;
use super::metadata::{MetadataNode, Stamp};
use super::path::JsonPath;

const METADATA: &str = "$metadata";
const VERSION: &str = "$version";

/// Desired or reported properties with their bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PropertySection {
    members: Map<String, Value>,
    metadata: MetadataNode,
    version: u64,
}

impl PropertySection {
    /// An empty section as a new twin has it: `$version` 1, root stamped `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            members: Map::new(),
            metadata: MetadataNode::new(Stamp {
                at: now,
                version: None,
            }),
            version: 1,
        }
    }

    /// The user-visible members, without `$metadata` and `$version`.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }

    /// The section's `$version`, +1 per accepted write.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// This section after merging `patch` (already validated) at `at`.
    pub fn patched(
        &self,
        section: Section,
        patch: &Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Result<Self, TwinError> {
        let mut members = self.members.clone();
        merge_members(&mut members, patch);
        check_section_growth(section, &self.members, &members)?;
        let version = self.next_version()?;
        let mut metadata = self.metadata.clone();
        metadata.record_patch(patch, &members, stamp(section, at, version));
        Ok(Self {
            members,
            metadata,
            version,
        })
    }

    /// This section with its members replaced by `document` (already validated) at `at`;
    /// `null` members of `document` are left out, and every entry is stamped anew.
    pub fn replaced(
        &self,
        section: Section,
        document: &Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Result<Self, TwinError> {
        let mut members = Map::new();
        merge_members(&mut members, document);
        check_section_growth(section, &self.members, &members)?;
        let version = self.next_version()?;
        let stamp = stamp(section, at, version);
        let mut metadata = MetadataNode::new(stamp);
        metadata.record_patch(document, &members, stamp);
        Ok(Self {
            members,
            metadata,
            version,
        })
    }

    fn next_version(&self) -> Result<u64, TwinError> {
        self.version
            .checked_add(1)
            .ok_or(TwinError::VersionExhausted)
    }

    /// The service view: members, then `$metadata`, then `$version`.
    pub fn to_json(&self) -> Value {
        let mut out = self.members.clone();
        out.insert(
            METADATA.to_owned(),
            self.metadata.to_json(Some(&self.members)),
        );
        out.insert(VERSION.to_owned(), self.version.into());
        Value::Object(out)
    }

    /// The device view: members and `$version`, no `$metadata`.
    pub fn device_json(&self) -> Value {
        let mut out = self.members.clone();
        out.insert(VERSION.to_owned(), self.version.into());
        Value::Object(out)
    }

    /// Reads back what [`to_json`](Self::to_json) wrote; `path` locates errors.
    pub fn from_json(value: &Value, path: &JsonPath) -> Result<Self, TwinError> {
        let Value::Object(entries) = value else {
            return Err(malformed(path.clone(), "an object"));
        };
        let version = entries
            .get(VERSION)
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed(path.child(VERSION), "an unsigned integer"))?;
        let members: Map<String, Value> = entries
            .iter()
            .filter(|(key, _)| !key.starts_with('$'))
            .map(|(key, member)| (key.clone(), member.clone()))
            .collect();
        let metadata_json = entries
            .get(METADATA)
            .ok_or_else(|| malformed(path.child(METADATA), "a $metadata object"))?;
        let metadata =
            MetadataNode::from_json(metadata_json, Some(&members), &path.child(METADATA))?;
        Ok(Self {
            members,
            metadata,
            version,
        })
    }
}

/// Desired metadata records the `$version` of each write; reported metadata does not.
fn stamp(section: Section, at: DateTime<Utc>, version: u64) -> Stamp {
    Stamp {
        at,
        version: (section == Section::Desired).then_some(version),
    }
}

fn malformed(path: JsonPath, expected: &'static str) -> TwinError {
    TwinError::MalformedDocument { path, expected }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::twin::error::ValidationRule;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, second).unwrap()
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn new_section_has_version_one_and_a_root_stamp() {
        assert_eq!(
            PropertySection::new(at(0)).to_json(),
            json!({"$metadata": {"$lastUpdated": "2024-05-06T07:08:00.0000000Z"}, "$version": 1})
        );
    }

    #[test]
    fn patch_bumps_version_and_stamps_desired_versions() {
        let section = PropertySection::new(at(0))
            .patched(Section::Desired, &object(json!({"a": 1})), at(1))
            .unwrap();
        assert_eq!(section.version(), 2);
        let out = section.to_json();
        assert_eq!(out["$metadata"]["$lastUpdatedVersion"], json!(2));
        assert_eq!(out["$metadata"]["a"]["$lastUpdatedVersion"], json!(2));
        assert_eq!(out["a"], json!(1));
    }

    #[test]
    fn reported_metadata_has_no_versions() {
        let section = PropertySection::new(at(0))
            .patched(Section::Reported, &object(json!({"a": {"b": 1}})), at(1))
            .unwrap();
        let out = section.to_json();
        assert_eq!(out["$metadata"].get("$lastUpdatedVersion"), None);
        assert_eq!(out["$metadata"]["a"].get("$lastUpdatedVersion"), None);
    }

    #[test]
    fn replace_drops_old_members_and_nulls() {
        let section = PropertySection::new(at(0))
            .patched(Section::Desired, &object(json!({"old": 1})), at(1))
            .unwrap()
            .replaced(
                Section::Desired,
                &object(json!({"new": {"x": 1}, "gone": null})),
                at(2),
            )
            .unwrap();
        assert_eq!(section.members(), &object(json!({"new": {"x": 1}})));
        assert_eq!(section.version(), 3);
        assert_eq!(
            section.to_json()["$metadata"]["new"]["x"]["$lastUpdatedVersion"],
            json!(3)
        );
    }

    #[test]
    fn growth_past_the_limit_is_refused() {
        let big = "x".repeat(4000);
        let patch: Map<String, Value> = (0..9).map(|i| (format!("k{i}"), json!(big))).collect();
        let error = PropertySection::new(at(0))
            .patched(Section::Reported, &patch, at(1))
            .unwrap_err();
        assert!(matches!(
            error.rule(),
            Some(ValidationRule::SectionTooLarge { limit: 32_768, .. })
        ));
    }

    #[test]
    fn device_view_has_version_but_no_metadata() {
        let section = PropertySection::new(at(0))
            .patched(Section::Reported, &object(json!({"t": 21})), at(1))
            .unwrap();
        assert_eq!(section.device_json(), json!({"t": 21, "$version": 2}));
    }

    #[test]
    fn json_round_trip_is_lossless() {
        let section = PropertySection::new(at(0))
            .patched(
                Section::Desired,
                &object(json!({"a": {"b": [1]}, "c": "s"})),
                at(1),
            )
            .unwrap()
            .patched(Section::Desired, &object(json!({"a": {"d": true}})), at(2))
            .unwrap();
        let json = section.to_json();
        let back = PropertySection::from_json(&json, &JsonPath::root()).unwrap();
        assert_eq!(back, section);
        assert_eq!(back.to_json(), json);
    }

    #[test]
    fn from_json_requires_version_and_metadata() {
        let path = JsonPath::from_keys(["properties", "desired"]);
        for (value, where_) in [
            (json!(3), "properties.desired"),
            (
                json!({"$metadata": {"$lastUpdated": "2024-05-06T07:08:00Z"}}),
                "properties.desired.$version",
            ),
            (json!({"$version": 1}), "properties.desired.$metadata"),
        ] {
            let error = PropertySection::from_json(&value, &path).unwrap_err();
            assert_eq!(error.path().unwrap().to_string(), where_);
        }
    }
}
