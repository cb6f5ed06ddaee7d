//! Which device sessions are connected: one per device. A new connection of the same
//! device takes over (the old one is told to close), and the service side can
//! disconnect a device it deletes or disables. Connection-state writes happen under the
//! registry's lock, so they land in the order sessions start and end: a session that
//! was taken over can never mark its device connected after its successor ended.
//!
//! Persistent sessions (MQTT 3.1.1 section 3.1.2.4): a device that connects with
//! CleanSession=0 resumes the subscriptions its earlier CleanSession=0 connection made,
//! and is told so by CONNACK session-present=1, as IoT Hub does. SDKs rely on it: the
//! Node.js device SDK never subscribes again after a reconnect or a SAS token renewal.
//! A CleanSession=1 connection discards any kept session and keeps none. Kept sessions
//! live as long as the hub process, and end when the device is deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rumqttc::mqttbytes::QoS;
use tokio::sync::oneshot;

/// Why a session was ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The same device connected again.
    TakenOver,
    /// The device was deleted or disabled.
    Revoked,
}

/// What a session subscribed to: the QoS granted to each of IoT Hub's device
/// subscriptions, `None` where the device has not subscribed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// `$iothub/twin/res/#`.
    pub twin_responses: Option<QoS>,
    /// `$iothub/twin/PATCH/properties/desired/#`.
    pub desired_patches: Option<QoS>,
    /// `$iothub/methods/POST/#`.
    pub method_requests: Option<QoS>,
    /// `devices/{deviceId}/messages/devicebound/#`.
    pub cloud_to_device: Option<QoS>,
}

struct Entry {
    generation: u64,
    evict: oneshot::Sender<Eviction>,
    /// Connected with CleanSession=0: its subscriptions are kept in `kept`.
    persistent: bool,
}

#[derive(Default)]
struct Registry {
    next_generation: u64,
    sessions: HashMap<String, Entry>,
    /// The subscriptions of each device's persistent session, connected or not.
    kept: HashMap<String, Subscriptions>,
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

/// A session just registered.
pub struct Registered {
    /// Hand it back to [`SessionRegistry::end`] when the session stops.
    pub ticket: SessionTicket,
    /// Completes when this session must close.
    pub evicted: oneshot::Receiver<Eviction>,
    /// The subscriptions of the persistent session this connection resumes; `Some` is
    /// CONNACK session-present=1.
    pub resumed: Option<Subscriptions>,
}

impl SessionRegistry {
    /// Registers a session for `device_id`, evicting any previous one, and runs
    /// `mark_connected` before any other session of the device can start or end.
    /// `clean_session` is the CONNECT flag: `false` resumes the device's kept session
    /// (or starts one to keep), `true` discards it.
    pub fn register(
        &self,
        device_id: &str,
        clean_session: bool,
        mark_connected: impl FnOnce(),
    ) -> Registered {
        let (evict, evicted) = oneshot::channel();
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.next_generation += 1;
        let generation = registry.next_generation;
        let entry = Entry {
            generation,
            evict,
            persistent: !clean_session,
        };
        if let Some(previous) = registry.sessions.insert(device_id.to_owned(), entry) {
            let _ = previous.evict.send(Eviction::TakenOver);
        }
        let resumed = if clean_session {
            registry.kept.remove(device_id);
            None
        } else {
            let kept = registry.kept.get(device_id).copied();
            registry.kept.entry(device_id.to_owned()).or_default();
            kept
        };
        mark_connected();
        let ticket = SessionTicket {
            device_id: device_id.to_owned(),
            generation,
        };
        Registered {
            ticket,
            evicted,
            resumed,
        }
    }

    /// Records what a session is subscribed to now, to be resumed by the device's next
    /// CleanSession=0 connection. Nothing is kept for a CleanSession=1 session, nor for
    /// one that a newer session took over.
    pub fn remember(&self, ticket: &SessionTicket, subscriptions: Subscriptions) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let current = registry
            .sessions
            .get(&ticket.device_id)
            .is_some_and(|entry| entry.generation == ticket.generation && entry.persistent);
        if current {
            registry
                .kept
                .insert(ticket.device_id.clone(), subscriptions);
        }
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

    /// Closes the device's session, if it has one. Its kept subscriptions stay for
    /// its next CleanSession=0 connection (a disabled device may be enabled again).
    pub fn revoke(&self, device_id: &str) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = registry.sessions.remove(device_id) {
            let _ = entry.evict.send(Eviction::Revoked);
        }
    }

    /// Closes the session of a deleted device and forgets its kept subscriptions: a
    /// device created again with the same id starts afresh.
    pub fn forget(&self, device_id: &str) {
        self.revoke(device_id);
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.kept.remove(device_id);
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
        let mut old = sessions.register("d1", true, || {});
        let new = sessions.register("d1", true, || {});
        assert_eq!(old.evicted.try_recv().unwrap(), Eviction::TakenOver);
        let (old, new) = (old.ticket, new.ticket);
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
        let mut registered = sessions.register("d1", true, || {});
        sessions.revoke("d1");
        assert_eq!(registered.evicted.try_recv().unwrap(), Eviction::Revoked);
        assert!(!sessions.is_connected("d1"));
        let mut marked = false;
        assert!(sessions.end(&registered.ticket, || marked = true));
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
                .map(|_| sessions.register("d1", true, mark(true)).ticket)
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

    fn with_twin_responses() -> Subscriptions {
        Subscriptions {
            twin_responses: Some(QoS::AtLeastOnce),
            ..Subscriptions::default()
        }
    }

    #[test]
    fn a_persistent_session_is_resumed_until_a_clean_one_discards_it() {
        let sessions = SessionRegistry::default();
        let first = sessions.register("d1", false, || {});
        assert_eq!(first.resumed, None, "no session was kept yet");
        sessions.remember(&first.ticket, with_twin_responses());
        sessions.end(&first.ticket, || {});

        let second = sessions.register("d1", false, || {});
        assert_eq!(second.resumed, Some(with_twin_responses()));
        // Taken over while connected: the successor resumes what it subscribed to.
        let third = sessions.register("d1", false, || {});
        assert_eq!(third.resumed, Some(with_twin_responses()));
        // The session taken over can no longer change what is kept.
        sessions.remember(&second.ticket, Subscriptions::default());
        sessions.end(&third.ticket, || {});
        assert_eq!(
            sessions.register("d1", false, || {}).resumed,
            Some(with_twin_responses())
        );

        let clean = sessions.register("d1", true, || {});
        assert_eq!(clean.resumed, None);
        sessions.remember(&clean.ticket, with_twin_responses());
        sessions.end(&clean.ticket, || {});
        assert_eq!(
            sessions.register("d1", false, || {}).resumed,
            None,
            "a clean session keeps nothing"
        );
    }

    #[test]
    fn a_kept_session_outlives_revocation_but_not_deletion() {
        let sessions = SessionRegistry::default();
        let registered = sessions.register("d1", false, || {});
        sessions.remember(&registered.ticket, with_twin_responses());
        sessions.revoke("d1");
        sessions.end(&registered.ticket, || {});
        let again = sessions.register("d1", false, || {});
        assert_eq!(again.resumed, Some(with_twin_responses()));
        sessions.forget("d1");
        assert!(!sessions.is_connected("d1"));
        assert_eq!(sessions.register("d1", false, || {}).resumed, None);
    }
}
