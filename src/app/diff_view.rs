//! The diff widget shared by the editor's patch preview, the conflict view and the
//! snapshot comparison: one line per changed path, `+` added, `-` removed, `~` changed,
//! coloured the same everywhere.

use egui::{Color32, RichText, Ui};
use serde_json::Value;

use crate::explorer::text::compact_json;
use crate::twin::{Change, ChangeKind};

/// Longest value text shown on one line of the diff.
const VALUE_CHARS: usize = 120;

/// Draws `changes`, or `empty` when there are none.
pub fn changes_ui(ui: &mut Ui, changes: &[Change], empty: &str) {
    if changes.is_empty() {
        ui.weak(empty);
        return;
    }
    let (added, removed, changed) = colours(ui);
    for change in changes {
        let path = change.path.to_string();
        let (sign, colour, text) = match &change.kind {
            ChangeKind::Added { value } => ('+', added, format!("{path}: {}", short(value))),
            ChangeKind::Removed { value } => ('-', removed, format!("{path}: {}", short(value))),
            ChangeKind::Changed { from, to } => (
                '~',
                changed,
                format!("{path}: {} → {}", short(from), short(to)),
            ),
        };
        ui.label(
            RichText::new(format!("{sign} {text}"))
                .monospace()
                .color(colour),
        );
    }
}

fn colours(ui: &Ui) -> (Color32, Color32, Color32) {
    if ui.visuals().dark_mode {
        (
            Color32::from_rgb(120, 220, 120),
            Color32::from_rgb(240, 120, 120),
            Color32::from_rgb(230, 200, 100),
        )
    } else {
        (
            Color32::from_rgb(0, 130, 0),
            Color32::from_rgb(190, 30, 30),
            Color32::from_rgb(150, 100, 0),
        )
    }
}

/// Compact JSON cut to one line's worth.
pub fn short(value: &Value) -> String {
    compact_json(value, VALUE_CHARS)
}
