//! Simulated IoT Hub devices: a device client that speaks IoT Hub's device MQTT protocol
//! (packets by rumqttc's codec, the client side of the connection our own) to Azure IoT
//! Hub or to the local hub alike, and behaves like a cooperative device (acknowledges
//! desired properties, answers direct methods, sends telemetry).
//!
//! It uses the shared [`topics`](crate::topics) vocabulary for every topic and
//! [`auth`](crate::auth) for its SAS tokens, so it cannot drift from the hub. It never
//! touches the UI: drivers talk to it through a [`DeviceHandle`].
//!
//! # Layout
//! - [`SimulatedDevice::spawn`] (`runner`): the device task, its reconnect loop with
//!   [`Backoff`] (the crate's `backoff`), and token renewal (a reconnect with a fresh token).
//! - `connection`: one MQTT connection: subscribe, twin GET, and every message exchanged,
//!   over a `link` (the MQTT client side: packet ids, acknowledgements, keep-alive).
//! - [`DeviceHandle`], [`DeviceCommand`], [`DeviceEvent`] (`handle`): the bounded channels.
//! - [`Behaviours`] (`behaviours`): desired acknowledgement, method table, telemetry schedule.
//! - [`TelemetryTemplate`] (`template`): the `{{placeholder}}` syntax of telemetry bodies.
//! - [`Endpoint`], [`TlsMode`] (`transport`): where to dial and what to trust.
//! - [`ModelId`] (`model_id`): the IoT Plug and Play model id a device announces.
//! - [`run_headless`] (`headless`) and `registration`: `twinlens simulate`.

mod behaviours;
mod connection;
mod handle;
mod headless;
mod link;
mod method_table_json;
mod model_id;
mod registration;
mod runner;
mod template;
mod transport;

use std::time::Duration;

pub use crate::backoff::Backoff;
pub use behaviours::{
    Behaviours, CloudMessageHandling, DesiredAck, MIN_TELEMETRY_INTERVAL, MethodReply, MethodTable,
    ScheduleError, TelemetrySchedule,
};
pub use handle::{
    COMMAND_CAPACITY, DeviceCommand, DeviceCommandError, DeviceEvent, DeviceHandle, EVENT_CAPACITY,
    describe_cloud_message,
};
pub use headless::{FleetError, HeadlessOptions, device_ids, run_headless};
pub use method_table_json::{
    DEFAULT_METHOD_KEY, MethodTableError, method_table_to_json, parse_method_table,
};
pub use model_id::{ModelId, ModelIdError};
pub use registration::{RegistrationError, host_without_port};
pub use runner::SimulatedDevice;
pub use template::{Expansion, TelemetryTemplate, TemplateError};
pub use transport::{Endpoint, IOT_HUB_MQTT_PORT, TlsMode, TransportError};

use crate::auth::DeviceConnectionString;

/// How long a device's SAS tokens live by default (the Python device SDK's default).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Everything a simulated device needs to run.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// The device's identity and key.
    pub connection: DeviceConnectionString,
    /// Where to dial.
    pub endpoint: Endpoint,
    /// What the device does on its own from the start.
    pub behaviours: Behaviours,
    /// How long each SAS token lives; the device reconnects with a new one when 85% of it
    /// has passed, as the C# device SDK renews (whole seconds, at least one).
    pub token_lifetime: Duration,
    /// How long to wait between reconnect attempts.
    pub reconnect: Backoff,
    /// The IoT Plug and Play model the device announces in its CONNECT username
    /// (`model-id`); the hub shows it as the twin's `modelId`.
    pub model_id: Option<ModelId>,
}

impl DeviceConfig {
    /// A device dialling `endpoint`, with default behaviours, token lifetime and backoff,
    /// announcing no model.
    pub fn new(connection: DeviceConnectionString, endpoint: Endpoint) -> Self {
        Self {
            connection,
            endpoint,
            behaviours: Behaviours::default(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            reconnect: Backoff::default(),
            model_id: None,
        }
    }

    /// A device for Azure IoT Hub: its gateway or hub host, port 8883, public TLS roots.
    pub fn azure(connection: DeviceConnectionString) -> Self {
        let endpoint = Endpoint::azure(&connection);
        Self::new(connection, endpoint)
    }
}
