//! The UI worker against an embedded local hub: connect, query with progress, twin
//! reads and writes with their typed replies, direct methods on a simulated device,
//! cancellation, a repaint after every event, and a connect that hangs holding up
//! nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use twinlens::device::{Behaviours, MethodReply, MethodTable};
use twinlens::explorer::list_query;
use twinlens::explorer::models::ModelSource;
use twinlens::worker::{
    Command, Event, HubTarget, JobId, RemoteHub, Reply, Request, Worker, WorkerOptions,
};

async fn next(worker: &mut Worker) -> Event {
    tokio::time::timeout(Duration::from_secs(30), worker.next_event())
        .await
        .expect("an event within 30 s")
        .expect("the worker is running")
}

/// Waits for the event `accept` picks, skipping others (e.g. simulation chatter).
async fn wait_for<T>(worker: &mut Worker, mut accept: impl FnMut(Event) -> Option<T>) -> T {
    loop {
        if let Some(found) = accept(next(worker).await) {
            return found;
        }
    }
}

/// Sends `request` as `job` and waits for its reply.
async fn ask(worker: &mut Worker, job: JobId, request: Request) -> Reply {
    worker.send(Command::Request { job, request }).unwrap();
    wait_for(worker, |event| match event {
        Event::Finished { job: done, reply } if done == job => Some(reply),
        _ => None,
    })
    .await
}

fn started(repaint: twinlens::worker::Repaint) -> Worker {
    Worker::start(repaint, WorkerOptions::default()).unwrap()
}

async fn connected_worker(demo: usize) -> (tempfile::TempDir, Worker, Arc<AtomicUsize>) {
    let repaints = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&repaints);
    let mut worker = started(Arc::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
    }));
    let dir = tempfile::tempdir().unwrap();
    let target = HubTarget::Embedded {
        data_dir: dir.path().to_owned(),
        demo_devices: Some(demo),
    };
    worker.send(Command::Connect(target)).unwrap();
    match next(&mut worker).await {
        Event::OpeningLocalHub { devices } => {
            assert_eq!(devices, Some(demo as u64), "an empty store is seeded");
        }
        other => panic!("expected OpeningLocalHub, got {other:?}"),
    }
    match next(&mut worker).await {
        Event::Connected { local_hub, .. } => assert!(local_hub.is_some()),
        other => panic!("expected Connected, got {other:?}"),
    }
    (dir, worker, repaints)
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_report_progress_and_every_event_repaints() {
    let (_dir, mut worker, repaints) = connected_worker(2500).await;
    let job = JobId(1);
    let plan = list_query::plan(
        "SELECT * FROM devices",
        &["tags.location.city".to_owned()],
        true,
    )
    .unwrap();
    let request = Request::Query {
        query: plan.query.text,
        page_size: 1000,
        reader: plan.query.reader,
    };
    worker.send(Command::Request { job, request }).unwrap();
    let mut progress = Vec::new();
    loop {
        match next(&mut worker).await {
            Event::QueryPage {
                job: page_job,
                rows,
                loaded,
                total,
            } => {
                assert_eq!(page_job, job);
                assert!(!rows.is_empty());
                for row in rows.rows() {
                    assert_eq!(row.fixed()[0], "enabled", "{row:?}");
                    assert!(
                        row.cell(0).is_some_and(|city| !city.is_empty()),
                        "the city is read: {row:?}"
                    );
                }
                assert_eq!(total, Some(2500), "the hub counted the rows first");
                progress.push(loaded);
            }
            Event::QueryDone { loaded, .. } => {
                assert_eq!(loaded, 2500);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Hub pages of 1,000 arrive in pieces of QUERY_EVENT_ROWS.
    let piece = twinlens::worker::QUERY_EVENT_ROWS;
    assert_eq!(1000 % piece, 0, "pieces divide a hub page");
    let expected: Vec<usize> = (1..=2500 / piece).map(|n| n * piece).collect();
    assert_eq!(progress, expected);
    // Opening, Connected, the pieces and QueryDone: each was followed by a repaint request (which
    // the worker makes just after sending, so the last may still be on its way).
    let events = 2 + progress.len() + 1;
    for _ in 0..100 {
        if repaints.load(Ordering::Relaxed) >= events {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{} repaints for {events} events; every event must ask for one",
        repaints.load(Ordering::Relaxed)
    );
}

/// The twin in a twin reply for `device_id`.
fn twin_of(reply: Reply, device_id: &str) -> twinlens::service::DeviceTwin {
    match reply {
        Reply::Twin {
            device_id: replied,
            result: Ok(twin),
        } if replied == device_id => *twin,
        other => panic!("expected the twin of {device_id}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twins_are_read_and_patched_with_etags() {
    let (_dir, mut worker, _) = connected_worker(3).await;
    let get = |device_id: &str| Request::GetTwin {
        device_id: device_id.into(),
    };
    let twin = twin_of(
        ask(&mut worker, JobId(1), get("demo-001")).await,
        "demo-001",
    );
    let etag = twin.etag.clone().unwrap();
    let patch = json!({"properties": {"desired": {"interval": 5}}});
    let patch_request = Request::PatchTwin {
        device_id: "demo-001".into(),
        patch: patch.clone(),
        etag: Some(etag.clone()),
    };
    let patched = twin_of(ask(&mut worker, JobId(2), patch_request).await, "demo-001");
    assert_eq!(patched.properties.unwrap().desired["interval"], 5);
    assert_eq!(patched.version, twin.version.map(|version| version + 1));
    // The old etag now conflicts; the error says so.
    let stale = Request::PatchTwin {
        device_id: "demo-001".into(),
        patch,
        etag: Some(etag),
    };
    let Reply::Twin {
        result: Err(error), ..
    } = ask(&mut worker, JobId(3), stale).await
    else {
        panic!("a stale etag was accepted")
    };
    assert!(error.is_precondition_failed(), "{error:?}");
    assert!(error.message.contains("412"), "{error}");
    let Reply::Twin {
        device_id,
        result: Err(error),
    } = ask(&mut worker, JobId(4), get("nobody")).await
    else {
        panic!("a twin of nobody")
    };
    assert_eq!(device_id, "nobody");
    assert!(error.is_not_found(), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_simulated_device_answers_methods_invoked_through_the_worker() {
    let (_dir, mut worker, _) = connected_worker(0).await;
    let create = Request::CreateDevice {
        device_id: "sim-1".into(),
    };
    match ask(&mut worker, JobId(1), create).await {
        Reply::DeviceCreated {
            device_id,
            result: Ok(device),
        } => {
            assert_eq!(device_id, "sim-1");
            assert_eq!(device.device_id, "sim-1");
        }
        other => panic!("{other:?}"),
    }
    let methods =
        MethodTable::default().with("reboot", MethodReply::new(200, json!({"rebooting": true})));
    let behaviours = Behaviours {
        methods,
        ..Behaviours::default()
    };
    worker
        .send(Command::StartSimulation {
            device_id: "sim-1".into(),
            behaviours,
            model_id: None,
        })
        .unwrap();
    wait_for(&mut worker, |event| match event {
        Event::Simulation {
            event: twinlens::device::DeviceEvent::TwinReceived(_),
            ..
        } => Some(()),
        Event::SimulationFailed { error, .. } => panic!("{error}"),
        _ => None,
    })
    .await;
    let invoke = Request::InvokeMethod {
        device_id: "sim-1".into(),
        method: "reboot".into(),
        payload: json!({}),
        response_timeout: Duration::from_secs(10),
    };
    let Reply::Method {
        result: Ok(answer), ..
    } = ask(&mut worker, JobId(2), invoke).await
    else {
        panic!("the method was not answered")
    };
    assert_eq!(answer.result.status, 200);
    assert_eq!(answer.result.payload, json!({"rebooting": true}));
    let delete = Request::DeleteDevice {
        device_id: "sim-1".into(),
    };
    assert!(matches!(
        ask(&mut worker, JobId(3), delete).await,
        Reply::DeviceDeleted { result: Ok(()), .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn long_jobs_can_be_cancelled() {
    let (_dir, mut worker, _) = connected_worker(3000).await;
    let job = JobId(9);
    let request = Request::Query {
        query: "SELECT * FROM devices".into(),
        page_size: 1,
        reader: twinlens::explorer::RowReader::twins(&[]),
    };
    worker.send(Command::Request { job, request }).unwrap();
    worker.send(Command::Cancel(job)).unwrap();
    wait_for(&mut worker, |event| match event {
        Event::Cancelled { job: cancelled } if cancelled == job => Some(()),
        Event::QueryDone { .. } => panic!("the query ran to the end"),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_that_never_answers_holds_up_no_other_command() {
    // A server that takes the connection and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut worker = started(Arc::new(|| {}));
    let key = "c2lsZW50LWh1Yi1rZXktZm9yLXRlc3Rpbmctb25seQ==";
    let remote = RemoteHub {
        connection_string: format!(
            "HostName=127.0.0.1:{port};SharedAccessKeyName=iothubowner;SharedAccessKey={key}"
        ),
        ca_pem: None,
        no_tls: true,
        mqtt_port: 0,
    };
    worker
        .send(Command::Connect(HubTarget::Remote(remote)))
        .unwrap();
    // While the connect waits on the silent hub, other commands are still taken.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.json");
    worker
        .send(Command::SaveConnections {
            path: path.clone(),
            connections: Vec::new(),
        })
        .unwrap();
    let get = Request::GetTwin {
        device_id: "d".into(),
    };
    worker
        .send(Command::Request {
            job: JobId(1),
            request: get,
        })
        .unwrap();
    let mut saved = false;
    let mut refused = false;
    while !(saved && refused) {
        match next(&mut worker).await {
            Event::ConnectionsSaved { result } => {
                result.unwrap();
                saved = true;
            }
            Event::Finished {
                job: JobId(1),
                reply: Reply::Twin {
                    result: Err(error), ..
                },
            } => {
                assert!(error.message.contains("not connected"), "{error}");
                refused = true;
            }
            other => panic!("the connect to a silent hub ended: {other:?}"),
        }
    }
    assert!(path.exists());
    drop(silent);
}

#[tokio::test]
async fn model_files_are_read_without_a_hub() {
    let mut worker = started(Arc::new(|| {}));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("thermostats")).unwrap();
    std::fs::write(
        dir.path().join("thermostats/Thermostat.json"),
        include_str!("../../src/dtdl/samples/Thermostat.json"),
    )
    .unwrap();
    let folder = ModelSource::Folder(dir.path().to_path_buf());
    worker.send(Command::ReadModels(folder.clone())).unwrap();
    let read = wait_for(&mut worker, |event| match event {
        Event::ModelsRead(read) => Some(read),
        _ => None,
    })
    .await;
    assert_eq!(read.source, folder);
    assert_eq!(read.files.len(), 1);
    assert_eq!(read.files[0].0, "thermostats/Thermostat.json");
    assert!(read.unreadable.is_empty());
}
