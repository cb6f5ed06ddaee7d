//! Jobs (`/jobs/v2`): twin updates and direct-method calls over the devices a query
//! chooses, run in the background at a steady rate ([`runner`]), written to the store as
//! they go and picked up again when the hub starts: a job that was running resumes with
//! the devices it had not finished, so none is silently lost. At most
//! [`JobLimits::max_active`] jobs are queued, scheduled or running at once, as Azure
//! limits them per hub tier. Finished jobs are kept for 30 days, as Azure keeps them.
//!
//! - [`request`]: the JobRequest body and its rules.
//! - [`job`]: a job, its devices' results and their JSON shapes.
//! - `row_view`: a `devices.jobs` row as the query engine reads it, in place.

pub mod job;
pub mod request;
mod row_view;
mod runner;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::error::HubError;
use super::limits::JobLimits;
use super::methods::MethodDispatcher;
use super::store::{PageCursor, QueryPage, Store, StoreError};
use crate::query::Query;
use job::{DeviceJobStatus, Job, JobStatus};

/// How long finished jobs are kept.
const RETENTION_DAYS: i64 = 30;

/// The jobs of a hub; clones share them.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every job by id.
    jobs: Mutex<BTreeMap<String, Arc<JobCell>>>,
    store: Store,
    methods: MethodDispatcher,
    limits: JobLimits,
    /// Set when the hub stops: runners save where they are and end.
    stop: watch::Sender<bool>,
}

/// One job, shared by its runner and the API.
struct JobCell {
    job: Mutex<Job>,
    /// Wakes the runner early (a cancel while it waits for the start time).
    wake: Notify,
    /// Held while the job is written, so that writes reach the store in order.
    saving: tokio::sync::Mutex<()>,
}

impl JobCell {
    fn new(job: Job) -> Arc<Self> {
        Arc::new(Self {
            job: Mutex::new(job),
            wake: Notify::new(),
            saving: tokio::sync::Mutex::new(()),
        })
    }

    /// The job, under its lock. A panic while holding it cannot leave a half-applied
    /// change that matters: every field is a whole value.
    fn lock(&self) -> MutexGuard<'_, Job> {
        self.job.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Jobs {
    /// Loads the stored jobs, forgets those finished more than 30 days ago, and starts
    /// a runner for every job still active. Must be called inside the hub's runtime.
    pub fn open(
        store: Store,
        methods: MethodDispatcher,
        limits: JobLimits,
    ) -> Result<Self, StoreError> {
        let now = Utc::now();
        let mut jobs = BTreeMap::new();
        for stored in store.load_jobs()? {
            let read_spec = |value: &Value| request::read_spec(&stored.job_id, value, now);
            let mut job = match Job::from_document(&stored.document, &stored.devices, read_spec) {
                Ok(job) => job,
                Err(damage) => {
                    tracing::error!(
                        job_id = stored.job_id,
                        "the stored job cannot be read ({damage}); it is left in the store \
                         and not served"
                    );
                    continue;
                }
            };
            if is_expired(&job, now) {
                store.delete_job(&stored.job_id)?;
                continue;
            }
            // A device the job was working on when the hub stopped is tried again.
            for row in &mut job.devices {
                if row.status == DeviceJobStatus::Running {
                    row.status = DeviceJobStatus::Pending;
                }
            }
            if job.status == JobStatus::Running {
                let left = job.counts().pending;
                tracing::info!(job_id = stored.job_id, left, "resuming a job");
            }
            jobs.insert(stored.job_id, JobCell::new(job));
        }
        let jobs = Self {
            inner: Arc::new(Inner {
                jobs: Mutex::new(jobs),
                store,
                methods,
                limits,
                stop: watch::channel(false).0,
            }),
        };
        for cell in jobs.cells() {
            if cell.lock().status.is_active() {
                tokio::spawn(runner::run(Arc::clone(&jobs.inner), cell));
            }
        }
        Ok(jobs)
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<JobCell>>> {
        self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cells(&self) -> Vec<Arc<JobCell>> {
        self.map().values().cloned().collect()
    }

    fn cell(&self, job_id: &str) -> Result<Arc<JobCell>, HubError> {
        self.map()
            .get(job_id)
            .cloned()
            .ok_or_else(|| HubError::JobNotFound {
                job_id: job_id.to_owned(),
            })
    }

    /// `PUT /jobs/v2/{id}`: accepts a job (status `queued`), stores it and starts its
    /// runner.
    pub async fn create(&self, job_id: &str, body: &Value) -> Result<Value, HubError> {
        let now = Utc::now();
        let spec = request::read_spec(job_id, body, now)?;
        let cell = {
            let mut jobs = self.map();
            if jobs.contains_key(job_id) {
                return Err(HubError::JobAlreadyExists {
                    job_id: job_id.to_owned(),
                });
            }
            let active = jobs
                .values()
                .filter(|cell| cell.lock().status.is_active())
                .count();
            if active >= self.inner.limits.max_active {
                return Err(HubError::ThrottlingMaxActiveJobCountExceeded {
                    limit: self.inner.limits.max_active,
                });
            }
            let cell = JobCell::new(Job::new(spec, now));
            jobs.insert(job_id.to_owned(), Arc::clone(&cell));
            cell
        };
        if let Err(error) = save(&self.inner.store, &cell).await {
            self.map().remove(job_id);
            return Err(error);
        }
        let response = cell.lock().response();
        tokio::spawn(runner::run(Arc::clone(&self.inner), cell));
        Ok(response)
    }

    /// `GET /jobs/v2/{id}`.
    pub fn get(&self, job_id: &str) -> Result<Value, HubError> {
        Ok(self.cell(job_id)?.lock().response())
    }

    /// `POST /jobs/v2/{id}/cancel`: stops a job that has not finished; the devices it
    /// has not tried are marked canceled. A finished job cannot be cancelled.
    pub async fn cancel(&self, job_id: &str) -> Result<Value, HubError> {
        let cell = self.cell(job_id)?;
        {
            let mut job = cell.lock();
            if !job.status.is_active() {
                let status = job.status.as_str();
                return Err(HubError::OperationNotAllowedInCurrentState(format!(
                    "Job {job_id} cannot be cancelled in '{status}' status: it has finished"
                )));
            }
            let now = Utc::now();
            job.status = JobStatus::Cancelled;
            job.end = Some(now);
            job.status_message = Some("Cancelled by a service request".into());
            for index in 0..job.devices.len() {
                if job.devices[index].status == DeviceJobStatus::Pending {
                    job.devices[index].status = DeviceJobStatus::Canceled;
                    job.devices[index].end = Some(now);
                    job.touch(index);
                }
            }
        }
        cell.wake.notify_one();
        save(&self.inner.store, &cell).await?;
        let response = cell.lock().response();
        Ok(response)
    }

    /// `GET /jobs/v2/query`: every job of the type and status given (either may be
    /// left out), oldest first.
    pub fn list(
        &self,
        job_type: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<Value>, HubError> {
        if let Some(job_type) = job_type
            && ![job::UPDATE_TWIN, job::DEVICE_METHOD].contains(&job_type)
        {
            return Err(HubError::ArgumentInvalid(format!(
                "jobType '{job_type}' is not a job type: use {} or {}",
                job::UPDATE_TWIN,
                job::DEVICE_METHOD
            )));
        }
        let status = status
            .map(|text| {
                JobStatus::parse(text).ok_or_else(|| {
                    HubError::ArgumentInvalid(format!(
                        "jobStatus '{text}' is not a job status: use queued, scheduled, \
                         running, completed, failed or cancelled"
                    ))
                })
            })
            .transpose()?;
        let mut jobs: Vec<(DateTime<Utc>, Value)> = self
            .cells()
            .iter()
            .filter_map(|cell| {
                let job = cell.lock();
                let wanted = job_type.is_none_or(|t| t == job.spec.kind.type_name())
                    && status.is_none_or(|s| s == job.status);
                wanted.then(|| (job.created, job.response()))
            })
            .collect();
        jobs.sort_by_key(|(created, _)| *created);
        Ok(jobs.into_iter().map(|(_, response)| response).collect())
    }

    /// A page of `SELECT * FROM devices.jobs [WHERE ...]`: one row per device of every
    /// job, by job id and then device id, starting after `skip` rows.
    pub fn device_rows(&self, query: &Query, skip: usize, take: usize) -> QueryPage {
        let take = take.max(1);
        let mut rows = Vec::new();
        let mut seen = 0;
        'jobs: for cell in self.cells() {
            let job = cell.lock();
            for device in &job.devices {
                if !query.matches(row_view::RowView::Root(&job, device)) {
                    continue;
                }
                seen += 1;
                if seen > skip {
                    rows.push(job.row(device));
                    if rows.len() > take {
                        break 'jobs;
                    }
                }
            }
        }
        let more = rows.len() > take;
        rows.truncate(take);
        QueryPage {
            next: more.then(|| PageCursor::Offset(skip + take)),
            rows,
        }
    }

    /// Tells every runner to save where it is and end (the hub is stopping).
    pub fn stop(&self) {
        self.inner.stop.send_replace(true);
    }
}

/// Whether a finished job is past the 30 days Azure keeps jobs.
fn is_expired(job: &Job, now: DateTime<Utc>) -> bool {
    !job.status.is_active()
        && job
            .end
            .is_some_and(|end| now - end > chrono::Duration::days(RETENTION_DAYS))
}

/// Writes what changed in a job since it was last written; returns once durable.
async fn save(store: &Store, cell: &Arc<JobCell>) -> Result<(), HubError> {
    let _in_order = cell.saving.lock().await;
    let (job_id, (document, rows)) = {
        let mut job = cell.lock();
        (job.spec.job_id.clone(), job.take_unsaved())
    };
    let writer = store.clone();
    let written = tokio::task::spawn_blocking(move || writer.save_job(&job_id, &document, &rows))
        .await
        .map_err(|e| HubError::Server(format!("the job store task failed: {e}")))
        .and_then(|written| written.map_err(HubError::from));
    if written.is_err() {
        // Nothing written: the next save writes every row again.
        cell.lock().touch_all();
    }
    written
}
