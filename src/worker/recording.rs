//! Recording telemetry to NDJSON files for the explorer, off the UI thread: the
//! dispatcher opens and closes the files, and the telemetry watch appends every new
//! message of a recorded device as it arrives (one JSON object a line, the format of
//! `twinlens monitor --ndjson`), flushed after each batch so the file is readable while
//! it grows. Messages the watch hands over again (what the hub kept, read after the feed
//! reopens) and those from before the recording started are not written.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::service::model::TelemetryEvent;
use crate::service::ndjson_line;

/// What became of a recording, for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingNews {
    /// The file is open; new messages of `key` go into it.
    Started { key: String, path: PathBuf },
    /// The file could not be created.
    Failed {
        key: String,
        path: PathBuf,
        error: String,
    },
    /// Recording ended (on request, or at a write error), after `lines` messages.
    Stopped {
        key: String,
        path: PathBuf,
        lines: u64,
        error: Option<String>,
    },
}

struct Recording {
    path: PathBuf,
    writer: BufWriter<File>,
    lines: u64,
    /// The hub time of the newest message written (IoT Hub timestamps sort as text).
    newest: String,
}

/// The recordings under way, by device or module key; clones share them.
#[derive(Clone, Default)]
pub(super) struct Recordings {
    files: Arc<Mutex<HashMap<String, Recording>>>,
}

impl Recordings {
    fn files(&self) -> MutexGuard<'_, HashMap<String, Recording>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `path` and records `key`'s messages received from now on into it
    /// (replacing a recording of `key` under way, which is stopped first).
    pub(super) fn start(&self, key: &str, path: PathBuf) -> Vec<RecordingNews> {
        let mut news: Vec<RecordingNews> = self.stop(key).into_iter().collect();
        match File::create(&path) {
            Ok(file) => {
                self.files().insert(
                    key.to_owned(),
                    Recording {
                        path: path.clone(),
                        writer: BufWriter::new(file),
                        lines: 0,
                        newest: crate::twin::format_timestamp(chrono::Utc::now()),
                    },
                );
                news.push(RecordingNews::Started {
                    key: key.to_owned(),
                    path,
                });
            }
            Err(error) => news.push(RecordingNews::Failed {
                key: key.to_owned(),
                error: format!(
                    "could not create {} ({error}); choose another file",
                    path.display()
                ),
                path,
            }),
        }
        news
    }

    /// Ends the recording of `key`, if one runs.
    pub(super) fn stop(&self, key: &str) -> Option<RecordingNews> {
        let mut recording = self.files().remove(key)?;
        let error = recording.writer.flush().err().map(|e| e.to_string());
        Some(RecordingNews::Stopped {
            key: key.to_owned(),
            path: recording.path,
            lines: recording.lines,
            error,
        })
    }

    /// Writes the new messages of recorded senders among `events`; returns the
    /// recordings a write error ended.
    pub(super) fn write(&self, events: &[TelemetryEvent]) -> Vec<RecordingNews> {
        let mut files = self.files();
        if files.is_empty() {
            return Vec::new();
        }
        let mut failed: HashMap<String, String> = HashMap::new();
        let mut touched = Vec::new();
        for event in events {
            let key = event.sender_key();
            let Some(recording) = files.get_mut(&key) else {
                continue;
            };
            if failed.contains_key(&key) || event.message.received_at <= recording.newest {
                continue;
            }
            match writeln!(recording.writer, "{}", ndjson_line(event)) {
                Ok(()) => {
                    recording.lines += 1;
                    recording.newest.clone_from(&event.message.received_at);
                    if !touched.contains(&key) {
                        touched.push(key);
                    }
                }
                Err(error) => {
                    failed.insert(key, error.to_string());
                }
            }
        }
        for key in touched {
            if let Some(recording) = files.get_mut(&key)
                && let Err(error) = recording.writer.flush()
            {
                failed.entry(key).or_insert_with(|| error.to_string());
            }
        }
        failed
            .into_iter()
            .filter_map(|(key, error)| {
                let recording = files.remove(&key)?;
                Some(RecordingNews::Stopped {
                    key,
                    path: recording.path,
                    lines: recording.lines,
                    error: Some(error),
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::service::TelemetryMessage;

    fn event(device: &str, at: &str, body: &str) -> TelemetryEvent {
        TelemetryEvent {
            device_id: device.into(),
            module_id: None,
            message: TelemetryMessage {
                received_at: at.into(),
                properties: vec![("unit".into(), "C".into())],
                body: Some(body.into()),
                body_base64: None,
            },
        }
    }

    #[test]
    fn new_messages_of_recorded_devices_are_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d1.ndjson");
        let recordings = Recordings::default();
        let started = recordings.start("d1", path.clone());
        assert_eq!(
            started,
            vec![RecordingNews::Started {
                key: "d1".into(),
                path: path.clone()
            }]
        );
        let old = event("d1", "2000-01-01T00:00:00.0000000Z", "{\"t\":0}");
        let first = event("d1", "2999-01-01T00:00:01.0000000Z", "{\"t\":1}");
        let second = event("d1", "2999-01-01T00:00:02.0000000Z", "{\"t\":2}");
        let other = event("d2", "2999-01-01T00:00:02.0000000Z", "{\"t\":9}");
        assert!(recordings.write(&[old, first.clone(), other]).is_empty());
        // Handed over again (the hub's kept messages after a reopen), then a new one.
        assert!(recordings.write(&[first, second]).is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("\"body\":{\"t\":1}"), "{text}");
        assert_eq!(
            recordings.stop("d1"),
            Some(RecordingNews::Stopped {
                key: "d1".into(),
                path,
                lines: 2,
                error: None
            })
        );
        assert_eq!(recordings.stop("d1"), None);
    }

    #[test]
    fn a_file_that_cannot_be_created_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("d1.ndjson");
        let news = Recordings::default().start("d1", path.clone());
        let [RecordingNews::Failed { error, .. }] = news.as_slice() else {
            panic!("{news:?}");
        };
        assert!(error.contains("choose another file"), "{error}");
    }
}
