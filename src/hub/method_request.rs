//! A direct-method request as the service API and jobs carry it
//! (`{"methodName", "payload", "responseTimeoutInSeconds", "connectTimeoutInSeconds"}`):
//! read and checked against Azure's rules once, for `POST .../methods` and for
//! `scheduleDeviceMethod` jobs alike.

use std::time::Duration;

use serde_json::{Value, json};

use super::error::HubError;
use super::methods::MethodTimeouts;
use crate::topics::MethodName;

/// Azure's default response timeout.
const DEFAULT_RESPONSE_TIMEOUT_SECS: u64 = 30;
/// Azure's allowed response timeouts.
const RESPONSE_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 5..=300;
/// The longest Azure waits for a device to connect.
const MAX_CONNECT_TIMEOUT_SECS: u64 = 300;
/// The largest method payload IoT Hub accepts.
const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// A checked direct-method request.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodRequest {
    /// The method name.
    pub name: String,
    /// The JSON payload (null when none was sent).
    pub payload: Value,
    /// How long to wait for the device to connect and then to answer.
    pub timeouts: MethodTimeouts,
}

impl MethodRequest {
    /// Reads a request body; the error says which field breaks which rule.
    pub fn from_body(body: &Value) -> Result<Self, HubError> {
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
        Ok(Self {
            name,
            payload,
            timeouts,
        })
    }

    /// The request in the service API's shape, every field spelled out.
    pub fn to_json(&self) -> Value {
        json!({
            "methodName": self.name,
            "payload": self.payload,
            "responseTimeoutInSeconds": self.timeouts.response.as_secs(),
            "connectTimeoutInSeconds": self.timeouts.connect.as_secs(),
        })
    }
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

    #[test]
    fn a_request_round_trips_with_its_defaults_filled_in() {
        let request = MethodRequest::from_body(&json!({"methodName": "reboot"})).unwrap();
        assert_eq!(request.payload, Value::Null);
        assert_eq!(
            request.to_json(),
            json!({"methodName": "reboot", "payload": null,
                   "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 0})
        );
        assert_eq!(
            MethodRequest::from_body(&request.to_json()).unwrap(),
            request
        );
        for bad in [
            json!({}),
            json!({"methodName": ""}),
            json!({"methodName": 5}),
        ] {
            assert_eq!(
                MethodRequest::from_body(&bad).unwrap_err().error_code(),
                400004
            );
        }
        let big = json!({"methodName": "m", "payload": "x".repeat(MAX_PAYLOAD_BYTES)});
        assert_eq!(
            MethodRequest::from_body(&big).unwrap_err().error_code(),
            413001
        );
    }
}
