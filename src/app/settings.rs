//! What the explorer remembers across runs (eframe's storage, next to the window's own
//! size and position): query history, the device list's extra columns, the theme and
//! view toggles, the folder of DTDL models. Never connection strings or keys: those live in the saved-connections
//! file, readable by the user only.

use serde::{Deserialize, Serialize};

/// Queries remembered in the history.
pub const QUERY_HISTORY: usize = 30;

/// The query the device list starts with.
pub const DEFAULT_QUERY: &str = "SELECT * FROM devices";

/// The storage key of [`Settings`].
pub const SETTINGS_KEY: &str = "twinlens.settings";

/// Light, dark, or whatever the system says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ThemeChoice {
    /// Follow the system.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl ThemeChoice {
    /// The egui preference for this choice.
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Light => egui::ThemePreference::Light,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
        }
    }
}

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The last query run.
    pub query: String,
    /// Recent distinct queries, newest first.
    pub query_history: Vec<String>,
    /// Twin paths shown as device-list columns.
    pub columns: Vec<String>,
    /// Theme.
    pub theme: ThemeChoice,
    /// Show `$metadata` in the twin view.
    pub show_metadata: bool,
    /// Show the event log.
    pub show_event_log: bool,
    /// Seconds between refreshes of the open twin.
    pub twin_refresh_secs: f32,
    /// A folder of DTDL model files (`*.json`, subfolders included) loaded at start;
    /// empty for none.
    pub models_folder: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            query: DEFAULT_QUERY.into(),
            query_history: vec![DEFAULT_QUERY.into()],
            columns: vec!["tags.location.city".into()],
            theme: ThemeChoice::System,
            show_metadata: false,
            show_event_log: true,
            twin_refresh_secs: 3.0,
            models_folder: String::new(),
        }
    }
}

impl Settings {
    /// Puts `query` first in the history, without duplicates.
    pub fn remember_query(&mut self, query: &str) {
        self.query = query.to_owned();
        self.query_history.retain(|known| known != query);
        self.query_history.insert(0, query.to_owned());
        self.query_history.truncate(QUERY_HISTORY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_most_recent_first_without_duplicates_and_bounded() {
        let mut settings = Settings::default();
        for n in 0..40 {
            settings.remember_query(&format!("SELECT * FROM devices WHERE n = {n}"));
        }
        settings.remember_query("SELECT * FROM devices WHERE n = 35");
        assert_eq!(settings.query_history.len(), QUERY_HISTORY);
        assert_eq!(
            settings.query_history[0],
            "SELECT * FROM devices WHERE n = 35"
        );
        assert_eq!(
            settings
                .query_history
                .iter()
                .filter(|q| q.ends_with("= 35"))
                .count(),
            1
        );
    }
}
