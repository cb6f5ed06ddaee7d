//! Parses the clauses of a query — `SELECT [TOP n] ... FROM ... [WHERE ...] [GROUP BY ...]`
//! — and owns the token cursor the expression grammar shares. Keywords are matched
//! case-insensitively here, once, so nothing downstream compares spellings.

use super::ast::{Path, Query, Selection, Source};
use super::error::QueryError;
use super::functions::Aggregate;
use super::lexer::{Lexer, Token, TokenKind};
use super::select::{SelectItem, SelectList, SelectValue, build_selection};

/// IoT Hub rejects query text longer than this many characters.
pub const MAX_QUERY_CHARACTERS: usize = 8192;

/// Words that start or separate clauses and so cannot name a root property or a column.
const RESERVED_WORDS: &[&str] = &[
    "SELECT", "TOP", "FROM", "WHERE", "GROUP", "BY", "AS", "AND", "OR", "NOT", "IN", "NIN",
];

/// True when `word` is a clause keyword or operator word.
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED_WORDS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(word))
}

/// A token cursor with one token of lookahead and the end of the last consumed token.
pub(crate) struct Parser<'c> {
    characters: &'c [char],
    lexer: Lexer<'c>,
    pub(crate) current: Token,
    pub(crate) previous_end: usize,
    /// How many nested levels the expression grammar is inside now.
    pub(crate) nesting: usize,
}

/// Parses query text into a [`Query`], or reports the first problem in reading order.
pub(crate) fn parse_query(text: &str) -> Result<Query, QueryError> {
    if text.chars().nth(MAX_QUERY_CHARACTERS).is_some() {
        return Err(QueryError::new(
            MAX_QUERY_CHARACTERS,
            format!(
                "query is {} characters long, expected at most {MAX_QUERY_CHARACTERS}: shorten \
                 the query, for example by splitting a long IN list into several queries",
                text.chars().count()
            ),
        ));
    }
    let characters: Vec<char> = text.chars().collect();
    let mut parser = Parser::new(&characters)?;
    parser.expect_keyword("SELECT", "SELECT at the start of the query")?;
    let top = parser.top()?;
    let select_list = parser.select_list()?;
    let from_start = parser.current.start;
    parser.expect_keyword("FROM", "FROM after the select list")?;
    let source = parser.source()?;
    let (filter, filter_span) = if parser.eat_keyword("WHERE")? {
        let start = parser.current.start;
        let filter = parser.bounded_expression()?;
        (Some(filter), Some((start, parser.previous_end)))
    } else {
        (None, None)
    };
    let group_by = parser.group_by()?;
    parser.expect_end(filter.is_some(), !group_by.is_empty())?;
    let selection = build_selection(select_list, group_by)?;
    if source == Source::DevicesJobs && (selection != Selection::Everything || top.is_some()) {
        return Err(QueryError::new(
            0,
            "devices.jobs is queried whole: SELECT * FROM devices.jobs [WHERE <condition>], \
             without TOP, projections or aggregates"
                .to_owned(),
        ));
    }
    Ok(Query {
        text: text.to_owned(),
        from_start,
        filter_span,
        top,
        selection,
        source,
        filter,
    })
}

impl<'c> Parser<'c> {
    fn new(characters: &'c [char]) -> Result<Self, QueryError> {
        let mut lexer = Lexer::new(characters);
        let current = lexer.next_token()?;
        Ok(Self {
            characters,
            lexer,
            current,
            previous_end: 0,
            nesting: 0,
        })
    }

    /// Consumes the current token and returns it.
    pub(crate) fn advance(&mut self) -> Result<Token, QueryError> {
        let next = self.lexer.next_token()?;
        self.previous_end = self.current.end;
        Ok(std::mem::replace(&mut self.current, next))
    }

    /// The token after the current one, without consuming anything.
    pub(crate) fn peek_next(&self) -> Result<Token, QueryError> {
        let mut probe = self.lexer;
        probe.next_token()
    }

    /// "expected {expected}, found {current token}" at the current token.
    pub(crate) fn unexpected(&self, expected: &str) -> QueryError {
        QueryError::new(
            self.current.start,
            format!(
                "expected {expected}, found {}",
                self.lexer.describe(&self.current)
            ),
        )
    }

    /// The query text between two character offsets, for messages.
    pub(crate) fn source_text(&self, start: usize, end: usize) -> String {
        self.characters
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    /// Consumes the current token if it has this kind.
    pub(crate) fn eat(&mut self, kind: &TokenKind) -> Result<bool, QueryError> {
        if self.current.kind == *kind {
            self.advance()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Consumes a token of this kind or reports what was expected instead.
    pub(crate) fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<(), QueryError> {
        if self.eat(kind)? {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Consumes the current token if it is this keyword (any case).
    pub(crate) fn eat_keyword(&mut self, keyword: &str) -> Result<bool, QueryError> {
        if self.current.is_keyword(keyword) {
            self.advance()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect_keyword(&mut self, keyword: &str, expected: &str) -> Result<(), QueryError> {
        if self.eat_keyword(keyword)? {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// A number token that is a whole, non-negative count or index.
    pub(crate) fn whole_number(&self) -> Option<u64> {
        match self.current.kind {
            TokenKind::Number(number)
                if number >= 0.0 && number.fract() == 0.0 && number <= u64::MAX as f64 =>
            {
                Some(number as u64)
            }
            _ => None,
        }
    }

    fn top(&mut self) -> Result<Option<u64>, QueryError> {
        if !self.eat_keyword("TOP")? {
            return Ok(None);
        }
        let count = self
            .whole_number()
            .ok_or_else(|| self.unexpected("a whole number of rows after TOP"))?;
        self.advance()?;
        Ok(Some(count))
    }

    fn select_list(&mut self) -> Result<SelectList, QueryError> {
        if self.current.kind == TokenKind::Star {
            let star = self.advance()?;
            return Ok(SelectList::Everything {
                position: star.start,
            });
        }
        if self.current.kind == TokenKind::End || self.current.is_keyword("FROM") {
            return Err(self.unexpected("'*' or a select list after SELECT"));
        }
        let mut items = vec![self.select_item()?];
        while self.eat(&TokenKind::Comma)? {
            items.push(self.select_item()?);
        }
        Ok(SelectList::Items(items))
    }

    fn select_item(&mut self) -> Result<SelectItem, QueryError> {
        let start = self.current.start;
        let value = match self.aggregate_ahead()? {
            Some(function) => self.aggregate(function)?,
            None => SelectValue::Scalar(self.bounded_expression()?),
        };
        let text = self.source_text(start, self.previous_end);
        let alias = if self.eat_keyword("AS")? {
            Some(self.column_name()?)
        } else {
            None
        };
        Ok(SelectItem {
            position: start,
            text,
            value,
            alias,
        })
    }

    /// The aggregate the current token calls, if it is an aggregate name followed by `(`.
    fn aggregate_ahead(&self) -> Result<Option<Aggregate>, QueryError> {
        let TokenKind::Word(word) = &self.current.kind else {
            return Ok(None);
        };
        let Some(function) = Aggregate::named(word) else {
            return Ok(None);
        };
        let opens_call = self.peek_next()?.kind == TokenKind::OpenParen;
        Ok(opens_call.then_some(function))
    }

    fn aggregate(&mut self, function: Aggregate) -> Result<SelectValue, QueryError> {
        let name = self.advance()?;
        let mut arguments = self.call_arguments(function.name())?;
        check_arity(
            function.name(),
            function.arity(),
            arguments.len(),
            name.start,
        )?;
        Ok(SelectValue::Aggregate {
            function,
            argument: arguments.pop(),
        })
    }

    fn column_name(&mut self) -> Result<String, QueryError> {
        match &self.current.kind {
            TokenKind::Word(word) if !is_reserved(word) => {
                let word = word.clone();
                self.advance()?;
                Ok(word)
            }
            TokenKind::QuotedName(name) => {
                let name = name.clone();
                self.advance()?;
                Ok(name)
            }
            _ => Err(self.unexpected("a column name after AS")),
        }
    }

    fn source(&mut self) -> Result<Source, QueryError> {
        const EXPECTED: &str = "devices, devices.modules or devices.jobs after FROM";
        let start = self.current.start;
        if !self.eat_keyword("devices")? {
            return Err(self.unexpected(EXPECTED));
        }
        if !self.eat(&TokenKind::Dot)? {
            return Ok(Source::Devices);
        }
        if self.eat_keyword("modules")? {
            return Ok(Source::DevicesModules);
        }
        if self.eat_keyword("jobs")? {
            return Ok(Source::DevicesJobs);
        }
        let found = self.source_text(start, self.current.end);
        Err(QueryError::new(
            start,
            format!("expected {EXPECTED}, found '{found}'"),
        ))
    }

    fn group_by(&mut self) -> Result<Vec<(usize, Path)>, QueryError> {
        if !self.eat_keyword("GROUP")? {
            return Ok(Vec::new());
        }
        self.expect_keyword("BY", "BY after GROUP")?;
        let mut paths = Vec::new();
        loop {
            let start = self.current.start;
            let starts_path = match &self.current.kind {
                TokenKind::Word(word) => !is_reserved(word),
                kind => matches!(kind, TokenKind::QuotedName(_)),
            };
            if !starts_path || self.peek_next()?.kind == TokenKind::OpenParen {
                return Err(self.unexpected("a property path after GROUP BY"));
            }
            paths.push((start, self.path()?));
            if !self.eat(&TokenKind::Comma)? {
                return Ok(paths);
            }
        }
    }

    fn expect_end(&self, has_filter: bool, has_group_by: bool) -> Result<(), QueryError> {
        if self.current.kind == TokenKind::End {
            return Ok(());
        }
        Err(self.unexpected(match (has_filter, has_group_by) {
            (_, true) => "',' or end of query after GROUP BY",
            (true, false) => "AND, OR, GROUP BY or end of query after the WHERE condition",
            (false, false) => "WHERE, GROUP BY or end of query after the FROM clause",
        }))
    }
}

/// Reports a call with the wrong number of arguments at the function name.
pub(crate) fn check_arity(
    name: &str,
    expected: usize,
    found: usize,
    position: usize,
) -> Result<(), QueryError> {
    if expected == found {
        return Ok(());
    }
    let takes = match expected {
        0 => "no arguments".to_owned(),
        1 => "1 argument".to_owned(),
        count => format!("{count} arguments"),
    };
    Err(QueryError::new(
        position,
        format!("{name} takes {takes}, found {found}"),
    ))
}

#[cfg(test)]
mod tests;
