//! The device list (left): the quick filter, twin-path columns to add, the count line
//! and the table of listed devices (drawn by `device_rows`); create and delete with
//! confirmation. Up/Down move the selection when no text field has the keyboard.

use std::collections::BTreeSet;

use egui::{Key, Ui};

use super::device_rows::{DeviceRows, RowAction, RowsFrame};
use super::intent::Intent;
use crate::auth::check_id;
use crate::explorer::{DeviceTable, twin_key};

/// What is open, as the list shows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenInList<'a> {
    /// The open twin's key: a device's id, or `{deviceId}/{moduleId}`.
    pub key: Option<&'a str>,
    /// The open device's modules (empty until listed).
    pub modules: &'a [String],
}

/// The device list's own state.
#[derive(Debug, Default)]
pub struct DeviceList {
    /// The quick filter's text.
    pub filter: String,
    /// Devices marked with Ctrl+click (for exporting several).
    pub marked: BTreeSet<String>,
    new_column: String,
    column_error: Option<String>,
    create: Option<CreateDialog>,
    confirm_delete: Option<String>,
    /// A row to bring into view, and where (`None`: just enough to show it).
    scroll_to: Option<(usize, Option<egui::Align>)>,
    /// The selection last drawn, to bring a device selected elsewhere into view.
    shown_selection: Option<String>,
    rows: DeviceRows,
}

#[derive(Debug, Default)]
struct CreateDialog {
    device_id: String,
    error: Option<String>,
}

impl DeviceList {
    /// Draws the list, with the open twin (`open`: a device's id or a module's key) and
    /// the open device's modules listed under its row; returns what the user asked.
    /// `loading` while query pages arrive
    /// (the order still changes, so a selection made elsewhere is brought into view
    /// only once they are all in); `waiting` says what an empty list waits for (the
    /// hub opening, the first page).
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        table: &mut DeviceTable,
        open: OpenInList<'_>,
        loading: bool,
        waiting: Option<&str>,
        intents: &mut Vec<Intent>,
    ) {
        let selected = open.key.map(|key| twin_key::split(key).0);
        self.toolbar_ui(ui, intents);
        table.set_filter(&self.filter);
        table.refresh_view();
        self.count_ui(ui, table);
        if let Some(waiting) = waiting.filter(|_| table.is_empty()) {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(waiting);
            });
        }
        self.keyboard(ui, table, selected, intents);
        if !loading && self.shown_selection.as_deref() != selected {
            // Until the selected device is listed, try again.
            let shown = selected
                .and_then(|id| table.position(id))
                .and_then(|index| table.view().iter().position(|&shown| shown == index));
            if shown.is_some() || selected.is_none() {
                self.shown_selection = selected.map(str::to_owned);
                if self.scroll_to.is_none() {
                    self.scroll_to = shown.map(|row| (row, Some(egui::Align::Center)));
                }
            }
        }
        self.table_ui(ui, table, open, intents);
        self.create_ui(ui, intents);
        self.delete_ui(ui, intents);
    }

    /// Asks for a new device's id.
    pub fn open_create(&mut self) {
        self.create = Some(CreateDialog::default());
    }

    /// The column asked for is shown: clear the field.
    pub fn column_added(&mut self) {
        self.new_column.clear();
        self.column_error = None;
    }

    /// The column asked for cannot be shown, and why.
    pub fn column_refused(&mut self, error: String) {
        self.column_error = Some(error);
    }

    fn toolbar_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        ui.horizontal(|ui| {
            let label = ui.label("Filter");
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("id or column text")
                    .desired_width(ui.available_width() - 150.0),
            )
            .labelled_by(label.id)
            .on_hover_text("Show only listed devices whose id or extra columns contain this text");
            if ui
                .button("New device…")
                .on_hover_text("Register a device on the hub")
                .clicked()
            {
                self.open_create();
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Column");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.new_column)
                        .hint_text("twin path, e.g. tags.location")
                        .desired_width(ui.available_width() - 60.0),
                )
                .labelled_by(label.id);
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            if (ui
                .button("Add")
                .on_hover_text("Show the value at this twin path as a column (read from the hub for the listed devices)")
                .clicked()
                || entered)
                && !self.new_column.trim().is_empty()
            {
                intents.push(Intent::AddColumn(self.new_column.trim().to_owned()));
            }
        });
        if let Some(error) = &self.column_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    }

    /// The count line, from the view as it will be drawn this frame.
    fn count_ui(&self, ui: &mut Ui, table: &DeviceTable) {
        let marked = if self.marked.is_empty() {
            String::new()
        } else {
            format!(", {} marked", self.marked.len())
        };
        ui.weak(format!("{}{marked}", table.count_line()));
    }

    fn keyboard(
        &mut self,
        ui: &Ui,
        table: &DeviceTable,
        selected: Option<&str>,
        intents: &mut Vec<Intent>,
    ) {
        if ui.memory(|m| m.focused().is_some()) || crate::app::modal_open(ui.ctx()) {
            return;
        }
        let step = ui.input(|i| {
            if i.key_pressed(Key::ArrowDown) {
                1isize
            } else if i.key_pressed(Key::ArrowUp) {
                -1
            } else {
                0
            }
        });
        if step == 0 || table.view().is_empty() {
            return;
        }
        let current = selected.and_then(|id| {
            table
                .view()
                .iter()
                .position(|&index| table.row(index).is_some_and(|row| row.device_id == id))
        });
        let next = match current {
            Some(position) => position
                .saturating_add_signed(step)
                .min(table.view().len() - 1),
            None => 0,
        };
        if let Some(row) = table.view().get(next).and_then(|&index| table.row(index)) {
            intents.push(Intent::SelectDevice(row.device_id.to_owned()));
            self.scroll_to = Some((next, None));
        }
    }

    fn table_ui(
        &mut self,
        ui: &mut Ui,
        table: &mut DeviceTable,
        open: OpenInList<'_>,
        intents: &mut Vec<Intent>,
    ) {
        let frame = RowsFrame {
            selected: open.key.map(|key| twin_key::split(key).0),
            open_key: open.key,
            modules: open.modules,
            marked: &self.marked,
            scroll_to: self.scroll_to.take(),
        };
        for action in self.rows.ui(ui, table, &frame) {
            match action {
                RowAction::Sort(key) => table.sort_by(key),
                RowAction::RemoveColumn(index) => table.remove_column(index),
                RowAction::Select(device_id) => intents.push(Intent::SelectDevice(device_id)),
                RowAction::ToggleMark(device_id) => {
                    if !self.marked.remove(&device_id) {
                        self.marked.insert(device_id);
                    }
                }
                RowAction::Simulate(device_id) => {
                    intents.push(Intent::SelectDevice(device_id.clone()));
                    intents.push(Intent::StartSimulation(device_id));
                }
                RowAction::Delete(device_id) => self.confirm_delete = Some(device_id),
            }
        }
    }

    /// Asks to confirm deleting `device_id`.
    pub fn confirm_delete(&mut self, device_id: &str) {
        self.confirm_delete = Some(device_id.to_owned());
    }

    fn create_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        let Some(dialog) = &mut self.create else {
            return;
        };
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("create-device")).show(ui.ctx(), |ui| {
            ui.heading("New device");
            ui.label("The hub generates its symmetric keys.");
            let label = ui.label("Device id");
            let field = ui
                .add(egui::TextEdit::singleline(&mut dialog.device_id).hint_text("sensor-042"))
                .labelled_by(label.id);
            field.request_focus();
            if let Some(error) = &dialog.error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            ui.horizontal(|ui| {
                if ui.button("Create").clicked() || entered {
                    let id = dialog.device_id.trim().to_owned();
                    match check_id(&id) {
                        Ok(()) => {
                            intents.push(Intent::CreateDevice(id));
                            close = true;
                        }
                        Err(error) => dialog.error = Some(error.to_string()),
                    }
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if close || modal.should_close() {
            self.create = None;
        }
    }

    fn delete_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        let Some(device_id) = self.confirm_delete.clone() else {
            return;
        };
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("delete-device")).show(ui.ctx(), |ui| {
            ui.heading(format!("Delete {device_id}?"));
            ui.label(
                "Its identity, keys and twin are removed from the hub. This cannot be undone.",
            );
            ui.horizontal(|ui| {
                if ui.button("Delete device").clicked() {
                    intents.push(Intent::DeleteDevice(device_id.clone()));
                    close = true;
                }
                if ui.button("Keep it").clicked() {
                    close = true;
                }
            });
        });
        if close || modal.should_close() {
            self.confirm_delete = None;
        }
    }
}
