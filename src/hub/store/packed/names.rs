//! The member names of one store, each kept once: twins repeat the same few names
//! (`$metadata`, `$lastUpdated`, property names) in every device, so packed documents
//! refer to a name by a small number. Names are only ever added; reading a name by its
//! number takes no lock, so queries never wait for writers here. Each store persists its
//! own table (`names` in the store file), written with the first change that uses a
//! name. Past [`MAX_NAMES`], or for long names, documents keep the text inline instead,
//! so a client that invents endless names cannot grow the table without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock};

use crate::query::Member;

/// The most names one table holds.
pub const MAX_NAMES: usize = 1 << 20;

/// Names longer than this many bytes are kept inline in documents.
pub const MAX_NAME_BYTES: usize = 128;

/// Ids of the first chunk; chunk `k` holds `FIRST_CHUNK << k` ids.
const FIRST_CHUNK: usize = 256;

/// Chunks enough for [`MAX_NAMES`]: 256 * (2^13 - 1) > 2^20.
const CHUNKS: usize = 13;

/// One chunk of names: its slots are filled once each, in number order.
type Chunk = Box<[OnceLock<Box<str>>]>;

/// Tells tables apart in the lookup notes queries keep ([`Names::resolve`]).
static NEXT_TABLE: AtomicU32 = AtomicU32::new(1);

/// Marks a query's lookup note as written by a names table (JSON documents note small
/// positions there). A note is the marks, the table in bits 32 to 61, and the name's
/// number (or, for an absent name, the table's length) below.
const NOTE_MARK: u64 = 1 << 63;
const ABSENT_MARK: u64 = 1 << 62;
const TABLE_BITS: u64 = (1 << 30) - 1;

/// How documents of a table hold a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// As this number.
    Number(u32),
    /// As inline text, if at all: the name is too long for the table, or the table was
    /// full when documents were written.
    Inline,
    /// Nowhere: no document holds the name.
    Absent,
}

/// An append-only table of names, numbered from 0.
pub struct Names {
    /// Which table this is, for lookup notes.
    table: u32,
    /// Name to number, for writers; also serialises additions.
    numbers: RwLock<HashMap<Box<str>, u32>>,
    /// Number to name, readable without a lock.
    texts: [OnceLock<Chunk>; CHUNKS],
    /// How many names are numbered (all of them readable).
    len: AtomicUsize,
}

impl Default for Names {
    fn default() -> Self {
        Self {
            table: NEXT_TABLE.fetch_add(1, Ordering::Relaxed) & TABLE_BITS as u32,
            numbers: RwLock::new(HashMap::new()),
            texts: std::array::from_fn(|_| OnceLock::new()),
            len: AtomicUsize::new(0),
        }
    }
}

/// Which chunk and slot hold a number.
fn slot_of(number: usize) -> (usize, usize) {
    let scaled = number / FIRST_CHUNK + 1;
    let chunk = (usize::BITS - 1 - scaled.leading_zeros()) as usize;
    let chunk_start = FIRST_CHUNK * ((1 << chunk) - 1);
    (chunk, number - chunk_start)
}

impl Names {
    /// The table read from a store: `names` in number order, numbered from 0.
    pub fn from_stored(names: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let table = Self::default();
        for (expected, name) in names.into_iter().enumerate() {
            match table.number_of_or_add(&name) {
                Some(number) if number as usize == expected => {}
                _ => return Err(format!("the name table repeats or skips '{name}'")),
            }
        }
        Ok(table)
    }

    /// How many names the table holds.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// The name with this number.
    pub fn text(&self, number: u32) -> Option<&str> {
        let number = number as usize;
        if number >= self.len() {
            return None;
        }
        let (chunk, slot) = slot_of(number);
        self.texts
            .get(chunk)?
            .get()?
            .get(slot)?
            .get()
            .map(|text| &**text)
    }

    /// The number of a name already in the table.
    pub fn number_of(&self, name: &str) -> Option<u32> {
        self.numbers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    }

    /// How documents hold the member name a query looks for. A name is held either by
    /// number or inline in every document: it is numbered when it is first written,
    /// unless it is too long or the table is full, and a full table stays full. The
    /// answer for a numbered name is noted in the query, so that a scan over every twin
    /// looks the name up once.
    pub fn resolve(&self, name: Member<'_>) -> Resolved {
        let note = name.hint();
        let table = (note >> 32) & TABLE_BITS;
        if note & NOTE_MARK != 0 && table == u64::from(self.table) {
            // An absent name is noted with the table's length then: it stays absent
            // until the table grows.
            let low = note as u32;
            if note & ABSENT_MARK == 0 {
                return Resolved::Number(low);
            }
            if low as usize == self.len() {
                return Resolved::Absent;
            }
        }
        let text = name.text();
        let here = NOTE_MARK | (u64::from(self.table) << 32);
        // The length is read before the lookup: a name added in between is noted as
        // absent with the old length, which the next lookup does not trust.
        let len = self.len();
        match self.number_of(text) {
            Some(number) => {
                name.remember(here | u64::from(number));
                Resolved::Number(number)
            }
            None if text.len() > MAX_NAME_BYTES || len >= MAX_NAMES => Resolved::Inline,
            None => {
                name.remember(here | ABSENT_MARK | len as u64);
                Resolved::Absent
            }
        }
    }

    /// The number of `name`, adding it when new; `None` when the name is to be kept
    /// inline (too long, or the table is full).
    pub fn number_of_or_add(&self, name: &str) -> Option<u32> {
        if name.len() > MAX_NAME_BYTES {
            return None;
        }
        if let Some(number) = self.number_of(name) {
            return Some(number);
        }
        let mut numbers = self.numbers.write().unwrap_or_else(|e| e.into_inner());
        if let Some(number) = numbers.get(name) {
            return Some(*number);
        }
        let number = numbers.len();
        if number >= MAX_NAMES {
            return None;
        }
        let (chunk, slot) = slot_of(number);
        let slots = self
            .texts
            .get(chunk)?
            .get_or_init(|| (0..FIRST_CHUNK << chunk).map(|_| OnceLock::new()).collect());
        slots.get(slot)?.set(name.into()).ok()?;
        let number = u32::try_from(number).ok()?;
        numbers.insert(name.into(), number);
        self.len.fetch_add(1, Ordering::Release);
        Some(number)
    }

    /// The names numbered from `start` on, in order: those not yet written to the store.
    pub fn since(&self, start: usize) -> Vec<(u32, String)> {
        (start..self.len())
            .filter_map(|number| {
                let number = u32::try_from(number).ok()?;
                Some((number, self.text(number)?.to_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn slots_cover_every_number_once() {
        let mut expected = (0, 0);
        for number in 0..FIRST_CHUNK * 20 {
            assert_eq!(slot_of(number), expected, "{number}");
            expected.1 += 1;
            if expected.1 == FIRST_CHUNK << expected.0 {
                expected = (expected.0 + 1, 0);
            }
        }
        assert!(slot_of(MAX_NAMES - 1).0 < CHUNKS);
    }

    #[test]
    fn names_are_numbered_once_and_read_back() {
        let names = Names::default();
        let many: Vec<String> = (0..1000).map(|i| format!("name{i}")).collect();
        for (i, name) in many.iter().enumerate() {
            assert_eq!(names.number_of_or_add(name), Some(i as u32));
        }
        assert_eq!(names.number_of_or_add("name7"), Some(7));
        assert_eq!(names.text(999), Some("name999"));
        assert_eq!(names.text(1000), None);
        assert_eq!(names.len(), 1000);
        assert_eq!(names.since(998).len(), 2);
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(names.number_of_or_add(&long), None);
        let reread = Names::from_stored(many.clone()).unwrap();
        assert_eq!(reread.number_of("name500"), Some(500));
        assert!(Names::from_stored(["a".into(), "a".into()]).is_err());
    }
}
