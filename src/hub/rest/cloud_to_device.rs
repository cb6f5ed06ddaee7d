//! `POST /devices/{id}/messages/deviceBound` (send a cloud-to-device message: the body is
//! the payload, `iothub-*` headers its system properties, `iothub-app-*` headers its
//! application properties; 204 once queued) and `DELETE /devices/{id}/commands` (purge the
//! device's queue), as Azure IoT Hub serves them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::HubState;
use super::extract::{DeviceIdPath, RawBody};
use crate::hub::cloud_to_device::{Acknowledgement, OutgoingMessage};
use crate::hub::error::HubError;

/// The prefix of an application property's header.
const APP_PROPERTY_PREFIX: &str = "iothub-app-";

/// Queues a message for a registered device.
pub async fn send_message(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<StatusCode, HubError> {
    state.store.device(&device_id)?;
    let now = Utc::now();
    let mut message = read_headers(&headers, now)?;
    message.body = body;
    let c2d = state.cloud_to_device.clone();
    tokio::task::spawn_blocking(move || c2d.send(&device_id, &message, now))
        .await
        .map_err(|e| HubError::Server(format!("the message was not queued: {e}")))??;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes every message queued for a device: `{"deviceId", "moduleId": null,
/// "totalMessagesPurged"}`.
pub async fn purge_queue(
    State(state): State<HubState>,
    DeviceIdPath(device_id): DeviceIdPath,
) -> Result<Json<Value>, HubError> {
    state.store.device(&device_id)?;
    let purged = state.cloud_to_device.purge(&device_id)?;
    Ok(Json(json!({
        "deviceId": device_id,
        "moduleId": null,
        "totalMessagesPurged": purged,
    })))
}

/// The message's properties from its headers (names in any case). The HTTP
/// `Content-Type` is the request's, not the message's: `iothub-contenttype` sets that.
fn read_headers(headers: &HeaderMap, now: DateTime<Utc>) -> Result<OutgoingMessage, HubError> {
    let mut message = OutgoingMessage::default();
    for (name, value) in headers {
        let name = name.as_str();
        let value = || {
            value.to_str().map(str::to_owned).map_err(|_| {
                HubError::ArgumentInvalid(format!(
                    "The header {name} is not ASCII text; percent-encode its value"
                ))
            })
        };
        match name {
            "iothub-messageid" => message.message_id = Some(value()?),
            "iothub-correlationid" => message.correlation_id = Some(value()?),
            "iothub-userid" => message.user_id = Some(value()?),
            "iothub-contenttype" => message.content_type = Some(value()?),
            "iothub-contentencoding" => message.content_encoding = Some(value()?),
            "iothub-expiry" => message.expiry = Some(read_expiry(&value()?, now)?),
            "iothub-ack" => {
                let text = value()?;
                message.ack = Some(Acknowledgement::parse(&text).ok_or_else(|| {
                    HubError::ArgumentInvalid(format!(
                        "iothub-ack is '{text}'; use none, positive, negative or full"
                    ))
                })?);
            }
            _ => {
                if let Some(property) = name.strip_prefix(APP_PROPERTY_PREFIX)
                    && !property.is_empty()
                {
                    message
                        .application_properties
                        .push((property.to_owned(), value()?));
                }
            }
        }
    }
    Ok(message)
}

/// An absolute expiry: an ISO-8601 time (as the .NET SDK writes it) or milliseconds
/// since 1970 (as AMQP carries it).
fn read_expiry(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, HubError> {
    let text = text.trim();
    if let Ok(millis) = text.parse::<i64>() {
        return DateTime::from_timestamp_millis(millis).ok_or_else(|| bad_expiry(text, now));
    }
    crate::twin::timestamp::parse_timestamp(text).ok_or_else(|| bad_expiry(text, now))
}

fn bad_expiry(text: &str, now: DateTime<Utc>) -> HubError {
    HubError::ArgumentInvalid(format!(
        "iothub-expiry is '{text}'; give an ISO-8601 UTC time such as {} or milliseconds \
         since 1970",
        crate::twin::format_timestamp(now + chrono::TimeDelta::hours(1))
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn headers_become_properties() {
        let now = Utc::now();
        let message = read_headers(
            &headers(&[
                ("Content-Type", "application/json"),
                ("IoTHub-MessageId", "m1"),
                ("iothub-correlationid", "c1"),
                ("iothub-userid", "u1"),
                ("iothub-contenttype", "application/json"),
                ("iothub-contentencoding", "utf-8"),
                ("iothub-ack", "Full"),
                ("iothub-expiry", "2030-01-02T03:04:05Z"),
                ("iothub-app-color", "red"),
                ("iothub-app-", "ignored"),
                ("iothub-to", "/devices/other/messages/devicebound"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(message.message_id.as_deref(), Some("m1"));
        assert_eq!(message.correlation_id.as_deref(), Some("c1"));
        assert_eq!(message.user_id.as_deref(), Some("u1"));
        assert_eq!(message.content_type.as_deref(), Some("application/json"));
        assert_eq!(message.content_encoding.as_deref(), Some("utf-8"));
        assert_eq!(message.ack, Some(Acknowledgement::Full));
        assert_eq!(
            message.expiry.map(crate::twin::format_timestamp).as_deref(),
            Some("2030-01-02T03:04:05.0000000Z")
        );
        assert_eq!(
            message.application_properties,
            vec![("color".to_owned(), "red".to_owned())]
        );
    }

    #[test]
    fn expiry_may_be_milliseconds_and_bad_values_are_refused() {
        let now = Utc::now();
        let message = read_headers(&headers(&[("iothub-expiry", "1893456000000")]), now).unwrap();
        assert_eq!(
            message.expiry.map(crate::twin::format_timestamp).as_deref(),
            Some("2030-01-01T00:00:00.0000000Z")
        );
        for bad in [("iothub-expiry", "tomorrow"), ("iothub-ack", "always")] {
            let error = read_headers(&headers(&[bad]), now).unwrap_err();
            assert_eq!(error.error_code(), 400004, "{error}");
            assert!(error.to_string().contains(bad.1), "{error}");
        }
    }
}
