//! Turns [`HubError`] into the HTTP answer Azure IoT Hub gives: the status is the first
//! three digits of the error code, the body is
//! `{"Message":"{\"errorCode\":...,\"trackingId\":...,\"message\":...,\"timestampUtc\":...}","ExceptionMessage":""}`
//! (the current form, which the C# and Python SDKs parse), and the `iothub-errorcode`
//! header carries the code's name.

use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde_json::json;

use crate::hub::error::HubError;
use crate::twin::format_timestamp;

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let tracking_id = tracking_id();
        let inner = json!({
            "errorCode": self.error_code(),
            "trackingId": tracking_id,
            "message": self.to_string(),
            "timestampUtc": format_timestamp(chrono::Utc::now()),
        });
        let body = json!({
            "Message": inner.to_string(),
            "ExceptionMessage": "",
        });
        if status.is_server_error() {
            tracing::warn!(code = self.error_code(), %tracking_id, "request failed: {self}");
        } else {
            tracing::debug!(code = self.error_code(), %tracking_id, "request refused: {self}");
        }
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            "iothub-errorcode",
            HeaderValue::from_static(self.error_code_name()),
        );
        response
    }
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
