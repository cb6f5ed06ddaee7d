//! The interfaces loaded so far, by `@id`: what model files add to and what
//! [`ModelSet::resolve`] reads.

use std::collections::BTreeMap;

use super::error::DtdlError;
use super::model::Interface;
use super::parse::parse_file;
use super::schema::Schema;

/// A collection of parsed interfaces keyed by `@id` (compared case-sensitively).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelSet {
    interfaces: BTreeMap<String, Interface>,
}

impl ModelSet {
    /// Reads the model file `file` (its name, used in messages) holding `text`, and
    /// adds its interfaces, inline ones included; an interface whose `@id` is already
    /// loaded is replaced. All or nothing: on error nothing is added. Answers the
    /// `@id`s added, inline interfaces before the interface holding them.
    ///
    /// A schema DTMI must be defined in the `schemas` of an interface of the same file
    /// or of one loaded before; the interface keeps a copy of it.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<Vec<String>, DtdlError> {
        let interfaces = parse_file(file, text, self)?;
        let ids = interfaces
            .iter()
            .map(|interface| interface.id.clone())
            .collect();
        for interface in interfaces {
            self.interfaces.insert(interface.id.clone(), interface);
        }
        Ok(ids)
    }

    /// The interface with `@id` `dtmi`, as declared.
    pub fn interface(&self, dtmi: &str) -> Option<&Interface> {
        self.interfaces.get(dtmi)
    }

    /// The `@id`s of the loaded interfaces, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.interfaces.keys().map(String::as_str)
    }

    /// The reusable schema with `@id` `dtmi`, from any loaded interface's `schemas`.
    pub fn schema(&self, dtmi: &str) -> Option<&Schema> {
        self.interfaces
            .values()
            .find_map(|interface| interface.schemas.get(dtmi))
    }
}
