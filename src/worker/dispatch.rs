//! The worker's side: a dispatcher on the tokio runtime that owns the hub connection,
//! runs each request as its own task, tracks jobs for cancellation, and drives the
//! simulated devices. Every event it sends wakes the UI.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::{
    Command, Event, Failure, HubTarget, JobId, LocalHubAddress, Outcome, Repaint, snapshots,
};
use crate::auth::{DeviceConnectionString, ServiceConnectionString, SharedAccessKey};
use crate::device::{
    Behaviours, DeviceCommand, DeviceConfig, DeviceHandle, Endpoint, SimulatedDevice, TlsMode,
    host_without_port,
};
use crate::hub::{self, HubConfig, RunningHub};
use crate::service::{ClientOptions, NewDevice, ServiceClient, client_for};

/// The worker's end of the event queue: every send wakes the UI.
#[derive(Clone)]
pub(super) struct Events {
    sender: mpsc::Sender<Event>,
    repaint: Repaint,
}

impl Events {
    pub(super) fn new(sender: mpsc::Sender<Event>, repaint: Repaint) -> Self {
        Events { sender, repaint }
    }

    pub(super) async fn send(&self, event: Event) {
        if self.sender.send(event).await.is_ok() {
            (self.repaint)();
        }
    }

    /// Sends without waiting, for progress updates a full queue may drop.
    pub(super) fn try_send(&self, event: Event) {
        if self.sender.try_send(event).is_ok() {
            (self.repaint)();
        }
    }
}

/// The hub the worker talks to.
struct Connection {
    client: ServiceClient,
    service: ServiceConnectionString,
    /// Where simulated devices connect.
    device_endpoint: Endpoint,
    /// The host name devices sign their tokens for.
    device_host: String,
    /// The embedded hub, kept running while connected.
    embedded: Option<RunningHub>,
}

struct Dispatcher {
    events: Events,
    connection: Option<Arc<Connection>>,
    jobs: HashMap<JobId, AbortHandle>,
    /// Commands for each simulated device's driver task; dropping one stops the device.
    simulations: HashMap<String, mpsc::Sender<DeviceCommand>>,
}

pub(super) async fn run(mut commands: mpsc::Receiver<Command>, events: Events) {
    let mut dispatcher = Dispatcher {
        events,
        connection: None,
        jobs: HashMap::new(),
        simulations: HashMap::new(),
    };
    while let Some(command) = commands.recv().await {
        dispatcher.jobs.retain(|_, job| !job.is_finished());
        dispatcher.handle(command).await;
    }
}

impl Dispatcher {
    async fn handle(&mut self, command: Command) {
        match command {
            Command::Connect(target) => self.connect(target).await,
            Command::Cancel(job) => {
                if let Some(handle) = self.jobs.remove(&job) {
                    handle.abort();
                    self.events.send(Event::Cancelled { job }).await;
                }
            }
            Command::Simulation { device_id, command } => {
                let result = match self.simulations.get(&device_id) {
                    Some(device) => device.try_send(command).map_err(|_| {
                        format!("simulated device '{device_id}' is busy or stopped; try again")
                    }),
                    None => Err(format!(
                        "device '{device_id}' is not being simulated; start it first"
                    )),
                };
                if let Err(error) = result {
                    self.events
                        .send(Event::SimulationFailed { device_id, error })
                        .await;
                }
            }
            Command::StartSimulation {
                device_id,
                behaviours,
            } => self.start_simulation(device_id, behaviours).await,
            Command::SaveConnections { path, connections } => {
                let result = tokio::task::spawn_blocking(move || {
                    crate::explorer::connections::save_connections(&path, &connections)
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(format!("saving the connections stopped: {e}")));
                self.events.send(Event::ConnectionsSaved { result }).await;
            }
            Command::StopSimulation { device_id } => {
                if self.simulations.remove(&device_id).is_some() {
                    self.events
                        .send(Event::SimulationStopped { device_id })
                        .await;
                }
            }
            request => self.spawn_request(request).await,
        }
    }

    async fn connect(&mut self, target: HubTarget) {
        self.simulations.clear();
        self.connection = None;
        if let HubTarget::Embedded {
            data_dir,
            demo_devices,
        } = &target
        {
            let folder = data_dir.clone();
            let stored = tokio::task::spawn_blocking(move || hub::stored_device_count(&folder))
                .await
                .ok()
                .flatten();
            // An empty store is seeded with the demo devices, if asked for.
            let devices = stored
                .filter(|count| *count > 0)
                .or_else(|| demo_devices.map(|count| count as u64));
            self.events.send(Event::OpeningLocalHub { devices }).await;
        }
        match open_connection(target).await {
            Ok(connection) => {
                let local_hub = connection.embedded.as_ref().map(|hub| LocalHubAddress {
                    http_url: hub.ready.http_url.clone(),
                    mqtt_port: hub.ready.mqtt_port,
                    service_connection_string: hub.ready.service_connection_string.clone(),
                });
                let host_name = connection.service.host_name.clone();
                self.connection = Some(Arc::new(connection));
                self.events
                    .send(Event::Connected {
                        host_name,
                        local_hub,
                    })
                    .await;
            }
            Err(error) => self.events.send(Event::ConnectFailed { error }).await,
        }
    }

    async fn spawn_request(&mut self, request: Command) {
        let job = match &request {
            Command::Query { job, .. }
            | Command::GetTwin { job, .. }
            | Command::PatchTwin { job, .. }
            | Command::CreateDevice { job, .. }
            | Command::DeleteDevice { job, .. }
            | Command::InvokeMethod { job, .. }
            | Command::Export { job, .. }
            | Command::CompareSnapshot { job, .. }
            | Command::PlanImport { job, .. }
            | Command::ApplyImport { job, .. } => *job,
            _ => return,
        };
        let Some(connection) = self.connection.clone() else {
            let error = Failure::local("not connected to a hub; connect first");
            self.events
                .send(Event::Finished {
                    job,
                    outcome: Err(error),
                })
                .await;
            return;
        };
        let events = self.events.clone();
        let task = tokio::spawn(async move { run_request(request, &connection, &events).await });
        self.jobs.insert(job, task.abort_handle());
    }

    async fn start_simulation(&mut self, device_id: String, behaviours: Behaviours) {
        let Some(connection) = self.connection.clone() else {
            let error = "not connected to a hub; connect first".to_owned();
            self.events
                .send(Event::SimulationFailed { device_id, error })
                .await;
            return;
        };
        self.simulations.remove(&device_id);
        match device_config(&connection, &device_id, behaviours).await {
            Ok(config) => {
                let (commands, queue) = mpsc::channel(crate::device::COMMAND_CAPACITY);
                tokio::spawn(drive_simulation(
                    SimulatedDevice::spawn(config),
                    queue,
                    self.events.clone(),
                ));
                self.simulations.insert(device_id, commands);
            }
            Err(error) => {
                self.events
                    .send(Event::SimulationFailed { device_id, error })
                    .await
            }
        }
    }
}

/// Owns one simulated device: forwards the UI's commands to it and its events to the
/// UI, and shuts it down when the dispatcher drops its command sender.
async fn drive_simulation(
    mut device: DeviceHandle,
    mut commands: mpsc::Receiver<DeviceCommand>,
    events: Events,
) {
    let device_id = device.device_id().to_owned();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => {
                    if let Err(error) = device.send(command).await {
                        events.send(Event::SimulationFailed { device_id: device_id.clone(), error: error.to_string() }).await;
                    }
                }
                None => break,
            },
            event = device.recv() => match event {
                Some(event) => events.send(Event::Simulation { device_id: device_id.clone(), event }).await,
                None => return,
            },
        }
    }
    device.shutdown().await;
}

async fn open_connection(target: HubTarget) -> Result<Connection, String> {
    match target {
        HubTarget::Embedded {
            data_dir,
            demo_devices,
        } => {
            let hub = hub::start(HubConfig {
                data_dir,
                bind: std::net::IpAddr::from([127, 0, 0, 1]),
                http_port: 0,
                mqtt_port: 0,
                tls: false,
                demo_devices,
                limits: Default::default(),
            })
            .await
            .map_err(|e| format!("could not start the embedded hub: {e}"))?;
            let service: ServiceConnectionString =
                hub.ready.service_connection_string.parse().map_err(|e| {
                    format!("the embedded hub's connection string is unusable: {e}")
                })?;
            let options = ClientOptions {
                base_url: Some(hub.ready.http_url.clone()),
                ..ClientOptions::default()
            };
            let client = ServiceClient::new(&service, options).map_err(|e| e.to_string())?;
            let device_endpoint = Endpoint {
                host: "127.0.0.1".into(),
                port: hub.ready.mqtt_port,
                tls: TlsMode::None,
            };
            let connection = Connection {
                client,
                service,
                device_endpoint,
                device_host: "localhost".into(),
                embedded: Some(hub),
            };
            Ok(connection)
        }
        HubTarget::Remote(remote) => {
            let (service, client) = client_for(
                &remote.connection_string,
                remote.ca_pem.clone(),
                remote.no_tls,
            )
            .map_err(|e| e.to_string())?;
            // Prove the connection works before reporting success.
            let probe = client.query("SELECT COUNT() AS n FROM devices", Some(1));
            futures_util::pin_mut!(probe);
            match probe.next().await {
                Some(Ok(_)) | None => {}
                Some(Err(error)) => {
                    return Err(format!("could not reach {}: {error}", service.host_name));
                }
            }
            let host = host_without_port(&service.host_name).to_owned();
            let device_endpoint = Endpoint {
                host: host.clone(),
                port: remote.mqtt_port,
                tls: TlsMode::chosen(remote.no_tls, remote.ca_pem),
            };
            let connection = Connection {
                client,
                service,
                device_endpoint,
                device_host: host,
                embedded: None,
            };
            Ok(connection)
        }
    }
}

async fn device_config(
    connection: &Connection,
    device_id: &str,
    behaviours: Behaviours,
) -> Result<DeviceConfig, String> {
    let device = connection
        .client
        .get_device(device_id)
        .await
        .map_err(|e| e.to_string())?;
    let key = device
        .authentication
        .as_ref()
        .and_then(|auth| auth.symmetric_key.as_ref())
        .and_then(|keys| keys.primary_key.clone())
        .ok_or_else(|| {
            format!("device '{device_id}' has no symmetric key; only SAS devices can be simulated")
        })?;
    let key = SharedAccessKey::from_base64(&key)
        .map_err(|e| format!("device '{device_id}' has an unusable key: {e}"))?;
    let credentials = DeviceConnectionString {
        host_name: connection.device_host.clone(),
        device_id: device_id.to_owned(),
        module_id: None,
        gateway_host_name: None,
        key,
    };
    let mut config = DeviceConfig::new(credentials, connection.device_endpoint.clone());
    config.behaviours = behaviours;
    Ok(config)
}

async fn run_request(request: Command, connection: &Connection, events: &Events) {
    let client = &connection.client;
    let (job, outcome) = match request {
        Command::Query {
            job,
            query,
            page_size,
            reader,
        } => {
            let total = client
                .count_matching(&query)
                .await
                .and_then(|total| usize::try_from(total).ok());
            let pages = client.query(&query, Some(page_size));
            futures_util::pin_mut!(pages);
            let mut loaded = 0;
            while let Some(page) = pages.next().await {
                match page {
                    Ok(page) => {
                        // Read here, off the UI thread, in pieces the UI folds into its
                        // list well within a frame's budget.
                        for piece in page.rows.chunks(super::QUERY_EVENT_ROWS) {
                            let rows = reader.read(piece);
                            loaded += piece.len();
                            events
                                .send(Event::QueryPage {
                                    job,
                                    rows,
                                    loaded,
                                    total,
                                })
                                .await;
                        }
                    }
                    Err(error) => {
                        events
                            .send(Event::Finished {
                                job,
                                outcome: Err(error.into()),
                            })
                            .await;
                        return;
                    }
                }
            }
            events.send(Event::QueryDone { job, loaded }).await;
            return;
        }
        Command::GetTwin { job, device_id } => {
            (job, twin_outcome(client.get_twin(&device_id).await))
        }
        Command::PatchTwin {
            job,
            device_id,
            patch,
            etag,
        } => (
            job,
            twin_outcome(client.patch_twin(&device_id, &patch, etag.as_deref()).await),
        ),
        Command::CreateDevice { job, device_id } => {
            let created = client
                .create_device(&device_id, &NewDevice::default())
                .await;
            (
                job,
                created
                    .map(|device| {
                        Outcome::DeviceCreated(serde_json::to_value(device).unwrap_or(Value::Null))
                    })
                    .map_err(Failure::from),
            )
        }
        Command::DeleteDevice { job, device_id } => (
            job,
            client
                .delete_device(&device_id, None)
                .await
                .map(|()| Outcome::DeviceDeleted)
                .map_err(Failure::from),
        ),
        Command::InvokeMethod {
            job,
            device_id,
            method,
            payload,
            response_timeout,
        } => {
            let started = Instant::now();
            let result = client
                .invoke_method(
                    &device_id,
                    &method,
                    &payload,
                    response_timeout,
                    Duration::ZERO,
                )
                .await;
            (
                job,
                result
                    .map(|result| Outcome::Method {
                        result,
                        latency: started.elapsed(),
                    })
                    .map_err(Failure::from),
            )
        }
        Command::Export { job, source, path } => (
            job,
            snapshots::export(
                job,
                client,
                &connection.service.host_name,
                source,
                path,
                events,
            )
            .await,
        ),
        Command::CompareSnapshot { job, path } => {
            (job, snapshots::compare(job, client, &path, events).await)
        }
        Command::PlanImport { job, path, options } => {
            (job, snapshots::plan(client, &path, options).await)
        }
        Command::ApplyImport { job, plan } => {
            (job, snapshots::apply(job, client, &plan, events).await)
        }
        _ => return,
    };
    events.send(Event::Finished { job, outcome }).await;
}

fn twin_outcome<T: serde::Serialize>(
    result: Result<T, crate::service::ServiceError>,
) -> Result<Outcome, Failure> {
    let twin = result?;
    serde_json::to_value(twin)
        .map(Outcome::Twin)
        .map_err(|e| Failure::local(format!("the twin could not be read: {e}")))
}
