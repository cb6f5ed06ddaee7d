//! `POST /twins/{id}/methods` and `POST /twins/{id}/modules/{mid}/methods`: invokes a
//! direct method on a connected device or module and answers `{status, payload}` with
//! its reply.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::HubState;
use super::error::MethodRouteError;
use super::extract::{DeviceIdPath, JsonBody, ModulePath};
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::methods::MethodTimeouts;
use crate::hub::store::client_key;
use crate::topics::MethodName;

/// Azure's default response timeout.
const DEFAULT_RESPONSE_TIMEOUT_SECS: u64 = 30;
/// Azure's allowed response timeouts.
const RESPONSE_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 5..=300;
/// The longest Azure waits for a device to connect.
const MAX_CONNECT_TIMEOUT_SECS: u64 = 300;
/// The largest method payload IoT Hub accepts.
const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

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
        ))
        .into());
    }
    let timeouts = MethodTimeouts {
        response: Duration::from_secs(seconds(
            body,
            "responseTimeoutInSeconds",
            DEFAULT_RESPONSE_TIMEOUT_SECS,
            RESPONSE_TIMEOUT_SECS,
        )?),
        connect: Duration::from_secs(seconds(
            body,
            "connectTimeoutInSeconds",
            0,
            0..=MAX_CONNECT_TIMEOUT_SECS,
        )?),
    };
    let response = state
        .methods
        .invoke(client, &name, payload, timeouts)
        .await?;
    Activity::count(&state.activity.method_calls);
    tracing::debug!(
        client,
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
        // The Azure CLI sends strings of digits ("30"), which IoT Hub accepts.
        Some(value) => value
            .as_u64()
            .or_else(|| {
                value
                    .as_str()
                    .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|text| text.parse().ok())
            })
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_numbers_or_strings_of_digits() {
        let read = |value: Value| seconds(&json!({ "t": value }), "t", 30, 5..=300);
        assert_eq!(read(json!(10)).unwrap(), 10);
        assert_eq!(read(json!("30")).unwrap(), 30);
        assert_eq!(read(Value::Null).unwrap(), 30);
        for refused in [
            json!("3"),
            json!("301"),
            json!(""),
            json!("1e2"),
            json!(" 30"),
            json!(-5),
            json!(7.5),
            json!("-10"),
        ] {
            let error = read(refused.clone()).unwrap_err();
            assert_eq!(error.error_code(), 400004, "{refused}");
        }
    }
}
