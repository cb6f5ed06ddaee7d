//! Cloud-to-device messages: `POST /devices/{id}/messages/deviceBound` (the payload as the
//! body, properties as `iothub-*` headers; Azure IoT Hub and the local hub both serve it)
//! and `DELETE /devices/{id}/commands` (purge a device's queue).

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;

use super::retry::Idempotency;
use super::transport::{Call, RequestBody, encode_segment, read_json};
use super::{ServiceClient, ServiceError, check_device_id};

/// A cloud-to-device message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudMessage {
    /// The payload.
    pub body: Vec<u8>,
    /// Its message id (`iothub-messageid`); none when `None`.
    pub message_id: Option<String>,
    /// Its correlation id.
    pub correlation_id: Option<String>,
    /// The payload's content type, e.g. `application/json`.
    pub content_type: Option<String>,
    /// The payload's content encoding, e.g. `utf-8`.
    pub content_encoding: Option<String>,
    /// The feedback asked for: `none`, `positive`, `negative` or `full`.
    pub ack: Option<String>,
    /// How long the hub keeps it for an offline device (the hub's default, an hour on
    /// IoT Hub, when `None`).
    pub time_to_live: Option<Duration>,
    /// Application properties.
    pub properties: Vec<(String, String)>,
}

/// A fresh message id in the UUID form the Azure tools give messages (random, version 4).
pub fn new_message_id() -> String {
    let random = rand::random::<u128>();
    let bits = (random & !(0xf << 76) & !(0xc << 60)) | (0x4 << 76) | (0x8 << 60);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// What a purge removed.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PurgeResult {
    /// The device.
    pub device_id: String,
    /// How many queued messages were deleted.
    pub total_messages_purged: u64,
}

impl CloudMessage {
    /// The message's headers; a property IoT Hub could not carry is refused.
    fn headers(&self) -> Result<Vec<(std::borrow::Cow<'static, str>, String)>, ServiceError> {
        let mut headers: Vec<(std::borrow::Cow<'static, str>, String)> = Vec::new();
        let system = [
            ("iothub-messageid", &self.message_id),
            ("iothub-correlationid", &self.correlation_id),
            ("iothub-contenttype", &self.content_type),
            ("iothub-contentencoding", &self.content_encoding),
            ("iothub-ack", &self.ack),
        ];
        for (name, value) in system {
            if let Some(value) = value {
                check_value(name, value)?;
                headers.push((name.into(), value.clone()));
            }
        }
        if let Some(time_to_live) = self.time_to_live {
            let expiry = chrono::Utc::now()
                + chrono::TimeDelta::from_std(time_to_live).unwrap_or(chrono::TimeDelta::MAX);
            headers.push((
                "iothub-expiry".into(),
                crate::twin::format_timestamp(expiry),
            ));
        }
        for (name, value) in &self.properties {
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid_name {
                return Err(ServiceError::InvalidArgument(format!(
                    "the message property name '{name}' cannot be sent: use ASCII letters, \
                     digits and !#$%&'*+-.^_`|~"
                )));
            }
            check_value(name, value)?;
            headers.push((format!("iothub-app-{name}").into(), value.clone()));
        }
        Ok(headers)
    }
}

/// Header values must be visible ASCII (or spaces).
fn check_value(name: &str, value: &str) -> Result<(), ServiceError> {
    if value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "the value of message property '{name}' cannot be sent: use printable ASCII \
             (percent-encode anything else)"
        )))
    }
}

impl ServiceClient {
    /// Sends a cloud-to-device message; it waits in the device's queue until the device
    /// takes it or it expires. Never repeated after a failure that may have reached the
    /// hub (the device would get it twice).
    pub async fn send_cloud_to_device(
        &self,
        device_id: &str,
        message: &CloudMessage,
    ) -> Result<(), ServiceError> {
        check_device_id(device_id)?;
        let call = Call {
            operation: format!("sending a cloud-to-device message to device '{device_id}'"),
            method: Method::POST,
            path: format!(
                "/devices/{}/messages/deviceBound",
                encode_segment(device_id)
            ),
            body: Some(RequestBody::Bytes(&message.body)),
            headers: message.headers()?,
            idempotency: Idempotency::NotIdempotent,
            timeout: None,
        };
        self.transport.send(&call).await.map(drop)
    }

    /// Deletes every message queued for a device; says how many.
    pub async fn purge_cloud_to_device(
        &self,
        device_id: &str,
    ) -> Result<PurgeResult, ServiceError> {
        check_device_id(device_id)?;
        let call = Call {
            operation: format!("purging the cloud-to-device queue of device '{device_id}'"),
            method: Method::DELETE,
            path: format!("/devices/{}/commands", encode_segment(device_id)),
            body: None,
            headers: Vec::new(),
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        let response = self.transport.send(&call).await?;
        read_json(response, &call.operation, "purge result JSON").await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_version_4_uuids() {
        let id = new_message_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert!("89ab".contains(&id[19..20]), "{id}");
        assert_ne!(id, new_message_id());
    }

    #[test]
    fn properties_become_headers_and_bad_ones_are_refused() {
        let message = CloudMessage {
            message_id: Some("m1".into()),
            ack: Some("full".into()),
            time_to_live: Some(Duration::from_secs(60)),
            properties: vec![("color".into(), "red blue".into())],
            ..CloudMessage::default()
        };
        let headers = message.headers().unwrap();
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(
            names,
            vec![
                "iothub-messageid",
                "iothub-ack",
                "iothub-expiry",
                "iothub-app-color"
            ]
        );
        for properties in [
            vec![("a b".to_owned(), "v".to_owned())],
            vec![(String::new(), "v".to_owned())],
            vec![("k".to_owned(), "é".to_owned())],
            vec![("k".to_owned(), "line\nbreak".to_owned())],
        ] {
            let message = CloudMessage {
                properties,
                ..CloudMessage::default()
            };
            assert!(matches!(
                message.headers(),
                Err(ServiceError::InvalidArgument(_))
            ));
        }
    }
}
