//! What the query engine reads twins through. A query never needs a twin as a whole: it
//! looks up members along paths, reads scalars, and copies values into result rows. Any
//! JSON representation that can do those three things can be queried in place, without
//! being converted first: `serde_json::Value` here, the hub store's packed twins there.

use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;

use serde_json::{Map, Value};

use super::ast::MemberName;

/// A JSON value the query engine reads in place; cheap to copy (a reference or two).
pub trait Document<'a>: Copy + 'a {
    /// What the value is, with a scalar's content.
    fn view(self) -> View<'a>;

    /// The member `name` of an object; `None` for absent members and non-objects.
    fn member(self, name: Member<'_>) -> Option<Self>;

    /// The item at `index` of an array; `None` past its end and for non-arrays.
    fn item(self, index: usize) -> Option<Self>;

    /// The value copied out as JSON, for result rows.
    fn to_json(self) -> Value;
}

/// A JSON value's type, with a scalar's content read out.
#[derive(Debug, Clone, PartialEq)]
pub enum View<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Any number, as the query language computes with them.
    Number(f64),
    /// A string.
    Text(Cow<'a, str>),
    /// An array.
    Array,
    /// An object.
    Object,
}

/// A member name to look up, as a path in a query names it.
#[derive(Clone, Copy)]
pub struct Member<'q> {
    name: &'q MemberName,
    any_case: bool,
}

impl<'q> Member<'q> {
    pub(crate) fn new(name: &'q MemberName, any_case: bool) -> Self {
        Self { name, any_case }
    }

    /// The name as the query spells it.
    pub fn text(self) -> &'q str {
        &self.name.text
    }

    /// Whether this name matches a member name: exactly, or ignoring ASCII case for root
    /// names (twin root properties are system names).
    #[inline]
    pub fn is(self, candidate: &str) -> bool {
        if self.any_case {
            candidate.eq_ignore_ascii_case(&self.name.text)
        } else {
            same_name(candidate, &self.name.text)
        }
    }

    /// Whether root names are matched ignoring case.
    pub fn any_case(self) -> bool {
        self.any_case
    }

    /// What the document kind noted about finding this name last time (0 before the
    /// first lookup). Only a hint: it may come from another twin, or another kind of
    /// document, so check it before trusting it.
    pub fn hint(self) -> u64 {
        self.name.lookup_hint.load(Relaxed)
    }

    /// Notes how the name was found, for the next lookup.
    pub fn remember(self, hint: u64) {
        self.name.lookup_hint.store(hint, Relaxed);
    }
}

/// Exact name equality, compared inline: member names are short, and a library call per
/// candidate costs more than the comparison itself.
#[inline]
fn same_name(name: &str, key: &str) -> bool {
    name.len() == key.len()
        && name
            .bytes()
            .zip(key.bytes())
            .all(|(left, right)| left == right)
}

/// Objects up to this many members are searched by scanning their keys in order, which
/// is several times faster than hashing the key for the small objects twins are made of.
const SCAN_LIMIT: usize = 32;

impl<'a> Document<'a> for &'a Value {
    fn view(self) -> View<'a> {
        match self {
            Value::Null => View::Null,
            Value::Bool(flag) => View::Bool(*flag),
            Value::Number(number) => number.as_f64().map_or(View::Null, View::Number),
            Value::String(text) => View::Text(Cow::Borrowed(text)),
            Value::Array(_) => View::Array,
            Value::Object(_) => View::Object,
        }
    }

    #[inline]
    fn member(self, name: Member<'_>) -> Option<Self> {
        let members: &Map<String, Value> = self.as_object()?;
        // The note is the member's position in its object last time.
        let hint = usize::try_from(name.hint()).unwrap_or(usize::MAX);
        if let Some((candidate, value)) = members.iter().nth(hint)
            && name.is(candidate)
        {
            return Some(value);
        }
        if !name.any_case && members.len() > SCAN_LIMIT {
            return members.get(name.text());
        }
        let (position, (_, value)) = members
            .iter()
            .enumerate()
            .find(|(_, (candidate, _))| name.is(candidate))?;
        name.remember(position as u64);
        Some(value)
    }

    fn item(self, index: usize) -> Option<Self> {
        self.as_array()?.get(index)
    }

    fn to_json(self) -> Value {
        self.clone()
    }
}
