//! The DTDL models the explorer knows: the interfaces loaded from files the user opened
//! and from the models folder (the worker reads the files; this loads their text into a
//! [`ModelSet`]), what the last loads found, and how a device's model id resolves
//! against them.

use std::path::PathBuf;

use crate::dtdl::{ModelSet, ResolvedModel};

/// Where model files are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// One file the user opened.
    File(PathBuf),
    /// Every `*.json` file in a folder and its subfolders.
    Folder(PathBuf),
}

impl ModelSource {
    /// `the model file X` or `the models folder X`, for messages.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::File(path) => format!("the model file {}", path.display()),
            ModelSource::Folder(path) => format!("the models folder {}", path.display()),
        }
    }
}

/// Model files as the worker read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// What was asked for.
    pub source: ModelSource,
    /// Each file read: its name (as messages show it) and its text.
    pub files: Vec<(String, String)>,
    /// Files (or the folder) that could not be read, and why.
    pub unreadable: Vec<String>,
}

/// What one load found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// What was read.
    pub source: ModelSource,
    /// Interfaces loaded (inline ones included).
    pub interfaces: usize,
    /// Files that loaded.
    pub files: usize,
    /// Each file that failed, with what to change (the DTDL error names the file).
    pub failed: Vec<String>,
}

impl LoadReport {
    /// One line for the event log and the settings: how many interfaces from where.
    pub fn summary(&self) -> String {
        let failed = match self.failed.len() {
            0 => String::new(),
            1 => "; 1 file failed".to_owned(),
            count => format!("; {count} files failed"),
        };
        format!(
            "{} interface{} loaded from {} ({} file{}){failed}",
            self.interfaces,
            if self.interfaces == 1 { "" } else { "s" },
            self.source.describe(),
            self.files,
            if self.files == 1 { "" } else { "s" },
        )
    }
}

/// Adds `files` to `set`, counting in `report`; returns the files that loaded.
fn add_files<'a>(
    set: &mut ModelSet,
    files: &'a [(String, String)],
    report: &mut LoadReport,
) -> Vec<&'a (String, String)> {
    let mut loaded = Vec::new();
    for file in files {
        match set.add_file(&file.0, &file.1) {
            Ok(ids) => {
                report.interfaces += ids.len();
                report.files += 1;
                loaded.push(file);
            }
            Err(error) => report.failed.push(error.to_string()),
        }
    }
    loaded
}

/// How a device's model id stands against the loaded models.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatus {
    /// The device announced no model id.
    NoModelId,
    /// The model id's interface is not loaded.
    NotLoaded(String),
    /// The model breaks DTDL's rules across interfaces; what to change.
    Broken(String),
    /// The model, with the interfaces it needs that are not loaded.
    Resolved(Box<ResolvedModel>),
}

/// The loaded models and the last load of each kind.
#[derive(Debug, Default)]
pub struct ModelLibrary {
    set: ModelSet,
    /// Changes with every load, so views made from a model are made again.
    revision: u64,
    /// The last models-folder load.
    folder: Option<LoadReport>,
    /// The last model file opened.
    opened: Option<LoadReport>,
    /// The files of the models folder as last read: its interfaces are loaded again
    /// from them (without the old folder's) when the folder is read again.
    folder_files: Vec<(String, String)>,
    /// Every model file the user opened that loaded, by name, kept loaded over folder
    /// reads.
    opened_files: Vec<(String, String)>,
}

impl ModelLibrary {
    /// Loads the files read from a source; a file that fails adds nothing of its own
    /// (later files may still need what it would have defined). Reading the models
    /// folder replaces what the folder gave before (a folder changed in the settings
    /// leaves nothing of the old one); opened files stay loaded and keep the last word.
    pub fn load(&mut self, read: ModelFiles) -> &LoadReport {
        let mut report = LoadReport {
            source: read.source,
            interfaces: 0,
            files: 0,
            failed: read.unreadable,
        };
        match report.source {
            ModelSource::Folder(_) => {
                self.folder_files = read.files;
                self.set = ModelSet::default();
                add_files(&mut self.set, &self.folder_files, &mut report);
                // Opened files go in again after the folder; one that needed what the
                // old folder had fails now, and says so in this report.
                let mut reopened = LoadReport {
                    source: report.source.clone(),
                    interfaces: 0,
                    files: 0,
                    failed: Vec::new(),
                };
                add_files(&mut self.set, &self.opened_files, &mut reopened);
                report.failed.extend(reopened.failed);
            }
            ModelSource::File(_) => {
                for (name, text) in add_files(&mut self.set, &read.files, &mut report) {
                    self.opened_files.retain(|(opened, _)| opened != name);
                    self.opened_files.push((name.clone(), text.clone()));
                }
            }
        }
        self.revision += 1;
        let slot = match report.source {
            ModelSource::File(_) => &mut self.opened,
            ModelSource::Folder(_) => &mut self.folder,
        };
        slot.insert(report)
    }

    /// Changes with every load.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// How many interfaces are loaded.
    pub fn interfaces(&self) -> usize {
        self.set.ids().count()
    }

    /// The `@id`s of the loaded interfaces, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.set.ids()
    }

    /// The last models-folder load.
    pub fn folder_report(&self) -> Option<&LoadReport> {
        self.folder.as_ref()
    }

    /// The last model file opened.
    pub fn opened_report(&self) -> Option<&LoadReport> {
        self.opened.as_ref()
    }

    /// How `model_id` (a device's announced model, empty for none) resolves.
    pub fn status(&self, model_id: &str) -> ModelStatus {
        if model_id.is_empty() {
            return ModelStatus::NoModelId;
        }
        if self.set.interface(model_id).is_none() {
            return ModelStatus::NotLoaded(model_id.to_owned());
        }
        match self.set.resolve(model_id) {
            Ok(model) => ModelStatus::Resolved(Box::new(model)),
            Err(error) => ModelStatus::Broken(error.to_string()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// The Thermostat and TemperatureController sample models, as files in a folder.
    pub(crate) fn sample_files() -> ModelFiles {
        ModelFiles {
            source: ModelSource::Folder(PathBuf::from("models")),
            files: vec![
                (
                    "TemperatureController.json".into(),
                    include_str!("../dtdl/samples/TemperatureController.json").into(),
                ),
                (
                    "Thermostat.json".into(),
                    include_str!("../dtdl/samples/Thermostat.json").into(),
                ),
            ],
            unreadable: Vec::new(),
        }
    }

    #[test]
    fn a_folder_loads_what_it_can_and_names_what_failed() {
        let mut library = ModelLibrary::default();
        let mut files = sample_files();
        files.files.push(("Broken.json".into(), "{".into()));
        files
            .unreadable
            .push("models/locked.json: permission denied".into());
        let report = library.load(files).clone();
        assert_eq!((report.interfaces, report.files), (2, 2));
        assert_eq!(report.failed.len(), 2);
        assert!(
            report.failed[1].contains("Broken.json"),
            "{:?}",
            report.failed
        );
        assert_eq!(
            report.summary(),
            "2 interfaces loaded from the models folder models (2 files); 2 files failed"
        );
        assert_eq!(library.folder_report(), Some(&report));
        assert_eq!(library.opened_report(), None);
        assert_eq!(library.interfaces(), 2);
        assert_eq!(library.revision(), 1);
    }

    #[test]
    fn reading_the_folder_again_drops_what_it_no_longer_has_but_keeps_opened_files() {
        let controller = "dtmi:com:example:TemperatureController;1";
        let thermostat = "dtmi:com:example:Thermostat;1";
        let mut library = ModelLibrary::default();
        library.load(sample_files());
        let device_information = ModelFiles {
            source: ModelSource::File(PathBuf::from("DeviceInformation.json")),
            files: vec![(
                "DeviceInformation.json".into(),
                include_str!("../dtdl/samples/DeviceInformation.json").into(),
            )],
            unreadable: Vec::new(),
        };
        library.load(device_information);
        assert_eq!(library.interfaces(), 3);

        // Another folder, with the thermostat only.
        let mut other = sample_files();
        other.source = ModelSource::Folder(PathBuf::from("other-models"));
        other.files.retain(|(name, _)| name == "Thermostat.json");
        let report = library.load(other).clone();
        assert_eq!((report.interfaces, report.files), (1, 1));
        let ids: Vec<&str> = library.ids().collect();
        assert_eq!(
            ids,
            [
                "dtmi:azure:DeviceManagement:DeviceInformation;1",
                thermostat
            ]
        );
        assert_eq!(
            library.status(controller),
            ModelStatus::NotLoaded(controller.into())
        );
        assert_eq!(library.revision(), 3);
    }

    #[test]
    fn a_model_id_resolves_names_what_is_missing_or_is_not_loaded() {
        let mut library = ModelLibrary::default();
        assert_eq!(library.status(""), ModelStatus::NoModelId);
        let controller = "dtmi:com:example:TemperatureController;1";
        assert_eq!(
            library.status(controller),
            ModelStatus::NotLoaded(controller.into())
        );
        library.load(sample_files());
        let ModelStatus::Resolved(model) = library.status(controller) else {
            panic!("the controller resolves");
        };
        assert!(model.component("thermostat1").is_some());
        assert_eq!(model.missing.len(), 1, "DeviceInformation is not loaded");
        assert!(model.missing[0].to_string().contains("deviceInformation"));
    }
}
