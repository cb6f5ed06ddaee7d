//! The start of a device connection: reading the first packet (it must be an MQTT
//! 3.1.1 CONNECT; an MQTT 5 client is told "unacceptable protocol version"), and
//! authenticating the device from its client id, username and SAS token password.

use bytes::{Buf, BytesMut};
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, Packet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::check_fixed_header;
use crate::hub::rest::HubState;
use crate::topics::MqttUsername;

/// Why a connection ended before it became a session.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The socket closed or failed.
    #[error("the connection closed before CONNECT: {0}")]
    Io(#[from] std::io::Error),
    /// The first packet was not a valid CONNECT.
    #[error("protocol violation before CONNECT: {0}")]
    Violation(String),
    /// The CONNECT was refused with a CONNACK return code.
    #[error("CONNECT refused ({code:?}): {reason}")]
    Refused {
        /// The CONNACK code sent.
        code: ConnectReturnCode,
        /// Why, for the log.
        reason: String,
    },
}

/// Reads the first packet into `buffer` and returns it as a CONNECT. Refuses
/// protocol levels other than 4 with CONNACK 0x01 before parsing the rest.
pub async fn read_connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    max_packet: usize,
) -> Result<Connect, ConnectError> {
    let length = loop {
        if let Some(first) = buffer.first() {
            if first >> 4 != 1 {
                return Err(ConnectError::Violation(
                    "the first packet is not CONNECT".into(),
                ));
            }
            check_fixed_header(*first).map_err(|e| ConnectError::Violation(e.to_string()))?;
        }
        if let Some(length) = packet_length(buffer)? {
            if length > max_packet {
                return Err(ConnectError::Violation(format!(
                    "a {length}-byte first packet is over the limit"
                )));
            }
            if buffer.len() >= length {
                break length;
            }
        }
        if stream.read_buf(buffer).await? == 0 {
            return Err(ConnectError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    };
    match connect_protocol_level(&buffer[..length]) {
        None => {
            return Err(ConnectError::Violation(
                "the first packet is not CONNECT".into(),
            ));
        }
        Some(4) => {}
        Some(level) => {
            refuse(stream, ConnectReturnCode::RefusedProtocolVersion).await;
            return Err(ConnectError::Refused {
                code: ConnectReturnCode::RefusedProtocolVersion,
                reason: format!(
                    "MQTT protocol level {level}; this endpoint speaks MQTT 3.1.1 (level 4)"
                ),
            });
        }
    }
    match Packet::read(buffer, max_packet) {
        Ok(Packet::Connect(connect)) => Ok(connect),
        Ok(other) => Err(ConnectError::Violation(format!(
            "expected CONNECT, got {other:?}"
        ))),
        Err(error) => Err(ConnectError::Violation(format!(
            "malformed CONNECT: {error}"
        ))),
    }
}

/// The total length of the packet at the start of `buffer`, once its fixed header is
/// complete.
fn packet_length(buffer: &[u8]) -> Result<Option<usize>, ConnectError> {
    let mut remaining = 0usize;
    for (index, byte) in buffer.iter().skip(1).take(4).enumerate() {
        remaining |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some(1 + index + 1 + remaining));
        }
    }
    if buffer.len() > 4 {
        return Err(ConnectError::Violation("malformed remaining length".into()));
    }
    Ok(None)
}

/// The protocol level byte of a complete CONNECT packet, `None` for other packets.
fn connect_protocol_level(packet: &[u8]) -> Option<u8> {
    if packet.first()? >> 4 != 1 {
        return None;
    }
    let header = 1 + packet.iter().skip(1).take(4).position(|b| b & 0x80 == 0)? + 1;
    let mut name = packet.get(header..)?;
    let name_length = usize::from(name.get_u16());
    packet.get(header + 2 + name_length).copied()
}

/// Sends a refusing CONNACK; the connection is closed afterwards anyway.
pub async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, code: ConnectReturnCode) {
    let mut bytes = BytesMut::new();
    if Packet::ConnAck(ConnAck::new(code, false))
        .write(&mut bytes, 16)
        .is_ok()
    {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.flush().await;
    }
}

/// Decides whether a CONNECT may open a session; returns the device id.
pub fn authenticate(state: &HubState, connect: &Connect, now: u64) -> Result<String, ConnectError> {
    let refused = |code, reason: String| ConnectError::Refused { code, reason };
    let device_id = connect.client_id.clone();
    let Some(login) = &connect.login else {
        return Err(refused(
            ConnectReturnCode::NotAuthorized,
            format!("device '{device_id}' sent no username and password"),
        ));
    };
    let username = MqttUsername::parse(&login.username)
        .map_err(|e| refused(ConnectReturnCode::BadUserNamePassword, e.to_string()))?;
    if username.module_id.is_some() {
        return Err(refused(
            ConnectReturnCode::NotAuthorized,
            "module identities are not supported by this hub yet".into(),
        ));
    }
    if username.device_id != device_id {
        return Err(refused(
            ConnectReturnCode::BadClientId,
            format!(
                "the username names device '{}' but the client id is '{device_id}'",
                username.device_id
            ),
        ));
    }
    let identity = state.store.device(&device_id).map_err(|_| {
        refused(
            ConnectReturnCode::NotAuthorized,
            format!("device '{device_id}' is not registered"),
        )
    })?;
    if identity.status != "enabled" {
        return Err(refused(
            ConnectReturnCode::NotAuthorized,
            format!("device '{device_id}' is disabled"),
        ));
    }
    state
        .auth
        .check_device(&login.password, &device_id, identity.symmetric_keys(), now)
        .map_err(|reason| {
            refused(
                ConnectReturnCode::NotAuthorized,
                format!("device '{device_id}': {reason}"),
            )
        })?;
    Ok(device_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_levels_are_read_from_raw_bytes() {
        // CONNECT, remaining length 12, "MQTT", level 5.
        let packet = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0];
        assert!(matches!(packet_length(&packet), Ok(Some(14))));
        assert_eq!(connect_protocol_level(&packet), Some(5));
        assert!(matches!(packet_length(&packet[..1]), Ok(None)));
        assert_eq!(connect_protocol_level(&[0x30, 0]), None);
        assert!(packet_length(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }
}
