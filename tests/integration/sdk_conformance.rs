//! Conformance with the official Azure IoT SDKs for Python and Node.js: each test starts
//! the real hub with `--tls` and runs a script from `tests/conformance/` that uses the
//! SDK the way an application does.
//!
//! The SDKs are pinned (`tests/conformance/requirements.txt`,
//! `tests/conformance/node/package-lock.json`) and installed by the tests themselves on
//! first use ([`common::conformance_env`]); Python 3 with venv and Node.js 20 with npm
//! must be installed. A missing SDK or tool fails the test rather than skipping it.
//!
//! The device SDKs dial fixed ports (8883 for MQTT, 443 for MQTT over WebSockets) and
//! the Node service SDK reaches the hub only on 443, so those tests start the hub on
//! those ports and hold [`common::lock_fixed_ports`] while they run.

use crate::common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::conformance_env::{self, NODE_MISSING, PYTHON_MISSING};
use common::{HubProcess, lock_fixed_ports};

/// How long one conformance script may run before the test kills it.
const SCRIPT_LIMIT: Duration = Duration::from_secs(150);

/// The hub arguments for the Node.js SDKs and the WebSocket devices: HTTPS (and MQTT
/// over WebSockets) on 443, MQTTS on 8883.
const AZURE_PORTS: &[&str] = &["--tls", "--http-port", "443", "--mqtt-port", "8883"];

/// Runs `tests/conformance/{script}` with the hub's details (and `env`) in its
/// environment.
fn run_python(hub: &HubProcess, script: &str, env: &[(&str, &str)]) {
    let python = conformance_env::python();
    let path = conformance_env::source_dir().join(script);
    let mut command = Command::new(python);
    command
        .arg(&path)
        // The scripts import their shared helpers; no bytecode goes into the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env(
            "TWINLENS_SERVICE_CS",
            hub.ready["service_connection_string"].as_str().unwrap(),
        )
        .env("REQUESTS_CA_BUNDLE", hub.ready["ca_cert"].as_str().unwrap())
        .envs(env.iter().copied());
    let (status, stdout, stderr) = run_within(command, SCRIPT_LIMIT, script)
        .unwrap_or_else(|error| panic!("{} runs ({error}); {PYTHON_MISSING}", python.display()));
    println!("{stdout}");
    assert!(
        status.success(),
        "{script} failed ({status}):\n{stdout}\n{stderr}",
    );
}

#[test]
fn python_service_sdk_registry_manager() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls"]);
    run_python(&hub, "service_sdk.py", &[]);
}

#[test]
fn python_device_sdk_over_mqtts_on_8883() {
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls", "--mqtt-port", "8883"]);
    run_python(&hub, "device_sdk.py", &[]);
}

#[test]
fn python_module_client_and_registry_module_calls() {
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls", "--mqtt-port", "8883"]);
    run_python(&hub, "module_sdk.py", &[]);
}

#[test]
fn python_job_manager_twin_and_method_jobs() {
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls", "--mqtt-port", "8883"]);
    run_python(&hub, "job_sdk.py", &[]);
}

#[test]
fn python_plug_and_play_device_and_digital_twin_client() {
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls", "--mqtt-port", "8883"]);
    run_python(&hub, "pnp_sdk.py", &[]);
}

#[test]
fn python_device_sdk_over_websockets_on_443() {
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls", "--http-port", "443"]);
    run_python(
        &hub,
        "device_sdk.py",
        &[("TWINLENS_DEVICE_WEBSOCKETS", "1")],
    );
}

#[test]
fn node_service_sdk_registry_twins_queries_and_methods() {
    let modules = conformance_env::node_modules();
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), AZURE_PORTS);
    run_node(&hub, modules, "service_sdk.js", &[]);
}

#[test]
fn node_device_sdk_over_mqtt_on_8883() {
    let modules = conformance_env::node_modules();
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), AZURE_PORTS);
    run_node(&hub, modules, "device_sdk.js", &["mqtt"]);
}

#[test]
fn node_device_sdk_over_mqtt_websockets_on_443() {
    let modules = conformance_env::node_modules();
    let _ports = lock_fixed_ports();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), AZURE_PORTS);
    run_node(&hub, modules, "device_sdk.js", &["mqttws"]);
}

/// Runs `tests/conformance/node/{script}` with `args`, the hub's details in its
/// environment and the pinned packages on `NODE_PATH`.
fn run_node(hub: &HubProcess, modules: &Path, script: &str, args: &[&str]) {
    let path = conformance_env::source_dir().join("node").join(script);
    let mut command = Command::new("node");
    command
        .arg(&path)
        .args(args)
        .env("NODE_PATH", modules)
        .env(
            "NODE_EXTRA_CA_CERTS",
            hub.ready["ca_cert"].as_str().unwrap(),
        )
        .env(
            "TWINLENS_SERVICE_CS",
            hub.ready["service_connection_string"].as_str().unwrap(),
        );
    let what = format!("node {script} {}", args.join(" "));
    let (status, stdout, stderr) = run_within(command, SCRIPT_LIMIT, &what)
        .unwrap_or_else(|error| panic!("node runs ({error}); {NODE_MISSING}"));
    println!("{stdout}");
    assert!(
        status.success(),
        "{what} failed ({status}):\n{stdout}\n{stderr}"
    );
}

/// Runs `command` with its output captured; kills it (and fails the test with what it
/// printed) when it runs longer than `limit`.
fn run_within(
    mut command: Command,
    limit: Duration,
    what: &str,
) -> std::io::Result<(ExitStatus, String, String)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    match status {
        Some(status) => Ok((status, stdout, stderr)),
        None => panic!(
            "{what} did not finish within {} s and was killed:\n{stdout}\n{stderr}",
            limit.as_secs()
        ),
    }
}
