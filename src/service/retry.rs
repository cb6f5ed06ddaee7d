//! When and how long to wait before trying a request again: 429 and 503 always (the hub
//! did not act on the request), connection failures only for requests that are safe to
//! repeat, with exponential backoff and jitter, honouring `Retry-After`.
//!
//! Pure decisions: no I/O and no clock, so every rule is tested directly.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The first backoff step; each retry doubles it.
pub const BASE_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between two attempts, whatever the backoff or `Retry-After` say.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// Whether repeating a request could do something twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, PUTs and DELETEs, and queries: sending them again is harmless.
    Idempotent,
    /// Direct-method calls and merge patches: a repeat may act twice.
    NotIdempotent,
}

/// Whether an answer with this status is worth another attempt: the hub throttled the
/// request (429) or was unavailable (503), so it did not act on it.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// How long to wait before retry number `retry` (0 for the first retry): the server's
/// `Retry-After` when it gave one, otherwise `BASE_DELAY * 2^retry` scaled by `jitter`
/// (a number in `0.0..=1.0`) into its upper half, so that clients throttled together do
/// not come back together. Never more than [`MAX_DELAY`].
pub fn delay(retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(MAX_DELAY);
    }
    let exponential = BASE_DELAY.saturating_mul(2u32.saturating_pow(retry));
    let capped = exponential.min(MAX_DELAY);
    capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
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
        assert!(retryable_status(429));
        assert!(retryable_status(503));
        for status in [400, 401, 404, 412, 500, 502, 504] {
            assert!(!retryable_status(status), "{status}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(delay(0, None, 1.0), BASE_DELAY);
        assert_eq!(delay(0, None, 0.0), BASE_DELAY / 2);
        assert_eq!(delay(3, None, 1.0), BASE_DELAY * 8);
        assert_eq!(delay(30, None, 1.0), MAX_DELAY);
        assert_eq!(delay(u32::MAX, None, 2.0), MAX_DELAY);
        assert_eq!(delay(1, None, -1.0), BASE_DELAY);
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let two = Duration::from_secs(2);
        assert_eq!(delay(5, Some(two), 0.0), two);
        assert_eq!(delay(0, Some(Duration::from_secs(3600)), 0.0), MAX_DELAY);
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
