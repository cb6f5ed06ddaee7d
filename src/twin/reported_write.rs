//! Device-side twin writes: the reported-properties PATCH a device publishes on
//! `$iothub/twin/PATCH/properties/reported/`. The body is the reported patch itself.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::document::{Twin, etag_for_version};
use super::error::{TwinError, ValidationRule};
use super::limits::{Section, validate_section_body};
use super::section::PropertySection;

impl Twin {
    /// Merges a device's reported patch (e.g. `{"temp":21}`) and returns the new
    /// reported `$version`, which the hub echoes in its 204 response.
    ///
    /// Every accepted patch bumps the reported `$version` and the twin `version` (and so
    /// the `etag`), even an empty one. `$`-prefixed keys are refused, as IoT Hub does.
    pub fn apply_reported_patch(
        &mut self,
        patch: &Value,
        now: DateTime<Utc>,
    ) -> Result<u64, TwinError> {
        let reported = patched_reported(&self.reported, patch, now)?;
        let version = self.next_version()?;
        self.reported = reported;
        self.set_version(version);
        Ok(self.reported.version())
    }
}

/// What a reported patch changes in a twin: its reported section, its `version` and
/// its `etag`. Nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedUpdate {
    /// The new reported section in its service JSON shape (`$metadata`, `$version`).
    pub section: Value,
    /// The twin's new `version`.
    pub version: u64,
    /// The twin's new `etag`.
    pub etag: String,
    /// The new reported `$version`, echoed to the device.
    pub reported_version: u64,
}

/// Applies a device's reported patch to a twin's reported section (in its service JSON
/// shape) and twin `version` alone, exactly as [`Twin::apply_reported_patch`] changes
/// the whole twin: for a store that keeps the rest of the twin as it is.
pub fn patch_reported_section(
    section: &Value,
    twin_version: u64,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<ReportedUpdate, TwinError> {
    let current = PropertySection::from_json(section, &Section::Reported.path())?;
    let reported = patched_reported(&current, patch, now)?;
    let version = twin_version
        .checked_add(1)
        .ok_or(TwinError::VersionExhausted)?;
    Ok(ReportedUpdate {
        section: reported.to_json(),
        version,
        etag: etag_for_version(version),
        reported_version: reported.version(),
    })
}

/// The reported section after a device's patch, which is checked first.
fn patched_reported(
    current: &PropertySection,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<PropertySection, TwinError> {
    let members = checked_reported_patch(patch)?;
    current.patched(Section::Reported, members, now)
}

/// A device's reported patch as the members it merges, once it passes IoT Hub's checks:
/// an object, no `$` keys, within the depth and size limits. A store that merges
/// reported patches in its own form checks them here first, as the model does.
pub fn checked_reported_patch(patch: &Value) -> Result<&Map<String, Value>, TwinError> {
    let Value::Object(members) = patch else {
        return Err(TwinError::Invalid {
            path: Section::Reported.path(),
            rule: ValidationRule::NotAnObject,
        });
    };
    validate_section_body(Section::Reported, members)?;
    Ok(members)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 2, 3, 4, 5, second).unwrap()
    }

    fn twin() -> Twin {
        Twin::new("dev1", at(0))
    }

    #[test]
    fn a_patch_of_the_section_alone_changes_what_the_whole_twin_changes() {
        let mut twin = twin();
        twin.apply_reported_patch(&json!({"a": {"b": 1}, "c": [1]}), at(1))
            .unwrap();
        let before = twin.to_json();
        let patch = json!({"a": {"b": null, "d": "x"}, "e": 2.5});
        let update = patch_reported_section(
            &before["properties"]["reported"],
            twin.version,
            &patch,
            at(2),
        )
        .unwrap();
        let reported_version = twin.apply_reported_patch(&patch, at(2)).unwrap();
        let after = twin.to_json();
        assert_eq!(update.section, after["properties"]["reported"]);
        assert_eq!(update.version, twin.version);
        assert_eq!(update.etag, twin.etag);
        assert_eq!(update.reported_version, reported_version);
        let bad = patch_reported_section(
            &before["properties"]["reported"],
            1,
            &json!({"$x": 1}),
            at(3),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn patch_bumps_reported_version_twin_version_and_etag() {
        let mut twin = twin();
        assert_eq!(
            twin.apply_reported_patch(&json!({"temp": 21}), at(1))
                .unwrap(),
            2
        );
        assert_eq!(twin.reported(), json!({"temp": 21}).as_object().unwrap());
        assert_eq!((twin.version, twin.etag.as_str()), (2, "AAAAAAAAAAI="));
        assert_eq!(twin.desired_version(), 1);
        assert_eq!(
            twin.apply_reported_patch(&json!({"temp": null}), at(2))
                .unwrap(),
            3
        );
        assert!(twin.reported().is_empty());
        assert_eq!(twin.version, 3);
    }

    #[test]
    fn reported_metadata_is_stamped_without_versions() {
        let mut twin = twin();
        twin.apply_reported_patch(&json!({"a": {"b": 1}}), at(1))
            .unwrap();
        let metadata = &twin.to_json()["properties"]["reported"]["$metadata"];
        assert_eq!(
            metadata,
            &json!({
                "$lastUpdated": "2024-02-03T04:05:01.0000000Z",
                "a": {
                    "$lastUpdated": "2024-02-03T04:05:01.0000000Z",
                    "b": {"$lastUpdated": "2024-02-03T04:05:01.0000000Z"}
                }
            })
        );
    }

    #[test]
    fn null_for_missing_key_creates_nothing_but_nested_null_creates_object() {
        let mut twin = twin();
        twin.apply_reported_patch(&json!({"p": null}), at(1))
            .unwrap();
        assert!(twin.reported().is_empty());
        twin.apply_reported_patch(&json!({"p1": {"p2": null}}), at(2))
            .unwrap();
        assert_eq!(twin.reported(), json!({"p1": {}}).as_object().unwrap());
        twin.apply_reported_patch(&json!({"p1": {"p2": null}}), at(3))
            .unwrap();
        assert_eq!(twin.reported(), json!({"p1": {}}).as_object().unwrap());
    }

    #[test]
    fn dollar_keys_are_refused_and_nothing_is_applied() {
        let mut twin = twin();
        let before = twin.clone();
        let error = twin
            .apply_reported_patch(&json!({"ok": 1, "$bad": 123}), at(1))
            .unwrap_err();
        assert_eq!(error.rule(), Some(ValidationRule::KeyReserved));
        assert_eq!(
            error.path().unwrap().to_string(),
            "properties.reported.$bad"
        );
        assert_eq!(error.error_code(), 400_004);
        assert_eq!(twin, before);
    }

    #[test]
    fn non_object_patch_is_refused() {
        let mut twin = twin();
        let error = twin
            .apply_reported_patch(&json!([1, 2]), at(1))
            .unwrap_err();
        assert_eq!(error.rule(), Some(ValidationRule::NotAnObject));
        assert_eq!(
            error.to_string(),
            "properties.reported must be a JSON object"
        );
    }

    #[test]
    fn oversize_reported_is_refused_with_403100() {
        let mut twin = twin();
        let chunk = "x".repeat(4000);
        let patch: serde_json::Map<String, Value> =
            (0..8).map(|i| (format!("k{i}"), json!(chunk))).collect();
        twin.apply_reported_patch(&Value::Object(patch), at(1))
            .unwrap();
        let before = twin.clone();
        let error = twin
            .apply_reported_patch(&json!({"more": chunk}), at(2))
            .unwrap_err();
        assert_eq!(error.error_code(), 403_100);
        assert!(
            error
                .to_string()
                .starts_with("'Properties.Reported' size should be less than 32768")
        );
        assert_eq!(twin, before);
    }

    #[test]
    fn device_view_shows_versions_without_tags_or_metadata() {
        let mut twin = twin();
        twin.apply_service_patch(
            &json!({"tags": {"t": 1}, "properties": {"desired": {"d": 1}}}),
            at(1),
        )
        .unwrap();
        twin.apply_reported_patch(&json!({"r": 2}), at(2)).unwrap();
        assert_eq!(
            twin.device_view(),
            json!({"desired": {"d": 1, "$version": 2}, "reported": {"r": 2, "$version": 2}})
        );
    }
}
