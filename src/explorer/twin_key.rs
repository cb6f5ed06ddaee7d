//! How the explorer names the twin it opens ([`crate::twin::key`]): a device's twin by
//! its device id, a module's by `{deviceId}/{moduleId}`. The open twin, its edit and
//! drafts, method calls and simulated devices are all known by this key; the worker
//! sends a module key's reads, saves, method calls and simulations to the module APIs.

use serde_json::Value;

use crate::service::DeviceTwin;
pub use crate::twin::key::{describe, module_key, split};

/// The key of a twin as the service API returns it.
pub fn of_twin(twin: &DeviceTwin) -> String {
    match &twin.module_id {
        Some(module_id) => module_key(&twin.device_id, module_id),
        None => twin.device_id.clone(),
    }
}

/// The key of a twin document; empty when it names no device.
pub fn of_document(twin: &Value) -> String {
    crate::twin::key::of_document(twin).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_twin_is_known_by_its_device_and_module() {
        let twin = DeviceTwin {
            device_id: "d1".into(),
            module_id: Some("m1".into()),
            ..DeviceTwin::default()
        };
        assert_eq!(of_twin(&twin), "d1/m1");
        assert_eq!(of_document(&twin.to_json()), "d1/m1");
    }
}
