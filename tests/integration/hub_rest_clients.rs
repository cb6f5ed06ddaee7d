//! What other real clients rely on from the service API, as Azure IoT Hub serves it:
//! `GET /devices?top=N` (the Node.js SDK's `Registry.list()`), each route's error body
//! form (the Node.js SDK's typed errors), method timeouts as strings of digits and
//! tokens for a narrower resource and bulk key regeneration (the Azure CLI), and device
//! scopes of IoT Edge hierarchies (the CLI's `children` and `parent` commands).

use crate::common;

use common::HubProcess;
use reqwest::Method;
use serde_json::{Value, json};
use twinlens::auth::SasToken;

fn hub() -> (tempfile::TempDir, HubProcess) {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    (dir, hub)
}

async fn put_device(hub: &HubProcess, body: Value, update: bool) -> reqwest::Response {
    let id = body["deviceId"].as_str().unwrap().to_owned();
    let mut request = hub
        .request(Method::PUT, &format!("/devices/{id}"))
        .json(&body);
    if update {
        request = request.header("If-Match", "*");
    }
    request.send().await.unwrap()
}

async fn created(hub: &HubProcess, body: Value, update: bool) -> Value {
    let response = put_device(hub, body, update).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn device_identities_are_listed_with_top() {
    let (_dir, hub) = hub();
    for id in ["d3", "d1", "d2"] {
        created(&hub, json!({"deviceId": id}), false).await;
    }
    // The Node.js SDK asks for `/devices/`, other clients for `/devices`.
    for path in ["/devices", "/devices/"] {
        let listed = hub.get_json(path).await;
        let ids: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|device| device["deviceId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["d1", "d2", "d3"], "{path}");
        assert!(listed[0]["authentication"]["symmetricKey"]["primaryKey"].is_string());
    }
    let url = |top: &str| format!("{}&top={top}", hub.url("/devices"));
    let list = |top: &'static str| {
        let request = hub
            .client()
            .get(url(top))
            .header("Authorization", hub.token());
        async move { request.send().await.unwrap() }
    };
    let two: Value = list("2").await.json().await.unwrap();
    assert_eq!(two.as_array().unwrap().len(), 2);
    // Outside 1 to 1000 means 1000, as on Azure.
    for top in ["0", "-3", "5000"] {
        let all: Value = list(top).await.json().await.unwrap();
        assert_eq!(all.as_array().unwrap().len(), 3, "top={top}");
    }
    let message = common::assert_azure_error(list("many").await, 400, 400004).await;
    assert!(message.contains("top"), "{message}");
}

#[tokio::test]
async fn errors_take_the_form_azure_sends_on_each_route() {
    let (_dir, hub) = hub();
    // Identities, twins and authentication: `ErrorCode:<Name>;<text>`.
    for (method, path) in [
        (Method::GET, "/devices/nobody"),
        (Method::DELETE, "/devices/nobody"),
        (Method::GET, "/twins/nobody"),
    ] {
        let response = hub.request(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let (name, text) = common::error_code_form(response).await;
        assert_eq!(name, "DeviceNotFound", "{method} {path}");
        assert!(text.contains("nobody"), "{text}");
    }
    created(&hub, json!({"deviceId": "d1"}), false).await;
    let again = put_device(&hub, json!({"deviceId": "d1"}), false).await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        common::error_code_form(again).await.0,
        "DeviceAlreadyExists"
    );
    let unauthorized = hub
        .client()
        .get(hub.url("/devices/d1"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(
        common::error_code_form(unauthorized).await.0,
        "IotHubUnauthorizedAccess"
    );
    let bad_query = hub
        .send_json(
            Method::POST,
            "/devices/query",
            &json!({"query": "SELECT FROM"}),
        )
        .await;
    common::assert_azure_error(bad_query, 400, 400004).await;

    // Direct methods: the JSON form.
    let call = json!({"methodName": "reboot", "responseTimeoutInSeconds": 5});
    let response = hub
        .send_json(Method::POST, "/twins/d1/methods", &call)
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    let inner: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["errorCode"], 404103, "{body}");
    assert!(inner["trackingId"].is_string(), "{body}");
    assert_eq!(body["ExceptionMessage"], "");
}

#[tokio::test]
async fn method_timeouts_may_be_strings_of_digits() {
    let (_dir, hub) = hub();
    created(&hub, json!({"deviceId": "d1"}), false).await;
    // As `az iot hub invoke-device-method` sends them: accepted, so the offline device
    // is what fails.
    let call = json!({
        "methodName": "reboot",
        "payload": {},
        "responseTimeoutInSeconds": "30",
        "connectTimeoutInSeconds": "0"
    });
    let response = hub
        .send_json(Method::POST, "/twins/d1/methods", &call)
        .await;
    common::assert_azure_error(response, 404, 404103).await;
    for bad in [json!("3"), json!("thirty"), json!("")] {
        let call = json!({"methodName": "reboot", "responseTimeoutInSeconds": bad});
        let response = hub
            .send_json(Method::POST, "/twins/d1/methods", &call)
            .await;
        let message = common::assert_azure_error(response, 400, 400004).await;
        assert!(message.contains("responseTimeoutInSeconds"), "{message}");
    }
}

#[tokio::test]
async fn a_token_for_a_narrower_resource_covers_the_requests_under_it() {
    let (_dir, hub) = hub();
    created(&hub, json!({"deviceId": "dev1"}), false).await;
    created(&hub, json!({"deviceId": "dev2"}), false).await;
    let service = hub.service();
    // An owner-policy token signed for `{host}/devices/dev1`, as the Azure CLI signs some
    // calls.
    let token = SasToken::sign(
        &format!("{}/devices/dev1", service.host_name),
        &service.key,
        Some(&service.policy_name),
        common::now() + 600,
    )
    .to_string();
    let get = |path: &str| {
        hub.client()
            .get(hub.url(path))
            .header("Authorization", token.clone())
            .send()
    };
    let response = get("/devices/dev1").await.unwrap();
    assert_eq!(response.status(), 200);
    let device: Value = response.json().await.unwrap();
    assert_eq!(device["deviceId"], "dev1");
    for outside in ["/devices/dev2", "/devices/dev10", "/twins/dev2"] {
        let response = get(outside).await.unwrap();
        common::assert_azure_error(response, 401, 401002).await;
    }
}

#[tokio::test]
async fn device_scopes_describe_iot_edge_hierarchies() {
    let (_dir, hub) = hub();
    let edge = created(
        &hub,
        json!({"deviceId": "edge1", "capabilities": {"iotEdge": true}}),
        false,
    )
    .await;
    let scope = edge["deviceScope"].as_str().unwrap().to_owned();
    let generation = edge["generationId"].as_str().unwrap();
    assert_eq!(scope, format!("ms-azure-iot-edge://edge1-{generation}"));
    assert_eq!(edge["parentScopes"], json!([]));

    let leaf = created(&hub, json!({"deviceId": "leaf1"}), false).await;
    assert!(leaf.get("deviceScope").is_none(), "{leaf}");
    assert_eq!(leaf["parentScopes"], json!([]));

    // `az iot hub device-identity children add`: the child's deviceScope names its
    // parent; its parentScopes follow.
    let mut child = leaf.clone();
    child["deviceScope"] = json!(scope);
    let child = created(&hub, child, true).await;
    assert_eq!(child["deviceScope"], json!(scope));
    assert_eq!(child["parentScopes"], json!([scope]));
    let twin = hub.get_json("/twins/leaf1").await;
    assert_eq!(twin["deviceScope"], json!(scope));
    assert_eq!(twin["parentScopes"], json!([scope]));
    // `children list`.
    let query = json!({
        "query": format!("select deviceId from devices where array_contains(parentScopes, '{scope}')")
    });
    let response = hub.send_json(Method::POST, "/devices/query", &query).await;
    assert_eq!(response.status(), 200);
    let rows: Value = response.json().await.unwrap();
    assert_eq!(rows, json!([{"deviceId": "leaf1"}]));

    // A nested IoT Edge device keeps its own scope and names its parent.
    let nested = created(
        &hub,
        json!({"deviceId": "edge2", "capabilities": {"iotEdge": true}, "parentScopes": [scope]}),
        false,
    )
    .await;
    assert_eq!(nested["parentScopes"], json!([scope]));
    assert!(
        nested["deviceScope"]
            .as_str()
            .unwrap()
            .starts_with("ms-azure-iot-edge://edge2-")
    );

    // Scopes that name no IoT Edge device of this hub are refused.
    let leaf2 = created(&hub, json!({"deviceId": "leaf2"}), false).await;
    for bad in [
        json!("ms-azure-iot-edge://nobody-123"),
        json!("not a scope"),
        json!(leaf2["generationId"]),
        json!(7),
    ] {
        let mut body = leaf2.clone();
        body["deviceScope"] = bad.clone();
        let response = put_device(&hub, body, true).await;
        let message = common::assert_azure_error(response, 400, 400004).await;
        assert!(message.contains("cope"), "{bad}: {message}");
    }
    let leaf_scope_for_leaf = json!({"deviceId": "leaf2", "deviceScope": format!("ms-azure-iot-edge://leaf1-{}", child["generationId"].as_str().unwrap())});
    let response = put_device(&hub, leaf_scope_for_leaf, true).await;
    common::assert_azure_error(response, 400, 400004).await;

    // `children remove`: an empty deviceScope.
    let mut orphan = child.clone();
    orphan["deviceScope"] = json!("");
    let orphan = created(&hub, orphan, true).await;
    assert!(orphan.get("deviceScope").is_none(), "{orphan}");
    assert_eq!(orphan["parentScopes"], json!([]));
    let twin = hub.get_json("/twins/leaf1").await;
    assert!(twin.get("parentScopes").is_none(), "{twin}");
}

#[tokio::test]
async fn keys_are_regenerated_in_bulk() {
    let (_dir, hub) = hub();
    let d1 = created(&hub, json!({"deviceId": "d1"}), false).await;
    let d2 = created(&hub, json!({"deviceId": "d2"}), false).await;
    let keys = |device: &Value| {
        let keys = &device["authentication"]["symmetricKey"];
        (keys["primaryKey"].clone(), keys["secondaryKey"].clone())
    };
    // `az iot hub device-identity renew-key --kt primary`.
    let request = json!({"policyKey": "primaryKey", "devices": [{"id": "d1"}, {"id": "d2"}]});
    let response = hub
        .send_json(Method::POST, "/devices/keys/regenerate", &request)
        .await;
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["policyKey"], "primaryKey");
    assert_eq!(result["errors"], json!([]));
    let rotated = result["rotatedKeys"].as_array().unwrap();
    assert_eq!(rotated.len(), 2);
    for (before, after) in [&d1, &d2].into_iter().zip(rotated) {
        let stored = hub
            .get_json(&format!(
                "/devices/{}",
                before["deviceId"].as_str().unwrap()
            ))
            .await;
        assert_eq!(after["id"], before["deviceId"]);
        assert_ne!(after["primaryKey"], keys(before).0, "a new primary key");
        assert_eq!(
            after["secondaryKey"],
            keys(before).1,
            "the secondary key kept"
        );
        assert_eq!(
            keys(&stored),
            (after["primaryKey"].clone(), after["secondaryKey"].clone())
        );
    }

    // Some devices rotated: 207, with an error for each other one.
    let request = json!({"policyKey": "both", "devices": [{"id": "d1"}, {"id": "nobody"}]});
    let response = hub
        .send_json(Method::POST, "/devices/keys/regenerate", &request)
        .await;
    assert_eq!(response.status(), 207);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["rotatedKeys"].as_array().unwrap().len(), 1);
    assert_eq!(result["errors"][0]["id"], "nobody");
    assert_eq!(result["errors"][0]["errorCode"], "DeviceNotFound");
    // None rotated: 400 with the same body.
    let request = json!({"policyKey": "secondaryKey", "devices": [{"id": "nobody"}]});
    let response = hub
        .send_json(Method::POST, "/devices/keys/regenerate", &request)
        .await;
    assert_eq!(response.status(), 400);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["errors"].as_array().unwrap().len(), 1);
    // A request that cannot be read at all is an Azure error.
    let request = json!({"policyKey": "primary", "devices": [{"id": "d1"}]});
    let response = hub
        .send_json(Method::POST, "/devices/keys/regenerate", &request)
        .await;
    let message = common::assert_azure_error(response, 400, 400004).await;
    assert!(message.contains("policyKey"), "{message}");
}
