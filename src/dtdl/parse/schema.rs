//! Schemas in model files: primitive names, inline Enum/Object/Map/Array objects, and
//! DTMIs of reusable schemas (`schemas`), looked up in the file first, then among the
//! loaded interfaces.

use serde_json::Value;

use super::super::dtmi::MAX_DTMI_LENGTH;
use super::super::error::{DtdlError, Location};
use super::super::model::DtdlVersion;
use super::super::schema::{EnumValue, EnumValueSchema, Field, Schema};
use super::FileParser;
use super::json::{self, Members, Unique};

/// The complex schema kinds of DTDL.
const COMPLEX_KINDS: [&str; 4] = ["Enum", "Object", "Map", "Array"];

impl<'a> FileParser<'a> {
    /// The schema of the required `schema` member of `object` at `at`.
    pub(super) fn member_schema(
        &mut self,
        object: &'a Members,
        at: &Location,
        version: DtdlVersion,
    ) -> Result<Schema, DtdlError> {
        self.schema(
            json::required(object, "schema", at)?,
            &at.child("schema"),
            version,
        )
    }

    /// The schema `value` at `at` stands for.
    fn schema(
        &mut self,
        value: &'a Value,
        at: &Location,
        version: DtdlVersion,
    ) -> Result<Schema, DtdlError> {
        match value {
            Value::String(name) => match Schema::named(name) {
                Some(schema) => Ok(schema),
                None if name.starts_with("dtmi:") => {
                    let id = json::dtmi(value, at, MAX_DTMI_LENGTH)?;
                    self.reference(&id, at)
                }
                None => Err(DtdlError::NotASchema {
                    at: at.clone(),
                    found: name.clone(),
                }),
            },
            Value::Object(object) => self.complex(object, at, version),
            other => Err(json::wrong_type(
                at,
                "a schema (a name like \"double\", a schema DTMI or an object)",
                other,
            )),
        }
    }

    /// The reusable schema `id`, referred to at `at`.
    pub(super) fn reference(&mut self, id: &str, at: &Location) -> Result<Schema, DtdlError> {
        if let Some(schema) = self.resolved.get(id) {
            return Ok(schema.clone());
        }
        let Some(definition) = self.definitions.get(id) else {
            return self
                .loaded
                .schema(id)
                .cloned()
                .ok_or_else(|| DtdlError::UnknownSchema {
                    at: at.clone(),
                    id: id.to_owned(),
                });
        };
        if self.resolving.iter().any(|outer| outer == id) {
            let mut chain = self.resolving.clone();
            chain.push(id.to_owned());
            return Err(DtdlError::SchemaCycle {
                at: at.clone(),
                id: id.to_owned(),
                chain: chain.join(" -> "),
            });
        }
        let (value, definition_at, version) =
            (definition.value, definition.at.clone(), definition.version);
        self.resolving.push(id.to_owned());
        let schema = self.schema(value, &definition_at, version);
        self.resolving.pop();
        let schema = schema?;
        self.resolved.insert(id.to_owned(), schema.clone());
        Ok(schema)
    }

    /// An Enum, Object, Map or Array object.
    fn complex(
        &mut self,
        object: &'a Members,
        at: &Location,
        version: DtdlVersion,
    ) -> Result<Schema, DtdlError> {
        let types = json::types(object, at)?;
        match json::single_kind(&types, &COMPLEX_KINDS) {
            Some("Enum") => enumeration(object, at, version),
            Some("Object") => self.object(object, at, version),
            Some("Map") => self.map(object, at, version),
            Some(_) => Ok(Schema::Array {
                element: Box::new(self.schema(
                    json::required(object, "elementSchema", at)?,
                    &at.child("elementSchema"),
                    version,
                )?),
            }),
            None => Err(DtdlError::NotASchema {
                at: at.child("@type"),
                found: types.join(", "),
            }),
        }
    }

    fn object(
        &mut self,
        object: &'a Members,
        at: &Location,
        version: DtdlVersion,
    ) -> Result<Schema, DtdlError> {
        let fields_at = at.child("fields");
        let mut names = Unique::new("field names of an object");
        let mut fields = Vec::new();
        for (index, item) in json::array(json::required(object, "fields", at)?, &fields_at)?
            .iter()
            .enumerate()
        {
            let item_at = fields_at.child(index);
            let field = json::object(item, &item_at, "a field object")?;
            let name = json::name(field, &item_at, version)?;
            names.insert(&name, &item_at.child("name"))?;
            fields.push(Field {
                name,
                display_name: json::localized(field, "displayName", &item_at)?,
                description: json::localized(field, "description", &item_at)?,
                schema: self.member_schema(field, &item_at, version)?,
            });
        }
        Ok(Schema::Object { fields })
    }

    fn map(
        &mut self,
        object: &'a Members,
        at: &Location,
        version: DtdlVersion,
    ) -> Result<Schema, DtdlError> {
        let key_at = at.child("mapKey");
        let key = json::object(
            json::required(object, "mapKey", at)?,
            &key_at,
            "a map key object",
        )?;
        let key_name = json::name(key, &key_at, version)?;
        let key_schema = json::required(key, "schema", &key_at)?;
        if key_schema != "string" {
            return Err(json::wrong_type(
                &key_at.child("schema"),
                "\"string\" (map keys are strings)",
                key_schema,
            ));
        }
        let value_at = at.child("mapValue");
        let value = json::object(
            json::required(object, "mapValue", at)?,
            &value_at,
            "a map value object",
        )?;
        Ok(Schema::Map {
            key_name,
            value_name: json::name(value, &value_at, version)?,
            value: Box::new(self.member_schema(value, &value_at, version)?),
        })
    }
}

fn enumeration(object: &Members, at: &Location, version: DtdlVersion) -> Result<Schema, DtdlError> {
    let schema_value = json::required(object, "valueSchema", at)?;
    let value_schema = match schema_value.as_str() {
        Some("integer") => EnumValueSchema::Integer,
        Some("string") => EnumValueSchema::String,
        _ => {
            return Err(json::wrong_type(
                &at.child("valueSchema"),
                "\"integer\" or \"string\"",
                schema_value,
            ));
        }
    };
    let values_at = at.child("enumValues");
    let listed = json::required(object, "enumValues", at)?;
    let items = json::array(listed, &values_at)?;
    if items.is_empty() {
        return Err(json::wrong_type(
            &values_at,
            "at least one enum value",
            listed,
        ));
    }
    let mut names = Unique::new("enum value names");
    let mut seen_values = Unique::new("enum values");
    let mut values = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item_at = values_at.child(index);
        let entry = json::object(item, &item_at, "an enum value object")?;
        let name = json::name(entry, &item_at, version)?;
        names.insert(&name, &item_at.child("name"))?;
        let value = json::required(entry, "enumValue", &item_at)?;
        let value_at = item_at.child("enumValue");
        let fits = match value_schema {
            EnumValueSchema::Integer => value
                .as_i64()
                .is_some_and(|integer| i32::try_from(integer).is_ok()),
            EnumValueSchema::String => value.is_string(),
        };
        if !fits {
            let expected = match value_schema {
                EnumValueSchema::Integer => "an integer (the enum's valueSchema is integer)",
                EnumValueSchema::String => "a string (the enum's valueSchema is string)",
            };
            return Err(json::wrong_type(&value_at, expected, value));
        }
        seen_values.insert(&value.to_string(), &value_at)?;
        values.push(EnumValue {
            name,
            display_name: json::localized(entry, "displayName", &item_at)?,
            description: json::localized(entry, "description", &item_at)?,
            value: value.clone(),
        });
    }
    Ok(Schema::Enum {
        value_schema,
        values,
    })
}
