//! The UI worker against an embedded local hub: connect, query with progress, twin
//! reads and writes, direct methods on a simulated device, cancellation, and a repaint
//! after every event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use twinlens::device::{Behaviours, MethodReply, MethodTable};
use twinlens::explorer::list_query;
use twinlens::worker::{Command, Event, Failure, HubTarget, JobId, Outcome, Worker};

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

async fn finished(worker: &mut Worker, job: JobId) -> Result<Outcome, Failure> {
    wait_for(worker, |event| match event {
        Event::Finished { job: done, outcome } if done == job => Some(outcome),
        _ => None,
    })
    .await
}

async fn connected_worker(demo: usize) -> (tempfile::TempDir, Worker, Arc<AtomicUsize>) {
    let repaints = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&repaints);
    let mut worker = Worker::start(Arc::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
    }))
    .unwrap();
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
    worker
        .send(Command::Query {
            job,
            query: plan.query.text,
            page_size: 1000,
            reader: plan.query.reader,
        })
        .unwrap();
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

#[tokio::test(flavor = "multi_thread")]
async fn twins_are_read_and_patched_with_etags() {
    let (_dir, mut worker, _) = connected_worker(3).await;
    worker
        .send(Command::GetTwin {
            job: JobId(1),
            device_id: "demo-001".into(),
        })
        .unwrap();
    let Ok(Outcome::Twin(twin)) = finished(&mut worker, JobId(1)).await else {
        panic!("no twin")
    };
    let etag = twin["etag"].as_str().unwrap().to_owned();
    let patch = json!({"properties": {"desired": {"interval": 5}}});
    worker
        .send(Command::PatchTwin {
            job: JobId(2),
            device_id: "demo-001".into(),
            patch: patch.clone(),
            etag: Some(etag.clone()),
        })
        .unwrap();
    let Ok(Outcome::Twin(patched)) = finished(&mut worker, JobId(2)).await else {
        panic!("patch failed")
    };
    assert_eq!(patched["properties"]["desired"]["interval"], 5);
    // The old etag now conflicts; the error says so.
    worker
        .send(Command::PatchTwin {
            job: JobId(3),
            device_id: "demo-001".into(),
            patch,
            etag: Some(etag),
        })
        .unwrap();
    let error = finished(&mut worker, JobId(3)).await.unwrap_err();
    assert!(error.is_precondition_failed(), "{error:?}");
    assert!(error.message.contains("412"), "{error}");
    worker
        .send(Command::GetTwin {
            job: JobId(4),
            device_id: "nobody".into(),
        })
        .unwrap();
    assert!(finished(&mut worker, JobId(4)).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_simulated_device_answers_methods_invoked_through_the_worker() {
    let (_dir, mut worker, _) = connected_worker(0).await;
    worker
        .send(Command::CreateDevice {
            job: JobId(1),
            device_id: "sim-1".into(),
        })
        .unwrap();
    assert!(matches!(
        finished(&mut worker, JobId(1)).await,
        Ok(Outcome::DeviceCreated(_))
    ));
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
    let invoke = Command::InvokeMethod {
        job: JobId(2),
        device_id: "sim-1".into(),
        method: "reboot".into(),
        payload: json!({}),
        response_timeout: Duration::from_secs(10),
    };
    worker.send(invoke).unwrap();
    let outcome = wait_for(&mut worker, |event| match event {
        Event::Finished {
            job: JobId(2),
            outcome,
        } => Some(outcome),
        _ => None,
    })
    .await;
    let Ok(Outcome::Method { result, .. }) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(result.status, 200);
    assert_eq!(result.payload, json!({"rebooting": true}));
}

#[tokio::test(flavor = "multi_thread")]
async fn long_jobs_can_be_cancelled() {
    let (_dir, mut worker, _) = connected_worker(3000).await;
    let job = JobId(9);
    worker
        .send(Command::Query {
            job,
            query: "SELECT * FROM devices".into(),
            page_size: 1,
            reader: twinlens::explorer::RowReader::twins(&[]),
        })
        .unwrap();
    worker.send(Command::Cancel(job)).unwrap();
    wait_for(&mut worker, |event| match event {
        Event::Cancelled { job: cancelled } if cancelled == job => Some(()),
        Event::QueryDone { .. } => panic!("the query ran to the end"),
        _ => None,
    })
    .await;
}
