//! The service client against a stand-in for Azure IoT Hub: a small axum server in the
//! test that answers with documents shaped like Azure's own (the fixtures under
//! `tests/fixtures/service/`), both error body forms, throttling with `Retry-After`, and
//! connections that drop. Checks what the client sends and how it reads the answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::TryStreamExt;
use serde_json::json;
use twinlens::auth::ServiceConnectionString;
use twinlens::service::{ClientOptions, NewDevice, ServiceClient, ServiceError};

const DEVICE: &str = include_str!("../fixtures/service/device.json");
const TWIN: &str = include_str!("../fixtures/service/twin.json");
const QUERY: &str = include_str!("../fixtures/service/query.json");
const METHOD_RESPONSE: &str = include_str!("../fixtures/service/method_response.json");
const ERROR_CURRENT: &str = include_str!("../fixtures/service/error_current.json");
const ERROR_LEGACY: &str = include_str!("../fixtures/service/error_legacy.json");

/// What the stand-in saw: each request's path with query, and its headers.
#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<(String, HeaderMap)>>>,
    bodies: Arc<Mutex<Vec<String>>>,
    throttled: Arc<AtomicUsize>,
    busy: Arc<AtomicUsize>,
}

impl Seen {
    fn record(&self, uri: &Uri, headers: &HeaderMap) {
        self.requests
            .lock()
            .unwrap()
            .push((uri.to_string(), headers.clone()));
    }

    fn last_header(&self, name: &str) -> Option<String> {
        let requests = self.requests.lock().unwrap();
        let (_, headers) = requests.last()?;
        headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }
}

fn json_answer(status: StatusCode, body: &'static str) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

async fn stand_in() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/devices/sensor-th-0067",
            get(|| async { json_answer(StatusCode::OK, DEVICE) })
                .put(written_device)
                .delete(|| async { StatusCode::NO_CONTENT }),
        )
        .route("/twins/sample-device", get(twin).patch(twin).put(twin))
        .route("/devices/query", post(query))
        .route(
            "/twins/sample-device/methods",
            post(|| async { json_answer(StatusCode::OK, METHOD_RESPONSE) }),
        )
        .route(
            "/devices/current-form",
            get(|| async { json_answer(StatusCode::NOT_FOUND, ERROR_CURRENT) }),
        )
        .route(
            "/devices/legacy-form",
            get(|| async { json_answer(StatusCode::NOT_FOUND, ERROR_LEGACY) }),
        )
        .route("/devices/throttled", get(throttled))
        .route("/devices/busy", get(busy))
        .layer(axum::middleware::from_fn_with_state(seen.clone(), record))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn record(
    State(seen): State<Seen>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    seen.record(request.uri(), request.headers());
    next.run(request).await
}

/// PUT /devices/{id}: keeps the body for the test and answers with the identity.
async fn written_device(State(seen): State<Seen>, body: String) -> Response {
    seen.bodies.lock().unwrap().push(body);
    json_answer(StatusCode::OK, DEVICE)
}

async fn twin() -> Response {
    let mut response = json_answer(StatusCode::OK, TWIN);
    response
        .headers_mut()
        .insert("etag", "\"AAAAAAAAAAc=\"".parse().unwrap());
    response
}

async fn query() -> Response {
    (
        StatusCode::OK,
        [
            ("content-type", "application/json"),
            ("x-ms-item-type", "twin"),
        ],
        QUERY,
    )
        .into_response()
}

/// 429 with `Retry-After: 1` the first time, then the device.
async fn throttled(State(seen): State<Seen>) -> Response {
    if seen.throttled.fetch_add(1, Ordering::SeqCst) == 0 {
        let body = r#"{"Message":"{\"errorCode\":429001,\"message\":\"Throttled\"}","ExceptionMessage":""}"#;
        let mut response = json_answer(StatusCode::TOO_MANY_REQUESTS, body);
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        return response;
    }
    json_answer(StatusCode::OK, DEVICE)
}

/// Always 503, with a date in the past as `Retry-After` (retry at once).
async fn busy(State(seen): State<Seen>) -> Response {
    seen.busy.fetch_add(1, Ordering::SeqCst);
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    response.headers_mut().insert(
        "retry-after",
        "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
    );
    response
        .headers_mut()
        .insert("iothub-errorcode", "ServiceUnavailable".parse().unwrap());
    response
}

fn client(url: &str, max_retries: u32) -> ServiceClient {
    let credentials: ServiceConnectionString =
        "HostName=fake-hub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0LWtleQ=="
            .parse()
            .unwrap();
    ServiceClient::new(
        &credentials,
        ClientOptions {
            base_url: Some(url.to_owned()),
            max_retries,
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn reads_azure_shaped_identities_twins_queries_and_method_results() {
    let (url, seen) = stand_in().await;
    let client = client(&url, 0);

    let device = client.get_device("sensor-th-0067").await.unwrap();
    assert_eq!(device.generation_id.as_deref(), Some("637093398936580016"));
    assert_eq!(device.status_reason, None);
    assert!(device.capabilities.as_ref().unwrap().iot_edge);
    let auth = device.authentication.as_ref().unwrap();
    assert_eq!(auth.kind.as_deref(), Some("sas"));
    assert!(auth.symmetric_key.as_ref().unwrap().primary_key.is_some());
    assert!(!format!("{device:?}").contains("AAECAwQF"));
    // Fields the client does not model survive a round trip.
    assert_eq!(
        device.other["deviceScope"],
        "ms-azure-iot-edge://sensor-th-0067-637093398936580016"
    );
    let written = serde_json::to_value(&device).unwrap();
    assert_eq!(written["deviceScope"], device.other["deviceScope"]);
    let authorization = seen.last_header("authorization").unwrap();
    assert!(authorization.starts_with("SharedAccessSignature sr=fake-hub.azure-devices.net&"));
    assert!(
        authorization.contains("&skn=iothubowner"),
        "{authorization}"
    );
    assert!(
        seen.requests.lock().unwrap()[0]
            .0
            .ends_with("?api-version=2021-04-12")
    );

    let twin = client.get_twin("sample-device").await.unwrap();
    assert_eq!(twin.version, Some(15));
    assert_eq!(twin.etag.as_deref(), Some("AAAAAAAAAAc="));
    assert_eq!(
        twin.tags.as_ref().unwrap()["location"]["plant"],
        "Redmond43"
    );
    let properties = twin.properties.as_ref().unwrap();
    assert_eq!(properties.desired["$version"], 4);
    assert_eq!(properties.reported["maxTempSinceLastReboot"], 21.4);
    assert_eq!(twin.other["modelId"], "dtmi:com:example:Thermostat;1");
    assert_eq!(twin.other["deviceEtag"], "NTk0ODUyODgx");

    client
        .patch_twin("sample-device", &json!({"tags": {}}), twin.etag.as_deref())
        .await
        .unwrap();
    assert_eq!(
        seen.last_header("if-match").as_deref(),
        Some("\"AAAAAAAAAAc=\"")
    );

    let pages: Vec<_> = client
        .query("SELECT * FROM devices", Some(100))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].item_type.as_deref(), Some("twin"));
    assert_eq!(pages[0].rows.len(), 2);
    assert_eq!(pages[0].rows[1]["deviceId"], "otherDevice");
    assert_eq!(
        seen.last_header("x-ms-max-item-count").as_deref(),
        Some("100")
    );
    assert_eq!(seen.last_header("x-ms-continuation"), None);

    let result = client
        .invoke_method(
            "sample-device",
            "reboot",
            &json!({"delay": 5}),
            Duration::from_secs(30),
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(result.status, 200);
    assert_eq!(result.payload["result"], "rebooting");
}

#[tokio::test]
async fn writes_send_azure_shaped_requests_and_read_the_answers() {
    let (url, seen) = stand_in().await;
    let client = client(&url, 0);

    let created = client
        .create_device("sensor-th-0067", &NewDevice::default())
        .await
        .unwrap();
    assert_eq!(created.device_id, "sensor-th-0067");
    assert_eq!(
        seen.last_header("if-match"),
        None,
        "a create never overwrites"
    );
    let sent: serde_json::Value =
        serde_json::from_str(seen.bodies.lock().unwrap().last().unwrap()).unwrap();
    assert_eq!(sent, json!({"deviceId": "sensor-th-0067"}));

    let mut disabled = created.clone();
    disabled.status = Some("disabled".into());
    let etag = created.etag.clone();
    client
        .update_device(&disabled, etag.as_deref())
        .await
        .unwrap();
    assert_eq!(
        seen.last_header("if-match").as_deref(),
        Some("\"OTg0MjI1NzE1\"")
    );
    let sent: serde_json::Value =
        serde_json::from_str(seen.bodies.lock().unwrap().last().unwrap()).unwrap();
    assert_eq!(sent["status"], "disabled");
    assert_eq!(
        sent["deviceScope"], "ms-azure-iot-edge://sensor-th-0067-637093398936580016",
        "fields the client does not model are sent back unchanged"
    );

    let replacement = json!({"tags": {"floor": 2}, "properties": {"desired": {"fan": true}}});
    let twin = client
        .replace_twin("sample-device", &replacement, None)
        .await
        .unwrap();
    assert_eq!(twin.version, Some(15));
    assert_eq!(seen.last_header("if-match"), None, "no etag: unconditional");

    client
        .delete_device("sensor-th-0067", etag.as_deref())
        .await
        .unwrap();
    let requests = seen.requests.lock().unwrap();
    let (path, headers) = requests.last().unwrap();
    assert_eq!(path, "/devices/sensor-th-0067?api-version=2021-04-12");
    assert_eq!(headers["if-match"], "\"OTg0MjI1NzE1\"");
}

#[tokio::test]
async fn both_error_forms_map_to_device_not_found() {
    let (url, _seen) = stand_in().await;
    let client = client(&url, 0);
    for (device_id, tracking_id) in [
        (
            "current-form",
            "9a2d1c3b4e5f46a7b8c9d0e1f2a3b4c5-G:2-TimeStamp:03/04/2024 10:11:12",
        ),
        ("legacy-form", "5c6d7e8f90a14b2c8d3e4f5a6b7c8d9e-G:7"),
    ] {
        let error = client.get_device(device_id).await.unwrap_err();
        assert_eq!(error.status(), Some(404), "{device_id}");
        assert_eq!(error.error_code(), Some(404001), "{device_id}");
        assert_eq!(error.code_name(), Some("DeviceNotFound"), "{device_id}");
        assert_eq!(error.tracking_id(), Some(tracking_id), "{device_id}");
        let azure = error.azure().unwrap();
        assert_eq!(azure.message, "Device sensor-9 not registered");
        let message = error.to_string();
        assert!(
            message.contains(&format!("reading device '{device_id}'")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn throttling_is_retried_after_the_servers_delay() {
    let (url, seen) = stand_in().await;
    let started = Instant::now();
    let device = client(&url, 3).get_device("throttled").await.unwrap();
    assert_eq!(device.device_id, "sensor-th-0067");
    assert_eq!(seen.throttled.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Without retries the 429 is the answer.
    seen.throttled.store(0, Ordering::SeqCst);
    let error = client(&url, 0).get_device("throttled").await.unwrap_err();
    assert_eq!(error.error_code(), Some(429001));
    assert!(error.to_string().contains("throttling"), "{error}");
}

#[tokio::test]
async fn retries_are_bounded() {
    let (url, seen) = stand_in().await;
    let error = client(&url, 2).get_device("busy").await.unwrap_err();
    assert_eq!(seen.busy.load(Ordering::SeqCst), 3);
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.error_code(), Some(503001));
    assert!(error.to_string().contains("try again later"), "{error}");
}

/// A server that accepts connections and drops them at once, counting them.
async fn dropping_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn dropped_connections_are_retried_only_when_safe() {
    let (url, accepted) = dropping_server().await;
    let client = client(&url, 2);
    let error = client.get_twin("d1").await.unwrap_err();
    assert!(matches!(error, ServiceError::Transport { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("reading the twin of device 'd1'"),
        "{error}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 3);

    accepted.store(0, Ordering::SeqCst);
    let error = client
        .invoke_method(
            "d1",
            "reboot",
            &json!(null),
            Duration::from_secs(5),
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Transport { .. }), "{error}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
