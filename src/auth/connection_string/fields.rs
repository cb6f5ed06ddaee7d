//! The `Name=value;Name=value` syntax both kinds of connection string share, and the checks
//! on individual values. Which names a kind needs is decided by the kind, not here.

use super::ConnectionStringKind;
use crate::auth::error::AuthError;

pub(super) const HOST_NAME: &str = "HostName";
pub(super) const SHARED_ACCESS_KEY_NAME: &str = "SharedAccessKeyName";
pub(super) const SHARED_ACCESS_KEY: &str = "SharedAccessKey";
pub(super) const DEVICE_ID: &str = "DeviceId";
pub(super) const MODULE_ID: &str = "ModuleId";
pub(super) const GATEWAY_HOST_NAME: &str = "GatewayHostName";
pub(super) const SHARED_ACCESS_SIGNATURE: &str = "SharedAccessSignature";
const X509: &str = "x509";

/// Every name Azure's SDKs accept, for "did you mean" hints on a name in the wrong case.
const KNOWN_NAMES: [&str; 8] = [
    HOST_NAME,
    SHARED_ACCESS_KEY_NAME,
    SHARED_ACCESS_KEY,
    DEVICE_ID,
    MODULE_ID,
    GATEWAY_HOST_NAME,
    SHARED_ACCESS_SIGNATURE,
    X509,
];

/// The parts of one connection string by name, each at most once and never empty.
#[derive(Default)]
pub(super) struct Fields<'a> {
    pub(super) host_name: Option<&'a str>,
    pub(super) shared_access_key_name: Option<&'a str>,
    pub(super) shared_access_key: Option<&'a str>,
    pub(super) device_id: Option<&'a str>,
    pub(super) module_id: Option<&'a str>,
    pub(super) gateway_host_name: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// Splits `text` into parts at `;` and each part at its first `=` (values may contain `=`,
    /// as base64 padding does). Whitespace around parts, names and values is trimmed and
    /// empty parts (a trailing `;`) are skipped. Names are case-sensitive, as in the Python SDK.
    pub(super) fn parse(text: &'a str, kind: ConnectionStringKind) -> Result<Self, AuthError> {
        let mut fields = Self::default();
        let parts = text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty());
        for (index, part) in parts.enumerate() {
            let (name, value) = part.split_once('=').ok_or(AuthError::MalformedPart {
                kind,
                position: index + 1,
            })?;
            let (field, slot) = fields.slot(name.trim(), kind)?;
            if slot.is_some() {
                return Err(AuthError::DuplicateField { kind, field });
            }
            let value = value.trim();
            if value.is_empty() {
                return Err(AuthError::EmptyField { kind, field });
            }
            *slot = Some(value);
        }
        Ok(fields)
    }

    /// The canonical name and the storage for the part called `name`.
    fn slot(
        &mut self,
        name: &str,
        kind: ConnectionStringKind,
    ) -> Result<(&'static str, &mut Option<&'a str>), AuthError> {
        match name {
            HOST_NAME => Ok((HOST_NAME, &mut self.host_name)),
            SHARED_ACCESS_KEY_NAME => {
                Ok((SHARED_ACCESS_KEY_NAME, &mut self.shared_access_key_name))
            }
            SHARED_ACCESS_KEY => Ok((SHARED_ACCESS_KEY, &mut self.shared_access_key)),
            DEVICE_ID => Ok((DEVICE_ID, &mut self.device_id)),
            MODULE_ID => Ok((MODULE_ID, &mut self.module_id)),
            GATEWAY_HOST_NAME => Ok((GATEWAY_HOST_NAME, &mut self.gateway_host_name)),
            SHARED_ACCESS_SIGNATURE => Err(AuthError::UnsupportedField {
                kind,
                field: SHARED_ACCESS_SIGNATURE,
                reason: "connection strings carrying a ready-made token cannot renew it; use one with SharedAccessKey",
            }),
            X509 => Err(AuthError::UnsupportedField {
                kind,
                field: X509,
                reason: "certificate authentication is not supported; use a connection string with SharedAccessKey",
            }),
            unknown => Err(AuthError::UnknownField {
                kind,
                name: unknown.to_owned(),
                suggestion: KNOWN_NAMES
                    .into_iter()
                    .find(|known| known.eq_ignore_ascii_case(unknown)),
            }),
        }
    }
}

/// The value of a part the kind cannot do without.
pub(super) fn required<'a>(
    kind: ConnectionStringKind,
    field: &'static str,
    value: Option<&'a str>,
) -> Result<&'a str, AuthError> {
    value.ok_or(AuthError::MissingField { kind, field })
}

/// Rejects a part that belongs to the other kind of connection string.
pub(super) fn forbidden(
    kind: ConnectionStringKind,
    field: &'static str,
    value: Option<&str>,
    reason: &'static str,
) -> Result<(), AuthError> {
    match value {
        Some(_) => Err(AuthError::FieldNotAllowed {
            kind,
            field,
            reason,
        }),
        None => Ok(()),
    }
}

/// A host name with an optional port (`my-hub.azure-devices.net`, `localhost:8443`,
/// `[::1]:8443`): the part of a URL between `//` and the path, which the token's resource
/// starts with.
pub(super) fn host(
    kind: ConnectionStringKind,
    field: &'static str,
    value: &str,
) -> Result<String, AuthError> {
    let allowed =
        |character: char| character.is_ascii_alphanumeric() || ".-_:[]".contains(character);
    if value.chars().all(allowed) {
        Ok(value.to_owned())
    } else {
        Err(AuthError::InvalidField {
            kind,
            field,
            reason: format!(
                "`{value}` is not a host name; give the hub's host name with an optional port, such as `my-hub.azure-devices.net` or `localhost:8443`, without a scheme or path"
            ),
        })
    }
}

/// A device or module id as IoT Hub allows it: 1 to 128 ASCII letters, digits and
/// `- : . + % _ # * ? ! ( ) , = @ ; $ '`.
pub(super) fn identity(
    kind: ConnectionStringKind,
    field: &'static str,
    value: &str,
) -> Result<String, AuthError> {
    match crate::auth::check_id(value) {
        Ok(()) => Ok(value.to_owned()),
        Err(problem) => Err(AuthError::InvalidField {
            kind,
            field,
            reason: problem.to_string(),
        }),
    }
}

/// A shared access policy name: ASCII letters, digits and `_ - @ .` (the C# SDK's check).
pub(super) fn policy(kind: ConnectionStringKind, value: &str) -> Result<String, AuthError> {
    let allowed = |character: char| character.is_ascii_alphanumeric() || "_-@.".contains(character);
    if value.chars().all(allowed) {
        Ok(value.to_owned())
    } else {
        Err(AuthError::InvalidField {
            kind,
            field: SHARED_ACCESS_KEY_NAME,
            reason: format!(
                "`{value}` is not a policy name; policy names such as `iothubowner` or `service` use ASCII letters, digits and `_ - @ .`"
            ),
        })
    }
}
