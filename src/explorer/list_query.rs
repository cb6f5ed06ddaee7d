//! What the device list asks the hub for. The user's query chooses the devices (its
//! FROM, WHERE and TOP); the list asks only for what it shows: the device id, status,
//! connection state, last activity and each twin-path column, as a plain IoT Hub
//! projection (`SELECT deviceId, status, ..., tags.location AS c0 FROM devices WHERE
//! ...`), so a hub serialises, and the explorer parses, a few dozen bytes per device
//! instead of whole twins. Path columns are named by position (`c0`, `c1`, ...), since
//! two paths can end in the same member name.

use std::fmt::Write as _;

use crate::query;

/// The members every listed row carries, as IoT Hub names them in a projection.
pub const FIXED_MEMBERS: [&str; 4] = ["deviceId", "status", "connectionState", "lastActivityTime"];

/// How the rows of a list query hold the path columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowShape {
    /// Whole twins: each column's value is at its path.
    Twins,
    /// A projection of these column paths, each under the name [`column_name`] of its
    /// position.
    Projected(Vec<String>),
}

impl RowShape {
    /// Where a row of this shape holds the value of the column at `path`, as a dotted
    /// path into the row; `None` when the rows do not carry that column.
    pub fn member_for(&self, path: &str) -> Option<String> {
        match self {
            RowShape::Twins => Some(path.to_owned()),
            RowShape::Projected(paths) => paths
                .iter()
                .position(|fetched| fetched == path)
                .map(column_name),
        }
    }
}

/// The name the list gives the projected column at `position`.
pub fn column_name(position: usize) -> String {
    format!("c{position}")
}

/// A query the list sends, and how its rows are shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The query text sent to the hub.
    pub text: String,
    /// How its rows hold the columns.
    pub shape: RowShape,
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
                    shape: RowShape::Twins,
                },
                new_columns: Vec::new(),
            });
        }
        Err(error) => return Err(ListQueryError::Invalid(error.render_with_caret(query_text))),
    };
    let new_columns = match parsed.item_type() {
        query::ItemType::Twin => Vec::new(),
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
    let top = parsed.top().map(|top| format!("TOP {top} "));
    let query = projection(
        top.as_deref().unwrap_or(""),
        &all,
        &parsed.from_clauses(),
        true,
    )?;
    Ok(ListPlan { query, new_columns })
}

/// The query that reads one more column, `path`, for the devices `query_text` selects
/// (its TOP included); `None` when this parser cannot read the query, and the whole
/// list must be asked for again instead.
pub fn column_query(query_text: &str, path: &str) -> Result<Option<ListQuery>, ListQueryError> {
    let Ok(parsed) = query::parse(query_text) else {
        return Ok(None);
    };
    let top = parsed.top().map(|top| format!("TOP {top} "));
    projection(
        top.as_deref().unwrap_or(""),
        &[path.to_owned()],
        &parsed.from_clauses(),
        false,
    )
    .map(Some)
}

/// `SELECT <top>deviceId[, status, connectionState, lastActivityTime], <path> AS c0, ...
/// <from>`.
fn projection(
    top: &str,
    paths: &[String],
    from: &str,
    with_fixed: bool,
) -> Result<ListQuery, ListQueryError> {
    let mut text = format!("SELECT {top}");
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
    text.push_str(from);
    Ok(ListQuery {
        text,
        shape: RowShape::Projected(paths.to_vec()),
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
        assert_eq!(
            plan.query
                .shape
                .member_for("properties.reported.firmware.version"),
            Some("c1".to_owned())
        );
        assert_eq!(plan.query.shape.member_for("tags.other"), None);
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
        assert!(matches!(
            plan("SELECT * FROM devices WHERE", &[], true),
            Err(ListQueryError::Invalid(_))
        ));
        let remote = plan("SELECT * FROM devices WHERE NEWFUNC(x)", &[], false).unwrap();
        assert_eq!(remote.query.shape, RowShape::Twins);
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
        assert_eq!(column_query("SELECT ??", "tags.x").unwrap(), None);
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
