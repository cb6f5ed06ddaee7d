//! The rumqttc side of a connection: its event loop driven in a task of its own (so the
//! device's `select!` only awaits a channel, which is cancel-safe), what its errors mean to a
//! user, and how message bodies are read.

use rumqttc::{ConnectionError, Event, EventLoop, Outgoing, Packet, Publish};
use serde_json::Value;
use tokio::sync::mpsc;

/// What the connection acts on, out of everything rumqttc's event loop reports; the rest
/// (acknowledgements, pings, the device's own publishes) stays in the event loop's task.
///
/// Kept to two words: a tokio channel allocates its first block of 32 slots up front,
/// which for rumqttc's `Result<Event, ConnectionError>` (152 bytes) was 4.9 KB a device.
#[derive(Debug)]
pub(super) enum MqttEvent {
    /// CONNACK: the hub accepted the connection.
    Connected,
    /// A message from the hub.
    Message(Box<Publish>),
    /// The DISCONNECT the device asked for was written.
    DisconnectSent,
    /// The connection failed or dropped; the event loop stops after this.
    Failed(Box<ConnectionError>),
}

impl MqttEvent {
    /// The event the connection needs to see for `event`, if any.
    fn from_poll(event: Result<Event, ConnectionError>) -> Option<Self> {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Some(Self::Connected),
            Ok(Event::Incoming(Packet::Publish(publish))) => Some(Self::Message(Box::new(publish))),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Some(Self::DisconnectSent),
            Ok(_) => None,
            Err(error) => Some(Self::Failed(Box::new(error))),
        }
    }
}

/// Drives rumqttc's event loop and forwards what the connection needs, until the first
/// error.
pub(super) async fn poll(mut eventloop: EventLoop, forward: mpsc::Sender<MqttEvent>) {
    loop {
        let event = eventloop.poll().await;
        let failed = event.is_err();
        if let Some(event) = MqttEvent::from_poll(event)
            && forward.send(event).await.is_err()
        {
            return;
        }
        if failed {
            return;
        }
    }
}

/// A message body as JSON: empty is `null`, and text that is not JSON is kept as a string.
pub(super) fn parse_body(payload: &[u8]) -> Value {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

/// A dropped connection in words, with the way out for a refusal.
pub(super) fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => {
            format!("the hub refused the connection ({code:?}); check the device id and key")
        }
        other => {
            let text = crate::error_text::with_causes(other);
            match crate::error_text::untrusted_certificate_advice(&text) {
                Some(advice) => format!("the connection ended: {text}; {advice}"),
                None => format!("the connection ended: {text}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::{ConnAck, ConnectReturnCode, Incoming, PubAck, QoS};

    #[test]
    fn only_what_the_connection_acts_on_is_forwarded() {
        let connack = Ok(Event::Incoming(Incoming::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            false,
        ))));
        assert!(matches!(
            MqttEvent::from_poll(connack),
            Some(MqttEvent::Connected)
        ));
        let publish = Publish::new("$iothub/methods/POST/m/?$rid=1", QoS::AtLeastOnce, "{}");
        let forwarded = MqttEvent::from_poll(Ok(Event::Incoming(Packet::Publish(publish.clone()))));
        assert!(matches!(forwarded, Some(MqttEvent::Message(message)) if *message == publish));
        assert!(matches!(
            MqttEvent::from_poll(Ok(Event::Outgoing(Outgoing::Disconnect))),
            Some(MqttEvent::DisconnectSent)
        ));
        let failed = MqttEvent::from_poll(Err(ConnectionError::NetworkTimeout));
        assert!(
            matches!(failed, Some(MqttEvent::Failed(error)) if matches!(*error, ConnectionError::NetworkTimeout))
        );
        for ignored in [
            Event::Incoming(Packet::PubAck(PubAck::new(1))),
            Event::Incoming(Packet::PingResp),
            Event::Outgoing(Outgoing::Publish(1)),
            Event::Outgoing(Outgoing::PubAck(2)),
        ] {
            assert!(MqttEvent::from_poll(Ok(ignored)).is_none());
        }
    }

    #[test]
    fn forwarded_events_stay_two_words() {
        assert!(std::mem::size_of::<MqttEvent>() <= 2 * std::mem::size_of::<usize>());
    }

    #[test]
    fn bodies_are_json_null_or_text() {
        assert_eq!(parse_body(b""), Value::Null);
        assert_eq!(parse_body(b" \n"), Value::Null);
        assert_eq!(parse_body(br#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(parse_body(b"plain"), Value::String("plain".into()));
    }

    #[test]
    fn refusals_point_at_the_credentials() {
        let refused = ConnectionError::ConnectionRefused(rumqttc::ConnectReturnCode::NotAuthorized);
        assert!(describe(&refused).contains("device id and key"));
    }

    #[test]
    fn untrusted_certificates_point_at_the_ca_file() {
        let untrusted = ConnectionError::Io(std::io::Error::other(
            "invalid peer certificate: UnknownIssuer",
        ));
        assert!(describe(&untrusted).contains("--ca-cert"));
        let reset = ConnectionError::Io(std::io::Error::other("connection reset"));
        assert!(!describe(&reset).contains("--ca-cert"));
    }
}
