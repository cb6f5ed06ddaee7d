//! Importing a snapshot into a hub, in two steps so that people can look before anything
//! is written: [`plan_import`] (this file) reads every twin of the file and the live twin
//! of its device and computes the merge patches that make the live tags and desired
//! properties equal to the snapshot's; [`apply_import`] (`apply`) sends them, each
//! guarded by the etag read at plan time, so a twin changed in between is reported as a
//! conflict, never overwritten.
//!
//! Reported properties belong to the devices and are never written; system keys
//! (`$metadata`, `$version`) are never sent. No UI here, so that the command line and
//! the explorer's worker can share it.

mod apply;

use std::path::{Path, PathBuf};

use futures_util::{StreamExt, stream};
use serde_json::{Map, Value, json};

pub use apply::{DeviceResult, ImportOutcome, ImportReport, apply_import};

use super::compare::{Sections, compared};
use super::read::SnapshotReader;
use super::{SnapshotError, SnapshotHeader};
use crate::service::{DeviceTwin, ServiceClient, ServiceError};
use crate::twin::{Change, diff_ignoring_system_keys, merge_patch_between, without_system_keys};

/// Live twins read at the same time while planning.
const READ_CONCURRENCY: usize = 8;

/// What to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Make the tags equal to the snapshot's.
    pub tags: bool,
    /// Make the desired properties equal to the snapshot's.
    pub desired: bool,
    /// Register devices the hub does not have (otherwise they are skipped).
    pub create_missing: bool,
}

/// What the import will do to one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportAction {
    /// The hub lacks the device: register it, then write its twin.
    Create,
    /// The hub lacks the device and creating it was not asked for.
    SkipMissing,
    /// The twin differs: patch it.
    Update,
    /// The twin already matches the snapshot.
    Unchanged,
}

/// One device of an [`ImportPlan`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDevice {
    /// The twin's key: the device id, or `{deviceId}/{moduleId}` for a module's twin.
    pub device_id: String,
    /// What will be done.
    pub action: ImportAction,
    /// The merge patch of the tags (`null` deletes); empty when nothing changes.
    pub tags_patch: Map<String, Value>,
    /// The merge patch of the desired properties; empty when nothing changes.
    pub desired_patch: Map<String, Value>,
    /// The changed paths from the twin root (`tags.site`, `properties.desired.interval`).
    pub changes: Vec<Change>,
    /// The live twin's etag when it was read; `None` for a missing device.
    pub etag: Option<String>,
}

impl PlannedDevice {
    /// The body of the twin PATCH, with only the sections that change; `None` when
    /// there is nothing to send.
    pub fn patch(&self) -> Option<Value> {
        let mut body = Map::new();
        if !self.tags_patch.is_empty() {
            body.insert("tags".into(), Value::Object(self.tags_patch.clone()));
        }
        if !self.desired_patch.is_empty() {
            body.insert(
                "properties".into(),
                json!({"desired": Value::Object(self.desired_patch.clone())}),
            );
        }
        (!body.is_empty()).then_some(Value::Object(body))
    }
}

/// Everything an import would do, device by device in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportPlan {
    /// The snapshot's header.
    pub header: SnapshotHeader,
    /// What was asked for.
    pub options: ImportOptions,
    /// One entry per twin of the snapshot.
    pub devices: Vec<PlannedDevice>,
}

impl ImportPlan {
    /// How many devices each action applies to (conflicts and failures are 0).
    pub fn counts(&self) -> ImportCounts {
        let mut counts = ImportCounts::default();
        for device in &self.devices {
            *match device.action {
                ImportAction::Create => &mut counts.created,
                ImportAction::SkipMissing => &mut counts.skipped_missing,
                ImportAction::Update => &mut counts.updated,
                ImportAction::Unchanged => &mut counts.unchanged,
            } += 1;
        }
        counts
    }
}

/// Devices per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Twins patched.
    pub updated: usize,
    /// Devices registered (and their twins written).
    pub created: usize,
    /// Twins that already matched.
    pub unchanged: usize,
    /// Devices the hub lacks that were left alone.
    pub skipped_missing: usize,
    /// Twins or devices that changed in the hub after the plan was made.
    pub conflicts: usize,
    /// Devices the hub refused to write.
    pub failed: usize,
}

/// Why an import could not be planned or was stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Neither tags nor desired properties were selected.
    #[error("nothing to import: choose tags, desired properties, or both")]
    NothingSelected,
    /// The snapshot file is unreadable, damaged, or of another format version.
    #[error("{0}; nothing was written")]
    Snapshot(#[from] SnapshotError),
    /// A twin of the snapshot has tags or desired properties that are not an object.
    #[error(
        "the snapshot {path} holds {section} for device '{device_id}' that are not a JSON \
         object; fix or re-export the file; nothing was written"
    )]
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// The device.
        device_id: String,
        /// `tags` or `desired properties`.
        section: &'static str,
    },
    /// A live twin could not be read while planning.
    #[error("{0}; nothing was written")]
    Read(ServiceError),
    /// Writing stopped at a device for a reason that is not about that device (the hub
    /// is unreachable, the credentials are refused, ...).
    #[error(
        "the import stopped at device '{device_id}' after writing {written} devices: {source}; \
         run the import again when the problem is solved (devices already written then show \
         as unchanged)"
    )]
    Interrupted {
        /// The device being written.
        device_id: String,
        /// How many devices had been written before it.
        written: usize,
        /// What went wrong.
        source: ServiceError,
    },
}

/// Reads the snapshot at `path` and the live twin of each of its devices, and works out
/// what importing it with `options` would change. Writes nothing.
pub async fn plan_import(
    client: &ServiceClient,
    path: &Path,
    options: ImportOptions,
) -> Result<ImportPlan, ImportError> {
    if !options.tags && !options.desired {
        return Err(ImportError::NothingSelected);
    }
    let reader = SnapshotReader::open(path)?;
    let header = reader.header.clone();
    let lookups = stream::iter(reader)
        .map(|twin| async move {
            let twin = twin?;
            let key = crate::twin::key::of_document(&twin).unwrap_or_default();
            let live = match read_live(client, &key).await {
                Ok(live) => Some(live),
                Err(error) if is_missing(&error) => None,
                Err(error) => return Err(ImportError::Read(error)),
            };
            Ok((twin, live))
        })
        .buffered(READ_CONCURRENCY);
    futures_util::pin_mut!(lookups);
    let mut devices = Vec::new();
    while let Some(lookup) = lookups.next().await {
        let (twin, live) = lookup?;
        let planned =
            plan_device(&twin, live.as_ref(), options).map_err(|(device_id, section)| {
                ImportError::NotAnObject {
                    path: path.to_owned(),
                    device_id,
                    section,
                }
            })?;
        devices.push(planned);
    }
    Ok(ImportPlan {
        header,
        options,
        devices,
    })
}

/// Azure's error code for a device the registry does not have.
const DEVICE_NOT_FOUND: u32 = 404001;
/// Azure's code for a module that is not on its device.
const MODULE_NOT_FOUND: u32 = 404010;

/// The live twin known by `key` (a device's, or a module's).
async fn read_live(client: &ServiceClient, key: &str) -> Result<DeviceTwin, ServiceError> {
    match crate::twin::key::split(key) {
        (device_id, Some(module_id)) => client.get_module_twin(device_id, module_id).await,
        (device_id, None) => client.get_twin(device_id).await,
    }
}

/// Whether the hub lacks the device or module asked for.
fn is_missing(error: &ServiceError) -> bool {
    matches!(
        error.error_code(),
        Some(DEVICE_NOT_FOUND | MODULE_NOT_FOUND)
    )
}

/// What importing `snapshot` (one twin of a snapshot) changes on `live` (`None`: the hub
/// lacks the device). On a section that is not an object, `Err((device id, section))`.
fn plan_device(
    snapshot: &Value,
    live: Option<&DeviceTwin>,
    options: ImportOptions,
) -> Result<PlannedDevice, (String, &'static str)> {
    let device_id = crate::twin::key::of_document(snapshot).unwrap_or_default();
    let action = match (live, options.create_missing) {
        (None, false) => {
            return Ok(PlannedDevice {
                device_id,
                action: ImportAction::SkipMissing,
                tags_patch: Map::new(),
                desired_patch: Map::new(),
                changes: Vec::new(),
                etag: None,
            });
        }
        (None, true) => ImportAction::Create,
        (Some(_), _) => ImportAction::Update,
    };
    let live_view = live.map_or_else(|| json!({}), live_sections);
    let section_patch = |selected: bool, section: &'static str, pointer: &str| {
        if !selected {
            return Ok(Map::new());
        }
        let member =
            |twin: &Value| without_system_keys(twin.pointer(pointer).unwrap_or(&json!({})));
        match (member(&live_view), member(snapshot)) {
            (before @ Value::Object(_), after @ Value::Object(_)) => {
                match merge_patch_between(&before, &after) {
                    Value::Object(patch) => Ok(patch),
                    _ => Ok(Map::new()),
                }
            }
            _ => Err((device_id.clone(), section)),
        }
    };
    let tags_patch = section_patch(options.tags, "tags", "/tags")?;
    let desired_patch =
        section_patch(options.desired, "desired properties", "/properties/desired")?;
    let sections = Sections {
        tags: options.tags,
        desired: options.desired,
        reported: false,
    };
    let changes = diff_ignoring_system_keys(
        &compared(&live_view, sections),
        &compared(snapshot, sections),
    );
    let action = match action {
        ImportAction::Update if tags_patch.is_empty() && desired_patch.is_empty() => {
            ImportAction::Unchanged
        }
        action => action,
    };
    Ok(PlannedDevice {
        device_id,
        action,
        tags_patch,
        desired_patch,
        changes,
        etag: live.and_then(|twin| twin.etag.clone()),
    })
}

/// The tags and desired properties of a live twin, in the twin's JSON shape.
fn live_sections(twin: &DeviceTwin) -> Value {
    let desired = twin
        .properties
        .as_ref()
        .map(|properties| properties.desired.clone())
        .unwrap_or_default();
    json!({
        "tags": twin.tags.clone().unwrap_or_default(),
        "properties": {"desired": desired},
    })
}

#[cfg(test)]
mod tests;
