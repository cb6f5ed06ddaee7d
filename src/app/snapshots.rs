//! The snapshot dialog: compare a snapshot file with the live twins (the same diff
//! widget as the editor), and import a snapshot's tags and desired properties with a
//! dry-run preview first and a confirmation before anything is written. Reported
//! properties are never imported.

use egui::{RichText, Ui};

use super::diff_view::changes_ui;
use super::file_dialog::{FileAction, PickedFile, default_folder};
use super::intent::{FilePurpose, Intent};
use super::path_field::PathField;
use crate::snapshot::compare::{Comparison, DeviceDifference};
use crate::snapshot::{
    ImportAction, ImportOptions, ImportOutcome, ImportPlan, ImportReport, SnapshotHeader,
};

/// Compare or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Show how the snapshot differs from the live twins.
    Compare,
    /// Write the snapshot's tags/desired into the hub.
    Import,
}

/// What the worker answered last.
#[derive(Debug, Default)]
enum Answer {
    #[default]
    Nothing,
    Compared {
        header: SnapshotHeader,
        devices: usize,
        comparison: Comparison,
    },
    Planned(Box<ImportPlan>),
    Imported(ImportReport),
}

/// The snapshot dialog's state.
#[derive(Debug)]
pub struct SnapshotDialog {
    mode: SnapshotMode,
    file: PathField,
    tags: bool,
    desired: bool,
    create_missing: bool,
    answer: Answer,
    confirming: bool,
}

impl SnapshotDialog {
    /// A dialog for `mode`, the path field prefilled with the default folder.
    pub fn new(mode: SnapshotMode) -> SnapshotDialog {
        SnapshotDialog {
            mode,
            file: PathField::new(format!("{}/", default_folder().display())),
            tags: true,
            desired: true,
            create_missing: false,
            answer: Answer::Nothing,
            confirming: false,
        }
    }

    /// The native dialog answered.
    pub fn picked(&mut self, answer: PickedFile) {
        if self.file.picked(answer) {
            self.answer = Answer::Nothing;
        }
    }

    /// The comparison arrived.
    pub fn compared(&mut self, header: SnapshotHeader, devices: usize, comparison: Comparison) {
        self.answer = Answer::Compared {
            header,
            devices,
            comparison,
        };
    }

    /// The dry run arrived.
    pub fn planned(&mut self, plan: Box<ImportPlan>) {
        self.answer = Answer::Planned(plan);
        self.confirming = false;
    }

    /// The import finished.
    pub fn imported(&mut self, report: ImportReport) {
        self.answer = Answer::Imported(report);
        self.confirming = false;
    }

    /// Draws the dialog; returns `false` when it should close. `progress` is the
    /// running job's `(done, total)`.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        host_name: &str,
        progress: Option<(usize, Option<usize>)>,
        intents: &mut Vec<Intent>,
    ) -> bool {
        let mut open = true;
        let running = progress.is_some();
        let modal = egui::Modal::new(egui::Id::unique("snapshot-dialog")).show(ui.ctx(), |ui| {
            ui.set_width(640.0);
            ui.heading(match self.mode {
                SnapshotMode::Compare => "Compare a snapshot with the live twins",
                SnapshotMode::Import => "Import tags and desired properties from a snapshot",
            });
            self.file_ui(ui, intents);
            if self.mode == SnapshotMode::Import {
                ui.horizontal(|ui| {
                    ui.checkbox(&mut self.tags, "Tags");
                    ui.checkbox(&mut self.desired, "Desired properties");
                    ui.checkbox(&mut self.create_missing, "Create missing devices");
                });
                ui.weak("Reported properties are never written: only devices write them.");
            }
            if let Some((done, total)) = progress {
                let fraction = total.filter(|t| *t > 0).map(|t| done as f32 / t as f32);
                ui.add(
                    egui::ProgressBar::new(fraction.unwrap_or(0.0))
                        .text(match total {
                            Some(total) => format!("{done} / {total} devices"),
                            None => format!("{done} devices"),
                        })
                        .animate(true),
                );
            }
            ui.horizontal(|ui| {
                let path = self.file.path_buf();
                let has_file = path.is_file();
                match self.mode {
                    SnapshotMode::Compare => {
                        if ui
                            .add_enabled(has_file && !running, egui::Button::new("Compare"))
                            .on_disabled_hover_text("Choose an existing snapshot file first")
                            .clicked()
                        {
                            intents.push(Intent::CompareSnapshot(path));
                        }
                    }
                    SnapshotMode::Import => {
                        let selected = self.tags || self.desired;
                        if ui
                            .add_enabled(
                                has_file && selected && !running,
                                egui::Button::new("Preview (dry run)"),
                            )
                            .on_hover_text("Show what would change; nothing is written")
                            .on_disabled_hover_text(
                                "Choose a snapshot file and tags and/or desired",
                            )
                            .clicked()
                        {
                            intents.push(Intent::PlanImport {
                                path,
                                options: ImportOptions {
                                    tags: self.tags,
                                    desired: self.desired,
                                    create_missing: self.create_missing,
                                },
                            });
                        }
                        let writes = match &self.answer {
                            Answer::Planned(plan) => {
                                let counts = plan.counts();
                                counts.updated + counts.created
                            }
                            _ => 0,
                        };
                        if ui
                            .add_enabled(
                                writes > 0 && !running,
                                egui::Button::new(if writes == 0 {
                                    "Import…".to_owned()
                                } else {
                                    format!("Import {writes} devices…")
                                }),
                            )
                            .on_disabled_hover_text(
                                "Preview first; the import writes what the preview shows",
                            )
                            .clicked()
                        {
                            self.confirming = true;
                        }
                    }
                }
                if ui.button("Close").clicked() {
                    open = false;
                }
            });
            if self.confirming {
                self.confirm_ui(ui, host_name, intents);
            }
            ui.separator();
            self.answer_ui(ui);
        });
        open && !modal.should_close()
    }

    fn file_ui(&mut self, ui: &mut Ui, intents: &mut Vec<Intent>) {
        let (request, edited) = self.file.ui(
            ui,
            "Snapshot file",
            FileAction::Open,
            "Open a twin snapshot",
            String::new,
        );
        if edited {
            self.answer = Answer::Nothing;
        }
        if let Some(request) = request {
            intents.push(Intent::PickFile(FilePurpose::Snapshot, request));
        }
    }

    fn confirm_ui(&mut self, ui: &mut Ui, host_name: &str, intents: &mut Vec<Intent>) {
        let Answer::Planned(plan) = &self.answer else {
            return;
        };
        let counts = plan.counts();
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.label(
                RichText::new(format!(
                    "Write to {host_name}: update {} twins and create {} devices?",
                    counts.updated, counts.created
                ))
                .strong(),
            );
            ui.label("Each twin is written only if it has not changed since the preview.");
            ui.horizontal(|ui| {
                if ui.button("Import now").clicked() {
                    intents.push(Intent::ApplyImport(plan.clone()));
                    self.confirming = false;
                }
                if ui.button("Not now").clicked() {
                    self.confirming = false;
                }
            });
        });
    }

    fn answer_ui(&self, ui: &mut Ui) {
        egui::ScrollArea::vertical()
            .id_salt("snapshot-answer")
            .max_height(420.0)
            .show(ui, |ui| match &self.answer {
                Answer::Nothing => {
                    ui.weak("Choose a snapshot file.");
                }
                Answer::Compared {
                    header,
                    devices,
                    comparison,
                } => {
                    ui.label(format!(
                        "Snapshot of {} taken {} ({devices} devices): {} differ from the hub.",
                        header.hub_host_name,
                        header.taken_at,
                        comparison.len()
                    ));
                    for (device_id, difference) in comparison {
                        match difference {
                            DeviceDifference::Added => {
                                ui.label(format!("{device_id}: only on the hub"));
                            }
                            DeviceDifference::Removed => {
                                ui.label(format!("{device_id}: in the snapshot, no longer on the hub"));
                            }
                            DeviceDifference::Changed(changes) => {
                                egui::CollapsingHeader::new(format!(
                                    "{device_id}: {} change(s) since the snapshot",
                                    changes.len()
                                ))
                                .default_open(comparison.len() <= 20)
                                .show(ui, |ui| changes_ui(ui, changes, "no changes"));
                            }
                        }
                    }
                }
                Answer::Planned(plan) => {
                    let counts = plan.counts();
                    ui.label(format!(
                        "Dry run: {} to update, {} to create, {} unchanged, {} missing (skipped).",
                        counts.updated, counts.created, counts.unchanged, counts.skipped_missing
                    ));
                    for device in &plan.devices {
                        let action = match device.action {
                            ImportAction::Create => "create",
                            ImportAction::Update => "update",
                            ImportAction::Unchanged => continue,
                            ImportAction::SkipMissing => "missing on the hub, skipped",
                        };
                        egui::CollapsingHeader::new(format!("{}: {action}", device.device_id))
                            .default_open(plan.devices.len() <= 20)
                            .show(ui, |ui| changes_ui(ui, &device.changes, "no changes"));
                    }
                }
                Answer::Imported(report) => {
                    let counts = report.counts();
                    ui.label(format!(
                        "Imported: {} updated, {} created, {} unchanged, {} skipped, {} conflicts, {} failed.",
                        counts.updated,
                        counts.created,
                        counts.unchanged,
                        counts.skipped_missing,
                        counts.conflicts,
                        counts.failed
                    ));
                    for result in &report.results {
                        let text = match &result.outcome {
                            ImportOutcome::Conflict => "changed on the hub after the preview; not written (preview again)".to_owned(),
                            ImportOutcome::Failed(why) => format!("failed: {why}"),
                            _ => continue,
                        };
                        ui.colored_label(
                            ui.visuals().warn_fg_color,
                            format!("{}: {text}", result.device_id),
                        );
                    }
                }
            });
    }
}
