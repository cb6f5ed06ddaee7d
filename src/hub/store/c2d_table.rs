//! Cloud-to-device messages in the store file: one row per message still queued for a
//! device, written before the hub acknowledges the send and deleted when the device
//! completes it (or it expires or is purged), so a hub that stops, however it stops,
//! still holds every message it accepted. The message's description (properties,
//! expiry) is the queue's own text; this knows nothing about what is in it.

use rusqlite::params;

use super::db::Database;
use super::{Store, StoreError};

/// A queued message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCloudMessage {
    /// The device it is queued for.
    pub device_id: String,
    /// Its place in the hub-wide send order.
    pub sequence: u64,
    /// Its description (properties, times) as the queue wrote it.
    pub message: String,
    /// Its payload.
    pub body: Vec<u8>,
}

/// SQLite integers are signed; sequences stay far below `i64::MAX`.
fn to_sql(sequence: u64) -> i64 {
    i64::try_from(sequence).unwrap_or(i64::MAX)
}

impl Database {
    fn load_cloud_messages(&self) -> Result<Vec<StoredCloudMessage>, StoreError> {
        let failed = |e| self.failed(e);
        let mut statement = self
            .connection
            .prepare(
                "SELECT device_id, sequence, message, body FROM c2d_messages ORDER BY sequence",
            )
            .map_err(failed)?;
        statement
            .query_map([], |row| {
                Ok(StoredCloudMessage {
                    device_id: row.get(0)?,
                    sequence: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    message: row.get(2)?,
                    body: row.get(3)?,
                })
            })
            .map_err(failed)?
            .collect::<Result<_, _>>()
            .map_err(failed)
    }

    fn save_cloud_message(&mut self, stored: &StoredCloudMessage) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO c2d_messages (device_id, sequence, message, body) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    stored.device_id,
                    to_sql(stored.sequence),
                    stored.message,
                    stored.body
                ],
            )
            .map(drop)
            .map_err(|e| self.failed(e))
    }

    fn delete_cloud_messages(
        &mut self,
        device_id: &str,
        sequences: &[u64],
    ) -> Result<(), StoreError> {
        let deleted = (|| {
            let transaction = self.connection.transaction()?;
            let mut delete = transaction.prepare_cached(
                "DELETE FROM c2d_messages WHERE device_id = ?1 AND sequence = ?2",
            )?;
            for sequence in sequences {
                delete.execute(params![device_id, to_sql(*sequence)])?;
            }
            drop(delete);
            transaction.commit()
        })();
        deleted.map_err(|e| self.failed(e))
    }

    fn delete_device_cloud_messages(&mut self, device_id: &str) -> Result<(), StoreError> {
        self.connection
            .execute(
                "DELETE FROM c2d_messages WHERE device_id = ?1",
                params![device_id],
            )
            .map(drop)
            .map_err(|e| self.failed(e))
    }
}

impl Store {
    /// Every queued cloud-to-device message, in send order.
    pub fn load_cloud_messages(&self) -> Result<Vec<StoredCloudMessage>, StoreError> {
        self.database().load_cloud_messages()
    }

    /// Writes a queued message; returns once durable.
    pub fn save_cloud_message(&self, stored: &StoredCloudMessage) -> Result<(), StoreError> {
        self.database().save_cloud_message(stored)
    }

    /// Deletes some of a device's queued messages, in one transaction.
    pub fn delete_cloud_messages(
        &self,
        device_id: &str,
        sequences: &[u64],
    ) -> Result<(), StoreError> {
        if sequences.is_empty() {
            return Ok(());
        }
        self.database().delete_cloud_messages(device_id, sequences)
    }

    /// Deletes every message queued for a device.
    pub fn delete_device_cloud_messages(&self, device_id: &str) -> Result<(), StoreError> {
        self.database().delete_device_cloud_messages(device_id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(device_id: &str, sequence: u64) -> StoredCloudMessage {
        StoredCloudMessage {
            device_id: device_id.into(),
            sequence,
            message: format!("{{\"n\":{sequence}}}"),
            body: vec![0, 159, sequence as u8],
        }
    }

    #[test]
    fn queued_messages_survive_reopening_in_send_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        {
            let store = Store::open(&path).unwrap();
            for (device, sequence) in [("b", 3), ("a", 1), ("a", 2), ("b", 4), ("c", 5)] {
                store
                    .save_cloud_message(&message(device, sequence))
                    .unwrap();
            }
            store.delete_cloud_messages("a", &[1]).unwrap();
            store.delete_cloud_messages("b", &[]).unwrap();
            store.delete_device_cloud_messages("c").unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.load_cloud_messages().unwrap(),
            vec![message("a", 2), message("b", 3), message("b", 4)]
        );
    }
}
