//! Shared JSON widgets: highlighted read-only JSON and the highlighting layouter the
//! editor uses. Each place that lays out JSON keeps its last layout: a frame whose text,
//! width and style are unchanged reuses it after one comparison of the text, instead of
//! hashing a 32 KB twin's highlighted layout job to find it in egui's caches.

use std::sync::Arc;

use egui::text::LayoutJob;
use egui::{Galley, Id, TextBuffer, Ui};
use egui_extras::syntax_highlighting::{CodeTheme, highlight};

/// The last layout made for one place, and what it was made from.
#[derive(Clone)]
struct LastLayout {
    text: Arc<str>,
    wrap_width: f32,
    pixels_per_point: f32,
    dark_mode: bool,
    galley: Arc<Galley>,
}

/// The highlighted layout of JSON `text`, wrapped at `wrap_width`; `place` names where
/// it is shown, whose last layout is reused while nothing it depends on changed.
pub fn json_layout(ui: &Ui, place: Id, text: &str, wrap_width: f32) -> Arc<Galley> {
    let pixels_per_point = ui.ctx().pixels_per_point();
    let dark_mode = ui.visuals().dark_mode;
    let last = ui.data(|data| data.get_temp::<LastLayout>(place));
    if let Some(last) = last
        && last.wrap_width == wrap_width
        && last.pixels_per_point == pixels_per_point
        && last.dark_mode == dark_mode
        && *last.text == *text
    {
        return last.galley;
    }
    let theme = CodeTheme::from_style(ui.style());
    let mut job: LayoutJob = highlight(ui.ctx(), ui.style(), &theme, text, "json");
    job.wrap.max_width = wrap_width;
    let galley = ui.fonts_mut(|fonts| fonts.layout_job(job));
    ui.data_mut(|data| {
        data.insert_temp(
            place,
            LastLayout {
                text: Arc::from(text),
                wrap_width,
                pixels_per_point,
                dark_mode,
                galley: Arc::clone(&galley),
            },
        );
    });
    galley
}

/// Read-only, selectable, highlighted JSON labelled for screen readers and tests.
pub fn json_block(ui: &mut Ui, label: &str, text: &str) {
    let place = Id::new(("json-block-layout", label));
    let mut layouter = |ui: &Ui, buffer: &dyn TextBuffer, wrap_width: f32| {
        json_layout(ui, place, buffer.as_str(), wrap_width)
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
