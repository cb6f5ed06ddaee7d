//! `POST /twins/{id}/methods`: invokes a direct method on a connected device and
//! answers `{status, payload}` with the device's reply.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::HubState;
use super::extract::{DeviceIdPath, JsonBody};
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::methods::MethodTimeouts;
use crate::topics::MethodName;

/// Azure's default response timeout.
const DEFAULT_RESPONSE_TIMEOUT_SECS: u64 = 30;
/// Azure's allowed response timeouts.
const RESPONSE_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 5..=300;
/// The longest Azure waits for a device to connect.
const MAX_CONNECT_TIMEOUT_SECS: u64 = 300;
/// The largest method payload IoT Hub accepts.
const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// Invokes a direct method.
pub async fn invoke_method(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, HubError> {
    let name = body
        .get("methodName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            HubError::ArgumentInvalid(
                "The body must name the method: {\"methodName\": \"reboot\", \"payload\": {...}}"
                    .into(),
            )
        })?
        .to_owned();
    MethodName::new(name.clone())
        .map_err(|e| HubError::ArgumentInvalid(format!("The method name is not valid: {e}")))?;
    let payload = body.get("payload").cloned().unwrap_or(Value::Null);
    if payload.to_string().len() > MAX_PAYLOAD_BYTES {
        return Err(HubError::MessageTooLarge(format!(
            "The method payload is larger than {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    let timeouts = MethodTimeouts {
        response: Duration::from_secs(seconds(
            &body,
            "responseTimeoutInSeconds",
            DEFAULT_RESPONSE_TIMEOUT_SECS,
            RESPONSE_TIMEOUT_SECS,
        )?),
        connect: Duration::from_secs(seconds(
            &body,
            "connectTimeoutInSeconds",
            0,
            0..=MAX_CONNECT_TIMEOUT_SECS,
        )?),
    };
    // Fail fast on a device that does not exist, rather than as "not online".
    state.store.device(&device_id)?;
    let response = state
        .methods
        .invoke(&device_id, &name, payload, timeouts)
        .await?;
    Activity::count(&state.activity.method_calls);
    tracing::debug!(
        device_id,
        method = name,
        status = response.status,
        "direct method answered"
    );
    Ok(Json(
        json!({"status": response.status, "payload": response.payload}),
    ))
}

fn seconds(
    body: &Value,
    field: &str,
    default: u64,
    allowed: std::ops::RangeInclusive<u64>,
) -> Result<u64, HubError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .filter(|secs| allowed.contains(secs))
            .ok_or_else(|| {
                HubError::ArgumentInvalid(format!(
                    "{field} is {value}; it must be a whole number of seconds from {} to {}",
                    allowed.start(),
                    allowed.end()
                ))
            }),
    }
}
