//! Exporting twins from a hub into a snapshot file, for the command line and the
//! explorer's background worker alike: the twins of a query, streamed page by page
//! (constant memory whatever the count), or the twins of a list of devices. The file
//! appears only when the export completed. No progress bar or other UI here: callers
//! get `(done, total)` callbacks.

use std::path::Path;

use futures_util::StreamExt;

use super::{SnapshotError, SnapshotHeader, SnapshotWriter};
use crate::query::ItemType;
use crate::service::{ServiceClient, ServiceError};

/// Twins asked for per query page.
const PAGE_SIZE: u32 = 1000;

/// Why an export failed; no file was written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The query does not parse; the message shows where.
    #[error("the query is not valid: {0}")]
    InvalidQuery(String),
    /// The query selects something other than whole twins.
    #[error(
        "a snapshot holds whole twins: export needs a query of the form SELECT * FROM devices [WHERE ...]"
    )]
    NotWholeTwins,
    /// The hub could not be read.
    #[error("the export from {host} failed; no file was written: {source}")]
    Service {
        /// The hub's host name.
        host: String,
        /// What went wrong.
        source: ServiceError,
    },
    /// The snapshot file could not be written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// Writes the twins `query` selects to `out`; returns how many. `progress` is called
/// with `(twins written, twins the query selects)` after every page, the total `None`
/// when the hub cannot count them.
pub async fn export_query(
    client: &ServiceClient,
    query: &str,
    out: &Path,
    header: &SnapshotHeader,
    mut progress: impl FnMut(usize, Option<u64>),
) -> Result<usize, ExportError> {
    let parsed = crate::query::parse(query)
        .map_err(|error| ExportError::InvalidQuery(error.render_with_caret(query)))?;
    if parsed.item_type() != ItemType::Twin {
        return Err(ExportError::NotWholeTwins);
    }
    let failed = |source| ExportError::Service {
        host: header.hub_host_name.clone(),
        source,
    };
    let total = client.count_matching(query).await;
    progress(0, total);
    let mut writer = SnapshotWriter::create(out, header)?;
    let pages = client.query(query, Some(PAGE_SIZE));
    futures_util::pin_mut!(pages);
    while let Some(page) = pages.next().await {
        for twin in &page.map_err(failed)?.rows {
            writer.write_twin(twin)?;
        }
        progress(writer.count(), total);
    }
    Ok(writer.finish()?)
}

/// Writes the twins of `device_ids` to `out`, in that order; returns how many.
/// `progress` is called with `(twins written, device count)` after every twin.
pub async fn export_devices(
    client: &ServiceClient,
    device_ids: &[String],
    out: &Path,
    header: &SnapshotHeader,
    mut progress: impl FnMut(usize, Option<u64>),
) -> Result<usize, ExportError> {
    let total = Some(device_ids.len() as u64);
    progress(0, total);
    let mut writer = SnapshotWriter::create(out, header)?;
    for device_id in device_ids {
        let twin = client
            .get_twin(device_id)
            .await
            .map_err(|source| ExportError::Service {
                host: header.hub_host_name.clone(),
                source,
            })?;
        let twin = serde_json::to_value(&twin).map_err(|error| ExportError::Service {
            host: header.hub_host_name.clone(),
            source: ServiceError::UnexpectedResponse {
                operation: format!("reading the twin of device '{device_id}'"),
                expected: "device twin JSON",
                detail: error.to_string(),
            },
        })?;
        writer.write_twin(&twin)?;
        progress(writer.count(), total);
    }
    Ok(writer.finish()?)
}
