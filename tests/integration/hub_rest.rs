//! The local hub's service REST API, driven over HTTP against the real binary:
//! identities, twins, etags, queries, auth and Azure's error codes.

use crate::common;

use common::{HubProcess, assert_azure_error, now};
use reqwest::Method;
use serde_json::{Value, json};
use twinlens::auth::{SasToken, SharedAccessKey};

fn hub() -> (tempfile::TempDir, HubProcess) {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    (dir, hub)
}

async fn create(hub: &HubProcess, id: &str) -> Value {
    let response = hub
        .request(Method::PUT, &format!("/devices/{id}"))
        .json(&json!({"deviceId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn device_identity_crud() {
    let (_dir, hub) = hub();
    let created = create(&hub, "d1").await;
    assert_eq!(created["deviceId"], "d1");
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["connectionState"], "Disconnected");
    let keys = &created["authentication"]["symmetricKey"];
    assert!(SharedAccessKey::from_base64(keys["primaryKey"].as_str().unwrap()).is_ok());
    assert_ne!(keys["primaryKey"], keys["secondaryKey"]);

    let fetched: Value = hub.get_json("/devices/d1").await;
    assert_eq!(fetched, created);

    // Creating it again without If-Match is a conflict.
    let again = hub
        .request(Method::PUT, "/devices/d1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_azure_error(again, 409, 409001).await;

    // Updating with a stale etag fails, with the right one succeeds.
    let stale = hub
        .request(Method::PUT, "/devices/d1")
        .header("If-Match", "\"bm9wZQ==\"")
        .json(&json!({"deviceId": "d1", "status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_azure_error(stale, 412, 412001).await;
    let etag = created["etag"].as_str().unwrap();
    let updated: Value = hub
        .request(Method::PUT, "/devices/d1")
        .header("If-Match", format!("\"{etag}\""))
        .json(&json!({"deviceId": "d1", "status": "disabled"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["status"], "disabled");
    assert_ne!(updated["etag"], created["etag"]);
    assert_eq!(updated["authentication"], created["authentication"]);
    let twin: Value = hub.get_json("/twins/d1").await;
    assert_eq!(twin["status"], "disabled");

    let deleted = hub
        .request(Method::DELETE, "/devices/d1")
        .header("If-Match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = hub
        .request(Method::GET, "/devices/d1")
        .send()
        .await
        .unwrap();
    assert_azure_error(gone, 404, 404001).await;
    let gone = hub
        .request(Method::DELETE, "/devices/d1")
        .send()
        .await
        .unwrap();
    assert_azure_error(gone, 404, 404001).await;
    let bad_id = hub
        .request(Method::PUT, "/devices/bad%20id")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_azure_error(bad_id, 400, 400004).await;
}

#[tokio::test]
async fn twin_patch_semantics() {
    let (_dir, hub) = hub();
    create(&hub, "d1").await;
    let fresh: Value = hub.get_json("/twins/d1").await;
    assert_eq!(fresh["etag"], "AAAAAAAAAAE=");
    assert!(fresh.get("tags").is_none());
    assert_eq!(fresh["properties"]["desired"]["$version"], 1);

    let patch = json!({"tags": {"site": {"city": "Oslo", "floor": 3}},
        "properties": {"desired": {"interval": 30, "fw": {"v": "1.0"}}}});
    let response = hub.send_json(Method::PATCH, "/twins/d1", &patch).await;
    assert_eq!(response.status(), 200);
    let header_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let twin: Value = response.json().await.unwrap();
    assert_eq!(
        header_etag,
        format!("\"{}\"", twin["etag"].as_str().unwrap())
    );
    assert_eq!(twin["tags"]["site"]["city"], "Oslo");
    assert_eq!(twin["properties"]["desired"]["interval"], 30);
    assert_eq!(twin["properties"]["desired"]["$version"], 2);
    assert!(twin["version"].as_u64().unwrap() > fresh["version"].as_u64().unwrap());
    let metadata = &twin["properties"]["desired"]["$metadata"];
    assert!(metadata["fw"]["v"]["$lastUpdated"].is_string());
    assert_eq!(metadata["fw"]["v"]["$lastUpdatedVersion"], 2);

    // Nested merge and null delete.
    let patch = json!({"tags": {"site": {"floor": null, "room": "B2"}},
        "properties": {"desired": {"fw": null, "gone": null}}});
    let twin: Value = hub
        .send_json(Method::PATCH, "/twins/d1", &patch)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(twin["tags"]["site"], json!({"city": "Oslo", "room": "B2"}));
    assert!(twin["properties"]["desired"].get("fw").is_none());
    assert!(twin["properties"]["desired"].get("gone").is_none());
    assert_eq!(twin["properties"]["desired"]["$version"], 3);

    // Replace drops what is not in the new document.
    let replacement = json!({"tags": {"owner": "ops"}, "properties": {"desired": {"mode": "eco"}}});
    let twin: Value = hub
        .send_json(Method::PUT, "/twins/d1", &replacement)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(twin["tags"], json!({"owner": "ops"}));
    assert!(twin["properties"]["desired"].get("interval").is_none());
    assert_eq!(twin["properties"]["desired"]["mode"], "eco");

    // Reported properties belong to the device.
    let reported = json!({"properties": {"reported": {"temp": 20}}});
    let response = hub.send_json(Method::PATCH, "/twins/d1", &reported).await;
    assert_azure_error(response, 400, 400004).await;
    // A `$` key is reserved.
    let reserved = json!({"properties": {"desired": {"$mine": 1}}});
    let response = hub.send_json(Method::PATCH, "/twins/d1", &reserved).await;
    assert_azure_error(response, 400, 400004).await;
}

#[tokio::test]
async fn twin_etag_conflicts() {
    let (_dir, hub) = hub();
    create(&hub, "d1").await;
    let twin: Value = hub.get_json("/twins/d1").await;
    let etag = twin["etag"].as_str().unwrap().to_owned();
    let first = hub
        .request(Method::PATCH, "/twins/d1")
        .header("If-Match", format!("\"{etag}\""))
        .json(&json!({"tags": {"a": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = hub
        .request(Method::PATCH, "/twins/d1")
        .header("If-Match", format!("\"{etag}\""))
        .json(&json!({"tags": {"a": 2}}))
        .send()
        .await
        .unwrap();
    assert_azure_error(second, 412, 412001).await;
    let any = hub
        .request(Method::PUT, "/twins/d1")
        .header("If-Match", "\"*\"")
        .json(&json!({"tags": {"a": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(any.status(), 200);
    let twin: Value = hub.get_json("/twins/d1").await;
    assert_eq!(twin["tags"]["a"], 3);
}

#[tokio::test]
async fn query_pages_through_every_twin() {
    let (_dir, hub) = hub();
    for i in 0..25 {
        let id = format!("q{i:02}");
        create(&hub, &id).await;
        let tags = json!({"tags": {"even": i % 2 == 0, "n": i}});
        hub.send_json(Method::PATCH, &format!("/twins/{id}"), &tags)
            .await;
    }
    let query = json!({"query": "SELECT * FROM devices WHERE tags.even = true"});
    let mut seen = Vec::new();
    let mut continuation: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = hub
            .request(Method::POST, "/devices/query")
            .header("x-ms-max-item-count", "5")
            .json(&query);
        if let Some(token) = &continuation {
            request = request.header("x-ms-continuation", token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ms-item-type"], "twin");
        continuation = response
            .headers()
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_owned());
        let rows: Vec<Value> = response.json().await.unwrap();
        assert!(rows.len() <= 5);
        seen.extend(
            rows.iter()
                .map(|row| row["deviceId"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        if continuation.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).step_by(2).map(|i| format!("q{i:02}")).collect();
    assert_eq!(seen, expected);

    let count = json!({"query": "SELECT COUNT() AS total FROM devices WHERE tags.n >= 20"});
    let response = hub.send_json(Method::POST, "/devices/query", &count).await;
    assert_eq!(response.headers()["x-ms-item-type"], "json");
    let rows: Vec<Value> = response.json().await.unwrap();
    assert_eq!(rows, vec![json!({"total": 5})]);

    let bad = json!({"query": "SELECT * FROM devices WHERE tags.n >"});
    let response = hub.send_json(Method::POST, "/devices/query", &bad).await;
    let message = assert_azure_error(response, 400, 400004).await;
    assert!(message.contains("column 37"), "{message}");
    assert_eq!(message.matches("column").count(), 1, "said once: {message}");
    assert!(
        message.ends_with(
            "SELECT * FROM devices WHERE tags.n >\n                                    ^"
        ),
        "the query with a caret under the error: {message}"
    );

    let bad_token = hub
        .request(Method::POST, "/devices/query")
        .header("x-ms-continuation", "not-a-token")
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_azure_error(bad_token, 400, 400004).await;
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let (_dir, hub) = hub();
    let service = hub.service();
    let url = hub.url("/devices/d1");
    let client = hub.client();
    let wrong_key = SasToken::sign(
        &service.host_name,
        &SharedAccessKey::from_bytes(vec![9; 32]),
        Some("iothubowner"),
        now() + 600,
    );
    let expired = SasToken::sign(
        &service.host_name,
        &service.key,
        Some("iothubowner"),
        now() - 3600,
    );
    let device_scoped = SasToken::sign(
        &format!("{}/devices/d1", service.host_name),
        &service.key,
        None,
        now() + 600,
    );
    for header in [
        None,
        Some("garbage".to_owned()),
        Some(wrong_key.to_string()),
        Some(expired.to_string()),
        Some(device_scoped.to_string()),
    ] {
        let mut request = client.get(&url);
        if let Some(header) = &header {
            request = request.header("Authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_azure_error(response, 401, 401002).await;
    }
}

#[tokio::test]
async fn bad_bodies_and_unknown_devices() {
    let (_dir, hub) = hub();
    create(&hub, "d1").await;
    let response = hub
        .request(Method::PATCH, "/twins/d1")
        .header("content-type", "application/json")
        .body("{\"tags\": ")
        .send()
        .await
        .unwrap();
    assert_azure_error(response, 400, 400004).await;

    let oversize = json!({"tags": {"blob": "x".repeat(4000), "blob2": "y".repeat(4000), "blob3": "z".repeat(1000)}});
    let response = hub.send_json(Method::PATCH, "/twins/d1", &oversize).await;
    assert_azure_error(response, 403, 403100).await;
    let long_string = json!({"properties": {"desired": {"s": "x".repeat(5000)}}});
    let response = hub
        .send_json(Method::PATCH, "/twins/d1", &long_string)
        .await;
    assert_azure_error(response, 400, 400004).await;
    // Nothing of the refused writes landed.
    let twin: Value = hub.get_json("/twins/d1").await;
    assert!(twin.get("tags").is_none());

    let missing = hub
        .request(Method::GET, "/twins/nobody")
        .send()
        .await
        .unwrap();
    assert_azure_error(missing, 404, 404001).await;
    let missing = hub
        .request(Method::PATCH, "/twins/nobody")
        .json(&json!({"tags": {}}))
        .send()
        .await
        .unwrap();
    assert_azure_error(missing, 404, 404001).await;
    let method = json!({"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 5});
    let missing = hub
        .send_json(Method::POST, "/twins/nobody/methods", &method)
        .await;
    assert_azure_error(missing, 404, 404001).await;
    let offline = hub
        .send_json(Method::POST, "/twins/d1/methods", &method)
        .await;
    assert_azure_error(offline, 404, 404103).await;
    let bad_timeout = json!({"methodName": "reboot", "responseTimeoutInSeconds": 1});
    let response = hub
        .send_json(Method::POST, "/twins/d1/methods", &bad_timeout)
        .await;
    assert_azure_error(response, 400, 400004).await;

    // A method a path does not offer, and a path the API does not have.
    let response = hub
        .request(Method::PATCH, "/devices/d1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let message = assert_azure_error(response, 400, 400004).await;
    assert!(message.contains("PATCH"), "{message}");
    let response = hub.request(Method::GET, "/jobs/v2").send().await.unwrap();
    assert_azure_error(response, 400, 400004).await;

    // No api-version, or one that names no version.
    for query in ["", "?api-version=latest"] {
        let response = hub
            .client()
            .get(format!(
                "{}/devices/d1{query}",
                hub.ready["http_url"].as_str().unwrap()
            ))
            .header("Authorization", hub.token())
            .send()
            .await
            .unwrap();
        let message = assert_azure_error(response, 400, 400001).await;
        assert!(message.contains("api-version"), "{query}: {message}");
    }
}

#[tokio::test]
async fn demo_devices_are_seeded_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--demo", "30"]);
    let count = json!({"query": "SELECT COUNT() AS n FROM devices"});
    let rows: Vec<Value> = hub
        .send_json(Method::POST, "/devices/query", &count)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rows, vec![json!({"n": 30})]);
    let key = hub.service().key.to_base64();
    drop(hub);
    // The store and the owner key persist; --demo does not reseed a non-empty store.
    let hub = HubProcess::start(dir.path(), &["--demo", "50"]);
    assert_eq!(hub.service().key.to_base64(), key);
    let rows: Vec<Value> = hub
        .send_json(Method::POST, "/devices/query", &count)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rows, vec![json!({"n": 30})]);
    let grouped = json!({"query": "SELECT tags.deviceType, COUNT() AS n FROM devices GROUP BY tags.deviceType"});
    let rows: Vec<Value> = hub
        .send_json(Method::POST, "/devices/query", &grouped)
        .await
        .json()
        .await
        .unwrap();
    let total: u64 = rows.iter().map(|row| row["n"].as_u64().unwrap()).sum();
    assert_eq!(total, 30);
}

#[tokio::test]
async fn a_hub_bound_to_another_loopback_address_says_so_and_serves_there() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--bind", "127.0.0.2", "--mqtt-port", "0"]);
    let host = hub.ready["host_name"].as_str().unwrap();
    assert!(host.starts_with("127.0.0.2:"), "{host}");
    assert!(
        hub.ready["service_connection_string"]
            .as_str()
            .unwrap()
            .starts_with(&format!("HostName={host};"))
    );
    // The connection string's host and token reach the hub as they are.
    let created = create(&hub, "bound").await;
    assert_eq!(created["deviceId"], "bound");
}
