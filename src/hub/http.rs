//! Serving the service API's routes over HTTP/1.1 (plain TCP) or HTTPS (HTTP/2 when the
//! client's ALPN asks for it, HTTP/1.1 otherwise), with the timeouts and the connection
//! limit that keep idle, slow or abandoned clients from holding the hub's descriptors:
//! a client must send each request's headers within the HTTP timeout, which also closes
//! connections idle that long; handlers read bodies under the same timeout. An HTTP/1.1
//! connection may be upgraded to MQTT over WebSockets ([`super::websocket`]).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use bytes::{Bytes, BytesMut};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

use super::admission::{self, ConnectionLimit, ConnectionPermit};
use super::tls::TlsListener;
use super::websocket::ConnectionInfo;

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
    let builders = Arc::new(Builders::new(timeout));
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
    timeout: Duration,
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
        Self {
            http1,
            http2,
            timeout,
        }
    }

    /// Serves one connection in its own task, holding `permit` until it closes (or,
    /// when it is upgraded to a WebSocket, until the WebSocket session ends).
    fn spawn<S>(
        self: &Arc<Self>,
        graceful: &GracefulShutdown,
        router: &Router,
        stream: S,
        peer: SocketAddr,
        permit: ConnectionPermit,
        protocol: Protocol,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Each request learns its connection, which a WebSocket upgrade takes over.
        let info = ConnectionInfo {
            peer,
            permit: Arc::new(Mutex::new(Some(permit))),
        };
        let permit = Arc::clone(&info.permit);
        let router = TowerToHyperService::new(router.clone());
        let service = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(info.clone());
            hyper::service::Service::call(&router, request)
        });
        let builders = Arc::clone(self);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let served = match protocol {
                Protocol::Http2 => {
                    let connection = builders
                        .http2
                        .serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
                Protocol::Http1 => {
                    // hyper waits for an upgradable connection's first bytes without a
                    // timeout, so a silent client is closed here.
                    match first_bytes(stream, builders.timeout).await {
                        Some(stream) => {
                            let connection = builders
                                .http1
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(connection).await
                        }
                        None => Ok(()),
                    }
                }
            };
            if let Err(error) = served {
                tracing::debug!(%peer, "HTTP connection ended: {error}");
            }
            drop(permit);
        });
    }
}

/// Waits at most `timeout` for the client's first bytes; `None` when it sends none (or
/// closes). The bytes read are put back in front of the stream.
async fn first_bytes<S: AsyncRead + Unpin>(
    mut stream: S,
    timeout: Duration,
) -> Option<Prefixed<S>> {
    let mut first = BytesMut::with_capacity(FIRST_READ_BYTES);
    match tokio::time::timeout(timeout, stream.read_buf(&mut first)).await {
        Ok(Ok(read)) if read > 0 => Some(Prefixed {
            prefix: first.freeze(),
            stream,
        }),
        _ => None,
    }
}

/// How much of a request the first read takes.
const FIRST_READ_BYTES: usize = 4096;

/// A stream with bytes already read from it put back in front.
struct Prefixed<S> {
    prefix: Bytes,
    stream: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        }
        let count = buf.remaining().min(this.prefix.len());
        buf.put_slice(&this.prefix.split_to(count));
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
