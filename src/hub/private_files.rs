//! The hub's secret files, readable by their owner only whatever the mode of the folder
//! they are in: the store (`hub.db` with its WAL and shared-memory files holds the owner
//! key and every device key) and the TLS private keys. New files are created 0600 and
//! existing ones are tightened on start, with a log line saying what changed.

use std::path::{Path, PathBuf};

/// Creates `path` empty and owner-only when it does not exist yet. SQLite gives the WAL
/// and shared-memory files it creates next to a database the database file's mode, so
/// creating the store this way keeps all three private.
pub fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Removes every permission but the owner's from those of `paths` that exist, logging
/// each file it changed. Returns the files changed, with their previous modes.
pub fn tighten(paths: &[PathBuf]) -> std::io::Result<Vec<(PathBuf, u32)>> {
    let mut changed = Vec::new();
    #[cfg(unix)]
    for path in paths {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            continue;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        tracing::info!(
            "{} was readable by others (mode {mode:04o}); it holds keys, so it is now {:04o}",
            path.display(),
            mode & 0o700
        );
        changed.push((path.clone(), mode));
    }
    #[cfg(not(unix))]
    let _ = paths;
    Ok(changed)
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_are_owner_only_in_an_open_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let store = dir.path().join("hub.db");
        create_owner_only(&store).unwrap();
        assert_eq!(mode(&store), 0o600);
        std::fs::write(&store, "kept").unwrap();
        create_owner_only(&store).unwrap();
        assert_eq!(std::fs::read_to_string(&store).unwrap(), "kept");
    }

    #[test]
    fn loose_files_are_tightened_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let loose = dir.path().join("hub.db");
        let private = dir.path().join("hub.db-wal");
        std::fs::write(&loose, "").unwrap();
        std::fs::write(&private, "").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        let missing = dir.path().join("hub.db-shm");
        let changed = tighten(&[loose.clone(), private.clone(), missing]).unwrap();
        assert_eq!(changed, vec![(loose.clone(), 0o644)]);
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(mode(&private), 0o600);
    }
}
