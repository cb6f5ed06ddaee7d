//! Every write the hub acknowledged survives SIGKILL: a stream of twin patches is cut
//! by killing the process, and after a restart on the same data directory every
//! acknowledged patch is there.

use crate::common;

use std::time::Duration;

use common::HubProcess;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn acknowledged_patches_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let created = hub
        .request(Method::PUT, "/devices/d1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);

    // Four writers patch concurrently until the process dies under them.
    let acknowledged_so_far = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let client = hub.client();
        let url = hub.url("/twins/d1");
        let token = hub.token();
        let counted = std::sync::Arc::clone(&acknowledged_so_far);
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let key = format!("w{writer}n{n}");
                let patch = json!({"properties": {"desired": {key.clone(): n}}});
                let sent = client
                    .patch(&url)
                    .header("Authorization", &token)
                    .json(&patch)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        acknowledged.push(key);
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    // Killed once writes are flowing (however fast this machine is), while they go on.
    let flowing = async {
        while acknowledged_so_far.load(std::sync::atomic::Ordering::SeqCst) <= 20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), flowing)
        .await
        .expect("20 patches acknowledged within a minute");
    hub.kill();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(
        acknowledged.len() > 20,
        "only {} patches went through",
        acknowledged.len()
    );

    let hub = HubProcess::start(dir.path(), &[]);
    let twin: Value = hub.get_json("/twins/d1").await;
    let desired = twin["properties"]["desired"].as_object().unwrap();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|key| !desired.contains_key(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "lost {} acknowledged patches: {missing:?}",
        missing.len()
    );
    assert!(
        twin["properties"]["desired"]["$version"].as_u64().unwrap() > acknowledged.len() as u64
    );
}

#[tokio::test]
async fn sigterm_stops_the_hub_cleanly_and_a_data_dir_serves_one_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let created = hub
        .send_json(Method::PUT, "/devices/kept", &json!({"deviceId": "kept"}))
        .await;
    assert_eq!(created.status(), 200);

    // A second hub on the same directory is refused, saying why.
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(["hub", "--http-port", "0", "--mqtt-port", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another twinlens hub is using"), "{stderr}");
    assert!(second.stdout.is_empty(), "no ready line");

    // A client that never finishes its request's head does not keep the hub from stopping.
    let port = hub.ready["http_url"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let mut stalled = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    // A first request answered on the connection: the hub is serving it.
    tokio::io::AsyncWriteExt::write_all(
        &mut stalled,
        b"GET /devices/kept?api-version=2021-04-12 HTTP/1.1\r\nHost: local\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"}") {
        let mut chunk = [0u8; 1024];
        let read = tokio::io::AsyncReadExt::read(&mut stalled, &mut chunk)
            .await
            .unwrap();
        assert!(read > 0, "the hub closed the connection: {answer:?}");
        answer.extend_from_slice(&chunk[..read]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 401"), "{answer:?}");
    tokio::io::AsyncWriteExt::write_all(
        &mut stalled,
        b"POST /devices/query?api-version=2021-04-12 HTTP/1.1\r\nHost: local",
    )
    .await
    .unwrap();
    let status = hub.terminate();
    assert!(status.success(), "exit status {status}");

    // The directory is free again and kept everything.
    let hub = HubProcess::start(dir.path(), &[]);
    let kept = hub
        .request(Method::GET, "/devices/kept")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    drop(stalled);
}

#[test]
fn a_relative_data_dir_gives_an_absolute_ca_path() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(["hub", "--tls", "--http-port", "0", "--mqtt-port", "0"])
        .args(["--data-dir", "relative/hub"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let ca = std::path::Path::new(ready["ca_cert"].as_str().unwrap());
    assert!(ca.is_absolute(), "{line}");
    assert!(ca.starts_with(dir.path().canonicalize().unwrap()) || ca.starts_with(dir.path()));
    assert!(ca.is_file(), "{line}");
}

#[path = "../support/crash_cycles.rs"]
mod crash_cycles;

/// The short form of `cargo run --release --example crash_cycles`: five SIGKILLs of
/// about a second each under REST and MQTT writers, on one store.
#[tokio::test]
async fn acknowledged_rest_and_mqtt_writes_survive_crash_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let options = crash_cycles::Options {
        hub_binary: env!("CARGO_BIN_EXE_twinlens").into(),
        data_dir: dir.path().join("hub"),
        cycles: 5,
        cycle_length: Duration::from_secs(1),
        writers: 2,
        seed: rand::random(),
    };
    println!("seed {}", options.seed);
    let report = crash_cycles::run(&options).await.unwrap();
    println!("{report}");
    assert_eq!(report.cycles, 5);
    assert_eq!(report.lost_count(), 0, "{report}");
    // Each cycle's kill waits for every writer's first acknowledged write.
    let at_least = u64::from(options.cycles) * options.writers as u64;
    assert!(report.rest_acknowledged >= at_least, "{report}");
    assert!(report.mqtt_acknowledged >= at_least, "{report}");
    assert_eq!(report.restarts.len(), 5);
}
