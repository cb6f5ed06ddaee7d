//! Desired-property push latency: with 1,000 devices connected over MQTT to a `twinlens
//! hub` process, the service patches one device's desired properties at a time over
//! REST, and the time from sending the PATCH to the device receiving the push is taken,
//! 2,000 times round-robin. Prints the percentiles, with the REST round trip beside them,
//! and the hub's resident memory with the fleet connected.
//! Run with `cargo bench --bench desired_push` (`DEVICES=N` for another fleet size).

mod support;

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Packet, QoS};
use serde_json::json;
use tokio::sync::mpsc;

const PATCHES: usize = 2_000;
const DESIRED_TOPIC: &str = "$iothub/twin/PATCH/properties/desired/";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let devices: usize = support::from_env("DEVICES", 1000);
    let dir = tempfile::tempdir()?;
    let (mut hub, ready) = support::start_hub(dir.path(), &[])?;
    let (client, mqtt_port) = support::service_client(&ready)?;

    let (pushes, mut received) = mpsc::unbounded_channel::<(usize, Instant)>();
    let (subscribed, mut ready_devices) = mpsc::unbounded_channel::<usize>();
    let mut ids = Vec::with_capacity(devices);
    for index in 0..devices {
        let id = format!("push-{index:04}");
        let connection = support::register_device(&client, &id).await?;
        let expiry = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0) + 3600;
        let mut mqtt = MqttOptions::new(id.clone(), "127.0.0.1", mqtt_port);
        mqtt.set_credentials(
            format!("localhost/{id}/?api-version=2021-04-12"),
            connection.sas_token(expiry).to_string(),
        );
        mqtt.set_keep_alive(Duration::from_secs(60));
        let pushes = pushes.clone();
        let subscribed = subscribed.clone();
        tokio::spawn(async move {
            let (device, mut eventloop) = AsyncClient::new(mqtt, 10);
            let mut network = NetworkOptions::new();
            network.set_tcp_nodelay(true);
            eventloop.set_network_options(network);
            let _ = device
                .subscribe(format!("{DESIRED_TOPIC}#"), QoS::AtMostOnce)
                .await;
            while let Ok(event) = eventloop.poll().await {
                match event {
                    Event::Incoming(Packet::Publish(publish))
                        if publish.topic.starts_with(DESIRED_TOPIC) =>
                    {
                        let _ = pushes.send((index, Instant::now()));
                    }
                    Event::Incoming(Packet::SubAck(_)) => {
                        let _ = subscribed.send(index);
                    }
                    _ => {}
                }
            }
        });
        ids.push(id);
    }
    for _ in 0..devices {
        ready_devices
            .recv()
            .await
            .ok_or("a device stopped before subscribing")?;
    }

    let mut push_latencies = Vec::with_capacity(PATCHES);
    let mut rest_latencies = Vec::with_capacity(PATCHES);
    for round in 0..PATCHES {
        let index = round % devices;
        let patch = json!({"properties": {"desired": {"round": round}}});
        let sent = Instant::now();
        let (answered, pushed) = tokio::join!(
            async {
                let result = client.patch_twin(&ids[index], &patch, None).await;
                (result, Instant::now())
            },
            received.recv()
        );
        answered.0?;
        let (pushed_to, at) = pushed.ok_or("every device stopped")?;
        if pushed_to != index {
            return Err(format!("device {pushed_to} got the push meant for {index}").into());
        }
        push_latencies.push(at - sent);
        rest_latencies.push(answered.1 - sent);
    }
    let hub_memory = support::memory_megabytes(&hub.id().to_string(), "VmRSS");
    let _ = hub.kill();
    let _ = hub.wait();

    println!("{devices} devices connected, {PATCHES} desired patches one at a time over REST");
    println!();
    println!("| measure | p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|");
    for (name, latencies) in [
        (
            "PATCH sent -> device receives the push",
            &mut push_latencies,
        ),
        ("PATCH sent -> REST 200 received", &mut rest_latencies),
    ] {
        latencies.sort();
        let at = |fraction: f64| {
            let position = ((latencies.len() - 1) as f64 * fraction).round() as usize;
            latencies[position].as_secs_f64() * 1000.0
        };
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            at(0.50),
            at(0.95),
            at(0.99),
            at(1.0)
        );
    }
    println!();
    match hub_memory {
        Some(megabytes) => {
            println!("hub resident memory with {devices} devices connected: {megabytes} MB")
        }
        None => println!("hub resident memory: not available (no /proc)"),
    }
    Ok(())
}
