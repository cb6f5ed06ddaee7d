//! Direct methods (`POST /twins/{id}/methods`): the hub forwards the call to the connected
//! device and answers with the device's `{status, payload}`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::model::MethodResult;
use super::retry::Idempotency;
use super::transport::{Call, RequestBody, encode_segment, read_json};
use super::{ServiceClient, ServiceError, check_device_id};

/// Extra time the HTTP request gets beyond the method's own timeouts, for the hub to
/// answer after the device did (or did not).
const HUB_ANSWER_MARGIN: Duration = Duration::from_secs(10);

impl ServiceClient {
    /// Invokes `method_name` on a device with `payload` and returns its answer. The hub
    /// waits up to `connect_timeout` for a disconnected device to connect (zero: fail at
    /// once with 404103 DeviceNotOnline) and then up to `response_timeout` for its answer
    /// (else 504101 GatewayTimeout). Azure accepts 5 to 300 seconds of response timeout.
    /// A failed call is never repeated: the device may have acted on it.
    pub async fn invoke_method(
        &self,
        device_id: &str,
        method_name: &str,
        payload: &Value,
        response_timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<MethodResult, ServiceError> {
        check_device_id(device_id)?;
        self.method_call(
            format!("/twins/{}/methods", encode_segment(device_id)),
            &format!("device '{device_id}'"),
            method_name,
            payload,
            (response_timeout, connect_timeout),
        )
        .await
    }

    /// Invokes `method_name` on what `path` names (`target` in words, for errors), with
    /// the response and connect timeouts of [`Self::invoke_method`].
    pub(super) async fn method_call(
        &self,
        path: String,
        target: &str,
        method_name: &str,
        payload: &Value,
        (response_timeout, connect_timeout): (Duration, Duration),
    ) -> Result<MethodResult, ServiceError> {
        if method_name.trim().is_empty() {
            return Err(ServiceError::InvalidArgument(format!(
                "the method name for {target} is empty; give the name it handles, e.g. `reboot`"
            )));
        }
        let body = json!({
            "methodName": method_name,
            "payload": payload,
            "responseTimeoutInSeconds": response_timeout.as_secs(),
            "connectTimeoutInSeconds": connect_timeout.as_secs(),
        });
        let operation = format!("invoking method '{method_name}' on {target}");
        let call = Call {
            operation: operation.clone(),
            method: Method::POST,
            path,
            body: Some(RequestBody::Json(&body)),
            headers: Vec::new(),
            idempotency: Idempotency::NotIdempotent,
            timeout: Some(
                response_timeout
                    .saturating_add(connect_timeout)
                    .saturating_add(HUB_ANSWER_MARGIN),
            ),
        };
        let response = self.transport.send(&call).await?;
        read_json(response, &operation, "direct-method result JSON").await
    }
}
