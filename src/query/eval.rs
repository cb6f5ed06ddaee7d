//! Evaluates a parsed expression against one twin. It owns path lookup (root names
//! case-insensitive, deeper names exact) and the three-valued logic of IoT Hub conditions:
//! anything that is not defined on its operands is `undefined`, never an error.
//! Evaluation borrows from the twin and the query and allocates nothing unless a function
//! builds a new string. Twins are read through [`Document`], in whatever form they are kept.

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{Arithmetic, Comparison, Expr, Path, Segment};
use super::datum::Datum;
use super::document::{Document, Member};

impl Path {
    /// Finds the value this path names in a twin, without copying it.
    pub(crate) fn resolve<'a, D: Document<'a>>(&self, twin: D) -> Option<D> {
        let mut current = twin.member(Member::new(&self.root, true))?;
        for segment in &self.rest {
            current = match segment {
                Segment::Key(key) => current.member(Member::new(key, false))?,
                Segment::Index(index) => current.item(*index)?,
            };
        }
        Some(current)
    }
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
    pub(crate) fn evaluate<'a, D: Document<'a>>(&'a self, twin: D) -> Datum<'a, D> {
        match self {
            Self::Literal(literal) => Datum::from_literal(literal),
            Self::Path(path) => path
                .resolve(twin)
                .map_or(Datum::Undefined, Datum::from_document),
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
                if matches!(left, Datum::Bool(false)) {
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
                if matches!(left, Datum::Bool(true)) {
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
    pub(crate) fn output<'a, D: Document<'a>>(&'a self, twin: D) -> Option<Value> {
        match self {
            Self::Path(path) => path.resolve(twin).map(D::to_json),
            _ => self.evaluate(twin).into_json(),
        }
    }
}

#[cfg(test)]
mod tests;
