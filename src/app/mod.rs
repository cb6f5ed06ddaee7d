//! The egui explorer window. Panels live one per file in this folder and draw the
//! state in [`crate::explorer`]; this module owns the top-level [`ExplorerApp`]: it
//! drains worker events at the start of each frame, lays the panels out, and applies
//! the intents they return after the frame (`apply.rs`, `events.rs`). Nothing here
//! performs I/O: the worker does, and native file dialogs run behind a replaceable
//! [`file_dialog::FilePicker`].

mod apply;
mod bulk_jobs;
mod connections;
mod device_list;
mod device_rows;
mod diff_view;
mod drift;
mod event_log;
mod events;
mod export;
pub mod file_dialog;
mod intent;
mod json_view;
mod menu_bar;
mod messages;
mod methods;
mod path_field;
mod plug_and_play;
mod query_bar;
pub mod settings;
mod simulator;
mod snapshots;
mod status_bar;
mod telemetry;
mod twin_editor;
mod twin_view;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Key, KeyboardShortcut, Modifiers, Ui};

use crate::explorer::device_modules::DeviceModules;
use crate::explorer::models::ModelSource;
use crate::explorer::{
    DeviceTable, EventLog, ListedRows, MethodCalls, OpenTwin, RowReader, SavedConnection,
    Simulations, twin_key,
};
use crate::service::DeviceTwin;
use crate::worker::{HubTarget, JobId, LocalHubAddress, Repaint, Request, Worker, WorkerOptions};

use bulk_jobs::{BulkContext, BulkDialog};
use connections::ConnectionsDialog;
use device_list::{DeviceList, OpenInList};
use export::{ExportContext, ExportDialog};
use file_dialog::{FilePicker, PendingPick, PickedFile};
use intent::{FilePurpose, Intent};
use messages::MessagesPanel;
use methods::MethodsPanel;
use query_bar::QueryBar;
use settings::{SETTINGS_KEY, Settings, ThemeChoice};
use simulator::SimulatorPanel;
use snapshots::SnapshotDialog;
use status_bar::{HubStatus, StatusLine, status_bar_ui};
use telemetry::TelemetryPanel;
use twin_view::TwinView;

/// The application name shown in the title bar and used for settings storage.
pub const APP_NAME: &str = "twinlens";

/// Demo devices seeded into a brand-new embedded hub.
pub const FIRST_RUN_DEMO_DEVICES: usize = 12;

/// How the explorer starts.
pub struct StartOptions {
    /// The hub to connect to at start; none leaves the window disconnected (Hub ▸ Connect).
    pub hub: Option<HubTarget>,
    /// The embedded hub, offered by the connections dialog.
    pub embedded: HubTarget,
    /// A device to open once connected.
    pub open_device: Option<String>,
    /// Connect the opened device as a simulated device.
    pub simulate: bool,
    /// The tab of the work panel to show first (the twin editor when `None`).
    pub tab: Option<WorkTab>,
    /// Where saved connections live (none: they cannot be saved).
    pub connections_path: Option<PathBuf>,
    /// The saved connections read at start.
    pub saved_connections: Vec<SavedConnection>,
    /// Shows native file dialogs; tests replace it.
    pub picker: FilePicker,
    /// Settings remembered from the last run.
    pub settings: Settings,
    /// How the worker talks to hubs.
    pub worker: WorkerOptions,
}

/// The tabs of the work panel (right); `--tab` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkTab {
    /// The twin editor.
    Edit,
    /// Desired properties not reflected in reported.
    Drift,
    /// The simulated device.
    Simulate,
    /// Direct methods.
    Methods,
    /// Live telemetry and its charts.
    Telemetry,
    /// Cloud-to-device messages.
    Messages,
    /// IoT Plug and Play: components, acknowledged properties, commands.
    PlugAndPlay,
}

/// A query loading pages into the device list, or one column's values for the listed
/// devices.
#[derive(Debug, Clone)]
struct RunningQuery {
    job: JobId,
    /// The column being read, when this reads one column for the listed devices.
    column: Option<String>,
    loaded: usize,
    total: Option<usize>,
    started: Instant,
}

impl RunningQuery {
    fn new(job: JobId, column: Option<String>) -> Self {
        RunningQuery {
            job,
            column,
            loaded: 0,
            total: None,
            started: Instant::now(),
        }
    }
}

/// How far a long job (an export, a snapshot comparison or import) got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JobProgress {
    job: JobId,
    /// Twins done so far.
    done: usize,
    /// Twins in all, when known.
    total: Option<usize>,
}

impl JobProgress {
    fn new(job: JobId) -> Self {
        JobProgress {
            job,
            done: 0,
            total: None,
        }
    }

    /// Done and in all, as the dialogs show it.
    fn counts(self) -> (usize, Option<usize>) {
        (self.done, self.total)
    }
}

/// Top-level state of the explorer window.
pub struct ExplorerApp {
    worker: Worker,
    repaint: Repaint,
    settings: Settings,
    applied_theme: Option<ThemeChoice>,
    hub: HubStatus,
    embedded: HubTarget,
    local_hub: Option<LocalHubAddress>,
    /// Why the hub did not answer the last twin read, until one succeeds.
    hub_unreachable: Option<String>,
    devices: DeviceTable,
    query_bar: QueryBar,
    query: Option<RunningQuery>,
    /// A column being read for the listed devices.
    column_fetch: Option<RunningQuery>,
    /// The user's query behind the listed devices, and how its rows are read.
    listing: Option<(String, RowReader)>,
    /// The last query text sent for the device list, for tests and diagnostics.
    last_list_request: Option<String>,
    /// When the last frame started, to size the next frame's share of event folding.
    last_frame: Option<Instant>,
    device_list: DeviceList,
    open: OpenTwin,
    /// The modules of the open twin's device.
    modules: DeviceModules,
    twin_view: TwinView,
    tab: WorkTab,
    simulations: Simulations,
    simulator: SimulatorPanel,
    methods_panel: MethodsPanel,
    method_calls: MethodCalls,
    plug_and_play: crate::explorer::plug_and_play::PlugAndPlayState,
    /// The DTDL models loaded (opened files and the models folder).
    models: crate::explorer::models::ModelLibrary,
    telemetry: crate::explorer::live_telemetry::LiveTelemetry,
    telemetry_panel: TelemetryPanel,
    sent_messages: crate::explorer::sent_messages::SentMessages,
    messages_panel: MessagesPanel,
    log: EventLog,
    /// Requests of the current connection still to be answered.
    pending: HashSet<JobId>,
    next_job: u64,
    connections_path: Option<PathBuf>,
    saved_connections: Vec<SavedConnection>,
    connections_dialog: Option<ConnectionsDialog>,
    export_dialog: Option<ExportDialog>,
    export_progress: Option<JobProgress>,
    snapshot_dialog: Option<SnapshotDialog>,
    snapshot_progress: Option<JobProgress>,
    bulk_dialog: Option<BulkDialog>,
    picker: FilePicker,
    pending_pick: Option<(FilePurpose, PendingPick)>,
    open_when_connected: Option<String>,
    simulate_when_connected: bool,
}

impl ExplorerApp {
    /// Creates the explorer; `repaint` wakes the window when the worker has news.
    pub fn new(
        options: StartOptions,
        repaint: Repaint,
    ) -> Result<Self, crate::worker::WorkerError> {
        let worker = Worker::start(Arc::clone(&repaint), options.worker)?;
        let mut devices = DeviceTable::default();
        for column in &options.settings.columns {
            // Columns were valid when saved; a damaged entry is simply not shown.
            let _ = devices.add_column(column);
        }
        let mut app = ExplorerApp {
            worker,
            repaint,
            query_bar: QueryBar {
                text: options.settings.query.clone(),
                ..QueryBar::default()
            },
            settings: options.settings,
            applied_theme: None,
            hub: HubStatus::Disconnected,
            embedded: options.embedded,
            local_hub: None,
            hub_unreachable: None,
            devices,
            query: None,
            column_fetch: None,
            listing: None,
            last_list_request: None,
            last_frame: None,
            device_list: DeviceList::default(),
            open: OpenTwin::default(),
            modules: DeviceModules::default(),
            twin_view: TwinView::default(),
            tab: options.tab.unwrap_or(WorkTab::Edit),
            simulations: Simulations::default(),
            simulator: SimulatorPanel::default(),
            methods_panel: MethodsPanel::default(),
            method_calls: MethodCalls::default(),
            plug_and_play: Default::default(),
            models: Default::default(),
            telemetry: Default::default(),
            telemetry_panel: TelemetryPanel::default(),
            sent_messages: Default::default(),
            messages_panel: MessagesPanel::default(),
            log: EventLog::default(),
            pending: HashSet::new(),
            next_job: 1,
            connections_path: options.connections_path,
            saved_connections: options.saved_connections,
            connections_dialog: None,
            export_dialog: None,
            export_progress: None,
            snapshot_dialog: None,
            snapshot_progress: None,
            bulk_dialog: None,
            picker: options.picker,
            pending_pick: None,
            open_when_connected: options.open_device,
            simulate_when_connected: options.simulate,
        };
        if let Some(target) = options.hub {
            app.apply(Intent::Connect(target));
        }
        if let Some(folder) = app.models_folder() {
            app.apply(Intent::LoadModels(ModelSource::Folder(folder)));
        }
        Ok(app)
    }

    /// Creates the explorer inside eframe, restoring remembered settings.
    pub fn from_creation(
        creation: &eframe::CreationContext<'_>,
        mut options: StartOptions,
    ) -> Result<Self, crate::worker::WorkerError> {
        if let Some(settings) = creation
            .storage
            .and_then(|storage| eframe::get_value::<Settings>(storage, SETTINGS_KEY))
        {
            options.settings = settings;
        }
        let context = creation.egui_ctx.clone();
        ExplorerApp::new(options, Arc::new(move || context.request_repaint()))
    }

    /// The models folder of the settings, when one is set.
    fn models_folder(&self) -> Option<PathBuf> {
        let folder = self.settings.models_folder.trim();
        (!folder.is_empty()).then(|| PathBuf::from(folder))
    }

    /// Asks the user for a DTDL model file to open.
    pub(super) fn open_model(&mut self) {
        self.apply(Intent::PickFile(
            FilePurpose::Model,
            file_dialog::FileRequest {
                action: file_dialog::FileAction::Open,
                title: "Open a DTDL model".into(),
                folder: self
                    .models_folder()
                    .unwrap_or_else(file_dialog::default_folder),
                file_name: String::new(),
                filter: file_dialog::MODEL_FILES,
            },
        ));
    }

    /// Shows `rows` in the device list as if a list query had returned them.
    pub fn list_rows(&mut self, rows: ListedRows) {
        self.devices.extend(rows);
    }

    /// The last query the device list sent to the hub (a projection of its columns).
    pub fn last_list_request(&self) -> Option<&str> {
        self.last_list_request.as_deref()
    }

    /// Opens `twin` in the twin view and the editor, as if it had just been read.
    pub fn open_twin(&mut self, twin: DeviceTwin) {
        self.open.open_read(Box::new(twin));
    }

    /// Opens `key`'s twin and its Telemetry tab, as clicking the device and the tab would.
    pub fn show_telemetry_of(&mut self, key: &str) {
        self.apply(Intent::SelectDevice(key.to_owned()));
        self.tab = WorkTab::Telemetry;
    }

    /// How many telemetry messages of `key` the explorer holds.
    pub fn telemetry_kept(&self, key: &str) -> usize {
        self.telemetry
            .history(key)
            .map_or(0, |history| history.len())
    }

    /// Whether the device list is loading pages of a query.
    pub fn is_listing(&self) -> bool {
        self.query.is_some()
    }

    /// Whether the explorer is connected to a hub.
    pub fn is_connected(&self) -> bool {
        matches!(self.hub, HubStatus::Connected { .. })
    }

    /// How many devices the list holds (before its quick filter).
    pub fn devices_listed(&self) -> usize {
        self.devices.len()
    }

    /// How other programs reach the embedded hub, while connected to it.
    pub fn local_hub(&self) -> Option<&LocalHubAddress> {
        self.local_hub.as_ref()
    }

    /// The settings to remember.
    pub fn settings(&self) -> Settings {
        let mut settings = self.settings.clone();
        settings.columns = self.devices.columns().to_vec();
        settings
    }

    /// Draws one frame: news from the worker, the panels, then what they asked for.
    pub fn frame_ui(&mut self, ui: &mut Ui) {
        if self.drain_events() {
            ui.ctx().request_repaint();
        }
        self.poll_file_dialog();
        self.apply_theme(ui.ctx());
        let mut intents = Vec::new();
        self.shortcuts(ui.ctx(), &mut intents);
        self.top_ui(ui, &mut intents);
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            status_bar_ui(
                ui,
                &StatusLine {
                    hub: &self.hub,
                    unreachable: self.hub_unreachable.as_deref(),
                    devices: self.devices.len(),
                    simulated: self.simulations.running(),
                    last_error: self.log.last_error(),
                },
            );
        });
        if self.settings.show_event_log {
            egui::Panel::bottom("event-log")
                .resizable(true)
                .default_size(130.0)
                .show(ui, |ui| event_log::event_log_ui(ui, &mut self.log));
        }
        egui::Panel::left("devices")
            .resizable(true)
            .default_size(470.0)
            .min_size(260.0)
            .show(ui, |ui| {
                let waiting = self.hub.waiting_text().or_else(|| {
                    self.query
                        .as_ref()
                        .filter(|query| query.loaded == 0)
                        .map(|_| "listing devices…".to_owned())
                });
                let key = self.open.device_id();
                let modules = self
                    .modules
                    .listed()
                    .filter(|(device_id, _)| {
                        key.is_some_and(|key| twin_key::split(key).0 == *device_id)
                    })
                    .and_then(|(_, modules)| modules.latest())
                    .map_or(&[][..], Vec::as_slice);
                self.device_list.ui(
                    ui,
                    &mut self.devices,
                    OpenInList { key, modules },
                    self.query.is_some(),
                    waiting.as_deref(),
                    &mut intents,
                );
            });
        egui::Panel::right("work")
            .resizable(true)
            .default_size(440.0)
            .min_size(300.0)
            .show(ui, |ui| self.work_ui(ui, &mut intents));
        egui::CentralPanel::default().show(ui, |ui| {
            self.twin_view.ui(
                ui,
                &self.open,
                self.modules.listed(),
                self.settings.show_metadata,
                &mut intents,
            );
        });
        self.dialogs_ui(ui, &mut intents);
        for intent in intents {
            self.apply(intent);
        }
        self.list_modules();
        self.watch_telemetry();
        self.drive_bulk_dialog(ui.ctx());
        self.refresh_twin_periodically(ui.ctx());
    }

    fn work_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.tab, WorkTab::Edit, "Edit twin");
            ui.selectable_value(&mut self.tab, WorkTab::Drift, "Drift");
            ui.selectable_value(&mut self.tab, WorkTab::Simulate, "Simulate");
            ui.selectable_value(&mut self.tab, WorkTab::Methods, "Methods");
            ui.selectable_value(&mut self.tab, WorkTab::Telemetry, "Telemetry")
                .on_hover_text("What the device sends, live, with charts");
            ui.selectable_value(&mut self.tab, WorkTab::Messages, "Messages")
                .on_hover_text("Send cloud-to-device messages to the device");
            ui.selectable_value(&mut self.tab, WorkTab::PlugAndPlay, "Plug and Play")
                .on_hover_text(
                    "Components, writable properties and their acknowledgements, commands (Ctrl+P)",
                );
        });
        ui.separator();
        let Some(device_id) = self.open.device_id().map(str::to_owned) else {
            ui.weak("Select a device in the list.");
            return;
        };
        match self.tab {
            WorkTab::Edit => {
                let saving = self.open.is_saving();
                let save_error = self.open.save_error().map(str::to_owned);
                match self.open.edit_mut() {
                    Some(edit) => twin_editor::twin_editor_ui(
                        ui,
                        edit,
                        saving,
                        save_error.as_deref(),
                        intents,
                    ),
                    None => {
                        ui.weak("Reading the twin…");
                    }
                }
            }
            WorkTab::Drift => drift::drift_ui(ui, self.open.twin().latest()),
            WorkTab::Simulate => {
                let view = self.simulations.view_mut(&device_id);
                self.simulator.ui(ui, &device_id, view, intents);
            }
            WorkTab::Methods => {
                self.methods_panel
                    .ui(ui, &device_id, &self.method_calls, intents);
            }
            WorkTab::Telemetry => {
                self.telemetry_panel
                    .ui(ui, &device_id, &mut self.telemetry, intents);
                // The chart's time axis moves even when nothing arrives.
                ui.ctx().request_repaint_after(Duration::from_millis(500));
            }
            WorkTab::Messages => {
                let queued = self
                    .open
                    .twin()
                    .latest()
                    .and_then(|twin| twin.other.get("cloudToDeviceMessageCount"))
                    .and_then(serde_json::Value::as_u64);
                self.messages_panel
                    .ui(ui, &device_id, queued, &self.sent_messages, intents);
            }
            WorkTab::PlugAndPlay => plug_and_play::plug_and_play_ui(
                ui,
                &plug_and_play::PlugAndPlayContext {
                    device_id: &device_id,
                    twin: self.open.twin().latest(),
                    generation: self.open.generation(),
                    calls: &self.method_calls,
                    models: &self.models,
                },
                &mut self.plug_and_play,
                intents,
            ),
        }
    }

    fn dialogs_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        if let Some(dialog) = &mut self.connections_dialog
            && !dialog.ui(ui, &self.saved_connections, &self.embedded, intents)
        {
            self.connections_dialog = None;
        }
        if let Some(mut dialog) = self.snapshot_dialog.take() {
            let host_name = match &self.hub {
                HubStatus::Connected { host_name, .. } => host_name.as_str(),
                _ => "the hub",
            };
            let progress = self.snapshot_progress.map(JobProgress::counts);
            if dialog.ui(ui, host_name, progress, intents) {
                self.snapshot_dialog = Some(dialog);
            }
        }
        if let Some(mut dialog) = self.export_dialog.take() {
            let context = self.export_context();
            if dialog.ui(ui, &context, intents) {
                self.export_dialog = Some(dialog);
            }
        }
        if let Some(mut dialog) = self.bulk_dialog.take() {
            let marked: Vec<String> = self.device_list.marked.iter().cloned().collect();
            let context = BulkContext {
                query: &self.settings.query,
                marked: &marked,
            };
            if dialog.ui(ui, &context, intents) {
                self.bulk_dialog = Some(dialog);
            }
        }
    }

    /// Lists the modules of the open twin's device when another device was opened.
    fn list_modules(&mut self) {
        if !matches!(self.hub, HubStatus::Connected { .. }) {
            return;
        }
        if let Some(device_id) = self.modules.to_list(self.open.device_id())
            && let Some(job) = self.request(Request::ListModules {
                device_id: device_id.clone(),
            })
        {
            self.modules.sent(device_id, job);
        }
    }

    /// Sends what the bulk-job dialog needs of the hub; while a job runs, the window
    /// wakes to poll it.
    fn drive_bulk_dialog(&mut self, ctx: &egui::Context) {
        let Some(mut dialog) = self.bulk_dialog.take() else {
            return;
        };
        if matches!(self.hub, HubStatus::Connected { .. }) {
            let marked: Vec<String> = self.device_list.marked.iter().cloned().collect();
            let query = self.settings.query.clone();
            let context = BulkContext {
                query: &query,
                marked: &marked,
            };
            while let Some((slot, request)) = dialog.next_request(&context, Instant::now()) {
                let job = self.request(request);
                dialog.sent(slot, job);
                if job.is_none() {
                    break;
                }
            }
            ctx.request_repaint_after(Duration::from_millis(250));
        }
        self.bulk_dialog = Some(dialog);
    }

    fn export_context(&self) -> ExportContext<'_> {
        ExportContext {
            open_device: self.open.device_id(),
            marked: self.device_list.marked.iter().cloned().collect(),
            query: &self.settings.query,
            listed: self.devices.len(),
            host_name: match &self.hub {
                HubStatus::Connected { host_name, .. } => host_name,
                _ => "hub",
            },
            progress: self.export_progress.map(JobProgress::counts),
        }
    }

    fn open_export(&mut self) {
        let dialog = ExportDialog::new(&self.export_context());
        self.export_dialog = Some(dialog);
    }

    fn shortcuts(&mut self, ctx: &egui::Context, intents: &mut Vec<Intent>) {
        let pressed = |modifiers, key| {
            ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(modifiers, key)))
        };
        if pressed(Modifiers::COMMAND, Key::F) {
            self.query_bar.focus_requested = true;
        }
        if pressed(Modifiers::COMMAND, Key::S) {
            self.tab = WorkTab::Edit;
            intents.push(Intent::SaveTwin);
        }
        if pressed(Modifiers::COMMAND, Key::E) {
            self.open_export();
        }
        if pressed(Modifiers::COMMAND, Key::P) {
            self.tab = WorkTab::PlugAndPlay;
        }
        if pressed(Modifiers::COMMAND, Key::O) {
            self.open_model();
        }
        if pressed(Modifiers::NONE, Key::F5) {
            intents.push(Intent::RefreshTwin);
            intents.push(Intent::RunQuery(self.settings.query.clone()));
        }
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        if self.applied_theme != Some(self.settings.theme) {
            ctx.set_theme(self.settings.theme.preference());
            self.applied_theme = Some(self.settings.theme);
        }
    }

    fn poll_file_dialog(&mut self) {
        let Some((purpose, pending)) = &self.pending_pick else {
            return;
        };
        let Some(answer) = pending.poll() else {
            return;
        };
        let purpose = *purpose;
        self.pending_pick = None;
        match purpose {
            FilePurpose::Export => {
                if let Some(dialog) = &mut self.export_dialog {
                    dialog.picked(answer);
                }
            }
            FilePurpose::Snapshot => {
                if let Some(dialog) = &mut self.snapshot_dialog {
                    dialog.picked(answer);
                }
            }
            FilePurpose::JobResults => {
                if let Some(dialog) = &mut self.bulk_dialog {
                    dialog.picked(answer);
                }
            }
            FilePurpose::Telemetry => self.telemetry_panel.picked(answer),
            FilePurpose::Model => match answer {
                PickedFile::Chosen(path) => {
                    self.apply(Intent::LoadModels(ModelSource::File(path)));
                }
                PickedFile::Cancelled => {}
                PickedFile::Unavailable(why) => self.log.error(format!(
                    "No model file can be chosen: {why}; put the model in the models folder (View, Models folder) instead"
                )),
            },
        }
    }

    /// Keeps the worker watching the telemetry of the open device (and of those being
    /// recorded).
    fn watch_telemetry(&mut self) {
        if !matches!(self.hub, HubStatus::Connected { .. }) {
            return;
        }
        if let Some(devices) = self.telemetry.watch_update(self.open.device_id()) {
            self.send(crate::worker::Command::WatchTelemetry { devices });
        }
    }

    /// Reads the open twin again every few seconds, so changes made elsewhere show up.
    fn refresh_twin_periodically(&mut self, ctx: &egui::Context) {
        if self.open.device_id().is_none() || !matches!(self.hub, HubStatus::Connected { .. }) {
            return;
        }
        let interval = Duration::from_secs_f32(self.settings.twin_refresh_secs.max(0.5));
        if self.open.read_due(Instant::now(), interval) {
            self.apply(Intent::RefreshTwin);
        }
        ctx.request_repaint_after(interval);
    }
}

/// Whether a modal dialog has the keyboard.
pub(crate) fn modal_open(ctx: &egui::Context) -> bool {
    ctx.memory(|memory| memory.top_modal_layer().is_some())
}

impl eframe::App for ExplorerApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings());
    }
}

/// Opens the explorer window and blocks until it is closed.
pub fn run(options: StartOptions) -> eframe::Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(APP_NAME)
            .with_inner_size([1400.0, 860.0])
            .with_min_inner_size([800.0, 480.0]),
        ..Default::default()
    };
    eframe::run_native(
        APP_NAME,
        native,
        Box::new(|creation| {
            ExplorerApp::from_creation(creation, options)
                .map(|app| Box::new(app) as Box<dyn eframe::App>)
                .map_err(|error| Box::new(error) as Box<dyn std::error::Error + Send + Sync>)
        }),
    )
}
