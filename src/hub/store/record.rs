//! One device as the registry holds it, and reading every device back from the store
//! file at start. Identity and twin are packed documents ([`super::packed`]); this
//! module converts between them and the identity and twin models, and owns the rule
//! that every device starts disconnected. Rows of stores from before packing (JSON text)
//! are read as well and reported, so the store can rewrite them packed.

use std::path::Path;

use serde_json::Value;

use super::StoreError;
use super::db::{self, Database, StoredDocument};
use super::packed::{Names, Packed};
use crate::hub::error::HubError;
use crate::hub::identity::DeviceIdentity;
use crate::hub::module_identity::ModuleIdentity;
use crate::twin::{ConnectionState, Twin};

/// One device: its identity and its twin in the service JSON shape (what queries read
/// and `GET /twins` returns), both packed.
#[derive(Debug, Clone)]
pub(super) struct DeviceRecord {
    pub identity: Packed,
    pub twin: Packed,
}

impl DeviceRecord {
    /// Packs an identity (a device's or a module's) and its twin.
    pub fn pack(
        identity: &impl serde::Serialize,
        twin: &Value,
        names: &Names,
    ) -> Result<Self, HubError> {
        let identity = serde_json::to_value(identity)
            .map_err(|e| HubError::Server(format!("could not serialize an identity: {e}")))?;
        Ok(Self {
            identity: Packed::encode(&identity, names),
            twin: Packed::encode(twin, names),
        })
    }

    /// The identity, unpacked.
    pub fn identity(&self, names: &Names) -> Result<DeviceIdentity, HubError> {
        serde_json::from_value(self.identity.to_value(names))
            .map_err(|e| HubError::Server(format!("a stored device identity is damaged: {e}")))
    }

    /// The identity of a module's record, unpacked.
    pub fn module_identity(&self, names: &Names) -> Result<ModuleIdentity, HubError> {
        serde_json::from_value(self.identity.to_value(names))
            .map_err(|e| HubError::Server(format!("a stored module identity is damaged: {e}")))
    }

    /// The twin model, for a write.
    pub fn twin_model(&self, names: &Names) -> Result<Twin, HubError> {
        Ok(Twin::from_json(&self.twin.to_value(names))?)
    }

    /// Whether both documents already say the device is disconnected.
    fn is_disconnected(&self, names: &Names) -> bool {
        let disconnected = ConnectionState::Disconnected.as_str();
        [&self.identity, &self.twin].iter().all(|document| {
            document
                .root(names)
                .member("connectionState", false)
                .is_some_and(|state| state.to_value() == disconnected)
        })
    }
}

/// Rows handed to a loader thread at a time.
const LOAD_BATCH: usize = 512;

/// A device read back from the store, and whether its row was JSON text (from a store
/// written before documents were packed) that is to be rewritten packed.
pub(super) struct Loaded {
    pub device_id: String,
    pub record: DeviceRecord,
    pub was_json: bool,
}

/// Reads one stored device back. Nobody is connected to a hub that just started, so
/// every device comes back disconnected. Packed documents are checked whole; a twin in
/// JSON is checked to be a twin object here and fully validated by the twin model on
/// its next write.
fn load_record(path: &Path, row: db::StoredDevice, names: &Names) -> Result<Loaded, StoreError> {
    let damaged = |reason: String| StoreError::Damaged {
        path: path.to_owned(),
        device_id: row.device_id.clone(),
        reason,
    };
    let was_json = matches!(row.twin, StoredDocument::Json(_))
        || matches!(row.identity, StoredDocument::Json(_));
    let unpack = |document: StoredDocument, what: &str| match document {
        StoredDocument::Packed(bytes) => {
            Packed::from_stored(bytes, names).map_err(|e| damaged(format!("{what}: {e}")))
        }
        StoredDocument::Json(text) => serde_json::from_str::<Value>(&text)
            .map(|value| Packed::encode(&value, names))
            .map_err(|e| damaged(format!("{what}: {e}"))),
    };
    let mut record = DeviceRecord {
        identity: unpack(row.identity, "identity")?,
        twin: unpack(row.twin, "twin")?,
    };
    let (device_id, module_id) = super::modules::split_key(&row.device_id);
    let twin_field = |name: &str| {
        record
            .twin
            .root(names)
            .member(name, false)
            .map(|id| id.to_value())
    };
    let twin_module = twin_field("moduleId");
    if twin_field("deviceId").as_ref().and_then(Value::as_str) != Some(device_id)
        || twin_module.as_ref().and_then(Value::as_str) != module_id
    {
        return Err(damaged("the twin is not an object for this device".into()));
    }
    if !record.is_disconnected(names) {
        let mut identity = record.identity.to_value(names);
        if let Some(fields) = identity.as_object_mut() {
            fields.insert(
                "connectionState".into(),
                Value::from(ConnectionState::Disconnected.as_str()),
            );
        }
        let mut twin = record.twin.to_value(names);
        if let Some(fields) = twin.as_object_mut() {
            fields.insert(
                "connectionState".into(),
                Value::from(ConnectionState::Disconnected.as_str()),
            );
        }
        record = DeviceRecord::pack(&identity, &twin, names)
            .map_err(|e| damaged(format!("identity: {e}")))?;
    }
    Ok(Loaded {
        device_id: row.device_id,
        record,
        was_json,
    })
}

/// Reads every device, checking the rows on all cores as they arrive (reading JSON rows
/// of an older store dominates its first start); each row is dropped as soon as it is
/// read. Devices come in id order.
pub(super) fn load_all(
    database: &Database,
    path: &Path,
    names: &Names,
) -> Result<Vec<Loaded>, StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let mut queues = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (queue, batches) =
                std::sync::mpsc::sync_channel::<Vec<(usize, db::StoredDevice)>>(4);
            queues.push(queue);
            workers.push(scope.spawn(move || {
                batches
                    .into_iter()
                    .flatten()
                    .map(|(position, row)| Ok((position, load_record(path, row, names)?)))
                    .collect::<Result<Vec<_>, StoreError>>()
            }));
        }
        // Rows go to the workers in batches: one hand-over per row costs more than
        // checking a packed row.
        let mut next = 0;
        let mut batch = Vec::with_capacity(LOAD_BATCH);
        let read = database.for_each_device(|row| {
            batch.push((next, row));
            next += 1;
            if batch.len() == LOAD_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH));
                // A worker that stopped on a damaged row reports it below.
                let _ = queues[next / LOAD_BATCH % threads].send(full);
            }
        });
        if let Some(queue) = queues.first() {
            let _ = queue.send(batch);
        }
        drop(queues);
        let mut loaded = Vec::with_capacity(next);
        for worker in workers {
            let records = worker.join().unwrap_or_else(|_| {
                Err(StoreError::Damaged {
                    path: path.to_owned(),
                    device_id: String::new(),
                    reason: "a loader thread panicked".into(),
                })
            })?;
            loaded.extend(records);
        }
        read?;
        loaded.sort_unstable_by_key(|(position, _)| *position);
        Ok(loaded.into_iter().map(|(_, loaded)| loaded).collect())
    })
}
