//! Export jobs: write the twins of a query, or of given devices, into a snapshot file
//! with progress events. The file appears only when every twin was written.

use std::path::PathBuf;

use futures_util::StreamExt;

use super::dispatch::Events;
use super::{Event, ExportSource, Failure, JobId, Outcome};
use crate::service::ServiceClient;
use crate::snapshot::{SnapshotHeader, SnapshotWriter};
use crate::twin::format_timestamp;

/// Twins asked for per page.
const PAGE_SIZE: u32 = 1000;

/// Runs one export to its end.
pub(super) async fn run_export(
    job: JobId,
    client: &ServiceClient,
    host_name: &str,
    source: ExportSource,
    path: PathBuf,
    events: &Events,
) -> Result<Outcome, Failure> {
    let query = match &source {
        ExportSource::Query(query) => query.clone(),
        ExportSource::Devices(ids) => format!(
            "SELECT * FROM devices WHERE deviceId IN [{}]",
            ids.iter()
                .map(|id| format!("'{}'", id.replace('\'', "\\'")))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let header = SnapshotHeader {
        hub_host_name: host_name.to_owned(),
        query: query.clone(),
        taken_at: format_timestamp(chrono::Utc::now()),
    };
    let failed = |what: String| Failure::local(format!("{what}; no file was written"));
    let mut writer = SnapshotWriter::create(&path, &header)
        .map_err(|e| Failure::local(format!("could not export to {}: {e}", path.display())))?;
    match source {
        ExportSource::Query(query) => {
            let pages = client.query(&query, Some(PAGE_SIZE));
            futures_util::pin_mut!(pages);
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| failed(format!("the export's query failed: {e}")))?;
                for twin in &page.rows {
                    writer.write_twin(twin).map_err(|e| failed(e.to_string()))?;
                }
                progress(events, job, writer.count(), None).await;
            }
        }
        ExportSource::Devices(ids) => {
            let total = ids.len();
            for id in ids {
                let twin = client
                    .get_twin(&id)
                    .await
                    .map_err(|e| failed(format!("reading the twin of {id} failed: {e}")))?;
                let twin = serde_json::to_value(twin)
                    .map_err(|e| failed(format!("the twin of {id} could not be read: {e}")))?;
                writer
                    .write_twin(&twin)
                    .map_err(|e| failed(e.to_string()))?;
                progress(events, job, writer.count(), Some(total)).await;
            }
        }
    }
    let count = writer.finish().map_err(|e| failed(e.to_string()))?;
    Ok(Outcome::Exported { path, count })
}

async fn progress(events: &Events, job: JobId, written: usize, total: Option<usize>) {
    events
        .send(Event::ExportProgress {
            job,
            written,
            total,
        })
        .await;
}
