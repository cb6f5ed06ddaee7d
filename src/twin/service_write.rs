//! Service-side twin writes: `PATCH /twins/{id}` (merge tags and desired) and
//! `PUT /twins/{id}` (replace them). Every part of a request is validated and computed
//! first, then committed at once, so a refused request changes nothing.
//!
//! Bodies are twin-shaped. Read-only top-level keys (`deviceId`, `etag`, `version`,
//! `status`, ...) are ignored, and so are `$metadata`/`$version` at the root of
//! `properties.desired`, because SDKs send back the twin they fetched (the C# SDK's
//! `UpdateTwinAsync` E2E test patches a whole fetched twin; its `Twin` type always
//! serializes `properties.reported`, often as `{}`). For the same reason a PATCH refuses
//! `properties.reported` only when it carries actual properties, and a PUT ignores it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::document::{DesiredChange, Twin};
use super::error::{TwinError, ValidationRule};
use super::limits::{Section, check_section_growth, validate_section_body};
use super::merge::merge_members;
use super::path::JsonPath;

const SYSTEM_MEMBERS: [&str; 2] = ["$metadata", "$version"];

impl Twin {
    /// Merges the `tags` and `properties.desired` of a service PATCH body.
    ///
    /// One accepted request is one `version` bump, whatever it touches; the desired
    /// `$version` moves only when the body names at least one desired property, and
    /// then the device is owed the returned [`DesiredChange`] (the desired patch as sent,
    /// plus `$version`). A body that names no tags and no desired property changes
    /// nothing and returns `Ok(None)`.
    pub fn apply_service_patch(
        &mut self,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<DesiredChange>, TwinError> {
        let request = ServiceBody::read(body)?;
        request.refuse_reported_properties()?;
        let tags_patch = request.tags.filter(|patch| !patch.is_empty());
        let desired_patch = request.desired.filter(|patch| !patch.is_empty());
        if let Some(patch) = tags_patch {
            validate_section_body(Section::Tags, patch)?;
        }
        if let Some(patch) = &desired_patch {
            validate_section_body(Section::Desired, patch)?;
        }
        let tags = tags_patch
            .map(|patch| tags_after(self.tags(), self.tags().clone(), patch))
            .transpose()?;
        let desired = desired_patch
            .as_ref()
            .map(|patch| self.desired.patched(Section::Desired, patch, now))
            .transpose()?;
        if tags.is_none() && desired.is_none() {
            return Ok(None);
        }
        let version = self.next_version()?;
        if tags.is_some() {
            self.tags = tags;
        }
        let change = desired.zip(desired_patch).map(|(section, patch)| {
            self.desired = section;
            desired_change(patch, self.desired.version())
        });
        self.set_version(version);
        Ok(change)
    }

    /// Replaces tags and desired properties with those of a service PUT body; a section
    /// the body leaves out is replaced by an empty one.
    ///
    /// Always one `version` bump and one desired `$version` bump, and the device is owed
    /// a notification listing every desired property of the new document plus `null`
    /// for each top-level property that is gone.
    pub fn apply_service_replace(
        &mut self,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<DesiredChange>, TwinError> {
        let request = ServiceBody::read(body)?;
        let no_tags = Map::new();
        let tags_document = request.tags.unwrap_or(&no_tags);
        let desired_document = request.desired.unwrap_or_default();
        validate_section_body(Section::Tags, tags_document)?;
        validate_section_body(Section::Desired, &desired_document)?;
        let tags = tags_after(self.tags(), Map::new(), tags_document)?;
        let desired = self
            .desired
            .replaced(Section::Desired, &desired_document, now)?;
        let version = self.next_version()?;
        let mut notification = desired.members().clone();
        for removed in self
            .desired()
            .keys()
            .filter(|key| !desired.members().contains_key(*key))
        {
            notification.insert(removed.clone(), Value::Null);
        }
        self.tags = Some(tags);
        self.desired = desired;
        self.set_version(version);
        Ok(Some(desired_change(notification, self.desired.version())))
    }
}

/// The parts of a service body a write may use.
struct ServiceBody<'a> {
    tags: Option<&'a Map<String, Value>>,
    /// `properties.desired` without its root `$metadata`/`$version`.
    desired: Option<Map<String, Value>>,
    reported: Option<&'a Map<String, Value>>,
}

impl<'a> ServiceBody<'a> {
    fn read(body: &'a Value) -> Result<Self, TwinError> {
        let Value::Object(fields) = body else {
            return Err(not_an_object(JsonPath::root()));
        };
        let properties_path = JsonPath::from_keys(["properties"]);
        let properties = object_member(fields, "properties", &properties_path)?;
        let property_section = |key: &str| match properties {
            Some(properties) => object_member(properties, key, &properties_path.child(key)),
            None => Ok(None),
        };
        let desired = property_section("desired")?.map(|desired| {
            desired
                .iter()
                .filter(|(key, _)| !SYSTEM_MEMBERS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        });
        Ok(Self {
            tags: object_member(fields, "tags", &Section::Tags.path())?,
            desired,
            reported: property_section("reported")?,
        })
    }

    /// Reported properties belong to the device; only an echo of system members is let through.
    fn refuse_reported_properties(&self) -> Result<(), TwinError> {
        let written = self
            .reported
            .into_iter()
            .flatten()
            .find(|(key, _)| !SYSTEM_MEMBERS.contains(&key.as_str()));
        match written {
            Some((key, _)) => Err(TwinError::Invalid {
                path: Section::Reported.path().child(key),
                rule: ValidationRule::ReportedNotWritable,
            }),
            None => Ok(()),
        }
    }
}

/// A member that must be an object when present; `null` counts as absent.
fn object_member<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
    path: &JsonPath,
) -> Result<Option<&'a Map<String, Value>>, TwinError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(members)) => Ok(Some(members)),
        Some(_) => Err(not_an_object(path.clone())),
    }
}

fn not_an_object(path: JsonPath) -> TwinError {
    TwinError::Invalid {
        path,
        rule: ValidationRule::NotAnObject,
    }
}

/// Tags after merging `patch` into `start` (the current tags, or nothing for a
/// replace), refused if they would outgrow their limit compared with `current`.
fn tags_after(
    current: &Map<String, Value>,
    start: Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Map<String, Value>, TwinError> {
    let mut tags = start;
    merge_members(&mut tags, patch);
    check_section_growth(Section::Tags, current, &tags)?;
    Ok(tags)
}

fn desired_change(mut notification: Map<String, Value>, version: u64) -> DesiredChange {
    notification.insert("$version".to_owned(), version.into());
    DesiredChange {
        version,
        notification: Value::Object(notification),
    }
}

#[cfg(test)]
#[path = "service_write_tests.rs"]
mod tests;
