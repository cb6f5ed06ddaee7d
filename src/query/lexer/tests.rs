//! Lexer rules: every literal form, every operator, and every way a token can be malformed.

#![allow(clippy::unwrap_used)]

use super::*;

fn kinds(text: &str) -> Vec<TokenKind> {
    let characters: Vec<char> = text.chars().collect();
    let mut lexer = Lexer::new(&characters);
    let mut kinds = Vec::new();
    loop {
        let token = lexer.next_token().unwrap();
        if token.kind == TokenKind::End {
            return kinds;
        }
        kinds.push(token.kind);
    }
}

fn first_error(text: &str) -> QueryError {
    let characters: Vec<char> = text.chars().collect();
    let mut lexer = Lexer::new(&characters);
    loop {
        match lexer.next_token() {
            Err(error) => return error,
            Ok(token) if token.kind == TokenKind::End => panic!("no error in {text:?}"),
            Ok(_) => {}
        }
    }
}

fn text(value: &str) -> TokenKind {
    TokenKind::Text(value.to_owned())
}

#[test]
fn words_keep_their_spelling_and_allow_dollar_and_underscore() {
    assert_eq!(
        kinds("Select $metadata _x1 é"),
        vec![
            TokenKind::Word("Select".into()),
            TokenKind::Word("$metadata".into()),
            TokenKind::Word("_x1".into()),
            TokenKind::Word("é".into()),
        ]
    );
}

#[test]
fn every_operator_and_punctuation() {
    use TokenKind::*;
    assert_eq!(
        kinds("= != <> < > <= >= + - * / % , . ( ) [ ]"),
        vec![
            Equal,
            NotEqual,
            NotEqual,
            Less,
            Greater,
            LessOrEqual,
            GreaterOrEqual,
            Plus,
            Minus,
            Star,
            Slash,
            Percent,
            Comma,
            Dot,
            OpenParen,
            CloseParen,
            OpenBracket,
            CloseBracket,
        ]
    );
}

#[test]
fn operators_need_no_spaces() {
    use TokenKind::*;
    assert_eq!(
        kinds("a>=1"),
        vec![Word("a".into()), GreaterOrEqual, Number(1.0)]
    );
}

#[test]
fn strings_in_either_quote_with_every_escape() {
    assert_eq!(
        kinds(r#"'it\'s' "say \"hi\"""#),
        vec![text("it's"), text("say \"hi\"")]
    );
    assert_eq!(kinds(r"'back\\slash'"), vec![text("back\\slash")]);
    assert_eq!(kinds(r"'\u00e9\u0041'"), vec![text("éA")]);
    assert_eq!(kinds(r"'\uD83D\uDE00'"), vec![text("😀")]);
    assert_eq!(
        kinds(r#"'a "quote" inside'"#),
        vec![text("a \"quote\" inside")]
    );
    assert_eq!(kinds("''"), vec![text("")]);
}

#[test]
fn numbers_decimal_fraction_exponent_and_hex() {
    assert_eq!(
        kinds("12 3.25 1e3 2.5E-1 0x1F 0XfF 0"),
        vec![
            TokenKind::Number(12.0),
            TokenKind::Number(3.25),
            TokenKind::Number(1000.0),
            TokenKind::Number(0.25),
            TokenKind::Number(31.0),
            TokenKind::Number(255.0),
            TokenKind::Number(0.0),
        ]
    );
}

#[test]
fn a_minus_sign_is_its_own_token() {
    assert_eq!(kinds("-5"), vec![TokenKind::Minus, TokenKind::Number(5.0)]);
}

#[test]
fn double_brackets_quote_a_property_name() {
    assert_eq!(
        kinds("tags.[[group]].x"),
        vec![
            TokenKind::Word("tags".into()),
            TokenKind::Dot,
            TokenKind::QuotedName("group".into()),
            TokenKind::Dot,
            TokenKind::Word("x".into()),
        ]
    );
    assert_eq!(
        kinds("[[my-key]]"),
        vec![TokenKind::QuotedName("my-key".into())]
    );
}

#[test]
fn double_brackets_with_quotes_inside_stay_brackets() {
    assert_eq!(
        kinds("[['a']]"),
        vec![
            TokenKind::OpenBracket,
            TokenKind::OpenBracket,
            text("a"),
            TokenKind::CloseBracket,
            TokenKind::CloseBracket,
        ]
    );
}

#[test]
fn tokens_carry_character_positions() {
    let characters: Vec<char> = "é  'x'".chars().collect();
    let mut lexer = Lexer::new(&characters);
    let word = lexer.next_token().unwrap();
    assert_eq!((word.start, word.end), (0, 1));
    let string = lexer.next_token().unwrap();
    assert_eq!((string.start, string.end), (3, 6));
    let end = lexer.next_token().unwrap();
    assert_eq!((&end.kind, end.start), (&TokenKind::End, 6));
    assert_eq!(lexer.describe(&string), "''x''");
    assert_eq!(lexer.describe(&end), "end of query");
}

#[test]
fn long_tokens_are_shortened_in_messages() {
    let long = "a".repeat(100);
    let characters: Vec<char> = long.chars().collect();
    let mut lexer = Lexer::new(&characters);
    let token = lexer.next_token().unwrap();
    assert_eq!(lexer.describe(&token), format!("'{}…'", "a".repeat(40)));
}

#[test]
fn unterminated_string_points_at_the_opening_quote() {
    let error = first_error("x = 'abc");
    assert_eq!(error.position, 4);
    assert!(error.message.starts_with("unterminated string"), "{error}");
    assert_eq!(first_error(r#"x = "abc\"#).position, 4);
}

#[test]
fn unknown_escape_points_at_the_backslash() {
    let error = first_error(r"x = 'a\nb'");
    assert_eq!(error.position, 6);
    assert!(error.message.contains("unknown escape '\\n'"), "{error}");
}

#[test]
fn bad_unicode_escapes_point_at_the_backslash() {
    assert_eq!(first_error(r"'\u12'").position, 1);
    assert_eq!(first_error(r"'\uZZZZ'").position, 1);
    let lone_high = first_error(r"'ab\uD83D'");
    assert_eq!(lone_high.position, 3);
    assert!(lone_high.message.contains("high surrogate"), "{lone_high}");
    let lone_low = first_error(r"'\uDE00'");
    assert!(lone_low.message.contains("low surrogate"), "{lone_low}");
}

#[test]
fn bad_numbers_point_at_the_first_digit() {
    for (query, shown) in [
        ("x = 12abc", "'12abc'"),
        ("x = 1.", "'1.'"),
        ("x = 1.2.3", "'1.2.3'"),
        ("x = 1e", "'1e'"),
        ("x = 0x", "'0x'"),
        ("x = 0xFG", "'0xFG'"),
        ("x = 0x1FFFFFFFFFFFFFFFFF", "'0x1FFFFFFFFFFFFFFFFF'"),
    ] {
        let error = first_error(query);
        assert_eq!(error.position, 4, "{query}");
        assert!(
            error.message.starts_with(&format!("bad number {shown}")),
            "{error}"
        );
    }
}

#[test]
fn stray_characters_are_reported_where_they_are() {
    for (query, position) in [("a ! b", 2), ("a ; b", 2), ("a # b", 2), ("a & b", 2)] {
        let error = first_error(query);
        assert_eq!(error.position, position, "{query}");
        assert!(error.message.starts_with("unexpected character"), "{error}");
    }
}
