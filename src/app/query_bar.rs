//! The query bar: the IoT Hub query language with history, checked before it is sent
//! (a bad query shows where it is wrong), with page-loading progress and Cancel. The
//! query chooses the devices; the list asks the hub only for the columns it shows. The
//! same devices can be updated, or have a method called, in bulk as a hub job.

use egui::{Key, Ui};

use super::intent::Intent;
use super::settings::Settings;
use crate::explorer::bulk_job::BulkKind;
use crate::explorer::list_query;

/// The query bar's own state.
#[derive(Debug, Default)]
pub struct QueryBar {
    /// The text being edited.
    pub text: String,
    /// Why the last query was refused, shown under the bar.
    pub error: Option<String>,
    /// Set by Ctrl+F: focus the field on the next frame.
    pub focus_requested: bool,
}

/// How a running query stands, for the progress display.
#[derive(Debug, Clone, Copy)]
pub struct QueryProgress {
    /// Rows loaded so far.
    pub loaded: usize,
    /// Rows expected, when known.
    pub total: Option<usize>,
}

impl QueryBar {
    /// Draws the bar; returns what the user asked.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        settings: &Settings,
        progress: Option<QueryProgress>,
        checked_locally: bool,
    ) -> Option<Intent> {
        let mut intent = None;
        ui.horizontal(|ui| {
            let label = ui.label("Query");
            let history = egui::ComboBox::from_id_salt("query-history")
                .selected_text("History")
                .width(70.0)
                .show_ui(ui, |ui| {
                    for past in &settings.query_history {
                        if ui.selectable_label(false, past).clicked() {
                            self.text.clone_from(past);
                            self.error = None;
                        }
                    }
                });
            history
                .response
                .on_hover_text("Queries run before (newest first)");
            let run_width = if progress.is_some() { 220.0 } else { 300.0 };
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.text)
                        .code_editor()
                        .hint_text("SELECT * FROM devices WHERE tags.location = 'Oslo'")
                        .desired_width(ui.available_width() - run_width),
                )
                .labelled_by(label.id)
                .on_hover_text("IoT Hub query language; Enter runs it (Ctrl+F focuses here)");
            if self.focus_requested {
                field.request_focus();
                self.focus_requested = false;
            }
            if field.changed() {
                self.error = None;
            }
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            match progress {
                Some(progress) => {
                    let fraction = progress
                        .total
                        .filter(|total| *total > 0)
                        .map(|total| progress.loaded as f32 / total as f32);
                    let text = match progress.total {
                        Some(total) => format!("{} / {total}", progress.loaded),
                        None => format!("{} loaded", progress.loaded),
                    };
                    ui.add(
                        egui::ProgressBar::new(fraction.unwrap_or(0.0))
                            .desired_width(110.0)
                            .text(text)
                            .animate(fraction.is_none()),
                    );
                    if ui
                        .button("Cancel")
                        .on_hover_text("Stop loading pages; rows loaded so far stay listed")
                        .clicked()
                    {
                        intent = Some(Intent::CancelQuery);
                    }
                }
                None => {
                    if ui
                        .button("Run")
                        .on_hover_text("Run the query (Enter)")
                        .clicked()
                        || entered
                    {
                        intent = self.checked(checked_locally);
                    }
                    if ui
                        .button("Update twins…")
                        .on_hover_text(
                            "Patch tags and desired properties of every device of this query \
                             (or the marked ones) as a hub job",
                        )
                        .clicked()
                    {
                        intent = Some(Intent::OpenBulk(BulkKind::UpdateTwins));
                    }
                    if ui
                        .button("Call method…")
                        .on_hover_text(
                            "Call a direct method on every device of this query (or the marked \
                             ones) as a hub job",
                        )
                        .clicked()
                    {
                        intent = Some(Intent::OpenBulk(BulkKind::CallMethod));
                    }
                }
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(
                ui.visuals().error_fg_color,
                egui::RichText::new(error).monospace(),
            );
        }
        intent
    }

    /// The query as an intent when it can fill the device list (it selects devices or
    /// twin paths of them); otherwise the error. A query this parser does not know is
    /// still sent to a remote hub (Azure's language may be newer); the hub's own error
    /// is shown if it refuses it too.
    fn checked(&mut self, checked_locally: bool) -> Option<Intent> {
        let text = self.text.trim().to_owned();
        match list_query::plan(&text, &[], checked_locally) {
            Ok(_) => {
                self.error = None;
                Some(Intent::RunQuery(text))
            }
            Err(error) => {
                self.error = Some(error.to_string());
                None
            }
        }
    }
}
