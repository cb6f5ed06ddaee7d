//! Snapshot jobs for the explorer: export (a query's twins or given devices), compare a
//! snapshot file with the live twins, and import (plan first, apply after the user
//! confirmed), on top of [`crate::snapshot`]. Progress goes out as
//! [`Event::Progress`]; a full event queue drops a progress update, never blocks.

use std::path::{Path, PathBuf};

use super::dispatch::Events;
use super::{Compared, Event, ExportSource, Exported, Failure, JobId};
use crate::service::ServiceClient;
use crate::snapshot::compare::{Sections, compare_twins};
use crate::snapshot::{
    ImportOptions, ImportPlan, ImportReport, SnapshotHeader, apply_import, export_devices,
    export_query, live_twins, plan_import, read_snapshot,
};
use crate::twin::format_timestamp;

/// Runs one export to its end.
pub(super) async fn export(
    job: JobId,
    client: &ServiceClient,
    host_name: &str,
    source: ExportSource,
    path: PathBuf,
    events: &Events,
) -> Result<Exported, Failure> {
    let query = match &source {
        ExportSource::Query(query) => query.clone(),
        // The query that selects the same devices again, so a comparison with the live
        // hub can run it.
        ExportSource::Devices(ids) => format!(
            "SELECT * FROM devices WHERE deviceId IN [{}]",
            ids.iter()
                .map(|id| crate::query::string_literal(id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let header = SnapshotHeader {
        hub_host_name: host_name.to_owned(),
        query,
        taken_at: format_timestamp(chrono::Utc::now()),
    };
    let progress = |done: usize, total: Option<u64>| {
        events.try_send(Event::Progress {
            job,
            done,
            total: total.and_then(|total| usize::try_from(total).ok()),
        });
    };
    let written = match &source {
        ExportSource::Query(query) => export_query(client, query, &path, &header, progress).await,
        ExportSource::Devices(ids) => export_devices(client, ids, &path, &header, progress).await,
    };
    let count = written.map_err(|error| {
        Failure::local(format!("could not export to {}: {error}", path.display()))
    })?;
    Ok(Exported { path, count })
}

/// Compares the twins of the snapshot at `path` with the same devices' live twins.
pub(super) async fn compare(
    job: JobId,
    client: &ServiceClient,
    path: &Path,
    events: &Events,
) -> Result<Compared, Failure> {
    let file = path.to_owned();
    let snapshot = tokio::task::spawn_blocking(move || read_snapshot(&file))
        .await
        .map_err(|e| Failure::local(format!("reading the snapshot stopped: {e}")))?
        .map_err(|e| Failure::local(e.to_string()))?;
    let total = snapshot.twins.len();
    let live = live_twins(
        client,
        &snapshot.header,
        &snapshot.twins,
        |done, expected| {
            events.try_send(Event::Progress {
                job,
                done,
                total: expected,
            });
        },
    )
    .await?;
    let comparison = compare_twins(&snapshot.twins, &live, Sections::ALL);
    Ok(Compared {
        header: snapshot.header,
        devices: total,
        comparison,
    })
}

/// Works out what importing the snapshot at `path` would change; writes nothing.
pub(super) async fn plan(
    client: &ServiceClient,
    path: &Path,
    options: ImportOptions,
) -> Result<Box<ImportPlan>, Failure> {
    plan_import(client, path, options)
        .await
        .map(Box::new)
        .map_err(|e| Failure::local(e.to_string()))
}

/// Carries out a plan the user confirmed.
pub(super) async fn apply(
    job: JobId,
    client: &ServiceClient,
    plan: &ImportPlan,
    events: &Events,
) -> Result<ImportReport, Failure> {
    apply_import(client, plan, |done, total| {
        events.try_send(Event::Progress {
            job,
            done,
            total: Some(total),
        });
    })
    .await
    .map_err(|e| Failure::local(e.to_string()))
}
