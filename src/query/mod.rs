//! The IoT Hub query language over device twins, as the local hub answers
//! `POST /devices/query`: `SELECT [TOP n] * | <items> FROM devices | devices.modules
//! [WHERE <condition>] [GROUP BY <paths>]`, and `SELECT * FROM devices.jobs [WHERE ...]`.
//!
//! A query is parsed once ([`parse`]) into a tree where every name is already resolved,
//! then run over twins in the service view shape, read in place through [`Document`]
//! whatever form they are kept in ([`Query::execute`], or [`Query::matches`] for the
//! filter alone). Evaluation follows
//! IoT Hub's rules: a condition holds only when it is boolean `true`; comparing values of
//! different types, or anything with an absent property, is `undefined`, never an error.
//!
//! # Layout
//!
//! - `lexer` turns text into tokens (literals, escapes, `[[name]]` quoting).
//! - `parser` reads the clauses; `expression` the expression grammar and property paths;
//!   `select` names the result columns and checks aggregate queries.
//! - `ast` is the parsed form; `functions` the built-in functions.
//! - `document` is how twins are read; `datum` is the runtime value model; `eval`
//!   evaluates expressions against a twin;
//!   `aggregate` groups twins and computes aggregates.
//! - `error` is the one error type, with positions for UIs.
//!
//! This module does no I/O and knows nothing about the hub's storage or HTTP layer.

mod aggregate;
mod ast;
mod datum;
mod document;
mod error;
mod eval;
mod expression;
mod functions;
mod lexer;
mod parser;
mod select;

use serde_json::{Map, Value};

pub(crate) use aggregate::Aggregation;
pub use ast::{ItemType, Query, Source};
pub use document::{Document, Member, View};
pub use error::QueryError;
pub use parser::MAX_QUERY_CHARACTERS;

use ast::{Column, Selection};

/// Parses query text. The error names the first problem in reading order and where it is.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    parser::parse_query(text)
}

/// `text` as a string literal of the query language: single-quoted, with `\` and `'`
/// escaped, so any device id can be written into a query.
pub fn string_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for character in text.chars() {
        if matches!(character, '\\' | '\'') {
            literal.push('\\');
        }
        literal.push(character);
    }
    literal.push('\'');
    literal
}

impl Query {
    /// The collection the query reads, so the hub can pick device or module twins.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The shape of the rows, for the `x-ms-item-type` response header.
    pub fn item_type(&self) -> ItemType {
        if self.source == Source::DevicesJobs {
            return ItemType::DeviceJob;
        }
        match self.selection {
            Selection::Everything => ItemType::Twin,
            Selection::Columns(_) | Selection::Aggregated { .. } => ItemType::Json,
        }
    }

    /// Whether a twin satisfies the WHERE condition (always, without one). Allocates
    /// nothing for conditions on paths, constants and comparisons.
    pub fn matches<'a, D: Document<'a>>(&'a self, twin: D) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|condition| condition.evaluate(twin).is_true())
    }

    /// Runs the whole query over `twins` (whichever collection the caller chose for
    /// [`Query::source`]) and returns the result rows: the matching twins for `SELECT *`,
    /// one object per matching twin for a projection, one object per group for
    /// aggregates. TOP limits the rows; twins are copied only into emitted rows.
    pub fn execute<'a, D: Document<'a>>(
        &'a self,
        twins: impl IntoIterator<Item = D>,
    ) -> Vec<Value> {
        self.execute_page(twins, 0, usize::MAX)
    }

    /// Like [`Query::execute`], but returns only the result rows `skip..skip + take`
    /// (within TOP) and copies twins only into those: what one page of a paged REST
    /// answer needs. Asking for `take + 1` rows tells whether another page follows.
    pub fn execute_page<'a, D: Document<'a>>(
        &'a self,
        twins: impl IntoIterator<Item = D>,
        skip: usize,
        take: usize,
    ) -> Vec<Value> {
        let take = self.rows_after(skip, take);
        let matching = twins.into_iter().filter(|twin| self.matches(*twin));
        match self.aggregation() {
            Some(mut aggregation) => {
                matching.for_each(|twin| aggregation.add(twin));
                aggregation
                    .rows()
                    .into_iter()
                    .skip(skip)
                    .take(take)
                    .collect()
            }
            None => matching
                .skip(skip)
                .take(take)
                .filter_map(|twin| self.twin_row(twin))
                .collect(),
        }
    }

    /// How many of the rows `skip..skip + take` TOP lets the query return.
    pub(crate) fn rows_after(&self, skip: usize, take: usize) -> usize {
        let limit = self
            .top
            .map_or(usize::MAX, |top| usize::try_from(top).unwrap_or(usize::MAX));
        skip.saturating_add(take).min(limit).saturating_sub(skip)
    }

    /// The groups of an aggregate query, to add its matching twins to one at a time;
    /// `None` when the rows are twins or projections.
    pub(crate) fn aggregation(&self) -> Option<Aggregation<'_>> {
        match &self.selection {
            Selection::Aggregated { columns, group_by } => {
                Some(Aggregation::new(columns, group_by))
            }
            Selection::Everything | Selection::Columns(_) => None,
        }
    }

    /// Whether the rows are groups (COUNT, GROUP BY and other aggregates) rather than one
    /// row per matching twin.
    pub fn is_aggregate(&self) -> bool {
        matches!(self.selection, Selection::Aggregated { .. })
    }

    /// The TOP limit, if the query has one.
    pub fn top(&self) -> Option<u64> {
        self.top
    }

    /// The row one twin contributes to the result: the twin itself for `SELECT *`, its
    /// projection otherwise; `None` when it does not match, or for aggregates (whose rows
    /// come from groups). Lets a caller walk the twins in its own order, page by page.
    pub fn row_of<'a, D: Document<'a>>(&'a self, twin: D) -> Option<Value> {
        if self.matches(twin) {
            self.twin_row(twin)
        } else {
            None
        }
    }

    /// The row a matching twin becomes: itself, or its projection; `None` for aggregates.
    fn twin_row<'a, D: Document<'a>>(&'a self, twin: D) -> Option<Value> {
        match &self.selection {
            Selection::Everything => Some(twin.to_json()),
            Selection::Columns(columns) => Some(project(columns, twin)),
            Selection::Aggregated { .. } => None,
        }
    }

    /// The query text as it was given, for logs and for repeating it on the next page.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The query from its FROM clause on (`FROM devices WHERE ...`), to ask for other
    /// columns of the same twins.
    pub fn from_clauses(&self) -> String {
        self.text.chars().skip(self.from_start).collect()
    }

    /// The WHERE condition as written (`tags.site = 'north'`), without the keyword;
    /// `None` without one. A job takes exactly this as its `queryCondition`.
    pub fn condition_text(&self) -> Option<String> {
        let (start, end) = self.filter_span?;
        Some(self.text.chars().skip(start).take(end - start).collect())
    }

    /// The property paths a projection selects, as dotted member names
    /// (`SELECT deviceId, tags.location` gives `deviceId` and `tags.location`); `None`
    /// for `SELECT *`, for aggregates, and when a column is not a plain path of member
    /// names (an expression, an array index).
    pub fn projected_paths(&self) -> Option<Vec<String>> {
        let Selection::Columns(columns) = &self.selection else {
            return None;
        };
        columns
            .iter()
            .map(|column| match &column.expr {
                ast::Expr::Path(path) => path.dotted(),
                _ => None,
            })
            .collect()
    }

    /// How to learn the number of rows this query returns without reading them, for
    /// progress displays: `None` for aggregates, whose rows are groups, not twins.
    pub fn row_count(&self) -> Option<RowCount> {
        if self.is_aggregate() {
            return None;
        }
        Some(RowCount {
            query: format!("SELECT COUNT() AS n {}", self.from_clauses()),
            top: self.top,
        })
    }
}

/// A query that counts the twins another query selects, and the cap its TOP puts on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowCount {
    /// `SELECT COUNT() AS n` with the same FROM and WHERE: one row, `{"n": count}`.
    pub query: String,
    /// The original query's `TOP`, which the rows it returns never exceed.
    pub top: Option<u64>,
}

impl RowCount {
    /// The number of rows the original query returns when the count query found `counted`.
    pub fn rows(&self, counted: u64) -> u64 {
        self.top.map_or(counted, |top| counted.min(top))
    }
}

fn project<'a, D: Document<'a>>(columns: &'a [Column], twin: D) -> Value {
    let mut row = Map::new();
    for column in columns {
        if let Some(value) = column.expr.output(twin) {
            row.insert(column.name.clone(), value);
        }
    }
    Value::Object(row)
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
