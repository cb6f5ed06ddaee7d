//! A `devices.jobs` row read in place by the query engine: the job and one of its
//! devices seen as the row's JSON (`deviceId`, `jobId`, `jobType`, `status`, the four
//! times, `outcome`, `error`) without building it, so a `WHERE` over every device of
//! every job allocates nothing but the times it compares. [`Job::row`] builds the same
//! row as JSON for the rows a page returns; a test keeps the two in step.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::job::{DeviceJob, DeviceJobStatus, Job};
use crate::query::{Document, Member, View};
use crate::twin::timestamp::format_optional_timestamp;

/// A place in a `devices.jobs` row.
#[derive(Clone, Copy)]
pub enum RowView<'a> {
    /// The row itself.
    Root(&'a Job, &'a DeviceJob),
    /// A text member.
    Text(&'a str),
    /// A time member (unset prints as IoT Hub's year-1 time).
    Time(Option<DateTime<Utc>>),
    /// `outcome` of a completed device.
    Outcome(&'a DeviceJob),
    /// `error` of a failed device.
    Error(&'a DeviceJob),
    /// JSON inside the outcome (the method's answer).
    Json(&'a Value),
    /// `null`.
    Null,
}

impl<'a> RowView<'a> {
    fn root_member(job: &'a Job, device: &'a DeviceJob, name: Member<'_>) -> Option<Self> {
        let last_update = device.end.or(device.start).unwrap_or(job.created);
        Some(if name.is("deviceId") {
            RowView::Text(&device.device_id)
        } else if name.is("jobId") {
            RowView::Text(&job.spec.job_id)
        } else if name.is("jobType") {
            RowView::Text(job.spec.kind.type_name())
        } else if name.is("status") {
            RowView::Text(device.status.as_str())
        } else if name.is("startTimeUtc") {
            RowView::Time(device.start)
        } else if name.is("endTimeUtc") {
            RowView::Time(device.end)
        } else if name.is("createdDateTimeUtc") {
            RowView::Time(Some(job.created))
        } else if name.is("lastUpdatedDateTimeUtc") {
            RowView::Time(Some(last_update))
        } else if name.is("outcome") && device.status == DeviceJobStatus::Completed {
            RowView::Outcome(device)
        } else if name.is("error") && device.error.is_some() {
            RowView::Error(device)
        } else {
            return None;
        })
    }
}

impl<'a> Document<'a> for RowView<'a> {
    fn view(self) -> View<'a> {
        match self {
            RowView::Root(..) | RowView::Outcome(_) | RowView::Error(_) => View::Object,
            RowView::Text(text) => View::Text(Cow::Borrowed(text)),
            RowView::Time(time) => View::Text(Cow::Owned(format_optional_timestamp(time))),
            RowView::Json(value) => value.view(),
            RowView::Null => View::Null,
        }
    }

    fn member(self, name: Member<'_>) -> Option<Self> {
        match self {
            RowView::Root(job, device) => RowView::root_member(job, device, name),
            RowView::Outcome(device) if name.is("deviceMethodResponse") => Some(
                device
                    .method_response
                    .as_deref()
                    .map_or(RowView::Null, RowView::Json),
            ),
            RowView::Error(device) => {
                let error = device.error.as_deref()?;
                if name.is("code") {
                    Some(RowView::Text(&error.code))
                } else if name.is("description") {
                    Some(RowView::Text(&error.description))
                } else {
                    None
                }
            }
            RowView::Json(value) => value.member(name).map(RowView::Json),
            _ => None,
        }
    }

    fn item(self, index: usize) -> Option<Self> {
        match self {
            RowView::Json(value) => value.item(index).map(RowView::Json),
            _ => None,
        }
    }

    fn to_json(self) -> Value {
        match self {
            RowView::Root(job, device) => job.row(device),
            RowView::Text(text) => Value::from(text),
            RowView::Time(time) => Value::from(format_optional_timestamp(time)),
            RowView::Outcome(device) => serde_json::json!({
                "deviceMethodResponse": device.method_response.as_deref().cloned().unwrap_or(Value::Null)
            }),
            RowView::Error(device) => device.error.as_deref().map_or(
                Value::Null,
                |error| serde_json::json!({"code": error.code, "description": error.description}),
            ),
            RowView::Json(value) => value.clone(),
            RowView::Null => Value::Null,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hub::jobs::job::tests::method_job;

    #[test]
    fn the_view_matches_exactly_what_the_json_row_matches() {
        let job = method_job();
        for condition in [
            "",
            "WHERE devices.jobs.jobId = 'j1'",
            "WHERE JobId = 'j1' AND status = 'failed'",
            "WHERE deviceId IN ['a', 'c']",
            "WHERE jobType = 'scheduleDeviceMethod'",
            "WHERE outcome.deviceMethodResponse.status = 200",
            "WHERE outcome.deviceMethodResponse.payload[0] = 1",
            "WHERE error.code = 'DeviceNotOnline'",
            "WHERE IS_DEFINED(error)",
            "WHERE NOT IS_DEFINED(outcome)",
            "WHERE startTimeUtc > '2026-01-01'",
            "WHERE endTimeUtc = '0001-01-01T00:00:00Z'",
            "WHERE lastUpdatedDateTimeUtc >= createdDateTimeUtc",
            "WHERE noSuchField = 1",
        ] {
            let query =
                crate::query::parse(&format!("SELECT * FROM devices.jobs {condition}")).unwrap();
            for device in &job.devices {
                let row = job.row(device);
                assert_eq!(
                    query.matches(RowView::Root(&job, device)),
                    query.matches(&row),
                    "{condition} on {row}"
                );
                assert_eq!(RowView::Root(&job, device).to_json(), row);
            }
        }
        let matching = |condition: &str| {
            let query =
                crate::query::parse(&format!("SELECT * FROM devices.jobs WHERE {condition}"))
                    .unwrap();
            job.devices
                .iter()
                .filter(|device| query.matches(RowView::Root(&job, device)))
                .count()
        };
        assert_eq!(matching("status = 'failed'"), 1);
        assert_eq!(matching("outcome.deviceMethodResponse.payload[0] = 1"), 1);
        assert_eq!(matching("jobId = 'j1'"), 3);
        assert_eq!(matching("startTimeUtc > '2026-01-01'"), 1);
    }
}
