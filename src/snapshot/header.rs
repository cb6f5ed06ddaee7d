//! The snapshot header: which hub, which query, when, and the format identity that
//! readers check before trusting anything else in a file.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::SnapshotError;

/// The `format` value of every snapshot.
pub const FORMAT_NAME: &str = "twinlens-snapshot";
/// The format version this build writes: 2 adds module twins beside device twins.
pub const FORMAT_VERSION: u64 = 2;
/// The oldest format version this build reads (version 1 holds device twins only).
pub const OLDEST_READABLE_VERSION: u64 = 1;

/// How the twins are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One JSON document with a `twins` array.
    Json,
    /// A header line, then one twin per line.
    Ndjson,
}

impl Layout {
    /// The layout a file name asks for: `.ndjson` (or `.jsonl`) is NDJSON, anything
    /// else the JSON document.
    pub fn for_path(path: &Path) -> Layout {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("ndjson" | "jsonl") => Layout::Ndjson,
            _ => Layout::Json,
        }
    }
}

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The hub's host name (never a key or connection string).
    pub hub_host_name: String,
    /// The query that selected the twins.
    pub query: String,
    /// When the export started (ISO-8601 UTC).
    pub taken_at: String,
}

impl SnapshotHeader {
    /// The header fields as JSON, for `layout`.
    pub(crate) fn to_json(&self, layout: Layout) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("format".into(), json!(FORMAT_NAME));
        fields.insert("formatVersion".into(), json!(FORMAT_VERSION));
        if layout == Layout::Ndjson {
            fields.insert("layout".into(), json!("ndjson"));
        }
        fields.insert("hubHostName".into(), json!(self.hub_host_name));
        fields.insert("query".into(), json!(self.query));
        fields.insert("takenAt".into(), json!(self.taken_at));
        fields
    }

    /// Reads and checks the header fields of a parsed header object.
    pub(crate) fn from_json(
        path: &Path,
        fields: &Map<String, Value>,
    ) -> Result<Self, SnapshotError> {
        let not_a_snapshot = |reason: String| SnapshotError::NotASnapshot {
            path: path.to_owned(),
            reason,
        };
        match fields.get("format").and_then(Value::as_str) {
            Some(FORMAT_NAME) => {}
            Some(other) => return Err(not_a_snapshot(format!("its format is \"{other}\""))),
            None => {
                return Err(not_a_snapshot(format!(
                    "it has no \"format\": \"{FORMAT_NAME}\" field"
                )));
            }
        }
        match fields.get("formatVersion").and_then(Value::as_u64) {
            Some(OLDEST_READABLE_VERSION..=FORMAT_VERSION) => {}
            Some(found) => {
                return Err(SnapshotError::UnsupportedVersion {
                    path: path.to_owned(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            None => {
                return Err(not_a_snapshot(
                    "its formatVersion is missing or not a whole number".into(),
                ));
            }
        }
        let text = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    not_a_snapshot(format!(
                        "the header field \"{name}\" is missing or not text"
                    ))
                })
        };
        Ok(SnapshotHeader {
            hub_host_name: text("hubHostName")?,
            query: text("query")?,
            taken_at: text("takenAt")?,
        })
    }
}

/// The default file name of a snapshot: `{kind}-{subject}-{UTC time}.json`, e.g.
/// `twins-contoso.azure-devices.net-20261126T101500Z.json`, with any character that
/// does not belong in a file name replaced by `_`.
pub fn default_file_name(
    kind: &str,
    subject: &str,
    taken_at: chrono::DateTime<chrono::Utc>,
) -> String {
    let subject = subject.replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
        "_",
    );
    format!(
        "{kind}-{subject}-{}.json",
        taken_at.format("%Y%m%dT%H%M%SZ")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_names_are_safe_and_sortable() {
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        assert_eq!(
            super::default_file_name("twins", "localhost:8443/x y", at),
            format!(
                "twins-localhost_8443_x_y-{}.json",
                at.format("%Y%m%dT%H%M%SZ")
            )
        );
    }
}
