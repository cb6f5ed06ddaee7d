//! Module identities as the registry REST API shows them
//! (`/devices/{id}/modules/{mid}`): the document shape, module-id rules and the
//! create/update rules. A module has its own keys (a device's keys never authenticate
//! it, nor the reverse), its own connection state and no status of its own.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::HubError;
use super::identity::{
    Authentication, check_body_device_id, generate_etag, generate_generation_id,
};
use crate::twin::UNSET_TIMESTAMP;

/// A module identity exactly as `GET /devices/{id}/modules/{mid}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleIdentity {
    /// The module id, unique within its device.
    pub module_id: String,
    /// Who manages the module (`IotEdge` for modules an IoT Edge runtime deploys).
    pub managed_by: Option<String>,
    /// The device the module belongs to.
    pub device_id: String,
    /// Changes when a module is deleted and created again with the same id.
    pub generation_id: String,
    /// Changes on every identity update.
    pub etag: String,
    /// `Connected` or `Disconnected`.
    pub connection_state: String,
    /// When the connection state last changed.
    pub connection_state_updated_time: String,
    /// When the module last connected or sent something.
    pub last_activity_time: String,
    /// Queued cloud-to-module messages.
    pub cloud_to_device_message_count: u64,
    /// Credentials.
    pub authentication: Authentication,
}

/// Checks a module id against IoT Hub's rules (those of device ids).
pub fn validate_module_id(module_id: &str) -> Result<(), HubError> {
    crate::auth::check_id(module_id).map_err(|problem| {
        HubError::ArgumentInvalid(format!("The module id is not valid: {problem}"))
    })
}

impl ModuleIdentity {
    /// Builds a new module identity from a `PUT /devices/{id}/modules/{mid}` body,
    /// generating missing keys.
    pub fn create(device_id: &str, module_id: &str, body: &Value) -> Result<Self, HubError> {
        validate_module_id(module_id)?;
        let mut identity = ModuleIdentity {
            module_id: module_id.to_owned(),
            managed_by: None,
            device_id: device_id.to_owned(),
            generation_id: generate_generation_id(),
            etag: generate_etag(),
            connection_state: "Disconnected".into(),
            connection_state_updated_time: UNSET_TIMESTAMP.into(),
            last_activity_time: UNSET_TIMESTAMP.into(),
            cloud_to_device_message_count: 0,
            authentication: Authentication::sas(),
        };
        identity.apply_request(body)?;
        Ok(identity)
    }

    /// Applies a `PUT /devices/{id}/modules/{mid}` body to an existing module.
    pub fn update(&self, body: &Value) -> Result<Self, HubError> {
        let mut updated = self.clone();
        updated.apply_request(body)?;
        updated.etag = generate_etag();
        Ok(updated)
    }

    /// The primary and secondary keys of a SAS module, for verifying its tokens.
    pub fn symmetric_keys(&self) -> impl Iterator<Item = &str> {
        self.authentication.symmetric_keys()
    }

    fn apply_request(&mut self, body: &Value) -> Result<(), HubError> {
        if !body.is_object() {
            return Err(HubError::ArgumentInvalid(
                "The module body must be a JSON object such as {\"moduleId\":\"m1\"}".into(),
            ));
        }
        check_body_device_id(&self.device_id, body)?;
        match body.get("moduleId") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if *id == self.module_id => {}
            Some(other) => {
                return Err(HubError::ArgumentInvalid(format!(
                    "The moduleId in the body ({other}) does not match the module id in the \
                     URL ('{}')",
                    self.module_id
                )));
            }
        }
        match body.get("managedBy") {
            None => {}
            Some(Value::Null) => self.managed_by = None,
            Some(Value::String(manager)) => {
                self.managed_by = (!manager.is_empty()).then(|| manager.clone());
            }
            Some(other) => {
                return Err(HubError::ArgumentInvalid(format!(
                    "The managedBy must be a string, not {other}"
                )));
            }
        }
        if let Some(auth) = body.get("authentication").filter(|v| !v.is_null()) {
            self.authentication.apply(auth)?;
        }
        self.authentication.fill_missing_keys();
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_new_module_has_generated_keys_and_azures_shape() {
        let module = ModuleIdentity::create("d1", "m1", &json!({"moduleId": "m1"})).unwrap();
        let keys: Vec<&str> = module.symmetric_keys().collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
        let shown = serde_json::to_value(&module).unwrap();
        for field in [
            "moduleId",
            "managedBy",
            "deviceId",
            "generationId",
            "etag",
            "connectionState",
            "connectionStateUpdatedTime",
            "lastActivityTime",
            "cloudToDeviceMessageCount",
            "authentication",
        ] {
            assert!(shown.get(field).is_some(), "{field} missing from {shown}");
        }
        assert!(shown.get("status").is_none(), "modules have no status");
        assert_eq!(shown["connectionState"], "Disconnected");
        assert_eq!(shown["authentication"]["type"], "sas");
    }

    #[test]
    fn empty_keys_are_generated_as_the_node_sdk_expects() {
        let body = json!({
            "moduleId": "m1", "deviceId": "d1",
            "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "", "secondaryKey": ""}}
        });
        let module = ModuleIdentity::create("d1", "m1", &body).unwrap();
        assert_eq!(module.symmetric_keys().count(), 2);
    }

    #[test]
    fn ids_in_the_body_must_match_the_url() {
        let wrong_module = ModuleIdentity::create("d1", "m1", &json!({"moduleId": "m2"}));
        assert_eq!(wrong_module.unwrap_err().error_code(), 400004);
        let wrong_device = ModuleIdentity::create("d1", "m1", &json!({"deviceId": "d2"}));
        assert_eq!(wrong_device.unwrap_err().error_code(), 400004);
        let bad_id = ModuleIdentity::create("d1", "has space", &json!({}));
        assert!(bad_id.unwrap_err().to_string().contains("module id"));
    }

    #[test]
    fn an_update_keeps_the_generation_and_changes_the_etag() {
        let module = ModuleIdentity::create("d1", "m1", &json!({})).unwrap();
        let updated = module.update(&json!({"managedBy": "IotEdge"})).unwrap();
        assert_eq!(updated.managed_by.as_deref(), Some("IotEdge"));
        assert_eq!(updated.generation_id, module.generation_id);
        assert_ne!(updated.etag, module.etag);
        assert_eq!(
            updated.symmetric_keys().collect::<Vec<_>>(),
            module.symmetric_keys().collect::<Vec<_>>(),
            "keys the body leaves out stay"
        );
    }
}
