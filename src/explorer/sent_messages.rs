//! Cloud-to-device messages sent from the Messages tab, newest last, and what became of
//! each as far as the app can tell: queued by the hub or refused, and, when the device is
//! simulated by this app, received and completed or left unacknowledged.

use std::collections::VecDeque;

use chrono::{DateTime, Local};

/// Sent messages remembered.
pub const SENT_HISTORY: usize = 200;

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentState {
    /// Handed to the hub; no answer yet.
    Sending,
    /// The hub queued it for the device.
    Queued,
    /// The hub refused it (the message says why and what to do).
    Refused(String),
    /// The app's simulated device received it, and completed it or not.
    Received {
        /// Whether the device acknowledged it.
        completed: bool,
    },
}

impl SentState {
    /// How the history shows it.
    pub fn label(&self) -> String {
        match self {
            Self::Sending => "sending…".into(),
            Self::Queued => "queued for the device".into(),
            Self::Refused(why) => format!("refused: {why}"),
            Self::Received { completed: true } => "received and completed by the device".into(),
            Self::Received { completed: false } => {
                "received, not acknowledged (comes again on reconnect)".into()
            }
        }
    }
}

/// One sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// When it was sent (local time).
    pub sent_at: DateTime<Local>,
    /// The device.
    pub device_id: String,
    /// Its message id.
    pub message_id: String,
    /// Its payload as text (cut for the list).
    pub body: String,
    /// What became of it.
    pub state: SentState,
}

/// The history of sent messages.
#[derive(Debug, Clone, Default)]
pub struct SentMessages {
    entries: VecDeque<SentMessage>,
}

impl SentMessages {
    /// Remembers a message being sent.
    pub fn sending(&mut self, device_id: &str, message_id: &str, body: &[u8]) {
        if self.entries.len() == SENT_HISTORY {
            self.entries.pop_front();
        }
        self.entries.push_back(SentMessage {
            sent_at: Local::now(),
            device_id: device_id.to_owned(),
            message_id: message_id.to_owned(),
            body: String::from_utf8_lossy(body).chars().take(200).collect(),
            state: SentState::Sending,
        });
    }

    fn find(&mut self, device_id: &str, message_id: &str) -> Option<&mut SentMessage> {
        self.entries
            .iter_mut()
            .rev()
            .find(|entry| entry.device_id == device_id && entry.message_id == message_id)
    }

    /// The hub's answer to a send.
    pub fn answered(&mut self, device_id: &str, message_id: &str, refusal: Option<String>) {
        if let Some(entry) = self.find(device_id, message_id)
            && entry.state == SentState::Sending
        {
            entry.state = match refusal {
                Some(why) => SentState::Refused(why),
                None => SentState::Queued,
            };
        }
    }

    /// A simulated device received a message with this id.
    pub fn received(&mut self, device_id: &str, message_id: &str, completed: bool) {
        if let Some(entry) = self.find(device_id, message_id) {
            entry.state = SentState::Received { completed };
        }
    }

    /// The messages sent to a device, newest first.
    pub fn of_device<'a>(&'a self, device_id: &'a str) -> impl Iterator<Item = &'a SentMessage> {
        self.entries
            .iter()
            .rev()
            .filter(move |entry| entry.device_id == device_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_goes_from_sending_to_received() {
        let mut sent = SentMessages::default();
        sent.sending("d1", "m1", b"hello");
        sent.sending("d2", "m2", b"other");
        sent.sending("d1", "m3", b"refused");
        sent.answered("d1", "m1", None);
        sent.answered("d1", "m3", Some("queue full".into()));
        sent.received("d1", "m1", true);
        // A late answer does not undo what the device reported.
        sent.answered("d1", "m1", None);
        let states: Vec<String> = sent.of_device("d1").map(|m| m.state.label()).collect();
        assert_eq!(
            states,
            vec![
                "refused: queue full".to_owned(),
                "received and completed by the device".to_owned()
            ]
        );
        assert_eq!(sent.of_device("d2").count(), 1);
    }

    #[test]
    fn the_history_is_bounded() {
        let mut sent = SentMessages::default();
        for n in 0..SENT_HISTORY + 5 {
            sent.sending("d1", &n.to_string(), b"x");
        }
        assert_eq!(sent.of_device("d1").count(), SENT_HISTORY);
        assert_eq!(
            sent.of_device("d1").last().map(|m| m.message_id.as_str()),
            Some("5")
        );
    }
}
