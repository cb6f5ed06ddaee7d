//! The local hub's device MQTT endpoint with rumqttc as the device: twin GET,
//! reported patches, desired pushes, direct methods, telemetry, authentication,
//! takeover, connection state and protocol violations.

use crate::common;

use std::time::Duration;

use common::HubProcess;
use common::device::{TestDevice, register};
use reqwest::Method;
use rumqttc::{QoS, SubscribeReasonCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn hub() -> (tempfile::TempDir, HubProcess) {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    (dir, hub)
}

/// A CONNECT for `device_id` with a valid SAS token.
fn signed_connect(device_id: &str, key: &str) -> rumqttc::Connect {
    let password = common::device::connection_string(device_id, key)
        .sas_token(common::now() + 600)
        .to_string();
    let mut connect = rumqttc::Connect::new(device_id);
    connect.set_login(
        format!("localhost/{device_id}/?api-version=2021-04-12"),
        password,
    );
    connect
}

/// The bytes of a CONNECT packet, for raw-socket tests.
fn packet_of(connect: rumqttc::Connect) -> bytes::BytesMut {
    let mut bytes = bytes::BytesMut::new();
    rumqttc::Packet::Connect(connect)
        .write(&mut bytes, 4096)
        .unwrap();
    bytes
}

/// A CONNECT packet for `device_id` with a valid SAS token, for raw-socket tests.
fn connect_packet(device_id: &str, key: &str, keep_alive: u16) -> bytes::BytesMut {
    let mut connect = signed_connect(device_id, key);
    connect.keep_alive = keep_alive;
    packet_of(connect)
}

fn json_of(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap()
}

async fn twin(hub: &HubProcess, id: &str) -> Value {
    hub.get_json(&format!("/twins/{id}")).await
}

#[tokio::test]
async fn twin_get_and_reported_patches() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let mut device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    device.subscribe("$iothub/twin/res/#").await;

    device.publish("$iothub/twin/GET/?$rid=1", "").await;
    let response = device.next_publish().await;
    assert_eq!(response.topic, "$iothub/twin/res/200/?$rid=1");
    let body = json_of(&response.payload);
    assert_eq!(body["desired"]["$version"], 1);
    assert_eq!(body["reported"]["$version"], 1);
    assert!(body["desired"].get("$metadata").is_none());
    assert!(body.get("tags").is_none());

    device
        .publish(
            "$iothub/twin/PATCH/properties/reported/?$rid=abc-2",
            r#"{"temp": 21.5, "fw": {"v": "1.0"}}"#,
        )
        .await;
    let response = device.next_publish().await;
    assert_eq!(
        response.topic,
        "$iothub/twin/res/204/?$rid=abc-2&$version=2"
    );

    device
        .publish(
            "$iothub/twin/PATCH/properties/reported/?$rid=3",
            r#"{"bad key": 1}"#,
        )
        .await;
    let response = device.next_publish().await;
    assert_eq!(response.topic, "$iothub/twin/res/400/?$rid=3");
    assert_eq!(json_of(&response.payload)["errorCode"], 400004);
    device
        .publish("$iothub/twin/PATCH/properties/reported/?$rid=4", "not json")
        .await;
    assert_eq!(
        device.next_publish().await.topic,
        "$iothub/twin/res/400/?$rid=4"
    );

    let twin = twin(&hub, "d1").await;
    assert_eq!(twin["properties"]["reported"]["temp"], 21.5);
    assert_eq!(twin["properties"]["reported"]["$version"], 2);
    assert!(twin["properties"]["reported"].get("bad key").is_none());
}

#[tokio::test]
async fn desired_changes_are_pushed_in_order() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let mut device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    device
        .subscribe("$iothub/twin/PATCH/properties/desired/#")
        .await;
    for n in 1..=20 {
        let patch = json!({"properties": {"desired": {"setting": n}}});
        let response = hub.send_json(Method::PATCH, "/twins/d1", &patch).await;
        assert_eq!(response.status(), 200);
    }
    // A tags-only write does not notify the device.
    hub.request(Method::PATCH, "/twins/d1")
        .json(&json!({"tags": {"t": 1}}))
        .send()
        .await
        .unwrap();
    for n in 1..=20u64 {
        let push = device.next_publish().await;
        assert_eq!(
            push.topic,
            format!("$iothub/twin/PATCH/properties/desired/?$version={}", n + 1)
        );
        let body = json_of(&push.payload);
        assert_eq!(body["setting"], n);
        assert_eq!(body["$version"], n + 1);
    }
    let replacement = json!({"properties": {"desired": {"other": true}}});
    hub.send_json(Method::PUT, "/twins/d1", &replacement).await;
    let push = device.next_publish().await;
    let body = json_of(&push.payload);
    assert_eq!(body["other"], true);
    assert!(
        body["setting"].is_null() && body.get("setting").is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn direct_methods_round_trip_and_time_out() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let mut device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    device.subscribe("$iothub/methods/POST/#").await;
    let client = device.client.clone();
    let answering = tokio::spawn(async move {
        let request = device.next_publish().await;
        let (name, rid) = request
            .topic
            .strip_prefix("$iothub/methods/POST/")
            .unwrap()
            .split_once("/?$rid=")
            .unwrap();
        assert_eq!(name, "reboot");
        assert_eq!(json_of(&request.payload), json!({"delay": 5}));
        let answer = json!({"accepted": true});
        client
            .publish(
                format!("$iothub/methods/res/201/?$rid={rid}"),
                rumqttc::QoS::AtLeastOnce,
                false,
                answer.to_string(),
            )
            .await
            .unwrap();
        // The next call is left unanswered.
        device.next_publish().await
    });
    let call =
        json!({"methodName": "reboot", "payload": {"delay": 5}, "responseTimeoutInSeconds": 10});
    let response = hub
        .send_json(Method::POST, "/twins/d1/methods", &call)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": 201, "payload": {"accepted": true}}));

    let silent = json!({"methodName": "silent", "payload": null, "responseTimeoutInSeconds": 5});
    let response = hub
        .send_json(Method::POST, "/twins/d1/methods", &silent)
        .await;
    common::assert_azure_error(response, 504, 504101).await;
    let unanswered = answering.await.unwrap();
    assert!(
        unanswered
            .topic
            .starts_with("$iothub/methods/POST/silent/?$rid=")
    );
}

#[tokio::test]
async fn bad_credentials_are_refused() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let other_key = register(&hub, "d2").await;
    let wrong = TestDevice::connect(&hub, "d1", &other_key)
        .await
        .err()
        .unwrap();
    assert!(wrong.contains("NotAuthorized"), "{wrong}");
    let garbage = TestDevice::connect_with_password(&hub, "d1", "not a token")
        .await
        .err()
        .unwrap();
    assert!(garbage.contains("NotAuthorized"), "{garbage}");
    let unknown = TestDevice::connect(&hub, "ghost", &key)
        .await
        .err()
        .unwrap();
    assert!(unknown.contains("NotAuthorized"), "{unknown}");
    assert!(TestDevice::connect(&hub, "d1", &key).await.is_ok());
}

#[tokio::test]
async fn a_new_connection_takes_over_and_state_follows() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    assert_eq!(twin(&hub, "d1").await["connectionState"], "Disconnected");
    let mut first = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    let connected = twin(&hub, "d1").await;
    assert_eq!(connected["connectionState"], "Connected");
    assert_ne!(connected["lastActivityTime"], "0001-01-01T00:00:00Z");
    let identity: Value = hub.get_json("/devices/d1").await;
    assert_eq!(identity["connectionState"], "Connected");

    let mut second = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    let reason = first.ended().await;
    assert!(reason.starts_with("ended"), "{reason}");
    // The new session works and the device still counts as connected.
    second.subscribe("$iothub/twin/res/#").await;
    second.publish("$iothub/twin/GET/?$rid=7", "").await;
    assert_eq!(
        second.next_publish().await.topic,
        "$iothub/twin/res/200/?$rid=7"
    );
    assert_eq!(twin(&hub, "d1").await["connectionState"], "Connected");

    second.client.disconnect().await.unwrap();
    wait_for_connection_state(&hub, "d1", "Disconnected").await;

    // Disabling a connected device closes its session and marks it disconnected.
    let mut third = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    wait_for_connection_state(&hub, "d1", "Connected").await;
    let mut identity: Value = hub.get_json("/devices/d1").await;
    identity["status"] = json!("disabled");
    let response = hub
        .request(Method::PUT, "/devices/d1")
        .header("If-Match", "*")
        .json(&identity)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reason = third.ended().await;
    assert!(reason.starts_with("ended"), "{reason}");
    wait_for_connection_state(&hub, "d1", "Disconnected").await;
    let identity: Value = hub.get_json("/devices/d1").await;
    assert_eq!(identity["connectionState"], "Disconnected");
}

/// Polls the twin until its `connectionState` is `expected` (five seconds at most).
async fn wait_for_connection_state(hub: &HubProcess, device_id: &str, expected: &str) {
    let mut state = Value::Null;
    for _ in 0..50 {
        state = twin(hub, device_id).await["connectionState"].clone();
        if state == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{device_id} stayed {state} instead of {expected}");
}

#[tokio::test]
async fn telemetry_is_counted_and_kept() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    for n in 0..3 {
        let topic =
            "devices/d1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8&unit=celsius";
        device
            .publish(topic, json!({"temp": 20 + n}).to_string())
            .await;
    }
    device
        .client
        .publish(
            "devices/d1/messages/events/",
            rumqttc::QoS::AtMostOnce,
            false,
            "plain",
        )
        .await
        .unwrap();
    let mut telemetry = Value::Null;
    for _ in 0..50 {
        telemetry = hub.get_json("/twinlens/devices/d1/telemetry").await;
        if telemetry["count"] == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(telemetry["count"], 4);
    assert_eq!(telemetry["messages"][0]["body"], "{\"temp\":20}");
    assert_eq!(
        telemetry["messages"][0]["properties"][0],
        json!(["$.ct", "application/json"])
    );
    assert_eq!(telemetry["messages"][3]["body"], "plain");
    let missing = hub
        .request(Method::GET, "/twinlens/devices/ghost/telemetry")
        .send()
        .await
        .unwrap();
    common::assert_azure_error(missing, 404, 404001).await;
}

#[tokio::test]
async fn violations_close_only_the_offending_connection() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let key2 = register(&hub, "d2").await;
    let mut bystander = TestDevice::connect(&hub, "d2", &key2).await.unwrap();
    bystander.subscribe("$iothub/twin/res/#").await;

    let mut offender = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    // Telemetry under another device's id.
    offender.publish("devices/d2/messages/events/", "x").await;
    assert!(offender.ended().await.starts_with("ended"));

    let mut offender = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    offender.publish("some/other/topic", "x").await;
    assert!(offender.ended().await.starts_with("ended"));

    // A disallowed subscription is refused (0x80) without closing the connection.
    let mut polite = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    for filter in ["devices/d2/messages/devicebound/#", "#", "some/topic"] {
        assert_eq!(
            polite.subscribe(filter).await,
            SubscribeReasonCode::Failure,
            "{filter}"
        );
    }
    assert_eq!(
        polite.subscribe("$iothub/twin/res/#").await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    polite.publish("$iothub/twin/GET/?$rid=1", "").await;
    assert_eq!(
        polite.next_publish().await.topic,
        "$iothub/twin/res/200/?$rid=1"
    );

    // A packet over IoT Hub's 256 KB message limit.
    let mut offender = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    offender
        .publish("devices/d1/messages/events/", vec![b'x'; 300 * 1024])
        .await;
    assert!(offender.ended().await.starts_with("ended"));

    // A second CONNECT on an open connection.
    let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let bytes = connect_packet("d1", &key, 60);
    stream.write_all(&bytes).await.unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "accepted");
    stream.write_all(&bytes).await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a second CONNECT closes the connection");

    // A device silent for 1.5 times its keep-alive is disconnected.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(&connect_packet("d1", &key, 1))
        .await
        .unwrap();
    stream.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0], "accepted");
    let started = std::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the keep-alive expired");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "closed too early: {:?}",
        started.elapsed()
    );

    bystander.publish("$iothub/twin/GET/?$rid=9", "").await;
    assert_eq!(
        bystander.next_publish().await.topic,
        "$iothub/twin/res/200/?$rid=9"
    );
}

#[tokio::test]
async fn a_device_that_stops_reading_is_dropped_at_its_keep_alive() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
    // A tiny receive window, so the hub's writes block once the device stops reading.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    let subscribe =
        rumqttc::Subscribe::new("$iothub/twin/PATCH/properties/desired/#", QoS::AtMostOnce);
    let mut bytes = connect_packet("d1", &key, 2);
    rumqttc::Packet::Subscribe(subscribe)
        .write(&mut bytes, 4096)
        .unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut acks = [0u8; 9];
    stream.read_exact(&mut acks).await.unwrap();
    assert_eq!(acks[..4], [0x20, 2, 0, 0], "CONNACK accepted");
    assert_eq!(acks[4], 0x90, "SUBACK");
    wait_for_connection_state(&hub, "d1", "Connected").await;

    // About 7 MB of desired pushes the device never reads, and no PINGREQ either.
    for round in 0..250 {
        let values: serde_json::Map<String, Value> = (0..7)
            .map(|key| {
                (
                    format!("k{key}"),
                    json!(format!("{round:04}{}", "x".repeat(3990))),
                )
            })
            .collect();
        let patch = json!({"properties": {"desired": values}});
        let response = hub.send_json(Method::PATCH, "/twins/d1", &patch).await;
        assert_eq!(response.status(), 200);
        if twin(&hub, "d1").await["connectionState"] == "Disconnected" {
            break;
        }
    }
    wait_for_connection_state(&hub, "d1", "Disconnected").await;
    drop(stream);
}

#[tokio::test]
async fn mqtt5_and_garbage_get_answers_not_crashes() {
    let (_dir, hub) = hub();
    let port = hub.ready["mqtt_port"].as_u64().unwrap();
    // An MQTT 5 CONNECT gets CONNACK "unacceptable protocol version".
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", u16::try_from(port).unwrap()))
        .await
        .unwrap();
    stream
        .write_all(&[0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 0])
        .await
        .unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack, [0x20, 2, 0, 1]);
    // Garbage closes the connection.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", u16::try_from(port).unwrap()))
        .await
        .unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the hub closed the connection");
    // Short and truncated CONNECTs, and one with the reserved flag bit, are closed.
    let key = register(&hub, "d1").await;
    let mut reserved_flag = connect_packet("d1", &key, 60).to_vec();
    // The connect flags follow the protocol name "MQTT" and level 4.
    let name = reserved_flag.windows(4).position(|w| w == b"MQTT").unwrap();
    reserved_flag[name + 5] |= 0x01;
    for bytes in [
        vec![0x10, 0x00],
        vec![0x10, 0x01, 0x00],
        vec![0x10, 0x02, 0x00, 0x04],
        reserved_flag,
    ] {
        let mut stream =
            tokio::net::TcpStream::connect(("127.0.0.1", u16::try_from(port).unwrap()))
                .await
                .unwrap();
        stream.write_all(&bytes).await.unwrap();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "the hub closed the connection after {bytes:?}"
        );
        assert!(rest.is_empty(), "no CONNACK after {bytes:?}: {rest:?}");
    }
    // The hub still serves.
    assert!(TestDevice::connect(&hub, "d1", &key).await.is_ok());
}

/// A CONNECT like [`connect_packet`]'s, with a Will on `will_topic`.
fn connect_packet_with_will(device_id: &str, key: &str, will_topic: &str) -> bytes::BytesMut {
    let mut connect = signed_connect(device_id, key);
    connect.last_will = Some(rumqttc::LastWill::new(
        will_topic,
        "connection lost",
        QoS::AtLeastOnce,
        false,
    ));
    packet_of(connect)
}

#[tokio::test]
async fn telemetry_history_keeps_the_newest_messages() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--telemetry-history", "2"]);
    let key = register(&hub, "d1").await;
    let device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    for n in 0..5 {
        device
            .publish("devices/d1/messages/events/", n.to_string())
            .await;
    }
    let mut telemetry = Value::Null;
    for _ in 0..50 {
        telemetry = hub.get_json("/twinlens/devices/d1/telemetry").await;
        if telemetry["count"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(telemetry["count"], 5, "{telemetry}");
    let bodies: Vec<&str> = telemetry["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["3", "4"]);
}

#[tokio::test]
async fn a_will_is_sent_as_telemetry_when_the_device_vanishes() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
    let connect = |topic: &'static str| {
        let packet = connect_packet_with_will("d1", &key, topic);
        async move {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            stream.write_all(&packet).await.unwrap();
            let mut connack = [0u8; 4];
            stream.read_exact(&mut connack).await.unwrap();
            (stream, connack)
        }
    };
    // A Will outside the device's telemetry topic is refused, as IoT Hub refuses it.
    let (_, connack) = connect("devices/d1/messages/devicebound/").await;
    assert_eq!(connack, [0x20, 2, 0, 5], "refused: not authorized");

    // A clean DISCONNECT sends no Will.
    let (mut stream, connack) = connect("devices/d1/messages/events/reason=gone").await;
    assert_eq!(connack, [0x20, 2, 0, 0]);
    stream.write_all(&[0xe0, 0x00]).await.unwrap();
    wait_for_connection_state(&hub, "d1", "Disconnected").await;
    assert_eq!(
        hub.get_json("/twinlens/devices/d1/telemetry").await["count"],
        0
    );

    // A connection that just drops sends it.
    let (stream, connack) = connect("devices/d1/messages/events/reason=gone").await;
    assert_eq!(connack, [0x20, 2, 0, 0]);
    drop(stream);
    wait_for_connection_state(&hub, "d1", "Disconnected").await;
    let mut telemetry = Value::Null;
    for _ in 0..50 {
        telemetry = hub.get_json("/twinlens/devices/d1/telemetry").await;
        if telemetry["count"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(telemetry["count"], 1, "{telemetry}");
    let will = &telemetry["messages"][0];
    assert_eq!(will["body"], "connection lost");
    assert_eq!(
        will["properties"],
        json!([["reason", "gone"], ["iothub-MessageType", "Will"]])
    );
}

/// Many connections of one device racing to take over each other's sessions and closing
/// as they go: the device must end Disconnected every time, however the session starts
/// and ends interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_takeovers_end_disconnected() {
    let (_dir, hub) = hub();
    let key = register(&hub, "d1").await;
    let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
    let packet = connect_packet("d1", &key, 60).freeze();
    for _ in 0..20 {
        let mut racers = Vec::new();
        for _ in 0..8 {
            let packet = packet.clone();
            racers.push(tokio::spawn(async move {
                for client in 0..10 {
                    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .unwrap();
                    stream.write_all(&packet).await.unwrap();
                    // Half the clients go away before their CONNACK, half after it.
                    if client % 2 == 0 {
                        let mut connack = [0u8; 4];
                        let _ = stream.read_exact(&mut connack).await;
                    }
                }
            }));
        }
        for racer in racers {
            racer.await.unwrap();
        }
        wait_for_connection_state(&hub, "d1", "Disconnected").await;
    }
}
