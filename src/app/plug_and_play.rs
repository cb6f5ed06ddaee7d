//! The Plug and Play panel (right, "Plug and Play" tab): the model the device announced,
//! and for the default component and each named component its writable properties
//! (desired value and version, reported value, the device's acknowledgement and a status
//! chip), with a field to set each one's desired value, and its read-only properties;
//! below, a form to invoke any command of any component and see the device's answer.

use egui::{Color32, RichText, Ui};
use serde_json::Value;

use super::diff_view::short;
use super::intent::Intent;
use super::json_view::{code_field, json_block};
use crate::dtdl::{CommandModel, Schema};
use crate::explorer::models::{ModelLibrary, ModelStatus};
use crate::explorer::plug_and_play::{
    ComponentView, ContentKey, FieldKind, PlugAndPlayState, PlugAndPlayView, PropertyRow,
    StatusChip, Tone, WriteOutcome, command_payload, field_kind, field_text, parse_value,
    status_chip,
};
use crate::explorer::{MethodCallState, MethodCalls};
use crate::service::DeviceTwin;
use crate::twin::plug_and_play::command_method_name;

/// How long the hub waits for a device to answer a command.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the panel draws from.
pub struct PlugAndPlayContext<'a> {
    /// The open device (or module, by its key).
    pub device_id: &'a str,
    /// Its twin, once read.
    pub twin: Option<&'a DeviceTwin>,
    /// Changes whenever the twin does.
    pub generation: u64,
    /// The explorer's recent method calls, where command answers land.
    pub calls: &'a MethodCalls,
    /// The DTDL models loaded.
    pub models: &'a ModelLibrary,
}

/// Draws the panel.
pub fn plug_and_play_ui(
    ui: &mut Ui,
    context: &PlugAndPlayContext<'_>,
    state: &mut PlugAndPlayState,
    intents: &mut Vec<Intent>,
) {
    let Some(twin) = context.twin else {
        ui.weak("Reading the twin…");
        return;
    };
    let view = state.view(context.device_id, context.generation, twin, context.models);
    model_line(ui, &view.model_id);
    model_status_ui(ui, context, &view, state, intents);
    ui.separator();
    // Both ways: wide values scroll rather than widen the panel over the twin view.
    egui::ScrollArea::both()
        .id_salt("plug-and-play")
        .auto_shrink(false)
        .show(ui, |ui| {
            for component in &view.components {
                component_ui(ui, context, component, state, intents);
            }
            ui.separator();
            command_form_ui(ui, context, &view, state, intents);
        });
}

/// How the device's model resolves against the loaded models, and what to do when it
/// does not; a device announcing no model can be read with a loaded one.
fn model_status_ui(
    ui: &mut Ui,
    context: &PlugAndPlayContext<'_>,
    view: &PlugAndPlayView,
    state: &mut PlugAndPlayState,
    intents: &mut Vec<Intent>,
) {
    let error = ui.visuals().error_fg_color;
    let warn = ui.visuals().warn_fg_color;
    match &view.model {
        ModelStatus::NoModelId => {}
        ModelStatus::NotLoaded(model_id) => {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(
                    warn,
                    format!(
                        "The model {model_id} is not loaded: open its model file or put it in the models folder (View, Models folder)."
                    ),
                );
                if ui.button("Open model…").clicked() {
                    intents.push(Intent::OpenModel);
                }
            });
        }
        ModelStatus::Broken(why) => {
            ui.colored_label(error, format!("The model cannot be used: {why}"));
        }
        ModelStatus::Resolved(model) => {
            ui.label(format!("Typed by the model {}", model.display_name()))
                .on_hover_text(model.description());
            for missing in &model.missing {
                ui.colored_label(warn, format!("{missing}, or put it in the models folder"));
            }
        }
    }
    if view.model_id.is_empty() && context.models.interfaces() > 0 {
        let chosen = state.chosen_model(context.device_id).map(str::to_owned);
        let mut choice = chosen.clone();
        ui.horizontal(|ui| {
            let label = ui.label("Read with model");
            egui::ComboBox::from_id_salt("pnp-chosen-model")
                .selected_text(choice.as_deref().unwrap_or("none (the twin alone)"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut choice, None, "none (the twin alone)");
                    for id in context.models.ids() {
                        ui.selectable_value(&mut choice, Some(id.to_owned()), id);
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text("The device announces no model: choose a loaded one to type its properties and commands");
        });
        if choice != chosen {
            state.choose_model(context.device_id, choice);
        }
    }
    if let Some(report) = context.models.opened_report() {
        for failure in &report.failed {
            ui.colored_label(error, format!("Opening a model failed: {failure}"));
        }
    }
}

/// "Model: dtmi:…" or that the device announced none, with what that means.
pub fn model_line(ui: &mut Ui, model_id: &str) {
    ui.horizontal(|ui| {
        if model_id.is_empty() {
            ui.weak("No model announced").on_hover_text(
                "The device gave no model id when it connected, so it does not claim to be \
                 an IoT Plug and Play device; its twin is still read by its shape",
            );
        } else {
            ui.label("Model:");
            ui.label(RichText::new(model_id).monospace().strong())
                .on_hover_text(
                    "The IoT Plug and Play model (DTMI) the device announced when it connected",
                );
        }
    });
}

/// A status chip: its label in the tone's colour, its meaning on hover.
pub fn status_chip_ui(ui: &mut Ui, chip: &StatusChip) {
    let colour = match chip.tone {
        Tone::Done => Color32::from_rgb(40, 170, 70),
        Tone::Waiting => Color32::from_rgb(210, 150, 20),
        Tone::Refused => ui.visuals().error_fg_color,
        Tone::Neutral => ui.visuals().weak_text_color(),
    };
    ui.label(RichText::new(&chip.label).color(colour).strong())
        .on_hover_text(&chip.tooltip);
}

fn component_ui(
    ui: &mut Ui,
    context: &PlugAndPlayContext<'_>,
    component: &ComponentView,
    state: &mut PlugAndPlayState,
    intents: &mut Vec<Intent>,
) {
    let title = component.name.as_deref().unwrap_or("Default component");
    let header = egui::CollapsingHeader::new(RichText::new(title).strong())
        .id_salt(("pnp-component", title))
        .default_open(true)
        .show(ui, |ui| {
            ui.label(RichText::new("Writable properties").strong());
            if component.writable.is_empty() {
                ui.weak("None.");
            } else {
                writable_table(ui, title, &component.writable);
                for row in &component.writable {
                    let key = ContentKey::new(component.name.as_deref(), &row.state.name);
                    desired_field(ui, context.device_id, &key, row, state, intents);
                }
            }
            ui.add_space(4.0);
            ui.label(RichText::new("Read-only properties").strong());
            if component.read_only.is_empty() {
                ui.weak("None.");
            } else {
                read_only_table(ui, title, &component.read_only);
            }
            ui.add_space(4.0);
            ui.label(RichText::new("Commands").strong());
            if component.commands.is_empty() {
                ui.weak("None known: the model lists commands; without one, use Invoke a command below.");
            }
            for command in &component.commands {
                command_ui(ui, context, component.name.as_deref(), command, state, intents);
            }
        });
    let mut tooltip = match &component.name {
        Some(name) => format!(
            "The component {name}: its properties sit under \"{name}\" (marked \"__t\": \"c\") in desired and reported"
        ),
        None => "Properties at the root of desired and reported".to_owned(),
    };
    if let Some(explanation) = &component.explanation {
        tooltip = format!("{explanation}\n{tooltip}");
    }
    header.header_response.on_hover_text(tooltip);
}

/// The property's name, with what the model says of it on hover.
fn name_cell(ui: &mut Ui, row: &PropertyRow) {
    let name = ui.monospace(&row.state.name);
    match row.explanation() {
        Some(explanation) => name.on_hover_text(explanation),
        None => name.on_hover_text("Not in the model: read from the twin alone"),
    };
}

/// A value, with the property's unit when the model gives one.
fn value_cell(ui: &mut Ui, row: &PropertyRow, value: Option<&Value>) {
    let unit = row.model.as_ref().and_then(|model| model.unit.as_deref());
    optional_cell(
        ui,
        value.map(|value| match unit {
            Some(unit) => format!("{} {unit}", short(value)),
            None => short(value),
        }),
    );
}

fn header_cell(ui: &mut Ui, text: &str, tooltip: &str) {
    ui.label(RichText::new(text).strong())
        .on_hover_text(tooltip);
}

fn optional_cell(ui: &mut Ui, value: Option<String>) {
    match value {
        Some(text) => {
            ui.monospace(text);
        }
        None => {
            ui.weak("none");
        }
    }
}

fn writable_table(ui: &mut Ui, component: &str, rows: &[PropertyRow]) {
    egui::ScrollArea::horizontal()
        .id_salt(("pnp-writable-scroll", component))
        .show(ui, |ui| {
            egui::Grid::new(("pnp-writable", component))
                .striped(true)
                .num_columns(8)
                .show(ui, |ui| {
                    header_cell(ui, "Property", "The property's name in the twin");
                    header_cell(
                        ui,
                        "Status",
                        "Whether the device acknowledged the current desired value",
                    );
                    header_cell(ui, "Desired", "The value the service asked for");
                    header_cell(ui, "Version", "The desired $version that set it");
                    header_cell(ui, "Reported", "The value the device reports");
                    header_cell(
                        ui,
                        "ac",
                        "Acknowledgement code: 200 done, 202 in progress, 4xx refused",
                    );
                    header_cell(ui, "av", "The desired version the device acknowledged");
                    header_cell(ui, "ad", "The device's description of its acknowledgement");
                    ui.end_row();
                    for row in rows {
                        let property = &row.state;
                        let ack = property.acknowledgement.as_ref();
                        name_cell(ui, row);
                        status_chip_ui(ui, &status_chip(property));
                        // Units would widen the table; the field below and the name's
                        // tooltip give them.
                        optional_cell(ui, property.desired.as_ref().map(short));
                        optional_cell(ui, property.desired_version.map(|v| v.to_string()));
                        optional_cell(ui, property.reported.as_ref().map(short));
                        optional_cell(ui, ack.and_then(|ack| ack.code).map(|c| c.to_string()));
                        optional_cell(ui, ack.and_then(|ack| ack.version).map(|v| v.to_string()));
                        optional_cell(ui, ack.and_then(|ack| ack.description.clone()));
                        ui.end_row();
                    }
                });
        });
}

fn read_only_table(ui: &mut Ui, component: &str, rows: &[PropertyRow]) {
    egui::Grid::new(("pnp-read-only", component))
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            header_cell(ui, "Property", "The property's name in the twin");
            header_cell(ui, "Value", "The value the device reports");
            header_cell(
                ui,
                "Last updated",
                "When the device last reported it (the hub's clock)",
            );
            ui.end_row();
            for row in rows {
                name_cell(ui, row);
                value_cell(ui, row, row.state.reported.as_ref());
                optional_cell(ui, row.state.last_update_time.clone());
                ui.end_row();
            }
        });
}

/// The field that sets a writable property's desired value (typed by the model's
/// schema, JSON text without one), its Set button, and what is wrong with the value or
/// how the last write went.
fn desired_field(
    ui: &mut Ui,
    device_id: &str,
    key: &ContentKey,
    row: &PropertyRow,
    state: &mut PlugAndPlayState,
    intents: &mut Vec<Intent>,
) {
    let described = key.describe();
    let schema = row.schema();
    let property = &row.state;
    let mut text = state.draft(device_id, key).map_or_else(
        || {
            field_text(
                schema,
                property.desired.as_ref().or(property.reported.as_ref()),
            )
        },
        str::to_owned,
    );
    let writing = state.is_writing(device_id, key);
    let mut parsed = parse_value(schema, &text);
    ui.horizontal(|ui| {
        let label = ui.label(&property.name);
        if let Some(explanation) = row.explanation() {
            label.clone().on_hover_text(explanation);
        }
        let accessible = format!("New value of {described}");
        if value_field(ui, schema, &mut text, &accessible, label.id) {
            parsed = parse_value(schema, &text);
            state.set_draft(device_id, key, text.clone());
        }
        if let Some(unit) = row.model.as_ref().and_then(|model| model.unit.as_deref()) {
            ui.weak(unit);
        }
        let enabled = parsed.is_ok() && !writing;
        let button = ui
            .add_enabled(enabled, egui::Button::new("Set desired"))
            .on_hover_text(format!(
                "Write this value into desired properties ({described})"
            ))
            .on_disabled_hover_text(if writing {
                "Waiting for the hub to take the last value"
            } else {
                "Fix the value first"
            });
        let set_label = format!("Set desired {described}");
        button.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, &set_label));
        if button.clicked()
            && let Ok(value) = &parsed
        {
            intents.push(Intent::SetDesired {
                device_id: device_id.to_owned(),
                key: key.clone(),
                value: value.clone(),
            });
        }
    });
    match (&parsed, state.outcome(device_id, key)) {
        (Err(error), _) => {
            ui.colored_label(ui.visuals().error_fg_color, format!("{described}: {error}"));
        }
        (Ok(_), Some(WriteOutcome::Failed(error))) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Setting {described} failed: {error}"),
            );
        }
        (Ok(_), Some(WriteOutcome::Written(version))) => {
            ui.weak(match version {
                Some(version) => format!("{described} set (desired version {version})"),
                None => format!("{described} set"),
            });
        }
        _ => {}
    }
}

/// The edit widget for a value of `schema`, named `accessible` for screen readers and
/// labelled by `label`: a checkbox, a combo box of enum values, a line, or JSON text.
/// Returns whether the user changed `text`.
fn value_field(
    ui: &mut Ui,
    schema: Option<&Schema>,
    text: &mut String,
    accessible: &str,
    label: egui::Id,
) -> bool {
    let accessible = accessible.to_owned();
    let kind = field_kind(schema);
    let role = match kind {
        FieldKind::Checkbox => egui::Role::CheckBox,
        FieldKind::Choice(_) => egui::Role::ComboBox,
        FieldKind::Line | FieldKind::Json => egui::Role::TextInput,
    };
    let response = match kind {
        FieldKind::Checkbox => {
            let mut checked = text.trim() == "true";
            let response = ui.checkbox(&mut checked, "");
            if response.changed() {
                *text = checked.to_string();
            }
            response
        }
        FieldKind::Choice(choices) => {
            let selected = choices
                .iter()
                .find(|(_, value)| value == text)
                .map_or_else(|| text.clone(), |(label, _)| label.clone());
            let mut changed = false;
            let mut response = egui::ComboBox::from_id_salt(("pnp-choice", &accessible))
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    for (label, value) in &choices {
                        changed |= ui.selectable_value(text, value.clone(), label).changed();
                    }
                })
                .response;
            if changed {
                response.mark_changed();
            }
            response
        }
        FieldKind::Line => ui.add(egui::TextEdit::singleline(text).desired_width(180.0)),
        FieldKind::Json => ui.add(
            egui::TextEdit::multiline(text)
                .code_editor()
                .desired_rows(3)
                .desired_width(260.0),
        ),
    };
    let response = response.labelled_by(label);
    response.widget_info(|| egui::WidgetInfo::labeled(role, true, &accessible));
    if let Some(schema) = schema {
        response
            .clone()
            .on_hover_text(format!("A {}", schema.describe()));
    }
    response.changed()
}

/// A model command's form: its request field typed by the request schema (none: just
/// the button), Invoke, and the device's last answer.
fn command_ui(
    ui: &mut Ui,
    context: &PlugAndPlayContext<'_>,
    component: Option<&str>,
    command: &CommandModel,
    state: &mut PlugAndPlayState,
    intents: &mut Vec<Intent>,
) {
    let key = ContentKey::new(component, &command.name);
    let method = command_method_name(component, &command.name);
    let mut tooltip = format!("{} ({method})", command.display_name());
    if !command.description().is_empty() {
        tooltip = format!("{tooltip}\n{}", command.description());
    }
    let mut payload = Ok(serde_json::Value::Null);
    ui.horizontal(|ui| {
        let label = ui.monospace(&command.name).on_hover_text(&tooltip);
        if let Some(request) = &command.request {
            let mut text = state
                .command_draft(context.device_id, &key)
                .map_or_else(|| field_text(Some(&request.schema), None), str::to_owned);
            let accessible = format!("{} of {}", request.display_name(), key.describe());
            if value_field(ui, Some(&request.schema), &mut text, &accessible, label.id) {
                state.set_command_draft(context.device_id, &key, text.clone());
            }
            payload = command_payload(command, &text);
        }
        let invoke = ui
            .add_enabled(payload.is_ok(), egui::Button::new("Invoke"))
            .on_hover_text(format!("Call {method} on the device"));
        let invoke_label = format!("Invoke {method}");
        let enabled = payload.is_ok();
        invoke
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, &invoke_label));
        if invoke.clicked()
            && let Ok(payload) = &payload
        {
            intents.push(Intent::InvokeMethod {
                device_id: context.device_id.to_owned(),
                method: method.clone(),
                payload: payload.clone(),
                response_timeout: COMMAND_TIMEOUT,
            });
        }
    });
    if let Err(error) = &payload {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("{}: {error}", key.describe()),
        );
    }
    command_answer_ui(ui, context, &method);
}

/// The free form: a component (or the default one), a command name and a JSON payload,
/// then the device's last answer to that command.
fn command_form_ui(
    ui: &mut Ui,
    context: &PlugAndPlayContext<'_>,
    view: &PlugAndPlayView,
    state: &mut PlugAndPlayState,
    intents: &mut Vec<Intent>,
) {
    ui.label(RichText::new("Invoke a command").strong())
        .on_hover_text(
            "Call a command of a component as a direct method (component*command), without a model",
        );
    let form = &mut state.command_form;
    egui::Grid::new("pnp-command-form")
        .num_columns(2)
        .show(ui, |ui| {
            let label = ui.label("Component");
            let selected = form
                .component
                .clone()
                .unwrap_or_else(|| "default component".into());
            egui::ComboBox::from_id_salt("pnp-command-component")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.component, None, "default component");
                    for name in view.component_names() {
                        ui.selectable_value(&mut form.component, Some(name.to_owned()), name);
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Command");
            ui.add(egui::TextEdit::singleline(&mut form.command).desired_width(220.0))
                .labelled_by(label.id);
            ui.end_row();
            ui.label("Payload");
            code_field(ui, &mut form.payload, 2, "Command payload")
                .on_hover_text("JSON; leave empty to send no payload");
            ui.end_row();
        });
    let call = form.to_call();
    let invoke = ui
        .add_enabled(call.is_ok(), egui::Button::new("Invoke command"))
        .on_hover_text("Call the command on the device through the hub");
    if invoke.clicked()
        && let Ok((method, payload)) = &call
    {
        intents.push(Intent::InvokeMethod {
            device_id: context.device_id.to_owned(),
            method: method.clone(),
            payload: payload.clone(),
            response_timeout: COMMAND_TIMEOUT,
        });
    }
    match &call {
        Err(error) if !form.command.trim().is_empty() => {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        Err(_) => {}
        Ok((method, _)) => command_answer_ui(ui, context, method),
    }
}

/// The device's last answer to `method`: status and the response, pretty-printed.
fn command_answer_ui(ui: &mut Ui, context: &PlugAndPlayContext<'_>, method: &str) {
    let Some(call) = context.calls.latest(context.device_id, method) else {
        return;
    };
    match &call.state {
        MethodCallState::Pending => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("{method}: waiting for the device…"));
            });
        }
        MethodCallState::Answered {
            status,
            payload,
            latency,
        } => {
            ui.label(format!(
                "{method} at {}: status {status} in {} ms",
                call.time,
                latency.as_millis()
            ));
            let text = serde_json::to_string_pretty(payload).unwrap_or_default();
            json_block(ui, &format!("Response of {method}"), &text);
        }
        MethodCallState::Failed(error) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("{method} at {} failed: {error}", call.time),
            );
        }
    }
}
