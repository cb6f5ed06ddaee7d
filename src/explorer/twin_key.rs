//! How the explorer names the twin it opens: a device's twin by its device id, a
//! module's by `{deviceId}/{moduleId}`. IoT Hub allows no `/` in either id, so the key
//! is never ambiguous. The open twin, its edit and drafts, method calls and simulated
//! devices are all known by this key; the worker sends a module key's reads, saves,
//! method calls and simulations to the module APIs.

use serde_json::Value;

use crate::service::DeviceTwin;

/// The key of module `module_id` of `device_id`.
pub fn module_key(device_id: &str, module_id: &str) -> String {
    format!("{device_id}/{module_id}")
}

/// The device id and, for a module's key, the module id.
pub fn split(key: &str) -> (&str, Option<&str>) {
    match key.split_once('/') {
        Some((device_id, module_id)) => (device_id, Some(module_id)),
        None => (key, None),
    }
}

/// The key of a twin as the service API returns it.
pub fn of_twin(twin: &DeviceTwin) -> String {
    match &twin.module_id {
        Some(module_id) => module_key(&twin.device_id, module_id),
        None => twin.device_id.clone(),
    }
}

/// The key of a twin document (`deviceId`, and `moduleId` for a module's twin).
pub fn of_document(twin: &Value) -> String {
    let field = |name: &str| twin.get(name).and_then(Value::as_str);
    let device_id = field("deviceId").unwrap_or_default();
    match field("moduleId") {
        Some(module_id) => module_key(device_id, module_id),
        None => device_id.to_owned(),
    }
}

/// How a key reads in messages: `device d1` or `module m1 of d1`.
pub fn describe(key: &str) -> String {
    match split(key) {
        (device_id, Some(module_id)) => format!("module {module_id} of {device_id}"),
        (device_id, None) => device_id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_name_devices_and_modules_apart() {
        assert_eq!(split("d1"), ("d1", None));
        assert_eq!(
            split(&module_key("d1", "$edgeAgent")),
            ("d1", Some("$edgeAgent"))
        );
        assert_eq!(
            of_document(&json!({"deviceId": "d1", "moduleId": "m1"})),
            "d1/m1"
        );
        assert_eq!(of_document(&json!({"deviceId": "d1"})), "d1");
        let twin = DeviceTwin {
            device_id: "d1".into(),
            module_id: Some("m1".into()),
            ..DeviceTwin::default()
        };
        assert_eq!(of_twin(&twin), "d1/m1");
        assert_eq!(describe("d1/m1"), "module m1 of d1");
    }
}
