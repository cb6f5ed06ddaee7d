//! Device MQTT benchmark: reported-property PATCH round trips per second with 100
//! concurrent devices against the local hub, next to mosquitto's QoS 1 PUBACK rate
//! measured in the same run on the same machine (when `mosquitto` is installed), the two
//! taking turns for several rounds; the median of the rounds' ratios is the figure.
//! Run with `cargo bench --bench mqtt_throughput` (`ROUNDS=N` for another count, 3 by
//! default).

mod support;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use twinlens::auth::{DeviceConnectionString, SharedAccessKey};
use twinlens::hub::{self, HubConfig};

const DEVICES: usize = 100;
const RUN: Duration = Duration::from_secs(5);
/// Rounds of both servers, alternating, so that a burst of other work on this shared
/// machine lowers one round rather than one server's figure.
const DEFAULT_ROUNDS: usize = 3;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let hub = hub::start(HubConfig {
        data_dir: dir.path().to_owned(),
        bind: "127.0.0.1".parse()?,
        http_port: 0,
        mqtt_port: 0,
        tls: false,
        demo_devices: None,
        limits: Default::default(),
    })
    .await?;
    let mut devices = Vec::new();
    for n in 0..DEVICES {
        let id = format!("bench-{n:03}");
        let (identity, pending) =
            hub.state
                .store
                .put_device(&id, &json!({}), None, chrono::Utc::now())?;
        pending.durable().await?;
        let key = identity
            .symmetric_keys()
            .next()
            .unwrap_or_default()
            .to_owned();
        devices.push((id, key));
    }
    let rounds: usize = support::from_env("ROUNDS", DEFAULT_ROUNDS).max(1);
    let mosquitto = Mosquitto::start();
    println!(
        "{DEVICES} concurrent devices, one request in flight per device, {} s per server per round; the servers take turns",
        RUN.as_secs()
    );
    println!();
    println!(
        "| round | twinlens hub: reported PATCH -> $iothub/twin/res/204 (durable write), per second | mosquitto: QoS 1 PUBLISH -> PUBACK, per second | ratio |"
    );
    println!("|---|---|---|---|");
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let hub_rate = hub_round_trips(hub.ready.mqtt_port, &devices).await / RUN.as_secs();
        let Some(mosquitto) = &mosquitto else {
            println!("| {round} | {hub_rate} | not installed (apt-get install mosquitto) | - |");
            continue;
        };
        let mosquitto_rate = mosquitto_pubacks(mosquitto.port).await / RUN.as_secs();
        let ratio = hub_rate as f64 / mosquitto_rate.max(1) as f64;
        ratios.push(ratio);
        println!("| {round} | {hub_rate} | {mosquitto_rate} | {ratio:.2}x |");
    }
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        println!();
        println!("median ratio over {} rounds: {median:.2}x", ratios.len());
    }
    hub.shutdown().await?;
    Ok(())
}

/// Each device sends a reported patch and waits for its 204 before the next one.
async fn hub_round_trips(port: u16, devices: &[(String, String)]) -> u64 {
    let completed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for (id, key) in devices {
        let cs = DeviceConnectionString {
            host_name: "localhost".into(),
            device_id: id.clone(),
            module_id: None,
            gateway_host_name: None,
            key: SharedAccessKey::from_base64(key)
                .unwrap_or_else(|_| SharedAccessKey::from_bytes(vec![0; 32])),
        };
        let expiry = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0) + 3600;
        let mut options = MqttOptions::new(id.clone(), "127.0.0.1", port);
        options.set_credentials(
            format!("localhost/{id}/?api-version=2021-04-12"),
            cs.sas_token(expiry).to_string(),
        );
        let completed = Arc::clone(&completed);
        tasks.push(tokio::spawn(async move {
            let (client, mut eventloop) = AsyncClient::new(options, 10);
            let _ = client
                .subscribe("$iothub/twin/res/#", QoS::AtMostOnce)
                .await;
            let mut rid = 0u64;
            let send = |rid: u64| {
                let client = client.clone();
                async move {
                    let topic = format!("$iothub/twin/PATCH/properties/reported/?$rid={rid}");
                    let _ = client
                        .publish(
                            topic,
                            QoS::AtMostOnce,
                            false,
                            json!({"counter": rid}).to_string(),
                        )
                        .await;
                }
            };
            send(rid).await;
            while Instant::now() < deadline {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish)))
                        if publish.topic.starts_with("$iothub/twin/res/204/") =>
                    {
                        completed.fetch_add(1, Ordering::Relaxed);
                        rid += 1;
                        send(rid).await;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    completed.load(Ordering::Relaxed)
}

/// Each client publishes at QoS 1 and waits for the PUBACK before the next one.
async fn mosquitto_pubacks(port: u16) -> u64 {
    let completed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for n in 0..DEVICES {
        let options = MqttOptions::new(format!("bench-{n:03}"), "127.0.0.1", port);
        let completed = Arc::clone(&completed);
        tasks.push(tokio::spawn(async move {
            let (client, mut eventloop) = AsyncClient::new(options, 10);
            let topic = format!("bench/{n}");
            let _ = client
                .publish(
                    &topic,
                    QoS::AtLeastOnce,
                    false,
                    json!({"counter": 0}).to_string(),
                )
                .await;
            let mut counter = 0u64;
            while Instant::now() < deadline {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        completed.fetch_add(1, Ordering::Relaxed);
                        counter += 1;
                        let _ = client
                            .publish(
                                &topic,
                                QoS::AtLeastOnce,
                                false,
                                json!({"counter": counter}).to_string(),
                            )
                            .await;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    completed.load(Ordering::Relaxed)
}

/// A mosquitto broker on a free loopback port, stopped when dropped.
struct Mosquitto {
    child: Child,
    port: u16,
    _config: tempfile::NamedTempFile,
}

impl Mosquitto {
    fn start() -> Option<Mosquitto> {
        let port = StdListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let config = tempfile::NamedTempFile::new().ok()?;
        std::fs::write(
            config.path(),
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
        )
        .ok()?;
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(config.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        std::thread::sleep(Duration::from_millis(500));
        Some(Mosquitto {
            child,
            port,
            _config: config,
        })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
