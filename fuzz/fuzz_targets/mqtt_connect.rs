//! The device MQTT endpoint from the first byte a device sends: `read_connect` over an
//! in-memory connection, the CONNECT username and password, then every following packet
//! through `PacketCodec` and the topic and filter parsers the session uses.
//!
//! Input: the first byte sets how many bytes each read of the connection returns (so
//! packets arrive split at every boundary); the rest is what the device sends.

#![no_main]

use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rumqttc::mqttbytes::v4::Packet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::runtime::Runtime;
use tokio_util::codec::{Decoder, Encoder};
use twinlens::auth::SasToken;
use twinlens::hub::mqtt::connect::read_connect;
use twinlens::mqtt_wire::{PacketCodec, check_fixed_header};
use twinlens::hub::mqtt::MAX_PACKET_BYTES;
use twinlens::topics::{MqttUsername, parse_device_topic, parse_hub_topic, parse_subscription};

/// The device's side of a connection: reads come from `input` at most `chunk` bytes at a
/// time, writes (a refusing CONNACK) are kept.
struct Connection<'a> {
    input: &'a [u8],
    chunk: usize,
    written: Vec<u8>,
}

impl AsyncRead for Connection<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let take = self.chunk.min(self.input.len()).min(buf.remaining());
        let (head, tail) = self.input.split_at(take);
        buf.put_slice(head);
        self.input = tail;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Connection<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// What the hub does with a CONNECT's credentials before it looks anything up.
fn check_login(username: &str, password: &str) -> Option<String> {
    let _ = SasToken::parse(password);
    let parsed = MqttUsername::parse(username).ok()?;
    let again =
        MqttUsername::parse(&parsed.to_username()).expect("a formatted username parses back");
    assert_eq!(again, parsed, "username {username:?}");
    Some(parsed.client_id())
}

/// Reads packets the way a session does, until the bytes run out or one is refused.
fn decode_session(buffer: &mut BytesMut, device_id: &str) {
    let mut codec = PacketCodec::new(MAX_PACKET_BYTES);
    loop {
        let before = buffer.len();
        let packet = match codec.decode(buffer) {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(_) => return,
        };
        assert!(buffer.len() < before, "a packet was decoded from no bytes");
        match &packet {
            Packet::Publish(publish) => {
                if let Ok(topic) = parse_device_topic(&publish.topic, device_id, None) {
                    assert_eq!(
                        parse_device_topic(&topic.to_topic(), device_id, None).ok(),
                        Some(topic),
                        "device topic {:?}",
                        publish.topic
                    );
                }
                if let Ok(topic) = parse_hub_topic(&publish.topic) {
                    assert_eq!(
                        parse_hub_topic(&topic.to_topic()).ok(),
                        Some(topic),
                        "hub topic {:?}",
                        publish.topic
                    );
                }
            }
            Packet::Subscribe(subscribe) => {
                for filter in &subscribe.filters {
                    if let Ok(subscription) = parse_subscription(&filter.path, device_id, None) {
                        let formatted = subscription.filter(device_id, None);
                        assert_eq!(
                            parse_subscription(&formatted, device_id, None).ok(),
                            Some(subscription)
                        );
                    }
                }
            }
            Packet::Unsubscribe(unsubscribe) => {
                for filter in &unsubscribe.topics {
                    let _ = parse_subscription(filter, device_id, None);
                }
            }
            _ => {}
        }
        // What the hub reads, it can write (it echoes packet ids and builds the same kinds).
        let mut out = BytesMut::new();
        if codec.encode(packet, &mut out).is_ok() && !out.is_empty() {
            let _ = check_fixed_header(out[0]);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, sent)) = data.split_first() else {
        return;
    };
    let mut connection = Connection {
        input: sent,
        chunk: usize::from(chunk % 32) + 1,
        written: Vec::new(),
    };
    let mut buffer = BytesMut::new();
    let connected =
        runtime().block_on(read_connect(&mut connection, &mut buffer, MAX_PACKET_BYTES));
    match connected {
        Ok(connect) => {
            let device_id = connect
                .login
                .as_ref()
                .and_then(|login| check_login(&login.username, &login.password))
                .unwrap_or_else(|| connect.client_id.clone());
            buffer.extend_from_slice(connection.input);
            decode_session(&mut buffer, &device_id);
        }
        Err(_) => {
            // A refused connection gets at most one CONNACK back.
            assert!(connection.written.len() <= 4);
            // The packet codec on its own, from the first byte.
            decode_session(&mut BytesMut::from(sent), "device-1");
        }
    }
});
