//! Who may use the hub: service API callers with a SAS token of its one shared access
//! policy, `iothubowner` (every right), and devices with a token signed with their own
//! keys (or the policy's). Both endpoints check credentials here.

use crate::auth::{SasToken, SharedAccessKey};
use crate::hub::error::HubError;

/// The one shared access policy of the local hub.
pub const OWNER_POLICY: &str = "iothubowner";

/// Who may call the hub: service API callers with the owner policy's key, and devices
/// with their own keys, under any of the host names the hub answers to.
pub struct HubAuth {
    owner_key: SharedAccessKey,
    host_names: Vec<String>,
}

impl HubAuth {
    /// Accepts tokens signed with `owner_key` for any of `host_names` (the names the
    /// hub answers to, with and without port).
    pub fn new(owner_key: SharedAccessKey, host_names: Vec<String>) -> Self {
        Self {
            owner_key,
            host_names,
        }
    }

    /// Checks the `Authorization` header value of a request for `path` (its URL path,
    /// still percent-encoded). As on IoT Hub, a token covers the request when its
    /// resource (`sr`) is a whole-segment prefix of the request's `{host}{path}`: the hub
    /// (`sr` = host) covers every request, `{host}/devices/d1` covers `/devices/d1`.
    pub fn check(&self, header: Option<&str>, path: &str, now: u64) -> Result<(), HubError> {
        let header = header.ok_or_else(|| {
            HubError::Unauthorized(
                "The request has no Authorization header; send `SharedAccessSignature sr=..&sig=..&se=..&skn=..` \
                 signed with the hub's shared access policy key"
                    .into(),
            )
        })?;
        let token = SasToken::parse(header).map_err(|e| {
            HubError::Unauthorized(format!(
                "The Authorization header is not a valid SAS token: {e}"
            ))
        })?;
        match token.key_name() {
            Some(OWNER_POLICY) => {}
            Some(other) => {
                return Err(HubError::Unauthorized(format!(
                    "The shared access policy '{other}' does not exist on this hub; use '{OWNER_POLICY}'"
                )));
            }
            None => {
                return Err(HubError::Unauthorized(
                    "The SAS token names no shared access policy (skn); the service API needs a \
                     policy token such as one built from the hub's service connection string"
                        .into(),
                ));
            }
        }
        let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let path = path.trim_end_matches('/');
        let resources: Vec<String> = self
            .host_names
            .iter()
            .map(|host| format!("{host}{path}"))
            .collect();
        let allowed: Vec<&str> = resources.iter().map(String::as_str).collect();
        token
            .verify(&self.owner_key, now, &allowed)
            .map_err(|e| HubError::Unauthorized(format!("The SAS token was refused: {e}")))
    }
}

impl HubAuth {
    /// Checks a device's or a module's CONNECT password: a SAS token for
    /// `{host}/devices/{id}` (`{host}/devices/{id}/modules/{mid}` for a module) under
    /// any name of this hub, signed with one of its own keys, or a token of the owner
    /// policy (which may act for any device).
    pub fn check_device<'k>(
        &self,
        password: &str,
        device_id: &str,
        module_id: Option<&str>,
        device_keys: impl IntoIterator<Item = &'k str>,
        now: u64,
    ) -> Result<(), String> {
        let token = SasToken::parse(password)
            .map_err(|e| format!("the password is not a SAS token: {e}"))?;
        let resources: Vec<String> = self
            .host_names
            .iter()
            .map(|host| crate::auth::device_resource(host, device_id, module_id))
            .collect();
        let allowed: Vec<&str> = resources.iter().map(String::as_str).collect();
        if token.key_name() == Some(OWNER_POLICY) {
            return token
                .verify(&self.owner_key, now, &allowed)
                .map_err(|e| e.to_string());
        }
        let mut last_error = format!("device '{device_id}' has no symmetric keys");
        for key in device_keys {
            let Ok(key) = SharedAccessKey::from_base64(key) else {
                continue;
            };
            match token.verify(&key, now, &allowed) {
                Ok(()) => return Ok(()),
                Err(error) => last_error = error.to_string(),
            }
        }
        Err(last_error)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn auth() -> HubAuth {
        let key = SharedAccessKey::from_bytes(vec![1u8; 32]);
        HubAuth::new(key, vec!["localhost:8443".into(), "127.0.0.1:8443".into()])
    }

    fn token(resource: &str, key: u8, policy: Option<&str>, expiry: u64) -> String {
        SasToken::sign(
            resource,
            &SharedAccessKey::from_bytes(vec![key; 32]),
            policy,
            expiry,
        )
        .to_string()
    }

    #[test]
    fn owner_tokens_for_any_hub_name_pass() {
        for host in ["localhost:8443", "127.0.0.1:8443", "LOCALHOST:8443"] {
            let header = token(host, 1, Some(OWNER_POLICY), NOW + 3600);
            auth().check(Some(&header), "/devices/d1", NOW).unwrap();
        }
    }

    #[test]
    fn a_token_for_a_narrower_resource_covers_the_requests_under_it() {
        let header = token(
            "localhost:8443/devices/d1",
            1,
            Some(OWNER_POLICY),
            NOW + 3600,
        );
        for path in ["/devices/d1", "/devices/d1/", "/devices/d1/modules/m1"] {
            auth().check(Some(&header), path, NOW).unwrap();
        }
        for path in ["/devices/d10", "/devices", "/twins/d1", "/devices/query"] {
            let error = auth().check(Some(&header), path, NOW).unwrap_err();
            assert_eq!(error.error_code(), 401002, "{path}");
        }
        let escaped = token(
            "localhost:8443/devices/a%20b",
            1,
            Some(OWNER_POLICY),
            NOW + 3600,
        );
        auth().check(Some(&escaped), "/devices/a%20b", NOW).unwrap();
    }

    #[test]
    fn everything_else_is_401002() {
        let cases = [
            None,
            Some("Bearer abc".to_owned()),
            Some(token("localhost:8443", 2, Some(OWNER_POLICY), NOW + 3600)),
            Some(token("localhost:8443", 1, Some(OWNER_POLICY), NOW - 3600)),
            Some(token("localhost:8443", 1, Some("service"), NOW + 3600)),
            Some(token("localhost:8443/devices/d1", 1, None, NOW + 3600)),
            Some(token("otherhub:8443", 1, Some(OWNER_POLICY), NOW + 3600)),
        ];
        for header in cases {
            let error = auth()
                .check(header.as_deref(), "/devices/d1", NOW)
                .unwrap_err();
            assert_eq!(error.error_code(), 401002, "{header:?}");
        }
    }
}
