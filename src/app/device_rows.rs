//! The device list's table: a header of sortable, resizable columns over a body that
//! lays out only the rows in view. Each row is one widget painted cell by cell (not a
//! child layout and a label per cell), so a frame costs the same few microseconds a
//! visible row however many devices are listed. A row's accessible name is its device
//! id and its accessible description names every cell ("Status: enabled; ..."). A click
//! opens the device, Ctrl+click marks several for export, right-click offers open,
//! simulate and delete.

use std::collections::BTreeSet;

use egui::emath::GuiRounding as _;
use egui::text::{LayoutJob, TextWrapping};
use egui::{
    Align, Color32, CursorIcon, FontId, Layout, Painter, Rangef, Rect, RichText, ScrollArea, Sense,
    TextFormat, TextStyle, Ui, UiBuilder, WidgetInfo, pos2, vec2,
};

use crate::explorer::{DeviceTable, RowView, SortKey};

/// Height of one row.
const ROW_HEIGHT: f32 = 20.0;
/// Height of the header.
const HEADER_HEIGHT: f32 = ROW_HEIGHT + 2.0;
/// Width of the grip on a column's right edge that resizes it.
const GRIP_WIDTH: f32 = 6.0;
/// The fixed columns: title, sort key, initial width.
const FIXED_COLUMNS: [(&str, SortKey, f32); 4] = [
    ("Device", SortKey::Id, 150.0),
    ("Status", SortKey::Status, 64.0),
    ("Connection", SortKey::Connection, 96.0),
    ("Last activity", SortKey::LastActivity, 140.0),
];
/// Initial width of a twin-path column.
const PATH_COLUMN_WIDTH: f32 = 110.0;
/// No column is dragged narrower than this.
const NARROWEST_COLUMN: f32 = 40.0;

/// What the user did in the table this frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowAction {
    /// Sort by this column (again: the other way).
    Sort(SortKey),
    /// Remove the twin-path column at this index.
    RemoveColumn(usize),
    /// Open this device.
    Select(String),
    /// Mark or unmark this device (Ctrl+click).
    ToggleMark(String),
    /// Open this device and simulate it.
    Simulate(String),
    /// Ask to delete this device.
    Delete(String),
}

/// How the table draws rows this frame.
pub struct RowsFrame<'a> {
    /// The open device.
    pub selected: Option<&'a str>,
    /// Devices marked with Ctrl+click.
    pub marked: &'a BTreeSet<String>,
    /// A position in the view to bring into view, and where (`None`: just enough).
    pub scroll_to: Option<(usize, Option<Align>)>,
}

/// The table's own state: column widths as the user left them.
#[derive(Debug, Default)]
pub struct DeviceRows {
    /// The fixed columns' widths, then each twin-path column's.
    widths: Vec<f32>,
}

impl DeviceRows {
    /// Draws the header and the rows in view; returns what the user did.
    pub fn ui(&mut self, ui: &mut Ui, table: &DeviceTable, frame: &RowsFrame) -> Vec<RowAction> {
        let paths = table.columns();
        self.widths.truncate(FIXED_COLUMNS.len() + paths.len());
        while self.widths.len() < FIXED_COLUMNS.len() + paths.len() {
            self.widths.push(initial_width(self.widths.len()));
        }
        let mut actions = Vec::new();
        let columns = self.header_ui(ui, table, &mut actions);
        body_ui(ui, table, &columns, frame, &mut actions);
        for action in &actions {
            if let RowAction::RemoveColumn(index) = action {
                self.widths.remove(FIXED_COLUMNS.len() + index);
            }
        }
        actions
    }

    /// The header: one sort button per column, a grip between columns. Returns each
    /// column's horizontal extent.
    fn header_ui(
        &mut self,
        ui: &mut Ui,
        table: &DeviceTable,
        actions: &mut Vec<RowAction>,
    ) -> Vec<Rangef> {
        let (sort, ascending) = table.sort();
        let gap = ui.spacing().item_spacing.x;
        // As wide as the columns: the panel grows to show them all.
        let width = self.widths.iter().map(|width| width + gap).sum::<f32>();
        let (header, _) = ui.allocate_exact_size(
            vec2(width.max(ui.available_width()), HEADER_HEIGHT),
            Sense::hover(),
        );
        let mut columns = Vec::with_capacity(self.widths.len());
        let mut left = header.left();
        for column in 0..self.widths.len() {
            let extent = Rangef::new(left, left + self.widths[column]);
            columns.push(extent);
            left = extent.max + gap;
            let (title, key) = match FIXED_COLUMNS.get(column) {
                Some(&(title, key, _)) => (title, key),
                None => {
                    let index = column - FIXED_COLUMNS.len();
                    (table.columns()[index].as_str(), SortKey::Path(index))
                }
            };
            let arrow = match (sort == key, ascending) {
                (true, true) => " (asc)",
                (true, false) => " (desc)",
                _ => "",
            };
            let cell = Rect::from_x_y_ranges(extent, header.y_range());
            let mut cell_ui = ui.new_child(
                UiBuilder::new()
                    .max_rect(cell)
                    .layout(Layout::left_to_right(Align::Center)),
            );
            cell_ui.set_clip_rect(cell.intersect(ui.clip_rect()));
            let response = cell_ui.selectable_label(
                sort == key,
                RichText::new(format!("{title}{arrow}")).strong(),
            );
            if let SortKey::Path(index) = key {
                let response = response
                    .on_hover_text(format!("Sort by {title}; right-click to remove the column"));
                if response.clicked() {
                    actions.push(RowAction::Sort(key));
                }
                response.context_menu(|ui| {
                    if ui.button("Remove column").clicked() {
                        actions.push(RowAction::RemoveColumn(index));
                    }
                });
            } else if response
                .on_hover_text(format!("Sort by {}", title.to_lowercase()))
                .clicked()
            {
                actions.push(RowAction::Sort(key));
            }
            self.grip_ui(ui, column, extent.max + gap / 2.0, header.y_range());
        }
        columns
    }

    /// The grip on a column's right edge: drag to resize, double-click for the initial
    /// width.
    fn grip_ui(&mut self, ui: &Ui, column: usize, x: f32, height: Rangef) {
        let grip = Rect::from_x_y_ranges(
            Rangef::new(x - GRIP_WIDTH / 2.0, x + GRIP_WIDTH / 2.0),
            height,
        );
        let response = ui
            .interact(
                grip,
                ui.scope_id().with(("column-grip", column)),
                Sense::click_and_drag(),
            )
            .on_hover_text("Drag to resize the column; double-click for its initial width");
        if response.dragged() {
            self.widths[column] =
                (self.widths[column] + response.drag_delta().x).max(NARROWEST_COLUMN);
        }
        if response.double_clicked() {
            self.widths[column] = initial_width(column);
        }
        let visuals = ui.visuals();
        let stroke = if response.dragged() {
            visuals.widgets.active.bg_stroke
        } else if response.hovered() {
            visuals.widgets.hovered.bg_stroke
        } else {
            visuals.widgets.noninteractive.bg_stroke
        };
        if response.hovered() || response.dragged() {
            ui.ctx().set_cursor_icon(CursorIcon::ResizeColumn);
        }
        ui.painter().vline(x, height, stroke);
    }
}

fn initial_width(column: usize) -> f32 {
    FIXED_COLUMNS
        .get(column)
        .map_or(PATH_COLUMN_WIDTH, |&(_, _, width)| width)
}

/// The rows in view, in a vertical scroll area as tall as all of them.
fn body_ui(
    ui: &mut Ui,
    table: &DeviceTable,
    columns: &[Rangef],
    frame: &RowsFrame,
    actions: &mut Vec<RowAction>,
) {
    let view = table.view();
    let font = TextStyle::Body.resolve(ui.style());
    let padding = ui.spacing().button_padding.x;
    ScrollArea::vertical()
        .id_salt("device-rows")
        .auto_shrink(false)
        .show_viewport(ui, |ui, viewport| {
            let origin = ui.max_rect().min;
            let width = columns
                .last()
                .map_or(0.0, |last| last.max - origin.x)
                .max(ui.available_width());
            ui.set_min_size(vec2(width, view.len() as f32 * ROW_HEIGHT));
            let row_rect = |position: usize| {
                Rect::from_min_size(
                    origin + vec2(0.0, position as f32 * ROW_HEIGHT),
                    vec2(width, ROW_HEIGHT),
                )
            };
            if let Some((position, align)) = frame.scroll_to {
                ui.scroll_to_rect(row_rect(position), align);
            }
            let cells: Vec<(Painter, Rangef)> = columns
                .iter()
                .map(|&extent| {
                    let clip = Rect::from_x_y_ranges(extent, ui.clip_rect().y_range());
                    let text = Rangef::new(extent.min + padding, extent.max);
                    (
                        ui.painter().with_clip_rect(clip.intersect(ui.clip_rect())),
                        text,
                    )
                })
                .collect();
            let first = (viewport.min.y / ROW_HEIGHT).floor().max(0.0) as usize;
            let end = ((viewport.max.y / ROW_HEIGHT).ceil().max(0.0) as usize).min(view.len());
            for (position, &index) in view.iter().enumerate().take(end).skip(first) {
                let Some(device) = table.row(index) else {
                    continue;
                };
                let rect = row_rect(position);
                let response =
                    ui.interact(rect, ui.scope_id().with(device.device_id), Sense::click());
                let is_selected = frame.selected == Some(device.device_id);
                let highlighted = is_selected || frame.marked.contains(device.device_id);
                let visuals = ui.visuals();
                let fill = if highlighted {
                    Some(visuals.selection.bg_fill)
                } else if response.hovered() {
                    Some(visuals.widgets.hovered.bg_fill)
                } else {
                    (position % 2 == 1).then_some(visuals.faint_bg_color)
                };
                if let Some(fill) = fill {
                    ui.painter().rect_filled(rect, 0.0, fill);
                }
                let text_color = if highlighted {
                    visuals.selection.stroke.color
                } else {
                    visuals.text_color()
                };
                let connection_color = match (highlighted, device.connection_state) {
                    (true, _) => text_color,
                    (false, "Connected") => visuals.strong_text_color(),
                    (false, _) => visuals.weak_text_color(),
                };
                let texts = [
                    (device.device_id, text_color),
                    (device.status, text_color),
                    (device.connection_state, connection_color),
                    (device.last_activity, text_color),
                ];
                let path_texts = (0..table.columns().len())
                    .map(|column| (table.cell(column, index), text_color));
                for ((text, color), (painter, extent)) in
                    texts.into_iter().chain(path_texts).zip(&cells)
                {
                    paint_cell(painter, *extent, rect, text, &font, color);
                }
                response.widget_info(|| {
                    WidgetInfo::selected(egui::Role::Button, true, is_selected, device.device_id)
                });
                ui.ctx().accesskit_node_builder(response.id, |node| {
                    node.set_description(describe(table, index, &device));
                });
                row_response(&response, device.device_id, actions);
            }
        });
}

/// One cell's text, cut with "…" where the column ends.
fn paint_cell(
    painter: &Painter,
    extent: Rangef,
    row: Rect,
    text: &str,
    font: &FontId,
    color: Color32,
) {
    if text.is_empty() {
        return;
    }
    let mut job =
        LayoutJob::single_section(text.to_owned(), TextFormat::simple(font.clone(), color));
    job.wrap = TextWrapping::truncate_at_width(extent.span().max(0.0));
    let galley = painter.layout_job(job);
    let top = (row.center().y - galley.size().y / 2.0).round_to_pixels(painter.pixels_per_point());
    painter.galley(pos2(extent.min, top), galley, color);
}

/// What a click or the context menu on a row asks.
fn row_response(response: &egui::Response, device_id: &str, actions: &mut Vec<RowAction>) {
    if response.clicked() {
        if response.ctx.input(|i| i.modifiers.command) {
            actions.push(RowAction::ToggleMark(device_id.to_owned()));
        } else {
            actions.push(RowAction::Select(device_id.to_owned()));
        }
    }
    response.context_menu(|ui| {
        if ui.button("Open").clicked() {
            actions.push(RowAction::Select(device_id.to_owned()));
        }
        if ui.button("Simulate this device").clicked() {
            actions.push(RowAction::Simulate(device_id.to_owned()));
        }
        if ui.button("Delete…").clicked() {
            actions.push(RowAction::Delete(device_id.to_owned()));
        }
    });
}

/// A row's cells for assistive technology: "Status: enabled; Connection: ...".
fn describe(table: &DeviceTable, index: usize, device: &RowView) -> String {
    let fixed = [
        ("Status", device.status),
        ("Connection", device.connection_state),
        ("Last activity", device.last_activity),
    ];
    let paths = table
        .columns()
        .iter()
        .enumerate()
        .map(|(column, path)| (path.as_str(), table.cell(column, index)));
    fixed
        .into_iter()
        .chain(paths)
        .map(|(name, text)| format!("{name}: {text}"))
        .collect::<Vec<_>>()
        .join("; ")
}
