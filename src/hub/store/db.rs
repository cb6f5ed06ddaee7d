//! The durable half of the store: one SQLite file in WAL mode. A write returns only
//! after SQLite has committed it to the write-ahead log, so every acknowledged change
//! survives the hub process being killed. SQLite checkpoints the log into the file every
//! thousand pages, and the log is cut back to 64 MB after a checkpoint, so it never
//! grows with the store. Holds no in-memory state of its own.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::commit::Change;

/// One stored device: its identity and twin, as the JSON text the REST API serves.
pub struct StoredDevice {
    /// The device id (primary key).
    pub device_id: String,
    /// The identity document.
    pub identity: String,
    /// The twin document.
    pub twin: String,
}

/// An open store file.
pub struct Database {
    connection: Connection,
    path: PathBuf,
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
                 );",
            )
            .map_err(failed)?;
        Ok(Self {
            connection,
            path: path.to_owned(),
        })
    }

    fn failed(&self, source: rusqlite::Error) -> StoreError {
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
                    identity: row.get(1)?,
                    twin: row.get(2)?,
                })
            })
            .map_err(|e| self.failed(e))?;
        for row in rows {
            each(row.map_err(|e| self.failed(e))?);
        }
        Ok(())
    }

    /// Applies `changes` in order, in one transaction.
    pub(super) fn apply<'a>(
        &mut self,
        changes: impl IntoIterator<Item = &'a Change>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let failed = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(failed)?;
        {
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
        transaction.commit().map_err(failed)
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
    fn devices_and_settings_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        {
            let mut db = Database::open(&path).unwrap();
            let put = |id: &str, identity: &str| Change::Put {
                device_id: id.into(),
                identity: identity.into(),
                twin: "{}".into(),
            };
            db.apply([&put("b", "{\"i\":2}"), &put("a", "{\"i\":1}")])
                .unwrap();
            let delete = |id: &str| Change::Delete {
                device_id: id.into(),
            };
            db.apply([&put("c", "{}"), &delete("c"), &delete("missing")])
                .unwrap();
            db.set_setting("owner", "k").unwrap();
        }
        let db = Database::open(&path).unwrap();
        let mut devices = Vec::new();
        db.for_each_device(|device| devices.push(device)).unwrap();
        let ids: Vec<&str> = devices.iter().map(|d| d.device_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(devices[0].identity, "{\"i\":1}");
        assert_eq!(db.setting("owner").unwrap().as_deref(), Some("k"));
        assert_eq!(db.setting("other").unwrap(), None);
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
