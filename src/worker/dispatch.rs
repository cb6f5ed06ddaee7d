//! The worker's side: a dispatcher on the tokio runtime that owns the hub connection,
//! runs each request as its own task, tracks jobs for cancellation, and drives the
//! simulated devices. Anything that may wait on a hub or a disk (connecting, requests,
//! a simulated device's start-up, file writes) runs as a task of its own, so the
//! dispatcher takes the next command at once. Every event it sends wakes the UI.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::jobs;
use super::{
    Command, Event, Failure, HubTarget, JobId, LocalHubAddress, MethodAnswer, Repaint, Reply,
    Request, WorkerOptions, snapshots,
};
use crate::auth::{DeviceConnectionString, ServiceConnectionString, SharedAccessKey};
use crate::device::{
    Behaviours, DeviceCommand, DeviceConfig, DeviceHandle, Endpoint, ModelId, SimulatedDevice,
    TlsMode, host_without_port,
};
use crate::explorer::twin_key;
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
    options: WorkerOptions,
    connection: Option<Arc<Connection>>,
    /// The connection being opened, answering the latest connect command.
    connecting: Option<AbortHandle>,
    /// Counts connect commands, so only the latest one's connection is kept.
    connect_generation: u64,
    /// Where connecting tasks hand over their connection.
    opened: mpsc::Sender<Opened>,
    jobs: HashMap<JobId, AbortHandle>,
    /// Commands for each simulated device's driver task; dropping one stops the device.
    simulations: HashMap<String, mpsc::Sender<DeviceCommand>>,
    /// The telemetry watch, if one runs.
    telemetry_watch: Option<AbortHandle>,
    /// Telemetry recordings under way, written by the watch.
    recordings: super::recording::Recordings,
}

/// A connecting task's result, for the connect command counted `generation`.
struct Opened {
    generation: u64,
    result: Result<Connection, String>,
}

pub(super) async fn run(
    mut commands: mpsc::Receiver<Command>,
    events: Events,
    options: WorkerOptions,
) {
    let (opened, mut opened_queue) = mpsc::channel(1);
    let mut dispatcher = Dispatcher {
        events,
        options,
        connection: None,
        connecting: None,
        connect_generation: 0,
        opened,
        jobs: HashMap::new(),
        simulations: HashMap::new(),
        telemetry_watch: None,
        recordings: Default::default(),
    };
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => {
                    dispatcher.jobs.retain(|_, job| !job.is_finished());
                    dispatcher.handle(command).await;
                }
                None => break,
            },
            Some(opened) = opened_queue.recv() => dispatcher.opened(opened).await,
        }
    }
}

impl Dispatcher {
    async fn handle(&mut self, command: Command) {
        match command {
            Command::Connect(target) => self.connect(target),
            Command::Request { job, request } => self.spawn_request(job, request).await,
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
                model_id,
            } => self.start_simulation(device_id, behaviours, model_id).await,
            Command::SaveConnections { path, connections } => {
                let events = self.events.clone();
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || {
                        crate::explorer::connections::save_connections(&path, &connections)
                            .map_err(|e| e.to_string())
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("saving the connections stopped: {e}")));
                    events.send(Event::ConnectionsSaved { result }).await;
                });
            }
            Command::ReadModels(source) => {
                let events = self.events.clone();
                tokio::spawn(async move {
                    let asked = source.clone();
                    let read =
                        tokio::task::spawn_blocking(move || super::models::read_models(source))
                            .await
                            .unwrap_or_else(|error| crate::explorer::models::ModelFiles {
                                unreadable: vec![format!(
                                    "reading {} stopped: {error}",
                                    asked.describe()
                                )],
                                source: asked,
                                files: Vec::new(),
                            });
                    events.send(Event::ModelsRead(read)).await;
                });
            }
            Command::WatchTelemetry { devices } => self.watch_telemetry(devices).await,
            Command::RecordTelemetry { key, path } => {
                let recordings = self.recordings.clone();
                let events = self.events.clone();
                tokio::spawn(async move {
                    let news = tokio::task::spawn_blocking(move || recordings.start(&key, path))
                        .await
                        .unwrap_or_default();
                    for news in news {
                        events.send(Event::Recording(news)).await;
                    }
                });
            }
            Command::StopRecording { key } => {
                if let Some(news) = self.recordings.stop(&key) {
                    self.events.send(Event::Recording(news)).await;
                }
            }
            Command::StopSimulation { device_id } => {
                if self.simulations.remove(&device_id).is_some() {
                    self.events
                        .send(Event::SimulationStopped { device_id })
                        .await;
                }
            }
        }
    }

    /// Replaces the telemetry watch with one of `devices` (none: no watch).
    async fn watch_telemetry(&mut self, devices: Vec<String>) {
        if let Some(watch) = self.telemetry_watch.take() {
            watch.abort();
        }
        if devices.is_empty() {
            return;
        }
        let Some(connection) = &self.connection else {
            let status = super::TelemetryStatus::Interrupted(
                "not connected to a hub; telemetry shows once connected".into(),
            );
            self.events.send(Event::TelemetryStatus(status)).await;
            return;
        };
        let task = tokio::spawn(super::telemetry::watch(
            connection.client.clone(),
            devices,
            self.recordings.clone(),
            self.events.clone(),
        ));
        self.telemetry_watch = Some(task.abort_handle());
    }

    /// Drops the current hub and opens `target` in a task of its own; a newer connect
    /// command supersedes one still opening.
    fn connect(&mut self, target: HubTarget) {
        self.simulations.clear();
        if let Some(watch) = self.telemetry_watch.take() {
            watch.abort();
        }
        self.connection = None;
        if let Some(previous) = self.connecting.take() {
            previous.abort();
        }
        self.connect_generation += 1;
        let generation = self.connect_generation;
        let events = self.events.clone();
        let opened = self.opened.clone();
        let retries = self.options.service_retries;
        let task = tokio::spawn(async move {
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
                events.send(Event::OpeningLocalHub { devices }).await;
            }
            let result = open_connection(target, retries).await;
            // The dispatcher outlives its tasks; if it is gone, so is the UI.
            let _ = opened.send(Opened { generation, result }).await;
        });
        self.connecting = Some(task.abort_handle());
    }

    /// Keeps the connection a connecting task opened, if it answers the latest connect
    /// command, and tells the UI.
    async fn opened(&mut self, opened: Opened) {
        if opened.generation != self.connect_generation {
            return;
        }
        self.connecting = None;
        match opened.result {
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

    async fn spawn_request(&mut self, job: JobId, request: Request) {
        let Some(connection) = self.connection.clone() else {
            let reply = request.refused(Failure::local("not connected to a hub; connect first"));
            self.events.send(Event::Finished { job, reply }).await;
            return;
        };
        let events = self.events.clone();
        let task =
            tokio::spawn(async move { run_request(job, request, &connection, &events).await });
        self.jobs.insert(job, task.abort_handle());
    }

    /// Starts simulating `device_id`: its keys are read and it connects in a task of its
    /// own; commands sent meanwhile wait for it.
    async fn start_simulation(
        &mut self,
        device_id: String,
        behaviours: Behaviours,
        model_id: Option<ModelId>,
    ) {
        let Some(connection) = self.connection.clone() else {
            let error = "not connected to a hub; connect first".to_owned();
            self.events
                .send(Event::SimulationFailed { device_id, error })
                .await;
            return;
        };
        let (commands, queue) = mpsc::channel(crate::device::COMMAND_CAPACITY);
        // Replacing the sender of an earlier simulation of this device stops it.
        self.simulations.insert(device_id.clone(), commands);
        let events = self.events.clone();
        tokio::spawn(async move {
            match device_config(&connection, &device_id, behaviours).await {
                Ok(mut config) => {
                    config.model_id = model_id;
                    let device = SimulatedDevice::spawn(config);
                    drive_simulation(device_id, device, queue, events).await
                }
                Err(error) => {
                    events
                        .send(Event::SimulationFailed { device_id, error })
                        .await
                }
            }
        });
    }
}

/// Owns one simulated device (known to the UI by `device_id`, a device id or a module's
/// key): forwards the UI's commands to it and its events to the UI, and shuts it down
/// when the dispatcher drops its command sender.
async fn drive_simulation(
    device_id: String,
    mut device: DeviceHandle,
    mut commands: mpsc::Receiver<DeviceCommand>,
    events: Events,
) {
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

async fn open_connection(target: HubTarget, retries: u32) -> Result<Connection, String> {
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
                max_retries: retries,
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
                retries,
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

/// How to connect the simulated device (or module, by its key) `device_id`: its
/// primary key, read through the service API.
async fn device_config(
    connection: &Connection,
    device_id: &str,
    behaviours: Behaviours,
) -> Result<DeviceConfig, String> {
    let (device, module) = twin_key::split(device_id);
    let authentication = match module {
        Some(module) => {
            connection
                .client
                .get_module(device, module)
                .await
                .map_err(|e| e.to_string())?
                .authentication
        }
        None => {
            connection
                .client
                .get_device(device)
                .await
                .map_err(|e| e.to_string())?
                .authentication
        }
    };
    let described = twin_key::describe(device_id);
    let key = authentication
        .as_ref()
        .and_then(|auth| auth.symmetric_key.as_ref())
        .and_then(|keys| keys.primary_key.clone())
        .ok_or_else(|| {
            format!("{described} has no symmetric key; only SAS identities can be simulated")
        })?;
    let key = SharedAccessKey::from_base64(&key)
        .map_err(|e| format!("{described} has an unusable key: {e}"))?;
    let credentials = DeviceConnectionString {
        host_name: connection.device_host.clone(),
        device_id: device.to_owned(),
        module_id: module.map(str::to_owned),
        gateway_host_name: None,
        key,
    };
    let mut config = DeviceConfig::new(credentials, connection.device_endpoint.clone());
    config.behaviours = behaviours;
    Ok(config)
}

/// Runs one request to its end and sends its reply.
async fn run_request(job: JobId, request: Request, connection: &Connection, events: &Events) {
    let client = &connection.client;
    let reply = match request {
        Request::Query {
            query,
            page_size,
            reader,
        } => match run_query(job, client, &query, page_size, &reader, events).await {
            Ok(loaded) => {
                events.send(Event::QueryDone { job, loaded }).await;
                return;
            }
            Err(failure) => Reply::QueryFailed(failure),
        },
        Request::GetTwin { device_id } => Reply::Twin {
            result: match twin_key::split(&device_id) {
                (device, Some(module)) => client.get_module_twin(device, module).await,
                (device, None) => client.get_twin(device).await,
            }
            .map(Box::new)
            .map_err(Failure::from),
            device_id,
        },
        Request::PatchTwin {
            device_id,
            patch,
            etag,
        } => Reply::Twin {
            result: match twin_key::split(&device_id) {
                (device, Some(module)) => {
                    client
                        .patch_module_twin(device, module, &patch, etag.as_deref())
                        .await
                }
                (device, None) => client.patch_twin(device, &patch, etag.as_deref()).await,
            }
            .map(Box::new)
            .map_err(Failure::from),
            device_id,
        },
        Request::ListModules { device_id } => Reply::Modules {
            result: client
                .list_modules(&device_id)
                .await
                .map(|modules| {
                    let mut ids: Vec<String> =
                        modules.into_iter().map(|module| module.module_id).collect();
                    ids.sort();
                    ids
                })
                .map_err(Failure::from),
            device_id,
        },
        Request::CountMatching { query } => Reply::Counted {
            count: client.count_matching(&query).await,
            query,
        },
        Request::ScheduleJob {
            job_id,
            condition,
            work,
        } => Reply::Job {
            result: jobs::schedule(client, &job_id, &condition, &work).await,
            job_id,
        },
        Request::GetJob { job_id } => job_reply(client.get_job(&job_id).await, job_id),
        Request::CancelJob { job_id } => job_reply(client.cancel_job(&job_id).await, job_id),
        Request::JobResults { job_id } => Reply::JobResults {
            result: client
                .job_device_results(&job_id)
                .await
                .map_err(Failure::from),
            job_id,
        },
        Request::WriteJobResults { path, results } => {
            Reply::JobResultsWritten(jobs::write_results(path, results).await)
        }
        Request::SendCloudMessage { device_id, message } => Reply::CloudMessageSent {
            result: client
                .send_cloud_to_device(&device_id, &message)
                .await
                .map_err(Failure::from),
            message_id: message.message_id.unwrap_or_default(),
            device_id,
        },
        Request::PurgeCloudMessages { device_id } => Reply::CloudMessagesPurged {
            result: client
                .purge_cloud_to_device(&device_id)
                .await
                .map(|purged| purged.total_messages_purged)
                .map_err(Failure::from),
            device_id,
        },
        Request::WriteTelemetry {
            path,
            contents,
            count,
        } => {
            let file = path.clone();
            let written = tokio::task::spawn_blocking(move || std::fs::write(&file, contents))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            Reply::TelemetryWritten {
                result: written.map(|()| count).map_err(|error| {
                    Failure::local(format!(
                        "could not write {} ({error}); choose another file",
                        path.display()
                    ))
                }),
                path,
            }
        }
        Request::CreateDevice { device_id } => Reply::DeviceCreated {
            result: client
                .create_device(&device_id, &NewDevice::default())
                .await
                .map(Box::new)
                .map_err(Failure::from),
            device_id,
        },
        Request::DeleteDevice { device_id } => Reply::DeviceDeleted {
            result: client
                .delete_device(&device_id, None)
                .await
                .map_err(Failure::from),
            device_id,
        },
        Request::InvokeMethod {
            device_id,
            method,
            payload,
            response_timeout,
        } => {
            let started = Instant::now();
            let result = match twin_key::split(&device_id) {
                (device, Some(module)) => {
                    client
                        .invoke_module_method(
                            device,
                            module,
                            &method,
                            &payload,
                            response_timeout,
                            Duration::ZERO,
                        )
                        .await
                }
                (device, None) => {
                    client
                        .invoke_method(device, &method, &payload, response_timeout, Duration::ZERO)
                        .await
                }
            };
            Reply::Method {
                result: result
                    .map(|result| MethodAnswer {
                        result,
                        latency: started.elapsed(),
                    })
                    .map_err(Failure::from),
                device_id,
            }
        }
        Request::Export { source, path } => Reply::Exported(
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
        Request::CompareSnapshot { path } => {
            Reply::Compared(snapshots::compare(job, client, &path, events).await)
        }
        Request::PlanImport { path, options } => {
            Reply::ImportPlanned(snapshots::plan(client, &path, options).await)
        }
        Request::ApplyImport { plan } => {
            Reply::Imported(snapshots::apply(job, client, &plan, events).await)
        }
    };
    events.send(Event::Finished { job, reply }).await;
}

/// Sends a query's rows as they come, in pieces the UI folds into its list well within
/// a frame's budget; returns how many rows it delivered.
async fn run_query(
    job: JobId,
    client: &ServiceClient,
    query: &str,
    page_size: u32,
    reader: &crate::explorer::RowReader,
    events: &Events,
) -> Result<usize, Failure> {
    let total = client
        .count_matching(query)
        .await
        .and_then(|total| usize::try_from(total).ok());
    let pages = client.query(query, Some(page_size));
    futures_util::pin_mut!(pages);
    let mut loaded = 0;
    while let Some(page) = pages.next().await {
        // Read here, off the UI thread.
        for piece in page?.rows.chunks(super::QUERY_EVENT_ROWS) {
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
    Ok(loaded)
}

/// The reply carrying a job as the hub answered it (read or cancelled).
fn job_reply(
    answer: Result<crate::service::Job, crate::service::ServiceError>,
    job_id: String,
) -> Reply {
    Reply::Job {
        result: answer.map(Box::new).map_err(Failure::from),
        job_id,
    }
}
