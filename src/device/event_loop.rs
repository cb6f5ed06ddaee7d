//! The rumqttc side of a connection: its event loop driven in a task of its own (so the
//! device's `select!` only awaits a channel, which is cancel-safe), what its errors mean to a
//! user, and how message bodies are read.

use rumqttc::{ConnectionError, Event, EventLoop};
use serde_json::Value;
use tokio::sync::mpsc;

/// Drives rumqttc's event loop and forwards what it sees, until the first error.
pub(super) async fn poll(
    mut eventloop: EventLoop,
    forward: mpsc::Sender<Result<Event, ConnectionError>>,
) {
    loop {
        let event = eventloop.poll().await;
        let failed = event.is_err();
        if forward.send(event).await.is_err() || failed {
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
