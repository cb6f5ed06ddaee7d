//! Cloud-to-device messages: one queue per device, as IoT Hub keeps them. A service
//! sends a message ([`CloudToDevice::send`]); it is written to the store before the send
//! is acknowledged, waits in its device's queue (at most [`MAX_QUEUED_MESSAGES`], each at
//! most [`MAX_MESSAGE_BYTES`]) until it expires, is purged, or the device takes it and
//! completes it. An MQTT session of the device takes the messages ready for it
//! ([`CloudToDevice::take_ready`]), which locks them to that session; the device's PUBACK
//! completes one, and a session that ends gives back what it did not complete, to be sent
//! again on the next connection. The device's `cloudToDeviceMessageCount` is the length of
//! its queue, written on every change.
//!
//! What the service API sends in (headers, body) is [`OutgoingMessage`]; what a session
//! publishes is [`Delivery`], whose properties are the topic's property bag.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::error::HubError;
use super::store::{Store, StoreError, StoredCloudMessage};
use crate::topics::MessageProperty;
use crate::twin::format_timestamp;
use crate::twin::timestamp::parse_timestamp;

/// Messages a device's queue holds at once (IoT Hub's limit); one more is refused with
/// DeviceMaximumQueueDepthExceeded.
pub const MAX_QUEUED_MESSAGES: usize = 50;
/// The largest message: body, system property values, application property names and
/// values (IoT Hub's limit and its way of counting).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// How long a message waits for its device when the sender sets no expiry (IoT Hub's
/// default time to live).
pub const DEFAULT_TIME_TO_LIVE: TimeDelta = TimeDelta::hours(1);
/// The longest time to live IoT Hub allows; a later expiry is brought back to it.
pub const MAX_TIME_TO_LIVE: TimeDelta = TimeDelta::days(2);

/// When a sender wants to hear back about a message (`iothub-ack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledgement {
    /// No feedback.
    None,
    /// Feedback when the device completes it.
    Positive,
    /// Feedback when it expires or is rejected.
    Negative,
    /// Both.
    Full,
}

impl Acknowledgement {
    /// Reads `none`, `positive`, `negative` or `full` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "positive" => Some(Self::Positive),
            "negative" => Some(Self::Negative),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    /// The value as IoT Hub writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Positive => "positive",
            Self::Negative => "negative",
            Self::Full => "full",
        }
    }
}

/// A message a service sends to a device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutgoingMessage {
    /// The payload, as sent.
    pub body: Bytes,
    /// `message-id` (`$.mid`).
    pub message_id: Option<String>,
    /// `correlation-id` (`$.cid`).
    pub correlation_id: Option<String>,
    /// `user-id` (`$.uid`).
    pub user_id: Option<String>,
    /// The content type (`$.ct`).
    pub content_type: Option<String>,
    /// The content encoding (`$.ce`).
    pub content_encoding: Option<String>,
    /// The feedback asked for (`iothub-ack`).
    pub ack: Option<Acknowledgement>,
    /// When it stops being worth delivering (`$.exp`); the hub's default time to live
    /// when `None`.
    pub expiry: Option<DateTime<Utc>>,
    /// Application properties, in the order given.
    pub application_properties: Vec<(String, String)>,
}

impl OutgoingMessage {
    /// The bytes IoT Hub counts against [`MAX_MESSAGE_BYTES`].
    fn size(&self) -> usize {
        let system = [
            &self.message_id,
            &self.correlation_id,
            &self.user_id,
            &self.content_type,
            &self.content_encoding,
        ];
        self.body.len()
            + system
                .iter()
                .filter_map(|v| v.as_deref())
                .map(str::len)
                .sum::<usize>()
            + self
                .application_properties
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }

    /// The property bag a device receives it with, in the order IoT Hub writes it:
    /// `$.mid`, `$.cid`, `$.uid`, `$.exp`, `$.to` (always), `$.ct`, `$.ce`,
    /// `iothub-ack`, then the application properties.
    fn property_bag(&self, device_id: &str) -> Vec<MessageProperty> {
        let mut bag = Vec::new();
        let mut system = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                bag.push((name.to_owned(), Some(value)));
            }
        };
        system("$.mid", self.message_id.clone());
        system("$.cid", self.correlation_id.clone());
        system("$.uid", self.user_id.clone());
        system("$.exp", self.expiry.map(format_timestamp));
        system(
            "$.to",
            Some(format!("/devices/{device_id}/messages/devicebound")),
        );
        system("$.ct", self.content_type.clone());
        system("$.ce", self.content_encoding.clone());
        system("iothub-ack", self.ack.map(|ack| ack.as_str().to_owned()));
        bag.extend(
            self.application_properties
                .iter()
                .map(|(name, value)| (name.clone(), Some(value.clone()))),
        );
        bag
    }
}

/// A message a session publishes to its device.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Its place in the send order, which completes it.
    pub sequence: u64,
    /// The topic's property bag.
    pub properties: Vec<MessageProperty>,
    /// The payload.
    pub body: Bytes,
}

/// What the store keeps of a message besides its body and device.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredDescription {
    properties: Vec<MessageProperty>,
    expires_at: String,
}

struct Queued {
    sequence: u64,
    properties: Vec<MessageProperty>,
    body: Bytes,
    expires_at: DateTime<Utc>,
    /// Sent to a session that has not completed it yet.
    locked: bool,
}

#[derive(Default)]
struct DeviceQueue {
    messages: VecDeque<Queued>,
    /// Wakes the device's session when a message is ready.
    ready: Arc<Notify>,
}

impl DeviceQueue {
    /// Takes out the unlocked messages that expired by `now`; returns their sequences.
    fn drop_expired(&mut self, now: DateTime<Utc>) -> Vec<u64> {
        let mut expired = Vec::new();
        self.messages.retain(|message| {
            let keep = message.locked || message.expires_at > now;
            if !keep {
                expired.push(message.sequence);
            }
            keep
        });
        expired
    }
}

struct Queues {
    devices: HashMap<String, DeviceQueue>,
    next_sequence: u64,
}

/// Every device's cloud-to-device queue; clones share it.
#[derive(Clone)]
pub struct CloudToDevice {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    queues: Mutex<Queues>,
}

impl CloudToDevice {
    /// The queues kept in `store`, without the messages that expired while the hub was
    /// stopped; every device's `cloudToDeviceMessageCount` is set from them.
    pub fn open(store: Store, now: DateTime<Utc>) -> Result<Self, StoreError> {
        let mut devices: HashMap<String, DeviceQueue> = HashMap::new();
        let mut next_sequence = 0;
        let mut dropped: HashMap<String, Vec<u64>> = HashMap::new();
        for stored in store.load_cloud_messages()? {
            next_sequence = next_sequence.max(stored.sequence + 1);
            let description = serde_json::from_str::<StoredDescription>(&stored.message)
                .ok()
                .and_then(|d| Some((parse_timestamp(&d.expires_at)?, d.properties)));
            let queue = devices.entry(stored.device_id.clone()).or_default();
            match description {
                Some((expires_at, properties)) if expires_at > now => {
                    queue.messages.push_back(Queued {
                        sequence: stored.sequence,
                        properties,
                        body: Bytes::from(stored.body),
                        expires_at,
                        locked: false,
                    });
                }
                Some(_) => dropped
                    .entry(stored.device_id)
                    .or_default()
                    .push(stored.sequence),
                None => {
                    tracing::error!(
                        device_id = stored.device_id,
                        "a stored cloud-to-device message cannot be read; it is dropped"
                    );
                    dropped
                        .entry(stored.device_id)
                        .or_default()
                        .push(stored.sequence);
                }
            }
        }
        for (device_id, sequences) in &dropped {
            store.delete_cloud_messages(device_id, sequences)?;
        }
        for (device_id, queue) in &devices {
            // A device deleted while its messages were being written has no record left.
            let _ = store.set_cloud_to_device_count(device_id, queue.messages.len());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                queues: Mutex::new(Queues {
                    devices,
                    next_sequence,
                }),
            }),
        })
    }

    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.inner.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `message` for `device_id` (which the caller found registered); returns
    /// once it is durable.
    pub fn send(
        &self,
        device_id: &str,
        message: &OutgoingMessage,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        let size = message.size();
        if size > MAX_MESSAGE_BYTES {
            return Err(HubError::MessageTooLarge(format!(
                "The message is {size} bytes (body and properties); a cloud-to-device \
                 message may be at most {MAX_MESSAGE_BYTES} bytes"
            )));
        }
        let expires_at = match message.expiry {
            Some(expiry) if expiry <= now => {
                return Err(HubError::ArgumentInvalid(format!(
                    "The message expiry {} is not in the future; give a later expiry or none \
                     (the default time to live is one hour)",
                    format_timestamp(expiry)
                )));
            }
            Some(expiry) => expiry.min(now + MAX_TIME_TO_LIVE),
            None => now + DEFAULT_TIME_TO_LIVE,
        };
        let properties = message.property_bag(device_id);
        let mut queues = self.queues();
        let sequence = queues.next_sequence;
        let queue = queues.devices.entry(device_id.to_owned()).or_default();
        let expired = queue.drop_expired(now);
        if queue.messages.len() >= MAX_QUEUED_MESSAGES {
            let queued = queue.messages.len();
            self.expire(device_id, &expired, queued)?;
            return Err(HubError::DeviceMaximumQueueDepthExceeded {
                device_id: device_id.to_owned(),
                limit: MAX_QUEUED_MESSAGES,
            });
        }
        let description = StoredDescription {
            properties: properties.clone(),
            expires_at: format_timestamp(expires_at),
        };
        let stored = StoredCloudMessage {
            device_id: device_id.to_owned(),
            sequence,
            message: serde_json::to_string(&description)
                .map_err(|e| HubError::Server(format!("cannot write the message: {e}")))?,
            body: message.body.to_vec(),
        };
        self.inner.store.save_cloud_message(&stored)?;
        queue.messages.push_back(Queued {
            sequence,
            properties,
            body: message.body.clone(),
            expires_at,
            locked: false,
        });
        let queued = queue.messages.len();
        queue.ready.notify_one();
        queues.next_sequence += 1;
        self.expire(device_id, &expired, queued)
    }

    /// Deletes expired messages from the store and writes the device's count.
    fn expire(&self, device_id: &str, expired: &[u64], queued: usize) -> Result<(), HubError> {
        self.inner.store.delete_cloud_messages(device_id, expired)?;
        self.inner
            .store
            .set_cloud_to_device_count(device_id, queued)
    }

    /// What wakes a session of `device_id` when a message is ready for it.
    pub fn ready_signal(&self, device_id: &str) -> Arc<Notify> {
        let mut queues = self.queues();
        Arc::clone(
            &queues
                .devices
                .entry(device_id.to_owned())
                .or_default()
                .ready,
        )
    }

    /// Locks every unexpired message not already sent to a session, oldest first, and
    /// returns them to send.
    pub fn take_ready(&self, device_id: &str, now: DateTime<Utc>) -> Vec<Delivery> {
        let mut queues = self.queues();
        let Some(queue) = queues.devices.get_mut(device_id) else {
            return Vec::new();
        };
        let expired = queue.drop_expired(now);
        let deliveries = queue
            .messages
            .iter_mut()
            .filter(|message| !message.locked)
            .map(|message| {
                message.locked = true;
                Delivery {
                    sequence: message.sequence,
                    properties: message.properties.clone(),
                    body: message.body.clone(),
                }
            })
            .collect();
        if !expired.is_empty() {
            let queued = queue.messages.len();
            self.log_failure(device_id, self.expire(device_id, &expired, queued));
        }
        deliveries
    }

    /// The device completed a message (acknowledged it).
    pub fn complete(&self, device_id: &str, sequence: u64) {
        let mut queues = self.queues();
        let Some(queue) = queues.devices.get_mut(device_id) else {
            return;
        };
        let before = queue.messages.len();
        queue
            .messages
            .retain(|message| message.sequence != sequence);
        if queue.messages.len() != before {
            let queued = queue.messages.len();
            self.log_failure(device_id, self.expire(device_id, &[sequence], queued));
        }
    }

    /// A session of the device ended (having let go of its ready signal) without
    /// completing `sequences`: they wait for the next session. A queue left empty and
    /// watched by no session is dropped, so memory follows what is queued, not how
    /// many devices ever connected.
    pub fn end_session(&self, device_id: &str, sequences: &[u64]) {
        let mut queues = self.queues();
        let Some(queue) = queues.devices.get_mut(device_id) else {
            return;
        };
        for message in &mut queue.messages {
            if sequences.contains(&message.sequence) {
                message.locked = false;
            }
        }
        if queue.messages.is_empty() && Arc::strong_count(&queue.ready) == 1 {
            queues.devices.remove(device_id);
        } else if !sequences.is_empty() {
            queue.ready.notify_one();
        }
    }

    /// Deletes every message queued for a device, sent or not; returns how many.
    pub fn purge(&self, device_id: &str) -> Result<usize, HubError> {
        let mut queues = self.queues();
        let purged = queues
            .devices
            .get_mut(device_id)
            .map(|queue| std::mem::take(&mut queue.messages))
            .unwrap_or_default();
        let sequences: Vec<u64> = purged.iter().map(|message| message.sequence).collect();
        self.expire(device_id, &sequences, 0)?;
        Ok(sequences.len())
    }

    /// Forgets a deleted device and its messages.
    pub fn forget(&self, device_id: &str) -> Result<(), StoreError> {
        let mut queues = self.queues();
        queues.devices.remove(device_id);
        self.inner.store.delete_device_cloud_messages(device_id)
    }

    /// How many messages are queued for a device.
    #[cfg(test)]
    fn queued(&self, device_id: &str) -> usize {
        self.queues()
            .devices
            .get(device_id)
            .map_or(0, |queue| queue.messages.len())
    }

    /// Drops the messages that expired by `now` from every queue.
    pub fn drop_expired(&self, now: DateTime<Utc>) {
        let mut queues = self.queues();
        for (device_id, queue) in &mut queues.devices {
            let expired = queue.drop_expired(now);
            if !expired.is_empty() {
                let queued = queue.messages.len();
                self.log_failure(device_id, self.expire(device_id, &expired, queued));
            }
        }
    }

    fn log_failure(&self, device_id: &str, result: Result<(), HubError>) {
        if let Err(error) = result {
            tracing::warn!(
                device_id,
                "cloud-to-device queue not updated in the store: {error}"
            );
        }
    }
}

#[cfg(test)]
mod tests;
