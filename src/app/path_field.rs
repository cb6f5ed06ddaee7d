//! A file path typed in the app with a *Browse…* button beside it that asks the native
//! dialog; when no dialog can be shown, the field stays and a note says why. Shared by
//! the export and snapshot dialogs.

use std::path::PathBuf;

use egui::Ui;

use super::file_dialog::{FileAction, FileRequest, PickedFile, SNAPSHOT_FILES, default_folder};

/// The field's state.
#[derive(Debug)]
pub struct PathField {
    /// The path as typed or chosen.
    pub path: String,
    note: Option<String>,
    waiting_for_dialog: bool,
}

impl PathField {
    /// A field holding `path`.
    pub fn new(path: String) -> PathField {
        PathField {
            path,
            note: None,
            waiting_for_dialog: false,
        }
    }

    /// The path, trimmed.
    pub fn path_buf(&self) -> PathBuf {
        PathBuf::from(self.path.trim())
    }

    /// The native dialog answered; returns whether the path changed.
    pub fn picked(&mut self, answer: PickedFile) -> bool {
        self.waiting_for_dialog = false;
        match answer {
            PickedFile::Chosen(path) => {
                self.path = path.display().to_string();
                self.note = None;
                true
            }
            PickedFile::Cancelled => false,
            PickedFile::Unavailable(why) => {
                self.note = Some(format!("{why}; type the file's path above instead."));
                false
            }
        }
    }

    /// Draws the field; returns the dialog to show when *Browse…* was clicked, and
    /// whether the text was edited.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        label: &str,
        action: FileAction,
        title: &str,
        default_name: impl FnOnce() -> String,
    ) -> (Option<FileRequest>, bool) {
        let mut request = None;
        let mut edited = false;
        ui.horizontal(|ui| {
            let label = ui.label(label);
            edited = ui
                .add(egui::TextEdit::singleline(&mut self.path).desired_width(420.0))
                .labelled_by(label.id)
                .changed();
            let hover = match action {
                FileAction::Save => "Choose the file with the system's save dialog",
                FileAction::Open => "Choose the file with the system's open dialog",
            };
            if ui
                .add_enabled(!self.waiting_for_dialog, egui::Button::new("Browse…"))
                .on_hover_text(hover)
                .clicked()
            {
                self.waiting_for_dialog = true;
                let path = self.path_buf();
                request = Some(FileRequest {
                    action,
                    title: title.to_owned(),
                    folder: path
                        .parent()
                        .map(PathBuf::from)
                        .filter(|folder| folder.is_dir())
                        .unwrap_or_else(default_folder),
                    file_name: match action {
                        FileAction::Save => path
                            .file_name()
                            .map(|name| name.to_string_lossy().into_owned())
                            .unwrap_or_else(default_name),
                        FileAction::Open => String::new(),
                    },
                    filter: SNAPSHOT_FILES,
                });
            }
        });
        if let Some(note) = &self.note {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
        (request, edited)
    }
}
