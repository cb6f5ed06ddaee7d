//! Query results one page at a time. Rows that come from twins (`SELECT *` and
//! projections) are paged by device id: the next page starts after the last device the
//! previous page read, so devices created or deleted between pages never make a row
//! repeat or go missing. Aggregate rows (groups) have no device to start after and are
//! paged by position.

use std::ops::{Bound, ControlFlow};
use std::sync::RwLockReadGuard;

use serde_json::Value;

use super::packed::Names;
use super::scan::{self, Entry};
use super::{Registry, Store, lock};
use crate::hub::error::HubError;
use crate::query::{Query, Source};

/// Where the next page of a query starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageCursor {
    /// After the device with this id; `emitted` rows came before (for TOP).
    AfterDevice {
        /// The last device the previous page read.
        device_id: String,
        /// Rows returned by every earlier page.
        emitted: u64,
    },
    /// After this many rows.
    Offset(usize),
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The rows, at most the page size asked for.
    pub rows: Vec<Value>,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<PageCursor>,
}

impl Store {
    /// The twins a query's FROM clause names: devices', or modules' (by
    /// `{deviceId}/{moduleId}`, so a page of module twins ends after a module's key).
    /// `devices.jobs` rows are not twins; [`Store::query_page`] refuses them before.
    fn read_source(&self, source: Source) -> RwLockReadGuard<'_, Registry> {
        match source {
            Source::Devices | Source::DevicesJobs => self.read(),
            Source::DevicesModules => self.read_modules(),
        }
    }

    /// The page of `query`'s rows that starts at `from` (the first page for `None`), with
    /// at most `take` rows (at least one).
    pub fn query_page(
        &self,
        query: &Query,
        from: Option<&PageCursor>,
        take: usize,
    ) -> Result<QueryPage, HubError> {
        let take = take.max(1);
        if query.source() == Source::DevicesJobs {
            return Err(HubError::Server(
                "devices.jobs rows are kept by the jobs, not the registry".into(),
            ));
        }
        match (from, query.is_aggregate()) {
            (Some(PageCursor::Offset(skip)), _) => Ok(self.page_by_offset(query, *skip, take)),
            (None, true) => Ok(self.page_by_offset(query, 0, take)),
            (Some(PageCursor::AfterDevice { .. }), true) => Err(HubError::ArgumentInvalid(
                "The x-ms-continuation token belongs to another query; start this query \
                 again without it"
                    .into(),
            )),
            (Some(PageCursor::AfterDevice { device_id, emitted }), false) => {
                Ok(self.page_by_device(query, Some(device_id), *emitted, take))
            }
            (None, false) => Ok(self.page_by_device(query, None, 0, take)),
        }
    }

    /// The ids of the devices (or modules' keys) whose twins match `query`'s condition,
    /// in id order: the devices a job works on.
    pub fn matching_device_ids(&self, query: &Query) -> Vec<String> {
        let names = self.names();
        let devices = self.read_source(query.source());
        let entries = devices.iter().map(|(id, record)| (&**id, record));
        let mut ids = Vec::new();
        scan::in_order(entries, matching(query, names), |batch| {
            ids.extend(batch.iter().map(|(id, _)| (*id).to_owned()));
            ControlFlow::Continue(())
        });
        ids
    }

    fn page_by_offset(&self, query: &Query, skip: usize, take: usize) -> QueryPage {
        let names = self.names();
        let devices = self.read_source(query.source());
        let entries = || devices.iter().map(|(id, record)| (&**id, record));
        let wanted = query.rows_after(skip, take.saturating_add(1));
        let mut rows = Vec::new();
        match query.aggregation() {
            Some(mut aggregation) => {
                scan::in_order(
                    entries(),
                    |batch| {
                        let mut part = query.aggregation();
                        for (_, record) in batch {
                            let record = lock(record);
                            let twin = record.twin.root(names);
                            if let Some(part) = &mut part
                                && query.matches(twin)
                            {
                                part.add(twin);
                            }
                        }
                        part
                    },
                    |part| {
                        if let Some(part) = part {
                            aggregation.merge(part);
                        }
                        ControlFlow::Continue(())
                    },
                );
                rows.extend(aggregation.rows().into_iter().skip(skip).take(wanted));
            }
            None => {
                let mut seen = 0;
                scan::in_order(entries(), matching(query, names), |batch| {
                    for (_, record) in batch {
                        if (skip..skip + wanted).contains(&seen)
                            && let Some(row) = query.row_of(lock(record).twin.root(names))
                        {
                            rows.push(row);
                        }
                        seen += 1;
                    }
                    if seen >= skip + wanted {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                });
            }
        }
        let more = rows.len() > take;
        rows.truncate(take);
        let next = more.then(|| PageCursor::Offset(skip + rows.len()));
        QueryPage { rows, next }
    }

    /// Rows of twins after `after` in id order: the filter runs on every core over as
    /// many twins as it takes to find one row more than the page holds (which tells
    /// whether another page follows); rows are built for the page's twins only.
    fn page_by_device(
        &self,
        query: &Query,
        after: Option<&str>,
        emitted: u64,
        take: usize,
    ) -> QueryPage {
        let left_in_top = query.top().map_or(usize::MAX, |top| {
            usize::try_from(top.saturating_sub(emitted)).unwrap_or(usize::MAX)
        });
        let limit = take.min(left_in_top);
        let names = self.names();
        let devices = self.read_source(query.source());
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let entries = devices
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(id, record)| (&**id, record));
        let mut rows = Vec::new();
        let mut last = None;
        let mut more = false;
        scan::in_order(entries, matching(query, names), |batch| {
            for (device_id, record) in batch {
                if rows.len() == limit {
                    // Another page follows if TOP allows more rows.
                    more = limit < left_in_top;
                    return ControlFlow::Break(());
                }
                if let Some(row) = query.row_of(lock(record).twin.root(names)) {
                    rows.push(row);
                    last = Some(device_id);
                }
            }
            ControlFlow::Continue(())
        });
        let next = match (more, last) {
            (true, Some(device_id)) => Some(PageCursor::AfterDevice {
                device_id: device_id.to_owned(),
                emitted: emitted + rows.len() as u64,
            }),
            _ => None,
        };
        QueryPage { rows, next }
    }
}

/// The batch work of a scan for rows: the devices of the batch whose twins match.
fn matching<'r>(query: &Query, names: &Names) -> impl Fn(&[Entry<'r>]) -> Vec<Entry<'r>> + Sync {
    move |batch| {
        batch
            .iter()
            .filter(|(_, record)| query.matches(lock(record).twin.root(names)))
            .copied()
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store_with(ids: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).unwrap();
        for id in ids {
            drop(
                store
                    .put_device(id, &json!({}), None, chrono::Utc::now())
                    .unwrap(),
            );
        }
        (dir, store)
    }

    fn ids(rows: &[Value]) -> Vec<&str> {
        rows.iter()
            .map(|row| row["deviceId"].as_str().unwrap())
            .collect()
    }

    fn all_pages(store: &Store, text: &str, take: usize) -> Vec<Vec<Value>> {
        let query = crate::query::parse(text).unwrap();
        let mut pages = Vec::new();
        let mut from = None;
        loop {
            let page = store.query_page(&query, from.as_ref(), take).unwrap();
            pages.push(page.rows);
            match page.next {
                Some(next) => from = Some(next),
                None => return pages,
            }
        }
    }

    #[test]
    fn pages_follow_device_ids_and_end_exactly() {
        let (_dir, store) = store_with(&["a", "b", "c", "d", "e"]);
        let pages = all_pages(&store, "SELECT * FROM devices", 2);
        let pages: Vec<Vec<&str>> = pages.iter().map(|rows| ids(rows)).collect();
        assert_eq!(pages, vec![vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
        let exact = all_pages(&store, "SELECT deviceId FROM devices", 5);
        assert_eq!(exact.len(), 1, "no empty page after a full last one");
    }

    #[test]
    fn devices_created_or_deleted_between_pages_neither_repeat_nor_vanish() {
        let (_dir, store) = store_with(&["b", "d", "f", "h"]);
        let query = crate::query::parse("SELECT * FROM devices").unwrap();
        let first = store.query_page(&query, None, 2).unwrap();
        assert_eq!(ids(&first.rows), vec!["b", "d"]);
        // A device before the cursor appears and one already read is deleted.
        drop(
            store
                .put_device("a", &json!({}), None, chrono::Utc::now())
                .unwrap(),
        );
        drop(store.delete_device("b", None).unwrap());
        let second = store.query_page(&query, first.next.as_ref(), 2).unwrap();
        assert_eq!(ids(&second.rows), vec!["f", "h"]);
        assert_eq!(second.next, None);
    }

    #[test]
    fn top_counts_rows_across_pages() {
        let (_dir, store) = store_with(&["a", "b", "c", "d", "e"]);
        let pages = all_pages(&store, "SELECT TOP 3 * FROM devices", 2);
        let pages: Vec<Vec<&str>> = pages.iter().map(|rows| ids(rows)).collect();
        assert_eq!(pages, vec![vec!["a", "b"], vec!["c"]]);
        let exact = all_pages(&store, "SELECT TOP 2 * FROM devices", 2);
        assert_eq!(exact.len(), 1, "TOP reached: no further page");
    }

    #[test]
    fn filters_skip_twins_that_do_not_match() {
        let (_dir, store) = store_with(&["a", "b", "c", "d", "e"]);
        let pages = all_pages(
            &store,
            "SELECT * FROM devices WHERE deviceId IN ['a', 'c', 'e']",
            1,
        );
        let pages: Vec<Vec<&str>> = pages.iter().map(|rows| ids(rows)).collect();
        assert_eq!(pages, vec![vec!["a"], vec!["c"], vec!["e"]]);
    }

    #[test]
    fn aggregates_page_by_position_and_refuse_device_cursors() {
        let (_dir, store) = store_with(&["a", "b", "c"]);
        let text = "SELECT deviceId, COUNT() AS n FROM devices GROUP BY deviceId";
        let pages = all_pages(&store, text, 2);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1]);
        let query = crate::query::parse(text).unwrap();
        let foreign = PageCursor::AfterDevice {
            device_id: "a".into(),
            emitted: 1,
        };
        let error = store.query_page(&query, Some(&foreign), 2).unwrap_err();
        assert_eq!(error.error_code(), 400004);
    }

    /// Every row of `text`, read in pages of `take`.
    fn all_rows(store: &Store, text: &str, take: usize) -> Vec<Value> {
        let query = crate::query::parse(text).unwrap();
        let mut rows = Vec::new();
        let mut from = None;
        loop {
            let page = store.query_page(&query, from.as_ref(), take).unwrap();
            rows.extend(page.rows);
            match page.next {
                Some(next) => from = Some(next),
                None => return rows,
            }
        }
    }

    #[test]
    fn module_twins_are_queried_apart_from_device_twins() {
        let (_dir, store) = store_with(&["a", "b", "c"]);
        assert!(
            all_rows(&store, "SELECT * FROM devices.modules", 2).is_empty(),
            "no modules yet"
        );
        for (device_id, module_id) in [("a", "m1"), ("a", "m2"), ("c", "m1")] {
            drop(
                store
                    .put_module(device_id, module_id, &json!({}), None, chrono::Utc::now())
                    .unwrap(),
            );
        }
        let ids = |rows: Vec<Value>| -> Vec<String> {
            rows.iter()
                .map(|row| {
                    format!(
                        "{}/{}",
                        row["deviceId"].as_str().unwrap(),
                        row["moduleId"].as_str().unwrap()
                    )
                })
                .collect()
        };
        assert_eq!(
            ids(all_rows(&store, "SELECT * FROM devices.modules", 2)),
            ["a/m1", "a/m2", "c/m1"],
            "every module once, across pages"
        );
        assert_eq!(
            ids(all_rows(
                &store,
                "SELECT * FROM devices.modules WHERE moduleId = 'm1' AND deviceId IN ['a', 'b']",
                10
            )),
            ["a/m1"]
        );
        let count = all_rows(&store, "SELECT COUNT() AS n FROM devices.modules", 10);
        assert_eq!(count, [json!({"n": 3})]);
        let devices = all_rows(&store, "SELECT * FROM devices", 10);
        assert_eq!(devices.len(), 3, "device queries see no modules");
        assert!(devices.iter().all(|row| row.get("moduleId").is_none()));
    }
}
