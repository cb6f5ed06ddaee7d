//! Direct-method calls made from the explorer, kept per device (most recent first) so
//! the user can compare answers and repeat a call.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

/// Calls kept per device.
pub const CALLS_PER_DEVICE: usize = 20;

/// How a call stands.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodCallState {
    /// Waiting for the device.
    Pending,
    /// The device answered.
    Answered {
        /// The status the device chose.
        status: i64,
        /// The payload it answered.
        payload: Value,
        /// Round-trip time seen by the explorer.
        latency: Duration,
    },
    /// The call failed (device offline, timeout...), and why.
    Failed(String),
}

/// One call.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// Identifies the call's reply.
    pub call_id: u64,
    /// The method name.
    pub method: String,
    /// The payload sent.
    pub payload: Value,
    /// The response timeout asked for.
    pub response_timeout: Duration,
    /// Local time it was made, `HH:MM:SS`.
    pub time: String,
    /// How it stands.
    pub state: MethodCallState,
}

/// Every device's recent calls.
#[derive(Debug, Clone, Default)]
pub struct MethodCalls {
    by_device: HashMap<String, VecDeque<MethodCall>>,
}

impl MethodCalls {
    /// Records a call just sent.
    pub fn started(&mut self, device_id: &str, call: MethodCall) {
        let calls = self.by_device.entry(device_id.to_owned()).or_default();
        calls.push_front(call);
        calls.truncate(CALLS_PER_DEVICE);
    }

    /// Records how call `call_id` ended (ignored if it was already dropped).
    pub fn finished(&mut self, device_id: &str, call_id: u64, state: MethodCallState) {
        if let Some(call) = self
            .by_device
            .get_mut(device_id)
            .and_then(|calls| calls.iter_mut().find(|call| call.call_id == call_id))
        {
            call.state = state;
        }
    }

    /// The most recent call of `method` to a device.
    pub fn latest(&self, device_id: &str, method: &str) -> Option<&MethodCall> {
        self.for_device(device_id)
            .find(|call| call.method == method)
    }

    /// A device's calls, most recent first.
    pub fn for_device(&self, device_id: &str) -> impl Iterator<Item = &MethodCall> {
        self.by_device.get(device_id).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(call_id: u64) -> MethodCall {
        MethodCall {
            call_id,
            method: "reboot".into(),
            payload: json!({}),
            response_timeout: Duration::from_secs(30),
            time: "10:00:00".into(),
            state: MethodCallState::Pending,
        }
    }

    #[test]
    fn calls_are_kept_newest_first_bounded_and_updated() {
        let mut calls = MethodCalls::default();
        for id in 0..(CALLS_PER_DEVICE as u64 + 5) {
            calls.started("d1", call(id));
        }
        let ids: Vec<u64> = calls.for_device("d1").map(|c| c.call_id).collect();
        assert_eq!(ids.len(), CALLS_PER_DEVICE);
        assert_eq!(ids[0], CALLS_PER_DEVICE as u64 + 4);
        let latest = ids[0];
        calls.finished("d1", latest, MethodCallState::Failed("offline".into()));
        calls.finished("d1", 0, MethodCallState::Failed("dropped".into()));
        assert_eq!(
            calls.for_device("d1").next().map(|c| &c.state),
            Some(&MethodCallState::Failed("offline".into()))
        );
        assert_eq!(calls.for_device("d2").count(), 0);
        assert_eq!(
            calls.latest("d1", "reboot").map(|c| c.call_id),
            Some(latest)
        );
        assert!(calls.latest("d1", "other").is_none());
    }
}
