//! The command line: one subcommand per headless role, and no subcommand for the
//! explorer window. Only argument shapes live here; each role's work lives in the
//! library so that tests can drive it without a process.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use twinlens::device::ModelId;
use twinlens::hub::limits::{
    DEFAULT_JOB_DEVICE_RATE, DEFAULT_MAX_ACTIVE_JOBS, DEFAULT_TELEMETRY_DEVICE_BYTES,
    DEFAULT_TELEMETRY_DEVICE_MESSAGES, DEFAULT_TELEMETRY_HUB_BYTES, HubLimits, JobLimits,
    TelemetryLimits,
};

/// A desktop explorer for IoT Hub device twins, with an embedded local hub.
///
/// Without a subcommand, twinlens opens the explorer window.
#[derive(Debug, Parser)]
#[command(name = "twinlens", version, about, long_about = None)]
pub struct Cli {
    /// What to run; the explorer window when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the explorer window.
    #[command(flatten)]
    pub explorer: ExplorerArgs,
}

/// Options of the explorer window (no subcommand).
#[derive(Debug, Args)]
pub struct ExplorerArgs {
    /// Connect to this hub (a service connection string) instead of the embedded local hub.
    #[arg(long, value_name = "CS")]
    pub connection_string: Option<String>,
    /// With --connection-string: trust this CA certificate (PEM), e.g. a local hub's.
    #[arg(
        long,
        value_name = "FILE",
        requires = "connection_string",
        conflicts_with = "no_tls"
    )]
    pub ca_cert: Option<PathBuf>,
    /// With --connection-string: plain HTTP and MQTT, for a local hub started without `--tls`.
    #[arg(long, requires = "connection_string")]
    pub no_tls: bool,
    /// With --connection-string: the device MQTT port simulated devices connect to.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 8883,
        requires = "connection_string"
    )]
    pub mqtt_port: u16,
    /// Where the embedded local hub keeps its data [default: the user's data folder].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Demo devices to create when the embedded hub starts empty.
    #[arg(long, value_name = "N", default_value_t = twinlens::app::FIRST_RUN_DEMO_DEVICES)]
    pub demo: usize,
    /// Open this device's twin once connected.
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// Also connect the device given with --device as a simulated device.
    #[arg(long, requires = "device")]
    pub simulate: bool,
    /// The tab of the work panel to show first.
    #[arg(long, value_enum, value_name = "TAB")]
    pub tab: Option<twinlens::app::WorkTab>,
}

/// The headless roles.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the IoT Hub-compatible local hub without a window.
    Hub(HubArgs),
    /// Export twins from a hub to a snapshot file.
    Export(ExportArgs),
    /// Apply tags and desired properties from a snapshot file to a hub.
    ///
    /// Makes the tags and/or desired properties of the hub's twins equal to the
    /// snapshot's (keys the snapshot lacks are removed); reported properties are never
    /// written. Each twin is written only if it did not change since it was read, else it
    /// is reported as a conflict. Exits with 2 when any device was not written.
    Import(ImportArgs),
    /// Compare two snapshots, or a snapshot and a live hub.
    Diff(DiffArgs),
    /// Run one or more simulated devices against a hub.
    Simulate(SimulateArgs),
    /// Send a cloud-to-device message to a device.
    ///
    /// The hub queues it (at most 50 per device) until the device takes it or its time
    /// to live runs out.
    Send(SendArgs),
    /// Print the telemetry devices send to a local hub as it arrives (Ctrl-C stops).
    ///
    /// Azure IoT Hub serves telemetry only through its Event Hub-compatible endpoint,
    /// which this command cannot read yet; against Azure it says so and exits.
    Monitor(MonitorArgs),
}

/// How to reach a hub's service API from the command line.
#[derive(Debug, Args)]
pub struct HubConnectionArgs {
    /// The hub's service connection string.
    #[arg(long, env = "TWINLENS_CONNECTION_STRING", hide_env_values = true)]
    pub connection_string: String,
    /// Trust this CA certificate (PEM), e.g. a local hub's.
    #[arg(long, value_name = "FILE", conflicts_with = "no_tls")]
    pub ca_cert: Option<PathBuf>,
    /// Use plain HTTP, for a local hub started without `--tls`.
    #[arg(long)]
    pub no_tls: bool,
}

/// Options of `twinlens send`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("payload").required(true).args(["data", "file"]))]
pub struct SendArgs {
    /// The device to send to.
    pub device: String,
    /// The hub.
    #[command(flatten)]
    pub hub: HubConnectionArgs,
    /// An application property, `NAME=VALUE` (repeatable).
    #[arg(long = "property", value_name = "NAME=VALUE", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
    /// Seconds the hub keeps the message for an offline device [default: the hub's,
    /// one hour on IoT Hub; at most two days].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=172_800))]
    pub ttl: Option<u64>,
    /// The payload, as text.
    #[arg(long, value_name = "TEXT")]
    pub data: Option<String>,
    /// The payload, read from a file (any bytes).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The message id [default: a new UUID-like id].
    #[arg(long, value_name = "ID")]
    pub message_id: Option<String>,
    /// The correlation id.
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// The payload's content type, e.g. application/json.
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// The payload's content encoding, e.g. utf-8.
    #[arg(long, value_name = "ENCODING")]
    pub content_encoding: Option<String>,
    /// The delivery feedback to ask for.
    #[arg(long, value_name = "MODE", value_parser = ["none", "positive", "negative", "full"])]
    pub ack: Option<String>,
}

/// `NAME=VALUE`.
fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("'{text}' is not NAME=VALUE")),
    }
}

/// Options of `twinlens monitor`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The devices to follow [default: every device].
    pub devices: Vec<String>,
    /// The hub.
    #[command(flatten)]
    pub hub: HubConnectionArgs,
    /// Print one JSON object per message and line instead of text.
    #[arg(long)]
    pub ndjson: bool,
}

/// Options of `twinlens hub`.
#[derive(Debug, Args)]
pub struct HubArgs {
    /// Where the registry, twins, keys and certificates are kept
    /// [default: the platform data directory].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The port of the service REST API (0 picks a free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub http_port: u16,
    /// The port of the device MQTT endpoint (0 picks a free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub mqtt_port: u16,
    /// Serve HTTPS and MQTTS with a locally generated certificate authority.
    #[arg(long)]
    pub tls: bool,
    /// Seed N demo devices with realistic twins when the store is empty.
    #[arg(long, value_name = "N")]
    pub demo: Option<usize>,
    /// Connections open at once on each listener (service API, device endpoint); more
    /// wait until one closes [default: of the open-file limit less a reserve, a quarter
    /// (at most 1024) for the service API and the rest for devices, at most 100000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Seconds an HTTP client may take to send a request's headers (idle connections
    /// close after as long) and again its body.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub http_timeout: u64,
    /// Telemetry bytes kept per device (older messages are dropped first).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_TELEMETRY_DEVICE_BYTES)]
    pub telemetry_device_bytes: usize,
    /// Telemetry bytes kept for all devices together.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_TELEMETRY_HUB_BYTES)]
    pub telemetry_hub_bytes: usize,
    /// Telemetry messages kept per device (older ones are dropped first, and counted).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TELEMETRY_DEVICE_MESSAGES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub telemetry_history: usize,
    /// Jobs queued, scheduled or running at once (Azure: 1 on free and S1 hubs, 5 on S2,
    /// 10 on S3); more are refused until one finishes.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ACTIVE_JOBS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub max_active_jobs: usize,
    /// Twin updates or method calls a job starts per second.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOB_DEVICE_RATE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub job_rate: u32,
}

impl HubArgs {
    /// The hub's limits as these options set them.
    pub fn limits(&self) -> HubLimits {
        HubLimits {
            max_connections: self.max_connections.map(|n| n as usize),
            http_timeout: std::time::Duration::from_secs(self.http_timeout),
            telemetry: TelemetryLimits {
                device_messages: self.telemetry_history,
                device_bytes: self.telemetry_device_bytes,
                hub_bytes: self.telemetry_hub_bytes,
            },
            jobs: JobLimits {
                max_active: self.max_active_jobs,
                device_rate: self.job_rate,
            },
        }
    }
}

/// Options of `twinlens export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The hub's service connection string.
    #[arg(long, env = "TWINLENS_CONNECTION_STRING", hide_env_values = true)]
    pub connection_string: String,
    /// The IoT Hub query selecting the twins to export (the twins of the devices'
    /// modules are exported after them).
    #[arg(long, default_value = "SELECT * FROM devices")]
    pub query: String,
    /// The snapshot file to write; `.ndjson` for one twin per line [default: a
    /// timestamped `.json` file in the current directory].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Trust this CA certificate (PEM), e.g. a local hub's.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Use plain HTTP, for a local hub started without `--tls`.
    #[arg(long)]
    pub no_tls: bool,
}

/// Options of `twinlens import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The snapshot file to read.
    pub file: PathBuf,
    /// The hub's service connection string.
    #[arg(long, env = "TWINLENS_CONNECTION_STRING", hide_env_values = true)]
    pub connection_string: String,
    /// Apply tags (with neither --tags nor --desired, both are applied).
    #[arg(long)]
    pub tags: bool,
    /// Apply desired properties (with neither --tags nor --desired, both are applied).
    #[arg(long)]
    pub desired: bool,
    /// Show what would change without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Register devices of the snapshot that the hub lacks (otherwise they are skipped).
    #[arg(long)]
    pub create_missing: bool,
    /// Trust this CA certificate (PEM), e.g. a local hub's.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Use plain HTTP, for a local hub started without `--tls`.
    #[arg(long)]
    pub no_tls: bool,
}

/// Options of `twinlens diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first snapshot file.
    pub a: PathBuf,
    /// The second snapshot file, or a service connection string for a live hub.
    pub b: String,
    /// Print the differences as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Which parts of the twins to compare, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "SECTIONS",
        default_value = "tags,desired,reported"
    )]
    pub sections: Vec<TwinSection>,
    /// For a live hub: trust this CA certificate (PEM), e.g. a local hub's.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// For a live hub: use plain HTTP, for a local hub started without `--tls`.
    #[arg(long)]
    pub no_tls: bool,
}

/// A part of a twin that `twinlens diff` can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TwinSection {
    /// `tags`.
    Tags,
    /// `properties.desired`.
    Desired,
    /// `properties.reported`.
    Reported,
}

/// Options of `twinlens simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A device connection string, or a service connection string with `--count`.
    #[arg(long, env = "TWINLENS_CONNECTION_STRING", hide_env_values = true)]
    pub connection_string: String,
    /// How many devices to simulate.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: usize,
    /// A device id template for `--count`: `{N}` becomes the device number (1, 2, ...)
    /// [default: sim-{N}].
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Simulate module NAME of each device instead of the device itself (with a service
    /// connection string; the module is registered when missing). One module can also
    /// run from its module connection string (`...;ModuleId=...;SharedAccessKey=...`).
    #[arg(long, value_name = "NAME")]
    pub module: Option<String>,
    /// The device MQTT port (a local hub prints its `mqtt_port` in its ready line).
    #[arg(long, value_name = "N", default_value_t = 8883)]
    pub mqtt_port: u16,
    /// Trust this CA certificate (PEM) instead of the public roots, e.g. a local hub's.
    #[arg(long, value_name = "FILE", conflicts_with = "no_tls")]
    pub ca_cert: Option<PathBuf>,
    /// Connect without TLS (MQTT and HTTP), for a local hub started without `--tls`.
    #[arg(long)]
    pub no_tls: bool,
    /// A telemetry body template, e.g. `{"t": {{random 20.0 30.0}}, "seq": {{counter}}}`.
    /// Placeholders: random MIN MAX, random_int MIN MAX, counter, timestamp, device_id.
    #[arg(long, value_name = "JSON")]
    pub telemetry: Option<String>,
    /// Seconds between telemetry messages (at least 0.01).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub interval: f64,
    /// Acknowledge desired properties with the IoT Plug and Play envelope instead of a copy.
    #[arg(long)]
    pub pnp_ack: bool,
    /// Announce this IoT Plug and Play model when connecting, a DTMI such as
    /// `dtmi:com:example:Thermostat;1`; the hub shows it as the twin's `modelId`.
    #[arg(long, value_name = "DTMI")]
    pub model_id: Option<ModelId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn send_and_monitor_flags_parse() {
        let cli = Cli::try_parse_from([
            "twinlens",
            "send",
            "d1",
            "--connection-string",
            "HostName=h;SharedAccessKeyName=k;SharedAccessKey=a2V5",
            "--property",
            "color=red=ish",
            "--property",
            "empty=",
            "--ttl",
            "60",
            "--data",
            "{}",
            "--ack",
            "full",
        ])
        .expect("send flags parse");
        let Some(Command::Send(args)) = cli.command else {
            panic!("expected send");
        };
        assert_eq!(
            args.properties,
            vec![
                ("color".into(), "red=ish".into()),
                ("empty".into(), String::new())
            ]
        );
        assert_eq!(args.ttl, Some(60));
        assert_eq!(args.ack.as_deref(), Some("full"));
        for refused in [
            vec!["twinlens", "send", "d1", "--connection-string", "x"],
            vec![
                "twinlens",
                "send",
                "d1",
                "--connection-string",
                "x",
                "--data",
                "a",
                "--file",
                "f",
            ],
            vec![
                "twinlens",
                "send",
                "d1",
                "--connection-string",
                "x",
                "--data",
                "a",
                "--property",
                "novalue",
            ],
            vec![
                "twinlens",
                "send",
                "d1",
                "--connection-string",
                "x",
                "--data",
                "a",
                "--ttl",
                "0",
            ],
        ] {
            assert!(Cli::try_parse_from(&refused).is_err(), "{refused:?}");
        }
        let cli = Cli::try_parse_from([
            "twinlens",
            "monitor",
            "d1",
            "d2",
            "--connection-string",
            "x",
            "--ndjson",
            "--no-tls",
        ])
        .expect("monitor flags parse");
        let Some(Command::Monitor(args)) = cli.command else {
            panic!("expected monitor");
        };
        assert_eq!(args.devices, vec!["d1", "d2"]);
        assert!(args.ndjson && args.hub.no_tls);
    }

    #[test]
    fn no_subcommand_means_the_window() {
        let cli = Cli::try_parse_from(["twinlens"]).expect("bare command parses");
        assert!(cli.command.is_none());
    }

    #[test]
    fn hub_flags_parse() {
        let cli = Cli::try_parse_from([
            "twinlens",
            "hub",
            "--bind",
            "127.0.0.1",
            "--http-port",
            "0",
            "--mqtt-port",
            "8883",
            "--tls",
            "--demo",
            "10",
            "--max-active-jobs",
            "5",
            "--job-rate",
            "50",
            "--telemetry-history",
            "10000",
        ])
        .expect("hub flags parse");
        let Some(Command::Hub(args)) = cli.command else {
            panic!("expected the hub subcommand");
        };
        assert_eq!(args.mqtt_port, 8883);
        assert!(args.tls);
        assert_eq!(args.demo, Some(10));
        let limits = args.limits();
        assert_eq!((limits.jobs.max_active, limits.jobs.device_rate), (5, 50));
        assert_eq!(limits.telemetry.device_messages, 10_000);
        for refused in [
            ["--max-active-jobs", "0"],
            ["--job-rate", "0"],
            ["--telemetry-history", "0"],
        ] {
            let parsed = Cli::try_parse_from(["twinlens", "hub", refused[0], refused[1]]);
            assert!(parsed.is_err(), "{refused:?}");
        }
    }

    #[test]
    fn simulate_flags_parse() {
        let cli = Cli::try_parse_from([
            "twinlens",
            "simulate",
            "--connection-string",
            "HostName=h;DeviceId=d;SharedAccessKey=a2V5",
            "--mqtt-port",
            "1883",
            "--no-tls",
            "--telemetry",
            "{\"seq\": {{counter}}}",
            "--interval",
            "0.5",
        ])
        .expect("simulate flags parse");
        let Some(Command::Simulate(args)) = cli.command else {
            panic!("expected the simulate subcommand");
        };
        assert_eq!(args.mqtt_port, 1883);
        assert!(args.no_tls);
        assert_eq!(args.interval, 0.5);
        assert_eq!(args.model_id, None);
        assert!(
            Cli::try_parse_from([
                "twinlens",
                "simulate",
                "--connection-string",
                "x",
                "--no-tls",
                "--ca-cert",
                "ca.pem"
            ])
            .is_err()
        );
    }

    #[test]
    fn simulate_takes_a_model_id_and_refuses_what_is_no_dtmi() {
        let parse = |model_id: &str| {
            Cli::try_parse_from([
                "twinlens",
                "simulate",
                "--connection-string",
                "x",
                "--model-id",
                model_id,
            ])
        };
        let cli = parse("dtmi:com:example:Thermostat;1").expect("a DTMI parses");
        let Some(Command::Simulate(args)) = cli.command else {
            panic!("expected the simulate subcommand");
        };
        assert_eq!(
            args.model_id.as_ref().map(ModelId::as_str),
            Some("dtmi:com:example:Thermostat;1")
        );
        let error = parse("com.example.Thermostat")
            .expect_err("no DTMI")
            .to_string();
        assert!(error.contains("--model-id"), "{error}");
        assert!(error.contains("\"com.example.Thermostat\""), "{error}");
        assert!(error.contains("dtmi:<path>;<version>"), "{error}");
    }

    #[test]
    fn import_and_diff_flags_parse() {
        let cli = Cli::try_parse_from([
            "twinlens",
            "import",
            "s.json",
            "--connection-string",
            "x",
            "--desired",
            "--dry-run",
            "--create-missing",
        ])
        .expect("import flags parse");
        let Some(Command::Import(args)) = cli.command else {
            panic!("expected the import subcommand");
        };
        assert!(args.desired && !args.tags && args.dry_run && args.create_missing);

        let sections = |extra: &[&str]| {
            let cli = Cli::try_parse_from(
                [["twinlens", "diff", "a.json", "b.json"].as_slice(), extra].concat(),
            )
            .expect("diff flags parse");
            let Some(Command::Diff(args)) = cli.command else {
                panic!("expected the diff subcommand");
            };
            args.sections
        };
        assert_eq!(
            sections(&[]),
            [
                TwinSection::Tags,
                TwinSection::Desired,
                TwinSection::Reported
            ]
        );
        assert_eq!(
            sections(&["--sections", "tags,desired"]),
            [TwinSection::Tags, TwinSection::Desired]
        );
        assert!(Cli::try_parse_from(["twinlens", "diff", "a", "b", "--sections", "etag"]).is_err());
    }

    #[test]
    fn bad_port_is_rejected() {
        assert!(Cli::try_parse_from(["twinlens", "hub", "--http-port", "70000"]).is_err());
    }
}
