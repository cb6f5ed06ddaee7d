//! Device identities (`GET`, `PUT`, `DELETE /devices/{id}`) and the local hub's telemetry
//! view (`GET /twinlens/devices/{id}/telemetry`).

use reqwest::Method;
use reqwest::header::IF_MATCH;
use serde::Serialize;

use super::model::DeviceTelemetry;
use super::model::{Device, NewDevice};
use super::retry::Idempotency;
use super::transport::{Call, RequestBody, encode_segment, read_json};
use super::{ServiceClient, ServiceError, check_device_id, if_match};

/// The body of a create: the id plus what the caller chose.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    device_id: &'a str,
    #[serde(flatten)]
    device: &'a NewDevice,
}

impl ServiceClient {
    /// Reads a device identity (with its keys).
    pub async fn get_device(&self, device_id: &str) -> Result<Device, ServiceError> {
        check_device_id(device_id)?;
        let call = Call {
            operation: format!("reading device '{device_id}'"),
            method: Method::GET,
            path: device_path(device_id),
            body: None,
            headers: Vec::new(),
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.identity(call).await
    }

    /// Registers a new device; the hub generates whatever `device` leaves out (keys,
    /// status). Fails with 409001 DeviceAlreadyExists when the id is taken.
    pub async fn create_device(
        &self,
        device_id: &str,
        device: &NewDevice,
    ) -> Result<Device, ServiceError> {
        check_device_id(device_id)?;
        let body = to_json(&CreateBody { device_id, device }, device_id)?;
        let call = Call {
            operation: format!("creating device '{device_id}'"),
            method: Method::PUT,
            path: device_path(device_id),
            body: Some(RequestBody::Json(&body)),
            headers: Vec::new(),
            // Without If-Match a repeated create fails as a conflict instead of acting twice.
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.identity(call).await
    }

    /// Replaces a device identity with `device`. `etag` is the identity's etag as read
    /// (the update fails with 412 when someone changed it meanwhile); `None` overwrites
    /// whatever is there (`If-Match: *`).
    pub async fn update_device(
        &self,
        device: &Device,
        etag: Option<&str>,
    ) -> Result<Device, ServiceError> {
        let device_id = device.device_id.as_str();
        check_device_id(device_id)?;
        let body = to_json(device, device_id)?;
        let call = Call {
            operation: format!("updating device '{device_id}'"),
            method: Method::PUT,
            path: device_path(device_id),
            body: Some(RequestBody::Json(&body)),
            headers: vec![(IF_MATCH.as_str().into(), if_match(etag.unwrap_or("*")))],
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.identity(call).await
    }

    /// Deletes a device and its twin. With `etag`, only if the identity is unchanged since
    /// it was read; with `None`, whatever its state (`If-Match: *`).
    pub async fn delete_device(
        &self,
        device_id: &str,
        etag: Option<&str>,
    ) -> Result<(), ServiceError> {
        check_device_id(device_id)?;
        let call = Call {
            operation: format!("deleting device '{device_id}'"),
            method: Method::DELETE,
            path: device_path(device_id),
            body: None,
            headers: vec![(IF_MATCH.as_str().into(), if_match(etag.unwrap_or("*")))],
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.transport.send(&call).await.map(drop)
    }

    /// What a device sent to a local hub: a count and the latest messages. Azure IoT Hub
    /// has no such route (it answers 404); read Azure telemetry from its Event Hubs
    /// endpoint instead.
    pub async fn device_telemetry(&self, device_id: &str) -> Result<DeviceTelemetry, ServiceError> {
        check_device_id(device_id)?;
        let operation = format!("reading the telemetry of device '{device_id}'");
        let call = Call {
            operation: operation.clone(),
            method: Method::GET,
            path: format!("/twinlens/devices/{}/telemetry", encode_segment(device_id)),
            body: None,
            headers: Vec::new(),
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        let response = self.transport.send(&call).await?;
        read_json(response, &operation, "device telemetry JSON").await
    }

    async fn identity(&self, call: Call<'_>) -> Result<Device, ServiceError> {
        let response = self.transport.send(&call).await?;
        read_json(response, &call.operation, "device identity JSON").await
    }
}

fn device_path(device_id: &str) -> String {
    format!("/devices/{}", encode_segment(device_id))
}

fn to_json(value: &impl Serialize, device_id: &str) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(value).map_err(|error| {
        ServiceError::InvalidArgument(format!(
            "the identity of device '{device_id}' cannot be written as JSON: {error}"
        ))
    })
}
