//! Module identities and module twins in the registry. A module is a record of its own
//! (identity and twin, packed like a device's) under the key `{deviceId}/{moduleId}`,
//! in a map beside the devices' and in the same table of the store file: a device id
//! never holds a `/`, so the key is unambiguous and a device's modules sort together.
//! A module exists only while its device does.

use std::ops::Bound;
use std::sync::{Mutex, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::record::DeviceRecord;
use super::{IfMatch, PendingCommit, Registry, Store, TwinWrite, lock, not_found, put_change};
use crate::hub::error::HubError;
use crate::hub::module_identity::ModuleIdentity;
use crate::twin::{AuthenticationType, DesiredChange, Twin};

/// The registry key of a module.
pub(super) fn module_key(device_id: &str, module_id: &str) -> String {
    format!("{device_id}/{module_id}")
}

/// The key a connected client (a device, or a module of one) is known by in the
/// registry, the device sessions and the method dispatcher: the device id, or
/// `{deviceId}/{moduleId}` for a module.
pub fn client_key(device_id: &str, module_id: Option<&str>) -> String {
    match module_id {
        Some(module_id) => module_key(device_id, module_id),
        None => device_id.to_owned(),
    }
}

/// Whether a registry key names a module.
pub(super) fn is_module_key(key: &str) -> bool {
    key.contains('/')
}

/// The device id and, for a module's key, the module id.
pub(super) fn split_key(key: &str) -> (&str, Option<&str>) {
    match key.split_once('/') {
        Some((device_id, module_id)) => (device_id, Some(module_id)),
        None => (key, None),
    }
}

/// The keys of `device_id`'s modules, in module-id order.
pub(super) fn keys_of_device(modules: &Registry, device_id: &str) -> Vec<String> {
    let prefix = format!("{device_id}/");
    modules
        .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
        .map(|(key, _)| key)
        .take_while(|key| key.starts_with(&prefix))
        .map(|key| key.to_string())
        .collect()
}

fn module_not_found(device_id: &str, module_id: &str) -> HubError {
    HubError::ModuleNotFound {
        device_id: device_id.to_owned(),
        module_id: module_id.to_owned(),
    }
}

/// Copies the identity fields a module twin repeats.
fn mirror_module_identity(twin: &mut Twin, identity: &ModuleIdentity) {
    twin.other_fields
        .insert("moduleId".into(), Value::from(identity.module_id.clone()));
    twin.authentication_type = AuthenticationType::from_name(&identity.authentication.kind)
        .unwrap_or(AuthenticationType::Sas);
    let thumbprints = &identity.authentication.x509_thumbprint;
    twin.x509_thumbprint.primary_thumbprint = thumbprints.primary_thumbprint.clone();
    twin.x509_thumbprint.secondary_thumbprint = thumbprints.secondary_thumbprint.clone();
}

impl Store {
    pub(super) fn read_modules(&self) -> RwLockReadGuard<'_, Registry> {
        // Records are inserted and removed whole, so a panic leaves nothing half-done.
        self.inner.modules.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn write_modules(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner
            .modules
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Fails with DeviceNotFound unless `device_id` is registered.
    fn require_device(&self, device_id: &str) -> Result<(), HubError> {
        if self.read().contains_key(device_id) {
            Ok(())
        } else {
            Err(not_found(device_id))
        }
    }

    /// Runs `read` on the record of a connected client ([`client_key`]), under its lock.
    pub(super) fn with_client_record<T>(
        &self,
        client: &str,
        read: impl FnOnce(&mut DeviceRecord) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        match split_key(client) {
            (device_id, Some(module_id)) => self.with_module(device_id, module_id, read),
            (device_id, None) => self.with_record(device_id, read),
        }
    }

    /// Runs `read` on one module's record, under its lock.
    fn with_module<T>(
        &self,
        device_id: &str,
        module_id: &str,
        read: impl FnOnce(&mut DeviceRecord) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        self.require_device(device_id)?;
        let modules = self.read_modules();
        let record = modules
            .get(module_key(device_id, module_id).as_str())
            .ok_or_else(|| module_not_found(device_id, module_id))?;
        read(&mut lock(record))
    }

    /// The identity of a module.
    pub fn module(&self, device_id: &str, module_id: &str) -> Result<ModuleIdentity, HubError> {
        self.with_module(device_id, module_id, |record| {
            record.module_identity(self.names())
        })
    }

    /// The identities of a device's modules, in module-id order.
    pub fn modules(&self, device_id: &str) -> Result<Vec<ModuleIdentity>, HubError> {
        self.require_device(device_id)?;
        let modules = self.read_modules();
        keys_of_device(&modules, device_id)
            .iter()
            .filter_map(|key| modules.get(key.as_str()))
            .map(|record| lock(record).module_identity(self.names()))
            .collect()
    }

    /// The twin of a module in its service JSON shape.
    pub fn module_twin(&self, device_id: &str, module_id: &str) -> Result<Value, HubError> {
        self.with_module(device_id, module_id, |record| {
            Ok(record.twin.to_value(self.names()))
        })
    }

    /// `PUT /devices/{id}/modules/{mid}`: creates the module when it is new (no
    /// `If-Match`), updates it when `If-Match` is given, and refuses a create over an
    /// existing module. The device must exist.
    pub fn put_module(
        &self,
        device_id: &str,
        module_id: &str,
        body: &Value,
        if_match: Option<&IfMatch>,
        now: DateTime<Utc>,
    ) -> Result<(ModuleIdentity, PendingCommit), HubError> {
        let names = self.names();
        // The device stays registered while its module is written: a device delete
        // takes this lock too.
        let devices = self.read();
        if !devices.contains_key(device_id) {
            return Err(not_found(device_id));
        }
        let key = module_key(device_id, module_id);
        let mut modules = self.write_modules();
        let existing = modules
            .get_mut(key.as_str())
            .map(|record| record.get_mut().unwrap_or_else(|e| e.into_inner()) as &DeviceRecord);
        let (identity, mut twin) = match (existing, if_match) {
            (Some(_), None) => {
                return Err(HubError::ModuleAlreadyExistsOnDevice {
                    device_id: device_id.to_owned(),
                    module_id: module_id.to_owned(),
                });
            }
            (None, Some(_)) => return Err(module_not_found(device_id, module_id)),
            (None, None) => (
                ModuleIdentity::create(device_id, module_id, body)?,
                Twin::new(device_id, now),
            ),
            (Some(existing), Some(condition)) => {
                let current = existing.module_identity(names)?;
                IfMatch::check(Some(condition), &current.etag)?;
                (current.update(body)?, existing.twin_model(names)?)
            }
        };
        mirror_module_identity(&mut twin, &identity);
        let record = DeviceRecord::pack(&identity, &twin.to_json(), names)?;
        let pending = self.inner.committer.submit(put_change(&key, &record), None);
        modules.insert(key.into_boxed_str(), Mutex::new(record));
        drop(devices);
        Ok((identity, pending))
    }

    /// `DELETE /devices/{id}/modules/{mid}`.
    pub fn delete_module(
        &self,
        device_id: &str,
        module_id: &str,
        if_match: Option<&IfMatch>,
    ) -> Result<PendingCommit, HubError> {
        self.require_device(device_id)?;
        let key = module_key(device_id, module_id);
        let mut modules = self.write_modules();
        let record = modules
            .get_mut(key.as_str())
            .ok_or_else(|| module_not_found(device_id, module_id))?;
        let identity = record
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .module_identity(self.names())?;
        IfMatch::check(if_match, &identity.etag)?;
        modules.remove(key.as_str());
        Ok(self
            .inner
            .committer
            .submit(super::commit::Change::Delete { device_id: key }, None))
    }

    /// `PATCH` or `PUT /twins/{id}/modules/{mid}`: applies a service write to a module
    /// twin's tags and desired properties, as for a device twin.
    pub fn write_module_twin(
        &self,
        device_id: &str,
        module_id: &str,
        body: &Value,
        mode: TwinWrite,
        if_match: Option<&IfMatch>,
        now: DateTime<Utc>,
    ) -> Result<(Value, Option<DesiredChange>, PendingCommit), HubError> {
        let key = module_key(device_id, module_id);
        self.with_module(device_id, module_id, |record| {
            self.service_write(record, &key, body, mode, if_match, now)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).unwrap();
        (dir, store)
    }

    async fn add_device(store: &Store, device_id: &str) {
        let (_, pending) = store
            .put_device(device_id, &json!({}), None, Utc::now())
            .unwrap();
        pending.durable().await.unwrap();
    }

    async fn add_module(store: &Store, device_id: &str, module_id: &str) -> ModuleIdentity {
        let (module, pending) = store
            .put_module(device_id, module_id, &json!({}), None, Utc::now())
            .unwrap();
        pending.durable().await.unwrap();
        module
    }

    #[test]
    fn keys_split_back_into_device_and_module() {
        let key = module_key("d1", "m1");
        assert!(is_module_key(&key));
        assert_eq!(split_key(&key), ("d1", Some("m1")));
        assert_eq!(split_key("d1"), ("d1", None));
        assert!(!is_module_key("d1"));
    }

    #[tokio::test]
    async fn modules_belong_to_a_registered_device() {
        let (_dir, store) = store();
        let missing = store.put_module("nobody", "m1", &json!({}), None, Utc::now());
        assert_eq!(missing.unwrap_err().error_code(), 404001);
        add_device(&store, "d1").await;
        assert_eq!(store.modules("d1").unwrap(), []);
        assert_eq!(store.module("d1", "m1").unwrap_err().error_code(), 404010);
        let module = add_module(&store, "d1", "m1").await;
        assert_eq!(store.module("d1", "m1").unwrap(), module);
        let again = store.put_module("d1", "m1", &json!({}), None, Utc::now());
        assert_eq!(again.unwrap_err().error_code(), 409301);
        assert_eq!(store.device_count(), 1, "a module is not a device");
    }

    #[tokio::test]
    async fn a_module_twin_is_its_own_and_names_its_module() {
        let (_dir, store) = store();
        add_device(&store, "d1").await;
        add_module(&store, "d1", "m1").await;
        let twin = store.module_twin("d1", "m1").unwrap();
        assert_eq!(twin["deviceId"], "d1");
        assert_eq!(twin["moduleId"], "m1");
        let patch = json!({"properties": {"desired": {"speed": 3}}});
        let (written, change, pending) = store
            .write_module_twin("d1", "m1", &patch, TwinWrite::Patch, None, Utc::now())
            .unwrap();
        pending.durable().await.unwrap();
        assert_eq!(written["properties"]["desired"]["speed"], 3);
        assert!(change.is_some(), "desired changed");
        let device_twin = store.twin("d1").unwrap();
        assert!(device_twin["properties"]["desired"].get("speed").is_none());
    }

    #[tokio::test]
    async fn stale_etags_are_refused_and_deleting_the_device_deletes_its_modules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        {
            let store = Store::open(&path).unwrap();
            add_device(&store, "d1").await;
            add_device(&store, "d2").await;
            let module = add_module(&store, "d1", "m1").await;
            add_module(&store, "d1", "m2").await;
            add_module(&store, "d2", "m1").await;
            let stale = IfMatch::Etag("stale".into());
            let refused = store.delete_module("d1", "m1", Some(&stale));
            assert_eq!(refused.unwrap_err().error_code(), 412001);
            let current = IfMatch::Etag(module.etag.clone());
            let (updated, pending) = store
                .put_module(
                    "d1",
                    "m1",
                    &json!({"managedBy": "me"}),
                    Some(&current),
                    Utc::now(),
                )
                .unwrap();
            pending.durable().await.unwrap();
            assert_ne!(updated.etag, module.etag);
            let (pending, module_keys) = store.delete_device("d1", None).unwrap();
            pending.durable().await.unwrap();
            assert_eq!(module_keys, ["d1/m1", "d1/m2"]);
            assert_eq!(store.module("d1", "m2").unwrap_err().error_code(), 404001);
        }
        // What was deleted stays deleted; the other device's module is read back.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.device_count(), 1);
        let modules = store.modules("d2").unwrap();
        assert_eq!(modules.len(), 1);
        assert_eq!(modules[0].module_id, "m1");
        assert_eq!(store.module_twin("d2", "m1").unwrap()["moduleId"], "m1");
        assert_eq!(
            super::super::db::count_devices(&path),
            Some(1),
            "the store file counts devices, not modules"
        );
    }
}
