//! The Telemetry tab: the open device's telemetry as it arrives, a chart of the numeric
//! fields the user picks (several on one chart, over the last minute, ten minutes or
//! everything kept), the message list with a filter and pause, the body of the selected
//! message, and recording to or exporting as NDJSON.

use chrono::Utc;
use egui::{Color32, RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::file_dialog::FileAction;
use super::intent::{FilePurpose, Intent};
use super::path_field::PathField;
use crate::explorer::live_telemetry::LiveTelemetry;
use crate::explorer::telemetry_history::{
    MessageFilter, PlotSelection, PlotWindow, SeriesCache, TelemetryHistory,
};
use crate::worker::TelemetryStatus;

/// Height of one message row in the list.
const ROW_HEIGHT: f32 = 18.0;
/// Longest body shown on a row.
const ROW_BODY_CHARS: usize = 160;

/// The tab's own state.
pub struct TelemetryPanel {
    filter_text: String,
    filter: MessageFilter,
    window: PlotWindow,
    /// Picked fields, per device or module key.
    selections: std::collections::HashMap<String, PlotSelection>,
    /// The charted fields' points, by device key and path.
    series: std::collections::HashMap<(String, String), SeriesCache>,
    /// The message whose body is shown, by sequence.
    selected: Option<u64>,
    file: PathField,
}

impl Default for TelemetryPanel {
    fn default() -> Self {
        Self {
            filter_text: String::new(),
            filter: MessageFilter::default(),
            window: PlotWindow::default(),
            selections: std::collections::HashMap::new(),
            series: std::collections::HashMap::new(),
            selected: None,
            file: PathField::new(String::new()),
        }
    }
}

impl TelemetryPanel {
    /// The file dialog answered for the record/export path.
    pub fn picked(&mut self, answer: super::file_dialog::PickedFile) {
        self.file.picked(answer);
    }

    /// Draws the tab for the device or module `key`.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        key: &str,
        live: &mut LiveTelemetry,
        intents: &mut Vec<Intent>,
    ) {
        status_ui(ui, live);
        let recording = live.recording(key).map(|path| path.display().to_string());
        let capacity = live.capacity();
        let history = live.history_mut(key);
        self.controls_ui(ui, history, capacity);
        let selection = self.selections.entry(key.to_owned()).or_default();
        selection.pick_default(history);
        fields_ui(ui, history, selection);
        // Points of fields no longer charted are forgotten.
        self.series
            .retain(|(of, path), _| of != key || selection.contains(path));
        let series: Vec<(String, Vec<[f64; 2]>)> = selection
            .iter()
            .map(|path| {
                let cache = self
                    .series
                    .entry((key.to_owned(), path.to_owned()))
                    .or_insert_with(|| SeriesCache::new(path));
                cache.update(history);
                (path.to_owned(), cache.series(self.window, Utc::now()))
            })
            .collect();
        plot_ui(ui, &series);
        self.file_ui(ui, key, recording, intents);
        ui.separator();
        self.list_ui(ui, history);
        let mut new_capacity = capacity;
        ui.horizontal(|ui| {
            ui.label("Keep per device:");
            ui.add(
                egui::DragValue::new(&mut new_capacity)
                    .range(100..=1_000_000)
                    .speed(100)
                    .suffix(" messages"),
            )
            .on_hover_text("Messages kept in memory for each device; the oldest go first");
        });
        if new_capacity != capacity {
            live.set_capacity(new_capacity);
        }
    }

    fn controls_ui(&mut self, ui: &mut Ui, history: &mut TelemetryHistory, capacity: usize) {
        ui.horizontal(|ui| {
            let pause = if history.is_paused() {
                format!("Resume ({} waiting)", history.held_count())
            } else {
                "Pause".to_owned()
            };
            if ui
                .button(pause)
                .on_hover_text("Freeze the list and chart while reading; new messages wait")
                .clicked()
            {
                if history.is_paused() {
                    history.resume();
                } else {
                    history.pause();
                }
            }
            if ui
                .button("Clear")
                .on_hover_text("Forget the messages shown")
                .clicked()
            {
                history.clear();
                self.selected = None;
            }
            let label = ui.label("Filter:");
            let edited = ui
                .add(
                    egui::TextEdit::singleline(&mut self.filter_text)
                        .hint_text("text in body or properties")
                        .desired_width(180.0),
                )
                .labelled_by(label.id)
                .changed();
            if edited {
                self.filter = MessageFilter::new(&self.filter_text);
            }
            ui.label("Chart:");
            for window in PlotWindow::ALL {
                ui.selectable_value(&mut self.window, window, window.label());
            }
        });
        let dropped = match history.dropped() {
            0 => String::new(),
            dropped => format!(", {dropped} older ones dropped"),
        };
        ui.weak(format!(
            "{} messages kept (at most {capacity}){dropped}",
            history.len()
        ));
    }

    fn file_ui(
        &mut self,
        ui: &mut Ui,
        key: &str,
        recording: Option<String>,
        intents: &mut Vec<Intent>,
    ) {
        let default_name = || {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            format!("telemetry-{}-{stamp}.ndjson", key.replace('/', "-"))
        };
        let (request, _) = self.file.ui(
            ui,
            "NDJSON file",
            FileAction::Save,
            "Telemetry file",
            default_name,
        );
        if let Some(request) = request {
            intents.push(Intent::PickFile(FilePurpose::Telemetry, request));
        }
        let has_path = !self.file.path.trim().is_empty();
        ui.horizontal(|ui| {
            match &recording {
                Some(path) => {
                    if ui
                        .button("Stop recording")
                        .on_hover_text(format!("Stop writing new messages to {path}"))
                        .clicked()
                    {
                        intents.push(Intent::StopRecording(key.to_owned()));
                    }
                }
                None => {
                    if ui
                        .add_enabled(has_path, egui::Button::new("Record to file"))
                        .on_hover_text("Write every new message of this device to the file, one JSON object per line, even while paused or on another device")
                        .on_disabled_hover_text("Give a file name first")
                        .clicked()
                    {
                        intents.push(Intent::StartRecording {
                            key: key.to_owned(),
                            path: self.file.path_buf(),
                        });
                    }
                }
            }
            if ui
                .add_enabled(has_path, egui::Button::new("Export shown"))
                .on_hover_text("Write the messages kept (after the filter) to the file")
                .on_disabled_hover_text("Give a file name first")
                .clicked()
            {
                intents.push(Intent::ExportTelemetry {
                    key: key.to_owned(),
                    path: self.file.path_buf(),
                    filter: self.filter_text.clone(),
                });
            }
        });
        if let Some(path) = &recording {
            ui.weak(format!("Recording every new message to {path}"));
        }
    }

    fn list_ui(&mut self, ui: &mut Ui, history: &TelemetryHistory) {
        let shown: Vec<_> = history.filtered(&self.filter).collect();
        if shown.is_empty() {
            ui.weak(if history.is_empty() {
                "No telemetry from this device yet."
            } else {
                "No message matches the filter."
            });
            return;
        }
        let body_height = if self.selected.is_some() {
            ui.available_height() * 0.35
        } else {
            0.0
        };
        egui::ScrollArea::vertical()
            .id_salt("telemetry messages")
            .max_height((ui.available_height() - body_height - 30.0).max(80.0))
            .auto_shrink([false, true])
            .show_rows(ui, ROW_HEIGHT, shown.len(), |ui, rows| {
                // One line a row (the rows' height is fixed); the body shows in full below.
                ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                // Newest first.
                for index in rows {
                    let message = shown[shown.len() - 1 - index];
                    let time = message
                        .received_at()
                        .with_timezone(&chrono::Local)
                        .format("%H:%M:%S%.3f");
                    let body: String = message.body_text().chars().take(ROW_BODY_CHARS).collect();
                    let properties = message
                        .properties()
                        .iter()
                        .map(|(name, value)| format!("{name}={value}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let text = format!("{time}  {body}  {properties}");
                    let selected = self.selected == Some(message.sequence());
                    let row =
                        ui.selectable_label(selected, RichText::new(text).monospace().size(12.0));
                    if row.clicked() {
                        self.selected = (!selected).then_some(message.sequence());
                    }
                }
            });
        let Some(sequence) = self.selected else {
            return;
        };
        let Some(message) = shown.iter().find(|m| m.sequence() == sequence) else {
            return;
        };
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("telemetry body")
            .show(ui, |ui| {
                for (name, value) in message.properties() {
                    ui.monospace(format!("{name} = {value}"));
                }
                ui.add(
                    egui::Label::new(RichText::new(message.pretty_body()).monospace())
                        .selectable(true),
                );
            });
    }
}

fn status_ui(ui: &mut Ui, live: &LiveTelemetry) {
    match live.status() {
        None => {
            ui.weak("Connecting to the hub's telemetry…");
        }
        Some(TelemetryStatus::Live) => {
            let missed = match live.missed() {
                0 => String::new(),
                missed => format!(" ({missed} messages missed while the window was busy)"),
            };
            ui.label(
                RichText::new(format!("• Live{missed}")).color(Color32::from_rgb(40, 170, 70)),
            );
        }
        Some(TelemetryStatus::Interrupted(why)) => {
            ui.colored_label(ui.visuals().warn_fg_color, why);
        }
        Some(TelemetryStatus::Unavailable(why)) => {
            ui.colored_label(ui.visuals().warn_fg_color, why);
        }
    }
}

/// The numeric fields seen, as toggles.
fn fields_ui(ui: &mut Ui, history: &TelemetryHistory, selection: &mut PlotSelection) {
    if history.numeric_paths().is_empty() {
        ui.weak("Numeric fields of JSON messages can be charted once some arrive.");
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label("Chart fields:");
        let paths: Vec<String> = history.numeric_paths().iter().cloned().collect();
        for path in paths {
            let mut on = selection.contains(&path);
            if ui
                .checkbox(&mut on, &path)
                .on_hover_text("Show this field on the chart")
                .changed()
            {
                selection.toggle(&path);
            }
        }
    });
}

/// The chart of the picked fields' points (`[seconds before now, value]`).
fn plot_ui(ui: &mut Ui, series: &[(String, Vec<[f64; 2]>)]) {
    if series.is_empty() {
        return;
    }
    Plot::new("telemetry chart")
        .height(180.0)
        .legend(Legend::default())
        .x_axis_label("seconds ago")
        .show(ui, |plot| {
            for (path, points) in series {
                plot.line(Line::new(path.clone(), PlotPoints::from(points.clone())));
            }
        });
    ui.horizontal_wrapped(|ui| {
        for (path, points) in series {
            let latest = points.last().map_or("no value".to_owned(), |[_, value]| {
                format!("latest {value}")
            });
            ui.weak(format!("{path}: {} points, {latest}", points.len()));
        }
    });
}
