//! `PUT /jobs/v2/{id}`'s body (a JobRequest) read into a [`JobSpec`], with Azure's
//! rules: the two job types a client may schedule, `updateTwin` as a forced update
//! (etag `*`), `queryCondition` as the WHERE part of a device query (or `*`), and a
//! start time and maximum execution time that may be left out but not null.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::job::{DEVICE_METHOD, JobKind, JobSpec, UPDATE_TWIN};
use crate::hub::error::HubError;
use crate::hub::method_request::MethodRequest;
use crate::query::{self, Query};
use crate::twin::Twin;
use crate::twin::timestamp::parse_timestamp;

/// How long a job may run when the request does not say (as the SDKs default it).
pub const DEFAULT_MAX_EXECUTION_SECS: u64 = 3600;

/// Reads a JobRequest for the job `job_id` (from the path), at `now`.
pub fn read_spec(job_id: &str, body: &Value, now: DateTime<Utc>) -> Result<JobSpec, HubError> {
    check_job_id(job_id)?;
    if !body.is_object() {
        return Err(invalid(
            "The body must be a JobRequest object: {\"jobId\", \"type\", \"queryCondition\", ...}",
        ));
    }
    match body.get("jobId") {
        None | Some(Value::Null) => {}
        Some(Value::String(given)) if given == job_id => {}
        // The Node.js SDK types job ids as string or number.
        Some(Value::Number(given)) if given.to_string() == job_id => {}
        Some(given) => {
            return Err(invalid(&format!(
                "The body's jobId {given} differs from the job id '{job_id}' in the path"
            )));
        }
    }
    let kind = match body.get("type").and_then(Value::as_str) {
        Some(UPDATE_TWIN) => JobKind::UpdateTwin {
            patch: twin_patch(body.get("updateTwin"), now)?,
        },
        Some(DEVICE_METHOD) => {
            let method = body.get("cloudToDeviceMethod").ok_or_else(|| {
                invalid("A scheduleDeviceMethod job needs cloudToDeviceMethod: {\"methodName\", \"payload\", \"responseTimeoutInSeconds\"}")
            })?;
            JobKind::DeviceMethod(MethodRequest::from_body(method)?)
        }
        other => {
            return Err(invalid(&format!(
                "The job type {} is not one this API schedules: use {UPDATE_TWIN} or \
                 {DEVICE_METHOD}",
                other.map_or_else(|| "(missing)".to_owned(), |t| format!("'{t}'"))
            )));
        }
    };
    let query_condition = body
        .get("queryCondition")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|condition| !condition.is_empty())
        .ok_or_else(|| {
            invalid(
                "queryCondition is required: the WHERE part of a device query, such as \
                 \"deviceId IN ['a', 'b']\" or \"tags.site = 'north'\", or \"*\" for every device",
            )
        })?
        .to_owned();
    device_query(&query_condition)?;
    let start = match body.get("startTime") {
        None => now,
        Some(Value::String(text)) => parse_timestamp(text).ok_or_else(|| {
            invalid(&format!(
                "startTime '{text}' is not a time; send an ISO 8601 UTC time such as \
                 2026-01-31T08:00:00Z, or leave it out to start now"
            ))
        })?,
        Some(other) => {
            return Err(invalid(&format!(
                "startTime is {other}; send an ISO 8601 UTC time, or leave it out to start now"
            )));
        }
    };
    let max_execution_secs = match body.get("maxExecutionTimeInSeconds") {
        None => DEFAULT_MAX_EXECUTION_SECS,
        Some(value) => value.as_u64().filter(|secs| *secs > 0).ok_or_else(|| {
            invalid(&format!(
                "maxExecutionTimeInSeconds is {value}; it must be a whole number of seconds \
                 above 0, or left out for {DEFAULT_MAX_EXECUTION_SECS}"
            ))
        })?,
    };
    Ok(JobSpec {
        job_id: job_id.to_owned(),
        kind,
        query_condition,
        start,
        max_execution_secs,
    })
}

/// The device query a job's condition stands for.
pub fn device_query(condition: &str) -> Result<Query, HubError> {
    let condition = condition.trim();
    let first_word = condition.split_whitespace().next().unwrap_or_default();
    if first_word.eq_ignore_ascii_case("SELECT") {
        return Err(invalid(
            "queryCondition is only the WHERE part of the query: send \"deviceId = 'd1'\" \
             rather than \"SELECT * FROM devices WHERE deviceId = 'd1'\", or \"*\" for every \
             device",
        ));
    }
    let text = if condition == "*" {
        "SELECT * FROM devices".to_owned()
    } else {
        format!("SELECT * FROM devices WHERE {condition}")
    };
    query::parse(&text).map_err(|e| {
        HubError::QueryInvalid(format!(
            "queryCondition is not a valid condition: {e}\n{}",
            e.caret_lines(&text)
        ))
    })
}

/// The twin PATCH body of an `updateTwin`: its tags and desired properties.
fn twin_patch(update: Option<&Value>, now: DateTime<Utc>) -> Result<Value, HubError> {
    let update = update.and_then(Value::as_object).ok_or_else(|| {
        invalid(
            "A scheduleUpdateTwin job needs updateTwin: {\"etag\": \"*\", \"tags\": {...}, \
             \"properties\": {\"desired\": {...}}}",
        )
    })?;
    match update.get("etag") {
        None | Some(Value::Null) => {}
        Some(Value::String(etag)) if etag.trim().trim_matches('"') == "*" => {}
        Some(other) => {
            return Err(invalid(&format!(
                "updateTwin.etag is {other}: a scheduleUpdateTwin job is a forced update and \
                 takes only \"*\""
            )));
        }
    }
    let properties = update.get("properties");
    if properties.is_some_and(|properties| !properties.is_object() && !properties.is_null()) {
        return Err(invalid("updateTwin.properties must be an object"));
    }
    let section = |name: &str| properties.and_then(|properties| properties.get(name));
    if section("reported")
        .is_some_and(|reported| reported.as_object().is_some_and(|r| !r.is_empty()))
    {
        return Err(invalid(
            "updateTwin.properties.reported is written by devices only; a job may set tags \
             and desired properties",
        ));
    }
    let mut patch = Map::new();
    if let Some(tags) = update.get("tags").filter(|tags| !tags.is_null()) {
        patch.insert("tags".into(), tags.clone());
    }
    if let Some(desired) = section("desired").filter(|desired| !desired.is_null()) {
        patch.insert(
            "properties".into(),
            Value::Object(Map::from_iter([("desired".to_owned(), desired.clone())])),
        );
    }
    let patch = Value::Object(patch);
    // The patch must be one a twin accepts, and must change something.
    let change = Twin::new("job", now).apply_service_patch(&patch, now)?;
    let sets_tags = patch
        .get("tags")
        .and_then(Value::as_object)
        .is_some_and(|tags| !tags.is_empty());
    if change.is_none() && !sets_tags {
        return Err(invalid(
            "updateTwin sets nothing: give it tags or properties.desired to write",
        ));
    }
    Ok(patch)
}

/// Job ids follow the rules of device ids.
fn check_job_id(job_id: &str) -> Result<(), HubError> {
    crate::auth::check_id(job_id)
        .map_err(|problem| invalid(&format!("The job id is not valid: {problem}")))
}

fn invalid(message: &str) -> HubError {
    HubError::ArgumentInvalid(message.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_timestamp("2026-03-01T10:00:00Z").unwrap()
    }

    fn code(job_id: &str, body: Value) -> u32 {
        read_spec(job_id, &body, now()).unwrap_err().error_code()
    }

    #[test]
    fn a_twin_job_keeps_tags_and_desired_and_fills_in_defaults() {
        let body = json!({
            "jobId": "j1", "type": "scheduleUpdateTwin", "queryCondition": "*",
            "updateTwin": {"etag": "*", "deviceId": null, "tags": {"site": "north"},
                           "properties": {"desired": {"rate": 5}, "reported": {}}},
        });
        let spec = read_spec("j1", &body, now()).unwrap();
        assert_eq!(
            spec.kind,
            JobKind::UpdateTwin {
                patch: json!({"tags": {"site": "north"}, "properties": {"desired": {"rate": 5}}})
            }
        );
        assert_eq!(spec.start, now());
        assert_eq!(spec.max_execution_secs, DEFAULT_MAX_EXECUTION_SECS);
        assert_eq!(spec.query_condition, "*");
    }

    #[test]
    fn a_method_job_reads_its_call_and_times() {
        let body = json!({
            "jobId": 42, "type": "scheduleDeviceMethod",
            "cloudToDeviceMethod": {"methodName": "reboot", "payload": {"in": 1}},
            "queryCondition": "deviceId IN ['a', 'b']",
            "startTime": "2026-03-01T11:00:00.123Z", "maxExecutionTimeInSeconds": 60,
        });
        let spec = read_spec("42", &body, now()).unwrap();
        let JobKind::DeviceMethod(method) = &spec.kind else {
            panic!("{:?}", spec.kind)
        };
        assert_eq!(method.name, "reboot");
        assert_eq!(spec.max_execution_secs, 60);
        assert_eq!(
            spec.start,
            parse_timestamp("2026-03-01T11:00:00.123Z").unwrap()
        );
    }

    #[test]
    fn bad_requests_are_refused_with_argument_invalid() {
        let twin = |update: Value| json!({"type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": update});
        let method = json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                            "cloudToDeviceMethod": {"methodName": "m"}});
        let with = |mut body: Value, field: &str, value: Value| {
            body[field] = value;
            body
        };
        let desired = json!({"properties": {"desired": {"a": 1}}});
        for (job_id, body) in [
            ("bad/id", method.clone()),
            ("j", with(method.clone(), "jobId", json!("other"))),
            (
                "j",
                with(method.clone(), "type", json!("scheduleTwinUpdate")),
            ),
            ("j", with(method.clone(), "type", Value::Null)),
            ("j", with(method.clone(), "queryCondition", json!(""))),
            ("j", with(method.clone(), "queryCondition", Value::Null)),
            (
                "j",
                with(
                    method.clone(),
                    "queryCondition",
                    json!("SELECT * FROM devices"),
                ),
            ),
            (
                "j",
                with(method.clone(), "queryCondition", json!("deviceId =")),
            ),
            ("j", with(method.clone(), "startTime", Value::Null)),
            ("j", with(method.clone(), "startTime", json!("tomorrow"))),
            (
                "j",
                with(method.clone(), "maxExecutionTimeInSeconds", Value::Null),
            ),
            (
                "j",
                with(method.clone(), "maxExecutionTimeInSeconds", json!(0)),
            ),
            (
                "j",
                with(method.clone(), "cloudToDeviceMethod", Value::Null),
            ),
            ("j", with(method.clone(), "cloudToDeviceMethod", json!({}))),
            (
                "j",
                twin(json!({"etag": "AAAAAAAAAAE=", "properties": desired["properties"]})),
            ),
            ("j", twin(json!({"etag": "*"}))),
            ("j", twin(json!({"etag": "*", "desired": {"a": 1}}))),
            ("j", twin(json!({"properties": {"reported": {"a": 1}}}))),
            ("j", twin(json!({"properties": "x"}))),
            ("j", twin(Value::Null)),
            ("j", json!([])),
        ] {
            assert_eq!(code(job_id, body.clone()), 400004, "{job_id} {body}");
        }
        assert!(read_spec("j", &twin(desired), now()).is_ok());
        // A patch a twin refuses is refused with the twin's own error code.
        let bad_name = twin(json!({"properties": {"desired": {"a b$": 1}}}));
        assert_eq!(code("j", bad_name) / 1000, 400);
    }

    #[test]
    fn conditions_become_device_queries() {
        assert_eq!(device_query("*").unwrap().text(), "SELECT * FROM devices");
        assert_eq!(
            device_query(" tags.site = 'n' ").unwrap().text(),
            "SELECT * FROM devices WHERE tags.site = 'n'"
        );
    }
}
