//! Persistent MQTT sessions (MQTT 3.1.1 section 3.1.2.4), with raw packets: a device
//! that connects with CleanSession=0 keeps its subscriptions across reconnects and
//! token renewals, and CONNACK says session-present=1, as IoT Hub does; CleanSession=1
//! starts fresh and keeps nothing.

use crate::common;

use std::time::Duration;

use bytes::BytesMut;
use common::HubProcess;
use common::device::register;
use reqwest::Method;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Connect, Packet, PubAck, Publish, Subscribe, SubscribeFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A device speaking MQTT packet by packet over one TCP connection.
struct RawDevice {
    stream: TcpStream,
    received: BytesMut,
}

impl RawDevice {
    /// Connects with a token valid for `valid_for` seconds; returns the device and the
    /// CONNACK's session-present flag.
    async fn connect(
        hub: &HubProcess,
        device_id: &str,
        key: &str,
        clean_session: bool,
        valid_for: u64,
    ) -> (RawDevice, bool) {
        let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut device = RawDevice {
            stream,
            received: BytesMut::new(),
        };
        let password = common::device::connection_string(device_id, key)
            .sas_token(common::now() + valid_for)
            .to_string();
        let mut connect = Connect::new(device_id);
        connect.clean_session = clean_session;
        connect.keep_alive = 60;
        connect.set_login(
            format!("localhost/{device_id}/?api-version=2021-04-12"),
            password,
        );
        device.send(Packet::Connect(connect)).await;
        match device.next().await {
            Packet::ConnAck(connack) => {
                assert_eq!(
                    connack.code,
                    rumqttc::mqttbytes::v4::ConnectReturnCode::Success
                );
                (device, connack.session_present)
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    async fn send(&mut self, packet: Packet) {
        let bytes = common::packet_bytes(packet);
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// The next packet from the hub (within 10 s).
    async fn next(&mut self) -> Packet {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(packet) = common::take_packet(&mut self.received) {
                    return packet;
                }
                let read = self.stream.read_buf(&mut self.received).await.unwrap();
                assert!(read > 0, "the hub closed the connection");
            }
        })
        .await
        .expect("a packet from the hub within 10 s")
    }

    /// The next PUBLISH, acknowledged when it is QoS 1.
    async fn next_publish(&mut self) -> Publish {
        match self.next().await {
            Packet::Publish(publish) => {
                if publish.qos == QoS::AtLeastOnce {
                    self.send(Packet::PubAck(PubAck::new(publish.pkid))).await;
                }
                publish
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    async fn subscribe_to_everything(&mut self) {
        let filters = [
            "$iothub/twin/res/#",
            "$iothub/twin/PATCH/properties/desired/#",
            "$iothub/methods/POST/#",
        ]
        .map(|path| SubscribeFilter::new(path.into(), QoS::AtLeastOnce));
        let mut subscribe = Subscribe::new_many(filters);
        subscribe.pkid = 1;
        self.send(Packet::Subscribe(subscribe)).await;
        match self.next().await {
            Packet::SubAck(suback) => assert_eq!(suback.return_codes.len(), 3),
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Answers the next direct method call with its own payload and status 200.
    async fn answer_method(&mut self) -> String {
        let request = self.next_publish().await;
        let (name, rid) = request
            .topic
            .strip_prefix("$iothub/methods/POST/")
            .expect("a method call")
            .split_once("/?$rid=")
            .unwrap();
        let response = Publish::new(
            format!("$iothub/methods/res/200/?$rid={rid}"),
            QoS::AtMostOnce,
            request.payload.to_vec(),
        );
        self.send(Packet::Publish(response)).await;
        name.to_owned()
    }

    async fn disconnect(mut self) {
        self.send(Packet::Disconnect).await;
        let mut rest = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.stream.read_to_end(&mut rest)).await;
    }
}

/// Calls a method on `device_id` and returns the HTTP status and the body (for an
/// error, its `iothub-errorcode` header).
async fn invoke(hub: &HubProcess, device_id: &str, name: &str) -> (u16, Value) {
    let call = json!({
        "methodName": name,
        "payload": {"n": 1},
        "responseTimeoutInSeconds": 10,
        "connectTimeoutInSeconds": 0
    });
    let response = hub
        .send_json(Method::POST, &format!("/twins/{device_id}/methods"), &call)
        .await;
    let status = response.status().as_u16();
    match response.headers().get("iothub-errorcode") {
        Some(code) => (status, json!(code.to_str().unwrap())),
        None => (status, response.json().await.unwrap()),
    }
}

/// Checks that the session, without subscribing, receives a method call, a desired
/// push and a twin response at QoS 1.
async fn check_subscriptions_hold(hub: &HubProcess, device: &mut RawDevice, round: u32) {
    let method = format!("m{round}");
    let ((status, body), name) = tokio::join!(invoke(hub, "d1", &method), device.answer_method());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"status": 200, "payload": {"n": 1}}));
    assert_eq!(name, format!("m{round}"));

    let patch = json!({"properties": {"desired": {"round": round}}});
    let response = hub.send_json(Method::PATCH, "/twins/d1", &patch).await;
    assert_eq!(response.status(), 200);
    let pushed = device.next_publish().await;
    assert!(
        pushed
            .topic
            .starts_with("$iothub/twin/PATCH/properties/desired/?$version="),
        "{}",
        pushed.topic
    );
    let pushed: Value = serde_json::from_slice(&pushed.payload).unwrap();
    assert_eq!(pushed["round"], round);

    let mut get = Publish::new(
        format!("$iothub/twin/GET/?$rid=get{round}"),
        QoS::AtMostOnce,
        Vec::new(),
    );
    get.pkid = 0;
    device.send(Packet::Publish(get)).await;
    let answer = device.next_publish().await;
    assert_eq!(
        answer.topic,
        format!("$iothub/twin/res/200/?$rid=get{round}")
    );
    assert_eq!(answer.qos, QoS::AtLeastOnce, "subscribed at QoS 1");
}

#[tokio::test]
async fn a_persistent_session_keeps_its_subscriptions_across_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "d1").await;

    let (mut device, present) = RawDevice::connect(&hub, "d1", &key, false, 600).await;
    assert!(!present, "no session existed yet");
    device.subscribe_to_everything().await;
    check_subscriptions_hold(&hub, &mut device, 1).await;
    device.disconnect().await;

    // A token renewal, as the Node.js SDK does it: a new connection with a new token and
    // CleanSession=0, and no SUBSCRIBE.
    let (mut device, present) = RawDevice::connect(&hub, "d1", &key, false, 1200).await;
    assert!(present, "CONNACK session-present=1 for a resumed session");
    check_subscriptions_hold(&hub, &mut device, 2).await;

    // The connection dropped without DISCONNECT, and the device back before the hub
    // noticed: the new connection takes over and still resumes the session.
    let (mut device, present) = RawDevice::connect(&hub, "d1", &key, false, 1800).await;
    assert!(present);
    check_subscriptions_hold(&hub, &mut device, 3).await;

    // CleanSession=1 starts fresh: no subscriptions, so a method call finds no device.
    let (mut clean, present) = RawDevice::connect(&hub, "d1", &key, true, 600).await;
    assert!(!present, "a clean session is never present");
    // Not subscribed to twin responses: a twin request goes unanswered, as on IoT Hub
    // (the ping after it is answered first).
    let get = Publish::new(
        "$iothub/twin/GET/?$rid=unanswered",
        QoS::AtMostOnce,
        Vec::new(),
    );
    clean.send(Packet::Publish(get)).await;
    clean.send(Packet::PingReq).await;
    assert_eq!(clean.next().await, Packet::PingResp);
    let (status, code) = invoke(&hub, "d1", "nobody-listens").await;
    assert_eq!((status, code), (404, json!("DeviceNotOnline")));
    clean.disconnect().await;

    // ... and discards the kept session.
    let (device, present) = RawDevice::connect(&hub, "d1", &key, false, 600).await;
    assert!(!present, "the clean session discarded the kept one");
    device.disconnect().await;
}

#[tokio::test]
async fn a_deleted_device_created_again_starts_a_new_session() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "d1").await;
    let (mut device, _) = RawDevice::connect(&hub, "d1", &key, false, 600).await;
    device.subscribe_to_everything().await;
    device.disconnect().await;

    let response = hub
        .request(Method::DELETE, "/devices/d1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let key = register(&hub, "d1").await;
    let (device, present) = RawDevice::connect(&hub, "d1", &key, false, 600).await;
    assert!(!present, "the deleted device's session went with it");
    device.disconnect().await;
}
