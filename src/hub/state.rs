//! What every part of the hub shares: the registry, the access rules, direct-method
//! routing, the connected device sessions, cloud-to-device queues, telemetry, jobs and activity counts. The service
//! API and the device endpoints (MQTT, MQTT over WebSockets) each take a clone.

use std::sync::Arc;
use std::time::Duration;

use super::access::HubAuth;
use super::activity::Activity;
use super::cloud_to_device::CloudToDevice;
use super::jobs::Jobs;
use super::methods::MethodDispatcher;
use super::sessions::SessionRegistry;
use super::store::Store;
use super::telemetry::TelemetryLog;

/// The hub's shared state; clones share it.
#[derive(Clone)]
pub struct HubState {
    /// The registry.
    pub store: Store,
    /// Who may call the API.
    pub auth: Arc<HubAuth>,
    /// Direct-method routing to connected devices.
    pub methods: MethodDispatcher,
    /// Connected device sessions.
    pub sessions: SessionRegistry,
    /// Cloud-to-device messages waiting for their devices.
    pub cloud_to_device: CloudToDevice,
    /// Telemetry received from devices.
    pub telemetry: TelemetryLog,
    /// Twin-update and direct-method jobs.
    pub jobs: Jobs,
    /// Counts of what the hub did, for the periodic summary in the log.
    pub activity: Arc<Activity>,
    /// How long a client may take to send a request body.
    pub http_timeout: Duration,
}
