//! Watching live telemetry for the explorer: one task per watch, which reads what the hub
//! kept of the watched devices' recent telemetry, then follows its live feed and hands
//! messages to the UI in batches (writing those of recorded devices to their files
//! first), reopening the feed when it breaks. A hub without a
//! feed (Azure IoT Hub) is reported once, and the task ends.

use std::time::Duration;

use futures_util::{FutureExt, StreamExt};

use super::Event;
use super::dispatch::Events;
use super::recording::Recordings;
use crate::service::model::TelemetryEvent;
use crate::service::{ServiceClient, ServiceError, TelemetryItem, TelemetrySource};
use crate::twin::key;

/// Messages handed to the UI in one event at most.
const BATCH: usize = 500;
/// How long to wait before reopening a feed that broke.
const REOPEN_DELAY: Duration = Duration::from_secs(2);

/// Where the explorer's live telemetry stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelemetryStatus {
    /// Messages arrive as devices send them.
    Live,
    /// The feed broke; it is being reopened.
    Interrupted(String),
    /// This hub has no feed (the message says why and what to use instead).
    Unavailable(String),
}

/// Follows the telemetry of `watched` (registry keys: device ids, or `d/m` for modules)
/// until aborted.
pub(super) async fn watch(
    client: ServiceClient,
    watched: Vec<String>,
    recordings: Recordings,
    events: Events,
) {
    let mut devices: Vec<String> = watched
        .iter()
        .map(|watched| key::split(watched).0.to_owned())
        .collect();
    devices.sort();
    devices.dedup();
    loop {
        let mut feed = match client.open_feed(&devices).await {
            Ok(feed) => feed,
            Err(error @ ServiceError::TelemetryUnavailable { .. }) => {
                let status = TelemetryStatus::Unavailable(error.to_string());
                events.send(Event::TelemetryStatus(status)).await;
                return;
            }
            Err(error) => {
                let status = TelemetryStatus::Interrupted(error.to_string());
                events.send(Event::TelemetryStatus(status)).await;
                tokio::time::sleep(REOPEN_DELAY).await;
                continue;
            }
        };
        events
            .send(Event::TelemetryStatus(TelemetryStatus::Live))
            .await;
        // What the hub kept from before, also what arrived while a broken feed was
        // reopened (read after the feed opened, so nothing falls between; the UI drops
        // what it already has).
        for device_id in watched.iter().filter(|w| key::split(w).1.is_none()) {
            if let Ok(kept) = client.device_telemetry(device_id).await {
                let messages = kept
                    .messages
                    .into_iter()
                    .map(|message| TelemetryEvent {
                        device_id: device_id.clone(),
                        module_id: None,
                        message,
                    })
                    .collect();
                deliver(messages, &recordings, &events).await;
            }
        }
        let ended = loop {
            let Some(item) = feed.next().await else {
                break "the hub ended the telemetry stream".to_owned();
            };
            let mut batch = Vec::new();
            let mut missed = 0;
            let mut failure = None;
            let mut next = Some(item);
            while let Some(item) = next.take() {
                match item {
                    Ok(TelemetryItem::Message(event)) if is_watched(&watched, &event) => {
                        batch.push(event);
                    }
                    Ok(TelemetryItem::Message(_)) => {}
                    Ok(TelemetryItem::Missed(count)) => missed += count,
                    Err(error) => failure = Some(error.to_string()),
                }
                if batch.len() < BATCH && failure.is_none() {
                    next = feed.next().now_or_never().flatten();
                }
            }
            if !batch.is_empty() {
                deliver(batch, &recordings, &events).await;
            }
            if missed > 0 {
                events.send(Event::TelemetryMissed { count: missed }).await;
            }
            if let Some(failure) = failure {
                break failure;
            }
        };
        let status = TelemetryStatus::Interrupted(format!("{ended}; reconnecting"));
        events.send(Event::TelemetryStatus(status)).await;
        tokio::time::sleep(REOPEN_DELAY).await;
    }
}

/// Records the recorded senders' messages, then hands them all to the UI.
async fn deliver(messages: Vec<TelemetryEvent>, recordings: &Recordings, events: &Events) {
    for news in recordings.write(&messages) {
        events.send(Event::Recording(news)).await;
    }
    events.send(Event::Telemetry { messages }).await;
}

/// Whether a message comes from a watched device or module (the feed is filtered by
/// device only).
fn is_watched(watched: &[String], event: &TelemetryEvent) -> bool {
    watched.contains(&event.sender_key())
}
