//! Model files to [`Interface`]s: one Interface object or an array of them, with
//! inline interfaces (in `extends` and component schemas) read as interfaces of their
//! own, and schema references resolved against the file's and the loaded `schemas`.
//!
//! - `context`: the DTDL version from `@context`.
//! - `contents`: properties, telemetry, commands and components.
//! - `schema`: schemas and reusable-schema references.
//! - `json`: reading members with located errors.

mod contents;
mod context;
mod json;
mod schema;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::ModelSet;
use super::dtmi::{MAX_DTMI_LENGTH, MAX_INTERFACE_DTMI_LENGTH};
use super::error::{DtdlError, Location, quote};
use super::model::{DtdlVersion, Interface};
use super::schema::Schema;
use json::Unique;

/// Reads the interfaces of the model file `file` (its name, for messages) holding
/// `text`. Schema references may name schemas of this file or of `loaded`.
pub(super) fn parse_file(
    file: &str,
    text: &str,
    loaded: &ModelSet,
) -> Result<Vec<Interface>, DtdlError> {
    let document: Value = serde_json::from_str(text).map_err(|error| {
        let message = error.to_string();
        DtdlError::Json {
            file: file.to_owned(),
            line: error.line(),
            column: error.column(),
            reason: message
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    })?;
    let root = Location::root(file);
    let elements: Vec<(&Value, Location)> = match &document {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| (item, root.child(index)))
            .collect(),
        single => vec![(single, root)],
    };
    let mut parser = FileParser {
        loaded,
        definitions: HashMap::new(),
        resolved: HashMap::new(),
        resolving: Vec::new(),
        interfaces: Vec::new(),
    };
    // Every top-level interface's reusable schemas first, so that references between
    // interfaces of the file work in any order.
    for (element, at) in &elements {
        if let Some(context) = element.get("@context") {
            let version = context::version(context, &at.child("@context"))?;
            parser.define_schemas(element, at, version)?;
        }
    }
    for (element, at) in elements {
        parser.interface(element, at, None, None)?;
    }
    Ok(parser.interfaces)
}

/// A reusable schema of the file, read when first referred to.
struct Definition<'a> {
    value: &'a Value,
    at: Location,
    version: DtdlVersion,
}

/// The state of reading one file.
struct FileParser<'a> {
    loaded: &'a ModelSet,
    /// The file's reusable schemas by `@id`, as JSON.
    definitions: HashMap<String, Definition<'a>>,
    /// The ones read so far.
    resolved: HashMap<String, Schema>,
    /// The ones being read, outermost first, to refuse recursive schemas.
    resolving: Vec<String>,
    /// The interfaces read so far, inline ones before the interface holding them.
    interfaces: Vec<Interface>,
}

impl<'a> FileParser<'a> {
    /// Reads the interface `value` at `at`. `inherited` is the DTDL version of the
    /// interface holding an inline one (top-level interfaces need an `@context`);
    /// `generated_id` is the `@id` an inline interface gets when it has none.
    fn interface(
        &mut self,
        value: &'a Value,
        at: Location,
        inherited: Option<DtdlVersion>,
        generated_id: Option<String>,
    ) -> Result<String, DtdlError> {
        let object = value.as_object().ok_or_else(|| DtdlError::NotInterface {
            at: at.clone(),
            found: quote(value),
        })?;
        let version = match (object.get("@context"), inherited) {
            (Some(context), _) => context::version(context, &at.child("@context"))?,
            (None, Some(version)) => version,
            (None, None) => {
                return Err(DtdlError::MissingContext { at });
            }
        };
        let types = json::types(object, &at)?;
        if !types.contains(&"Interface") {
            return Err(DtdlError::NotInterface {
                at,
                found: format!("@type {}", types.join(", ")),
            });
        }
        let id = match (object.get("@id"), generated_id) {
            (Some(id), _) => json::dtmi(id, &at.child("@id"), MAX_INTERFACE_DTMI_LENGTH)?,
            (None, Some(generated)) => generated,
            (None, None) => return Err(DtdlError::Missing { at, member: "@id" }),
        };
        let schema_ids = self.define_schemas(value, &at, version)?;
        let extends = self.extends(object.get("extends"), &at, version, &id)?;
        let mut contents = Vec::new();
        if let Some(items) = object.get("contents") {
            let contents_at = at.child("contents");
            let mut names = Unique::new("content names of an interface");
            for (index, item) in json::array(items, &contents_at)?.iter().enumerate() {
                let item_at = contents_at.child(index);
                if let Some(content) = self.content(item, &item_at, version, &id)? {
                    names.insert(content.name(), &item_at.child("name"))?;
                    contents.push(content);
                }
            }
        }
        let mut schemas = BTreeMap::new();
        for (schema_id, schema_at) in schema_ids {
            let schema = self.reference(&schema_id, &schema_at)?;
            schemas.insert(schema_id, schema);
        }
        if self.interfaces.iter().any(|known| known.id == id) {
            return Err(DtdlError::DuplicateId { at, id });
        }
        self.interfaces.push(Interface {
            id: id.clone(),
            version,
            source: at.file.clone(),
            display_name: json::localized(object, "displayName", &at)?,
            description: json::localized(object, "description", &at)?,
            extends,
            contents,
            schemas,
        });
        Ok(id)
    }

    /// The `@id`s of the interfaces `extends` (a DTMI, an inline interface, or an
    /// array of them) names, for the interface `owner` at `at`.
    fn extends(
        &mut self,
        extends: Option<&'a Value>,
        at: &Location,
        version: DtdlVersion,
        owner: &str,
    ) -> Result<Vec<String>, DtdlError> {
        let at = at.child("extends");
        match extends {
            None => Ok(Vec::new()),
            Some(Value::Array(bases)) => bases
                .iter()
                .enumerate()
                .map(|(index, base)| {
                    let segment = format!("_extends:__{index}");
                    self.interface_reference(base, at.child(index), version, owner, &segment)
                })
                .collect(),
            Some(base) => Ok(vec![self.interface_reference(
                base,
                at,
                version,
                owner,
                "_extends:__0",
            )?]),
        }
    }

    /// An interface named by DTMI, or given inline (read with `owner`'s id and
    /// `segment` for an id if it has none); its `@id` either way.
    fn interface_reference(
        &mut self,
        value: &'a Value,
        at: Location,
        version: DtdlVersion,
        owner: &str,
        segment: &str,
    ) -> Result<String, DtdlError> {
        if value.is_object() {
            self.interface(value, at, Some(version), Some(generated_id(owner, segment)))
        } else {
            json::dtmi(value, &at, MAX_INTERFACE_DTMI_LENGTH)
        }
    }

    /// Records the reusable schemas (`schemas`) of the interface `value` at `at`;
    /// their `@id`s with where each is defined. Recording the same one again is harmless.
    fn define_schemas(
        &mut self,
        value: &'a Value,
        at: &Location,
        version: DtdlVersion,
    ) -> Result<Vec<(String, Location)>, DtdlError> {
        let Some(items) = value.get("schemas") else {
            return Ok(Vec::new());
        };
        let schemas_at = at.child("schemas");
        let mut ids = Vec::new();
        for (index, item) in json::array(items, &schemas_at)?.iter().enumerate() {
            let item_at = schemas_at.child(index);
            let object = json::object(item, &item_at, "a schema object with an @id")?;
            let id = json::dtmi(
                json::required(object, "@id", &item_at)?,
                &item_at.child("@id"),
                MAX_DTMI_LENGTH,
            )?;
            match self.definitions.get(&id) {
                Some(known) if known.at != item_at => {
                    return Err(DtdlError::DuplicateId { at: item_at, id });
                }
                Some(_) => {}
                None => {
                    self.definitions.insert(
                        id.clone(),
                        Definition {
                            value: item,
                            at: item_at.clone(),
                            version,
                        },
                    );
                }
            }
            ids.push((id, item_at));
        }
        Ok(ids)
    }
}

/// The `@id` of an element without one, derived from its owner's: `segment` added to
/// the owner's path, before its version. No model file can spell it (its segments
/// start with `_`), so it never clashes with a written one.
fn generated_id(owner: &str, segment: &str) -> String {
    match owner.split_once(';') {
        Some((path, version)) => format!("{path}:{segment};{version}"),
        None => format!("{owner}:{segment}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_keep_the_owners_version() {
        assert_eq!(
            generated_id("dtmi:com:example:Room;2", "_contents:__fan:_schema"),
            "dtmi:com:example:Room:_contents:__fan:_schema;2"
        );
        assert_eq!(
            generated_id("dtmi:a", "_extends:__0"),
            "dtmi:a:_extends:__0"
        );
    }
}
