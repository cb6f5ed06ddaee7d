//! `twinlens import FILE`: the command-line face of [`twinlens::snapshot::plan_import`]
//! and [`twinlens::snapshot::apply_import`]: prints per device what changes (or would,
//! with `--dry-run`) on stdout, a summary line on stderr, and fails when any device
//! could not be written.

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use twinlens::snapshot::compare::change_line;
use twinlens::snapshot::{
    ImportAction, ImportCounts, ImportOptions, ImportOutcome, PlannedDevice, apply_import,
    plan_import,
};

use crate::cli::args::ImportArgs;
use crate::cli::hub_client;

/// Runs the import (or only its plan with `--dry-run`); fails when any device was in
/// conflict or refused.
pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let (_, client) = hub_client::service_client(
        &args.connection_string,
        args.ca_cert.as_deref(),
        args.no_tls,
    )?;
    // Neither flag means both.
    let both = !args.tags && !args.desired;
    let options = ImportOptions {
        tags: args.tags || both,
        desired: args.desired || both,
        create_missing: args.create_missing,
    };
    let runtime = hub_client::runtime()?;
    let plan = runtime.block_on(plan_import(&client, &args.file, options))?;
    if args.dry_run {
        for device in &plan.devices {
            print!("{}", device_lines(device, None));
        }
        eprintln!(
            "dry run, nothing was written: {}",
            summary(&plan.counts(), true)
        );
        return Ok(());
    }
    let bar = ProgressBar::new(plan.devices.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} devices, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = runtime.block_on(apply_import(&client, &plan, |done, _| {
        bar.set_position(done as u64)
    }));
    bar.finish_and_clear();
    let report = report?;
    for (device, result) in plan.devices.iter().zip(&report.results) {
        print!("{}", device_lines(device, Some(&result.outcome)));
    }
    let counts = report.counts();
    eprintln!("{}", summary(&counts, false));
    let not_written = counts.conflicts + counts.failed;
    if not_written > 0 {
        bail!(
            "{not_written} devices were not written ({} changed in the hub since they were \
             read, {} refused; see above); run the import again to see what still differs",
            counts.conflicts,
            counts.failed
        );
    }
    Ok(())
}

/// A device's heading and changed paths; nothing for a device that needs no change.
/// `outcome` is what happened, `None` for a dry run.
fn device_lines(device: &PlannedDevice, outcome: Option<&ImportOutcome>) -> String {
    let id = &device.device_id;
    let heading = match (device.action, outcome) {
        (ImportAction::Unchanged, _) => return String::new(),
        (ImportAction::SkipMissing, _) => {
            format!("? {id}  skipped: not in the hub (pass --create-missing to create it)")
        }
        (_, Some(ImportOutcome::Conflict)) => format!(
            "! {id}  conflict: changed in the hub since it was read; nothing was written to it"
        ),
        (_, Some(ImportOutcome::Failed(message))) => format!("! {id}  failed: {message}"),
        (ImportAction::Create, None) => format!("+ {id}  would be created"),
        (ImportAction::Create, Some(_)) => format!("+ {id}  created"),
        (ImportAction::Update, None) => format!("~ {id}  would be updated"),
        (ImportAction::Update, Some(_)) => format!("~ {id}  updated"),
    };
    let mut out = format!("{heading}\n");
    for change in &device.changes {
        out.push_str(&format!("    {}\n", change_line(change)));
    }
    out
}

/// `N updated, N created, ...`; `planned` words it as what would happen.
fn summary(counts: &ImportCounts, planned: bool) -> String {
    let hint = if counts.skipped_missing > 0 {
        " (pass --create-missing to create them)"
    } else {
        ""
    };
    let (updated, created, skipped) = if planned {
        ("to update", "to create", "to skip because missing")
    } else {
        ("updated", "created", "skipped because missing")
    };
    let mut line = format!(
        "{} {updated}, {} {created}, {} unchanged, {} {skipped}{hint}",
        counts.updated, counts.created, counts.unchanged, counts.skipped_missing
    );
    if !planned {
        line.push_str(&format!(
            ", {} conflicts, {} failed",
            counts.conflicts, counts.failed
        ));
    }
    line
}
