//! Simulator benchmark: one process simulates 1,000 devices against a local hub running
//! in its own process; every device is sent a desired patch and acknowledges it in
//! reported properties. Prints the time to connect, the time until every acknowledgement
//! landed, and this process's CPU time and resident memory. Run with
//! `cargo bench --bench simulate_fleet` (`TWINLENS_BENCH_DEVICES` for another count).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use twinlens::device::{Behaviours, DeviceConfig, DeviceEvent, Endpoint, SimulatedDevice, TlsMode};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = support::from_env("TWINLENS_BENCH_DEVICES", 1000);
    let dir = tempfile::tempdir()?;
    let (mut hub, ready) = support::start_hub(dir.path(), &[])?;
    let (client, mqtt_port) = support::service_client(&ready)?;

    let started = Instant::now();
    let mut devices = Vec::with_capacity(count);
    for n in 0..count {
        let connection = support::register_device(&client, &format!("fleet-{n:04}")).await?;
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port: mqtt_port,
            tls: TlsMode::None,
        };
        let mut config = DeviceConfig::new(connection, endpoint);
        config.behaviours = Behaviours::default();
        devices.push(SimulatedDevice::spawn(config));
    }
    let registered = started.elapsed();
    for device in &mut devices {
        wait_for(device, |event| {
            matches!(event, DeviceEvent::TwinReceived(_))
        })
        .await?;
    }
    let connected = started.elapsed();
    let cpu_before = cpu_seconds();

    let started = Instant::now();
    for n in 0..count {
        let patch = json!({"properties": {"desired": {"setpoint": n}}});
        client
            .patch_twin(&format!("fleet-{n:04}"), &patch, None)
            .await?;
    }
    for device in &mut devices {
        wait_for(device, |event| matches!(event, DeviceEvent::ReportedSent { patch, .. } if patch.get("setpoint").is_some())).await?;
    }
    let acknowledged = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;

    // The steady state: every device connected, keeping its connection alive, waiting.
    let idle_cpu_before = cpu_seconds();
    tokio::time::sleep(IDLE).await;
    let idle_cpu = cpu_seconds() - idle_cpu_before;

    println!("{count} simulated devices in one process, local hub in another");
    println!();
    println!("| step | result |");
    println!("|---|---|");
    println!(
        "| register every device through the service API and start it | {:.2} s |",
        registered.as_secs_f64()
    );
    println!(
        "| then until every device connected and read its twin | {:.2} s |",
        (connected - registered).as_secs_f64()
    );
    println!(
        "| desired patch to each device, until every ack was accepted | {:.2} s |",
        acknowledged.as_secs_f64()
    );
    println!(
        "| process CPU time during that round (devices and the {count} service calls) | {cpu:.2} s |"
    );
    println!(
        "| process CPU time while every device idles for {} s | {idle_cpu:.2} s ({:.1} % of one core) |",
        IDLE.as_secs(),
        idle_cpu / IDLE.as_secs_f64() * 100.0
    );
    let memory = support::memory_megabytes("self", "VmRSS")
        .map_or_else(|| "n/a".to_owned(), |mb| format!("{mb} MB"));
    println!("| simulator resident memory | {memory} |");
    for device in devices {
        device.shutdown().await;
    }
    let _ = hub.kill();
    let _ = hub.wait();
    Ok(())
}

/// How long the connected fleet is watched doing nothing.
const IDLE: Duration = Duration::from_secs(10);

async fn wait_for(
    device: &mut twinlens::device::DeviceHandle,
    mut accept: impl FnMut(&DeviceEvent) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, device.recv()).await {
            Ok(Some(event)) if accept(&event) => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("device {} stopped", device.device_id())),
            Err(_) => return Err(format!("device {} timed out", device.device_id())),
        }
    }
}

/// User plus system CPU seconds of this process, from /proc.
fn cpu_seconds() -> f64 {
    let ticks_per_second = 100.0;
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / ticks_per_second)
        })
        .unwrap_or(0.0)
}
