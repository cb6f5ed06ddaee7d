//! The event log: what happened, newest last, bounded so a chatty device cannot grow
//! memory without end. Every entry also goes to the process log (stderr), target
//! `twinlens::events`, at its level, so a user in a terminal sees it too.

use std::collections::VecDeque;

/// Entries kept; older ones are dropped first.
pub const EVENT_LOG_CAPACITY: usize = 2000;

/// How much an entry matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Something happened as asked.
    Info,
    /// Something needs the user's attention.
    Warning,
    /// Something failed.
    Error,
}

/// One entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Local wall-clock time, `HH:MM:SS`.
    pub time: String,
    /// How much it matters.
    pub level: LogLevel,
    /// What happened.
    pub text: String,
}

/// The log.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
    last_error: Option<String>,
}

impl EventLog {
    /// Adds an entry stamped with the current local time.
    pub fn push(&mut self, level: LogLevel, text: impl Into<String>) {
        let time = chrono::Local::now().format("%H:%M:%S").to_string();
        self.push_at(time, level, text.into());
    }

    fn push_at(&mut self, time: String, level: LogLevel, text: String) {
        // A terminal user sees the log too: informational entries at info level.
        match level {
            LogLevel::Info => tracing::info!(target: "twinlens::events", "{text}"),
            LogLevel::Warning => tracing::warn!(target: "twinlens::events", "{text}"),
            LogLevel::Error => tracing::error!(target: "twinlens::events", "{text}"),
        }
        if level == LogLevel::Error {
            self.last_error = Some(text.clone());
        }
        if self.entries.len() == EVENT_LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(LogEntry { time, level, text });
    }

    /// Adds an informational entry.
    pub fn info(&mut self, text: impl Into<String>) {
        self.push(LogLevel::Info, text);
    }

    /// Adds a warning.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.push(LogLevel::Warning, text);
    }

    /// Adds an error; it becomes the status bar's last error.
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(LogLevel::Error, text);
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &VecDeque<LogEntry> {
        &self.entries
    }

    /// The most recent error, until cleared.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Clears the log and the last error.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.last_error = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_bounded_and_remembers_the_last_error() {
        let mut log = EventLog::default();
        log.error("first failure");
        for n in 0..EVENT_LOG_CAPACITY {
            log.info(format!("entry {n}"));
        }
        assert_eq!(log.entries().len(), EVENT_LOG_CAPACITY);
        assert_eq!(
            log.entries().front().map(|e| e.text.as_str()),
            Some("entry 0")
        );
        assert_eq!(log.last_error(), Some("first failure"));
        log.clear();
        assert!(log.entries().is_empty() && log.last_error().is_none());
    }
}
