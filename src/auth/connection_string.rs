//! Connection strings: the service kind (`HostName;SharedAccessKeyName;SharedAccessKey`) and
//! the device kind (`HostName;DeviceId;SharedAccessKey[;ModuleId][;GatewayHostName]`), read,
//! written back, shown masked, and turned into SAS tokens for their resource.

mod fields;

use std::fmt;
use std::str::FromStr;

use fields::{
    DEVICE_ID, Fields, GATEWAY_HOST_NAME, HOST_NAME, MODULE_ID, SHARED_ACCESS_KEY,
    SHARED_ACCESS_KEY_NAME, SHARED_ACCESS_SIGNATURE, forbidden, required,
};

use super::error::AuthError;
use super::key::SharedAccessKey;
use super::resource::device_resource;
use super::sas::SasToken;

/// What a masked rendering shows instead of the key.
const MASK: &str = "***";

/// The `HostName` of a connection string, without parsing the rest: for showing strings
/// that may not parse, and for default names (connecting checks the whole string).
pub fn host_name_of(connection_string: &str) -> Option<&str> {
    connection_string
        .split(';')
        .find_map(|part| part.trim().strip_prefix(HOST_NAME)?.strip_prefix('='))
}

/// Any connection string, parsed or not, with its key or signature masked, for showing
/// and logging.
pub fn mask_connection_string(connection_string: &str) -> String {
    connection_string
        .split(';')
        .map(|part| match part.split_once('=') {
            Some((name, _))
                if name.eq_ignore_ascii_case(SHARED_ACCESS_KEY)
                    || name.eq_ignore_ascii_case(SHARED_ACCESS_SIGNATURE) =>
            {
                format!("{name}={MASK}")
            }
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Which kind of connection string was expected, so that errors can show a valid example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStringKind {
    /// A shared access policy's connection string, for the service API.
    Service,
    /// A device's (or module's) connection string, for the device API.
    Device,
    /// Either kind, as read by [`ConnectionString`].
    Any,
}

impl ConnectionStringKind {
    /// A valid connection string of this kind, with placeholders.
    pub(super) fn example(self) -> &'static str {
        match self {
            Self::Service => {
                "`HostName=<hub>.azure-devices.net;SharedAccessKeyName=<policy>;SharedAccessKey=<base64 key>`"
            }
            Self::Device => {
                "`HostName=<hub>.azure-devices.net;DeviceId=<device id>;SharedAccessKey=<base64 key>`"
            }
            Self::Any => {
                "`HostName=<hub>.azure-devices.net;SharedAccessKeyName=<policy>;SharedAccessKey=<base64 key>` (service) or `HostName=<hub>.azure-devices.net;DeviceId=<device id>;SharedAccessKey=<base64 key>` (device)"
            }
        }
    }
}

impl fmt::Display for ConnectionStringKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Service => "service connection string",
            Self::Device => "device connection string",
            Self::Any => "connection string",
        })
    }
}

/// A shared access policy's credentials (e.g. `iothubowner`), used by the service client to
/// call the hub's REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConnectionString {
    /// The hub's host name, with a port when it is not 443 (e.g. a local hub).
    pub host_name: String,
    /// The shared access policy the key belongs to; sent as `skn` in tokens.
    pub policy_name: String,
    /// The policy's key.
    pub key: SharedAccessKey,
}

impl ServiceConnectionString {
    /// A token for the whole hub (`sr` = host name, `skn` = policy), as the service SDKs sign
    /// it: the host name is used exactly as given, port included.
    pub fn sas_token(&self, expiry_epoch_secs: u64) -> SasToken {
        SasToken::sign(
            &self.host_name,
            &self.key,
            Some(&self.policy_name),
            expiry_epoch_secs,
        )
    }

    /// The connection string with the key, for saving or handing to another program.
    pub fn to_connection_string(&self) -> String {
        self.render(&self.key.to_base64())
    }

    /// The connection string with the key replaced by `***`, for showing and logging.
    pub fn masked(&self) -> String {
        self.render(MASK)
    }

    fn render(&self, key: &str) -> String {
        format!(
            "{HOST_NAME}={};{SHARED_ACCESS_KEY_NAME}={};{SHARED_ACCESS_KEY}={key}",
            self.host_name, self.policy_name
        )
    }

    fn from_fields(fields: &Fields<'_>, kind: ConnectionStringKind) -> Result<Self, AuthError> {
        let device_only = "it belongs in device connection strings; use a policy's connection string (with SharedAccessKeyName) for the service API";
        forbidden(kind, DEVICE_ID, fields.device_id, device_only)?;
        forbidden(kind, MODULE_ID, fields.module_id, device_only)?;
        forbidden(
            kind,
            GATEWAY_HOST_NAME,
            fields.gateway_host_name,
            device_only,
        )?;
        let host_name = required(kind, HOST_NAME, fields.host_name)?;
        let policy_name = required(kind, SHARED_ACCESS_KEY_NAME, fields.shared_access_key_name)?;
        let key = required(kind, SHARED_ACCESS_KEY, fields.shared_access_key)?;
        Ok(Self {
            host_name: fields::host(kind, HOST_NAME, host_name)?,
            policy_name: fields::policy(kind, policy_name)?,
            key: SharedAccessKey::from_base64(key)?,
        })
    }
}

impl FromStr for ServiceConnectionString {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let kind = ConnectionStringKind::Service;
        Self::from_fields(&Fields::parse(text, kind)?, kind)
    }
}

/// A device's (or a module's) credentials, used by a device client to connect over MQTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConnectionString {
    /// The hub's host name; tokens are signed for it even when a gateway is dialled.
    pub host_name: String,
    /// The device's id in the hub's registry.
    pub device_id: String,
    /// Set when the credentials are a module's rather than the device's.
    pub module_id: Option<String>,
    /// Where to connect instead of `host_name` (an IoT Edge gateway, or a local hub on
    /// another loopback address).
    pub gateway_host_name: Option<String>,
    /// The device's (or module's) key.
    pub key: SharedAccessKey,
}

impl DeviceConnectionString {
    /// The resource this device signs for: `{host}/devices/{deviceId}[/modules/{moduleId}]`.
    pub fn resource(&self) -> String {
        device_resource(&self.host_name, &self.device_id, self.module_id.as_deref())
    }

    /// The host to open the connection to: the gateway when there is one, else the hub.
    pub fn connect_host_name(&self) -> &str {
        self.gateway_host_name.as_deref().unwrap_or(&self.host_name)
    }

    /// A token for this device or module (no `skn`), used as the MQTT password.
    pub fn sas_token(&self, expiry_epoch_secs: u64) -> SasToken {
        SasToken::sign(&self.resource(), &self.key, None, expiry_epoch_secs)
    }

    /// The connection string with the key, for saving or handing to another program.
    pub fn to_connection_string(&self) -> String {
        self.render(&self.key.to_base64())
    }

    /// The connection string with the key replaced by `***`, for showing and logging.
    pub fn masked(&self) -> String {
        self.render(MASK)
    }

    /// Renders the parts in the order the C# SDK writes them.
    fn render(&self, key: &str) -> String {
        let mut parts = vec![
            format!("{HOST_NAME}={}", self.host_name),
            format!("{DEVICE_ID}={}", self.device_id),
        ];
        if let Some(module_id) = &self.module_id {
            parts.push(format!("{MODULE_ID}={module_id}"));
        }
        parts.push(format!("{SHARED_ACCESS_KEY}={key}"));
        if let Some(gateway) = &self.gateway_host_name {
            parts.push(format!("{GATEWAY_HOST_NAME}={gateway}"));
        }
        parts.join(";")
    }

    fn from_fields(fields: &Fields<'_>, kind: ConnectionStringKind) -> Result<Self, AuthError> {
        forbidden(
            kind,
            SHARED_ACCESS_KEY_NAME,
            fields.shared_access_key_name,
            "device connection strings sign with the device's own key; remove SharedAccessKeyName, or DeviceId for a service connection string",
        )?;
        let host_name = required(kind, HOST_NAME, fields.host_name)?;
        let device_id = required(kind, DEVICE_ID, fields.device_id)?;
        let key = required(kind, SHARED_ACCESS_KEY, fields.shared_access_key)?;
        Ok(Self {
            host_name: fields::host(kind, HOST_NAME, host_name)?,
            device_id: fields::identity(kind, DEVICE_ID, device_id)?,
            module_id: fields
                .module_id
                .map(|module_id| fields::identity(kind, MODULE_ID, module_id))
                .transpose()?,
            gateway_host_name: fields
                .gateway_host_name
                .map(|gateway| fields::host(kind, GATEWAY_HOST_NAME, gateway))
                .transpose()?,
            key: SharedAccessKey::from_base64(key)?,
        })
    }
}

impl FromStr for DeviceConnectionString {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let kind = ConnectionStringKind::Device;
        Self::from_fields(&Fields::parse(text, kind)?, kind)
    }
}

/// A connection string of either kind, for places that accept both (the command line, the
/// explorer's connect dialog). `DeviceId` makes it a device string, `SharedAccessKeyName`
/// a service string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionString {
    /// A shared access policy's connection string.
    Service(ServiceConnectionString),
    /// A device's or module's connection string.
    Device(DeviceConnectionString),
}

impl ConnectionString {
    /// The hub's host name, whichever the kind.
    pub fn host_name(&self) -> &str {
        match self {
            Self::Service(service) => &service.host_name,
            Self::Device(device) => &device.host_name,
        }
    }

    /// A token for the string's own resource (the hub, or the device).
    pub fn sas_token(&self, expiry_epoch_secs: u64) -> SasToken {
        match self {
            Self::Service(service) => service.sas_token(expiry_epoch_secs),
            Self::Device(device) => device.sas_token(expiry_epoch_secs),
        }
    }

    /// The connection string with the key, for saving or handing to another program.
    pub fn to_connection_string(&self) -> String {
        match self {
            Self::Service(service) => service.to_connection_string(),
            Self::Device(device) => device.to_connection_string(),
        }
    }

    /// The connection string with the key replaced by `***`, for showing and logging.
    pub fn masked(&self) -> String {
        match self {
            Self::Service(service) => service.masked(),
            Self::Device(device) => device.masked(),
        }
    }
}

impl FromStr for ConnectionString {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let kind = ConnectionStringKind::Any;
        let fields = Fields::parse(text, kind)?;
        if fields.device_id.is_some() {
            DeviceConnectionString::from_fields(&fields, kind).map(Self::Device)
        } else if fields.shared_access_key_name.is_some() {
            ServiceConnectionString::from_fields(&fields, kind).map(Self::Service)
        } else {
            required(kind, HOST_NAME, fields.host_name)?;
            Err(AuthError::MissingField {
                kind,
                field: "DeviceId or SharedAccessKeyName",
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
