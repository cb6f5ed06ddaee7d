//! Counts of what the hub did, so that the log says it at info level once a minute
//! instead of a line per write (one line per twin write made tens of megabytes of log
//! in minutes under load). Each single event is logged at debug level where it happens.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the summary is logged (when anything happened).
const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Event counters; shared by every part of the hub.
#[derive(Debug, Default)]
pub struct Activity {
    /// Twin writes through the service API (PATCH and PUT).
    pub twin_writes: AtomicU64,
    /// Reported-property patches from devices.
    pub reported_writes: AtomicU64,
    /// Device identities created, updated or deleted.
    pub identity_writes: AtomicU64,
    /// Direct methods invoked.
    pub method_calls: AtomicU64,
    /// Device sessions opened.
    pub sessions_opened: AtomicU64,
    /// Device sessions ended.
    pub sessions_ended: AtomicU64,
    /// Telemetry messages received.
    pub telemetry_messages: AtomicU64,
    /// Telemetry messages dropped to stay within the telemetry memory limits.
    pub telemetry_dropped: AtomicU64,
}

impl Activity {
    /// Counts one event.
    pub fn count(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    /// Counts `events` events.
    pub fn add(counter: &AtomicU64, events: u64) {
        if events > 0 {
            counter.fetch_add(events, Ordering::Relaxed);
        }
    }

    /// The counts since the last call, as a log line; `None` when nothing happened.
    fn take_summary(&self) -> Option<String> {
        let counters = [
            (&self.twin_writes, "twin writes"),
            (&self.reported_writes, "reported patches"),
            (&self.identity_writes, "identity writes"),
            (&self.method_calls, "direct methods"),
            (&self.sessions_opened, "device sessions opened"),
            (&self.sessions_ended, "device sessions ended"),
            (&self.telemetry_messages, "telemetry messages"),
            (
                &self.telemetry_dropped,
                "older telemetry messages dropped to stay within the telemetry limits",
            ),
        ];
        let parts: Vec<String> = counters
            .into_iter()
            .filter_map(|(counter, name)| {
                let count = counter.swap(0, Ordering::Relaxed);
                (count > 0).then(|| format!("{count} {name}"))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Logs a summary of `activity` every minute until `stop` completes.
pub async fn log_summaries(activity: Arc<Activity>, stop: impl std::future::Future<Output = ()>) {
    let summaries = async {
        let mut ticks = tokio::time::interval(SUMMARY_INTERVAL);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Some(summary) = activity.take_summary() {
                tracing::info!("in the last {} s: {summary}", SUMMARY_INTERVAL.as_secs());
            }
        }
    };
    tokio::select! {
        () = summaries => {}
        () = stop => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_what_happened_and_starts_over() {
        let activity = Activity::default();
        assert_eq!(activity.take_summary(), None);
        Activity::count(&activity.twin_writes);
        Activity::count(&activity.twin_writes);
        Activity::count(&activity.telemetry_messages);
        assert_eq!(
            activity.take_summary().as_deref(),
            Some("2 twin writes, 1 telemetry messages")
        );
        assert_eq!(activity.take_summary(), None);
    }
}
