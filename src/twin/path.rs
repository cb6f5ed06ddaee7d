//! Paths into a JSON document (`tags.location.city`, `properties.desired["b.c"]`,
//! `properties.reported.list[2]`): the one vocabulary the validator, the diff and the
//! editor use to point at a value. Owns parsing and printing of the dotted form only;
//! it knows nothing about twins.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use thiserror::Error;

/// One step of a [`JsonPath`]: an object member or an array element.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    /// A member of an object, by key.
    Key(String),
    /// An element of an array, by zero-based position.
    Index(usize),
}

/// A location inside a JSON document, so errors and diffs can say exactly *where*.
///
/// Displays as a dotted path (`tags.location.city`); keys that would be ambiguous in
/// that form (containing `.`, spaces, brackets, quotes or control characters, or empty)
/// are written as JSON strings in brackets (`a["b.c"]`), array positions as `[2]`.
/// [`FromStr`] parses exactly that form back. The empty path is the document root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPath {
    segments: Vec<PathSegment>,
}

impl JsonPath {
    /// The document root (no segments), the starting point for building paths.
    pub fn root() -> Self {
        Self::default()
    }

    /// A path made of object keys only, the common case (`["tags", "location"]`).
    pub fn from_keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            segments: keys
                .into_iter()
                .map(|key| PathSegment::Key(key.into()))
                .collect(),
        }
    }

    /// The steps from the root, so callers can walk or match on them.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    /// Whether this is the document root, which has no printable name.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// This path extended by one object key.
    pub fn child(&self, key: impl Into<String>) -> Self {
        self.extended(PathSegment::Key(key.into()))
    }

    /// This path extended by one array position.
    pub fn index(&self, position: usize) -> Self {
        self.extended(PathSegment::Index(position))
    }

    /// The path one step up, or `None` at the root.
    pub fn parent(&self) -> Option<Self> {
        let (_, init) = self.segments.split_last()?;
        Some(Self {
            segments: init.to_vec(),
        })
    }

    /// The key of the last step, when the path ends at an object member.
    pub fn last_key(&self) -> Option<&str> {
        match self.segments.last() {
            Some(PathSegment::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// The value this path points at inside `document`, if it exists there.
    pub fn resolve<'a>(&self, document: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(document, |value, segment| match segment {
                PathSegment::Key(key) => value.get(key.as_str()),
                PathSegment::Index(position) => value.get(*position),
            })
    }

    fn extended(&self, segment: PathSegment) -> Self {
        let mut segments = self.segments.clone();
        segments.push(segment);
        Self { segments }
    }
}

/// Whether a key can be printed bare in the dotted form and parsed back unchanged.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|c| {
            !matches!(c, '.' | '[' | ']' | '"' | '\\') && !c.is_whitespace() && !c.is_control()
        })
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.segments.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if is_bare_key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                PathSegment::Key(key) => {
                    let quoted = serde_json::to_string(key).map_err(|_| fmt::Error)?;
                    write!(f, "[{quoted}]")?;
                }
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Why a dotted path could not be parsed, with the character position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "cannot parse the path '{input}' at character {position}: {reason}; write keys separated by \
     '.', quote keys containing '.', spaces or brackets as [\"a.b\"], and array positions as [2]"
)]
pub struct ParsePathError {
    /// The text that was being parsed.
    pub input: String,
    /// Character (not byte) offset of the problem.
    pub position: usize,
    /// What was wrong there.
    pub reason: &'static str,
}

impl FromStr for JsonPath {
    type Err = ParsePathError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        PathParser { input, offset: 0 }.parse()
    }
}

/// A cursor over the dotted form, byte-offset based, reporting character positions.
struct PathParser<'a> {
    input: &'a str,
    offset: usize,
}

impl<'a> PathParser<'a> {
    fn parse(mut self) -> Result<JsonPath, ParsePathError> {
        let mut segments = Vec::new();
        if self.input.is_empty() {
            return Ok(JsonPath { segments });
        }
        let mut expect_bare = self.peek() != Some('[');
        loop {
            if expect_bare {
                segments.push(PathSegment::Key(self.bare_key()?));
            } else {
                segments.push(self.bracketed()?);
            }
            match self.peek() {
                None => return Ok(JsonPath { segments }),
                Some('.') => {
                    self.offset += 1;
                    expect_bare = true;
                }
                Some('[') => expect_bare = false,
                Some(_) => return Err(self.error("expected '.' or '[' after a segment")),
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.offset..).unwrap_or_default()
    }

    fn error(&self, reason: &'static str) -> ParsePathError {
        let consumed = self.input.get(..self.offset).unwrap_or_default();
        ParsePathError {
            input: self.input.to_owned(),
            position: consumed.chars().count(),
            reason,
        }
    }

    fn bare_key(&mut self) -> Result<String, ParsePathError> {
        let rest = self.rest();
        let length = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = rest.get(..length).unwrap_or_default();
        if key.is_empty() {
            return Err(self.error("empty key"));
        }
        if !is_bare_key(key) {
            return Err(self.error("this key must be quoted, e.g. [\"my key\"]"));
        }
        self.offset += length;
        Ok(key.to_owned())
    }

    fn bracketed(&mut self) -> Result<PathSegment, ParsePathError> {
        let rest = self.rest();
        let Some(close) = closing_bracket(rest) else {
            return Err(self.error("'[' is never closed by ']'"));
        };
        let inner = rest.get(1..close).unwrap_or_default();
        let segment = if inner.starts_with('"') {
            serde_json::from_str::<String>(inner)
                .map(PathSegment::Key)
                .map_err(|_| self.error("invalid quoted key"))?
        } else {
            inner
                .parse::<usize>()
                .map(PathSegment::Index)
                .map_err(|_| self.error("expected an array position or a quoted key"))?
        };
        self.offset += close + 1;
        Ok(segment)
    }
}

/// Byte offset of the `]` closing the bracket that starts `text`, skipping any `]`
/// inside a JSON string.
fn closing_bracket(text: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text.char_indices().skip(1) {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => in_string = !in_string,
            (false, _, ']') => return Some(offset),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(text: &str) -> JsonPath {
        text.parse().unwrap()
    }

    #[test]
    fn dotted_keys_print_bare() {
        let path = JsonPath::from_keys(["tags", "location", "city"]);
        assert_eq!(path.to_string(), "tags.location.city");
    }

    #[test]
    fn awkward_keys_print_quoted() {
        let path = JsonPath::from_keys(["a", "b.c", "d e", "", "x]y"]);
        assert_eq!(path.to_string(), r#"a["b.c"]["d e"][""]["x]y"]"#);
        assert_eq!(JsonPath::from_keys(["b.c"]).to_string(), r#"["b.c"]"#);
    }

    #[test]
    fn indexes_print_in_brackets() {
        let path = JsonPath::from_keys(["list"]).index(2).child("name");
        assert_eq!(path.to_string(), "list[2].name");
    }

    #[test]
    fn root_prints_empty_and_parses_back() {
        assert_eq!(JsonPath::root().to_string(), "");
        assert_eq!(parsed(""), JsonPath::root());
    }

    #[test]
    fn parse_round_trips_display() {
        for path in [
            JsonPath::from_keys(["tags", "location", "city"]),
            JsonPath::from_keys(["a", "b.c", "d e", "", "q\"uote", "br]ack[et", "$metadata"]),
            JsonPath::from_keys(["list"]).index(0).index(12).child("2"),
            JsonPath::root().index(3).child("x"),
            JsonPath::from_keys(["tab\there", "ünï", "line\nbreak"]),
        ] {
            assert_eq!(parsed(&path.to_string()), path, "{path}");
        }
    }

    #[test]
    fn parse_rejects_malformed_paths() {
        for (text, position) in [
            ("a..b", 2),
            ("a.", 2),
            (".a", 0),
            ("a[", 1),
            ("a[x]", 1),
            (r#"a["unterminated]"#, 1),
            ("a[1]b", 4),
            ("a b", 0),
        ] {
            let error = text.parse::<JsonPath>().unwrap_err();
            assert_eq!(error.position, position, "{text}: {error}");
            assert!(error.to_string().contains(text), "{error}");
        }
    }

    #[test]
    fn parent_and_last_key() {
        let path = JsonPath::from_keys(["properties", "desired", "x"]);
        assert_eq!(path.last_key(), Some("x"));
        assert_eq!(path.parent().unwrap().to_string(), "properties.desired");
        assert_eq!(JsonPath::root().parent(), None);
        assert_eq!(JsonPath::root().index(1).last_key(), None);
    }

    #[test]
    fn resolve_walks_objects_and_arrays() {
        let document = json!({"a": {"b.c": [1, {"d": true}]}});
        assert_eq!(
            parsed(r#"a["b.c"][1].d"#).resolve(&document),
            Some(&json!(true))
        );
        assert_eq!(parsed("a.missing").resolve(&document), None);
        assert_eq!(parsed(r#"a["b.c"][9]"#).resolve(&document), None);
    }
}
