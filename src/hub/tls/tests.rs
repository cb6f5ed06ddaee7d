//! Tests of the hub certificates: created once, kept while they fit, the server
//! certificate re-issued (by the same CA) whenever it does not, the CA never replaced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::authority::Authority;
use super::files::{CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY};
use super::*;

const ALL_FILES: [&str; 4] = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY];

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap()
}

fn snapshot(dir: &Path) -> Vec<Vec<u8>> {
    ALL_FILES.iter().map(|file| read(dir, file)).collect()
}

fn names(extra: &[&str]) -> Vec<String> {
    extra.iter().map(|name| (*name).to_owned()).collect()
}

/// Whether the server certificate on disk names `name` and chains to the CA on disk.
fn server_names(dir: &Path, name: &str) -> bool {
    let authority = Authority::load_or_create(dir).unwrap();
    authority.load_server(dir, &[name.to_owned()]).is_ok()
}

#[test]
fn creates_the_four_files_and_loads_them_again_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let created = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    assert_eq!(created.ca_cert_path(), dir.path().join(CA_CERT));
    assert_eq!(created.ca_cert_pem().as_bytes(), read(dir.path(), CA_CERT));
    let before = snapshot(dir.path());

    let loaded = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    assert_eq!(loaded.ca_cert_pem(), created.ca_cert_pem());
    assert_eq!(snapshot(dir.path()), before, "nothing is regenerated");
    for name in STANDARD_NAMES {
        assert!(server_names(dir.path(), name), "{name}");
    }
    assert!(!server_names(dir.path(), "example.com"));
}

#[cfg(unix)]
#[test]
fn key_files_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    for file in [CA_KEY, SERVER_KEY] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| !ALL_FILES.iter().any(|file| name == file))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_new_name_reissues_the_server_certificate_and_keeps_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let before = snapshot(dir.path());

    let extra = names(&["Hub.Example", "192.168.1.20"]);
    HubCertificates::load_or_create(dir.path(), &extra).unwrap();
    let after = snapshot(dir.path());
    assert_eq!(after[..2], before[..2], "the CA is kept");
    assert_ne!(after[2], before[2], "server.pem is re-issued");
    assert_ne!(after[3], before[3], "with a new key");
    assert!(server_names(dir.path(), "hub.example"));
    assert!(server_names(dir.path(), "192.168.1.20"));
    assert!(server_names(dir.path(), "localhost"), "standard names stay");

    // The same names in another order or case, or fewer of them, fit the certificate.
    for extra in [
        names(&["192.168.1.20", "HUB.example"]),
        names(&["hub.example"]),
        names(&[]),
    ] {
        HubCertificates::load_or_create(dir.path(), &extra).unwrap();
        assert_eq!(snapshot(dir.path()), after, "{extra:?}");
    }
}

#[test]
fn a_damaged_server_certificate_or_key_is_reissued() {
    let damages: [(&str, &[u8]); 3] = [
        (SERVER_CERT, b"not a certificate"),
        (
            SERVER_CERT,
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ),
        (SERVER_KEY, b"not a key"),
    ];
    for (file, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        HubCertificates::load_or_create(dir.path(), &[]).unwrap();
        let ca = read(dir.path(), CA_CERT);
        std::fs::write(dir.path().join(file), damage).unwrap();
        HubCertificates::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(read(dir.path(), CA_CERT), ca, "{file}: the CA is kept");
        assert_ne!(read(dir.path(), file), damage, "{file} is rewritten");
        assert!(server_names(dir.path(), "localhost"), "{file}");
    }
}

#[test]
fn missing_server_files_are_reissued() {
    for file in [SERVER_CERT, SERVER_KEY] {
        let dir = tempfile::tempdir().unwrap();
        HubCertificates::load_or_create(dir.path(), &[]).unwrap();
        std::fs::remove_file(dir.path().join(file)).unwrap();
        HubCertificates::load_or_create(dir.path(), &[]).unwrap();
        assert!(server_names(dir.path(), "localhost"), "{file}");
    }
}

#[test]
fn a_server_key_that_belongs_to_another_certificate_is_reissued() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    HubCertificates::load_or_create(other.path(), &[]).unwrap();
    let foreign_key = read(other.path(), SERVER_KEY);
    std::fs::write(dir.path().join(SERVER_KEY), &foreign_key).unwrap();
    let reason = Authority::load_or_create(dir.path())
        .unwrap()
        .load_server(dir.path(), &names(&["localhost"]))
        .err()
        .unwrap();
    assert!(reason.contains("is not the key of"), "{reason}");
    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    assert_ne!(read(dir.path(), SERVER_KEY), foreign_key);
}

#[test]
fn a_server_certificate_expiring_within_30_days_is_reissued() {
    let dir = tempfile::tempdir().unwrap();
    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let authority = Authority::load_or_create(dir.path()).unwrap();
    let standard = certificate_names(&[]).unwrap();
    let day = Duration::from_secs(24 * 60 * 60);
    authority
        .issue_server(dir.path(), &standard, day * 29)
        .unwrap();
    let short_lived = read(dir.path(), SERVER_CERT);
    let reason = authority.load_server(dir.path(), &standard).err().unwrap();
    assert!(reason.contains("expired"), "{reason}");

    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    assert_ne!(read(dir.path(), SERVER_CERT), short_lived);
    assert!(authority.load_server(dir.path(), &standard).is_ok());
}

#[test]
fn a_server_certificate_from_a_previous_ca_is_reissued() {
    let dir = tempfile::tempdir().unwrap();
    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let old_ca = read(dir.path(), CA_CERT);
    std::fs::remove_file(dir.path().join(CA_CERT)).unwrap();
    HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    assert_ne!(
        read(dir.path(), CA_CERT),
        old_ca,
        "a missing CA is created anew"
    );
    assert!(
        server_names(dir.path(), "localhost"),
        "signed by the new CA"
    );
}

#[test]
fn an_unusable_ca_is_an_error_and_is_left_alone() {
    let other = tempfile::tempdir().unwrap();
    HubCertificates::load_or_create(other.path(), &[]).unwrap();
    let foreign_key = read(other.path(), CA_KEY);
    let damages: [(&str, &[u8], &str); 3] = [
        (CA_CERT, b"garbage", "ca.pem holds no PEM certificate"),
        (
            CA_KEY,
            b"garbage",
            "ca-key.pem holds no PKCS#8 PEM private key",
        ),
        (CA_KEY, &foreign_key, "ca-key.pem is not the key of ca.pem"),
    ];
    for (file, damage, expected) in damages {
        let dir = tempfile::tempdir().unwrap();
        HubCertificates::load_or_create(dir.path(), &[]).unwrap();
        std::fs::write(dir.path().join(file), damage).unwrap();
        let error = HubCertificates::load_or_create(dir.path(), &[])
            .err()
            .unwrap();
        assert!(
            matches!(error, TlsError::UnusableAuthority { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(
            message.contains(&format!("delete {}", dir.path().display())),
            "{message}"
        );
        assert_eq!(read(dir.path(), file), damage, "{file} is not overwritten");
    }
}

#[test]
fn a_ca_that_is_not_twinlens_own_is_rejected_when_it_must_sign() {
    // A self-signed certificate with its own key, but another subject: server
    // certificates issued under twinlens's CA name would not chain to it.
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "someone else's CA");
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join(CA_CERT), cert.pem()).unwrap();
    std::fs::write(dir.path().join(CA_KEY), key.serialize_pem()).unwrap();

    let error = HubCertificates::load_or_create(dir.path(), &[])
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(
        message.contains("a server certificate it signs is rejected"),
        "{message}"
    );
    assert!(
        !dir.path().join(SERVER_CERT).exists(),
        "nothing unusable is written"
    );
}

#[test]
fn names_are_validated_and_canonical() {
    let canonical = certificate_names(&names(&[
        "0:0:0:0:0:0:0:1",
        "LOCALHOST",
        "0.0.0.0",
        "::",
        "Hub.Example",
        "fe80::0001",
    ]))
    .unwrap();
    assert_eq!(
        canonical,
        [
            "localhost",
            "127.0.0.1",
            "::1",
            "127.0.0.2",
            "hub.example",
            "fe80::1"
        ]
    );
    for bad in [
        "",
        "[::1]",
        "hub.example:8883",
        "*.example",
        "not a name",
        "127.0.0.999",
    ] {
        let error = certificate_names(&names(&[bad])).err().unwrap();
        assert!(
            matches!(&error, TlsError::InvalidName { name } if name == bad),
            "{bad}"
        );
        assert!(
            error
                .to_string()
                .contains("neither a DNS name nor an IP address")
        );
    }
}

#[test]
fn the_ca_pem_is_one_ca_certificate_clients_can_load() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let certs: Vec<CertificateDer<'_>> =
        CertificateDer::pem_slice_iter(certificates.ca_cert_pem().as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(certs.len(), 1);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certs.into_iter().next().unwrap()).unwrap();
}

#[test]
fn the_folder_is_created_when_missing() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data").join("tls");
    HubCertificates::load_or_create(&dir, &[]).unwrap();
    for file in ALL_FILES {
        assert!(dir.join(file).is_file(), "{file}");
    }
}
