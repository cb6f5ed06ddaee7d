//! The expression grammar, by precedence from loosest to tightest: OR, AND, NOT,
//! comparisons and IN/NIN, `+ -`, `* / %`, unary minus, then literals, parentheses,
//! function calls and property paths. It also settles, at parse time, how a path is
//! spelled: collection qualifiers are dropped and root names take their canonical case.

use crate::twin::document::ROOT_FIELDS;

use super::ast::{Arithmetic, Comparison, Expr, Literal, MemberName, Path, Segment};
use super::error::QueryError;
use super::functions::{Aggregate, Function, known_function_names};
use super::lexer::TokenKind;
use super::parser::{Parser, check_arity, is_reserved};

/// The two sections under `properties`; system names, so matched case-insensitively too.
const PROPERTY_SECTIONS: &[&str] = &["desired", "reported"];

const EXPECTED_OPERAND: &str = "a value, property path or function call";

/// How deeply parentheses, `NOT`, unary minus and function calls may nest. Parsing
/// recurses a few frames per level, so without a bound a short query of parentheses
/// would overflow the stack of the thread that parses it.
pub(crate) const MAX_NESTING: usize = 64;

/// How many levels an expression tree may have, counted from its top operator down to
/// a value (`a = 1 OR b = 2` has three). Evaluating an expression recurses once per level.
pub(crate) const MAX_EXPRESSION_DEPTH: usize = 512;

impl Parser<'_> {
    /// A whole condition or computed value, checked against [`MAX_EXPRESSION_DEPTH`]
    /// so that evaluating it can never exhaust the stack.
    pub(crate) fn bounded_expression(&mut self) -> Result<Expr, QueryError> {
        let start = self.current.start;
        let expression = self.expression()?;
        let depth = expression.depth();
        if depth > MAX_EXPRESSION_DEPTH {
            return Err(QueryError::new(
                start,
                format!(
                    "the expression is {depth} levels deep, expected at most \
                     {MAX_EXPRESSION_DEPTH}: write a long chain of OR comparisons of one \
                     property as IN [...], or split the query"
                ),
            ));
        }
        Ok(expression)
    }

    /// A full expression (a condition or a computed value).
    fn expression(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.conjunction()?;
        while self.eat_keyword("OR")? {
            let right = self.conjunction()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.negation()?;
        while self.eat_keyword("AND")? {
            let right = self.negation()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn negation(&mut self) -> Result<Expr, QueryError> {
        let start = self.current.start;
        if self.eat_keyword("NOT")? {
            let operand = self.nested(start, Self::negation)?;
            return Ok(Expr::Not(Box::new(operand)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.sum()?;
        if let Some(comparison) = comparison_operator(&self.current.kind) {
            self.advance()?;
            let right = self.sum()?;
            return Ok(Expr::Compare(comparison, Box::new(left), Box::new(right)));
        }
        for (keyword, negated) in [("IN", false), ("NIN", true)] {
            if self.eat_keyword(keyword)? {
                let list = self.constant_list(keyword)?;
                return Ok(Expr::In {
                    value: Box::new(left),
                    list,
                    negated,
                });
            }
        }
        Ok(left)
    }

    fn sum(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.product()?;
        loop {
            let operator = match self.current.kind {
                TokenKind::Plus => Arithmetic::Add,
                TokenKind::Minus => Arithmetic::Subtract,
                _ => return Ok(left),
            };
            self.advance()?;
            let right = self.product()?;
            left = Expr::Arithmetic(operator, Box::new(left), Box::new(right));
        }
    }

    fn product(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            let operator = match self.current.kind {
                TokenKind::Star => Arithmetic::Multiply,
                TokenKind::Slash => Arithmetic::Divide,
                TokenKind::Percent => Arithmetic::Remainder,
                _ => return Ok(left),
            };
            self.advance()?;
            let right = self.unary()?;
            left = Expr::Arithmetic(operator, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let start = self.current.start;
        if !self.eat(&TokenKind::Minus)? {
            return self.operand();
        }
        Ok(match self.nested(start, Self::unary)? {
            Expr::Literal(Literal::Number(number)) => Expr::Literal(Literal::Number(-number)),
            operand => Expr::Negate(Box::new(operand)),
        })
    }

    fn operand(&mut self) -> Result<Expr, QueryError> {
        match &self.current.kind {
            TokenKind::Number(number) => {
                let number = *number;
                self.advance()?;
                Ok(Expr::Literal(Literal::Number(number)))
            }
            TokenKind::Text(text) => {
                let text = text.clone();
                self.advance()?;
                Ok(Expr::Literal(Literal::Text(text)))
            }
            TokenKind::OpenParen => {
                let open = self.advance()?;
                let inner = self.nested(open.start, Self::expression)?;
                let expected = format!("')' to close the '(' at column {}", open.start + 1);
                self.expect(&TokenKind::CloseParen, &expected)?;
                Ok(inner)
            }
            TokenKind::QuotedName(_) => Ok(Expr::Path(self.path()?)),
            TokenKind::Word(word) => {
                if let Some(literal) = keyword_literal(word) {
                    self.advance()?;
                    return Ok(Expr::Literal(literal));
                }
                if self.peek_next()?.kind == TokenKind::OpenParen {
                    return self.call();
                }
                if is_reserved(word) {
                    return Err(self.unexpected(EXPECTED_OPERAND));
                }
                Ok(Expr::Path(self.path()?))
            }
            _ => Err(self.unexpected(EXPECTED_OPERAND)),
        }
    }

    /// Parses one level deeper with `parse`, refusing to go past [`MAX_NESTING`];
    /// `start` is where the level opens, for the error.
    fn nested(
        &mut self,
        start: usize,
        parse: impl FnOnce(&mut Self) -> Result<Expr, QueryError>,
    ) -> Result<Expr, QueryError> {
        if self.nesting >= MAX_NESTING {
            return Err(QueryError::new(
                start,
                format!(
                    "parentheses, NOT, minus signs and function calls nest more than \
                     {MAX_NESTING} levels deep here: simplify the expression"
                ),
            ));
        }
        self.nesting += 1;
        let parsed = parse(self);
        self.nesting -= 1;
        parsed
    }

    fn call(&mut self) -> Result<Expr, QueryError> {
        let name_token = self.advance()?;
        let TokenKind::Word(name) = name_token.kind else {
            return Err(self.unexpected("a function name"));
        };
        let Some(function) = Function::named(&name) else {
            let message = match Aggregate::named(&name) {
                Some(aggregate) => format!(
                    "{} is an aggregate: it can only be a whole select item, for example \
                     SELECT {}(...) AS name FROM devices",
                    aggregate.name(),
                    aggregate.name()
                ),
                None => format!(
                    "unknown function '{name}': expected one of {}",
                    known_function_names()
                ),
            };
            return Err(QueryError::new(name_token.start, message));
        };
        let arguments = self.call_arguments(function.name())?;
        check_arity(
            function.name(),
            function.arity(),
            arguments.len(),
            name_token.start,
        )?;
        Ok(Expr::Call(function, arguments))
    }

    /// `( [expression {, expression}] )`, starting at the opening parenthesis.
    pub(crate) fn call_arguments(&mut self, function: &str) -> Result<Vec<Expr>, QueryError> {
        self.expect(&TokenKind::OpenParen, &format!("'(' after {function}"))?;
        let mut arguments = Vec::new();
        if self.eat(&TokenKind::CloseParen)? {
            return Ok(arguments);
        }
        loop {
            let start = self.current.start;
            arguments.push(self.nested(start, Self::expression)?);
            if self.eat(&TokenKind::CloseParen)? {
                return Ok(arguments);
            }
            let expected = format!("',' or ')' in the arguments of {function}");
            self.expect(&TokenKind::Comma, &expected)?;
        }
    }

    /// A property path starting at the current word or `[[name]]`:
    /// `name {. name | . [[name]] | [index]}`.
    pub(crate) fn path(&mut self) -> Result<Path, QueryError> {
        let mut steps = vec![Step::Name(self.property_name("a property name")?)];
        loop {
            if self.eat(&TokenKind::Dot)? {
                let name = self.property_name("a property name after '.'")?;
                steps.push(Step::Name(name));
            } else if self.eat(&TokenKind::OpenBracket)? {
                let index = self.whole_number().ok_or_else(|| self.bad_index())?;
                self.advance()?;
                self.expect(&TokenKind::CloseBracket, "']' after the array index")?;
                steps.push(Step::Index(usize::try_from(index).unwrap_or(usize::MAX)));
            } else {
                return Ok(canonical_path(steps));
            }
        }
    }

    fn bad_index(&self) -> QueryError {
        let mut error = self.unexpected("an array index (a whole number) after '['");
        if matches!(self.current.kind, TokenKind::Text(_)) {
            error
                .message
                .push_str(": to name a property, write .[[name]] instead of ['name']");
        }
        error
    }

    fn property_name(&mut self, expected: &str) -> Result<String, QueryError> {
        match &self.current.kind {
            TokenKind::Word(name) | TokenKind::QuotedName(name) => {
                let name = name.clone();
                self.advance()?;
                Ok(name)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn constant_list(&mut self, keyword: &str) -> Result<Vec<Literal>, QueryError> {
        let expected = format!("'[' and a list of constants after {keyword}");
        self.expect(&TokenKind::OpenBracket, &expected)?;
        let mut constants = Vec::new();
        if self.eat(&TokenKind::CloseBracket)? {
            return Ok(constants);
        }
        loop {
            constants.push(self.constant()?);
            if self.eat(&TokenKind::CloseBracket)? {
                return Ok(constants);
            }
            let expected = format!("',' or ']' in the {keyword} list");
            self.expect(&TokenKind::Comma, &expected)?;
        }
    }

    fn constant(&mut self) -> Result<Literal, QueryError> {
        const EXPECTED: &str = "a constant (string, number, true, false or null) in the list";
        let literal = match &self.current.kind {
            TokenKind::Text(text) => Literal::Text(text.clone()),
            TokenKind::Number(number) => Literal::Number(*number),
            TokenKind::Minus => {
                self.advance()?;
                match self.current.kind {
                    TokenKind::Number(number) => Literal::Number(-number),
                    _ => return Err(self.unexpected("a number after '-'")),
                }
            }
            TokenKind::Word(word) => {
                keyword_literal(word).ok_or_else(|| self.unexpected(EXPECTED))?
            }
            _ => return Err(self.unexpected(EXPECTED)),
        };
        self.advance()?;
        Ok(literal)
    }
}

fn comparison_operator(kind: &TokenKind) -> Option<Comparison> {
    Some(match kind {
        TokenKind::Equal => Comparison::Equal,
        TokenKind::NotEqual => Comparison::NotEqual,
        TokenKind::Less => Comparison::Less,
        TokenKind::LessOrEqual => Comparison::LessOrEqual,
        TokenKind::Greater => Comparison::Greater,
        TokenKind::GreaterOrEqual => Comparison::GreaterOrEqual,
        _ => return None,
    })
}

fn keyword_literal(word: &str) -> Option<Literal> {
    [
        ("true", Literal::Bool(true)),
        ("false", Literal::Bool(false)),
        ("null", Literal::Null),
        ("undefined", Literal::Undefined),
    ]
    .into_iter()
    .find(|(keyword, _)| keyword.eq_ignore_ascii_case(word))
    .map(|(_, literal)| literal)
}

/// A path step as written, before names are settled.
enum Step {
    Name(String),
    Index(usize),
}

/// Drops the collection qualifiers IoT Hub accepts in front of a path (`devices.deviceId`,
/// `devices.modules.moduleId`, `devices.jobs.jobId`) and gives root and section names
/// their twin spelling.
fn canonical_path(mut steps: Vec<Step>) -> Path {
    if strip_qualifier(&mut steps, "devices") && !strip_qualifier(&mut steps, "modules") {
        strip_qualifier(&mut steps, "jobs");
    }
    let mut steps = steps.into_iter();
    let root = match steps.next() {
        Some(Step::Name(name)) => canonical(name, &ROOT_FIELDS),
        _ => String::new(),
    };
    let is_properties = root == "properties";
    let rest = steps
        .enumerate()
        .map(|(position, step)| match step {
            Step::Name(name) if is_properties && position == 0 => {
                Segment::Key(MemberName::new(canonical(name, PROPERTY_SECTIONS)))
            }
            Step::Name(name) => Segment::Key(MemberName::new(name)),
            Step::Index(index) => Segment::Index(index),
        })
        .collect();
    Path {
        root: MemberName::new(root),
        rest,
    }
}

/// Removes a leading `qualifier` step when more steps follow it.
fn strip_qualifier(steps: &mut Vec<Step>, qualifier: &str) -> bool {
    let qualified = matches!(
        steps.first(),
        Some(Step::Name(name)) if name.eq_ignore_ascii_case(qualifier)
    );
    if qualified && steps.len() > 1 {
        steps.remove(0);
        return true;
    }
    false
}

fn canonical(name: String, known: &[&str]) -> String {
    known
        .iter()
        .find(|spelling| spelling.eq_ignore_ascii_case(&name))
        .map_or(name, |spelling| (*spelling).to_owned())
}

#[cfg(test)]
mod tests;
