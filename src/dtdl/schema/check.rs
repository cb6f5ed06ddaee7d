//! Checking a JSON value against a schema, with errors that name the JSON pointer of
//! the offending value and what the schema expects there.

use std::fmt;

use serde_json::Value;

use super::super::error::{pointer_segment, quote};
use super::temporal::{is_date, is_date_time, is_duration, is_time};
use super::{EnumValueSchema, Schema};

/// Why a value does not fit its schema, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValueError {
    /// RFC 6901 JSON pointer to the offending value, relative to the value checked
    /// (empty for the value itself); [`within`](Self::within) puts it in a larger document.
    pub pointer: String,
    /// What is wrong: `expected a double, got "abc"`.
    pub problem: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.pointer, self.problem)
        }
    }
}

impl ValueError {
    /// The same error for a value that sits at member or index `segment` of its
    /// parent: `error.within("targetTemperature").within("thermostat1")` reads
    /// `/thermostat1/targetTemperature: ...`.
    pub fn within(mut self, segment: &str) -> Self {
        self.pointer = format!("/{}{}", pointer_segment(segment), self.pointer);
        self
    }

    /// `schema` wanted something other than `got`.
    pub(super) fn expected(schema: &Schema, got: &Value) -> Self {
        Self::problem(format!(
            "expected {}, got {}",
            schema.expectation(),
            quote(got)
        ))
    }

    /// A problem with the value itself.
    pub(super) fn problem(problem: String) -> Self {
        Self {
            pointer: String::new(),
            problem,
        }
    }
}

impl Schema {
    /// Checks `value` against the schema: JSON types, the integer ranges of `integer`
    /// (32-bit) and `long` (64-bit), the range of `float`, enum membership, object
    /// fields (all optional; unknown ones refused), map values, array elements, and the
    /// text forms of `date`, `time`, `dateTime` and `duration`. `null` fits no schema.
    pub fn check(&self, value: &Value) -> Result<(), ValueError> {
        let fits = match self {
            Self::Boolean => value.is_boolean(),
            Self::Integer => value
                .as_i64()
                .is_some_and(|integer| i32::try_from(integer).is_ok()),
            Self::Long => value.as_i64().is_some(),
            Self::Double => value.is_number(),
            Self::Float => value
                .as_f64()
                .is_some_and(|number| number.abs() <= f64::from(f32::MAX)),
            Self::String => value.is_string(),
            Self::Date => value.as_str().is_some_and(is_date),
            Self::Time => value.as_str().is_some_and(is_time),
            Self::DateTime => value.as_str().is_some_and(is_date_time),
            Self::Duration => value.as_str().is_some_and(is_duration),
            Self::Enum { values, .. } => values.iter().any(|known| known.value == *value),
            Self::Object { fields } => {
                let Some(members) = value.as_object() else {
                    return Err(ValueError::expected(self, value));
                };
                for (key, member) in members {
                    let Some(field) = fields.iter().find(|field| field.name == *key) else {
                        let known: Vec<&str> =
                            fields.iter().map(|field| field.name.as_str()).collect();
                        return Err(ValueError::problem(format!(
                            "unknown field: the object has {}",
                            if known.is_empty() {
                                "no fields".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ))
                        .within(key));
                    };
                    field
                        .schema
                        .check(member)
                        .map_err(|error| error.within(key))?;
                }
                true
            }
            Self::Map { value: schema, .. } => {
                let Some(members) = value.as_object() else {
                    return Err(ValueError::expected(self, value));
                };
                for (key, member) in members {
                    schema.check(member).map_err(|error| error.within(key))?;
                }
                true
            }
            Self::Array { element } => {
                let Some(elements) = value.as_array() else {
                    return Err(ValueError::expected(self, value));
                };
                for (index, member) in elements.iter().enumerate() {
                    element
                        .check(member)
                        .map_err(|error| error.within(&index.to_string()))?;
                }
                true
            }
        };
        if fits {
            Ok(())
        } else {
            Err(ValueError::expected(self, value))
        }
    }

    /// What a value of this schema looks like, after "expected".
    fn expectation(&self) -> String {
        match self {
            Self::Boolean => "a boolean (true or false)".into(),
            Self::Integer => "an integer from -2147483648 to 2147483647".into(),
            Self::Long => "an integer from -9223372036854775808 to 9223372036854775807".into(),
            Self::Double => "a double".into(),
            Self::Float => "a float (a number within ±3.4e38)".into(),
            Self::String => "a string".into(),
            Self::Date => "a date (YYYY-MM-DD)".into(),
            Self::Time => "a time (hh:mm:ss or hh:mm:ss.fff)".into(),
            Self::DateTime => "a dateTime (RFC 3339, like 2024-05-01T12:00:00Z)".into(),
            Self::Duration => "a duration (ISO 8601, like PT30S or P1DT2H)".into(),
            Self::Enum {
                value_schema,
                values,
            } => {
                let listed: Vec<String> =
                    values.iter().map(|value| value.value.to_string()).collect();
                let kind = match value_schema {
                    EnumValueSchema::Integer => "integers",
                    EnumValueSchema::String => "strings",
                };
                format!("one of the {kind} {}", listed.join(", "))
            }
            Self::Object { .. } | Self::Map { .. } | Self::Array { .. } => {
                format!("an {}", self.describe())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{enumeration, object};
    use super::*;

    fn problem(schema: &Schema, value: Value) -> String {
        schema
            .check(&value)
            .expect_err("the value should not fit")
            .to_string()
    }

    #[test]
    fn numbers_respect_their_ranges() {
        assert_eq!(Schema::Integer.check(&json!(2147483647)), Ok(()));
        assert_eq!(
            problem(&Schema::Integer, json!(2147483648_i64)),
            "expected an integer from -2147483648 to 2147483647, got 2147483648"
        );
        assert!(Schema::Integer.check(&json!(1.0)).is_err());
        assert_eq!(Schema::Long.check(&json!(i64::MIN)), Ok(()));
        assert!(Schema::Long.check(&json!(u64::MAX)).is_err());
        assert_eq!(Schema::Float.check(&json!(3.0e38)), Ok(()));
        assert!(Schema::Float.check(&json!(1.0e39)).is_err());
        assert_eq!(Schema::Double.check(&json!(1)), Ok(()));
        assert_eq!(
            problem(&Schema::Double, json!("abc")),
            "expected a double, got \"abc\""
        );
        assert!(Schema::Double.check(&Value::Null).is_err());
    }

    #[test]
    fn temporal_strings_are_checked() {
        assert_eq!(Schema::Date.check(&json!("2024-05-01")), Ok(()));
        assert!(Schema::Date.check(&json!("01/05/2024")).is_err());
        assert_eq!(
            Schema::DateTime.check(&json!("2024-05-01T12:00:00Z")),
            Ok(())
        );
        assert!(Schema::Time.check(&json!(12)).is_err());
        assert_eq!(Schema::Duration.check(&json!("PT30S")), Ok(()));
    }

    #[test]
    fn enums_accept_their_values_only() {
        let levels = enumeration(
            EnumValueSchema::String,
            &[("low", json!("lo")), ("high", json!("hi"))],
        );
        assert_eq!(levels.check(&json!("hi")), Ok(()));
        assert_eq!(
            problem(&levels, json!("high")),
            "expected one of the strings \"lo\", \"hi\", got \"high\""
        );
    }

    #[test]
    fn objects_name_the_offending_member() {
        let report = object(&[("maxTemp", Schema::Double), ("since", Schema::DateTime)]);
        assert_eq!(report.check(&json!({"maxTemp": 3})), Ok(()));
        assert_eq!(
            problem(&report, json!({"maxTemp": "hot"})),
            "/maxTemp: expected a double, got \"hot\""
        );
        assert_eq!(
            problem(&report, json!({"minTemp": 1})),
            "/minTemp: unknown field: the object has maxTemp, since"
        );
        assert_eq!(
            problem(&report, json!([1])),
            "expected an object {maxTemp, since}, got [1]"
        );
    }

    #[test]
    fn maps_and_arrays_check_every_member() {
        let map = Schema::Map {
            key_name: "sensor".into(),
            value_name: "reading".into(),
            value: Box::new(Schema::Integer),
        };
        assert_eq!(map.check(&json!({"a/b": 1})), Ok(()));
        assert_eq!(
            problem(&map, json!({"a/b": true})),
            "/a~1b: expected an integer from -2147483648 to 2147483647, got true"
        );
        let array = Schema::Array {
            element: Box::new(Schema::Boolean),
        };
        assert_eq!(
            problem(&array, json!([true, 1])),
            "/1: expected a boolean (true or false), got 1"
        );
    }

    #[test]
    fn errors_can_be_placed_in_a_larger_document() {
        let error = Schema::Double
            .check(&json!("abc"))
            .expect_err("a string is no double")
            .within("targetTemperature")
            .within("thermostat1");
        assert_eq!(
            error.to_string(),
            "/thermostat1/targetTemperature: expected a double, got \"abc\""
        );
    }

    #[test]
    fn long_values_are_quoted_short() {
        let long = "x".repeat(100);
        let message = problem(&Schema::Integer, json!(long));
        assert!(message.ends_with('…'));
        assert!(message.len() < 140);
    }
}
