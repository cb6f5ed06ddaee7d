//! MQTT 3.1.1 packets on a socket, for both ends of a device connection: the hub's device
//! endpoint and the simulated devices. Packets are encoded and decoded by rumqttc's
//! `mqttbytes::v4` codec, checked against the fixed-header rules it leaves out
//! ([`frame`]), and read and written whole by a [`PacketStream`] whose buffers stay small
//! between packets, so that ten thousand idle connections cost little on either side.

mod frame;
mod packet_stream;

pub use frame::{FrameError, PacketCodec, check_fixed_header};
pub use packet_stream::PacketStream;
