//! What the device list asks the hub for. The user's query chooses the devices (its
//! FROM, WHERE and TOP); the list asks only for what it shows: the device id, status,
//! connection state, last activity and each twin-path column, as a plain IoT Hub
//! projection (`SELECT deviceId, status, ..., tags.location AS c0 FROM devices WHERE
//! ...`), so a hub serialises, and the explorer parses, a few dozen bytes per device
//! instead of whole twins. Path columns are named by position (`c0`, `c1`, ...), since
//! two paths can end in the same member name.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value;

use super::text::cut;
use crate::query;

/// Longest text kept for a cell; longer values are cut with an ellipsis.
const CELL_CHARS: usize = 80;

/// The members every listed row carries, as IoT Hub names them in a projection.
pub const FIXED_MEMBERS: [&str; 4] = ["deviceId", "status", "connectionState", "lastActivityTime"];

/// How to read the rows of a list query into the list's compact form: which column
/// paths they carry, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReader {
    /// The column paths the rows carry, in order.
    pub paths: Arc<[String]>,
    /// Rows are projections naming each path's value by position ([`column_name`]);
    /// otherwise whole twins, holding each value at its path.
    pub projected: bool,
    /// Rows carry the fixed members (status, connection state, last activity); a
    /// column read on its own carries only the device id.
    pub fixed: bool,
}

impl RowReader {
    /// Reads whole twins for these column paths.
    pub fn twins(paths: &[String]) -> Self {
        RowReader {
            paths: paths.into(),
            projected: false,
            fixed: true,
        }
    }

    /// Reads a page of rows; rows without a device id are skipped.
    pub fn read(&self, rows: &[Value]) -> ListedRows {
        let mut listed = ListedRows::new(Arc::clone(&self.paths), self.fixed);
        for row in rows {
            self.read_into(row, &mut listed);
        }
        listed
    }

    /// Reads one row into `listed`; a row without a device id is skipped.
    fn read_into(&self, row: &Value, listed: &mut ListedRows) {
        let Some(device_id) = row.get("deviceId").and_then(Value::as_str) else {
            return;
        };
        let text = |key: &str| row.get(key).and_then(Value::as_str).unwrap_or_default();
        let fixed = if self.fixed {
            [
                text("status").to_owned(),
                text("connectionState").to_owned(),
                display_time(text("lastActivityTime")),
            ]
        } else {
            Default::default()
        };
        let cells: Vec<String> = self
            .paths
            .iter()
            .enumerate()
            .map(|(position, path)| {
                if self.projected {
                    cell_text(row, &column_name(position))
                } else {
                    cell_text(row, path)
                }
            })
            .collect();
        listed.push(
            device_id,
            fixed.each_ref().map(String::as_str),
            cells.iter().map(String::as_str),
        );
    }
}

/// Rows of a list query, read off the UI thread into what the list keeps, packed into
/// one text so that handing a page to the UI and dropping it costs two allocations,
/// not several per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRows {
    /// The column paths each row's cells are for, in order.
    pub paths: Arc<[String]>,
    /// Whether the rows carry the fixed columns.
    pub fixed: bool,
    /// Every text of every row, one after the other.
    text: String,
    /// Per row, the ends in `text` of its id, its three fixed texts and its cells.
    ends: Vec<u32>,
}

impl ListedRows {
    /// No rows yet, with cells for `paths`.
    pub fn new(paths: Arc<[String]>, fixed: bool) -> Self {
        ListedRows {
            paths,
            fixed,
            text: String::new(),
            ends: Vec::new(),
        }
    }

    /// Texts per row: the id, the three fixed texts, the cells.
    fn stride(&self) -> usize {
        1 + FIXED_TEXTS + self.paths.len()
    }

    /// Adds a row; `cells` are taken in the order of [`Self::paths`] (missing ones are
    /// empty, extra ones ignored).
    pub fn push<'t>(
        &mut self,
        device_id: &str,
        fixed: [&str; FIXED_TEXTS],
        cells: impl IntoIterator<Item = &'t str>,
    ) {
        let mut cells = cells.into_iter();
        let wanted = self.paths.len();
        let texts = std::iter::once(device_id)
            .chain(fixed)
            .chain((0..wanted).map(|_| cells.next().unwrap_or_default()));
        for text in texts {
            self.text.push_str(text);
            self.ends
                .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
        }
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.ends.len() / self.stride()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The rows in order.
    pub fn rows(&self) -> impl Iterator<Item = ListedRow<'_>> {
        self.ends
            .chunks_exact(self.stride())
            .enumerate()
            .map(move |(index, ends)| ListedRow {
                text: &self.text,
                start: if index == 0 {
                    0
                } else {
                    self.ends[index * self.stride() - 1]
                },
                ends,
            })
    }
}

/// Texts a row carries before its cells: status, connection state, last activity.
const FIXED_TEXTS: usize = 3;

/// One listed device as read from a row.
#[derive(Debug, Clone, Copy)]
pub struct ListedRow<'a> {
    text: &'a str,
    /// Where the row's first text starts.
    start: u32,
    ends: &'a [u32],
}

impl<'a> ListedRow<'a> {
    /// The `index`th text of the row (0: the id, then the fixed texts, then the cells).
    fn text(&self, index: usize) -> &'a str {
        let start = match index {
            0 => self.start,
            _ => self.ends[index - 1],
        };
        let end = self.ends[index];
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// The device id.
    pub fn device_id(&self) -> &'a str {
        self.text(0)
    }

    /// Status, connection state and last activity as shown (empty when not carried).
    pub fn fixed(&self) -> [&'a str; FIXED_TEXTS] {
        [self.text(1), self.text(2), self.text(3)]
    }

    /// The text of the cell for the column path at `position` in
    /// [`ListedRows::paths`].
    pub fn cell(&self, position: usize) -> Option<&'a str> {
        let index = 1 + FIXED_TEXTS + position;
        (index < self.ends.len()).then(|| self.text(index))
    }
}

/// The name the list gives the projected column at `position`.
pub fn column_name(position: usize) -> String {
    format!("c{position}")
}

/// The text of the value at a dotted path, empty when absent or null, cut to
/// [`CELL_CHARS`].
fn cell_text(row: &Value, path: &str) -> String {
    let mut value = row;
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

/// A query the list sends, and how its rows are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The query text sent to the hub.
    pub text: String,
    /// How its rows are read.
    pub reader: RowReader,
}

/// What the list makes of the user's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPlan {
    /// The query to send.
    pub query: ListQuery,
    /// Twin paths the user's own projection names that the list does not show yet:
    /// they become columns.
    pub new_columns: Vec<String>,
}

/// Why a query cannot fill the device list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListQueryError {
    /// The query does not parse.
    #[error("{0}")]
    Invalid(String),
    /// The query parses but its rows are not devices.
    #[error(
        "the device list shows devices: use SELECT * FROM devices [WHERE ...], or SELECT twin paths \
         (SELECT deviceId, tags.location FROM devices ...); aggregates and expressions belong in other tools"
    )]
    NotDevices,
    /// A column path cannot be written in the query language.
    #[error("the column {0} cannot be asked for: {1}")]
    Column(String, String),
}

/// Plans the list query for the user's `query_text` with the list's `columns`.
/// A query this parser cannot read is sent as it is when `checked_locally` is false
/// (a remote hub's language may be newer), and its rows are then read as whole twins.
pub fn plan(
    query_text: &str,
    columns: &[String],
    checked_locally: bool,
) -> Result<ListPlan, ListQueryError> {
    let parsed = match query::parse(query_text) {
        Ok(parsed) => parsed,
        Err(_) if !checked_locally => {
            return Ok(ListPlan {
                query: ListQuery {
                    text: query_text.to_owned(),
                    reader: RowReader::twins(columns),
                },
                new_columns: Vec::new(),
            });
        }
        Err(error) => return Err(ListQueryError::Invalid(error.render_with_caret(query_text))),
    };
    let new_columns = match parsed.item_type() {
        query::ItemType::Twin => Vec::new(),
        query::ItemType::DeviceJob => return Err(ListQueryError::NotDevices),
        query::ItemType::Json => {
            let paths = parsed.projected_paths().ok_or(ListQueryError::NotDevices)?;
            let mut new_columns: Vec<String> = Vec::new();
            for path in paths {
                if !FIXED_MEMBERS.contains(&path.as_str())
                    && !columns.contains(&path)
                    && !new_columns.contains(&path)
                {
                    new_columns.push(path);
                }
            }
            new_columns
        }
    };
    let all: Vec<String> = columns.iter().chain(&new_columns).cloned().collect();
    let query = projection(&parsed, &all, true)?;
    Ok(ListPlan { query, new_columns })
}

/// The query that reads one more column, `path`, for the devices `query_text` selects
/// (its TOP included); `None` when this parser cannot read the query, and the whole
/// list must be asked for again instead.
pub fn column_query(query_text: &str, path: &str) -> Result<Option<ListQuery>, ListQueryError> {
    let Ok(parsed) = query::parse(query_text) else {
        return Ok(None);
    };
    projection(&parsed, &[path.to_owned()], false).map(Some)
}

/// `SELECT [TOP n] deviceId[, status, connectionState, lastActivityTime], <path> AS c0, ...
/// <FROM ...>` for the devices `parsed` selects.
fn projection(
    parsed: &query::Query,
    paths: &[String],
    with_fixed: bool,
) -> Result<ListQuery, ListQueryError> {
    let mut text = match parsed.top() {
        Some(top) => format!("SELECT TOP {top} "),
        None => "SELECT ".to_owned(),
    };
    let fixed = if with_fixed {
        &FIXED_MEMBERS[..]
    } else {
        &FIXED_MEMBERS[..1]
    };
    text.push_str(&fixed.join(", "));
    for (position, path) in paths.iter().enumerate() {
        let written =
            query_path(path).map_err(|why| ListQueryError::Column(path.clone(), why.to_owned()))?;
        let _ = write!(text, ", {written} AS {}", column_name(position));
    }
    text.push(' ');
    text.push_str(&parsed.from_clauses());
    Ok(ListQuery {
        text,
        reader: RowReader {
            paths: paths.into(),
            projected: true,
            fixed: with_fixed,
        },
    })
}

/// A dotted column path as the query language writes it: plain member names as they
/// are, others quoted as `[[name]]`.
pub fn query_path(path: &str) -> Result<String, &'static str> {
    let mut written = String::with_capacity(path.len());
    for (index, member) in path.split('.').enumerate() {
        if member.is_empty() {
            return Err("a member name is empty");
        }
        if index > 0 {
            written.push('.');
        }
        let plain = member
            .chars()
            .next()
            .is_some_and(|first| first.is_alphabetic() || first == '_' || first == '$')
            && member
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
        if plain {
            written.push_str(member);
        } else if member.contains(['[', ']', '\'', '"', ',']) {
            return Err("member names with brackets, quotes or commas cannot be queried");
        } else {
            let _ = write!(written, "[[{member}]]");
        }
    }
    Ok(written)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn columns(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|path| (*path).to_owned()).collect()
    }

    #[test]
    fn select_star_becomes_a_projection_of_the_shown_columns_with_the_same_where() {
        let plan = plan(
            "SELECT * FROM devices WHERE tags.location = 'Oslo'",
            &columns(&["tags.location", "properties.reported.firmware.version"]),
            true,
        )
        .unwrap();
        assert_eq!(
            plan.query.text,
            "SELECT deviceId, status, connectionState, lastActivityTime, tags.location AS c0, \
             properties.reported.firmware.version AS c1 FROM devices WHERE tags.location = 'Oslo'"
        );
        assert!(plan.new_columns.is_empty());
        let listed = plan.query.reader.read(&[
            json!({"deviceId": "d1", "status": "enabled", "connectionState": "Connected",
                   "lastActivityTime": "2026-11-26T10:00:00.1234567Z", "c0": "Oslo", "c1": 2}),
            json!({"status": "enabled"}),
        ]);
        assert_eq!(listed.len(), 1, "a row without a device id is skipped");
        let row = listed.rows().next().unwrap();
        assert_eq!(row.device_id(), "d1");
        assert_eq!(row.fixed(), ["enabled", "Connected", "2026-11-26 10:00:00"]);
        assert_eq!(
            (row.cell(0), row.cell(1), row.cell(2)),
            (Some("Oslo"), Some("2"), None)
        );
        let rows = crate::query::parse(&plan.query.text).unwrap();
        assert_eq!(rows.item_type(), crate::query::ItemType::Json);
    }

    #[test]
    fn a_users_projection_adds_its_paths_as_columns_and_keeps_top() {
        let plan = plan(
            "select top 10 DeviceId, tags.floor, tags.location from devices",
            &columns(&["tags.location"]),
            true,
        )
        .unwrap();
        assert_eq!(plan.new_columns, ["tags.floor"]);
        assert_eq!(
            plan.query.text,
            "SELECT TOP 10 deviceId, status, connectionState, lastActivityTime, tags.location AS c0, \
             tags.floor AS c1 from devices"
        );
    }

    #[test]
    fn aggregates_and_bad_queries_are_refused_and_unknown_remote_queries_read_twins() {
        assert_eq!(
            plan("SELECT COUNT() AS n FROM devices", &[], true),
            Err(ListQueryError::NotDevices)
        );
        assert_eq!(
            plan("SELECT LOWER(deviceId) FROM devices", &[], true),
            Err(ListQueryError::NotDevices)
        );
        assert_eq!(
            plan("SELECT * FROM devices.jobs", &[], true),
            Err(ListQueryError::NotDevices)
        );
        assert!(matches!(
            plan("SELECT * FROM devices WHERE", &[], true),
            Err(ListQueryError::Invalid(_))
        ));
        let remote = plan(
            "SELECT * FROM devices WHERE NEWFUNC(x)",
            &columns(&["tags.a.b"]),
            false,
        )
        .unwrap();
        assert!(!remote.query.reader.projected);
        let twin = json!({"deviceId": "d1", "lastActivityTime": "0001-01-01T00:00:00Z",
                          "tags": {"a": {"b": {"c": [1]}}}});
        let listed = remote.query.reader.read(&[twin]);
        let row = listed.rows().next().unwrap();
        assert_eq!(row.cell(0), Some("{\"c\":[1]}"));
        assert_eq!(row.fixed()[2], "", "never active");
        assert_eq!(remote.query.text, "SELECT * FROM devices WHERE NEWFUNC(x)");
    }

    #[test]
    fn a_column_is_fetched_alone_for_the_same_devices() {
        let fetch = column_query("SELECT * FROM devices WHERE status = 'enabled'", "tags.x")
            .unwrap()
            .unwrap();
        assert_eq!(
            fetch.text,
            "SELECT deviceId, tags.x AS c0 FROM devices WHERE status = 'enabled'"
        );
        assert!(!fetch.reader.fixed);
        assert_eq!(column_query("SELECT ??", "tags.x").unwrap(), None);
        let long = "x".repeat(200);
        let listed = fetch.reader.read(&[json!({"deviceId": "d", "c0": long})]);
        let row = listed.rows().next().unwrap();
        assert_eq!(
            row.cell(0).unwrap().chars().count(),
            CELL_CHARS,
            "long values are cut"
        );
    }

    #[test]
    fn packed_rows_give_back_what_was_pushed() {
        let mut listed = ListedRows::new(vec!["a".to_owned(), "b".to_owned()].into(), true);
        assert!(listed.is_empty());
        listed.push("d1", ["enabled", "", "x"], ["1", "2"]);
        listed.push("", ["", "", ""], ["only one"]);
        listed.push("d3", ["s", "c", "t"], ["é", "ü", "extra"]);
        assert_eq!(listed.len(), 3);
        let rows: Vec<_> = listed
            .rows()
            .map(|row| (row.device_id(), row.fixed(), row.cell(0), row.cell(1)))
            .collect();
        assert_eq!(
            rows,
            [
                ("d1", ["enabled", "", "x"], Some("1"), Some("2")),
                ("", ["", "", ""], Some("only one"), Some("")),
                ("d3", ["s", "c", "t"], Some("é"), Some("ü")),
            ]
        );
    }

    #[test]
    fn member_names_that_are_not_plain_are_quoted() {
        assert_eq!(
            query_path("tags.my-site.2nd").unwrap(),
            "tags.[[my-site]].[[2nd]]"
        );
        assert_eq!(
            query_path("properties.reported.$version").unwrap(),
            "properties.reported.$version"
        );
        assert!(query_path("tags.a]]b").is_err());
        for keyword_member in ["tags.from", "tags.select.where", "properties.reported.as"] {
            let written = format!(
                "SELECT deviceId, {} AS c0 FROM devices",
                query_path(keyword_member).unwrap()
            );
            assert!(crate::query::parse(&written).is_ok(), "{written}");
        }
        let written = format!(
            "SELECT {} AS c0 FROM devices",
            query_path("tags.my-site").unwrap()
        );
        assert!(crate::query::parse(&written).is_ok(), "{written}");
    }
}
