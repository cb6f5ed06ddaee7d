//! The twin as the hub has it (middle): read-only, highlighted, in collapsible sections
//! (identity, tags, desired, reported), with `$metadata` hidden unless asked for. The
//! section texts are rebuilt only when the twin changes, not every frame. Above it, the
//! IoT Plug and Play model the device announced, and the device's modules, which open
//! their own twins.

use egui::{RichText, Ui};
use serde_json::{Map, Value};

use super::intent::Intent;
use super::json_view::json_block;
use super::plug_and_play::model_line;
use crate::explorer::{OpenTwin, Requested, twin_key};
use crate::service::DeviceTwin;
use crate::twin::strip_metadata;

/// Fields shown in the identity section, in this order.
const IDENTITY_FIELDS: [&str; 10] = [
    "deviceId",
    "moduleId",
    "status",
    "connectionState",
    "lastActivityTime",
    "etag",
    "version",
    "authenticationType",
    "cloudToDeviceMessageCount",
    "modelId",
];

/// The twin view's own state.
#[derive(Debug, Default)]
pub struct TwinView {
    shown_generation: Option<(u64, bool)>,
    sections: Vec<(&'static str, String)>,
}

impl TwinView {
    /// Draws the open twin (a device's, or a module's), with the modules of its device
    /// (`modules`) to open theirs.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        open: &OpenTwin,
        modules: Option<(&str, &Requested<Vec<String>>)>,
        show_metadata: bool,
        intents: &mut Vec<Intent>,
    ) {
        let (twin, generation) = (open.twin(), open.generation());
        let Some(device_id) = open.device_id() else {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| {
                ui.weak("Select a device to see its twin.");
            });
            return;
        };
        ui.horizontal(|ui| {
            ui.heading(twin_key::describe(device_id));
            // Background refreshes keep the twin shown; only a first read spins.
            if twin.is_pending() && twin.latest().is_none() {
                ui.spinner();
            }
            if ui
                .button("Refresh")
                .on_hover_text("Read the twin again now (F5)")
                .clicked()
            {
                intents.push(Intent::RefreshTwin);
            }
        });
        modules_ui(ui, device_id, modules, intents);
        if let Some(error) = twin.error() {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let Some(value) = twin.latest() else {
            if twin.is_pending() {
                ui.weak("Reading the twin…");
            }
            return;
        };
        let model_id = value
            .other
            .get("modelId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        model_line(ui, model_id);
        if self.shown_generation != Some((generation, show_metadata)) {
            self.sections = sections(value, show_metadata);
            self.shown_generation = Some((generation, show_metadata));
        }
        egui::ScrollArea::vertical()
            .id_salt("twin-view")
            .auto_shrink(false)
            .show(ui, |ui| {
                for (title, text) in &self.sections {
                    egui::CollapsingHeader::new(RichText::new(*title).strong())
                        .id_salt(*title)
                        .default_open(true)
                        .show(ui, |ui| json_block(ui, title, text));
                }
            });
    }
}

/// The device's twin and its modules' twins, one click to open each; the open one is
/// selected.
fn modules_ui(
    ui: &mut Ui,
    open: &str,
    modules: Option<(&str, &Requested<Vec<String>>)>,
    intents: &mut Vec<Intent>,
) {
    let (device_id, _) = twin_key::split(open);
    let Some((listed, modules)) = modules.filter(|(listed, _)| *listed == device_id) else {
        return;
    };
    let ids = modules.latest().map_or(&[][..], Vec::as_slice);
    if ids.is_empty() {
        if let Some(error) = modules.error() {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("Modules ({})", ids.len()))
            .on_hover_text("Each module (an IoT Edge module, for one) has a twin of its own");
        if ui
            .selectable_label(open == listed, "device twin")
            .on_hover_text(format!("The twin of the device {listed}"))
            .clicked()
        {
            intents.push(Intent::SelectDevice(listed.to_owned()));
        }
        for module_id in ids {
            let key = twin_key::module_key(listed, module_id);
            if ui
                .selectable_label(open == key, module_id)
                .on_hover_text(format!("Open the twin of module {module_id}"))
                .clicked()
            {
                intents.push(Intent::SelectDevice(key));
            }
        }
    });
}

fn sections(twin: &DeviceTwin, show_metadata: bool) -> Vec<(&'static str, String)> {
    let document = twin.to_json();
    let identity: Map<String, Value> = IDENTITY_FIELDS
        .iter()
        .filter_map(|field| {
            document
                .get(*field)
                .map(|value| ((*field).to_owned(), value.clone()))
        })
        .collect();
    let section = |members: Option<&Map<String, Value>>| {
        let mut value = Value::Object(members.cloned().unwrap_or_default());
        if !show_metadata {
            strip_metadata(&mut value);
        }
        serde_json::to_string_pretty(&value).unwrap_or_default()
    };
    let properties = twin.properties.as_ref();
    vec![
        (
            "Identity",
            serde_json::to_string_pretty(&identity).unwrap_or_default(),
        ),
        ("Tags", section(twin.tags.as_ref())),
        (
            "Desired properties",
            section(properties.map(|p| &p.desired)),
        ),
        (
            "Reported properties",
            section(properties.map(|p| &p.reported)),
        ),
    ]
}
