//! Reading DTDL model files for the explorer: one file the user opened, or every
//! `*.json` file under the models folder (subfolders included, in path order). Only the
//! reading happens here; the explorer loads the text into its models.

use std::path::{Path, PathBuf};

use crate::explorer::models::{ModelFiles, ModelSource};

/// Reads the model files of `source` (blocking: run it off the async threads).
pub fn read_models(source: ModelSource) -> ModelFiles {
    let mut read = ModelFiles {
        source: source.clone(),
        files: Vec::new(),
        unreadable: Vec::new(),
    };
    let (paths, root) = match &source {
        ModelSource::File(path) => (vec![path.clone()], None),
        ModelSource::Folder(folder) => match json_files(folder) {
            Ok(paths) => (paths, Some(folder.as_path())),
            Err(error) => {
                read.unreadable.push(format!(
                    "the models folder {} could not be read ({error}); check the folder in View, Models folder",
                    folder.display()
                ));
                return read;
            }
        },
    };
    for path in paths {
        let name = root
            .and_then(|root| path.strip_prefix(root).ok())
            .unwrap_or(&path)
            .display()
            .to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => read.files.push((name, text)),
            Err(error) => read.unreadable.push(format!(
                "{} could not be read ({error}); check that it exists and is readable",
                path.display()
            )),
        }
    }
    read
}

/// Every `*.json` file under `folder`, sorted by path.
fn json_files(folder: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_gives_its_json_files_below_it_by_relative_name() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir(folder.path().join("thermostats")).unwrap();
        std::fs::write(folder.path().join("thermostats/Thermostat.json"), "{}").unwrap();
        std::fs::write(folder.path().join("Controller.JSON"), "[]").unwrap();
        std::fs::write(folder.path().join("notes.txt"), "no").unwrap();
        let read = read_models(ModelSource::Folder(folder.path().to_path_buf()));
        let names: Vec<&str> = read.files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["Controller.JSON", "thermostats/Thermostat.json"]);
        assert!(read.unreadable.is_empty());
    }

    #[test]
    fn what_cannot_be_read_says_so() {
        let missing = PathBuf::from("/nonexistent/models");
        let read = read_models(ModelSource::Folder(missing.clone()));
        assert!(read.unreadable[0].contains("models folder /nonexistent/models"));
        let read = read_models(ModelSource::File(missing.join("X.json")));
        assert!(read.files.is_empty());
        assert!(read.unreadable[0].contains("X.json could not be read"));
    }
}
