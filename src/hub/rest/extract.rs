//! Request pieces every handler reads the same way, with Azure-shaped errors instead
//! of the framework's plain-text rejections: JSON bodies and `If-Match`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::IF_MATCH;
use axum::http::request::Parts;
use serde_json::Value;

use crate::hub::error::HubError;
use crate::hub::store::IfMatch;

/// The largest request body the hub reads: a direct-method payload may be 128 KB and
/// a twin is far smaller, so anything past this is a mistake.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON request body.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = HubError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                HubError::MessageTooLarge(format!(
                    "The request body is larger than {MAX_BODY_BYTES} bytes"
                ))
            })?;
        let _ = state;
        parse_json(&body).map(JsonBody)
    }
}

fn parse_json(body: &Bytes) -> Result<Value, HubError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HubError::ArgumentInvalid(
            "The request body is empty; this operation needs a JSON document".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        HubError::ArgumentInvalid(format!(
            "The request body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// The optional `If-Match` condition of a write.
pub struct IfMatchHeader(pub Option<IfMatch>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatchHeader {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(IF_MATCH) {
            None => Ok(IfMatchHeader(None)),
            Some(value) => {
                let text = value.to_str().map_err(|_| {
                    HubError::ArgumentInvalid("The If-Match header is not ASCII text".into())
                })?;
                Ok(IfMatchHeader(Some(IfMatch::parse(text))))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_json() {
        assert_eq!(
            parse_json(&Bytes::from_static(b"{\"a\":1}")).unwrap()["a"],
            1
        );
        for bad in [&b""[..], b"  ", b"{", b"{'a':1}"] {
            let error = parse_json(&Bytes::copy_from_slice(bad)).unwrap_err();
            assert_eq!(error.error_code(), 400004);
        }
    }

    #[test]
    fn if_match_accepts_sdk_spellings() {
        assert_eq!(IfMatch::parse("*"), IfMatch::Any);
        assert_eq!(IfMatch::parse("\"*\""), IfMatch::Any);
        assert_eq!(
            IfMatch::parse("\"AAAAAAAAAAE=\""),
            IfMatch::Etag("AAAAAAAAAAE=".into())
        );
        assert_eq!(
            IfMatch::parse("AAAAAAAAAAE="),
            IfMatch::Etag("AAAAAAAAAAE=".into())
        );
    }
}
