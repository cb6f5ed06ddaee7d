//! `twinlens simulate` end to end: a fleet from a service connection string registers its
//! missing devices, connects, sends templated telemetry and logs what it does, and a
//! device connection string runs one device.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::HubProcess;
use common::device::{connection_string, register};
use reqwest::Method;
use serde_json::Value;

/// A `twinlens simulate` process, killed when dropped.
struct Simulation(Child);

impl Simulation {
    fn start(hub: &HubProcess, connection_string: &str, extra: &[&str]) -> Simulation {
        let port = hub.ready["mqtt_port"].to_string();
        let child = Command::new(env!("CARGO_BIN_EXE_twinlens"))
            .args(["simulate", "--no-tls", "--mqtt-port", &port])
            .args(["--connection-string", connection_string])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the twinlens binary starts");
        Simulation(child)
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn telemetry_count(hub: &HubProcess, device_id: &str) -> Option<u64> {
    let response = hub
        .request(
            Method::GET,
            &format!("/twinlens/devices/{device_id}/telemetry"),
        )
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    body["count"].as_u64()
}

/// Waits until every device has sent at least one message.
async fn wait_for_telemetry(hub: &HubProcess, device_ids: &[&str]) {
    for _ in 0..150 {
        let mut all = true;
        for device_id in device_ids {
            all &= telemetry_count(hub, device_id).await.unwrap_or(0) > 0;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not every device of {device_ids:?} sent telemetry within 15 seconds");
}

#[tokio::test]
async fn a_fleet_registers_its_devices_and_sends_telemetry() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let service = hub.ready["service_connection_string"].as_str().unwrap();
    let _simulation = Simulation::start(
        &hub,
        service,
        &[
            "--count",
            "2",
            "--template",
            "fleet-{n}",
            "--telemetry",
            r#"{"seq": {{counter}}, "id": "{{device_id}}"}"#,
            "--interval",
            "0.2",
        ],
    );
    wait_for_telemetry(&hub, &["fleet-1", "fleet-2"]).await;
    let identity: Value = hub
        .request(Method::GET, "/devices/fleet-2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(identity["connectionState"], "Connected");
}

#[tokio::test]
async fn a_device_connection_string_runs_one_existing_device() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "solo").await;
    let device = connection_string("solo", &key).to_connection_string();
    let _simulation = Simulation::start(
        &hub,
        &device,
        &["--telemetry", r#"{"on": true}"#, "--interval", "0.2"],
    );
    wait_for_telemetry(&hub, &["solo"]).await;
}

#[test]
fn a_bad_template_is_refused_before_anything_runs() {
    let output = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args([
            "simulate",
            "--connection-string",
            "HostName=localhost;DeviceId=d;SharedAccessKey=a2V5",
            "--telemetry",
            r#"{"t": {{random 30 20}}}"#,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("{{random 30 20}}"), "{stderr}");
}
