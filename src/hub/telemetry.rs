//! Device-to-cloud telemetry kept by the local hub: a count per device and the most
//! recent messages, so the explorer can show what a device sent. Memory stays bounded
//! whatever devices send: by messages and bytes per device and by bytes for the whole
//! hub ([`TelemetryLimits`]); the oldest messages go first, and every message dropped
//! is counted. Nothing here is persisted. What a device's telemetry looks like on the
//! wire (`GET /twinlens/devices/{id}/telemetry`) is the service model's
//! [`DeviceTelemetry`].
//!
//! Every message is also offered live to whoever listens ([`TelemetryLog::listen`], the
//! hub's telemetry stream); a listener that falls behind misses messages and is told
//! how many, and never slows the devices down.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};

use super::limits::TelemetryLimits;
use crate::service::model::{DeviceTelemetry, TelemetryMessage};

/// Messages a live listener may fall behind by before it misses some.
const LIVE_BACKLOG: usize = 4096;

/// A message as live listeners get it: which device (or `{deviceId}/{moduleId}`) sent it.
#[derive(Debug)]
pub struct LiveTelemetry {
    /// The sender's registry key.
    pub client: Arc<str>,
    /// The message.
    pub message: TelemetryMessage,
}

/// What a kept message costs besides its body and properties (its timestamp and the
/// bookkeeping around it), so that empty messages count too.
const MESSAGE_OVERHEAD_BYTES: usize = 96;

impl TelemetryMessage {
    /// The bytes this message is counted as holding.
    fn cost(&self) -> usize {
        let body = self.body.as_ref().or(self.body_base64.as_ref());
        MESSAGE_OVERHEAD_BYTES
            + body.map_or(0, String::len)
            + self
                .properties
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }
}

/// Telemetry of every device; clones share it.
#[derive(Clone)]
pub struct TelemetryLog {
    inner: Arc<Mutex<Kept>>,
    live: broadcast::Sender<Arc<LiveTelemetry>>,
    /// Becomes `true` when the hub stops, which ends every live listener.
    stopped: watch::Sender<bool>,
}

impl Default for TelemetryLog {
    fn default() -> Self {
        Self::new(TelemetryLimits::default())
    }
}

/// A kept message with its place in the hub-wide arrival order and its cost.
struct Entry {
    sequence: u64,
    cost: usize,
    message: TelemetryMessage,
}

#[derive(Default)]
struct DeviceLog {
    count: u64,
    dropped: u64,
    bytes: usize,
    entries: VecDeque<Entry>,
}

impl DeviceLog {
    /// Drops the oldest kept message; returns its cost.
    fn drop_oldest(&mut self) -> Option<usize> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.cost;
        self.dropped += 1;
        Some(entry.cost)
    }

    fn keeps(&self, sequence: u64) -> bool {
        self.entries
            .front()
            .is_some_and(|oldest| oldest.sequence <= sequence)
    }
}

struct Kept {
    limits: TelemetryLimits,
    devices: HashMap<Arc<str>, DeviceLog>,
    /// Every kept message's device and sequence, oldest first, for dropping hub-wide;
    /// entries of messages already dropped are skipped when met, or swept out.
    arrivals: VecDeque<(Arc<str>, u64)>,
    bytes: usize,
    next_sequence: u64,
    live: usize,
}

impl TelemetryLog {
    /// An empty log bounded by `limits`.
    pub fn new(limits: TelemetryLimits) -> Self {
        Self {
            live: broadcast::channel(LIVE_BACKLOG).0,
            stopped: watch::channel(false).0,
            inner: Arc::new(Mutex::new(Kept {
                limits,
                devices: HashMap::new(),
                arrivals: VecDeque::new(),
                bytes: 0,
                next_sequence: 0,
                live: 0,
            })),
        }
    }

    /// Records a message from `device_id`; returns how many messages were dropped to
    /// make room (the new one included, when it alone is over a limit).
    pub fn record(
        &self,
        device_id: &str,
        properties: Vec<(String, String)>,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> u64 {
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
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let client = kept.key(device_id);
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(Arc::new(LiveTelemetry {
                client: Arc::clone(&client),
                message: message.clone(),
            }));
        }
        kept.record(client, message)
    }

    /// Every message from now on, as it arrives, and whether the hub has stopped.
    pub fn listen(
        &self,
    ) -> (
        broadcast::Receiver<Arc<LiveTelemetry>>,
        watch::Receiver<bool>,
    ) {
        (self.live.subscribe(), self.stopped.subscribe())
    }

    /// Ends every live listener: the hub is stopping.
    pub fn stop_listeners(&self) {
        self.stopped.send_replace(true);
    }

    /// What a device sent (an empty record for a device that sent nothing).
    pub fn device(&self, device_id: &str) -> DeviceTelemetry {
        let kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        kept.devices
            .get(device_id)
            .map(|log| DeviceTelemetry {
                count: log.count,
                dropped: log.dropped,
                messages: log.entries.iter().map(|e| e.message.clone()).collect(),
            })
            .unwrap_or_default()
    }

    /// The bytes of telemetry kept for all devices.
    pub fn bytes_kept(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// Forgets a deleted device.
    pub fn forget(&self, device_id: &str) {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = kept.devices.remove(device_id) {
            kept.bytes -= log.bytes;
            kept.live -= log.entries.len();
        }
    }
}

impl Kept {
    /// The shared key of a device's log (a new one for a device not seen yet).
    fn key(&self, device_id: &str) -> Arc<str> {
        match self.devices.get_key_value(device_id) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(device_id),
        }
    }

    fn record(&mut self, key: Arc<str>, message: TelemetryMessage) -> u64 {
        let limits = self.limits;
        let cost = message.cost();
        let log = self.devices.entry(Arc::clone(&key)).or_default();
        log.count += 1;
        if cost > limits.device_bytes.min(limits.hub_bytes) || limits.device_messages == 0 {
            log.dropped += 1;
            return 1;
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        log.entries.push_back(Entry {
            sequence,
            cost,
            message,
        });
        log.bytes += cost;
        self.bytes += cost;
        self.live += 1;
        self.arrivals.push_back((key, sequence));
        let mut dropped = 0;
        while log.entries.len() > limits.device_messages || log.bytes > limits.device_bytes {
            let Some(freed) = log.drop_oldest() else {
                break;
            };
            self.bytes -= freed;
            self.live -= 1;
            dropped += 1;
        }
        dropped += self.drop_oldest_of_the_hub();
        self.sweep_arrivals();
        dropped
    }

    /// Drops the hub's oldest messages, whatever device sent them, until the hub is
    /// within its byte limit; returns how many were dropped.
    fn drop_oldest_of_the_hub(&mut self) -> u64 {
        let mut dropped = 0;
        while self.bytes > self.limits.hub_bytes {
            let Some((device, sequence)) = self.arrivals.pop_front() else {
                break;
            };
            let Some(log) = self.devices.get_mut(&device) else {
                continue;
            };
            if log.entries.front().is_some_and(|e| e.sequence == sequence)
                && let Some(freed) = log.drop_oldest()
            {
                self.bytes -= freed;
                self.live -= 1;
                dropped += 1;
            }
        }
        dropped
    }

    /// Removes arrival entries of messages no longer kept once they outnumber the kept
    /// ones, so the arrival queue stays proportional to what is kept.
    fn sweep_arrivals(&mut self) {
        if self.arrivals.len() <= 2 * self.live + 1024 {
            return;
        }
        let devices = &self.devices;
        self.arrivals.retain(|(device, sequence)| {
            devices.get(device).is_some_and(|log| log.keeps(*sequence))
        });
    }
}

#[cfg(test)]
mod tests;
