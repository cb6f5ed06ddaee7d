//! The event log panel (bottom): what the explorer did and what went wrong, newest at
//! the bottom, virtual-scrolled.

use egui::{RichText, Ui};

use crate::explorer::{EventLog, LogLevel};

/// Height of one log line.
const LINE_HEIGHT: f32 = 16.0;

/// Draws the log.
pub fn event_log_ui(ui: &mut Ui, log: &mut EventLog) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Event log").strong());
        if ui
            .small_button("Clear")
            .on_hover_text("Empty the log")
            .clicked()
        {
            log.clear();
        }
    });
    let entries = log.entries();
    egui::ScrollArea::vertical()
        .id_salt("event-log")
        .stick_to_bottom(true)
        .auto_shrink(false)
        .show_rows(ui, LINE_HEIGHT, entries.len(), |ui, range| {
            for entry in entries.range(range) {
                let text = RichText::new(format!("{} {}", entry.time, entry.text)).monospace();
                match entry.level {
                    LogLevel::Info => ui.label(text),
                    LogLevel::Warning => ui.colored_label(ui.visuals().warn_fg_color, text),
                    LogLevel::Error => ui.colored_label(ui.visuals().error_fg_color, text),
                };
            }
        });
}
