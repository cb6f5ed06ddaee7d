//! Runs one job: waits for its start time, chooses its devices with its query (once; a
//! resumed job keeps the devices it chose), then works through them at the hub's job
//! rate — twin updates as service PATCHes, method calls with the job's timeouts, at
//! most [`MAX_CALLS_IN_FLIGHT`] waiting at once — writing results to the store every
//! tick. Ends completed, cancelled, or failed when it runs past its maximum execution
//! time; when the hub stops it saves where it is and ends, to resume on the next start.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::job::{DeviceJob, DeviceJobError, DeviceJobStatus, JobKind, JobStatus};
use super::{Inner, JobCell, request, save};
use crate::hub::error::HubError;
use crate::hub::methods::MethodResponse;
use crate::hub::store::TwinWrite;

/// How often a job starts its next devices and writes its progress.
const TICK: Duration = Duration::from_millis(50);
/// Method calls a job waits on at once; the rate starts no more while this many wait.
const MAX_CALLS_IN_FLIGHT: usize = 1000;
/// What a device's row says when the job ran out of time before trying it.
const TIMED_OUT: &str = "JobTimeout";

/// How the work on a job's devices ended.
enum Ended {
    /// Every device was tried.
    Done,
    /// The job was cancelled.
    Cancelled,
    /// The job ran past its maximum execution time.
    Expired,
    /// The hub is stopping.
    Stopped,
}

/// Runs a job to its end (or until the hub stops).
pub(super) async fn run(inner: Arc<Inner>, cell: Arc<JobCell>) {
    let job_id = cell.lock().spec.job_id.clone();
    let outcome = async {
        if !wait_for_start(&inner, &cell).await? {
            return Ok(());
        }
        if !choose_devices(&inner, &cell).await? {
            return Ok(());
        }
        work(&inner, &cell).await
    };
    if let Err(error) = outcome.await {
        tracing::error!(job_id, "the job could not be saved: {error}");
    }
}

/// Waits until the job's start time; false when the job or the hub stopped meanwhile.
async fn wait_for_start(inner: &Inner, cell: &Arc<JobCell>) -> Result<bool, HubError> {
    let mut stop = inner.stop.subscribe();
    loop {
        let woken = cell.wake.notified();
        let now = Utc::now();
        let (wait, scheduled) = {
            let mut job = cell.lock();
            match job.status {
                JobStatus::Running => return Ok(true),
                status if !status.is_active() => return Ok(false),
                _ if job.spec.start <= now => return Ok(true),
                JobStatus::Queued => {
                    job.status = JobStatus::Scheduled;
                    (job.spec.start - now, true)
                }
                _ => (job.spec.start - now, false),
            }
        };
        if scheduled {
            save(&inner.store, cell).await?;
        }
        if *stop.borrow_and_update() {
            return Ok(false);
        }
        tokio::select! {
            () = tokio::time::sleep(wait.to_std().unwrap_or_default()) => {}
            () = woken => {}
            _ = stop.changed() => return Ok(false),
        }
    }
}

/// Chooses the devices of a job that has not chosen them yet; false when it was
/// cancelled meanwhile.
async fn choose_devices(inner: &Inner, cell: &Arc<JobCell>) -> Result<bool, HubError> {
    let condition = {
        let job = cell.lock();
        if job.status == JobStatus::Running {
            return Ok(true);
        }
        job.spec.query_condition.clone()
    };
    let query = request::device_query(&condition)?;
    let store = inner.store.clone();
    let device_ids = tokio::task::spawn_blocking(move || store.matching_device_ids(&query))
        .await
        .map_err(|e| HubError::Server(format!("the job's query task failed: {e}")))?;
    {
        let mut job = cell.lock();
        if !job.status.is_active() {
            return Ok(false);
        }
        job.devices = device_ids.iter().map(|id| DeviceJob::pending(id)).collect();
        job.status = JobStatus::Running;
        job.run_started = Some(Utc::now());
        job.touch_all();
    }
    save(&inner.store, cell).await?;
    Ok(true)
}

/// Works through the job's pending devices at the hub's job rate.
async fn work(inner: &Inner, cell: &Arc<JobCell>) -> Result<(), HubError> {
    let (kind, deadline, pending) = {
        let job = cell.lock();
        let started = job.run_started.unwrap_or_else(Utc::now);
        let limit = chrono::Duration::seconds(
            i64::try_from(job.spec.max_execution_secs).unwrap_or(i64::MAX),
        );
        let pending: Vec<usize> = (0..job.devices.len())
            .filter(|&index| job.devices[index].status == DeviceJobStatus::Pending)
            .collect();
        (
            job.spec.kind.clone(),
            started.checked_add_signed(limit),
            pending,
        )
    };
    let mut stop = inner.stop.subscribe();
    let per_tick = f64::from(inner.limits.device_rate) * TICK.as_secs_f64();
    let mut allowance = 0.0;
    let mut next = 0;
    let mut calls: JoinSet<(usize, Result<MethodResponse, HubError>)> = JoinSet::new();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ended = loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow_and_update() {
            break Ended::Stopped;
        }
        if cell.lock().status == JobStatus::Cancelled {
            break Ended::Cancelled;
        }
        if deadline.is_some_and(|deadline| Utc::now() > deadline) {
            break Ended::Expired;
        }
        // A rate below one device a tick accumulates over ticks; a burst never piles up.
        allowance = (allowance + per_tick).min(per_tick.max(1.0));
        let room = match kind {
            JobKind::UpdateTwin { .. } => usize::MAX,
            JobKind::DeviceMethod(_) => MAX_CALLS_IN_FLIGHT - calls.len(),
        };
        let count = (allowance as usize).min(room).min(pending.len() - next);
        allowance -= count as f64;
        let batch = &pending[next..next + count];
        next += count;
        match &kind {
            JobKind::UpdateTwin { patch } => update_twins(inner, cell, batch, patch).await,
            JobKind::DeviceMethod(method) => {
                let started = Utc::now();
                let mut job = cell.lock();
                for &index in batch {
                    let row = &mut job.devices[index];
                    row.status = DeviceJobStatus::Running;
                    row.start = Some(started);
                    let device_id = row.device_id.to_string();
                    job.touch(index);
                    let methods = inner.methods.clone();
                    let method = method.clone();
                    calls.spawn(async move {
                        let answer = methods
                            .invoke(&device_id, &method.name, method.payload, method.timeouts)
                            .await;
                        (index, answer)
                    });
                }
            }
        }
        while let Some(answered) = calls.try_join_next() {
            if let Ok((index, answer)) = answered {
                record_answer(cell, index, answer);
            }
        }
        if cell.lock().has_unsaved_rows() {
            save(&inner.store, cell).await?;
        }
        if next == pending.len() && calls.is_empty() {
            break Ended::Done;
        }
    };
    calls.abort_all();
    finish(cell, ended);
    save(&inner.store, cell).await
}

/// Applies the job's twin patch to a batch of devices and records each result once the
/// writes are durable.
async fn update_twins(inner: &Inner, cell: &Arc<JobCell>, batch: &[usize], patch: &Value) {
    let device_ids: Vec<(usize, String)> = {
        let job = cell.lock();
        batch
            .iter()
            .map(|&index| (index, job.devices[index].device_id.to_string()))
            .collect()
    };
    let started = Utc::now();
    let writes: Vec<_> = device_ids
        .iter()
        .map(|(index, device_id)| {
            let written = inner
                .store
                .write_twin(device_id, patch, TwinWrite::Patch, None, started);
            (*index, written.map(|(_, _, pending)| pending))
        })
        .collect();
    let mut results = Vec::with_capacity(writes.len());
    for (index, written) in writes {
        let durable = match written {
            Ok(pending) => pending.durable().await,
            Err(error) => Err(error),
        };
        results.push((index, durable));
    }
    let ended = Utc::now();
    let mut job = cell.lock();
    for (index, result) in results {
        let row = &mut job.devices[index];
        row.start = Some(started);
        row.end = Some(ended);
        match result {
            Ok(()) => row.status = DeviceJobStatus::Completed,
            Err(error) => fail(row, DeviceJobError::from(&error)),
        }
        job.touch(index);
    }
}

/// Records a device's answer to the job's method call.
fn record_answer(cell: &JobCell, index: usize, answer: Result<MethodResponse, HubError>) {
    let mut job = cell.lock();
    let row = &mut job.devices[index];
    if row.status != DeviceJobStatus::Running {
        return;
    }
    row.end = Some(Utc::now());
    match answer {
        Ok(response) => {
            row.status = DeviceJobStatus::Completed;
            row.method_response = Some(Box::new(
                json!({"status": response.status, "payload": response.payload}),
            ));
        }
        Err(error) => fail(row, DeviceJobError::from(&error)),
    }
    job.touch(index);
}

fn fail(row: &mut DeviceJob, error: DeviceJobError) {
    row.status = DeviceJobStatus::Failed;
    row.error = Some(Box::new(error));
}

/// Settles the job and the devices it did not finish, as the work ended.
fn finish(cell: &JobCell, ended: Ended) {
    let now = Utc::now();
    let mut job = cell.lock();
    let unfinished = |status| matches!(status, DeviceJobStatus::Pending | DeviceJobStatus::Running);
    match ended {
        // Saved as they are; a device that was being tried is tried again on resume.
        Ended::Stopped => {}
        Ended::Done => {
            job.status = JobStatus::Completed;
            job.end = Some(now);
        }
        Ended::Cancelled => {
            for index in 0..job.devices.len() {
                let row = &mut job.devices[index];
                if unfinished(row.status) {
                    row.status = DeviceJobStatus::Canceled;
                    row.end = Some(now);
                    job.touch(index);
                }
            }
        }
        Ended::Expired => {
            let limit = job.spec.max_execution_secs;
            let reason = format!(
                "The job ran past its maxExecutionTimeInSeconds ({limit} s) before every \
                 device was tried; schedule it again with a longer time for the rest"
            );
            for index in 0..job.devices.len() {
                let row = &mut job.devices[index];
                if unfinished(row.status) {
                    row.end = Some(now);
                    fail(
                        row,
                        DeviceJobError {
                            code: TIMED_OUT.to_owned(),
                            description: reason.clone(),
                        },
                    );
                    job.touch(index);
                }
            }
            job.status = JobStatus::Failed;
            job.end = Some(now);
            job.failure_reason = Some(reason);
        }
    }
}
