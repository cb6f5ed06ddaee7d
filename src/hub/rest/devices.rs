//! `GET`, `PUT` and `DELETE /devices/{id}`: the identity registry.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header::ETAG};
use axum::response::{IntoResponse, Response};

use super::HubState;
use super::extract::{DeviceIdPath, IfMatchHeader, JsonBody};
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::identity::DeviceIdentity;

/// Reads a device identity.
pub async fn get_device(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
) -> Result<Response, HubError> {
    Ok(identity_response(state.store.device(&device_id)?))
}

/// Creates a device (no `If-Match`) or updates it (`If-Match: *` or its etag).
pub async fn put_device(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    IfMatchHeader(if_match): IfMatchHeader,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    let (identity, pending) =
        state
            .store
            .put_device(&device_id, &body, if_match.as_ref(), chrono::Utc::now())?;
    pending.durable().await?;
    if identity.status != "enabled" {
        state.sessions.revoke(&device_id);
    }
    Activity::count(&state.activity.identity_writes);
    tracing::debug!(device_id, "device written");
    Ok(identity_response(identity))
}

/// Deletes a device.
pub async fn delete_device(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    IfMatchHeader(if_match): IfMatchHeader,
) -> Result<StatusCode, HubError> {
    state
        .store
        .delete_device(&device_id, if_match.as_ref())?
        .durable()
        .await?;
    state.sessions.forget(&device_id);
    state.telemetry.forget(&device_id);
    Activity::count(&state.activity.identity_writes);
    tracing::debug!(device_id, "device deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /twinlens/devices/{id}/telemetry`, local to this hub (Azure has no such
/// route): how many messages the device sent since the hub started and the most
/// recent ones, oldest first.
pub async fn get_telemetry(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
) -> Result<Json<crate::hub::telemetry::DeviceTelemetry>, HubError> {
    state.store.device(&device_id)?;
    Ok(Json(state.telemetry.device(&device_id)))
}

fn identity_response(identity: DeviceIdentity) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", identity.etag)).ok();
    let mut response = Json(identity).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}
