//! The local hub started in-process (`hub::start` on a temporary directory), with helpers
//! to register devices in its store and call its service API.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};
use twinlens::auth::{DeviceConnectionString, ServiceConnectionString, SharedAccessKey};
use twinlens::hub::{self, HubConfig, RunningHub};

use super::{API_VERSION, client_for, now};

/// Starts a hub on `data_dir`; `mqtt_port` 0 picks a free port, another reuses one.
pub async fn start_hub(data_dir: &Path, mqtt_port: u16, tls: bool) -> RunningHub {
    hub::start(HubConfig {
        data_dir: data_dir.to_owned(),
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        http_port: 0,
        mqtt_port,
        tls,
        demo_devices: None,
        limits: Default::default(),
    })
    .await
    .unwrap()
}

/// Registers `device_id` straight in the hub's store and returns its connection string.
pub fn register(hub: &RunningHub, device_id: &str) -> DeviceConnectionString {
    // The device is served at once; the test never needs it durable.
    let (identity, _pending) = hub
        .state
        .store
        .put_device(
            device_id,
            &json!({"deviceId": device_id}),
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    let key = identity.authentication.symmetric_key.primary_key.unwrap();
    DeviceConnectionString {
        host_name: "localhost".into(),
        device_id: device_id.into(),
        module_id: None,
        gateway_host_name: None,
        key: SharedAccessKey::from_base64(&key).unwrap(),
    }
}

/// An authorised request to the hub's service API.
pub fn request(hub: &RunningHub, method: Method, path: &str) -> reqwest::RequestBuilder {
    let service: ServiceConnectionString = hub.ready.service_connection_string.parse().unwrap();
    let token = service.sas_token(now() + 3600).to_string();
    client_for(&serde_json::to_value(&hub.ready).unwrap())
        .request(
            method,
            format!("{}{path}?api-version={}", hub.ready.http_url, API_VERSION),
        )
        .header("Authorization", token)
}

/// The service view of a twin.
pub async fn twin(hub: &RunningHub, device_id: &str) -> Value {
    let response = request(hub, Method::GET, &format!("/twins/{device_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Merges `desired` into a twin's desired properties.
pub async fn patch_desired(hub: &RunningHub, device_id: &str, desired: Value) {
    let response = request(hub, Method::PATCH, &format!("/twins/{device_id}"))
        .json(&json!({"properties": {"desired": desired}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Invokes a direct method and returns `{status, payload}`.
pub async fn invoke(hub: &RunningHub, device_id: &str, method: &str, payload: Value) -> Value {
    let response = request(hub, Method::POST, &format!("/twins/{device_id}/methods"))
        .json(&json!({"methodName": method, "payload": payload, "responseTimeoutInSeconds": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}
