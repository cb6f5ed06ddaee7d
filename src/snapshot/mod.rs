//! Twin snapshots: files that record the twins of one hub at one time, in the format
//! documented in `docs/snapshot-format.md` (a JSON document, or NDJSON for large
//! exports). This module owns reading and writing them, and moving twins between files
//! and hubs through the service client; it has no UI.
//!
//! - [`header`]: the header fields and the format identity checks.
//! - [`write`]: a streaming, atomic writer (temp file + rename).
//! - [`read`]: readers for both layouts with errors naming the line.
//! - [`compare`]: per-device differences between two sets of twins.
//! - [`export`]: a query's twins (or a list of devices') from a hub into a file.
//! - [`import`]: the tags and desired properties of a file into a hub, planned first,
//!   then applied with etags.

pub mod compare;
pub mod export;
pub mod header;
pub mod import;
pub mod live;
pub mod read;
pub mod write;

pub use export::{ExportError, export_devices, export_query};
pub use header::{
    FORMAT_NAME, FORMAT_VERSION, Layout, OLDEST_READABLE_VERSION, SnapshotHeader, default_file_name,
};
pub use import::{
    DeviceResult, ImportAction, ImportCounts, ImportError, ImportOptions, ImportOutcome,
    ImportPlan, ImportReport, PlannedDevice, apply_import, plan_import,
};
pub use live::live_twins;
pub use read::{Snapshot, SnapshotReader, read_snapshot};
pub use write::SnapshotWriter;

use std::path::PathBuf;

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be opened, read or written.
    #[error("could not {action} the snapshot {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is damaged or truncated at a line.
    #[error(
        "the snapshot {path} is damaged at line {line}: {reason}; re-export it or restore an intact copy"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong there.
        reason: String,
    },
    /// The file is not a twinlens snapshot at all.
    #[error("{path} is not a twinlens snapshot: {reason}")]
    NotASnapshot {
        /// The file.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// The file is a snapshot of another format version.
    #[error(
        "the snapshot {path} has format version {found}, but this twinlens reads versions 1 to \
         {supported}; use a twinlens release that matches the file"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
}
