//! `twinlens export`: streams the twins a query selects into a snapshot file, page by
//! page (constant memory whatever the count), with a progress bar on stderr. The file
//! appears only when the export completed.

use std::path::PathBuf;

use anyhow::Context;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use twinlens::snapshot::{SnapshotHeader, SnapshotWriter};
use twinlens::twin::format_timestamp;

use crate::cli::ExportArgs;
use crate::hub_client;

/// Twins asked for per page.
const PAGE_SIZE: u32 = 1000;

/// Runs the export; returns the file written and how many twins it holds.
pub fn run(args: &ExportArgs) -> anyhow::Result<(PathBuf, usize)> {
    let query = twinlens::query::parse(&args.query)
        .map_err(|e| anyhow::anyhow!("{}", e.render_with_caret(&args.query)))?;
    if query.item_type() != twinlens::query::ItemType::Twin {
        anyhow::bail!(
            "a snapshot holds whole twins: export needs a query of the form SELECT * FROM devices [WHERE ...]"
        );
    }
    let (service, client) = hub_client::service_client(
        &args.connection_string,
        args.ca_cert.as_deref(),
        args.no_tls,
    )?;
    let taken_at = chrono::Utc::now();
    let out = args.out.clone().unwrap_or_else(|| {
        let host = service.host_name.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_",
        );
        PathBuf::from(format!(
            "twins-{host}-{}.json",
            taken_at.format("%Y%m%dT%H%M%SZ")
        ))
    });
    let header = SnapshotHeader {
        hub_host_name: service.host_name.clone(),
        query: args.query.clone(),
        taken_at: format_timestamp(taken_at),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let count = runtime.block_on(async {
        let total = count_matching(&client, &args.query).await;
        let progress = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} twins, {per_sec}, {eta} left")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        let mut writer = SnapshotWriter::create(&out, &header)?;
        let pages = client.query(&args.query, Some(PAGE_SIZE));
        futures_util::pin_mut!(pages);
        while let Some(page) = pages.next().await {
            let page = page.with_context(|| {
                format!(
                    "the export from {} failed; no file was written",
                    service.host_name
                )
            })?;
            for twin in &page.rows {
                writer.write_twin(twin)?;
            }
            progress.inc(page.rows.len() as u64);
        }
        progress.finish_and_clear();
        anyhow::Ok(writer.finish()?)
    })?;
    Ok((out, count))
}

/// How many rows the query selects, for the progress bar; `None` when the hub cannot
/// say (the export then shows a spinner).
async fn count_matching(client: &twinlens::service::ServiceClient, query: &str) -> Option<u64> {
    let lowered = query.to_ascii_lowercase();
    let from = lowered.find(" from ")?;
    let count_query = format!("SELECT COUNT() AS n{}", &query[from..]);
    let pages = client.query(&count_query, Some(1));
    futures_util::pin_mut!(pages);
    let page = pages.next().await?.ok()?;
    page.rows
        .first()
        .and_then(|row| row.get("n"))
        .and_then(Value::as_u64)
}
