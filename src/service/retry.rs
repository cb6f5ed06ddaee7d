//! When and how long to wait before trying a request again: 429 and 503 always (the hub
//! did not act on the request), connection failures only for requests that are safe to
//! repeat, with exponential backoff and jitter, honouring `Retry-After` in full (or giving
//! up when it asks for too long a wait).
//!
//! Pure decisions: no I/O and no clock, so every rule is tested directly.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backoff::Backoff;

/// The first backoff step; each retry doubles it.
pub const BASE_DELAY: Duration = Duration::from_millis(200);
/// The longest backoff between two attempts when the server named no wait.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// The longest `Retry-After` a call waits out; a server asking for longer gets its answer
/// passed on (with the error it came with) instead of being asked again too early.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Whether repeating a request could do something twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, PUTs and DELETEs, and queries: sending them again is harmless.
    Idempotent,
    /// Direct-method calls and merge patches: a repeat may act twice.
    NotIdempotent,
}

/// Whether an answer with this status and `iothub-errorcode` is worth another attempt:
/// the hub throttled the request (429) or was unavailable (503), so it did not act on
/// it; but a hub at its active-job limit stays there until a job ends (minutes), which
/// no backoff waits out.
pub fn retryable_answer(status: u16, error_code: Option<&str>) -> bool {
    matches!(status, 429 | 503) && error_code != Some("ThrottlingMaxActiveJobCountExceeded")
}

/// How long to wait before retry number `retry` (0 for the first retry), or `None` when
/// the server's `Retry-After` asks for more than [`MAX_RETRY_AFTER`] and the call should
/// give up. Without `Retry-After`: `BASE_DELAY * 2^retry`, at most [`MAX_DELAY`], scaled
/// by `jitter` (a number in `0.0..=1.0`) into its upper half, so that clients throttled
/// together do not come back together.
pub fn delay(retry: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
    if let Some(wait) = retry_after {
        return (wait <= MAX_RETRY_AFTER).then_some(wait);
    }
    let backoff = Backoff {
        initial: BASE_DELAY,
        max: MAX_DELAY,
    };
    Some(backoff.delay_with_jitter(retry.saturating_add(1), jitter))
}

/// Reads a `Retry-After` value: whole seconds, or an HTTP date (e.g. `Wed, 21 Oct 2015
/// 07:28:00 GMT`) turned into the time left after `now`. Anything else is ignored.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let left = date.with_timezone(&Utc).signed_duration_since(now);
    Some(left.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_unavailability_are_retried() {
        assert!(retryable_answer(429, None));
        assert!(retryable_answer(429, Some("ThrottlingException")));
        assert!(retryable_answer(503, None));
        for status in [400, 401, 404, 412, 500, 502, 504] {
            assert!(!retryable_answer(status, None), "{status}");
        }
        assert!(!retryable_answer(
            429,
            Some("ThrottlingMaxActiveJobCountExceeded")
        ));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(delay(0, None, 1.0), Some(BASE_DELAY));
        assert_eq!(delay(0, None, 0.0), Some(BASE_DELAY / 2));
        assert_eq!(delay(3, None, 1.0), Some(BASE_DELAY * 8));
        assert_eq!(delay(30, None, 1.0), Some(MAX_DELAY));
        assert_eq!(delay(u32::MAX, None, 2.0), Some(MAX_DELAY));
        assert_eq!(delay(1, None, -1.0), Some(BASE_DELAY));
        assert_eq!(delay(0, None, f64::NAN), Some(BASE_DELAY / 2));
    }

    #[test]
    fn retry_after_is_honoured_in_full_or_the_call_gives_up() {
        let two = Duration::from_secs(2);
        assert_eq!(delay(5, Some(two), 0.0), Some(two));
        assert_eq!(
            delay(0, Some(Duration::from_secs(60)), 0.0),
            Some(Duration::from_secs(60))
        );
        assert_eq!(delay(0, Some(MAX_RETRY_AFTER), 0.0), Some(MAX_RETRY_AFTER));
        assert_eq!(delay(0, Some(Duration::from_secs(3600)), 0.0), None);
    }

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:50Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
