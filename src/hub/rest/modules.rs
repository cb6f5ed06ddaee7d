//! Module identities and module twins: `GET /devices/{id}/modules`,
//! `GET`, `PUT` and `DELETE /devices/{id}/modules/{mid}`, and `GET`, `PATCH` and
//! `PUT /twins/{id}/modules/{mid}`, as Azure serves them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::HubState;
use super::devices::etagged;
use super::extract::{DeviceIdPath, IfMatchHeader, JsonBody, ModulePath};
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::module_identity::ModuleIdentity;
use crate::hub::store::{IfMatch, TwinWrite, client_key};

/// The identities of a device's modules, as a JSON array.
pub async fn list_modules(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
) -> Result<Json<Vec<ModuleIdentity>>, HubError> {
    Ok(Json(state.store.modules(&device_id)?))
}

/// Reads a module identity.
pub async fn get_module(
    State(state): State<HubState>,
    path: ModulePath,
) -> Result<Response, HubError> {
    let module = state.store.module(&path.device_id, &path.module_id)?;
    let etag = module.etag.clone();
    Ok(etagged(Json(module), &etag))
}

/// Creates a module (no `If-Match`) or updates it (`If-Match: *` or its etag).
pub async fn put_module(
    State(state): State<HubState>,
    path: ModulePath,
    IfMatchHeader(if_match): IfMatchHeader,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    let (module, pending) = state.store.put_module(
        &path.device_id,
        &path.module_id,
        &body,
        if_match.as_ref(),
        chrono::Utc::now(),
    )?;
    pending.durable().await?;
    Activity::count(&state.activity.identity_writes);
    tracing::debug!(
        device_id = path.device_id,
        module_id = path.module_id,
        "module written"
    );
    let etag = module.etag.clone();
    Ok(etagged(Json(module), &etag))
}

/// Deletes a module.
pub async fn delete_module(
    State(state): State<HubState>,
    path: ModulePath,
    IfMatchHeader(if_match): IfMatchHeader,
) -> Result<StatusCode, HubError> {
    state
        .store
        .delete_module(&path.device_id, &path.module_id, if_match.as_ref())?
        .durable()
        .await?;
    let client = client_key(&path.device_id, Some(&path.module_id));
    state.sessions.forget(&client);
    state.telemetry.forget(&client);
    Activity::count(&state.activity.identity_writes);
    tracing::debug!(
        device_id = path.device_id,
        module_id = path.module_id,
        "module deleted"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Reads a module twin.
pub async fn get_module_twin(
    State(state): State<HubState>,
    path: ModulePath,
) -> Result<Response, HubError> {
    let twin = state.store.module_twin(&path.device_id, &path.module_id)?;
    Ok(super::twins::twin_response(twin))
}

/// Merges tags and desired properties into a module twin.
pub async fn patch_module_twin(
    State(state): State<HubState>,
    path: ModulePath,
    IfMatchHeader(if_match): IfMatchHeader,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    write_module_twin(&state, &path, &body, TwinWrite::Patch, if_match).await
}

/// Replaces tags and desired properties of a module twin.
pub async fn replace_module_twin(
    State(state): State<HubState>,
    path: ModulePath,
    IfMatchHeader(if_match): IfMatchHeader,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    write_module_twin(&state, &path, &body, TwinWrite::Replace, if_match).await
}

/// Writes the module twin and answers once the write is durable.
async fn write_module_twin(
    state: &HubState,
    path: &ModulePath,
    body: &Value,
    mode: TwinWrite,
    if_match: Option<IfMatch>,
) -> Result<Response, HubError> {
    let written = state.store.write_module_twin(
        &path.device_id,
        &path.module_id,
        body,
        mode,
        if_match.as_ref(),
        chrono::Utc::now(),
    )?;
    let client = client_key(&path.device_id, Some(&path.module_id));
    super::twins::answer_written(state, &client, written).await
}
