//! IoT Plug and Play on the local hub: the model id a device announces in its MQTT
//! username (as each Azure SDK spells it) on the twin and in queries, the digital twin
//! routes (read, JSON Patch, commands of the default and named components, errors), and
//! the system properties of Plug and Play telemetry.

use crate::common;

use std::time::Duration;

use common::device::{TestDevice, connection_string, register};
use common::{HubProcess, assert_azure_error, now};
use reqwest::Method;
use serde_json::{Value, json};

const THERMOSTAT: &str = "dtmi:com:example:Thermostat;1";
const CONTROLLER: &str = "dtmi:com:example:TemperatureController;2";

/// Connects `device_id` with `query` after the username's `?` (a module when
/// `module_id` is given).
async fn connect_announcing(
    hub: &HubProcess,
    device_id: &str,
    module_id: Option<&str>,
    key: &str,
    query: &str,
) -> TestDevice {
    let credentials = twinlens::auth::DeviceConnectionString {
        module_id: module_id.map(str::to_owned),
        ..connection_string(device_id, key)
    };
    let password = credentials.sas_token(now() + 3600).to_string();
    let client_id = match module_id {
        Some(module_id) => format!("{device_id}/{module_id}"),
        None => device_id.to_owned(),
    };
    let username = format!("localhost/{client_id}/?{query}");
    TestDevice::connect_with_username(hub, &client_id, &username, &password)
        .await
        .unwrap()
}

async fn query(hub: &HubProcess, sql: &str) -> Vec<Value> {
    let response = hub
        .send_json(Method::POST, "/devices/query", &json!({"query": sql}))
        .await;
    assert_eq!(response.status(), 200, "{sql}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_model_id_of_the_username_is_the_twins_and_can_be_queried() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    // Each device connects with a username as one SDK writes it, and the model id the
    // hub should take from it.
    let usernames = [
        // Python, C# and the Embedded C SDK: upper-case hex, after DeviceClientType.
        (
            "python",
            "api-version=2020-09-30&DeviceClientType=azure-iot-device-iothub-py%2F2.14.0\
             &model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1",
            THERMOSTAT,
        ),
        // Node.js: raw, before DeviceClientType.
        (
            "node",
            "api-version=2021-04-12&model-id=dtmi:com:example:TemperatureController;2\
             &DeviceClientType=azure-iot-device%2F1.18.0",
            CONTROLLER,
        ),
        // C: lower-case hex.
        (
            "c",
            "api-version=2020-09-30&DeviceClientType=iothubclient%2F1.11.0\
             &model-id=dtmi%3acom%3aexample%3aThermostat%3b1",
            THERMOSTAT,
        ),
        // Not a DTMI: the device connects, the model id is not taken.
        ("odd", "api-version=2020-09-30&model-id=thermostat", ""),
        // No model id at all.
        ("plain", "api-version=2021-04-12", ""),
    ];
    let mut devices = Vec::new();
    for (device_id, query, _) in usernames {
        let key = register(&hub, device_id).await;
        devices.push(connect_announcing(&hub, device_id, None, &key, query).await);
    }

    for (device, _, model) in usernames {
        let twin = hub.get_json(&format!("/twins/{device}")).await;
        assert_eq!(twin["modelId"], model, "{device}: {twin}");
        // The identity has no model id on Azure.
        let identity = hub.get_json(&format!("/devices/{device}")).await;
        assert!(identity.get("modelId").is_none(), "{identity}");
    }

    let found = query(
        &hub,
        &format!("SELECT * FROM devices WHERE modelId = '{THERMOSTAT}'"),
    )
    .await;
    let mut ids: Vec<&str> = found
        .iter()
        .map(|t| t["deviceId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["c", "python"]);
    // Azure IoT Explorer's device list projection.
    let listed = query(
        &hub,
        "SELECT deviceId as DeviceId, modelId as ModelId FROM devices WHERE devices.modelId = 'dtmi:com:example:TemperatureController;2'",
    )
    .await;
    assert_eq!(listed, [json!({"DeviceId": "node", "ModelId": CONTROLLER})]);

    // `twinlens export --query` selects by model, and the snapshot keeps the model id.
    let out = dir.path().join("thermostats.json");
    let connection = hub.ready["service_connection_string"]
        .as_str()
        .unwrap()
        .to_owned();
    let args = [
        "export".to_owned(),
        "--no-tls".to_owned(),
        "--connection-string".to_owned(),
        connection,
        "--query".to_owned(),
        format!("SELECT * FROM devices WHERE modelId = '{THERMOSTAT}'"),
        "--out".to_owned(),
        out.to_str().unwrap().to_owned(),
    ];
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(&args)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let snapshot = twinlens::snapshot::read_snapshot(&out).unwrap();
    let mut exported: Vec<(String, String)> = snapshot
        .twins
        .iter()
        .map(|twin| {
            (
                twin["deviceId"].as_str().unwrap().to_owned(),
                twin["modelId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    exported.sort_unstable();
    assert_eq!(
        exported,
        [
            ("c".to_owned(), THERMOSTAT.to_owned()),
            ("python".to_owned(), THERMOSTAT.to_owned())
        ]
    );

    // The model id stays once the device goes away.
    devices[0].client.disconnect().await.unwrap();
    for _ in 0..50 {
        let twin = hub.get_json("/twins/python").await;
        if twin["connectionState"] == "Disconnected" {
            assert_eq!(twin["modelId"], THERMOSTAT);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        hub.get_json("/twins/python").await["connectionState"],
        "Disconnected"
    );

    // A module announces its own model, on the module twin.
    let response = hub
        .send_json(
            Method::PUT,
            "/devices/python/modules/sensor",
            &json!({"moduleId": "sensor"}),
        )
        .await;
    let module: Value = response.json().await.unwrap();
    let module_key = module["authentication"]["symmetricKey"]["primaryKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let _module = connect_announcing(
        &hub,
        "python",
        Some("sensor"),
        &module_key,
        "api-version=2020-09-30&model-id=dtmi%3Acom%3Aexample%3ASensor%3B1",
    )
    .await;
    let module_twin = hub.get_json("/twins/python/modules/sensor").await;
    assert_eq!(module_twin["modelId"], "dtmi:com:example:Sensor;1");
}

#[tokio::test]
async fn plug_and_play_telemetry_carries_its_model_and_component() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "d1").await;
    let device = connect_announcing(
        &hub,
        "d1",
        None,
        &key,
        "api-version=2020-09-30&model-id=dtmi%3Acom%3Aexample%3ATemperatureController%3B2",
    )
    .await;
    device
        .publish(
            "devices/d1/messages/events/%24.sub=thermostat1&%24.ct=application%2Fjson",
            r#"{"temperature": 21.5}"#,
        )
        .await;
    let mut properties = Value::Null;
    for _ in 0..50 {
        let telemetry = hub.get_json("/twinlens/devices/d1/telemetry").await;
        if let Some(message) = telemetry["messages"].get(0) {
            properties = message["properties"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        properties,
        json!([
            ["dt-subject", "thermostat1"],
            ["$.ct", "application/json"],
            ["dt-dataschema", CONTROLLER]
        ])
    );
}

/// A device announcing the TemperatureController model, subscribed to desired pushes,
/// twin responses and methods.
async fn controller(hub: &HubProcess) -> TestDevice {
    let key = register(hub, "d1").await;
    let mut device = connect_announcing(
        hub,
        "d1",
        None,
        &key,
        "api-version=2020-09-30&model-id=dtmi%3Acom%3Aexample%3ATemperatureController%3B2",
    )
    .await;
    for filter in [
        "$iothub/twin/PATCH/properties/desired/#",
        "$iothub/twin/res/#",
        "$iothub/methods/POST/#",
    ] {
        device.subscribe(filter).await;
    }
    device
}

async fn patch_digital_twin(hub: &HubProcess, operations: Value) -> reqwest::Response {
    hub.request(Method::PATCH, "/digitaltwins/d1")
        .header("Content-Type", "application/json-patch+json")
        .body(operations.to_string())
        .send()
        .await
        .unwrap()
}

async fn wait_for_reported(hub: &HubProcess, pointer: &str) -> Value {
    for _ in 0..50 {
        let twin = hub.get_json("/twins/d1").await;
        if let Some(value) = twin.pointer(pointer) {
            return value.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the twin never had {pointer}");
}

#[tokio::test]
async fn the_digital_twin_is_read_and_written_with_json_patch() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let mut device = controller(&hub).await;

    // add on a component property: 202, ETag, Location, no body.
    let response = patch_digital_twin(
        &hub,
        json!([{"op": "add", "path": "/thermostat1/targetTemperature", "value": 21.4}]),
    )
    .await;
    assert_eq!(response.status(), 202);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(response.headers()["location"], "/digitaltwins/d1");
    assert!(response.bytes().await.unwrap().is_empty());

    // The device gets the component with IoT Hub's marker, `$version` last.
    let push = device.next_publish().await;
    assert_eq!(
        push.topic,
        "$iothub/twin/PATCH/properties/desired/?$version=2"
    );
    let text = String::from_utf8(push.payload.to_vec()).unwrap();
    assert_eq!(
        text,
        r#"{"thermostat1":{"__t":"c","targetTemperature":21.4},"$version":2}"#
    );
    // It acknowledges, and reports a read-only property.
    device
        .publish(
            "$iothub/twin/PATCH/properties/reported/?$rid=1",
            json!({
                "serialNumber": "SN-1",
                "thermostat1": {"__t": "c", "maxTempSinceLastReboot": 25.3,
                                "targetTemperature": {"value": 21.4, "ac": 200, "av": 2, "ad": "Successfully executed patch"}}
            })
            .to_string(),
        )
        .await;
    wait_for_reported(&hub, "/properties/reported/serialNumber").await;

    let response = hub
        .request(Method::GET, "/digitaltwins/d1?api-version=2020-09-30")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["etag"]
            .to_str()
            .unwrap()
            .starts_with("W/\"")
    );
    let digital: Value = response.json().await.unwrap();
    assert_eq!(digital["$dtId"], "d1");
    assert_eq!(digital["$metadata"]["$model"], CONTROLLER);
    assert_eq!(digital["serialNumber"], "SN-1");
    assert!(digital["$metadata"]["serialNumber"]["lastUpdateTime"].is_string());
    let thermostat = &digital["thermostat1"];
    assert_eq!(thermostat["targetTemperature"], 21.4);
    assert_eq!(thermostat["maxTempSinceLastReboot"], 25.3);
    let target = &thermostat["$metadata"]["targetTemperature"];
    assert_eq!(target["desiredValue"], 21.4);
    assert_eq!(target["desiredVersion"], 2);
    assert_eq!(target["ackVersion"], 2);
    assert_eq!(target["ackCode"], 200);
    assert_eq!(target["ackDescription"], "Successfully executed patch");
    assert!(target["lastUpdateTime"].is_string());
    assert!(thermostat.get("__t").is_none(), "{thermostat}");

    // replace and remove at the root.
    let response = patch_digital_twin(
        &hub,
        json!([{"op": "replace", "path": "/fanSpeed", "value": 3}]),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        hub.get_json("/twins/d1").await["properties"]["desired"]["fanSpeed"],
        3
    );
    let response = patch_digital_twin(&hub, json!([{"op": "remove", "path": "/fanSpeed"}])).await;
    assert_eq!(response.status(), 202);
    let desired = hub.get_json("/twins/d1").await["properties"]["desired"].clone();
    assert!(desired.get("fanSpeed").is_none(), "{desired}");

    // A whole component: what is not given is cleared.
    let response = patch_digital_twin(
        &hub,
        json!([{"op": "replace", "path": "/thermostat1", "value": {"hysteresis": 1, "$metadata": {}}}]),
    )
    .await;
    assert_eq!(response.status(), 202);
    let desired = hub.get_json("/twins/d1").await["properties"]["desired"].clone();
    assert_eq!(desired["thermostat1"], json!({"__t": "c", "hysteresis": 1}));

    // If-Match.
    let stale = hub
        .request(Method::PATCH, "/digitaltwins/d1")
        .header("Content-Type", "application/json")
        .header("If-Match", etag)
        .body(json!([{"op": "add", "path": "/fanSpeed", "value": 1}]).to_string())
        .send()
        .await
        .unwrap();
    assert_azure_error(stale, 412, 412001).await;
    let current = hub
        .request(Method::GET, "/digitaltwins/d1")
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .clone();
    let fresh = hub
        .request(Method::PATCH, "/digitaltwins/d1")
        .header("Content-Type", "application/json")
        .header("If-Match", current)
        .body(json!([{"op": "add", "path": "/fanSpeed", "value": 1}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 202);

    // Refused patches.
    for (operations, needle) in [
        (
            json!([{"op": "add", "path": "/thermostat1", "value": {"targetTemperature": 1}}]),
            "$metadata",
        ),
        (
            json!([{"op": "add", "path": "/list", "value": [1, 2]}]),
            "array",
        ),
        (json!([{"op": "copy", "from": "/a", "path": "/b"}]), "copy"),
        (json!({"op": "add"}), "JSON Patch array"),
        (
            json!([{"op": "add", "path": "/bad-name", "value": 1}]),
            "bad-name",
        ),
    ] {
        let response = patch_digital_twin(&hub, operations.clone()).await;
        let message = assert_azure_error(response, 400, 400004).await;
        assert!(message.contains(needle), "{operations}: {message}");
    }
    let unknown = hub
        .request(Method::GET, "/digitaltwins/nobody")
        .send()
        .await
        .unwrap();
    assert_azure_error(unknown, 404, 404001).await;
}

/// Invokes the command at `path` (with `body`), checks the direct method the device gets
/// (`expected`: name and payload), answers it with `answer` (status and payload), and
/// returns the hub's response.
async fn command_round_trip(
    hub: &HubProcess,
    device: &mut TestDevice,
    path: &str,
    body: Option<&'static str>,
    expected: (&str, &[u8]),
    answer: (u16, &str),
) -> reqwest::Response {
    let mut request = hub.request(Method::POST, path);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    let call = tokio::spawn(async move { request.send().await.unwrap() });
    let method = device.next_publish().await;
    let (name, rid) = method
        .topic
        .strip_prefix("$iothub/methods/POST/")
        .and_then(|rest| rest.split_once("/?$rid="))
        .unwrap();
    assert_eq!(name, expected.0);
    assert_eq!(&method.payload[..], expected.1);
    device
        .publish(
            &format!("$iothub/methods/res/{}/?$rid={rid}", answer.0),
            answer.1,
        )
        .await;
    call.await.unwrap()
}

#[tokio::test]
async fn commands_reach_the_device_as_direct_methods() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let mut device = controller(&hub).await;

    let response = command_round_trip(
        &hub,
        &mut device,
        "/digitaltwins/d1/components/thermostat1/commands/getMaxMinReport?responseTimeoutInSeconds=10",
        Some(r#""2026-12-01T00:00:00Z""#),
        ("thermostat1*getMaxMinReport", br#""2026-12-01T00:00:00Z""#),
        (404, r#"{"maxTemp":25.3}"#),
    )
    .await;
    // HTTP 200 whatever the device answered; its status is in the header.
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-ms-command-statuscode"], "404");
    assert_eq!(
        response.headers()["x-ms-request-id"]
            .to_str()
            .unwrap()
            .len(),
        36
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"maxTemp": 25.3}));

    // A command of the default component, with no payload.
    let response = command_round_trip(
        &hub,
        &mut device,
        "/digitaltwins/d1/commands/reboot",
        None,
        ("reboot", b"null"),
        (200, "{}"),
    )
    .await;
    assert_eq!(response.headers()["x-ms-command-statuscode"], "200");

    // No answer within the response timeout: 504101.
    let silent = hub
        .request(
            Method::POST,
            "/digitaltwins/d1/commands/slow?responseTimeoutInSeconds=5",
        )
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_azure_error(silent, 504, 504101).await;

    // An offline device, an unknown one, a bad timeout.
    register(&hub, "offline").await;
    let offline = hub
        .request(Method::POST, "/digitaltwins/offline/commands/reboot")
        .send()
        .await
        .unwrap();
    assert_azure_error(offline, 404, 404103).await;
    let unknown = hub
        .request(Method::POST, "/digitaltwins/nobody/commands/reboot")
        .send()
        .await
        .unwrap();
    assert_azure_error(unknown, 404, 404001).await;
    let bad_timeout = hub
        .request(
            Method::POST,
            "/digitaltwins/d1/commands/reboot?responseTimeoutInSeconds=1",
        )
        .send()
        .await
        .unwrap();
    assert_azure_error(bad_timeout, 400, 400004).await;
}
