//! One device's MQTT session after CONNECT: twin reads and reported patches,
//! desired-property pushes, direct methods, cloud-to-device messages and telemetry. Every response goes only to
//! this connection. A protocol violation ends this session alone, with a log line.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    Packet, PubAck, Publish, SubAck, Subscribe, SubscribeReasonCode, UnsubAck, Unsubscribe,
};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, broadcast, oneshot};
use tokio::time::{Instant, sleep_until};

use super::connect::Client;
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::methods::{MethodCall, MethodResponse, MethodSubscription};
use crate::hub::sessions::{Eviction, SessionTicket, Subscriptions};
use crate::hub::state::HubState;
use crate::mqtt_wire::{FrameError, PacketStream};
use crate::topics::{
    DeviceTopic, HubTopic, MethodName, RequestId, Subscription, parse_device_topic,
    parse_subscription,
};
use crate::twin::DesiredChange;
use crate::twin::plug_and_play::stamp_telemetry_properties;

/// How a session ended.
#[derive(Debug)]
pub enum Ended {
    /// The device sent DISCONNECT.
    Disconnected,
    /// The connection closed or failed.
    Closed(String),
    /// The device broke the protocol.
    Violation(String),
    /// No packet within 1.5 times the keep-alive.
    KeepAliveExpired,
    /// Another session took over, or the device was deleted or disabled.
    Evicted(Eviction),
}

/// The per-connection state besides the socket.
struct Session<'t> {
    /// The device id, or `{deviceId}/{moduleId}` for a module: the registry's key.
    device_id: String,
    /// The client as it authenticated, for its topics.
    client: Client,
    state: HubState,
    ticket: &'t SessionTicket,
    next_packet_id: u16,
    next_rid: u64,
    subscriptions: Subscriptions,
    desired: Option<broadcast::Receiver<DesiredChange>>,
    methods: Option<MethodSubscription>,
    pending_methods: HashMap<String, oneshot::Sender<MethodResponse>>,
    /// Wakes the session when a cloud-to-device message is ready (a device subscribed
    /// to them).
    cloud_messages: Option<Arc<Notify>>,
    /// Cloud-to-device messages published at QoS 1 and not yet acknowledged, by packet
    /// id: the sequence that completes each.
    unacknowledged: HashMap<u16, u64>,
}

/// How a session starts.
pub struct Start<'t> {
    /// The authenticated device or module.
    pub client: Client,
    /// The CONNECT's keep-alive, in seconds.
    pub keep_alive: u16,
    /// The session's place in the registry.
    pub ticket: &'t SessionTicket,
    /// Completes when the session must close.
    pub evicted: oneshot::Receiver<Eviction>,
    /// The subscriptions of the persistent session this connection resumes.
    pub resumed: Option<Subscriptions>,
}

/// Serves a connected, authenticated device until the session ends.
pub async fn run<S>(connection: &mut PacketStream<S>, state: HubState, start: Start<'_>) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Start {
        client,
        keep_alive,
        ticket,
        mut evicted,
        resumed,
    } = start;
    let mut session = Session {
        device_id: client.key(),
        client,
        state,
        ticket,
        next_packet_id: 0,
        next_rid: 0,
        subscriptions: Subscriptions::default(),
        desired: None,
        methods: None,
        pending_methods: HashMap::new(),
        cloud_messages: None,
        unacknowledged: HashMap::new(),
    };
    if let Some(resumed) = resumed {
        session.resume(resumed);
    }
    // MQTT 3.1.1: the server allows one and a half keep-alive periods.
    let grace = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
    let ended = serve(connection, &mut session, &mut evicted, grace).await;
    session.give_back_cloud_messages();
    ended
}

/// Reads and answers packets until the session ends.
async fn serve<S>(
    connection: &mut PacketStream<S>,
    session: &mut Session<'_>,
    evicted: &mut oneshot::Receiver<Eviction>,
    grace: Option<Duration>,
) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut deadline = grace.map(|grace| Instant::now() + grace);
    loop {
        let cloud_messages = session.cloud_messages.clone();
        let outgoing = tokio::select! {
            packet = connection.read_packet() => {
                if let Some(grace) = grace {
                    deadline = Some(Instant::now() + grace);
                }
                match packet {
                    None => return Ended::Closed("the device closed the connection".into()),
                    // A socket error is a closed connection, not a broken protocol: a TLS
                    // client that closes without close_notify is the common case.
                    Some(Err(FrameError::Io(error))) => return Ended::Closed(format!("the connection failed: {error}")),
                    Some(Err(error)) => return Ended::Violation(format!("unreadable packet: {error}")),
                    Some(Ok(packet)) => match session.handle(packet).await {
                        Ok(outgoing) => outgoing,
                        Err(ended) => return ended,
                    },
                }
            }
            reason = &mut *evicted => return Ended::Evicted(reason.unwrap_or(Eviction::Revoked)),
            () = ready(cloud_messages.as_deref()) => session.cloud_to_device_messages(),
            change = next_desired(&mut session.desired) => match change {
                Ok(change) => vec![session.desired_push(change)],
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    return Ended::Closed(format!("the device fell {missed} desired changes behind; it re-reads its twin on reconnect"));
                }
                Err(broadcast::error::RecvError::Closed) => {
                    session.desired = None;
                    Vec::new()
                }
            },
            call = next_call(&mut session.methods) => match call {
                Some(call) => session.method_request(call).into_iter().collect(),
                None => {
                    session.methods = None;
                    Vec::new()
                }
            },
            () = expire(deadline) => return Ended::KeepAliveExpired,
        };
        // A device that stops reading must not hold its session (and its twin's
        // connection state) open: the write races eviction and the keep-alive deadline.
        let write = connection.write_packets(outgoing);
        tokio::select! {
            written = write => {
                if let Err(error) = written {
                    return Ended::Closed(format!("could not write to the device: {error}"));
                }
            }
            reason = &mut *evicted => return Ended::Evicted(reason.unwrap_or(Eviction::Revoked)),
            () = expire(deadline) => return Ended::KeepAliveExpired,
        }
    }
}

async fn ready(signal: Option<&Notify>) {
    match signal {
        Some(signal) => signal.notified().await,
        None => std::future::pending().await,
    }
}

async fn next_desired(
    receiver: &mut Option<broadcast::Receiver<DesiredChange>>,
) -> Result<DesiredChange, broadcast::error::RecvError> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_call(subscription: &mut Option<MethodSubscription>) -> Option<MethodCall> {
    match subscription {
        Some(subscription) => subscription.calls.recv().await,
        None => std::future::pending().await,
    }
}

async fn expire(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl Session<'_> {
    /// Handles one packet from the device; returns the packets to send back.
    async fn handle(&mut self, packet: Packet) -> Result<Vec<Packet>, Ended> {
        match packet {
            Packet::Publish(publish) => self.publish(publish).await,
            Packet::Subscribe(subscribe) => Ok(vec![self.subscribe(subscribe)]),
            Packet::Unsubscribe(unsubscribe) => Ok(vec![self.unsubscribe(unsubscribe)]),
            Packet::PingReq => Ok(vec![Packet::PingResp]),
            Packet::Disconnect => Err(Ended::Disconnected),
            // Acknowledgements of what the hub sent at QoS 1: one of a cloud-to-device
            // message completes it; nothing else is resent.
            Packet::PubAck(ack) => {
                if let Some(sequence) = self.unacknowledged.remove(&ack.pkid) {
                    self.state
                        .cloud_to_device
                        .complete(&self.device_id, sequence);
                }
                Ok(Vec::new())
            }
            Packet::Connect(_) => Err(Ended::Violation(
                "a second CONNECT on one connection".into(),
            )),
            other => Err(Ended::Violation(format!("unexpected packet {other:?}"))),
        }
    }

    async fn publish(&mut self, publish: Publish) -> Result<Vec<Packet>, Ended> {
        if publish.qos == QoS::ExactlyOnce {
            return Err(Ended::Violation("QoS 2 is not supported by IoT Hub".into()));
        }
        let topic = parse_device_topic(
            &publish.topic,
            &self.client.device_id,
            self.client.module_id.as_deref(),
        )
        .map_err(|e| Ended::Violation(format!("publish refused: {e}")))?;
        let mut replies = match topic {
            DeviceTopic::TwinGet { rid } => self.twin_get(rid).into_iter().collect(),
            DeviceTopic::ReportedPatch { rid } => self
                .reported_patch(rid, &publish.payload)
                .await
                .into_iter()
                .collect(),
            DeviceTopic::MethodResponse { status, rid } => {
                self.method_response(status, &rid, &publish.payload);
                Vec::new()
            }
            DeviceTopic::Telemetry { properties, .. } => {
                let mut properties = properties
                    .into_iter()
                    .map(|(name, value)| (name, value.unwrap_or_default()))
                    .collect();
                stamp_telemetry_properties(&mut properties, self.client.model_id.as_deref());
                Activity::count(&self.state.activity.telemetry_messages);
                let dropped = self.state.telemetry.record(
                    &self.device_id,
                    properties,
                    &publish.payload,
                    chrono::Utc::now(),
                );
                Activity::add(&self.state.activity.telemetry_dropped, dropped);
                Vec::new()
            }
        };
        if publish.qos == QoS::AtLeastOnce {
            replies.insert(0, Packet::PubAck(PubAck::new(publish.pkid)));
        }
        Ok(replies)
    }

    fn twin_get(&mut self, rid: RequestId) -> Option<Packet> {
        match self.state.store.device_twin(&self.device_id) {
            Ok(twin) => self.twin_response(200, rid, None, twin.to_string()),
            Err(error) => self.twin_error(rid, &error),
        }
    }

    /// Writes a reported patch and answers once it is durable.
    async fn reported_patch(&mut self, rid: RequestId, payload: &Bytes) -> Option<Packet> {
        let patch = match serde_json::from_slice::<Value>(payload) {
            Ok(patch) => patch,
            Err(error) => {
                let error = HubError::ArgumentInvalid(format!(
                    "The reported properties patch is not valid JSON: {error}"
                ));
                return self.twin_error(rid, &error);
            }
        };
        let written = self
            .state
            .store
            .write_reported(&self.device_id, &patch, chrono::Utc::now());
        let durable = match written {
            Ok((version, pending)) => pending.durable().await.map(|()| version),
            Err(error) => Err(error),
        };
        match durable {
            Ok(version) => {
                Activity::count(&self.state.activity.reported_writes);
                self.twin_response(204, rid, Some(version), String::new())
            }
            Err(error) => self.twin_error(rid, &error),
        }
    }

    fn twin_error(&mut self, rid: RequestId, error: &HubError) -> Option<Packet> {
        tracing::debug!(device_id = self.device_id, "twin request refused: {error}");
        let body = json!({"errorCode": error.error_code(), "message": error.to_string()});
        self.twin_response(error.http_status(), rid, None, body.to_string())
    }

    /// The answer to a twin request, sent only to a device subscribed to
    /// `$iothub/twin/res/#`, as IoT Hub sends it (the request itself is still carried out).
    fn twin_response(
        &mut self,
        status: u16,
        rid: RequestId,
        version: Option<u64>,
        body: String,
    ) -> Option<Packet> {
        let Some(qos) = self.subscriptions.twin_responses else {
            tracing::debug!(
                device_id = self.device_id,
                status,
                "twin response not sent: the device has not subscribed to $iothub/twin/res/#"
            );
            return None;
        };
        let topic = HubTopic::TwinResponse {
            status,
            rid,
            version,
        }
        .to_topic();
        Some(self.outgoing(topic, qos, body.into_bytes()))
    }

    fn desired_push(&mut self, change: DesiredChange) -> Packet {
        let topic = HubTopic::DesiredPatch {
            version: change.version,
        }
        .to_topic();
        let qos = self
            .subscriptions
            .desired_patches
            .unwrap_or(QoS::AtMostOnce);
        self.outgoing(topic, qos, change.notification.to_string().into_bytes())
    }

    fn method_request(&mut self, call: MethodCall) -> Option<Packet> {
        self.next_rid += 1;
        let rid = RequestId::from(self.next_rid);
        // Forget calls whose caller gave up waiting.
        self.pending_methods.retain(|_, reply| !reply.is_closed());
        // The service API checked the name; a name that still cannot be a topic level
        // is dropped, and its caller sees the call time out.
        let name = MethodName::new(call.name.clone()).ok()?;
        self.pending_methods
            .insert(rid.as_str().to_owned(), call.reply);
        let topic = HubTopic::MethodRequest { name, rid }.to_topic();
        let qos = self
            .subscriptions
            .method_requests
            .unwrap_or(QoS::AtMostOnce);
        Some(self.outgoing(topic, qos, call.payload.to_string().into_bytes()))
    }

    fn method_response(&mut self, status: i64, rid: &RequestId, payload: &Bytes) {
        let Some(reply) = self.pending_methods.remove(rid.as_str()) else {
            tracing::debug!(
                device_id = self.device_id,
                rid = rid.as_str(),
                "method response for no pending call"
            );
            return;
        };
        let payload = if payload.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(payload)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
        };
        let _ = reply.send(MethodResponse { status, payload });
    }

    fn subscribe(&mut self, subscribe: Subscribe) -> Packet {
        let codes = subscribe
            .filters
            .iter()
            .map(|filter| {
                let Ok(subscription) = parse_subscription(
                    &filter.path,
                    &self.client.device_id,
                    self.client.module_id.as_deref(),
                ) else {
                    tracing::info!(
                        device_id = self.device_id,
                        filter = filter.path,
                        "subscription refused"
                    );
                    return SubscribeReasonCode::Failure;
                };
                // IoT Hub grants at most QoS 1.
                let qos = if filter.qos == QoS::AtMostOnce {
                    QoS::AtMostOnce
                } else {
                    QoS::AtLeastOnce
                };
                self.grant(subscription, Some(qos));
                SubscribeReasonCode::Success(qos)
            })
            .collect();
        self.state
            .sessions
            .remember(self.ticket, self.subscriptions);
        Packet::SubAck(SubAck::new(subscribe.pkid, codes))
    }

    fn unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Packet {
        for filter in &unsubscribe.topics {
            if let Ok(subscription) = parse_subscription(
                filter,
                &self.client.device_id,
                self.client.module_id.as_deref(),
            ) {
                self.grant(subscription, None);
            }
        }
        self.state
            .sessions
            .remember(self.ticket, self.subscriptions);
        Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid))
    }

    /// Takes up the subscriptions of a resumed persistent session.
    fn resume(&mut self, resumed: Subscriptions) {
        let Subscriptions {
            twin_responses,
            desired_patches,
            method_requests,
            cloud_to_device,
        } = resumed;
        self.grant(Subscription::TwinResponses, twin_responses);
        self.grant(Subscription::DesiredPatches, desired_patches);
        self.grant(Subscription::MethodRequests, method_requests);
        self.grant(Subscription::CloudToDevice, cloud_to_device);
    }

    /// Subscribes at `qos`, or unsubscribes (`None`).
    fn grant(&mut self, subscription: Subscription, qos: Option<QoS>) {
        match subscription {
            Subscription::TwinResponses => self.subscriptions.twin_responses = qos,
            Subscription::DesiredPatches => {
                self.subscriptions.desired_patches = qos;
                match qos {
                    None => self.desired = None,
                    Some(_) => {
                        let store = &self.state.store;
                        let device_id = &self.device_id;
                        self.desired
                            .get_or_insert_with(|| store.subscribe_desired(device_id));
                    }
                }
            }
            Subscription::MethodRequests => {
                self.subscriptions.method_requests = qos;
                match qos {
                    None => self.methods = None,
                    Some(_) => {
                        let methods = &self.state.methods;
                        let device_id = &self.device_id;
                        self.methods
                            .get_or_insert_with(|| methods.subscribe(device_id));
                    }
                }
            }
            Subscription::CloudToDevice => {
                self.subscriptions.cloud_to_device = qos;
                // IoT Hub sends modules no cloud-to-device messages; their subscription
                // is accepted all the same.
                if self.client.module_id.is_some() {
                    return;
                }
                match qos {
                    None => self.cloud_messages = None,
                    Some(_) => {
                        let signal = self.state.cloud_to_device.ready_signal(&self.device_id);
                        // What is queued already goes out now.
                        signal.notify_one();
                        self.cloud_messages = Some(signal);
                    }
                }
            }
        }
    }

    /// Publishes the cloud-to-device messages ready for the device, oldest first. At
    /// QoS 1 the device's PUBACK completes each; at QoS 0 sending it does.
    fn cloud_to_device_messages(&mut self) -> Vec<Packet> {
        let Some(qos) = self.subscriptions.cloud_to_device else {
            return Vec::new();
        };
        let queues = self.state.cloud_to_device.clone();
        let deliveries = queues.take_ready(&self.device_id, chrono::Utc::now());
        deliveries
            .into_iter()
            .map(|delivery| {
                let topic = HubTopic::CloudToDevice {
                    device_id: self.client.device_id.clone(),
                    properties: delivery.properties,
                }
                .to_topic();
                let packet = self.outgoing(topic, qos, delivery.body.to_vec());
                match &packet {
                    Packet::Publish(publish) if qos == QoS::AtLeastOnce => {
                        self.unacknowledged.insert(publish.pkid, delivery.sequence);
                    }
                    _ => queues.complete(&self.device_id, delivery.sequence),
                }
                packet
            })
            .collect()
    }

    /// Hands the messages the device did not acknowledge back to its queue, for its
    /// next session.
    fn give_back_cloud_messages(&mut self) {
        self.cloud_messages = None;
        let sequences: Vec<u64> = self.unacknowledged.drain().map(|(_, s)| s).collect();
        self.state
            .cloud_to_device
            .end_session(&self.device_id, &sequences);
    }

    fn outgoing(&mut self, topic: String, qos: QoS, payload: Vec<u8>) -> Packet {
        let mut publish = Publish::new(topic, qos, payload);
        if qos != QoS::AtMostOnce {
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            publish.pkid = self.next_packet_id;
        }
        Packet::Publish(publish)
    }
}
