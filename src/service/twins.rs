//! Twins from the service side: `GET`, `PATCH` (merge) and `PUT` (replace) of
//! `/twins/{id}`. The service writes tags and desired properties; reported properties
//! belong to the device.

use reqwest::Method;
use reqwest::header::IF_MATCH;
use serde_json::Value;

use super::model::DeviceTwin;
use super::retry::Idempotency;
use super::transport::{Call, RequestBody, encode_segment, read_json};
use super::{ServiceClient, ServiceError, check_device_id, if_match};

impl ServiceClient {
    /// Reads a device's twin.
    pub async fn get_twin(&self, device_id: &str) -> Result<DeviceTwin, ServiceError> {
        check_device_id(device_id)?;
        self.twin_call(
            twin_path(device_id),
            format!("reading the twin of device '{device_id}'"),
            Method::GET,
            None,
            None,
        )
        .await
    }

    /// Merges `patch` (`{"tags": {...}, "properties": {"desired": {...}}}`, `null` deletes)
    /// into the twin. With `etag`, only if the twin is unchanged since it was read (else
    /// 412 PreconditionFailed).
    pub async fn patch_twin(
        &self,
        device_id: &str,
        patch: &Value,
        etag: Option<&str>,
    ) -> Result<DeviceTwin, ServiceError> {
        check_device_id(device_id)?;
        self.twin_call(
            twin_path(device_id),
            format!("patching the twin of device '{device_id}'"),
            Method::PATCH,
            Some(patch),
            etag,
        )
        .await
    }

    /// Replaces the twin's tags and desired properties with those of `twin`. With `etag`,
    /// only if the twin is unchanged since it was read (else 412 PreconditionFailed).
    pub async fn replace_twin(
        &self,
        device_id: &str,
        twin: &Value,
        etag: Option<&str>,
    ) -> Result<DeviceTwin, ServiceError> {
        check_device_id(device_id)?;
        self.twin_call(
            twin_path(device_id),
            format!("replacing the twin of device '{device_id}'"),
            Method::PUT,
            Some(twin),
            etag,
        )
        .await
    }

    /// A read or write of the twin at `path` (a device's or a module's).
    pub(super) async fn twin_call(
        &self,
        path: String,
        operation: String,
        method: Method,
        body: Option<&Value>,
        etag: Option<&str>,
    ) -> Result<DeviceTwin, ServiceError> {
        // HTTP counts PATCH as not idempotent (a repeat would notify the device again);
        // GET and PUT are.
        let idempotency = if method == Method::PATCH {
            Idempotency::NotIdempotent
        } else {
            Idempotency::Idempotent
        };
        let call = Call {
            operation,
            method,
            path,
            body: body.map(RequestBody::Json),
            headers: etag
                .map(|etag| vec![(IF_MATCH.as_str().into(), if_match(etag))])
                .unwrap_or_default(),
            idempotency,
            timeout: None,
        };
        let response = self.transport.send(&call).await?;
        read_json(response, &call.operation, "device twin JSON").await
    }
}

/// The service API path of a device's twin.
fn twin_path(device_id: &str) -> String {
    format!("/twins/{}", encode_segment(device_id))
}
