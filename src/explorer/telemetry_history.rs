//! One device's telemetry as the Telemetry tab shows it: the received messages in memory
//! (oldest first, bounded), paused or live, filtered by the user's text, the numeric JSON
//! fields found in them and their values over time for the plot, and NDJSON lines for
//! exporting what is shown. Owns those rules only; the tab draws them, and the worker
//! writes files.

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, Write};
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::service::model::TelemetryMessage;
use crate::twin::path::JsonPath;
use crate::twin::timestamp::{format_timestamp, parse_timestamp};

/// Messages kept per device unless the user chooses otherwise: enough for minutes of a
/// chatty device, small enough to stay within a few tens of megabytes.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Numeric field paths remembered per device, so a device sending ever-new keys cannot
/// grow memory (or the plot's field list) without end.
pub const MAX_NUMERIC_PATHS: usize = 256;

/// One received message, prepared once for display so the tab never re-parses or
/// re-formats a body while drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownMessage {
    sequence: u64,
    received_at: DateTime<Utc>,
    hub_received_at: String,
    properties: Vec<(String, String)>,
    body_text: String,
    body_base64: Option<String>,
    json: Option<Value>,
    pretty_body: String,
}

impl ShownMessage {
    /// Prepares `message` for display; `now` stands in for its time when the hub's
    /// `received_at` is not a timestamp.
    fn new(sequence: u64, message: TelemetryMessage, now: DateTime<Utc>) -> Self {
        let received_at = parse_timestamp(&message.received_at).unwrap_or(now);
        let json = message
            .body
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok());
        let body_text = match (&message.body, &message.body_base64) {
            (Some(text), _) => text.clone(),
            (None, Some(base64)) => binary_body_note(base64),
            (None, None) => String::new(),
        };
        let pretty_body = json
            .as_ref()
            .and_then(|value| serde_json::to_string_pretty(value).ok())
            .unwrap_or_else(|| body_text.clone());
        Self {
            sequence,
            received_at,
            hub_received_at: message.received_at,
            properties: message.properties,
            body_text,
            body_base64: message.body_base64.filter(|_| message.body.is_none()),
            json,
            pretty_body,
        }
    }

    /// Increases by one per message received, across pauses and clears, so the caller
    /// can tell which messages arrived since it last looked ([`TelemetryHistory::since`]).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When the hub received it (when the message was pushed, if the hub's time was not
    /// a timestamp); the plot's x axis and the list's time column.
    pub fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    /// The message's system and application properties, as the hub listed them.
    pub fn properties(&self) -> &[(String, String)] {
        &self.properties
    }

    /// The body as text, or a note carrying the base64 of a binary body; what the
    /// filter searches and the list's one-line preview shows.
    pub fn body_text(&self) -> &str {
        &self.body_text
    }

    /// The body for the detail view: indented JSON when it is JSON, else as received.
    pub fn pretty_body(&self) -> &str {
        &self.pretty_body
    }

    /// Whether this is the same message as `message` (same hub time, properties and
    /// body), to recognise messages received twice.
    fn is_same_as(&self, message: &TelemetryMessage) -> bool {
        let body_matches = match (&message.body, &message.body_base64) {
            (Some(text), _) => *text == self.body_text,
            (None, base64) => *base64 == self.body_base64,
        };
        self.hub_received_at == message.received_at
            && self.properties == message.properties
            && body_matches
    }

    /// One compact JSON object (no line break) for an NDJSON file: `receivedAt`,
    /// `deviceId` (and `moduleId` for a module key `d/m`), `properties` as an object (a
    /// repeated name keeps its last value),
    /// `body` (the JSON itself when the body is JSON, else the text) and, for a binary
    /// body, `bodyBase64` instead of `body`.
    pub fn to_ndjson_line(&self, device_id: &str) -> String {
        let body = match (&self.json, &self.body_base64) {
            (Some(json), _) => Some(json.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(Value::String(self.body_text.clone())),
        };
        crate::service::telemetry_line(
            &format_timestamp(self.received_at),
            crate::twin::key::split(device_id),
            &self.properties,
            body,
            self.body_base64.as_deref(),
        )
    }
}

/// What the list shows in place of a body that is not text.
fn binary_body_note(base64: &str) -> String {
    format!("(binary body, base64) {base64}")
}

/// One device's received messages, oldest first, at most `capacity` of them; while
/// paused, new messages wait in a held buffer (bounded the same way) so the list and
/// plot stay still while the user reads them.
#[derive(Debug, Clone)]
pub struct TelemetryHistory {
    shown: VecDeque<ShownMessage>,
    held: VecDeque<ShownMessage>,
    capacity: usize,
    paused: bool,
    next_sequence: u64,
    dropped: u64,
    numeric_paths: BTreeSet<String>,
    first_numeric_path: Option<String>,
}

impl Default for TelemetryHistory {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl TelemetryHistory {
    /// An empty, live history keeping at most `capacity` messages (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            shown: VecDeque::new(),
            held: VecDeque::new(),
            capacity: capacity.max(1),
            paused: false,
            next_sequence: 0,
            dropped: 0,
            numeric_paths: BTreeSet::new(),
            first_numeric_path: None,
        }
    }

    /// How many messages are kept at most (shown, and again held while paused).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes how many messages are kept (at least one); lowering it drops the oldest
    /// at once, and they count as [`dropped`](Self::dropped).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        self.dropped += trim_to(&mut self.shown, self.capacity);
        self.dropped += trim_to(&mut self.held, self.capacity);
    }

    /// Adds a received message: shown at once when live, held while paused. `now` is the
    /// time it was received here, used when the hub's time cannot be read.
    pub fn push(&mut self, message: TelemetryMessage, now: DateTime<Utc>) {
        let entry = ShownMessage::new(self.next_sequence, message, now);
        self.next_sequence += 1;
        if self.paused {
            self.dropped += trim_to(&mut self.held, self.capacity - 1);
            self.held.push_back(entry);
        } else {
            self.show(entry);
        }
    }

    /// Adds received messages, oldest first, as [`push`](Self::push) does.
    pub fn push_all(
        &mut self,
        messages: impl IntoIterator<Item = TelemetryMessage>,
        now: DateTime<Utc>,
    ) {
        for message in messages {
            self.push(message, now);
        }
    }

    /// Adds only the messages (oldest first) newer than the newest one kept, for a
    /// fetched history that overlaps what a stream already delivered. When the newest
    /// kept message is among `messages` (same hub time, properties and body), what comes
    /// after its last occurrence is added; otherwise the messages received strictly
    /// later than it. Returns how many were added.
    pub fn push_new(&mut self, messages: Vec<TelemetryMessage>, now: DateTime<Utc>) -> usize {
        let Some(newest) = self.newest() else {
            let count = messages.len();
            self.push_all(messages, now);
            return count;
        };
        let fresh: Vec<TelemetryMessage> = match messages
            .iter()
            .rposition(|message| newest.is_same_as(message))
        {
            Some(position) => messages.into_iter().skip(position + 1).collect(),
            None => {
                let newest_time = newest.received_at;
                messages
                    .into_iter()
                    .filter(|message| {
                        parse_timestamp(&message.received_at).unwrap_or(now) > newest_time
                    })
                    .collect()
            }
        };
        let count = fresh.len();
        self.push_all(fresh, now);
        count
    }

    /// The shown messages, oldest first (frozen while paused).
    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, ShownMessage> {
        self.shown.iter()
    }

    /// The newest message kept, held or shown: the one just pushed, if any.
    pub fn newest(&self) -> Option<&ShownMessage> {
        self.held.back().or(self.shown.back())
    }

    /// How many messages are shown.
    pub fn len(&self) -> usize {
        self.shown.len()
    }

    /// Whether no message is shown.
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// Forgets every shown and held message, the drop count and the numeric fields, for
    /// a fresh start; sequence numbers keep increasing and a pause stays on.
    pub fn clear(&mut self) {
        self.shown.clear();
        self.held.clear();
        self.dropped = 0;
        self.numeric_paths.clear();
        self.first_numeric_path = None;
    }

    /// Messages dropped to stay within the capacity (shown or held), for the tab to say
    /// that the history is incomplete.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Stops showing new messages: they are held until [`resume`](Self::resume).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Shows new messages again, after the ones held while paused (in arrival order).
    pub fn resume(&mut self) {
        self.paused = false;
        while let Some(entry) = self.held.pop_front() {
            self.show(entry);
        }
    }

    /// Whether new messages are being held rather than shown.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// How many messages wait to be shown on resume.
    pub fn held_count(&self) -> usize {
        self.held.len()
    }

    /// Every path to a number found in a shown JSON body (`temperature`, `sensors.t1`,
    /// `values[0]`), sorted; at most [`MAX_NUMERIC_PATHS`]. Kept as messages arrive, so
    /// reading it each frame costs nothing.
    pub fn numeric_paths(&self) -> &BTreeSet<String> {
        &self.numeric_paths
    }

    /// The first numeric path found, the plot's default field.
    pub fn first_numeric_path(&self) -> Option<&str> {
        self.first_numeric_path.as_deref()
    }

    /// The plot points of field `path` for the shown messages received within `window`
    /// before `now`: x is seconds relative to `now` (negative for the past), y the value.
    /// Messages without a number at `path` are skipped; an unreadable path gives none.
    pub fn series(&self, path: &str, window: PlotWindow, now: DateTime<Utc>) -> Vec<[f64; 2]> {
        let mut cache = SeriesCache::new(path);
        cache.update(self);
        cache.series(window, now)
    }

    /// The shown messages `filter` matches, oldest first.
    pub fn filtered<'a>(
        &'a self,
        filter: &'a MessageFilter,
    ) -> impl Iterator<Item = &'a ShownMessage> + 'a {
        self.shown.iter().filter(|message| filter.matches(message))
    }

    /// Exports the shown messages `filter` matches as NDJSON, one line each; returns how
    /// many lines were written.
    pub fn write_ndjson(
        &self,
        device_id: &str,
        filter: &MessageFilter,
        writer: &mut impl Write,
    ) -> io::Result<usize> {
        let mut written = 0;
        for message in self.filtered(filter) {
            writeln!(writer, "{}", message.to_ndjson_line(device_id))?;
            written += 1;
        }
        writer.flush()?;
        Ok(written)
    }

    /// Appends `entry` to the shown list, dropping the oldest beyond capacity, and
    /// notes its numeric fields.
    fn show(&mut self, entry: ShownMessage) {
        self.note_numeric_paths(&entry);
        self.dropped += trim_to(&mut self.shown, self.capacity - 1);
        self.shown.push_back(entry);
    }

    fn note_numeric_paths(&mut self, entry: &ShownMessage) {
        if let Some(json) = &entry.json {
            let mut found = NumericPaths {
                paths: &mut self.numeric_paths,
                first: &mut self.first_numeric_path,
            };
            found.walk(&JsonPath::root(), json);
        }
    }
}

/// Drops the oldest entries of `list` until at most `keep` remain; returns how many.
fn trim_to(list: &mut VecDeque<ShownMessage>, keep: usize) -> u64 {
    let excess = list.len().saturating_sub(keep);
    list.drain(..excess);
    excess as u64
}

/// The numeric-path set being extended by one body.
struct NumericPaths<'a> {
    paths: &'a mut BTreeSet<String>,
    first: &'a mut Option<String>,
}

impl NumericPaths<'_> {
    fn is_full(&self) -> bool {
        self.paths.len() >= MAX_NUMERIC_PATHS
    }

    /// Records every path to a number under `value` (found at `path`), stopping once the
    /// set is full. A bare number at the root has no name and is not recorded.
    fn walk(&mut self, path: &JsonPath, value: &Value) {
        match value {
            Value::Number(_) if !path.is_root() => self.note(path.to_string()),
            Value::Object(members) => {
                for (key, member) in members {
                    if self.is_full() {
                        return;
                    }
                    self.walk(&path.child(key.as_str()), member);
                }
            }
            Value::Array(elements) => {
                for (position, element) in elements.iter().enumerate() {
                    if self.is_full() {
                        return;
                    }
                    self.walk(&path.index(position), element);
                }
            }
            _ => {}
        }
    }

    fn note(&mut self, path: String) {
        if self.is_full() || self.paths.contains(&path) {
            return;
        }
        if self.first.is_none() {
            *self.first = Some(path.clone());
        }
        self.paths.insert(path);
    }
}

/// How far back the plot looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PlotWindow {
    /// The last minute, for watching live values.
    #[default]
    OneMinute,
    /// The last ten minutes.
    TenMinutes,
    /// Every shown message.
    All,
}

impl PlotWindow {
    /// Every window, in the order the tab offers them.
    pub const ALL: [PlotWindow; 3] = [Self::OneMinute, Self::TenMinutes, Self::All];

    /// The window's name on its button.
    pub fn label(self) -> &'static str {
        match self {
            Self::OneMinute => "1 min",
            Self::TenMinutes => "10 min",
            Self::All => "All",
        }
    }

    /// How far back it looks; `None` for no limit.
    pub fn duration(self) -> Option<TimeDelta> {
        match self {
            Self::OneMinute => Some(TimeDelta::minutes(1)),
            Self::TenMinutes => Some(TimeDelta::minutes(10)),
            Self::All => None,
        }
    }
}

/// The numeric fields the user chose to plot, in the order chosen, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlotSelection {
    paths: Vec<String>,
    chosen_by_user: bool,
}

impl PlotSelection {
    /// Adds `path` to the plot, or removes it when it is already there.
    pub fn toggle(&mut self, path: &str) {
        self.chosen_by_user = true;
        match self.paths.iter().position(|picked| picked == path) {
            Some(position) => {
                self.paths.remove(position);
            }
            None => self.paths.push(path.to_owned()),
        }
    }

    /// Whether `path` is plotted.
    pub fn contains(&self, path: &str) -> bool {
        self.paths.iter().any(|picked| picked == path)
    }

    /// The plotted paths, in the order chosen.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str)
    }

    /// Whether nothing is plotted.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Plots the history's first numeric field when nothing is plotted and the user has
    /// not chosen yet, so a new device's plot shows something; a selection the user
    /// emptied stays empty. Returns whether a field was picked. Cheap enough to call
    /// every frame.
    pub fn pick_default(&mut self, history: &TelemetryHistory) -> bool {
        if self.chosen_by_user || !self.paths.is_empty() {
            return false;
        }
        match history.first_numeric_path() {
            Some(path) => {
                self.paths.push(path.to_owned());
                true
            }
            None => false,
        }
    }
}

/// One field's points over a history, kept up to date as messages arrive so that a
/// chart redrawn every frame reads each message once, not once a frame: only messages
/// shown since the last [`update`](Self::update) are read, and points of messages no
/// longer kept are dropped.
#[derive(Debug, Clone)]
pub struct SeriesCache {
    path: Option<JsonPath>,
    /// `(sequence, received at, value)`, oldest first.
    points: VecDeque<(u64, DateTime<Utc>, f64)>,
    /// The first sequence not read yet.
    next: u64,
}

impl SeriesCache {
    /// A cache of the field at `path` (dotted, as [`TelemetryHistory::numeric_paths`]
    /// names it); a path that does not parse has no points.
    pub fn new(path: &str) -> Self {
        Self {
            path: JsonPath::from_str(path).ok(),
            points: VecDeque::new(),
            next: 0,
        }
    }

    /// Catches up with `history`: reads the messages shown since the last update and
    /// forgets those no longer kept.
    pub fn update(&mut self, history: &TelemetryHistory) {
        let oldest = history
            .shown
            .front()
            .map_or(u64::MAX, ShownMessage::sequence);
        while self.points.front().is_some_and(|(seq, _, _)| *seq < oldest) {
            self.points.pop_front();
        }
        let Some(path) = &self.path else {
            return;
        };
        let unread = history
            .shown
            .iter()
            .rev()
            .take_while(|message| message.sequence >= self.next)
            .count();
        for message in history.shown.iter().skip(history.shown.len() - unread) {
            let value = message
                .json
                .as_ref()
                .and_then(|json| path.resolve(json))
                .and_then(Value::as_f64);
            if let Some(value) = value {
                self.points
                    .push_back((message.sequence, message.received_at, value));
            }
        }
        if let Some(newest) = history.shown.back() {
            self.next = self.next.max(newest.sequence + 1);
        }
    }

    /// The points inside `window` as `[seconds before now, value]`, as
    /// [`TelemetryHistory::series`] gives them.
    pub fn series(&self, window: PlotWindow, now: DateTime<Utc>) -> Vec<[f64; 2]> {
        let oldest = window.duration().map(|duration| now - duration);
        let first = oldest.map_or(0, |oldest| {
            self.points.partition_point(|(_, at, _)| *at < oldest)
        });
        self.points
            .range(first..)
            .map(|(_, at, value)| [(*at - now).as_seconds_f64(), *value])
            .collect()
    }
}

/// The user's filter text: a message matches when its body text, a property name or a
/// property value contains the text, ignoring case. Empty text matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    needle: String,
}

impl MessageFilter {
    /// The filter for what the user typed (surrounding spaces ignored).
    pub fn new(text: &str) -> Self {
        Self {
            needle: text.trim().to_lowercase(),
        }
    }

    /// Whether it lets every message through.
    pub fn is_empty(&self) -> bool {
        self.needle.is_empty()
    }

    /// Whether `message` is shown under this filter.
    pub fn matches(&self, message: &ShownMessage) -> bool {
        self.is_empty()
            || self.found_in(&message.body_text)
            || message
                .properties
                .iter()
                .any(|(name, value)| self.found_in(name) || self.found_in(value))
    }

    /// Case-insensitive substring test; an ASCII needle (the usual case) is compared
    /// without allocating, as it runs per message per frame.
    fn found_in(&self, haystack: &str) -> bool {
        if self.needle.is_ascii() {
            let needle = self.needle.as_bytes();
            haystack
                .as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle))
        } else {
            haystack.to_lowercase().contains(&self.needle)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + TimeDelta::seconds(second.into())
    }

    fn message_at(second: u32, body: &str) -> TelemetryMessage {
        TelemetryMessage {
            received_at: format_timestamp(at(second)),
            properties: vec![("$.ct".into(), "application/json".into())],
            body: Some(body.into()),
            body_base64: None,
        }
    }

    fn numbered(second: u32) -> TelemetryMessage {
        message_at(second, &format!("{{\"n\":{second}}}"))
    }

    /// Pushes `message` and returns what was kept for it.
    fn pushed(
        history: &mut TelemetryHistory,
        message: TelemetryMessage,
        now: DateTime<Utc>,
    ) -> ShownMessage {
        history.push(message, now);
        history.newest().unwrap().clone()
    }

    fn ns(history: &TelemetryHistory) -> Vec<u64> {
        history
            .iter()
            .map(|message| message.json.as_ref().unwrap()["n"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn keeps_the_newest_within_capacity_and_counts_drops() {
        let mut history = TelemetryHistory::new(3);
        history.push_all((0..5).map(numbered), at(10));
        assert_eq!(ns(&history), [2, 3, 4]);
        assert_eq!(history.len(), 3);
        assert_eq!(history.dropped(), 2);
        let sequences: Vec<u64> = history.iter().map(ShownMessage::sequence).collect();
        assert_eq!(sequences, [2, 3, 4]);
    }

    #[test]
    fn lowering_capacity_drops_the_oldest() {
        let mut history = TelemetryHistory::default();
        assert_eq!(history.capacity(), DEFAULT_CAPACITY);
        history.push_all((0..5).map(numbered), at(10));
        history.set_capacity(2);
        assert_eq!(ns(&history), [3, 4]);
        assert_eq!(history.dropped(), 3);
        history.set_capacity(0);
        assert_eq!(history.capacity(), 1);
        assert_eq!(ns(&history), [4]);
    }

    #[test]
    fn clear_forgets_messages_but_not_the_sequence() {
        let mut history = TelemetryHistory::new(1);
        history.push_all((0..3).map(numbered), at(10));
        history.clear();
        assert!(history.is_empty());
        assert_eq!(history.dropped(), 0);
        assert!(history.numeric_paths().is_empty());
        assert_eq!(pushed(&mut history, numbered(7), at(10)).sequence(), 3);
    }

    #[test]
    fn pause_holds_new_messages_and_resume_shows_them_in_order() {
        let mut history = TelemetryHistory::default();
        history.push(numbered(0), at(10));
        history.pause();
        assert!(history.is_paused());
        history.push(numbered(1), at(10));
        history.push(numbered(2), at(10));
        assert_eq!(ns(&history), [0]);
        assert_eq!(history.held_count(), 2);
        assert_eq!(history.numeric_paths().len(), 1);
        history.resume();
        assert!(!history.is_paused());
        assert_eq!(ns(&history), [0, 1, 2]);
        assert_eq!(history.held_count(), 0);
    }

    #[test]
    fn the_held_buffer_is_bounded_too() {
        let mut history = TelemetryHistory::new(2);
        history.push(numbered(0), at(10));
        history.pause();
        history.push_all((1..6).map(numbered), at(10));
        assert_eq!(history.held_count(), 2);
        assert_eq!(history.dropped(), 3);
        history.resume();
        assert_eq!(ns(&history), [4, 5]);
        assert_eq!(history.dropped(), 4);
    }

    #[test]
    fn push_new_skips_what_overlaps_the_tail() {
        let mut history = TelemetryHistory::default();
        assert_eq!(history.push_new((0..3).map(numbered).collect(), at(10)), 3);
        assert_eq!(history.push_new((1..6).map(numbered).collect(), at(10)), 3);
        assert_eq!(ns(&history), [0, 1, 2, 3, 4, 5]);
        assert_eq!(history.push_new((0..6).map(numbered).collect(), at(10)), 0);
        assert_eq!(ns(&history), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn push_new_without_the_tail_keeps_only_later_messages() {
        let mut history = TelemetryHistory::default();
        history.push(numbered(5), at(10));
        let fetched = vec![numbered(3), message_at(5, "other"), numbered(6)];
        assert_eq!(history.push_new(fetched, at(10)), 1);
        assert_eq!(ns(&history), [5, 6]);
    }

    #[test]
    fn push_new_compares_against_held_messages_while_paused() {
        let mut history = TelemetryHistory::default();
        history.push(numbered(0), at(10));
        history.pause();
        history.push(numbered(1), at(10));
        assert_eq!(history.push_new((0..3).map(numbered).collect(), at(10)), 1);
        history.resume();
        assert_eq!(ns(&history), [0, 1, 2]);
    }

    #[test]
    fn a_message_with_an_unreadable_time_is_stamped_when_pushed() {
        let mut history = TelemetryHistory::default();
        let mut message = numbered(0);
        message.received_at = "soon".into();
        assert_eq!(pushed(&mut history, message, at(42)).received_at(), at(42));
    }

    #[test]
    fn finds_numeric_paths_in_nested_objects_and_arrays() {
        let mut history = TelemetryHistory::default();
        let body = json!({
            "temperature": 21.5,
            "unit": "C",
            "ok": true,
            "sensors": {"t1": 1, "t2": {"raw": -3}},
            "values": [4, "x", {"v": 5}],
            "a.b": 6,
        });
        history.push(message_at(0, &body.to_string()), at(10));
        history.push(message_at(1, r#"{"humidity": 40}"#), at(10));
        let paths: Vec<&str> = history.numeric_paths().iter().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "[\"a.b\"]",
                "humidity",
                "sensors.t1",
                "sensors.t2.raw",
                "temperature",
                "values[0]",
                "values[2].v",
            ]
        );
        assert_eq!(history.first_numeric_path(), Some("temperature"));
        assert_eq!(
            history.series("[\"a.b\"]", PlotWindow::All, at(10)),
            [[-10.0, 6.0]]
        );
    }

    #[test]
    fn remembers_at_most_the_cap_of_numeric_paths() {
        let mut history = TelemetryHistory::default();
        for batch in 0..3 {
            let fields: serde_json::Map<String, Value> = (0..200)
                .map(|field| (format!("k{batch}_{field}"), json!(field)))
                .collect();
            history.push(
                message_at(batch, &Value::Object(fields).to_string()),
                at(10),
            );
        }
        assert_eq!(history.numeric_paths().len(), MAX_NUMERIC_PATHS);
        let many = json!({"values": (0..1000).collect::<Vec<u32>>()});
        let mut fresh = TelemetryHistory::default();
        fresh.push(message_at(0, &many.to_string()), at(10));
        assert_eq!(fresh.numeric_paths().len(), MAX_NUMERIC_PATHS);
    }

    #[test]
    fn series_keeps_messages_inside_the_window() {
        let mut history = TelemetryHistory::default();
        let now = at(700);
        history.push(message_at(0, r#"{"t": 1}"#), now);
        history.push(message_at(650, r#"{"t": 2}"#), now);
        history.push(message_at(680, r#"{"other": 9}"#), now);
        history.push(message_at(690, r#"{"t": 3.5}"#), now);
        assert_eq!(
            history.series("t", PlotWindow::OneMinute, now),
            [[-50.0, 2.0], [-10.0, 3.5]]
        );
        assert_eq!(history.series("t", PlotWindow::TenMinutes, now).len(), 2);
        assert_eq!(
            history.series("t", PlotWindow::All, now),
            [[-700.0, 1.0], [-50.0, 2.0], [-10.0, 3.5]]
        );
        assert!(history.series("t[", PlotWindow::All, now).is_empty());
        assert!(history.series("missing", PlotWindow::All, now).is_empty());
    }

    #[test]
    fn plot_windows_are_named_and_ordered() {
        let labels: Vec<&str> = PlotWindow::ALL.iter().map(|w| w.label()).collect();
        assert_eq!(labels, ["1 min", "10 min", "All"]);
        assert_eq!(
            PlotWindow::TenMinutes.duration(),
            Some(TimeDelta::seconds(600))
        );
        assert_eq!(PlotWindow::All.duration(), None);
    }

    #[test]
    fn plot_selection_toggles_and_picks_a_default_once() {
        let mut history = TelemetryHistory::default();
        let mut selection = PlotSelection::default();
        assert!(!selection.pick_default(&history));
        history.push(message_at(0, r#"{"b": 1, "a": 2}"#), at(10));
        assert!(selection.pick_default(&history));
        assert_eq!(selection.iter().collect::<Vec<_>>(), ["b"]);
        assert!(!selection.pick_default(&history));
        selection.toggle("a");
        selection.toggle("a");
        selection.toggle("a");
        assert_eq!(selection.iter().collect::<Vec<_>>(), ["b", "a"]);
        selection.toggle("b");
        selection.toggle("a");
        assert!(selection.is_empty());
        assert!(!selection.pick_default(&history));
        assert!(!selection.contains("b"));
    }

    #[test]
    fn a_text_body_is_shown_as_is_and_a_binary_one_as_a_note() {
        let mut history = TelemetryHistory::default();
        let text = pushed(&mut history, message_at(0, "hello {"), at(10));
        assert_eq!(text.json, None);
        assert_eq!(text.pretty_body(), "hello {");
        assert!(history.numeric_paths().is_empty());
        let binary = TelemetryMessage {
            received_at: format_timestamp(at(1)),
            properties: Vec::new(),
            body: None,
            body_base64: Some("AAEC".into()),
        };
        let shown = pushed(&mut history, binary, at(10));
        assert_eq!(shown.body_base64.as_deref(), Some("AAEC"));
        assert!(shown.body_text().contains("AAEC"));
        assert_eq!(shown.json, None);
    }

    #[test]
    fn a_json_body_is_pretty_printed_once() {
        let mut history = TelemetryHistory::default();
        let shown = pushed(&mut history, message_at(0, r#"{"a":{"b":1}}"#), at(10));
        assert_eq!(shown.pretty_body(), "{\n  \"a\": {\n    \"b\": 1\n  }\n}");
        assert_eq!(shown.body_text(), r#"{"a":{"b":1}}"#);
    }

    #[test]
    fn the_filter_searches_body_and_properties_ignoring_case() {
        let mut history = TelemetryHistory::default();
        let mut alarm = message_at(0, r#"{"state":"ALARM"}"#);
        alarm.properties.push(("level".into(), "high".into()));
        history.push(alarm, at(10));
        history.push(message_at(1, "Température normale"), at(10));
        let shown = |text: &str| -> Vec<u64> {
            let filter = MessageFilter::new(text);
            history
                .filtered(&filter)
                .map(ShownMessage::sequence)
                .collect()
        };
        assert_eq!(shown(""), [0, 1]);
        assert_eq!(shown("  alarm "), [0]);
        assert_eq!(shown("LEVEL"), [0]);
        assert_eq!(shown("High"), [0]);
        assert_eq!(shown("application/JSON"), [0, 1]);
        assert_eq!(shown("TEMPÉRATURE"), [1]);
        assert!(shown("absent").is_empty());
    }

    #[test]
    fn an_ndjson_line_is_one_compact_object() {
        let mut history = TelemetryHistory::default();
        let mut message = message_at(3, r#"{"t": 21.5}"#);
        message.properties.push(("site".into(), "north".into()));
        let line = pushed(&mut history, message, at(10)).to_ndjson_line("dev-1");
        assert!(!line.contains('\n'));
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            parsed,
            json!({
                "receivedAt": "2024-05-01T12:00:03.0000000Z",
                "deviceId": "dev-1",
                "properties": {"$.ct": "application/json", "site": "north"},
                "body": {"t": 21.5},
            })
        );
        let text = pushed(&mut history, message_at(4, "plain"), at(10)).to_ndjson_line("d");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["body"], json!("plain"));
        assert!(parsed.get("bodyBase64").is_none());
        let binary = TelemetryMessage {
            received_at: format_timestamp(at(5)),
            properties: Vec::new(),
            body: None,
            body_base64: Some("AAEC".into()),
        };
        let line = pushed(&mut history, binary, at(10)).to_ndjson_line("d");
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["bodyBase64"], json!("AAEC"));
        assert!(parsed.get("body").is_none());
    }

    #[test]
    fn exports_the_filtered_history_as_ndjson() {
        let mut history = TelemetryHistory::default();
        history.push_all(
            [
                message_at(0, "keep 1"),
                message_at(1, "skip"),
                message_at(2, "keep 2"),
            ],
            at(10),
        );
        let mut out = Vec::new();
        let written = history
            .write_ndjson("dev", &MessageFilter::new("keep"), &mut out)
            .unwrap();
        assert_eq!(written, 2);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["body"], json!("keep 2"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_series_cache_kept_up_to_date_matches_one_read_from_scratch() {
        let now = Utc::now();
        let mut history = TelemetryHistory::new(5);
        let mut cache = SeriesCache::new("a.b");
        let message = |n: i64| TelemetryMessage {
            received_at: format_timestamp(now - TimeDelta::seconds(100 - n)),
            properties: Vec::new(),
            body: Some(if n % 3 == 0 {
                "not json".to_owned()
            } else {
                format!(r#"{{"a": {{"b": {n}}}}}"#)
            }),
            body_base64: None,
        };
        for n in 0..12 {
            history.push(message(n), now);
            if n % 4 == 0 {
                history.pause();
            } else {
                history.resume();
            }
            cache.update(&history);
            for window in PlotWindow::ALL {
                assert_eq!(
                    cache.series(window, now),
                    history.series("a.b", window, now),
                    "after message {n}, {window:?}"
                );
            }
        }
        history.clear();
        cache.update(&history);
        assert!(cache.series(PlotWindow::All, now).is_empty());
    }
}
