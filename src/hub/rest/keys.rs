//! `POST /devices/keys/regenerate`: Azure's bulk key regeneration ("Service - Bulk
//! Regenerate Device Key"), which `az iot hub device-identity renew-key` uses. The body
//! names the key (`primaryKey`, `secondaryKey` or `both`) and up to 100 devices; the
//! answer lists the new keys and, per device, why a key was not rotated: 200 when every
//! device was rotated, 207 when some were, 400 when none was.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::HubState;
use super::extract::JsonBody;
use crate::hub::activity::Activity;
use crate::hub::error::HubError;
use crate::hub::identity::generate_key;
use crate::hub::store::IfMatch;

/// The most devices one request may name, as on Azure.
const MAX_DEVICES: usize = 100;

/// Which keys a request rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PolicyKey {
    Primary,
    Secondary,
    Both,
}

impl PolicyKey {
    fn parse(value: &Value) -> Result<Self, HubError> {
        match value.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("primarykey") => Ok(Self::Primary),
            Some("secondarykey") => Ok(Self::Secondary),
            Some("both") => Ok(Self::Both),
            _ => Err(HubError::ArgumentInvalid(format!(
                "policyKey is {value}; name the key to regenerate: \"primaryKey\", \
                 \"secondaryKey\" or \"both\""
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Primary => "primaryKey",
            Self::Secondary => "secondaryKey",
            Self::Both => "both",
        }
    }

    /// The key fields this policy replaces.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Primary => &["primaryKey"],
            Self::Secondary => &["secondaryKey"],
            Self::Both => &["primaryKey", "secondaryKey"],
        }
    }
}

/// Regenerates the named keys of the listed devices.
pub async fn regenerate_keys(
    State(state): State<HubState>,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    let policy = PolicyKey::parse(body.get("policyKey").unwrap_or(&Value::Null))?;
    let devices = body
        .get("devices")
        .and_then(Value::as_array)
        .filter(|devices| !devices.is_empty())
        .ok_or_else(|| {
            HubError::ArgumentInvalid(
                "The body must list the devices: {\"policyKey\": \"primaryKey\", \"devices\": \
                 [{\"id\": \"d1\"}]}"
                    .into(),
            )
        })?;
    if devices.len() > MAX_DEVICES {
        return Err(HubError::ArgumentInvalid(format!(
            "{} devices were named; one request regenerates the keys of at most {MAX_DEVICES}",
            devices.len()
        )));
    }
    let mut rotated = Vec::new();
    let mut errors = Vec::new();
    for device in devices {
        let id = device.get("id").and_then(Value::as_str).unwrap_or_default();
        let module_id = device.get("moduleId").cloned().unwrap_or(Value::Null);
        match regenerate(&state, id, &module_id, policy).await {
            Ok(keys) => rotated.push(json!({
                "id": id,
                "moduleId": module_id,
                "primaryKey": keys.0,
                "secondaryKey": keys.1,
            })),
            Err(error) => errors.push(json!({
                "id": id,
                "moduleId": module_id,
                "errorCode": error.error_code_name(),
                "errorStatus": error.to_string(),
            })),
        }
    }
    let status = match (rotated.is_empty(), errors.is_empty()) {
        (_, true) => StatusCode::OK,
        (false, false) => StatusCode::MULTI_STATUS,
        (true, false) => StatusCode::BAD_REQUEST,
    };
    let result = json!({
        "policyKey": policy.name(),
        "rotatedKeys": rotated,
        "errors": errors,
    });
    Ok((status, Json(result)).into_response())
}

/// Regenerates one device's keys and returns its primary and secondary keys.
async fn regenerate(
    state: &HubState,
    device_id: &str,
    module_id: &Value,
    policy: PolicyKey,
) -> Result<(Value, Value), HubError> {
    if !module_id.is_null() {
        return Err(HubError::ArgumentInvalid(
            "module identities are not served by this hub yet".into(),
        ));
    }
    let identity = state.store.device(device_id)?;
    if identity.authentication.kind != "sas" {
        return Err(HubError::ArgumentInvalid(format!(
            "device '{device_id}' authenticates with {}, not with keys",
            identity.authentication.kind
        )));
    }
    let mut body = serde_json::to_value(&identity)
        .map_err(|e| HubError::Server(format!("could not serialize device identity: {e}")))?;
    for field in policy.fields() {
        body["authentication"]["symmetricKey"][*field] = json!(generate_key());
    }
    let (identity, pending) =
        state
            .store
            .put_device(device_id, &body, Some(&IfMatch::Any), chrono::Utc::now())?;
    pending.durable().await?;
    Activity::count(&state.activity.identity_writes);
    let keys = identity.authentication.symmetric_key;
    Ok((json!(keys.primary_key), json!(keys.secondary_key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_keys_are_read_as_azure_names_them() {
        assert_eq!(
            PolicyKey::parse(&json!("primaryKey")).ok(),
            Some(PolicyKey::Primary)
        );
        assert_eq!(
            PolicyKey::parse(&json!("SecondaryKey")).ok(),
            Some(PolicyKey::Secondary)
        );
        assert_eq!(PolicyKey::parse(&json!("both")).ok(), Some(PolicyKey::Both));
        for bad in [json!("primary"), json!(null), json!(1)] {
            assert!(PolicyKey::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(PolicyKey::Both.fields(), ["primaryKey", "secondaryKey"]);
    }
}
