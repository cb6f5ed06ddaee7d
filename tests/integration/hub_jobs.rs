//! Jobs on the local hub, against the real binary: a twin-update job over the devices a
//! condition chooses, a method job over connected and offline devices, their per-device
//! rows in `devices.jobs`, listing and paging jobs, the active-job limit, cancel, a job
//! that survives the hub being killed, and Azure's status and error codes for the bad
//! cases.

use crate::common;

use std::time::Duration;

use common::device::{TestDevice, register};
use common::{HubProcess, assert_azure_error};
use reqwest::Method;
use serde_json::{Value, json};

async fn put_job(hub: &HubProcess, job_id: &str, body: &Value) -> reqwest::Response {
    hub.send_json(Method::PUT, &format!("/jobs/v2/{job_id}"), body)
        .await
}

async fn tag_device(hub: &HubProcess, device_id: &str, tags: Value) {
    let patched = hub
        .send_json(
            Method::PATCH,
            &format!("/twins/{device_id}"),
            &json!({ "tags": tags }),
        )
        .await;
    assert_eq!(patched.status(), 200);
}

/// Polls a job until `done` holds for its JobResponse (at most 20 s).
async fn wait_for_job(hub: &HubProcess, job_id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let job = hub.get_json(&format!("/jobs/v2/{job_id}")).await;
        if done(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "job {job_id} never got there: {}",
        hub.get_json(&format!("/jobs/v2/{job_id}")).await
    );
}

async fn wait_until_finished(hub: &HubProcess, job_id: &str) -> Value {
    wait_for_job(hub, job_id, |job| {
        ["completed", "failed", "cancelled"].contains(&job["status"].as_str().unwrap())
    })
    .await
}

async fn device_job_rows(hub: &HubProcess, query: &str) -> (Option<String>, Vec<Value>) {
    let response = hub
        .send_json(Method::POST, "/devices/query", &json!({ "query": query }))
        .await;
    assert_eq!(response.status(), 200);
    let item_type = response
        .headers()
        .get("x-ms-item-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let rows: Vec<Value> = response.json().await.unwrap();
    (item_type, rows)
}

fn twin_job(condition: &str, desired: Value) -> Value {
    json!({
        "type": "scheduleUpdateTwin",
        "updateTwin": {"etag": "*", "properties": {"desired": desired}},
        "queryCondition": condition,
    })
}

#[tokio::test]
async fn a_twin_update_job_updates_the_twins_its_condition_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    for (device_id, site) in [("d1", "north"), ("d2", "north"), ("d3", "south")] {
        register(&hub, device_id).await;
        tag_device(&hub, device_id, json!({ "site": site })).await;
    }

    // As the Node.js SDK sends it: a numeric-looking id, reported {} and tags.
    let body = json!({
        "jobId": "job-1", "type": "scheduleUpdateTwin",
        "updateTwin": {"etag": "*", "tags": {"batch": 7},
                       "properties": {"desired": {"rate": 5}, "reported": {}}},
        "queryCondition": "tags.site = 'north'",
        "startTime": "2020-01-01T00:00:00.000Z", "maxExecutionTimeInSeconds": 300,
    });
    let created = put_job(&hub, "job-1", &body).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["jobId"], "job-1");
    assert_eq!(created["type"], "scheduleUpdateTwin");
    assert_eq!(created["status"], "queued");
    assert_eq!(created["queryCondition"], "tags.site = 'north'");
    assert_eq!(created["maxExecutionTimeInSeconds"], 300);
    assert_eq!(created["updateTwin"]["etag"], "*");

    let job = wait_until_finished(&hub, "job-1").await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["deviceJobStatistics"],
        json!({"deviceCount": 2, "failedCount": 0, "succeededCount": 2,
               "runningCount": 0, "pendingCount": 0})
    );
    assert!(job["endTime"].as_str().unwrap().ends_with('Z'));
    for (device_id, updated) in [("d1", true), ("d2", true), ("d3", false)] {
        let twin = hub.get_json(&format!("/twins/{device_id}")).await;
        assert_eq!(
            twin["properties"]["desired"]["rate"] == 5,
            updated,
            "{device_id}: {twin}"
        );
        assert_eq!(twin["tags"]["batch"] == 7, updated, "{device_id}: {twin}");
    }

    // One row per device, typed for the SDKs, filtered like any query.
    let (item_type, rows) = device_job_rows(
        &hub,
        "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'job-1'",
    )
    .await;
    assert_eq!(item_type.as_deref(), Some("deviceJob"));
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["deviceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["d1", "d2"]);
    for row in &rows {
        assert_eq!(row["jobType"], "scheduleUpdateTwin");
        assert_eq!(row["status"], "completed");
        assert_eq!(row["outcome"], json!({"deviceMethodResponse": null}));
        for time in [
            "startTimeUtc",
            "endTimeUtc",
            "createdDateTimeUtc",
            "lastUpdatedDateTimeUtc",
        ] {
            assert!(row[time].as_str().unwrap().ends_with('Z'), "{time}: {row}");
        }
    }
    let (_, none) =
        device_job_rows(&hub, "SELECT * FROM devices.jobs WHERE status = 'failed'").await;
    assert_eq!(none, Vec::<Value>::new());
    let projection = hub
        .send_json(
            Method::POST,
            "/devices/query",
            &json!({"query": "SELECT deviceId FROM devices.jobs"}),
        )
        .await;
    assert_azure_error(projection, 400, 400004).await;

    // The same id again, a finished job cancelled, a job nobody made.
    assert_azure_error(put_job(&hub, "job-1", &body).await, 409, 409104).await;
    let cancel = hub
        .request(Method::POST, "/jobs/v2/job-1/cancel")
        .send()
        .await
        .unwrap();
    assert_azure_error(cancel, 405, 405102).await;
    let missing = hub
        .request(Method::GET, "/jobs/v2/nobody")
        .send()
        .await
        .unwrap();
    assert_azure_error(missing, 404, 404002).await;
}

#[tokio::test]
async fn a_method_job_calls_connected_devices_and_records_offline_ones_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    let key = register(&hub, "online").await;
    register(&hub, "offline").await;
    let mut device = TestDevice::connect(&hub, "online", &key).await.unwrap();
    device.subscribe("$iothub/methods/POST/#").await;

    let body = json!({
        "type": "scheduleDeviceMethod",
        "cloudToDeviceMethod": {"methodName": "reboot", "payload": {"delay": 1},
                                "responseTimeoutInSeconds": 30},
        "queryCondition": "*",
    });
    let created = put_job(&hub, "reboot-all", &body).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["cloudToDeviceMethod"]["methodName"], "reboot");
    assert_eq!(
        created["maxExecutionTimeInSeconds"], 3600,
        "the SDKs' default"
    );

    let call = device.next_publish().await;
    assert!(
        call.topic.starts_with("$iothub/methods/POST/reboot/?$rid="),
        "{}",
        call.topic
    );
    let payload: Value = serde_json::from_slice(&call.payload).unwrap();
    assert_eq!(payload, json!({"delay": 1}));
    let rid = call.topic.rsplit_once("$rid=").unwrap().1.to_owned();
    device
        .publish(
            &format!("$iothub/methods/res/200/?$rid={rid}"),
            r#"{"rebooted":true}"#,
        )
        .await;

    let job = wait_until_finished(&hub, "reboot-all").await;
    assert_eq!(job["status"], "completed", "{job}");
    let statistics = &job["deviceJobStatistics"];
    assert_eq!(statistics["deviceCount"], 2);
    assert_eq!(statistics["succeededCount"], 1);
    assert_eq!(statistics["failedCount"], 1);

    let (_, rows) = device_job_rows(&hub, "SELECT * FROM devices.jobs").await;
    let row = |device_id: &str| {
        rows.iter()
            .find(|row| row["deviceId"] == device_id)
            .unwrap()
            .clone()
    };
    let answered = row("online");
    assert_eq!(answered["status"], "completed");
    assert_eq!(
        answered["outcome"]["deviceMethodResponse"],
        json!({"status": 200, "payload": {"rebooted": true}})
    );
    let failed = row("offline");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "DeviceNotOnline");
    assert!(failed.get("outcome").is_none(), "{failed}");
}

#[tokio::test]
async fn jobs_follow_azures_rules_for_ids_bodies_limits_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &[]);
    register(&hub, "d1").await;

    for (job_id, body) in [
        ("bad%2Fid", twin_job("*", json!({"a": 1}))),
        (
            "j",
            json!({"type": "scheduleTwinUpdate", "queryCondition": "*"}),
        ),
        (
            "j",
            json!({"type": "scheduleUpdateTwin", "queryCondition": "*",
                     "updateTwin": {"etag": "AAAAAAAAAAE=", "properties": {"desired": {"a": 1}}}}),
        ),
        (
            "j",
            json!({"type": "scheduleUpdateTwin", "queryCondition": "SELECT * FROM devices",
                     "updateTwin": {"etag": "*", "properties": {"desired": {"a": 1}}}}),
        ),
        (
            "j",
            json!({"type": "scheduleUpdateTwin", "queryCondition": "*", "startTime": null,
                     "updateTwin": {"etag": "*", "properties": {"desired": {"a": 1}}}}),
        ),
        (
            "j",
            json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                     "cloudToDeviceMethod": {"methodName": "m"}, "maxExecutionTimeInSeconds": null}),
        ),
    ] {
        let refused = put_job(&hub, job_id, &body).await;
        assert_azure_error(refused, 400, 400004).await;
    }

    // A job that starts in an hour waits as scheduled, and counts against the limit
    // of one active job (Azure's S1).
    let mut later = twin_job("*", json!({"a": 1}));
    later["startTime"] = json!("2099-01-01T00:00:00Z");
    assert_eq!(put_job(&hub, "later", &later).await.status(), 200);
    let scheduled = wait_for_job(&hub, "later", |job| job["status"] == "scheduled").await;
    assert_eq!(scheduled["startTime"], "2099-01-01T00:00:00.0000000Z");
    let second = put_job(&hub, "second", &twin_job("*", json!({"b": 1}))).await;
    assert_azure_error(second, 429, 429004).await;

    let cancelled = hub
        .request(Method::POST, "/jobs/v2/later/cancel")
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        hub.get_json("/twins/d1").await["properties"]["desired"]["a"],
        Value::Null,
        "a cancelled job changes nothing"
    );

    // A job whose condition matches no device completes with no devices.
    let nobody = twin_job("deviceId = 'nobody'", json!({"b": 1}));
    assert_eq!(put_job(&hub, "nobody", &nobody).await.status(), 200);
    let job = wait_until_finished(&hub, "nobody").await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["deviceJobStatistics"]["deviceCount"], 0);

    // Jobs are listed oldest first, filtered by type and status, a page at a time.
    let page = hub
        .request(Method::GET, "/jobs/v2/query?jobType=scheduleUpdateTwin")
        .header("x-ms-max-item-count", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-ms-item-type"], "jobResponse");
    let token = page.headers()["x-ms-continuation"]
        .to_str()
        .unwrap()
        .to_owned();
    let first: Vec<Value> = page.json().await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["jobId"], "later");
    let page = hub
        .request(Method::GET, "/jobs/v2/query?jobType=scheduleUpdateTwin")
        .header("x-ms-max-item-count", "1")
        .header("x-ms-continuation", token)
        .send()
        .await
        .unwrap();
    assert!(
        page.headers().get("x-ms-continuation").is_none(),
        "the last page"
    );
    let second: Vec<Value> = page.json().await.unwrap();
    assert_eq!(second[0]["jobId"], "nobody");
    let cancelled = hub.get_json("/jobs/v2/query?jobStatus=cancelled").await;
    assert_eq!(cancelled.as_array().unwrap().len(), 1);
    let methods = hub
        .get_json("/jobs/v2/query?jobType=scheduleDeviceMethod")
        .await;
    assert_eq!(methods, json!([]));
    let bad_filter = hub
        .request(Method::GET, "/jobs/v2/query?jobStatus=sleeping")
        .send()
        .await
        .unwrap();
    assert_azure_error(bad_filter, 400, 400004).await;
}

#[tokio::test]
async fn a_running_job_resumes_after_the_hub_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let devices = 8;
    let job_id = "slow";
    {
        let hub = HubProcess::start(dir.path(), &["--job-rate", "2"]);
        for index in 0..devices {
            register(&hub, &format!("d{index}")).await;
        }
        let created = put_job(&hub, job_id, &twin_job("*", json!({"firmware": "2.0"}))).await;
        assert_eq!(created.status(), 200);
        wait_for_job(&hub, job_id, |job| {
            job["status"] == "running"
                && job["deviceJobStatistics"]["succeededCount"].as_u64() >= Some(1)
        })
        .await;
        hub.kill();
    }
    let hub = HubProcess::start(dir.path(), &["--job-rate", "100"]);
    let job = wait_until_finished(&hub, job_id).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["deviceJobStatistics"]["succeededCount"], devices);
    for index in 0..devices {
        let twin = hub.get_json(&format!("/twins/d{index}")).await;
        assert_eq!(twin["properties"]["desired"]["firmware"], "2.0", "d{index}");
    }
}
