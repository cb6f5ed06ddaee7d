//! Group commit: one thread owns the writes to the database. Changes queue up in the
//! order the registry made them; the thread takes everything queued, commits it in one
//! SQLite transaction, and only then tells each writer its change is durable and sends
//! the desired-property pushes of the batch, in order. A hundred devices writing at once
//! cost one commit instead of a hundred.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{broadcast, oneshot};

use super::db::Database;
use super::packed::Names;
use crate::hub::error::HubError;
use crate::twin::DesiredChange;

/// The most changes one transaction takes; more wait for the next one.
const MAX_BATCH: usize = 4096;

/// The per-device channels desired-property changes are pushed on.
pub(super) type DesiredSenders = Arc<Mutex<HashMap<String, broadcast::Sender<DesiredChange>>>>;

/// A change to the stored registry.
pub(super) enum Change {
    /// Insert or replace a device's row (its identity and twin, packed).
    Put {
        device_id: String,
        identity: Vec<u8>,
        twin: Vec<u8>,
    },
    /// Replace the twin of a device's row, its identity unchanged.
    PutTwin { device_id: String, twin: Vec<u8> },
    /// Delete a device's row.
    Delete { device_id: String },
}

struct Job {
    change: Change,
    desired: Option<(String, DesiredChange)>,
    done: oneshot::Sender<Result<(), String>>,
}

/// A change waiting for its commit. Dropping it does not cancel the change.
#[must_use = "a write is acknowledged only once it is durable"]
#[derive(Debug)]
pub struct PendingCommit(oneshot::Receiver<Result<(), String>>);

impl PendingCommit {
    /// Waits until the change is committed to the store file.
    pub async fn durable(self) -> Result<(), HubError> {
        match self.0.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(HubError::Server(error)),
            Err(_) => Err(HubError::Server(
                "the hub store stopped before the change was written; restart the hub".into(),
            )),
        }
    }

    /// Like [`PendingCommit::durable`], blocking the thread: for code outside the async
    /// runtime (tests, start-up).
    pub fn wait(self) -> Result<(), HubError> {
        match self.0.blocking_recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(HubError::Server(error)),
            Err(_) => Err(HubError::Server(
                "the hub store stopped before the change was written; restart the hub".into(),
            )),
        }
    }
}

/// The queue into the committing thread; dropping it lets the thread finish what is
/// queued and waits for it.
pub(super) struct Committer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts the committing thread over `database`, whose documents use `names`.
    pub(super) fn start(
        database: Arc<Mutex<Database>>,
        names: Arc<Names>,
        desired: DesiredSenders,
    ) -> Self {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("hub-store".into())
            .spawn(move || commit_batches(&database, &names, &desired, &queue))
            .ok();
        Self {
            jobs: Some(jobs),
            thread,
        }
    }

    /// Queues `change` (and the desired push to send once it is durable).
    pub(super) fn submit(
        &self,
        change: Change,
        desired: Option<(String, DesiredChange)>,
    ) -> PendingCommit {
        let (done, pending) = oneshot::channel();
        let job = Job {
            change,
            desired,
            done,
        };
        if let Some(jobs) = &self.jobs
            && let Err(mpsc::SendError(job)) = jobs.send(job)
        {
            let _ = job.done.send(Err(
                "the hub store's writer has stopped; restart the hub".into()
            ));
        }
        PendingCommit(pending)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn commit_batches(
    database: &Mutex<Database>,
    names: &Names,
    desired: &DesiredSenders,
    queue: &mpsc::Receiver<Job>,
) {
    let mut busy = false;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        // When writes come together (the last batch had several), writers running right
        // now (on the other cores, or on this one once it yields) are about to submit:
        // let them join this batch rather than the next. With a hundred devices writing
        // at once this makes the batches four times larger and the round trips faster
        // (benches/README.md). A lone writer is committed at once: yielding would let
        // other threads run first.
        if busy {
            std::thread::yield_now();
        }
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        busy = batch.len() > 1;
        let result = {
            let mut database = database.lock().unwrap_or_else(|e| e.into_inner());
            database
                .apply(names, batch.iter().map(|job| &job.change))
                .map_err(|error| error.to_string())
        };
        if let Err(error) = &result {
            tracing::error!("{error}");
        }
        for job in batch {
            if result.is_ok()
                && let Some((device_id, change)) = &job.desired
            {
                publish_desired(desired, device_id, change);
            }
            let _ = job.done.send(result.clone());
        }
    }
}

fn publish_desired(desired: &DesiredSenders, device_id: &str, change: &DesiredChange) {
    let mut senders = desired.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sender) = senders.get(device_id)
        && sender.send(change.clone()).is_err()
    {
        // Nobody listens any more.
        senders.remove(device_id);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::db::StoredDocument;
    use super::*;

    fn put(device_id: &str, twin: u8) -> Change {
        Change::Put {
            device_id: device_id.into(),
            identity: vec![0],
            twin: vec![twin],
        }
    }

    #[test]
    fn changes_are_durable_in_order_and_pushes_follow_their_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let database = Arc::new(Mutex::new(Database::open(&path).unwrap()));
        let desired: DesiredSenders = Arc::new(Mutex::new(HashMap::new()));
        let (sender, mut pushes) = broadcast::channel(64);
        desired.lock().unwrap().insert("d1".into(), sender);
        let names = Arc::new(Names::default());
        let committer = Committer::start(Arc::clone(&database), names, Arc::clone(&desired));
        let mut pending = Vec::new();
        for version in 1..=50u64 {
            let change = DesiredChange {
                version,
                notification: serde_json::json!({"$version": version}),
            };
            let twin = u8::try_from(version).unwrap();
            pending.push(committer.submit(put("d1", twin), Some(("d1".into(), change))));
        }
        pending.push(committer.submit(put("d2", 0), None));
        pending.push(committer.submit(
            Change::Delete {
                device_id: "d2".into(),
            },
            None,
        ));
        for commit in pending {
            commit.wait().unwrap();
        }
        let versions: Vec<u64> = (0..50)
            .map(|_| pushes.try_recv().unwrap().version)
            .collect();
        assert_eq!(versions, (1..=50).collect::<Vec<_>>());
        drop(committer);
        let mut rows = Vec::new();
        Database::open(&path)
            .unwrap()
            .for_each_device(|row| rows.push((row.device_id, row.twin)))
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "d1");
        assert!(matches!(&rows[0].1, StoredDocument::Packed(twin) if twin == &[50]));
    }
}
