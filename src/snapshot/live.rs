//! The live twins a snapshot is compared with, for `twinlens diff` against a hub and the
//! explorer's comparison alike: the snapshot's own query run again when it is one (so
//! devices added since show up), otherwise the twin of each device the snapshot holds;
//! then the twins of those devices' modules.

use futures_util::StreamExt;
use serde_json::Value;

use super::SnapshotHeader;
use super::export::module_twins;
use crate::query::ItemType;
use crate::service::{ServiceClient, ServiceError};

/// Twins asked for per query page.
const PAGE_SIZE: u32 = 1000;

/// The live counterparts of `twins` (a snapshot taken with `header`). `progress` is
/// called with `(twins read, twins expected)` as they arrive.
pub async fn live_twins(
    client: &ServiceClient,
    header: &SnapshotHeader,
    twins: &[Value],
    mut progress: impl FnMut(usize, Option<usize>),
) -> Result<Vec<Value>, ServiceError> {
    let runnable =
        crate::query::parse(&header.query).is_ok_and(|query| query.item_type() == ItemType::Twin);
    let mut live = Vec::new();
    if runnable {
        let total = client
            .count_matching(&header.query)
            .await
            .and_then(|total| usize::try_from(total).ok());
        let pages = client.query(&header.query, Some(PAGE_SIZE));
        futures_util::pin_mut!(pages);
        while let Some(page) = pages.next().await {
            live.extend(page?.rows);
            progress(live.len(), total);
        }
        let device_ids = device_ids(&live);
        live.extend(module_twins(client, &device_ids).await?);
        return Ok(live);
    }
    let ids = device_ids(twins);
    for (done, device_id) in ids.iter().enumerate() {
        match client.get_twin(device_id).await {
            Ok(twin) => live.push(serde_json::to_value(twin).map_err(|error| {
                ServiceError::UnexpectedResponse {
                    operation: format!("reading the twin of device '{device_id}'"),
                    expected: "device twin JSON",
                    detail: error.to_string(),
                }
            })?),
            Err(error) if error.status() == Some(404) => {}
            Err(error) => return Err(error),
        }
        progress(done + 1, Some(ids.len()));
    }
    live.extend(module_twins(client, &ids).await?);
    Ok(live)
}

/// The ids of the device twins (not module twins) among `twins`.
fn device_ids(twins: &[Value]) -> Vec<String> {
    twins
        .iter()
        .filter(|twin| twin.get("moduleId").is_none())
        .filter_map(|twin| twin.get("deviceId").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}
