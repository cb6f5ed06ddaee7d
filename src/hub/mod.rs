//! The embedded local hub: an IoT Hub-compatible server that runs inside the explorer
//! or headless (`twinlens hub`). It serves the service REST API and persists the
//! registry durably; Azure's documented behaviour is its specification.
//!
//! # Layout
//! - [`store`]: identities and twins as packed documents in memory, queried in place and
//!   written through to SQLite.
//! - [`identity`]: the device identity document and its rules.
//! - [`module_identity`]: the module identity document and its rules.
//! - [`state`]: what the service API and the device endpoints share.
//! - [`access`]: who may use the hub (service tokens, device credentials).
//! - [`rest`]: the service REST API (axum router, SAS auth, Azure error JSON).
//! - [`http`]: serving those routes over HTTP/1.1 and HTTP/2, with timeouts.
//! - [`admission`]: connection limits per listener and accept-error handling.
//! - [`limits`]: every limit the hub enforces, with its default.
//! - [`activity`]: counts of what the hub did, logged as a periodic summary.
//! - [`mqtt`]: the device MQTT endpoint (twin, methods, telemetry sessions).
//! - [`websocket`]: MQTT over WebSockets on the service API's port.
//! - [`sessions`]: which device sessions are connected, takeover, revocation, and the
//!   subscriptions persistent sessions keep.
//! - [`jobs`]: twin-update and direct-method jobs over the devices a query chooses.
//! - [`methods`]: direct-method routing between service calls and device sessions.
//! - [`method_request`]: a direct-method request body and its rules.
//! - [`cloud_to_device`]: per-device queues of cloud-to-device messages, durable.
//! - [`telemetry`]: a bounded log of what devices sent.
//! - [`tls`]: the locally generated CA and server certificate, and a TLS listener.
//! - [`private_files`]: the store and keys kept readable by their owner only.
//! - [`demo`]: realistic demo devices for a fresh hub.
//! - [`error`]: every failure with Azure's error code.
//!
//! [`start`] binds the listeners and returns a [`RunningHub`]; [`serve`] takes
//! listeners the caller already bound, so tests can bind `127.0.0.1:0`.

pub mod access;
pub mod activity;
pub mod admission;
pub mod cloud_to_device;
pub mod demo;
pub mod error;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod limits;
pub mod method_request;
pub mod methods;
pub mod module_identity;
pub mod mqtt;
pub mod private_files;
pub mod rest;
pub mod sessions;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod websocket;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::{ServiceConnectionString, SharedAccessKey};
use access::{HubAuth, OWNER_POLICY};
use activity::Activity;
use admission::ConnectionLimit;
use cloud_to_device::CloudToDevice;
use limits::{HubLimits, ListenerLimits};
use methods::MethodDispatcher;
use sessions::SessionRegistry;
use state::HubState;
use store::{Store, StoreError};
use telemetry::TelemetryLog;
use tls::{HubCertificates, TlsListener};

/// The settings key under which the owner policy's key is kept.
const OWNER_KEY_SETTING: &str = "iothubowner_key";
/// The name of the store file inside the data directory.
const STORE_FILE: &str = "hub.db";
/// How long requests in flight may take to finish once the hub is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// The folder of the data directory that holds the certificates and their keys.
const TLS_DIR: &str = "tls";
/// The file a running hub locks in its data directory.
const LOCK_FILE: &str = "hub.lock";

/// How to run a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Where the store, keys and certificates live.
    pub data_dir: PathBuf,
    /// The address to listen on.
    pub bind: IpAddr,
    /// Service API port (0: any free port).
    pub http_port: u16,
    /// Device MQTT port (0: any free port).
    pub mqtt_port: u16,
    /// Serve HTTPS and MQTTS.
    pub tls: bool,
    /// Seed this many demo devices into an empty store.
    pub demo_devices: Option<usize>,
    /// Connections, timeouts and telemetry memory.
    pub limits: HubLimits,
}

impl HubConfig {
    /// The platform data directory for the hub (e.g. `~/.local/share/twinlens/hub`).
    pub fn default_data_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "twinlens").map(|dirs| dirs.data_dir().join("hub"))
    }
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubStartError {
    /// The data directory cannot be created.
    #[error(
        "could not create the hub data directory {path}: {source}; pick another with --data-dir"
    )]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A port is taken or not allowed.
    #[error(
        "could not listen on {address} for the {what}: {source}; choose another port or 0 for any free port"
    )]
    Bind {
        /// The address and port.
        address: SocketAddr,
        /// Which endpoint.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The OS keeps the port for privileged programs (ports below 1024 on Linux).
    #[error(
        "could not listen on {address} for the {what}: {source}. This system lets only \
         privileged programs use ports below 1024, such as 443 (which SDKs that cannot take a \
         port in HostName dial). On Linux, allow it with \
         `sudo setcap cap_net_bind_service=+ep \"$(command -v twinlens)\"` or \
         `sudo sysctl net.ipv4.ip_unprivileged_port_start={}`; see \"Serving on port 443\" \
         in the README. Or choose a port from 1024 up, or 0 for any free port",
        .address.port()
    )]
    PrivilegedPort {
        /// The address and port.
        address: SocketAddr,
        /// Which endpoint.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another hub (a `twinlens hub`, or an explorer's embedded one) uses the directory.
    #[error(
        "another twinlens hub is using the data directory {path}; stop it, or give this hub \
         another --data-dir"
    )]
    InUse {
        /// The directory.
        path: PathBuf,
    },
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Certificates cannot be loaded or created.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Demo data cannot be written.
    #[error("could not seed demo devices: {0}")]
    Demo(#[from] error::HubError),
}

/// The facts a client needs to use a running hub; printed as the ready line.
#[derive(Debug, Clone, Serialize)]
pub struct ReadyInfo {
    /// Always `"ready"`.
    pub event: &'static str,
    /// `localhost:PORT` of the service API.
    pub host_name: String,
    /// `http://` or `https://` base URL of the service API.
    pub http_url: String,
    /// The device MQTT port.
    pub mqtt_port: u16,
    /// The owner policy's connection string.
    pub service_connection_string: String,
    /// The CA certificate to trust with `--tls`.
    pub ca_cert: Option<PathBuf>,
}

/// A hub serving in the background.
pub struct RunningHub {
    /// How to reach it.
    pub ready: ReadyInfo,
    /// The registry and routing it serves, for in-process callers.
    pub state: HubState,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    /// Held while the hub runs, so that no second hub opens the same store.
    _data_dir_lock: std::fs::File,
}

impl RunningHub {
    /// Stops accepting, lets requests in flight finish, and waits for the server.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        match self.server.await {
            Ok(result) => result,
            Err(join_error) => Err(std::io::Error::other(join_error)),
        }
    }
}

/// Opens the store, binds the ports and starts serving.
pub async fn start(mut config: HubConfig) -> Result<RunningHub, HubStartError> {
    // Paths in the ready line (the CA) must work from any working directory.
    config.data_dir = std::path::absolute(&config.data_dir).unwrap_or(config.data_dir);
    create_private_dir(&config.data_dir).map_err(|source| HubStartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let data_dir_lock = lock_data_dir(&config.data_dir)?;
    secure_private_files(&config.data_dir)?;
    let store = Store::open(&config.data_dir.join(STORE_FILE))?;
    let owner_key = owner_key(&store)?;
    if let Some(count) = config.demo_devices {
        seed_demo_devices(&store, count)?;
    }
    let http = bind(config.bind, config.http_port, "service API").await?;
    let mqtt = bind(config.bind, config.mqtt_port, "device MQTT endpoint").await?;
    let http_port = local_port(&http);
    let mqtt_port = local_port(&mqtt);
    let certificates = if config.tls {
        let names = [config.bind.to_string()];
        Some(HubCertificates::load_or_create(
            &config.data_dir.join(TLS_DIR),
            &names,
        )?)
    } else {
        None
    };
    let host_name = service_host_name(
        &advertised_host(config.bind),
        http_port,
        certificates.is_some(),
    );
    let connection_string = ServiceConnectionString {
        host_name: host_name.clone(),
        policy_name: OWNER_POLICY.to_owned(),
        key: owner_key.clone(),
    };
    let ready = ReadyInfo {
        event: "ready",
        http_url: format!(
            "{}://{host_name}",
            if certificates.is_some() {
                "https"
            } else {
                "http"
            }
        ),
        host_name,
        mqtt_port,
        service_connection_string: connection_string.to_connection_string(),
        ca_cert: certificates.as_ref().map(|c| c.ca_cert_path().to_owned()),
    };
    let methods = MethodDispatcher::default();
    let jobs = jobs::Jobs::open(store.clone(), methods.clone(), config.limits.jobs)?;
    let cloud_to_device = CloudToDevice::open(store.clone(), chrono::Utc::now())?;
    let state = HubState {
        store,
        auth: Arc::new(HubAuth::new(
            owner_key,
            host_names(config.bind, &[http_port, mqtt_port]),
        )),
        methods,
        sessions: SessionRegistry::default(),
        cloud_to_device,
        telemetry: TelemetryLog::new(config.limits.telemetry),
        jobs,
        activity: Arc::new(Activity::default()),
        http_timeout: config.limits.http_timeout,
    };
    let descriptors = limits::raise_descriptor_limit();
    let max_connections = config.limits.connections_per_listener(descriptors);
    tracing::debug!(
        descriptors,
        devices = max_connections.devices,
        service = max_connections.service,
        "open-file limit and connections allowed per listener"
    );
    let (shutdown, mut stopped) = watch::channel(false);
    let server = tokio::spawn(serve(
        http,
        mqtt,
        state.clone(),
        certificates,
        max_connections,
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    ));
    Ok(RunningHub {
        ready,
        state,
        shutdown,
        server,
        _data_dir_lock: data_dir_lock,
    })
}

/// How often queues are cleared of expired cloud-to-device messages, so that
/// `cloudToDeviceMessageCount` falls when they expire.
const EXPIRY_SWEEP_PERIOD: Duration = Duration::from_secs(5);

/// Drops expired cloud-to-device messages every [`EXPIRY_SWEEP_PERIOD`] until `stopped`.
async fn drop_expired_messages(queues: CloudToDevice, stopped: impl Future<Output = ()>) {
    let sweep = async {
        let mut ticks = tokio::time::interval(EXPIRY_SWEEP_PERIOD);
        loop {
            ticks.tick().await;
            let queues = queues.clone();
            let _ =
                tokio::task::spawn_blocking(move || queues.drop_expired(chrono::Utc::now())).await;
        }
    };
    tokio::select! {
        () = sweep => {}
        () = stopped => {}
    }
}

/// Serves the hub on listeners the caller bound until `shutdown` completes, with at
/// most `max_connections` open on each listener.
pub async fn serve(
    http: TcpListener,
    mqtt: TcpListener,
    state: HubState,
    certificates: Option<HubCertificates>,
    max_connections: ListenerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = rest::router(state.clone());
    // Every part stops on the same signal.
    let (stop, stopped) = watch::channel(false);
    let signal = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let device_limit = ConnectionLimit::new("device MQTT endpoint", max_connections.devices);
    let service_limit = ConnectionLimit::new("service API", max_connections.service);
    let (devices, service) = match &certificates {
        None => (
            mqtt::MqttListener::Plain(mqtt, device_limit),
            http::HttpListener::Plain(http, service_limit),
        ),
        Some(certificates) => (
            mqtt::MqttListener::Tls(TlsListener::new(
                mqtt,
                certificates.mqtt_acceptor(),
                device_limit,
            )),
            http::HttpListener::Tls(TlsListener::new(
                http,
                certificates.http_acceptor(),
                service_limit,
            )),
        ),
    };
    tokio::spawn(activity::log_summaries(
        Arc::clone(&state.activity),
        signal(stopped.clone()),
    ));
    tokio::spawn(drop_expired_messages(
        state.cloud_to_device.clone(),
        signal(stopped.clone()),
    ));
    let http_timeout = state.http_timeout;
    let jobs = state.jobs.clone();
    let telemetry = state.telemetry.clone();
    let device_endpoint = tokio::spawn(mqtt::serve(devices, state, signal(stopped.clone())));
    tokio::spawn(async move {
        shutdown.await;
        // Jobs save where they are, to resume when the hub starts again.
        jobs.stop();
        telemetry.stop_listeners();
        let _ = stop.send(true);
    });
    let service_api = async {
        http::serve(service, app, http_timeout, signal(stopped.clone())).await;
        Ok(())
    };
    // Requests in flight get a grace period; a client that never finishes its request
    // must not keep the hub from stopping.
    let grace_over = async {
        signal(stopped.clone()).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let served = tokio::select! {
        served = service_api => served,
        () = grace_over => {
            tracing::warn!("requests still unfinished {SHUTDOWN_GRACE:?} after the stop; stopping without them");
            Ok(())
        }
    };
    let _ = device_endpoint.await;
    served
}

/// Takes the data directory's lock file, held until the returned file is dropped (or the
/// process ends, however it ends).
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, HubStartError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| HubStartError::DataDir {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(HubStartError::InUse {
            path: dir.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(HubStartError::DataDir { path, source }),
    }
}

/// Makes the store and the private keys owner-only (creating the store so), whatever
/// the mode of the data directory.
fn secure_private_files(dir: &std::path::Path) -> Result<(), HubStartError> {
    let store = dir.join(STORE_FILE);
    let failed = |path: PathBuf| move |source| HubStartError::DataDir { path, source };
    private_files::create_owner_only(&store).map_err(failed(store.clone()))?;
    let mut secrets: Vec<PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| dir.join(format!("{STORE_FILE}{suffix}")))
        .collect();
    secrets.extend(
        tls::PRIVATE_KEY_FILES
            .iter()
            .map(|key| dir.join(TLS_DIR).join(key)),
    );
    private_files::tighten(&secrets).map_err(failed(dir.to_owned()))?;
    Ok(())
}

/// Creates the data directory readable only by its owner: it holds every device key.
/// A directory that already exists is left as it is.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

async fn bind(ip: IpAddr, port: u16, what: &'static str) -> Result<TcpListener, HubStartError> {
    let address = SocketAddr::new(ip, port);
    TcpListener::bind(address)
        .await
        .map_err(|source| bind_error(address, what, source))
}

fn bind_error(address: SocketAddr, what: &'static str, source: std::io::Error) -> HubStartError {
    if source.kind() == std::io::ErrorKind::PermissionDenied && address.port() < 1024 {
        HubStartError::PrivilegedPort {
            address,
            what,
            source,
        }
    } else {
        HubStartError::Bind {
            address,
            what,
            source,
        }
    }
}

fn local_port(listener: &TcpListener) -> u16 {
    listener.local_addr().map(|a| a.port()).unwrap_or(0)
}

/// The service API's host name as connection strings carry it: with the port, unless it
/// is the scheme's own (443 for HTTPS, 80 for HTTP), which Azure's host names never
/// carry and SDKs that take no port in `HostName` (the Azure CLI's device client copies
/// it into device connection strings) cannot use.
fn service_host_name(host: &str, port: u16, tls: bool) -> String {
    let default_port = if tls { 443 } else { 80 };
    if port == default_port {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// The host clients are told to use: `localhost` when that reaches the hub (it listens on
/// the usual loopback address or on every address), otherwise the address it is bound to.
fn advertised_host(bind: IpAddr) -> String {
    let usual_loopback = bind == Ipv4Addr::LOCALHOST || bind == Ipv6Addr::LOCALHOST;
    if bind.is_unspecified() || usual_loopback {
        "localhost".to_owned()
    } else {
        url_host(bind)
    }
}

/// An address as it is written before `:port` (IPv6 in brackets).
fn url_host(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Every name a client may put in a token's resource for this hub.
fn host_names(bind: IpAddr, ports: &[u16]) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    let bound = url_host(bind);
    if !bind.is_unspecified() && !hosts.contains(&bound) {
        hosts.push(bound);
    }
    let mut names = hosts.clone();
    for host in &hosts {
        names.extend(ports.iter().map(|port| format!("{host}:{port}")));
    }
    names
}

/// The owner policy's key: generated on first start, then kept in the store.
fn owner_key(store: &Store) -> Result<SharedAccessKey, HubStartError> {
    if let Some(stored) = store.setting(OWNER_KEY_SETTING)? {
        match SharedAccessKey::from_base64(&stored) {
            Ok(key) => return Ok(key),
            Err(_) => tracing::warn!("the stored owner key is damaged; generating a new one"),
        }
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let key = SharedAccessKey::from_bytes(bytes.to_vec());
    store.set_setting(OWNER_KEY_SETTING, &key.to_base64())?;
    Ok(key)
}

/// How many devices the hub keeping its data in `data_dir` holds, read from its store
/// without opening it for serving; `None` when there is no store yet or it cannot be
/// read.
pub fn stored_device_count(data_dir: &std::path::Path) -> Option<u64> {
    store::count_devices(&data_dir.join(STORE_FILE))
}

fn seed_demo_devices(store: &Store, count: usize) -> Result<(), HubStartError> {
    if store.device_count() > 0 {
        tracing::info!("the store already has devices; --demo seeds only an empty store");
        return Ok(());
    }
    let fleet = demo::DemoFleet::new(count, chrono::Utc::now())?;
    let added = store.seed_devices(count, |index| fleet.device(index))?;
    tracing::info!(added, "seeded demo devices");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_told_a_host_that_reaches_the_hub() {
        for (bind, host) in [
            ("127.0.0.1", "localhost"),
            ("0.0.0.0", "localhost"),
            ("::", "localhost"),
            ("::1", "localhost"),
            ("127.0.0.2", "127.0.0.2"),
            ("192.168.1.20", "192.168.1.20"),
            ("fe80::1", "[fe80::1]"),
        ] {
            let bind: IpAddr = bind.parse().unwrap();
            assert_eq!(advertised_host(bind), host, "{bind}");
        }
    }

    #[test]
    fn the_schemes_own_port_is_left_out_of_the_host_name() {
        assert_eq!(service_host_name("localhost", 443, true), "localhost");
        assert_eq!(service_host_name("localhost", 443, false), "localhost:443");
        assert_eq!(service_host_name("localhost", 80, false), "localhost");
        assert_eq!(service_host_name("127.0.0.2", 8443, true), "127.0.0.2:8443");
    }

    #[test]
    fn a_refused_privileged_port_says_how_to_allow_it() {
        let address = SocketAddr::from(([127, 0, 0, 1], 443));
        let denied = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let message = bind_error(address, "service API", denied()).to_string();
        assert!(message.contains("cap_net_bind_service"), "{message}");
        assert!(
            message.contains("ip_unprivileged_port_start=443"),
            "{message}"
        );
        let taken = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let message = bind_error(address, "service API", taken).to_string();
        assert!(message.contains("choose another port"), "{message}");
        let high = SocketAddr::from(([127, 0, 0, 1], 8443));
        assert!(matches!(
            bind_error(high, "service API", denied()),
            HubStartError::Bind { .. }
        ));
    }

    #[test]
    fn tokens_may_name_the_bound_address() {
        let bind = IpAddr::from([127, 0, 0, 2]);
        let names = host_names(bind, &[8443]);
        for name in ["localhost", "127.0.0.1:8443", "127.0.0.2", "127.0.0.2:8443"] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        let everywhere = host_names(IpAddr::from([0, 0, 0, 0]), &[8443]);
        assert!(!everywhere.iter().any(|n| n.starts_with("0.0.0.0")));
        let usual = host_names(IpAddr::from([127, 0, 0, 1]), &[1]);
        assert_eq!(usual.iter().filter(|n| *n == "127.0.0.1").count(), 1);
    }
}
