//! Evaluates a parsed expression against one twin. It owns path lookup (root names
//! case-insensitive, deeper names exact) and the three-valued logic of IoT Hub conditions:
//! anything that is not defined on its operands is `undefined`, never an error.
//! Evaluation borrows from the twin and the query and allocates nothing unless a function
//! builds a new string.

use std::cmp::Ordering;
use std::sync::atomic::Ordering::Relaxed;

use serde_json::{Map, Value};

use super::ast::{Arithmetic, Comparison, Expr, MemberName, Path, Segment};
use super::datum::Datum;

/// Objects up to this many members are searched by scanning their keys in order, which
/// is several times faster than hashing the key for the small objects twins are made of.
const SCAN_LIMIT: usize = 32;

impl Path {
    /// Finds the value this path names in a twin, without copying it.
    pub(crate) fn resolve<'a>(&self, twin: &'a Value) -> Option<&'a Value> {
        let mut current = self.root.find(twin.as_object()?, NameCase::Any)?;
        for segment in &self.rest {
            current = match segment {
                Segment::Key(key) => key.find(current.as_object()?, NameCase::Exact)?,
                Segment::Index(index) => current.as_array()?.get(*index)?,
            };
        }
        Some(current)
    }
}

/// How a member name is compared: root names in any case, deeper names exactly.
#[derive(Clone, Copy)]
enum NameCase {
    Any,
    Exact,
}

impl MemberName {
    /// The member with this name: first at the position it had last time, then by scanning
    /// (small objects) or hashing (large ones).
    #[inline]
    fn find<'a>(&self, members: &'a Map<String, Value>, case: NameCase) -> Option<&'a Value> {
        let hint = self.position_hint.load(Relaxed);
        if let Some((name, value)) = members.iter().nth(hint)
            && self.is(name, case)
        {
            return Some(value);
        }
        if let (NameCase::Exact, true) = (case, members.len() > SCAN_LIMIT) {
            return members.get(self.text.as_str());
        }
        let (position, (_, value)) = members
            .iter()
            .enumerate()
            .find(|(_, (name, _))| self.is(name, case))?;
        self.position_hint.store(position, Relaxed);
        Some(value)
    }

    #[inline]
    fn is(&self, name: &str, case: NameCase) -> bool {
        match case {
            NameCase::Any => name.eq_ignore_ascii_case(&self.text),
            NameCase::Exact => same_name(name, &self.text),
        }
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

impl Comparison {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Equal => ordering == Ordering::Equal,
            Self::NotEqual => ordering != Ordering::Equal,
            Self::Less => ordering == Ordering::Less,
            Self::LessOrEqual => ordering != Ordering::Greater,
            Self::Greater => ordering == Ordering::Greater,
            Self::GreaterOrEqual => ordering != Ordering::Less,
        }
    }
}

impl Arithmetic {
    /// `None` for division by zero or a result too large for a number.
    fn apply(self, left: f64, right: f64) -> Option<f64> {
        let result = match self {
            Self::Add => left + right,
            Self::Subtract => left - right,
            Self::Multiply => left * right,
            Self::Divide if right == 0.0 => return None,
            Self::Divide => left / right,
            Self::Remainder if right == 0.0 => return None,
            Self::Remainder => left % right,
        };
        result.is_finite().then_some(result)
    }
}

impl Expr {
    /// Computes this expression for one twin.
    pub(crate) fn evaluate<'a>(&'a self, twin: &'a Value) -> Datum<'a> {
        match self {
            Self::Literal(literal) => Datum::from_literal(literal),
            Self::Path(path) => path
                .resolve(twin)
                .map_or(Datum::Undefined, Datum::from_json),
            Self::Negate(operand) => match operand.evaluate(twin) {
                Datum::Number(number) => Datum::Number(-number),
                _ => Datum::Undefined,
            },
            Self::Not(operand) => match operand.evaluate(twin) {
                Datum::Bool(flag) => Datum::Bool(!flag),
                _ => Datum::Undefined,
            },
            Self::And(left, right) => {
                let left = left.evaluate(twin);
                if left == Datum::Bool(false) {
                    return left;
                }
                match (left, right.evaluate(twin)) {
                    (_, Datum::Bool(false)) => Datum::Bool(false),
                    (Datum::Bool(true), Datum::Bool(true)) => Datum::Bool(true),
                    _ => Datum::Undefined,
                }
            }
            Self::Or(left, right) => {
                let left = left.evaluate(twin);
                if left == Datum::Bool(true) {
                    return left;
                }
                match (left, right.evaluate(twin)) {
                    (_, Datum::Bool(true)) => Datum::Bool(true),
                    (Datum::Bool(false), Datum::Bool(false)) => Datum::Bool(false),
                    _ => Datum::Undefined,
                }
            }
            Self::Compare(comparison, left, right) => left
                .evaluate(twin)
                .compare(&right.evaluate(twin))
                .map_or(Datum::Undefined, |ordering| {
                    Datum::Bool(comparison.holds(ordering))
                }),
            Self::Arithmetic(operator, left, right) => {
                match (left.evaluate(twin), right.evaluate(twin)) {
                    (Datum::Number(left), Datum::Number(right)) => operator
                        .apply(left, right)
                        .map_or(Datum::Undefined, Datum::Number),
                    _ => Datum::Undefined,
                }
            }
            Self::In {
                value,
                list,
                negated,
            } => {
                let value = value.evaluate(twin);
                if !value.is_primitive() {
                    return Datum::Undefined;
                }
                let found = list.iter().any(|constant| {
                    value.compare(&Datum::from_literal(constant)) == Some(Ordering::Equal)
                });
                Datum::Bool(found != *negated)
            }
            Self::Call(function, arguments) => {
                let mut values = arguments.iter().map(|argument| argument.evaluate(twin));
                let first = values.next().unwrap_or(Datum::Undefined);
                let second = values.next().unwrap_or(Datum::Undefined);
                function.apply(first, second)
            }
        }
    }

    /// The value of a projected column for one twin, `None` when undefined. A bare path
    /// is copied from the twin as it is, so numbers keep their exact JSON form.
    pub(crate) fn output(&self, twin: &Value) -> Option<Value> {
        match self {
            Self::Path(path) => path.resolve(twin).cloned(),
            _ => self.evaluate(twin).into_json(),
        }
    }
}

#[cfg(test)]
mod tests;
