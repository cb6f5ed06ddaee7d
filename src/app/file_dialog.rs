//! The explorer's only door to native file dialogs. A [`FilePicker`] is a plain function,
//! so tests replace it; the default one asks the desktop (rfd) on its own thread so a
//! slow or missing portal never freezes a frame. When no dialog can be shown (no desktop
//! portal answers), the caller falls back to a path typed in the app, and says why.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An answer faster than this cannot be a person cancelling: no dialog was shown.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(400);

/// Save a new file or open an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// Choose where to write.
    Save,
    /// Choose a file to read.
    Open,
}

/// The kind of file a dialog offers: its name and extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFilter {
    /// What the files are, as the dialog lists it.
    pub name: &'static str,
    /// Their extensions, without the dot.
    pub extensions: &'static [&'static str],
}

/// Snapshots and the other JSON and NDJSON files the explorer writes and reads.
pub const SNAPSHOT_FILES: FileFilter = FileFilter {
    name: "Twin snapshots",
    extensions: &["json", "ndjson"],
};

/// DTDL model files.
pub const MODEL_FILES: FileFilter = FileFilter {
    name: "DTDL models",
    extensions: &["json"],
};

/// What to ask the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRequest {
    /// Save or open.
    pub action: FileAction,
    /// The dialog's title.
    pub title: String,
    /// The folder it starts in.
    pub folder: PathBuf,
    /// The suggested file name (save only).
    pub file_name: String,
    /// The kind of file offered.
    pub filter: FileFilter,
}

/// What the user (or the desktop) answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickedFile {
    /// A file was chosen.
    Chosen(PathBuf),
    /// The user closed the dialog.
    Cancelled,
    /// No dialog could be shown, and why.
    Unavailable(String),
}

/// Shows a file dialog and waits for the answer (called off the UI thread).
pub type FilePicker = Arc<dyn Fn(&FileRequest) -> PickedFile + Send + Sync>;

/// The desktop's native dialog.
pub fn native_picker() -> FilePicker {
    Arc::new(|request: &FileRequest| {
        let dialog = rfd::FileDialog::new()
            .set_title(&request.title)
            .set_directory(&request.folder)
            .add_filter(request.filter.name, request.filter.extensions);
        let started = Instant::now();
        let chosen = match request.action {
            FileAction::Save => dialog.set_file_name(&request.file_name).save_file(),
            FileAction::Open => dialog.pick_file(),
        };
        match chosen {
            Some(path) => PickedFile::Chosen(path),
            None if started.elapsed() < NO_DIALOG_WITHIN => PickedFile::Unavailable(
                "no native file dialog could be shown (no desktop portal answered)".into(),
            ),
            None => PickedFile::Cancelled,
        }
    })
}

/// A dialog on its way: the answer arrives from the dialog's thread.
pub struct PendingPick {
    answer: mpsc::Receiver<PickedFile>,
}

impl PendingPick {
    /// Starts `picker` on its own thread; `wake` is called when it answers.
    pub fn start(
        picker: &FilePicker,
        request: FileRequest,
        wake: impl Fn() + Send + 'static,
    ) -> PendingPick {
        let (sender, answer) = mpsc::channel();
        let picker = Arc::clone(picker);
        let spawned = std::thread::Builder::new()
            .name("twinlens-file-dialog".into())
            .spawn(move || {
                // The receiver may be gone when the user closed what asked; nothing to do.
                let _ = sender.send(picker(&request));
                wake();
            });
        if let Err(error) = spawned {
            let (sender, answer) = mpsc::channel();
            let _ = sender.send(PickedFile::Unavailable(format!(
                "the file dialog could not be started: {error}"
            )));
            return PendingPick { answer };
        }
        PendingPick { answer }
    }

    /// The answer, once there is one.
    pub fn poll(&self) -> Option<PickedFile> {
        match self.answer.try_recv() {
            Ok(answer) => Some(answer),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(PickedFile::Unavailable(
                "the file dialog ended without an answer".into(),
            )),
        }
    }
}

/// The folder file dialogs start in: the user's documents, else home, else here.
pub fn default_folder() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|dirs| {
            dirs.document_dir()
                .map(PathBuf::from)
                .or_else(|| Some(dirs.home_dir().to_path_buf()))
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_picker_answers_through_the_pending_pick() {
        let picker: FilePicker = Arc::new(|request: &FileRequest| {
            PickedFile::Chosen(request.folder.join(&request.file_name))
        });
        let request = FileRequest {
            action: FileAction::Save,
            title: "Export".into(),
            folder: PathBuf::from("/tmp"),
            file_name: "x.json".into(),
            filter: SNAPSHOT_FILES,
        };
        let (woken, wake) = mpsc::channel();
        let pending = PendingPick::start(&picker, request, move || {
            let _ = woken.send(());
        });
        wake.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            pending.poll(),
            Some(PickedFile::Chosen(PathBuf::from("/tmp/x.json")))
        );
    }
}
