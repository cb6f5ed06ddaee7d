//! Reading IoT Hub's error answers: the status, the numeric error code, its name, the
//! message and the tracking id, from the `iothub-errorcode` header and from either of the
//! two body forms Azure sends.
//!
//! - Current: `{"Message":"{\"errorCode\":404001,\"trackingId\":\"...\",\"message\":\"...\",
//!   \"timestampUtc\":\"...\"}","ExceptionMessage":""}` (the inner document is a JSON string).
//! - Legacy: `{"Message":"ErrorCode:DeviceNotFound;<text>","ExceptionMessage":"Tracking ID:...
//!   -TimeStamp:..."}`.
//!
//! Like the C# service SDK, the JSON form is tried first and the legacy form second; the
//! header's name wins over a name found in the body. Anything else becomes a message of at
//! most [`MAX_MESSAGE_CHARS`] characters of the body.

use serde_json::{Map, Value};

/// How much of an unrecognised body is kept as the message.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// IoT Hub's numeric error codes and their names, for filling in whichever one an answer
/// left out (the reference's list, from Azure's docs and the C# SDK's `ErrorCode` enum).
const KNOWN_CODES: &[(u32, &str)] = &[
    (400001, "InvalidProtocolVersion"),
    (400004, "ArgumentInvalid"),
    (400103, "InvalidContentEncodingOrType"),
    (400027, "ConnectionForcefullyClosedOnNewConnection"),
    (401002, "IotHubUnauthorizedAccess"),
    (403002, "IotHubQuotaExceeded"),
    (403003, "JobQuotaExceeded"),
    (403004, "DeviceMaximumQueueDepthExceeded"),
    (403100, "TwinSectionSizeExceeded"),
    (404001, "DeviceNotFound"),
    (404002, "JobNotFound"),
    (404010, "ModuleNotFound"),
    (404103, "DeviceNotOnline"),
    (405102, "OperationNotAllowedInCurrentState"),
    (409001, "DeviceAlreadyExists"),
    (409104, "JobAlreadyExists"),
    (409301, "ModuleAlreadyExistsOnDevice"),
    (412001, "PreconditionFailed"),
    (412002, "DeviceMessageLockLost"),
    (413001, "MessageTooLarge"),
    (429001, "ThrottlingException"),
    (429004, "ThrottlingMaxActiveJobCountExceeded"),
    (500001, "ServerError"),
    (503001, "ServiceUnavailable"),
    (504101, "GatewayTimeout"),
];

/// What the hub said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureError {
    /// The HTTP status.
    pub status: u16,
    /// Azure's six-digit error code (e.g. 404001), when the answer carried or implied one.
    pub code: Option<u32>,
    /// The code's name (e.g. `DeviceNotFound`), when known.
    pub code_name: Option<String>,
    /// The hub's own explanation (may be empty).
    pub message: String,
    /// The id to quote to Azure support or to find the failure in the hub's log.
    pub tracking_id: Option<String>,
}

impl AzureError {
    /// Reads an error answer from its status, its `iothub-errorcode` header and its body.
    pub fn parse(status: u16, header_code_name: Option<&str>, body: &[u8]) -> AzureError {
        let parsed = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|value| value.as_object().map(parse_outer))
            .unwrap_or_else(|| BodyError {
                message: excerpt(&String::from_utf8_lossy(body)),
                ..BodyError::default()
            });
        let code_name = header_code_name
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .or(parsed.code_name)
            .or_else(|| parsed.code.and_then(name_of_code).map(str::to_owned));
        let code = parsed
            .code
            .or_else(|| code_name.as_deref().and_then(code_of_name));
        AzureError {
            status,
            code,
            code_name,
            message: parsed.message,
            tracking_id: parsed.tracking_id,
        }
    }
}

/// What a body said, before the header and the code table fill the gaps.
#[derive(Debug, Default)]
struct BodyError {
    code: Option<u32>,
    code_name: Option<String>,
    message: String,
    tracking_id: Option<String>,
}

/// Reads the outer `{"Message": ..., "ExceptionMessage": ...}` document (names matched
/// case-insensitively), or a bare inner document (one with `errorCode`).
fn parse_outer(outer: &Map<String, Value>) -> BodyError {
    if field(outer, "errorCode").is_some() {
        return parse_inner(outer);
    }
    let message = field(outer, "Message");
    let exception = field(outer, "ExceptionMessage")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut parsed = match message {
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(inner)) => parse_inner(&inner),
            _ => parse_legacy(text),
        },
        Some(Value::Object(inner)) => parse_inner(inner),
        _ => BodyError::default(),
    };
    if parsed.tracking_id.is_none() {
        parsed.tracking_id = legacy_tracking_id(exception);
    }
    if parsed.message.is_empty() && !exception.is_empty() && parsed.tracking_id.is_none() {
        parsed.message = excerpt(exception);
    }
    parsed
}

/// Reads the current form's inner document: `errorCode`, `trackingId`, `message`.
fn parse_inner(inner: &Map<String, Value>) -> BodyError {
    let code = field(inner, "errorCode").and_then(|code| match code {
        Value::Number(number) => number.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    });
    // Some services put the name in `errorCode` instead of the number.
    let code_name = field(inner, "errorCode")
        .and_then(Value::as_str)
        .filter(|text| text.parse::<u32>().is_err())
        .map(str::to_owned);
    BodyError {
        code,
        code_name,
        message: field(inner, "message")
            .and_then(Value::as_str)
            .map(excerpt)
            .unwrap_or_default(),
        tracking_id: field(inner, "trackingId")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// Reads the legacy `ErrorCode:<Name>;<text>` message; any other text is the message.
fn parse_legacy(text: &str) -> BodyError {
    let Some(rest) = strip_prefix_ignore_case(text, "ErrorCode:") else {
        return BodyError {
            message: excerpt(text),
            ..BodyError::default()
        };
    };
    let (name, message) = rest.split_once(';').unwrap_or((rest, ""));
    BodyError {
        code_name: Some(name.trim().to_owned()).filter(|name| !name.is_empty()),
        message: excerpt(message.trim()),
        ..BodyError::default()
    }
}

/// The tracking id in a legacy `ExceptionMessage` (`Tracking ID:<id>-TimeStamp:<time>`).
fn legacy_tracking_id(exception: &str) -> Option<String> {
    let start = exception.find("Tracking ID:")? + "Tracking ID:".len();
    let rest = exception.get(start..)?;
    let id = rest.split("-TimeStamp:").next().unwrap_or(rest).trim();
    Some(id.to_owned()).filter(|id| !id.is_empty())
}

fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

fn name_of_code(code: u32) -> Option<&'static str> {
    KNOWN_CODES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, name)| *name)
}

fn code_of_name(name: &str) -> Option<u32> {
    KNOWN_CODES
        .iter()
        .find(|(_, known)| known.eq_ignore_ascii_case(name))
        .map(|(code, _)| *code)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn current_form_with_header() {
        let body = br#"{"Message":"{\"errorCode\":404001,\"trackingId\":\"abc\",\"message\":\"Device d1 not registered\",\"timestampUtc\":\"2024-01-01T00:00:00Z\"}","ExceptionMessage":""}"#;
        let error = AzureError::parse(404, Some("DeviceNotFound"), body);
        assert_eq!(
            error,
            AzureError {
                status: 404,
                code: Some(404001),
                code_name: Some("DeviceNotFound".into()),
                message: "Device d1 not registered".into(),
                tracking_id: Some("abc".into()),
            }
        );
    }

    #[test]
    fn current_form_without_header_names_the_code() {
        let body = br#"{"Message":"{\"errorCode\":\"412001\",\"message\":\"stale\"}"}"#;
        let error = AzureError::parse(412, None, body);
        assert_eq!(error.code, Some(412001));
        assert_eq!(error.code_name.as_deref(), Some("PreconditionFailed"));
        assert_eq!(error.tracking_id, None);
    }

    #[test]
    fn legacy_form() {
        let body = br#"{"Message":"ErrorCode:DeviceNotFound;Device d1 not registered","ExceptionMessage":"Tracking ID:f00d-G:3-TimeStamp:01/02/2018 19:17:44"}"#;
        let error = AzureError::parse(404, None, body);
        assert_eq!(error.code, Some(404001));
        assert_eq!(error.code_name.as_deref(), Some("DeviceNotFound"));
        assert_eq!(error.message, "Device d1 not registered");
        assert_eq!(error.tracking_id.as_deref(), Some("f00d-G:3"));
    }

    #[test]
    fn header_name_wins_and_unknown_names_keep_no_code() {
        let body = br#"{"Message":"ErrorCode:SomethingNew;text"}"#;
        let error = AzureError::parse(400, Some("ArgumentInvalid"), body);
        assert_eq!(error.code_name.as_deref(), Some("ArgumentInvalid"));
        assert_eq!(error.code, Some(400004));
        let error = AzureError::parse(400, None, body);
        assert_eq!(error.code_name.as_deref(), Some("SomethingNew"));
        assert_eq!(error.code, None);
    }

    #[test]
    fn bare_and_plain_bodies() {
        let error = AzureError::parse(500, None, br#"{"errorCode":500001,"message":"boom"}"#);
        assert_eq!(error.code_name.as_deref(), Some("ServerError"));
        assert_eq!(error.message, "boom");
        let error = AzureError::parse(502, None, b"<html>Bad Gateway</html>");
        assert_eq!(error.message, "<html>Bad Gateway</html>");
        assert_eq!(error.code, None);
        let long = "x".repeat(MAX_MESSAGE_CHARS + 10);
        let error = AzureError::parse(500, None, long.as_bytes());
        assert_eq!(error.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        let error = AzureError::parse(503, None, b"");
        assert_eq!(error.message, "");
    }
}
