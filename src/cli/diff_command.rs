//! `twinlens diff A B`: compares a snapshot with another snapshot or with a live hub and
//! prints the per-device differences; the exit status says whether there were any.

use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use twinlens::snapshot::compare::{
    Sections, compare_twins, comparison_to_json, comparison_to_table,
};
use twinlens::snapshot::{Snapshot, read_snapshot};

use crate::cli::args::{DiffArgs, TwinSection};
use crate::cli::hub_client;

/// Runs the comparison; `Ok(true)` when the two sides differ.
pub fn run(args: &DiffArgs) -> anyhow::Result<bool> {
    let first = read_snapshot(&args.a)?;
    let second = if Path::new(&args.b).exists() {
        read_snapshot(Path::new(&args.b))?.twins
    } else {
        live_twins(args, &first)?
    };
    let sections = Sections {
        tags: args.sections.contains(&TwinSection::Tags),
        desired: args.sections.contains(&TwinSection::Desired),
        reported: args.sections.contains(&TwinSection::Reported),
    };
    let comparison = compare_twins(&first.twins, &second, sections);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&comparison_to_json(&comparison))?
        );
    } else {
        print!("{}", comparison_to_table(&comparison));
    }
    if comparison.is_empty() {
        eprintln!(
            "no differences in {} devices",
            first.twins.len().max(second.len())
        );
    } else {
        eprintln!("{} devices differ", comparison.len());
    }
    Ok(!comparison.is_empty())
}

/// The live twins the snapshot is compared with.
fn live_twins(args: &DiffArgs, snapshot: &Snapshot) -> anyhow::Result<Vec<Value>> {
    let (service, client) = hub_client::service_client(&args.b, args.ca_cert.as_deref(), args.no_tls)
        .context("the second argument is neither an existing snapshot file nor a usable service connection string")?;
    hub_client::runtime()?
        .block_on(twinlens::snapshot::live_twins(
            &client,
            &snapshot.header,
            &snapshot.twins,
            |_, _| {},
        ))
        .with_context(|| format!("could not read the twins of {}", service.host_name))
}
