//! What panels ask for. Panels never do I/O: they return intents, and the app applies
//! them after the frame, turning them into worker commands or state changes.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::device::DeviceCommand;
use crate::explorer::SavedConnection;
use crate::explorer::bulk_job::BulkKind;
use crate::explorer::models::ModelSource;
use crate::explorer::plug_and_play::ContentKey;
use crate::service::CloudMessage;
use crate::snapshot::{ImportOptions, ImportPlan};
use crate::worker::{ExportSource, HubTarget};

use super::file_dialog::FileRequest;

/// How the user resolves a conflict between their edits and a newer twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Apply my edits onto the newer twin, then review and save.
    Merge,
    /// Save my text over the newer twin now.
    Overwrite,
    /// Drop my edits.
    Discard,
}

/// Why a file is being picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePurpose {
    /// Where to export.
    Export,
    /// A snapshot to compare or import.
    Snapshot,
    /// Where to write a job's results.
    JobResults,
    /// Where to record or export telemetry.
    Telemetry,
    /// A DTDL model file to open.
    Model,
}

/// One request from a panel.
#[derive(Debug, Clone)]
pub enum Intent {
    /// Run a query into the device list.
    RunQuery(String),
    /// Stop loading pages.
    CancelQuery,
    /// Show the value at a twin path as a device-list column, read from the hub.
    AddColumn(String),
    /// Open a device's twin.
    SelectDevice(String),
    /// Read the open twin again now.
    RefreshTwin,
    /// Save the editor's patch.
    SaveTwin,
    /// Resolve the editor's conflict.
    ResolveConflict(Resolution),
    /// Register a device.
    CreateDevice(String),
    /// Delete a device.
    DeleteDevice(String),
    /// Connect to a hub.
    Connect(HubTarget),
    /// Replace the saved connections.
    SaveConnections(Vec<SavedConnection>),
    /// Connect a device as a simulated device.
    StartSimulation(String),
    /// Disconnect a simulated device.
    StopSimulation(String),
    /// Tell a simulated device something.
    Simulation {
        /// The device.
        device_id: String,
        /// What to tell it.
        command: DeviceCommand,
    },
    /// Invoke a direct method.
    InvokeMethod {
        /// The device.
        device_id: String,
        /// The method name.
        method: String,
        /// The payload.
        payload: Value,
        /// How long the hub waits for the device.
        response_timeout: Duration,
    },
    /// Set a Plug and Play property's desired value (inside its component's object).
    SetDesired {
        /// The device (or module, by its key).
        device_id: String,
        /// The component and property.
        key: ContentKey,
        /// The new desired value.
        value: Value,
    },
    /// Ask the user for a DTDL model file to open.
    OpenModel,
    /// Read DTDL model files into the explorer's models.
    LoadModels(ModelSource),
    /// Write a snapshot.
    Export {
        /// Which twins.
        source: ExportSource,
        /// Where.
        path: PathBuf,
    },
    /// Ask the user for a file.
    PickFile(FilePurpose, FileRequest),
    /// Compare a snapshot file with the live twins.
    CompareSnapshot(PathBuf),
    /// Preview an import (a dry run).
    PlanImport {
        /// The snapshot file.
        path: PathBuf,
        /// What to import.
        options: ImportOptions,
    },
    /// Carry out a previewed import.
    ApplyImport(Box<ImportPlan>),
    /// Open the bulk-job dialog.
    OpenBulk(BulkKind),
    /// Send a cloud-to-device message.
    SendCloudMessage {
        /// The device.
        device_id: String,
        /// The message.
        message: Box<CloudMessage>,
    },
    /// Delete the messages queued for a device.
    PurgeCloudMessages(String),
    /// Record a device's (or module's) new telemetry to an NDJSON file.
    StartRecording {
        /// The device or module key.
        key: String,
        /// The file (replaced).
        path: PathBuf,
    },
    /// Stop recording a device's telemetry.
    StopRecording(String),
    /// Write the telemetry history shown (after the filter) to an NDJSON file.
    ExportTelemetry {
        /// The device or module key.
        key: String,
        /// The file (replaced).
        path: PathBuf,
        /// The filter's text.
        filter: String,
    },
}
