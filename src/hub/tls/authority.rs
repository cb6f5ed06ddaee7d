//! The hub's certificate authority: creating or loading it, deciding whether the server
//! certificate on disk still fits, and issuing a new one when it does not. Every check
//! is the one a client makes (rustls's webpki verification against `ca.pem`), so a
//! certificate the hub accepts here is one its clients accept too.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};

use super::files::{self, Access, CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY};
use super::{ServerIdentity, TlsError, crypto_provider};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// How long the CA stays valid: clients trust it once and keep it.
const CA_LIFETIME: Duration = DAY.saturating_mul(3650);
/// How long a server certificate stays valid (below the 825 days Apple platforms accept).
pub(super) const SERVER_LIFETIME: Duration = DAY.saturating_mul(365);
/// A server certificate expiring sooner than this is re-issued at start.
const RENEW_BEFORE: Duration = DAY.saturating_mul(30);
/// Certificates start a day in the past, for clients whose clock is a little behind.
const BACKDATE: Duration = DAY;

const CA_COMMON_NAME: &str = "twinlens local hub CA";
const SERVER_COMMON_NAME: &str = "twinlens local hub";
const ORGANIZATION: &str = "twinlens";

/// The CA: its certificate (as clients see it) and the key that signs server certificates.
pub(super) struct Authority {
    cert_pem: String,
    roots: RootCertStore,
    key: KeyPair,
}

impl Authority {
    /// Loads the CA from `dir`, or creates it when either of its files is missing. A CA
    /// that is present but unusable is an error: it may be one clients already trust.
    pub(super) fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        match (
            files::read_if_present(dir, CA_CERT)?,
            files::read_if_present(dir, CA_KEY)?,
        ) {
            (Some(cert_pem), Some(key_pem)) => {
                Self::parse(cert_pem, &key_pem).map_err(|reason| TlsError::UnusableAuthority {
                    dir: dir.to_owned(),
                    reason,
                })
            }
            _ => Self::create(dir),
        }
    }

    /// The CA certificate in PEM, exactly as written in `ca.pem`.
    pub(super) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The server certificate and key in `dir` when they still fit: readable, signed by
    /// this CA, matching each other, valid for at least [`RENEW_BEFORE`], and naming every
    /// one of `names`. Otherwise, why not (for the log).
    pub(super) fn load_server(
        &self,
        dir: &Path,
        names: &[String],
    ) -> Result<ServerIdentity, String> {
        let read = |file: &str| {
            std::fs::read_to_string(dir.join(file)).map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => format!("{file} is missing"),
                _ => format!("{file} could not be read ({error})"),
            })
        };
        let cert = CertificateDer::from_pem_slice(read(SERVER_CERT)?.as_bytes())
            .map_err(|error| format!("{SERVER_CERT} holds no PEM certificate ({error})"))?;
        let key = PrivateKeyDer::from_pem_slice(read(SERVER_KEY)?.as_bytes())
            .map_err(|error| format!("{SERVER_KEY} holds no PEM private key ({error})"))?;
        self.check_server(&cert, names, since_epoch().saturating_add(RENEW_BEFORE))?;
        check_key_matches(&cert, &key)
            .map_err(|error| format!("{SERVER_KEY} is not the key of {SERVER_CERT} ({error})"))?;
        Ok(ServerIdentity { cert, key })
    }

    /// Issues a server certificate for `names`, valid for `lifetime`, and writes it and
    /// its key to `dir` (the key first: a crash in between leaves a mismatch that the
    /// next start repairs).
    pub(super) fn issue_server(
        &self,
        dir: &Path,
        names: &[String],
        lifetime: Duration,
    ) -> Result<ServerIdentity, TlsError> {
        let setup_failed = |error: rcgen::Error| TlsError::Setup {
            dir: dir.to_owned(),
            reason: format!("issuing the server certificate failed: {error}"),
        };
        let key = KeyPair::generate().map_err(setup_failed)?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(setup_failed)?;
        params.distinguished_name = distinguished_name(SERVER_COMMON_NAME);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // OpenSSL's strict mode (Python 3.13's default context) rejects a leaf without it.
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, lifetime);
        let issuer = Issuer::new(authority_params(), &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(setup_failed)?;
        // A CA whose certificates clients would reject (expired, or not the one whose key
        // we hold) must fail loudly rather than leave an unusable server certificate.
        self.check_server(cert.der(), names, since_epoch())
            .map_err(|reason| TlsError::UnusableAuthority {
                dir: dir.to_owned(),
                reason: format!("a server certificate it signs is rejected: {reason}"),
            })?;
        files::write_atomically(dir, SERVER_KEY, &key.serialize_pem(), Access::OwnerOnly)?;
        files::write_atomically(dir, SERVER_CERT, &cert.pem(), Access::Public)?;
        Ok(ServerIdentity {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        })
    }

    /// Creates a new CA in `dir` (the key first, so `ca.pem` only exists once complete).
    fn create(dir: &Path) -> Result<Self, TlsError> {
        let setup_failed = |error: String| TlsError::Setup {
            dir: dir.to_owned(),
            reason: format!("creating the CA failed: {error}"),
        };
        let key = KeyPair::generate().map_err(|error| setup_failed(error.to_string()))?;
        let mut params = authority_params();
        set_validity(&mut params, CA_LIFETIME);
        let cert = params
            .self_signed(&key)
            .map_err(|error| setup_failed(error.to_string()))?;
        let roots = trust_anchor(cert.der()).map_err(setup_failed)?;
        files::write_atomically(dir, CA_KEY, &key.serialize_pem(), Access::OwnerOnly)?;
        files::write_atomically(dir, CA_CERT, &cert.pem(), Access::Public)?;
        tracing::info!(dir = %dir.display(), "created a new local hub CA; clients must trust {CA_CERT}");
        Ok(Self {
            cert_pem: cert.pem(),
            roots,
            key,
        })
    }

    /// Reads a CA from its PEM files, checking the key belongs to the certificate.
    fn parse(cert_pem: String, key_pem: &str) -> Result<Self, String> {
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|error| format!("{CA_CERT} holds no PEM certificate ({error})"))?;
        let key = KeyPair::from_pem(key_pem)
            .map_err(|error| format!("{CA_KEY} holds no PKCS#8 PEM private key ({error})"))?;
        let key_der = PrivatePkcs8KeyDer::from(key.serialize_der()).into();
        check_key_matches(&cert, &key_der)
            .map_err(|error| format!("{CA_KEY} is not the key of {CA_CERT} ({error})"))?;
        let roots = trust_anchor(&cert)?;
        Ok(Self {
            cert_pem,
            roots,
            key,
        })
    }

    /// Checks `cert` the way a client trusting only this CA would, at `at` (time since
    /// the Unix epoch), once for each of `names`.
    fn check_server(
        &self,
        cert: &CertificateDer<'_>,
        names: &[String],
        at: Duration,
    ) -> Result<(), String> {
        let parsed = ParsedCertificate::try_from(cert)
            .map_err(|error| format!("{SERVER_CERT} is not a valid certificate ({error})"))?;
        let algorithms = crypto_provider().signature_verification_algorithms.all;
        let at = UnixTime::since_unix_epoch(at);
        verify_server_cert_signed_by_trust_anchor(&parsed, &self.roots, &[], at, algorithms)
            .map_err(|error| {
                format!("{SERVER_CERT} does not verify against {CA_CERT} ({error})")
            })?;
        for name in names {
            let server_name = ServerName::try_from(name.as_str())
                .map_err(|error| format!("{name} is not a server name ({error})"))?;
            verify_server_name(&parsed, &server_name)
                .map_err(|_| format!("{SERVER_CERT} does not name {name}"))?;
        }
        Ok(())
    }
}

/// The CA's fixed identity. Server certificates are issued from it (rather than from
/// `ca.pem`, which rcgen cannot parse without extra features); that the two agree is
/// checked on every certificate issued.
fn authority_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(CA_COMMON_NAME);
    // Path length 0: the CA signs server certificates, never other CAs.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, ORGANIZATION);
    name
}

/// Makes `params` valid from a little before now for `lifetime`.
fn set_validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch();
    params.not_before = now - BACKDATE;
    params.not_after = now + lifetime;
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A root store holding only `cert`, as a client trusting `ca.pem` has.
fn trust_anchor(cert: &CertificateDer<'_>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(cert.clone().into_owned())
        .map_err(|error| format!("{CA_CERT} is not a valid certificate ({error})"))?;
    Ok(roots)
}

/// Whether `key` is the private key of `cert` (same public key).
fn check_key_matches(
    cert: &CertificateDer<'_>,
    key: &PrivateKeyDer<'_>,
) -> Result<(), rustls::Error> {
    CertifiedKey::from_der(
        vec![cert.clone().into_owned()],
        key.clone_key(),
        &crypto_provider(),
    )
    .map(drop)
}
