//! The durable half of the store: one SQLite file in WAL mode. A write returns only
//! after SQLite has committed it to the write-ahead log, so every acknowledged change
//! survives the hub process being killed. SQLite checkpoints the log into the file every
//! thousand pages, and the log is cut back to 64 MB after a checkpoint, so it never
//! grows with the store.
//!
//! Devices are rows of packed documents ([`super::packed`]); the member names they use
//! are rows of `names`, written in the same transaction as the first document that uses
//! them. Stores written before documents were packed hold JSON text instead, which is
//! read as well (and rewritten packed by the store on start). Beyond how many names are
//! written, this holds no in-memory state of its own.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::commit::Change;
use super::packed::Names;

/// A stored document: packed, or JSON text in a store from before packing.
pub enum StoredDocument {
    Packed(Vec<u8>),
    Json(String),
}

/// One stored device: its identity and twin.
pub struct StoredDevice {
    /// The device id (primary key).
    pub device_id: String,
    /// The identity document.
    pub identity: StoredDocument,
    /// The twin document.
    pub twin: StoredDocument,
}

/// An open store file.
pub struct Database {
    pub(super) connection: Connection,
    path: PathBuf,
    /// How many names of the store's table are written.
    names_written: usize,
}

fn stored_document(value: ValueRef<'_>) -> rusqlite::Result<StoredDocument> {
    match value {
        ValueRef::Blob(bytes) => Ok(StoredDocument::Packed(bytes.to_vec())),
        ValueRef::Text(text) => Ok(StoredDocument::Json(
            String::from_utf8_lossy(text).into_owned(),
        )),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            "document".into(),
            other.data_type(),
        )),
    }
}

/// How many devices the store file at `path` holds, read without loading it or taking
/// the hub's lock (for an "opening N devices" display); `None` when there is no store
/// there or it cannot be read.
pub fn count_devices(path: &Path) -> Option<u64> {
    if !path.is_file() {
        return None;
    }
    let connection = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    connection
        // Modules are stored under `{deviceId}/{moduleId}`; device ids never hold a `/`.
        .query_row(
            "SELECT COUNT(*) FROM devices WHERE instr(device_id, '/') = 0",
            [],
            |row| row.get::<_, i64>(0),
        )
        .ok()
        .and_then(|count| u64::try_from(count).ok())
}

impl Database {
    /// Opens (creating if needed) the store file and its tables.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let failed = |source| StoreError::Database {
            path: path.to_owned(),
            source,
        };
        let connection = Connection::open(path).map_err(failed)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA journal_size_limit = 67108864;
                 PRAGMA busy_timeout = 5000;
                 CREATE TABLE IF NOT EXISTS devices (
                     device_id TEXT PRIMARY KEY NOT NULL,
                     identity TEXT NOT NULL,
                     twin TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS settings (
                     key TEXT PRIMARY KEY NOT NULL,
                     value TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS names (
                     id INTEGER PRIMARY KEY NOT NULL,
                     name TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS jobs (
                     job_id TEXT PRIMARY KEY NOT NULL,
                     document TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS device_jobs (
                     job_id TEXT NOT NULL,
                     device_id TEXT NOT NULL,
                     document TEXT NOT NULL,
                     PRIMARY KEY (job_id, device_id)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS c2d_messages (
                     device_id TEXT NOT NULL,
                     sequence INTEGER NOT NULL,
                     message TEXT NOT NULL,
                     body BLOB NOT NULL,
                     PRIMARY KEY (device_id, sequence)
                 ) WITHOUT ROWID;",
            )
            .map_err(failed)?;
        Ok(Self {
            connection,
            path: path.to_owned(),
            names_written: 0,
        })
    }

    /// Reads the store's table of member names.
    pub fn load_names(&mut self) -> Result<Names, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT id, name FROM names ORDER BY id")
            .map_err(|e| self.failed(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| self.failed(e))?;
        let mut names = Vec::new();
        for (expected, row) in rows.enumerate() {
            let (id, name) = row.map_err(|e| self.failed(e))?;
            if usize::try_from(id).ok() != Some(expected) {
                return Err(StoreError::DamagedNames {
                    path: self.path.clone(),
                    reason: format!("name number {expected} is missing"),
                });
            }
            names.push(name);
        }
        drop(statement);
        self.names_written = names.len();
        Names::from_stored(names).map_err(|reason| StoreError::DamagedNames {
            path: self.path.clone(),
            reason,
        })
    }

    pub(super) fn failed(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Hands every stored device, in id order, to `each` as it is read, so that a large
    /// registry never sits in memory twice (as rows and as what they are parsed into).
    pub fn for_each_device(&self, mut each: impl FnMut(StoredDevice)) -> Result<(), StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT device_id, identity, twin FROM devices ORDER BY device_id")
            .map_err(|e| self.failed(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok(StoredDevice {
                    device_id: row.get(0)?,
                    identity: stored_document(row.get_ref(1)?)?,
                    twin: stored_document(row.get_ref(2)?)?,
                })
            })
            .map_err(|e| self.failed(e))?;
        for row in rows {
            each(row.map_err(|e| self.failed(e))?);
        }
        Ok(())
    }

    /// Applies `changes` in order, in one transaction, with the names of `names` not
    /// yet written (those the changes may use).
    pub(super) fn apply<'a>(
        &mut self,
        names: &Names,
        changes: impl IntoIterator<Item = &'a Change>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let failed = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let new_names = names.since(self.names_written);
        let transaction = self.connection.transaction().map_err(failed)?;
        {
            let mut add_name = transaction
                .prepare_cached("INSERT INTO names (id, name) VALUES (?1, ?2)")
                .map_err(failed)?;
            for (id, name) in &new_names {
                add_name.execute(params![id, name]).map_err(failed)?;
            }
            let mut put = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO devices (device_id, identity, twin) VALUES (?1, ?2, ?3)",
                )
                .map_err(failed)?;
            let mut delete = transaction
                .prepare_cached("DELETE FROM devices WHERE device_id = ?1")
                .map_err(failed)?;
            let mut put_twin = transaction
                .prepare_cached("UPDATE devices SET twin = ?2 WHERE device_id = ?1")
                .map_err(failed)?;
            for change in changes {
                match change {
                    Change::Put {
                        device_id,
                        identity,
                        twin,
                    } => put.execute(params![device_id, identity, twin]),
                    Change::PutTwin { device_id, twin } => {
                        put_twin.execute(params![device_id, twin])
                    }
                    Change::Delete { device_id } => delete.execute(params![device_id]),
                }
                .map_err(failed)?;
            }
        }
        transaction.commit().map_err(failed)?;
        self.names_written += new_names.len();
        Ok(())
    }

    /// A stored setting, such as the owner policy's key.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.failed(e))
    }

    /// Stores a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(drop)
            .map_err(|e| self.failed(e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn devices_names_and_settings_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let put = |id: &str, identity: &[u8]| Change::Put {
            device_id: id.into(),
            identity: identity.to_vec(),
            twin: vec![0],
        };
        {
            let mut db = Database::open(&path).unwrap();
            let names = db.load_names().unwrap();
            names.number_of_or_add("first");
            db.apply(&names, [&put("b", &[2]), &put("a", &[1])])
                .unwrap();
            names.number_of_or_add("second");
            let delete = |id: &str| Change::Delete {
                device_id: id.into(),
            };
            db.apply(&names, [&put("c", &[3]), &delete("c"), &delete("missing")])
                .unwrap();
            db.set_setting("owner", "k").unwrap();
        }
        let mut db = Database::open(&path).unwrap();
        let names = db.load_names().unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(names.number_of("second"), Some(1));
        let mut devices = Vec::new();
        db.for_each_device(|device| devices.push(device)).unwrap();
        let ids: Vec<&str> = devices.iter().map(|d| d.device_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(matches!(&devices[0].identity, StoredDocument::Packed(bytes) if bytes == &[1]));
        assert_eq!(db.setting("owner").unwrap().as_deref(), Some("k"));
        assert_eq!(db.setting("other").unwrap(), None);
    }

    #[test]
    fn json_rows_of_older_stores_are_read_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let db = Database::open(&path).unwrap();
        db.connection
            .execute(
                "INSERT INTO devices (device_id, identity, twin) VALUES ('d', '{}', '{\"a\":1}')",
                [],
            )
            .unwrap();
        let mut devices = Vec::new();
        db.for_each_device(|device| devices.push(device)).unwrap();
        assert!(matches!(&devices[0].twin, StoredDocument::Json(text) if text == "{\"a\":1}"));
    }

    #[test]
    fn an_unopenable_path_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("hub.db");
        let Err(error) = Database::open(&path) else {
            panic!("opened a file in a missing folder")
        };
        assert!(error.to_string().contains("missing-dir"), "{error}");
    }
}
