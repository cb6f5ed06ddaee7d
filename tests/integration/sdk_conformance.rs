//! Conformance with the official Azure IoT Python SDKs: each test starts the real hub
//! with `--tls` and runs a Python script that uses the SDK the way an application does.
//! The SDKs must be installed (`pip install azure-iot-hub azure-iot-device`; `.ci/run`
//! does it): a missing SDK fails the test rather than skipping it.

use crate::common;

use std::process::Command;

use common::HubProcess;

/// Runs `tests/conformance/{script}` with the hub's details in its environment.
fn run_python(hub: &HubProcess, script: &str) {
    let path = format!("{}/tests/conformance/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .arg(&path)
        .env(
            "TWINLENS_SERVICE_CS",
            hub.ready["service_connection_string"].as_str().unwrap(),
        )
        .env("REQUESTS_CA_BUNDLE", hub.ready["ca_cert"].as_str().unwrap())
        .output()
        .expect("python3 runs; install Python 3 and `pip install azure-iot-hub azure-iot-device`");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}\n(if a module is missing: pip install azure-iot-hub azure-iot-device)",
        output.status
    );
}

#[test]
fn python_service_sdk_registry_manager() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls"]);
    run_python(&hub, "service_sdk.py");
}

#[test]
fn python_device_sdk_over_mqtts_on_8883() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls", "--mqtt-port", "8883"]);
    run_python(&hub, "device_sdk.py");
}
