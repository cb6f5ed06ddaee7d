//! Which device sessions are connected: one per device. A new connection of the same
//! device takes over (the old one is told to close), and the service side can
//! disconnect a device it deletes or disables.

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
    /// Registers a session for `device_id`, evicting any previous one. The receiver
    /// completes when this session must close.
    pub fn register(&self, device_id: &str) -> (SessionTicket, oneshot::Receiver<Eviction>) {
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
        let ticket = SessionTicket {
            device_id: device_id.to_owned(),
            generation,
        };
        (ticket, evicted)
    }

    /// Unregisters a session that stopped. Returns whether it was still the device's
    /// current session (and so whether the device is now disconnected).
    pub fn end(&self, ticket: &SessionTicket) -> bool {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let current = registry
            .sessions
            .get(&ticket.device_id)
            .is_some_and(|entry| entry.generation == ticket.generation);
        if current {
            registry.sessions.remove(&ticket.device_id);
        }
        current
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
        let (old, mut old_evicted) = sessions.register("d1");
        let (new, _new_evicted) = sessions.register("d1");
        assert_eq!(old_evicted.try_recv().unwrap(), Eviction::TakenOver);
        assert!(!sessions.end(&old), "the old session is no longer current");
        assert!(sessions.is_connected("d1"));
        assert!(sessions.end(&new));
        assert!(!sessions.is_connected("d1"));
    }

    #[test]
    fn revoke_closes_the_session() {
        let sessions = SessionRegistry::default();
        let (ticket, mut evicted) = sessions.register("d1");
        sessions.revoke("d1");
        assert_eq!(evicted.try_recv().unwrap(), Eviction::Revoked);
        assert!(!sessions.end(&ticket));
        sessions.revoke("nobody");
    }
}
