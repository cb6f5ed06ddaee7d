//! The one error type of the `auth` module. Messages say what failed, with which input, and
//! how to fix it, and never contain a key or a signature.

use super::connection_string::ConnectionStringKind;
use super::sas::CLOCK_SKEW_ALLOWANCE_SECS;

/// The shape of a SAS token, quoted by token errors.
const TOKEN_SHAPE: &str = "SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded signature>&se=<expiry>[&skn=<policy>]";

/// Why a connection string, key or SAS token was rejected.
///
/// One enum for parsing and for verification, so the hub can map every variant to a 401 and
/// the clients can show the message as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required connection-string part is absent.
    #[error("the {kind} has no `{field}`; a valid one looks like {}", .kind.example())]
    MissingField {
        kind: ConnectionStringKind,
        field: &'static str,
    },
    /// A connection-string part is present with an empty value.
    #[error("`{field}` in the {kind} is empty; give it a value, as in {}", .kind.example())]
    EmptyField {
        kind: ConnectionStringKind,
        field: &'static str,
    },
    /// A connection-string part is not of the form `Name=value`.
    #[error(
        "part {position} of the {kind} has no `=`; parts are `Name=value` separated by `;`, as in {}",
        .kind.example()
    )]
    MalformedPart {
        kind: ConnectionStringKind,
        position: usize,
    },
    /// A connection-string part has a name IoT Hub does not define.
    #[error(
        "the {kind} has an unknown part `{name}`{}; the parts are HostName, DeviceId, ModuleId, SharedAccessKeyName, SharedAccessKey and GatewayHostName",
        did_you_mean(*.suggestion)
    )]
    UnknownField {
        kind: ConnectionStringKind,
        name: String,
        suggestion: Option<&'static str>,
    },
    /// A connection-string part appears twice.
    #[error("the {kind} has `{field}` twice; keep exactly one")]
    DuplicateField {
        kind: ConnectionStringKind,
        field: &'static str,
    },
    /// A connection-string part IoT Hub defines but this application does not support.
    #[error("the {kind} uses `{field}`, which is not supported: {reason}")]
    UnsupportedField {
        kind: ConnectionStringKind,
        field: &'static str,
        reason: &'static str,
    },
    /// A connection-string part that does not belong in this kind of connection string.
    #[error("the {kind} cannot have `{field}`: {reason}")]
    FieldNotAllowed {
        kind: ConnectionStringKind,
        field: &'static str,
        reason: &'static str,
    },
    /// A connection-string part whose value is not acceptable (the key has its own variant).
    #[error("`{field}` in the {kind} is invalid: {reason}")]
    InvalidField {
        kind: ConnectionStringKind,
        field: &'static str,
        reason: String,
    },
    /// A shared access key that is not base64; the key itself is never quoted.
    #[error(
        "the shared access key {reason}; copy the key exactly as the Azure portal or `az iot hub` shows it (the key is not repeated here)"
    )]
    InvalidKey { reason: String },
    /// A SAS token whose overall shape is wrong.
    #[error("the SAS token is malformed: {reason}; a valid one looks like `{TOKEN_SHAPE}`")]
    MalformedToken { reason: String },
    /// A SAS token without one of `sr`, `sig`, `se`.
    #[error("the SAS token has no `{field}`; a valid one looks like `{TOKEN_SHAPE}`")]
    MissingTokenField { field: &'static str },
    /// A SAS token with a field given twice.
    #[error("the SAS token has `{field}` twice; a token carries each field once")]
    DuplicateTokenField { field: &'static str },
    /// A SAS token field whose value cannot be read.
    #[error("`{field}` in the SAS token is invalid: {reason}")]
    InvalidTokenField { field: &'static str, reason: String },
    /// The token's expiry (plus the allowed clock skew) has passed.
    #[error(
        "the SAS token for `{resource}` expired at {expiry} (Unix seconds; now is {now}, and {CLOCK_SKEW_ALLOWANCE_SECS} s of clock skew are allowed); sign a new token"
    )]
    Expired {
        resource: String,
        expiry: u64,
        now: u64,
    },
    /// The signature was not made with the key it was checked against, or the token changed.
    #[error(
        "the SAS token for `{resource}` has a signature that does not match the key it was checked with; it was signed with another key or altered after signing: sign it again with the current key"
    )]
    BadSignature { resource: String },
    /// The token is genuine but scoped to something other than what is being accessed.
    #[error(
        "the SAS token grants `{resource}`, which does not cover {}; use a token for the hub or for that device",
        describe_allowed(.allowed)
    )]
    ResourceNotCovered {
        resource: String,
        allowed: Vec<String>,
    },
}

/// The hint after an unknown connection-string part whose name differs only in case.
fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|known| format!(" (names are case-sensitive: did you mean `{known}`?)"))
        .unwrap_or_default()
}

/// Lists the resources a token was checked against.
fn describe_allowed(allowed: &[String]) -> String {
    match allowed {
        [] => "any resource (none were allowed)".to_owned(),
        [only] => format!("`{only}`"),
        several => format!(
            "any of {}",
            several
                .iter()
                .map(|resource| format!("`{resource}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
