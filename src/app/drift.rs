//! The drift tab: every desired property the device has not taken, with the value asked,
//! the value reported (or that nothing is reported) and, for a Plug and Play device, how
//! it answered the property.

use egui::{RichText, Ui};

use super::diff_view::short;
use super::plug_and_play::status_chip_ui;
use crate::explorer::drift;
use crate::service::DeviceTwin;

/// Draws the drift of `twin`.
pub fn drift_ui(ui: &mut Ui, twin: Option<&DeviceTwin>) {
    let Some(twin) = twin else {
        ui.weak("Select a device to see its drift.");
        return;
    };
    let entries = drift(twin);
    if entries.is_empty() {
        ui.label("In sync: every desired property is reflected in reported properties.");
        return;
    }
    ui.label(format!(
        "{} desired propert{} not reflected in reported:",
        entries.len(),
        if entries.len() == 1 {
            "y is"
        } else {
            "ies are"
        }
    ));
    egui::ScrollArea::vertical()
        .id_salt("drift")
        .show(ui, |ui| {
            egui::Grid::new("drift-grid")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    ui.label(RichText::new("Path").strong());
                    ui.label(RichText::new("Desired").strong());
                    ui.label(RichText::new("Reported").strong());
                    ui.label(RichText::new("Device's answer").strong())
                        .on_hover_text("The Plug and Play acknowledgement (ac, av, ad), when the device sent one");
                    ui.end_row();
                    for entry in &entries {
                        ui.monospace(&entry.path);
                        ui.monospace(short(&entry.desired));
                        match &entry.reported {
                            Some(reported) => ui.monospace(short(reported)),
                            None => ui.weak("missing"),
                        };
                        match &entry.answer {
                            Some(chip) => status_chip_ui(ui, chip),
                            None => {
                                ui.weak("none");
                            }
                        }
                        ui.end_row();
                    }
                });
        });
}
