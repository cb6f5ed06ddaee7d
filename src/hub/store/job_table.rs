//! Jobs in the store file: one row per job (its document) and one per device a job
//! touches (that device's result), written as the jobs run so that a hub that stops —
//! however it stops — finds every job and every result it acknowledged. The documents
//! are the jobs' own JSON; this knows nothing about what is in them.

use rusqlite::params;

use super::db::Database;
use super::{Store, StoreError};

/// A job as stored: its document and its devices' results, in device-id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJob {
    /// The job's id.
    pub job_id: String,
    /// The job's document.
    pub document: String,
    /// `(deviceId, result document)` of every device the job has chosen.
    pub devices: Vec<(String, String)>,
}

impl Database {
    fn load_jobs(&self) -> Result<Vec<StoredJob>, StoreError> {
        let failed = |e| self.failed(e);
        let mut jobs_statement = self
            .connection
            .prepare("SELECT job_id, document FROM jobs ORDER BY job_id")
            .map_err(failed)?;
        let mut jobs: Vec<StoredJob> = jobs_statement
            .query_map([], |row| {
                Ok(StoredJob {
                    job_id: row.get(0)?,
                    document: row.get(1)?,
                    devices: Vec::new(),
                })
            })
            .map_err(failed)?
            .collect::<Result<_, _>>()
            .map_err(failed)?;
        let mut devices_statement = self
            .connection
            .prepare(
                "SELECT device_id, document FROM device_jobs WHERE job_id = ?1 ORDER BY device_id",
            )
            .map_err(failed)?;
        for job in &mut jobs {
            job.devices = devices_statement
                .query_map(params![job.job_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(failed)?
                .collect::<Result<_, _>>()
                .map_err(failed)?;
        }
        Ok(jobs)
    }

    fn save_job(
        &mut self,
        job_id: &str,
        document: &str,
        devices: &[(String, String)],
    ) -> Result<(), StoreError> {
        let written = (|| {
            let transaction = self.connection.transaction()?;
            transaction.execute(
                "INSERT OR REPLACE INTO jobs (job_id, document) VALUES (?1, ?2)",
                params![job_id, document],
            )?;
            let mut put = transaction.prepare_cached(
                "INSERT OR REPLACE INTO device_jobs (job_id, device_id, document) \
                 VALUES (?1, ?2, ?3)",
            )?;
            for (device_id, result) in devices {
                put.execute(params![job_id, device_id, result])?;
            }
            drop(put);
            transaction.commit()
        })();
        written.map_err(|e| self.failed(e))
    }

    fn delete_job(&mut self, job_id: &str) -> Result<(), StoreError> {
        let deleted = (|| {
            let transaction = self.connection.transaction()?;
            transaction.execute("DELETE FROM device_jobs WHERE job_id = ?1", params![job_id])?;
            transaction.execute("DELETE FROM jobs WHERE job_id = ?1", params![job_id])?;
            transaction.commit()
        })();
        deleted.map_err(|e| self.failed(e))
    }
}

impl Store {
    /// Every stored job with its devices' results.
    pub fn load_jobs(&self) -> Result<Vec<StoredJob>, StoreError> {
        self.database().load_jobs()
    }

    /// Writes a job's document and the given devices' results (others stay as they
    /// are) in one transaction; returns once durable.
    pub fn save_job(
        &self,
        job_id: &str,
        document: &str,
        devices: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.database().save_job(job_id, document, devices)
    }

    /// Deletes a job and its devices' results.
    pub fn delete_job(&self, job_id: &str) -> Result<(), StoreError> {
        self.database().delete_job(job_id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_their_results_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let rows = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(d, r)| ((*d).to_owned(), (*r).to_owned()))
                .collect()
        };
        {
            let store = Store::open(&path).unwrap();
            store
                .save_job("j1", "{\"v\":1}", &rows(&[("b", "p"), ("a", "p")]))
                .unwrap();
            store
                .save_job("j1", "{\"v\":2}", &rows(&[("b", "done")]))
                .unwrap();
            store.save_job("j2", "{}", &rows(&[("a", "p")])).unwrap();
            store.save_job("j3", "{}", &[]).unwrap();
            store.delete_job("j2").unwrap();
        }
        let store = Store::open(&path).unwrap();
        let jobs = store.load_jobs().unwrap();
        assert_eq!(
            jobs,
            vec![
                StoredJob {
                    job_id: "j1".into(),
                    document: "{\"v\":2}".into(),
                    devices: rows(&[("a", "p"), ("b", "done")]),
                },
                StoredJob {
                    job_id: "j3".into(),
                    document: "{}".into(),
                    devices: Vec::new(),
                },
            ]
        );
    }
}
