//! Reading packed values in place: a [`Node`] is one value inside a packed document.
//! Every read is bounds-checked and gives up quietly (as `null` or an absent member) on
//! bytes that are not well formed, so a reader never panics; documents are checked
//! whole ([`check`]) when they are read from the store, and written only by the encoder,
//! so in practice every read succeeds.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::names::Resolved;
use super::{
    ARRAY, FALSE, FLOAT, MAX_DEPTH, NEGATIVE, NULL, Names, OBJECT, SMALL, TEXT, TIME, TRUE,
    UNSET_TIME, UNSIGNED, ticks,
};
use crate::query::{Document, Member, View};
use crate::twin::timestamp::UNSET_TIMESTAMP;

/// One value inside a packed document: the bytes from its tag on (they may run past it).
#[derive(Clone, Copy)]
pub struct Node<'a> {
    bytes: &'a [u8],
    names: &'a Names,
}

/// What a node holds, with scalars read out.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Negative(i64),
    Float(f64),
    Text(Cow<'a, str>),
    Array,
    Object,
}

/// Reads a varint at `*at`, moving past it.
fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn read_usize(bytes: &[u8], at: &mut usize) -> Option<usize> {
    usize::try_from(read_varint(bytes, at)?).ok()
}

/// Where the value starting at `at` ends.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    let tag = *bytes.get(at)?;
    let mut next = at + 1;
    match tag {
        NULL | FALSE | TRUE | UNSET_TIME => {}
        tag if tag >= SMALL => {}
        UNSIGNED | NEGATIVE => {
            read_varint(bytes, &mut next)?;
        }
        FLOAT | TIME => next += 8,
        TEXT | ARRAY | OBJECT => {
            let length = read_usize(bytes, &mut next)?;
            next = next.checked_add(length)?;
        }
        _ => return None,
    }
    (next <= bytes.len()).then_some(next)
}

/// A name at `*at`, moving past it.
fn read_name<'a>(bytes: &'a [u8], at: &mut usize, names: &'a Names) -> Option<&'a str> {
    let code = read_varint(bytes, at)?;
    if code & 1 == 0 {
        names.text(u32::try_from(code >> 1).ok()?)
    } else {
        let length = usize::try_from(code >> 1).ok()?;
        let text = bytes.get(*at..at.checked_add(length)?)?;
        *at += length;
        std::str::from_utf8(text).ok()
    }
}

impl<'a> Node<'a> {
    pub(super) fn new(bytes: &'a [u8], names: &'a Names) -> Self {
        Self { bytes, names }
    }

    fn at(self, offset: usize) -> Self {
        Self {
            bytes: self.bytes.get(offset..).unwrap_or_default(),
            names: self.names,
        }
    }

    fn tag(self) -> u8 {
        self.bytes.first().copied().unwrap_or(NULL)
    }

    /// The fixed-size payload of a float or a time.
    fn eight_bytes(self) -> Option<[u8; 8]> {
        self.bytes.get(1..9)?.try_into().ok()
    }

    /// The value, with scalars read out.
    pub fn scalar(self) -> Scalar<'a> {
        let mut at = 1;
        let payload = |at: &mut usize| read_varint(self.bytes, at);
        match self.tag() {
            tag if tag >= SMALL => Scalar::Unsigned(u64::from(tag & !SMALL)),
            FALSE => Scalar::Bool(false),
            TRUE => Scalar::Bool(true),
            UNSIGNED => payload(&mut at).map_or(Scalar::Null, Scalar::Unsigned),
            NEGATIVE => payload(&mut at).map_or(Scalar::Null, |n| Scalar::Negative(!n as i64)),
            FLOAT => self.eight_bytes().map_or(Scalar::Null, |bytes| {
                Scalar::Float(f64::from_le_bytes(bytes))
            }),
            TEXT => read_usize(self.bytes, &mut at)
                .and_then(|length| self.bytes.get(at..at.checked_add(length)?))
                .and_then(|text| std::str::from_utf8(text).ok())
                .map_or(Scalar::Null, |text| Scalar::Text(Cow::Borrowed(text))),
            TIME => self
                .eight_bytes()
                .and_then(|bytes| ticks::format(u64::from_le_bytes(bytes)))
                .map_or(Scalar::Null, |text| Scalar::Text(Cow::Owned(text))),
            UNSET_TIME => Scalar::Text(Cow::Borrowed(UNSET_TIMESTAMP)),
            ARRAY => Scalar::Array,
            OBJECT => Scalar::Object,
            _ => Scalar::Null,
        }
    }

    /// The content of a container with tag `tag`: where its first child starts, where
    /// the content ends, and the count.
    fn content(self, tag: u8) -> Option<(usize, usize, usize)> {
        if self.tag() != tag {
            return None;
        }
        let mut at = 1;
        let length = read_usize(self.bytes, &mut at)?;
        let end = at.checked_add(length)?.min(self.bytes.len());
        let count = read_usize(self.bytes, &mut at)?;
        Some((at, end, count))
    }

    /// The members of an object in order (none for other values).
    pub fn members(self) -> Members<'a> {
        let (at, end, count) = self.content(OBJECT).unwrap_or((0, 0, 0));
        Members {
            node: self,
            at,
            end,
            left: count,
        }
    }

    /// The items of an array in order (none for other values).
    pub fn items(self) -> impl Iterator<Item = Node<'a>> {
        let (mut at, end, count) = self.content(ARRAY).unwrap_or((0, 0, 0));
        (0..count).map_while(move |_| {
            let item = self.at(at);
            at = value_end(self.bytes, at).filter(|&next| next <= end)?;
            Some(item)
        })
    }

    /// This value's own bytes, as they are stored.
    pub fn raw(self) -> &'a [u8] {
        let end = value_end(self.bytes, 0).unwrap_or(0);
        self.bytes.get(..end).unwrap_or_default()
    }

    /// The member at a path of names from here, through objects.
    pub fn member_at(self, path: &[&str]) -> Option<Node<'a>> {
        path.iter()
            .try_fold(self, |node, name| node.member(name, false))
    }

    /// The member whose name has this number: found by comparing numbers, without
    /// reading any name's text.
    fn numbered_member(self, number: u32) -> Option<Node<'a>> {
        let wanted = u64::from(number) << 1;
        let (mut at, end, count) = self.content(OBJECT)?;
        for _ in 0..count {
            let code = read_varint(self.bytes, &mut at)?;
            if code & 1 == 1 {
                at = at.checked_add(usize::try_from(code >> 1).ok()?)?;
            } else if code == wanted {
                return Some(self.at(at));
            }
            at = value_end(self.bytes, at).filter(|&next| next <= end)?;
        }
        None
    }

    /// The member with this name; names compare exactly, or ignoring ASCII case.
    pub fn member(self, name: &str, any_case: bool) -> Option<Node<'a>> {
        self.members()
            .find(|(member, _)| {
                if any_case {
                    member.eq_ignore_ascii_case(name)
                } else {
                    *member == name
                }
            })
            .map(|(_, value)| value)
    }

    /// The value as JSON.
    pub fn to_value(self) -> Value {
        match self.scalar() {
            Scalar::Null => Value::Null,
            Scalar::Bool(flag) => Value::Bool(flag),
            Scalar::Unsigned(number) => Value::from(number),
            Scalar::Negative(number) => Value::from(number),
            Scalar::Float(number) => {
                serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
            }
            Scalar::Text(text) => Value::String(text.into_owned()),
            Scalar::Array => Value::Array(self.items().map(Node::to_value).collect()),
            Scalar::Object => {
                let members = self.members();
                let mut object = Map::with_capacity(members.len());
                for (name, member) in members {
                    object.insert(name.to_owned(), member.to_value());
                }
                Value::Object(object)
            }
        }
    }
}

/// The members of a packed object, in order.
pub struct Members<'a> {
    node: Node<'a>,
    at: usize,
    end: usize,
    left: usize,
}

impl<'a> Members<'a> {
    /// The next member: its name, its name's bytes as stored, and its value.
    pub fn next_stored(&mut self) -> Option<(&'a str, &'a [u8], Node<'a>)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let bytes = self.node.bytes;
        let name_start = self.at;
        let name = read_name(bytes, &mut self.at, self.node.names);
        let stored_name = bytes.get(name_start..self.at).unwrap_or_default();
        let value = self.node.at(self.at);
        let next = value_end(bytes, self.at).filter(|&next| next <= self.end);
        match (name, next) {
            (Some(name), Some(next)) => {
                self.at = next;
                Some((name, stored_name, value))
            }
            _ => {
                self.left = 0;
                None
            }
        }
    }

    /// How many members are left.
    pub fn len(&self) -> usize {
        self.left
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, Node<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.next_stored().map(|(name, _, value)| (name, value))
    }
}

/// Checks the value at `at` (nested `depth` deep) and returns where it ends.
pub(super) fn check(bytes: &[u8], at: usize, names: &Names, depth: usize) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nest more than {MAX_DEPTH} deep"));
    }
    let broken = || format!("a value at byte {at} is cut short or unknown");
    let end = value_end(bytes, at).ok_or_else(broken)?;
    let node = Node::new(bytes.get(at..end).ok_or_else(broken)?, names);
    let mut seen = 0;
    let (mut next, content_end, count) = match node.tag() {
        TEXT => {
            return match node.scalar() {
                Scalar::Text(_) => Ok(end),
                _ => Err(format!("the string at byte {at} is not UTF-8")),
            };
        }
        TIME => {
            return match node.eight_bytes().map(u64::from_le_bytes) {
                Some(ticks) if ticks <= ticks::MAX_TICKS => Ok(end),
                _ => Err(format!("the time at byte {at} is out of range")),
            };
        }
        tag @ (ARRAY | OBJECT) => node.content(tag).ok_or_else(broken)?,
        _ => return Ok(end),
    };
    while next < content_end {
        if node.tag() == OBJECT {
            read_name(node.bytes, &mut next, names)
                .ok_or_else(|| format!("the member name at byte {} is unknown", at + next))?;
        }
        next = check(node.bytes, next, names, depth + 1)?;
        seen += 1;
    }
    if next != content_end || seen != count {
        return Err(format!("the container at byte {at} does not add up"));
    }
    Ok(end)
}

/// Queries read packed twins in place.
impl<'a> Document<'a> for Node<'a> {
    fn view(self) -> View<'a> {
        match self.scalar() {
            Scalar::Null => View::Null,
            Scalar::Bool(flag) => View::Bool(flag),
            Scalar::Unsigned(number) => View::Number(number as f64),
            Scalar::Negative(number) => View::Number(number as f64),
            Scalar::Float(number) => View::Number(number),
            Scalar::Text(text) => View::Text(text),
            Scalar::Array => View::Array,
            Scalar::Object => View::Object,
        }
    }

    fn member(self, name: Member<'_>) -> Option<Self> {
        let by_text = || {
            self.members()
                .find(|(candidate, _)| name.is(candidate))
                .map(|(_, value)| value)
        };
        match (self.names.resolve(name), name.any_case()) {
            (Resolved::Number(number), false) => self.numbered_member(number),
            // A root name in its usual spelling is found by number too; only other
            // spellings are compared as text. (Like a JSON twin's position note, the
            // exact spelling wins over an earlier member that differs in case.)
            (Resolved::Number(number), true) => self.numbered_member(number).or_else(by_text),
            (Resolved::Inline, _) | (Resolved::Absent, true) => by_text(),
            (Resolved::Absent, false) => None,
        }
    }

    fn item(self, index: usize) -> Option<Self> {
        self.items().nth(index)
    }

    fn to_json(self) -> Value {
        self.to_value()
    }
}
