//! The twin editor's rules: the editable part of a twin (tags and desired properties)
//! as JSON text, checked on every change (JSON syntax, then IoT Hub's rules, each error
//! with its line and path), the merge patch a save sends with the etag the edit started
//! from, and what happens when the twin changed meanwhile: the user's text is never
//! thrown away without being asked; they merge their edits onto the newer twin,
//! overwrite it, or discard their edits.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use super::twin_check::{EditCheck, EditError, editable, pretty};
use super::twin_check::{check_text, parse_document};
use crate::twin::{Change, diff, merge};

/// How long typing must pause before the text is checked again. Checking a 32 KB
/// document costs about a millisecond, so it never runs while keys are coming, and it
/// runs on a helper thread so the frame that notices the pause stays short too.
pub const CHECK_AFTER_PAUSE: Duration = Duration::from_millis(150);

/// Why the twin on the hub differs from the one the edit started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictCause {
    /// A save was refused with 412: the etag no longer matched.
    SaveRefused,
    /// A refresh brought a twin changed elsewhere while the text had unsaved edits.
    ChangedElsewhere,
}

/// The newer twin and what changed in it since the edit started.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// How the conflict was noticed.
    pub cause: ConflictCause,
    /// The twin as it is now on the hub.
    pub theirs: Value,
    /// What changed in tags/desired between the edit's twin and theirs.
    pub their_changes: Vec<Change>,
}

/// A check of the editor's text running on a helper thread.
#[derive(Debug)]
struct BackgroundCheck {
    answer: Receiver<EditCheck>,
}

/// A text for the checking thread to check against the twin's editable part.
struct CheckRequest {
    text: String,
    base: Arc<Value>,
    answer: Sender<EditCheck>,
}

/// Sends `text` to the thread that checks editors' texts (started on first use and
/// kept: starting a thread at every pause cost more than the rest of that frame);
/// `None` if that thread cannot be started, so the caller checks in place.
fn check_in_background(text: String, base: Arc<Value>) -> Option<Receiver<EditCheck>> {
    static CHECKER: OnceLock<Option<Sender<CheckRequest>>> = OnceLock::new();
    let checker = CHECKER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<CheckRequest>();
        std::thread::Builder::new()
            .name("twinlens-check".into())
            .spawn(move || {
                for request in requests {
                    // The editor may have moved on; then nobody waits for this answer.
                    let _ = request
                        .answer
                        .send(check_text(&request.text, &request.base));
                }
            })
            .ok()
            .map(|_| sender)
    });
    let (answer, receiver) = mpsc::channel();
    checker
        .as_ref()?
        .send(CheckRequest { text, base, answer })
        .ok()?;
    Some(receiver)
}

/// One twin being edited.
#[derive(Debug)]
pub struct TwinEdit {
    base: Value,
    /// [`editable`] of `base`, computed once.
    base_editable: Arc<Value>,
    base_text: String,
    text: String,
    check: EditCheck,
    /// When the text last changed without being checked since.
    unchecked_since: Option<Instant>,
    /// A check running on a helper thread, for the text as it was when it started.
    background: Option<BackgroundCheck>,
    conflict: Option<Conflict>,
}

impl TwinEdit {
    /// Starts editing `twin` (as the service API returns it).
    pub fn open(twin: Value) -> TwinEdit {
        let base_editable = Arc::new(editable(&twin));
        let base_text = pretty(&base_editable);
        let mut edit = TwinEdit {
            base: twin,
            base_editable,
            text: base_text.clone(),
            base_text,
            check: EditCheck::Invalid(EditError {
                line: None,
                column: None,
                path: None,
                message: String::new(),
            }),
            unchecked_since: None,
            background: None,
            conflict: None,
        };
        edit.recheck();
        edit
    }

    /// The key of the twin being edited: its device id, or `{deviceId}/{moduleId}`
    /// for a module's twin ([`super::twin_key`]).
    pub fn device_id(&self) -> String {
        super::twin_key::of_document(&self.base)
    }

    /// The etag the edit started from, sent with the save.
    pub fn etag(&self) -> Option<&str> {
        self.base.get("etag").and_then(Value::as_str)
    }

    /// The twin the edit started from.
    pub fn base(&self) -> &Value {
        &self.base
    }

    /// The editor's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The editor's text, for the text widget; call [`Self::edited`] after a change.
    pub fn text_mut(&mut self) -> &mut String {
        &mut self.text
    }

    /// The text changed at `now`; it is checked once typing pauses
    /// ([`Self::recheck_if_paused`]) or before a save.
    pub fn edited(&mut self, now: Instant) {
        self.unchecked_since = Some(now);
        self.background = None;
    }

    /// Whether a change waits to be checked.
    pub fn check_pending(&self) -> bool {
        self.unchecked_since.is_some()
    }

    /// Once typing paused for [`CHECK_AFTER_PAUSE`], checks the text on a helper
    /// thread; takes the answer when it is there (call once per frame).
    pub fn recheck_if_paused(&mut self, now: Instant) {
        if let Some(background) = &self.background {
            match background.answer.try_recv() {
                Ok(check) => {
                    self.check = check;
                    self.unchecked_since = None;
                    self.background = None;
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => self.recheck(),
            }
            return;
        }
        if self
            .unchecked_since
            .is_some_and(|since| now.saturating_duration_since(since) >= CHECK_AFTER_PAUSE)
        {
            let base = Arc::clone(&self.base_editable);
            match check_in_background(self.text.clone(), base) {
                Some(answer) => self.background = Some(BackgroundCheck { answer }),
                None => self.recheck(),
            }
        }
    }

    /// Replaces the text (as a user would) and checks it.
    pub fn set_text(&mut self, text: impl Into<String>) {
        self.text = text.into();
        self.recheck();
    }

    /// Checks the text now.
    pub fn recheck(&mut self) {
        self.check = check_text(&self.text, &self.base_editable);
        self.unchecked_since = None;
        self.background = None;
    }

    /// What the text amounts to.
    pub fn check(&self) -> &EditCheck {
        &self.check
    }

    /// Whether the text differs from the twin's (unsaved edits, even invalid ones).
    pub fn is_dirty(&self) -> bool {
        self.text != self.base_text
    }

    /// The patch and etag to send, when the text is valid, changes something, and no
    /// conflict is waiting to be resolved (check a pending change first).
    pub fn patch_to_send(&self) -> Option<(Value, Option<String>)> {
        if self.conflict.is_some() || self.unchecked_since.is_some() {
            return None;
        }
        match &self.check {
            EditCheck::Valid { patch, changes } if !changes.is_empty() => {
                Some((patch.clone(), self.etag().map(str::to_owned)))
            }
            _ => None,
        }
    }

    /// The conflict waiting to be resolved, if any.
    pub fn conflict(&self) -> Option<&Conflict> {
        self.conflict.as_ref()
    }

    /// The save succeeded: the hub's twin becomes the new starting point.
    pub fn saved(&mut self, twin: Value) {
        *self = TwinEdit::open(twin);
    }

    /// A save was refused with 412 and `theirs` is the twin now on the hub.
    pub fn save_refused(&mut self, theirs: Value) {
        self.conflict = Some(self.conflict_with(theirs, ConflictCause::SaveRefused));
    }

    /// A fresher twin arrived. Without unsaved edits it simply replaces the text; with
    /// edits and changed tags/desired it becomes a conflict; otherwise (only reported or
    /// bookkeeping changed) it becomes the base silently, keeping the text.
    pub fn refreshed(&mut self, twin: Value) {
        let same_editable = editable(&twin) == *self.base_editable;
        if same_editable {
            self.base = twin;
            if let Some(conflict) = &self.conflict
                && conflict.cause == ConflictCause::ChangedElsewhere
            {
                self.conflict = None;
            }
            self.recheck();
        } else if !self.is_dirty() {
            *self = TwinEdit::open(twin);
        } else if self.conflict.is_none() {
            self.conflict = Some(self.conflict_with(twin, ConflictCause::ChangedElsewhere));
        } else if let Some(conflict) = &mut self.conflict {
            let cause = conflict.cause;
            *conflict = Conflict {
                cause,
                their_changes: diff(&self.base_editable, &editable(&twin)),
                theirs: twin,
            };
        }
    }

    /// Applies the user's edits on top of the newer twin; the user reviews and saves.
    pub fn merge_onto_theirs(&mut self) -> Result<(), EditError> {
        let Some(conflict) = self.conflict.take() else {
            return Ok(());
        };
        let mine = match parse_document(&self.text) {
            Ok(mine) => mine,
            Err(error) => {
                self.conflict = Some(conflict);
                return Err(error);
            }
        };
        let my_patch = merge::merge_patch_between(&self.base_editable, &mine);
        let mut merged = editable(&conflict.theirs);
        merge::merge_patch(&mut merged, &my_patch);
        let text = pretty(&merged);
        *self = TwinEdit::open(conflict.theirs);
        self.set_text(text);
        Ok(())
    }

    /// Makes the user's text win over the newer twin: the next save sends whatever
    /// turns theirs into the text, with their etag.
    pub fn overwrite_theirs(&mut self) {
        if let Some(conflict) = self.conflict.take() {
            let text = std::mem::take(&mut self.text);
            *self = TwinEdit::open(conflict.theirs);
            self.set_text(text);
        }
    }

    /// Drops the user's edits and shows the newer twin.
    pub fn discard_mine(&mut self) {
        let theirs = self.conflict.take().map(|conflict| conflict.theirs);
        *self = TwinEdit::open(theirs.unwrap_or_else(|| self.base.clone()));
    }

    fn conflict_with(&self, theirs: Value, cause: ConflictCause) -> Conflict {
        Conflict {
            cause,
            their_changes: diff(&self.base_editable, &editable(&theirs)),
            theirs,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn twin(etag: &str, tags: Value, desired: Value) -> Value {
        json!({
            "deviceId": "d1", "etag": etag, "version": 2,
            "tags": tags,
            "properties": {
                "desired": desired,
                "reported": {"fw": "1.0", "$version": 1}
            }
        })
    }

    fn base() -> Value {
        twin(
            "AAAA",
            json!({"site": "oslo", "floor": 1}),
            json!({"interval": 5, "$version": 3, "$metadata": {}}),
        )
    }

    fn valid_patch(edit: &TwinEdit) -> Value {
        match edit.check() {
            EditCheck::Valid { patch, .. } => patch.clone(),
            EditCheck::Invalid(error) => panic!("{error}"),
        }
    }

    #[test]
    fn typing_is_checked_only_after_a_pause() {
        let mut edit = TwinEdit::open(base());
        let start = Instant::now();
        edit.text_mut().push_str(" oops");
        edit.edited(start);
        assert!(edit.check_pending());
        assert_eq!(
            edit.patch_to_send(),
            None,
            "an unchecked text is never sent"
        );
        edit.recheck_if_paused(start + CHECK_AFTER_PAUSE / 2);
        assert!(
            matches!(edit.check(), EditCheck::Valid { .. }),
            "not checked yet"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while edit.check_pending() && Instant::now() < deadline {
            edit.recheck_if_paused(start + CHECK_AFTER_PAUSE);
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!edit.check_pending());
        assert!(matches!(edit.check(), EditCheck::Invalid(_)));

        edit.text_mut().push('!');
        edit.edited(start);
        edit.recheck_if_paused(start + CHECK_AFTER_PAUSE);
        edit.text_mut().clear();
        edit.edited(start + CHECK_AFTER_PAUSE);
        assert!(
            edit.check_pending(),
            "a newer edit drops the running check's answer"
        );
    }

    #[test]
    fn the_editable_part_leaves_out_reported_and_system_keys() {
        let edit = TwinEdit::open(base());
        let shown: Value = serde_json::from_str(edit.text()).unwrap();
        assert_eq!(
            shown,
            json!({"tags": {"site": "oslo", "floor": 1}, "properties": {"desired": {"interval": 5}}})
        );
        assert!(!edit.is_dirty());
        assert_eq!(
            edit.patch_to_send(),
            None,
            "nothing changed, nothing to send"
        );
    }

    #[test]
    fn edits_become_a_merge_patch_with_the_etag() {
        let mut edit = TwinEdit::open(base());
        edit.set_text(
            r#"{"tags": {"site": "rome"}, "properties": {"desired": {"interval": 5, "mode": "eco"}}}"#,
        );
        assert!(edit.is_dirty());
        let (patch, etag) = edit.patch_to_send().unwrap();
        assert_eq!(
            patch,
            json!({"tags": {"site": "rome", "floor": null}, "properties": {"desired": {"mode": "eco"}}})
        );
        assert_eq!(etag.as_deref(), Some("AAAA"));
        let EditCheck::Valid { changes, .. } = edit.check() else {
            panic!()
        };
        let paths: Vec<String> = changes.iter().map(|c| c.path.to_string()).collect();
        assert_eq!(
            paths,
            ["tags.site", "tags.floor", "properties.desired.mode"]
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let mut edit = TwinEdit::open(base());
        edit.set_text("{\n  \"tags\": {,\n}");
        let EditCheck::Invalid(error) = edit.check() else {
            panic!()
        };
        assert_eq!(error.line, Some(2));
        assert!(error.column.is_some());
        assert!(error.to_string().starts_with("line 2, column"));
        assert_eq!(edit.patch_to_send(), None);
    }

    #[test]
    fn hub_rules_name_the_path_and_line() {
        let mut edit = TwinEdit::open(base());
        edit.set_text("{\"tags\": {},\n \"properties\": {\"desired\": {\n  \"bad key\": 1}}}");
        let EditCheck::Invalid(error) = edit.check() else {
            panic!()
        };
        assert!(
            error.path.as_deref().unwrap().contains("bad key"),
            "{error:?}"
        );
        assert_eq!(error.line, Some(3));

        edit.set_text(r#"{"tags": {"a": {"b": null}}, "properties": {"desired": {}}}"#);
        let EditCheck::Invalid(error) = edit.check() else {
            panic!()
        };
        assert_eq!(error.path.as_deref(), Some("tags.a.b"));
        assert!(error.message.contains("delete the key"));
    }

    #[test]
    fn the_shape_is_checked() {
        let mut edit = TwinEdit::open(base());
        for (text, fragment) in [
            ("[]", "one object"),
            (
                r#"{"tags": {}, "properties": {"desired": {}}, "etag": "x"}"#,
                "'etag' cannot",
            ),
            (
                r#"{"tags": 1, "properties": {"desired": {}}}"#,
                "tags must be an object",
            ),
            (
                r#"{"tags": {}, "properties": {"reported": {}}}"#,
                "properties.reported cannot",
            ),
            (
                r#"{"tags": {}, "properties": {}}"#,
                "desired must be an object",
            ),
        ] {
            edit.set_text(text);
            let EditCheck::Invalid(error) = edit.check() else {
                panic!("{text}")
            };
            assert!(error.message.contains(fragment), "{text}: {error}");
        }
    }

    #[test]
    fn oversize_sections_are_refused() {
        let mut edit = TwinEdit::open(base());
        let tags: Map<String, Value> = (0..9)
            .map(|n| (format!("k{n}"), json!("x".repeat(1000))))
            .collect();
        edit.set_text(pretty(
            &json!({"tags": tags, "properties": {"desired": {}}}),
        ));
        let EditCheck::Invalid(error) = edit.check() else {
            panic!()
        };
        assert!(error.message.contains("over IoT Hub's limit"), "{error}");
    }

    #[test]
    fn a_refresh_without_edits_replaces_the_text() {
        let mut edit = TwinEdit::open(base());
        edit.refreshed(twin("BBBB", json!({"site": "lima"}), json!({})));
        assert_eq!(edit.etag(), Some("BBBB"));
        assert!(edit.text().contains("lima"));
        assert!(edit.conflict().is_none());
    }

    #[test]
    fn a_refresh_never_clobbers_unsaved_edits() {
        let mut edit = TwinEdit::open(base());
        edit.set_text(r#"{"tags": {"site": "mine"}, "properties": {"desired": {"interval": 5}}}"#);
        let mut reported_only = base();
        reported_only["properties"]["reported"]["fw"] = json!("2.0");
        edit.refreshed(reported_only);
        assert!(
            edit.conflict().is_none(),
            "reported changes do not conflict"
        );
        assert!(edit.text().contains("mine"));

        edit.refreshed(twin(
            "CCCC",
            json!({"site": "oslo", "owner": "kim"}),
            json!({"interval": 5}),
        ));
        assert!(edit.text().contains("mine"), "the text is kept");
        let conflict = edit.conflict().unwrap();
        assert_eq!(conflict.cause, ConflictCause::ChangedElsewhere);
        assert_eq!(conflict.their_changes.len(), 2);
        assert_eq!(edit.patch_to_send(), None, "resolve first");
    }

    #[test]
    fn merging_applies_my_edits_onto_theirs() {
        let mut edit = TwinEdit::open(base());
        edit.set_text(
            r#"{"tags": {"site": "mine", "floor": 1}, "properties": {"desired": {"interval": 5}}}"#,
        );
        edit.save_refused(twin(
            "DDDD",
            json!({"site": "oslo", "floor": 1, "owner": "kim"}),
            json!({"interval": 9}),
        ));
        assert_eq!(edit.conflict().unwrap().cause, ConflictCause::SaveRefused);
        edit.merge_onto_theirs().unwrap();
        assert_eq!(edit.etag(), Some("DDDD"));
        let (patch, etag) = edit.patch_to_send().unwrap();
        assert_eq!(patch, json!({"tags": {"site": "mine"}}));
        assert_eq!(etag.as_deref(), Some("DDDD"));
        assert!(edit.text().contains("kim") && edit.text().contains('9'));
    }

    #[test]
    fn overwriting_makes_the_text_win_with_their_etag() {
        let mut edit = TwinEdit::open(base());
        edit.set_text(r#"{"tags": {"site": "mine"}, "properties": {"desired": {}}}"#);
        edit.save_refused(twin(
            "EEEE",
            json!({"site": "oslo", "owner": "kim"}),
            json!({"interval": 9}),
        ));
        edit.overwrite_theirs();
        let (patch, etag) = edit.patch_to_send().unwrap();
        assert_eq!(
            patch,
            json!({"tags": {"site": "mine", "owner": null}, "properties": {"desired": {"interval": null}}})
        );
        assert_eq!(etag.as_deref(), Some("EEEE"));
    }

    #[test]
    fn discarding_shows_theirs_and_a_bad_text_cannot_be_merged() {
        let mut edit = TwinEdit::open(base());
        edit.set_text("{oops");
        edit.save_refused(twin("FFFF", json!({"x": 1}), json!({})));
        assert!(edit.merge_onto_theirs().is_err());
        assert!(
            edit.conflict().is_some(),
            "the conflict stays until resolved"
        );
        edit.discard_mine();
        assert_eq!(edit.etag(), Some("FFFF"));
        assert!(!edit.is_dirty());
        assert_eq!(valid_patch(&edit), json!({}));
    }
}
