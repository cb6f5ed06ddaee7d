//! One MQTT connection of a simulated device, from CONNECT to its end: subscribes, reads the
//! twin, then serves desired pushes, direct methods, reported patches and telemetry until
//! the connection drops, the token is due for renewal, or the device is shut down.
//!
//! The MQTT client side of it (packet ids, acknowledgements, pings) is the `link`; the
//! device waits on it and on its commands and timers in one task.

use std::collections::HashMap;
use std::time::Duration;

use rumqttc::mqttbytes::v4::{Packet, Publish, SubscribeReasonCode};
use serde_json::Value;
use tokio::task::JoinSet;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::behaviours::CloudMessageHandling;
use super::behaviours::MIN_TELEMETRY_INTERVAL;
use super::handle::{DeviceCommand, DeviceEvent};
use super::link::{Link, LinkError, PublishError, Received};
use super::runner::SimulatedDevice;
use super::template::Expansion;
use super::transport::{TransportError, connect_options};
use crate::topics::{DeviceTopic, HubTopic, MethodName, RequestId, Subscription, parse_hub_topic};

/// How long a clean DISCONNECT may take before the socket is simply dropped.
const DISCONNECT_GRACE: Duration = Duration::from_secs(1);
/// The share of a token's lifetime after which the device reconnects with a new one.
const RENEW_AFTER: f64 = 0.85;
/// What the device subscribes to on every connect; a module leaves out the last
/// (IoT Hub sends modules no cloud-to-device messages).
const SUBSCRIPTIONS: [Subscription; 4] = [
    Subscription::TwinResponses,
    Subscription::DesiredPatches,
    Subscription::MethodRequests,
    Subscription::CloudToDevice,
];

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

/// Whether a QoS 1 message from the hub gets its PUBACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acknowledge {
    Yes,
    No,
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
    link: Link,
    next_rid: u64,
    pending: HashMap<String, Pending>,
    telemetry: Option<Interval>,
    delayed_replies: JoinSet<DelayedReply>,
    /// Why the link failed while a handler was writing; the connection ends with it.
    failed: Option<LinkError>,
}

impl<'a> Connection<'a> {
    /// Connects with a fresh token and serves the connection until it ends.
    pub(super) async fn run(device: &'a mut SimulatedDevice) -> Ended {
        let lifetime = device.config.token_lifetime.max(Duration::from_secs(1));
        let link = match Box::pin(connect(device, lifetime)).await {
            Ok(link) => link,
            Err(ending) => {
                return Ended {
                    ending,
                    was_connected: false,
                };
            }
        };
        let mut connection = Connection {
            device,
            link,
            next_rid: 0,
            pending: HashMap::new(),
            telemetry: None,
            delayed_replies: JoinSet::new(),
            failed: None,
        };
        Box::pin(connection.on_connected()).await;
        let renew_at = Instant::now() + lifetime.mul_f64(RENEW_AFTER);
        let ending = connection.serve(renew_at).await;
        Box::pin(connection.fail_unanswered_patches()).await;
        if matches!(ending, Ending::Shutdown | Ending::RenewToken) {
            connection.link.disconnect(DISCONNECT_GRACE).await;
        }
        Ended {
            ending,
            was_connected: true,
        }
    }

    /// Waits for whatever comes next and handles it. The handlers run boxed: a device
    /// spends nearly all its time waiting here, and their futures (JSON, events on their
    /// way to the driver) would otherwise take room in every device's task all along.
    async fn serve(&mut self, renew_at: Instant) -> Ending {
        loop {
            if let Some(error) = self.failed.take() {
                return lost(&error);
            }
            let ping_due = self.link.ping_due();
            tokio::select! {
                packet = self.link.read() => match packet {
                    Ok(packet) => Box::pin(self.on_packet(packet)).await,
                    Err(error) => return lost(&error),
                },
                command = self.device.next_command() => match command {
                    None | Some(DeviceCommand::Shutdown) => return Ending::Shutdown,
                    Some(command) => Box::pin(self.on_command(command)).await,
                },
                () = tokio::time::sleep_until(renew_at) => return Ending::RenewToken,
                () = tokio::time::sleep_until(ping_due) => {
                    let pinged = self.link.ping().await;
                    self.note(pinged);
                }
                () = tick(&mut self.telemetry) => Box::pin(self.send_telemetry()).await,
                Some(reply) = self.delayed_replies.join_next(), if !self.delayed_replies.is_empty() => {
                    if let Ok(reply) = reply {
                        Box::pin(self.answer_method(reply)).await;
                    }
                }
            }
        }
    }

    /// Keeps a link failure for the serve loop to end the connection with.
    fn note(&mut self, result: Result<(), LinkError>) {
        if let Err(error) = result {
            self.failed.get_or_insert(error);
        }
    }

    /// The subscriptions this device makes.
    fn subscriptions(&self) -> &'static [Subscription] {
        match self.device.config.connection.module_id {
            Some(_) => &SUBSCRIPTIONS[..3],
            None => &SUBSCRIPTIONS,
        }
    }

    async fn on_connected(&mut self) {
        self.device.emit(DeviceEvent::Connected).await;
        let config = &self.device.config.connection;
        let filters = self
            .subscriptions()
            .iter()
            .map(|subscription| subscription.filter(&config.device_id, config.module_id.as_deref()))
            .collect();
        let subscribed = self.link.subscribe(filters).await;
        self.note(subscribed);
        self.request_twin().await;
        self.restart_telemetry();
    }

    async fn on_packet(&mut self, packet: Packet) {
        match self.link.received(packet).await {
            Ok(Received::Message(message)) => {
                if self.on_publish(&message).await == Acknowledge::Yes {
                    let acknowledged = self.link.acknowledge(&message).await;
                    self.note(acknowledged);
                }
            }
            Ok(Received::Subscribed(codes)) => self.on_subscribed(&codes).await,
            Ok(Received::Nothing) => {}
            Err(error) => self.note(Err(error)),
        }
    }

    /// Reports every subscription the hub refused: without it the device misses a kind
    /// of message, so the user must know.
    async fn on_subscribed(&mut self, codes: &[SubscribeReasonCode]) {
        for (subscription, code) in self.subscriptions().iter().zip(codes) {
            if matches!(code, SubscribeReasonCode::Failure) {
                let config = &self.device.config.connection;
                let filter = subscription.filter(&config.device_id, config.module_id.as_deref());
                let message = format!(
                    "the hub refused the subscription to {filter}; the device will not receive those messages (check that the hub allows it)"
                );
                self.device.emit(DeviceEvent::Error(message)).await;
            }
        }
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
        self.telemetry = self
            .device
            .config
            .behaviours
            .telemetry
            .as_ref()
            .map(|schedule| {
                let period = schedule.interval.max(MIN_TELEMETRY_INTERVAL);
                let mut interval = tokio::time::interval(period);
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                interval
            });
    }

    /// Handles a message from the hub; says whether to acknowledge it.
    async fn on_publish(&mut self, publish: &Publish) -> Acknowledge {
        let topic = match parse_hub_topic(&publish.topic) {
            Ok(topic) => topic,
            Err(error) => {
                let message = format!("ignored a message from the hub: {error}");
                self.device.emit(DeviceEvent::Error(message)).await;
                return Acknowledge::Yes;
            }
        };
        if let HubTopic::CloudToDevice { properties, .. } = topic {
            let completed =
                self.device.config.behaviours.cloud_messages == CloudMessageHandling::Complete;
            let event = DeviceEvent::CloudMessageReceived {
                properties,
                body: publish.payload.to_vec(),
                completed,
            };
            self.device.emit(event).await;
            return match completed {
                true => Acknowledge::Yes,
                false => Acknowledge::No,
            };
        }
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
                    self.device.note_components(&patch);
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
            // Handled above, before the body is read as JSON.
            HubTopic::CloudToDevice { .. } => {}
        }
        Acknowledge::Yes
    }

    /// Emits the twin and acknowledges desired properties that changed while away.
    async fn on_twin(&mut self, twin: Value) {
        self.device
            .emit(DeviceEvent::TwinReceived(twin.clone()))
            .await;
        if let Some(reported) = twin.get("reported") {
            self.device.note_components(reported);
        }
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
        if let Err(error) = self.publish(&topic, body.into_bytes()).await {
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
        if let Err(error) = self
            .publish(&DeviceTopic::TwinGet { rid }, Vec::new())
            .await
        {
            let message = format!("could not request the twin: {error}");
            self.device.emit(DeviceEvent::Error(message)).await;
        }
    }

    async fn report(&mut self, patch: Value) {
        let rid = self.next_rid();
        let body = patch.to_string().into_bytes();
        self.pending
            .insert(rid.to_string(), Pending::Reported(patch));
        let topic = DeviceTopic::ReportedPatch { rid: rid.clone() };
        if let Err(error) = self.publish(&topic, body).await {
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
        match self.publish(&topic, body.clone().into_bytes()).await {
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

    /// Publishes `body` on `topic`, or says why not; a failed link also ends the
    /// connection once the handler is done.
    async fn publish(&mut self, topic: &DeviceTopic, body: Vec<u8>) -> Result<(), String> {
        match self.link.publish(topic.to_topic(), body).await {
            Ok(()) => Ok(()),
            Err(PublishError::Link(error)) => {
                let reason = error.to_string();
                self.failed.get_or_insert(error);
                Err(reason)
            }
            Err(backlog) => Err(backlog.to_string()),
        }
    }

    fn next_rid(&mut self) -> RequestId {
        self.next_rid += 1;
        RequestId::from(self.next_rid)
    }
}

/// Signs a token for `lifetime` and connects `device`, taking its commands meanwhile. A
/// plain function rather than part of [`Connection::run`]: the options and the attempt are
/// only needed until the hub answers, and there they would keep their room in every
/// device's task for as long as it runs.
async fn connect(device: &mut SimulatedDevice, lifetime: Duration) -> Result<Link, Ending> {
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let config = &device.config;
    let token = config
        .connection
        .sas_token(now.saturating_add(lifetime.as_secs()));
    let options = connect_options(
        &config.connection,
        &config.endpoint,
        config.model_id.as_ref(),
        token.to_string(),
    )
    .map_err(|error: TransportError| Ending::Fatal(error.to_string()))?;
    match device.while_offline(Link::connect(options)).await {
        None => Err(Ending::Shutdown),
        Some(Ok(link)) => Ok(link),
        Some(Err(error)) => Err(lost(&error)),
    }
}

/// The ending of a connection whose link failed, in words: a refusal names its way out,
/// anything else says the connection ended and why.
fn lost(error: &LinkError) -> Ending {
    match error {
        LinkError::Refused(_) => Ending::Lost(error.to_string()),
        other => Ending::Lost(format!("the connection ended: {other}")),
    }
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

/// A message body as JSON: empty is `null`, and text that is not JSON is kept as a string.
fn parse_body(payload: &[u8]) -> Value {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::ConnectReturnCode;

    #[test]
    fn bodies_are_json_null_or_text() {
        assert_eq!(parse_body(b""), Value::Null);
        assert_eq!(parse_body(b" \n"), Value::Null);
        assert_eq!(parse_body(br#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(parse_body(b"plain"), Value::String("plain".into()));
    }

    fn reason(ending: Ending) -> String {
        match ending {
            Ending::Lost(reason) => reason,
            _ => panic!("a failed link is a lost connection"),
        }
    }

    #[test]
    fn refusals_point_at_the_credentials() {
        let refused = reason(lost(&LinkError::Refused(ConnectReturnCode::NotAuthorized)));
        assert!(refused.contains("device id and key"), "{refused}");
        assert!(!refused.contains("connection ended"), "{refused}");
    }

    #[test]
    fn untrusted_certificates_point_at_the_ca_file() {
        let untrusted = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let untrusted = reason(lost(&LinkError::from(untrusted)));
        assert!(
            untrusted.starts_with("the connection ended: "),
            "{untrusted}"
        );
        assert!(untrusted.contains("--ca-cert"), "{untrusted}");
        let reset = reason(lost(&LinkError::from(std::io::Error::other(
            "connection reset",
        ))));
        assert!(!reset.contains("--ca-cert"), "{reset}");
    }
}
