//! The device task: connects, and after any disconnect reconnects with backoff; renews its
//! SAS token by reconnecting before the token expires. Between connections it keeps taking
//! commands, so behaviours can be switched while the hub is away.

use std::collections::BTreeSet;
use std::future::Future;

use serde_json::Value;
use tokio::sync::mpsc;

use super::DeviceConfig;
use super::behaviours::{Behaviours, component_names};
use super::connection::{Connection, Ending};
use super::handle::{COMMAND_CAPACITY, DeviceCommand, DeviceEvent, DeviceHandle, EVENT_CAPACITY};

/// A simulated device's state that outlives any one connection.
pub struct SimulatedDevice {
    pub(super) config: DeviceConfig,
    pub(super) events: mpsc::Sender<Box<DeviceEvent>>,
    pub(super) commands: mpsc::Receiver<Box<DeviceCommand>>,
    /// Telemetry messages sent so far, for `{{counter}}`.
    pub(super) telemetry_count: u64,
    /// The desired `$version` last acknowledged, so a re-read twin is not acknowledged twice.
    pub(super) acknowledged_version: Option<u64>,
    /// The IoT Plug and Play components seen marked in the twin, so that a desired patch
    /// that leaves a component's marker out is still acknowledged as a component.
    pub(super) components: BTreeSet<String>,
}

impl SimulatedDevice {
    /// Starts a device on the current tokio runtime; it runs until
    /// [`DeviceCommand::Shutdown`] or until its handle is dropped.
    ///
    /// # Panics
    /// When called outside a tokio runtime, like `tokio::spawn`.
    pub fn spawn(config: DeviceConfig) -> DeviceHandle {
        let (commands, command_queue) = mpsc::channel(COMMAND_CAPACITY);
        let (event_queue, events) = mpsc::channel(EVENT_CAPACITY);
        let device_id = config.connection.device_id.clone();
        let device = SimulatedDevice {
            config,
            events: event_queue,
            commands: command_queue,
            telemetry_count: 0,
            acknowledged_version: None,
            components: BTreeSet::new(),
        };
        DeviceHandle {
            device_id,
            commands,
            events,
            task: tokio::spawn(device.run()),
        }
    }

    async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            let ended = Connection::run(&mut self).await;
            if ended.was_connected {
                failures = 0;
            }
            match ended.ending {
                Ending::Shutdown => return,
                Ending::Fatal(reason) => {
                    self.emit(DeviceEvent::Error(reason)).await;
                    return;
                }
                Ending::RenewToken => {
                    self.emit(DeviceEvent::Disconnected {
                        reason: "reconnecting with a new SAS token before the current one expires"
                            .into(),
                    })
                    .await;
                }
                Ending::Lost(reason) => {
                    self.emit(DeviceEvent::Disconnected { reason }).await;
                    failures = failures.saturating_add(1);
                    let delay = self.config.reconnect.delay(failures);
                    self.emit(DeviceEvent::Reconnecting {
                        attempt: failures,
                        delay,
                    })
                    .await;
                    // Boxed: the wait is rare, and inline it would take room in every
                    // device's task for as long as the device runs.
                    let wait = tokio::time::sleep(delay);
                    if Box::pin(self.while_offline(wait)).await.is_none() {
                        return;
                    }
                }
            }
        }
    }

    /// Runs `work` (a wait, or a connection attempt) while taking commands as a device
    /// without a connection does; `None` when the device must stop first.
    pub(super) async fn while_offline<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return Some(done),
                command = self.next_command() => match command {
                    None | Some(DeviceCommand::Shutdown) => return None,
                    Some(DeviceCommand::ReportPatch(_)) => {
                        self.emit(DeviceEvent::ReportedFailed {
                            status: 0,
                            message: "the device is not connected; the patch was not sent, send it again once connected".into(),
                        })
                        .await;
                    }
                    Some(DeviceCommand::RefreshTwin) => {
                        self.emit(DeviceEvent::Error(
                            "the device is not connected; it reads its twin again when it reconnects".into(),
                        ))
                        .await;
                    }
                    Some(setting) => self.apply_setting(setting),
                },
            }
        }
    }

    /// Applies a behaviour switch; other commands are the connection's business.
    pub(super) fn apply_setting(&mut self, command: DeviceCommand) {
        let behaviours: &mut Behaviours = &mut self.config.behaviours;
        match command {
            DeviceCommand::SetDesiredAck(ack) => behaviours.desired_ack = ack,
            DeviceCommand::SetMethods(table) => behaviours.methods = table,
            DeviceCommand::StartTelemetry(schedule) => behaviours.telemetry = Some(schedule),
            DeviceCommand::StopTelemetry => behaviours.telemetry = None,
            DeviceCommand::SetCloudMessageHandling(handling) => {
                behaviours.cloud_messages = handling;
            }
            DeviceCommand::ReportPatch(_)
            | DeviceCommand::RefreshTwin
            | DeviceCommand::Shutdown => {}
        }
    }

    /// The reported patch acknowledging a desired patch or section at `version`, if the
    /// behaviour asks for one and this version was not acknowledged yet.
    pub(super) fn acknowledgement(&mut self, desired: &Value, version: u64) -> Option<Value> {
        self.note_components(desired);
        if self.acknowledged_version == Some(version) {
            return None;
        }
        let patch = self.config.behaviours.desired_ack.acknowledgement(
            desired,
            version,
            &self.components,
        )?;
        self.acknowledged_version = Some(version);
        Some(patch)
    }

    /// Remembers the components marked at the root of a twin section or patch.
    pub(super) fn note_components(&mut self, section: &Value) {
        self.components
            .extend(component_names(section).map(str::to_owned));
    }

    /// Sends an event; a dropped handle is noticed through the command channel instead.
    /// The event is boxed before the wait for room, so every future that sends one holds
    /// a pointer rather than the event.
    pub(super) fn emit(&self, event: DeviceEvent) -> impl Future<Output = ()> + Send + '_ {
        tracing::debug!(device_id = self.config.connection.device_id, ?event);
        let send = self.events.send(Box::new(event));
        async move {
            let _ = send.await;
        }
    }

    /// The next command, `None` once the handle is gone; cancel-safe, as `recv` is.
    pub(super) async fn next_command(&mut self) -> Option<DeviceCommand> {
        self.commands.recv().await.map(|command| *command)
    }
}
