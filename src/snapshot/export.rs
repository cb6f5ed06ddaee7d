//! Exporting twins from a hub into a snapshot file, for the command line and the
//! explorer's background worker alike: the twins of a query, streamed page by page
//! (constant memory whatever the count), or the twins of a list of devices; then the
//! twins of those devices' modules. The file appears only when the export completed.
//! No progress bar or other UI here: callers get `(done, total)` callbacks.

use std::collections::HashSet;
use std::path::Path;

use futures_util::StreamExt;
use serde_json::Value;

use super::{SnapshotError, SnapshotHeader, SnapshotWriter};
use crate::query::ItemType;
use crate::service::{ServiceClient, ServiceError};

/// Twins asked for per query page.
const PAGE_SIZE: u32 = 1000;
/// Up to this many devices, their modules are asked for with `deviceId IN [...]`
/// queries; for more, every module twin is read and other devices' dropped.
const FEW_DEVICES: usize = 2000;
/// Characters of device ids per `IN` list, well within IoT Hub's 8,192-character query.
const IN_LIST_CHARACTERS: usize = 6000;

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
    let mut device_ids = Vec::new();
    while let Some(page) = pages.next().await {
        for twin in &page.map_err(failed)?.rows {
            writer.write_twin(twin)?;
            if twin.get("moduleId").is_none()
                && let Some(device_id) = twin.get("deviceId").and_then(Value::as_str)
            {
                device_ids.push(device_id.to_owned());
            }
        }
        progress(writer.count(), total);
    }
    for twin in module_twins(client, &device_ids).await.map_err(failed)? {
        writer.write_twin(&twin)?;
    }
    progress(writer.count(), None);
    Ok(writer.finish()?)
}

/// The twins of the modules of `device_ids`, in the order the hub lists them.
pub(crate) async fn module_twins(
    client: &ServiceClient,
    device_ids: &[String],
) -> Result<Vec<Value>, ServiceError> {
    let mut twins = Vec::new();
    if device_ids.is_empty() {
        return Ok(twins);
    }
    if device_ids.len() > FEW_DEVICES {
        let wanted: HashSet<&str> = device_ids.iter().map(String::as_str).collect();
        let pages = client.query("SELECT * FROM devices.modules", Some(PAGE_SIZE));
        futures_util::pin_mut!(pages);
        while let Some(page) = pages.next().await {
            twins.extend(page?.rows.into_iter().filter(|twin| {
                twin.get("deviceId")
                    .and_then(Value::as_str)
                    .is_some_and(|device_id| wanted.contains(device_id))
            }));
        }
        return Ok(twins);
    }
    for ids in in_lists(device_ids) {
        let query = format!("SELECT * FROM devices.modules WHERE deviceId IN [{ids}]");
        let pages = client.query(&query, Some(PAGE_SIZE));
        futures_util::pin_mut!(pages);
        while let Some(page) = pages.next().await {
            twins.extend(page?.rows);
        }
    }
    Ok(twins)
}

/// `device_ids` as the insides of `IN [...]` lists, each within
/// [`IN_LIST_CHARACTERS`].
fn in_lists(device_ids: &[String]) -> Vec<String> {
    let mut lists: Vec<String> = Vec::new();
    let mut current = String::new();
    for device_id in device_ids {
        let literal = crate::query::string_literal(device_id);
        if !current.is_empty() && current.len() + literal.len() + 2 > IN_LIST_CHARACTERS {
            lists.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str(", ");
        }
        current.push_str(&literal);
    }
    if !current.is_empty() {
        lists.push(current);
    }
    lists
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
    let modules =
        module_twins(client, device_ids)
            .await
            .map_err(|source| ExportError::Service {
                host: header.hub_host_name.clone(),
                source,
            })?;
    for twin in modules {
        writer.write_twin(&twin)?;
    }
    Ok(writer.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_stay_within_the_query_length() {
        let ids: Vec<String> = (0..400).map(|n| format!("device-{n:0>90}")).collect();
        let lists = in_lists(&ids);
        assert!(lists.len() > 1);
        assert!(lists.iter().all(|list| list.len() <= IN_LIST_CHARACTERS));
        let joined = lists.join(", ");
        assert_eq!(joined.matches("device-").count(), 400);
        assert_eq!(in_lists(&["it's".to_owned()]), vec![r"'it\'s'".to_owned()]);
    }
}
