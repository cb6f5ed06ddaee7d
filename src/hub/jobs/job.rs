//! One job: what it does ([`JobSpec`]), where it is in its life ([`JobStatus`]) and
//! what it did on each device ([`DeviceJob`]); and its JSON shapes: the service API's
//! JobResponse, the rows of `devices.jobs`, and the documents the store keeps.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::hub::error::HubError;
use crate::hub::method_request::MethodRequest;
use crate::twin::format_timestamp;
use crate::twin::timestamp::{format_optional_timestamp, parse_optional_timestamp};

/// Where a job is in its life, as the service API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Accepted, not looked at by its runner yet.
    Queued,
    /// Waiting for its start time.
    Scheduled,
    /// Working through its devices.
    Running,
    /// Every device was tried (some may have failed).
    Completed,
    /// The job itself failed (it ran past its maximum execution time).
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobStatus {
    const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Scheduled,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Scheduled => "scheduled",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Reads the wire spelling, any case.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(text))
    }

    /// Whether the job still counts against the hub's active-job limit.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobStatus::Queued | JobStatus::Scheduled | JobStatus::Running
        )
    }
}

/// What a job does on each device.
#[derive(Debug, Clone, PartialEq)]
pub enum JobKind {
    /// `scheduleUpdateTwin`: a service PATCH of tags and desired properties.
    UpdateTwin {
        /// `{"tags": ..., "properties": {"desired": ...}}`, as a twin PATCH body.
        patch: Value,
    },
    /// `scheduleDeviceMethod`: a direct method call.
    DeviceMethod(MethodRequest),
}

/// The job type names of the service API.
pub const UPDATE_TWIN: &str = "scheduleUpdateTwin";
/// See [`UPDATE_TWIN`].
pub const DEVICE_METHOD: &str = "scheduleDeviceMethod";

impl JobKind {
    /// The service API's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            JobKind::UpdateTwin { .. } => UPDATE_TWIN,
            JobKind::DeviceMethod(_) => DEVICE_METHOD,
        }
    }
}

/// A checked job request.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The job's id.
    pub job_id: String,
    /// What it does.
    pub kind: JobKind,
    /// The WHERE part of the query choosing the devices, or `*` for all.
    pub query_condition: String,
    /// When to start.
    pub start: DateTime<Utc>,
    /// How long the job may run once started.
    pub max_execution_secs: u64,
}

/// Where a job is on one device, as `devices.jobs` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceJobStatus {
    /// Not tried yet.
    Pending,
    /// Being tried now.
    Running,
    /// Done (a method job: the device answered, with whatever status).
    Completed,
    /// Could not be done; the row's error says why.
    Failed,
    /// The job was cancelled before this device was tried.
    Canceled,
}

impl DeviceJobStatus {
    const ALL: [DeviceJobStatus; 5] = [
        DeviceJobStatus::Pending,
        DeviceJobStatus::Running,
        DeviceJobStatus::Completed,
        DeviceJobStatus::Failed,
        DeviceJobStatus::Canceled,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceJobStatus::Pending => "pending",
            DeviceJobStatus::Running => "running",
            DeviceJobStatus::Completed => "completed",
            DeviceJobStatus::Failed => "failed",
            DeviceJobStatus::Canceled => "canceled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Why a job failed on one device: Azure's error code name and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceJobError {
    /// The code name, e.g. `DeviceNotOnline`.
    pub code: String,
    /// What happened.
    pub description: String,
}

impl From<&HubError> for DeviceJobError {
    fn from(error: &HubError) -> Self {
        Self {
            code: error.error_code_name().to_owned(),
            description: error.to_string(),
        }
    }
}

/// What a job did on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceJob {
    /// The device.
    pub device_id: Box<str>,
    /// Where the job is on it.
    pub status: DeviceJobStatus,
    /// When the job started on it.
    pub start: Option<DateTime<Utc>>,
    /// When the job finished on it.
    pub end: Option<DateTime<Utc>>,
    /// A method job's `{"status", "payload"}` answer.
    pub method_response: Option<Box<Value>>,
    /// Why it failed.
    pub error: Option<Box<DeviceJobError>>,
}

impl DeviceJob {
    /// A device the job has chosen and not tried yet.
    pub fn pending(device_id: &str) -> Self {
        Self {
            device_id: device_id.into(),
            status: DeviceJobStatus::Pending,
            start: None,
            end: None,
            method_response: None,
            error: None,
        }
    }

    /// What the store keeps of the row (the job's fields are in the job's document).
    pub fn document(&self) -> String {
        let mut document = Map::new();
        document.insert("status".into(), self.status.as_str().into());
        let mut time = |name: &str, instant: Option<DateTime<Utc>>| {
            if let Some(instant) = instant {
                document.insert(name.into(), format_timestamp(instant).into());
            }
        };
        time("start", self.start);
        time("end", self.end);
        if let Some(response) = &self.method_response {
            document.insert("methodResponse".into(), (**response).clone());
        }
        if let Some(error) = &self.error {
            document.insert(
                "error".into(),
                json!({"code": error.code, "description": error.description}),
            );
        }
        Value::Object(document).to_string()
    }

    /// Reads a row the store kept; `None` when it is damaged.
    pub fn from_document(device_id: &str, document: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(document).ok()?;
        let time = |name: &str| match value.get(name) {
            None => Some(None),
            Some(text) => parse_optional_timestamp(text.as_str()?),
        };
        let error = match value.get("error") {
            None => None,
            Some(error) => Some(Box::new(DeviceJobError {
                code: error.get("code")?.as_str()?.to_owned(),
                description: error.get("description")?.as_str()?.to_owned(),
            })),
        };
        Some(Self {
            device_id: device_id.into(),
            status: DeviceJobStatus::parse(value.get("status")?.as_str()?)?,
            start: time("start")?,
            end: time("end")?,
            method_response: value.get("methodResponse").cloned().map(Box::new),
            error,
        })
    }
}

/// Counts of a job's devices by where the job is on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    /// Devices the job chose.
    pub devices: usize,
    /// Not tried yet.
    pub pending: usize,
    /// Being tried.
    pub running: usize,
    /// Done.
    pub succeeded: usize,
    /// Failed or cancelled.
    pub failed: usize,
}

/// A job: its request, its life so far and its devices.
#[derive(Debug, Clone)]
pub struct Job {
    /// What was asked for.
    pub spec: JobSpec,
    /// When it was accepted.
    pub created: DateTime<Utc>,
    /// Where it is.
    pub status: JobStatus,
    /// When its runner chose its devices and started on them.
    pub run_started: Option<DateTime<Utc>>,
    /// When it finished.
    pub end: Option<DateTime<Utc>>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// A note on how it ended.
    pub status_message: Option<String>,
    /// Its devices, in device-id order, once chosen.
    pub devices: Vec<DeviceJob>,
    /// Rows changed since the job was last saved.
    unsaved: Vec<usize>,
}

impl Job {
    /// A job just accepted.
    pub fn new(spec: JobSpec, now: DateTime<Utc>) -> Self {
        Self {
            spec,
            created: now,
            status: JobStatus::Queued,
            run_started: None,
            end: None,
            failure_reason: None,
            status_message: None,
            devices: Vec::new(),
            unsaved: Vec::new(),
        }
    }

    /// Notes that row `index` changed, so the next save writes it.
    pub fn touch(&mut self, index: usize) {
        self.unsaved.push(index);
    }

    /// Notes that every row changed.
    pub fn touch_all(&mut self) {
        self.unsaved = (0..self.devices.len()).collect();
    }

    /// Whether rows changed since the job was last saved.
    pub fn has_unsaved_rows(&self) -> bool {
        !self.unsaved.is_empty()
    }

    /// The job's document and the rows changed since the last call, for the store.
    pub fn take_unsaved(&mut self) -> (String, Vec<(String, String)>) {
        let mut indexes = std::mem::take(&mut self.unsaved);
        indexes.sort_unstable();
        indexes.dedup();
        let rows = indexes
            .into_iter()
            .filter_map(|index| self.devices.get(index))
            .map(|row| (row.device_id.to_string(), row.document()))
            .collect();
        (self.document(), rows)
    }

    /// Counts of its devices.
    pub fn counts(&self) -> DeviceCounts {
        let mut counts = DeviceCounts {
            devices: self.devices.len(),
            ..DeviceCounts::default()
        };
        for row in &self.devices {
            match row.status {
                DeviceJobStatus::Pending => counts.pending += 1,
                DeviceJobStatus::Running => counts.running += 1,
                DeviceJobStatus::Completed => counts.succeeded += 1,
                DeviceJobStatus::Failed | DeviceJobStatus::Canceled => counts.failed += 1,
            }
        }
        counts
    }

    /// The service API's JobResponse.
    pub fn response(&self) -> Value {
        let counts = self.counts();
        let mut response = self.request_fields();
        let fields = response.as_object_mut();
        if let Some(fields) = fields {
            fields.insert("createdTime".into(), format_timestamp(self.created).into());
            if let Some(end) = self.end {
                fields.insert("endTime".into(), format_timestamp(end).into());
            }
            fields.insert("status".into(), self.status.as_str().into());
            if let Some(reason) = &self.failure_reason {
                fields.insert("failureReason".into(), reason.as_str().into());
            }
            if let Some(message) = &self.status_message {
                fields.insert("statusMessage".into(), message.as_str().into());
            }
            fields.insert(
                "deviceJobStatistics".into(),
                json!({
                    "deviceCount": counts.devices,
                    "failedCount": counts.failed,
                    "succeededCount": counts.succeeded,
                    "runningCount": counts.running,
                    "pendingCount": counts.pending,
                }),
            );
        }
        response
    }

    /// The fields of the request, as JobResponse echoes them.
    fn request_fields(&self) -> Value {
        let spec = &self.spec;
        let mut fields = json!({
            "jobId": spec.job_id,
            "type": spec.kind.type_name(),
            "queryCondition": spec.query_condition,
            "startTime": format_timestamp(spec.start),
            "maxExecutionTimeInSeconds": spec.max_execution_secs,
        });
        if let Some(fields) = fields.as_object_mut() {
            match &spec.kind {
                JobKind::UpdateTwin { patch } => {
                    let mut update = json!({"deviceId": null, "etag": "*"});
                    if let (Some(update), Some(patch)) = (update.as_object_mut(), patch.as_object())
                    {
                        update.extend(patch.clone());
                    }
                    fields.insert("updateTwin".into(), update);
                }
                JobKind::DeviceMethod(method) => {
                    fields.insert("cloudToDeviceMethod".into(), method.to_json());
                }
            }
        }
        fields
    }

    /// The `devices.jobs` row of one of its devices.
    pub fn row(&self, device: &DeviceJob) -> Value {
        let last_update = device.end.or(device.start).unwrap_or(self.created);
        let mut row = json!({
            "deviceId": &*device.device_id,
            "jobId": self.spec.job_id,
            "jobType": self.spec.kind.type_name(),
            "status": device.status.as_str(),
            "startTimeUtc": format_optional_timestamp(device.start),
            "endTimeUtc": format_optional_timestamp(device.end),
            "createdDateTimeUtc": format_timestamp(self.created),
            "lastUpdatedDateTimeUtc": format_timestamp(last_update),
        });
        if let Some(fields) = row.as_object_mut() {
            if device.status == DeviceJobStatus::Completed {
                let response = device.method_response.as_deref().cloned();
                fields.insert(
                    "outcome".into(),
                    json!({"deviceMethodResponse": response.unwrap_or(Value::Null)}),
                );
            }
            if let Some(error) = &device.error {
                fields.insert(
                    "error".into(),
                    json!({"code": error.code, "description": error.description}),
                );
            }
        }
        row
    }

    /// The job's document for the store: its request fields and its life so far.
    pub fn document(&self) -> String {
        let mut document = self.request_fields();
        if let Some(fields) = document.as_object_mut() {
            fields.insert("createdTime".into(), format_timestamp(self.created).into());
            fields.insert("status".into(), self.status.as_str().into());
            let mut optional = |name: &str, value: Option<String>| {
                if let Some(value) = value {
                    fields.insert(name.into(), value.into());
                }
            };
            optional("runStartedTime", self.run_started.map(format_timestamp));
            optional("endTime", self.end.map(format_timestamp));
            optional("failureReason", self.failure_reason.clone());
            optional("statusMessage", self.status_message.clone());
        }
        document.to_string()
    }

    /// Reads a job the store kept; the error says what is damaged.
    pub fn from_document(
        document: &str,
        devices: &[(String, String)],
        read_spec: impl FnOnce(&Value) -> Result<JobSpec, HubError>,
    ) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(document).map_err(|e| format!("its document: {e}"))?;
        let spec = read_spec(&value).map_err(|e| format!("its request: {e}"))?;
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
            match value.get(name) {
                None => Ok(None),
                Some(text) => text
                    .as_str()
                    .and_then(parse_optional_timestamp)
                    .ok_or_else(|| format!("its {name} {text}")),
            }
        };
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let created = time("createdTime")?.ok_or("it has no createdTime")?;
        let status = text("status")
            .as_deref()
            .and_then(JobStatus::parse)
            .ok_or("its status")?;
        let devices = devices
            .iter()
            .map(|(device_id, row)| {
                DeviceJob::from_document(device_id, row)
                    .ok_or_else(|| format!("its row for device '{device_id}'"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            spec,
            created,
            status,
            run_started: time("runStartedTime")?,
            end: time("endTime")?,
            failure_reason: text("failureReason"),
            status_message: text("statusMessage"),
            devices,
            unsaved: Vec::new(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;
    use crate::hub::jobs::request::read_spec;
    use crate::twin::timestamp::parse_timestamp;

    /// A running method job over a, b and c: a answered 200, b failed offline, c pending.
    pub(in crate::hub::jobs) fn method_job() -> Job {
        let now = parse_timestamp("2026-03-01T10:00:00Z").unwrap();
        let body = json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                          "cloudToDeviceMethod": {"methodName": "reboot"}});
        let mut job = Job::new(read_spec("j1", &body, now).unwrap(), now);
        job.status = JobStatus::Running;
        job.run_started = Some(now);
        job.devices = vec![
            DeviceJob::pending("a"),
            DeviceJob::pending("b"),
            DeviceJob::pending("c"),
        ];
        job.devices[0].status = DeviceJobStatus::Completed;
        job.devices[0].start = Some(now);
        job.devices[0].end = Some(now);
        job.devices[0].method_response = Some(Box::new(json!({"status": 200, "payload": [1]})));
        job.devices[1].status = DeviceJobStatus::Failed;
        job.devices[1].error = Some(Box::new(DeviceJobError {
            code: "DeviceNotOnline".into(),
            description: "offline".into(),
        }));
        job
    }

    #[test]
    fn a_job_and_its_rows_survive_their_stored_documents() {
        let mut job = method_job();
        job.touch_all();
        let (document, rows) = job.take_unsaved();
        assert_eq!(rows.len(), 3);
        assert!(!job.has_unsaved_rows());
        let read = Job::from_document(&document, &rows, |value| read_spec("j1", value, Utc::now()))
            .unwrap();
        assert_eq!(read.response(), job.response());
        assert_eq!(read.devices, job.devices);
        assert_eq!(read.run_started, job.run_started);
        let damaged = Job::from_document(&document, &[("a".into(), "{}".into())], |value| {
            read_spec("j1", value, Utc::now())
        });
        assert!(damaged.unwrap_err().contains("device 'a'"));
    }

    #[test]
    fn responses_and_rows_have_azures_shape() {
        let job = method_job();
        let response = job.response();
        assert_eq!(response["status"], "running");
        assert_eq!(response["startTime"], "2026-03-01T10:00:00.0000000Z");
        assert!(response.get("endTime").is_none(), "not finished");
        assert_eq!(
            response["deviceJobStatistics"],
            json!({"deviceCount": 3, "failedCount": 1, "succeededCount": 1,
                   "runningCount": 0, "pendingCount": 1})
        );
        assert_eq!(response["cloudToDeviceMethod"]["methodName"], "reboot");
        let answered = job.row(&job.devices[0]);
        assert_eq!(
            answered["outcome"],
            json!({"deviceMethodResponse": {"status": 200, "payload": [1]}})
        );
        assert_eq!(answered["jobType"], "scheduleDeviceMethod");
        let failed = job.row(&job.devices[1]);
        assert_eq!(
            failed["error"],
            json!({"code": "DeviceNotOnline", "description": "offline"})
        );
        assert!(failed.get("outcome").is_none());
        let pending = job.row(&job.devices[2]);
        assert_eq!(pending["startTimeUtc"], "0001-01-01T00:00:00Z");
        assert_eq!(
            pending["lastUpdatedDateTimeUtc"],
            "2026-03-01T10:00:00.0000000Z"
        );
    }
}
