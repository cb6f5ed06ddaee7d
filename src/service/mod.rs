//! A client for the IoT Hub service REST API (api-version 2021-04-12) that works the same
//! against Azure IoT Hub and the local hub: device and module identities, twins,
//! queries, direct methods, jobs, cloud-to-device messages, and the local hub's
//! telemetry (kept and live).
//!
//! # Layout
//! - this file: [`ServiceClient`] and its [`ClientOptions`].
//! - `devices`, `modules`, `twins`, `query`, `methods`, `jobs`: the operations, one
//!   concern per file.
//! - [`model`]: the documents exchanged (identity, twin, method result, query page).
//! - `transport`: one call on the wire (URL, SAS header, retries, error answers).
//! - `retry`: when and how long to wait before trying again.
//! - `token`: the SAS token, cached and renewed before it expires.
//! - `azure_error` and `error`: reading Azure's error answers into [`ServiceError`].
//!
//! # Rules, and where they come from
//! - Tokens are signed by [`crate::auth`] for the connection string's `HostName`, as the
//!   service SDKs do, for one hour, and replaced when less than five minutes are left.
//! - Etags are sent quoted in `If-Match` (`"AAAAAAAAAAE="`), as the Python service SDK
//!   does; "any version" is the bare `*` of RFC 9110, which Azure and the local hub accept.
//! - 429 and 503 are retried (the hub did not act on the request), honouring `Retry-After`,
//!   except 429004 ThrottlingMaxActiveJobCountExceeded, which lasts until a job ends;
//!   connection failures only for requests that are safe to repeat. Direct methods and
//!   twin patches are never repeated after a failure that might have reached the hub.

mod azure_error;
mod connect;
mod devices;
mod error;
mod jobs;
mod messages;
mod methods;
pub mod model;
mod modules;
mod query;
mod retry;
mod telemetry;
mod token;
mod transport;
mod twins;

use std::sync::Arc;
use std::time::Duration;

pub use azure_error::AzureError;
pub use connect::{ClientSetupError, client_for};
pub use error::ServiceError;
pub use jobs::{JobTiming, JobWork, new_job_id};
pub use messages::{CloudMessage, PurgeResult, new_message_id};
pub use model::{
    Device, DeviceAuthentication, DeviceCapabilities, DeviceJobError, DeviceJobResult,
    DeviceJobStatistics, DeviceTelemetry, DeviceTwin, Job, MethodResult, Module, NewDevice,
    QueryPage, SymmetricKeys, TelemetryMessage, TwinProperties, X509Thumbprints,
};
pub use telemetry::{TelemetryFeed, TelemetryItem, TelemetrySource, ndjson_line, telemetry_line};
pub use token::{Clock, DEFAULT_RENEW_BEFORE, DEFAULT_TOKEN_LIFETIME, TokenSettings};
pub use transport::API_VERSION;

use crate::auth::ServiceConnectionString;
use token::TokenCache;
use transport::Transport;

/// The default time one request may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The default number of retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 4;

/// How to reach the hub and how patient to be.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where the API is served; `https://{HostName}` when `None`. A local hub without TLS
    /// is `http://localhost:PORT`.
    pub base_url: Option<String>,
    /// A CA certificate (PEM) to trust besides the public web roots, e.g. the local hub's.
    pub extra_ca_pem: Option<String>,
    /// How long one request may take (direct methods get their own timeouts on top).
    pub request_timeout: Duration,
    /// How many times a throttled, unavailable or unreachable request is tried again.
    pub max_retries: u32,
    /// How SAS tokens are signed and renewed.
    pub token: TokenSettings,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            base_url: None,
            extra_ca_pem: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            token: TokenSettings::default(),
        }
    }
}

/// A service API client for one hub. Cheap to clone: clones share the connection pool and
/// the cached token.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    transport: Arc<Transport>,
}

impl ServiceClient {
    /// A client for the hub of `connection_string`; fails when an option is unusable (a bad
    /// base URL, an unreadable CA).
    pub fn new(
        connection_string: &ServiceConnectionString,
        options: ClientOptions,
    ) -> Result<ServiceClient, ServiceError> {
        let base_url = base_url(options.base_url.as_deref(), &connection_string.host_name)?;
        let http =
            transport::http_client(options.extra_ca_pem.as_deref(), options.request_timeout)?;
        Ok(ServiceClient {
            transport: Arc::new(Transport {
                http,
                base_url,
                tokens: TokenCache::new(connection_string.clone(), options.token),
                max_retries: options.max_retries,
            }),
        })
    }

    /// The base URL requests go to (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.transport.base_url
    }

    /// When the SAS token in use expires (Unix seconds); `None` before the first request.
    pub fn token_expiry(&self) -> Option<u64> {
        self.transport.tokens.expiry()
    }
}

/// Checks and normalises the base URL: `http` or `https`, a host, no query, and no
/// trailing slash.
fn base_url(option: Option<&str>, host_name: &str) -> Result<String, ServiceError> {
    let text = option.map_or_else(|| format!("https://{host_name}"), str::to_owned);
    let invalid = |problem: &str| ServiceError::InvalidOption {
        option: format!("the base URL `{text}`"),
        problem: problem.to_owned(),
    };
    let url = reqwest::Url::parse(text.trim()).map_err(|error| {
        invalid(&format!(
            "is not a URL ({error}); write it like `https://my-hub.azure-devices.net` or \
             `http://localhost:8080`"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host name"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "must not have a query or fragment; give only scheme, host and port",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Rejects ids that cannot name a device, before any request is made.
fn check_device_id(device_id: &str) -> Result<(), ServiceError> {
    if device_id.trim().is_empty() {
        return Err(ServiceError::InvalidArgument(
            "the device id is empty; give the id of a device in the hub's registry".into(),
        ));
    }
    Ok(())
}

/// The `If-Match` value for an etag: quoted as the Azure SDKs send it (`"AAAAAAAAAAE="`),
/// except the wildcard `*`, which is sent bare. Quotes already present are kept.
fn if_match(etag: &str) -> String {
    let etag = etag.trim();
    if etag == "*" || (etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"')) {
        etag.to_owned()
    } else {
        format!("\"{etag}\"")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base_url_defaults_to_https_host_and_is_normalised() {
        assert_eq!(base_url(None, "h.net").unwrap(), "https://h.net");
        assert_eq!(
            base_url(Some("http://localhost:8080/"), "h.net").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            base_url(None, "localhost:8443").unwrap(),
            "https://localhost:8443"
        );
    }

    #[test]
    fn base_url_rejects_what_cannot_work() {
        for bad in ["ftp://h.net", "not a url", "http://h.net/?x=1", "https://"] {
            let error = base_url(Some(bad), "h.net").unwrap_err();
            assert!(matches!(error, ServiceError::InvalidOption { .. }), "{bad}");
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn etags_are_quoted_once_and_the_wildcard_is_bare() {
        assert_eq!(if_match("AAAAAAAAAAE="), "\"AAAAAAAAAAE=\"");
        assert_eq!(if_match("\"AAAAAAAAAAE=\""), "\"AAAAAAAAAAE=\"");
        assert_eq!(if_match("*"), "*");
        assert_eq!(if_match("\""), "\"\"\"");
    }

    #[test]
    fn empty_device_ids_are_refused() {
        assert!(check_device_id(" ").is_err());
        assert!(check_device_id("d1").is_ok());
    }

    #[test]
    fn an_unreadable_ca_is_refused() {
        let credentials: ServiceConnectionString =
            "HostName=h.net;SharedAccessKeyName=owner;SharedAccessKey=c2VjcmV0"
                .parse()
                .unwrap();
        let options = ClientOptions {
            extra_ca_pem: Some("not a certificate".into()),
            ..ClientOptions::default()
        };
        let error = ServiceClient::new(&credentials, options).unwrap_err();
        assert!(error.to_string().contains("BEGIN CERTIFICATE"), "{error}");
    }
}
