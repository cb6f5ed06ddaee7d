//! `twinlens send` and `twinlens monitor` against a live local hub.

use crate::common;

use std::io::BufRead;
use std::process::{Command, Stdio};

use common::HubProcess;
use common::device::{TestDevice, register};
use serde_json::{Value, json};

fn twinlens(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn send_queues_a_message_with_its_properties() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "d1").await;
    let connection = hub.ready["service_connection_string"].as_str().unwrap();
    let payload = dir.path().join("payload.bin");
    std::fs::write(&payload, [0u8, 159, 255]).unwrap();
    let (code, stderr) = twinlens(&[
        "send",
        "d1",
        "--no-tls",
        "--connection-string",
        connection,
        "--property",
        "k=v w",
        "--ttl",
        "60",
        "--data",
        "hello",
        "--message-id",
        "m-1",
        "--ack",
        "positive",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("sent message m-1 to device d1"), "{stderr}");
    let (code, stderr) = twinlens(&[
        "send",
        "d1",
        "--no-tls",
        "--connection-string",
        connection,
        "--file",
        payload.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = twinlens(&[
        "send",
        "ghost",
        "--no-tls",
        "--connection-string",
        connection,
        "--data",
        "x",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("ghost"), "{stderr}");

    let mut device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    device.subscribe("devices/d1/messages/devicebound/#").await;
    let first = device.next_publish().await;
    assert_eq!(&first.payload[..], b"hello");
    assert!(
        first.topic.contains("%24.mid=m-1&%24.exp="),
        "{}",
        first.topic
    );
    assert!(
        first.topic.ends_with("&iothub-ack=positive&k=v%20w"),
        "{}",
        first.topic
    );
    let second = device.next_publish().await;
    assert_eq!(&second.payload[..], [0u8, 159, 255]);
}

// Several threads: the test blocks on the monitor's output while the device's event
// loop keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_prints_telemetry_as_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "d1").await;
    let connection = hub.ready["service_connection_string"].as_str().unwrap();
    let mut monitor = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args([
            "monitor",
            "d1",
            "--no-tls",
            "--ndjson",
            "--connection-string",
            connection,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = monitor.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let device = TestDevice::connect(&hub, "d1", &key).await.unwrap();
    // The monitor may still be opening its stream: send until a line arrives.
    let mut line = None;
    for n in 0..50 {
        device
            .publish(
                "devices/d1/messages/events/unit=C",
                json!({"t": n}).to_string(),
            )
            .await;
        if let Ok(text) = received.recv_timeout(std::time::Duration::from_millis(200)) {
            line = Some(text);
            break;
        }
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    let line: Value = serde_json::from_str(&line.expect("monitor printed a line")).unwrap();
    assert_eq!(line["deviceId"], "d1");
    assert_eq!(line["properties"], json!({"unit": "C"}));
    assert!(line["body"]["t"].is_u64(), "{line}");
}
