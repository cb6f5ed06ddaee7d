//! The connections dialog: connect to the embedded local hub or to any hub by its
//! service connection string, save connections under a name, and pick a saved one.
//! Keys are masked everywhere except in the field being typed, and only on request.

use egui::{RichText, Ui};

use super::intent::Intent;
use crate::auth::{host_name_of, mask_connection_string};
use crate::explorer::SavedConnection;
use crate::worker::{HubTarget, RemoteHub};

/// The connections dialog's state.
#[derive(Debug, Default)]
pub struct ConnectionsDialog {
    name: String,
    connection_string: String,
    reveal: bool,
    save: bool,
    error: Option<String>,
}

impl ConnectionsDialog {
    /// Draws the dialog; returns `false` when it should close.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        saved: &[SavedConnection],
        embedded: &HubTarget,
        intents: &mut Vec<Intent>,
    ) -> bool {
        let mut open = true;
        let modal = egui::Modal::new(egui::Id::unique("connections")).show(ui.ctx(), |ui| {
            ui.set_width(560.0);
            ui.heading("Connect to a hub");
            if ui
                .button("Use the embedded local hub")
                .on_hover_text("The IoT Hub-compatible hub built into twinlens, stored on this computer")
                .clicked()
            {
                intents.push(Intent::Connect(embedded.clone()));
                open = false;
            }
            ui.separator();
            ui.label(RichText::new("Saved connections").strong());
            if saved.is_empty() {
                ui.weak("None yet.");
            }
            let mut remove = None;
            egui::Grid::new("saved-connections").num_columns(3).striped(true).show(ui, |ui| {
                for (index, connection) in saved.iter().enumerate() {
                    ui.label(&connection.name);
                    ui.monospace(mask_connection_string(&connection.connection_string));
                    ui.horizontal(|ui| {
                        if ui.button("Connect").clicked() {
                            intents.push(Intent::Connect(HubTarget::Remote(RemoteHub::azure(
                                connection.connection_string.clone(),
                            ))));
                            open = false;
                        }
                        if ui.button("Forget").on_hover_text("Remove it from the saved connections").clicked() {
                            remove = Some(index);
                        }
                    });
                    ui.end_row();
                }
            });
            if let Some(index) = remove {
                let mut kept = saved.to_vec();
                kept.remove(index);
                intents.push(Intent::SaveConnections(kept));
            }
            ui.separator();
            ui.label(RichText::new("New connection").strong());
            egui::Grid::new("new-connection").num_columns(2).show(ui, |ui| {
                let label = ui.label("Connection string");
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.connection_string)
                            .password(!self.reveal)
                            .hint_text("HostName=…;SharedAccessKeyName=…;SharedAccessKey=…")
                            .desired_width(380.0),
                    )
                    .labelled_by(label.id)
                    .on_hover_text("A service connection string from the hub's shared access policies (e.g. iothubowner)");
                    ui.checkbox(&mut self.reveal, "Show");
                });
                ui.end_row();
                let label = ui.label("Name");
                ui.add(egui::TextEdit::singleline(&mut self.name).hint_text("production"))
                    .labelled_by(label.id);
                ui.end_row();
            });
            ui.checkbox(&mut self.save, "Save this connection (in a file only you can read)");
            if let Some(error) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            ui.horizontal(|ui| {
                if ui.button("Connect").clicked() {
                    let text = self.connection_string.trim().to_owned();
                    if host_name_of(&text).is_none() {
                        self.error = Some(
                            "paste a service connection string: HostName=…;SharedAccessKeyName=…;SharedAccessKey=…".into(),
                        );
                    } else {
                        if self.save {
                            let name = if self.name.trim().is_empty() {
                                host_name_of(&text).unwrap_or("hub").to_owned()
                            } else {
                                self.name.trim().to_owned()
                            };
                            let mut all: Vec<SavedConnection> =
                                saved.iter().filter(|c| c.name != name).cloned().collect();
                            all.push(SavedConnection {
                                name,
                                connection_string: text.clone(),
                            });
                            intents.push(Intent::SaveConnections(all));
                        }
                        intents.push(Intent::Connect(HubTarget::Remote(RemoteHub::azure(text))));
                        open = false;
                    }
                }
                if ui.button("Cancel").clicked() {
                    open = false;
                }
            });
        });
        open && !modal.should_close()
    }
}
