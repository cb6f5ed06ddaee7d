//! The hub's registry: device identities and twins, held in memory for fast reads and
//! queries and written through to SQLite ([`db`]) before any change is acknowledged.
//!
//! Identities and twins are packed documents ([`packed`]): a few hundred bytes a device
//! in memory and on disk, read in place by queries, and loaded at start without parsing.
//!
//! [`Store`] is a cheap-to-clone handle. The registry (which devices exist) takes a
//! shared lock for everything but creating and deleting devices; each device has its own
//! lock, so writes to different devices run in parallel. A write locks its device,
//! computes the new documents with the twin model (a write the model refuses changes
//! nothing), queues them for the committing thread ([`commit`]) and publishes them in
//! memory. The writer acknowledges its client only once the returned [`PendingCommit`]
//! says the change is durable; writes that arrive together share one commit. Changes of
//! one device reach the committer in the order they were made, so desired-property
//! pushes go out once durable, in version order. No lock is ever held across an `.await`.

mod c2d_table;
mod commit;
mod db;
mod job_table;
mod modules;
mod packed;
mod paging;
mod record;
mod reported_write;
mod scan;

pub use c2d_table::StoredCloudMessage;
pub use commit::PendingCommit;
pub use db::count_devices;
pub use job_table::StoredJob;
pub use modules::client_key;
pub use paging::{PageCursor, QueryPage};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::broadcast;

use super::error::HubError;
use super::identity::DeviceIdentity;
use crate::twin::timestamp::parse_optional_timestamp;
use crate::twin::{
    AuthenticationType, ConnectionState, DesiredChange, DeviceStatus, Twin, format_timestamp,
};
use commit::{Change, Committer, DesiredSenders};
use db::Database;
use packed::{Names, NewValue, Packed};
use record::DeviceRecord;

/// Why the store could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error(
        "the hub store {path} failed: {source}; check that the folder is writable and the disk not full"
    )]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A stored document cannot be read back.
    #[error(
        "the hub store {path} holds a damaged record for device '{device_id}': {reason}; \
         restore the file from a backup or start the hub with another --data-dir"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// The device whose record is damaged.
        device_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The table of member names is damaged.
    #[error(
        "the hub store {path} holds a damaged table of names: {reason}; \
         restore the file from a backup or start the hub with another --data-dir"
    )]
    DamagedNames {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<StoreError> for HubError {
    fn from(error: StoreError) -> Self {
        HubError::Server(error.to_string())
    }
}

/// The etag condition of a write, from the `If-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: the resource must exist, any version.
    Any,
    /// The resource must have this etag.
    Etag(String),
}

impl IfMatch {
    /// Reads an `If-Match` value as the SDKs send it: quoted or not, `*` or `"*"`.
    pub fn parse(header: &str) -> Self {
        let value = header.trim();
        let value = value.strip_prefix("W/").unwrap_or(value).trim_matches('"');
        if value == "*" {
            IfMatch::Any
        } else {
            IfMatch::Etag(value.to_owned())
        }
    }

    fn check(condition: Option<&IfMatch>, current: &str) -> Result<(), HubError> {
        match condition {
            Some(IfMatch::Etag(given)) if given != current => Err(HubError::PreconditionFailed {
                given: given.clone(),
                current: current.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

/// How a twin write combines with the current twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwinWrite {
    /// `PATCH /twins/{id}`: merge tags and desired properties.
    Patch,
    /// `PUT /twins/{id}`: replace tags and desired properties.
    Replace,
}

/// Every device by id, each behind its own lock.
type Registry = BTreeMap<Box<str>, Mutex<DeviceRecord>>;

struct Inner {
    devices: RwLock<Registry>,
    /// Every module by `{deviceId}/{moduleId}` (a device id never holds a `/`), each
    /// behind its own lock. Stored in the devices table under that key.
    modules: RwLock<Registry>,
    /// The member names the packed documents use.
    names: Arc<Names>,
    /// Changes queued in the order they were made; first to drop, so that what is
    /// queued is written before the store closes.
    committer: Committer,
    database: Arc<Mutex<Database>>,
    /// Desired-property changes per device, for its connected session; sent by the
    /// committer once durable, in the order the changes were made.
    desired_changes: DesiredSenders,
    path: PathBuf,
}

/// Desired-property changes that may queue for one connected device before it is
/// considered too slow and disconnected (it re-reads its twin on reconnect). The queue's
/// slots are allocated up front for every subscribed device (at 1,024 they cost 64 KB a
/// device), and a session forwards changes as they come, so a device 64 behind has
/// stopped reading.
pub const DESIRED_QUEUE: usize = 64;

/// Devices seeded (or rewritten packed) per transaction: a few megabytes of write-ahead
/// log each.
const SEED_BATCH: usize = 2_000;

/// A handle to the registry; clones share it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Locks one device's record. A panic while holding the lock cannot leave a
/// half-applied change: documents are replaced whole, after they are computed.
fn lock(record: &Mutex<DeviceRecord>) -> MutexGuard<'_, DeviceRecord> {
    record.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// Opens the store file (creating it when missing) and loads every device; a store
    /// written before documents were packed is rewritten packed, with a log line.
    /// Nobody is connected to a hub that just started, so every device starts
    /// disconnected.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut database = Database::open(path)?;
        let names = Arc::new(database.load_names()?);
        let loaded = record::load_all(&database, path, &names)?;
        let to_rewrite: Vec<Change> = loaded
            .iter()
            .filter(|device| device.was_json)
            .map(|device| put_change(&device.device_id, &device.record))
            .collect();
        if !to_rewrite.is_empty() {
            tracing::info!(
                devices = to_rewrite.len(),
                store = %path.display(),
                "rewriting the hub store's devices in the packed format"
            );
            for batch in to_rewrite.chunks(SEED_BATCH) {
                database.apply(&names, batch)?;
            }
        }
        let (module_rows, device_rows): (Vec<_>, Vec<_>) = loaded
            .into_iter()
            .partition(|loaded| modules::is_module_key(&loaded.device_id));
        let registry = |rows: Vec<record::Loaded>| -> Registry {
            rows.into_iter()
                .map(|row| (row.device_id.into_boxed_str(), Mutex::new(row.record)))
                .collect()
        };
        let devices = registry(device_rows);
        let modules = registry(module_rows);
        let database = Arc::new(Mutex::new(database));
        let desired_changes: DesiredSenders = Arc::new(Mutex::new(HashMap::new()));
        Ok(Self {
            inner: Arc::new(Inner {
                devices: RwLock::new(devices),
                modules: RwLock::new(modules),
                committer: Committer::start(
                    Arc::clone(&database),
                    Arc::clone(&names),
                    Arc::clone(&desired_changes),
                ),
                names,
                database,
                desired_changes,
                path: path.to_owned(),
            }),
        })
    }

    /// The database file, for log lines.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn names(&self) -> &Names {
        &self.inner.names
    }

    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        // A panic while holding the lock cannot leave a half-applied change: records
        // are inserted and removed whole.
        self.inner.devices.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner
            .devices
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn database(&self) -> MutexGuard<'_, Database> {
        self.inner
            .database
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `read` on one device's record, under its lock.
    fn with_record<T>(
        &self,
        device_id: &str,
        read: impl FnOnce(&mut DeviceRecord) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let devices = self.read();
        let record = devices.get(device_id).ok_or_else(|| not_found(device_id))?;
        read(&mut lock(record))
    }

    /// A stored setting, such as the owner policy's key.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.database().setting(key)
    }

    /// Stores a setting durably.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.database().set_setting(key, value)
    }

    /// How many devices are registered.
    pub fn device_count(&self) -> usize {
        self.read().len()
    }

    /// The identity of a device.
    pub fn device(&self, device_id: &str) -> Result<DeviceIdentity, HubError> {
        self.with_record(device_id, |record| record.identity(self.names()))
    }

    /// The identities of the first `limit` devices in device-id order.
    pub fn devices(&self, limit: usize) -> Result<Vec<DeviceIdentity>, HubError> {
        let devices = self.read();
        devices
            .values()
            .take(limit)
            .map(|record| lock(record).identity(self.names()))
            .collect()
    }

    /// The twin of a device in its service JSON shape.
    pub fn twin(&self, device_id: &str) -> Result<Value, HubError> {
        self.with_record(device_id, |record| Ok(record.twin.to_value(self.names())))
    }

    /// `PUT /devices/{id}`: creates the device when it is new (no `If-Match`), updates
    /// it when `If-Match` is given, and refuses a create over an existing id.
    pub fn put_device(
        &self,
        device_id: &str,
        body: &Value,
        if_match: Option<&IfMatch>,
        now: DateTime<Utc>,
    ) -> Result<(DeviceIdentity, PendingCommit), HubError> {
        let names = self.names();
        let mut devices = self.write();
        let existing = devices
            .get_mut(device_id)
            .map(|record| record.get_mut().unwrap_or_else(|e| e.into_inner()) as &DeviceRecord);
        let (identity, mut twin) = match (existing, if_match) {
            (Some(_), None) => {
                return Err(HubError::DeviceAlreadyExists {
                    device_id: device_id.to_owned(),
                });
            }
            (None, Some(_)) => return Err(not_found(device_id)),
            (None, None) => (
                DeviceIdentity::create(device_id, body, now)?,
                Twin::new(device_id, now),
            ),
            (Some(existing), Some(condition)) => {
                let current = existing.identity(names)?;
                IfMatch::check(Some(condition), &current.etag)?;
                (current.update(body, now)?, existing.twin_model(names)?)
            }
        };
        mirror_identity(&mut twin, &identity);
        let record = DeviceRecord::pack(&identity, &twin.to_json(), names)?;
        let pending = self
            .inner
            .committer
            .submit(put_change(device_id, &record), None);
        devices.insert(device_id.into(), Mutex::new(record));
        Ok((identity, pending))
    }

    /// `DELETE /devices/{id}`: the device, and with it its modules. Returns the commit
    /// to wait for and the [`client_key`]s of the modules deleted with the device.
    pub fn delete_device(
        &self,
        device_id: &str,
        if_match: Option<&IfMatch>,
    ) -> Result<(PendingCommit, Vec<String>), HubError> {
        let mut devices = self.write();
        let mut modules = self.write_modules();
        let record = devices
            .get_mut(device_id)
            .ok_or_else(|| not_found(device_id))?;
        let identity = record
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .identity(self.names())?;
        IfMatch::check(if_match, &identity.etag)?;
        let module_keys = modules::keys_of_device(&modules, device_id);
        for key in &module_keys {
            modules.remove(key.as_str());
            // Committed in order before the device's own delete, which is awaited.
            drop(self.inner.committer.submit(
                Change::Delete {
                    device_id: key.clone(),
                },
                None,
            ));
        }
        let pending = self.inner.committer.submit(
            Change::Delete {
                device_id: device_id.to_owned(),
            },
            None,
        );
        devices.remove(device_id);
        Ok((pending, module_keys))
    }

    /// `PATCH` or `PUT /twins/{id}`: applies a service write to tags and desired
    /// properties. Returns the new twin and the desired-property change that is pushed
    /// to the device once the write is durable, if desired properties changed.
    pub fn write_twin(
        &self,
        device_id: &str,
        body: &Value,
        mode: TwinWrite,
        if_match: Option<&IfMatch>,
        now: DateTime<Utc>,
    ) -> Result<(Value, Option<DesiredChange>, PendingCommit), HubError> {
        self.with_record(device_id, |record| {
            self.service_write(record, device_id, body, mode, if_match, now)
        })
    }

    /// A service write to the twin of the record known by `key` (a device id, or a
    /// module's [`client_key`]): the new twin, its desired change (pushed to the
    /// client known by `key` once durable) and the commit to wait for.
    fn service_write(
        &self,
        record: &mut DeviceRecord,
        key: &str,
        body: &Value,
        mode: TwinWrite,
        if_match: Option<&IfMatch>,
        now: DateTime<Utc>,
    ) -> Result<(Value, Option<DesiredChange>, PendingCommit), HubError> {
        let mut twin = record.twin_model(self.names())?;
        IfMatch::check(if_match, &twin.etag)?;
        let change = match mode {
            TwinWrite::Patch => twin.apply_service_patch(body, now)?,
            TwinWrite::Replace => twin.apply_service_replace(body, now)?,
        };
        let served = twin.to_json();
        let push = change.clone().map(|change| (key.to_owned(), change));
        let packed = Packed::encode(&served, self.names());
        let pending = self.replace_twin(record, key, packed, push);
        Ok((served, change, pending))
    }

    /// Records a device (or a module, by its [`client_key`]) connecting or
    /// disconnecting: connection state, its time, and the last activity time, in both
    /// the identity and the twin; and the IoT Plug and Play model it announced in the
    /// twin's `modelId`. Like on IoT Hub, the model id stays after the device goes away
    /// and a connection that announces none leaves it as it was.
    pub fn set_connection_state(
        &self,
        device_id: &str,
        connected: bool,
        model_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        let model_id = model_id.map(Value::from);
        let state = if connected {
            ConnectionState::Connected
        } else {
            ConnectionState::Disconnected
        };
        let state = Value::from(state.as_str());
        let now = Value::from(format_timestamp(now));
        self.with_client_record(device_id, |record| {
            let names = self.names();
            let identity = record.identity.with_replaced(
                names,
                &[
                    (&["connectionState"], NewValue::Json(&state)),
                    (&["connectionStateUpdatedTime"], NewValue::Json(&now)),
                    (&["lastActivityTime"], NewValue::Json(&now)),
                ],
            );
            let mut twin_fields = vec![
                (&["connectionState"][..], NewValue::Json(&state)),
                (&["lastActivityTime"][..], NewValue::Json(&now)),
            ];
            if let Some(model_id) = &model_id {
                twin_fields.push((&["modelId"][..], NewValue::Json(model_id)));
            }
            let twin = record.twin.with_replaced(names, &twin_fields);
            let (Some(identity), Some(twin)) = (identity, twin) else {
                return Err(HubError::Server(format!(
                    "the stored device '{device_id}' has no connection state"
                )));
            };
            *record = DeviceRecord { identity, twin };
            // A hub that restarts has every device disconnected, so nobody waits for
            // this change to be durable; it is written in order with the others all
            // the same.
            drop(
                self.inner
                    .committer
                    .submit(put_change(device_id, record), None),
            );
            Ok(())
        })
    }

    /// Records how many cloud-to-device messages are queued for a device
    /// (`cloudToDeviceMessageCount`, in the identity and the twin). Like the connection
    /// state it is not waited on: the queue it counts is durable on its own, and the hub
    /// sets every count again when it starts.
    pub fn set_cloud_to_device_count(&self, device_id: &str, count: usize) -> Result<(), HubError> {
        let count = Value::from(count);
        self.with_client_record(device_id, |record| {
            let names = self.names();
            let field = [(&["cloudToDeviceMessageCount"][..], NewValue::Json(&count))];
            let identity = record.identity.with_replaced(names, &field);
            let twin = record.twin.with_replaced(names, &field);
            let (Some(identity), Some(twin)) = (identity, twin) else {
                return Err(HubError::Server(format!(
                    "the stored device '{device_id}' has no cloudToDeviceMessageCount"
                )));
            };
            *record = DeviceRecord { identity, twin };
            drop(
                self.inner
                    .committer
                    .submit(put_change(device_id, record), None),
            );
            Ok(())
        })
    }

    /// The twin as a device (or a module, by its [`client_key`]) reads it (MQTT twin
    /// GET): desired and reported properties with their `$version`, without `$metadata`
    /// and tags.
    pub fn device_twin(&self, device_id: &str) -> Result<Value, HubError> {
        self.with_client_record(device_id, |record| {
            let properties = record.twin.root(self.names()).member("properties", false);
            let section = |name: &str| {
                let mut section = properties
                    .and_then(|properties| properties.member(name, false))
                    .map_or(Value::Null, |section| section.to_value());
                if let Some(fields) = section.as_object_mut() {
                    fields.shift_remove("$metadata");
                }
                section
            };
            Ok(serde_json::json!({"desired": section("desired"), "reported": section("reported")}))
        })
    }

    /// Subscribes to a device's desired-property changes, in version order.
    pub fn subscribe_desired(&self, device_id: &str) -> broadcast::Receiver<DesiredChange> {
        let mut senders = self
            .inner
            .desired_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        senders
            .entry(device_id.to_owned())
            .or_insert_with(|| broadcast::channel(DESIRED_QUEUE).0)
            .subscribe()
    }

    /// Adds `count` new devices (demo seeding), device `i` made by `make(i)` (its identity
    /// and its twin in the service JSON shape); ids that
    /// exist already are left alone. Devices are made and packed on every core, in
    /// batches of [`SEED_BATCH`] committed in one transaction each, so that neither the
    /// write-ahead log nor the memory used on the way grows with the count. Returns how
    /// many were added. On an error, the batches already committed stay.
    pub fn seed_devices(
        &self,
        count: usize,
        make: impl Fn(usize) -> Result<(DeviceIdentity, Value), HubError> + Sync,
    ) -> Result<usize, HubError> {
        let names = self.names();
        let pack = |index| {
            let (identity, twin) = make(index)?;
            let record = DeviceRecord::pack(&identity, &twin, names)?;
            Ok((identity.device_id, record))
        };
        let batches = count.div_ceil(SEED_BATCH);
        let makers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut devices = self.write();
        let mut added = 0;
        std::thread::scope(|scope| {
            // Maker `m` makes batches m, m + makers, ...; each hands its batches over in
            // order, and they are committed in order, while the makers work ahead.
            let queues: Vec<_> = (0..makers)
                .map(|maker| {
                    let (batch_out, batch_in) = std::sync::mpsc::sync_channel(1);
                    let pack = &pack;
                    scope.spawn(move || {
                        for batch in (maker..batches).step_by(makers) {
                            let start = batch * SEED_BATCH;
                            let records: Result<Vec<(String, DeviceRecord)>, HubError> =
                                (start..count.min(start + SEED_BATCH)).map(pack).collect();
                            let failed = records.is_err();
                            if batch_out.send(records).is_err() || failed {
                                return;
                            }
                        }
                    });
                    batch_in
                })
                .collect();
            for batch in 0..batches {
                let records = queues
                    .get(batch % makers)
                    .and_then(|queue| queue.recv().ok())
                    .ok_or_else(|| HubError::Server("a demo device maker stopped".into()))??;
                let records: Vec<_> = records
                    .into_iter()
                    .filter(|(id, _)| !devices.contains_key(id.as_str()))
                    .collect();
                let rows: Vec<Change> = records
                    .iter()
                    .map(|(id, record)| put_change(id, record))
                    .collect();
                self.database().apply(names, &rows)?;
                added += records.len();
                devices.extend(
                    records
                        .into_iter()
                        .map(|(id, record)| (id.into_boxed_str(), Mutex::new(record))),
                );
            }
            Ok(added)
        })
    }

    /// Replaces a device's twin (its identity unchanged): queues the packed twin for the
    /// database (with the desired push to send once it is durable), then publishes it
    /// in memory. Called with the device's lock held, so its changes reach the database
    /// in the order they were made.
    fn replace_twin(
        &self,
        record: &mut DeviceRecord,
        device_id: &str,
        twin: Packed,
        push: Option<(String, DesiredChange)>,
    ) -> PendingCommit {
        let change = Change::PutTwin {
            device_id: device_id.to_owned(),
            twin: twin.bytes().to_vec(),
        };
        let pending = self.inner.committer.submit(change, push);
        record.twin = twin;
        pending
    }
}

/// The change that stores a whole record.
fn put_change(device_id: &str, record: &DeviceRecord) -> Change {
    Change::Put {
        device_id: device_id.to_owned(),
        identity: record.identity.bytes().to_vec(),
        twin: record.twin.bytes().to_vec(),
    }
}

fn not_found(device_id: &str) -> HubError {
    HubError::DeviceNotFound {
        device_id: device_id.to_owned(),
    }
}

/// Copies the identity fields a twin repeats (status, authentication, capabilities,
/// scopes).
fn mirror_identity(twin: &mut Twin, identity: &DeviceIdentity) {
    twin.status = DeviceStatus::from_name(&identity.status).unwrap_or(DeviceStatus::Enabled);
    twin.status_reason = identity.status_reason.clone();
    twin.status_update_time = parse_optional_timestamp(&identity.status_updated_time).flatten();
    twin.authentication_type = AuthenticationType::from_name(&identity.authentication.kind)
        .unwrap_or(AuthenticationType::Sas);
    let thumbprints = &identity.authentication.x509_thumbprint;
    twin.x509_thumbprint.primary_thumbprint = thumbprints.primary_thumbprint.clone();
    twin.x509_thumbprint.secondary_thumbprint = thumbprints.secondary_thumbprint.clone();
    twin.capabilities.iot_edge = identity.capabilities.iot_edge;
    // IoT Edge hierarchies: queries find a parent's children by `parentScopes`.
    match &identity.device_scope {
        Some(scope) => {
            twin.other_fields
                .insert("deviceScope".into(), scope.clone().into());
        }
        None => {
            twin.other_fields.remove("deviceScope");
        }
    }
    if identity.parent_scopes.is_empty() {
        twin.other_fields.remove("parentScopes");
    } else {
        twin.other_fields
            .insert("parentScopes".into(), identity.parent_scopes.clone().into());
    }
}

#[cfg(test)]
mod golden_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn writes_survive_reopening_and_devices_come_back_disconnected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        {
            let store = Store::open(&path).unwrap();
            let (_, created) = store.put_device("d1", &json!({}), None, now()).unwrap();
            created.wait().unwrap();
            let body = json!({"tags": {"a": 1}});
            let (_, _, written) = store
                .write_twin("d1", &body, TwinWrite::Patch, None, now())
                .unwrap();
            written.wait().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let twin = store.twin("d1").unwrap();
        assert_eq!(twin["tags"]["a"], 1);
        assert_eq!(twin["connectionState"], "Disconnected");
        assert_eq!(store.device("d1").unwrap().connection_state, "Disconnected");
    }

    #[test]
    fn a_refused_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).unwrap();
        drop(store.put_device("d1", &json!({}), None, now()).unwrap());
        let before = store.twin("d1").unwrap();
        let stale = IfMatch::Etag("stale".into());
        let error = store
            .write_twin(
                "d1",
                &json!({"tags": {"a": 1}}),
                TwinWrite::Patch,
                Some(&stale),
                now(),
            )
            .unwrap_err();
        assert_eq!(error.error_code(), 412001);
        let bad = json!({"tags": {"bad key": 1}});
        assert!(
            store
                .write_twin("d1", &bad, TwinWrite::Patch, None, now())
                .is_err()
        );
        assert_eq!(store.twin("d1").unwrap(), before);
    }

    #[test]
    fn a_damaged_record_names_the_device() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let broken = Change::Put {
            device_id: "broken".into(),
            identity: vec![0],
            twin: vec![10, 5, 1],
        };
        let mut database = Database::open(&path).unwrap();
        let names = database.load_names().unwrap();
        database.apply(&names, [&broken]).unwrap();
        let Err(error) = Store::open(&path) else {
            panic!("opened a damaged store")
        };
        let message = error.to_string();
        assert!(message.contains("'broken'"), "{message}");
        assert!(message.contains("hub.db"), "names the file: {message}");
    }

    #[test]
    fn a_damaged_name_table_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let connection = rusqlite::Connection::open(&path).unwrap();
        drop(Database::open(&path).unwrap());
        connection
            .execute("INSERT INTO names (id, name) VALUES (5, 'gap')", [])
            .unwrap();
        let Err(error) = Store::open(&path) else {
            panic!("opened a damaged store")
        };
        let message = error.to_string();
        assert!(
            message.contains("hub.db") && message.contains("names"),
            "{message}"
        );
    }

    /// A store written before twins were packed (JSON text rows) opens: every device
    /// reads back the same, and its rows are rewritten packed.
    #[test]
    fn a_store_of_json_rows_opens_and_is_rewritten_packed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let (identity, twin) = {
            let scratch = Store::open(&dir.path().join("scratch.db")).unwrap();
            let (identity, created) = scratch.put_device("d1", &json!({}), None, now()).unwrap();
            created.wait().unwrap();
            let body = json!({"tags": {"a": 1}, "properties": {"desired": {"x": "y"}}});
            let (twin, _, written) = scratch
                .write_twin("d1", &body, TwinWrite::Patch, None, now())
                .unwrap();
            written.wait().unwrap();
            (identity, twin)
        };
        {
            // The schema and rows as the hub wrote them before.
            let old = rusqlite::Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE devices (device_id TEXT PRIMARY KEY NOT NULL, \
                 identity TEXT NOT NULL, twin TEXT NOT NULL);
                 CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);",
            )
            .unwrap();
            old.execute(
                "INSERT INTO devices VALUES ('d1', ?1, ?2)",
                rusqlite::params![serde_json::to_string(&identity).unwrap(), twin.to_string()],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.twin("d1").unwrap().to_string(), twin.to_string());
        assert_eq!(store.device("d1").unwrap(), identity);
        drop(store);
        let rows = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT typeof(identity) || typeof(twin) FROM devices",
                [],
                |row| row.get::<_, String>(0),
            )
            .unwrap();
        assert_eq!(rows, "blobblob");
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.twin("d1").unwrap().to_string(), twin.to_string());
    }
}
