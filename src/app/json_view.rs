//! Shared JSON widgets: highlighted read-only JSON and the highlighting layouter the
//! editor uses. Highlighting is memoized by egui_extras per text, so a 32 KB twin costs
//! a hash per frame, not a re-tokenisation.

use std::sync::Arc;

use egui::text::LayoutJob;
use egui::{Galley, TextBuffer, Ui};
use egui_extras::syntax_highlighting::{CodeTheme, highlight};

/// The highlighted layout of JSON `text`, wrapped at `wrap_width`.
pub fn json_layout(ui: &Ui, text: &str, wrap_width: f32) -> Arc<Galley> {
    let theme = CodeTheme::from_style(ui.style());
    let mut job: LayoutJob = highlight(ui.ctx(), ui.style(), &theme, text, "json");
    job.wrap.max_width = wrap_width;
    ui.fonts_mut(|fonts| fonts.layout_job(job))
}

/// Read-only, selectable, highlighted JSON labelled for screen readers and tests.
pub fn json_block(ui: &mut Ui, label: &str, text: &str) {
    let mut layouter = |ui: &Ui, buffer: &dyn TextBuffer, wrap_width: f32| {
        json_layout(ui, buffer.as_str(), wrap_width)
    };
    let mut shown = text;
    let response = ui.add(
        egui::TextEdit::multiline(&mut shown)
            .code_editor()
            .desired_width(f32::INFINITY)
            .desired_rows(1)
            .layouter(&mut layouter),
    );
    let label = label.to_owned();
    response
        .widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, label.clone()));
}

/// An editable monospace field of `rows` lines, labelled for screen readers and tests.
pub fn code_field(ui: &mut Ui, text: &mut String, rows: usize, label: &str) -> egui::Response {
    let response = ui.add(
        egui::TextEdit::multiline(text)
            .code_editor()
            .desired_rows(rows)
            .desired_width(f32::INFINITY),
    );
    let label = label.to_owned();
    response
        .widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, label.clone()));
    response
}
