//! Applying the panels' intents after each frame: each becomes a worker command (with
//! the job recorded so its answer lands in the right place) or a change of state.

use std::time::Instant;

use super::file_dialog::PendingPick;
use super::intent::{Intent, Resolution};
use super::simulator::{desired_ack, telemetry_schedule};
use super::status_bar::HubStatus;
use super::{ExplorerApp, Job, RunningQuery, WorkTab};
use crate::auth::host_name_of;
use crate::device::{Behaviours, parse_method_table};
use crate::explorer::{MethodCall, MethodCallState, Requested, TwinEdit, list_query};
use crate::worker::{Command, HubTarget, JobId};

/// Rows asked for per query page.
const QUERY_PAGE_SIZE: u32 = 1000;

impl ExplorerApp {
    /// Records what a new job is for and returns its id.
    pub(super) fn new_job(&mut self, job: Job) -> JobId {
        let id = JobId(self.next_job);
        self.next_job += 1;
        self.jobs.insert(id, job);
        id
    }

    /// Queues a command; a full or stopped worker is logged, never a blocked frame.
    pub(super) fn send(&mut self, command: Command) -> bool {
        match self.worker.send(command) {
            Ok(()) => true,
            Err(error) => {
                self.log.error(error.to_string());
                false
            }
        }
    }

    /// Carries out one intent.
    pub(super) fn apply(&mut self, intent: Intent) {
        match intent {
            Intent::RunQuery(query) => self.run_query(query),
            Intent::CancelQuery => {
                for running in [self.query, self.column_fetch].into_iter().flatten() {
                    self.send(Command::Cancel(running.job));
                }
            }
            Intent::AddColumn(path) => self.add_column(&path),
            Intent::SelectDevice(device_id) => self.select(device_id),
            Intent::RefreshTwin => self.read_twin(),
            Intent::SaveTwin => self.save_twin(),
            Intent::ResolveConflict(resolution) => self.resolve(resolution),
            Intent::CreateDevice(device_id) => {
                let job = self.new_job(Job::CreateDevice {
                    device_id: device_id.clone(),
                });
                self.send(Command::CreateDevice { job, device_id });
            }
            Intent::DeleteDevice(device_id) => {
                if self
                    .simulations
                    .view(&device_id)
                    .is_some_and(|v| v.link.is_running())
                {
                    self.send(Command::StopSimulation {
                        device_id: device_id.clone(),
                    });
                }
                let job = self.new_job(Job::DeleteDevice {
                    device_id: device_id.clone(),
                });
                self.send(Command::DeleteDevice { job, device_id });
            }
            Intent::Connect(target) => self.connect(target),
            Intent::SaveConnections(connections) => {
                self.saved_connections = connections.clone();
                match self.connections_path.clone() {
                    Some(path) => {
                        self.send(Command::SaveConnections { path, connections });
                    }
                    None => self.log.error(
                        "connections cannot be saved: this system has no config folder for twinlens",
                    ),
                }
            }
            Intent::StartSimulation(device_id) => self.start_simulation(device_id),
            Intent::StopSimulation(device_id) => {
                self.send(Command::StopSimulation { device_id });
            }
            Intent::Simulation { device_id, command } => {
                self.send(Command::Simulation { device_id, command });
            }
            Intent::InvokeMethod {
                device_id,
                method,
                payload,
                response_timeout,
            } => {
                let job = self.new_job(Job::Method {
                    device_id: device_id.clone(),
                });
                self.method_calls.started(
                    &device_id,
                    MethodCall {
                        call_id: job.0,
                        method: method.clone(),
                        payload: payload.clone(),
                        response_timeout,
                        time: chrono::Local::now().format("%H:%M:%S").to_string(),
                        state: MethodCallState::Pending,
                    },
                );
                self.send(Command::InvokeMethod {
                    job,
                    device_id,
                    method,
                    payload,
                    response_timeout,
                });
            }
            Intent::Export { source, path } => {
                if self.export_progress.is_some() {
                    return;
                }
                let job = self.new_job(Job::Export);
                self.log.info(format!("Exporting to {}…", path.display()));
                if self.send(Command::Export { job, source, path }) {
                    self.export_progress = Some((job, 0, None));
                }
            }
            Intent::CompareSnapshot(path) => {
                let job = self.new_job(Job::Snapshot);
                if self.send(Command::CompareSnapshot { job, path }) {
                    self.snapshot_progress = Some((job, 0, None));
                }
            }
            Intent::PlanImport { path, options } => {
                let job = self.new_job(Job::Snapshot);
                if self.send(Command::PlanImport { job, path, options }) {
                    self.snapshot_progress = Some((job, 0, None));
                }
            }
            Intent::ApplyImport(plan) => {
                let job = self.new_job(Job::Snapshot);
                self.log.info(format!(
                    "Importing {} devices from a snapshot of {}…",
                    plan.devices.len(),
                    plan.header.hub_host_name
                ));
                if self.send(Command::ApplyImport { job, plan }) {
                    self.snapshot_progress = Some((job, 0, None));
                }
            }
            Intent::PickFile(purpose, request) => {
                let repaint = self.repaint.clone();
                let pending = PendingPick::start(&self.picker, request, move || repaint());
                self.pending_pick = Some((purpose, pending));
            }
        }
    }

    fn run_query(&mut self, query: String) {
        let HubStatus::Connected { embedded, .. } = self.hub else {
            self.log
                .warn("not connected to a hub yet; the query runs once connected");
            self.settings.remember_query(&query);
            return;
        };
        let plan = match list_query::plan(&query, self.devices.columns(), embedded) {
            Ok(plan) => plan,
            Err(error) => {
                self.query_bar.error = Some(error.to_string());
                self.log.warn(format!("The query was not run: {error}"));
                return;
            }
        };
        for running in [self.query.take(), self.column_fetch.take()]
            .into_iter()
            .flatten()
        {
            self.jobs.remove(&running.job);
            self.send(Command::Cancel(running.job));
        }
        self.settings.remember_query(&query);
        self.query_bar.text.clone_from(&query);
        self.devices.clear();
        for column in &plan.new_columns {
            // Checked by the plan, which writes every column into the query.
            let _ = self.devices.add_column(column);
        }
        let job = self.new_job(Job::Query);
        self.last_list_request = Some(plan.query.text.clone());
        self.listing = Some((query, plan.query.reader.clone()));
        if self.send(Command::Query {
            job,
            query: plan.query.text,
            page_size: QUERY_PAGE_SIZE,
            reader: plan.query.reader,
        }) {
            self.query = Some(RunningQuery::new(job));
        }
    }

    /// Shows a new column; its values are read from the hub for the listed devices
    /// (the whole list is read again while it is still loading, or when its rows came
    /// from a query this explorer cannot rewrite).
    fn add_column(&mut self, path: &str) {
        let path = match self.devices.add_column(path) {
            Ok(path) => path,
            Err(error) => {
                self.device_list.column_refused(error);
                return;
            }
        };
        self.device_list.column_added();
        let Some((listed, reader)) = self.listing.clone() else {
            return;
        };
        let fetch = match list_query::column_query(&listed, &path) {
            Ok(Some(fetch)) if self.query.is_none() && reader.projected => fetch,
            Ok(_) => return self.run_query(listed),
            Err(error) => {
                self.device_list.column_refused(error.to_string());
                return;
            }
        };
        if let Some(running) = self.column_fetch.take() {
            self.jobs.remove(&running.job);
            self.send(Command::Cancel(running.job));
        }
        let job = self.new_job(Job::FetchColumn { path: path.clone() });
        self.log
            .info(format!("Reading the column {path} for the listed devices…"));
        if self.send(Command::Query {
            job,
            query: fetch.text,
            page_size: QUERY_PAGE_SIZE,
            reader: fetch.reader,
        }) {
            self.column_fetch = Some(RunningQuery::new(job));
        }
    }

    fn select(&mut self, device_id: String) {
        if self.selected.as_deref() == Some(device_id.as_str()) && !self.selected_gone {
            return;
        }
        // Unsaved edits are kept per device and come back when the device is reopened.
        if let Some(edit) = self.edit.take()
            && edit.is_dirty()
        {
            self.drafts.insert(edit.device_id().to_owned(), edit);
        }
        self.edit = self.drafts.remove(&device_id);
        self.selected = Some(device_id);
        self.selected_gone = false;
        self.twin = Requested::Idle;
        self.twin_generation += 1;
        self.twin_read = None;
        self.save_error = None;
        self.read_twin();
    }

    fn read_twin(&mut self) {
        let Some(device_id) = self.selected.clone() else {
            return;
        };
        if self.twin_read.is_some() {
            return;
        }
        let job = self.new_job(Job::ReadTwin {
            device_id: device_id.clone(),
        });
        self.last_twin_read = Some(Instant::now());
        if self.send(Command::GetTwin { job, device_id }) {
            self.twin.start();
            self.twin_read = Some(job);
        }
    }

    fn save_twin(&mut self) {
        if self.save.is_some() {
            return;
        }
        let Some(edit) = &mut self.edit else {
            return;
        };
        if edit.check_pending() {
            edit.recheck();
        }
        let Some((patch, etag)) = edit.patch_to_send() else {
            let why = if edit.conflict().is_some() {
                "resolve the conflict first (merge, overwrite or discard)"
            } else if edit.is_dirty() {
                "fix the error shown in the editor first"
            } else {
                "there are no changes to save"
            };
            self.log.warn(format!("Nothing saved: {why}"));
            return;
        };
        let device_id = edit.device_id().to_owned();
        let job = self.new_job(Job::SaveTwin {
            device_id: device_id.clone(),
        });
        if self.send(Command::PatchTwin {
            job,
            device_id,
            patch,
            etag,
        }) {
            self.save = Some(job);
            self.save_error = None;
        }
    }

    fn resolve(&mut self, resolution: Resolution) {
        let Some(edit) = &mut self.edit else {
            return;
        };
        match resolution {
            Resolution::Merge => {
                if let Err(error) = edit.merge_onto_theirs() {
                    self.save_error = Some(format!("cannot merge: {error}"));
                }
            }
            Resolution::Overwrite => {
                edit.overwrite_theirs();
                self.save_twin();
            }
            Resolution::Discard => edit.discard_mine(),
        }
    }

    fn connect(&mut self, target: HubTarget) {
        let description = match &target {
            HubTarget::Embedded { .. } => "the embedded local hub".to_owned(),
            HubTarget::Remote(remote) => host_name_of(&remote.connection_string)
                .unwrap_or("the hub")
                .to_owned(),
        };
        self.log.info(format!("Connecting to {description}…"));
        self.hub = HubStatus::Connecting(description);
        self.local_hub = None;
        self.hub_unreachable = None;
        self.simulations.stop_all();
        self.devices.clear();
        self.query = None;
        self.column_fetch = None;
        self.listing = None;
        self.jobs.clear();
        self.selected = None;
        self.selected_gone = false;
        self.twin = Requested::Idle;
        self.twin_read = None;
        self.save = None;
        self.edit = None;
        self.drafts.clear();
        self.export_progress = None;
        self.snapshot_progress = None;
        self.send(Command::Connect(target));
    }

    fn start_simulation(&mut self, device_id: String) {
        let view = self.simulations.view_mut(&device_id);
        let methods = match parse_method_table(&view.methods_text) {
            Ok(methods) => methods,
            Err(error) => {
                self.log.warn(format!(
                    "the method table of {device_id} is not usable ({error}); starting with the default"
                ));
                crate::device::MethodTable::default()
            }
        };
        let telemetry = if view.telemetry_on {
            telemetry_schedule(view).ok()
        } else {
            None
        };
        let behaviours = Behaviours {
            desired_ack: desired_ack(view),
            methods,
            telemetry,
        };
        view.link = crate::explorer::LinkState::Starting;
        self.tab = WorkTab::Simulate;
        self.log
            .info(format!("Connecting {device_id} as a simulated device…"));
        self.send(Command::StartSimulation {
            device_id,
            behaviours,
        });
    }

    /// Restores a stashed draft or opens `twin` in the editor.
    pub(super) fn edit_twin(&mut self, twin: serde_json::Value) {
        match &mut self.edit {
            Some(edit)
                if Some(edit.device_id()) == twin.get("deviceId").and_then(|v| v.as_str()) =>
            {
                edit.refreshed(twin);
            }
            _ => self.edit = Some(TwinEdit::open(twin)),
        }
    }
}
