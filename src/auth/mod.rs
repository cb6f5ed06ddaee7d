//! IoT Hub authentication: connection strings and shared access signature (SAS) tokens.
//!
//! This module owns the credentials vocabulary that both sides of the wire use. The clients
//! (service REST client, simulated devices) parse connection strings and *sign* tokens; the
//! local hub *verifies* the same tokens. Keeping both directions here means they cannot drift.
//! It does no I/O, reads no clock (callers pass "now"), and never prints a key.
//!
//! # Layout
//! - `key`: [`SharedAccessKey`], the decoded symmetric key, and the HMAC-SHA256 over it.
//! - `connection_string`: [`ServiceConnectionString`], [`DeviceConnectionString`] and
//!   [`ConnectionString`] (parse, render, masked render, token for the string's resource).
//! - `sas`: [`SasToken`] (sign, parse, render, verify).
//! - `resource`: how a resource is URL-encoded into `sr`, and which resources a token covers.
//! - `identity_id`: IoT Hub's rules for device and module ids ([`check_id`]).
//! - `error`: [`AuthError`], one error type for all of the above.
//!
//! # Rules, and where they come from
//! - Token: `SharedAccessSignature sr={url-encoded resource}&sig={url-encoded base64
//!   HMAC-SHA256}&se={expiry, Unix seconds}[&skn={policy}]`; the string to sign is the
//!   url-encoded resource, `"\n"`, and the expiry; the HMAC key is the base64-decoded shared
//!   access key (Azure docs, "Control access to IoT Hub with SAS tokens").
//! - Signing encodes the resource like the Python SDK (`urllib.parse.quote(uri, safe="")`:
//!   upper-case hex, only `A-Z a-z 0-9 - . _ ~` left alone).
//! - Verifying recomputes the string to sign from `sr` exactly as it appears in the token,
//!   like the Azure C# SDK's `SharedAccessSignature` ("preserve the casing of the escape
//!   characters"), so every SDK's encoding verifies: Node's lower-case `%2a`, the C SDK's
//!   unencoded `sr`, Java's and .NET's encoders.
//! - Token field names match case-insensitively, unknown token fields are ignored, and a
//!   token is accepted until 5 minutes after `se` (the C# SDK's parser and `MaxClockSkew`).
//! - Connection-string part names are case-sensitive (the Python SDK).

mod connection_string;
mod error;
mod identity_id;
mod key;
mod resource;
mod sas;

pub use connection_string::{
    ConnectionString, ConnectionStringKind, DeviceConnectionString, ServiceConnectionString,
    host_name_of, mask_connection_string,
};
pub use error::AuthError;
pub use identity_id::{ID_PUNCTUATION, InvalidId, MAX_ID_LENGTH, check_id};
pub use key::SharedAccessKey;
pub use resource::device_resource;
pub use sas::{CLOCK_SKEW_ALLOWANCE_SECS, SasToken};
