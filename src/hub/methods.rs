//! Direct-method routing: connects a service call (`POST /twins/{id}/methods`) to the
//! device session that answers it, with Azure's connect and response timeouts. A
//! device session registers here when it subscribes to methods; the REST handler
//! waits here for the answer. Knows nothing about HTTP or MQTT framing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::error::HubError;

/// How many invocations may queue for one device before callers see it as busy.
const QUEUE_PER_DEVICE: usize = 64;

/// One invocation handed to a device session.
#[derive(Debug)]
pub struct MethodCall {
    /// The method name.
    pub name: String,
    /// The JSON payload.
    pub payload: Value,
    /// Where the session sends the device's answer.
    pub reply: oneshot::Sender<MethodResponse>,
}

/// A device's answer to a direct method.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResponse {
    /// The status the device chose.
    pub status: i64,
    /// The JSON payload the device sent (null when it sent none).
    pub payload: Value,
}

/// The timeouts of one invocation, as the service API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodTimeouts {
    /// How long to wait for a disconnected device to connect (0: fail at once).
    pub connect: Duration,
    /// How long to wait for the answer once the device has the call.
    pub response: Duration,
}

struct Registration {
    generation: u64,
    sender: mpsc::Sender<MethodCall>,
}

#[derive(Default)]
struct Registry {
    next_generation: u64,
    devices: HashMap<String, Registration>,
}

/// Routes direct-method calls to connected devices; clones share the routing table.
#[derive(Clone, Default)]
pub struct MethodDispatcher {
    registry: Arc<Mutex<Registry>>,
    connected: Arc<Notify>,
}

/// A device session's subscription to direct methods; dropping it unsubscribes.
pub struct MethodSubscription {
    device_id: String,
    generation: u64,
    /// Calls for this device, in the order they were made.
    pub calls: mpsc::Receiver<MethodCall>,
    registry: Arc<Mutex<Registry>>,
}

impl Drop for MethodSubscription {
    fn drop(&mut self) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // A newer session of the same device may have taken over: leave its
        // registration in place.
        if registry
            .devices
            .get(&self.device_id)
            .is_some_and(|r| r.generation == self.generation)
        {
            registry.devices.remove(&self.device_id);
        }
    }
}

impl MethodDispatcher {
    /// Subscribes a device session; a previous subscription of the same device stops
    /// receiving calls.
    pub fn subscribe(&self, device_id: &str) -> MethodSubscription {
        let (sender, calls) = mpsc::channel(QUEUE_PER_DEVICE);
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.next_generation += 1;
        let generation = registry.next_generation;
        registry
            .devices
            .insert(device_id.to_owned(), Registration { generation, sender });
        drop(registry);
        self.connected.notify_waiters();
        MethodSubscription {
            device_id: device_id.to_owned(),
            generation,
            calls,
            registry: Arc::clone(&self.registry),
        }
    }

    /// Whether a device is subscribed to direct methods now.
    pub fn is_subscribed(&self, device_id: &str) -> bool {
        self.sender(device_id).is_some()
    }

    fn sender(&self, device_id: &str) -> Option<mpsc::Sender<MethodCall>> {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry
            .devices
            .get(device_id)
            .map(|r| r.sender.clone())
            .filter(|sender| !sender.is_closed())
    }

    /// Invokes a method and waits for the device's answer.
    pub async fn invoke(
        &self,
        device_id: &str,
        name: &str,
        payload: Value,
        timeouts: MethodTimeouts,
    ) -> Result<MethodResponse, HubError> {
        let sender = self.wait_for_device(device_id, timeouts.connect).await?;
        let (reply, answer) = oneshot::channel();
        let call = MethodCall {
            name: name.to_owned(),
            payload,
            reply,
        };
        let timed_out = || HubError::GatewayTimeout {
            device_id: device_id.to_owned(),
            method: name.to_owned(),
        };
        let deadline = Instant::now() + timeouts.response;
        tokio::time::timeout_at(deadline, sender.send(call))
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| not_online(device_id))?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(response)) => Ok(response),
            // The session ended before the device answered.
            Ok(Err(_)) => Err(not_online(device_id)),
            Err(_) => Err(timed_out()),
        }
    }

    async fn wait_for_device(
        &self,
        device_id: &str,
        connect_timeout: Duration,
    ) -> Result<mpsc::Sender<MethodCall>, HubError> {
        let deadline = Instant::now() + connect_timeout;
        loop {
            let connected = self.connected.notified();
            if let Some(sender) = self.sender(device_id) {
                return Ok(sender);
            }
            if tokio::time::timeout_at(deadline, connected).await.is_err() {
                return Err(not_online(device_id));
            }
        }
    }
}

fn not_online(device_id: &str) -> HubError {
    HubError::DeviceNotOnline {
        device_id: device_id.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const QUICK: MethodTimeouts = MethodTimeouts {
        connect: Duration::ZERO,
        response: Duration::from_millis(200),
    };

    /// A device session stand-in that answers every call with `status`.
    fn answer_calls(mut subscription: MethodSubscription, status: i64) {
        tokio::spawn(async move {
            while let Some(call) = subscription.calls.recv().await {
                let payload = json!({"echo": call.payload, "method": call.name});
                let _ = call.reply.send(MethodResponse { status, payload });
            }
        });
    }

    #[tokio::test]
    async fn a_subscribed_device_answers() {
        let dispatcher = MethodDispatcher::default();
        answer_calls(dispatcher.subscribe("d1"), 200);
        let response = dispatcher
            .invoke("d1", "reboot", json!({"delay": 1}), QUICK)
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            response.payload,
            json!({"echo": {"delay": 1}, "method": "reboot"})
        );
    }

    #[tokio::test]
    async fn an_absent_device_is_not_online() {
        let dispatcher = MethodDispatcher::default();
        let error = dispatcher
            .invoke("d1", "reboot", Value::Null, QUICK)
            .await
            .unwrap_err();
        assert_eq!(error.error_code(), 404103);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_device_times_out_after_the_response_timeout() {
        let dispatcher = MethodDispatcher::default();
        let _subscription = dispatcher.subscribe("d1");
        let started = Instant::now();
        let error = dispatcher
            .invoke("d1", "reboot", Value::Null, QUICK)
            .await
            .unwrap_err();
        assert_eq!(error.error_code(), 504101);
        assert_eq!(started.elapsed(), QUICK.response);
    }

    #[tokio::test(start_paused = true)]
    async fn the_connect_timeout_waits_for_the_device() {
        let dispatcher = MethodDispatcher::default();
        let later = dispatcher.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            answer_calls(later.subscribe("d1"), 201);
        });
        let timeouts = MethodTimeouts {
            connect: Duration::from_secs(5),
            ..QUICK
        };
        let started = Instant::now();
        let response = dispatcher
            .invoke("d1", "m", Value::Null, timeouts)
            .await
            .unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        // A device that does not come within the connect timeout is not online.
        let started = Instant::now();
        let error = dispatcher
            .invoke("d2", "m", Value::Null, timeouts)
            .await
            .unwrap_err();
        assert_eq!(error.error_code(), 404103);
        assert_eq!(started.elapsed(), timeouts.connect);
    }

    #[tokio::test]
    async fn takeover_keeps_the_new_session_and_unsubscribes_on_drop() {
        let dispatcher = MethodDispatcher::default();
        let old = dispatcher.subscribe("d1");
        answer_calls(dispatcher.subscribe("d1"), 202);
        drop(old);
        assert!(dispatcher.is_subscribed("d1"));
        let response = dispatcher
            .invoke("d1", "m", Value::Null, QUICK)
            .await
            .unwrap();
        assert_eq!(response.status, 202);
        let only = dispatcher.subscribe("d2");
        drop(only);
        assert!(!dispatcher.is_subscribed("d2"));
    }
}
