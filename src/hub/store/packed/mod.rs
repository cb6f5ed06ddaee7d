//! Packed documents: how the store keeps twins and identities, in memory and on disk.
//! A packed document is one byte string holding a JSON value with its member order:
//! member names are numbers into the store's [`Names`] table, IoT Hub timestamps are
//! tick counts ([`ticks`]), small integers are one byte, and every object and array
//! starts with its length in bytes, so a reader skips what it does not need. Queries
//! read packed documents in place ([`Node`]); JSON is built only for what is served.
//!
//! A value is a tag byte and its payload (integers are LEB128 varints):
//!
//! | tag | value | payload |
//! |---|---|---|
//! | `0x80 \| n` | integer `n` < 128 | none |
//! | 0 / 1 / 2 | `null` / `false` / `true` | none |
//! | 3 | integer ≥ 0 | varint |
//! | 4 | integer < 0 | varint of `-(n + 1)` |
//! | 5 | other number | 8 bytes, little-endian `f64` |
//! | 6 | string | varint byte length, UTF-8 |
//! | 7 | IoT Hub time | 8 bytes, little-endian ticks of 100 ns since `0001-01-01T00:00:00Z` |
//! | 8 | `"0001-01-01T00:00:00Z"` (never) | none |
//! | 9 | array | varint byte length of the rest, varint count, values |
//! | 10 | object | varint byte length of the rest, varint count, members |
//!
//! A member is its name, then its value. A name is a varint: `2 * number` for a name in
//! the table, `2 * length + 1` followed by the UTF-8 text for a name kept inline.
//! Decoding gives back exactly the JSON that was encoded: the same member order, the
//! same number forms (`1`, `1.0`, `-0.0`), the same strings.

mod edit;
mod names;
mod node;
mod reported;
mod ticks;

pub use edit::NewValue;
pub use names::Names;
pub use node::Node;
pub use reported::{members_size, patch_reported};

use serde_json::{Map, Number, Value};

use crate::twin::timestamp::UNSET_TIMESTAMP;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const UNSIGNED: u8 = 3;
const NEGATIVE: u8 = 4;
const FLOAT: u8 = 5;
const TEXT: u8 = 6;
const TIME: u8 = 7;
const UNSET_TIME: u8 = 8;
const ARRAY: u8 = 9;
const OBJECT: u8 = 10;
/// Tags from here on are integers below 128.
const SMALL: u8 = 0x80;

/// How deeply packed values may nest; twins nest far less (IoT Hub allows 10 levels of
/// properties, and `$metadata` adds a few), and a stored document deeper than this is
/// refused as damaged rather than read with unbounded recursion.
const MAX_DEPTH: usize = 64;

/// One packed JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed(Box<[u8]>);

impl Packed {
    /// Packs `value`, adding its new member names to `names`.
    pub fn encode(value: &Value, names: &Names) -> Self {
        let mut out = Vec::with_capacity(256);
        write_value(&mut out, value, names);
        Self(out.into_boxed_slice())
    }

    /// Takes bytes read from the store after checking that they are one well-formed
    /// value whose names are all in `names`.
    pub fn from_stored(bytes: Vec<u8>, names: &Names) -> Result<Self, String> {
        let end = node::check(&bytes, 0, names, 0)?;
        if end != bytes.len() {
            return Err(format!(
                "{} bytes follow the document",
                bytes.len().saturating_sub(end)
            ));
        }
        Ok(Self(bytes.into_boxed_slice()))
    }

    /// The bytes, as they are stored.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value, for reading in place.
    pub fn root<'a>(&'a self, names: &'a Names) -> Node<'a> {
        Node::new(&self.0, names)
    }

    /// The value as JSON.
    pub fn to_value(&self, names: &Names) -> Value {
        self.root(names).to_value()
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value, names: &Names) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_text(out, text),
        Value::Array(items) => write_container(out, ARRAY, items.len(), |out| {
            for item in items {
                write_value(out, item, names);
            }
        }),
        Value::Object(members) => write_object(out, members, names),
    }
}

fn write_number(out: &mut Vec<u8>, number: &Number) {
    if let Some(unsigned) = number.as_u64() {
        match u8::try_from(unsigned) {
            Ok(small) if small < SMALL => out.push(SMALL | small),
            _ => {
                out.push(UNSIGNED);
                write_varint(out, unsigned);
            }
        }
    } else if let Some(negative) = number.as_i64() {
        out.push(NEGATIVE);
        // -(n + 1) without overflow for i64::MIN.
        write_varint(out, !(negative as u64));
    } else {
        out.push(FLOAT);
        out.extend_from_slice(&number.as_f64().unwrap_or(0.0).to_le_bytes());
    }
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    if text == UNSET_TIMESTAMP {
        out.push(UNSET_TIME);
        return;
    }
    // Only text that prints back the same parses (see the tests of `ticks`).
    if let Some(ticks) = ticks::parse(text) {
        out.push(TIME);
        out.extend_from_slice(&ticks.to_le_bytes());
        return;
    }
    out.push(TEXT);
    write_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn write_object(out: &mut Vec<u8>, members: &Map<String, Value>, names: &Names) {
    write_container(out, OBJECT, members.len(), |out| {
        for (name, member) in members {
            write_name(out, name, names);
            write_value(out, member, names);
        }
    });
}

/// Writes a member name: its number in `names`, or its text when it is kept inline.
fn write_name(out: &mut Vec<u8>, name: &str, names: &Names) {
    match names.number_of_or_add(name) {
        Some(number) => write_varint(out, u64::from(number) << 1),
        None => {
            write_varint(out, ((name.len() as u64) << 1) | 1);
            out.extend_from_slice(name.as_bytes());
        }
    }
}

/// Writes a container's tag, its byte length (known once its content is written) and
/// its content: the count, then what `content` writes.
fn write_container(out: &mut Vec<u8>, tag: u8, count: usize, content: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let start = out.len();
    write_varint(out, count as u64);
    content(out);
    let mut length = Vec::with_capacity(4);
    write_varint(&mut length, (out.len() - start) as u64);
    out.splice(start..start, length);
}

#[cfg(test)]
mod tests;
