//! Module identities and module twins on the local hub, against the real binary: create,
//! read, list, update and delete with etags, the twin of each module apart from its
//! device's, modules over MQTT with their own keys (twin, desired pushes, methods), and
//! Azure's status and error codes for the bad cases.

use crate::common;

use common::device::{TestDevice, register};
use common::{HubProcess, assert_azure_error};
use reqwest::Method;
use serde_json::{Value, json};

async fn hub_with_device(device_id: &str) -> (tempfile::TempDir, HubProcess) {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    create_device(&hub, device_id).await;
    (dir, hub)
}

async fn create_device(hub: &HubProcess, device_id: &str) {
    let response = hub
        .request(Method::PUT, &format!("/devices/{device_id}"))
        .json(&json!({"deviceId": device_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn put_module(hub: &HubProcess, path: &str, body: Value) -> reqwest::Response {
    hub.request(Method::PUT, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn module_identities_are_created_read_listed_updated_and_deleted() {
    let (_dir, hub) = hub_with_device("d1").await;
    assert_eq!(hub.get_json("/devices/d1/modules").await, json!([]));

    // As the Node.js SDK sends it: empty keys, to be generated.
    let body = json!({
        "deviceId": "d1", "moduleId": "m1",
        "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "", "secondaryKey": ""}}
    });
    let created = put_module(&hub, "/devices/d1/modules/m1", body).await;
    assert_eq!(created.status(), 200);
    let etag_header = created.headers()["etag"].to_str().unwrap().to_owned();
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["moduleId"], "m1");
    assert_eq!(created["deviceId"], "d1");
    assert_eq!(created["connectionState"], "Disconnected");
    assert_eq!(
        etag_header,
        format!("\"{}\"", created["etag"].as_str().unwrap())
    );
    let keys = &created["authentication"]["symmetricKey"];
    assert!(!keys["primaryKey"].as_str().unwrap().is_empty());
    assert_ne!(keys["primaryKey"], keys["secondaryKey"]);

    assert_eq!(hub.get_json("/devices/d1/modules/m1").await, created);
    put_module(&hub, "/devices/d1/modules/m0", json!({})).await;
    let listed = hub.get_json("/devices/d1/modules").await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|module| module["moduleId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["m0", "m1"]);

    // Creating it again is a conflict; a stale etag is refused; "*" (quoted, as the
    // SDKs send it) updates.
    let again = put_module(&hub, "/devices/d1/modules/m1", json!({})).await;
    assert_azure_error(again, 409, 409301).await;
    let stale = hub
        .request(Method::PUT, "/devices/d1/modules/m1")
        .header("If-Match", "\"bm9wZQ==\"")
        .json(&json!({"managedBy": "me"}))
        .send()
        .await
        .unwrap();
    assert_azure_error(stale, 412, 412001).await;
    let updated = hub
        .request(Method::PUT, "/devices/d1/modules/m1")
        .header("If-Match", "\"*\"")
        .json(&json!({"moduleId": "m1", "managedBy": "me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["managedBy"], "me");
    assert_ne!(updated["etag"], created["etag"]);
    assert_eq!(updated["generationId"], created["generationId"]);

    let deleted = hub
        .request(Method::DELETE, "/devices/d1/modules/m1")
        .header("If-Match", "\"*\"")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = hub
        .request(Method::GET, "/devices/d1/modules/m1")
        .send()
        .await
        .unwrap();
    assert_azure_error(gone, 404, 404010).await;
}

#[tokio::test]
async fn bad_module_requests_get_azures_codes() {
    let (_dir, hub) = hub_with_device("d1").await;
    let no_device = put_module(&hub, "/devices/nobody/modules/m1", json!({})).await;
    assert_azure_error(no_device, 404, 404001).await;
    let list_no_device = hub
        .request(Method::GET, "/devices/nobody/modules")
        .send()
        .await
        .unwrap();
    assert_azure_error(list_no_device, 404, 404001).await;
    let update_missing = hub
        .request(Method::PUT, "/devices/d1/modules/m9")
        .header("If-Match", "*")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_azure_error(update_missing, 404, 404010).await;
    let delete_missing = hub
        .request(Method::DELETE, "/devices/d1/modules/m9")
        .send()
        .await
        .unwrap();
    assert_azure_error(delete_missing, 404, 404010).await;
    let mismatched = put_module(&hub, "/devices/d1/modules/m1", json!({"moduleId": "m2"})).await;
    assert_azure_error(mismatched, 400, 400004).await;
    let bad_id = put_module(&hub, "/devices/d1/modules/bad%20id", json!({})).await;
    assert_azure_error(bad_id, 400, 400004).await;
    let twin_missing = hub
        .request(Method::GET, "/twins/d1/modules/m9")
        .send()
        .await
        .unwrap();
    assert_azure_error(twin_missing, 404, 404010).await;
}

#[tokio::test]
async fn a_module_twin_is_written_apart_from_its_device_and_goes_with_it() {
    let (_dir, hub) = hub_with_device("d1").await;
    put_module(&hub, "/devices/d1/modules/m1", json!({})).await;
    let twin = hub.get_json("/twins/d1/modules/m1").await;
    assert_eq!(twin["deviceId"], "d1");
    assert_eq!(twin["moduleId"], "m1");
    assert_eq!(twin["properties"]["desired"]["$version"], 1);

    let patched = hub
        .request(Method::PATCH, "/twins/d1/modules/m1")
        .header(
            "If-Match",
            format!("\"{}\"", twin["etag"].as_str().unwrap()),
        )
        .json(&json!({"tags": {"role": "filter"}, "properties": {"desired": {"threshold": 7}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["tags"]["role"], "filter");
    assert_eq!(patched["properties"]["desired"]["threshold"], 7);
    assert_eq!(patched["properties"]["desired"]["$version"], 2);
    let stale = hub
        .request(Method::PATCH, "/twins/d1/modules/m1")
        .header(
            "If-Match",
            format!("\"{}\"", twin["etag"].as_str().unwrap()),
        )
        .json(&json!({"tags": {"role": "other"}}))
        .send()
        .await
        .unwrap();
    assert_azure_error(stale, 412, 412001).await;
    let replaced = hub
        .request(Method::PUT, "/twins/d1/modules/m1")
        .json(&json!({"tags": {"only": true}, "properties": {"desired": {}}}))
        .send()
        .await
        .unwrap();
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["tags"], json!({"only": true}));
    assert!(replaced["properties"]["desired"].get("threshold").is_none());

    // The device's own twin is untouched.
    let device_twin = hub.get_json("/twins/d1").await;
    assert!(device_twin.get("moduleId").is_none());
    assert!(
        device_twin["properties"]["desired"]
            .get("threshold")
            .is_none()
    );

    // Deleting the device deletes its modules; a device of the same id starts bare.
    let deleted = hub
        .request(Method::DELETE, "/devices/d1")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    create_device(&hub, "d1").await;
    assert_eq!(hub.get_json("/devices/d1/modules").await, json!([]));
}

/// Registers module `module_id` on `device_id` and returns its primary key.
async fn register_module(hub: &HubProcess, device_id: &str, module_id: &str) -> String {
    let path = format!("/devices/{device_id}/modules/{module_id}");
    let created: Value = put_module(hub, &path, json!({}))
        .await
        .json()
        .await
        .unwrap();
    created["authentication"]["symmetricKey"]["primaryKey"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_module_connects_with_its_own_keys_and_serves_its_own_twin_and_methods() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let device_key = register(&hub, "d1").await;
    let module_key = register_module(&hub, "d1", "m1").await;

    // A device key does not authenticate a module, nor the reverse.
    let wrong = TestDevice::connect_module(&hub, "d1", "m1", &device_key).await;
    assert!(wrong.is_err(), "a module connected with its device's key");
    let wrong = TestDevice::connect(&hub, "d1", &module_key).await;
    assert!(wrong.is_err(), "a device connected with its module's key");
    let unknown = TestDevice::connect_module(&hub, "d1", "m9", &module_key).await;
    assert!(unknown.is_err(), "an unregistered module connected");

    let mut module = TestDevice::connect_module(&hub, "d1", "m1", &module_key)
        .await
        .unwrap();
    assert_eq!(
        hub.get_json("/twins/d1/modules/m1").await["connectionState"],
        "Connected"
    );
    assert_eq!(
        hub.get_json("/twins/d1").await["connectionState"],
        "Disconnected"
    );
    module.subscribe("$iothub/twin/res/#").await;
    module
        .subscribe("$iothub/twin/PATCH/properties/desired/#")
        .await;
    module.subscribe("$iothub/methods/POST/#").await;

    // Twin GET and a reported patch reach the module's twin only.
    module.publish("$iothub/twin/GET/?$rid=1", " ").await;
    let response = module.next_publish().await;
    assert_eq!(response.topic, "$iothub/twin/res/200/?$rid=1");
    module
        .publish(
            "$iothub/twin/PATCH/properties/reported/?$rid=2",
            r#"{"filtered": 12}"#,
        )
        .await;
    let response = module.next_publish().await;
    assert!(
        response.topic.starts_with("$iothub/twin/res/204/?$rid=2"),
        "{}",
        response.topic
    );
    let module_twin = hub.get_json("/twins/d1/modules/m1").await;
    assert_eq!(module_twin["properties"]["reported"]["filtered"], 12);
    let device_twin = hub.get_json("/twins/d1").await;
    assert!(
        device_twin["properties"]["reported"]
            .get("filtered")
            .is_none()
    );

    // A desired change of the module twin is pushed to the module.
    let patched = hub
        .request(Method::PATCH, "/twins/d1/modules/m1")
        .json(&json!({"properties": {"desired": {"threshold": 9}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let push = module.next_publish().await;
    assert!(
        push.topic
            .starts_with("$iothub/twin/PATCH/properties/desired/?$version=2"),
        "{}",
        push.topic
    );
    let pushed: Value = serde_json::from_slice(&push.payload).unwrap();
    assert_eq!(pushed["threshold"], 9);

    // A direct method on the module is answered by the module.
    let call = tokio::spawn({
        let request = hub
            .request(Method::POST, "/twins/d1/modules/m1/methods")
            .json(&json!({"methodName": "reset", "payload": {"hard": true}, "responseTimeoutInSeconds": 10}));
        async move { request.send().await.unwrap() }
    });
    let invoked = module.next_publish().await;
    assert!(
        invoked
            .topic
            .starts_with("$iothub/methods/POST/reset/?$rid=")
    );
    let rid = invoked.topic.rsplit_once("$rid=").unwrap().1.to_owned();
    module
        .publish(
            &format!("$iothub/methods/res/201/?$rid={rid}"),
            r#"{"done": true}"#,
        )
        .await;
    let answered = call.await.unwrap();
    assert_eq!(answered.status(), 200);
    let answered: Value = answered.json().await.unwrap();
    assert_eq!(answered, json!({"status": 201, "payload": {"done": true}}));

    // The device itself has no method subscriber: 404103, as for any device offline.
    let offline = hub
        .request(Method::POST, "/twins/d1/methods")
        .json(&json!({"methodName": "reset", "responseTimeoutInSeconds": 5}))
        .send()
        .await
        .unwrap();
    assert_azure_error(offline, 404, 404103).await;

    // Disabling the device ends its modules' sessions and keeps them out.
    let disabled = hub
        .request(Method::PUT, "/devices/d1")
        .header("If-Match", "*")
        .json(&json!({"deviceId": "d1", "status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    module.ended().await;
    let refused = TestDevice::connect_module(&hub, "d1", "m1", &module_key).await;
    assert!(refused.is_err(), "a module of a disabled device connected");
}

#[tokio::test]
async fn deleting_a_module_ends_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    register(&hub, "d1").await;
    let key = register_module(&hub, "d1", "m1").await;
    let mut module = TestDevice::connect_module(&hub, "d1", "m1", &key)
        .await
        .unwrap();
    let deleted = hub
        .request(Method::DELETE, "/devices/d1/modules/m1")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    module.ended().await;
    assert!(
        TestDevice::connect_module(&hub, "d1", "m1", &key)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn module_twins_are_queried_with_from_devices_modules() {
    let (_dir, hub) = hub_with_device("d1").await;
    create_device(&hub, "d2").await;
    for path in [
        "/devices/d1/modules/filter",
        "/devices/d1/modules/sensor",
        "/devices/d2/modules/filter",
    ] {
        assert_eq!(put_module(&hub, path, json!({})).await.status(), 200);
    }
    let query = |text: &str| {
        hub.request(Method::POST, "/devices/query")
            .json(&json!({"query": text}))
            .send()
    };
    let response = query("SELECT * FROM devices.modules WHERE moduleId = 'filter'")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-ms-item-type"], "twin");
    let rows: Vec<Value> = response.json().await.unwrap();
    let found: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| {
            (
                row["deviceId"].as_str().unwrap(),
                row["moduleId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, [("d1", "filter"), ("d2", "filter")]);
    let counted: Vec<Value> =
        query("SELECT COUNT() AS n FROM devices.modules WHERE deviceId = 'd1'")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(counted, [json!({"n": 2})]);
    let devices: Vec<Value> = query("SELECT * FROM devices")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(devices.len(), 2, "module twins are not device twins");
}
