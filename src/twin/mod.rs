//! The IoT Hub device twin, modelled exactly as Azure IoT Hub keeps it, so that the
//! local hub answers like Azure and the explorer can reason about twins offline.
//!
//! Pure data logic: no I/O, no clock (every write takes `now`), no UI, no network.
//!
//! - [`document`]: the [`Twin`] itself (identity fields, tags, desired, reported,
//!   `version`/`etag`), with its writes in `service_write` (service PATCH/PUT of tags
//!   and desired) and `reported_write` (device PATCH of reported, also on the reported
//!   section alone for a store that keeps twins in another form), and its JSON views
//!   (service view, lossless inverse, device view) in `codec`.
//! - `section` and `metadata`: one property section with its `$version` and the
//!   `$metadata` tree of `$lastUpdated` (and, for desired, `$lastUpdatedVersion`) stamps.
//! - [`limits`]: IoT Hub's key, value, depth and size rules, checked before anything is
//!   applied; [`error`] says which rule broke, where, and with which Azure error code.
//! - [`merge`]: RFC 7386 merge patch and the patch between two documents.
//! - [`mod@diff`]: structural diff of two JSON documents, for patch previews and snapshots.
//! - [`plug_and_play`]: IoT Plug and Play on the twin: components, writable-property
//!   acknowledgements, the digital twin view and its JSON Patch.
//! - [`path`]: dotted paths (`tags.location.city`, `a["b.c"]`) naming places in JSON.
//! - [`timestamp`]: IoT Hub's seven-digit UTC timestamps.
//! - [`key`]: one name for device and module twins side by side (`d1`, `d1/m1`).

mod codec;
pub mod diff;
pub mod document;
pub mod error;
pub mod key;
pub mod limits;
pub mod merge;
mod metadata;
pub mod path;
pub mod plug_and_play;
mod reported_write;
mod section;
mod service_write;
pub mod timestamp;

pub use diff::{Change, ChangeKind, diff, diff_ignoring_system_keys, without_system_keys};
pub use document::{
    AuthenticationType, Capabilities, ConnectionState, DesiredChange, DeviceStatus, Twin,
    X509Thumbprint, etag_for_version,
};
pub use error::{TwinError, ValidationRule};
pub use limits::Section;
pub use merge::{merge_patch, merge_patch_between};
pub use metadata::strip_metadata;
pub use path::{JsonPath, ParsePathError, PathSegment};
pub use reported_write::{ReportedUpdate, checked_reported_patch, patch_reported_section};
pub use timestamp::{UNSET_TIMESTAMP, format_timestamp};
