//! The shared access key: decoded once, never printed, and the only place that runs HMAC.

use std::fmt;
use std::str::FromStr;

use base64::DecodeError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::AuthError;

type HmacSha256 = Hmac<Sha256>;

/// A symmetric key of a device or a shared access policy, held as its decoded bytes.
///
/// Azure hands keys out as base64 text; decoding once at the edge means a bad key fails when
/// the connection string is read, not at the first request. `Debug` prints
/// `SharedAccessKey(***)` and there is no `Display`, so a key cannot end up in a log by
/// accident; [`SharedAccessKey::to_base64`] is the one explicit way to get the text back.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedAccessKey(Vec<u8>);

impl SharedAccessKey {
    /// Decodes a key as Azure shows it (standard base64 alphabet with `=` padding), so that
    /// keys copied from the portal, the CLI or a registry response can be used directly.
    pub fn from_base64(encoded: &str) -> Result<Self, AuthError> {
        let encoded = encoded.trim();
        if encoded.is_empty() {
            return Err(AuthError::InvalidKey {
                reason: "is empty".to_owned(),
            });
        }
        STANDARD
            .decode(encoded)
            .map(Self)
            .map_err(|error| AuthError::InvalidKey {
                reason: describe_base64_error(&error),
            })
    }

    /// Wraps raw key bytes, for a hub that generates keys for new devices itself.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// Encodes the key the way Azure shows it, for writing it into a connection string or a
    /// registry document.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    /// HMAC-SHA256 of `message` under this key: the raw bytes of a SAS signature.
    pub(super) fn sign(&self, message: &str) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether `signature` is the HMAC-SHA256 of `message` under this key, compared in
    /// constant time so that a forger learns nothing from how long a rejection takes.
    pub(super) fn signed(&self, message: &str, signature: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        mac.verify_slice(signature).is_ok()
    }

    /// HMAC-SHA256 keyed with this key.
    fn mac(&self) -> HmacSha256 {
        // HMAC (RFC 2104) takes keys of any length, so this never fails.
        <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }
}

/// Says what is wrong with a base64 key without quoting any of its characters.
fn describe_base64_error(error: &DecodeError) -> String {
    match error {
        DecodeError::InvalidByte(offset, _) => {
            format!(
                "is not base64: character {} is outside the base64 alphabet",
                offset + 1
            )
        }
        DecodeError::InvalidLength(length) => format!(
            "is not base64: its {length} significant characters cannot be a whole number of bytes"
        ),
        DecodeError::InvalidLastSymbol(offset, _) => format!(
            "is not canonical base64: character {} carries bits that base64 does not allow there",
            offset + 1
        ),
        DecodeError::InvalidPadding => {
            "is not base64: its `=` padding is missing or misplaced".to_owned()
        }
    }
}

impl FromStr for SharedAccessKey {
    type Err = AuthError;

    fn from_str(encoded: &str) -> Result<Self, Self::Err> {
        Self::from_base64(encoded)
    }
}

impl fmt::Debug for SharedAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedAccessKey(***)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        let text = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let key = SharedAccessKey::from_base64(text).unwrap();
        assert_eq!(
            key,
            SharedAccessKey::from_bytes((0u8..32).collect::<Vec<_>>())
        );
        assert_eq!(key.to_base64(), text);
        assert_eq!(text.parse::<SharedAccessKey>().unwrap(), key);
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert!(SharedAccessKey::from_base64("  c2VjcmV0 \n").is_ok());
    }

    #[test]
    fn rejects_empty_key() {
        let error = SharedAccessKey::from_base64("  ").unwrap_err();
        assert!(error.to_string().contains("is empty"), "{error}");
    }

    #[test]
    fn rejects_bad_base64_without_echoing_it() {
        for bad in ["not base64!", "abc", "c2VjcmV0=", "YQ==YQ=="] {
            let error = SharedAccessKey::from_base64(bad).unwrap_err();
            assert!(
                matches!(error, AuthError::InvalidKey { .. }),
                "{bad}: {error:?}"
            );
            let message = error.to_string();
            assert!(!message.contains(bad), "{message}");
            assert!(message.contains("base64"), "{message}");
        }
    }

    #[test]
    fn rejects_non_canonical_last_character() {
        // "YR==" decodes to the byte of "YQ==" with stray low bits set.
        let error = SharedAccessKey::from_base64("YR==").unwrap_err();
        assert!(error.to_string().contains("canonical"), "{error}");
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SharedAccessKey::from_base64("c2VjcmV0LWtleQ==").unwrap();
        assert_eq!(format!("{key:?}"), "SharedAccessKey(***)");
        assert_eq!(format!("{key:#?}"), "SharedAccessKey(***)");
    }

    #[test]
    fn signature_checks_are_consistent() {
        let key = SharedAccessKey::from_bytes(b"key".to_vec());
        let signature = key.sign("message");
        assert!(key.signed("message", &signature));
        assert!(!key.signed("message!", &signature));
        assert!(!key.signed("message", &signature[..31]));
        assert!(!SharedAccessKey::from_bytes(b"kez".to_vec()).signed("message", &signature));
    }
}
