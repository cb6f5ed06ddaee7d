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
}
