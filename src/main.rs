//! The twinlens binary: parses the command line and starts the chosen role.

mod cli;

use anyhow::bail;
use clap::Parser;

use cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        None => twinlens::app::run().map_err(|error| {
            anyhow::anyhow!(
                "could not open the explorer window: {error}. \
                 A desktop session (X11 or Wayland) with OpenGL or Vulkan is required; \
                 the headless subcommands (see `twinlens --help`) work without one"
            )
        }),
        Some(command) => run_headless(command),
    }
}

/// Logs go to stderr so that stdout stays free for machine-readable output.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run_headless(command: Command) -> anyhow::Result<()> {
    let name = match command {
        Command::Hub(_) => "hub",
        Command::Export(_) => "export",
        Command::Import(_) => "import",
        Command::Diff(_) => "diff",
        Command::Simulate(_) => "simulate",
    };
    bail!("`twinlens {name}` is not available in this version yet; nothing was done")
}
