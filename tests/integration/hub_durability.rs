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
    let mut writers = Vec::new();
    for writer in 0..4 {
        let client = hub.client();
        let url = hub.url("/twins/d1");
        let token = hub.token();
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
                    Ok(response) if response.status() == 200 => acknowledged.push(key),
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
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
