//! Simulated devices as the explorer shows them: each one's link state, what the user
//! is editing for it (acknowledgement mode, reported patch, method table, telemetry
//! template) and a bounded live log of everything it received and sent.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

use super::text::compact_json;
use crate::device::{
    CloudMessageHandling, DeviceEvent, MethodTable, ModelId, ModelIdError, method_table_to_json,
};

/// Log lines kept per simulated device.
pub const DEVICE_LOG_CAPACITY: usize = 500;

/// The telemetry template offered to start with.
pub const DEFAULT_TELEMETRY: &str = r#"{"temperature": {{random 20.0 30.0}}, "humidity": {{random_int 30 70}}, "seq": {{counter}}}"#;

/// How the simulated device's connection stands.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    /// Keys are being fetched and the connection opened.
    Starting,
    /// Connected to the hub.
    Connected,
    /// Waiting to reconnect.
    Reconnecting {
        /// Consecutive failures.
        attempt: u32,
        /// Wait before the next try.
        delay: Duration,
    },
    /// Could not start, and why.
    Failed(String),
    /// Stopped by the user.
    Stopped,
}

impl LinkState {
    /// Whether the device is running (connected or trying to).
    pub fn is_running(&self) -> bool {
        matches!(
            self,
            LinkState::Starting | LinkState::Connected | LinkState::Reconnecting { .. }
        )
    }

    /// A short label for the panel and status bar.
    pub fn label(&self) -> String {
        match self {
            LinkState::Starting => "connecting…".into(),
            LinkState::Connected => "connected".into(),
            LinkState::Reconnecting { attempt, delay } => {
                format!(
                    "reconnecting in {:.0} s (attempt {attempt})",
                    delay.as_secs_f64()
                )
            }
            LinkState::Failed(_) => "failed".into(),
            LinkState::Stopped => "stopped".into(),
        }
    }
}

/// Which way a log line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the hub to the device.
    Received,
    /// From the device to the hub.
    Sent,
    /// About the link itself.
    Link,
    /// Something failed.
    Problem,
}

/// One line of a device's live log.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLogLine {
    /// Local time, `HH:MM:SS`.
    pub time: String,
    /// Which way it went.
    pub direction: Direction,
    /// What it was.
    pub text: String,
}

/// One simulated device in the explorer.
#[derive(Debug, Clone)]
pub struct SimulatedDeviceView {
    /// How its connection stands.
    pub link: LinkState,
    /// The IoT Plug and Play model id to announce when connecting, as typed (blank: none).
    pub model_id_text: String,
    /// Acknowledge desired patches with the Plug and Play envelope instead of a copy.
    pub plug_and_play_ack: bool,
    /// Whether desired patches are acknowledged at all.
    pub acknowledge_desired: bool,
    /// The reported patch being edited.
    pub reported_text: String,
    /// The method table being edited (JSON).
    pub methods_text: String,
    /// The telemetry template being edited.
    pub telemetry_text: String,
    /// Seconds between telemetry messages.
    pub telemetry_interval_secs: f64,
    /// Whether telemetry is being sent.
    pub telemetry_on: bool,
    /// Desired patches received.
    pub desired_received: usize,
    /// Telemetry messages sent.
    pub telemetry_sent: usize,
    /// What the device does with cloud-to-device messages.
    pub cloud_message_handling: CloudMessageHandling,
    /// Cloud-to-device messages received.
    pub cloud_messages_received: usize,
    log: VecDeque<DeviceLogLine>,
}

impl Default for SimulatedDeviceView {
    fn default() -> Self {
        SimulatedDeviceView {
            link: LinkState::Starting,
            model_id_text: String::new(),
            plug_and_play_ack: false,
            acknowledge_desired: true,
            reported_text: "{\n  \"firmware\": \"1.0.0\"\n}".into(),
            methods_text: serde_json::to_string_pretty(&default_methods()).unwrap_or_default(),
            telemetry_text: DEFAULT_TELEMETRY.into(),
            telemetry_interval_secs: 5.0,
            telemetry_on: false,
            desired_received: 0,
            telemetry_sent: 0,
            cloud_message_handling: CloudMessageHandling::Complete,
            cloud_messages_received: 0,
            log: VecDeque::new(),
        }
    }
}

/// A method table that answers `reboot` and `ping`, as a starting point to edit.
fn default_methods() -> Value {
    let table = MethodTable::default()
        .with(
            "reboot",
            crate::device::MethodReply::new(200, serde_json::json!({"rebooting": true})),
        )
        .with(
            "ping",
            crate::device::MethodReply::new(200, serde_json::json!({"pong": true})),
        );
    method_table_to_json(&table)
}

impl SimulatedDeviceView {
    /// The model id to announce as typed, surrounding blanks ignored: `None` when the field
    /// is blank, an error naming the text when it is no DTMI.
    pub fn model_id(&self) -> Result<Option<ModelId>, ModelIdError> {
        match self.model_id_text.trim() {
            "" => Ok(None),
            text => ModelId::new(text).map(Some),
        }
    }

    /// Adds a line to the live log.
    pub fn log(&mut self, direction: Direction, text: impl Into<String>) {
        if self.log.len() == DEVICE_LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(DeviceLogLine {
            time: chrono::Local::now().format("%H:%M:%S").to_string(),
            direction,
            text: text.into(),
        });
    }

    /// The live log, oldest first.
    pub fn log_lines(&self) -> &VecDeque<DeviceLogLine> {
        &self.log
    }

    /// Folds one event from the device into the view.
    pub fn apply(&mut self, event: &DeviceEvent) {
        match event {
            DeviceEvent::Connected => {
                self.link = LinkState::Connected;
                self.log(Direction::Link, "connected");
            }
            DeviceEvent::Disconnected { reason } => {
                self.log(Direction::Link, format!("disconnected: {reason}"));
            }
            DeviceEvent::Reconnecting { attempt, delay } => {
                self.link = LinkState::Reconnecting {
                    attempt: *attempt,
                    delay: *delay,
                };
                self.log(
                    Direction::Link,
                    format!(
                        "reconnecting in {:.1} s (attempt {attempt})",
                        delay.as_secs_f64()
                    ),
                );
            }
            DeviceEvent::TwinReceived(twin) => {
                self.log(Direction::Received, format!("twin {}", compact(twin)));
            }
            DeviceEvent::DesiredReceived { version, patch } => {
                self.desired_received += 1;
                self.log(
                    Direction::Received,
                    format!("desired patch v{version} {}", compact(patch)),
                );
            }
            DeviceEvent::ReportedSent { patch, version } => {
                let version = version
                    .map(|v| format!(" → reported v{v}"))
                    .unwrap_or_default();
                self.log(
                    Direction::Sent,
                    format!("reported {}{version}", compact(patch)),
                );
            }
            DeviceEvent::ReportedFailed { status, message } => {
                self.log(
                    Direction::Problem,
                    format!("reported patch refused ({status}): {message}"),
                );
            }
            DeviceEvent::MethodInvoked {
                name,
                payload,
                status,
                response,
            } => {
                self.log(
                    Direction::Received,
                    format!(
                        "method {name}({}) → {status} {}",
                        compact(payload),
                        compact(response)
                    ),
                );
            }
            DeviceEvent::CloudMessageReceived {
                properties,
                body,
                completed,
            } => {
                self.cloud_messages_received += 1;
                let outcome = match completed {
                    true => "completed",
                    false => "left unacknowledged: the hub sends it again on reconnect",
                };
                self.log(
                    Direction::Received,
                    format!(
                        "C2D message {} ({outcome})",
                        crate::device::describe_cloud_message(properties, body)
                    ),
                );
            }
            DeviceEvent::TelemetrySent { body } => {
                self.telemetry_sent += 1;
                self.log(Direction::Sent, format!("telemetry {body}"));
            }
            DeviceEvent::Error(message) => self.log(Direction::Problem, message.clone()),
        }
    }
}

/// The simulated devices by device id.
#[derive(Debug, Clone, Default)]
pub struct Simulations {
    devices: BTreeMap<String, SimulatedDeviceView>,
}

impl Simulations {
    /// The view of a device, created (stopped) on first use so the user can prepare it.
    pub fn view_mut(&mut self, device_id: &str) -> &mut SimulatedDeviceView {
        self.devices
            .entry(device_id.to_owned())
            .or_insert_with(|| SimulatedDeviceView {
                link: LinkState::Stopped,
                ..SimulatedDeviceView::default()
            })
    }

    /// The view of a device, if it has one.
    pub fn view(&self, device_id: &str) -> Option<&SimulatedDeviceView> {
        self.devices.get(device_id)
    }

    /// How many devices are running.
    pub fn running(&self) -> usize {
        self.devices
            .values()
            .filter(|d| d.link.is_running())
            .count()
    }

    /// Marks every device stopped (the hub connection was replaced).
    pub fn stop_all(&mut self) {
        for device in self.devices.values_mut() {
            if device.link.is_running() {
                device.link = LinkState::Stopped;
                device.log(
                    Direction::Link,
                    "stopped: the explorer connected to another hub",
                );
            }
        }
    }
}

/// Longest JSON shown on one log line.
const LOG_JSON_CHARS: usize = 300;

/// Compact JSON cut to a log-friendly length.
fn compact(value: &Value) -> String {
    compact_json(value, LOG_JSON_CHARS)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::device::parse_method_table;

    #[test]
    fn events_update_link_counters_and_log() {
        let mut simulations = Simulations::default();
        let view = simulations.view_mut("d1");
        assert_eq!(view.link, LinkState::Stopped);
        view.link = LinkState::Starting;
        view.apply(&DeviceEvent::Connected);
        view.apply(&DeviceEvent::DesiredReceived {
            version: 4,
            patch: json!({"a": 1, "$version": 4}),
        });
        view.apply(&DeviceEvent::TelemetrySent { body: "{}".into() });
        view.apply(&DeviceEvent::CloudMessageReceived {
            properties: vec![("$.mid".into(), Some("m1".into())), ("flag".into(), None)],
            body: b"{\"led\":\n\"on\"}".to_vec(),
            completed: false,
        });
        view.apply(&DeviceEvent::CloudMessageReceived {
            properties: Vec::new(),
            body: vec![0xff, 0x00],
            completed: true,
        });
        assert_eq!(view.link, LinkState::Connected);
        assert_eq!((view.desired_received, view.telemetry_sent), (1, 1));
        assert_eq!(view.cloud_messages_received, 2);
        let texts: Vec<&str> = view.log_lines().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts[0], "connected");
        assert!(texts[1].starts_with("desired patch v4"));
        assert_eq!(
            texts[3],
            "C2D message {\"led\": \"on\"} [$.mid=m1 flag] (left unacknowledged: the hub sends it again on reconnect)"
        );
        assert_eq!(texts[4], "C2D message (2 bytes, not text) (completed)");
        assert_eq!(simulations.running(), 1);
        simulations.stop_all();
        assert_eq!(simulations.running(), 0);
    }

    #[test]
    fn the_log_is_bounded_and_long_payloads_cut() {
        let mut view = SimulatedDeviceView::default();
        for _ in 0..DEVICE_LOG_CAPACITY + 3 {
            view.apply(&DeviceEvent::TelemetrySent {
                body: "x".repeat(10),
            });
        }
        assert_eq!(view.log_lines().len(), DEVICE_LOG_CAPACITY);
        assert!(compact(&json!("y".repeat(1000))).ends_with('…'));
    }

    #[test]
    fn the_model_id_is_optional_and_checked() {
        let mut view = SimulatedDeviceView::default();
        assert_eq!(view.model_id(), Ok(None));
        view.model_id_text = "  ".into();
        assert_eq!(view.model_id(), Ok(None));
        view.model_id_text = " dtmi:com:example:Thermostat;1 ".into();
        assert_eq!(
            view.model_id().unwrap().unwrap().as_str(),
            "dtmi:com:example:Thermostat;1"
        );
        view.model_id_text = "dtmi:com:example:Thermostat;0".into();
        let error = view.model_id().unwrap_err();
        assert_eq!(error.model_id, "dtmi:com:example:Thermostat;0");
    }

    #[test]
    fn the_starting_method_table_parses() {
        let view = SimulatedDeviceView::default();
        let table = parse_method_table(&view.methods_text).unwrap();
        assert_eq!(table.reply("reboot").status, 200);
        assert_eq!(table.reply("nope").status, 404);
    }
}
