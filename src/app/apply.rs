//! Applying the panels' intents after each frame: each becomes a worker command (with
//! the job recorded so its answer lands in the right place) or a change of state.

use std::time::Instant;

use super::bulk_jobs::BulkDialog;
use super::file_dialog::PendingPick;
use super::intent::{Intent, Resolution};
use super::simulator::{desired_ack, telemetry_schedule};
use super::status_bar::HubStatus;
use super::{ExplorerApp, JobProgress, RunningQuery, WorkTab};
use crate::auth::host_name_of;
use crate::device::{Behaviours, parse_method_table};
use crate::explorer::plug_and_play::desired_patch;
use crate::explorer::{MethodCall, MethodCallState, list_query};
use crate::worker::{Command, HubTarget, JobId, Request};

/// Rows asked for per query page.
const QUERY_PAGE_SIZE: u32 = 1000;

impl ExplorerApp {
    /// Sends a request of the connected hub as a new job; its id, when the worker took
    /// it. The answer is expected while the connection lasts.
    pub(super) fn request(&mut self, request: Request) -> Option<JobId> {
        let job = JobId(self.next_job);
        self.next_job += 1;
        if self.send(Command::Request { job, request }) {
            self.pending.insert(job);
            Some(job)
        } else {
            None
        }
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
                let running: Vec<JobId> = [&self.query, &self.column_fetch]
                    .into_iter()
                    .flatten()
                    .map(|running| running.job)
                    .collect();
                for job in running {
                    self.send(Command::Cancel(job));
                }
            }
            Intent::AddColumn(path) => self.add_column(&path),
            Intent::SelectDevice(device_id) => self.select(device_id),
            Intent::RefreshTwin => self.read_twin(),
            Intent::SaveTwin => self.save_twin(),
            Intent::ResolveConflict(resolution) => self.resolve(resolution),
            Intent::CreateDevice(device_id) => {
                self.request(Request::CreateDevice { device_id });
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
                self.request(Request::DeleteDevice { device_id });
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
                let sent = self.request(Request::InvokeMethod {
                    device_id: device_id.clone(),
                    method: method.clone(),
                    payload: payload.clone(),
                    response_timeout,
                });
                if let Some(job) = sent {
                    self.method_calls.started(
                        &device_id,
                        MethodCall {
                            // The job id is the call's id in the method history.
                            call_id: job.0,
                            method,
                            payload,
                            response_timeout,
                            time: chrono::Local::now().format("%H:%M:%S").to_string(),
                            state: MethodCallState::Pending,
                        },
                    );
                }
            }
            Intent::SetDesired {
                device_id,
                key,
                value,
            } => {
                let patch = desired_patch(key.component.as_deref(), &key.name, value);
                let sent = self.request(Request::PatchTwin {
                    device_id: device_id.clone(),
                    patch,
                    etag: None,
                });
                if let Some(job) = sent {
                    self.plug_and_play.write_sent(job, &device_id, key);
                }
            }
            Intent::OpenModel => self.open_model(),
            Intent::LoadModels(source) => {
                self.log.info(format!("Reading {}…", source.describe()));
                self.send(Command::ReadModels(source));
            }
            Intent::Export { source, path } => {
                if self.export_progress.is_some() {
                    return;
                }
                self.log.info(format!("Exporting to {}…", path.display()));
                self.export_progress = self
                    .request(Request::Export { source, path })
                    .map(JobProgress::new);
            }
            Intent::CompareSnapshot(path) => {
                self.snapshot_progress = self
                    .request(Request::CompareSnapshot { path })
                    .map(JobProgress::new);
            }
            Intent::PlanImport { path, options } => {
                self.snapshot_progress = self
                    .request(Request::PlanImport { path, options })
                    .map(JobProgress::new);
            }
            Intent::ApplyImport(plan) => {
                self.log.info(format!(
                    "Importing {} devices from a snapshot of {}…",
                    plan.devices.len(),
                    plan.header.hub_host_name
                ));
                self.snapshot_progress = self
                    .request(Request::ApplyImport { plan })
                    .map(JobProgress::new);
            }
            Intent::OpenBulk(kind) => {
                let marked: Vec<String> = self.device_list.marked.iter().cloned().collect();
                self.bulk_dialog = Some(BulkDialog::new(kind, &marked));
            }
            Intent::PickFile(purpose, request) => {
                let repaint = self.repaint.clone();
                let pending = PendingPick::start(&self.picker, request, move || repaint());
                self.pending_pick = Some((purpose, pending));
            }
            Intent::SendCloudMessage { device_id, message } => {
                let message_id = message.message_id.clone().unwrap_or_default();
                self.sent_messages
                    .sending(&device_id, &message_id, &message.body);
                if self
                    .request(Request::SendCloudMessage {
                        device_id: device_id.clone(),
                        message,
                    })
                    .is_none()
                {
                    let why = "the background worker did not take it".to_owned();
                    self.sent_messages
                        .answered(&device_id, &message_id, Some(why));
                }
            }
            Intent::PurgeCloudMessages(device_id) => {
                self.request(Request::PurgeCloudMessages { device_id });
            }
            Intent::StartRecording { key, path } => {
                self.send(Command::RecordTelemetry { key, path });
            }
            Intent::StopRecording(key) => {
                self.send(Command::StopRecording { key });
            }
            Intent::ExportTelemetry { key, path, filter } => {
                self.export_telemetry(&key, path, &filter);
            }
        }
    }

    /// Has the worker write the shown history of `key` (filtered by `filter`) to `path`.
    fn export_telemetry(&mut self, key: &str, path: std::path::PathBuf, filter: &str) {
        let filter = crate::explorer::telemetry_history::MessageFilter::new(filter);
        let Some(history) = self.telemetry.history(key) else {
            self.log
                .warn(format!("{key} has sent no telemetry to export yet"));
            return;
        };
        let mut contents = Vec::new();
        // Writing into memory cannot fail.
        let count = history
            .write_ndjson(key, &filter, &mut contents)
            .unwrap_or_default();
        self.request(Request::WriteTelemetry {
            path,
            contents,
            count,
        });
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
            self.pending.remove(&running.job);
            self.send(Command::Cancel(running.job));
        }
        self.settings.remember_query(&query);
        self.query_bar.text.clone_from(&query);
        self.devices.clear();
        for column in &plan.new_columns {
            // Checked by the plan, which writes every column into the query.
            let _ = self.devices.add_column(column);
        }
        self.last_list_request = Some(plan.query.text.clone());
        self.listing = Some((query, plan.query.reader.clone()));
        self.query = self
            .request(Request::Query {
                query: plan.query.text,
                page_size: QUERY_PAGE_SIZE,
                reader: plan.query.reader,
            })
            .map(|job| RunningQuery::new(job, None));
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
            self.pending.remove(&running.job);
            self.send(Command::Cancel(running.job));
        }
        self.log
            .info(format!("Reading the column {path} for the listed devices…"));
        self.column_fetch = self
            .request(Request::Query {
                query: fetch.text,
                page_size: QUERY_PAGE_SIZE,
                reader: fetch.reader,
            })
            .map(|job| RunningQuery::new(job, Some(path)));
    }

    fn select(&mut self, device_id: String) {
        if self.open.select(&device_id) {
            self.read_twin();
        }
    }

    fn read_twin(&mut self) {
        let Some(device_id) = self.open.to_read().map(str::to_owned) else {
            return;
        };
        let now = Instant::now();
        match self.request(Request::GetTwin { device_id }) {
            Some(job) => self.open.read_sent(job, now),
            None => self.open.read_not_sent(now),
        }
    }

    fn save_twin(&mut self) {
        match self.open.to_save() {
            Ok(save) => {
                let sent = self.request(Request::PatchTwin {
                    device_id: save.device_id,
                    patch: save.patch,
                    etag: save.etag,
                });
                if let Some(job) = sent {
                    self.open.save_sent(job);
                }
            }
            Err(why) => {
                if let Some(why) = why.explanation() {
                    self.log.warn(format!("Nothing saved: {why}"));
                }
            }
        }
    }

    fn resolve(&mut self, resolution: Resolution) {
        let Some(edit) = self.open.edit_mut() else {
            return;
        };
        match resolution {
            Resolution::Merge => {
                if let Err(error) = edit.merge_onto_theirs() {
                    self.open.set_save_error(format!("cannot merge: {error}"));
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
        self.pending.clear();
        self.open.reset();
        self.plug_and_play.reset();
        self.export_progress = None;
        self.snapshot_progress = None;
        self.send(Command::Connect(target));
    }

    fn start_simulation(&mut self, device_id: String) {
        let view = self.simulations.view_mut(&device_id);
        let model_id = match view.model_id() {
            Ok(model_id) => model_id,
            Err(error) => {
                let problem = format!(
                    "not connected: {error}; correct the model id on the Simulate tab, or clear it"
                );
                view.link = crate::explorer::LinkState::Failed(problem.clone());
                self.tab = WorkTab::Simulate;
                self.log.error(format!(
                    "{} was not simulated: {problem}",
                    crate::explorer::twin_key::describe(&device_id)
                ));
                return;
            }
        };
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
            cloud_messages: view.cloud_message_handling,
        };
        view.link = crate::explorer::LinkState::Starting;
        self.tab = WorkTab::Simulate;
        self.log.info(format!(
            "Connecting {} as a simulated device…",
            crate::explorer::twin_key::describe(&device_id)
        ));
        self.send(Command::StartSimulation {
            device_id,
            behaviours,
            model_id,
        });
    }
}
