//! The maintainers' crash-cycle reliability tool: kills the local hub with SIGKILL under
//! REST and MQTT twin writes, again and again on one growing store, and checks after
//! every restart that no acknowledged write was lost.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example crash_cycles -- [--cycles N] [--seconds-per-cycle S] [--writers W]
//! ```
//!
//! It runs the release `twinlens` binary next to its own directory
//! (`target/release/twinlens` for `target/release/examples/crash_cycles`), which
//! `cargo run --example` does not build: run `cargo build --release` first, or name
//! another binary with `--hub-binary`. It prints one line per cycle and a final table.
//! Exit status: 0 when every acknowledged write survived, 1 if one was lost (the data
//! directory is then kept for inspection), 2 if the run could not be carried out (the
//! hub did not start, died on its own, or refused a request). The cycles themselves
//! live in `tests/support/crash_cycles.rs`, shared with the short form in the
//! integration tests (`hub_durability`).

#[path = "../tests/support/crash_cycles.rs"]
mod crash_cycles;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Parser;

/// Kills the local hub under load, restarts it and checks that acknowledged writes survive.
#[derive(Debug, Parser)]
struct Args {
    /// How many times the hub is killed and restarted.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    cycles: u32,
    /// The longest time writers write in one cycle before the kill (the kill comes after a
    /// random delay between a quarter of it and all of it).
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    seconds_per_cycle: f64,
    /// REST writers, and as many MQTT writers (each with one request in flight).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    writers: u16,
    /// Seed of the kill delays (random when not given; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// The `twinlens` binary to test [default: `twinlens` in this example's target directory].
    #[arg(long, value_name = "PATH")]
    hub_binary: Option<PathBuf>,
    /// Keep the hub's data in this directory (created when missing) instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("crash_cycles: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the cycles; exits with 1 when an acknowledged write was lost.
async fn run(args: Args) -> Result<ExitCode> {
    if !(0.1..=600.0).contains(&args.seconds_per_cycle) {
        bail!("--seconds-per-cycle must be between 0.1 and 600");
    }
    let hub_binary = match args.hub_binary {
        Some(path) => path,
        None => sibling_hub_binary()?,
    };
    let (data_dir, temporary) = match args.data_dir {
        Some(dir) => (dir, None),
        None => {
            let temporary =
                tempfile::tempdir().context("could not create a temporary directory")?;
            (temporary.path().join("hub"), Some(temporary))
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let options = crash_cycles::Options {
        hub_binary,
        data_dir,
        cycles: args.cycles,
        cycle_length: Duration::from_secs_f64(args.seconds_per_cycle),
        writers: usize::from(args.writers),
        seed,
    };
    println!(
        "{} cycles of up to {} s, {} REST and {} MQTT writers, hub {}, seed {seed}",
        options.cycles,
        args.seconds_per_cycle,
        options.writers,
        options.writers,
        options.hub_binary.display()
    );

    let report = crash_cycles::run(&options).await?;
    println!("\n{report}");
    if report.lost_count() == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let kept = match temporary {
        Some(temporary) => temporary.keep().join("hub"),
        None => options.data_dir.clone(),
    };
    eprintln!(
        "\nacknowledged writes were lost; the hub's data is kept in {} \
         (inspect it with `{} hub --data-dir {}`); the same kill delays: --seed {seed}",
        kept.display(),
        options.hub_binary.display(),
        kept.display()
    );
    Ok(ExitCode::FAILURE)
}

/// `twinlens` in the profile directory this example was built into
/// (`target/<profile>/examples/crash_cycles` -> `target/<profile>/twinlens`).
fn sibling_hub_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot tell where this example runs from")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("{} is not in a target directory", exe.display()))?;
    let binary = profile_dir.join(format!("twinlens{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        bail!(
            "the hub binary {} is missing: build it first with `cargo build --release` \
             (`cargo run --example` builds only the example), or pass --hub-binary",
            binary.display()
        );
    }
    // `cargo run --example` rebuilds the library but not the binary: warn when the
    // sources changed after the binary was built.
    let sources = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let changed = [sources.join("src"), sources.join("Cargo.toml")]
        .iter()
        .filter_map(|path| newest_modification(path))
        .max();
    if let (Some(built), Some(changed)) = (built, changed)
        && built < changed
    {
        eprintln!(
            "warning: {} is older than the sources; run `cargo build --release` to test \
             the current code",
            binary.display()
        );
    }
    Ok(binary)
}

/// The latest modification time of a file, or of any file under a directory.
fn newest_modification(path: &Path) -> Option<SystemTime> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_dir() {
        return metadata.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| newest_modification(&entry.ok()?.path()))
        .max()
}
