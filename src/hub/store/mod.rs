//! The hub's registry: device identities and twins, held in memory for fast reads and
//! queries and written through to SQLite ([`db`]) before any change is acknowledged.
//!
//! [`Store`] is a cheap-to-clone handle. Reads take a shared lock; a write takes the
//! exclusive lock briefly, computes the new documents with the twin model (a write the
//! model refuses changes nothing), queues them for the committing thread ([`commit`])
//! and publishes them in memory. The writer acknowledges its client only once the
//! returned [`PendingCommit`] says the change is durable; writes that arrive together
//! share one commit. Desired-property pushes go out once their change is durable, in
//! version order. No lock is ever held across an `.await`.

mod commit;
mod compact;
mod db;
mod paging;

pub use commit::PendingCommit;
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

/// One device as the registry holds it.
#[derive(Debug, Clone)]
struct DeviceRecord {
    identity: DeviceIdentity,
    /// The twin in its service JSON shape: what queries read and `GET /twins` returns.
    twin: Value,
}

impl DeviceRecord {
    fn twin_model(&self) -> Result<Twin, HubError> {
        Ok(Twin::from_json(&self.twin)?)
    }
}

struct Inner {
    devices: RwLock<BTreeMap<String, DeviceRecord>>,
    /// Changes queued in the registry's order; first to drop, so that what is queued is
    /// written before the store closes.
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

/// Devices seeded per transaction: a few megabytes of write-ahead log each.
const SEED_BATCH: usize = 2_000;

/// A handle to the registry; clones share it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens the store file (creating it when missing) and loads every device.
    /// Nobody is connected to a hub that just started, so every device starts
    /// disconnected.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let database = Database::open(path)?;
        let devices = load_all(&database, path)?;
        let database = Arc::new(Mutex::new(database));
        let desired_changes: DesiredSenders = Arc::new(Mutex::new(HashMap::new()));
        Ok(Self {
            inner: Arc::new(Inner {
                devices: RwLock::new(devices),
                committer: Committer::start(Arc::clone(&database), Arc::clone(&desired_changes)),
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

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, DeviceRecord>> {
        // A panic while holding the lock cannot leave a half-applied change: records
        // are replaced whole, after the database commit.
        self.inner.devices.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, DeviceRecord>> {
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
        self.read()
            .get(device_id)
            .map(|record| record.identity.clone())
            .ok_or_else(|| not_found(device_id))
    }

    /// The twin of a device in its service JSON shape.
    pub fn twin(&self, device_id: &str) -> Result<Value, HubError> {
        self.read()
            .get(device_id)
            .map(|record| record.twin.clone())
            .ok_or_else(|| not_found(device_id))
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
        let mut devices = self.write();
        let record = match (devices.get(device_id), if_match) {
            (Some(_), None) => {
                return Err(HubError::DeviceAlreadyExists {
                    device_id: device_id.to_owned(),
                });
            }
            (None, Some(_)) => return Err(not_found(device_id)),
            (None, None) => {
                let identity = DeviceIdentity::create(device_id, body, now)?;
                let mut twin = Twin::new(device_id, now);
                mirror_identity(&mut twin, &identity);
                DeviceRecord {
                    identity,
                    twin: twin.to_json(),
                }
            }
            (Some(existing), Some(condition)) => {
                IfMatch::check(Some(condition), &existing.identity.etag)?;
                let identity = existing.identity.update(body, now)?;
                let mut twin = existing.twin_model()?;
                mirror_identity(&mut twin, &identity);
                DeviceRecord {
                    identity,
                    twin: twin.to_json(),
                }
            }
        };
        let identity = record.identity.clone();
        let pending = self.commit(&mut devices, device_id, record, None)?;
        Ok((identity, pending))
    }

    /// `DELETE /devices/{id}`.
    pub fn delete_device(
        &self,
        device_id: &str,
        if_match: Option<&IfMatch>,
    ) -> Result<PendingCommit, HubError> {
        let mut devices = self.write();
        let record = devices.get(device_id).ok_or_else(|| not_found(device_id))?;
        IfMatch::check(if_match, &record.identity.etag)?;
        let pending = self.inner.committer.submit(
            Change::Delete {
                device_id: device_id.to_owned(),
            },
            None,
        );
        devices.remove(device_id);
        Ok(pending)
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
        let mut devices = self.write();
        let record = devices.get(device_id).ok_or_else(|| not_found(device_id))?;
        let mut twin = record.twin_model()?;
        IfMatch::check(if_match, &twin.etag)?;
        let change = match mode {
            TwinWrite::Patch => twin.apply_service_patch(body, now)?,
            TwinWrite::Replace => twin.apply_service_replace(body, now)?,
        };
        let served = twin.to_json();
        let push = change.clone().map(|change| (device_id.to_owned(), change));
        let pending = self.commit_twin(&mut devices, device_id, served.clone(), push);
        Ok((served, change, pending))
    }

    /// Device side (MQTT): merges a reported-properties patch and returns the new
    /// reported `$version`.
    pub fn write_reported(
        &self,
        device_id: &str,
        patch: &Value,
        now: DateTime<Utc>,
    ) -> Result<(u64, PendingCommit), HubError> {
        let mut devices = self.write();
        let record = devices.get(device_id).ok_or_else(|| not_found(device_id))?;
        let mut twin = record.twin_model()?;
        let version = twin.apply_reported_patch(patch, now)?;
        let pending = self.commit_twin(&mut devices, device_id, twin.to_json(), None);
        Ok((version, pending))
    }

    /// Records a device connecting or disconnecting: connection state, its time, and
    /// the last activity time, in both the identity and the twin.
    pub fn set_connection_state(
        &self,
        device_id: &str,
        connected: bool,
        now: DateTime<Utc>,
    ) -> Result<(), HubError> {
        let mut devices = self.write();
        let record = devices.get(device_id).ok_or_else(|| not_found(device_id))?;
        let state = if connected {
            ConnectionState::Connected
        } else {
            ConnectionState::Disconnected
        };
        let mut identity = record.identity.clone();
        identity.connection_state = state.as_str().to_owned();
        identity.connection_state_updated_time = format_timestamp(now);
        identity.last_activity_time = format_timestamp(now);
        let mut twin = record.twin_model()?;
        twin.connection_state = state;
        twin.last_activity_time = Some(now);
        let updated = DeviceRecord {
            identity,
            twin: twin.to_json(),
        };
        // A hub that restarts has every device disconnected, so nobody waits for this
        // change to be durable; it is written in order with the others all the same.
        drop(self.commit(&mut devices, device_id, updated, None)?);
        Ok(())
    }

    /// The twin as a device reads it (MQTT twin GET): desired and reported properties
    /// with their `$version`, without `$metadata` and tags.
    pub fn device_twin(&self, device_id: &str) -> Result<Value, HubError> {
        let devices = self.read();
        let record = devices.get(device_id).ok_or_else(|| not_found(device_id))?;
        let section = |name: &str| {
            let mut section = record.twin["properties"][name].clone();
            if let Some(fields) = section.as_object_mut() {
                fields.remove("$metadata");
            }
            section
        };
        Ok(serde_json::json!({"desired": section("desired"), "reported": section("reported")}))
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

    /// Adds many new devices (demo seeding), in transactions of [`SEED_BATCH`] devices
    /// so that neither the write-ahead log nor the memory used on the way grows with the
    /// count; existing ids are left alone. Returns how many were added. On an error, the
    /// batches already committed stay.
    pub fn insert_new_devices(
        &self,
        devices_to_add: impl IntoIterator<Item = (DeviceIdentity, Twin)>,
    ) -> Result<usize, HubError> {
        let mut devices = self.write();
        let mut added = 0;
        let mut pending = devices_to_add.into_iter().peekable();
        while pending.peek().is_some() {
            let records: Vec<(String, DeviceRecord)> = pending
                .by_ref()
                .take(SEED_BATCH)
                .filter(|(identity, _)| !devices.contains_key(&identity.device_id))
                .map(|(identity, twin)| {
                    (
                        identity.device_id.clone(),
                        DeviceRecord {
                            identity,
                            twin: compact::compact(twin.to_json()),
                        },
                    )
                })
                .collect();
            let rows = records
                .iter()
                .map(|(id, record)| {
                    Ok(Change::Put {
                        device_id: id.clone(),
                        identity: serialize(&record.identity)?,
                        twin: record.twin.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, HubError>>()?;
            self.database().apply(&rows)?;
            added += records.len();
            devices.extend(records);
        }
        Ok(added)
    }

    /// Like [`Store::commit`] for a twin write, which leaves the identity as it is: only
    /// the twin is written.
    fn commit_twin(
        &self,
        devices: &mut BTreeMap<String, DeviceRecord>,
        device_id: &str,
        twin: Value,
        push: Option<(String, DesiredChange)>,
    ) -> PendingCommit {
        let change = Change::PutTwin {
            device_id: device_id.to_owned(),
            twin: twin.to_string(),
        };
        let pending = self.inner.committer.submit(change, push);
        if let Some(record) = devices.get_mut(device_id) {
            record.twin = compact::compact(twin);
        }
        pending
    }

    /// Queues a record for the database (with the desired push to send once it is
    /// durable), then publishes it in memory. Called with the registry's write lock
    /// held, so changes reach the database in the order they were made.
    fn commit(
        &self,
        devices: &mut BTreeMap<String, DeviceRecord>,
        device_id: &str,
        record: DeviceRecord,
        push: Option<(String, DesiredChange)>,
    ) -> Result<PendingCommit, HubError> {
        let change = Change::Put {
            device_id: device_id.to_owned(),
            identity: serialize(&record.identity)?,
            twin: record.twin.to_string(),
        };
        let pending = self.inner.committer.submit(change, push);
        let record = DeviceRecord {
            twin: compact::compact(record.twin),
            ..record
        };
        devices.insert(device_id.to_owned(), record);
        Ok(pending)
    }
}

/// Reads one stored device back. Nobody is connected to a hub that just started, so
/// every device comes back disconnected. The twin is checked to be a twin object here
/// and fully validated by the twin model on its next write.
fn load_record(path: &Path, row: &db::StoredDevice) -> Result<(String, DeviceRecord), StoreError> {
    let damaged = |reason: String| StoreError::Damaged {
        path: path.to_owned(),
        device_id: row.device_id.clone(),
        reason,
    };
    let mut identity: DeviceIdentity =
        serde_json::from_str(&row.identity).map_err(|e| damaged(format!("identity: {e}")))?;
    let mut twin: Value =
        serde_json::from_str(&row.twin).map_err(|e| damaged(format!("twin: {e}")))?;
    let disconnected = ConnectionState::Disconnected.as_str();
    let Some(fields) = twin
        .as_object_mut()
        .filter(|f| f.get("deviceId").and_then(Value::as_str) == Some(&row.device_id))
    else {
        return Err(damaged("the twin is not an object for this device".into()));
    };
    fields.insert("connectionState".into(), Value::from(disconnected));
    identity.connection_state = disconnected.to_owned();
    let twin = compact::compact(twin);
    Ok((row.device_id.clone(), DeviceRecord { identity, twin }))
}

/// Reads every device and parses the rows on all cores as they arrive (parsing dominates
/// start-up with many devices); each row is dropped as soon as it is parsed.
fn load_all(
    database: &Database,
    path: &Path,
) -> Result<BTreeMap<String, DeviceRecord>, StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let mut queues = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (queue, rows) = std::sync::mpsc::sync_channel::<db::StoredDevice>(256);
            queues.push(queue);
            workers.push(scope.spawn(move || {
                rows.into_iter()
                    .map(|row| load_record(path, &row))
                    .collect::<Result<Vec<_>, StoreError>>()
            }));
        }
        let mut next = 0;
        let read = database.for_each_device(|row| {
            // A worker that stopped on a damaged row reports it below.
            let _ = queues[next % threads].send(row);
            next += 1;
        });
        drop(queues);
        let mut devices = BTreeMap::new();
        for worker in workers {
            let records = worker.join().unwrap_or_else(|_| {
                Err(StoreError::Damaged {
                    path: path.to_owned(),
                    device_id: String::new(),
                    reason: "a loader thread panicked".into(),
                })
            })?;
            devices.extend(records);
        }
        read?;
        Ok(devices)
    })
}

fn serialize(identity: &DeviceIdentity) -> Result<String, HubError> {
    serde_json::to_string(identity)
        .map_err(|e| HubError::Server(format!("could not serialize device identity: {e}")))
}

fn not_found(device_id: &str) -> HubError {
    HubError::DeviceNotFound {
        device_id: device_id.to_owned(),
    }
}

/// Copies the identity fields a twin repeats (status, authentication, capabilities).
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
            identity: "{}".into(),
            twin: "[1]".into(),
        };
        Database::open(&path).unwrap().apply([&broken]).unwrap();
        let Err(error) = Store::open(&path) else {
            panic!("opened a damaged store")
        };
        let message = error.to_string();
        assert!(message.contains("'broken'"), "{message}");
    }
}
