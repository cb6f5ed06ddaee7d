//! Turns [`HubError`] into the HTTP answer Azure IoT Hub gives. The status is the first
//! three digits of the error code, the `iothub-errorcode` header carries the code's name,
//! and the body takes the form Azure sends on that route:
//!
//! - Identities, twins, queries and authentication: the `ErrorCode` form,
//!   `{"Message":"ErrorCode:DeviceNotFound;<text>","ExceptionMessage":"Tracking ID:<id>-G:0-TimeStamp:<MM/dd/yyyy HH:mm:ss>"}`.
//!   The Node.js service SDK reads only this form (azure-iot-http-base `Http.parseErrorBody`
//!   splits `Message` at `;` and `:`), and maps `DeviceNotFound` to `DeviceNotFoundError`
//!   only from it; Microsoft's Node end-to-end tests (azure-iot-sdk-node
//!   `e2etests/test/registry.js`) expect `DeviceNotFoundError` from `registry.get` and
//!   `registry.delete` of an unknown device, so Azure answers those routes in this form.
//!   The text after `;` holds no further `;`, which that parser would cut at.
//! - Direct methods: the JSON form,
//!   `{"Message":"{\"errorCode\":404103,\"trackingId\":...,\"message\":...,\"info\":{},\"timestampUtc\":...}","ExceptionMessage":""}`,
//!   as Azure answers an invocation of an offline device (quoted in azure-iot-sdk-java's
//!   device-method sample README and in azure-iot-sdk-csharp's `ExceptionHandlingHelper`
//!   tests).
//!
//! The C# SDK reads both forms (JSON first) and the header; the Python SDK goes by status.

use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde_json::json;

use crate::hub::error::HubError;
use crate::twin::format_timestamp;

/// The body forms of Azure's error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorForm {
    /// `{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:..."}`.
    ErrorCode,
    /// `{"Message":"<JSON document with errorCode>","ExceptionMessage":""}`.
    Json,
}

/// An error of the direct-method route, answered in the JSON form.
pub struct MethodRouteError(pub HubError);

impl From<HubError> for MethodRouteError {
    fn from(error: HubError) -> Self {
        Self(error)
    }
}

impl IntoResponse for MethodRouteError {
    fn into_response(self) -> Response {
        error_response(self.0, ErrorForm::Json)
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        error_response(self, ErrorForm::ErrorCode)
    }
}

fn error_response(error: HubError, form: ErrorForm) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let tracking_id = tracking_id();
    let now = chrono::Utc::now();
    let body = match form {
        ErrorForm::ErrorCode => json!({
            "Message": format!(
                "ErrorCode:{};{}",
                error.error_code_name(),
                error.to_string().replace(';', ",")
            ),
            "ExceptionMessage": format!(
                "Tracking ID:{tracking_id}-G:0-TimeStamp:{}",
                now.format("%m/%d/%Y %H:%M:%S")
            ),
        }),
        ErrorForm::Json => {
            let inner = json!({
                "errorCode": error.error_code(),
                "trackingId": tracking_id,
                "message": error.to_string(),
                "info": {},
                "timestampUtc": format_timestamp(now),
            });
            json!({
                "Message": inner.to_string(),
                "ExceptionMessage": "",
            })
        }
    };
    if status.is_server_error() {
        tracing::warn!(code = error.error_code(), %tracking_id, "request failed: {error}");
    } else {
        tracing::debug!(code = error.error_code(), %tracking_id, "request refused: {error}");
    }
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        "iothub-errorcode",
        HeaderValue::from_static(error.error_code_name()),
    );
    response
}

/// A tracking id in Azure's style (32 hex digits), to find a failure in the logs.
fn tracking_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Any path the API does not have.
pub async fn unknown_route(uri: Uri) -> HubError {
    HubError::ArgumentInvalid(format!(
        "The path {} is not part of the IoT Hub service API served by this hub",
        uri.path()
    ))
}

/// A path the API has, with a method it does not offer there.
pub async fn method_not_allowed(method: Method, uri: Uri) -> HubError {
    HubError::ArgumentInvalid(format!(
        "{method} is not a method of {} in the IoT Hub service API; see the API reference for \
         the methods this path offers",
        uri.path()
    ))
}
