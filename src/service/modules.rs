//! Module identities (`/devices/{id}/modules[/{mid}]`), module twins
//! (`/twins/{id}/modules/{mid}`) and direct methods on modules
//! (`/twins/{id}/modules/{mid}/methods`). A module has its own keys, twin and methods.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::IF_MATCH;
use serde_json::{Value, json};

use super::model::{DeviceTwin, MethodResult, Module};
use super::retry::Idempotency;
use super::transport::{Call, RequestBody, encode_segment, read_json};
use super::{ServiceClient, ServiceError, check_device_id, if_match};

impl ServiceClient {
    /// The identities of a device's modules (with their keys).
    pub async fn list_modules(&self, device_id: &str) -> Result<Vec<Module>, ServiceError> {
        check_device_id(device_id)?;
        let call = Call {
            operation: format!("listing the modules of device '{device_id}'"),
            method: Method::GET,
            path: format!("/devices/{}/modules", encode_segment(device_id)),
            body: None,
            headers: Vec::new(),
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        let response = self.transport.send(&call).await?;
        read_json(response, &call.operation, "module identities JSON").await
    }

    /// Reads a module identity (with its keys).
    pub async fn get_module(
        &self,
        device_id: &str,
        module_id: &str,
    ) -> Result<Module, ServiceError> {
        check_ids(device_id, module_id)?;
        let call = Call {
            operation: format!("reading module '{module_id}' of device '{device_id}'"),
            method: Method::GET,
            path: module_path(device_id, module_id),
            body: None,
            headers: Vec::new(),
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.module_identity(call).await
    }

    /// Registers a module on a device; the hub generates its keys. Fails with 409301
    /// ModuleAlreadyExistsOnDevice when the device has a module of that id.
    pub async fn create_module(
        &self,
        device_id: &str,
        module_id: &str,
        managed_by: Option<&str>,
    ) -> Result<Module, ServiceError> {
        check_ids(device_id, module_id)?;
        let body = json!({"deviceId": device_id, "moduleId": module_id, "managedBy": managed_by});
        let call = Call {
            operation: format!("creating module '{module_id}' on device '{device_id}'"),
            method: Method::PUT,
            path: module_path(device_id, module_id),
            body: Some(RequestBody::Json(&body)),
            headers: Vec::new(),
            // Without If-Match a repeated create fails as a conflict instead of acting twice.
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.module_identity(call).await
    }

    /// Deletes a module and its twin. With `etag`, only if the identity is unchanged
    /// since it was read; with `None`, whatever its state (`If-Match: *`).
    pub async fn delete_module(
        &self,
        device_id: &str,
        module_id: &str,
        etag: Option<&str>,
    ) -> Result<(), ServiceError> {
        check_ids(device_id, module_id)?;
        let call = Call {
            operation: format!("deleting module '{module_id}' of device '{device_id}'"),
            method: Method::DELETE,
            path: module_path(device_id, module_id),
            body: None,
            headers: vec![(IF_MATCH.as_str().into(), if_match(etag.unwrap_or("*")))],
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.transport.send(&call).await.map(drop)
    }

    /// Reads a module's twin.
    pub async fn get_module_twin(
        &self,
        device_id: &str,
        module_id: &str,
    ) -> Result<DeviceTwin, ServiceError> {
        check_ids(device_id, module_id)?;
        self.twin_call(
            module_twin_path(device_id, module_id),
            format!("reading the twin of module '{module_id}' of device '{device_id}'"),
            Method::GET,
            None,
            None,
        )
        .await
    }

    /// Merges `patch` into a module's twin, as [`Self::patch_twin`] does for a device.
    pub async fn patch_module_twin(
        &self,
        device_id: &str,
        module_id: &str,
        patch: &Value,
        etag: Option<&str>,
    ) -> Result<DeviceTwin, ServiceError> {
        check_ids(device_id, module_id)?;
        self.twin_call(
            module_twin_path(device_id, module_id),
            format!("patching the twin of module '{module_id}' of device '{device_id}'"),
            Method::PATCH,
            Some(patch),
            etag,
        )
        .await
    }

    /// Invokes `method_name` on a module, with the timeouts of [`Self::invoke_method`].
    pub async fn invoke_module_method(
        &self,
        device_id: &str,
        module_id: &str,
        method_name: &str,
        payload: &Value,
        response_timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<MethodResult, ServiceError> {
        check_ids(device_id, module_id)?;
        self.method_call(
            format!("{}/methods", module_twin_path(device_id, module_id)),
            &format!("module '{module_id}' of device '{device_id}'"),
            method_name,
            payload,
            (response_timeout, connect_timeout),
        )
        .await
    }

    async fn module_identity(&self, call: Call<'_>) -> Result<Module, ServiceError> {
        let response = self.transport.send(&call).await?;
        read_json(response, &call.operation, "module identity JSON").await
    }
}

fn check_ids(device_id: &str, module_id: &str) -> Result<(), ServiceError> {
    check_device_id(device_id)?;
    if module_id.trim().is_empty() {
        return Err(ServiceError::InvalidArgument(format!(
            "the module id is empty; give the id of a module of device '{device_id}'"
        )));
    }
    Ok(())
}

fn module_path(device_id: &str, module_id: &str) -> String {
    format!(
        "/devices/{}/modules/{}",
        encode_segment(device_id),
        encode_segment(module_id)
    )
}

fn module_twin_path(device_id: &str, module_id: &str) -> String {
    format!(
        "/twins/{}/modules/{}",
        encode_segment(device_id),
        encode_segment(module_id)
    )
}
