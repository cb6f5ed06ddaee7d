//! Folding the worker's events into the explorer's state at the start of each frame.
//! Answers are matched to the job that asked, so a late reply for one device never
//! lands in another device's editor.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::connections::ConnectionsDialog;
use super::intent::Intent;
use super::status_bar::HubStatus;
use super::{ExplorerApp, Job};
use crate::device::DeviceEvent;
use crate::explorer::simulation::Direction;
use crate::explorer::{LinkState, ListedRows, MethodCallState};
use crate::worker::{Command, Event, Failure, JobId, Outcome};

/// The share of the time between frames spent folding in worker events: at 60 frames a
/// second about 0.4 ms, so frames stay short; when drawing is slow (software rendering)
/// each frame folds more, so a long list still loads in seconds.
const DRAIN_SHARE: u32 = 40;
/// The least and most a frame spends folding in worker events.
const DRAIN_BUDGET: (Duration, Duration) = (Duration::from_micros(300), Duration::from_millis(20));

impl ExplorerApp {
    /// Takes waiting events from the worker for a budget sized to the time since the
    /// last frame (see [`DRAIN_SHARE`]); returns whether some were left for the next
    /// frame.
    pub(super) fn drain_events(&mut self) -> bool {
        let started = Instant::now();
        let since_last = self
            .last_frame
            .replace(started)
            .map_or(Duration::ZERO, |last| started - last);
        let budget = (since_last / DRAIN_SHARE).clamp(DRAIN_BUDGET.0, DRAIN_BUDGET.1);
        while started.elapsed() < budget {
            match self.worker.try_next_event() {
                Some(event) => self.handle_event(event),
                None => return false,
            }
        }
        true
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::OpeningLocalHub { devices } => {
                if matches!(self.hub, HubStatus::Connecting(_)) {
                    self.hub = HubStatus::OpeningLocal(devices);
                    if let Some(text) = self.hub.waiting_text() {
                        self.log.info(crate::explorer::text::sentence(&text));
                    }
                }
            }
            Event::Connected {
                host_name,
                local_hub,
            } => {
                let embedded = local_hub.is_some();
                self.local_hub = local_hub;
                self.log.info(if embedded {
                    format!("Connected to the embedded local hub ({host_name})")
                } else {
                    format!("Connected to {host_name}")
                });
                self.hub = HubStatus::Connected {
                    host_name,
                    embedded,
                };
                self.apply(Intent::RunQuery(self.settings.query.clone()));
                if let Some(device_id) = self.open_when_connected.take() {
                    self.apply(Intent::SelectDevice(device_id.clone()));
                    if std::mem::take(&mut self.simulate_when_connected) {
                        self.apply(Intent::StartSimulation(device_id));
                    }
                }
            }
            Event::ConnectFailed { error } => {
                self.log.error(error.clone());
                self.hub = HubStatus::Failed(error);
                self.connections_dialog
                    .get_or_insert_with(ConnectionsDialog::default);
            }
            Event::QueryPage {
                job,
                rows,
                loaded,
                total,
            } => self.query_page(job, rows, loaded, total),
            Event::QueryDone { job, loaded } => {
                let kind = self.jobs.remove(&job);
                if let Some(query) = self.query.filter(|query| query.job == job) {
                    self.log.info(format!(
                        "{loaded} devices listed in {:.1} s",
                        query.started.elapsed().as_secs_f64()
                    ));
                    self.query = None;
                }
                if let (Some(fetch), Some(Job::FetchColumn { path })) =
                    (self.column_fetch.filter(|fetch| fetch.job == job), kind)
                {
                    self.log.info(format!(
                        "The column {path} read for {loaded} devices in {:.1} s",
                        fetch.started.elapsed().as_secs_f64()
                    ));
                    self.column_fetch = None;
                }
            }
            Event::Cancelled { job } => {
                self.jobs.remove(&job);
                if self.query.is_some_and(|query| query.job == job) {
                    self.log.info(format!(
                        "Query cancelled; {} devices listed",
                        self.devices.len()
                    ));
                    self.query = None;
                }
                if self.column_fetch.is_some_and(|fetch| fetch.job == job) {
                    self.log
                        .info("Reading the column cancelled; the rest of it stays empty");
                    self.column_fetch = None;
                }
            }
            Event::Finished { job, outcome } => {
                if let Some(kind) = self.jobs.remove(&job) {
                    self.finished(kind, job, outcome);
                }
            }
            Event::Simulation { device_id, event } => {
                let twin_changed = matches!(
                    event,
                    DeviceEvent::Connected
                        | DeviceEvent::ReportedSent { .. }
                        | DeviceEvent::DesiredReceived { .. }
                );
                self.simulations.view_mut(&device_id).apply(&event);
                if twin_changed && self.selected.as_deref() == Some(device_id.as_str()) {
                    // Read the twin on the next frame to show the device's effect.
                    self.last_twin_read = None;
                }
            }
            Event::SimulationFailed { device_id, error } => {
                let view = self.simulations.view_mut(&device_id);
                if view.link == LinkState::Starting {
                    view.link = LinkState::Failed(error.clone());
                } else {
                    view.log(Direction::Problem, error.clone());
                }
                self.log
                    .error(format!("simulated device {device_id}: {error}"));
            }
            Event::SimulationStopped { device_id } => {
                let view = self.simulations.view_mut(&device_id);
                view.link = LinkState::Stopped;
                view.telemetry_on = false;
                view.log(Direction::Link, "disconnected on request");
                self.log
                    .info(format!("Simulated device {device_id} disconnected"));
            }
            Event::Progress { job, done, total } => {
                for progress in [&mut self.export_progress, &mut self.snapshot_progress]
                    .into_iter()
                    .flatten()
                {
                    if progress.0 == job {
                        *progress = (job, done, total);
                    }
                }
            }
            Event::ConnectionsSaved { result } => match result {
                Ok(()) => self.log.info("Saved connections updated"),
                Err(error) => self.log.error(error),
            },
        }
    }

    /// Folds a page of a list query or of a column read into the device list.
    fn query_page(&mut self, job: JobId, rows: ListedRows, loaded: usize, total: Option<usize>) {
        if let Some(query) = &mut self.query
            && query.job == job
        {
            if query.total.is_none()
                && let Some(total) = total
            {
                self.devices.reserve(total);
            }
            query.loaded = loaded;
            query.total = total;
            self.devices.extend(rows);
        } else if let Some(fetch) = &mut self.column_fetch
            && fetch.job == job
        {
            fetch.loaded = loaded;
            fetch.total = total;
            self.devices.update_columns(rows);
        }
    }

    fn finished(&mut self, kind: Job, job: JobId, outcome: Result<Outcome, Failure>) {
        match kind {
            Job::FetchColumn { path } => {
                if self.column_fetch.is_some_and(|fetch| fetch.job == job) {
                    self.column_fetch = None;
                }
                if let Err(failure) = outcome {
                    self.log
                        .error(format!("Reading the column {path} failed: {failure}"));
                }
            }
            Job::Query => {
                if self.query.is_some_and(|query| query.job == job) {
                    self.query = None;
                }
                if let Err(failure) = outcome {
                    self.query_bar.error = Some(failure.message.clone());
                    self.log.error(format!("The query failed: {failure}"));
                }
            }
            Job::ReadTwin { device_id } => {
                if self.twin_read == Some(job) {
                    self.twin_read = None;
                }
                if self.selected.as_deref() != Some(device_id.as_str()) {
                    return;
                }
                // A read the hub answered, even with an error, proves it is reachable.
                self.hub_unreachable = match &outcome {
                    Err(failure) if failure.status.is_none() => Some(failure.message.clone()),
                    _ => None,
                };
                match outcome {
                    Ok(Outcome::Twin(twin)) => self.twin_arrived(twin),
                    Ok(_) => {}
                    Err(failure) if failure.is_not_found() => self.device_gone(&device_id),
                    Err(failure) => {
                        if self.twin.error() != Some(failure.message.as_str()) {
                            self.log.error(format!(
                                "Reading the twin of {device_id} failed: {failure}"
                            ));
                        }
                        self.twin.fail(failure.message);
                    }
                }
            }
            Job::ReadAfterConflict { device_id } => {
                if self.selected.as_deref() != Some(device_id.as_str()) {
                    return;
                }
                match outcome {
                    Ok(Outcome::Twin(twin)) => {
                        self.show_twin(twin.clone());
                        if let Some(edit) = &mut self.edit {
                            edit.save_refused(twin);
                        }
                    }
                    Ok(_) => {}
                    Err(failure) if failure.is_not_found() => self.device_gone(&device_id),
                    Err(failure) => self.save_error = Some(failure.message),
                }
            }
            Job::SaveTwin { device_id } => {
                self.save = None;
                match outcome {
                    Ok(Outcome::Twin(twin)) => {
                        let version = twin.get("version").and_then(Value::as_u64).unwrap_or(0);
                        self.log
                            .info(format!("Saved the twin of {device_id} (version {version})"));
                        if self.selected.as_deref() == Some(device_id.as_str()) {
                            self.show_twin(twin.clone());
                            if let Some(edit) = &mut self.edit {
                                edit.saved(twin);
                            }
                        } else {
                            self.devices.upsert(&twin);
                        }
                    }
                    Ok(_) => {}
                    Err(failure) if failure.is_precondition_failed() => {
                        self.log.warn(format!(
                            "The twin of {device_id} changed since it was read; showing what changed"
                        ));
                        let read = self.new_job(Job::ReadAfterConflict {
                            device_id: device_id.clone(),
                        });
                        self.send(Command::GetTwin {
                            job: read,
                            device_id,
                        });
                    }
                    Err(failure) if failure.is_not_found() => self.device_gone(&device_id),
                    Err(failure) => {
                        self.log
                            .error(format!("Saving the twin of {device_id} failed: {failure}"));
                        self.save_error = Some(failure.message);
                    }
                }
            }
            Job::CreateDevice { device_id } => match outcome {
                Ok(_) => {
                    self.log.info(format!("Created device {device_id}"));
                    self.apply(Intent::SelectDevice(device_id));
                }
                Err(failure) => self
                    .log
                    .error(format!("Creating device {device_id} failed: {failure}")),
            },
            Job::DeleteDevice { device_id } => match outcome {
                Ok(_) => {
                    self.log.info(format!("Deleted device {device_id}"));
                    self.devices.remove(&device_id);
                    self.device_list.marked.remove(&device_id);
                    self.drafts.remove(&device_id);
                    if self.selected.as_deref() == Some(device_id.as_str()) {
                        self.selected = None;
                        self.edit = None;
                        self.twin = crate::explorer::Requested::Idle;
                    }
                }
                Err(failure) => self
                    .log
                    .error(format!("Deleting device {device_id} failed: {failure}")),
            },
            Job::Method { device_id } => {
                let state = match outcome {
                    Ok(Outcome::Method { result, latency }) => {
                        self.log.info(format!(
                            "{device_id} answered a method with status {}",
                            result.status
                        ));
                        MethodCallState::Answered {
                            status: result.status,
                            payload: result.payload,
                            latency,
                        }
                    }
                    Ok(_) => return,
                    Err(failure) => {
                        self.log
                            .error(format!("Method call to {device_id} failed: {failure}"));
                        MethodCallState::Failed(failure.message)
                    }
                };
                self.method_calls.finished(&device_id, job.0, state);
            }
            Job::Snapshot => self.snapshot_finished(outcome),
            Job::Export => {
                self.export_progress = None;
                match outcome {
                    Ok(Outcome::Exported { path, count }) => {
                        self.log
                            .info(format!("Exported {count} twins to {}", path.display()));
                        self.export_dialog = None;
                    }
                    Ok(_) => {}
                    Err(failure) => self.log.error(format!("Export failed: {failure}")),
                }
            }
        }
    }

    fn snapshot_finished(&mut self, outcome: Result<Outcome, Failure>) {
        self.snapshot_progress = None;
        match outcome {
            Ok(Outcome::Compared {
                header,
                devices,
                comparison,
            }) => {
                self.log.info(format!(
                    "Compared a snapshot of {devices} devices: {} differ",
                    comparison.len()
                ));
                if let Some(dialog) = &mut self.snapshot_dialog {
                    dialog.compared(header, devices, comparison);
                }
            }
            Ok(Outcome::ImportPlanned(plan)) => {
                if let Some(dialog) = &mut self.snapshot_dialog {
                    dialog.planned(plan);
                }
            }
            Ok(Outcome::Imported(report)) => {
                let counts = report.counts();
                self.log.info(format!(
                    "Imported a snapshot: {} updated, {} created, {} conflicts, {} failed",
                    counts.updated, counts.created, counts.conflicts, counts.failed
                ));
                if let Some(dialog) = &mut self.snapshot_dialog {
                    dialog.imported(report);
                }
                self.apply(Intent::RunQuery(self.settings.query.clone()));
                self.last_twin_read = None;
            }
            Ok(_) => {}
            Err(failure) => self.log.error(format!("Snapshot: {failure}")),
        }
    }

    /// A fresh read of the open twin.
    fn twin_arrived(&mut self, twin: Value) {
        self.show_twin(twin.clone());
        self.edit_twin(twin);
    }

    /// Shows `twin` in the twin view and the device list.
    fn show_twin(&mut self, twin: Value) {
        self.devices.upsert(&twin);
        if self.twin.latest() != Some(&twin) {
            self.twin_generation += 1;
        }
        self.twin.succeed(twin);
    }

    /// The open device no longer exists: say so in place and stop reading it. The
    /// editor's text stays, so nothing typed is lost.
    fn device_gone(&mut self, device_id: &str) {
        let message = format!(
            "{device_id} no longer exists on the hub (deleted elsewhere?); your edits, if any, are still in the editor to copy"
        );
        self.log.warn(message.clone());
        self.twin.fail(message);
        self.selected_gone = true;
        self.devices.remove(device_id);
    }
}
