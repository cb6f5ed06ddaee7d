//! `twinlens export`: the command-line face of [`twinlens::snapshot::export_query`]:
//! picks the output file name, and shows a progress bar on stderr while the twins are
//! streamed into the snapshot.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use twinlens::snapshot::{SnapshotHeader, export_query};
use twinlens::twin::format_timestamp;

use crate::cli::args::ExportArgs;
use crate::cli::hub_client;

/// Runs the export; returns the file written and how many twins it holds.
pub fn run(args: &ExportArgs) -> anyhow::Result<(PathBuf, usize)> {
    let (service, client) = hub_client::service_client(
        &args.connection_string,
        args.ca_cert.as_deref(),
        args.no_tls,
    )?;
    let taken_at = chrono::Utc::now();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(twinlens::snapshot::default_file_name(
            "twins",
            &service.host_name,
            taken_at,
        ))
    });
    let header = SnapshotHeader {
        hub_host_name: service.host_name.clone(),
        query: args.query.clone(),
        taken_at: format_timestamp(taken_at),
    };
    let mut bar: Option<ProgressBar> = None;
    let exported = hub_client::runtime()?.block_on(export_query(
        &client,
        &args.query,
        &out,
        &header,
        |done, total| {
            bar.get_or_insert_with(|| progress_bar(total))
                .set_position(done as u64)
        },
    ));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((out, exported?))
}

/// A bar when the total is known, a spinner otherwise.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} twins, {per_sec}, {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    }
}
