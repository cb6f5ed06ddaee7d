//! The explorer's live telemetry: a [`TelemetryHistory`] per device (or module) that sent
//! something while watched, the recordings to NDJSON files under way (the worker writes
//! them), which devices the worker is asked to watch (the open one and those being
//! recorded), and where the hub's feed stands. Against a hub without a feed, what the app's own simulated devices send
//! is still shown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::telemetry_history::{DEFAULT_CAPACITY, TelemetryHistory};
use crate::service::TelemetryMessage;
use crate::service::model::TelemetryEvent;
use crate::worker::{RecordingNews, TelemetryStatus};

/// Everything the Telemetry tab shows, for every device.
#[derive(Debug)]
pub struct LiveTelemetry {
    histories: HashMap<String, TelemetryHistory>,
    /// The file each recorded key is written to.
    recordings: HashMap<String, PathBuf>,
    capacity: usize,
    status: Option<TelemetryStatus>,
    missed: u64,
    /// What the worker was last asked to watch; `None` after a (re)connect.
    watching: Option<Vec<String>>,
}

impl Default for LiveTelemetry {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LiveTelemetry {
    /// Keeps at most `capacity` messages per device.
    pub fn new(capacity: usize) -> Self {
        Self {
            histories: HashMap::new(),
            recordings: HashMap::new(),
            capacity: capacity.max(1),
            status: None,
            missed: 0,
            watching: None,
        }
    }

    /// Messages kept per device.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes how many messages are kept per device (the oldest go first).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        for history in self.histories.values_mut() {
            history.set_capacity(self.capacity);
        }
    }

    /// The history of a device or module key, if it has one.
    pub fn history(&self, key: &str) -> Option<&TelemetryHistory> {
        self.histories.get(key)
    }

    /// The history of a key, made empty when there is none yet.
    pub fn history_mut(&mut self, key: &str) -> &mut TelemetryHistory {
        let capacity = self.capacity;
        self.histories
            .entry(key.to_owned())
            .or_insert_with(|| TelemetryHistory::new(capacity))
    }

    /// Where the hub's feed stands (`None` before the first watch).
    pub fn status(&self) -> Option<&TelemetryStatus> {
        self.status.as_ref()
    }

    /// Notes the feed's state.
    pub fn set_status(&mut self, status: TelemetryStatus) {
        self.status = Some(status);
    }

    /// Messages the watch missed by falling behind the hub.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Counts messages the watch missed.
    pub fn add_missed(&mut self, count: u64) {
        self.missed += count;
    }

    /// Takes in messages from the hub (repeats of kept ones are dropped).
    pub fn receive(&mut self, events: Vec<TelemetryEvent>, now: DateTime<Utc>) {
        let mut by_sender: Vec<(String, Vec<TelemetryMessage>)> = Vec::new();
        for event in events {
            let key = event.sender_key();
            match by_sender.iter_mut().find(|(sender, _)| *sender == key) {
                Some((_, messages)) => messages.push(event.message),
                None => by_sender.push((key, vec![event.message])),
            }
        }
        for (key, messages) in by_sender {
            self.push(&key, messages, now);
        }
    }

    /// A message one of the app's own simulated devices sent, shown when the hub has no
    /// feed to show it from.
    pub fn receive_simulated(&mut self, key: &str, body: &str, now: DateTime<Utc>) {
        if !matches!(self.status, Some(TelemetryStatus::Unavailable(_))) {
            return;
        }
        let message = TelemetryMessage {
            received_at: crate::twin::format_timestamp(now),
            properties: vec![("$.ct".into(), "application/json".into())],
            body: Some(body.to_owned()),
            body_base64: None,
        };
        self.push(key, vec![message], now);
    }

    fn push(&mut self, key: &str, messages: Vec<TelemetryMessage>, now: DateTime<Utc>) {
        self.history_mut(key).push_new(messages, now);
    }

    /// Folds in what the worker says of a recording.
    pub fn recording_news(&mut self, news: &RecordingNews) {
        match news {
            RecordingNews::Started { key, path } => {
                self.recordings.insert(key.clone(), path.clone());
            }
            RecordingNews::Failed { key, .. } | RecordingNews::Stopped { key, .. } => {
                self.recordings.remove(key);
            }
        }
    }

    /// The file `key` is being recorded to.
    pub fn recording(&self, key: &str) -> Option<&Path> {
        self.recordings.get(key).map(PathBuf::as_path)
    }

    /// The hub was (re)connected: the watch starts over.
    pub fn connection_changed(&mut self) {
        self.watching = None;
        self.status = None;
    }

    /// What the worker should watch now that `open` is the open device or module, when
    /// that differs from what it watches: the open key and every key being recorded.
    pub fn watch_update(&mut self, open: Option<&str>) -> Option<Vec<String>> {
        let mut wanted: Vec<String> = self.recordings.keys().cloned().collect();
        wanted.extend(open.map(str::to_owned));
        wanted.sort();
        wanted.dedup();
        if self.watching.as_ref() == Some(&wanted) {
            return None;
        }
        self.watching = Some(wanted.clone());
        Some(wanted)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(device: &str, module: Option<&str>, at: &str, body: &str) -> TelemetryEvent {
        TelemetryEvent {
            device_id: device.into(),
            module_id: module.map(str::to_owned),
            message: TelemetryMessage {
                received_at: at.into(),
                properties: Vec::new(),
                body: Some(body.into()),
                body_base64: None,
            },
        }
    }

    #[test]
    fn messages_land_in_their_senders_history_once() {
        let mut live = LiveTelemetry::new(5);
        let now = Utc::now();
        let first = event("d1", None, "2026-01-01T00:00:01Z", r#"{"t":1}"#);
        live.receive(
            vec![
                first.clone(),
                event("d1", Some("m"), "2026-01-01T00:00:02Z", r#"{"t":2}"#),
            ],
            now,
        );
        // The same message again (a history read overlapping the feed), then a new one.
        live.receive(
            vec![
                first,
                event("d1", None, "2026-01-01T00:00:03Z", r#"{"t":3}"#),
            ],
            now,
        );
        assert_eq!(live.history("d1").unwrap().len(), 2);
        assert_eq!(live.history("d1/m").unwrap().len(), 1);
        live.set_capacity(1);
        assert_eq!(live.history("d1").unwrap().len(), 1);
    }

    #[test]
    fn the_watch_follows_the_open_key_and_recordings() {
        let mut live = LiveTelemetry::default();
        assert_eq!(live.watch_update(Some("d1")), Some(vec!["d1".to_owned()]));
        assert_eq!(live.watch_update(Some("d1")), None);
        let path = PathBuf::from("r.ndjson");
        live.recording_news(&RecordingNews::Started {
            key: "d1".into(),
            path: path.clone(),
        });
        assert_eq!(live.recording("d1"), Some(path.as_path()));
        assert_eq!(
            live.watch_update(Some("d2")),
            Some(vec!["d1".to_owned(), "d2".to_owned()])
        );
        live.recording_news(&RecordingNews::Stopped {
            key: "d1".into(),
            path,
            lines: 1,
            error: None,
        });
        assert_eq!(live.recording("d1"), None);
        assert_eq!(live.watch_update(Some("d2")), Some(vec!["d2".to_owned()]));
        live.connection_changed();
        assert_eq!(live.watch_update(Some("d2")), Some(vec!["d2".to_owned()]));
    }

    #[test]
    fn simulated_telemetry_shows_only_without_a_feed() {
        let mut live = LiveTelemetry::default();
        live.receive_simulated("sim", r#"{"t":1}"#, Utc::now());
        assert!(live.history("sim").is_none());
        live.set_status(TelemetryStatus::Unavailable("no feed".into()));
        live.receive_simulated("sim", r#"{"t":1}"#, Utc::now());
        assert_eq!(live.history("sim").unwrap().len(), 1);
    }
}
