//! `GET`, `PUT` and `DELETE /devices/{id}`, and `GET /devices?top=N`: the identity
//! registry.

use axum::Json;
use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header::ETAG};
use axum::response::{IntoResponse, Response};

use super::HubState;
use super::extract::{DeviceIdPath, IfMatchHeader, JsonBody};
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::identity::{DeviceIdentity, scope_device_id};
use crate::hub::store::client_key;
use serde_json::Value;

/// The most identities `GET /devices` returns, and what any `top` outside 1 to 1000
/// means (Azure's "Devices - Get Devices").
const MAX_LISTED_DEVICES: usize = 1000;

/// `GET /devices?top=N`: the identities of up to `top` devices, as a JSON array. Azure
/// keeps this route (the Node.js SDK's `Registry.list()` uses it) but recommends queries.
pub async fn list_devices(
    State(state): State<HubState>,
    Query(parameters): Query<HashMap<String, String>>,
) -> Result<Json<Vec<DeviceIdentity>>, HubError> {
    let top = match parameters.get("top") {
        None => MAX_LISTED_DEVICES,
        Some(top) => {
            let top: i64 = top.trim().parse().map_err(|_| {
                HubError::ArgumentInvalid(format!(
                    "top is '{top}'; give the number of devices to list, from 1 to \
                     {MAX_LISTED_DEVICES}"
                ))
            })?;
            usize::try_from(top)
                .ok()
                .filter(|top| (1..=MAX_LISTED_DEVICES).contains(top))
                .unwrap_or(MAX_LISTED_DEVICES)
        }
    };
    Ok(Json(state.store.devices(top)?))
}

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
    check_parent_scopes(&state, &device_id, &body)?;
    let (identity, pending) =
        state
            .store
            .put_device(&device_id, &body, if_match.as_ref(), chrono::Utc::now())?;
    pending.durable().await?;
    if identity.status != "enabled" {
        // A disabled device's modules cannot connect either.
        state.sessions.revoke(&device_id);
        for module in state.store.modules(&device_id)? {
            state
                .sessions
                .revoke(&client_key(&device_id, Some(&module.module_id)));
        }
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
    // Its modules go with it, and their sessions with them.
    let (pending, module_keys) = state.store.delete_device(&device_id, if_match.as_ref())?;
    pending.durable().await?;
    for client in module_keys
        .iter()
        .map(String::as_str)
        .chain([device_id.as_str()])
    {
        state.sessions.forget(client);
        state.telemetry.forget(client);
    }
    state.cloud_to_device.forget(&device_id)?;
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
) -> Result<Json<crate::service::model::DeviceTelemetry>, HubError> {
    state.store.device(&device_id)?;
    Ok(Json(state.telemetry.device(&device_id)))
}

/// Refuses a parent scope (`deviceScope` of a device, `parentScopes` of an IoT Edge
/// device) that is not the scope of an IoT Edge device of this hub.
fn check_parent_scopes(state: &HubState, device_id: &str, body: &Value) -> Result<(), HubError> {
    let device_scope = body.get("deviceScope").and_then(Value::as_str);
    let parent_scopes = body
        .get("parentScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for scope in device_scope.into_iter().chain(parent_scopes) {
        let Some(parent_id) = scope_device_id(scope) else {
            // Malformed scopes are refused with the identity rules' message.
            continue;
        };
        if parent_id == device_id {
            // An IoT Edge device's own scope.
            continue;
        }
        let parent = state.store.device(parent_id).ok();
        let is_parent = parent.as_ref().is_some_and(|parent| {
            parent.capabilities.iot_edge && parent.device_scope.as_deref() == Some(scope)
        });
        if !is_parent {
            return Err(HubError::ArgumentInvalid(format!(
                "The scope '{scope}' is not the deviceScope of an IoT Edge device of this hub; \
                 a parent must be a registered device with capabilities.iotEdge true"
            )));
        }
    }
    Ok(())
}

fn identity_response(identity: DeviceIdentity) -> Response {
    let etag = identity.etag.clone();
    etagged(Json(identity), &etag)
}

/// `body` with its etag in the `ETag` header, quoted as Azure sends it.
pub(super) fn etagged(body: impl IntoResponse, etag: &str) -> Response {
    let mut response = body.into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}
