//! Device-to-cloud telemetry kept by the local hub: a count per device and the most
//! recent messages in a bounded ring, so the explorer can show what a device sent.
//! Memory stays bounded whatever devices send; nothing here is persisted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Messages kept per device; older ones are dropped first.
pub const MESSAGES_PER_DEVICE: usize = 100;

/// One telemetry message as received.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryMessage {
    /// When the hub received it (ISO-8601 UTC).
    pub received_at: String,
    /// System and application properties from the topic's property bag.
    pub properties: Vec<(String, String)>,
    /// The body as text when it is UTF-8.
    pub body: Option<String>,
    /// The body in base64 when it is not UTF-8.
    pub body_base64: Option<String>,
}

/// What the hub holds for one device.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTelemetry {
    /// Messages received since the hub started.
    pub count: u64,
    /// The most recent messages, oldest first.
    pub messages: VecDeque<TelemetryMessage>,
}

/// Telemetry of every device; clones share it.
#[derive(Clone, Default)]
pub struct TelemetryLog {
    devices: Arc<Mutex<HashMap<String, DeviceTelemetry>>>,
}

impl TelemetryLog {
    /// Records a message from `device_id`.
    pub fn record(
        &self,
        device_id: &str,
        properties: Vec<(String, String)>,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) {
        let (body, body_base64) = match std::str::from_utf8(body) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => {
                use base64::Engine as _;
                (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(body)),
                )
            }
        };
        let message = TelemetryMessage {
            received_at: crate::twin::format_timestamp(received_at),
            properties,
            body,
            body_base64,
        };
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        let entry = devices.entry(device_id.to_owned()).or_default();
        entry.count += 1;
        if entry.messages.len() == MESSAGES_PER_DEVICE {
            entry.messages.pop_front();
        }
        entry.messages.push_back(message);
    }

    /// What a device sent (an empty record for a device that sent nothing).
    pub fn device(&self, device_id: &str) -> DeviceTelemetry {
        let devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        devices.get(device_id).cloned().unwrap_or_default()
    }

    /// Forgets a deleted device.
    pub fn forget(&self, device_id: &str) {
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        devices.remove(device_id);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_is_bounded_and_counts_everything() {
        let log = TelemetryLog::default();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for n in 0..(MESSAGES_PER_DEVICE + 5) {
            log.record(
                "d1",
                vec![("n".into(), n.to_string())],
                n.to_string().as_bytes(),
                now,
            );
        }
        log.record("d1", Vec::new(), &[0xff, 0x00], now);
        let telemetry = log.device("d1");
        assert_eq!(telemetry.count, MESSAGES_PER_DEVICE as u64 + 6);
        assert_eq!(telemetry.messages.len(), MESSAGES_PER_DEVICE);
        assert_eq!(telemetry.messages[0].body.as_deref(), Some("6"));
        assert_eq!(
            telemetry.messages.back().unwrap().body_base64.as_deref(),
            Some("/wA=")
        );
        assert_eq!(log.device("nobody").count, 0);
        log.forget("d1");
        assert_eq!(log.device("d1").count, 0);
    }
}
