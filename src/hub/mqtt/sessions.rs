//! Which device sessions are connected: one per device. A new connection of the same
//! device takes over (the old one is told to close), and the service side can
//! disconnect a device it deletes or disables. Connection-state writes happen under the
//! registry's lock, so they land in the order sessions start and end: a session that
//! was taken over can never mark its device connected after its successor ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Why a session was ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The same device connected again.
    TakenOver,
    /// The device was deleted or disabled.
    Revoked,
}

struct Entry {
    generation: u64,
    evict: oneshot::Sender<Eviction>,
}

#[derive(Default)]
struct Registry {
    next_generation: u64,
    sessions: HashMap<String, Entry>,
}

/// The connected sessions; clones share them.
#[derive(Clone, Default)]
pub struct SessionRegistry {
    registry: Arc<Mutex<Registry>>,
}

/// A registered session; [`SessionRegistry::end`] with it when the session stops.
pub struct SessionTicket {
    device_id: String,
    generation: u64,
}

impl SessionRegistry {
    /// Registers a session for `device_id`, evicting any previous one, and runs
    /// `mark_connected` before any other session of the device can start or end. The
    /// receiver completes when this session must close.
    pub fn register(
        &self,
        device_id: &str,
        mark_connected: impl FnOnce(),
    ) -> (SessionTicket, oneshot::Receiver<Eviction>) {
        let (evict, evicted) = oneshot::channel();
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.next_generation += 1;
        let generation = registry.next_generation;
        if let Some(previous) = registry
            .sessions
            .insert(device_id.to_owned(), Entry { generation, evict })
        {
            let _ = previous.evict.send(Eviction::TakenOver);
        }
        mark_connected();
        let ticket = SessionTicket {
            device_id: device_id.to_owned(),
            generation,
        };
        (ticket, evicted)
    }

    /// Unregisters a session that stopped. When the device has no newer session (this
    /// one was current, or it was revoked), the device is now disconnected:
    /// `mark_disconnected` runs under the lock and `true` is returned.
    pub fn end(&self, ticket: &SessionTicket, mark_disconnected: impl FnOnce()) -> bool {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let newest = registry
            .sessions
            .get(&ticket.device_id)
            .map(|entry| entry.generation);
        match newest {
            Some(generation) if generation != ticket.generation => false,
            Some(_) => {
                registry.sessions.remove(&ticket.device_id);
                mark_disconnected();
                true
            }
            None => {
                mark_disconnected();
                true
            }
        }
    }

    /// Closes the device's session, if it has one.
    pub fn revoke(&self, device_id: &str) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = registry.sessions.remove(device_id) {
            let _ = entry.evict.send(Eviction::Revoked);
        }
    }

    /// Whether the device has a session now.
    pub fn is_connected(&self, device_id: &str) -> bool {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.sessions.contains_key(device_id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn takeover_evicts_the_old_session_only() {
        let sessions = SessionRegistry::default();
        let (old, mut old_evicted) = sessions.register("d1", || {});
        let (new, _new_evicted) = sessions.register("d1", || {});
        assert_eq!(old_evicted.try_recv().unwrap(), Eviction::TakenOver);
        assert!(
            !sessions.end(&old, || panic!("a newer session is connected")),
            "the old session is no longer current"
        );
        assert!(sessions.is_connected("d1"));
        assert!(sessions.end(&new, || {}));
        assert!(!sessions.is_connected("d1"));
    }

    #[test]
    fn revoke_closes_the_session_and_its_end_disconnects() {
        let sessions = SessionRegistry::default();
        let (ticket, mut evicted) = sessions.register("d1", || {});
        sessions.revoke("d1");
        assert_eq!(evicted.try_recv().unwrap(), Eviction::Revoked);
        assert!(!sessions.is_connected("d1"));
        let mut marked = false;
        assert!(sessions.end(&ticket, || marked = true));
        assert!(marked);
        sessions.revoke("nobody");
    }

    /// Whatever order sessions of one device start and end in, the last state written
    /// says whether a session is still registered.
    #[test]
    fn the_last_state_written_matches_the_registry() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let sessions = SessionRegistry::default();
        let connected = AtomicBool::new(false);
        let connected = &connected;
        let mark = |state: bool| move || connected.store(state, Ordering::SeqCst);
        // Every order of ending three overlapping sessions.
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let tickets: Vec<_> = (0..3)
                .map(|_| sessions.register("d1", mark(true)).0)
                .collect();
            for (ended, index) in order.iter().enumerate() {
                sessions.end(&tickets[*index], mark(false));
                let newest_ended = order[..=ended].contains(&2);
                assert_eq!(sessions.is_connected("d1"), !newest_ended, "{order:?}");
                assert_eq!(
                    connected.load(Ordering::SeqCst),
                    !newest_ended,
                    "{order:?} after {} ended",
                    ended + 1
                );
            }
        }
    }
}
