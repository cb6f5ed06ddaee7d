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

    /// Where this member was found last time, for documents that keep their members in
    /// a list: twins written by one hub share their key order, so the guess saves
    /// scanning in almost every twin. Only a hint: check the name before trusting it.
    pub fn position_hint(self) -> usize {
        self.name.position_hint.load(Relaxed)
    }

    /// Remembers where the member was found.
    pub fn found_at(self, position: usize) {
        self.name.position_hint.store(position, Relaxed);
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
        let hint = name.position_hint();
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
        name.found_at(position);
        Some(value)
    }

    fn item(self, index: usize) -> Option<Self> {
        self.as_array()?.get(index)
    }

    fn to_json(self) -> Value {
        self.clone()
    }
}
