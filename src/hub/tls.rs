//! TLS for the local hub: the certificates it serves (kept in its data directory), the
//! rustls configurations built from them, and a listener that hands out TLS-terminated
//! connections to the HTTPS and MQTTS servers.
//!
//! Clients trust one file, the hub's CA (`ca.pem`, named in the hub's ready line). The
//! CA is created once and never replaced by the hub, so that trust survives restarts;
//! the server certificate it signs is cheap and is re-issued whenever it no longer fits
//! (missing, damaged, near expiry, or lacking a name the hub was asked to answer to).
//!
//! This module owns the files in the certificate folder and nothing else: it does not
//! bind sockets (callers pass bound listeners) and does not speak HTTP or MQTT.

mod authority;
mod files;
mod listener;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

pub use listener::TlsListener;

/// The files of the certificate folder that hold private keys (owner-only).
pub const PRIVATE_KEY_FILES: [&str; 2] = [files::CA_KEY, files::SERVER_KEY];

use authority::Authority;

/// Names every server certificate carries: the usual loopback names, plus 127.0.0.2 so a
/// second hub can listen on 127.0.0.2:8883 (device SDKs cannot change the MQTT port).
const STANDARD_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "::1", "127.0.0.2"];

/// ALPN protocols of the HTTPS endpoint (axum serves both).
const HTTP_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why the hub's certificates could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A name asked for in the server certificate is not one a certificate can carry.
    #[error(
        "the certificate name {name:?} is neither a DNS name nor an IP address; give a host name such as hub.example or an address such as 192.168.1.20 (without brackets or port)"
    )]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The certificate folder could not be created.
    #[error(
        "could not create the certificate folder {dir}: {source}; check that the data directory is writable"
    )]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A certificate file exists but could not be read.
    #[error(
        "could not read {file} in {dir}: {source}; fix its permissions, or delete {dir} to regenerate the local hub certificates"
    )]
    Read {
        /// The certificate folder.
        dir: PathBuf,
        /// The file in it.
        file: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A certificate file could not be written.
    #[error(
        "could not write {file} in {dir}: {source}; check that the folder is writable and the disk is not full"
    )]
    Write {
        /// The certificate folder.
        dir: PathBuf,
        /// The file in it.
        file: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The CA files exist but cannot sign a server certificate clients would accept.
    /// The hub never overwrites a CA, since clients may trust it.
    #[error(
        "the local hub CA in {dir} is not usable: {reason}; delete {dir} to regenerate the local hub certificates (clients must then trust the new ca.pem)"
    )]
    UnusableAuthority {
        /// The certificate folder.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating a key or certificate, or building the TLS configuration, failed.
    #[error(
        "could not set up TLS with the certificates in {dir}: {reason}; delete {dir} to regenerate the local hub certificates"
    )]
    Setup {
        /// The certificate folder.
        dir: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// Certificates of the local hub, loaded from or created in `{data_dir}/tls/`, and the
/// TLS configurations that serve them.
pub struct HubCertificates {
    ca_cert_path: PathBuf,
    ca_cert_pem: String,
    http: Arc<ServerConfig>,
    mqtt: Arc<ServerConfig>,
}

impl HubCertificates {
    /// Loads `ca.pem`, `ca-key.pem`, `server.pem` and `server-key.pem` from `dir`,
    /// creating what is missing, so the hub can serve TLS clients already trust.
    ///
    /// The CA (self-signed, CA:TRUE, 10 years) is created when either of its files is
    /// missing; a CA that is present but unusable is an error, never overwritten. The
    /// server certificate names localhost, 127.0.0.1, ::1, 127.0.0.2 and `extra_names`
    /// (DNS names or IP literals; unspecified addresses such as 0.0.0.0 are skipped). It
    /// is re-issued by the CA when it is missing, unreadable, damaged, not signed by the
    /// CA, not matching its key, expiring within 30 days, or lacking a requested name.
    pub fn load_or_create(dir: &Path, extra_names: &[String]) -> Result<Self, TlsError> {
        let names = certificate_names(extra_names)?;
        std::fs::create_dir_all(dir).map_err(|source| TlsError::CreateDir {
            dir: dir.to_owned(),
            source,
        })?;
        let authority = Authority::load_or_create(dir)?;
        let setup_failed = |reason: String| TlsError::Setup {
            dir: dir.to_owned(),
            reason,
        };
        let server = match authority.load_server(dir, &names) {
            Ok(server) => server,
            Err(reason) => {
                tracing::info!(dir = %dir.display(), "issuing a new local hub server certificate: {reason}");
                authority.issue_server(dir, &names, authority::SERVER_LIFETIME)?
            }
        };
        let mqtt = server.into_config().map_err(setup_failed)?;
        let mut http = mqtt.clone();
        http.alpn_protocols = HTTP_ALPN.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(Self {
            ca_cert_path: dir.join(files::CA_CERT),
            ca_cert_pem: authority.cert_pem().to_owned(),
            http: Arc::new(http),
            mqtt: Arc::new(mqtt),
        })
    }

    /// The CA file clients must trust (for REQUESTS_CA_BUNDLE or server_verification_cert).
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert_path
    }

    /// The CA certificate in PEM, for in-process clients that trust it without the file.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// An acceptor for the HTTPS endpoint: TLS 1.3 and 1.2, ALPN `h2` and `http/1.1`.
    pub fn http_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.http))
    }

    /// An acceptor for the MQTTS endpoint: TLS 1.3 and 1.2 (the Python device SDK pins
    /// 1.2), no ALPN, so clients offering an MQTT protocol name are still served.
    pub fn mqtt_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.mqtt))
    }
}

/// A server certificate and its key, checked to belong to the hub's CA.
struct ServerIdentity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl ServerIdentity {
    /// A rustls server configuration (ring, TLS 1.3 and 1.2, no ALPN); fails when the
    /// key does not match the certificate.
    fn into_config(self) -> Result<ServerConfig, String> {
        ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| error.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert], self.key)
            .map_err(|error| format!("{} and {}: {error}", files::SERVER_CERT, files::SERVER_KEY))
    }
}

/// The one crypto provider of the hub (ring), passed explicitly so that no process-wide
/// default has to be installed.
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The standard names plus `extra_names`, validated, in canonical form (IP addresses
/// re-formatted, DNS names lower-cased), without duplicates or unspecified addresses.
fn certificate_names(extra_names: &[String]) -> Result<Vec<String>, TlsError> {
    let requested = STANDARD_NAMES
        .into_iter()
        .chain(extra_names.iter().map(String::as_str));
    let mut names: Vec<String> = Vec::new();
    for name in requested {
        let canonical = match name.parse::<IpAddr>() {
            Ok(address) if address.is_unspecified() => continue,
            Ok(address) => address.to_string(),
            Err(_) => {
                rustls_pki_types::DnsName::try_from(name).map_err(|_| TlsError::InvalidName {
                    name: name.to_owned(),
                })?;
                name.to_ascii_lowercase()
            }
        };
        if !names.contains(&canonical) {
            names.push(canonical);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests;
