//! The MQTT 3.1.1 packet codec of a device connection: rumqttc's codec plus the checks of
//! the fixed header's flag bits that it leaves out (MQTT 3.1.1 section 2.2.2: reserved flags
//! must be exactly as specified, and a QoS 0 PUBLISH must not carry DUP). A packet that
//! breaks them is a protocol violation, which ends the connection.

use bytes::BytesMut;
use rumqttc::mqttbytes;
use rumqttc::mqttbytes::v4::{Codec, Packet};
use tokio_util::codec::{Decoder, Encoder};

/// Why a packet from the other end could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The flag bits of the fixed header are not the ones MQTT 3.1.1 prescribes.
    #[error(
        "a {packet} packet with fixed-header flags {flags:#06b}, where MQTT 3.1.1 requires {required:#06b}"
    )]
    ReservedFlags {
        /// The packet type's name.
        packet: &'static str,
        /// The flags sent.
        flags: u8,
        /// The flags the type requires.
        required: u8,
    },
    /// A QoS 0 PUBLISH marked as a redelivery, which MQTT 3.1.1 forbids.
    #[error("a QoS 0 PUBLISH with the DUP flag set")]
    DuplicateAtQosZero,
    /// The packet itself is malformed or over the size limit.
    #[error(transparent)]
    Packet(#[from] mqttbytes::Error),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Checks the first byte of a packet (its type and flags) against MQTT 3.1.1. Unknown
/// packet types are left to the codec, which names them.
pub fn check_fixed_header(first: u8) -> Result<(), FrameError> {
    let flags = first & 0x0F;
    let (packet, required) = match first >> 4 {
        3 => {
            let qos = (flags >> 1) & 0b11;
            let duplicate = flags & 0b1000 != 0;
            return if qos == 0 && duplicate {
                Err(FrameError::DuplicateAtQosZero)
            } else {
                Ok(())
            };
        }
        1 => ("CONNECT", 0),
        2 => ("CONNACK", 0),
        4 => ("PUBACK", 0),
        5 => ("PUBREC", 0),
        6 => ("PUBREL", 0b0010),
        7 => ("PUBCOMP", 0),
        8 => ("SUBSCRIBE", 0b0010),
        9 => ("SUBACK", 0),
        10 => ("UNSUBSCRIBE", 0b0010),
        11 => ("UNSUBACK", 0),
        12 => ("PINGREQ", 0),
        13 => ("PINGRESP", 0),
        14 => ("DISCONNECT", 0),
        _ => return Ok(()),
    };
    if flags == required {
        Ok(())
    } else {
        Err(FrameError::ReservedFlags {
            packet,
            flags,
            required,
        })
    }
}

/// rumqttc's codec with [`check_fixed_header`] applied to every incoming packet.
pub struct PacketCodec(Codec);

impl PacketCodec {
    /// A codec refusing packets over `max_packet_bytes` in either direction.
    pub fn new(max_packet_bytes: usize) -> Self {
        Self(Codec {
            max_incoming_size: max_packet_bytes,
            max_outgoing_size: max_packet_bytes,
        })
    }
}

impl Decoder for PacketCodec {
    type Item = Packet;
    type Error = FrameError;

    fn decode(&mut self, source: &mut BytesMut) -> Result<Option<Packet>, FrameError> {
        if let Some(first) = source.first() {
            check_fixed_header(*first)?;
        }
        Ok(self.0.decode(source)?)
    }
}

impl Encoder<Packet> for PacketCodec {
    type Error = FrameError;

    fn encode(&mut self, packet: Packet, destination: &mut BytesMut) -> Result<(), FrameError> {
        Ok(self.0.encode(packet, destination)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Option<Packet>, FrameError> {
        PacketCodec::new(1024).decode(&mut BytesMut::from(bytes))
    }

    #[test]
    fn packets_with_the_prescribed_flags_are_read() {
        assert!(matches!(decode(&[0xC0, 0]), Ok(Some(Packet::PingReq))));
        assert!(matches!(decode(&[0xE0, 0]), Ok(Some(Packet::Disconnect))));
        // SUBSCRIBE (flags 0010) to "a" at QoS 1, packet id 1.
        let subscribe = [0x82, 6, 0, 1, 0, 1, b'a', 1];
        assert!(matches!(decode(&subscribe), Ok(Some(Packet::Subscribe(_)))));
        // PUBLISH at QoS 1 with DUP, and at QoS 0 with RETAIN.
        let publish = [0x3A, 5, 0, 1, b't', 0, 7];
        assert!(matches!(decode(&publish), Ok(Some(Packet::Publish(_)))));
        assert!(matches!(
            decode(&[0x31, 3, 0, 1, b't']),
            Ok(Some(Packet::Publish(_)))
        ));
    }

    #[test]
    fn reserved_flags_are_refused() {
        let cases: [(&[u8], &str); 4] = [
            (&[0x80, 6, 0, 1, 0, 1, b'a', 1], "SUBSCRIBE"),
            (&[0xC1, 0], "PINGREQ"),
            (&[0xE8, 0], "DISCONNECT"),
            (&[0xA0, 5, 0, 1, 0, 1, b'a'], "UNSUBSCRIBE"),
        ];
        for (bytes, packet) in cases {
            let error = decode(bytes).unwrap_err();
            assert!(
                matches!(&error, FrameError::ReservedFlags { packet: named, .. } if *named == packet),
                "{packet}: {error:?}"
            );
            assert!(error.to_string().contains(packet), "{error}");
        }
    }

    #[test]
    fn duplicate_flag_at_qos_zero_is_refused() {
        let error = decode(&[0x38, 3, 0, 1, b't']).unwrap_err();
        assert!(matches!(error, FrameError::DuplicateAtQosZero), "{error:?}");
    }

    #[test]
    fn incomplete_packets_wait_for_more_bytes() {
        assert!(matches!(decode(&[0x82]), Ok(None)));
        assert!(matches!(decode(&[]), Ok(None)));
    }

    #[test]
    fn packets_over_the_limit_are_refused() {
        let mut bytes = BytesMut::from(&[0x30, 0x80, 0x10][..]);
        let error = PacketCodec::new(64).decode(&mut bytes).unwrap_err();
        assert!(matches!(error, FrameError::Packet(_)), "{error:?}");
    }
}
