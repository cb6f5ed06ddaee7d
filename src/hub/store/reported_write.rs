//! The device's reported PATCH, the hub's most frequent write: merged into the packed
//! reported section directly (`packed::patch_reported`), with the twin model's checks
//! and the model itself for twins not in the shape it writes. Only the reported section,
//! `version` and `etag` change; the rest of the twin is copied as stored.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::packed::{NewValue, members_size, patch_reported};
use super::{PendingCommit, Store};
use crate::hub::error::HubError;
use crate::twin::limits::{Section, check_section_size};
use crate::twin::{
    TwinError, checked_reported_patch, etag_for_version, format_timestamp, patch_reported_section,
};

impl Store {
    /// Device side (MQTT): merges a reported-properties patch of a device (or a module,
    /// by its [`super::client_key`]) and returns the new reported `$version`.
    pub fn write_reported(
        &self,
        device_id: &str,
        patch: &Value,
        now: DateTime<Utc>,
    ) -> Result<(u64, PendingCommit), HubError> {
        self.with_client_record(device_id, |record| {
            let names = self.names();
            let root = record.twin.root(names);
            let section = root.member_at(&["properties", "reported"]);
            let version = root
                .member("version", false)
                .and_then(|version| version.to_value().as_u64());
            let (Some(section), Some(version)) = (section, version) else {
                // Not a twin this hub wrote: the twin model says what is wrong.
                let mut twin = record.twin_model(names)?;
                let version = twin.apply_reported_patch(patch, now)?;
                let packed = super::Packed::encode(&twin.to_json(), names);
                return Ok((version, self.replace_twin(record, device_id, packed, None)));
            };
            let members = checked_reported_patch(patch)?;
            let stamp = format_timestamp(now);
            let (new_section, reported_version) =
                match patch_reported(section, members, &stamp, names) {
                    Some(patched) => {
                        check_section_size(Section::Reported, patched.size, || {
                            members_size(section)
                        })?;
                        (NewSection::Packed(patched.section), patched.version)
                    }
                    None => {
                        let update =
                            patch_reported_section(&section.to_value(), version, patch, now)?;
                        (NewSection::Json(update.section), update.reported_version)
                    }
                };
            let version = version.checked_add(1).ok_or(TwinError::VersionExhausted)?;
            let etag = Value::from(etag_for_version(version));
            let version = Value::from(version);
            let twin = record
                .twin
                .with_replaced(
                    names,
                    &[
                        (&["version"], NewValue::Json(&version)),
                        (&["etag"], NewValue::Json(&etag)),
                        (&["properties", "reported"], new_section.as_new_value()),
                    ],
                )
                .ok_or_else(|| {
                    HubError::Server(format!("the stored twin of '{device_id}' has no etag"))
                })?;
            let pending = self.replace_twin(record, device_id, twin, None);
            Ok((reported_version, pending))
        })
    }
}

/// The reported section after a patch: packed by the fast path, or JSON from the model.
enum NewSection {
    Packed(Vec<u8>),
    Json(Value),
}

impl NewSection {
    fn as_new_value(&self) -> NewValue<'_> {
        match self {
            Self::Packed(bytes) => NewValue::Packed(bytes),
            Self::Json(value) => NewValue::Json(value),
        }
    }
}
