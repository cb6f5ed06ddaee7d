//! The two bounded channels between a running simulated device and whoever drives it (the
//! explorer's worker, the headless command, a test): [`DeviceCommand`]s in, [`DeviceEvent`]s
//! out. Commands can be sent with `try_send` from a UI thread that must never block.
//!
//! Both channels carry boxes: a tokio channel allocates its first block of 32 slots when it
//! is made, which for [`DeviceEvent`] (176 bytes) and [`DeviceCommand`] (120 bytes) by
//! value came to about 9.5 KB a device, mostly never used, in a fleet of thousands.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::behaviours::{CloudMessageHandling, DesiredAck, MethodTable, TelemetrySchedule};
use crate::topics::MessageProperty;

/// How many commands may wait for the device before `try_send` reports it full.
pub const COMMAND_CAPACITY: usize = 32;
/// How many events may wait for the driver; a device whose events are not drained pauses.
pub const EVENT_CAPACITY: usize = 256;

/// What a driver can tell a running device.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceCommand {
    /// Switch how desired patches are acknowledged.
    SetDesiredAck(DesiredAck),
    /// Send this reported patch (as edited by the user).
    ReportPatch(Value),
    /// Replace the direct-method table.
    SetMethods(MethodTable),
    /// Start telemetry, or change its template or interval.
    StartTelemetry(TelemetrySchedule),
    /// Stop telemetry.
    StopTelemetry,
    /// Read the twin again (a twin GET), emitting [`DeviceEvent::TwinReceived`].
    RefreshTwin,
    /// Complete or ignore cloud-to-device messages from now on.
    SetCloudMessageHandling(CloudMessageHandling),
    /// Disconnect cleanly and end the device.
    Shutdown,
}

/// What a running device reports.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceEvent {
    /// The hub accepted the connection (CONNACK).
    Connected,
    /// A connection ended or an attempt failed, and why.
    Disconnected {
        /// What happened, for the log.
        reason: String,
    },
    /// The device will try to connect again after `delay`.
    Reconnecting {
        /// Consecutive failed attempts so far (1 after the first failure).
        attempt: u32,
        /// How long it waits first.
        delay: Duration,
    },
    /// The twin as the device sees it (`{desired, reported}`), after every connect and
    /// every [`DeviceCommand::RefreshTwin`].
    TwinReceived(Value),
    /// The hub pushed a desired-property patch.
    DesiredReceived {
        /// The desired section's `$version` after the change.
        version: u64,
        /// The patch as pushed (with its `$version`).
        patch: Value,
    },
    /// The hub accepted a reported patch.
    ReportedSent {
        /// The patch that was sent.
        patch: Value,
        /// The reported section's new `$version`, when the hub said.
        version: Option<u64>,
    },
    /// The hub refused a reported patch, or it could not be sent.
    ReportedFailed {
        /// The hub's status (0 when the patch never reached the hub).
        status: u16,
        /// The hub's error body, or why it was not sent.
        message: String,
    },
    /// A direct method was answered from the method table.
    MethodInvoked {
        /// The method name.
        name: String,
        /// The payload the caller sent.
        payload: Value,
        /// The status answered.
        status: i64,
        /// The payload answered.
        response: Value,
    },
    /// A cloud-to-device message arrived.
    CloudMessageReceived {
        /// Its properties as the topic carried them (`$.mid`, `$.to`, application ones...).
        properties: Vec<MessageProperty>,
        /// Its payload.
        body: Vec<u8>,
        /// Whether the device completed it (acknowledged it) or left it for later.
        completed: bool,
    },
    /// A telemetry message was handed to the MQTT client for sending.
    TelemetrySent {
        /// The expanded body.
        body: String,
    },
    /// Something went wrong that is not a disconnect (a command refused, a bad message).
    Error(String),
}

/// A cloud-to-device message in one line, for logs: its body (as text when it is
/// UTF-8) and its properties.
pub fn describe_cloud_message(properties: &[MessageProperty], body: &[u8]) -> String {
    let mut text = match std::str::from_utf8(body) {
        Ok(body) => body.replace('\n', " "),
        Err(_) => format!("({} bytes, not text)", body.len()),
    };
    if !properties.is_empty() {
        let properties: Vec<String> = properties
            .iter()
            .map(|(name, value)| match value {
                Some(value) => format!("{name}={value}"),
                None => name.clone(),
            })
            .collect();
        text.push_str(&format!(" [{}]", properties.join(" ")));
    }
    text
}

/// Why a command did not reach the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceCommandError {
    /// The command queue is full: the device is busy or stuck.
    #[error(
        "the simulated device {device_id} has {COMMAND_CAPACITY} commands waiting; try again when it has caught up"
    )]
    Full {
        /// The device.
        device_id: String,
    },
    /// The device has stopped.
    #[error("the simulated device {device_id} has stopped; start it again to send commands")]
    Stopped {
        /// The device.
        device_id: String,
    },
}

/// The driver's side of a running simulated device. Dropping it stops the device.
pub struct DeviceHandle {
    pub(super) device_id: String,
    pub(super) commands: mpsc::Sender<Box<DeviceCommand>>,
    pub(super) events: mpsc::Receiver<Box<DeviceEvent>>,
    pub(super) task: JoinHandle<()>,
}

impl DeviceHandle {
    /// The simulated device's id.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// Queues a command without waiting: a full queue is an error, never a blocked caller.
    pub fn try_send(&self, command: DeviceCommand) -> Result<(), DeviceCommandError> {
        self.commands
            .try_send(Box::new(command))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => DeviceCommandError::Full {
                    device_id: self.device_id.clone(),
                },
                mpsc::error::TrySendError::Closed(_) => self.stopped(),
            })
    }

    /// Queues a command, waiting for room.
    pub async fn send(&self, command: DeviceCommand) -> Result<(), DeviceCommandError> {
        self.commands
            .send(Box::new(command))
            .await
            .map_err(|_| self.stopped())
    }

    /// The next event, waiting for one; `None` once the device has stopped and every event
    /// was read.
    pub async fn recv(&mut self) -> Option<DeviceEvent> {
        self.events.recv().await.map(|event| *event)
    }

    /// The next event if one is waiting, for callers that must not wait (a UI frame).
    pub fn try_recv(&mut self) -> Option<DeviceEvent> {
        self.events.try_recv().ok().map(|event| *event)
    }

    /// Disconnects cleanly and waits for the device to end.
    pub async fn shutdown(mut self) {
        if self
            .commands
            .send(Box::new(DeviceCommand::Shutdown))
            .await
            .is_ok()
        {
            // Keep draining so the device is never stuck on a full event queue.
            while self.events.recv().await.is_some() {}
        }
        let _ = (&mut self.task).await;
    }

    fn stopped(&self) -> DeviceCommandError {
        DeviceCommandError::Stopped {
            device_id: self.device_id.clone(),
        }
    }
}
