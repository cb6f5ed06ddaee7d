//! Bulk changes as hub jobs: "Update twins…" (a tags and desired patch) and "Call method
//! on all…" over the device list's query or the marked devices. Owns the form (what the
//! user typed, checked into a [`JobWork`]), the job's condition, the job as the hub
//! last reported it with its per-device results, and the results as a file. Free of
//! egui and of I/O: the worker schedules, polls and cancels.

use std::time::Duration;

use serde_json::{Map, Value};

use super::request::JobId;
use crate::query::{self, Source, string_literal};
use crate::service::{DeviceJobResult, Job, JobWork};

/// Azure's allowed response timeouts for a direct method, in seconds.
pub const RESPONSE_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 5..=300;

/// What a bulk job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkKind {
    /// Merge tags and desired properties into every twin.
    UpdateTwins,
    /// Call a direct method on every device.
    CallMethod,
}

impl BulkKind {
    /// The dialog's title.
    pub fn title(self) -> &'static str {
        match self {
            BulkKind::UpdateTwins => "Update twins",
            BulkKind::CallMethod => "Call method on all",
        }
    }
}

/// Which devices a bulk job works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkTarget {
    /// Every device the device list's query selects.
    Query(String),
    /// These devices (marked in the list).
    Devices(Vec<String>),
}

impl BulkTarget {
    /// The job's `queryCondition`: the query's WHERE part (or `*` without one), or an
    /// `IN` list of the devices. The error says why the query cannot choose a job's
    /// devices.
    pub fn condition(&self) -> Result<String, String> {
        match self {
            BulkTarget::Devices(ids) if ids.is_empty() => {
                Err("no devices are marked; Ctrl+click devices in the list first".into())
            }
            BulkTarget::Devices(ids) => {
                let listed: Vec<String> = ids.iter().map(|id| string_literal(id)).collect();
                Ok(format!("deviceId IN [{}]", listed.join(", ")))
            }
            BulkTarget::Query(text) => {
                let parsed = query::parse(text)
                    .map_err(|e| format!("the query is not valid: {e}; fix it in the query bar"))?;
                if parsed.source() != Source::Devices {
                    return Err(
                        "jobs work on device twins: use a query FROM devices in the query bar"
                            .into(),
                    );
                }
                if parsed.is_aggregate() || parsed.top().is_some() {
                    return Err(
                        "a job takes every device its condition matches: remove TOP, \
                                aggregates and GROUP BY from the query"
                            .into(),
                    );
                }
                Ok(parsed.condition_text().unwrap_or_else(|| "*".to_owned()))
            }
        }
    }

    /// The query that counts the devices the job will choose, for the preview.
    pub fn count_query(&self) -> Result<String, String> {
        let condition = self.condition()?;
        Ok(if condition == "*" {
            "SELECT * FROM devices".to_owned()
        } else {
            format!("SELECT * FROM devices WHERE {condition}")
        })
    }

    /// The target in words.
    pub fn describe(&self) -> String {
        match self {
            BulkTarget::Query(text) => format!("the devices of the query {text}"),
            BulkTarget::Devices(ids) => format!("{} marked device(s)", ids.len()),
        }
    }
}

/// What the user typed in the bulk dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkForm {
    /// What the job does.
    pub kind: BulkKind,
    /// `{"tags": {...}, "properties": {"desired": {...}}}` for a twin update.
    pub patch: String,
    /// The method to call.
    pub method: String,
    /// Its JSON payload (empty: null).
    pub payload: String,
    /// Seconds each device has to answer.
    pub response_timeout_secs: u64,
}

impl BulkForm {
    /// A fresh form for `kind`, with a patch skeleton to fill in.
    pub fn new(kind: BulkKind) -> Self {
        Self {
            kind,
            patch: "{\n  \"tags\": {},\n  \"properties\": {\n    \"desired\": {}\n  }\n}".into(),
            method: String::new(),
            payload: "{}".into(),
            response_timeout_secs: 30,
        }
    }

    /// The job the form describes, or what is wrong with it.
    pub fn work(&self) -> Result<JobWork, String> {
        match self.kind {
            BulkKind::UpdateTwins => patch_work(&self.patch),
            BulkKind::CallMethod => {
                let name = self.method.trim();
                if name.is_empty() {
                    return Err("name the method to call, e.g. reboot".into());
                }
                let payload = if self.payload.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&self.payload)
                        .map_err(|e| format!("the payload is not JSON: {e}"))?
                };
                if !RESPONSE_TIMEOUT_SECS.contains(&self.response_timeout_secs) {
                    return Err(format!(
                        "the response timeout must be {} to {} seconds",
                        RESPONSE_TIMEOUT_SECS.start(),
                        RESPONSE_TIMEOUT_SECS.end()
                    ));
                }
                Ok(JobWork::CallMethod {
                    name: name.to_owned(),
                    payload,
                    response_timeout: Duration::from_secs(self.response_timeout_secs),
                })
            }
        }
    }
}

/// Reads a twin-update patch: an object with `tags` and/or `properties.desired`, each
/// an object a twin accepts, and something to set.
fn patch_work(text: &str) -> Result<JobWork, String> {
    let patch: Value =
        serde_json::from_str(text).map_err(|e| format!("the patch is not JSON: {e}"))?;
    let Value::Object(fields) = &patch else {
        return Err(
            "the patch must be an object: {\"tags\": {...}, \"properties\": {\"desired\": {...}}}"
                .into(),
        );
    };
    if let Some(other) = fields
        .keys()
        .find(|key| *key != "tags" && *key != "properties")
    {
        return Err(format!(
            "the patch may set tags and properties.desired only, not {other}"
        ));
    }
    let section =
        |value: Option<&Value>, name: &str| -> Result<Option<Map<String, Value>>, String> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(members)) if members.is_empty() => Ok(None),
                Some(Value::Object(members)) => Ok(Some(members.clone())),
                Some(_) => Err(format!("{name} must be an object")),
            }
        };
    let properties = fields.get("properties");
    if let Some(Value::Object(sections)) = properties
        && let Some(other) = sections.keys().find(|key| *key != "desired")
    {
        return Err(format!(
            "a job writes desired properties only, not properties.{other}"
        ));
    }
    let tags = section(fields.get("tags"), "tags")?;
    let desired = match properties {
        None | Some(Value::Null) => None,
        Some(Value::Object(sections)) => section(sections.get("desired"), "properties.desired")?,
        Some(_) => return Err("properties must be an object".into()),
    };
    if tags.is_none() && desired.is_none() {
        return Err("the patch sets nothing: add tags or desired properties".into());
    }
    // The twin rules (names, depth, sizes) are the hub's to enforce; check them here
    // too, so a mistake shows before the job is scheduled.
    let mut body = Map::new();
    if let Some(tags) = &tags {
        body.insert("tags".into(), Value::Object(tags.clone()));
    }
    if let Some(desired) = &desired {
        let mut sections = Map::new();
        sections.insert("desired".into(), Value::Object(desired.clone()));
        body.insert("properties".into(), Value::Object(sections));
    }
    let now = chrono::Utc::now();
    crate::twin::Twin::new("preview", now)
        .apply_service_patch(&Value::Object(body), now)
        .map_err(|e| format!("a twin would refuse the patch: {e}"))?;
    Ok(JobWork::UpdateTwin { tags, desired })
}

/// A bulk job the explorer scheduled, as the hub last reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkJob {
    /// The hub's job id.
    pub job_id: String,
    /// What it does.
    pub kind: BulkKind,
    /// The job as last read (status, statistics).
    pub job: Option<Job>,
    /// What it did on each device, once read after it finished.
    pub results: Option<Vec<DeviceJobResult>>,
    /// The poll, cancel or results read in flight.
    pub in_flight: Option<JobId>,
    /// The last error reading or cancelling it.
    pub error: Option<String>,
}

impl BulkJob {
    /// A job just accepted by the hub.
    pub fn accepted(kind: BulkKind, job: Job) -> Self {
        Self {
            job_id: job.job_id.clone(),
            kind,
            job: Some(job),
            results: None,
            in_flight: None,
            error: None,
        }
    }

    /// Whether the hub says it ended.
    pub fn is_finished(&self) -> bool {
        self.job.as_ref().is_some_and(Job::is_finished)
    }

    /// Done (succeeded or failed) and all devices, for the progress bar; `None` until
    /// the job has chosen its devices.
    pub fn progress(&self) -> Option<(u64, u64)> {
        let statistics = self.job.as_ref()?.device_job_statistics?;
        let done = statistics.succeeded_count + statistics.failed_count;
        Some((done, statistics.device_count))
    }

    /// The status line: "running: 120 of 400 done (3 failed)".
    pub fn status_line(&self) -> String {
        let Some(job) = &self.job else {
            return "scheduling…".into();
        };
        let counts = job.device_job_statistics.unwrap_or_default();
        let mut line = format!(
            "{}: {} succeeded, {} failed, {} pending of {} device(s)",
            job.status,
            counts.succeeded_count,
            counts.failed_count,
            counts.pending_count + counts.running_count,
            counts.device_count
        );
        if let Some(reason) = &job.failure_reason {
            line.push_str(&format!(" — {reason}"));
        }
        line
    }
}

/// One result as the results table shows it: device, status, answer or error.
pub fn result_cells(result: &DeviceJobResult) -> [String; 3] {
    let detail = match (&result.error, result.method_response()) {
        (Some(error), _) => format!("{}: {}", error.code, error.description),
        (None, Some(response)) => format!("{} {}", response.status, response.payload),
        (None, None) => String::new(),
    };
    [result.device_id.clone(), result.status.clone(), detail]
}

/// The results as a file: CSV (one line per device: id, status, start, end, method
/// status, method payload, error code, error description), or a JSON array of the rows
/// when `json`.
pub fn results_file(results: &[DeviceJobResult], json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(results).unwrap_or_default();
    }
    let mut text = String::from(
        "deviceId,status,startTimeUtc,endTimeUtc,methodStatus,methodPayload,errorCode,errorDescription\n",
    );
    for result in results {
        let response = result.method_response();
        let cells = [
            result.device_id.clone(),
            result.status.clone(),
            result.start_time_utc.clone().unwrap_or_default(),
            result.end_time_utc.clone().unwrap_or_default(),
            response
                .as_ref()
                .map(|r| r.status.to_string())
                .unwrap_or_default(),
            response.map(|r| r.payload.to_string()).unwrap_or_default(),
            result
                .error
                .as_ref()
                .map(|e| e.code.clone())
                .unwrap_or_default(),
            result
                .error
                .as_ref()
                .map(|e| e.description.clone())
                .unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
        text.push_str(&line.join(","));
        text.push('\n');
    }
    text
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::service::DeviceJobError;
    use serde_json::json;

    #[test]
    fn targets_become_conditions() {
        let query = |text: &str| BulkTarget::Query(text.into()).condition();
        assert_eq!(query("SELECT * FROM devices").unwrap(), "*");
        assert_eq!(
            query("SELECT deviceId FROM devices WHERE tags.site = 'n'").unwrap(),
            "tags.site = 'n'"
        );
        assert!(query("SELECT * FROM devices.modules").is_err());
        assert!(query("SELECT TOP 5 * FROM devices").is_err());
        assert!(query("SELECT COUNT() AS n FROM devices").is_err());
        assert!(query("SELECT * FROM").is_err());
        let marked = BulkTarget::Devices(vec!["a".into(), "it's".into()]);
        assert_eq!(marked.condition().unwrap(), r"deviceId IN ['a', 'it\'s']");
        assert!(BulkTarget::Devices(Vec::new()).condition().is_err());
        assert_eq!(
            BulkTarget::Query("SELECT * FROM devices WHERE a = 1".into())
                .count_query()
                .unwrap(),
            "SELECT * FROM devices WHERE a = 1"
        );
    }

    #[test]
    fn the_form_checks_patches_and_method_calls() {
        let mut form = BulkForm::new(BulkKind::UpdateTwins);
        assert!(
            form.work().unwrap_err().contains("sets nothing"),
            "the skeleton"
        );
        form.patch = r#"{"tags": {"site": "n"}, "properties": {"desired": {"rate": 5}}}"#.into();
        assert_eq!(
            form.work().unwrap(),
            JobWork::UpdateTwin {
                tags: json!({"site": "n"}).as_object().cloned(),
                desired: json!({"rate": 5}).as_object().cloned(),
            }
        );
        for bad in [
            "nope",
            "[]",
            r#"{"deviceId": "x"}"#,
            r#"{"properties": {"reported": {"a": 1}}}"#,
            r#"{"tags": 5}"#,
            r#"{"properties": {"desired": {"bad.name": 1}}}"#,
        ] {
            form.patch = bad.into();
            assert!(form.work().is_err(), "{bad}");
        }
        let mut form = BulkForm::new(BulkKind::CallMethod);
        assert!(form.work().is_err(), "no method name");
        form.method = "reboot".into();
        form.payload = String::new();
        assert!(matches!(
            form.work().unwrap(),
            JobWork::CallMethod {
                payload: Value::Null,
                ..
            }
        ));
        form.payload = "{".into();
        assert!(form.work().is_err());
        form.payload = "{}".into();
        form.response_timeout_secs = 2;
        assert!(form.work().is_err());
    }

    #[test]
    fn results_are_written_as_csv_or_json() {
        let results = vec![
            DeviceJobResult {
                device_id: "a".into(),
                status: "completed".into(),
                outcome: Some(
                    json!({"deviceMethodResponse": {"status": 200, "payload": {"x": "1,2"}}}),
                ),
                ..DeviceJobResult::default()
            },
            DeviceJobResult {
                device_id: "b".into(),
                status: "failed".into(),
                error: Some(DeviceJobError {
                    code: "DeviceNotOnline".into(),
                    description: "offline".into(),
                }),
                ..DeviceJobResult::default()
            },
        ];
        let csv = results_file(&results, false);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], r#"a,completed,,,200,"{""x"":""1,2""}",,"#);
        assert_eq!(lines[2], "b,failed,,,,,DeviceNotOnline,offline");
        let json: Value = serde_json::from_str(&results_file(&results, true)).unwrap();
        assert_eq!(json[1]["error"]["code"], "DeviceNotOnline");
        assert_eq!(result_cells(&results[0])[2], r#"200 {"x":"1,2"}"#);
    }
}
