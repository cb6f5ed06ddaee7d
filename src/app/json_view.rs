//! Shared JSON widgets: highlighted read-only JSON and the highlighting layouter the
//! editor uses. Each place that lays out JSON keeps its last layout and the layout of
//! each of its lines: a frame whose text is unchanged reuses the layout after one
//! comparison of the text, and a keystroke lays out only the line it changed (JSON
//! highlighting is per line; strings cannot span lines), so a 32 KB twin costs
//! neither a re-layout nor a hash of its highlighted text per frame.

use std::collections::HashMap;
use std::sync::Arc;

use egui::text::LayoutJob;
use egui::{Galley, Id, TextBuffer, Ui};
use egui_extras::syntax_highlighting::{CodeTheme, highlight};
use foldhash::fast::RandomState;

/// The last layout made for one place, what it was made from, and its lines' layouts.
#[derive(Clone)]
struct LastLayout {
    text: Arc<str>,
    wrap_width: f32,
    pixels_per_point: f32,
    dark_mode: bool,
    galley: Arc<Galley>,
    lines: Arc<HashMap<Box<str>, Arc<Galley>, RandomState>>,
}

/// The highlighted layout of JSON `text`, wrapped at `wrap_width`; `place` names where
/// it is shown, whose last layout (and its lines') is reused for what did not change.
pub fn json_layout(ui: &Ui, place: Id, text: &str, wrap_width: f32) -> Arc<Galley> {
    let pixels_per_point = ui.ctx().pixels_per_point();
    let dark_mode = ui.visuals().dark_mode;
    let same_setting = |last: &LastLayout| {
        last.wrap_width == wrap_width
            && last.pixels_per_point == pixels_per_point
            && last.dark_mode == dark_mode
    };
    let last = ui.data(|data| data.get_temp::<LastLayout>(place));
    if let Some(last) = &last
        && same_setting(last)
        && *last.text == *text
    {
        return Arc::clone(&last.galley);
    }
    let theme = CodeTheme::from_style(ui.style());
    // The stored copy is dropped, so that the lines' layouts move into the new layout
    // rather than being copied.
    ui.data_mut(|data| data.remove::<LastLayout>(place));
    let mut earlier = last
        .filter(same_setting)
        .map(|last| Arc::try_unwrap(last.lines).unwrap_or_else(|shared| (*shared).clone()))
        .unwrap_or_default();
    let mut lines: HashMap<Box<str>, Arc<Galley>, RandomState> =
        HashMap::with_capacity_and_hasher(earlier.len(), RandomState::default());
    let mut galleys = Vec::new();
    for line in text.split('\n') {
        let galley = match lines.get(line) {
            Some(galley) => Arc::clone(galley),
            None => {
                let (key, galley) = earlier.remove_entry(line).unwrap_or_else(|| {
                    let mut job: LayoutJob = highlight(ui.ctx(), ui.style(), &theme, line, "json");
                    job.wrap.max_width = wrap_width;
                    (line.into(), ui.fonts_mut(|fonts| fonts.layout_job(job)))
                });
                lines.insert(key, Arc::clone(&galley));
                galley
            }
        };
        galleys.push(galley);
    }
    let mut whole = LayoutJob::simple_format(text.to_owned(), egui::TextFormat::default());
    whole.wrap.max_width = wrap_width;
    let galley = Arc::new(Galley::concat(Arc::new(whole), &galleys, pixels_per_point));
    ui.data_mut(|data| {
        data.insert_temp(
            place,
            LastLayout {
                text: Arc::from(text),
                wrap_width,
                pixels_per_point,
                dark_mode,
                galley: Arc::clone(&galley),
                lines: Arc::new(lines),
            },
        );
    });
    galley
}

/// Read-only, selectable, highlighted JSON labelled for screen readers and tests.
pub fn json_block(ui: &mut Ui, label: &str, text: &str) {
    let place = Id::unique(("json-block-layout", label));
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
