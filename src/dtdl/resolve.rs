//! A device's view of its model: the root interface with `extends` flattened, and each
//! component resolved to its interface's (flattened) contents. Interfaces that are not
//! loaded are listed rather than failing the whole model.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::ModelSet;
use super::error::DtdlError;
use super::model::{CommandModel, ComponentRef, Content, Interface, PropertyModel, TelemetryModel};
use super::text::{LocalizedText, display_texts};

/// How deep `extends` may go below an interface (DTDL's limit).
pub const MAX_EXTENDS_DEPTH: usize = 10;

/// What a device with a model id looks like: its default component (`root`) and its
/// named components, each with `extends` flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    /// The root interface's `@id` (the device's model id).
    pub id: String,
    /// The root interface's `displayName`.
    pub display_name: LocalizedText,
    /// The root interface's `description`.
    pub description: LocalizedText,
    /// The default component: the root interface's properties, telemetry and commands
    /// (its own first, then those of what it extends), components left out.
    pub root: ComponentModel,
    /// The components whose interface is loaded, in file order.
    pub components: Vec<ResolvedComponent>,
    /// Interfaces the model refers to that are not loaded. Their components are left
    /// out of `components`; what they would add through `extends` is missing.
    pub missing: Vec<MissingInterface>,
}

display_texts!(ResolvedModel => id);

impl ResolvedModel {
    /// The component named `name`.
    pub fn component(&self, name: &str) -> Option<&ResolvedComponent> {
        self.components
            .iter()
            .find(|component| component.declaration.name == name)
    }
}

/// The contents of one component (or of the default component), by kind, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentModel {
    /// Properties: reported, and desired too when writable.
    pub properties: Vec<PropertyModel>,
    /// Telemetry.
    pub telemetry: Vec<TelemetryModel>,
    /// Commands.
    pub commands: Vec<CommandModel>,
}

impl ComponentModel {
    /// The property named `name`.
    pub fn property(&self, name: &str) -> Option<&PropertyModel> {
        self.properties
            .iter()
            .find(|property| property.name == name)
    }

    /// The command named `name`.
    pub fn command(&self, name: &str) -> Option<&CommandModel> {
        self.commands.iter().find(|command| command.name == name)
    }

    fn from_contents(contents: &[&Content]) -> Self {
        let mut model = Self::default();
        for content in contents {
            match content {
                Content::Property(property) => model.properties.push(property.clone()),
                Content::Telemetry(telemetry) => model.telemetry.push(telemetry.clone()),
                Content::Command(command) => model.commands.push(command.clone()),
                Content::Component(_) => {}
            }
        }
        model
    }
}

/// A component of the root interface with its interface's contents.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedComponent {
    /// The Component as the root interface declares it (name, display name, interface).
    pub declaration: ComponentRef,
    /// Its interface's contents, `extends` flattened.
    pub model: ComponentModel,
}

/// An interface a model refers to that is not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingInterface {
    /// Its `@id`.
    pub id: String,
    /// What refers to it.
    pub needed_by: NeededBy,
}

/// What refers to a missing interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeededBy {
    /// The root interface's component of this name.
    Component(String),
    /// The interface of this `@id` extends it.
    Extends(String),
}

impl fmt::Display for MissingInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.needed_by {
            NeededBy::Component(name) => write!(f, "component '{name}' uses {}", self.id)?,
            NeededBy::Extends(interface) => write!(f, "{interface} extends {}", self.id)?,
        }
        f.write_str(", which is not loaded: open its model file too")
    }
}

impl ModelSet {
    /// Resolves the interface `dtmi` as a device's model (see [`ResolvedModel`]).
    /// Interfaces it needs that are not loaded are listed in
    /// [`ResolvedModel::missing`]; an error only when `dtmi` itself is not loaded or
    /// the model breaks DTDL's rules across interfaces (an `extends` cycle or more than
    /// [`MAX_EXTENDS_DEPTH`] levels, a content name defined twice along `extends`,
    /// components inside a component).
    pub fn resolve(&self, dtmi: &str) -> Result<ResolvedModel, DtdlError> {
        let interface = self.interface(dtmi).ok_or_else(|| DtdlError::NotLoaded {
            id: dtmi.to_owned(),
        })?;
        let mut missing = Vec::new();
        let contents = self.flatten(interface, &mut missing)?;
        let mut components = Vec::new();
        for content in &contents {
            let Content::Component(declaration) = content else {
                continue;
            };
            let Some(target) = self.interface(&declaration.interface) else {
                missing.push(MissingInterface {
                    id: declaration.interface.clone(),
                    needed_by: NeededBy::Component(declaration.name.clone()),
                });
                continue;
            };
            let inner = self.flatten(target, &mut missing)?;
            if let Some(nested) = inner
                .iter()
                .find(|content| matches!(content, Content::Component(_)))
            {
                return Err(DtdlError::NestedComponent {
                    component: declaration.name.clone(),
                    interface: target.id.clone(),
                    nested: nested.name().to_owned(),
                });
            }
            components.push(ResolvedComponent {
                declaration: declaration.clone(),
                model: ComponentModel::from_contents(&inner),
            });
        }
        Ok(ResolvedModel {
            id: interface.id.clone(),
            display_name: interface.display_name.clone(),
            description: interface.description.clone(),
            root: ComponentModel::from_contents(&contents),
            components,
            missing,
        })
    }

    /// `interface`'s contents followed by those of what it extends, depth first.
    fn flatten<'m>(
        &'m self,
        interface: &'m Interface,
        missing: &mut Vec<MissingInterface>,
    ) -> Result<Vec<&'m Content>, DtdlError> {
        let mut walk = Flattening {
            set: self,
            root: &interface.id,
            contents: Vec::new(),
            origins: HashMap::new(),
            visited: HashSet::new(),
            chain: Vec::new(),
            missing,
        };
        walk.visit(interface)?;
        Ok(walk.contents)
    }
}

/// The state of flattening one interface's `extends`.
struct Flattening<'m, 'v> {
    set: &'m ModelSet,
    root: &'m str,
    contents: Vec<&'m Content>,
    /// Which interface each content name came from.
    origins: HashMap<&'m str, &'m str>,
    /// Interfaces already flattened (an interface reached twice is taken once).
    visited: HashSet<&'m str>,
    /// The interfaces from the root down to the one being visited.
    chain: Vec<&'m str>,
    missing: &'v mut Vec<MissingInterface>,
}

impl<'m> Flattening<'m, '_> {
    fn visit(&mut self, interface: &'m Interface) -> Result<(), DtdlError> {
        let id = interface.id.as_str();
        if self.chain.contains(&id) {
            return Err(DtdlError::ExtendsCycle {
                id: id.to_owned(),
                chain: self.chain_to(id),
            });
        }
        if !self.visited.insert(id) {
            return Ok(());
        }
        if self.chain.len() > MAX_EXTENDS_DEPTH {
            return Err(DtdlError::ExtendsTooDeep {
                id: self.root.to_owned(),
                chain: self.chain_to(id),
                max: MAX_EXTENDS_DEPTH,
            });
        }
        for content in &interface.contents {
            if let Some(first) = self.origins.insert(content.name(), id) {
                return Err(DtdlError::InheritedDuplicate {
                    id: self.root.to_owned(),
                    name: content.name().to_owned(),
                    first: first.to_owned(),
                    second: id.to_owned(),
                });
            }
            self.contents.push(content);
        }
        self.chain.push(id);
        for base in &interface.extends {
            match self.set.interface(base) {
                Some(base) => self.visit(base)?,
                None => self.missing.push(MissingInterface {
                    id: base.clone(),
                    needed_by: NeededBy::Extends(id.to_owned()),
                }),
            }
        }
        self.chain.pop();
        Ok(())
    }

    /// The chain from the root to `id`, for messages.
    fn chain_to(&self, id: &str) -> String {
        let mut chain = self.chain.clone();
        chain.push(id);
        chain.join(" -> ")
    }
}
