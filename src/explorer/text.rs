//! One-line texts for lists, logs and diffs: long values are cut so a row stays a row.

use serde_json::Value;

/// `text` cut to at most `max_chars` characters, the last one an ellipsis when cut.
pub fn cut(text: String, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut shown: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    shown.push('…');
    shown
}

/// `text` with its first letter in upper case, to start a sentence with a phrase.
pub fn sentence(text: &str) -> String {
    let mut letters = text.chars();
    letters
        .next()
        .into_iter()
        .flat_map(char::to_uppercase)
        .chain(letters)
        .collect()
}

/// Compact JSON of `value`, cut like [`cut`].
pub fn compact_json(value: &Value, max_chars: usize) -> String {
    cut(value.to_string(), max_chars)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn long_texts_end_in_an_ellipsis_within_the_limit() {
        assert_eq!(cut("abc".into(), 3), "abc");
        assert_eq!(cut("abcd".into(), 3), "ab…");
        assert_eq!(cut("ééééé".into(), 2), "é…");
        assert_eq!(compact_json(&json!({"a": [1, 2]}), 80), "{\"a\":[1,2]}");
        assert_eq!(compact_json(&json!("x".repeat(50)), 10).chars().count(), 10);
    }

    #[test]
    fn a_phrase_becomes_a_sentence() {
        assert_eq!(sentence("opening the hub…"), "Opening the hub…");
        assert_eq!(sentence("été"), "Été");
        assert_eq!(sentence(""), "");
    }
}
