//! MQTT over WebSockets on the service API's port, as IoT Hub serves it on 443:
//! `GET /$iothub/websocket` with the WebSocket subprotocol `mqtt` upgrades the
//! connection, and from then on binary WebSocket messages carry the MQTT byte stream
//! (message boundaries need not match packet boundaries). The session behind it is the
//! device MQTT endpoint's own ([`super::mqtt::run_connection`]): same authentication,
//! topics and session rules. Devices behind firewalls that open only 443 use it, and so
//! do the Node.js SDK's `MqttWs` transport and the Python SDK's `websockets=True`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::admission::ConnectionPermit;
use super::error::HubError;
use super::mqtt;
use super::state::HubState;

/// The path IoT Hub serves MQTT over WebSockets on.
pub const PATH: &str = "/$iothub/websocket";
/// The WebSocket subprotocol of MQTT 3.1.1 (section 6).
const SUBPROTOCOL: &str = "mqtt";

/// What the HTTP server knows of the connection a request came on.
#[derive(Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection's place under the listener's limit, taken by a WebSocket session
    /// so that it counts as long as the session lasts (the HTTP connection ends at the
    /// upgrade).
    pub permit: Arc<Mutex<Option<ConnectionPermit>>>,
}

/// Upgrades `GET /$iothub/websocket` to an MQTT session.
pub async fn upgrade(
    State(state): State<HubState>,
    connection: Option<Extension<ConnectionInfo>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade.protocols([SUBPROTOCOL]),
        Err(rejection) => {
            return HubError::ArgumentInvalid(format!(
                "{PATH} serves MQTT over WebSockets and needs a WebSocket upgrade request: {}",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    if upgrade.selected_protocol().is_none() {
        return HubError::ArgumentInvalid(format!(
            "{PATH} serves MQTT over WebSockets: offer the WebSocket subprotocol \
             '{SUBPROTOCOL}' (Sec-WebSocket-Protocol)"
        ))
        .into_response();
    }
    let (peer, permit) = match connection {
        Some(Extension(info)) => {
            let permit = info.permit.lock().unwrap_or_else(|e| e.into_inner()).take();
            (info.peer, permit)
        }
        None => (SocketAddr::from(([0, 0, 0, 0], 0)), None),
    };
    upgrade
        .max_message_size(mqtt::MAX_PACKET_BYTES)
        .on_failed_upgrade(move |error| {
            tracing::debug!(%peer, "WebSocket upgrade failed: {error}");
        })
        .on_upgrade(move |socket| async move {
            mqtt::run_connection(WebSocketBytes::new(socket), peer, state).await;
            drop(permit);
        })
}

/// A WebSocket seen as the byte stream its binary messages carry.
pub struct WebSocketBytes<W> {
    socket: W,
    /// What is left of the last message read.
    unread: Bytes,
}

impl<W> WebSocketBytes<W> {
    /// Wraps an open WebSocket.
    pub fn new(socket: W) -> Self {
        Self {
            socket,
            unread: Bytes::new(),
        }
    }
}

fn io_error(error: axum::Error) -> io::Error {
    io::Error::other(error)
}

impl<W> AsyncRead for WebSocketBytes<W>
where
    W: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.unread.is_empty() {
                let count = buf.remaining().min(this.unread.len());
                buf.put_slice(&this.unread.split_to(count));
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.socket).poll_next(cx)) {
                // The end of the stream reads as the end of the connection.
                None | Some(Ok(Message::Close(_))) => return Poll::Ready(Ok(())),
                Some(Ok(Message::Binary(bytes))) => this.unread = bytes,
                // Pings are answered by the WebSocket layer itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text WebSocket message: MQTT over WebSockets travels in binary \
                         messages",
                    )));
                }
                Some(Err(error)) => return Poll::Ready(Err(io_error(error))),
            }
        }
    }
}

impl<W> AsyncWrite for WebSocketBytes<W>
where
    W: Sink<Message, Error = axum::Error> + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let socket = &mut self.get_mut().socket;
        ready!(Pin::new(&mut *socket).poll_ready(cx)).map_err(io_error)?;
        Pin::new(socket)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket)
            .poll_flush(cx)
            .map_err(io_error)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket)
            .poll_close(cx)
            .map_err(io_error)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, stream};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn binary_messages_read_as_one_byte_stream() {
        let messages = vec![
            Ok(Message::Binary(Bytes::from_static(b"\x10\x02"))),
            Ok(Message::Ping(Bytes::new())),
            Ok(Message::Binary(Bytes::from_static(b"ab"))),
            Ok(Message::Close(None)),
            Ok(Message::Binary(Bytes::from_static(b"after close"))),
        ];
        let mut bytes = WebSocketBytes::new(stream::iter(messages));
        let mut read = Vec::new();
        bytes.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, b"\x10\x02ab");

        let text = vec![Ok(Message::Text("{}".into()))];
        let mut bytes = WebSocketBytes::new(stream::iter(text));
        let error = bytes.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn writes_become_binary_messages() {
        let sink = Vec::<Message>::new().sink_map_err(|never| match never {});
        let mut bytes = WebSocketBytes::new(sink);
        bytes.write_all(b"\x20\x02\x00\x00").await.unwrap();
        bytes.write_all(b"\xd0\x00").await.unwrap();
        bytes.shutdown().await.unwrap();
        assert_eq!(
            bytes.socket.get_ref(),
            &[
                Message::Binary(Bytes::from_static(b"\x20\x02\x00\x00")),
                Message::Binary(Bytes::from_static(b"\xd0\x00")),
            ]
        );
    }
}
