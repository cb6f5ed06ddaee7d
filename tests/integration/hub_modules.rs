//! Module identities and module twins on the local hub's service REST API, against the
//! real binary: create, read, list, update and delete with etags, the twin of each
//! module apart from its device's, and Azure's status and error codes for the bad cases.

use crate::common;

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
