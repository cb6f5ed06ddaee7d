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

/// A `twinlens simulate` process, killed when dropped, logging at info level into a file.
struct Simulation {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Simulation {
    fn start(hub: &HubProcess, connection_string: &str, extra: &[&str]) -> Simulation {
        let port = hub.ready["mqtt_port"].to_string();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_twinlens"))
            .args(["simulate", "--no-tls", "--mqtt-port", &port])
            .args(["--connection-string", connection_string])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("the twinlens binary starts");
        Simulation { child, log }
    }

    /// Waits until a log line contains every one of `needles`, and returns that line.
    async fn wait_for_log_line(&self, needles: &[&str]) -> String {
        for _ in 0..150 {
            let log = std::fs::read_to_string(self.log.path()).unwrap();
            if let Some(line) = log
                .lines()
                .find(|line| needles.iter().all(|needle| line.contains(needle)))
            {
                return line.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.log.path()).unwrap();
        panic!("no log line with {needles:?} within 15 seconds; the log:\n{log}");
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let identity: Value = hub.get_json("/devices/fleet-2").await;
    assert_eq!(identity["connectionState"], "Connected");
}

#[tokio::test]
async fn a_device_connection_string_runs_one_existing_device() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "solo").await;
    let device = connection_string("solo", &key).to_connection_string();
    let simulation = Simulation::start(
        &hub,
        &device,
        &["--telemetry", r#"{"on": true}"#, "--interval", "0.2"],
    );
    wait_for_telemetry(&hub, &["solo"]).await;
    simulation
        .wait_for_log_line(&["telemetry sent", "solo", "on"])
        .await;

    let patch = serde_json::json!({"properties": {"desired": {"fan": "high"}}});
    let response = hub.send_json(Method::PATCH, "/twins/solo", &patch).await;
    assert_eq!(response.status(), 200);
    simulation
        .wait_for_log_line(&["desired properties received", "solo", "fan", "high"])
        .await;
    simulation
        .wait_for_log_line(&["reported properties sent", "solo", "fan"])
        .await;

    let call = serde_json::json!({"methodName": "reboot", "payload": {"delay": 1}, "responseTimeoutInSeconds": 10});
    let response = hub
        .send_json(Method::POST, "/twins/solo/methods", &call)
        .await;
    assert_eq!(response.status(), 200);
    let answered = simulation
        .wait_for_log_line(&["direct method answered", "solo", "reboot"])
        .await;
    assert!(answered.contains("delay"), "{answered}");
}

/// A device connection string naming the hub with its service port, as the Azure CLI
/// prints them for a local hub: the host is taken and the MQTT port option used.
#[tokio::test]
async fn a_host_name_with_a_port_dials_the_mqtt_port() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "ported").await;
    let host_name = hub.ready["host_name"].as_str().unwrap();
    assert!(host_name.starts_with("localhost:"), "{host_name}");
    let device = format!("HostName={host_name};DeviceId=ported;SharedAccessKey={key}");
    let simulation = Simulation::start(&hub, &device, &[]);
    simulation.wait_for_log_line(&["connected", "ported"]).await;
    let identity: Value = hub.get_json("/devices/ported").await;
    assert_eq!(identity["connectionState"], "Connected");
}

#[test]
fn an_unresolvable_host_is_a_clear_error_not_a_retry_loop() {
    let output = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args([
            "simulate",
            "--no-tls",
            "--mqtt-port",
            "1883",
            "--connection-string",
            "HostName=no-such-hub.invalid:8080;DeviceId=d;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot find the hub's host 'no-such-hub.invalid'"),
        "{stderr}"
    );
    assert!(stderr.contains("check HostName"), "{stderr}");
}

#[test]
fn a_bad_template_or_interval_is_refused_before_anything_runs() {
    let cases = [
        ([r#"{"t": {{random 30 20}}}"#, "5"], "{{random 30 20}}"),
        (
            [r#"{"t": 1}"#, "0"],
            "--interval 0 is not a usable number of seconds",
        ),
        (
            [r#"{"t": 1}"#, "-1"],
            "--interval -1 is not a usable number of seconds",
        ),
    ];
    for ([template, interval], expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_twinlens"))
            .args([
                "simulate",
                "--connection-string",
                "HostName=localhost;DeviceId=d;SharedAccessKey=a2V5",
                "--telemetry",
                template,
                &format!("--interval={interval}"),
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{template} every {interval}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}

#[tokio::test]
async fn modules_run_from_a_fleet_with_module_or_from_their_own_connection_string() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let service = hub.ready["service_connection_string"].as_str().unwrap();
    let fleet = Simulation::start(
        &hub,
        service,
        &[
            "--count",
            "2",
            "--template",
            "edge-{n}",
            "--module",
            "filter",
        ],
    );
    fleet.wait_for_log_line(&["connected", "edge-2"]).await;
    for device_id in ["edge-1", "edge-2"] {
        let module: Value = hub
            .get_json(&format!("/devices/{device_id}/modules/filter"))
            .await;
        assert_eq!(module["connectionState"], "Connected", "{module}");
        let device: Value = hub.get_json(&format!("/devices/{device_id}")).await;
        assert_eq!(
            device["connectionState"], "Disconnected",
            "the module, not the device"
        );
    }
    let patch = serde_json::json!({"properties": {"desired": {"level": 3}}});
    let response = hub
        .send_json(Method::PATCH, "/twins/edge-1/modules/filter", &patch)
        .await;
    assert_eq!(response.status(), 200);
    fleet
        .wait_for_log_line(&["desired properties received", "edge-1", "level"])
        .await;
    drop(fleet);

    // One module by its own connection string.
    let module: Value = hub.get_json("/devices/edge-2/modules/filter").await;
    let key = module["authentication"]["symmetricKey"]["primaryKey"]
        .as_str()
        .unwrap();
    let module_string =
        format!("HostName=localhost;DeviceId=edge-2;ModuleId=filter;SharedAccessKey={key}");
    let single = Simulation::start(&hub, &module_string, &[]);
    single.wait_for_log_line(&["connected", "edge-2"]).await;

    // --module needs the service connection string to find the module's keys.
    let output = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(["simulate", "--no-tls", "--module", "filter"])
        .args(["--connection-string", &module_string])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--module needs a service connection string"),
        "{stderr}"
    );
}
