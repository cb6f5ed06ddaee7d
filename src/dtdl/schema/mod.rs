//! DTDL schemas and what a UI needs from them: a short description, a default value,
//! whether a one-line field suits them, and (in submodules) checking JSON values and
//! reading and writing edit-field text.
//!
//! - `check`: [`Schema::check`] and [`ValueError`].
//! - `field_text`: [`Schema::parse_field`] and [`Schema::format_field`].
//! - `temporal`: the text forms of `date`, `time`, `dateTime` and `duration`.

mod check;
mod field_text;
mod temporal;

use serde_json::{Map, Value};

use super::text::{LocalizedText, display_texts};

pub use check::ValueError;

/// A resolved DTDL schema: references to reusable schemas are already replaced by
/// their definitions. DTDL has no minimum or maximum: ranges come from the type alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    /// `boolean`: `true` or `false`.
    Boolean,
    /// `date`: `YYYY-MM-DD`.
    Date,
    /// `dateTime`: RFC 3339, like `2024-05-01T12:00:00Z`.
    DateTime,
    /// `double`: any finite number.
    Double,
    /// `duration`: ISO 8601, like `PT30S` or `P1DT2H`.
    Duration,
    /// `float`: a finite number within the range of a 32-bit float.
    Float,
    /// `integer`: a whole number within the 32-bit signed range.
    Integer,
    /// `long`: a whole number within the 64-bit signed range.
    Long,
    /// `string`.
    String,
    /// `time`: `hh:mm:ss` with optional fractional seconds.
    Time,
    /// `Enum`: one of a fixed list of integers or strings.
    Enum {
        /// `valueSchema`.
        value_schema: EnumValueSchema,
        /// `enumValues`, in file order (never empty).
        values: Vec<EnumValue>,
    },
    /// `Object`: a JSON object with known, optional fields. IoT Central's `geopoint`
    /// (`lat`, `lon`, `alt`) and `vector` (`x`, `y`, `z`) read as objects of doubles.
    Object {
        /// `fields`, in file order.
        fields: Vec<Field>,
    },
    /// `Map`: a JSON object with free (string) keys and values of one schema.
    Map {
        /// `mapKey.name`: what the keys mean.
        key_name: String,
        /// `mapValue.name`: what the values mean.
        value_name: String,
        /// `mapValue.schema`.
        value: Box<Schema>,
    },
    /// `Array`: a JSON array of one schema.
    Array {
        /// `elementSchema`.
        element: Box<Schema>,
    },
}

/// The `valueSchema` of an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumValueSchema {
    /// `integer` values.
    Integer,
    /// `string` values.
    String,
}

/// One of an enum's `enumValues`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumValue {
    /// `name`.
    pub name: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// `enumValue`: a JSON integer or string, as `valueSchema` says; what goes on the wire.
    pub value: Value,
}

/// One of an object's `fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// `name`: the key in the JSON object.
    pub name: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// `schema`.
    pub schema: Schema,
}

display_texts!(EnumValue => name, Field => name);

/// The primitive schemas by their DTDL names.
const PRIMITIVES: [(&str, Schema); 10] = [
    ("boolean", Schema::Boolean),
    ("date", Schema::Date),
    ("dateTime", Schema::DateTime),
    ("double", Schema::Double),
    ("duration", Schema::Duration),
    ("float", Schema::Float),
    ("integer", Schema::Integer),
    ("long", Schema::Long),
    ("string", Schema::String),
    ("time", Schema::Time),
];

impl Schema {
    /// The schema a DTDL schema name stands for: a primitive, or IoT Central's
    /// `geopoint` and `vector` as objects of doubles.
    pub(super) fn named(name: &str) -> Option<Self> {
        let doubles = |names: &[&str]| Self::Object {
            fields: names
                .iter()
                .map(|name| Field {
                    name: (*name).to_owned(),
                    display_name: LocalizedText::default(),
                    description: LocalizedText::default(),
                    schema: Self::Double,
                })
                .collect(),
        };
        match name {
            "geopoint" => Some(doubles(&["lat", "lon", "alt"])),
            "vector" => Some(doubles(&["x", "y", "z"])),
            _ => PRIMITIVES
                .into_iter()
                .find_map(|(primitive, schema)| (primitive == name).then_some(schema)),
        }
    }

    /// The DTDL name of a primitive schema; `None` for enums and complex schemas.
    pub fn primitive_name(&self) -> Option<&'static str> {
        PRIMITIVES
            .into_iter()
            .find_map(|(name, schema)| (schema == *self).then_some(name))
    }

    /// A short description for people: `double`, `enum of 3 strings`,
    /// `object {maxTemp, minTemp}`, `map of double`, `array of string`.
    pub fn describe(&self) -> String {
        match self {
            Self::Enum {
                value_schema,
                values,
            } => {
                let kind = match value_schema {
                    EnumValueSchema::Integer => "integer",
                    EnumValueSchema::String => "string",
                };
                let plural = if values.len() == 1 { "" } else { "s" };
                format!("enum of {} {kind}{plural}", values.len())
            }
            Self::Object { fields } => {
                let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
                format!("object {{{}}}", names.join(", "))
            }
            Self::Map { value, .. } => format!("map of {}", value.describe()),
            Self::Array { element } => format!("array of {}", element.describe()),
            primitive => primitive.primitive_name().unwrap_or_default().to_owned(),
        }
    }

    /// Whether a one-line edit field (or, for an enum, a combo box) suits values of
    /// this schema: primitives and enums. Objects, maps and arrays are edited as JSON text.
    pub fn is_simple(&self) -> bool {
        !matches!(
            self,
            Self::Object { .. } | Self::Map { .. } | Self::Array { .. }
        )
    }

    /// Whether an array appears anywhere in the schema. IoT Hub's digital twin API
    /// refuses arrays in property updates, so a UI should set such writable properties
    /// through the plain twin (desired properties) instead.
    pub fn contains_array(&self) -> bool {
        match self {
            Self::Array { .. } => true,
            Self::Object { fields } => fields.iter().any(|field| field.schema.contains_array()),
            Self::Map { value, .. } => value.contains_array(),
            _ => false,
        }
    }

    /// A value that passes [`check`](Self::check), to fill an empty form: `false`, `0`,
    /// `0.0`, `""`, the first enum value, an object of its fields' defaults, `{}` for a
    /// map, `[]` for an array; the temporal types use the Unix epoch
    /// (`1970-01-01`, `00:00:00`, `1970-01-01T00:00:00Z`) and `PT0S`.
    pub fn default_value(&self) -> Value {
        match self {
            Self::Boolean => Value::Bool(false),
            Self::Integer | Self::Long => Value::from(0),
            Self::Double | Self::Float => Value::from(0.0),
            Self::String => Value::from(""),
            Self::Date => Value::from("1970-01-01"),
            Self::Time => Value::from("00:00:00"),
            Self::DateTime => Value::from("1970-01-01T00:00:00Z"),
            Self::Duration => Value::from("PT0S"),
            Self::Enum { values, .. } => values
                .first()
                .map_or(Value::Null, |value| value.value.clone()),
            Self::Object { fields } => Value::Object(
                fields
                    .iter()
                    .map(|field| (field.name.clone(), field.schema.default_value()))
                    .collect(),
            ),
            Self::Map { .. } => Value::Object(Map::new()),
            Self::Array { .. } => Value::Array(Vec::new()),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An enum of the given `(name, value)` pairs.
    pub(in crate::dtdl) fn enumeration(
        value_schema: EnumValueSchema,
        values: &[(&str, Value)],
    ) -> Schema {
        Schema::Enum {
            value_schema,
            values: values
                .iter()
                .map(|(name, value)| EnumValue {
                    name: (*name).to_owned(),
                    display_name: LocalizedText::default(),
                    description: LocalizedText::default(),
                    value: value.clone(),
                })
                .collect(),
        }
    }

    /// An object of the given `(name, schema)` fields.
    pub(in crate::dtdl) fn object(fields: &[(&str, Schema)]) -> Schema {
        Schema::Object {
            fields: fields
                .iter()
                .map(|(name, schema)| Field {
                    name: (*name).to_owned(),
                    display_name: LocalizedText::default(),
                    description: LocalizedText::default(),
                    schema: schema.clone(),
                })
                .collect(),
        }
    }

    /// One schema of every kind.
    pub(in crate::dtdl) fn every_kind() -> Vec<Schema> {
        let mut schemas: Vec<Schema> = PRIMITIVES.into_iter().map(|(_, schema)| schema).collect();
        schemas.extend([
            enumeration(
                EnumValueSchema::String,
                &[("low", Value::from("lo")), ("high", Value::from("hi"))],
            ),
            enumeration(EnumValueSchema::Integer, &[("one", Value::from(1))]),
            object(&[("a", Schema::Integer), ("when", Schema::Date)]),
            Schema::Map {
                key_name: "sensor".into(),
                value_name: "reading".into(),
                value: Box::new(Schema::Double),
            },
            Schema::Array {
                element: Box::new(Schema::String),
            },
        ]);
        schemas
    }

    #[test]
    fn names_round_trip() {
        for (name, schema) in PRIMITIVES {
            assert_eq!(Schema::named(name), Some(schema.clone()));
            assert_eq!(schema.primitive_name(), Some(name));
        }
        assert_eq!(Schema::named("Double"), None);
        assert_eq!(
            Schema::named("geopoint").map(|schema| schema.describe()),
            Some("object {lat, lon, alt}".to_owned())
        );
        assert_eq!(
            Schema::named("vector").map(|schema| schema.describe()),
            Some("object {x, y, z}".to_owned())
        );
    }

    #[test]
    fn descriptions_are_short() {
        let described: Vec<String> = every_kind().iter().map(Schema::describe).collect();
        assert_eq!(
            described[10..],
            [
                "enum of 2 strings",
                "enum of 1 integer",
                "object {a, when}",
                "map of double",
                "array of string"
            ]
        );
        assert_eq!(described[..3], ["boolean", "date", "dateTime"]);
    }

    #[test]
    fn defaults_pass_their_own_check() {
        for schema in every_kind() {
            let value = schema.default_value();
            assert_eq!(schema.check(&value), Ok(()), "{}", schema.describe());
        }
        assert_eq!(
            object(&[("a", Schema::Integer), ("when", Schema::Date)]).default_value(),
            serde_json::json!({"a": 0, "when": "1970-01-01"})
        );
    }

    #[test]
    fn only_primitives_and_enums_are_simple() {
        let simple: Vec<bool> = every_kind().iter().map(Schema::is_simple).collect();
        assert_eq!(simple.iter().filter(|simple| **simple).count(), 12);
        assert!(!simple[12] && !simple[13] && !simple[14]);
    }

    #[test]
    fn arrays_are_found_at_any_depth() {
        let array = Schema::Array {
            element: Box::new(Schema::Integer),
        };
        assert!(array.contains_array());
        assert!(object(&[("list", array.clone())]).contains_array());
        assert!(
            Schema::Map {
                key_name: "k".into(),
                value_name: "v".into(),
                value: Box::new(object(&[("list", array)])),
            }
            .contains_array()
        );
        assert!(!object(&[("a", Schema::Integer)]).contains_array());
    }
}
