//! The editor for tags and desired properties (right, first tab): live checking with
//! the line and path of any error, the patch a save sends shown as a diff, save with
//! the twin's etag (Ctrl+S), and the conflict view when the twin changed meanwhile,
//! offering merge, overwrite or discard.

use std::time::Instant;

use egui::{RichText, TextBuffer, Ui};

use super::diff_view::changes_ui;
use super::intent::{Intent, Resolution};
use super::json_view::json_layout;
use crate::explorer::twin_edit::ConflictCause;
use crate::explorer::{EditCheck, TwinEdit};

/// Draws the editor for `edit`; `saving` while a save is in flight.
pub fn twin_editor_ui(
    ui: &mut Ui,
    edit: &mut TwinEdit,
    saving: bool,
    save_error: Option<&str>,
    intents: &mut Vec<Intent>,
) {
    ui.horizontal(|ui| {
        // A change still waiting for its check is checked by the save itself.
        let checkable = edit.check_pending() && edit.is_dirty() && edit.conflict().is_none();
        let can_save = (edit.patch_to_send().is_some() || checkable) && !saving;
        if ui
            .add_enabled(can_save, egui::Button::new("Save"))
            .on_hover_text("Send the patch below with the twin's etag (Ctrl+S)")
            .on_disabled_hover_text("Nothing valid to save, or a save is in flight")
            .clicked()
        {
            intents.push(Intent::SaveTwin);
        }
        if ui
            .add_enabled(edit.is_dirty(), egui::Button::new("Revert"))
            .on_hover_text("Drop your edits and show the twin as last read")
            .clicked()
        {
            let base = edit.base().clone();
            *edit = TwinEdit::open(base);
        }
        if saving {
            ui.spinner();
            ui.weak("saving…");
        }
        if let Some(etag) = edit.etag() {
            ui.weak(format!("etag {etag}"));
        }
    });
    if let Some(error) = save_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    conflict_ui(ui, edit, intents);
    edit.recheck_if_paused(Instant::now());
    if edit.check_pending() {
        ui.ctx()
            .request_repaint_after(crate::explorer::twin_edit::CHECK_AFTER_PAUSE);
    }
    match edit.check() {
        _ if edit.check_pending() => {
            ui.weak("checking when you pause typing…");
        }
        EditCheck::Valid { changes, .. } if changes.is_empty() => {
            ui.weak("Valid, no changes");
        }
        EditCheck::Valid { changes, .. } => {
            ui.label(format!("Valid: {} change(s) to save", changes.len()));
        }
        EditCheck::Invalid(error) => {
            let mut text = format!("Error: {error}");
            if let Some(path) = &error.path {
                text.push_str(&format!(" (at {path})"));
            }
            ui.colored_label(ui.visuals().error_fg_color, text);
        }
    }
    let preview_height = 140.0;
    egui::ScrollArea::vertical()
        .id_salt("twin-editor")
        .max_height((ui.available_height() - preview_height).max(120.0))
        .show(ui, |ui| {
            let place = egui::Id::unique("twin-editor-layout");
            let mut layouter = |ui: &Ui, buffer: &dyn TextBuffer, wrap_width: f32| {
                json_layout(ui, place, buffer.as_str(), wrap_width)
            };
            let response = ui.add(
                egui::TextEdit::multiline(edit.text_mut())
                    .code_editor()
                    .desired_width(f32::INFINITY)
                    .desired_rows(16)
                    .layouter(&mut layouter),
            );
            response.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Twin editor")
            });
            if response.changed() {
                edit.edited(Instant::now());
            }
        });
    ui.separator();
    ui.label(RichText::new("Patch to send").strong());
    egui::ScrollArea::vertical()
        .id_salt("patch-preview")
        .show(ui, |ui| match edit.check() {
            EditCheck::Valid { changes, .. } => changes_ui(ui, changes, "no changes"),
            EditCheck::Invalid(_) => {
                ui.weak("fix the error above to see the patch");
            }
        });
}

fn conflict_ui(ui: &mut Ui, edit: &TwinEdit, intents: &mut Vec<Intent>) {
    let Some(conflict) = edit.conflict() else {
        return;
    };
    egui::Frame::group(ui.style())
        .fill(ui.visuals().warn_fg_color.gamma_multiply(0.12))
        .show(ui, |ui| {
            let headline = match conflict.cause {
                ConflictCause::SaveRefused => {
                    "The hub refused the save (412): the twin changed since you opened it."
                }
                ConflictCause::ChangedElsewhere => {
                    "The twin changed on the hub while you were editing; your edits are kept."
                }
            };
            ui.label(RichText::new(headline).strong());
            ui.label("What changed meanwhile:");
            changes_ui(ui, &conflict.their_changes, "only bookkeeping changed");
            ui.horizontal(|ui| {
                if ui
                    .button("Merge my edits")
                    .on_hover_text("Apply your edits on top of the newer twin; review, then save")
                    .clicked()
                {
                    intents.push(Intent::ResolveConflict(Resolution::Merge));
                }
                if ui
                    .button("Overwrite")
                    .on_hover_text("Save your text as it is, replacing their changes")
                    .clicked()
                {
                    intents.push(Intent::ResolveConflict(Resolution::Overwrite));
                }
                if ui
                    .button("Discard mine")
                    .on_hover_text("Drop your edits and show the newer twin")
                    .clicked()
                {
                    intents.push(Intent::ResolveConflict(Resolution::Discard));
                }
            });
        });
}
