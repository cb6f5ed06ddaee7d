//! Runs aggregate queries: splits the matching twins into groups by the GROUP BY paths
//! (first-seen order, one group when there is no GROUP BY) and accumulates COUNT, AVG,
//! SUM, MIN and MAX per group. Values are borrowed from the twins until the rows are built.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::ast::{AggregateColumn, AggregateValue, Path};
use super::datum::{Datum, number_to_json};
use super::functions::Aggregate;

/// Builds one row per group, columns in select-list order; undefined columns are omitted.
pub(crate) fn aggregate_rows<'t>(
    columns: &[AggregateColumn],
    group_by: &[Path],
    twins: impl Iterator<Item = &'t Value>,
) -> Vec<Value> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut index: HashMap<Vec<GroupKey<'_>>, usize> = HashMap::new();
    if group_by.is_empty() {
        groups.push(Group::new(Vec::new(), columns));
    }
    for twin in twins {
        let slot = if group_by.is_empty() {
            0
        } else {
            let values: Vec<Option<&Value>> =
                group_by.iter().map(|path| path.resolve(twin)).collect();
            let key: Vec<GroupKey<'_>> = values.iter().map(|value| GroupKey::of(*value)).collect();
            *index.entry(key).or_insert_with(|| {
                groups.push(Group::new(values, columns));
                groups.len() - 1
            })
        };
        if let Some(group) = groups.get_mut(slot) {
            group.add(columns, twin);
        }
    }
    groups
        .into_iter()
        .map(|group| group.into_row(columns))
        .collect()
}

/// What identifies a group: the GROUP BY values, compared by JSON value.
#[derive(Debug, PartialEq, Eq, Hash)]
enum GroupKey<'t> {
    Undefined,
    Null,
    Bool(bool),
    /// The bits of the number as an `f64`, so `1` and `1.0` fall in one group.
    Number(u64),
    Text(&'t str),
    /// Objects and arrays, by their JSON text.
    Composite(String),
}

impl<'t> GroupKey<'t> {
    fn of(value: Option<&'t Value>) -> Self {
        match value {
            None => Self::Undefined,
            Some(Value::Null) => Self::Null,
            Some(Value::Bool(flag)) => Self::Bool(*flag),
            Some(Value::Number(number)) => {
                let number = number.as_f64().unwrap_or(f64::NAN);
                Self::Number(if number == 0.0 { 0 } else { number.to_bits() })
            }
            Some(Value::String(text)) => Self::Text(text),
            Some(composite) => Self::Composite(composite.to_string()),
        }
    }
}

struct Group<'a> {
    keys: Vec<Option<&'a Value>>,
    /// One per column; `None` for GROUP BY key columns.
    accumulators: Vec<Option<Accumulator<'a>>>,
}

impl<'a> Group<'a> {
    fn new(keys: Vec<Option<&'a Value>>, columns: &[AggregateColumn]) -> Self {
        let accumulators = columns
            .iter()
            .map(|column| match column.value {
                AggregateValue::Aggregate { function, .. } => Some(Accumulator::new(function)),
                AggregateValue::GroupKey(_) => None,
            })
            .collect();
        Self { keys, accumulators }
    }

    fn add(&mut self, columns: &'a [AggregateColumn], twin: &'a Value) {
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

    fn into_row(self, columns: &[AggregateColumn]) -> Value {
        let mut row = Map::new();
        for (column, accumulator) in columns.iter().zip(self.accumulators) {
            let value = match (&column.value, accumulator) {
                (AggregateValue::GroupKey(key), _) => {
                    self.keys.get(*key).copied().flatten().cloned()
                }
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
enum Accumulator<'a> {
    Count(u64),
    Sum(f64),
    Average {
        total: f64,
        count: u64,
    },
    Extreme {
        keep: Ordering,
        best: Option<Datum<'a>>,
    },
}

impl<'a> Accumulator<'a> {
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

    fn add(&mut self, value: Datum<'a>) {
        match (self, value) {
            (Self::Count(count), _) => *count += 1,
            (Self::Sum(total), Datum::Number(number)) => *total += number,
            (Self::Average { total, count }, Datum::Number(number)) => {
                *total += number;
                *count += 1;
            }
            (Self::Extreme { keep, best }, value) if type_rank(&value).is_some() => {
                let better = best
                    .as_ref()
                    .is_none_or(|current| order(&value, current) == *keep);
                if better {
                    *best = Some(value);
                }
            }
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
            Self::Extreme { best, .. } => best.and_then(Datum::into_json),
        }
    }
}

fn type_rank(value: &Datum<'_>) -> Option<u8> {
    match value {
        Datum::Bool(_) => Some(0),
        Datum::Number(_) => Some(1),
        Datum::Text(_) => Some(2),
        _ => None,
    }
}

fn order(left: &Datum<'_>, right: &Datum<'_>) -> Ordering {
    type_rank(left)
        .cmp(&type_rank(right))
        .then_with(|| left.compare(right).unwrap_or(Ordering::Equal))
}

#[cfg(test)]
mod tests;
