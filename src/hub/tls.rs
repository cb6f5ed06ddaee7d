//! TLS for the local hub: a certificate authority and a server certificate generated
//! on first start and kept in the data directory, the rustls configurations built
//! from them, and a listener that hands out TLS-terminated connections.
//!
//! Clients trust the CA file (its path is in the hub's ready line). The server
//! certificate names localhost, 127.0.0.1, ::1 and 127.0.0.2 (so several hubs can
//! share port 8883 on different loopback addresses) plus any extra names asked for;
//! it is re-issued by the same CA when a name is missing or it nears expiry, so
//! clients that trust the CA keep working.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Names every server certificate carries.
const STANDARD_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "::1", "127.0.0.2"];
const CA_COMMON_NAME: &str = "twinlens local hub CA";
const CA_YEARS: i32 = 10;
const SERVER_DAYS: i64 = 365;
/// A server certificate this close to expiry is re-issued at start.
const RENEW_BEFORE_DAYS: i64 = 30;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the server to take them.
const READY_QUEUE: usize = 64;

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server-key.pem";
const SERVER_INFO: &str = "server.json";

/// Why the certificates could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error(
        "could not access the hub certificate file {path}: {source}; check the permissions, or delete the folder to regenerate the certificates"
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Generating or loading a certificate failed.
    #[error(
        "could not {action} the hub certificates in {dir}: {reason}; delete that folder to regenerate them (clients must then trust the new CA)"
    )]
    Certificate {
        /// The folder.
        dir: PathBuf,
        /// What was being done.
        action: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// What the hub remembers about its server certificate, to know when to re-issue it.
#[derive(Debug, Serialize, Deserialize)]
struct ServerInfo {
    names: Vec<String>,
    not_after: i64,
}

/// The local hub's certificates, ready to serve.
pub struct HubCertificates {
    ca_cert_path: PathBuf,
    ca_cert_pem: String,
    http: Arc<rustls::ServerConfig>,
    mqtt: Arc<rustls::ServerConfig>,
}

impl HubCertificates {
    /// Loads the certificates from `dir`, creating or re-issuing what is needed.
    pub fn load_or_create(dir: &Path, extra_names: &[String]) -> Result<Self, TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let failed = |action: &'static str| {
            move |error: rcgen::Error| TlsError::Certificate {
                dir: dir.to_owned(),
                action,
                reason: error.to_string(),
            }
        };
        let mut names: Vec<String> = STANDARD_NAMES.iter().map(|n| (*n).to_owned()).collect();
        for name in extra_names {
            let name = name.trim_matches(|c| c == '[' || c == ']').to_owned();
            if !name.is_empty() && !names.contains(&name) && name != "0.0.0.0" && name != "::" {
                names.push(name);
            }
        }
        let (ca_pem, ca_key, created_ca) = match load_ca(dir) {
            Some((pem, key)) => (pem, key, false),
            None => {
                let key = KeyPair::generate().map_err(failed("generate"))?;
                let cert = ca_params().self_signed(&key).map_err(failed("generate"))?;
                write(dir, CA_CERT, &cert.pem(), false)?;
                write(dir, CA_KEY, &key.serialize_pem(), true)?;
                (cert.pem(), key, true)
            }
        };
        if created_ca || server_needs_issuing(dir, &names) {
            let issuer = Issuer::new(ca_params(), ca_key);
            let key = KeyPair::generate().map_err(failed("generate"))?;
            let mut params = CertificateParams::new(names.clone()).map_err(failed("generate"))?;
            params.distinguished_name = distinguished_name("twinlens local hub");
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let now = Utc::now();
            let expiry = now + chrono::Duration::days(SERVER_DAYS);
            set_validity(&mut params, now - chrono::Duration::days(1), expiry);
            let cert = params.signed_by(&key, &issuer).map_err(failed("issue"))?;
            write(dir, SERVER_CERT, &cert.pem(), false)?;
            write(dir, SERVER_KEY, &key.serialize_pem(), true)?;
            let info = ServerInfo {
                names,
                not_after: expiry.timestamp(),
            };
            let info = serde_json::to_string_pretty(&info).unwrap_or_default();
            write(dir, SERVER_INFO, &info, false)?;
        }
        let server_pem = read(dir, SERVER_CERT)?;
        let mut chain = CertificateDer::pem_slice_iter(server_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate {
                dir: dir.to_owned(),
                action: "read",
                reason: e.to_string(),
            })?;
        chain.extend(CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten());
        let key_pem = read(dir, SERVER_KEY)?;
        let config = |alpn: &[&[u8]]| {
            server_config(&chain, &key_pem, alpn).map_err(|reason| TlsError::Certificate {
                dir: dir.to_owned(),
                action: "load",
                reason,
            })
        };
        Ok(Self {
            ca_cert_path: dir.join(CA_CERT),
            http: Arc::new(config(&[b"h2", b"http/1.1"])?),
            mqtt: Arc::new(config(&[])?),
            ca_cert_pem: ca_pem,
        })
    }

    /// The CA certificate file clients should trust.
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert_path
    }

    /// The CA certificate in PEM.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// An acceptor for HTTPS (ALPN h2 and http/1.1).
    pub fn http_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.http))
    }

    /// An acceptor for MQTTS.
    pub fn mqtt_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.mqtt))
    }
}

/// A rustls server configuration offering TLS 1.3 and 1.2 (the Python device SDK
/// pins 1.2) with the ring provider.
fn server_config(
    chain: &[CertificateDer<'static>],
    key_pem: &str,
    alpn: &[&[u8]],
) -> Result<rustls::ServerConfig, String> {
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain.to_vec(), key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = Utc::now();
    let until = now
        .with_year(now.year() + CA_YEARS)
        .unwrap_or(now + chrono::Duration::days(365 * i64::from(CA_YEARS)));
    set_validity(&mut params, now - chrono::Duration::days(1), until);
    params
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "twinlens");
    name
}

/// Sets a certificate's validity to the days of `from` and `until`.
fn set_validity(
    params: &mut CertificateParams,
    from: chrono::DateTime<Utc>,
    until: chrono::DateTime<Utc>,
) {
    let ymd = |instant: chrono::DateTime<Utc>| {
        let month = u8::try_from(instant.month()).unwrap_or(1);
        let day = u8::try_from(instant.day()).unwrap_or(1);
        rcgen::date_time_ymd(instant.year(), month, day)
    };
    params.not_before = ymd(from);
    params.not_after = ymd(until);
}

fn load_ca(dir: &Path) -> Option<(String, KeyPair)> {
    let pem = std::fs::read_to_string(dir.join(CA_CERT)).ok()?;
    let key = KeyPair::from_pem(&std::fs::read_to_string(dir.join(CA_KEY)).ok()?).ok()?;
    CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    Some((pem, key))
}

fn server_needs_issuing(dir: &Path, names: &[String]) -> bool {
    let info: Option<ServerInfo> = std::fs::read_to_string(dir.join(SERVER_INFO))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let readable = std::fs::read(dir.join(SERVER_CERT))
        .ok()
        .is_some_and(|pem| CertificateDer::from_pem_slice(&pem).is_ok())
        && std::fs::read(dir.join(SERVER_KEY))
            .ok()
            .is_some_and(|pem| PrivateKeyDer::from_pem_slice(&pem).is_ok());
    let renew_at = Utc::now() + chrono::Duration::days(RENEW_BEFORE_DAYS);
    match info {
        Some(info) if readable => {
            info.not_after < renew_at.timestamp() || names.iter().any(|n| !info.names.contains(n))
        }
        _ => true,
    }
}

fn read(dir: &Path, file: &str) -> Result<String, TlsError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| TlsError::Io { path, source })
}

/// Writes a file atomically (temp file + rename); private keys only for the owner.
fn write(dir: &Path, file: &str, contents: &str, private: bool) -> Result<(), TlsError> {
    let path = dir.join(file);
    let io = |source| TlsError::Io {
        path: path.clone(),
        source,
    };
    let temporary = dir.join(format!(".{file}.tmp"));
    std::fs::write(&temporary, contents).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    std::fs::rename(&temporary, &path).map_err(io)
}

/// A TCP listener whose connections come out TLS-terminated. Handshakes run in their
/// own tasks with a timeout, so a slow or broken client never holds up the others.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: std::io::Result<SocketAddr>,
    accept_loop: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` with `acceptor`.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local_addr = listener.local_addr();
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        let accept_loop = tokio::spawn(accept_loop(listener, acceptor, sender));
        Self {
            ready,
            local_addr,
            accept_loop,
        }
    }

    /// The next connection whose handshake completed; `None` once the listener stopped.
    pub async fn next(&mut self) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
        self.ready.recv().await
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!("accepting a TLS connection failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, "TLS handshake failed: {error}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.next().await {
            Some(accepted) => accepted,
            // The accept loop never ends on its own; if it is gone, serve nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match &self.local_addr {
            Ok(address) => Ok(*address),
            Err(error) => Err(std::io::Error::new(error.kind(), error.to_string())),
        }
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
