//! Jobs (`/jobs/v2`): a twin update or a direct-method call over every device a query
//! condition chooses, run by the hub in the background. Schedule one, read its progress,
//! cancel it, list jobs, and read what a job did on each device (a `devices.jobs`
//! query). A hub refuses a job beyond its plan's active-job limit with 429004
//! ThrottlingMaxActiveJobCountExceeded, which is not retried: it clears only when a
//! job finishes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::model::{DeviceJobResult, Job};
use super::retry::Idempotency;
use super::transport::{Call, RequestBody, encode_segment, read_json};
use super::{ServiceClient, ServiceError};
use crate::twin::format_timestamp;

/// What a job does on each device.
#[derive(Debug, Clone, PartialEq)]
pub enum JobWork {
    /// Merges `tags` and `properties.desired` into each twin (a forced update: no etag).
    UpdateTwin {
        /// Tags to merge (keys set to null are removed); `None` leaves tags alone.
        tags: Option<Map<String, Value>>,
        /// Desired properties to merge; `None` leaves them alone.
        desired: Option<Map<String, Value>>,
    },
    /// Invokes a direct method on each device.
    CallMethod {
        /// The method name.
        name: String,
        /// Its payload.
        payload: Value,
        /// How long each device has to answer (Azure: 5 to 300 seconds).
        response_timeout: Duration,
    },
}

/// When a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobTiming {
    /// When to start; `None` for now.
    pub start: Option<DateTime<Utc>>,
    /// How long it may run once started; devices not reached by then fail.
    pub max_execution: Duration,
}

impl Default for JobTiming {
    fn default() -> Self {
        Self {
            start: None,
            max_execution: Duration::from_secs(3600),
        }
    }
}

/// A fresh job id: `twinlens-` and a random suffix, unique enough to never collide.
pub fn new_job_id() -> String {
    format!("twinlens-{:016x}", rand::random::<u64>())
}

impl ServiceClient {
    /// Schedules a job over the devices `query_condition` chooses: the WHERE part of a
    /// device query (`tags.site = 'north'`, `deviceId IN ['a', 'b']`) or `*` for every
    /// device. Returns the job as accepted (status `queued`).
    pub async fn schedule_job(
        &self,
        job_id: &str,
        query_condition: &str,
        work: &JobWork,
        timing: JobTiming,
    ) -> Result<Job, ServiceError> {
        check_job_id(job_id)?;
        if query_condition.trim().is_empty() {
            return Err(ServiceError::InvalidArgument(
                "the job's condition is empty; give the WHERE part of a query, or * for every \
                 device"
                    .into(),
            ));
        }
        let start = timing.start.unwrap_or_else(Utc::now);
        let mut body = json!({
            "jobId": job_id,
            "queryCondition": query_condition,
            "startTime": format_timestamp(start),
            "maxExecutionTimeInSeconds": timing.max_execution.as_secs().max(1),
        });
        let what = match work {
            JobWork::UpdateTwin { tags, desired } => {
                let mut update = json!({"etag": "*"});
                if let Some(tags) = tags {
                    update["tags"] = Value::Object(tags.clone());
                }
                if let Some(desired) = desired {
                    update["properties"] = json!({ "desired": desired });
                }
                body["type"] = "scheduleUpdateTwin".into();
                body["updateTwin"] = update;
                "a twin-update job".to_owned()
            }
            JobWork::CallMethod {
                name,
                payload,
                response_timeout,
            } => {
                body["type"] = "scheduleDeviceMethod".into();
                body["cloudToDeviceMethod"] = json!({
                    "methodName": name,
                    "payload": payload,
                    "responseTimeoutInSeconds": response_timeout.as_secs(),
                });
                format!("a job calling method '{name}'")
            }
        };
        let call = Call {
            operation: format!("scheduling {what} as job '{job_id}'"),
            method: Method::PUT,
            path: job_path(job_id),
            body: Some(RequestBody::Json(&body)),
            headers: Vec::new(),
            // A repeat of an accepted job fails as JobAlreadyExists; it never runs twice.
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.job_call(call).await
    }

    /// Reads a job's status and device statistics.
    pub async fn get_job(&self, job_id: &str) -> Result<Job, ServiceError> {
        check_job_id(job_id)?;
        let call = Call {
            operation: format!("reading job '{job_id}'"),
            method: Method::GET,
            path: job_path(job_id),
            body: None,
            headers: Vec::new(),
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.job_call(call).await
    }

    /// Cancels a job that has not finished: devices it has not reached are left alone.
    pub async fn cancel_job(&self, job_id: &str) -> Result<Job, ServiceError> {
        check_job_id(job_id)?;
        let call = Call {
            operation: format!("cancelling job '{job_id}'"),
            method: Method::POST,
            path: format!("{}/cancel", job_path(job_id)),
            body: None,
            headers: Vec::new(),
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.job_call(call).await
    }

    /// Every job of `job_type` (`scheduleUpdateTwin`, `scheduleDeviceMethod`) and
    /// `status` the hub keeps (either filter may be left out), oldest first.
    pub async fn list_jobs(
        &self,
        job_type: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<Job>, ServiceError> {
        let mut filters = Vec::new();
        if let Some(job_type) = job_type {
            filters.push(format!("jobType={}", encode_segment(job_type)));
        }
        if let Some(status) = status {
            filters.push(format!("jobStatus={}", encode_segment(status)));
        }
        let path = if filters.is_empty() {
            "/jobs/v2/query".to_owned()
        } else {
            format!("/jobs/v2/query?{}", filters.join("&"))
        };
        let mut jobs = Vec::new();
        let mut continuation = None;
        loop {
            let call = Call {
                operation: "listing jobs".to_owned(),
                method: Method::GET,
                path: path.clone(),
                body: None,
                headers: Vec::new(),
                idempotency: Idempotency::Idempotent,
                timeout: None,
            };
            let page = self.page(call, None, continuation).await?;
            for row in page.rows {
                jobs.push(serde_json::from_value(row).map_err(|e| {
                    ServiceError::UnexpectedResponse {
                        operation: "listing jobs".into(),
                        expected: "JobResponse JSON",
                        detail: e.to_string(),
                    }
                })?);
            }
            match page.continuation {
                Some(token) => continuation = Some(token),
                None => return Ok(jobs),
            }
        }
    }

    /// What a job did on each device, in the order the hub lists them.
    pub async fn job_device_results(
        &self,
        job_id: &str,
    ) -> Result<Vec<DeviceJobResult>, ServiceError> {
        check_job_id(job_id)?;
        let query = format!(
            "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = {}",
            crate::query::string_literal(job_id)
        );
        let pages = self.query(&query, Some(1000));
        futures_util::pin_mut!(pages);
        let mut results = Vec::new();
        while let Some(page) = pages.next().await {
            for row in page?.rows {
                results.push(serde_json::from_value(row).map_err(|e| {
                    ServiceError::UnexpectedResponse {
                        operation: format!("reading the results of job '{job_id}'"),
                        expected: "devices.jobs row JSON",
                        detail: e.to_string(),
                    }
                })?);
            }
        }
        Ok(results)
    }

    async fn job_call(&self, call: Call<'_>) -> Result<Job, ServiceError> {
        let response = self.transport.send(&call).await?;
        read_json(response, &call.operation, "JobResponse JSON").await
    }
}

fn job_path(job_id: &str) -> String {
    format!("/jobs/v2/{}", encode_segment(job_id))
}

fn check_job_id(job_id: &str) -> Result<(), ServiceError> {
    if job_id.trim().is_empty() {
        return Err(ServiceError::InvalidArgument(
            "the job id is empty; give the job's id, or make one with new_job_id()".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_job_ids_are_valid_and_differ() {
        let (a, b) = (new_job_id(), new_job_id());
        assert_ne!(a, b);
        assert!(crate::auth::check_id(&a).is_ok(), "{a}");
    }
}
