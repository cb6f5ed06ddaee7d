//! The hub against hostile and careless clients: queries nested past the limit, idle
//! connections enough to exhaust its descriptors, undecodable paths, bodies that are
//! not JSON or cannot be read, and the file modes of its secrets.

use crate::common;

use std::time::Duration;

use common::{HubProcess, assert_azure_error};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn hub_in(dir: &tempfile::TempDir, extra: &[&str]) -> HubProcess {
    HubProcess::start(dir.path(), extra)
}

fn http_port(hub: &HubProcess) -> u16 {
    let url = hub.ready["http_url"].as_str().unwrap();
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn queries_and_json_nested_past_the_limit_get_400_and_the_hub_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir, &[]);
    hub.send_json(Method::PUT, "/devices/d1", &json!({})).await;
    for depth in [100, 1_000, 4_000, 10_000] {
        for query in [
            format!("SELECT * FROM devices WHERE {}", "(".repeat(depth)),
            format!(
                "SELECT * FROM devices WHERE {}1=1{}",
                "(".repeat(depth),
                ")".repeat(depth)
            ),
            format!("SELECT {} FROM devices", "(".repeat(depth)),
        ] {
            let response = hub
                .send_json(Method::POST, "/devices/query", &json!({"query": query}))
                .await;
            let message = assert_azure_error(response, 400, 400004).await;
            assert!(
                message.contains("levels deep") || message.contains("characters long"),
                "depth {depth}: {message}"
            );
        }
    }
    // JSON nested deeper than the parser allows is a bad request too.
    let deep = format!(
        "{{\"tags\": {}1{}}}",
        "{\"a\": ".repeat(5_000),
        "}".repeat(5_000)
    );
    let response = hub
        .request(Method::PATCH, "/twins/d1")
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_azure_error(response, 400, 400004).await;
    let response = hub
        .send_json(
            Method::POST,
            "/devices/query",
            &json!({"query": "SELECT deviceId FROM devices WHERE ((deviceId = 'd1'))"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let rows: Value = response.json().await.unwrap();
    assert_eq!(rows, json!([{"deviceId": "d1"}]));
}

#[tokio::test]
async fn idle_connections_cannot_starve_a_hub_of_1024_descriptors() {
    // This process holds the idle connections, so it needs more than the hub's 1,024.
    let own_limit = rlimit::increase_nofile_limit(8192).unwrap();
    assert!(
        own_limit >= 2_200,
        "the test needs 2,200 open files, has {own_limit}"
    );
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start_with_open_file_limit(dir.path(), &["--http-timeout", "1"], 1024);
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], http_port(&hub)));

    let mut connecting = tokio::task::JoinSet::new();
    for _ in 0..2_000 {
        connecting.spawn(async move {
            tokio::time::timeout(Duration::from_secs(20), TcpStream::connect(address)).await
        });
    }
    let mut idle = Vec::new();
    while let Some(connected) = connecting.join_next().await {
        if let Ok(Ok(stream)) = connected.unwrap() {
            idle.push(stream);
        }
    }
    assert!(idle.len() >= 1_900, "only {} connections held", idle.len());

    // While this process holds them all, a normal request is served and devices connect.
    let response = hub.send_json(Method::PUT, "/devices/d1", &json!({})).await;
    assert_eq!(response.status(), 200);
    let key = common::device::register(&hub, "d2").await;
    assert!(
        common::device::TestDevice::connect(&hub, "d2", &key)
            .await
            .is_ok()
    );
    // The hub closed the idle connections it had accepted.
    let mut closed = 0;
    for stream in idle.iter_mut().take(200) {
        let mut buffer = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 200, "idle connections left open");
}

#[tokio::test]
async fn undecodable_paths_and_unreadable_or_non_json_bodies_get_azure_errors() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_in(&dir, &[]);
    hub.send_json(Method::PUT, "/devices/d1", &json!({})).await;

    let response = hub
        .request(Method::GET, "/devices/a%ffb")
        .send()
        .await
        .unwrap();
    let message = assert_azure_error(response, 400, 400004).await;
    assert!(message.contains("/devices/a%ffb"), "{message}");

    let patch = r#"{"tags": {"a": 1}}"#;
    for content_type in [Some("text/plain"), None] {
        let mut request = hub.request(Method::PATCH, "/twins/d1").body(patch);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_azure_error(response, 400, 400103).await;
    }
    let twin = hub.get_json("/twins/d1").await;
    assert_eq!(twin["tags"], Value::Null, "nothing was written");

    // A chunked body with a broken chunk size is a bad request, not an oversize one.
    let mut stream = TcpStream::connect(("127.0.0.1", http_port(&hub)))
        .await
        .unwrap();
    let request = format!(
        "PATCH /twins/d1?api-version={} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         zz\r\n{{}}\r\n0\r\n\r\n",
        common::API_VERSION,
        hub.token()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await;
    assert!(
        response.starts_with("HTTP/1.1 400 "),
        "a broken chunk is answered 400: {response}"
    );
    assert!(response.contains("could not be read"), "{response}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_and_keys_are_owner_only_in_an_open_folder() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secrets = [
        "hub.db",
        "hub.db-wal",
        "hub.db-shm",
        "tls/ca-key.pem",
        "tls/server-key.pem",
    ];
    let hub = hub_in(&dir, &["--tls"]);
    let response = hub.send_json(Method::PUT, "/devices/d1", &json!({})).await;
    assert_eq!(response.status(), 200);
    for secret in secrets {
        assert_eq!(mode(&dir.path().join(secret)), 0o600, "{secret}");
    }
    drop(hub);

    // Files loosened while the hub was stopped are tightened when it starts.
    for secret in secrets {
        let path = dir.path().join(secret);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let hub = hub_in(&dir, &["--tls"]);
    for secret in secrets {
        let path = dir.path().join(secret);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{secret} after a restart");
        }
    }
    assert_eq!(hub.get_json("/devices/d1").await["deviceId"], "d1");
}
