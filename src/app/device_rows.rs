//! The device list's table: a header of sortable, resizable columns over a body that
//! draws only the rows in view. The rows are painted cell by cell (no child layout or
//! label per cell) under one widget that places clicks by the pointer, and each cell's
//! layout is kept while it stays the same, so a frame costs the same few microseconds a
//! visible row however many devices are listed. For assistive technology each row is a
//! node named by its device id and described by its cells ("Status: enabled; ...").
//! A click opens the device, Ctrl+click marks several for export, right-click offers
//! open, simulate and delete. The open device's modules are listed under its row; a
//! click on one opens the module's twin.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use egui::emath::GuiRounding as _;
use egui::text::{LayoutJob, TextWrapping};
use egui::{
    Align, Color32, CursorIcon, FontId, Galley, Layout, Pos2, Rangef, Rect, RichText, ScrollArea,
    Sense, Shape, TextFormat, TextStyle, Ui, UiBuilder, pos2, vec2,
};
use foldhash::fast::RandomState;

use crate::explorer::{DeviceTable, RowView, SortKey, twin_key};

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
    /// The open twin's key (the device's id, or `{deviceId}/{moduleId}`).
    pub open_key: Option<&'a str>,
    /// The open device's modules, listed under its row.
    pub modules: &'a [String],
    /// Devices marked with Ctrl+click.
    pub marked: &'a BTreeSet<String>,
    /// A position in the view to bring into view, and where (`None`: just enough).
    pub scroll_to: Option<(usize, Option<Align>)>,
}

/// The table's own state: column widths as the user left them, the layouts of the
/// cells last drawn, and the device whose context menu is open.
#[derive(Debug, Default)]
pub struct DeviceRows {
    /// The fixed columns' widths, then each twin-path column's.
    widths: Vec<f32>,
    /// By row index and column.
    cell_layouts: HashMap<(usize, usize), Arc<Galley>, RandomState>,
    menu_device: Option<String>,
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
        self.body_ui(ui, table, &columns, frame, &mut actions);
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

/// What a drawn row shows: a device (its position in the view) or one of the open
/// device's modules, listed under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Device(usize),
    Module(usize),
}

/// The open device's modules inserted under its row.
#[derive(Debug, Clone, Copy)]
struct Expansion<'a> {
    /// The device's position in the view.
    after: usize,
    device_id: &'a str,
    modules: &'a [String],
}

impl Expansion<'_> {
    /// The rows drawn for `view_len` devices.
    fn rows(expansion: Option<Self>, view_len: usize) -> usize {
        view_len + expansion.map_or(0, |e| e.modules.len())
    }

    /// What row `row` shows.
    fn entry(expansion: Option<Self>, row: usize) -> Entry {
        match expansion {
            Some(e) if row > e.after && row <= e.after + e.modules.len() => {
                Entry::Module(row - e.after - 1)
            }
            Some(e) if row > e.after => Entry::Device(row - e.modules.len()),
            _ => Entry::Device(row),
        }
    }

    /// The row that shows the device at view position `position`.
    fn row_of(expansion: Option<Self>, position: usize) -> usize {
        match expansion {
            Some(e) if position > e.after => position + e.modules.len(),
            _ => position,
        }
    }
}

impl DeviceRows {
    /// The rows in view, in a vertical scroll area as tall as all of them. The rows in
    /// view share one widget (a click is placed on its row by the pointer), each cell's
    /// layout is kept while its text, width and colour stay, and each column's texts go
    /// to the painter at once: a frame's cost is a few lookups a visible cell.
    fn body_ui(
        &mut self,
        ui: &mut Ui,
        table: &DeviceTable,
        columns: &[Rangef],
        frame: &RowsFrame,
        actions: &mut Vec<RowAction>,
    ) {
        let view = table.view();
        let expansion = frame
            .selected
            .filter(|_| !frame.modules.is_empty())
            .and_then(|device_id| {
                let index = table.position(device_id)?;
                let after = view.iter().position(|&shown| shown == index)?;
                Some(Expansion {
                    after,
                    device_id,
                    modules: frame.modules,
                })
            });
        let row_count = Expansion::rows(expansion, view.len());
        let font = TextStyle::Body.resolve(ui.style());
        let padding = ui.spacing().button_padding.x;
        let mut kept = std::mem::take(&mut self.cell_layouts);
        ScrollArea::vertical()
            .id_salt("device-rows")
            .auto_shrink(false)
            .show_viewport(ui, |ui, viewport| {
                let origin = ui.max_rect().min;
                let width = columns
                    .last()
                    .map_or(0.0, |last| last.max - origin.x)
                    .max(ui.available_width());
                ui.set_min_size(vec2(width, row_count as f32 * ROW_HEIGHT));
                let row_rect = |position: usize| {
                    Rect::from_min_size(
                        origin + vec2(0.0, position as f32 * ROW_HEIGHT),
                        vec2(width, ROW_HEIGHT),
                    )
                };
                if let Some((position, align)) = frame.scroll_to {
                    ui.scroll_to_rect(row_rect(Expansion::row_of(expansion, position)), align);
                }
                let body = Rect::from_min_size(origin, vec2(width, row_count as f32 * ROW_HEIGHT))
                    .intersect(ui.clip_rect());
                let response = ui.interact(body, ui.scope_id().with("rows"), Sense::click());
                let position_at = |pos: Option<Pos2>| {
                    pos.filter(|pos| body.contains(*pos))
                        .map(|pos| ((pos.y - origin.y) / ROW_HEIGHT).floor() as usize)
                        .filter(|&position| position < row_count)
                };
                let hovered = position_at(response.hover_pos());
                let first = (viewport.min.y / ROW_HEIGHT).floor().max(0.0) as usize;
                let end = ((viewport.max.y / ROW_HEIGHT).ceil().max(0.0) as usize).min(row_count);
                let visuals = ui.visuals();
                let mut fills = Vec::new();
                let mut texts: Vec<Vec<Shape>> = vec![Vec::new(); columns.len()];
                for position in first..end {
                    let index = match Expansion::entry(expansion, position) {
                        Entry::Device(shown) => view[shown],
                        Entry::Module(module) => {
                            if let Some(expansion) = expansion {
                                let row = ModuleRow {
                                    rect: row_rect(position),
                                    device_id: expansion.device_id,
                                    module_id: &expansion.modules[module],
                                    hovered: hovered == Some(position),
                                };
                                row.paint(ui, columns, frame.open_key, &mut fills, &mut texts);
                                row.accessible(ui, &response, frame.open_key, actions);
                            }
                            continue;
                        }
                    };
                    let Some(device) = table.row(index) else {
                        continue;
                    };
                    let rect = row_rect(position);
                    // Selected while its own twin is open; a module's twin highlights the module.
                    let is_selected = frame.open_key == Some(device.device_id);
                    let highlighted = is_selected || frame.marked.contains(device.device_id);
                    let fill = if highlighted {
                        Some(visuals.selection.bg_fill)
                    } else if hovered == Some(position) {
                        Some(visuals.widgets.hovered.bg_fill)
                    } else {
                        (position % 2 == 1).then_some(visuals.faint_bg_color)
                    };
                    if let Some(fill) = fill {
                        fills.push(Shape::rect_filled(rect, 0.0, fill));
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
                    let fixed = [
                        (device.device_id, text_color),
                        (device.status, text_color),
                        (device.connection_state, connection_color),
                        (device.last_activity, text_color),
                    ];
                    let paths = (0..table.columns().len())
                        .map(|column| (table.cell(column, index), text_color));
                    for (column, (text, color)) in fixed.into_iter().chain(paths).enumerate() {
                        let Some(&extent) = columns.get(column) else {
                            break;
                        };
                        if text.is_empty() {
                            continue;
                        }
                        let text_width = (extent.span() - padding).max(0.0);
                        let galley = match kept.remove(&(index, column)) {
                            Some(galley)
                                if galley.text() == text
                                    && galley.job.wrap.max_width == text_width
                                    && galley.job.sections.first().map(|s| s.format.color)
                                        == Some(color) =>
                            {
                                galley
                            }
                            _ => cell_layout(ui, text, text_width, &font, color),
                        };
                        let top = (rect.center().y - galley.size().y / 2.0)
                            .round_to_pixels(ui.pixels_per_point());
                        texts[column].push(Shape::galley(
                            pos2(extent.min + padding, top),
                            Arc::clone(&galley),
                            color,
                        ));
                        self.cell_layouts.insert((index, column), galley);
                    }
                    accessible_row(
                        ui,
                        &response,
                        rect,
                        table,
                        index,
                        &device,
                        is_selected,
                        actions,
                    );
                }
                ui.painter().extend(fills);
                for (shapes, extent) in texts.into_iter().zip(columns) {
                    let clip = Rect::from_x_y_ranges(*extent, ui.clip_rect().y_range())
                        .intersect(ui.clip_rect());
                    ui.painter().with_clip_rect(clip).extend(shapes);
                }
                let entry_at =
                    |pos| position_at(pos).map(|position| Expansion::entry(expansion, position));
                self.row_response(&response, entry_at, expansion, view, table, actions);
            });
    }

    /// What a click or the context menu on the rows asks.
    fn row_response(
        &mut self,
        response: &egui::Response,
        entry_at: impl Fn(Option<Pos2>) -> Option<Entry>,
        expansion: Option<Expansion<'_>>,
        view: &[usize],
        table: &DeviceTable,
        actions: &mut Vec<RowAction>,
    ) {
        let device_at = |pos| match entry_at(pos)? {
            Entry::Device(position) => table
                .row(view[position])
                .map(|device| device.device_id.to_owned()),
            Entry::Module(_) => None,
        };
        if response.clicked() {
            let pos = response.interact_pointer_pos();
            match (entry_at(pos), expansion) {
                (Some(Entry::Module(module)), Some(expansion)) => {
                    actions.push(RowAction::Select(twin_key::module_key(
                        expansion.device_id,
                        &expansion.modules[module],
                    )));
                }
                _ => {
                    if let Some(device_id) = device_at(pos) {
                        if response.ctx.input(|i| i.modifiers.command) {
                            actions.push(RowAction::ToggleMark(device_id));
                        } else {
                            actions.push(RowAction::Select(device_id));
                        }
                    }
                }
            }
        }
        if response.secondary_clicked() {
            self.menu_device = device_at(response.interact_pointer_pos());
        }
        let Some(device_id) = self.menu_device.clone() else {
            return;
        };
        response.context_menu(|ui| {
            ui.weak(&device_id);
            if ui.button("Open").clicked() {
                actions.push(RowAction::Select(device_id.clone()));
            }
            if ui.button("Simulate this device").clicked() {
                actions.push(RowAction::Simulate(device_id.clone()));
            }
            if ui.button("Delete…").clicked() {
                actions.push(RowAction::Delete(device_id.clone()));
            }
        });
    }
}

/// A module of the open device, drawn under its row: its id indented in the device
/// column and "module" in the next; a click opens the module's twin.
struct ModuleRow<'a> {
    rect: Rect,
    device_id: &'a str,
    module_id: &'a str,
    hovered: bool,
}

impl ModuleRow<'_> {
    fn key(&self) -> String {
        twin_key::module_key(self.device_id, self.module_id)
    }

    fn paint(
        &self,
        ui: &Ui,
        columns: &[Rangef],
        open_key: Option<&str>,
        fills: &mut Vec<Shape>,
        texts: &mut [Vec<Shape>],
    ) {
        let visuals = ui.visuals();
        let open = open_key == Some(self.key().as_str());
        let fill = if open {
            Some(visuals.selection.bg_fill)
        } else if self.hovered {
            Some(visuals.widgets.hovered.bg_fill)
        } else {
            None
        };
        if let Some(fill) = fill {
            fills.push(Shape::rect_filled(self.rect, 0.0, fill));
        }
        let color = if open {
            visuals.selection.stroke.color
        } else {
            visuals.weak_text_color()
        };
        let font = TextStyle::Body.resolve(ui.style());
        let padding = ui.spacing().button_padding.x;
        let cells = [format!("    · {}", self.module_id), "module".to_owned()];
        for (column, text) in cells.iter().enumerate() {
            let Some(extent) = columns.get(column) else {
                break;
            };
            let galley = cell_layout(ui, text, (extent.span() - padding).max(0.0), &font, color);
            let top = (self.rect.center().y - galley.size().y / 2.0)
                .round_to_pixels(ui.pixels_per_point());
            texts[column].push(Shape::galley(
                pos2(extent.min + padding, top),
                galley,
                color,
            ));
        }
    }

    /// The row's node for assistive technology, named by the module id; its click
    /// action opens the module's twin.
    fn accessible(
        &self,
        ui: &Ui,
        rows: &egui::Response,
        open_key: Option<&str>,
        actions: &mut Vec<RowAction>,
    ) {
        let key = self.key();
        let id = rows.id.with(("module-row", &key));
        let open = open_key == Some(key.as_str());
        let description = || format!("Module of {}", self.device_id);
        if row_node(ui, id, self.rect, self.module_id, description, open) {
            actions.push(RowAction::Select(key));
        }
    }
}

/// One cell's text laid out, cut with "…" where the column ends.
fn cell_layout(ui: &Ui, text: &str, width: f32, font: &FontId, color: Color32) -> Arc<Galley> {
    let mut job =
        LayoutJob::single_section(text.to_owned(), TextFormat::simple(font.clone(), color));
    job.wrap = TextWrapping::truncate_at_width(width);
    ui.fonts_mut(|fonts| fonts.layout_job(job))
}

/// A row's node for assistive technology (only built while one listens): named by its
/// device id, described by its cells, placed where the row is drawn; its click action
/// opens the device.
#[allow(clippy::too_many_arguments)]
fn accessible_row(
    ui: &Ui,
    rows: &egui::Response,
    rect: Rect,
    table: &DeviceTable,
    index: usize,
    device: &RowView,
    is_selected: bool,
    actions: &mut Vec<RowAction>,
) {
    let id = rows.id.with(device.device_id);
    let description = || describe(table, index, device);
    if row_node(ui, id, rect, device.device_id, description, is_selected) {
        actions.push(RowAction::Select(device.device_id.to_owned()));
    }
}

/// Builds a row's node (a button named `label`, described by `description`, toggled
/// when open) while assistive technology listens; returns whether it asked to click it.
fn row_node(
    ui: &Ui,
    id: egui::Id,
    rect: Rect,
    label: &str,
    description: impl FnOnce() -> String,
    toggled: bool,
) -> bool {
    let listened = ui.ctx().accesskit_node_builder(id, |node| {
        node.set_role(egui::accesskit::Role::Button);
        node.set_label(label);
        node.set_description(description());
        node.set_toggled(if toggled {
            egui::accesskit::Toggled::True
        } else {
            egui::accesskit::Toggled::False
        });
        node.set_bounds(egui::accesskit::Rect {
            x0: rect.min.x.into(),
            y0: rect.min.y.into(),
            x1: rect.max.x.into(),
            y1: rect.max.y.into(),
        });
        node.add_action(egui::accesskit::Action::Click);
    });
    // Action requests come only from assistive technology, which also builds the node.
    listened.is_some()
        && ui.input(|i| i.has_accesskit_action_request(id, egui::accesskit::Action::Click))
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
