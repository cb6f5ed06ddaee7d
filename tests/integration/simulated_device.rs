//! The simulated device against the local hub started in-process: desired acknowledgement
//! (plain copy and Plug and Play envelope, components included), a Plug and Play model id
//! and component commands, user reported patches, the method table,
//! telemetry templates, TLS with the hub's CA, reconnects after a hub restart, and SAS token
//! renewal.

use crate::common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::local_hub::{invoke, patch_desired, register, request, start_hub, twin};
use reqwest::Method;
use serde_json::{Value, json};
use twinlens::auth::DeviceConnectionString;
use twinlens::device::{
    Backoff, DesiredAck, DeviceCommand, DeviceConfig, DeviceEvent, DeviceHandle, Endpoint,
    MethodReply, MethodTable, ModelId, SimulatedDevice, TelemetrySchedule, TelemetryTemplate,
    TlsMode,
};
use twinlens::hub::RunningHub;

/// How long any expected event may take.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// A device on the hub's plain MQTT port with quick reconnects.
fn config(hub: &RunningHub, connection: DeviceConnectionString) -> DeviceConfig {
    let endpoint = Endpoint {
        host: "127.0.0.1".into(),
        port: hub.ready.mqtt_port,
        tls: TlsMode::None,
    };
    let mut config = DeviceConfig::new(connection, endpoint);
    config.reconnect = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(500),
    };
    config
}

/// Starts a registered device and waits for its first twin.
async fn connected_device(hub: &RunningHub, device_id: &str) -> DeviceHandle {
    let mut device = SimulatedDevice::spawn(config(hub, register(hub, device_id)));
    expect(&mut device, |e| matches!(e, DeviceEvent::Connected)).await;
    expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await;
    device
}

/// The first event matching `wanted`, skipping others.
async fn expect(device: &mut DeviceHandle, wanted: impl Fn(&DeviceEvent) -> bool) -> DeviceEvent {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, device.recv()).await {
            Ok(Some(event)) if wanted(&event) => return event,
            Ok(Some(_)) => {}
            other => panic!("the expected event did not come: {other:?}"),
        }
    }
}

#[tokio::test]
async fn desired_patches_are_copied_into_reported() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut device = connected_device(&hub, "copier").await;

    patch_desired(&hub, "copier", json!({"fan": {"speed": 3}})).await;
    let received = expect(&mut device, |e| {
        matches!(e, DeviceEvent::DesiredReceived { .. })
    })
    .await;
    let DeviceEvent::DesiredReceived { version, patch } = received else {
        unreachable!()
    };
    assert_eq!(version, 2);
    assert_eq!(patch["fan"]["speed"], 3);
    let sent = expect(&mut device, |e| {
        matches!(e, DeviceEvent::ReportedSent { .. })
    })
    .await;
    assert_eq!(
        sent,
        DeviceEvent::ReportedSent {
            patch: json!({"fan": {"speed": 3}}),
            version: Some(2)
        }
    );
    assert_eq!(
        twin(&hub, "copier").await["properties"]["reported"]["fan"],
        json!({"speed": 3})
    );
    device.shutdown().await;
}

#[tokio::test]
async fn desired_patches_get_the_plug_and_play_envelope_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut device = connected_device(&hub, "pnp").await;
    device
        .try_send(DeviceCommand::SetDesiredAck(DesiredAck::PlugAndPlay {
            description: "applied".into(),
        }))
        .unwrap();

    patch_desired(&hub, "pnp", json!({"targetTemperature": 21.5})).await;
    expect(&mut device, |e| {
        matches!(e, DeviceEvent::ReportedSent { .. })
    })
    .await;
    assert_eq!(
        twin(&hub, "pnp").await["properties"]["reported"]["targetTemperature"],
        json!({"value": 21.5, "ac": 200, "av": 2, "ad": "applied"})
    );

    device
        .try_send(DeviceCommand::SetDesiredAck(DesiredAck::Off))
        .unwrap();
    patch_desired(&hub, "pnp", json!({"targetTemperature": 30})).await;
    expect(&mut device, |e| {
        matches!(e, DeviceEvent::DesiredReceived { version: 3, .. })
    })
    .await;
    device.try_send(DeviceCommand::RefreshTwin).unwrap();
    let DeviceEvent::TwinReceived(seen) =
        expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await
    else {
        unreachable!()
    };
    assert_eq!(seen["desired"]["targetTemperature"], 30);
    assert_eq!(seen["reported"]["targetTemperature"]["av"], 2);
    device.shutdown().await;
}

/// The model of the IoT Plug and Play temperature controller sample (two thermostat
/// components).
const TEMPERATURE_CONTROLLER: &str = "dtmi:com:example:TemperatureController;2";

/// Starts a registered device announcing [`TEMPERATURE_CONTROLLER`], acknowledging desired
/// properties with the Plug and Play envelope and answering the `thermostat1` component's
/// `getMaxMinReport` command, and waits for its first twin.
async fn plug_and_play_device(hub: &RunningHub, device_id: &str) -> DeviceHandle {
    let mut config = config(hub, register(hub, device_id));
    config.model_id = Some(ModelId::new(TEMPERATURE_CONTROLLER).unwrap());
    config.behaviours.desired_ack = DesiredAck::PlugAndPlay {
        description: "applied".into(),
    };
    config.behaviours.methods = MethodTable::default().with(
        "thermostat1*getMaxMinReport",
        MethodReply::new(200, json!({"maxTemp": 25.1, "minTemp": 19.8})),
    );
    let mut device = SimulatedDevice::spawn(config);
    expect(&mut device, |e| matches!(e, DeviceEvent::Connected)).await;
    expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await;
    device
}

#[tokio::test]
async fn a_plug_and_play_device_acknowledges_components_and_answers_component_commands() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut device = plug_and_play_device(&hub, "controller").await;

    patch_desired(
        &hub,
        "controller",
        json!({"thermostat1": {"__t": "c", "targetTemperature": 21.4}}),
    )
    .await;
    let DeviceEvent::DesiredReceived { version, .. } = expect(&mut device, |e| {
        matches!(e, DeviceEvent::DesiredReceived { .. })
    })
    .await
    else {
        unreachable!()
    };
    expect(&mut device, |e| {
        matches!(e, DeviceEvent::ReportedSent { .. })
    })
    .await;
    let seen = twin(&hub, "controller").await;
    assert_eq!(seen["properties"]["desired"]["$version"], version);
    assert_eq!(
        seen["properties"]["reported"]["thermostat1"],
        json!({
            "__t": "c",
            "targetTemperature": {"value": 21.4, "ac": 200, "av": version, "ad": "applied"}
        })
    );

    let answer = invoke(
        &hub,
        "controller",
        "thermostat1*getMaxMinReport",
        json!("2024-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(
        answer,
        json!({"status": 200, "payload": {"maxTemp": 25.1, "minTemp": 19.8}})
    );
    let answer = invoke(&hub, "controller", "getMaxMinReport", Value::Null).await;
    assert_eq!(
        answer["status"], 404,
        "only the component's command is known"
    );
    device.shutdown().await;
}

#[tokio::test]
async fn simulated_device_announces_its_model_id() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let device = plug_and_play_device(&hub, "modelled").await;
    assert_eq!(
        twin(&hub, "modelled").await["modelId"],
        TEMPERATURE_CONTROLLER
    );
    device.shutdown().await;
}

#[tokio::test]
async fn user_reported_patches_are_sent_and_refusals_reported() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut device = connected_device(&hub, "editor").await;

    device
        .try_send(DeviceCommand::ReportPatch(json!({"firmware": "1.2.0"})))
        .unwrap();
    let sent = expect(&mut device, |e| {
        matches!(e, DeviceEvent::ReportedSent { .. })
    })
    .await;
    assert_eq!(
        sent,
        DeviceEvent::ReportedSent {
            patch: json!({"firmware": "1.2.0"}),
            version: Some(2)
        }
    );
    assert_eq!(
        twin(&hub, "editor").await["properties"]["reported"]["firmware"],
        "1.2.0"
    );

    device
        .try_send(DeviceCommand::ReportPatch(json!({"bad key": 1})))
        .unwrap();
    let failed = expect(&mut device, |e| {
        matches!(e, DeviceEvent::ReportedFailed { .. })
    })
    .await;
    let DeviceEvent::ReportedFailed { status, message } = failed else {
        unreachable!()
    };
    assert_eq!(status, 400);
    assert!(message.contains("400004"), "{message}");
    device.shutdown().await;
}

/// A TCP relay between a device and the hub that can start swallowing what the device
/// sends (the network losing it) and later cut the connection.
struct Relay {
    port: u16,
    swallow: tokio::sync::watch::Sender<bool>,
    /// Bytes from the device swallowed so far.
    swallowed: tokio::sync::watch::Receiver<usize>,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(hub_port: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (swallow, swallowing) = tokio::sync::watch::channel(false);
        let (swallowed_bytes, swallowed) = tokio::sync::watch::channel(0usize);
        let (cut, mut cutting) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let (device, _) = listener.accept().await.unwrap();
            let hub = tokio::net::TcpStream::connect(("127.0.0.1", hub_port))
                .await
                .unwrap();
            let (mut from_device, mut to_device) = device.into_split();
            let (mut from_hub, mut to_hub) = hub.into_split();
            let upstream = async move {
                let mut buffer = vec![0u8; 16 * 1024];
                loop {
                    let read = from_device.read(&mut buffer).await.unwrap_or(0);
                    if read == 0 {
                        return;
                    }
                    if *swallowing.borrow() {
                        swallowed_bytes.send_modify(|total| *total += read);
                    } else if to_hub.write_all(&buffer[..read]).await.is_err() {
                        return;
                    }
                }
            };
            let downstream = tokio::io::copy(&mut from_hub, &mut to_device);
            tokio::select! {
                () = upstream => {}
                _ = downstream => {}
                _ = cutting.wait_for(|cut| *cut) => {}
            }
        });
        Relay {
            port,
            swallow,
            swallowed,
            cut,
        }
    }
}

#[tokio::test]
async fn a_reported_patch_lost_with_the_connection_is_reported_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let relay = Relay::start(hub.ready.mqtt_port).await;
    let mut config = config(&hub, register(&hub, "unlucky"));
    config.endpoint.port = relay.port;
    let mut device = SimulatedDevice::spawn(config);
    expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await;

    relay.swallow.send(true).unwrap();
    device
        .try_send(DeviceCommand::ReportPatch(json!({"valve": "open"})))
        .unwrap();
    // The patch reached the relay and went no further.
    let mut swallowed = relay.swallowed.clone();
    tokio::time::timeout(
        Duration::from_secs(10),
        swallowed.wait_for(|bytes| *bytes > 0),
    )
    .await
    .expect("the device sent its patch within 10 s")
    .unwrap();
    relay.cut.send(true).unwrap();
    let failed = expect(&mut device, |e| {
        matches!(e, DeviceEvent::ReportedFailed { .. })
    })
    .await;
    let DeviceEvent::ReportedFailed { status, message } = failed else {
        unreachable!()
    };
    assert_eq!(status, 0, "the hub never answered");
    assert!(message.contains("connection ended"), "{message}");
    assert!(message.contains("valve"), "{message}");
    device.shutdown().await;
}

#[tokio::test]
async fn methods_are_answered_from_the_table_with_default_and_delay() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut device = connected_device(&hub, "answerer").await;
    let table = MethodTable::default()
        .with("reboot", MethodReply::new(200, json!({"rebooting": true})))
        .with(
            "slow",
            MethodReply::new(202, json!("done")).after(Duration::from_millis(1500)),
        );
    device.try_send(DeviceCommand::SetMethods(table)).unwrap();
    // The command is applied before the next method request is read.
    device.try_send(DeviceCommand::RefreshTwin).unwrap();
    expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await;

    let answer = invoke(&hub, "answerer", "reboot", json!({"delay": 0})).await;
    assert_eq!(
        answer,
        json!({"status": 200, "payload": {"rebooting": true}})
    );
    let invoked = expect(&mut device, |e| {
        matches!(e, DeviceEvent::MethodInvoked { .. })
    })
    .await;
    assert_eq!(
        invoked,
        DeviceEvent::MethodInvoked {
            name: "reboot".into(),
            payload: json!({"delay": 0}),
            status: 200,
            response: json!({"rebooting": true})
        }
    );

    let answer = invoke(&hub, "answerer", "unknown", Value::Null).await;
    assert_eq!(answer["status"], 404);
    assert!(answer["payload"]["message"].is_string(), "{answer}");

    let started = Instant::now();
    let answer = invoke(&hub, "answerer", "slow", json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(answer, json!({"status": 202, "payload": "done"}));
    device.shutdown().await;
}

#[tokio::test]
async fn telemetry_follows_the_template_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut device = connected_device(&hub, "sensor").await;
    let template = TelemetryTemplate::parse(
        r#"{"seq": {{counter}}, "id": "{{device_id}}", "t": {{random 20 30}}, "n": {{random_int 1 5}}, "at": "{{timestamp}}"}"#,
    )
    .unwrap();
    device
        .try_send(DeviceCommand::StartTelemetry(TelemetrySchedule {
            template,
            interval: Duration::from_millis(100),
        }))
        .unwrap();
    for _ in 0..3 {
        expect(&mut device, |e| {
            matches!(e, DeviceEvent::TelemetrySent { .. })
        })
        .await;
    }
    device.try_send(DeviceCommand::StopTelemetry).unwrap();
    // A round trip through the hub, so every message sent before it has arrived.
    device.try_send(DeviceCommand::RefreshTwin).unwrap();
    expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await;

    let response = request(&hub, Method::GET, "/twinlens/devices/sensor/telemetry")
        .send()
        .await
        .unwrap();
    let telemetry: Value = response.json().await.unwrap();
    let count = telemetry["count"].as_u64().unwrap();
    assert!(count >= 3, "{telemetry}");
    let first = &telemetry["messages"][0];
    let body: Value = serde_json::from_str(first["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["seq"], 1);
    assert_eq!(body["id"], "sensor");
    assert!((20.0..=30.0).contains(&body["t"].as_f64().unwrap()));
    assert!((1..=5).contains(&body["n"].as_i64().unwrap()));
    assert!(body["at"].as_str().unwrap().ends_with('Z'));
    assert!(
        first["properties"]
            .as_array()
            .unwrap()
            .contains(&json!(["$.ct", "application/json"])),
        "{first}"
    );

    // Four intervals without telemetry. The window only bounds how long the test looks:
    // a slow machine looks less, it cannot fail a correct device.
    let more = tokio::time::timeout(
        Duration::from_millis(400),
        expect(&mut device, |e| {
            matches!(e, DeviceEvent::TelemetrySent { .. })
        }),
    )
    .await;
    assert!(more.is_err(), "telemetry went on after it was stopped");
    let after: Value = request(&hub, Method::GET, "/twinlens/devices/sensor/telemetry")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["count"].as_u64().unwrap(),
        count,
        "stopped means stopped"
    );
    device.shutdown().await;
}

#[tokio::test]
async fn tls_with_the_hub_ca_works() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, true).await;
    let ca = std::fs::read_to_string(hub.ready.ca_cert.as_ref().unwrap()).unwrap();
    let mut config = config(&hub, register(&hub, "secure"));
    config.endpoint.host = "localhost".into();
    config.endpoint.tls = TlsMode::CustomCa(ca);
    let mut device = SimulatedDevice::spawn(config);
    expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await;
    device.shutdown().await;
}

#[tokio::test]
async fn the_device_reconnects_after_a_hub_restart_and_reads_its_twin_again() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mqtt_port = hub.ready.mqtt_port;
    let mut device = connected_device(&hub, "survivor").await;
    device
        .try_send(DeviceCommand::ReportPatch(json!({"boots": 1})))
        .unwrap();
    expect(&mut device, |e| {
        matches!(e, DeviceEvent::ReportedSent { .. })
    })
    .await;

    hub.shutdown().await.unwrap();
    expect(&mut device, |e| {
        matches!(e, DeviceEvent::Disconnected { .. })
    })
    .await;
    expect(&mut device, |e| {
        matches!(e, DeviceEvent::Reconnecting { attempt: 1, .. })
    })
    .await;

    let hub = start_hub(dir.path(), mqtt_port, false).await;
    expect(&mut device, |e| matches!(e, DeviceEvent::Connected)).await;
    let DeviceEvent::TwinReceived(seen) =
        expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await
    else {
        unreachable!()
    };
    assert_eq!(seen["reported"]["boots"], 1);

    patch_desired(&hub, "survivor", json!({"mode": "eco"})).await;
    expect(&mut device, |e| {
        matches!(e, DeviceEvent::DesiredReceived { .. })
    })
    .await;
    device.shutdown().await;
}

#[tokio::test]
async fn the_token_is_renewed_by_reconnecting_before_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut config = config(&hub, register(&hub, "renewer"));
    config.token_lifetime = Duration::from_secs(2);
    let mut device = SimulatedDevice::spawn(config);
    expect(&mut device, |e| matches!(e, DeviceEvent::Connected)).await;
    let started = Instant::now();
    let DeviceEvent::Disconnected { reason } = expect(&mut device, |e| {
        matches!(
            e,
            DeviceEvent::Disconnected { .. } | DeviceEvent::Reconnecting { .. }
        )
    })
    .await
    else {
        panic!("a renewal is no failure: the device reconnects without backing off");
    };
    assert!(reason.contains("new SAS token"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "renewed in time"
    );
    expect(&mut device, |e| matches!(e, DeviceEvent::Connected)).await;
    expect(&mut device, |e| matches!(e, DeviceEvent::TwinReceived(_))).await;
    device.shutdown().await;
}

async fn send_c2d(hub: &RunningHub, device_id: &str, body: &str) {
    let response = request(
        hub,
        Method::POST,
        &format!("/devices/{device_id}/messages/deviceBound"),
    )
    .header("iothub-app-step", body)
    .body(body.to_owned())
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 204);
}

async fn received_c2d(device: &mut DeviceHandle) -> (Vec<u8>, bool, Vec<(String, Option<String>)>) {
    let event = expect(device, |e| {
        matches!(e, DeviceEvent::CloudMessageReceived { .. })
    })
    .await;
    let DeviceEvent::CloudMessageReceived {
        properties,
        body,
        completed,
    } = event
    else {
        unreachable!()
    };
    (body, completed, properties)
}

#[tokio::test]
async fn cloud_messages_are_completed_or_left_for_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path(), 0, false).await;
    let mut device = connected_device(&hub, "listener").await;
    send_c2d(&hub, "listener", "first").await;
    let (body, completed, properties) = received_c2d(&mut device).await;
    assert_eq!((body.as_slice(), completed), (&b"first"[..], true));
    assert!(properties.contains(&("step".into(), Some("first".into()))));

    device
        .send(DeviceCommand::SetCloudMessageHandling(
            twinlens::device::CloudMessageHandling::Ignore,
        ))
        .await
        .unwrap();
    send_c2d(&hub, "listener", "second").await;
    let (body, completed, _) = received_c2d(&mut device).await;
    assert_eq!((body.as_slice(), completed), (&b"second"[..], false));
    assert_eq!(twin(&hub, "listener").await["cloudToDeviceMessageCount"], 1);
    device.shutdown().await;

    // The next connection (completing, by default) gets the ignored message again.
    let connection = DeviceConnectionString {
        host_name: "localhost".into(),
        device_id: "listener".into(),
        module_id: None,
        gateway_host_name: None,
        key: twinlens::auth::SharedAccessKey::from_base64(
            hub.state
                .store
                .device("listener")
                .unwrap()
                .authentication
                .symmetric_key
                .primary_key
                .as_deref()
                .unwrap(),
        )
        .unwrap(),
    };
    let mut device = SimulatedDevice::spawn(config(&hub, connection));
    let (body, completed, _) = received_c2d(&mut device).await;
    assert_eq!((body.as_slice(), completed), (&b"second"[..], true));
    for _ in 0..50 {
        if twin(&hub, "listener").await["cloudToDeviceMessageCount"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(twin(&hub, "listener").await["cloudToDeviceMessageCount"], 0);
    device.shutdown().await;
}
