//! The twin open in the explorer: which device, the twin as last read, the edit in
//! progress (and the unsaved drafts of devices opened before), and the read or save in
//! flight for it. Selecting a device, a read or save finishing, the device being deleted
//! and a new connection all change it here, in one place, so no field is forgotten.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::request::{JobId, Requested};
use super::twin_edit::TwinEdit;
use crate::service::DeviceTwin;

/// How a read or save of a twin ended, as the open twin needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum TwinAnswer {
    /// The twin as read, or as it is after the save.
    Twin(Box<DeviceTwin>),
    /// The device does not exist (any more).
    NotFound,
    /// The save was refused: the twin changed since it was read (its etag moved on).
    Changed,
    /// Anything else; the message says what failed and what to do.
    Failed(String),
}

/// What the caller should do after an answer was folded in.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterAnswer {
    /// Nothing: the answer was for a request made before (another device, an earlier
    /// connection), or changed only what the twin view and editor show.
    Nothing,
    /// The open twin was read: keep the device list's row in step with it.
    Read(Box<DeviceTwin>),
    /// The twin was saved; `open` says whether it is still the open one (if not, only
    /// the device list needs it).
    Saved { twin: Box<DeviceTwin>, open: bool },
    /// The save was refused because the twin changed: read it again with
    /// [`OpenTwin::conflict_read_sent`], and the editor shows what changed.
    ReadTheirs { device_id: String },
    /// The open device no longer exists; the message says so (the editor keeps the text).
    Gone { device_id: String, message: String },
    /// A read failed; `repeated` is true when it failed the same way last time.
    ReadFailed { message: String, repeated: bool },
    /// A save failed; the message is shown beside the editor.
    SaveFailed { device_id: String, message: String },
}

/// Why nothing can be saved right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NothingToSave {
    /// A save is already in flight.
    Saving,
    /// No twin is open in the editor.
    NoEdit,
    /// A conflict waits to be resolved.
    Conflict,
    /// The text has an error.
    Invalid,
    /// The text equals the twin.
    Unchanged,
}

impl NothingToSave {
    /// Why, in words for the event log (none when the reason needs no words).
    pub fn explanation(self) -> Option<&'static str> {
        match self {
            NothingToSave::Saving | NothingToSave::NoEdit => None,
            NothingToSave::Conflict => {
                Some("resolve the conflict first (merge, overwrite or discard)")
            }
            NothingToSave::Invalid => Some("fix the error shown in the editor first"),
            NothingToSave::Unchanged => Some("there are no changes to save"),
        }
    }
}

/// A save to send: the patch, and the etag the edit started from.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinSave {
    /// The device whose twin is patched.
    pub device_id: String,
    /// The merge patch.
    pub patch: Value,
    /// The etag to send in `If-Match`.
    pub etag: Option<String>,
}

/// The open twin and everything in flight for it.
#[derive(Debug, Default)]
pub struct OpenTwin {
    device_id: Option<String>,
    twin: Requested<DeviceTwin>,
    /// Changes whenever the shown twin does, so views rebuild their text only then.
    generation: u64,
    read: Option<JobId>,
    last_read: Option<Instant>,
    edit: Option<TwinEdit>,
    /// Unsaved edits of devices not open right now, restored when reopened.
    drafts: HashMap<String, TwinEdit>,
    /// The open device was deleted on the hub; stop reading it.
    gone: bool,
    save: Option<JobId>,
    /// The read that follows a save refused because the twin changed.
    conflict_read: Option<JobId>,
    save_error: Option<String>,
    /// Why the last read failed, until one succeeds (a failure is reported once, not on
    /// every periodic read).
    read_error: Option<String>,
}

impl OpenTwin {
    /// The open device.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The twin as last read (with the state of the read in flight).
    pub fn twin(&self) -> &Requested<DeviceTwin> {
        &self.twin
    }

    /// Changes whenever the shown twin does.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The edit of the open twin, once it has been read (or a draft restored).
    pub fn edit_mut(&mut self) -> Option<&mut TwinEdit> {
        self.edit.as_mut()
    }

    /// Whether a save is in flight.
    pub fn is_saving(&self) -> bool {
        self.save.is_some()
    }

    /// Why the last save failed, until the next one.
    pub fn save_error(&self) -> Option<&str> {
        self.save_error.as_deref()
    }

    /// Shows why a save cannot go ahead (e.g. a merge that failed).
    pub fn set_save_error(&mut self, message: impl Into<String>) {
        self.save_error = Some(message.into());
    }

    /// Opens `device_id`, keeping the unsaved edit of the device open before as a draft
    /// and restoring this device's own draft. Returns false when it was open already
    /// (and still exists): nothing changed and nothing needs reading.
    pub fn select(&mut self, device_id: &str) -> bool {
        if self.device_id.as_deref() == Some(device_id) && !self.gone {
            return false;
        }
        if let Some(edit) = self.edit.take()
            && edit.is_dirty()
        {
            self.drafts.insert(edit.device_id(), edit);
        }
        self.edit = self.drafts.remove(device_id);
        self.device_id = Some(device_id.to_owned());
        self.gone = false;
        self.twin = Requested::Idle;
        self.generation += 1;
        self.read = None;
        self.conflict_read = None;
        self.save_error = None;
        self.read_error = None;
        true
    }

    /// The device to read now: the open one, unless a read of it is in flight.
    pub fn to_read(&self) -> Option<&str> {
        match self.read {
            Some(_) => None,
            None => self.device_id.as_deref(),
        }
    }

    /// A read of the open twin was sent as `job` at `now`.
    pub fn read_sent(&mut self, job: JobId, now: Instant) {
        self.twin.start();
        self.read = Some(job);
        self.last_read = Some(now);
    }

    /// A read could not be sent (the worker is busy): the next try is due after the
    /// usual interval, not on every frame.
    pub fn read_not_sent(&mut self, now: Instant) {
        self.last_read = Some(now);
    }

    /// Whether the open twin is due to be read again, `interval` after the last read,
    /// when nothing for it is in flight and it still exists.
    pub fn read_due(&self, now: Instant, interval: Duration) -> bool {
        self.device_id.is_some()
            && !self.gone
            && self.read.is_none()
            && self.save.is_none()
            && self
                .last_read
                .is_none_or(|last| now.saturating_duration_since(last) >= interval)
    }

    /// Something changed the twin (a simulated device, an import): read it again soon.
    pub fn read_soon(&mut self) {
        self.last_read = None;
    }

    /// Whether `device_id` is the open device.
    pub fn is_open(&self, device_id: &str) -> bool {
        self.device_id.as_deref() == Some(device_id)
    }

    /// What to save, or why nothing can be: checks a change still waiting first.
    pub fn to_save(&mut self) -> Result<TwinSave, NothingToSave> {
        if self.save.is_some() {
            return Err(NothingToSave::Saving);
        }
        let edit = self.edit.as_mut().ok_or(NothingToSave::NoEdit)?;
        if edit.check_pending() {
            edit.recheck();
        }
        match edit.patch_to_send() {
            Some((patch, etag)) => Ok(TwinSave {
                device_id: edit.device_id(),
                patch,
                etag,
            }),
            None if edit.conflict().is_some() => Err(NothingToSave::Conflict),
            None if edit.is_dirty() => Err(NothingToSave::Invalid),
            None => Err(NothingToSave::Unchanged),
        }
    }

    /// The save was sent as `job`.
    pub fn save_sent(&mut self, job: JobId) {
        self.save = Some(job);
        self.save_error = None;
    }

    /// The read after a refused save was sent as `job`.
    pub fn conflict_read_sent(&mut self, job: JobId) {
        self.conflict_read = Some(job);
    }

    /// Folds in the answer to `job`, a read or save of `device_id`'s twin.
    pub fn answer(&mut self, job: JobId, device_id: &str, answer: TwinAnswer) -> AfterAnswer {
        if self.read == Some(job) {
            self.read = None;
            self.read_answered(device_id, answer)
        } else if self.conflict_read == Some(job) {
            self.conflict_read = None;
            self.conflict_read_answered(device_id, answer)
        } else if self.save == Some(job) {
            self.save = None;
            self.save_answered(device_id, answer)
        } else {
            AfterAnswer::Nothing
        }
    }

    fn read_answered(&mut self, device_id: &str, answer: TwinAnswer) -> AfterAnswer {
        if !self.is_open(device_id) {
            return AfterAnswer::Nothing;
        }
        match answer {
            TwinAnswer::Twin(twin) => {
                self.read_error = None;
                self.arrived(twin.clone());
                AfterAnswer::Read(twin)
            }
            TwinAnswer::NotFound => self.gone(device_id),
            TwinAnswer::Changed => AfterAnswer::Nothing,
            TwinAnswer::Failed(message) => {
                let repeated = self.read_error.as_ref() == Some(&message);
                self.read_error = Some(message.clone());
                self.twin.fail(message.clone());
                AfterAnswer::ReadFailed { message, repeated }
            }
        }
    }

    fn conflict_read_answered(&mut self, device_id: &str, answer: TwinAnswer) -> AfterAnswer {
        if !self.is_open(device_id) {
            return AfterAnswer::Nothing;
        }
        match answer {
            TwinAnswer::Twin(twin) => {
                self.show(twin.clone());
                if let Some(edit) = &mut self.edit {
                    edit.save_refused(twin.to_json());
                }
                AfterAnswer::Read(twin)
            }
            TwinAnswer::NotFound => self.gone(device_id),
            TwinAnswer::Changed => AfterAnswer::Nothing,
            TwinAnswer::Failed(message) => {
                self.save_error = Some(message);
                AfterAnswer::Nothing
            }
        }
    }

    fn save_answered(&mut self, device_id: &str, answer: TwinAnswer) -> AfterAnswer {
        let open = self.is_open(device_id);
        match answer {
            TwinAnswer::Twin(twin) => {
                if open {
                    self.show(twin.clone());
                    if let Some(edit) = &mut self.edit {
                        edit.saved(twin.to_json());
                    }
                }
                AfterAnswer::Saved { twin, open }
            }
            TwinAnswer::Changed => AfterAnswer::ReadTheirs {
                device_id: device_id.to_owned(),
            },
            TwinAnswer::NotFound if open => self.gone(device_id),
            TwinAnswer::NotFound => AfterAnswer::SaveFailed {
                device_id: device_id.to_owned(),
                message: format!("{device_id} no longer exists on the hub"),
            },
            TwinAnswer::Failed(message) => {
                if open {
                    self.save_error = Some(message.clone());
                }
                AfterAnswer::SaveFailed {
                    device_id: device_id.to_owned(),
                    message,
                }
            }
        }
    }

    /// Opens `twin` as if it had just been read from the hub (for callers that bring
    /// their own twin, such as benchmarks).
    pub fn open_read(&mut self, twin: Box<DeviceTwin>) {
        self.select(&super::twin_key::of_twin(&twin));
        self.arrived(twin);
    }

    /// A fresh read of the open twin: shown, and in the editor (whose unsaved edits
    /// are kept, or become a conflict when the twin changed under them).
    fn arrived(&mut self, twin: Box<DeviceTwin>) {
        let document = twin.to_json();
        match &mut self.edit {
            Some(edit) if edit.device_id() == super::twin_key::of_twin(&twin) => {
                edit.refreshed(document)
            }
            _ => self.edit = Some(TwinEdit::open(document)),
        }
        self.show(twin);
    }

    /// Shows `twin` as the open one.
    fn show(&mut self, twin: Box<DeviceTwin>) {
        if self.twin.latest() != Some(&*twin) {
            self.generation += 1;
        }
        self.twin.succeed(*twin);
    }

    /// The open device no longer exists: say so in place and stop reading it. The
    /// editor's text stays, so nothing typed is lost.
    fn gone(&mut self, device_id: &str) -> AfterAnswer {
        let message = format!(
            "{device_id} no longer exists on the hub (deleted elsewhere?); your edits, if any, are still in the editor to copy"
        );
        self.twin.fail(message.clone());
        self.gone = true;
        AfterAnswer::Gone {
            device_id: device_id.to_owned(),
            message,
        }
    }

    /// `device_id` was deleted from this explorer: its draft goes, and if it was open,
    /// nothing is open any more.
    pub fn device_deleted(&mut self, device_id: &str) {
        self.drafts.remove(device_id);
        if self.is_open(device_id) {
            let drafts = std::mem::take(&mut self.drafts);
            let generation = self.generation + 1;
            *self = OpenTwin {
                drafts,
                generation,
                ..OpenTwin::default()
            };
        }
    }

    /// Another hub: nothing is open, nothing is in flight, no drafts are kept.
    pub fn reset(&mut self) {
        let generation = self.generation + 1;
        *self = OpenTwin {
            generation,
            ..OpenTwin::default()
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn twin(device_id: &str, etag: &str, desired: Value) -> Box<DeviceTwin> {
        serde_json::from_value(json!({
            "deviceId": device_id,
            "etag": etag,
            "version": 2,
            "tags": {},
            "properties": {"desired": desired, "reported": {}}
        }))
        .unwrap()
    }

    /// `device_id` open and read once as `twin`.
    fn opened(device_id: &str, read: TwinAnswer) -> OpenTwin {
        let mut open = OpenTwin::default();
        assert!(open.select(device_id));
        open.read_sent(JobId(1), Instant::now());
        open.answer(JobId(1), device_id, read);
        open
    }

    fn type_desired(open: &mut OpenTwin, desired: Value) {
        let edit = open.edit_mut().unwrap();
        let mut document: Value = serde_json::from_str(edit.text()).unwrap();
        document["properties"]["desired"] = desired;
        edit.set_text(serde_json::to_string_pretty(&document).unwrap());
    }

    #[test]
    fn a_read_shows_the_twin_and_opens_the_editor() {
        let mut open = OpenTwin::default();
        assert!(open.select("a"));
        assert_eq!(open.to_read(), Some("a"));
        let now = Instant::now();
        open.read_sent(JobId(7), now);
        assert_eq!(open.to_read(), None, "one read at a time");
        assert!(open.twin().is_pending());
        let read = twin("a", "e1", json!({"x": 1}));
        let after = open.answer(JobId(7), "a", TwinAnswer::Twin(read.clone()));
        assert_eq!(after, AfterAnswer::Read(read.clone()));
        assert_eq!(open.twin().latest(), Some(&*read));
        assert!(open.edit_mut().unwrap().text().contains("\"x\": 1"));
        assert!(!open.read_due(now, Duration::from_secs(3)));
        assert!(open.read_due(now + Duration::from_secs(3), Duration::from_secs(3)));
    }

    #[test]
    fn a_twin_brought_along_opens_as_if_read() {
        let mut open = OpenTwin::default();
        open.open_read(twin("a", "e1", json!({"x": 1})));
        assert_eq!(open.device_id(), Some("a"));
        assert!(open.twin().latest().is_some());
        assert!(open.edit_mut().unwrap().text().contains("\"x\": 1"));
    }

    #[test]
    fn selecting_the_open_device_again_changes_nothing() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        let generation = open.generation();
        assert!(!open.select("a"));
        assert_eq!(open.generation(), generation);
        assert!(open.twin().latest().is_some());
    }

    #[test]
    fn an_answer_for_another_device_or_an_old_job_is_ignored() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        open.read_sent(JobId(2), Instant::now());
        assert!(open.select("b"));
        open.read_sent(JobId(3), Instant::now());
        let late = open.answer(JobId(2), "a", TwinAnswer::Twin(twin("a", "e2", json!({}))));
        assert_eq!(late, AfterAnswer::Nothing);
        assert_eq!(open.twin().latest(), None, "b's twin is not a's");
        let unknown = open.answer(JobId(99), "b", TwinAnswer::NotFound);
        assert_eq!(unknown, AfterAnswer::Nothing);
        assert!(open.twin().is_pending());
    }

    #[test]
    fn unsaved_edits_come_back_when_the_device_is_reopened() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        type_desired(&mut open, json!({"mine": true}));
        assert!(open.select("b"));
        assert!(open.edit_mut().is_none(), "b has no draft");
        assert!(open.select("a"));
        assert!(open.edit_mut().unwrap().text().contains("\"mine\": true"));
        // A fresh read with nothing new keeps the draft.
        open.read_sent(JobId(5), Instant::now());
        open.answer(JobId(5), "a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        assert!(open.edit_mut().unwrap().text().contains("\"mine\": true"));
    }

    #[test]
    fn a_save_sends_the_patch_with_the_etag_and_reopens_on_success() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        assert_eq!(open.to_save(), Err(NothingToSave::Unchanged));
        type_desired(&mut open, json!({"speed": 3}));
        let save = open.to_save().unwrap();
        assert_eq!(save.device_id, "a");
        assert_eq!(save.etag.as_deref(), Some("e1"));
        assert_eq!(save.patch, json!({"properties": {"desired": {"speed": 3}}}));
        open.save_sent(JobId(2));
        assert!(open.is_saving());
        assert_eq!(open.to_save(), Err(NothingToSave::Saving));
        assert!(!open.read_due(Instant::now() + Duration::from_secs(60), Duration::ZERO));
        let saved = twin("a", "e2", json!({"speed": 3}));
        let after = open.answer(JobId(2), "a", TwinAnswer::Twin(saved.clone()));
        assert_eq!(
            after,
            AfterAnswer::Saved {
                twin: saved.clone(),
                open: true
            }
        );
        assert!(!open.is_saving());
        assert_eq!(open.twin().latest(), Some(&*saved));
        assert_eq!(open.to_save(), Err(NothingToSave::Unchanged));
    }

    #[test]
    fn a_save_finishing_after_another_device_was_opened_only_updates_the_list() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        type_desired(&mut open, json!({"speed": 3}));
        open.to_save().unwrap();
        open.save_sent(JobId(2));
        open.select("b");
        let saved = twin("a", "e2", json!({"speed": 3}));
        let after = open.answer(JobId(2), "a", TwinAnswer::Twin(saved.clone()));
        assert_eq!(
            after,
            AfterAnswer::Saved {
                twin: saved,
                open: false
            }
        );
        assert_eq!(open.twin().latest(), None);
    }

    #[test]
    fn a_refused_save_reads_theirs_and_becomes_a_conflict() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        type_desired(&mut open, json!({"speed": 3}));
        open.to_save().unwrap();
        open.save_sent(JobId(2));
        let after = open.answer(JobId(2), "a", TwinAnswer::Changed);
        assert_eq!(
            after,
            AfterAnswer::ReadTheirs {
                device_id: "a".into()
            }
        );
        open.conflict_read_sent(JobId(3));
        let theirs = twin("a", "e9", json!({"speed": 5}));
        open.answer(JobId(3), "a", TwinAnswer::Twin(theirs.clone()));
        assert_eq!(open.twin().latest(), Some(&*theirs));
        assert!(open.edit_mut().unwrap().conflict().is_some());
        assert_eq!(open.to_save(), Err(NothingToSave::Conflict));
    }

    #[test]
    fn a_failed_save_is_shown_beside_the_editor_until_the_next() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        type_desired(&mut open, json!({"speed": 3}));
        open.to_save().unwrap();
        open.save_sent(JobId(2));
        let after = open.answer(JobId(2), "a", TwinAnswer::Failed("hub said no".into()));
        assert_eq!(
            after,
            AfterAnswer::SaveFailed {
                device_id: "a".into(),
                message: "hub said no".into()
            }
        );
        assert_eq!(open.save_error(), Some("hub said no"));
        open.save_sent(JobId(3));
        assert_eq!(open.save_error(), None);
    }

    #[test]
    fn a_failed_read_keeps_the_twin_shown_and_says_when_it_repeats() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        open.read_sent(JobId(2), Instant::now());
        let first = open.answer(JobId(2), "a", TwinAnswer::Failed("down".into()));
        assert_eq!(
            first,
            AfterAnswer::ReadFailed {
                message: "down".into(),
                repeated: false
            }
        );
        assert!(open.twin().latest().is_some());
        open.read_sent(JobId(3), Instant::now());
        let second = open.answer(JobId(3), "a", TwinAnswer::Failed("down".into()));
        assert!(matches!(
            second,
            AfterAnswer::ReadFailed { repeated: true, .. }
        ));
        open.read_sent(JobId(4), Instant::now());
        open.answer(JobId(4), "a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        open.read_sent(JobId(5), Instant::now());
        let after_recovery = open.answer(JobId(5), "a", TwinAnswer::Failed("down".into()));
        assert!(matches!(
            after_recovery,
            AfterAnswer::ReadFailed {
                repeated: false,
                ..
            }
        ));
    }

    #[test]
    fn a_device_deleted_elsewhere_stops_the_reads_but_keeps_the_text() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        type_desired(&mut open, json!({"speed": 3}));
        open.read_sent(JobId(2), Instant::now());
        let after = open.answer(JobId(2), "a", TwinAnswer::NotFound);
        assert!(matches!(after, AfterAnswer::Gone { ref device_id, .. } if device_id == "a"));
        assert!(open.twin().error().unwrap().contains("no longer exists"));
        assert!(!open.read_due(Instant::now() + Duration::from_secs(60), Duration::ZERO));
        assert!(open.edit_mut().unwrap().text().contains("\"speed\": 3"));
        // Selecting it again tries once more (it may have been created again).
        assert!(open.select("a"));
        assert_eq!(open.to_read(), Some("a"));
    }

    #[test]
    fn deleting_a_device_here_closes_it_and_forgets_its_draft() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        type_desired(&mut open, json!({"speed": 3}));
        open.select("b");
        open.device_deleted("a");
        open.select("a");
        assert!(open.edit_mut().is_none(), "a's draft went with it");
        open.device_deleted("a");
        assert_eq!(open.device_id(), None);
        assert_eq!(open.twin().latest(), None);
        assert_eq!(open.to_read(), None);
    }

    #[test]
    fn a_new_connection_forgets_everything() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        type_desired(&mut open, json!({"speed": 3}));
        open.to_save().unwrap();
        open.save_sent(JobId(2));
        let generation = open.generation();
        open.reset();
        assert!(open.generation() > generation, "views rebuild");
        assert_eq!(open.device_id(), None);
        assert!(!open.is_saving());
        let late = open.answer(JobId(2), "a", TwinAnswer::NotFound);
        assert_eq!(late, AfterAnswer::Nothing);
        open.select("a");
        assert!(open.edit_mut().is_none(), "no drafts from the other hub");
    }

    #[test]
    fn a_read_is_due_soon_after_something_changed_the_twin() {
        let mut open = opened("a", TwinAnswer::Twin(twin("a", "e1", json!({}))));
        open.read_not_sent(Instant::now());
        assert!(!open.read_due(Instant::now(), Duration::from_secs(3)));
        open.read_soon();
        assert!(open.read_due(Instant::now(), Duration::from_secs(3)));
    }
}
