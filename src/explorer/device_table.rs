//! The device list's rows and how they are shown: the fixed columns (id, status,
//! connection state, last activity) plus any twin path the user adds as a column,
//! sorted by any column and narrowed by a quick text filter.
//!
//! Rows are held compactly, not as JSON: each device id once (shared by the row and the
//! id index), and each column as one number per row into that column's distinct texts,
//! so 100,000 devices with a status column cost a few bytes a row for it. The visible
//! order is an index computed only when rows, sort or filter change, so drawing 100,000
//! rows costs only the rows on screen.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use super::list_query::{ListedRow, ListedRows, RowReader};
use crate::service::DeviceTwin;

/// Columns every row has before the path columns: status, connection state, last activity.
const FIXED_COLUMNS: usize = 3;

/// One listed device as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowView<'a> {
    /// The device id.
    pub device_id: &'a str,
    /// `enabled` or `disabled`.
    pub status: &'a str,
    /// `Connected` or `Disconnected`.
    pub connection_state: &'a str,
    /// The last activity time as shown (`2026-11-26 10:00:00`), empty when never.
    pub last_activity: &'a str,
}

/// What the table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Device id.
    Id,
    /// Status.
    Status,
    /// Connection state.
    Connection,
    /// Last activity.
    LastActivity,
    /// The user's path column at this index.
    Path(usize),
}

/// One column's texts: each distinct text is held once and rows refer to it by number.
#[derive(Debug, Clone)]
struct CellColumn {
    /// Per row, the number of its text.
    cells: Vec<u32>,
    /// The distinct texts; number 0 is the empty text.
    texts: Vec<Arc<str>>,
    numbers: HashMap<Arc<str>, u32, RandomState>,
}

impl Default for CellColumn {
    fn default() -> Self {
        let empty: Arc<str> = Arc::from("");
        CellColumn {
            cells: Vec::new(),
            texts: vec![Arc::clone(&empty)],
            numbers: [(empty, 0)].into_iter().collect(),
        }
    }
}

impl CellColumn {
    fn number_of(&mut self, text: &str) -> u32 {
        if let Some(&number) = self.numbers.get(text) {
            return number;
        }
        let number = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        let shared: Arc<str> = Arc::from(text);
        self.texts.push(Arc::clone(&shared));
        self.numbers.insert(shared, number);
        number
    }

    fn push(&mut self, text: &str) {
        let number = self.number_of(text);
        self.cells.push(number);
    }

    /// Sets row `index` to `text`; says whether it changed.
    fn set(&mut self, index: usize, text: &str) -> bool {
        let number = self.number_of(text);
        match self.cells.get_mut(index) {
            Some(cell) if *cell != number => {
                *cell = number;
                true
            }
            _ => false,
        }
    }

    fn text(&self, index: usize) -> &str {
        self.cells
            .get(index)
            .and_then(|&number| self.texts.get(number as usize))
            .map_or("", |text| text)
    }

    /// Whether row `index` is empty, without looking at its text.
    fn is_empty_at(&self, index: usize) -> bool {
        self.cells.get(index).is_none_or(|&number| number == 0)
    }

    fn filled_for(rows: usize) -> Self {
        let mut column = CellColumn::default();
        column.cells.resize(rows, 0);
        column
    }
}

/// The device list.
#[derive(Debug, Clone)]
pub struct DeviceTable {
    ids: Vec<Arc<str>>,
    /// Row index of every device id.
    positions: HashMap<Arc<str>, usize, RandomState>,
    /// User-added twin paths, e.g. `tags.location`.
    paths: Vec<String>,
    /// The fixed columns, then one per path: each column's text per row.
    columns: Vec<CellColumn>,
    sort: SortKey,
    ascending: bool,
    filter: String,
    /// Row indices in the order shown.
    view: Vec<usize>,
    /// Rows `view` accounts for: rows appended after them are merged in on refresh.
    viewed_rows: usize,
    /// Something other than appended rows changed: the view is computed from scratch.
    view_invalid: bool,
    view_stale: bool,
}

/// What storing a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// A new device, appended.
    Added,
    /// A listed device whose shown fields changed.
    Changed,
    /// A listed device, nothing shown changed; or a row that was not stored.
    Unchanged,
}

/// Whether a row may add a device or only update a listed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    AddOrUpdate,
    UpdateOnly,
}

impl Default for DeviceTable {
    fn default() -> Self {
        DeviceTable {
            ids: Vec::new(),
            positions: HashMap::default(),
            paths: Vec::new(),
            columns: (0..FIXED_COLUMNS).map(|_| CellColumn::default()).collect(),
            sort: SortKey::Id,
            ascending: true,
            filter: String::new(),
            view: Vec::new(),
            viewed_rows: 0,
            view_invalid: false,
            view_stale: false,
        }
    }
}

impl DeviceTable {
    /// Forgets every row (a new query starts), keeping columns, sort and filter.
    pub fn clear(&mut self) {
        self.ids = Vec::new();
        self.positions = HashMap::default();
        for column in &mut self.columns {
            *column = CellColumn::default();
        }
        self.view = Vec::new();
        self.viewed_rows = 0;
        self.view_invalid = false;
        self.view_stale = false;
    }

    /// The order must be computed from scratch before the next draw.
    fn invalidate_view(&mut self) {
        self.view_invalid = true;
        self.view_stale = true;
    }

    /// Makes room for `rows` devices in all, so a long query never pauses a frame to
    /// grow the table.
    pub fn reserve(&mut self, rows: usize) {
        let more = rows.saturating_sub(self.ids.len());
        self.ids.reserve(more);
        self.positions.reserve(more);
        for column in &mut self.columns {
            column.cells.reserve(more);
        }
    }

    /// Adds a page of rows from a list query; a device already listed (read on its own
    /// meanwhile) is updated, not listed twice.
    pub fn extend(&mut self, listed: ListedRows) {
        self.store_all(listed, Store::AddOrUpdate);
    }

    /// Updates the columns `listed` carries for the listed devices among its rows (a
    /// column read after the rows were listed); other rows are ignored.
    pub fn update_columns(&mut self, listed: ListedRows) {
        self.store_all(listed, Store::UpdateOnly);
    }

    /// Replaces the row of a device with what a fresher whole twin shows, or adds it.
    /// The order is computed again only when something shown changed, so the periodic
    /// re-read of an open twin costs no re-sort of a long list.
    /// A module's twin has no row: the list shows devices.
    pub fn upsert(&mut self, twin: &DeviceTwin) {
        if twin.module_id.is_some() {
            return;
        }
        let reader = RowReader::twins(&self.paths);
        self.store_all(reader.read(&[twin.to_json()]), Store::AddOrUpdate);
    }

    fn store_all(&mut self, listed: ListedRows, store: Store) {
        // Where each of this table's path columns is among the rows' cells.
        let sources: Vec<Option<usize>> = self
            .paths
            .iter()
            .map(|path| listed.paths.iter().position(|carried| carried == path))
            .collect();
        for row in listed.rows() {
            match self.store_row(row, &sources, listed.fixed, store) {
                Stored::Added => self.view_stale = true,
                Stored::Changed => self.invalidate_view(),
                Stored::Unchanged => {}
            }
        }
    }

    /// Stores one row: the fixed columns when it carries them, and each path column it
    /// has a cell for (`sources`).
    fn store_row(
        &mut self,
        row: ListedRow<'_>,
        sources: &[Option<usize>],
        fixed: bool,
        store: Store,
    ) -> Stored {
        let cell = |column: &Option<usize>| column.and_then(|source| row.cell(source));
        let device_id = row.device_id();
        if device_id.is_empty() {
            return Stored::Unchanged;
        }
        let index = match (self.position(device_id), store) {
            (Some(index), _) => index,
            (None, Store::UpdateOnly) => return Stored::Unchanged,
            (None, Store::AddOrUpdate) => {
                let id: Arc<str> = Arc::from(device_id);
                self.positions.insert(Arc::clone(&id), self.ids.len());
                self.ids.push(id);
                let (fixed_columns, path_columns) = self.columns.split_at_mut(FIXED_COLUMNS);
                for (column, text) in fixed_columns.iter_mut().zip(row.fixed()) {
                    column.push(if fixed { text } else { "" });
                }
                for (column, source) in path_columns.iter_mut().zip(sources) {
                    column.push(cell(source).unwrap_or_default());
                }
                return Stored::Added;
            }
        };
        let mut changed = false;
        let (fixed_columns, path_columns) = self.columns.split_at_mut(FIXED_COLUMNS);
        if fixed {
            for (column, text) in fixed_columns.iter_mut().zip(row.fixed()) {
                changed |= column.set(index, text);
            }
        }
        for (column, source) in path_columns.iter_mut().zip(sources) {
            if let Some(text) = cell(source) {
                changed |= column.set(index, text);
            }
        }
        if changed {
            Stored::Changed
        } else {
            Stored::Unchanged
        }
    }

    /// Removes a deleted device.
    pub fn remove(&mut self, device_id: &str) {
        if let Some(index) = self.position(device_id) {
            self.ids.remove(index);
            self.positions = self
                .ids
                .iter()
                .enumerate()
                .map(|(index, id)| (Arc::clone(id), index))
                .collect();
            for column in &mut self.columns {
                if index < column.cells.len() {
                    column.cells.remove(index);
                }
            }
            self.invalidate_view();
        }
    }

    /// Adds a column showing the value at a twin path (`tags.location`,
    /// `properties.reported.firmware.version`), empty until its values are read
    /// ([`Self::update_columns`]). Returns the path as added.
    pub fn add_column(&mut self, path: &str) -> Result<String, String> {
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!(
                "'{path}' is not a twin path; write dotted keys such as tags.location or properties.reported.firmware"
            ));
        }
        if let Err(why) = super::list_query::query_path(path) {
            return Err(format!("the column {path} cannot be shown: {why}"));
        }
        if self.paths.iter().any(|column| column == path) {
            return Err(format!("the column {path} is already shown"));
        }
        self.paths.push(path.to_owned());
        self.columns.push(CellColumn::filled_for(self.ids.len()));
        self.invalidate_view();
        Ok(path.to_owned())
    }

    /// Removes the path column at `index`.
    pub fn remove_column(&mut self, index: usize) {
        if index < self.paths.len() {
            self.paths.remove(index);
            self.columns.remove(FIXED_COLUMNS + index);
            self.sort = match self.sort {
                SortKey::Path(sorted) if sorted == index => SortKey::Id,
                SortKey::Path(sorted) if sorted > index => SortKey::Path(sorted - 1),
                other => other,
            };
            self.invalidate_view();
        }
    }

    /// The user's path columns.
    pub fn columns(&self) -> &[String] {
        &self.paths
    }

    /// Sorts by `key`; choosing the current key again flips the direction.
    pub fn sort_by(&mut self, key: SortKey) {
        if self.sort == key {
            self.ascending = !self.ascending;
        } else {
            self.sort = key;
            self.ascending = true;
        }
        self.invalidate_view();
    }

    /// The current sort key and whether it is ascending.
    pub fn sort(&self) -> (SortKey, bool) {
        (self.sort, self.ascending)
    }

    /// Shows only rows whose id or path cells contain `filter` (any case).
    pub fn set_filter(&mut self, filter: &str) {
        if self.filter != filter {
            filter.clone_into(&mut self.filter);
            self.invalidate_view();
        }
    }

    /// The quick filter.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Whether the visible order must be computed again before drawing.
    pub fn is_view_stale(&self) -> bool {
        self.view_stale
    }

    /// Computes the visible order (filter, then sort) if anything changed. Rows only
    /// appended since (query pages arriving) are sorted among themselves and merged in,
    /// so a list growing to 100,000 rows is never re-sorted whole page after page.
    pub fn refresh_view(&mut self) {
        if !self.view_stale {
            return;
        }
        let needle = self.filter.to_lowercase();
        let first_new = if self.view_invalid {
            0
        } else {
            self.viewed_rows
        };
        let mut added: Vec<usize> = (first_new..self.ids.len())
            .filter(|&index| needle.is_empty() || self.matches(index, &needle))
            .collect();
        added.sort_by(|&a, &b| self.order(a, b));
        if self.view_invalid {
            self.view = added;
        } else {
            self.merge_into_view(&added);
        }
        self.viewed_rows = self.ids.len();
        self.view_invalid = false;
        self.view_stale = false;
    }

    /// Merges `added` (sorted) into the sorted view in place, from the back: each new
    /// row finds its place by binary search among the rows not yet passed (one
    /// comparison when it goes after them all, as rows arriving in the shown order do),
    /// and the rows after it move up in one copy. A page of 1,000 costs about 17,000
    /// comparisons and no new buffer however long the list is.
    fn merge_into_view(&mut self, added: &[usize]) {
        let mut view = std::mem::take(&mut self.view);
        let mut unplaced = view.len();
        view.resize(unplaced + added.len(), 0);
        let mut free_end = view.len();
        for &new in added.iter().rev() {
            let goes_last =
                unplaced == 0 || self.order(view[unplaced - 1], new) != Ordering::Greater;
            let position = if goes_last {
                unplaced
            } else {
                view[..unplaced].partition_point(|&old| self.order(old, new) != Ordering::Greater)
            };
            let moved = unplaced - position;
            view.copy_within(position..unplaced, free_end - moved);
            free_end -= moved;
            free_end -= 1;
            view[free_end] = new;
            unplaced = position;
        }
        self.view = view;
    }

    /// The column a sort key reads; `None` for the device id.
    fn sort_column(&self) -> Option<&CellColumn> {
        let column = match self.sort {
            SortKey::Id => return None,
            SortKey::Status => 0,
            SortKey::Connection => 1,
            SortKey::LastActivity => 2,
            SortKey::Path(path) => FIXED_COLUMNS + path,
        };
        self.columns.get(column)
    }

    /// How rows `a` and `b` compare under the current sort (ties by device id).
    fn order(&self, a: usize, b: usize) -> Ordering {
        let column = self.sort_column();
        let order = match column {
            // Equal texts are the same number: no need to read them.
            Some(column) if column.cells.get(a) == column.cells.get(b) => Ordering::Equal,
            Some(column) => compare_cells(column.text(a), column.text(b)),
            None => Ordering::Equal,
        }
        .then_with(|| compare_cells(self.id(a), self.id(b)));
        if self.ascending {
            order
        } else {
            order.reverse()
        }
    }

    fn id(&self, index: usize) -> &str {
        self.ids.get(index).map_or("", |id| id)
    }

    /// Row indices in the order shown (call [`Self::refresh_view`] first).
    pub fn view(&self) -> &[usize] {
        &self.view
    }

    /// The row at an index from [`Self::view`].
    pub fn row(&self, index: usize) -> Option<RowView<'_>> {
        let device_id = self.ids.get(index)?;
        Some(RowView {
            device_id,
            status: self.columns[0].text(index),
            connection_state: self.columns[1].text(index),
            last_activity: self.columns[2].text(index),
        })
    }

    /// The text of path column `column` for row `index`.
    pub fn cell(&self, column: usize, index: usize) -> &str {
        self.columns
            .get(FIXED_COLUMNS + column)
            .map_or("", |cells| cells.text(index))
    }

    /// How many devices are listed (before filtering).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The count line under the list: "N devices" with no filter, "M of N devices" with
    /// one. Call after [`refresh_view`](Self::refresh_view), whose view it counts.
    pub fn count_line(&self) -> String {
        if self.filter.is_empty() {
            format!("{} devices", self.ids.len())
        } else {
            format!("{} of {} devices", self.view.len(), self.ids.len())
        }
    }

    /// The row index of a device.
    pub fn position(&self, device_id: &str) -> Option<usize> {
        self.positions.get(device_id).copied()
    }

    fn matches(&self, index: usize, needle: &str) -> bool {
        contains_any_case(self.id(index), needle)
            || self.columns[FIXED_COLUMNS..].iter().any(|column| {
                !column.is_empty_at(index) && contains_any_case(column.text(index), needle)
            })
    }
}

/// Whether `text` contains `needle` (already lower case) in any case.
fn contains_any_case(text: &str, needle: &str) -> bool {
    if text.is_ascii() && needle.is_ascii() {
        text.as_bytes()
            .windows(needle.len().max(1))
            .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        text.to_lowercase().contains(needle)
    }
}

/// Numbers compare as numbers, everything else as text; empty cells sort last.
fn compare_cells(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let numeric = |text: &str| {
        text.bytes()
            .next()
            .is_some_and(|first| first.is_ascii_digit() || first == b'-' || first == b'.')
    };
    if !numeric(a) || !numeric(b) {
        return a.cmp(b);
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn twin(id: &str, location: Value, activity: &str) -> Value {
        json!({
            "deviceId": id, "status": "enabled", "connectionState": "Disconnected",
            "lastActivityTime": activity,
            "tags": {"location": location},
            "properties": {"desired": {"$metadata": {"x": 1}, "interval": 5}}
        })
    }

    fn typed(twin: Value) -> DeviceTwin {
        serde_json::from_value(twin).unwrap()
    }

    /// Lists whole twins, as a query the explorer cannot rewrite returns them.
    fn list(table: &mut DeviceTable, twins: impl IntoIterator<Item = Value>) {
        let twins: Vec<Value> = twins.into_iter().collect();
        table.extend(RowReader::twins(table.columns()).read(&twins));
    }

    fn shown_ids(table: &mut DeviceTable) -> Vec<String> {
        table.refresh_view();
        table
            .view()
            .iter()
            .map(|&i| table.row(i).unwrap().device_id.to_owned())
            .collect()
    }

    /// Three devices, listed with a tags.location column.
    fn sample() -> DeviceTable {
        let mut table = DeviceTable::default();
        table.add_column("tags.location").unwrap();
        list(
            &mut table,
            [
                twin("b", json!("Oslo"), "2026-11-26T10:00:00.5Z"),
                twin("a", json!(10), "0001-01-01T00:00:00Z"),
                twin("c", json!(9), "2026-11-25T10:00:00Z"),
            ],
        );
        table
    }

    #[test]
    fn rows_carry_the_fixed_columns() {
        let table = sample();
        let row = table.row(0).unwrap();
        assert_eq!(row.device_id, "b");
        assert_eq!(row.status, "enabled");
        assert_eq!(row.connection_state, "Disconnected");
        assert_eq!(row.last_activity, "2026-11-26 10:00:00");
        assert_eq!(table.row(1).unwrap().last_activity, "");
        assert_eq!(table.row(3), None);
    }

    #[test]
    fn rows_fill_columns_by_path_and_texts_are_held_once() {
        let mut table = DeviceTable::default();
        table.add_column("tags.location").unwrap();
        table.add_column("properties.reported.location").unwrap();
        // The rows carry the columns in another order, and one the table does not show.
        let paths: Arc<[String]> = vec![
            "properties.reported.location".to_owned(),
            "tags.other".to_owned(),
            "tags.location".to_owned(),
        ]
        .into();
        let mut listed = ListedRows::new(paths, true);
        for n in 0..100 {
            let location = if n % 2 == 0 { "Oslo" } else { "" };
            listed.push(
                &format!("d{n}"),
                ["enabled", "Connected", ""],
                ["reported", "other", location],
            );
        }
        table.extend(listed);
        let index = table.position("d2").unwrap();
        assert_eq!(table.cell(0, index), "Oslo");
        assert_eq!(table.cell(1, index), "reported");
        assert_eq!(table.cell(0, table.position("d3").unwrap()), "");
        assert_eq!(table.row(index).unwrap().connection_state, "Connected");
        // Two statuses, two locations: every row refers to the same few texts.
        assert_eq!(
            table.columns[0].texts.len(),
            2,
            "the empty text and 'enabled'"
        );
        assert_eq!(table.columns[FIXED_COLUMNS].texts.len(), 2);
        assert!(Arc::ptr_eq(
            &table.ids[index],
            table.positions.keys().find(|id| &***id == "d2").unwrap()
        ));
    }

    #[test]
    fn a_fetched_column_updates_listed_devices_only() {
        let mut table = sample();
        table.remove_column(0);
        table.add_column("tags.floor").unwrap();
        assert_eq!(table.cell(0, 0), "", "empty until read");
        let mut listed = ListedRows::new(vec!["tags.floor".to_owned()].into(), false);
        for id in ["a", "zz"] {
            listed.push(id, ["", "", ""], ["3"]);
        }
        table.update_columns(listed);
        assert_eq!(table.len(), 3, "an unlisted device is not added");
        assert_eq!(table.cell(0, table.position("a").unwrap()), "3");
        assert_eq!(
            table.row(table.position("a").unwrap()).unwrap().status,
            "enabled",
            "the fixed columns are kept"
        );
        table.sort_by(SortKey::Path(0));
        assert_eq!(shown_ids(&mut table), ["a", "b", "c"]);
    }

    #[test]
    fn the_count_line_counts_every_row_without_a_filter_and_matches_with_one() {
        let mut table = sample();
        table.refresh_view();
        list(&mut table, [twin("d", json!("Oslo"), "")]);
        // Rows arrived this frame and the view is not refreshed yet: still every row.
        assert_eq!(table.count_line(), "4 devices");
        table.set_filter("oslo");
        table.refresh_view();
        assert_eq!(table.count_line(), "2 of 4 devices");
        table.set_filter("");
        table.refresh_view();
        assert_eq!(table.count_line(), "4 devices");
    }

    #[test]
    fn sorting_by_id_and_flipping() {
        let mut table = sample();
        assert_eq!(shown_ids(&mut table), ["a", "b", "c"]);
        table.sort_by(SortKey::Id);
        assert_eq!(shown_ids(&mut table), ["c", "b", "a"]);
        table.sort_by(SortKey::LastActivity);
        assert_eq!(
            shown_ids(&mut table),
            ["c", "b", "a"],
            "never-active sorts last"
        );
    }

    #[test]
    fn path_columns_sort_numbers_as_numbers_and_text_after() {
        let mut table = sample();
        table.sort_by(SortKey::Path(0));
        assert_eq!(shown_ids(&mut table), ["c", "a", "b"]);
        assert_eq!(table.cell(0, 1), "10");
        table.add_column("tags.floor").unwrap();
        assert_eq!(table.cell(1, 1), "", "a column is empty until read");
        table.remove_column(0);
        assert_eq!(table.sort().0, SortKey::Id);
    }

    #[test]
    fn bad_and_duplicate_columns_are_refused() {
        let mut table = DeviceTable::default();
        assert!(
            table
                .add_column("tags..x")
                .unwrap_err()
                .contains("not a twin path")
        );
        assert!(table.add_column(" ").is_err());
        table.add_column("tags.location").unwrap();
        assert!(
            table
                .add_column("tags.location")
                .unwrap_err()
                .contains("already")
        );
    }

    #[test]
    fn the_quick_filter_matches_ids_and_cells_in_any_case() {
        let mut table = sample();
        table.set_filter("OSL");
        assert_eq!(shown_ids(&mut table), ["b"]);
        table.set_filter("c");
        assert_eq!(shown_ids(&mut table), ["c"]);
        table.set_filter("");
        assert_eq!(shown_ids(&mut table).len(), 3);
    }

    #[test]
    fn upsert_replaces_and_remove_forgets() {
        let mut table = sample();
        table.upsert(&typed(twin("a", json!("Rome"), "2026-11-26T11:00:00Z")));
        assert_eq!(table.len(), 3);
        let index = table.position("a").unwrap();
        assert_eq!(table.cell(0, index), "Rome");
        table.upsert(&typed(twin("d", json!("Lima"), "")));
        assert_eq!(table.len(), 4);
        table.remove("b");
        assert_eq!(shown_ids(&mut table), ["a", "c", "d"]);
        assert_eq!(table.cell(0, table.position("d").unwrap()), "Lima");
    }

    #[test]
    fn a_device_read_on_its_own_is_not_listed_twice() {
        let mut table = DeviceTable::default();
        table.upsert(&typed(twin("b", json!("Oslo"), "")));
        table.add_column("tags.location").unwrap();
        list(
            &mut table,
            [twin("a", json!(1), ""), twin("b", json!("Rome"), "")],
        );
        assert_eq!(shown_ids(&mut table), ["a", "b"]);
        assert_eq!(table.cell(0, table.position("b").unwrap()), "Rome");
    }

    #[test]
    fn re_reading_an_unchanged_twin_keeps_the_order() {
        let mut table = sample();
        table.refresh_view();
        table.upsert(&typed(twin("b", json!("Oslo"), "2026-11-26T10:00:00.5Z")));
        assert!(!table.is_view_stale(), "nothing shown changed");
        table.upsert(&typed(twin("b", json!("Bergen"), "2026-11-26T10:00:00.5Z")));
        assert!(table.is_view_stale());
    }

    #[test]
    fn pages_are_merged_into_the_order_as_they_arrive() {
        let mut table = DeviceTable::default();
        table.add_column("tags.location").unwrap();
        table.sort_by(SortKey::Path(0));
        list(
            &mut table,
            [twin("a", json!(5), ""), twin("b", json!(1), "")],
        );
        assert_eq!(shown_ids(&mut table), ["b", "a"]);
        list(
            &mut table,
            [
                twin("c", json!(3), ""),
                twin("d", json!(9), ""),
                twin("e", json!("x"), ""),
            ],
        );
        assert_eq!(shown_ids(&mut table), ["b", "c", "a", "d", "e"]);
        table.set_filter("a");
        assert_eq!(shown_ids(&mut table), ["a"]);
        list(&mut table, [twin("aa", json!(0), "")]);
        assert_eq!(
            shown_ids(&mut table),
            ["aa", "a"],
            "new rows are filtered too"
        );
        table.set_filter("");
        table.remove("c");
        assert_eq!(shown_ids(&mut table), ["aa", "b", "a", "d", "e"]);
    }

    proptest::proptest! {
        #[test]
        fn pages_merged_in_place_give_the_order_of_a_full_sort(
            pages in proptest::collection::vec(
                proptest::collection::vec((0u8..40, 0u8..6), 0..30), 1..8),
            descending in proptest::bool::ANY,
        ) {
            let mut table = DeviceTable::default();
            table.add_column("tags.n").unwrap();
            table.sort_by(SortKey::Path(0));
            if descending {
                table.sort_by(SortKey::Path(0));
            }
            for page in &pages {
                list(&mut table, page.iter().map(|(id, n)| json!({"deviceId": format!("d{id}"), "tags": {"n": n}})));
                table.refresh_view();
            }
            let merged = shown_ids(&mut table);
            table.sort_by(SortKey::Id);
            table.sort_by(SortKey::Path(0));
            if descending {
                table.sort_by(SortKey::Path(0));
            }
            proptest::prop_assert_eq!(merged, shown_ids(&mut table));
        }
    }
}
