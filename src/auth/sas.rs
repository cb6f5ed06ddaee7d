//! SAS tokens: signing, rendering, parsing and verifying
//! `SharedAccessSignature sr=...&sig=...&se=...[&skn=...]`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::AuthError;
use super::key::SharedAccessKey;
use super::resource::{covers, decode_component, encode_component};

/// How long after its `se` a token is still accepted, for clocks that disagree a little:
/// the 5 minutes of the Azure C# SDK's `SharedAccessSignatureConstants.MaxClockSkew`.
pub const CLOCK_SKEW_ALLOWANCE_SECS: u64 = 5 * 60;

/// The word a token starts with, before a space.
const PREFIX: &str = "SharedAccessSignature";

/// A shared access signature: proof that whoever holds it had the key, limited to one
/// resource (the hub, or one device) and valid until its expiry.
///
/// A token keeps `sr` and `se` exactly as they were signed, so a parsed token renders back
/// and verifies whichever encoding its signer chose. `Debug` hides the signature: a token is
/// a credential until it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken {
    /// The resource, URL-decoded once (e.g. `my-hub.azure-devices.net/devices/d1`).
    resource: String,
    /// `sr` as it was signed (URL-encoded by the signer).
    signed_resource: String,
    /// The HMAC-SHA256 bytes.
    signature: Vec<u8>,
    expiry: u64,
    /// `se` as it was signed (decimal digits).
    signed_expiry: String,
    key_name: Option<String>,
}

impl SasToken {
    /// Signs `resource` until `expiry` (Unix seconds) with `key`; `key_name` is the shared
    /// access policy (`skn`) for service tokens and `None` for device tokens.
    ///
    /// The resource is URL-encoded as the Python SDK does (`urllib.parse.quote(resource,
    /// safe="")`), and the string to sign is that encoded resource, `"\n"`, and the expiry.
    pub fn sign(
        resource: &str,
        key: &SharedAccessKey,
        key_name: Option<&str>,
        expiry: u64,
    ) -> SasToken {
        let signed_resource = encode_component(resource);
        let signed_expiry = expiry.to_string();
        SasToken {
            signature: key.sign(&string_to_sign(&signed_resource, &signed_expiry)),
            resource: resource.to_owned(),
            signed_resource,
            expiry,
            signed_expiry,
            key_name: key_name.filter(|name| !name.is_empty()).map(str::to_owned),
        }
    }

    /// Reads a token as the SDKs send it: the `SharedAccessSignature ` prefix (optional here),
    /// then `&`-separated `name=value` fields in any order. Field names match
    /// case-insensitively, unknown fields are ignored, and values are URL-decoded (`+` stays
    /// `+`), as in the C# SDK's parser.
    pub fn parse(text: &str) -> Result<SasToken, AuthError> {
        let fields = TokenFields::parse(fields_text(text.trim())?)?;
        let signed_resource = fields
            .sr
            .ok_or(AuthError::MissingTokenField { field: "sr" })?;
        let signature = fields
            .sig
            .ok_or(AuthError::MissingTokenField { field: "sig" })?;
        let signed_expiry = fields
            .se
            .ok_or(AuthError::MissingTokenField { field: "se" })?;
        let (expiry, signed_expiry) = parse_expiry(signed_expiry)?;
        Ok(SasToken {
            resource: parse_resource(signed_resource)?,
            signed_resource: signed_resource.to_owned(),
            signature: parse_signature(signature)?,
            expiry,
            signed_expiry,
            key_name: fields.skn.map(parse_key_name).transpose()?.flatten(),
        })
    }

    /// Checks, in this order, that the token was signed with `key` (compared in constant
    /// time), that it has not expired at `now` (Unix seconds, allowing
    /// [`CLOCK_SKEW_ALLOWANCE_SECS`]), and that it covers one of `allowed_resources`.
    ///
    /// `allowed_resources` are the resource being accessed under every name the hub answers
    /// to (`localhost/devices/d1`, `localhost:8443/devices/d1`, `127.0.0.1/devices/d1`, ...).
    /// A token covers a resource when the hosts match ignoring ASCII case and the token's
    /// path is a whole-segment prefix of the resource's path: a hub token (`sr` = host)
    /// covers every device, a device token covers that device and its modules only. A token
    /// segment may also be the accessed id escaped the way the C# SDK escapes ids (it signs
    /// `{host}/devices/{UrlEncode(id)}`).
    pub fn verify(
        &self,
        key: &SharedAccessKey,
        now: u64,
        allowed_resources: &[&str],
    ) -> Result<(), AuthError> {
        if !key.signed(
            &string_to_sign(&self.signed_resource, &self.signed_expiry),
            &self.signature,
        ) {
            return Err(AuthError::BadSignature {
                resource: self.resource.clone(),
            });
        }
        if now > self.expiry.saturating_add(CLOCK_SKEW_ALLOWANCE_SECS) {
            return Err(AuthError::Expired {
                resource: self.resource.clone(),
                expiry: self.expiry,
                now,
            });
        }
        if !allowed_resources
            .iter()
            .any(|allowed| covers(&self.resource, allowed))
        {
            return Err(AuthError::ResourceNotCovered {
                resource: self.resource.clone(),
                allowed: allowed_resources
                    .iter()
                    .map(|&allowed| allowed.to_owned())
                    .collect(),
            });
        }
        Ok(())
    }

    /// The resource the token grants, URL-decoded (e.g. `my-hub.azure-devices.net/devices/d1`).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// When the token expires, in Unix seconds.
    pub fn expiry(&self) -> u64 {
        self.expiry
    }

    /// The shared access policy that signed the token; `None` for device tokens.
    pub fn key_name(&self) -> Option<&str> {
        self.key_name.as_deref()
    }

    /// The signature in base64, as it appears (URL-encoded) in `sig`.
    pub fn signature_base64(&self) -> String {
        STANDARD.encode(&self.signature)
    }
}

/// The text the HMAC covers: the resource as it appears in `sr`, a newline, the expiry.
fn string_to_sign(signed_resource: &str, signed_expiry: &str) -> String {
    format!("{signed_resource}\n{signed_expiry}")
}

/// The `name=value&...` part of a token, after the prefix if there is one.
fn fields_text(token: &str) -> Result<&str, AuthError> {
    let Some((prefix, rest)) = token.split_once(char::is_whitespace) else {
        return match token {
            PREFIX => Err(AuthError::MalformedToken {
                reason: "it has no fields after `SharedAccessSignature`".to_owned(),
            }),
            _ => Ok(token),
        };
    };
    if prefix != PREFIX {
        return Err(AuthError::MalformedToken {
            reason: "it must start with `SharedAccessSignature ` (case-sensitive) or with its first field".to_owned(),
        });
    }
    let rest = rest.trim_start();
    if rest.contains(char::is_whitespace) {
        return Err(AuthError::MalformedToken {
            reason: "it contains whitespace after the fields start; values must be URL-encoded"
                .to_owned(),
        });
    }
    Ok(rest)
}

/// The raw (still URL-encoded) values of the fields a token is made of.
#[derive(Default)]
struct TokenFields<'a> {
    sr: Option<&'a str>,
    sig: Option<&'a str>,
    se: Option<&'a str>,
    skn: Option<&'a str>,
}

impl<'a> TokenFields<'a> {
    fn parse(text: &'a str) -> Result<Self, AuthError> {
        let mut fields = Self::default();
        let parts = text.split('&').filter(|part| !part.is_empty());
        for (index, part) in parts.enumerate() {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| AuthError::MalformedToken {
                    reason: format!("field {} is not `name=value`", index + 1),
                })?;
            let (field, slot) = match name.to_ascii_lowercase().as_str() {
                "sr" => ("sr", &mut fields.sr),
                "sig" => ("sig", &mut fields.sig),
                "se" => ("se", &mut fields.se),
                "skn" => ("skn", &mut fields.skn),
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(AuthError::DuplicateTokenField { field });
            }
        }
        Ok(fields)
    }
}

/// `sr`, decoded once: the resource the token grants.
fn parse_resource(signed_resource: &str) -> Result<String, AuthError> {
    let invalid = |reason: &str| AuthError::InvalidTokenField {
        field: "sr",
        reason: reason.to_owned(),
    };
    let resource = decode_component(signed_resource)
        .map_err(|_| invalid("it is not UTF-8 once URL-decoded"))?;
    if resource.is_empty() {
        return Err(invalid(
            "it is empty; it must name the hub or a device, e.g. `my-hub.azure-devices.net/devices/d1`",
        ));
    }
    Ok(resource)
}

/// `sig`: URL-encoded standard base64 of the HMAC bytes.
fn parse_signature(signature: &str) -> Result<Vec<u8>, AuthError> {
    decode_component(signature)
        .ok()
        .and_then(|decoded| STANDARD.decode(decoded).ok())
        .ok_or(AuthError::InvalidTokenField {
            field: "sig",
            reason: "it is not URL-encoded base64 (the signature is not repeated here)".to_owned(),
        })
}

/// `se`: decimal Unix seconds. Returns the number and the decoded text that was signed.
fn parse_expiry(signed_expiry: &str) -> Result<(u64, String), AuthError> {
    let decoded = decode_component(signed_expiry).unwrap_or_default();
    match decoded.parse::<u64>() {
        Ok(expiry) if decoded.bytes().all(|byte| byte.is_ascii_digit()) => Ok((expiry, decoded)),
        _ => Err(AuthError::InvalidTokenField {
            field: "se",
            reason: format!(
                "`{signed_expiry}` is not a whole number of seconds since 1970-01-01T00:00:00Z"
            ),
        }),
    }
}

/// `skn`, decoded; an empty one means no policy, as in the SDKs.
fn parse_key_name(key_name: &str) -> Result<Option<String>, AuthError> {
    let decoded = decode_component(key_name).map_err(|_| AuthError::InvalidTokenField {
        field: "skn",
        reason: "it is not UTF-8 once URL-decoded".to_owned(),
    })?;
    Ok(Some(decoded).filter(|name| !name.is_empty()))
}

impl FromStr for SasToken {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// The token as it goes on the wire (MQTT password, `Authorization` header).
impl fmt::Display for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} sr={}&sig={}&se={}",
            self.signed_resource,
            encode_component(&self.signature_base64()),
            self.signed_expiry
        )?;
        match &self.key_name {
            Some(key_name) => write!(f, "&skn={}", encode_component(key_name)),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasToken")
            .field("resource", &self.resource)
            .field("expiry", &self.expiry)
            .field("key_name", &self.key_name)
            .field("signature", &"***")
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
