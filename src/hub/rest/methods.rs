//! `POST /twins/{id}/methods` and `POST /twins/{id}/modules/{mid}/methods`: invokes a
//! direct method on a connected device or module and answers `{status, payload}` with
//! its reply.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::HubState;
use super::error::MethodRouteError;
use super::extract::{DeviceIdPath, JsonBody, ModulePath};
use crate::hub::activity::Activity;
use crate::hub::method_request::MethodRequest;
use crate::hub::store::client_key;

/// Invokes a direct method on a device.
pub async fn invoke_method(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, MethodRouteError> {
    // Fail fast on a device that does not exist, rather than as "not online".
    state.store.device(&device_id)?;
    invoke(&state, &device_id, &body).await
}

/// Invokes a direct method on a module.
pub async fn invoke_module_method(
    State(state): State<HubState>,
    path: ModulePath,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, MethodRouteError> {
    state.store.module(&path.device_id, &path.module_id)?;
    let client = client_key(&path.device_id, Some(&path.module_id));
    invoke(&state, &client, &body).await
}

/// Invokes the method `body` names on the device or module known by `client`.
async fn invoke(
    state: &HubState,
    client: &str,
    body: &Value,
) -> Result<Json<Value>, MethodRouteError> {
    let request = MethodRequest::from_body(body)?;
    let response = state
        .methods
        .invoke(client, &request.name, request.payload, request.timeouts)
        .await?;
    Activity::count(&state.activity.method_calls);
    tracing::debug!(
        client,
        method = request.name,
        status = response.status,
        "direct method answered"
    );
    Ok(Json(
        json!({"status": response.status, "payload": response.payload}),
    ))
}
