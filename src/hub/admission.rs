//! Admitting connections to the hub's listeners: at most a set number open at once on
//! each (with a log line when the limit is reached; clients past it wait in the kernel's
//! backlog until a connection closes), and accept errors that are about the listener,
//! such as running out of file descriptors, answered with a pause, not a tight loop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The pause after an accept error that is not about one connection.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);
/// The least time between two "limit reached" lines of one listener.
const LIMIT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// A connection's place under its listener's limit; dropping it frees the place.
pub type ConnectionPermit = OwnedSemaphorePermit;

/// The connection limit of one listener.
pub struct ConnectionLimit {
    what: &'static str,
    max: usize,
    permits: Arc<Semaphore>,
    last_logged: Mutex<Option<Instant>>,
}

impl ConnectionLimit {
    /// A limit of `max` open connections on the listener named `what` (for the log).
    pub fn new(what: &'static str, max: usize) -> Arc<Self> {
        Arc::new(Self {
            what,
            max,
            permits: Arc::new(Semaphore::new(max)),
            last_logged: Mutex::new(None),
        })
    }

    /// The connections open now.
    pub fn open(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    /// A place for one more connection, waiting while the listener is at its limit.
    pub async fn admit(&self) -> ConnectionPermit {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return permit;
        }
        self.log_limit_reached();
        match Arc::clone(&self.permits).acquire_owned().await {
            Ok(permit) => permit,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        }
    }

    fn log_limit_reached(&self) {
        let mut last = self.last_logged.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < LIMIT_LOG_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        tracing::warn!(
            "the {} has {} connections open, its limit: new connections wait until one \
             closes (raise the limit with --max-connections, and the open-file limit with \
             ulimit -n)",
            self.what,
            self.max
        );
    }
}

/// Accepts the next connection on `listener`, with TCP_NODELAY set (clients such as
/// paho do not set it, which costs ~40 ms a request). Errors about one connection are
/// skipped; others (e.g. EMFILE) are logged and retried after a pause.
pub async fn accept(listener: &TcpListener, what: &str) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, "could not set TCP_NODELAY: {error}");
                }
                return (stream, peer);
            }
            Err(error) if is_about_one_connection(&error) => {
                tracing::debug!(
                    "a connection to the {what} failed before it was accepted: {error}"
                );
            }
            Err(error) => {
                tracing::warn!(
                    "accepting connections on the {what} failed: {error}; retrying in {} s",
                    ACCEPT_ERROR_PAUSE.as_secs()
                );
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Whether an accept error concerns only the connection being accepted (the peer gave
/// up), as opposed to the listener (e.g. out of file descriptors).
fn is_about_one_connection(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_past_the_limit_wait_for_a_place() {
        let limit = ConnectionLimit::new("test listener", 2);
        let first = limit.admit().await;
        let _second = limit.admit().await;
        assert_eq!(limit.open(), 2);
        let waiting = tokio::spawn({
            let limit = Arc::clone(&limit);
            async move { limit.admit().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        let _third = waiting.await.unwrap();
        assert_eq!(limit.open(), 2);
    }
}
