//! Runs aggregate queries: splits the matching twins into groups by the GROUP BY paths
//! (first-seen order, one group when there is no GROUP BY) and accumulates COUNT, AVG,
//! SUM, MIN and MAX per group. Twins are added one at a time and nothing is borrowed
//! from one after it was added, so the caller may hold each twin only while it is added.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::ast::{AggregateColumn, AggregateValue, Path};
use super::datum::{Datum, number_to_json};
use super::document::Document;
use super::functions::Aggregate;

/// The groups of an aggregate query so far.
pub(crate) struct Aggregation<'q> {
    columns: &'q [AggregateColumn],
    group_by: &'q [Path],
    groups: Vec<Group>,
    index: HashMap<Vec<GroupKey<'static>>, usize>,
}

impl<'q> Aggregation<'q> {
    /// No twins yet; without GROUP BY, the one group exists from the start (so that
    /// `COUNT()` of nothing is a row with 0).
    pub fn new(columns: &'q [AggregateColumn], group_by: &'q [Path]) -> Self {
        let mut groups = Vec::new();
        if group_by.is_empty() {
            groups.push(Group::new(Vec::new(), columns));
        }
        Self {
            columns,
            group_by,
            groups,
            index: HashMap::new(),
        }
    }

    /// Adds one twin that matched the query to its group.
    pub fn add<'t, D: Document<'t>>(&mut self, twin: D)
    where
        'q: 't,
    {
        let slot = if self.group_by.is_empty() {
            0
        } else {
            let values: Vec<Option<D>> = self
                .group_by
                .iter()
                .map(|path| path.resolve(twin))
                .collect();
            let key: Vec<GroupKey<'t>> = values.iter().map(|value| GroupKey::of(*value)).collect();
            // Keys are kept owned; a borrowed key finds its group without copying.
            let index: &HashMap<Vec<GroupKey<'t>>, usize> = &self.index;
            match index.get(&key) {
                Some(slot) => *slot,
                None => {
                    let keys = values
                        .into_iter()
                        .map(|value| value.map(D::to_json))
                        .collect();
                    self.groups.push(Group::new(keys, self.columns));
                    let owned = key.into_iter().map(GroupKey::into_owned).collect();
                    self.index.insert(owned, self.groups.len() - 1);
                    self.groups.len() - 1
                }
            }
        };
        if let Some(group) = self.groups.get_mut(slot) {
            group.add(self.columns, twin);
        }
    }

    /// Adds the groups of `later`, which saw twins that come after all of these:
    /// aggregations of parts of a collection, merged in order, give the aggregation of
    /// the whole.
    pub fn merge(&mut self, later: Aggregation<'q>) {
        let mut keys: Vec<(usize, Vec<GroupKey<'static>>)> = later
            .index
            .into_iter()
            .map(|(key, slot)| (slot, key))
            .collect();
        keys.sort_unstable_by_key(|(slot, _)| *slot);
        let mut keys = keys.into_iter().map(|(_, key)| key);
        for (position, group) in later.groups.into_iter().enumerate() {
            // Without GROUP BY there is one group on each side, and no keys.
            let key = if self.group_by.is_empty() {
                None
            } else {
                keys.next()
            };
            let slot = match &key {
                None => Some(position),
                Some(key) => self.index.get(key).copied(),
            };
            match slot.and_then(|slot| self.groups.get_mut(slot)) {
                Some(existing) => existing.merge(group),
                None => {
                    self.groups.push(group);
                    if let Some(key) = key {
                        self.index.insert(key, self.groups.len() - 1);
                    }
                }
            }
        }
    }

    /// One row per group, columns in select-list order; undefined columns are omitted.
    pub fn rows(self) -> Vec<Value> {
        let columns = self.columns;
        self.groups
            .into_iter()
            .map(|group| group.into_row(columns))
            .collect()
    }
}

/// What identifies a group: the GROUP BY values, compared by JSON value.
#[derive(Debug, PartialEq, Eq, Hash)]
enum GroupKey<'t> {
    Undefined,
    Null,
    Bool(bool),
    /// The bits of the number as an `f64`, so `1` and `1.0` fall in one group.
    Number(u64),
    Text(Cow<'t, str>),
    /// Objects and arrays, by their JSON text.
    Composite(String),
}

impl<'t> GroupKey<'t> {
    fn of<D: Document<'t>>(value: Option<D>) -> Self {
        let Some(value) = value else {
            return Self::Undefined;
        };
        match Datum::from_document(value) {
            Datum::Undefined => Self::Undefined,
            Datum::Null => Self::Null,
            Datum::Bool(flag) => Self::Bool(flag),
            Datum::Number(number) => Self::Number(if number == 0.0 { 0 } else { number.to_bits() }),
            Datum::Text(text) => Self::Text(text),
            Datum::Object(composite) | Datum::Array(composite) => {
                Self::Composite(composite.to_json().to_string())
            }
        }
    }

    fn into_owned(self) -> GroupKey<'static> {
        match self {
            Self::Undefined => GroupKey::Undefined,
            Self::Null => GroupKey::Null,
            Self::Bool(flag) => GroupKey::Bool(flag),
            Self::Number(bits) => GroupKey::Number(bits),
            Self::Text(text) => GroupKey::Text(Cow::Owned(text.into_owned())),
            Self::Composite(text) => GroupKey::Composite(text),
        }
    }
}

struct Group {
    /// The GROUP BY values of the group, as JSON.
    keys: Vec<Option<Value>>,
    /// One per column; `None` for GROUP BY key columns.
    accumulators: Vec<Option<Accumulator>>,
}

impl Group {
    fn new(keys: Vec<Option<Value>>, columns: &[AggregateColumn]) -> Self {
        let accumulators = columns
            .iter()
            .map(|column| match column.value {
                AggregateValue::Aggregate { function, .. } => Some(Accumulator::new(function)),
                AggregateValue::GroupKey(_) => None,
            })
            .collect();
        Self { keys, accumulators }
    }

    fn add<'t, D: Document<'t>>(&mut self, columns: &'t [AggregateColumn], twin: D) {
        for (column, accumulator) in columns.iter().zip(&mut self.accumulators) {
            if let (AggregateValue::Aggregate { argument, .. }, Some(accumulator)) =
                (&column.value, accumulator)
            {
                let value = argument
                    .as_ref()
                    .map_or(Datum::Undefined, |argument| argument.evaluate(twin));
                accumulator.add(value);
            }
        }
    }

    /// Adds what another group with the same key accumulated over later twins.
    fn merge(&mut self, later: Group) {
        for (mine, theirs) in self.accumulators.iter_mut().zip(later.accumulators) {
            if let (Some(mine), Some(theirs)) = (mine, theirs) {
                mine.merge(theirs);
            }
        }
    }

    fn into_row(self, columns: &[AggregateColumn]) -> Value {
        let mut row = Map::new();
        let mut keys = self.keys;
        for (column, accumulator) in columns.iter().zip(self.accumulators) {
            let value = match (&column.value, accumulator) {
                (AggregateValue::GroupKey(key), _) => keys.get_mut(*key).and_then(Option::take),
                (_, Some(accumulator)) => accumulator.finish(),
                (_, None) => None,
            };
            if let Some(value) = value {
                row.insert(column.name.clone(), value);
            }
        }
        Value::Object(row)
    }
}

/// The running state of one aggregate. AVG and SUM use numbers and skip anything else;
/// MIN and MAX use booleans, numbers and strings, ordered `bool < number < string`.
enum Accumulator {
    Count(u64),
    Sum(f64),
    Average {
        total: f64,
        count: u64,
    },
    Extreme {
        keep: Ordering,
        best: Option<Extreme>,
    },
}

/// The best value MIN or MAX has seen.
#[derive(Debug, Clone, PartialEq)]
enum Extreme {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Extreme {
    /// Booleans, numbers and strings can be MIN or MAX; nothing else.
    fn of<D>(value: Datum<'_, D>) -> Option<Self> {
        match value {
            Datum::Bool(flag) => Some(Self::Bool(flag)),
            Datum::Number(number) => Some(Self::Number(number)),
            Datum::Text(text) => Some(Self::Text(text.into_owned())),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Bool(_) => 0,
            Self::Number(_) => 1,
            Self::Text(_) => 2,
        }
    }

    /// Orders `bool < number < string`, and values of one type as comparisons do.
    fn order(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Bool(left), Self::Bool(right)) => left.cmp(right),
            (Self::Number(left), Self::Number(right)) => {
                left.partial_cmp(right).unwrap_or(Ordering::Equal)
            }
            (Self::Text(left), Self::Text(right)) => left.cmp(right),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// Replaces `best` with this value if it orders as `keep` (less for MIN, greater for
    /// MAX) against it, or there is none yet.
    fn offer_to(self, best: &mut Option<Self>, keep: Ordering) {
        if best
            .as_ref()
            .is_none_or(|current| self.order(current) == keep)
        {
            *best = Some(self);
        }
    }

    fn into_json(self) -> Option<Value> {
        match self {
            Self::Bool(flag) => Some(Value::Bool(flag)),
            Self::Number(number) => number_to_json(number),
            Self::Text(text) => Some(Value::String(text)),
        }
    }
}

impl Accumulator {
    fn new(function: Aggregate) -> Self {
        match function {
            Aggregate::Count => Self::Count(0),
            Aggregate::Sum => Self::Sum(0.0),
            Aggregate::Average => Self::Average {
                total: 0.0,
                count: 0,
            },
            Aggregate::Min => Self::Extreme {
                keep: Ordering::Less,
                best: None,
            },
            Aggregate::Max => Self::Extreme {
                keep: Ordering::Greater,
                best: None,
            },
        }
    }

    fn add<'a, D>(&mut self, value: Datum<'a, D>) {
        match (self, value) {
            (Self::Count(count), _) => *count += 1,
            (Self::Sum(total), Datum::Number(number)) => *total += number,
            (Self::Average { total, count }, Datum::Number(number)) => {
                *total += number;
                *count += 1;
            }
            (Self::Extreme { keep, best }, value) => {
                if let Some(candidate) = Extreme::of(value) {
                    candidate.offer_to(best, *keep);
                }
            }
            _ => {}
        }
    }

    /// Adds what the same aggregate accumulated over later twins.
    fn merge(&mut self, later: Accumulator) {
        match (self, later) {
            (Self::Count(count), Self::Count(more)) => *count += more,
            (Self::Sum(total), Self::Sum(more)) => *total += more,
            (
                Self::Average { total, count },
                Self::Average {
                    total: more_total,
                    count: more_count,
                },
            ) => {
                *total += more_total;
                *count += more_count;
            }
            (
                Self::Extreme { keep, best },
                Self::Extreme {
                    best: Some(candidate),
                    ..
                },
            ) => candidate.offer_to(best, *keep),
            _ => {}
        }
    }

    /// The aggregate's value; `None` (column omitted) for AVG, MIN and MAX of nothing.
    fn finish(self) -> Option<Value> {
        match self {
            Self::Count(count) => Some(Value::from(count)),
            Self::Sum(total) => number_to_json(total),
            Self::Average { total, count } if count > 0 => number_to_json(total / count as f64),
            Self::Average { .. } => None,
            Self::Extreme { best, .. } => best.and_then(Extreme::into_json),
        }
    }
}

#[cfg(test)]
mod tests;
