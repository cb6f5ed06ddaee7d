//! An interface's `contents`: properties, telemetry, commands and components.
//! Relationships are skipped: a device twin has no place for them.

use serde_json::Value;

use super::super::error::{DtdlError, Location};
use super::super::model::{
    CommandModel, ComponentRef, Content, DtdlVersion, PayloadModel, PropertyModel, TelemetryModel,
};
use super::FileParser;
use super::json::{self, Members};

/// The content kinds of DTDL.
const KINDS: [&str; 5] = [
    "Property",
    "Telemetry",
    "Command",
    "Component",
    "Relationship",
];

impl<'a> FileParser<'a> {
    /// Reads the content `value` at `at` of the interface `owner`; `None` for a relationship.
    pub(super) fn content(
        &mut self,
        value: &'a Value,
        at: &Location,
        version: DtdlVersion,
        owner: &str,
    ) -> Result<Option<Content>, DtdlError> {
        let object = json::object(value, at, "a content object")?;
        let types = json::types(object, at)?;
        let kind = json::single_kind(&types, &KINDS).ok_or_else(|| DtdlError::ContentKind {
            at: at.child("@type"),
            found: types.join(", "),
        })?;
        if kind == "Relationship" {
            return Ok(None);
        }
        let name = json::name(object, at, version)?;
        let display_name = json::localized(object, "displayName", at)?;
        let description = json::localized(object, "description", at)?;
        let unit = || json::optional_string(object, "unit", at).map(|unit| unit.map(str::to_owned));
        Ok(Some(match kind {
            "Property" => {
                let schema = self.member_schema(object, at, version)?;
                if version == DtdlVersion::V2 && schema.contains_array() {
                    return Err(DtdlError::ArrayInV2Property { at: at.clone() });
                }
                Content::Property(PropertyModel {
                    name,
                    display_name,
                    description,
                    schema,
                    writable: json::optional_bool(object, "writable", at)?.unwrap_or(false),
                    unit: unit()?,
                })
            }
            "Telemetry" => Content::Telemetry(TelemetryModel {
                name,
                display_name,
                description,
                schema: self.member_schema(object, at, version)?,
                unit: unit()?,
            }),
            "Command" => Content::Command(CommandModel {
                request: self.payload(object, "request", at, version)?,
                response: self.payload(object, "response", at, version)?,
                name,
                display_name,
                description,
            }),
            _ => {
                let segment = format!("_contents:__{name}:_schema");
                let interface = self.interface_reference(
                    json::required(object, "schema", at)?,
                    at.child("schema"),
                    version,
                    owner,
                    &segment,
                )?;
                Content::Component(ComponentRef {
                    name,
                    display_name,
                    description,
                    interface,
                })
            }
        }))
    }

    /// A command's `request` or `response` (`member`), if it has one.
    fn payload(
        &mut self,
        command: &'a Members,
        member: &'static str,
        at: &Location,
        version: DtdlVersion,
    ) -> Result<Option<PayloadModel>, DtdlError> {
        let Some(value) = command.get(member) else {
            return Ok(None);
        };
        let at = at.child(member);
        let object = json::object(value, &at, "a command payload object")?;
        Ok(Some(PayloadModel {
            name: json::name(object, &at, version)?,
            display_name: json::localized(object, "displayName", &at)?,
            description: json::localized(object, "description", &at)?,
            schema: self.member_schema(object, &at, version)?,
        }))
    }
}
