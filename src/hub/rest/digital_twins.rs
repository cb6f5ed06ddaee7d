//! The digital twins API of IoT Plug and Play devices: `GET` and `PATCH
//! /digitaltwins/{id}` (the twin in digital-twin shape, written with a JSON Patch that
//! becomes a desired-properties patch), and `POST /digitaltwins/{id}/commands/{command}`
//! and `.../components/{component}/commands/{command}` (a direct method named
//! `command` or `component*command`).
//!
//! As on Azure: the read answers 200 with a weak `ETag`; the write answers 202 with the
//! new `ETag` and the twin's `Location` and no body; a command answers 200 with the
//! device's payload as the body and the device's status in `x-ms-command-statuscode`,
//! whatever that status is, and fails (offline, timeout) in the direct-method error form.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::HubState;
use super::error::MethodRouteError;
use super::extract::{DeviceIdPath, IfMatchHeader, JsonBody, RawBody};
use super::twins::answer_written;
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::method_request::MethodRequest;
use crate::hub::store::TwinWrite;
use crate::service::new_message_id;
use crate::twin::plug_and_play::{
    PlugAndPlayTwin, command_method_name, desired_patch_from_json_patch, to_digital_twin,
};
use crate::url_component::encode;

/// The header carrying the status the device answered a command with.
const COMMAND_STATUS_HEADER: &str = "x-ms-command-statuscode";
/// The header carrying the command request's id.
const REQUEST_ID_HEADER: &str = "x-ms-request-id";

/// Reads a device's digital twin.
pub async fn get_digital_twin(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
) -> Result<Response, HubError> {
    let twin = state.store.twin(&device_id)?;
    let digital_twin = to_digital_twin(&device_id, &PlugAndPlayTwin::from_twin(&twin));
    Ok(with_etag(Json(digital_twin).into_response(), &twin))
}

/// Applies a JSON Patch to a device's digital twin, as a desired-properties patch.
pub async fn patch_digital_twin(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    IfMatchHeader(if_match): IfMatchHeader,
    JsonBody(operations): JsonBody,
) -> Result<Response, HubError> {
    let twin = state.store.twin(&device_id)?;
    let desired = desired_patch_from_json_patch(&operations, &twin)
        .map_err(|error| HubError::ArgumentInvalid(capitalized(&error.to_string())))?;
    let body = json!({"properties": {"desired": desired}});
    let written = state.store.write_twin(
        &device_id,
        &body,
        TwinWrite::Patch,
        if_match.as_ref(),
        chrono::Utc::now(),
    )?;
    let twin = written.0.clone();
    answer_written(&state, &device_id, written).await?;
    let mut response = with_etag(StatusCode::ACCEPTED.into_response(), &twin);
    let location = format!("/digitaltwins/{}", encode(&device_id));
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// The device, component and command of a command route.
#[derive(Debug, serde::Deserialize)]
pub struct CommandPath {
    id: String,
    component: Option<String>,
    command: String,
}

/// Invokes a command of the default component or of a named one.
pub async fn invoke_command(
    State(state): State<HubState>,
    Path(path): Path<CommandPath>,
    Query(query): Query<HashMap<String, String>>,
    RawBody(body): RawBody,
) -> Result<Response, MethodRouteError> {
    state.store.device(&path.id)?;
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            HubError::ArgumentInvalid(format!(
                "The command payload is not valid JSON: {error}; send a JSON value"
            ))
        })?
    };
    let method = command_method_name(path.component.as_deref(), &path.command);
    let mut request = json!({"methodName": method, "payload": payload});
    for timeout in ["connectTimeoutInSeconds", "responseTimeoutInSeconds"] {
        if let Some(seconds) = query.get(timeout) {
            request[timeout] = Value::from(seconds.as_str());
        }
    }
    let request = MethodRequest::from_body(&request)?;
    let response = state
        .methods
        .invoke(&path.id, &request.name, request.payload, request.timeouts)
        .await?;
    Activity::count(&state.activity.method_calls);
    let mut answer = Json(response.payload).into_response();
    let headers = answer.headers_mut();
    if let Ok(status) = HeaderValue::from_str(&response.status.to_string()) {
        headers.insert(COMMAND_STATUS_HEADER, status);
    }
    if let Ok(id) = HeaderValue::from_str(&new_message_id()) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    Ok(answer)
}

/// `response` with the twin's etag as a weak `ETag`, as the digital twins API gives it.
fn with_etag(mut response: Response, twin: &Value) -> Response {
    if let Some(etag) = twin.get("etag").and_then(Value::as_str)
        && let Ok(etag) = HeaderValue::from_str(&format!("W/\"{etag}\""))
    {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

/// `text` starting with a capital letter, as the hub's error messages do.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
