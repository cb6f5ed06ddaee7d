//! How long to wait before trying again: exponential backoff, capped, with jitter so that
//! clients failing together (a fleet restarted at once, callers throttled together) do not
//! come back in lockstep. Simulated devices wait so before reconnecting, and the service
//! client before retrying a call the hub throttled.

use std::time::Duration;

/// The reconnect policy: the n-th consecutive failed attempt waits about
/// `initial * 2^(n-1)`, at most `max`, then a random fraction of that is taken off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// One second doubling up to a minute, close to what the Azure device SDKs do.
impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before reconnect attempt `attempt` (1 for the first), with a random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with_jitter(attempt, rand::random::<f64>())
    }

    /// The wait before attempt `attempt`, with `jitter` in `[0, 1)` choosing where in the
    /// upper half of the capped exponential delay the wait falls ("equal jitter": at least
    /// half the delay is always kept, so retries never hammer a hub that is down).
    pub fn delay_with_jitter(&self, attempt: u32, jitter: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        let exponential = self.initial.saturating_mul(1 << doublings);
        let capped = exponential.min(self.max);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        capped.mul_f64(0.5 + jitter / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let full: Vec<u64> = (1..=6)
            .map(|attempt| policy.delay_with_jitter(attempt, 1.0).as_secs())
            .collect();
        assert_eq!(full, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(
            policy.delay_with_jitter(u32::MAX, 1.0),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn jitter_keeps_at_least_half() {
        let policy = Backoff::default();
        assert_eq!(policy.delay_with_jitter(3, 0.0), Duration::from_secs(2));
        assert_eq!(
            policy.delay_with_jitter(3, f64::NAN),
            Duration::from_secs(2)
        );
        for _ in 0..100 {
            let delay = policy.delay(3);
            assert!(delay >= Duration::from_secs(2) && delay <= Duration::from_secs(4));
        }
    }

    #[test]
    fn attempt_zero_is_treated_as_the_first() {
        let policy = Backoff::default();
        assert_eq!(policy.delay_with_jitter(0, 1.0), Duration::from_secs(1));
    }
}
