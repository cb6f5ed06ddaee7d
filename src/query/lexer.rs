//! Splits query text into tokens with their character positions. It owns the literal
//! syntax — string quotes and escapes, decimal and hex numbers, identifiers and the
//! `[[name]]` quoting of property names — and knows nothing about the grammar.

use super::error::QueryError;

/// What a token is; words stay as written because keywords are recognised by the parser.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// An identifier or keyword exactly as written (`SELECT`, `deviceId`, `$metadata`).
    Word(String),
    /// A property name quoted as `[[name]]`, for names that clash with keywords or hold
    /// characters an identifier cannot.
    QuotedName(String),
    /// A string literal with its escapes resolved.
    Text(String),
    /// A decimal or `0x` hexadecimal number literal.
    Number(f64),
    Star,
    Comma,
    Dot,
    OpenParen,
    CloseParen,
    OpenBracket,
    CloseBracket,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Plus,
    Minus,
    Slash,
    Percent,
    /// The end of the query text.
    End,
}

/// A token and the character range `start..end` it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// True when this token is the word `keyword`, compared case-insensitively.
    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, TokenKind::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

/// A cursor over the characters of a query; cheap to copy so the parser can look ahead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lexer<'c> {
    characters: &'c [char],
    position: usize,
}

/// Longest token text quoted in an error message before it is shortened.
const MAX_QUOTED_CHARACTERS: usize = 40;

impl<'c> Lexer<'c> {
    /// Starts a cursor at the first character of `characters`.
    pub fn new(characters: &'c [char]) -> Self {
        Self {
            characters,
            position: 0,
        }
    }

    /// How a token appears in an error message: its text in quotes, or "end of query".
    pub fn describe(&self, token: &Token) -> String {
        if token.kind == TokenKind::End {
            return "end of query".to_owned();
        }
        let text: String = self
            .characters
            .get(token.start..token.end)
            .unwrap_or_default()
            .iter()
            .take(MAX_QUOTED_CHARACTERS)
            .collect();
        let ellipsis = if token.end - token.start > MAX_QUOTED_CHARACTERS {
            "…"
        } else {
            ""
        };
        format!("'{text}{ellipsis}'")
    }

    /// Reads the next token, skipping whitespace; after the last one it keeps returning
    /// [`TokenKind::End`].
    pub fn next_token(&mut self) -> Result<Token, QueryError> {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.position += 1;
        }
        let start = self.position;
        let Some(first) = self.peek(0) else {
            return Ok(self.token(TokenKind::End, start));
        };
        let kind = match first {
            '\'' | '"' => self.string(first)?,
            '[' => self
                .quoted_name()
                .unwrap_or_else(|| self.symbol(1, TokenKind::OpenBracket)),
            '0'..='9' => self.number()?,
            _ if is_word_start(first) => self.word(),
            _ => self.operator(first)?,
        };
        Ok(self.token(kind, start))
    }

    fn token(&self, kind: TokenKind, start: usize) -> Token {
        Token {
            kind,
            start,
            end: self.position,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.characters.get(self.position + ahead).copied()
    }

    fn symbol(&mut self, length: usize, kind: TokenKind) -> TokenKind {
        self.position += length;
        kind
    }

    fn operator(&mut self, first: char) -> Result<TokenKind, QueryError> {
        let second = self.peek(1);
        let kind = match (first, second) {
            ('!', Some('=')) | ('<', Some('>')) => self.symbol(2, TokenKind::NotEqual),
            ('<', Some('=')) => self.symbol(2, TokenKind::LessOrEqual),
            ('>', Some('=')) => self.symbol(2, TokenKind::GreaterOrEqual),
            ('<', _) => self.symbol(1, TokenKind::Less),
            ('>', _) => self.symbol(1, TokenKind::Greater),
            ('=', _) => self.symbol(1, TokenKind::Equal),
            ('*', _) => self.symbol(1, TokenKind::Star),
            (',', _) => self.symbol(1, TokenKind::Comma),
            ('.', _) => self.symbol(1, TokenKind::Dot),
            ('(', _) => self.symbol(1, TokenKind::OpenParen),
            (')', _) => self.symbol(1, TokenKind::CloseParen),
            (']', _) => self.symbol(1, TokenKind::CloseBracket),
            ('+', _) => self.symbol(1, TokenKind::Plus),
            ('-', _) => self.symbol(1, TokenKind::Minus),
            ('/', _) => self.symbol(1, TokenKind::Slash),
            ('%', _) => self.symbol(1, TokenKind::Percent),
            _ => {
                return Err(QueryError::new(
                    self.position,
                    format!(
                        "unexpected character '{first}': expected a property name, a literal, \
                         an operator (= != <> < > <= >= + - * / %) or punctuation ( ) [ ] , ."
                    ),
                ));
            }
        };
        Ok(kind)
    }

    fn word(&mut self) -> TokenKind {
        let start = self.position;
        while self.peek(0).is_some_and(is_word_part) {
            self.position += 1;
        }
        TokenKind::Word(self.text(start, self.position))
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.characters
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    /// `[[name]]`: taken only when a non-empty name without quotes, brackets or commas is
    /// closed by `]]`, so that `[` still opens an IN list or an array index otherwise.
    fn quoted_name(&mut self) -> Option<TokenKind> {
        if self.peek(1) != Some('[') {
            return None;
        }
        let name_start = self.position + 2;
        let rest = self.characters.get(name_start..)?;
        let length = rest.iter().position(|character| *character == ']')?;
        let name = rest.get(..length)?;
        let closed = rest.get(length + 1) == Some(&']');
        let plain = !name
            .iter()
            .any(|character| matches!(character, '\'' | '"' | '[' | ','));
        if !closed || !plain || name.is_empty() {
            return None;
        }
        self.position = name_start + length + 2;
        Some(TokenKind::QuotedName(name.iter().collect()))
    }

    fn string(&mut self, quote: char) -> Result<TokenKind, QueryError> {
        let start = self.position;
        self.position += 1;
        let mut value = String::new();
        loop {
            let Some(character) = self.peek(0) else {
                return Err(QueryError::new(
                    start,
                    format!(
                        "unterminated string: expected a closing {quote} before the end of \
                         the query"
                    ),
                ));
            };
            self.position += 1;
            match character {
                _ if character == quote => return Ok(TokenKind::Text(value)),
                '\\' => value.push(self.escape(start, quote)?),
                _ => value.push(character),
            }
        }
    }

    /// Resolves the escape whose backslash was just consumed: `\'`, `\"`, `\\` or `\uXXXX`
    /// (a UTF-16 surrogate pair is two `\u` escapes in a row).
    fn escape(&mut self, string_start: usize, quote: char) -> Result<char, QueryError> {
        let backslash = self.position - 1;
        match self.peek(0) {
            Some(character @ ('\'' | '"' | '\\')) => {
                self.position += 1;
                Ok(character)
            }
            Some('u') => {
                self.position += 1;
                self.unicode_escape(backslash)
            }
            Some(other) => Err(QueryError::new(
                backslash,
                format!(
                    "unknown escape '\\{other}' in a string: expected \\' \\\" \\\\ or \\u \
                     followed by 4 hex digits"
                ),
            )),
            None => Err(QueryError::new(
                string_start,
                format!(
                    "unterminated string: expected a closing {quote} before the end of the query"
                ),
            )),
        }
    }

    fn unicode_escape(&mut self, backslash: usize) -> Result<char, QueryError> {
        let bad = |message: &str| QueryError::new(backslash, message.to_owned());
        let first = self
            .hex4()
            .ok_or_else(|| bad("bad \\u escape: expected 4 hex digits after \\u"))?;
        let code = if (0xD800..0xDC00).contains(&first) {
            let second = if self.peek(0) == Some('\\') && self.peek(1) == Some('u') {
                self.position += 2;
                self.hex4()
            } else {
                None
            };
            match second {
                Some(low @ 0xDC00..0xE000) => 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00),
                _ => {
                    return Err(bad(
                        "bad \\u escape: a high surrogate must be followed by a \\u escape of \
                         a low surrogate (DC00-DFFF)",
                    ));
                }
            }
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| {
            bad("bad \\u escape: a low surrogate (DC00-DFFF) must follow a high surrogate")
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.characters.get(self.position..self.position + 4)?;
        let mut code = 0;
        for digit in digits {
            code = code * 16 + digit.to_digit(16)?;
        }
        self.position += 4;
        Some(code)
    }

    /// Decimal (`12`, `1.5`, `2e3`, `1.5E-2`) or hexadecimal (`0x1F`); a sign is the
    /// parser's business. Anything glued to the digits makes the whole run a bad number.
    fn number(&mut self) -> Result<TokenKind, QueryError> {
        let start = self.position;
        let value = if self.peek(0) == Some('0') && matches!(self.peek(1), Some('x' | 'X')) {
            self.position += 2;
            let digits = self.run(|character| character.is_ascii_hexdigit());
            u64::from_str_radix(&digits, 16)
                .ok()
                .map(|value| value as f64)
        } else {
            self.decimal()
        };
        let glued = self.peek(0).is_some_and(is_word_part)
            || (self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()));
        match value {
            Some(value) if !glued && value.is_finite() => Ok(TokenKind::Number(value)),
            _ => {
                self.run(|character| is_word_part(character) || character == '.');
                Err(QueryError::new(
                    start,
                    format!(
                        "bad number '{}': expected decimal digits with an optional fraction \
                         and exponent (12, 3.5, 1e3) or 0x followed by hex digits (0x1F)",
                        self.text(start, self.position)
                    ),
                ))
            }
        }
    }

    fn decimal(&mut self) -> Option<f64> {
        let mut literal = self.run(|character| character.is_ascii_digit());
        let mut complete = true;
        if self.peek(0) == Some('.') {
            self.position += 1;
            let fraction = self.run(|character| character.is_ascii_digit());
            complete &= !fraction.is_empty();
            literal = format!("{literal}.{fraction}");
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            self.position += 1;
            let sign = match self.peek(0) {
                Some(sign @ ('+' | '-')) => {
                    self.position += 1;
                    sign.to_string()
                }
                _ => String::new(),
            };
            let exponent = self.run(|character| character.is_ascii_digit());
            complete &= !exponent.is_empty();
            literal = format!("{literal}e{sign}{exponent}");
        }
        if complete { literal.parse().ok() } else { None }
    }

    fn run(&mut self, accept: impl Fn(char) -> bool) -> String {
        let start = self.position;
        while self.peek(0).is_some_and(&accept) {
            self.position += 1;
        }
        self.text(start, self.position)
    }
}

fn is_word_start(character: char) -> bool {
    character.is_alphabetic() || character == '_' || character == '$'
}

fn is_word_part(character: char) -> bool {
    character.is_alphanumeric() || character == '_' || character == '$'
}

#[cfg(test)]
mod tests;
