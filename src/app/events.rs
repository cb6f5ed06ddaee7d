//! Folding the worker's events into the explorer's state at the start of each frame.
//! Answers are matched to the job that asked, so a late reply for one device never
//! lands in another device's editor.

use std::time::{Duration, Instant};

use super::bulk_jobs::BulkNews;
use super::connections::ConnectionsDialog;
use super::intent::Intent;
use super::status_bar::HubStatus;
use super::{ExplorerApp, JobProgress};
use crate::device::DeviceEvent;
use crate::explorer::plug_and_play::{WriteEnded, WriteOutcome};
use crate::explorer::simulation::Direction;
use crate::explorer::{AfterAnswer, LinkState, ListedRows, MethodCallState, TwinAnswer, twin_key};
use crate::service::DeviceTwin;
use crate::worker::{Compared, Event, Failure, JobId, MethodAnswer, Reply, Request};

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
                self.telemetry.connection_changed();
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
                self.pending.remove(&job);
                if let Some(query) = self.query.take_if(|query| query.job == job) {
                    self.log.info(format!(
                        "{loaded} devices listed in {:.1} s",
                        query.started.elapsed().as_secs_f64()
                    ));
                }
                if let Some(fetch) = self.column_fetch.take_if(|fetch| fetch.job == job) {
                    self.log.info(format!(
                        "The column {} read for {loaded} devices in {:.1} s",
                        fetch.column.unwrap_or_default(),
                        fetch.started.elapsed().as_secs_f64()
                    ));
                }
            }
            Event::Cancelled { job } => {
                self.pending.remove(&job);
                if self.query.as_ref().is_some_and(|query| query.job == job) {
                    self.log.info(format!(
                        "Query cancelled; {} devices listed",
                        self.devices.len()
                    ));
                    self.query = None;
                }
                if self
                    .column_fetch
                    .as_ref()
                    .is_some_and(|fetch| fetch.job == job)
                {
                    self.log
                        .info("Reading the column cancelled; the rest of it stays empty");
                    self.column_fetch = None;
                }
            }
            Event::Finished { job, reply } => {
                // Answers to requests of an earlier connection are dropped.
                if self.pending.remove(&job) {
                    self.finished(job, reply);
                }
            }
            Event::Simulation { device_id, event } => {
                let twin_changed = matches!(
                    event,
                    DeviceEvent::Connected
                        | DeviceEvent::ReportedSent { .. }
                        | DeviceEvent::DesiredReceived { .. }
                );
                match &event {
                    DeviceEvent::TelemetrySent { body } => {
                        self.telemetry
                            .receive_simulated(&device_id, body, chrono::Utc::now());
                    }
                    DeviceEvent::CloudMessageReceived {
                        properties,
                        completed,
                        ..
                    } => {
                        let message_id = properties
                            .iter()
                            .find(|(name, _)| name == "$.mid")
                            .and_then(|(_, value)| value.as_deref());
                        if let Some(message_id) = message_id {
                            self.sent_messages
                                .received(&device_id, message_id, *completed);
                        }
                    }
                    _ => {}
                }
                self.simulations.view_mut(&device_id).apply(&event);
                if twin_changed && self.open.is_open(&device_id) {
                    // Read the twin on the next frame to show the device's effect.
                    self.open.read_soon();
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
                    if progress.job == job {
                        *progress = JobProgress { job, done, total };
                    }
                }
            }
            Event::ModelsRead(read) => {
                let report = self.models.load(read);
                let summary = crate::explorer::text::sentence(&report.summary());
                if report.failed.is_empty() {
                    self.log.info(summary);
                } else {
                    self.log.warn(summary);
                    for failure in report.failed.clone() {
                        self.log.error(failure);
                    }
                }
            }
            Event::ConnectionsSaved { result } => match result {
                Ok(()) => self.log.info("Saved connections updated"),
                Err(error) => self.log.error(error),
            },
            Event::Telemetry { messages } => {
                self.telemetry.receive(messages, chrono::Utc::now());
            }
            Event::TelemetryMissed { count } => self.telemetry.add_missed(count),
            Event::Recording(news) => {
                self.telemetry.recording_news(&news);
                match news {
                    crate::worker::RecordingNews::Started { key, path } => self.log.info(format!(
                        "Recording the telemetry of {key} to {}",
                        path.display()
                    )),
                    crate::worker::RecordingNews::Failed { key, error, .. } => self
                        .log
                        .error(format!("Recording the telemetry of {key} failed: {error}")),
                    crate::worker::RecordingNews::Stopped {
                        key,
                        path,
                        lines,
                        error,
                    } => match error {
                        None => self.log.info(format!(
                            "Recording of {key} stopped: {lines} messages in {}",
                            path.display()
                        )),
                        Some(error) => self.log.error(format!(
                            "Recording of {key} stopped after {lines} messages: writing {} \
                             failed ({error})",
                            path.display()
                        )),
                    },
                }
            }
            Event::TelemetryStatus(status) => {
                if let crate::worker::TelemetryStatus::Unavailable(why) = &status
                    && !matches!(
                        self.telemetry.status(),
                        Some(crate::worker::TelemetryStatus::Unavailable(_))
                    )
                {
                    self.log.warn(why.clone());
                }
                self.telemetry.set_status(status);
            }
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

    /// Folds in the reply to a request of this connection.
    fn finished(&mut self, job: JobId, reply: Reply) {
        if let Some(dialog) = &mut self.bulk_dialog
            && dialog.is_waiting_for(job)
        {
            let news = dialog.answered(job, reply);
            self.bulk_news(news);
            return;
        }
        match reply {
            Reply::CloudMessageSent {
                device_id,
                message_id,
                result,
            } => {
                let refusal = result.err().map(|failure| failure.message);
                match &refusal {
                    Some(why) => self.log.error(format!(
                        "The message {message_id} to {device_id} was not sent: {why}"
                    )),
                    None => self
                        .log
                        .info(format!("Message {message_id} queued for {device_id}")),
                }
                self.sent_messages
                    .answered(&device_id, &message_id, refusal);
                if self.open.is_open(&device_id) {
                    self.open.read_soon();
                }
            }
            Reply::TelemetryWritten { path, result } => match result {
                Ok(count) => self.log.info(format!(
                    "{count} telemetry messages written to {}",
                    path.display()
                )),
                Err(failure) => self
                    .log
                    .error(format!("Exporting telemetry failed: {failure}")),
            },
            Reply::CloudMessagesPurged { device_id, result } => {
                match result {
                    Ok(purged) => self.log.info(format!(
                        "{purged} queued cloud-to-device messages of {device_id} deleted"
                    )),
                    Err(failure) => self.log.error(format!(
                        "Purging the queue of {device_id} failed: {failure}"
                    )),
                }
                if self.open.is_open(&device_id) {
                    self.open.read_soon();
                }
            }
            Reply::Modules { device_id, result } => {
                if let Err(failure) = &result {
                    self.log.error(format!(
                        "Listing the modules of {device_id} failed: {failure}"
                    ));
                }
                self.modules
                    .answered(job, result.map_err(|failure| failure.message));
            }
            // Answers for a bulk-job dialog closed meanwhile.
            Reply::Counted { .. }
            | Reply::Job { .. }
            | Reply::JobResults { .. }
            | Reply::JobResultsWritten(_) => {}
            Reply::QueryFailed(failure) => self.query_failed(job, &failure),
            Reply::Twin { device_id, result } => self.twin_answered(job, &device_id, result),
            Reply::DeviceCreated { device_id, result } => match result {
                Ok(_) => {
                    self.log.info(format!("Created device {device_id}"));
                    self.apply(Intent::SelectDevice(device_id));
                }
                Err(failure) => self
                    .log
                    .error(format!("Creating device {device_id} failed: {failure}")),
            },
            Reply::DeviceDeleted { device_id, result } => match result {
                Ok(()) => {
                    self.log.info(format!("Deleted device {device_id}"));
                    self.devices.remove(&device_id);
                    self.device_list.marked.remove(&device_id);
                    self.open.device_deleted(&device_id);
                }
                Err(failure) => self
                    .log
                    .error(format!("Deleting device {device_id} failed: {failure}")),
            },
            Reply::Method { device_id, result } => {
                let state = match result {
                    Ok(MethodAnswer { result, latency }) => {
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
                    Err(failure) => {
                        self.log
                            .error(format!("Method call to {device_id} failed: {failure}"));
                        MethodCallState::Failed(failure.message)
                    }
                };
                self.method_calls.finished(&device_id, job.0, state);
            }
            Reply::Exported(result) => {
                self.export_progress = None;
                match result {
                    Ok(exported) => {
                        self.log.info(format!(
                            "Exported {} twins to {}",
                            exported.count,
                            exported.path.display()
                        ));
                        self.export_dialog = None;
                    }
                    Err(failure) => self.log.error(format!("Export failed: {failure}")),
                }
            }
            Reply::Compared(result) => {
                self.snapshot_progress = None;
                match result {
                    Ok(Compared {
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
                    Err(failure) => self.log.error(format!("Snapshot: {failure}")),
                }
            }
            Reply::ImportPlanned(result) => {
                self.snapshot_progress = None;
                match result {
                    Ok(plan) => {
                        if let Some(dialog) = &mut self.snapshot_dialog {
                            dialog.planned(plan);
                        }
                    }
                    Err(failure) => self.log.error(format!("Snapshot: {failure}")),
                }
            }
            Reply::Imported(result) => {
                self.snapshot_progress = None;
                match result {
                    Ok(report) => {
                        let counts = report.counts();
                        self.log.info(format!(
                            "Imported a snapshot: {} updated, {} created, {} conflicts, {} failed",
                            counts.updated, counts.created, counts.conflicts, counts.failed
                        ));
                        if let Some(dialog) = &mut self.snapshot_dialog {
                            dialog.imported(report);
                        }
                        self.apply(Intent::RunQuery(self.settings.query.clone()));
                        self.open.read_soon();
                    }
                    Err(failure) => self.log.error(format!("Snapshot: {failure}")),
                }
            }
        }
    }

    /// Logs what the bulk-job dialog reports; a finished job changed twins, so the open
    /// twin and the list are read again.
    fn bulk_news(&mut self, news: BulkNews) {
        match news {
            BulkNews::Nothing => {}
            BulkNews::Scheduled(line) | BulkNews::Written(line) => self.log.info(line),
            BulkNews::Finished(line) => {
                self.log.info(line);
                self.open.read_soon();
                self.apply(Intent::RunQuery(self.settings.query.clone()));
            }
            BulkNews::Failed(line) => self.log.error(line),
        }
    }

    /// A list query or a column read stopped on an error.
    fn query_failed(&mut self, job: JobId, failure: &Failure) {
        if self.query.take_if(|query| query.job == job).is_some() {
            self.query_bar.error = Some(failure.message.clone());
            self.log.error(format!("The query failed: {failure}"));
        }
        if let Some(fetch) = self.column_fetch.take_if(|fetch| fetch.job == job) {
            self.log.error(format!(
                "Reading the column {} failed: {failure}",
                fetch.column.unwrap_or_default()
            ));
        }
    }

    /// A desired value set from the Plug and Play tab was taken or refused; the twin is
    /// read again to show it (and, soon, the device's acknowledgement).
    fn desired_written(&mut self, ended: WriteEnded) {
        let what = format!(
            "{} of {}",
            ended.key.describe(),
            twin_key::describe(&ended.device_id)
        );
        match ended.outcome {
            WriteOutcome::Failed(error) => self.log.error(format!(
                "Setting the desired value of {what} failed: {error}"
            )),
            WriteOutcome::Written(_) | WriteOutcome::Sending => {
                self.log.info(format!("Desired value of {what} set"));
            }
        }
        if self.open.is_open(&ended.device_id) {
            self.open.read_soon();
        }
    }

    /// A read or save of `device_id`'s twin ended.
    fn twin_answered(
        &mut self,
        job: JobId,
        device_id: &str,
        result: Result<Box<DeviceTwin>, Failure>,
    ) {
        // A request the hub answered, even with an error, proves it is reachable.
        self.hub_unreachable = match &result {
            Err(failure) if failure.status.is_none() => Some(failure.message.clone()),
            _ => None,
        };
        let written = result
            .as_ref()
            .map(|twin| {
                twin.properties
                    .as_ref()
                    .and_then(|properties| properties.desired.get("$version"))
                    .and_then(serde_json::Value::as_u64)
            })
            .map_err(|failure| failure.message.clone());
        if let Some(ended) = self.plug_and_play.write_answered(job, written) {
            self.desired_written(ended);
            return;
        }
        let answer = match result {
            Ok(twin) => TwinAnswer::Twin(twin),
            Err(failure) if failure.is_not_found() => TwinAnswer::NotFound,
            Err(failure) if failure.is_precondition_failed() => TwinAnswer::Changed,
            Err(failure) => TwinAnswer::Failed(failure.message),
        };
        match self.open.answer(job, device_id, answer) {
            AfterAnswer::Nothing => {}
            AfterAnswer::Read(twin) => self.devices.upsert(&twin),
            AfterAnswer::Saved { twin, .. } => {
                self.log.info(format!(
                    "Saved the twin of {} (version {})",
                    twin_key::describe(device_id),
                    twin.version.unwrap_or(0)
                ));
                self.devices.upsert(&twin);
            }
            AfterAnswer::ReadTheirs { device_id } => {
                self.log.warn(format!(
                    "The twin of {} changed since it was read; showing what changed",
                    twin_key::describe(&device_id)
                ));
                if let Some(read) = self.request(Request::GetTwin { device_id }) {
                    self.open.conflict_read_sent(read);
                }
            }
            AfterAnswer::Gone { device_id, message } => {
                self.log.warn(message);
                self.devices.remove(&device_id);
            }
            AfterAnswer::ReadFailed { message, repeated } => {
                if !repeated {
                    self.log.error(format!(
                        "Reading the twin of {} failed: {message}",
                        twin_key::describe(device_id)
                    ));
                }
            }
            AfterAnswer::SaveFailed { device_id, message } => self.log.error(format!(
                "Saving the twin of {} failed: {message}",
                twin_key::describe(&device_id)
            )),
        }
    }
}
