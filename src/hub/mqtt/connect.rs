//! The start of a device connection: reading the first packet (it must be an MQTT
//! 3.1.1 CONNECT; an MQTT 5 client is told "unacceptable protocol version"), and
//! authenticating the device from its client id, username and SAS token password. A
//! Will is accepted as IoT Hub accepts it: on the device's own telemetry topic, sent as
//! a telemetry message marked `iothub-MessageType: Will` when the device goes away
//! without DISCONNECT.

use bytes::{Buf, Bytes, BytesMut};
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, Packet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::hub::state::HubState;
use crate::hub::store::client_key;
use crate::mqtt_wire::check_fixed_header;
use crate::topics::{DeviceTopic, MqttUsername, parse_device_topic};

/// The CONNECT flag bit MQTT 3.1.1 reserves (section 3.1.2.3): set, it ends the
/// connection.
const RESERVED_CONNECT_FLAG: u8 = 0x01;

/// A device's Will: the telemetry message to record if it goes away without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// The property bag of the Will topic, with `iothub-MessageType: Will` added.
    pub properties: Vec<(String, String)>,
    /// The Will message.
    pub payload: Bytes,
}

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
    match connect_level_and_flags(&buffer[..length]) {
        None => {
            return Err(ConnectError::Violation(
                "the first packet is not a complete CONNECT".into(),
            ));
        }
        Some((4, flags)) if flags & RESERVED_CONNECT_FLAG != 0 => {
            return Err(ConnectError::Violation(
                "the CONNECT flags set the bit MQTT 3.1.1 reserves (section 3.1.2.3)".into(),
            ));
        }
        Some((4, _)) => {}
        Some((level, _)) => {
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

/// The protocol level and connect flags of a complete CONNECT packet; `None` for
/// other packets and for a CONNECT too short to hold them.
fn connect_level_and_flags(packet: &[u8]) -> Option<(u8, u8)> {
    if packet.first()? >> 4 != 1 {
        return None;
    }
    let header = 1 + packet.iter().skip(1).take(4).position(|b| b & 0x80 == 0)? + 1;
    let mut name = packet.get(header..header + 2)?;
    let name_length = usize::from(name.get_u16());
    let level = header + 2 + name_length;
    Some((*packet.get(level)?, *packet.get(level + 1)?))
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

/// Who a CONNECT authenticated: a device, or a module of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The device (the module's device, for a module).
    pub device_id: String,
    /// The module, when a module connected.
    pub module_id: Option<String>,
    /// The IoT Plug and Play model the client announced (`model-id` in the username),
    /// when it is a valid DTMI.
    pub model_id: Option<String>,
}

impl Client {
    /// The key the registry, the sessions and the method dispatcher know the client by.
    pub fn key(&self) -> String {
        client_key(&self.device_id, self.module_id.as_deref())
    }
}

/// Decides whether a CONNECT may open a session, as a device (client id `{deviceId}`)
/// or as a module (client id `{deviceId}/{moduleId}`), each with its own keys.
pub fn authenticate(state: &HubState, connect: &Connect, now: u64) -> Result<Client, ConnectError> {
    let refused = |code, reason: String| ConnectError::Refused { code, reason };
    let client_id = connect.client_id.clone();
    let Some(login) = &connect.login else {
        return Err(refused(
            ConnectReturnCode::NotAuthorized,
            format!("client '{client_id}' sent no username and password"),
        ));
    };
    let username = MqttUsername::parse(&login.username)
        .map_err(|e| refused(ConnectReturnCode::BadUserNamePassword, e.to_string()))?;
    let model_id = username.model_id.clone().filter(|model_id| {
        let valid = crate::dtdl::is_valid_interface_dtmi(model_id);
        if !valid {
            tracing::info!(
                client_id,
                model_id,
                "ignoring a model-id that is not a DTMI (dtmi:<path>;<version>)"
            );
        }
        valid
    });
    let client = Client {
        device_id: username.device_id.clone(),
        module_id: username.module_id.clone(),
        model_id,
    };
    let named = client.key();
    if named != client_id {
        return Err(refused(
            ConnectReturnCode::BadClientId,
            format!("the username names '{named}' but the client id is '{client_id}'"),
        ));
    }
    let device_id = &client.device_id;
    let device = state.store.device(device_id).map_err(|_| {
        refused(
            ConnectReturnCode::NotAuthorized,
            format!("device '{device_id}' is not registered"),
        )
    })?;
    if device.status != "enabled" {
        return Err(refused(
            ConnectReturnCode::NotAuthorized,
            format!("device '{device_id}' is disabled"),
        ));
    }
    let keys: Vec<String> = match &client.module_id {
        None => device.symmetric_keys().map(str::to_owned).collect(),
        Some(module_id) => state
            .store
            .module(device_id, module_id)
            .map_err(|_| {
                refused(
                    ConnectReturnCode::NotAuthorized,
                    format!("module '{module_id}' of device '{device_id}' is not registered"),
                )
            })?
            .symmetric_keys()
            .map(str::to_owned)
            .collect(),
    };
    state
        .auth
        .check_device(
            &login.password,
            device_id,
            client.module_id.as_deref(),
            keys.iter().map(String::as_str),
            now,
        )
        .map_err(|reason| {
            refused(
                ConnectReturnCode::NotAuthorized,
                format!("'{client_id}': {reason}"),
            )
        })?;
    Ok(client)
}

/// The CONNECT's Will, which must be on the client's own telemetry topic, as IoT Hub
/// requires (`devices/{deviceId}/messages/events/`, or
/// `devices/{deviceId}/modules/{moduleId}/messages/events/` for a module, with an
/// optional property bag).
pub fn will_of(connect: &Connect, client: &Client) -> Result<Option<Will>, ConnectError> {
    let Some(will) = &connect.last_will else {
        return Ok(None);
    };
    let device_id = &client.device_id;
    match parse_device_topic(&will.topic, device_id, client.module_id.as_deref()) {
        Ok(DeviceTopic::Telemetry { properties, .. }) => {
            let mut properties: Vec<(String, String)> = properties
                .into_iter()
                .map(|(name, value)| (name, value.unwrap_or_default()))
                .collect();
            properties.push(("iothub-MessageType".into(), "Will".into()));
            Ok(Some(Will {
                properties,
                payload: will.message.clone(),
            }))
        }
        _ => {
            let own = match &client.module_id {
                Some(module_id) => {
                    format!("devices/{device_id}/modules/{module_id}/messages/events/")
                }
                None => format!("devices/{device_id}/messages/events/"),
            };
            Err(ConnectError::Refused {
                code: ConnectReturnCode::NotAuthorized,
                reason: format!(
                    "'{}' gave a Will on '{}'; IoT Hub takes a Will only on the client's own \
                     telemetry topic {own}",
                    client.key(),
                    will.topic
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_levels_are_read_from_raw_bytes() {
        // CONNECT, remaining length 12, "MQTT", level 5.
        let packet = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0];
        assert!(matches!(packet_length(&packet), Ok(Some(14))));
        assert_eq!(connect_level_and_flags(&packet), Some((5, 2)));
        assert!(matches!(packet_length(&packet[..1]), Ok(None)));
        assert_eq!(connect_level_and_flags(&[0x30, 0]), None);
        assert!(packet_length(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }

    /// Feeds `bytes` to [`read_connect`] as a client that then waits.
    async fn read_first_packet(bytes: &[u8]) -> Result<Connect, ConnectError> {
        let (mut client, mut server) = tokio::io::duplex(4096);
        client.write_all(bytes).await.unwrap_or_default();
        drop(client);
        let mut buffer = BytesMut::new();
        read_connect(&mut server, &mut buffer, 4096).await
    }

    fn valid_connect() -> BytesMut {
        let mut connect = Connect::new("d1");
        connect.set_login("localhost/d1/?api-version=2021-04-12", "token");
        let mut bytes = BytesMut::new();
        Packet::Connect(connect)
            .write(&mut bytes, 4096)
            .unwrap_or_default();
        bytes
    }

    #[tokio::test]
    async fn short_and_truncated_connects_are_violations_not_panics() {
        for short in [
            &[0x10, 0x00][..],
            &[0x10, 0x01, 0x00],
            &[0x10, 0x02, 0x00, 0x04],
        ] {
            let result = read_first_packet(short).await;
            assert!(
                matches!(result, Err(ConnectError::Violation(_))),
                "{short:?}: {result:?}"
            );
        }
        // Every prefix of a valid CONNECT, announced as complete by its length byte.
        let valid = valid_connect();
        assert!(read_first_packet(&valid).await.is_ok());
        for length in 2..valid.len() {
            let mut truncated = valid[..length].to_vec();
            truncated[1] = u8::try_from(length - 2).unwrap_or(u8::MAX);
            let result = read_first_packet(&truncated).await;
            assert!(result.is_err(), "{length} bytes: {result:?}");
        }
    }

    #[tokio::test]
    async fn the_reserved_connect_flag_is_a_violation() {
        let mut connect = valid_connect();
        // The connect flags follow the protocol name "MQTT" and level 4.
        let name = connect
            .windows(4)
            .position(|w| w == b"MQTT")
            .unwrap_or_default();
        connect[name + 5] |= RESERVED_CONNECT_FLAG;
        let result = read_first_packet(&connect).await;
        assert!(
            matches!(&result, Err(ConnectError::Violation(reason)) if reason.contains("3.1.2.3")),
            "{result:?}"
        );
    }

    #[test]
    fn a_will_must_be_telemetry_of_the_device_itself() {
        use rumqttc::mqttbytes::QoS;
        use rumqttc::mqttbytes::v4::LastWill;
        let device = Client {
            device_id: "d1".into(),
            module_id: None,
            model_id: None,
        };
        let mut connect = Connect::new("d1");
        assert_eq!(will_of(&connect, &device).ok(), Some(None));
        connect.last_will = Some(LastWill::new(
            "devices/d1/messages/events/%24.ct=text%2Fplain&why=lost",
            "gone",
            QoS::AtLeastOnce,
            false,
        ));
        let will = will_of(&connect, &device).ok().flatten();
        assert_eq!(
            will,
            Some(Will {
                properties: vec![
                    ("$.ct".into(), "text/plain".into()),
                    ("why".into(), "lost".into()),
                    ("iothub-MessageType".into(), "Will".into()),
                ],
                payload: Bytes::from_static(b"gone"),
            })
        );
        for topic in [
            "devices/d2/messages/events/",
            "devices/d1/modules/m1/messages/events/",
            "some/topic",
            "$iothub/twin/GET/?$rid=1",
        ] {
            connect.last_will = Some(LastWill::new(topic, "x", QoS::AtMostOnce, false));
            assert!(
                matches!(
                    will_of(&connect, &device),
                    Err(ConnectError::Refused { .. })
                ),
                "{topic}"
            );
        }
        // A module's Will goes on the module's own telemetry topic.
        let module = Client {
            device_id: "d1".into(),
            module_id: Some("m1".into()),
            model_id: None,
        };
        connect.last_will = Some(LastWill::new(
            "devices/d1/modules/m1/messages/events/",
            "gone",
            QoS::AtLeastOnce,
            false,
        ));
        assert!(matches!(will_of(&connect, &module), Ok(Some(_))));
        connect.last_will = Some(LastWill::new(
            "devices/d1/messages/events/",
            "gone",
            QoS::AtLeastOnce,
            false,
        ));
        assert!(will_of(&connect, &module).is_err());
    }
}
