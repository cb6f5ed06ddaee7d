//! Serving the service API's routes over HTTP/1.1 (plain TCP) or HTTPS (HTTP/2 when the
//! client's ALPN asks for it, HTTP/1.1 otherwise), with the timeouts and the connection
//! limit that keep idle, slow or abandoned clients from holding the hub's descriptors:
//! a client must send each request's headers within the HTTP timeout, which also closes
//! connections idle that long; handlers read bodies under the same timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use super::admission::{self, ConnectionLimit, ConnectionPermit};
use super::tls::TlsListener;

/// How often an HTTP/2 connection is pinged to find a peer that went away.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);

/// Where service API connections come from.
pub enum HttpListener {
    /// Plain TCP, under its connection limit.
    Plain(TcpListener, Arc<ConnectionLimit>),
    /// TLS-terminated TCP (the limit is applied by the TLS listener).
    Tls(TlsListener),
}

/// The HTTP protocol a connection speaks.
#[derive(Clone, Copy)]
enum Protocol {
    Http1,
    Http2,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish (the caller bounds how long it waits for that).
pub async fn serve(
    listener: HttpListener,
    router: Router,
    timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let builders = Builders::new(timeout);
    let graceful = GracefulShutdown::new();
    let accept = async {
        match listener {
            HttpListener::Plain(listener, limit) => loop {
                let permit = limit.admit().await;
                let (stream, peer) = admission::accept(&listener, "service API").await;
                builders.spawn(&graceful, &router, stream, peer, permit, Protocol::Http1);
            },
            HttpListener::Tls(mut listener) => {
                while let Some((stream, peer, permit)) = listener.accept().await {
                    let protocol = match stream.get_ref().1.alpn_protocol() {
                        Some(b"h2") => Protocol::Http2,
                        _ => Protocol::Http1,
                    };
                    builders.spawn(&graceful, &router, stream, peer, permit, protocol);
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    graceful.shutdown().await;
}

/// One connection builder per protocol, configured with the timeouts.
struct Builders {
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

impl Builders {
    fn new(timeout: Duration) -> Self {
        let mut http1 = auto::Builder::new(TokioExecutor::new()).http1_only();
        http1
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(timeout)
            .keep_alive(true);
        let mut http2 = auto::Builder::new(TokioExecutor::new()).http2_only();
        http2
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(HTTP2_PING_INTERVAL)
            .keep_alive_timeout(timeout);
        Self { http1, http2 }
    }

    /// Serves one connection in its own task, holding `permit` until it closes.
    fn spawn<S>(
        &self,
        graceful: &GracefulShutdown,
        router: &Router,
        stream: S,
        peer: SocketAddr,
        permit: ConnectionPermit,
        protocol: Protocol,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let builder = match protocol {
            Protocol::Http1 => &self.http1,
            Protocol::Http2 => &self.http2,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, "HTTP connection ended: {error}");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests;
