//! The bridge between the UI thread and all I/O: the UI sends [`Command`]s and drains
//! [`Event`]s once per frame; a tokio runtime on a background thread does the work and
//! wakes the UI through a repaint callback after every event. Nothing here knows egui,
//! so the worker is tested headless.
//!
//! Requests (twin reads and writes, device changes, method calls, snapshots) each run
//! as their own job and end with one [`Event::Finished`] carrying the [`Reply`] of the
//! request's kind. Connecting, file writes and simulated-device start-up run as tasks
//! too, so a slow hub never holds up other commands; so does reading DTDL model files
//! ([`Event::ModelsRead`]), which needs no hub. Long jobs (queries) report progress with
//! [`Event::QueryPage`] and can be cancelled. Simulated devices are long-lived: their
//! events arrive as [`Event::Simulation`]; so is the telemetry watch, whose messages
//! arrive as [`Event::Telemetry`].

mod dispatch;
mod jobs;
mod models;
mod recording;
mod snapshots;
mod telemetry;

pub use recording::RecordingNews;
pub use telemetry::TelemetryStatus;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::device::{Behaviours, DeviceCommand, DeviceEvent, ModelId};
use crate::explorer::{ListedRows, RowReader};
use crate::service::{
    CloudMessage, Device, DeviceJobResult, DeviceTwin, Job, JobWork, MethodResult,
};
use crate::snapshot::compare::Comparison;
use crate::snapshot::{ImportOptions, ImportPlan, ImportReport, SnapshotHeader};

/// Wakes the UI; built from `egui::Context::request_repaint` by the app.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// Commands the UI may queue before the worker has taken them.
pub const COMMAND_QUEUE: usize = 256;
/// Rows per [`Event::QueryPage`]: a hub page (up to 1,000) is sent in pieces this big.
pub const QUERY_EVENT_ROWS: usize = 100;
/// Events the worker may queue before the UI has drained them.
pub const EVENT_QUEUE: usize = 4096;

pub use crate::explorer::JobId;

/// How other programs (an SDK under development, a second client) reach the embedded
/// local hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHubAddress {
    /// `http://127.0.0.1:PORT`, the service API.
    pub http_url: String,
    /// The device MQTT port (plain MQTT).
    pub mqtt_port: u16,
    /// The owner policy's service connection string.
    pub service_connection_string: String,
}

/// Which hub to work with.
#[derive(Debug, Clone)]
pub enum HubTarget {
    /// Start the embedded local hub on this data directory.
    Embedded {
        /// Where its store lives.
        data_dir: PathBuf,
        /// Demo devices to seed into an empty store.
        demo_devices: Option<usize>,
    },
    /// Any hub, Azure included, by its service connection string.
    Remote(RemoteHub),
}

/// A hub outside this process: Azure IoT Hub, or a `twinlens hub` run separately.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteHub {
    /// The service connection string (with its key).
    pub connection_string: String,
    /// Trust only this CA (PEM) for the service API and devices, e.g. a local hub's.
    pub ca_pem: Option<String>,
    /// Plain HTTP and MQTT, for a local hub started without `--tls`.
    pub no_tls: bool,
    /// Where simulated devices connect (8883 for Azure).
    pub mqtt_port: u16,
}

impl RemoteHub {
    /// An Azure IoT Hub: TLS with the public roots, MQTT on 8883.
    pub fn azure(connection_string: impl Into<String>) -> RemoteHub {
        RemoteHub {
            connection_string: connection_string.into(),
            ca_pem: None,
            no_tls: false,
            mqtt_port: crate::device::IOT_HUB_MQTT_PORT,
        }
    }
}

/// Never prints the key.
impl std::fmt::Debug for RemoteHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHub")
            .field(
                "connection_string",
                &crate::auth::mask_connection_string(&self.connection_string),
            )
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "PEM"))
            .field("no_tls", &self.no_tls)
            .field("mqtt_port", &self.mqtt_port)
            .finish()
    }
}

/// What the UI asks of the worker.
#[derive(Debug, Clone)]
pub enum Command {
    /// Connect to a hub (replacing the current one); ends with [`Event::Connected`] or
    /// [`Event::ConnectFailed`]. Requests sent meanwhile are refused: not connected.
    Connect(HubTarget),
    /// A request of the connected hub, run as its own job; it ends with one
    /// [`Event::Finished`] carrying the reply of its kind (a query's rows come first as
    /// [`Event::QueryPage`], and a query that delivered them all ends with
    /// [`Event::QueryDone`] instead).
    Request { job: JobId, request: Request },
    /// Stop a running job; it ends with [`Event::Cancelled`].
    Cancel(JobId),
    /// Connect a device as a simulated device (its keys read through the service API).
    StartSimulation {
        device_id: String,
        behaviours: Behaviours,
        /// The IoT Plug and Play model the device announces, if any.
        model_id: Option<ModelId>,
    },
    /// Tell a simulated device something.
    Simulation {
        device_id: String,
        command: DeviceCommand,
    },
    /// Follow the live telemetry of these devices (registry keys, `d/m` for modules),
    /// replacing what was followed; none stops. Messages arrive as [`Event::Telemetry`].
    WatchTelemetry { devices: Vec<String> },
    /// Write every new telemetry message of `key` (a device, or `d/m`) into a new NDJSON
    /// file at `path`, while it is watched; news arrive as [`Event::Recording`].
    RecordTelemetry { key: String, path: PathBuf },
    /// Stop recording `key`'s telemetry; ends with [`Event::Recording`].
    StopRecording { key: String },
    /// Disconnect a simulated device and forget it; ends with [`Event::SimulationStopped`].
    StopSimulation { device_id: String },
    /// Read DTDL model files (one file, or a folder's); ends with [`Event::ModelsRead`].
    /// Needs no hub.
    ReadModels(crate::explorer::models::ModelSource),
    /// Write the saved connections file (readable by the user only); ends with
    /// [`Event::ConnectionsSaved`].
    SaveConnections {
        path: PathBuf,
        connections: Vec<crate::explorer::SavedConnection>,
    },
}

/// One request of the connected hub; each kind has its own [`Reply`].
#[derive(Debug, Clone)]
pub enum Request {
    /// Run a list query, page by page, reading its rows with `reader`.
    Query {
        query: String,
        page_size: u32,
        reader: RowReader,
    },
    /// Read a twin (a device's, or a module's by its [`crate::explorer::twin_key`]);
    /// replies [`Reply::Twin`].
    GetTwin { device_id: String },
    /// Merge a patch into a twin (with the etag it was read with, if any); replies
    /// [`Reply::Twin`].
    PatchTwin {
        device_id: String,
        patch: Value,
        etag: Option<String>,
    },
    /// Register a device (keys generated by the hub); replies [`Reply::DeviceCreated`].
    CreateDevice { device_id: String },
    /// Delete a device; replies [`Reply::DeviceDeleted`].
    DeleteDevice { device_id: String },
    /// List a device's modules; replies [`Reply::Modules`].
    ListModules { device_id: String },
    /// Count the devices a query selects; replies [`Reply::Counted`].
    CountMatching { query: String },
    /// Schedule a job; replies [`Reply::Job`].
    ScheduleJob {
        job_id: String,
        condition: String,
        work: JobWork,
    },
    /// Read a job's progress; replies [`Reply::Job`].
    GetJob { job_id: String },
    /// Cancel a job; replies [`Reply::Job`].
    CancelJob { job_id: String },
    /// Read what a job did on each device; replies [`Reply::JobResults`].
    JobResults { job_id: String },
    /// Write a job's per-device results to a file (CSV, or JSON for a `.json` path);
    /// replies [`Reply::JobResultsWritten`].
    WriteJobResults {
        path: PathBuf,
        results: Vec<DeviceJobResult>,
    },
    /// Invoke a direct method (on a device, or a module by its key); replies
    /// [`Reply::Method`].
    InvokeMethod {
        device_id: String,
        method: String,
        payload: Value,
        response_timeout: Duration,
    },
    /// Write twins into a snapshot file, with [`Event::Progress`] on the way; replies
    /// [`Reply::Exported`].
    Export { source: ExportSource, path: PathBuf },
    /// Compare a snapshot file with the live twins of its devices; replies
    /// [`Reply::Compared`].
    CompareSnapshot { path: PathBuf },
    /// Work out what importing a snapshot would change (a dry run); replies
    /// [`Reply::ImportPlanned`].
    PlanImport {
        path: PathBuf,
        options: ImportOptions,
    },
    /// Carry out an import plan the user confirmed; replies [`Reply::Imported`].
    ApplyImport { plan: Box<ImportPlan> },
    /// Send a cloud-to-device message; replies [`Reply::CloudMessageSent`].
    SendCloudMessage {
        device_id: String,
        message: Box<CloudMessage>,
    },
    /// Delete every message queued for a device; replies [`Reply::CloudMessagesPurged`].
    PurgeCloudMessages { device_id: String },
    /// Write telemetry lines (NDJSON the UI made from what it shows) to a file; replies
    /// [`Reply::TelemetryWritten`].
    WriteTelemetry {
        path: PathBuf,
        contents: Vec<u8>,
        count: usize,
    },
}

impl Request {
    /// The reply of this request's kind, failed with `failure` (e.g. when no hub is
    /// connected to run it).
    pub fn refused(self, failure: Failure) -> Reply {
        match self {
            Request::Query { .. } => Reply::QueryFailed(failure),
            Request::GetTwin { device_id } | Request::PatchTwin { device_id, .. } => Reply::Twin {
                device_id,
                result: Err(failure),
            },
            Request::CreateDevice { device_id } => Reply::DeviceCreated {
                device_id,
                result: Err(failure),
            },
            Request::DeleteDevice { device_id } => Reply::DeviceDeleted {
                device_id,
                result: Err(failure),
            },
            Request::InvokeMethod { device_id, .. } => Reply::Method {
                device_id,
                result: Err(failure),
            },
            Request::ListModules { device_id } => Reply::Modules {
                device_id,
                result: Err(failure),
            },
            Request::CountMatching { query } => Reply::Counted { query, count: None },
            Request::ScheduleJob { job_id, .. }
            | Request::GetJob { job_id }
            | Request::CancelJob { job_id } => Reply::Job {
                job_id,
                result: Err(failure),
            },
            Request::JobResults { job_id } => Reply::JobResults {
                job_id,
                result: Err(failure),
            },
            Request::WriteJobResults { .. } => Reply::JobResultsWritten(Err(failure)),
            Request::Export { .. } => Reply::Exported(Err(failure)),
            Request::CompareSnapshot { .. } => Reply::Compared(Err(failure)),
            Request::PlanImport { .. } => Reply::ImportPlanned(Err(failure)),
            Request::ApplyImport { .. } => Reply::Imported(Err(failure)),
            Request::SendCloudMessage { device_id, message } => Reply::CloudMessageSent {
                device_id,
                message_id: message.message_id.unwrap_or_default(),
                result: Err(failure),
            },
            Request::PurgeCloudMessages { device_id } => Reply::CloudMessagesPurged {
                device_id,
                result: Err(failure),
            },
            Request::WriteTelemetry { path, .. } => Reply::TelemetryWritten {
                path,
                result: Err(failure),
            },
        }
    }
}

/// Which twins an export writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSource {
    /// These devices' twins.
    Devices(Vec<String>),
    /// Every twin this query selects.
    Query(String),
}

/// How a request ended: one kind per kind of [`Request`], each with what that request
/// produces, or why it failed.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A query stopped part-way (the rows it delivered stay delivered).
    QueryFailed(Failure),
    /// The twin as read or as written.
    Twin {
        device_id: String,
        result: Result<Box<DeviceTwin>, Failure>,
    },
    /// The new device's identity, keys included.
    DeviceCreated {
        device_id: String,
        result: Result<Box<Device>, Failure>,
    },
    /// The device is gone.
    DeviceDeleted {
        device_id: String,
        result: Result<(), Failure>,
    },
    /// The device's answer to a direct method.
    Method {
        device_id: String,
        result: Result<MethodAnswer, Failure>,
    },
    /// The ids of a device's modules, in id order.
    Modules {
        device_id: String,
        result: Result<Vec<String>, Failure>,
    },
    /// How many devices a query selects, when the hub could say.
    Counted { query: String, count: Option<u64> },
    /// A job as scheduled, read or cancelled.
    Job {
        job_id: String,
        result: Result<Box<Job>, Failure>,
    },
    /// What a job did on each device.
    JobResults {
        job_id: String,
        result: Result<Vec<DeviceJobResult>, Failure>,
    },
    /// A job's results were written to this file.
    JobResultsWritten(Result<PathBuf, Failure>),
    /// A snapshot file was written.
    Exported(Result<Exported, Failure>),
    /// How a snapshot's twins differ from the live ones.
    Compared(Result<Compared, Failure>),
    /// What an import would change.
    ImportPlanned(Result<Box<ImportPlan>, Failure>),
    /// What an import did.
    Imported(Result<ImportReport, Failure>),
    /// A cloud-to-device message was queued for the device, or why not.
    CloudMessageSent {
        device_id: String,
        message_id: String,
        result: Result<(), Failure>,
    },
    /// How many queued messages a purge deleted.
    CloudMessagesPurged {
        device_id: String,
        result: Result<u64, Failure>,
    },
    /// How many telemetry messages were written to the file.
    TelemetryWritten {
        path: PathBuf,
        result: Result<usize, Failure>,
    },
}

/// A device's answer to a direct method, and how long the call took.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodAnswer {
    /// The device's status and payload.
    pub result: MethodResult,
    /// From sending the call to the answer.
    pub latency: Duration,
}

/// A snapshot file written by an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Where.
    pub path: PathBuf,
    /// How many twins it holds.
    pub count: usize,
}

/// A snapshot compared with the live twins.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The snapshot's header.
    pub header: SnapshotHeader,
    /// How many devices the snapshot holds.
    pub devices: usize,
    /// How they differ.
    pub comparison: Comparison,
}

/// What the worker tells the UI.
#[derive(Debug, Clone)]
pub enum Event {
    /// The embedded hub is opening its store of this many devices (when known).
    OpeningLocalHub { devices: Option<u64> },
    /// Connected to a hub; `local_hub` says how to reach the embedded hub, if it is one.
    Connected {
        host_name: String,
        local_hub: Option<LocalHubAddress>,
    },
    /// Connecting failed; the message says why and what to do.
    ConnectFailed { error: String },
    /// One more page of a query.
    QueryPage {
        job: JobId,
        rows: ListedRows,
        loaded: usize,
        /// Rows the query selects, when the hub could count them.
        total: Option<usize>,
    },
    /// The query delivered its last page.
    QueryDone { job: JobId, loaded: usize },
    /// A job was cancelled.
    Cancelled { job: JobId },
    /// A request ended with the reply of its kind; an error says what failed and what
    /// to do.
    Finished { job: JobId, reply: Reply },
    /// Something a simulated device did or received.
    Simulation {
        device_id: String,
        event: DeviceEvent,
    },
    /// A simulated device could not be started or reached.
    SimulationFailed { device_id: String, error: String },
    /// A simulated device was stopped on request.
    SimulationStopped { device_id: String },
    /// How far a long job (export, comparison, import) got, and of how many, when known.
    Progress {
        job: JobId,
        done: usize,
        total: Option<usize>,
    },
    /// The saved connections were written, or why not.
    ConnectionsSaved { result: Result<(), String> },
    /// DTDL model files were read (with those that could not be).
    ModelsRead(crate::explorer::models::ModelFiles),
    /// Telemetry messages of watched devices, oldest first (the first batch after a
    /// watch starts may repeat what the UI has).
    Telemetry {
        messages: Vec<crate::service::model::TelemetryEvent>,
    },
    /// The watch fell behind the hub and missed this many messages.
    TelemetryMissed { count: u64 },
    /// Where the telemetry watch stands.
    TelemetryStatus(TelemetryStatus),
    /// A telemetry recording started, failed or ended.
    Recording(RecordingNews),
}

/// Why a request failed: the message for the user (what failed and what to do) and,
/// when the hub answered, its HTTP status, so the UI can offer the right way out
/// (a 412 means the twin changed meanwhile, a 404 that the device is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What failed and what to do.
    pub message: String,
    /// The hub's status, when it answered.
    pub status: Option<u16>,
}

impl Failure {
    /// A failure that never reached the hub.
    pub fn local(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: None,
        }
    }

    /// The twin's etag no longer matches: somebody changed it since it was read.
    pub fn is_precondition_failed(&self) -> bool {
        self.status == Some(412)
    }

    /// The device (or twin) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

impl From<crate::service::ServiceError> for Failure {
    fn from(error: crate::service::ServiceError) -> Self {
        Failure {
            status: error.status(),
            message: error.to_string(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why the UI's command was not taken.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The command queue is full: the worker is far behind.
    #[error(
        "the background worker is busy ({COMMAND_QUEUE} requests waiting); try again in a moment"
    )]
    Busy,
    /// The worker thread is gone.
    #[error("the background worker stopped; restart twinlens")]
    Stopped,
    /// The worker thread could not be started.
    #[error("could not start the background worker: {0}")]
    Start(std::io::Error),
}

/// How the worker talks to hubs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// How many times a throttled, unavailable or unreachable service request is tried
    /// again before its failure is shown.
    pub service_retries: u32,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            service_retries: crate::service::DEFAULT_MAX_RETRIES,
        }
    }
}

/// The UI's end of the worker.
pub struct Worker {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Event>,
}

impl Worker {
    /// Starts the worker thread and its runtime.
    pub fn start(repaint: Repaint, options: WorkerOptions) -> Result<Worker, WorkerError> {
        let (commands, command_queue) = mpsc::channel(COMMAND_QUEUE);
        let (event_sender, events) = mpsc::channel(EVENT_QUEUE);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("twinlens-worker")
            .enable_all()
            .build()
            .map_err(WorkerError::Start)?;
        std::thread::Builder::new()
            .name("twinlens-dispatch".into())
            .spawn(move || {
                runtime.block_on(dispatch::run(
                    command_queue,
                    dispatch::Events::new(event_sender, repaint),
                    options,
                ));
            })
            .map_err(WorkerError::Start)?;
        Ok(Worker { commands, events })
    }

    /// Queues a command without ever blocking the caller.
    pub fn send(&self, command: Command) -> Result<(), WorkerError> {
        self.commands
            .try_send(command)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => WorkerError::Busy,
                mpsc::error::TrySendError::Closed(_) => WorkerError::Stopped,
            })
    }

    /// The next event, if one is waiting.
    pub fn try_next_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event (for headless callers and tests).
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Failure {
        Failure::local("not connected to a hub; connect first")
    }

    fn path() -> PathBuf {
        PathBuf::from("twins.ndjson")
    }

    #[test]
    fn a_refused_twin_request_replies_as_a_twin_of_its_device() {
        for request in [
            Request::GetTwin {
                device_id: "a".into(),
            },
            Request::PatchTwin {
                device_id: "a".into(),
                patch: Value::Null,
                etag: None,
            },
        ] {
            match request.refused(down()) {
                Reply::Twin {
                    device_id,
                    result: Err(failure),
                } => {
                    assert_eq!(device_id, "a");
                    assert_eq!(failure, down());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_refused_device_request_replies_in_its_own_kind() {
        let created = Request::CreateDevice {
            device_id: "a".into(),
        };
        assert!(matches!(
            created.refused(down()),
            Reply::DeviceCreated { device_id, result: Err(_) } if device_id == "a"
        ));
        let deleted = Request::DeleteDevice {
            device_id: "b".into(),
        };
        assert!(matches!(
            deleted.refused(down()),
            Reply::DeviceDeleted { device_id, result: Err(_) } if device_id == "b"
        ));
        let method = Request::InvokeMethod {
            device_id: "c".into(),
            method: "reboot".into(),
            payload: Value::Null,
            response_timeout: Duration::from_secs(5),
        };
        assert!(matches!(
            method.refused(down()),
            Reply::Method { device_id, result: Err(_) } if device_id == "c"
        ));
    }

    #[test]
    fn refused_queries_and_snapshot_jobs_reply_in_their_own_kind() {
        let query = Request::Query {
            query: "SELECT * FROM devices".into(),
            page_size: 10,
            reader: RowReader::twins(&[]),
        };
        assert!(matches!(query.refused(down()), Reply::QueryFailed(_)));
        let export = Request::Export {
            source: ExportSource::Devices(vec!["a".into()]),
            path: path(),
        };
        assert!(matches!(export.refused(down()), Reply::Exported(Err(_))));
        let compare = Request::CompareSnapshot { path: path() };
        assert!(matches!(compare.refused(down()), Reply::Compared(Err(_))));
        let plan = Request::PlanImport {
            path: path(),
            options: ImportOptions {
                tags: true,
                desired: true,
                create_missing: false,
            },
        };
        assert!(matches!(plan.refused(down()), Reply::ImportPlanned(Err(_))));
    }

    #[test]
    fn a_failure_without_a_status_never_reached_the_hub() {
        let failure = Failure::local("offline");
        assert_eq!(failure.status, None);
        assert!(!failure.is_not_found());
        assert!(!failure.is_precondition_failed());
        let conflict = Failure {
            message: "412".into(),
            status: Some(412),
        };
        assert!(conflict.is_precondition_failed());
    }
}
