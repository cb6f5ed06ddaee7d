//! The one error type of the query language: where in the query text it went wrong and
//! why. It owns the rendering of that position for people (a column in the message, a
//! caret under the offending line for UIs); it knows nothing about lexing or parsing.

/// A query that cannot be run, with the place in its text that needs fixing.
///
/// Every message names what was found and what was expected, so the hub can return it
/// verbatim in an `ArgumentInvalid` error and the explorer can show it under the editor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query error at column {column}: {message}", column = .position + 1)]
pub struct QueryError {
    /// 0-based character (not byte) offset into the query text.
    pub position: usize,
    /// What was found, what was expected, and what to do about it.
    pub message: String,
}

impl QueryError {
    /// Builds an error at a character offset; used by the lexer, parser and validator.
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }

    /// Renders the query line that holds the error with a caret under the offending
    /// character, followed by the message, so a UI can show exactly where to look.
    pub fn render_with_caret(&self, query_text: &str) -> String {
        format!("{}\n{self}", self.caret_lines(query_text))
    }

    /// The query line that holds the error and, under it, a caret at the offending
    /// character: for messages that state the error before.
    ///
    /// Tabs before the position are repeated in the caret line so the caret stays aligned
    /// in a monospace view; a position past the end points just after the last character.
    pub fn caret_lines(&self, query_text: &str) -> String {
        let characters: Vec<char> = query_text.chars().collect();
        let position = self.position.min(characters.len());
        let (before, after) = characters.split_at(position);
        let line_start = before
            .iter()
            .rposition(|character| *character == '\n')
            .map_or(0, |newline| newline + 1);
        let head = before.get(line_start..).unwrap_or_default();
        let tail_length = after
            .iter()
            .position(|character| *character == '\n')
            .unwrap_or(after.len());
        let tail = after.get(..tail_length).unwrap_or_default();
        let line: String = head.iter().chain(tail).collect();
        let padding: String = head
            .iter()
            .map(|character| if *character == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{}\n{padding}^", line.trim_end_matches('\r'))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn display_reports_a_one_based_column() {
        let error = QueryError::new(9, "expected FROM after the select list, found 'WHER'");
        assert_eq!(
            error.to_string(),
            "query error at column 10: expected FROM after the select list, found 'WHER'"
        );
    }

    #[test]
    fn caret_sits_under_the_offending_character() {
        let error = QueryError::new(9, "oops");
        let rendered = error.render_with_caret("SELECT * WHER x");
        assert_eq!(
            rendered,
            "SELECT * WHER x\n         ^\nquery error at column 10: oops"
        );
    }

    #[test]
    fn caret_picks_the_line_that_holds_the_error() {
        let text = "SELECT *\nFROM devices\n\tWHER x";
        let position = text.find("WHER").unwrap();
        let rendered = QueryError::new(position, "oops").render_with_caret(text);
        let mut lines = rendered.lines();
        assert_eq!(lines.next(), Some("\tWHER x"));
        assert_eq!(lines.next(), Some("\t^"));
    }

    #[test]
    fn caret_at_the_end_points_past_the_last_character() {
        let rendered = QueryError::new(8, "oops").render_with_caret("SELECT *");
        assert_eq!(rendered.lines().nth(1), Some("        ^"));
    }

    #[test]
    fn caret_counts_characters_not_bytes() {
        let text = "WHERE tags.é = 'x' ?";
        let position = text.chars().position(|c| c == '?').unwrap();
        let rendered = QueryError::new(position, "oops").render_with_caret(text);
        assert_eq!(rendered.lines().nth(1).unwrap().len(), position + 1);
    }
}
