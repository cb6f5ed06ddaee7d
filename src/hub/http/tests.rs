//! The service API's HTTP serving over loopback: idle, silent and slow clients are
//! closed within the timeout while others are served, HTTPS speaks HTTP/2 or HTTP/1.1
//! as ALPN asks, and a stop lets the request in flight finish.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

const TIMEOUT: Duration = Duration::from_millis(500);

/// `/hello`, and `/slow`, which tells `slow_started` when a request reached it and
/// answers 300 ms later.
fn router(slow_started: Arc<tokio::sync::Notify>) -> Router {
    Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .route(
            "/slow",
            axum::routing::get(move || async move {
                slow_started.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
}

/// Serves [`router`] on a plain listener until the returned sender is used or dropped.
async fn plain_server(max_connections: usize) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limit = ConnectionLimit::new("test API", max_connections);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        HttpListener::Plain(listener, limit),
        router(Arc::default()),
        TIMEOUT,
        async {
            let _ = stopped.await;
        },
    ));
    (address, stop)
}

async fn get(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// How long until the server closes `stream`, reading and dropping what it sends.
async fn closed_after(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "still open after 5 s");
    started.elapsed()
}

#[tokio::test]
async fn silent_idle_and_slow_clients_are_closed_within_the_timeout() {
    let (address, _stop) = plain_server(100).await;
    // Sends nothing at all.
    let mut silent = TcpStream::connect(address).await.unwrap();
    // Sends half a request line, then a header byte by byte, slower than the timeout.
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: local")
        .await
        .unwrap();
    let slowloris = tokio::spawn(async move {
        for byte in b"host-that-never-ends" {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
        closed_after(&mut slow).await
    });
    // Keeps its connection open after a first request.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 17];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");

    // Others are served meanwhile.
    assert!(get(address, "/hello").await.ends_with("hello"));
    for waited in [
        closed_after(&mut silent).await,
        closed_after(&mut idle).await,
        slowloris.await.unwrap(),
    ] {
        assert!(waited < TIMEOUT * 3, "closed after {waited:?}");
    }
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_to_answer_is_still_answered() {
    let (address, _stop) = plain_server(100).await;
    let response = get(address, "/slow").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
}

#[tokio::test]
async fn connections_past_the_limit_wait_for_a_free_place() {
    let (address, _stop) = plain_server(1).await;
    let mut holder = TcpStream::connect(address).await.unwrap();
    holder
        .write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 17];
    holder.read_exact(&mut first).await.unwrap();
    // The second client waits in the backlog until the idle holder is closed.
    let started = Instant::now();
    assert!(get(address, "/hello").await.ends_with("hello"));
    assert!(started.elapsed() >= TIMEOUT / 2, "{:?}", started.elapsed());
}

#[tokio::test]
async fn https_speaks_http2_or_http1_as_alpn_asks_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = super::super::tls::HubCertificates::load_or_create(dir.path(), &[]).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = tcp.local_addr().unwrap();
    let limit = ConnectionLimit::new("test API", 100);
    let listener = TlsListener::new(tcp, certificates.http_acceptor(), limit);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let slow_started = Arc::new(tokio::sync::Notify::new());
    let server = tokio::spawn(serve(
        HttpListener::Tls(listener),
        router(Arc::clone(&slow_started)),
        TIMEOUT,
        async {
            let _ = stopped.await;
        },
    ));
    for http2 in [true, false] {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(client_tls(certificates.ca_cert_pem(), http2));
        if !http2 {
            builder = builder.http1_only();
        }
        let client = builder.build().unwrap();
        let response = client
            .get(format!("https://localhost:{}/hello", address.port()))
            .send()
            .await
            .unwrap();
        let expected = if http2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        assert_eq!(response.version(), expected);
        assert_eq!(response.text().await.unwrap(), "hello");
    }
    // A stop lets the request in flight finish.
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls(certificates.ca_cert_pem(), false))
        .build()
        .unwrap();
    let in_flight = tokio::spawn(
        client
            .get(format!("https://localhost:{}/slow", address.port()))
            .send(),
    );
    slow_started.notified().await;
    stop.send(()).unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.text().await.unwrap(), "slow");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
}

/// A rustls client trusting only `ca_pem`, offering h2 (when `http2`) and http/1.1.
fn client_tls(ca_pem: &str, http2: bool) -> rustls::ClientConfig {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config
}
