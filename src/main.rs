//! The twinlens binary: parses the command line and starts the chosen role.

mod cli;

use std::io::Write as _;

use anyhow::{Context, bail};
use clap::Parser;

use cli::{Cli, Command, HubArgs};
use twinlens::hub::{self, HubConfig};

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
        Command::Hub(args) => return run_hub(args),
        Command::Export(_) => "export",
        Command::Import(_) => "import",
        Command::Diff(_) => "diff",
        Command::Simulate(_) => "simulate",
    };
    bail!("`twinlens {name}` is not available in this version yet; nothing was done")
}

/// `twinlens hub`: serves until Ctrl-C or SIGTERM, after printing the ready line.
fn run_hub(args: HubArgs) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => HubConfig::default_data_dir()
            .context("no home directory to keep the hub's data in; pass --data-dir")?,
    };
    let config = HubConfig {
        data_dir,
        bind: args.bind,
        http_port: args.http_port,
        mqtt_port: args.mqtt_port,
        tls: args.tls,
        demo_devices: args.demo,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hub")
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let hub = hub::start(config).await?;
        let line = serde_json::to_string(&hub.ready).context("could not encode the ready line")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .context("could not write the ready line")?;
        drop(stdout);
        tracing::info!(url = %hub.ready.http_url, mqtt_port = hub.ready.mqtt_port, "hub ready");
        shutdown_signal().await;
        tracing::info!("shutting down");
        hub.shutdown()
            .await
            .context("the hub stopped with an error")
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
