//! The device list's rows and how they are shown: the fixed columns (id, status,
//! connection state, last activity) plus any twin path the user adds as a column,
//! sorted by any column and narrowed by a quick text filter. The visible order is an
//! index computed only when rows, sort or filter change, so drawing 100,000 rows costs
//! only the rows on screen.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

use super::text::cut;
use crate::twin::strip_metadata;

/// Longest text shown in a path column; longer values are cut with an ellipsis.
const CELL_CHARS: usize = 80;

/// One device as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// The device id.
    pub device_id: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// `Connected` or `Disconnected`.
    pub connection_state: String,
    /// The last activity time as shown (`2026-11-26 10:00:00`), empty when never.
    pub last_activity: String,
    /// The twin as listed, without `$metadata` (which the list never shows).
    pub twin: Value,
}

impl DeviceRow {
    /// The row for a twin from a query or a read; `None` when it has no device id.
    pub fn from_twin(mut twin: Value) -> Option<DeviceRow> {
        let device_id = twin.get("deviceId")?.as_str()?.to_owned();
        strip_metadata(&mut twin);
        let text = |key: &str| {
            twin.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let last_activity = display_time(&text("lastActivityTime"));
        Some(DeviceRow {
            device_id,
            status: text("status"),
            connection_state: text("connectionState"),
            last_activity,
            twin,
        })
    }
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

/// The device list.
#[derive(Debug, Clone)]
pub struct DeviceTable {
    rows: Vec<DeviceRow>,
    /// Row index of every device id.
    positions: HashMap<String, usize>,
    /// User-added twin paths, e.g. `tags.location`.
    columns: Vec<String>,
    /// `cells[column][row]`: each path column's text per row.
    cells: Vec<Vec<String>>,
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
    /// A listed device, nothing shown changed.
    Unchanged,
}

impl Default for DeviceTable {
    fn default() -> Self {
        DeviceTable {
            rows: Vec::new(),
            positions: HashMap::new(),
            columns: Vec::new(),
            cells: Vec::new(),
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
        self.rows.clear();
        self.positions.clear();
        for column in &mut self.cells {
            column.clear();
        }
        self.view.clear();
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
        let more = rows.saturating_sub(self.rows.len());
        self.rows.reserve(more);
        self.positions.reserve(more);
        for cells in &mut self.cells {
            cells.reserve(more);
        }
    }

    /// Adds a page of twins from a query; rows without a device id are skipped, and a
    /// device already listed (read on its own meanwhile) is updated, not listed twice.
    pub fn extend(&mut self, twins: impl IntoIterator<Item = Value>) {
        for twin in twins {
            if let Some(row) = DeviceRow::from_twin(twin) {
                match self.put_row(row) {
                    Stored::Added => self.view_stale = true,
                    Stored::Changed => self.invalidate_view(),
                    Stored::Unchanged => {}
                }
            }
        }
    }

    /// Replaces the row of a device with a fresher twin, or adds it.
    /// The order is computed again only when something shown changed, so the periodic
    /// re-read of an open twin costs no re-sort of a long list.
    pub fn upsert(&mut self, twin: Value) {
        if let Some(row) = DeviceRow::from_twin(twin) {
            match self.put_row(row) {
                Stored::Added => self.view_stale = true,
                Stored::Changed => self.invalidate_view(),
                Stored::Unchanged => {}
            }
        }
    }

    /// Stores `row`, replacing the device's old one, and says whether it was new or
    /// changed anything shown (a fixed column or a path cell).
    fn put_row(&mut self, row: DeviceRow) -> Stored {
        let Some(index) = self.position(&row.device_id) else {
            self.push_row(row);
            return Stored::Added;
        };
        let mut changed = false;
        for (column, path) in self.columns.iter().enumerate() {
            if let Some(cell) = self.cells.get_mut(column).and_then(|c| c.get_mut(index)) {
                let text = cell_text(&row.twin, path);
                changed |= *cell != text;
                *cell = text;
            }
        }
        if let Some(slot) = self.rows.get_mut(index) {
            changed |= slot.status != row.status
                || slot.connection_state != row.connection_state
                || slot.last_activity != row.last_activity;
            *slot = row;
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
            self.rows.remove(index);
            self.positions = self
                .rows
                .iter()
                .enumerate()
                .map(|(index, row)| (row.device_id.clone(), index))
                .collect();
            for column in &mut self.cells {
                if index < column.len() {
                    column.remove(index);
                }
            }
            self.invalidate_view();
        }
    }

    /// Adds a column showing the value at a twin path (`tags.location`,
    /// `properties.reported.firmware.version`).
    pub fn add_column(&mut self, path: &str) -> Result<(), String> {
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!(
                "'{path}' is not a twin path; write dotted keys such as tags.location or properties.reported.firmware"
            ));
        }
        if self.columns.iter().any(|column| column == path) {
            return Err(format!("the column {path} is already shown"));
        }
        let cells = self
            .rows
            .iter()
            .map(|row| cell_text(&row.twin, path))
            .collect();
        self.columns.push(path.to_owned());
        self.cells.push(cells);
        self.invalidate_view();
        Ok(())
    }

    /// Removes the path column at `index`.
    pub fn remove_column(&mut self, index: usize) {
        if index < self.columns.len() {
            self.columns.remove(index);
            self.cells.remove(index);
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
        &self.columns
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
        let mut added: Vec<usize> = (first_new..self.rows.len())
            .filter(|&index| needle.is_empty() || self.matches(index, &needle))
            .collect();
        added.sort_by(|&a, &b| self.order(a, b));
        let view = if self.view_invalid {
            added
        } else {
            // Each new row finds its place by binary search: a page of 1,000 costs
            // about 17,000 comparisons however long the list is.
            let mut merged = Vec::with_capacity(self.view.len() + added.len());
            let mut rest = self.view.as_slice();
            for new in added {
                let before = rest.partition_point(|&old| self.order(old, new) != Ordering::Greater);
                let (head, tail) = rest.split_at(before);
                merged.extend_from_slice(head);
                merged.push(new);
                rest = tail;
            }
            merged.extend_from_slice(rest);
            merged
        };
        self.view = view;
        self.viewed_rows = self.rows.len();
        self.view_invalid = false;
        self.view_stale = false;
    }

    /// How rows `a` and `b` compare under the current sort (ties by device id).
    fn order(&self, a: usize, b: usize) -> Ordering {
        let key = |index: usize| -> &str {
            match self.sort {
                SortKey::Id => self.rows.get(index).map_or("", |r| r.device_id.as_str()),
                SortKey::Status => self.rows.get(index).map_or("", |r| r.status.as_str()),
                SortKey::Connection => self
                    .rows
                    .get(index)
                    .map_or("", |r| r.connection_state.as_str()),
                SortKey::LastActivity => self
                    .rows
                    .get(index)
                    .map_or("", |r| r.last_activity.as_str()),
                SortKey::Path(column) => self
                    .cells
                    .get(column)
                    .and_then(|cells| cells.get(index))
                    .map_or("", String::as_str),
            }
        };
        let id = |index: usize| self.rows.get(index).map_or("", |r| r.device_id.as_str());
        let order = compare_cells(key(a), key(b)).then_with(|| id(a).cmp(id(b)));
        if self.ascending {
            order
        } else {
            order.reverse()
        }
    }

    /// Row indices in the order shown (call [`Self::refresh_view`] first).
    pub fn view(&self) -> &[usize] {
        &self.view
    }

    /// The row at an index from [`Self::view`].
    pub fn row(&self, index: usize) -> Option<&DeviceRow> {
        self.rows.get(index)
    }

    /// The text of path column `column` for row `index`.
    pub fn cell(&self, column: usize, index: usize) -> &str {
        self.cells
            .get(column)
            .and_then(|cells| cells.get(index))
            .map_or("", String::as_str)
    }

    /// How many devices are listed (before filtering).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The count line under the list: "N devices" with no filter, "M of N devices" with
    /// one. Call after [`refresh_view`](Self::refresh_view), whose view it counts.
    pub fn count_line(&self) -> String {
        if self.filter.is_empty() {
            format!("{} devices", self.rows.len())
        } else {
            format!("{} of {} devices", self.view.len(), self.rows.len())
        }
    }

    /// The row index of a device.
    pub fn position(&self, device_id: &str) -> Option<usize> {
        self.positions.get(device_id).copied()
    }

    fn push_row(&mut self, row: DeviceRow) {
        for (column, path) in self.columns.iter().enumerate() {
            if let Some(cells) = self.cells.get_mut(column) {
                cells.push(cell_text(&row.twin, path));
            }
        }
        self.positions
            .insert(row.device_id.clone(), self.rows.len());
        self.rows.push(row);
    }

    fn matches(&self, index: usize, needle: &str) -> bool {
        let Some(row) = self.rows.get(index) else {
            return false;
        };
        row.device_id.to_lowercase().contains(needle)
            || self.cells.iter().any(|cells| {
                cells
                    .get(index)
                    .is_some_and(|cell| cell.to_lowercase().contains(needle))
            })
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

/// The text of the value at a dotted path, empty when absent.
fn cell_text(twin: &Value, path: &str) -> String {
    let mut value = twin;
    for key in path.split('.') {
        match value.get(key) {
            Some(inner) => value = inner,
            None => return String::new(),
        }
    }
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    cut(text, CELL_CHARS)
}

/// `2026-11-26T10:00:00.1234567Z` as `2026-11-26 10:00:00`; the never-active
/// `0001-01-01...` as empty.
fn display_time(time: &str) -> String {
    if time.is_empty() || time.starts_with("0001-01-01") {
        return String::new();
    }
    let mut shown: String = time.chars().take(19).collect();
    shown = shown.replacen('T', " ", 1);
    shown
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn twin(id: &str, location: Value, activity: &str) -> Value {
        json!({
            "deviceId": id, "status": "enabled", "connectionState": "Disconnected",
            "lastActivityTime": activity,
            "tags": {"location": location},
            "properties": {"desired": {"$metadata": {"x": 1}, "interval": 5}}
        })
    }

    fn shown_ids(table: &mut DeviceTable) -> Vec<String> {
        table.refresh_view();
        table
            .view()
            .iter()
            .map(|&i| table.row(i).unwrap().device_id.clone())
            .collect()
    }

    fn sample() -> DeviceTable {
        let mut table = DeviceTable::default();
        table.extend([
            twin("b", json!("Oslo"), "2026-11-26T10:00:00.5Z"),
            twin("a", json!(10), "0001-01-01T00:00:00Z"),
            twin("c", json!(9), "2026-11-25T10:00:00Z"),
        ]);
        table
    }

    #[test]
    fn rows_carry_the_fixed_columns_without_metadata() {
        let table = sample();
        let row = table.row(0).unwrap();
        assert_eq!(row.status, "enabled");
        assert_eq!(row.last_activity, "2026-11-26 10:00:00");
        assert!(row.twin["properties"]["desired"].get("$metadata").is_none());
        assert_eq!(table.row(1).unwrap().last_activity, "");
    }

    #[test]
    fn the_count_line_counts_every_row_without_a_filter_and_matches_with_one() {
        let mut table = sample();
        table.refresh_view();
        table.extend([twin("d", json!("Oslo"), "")]);
        // Rows arrived this frame and the view is not refreshed yet: still every row.
        assert_eq!(table.count_line(), "4 devices");
        table.set_filter("oslo");
        table.add_column("tags.location").unwrap();
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
        table.add_column("tags.location").unwrap();
        table.sort_by(SortKey::Path(0));
        assert_eq!(shown_ids(&mut table), ["c", "a", "b"]);
        assert_eq!(table.cell(0, 1), "10");
        table.remove_column(0);
        assert_eq!(table.sort().0, SortKey::Id);
    }

    #[test]
    fn bad_and_duplicate_columns_are_refused() {
        let mut table = sample();
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
        table.add_column("tags.location").unwrap();
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
        table.add_column("tags.location").unwrap();
        table.upsert(twin("a", json!("Rome"), "2026-11-26T11:00:00Z"));
        assert_eq!(table.len(), 3);
        let index = table.position("a").unwrap();
        assert_eq!(table.cell(0, index), "Rome");
        table.upsert(twin("d", json!("Lima"), ""));
        assert_eq!(table.len(), 4);
        table.remove("b");
        assert_eq!(shown_ids(&mut table), ["a", "c", "d"]);
        assert_eq!(table.cell(0, table.position("d").unwrap()), "Lima");
    }

    #[test]
    fn a_device_read_on_its_own_is_not_listed_twice() {
        let mut table = DeviceTable::default();
        table.upsert(twin("b", json!("Oslo"), ""));
        table.extend([twin("a", json!(1), ""), twin("b", json!("Rome"), "")]);
        assert_eq!(shown_ids(&mut table), ["a", "b"]);
        table.add_column("tags.location").unwrap();
        assert_eq!(table.cell(0, table.position("b").unwrap()), "Rome");
    }

    #[test]
    fn re_reading_an_unchanged_twin_keeps_the_order() {
        let mut table = sample();
        table.add_column("tags.location").unwrap();
        table.refresh_view();
        table.upsert(twin("b", json!("Oslo"), "2026-11-26T10:00:00.5Z"));
        assert!(!table.is_view_stale(), "nothing shown changed");
        table.upsert(twin("b", json!("Bergen"), "2026-11-26T10:00:00.5Z"));
        assert!(table.is_view_stale());
    }

    #[test]
    fn pages_are_merged_into_the_order_as_they_arrive() {
        let mut table = DeviceTable::default();
        table.add_column("tags.location").unwrap();
        table.sort_by(SortKey::Path(0));
        table.extend([twin("a", json!(5), ""), twin("b", json!(1), "")]);
        assert_eq!(shown_ids(&mut table), ["b", "a"]);
        table.extend([
            twin("c", json!(3), ""),
            twin("d", json!(9), ""),
            twin("e", json!("x"), ""),
        ]);
        assert_eq!(shown_ids(&mut table), ["b", "c", "a", "d", "e"]);
        table.set_filter("a");
        assert_eq!(shown_ids(&mut table), ["a"]);
        table.extend([twin("aa", json!(0), "")]);
        assert_eq!(
            shown_ids(&mut table),
            ["aa", "a"],
            "new rows are filtered too"
        );
        table.set_filter("");
        table.remove("c");
        assert_eq!(shown_ids(&mut table), ["aa", "b", "a", "d", "e"]);
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(200);
        assert_eq!(
            cell_text(&json!({"a": long}), "a").chars().count(),
            CELL_CHARS
        );
        assert_eq!(cell_text(&json!({"a": {"b": [1]}}), "a"), "{\"b\":[1]}");
        assert_eq!(cell_text(&json!({"a": 1}), "b.c"), "");
    }
}
