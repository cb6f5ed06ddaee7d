//! Carrying out an [`ImportPlan`]: registering the devices it creates and patching the
//! twins it changes with the etags read at plan time, device by device, and reporting
//! what happened to each.

use super::{ImportAction, ImportCounts, ImportError, ImportPlan, PlannedDevice};
use crate::service::{NewDevice, ServiceClient, ServiceError};
use crate::twin::key::split;

/// What happened to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The twin was patched.
    Updated,
    /// The device was registered and its twin written.
    Created,
    /// Nothing needed writing.
    Unchanged,
    /// The hub lacks the device; it was left alone.
    SkippedMissing,
    /// The twin (or device) changed in the hub after the plan was made; nothing was
    /// written to it.
    Conflict,
    /// The hub refused to write this device; the message says why.
    Failed(String),
}

/// The outcome of one device (or module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceResult {
    /// The twin's key: the device id, or `{deviceId}/{moduleId}` for a module's twin.
    pub device_id: String,
    /// What happened.
    pub outcome: ImportOutcome,
}

/// What [`apply_import`] did, device by device in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// One entry per device of the plan.
    pub results: Vec<DeviceResult>,
}

impl ImportReport {
    /// How many devices had each outcome.
    pub fn counts(&self) -> ImportCounts {
        let mut counts = ImportCounts::default();
        for result in &self.results {
            *match result.outcome {
                ImportOutcome::Updated => &mut counts.updated,
                ImportOutcome::Created => &mut counts.created,
                ImportOutcome::Unchanged => &mut counts.unchanged,
                ImportOutcome::SkippedMissing => &mut counts.skipped_missing,
                ImportOutcome::Conflict => &mut counts.conflicts,
                ImportOutcome::Failed(_) => &mut counts.failed,
            } += 1;
        }
        counts
    }
}

/// Carries out `plan`: registers the devices it creates and patches the twins it
/// changes, each only if unchanged since the plan was made. `progress` is called with
/// `(devices done, devices in the plan)` after each device. A device the hub refuses
/// (a conflict, a rejected value) is reported and the import goes on; a problem that
/// is not about one device (no connection, refused credentials) stops it.
pub async fn apply_import(
    client: &ServiceClient,
    plan: &ImportPlan,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImportReport, ImportError> {
    let total = plan.devices.len();
    let mut report = ImportReport::default();
    for device in &plan.devices {
        let outcome = apply_device(client, device).await.map_err(|source| {
            let counts = report.counts();
            ImportError::Interrupted {
                device_id: device.device_id.clone(),
                written: counts.updated + counts.created,
                source,
            }
        })?;
        report.results.push(DeviceResult {
            device_id: device.device_id.clone(),
            outcome,
        });
        progress(report.results.len(), total);
    }
    Ok(report)
}

/// Writes one device's twin (or a module's); `Err` only for problems that are not
/// about this twin.
async fn apply_device(
    client: &ServiceClient,
    device: &PlannedDevice,
) -> Result<ImportOutcome, ServiceError> {
    let key = device.device_id.as_str();
    match device.action {
        ImportAction::Unchanged => Ok(ImportOutcome::Unchanged),
        ImportAction::SkipMissing => Ok(ImportOutcome::SkippedMissing),
        ImportAction::Create => {
            let created = match split(key) {
                (device_id, Some(module_id)) => client
                    .create_module(device_id, module_id, None)
                    .await
                    .map(drop),
                (device_id, None) => client
                    .create_device(device_id, &NewDevice::default())
                    .await
                    .map(drop),
            };
            match created {
                Ok(()) => {}
                Err(error) if error.status() == Some(409) => return Ok(ImportOutcome::Conflict),
                Err(error) => return device_failure(error),
            }
            match device.patch() {
                None => Ok(ImportOutcome::Created),
                Some(patch) => match patch_twin(client, key, &patch, None).await {
                    Ok(()) => Ok(ImportOutcome::Created),
                    Err(error) => device_failure(error).map(|outcome| match outcome {
                        ImportOutcome::Failed(message) => ImportOutcome::Failed(format!(
                            "it was registered, but its twin was not written: {message}"
                        )),
                        other => other,
                    }),
                },
            }
        }
        ImportAction::Update => {
            let Some(patch) = device.patch() else {
                return Ok(ImportOutcome::Unchanged);
            };
            match patch_twin(client, key, &patch, device.etag.as_deref()).await {
                Ok(()) => Ok(ImportOutcome::Updated),
                Err(error) if error.status() == Some(412) => Ok(ImportOutcome::Conflict),
                Err(error) => device_failure(error),
            }
        }
    }
}

/// Patches the twin known by `key` (a device's, or a module's).
async fn patch_twin(
    client: &ServiceClient,
    key: &str,
    patch: &serde_json::Value,
    etag: Option<&str>,
) -> Result<(), ServiceError> {
    match split(key) {
        (device_id, Some(module_id)) => client
            .patch_module_twin(device_id, module_id, patch, etag)
            .await
            .map(drop),
        (device_id, None) => client.patch_twin(device_id, patch, etag).await.map(drop),
    }
}

/// A refusal about this device (a rejected value, a device deleted meanwhile) becomes
/// its outcome; anything else stops the import.
fn device_failure(error: ServiceError) -> Result<ImportOutcome, ServiceError> {
    match error.status() {
        Some(400 | 404 | 409 | 412 | 413) => Ok(ImportOutcome::Failed(error.to_string())),
        _ => Err(error),
    }
}
