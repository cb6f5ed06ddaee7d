//! Tests of the hub certificates and the TLS listener, over loopback only.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn client_config(ca_pem: Option<&str>, tls12_only: bool) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn connect(
    address: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    server_name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let stream = TcpStream::connect(address).await?;
    let name = rustls_pki_types::ServerName::try_from(server_name.to_owned()).unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
}

#[test]
fn certificates_are_kept_and_reissued_only_when_needed() {
    let dir = tempfile::tempdir().unwrap();
    let first = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let server = std::fs::read(dir.path().join(SERVER_CERT)).unwrap();
    let again = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    assert_eq!(first.ca_cert_pem(), again.ca_cert_pem());
    assert_eq!(std::fs::read(dir.path().join(SERVER_CERT)).unwrap(), server);

    let extra = HubCertificates::load_or_create(dir.path(), &["hub.example".into()]).unwrap();
    assert_eq!(extra.ca_cert_pem(), first.ca_cert_pem(), "the CA is kept");
    assert_ne!(
        std::fs::read(dir.path().join(SERVER_CERT)).unwrap(),
        server,
        "the server certificate is re-issued"
    );

    #[cfg(unix)]
    for key in [CA_KEY, SERVER_KEY] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
}

#[test]
fn a_damaged_server_certificate_is_reissued() {
    let dir = tempfile::tempdir().unwrap();
    let first = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    std::fs::write(dir.path().join(SERVER_CERT), "not a certificate").unwrap();
    let again = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    assert_eq!(first.ca_cert_pem(), again.ca_cert_pem());
    let pem = std::fs::read(dir.path().join(SERVER_CERT)).unwrap();
    assert!(CertificateDer::from_pem_slice(&pem).is_ok());
}

#[tokio::test]
async fn clients_trusting_the_ca_connect_by_name_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = tcp.local_addr().unwrap();
    let mut listener = TlsListener::new(tcp, certificates.mqtt_acceptor());
    tokio::spawn(async move {
        while let Some((mut stream, _)) = listener.next().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 5];
                if stream.read_exact(&mut buffer).await.is_ok() {
                    let _ = stream.write_all(&buffer).await;
                    let _ = stream.flush().await;
                }
            });
        }
    });
    let untrusting = connect(address, client_config(None, false), "localhost").await;
    assert!(untrusting.is_err(), "a client without the CA must fail");
    for (name, tls12_only) in [
        ("localhost", false),
        ("127.0.0.1", false),
        ("localhost", true),
    ] {
        let config = client_config(Some(certificates.ca_cert_pem()), tls12_only);
        let mut stream = connect(address, config, name).await.unwrap();
        stream.write_all(b"hello").await.unwrap();
        stream.flush().await.unwrap();
        let mut echoed = [0u8; 5];
        stream.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"hello", "{name}");
    }
}

#[tokio::test]
async fn axum_serves_through_the_listener() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = tcp.local_addr().unwrap();
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "hub" }));
    let listener = TlsListener::new(tcp, certificates.http_acceptor());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let config = client_config(Some(certificates.ca_cert_pem()), false);
    let mut stream = connect(address, config, "localhost").await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("hub"), "{response}");
}
