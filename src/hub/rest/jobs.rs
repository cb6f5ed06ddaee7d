//! `/jobs/v2`: schedule a twin-update or direct-method job (`PUT /jobs/v2/{id}`), read
//! it (`GET`), cancel it (`POST .../cancel`) and list jobs by type and status
//! (`GET /jobs/v2/query`, paged like queries).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::HubState;
use super::extract::{JobIdPath, JsonBody};
use super::query::{continuation, page_response, page_size};
use crate::hub::error::HubError;
use crate::hub::store::{PageCursor, QueryPage};

/// Schedules a job; answers its JobResponse, status `queued`.
pub async fn create_job(
    State(state): State<HubState>,
    JobIdPath(job_id): JobIdPath,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, HubError> {
    let response = state.jobs.create(&job_id, &body).await?;
    tracing::info!(job_id, "job scheduled");
    Ok(Json(response))
}

/// A job's JobResponse, with its device statistics.
pub async fn get_job(
    State(state): State<HubState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<Json<Value>, HubError> {
    state.jobs.get(&job_id).map(Json)
}

/// Cancels a job that has not finished.
pub async fn cancel_job(
    State(state): State<HubState>,
    JobIdPath(job_id): JobIdPath,
) -> Result<Json<Value>, HubError> {
    let response = state.jobs.cancel(&job_id).await?;
    tracing::info!(job_id, "job cancelled");
    Ok(Json(response))
}

/// The filters of `GET /jobs/v2/query`.
#[derive(Debug, Deserialize)]
pub struct JobFilter {
    #[serde(rename = "jobType")]
    job_type: Option<String>,
    #[serde(rename = "jobStatus")]
    job_status: Option<String>,
}

/// Lists jobs, oldest first, a page at a time.
pub async fn query_jobs(
    State(state): State<HubState>,
    headers: HeaderMap,
    filter: Result<Query<JobFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, HubError> {
    let Query(filter) = filter.map_err(|rejection| {
        HubError::ArgumentInvalid(format!(
            "The jobType and jobStatus filters cannot be read: {}",
            rejection.body_text()
        ))
    })?;
    let blank_is_none = |text: Option<String>| text.filter(|text| !text.is_empty());
    let jobs = state.jobs.list(
        blank_is_none(filter.job_type).as_deref(),
        blank_is_none(filter.job_status).as_deref(),
    )?;
    let take = page_size(&headers)?;
    let skip = match continuation(&headers)? {
        None => 0,
        Some(PageCursor::Offset(skip)) => skip,
        Some(PageCursor::AfterDevice { .. }) => {
            return Err(HubError::ArgumentInvalid(
                "The x-ms-continuation token belongs to a device query; list jobs again \
                 without it"
                    .into(),
            ));
        }
    };
    let more = jobs.len() > skip.saturating_add(take);
    let rows = jobs.into_iter().skip(skip).take(take).collect();
    let page = QueryPage {
        rows,
        next: more.then(|| PageCursor::Offset(skip + take)),
    };
    Ok(page_response(page, "jobResponse"))
}
