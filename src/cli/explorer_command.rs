//! The explorer window from the command line: picks the hub (the embedded local hub by
//! default, with demo devices on its first run), reads the saved connections, and
//! opens the window.

use anyhow::Context;
use twinlens::app::{self, StartOptions, file_dialog};
use twinlens::explorer::connections::{default_connections_path, load_connections};
use twinlens::hub::HubConfig;
use twinlens::worker::{HubTarget, RemoteHub, WorkerOptions};

use crate::cli::args::ExplorerArgs;

/// Opens the window and returns when it is closed.
pub fn run(args: ExplorerArgs) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => HubConfig::default_data_dir()
            .context("no data folder for the embedded hub on this system; pass --data-dir DIR")?,
    };
    let embedded = HubTarget::Embedded {
        data_dir,
        demo_devices: (args.demo > 0).then_some(args.demo),
    };
    let connections_path = default_connections_path();
    let saved_connections = match &connections_path {
        Some(path) => load_connections(path).unwrap_or_else(|error| {
            tracing::warn!("{error}");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let hub = match args.connection_string {
        Some(connection_string) => {
            let ca_pem = match &args.ca_cert {
                Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                    format!("could not read the CA certificate {}", path.display())
                })?),
                None => None,
            };
            HubTarget::Remote(RemoteHub {
                connection_string,
                ca_pem,
                no_tls: args.no_tls,
                mqtt_port: args.mqtt_port,
            })
        }
        None => embedded.clone(),
    };
    let options = StartOptions {
        hub: Some(hub),
        embedded,
        open_device: args.device,
        simulate: args.simulate,
        tab: args.tab,
        connections_path,
        saved_connections,
        picker: file_dialog::native_picker(),
        settings: app::settings::Settings::default(),
        worker: WorkerOptions::default(),
    };
    app::run(options).map_err(|error| {
        anyhow::anyhow!(
            "could not open the explorer window: {error}. \
             A desktop session (X11 or Wayland) with OpenGL or Vulkan is required; \
             the headless subcommands (see `twinlens --help`) work without one"
        )
    })
}
