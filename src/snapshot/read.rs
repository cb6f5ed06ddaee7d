//! Reading snapshots of either layout. NDJSON files are streamed twin by twin; a JSON
//! document is parsed whole. Every problem is reported with the file and line.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Layout, SnapshotError, SnapshotHeader};

/// A snapshot read whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// What the file says about itself.
    pub header: SnapshotHeader,
    /// Its layout.
    pub layout: Layout,
    /// The twins, in file order.
    pub twins: Vec<Value>,
}

/// Reads a whole snapshot.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, SnapshotError> {
    let mut reader = SnapshotReader::open(path)?;
    let twins = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok(Snapshot {
        header: reader.header.clone(),
        layout: reader.layout,
        twins,
    })
}

/// Yields the twins of a snapshot one at a time.
pub struct SnapshotReader {
    /// What the file says about itself.
    pub header: SnapshotHeader,
    /// Its layout.
    pub layout: Layout,
    path: PathBuf,
    source: Source,
    /// The keys of the twins read so far ([`crate::twin::key`]).
    twin_keys: HashSet<String>,
}

enum Source {
    Lines {
        lines: Lines<BufReader<File>>,
        line: usize,
    },
    Parsed(std::vec::IntoIter<(usize, Value)>),
}

impl SnapshotReader {
    /// Opens a snapshot and checks its header.
    pub fn open(path: &Path) -> Result<Self, SnapshotError> {
        let io = |source| SnapshotError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        };
        let mut lines = BufReader::new(File::open(path).map_err(io)?).lines();
        let first = lines.next().transpose().map_err(io)?.unwrap_or_default();
        // An NDJSON header is a complete object on the first line.
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&first)
            && fields.get("layout").and_then(Value::as_str) == Some("ndjson")
        {
            let header = SnapshotHeader::from_json(path, &fields)?;
            return Ok(Self::new(
                path,
                header,
                Layout::Ndjson,
                Source::Lines { lines, line: 1 },
            ));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let document: Value =
            serde_json::from_str(&text).map_err(|e| damaged(path, e.line(), describe(&e)))?;
        let Value::Object(fields) = document else {
            return Err(SnapshotError::NotASnapshot {
                path: path.to_owned(),
                reason: "it is not a JSON object".into(),
            });
        };
        let header = SnapshotHeader::from_json(path, &fields)?;
        let twins = match fields.get("twins") {
            Some(Value::Array(twins)) => twins.clone(),
            _ => return Err(damaged(path, 1, "the \"twins\" array is missing".into())),
        };
        if let Some(expected) = fields.get("twinCount").and_then(Value::as_u64)
            && usize::try_from(expected).ok() != Some(twins.len())
        {
            return Err(damaged(
                path,
                text.lines().count(),
                format!(
                    "twinCount says {expected} but the file holds {} twins",
                    twins.len()
                ),
            ));
        }
        // The writer puts twin n on line n + 1; other formatting gets line 1.
        let numbered: Vec<(usize, Value)> = twins
            .into_iter()
            .enumerate()
            .map(|(n, twin)| (n + 2, twin))
            .collect();
        Ok(Self::new(
            path,
            header,
            Layout::Json,
            Source::Parsed(numbered.into_iter()),
        ))
    }

    fn new(path: &Path, header: SnapshotHeader, layout: Layout, source: Source) -> Self {
        SnapshotReader {
            header,
            layout,
            path: path.to_owned(),
            source,
            twin_keys: HashSet::new(),
        }
    }

    fn next_twin(&mut self) -> Option<Result<Value, SnapshotError>> {
        let (line, twin) = match &mut self.source {
            Source::Parsed(twins) => twins.next()?,
            Source::Lines { lines, line } => loop {
                *line += 1;
                let text = match lines.next()? {
                    Ok(text) => text,
                    Err(source) => {
                        return Some(Err(SnapshotError::Io {
                            action: "read",
                            path: self.path.clone(),
                            source,
                        }));
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(&text) {
                    Ok(twin) => break (*line, twin),
                    Err(error) => return Some(Err(damaged(&self.path, *line, describe(&error)))),
                }
            },
        };
        Some(self.check(line, twin))
    }

    fn check(&mut self, line: usize, twin: Value) -> Result<Value, SnapshotError> {
        let Some(key) = crate::twin::key::of_document(&twin) else {
            return Err(damaged(
                &self.path,
                line,
                "the twin has no string deviceId (or its moduleId is not a string)".into(),
            ));
        };
        if self.twin_keys.contains(&key) {
            return Err(damaged(
                &self.path,
                line,
                format!(
                    "the twin of {} appears a second time",
                    crate::twin::key::describe(&key)
                ),
            ));
        }
        self.twin_keys.insert(key);
        Ok(twin)
    }
}

impl Iterator for SnapshotReader {
    type Item = Result<Value, SnapshotError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_twin()
    }
}

fn damaged(path: &Path, line: usize, reason: String) -> SnapshotError {
    SnapshotError::Damaged {
        path: path.to_owned(),
        line,
        reason,
    }
}

fn describe(error: &serde_json::Error) -> String {
    if error.is_eof() {
        format!(
            "the file ends early (truncated?) at column {}",
            error.column()
        )
    } else {
        format!("{error}")
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
