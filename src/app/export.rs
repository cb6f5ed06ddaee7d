//! The export dialog (Ctrl+E): which twins (the open twin, the marked devices, or the
//! whole query result), and where, through the native save dialog, with a sensible
//! default name and folder. Without a native dialog the path is typed here, prefilled,
//! and the dialog says why.

use egui::Ui;

use super::file_dialog::{FileAction, PickedFile, default_folder};
use super::intent::{FilePurpose, Intent};
use super::path_field::PathField;
use crate::snapshot::default_file_name;
use crate::worker::ExportSource;

/// Which twins the user chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    OpenTwin,
    Marked,
    Query,
}

/// The export dialog's state.
#[derive(Debug)]
pub struct ExportDialog {
    choice: Choice,
    file: PathField,
}

/// What the dialog can offer, from the app's state.
pub struct ExportContext<'a> {
    /// The open device, if any.
    pub open_device: Option<&'a str>,
    /// Devices marked in the list.
    pub marked: Vec<String>,
    /// The device list's query.
    pub query: &'a str,
    /// Devices the query listed.
    pub listed: usize,
    /// The hub's host name, for the default file name.
    pub host_name: &'a str,
    /// Twins written so far and expected, while an export runs.
    pub progress: Option<(usize, Option<usize>)>,
}

impl ExportDialog {
    /// A dialog preselecting the open twin when there is one.
    pub fn new(context: &ExportContext<'_>) -> ExportDialog {
        let choice = if !context.marked.is_empty() {
            Choice::Marked
        } else if context.open_device.is_some() {
            Choice::OpenTwin
        } else {
            Choice::Query
        };
        let mut dialog = ExportDialog {
            choice,
            file: PathField::new(String::new()),
        };
        dialog.file.path = default_folder()
            .join(dialog.default_name(context))
            .display()
            .to_string();
        dialog
    }

    fn default_name(&self, context: &ExportContext<'_>) -> String {
        let now = chrono::Utc::now();
        match (self.choice, context.open_device) {
            (Choice::OpenTwin, Some(device)) => default_file_name("twin", device, now),
            _ => default_file_name("twins", context.host_name, now),
        }
    }

    /// The native dialog answered.
    pub fn picked(&mut self, answer: PickedFile) {
        self.file.picked(answer);
    }

    /// Draws the dialog; returns `false` when it should close.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        context: &ExportContext<'_>,
        intents: &mut Vec<Intent>,
    ) -> bool {
        let mut open = true;
        let modal = egui::Modal::new(egui::Id::unique("export-dialog")).show(ui.ctx(), |ui| {
            ui.set_width(520.0);
            ui.heading("Export twins to a snapshot");
            let open_label = match context.open_device {
                Some(device) => format!("The open twin ({device})"),
                None => "The open twin (none open)".into(),
            };
            ui.add_enabled_ui(context.open_device.is_some(), |ui| {
                ui.radio_value(&mut self.choice, Choice::OpenTwin, open_label);
            });
            ui.add_enabled_ui(!context.marked.is_empty(), |ui| {
                ui.radio_value(
                    &mut self.choice,
                    Choice::Marked,
                    format!(
                        "Marked devices ({}; Ctrl+click in the list)",
                        context.marked.len()
                    ),
                );
            });
            ui.radio_value(
                &mut self.choice,
                Choice::Query,
                format!(
                    "The whole query result ({} listed): {}",
                    context.listed, context.query
                ),
            );
            let default_name = self.default_name(context);
            let (request, _) = self
                .file
                .ui(ui, "File", FileAction::Save, "Export twins", || {
                    default_name
                });
            if let Some(request) = request {
                intents.push(Intent::PickFile(FilePurpose::Export, request));
            }
            ui.weak("A .ndjson name writes one twin per line (best for large exports).");
            if let Some((written, total)) = context.progress {
                let fraction = total.filter(|t| *t > 0).map(|t| written as f32 / t as f32);
                ui.add(
                    egui::ProgressBar::new(fraction.unwrap_or(0.0))
                        .text(format!("{written} twins written"))
                        .animate(fraction.is_none()),
                );
            }
            ui.horizontal(|ui| {
                let running = context.progress.is_some();
                if ui
                    .add_enabled(
                        !running && !self.file.path.trim().is_empty(),
                        egui::Button::new("Export"),
                    )
                    .clicked()
                {
                    let source = match (self.choice, context.open_device) {
                        (Choice::OpenTwin, Some(device)) => {
                            ExportSource::Devices(vec![device.to_owned()])
                        }
                        (Choice::Marked, _) => ExportSource::Devices(context.marked.clone()),
                        _ => ExportSource::Query(context.query.to_owned()),
                    };
                    intents.push(Intent::Export {
                        source,
                        path: self.file.path_buf(),
                    });
                }
                if ui
                    .button(if running { "Close" } else { "Cancel" })
                    .clicked()
                {
                    open = false;
                }
            });
        });
        open && !modal.should_close()
    }
}
