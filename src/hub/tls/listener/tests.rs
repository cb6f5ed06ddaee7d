//! Tests of the TLS listener over loopback: real rustls clients trusting only `ca.pem`,
//! broken and silent clients that must not stop the next one, and the connection limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rustls::ProtocolVersion;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::HubCertificates;
use super::*;

type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Certificates in a fresh folder (kept alive by the returned guard).
fn fresh_certificates() -> (tempfile::TempDir, HubCertificates) {
    let dir = tempfile::tempdir().unwrap();
    let certificates = HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    (dir, certificates)
}

async fn listener(acceptor: TlsAcceptor) -> TlsListener {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    TlsListener::new(tcp, acceptor, ConnectionLimit::new("test listener", 100))
}

/// A client trusting only `ca_pem` (or nothing), offering `versions` and `alpn`.
fn client(
    ca_pem: Option<&str>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        let (added, _) = roots.add_parsable_certificates(
            rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()).map(Result::unwrap),
        );
        assert_eq!(added, 1);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn trusting(certificates: &HubCertificates) -> tokio_rustls::TlsConnector {
    client(
        Some(certificates.ca_cert_pem()),
        rustls::DEFAULT_VERSIONS,
        &[],
    )
}

async fn connect(
    connector: &tokio_rustls::TlsConnector,
    address: SocketAddr,
    server_name: &str,
) -> io::Result<ClientStream> {
    let tcp = TcpStream::connect(address).await?;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    connector.connect(name, tcp).await
}

/// Takes one connection from `listener` and echoes what it reads once.
async fn echo_once(listener: &mut TlsListener) -> SocketAddr {
    let (mut stream, peer, _permit) = listener.accept().await.unwrap();
    assert!(stream.get_ref().0.nodelay().unwrap(), "TCP_NODELAY is set");
    let mut buffer = [0; 64];
    let read = stream.read(&mut buffer).await.unwrap();
    stream.write_all(&buffer[..read]).await.unwrap();
    stream.flush().await.unwrap();
    peer
}

async fn exchange(stream: &mut ClientStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).await.unwrap();
    stream.flush().await.unwrap();
    let mut echoed = vec![0; message.len()];
    stream.read_exact(&mut echoed).await.unwrap();
    echoed
}

#[tokio::test]
async fn a_client_trusting_the_ca_reaches_the_hub_by_name_and_by_address() {
    let (_dir, certificates) = fresh_certificates();
    let mut listener = listener(certificates.mqtt_acceptor()).await;
    let address = listener.local_addr().unwrap();
    assert!(address.ip().is_loopback() && address.port() != 0);
    let connector = trusting(&certificates);

    for server_name in ["localhost", "127.0.0.1"] {
        let server = echo_once(&mut listener);
        let client = async {
            let mut stream = connect(&connector, address, server_name).await.unwrap();
            let local = stream.get_ref().0.local_addr().unwrap();
            (exchange(&mut stream, b"ping").await, local)
        };
        let (peer, (echoed, client_address)) = tokio::join!(server, client);
        assert_eq!(echoed, b"ping", "{server_name}");
        assert_eq!(peer, client_address, "the peer address is the client's");
    }
}

#[tokio::test]
async fn tls_1_2_and_1_3_clients_are_both_served() {
    let (_dir, certificates) = fresh_certificates();
    let mut listener = listener(certificates.mqtt_acceptor()).await;
    let address = listener.local_addr().unwrap();
    let versions: [(&'static rustls::SupportedProtocolVersion, ProtocolVersion); 2] = [
        (&rustls::version::TLS12, ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, ProtocolVersion::TLSv1_3),
    ];
    for (version, expected) in versions {
        let connector = client(Some(certificates.ca_cert_pem()), &[version], &[]);
        let client = async {
            let mut stream = connect(&connector, address, "localhost").await.unwrap();
            assert_eq!(stream.get_ref().1.protocol_version(), Some(expected));
            exchange(&mut stream, b"hello").await
        };
        let (_, echoed) = tokio::join!(echo_once(&mut listener), client);
        assert_eq!(echoed, b"hello");
    }
}

#[tokio::test]
async fn http_offers_h2_and_http_1_1_while_mqtt_offers_no_alpn() {
    let (_dir, certificates) = fresh_certificates();
    type Protocols = &'static [&'static [u8]];
    let cases: [(TlsAcceptor, Protocols, Option<&[u8]>); 4] = [
        (
            certificates.http_acceptor(),
            &[b"h2", b"http/1.1"],
            Some(b"h2"),
        ),
        (
            certificates.http_acceptor(),
            &[b"http/1.1"],
            Some(b"http/1.1"),
        ),
        (certificates.mqtt_acceptor(), &[b"mqtt"], None),
        (certificates.mqtt_acceptor(), &[], None),
    ];
    for (acceptor, offered, expected) in cases {
        let mut listener = listener(acceptor).await;
        let address = listener.local_addr().unwrap();
        let connector = client(
            Some(certificates.ca_cert_pem()),
            rustls::DEFAULT_VERSIONS,
            offered,
        );
        let client = async {
            let mut stream = connect(&connector, address, "localhost").await.unwrap();
            let negotiated = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            exchange(&mut stream, b"x").await;
            negotiated
        };
        let (_, negotiated) = tokio::join!(echo_once(&mut listener), client);
        assert_eq!(negotiated.as_deref(), expected, "offered {offered:?}");
    }
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_fails_and_the_next_one_is_served() {
    let (_dir, certificates) = fresh_certificates();
    let (_other_dir, other) = fresh_certificates();
    let mut listener = listener(certificates.mqtt_acceptor()).await;
    let address = listener.local_addr().unwrap();

    let strangers = [
        client(None, rustls::DEFAULT_VERSIONS, &[]),
        client(Some(other.ca_cert_pem()), rustls::DEFAULT_VERSIONS, &[]),
    ];
    for stranger in &strangers {
        let error = connect(stranger, address, "localhost").await.err().unwrap();
        assert!(error.to_string().contains("certificate"), "{error}");
    }
    let wrong_name = connect(&trusting(&certificates), address, "hub.example").await;
    assert!(
        wrong_name.is_err(),
        "a name the certificate lacks is refused"
    );

    let client = async {
        let mut stream = connect(&trusting(&certificates), address, "localhost")
            .await
            .unwrap();
        exchange(&mut stream, b"next").await
    };
    let (_, echoed) = tokio::join!(echo_once(&mut listener), client);
    assert_eq!(echoed, b"next");
}

#[tokio::test]
async fn a_silent_or_garbage_client_does_not_delay_others_and_is_timed_out() {
    let (_dir, certificates) = fresh_certificates();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let timeout = Duration::from_secs(1);
    let limit = ConnectionLimit::new("test listener", 100);
    let mut listener =
        TlsListener::with_handshake_timeout(tcp, certificates.mqtt_acceptor(), limit, timeout);
    let address = listener.local_addr().unwrap();

    let mut silent = TcpStream::connect(address).await.unwrap();
    let mut garbage = TcpStream::connect(address).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();

    let started = tokio::time::Instant::now();
    let client = async {
        let mut stream = connect(&trusting(&certificates), address, "localhost")
            .await
            .unwrap();
        exchange(&mut stream, b"not blocked").await
    };
    let (_, echoed) = tokio::join!(echo_once(&mut listener), client);
    assert_eq!(echoed, b"not blocked");
    assert!(
        started.elapsed() < timeout,
        "served while the silent client waits"
    );

    let mut buffer = [0; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buffer)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the silent client is dropped: {closed:?}"
    );
    let answered =
        tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut Vec::new())).await;
    assert!(answered.is_ok(), "the garbage client is dropped");
}

#[tokio::test]
async fn dropping_the_listener_closes_the_socket() {
    let (_dir, certificates) = fresh_certificates();
    let listener = listener(certificates.mqtt_acceptor()).await;
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut refused = false;
    for _ in 0..50 {
        if TcpStream::connect(address).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "nothing listens on {address} any more");
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let (_dir, certificates) = fresh_certificates();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let limit = ConnectionLimit::new("test listener", 1);
    let mut listener = TlsListener::new(tcp, certificates.mqtt_acceptor(), Arc::clone(&limit));
    let address = listener.local_addr().unwrap();
    let connector = trusting(&certificates);
    let first = connect(&connector, address, "localhost").await.unwrap();
    let (_stream, _peer, held) = listener.accept().await.unwrap();
    assert_eq!(limit.open(), 1);
    // The second client is left in the backlog: its handshake cannot complete.
    let second = tokio::spawn(async move { connect(&connector, address, "localhost").await });
    let waited = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(
        waited.is_err(),
        "a second connection was accepted past the limit"
    );
    drop((held, first));
    let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
    assert!(
        matches!(accepted, Ok(Some(_))),
        "served once a place was free"
    );
    assert!(second.await.unwrap().is_ok());
}
