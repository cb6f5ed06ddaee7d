//! The twinlens binary: parses the command line and starts the chosen role.

mod cli;

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{
    Cli, Command, HubArgs, SimulateArgs, diff_command, explorer_command, export_command,
    import_command, monitor_command, send_command,
};
use twinlens::auth::ConnectionString;
use twinlens::device::{
    self, Behaviours, DesiredAck, MIN_TELEMETRY_INTERVAL, ScheduleError, TelemetrySchedule, TlsMode,
};
use twinlens::hub::{self, HubConfig};

/// Exit status when `twinlens diff` found differences (as `diff` does).
const EXIT_DIFFERENT: u8 = 1;
/// Exit status of any failure.
const EXIT_FAILED: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        None => explorer_command::run(cli.explorer).map(|()| ExitCode::SUCCESS),
        Some(command) => run_headless(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "error: {}",
                twinlens::error_text::with_causes(error.as_ref())
            );
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Logs go to stderr so that stdout stays free for machine-readable output.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run_headless(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Hub(args) => run_hub(args)?,
        Command::Diff(args) => {
            if diff_command::run(&args)? {
                return Ok(ExitCode::from(EXIT_DIFFERENT));
            }
        }
        Command::Export(args) => {
            let (path, count) = export_command::run(&args)?;
            eprintln!("exported {count} twins to {}", path.display());
        }
        Command::Import(args) => import_command::run(&args)?,
        Command::Simulate(args) => run_simulate(args)?,
        Command::Send(args) => {
            let message_id = send_command::run(&args)?;
            eprintln!("sent message {message_id} to device {}", args.device);
        }
        Command::Monitor(args) => monitor_command::run(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `twinlens hub`: serves until Ctrl-C or SIGTERM, after printing the ready line.
fn run_hub(args: HubArgs) -> anyhow::Result<()> {
    let limits = args.limits();
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
        limits,
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

/// `twinlens simulate`: runs the simulated devices and logs what they do until Ctrl-C.
fn run_simulate(args: SimulateArgs) -> anyhow::Result<()> {
    // Every simulated device holds a connection: allow as many as the system lets.
    twinlens::hub::limits::raise_descriptor_limit();
    let connection: ConnectionString = args
        .connection_string
        .parse()
        .context("the --connection-string is not usable")?;
    let ca_pem = match &args.ca_cert {
        Some(path) if !args.no_tls => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("could not read the CA certificate {}", path.display()))?,
        ),
        _ => None,
    };
    let tls = TlsMode::chosen(args.no_tls, ca_pem);
    let mut behaviours = Behaviours::default();
    if args.pnp_ack {
        behaviours.desired_ack = DesiredAck::PlugAndPlay {
            description: "applied by the twinlens simulated device".into(),
        };
    }
    if let Some(template) = &args.telemetry {
        let schedule = TelemetrySchedule::new(template, args.interval).map_err(|error| match error {
            ScheduleError::Template(error) => {
                anyhow::Error::new(error).context("the --telemetry template is not usable")
            }
            ScheduleError::Interval { seconds } => anyhow::anyhow!(
                "--interval {seconds} is not a usable number of seconds: pass at least {} (e.g. --interval 5)",
                MIN_TELEMETRY_INTERVAL.as_secs_f64()
            ),
        })?;
        behaviours.telemetry = Some(schedule);
    }
    let options = device::HeadlessOptions {
        connection,
        count: args.count,
        id_template: args.template,
        module: args.module,
        mqtt_port: args.mqtt_port,
        tls,
        behaviours,
        model_id: args.model_id,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("simulate")
        .build()
        .context("could not start the async runtime")?;
    runtime
        .block_on(device::run_headless(options, shutdown_signal()))
        .context("the simulation could not start")
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
