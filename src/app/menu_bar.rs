//! The top of the window: the menu bar (Hub, Jobs, View, Help) and the query bar under it.

use egui::Ui;

use super::ExplorerApp;
use super::connections::ConnectionsDialog;
use super::intent::Intent;
use super::query_bar::QueryProgress;
use super::settings::ThemeChoice;
use super::snapshots::{SnapshotDialog, SnapshotMode};
use super::status_bar::HubStatus;
use crate::explorer::bulk_job::BulkKind;
use crate::explorer::models::ModelSource;

impl ExplorerApp {
    /// The models folder setting: the folder, a button to read it, and what it gave.
    fn models_folder_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        ui.label("DTDL model files (*.json, subfolders too), read at start");
        let label = ui.label("Folder");
        ui.add(
            egui::TextEdit::singleline(&mut self.settings.models_folder)
                .hint_text("/path/to/models")
                .desired_width(320.0),
        )
        .labelled_by(label.id);
        let folder = self.models_folder();
        if ui
            .add_enabled(folder.is_some(), egui::Button::new("Load models folder"))
            .on_hover_text("Read every model file in the folder now")
            .on_disabled_hover_text("Type the folder first")
            .clicked()
            && let Some(folder) = folder
        {
            intents.push(Intent::LoadModels(ModelSource::Folder(folder)));
        }
        match self.models.folder_report() {
            Some(report) => {
                ui.label(crate::explorer::text::sentence(&report.summary()));
                for failure in &report.failed {
                    ui.colored_label(ui.visuals().error_fg_color, failure);
                }
            }
            None => {
                ui.weak("No folder read yet.");
            }
        }
    }

    pub(super) fn top_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        egui::Panel::top("top").show(ui, |ui| {
            egui::MenuBar::new().ui(ui, |ui| {
                ui.menu_button("Hub", |ui| {
                    if ui.button("Connect…").clicked() {
                        self.connections_dialog = Some(ConnectionsDialog::default());
                    }
                    if ui.button("New device…").clicked() {
                        self.device_list.open_create();
                    }
                    if let Some(device_id) = self.open.device_id().map(str::to_owned)
                        && ui.button(format!("Delete {device_id}…")).clicked()
                    {
                        self.device_list.confirm_delete(&device_id);
                    }
                    ui.separator();
                    if ui
                        .add(egui::Button::new("Export…").shortcut_text("Ctrl+E"))
                        .clicked()
                    {
                        self.open_export();
                    }
                    if ui
                        .button("Compare with snapshot…")
                        .on_hover_text("How a snapshot file differs from the live twins")
                        .clicked()
                    {
                        self.snapshot_dialog = Some(SnapshotDialog::new(SnapshotMode::Compare));
                    }
                    if ui
                        .button("Import snapshot…")
                        .on_hover_text(
                            "Apply a snapshot's tags and desired properties, after a dry run",
                        )
                        .clicked()
                    {
                        self.snapshot_dialog = Some(SnapshotDialog::new(SnapshotMode::Import));
                    }
                    ui.separator();
                    if ui
                        .add(egui::Button::new("Open model…").shortcut_text("Ctrl+O"))
                        .on_hover_text(
                            "Load a DTDL interface file: the Plug and Play tab then types properties and commands",
                        )
                        .clicked()
                    {
                        self.open_model();
                    }
                    if let Some(local) = &self.local_hub {
                        ui.separator();
                        ui.menu_button("Embedded hub address", |ui| {
                            ui.label(format!("Service API: {}", local.http_url));
                            ui.label(format!(
                                "Device MQTT: 127.0.0.1:{} (no TLS)",
                                local.mqtt_port
                            ));
                            ui.monospace(crate::auth::mask_connection_string(
                                &local.service_connection_string,
                            ));
                            if ui
                                .button("Copy service connection string")
                                .on_hover_text("For your own SDK code or scripts against this hub")
                                .clicked()
                            {
                                ui.ctx().copy_text(local.service_connection_string.clone());
                            }
                        });
                    }
                });
                ui.menu_button("Jobs", |ui| {
                    if ui
                        .button("Update twins…")
                        .on_hover_text("Patch the twins of the query's (or the marked) devices as a hub job")
                        .clicked()
                    {
                        intents.push(Intent::OpenBulk(BulkKind::UpdateTwins));
                    }
                    if ui
                        .button("Call method on all…")
                        .on_hover_text("Call a direct method on the query's (or the marked) devices as a hub job")
                        .clicked()
                    {
                        intents.push(Intent::OpenBulk(BulkKind::CallMethod));
                    }
                });
                ui.menu_button("View", |ui| {
                    ui.checkbox(
                        &mut self.settings.show_metadata,
                        "Show $metadata in the twin",
                    );
                    ui.checkbox(&mut self.settings.show_event_log, "Event log");
                    ui.menu_button("Models folder", |ui| self.models_folder_ui(ui, intents));
                    ui.separator();
                    ui.label("Theme");
                    ui.radio_value(
                        &mut self.settings.theme,
                        ThemeChoice::System,
                        "Follow the system",
                    );
                    ui.radio_value(&mut self.settings.theme, ThemeChoice::Light, "Light");
                    ui.radio_value(&mut self.settings.theme, ThemeChoice::Dark, "Dark");
                });
                ui.menu_button("Help", |ui| {
                    ui.label("Ctrl+F  focus the query bar");
                    ui.label("Ctrl+S  save the twin being edited");
                    ui.label("Ctrl+E  export twins");
                    ui.label("Ctrl+P  the Plug and Play tab");
                    ui.label("Ctrl+O  open a DTDL model");
                    ui.label("F5      refresh the twin and the list");
                    ui.label("Up / Down  previous / next device");
                    ui.label("Ctrl+click  mark devices for export");
                });
            });
            let progress = self
                .query
                .as_ref()
                .or(self.column_fetch.as_ref())
                .map(|query| QueryProgress {
                    loaded: query.loaded,
                    total: query.total,
                });
            let embedded = matches!(self.hub, HubStatus::Connected { embedded: true, .. });
            if let Some(intent) = self.query_bar.ui(ui, &self.settings, progress, embedded) {
                intents.push(intent);
            }
        });
    }
}
