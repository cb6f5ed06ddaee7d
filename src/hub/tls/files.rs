//! The files of the certificate folder: their names, reading them, and replacing them
//! atomically so that a crash never leaves half a key behind. Knows nothing about
//! what the files contain.

use std::io::Write;
use std::path::Path;

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
/// same folder (created with its final permissions), then renamed over the old one; a
/// failed write removes its temporary file.
pub(super) fn write_atomically(
    dir: &Path,
    file: &'static str,
    contents: &str,
    access: Access,
) -> Result<(), TlsError> {
    let write = || -> std::io::Result<()> {
        let prefix = format!(".{file}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = match access {
                Access::OwnerOnly => 0o600,
                Access::Public => 0o644,
            };
            builder.permissions(std::fs::Permissions::from_mode(mode));
        }
        #[cfg(not(unix))]
        let _ = access;
        let mut temporary = builder.tempfile_in(dir)?;
        temporary.write_all(contents.as_bytes())?;
        temporary.as_file().sync_all()?;
        temporary
            .persist(dir.join(file))
            .map(drop)
            .map_err(|error| error.error)
    };
    write().map_err(|source| TlsError::Write {
        dir: dir.to_owned(),
        file,
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn files_get_the_permissions_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), SERVER_KEY, "old", Access::OwnerOnly).unwrap();
        write_atomically(dir.path(), SERVER_KEY, "fresh", Access::OwnerOnly).unwrap();
        write_atomically(dir.path(), CA_CERT, "pem", Access::Public).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SERVER_KEY)).unwrap(),
            "fresh"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |file| {
                std::fs::metadata(dir.path().join(file))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode(SERVER_KEY), 0o600);
            assert_eq!(mode(CA_CERT), 0o644);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
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
