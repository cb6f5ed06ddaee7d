//! The Plug and Play tab's state and rules, free of egui: the open twin read the IoT
//! Plug and Play way (kept until the twin changes), what each property's status chip
//! says, the values typed for writable properties and the desired patches they become,
//! the desired writes in flight and how they ended, and the free "invoke a command" form.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::models::{ModelLibrary, ModelStatus};
use super::request::JobId;
use crate::dtdl::{CommandModel, ComponentModel, PropertyModel, Schema};
use crate::service::DeviceTwin;
use crate::twin::plug_and_play::view::AckStatus;
use crate::twin::plug_and_play::{
    COMMAND_SEPARATOR, COMPONENT_MARKER, ComponentState, PlugAndPlayTwin, PropertyState,
    command_method_name,
};

/// Where a property or command lives: its component (`None`: the default component) and
/// its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentKey {
    /// The component, `None` for the default one.
    pub component: Option<String>,
    /// The property's or command's name.
    pub name: String,
}

impl ContentKey {
    /// The property or command `name` of `component`.
    pub fn new(component: Option<&str>, name: &str) -> Self {
        ContentKey {
            component: component.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// `thermostat1.targetTemperature`, or just the name in the default component.
    pub fn describe(&self) -> String {
        match &self.component {
            Some(component) => format!("{component}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What a status chip means, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// The device took the current desired value.
    Done,
    /// The device has not answered the current desired value (or is still working).
    Waiting,
    /// The device refused or failed the current desired value.
    Refused,
    /// Nothing to wait for (read-only, or the device's own value).
    Neutral,
}

/// A property's status as the tab shows it: a short label and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChip {
    /// `current`, `waiting for device`, `refused (400)`...
    pub label: String,
    /// What the label means, with the versions involved.
    pub tooltip: String,
    /// Its colour.
    pub tone: Tone,
}

/// How `property` stands between the service's desired value and the device's
/// acknowledgement.
pub fn status_chip(property: &PropertyState) -> StatusChip {
    let desired_version = property
        .desired_version
        .map_or_else(|| "unknown".to_owned(), |version| version.to_string());
    let described = property
        .acknowledgement
        .as_ref()
        .and_then(|ack| ack.description.as_deref())
        .map_or_else(String::new, |description| format!(": \"{description}\""));
    let chip = |label: String, tooltip: String, tone| StatusChip {
        label,
        tooltip,
        tone,
    };
    match property.status() {
        AckStatus::ReadOnly => chip(
            "read-only".into(),
            "Reported by the device; the service has no desired value for it".into(),
            Tone::Neutral,
        ),
        AckStatus::Waiting => {
            let acknowledged = property
                .acknowledgement
                .as_ref()
                .and_then(|ack| ack.version)
                .map_or_else(
                    || "has not acknowledged it yet".to_owned(),
                    |version| format!("last acknowledged version {version}"),
                );
            chip(
                "waiting for device".into(),
                format!(
                    "Desired version {desired_version} was set; the device {acknowledged}. \
                     A connected Plug and Play device answers with ac, av and ad in reported."
                ),
                Tone::Waiting,
            )
        }
        AckStatus::Reflected => chip(
            "reported as desired".into(),
            format!(
                "The device reports desired version {desired_version}'s value back without a \
                 Plug and Play acknowledgement (ac, av, ad)"
            ),
            Tone::Done,
        ),
        AckStatus::Current(code) => match code {
            202 => chip(
                "in progress (202)".into(),
                format!("The device is applying desired version {desired_version}{described}"),
                Tone::Waiting,
            ),
            200..=299 => chip(
                "current".into(),
                format!(
                    "The device acknowledged desired version {desired_version} with {code}{described}"
                ),
                Tone::Done,
            ),
            _ => chip(
                format!("refused ({code})"),
                format!(
                    "The device answered desired version {desired_version} with {code}{described}; \
                     set another value or check the device's log"
                ),
                Tone::Refused,
            ),
        },
        AckStatus::WithoutDesired => {
            let code = property
                .acknowledgement
                .as_ref()
                .and_then(|ack| ack.code)
                .map_or_else(|| "no code".to_owned(), |code| code.to_string());
            chip(
                format!("device value ({code})"),
                format!(
                    "The device reported its own value ({code}{described}); no desired value \
                     was set for it"
                ),
                Tone::Neutral,
            )
        }
    }
}

/// The desired-properties patch that sets `property` of `component` (the default
/// component when `None`) to `value`, as Azure IoT Explorer writes it: a component's
/// property goes inside the component's object, with the component marker.
pub fn desired_patch(component: Option<&str>, property: &str, value: Value) -> Value {
    let mut properties = Map::new();
    properties.insert(property.to_owned(), value);
    let desired = match component {
        Some(component) => {
            let mut inner = Map::new();
            inner.insert(
                COMPONENT_MARKER.0.to_owned(),
                Value::String(COMPONENT_MARKER.1.to_owned()),
            );
            inner.extend(properties);
            let mut outer = Map::new();
            outer.insert(component.to_owned(), Value::Object(inner));
            outer
        }
        None => properties,
    };
    serde_json::json!({"properties": {"desired": desired}})
}

/// The value typed as JSON text for a property with no model to say its type.
pub fn parse_json_value(text: &str) -> Result<Value, String> {
    serde_json::from_str(text.trim()).map_err(|error| {
        format!("not valid JSON ({error}); write text in quotes, e.g. \"eco\", numbers and true/false as they are")
    })
}

/// How the last desired write of a property went.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// Sent, waiting for the hub.
    Sending,
    /// The hub took it; the desired version it became, when the hub said.
    Written(Option<u64>),
    /// The hub refused it, and why.
    Failed(String),
}

/// A desired write that ended, for the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteEnded {
    /// The device written to.
    pub device_id: String,
    /// The property written.
    pub key: ContentKey,
    /// How it went.
    pub outcome: WriteOutcome,
}

/// The free form that invokes any command, with or without a model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandForm {
    /// The component (`None`: the default component).
    pub component: Option<String>,
    /// The command's name within its component.
    pub command: String,
    /// The request payload, as JSON text (empty: no payload).
    pub payload: String,
}

impl CommandForm {
    /// The direct method to call and its payload, or what to fix first.
    pub fn to_call(&self) -> Result<(String, Value), String> {
        let command = self.command.trim();
        if command.is_empty() {
            return Err("give the command's name".into());
        }
        if command.contains(COMMAND_SEPARATOR) {
            return Err(format!(
                "write the command's name without '{COMMAND_SEPARATOR}': the component is chosen above"
            ));
        }
        let payload = if self.payload.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(self.payload.trim())
                .map_err(|error| format!("the payload is not valid JSON: {error}"))?
        };
        Ok((
            command_method_name(self.component.as_deref(), command),
            payload,
        ))
    }
}

/// One property as the tab lists it: what the twin says, and what the model declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PropertyRow {
    /// The twin's side (only the name when the twin has nothing of it yet).
    pub state: PropertyState,
    /// The model's declaration, when a model is loaded and declares it.
    pub model: Option<PropertyModel>,
}

impl PropertyRow {
    /// The schema its values follow, when the model says.
    pub fn schema(&self) -> Option<&Schema> {
        self.model.as_ref().map(|model| &model.schema)
    }

    /// What the model says of it: display name, description, schema and unit.
    pub fn explanation(&self) -> Option<String> {
        let model = self.model.as_ref()?;
        let mut lines = vec![format!(
            "{} ({})",
            model.display_name(),
            model.schema.describe()
        )];
        if !model.description().is_empty() {
            lines.push(model.description().to_owned());
        }
        if let Some(unit) = &model.unit {
            lines.push(format!("Unit: {unit}"));
        }
        Some(lines.join("\n"))
    }
}

/// One component as the tab lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComponentView {
    /// The component's name; `None` for the default component.
    pub name: Option<String>,
    /// What the model says of the component (display name, description), when it does.
    pub explanation: Option<String>,
    /// Its writable properties: declared writable by the model, or with a desired value
    /// or an acknowledgement in the twin.
    pub writable: Vec<PropertyRow>,
    /// Its read-only properties.
    pub read_only: Vec<PropertyRow>,
    /// Its commands, from the model.
    pub commands: Vec<CommandModel>,
}

impl ComponentView {
    /// The model's properties in its order (with what the twin has of them), then the
    /// twin's properties the model does not declare.
    fn of(
        name: Option<&str>,
        state: Option<&ComponentState>,
        model: Option<&ComponentModel>,
    ) -> Self {
        let mut view = ComponentView {
            name: name.map(str::to_owned),
            ..ComponentView::default()
        };
        let twin_property = |name: &str| {
            state
                .and_then(|state| state.property(name))
                .cloned()
                .unwrap_or_else(|| PropertyState {
                    name: name.to_owned(),
                    ..PropertyState::default()
                })
        };
        if let Some(model) = model {
            for declared in &model.properties {
                let row = PropertyRow {
                    state: twin_property(&declared.name),
                    model: Some(declared.clone()),
                };
                view.push(row, declared.writable);
            }
            view.commands.clone_from(&model.commands);
        }
        let undeclared = state
            .into_iter()
            .flat_map(|state| &state.properties)
            .filter(|property| model.is_none_or(|model| model.property(&property.name).is_none()));
        for property in undeclared {
            let writable = property.is_writable();
            view.push(
                PropertyRow {
                    state: property.clone(),
                    model: None,
                },
                writable,
            );
        }
        view
    }

    fn push(&mut self, row: PropertyRow, writable: bool) {
        if writable {
            self.writable.push(row);
        } else {
            self.read_only.push(row);
        }
    }
}

/// The open twin as the tab shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlugAndPlayView {
    /// The model the device announced, empty when none.
    pub model_id: String,
    /// How that model resolves against the loaded models.
    pub model: ModelStatus,
    /// The default component first, then the model's components, then those only the
    /// twin has.
    pub components: Vec<ComponentView>,
}

impl PlugAndPlayView {
    /// The view of `twin` with `model` (the resolution of its model id).
    pub fn of(twin: &PlugAndPlayTwin, model: ModelStatus) -> Self {
        let resolved = match &model {
            ModelStatus::Resolved(resolved) => Some(&**resolved),
            _ => None,
        };
        let mut components = vec![ComponentView::of(
            None,
            Some(&twin.root),
            resolved.map(|model| &model.root),
        )];
        for declared in resolved.iter().flat_map(|model| &model.components) {
            let name = declared.declaration.name.as_str();
            let mut view = ComponentView::of(
                Some(name),
                twin.component(Some(name)),
                Some(&declared.model),
            );
            let declaration = &declared.declaration;
            view.explanation = Some(
                [declaration.display_name(), declaration.description()]
                    .into_iter()
                    .filter(|text| !text.is_empty())
                    .collect::<Vec<_>>()
                    .join(": "),
            );
            components.push(view);
        }
        for component in &twin.components {
            let name = component.name.as_deref();
            if resolved.is_none_or(|model| model.component(name.unwrap_or_default()).is_none()) {
                components.push(ComponentView::of(name, Some(component), None));
            }
        }
        PlugAndPlayView {
            model_id: twin.model_id.clone(),
            model,
            components,
        }
    }

    /// The names of the named components, for the command form's picker.
    pub fn component_names(&self) -> impl Iterator<Item = &str> {
        self.components
            .iter()
            .filter_map(|component| component.name.as_deref())
    }
}

/// How a value of `schema` is edited.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// A checkbox (booleans).
    Checkbox,
    /// A choice among named values (enums): each value's label and the field text that
    /// stands for it.
    Choice(Vec<(String, String)>),
    /// One line of text, checked as it is typed (primitives; JSON without a model).
    Line,
    /// JSON text over several lines, checked against the schema (objects, maps, arrays).
    Json,
}

/// How a value of `schema` (none: no model says) is edited.
pub fn field_kind(schema: Option<&Schema>) -> FieldKind {
    match schema {
        Some(Schema::Boolean) => FieldKind::Checkbox,
        Some(Schema::Enum { values, .. }) => FieldKind::Choice(
            values
                .iter()
                .map(|value| (value.display_name().to_owned(), value.name.clone()))
                .collect(),
        ),
        Some(schema) if !schema.is_simple() => FieldKind::Json,
        _ => FieldKind::Line,
    }
}

/// The text to start editing `value` with (the schema's default when there is none).
pub fn field_text(schema: Option<&Schema>, value: Option<&Value>) -> String {
    match schema {
        Some(schema) => schema.format_field(value.unwrap_or(&schema.default_value())),
        None => value.map_or_else(String::new, Value::to_string),
    }
}

/// The value `text` stands for under `schema` (JSON text without one), or what is wrong.
pub fn parse_value(schema: Option<&Schema>, text: &str) -> Result<Value, String> {
    match schema {
        Some(schema) => schema.parse_field(text).map_err(|error| error.to_string()),
        None => parse_json_value(text),
    }
}

/// The payload of `command` from the text of its request field (`null` when the
/// command takes no request).
pub fn command_payload(command: &CommandModel, text: &str) -> Result<Value, String> {
    match &command.request {
        Some(request) => parse_value(Some(&request.schema), text),
        None => Ok(Value::Null),
    }
}

/// Everything the Plug and Play tab keeps between frames.
#[derive(Debug, Default)]
pub struct PlugAndPlayState {
    /// The view, with the device, twin generation and models revision it was made from
    /// (shared, so a frame holds it while the state changes).
    shown: Option<(String, u64, u64, Arc<PlugAndPlayView>)>,
    /// Values typed for writable properties, per device, until written.
    drafts: HashMap<(String, ContentKey), String>,
    /// Request values typed for model commands, per device, component and command.
    command_drafts: HashMap<(String, ContentKey), String>,
    /// Desired writes in flight.
    writes: HashMap<JobId, (String, ContentKey)>,
    /// How each property's last write went, per device.
    outcomes: HashMap<(String, ContentKey), WriteOutcome>,
    /// The model chosen to read devices with that announce none, per device.
    chosen_models: HashMap<String, String>,
    /// The free command form.
    pub command_form: CommandForm,
}

impl PlugAndPlayState {
    /// The view of `device_id`'s twin at `generation` with the models of `library`
    /// (made again only when one of them changed).
    pub fn view(
        &mut self,
        device_id: &str,
        generation: u64,
        twin: &DeviceTwin,
        library: &ModelLibrary,
    ) -> Arc<PlugAndPlayView> {
        let revision = library.revision();
        let stale = self.shown.as_ref().is_none_or(|(shown, at, models, _)| {
            shown != device_id || *at != generation || *models != revision
        });
        if stale {
            self.shown = None;
        }
        let chosen = self.chosen_models.get(device_id);
        let (_, _, _, view) = self.shown.get_or_insert_with(|| {
            let twin = PlugAndPlayTwin::from_twin(&twin.to_json());
            let model_id = match chosen {
                Some(chosen) if twin.model_id.is_empty() => chosen.as_str(),
                _ => twin.model_id.as_str(),
            };
            let model = library.status(model_id);
            let view = PlugAndPlayView::of(&twin, model);
            (device_id.to_owned(), generation, revision, Arc::new(view))
        });
        Arc::clone(view)
    }

    /// The model chosen for `device_id`, used while it announces none.
    pub fn chosen_model(&self, device_id: &str) -> Option<&str> {
        self.chosen_models.get(device_id).map(String::as_str)
    }

    /// Reads `device_id` with `model` (none: by its twin alone) while it announces no
    /// model of its own.
    pub fn choose_model(&mut self, device_id: &str, model: Option<String>) {
        match model {
            Some(model) => self.chosen_models.insert(device_id.to_owned(), model),
            None => self.chosen_models.remove(device_id),
        };
        self.shown = None;
    }

    /// The request text typed for command `key` (component and command name) of
    /// `device_id`, if the user changed it.
    pub fn command_draft(&self, device_id: &str, key: &ContentKey) -> Option<&str> {
        self.command_drafts
            .get(&(device_id.to_owned(), key.clone()))
            .map(String::as_str)
    }

    /// The user typed `text` for command `key` of `device_id`.
    pub fn set_command_draft(&mut self, device_id: &str, key: &ContentKey, text: String) {
        self.command_drafts
            .insert((device_id.to_owned(), key.clone()), text);
    }

    /// The text typed for `key` of `device_id`, if the user changed it.
    pub fn draft(&self, device_id: &str, key: &ContentKey) -> Option<&str> {
        self.drafts
            .get(&(device_id.to_owned(), key.clone()))
            .map(String::as_str)
    }

    /// The user typed `text` for `key` of `device_id`.
    pub fn set_draft(&mut self, device_id: &str, key: &ContentKey, text: String) {
        self.drafts
            .insert((device_id.to_owned(), key.clone()), text);
    }

    /// How the last write of `key` of `device_id` went.
    pub fn outcome(&self, device_id: &str, key: &ContentKey) -> Option<&WriteOutcome> {
        self.outcomes.get(&(device_id.to_owned(), key.clone()))
    }

    /// Whether a write of `key` of `device_id` is waiting for the hub.
    pub fn is_writing(&self, device_id: &str, key: &ContentKey) -> bool {
        self.outcome(device_id, key) == Some(&WriteOutcome::Sending)
    }

    /// A desired write of `key` of `device_id` was sent as `job`.
    pub fn write_sent(&mut self, job: JobId, device_id: &str, key: ContentKey) {
        let entry = (device_id.to_owned(), key);
        self.outcomes.insert(entry.clone(), WriteOutcome::Sending);
        self.writes.insert(job, entry);
    }

    /// Folds in the answer to `job` when it is a desired write of this tab: the desired
    /// version it became, or why it failed. A written property's draft goes, so the
    /// field shows the twin's value again.
    pub fn write_answered(
        &mut self,
        job: JobId,
        result: Result<Option<u64>, String>,
    ) -> Option<WriteEnded> {
        let (device_id, key) = self.writes.remove(&job)?;
        let outcome = match result {
            Ok(version) => {
                self.drafts.remove(&(device_id.clone(), key.clone()));
                WriteOutcome::Written(version)
            }
            Err(message) => WriteOutcome::Failed(message),
        };
        self.outcomes
            .insert((device_id.clone(), key.clone()), outcome.clone());
        Some(WriteEnded {
            device_id,
            key,
            outcome,
        })
    }

    /// Another hub: nothing is in flight and nothing typed applies any more.
    pub fn reset(&mut self) {
        *self = PlugAndPlayState {
            command_form: std::mem::take(&mut self.command_form),
            ..PlugAndPlayState::default()
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::twin::plug_and_play::Acknowledgement;

    fn property(desired: Option<Value>, ack: Option<(i64, u64)>, version: u64) -> PropertyState {
        PropertyState {
            name: "targetTemperature".into(),
            reported: Some(json!(21)),
            acknowledgement: ack.map(|(code, version)| Acknowledgement {
                code: Some(code),
                version: Some(version),
                description: Some("done".into()),
            }),
            desired_version: desired.as_ref().map(|_| version),
            desired,
            last_update_time: None,
        }
    }

    #[test]
    fn the_chip_says_how_the_device_answered_the_current_desired_version() {
        let current = status_chip(&property(Some(json!(21)), Some((200, 4)), 4));
        assert_eq!(
            (current.label.as_str(), current.tone),
            ("current", Tone::Done)
        );
        assert!(current.tooltip.contains("version 4 with 200: \"done\""));

        let old = status_chip(&property(Some(json!(22)), Some((200, 4)), 5));
        assert_eq!(old.label, "waiting for device");
        assert!(old.tooltip.contains("last acknowledged version 4"));
        let never = status_chip(&property(Some(json!(22)), None, 5));
        assert!(never.tooltip.contains("has not acknowledged it yet"));

        let refused = status_chip(&property(Some(json!(99)), Some((400, 6)), 6));
        assert_eq!(
            (refused.label.as_str(), refused.tone),
            ("refused (400)", Tone::Refused)
        );
        let working = status_chip(&property(Some(json!(9)), Some((202, 6)), 6));
        assert_eq!(working.tone, Tone::Waiting);

        assert_eq!(status_chip(&property(None, None, 0)).label, "read-only");
        assert_eq!(
            status_chip(&property(None, Some((203, 0)), 0)).label,
            "device value (203)"
        );
    }

    #[test]
    fn a_component_property_is_written_inside_its_marked_component() {
        assert_eq!(
            desired_patch(Some("thermostat1"), "targetTemperature", json!(23.5)),
            json!({"properties": {"desired": {"thermostat1": {"__t": "c", "targetTemperature": 23.5}}}})
        );
        assert_eq!(
            desired_patch(None, "fanSpeed", json!(2)),
            json!({"properties": {"desired": {"fanSpeed": 2}}})
        );
    }

    #[test]
    fn untyped_values_are_json_and_a_bare_word_is_explained() {
        assert_eq!(parse_json_value(" 23.5 "), Ok(json!(23.5)));
        assert_eq!(parse_json_value("\"eco\""), Ok(json!("eco")));
        assert!(parse_json_value("eco").unwrap_err().contains("in quotes"));
    }

    #[test]
    fn the_command_form_names_the_component_command_and_checks_the_payload() {
        let mut form = CommandForm {
            component: Some("thermostat1".into()),
            command: " getMaxMinReport ".into(),
            payload: "\"2026-12-01T00:00:00Z\"".into(),
        };
        assert_eq!(
            form.to_call(),
            Ok((
                "thermostat1*getMaxMinReport".into(),
                json!("2026-12-01T00:00:00Z")
            ))
        );
        form.payload.clear();
        form.component = None;
        assert_eq!(form.to_call(), Ok(("getMaxMinReport".into(), Value::Null)));
        form.payload = "{".into();
        assert!(form.to_call().unwrap_err().contains("not valid JSON"));
        form.command = "thermostat1*reboot".into();
        assert!(form.to_call().unwrap_err().contains("without '*'"));
        form.command.clear();
        assert_eq!(form.to_call().unwrap_err(), "give the command's name");
    }

    fn controller() -> DeviceTwin {
        serde_json::from_value(crate::twin::plug_and_play::view::tests::controller_twin()).unwrap()
    }

    fn names(rows: &[PropertyRow]) -> Vec<&str> {
        rows.iter().map(|row| row.state.name.as_str()).collect()
    }

    #[test]
    fn without_a_model_the_twin_says_which_properties_are_writable() {
        let mut state = PlugAndPlayState::default();
        let view = state.view("controller", 1, &controller(), &ModelLibrary::default());
        assert_eq!(view.model_id, "dtmi:com:example:TemperatureController;2");
        assert_eq!(view.model, ModelStatus::NotLoaded(view.model_id.clone()));
        assert_eq!(view.components.len(), 2);
        let root = &view.components[0];
        assert_eq!(root.name, None);
        assert_eq!(names(&root.writable), ["fanSpeed"]);
        assert_eq!(names(&root.read_only), ["serialNumber"]);
        let thermostat = &view.components[1];
        assert_eq!(thermostat.name.as_deref(), Some("thermostat1"));
        assert_eq!(names(&thermostat.writable), ["targetTemperature"]);
        assert_eq!(names(&thermostat.read_only), ["maxTempSinceLastReboot"]);
        assert!(thermostat.commands.is_empty());
        assert_eq!(view.component_names().collect::<Vec<_>>(), ["thermostat1"]);
    }

    #[test]
    fn a_model_types_properties_adds_what_the_twin_lacks_and_lists_commands() {
        let mut library = ModelLibrary::default();
        library.load(crate::explorer::models::tests::sample_files());
        let mut twin = controller();
        let mut state = PlugAndPlayState::default();
        let announced = state.view("controller", 1, &twin, &library);
        assert!(
            matches!(announced.model, ModelStatus::NotLoaded(_)),
            "the twin announces version 2; the samples are version 1"
        );
        state.choose_model("controller", Some("dtmi:com:example:Thermostat;1".into()));
        let still = state.view("controller", 1, &twin, &library);
        assert!(
            matches!(still.model, ModelStatus::NotLoaded(_)),
            "an announced model wins over a chosen one"
        );

        twin.other.remove("modelId");
        state.choose_model(
            "controller",
            Some("dtmi:com:example:TemperatureController;1".into()),
        );
        let view = state.view("controller", 2, &twin, &library);
        assert!(matches!(view.model, ModelStatus::Resolved(_)));
        let components: Vec<Option<&str>> = view
            .components
            .iter()
            .map(|component| component.name.as_deref())
            .collect();
        assert_eq!(
            components,
            [None, Some("thermostat1"), Some("thermostat2")],
            "deviceInformation's interface is not loaded"
        );
        let root = &view.components[0];
        assert_eq!(names(&root.read_only), ["serialNumber"]);
        assert_eq!(
            names(&root.writable),
            ["fanSpeed"],
            "not in the model, but desired in the twin"
        );
        assert_eq!(root.commands[0].name, "reboot");
        let thermostat1 = &view.components[1];
        let target = &thermostat1.writable[0];
        assert_eq!(target.schema(), Some(&Schema::Double));
        assert_eq!(target.state.desired, Some(json!(21.4)));
        assert!(
            target
                .explanation()
                .unwrap()
                .contains("Unit: degreeCelsius")
        );
        assert!(
            thermostat1
                .explanation
                .as_deref()
                .unwrap()
                .contains("Thermostat One")
        );
        let thermostat2 = &view.components[2];
        assert_eq!(names(&thermostat2.writable), ["targetTemperature"]);
        assert_eq!(thermostat2.writable[0].state.desired, None, "declared only");
        assert_eq!(thermostat2.commands[0].name, "getMaxMinReport");
    }

    #[test]
    fn fields_follow_the_schema() {
        assert_eq!(field_kind(None), FieldKind::Line);
        assert_eq!(field_kind(Some(&Schema::Boolean)), FieldKind::Checkbox);
        assert_eq!(field_kind(Some(&Schema::Double)), FieldKind::Line);
        let array = Schema::Array {
            element: Box::new(Schema::Integer),
        };
        assert_eq!(field_kind(Some(&array)), FieldKind::Json);

        assert_eq!(
            field_text(Some(&Schema::Double), Some(&json!(21.5))),
            "21.5"
        );
        assert_eq!(
            field_text(Some(&Schema::String), Some(&json!("eco"))),
            "eco"
        );
        assert_eq!(field_text(Some(&Schema::Boolean), None), "false");
        assert_eq!(field_text(None, Some(&json!("eco"))), "\"eco\"");
        assert_eq!(field_text(None, None), "");

        assert_eq!(parse_value(Some(&Schema::Double), "23.5"), Ok(json!(23.5)));
        let refused = parse_value(Some(&Schema::Double), "warm").unwrap_err();
        assert!(
            refused.starts_with("expected ") && refused.ends_with("got \"warm\""),
            "{refused}"
        );
        assert_eq!(parse_value(Some(&array), "[1, 2]"), Ok(json!([1, 2])));
        assert!(parse_value(Some(&array), "[\"a\"]").is_err());
        assert_eq!(parse_value(None, "true"), Ok(json!(true)));
    }

    #[test]
    fn a_command_payload_is_its_request_value_or_null() {
        let mut library = ModelLibrary::default();
        library.load(crate::explorer::models::tests::sample_files());
        let ModelStatus::Resolved(model) =
            library.status("dtmi:com:example:TemperatureController;1")
        else {
            panic!("the samples resolve");
        };
        let report = model.components[0]
            .model
            .command("getMaxMinReport")
            .unwrap();
        assert_eq!(
            command_payload(report, "2026-12-01T00:00:00Z"),
            Ok(json!("2026-12-01T00:00:00Z"))
        );
        assert!(command_payload(report, "yesterday").is_err());
        let reboot = model.root.command("reboot").unwrap();
        assert_eq!(command_payload(reboot, "5"), Ok(json!(5)));
        let no_request = CommandModel {
            request: None,
            ..reboot.clone()
        };
        assert_eq!(command_payload(&no_request, "anything"), Ok(Value::Null));
    }

    #[test]
    fn a_write_is_tracked_until_answered_and_then_drops_its_draft() {
        let mut state = PlugAndPlayState::default();
        let key = ContentKey::new(Some("thermostat1"), "targetTemperature");
        assert_eq!(key.describe(), "thermostat1.targetTemperature");
        state.set_draft("d", &key, "23.5".into());
        state.write_sent(JobId(7), "d", key.clone());
        assert!(state.is_writing("d", &key));
        assert_eq!(state.write_answered(JobId(8), Ok(None)), None, "not ours");
        let ended = state.write_answered(JobId(7), Ok(Some(6))).unwrap();
        assert_eq!(ended.outcome, WriteOutcome::Written(Some(6)));
        assert_eq!(state.draft("d", &key), None);

        state.set_draft("d", &key, "99".into());
        state.write_sent(JobId(9), "d", key.clone());
        state.write_answered(JobId(9), Err("refused".into()));
        assert_eq!(
            state.outcome("d", &key),
            Some(&WriteOutcome::Failed("refused".into()))
        );
        assert_eq!(state.draft("d", &key), Some("99"), "what was typed stays");
    }
}
