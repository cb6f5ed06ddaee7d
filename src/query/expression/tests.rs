//! The expression grammar: the trees it builds (precedence, literal folding, canonical
//! paths) and the exact position and wording of every expression-level error.

#![allow(clippy::unwrap_used)]

use super::super::ast::{Comparison, Expr, Literal, MemberName, Path, Segment};
use super::super::fixtures::assert_error;
use super::super::parse;

const WHERE: &str = "SELECT * FROM devices WHERE ";

fn condition(text: &str) -> Expr {
    parse(&format!("{WHERE}{text}"))
        .unwrap_or_else(|error| panic!("{text}: {error}"))
        .filter
        .unwrap()
}

fn path(root: &str, rest: &[&str]) -> Expr {
    Expr::Path(Path {
        root: MemberName::new(root),
        rest: rest
            .iter()
            .map(|key| Segment::Key(MemberName::new(*key)))
            .collect(),
    })
}

fn number(value: f64) -> Box<Expr> {
    Box::new(Expr::Literal(Literal::Number(value)))
}

#[test]
fn root_and_section_names_take_their_twin_spelling() {
    assert_eq!(
        condition("DEVICEID = 1"),
        Expr::Compare(
            Comparison::Equal,
            Box::new(path("deviceId", &[])),
            number(1.0)
        )
    );
    assert_eq!(
        condition("Properties.Reported.Fw = 1"),
        Expr::Compare(
            Comparison::Equal,
            Box::new(path("properties", &["reported", "Fw"])),
            number(1.0)
        )
    );
    assert_eq!(
        condition("tags.Desired = 1"),
        Expr::Compare(
            Comparison::Equal,
            Box::new(path("tags", &["Desired"])),
            number(1.0)
        )
    );
}

#[test]
fn collection_qualifiers_are_dropped() {
    assert_eq!(condition("devices.deviceId = 1"), condition("deviceId = 1"));
    assert_eq!(
        condition("Devices.Modules.moduleId = 1"),
        condition("moduleId = 1")
    );
    assert_eq!(
        condition("devices = 1"),
        Expr::Compare(
            Comparison::Equal,
            Box::new(path("devices", &[])),
            number(1.0)
        )
    );
}

#[test]
fn keywords_are_names_after_a_dot() {
    assert_eq!(
        condition("tags.group.select = 1"),
        Expr::Compare(
            Comparison::Equal,
            Box::new(path("tags", &["group", "select"])),
            number(1.0)
        )
    );
}

#[test]
fn array_indexes_are_segments() {
    let Expr::Compare(_, left, _) = condition("tags.list[2].name = 1") else {
        panic!("not a comparison");
    };
    assert_eq!(
        *left,
        Expr::Path(Path {
            root: MemberName::new("tags"),
            rest: vec![
                Segment::Key(MemberName::new("list")),
                Segment::Index(2),
                Segment::Key(MemberName::new("name"))
            ],
        })
    );
}

#[test]
fn negative_number_literals_are_folded() {
    assert_eq!(
        condition("version = -5"),
        Expr::Compare(
            Comparison::Equal,
            Box::new(path("version", &[])),
            number(-5.0)
        )
    );
    assert_eq!(
        condition("-version = 1"),
        Expr::Compare(
            Comparison::Equal,
            Box::new(Expr::Negate(Box::new(path("version", &[])))),
            number(1.0)
        )
    );
}

#[test]
fn and_groups_before_or() {
    let Expr::Or(_, right) = condition("a = 1 OR b = 1 AND c = 1") else {
        panic!("OR is not the root");
    };
    assert!(matches!(*right, Expr::And(..)));
    let Expr::And(left, _) = condition("NOT a = 1 AND b = 1") else {
        panic!("AND is not the root");
    };
    assert!(matches!(*left, Expr::Not(..)));
}

#[test]
fn unexpected_tokens() {
    let operand = "expected a value, property path or function call";
    assert_error(&format!("{WHERE}= 1"), 28, &format!("{operand}, found '='"));
    assert_error(
        &format!("{WHERE}a ="),
        31,
        &format!("{operand}, found end of query"),
    );
    assert_error(
        &format!("{WHERE}a = AND"),
        32,
        &format!("{operand}, found 'AND'"),
    );
    assert_error(
        &format!("{WHERE}a = *"),
        32,
        &format!("{operand}, found '*'"),
    );
    assert_error(&format!("{WHERE}]"), 28, &format!("{operand}, found ']'"));
    assert_error(
        &format!("{WHERE}(a = 1"),
        34,
        "expected ')' to close the '(' at column 29, found end of query",
    );
    assert_error(
        &format!("{WHERE}tags. = 1"),
        34,
        "expected a property name after '.', found '='",
    );
    assert_error(
        &format!("{WHERE}tags.list[x] = 1"),
        38,
        "expected an array index (a whole number) after '[', found 'x'",
    );
    assert_error(
        &format!("{WHERE}tags.list[-1] = 1"),
        38,
        "expected an array index (a whole number) after '[', found '-'",
    );
    assert_error(
        &format!("{WHERE}tags['a'] = 1"),
        33,
        "expected an array index (a whole number) after '[', found ''a'': to name a property, \
         write .[[name]] instead of ['name']",
    );
    assert_error(
        &format!("{WHERE}tags.list[1 = 1"),
        40,
        "expected ']' after the array index, found '='",
    );
}

#[test]
fn unknown_function() {
    assert_error(
        &format!("{WHERE}FOO(deviceId)"),
        28,
        "unknown function 'FOO': expected one of IS_DEFINED, IS_NULL",
    );
    assert_error(
        "SELECT CONCAT(deviceId, 'x') AS a FROM devices",
        7,
        "unknown function 'CONCAT'",
    );
}

#[test]
fn wrong_arity() {
    assert_error(
        &format!("{WHERE}STARTS_WITH(deviceId)"),
        28,
        "STARTS_WITH takes 2 arguments, found 1",
    );
    assert_error(
        &format!("{WHERE}is_defined()"),
        28,
        "IS_DEFINED takes 1 argument, found 0",
    );
    assert_error(
        &format!("{WHERE}a = 1 AND lower(a, b) = 'x'"),
        38,
        "LOWER takes 1 argument, found 2",
    );
    assert_error(
        "SELECT COUNT(deviceId) AS n FROM devices",
        7,
        "COUNT takes no arguments, found 1",
    );
    assert_error(
        "SELECT AVG() AS n FROM devices",
        7,
        "AVG takes 1 argument, found 0",
    );
    assert_error(
        "SELECT MAX(a, b) AS n FROM devices",
        7,
        "MAX takes 1 argument, found 2",
    );
}

#[test]
fn bad_argument_lists() {
    assert_error(
        &format!("{WHERE}STARTS_WITH(a 'b')"),
        42,
        "expected ',' or ')' in the arguments of STARTS_WITH, found ''b''",
    );
    assert_error(
        &format!("{WHERE}IS_DEFINED(a"),
        40,
        "expected ',' or ')' in the arguments of IS_DEFINED, found end of query",
    );
}

#[test]
fn aggregates_only_as_whole_select_items() {
    assert_error(
        &format!("{WHERE}COUNT() > 1"),
        28,
        "COUNT is an aggregate: it can only be a whole select item",
    );
    assert_error(
        "SELECT LOWER(MAX(deviceId)) AS a FROM devices",
        13,
        "MAX is an aggregate",
    );
    assert_error(
        "SELECT SUM(COUNT()) AS a FROM devices",
        11,
        "COUNT is an aggregate",
    );
}

#[test]
fn bad_in_lists() {
    assert_error(
        &format!("{WHERE}a IN 'x'"),
        33,
        "expected '[' and a list of constants after IN, found ''x''",
    );
    assert_error(
        &format!("{WHERE}a IN [b]"),
        34,
        "expected a constant (string, number, true, false or null) in the list, found 'b'",
    );
    assert_error(
        &format!("{WHERE}a NIN ['x' 'y']"),
        39,
        "expected ',' or ']' in the NIN list, found ''y''",
    );
    assert_error(
        &format!("{WHERE}a IN ['x',"),
        38,
        "expected a constant (string, number, true, false or null) in the list, found end of query",
    );
    assert_error(
        &format!("{WHERE}a IN [-'x']"),
        35,
        "expected a number after '-', found ''x''",
    );
}

/// `depth` parentheses around `inner`.
fn parenthesised(inner: &str, depth: usize) -> String {
    format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth))
}

#[test]
fn nesting_up_to_the_limit_parses_and_evaluates() {
    use super::super::fixtures::sample_twin;
    use super::MAX_NESTING;
    let twin = sample_twin();
    for text in [
        parenthesised("tags.group = 'a'", MAX_NESTING),
        format!("{}tags.group = 'a'", "NOT ".repeat(MAX_NESTING)),
        format!("tags.location.floor = {}-3", "-".repeat(MAX_NESTING - 1)),
    ] {
        let query = parse(&format!("{WHERE}{text}")).unwrap();
        assert!(query.matches(&twin), "{text}");
    }
}

#[test]
fn nesting_past_the_limit_is_an_error_not_a_crash() {
    use super::MAX_NESTING;
    let message = "nest more than 64 levels deep here: simplify the expression";
    let first_past_the_limit = WHERE.len() + MAX_NESTING;
    for depth in [MAX_NESTING + 1, 1_000, 4_000] {
        let text = parenthesised("1=1", depth);
        let error = super::super::fixtures::error(&format!("{WHERE}{text}"));
        assert_eq!(error.position, first_past_the_limit, "depth {depth}");
        assert!(error.message.ends_with(message), "{error}");
        let unbalanced = format!("{WHERE}{}", "(".repeat(depth));
        assert!(parse(&unbalanced).is_err());
    }
    for text in [
        format!("{WHERE}{}true", "NOT ".repeat(1_000)),
        format!("{WHERE}tags.a = {}1", "-".repeat(4_000)),
        format!("{WHERE}{}", "IS_DEFINED(".repeat(700)),
        format!("SELECT {} FROM devices", "(".repeat(1_000)),
        format!(
            "SELECT {}1{} AS x FROM devices",
            "(".repeat(1_000),
            ")".repeat(1_000)
        ),
    ] {
        let error = super::super::fixtures::error(&text);
        assert!(error.message.contains("levels deep"), "{error}");
    }
    // Past the length limit, the length is what is reported.
    let error = super::super::fixtures::error(&parenthesised("1=1", 10_000));
    assert!(error.message.starts_with("query is"), "{error}");
}

#[test]
fn long_operator_chains_are_bounded_by_depth() {
    use super::super::fixtures::sample_twin;
    use super::MAX_EXPRESSION_DEPTH;
    let chain = |terms: usize| {
        let mut terms = vec!["x=1"; terms - 1];
        terms.push("tags.group='a'");
        terms.join(" OR ")
    };
    // `terms` comparisons joined by OR are `terms - 1` ORs over a comparison over a value.
    let longest = MAX_EXPRESSION_DEPTH - 1;
    let query = parse(&format!("{WHERE}{}", chain(longest))).unwrap();
    assert!(query.matches(&sample_twin()));
    let error = super::super::fixtures::error(&format!("{WHERE}{}", chain(longest + 1)));
    assert_eq!(error.position, WHERE.len());
    assert!(
        error
            .message
            .starts_with("the expression is 513 levels deep, expected at most 512"),
        "{error}"
    );
    let sum = format!("SELECT {} AS n FROM devices", vec!["1"; 1_500].join("+"));
    assert!(
        super::super::fixtures::error(&sum)
            .message
            .contains("levels deep")
    );
}
