//! Saved hub connections: a small JSON file in the user's config folder, readable by
//! the user only (0600) because it holds shared access keys; keys are masked whenever
//! a connection string is shown.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name inside the config folder.
pub const CONNECTIONS_FILE: &str = "connections.json";

/// One saved connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedConnection {
    /// The name the user gave it.
    pub name: String,
    /// The service connection string (with its key).
    pub connection_string: String,
}

/// Why saved connections could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionsError {
    /// The file could not be read or written.
    #[error("could not {action} the saved connections file {}: {source}; check the folder's permissions", path.display())]
    Io {
        /// read or write.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a list of connections.
    #[error("the saved connections file {} is damaged ({source}); fix or delete it", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// The default location: `<config dir>/twinlens/connections.json`.
pub fn default_connections_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "twinlens")
        .map(|dirs| dirs.config_dir().join(CONNECTIONS_FILE))
}

/// Reads the saved connections; a missing file means none.
pub fn load_connections(path: &Path) -> Result<Vec<SavedConnection>, ConnectionsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ConnectionsError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_str(&text).map_err(|source| ConnectionsError::Damaged {
        path: path.to_owned(),
        source,
    })
}

/// Writes the saved connections atomically, readable by the user only.
pub fn save_connections(
    path: &Path,
    connections: &[SavedConnection],
) -> Result<(), ConnectionsError> {
    let io = |source| ConnectionsError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let folder = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(folder).map_err(io)?;
    // tempfile creates the file with mode 0600 on Unix, so the keys are never readable
    // by others, not even for a moment.
    let mut file = tempfile::NamedTempFile::new_in(folder).map_err(io)?;
    let text = serde_json::to_string_pretty(connections).unwrap_or_else(|_| "[]".into());
    file.write_all(text.as_bytes()).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|error| io(error.error))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_owner_only_permissions() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("nested").join(CONNECTIONS_FILE);
        assert!(load_connections(&path).unwrap().is_empty());
        let saved = vec![SavedConnection {
            name: "prod".into(),
            connection_string: "HostName=h;SharedAccessKeyName=k;SharedAccessKey=s".into(),
        }];
        save_connections(&path, &saved).unwrap();
        assert_eq!(load_connections(&path).unwrap(), saved);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_file_is_reported() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join(CONNECTIONS_FILE);
        std::fs::write(&path, "{not json").unwrap();
        let error = load_connections(&path).unwrap_err().to_string();
        assert!(
            error.contains("damaged") && error.contains("fix or delete"),
            "{error}"
        );
    }
}
