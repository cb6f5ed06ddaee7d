//! Writing snapshots: twins are streamed to a temporary file in the target folder one at
//! a time (constant memory whatever the count), and only [`SnapshotWriter::finish`]
//! flushes it to disk and renames it into place. A writer dropped before `finish` (an
//! error, a cancelled export) leaves no file behind.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::NamedTempFile;

use super::{Layout, SnapshotError, SnapshotHeader};

/// A snapshot being written.
pub struct SnapshotWriter {
    path: PathBuf,
    layout: Layout,
    out: BufWriter<NamedTempFile>,
    twin_keys: HashSet<String>,
}

impl SnapshotWriter {
    /// Starts a snapshot at `path` (its layout from the file name, see
    /// [`Layout::for_path`]).
    pub fn create(path: &Path, header: &SnapshotHeader) -> Result<Self, SnapshotError> {
        let layout = Layout::for_path(path);
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temporary = NamedTempFile::new_in(folder).map_err(|source| SnapshotError::Io {
            action: "create",
            path: path.to_owned(),
            source,
        })?;
        let mut writer = SnapshotWriter {
            path: path.to_owned(),
            layout,
            out: BufWriter::new(temporary),
            twin_keys: HashSet::new(),
        };
        let fields = Value::Object(header.to_json(layout)).to_string();
        match layout {
            Layout::Ndjson => writer.write_raw(&format!("{fields}\n"))?,
            // The header object without its closing brace, then the twins array.
            Layout::Json => {
                writer.write_raw(&format!("{},\"twins\":[", fields.trim_end_matches('}')))?
            }
        }
        Ok(writer)
    }

    /// How many twins were written so far.
    pub fn count(&self) -> usize {
        self.twin_keys.len()
    }

    /// Appends one twin; it must be an object with a `deviceId` (and, for a module's
    /// twin, a `moduleId`) not written before.
    pub fn write_twin(&mut self, twin: &Value) -> Result<(), SnapshotError> {
        let Some(key) = crate::twin::key::of_document(twin) else {
            return Err(SnapshotError::NotASnapshot {
                path: self.path.clone(),
                reason: format!("twin number {} has no string deviceId", self.count() + 1),
            });
        };
        if self.twin_keys.contains(&key) {
            return Err(SnapshotError::NotASnapshot {
                path: self.path.clone(),
                reason: format!(
                    "the twin of {} appears twice",
                    crate::twin::key::describe(&key)
                ),
            });
        }
        self.twin_keys.insert(key);
        let separator = match (self.layout, self.count()) {
            (Layout::Json, 1) => "\n",
            (Layout::Json, _) => ",\n",
            (Layout::Ndjson, _) => "",
        };
        let line = twin.to_string();
        let ending = if self.layout == Layout::Ndjson {
            "\n"
        } else {
            ""
        };
        self.write_raw(&format!("{separator}{line}{ending}"))
    }

    /// Completes the file: closes the document, flushes it to disk and renames it to
    /// its final name. Returns how many twins it holds.
    pub fn finish(mut self) -> Result<usize, SnapshotError> {
        let count = self.count();
        if self.layout == Layout::Json {
            self.write_raw(&format!("\n],\"twinCount\":{count}}}\n"))?;
        }
        let path = self.path.clone();
        let io = |action, source| SnapshotError::Io {
            action,
            path: path.clone(),
            source,
        };
        let temporary = self
            .out
            .into_inner()
            .map_err(|e| io("write", e.into_error()))?;
        temporary.as_file().sync_all().map_err(|e| io("write", e))?;
        temporary.persist(&path).map_err(|e| io("save", e.error))?;
        Ok(count)
    }

    fn write_raw(&mut self, text: &str) -> Result<(), SnapshotError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|source| SnapshotError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })
    }
}
