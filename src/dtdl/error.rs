//! What can go wrong reading or resolving models, and where: every message names the
//! file and JSON pointer (or the interface `@id`) and says what to change.

use std::fmt;

use thiserror::Error;

/// A place in a model file: the file's name and a JSON pointer into it (`/contents/2/schema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name given to [`ModelSet::add_file`](super::ModelSet::add_file).
    pub file: String,
    /// RFC 6901 JSON pointer; empty for the whole document.
    pub pointer: String,
}

impl Location {
    /// The whole of `file`.
    pub(super) fn root(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            pointer: String::new(),
        }
    }

    /// The member or element `segment` below this place.
    pub(super) fn child(&self, segment: impl fmt::Display) -> Self {
        Self {
            file: self.file.clone(),
            pointer: format!("{}/{}", self.pointer, pointer_segment(&segment.to_string())),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{} at {}", self.file, self.pointer)
        }
    }
}

/// `segment` escaped for a JSON pointer (`~` as `~0`, `/` as `~1`).
pub(super) fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The longest quote of an offending value in a message, in characters.
const MAX_QUOTE_CHARS: usize = 60;

/// `value` as compact JSON, shortened to [`MAX_QUOTE_CHARS`], to show in messages.
pub(super) fn quote(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MAX_QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Why a model file could not be loaded, or a model not resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DtdlError {
    /// The file is not JSON.
    #[error(
        "{file} is not valid JSON (line {line}, column {column}): {reason}; fix the file and open it again"
    )]
    Json {
        /// The file name.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON reader expected.
        reason: String,
    },
    /// The `@context` names no DTDL version this module reads.
    #[error(
        "{at}: @context {found} is not DTDL v2 or v3: start the interface with \"@context\": \"dtmi:dtdl:context;3\" (or ;2)"
    )]
    Context {
        /// Where the context is.
        at: Location,
        /// The context found.
        found: String,
    },
    /// A top-level interface without `@context`.
    #[error(
        "{at}: the interface has no @context: add \"@context\": \"dtmi:dtdl:context;3\" (or ;2 for DTDL v2)"
    )]
    MissingContext {
        /// The interface.
        at: Location,
    },
    /// Something other than an Interface where one is expected.
    #[error(
        "{at}: expected an Interface (\"@type\": \"Interface\"), found {found}: a model file holds one Interface object or an array of them"
    )]
    NotInterface {
        /// Where.
        at: Location,
        /// What was there instead.
        found: String,
    },
    /// A DTMI that breaks the DTMI syntax.
    #[error(
        "{at}: \"{value}\" is not a valid DTMI: write dtmi:<segment>(:<segment>)*;<version>, each segment a letter then letters, digits or '_' (not ending in '_'), at most {max} characters"
    )]
    InvalidDtmi {
        /// Where.
        at: Location,
        /// The text found.
        value: String,
        /// The length limit that applied.
        max: usize,
    },
    /// A content, field, enum value or map key/value name that breaks the naming rule.
    #[error(
        "{at}: \"{value}\" is not a valid name: use letters, digits and '_', start with a letter, do not end with '_', at most {max} characters"
    )]
    InvalidName {
        /// Where.
        at: Location,
        /// The name found.
        value: String,
        /// The length limit of the interface's DTDL version.
        max: usize,
    },
    /// A required member is absent.
    #[error("{at}: \"{member}\" is missing: add it")]
    Missing {
        /// The object that lacks it.
        at: Location,
        /// The member's name.
        member: &'static str,
    },
    /// A member holds the wrong kind of value.
    #[error("{at}: expected {expected}, found {found}")]
    WrongType {
        /// Where.
        at: Location,
        /// What DTDL allows there.
        expected: &'static str,
        /// What was there (shortened).
        found: String,
    },
    /// Two contents, fields or enum values share a name or value.
    #[error("{at}: \"{name}\" is used twice: {scope} must be unique, rename one")]
    Duplicate {
        /// The second occurrence.
        at: Location,
        /// The repeated name or value.
        name: String,
        /// What must be unique ("content names of an interface", ...).
        scope: &'static str,
    },
    /// An `@id` defined twice in one file.
    #[error("{at}: {id} is defined twice in this file: give each interface and schema its own @id")]
    DuplicateId {
        /// The second definition.
        at: Location,
        /// The repeated `@id`.
        id: String,
    },
    /// A content whose `@type` names no content kind (or several).
    #[error(
        "{at}: @type {found} is not a content kind: use exactly one of Property, Telemetry, Command, Component or Relationship"
    )]
    ContentKind {
        /// Where.
        at: Location,
        /// The `@type` found.
        found: String,
    },
    /// A schema name that is neither a primitive, a complex schema nor a DTMI.
    #[error(
        "{at}: \"{found}\" is not a DTDL schema: use boolean, date, dateTime, double, duration, float, integer, long, string or time, an Enum/Object/Map/Array object, or the @id of a schema in \"schemas\""
    )]
    NotASchema {
        /// Where.
        at: Location,
        /// What was there.
        found: String,
    },
    /// A schema DTMI that no interface of the file or the loaded set defines.
    #[error(
        "{at}: schema {id} is not defined: define it in the interface's \"schemas\", or open the model file that defines it first"
    )]
    UnknownSchema {
        /// Where it is used.
        at: Location,
        /// The schema's `@id`.
        id: String,
    },
    /// Reusable schemas that contain themselves.
    #[error("{at}: schema {id} contains itself ({chain}): DTDL schemas cannot be recursive")]
    SchemaCycle {
        /// Where the cycle closes.
        at: Location,
        /// The schema reached again.
        id: String,
        /// The chain of schema ids, joined by " -> ".
        chain: String,
    },
    /// An array in a property of a DTDL v2 interface.
    #[error(
        "{at}: DTDL v2 properties cannot hold arrays: use \"@context\": \"dtmi:dtdl:context;3\" or another schema"
    )]
    ArrayInV2Property {
        /// The property.
        at: Location,
    },
    /// The interface asked to resolve is not loaded.
    #[error("{id} is not loaded: open its model file first")]
    NotLoaded {
        /// Its `@id`.
        id: String,
    },
    /// `extends` leads back to an interface already on the way.
    #[error("{id} extends itself ({chain}): remove one of these extends")]
    ExtendsCycle {
        /// The interface reached again.
        id: String,
        /// The chain of ids, joined by " -> ".
        chain: String,
    },
    /// `extends` deeper than DTDL's limit.
    #[error("{id} is extended more than {max} levels deep ({chain}): flatten the hierarchy")]
    ExtendsTooDeep {
        /// The root interface.
        id: String,
        /// The chain of ids, joined by " -> ".
        chain: String,
        /// DTDL's limit.
        max: usize,
    },
    /// The same content name reached from two interfaces of one extends hierarchy.
    #[error(
        "{id}: content \"{name}\" comes from both {first} and {second}: names must be unique across extends, rename one"
    )]
    InheritedDuplicate {
        /// The interface being resolved.
        id: String,
        /// The repeated name.
        name: String,
        /// The interface that defines it first.
        first: String,
        /// The other.
        second: String,
    },
    /// A component whose interface has components of its own.
    #[error(
        "component \"{component}\" uses {interface}, which has a component \"{nested}\" of its own: DTDL components cannot nest, move it to the root interface"
    )]
    NestedComponent {
        /// The outer component's name.
        component: String,
        /// Its interface.
        interface: String,
        /// The nested component's name.
        nested: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_escape_pointer_segments() {
        let at = Location::root("a.json")
            .child("contents")
            .child(2)
            .child("x/y~z");
        assert_eq!(at.to_string(), "a.json at /contents/2/x~1y~0z");
        assert_eq!(Location::root("a.json").to_string(), "a.json");
    }
}
