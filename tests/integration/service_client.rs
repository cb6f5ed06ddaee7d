//! The service client against the local hub, started in-process on OS-chosen ports, over
//! plain HTTP and over HTTPS with the hub's CA: every operation, etag conflicts, paging,
//! Azure error codes and SAS token renewal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::json;
use twinlens::auth::{ServiceConnectionString, SharedAccessKey};
use twinlens::hub::{self, HubConfig, RunningHub};
use twinlens::service::{
    ClientOptions, Clock, JobTiming, JobWork, NewDevice, ServiceClient, ServiceError,
    TokenSettings, new_job_id,
};

async fn start_hub(dir: &tempfile::TempDir, tls: bool, demo: Option<usize>) -> RunningHub {
    hub::start(HubConfig {
        data_dir: dir.path().to_owned(),
        bind: "127.0.0.1".parse().unwrap(),
        http_port: 0,
        mqtt_port: 0,
        tls,
        demo_devices: demo,
        limits: Default::default(),
    })
    .await
    .unwrap()
}

fn credentials(hub: &RunningHub) -> ServiceConnectionString {
    hub.ready.service_connection_string.parse().unwrap()
}

/// A client for a plain-HTTP hub.
fn plain_client(hub: &RunningHub, options: ClientOptions) -> ServiceClient {
    let options = ClientOptions {
        base_url: Some(hub.ready.http_url.clone()),
        ..options
    };
    ServiceClient::new(&credentials(hub), options).unwrap()
}

#[tokio::test]
async fn identities_twins_and_conflicts_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(&dir, false, None).await;
    let client = plain_client(&hub, ClientOptions::default());

    let created = client
        .create_device("d#1", &NewDevice::default())
        .await
        .unwrap();
    assert_eq!(created.device_id, "d#1");
    assert_eq!(created.status.as_deref(), Some("enabled"));
    let keys = created
        .authentication
        .as_ref()
        .and_then(|auth| auth.symmetric_key.clone())
        .unwrap();
    assert!(SharedAccessKey::from_base64(keys.primary_key.as_deref().unwrap()).is_ok());
    assert!(!format!("{created:?}").contains(keys.primary_key.as_deref().unwrap()));

    let fetched = client.get_device("d#1").await.unwrap();
    assert_eq!(fetched, created);
    let again = client
        .create_device("d#1", &NewDevice::default())
        .await
        .unwrap_err();
    assert_eq!(again.error_code(), Some(409001));
    assert_eq!(again.code_name(), Some("DeviceAlreadyExists"));

    // Update with the etag as read; the same etag again is stale: 412.
    let mut disabled = fetched.clone();
    disabled.status = Some("disabled".into());
    let updated = client
        .update_device(&disabled, fetched.etag.as_deref())
        .await
        .unwrap();
    assert_eq!(updated.status.as_deref(), Some("disabled"));
    let stale = client
        .update_device(&disabled, fetched.etag.as_deref())
        .await
        .unwrap_err();
    assert_eq!(stale.status(), Some(412));
    assert_eq!(stale.error_code(), Some(412001));
    assert!(
        stale.to_string().contains("updating device 'd#1'"),
        "{stale}"
    );

    // Twins: patch, conflict on a stale etag, replace.
    let twin = client.get_twin("d#1").await.unwrap();
    assert_eq!(twin.etag.as_deref(), Some("AAAAAAAAAAE="));
    let patch = json!({"tags": {"site": "Oslo"}, "properties": {"desired": {"interval": 30}}});
    let patched = client
        .patch_twin("d#1", &patch, twin.etag.as_deref())
        .await
        .unwrap();
    assert_eq!(patched.tags.as_ref().unwrap()["site"], "Oslo");
    assert_eq!(patched.properties.as_ref().unwrap().desired["interval"], 30);
    let conflict = client
        .patch_twin("d#1", &patch, twin.etag.as_deref())
        .await
        .unwrap_err();
    assert_eq!(conflict.error_code(), Some(412001));
    assert!(conflict.to_string().contains("current etag"), "{conflict}");
    let replaced = client
        .replace_twin(
            "d#1",
            &json!({"tags": {"owner": "ops"}, "properties": {"desired": {}}}),
            patched.etag.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(
        replaced.tags,
        Some(json!({"owner": "ops"}).as_object().cloned().unwrap())
    );
    assert!(
        replaced
            .properties
            .unwrap()
            .desired
            .get("interval")
            .is_none()
    );

    // Delete with a stale etag fails; without one it succeeds; then it is gone.
    let stale = client
        .delete_device("d#1", fetched.etag.as_deref())
        .await
        .unwrap_err();
    assert_eq!(stale.error_code(), Some(412001));
    client.delete_device("d#1", None).await.unwrap();
    let gone = client.get_device("d#1").await.unwrap_err();
    assert_eq!(gone.status(), Some(404));
    assert_eq!(gone.error_code(), Some(404001));
    assert_eq!(gone.code_name(), Some("DeviceNotFound"));
    assert!(gone.tracking_id().is_some());
    let message = gone.to_string();
    assert!(message.contains("reading device 'd#1'"), "{message}");
    assert!(message.contains("create the device first"), "{message}");
    hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn methods_and_telemetry_over_https_with_the_hub_ca() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(&dir, true, None).await;
    let ca = std::fs::read_to_string(hub.ready.ca_cert.as_ref().unwrap()).unwrap();
    // No base URL: `https://{HostName}` is the hub itself.
    let options = ClientOptions {
        extra_ca_pem: Some(ca),
        ..ClientOptions::default()
    };
    let client = ServiceClient::new(&credentials(&hub), options).unwrap();
    assert!(client.base_url().starts_with("https://localhost:"));
    client
        .create_device("d1", &NewDevice::default())
        .await
        .unwrap();

    // Without the hub's CA the certificate is not trusted, and the error says what to give.
    let untrusting = ClientOptions {
        max_retries: 0,
        ..ClientOptions::default()
    };
    let untrusting = ServiceClient::new(&credentials(&hub), untrusting).unwrap();
    let refused = untrusting.get_device("d1").await.unwrap_err().to_string();
    assert!(refused.contains("certificate"), "{refused}");
    assert!(refused.contains("--ca-cert"), "{refused}");

    // Nobody listens: 404103 at once with no connect timeout.
    let offline = client
        .invoke_method(
            "d1",
            "reboot",
            &json!({}),
            Duration::from_secs(5),
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(offline.error_code(), Some(404103));
    assert!(offline.to_string().contains("not connected"), "{offline}");

    // A device session that answers every call with its payload.
    let mut subscription = hub.state.methods.subscribe("d1");
    tokio::spawn(async move {
        while let Some(call) = subscription.calls.recv().await {
            let _ = call.reply.send(twinlens::hub::methods::MethodResponse {
                status: 201,
                payload: json!({"method": call.name, "echo": call.payload}),
            });
        }
    });
    let result = client
        .invoke_method(
            "d1",
            "reboot",
            &json!({"delay": 3}),
            Duration::from_secs(5),
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(result.status, 201);
    assert_eq!(
        result.payload,
        json!({"method": "reboot", "echo": {"delay": 3}})
    );

    hub.state.telemetry.record(
        "d1",
        vec![("k".into(), "v".into())],
        b"{\"t\":21}",
        chrono::Utc::now(),
    );
    let telemetry = client.device_telemetry("d1").await.unwrap();
    assert_eq!(telemetry.count, 1);
    assert_eq!(telemetry.messages[0].body.as_deref(), Some("{\"t\":21}"));
    assert_eq!(
        telemetry.messages[0].properties,
        vec![("k".into(), "v".into())]
    );
    let missing = client.device_telemetry("nobody").await.unwrap_err();
    assert_eq!(missing.error_code(), Some(404001));

    // Without the CA the hub's certificate is not trusted.
    let untrusted = ServiceClient::new(&credentials(&hub), ClientOptions::default()).unwrap();
    let error = untrusted.get_device("d1").await.unwrap_err();
    assert!(matches!(error, ServiceError::Transport { .. }), "{error}");
    hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn paging_through_2500_twins_in_pages_of_1000() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(&dir, false, Some(2500)).await;
    let client = plain_client(&hub, ClientOptions::default());
    let pages: Vec<_> = client
        .query("SELECT * FROM devices", Some(1000))
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|page| page.rows.len()).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    assert!(pages[0].continuation.is_some() && pages[1].continuation.is_some());
    assert_eq!(pages[2].continuation, None);
    assert!(
        pages
            .iter()
            .all(|page| page.item_type.as_deref() == Some("twin"))
    );
    let mut ids: Vec<&str> = pages
        .iter()
        .flat_map(|page| &page.rows)
        .filter_map(|row| row["deviceId"].as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2500);

    let counted: Vec<_> = client
        .query("SELECT COUNT() AS n FROM devices", None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0].rows, vec![json!({"n": 2500})]);

    let invalid: Result<Vec<_>, _> = client.query("SELECT FROM", None).try_collect().await;
    let error = invalid.unwrap_err();
    assert_eq!(error.error_code(), Some(400004));
    assert!(error.to_string().contains("running a query"), "{error}");
    hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn tokens_are_renewed_before_expiry_and_bad_keys_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(&dir, false, None).await;
    let real_now = chrono::Utc::now().timestamp().unsigned_abs();
    let now = Arc::new(AtomicU64::new(real_now));
    let clock_now = Arc::clone(&now);
    let options = ClientOptions {
        token: TokenSettings {
            clock: Clock::from_fn(move || clock_now.load(Ordering::SeqCst)),
            ..TokenSettings::default()
        },
        ..ClientOptions::default()
    };
    let client = plain_client(&hub, options);
    assert_eq!(client.token_expiry(), None);
    client
        .create_device("d1", &NewDevice::default())
        .await
        .unwrap();
    assert_eq!(client.token_expiry(), Some(real_now + 3600));
    // Six minutes left: the token is kept.
    now.store(real_now + 3600 - 360, Ordering::SeqCst);
    client.get_twin("d1").await.unwrap();
    assert_eq!(client.token_expiry(), Some(real_now + 3600));
    // Four minutes left: a new one is signed, and the hub accepts it.
    now.store(real_now + 3600 - 240, Ordering::SeqCst);
    client.get_twin("d1").await.unwrap();
    assert_eq!(client.token_expiry(), Some(real_now + 3600 - 240 + 3600));

    let mut wrong = credentials(&hub);
    wrong.key = SharedAccessKey::from_bytes(b"not the key".to_vec());
    let intruder = ServiceClient::new(
        &wrong,
        ClientOptions {
            base_url: Some(hub.ready.http_url.clone()),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let error = intruder.get_device("d1").await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.error_code(), Some(401002));
    let message = error.to_string();
    assert!(message.contains("SharedAccessKey"), "{message}");
    assert!(!message.contains("sig="), "{message}");
    assert!(!message.contains(&wrong.key.to_base64()), "{message}");
    hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn modules_their_twins_and_their_methods() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(&dir, false, None).await;
    let client = plain_client(&hub, ClientOptions::default());
    client
        .create_device("d1", &NewDevice::default())
        .await
        .unwrap();
    assert!(client.list_modules("d1").await.unwrap().is_empty());
    let module = client.create_module("d1", "m1", None).await.unwrap();
    assert_eq!(
        (module.device_id.as_str(), module.module_id.as_str()),
        ("d1", "m1")
    );
    let keys = module.authentication.unwrap().symmetric_key.unwrap();
    assert!(keys.primary_key.is_some_and(|key| !key.is_empty()));
    let again = client.create_module("d1", "m1", None).await.unwrap_err();
    assert_eq!(again.error_code(), Some(409301));
    let read = client.get_module("d1", "m1").await.unwrap();
    assert_eq!(read.etag, module.etag);
    assert_eq!(client.list_modules("d1").await.unwrap(), [read]);

    let twin = client.get_module_twin("d1", "m1").await.unwrap();
    assert_eq!(twin.module_id.as_deref(), Some("m1"));
    let patched = client
        .patch_module_twin(
            "d1",
            "m1",
            &json!({"properties": {"desired": {"rate": 2}}}),
            twin.etag.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(patched.properties.unwrap().desired["rate"], 2);
    let stale = client
        .patch_module_twin("d1", "m1", &json!({"tags": {"x": 1}}), twin.etag.as_deref())
        .await
        .unwrap_err();
    assert_eq!(stale.status(), Some(412), "{stale}");

    // The module's session answers; the call goes to it, not to its device.
    let mut subscription = hub.state.methods.subscribe("d1/m1");
    tokio::spawn(async move {
        while let Some(call) = subscription.calls.recv().await {
            let _ = call.reply.send(twinlens::hub::methods::MethodResponse {
                status: 200,
                payload: json!({"module": call.name}),
            });
        }
    });
    let result = client
        .invoke_module_method(
            "d1",
            "m1",
            "flush",
            &json!({}),
            Duration::from_secs(5),
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(result.payload, json!({"module": "flush"}));
    let device_offline = client
        .invoke_method(
            "d1",
            "flush",
            &json!({}),
            Duration::from_secs(5),
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(device_offline.error_code(), Some(404103));

    client.delete_module("d1", "m1", None).await.unwrap();
    let gone = client.get_module("d1", "m1").await.unwrap_err();
    assert_eq!(gone.error_code(), Some(404010));
    hub.shutdown().await.unwrap();
}

#[tokio::test]
async fn jobs_are_scheduled_followed_listed_cancelled_and_their_results_read() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(&dir, false, None).await;
    let client = plain_client(&hub, ClientOptions::default());
    for device_id in ["a", "b"] {
        client
            .create_device(device_id, &NewDevice::default())
            .await
            .unwrap();
    }
    let desired = json!({"mode": "eco"}).as_object().cloned();
    let work = JobWork::UpdateTwin {
        tags: None,
        desired,
    };
    let job_id = new_job_id();
    let job = client
        .schedule_job(&job_id, "*", &work, JobTiming::default())
        .await
        .unwrap();
    assert_eq!(
        (job.job_id.as_str(), job.status.as_str()),
        (job_id.as_str(), "queued")
    );
    let finished = loop {
        let job = client.get_job(&job_id).await.unwrap();
        if job.is_finished() {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(finished.status, "completed");
    assert_eq!(finished.device_job_statistics.unwrap().succeeded_count, 2);
    let results = client.job_device_results(&job_id).await.unwrap();
    let devices: Vec<&str> = results.iter().map(|r| r.device_id.as_str()).collect();
    assert_eq!(devices, ["a", "b"]);
    assert!(
        results
            .iter()
            .all(|r| r.status == "completed" && r.error.is_none())
    );
    assert_eq!(
        client
            .get_twin("b")
            .await
            .unwrap()
            .properties
            .unwrap()
            .desired["mode"],
        "eco"
    );

    // A method job scheduled for later holds the hub's one active slot: another is
    // refused at once (not retried), until it is cancelled.
    let later = JobTiming {
        start: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        ..JobTiming::default()
    };
    let call = JobWork::CallMethod {
        name: "reboot".into(),
        payload: json!(null),
        response_timeout: Duration::from_secs(10),
    };
    let waiting = client
        .schedule_job("later", "deviceId = 'a'", &call, later)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let refused = client
        .schedule_job("refused", "*", &call, JobTiming::default())
        .await
        .unwrap_err();
    assert_eq!(refused.error_code(), Some(429004), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(1), "not retried");
    assert!(refused.to_string().contains("active job"), "{refused}");
    let cancelled = client.cancel_job(&waiting.job_id).await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    let again = client.cancel_job("later").await.unwrap_err();
    assert_eq!(again.error_code(), Some(405102), "{again}");

    let all = client.list_jobs(None, None).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|job| job.job_id.as_str()).collect();
    assert_eq!(ids, [job_id.as_str(), "later"]);
    let methods = client
        .list_jobs(Some("scheduleDeviceMethod"), Some("cancelled"))
        .await
        .unwrap();
    assert_eq!(methods.len(), 1);
    let missing = client.get_job("nobody").await.unwrap_err();
    assert_eq!(missing.error_code(), Some(404002));
}
