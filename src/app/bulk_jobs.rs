//! The bulk-job dialog: "Update twins…" (a tags and desired patch) or "Call method on
//! all…" over the device list's query or the marked devices, with a preview of how
//! many devices match; then the job's progress (succeeded, failed, pending), Cancel, and
//! once it ends the per-device results in a table that can be written to a CSV or JSON
//! file. The dialog says what it needs of the hub ([`BulkDialog::next_request`]); the
//! app sends it and hands back the reply.

use std::time::{Duration, Instant};

use egui::Ui;

use super::file_dialog::{FileAction, PickedFile};
use super::intent::{FilePurpose, Intent};
use super::path_field::PathField;
use crate::explorer::JobId;
use crate::explorer::bulk_job::{BulkForm, BulkJob, BulkKind, BulkTarget, result_cells};
use crate::service::new_job_id;
use crate::worker::{Reply, Request};

/// How often a running job's progress is read.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Results rows the table shows (the file has them all).
const SHOWN_RESULTS: usize = 500;

/// What the app knows that the dialog shows.
pub struct BulkContext<'a> {
    /// The device list's query.
    pub query: &'a str,
    /// The marked devices.
    pub marked: &'a [String],
}

/// Which of the dialog's requests an answer belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkSlot {
    /// Counting the devices of this count query.
    Count(String),
    /// Scheduling the job.
    Schedule,
    /// Reading its progress.
    Poll,
    /// Cancelling it.
    Cancel,
    /// Reading its per-device results.
    Results,
    /// Writing the results file.
    Write,
}

/// What the dialog tells the app after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkNews {
    /// Nothing worth a log line.
    Nothing,
    /// The job was scheduled.
    Scheduled(String),
    /// The job ended; the line says how.
    Finished(String),
    /// Something failed; the line says what.
    Failed(String),
    /// The results file was written.
    Written(String),
}

/// The dialog's state.
#[derive(Debug)]
pub struct BulkDialog {
    form: BulkForm,
    marked_chosen: bool,
    /// The count query last asked, and its answer once it came.
    counted: Option<(String, Option<Option<u64>>)>,
    in_flight: Vec<(JobId, BulkSlot)>,
    /// Run, Cancel or Write was clicked, not yet sent.
    wanted: Option<BulkSlot>,
    error: Option<String>,
    job: Option<BulkJob>,
    last_poll: Option<Instant>,
    results_file: PathField,
    written: Option<String>,
}

impl BulkDialog {
    /// A dialog for `kind`; the marked devices are the target when there are some.
    pub fn new(kind: BulkKind, marked: &[String]) -> Self {
        Self {
            form: BulkForm::new(kind),
            marked_chosen: !marked.is_empty(),
            counted: None,
            in_flight: Vec::new(),
            wanted: None,
            error: None,
            job: None,
            last_poll: None,
            results_file: PathField::new(String::new()),
            written: None,
        }
    }

    fn target(&self, context: &BulkContext<'_>) -> BulkTarget {
        if self.marked_chosen {
            BulkTarget::Devices(context.marked.to_vec())
        } else {
            BulkTarget::Query(context.query.to_owned())
        }
    }

    fn is_in_flight(&self, slot: &BulkSlot) -> bool {
        self.in_flight.iter().any(|(_, waiting)| waiting == slot)
    }

    /// The next request the dialog needs sent, if any (one per call).
    pub fn next_request(
        &mut self,
        context: &BulkContext<'_>,
        now: Instant,
    ) -> Option<(BulkSlot, Request)> {
        if let Some(wanted) = self.wanted.take() {
            return self.wanted_request(wanted, context);
        }
        match &self.job {
            None => {
                let query = self.target(context).count_query().ok()?;
                let asked = self.counted.as_ref().map(|(asked, _)| asked);
                (asked != Some(&query)).then(|| {
                    self.counted = Some((query.clone(), None));
                    (
                        BulkSlot::Count(query.clone()),
                        Request::CountMatching { query },
                    )
                })
            }
            Some(job) if !job.is_finished() => {
                let due = self
                    .last_poll
                    .is_none_or(|last| now.saturating_duration_since(last) >= POLL_INTERVAL);
                if !due || self.is_in_flight(&BulkSlot::Poll) {
                    return None;
                }
                self.last_poll = Some(now);
                let job_id = job.job_id.clone();
                Some((BulkSlot::Poll, Request::GetJob { job_id }))
            }
            Some(job) => {
                if job.results.is_some() || self.is_in_flight(&BulkSlot::Results) {
                    return None;
                }
                if job.error.is_some() {
                    return None;
                }
                let job_id = job.job_id.clone();
                Some((BulkSlot::Results, Request::JobResults { job_id }))
            }
        }
    }

    fn wanted_request(
        &mut self,
        wanted: BulkSlot,
        context: &BulkContext<'_>,
    ) -> Option<(BulkSlot, Request)> {
        match wanted {
            BulkSlot::Schedule => {
                let checked = self.form.work().and_then(|work| {
                    let condition = self.target(context).condition()?;
                    Ok((condition, work))
                });
                match checked {
                    Ok((condition, work)) => Some((
                        BulkSlot::Schedule,
                        Request::ScheduleJob {
                            job_id: new_job_id(),
                            condition,
                            work,
                        },
                    )),
                    Err(error) => {
                        self.error = Some(error);
                        None
                    }
                }
            }
            BulkSlot::Cancel => {
                let job_id = self.job.as_ref()?.job_id.clone();
                Some((BulkSlot::Cancel, Request::CancelJob { job_id }))
            }
            BulkSlot::Write => {
                let results = self.job.as_ref()?.results.clone()?;
                let path = self.results_file.path_buf();
                Some((BulkSlot::Write, Request::WriteJobResults { path, results }))
            }
            BulkSlot::Count(_) | BulkSlot::Poll | BulkSlot::Results => None,
        }
    }

    /// The request for `slot` was sent as `job` (or could not be sent: `None`).
    pub fn sent(&mut self, slot: BulkSlot, job: Option<JobId>) {
        match job {
            Some(job) => self.in_flight.push((job, slot)),
            None => {
                if matches!(slot, BulkSlot::Count(_)) {
                    self.counted = None;
                }
            }
        }
    }

    /// Whether `job` is one of the dialog's requests.
    pub fn is_waiting_for(&self, job: JobId) -> bool {
        self.in_flight.iter().any(|(waiting, _)| *waiting == job)
    }

    /// Folds in the reply to one of the dialog's requests.
    pub fn answered(&mut self, job: JobId, reply: Reply) -> BulkNews {
        let Some(position) = self
            .in_flight
            .iter()
            .position(|(waiting, _)| *waiting == job)
        else {
            return BulkNews::Nothing;
        };
        let (_, slot) = self.in_flight.remove(position);
        match (slot, reply) {
            (BulkSlot::Count(query), Reply::Counted { count, .. }) => {
                if let Some((asked, answer)) = &mut self.counted
                    && *asked == query
                {
                    *answer = Some(count);
                }
                BulkNews::Nothing
            }
            (BulkSlot::Schedule, Reply::Job { result, .. }) => match result {
                Ok(job) => {
                    self.error = None;
                    let line = format!(
                        "Scheduled job {} ({}) over {}",
                        job.job_id,
                        self.form.kind.title().to_lowercase(),
                        job.query_condition.as_deref().unwrap_or("*")
                    );
                    self.job = Some(BulkJob::accepted(self.form.kind, *job));
                    BulkNews::Scheduled(line)
                }
                Err(failure) => {
                    self.error = Some(failure.message.clone());
                    BulkNews::Failed(format!("Scheduling the job failed: {failure}"))
                }
            },
            (BulkSlot::Poll | BulkSlot::Cancel, Reply::Job { result, .. }) => {
                let Some(bulk) = &mut self.job else {
                    return BulkNews::Nothing;
                };
                match result {
                    Ok(job) => {
                        let was_finished = bulk.is_finished();
                        bulk.job = Some(*job);
                        bulk.error = None;
                        if !was_finished && bulk.is_finished() {
                            return BulkNews::Finished(format!(
                                "Job {} {}",
                                bulk.job_id,
                                bulk.status_line()
                            ));
                        }
                        BulkNews::Nothing
                    }
                    Err(failure) => {
                        bulk.error = Some(failure.message.clone());
                        BulkNews::Failed(format!("Job {}: {failure}", bulk.job_id))
                    }
                }
            }
            (BulkSlot::Results, Reply::JobResults { result, .. }) => {
                let Some(bulk) = &mut self.job else {
                    return BulkNews::Nothing;
                };
                match result {
                    Ok(results) => {
                        bulk.results = Some(results);
                        BulkNews::Nothing
                    }
                    Err(failure) => {
                        bulk.error = Some(failure.message.clone());
                        BulkNews::Failed(format!(
                            "Reading the results of job {} failed: {failure}",
                            bulk.job_id
                        ))
                    }
                }
            }
            (BulkSlot::Write, Reply::JobResultsWritten(result)) => match result {
                Ok(path) => {
                    let line = format!("Wrote the job's results to {}", path.display());
                    self.written = Some(line.clone());
                    BulkNews::Written(line)
                }
                Err(failure) => {
                    self.written = Some(failure.message.clone());
                    BulkNews::Failed(format!("Writing the results failed: {failure}"))
                }
            },
            _ => BulkNews::Nothing,
        }
    }

    /// The native dialog answered for the results file.
    pub fn picked(&mut self, answer: PickedFile) {
        self.results_file.picked(answer);
    }

    /// Draws the dialog; returns `false` when it should close.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        context: &BulkContext<'_>,
        intents: &mut Vec<Intent>,
    ) -> bool {
        let mut open = true;
        let title = self.form.kind.title();
        let modal = egui::Modal::new(egui::Id::unique("bulk-job-dialog")).show(ui.ctx(), |ui| {
            ui.set_width(620.0);
            ui.heading(format!("{title}…"));
            match &self.job {
                None => self.form_ui(ui, context),
                Some(_) => self.progress_ui(ui, intents),
            }
            ui.separator();
            ui.horizontal(|ui| {
                let running = self.job.as_ref().is_some_and(|job| !job.is_finished());
                if self.job.is_none() {
                    let scheduling = self.is_in_flight(&BulkSlot::Schedule);
                    if ui
                        .add_enabled(!scheduling, egui::Button::new("Run as job"))
                        .on_hover_text(
                            "Schedule it on the hub as a job: the hub works through the devices \
                             in the background",
                        )
                        .clicked()
                    {
                        self.error = None;
                        self.wanted = Some(BulkSlot::Schedule);
                    }
                    if scheduling {
                        ui.spinner();
                    }
                }
                if running
                    && ui
                        .add_enabled(
                            !self.is_in_flight(&BulkSlot::Cancel),
                            egui::Button::new("Cancel job"),
                        )
                        .on_hover_text("Stop the job: devices it has not reached are left alone")
                        .clicked()
                {
                    self.wanted = Some(BulkSlot::Cancel);
                }
                let close = if running {
                    "Close (the job keeps running)"
                } else {
                    "Close"
                };
                if ui.button(close).clicked() {
                    open = false;
                }
            });
        });
        open && !modal.should_close()
    }

    fn form_ui(&mut self, ui: &mut Ui, context: &BulkContext<'_>) {
        ui.label("Devices");
        ui.radio_value(
            &mut self.marked_chosen,
            false,
            format!("Every device of the query: {}", context.query),
        );
        ui.add_enabled_ui(!context.marked.is_empty(), |ui| {
            ui.radio_value(
                &mut self.marked_chosen,
                true,
                format!(
                    "The marked devices ({}; Ctrl+click in the list)",
                    context.marked.len()
                ),
            );
        });
        match self.target(context).condition() {
            Ok(condition) => {
                let count = match &self.counted {
                    Some((_, Some(Some(count)))) => format!("{count} device(s) match"),
                    Some((_, Some(None))) => "the hub could not count the devices".into(),
                    _ => "counting the devices…".into(),
                };
                ui.weak(format!("Condition: {condition} — {count}"));
            }
            Err(error) => {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
        }
        ui.add_space(6.0);
        match self.form.kind {
            BulkKind::UpdateTwins => {
                let label = ui.label("Patch (tags and desired properties; null removes a key)");
                ui.add(
                    egui::TextEdit::multiline(&mut self.form.patch)
                        .code_editor()
                        .desired_rows(8)
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id);
            }
            BulkKind::CallMethod => {
                ui.horizontal(|ui| {
                    let label = ui.label("Method");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.form.method)
                            .hint_text("reboot")
                            .desired_width(200.0),
                    )
                    .labelled_by(label.id);
                    let label = ui.label("Response timeout (s)");
                    ui.add(
                        egui::DragValue::new(&mut self.form.response_timeout_secs)
                            .range(crate::explorer::bulk_job::RESPONSE_TIMEOUT_SECS),
                    )
                    .labelled_by(label.id)
                    .on_hover_text("How long each device has to answer (5 to 300 s)");
                });
                let label = ui.label("Payload (JSON)");
                ui.add(
                    egui::TextEdit::multiline(&mut self.form.payload)
                        .code_editor()
                        .desired_rows(4)
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id);
            }
        }
        let problem = self.form.work().err();
        if let Some(problem) = problem.as_ref().or(self.error.as_ref()) {
            ui.colored_label(ui.visuals().error_fg_color, problem);
        }
    }

    fn progress_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        let Some(job) = &self.job else {
            return;
        };
        ui.label(format!("Job {}", job.job_id));
        let (fraction, text) = match job.progress() {
            Some((done, total)) if total > 0 => (
                done as f32 / total as f32,
                format!("{done} of {total} devices done"),
            ),
            Some(_) if job.is_finished() => (1.0, "no device matched".to_owned()),
            _ => (0.0, "choosing devices…".to_owned()),
        };
        ui.add(
            egui::ProgressBar::new(fraction)
                .text(text)
                .animate(!job.is_finished()),
        );
        ui.label(job.status_line());
        if let Some(error) = &job.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let Some(results) = &job.results else {
            if job.is_finished() && job.error.is_none() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.weak("reading the per-device results…");
                });
            }
            return;
        };
        ui.add_space(4.0);
        ui.label(format!("Results ({} devices)", results.len()));
        egui::ScrollArea::vertical()
            .max_height(220.0)
            .id_salt("bulk-results")
            .show(ui, |ui| {
                egui::Grid::new("bulk-results-grid")
                    .striped(true)
                    .num_columns(3)
                    .show(ui, |ui| {
                        ui.strong("Device");
                        ui.strong("Status");
                        ui.strong("Answer or error");
                        ui.end_row();
                        for result in results.iter().take(SHOWN_RESULTS) {
                            for cell in result_cells(result) {
                                ui.label(cell);
                            }
                            ui.end_row();
                        }
                    });
                if results.len() > SHOWN_RESULTS {
                    ui.weak(format!(
                        "…and {} more; write the file to see them all",
                        results.len() - SHOWN_RESULTS
                    ));
                }
            });
        let job_id = job.job_id.clone();
        let (request, _) = self.results_file.ui(
            ui,
            "Results file",
            FileAction::Save,
            "Write the job's results",
            || format!("{job_id}-results.csv"),
        );
        if let Some(request) = request {
            intents.push(Intent::PickFile(FilePurpose::JobResults, request));
        }
        ui.horizontal(|ui| {
            let ready =
                !self.results_file.path.trim().is_empty() && !self.is_in_flight(&BulkSlot::Write);
            if ui
                .add_enabled(ready, egui::Button::new("Write results"))
                .on_hover_text("CSV, or JSON for a .json name")
                .clicked()
            {
                self.wanted = Some(BulkSlot::Write);
            }
            if let Some(written) = &self.written {
                ui.weak(written);
            }
        });
    }
}
