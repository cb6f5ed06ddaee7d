//! Device identities as the registry REST API shows them (`/devices/{id}`): the
//! document shape, device-id rules, key generation and the create/update rules.
//! Twin state lives in [`crate::twin`]; this module only owns the identity.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::HubError;
use crate::twin::{UNSET_TIMESTAMP, format_timestamp};

/// Size of generated symmetric keys in bytes (as Azure generates them).
const GENERATED_KEY_BYTES: usize = 32;

/// Bounds IoT Hub puts on the decoded length of a symmetric key.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

/// Checks a device id against IoT Hub's rules, so a bad id fails with a message
/// naming the character instead of a confusing 404 later.
pub fn validate_device_id(device_id: &str) -> Result<(), HubError> {
    crate::auth::check_id(device_id).map_err(|problem| {
        HubError::ArgumentInvalid(format!("The device id is not valid: {problem}"))
    })
}

/// A freshly generated symmetric key, base64-encoded as Azure shows keys.
pub fn generate_key() -> String {
    let mut bytes = [0u8; GENERATED_KEY_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// A new opaque etag for an identity document.
pub(super) fn generate_etag() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(u64::from_be_bytes(bytes).to_string())
}

/// A generation id: distinguishes devices that reused an id after a delete.
pub(super) fn generate_generation_id() -> String {
    let value = rand::rng().next_u64() % 1_000_000_000_000_000_000;
    format!("{value:018}")
}

/// Symmetric keys of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymmetricKey {
    /// Base64 primary key.
    pub primary_key: Option<String>,
    /// Base64 secondary key.
    pub secondary_key: Option<String>,
}

/// X.509 thumbprints of a device (unused by SAS devices, kept for round trips).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509Thumbprints {
    /// Primary thumbprint.
    pub primary_thumbprint: Option<String>,
    /// Secondary thumbprint.
    pub secondary_thumbprint: Option<String>,
}

/// How a device or module authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    /// `sas`, `selfSigned`, `certificateAuthority` or `none`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Keys of a `sas` device.
    pub symmetric_key: SymmetricKey,
    /// Thumbprints of a `selfSigned` device.
    pub x509_thumbprint: X509Thumbprints,
}

impl Authentication {
    /// SAS authentication with keys still to be generated ([`Self::fill_missing_keys`]).
    pub(super) fn sas() -> Self {
        Authentication {
            kind: "sas".into(),
            symmetric_key: SymmetricKey {
                primary_key: None,
                secondary_key: None,
            },
            x509_thumbprint: X509Thumbprints::default(),
        }
    }

    /// The primary and secondary keys of SAS authentication, for verifying tokens.
    pub fn symmetric_keys(&self) -> impl Iterator<Item = &str> {
        let keys = &self.symmetric_key;
        (self.kind == "sas")
            .then_some([keys.primary_key.as_deref(), keys.secondary_key.as_deref()])
            .into_iter()
            .flatten()
            .flatten()
    }

    /// Applies the `authentication` member of a request body.
    pub(super) fn apply(&mut self, auth: &Value) -> Result<(), HubError> {
        let kind = auth.get("type").and_then(Value::as_str).unwrap_or("sas");
        let kind = match kind.to_ascii_lowercase().as_str() {
            "sas" => "sas",
            "selfsigned" => "selfSigned",
            "certificateauthority" => "certificateAuthority",
            "none" => "none",
            _ => {
                return Err(HubError::ArgumentInvalid(format!(
                    "The authentication type '{kind}' is not valid; use sas, selfSigned, \
                     certificateAuthority or none"
                )));
            }
        };
        self.kind = kind.into();
        let keys = auth.get("symmetricKey");
        let primary = optional_key(keys, "primaryKey")?;
        let secondary = optional_key(keys, "secondaryKey")?;
        self.symmetric_key = SymmetricKey {
            primary_key: primary,
            secondary_key: secondary,
        };
        if let Some(thumbprints) = auth.get("x509Thumbprint").filter(|v| !v.is_null()) {
            self.x509_thumbprint = serde_json::from_value(thumbprints.clone()).map_err(|e| {
                HubError::ArgumentInvalid(format!("The x509Thumbprint is not valid: {e}"))
            })?;
        }
        Ok(())
    }

    /// Generates the keys SAS authentication lacks (a body may leave them out or empty,
    /// as the Node.js SDK does); other kinds have none.
    pub(super) fn fill_missing_keys(&mut self) {
        let keys = &mut self.symmetric_key;
        if self.kind == "sas" {
            keys.primary_key.get_or_insert_with(generate_key);
            keys.secondary_key.get_or_insert_with(generate_key);
        } else {
            keys.primary_key = None;
            keys.secondary_key = None;
        }
    }
}

/// Device capabilities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Whether the device is an IoT Edge device.
    pub iot_edge: bool,
}

/// A device identity exactly as `GET /devices/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceIdentity {
    /// The device id.
    pub device_id: String,
    /// Changes when a device is deleted and created again with the same id.
    pub generation_id: String,
    /// Changes on every identity update.
    pub etag: String,
    /// `Connected` or `Disconnected`.
    pub connection_state: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Free text explaining the status.
    pub status_reason: Option<String>,
    /// When the connection state last changed.
    pub connection_state_updated_time: String,
    /// When the status last changed.
    pub status_updated_time: String,
    /// When the device last connected or sent something.
    pub last_activity_time: String,
    /// Queued cloud-to-device messages.
    pub cloud_to_device_message_count: u64,
    /// Credentials.
    pub authentication: Authentication,
    /// Capabilities.
    pub capabilities: Capabilities,
    /// The device's scope in an IoT Edge hierarchy: an IoT Edge device's own scope
    /// (`ms-azure-iot-edge://{deviceId}-{generationId}`, set by the hub), or for another
    /// device the scope of its parent IoT Edge device. Absent when it has neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_scope: Option<String>,
    /// The scopes of the device's parent: the parent's scope for a device with a
    /// parent, what the caller set for an IoT Edge device, otherwise empty.
    #[serde(default)]
    pub parent_scopes: Vec<String>,
}

/// How IoT Hub starts the scope of an IoT Edge device.
pub const EDGE_SCOPE_PREFIX: &str = "ms-azure-iot-edge://";

/// The IoT Edge device a scope names (`ms-azure-iot-edge://{deviceId}-{generationId}`).
pub fn scope_device_id(scope: &str) -> Option<&str> {
    let rest = scope.strip_prefix(EDGE_SCOPE_PREFIX)?;
    let (device_id, generation) = rest.rsplit_once('-')?;
    (!device_id.is_empty() && !generation.is_empty()).then_some(device_id)
}

impl DeviceIdentity {
    /// Builds a new identity from a `PUT /devices/{id}` body, generating missing keys.
    pub fn create(device_id: &str, body: &Value, now: DateTime<Utc>) -> Result<Self, HubError> {
        validate_device_id(device_id)?;
        check_body_device_id(device_id, body)?;
        let mut identity = DeviceIdentity {
            device_id: device_id.to_owned(),
            generation_id: generate_generation_id(),
            etag: generate_etag(),
            connection_state: "Disconnected".into(),
            status: "enabled".into(),
            status_reason: None,
            connection_state_updated_time: UNSET_TIMESTAMP.into(),
            status_updated_time: UNSET_TIMESTAMP.into(),
            last_activity_time: UNSET_TIMESTAMP.into(),
            cloud_to_device_message_count: 0,
            authentication: Authentication::sas(),
            capabilities: Capabilities::default(),
            device_scope: None,
            parent_scopes: Vec::new(),
        };
        identity.apply_request(body, now)?;
        // As on Azure, a new device's status has never been updated, whatever it says.
        identity.status_updated_time = UNSET_TIMESTAMP.into();
        Ok(identity)
    }

    /// Applies a `PUT /devices/{id}` body to an existing identity (the update case).
    pub fn update(&self, body: &Value, now: DateTime<Utc>) -> Result<Self, HubError> {
        check_body_device_id(&self.device_id, body)?;
        let mut updated = self.clone();
        updated.apply_request(body, now)?;
        updated.etag = generate_etag();
        Ok(updated)
    }

    /// The primary and secondary keys of a SAS device, for verifying its tokens.
    pub fn symmetric_keys(&self) -> impl Iterator<Item = &str> {
        self.authentication.symmetric_keys()
    }

    fn apply_request(&mut self, body: &Value, now: DateTime<Utc>) -> Result<(), HubError> {
        let Some(body) = body.as_object() else {
            return Err(HubError::ArgumentInvalid(
                "The device body must be a JSON object such as {\"deviceId\":\"d1\"}".into(),
            ));
        };
        if let Some(status) = body.get("status").filter(|v| !v.is_null()) {
            let status = match status.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("enabled") => "enabled",
                Some("disabled") => "disabled",
                _ => {
                    return Err(HubError::ArgumentInvalid(format!(
                        "The device status {status} is not valid; use \"enabled\" or \"disabled\""
                    )));
                }
            };
            if self.status != status {
                self.status = status.into();
                self.status_updated_time = format_timestamp(now);
            }
        }
        if let Some(reason) = body.get("statusReason") {
            self.status_reason = reason.as_str().map(str::to_owned);
        }
        if let Some(capabilities) = body.get("capabilities").filter(|v| !v.is_null()) {
            self.capabilities = serde_json::from_value(capabilities.clone()).map_err(|e| {
                HubError::ArgumentInvalid(format!("The device capabilities are not valid: {e}"))
            })?;
        }
        self.apply_scopes(body)?;
        if let Some(auth) = body.get("authentication").filter(|v| !v.is_null()) {
            self.authentication.apply(auth)?;
        }
        self.authentication.fill_missing_keys();
        Ok(())
    }

    /// The scope rules of IoT Edge hierarchies, as IoT Hub applies them: an IoT Edge
    /// device's `deviceScope` is its own and its `parentScopes` are what the caller set
    /// (one parent at most); any other device's `deviceScope` names its parent and its
    /// `parentScopes` follow it. Fields the body leaves out stay as they were.
    fn apply_scopes(&mut self, body: &Map<String, Value>) -> Result<(), HubError> {
        if self.capabilities.iot_edge {
            let own = format!(
                "{EDGE_SCOPE_PREFIX}{}-{}",
                self.device_id, self.generation_id
            );
            if let Some(parents) = body.get("parentScopes") {
                self.parent_scopes = scope_list(parents)?;
            }
            if self.parent_scopes.len() > 1 {
                return Err(HubError::ArgumentInvalid(
                    "An IoT Edge device has at most one parent; give parentScopes one scope".into(),
                ));
            }
            if self.parent_scopes.contains(&own) {
                return Err(HubError::ArgumentInvalid(format!(
                    "The IoT Edge device '{}' cannot be its own parent",
                    self.device_id
                )));
            }
            self.device_scope = Some(own);
        } else {
            let was_own_scope = self
                .device_scope
                .as_deref()
                .and_then(scope_device_id)
                .is_some_and(|id| id == self.device_id);
            match body.get("deviceScope") {
                Some(Value::Null) => self.device_scope = None,
                Some(Value::String(scope)) => {
                    self.device_scope = (!scope.is_empty()).then(|| scope.clone());
                }
                Some(other) => {
                    return Err(HubError::ArgumentInvalid(format!(
                        "The deviceScope must be a string, not {other}"
                    )));
                }
                // No longer an IoT Edge device: its own scope goes.
                None if was_own_scope => self.device_scope = None,
                None => {}
            }
            self.parent_scopes = self.device_scope.iter().cloned().collect();
        }
        for scope in self.device_scope.iter().chain(&self.parent_scopes) {
            if scope_device_id(scope).is_none() {
                return Err(HubError::ArgumentInvalid(format!(
                    "The scope '{scope}' is not an IoT Edge device scope \
                     ({EDGE_SCOPE_PREFIX}{{deviceId}}-{{number}}); copy the deviceScope of the \
                     parent IoT Edge device"
                )));
            }
        }
        Ok(())
    }
}

/// A `parentScopes` value: an array of scope strings (`null` for none).
fn scope_list(value: &Value) -> Result<Vec<String>, HubError> {
    let refuse = || {
        HubError::ArgumentInvalid(format!(
            "The parentScopes must be an array of scope strings, not {value}"
        ))
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .filter(|item| item.as_str() != Some(""))
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(refuse))
            .collect(),
        _ => Err(refuse()),
    }
}

pub(super) fn check_body_device_id(device_id: &str, body: &Value) -> Result<(), HubError> {
    match body.get("deviceId") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(id)) if id == device_id => Ok(()),
        Some(other) => Err(HubError::ArgumentInvalid(format!(
            "The deviceId in the body ({other}) does not match the device id in the URL \
             ('{device_id}')"
        ))),
    }
}

/// Reads one key of `symmetricKey`: absent, null or empty means "generate one".
fn optional_key(keys: Option<&Value>, name: &str) -> Result<Option<String>, HubError> {
    let Some(value) = keys.and_then(|keys| keys.get(name)) else {
        return Ok(None);
    };
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.is_empty() => Ok(None),
        Value::String(text) => {
            let length = STANDARD
                .decode(text)
                .map(|bytes| bytes.len())
                .map_err(|_| {
                    HubError::ArgumentInvalid(format!(
                        "The {name} is not valid base64; give a base64 key of 16 to 64 bytes or \
                     leave it empty to have one generated"
                    ))
                })?;
            if !KEY_BYTES.contains(&length) {
                return Err(HubError::ArgumentInvalid(format!(
                    "The {name} is {length} bytes long; keys must be 16 to 64 bytes"
                )));
            }
            Ok(Some(text.clone()))
        }
        other => Err(HubError::ArgumentInvalid(format!(
            "The {name} must be a base64 string, not {other}"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn bad_device_ids_are_argument_errors() {
        assert!(validate_device_id("d1").is_ok());
        let error = validate_device_id("has space").unwrap_err();
        assert_eq!(error.error_code(), 400004);
        assert!(error.to_string().contains("contains ' '"), "{error}");
    }

    #[test]
    fn create_generates_missing_keys() {
        let identity = DeviceIdentity::create("d1", &json!({"deviceId": "d1"}), now()).unwrap();
        let keys: Vec<&str> = identity.symmetric_keys().collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
        assert_eq!(STANDARD.decode(keys[0]).unwrap().len(), 32);
        assert_eq!(identity.status, "enabled");
        assert_eq!(identity.connection_state, "Disconnected");
    }

    #[test]
    fn create_keeps_given_keys_and_status() {
        let key = STANDARD.encode([7u8; 32]);
        let body = json!({"deviceId": "d1", "status": "disabled",
            "authentication": {"type": "sas", "symmetricKey": {"primaryKey": key, "secondaryKey": ""}}});
        let identity = DeviceIdentity::create("d1", &body, now()).unwrap();
        assert_eq!(
            identity.authentication.symmetric_key.primary_key.as_deref(),
            Some(key.as_str())
        );
        assert!(
            identity
                .authentication
                .symmetric_key
                .secondary_key
                .is_some()
        );
        assert_eq!(identity.status, "disabled");
    }

    #[test]
    fn bad_requests_are_argument_invalid() {
        let short = STANDARD.encode([1u8; 8]);
        for body in [
            json!({"deviceId": "other"}),
            json!({"status": "sleeping"}),
            json!({"authentication": {"type": "magic"}}),
            json!({"authentication": {"symmetricKey": {"primaryKey": "not base64!"}}}),
            json!({"authentication": {"symmetricKey": {"primaryKey": short}}}),
            json!([1, 2]),
        ] {
            let error = DeviceIdentity::create("d1", &body, now()).unwrap_err();
            assert_eq!(error.error_code(), 400004, "{body}");
        }
    }

    #[test]
    fn update_changes_etag_and_status_time() {
        let identity = DeviceIdentity::create("d1", &json!({}), now()).unwrap();
        assert_eq!(
            identity.status_updated_time, UNSET_TIMESTAMP,
            "never updated yet"
        );
        let disabled = DeviceIdentity::create("d2", &json!({"status": "disabled"}), now());
        assert_eq!(disabled.unwrap().status_updated_time, UNSET_TIMESTAMP);
        let later = now() + chrono::Duration::seconds(5);
        let updated = identity
            .update(&json!({"status": "disabled"}), later)
            .unwrap();
        assert_ne!(updated.etag, identity.etag);
        assert_eq!(updated.status, "disabled");
        assert_eq!(updated.status_updated_time, format_timestamp(later));
        assert_eq!(updated.generation_id, identity.generation_id);
    }

    #[test]
    fn non_sas_devices_have_no_keys() {
        let body = json!({"authentication": {"type": "selfSigned",
            "x509Thumbprint": {"primaryThumbprint": "ABC", "secondaryThumbprint": null}}});
        let identity = DeviceIdentity::create("d1", &body, now()).unwrap();
        assert_eq!(identity.symmetric_keys().count(), 0);
        assert_eq!(
            identity
                .authentication
                .x509_thumbprint
                .primary_thumbprint
                .as_deref(),
            Some("ABC")
        );
    }

    #[test]
    fn identity_json_has_azure_field_names() {
        let identity = DeviceIdentity::create("d1", &json!({}), now()).unwrap();
        let json = serde_json::to_value(&identity).unwrap();
        for field in [
            "deviceId",
            "generationId",
            "etag",
            "connectionState",
            "status",
            "statusReason",
            "connectionStateUpdatedTime",
            "statusUpdatedTime",
            "lastActivityTime",
            "cloudToDeviceMessageCount",
            "authentication",
            "capabilities",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert_eq!(json["authentication"]["type"], "sas");
    }
}
