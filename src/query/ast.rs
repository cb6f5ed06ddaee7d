//! The parsed, ready-to-run form of a query. Everything that can be decided once —
//! keyword spelling, the canonical case of root property names, which function a name
//! means, column names — is decided by the parser, so evaluation only walks this tree.

use std::sync::atomic::AtomicU64;

use super::functions::{Aggregate, Function};

/// The collection a query reads, from its FROM clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `FROM devices`: device twins.
    Devices,
    /// `FROM devices.modules`: module twins.
    DevicesModules,
    /// `FROM devices.jobs`: one row per device of every job (`SELECT *` only).
    DevicesJobs,
}

/// How the rows of a result are shaped; the hub sends it as the `x-ms-item-type` header
/// so SDKs know whether to deserialize rows as twins or as plain JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    /// Whole twins (`SELECT *` without aggregates or grouping).
    Twin,
    /// Projected or aggregated rows.
    Json,
    /// Rows of `devices.jobs`: what a job did on one device.
    DeviceJob,
}

impl ItemType {
    /// The header value IoT Hub uses for this shape.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twin => "twin",
            Self::Json => "json",
            Self::DeviceJob => "deviceJob",
        }
    }
}

/// What the SELECT clause asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    /// `SELECT *`: every matching twin as it is.
    Everything,
    /// A projection: one object per matching twin with these columns.
    Columns(Vec<Column>),
    /// Aggregates, optionally per group: one object per group with these columns.
    Aggregated {
        columns: Vec<AggregateColumn>,
        group_by: Vec<Path>,
    },
}

/// One projected column: the value to compute and the name it is returned under.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub name: String,
    pub expr: Expr,
}

/// One column of an aggregated row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AggregateColumn {
    pub name: String,
    pub value: AggregateValue,
}

/// A column of an aggregated row is either a grouping key or an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AggregateValue {
    /// The value of the GROUP BY path at this index, shared by every twin of the group.
    GroupKey(usize),
    /// An aggregate over the group; COUNT has no argument.
    Aggregate {
        function: Aggregate,
        argument: Option<Expr>,
    },
}

/// A constant written in the query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

/// A member name in a path, with a note of how it was found last time. Twins written by
/// one hub share their shape, so the note (for JSON, the position of the member in its
/// object) saves searching in almost every twin; each kind of document decides what it
/// notes, and checks the note before trusting it. It is atomic so that a query can be
/// shared between threads.
#[derive(Debug)]
pub(crate) struct MemberName {
    pub text: String,
    pub lookup_hint: AtomicU64,
}

impl MemberName {
    /// A name with no note yet.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            lookup_hint: AtomicU64::new(0),
        }
    }
}

impl Clone for MemberName {
    fn clone(&self) -> Self {
        Self::new(self.text.clone())
    }
}

impl PartialEq for MemberName {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for MemberName {}

/// One step of a property path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// An object member, matched case-sensitively.
    Key(MemberName),
    /// An array element, `[0]`.
    Index(usize),
}

/// A property path such as `tags.location.city`. The root name is matched
/// case-insensitively (twin root properties are system names); deeper names exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    /// The root property, in its canonical spelling when it is a known twin property.
    pub root: MemberName,
    pub rest: Vec<Segment>,
}

impl Path {
    /// The path as dotted member names (`tags.location`); `None` when a step is an
    /// array index.
    pub fn dotted(&self) -> Option<String> {
        let mut text = self.root.text.clone();
        for segment in &self.rest {
            match segment {
                Segment::Key(key) => {
                    text.push('.');
                    text.push_str(&key.text);
                }
                Segment::Index(_) => return None,
            }
        }
        Some(text)
    }

    /// The column name a projection of this path gets without an alias: its last
    /// member name, as IoT Hub does (`SELECT properties.reported.fw` gives `fw`).
    pub fn column_name(&self) -> Option<&str> {
        match self.rest.last() {
            None => Some(&self.root.text),
            Some(Segment::Key(key)) => Some(&key.text),
            Some(Segment::Index(_)) => None,
        }
    }
}

/// Comparison operators; every one is undefined between values of different types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// Arithmetic operators; defined on numbers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arithmetic {
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
}

/// A scalar expression, evaluated once per twin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Literal(Literal),
    Path(Path),
    Negate(Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Comparison, Box<Expr>, Box<Expr>),
    Arithmetic(Arithmetic, Box<Expr>, Box<Expr>),
    /// `value IN [..]`, or `value NIN [..]` when `negated`.
    In {
        value: Box<Expr>,
        list: Vec<Literal>,
        negated: bool,
    },
    Call(Function, Vec<Expr>),
}

impl Expr {
    /// The number of nodes on the longest path from this expression down to a value,
    /// counted without recursion so that any tree can be measured.
    pub(crate) fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut pending = vec![(self, 1)];
        while let Some((expression, depth)) = pending.pop() {
            deepest = deepest.max(depth);
            let below = depth + 1;
            match expression {
                Self::Literal(_) | Self::Path(_) => {}
                Self::Negate(operand) | Self::Not(operand) => pending.push((operand, below)),
                Self::In { value, .. } => pending.push((value, below)),
                Self::And(left, right)
                | Self::Or(left, right)
                | Self::Compare(_, left, right)
                | Self::Arithmetic(_, left, right) => {
                    pending.push((left, below));
                    pending.push((right, below));
                }
                Self::Call(_, arguments) => {
                    pending.extend(arguments.iter().map(|argument| (argument, below)));
                }
            }
        }
        deepest
    }
}

/// A parsed query, ready to run against any number of twins.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub(crate) text: String,
    /// Where FROM starts in `text`, in characters: the clauses a count of the rows keeps.
    pub(crate) from_start: usize,
    /// Where the WHERE condition starts and ends in `text`, in characters.
    pub(crate) filter_span: Option<(usize, usize)>,
    pub(crate) top: Option<u64>,
    pub(crate) selection: Selection,
    pub(crate) source: Source,
    pub(crate) filter: Option<Expr>,
}
