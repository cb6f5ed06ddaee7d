//! `GET`, `PATCH` and `PUT /twins/{id}`: reading and writing twins from the service
//! side (tags and desired properties; reported properties belong to the device).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::HubState;
use super::extract::{DeviceIdPath, IfMatchHeader, JsonBody};
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::store::{PendingCommit, TwinWrite};
use crate::twin::DesiredChange;

/// Reads a twin.
pub async fn get_twin(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
) -> Result<Response, HubError> {
    Ok(twin_response(state.store.twin(&device_id)?))
}

/// Merges tags and desired properties into a twin.
pub async fn patch_twin(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    IfMatchHeader(if_match): IfMatchHeader,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    write_twin(&state, &device_id, &body, TwinWrite::Patch, if_match).await
}

/// Replaces tags and desired properties of a twin.
pub async fn replace_twin(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    IfMatchHeader(if_match): IfMatchHeader,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    write_twin(&state, &device_id, &body, TwinWrite::Replace, if_match).await
}

/// Writes the twin and answers once the write is durable.
async fn write_twin(
    state: &HubState,
    device_id: &str,
    body: &Value,
    mode: TwinWrite,
    if_match: Option<crate::hub::store::IfMatch>,
) -> Result<Response, HubError> {
    let written =
        state
            .store
            .write_twin(device_id, body, mode, if_match.as_ref(), chrono::Utc::now())?;
    answer_written(state, device_id, written).await
}

/// Answers a service write of the twin of `client` (a device id, or a module's client
/// key) with the new twin, once the write is durable.
pub(super) async fn answer_written(
    state: &HubState,
    client: &str,
    (twin, desired_change, pending): (Value, Option<DesiredChange>, PendingCommit),
) -> Result<Response, HubError> {
    pending.durable().await?;
    Activity::count(&state.activity.twin_writes);
    if let Some(change) = desired_change {
        tracing::debug!(
            client,
            version = change.version,
            "desired properties changed"
        );
    }
    Ok(twin_response(twin))
}

/// A twin, with its etag in the `ETag` header.
pub(super) fn twin_response(twin: Value) -> Response {
    match twin.get("etag").and_then(Value::as_str).map(str::to_owned) {
        Some(etag) => super::devices::etagged(Json(twin), &etag),
        None => Json(twin).into_response(),
    }
}
