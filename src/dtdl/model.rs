//! Parsed interfaces as a model file declares them: contents (properties, telemetry,
//! commands, components) with their schemas already resolved, before `extends` and
//! components are put together by [`ModelSet::resolve`](super::ModelSet::resolve).

use std::collections::BTreeMap;

use super::schema::Schema;
use super::text::{LocalizedText, display_texts};

/// The DTDL language version of an interface, from its `@context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DtdlVersion {
    /// `dtmi:dtdl:context;2`.
    V2,
    /// `dtmi:dtdl:context;3`.
    V3,
}

impl DtdlVersion {
    /// The longest content, field or enum value name this version allows.
    pub fn max_name_length(self) -> usize {
        match self {
            Self::V2 => 64,
            Self::V3 => 512,
        }
    }
}

/// One DTDL Interface, as declared (its `extends` not yet flattened).
#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    /// `@id`. Inline interfaces without one get an id derived from their parent's
    /// (`dtmi:com:example:Parent:_contents:__thermostat:_schema;1`), which no model
    /// file can spell, so it never clashes.
    pub id: String,
    /// The DTDL version of its file.
    pub version: DtdlVersion,
    /// The file it was read from.
    pub source: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// The `@id`s of the interfaces it extends, in file order.
    pub extends: Vec<String>,
    /// Its own contents, in file order (relationships left out).
    pub contents: Vec<Content>,
    /// Its reusable schemas (`schemas`), by `@id`.
    pub schemas: BTreeMap<String, Schema>,
}

/// One element of an interface's `contents`.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A property: reported by the device, and desired too when writable.
    Property(PropertyModel),
    /// A telemetry value the device sends.
    Telemetry(TelemetryModel),
    /// A command (a direct method, `component*name` inside a component).
    Command(CommandModel),
    /// A component: a named instance of another interface.
    Component(ComponentRef),
}

impl Content {
    /// The content's `name`.
    pub fn name(&self) -> &str {
        match self {
            Self::Property(property) => &property.name,
            Self::Telemetry(telemetry) => &telemetry.name,
            Self::Command(command) => &command.name,
            Self::Component(component) => &component.name,
        }
    }
}

/// A Property.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyModel {
    /// `name`: the twin property's key.
    pub name: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// `schema`.
    pub schema: Schema,
    /// `writable` (default false): whether the service may set it through desired properties.
    pub writable: bool,
    /// `unit`, given with a semantic type (`["Property", "Temperature"]`), e.g. `degreeCelsius`.
    pub unit: Option<String>,
}

/// A Telemetry.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryModel {
    /// `name`: the key in telemetry messages.
    pub name: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// `schema`.
    pub schema: Schema,
    /// `unit`, given with a semantic type, e.g. `kibibyte`.
    pub unit: Option<String>,
}

/// A Command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandModel {
    /// `name`: the method name (`component*name` when called on a component).
    pub name: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// `request`: the payload sent; `None` means an empty (`null`) payload.
    pub request: Option<PayloadModel>,
    /// `response`: the payload the device answers with.
    pub response: Option<PayloadModel>,
}

/// A command's request or response. On the wire the payload is the bare value of
/// `schema`: `name` is for people, never a wrapper object.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadModel {
    /// `name`.
    pub name: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// `schema`.
    pub schema: Schema,
}

/// A Component: the interface it instantiates, by `@id`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRef {
    /// `name`: the top-level twin key and the method prefix of the component.
    pub name: String,
    /// `displayName`.
    pub display_name: LocalizedText,
    /// `description`.
    pub description: LocalizedText,
    /// The `@id` of its interface (`schema`).
    pub interface: String,
}

display_texts!(
    Interface => id,
    PropertyModel => name,
    TelemetryModel => name,
    CommandModel => name,
    PayloadModel => name,
    ComponentRef => name,
);
