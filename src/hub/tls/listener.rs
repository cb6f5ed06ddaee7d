//! A TCP listener whose connections come out TLS-terminated, for the HTTPS and MQTTS
//! servers. It owns accepting (under the listener's connection limit) and handshaking;
//! what is spoken over the streams is the servers' business.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::hub::admission::{self, ConnectionLimit, ConnectionPermit};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to complete its handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections accepted but not yet taken by the server (handshaking or handshaken). At
/// the limit the listener stops accepting and the kernel's backlog holds new clients.
const MAX_PENDING_CONNECTIONS: usize = 256;
/// Handshaken connections waiting in the channel for the server to take them.
const READY_QUEUE: usize = 32;

/// A handshaken connection, its peer, and its place under the listener's limit (to be
/// held as long as the connection is open).
pub type Accepted = (TlsStream<TcpStream>, SocketAddr, ConnectionPermit);

/// A TCP listener whose accepted connections come out TLS-terminated. Each handshake
/// runs in its own task with a 10 s timeout, so one slow or broken client never delays
/// the others; failed handshakes are logged at debug level and dropped. Accepted
/// sockets get TCP_NODELAY (clients such as paho do not set it, which costs ~40 ms a
/// request). Dropping the listener closes the socket.
pub struct TlsListener {
    tcp: Arc<TcpListener>,
    ready: mpsc::Receiver<Accepted>,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` while `limit` allows, handshaking with `acceptor`; must
    /// be called inside a Tokio runtime.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor, limit: Arc<ConnectionLimit>) -> Self {
        Self::with_handshake_timeout(tcp, acceptor, limit, HANDSHAKE_TIMEOUT)
    }

    fn with_handshake_timeout(
        tcp: TcpListener,
        acceptor: TlsAcceptor,
        limit: Arc<ConnectionLimit>,
        handshake_timeout: Duration,
    ) -> Self {
        let tcp = Arc::new(tcp);
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        let handshakes = Handshakes {
            acceptor,
            timeout: handshake_timeout,
            ready: sender,
        };
        let accepting = tokio::spawn(accept_connections(Arc::clone(&tcp), limit, handshakes));
        Self {
            tcp,
            ready,
            accepting,
        }
    }

    /// The next connection whose handshake completed, with its peer address. `None` only
    /// if accepting has stopped, which it does not while the listener lives.
    pub async fn accept(&mut self) -> Option<Accepted> {
        self.ready.recv().await
    }

    /// The address the listener is bound to (e.g. to learn the port of `127.0.0.1:0`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Ends the accept loop, which holds the other reference to the socket.
        self.accepting.abort();
    }
}

/// What each handshake task needs.
#[derive(Clone)]
struct Handshakes {
    acceptor: TlsAcceptor,
    timeout: Duration,
    ready: mpsc::Sender<Accepted>,
}

/// Accepts TCP connections forever, while the listener is under its limit, starting a
/// handshake task for each while fewer than [`MAX_PENDING_CONNECTIONS`] are pending.
async fn accept_connections(
    tcp: Arc<TcpListener>,
    limit: Arc<ConnectionLimit>,
    handshakes: Handshakes,
) {
    let pending = Arc::new(Semaphore::new(MAX_PENDING_CONNECTIONS));
    loop {
        let connection = limit.admit().await;
        let Ok(permit) = Arc::clone(&pending).acquire_owned().await else {
            return; // The semaphore is never closed.
        };
        let (stream, peer) = admission::accept(&tcp, "TLS listener").await;
        tokio::spawn(handshake(
            handshakes.clone(),
            stream,
            peer,
            permit,
            connection,
        ));
    }
}

/// Completes the handshake of one connection and queues it for the server. `permit`
/// is held until the server has it, which bounds the connections pending.
async fn handshake(
    handshakes: Handshakes,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    connection: ConnectionPermit,
) {
    match tokio::time::timeout(handshakes.timeout, handshakes.acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            // Fails only when the listener was dropped; the connection goes with it.
            let _ = handshakes.ready.send((tls, peer, connection)).await;
        }
        Ok(Err(error)) => tracing::debug!(%peer, "TLS handshake failed: {error}"),
        Err(_) => tracing::debug!(
            %peer,
            "TLS handshake did not complete within {} ms",
            handshakes.timeout.as_millis()
        ),
    }
    drop(permit);
}

#[cfg(test)]
mod tests;
