//! Request pieces every handler reads the same way, with Azure-shaped errors instead
//! of the framework's plain-text rejections: the device id in the path, JSON bodies
//! (declared as JSON, read within the hub's HTTP timeout) and `If-Match`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use serde_json::Value;

use super::HubState;
use crate::hub::error::HubError;
use crate::hub::store::IfMatch;

/// The largest request body the hub reads: a direct-method payload may be 128 KB and
/// a twin is far smaller, so anything past this is a mistake.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The device id of a `/devices/{id}...` or `/twins/{id}...` path, percent-decoded.
pub struct DeviceIdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeviceIdPath {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_segment(parts, state, "device id")
            .await
            .map(DeviceIdPath)
    }
}

/// The job id of a `/jobs/v2/{id}...` path, percent-decoded.
pub struct JobIdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for JobIdPath {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_segment(parts, state, "job id").await.map(JobIdPath)
    }
}

/// The one `{...}` segment of the path, percent-decoded; `what` names it in the error.
async fn path_segment<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    what: &str,
) -> Result<String, HubError> {
    match Path::<String>::from_request_parts(parts, state).await {
        Ok(Path(segment)) => Ok(segment),
        Err(rejection) => Err(HubError::ArgumentInvalid(format!(
            "The {what} in the path {} cannot be read: {}; percent-encode it as UTF-8",
            parts.uri.path(),
            rejection.body_text()
        ))),
    }
}

/// The device and module ids of a `/devices/{id}/modules/{mid}...` or
/// `/twins/{id}/modules/{mid}...` path, percent-decoded.
pub struct ModulePath {
    /// The device.
    pub device_id: String,
    /// The module.
    pub module_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ModulePath {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(Path((device_id, module_id))) => Ok(ModulePath {
                device_id,
                module_id,
            }),
            Err(rejection) => Err(HubError::ArgumentInvalid(format!(
                "The device or module id in the path {} cannot be read: {}; percent-encode \
                 them as UTF-8",
                parts.uri.path(),
                rejection.body_text()
            ))),
        }
    }
}

/// A JSON request body.
pub struct JsonBody(pub Value);

impl FromRequest<HubState> for JsonBody {
    type Rejection = HubError;

    async fn from_request(request: Request, state: &HubState) -> Result<Self, Self::Rejection> {
        check_json_content_type(request.headers().get(CONTENT_TYPE))?;
        let RawBody(body) = RawBody::from_request(request, state).await?;
        parse_json(&body).map(JsonBody)
    }
}

/// A request body as sent, whatever its type (a cloud-to-device message's payload),
/// read within the hub's HTTP timeout.
pub struct RawBody(pub Bytes);

impl FromRequest<HubState> for RawBody {
    type Rejection = HubError;

    async fn from_request(request: Request, state: &HubState) -> Result<Self, Self::Rejection> {
        let timeout = state.http_timeout;
        let read = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES);
        match tokio::time::timeout(timeout, read).await {
            Ok(Ok(body)) => Ok(RawBody(body)),
            Ok(Err(error)) => Err(body_read_error(error)),
            Err(_) => Err(HubError::ArgumentInvalid(format!(
                "The request body did not arrive within {} s; send it again",
                timeout.as_secs()
            ))),
        }
    }
}

/// Refuses bodies not declared as JSON (`application/json`, with or without parameters,
/// or a `+json` type), as IoT Hub does with `InvalidContentEncodingOrType`.
fn check_json_content_type(content_type: Option<&axum::http::HeaderValue>) -> Result<(), HubError> {
    let declared = content_type.and_then(|value| value.to_str().ok());
    let media_type = declared
        .and_then(|value| value.split(';').next())
        .map(|media_type| media_type.trim().to_ascii_lowercase());
    match media_type.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) if other.starts_with("application/") && other.ends_with("+json") => Ok(()),
        _ => Err(HubError::InvalidContentType(format!(
            "The request body must be JSON with Content-Type: application/json; this request \
             declares {}",
            declared.map_or("no content type".to_owned(), |value| format!("'{value}'"))
        ))),
    }
}

/// Tells a body over the size limit from one that could not be read.
fn body_read_error(error: axum::Error) -> HubError {
    let too_large = {
        let source: &(dyn std::error::Error + 'static) = &error;
        std::iter::successors(Some(source), |error| error.source())
            .any(|error| error.is::<http_body_util::LengthLimitError>())
    };
    if too_large {
        HubError::MessageTooLarge(format!(
            "The request body is larger than {MAX_BODY_BYTES} bytes"
        ))
    } else {
        HubError::ArgumentInvalid(format!(
            "The request body could not be read ({error}); send it again"
        ))
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
    fn bodies_must_be_declared_as_json() {
        use axum::http::HeaderValue;
        for accepted in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/merge-patch+json",
        ] {
            let value = HeaderValue::from_static(accepted);
            assert!(check_json_content_type(Some(&value)).is_ok(), "{accepted}");
        }
        for refused in ["text/plain", "application/x-www-form-urlencoded", "json"] {
            let value = HeaderValue::from_static(refused);
            let error = check_json_content_type(Some(&value)).unwrap_err();
            assert_eq!(error.error_code(), 400103, "{refused}");
            assert!(error.to_string().contains(refused), "{error}");
        }
        let error = check_json_content_type(None).unwrap_err();
        assert!(
            error.to_string().ends_with("declares no content type"),
            "{error}"
        );
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
