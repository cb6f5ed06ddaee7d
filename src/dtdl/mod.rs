//! Digital Twins Definition Language (DTDL v2 and v3) interfaces, as IoT Plug and Play
//! devices announce them by model id (`dtmi:com:example:Thermostat;1`): reading model
//! files, resolving `extends`, components and schemas into a device's view, and typed
//! property values and command payloads checked against their schema.
//!
//! Pure logic: no I/O (model files are handed in as text), no UI.
//!
//! # Using it
//!
//! 1. Load model files into a [`ModelSet`] with [`ModelSet::add_file`] (a file holds
//!    one Interface or an array of them; loading an `@id` again replaces it). Errors
//!    ([`DtdlError`]) name the file and the JSON pointer and say what to change.
//! 2. [`ModelSet::resolve`] the device's model id into a [`ResolvedModel`]: the default
//!    component (`root`) and the named `components`, each a [`ComponentModel`] of
//!    [`PropertyModel`]s, [`TelemetryModel`]s and [`CommandModel`]s with `extends`
//!    flattened. Interfaces that are not loaded do not fail the model: they are listed
//!    in [`ResolvedModel::missing`] (each displays as "component 'thermostat1' uses
//!    dtmi:com:example:Thermostat;1, which is not loaded: open its model file too"),
//!    and a component whose interface is missing is left out of `components`.
//! 3. Edit values through their [`Schema`]: [`Schema::is_simple`] says whether a
//!    one-line field (or a combo box, for enums) suits it, else a JSON text area;
//!    [`Schema::format_field`] pre-fills the field from the current value,
//!    [`Schema::default_value`] fills an empty form, [`Schema::parse_field`] turns the
//!    text back into the JSON value (or a [`ValueError`] to show beside the field),
//!    [`Schema::check`] validates any JSON value, and [`Schema::describe`] labels it.
//!    [`Schema::contains_array`] tells a property IoT Hub's digital twin API cannot
//!    update (it refuses arrays).
//! 4. A command's request payload is the bare value of its request schema
//!    (`PayloadModel::schema.parse_field(text)`); a command without a request takes an
//!    empty (`null`) payload.
//!
//! Texts (`displayName`, `description`) may come in several languages
//! ([`LocalizedText`]); every model type has `display_name()` (English, else the first
//! language, else the name) and `description()` accessors.
//!
//! ```
//! use twinlens::dtdl::ModelSet;
//!
//! let mut models = ModelSet::default();
//! models.add_file("Thermostat.json", r#"{
//!     "@context": "dtmi:dtdl:context;3",
//!     "@id": "dtmi:com:example:Thermostat;1",
//!     "@type": "Interface",
//!     "contents": [{"@type": "Property", "name": "targetTemperature",
//!                   "schema": "double", "writable": true}]
//! }"#)?;
//! let model = models.resolve("dtmi:com:example:Thermostat;1")?;
//! let target = model.root.property("targetTemperature").expect("declared above");
//! assert_eq!(target.schema.parse_field("21.5")?, serde_json::json!(21.5));
//! assert!(target.schema.parse_field("warm").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is read
//!
//! - `@context`: `dtmi:dtdl:context;2` or `;3`, alone or first among extension
//!   contexts, which are ignored. DTDL v4 and other contexts are refused.
//! - Interfaces: `@id`, `displayName`, `description`, `contents`, `extends` (DTMIs or
//!   inline interfaces), `schemas`. Inline interfaces without an `@id` get one derived
//!   from their parent's.
//! - Contents: Property (`writable`, `unit`), Telemetry (`unit`), Command (`request`,
//!   `response`; v2's `commandType` is ignored), Component. Relationships are skipped.
//!   Semantic types (`["Property", "Temperature"]`) are accepted; only `unit` is kept.
//! - Schemas: the ten primitives, Enum, Object, Map, Array, and DTMIs of reusable
//!   schemas. IoT Central's `geopoint` and `vector` are read as objects of doubles
//!   (`lat`, `lon`, `alt` and `x`, `y`, `z`). DTDL v2 properties may not hold arrays.
//! - Other members (`comment`, `nullable`, extension properties) are ignored.
//! - Names follow DTDL's rule (64 characters in v2, 512 in v3); content, field and
//!   enum value names must be unique where DTDL says so.
//!
//! # Layout
//!
//! - `model_set` ([`ModelSet`]) and `resolve` ([`ResolvedModel`] and its parts).
//! - `model`: interfaces and contents as declared; `text`: [`LocalizedText`].
//! - `schema`: [`Schema`] with checking and edit-field text.
//! - `parse`: model files to interfaces; `dtmi`: DTMI and name syntax.
//! - `error`: [`DtdlError`] and [`Location`].

mod dtmi;
mod error;
mod model;
mod model_set;
mod parse;
mod resolve;
mod schema;
mod text;

pub use dtmi::{
    MAX_DTMI_LENGTH, MAX_INTERFACE_DTMI_LENGTH, is_valid_dtmi, is_valid_interface_dtmi,
    is_valid_name,
};
pub use error::{DtdlError, Location};
pub use model::{
    CommandModel, ComponentRef, Content, DtdlVersion, Interface, PayloadModel, PropertyModel,
    TelemetryModel,
};
pub use model_set::ModelSet;
pub use resolve::{
    ComponentModel, MAX_EXTENDS_DEPTH, MissingInterface, NeededBy, ResolvedComponent, ResolvedModel,
};
pub use schema::{EnumValue, EnumValueSchema, Field, Schema, ValueError};
pub use text::LocalizedText;

#[cfg(test)]
mod tests;
