//! The files of the certificate folder: their names, reading them, and replacing them
//! atomically so that a crash never leaves half a key behind. Knows nothing about
//! what the files contain.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::TlsError;

/// The CA certificate clients trust.
pub(super) const CA_CERT: &str = "ca.pem";
/// The CA's private key (owner-only).
pub(super) const CA_KEY: &str = "ca-key.pem";
/// The server certificate the hub presents.
pub(super) const SERVER_CERT: &str = "server.pem";
/// The server certificate's private key (owner-only).
pub(super) const SERVER_KEY: &str = "server-key.pem";

/// Who may read a written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// Anyone the folder allows: certificates are public.
    Public,
    /// The owner only (mode 0600 on unix): private keys.
    OwnerOnly,
}

/// The contents of `dir/file`, or `None` when it does not exist.
pub(super) fn read_if_present(dir: &Path, file: &'static str) -> Result<Option<String>, TlsError> {
    match std::fs::read_to_string(dir.join(file)) {
        Ok(contents) => Ok(Some(contents)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TlsError::Read {
            dir: dir.to_owned(),
            file,
            source,
        }),
    }
}

/// Replaces `dir/file` with `contents`: written and synced to a temporary file in the
/// same folder (created with its final permissions), then renamed over the old one.
pub(super) fn write_atomically(
    dir: &Path,
    file: &'static str,
    contents: &str,
    access: Access,
) -> Result<(), TlsError> {
    // Unique per process and call, so concurrent writers never share a temporary file.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let write = WRITES.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{file}.{}.{write}.tmp", std::process::id()));
    let result = write_new(&temporary, contents, access)
        .and_then(|()| std::fs::rename(&temporary, dir.join(file)));
    if result.is_err() {
        // Best effort: the error that matters is the one reported below.
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(|source| TlsError::Write {
        dir: dir.to_owned(),
        file,
        source,
    })
}

/// Creates `path` afresh and writes `contents` durably. A leftover of a crashed process
/// that had the same id is removed first, so the permissions asked for are the ones the
/// file gets.
fn write_new(path: &Path, contents: &str, access: Access) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if access == Access::OwnerOnly {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_leftover_temporary_file_is_replaced_with_the_permissions_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = dir.path().join(".server-key.pem.1.0.tmp");
        std::fs::write(&leftover, "stale").unwrap();
        write_new(&leftover, "fresh", Access::OwnerOnly).unwrap();
        assert_eq!(std::fs::read_to_string(&leftover).unwrap(), "fresh");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&leftover).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_failed_write_reports_the_file_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: the final rename fails.
        std::fs::create_dir(dir.path().join(CA_CERT)).unwrap();
        std::fs::write(dir.path().join(CA_CERT).join("keep"), "x").unwrap();
        let error = write_atomically(dir.path(), CA_CERT, "pem", Access::Public)
            .err()
            .unwrap();
        assert!(
            matches!(error, TlsError::Write { file: CA_CERT, .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("could not write ca.pem in"),
            "{error}"
        );
        let entries = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(entries, 1, "only the folder that was there remains");
    }
}
