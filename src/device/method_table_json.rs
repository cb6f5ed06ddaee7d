//! The method table as JSON, the form the explorer lets users edit:
//! `{"reboot": {"status": 200, "payload": {...}, "delayMs": 500}, "*": {...}}`, where
//! `"*"` is the reply to every method not named. Only the key `"*"` itself is the default:
//! an IoT Plug and Play component's command, `"thermostat1*getMaxMinReport"`, is an
//! ordinary method name. Parsing names the method and field at fault so the editor can
//! point at it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::behaviours::{MethodReply, MethodTable};

/// The key of the reply given to methods the table does not name.
pub const DEFAULT_METHOD_KEY: &str = "*";

/// Longest delay a reply may ask for: IoT Hub never waits longer than 300 s.
const MAX_DELAY_MS: u64 = 300_000;

/// Why a method table text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodTableError {
    /// Not JSON at all.
    #[error("the method table is not valid JSON (line {line}, column {column}): {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// JSON, but not an object of replies.
    #[error(
        "the method table must be a JSON object of method names to replies, e.g. {{\"reboot\": {{\"status\": 200, \"payload\": {{}}}}}}"
    )]
    NotAnObject,
    /// One reply is malformed.
    #[error("the reply for method '{method}' is not usable: {problem}")]
    Reply {
        /// The method (or `*`).
        method: String,
        /// What is wrong and how to write it.
        problem: String,
    },
}

/// Parses a method table from its JSON text. A missing `"*"` keeps the usual 404 reply.
pub fn parse_method_table(text: &str) -> Result<MethodTable, MethodTableError> {
    let value: Value = serde_json::from_str(text).map_err(|error| MethodTableError::Syntax {
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let Value::Object(entries) = value else {
        return Err(MethodTableError::NotAnObject);
    };
    let mut table = MethodTable {
        methods: BTreeMap::new(),
        ..MethodTable::default()
    };
    for (method, reply) in entries {
        let reply = parse_reply(&reply).map_err(|problem| MethodTableError::Reply {
            method: method.clone(),
            problem,
        })?;
        if method == DEFAULT_METHOD_KEY {
            table.default = reply;
        } else {
            table.methods.insert(method, reply);
        }
    }
    Ok(table)
}

/// The JSON text of a method table, in the form [`parse_method_table`] reads.
pub fn method_table_to_json(table: &MethodTable) -> Value {
    let mut entries = Map::new();
    for (method, reply) in &table.methods {
        entries.insert(method.clone(), reply_to_json(reply));
    }
    entries.insert(DEFAULT_METHOD_KEY.to_owned(), reply_to_json(&table.default));
    Value::Object(entries)
}

fn reply_to_json(reply: &MethodReply) -> Value {
    let mut value = json!({"status": reply.status, "payload": reply.payload});
    if !reply.delay.is_zero() {
        value["delayMs"] = json!(u64::try_from(reply.delay.as_millis()).unwrap_or(MAX_DELAY_MS));
    }
    value
}

fn parse_reply(value: &Value) -> Result<MethodReply, String> {
    let Value::Object(fields) = value else {
        return Err("write it as {\"status\": 200, \"payload\": ..., \"delayMs\": 0}".into());
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !matches!(key.as_str(), "status" | "payload" | "delayMs"))
    {
        return Err(format!(
            "unknown field '{unknown}'; a reply has status, payload and delayMs"
        ));
    }
    let status = match fields.get("status") {
        None => 200,
        Some(status) => status
            .as_i64()
            .ok_or("status must be an integer, e.g. 200")?,
    };
    let payload = fields.get("payload").cloned().unwrap_or(Value::Null);
    let delay = match fields.get("delayMs") {
        None => Duration::ZERO,
        Some(delay) => {
            let millis = delay
                .as_u64()
                .ok_or("delayMs must be a whole number of milliseconds")?;
            if millis > MAX_DELAY_MS {
                return Err(format!(
                    "delayMs {millis} is longer than IoT Hub ever waits ({MAX_DELAY_MS} ms)"
                ));
            }
            Duration::from_millis(millis)
        }
    };
    Ok(MethodReply::new(status, payload).after(delay))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn named_and_default_replies_are_read() {
        let table = parse_method_table(
            r#"{"reboot": {"status": 202, "payload": {"ok": true}, "delayMs": 50},
                "*": {"status": 501, "payload": "no"}}"#,
        )
        .unwrap();
        let reboot = table.reply("reboot");
        assert_eq!(reboot.status, 202);
        assert_eq!(reboot.payload, json!({"ok": true}));
        assert_eq!(reboot.delay, Duration::from_millis(50));
        assert_eq!(table.reply("other").status, 501);
    }

    #[test]
    fn component_commands_are_named_with_a_star_apart_from_the_default() {
        let table = parse_method_table(
            r#"{"thermostat1*getMaxMinReport": {"status": 200, "payload": {"maxTemp": 25.1}},
                "*": {"status": 501}}"#,
        )
        .unwrap();
        let reply = table.reply("thermostat1*getMaxMinReport");
        assert_eq!(
            (reply.status, &reply.payload),
            (200, &json!({"maxTemp": 25.1}))
        );
        assert_eq!(table.reply("getMaxMinReport").status, 501);
        assert_eq!(table.reply("*").status, 501);
        let text = method_table_to_json(&table).to_string();
        assert_eq!(parse_method_table(&text).unwrap(), table);
    }

    #[test]
    fn status_defaults_to_200_and_default_reply_to_404() {
        let table = parse_method_table(r#"{"ping": {}}"#).unwrap();
        assert_eq!(table.reply("ping").status, 200);
        assert_eq!(table.reply("ping").payload, Value::Null);
        assert_eq!(table.reply("other").status, 404);
    }

    #[test]
    fn round_trips_through_json() {
        let table = MethodTable::default().with(
            "a",
            MethodReply::new(200, json!([1])).after(Duration::from_secs(1)),
        );
        let text = method_table_to_json(&table).to_string();
        assert_eq!(parse_method_table(&text).unwrap(), table);
    }

    #[test]
    fn mistakes_name_the_method_and_field() {
        let syntax = parse_method_table("{\n \"a\": }").unwrap_err();
        assert!(matches!(syntax, MethodTableError::Syntax { line: 2, .. }));
        assert_eq!(
            parse_method_table("[1]").unwrap_err(),
            MethodTableError::NotAnObject
        );
        for (text, fragment) in [
            (r#"{"a": 5}"#, "write it as"),
            (r#"{"a": {"status": "ok"}}"#, "status must be an integer"),
            (r#"{"a": {"delayMs": -1}}"#, "whole number"),
            (r#"{"a": {"delayMs": 400000}}"#, "longer than IoT Hub"),
            (r#"{"a": {"body": 1}}"#, "unknown field 'body'"),
        ] {
            let error = parse_method_table(text).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("'a'"), "{message}");
            assert!(message.contains(fragment), "{message}");
        }
    }
}
