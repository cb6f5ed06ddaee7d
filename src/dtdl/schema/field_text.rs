//! What people type into edit fields, and back: the JSON value a one-line field (or a
//! JSON text area, for objects, maps and arrays) stands for under a schema.

use serde_json::Value;

use super::check::ValueError;
use super::{EnumValueSchema, Schema};

impl Schema {
    /// The JSON value `text` stands for, checked against the schema:
    ///
    /// - `integer`, `long`: a whole number (`"1.5"` and out-of-range numbers refused);
    ///   `double`, `float`: a finite number within range. Surrounding spaces are ignored.
    /// - `boolean`: `true` or `false`.
    /// - `string`: the text as it is, without quotes; `date`, `time`, `dateTime`,
    ///   `duration`: the text without quotes or surrounding spaces, checked for its form.
    /// - enum: a value's name, display name or value (`"hi"`, or `2` for integers).
    /// - object, map, array: JSON text, then [`check`](Self::check)ed.
    pub fn parse_field(&self, text: &str) -> Result<Value, ValueError> {
        let trimmed = text.trim();
        let typed = || Value::from(trimmed);
        let value = match self {
            Self::Boolean => match trimmed {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(ValueError::expected(self, &typed())),
            },
            Self::Integer | Self::Long => trimmed
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| ValueError::expected(self, &typed()))?,
            Self::Double | Self::Float => trimmed
                .parse::<f64>()
                .ok()
                .filter(|number| number.is_finite())
                .map(Value::from)
                .ok_or_else(|| ValueError::expected(self, &typed()))?,
            Self::String => Value::from(text),
            Self::Date | Self::Time | Self::DateTime | Self::Duration => typed(),
            Self::Enum {
                value_schema,
                values,
            } => {
                let typed_value = match value_schema {
                    EnumValueSchema::Integer => trimmed.parse::<i64>().ok().map(Value::from),
                    EnumValueSchema::String => Some(typed()),
                };
                values
                    .iter()
                    .find(|known| {
                        known.name == trimmed
                            || known.display_name() == trimmed
                            || typed_value.as_ref() == Some(&known.value)
                    })
                    .map(|known| known.value.clone())
                    .ok_or_else(|| ValueError::expected(self, &typed()))?
            }
            Self::Object { .. } | Self::Map { .. } | Self::Array { .. } => {
                serde_json::from_str(text).map_err(|error| {
                    ValueError::problem(format!(
                        "expected {} as JSON text, but it does not read as JSON: {error}",
                        self.describe()
                    ))
                })?
            }
        };
        self.check(&value)?;
        Ok(value)
    }

    /// The text to pre-fill an edit field with, the inverse of
    /// [`parse_field`](Self::parse_field): strings without quotes, an enum value's
    /// name, numbers and booleans as written in JSON, objects, maps and arrays as
    /// compact JSON. A value that does not fit the schema is shown as compact JSON.
    pub fn format_field(&self, value: &Value) -> String {
        match (self, value) {
            (Self::Enum { values, .. }, _) => values
                .iter()
                .find(|known| known.value == *value)
                .map_or_else(|| value.to_string(), |known| known.name.clone()),
            (
                Self::String | Self::Date | Self::Time | Self::DateTime | Self::Duration,
                Value::String(text),
            ) => text.clone(),
            _ => value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{enumeration, every_kind, object};
    use super::*;

    fn refused(schema: &Schema, text: &str) -> String {
        schema
            .parse_field(text)
            .expect_err("the text should be refused")
            .to_string()
    }

    #[test]
    fn numbers() {
        assert_eq!(Schema::Integer.parse_field(" 42 "), Ok(json!(42)));
        assert_eq!(
            refused(&Schema::Integer, "1.5"),
            "expected an integer from -2147483648 to 2147483647, got \"1.5\""
        );
        assert!(Schema::Integer.parse_field("2147483648").is_err());
        assert_eq!(
            Schema::Long.parse_field("2147483648"),
            Ok(json!(2147483648_i64))
        );
        assert!(Schema::Long.parse_field("9223372036854775808").is_err());
        assert_eq!(Schema::Double.parse_field("21.5"), Ok(json!(21.5)));
        assert_eq!(Schema::Double.parse_field("1e3"), Ok(json!(1000.0)));
        assert_eq!(
            refused(&Schema::Double, "abc"),
            "expected a double, got \"abc\""
        );
        assert!(Schema::Double.parse_field("NaN").is_err());
        assert!(Schema::Double.parse_field("inf").is_err());
        assert!(Schema::Float.parse_field("1e39").is_err());
        assert!(Schema::Double.parse_field("").is_err());
    }

    #[test]
    fn booleans_and_strings() {
        assert_eq!(Schema::Boolean.parse_field("true"), Ok(json!(true)));
        assert!(Schema::Boolean.parse_field("yes").is_err());
        assert_eq!(
            Schema::String.parse_field(" a \"b\" "),
            Ok(json!(" a \"b\" "))
        );
        assert_eq!(
            Schema::DateTime.parse_field(" 2024-05-01T12:00:00Z"),
            Ok(json!("2024-05-01T12:00:00Z"))
        );
        assert_eq!(
            refused(&Schema::Duration, "30s"),
            "expected a duration (ISO 8601, like PT30S or P1DT2H), got \"30s\""
        );
    }

    #[test]
    fn enums_take_a_name_display_name_or_value() {
        let levels = enumeration(
            EnumValueSchema::String,
            &[("low", json!("lo")), ("high", json!("hi"))],
        );
        assert_eq!(levels.parse_field("high"), Ok(json!("hi")));
        assert_eq!(levels.parse_field("hi"), Ok(json!("hi")));
        assert!(levels.parse_field("medium").is_err());
        let modes = enumeration(
            EnumValueSchema::Integer,
            &[("off", json!(0)), ("on", json!(1))],
        );
        assert_eq!(modes.parse_field("1"), Ok(json!(1)));
        assert_eq!(modes.parse_field("off"), Ok(json!(0)));
        assert_eq!(modes.format_field(&json!(1)), "on");
        assert_eq!(modes.format_field(&json!(7)), "7");
    }

    #[test]
    fn complex_schemas_take_json() {
        let point = object(&[("x", Schema::Integer)]);
        assert_eq!(point.parse_field(r#"{"x": 1}"#), Ok(json!({"x": 1})));
        assert_eq!(
            refused(&point, r#"{"x": "1"}"#),
            "/x: expected an integer from -2147483648 to 2147483647, got \"1\""
        );
        assert!(refused(&point, "{x: 1}").contains("does not read as JSON"));
        assert_eq!(point.format_field(&json!({"x": 1})), r#"{"x":1}"#);
    }

    #[test]
    fn formatting_round_trips_through_parsing() {
        for schema in every_kind() {
            let value = schema.default_value();
            let text = schema.format_field(&value);
            assert_eq!(
                schema.parse_field(&text),
                Ok(value),
                "{}",
                schema.describe()
            );
        }
        assert_eq!(Schema::String.format_field(&json!("abc")), "abc");
        assert_eq!(Schema::Double.format_field(&json!(21.5)), "21.5");
        assert_eq!(Schema::Double.format_field(&json!("oops")), "\"oops\"");
    }
}
