//! One MQTT connection's socket, read and written a whole packet at a time. Buffers start
//! small and give back what a large packet made them take: ten thousand idle devices
//! should not hold the 16 KB of buffers a general-purpose framer reserves for each, when their
//! packets are a few hundred bytes.

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::Packet;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Decoder, Encoder};

use super::frame::{FrameError, PacketCodec};

/// Room made in the read buffer before each read: most device packets fit in one read.
const READ_CHUNK: usize = 1024;

/// A buffer that grew past this (a large packet) is dropped once empty, not kept.
const KEEP_AT_MOST: usize = 16 * 1024;

/// An MQTT connection with its packet framing.
pub struct PacketStream<S> {
    stream: S,
    codec: PacketCodec,
    read: BytesMut,
    write: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketStream<S> {
    /// Frames `stream`, whose first bytes (after CONNECT) are already in `read`.
    pub fn new(stream: S, codec: PacketCodec, read: BytesMut) -> Self {
        Self {
            stream,
            codec,
            read,
            write: BytesMut::new(),
        }
    }

    /// The next packet; `None` when the other end closed the connection between packets.
    /// Cancel-safe: bytes read before a cancellation stay for the next call.
    pub async fn read_packet(&mut self) -> Option<Result<Packet, FrameError>> {
        loop {
            match self.codec.decode(&mut self.read) {
                Ok(Some(packet)) => {
                    give_back(&mut self.read);
                    return Some(Ok(packet));
                }
                Ok(None) => {}
                Err(error) => return Some(Err(error)),
            }
            self.read.reserve(READ_CHUNK);
            match self.stream.read_buf(&mut self.read).await {
                Ok(0) if self.read.is_empty() => return None,
                Ok(0) => {
                    return Some(Err(FrameError::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the connection ended inside a packet",
                    ))));
                }
                Ok(_) => {}
                Err(error) => return Some(Err(error.into())),
            }
        }
    }

    /// Writes `packets` and flushes them.
    pub async fn write_packets(
        &mut self,
        packets: impl IntoIterator<Item = Packet>,
    ) -> Result<(), FrameError> {
        for packet in packets {
            self.codec.encode(packet, &mut self.write)?;
        }
        self.stream.write_all(&self.write).await?;
        self.stream.flush().await?;
        self.write.clear();
        give_back(&mut self.write);
        Ok(())
    }
}

/// Drops an empty buffer's memory when a large packet made it grow.
fn give_back(buffer: &mut BytesMut) {
    if buffer.is_empty() && buffer.capacity() > KEEP_AT_MOST {
        *buffer = BytesMut::new();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::QoS;
    use rumqttc::mqttbytes::v4::Publish;

    #[tokio::test]
    async fn packets_cross_in_pieces_and_big_buffers_are_given_back() {
        let (client, server) = tokio::io::duplex(256);
        let mut device = PacketStream::new(client, PacketCodec::new(1 << 20), BytesMut::new());
        let mut hub = PacketStream::new(server, PacketCodec::new(1 << 20), BytesMut::new());
        let big = Publish::new(
            "devices/d/messages/events/",
            QoS::AtMostOnce,
            vec![7u8; 100_000],
        );
        let sent = tokio::spawn(async move {
            device
                .write_packets([Packet::Publish(big), Packet::PingReq])
                .await
                .unwrap();
            device
        });
        let Some(Ok(Packet::Publish(received))) = hub.read_packet().await else {
            panic!("no publish")
        };
        assert_eq!(received.payload.len(), 100_000);
        assert!(matches!(hub.read_packet().await, Some(Ok(Packet::PingReq))));
        assert!(
            hub.read.capacity() <= KEEP_AT_MOST,
            "{}",
            hub.read.capacity()
        );
        let device = sent.await.unwrap();
        assert!(device.write.capacity() <= KEEP_AT_MOST);
        drop(device);
        assert!(hub.read_packet().await.is_none(), "a clean end");
    }

    #[tokio::test]
    async fn an_end_inside_a_packet_is_an_error() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut hub = PacketStream::new(server, PacketCodec::new(1024), BytesMut::new());
        client.write_all(&[0xC0]).await.unwrap();
        drop(client);
        assert!(matches!(hub.read_packet().await, Some(Err(_))));
    }
}
