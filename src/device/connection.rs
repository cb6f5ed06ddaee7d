//! One MQTT connection of a simulated device, from CONNECT to its end: subscribes, reads the
//! twin, then serves desired pushes, direct methods, reported patches and telemetry until
//! the connection drops, the token is due for renewal, or the device is shut down.
//!
//! rumqttc's event loop runs in its own task (see `event_loop`).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use rumqttc::{AsyncClient, EventLoop, MqttOptions, NetworkOptions, Publish, QoS};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::behaviours::MIN_TELEMETRY_INTERVAL;
use super::event_loop::{MqttEvent, describe, parse_body, poll};
use super::handle::{DeviceCommand, DeviceEvent};
use super::runner::SimulatedDevice;
use super::template::Expansion;
use super::transport::{MAX_INFLIGHT, TransportError, mqtt_options};
use crate::topics::{DeviceTopic, HubTopic, MethodName, RequestId, Subscription, parse_hub_topic};

/// Requests rumqttc may queue before `try_publish` reports it full. With the
/// [`MAX_INFLIGHT`] publishes on the wire that makes 164 outstanding requests, as many as
/// before the in-flight limit was lowered from rumqttc's 100 (64 queued, 100 in flight), so
/// no burst that fitted then is refused now. The queue costs nothing until requests wait
/// in it: it grows with them.
const CLIENT_CAPACITY: usize = 164 - MAX_INFLIGHT as usize;
/// Events the event loop's task may forward before it waits for the connection to take
/// them: 64, as when this channel shared the client queue's capacity. Its slots come 32
/// at a time, the first block when it is made and more only while events pile up.
const FORWARD_CAPACITY: usize = 64;
/// How long a clean DISCONNECT may take before the socket is simply dropped.
const DISCONNECT_GRACE: Duration = Duration::from_secs(1);
/// The share of a token's lifetime after which the device reconnects with a new one.
const RENEW_AFTER: f64 = 0.85;

/// Why a connection ended.
pub(super) enum Ending {
    /// The driver asked the device to stop (or dropped its handle).
    Shutdown,
    /// The token is due for renewal: reconnect at once.
    RenewToken,
    /// The connection dropped or could not be made: reconnect after a backoff.
    Lost(String),
    /// Connecting cannot work with this configuration: stop.
    Fatal(String),
}

/// How a connection ended, and whether it got as far as CONNACK.
pub(super) struct Ended {
    pub(super) ending: Ending,
    pub(super) was_connected: bool,
}

/// A request waiting for its `$iothub/twin/res/...` answer.
enum Pending {
    TwinGet,
    Reported(Value),
}

/// A method reply waiting out its delay.
struct DelayedReply {
    rid: RequestId,
    name: String,
    payload: Value,
    status: i64,
    response: Value,
}

/// One connection's state.
pub(super) struct Connection<'a> {
    device: &'a mut SimulatedDevice,
    client: AsyncClient,
    connected: bool,
    next_rid: u64,
    pending: HashMap<String, Pending>,
    telemetry: Option<Interval>,
    delayed_replies: JoinSet<DelayedReply>,
}

impl<'a> Connection<'a> {
    /// Connects with a fresh token and serves the connection until it ends.
    pub(super) async fn run(device: &'a mut SimulatedDevice) -> Ended {
        let lifetime = device.config.token_lifetime.max(Duration::from_secs(1));
        let Started {
            client,
            mut mqtt,
            poller,
        } = match start(device, lifetime) {
            Ok(started) => started,
            Err(error) => {
                return Ended {
                    ending: Ending::Fatal(error.to_string()),
                    was_connected: false,
                };
            }
        };
        let mut connection = Connection {
            device,
            client,
            connected: false,
            next_rid: 0,
            pending: HashMap::new(),
            telemetry: None,
            delayed_replies: JoinSet::new(),
        };
        let renew_at = Instant::now() + lifetime.mul_f64(RENEW_AFTER);
        let ending = connection.serve(&mut mqtt, renew_at).await;
        if matches!(ending, Ending::Shutdown | Ending::RenewToken) {
            connection.disconnect(&mut mqtt).await;
        }
        poller.abort();
        Box::pin(connection.fail_unanswered_patches()).await;
        Ended {
            ending,
            was_connected: connection.connected,
        }
    }

    /// Waits for whatever comes next and handles it. The handlers run boxed: a device
    /// spends nearly all its time waiting here, and their futures (JSON, events on their
    /// way to the driver) would otherwise take room in every device's task all along.
    async fn serve(&mut self, mqtt: &mut mpsc::Receiver<MqttEvent>, renew_at: Instant) -> Ending {
        loop {
            tokio::select! {
                event = mqtt.recv() => match event {
                    Some(MqttEvent::Connected) => Box::pin(self.on_connected()).await,
                    Some(MqttEvent::Message(publish)) => Box::pin(self.on_publish(*publish)).await,
                    Some(MqttEvent::DisconnectSent) => {}
                    Some(MqttEvent::Failed(error)) => return Ending::Lost(describe(&error)),
                    None => return Ending::Lost("the MQTT client stopped".into()),
                },
                command = self.device.next_command() => match command {
                    None | Some(DeviceCommand::Shutdown) => return Ending::Shutdown,
                    Some(command) => Box::pin(self.on_command(command)).await,
                },
                () = tokio::time::sleep_until(renew_at) => return Ending::RenewToken,
                () = tick(&mut self.telemetry) => Box::pin(self.send_telemetry()).await,
                Some(reply) = self.delayed_replies.join_next(), if !self.delayed_replies.is_empty() => {
                    if let Ok(reply) = reply {
                        Box::pin(self.answer_method(reply)).await;
                    }
                }
            }
        }
    }

    async fn on_connected(&mut self) {
        self.connected = true;
        self.device.emit(DeviceEvent::Connected).await;
        let config = &self.device.config.connection;
        let filters = [
            Subscription::TwinResponses,
            Subscription::DesiredPatches,
            Subscription::MethodRequests,
        ]
        .map(|subscription| {
            rumqttc::SubscribeFilter::new(
                subscription.filter(&config.device_id, config.module_id.as_deref()),
                QoS::AtLeastOnce,
            )
        });
        if let Err(error) = self.client.try_subscribe_many(filters) {
            self.device
                .emit(DeviceEvent::Error(format!("could not subscribe: {error}")))
                .await;
        }
        self.request_twin().await;
        self.restart_telemetry();
    }

    async fn on_command(&mut self, command: DeviceCommand) {
        match command {
            DeviceCommand::ReportPatch(patch) => self.report(patch).await,
            DeviceCommand::RefreshTwin => self.request_twin().await,
            setting => {
                let telemetry_changed = matches!(
                    setting,
                    DeviceCommand::StartTelemetry(_) | DeviceCommand::StopTelemetry
                );
                self.device.apply_setting(setting);
                if telemetry_changed {
                    self.restart_telemetry();
                }
            }
        }
    }

    /// Starts the telemetry timer from the current schedule (first message at once),
    /// never faster than [`MIN_TELEMETRY_INTERVAL`] whoever built the schedule.
    fn restart_telemetry(&mut self) {
        self.telemetry = match (&self.device.config.behaviours.telemetry, self.connected) {
            (Some(schedule), true) => {
                let period = schedule.interval.max(MIN_TELEMETRY_INTERVAL);
                let mut interval = tokio::time::interval(period);
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                Some(interval)
            }
            _ => None,
        };
    }

    async fn on_publish(&mut self, publish: Publish) {
        let topic = match parse_hub_topic(&publish.topic) {
            Ok(topic) => topic,
            Err(error) => {
                let message = format!("ignored a message from the hub: {error}");
                self.device.emit(DeviceEvent::Error(message)).await;
                return;
            }
        };
        let body = parse_body(&publish.payload);
        match topic {
            HubTopic::TwinResponse {
                status,
                rid,
                version,
            } => match self.pending.remove(rid.as_str()) {
                Some(Pending::TwinGet) if status == 200 => self.on_twin(body).await,
                Some(Pending::TwinGet) => {
                    let message = format!("the hub refused the twin GET ({status}): {body}");
                    self.device.emit(DeviceEvent::Error(message)).await;
                }
                Some(Pending::Reported(patch)) if (200..300).contains(&status) => {
                    let event = DeviceEvent::ReportedSent { patch, version };
                    self.device.emit(event).await;
                }
                Some(Pending::Reported(_)) => {
                    let message = body.to_string();
                    let event = DeviceEvent::ReportedFailed { status, message };
                    self.device.emit(event).await;
                }
                None => tracing::debug!(rid = rid.as_str(), "twin response for no request"),
            },
            HubTopic::DesiredPatch { version } => {
                let event = DeviceEvent::DesiredReceived {
                    version,
                    patch: body.clone(),
                };
                self.device.emit(event).await;
                if let Some(patch) = self.device.acknowledgement(&body, version) {
                    self.report(patch).await;
                }
            }
            HubTopic::MethodRequest { name, rid } => self.on_method(name, rid, body).await,
            HubTopic::CloudToDevice { .. } => {
                tracing::debug!("cloud-to-device message ignored: the device does not subscribe")
            }
        }
    }

    /// Emits the twin and acknowledges desired properties that changed while away.
    async fn on_twin(&mut self, twin: Value) {
        self.device
            .emit(DeviceEvent::TwinReceived(twin.clone()))
            .await;
        let desired = twin.get("desired").cloned().unwrap_or(Value::Null);
        let Some(version) = desired.get("$version").and_then(Value::as_u64) else {
            return;
        };
        if let Some(patch) = self.device.acknowledgement(&desired, version) {
            self.report(patch).await;
        }
    }

    async fn on_method(&mut self, name: MethodName, rid: RequestId, payload: Value) {
        let reply = self.device.config.behaviours.methods.reply(name.as_str());
        let delayed = DelayedReply {
            rid,
            name: name.as_str().to_owned(),
            payload,
            status: reply.status,
            response: reply.payload.clone(),
        };
        let delay = reply.delay;
        if delay.is_zero() {
            self.answer_method(delayed).await;
        } else {
            self.delayed_replies.spawn(async move {
                tokio::time::sleep(delay).await;
                delayed
            });
        }
    }

    async fn answer_method(&mut self, reply: DelayedReply) {
        let topic = DeviceTopic::MethodResponse {
            status: reply.status,
            rid: reply.rid,
        };
        let body = reply.response.to_string();
        if let Err(error) = self.publish(&topic, body.into_bytes()) {
            let message = format!("could not answer method {}: {error}", reply.name);
            self.device.emit(DeviceEvent::Error(message)).await;
            return;
        }
        let event = DeviceEvent::MethodInvoked {
            name: reply.name,
            payload: reply.payload,
            status: reply.status,
            response: reply.response,
        };
        self.device.emit(event).await;
    }

    async fn request_twin(&mut self) {
        let rid = self.next_rid();
        self.pending.insert(rid.to_string(), Pending::TwinGet);
        if let Err(error) = self.publish(&DeviceTopic::TwinGet { rid }, Vec::new()) {
            let message = format!("could not request the twin: {error}");
            self.device.emit(DeviceEvent::Error(message)).await;
        }
    }

    async fn report(&mut self, patch: Value) {
        if !self.connected {
            let message = "the device is not connected yet; send the patch again once connected";
            let event = DeviceEvent::ReportedFailed {
                status: 0,
                message: message.into(),
            };
            self.device.emit(event).await;
            return;
        }
        let rid = self.next_rid();
        let body = patch.to_string().into_bytes();
        self.pending
            .insert(rid.to_string(), Pending::Reported(patch));
        if let Err(error) = self.publish(&DeviceTopic::ReportedPatch { rid: rid.clone() }, body) {
            self.pending.remove(rid.as_str());
            let event = DeviceEvent::ReportedFailed {
                status: 0,
                message: format!("the patch was not sent: {error}"),
            };
            self.device.emit(event).await;
        }
    }

    /// Reports every reported patch the hub had not answered when the connection ended:
    /// nobody can tell whether it was applied, so the user must look and send it again.
    async fn fail_unanswered_patches(&mut self) {
        let unanswered: Vec<Value> = self
            .pending
            .drain()
            .filter_map(|(_, pending)| match pending {
                Pending::Reported(patch) => Some(patch),
                Pending::TwinGet => None,
            })
            .collect();
        for patch in unanswered {
            let message = format!(
                "the connection ended before the hub answered the reported patch {patch}; \
                 check the twin's reported properties and send it again if it is missing"
            );
            let event = DeviceEvent::ReportedFailed { status: 0, message };
            self.device.emit(event).await;
        }
    }

    async fn send_telemetry(&mut self) {
        let Some(schedule) = &self.device.config.behaviours.telemetry else {
            return;
        };
        let connection = &self.device.config.connection;
        let counter = self.device.telemetry_count + 1;
        let body = schedule.template.expand(&Expansion {
            device_id: &connection.device_id,
            counter,
            now: chrono::Utc::now(),
        });
        let topic = DeviceTopic::Telemetry {
            device_id: connection.device_id.clone(),
            module_id: connection.module_id.clone(),
            properties: vec![
                ("$.ct".into(), Some("application/json".into())),
                ("$.ce".into(), Some("utf-8".into())),
            ],
        };
        match self.publish(&topic, body.clone().into_bytes()) {
            Ok(()) => {
                self.device.telemetry_count = counter;
                self.device.emit(DeviceEvent::TelemetrySent { body }).await;
            }
            Err(error) => {
                let message = format!("telemetry message {counter} was not sent: {error}");
                self.device.emit(DeviceEvent::Error(message)).await;
            }
        }
    }

    fn publish(&self, topic: &DeviceTopic, body: Vec<u8>) -> Result<(), rumqttc::ClientError> {
        self.client
            .try_publish(topic.to_topic(), QoS::AtLeastOnce, false, body)
    }

    fn next_rid(&mut self) -> RequestId {
        self.next_rid += 1;
        RequestId::from(self.next_rid)
    }

    /// Sends DISCONNECT and waits briefly for it to leave.
    async fn disconnect(&mut self, mqtt: &mut mpsc::Receiver<MqttEvent>) {
        if !self.connected || self.client.try_disconnect().is_err() {
            return;
        }
        let _ = tokio::time::timeout(DISCONNECT_GRACE, async {
            while let Some(event) = mqtt.recv().await {
                match event {
                    MqttEvent::DisconnectSent | MqttEvent::Failed(_) => return,
                    MqttEvent::Connected | MqttEvent::Message(_) => {}
                }
            }
        })
        .await;
    }
}

/// A started rumqttc client: its handle, what its event loop forwards, and the event loop's
/// task.
struct Started {
    client: AsyncClient,
    mqtt: mpsc::Receiver<MqttEvent>,
    poller: JoinHandle<()>,
}

/// Signs a token for `lifetime` and starts rumqttc's client for `device`, its event loop
/// in a task of its own. A plain function rather than part of [`Connection::run`]: the
/// event loop (784 bytes) and the options are borrowed before they are handed over, so
/// there they would keep their room in every device's task for as long as it runs.
fn start(device: &SimulatedDevice, lifetime: Duration) -> Result<Started, TransportError> {
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let token = device
        .config
        .connection
        .sas_token(now.saturating_add(lifetime.as_secs()));
    let options = mqtt_options(
        &device.config.connection,
        &device.config.endpoint,
        token.to_string(),
    )?;
    let (client, eventloop) = client(options);
    let (forward, mqtt) = mpsc::channel(FORWARD_CAPACITY);
    let poller = tokio::spawn(poll(eventloop, forward));
    Ok(Started {
        client,
        mqtt,
        poller,
    })
}

/// rumqttc's client and event loop for `options`, not connected yet.
fn client(options: MqttOptions) -> (AsyncClient, EventLoop) {
    let (client, mut eventloop) = AsyncClient::new(options, CLIENT_CAPACITY);
    // rumqttc reserves room for 100 events (14 KB) in every client; let the queue grow
    // only as far as events really pile up (a read takes at most 10 packets at a time).
    eventloop.state.events = VecDeque::new();
    // Without TCP_NODELAY a publish sent right after the device acknowledged the hub's
    // last message waits for the hub's delayed ACK, about 40 ms.
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    (client, eventloop)
}

/// The next telemetry tick, or never when telemetry is off.
async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::{DeviceConnectionString, SharedAccessKey};
    use crate::device::{Endpoint, TlsMode};

    fn options() -> MqttOptions {
        let connection = DeviceConnectionString {
            host_name: "hub.azure-devices.net".into(),
            device_id: "dev1".into(),
            module_id: None,
            gateway_host_name: None,
            key: SharedAccessKey::from_bytes(vec![1; 32]),
        };
        let endpoint = Endpoint {
            host: "localhost".into(),
            port: 1883,
            tls: TlsMode::None,
        };
        mqtt_options(&connection, &endpoint, "token".into()).unwrap()
    }

    #[test]
    fn the_event_queue_is_not_reserved_up_front() {
        let (_client, eventloop) = client(options());
        assert_eq!(eventloop.state.events.capacity(), 0);
    }

    #[test]
    fn as_many_requests_fit_as_before_the_in_flight_limit_was_lowered() {
        let (_client, eventloop) = client(options());
        assert_eq!(eventloop.mqtt_options.inflight(), MAX_INFLIGHT);
        assert_eq!(CLIENT_CAPACITY + usize::from(MAX_INFLIGHT), 64 + 100);
    }

    #[test]
    fn the_client_queue_takes_client_capacity_requests_before_it_reports_full() {
        // Nothing polls the event loop, so every request stays in the queue.
        let (client, _eventloop) = client(options());
        for n in 0..CLIENT_CAPACITY {
            client
                .try_publish("t", QoS::AtLeastOnce, false, vec![0; 8])
                .unwrap_or_else(|error| panic!("request {n}: {error}"));
        }
        assert!(
            client
                .try_publish("t", QoS::AtLeastOnce, false, Vec::new())
                .is_err()
        );
    }
}
