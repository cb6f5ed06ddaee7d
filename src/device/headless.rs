//! `twinlens simulate`: runs one simulated device (from a device connection string) or a
//! fleet (from a service connection string, registering missing devices), and logs
//! everything they see until told to stop.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::registration::{RegistrationError, ensure_devices, host_without_port};
use super::{
    Behaviours, DeviceConfig, DeviceEvent, DeviceHandle, Endpoint, ModelId, SimulatedDevice,
    TlsMode,
};
use crate::auth::ConnectionString;

/// The id template used when `--count` is given without one.
pub const DEFAULT_ID_TEMPLATE: &str = "sim-{n}";
const NUMBER: &str = "{n}";

/// What `twinlens simulate` was asked to run.
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    /// A device connection string (one device) or a service connection string (a fleet).
    pub connection: ConnectionString,
    /// How many devices, for a service connection string.
    pub count: usize,
    /// Device ids for a fleet: `{n}` is replaced by 1..=count.
    pub id_template: Option<String>,
    /// Simulate this module of each device instead of the device (service connection
    /// strings only; the module is registered when missing).
    pub module: Option<String>,
    /// The MQTT port to dial (8883 for Azure).
    pub mqtt_port: u16,
    /// Transport security, for MQTT and for registration alike.
    pub tls: TlsMode,
    /// What every device does.
    pub behaviours: Behaviours,
    /// The IoT Plug and Play model every device (or module) announces, if any.
    pub model_id: Option<ModelId>,
}

/// Why the simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// `--count` above 1 with a device connection string.
    #[error(
        "a device connection string simulates exactly one device, but {count} were asked for; pass a service connection string to simulate a fleet"
    )]
    CountNeedsService {
        /// The count given.
        count: usize,
    },
    /// `--count 0`.
    #[error("nothing to simulate: the device count is 0; pass --count 1 or more")]
    NoDevices,
    /// `--module` with a device connection string.
    #[error(
        "--module needs a service connection string (to register the module and read its \
         keys); to run one module with its own keys, pass its module connection string \
         (HostName=...;DeviceId=...;ModuleId=...;SharedAccessKey=...) without --module"
    )]
    ModuleNeedsService,
    /// An id template without `{n}` for several devices.
    #[error(
        "the device id template {template:?} has no `{{n}}`, so all {count} devices would share one id; write e.g. `sim-{{n}}`"
    )]
    TemplateWithoutNumber {
        /// The template given.
        template: String,
        /// The count given.
        count: usize,
    },
    /// The hub's host name does not resolve.
    #[error(
        "cannot find the hub's host '{host}': {reason}; check HostName (or GatewayHostName) \
         in the connection string, and your network"
    )]
    UnresolvableHost {
        /// The host the devices would dial.
        host: String,
        /// What the lookup said.
        reason: String,
    },
    /// A JSON document where the device id template belongs.
    #[error(
        "the device id template {template:?} looks like a JSON body: --template names the devices \
         (e.g. `sim-{{N}}`); give a telemetry body with --telemetry"
    )]
    TemplateIsJson {
        /// The template given.
        template: String,
    },
    /// Registration failed.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
}

/// The ids of a fleet of `count` devices: `{n}` (or `{N}`, which command-line help can
/// show) in `template` becomes 1, 2, ... `count`.
pub fn device_ids(template: &str, count: usize) -> Result<Vec<String>, FleetError> {
    // Device ids never hold `"`, so this is a JSON body given to the wrong option.
    if template.trim_start().starts_with('{') && template.contains('"') {
        return Err(FleetError::TemplateIsJson {
            template: template.to_owned(),
        });
    }
    let template = &template.replace("{N}", NUMBER);
    if count == 0 {
        return Err(FleetError::NoDevices);
    }
    if count > 1 && !template.contains(NUMBER) {
        return Err(FleetError::TemplateWithoutNumber {
            template: template.to_owned(),
            count,
        });
    }
    Ok((1..=count)
        .map(|n| template.replace(NUMBER, &n.to_string()))
        .collect())
}

/// Runs the devices until `shutdown` completes, logging every event with `tracing`, then
/// disconnects them cleanly.
pub async fn run_headless(
    options: HeadlessOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FleetError> {
    let (connections, host) = match &options.connection {
        ConnectionString::Device(device) => {
            if options.module.is_some() {
                return Err(FleetError::ModuleNeedsService);
            }
            if options.count > 1 {
                return Err(FleetError::CountNeedsService {
                    count: options.count,
                });
            }
            // `HostName=localhost:PORT` (how a local hub's connection strings name it):
            // the port is the service API's; devices dial the MQTT port.
            (
                vec![device.clone()],
                host_without_port(device.connect_host_name()).to_owned(),
            )
        }
        ConnectionString::Service(service) => {
            let template = options
                .id_template
                .as_deref()
                .unwrap_or(DEFAULT_ID_TEMPLATE);
            let ids = device_ids(template, options.count)?;
            tracing::info!(
                count = ids.len(),
                hub = service.host_name,
                "registering devices"
            );
            let devices =
                ensure_devices(service, &options.tls, &ids, options.module.as_deref()).await?;
            (devices, host_without_port(&service.host_name).to_owned())
        }
    };
    check_resolvable(&host, options.mqtt_port).await?;
    let (stop, stopped) = watch::channel(false);
    let mut devices = JoinSet::new();
    for connection in connections {
        let endpoint = Endpoint {
            host: host.clone(),
            port: options.mqtt_port,
            tls: options.tls.clone(),
        };
        let mut config = DeviceConfig::new(connection, endpoint);
        config.behaviours = options.behaviours.clone();
        config.model_id = options.model_id.clone();
        devices.spawn(log_device(SimulatedDevice::spawn(config), stopped.clone()));
    }
    shutdown.await;
    tracing::info!("stopping the simulated devices");
    let _ = stop.send(true);
    while devices.join_next().await.is_some() {}
    Ok(())
}

/// How long looking up the hub's host may take before the simulation gives up.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(15);

/// Looks the hub's host up once before any device starts: a name that does not resolve
/// is a mistake in the connection string, and retrying it forever helps nobody.
async fn check_resolvable(host: &str, port: u16) -> Result<(), FleetError> {
    let unresolvable = |reason: String| FleetError::UnresolvableHost {
        host: host.to_owned(),
        reason,
    };
    match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(mut addresses)) => match addresses.next() {
            Some(_) => Ok(()),
            None => Err(unresolvable("it has no addresses".into())),
        },
        Ok(Err(error)) => Err(unresolvable(error.to_string())),
        Err(_) => Err(unresolvable(format!(
            "no answer within {} s",
            RESOLVE_TIMEOUT.as_secs()
        ))),
    }
}

/// Logs what a running device does until `stopped` turns true, then stops it. It takes
/// the started device rather than its configuration, and stops it boxed, so its task holds
/// little more than the device's handle while the fleet runs.
async fn log_device(mut device: DeviceHandle, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            event = device.recv() => match event {
                Some(event) => log_event(device.device_id(), &event),
                None => return,
            },
            _ = stopped.wait_for(|stop| *stop) => break,
        }
    }
    Box::pin(device.shutdown()).await;
}

fn log_event(device_id: &str, event: &DeviceEvent) {
    match event {
        DeviceEvent::Connected => tracing::info!(device_id, "connected"),
        DeviceEvent::Disconnected { reason } => tracing::warn!(device_id, reason, "disconnected"),
        DeviceEvent::Reconnecting { attempt, delay } => {
            tracing::info!(device_id, attempt, ?delay, "reconnecting")
        }
        DeviceEvent::TwinReceived(twin) => tracing::info!(device_id, %twin, "twin received"),
        DeviceEvent::DesiredReceived { version, patch } => {
            tracing::info!(device_id, version, %patch, "desired properties received")
        }
        DeviceEvent::ReportedSent { patch, version } => {
            tracing::info!(device_id, ?version, %patch, "reported properties sent")
        }
        DeviceEvent::ReportedFailed { status, message } => {
            tracing::warn!(device_id, status, message, "reported properties refused")
        }
        DeviceEvent::MethodInvoked {
            name,
            payload,
            status,
            response,
        } => tracing::info!(device_id, name, %payload, status, %response, "direct method answered"),
        DeviceEvent::CloudMessageReceived {
            properties,
            body,
            completed,
        } => {
            let message = super::describe_cloud_message(properties, body);
            tracing::info!(
                device_id,
                message,
                completed,
                "cloud-to-device message received"
            )
        }
        DeviceEvent::TelemetrySent { body } => tracing::info!(device_id, body, "telemetry sent"),
        DeviceEvent::Error(message) => tracing::error!(device_id, message, "device error"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_upper_case_placeholder_works_too() {
        assert_eq!(device_ids("sim-{N}", 2).unwrap(), ["sim-1", "sim-2"]);
    }

    #[test]
    fn ids_number_from_one() {
        assert_eq!(
            device_ids("sim-{n}", 3).unwrap(),
            vec!["sim-1", "sim-2", "sim-3"]
        );
        assert_eq!(device_ids("only", 1).unwrap(), vec!["only"]);
    }

    #[test]
    fn bad_fleets_are_refused() {
        assert!(matches!(
            device_ids("sim", 2).unwrap_err(),
            FleetError::TemplateWithoutNumber { count: 2, .. }
        ));
        assert!(matches!(
            device_ids("sim-{n}", 0).unwrap_err(),
            FleetError::NoDevices
        ));
        let telemetry = device_ids(r#"{"t": {{counter}}}"#, 2).unwrap_err();
        assert!(telemetry.to_string().contains("--telemetry"), "{telemetry}");
        let json = device_ids(r#"{"t": 1}"#, 1).unwrap_err();
        assert!(matches!(json, FleetError::TemplateIsJson { .. }), "{json}");
    }
}
