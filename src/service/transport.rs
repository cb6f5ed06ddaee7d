//! Sending one service API call: the URL with `api-version`, the SAS `Authorization`
//! header, retries with backoff, and the translation of error answers into
//! [`ServiceError`]. Also builds the HTTP client over rustls (ring) with the public roots
//! and an optional extra CA.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Response};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::azure_error::AzureError;
use super::error::ServiceError;
use super::retry::{self, Idempotency};
use super::token::TokenCache;

/// The service API version every request names.
pub const API_VERSION: &str = "2021-04-12";

/// Escapes one path segment, so that ids with `#`, `?`, `%` or `/` reach the right URL.
pub(super) fn encode_segment(segment: &str) -> String {
    crate::url_component::encode(segment)
}

/// One API call, described before it is sent (possibly several times).
pub(super) struct Call<'a> {
    /// What is being done, for errors and logs.
    pub operation: String,
    pub method: Method,
    /// The path with escaped segments, e.g. `/twins/d%231`, and any query string.
    pub path: String,
    pub body: Option<RequestBody<'a>>,
    pub headers: Vec<(std::borrow::Cow<'static, str>, String)>,
    pub idempotency: Idempotency,
    /// Overrides the client's request timeout (direct methods wait for the device).
    pub timeout: Option<Duration>,
}

/// What a call sends.
#[derive(Clone, Copy)]
pub(super) enum RequestBody<'a> {
    /// A JSON document.
    Json(&'a Value),
    /// Bytes as they are (a cloud-to-device message's payload).
    Bytes(&'a [u8]),
}

/// The HTTP client, the hub's address and the credentials, shared by clones of a client.
#[derive(Debug)]
pub(super) struct Transport {
    pub http: reqwest::Client,
    pub base_url: String,
    pub tokens: TokenCache,
    pub max_retries: u32,
}

impl Transport {
    /// Sends `call` until it succeeds, fails for good, or runs out of retries; returns a
    /// success (2xx) answer.
    pub async fn send(&self, call: &Call<'_>) -> Result<Response, ServiceError> {
        // A path may carry filters of its own (`/jobs/v2/query?jobType=...`).
        let separator = if call.path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{}{separator}api-version={API_VERSION}",
            self.base_url, call.path
        );
        let mut retry = 0;
        loop {
            let outcome = self.attempt(call, &url).await;
            let server_wait = match &outcome {
                Ok(response)
                    if retry::retryable_answer(
                        response.status().as_u16(),
                        response
                            .headers()
                            .get("iothub-errorcode")
                            .and_then(|code| code.to_str().ok()),
                    ) =>
                {
                    Some(retry_after(response.headers()))
                }
                Err(_) if call.idempotency == Idempotency::Idempotent => Some(None),
                _ => None,
            };
            let delay = server_wait
                .filter(|_| retry < self.max_retries)
                .and_then(|wait| retry::delay(retry, wait, rand::random::<f64>()));
            match delay {
                Some(delay) => {
                    tracing::debug!(
                        operation = %call.operation,
                        retry = retry + 1,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "retrying a service call"
                    );
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                _ => return self.conclude(call, &url, outcome).await,
            }
        }
    }

    async fn attempt(&self, call: &Call<'_>, url: &str) -> Result<Response, reqwest::Error> {
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, self.tokens.authorization());
        for (name, value) in &call.headers {
            request = request.header(name.as_ref(), value);
        }
        match call.body {
            Some(RequestBody::Json(body)) => request = request.json(body),
            Some(RequestBody::Bytes(body)) => request = request.body(body.to_vec()),
            None => {}
        }
        if let Some(timeout) = call.timeout {
            request = request.timeout(timeout);
        }
        request.send().await
    }

    /// Turns the last attempt into the call's result.
    async fn conclude(
        &self,
        call: &Call<'_>,
        url: &str,
        outcome: Result<Response, reqwest::Error>,
    ) -> Result<Response, ServiceError> {
        let response = outcome.map_err(|source| ServiceError::Transport {
            operation: call.operation.clone(),
            url: url.to_owned(),
            source: source.without_url(),
        })?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        if status == 401 {
            // A token the hub no longer accepts (e.g. after the clock jumped) is not reused.
            self.tokens.invalidate();
        }
        let code_name = response
            .headers()
            .get("iothub-errorcode")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.unwrap_or_default();
        let error = AzureError::parse(status, code_name.as_deref(), &body);
        tracing::debug!(
            operation = %call.operation,
            status,
            code = error.code,
            tracking_id = error.tracking_id.as_deref(),
            "the hub refused a service call"
        );
        Err(ServiceError::Hub {
            operation: call.operation.clone(),
            error: Box::new(error),
        })
    }
}

/// The `Retry-After` of a throttled answer.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| retry::parse_retry_after(value, chrono::Utc::now()))
}

/// Reads a success answer's JSON body as `T`.
pub(super) async fn read_json<T: DeserializeOwned>(
    response: Response,
    operation: &str,
    expected: &'static str,
) -> Result<T, ServiceError> {
    let url = response.url().to_string();
    let bytes = response
        .bytes()
        .await
        .map_err(|source| ServiceError::Transport {
            operation: operation.to_owned(),
            url,
            source,
        })?;
    serde_json::from_slice(&bytes).map_err(|error| ServiceError::UnexpectedResponse {
        operation: operation.to_owned(),
        expected,
        detail: error.to_string(),
    })
}

/// Builds the HTTP client: rustls with the ring provider, trusting the public web roots
/// plus `extra_ca_pem` (a local hub's CA).
pub(super) fn http_client(
    extra_ca_pem: Option<&str>,
    request_timeout: Duration,
) -> Result<reqwest::Client, ServiceError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        add_pem_certificates(&mut roots, pem)?;
    }
    let invalid_tls = |problem: String| ServiceError::InvalidOption {
        option: "the TLS configuration".into(),
        problem,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid_tls(format!("cannot be built: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(request_timeout)
        .build()
        .map_err(|error| invalid_tls(format!("cannot be used by the HTTP client: {error}")))
}

/// Adds every certificate of a PEM text; fails when there is none or one is unreadable.
fn add_pem_certificates(roots: &mut rustls::RootCertStore, pem: &str) -> Result<(), ServiceError> {
    let invalid = |problem: String| ServiceError::InvalidOption {
        option: "the extra CA certificate".into(),
        problem,
    };
    let mut added = 0;
    for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let certificate = certificate.map_err(|error| {
            invalid(format!(
                "is not readable PEM ({error}); pass the hub's ca.pem as it is"
            ))
        })?;
        roots.add(certificate).map_err(|error| {
            invalid(format!(
                "is not a usable CA certificate ({error}); pass the hub's CA, not its server certificate"
            ))
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(invalid(
            "holds no `-----BEGIN CERTIFICATE-----` block; pass the PEM text of the hub's CA"
                .into(),
        ));
    }
    Ok(())
}
