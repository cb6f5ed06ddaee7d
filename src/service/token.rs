//! The service client's SAS token: signed from the connection string with [`crate::auth`],
//! kept, and signed again shortly before it expires. The clock is injectable so tests can
//! move time instead of waiting for it.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::auth::ServiceConnectionString;

/// How long a token is signed for by default: one hour, as the Azure SDKs do.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// How long before expiry a token is replaced by default.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// "Now" in Unix seconds. The default reads the system clock; tests pass their own.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs())
        }))
    }

    /// A clock that asks `now` for the time, for tests that move time by hand.
    pub fn from_fn(now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The current time in Unix seconds.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// When tokens are signed and renewed.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// How long each token is valid.
    pub lifetime: Duration,
    /// A token with less than this left is replaced before the next request.
    pub renew_before: Duration,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            lifetime: DEFAULT_TOKEN_LIFETIME,
            renew_before: DEFAULT_RENEW_BEFORE,
            clock: Clock::system(),
        }
    }
}

/// A rendered token and its expiry.
struct CachedToken {
    header: String,
    expiry: u64,
}

/// Signs, keeps and renews the `Authorization` header value. `Debug` shows no token.
pub(super) struct TokenCache {
    credentials: ServiceConnectionString,
    settings: TokenSettings,
    cached: Mutex<Option<CachedToken>>,
}

impl TokenCache {
    pub(super) fn new(credentials: ServiceConnectionString, settings: TokenSettings) -> Self {
        TokenCache {
            credentials,
            settings,
            cached: Mutex::new(None),
        }
    }

    /// The `Authorization` header value: the cached token, or a new one when the cached
    /// token has less than `renew_before` left (or there is none).
    pub(super) fn authorization(&self) -> String {
        let now = self.settings.clock.now();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = cached.as_ref().filter(|token| self.fresh(token, now)) {
            return token.header.clone();
        }
        let expiry = now.saturating_add(self.settings.lifetime.as_secs());
        let header = self.credentials.sas_token(expiry).to_string();
        *cached = Some(CachedToken {
            header: header.clone(),
            expiry,
        });
        header
    }

    /// When the token in use expires (Unix seconds), if one was signed yet.
    pub(super) fn expiry(&self) -> Option<u64> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached.as_ref().map(|token| token.expiry)
    }

    /// Forgets the token, so the next request signs a new one (after a 401).
    pub(super) fn invalidate(&self) {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        *cached = None;
    }

    fn fresh(&self, token: &CachedToken, now: u64) -> bool {
        token.expiry.saturating_sub(now) > self.settings.renew_before.as_secs()
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("hub", &self.credentials.host_name)
            .field("expiry", &self.expiry())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::auth::SasToken;

    fn cache(now: Arc<AtomicU64>) -> TokenCache {
        let credentials: ServiceConnectionString =
            "HostName=h.net;SharedAccessKeyName=owner;SharedAccessKey=c2VjcmV0"
                .parse()
                .unwrap();
        TokenCache::new(
            credentials,
            TokenSettings {
                clock: Clock::from_fn(move || now.load(Ordering::SeqCst)),
                ..TokenSettings::default()
            },
        )
    }

    #[test]
    fn reuses_until_five_minutes_are_left_then_renews() {
        let now = Arc::new(AtomicU64::new(1_000_000));
        let tokens = cache(Arc::clone(&now));
        assert_eq!(tokens.expiry(), None);
        let first = tokens.authorization();
        assert_eq!(tokens.expiry(), Some(1_003_600));
        assert!(SasToken::parse(&first).is_ok());
        now.store(1_003_600 - 301, Ordering::SeqCst);
        assert_eq!(tokens.authorization(), first);
        now.store(1_003_600 - 300, Ordering::SeqCst);
        let second = tokens.authorization();
        assert_ne!(second, first);
        assert_eq!(tokens.expiry(), Some(1_003_300 + 3600));
    }

    #[test]
    fn invalidate_forces_a_new_token_and_debug_hides_it() {
        let now = Arc::new(AtomicU64::new(5_000));
        let tokens = cache(Arc::clone(&now));
        let first = tokens.authorization();
        tokens.invalidate();
        assert_eq!(tokens.expiry(), None);
        now.store(5_001, Ordering::SeqCst);
        assert_ne!(tokens.authorization(), first);
        let debug = format!("{tokens:?}");
        assert!(!debug.contains("sig="), "{debug}");
        assert!(debug.contains("h.net"), "{debug}");
    }
}
