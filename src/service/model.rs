//! The documents the service API exchanges, as Azure IoT Hub writes them: device
//! identities, twins and direct-method results; and the telemetry the local hub keeps,
//! which it serves on a route of its own.
//!
//! Every field a hub may leave out is optional, and fields this client does not model are
//! kept in `other` and written back unchanged, so an identity read from Azure (with
//! `deviceScope`, `parentScopes`, ...) survives an update made through this client.
//! Keys never appear in `Debug` output.

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A device identity, as `GET /devices/{id}` returns it and `PUT /devices/{id}` takes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// The device id (case-sensitive).
    pub device_id: String,
    /// Changes when a device is deleted and created again with the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
    /// Changes on every identity update; send it back to update only what was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Connected` or `Disconnected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why the status was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When the connection state last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state_updated_time: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_updated_time: Option<String>,
    /// When the device last connected or sent something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<String>,
    /// Cloud-to-device messages waiting for the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_message_count: Option<u64>,
    /// How the device proves who it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<DeviceAuthentication>,
    /// What the device is (e.g. an IoT Edge device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<DeviceCapabilities>,
    /// Fields this client does not model, kept as they came.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A module identity, as `GET /devices/{id}/modules/{mid}` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    /// The module id, unique within its device.
    pub module_id: String,
    /// The device the module belongs to.
    pub device_id: String,
    /// Who manages the module (`IotEdge` for modules an IoT Edge runtime deploys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Changes when a module is deleted and created again with the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
    /// Changes on every identity update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Connected` or `Disconnected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<String>,
    /// When the module last connected or sent something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_time: Option<String>,
    /// How the module proves who it is (its own keys, not its device's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<DeviceAuthentication>,
    /// Fields this client does not model, kept as they came.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A device's credentials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAuthentication {
    /// `sas`, `selfSigned`, `certificateAuthority` or `none`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The keys of a `sas` device (left empty on create, the hub generates them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symmetric_key: Option<SymmetricKeys>,
    /// The certificate thumbprints of a `selfSigned` device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_thumbprint: Option<X509Thumbprints>,
}

/// A device's two shared access keys (base64). `Debug` hides them.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymmetricKeys {
    /// The primary key.
    #[serde(default)]
    pub primary_key: Option<String>,
    /// The secondary key.
    #[serde(default)]
    pub secondary_key: Option<String>,
}

impl fmt::Debug for SymmetricKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mask = |key: &Option<String>| key.as_ref().map(|_| "***");
        f.debug_struct("SymmetricKeys")
            .field("primary_key", &mask(&self.primary_key))
            .field("secondary_key", &mask(&self.secondary_key))
            .finish()
    }
}

/// Certificate thumbprints of a `selfSigned` device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509Thumbprints {
    /// The primary certificate's thumbprint.
    #[serde(default)]
    pub primary_thumbprint: Option<String>,
    /// The secondary certificate's thumbprint.
    #[serde(default)]
    pub secondary_thumbprint: Option<String>,
}

/// Device capabilities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCapabilities {
    /// Whether the device is an IoT Edge device.
    #[serde(default)]
    pub iot_edge: bool,
}

/// What to create a device with; everything left `None` gets the hub's default (enabled,
/// SAS authentication with generated keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDevice {
    /// `enabled` (the default) or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why the status is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Credentials; keys left empty are generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<DeviceAuthentication>,
    /// Capabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<DeviceCapabilities>,
}

/// A device twin as the service sees it: identity fields, tags and both property sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTwin {
    /// The device id.
    pub device_id: String,
    /// Set on module twins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_id: Option<String>,
    /// Changes on every change of tags or desired properties; send it back in `If-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The twin's version, growing with every change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `enabled` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `Connected` or `Disconnected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state: Option<String>,
    /// The service's own notes about the device (absent until some are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Map<String, Value>>,
    /// Desired and reported properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<TwinProperties>,
    /// Every other field (`deviceEtag`, `lastActivityTime`, `modelId`, ...), as it came.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl DeviceTwin {
    /// The twin as the service API writes it (camelCase JSON), for views that show or
    /// edit the document itself.
    pub fn to_json(&self) -> Value {
        // Strings, numbers and JSON values under string keys: serializing cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The two property sections, each with its `$version` and `$metadata` inside.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TwinProperties {
    /// Written by the service, read by the device.
    #[serde(default)]
    pub desired: Map<String, Value>,
    /// Written by the device, read by the service.
    #[serde(default)]
    pub reported: Map<String, Value>,
}

/// A device's answer to a direct method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    /// The status the device chose (e.g. 200).
    pub status: i64,
    /// What the device sent back (null when nothing).
    #[serde(default)]
    pub payload: Value,
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The rows: twins for `SELECT *`, projections or aggregates otherwise.
    pub rows: Vec<Value>,
    /// The hub's `x-ms-item-type` (e.g. `twin`, `json`), when it said.
    pub item_type: Option<String>,
    /// The token for the next page; `None` on the last page.
    pub continuation: Option<String>,
}

/// One telemetry message as the local hub received it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryMessage {
    /// When the hub received it (ISO-8601 UTC).
    pub received_at: String,
    /// System and application properties from the topic's property bag.
    pub properties: Vec<(String, String)>,
    /// The body as text when it is UTF-8.
    pub body: Option<String>,
    /// The body in base64 when it is not UTF-8.
    pub body_base64: Option<String>,
}

/// One message of the local hub's live telemetry stream (`GET /twinlens/telemetry/stream`,
/// server-sent events named `telemetry`): the message and who sent it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryEvent {
    /// The sending device.
    pub device_id: String,
    /// The sending module, when a module sent it.
    #[serde(default)]
    pub module_id: Option<String>,
    /// The message.
    #[serde(flatten)]
    pub message: TelemetryMessage,
}

impl TelemetryEvent {
    /// The sender's registry key: the device id, or `{deviceId}/{moduleId}` for a module.
    pub fn sender_key(&self) -> String {
        match &self.module_id {
            Some(module_id) => crate::twin::key::module_key(&self.device_id, module_id),
            None => self.device_id.clone(),
        }
    }
}

/// What `GET /twinlens/devices/{id}/telemetry` (a route of the local hub only) returns: how
/// many messages the device sent since the hub started, and the most recent ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTelemetry {
    /// Messages received since the hub started.
    pub count: u64,
    /// Messages no longer kept (or never kept) to stay within the memory limits.
    #[serde(default)]
    pub dropped: u64,
    /// The most recent messages, oldest first.
    pub messages: VecDeque<TelemetryMessage>,
}

/// A job as the hub reports it (the service API's JobResponse).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The job's id.
    pub job_id: String,
    /// `scheduleUpdateTwin` or `scheduleDeviceMethod`.
    #[serde(rename = "type", default)]
    pub job_type: String,
    /// `queued`, `scheduled`, `running`, `completed`, `failed` or `cancelled`.
    #[serde(default)]
    pub status: String,
    /// The WHERE part of the query that chose its devices, or `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_condition: Option<String>,
    /// When the hub accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// When it starts (or started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// How long it may run once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_execution_time_in_seconds: Option<u64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A note on how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// How far it got over its devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_job_statistics: Option<DeviceJobStatistics>,
    /// A twin-update job's patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_twin: Option<Value>,
    /// A method job's call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_method: Option<Value>,
}

impl Job {
    /// Whether the job has ended (completed, failed or cancelled).
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

/// Counts of a job's devices by how far the job got on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceJobStatistics {
    /// Devices the job chose.
    pub device_count: u64,
    /// Devices it failed on (or that it cancelled).
    pub failed_count: u64,
    /// Devices it is done with.
    pub succeeded_count: u64,
    /// Devices it is working on.
    pub running_count: u64,
    /// Devices it has not tried yet.
    pub pending_count: u64,
}

/// What a job did on one device (a row of `SELECT * FROM devices.jobs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceJobResult {
    /// The device.
    pub device_id: String,
    /// The job.
    #[serde(default)]
    pub job_id: String,
    /// `pending`, `running`, `completed`, `failed` or `canceled`.
    #[serde(default)]
    pub status: String,
    /// When the job started on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_utc: Option<String>,
    /// When it finished on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_utc: Option<String>,
    /// `{"deviceMethodResponse": {"status", "payload"}}` for a method the device answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Value>,
    /// Why it failed on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeviceJobError>,
}

impl DeviceJobResult {
    /// A method job's answer from the device, when it answered.
    pub fn method_response(&self) -> Option<MethodResult> {
        let response = self.outcome.as_ref()?.get("deviceMethodResponse")?;
        serde_json::from_value(response.clone()).ok()
    }
}

/// Why a job failed on one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceJobError {
    /// Azure's error code name, e.g. `DeviceNotOnline`.
    #[serde(default)]
    pub code: String,
    /// What happened.
    #[serde(default)]
    pub description: String,
}
