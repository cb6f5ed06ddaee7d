//! How a twin is named when device and module twins sit side by side (the explorer's
//! open twin, a snapshot's twins): a device's twin by its device id, a module's by
//! `{deviceId}/{moduleId}`. IoT Hub allows no `/` in either id, so the key is never
//! ambiguous.

use serde_json::Value;

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

/// The key of a twin document (`deviceId`, and `moduleId` for a module's twin); `None`
/// when `deviceId` (or a present `moduleId`) is not a string.
pub fn of_document(twin: &Value) -> Option<String> {
    let device_id = twin.get("deviceId")?.as_str()?;
    match twin.get("moduleId") {
        None | Some(Value::Null) => Some(device_id.to_owned()),
        Some(module_id) => Some(module_key(device_id, module_id.as_str()?)),
    }
}

/// How a key reads in messages: `d1`, or `module m1 of d1`.
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
        let key = |twin: Value| of_document(&twin);
        assert_eq!(
            key(json!({"deviceId": "d1", "moduleId": "m1"})).as_deref(),
            Some("d1/m1")
        );
        assert_eq!(
            key(json!({"deviceId": "d1", "moduleId": null})).as_deref(),
            Some("d1")
        );
        assert_eq!(key(json!({"deviceId": "d1", "moduleId": 5})), None);
        assert_eq!(key(json!({"moduleId": "m1"})), None);
        assert_eq!(describe("d1/m1"), "module m1 of d1");
        assert_eq!(describe("d1"), "d1");
    }
}
