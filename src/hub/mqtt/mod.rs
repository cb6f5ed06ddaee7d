//! The device MQTT 3.1.1 endpoint of the local hub, over plain TCP or TLS. Packets are
//! framed by [`crate::mqtt_wire`] (the same codec and packet stream our simulated
//! devices use); the session logic is ours and speaks only IoT Hub's `$iothub/...` topics. This is not
//! a general broker: each response goes only to the connection that asked.
//!
//! - [`connect`]: the first packet and device authentication.
//! - [`session`]: one device's session after CONNECT.
//!
//! Which sessions are connected, and what persistent sessions keep, is the hub's shared
//! [`crate::hub::sessions`].

pub mod connect;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::activity::Activity;
use super::admission::{self, ConnectionLimit, ConnectionPermit};
use super::state::HubState;
use super::tls::TlsListener;
use crate::mqtt_wire::{PacketCodec, PacketStream};
use connect::ConnectError;
use session::Ended;

/// IoT Hub's largest device-to-cloud message is 256 KB; allow the packet overhead.
pub const MAX_PACKET_BYTES: usize = 256 * 1024 + 1024;
/// How long a new connection may take to send CONNECT.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where device connections come from.
pub enum MqttListener {
    /// Plain TCP, under its connection limit.
    Plain(TcpListener, Arc<ConnectionLimit>),
    /// TLS-terminated TCP (the limit is applied by the TLS listener).
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
            MqttListener::Plain(listener, limit) => loop {
                let permit = limit.admit().await;
                let (stream, peer) = admission::accept(&listener, "device MQTT endpoint").await;
                connections.spawn(serve_connection(stream, peer, state.clone(), permit));
                while connections.try_join_next().is_some() {}
            },
            MqttListener::Tls(mut listener) => {
                while let Some((stream, peer, permit)) = listener.accept().await {
                    connections.spawn(serve_connection(stream, peer, state.clone(), permit));
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

/// Serves one connection, holding its place under the listener's limit until it ends.
async fn serve_connection<S>(stream: S, peer: SocketAddr, state: HubState, permit: ConnectionPermit)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    run_connection(stream, peer, state).await;
    drop(permit);
}

/// Serves one device connection from CONNECT to the end of its session.
pub async fn run_connection<S>(mut stream: S, peer: SocketAddr, state: HubState)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // A CONNECT with a SAS token is a few hundred bytes.
    let mut buffer = BytesMut::with_capacity(1024);
    let connect = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        connect::read_connect(&mut stream, &mut buffer, MAX_PACKET_BYTES),
    )
    .await
    {
        Ok(Ok(connect)) => connect,
        Ok(Err(error)) => {
            tracing::debug!(%peer, "MQTT connection closed: {error}");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "MQTT connection closed: no CONNECT within {CONNECT_TIMEOUT:?}");
            return;
        }
    };
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let accepted = connect::authenticate(&state, &connect, now).and_then(|client| {
        let will = connect::will_of(&connect, &client)?;
        Ok((client, will))
    });
    let (client, will) = match accepted {
        Ok(accepted) => accepted,
        Err(error) => {
            if let ConnectError::Refused { code, .. } = &error {
                connect::refuse(&mut stream, *code).await;
            }
            tracing::info!(%peer, "MQTT connection refused: {error}");
            return;
        }
    };
    // Devices and modules are known by their key from here on: the device id, or
    // `{deviceId}/{moduleId}` for a module.
    let device_id = client.key();
    let mut connection = PacketStream::new(stream, PacketCodec::new(MAX_PACKET_BYTES), buffer);
    let registered = state
        .sessions
        .register(&device_id, connect.clean_session, || {
            record_connection_state(&state, &device_id, true, client.model_id.as_deref())
        });
    let ticket = registered.ticket;
    let session_present = registered.resumed.is_some();
    if connection
        .write_packets([Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            session_present,
        ))])
        .await
        .is_err()
    {
        state.sessions.end(&ticket, || {
            record_connection_state(&state, &device_id, false, None);
        });
        return;
    }
    Activity::count(&state.activity.sessions_opened);
    tracing::debug!(device_id, %peer, session_present, "device connected");
    let start = session::Start {
        client,
        keep_alive: connect.keep_alive,
        ticket: &ticket,
        evicted: registered.evicted,
        resumed: registered.resumed,
    };
    let ended = session::run(&mut connection, state.clone(), start).await;
    // A session taken over leaves the state to its successor.
    state.sessions.end(&ticket, || {
        record_connection_state(&state, &device_id, false, None);
    });
    match &ended {
        Ended::Violation(reason) => {
            tracing::warn!(device_id, %peer, "closing the connection, protocol violation: {reason}")
        }
        other => tracing::debug!(device_id, %peer, "device session ended: {other:?}"),
    }
    Activity::count(&state.activity.sessions_ended);
    if let Some(will) = will
        && !matches!(ended, Ended::Disconnected)
    {
        Activity::count(&state.activity.telemetry_messages);
        let dropped = state.telemetry.record(
            &device_id,
            will.properties,
            &will.payload,
            chrono::Utc::now(),
        );
        Activity::add(&state.activity.telemetry_dropped, dropped);
    }
}

/// Marks the device's twin and identity `Connected` or `Disconnected` (a deleted device
/// has neither), and records the model a connecting device announced.
fn record_connection_state(
    state: &HubState,
    device_id: &str,
    connected: bool,
    model_id: Option<&str>,
) {
    if let Err(error) =
        state
            .store
            .set_connection_state(device_id, connected, model_id, chrono::Utc::now())
    {
        tracing::debug!(
            device_id,
            connected,
            "could not record the connection state: {error}"
        );
    }
}
