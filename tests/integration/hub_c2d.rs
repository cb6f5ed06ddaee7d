//! Cloud-to-device messages on the local hub: sent over the service REST route, queued
//! per device, delivered over MQTT with Azure's property bag, completed by PUBACK,
//! limited, expired, purged, and kept across a hard kill.

use crate::common;

use std::time::Duration;

use common::HubProcess;
use common::device::{TestDevice, register};
use reqwest::Method;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, Subscribe};
use rumqttc::{QoS, SubscribeReasonCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const C2D_FILTER: &str = "devices/d1/messages/devicebound/#";

fn hub_in(dir: &tempfile::TempDir) -> HubProcess {
    HubProcess::start(dir.path(), &[])
}

async fn send(hub: &HubProcess, device_id: &str, body: &str) -> reqwest::Response {
    hub.request(
        Method::POST,
        &format!("/devices/{device_id}/messages/deviceBound"),
    )
    .body(body.to_owned())
    .send()
    .await
    .unwrap()
}

async fn send_ok(hub: &HubProcess, device_id: &str, body: &str) {
    let response = send(hub, device_id, body).await;
    assert_eq!(response.status(), 204, "{:?}", response.text().await);
}

/// `cloudToDeviceMessageCount` of the identity and of the twin.
async fn counts(hub: &HubProcess, device_id: &str) -> (Value, Value) {
    let identity = hub.get_json(&format!("/devices/{device_id}")).await;
    let twin = hub.get_json(&format!("/twins/{device_id}")).await;
    (
        identity["cloudToDeviceMessageCount"].clone(),
        twin["cloudToDeviceMessageCount"].clone(),
    )
}

async fn wait_for_count(hub: &HubProcess, device_id: &str, expected: u64) {
    for _ in 0..100 {
        if counts(hub, device_id).await == (json!(expected), json!(expected)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "cloudToDeviceMessageCount stayed {:?}, expected {expected}",
        counts(hub, device_id).await
    );
}

async fn subscribed_device(hub: &HubProcess, key: &str) -> TestDevice {
    let mut device = TestDevice::connect(hub, "d1", key).await.unwrap();
    assert_eq!(
        device.subscribe(C2D_FILTER).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    device
}

#[tokio::test]
async fn a_message_reaches_the_device_with_every_property() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir);
    let key = register(&hub, "d1").await;
    let mut device = subscribed_device(&hub, &key).await;
    let response = hub
        .request(Method::POST, "/devices/d1/messages/deviceBound")
        .header("Content-Type", "application/json")
        .header("iothub-messageid", "m-1")
        .header("iothub-correlationid", "c-1")
        .header("iothub-userid", "ops")
        .header("iothub-expiry", "2099-01-02T03:04:05Z")
        .header("iothub-ack", "full")
        .header("iothub-contenttype", "application/json")
        .header("iothub-contentencoding", "utf-8")
        .header("iothub-app-color", "red blue")
        .header("iothub-app-tricky", "a&b=c/d+%")
        .body(r#"{"led":"on"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        response.bytes().await.unwrap().is_empty(),
        "204 has no body"
    );
    let publish = device.next_publish().await;
    assert_eq!(
        publish.topic,
        "devices/d1/messages/devicebound/%24.mid=m-1&%24.cid=c-1&%24.uid=ops\
         &%24.exp=2099-01-02T03%3A04%3A05.0000000Z\
         &%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound\
         &%24.ct=application%2Fjson&%24.ce=utf-8&iothub-ack=full\
         &color=red%20blue&tricky=a%26b%3Dc%2Fd%2B%25"
    );
    assert_eq!(publish.qos, QoS::AtLeastOnce);
    assert_eq!(&publish.payload[..], br#"{"led":"on"}"#);
    // The device's PUBACK (sent by its client) completes it.
    wait_for_count(&hub, "d1", 0).await;

    // A message with no properties still carries `$.to`, and module routes have none.
    send_ok(&hub, "d1", "plain").await;
    let publish = device.next_publish().await;
    assert_eq!(
        publish.topic,
        "devices/d1/messages/devicebound/%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound"
    );
    let module_route = hub
        .request(Method::POST, "/devices/d1/modules/m1/messages/deviceBound")
        .body("x")
        .send()
        .await
        .unwrap();
    // IoT Hub sends modules no cloud-to-device messages.
    common::assert_azure_error(module_route, 400, 400004).await;
}

/// A raw device: CONNECT (clean session) and SUBSCRIBE to its messages.
async fn raw_subscribed_device(hub: &HubProcess, key: &str) -> tokio::net::TcpStream {
    let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let password = common::device::connection_string("d1", key)
        .sas_token(common::now() + 600)
        .to_string();
    let mut connect = rumqttc::mqttbytes::v4::Connect::new("d1");
    connect.set_login("localhost/d1/?api-version=2021-04-12", password);
    let mut subscribe = Subscribe::new(C2D_FILTER, QoS::AtLeastOnce);
    subscribe.pkid = 1;
    let mut bytes = common::packet_bytes(Packet::Connect(connect));
    bytes.extend(common::packet_bytes(Packet::Subscribe(subscribe)));
    stream.write_all(&bytes).await.unwrap();
    stream
}

/// Reads packets until `count` PUBLISHes arrived; returns them.
async fn read_publishes(stream: &mut tokio::net::TcpStream, count: usize) -> Vec<Publish> {
    let mut received = bytes::BytesMut::new();
    let mut publishes = Vec::new();
    while publishes.len() < count {
        while let Some(packet) = common::take_packet(&mut received) {
            if let Packet::Publish(publish) = packet {
                publishes.push(publish);
            }
        }
        if publishes.len() == count {
            break;
        }
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the hub sent the messages within 10 s")
            .unwrap();
        assert!(read > 0, "the hub closed the connection");
        received.extend_from_slice(&chunk[..read]);
    }
    publishes
}

#[tokio::test]
async fn messages_wait_for_the_device_and_unacknowledged_ones_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir);
    let key = register(&hub, "d1").await;
    for body in ["one", "two", "three"] {
        send_ok(&hub, "d1", body).await;
    }
    assert_eq!(counts(&hub, "d1").await, (json!(3), json!(3)));

    // The device takes all three, acknowledges only the first, and goes away.
    let mut stream = raw_subscribed_device(&hub, &key).await;
    let publishes = read_publishes(&mut stream, 3).await;
    let bodies: Vec<&[u8]> = publishes.iter().map(|p| &p.payload[..]).collect();
    assert_eq!(bodies, vec![&b"one"[..], b"two", b"three"]);
    stream
        .write_all(&common::packet_bytes(Packet::PubAck(PubAck::new(
            publishes[0].pkid,
        ))))
        .await
        .unwrap();
    wait_for_count(&hub, "d1", 2).await;
    drop(stream);

    // Its next connection gets the other two again, in order.
    let mut device = subscribed_device(&hub, &key).await;
    assert_eq!(&device.next_publish().await.payload[..], b"two");
    assert_eq!(&device.next_publish().await.payload[..], b"three");
    wait_for_count(&hub, "d1", 0).await;
}

#[tokio::test]
async fn the_queue_limit_size_limit_and_purge_answer_as_azure_does() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir);
    register(&hub, "d1").await;
    for n in 0..50 {
        send_ok(&hub, "d1", &n.to_string()).await;
    }
    let refused = send(&hub, "d1", "fifty-one").await;
    let message = common::assert_azure_error(refused, 403, 403004).await;
    assert!(message.contains("queue limit of 50"), "{message}");
    assert_eq!(counts(&hub, "d1").await, (json!(50), json!(50)));

    let purged = hub
        .request(Method::DELETE, "/devices/d1/commands")
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 200);
    assert_eq!(
        purged.json::<Value>().await.unwrap(),
        json!({"deviceId": "d1", "moduleId": null, "totalMessagesPurged": 50})
    );
    wait_for_count(&hub, "d1", 0).await;

    let large = send(&hub, "d1", &"x".repeat(64 * 1024 + 1)).await;
    common::assert_azure_error(large, 413, 413001).await;
    send_ok(&hub, "d1", &"x".repeat(64 * 1024)).await;
    let unknown = send(&hub, "ghost", "x").await;
    common::assert_azure_error(unknown, 404, 404001).await;
    let purge_unknown = hub
        .request(Method::DELETE, "/devices/ghost/commands")
        .send()
        .await
        .unwrap();
    common::assert_azure_error(purge_unknown, 404, 404001).await;
    let bad_ack = hub
        .request(Method::POST, "/devices/d1/messages/deviceBound")
        .header("iothub-ack", "sometimes")
        .body("x")
        .send()
        .await
        .unwrap();
    common::assert_azure_error(bad_ack, 400, 400004).await;
}

#[tokio::test]
async fn expired_messages_are_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir);
    let key = register(&hub, "d1").await;
    let expiry = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let response = hub
        .request(Method::POST, "/devices/d1/messages/deviceBound")
        .header("iothub-expiry", expiry.timestamp_millis().to_string())
        .body("stale")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    send_ok(&hub, "d1", "fresh").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut device = subscribed_device(&hub, &key).await;
    assert_eq!(&device.next_publish().await.payload[..], b"fresh");
    wait_for_count(&hub, "d1", 0).await;
}

#[tokio::test]
async fn queued_messages_survive_a_hard_kill() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir);
    let key = register(&hub, "d1").await;
    register(&hub, "d2").await;
    send_ok(&hub, "d1", "first").await;
    send_ok(&hub, "d1", "second").await;
    send_ok(&hub, "d2", "for d2").await;
    hub.kill();
    let hub = hub_in(&dir);
    assert_eq!(counts(&hub, "d1").await, (json!(2), json!(2)));
    assert_eq!(counts(&hub, "d2").await, (json!(1), json!(1)));
    let mut device = subscribed_device(&hub, &key).await;
    assert_eq!(&device.next_publish().await.payload[..], b"first");
    assert_eq!(&device.next_publish().await.payload[..], b"second");
    wait_for_count(&hub, "d1", 0).await;
    // Deleting a device deletes its queue.
    let deleted = hub
        .request(Method::DELETE, "/devices/d2")
        .header("If-Match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    register(&hub, "d2").await;
    assert_eq!(counts(&hub, "d2").await, (json!(0), json!(0)));
    let purged = hub
        .request(Method::DELETE, "/devices/d2/commands")
        .send()
        .await
        .unwrap();
    assert_eq!(
        purged.json::<Value>().await.unwrap()["totalMessagesPurged"],
        0
    );
}

fn service_client(hub: &HubProcess) -> twinlens::service::ServiceClient {
    let options = twinlens::service::ClientOptions {
        base_url: Some(hub.ready["http_url"].as_str().unwrap().to_owned()),
        ..Default::default()
    };
    twinlens::service::ServiceClient::new(&hub.service(), options).unwrap()
}

#[tokio::test]
async fn the_service_client_sends_and_purges() {
    use twinlens::service::CloudMessage;
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir);
    let key = register(&hub, "d1").await;
    let client = service_client(&hub);
    let message = CloudMessage {
        body: b"{\"go\":1}".to_vec(),
        message_id: Some("m-9".into()),
        content_type: Some("application/json".into()),
        ack: Some("positive".into()),
        time_to_live: Some(Duration::from_secs(600)),
        properties: vec![("zone".into(), "north west".into())],
        ..CloudMessage::default()
    };
    client.send_cloud_to_device("d1", &message).await.unwrap();
    client
        .send_cloud_to_device("d1", &CloudMessage::default())
        .await
        .unwrap();
    let purged = client.purge_cloud_to_device("d1").await.unwrap();
    assert_eq!(purged.total_messages_purged, 2);
    client.send_cloud_to_device("d1", &message).await.unwrap();
    let mut device = subscribed_device(&hub, &key).await;
    let publish = device.next_publish().await;
    let topic = publish.topic.as_str();
    assert!(
        topic.starts_with("devices/d1/messages/devicebound/%24.mid=m-9&%24.exp="),
        "{topic}"
    );
    assert!(
        topic.ends_with(
            "&%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound&%24.ct=application%2Fjson\
             &iothub-ack=positive&zone=north%20west"
        ),
        "{topic}"
    );
    let error = client
        .send_cloud_to_device("ghost", &CloudMessage::default())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
}

#[tokio::test]
async fn live_telemetry_streams_to_listeners() {
    use futures_util::StreamExt;
    use twinlens::service::{TelemetryItem, TelemetrySource};
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir);
    let key = register(&hub, "d1").await;
    let other_key = register(&hub, "d2").await;
    let client = service_client(&hub);
    let devices = vec!["d1".to_owned()];
    let mut feed = client.open_feed(&devices).await.unwrap();
    let mut everything = client.open_feed(&[]).await.unwrap();
    let device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    let other = TestDevice::connect(&hub, "d2", &other_key).await.unwrap();
    other
        .publish("devices/d2/messages/events/", "from d2")
        .await;
    for n in 0..3 {
        device
            .publish(
                "devices/d1/messages/events/%24.ct=application%2Fjson&unit=C",
                json!({"t": n}).to_string(),
            )
            .await;
    }
    for n in 0..3 {
        let item = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let TelemetryItem::Message(event) = item else {
            panic!("{item:?}");
        };
        assert_eq!(event.device_id, "d1");
        assert_eq!(event.module_id, None);
        assert_eq!(event.message.body, Some(json!({"t": n}).to_string()));
        assert_eq!(
            event.message.properties,
            vec![
                ("$.ct".to_owned(), "application/json".to_owned()),
                ("unit".to_owned(), "C".to_owned())
            ]
        );
    }
    // The unfiltered feed has every device's messages (in the order the hub got them,
    // which two connections do not fix).
    let mut senders = Vec::new();
    for _ in 0..4 {
        let item = tokio::time::timeout(Duration::from_secs(10), everything.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let TelemetryItem::Message(event) = item else {
            panic!("{item:?}");
        };
        senders.push(event.device_id);
    }
    senders.sort();
    assert_eq!(senders, vec!["d1", "d1", "d1", "d2"]);

    // A device that is not registered is refused; a raw listener sees the SSE shape.
    let ghost = vec!["ghost".to_owned()];
    let error = client.open_feed(&ghost).await.err().unwrap();
    assert_eq!(error.status(), Some(404));
    let raw = hub
        .client()
        .get(format!(
            "{}/twinlens/telemetry/stream?deviceId=d1",
            hub.ready["http_url"].as_str().unwrap()
        ))
        .header("Authorization", hub.token())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["content-type"], "text/event-stream");
}
