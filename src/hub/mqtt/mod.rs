//! The device MQTT 3.1.1 endpoint of the local hub, over plain TCP or TLS. Packets are
//! framed with `rumqttc::mqttbytes::v4` (the same codec our device client uses); the
//! session logic is ours and speaks only IoT Hub's `$iothub/...` topics. This is not
//! a general broker: each response goes only to the connection that asked.
//!
//! - [`connect`]: the first packet and device authentication.
//! - [`frame`]: the packet codec, strict about the fixed header.
//! - [`session`]: one device's session after CONNECT.
//! - [`sessions`]: one session per device, takeover and revocation.

pub mod connect;
pub mod frame;
pub mod session;
pub mod sessions;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::SinkExt;
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::codec::{Framed, FramedParts};

use super::rest::HubState;
use super::tls::TlsListener;
use connect::ConnectError;
use frame::DeviceCodec;
use session::Ended;
use sessions::Eviction;

/// IoT Hub's largest device-to-cloud message is 256 KB; allow the packet overhead.
pub const MAX_PACKET_BYTES: usize = 256 * 1024 + 1024;
/// How long a new connection may take to send CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where device connections come from.
pub enum MqttListener {
    /// Plain TCP.
    Plain(TcpListener),
    /// TLS-terminated TCP.
    Tls(TlsListener),
}

/// Accepts device connections until `shutdown` completes, then ends every session.
pub async fn serve(
    listener: MqttListener,
    state: HubState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    let accept = async {
        match listener {
            MqttListener::Plain(listener) => loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(run_connection(stream, peer, state.clone()));
                    }
                    Err(error) => {
                        tracing::warn!("accepting an MQTT connection failed: {error}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                while connections.try_join_next().is_some() {}
            },
            MqttListener::Tls(mut listener) => {
                while let Some((stream, peer)) = listener.accept().await {
                    connections.spawn(run_connection(stream, peer, state.clone()));
                    while connections.try_join_next().is_some() {}
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    connections.shutdown().await;
}

/// Serves one device connection from CONNECT to the end of its session.
pub async fn run_connection<S>(mut stream: S, peer: SocketAddr, state: HubState)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buffer = BytesMut::with_capacity(4096);
    let connect = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        connect::read_connect(&mut stream, &mut buffer, MAX_PACKET_BYTES),
    )
    .await
    {
        Ok(Ok(connect)) => connect,
        Ok(Err(error)) => {
            tracing::info!(%peer, "MQTT connection closed: {error}");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "MQTT connection closed: no CONNECT within {CONNECT_TIMEOUT:?}");
            return;
        }
    };
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let device_id = match connect::authenticate(&state, &connect, now) {
        Ok(device_id) => device_id,
        Err(error) => {
            if let ConnectError::Refused { code, .. } = &error {
                connect::refuse(&mut stream, *code).await;
            }
            tracing::info!(%peer, "MQTT connection refused: {error}");
            return;
        }
    };
    let mut parts = FramedParts::new::<Packet>(stream, DeviceCodec::new(MAX_PACKET_BYTES));
    parts.read_buf = buffer;
    let mut framed = Framed::from_parts(parts);
    let (ticket, evicted) = state.sessions.register(&device_id);
    if framed
        .send(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            false,
        )))
        .await
        .is_err()
    {
        if state.sessions.end(&ticket) {
            record_disconnection(&state, &device_id);
        }
        return;
    }
    if let Err(error) = state
        .store
        .set_connection_state(&device_id, true, chrono::Utc::now())
    {
        tracing::warn!(device_id, "could not record the connection: {error}");
    }
    tracing::info!(device_id, %peer, "device connected");
    let ended = session::run(
        &mut framed,
        state.clone(),
        device_id.clone(),
        connect.keep_alive,
        evicted,
    )
    .await;
    let ticket_still_current = state.sessions.end(&ticket);
    match &ended {
        Ended::Violation(reason) => {
            tracing::warn!(device_id, %peer, "closing the connection, protocol violation: {reason}")
        }
        other => tracing::info!(device_id, %peer, "device session ended: {other:?}"),
    }
    // A session taken over leaves the state to its successor; a disabled device has none.
    if ticket_still_current || matches!(ended, Ended::Evicted(Eviction::Revoked)) {
        record_disconnection(&state, &device_id);
    }
}

/// Marks the device's twin and identity `Disconnected` (a deleted device has neither).
fn record_disconnection(state: &HubState, device_id: &str) {
    if let Err(error) = state
        .store
        .set_connection_state(device_id, false, chrono::Utc::now())
    {
        tracing::debug!(device_id, "could not record the disconnection: {error}");
    }
}
