//! Walking the registry for a query on every core. Reading twins in place is fast, but
//! a scan over every twin is bound by memory as much as by work, and one core leaves
//! the others idle: the walk stays on the calling thread (it is cheap), while batches
//! of devices are evaluated by one thread per core and their results are taken back in
//! device order, so that a scan that needs only the first matches stops early. A scan
//! that ends within its first stretch (a first page that fills quickly, a small
//! registry) never starts a thread.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::{Mutex, mpsc};

use super::record::DeviceRecord;

/// Devices a scan looks at on the calling thread before it spreads over every core.
const FIRST_STRETCH: usize = 4096;

/// Devices looked at a time in the first stretch, so that a page that fills quickly
/// stops soon.
const FIRST_BATCH: usize = 256;

/// Devices one thread takes at a time.
const BATCH: usize = 2048;

/// One device of the registry: its id and its record.
pub(super) type Entry<'r> = (&'r str, &'r Mutex<DeviceRecord>);

/// Runs `work` over `entries` in consecutive batches and hands each batch's result to
/// `take`, in order, until `take` breaks or the entries end.
pub(super) fn in_order<'r, R: Send>(
    entries: impl Iterator<Item = Entry<'r>>,
    work: impl Fn(&[Entry<'r>]) -> R + Sync,
    mut take: impl FnMut(R) -> ControlFlow<()>,
) {
    let mut entries = entries.peekable();
    for _ in 0..FIRST_STRETCH / FIRST_BATCH {
        let batch: Vec<Entry<'r>> = entries.by_ref().take(FIRST_BATCH).collect();
        if take(work(&batch)).is_break() || entries.peek().is_none() {
            return;
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut batches = std::iter::from_fn(|| {
        let batch: Vec<Entry<'r>> = entries.by_ref().take(BATCH).collect();
        (!batch.is_empty()).then_some(batch)
    });
    if threads == 1 {
        for batch in batches {
            if take(work(&batch)).is_break() {
                return;
            }
        }
        return;
    }
    let (jobs, queue) = mpsc::sync_channel::<(usize, Vec<Entry<'r>>)>(threads);
    let queue = Mutex::new(queue);
    let (results, finished) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        // Owned here, so that however this ends, the threads see the queue close.
        let (jobs, results, finished) = (jobs, results, finished);
        for _ in 0..threads {
            let (queue, results, work) = (&queue, results.clone(), &work);
            scope.spawn(move || {
                loop {
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((number, batch)) = job else { return };
                    if results.send((number, work(&batch))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(results);
        let mut sent = 0;
        let mut next_to_take = 0;
        let mut early: BTreeMap<usize, R> = BTreeMap::new();
        let mut more = true;
        loop {
            // Keep every thread busy and one batch queued for each, no more: a scan
            // that stops early wastes little.
            while more && sent - next_to_take - early.len() < 2 * threads {
                match batches.next().map(|batch| jobs.send((sent, batch))) {
                    Some(Ok(())) => sent += 1,
                    _ => more = false,
                }
            }
            if sent == next_to_take {
                break;
            }
            let Ok((number, result)) = finished.recv() else {
                break;
            };
            early.insert(number, result);
            while let Some(result) = early.remove(&next_to_take) {
                next_to_take += 1;
                if take(result).is_break() {
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hub::store::packed::{Names, Packed};

    #[test]
    fn batches_come_back_in_order_and_stop_when_told() {
        let names = Names::default();
        let record = Mutex::new(DeviceRecord {
            identity: Packed::encode(&serde_json::json!({}), &names),
            twin: Packed::encode(&serde_json::json!({}), &names),
        });
        let ids: Vec<String> = (0..20_000).map(|i| format!("d{i:05}")).collect();
        let entries = || ids.iter().map(|id| (id.as_str(), &record));
        let mut seen = Vec::new();
        in_order(
            entries(),
            |batch| {
                batch
                    .iter()
                    .map(|(id, _)| id.to_string())
                    .collect::<Vec<_>>()
            },
            |ids| {
                seen.extend(ids);
                ControlFlow::Continue(())
            },
        );
        assert_eq!(seen, ids);
        let mut taken = 0;
        in_order(
            entries(),
            |batch| batch.len(),
            |count| {
                taken += count;
                if taken >= FIRST_STRETCH + BATCH {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(taken, FIRST_STRETCH + BATCH);
    }
}
