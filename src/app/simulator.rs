//! The simulated-device panel (right, "Simulate" tab): connect the selected device as a
//! simulated device (announcing an IoT Plug and Play model id if one is given), switch
//! how it acknowledges desired properties and cloud-to-device messages, send a reported
//! patch, edit its method table and telemetry, and watch its live log.

use egui::{Color32, RichText, Ui};
use serde_json::Value;

use super::intent::Intent;
use super::json_view::code_field;
use crate::device::{
    CloudMessageHandling, DesiredAck, DeviceCommand, TelemetrySchedule, parse_method_table,
};
use crate::explorer::simulation::Direction;
use crate::explorer::{LinkState, SimulatedDeviceView};

/// The description of Plug and Play acknowledgements.
const PNP_DESCRIPTION: &str = "applied by twinlens";

/// What the model id field is for.
const MODEL_ID_HINT: &str = "IoT Plug and Play model (DTMI) announced when the device connects; the hub shows it as the twin's modelId";

/// The panel's own state (errors of what the user typed).
#[derive(Debug, Default)]
pub struct SimulatorPanel {
    reported_error: Option<String>,
    methods_error: Option<String>,
    telemetry_error: Option<String>,
}

impl SimulatorPanel {
    /// Draws the panel for `device_id`.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        device_id: &str,
        view: &mut SimulatedDeviceView,
        intents: &mut Vec<Intent>,
    ) {
        let model_id = view.model_id();
        ui.horizontal(|ui| {
            let running = view.link.is_running();
            let colour = match view.link {
                LinkState::Connected => Color32::from_rgb(40, 170, 70),
                LinkState::Failed(_) => ui.visuals().error_fg_color,
                _ => ui.visuals().weak_text_color(),
            };
            ui.label(RichText::new(format!("• {}", view.link.label())).color(colour));
            if running {
                if ui
                    .button("Disconnect")
                    .on_hover_text("Disconnect the simulated device")
                    .clicked()
                {
                    intents.push(Intent::StopSimulation(device_id.to_owned()));
                }
            } else if ui
                .add_enabled(model_id.is_ok(), egui::Button::new("Connect as device"))
                .on_hover_text(
                    "Fetch the device's key through the service API and connect it over MQTT",
                )
                .on_disabled_hover_text("Correct the model id, or clear it, first")
                .clicked()
            {
                intents.push(Intent::StartSimulation(device_id.to_owned()));
            }
            ui.weak(format!(
                "{} desired received, {} telemetry sent, {} C2D received",
                view.desired_received, view.telemetry_sent, view.cloud_messages_received
            ));
        });
        let running = view.link.is_running();
        ui.horizontal(|ui| {
            let label = ui.label("Model id");
            ui.add_enabled(
                !running,
                egui::TextEdit::singleline(&mut view.model_id_text)
                    .hint_text("none (e.g. dtmi:com:example:Thermostat;1)")
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id)
            .on_hover_text(MODEL_ID_HINT)
            .on_disabled_hover_text(format!("{MODEL_ID_HINT}. Disconnect to change it."));
        });
        // Checked again: the field may have changed since the button was drawn.
        if let Err(error) = view.model_id() {
            ui.colored_label(ui.visuals().error_fg_color, error.to_string());
        }
        if let LinkState::Failed(error) = &view.link {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let mut command = |command: DeviceCommand| {
            if running {
                intents.push(Intent::Simulation {
                    device_id: device_id.to_owned(),
                    command,
                });
            }
        };
        egui::ScrollArea::vertical()
            .id_salt("simulator")
            .max_height(ui.available_height() * 0.55)
            .show(ui, |ui| {
                egui::CollapsingHeader::new("Desired properties")
                    .default_open(true)
                    .show(ui, |ui| {
                        let mut changed = ui
                            .checkbox(&mut view.acknowledge_desired, "Acknowledge in reported")
                            .on_hover_text("Write each desired patch back into reported properties")
                            .changed();
                        ui.add_enabled_ui(view.acknowledge_desired, |ui| {
                            changed |= ui
                                .radio_value(&mut view.plug_and_play_ack, false, "Copy the values")
                                .changed();
                            changed |= ui
                                .radio_value(
                                    &mut view.plug_and_play_ack,
                                    true,
                                    "IoT Plug and Play envelope (value, ac, av, ad)",
                                )
                                .changed();
                        });
                        if changed {
                            command(DeviceCommand::SetDesiredAck(desired_ack(view)));
                        }
                    });
                egui::CollapsingHeader::new("Cloud-to-device messages")
                    .default_open(false)
                    .show(ui, |ui| {
                        let mut changed = false;
                        ui.horizontal(|ui| {
                            for handling in CloudMessageHandling::ALL {
                                changed |= ui
                                    .radio_value(
                                        &mut view.cloud_message_handling,
                                        handling,
                                        handling.label(),
                                    )
                                    .on_hover_text(match handling {
                                        CloudMessageHandling::Complete => {
                                            "Acknowledge each message (PUBACK): the hub removes it from the device's queue"
                                        }
                                        CloudMessageHandling::Ignore => {
                                            "Never acknowledge: messages stay queued and come again when the device reconnects"
                                        }
                                    })
                                    .changed();
                            }
                        });
                        if changed {
                            command(DeviceCommand::SetCloudMessageHandling(
                                view.cloud_message_handling,
                            ));
                        }
                    });
                egui::CollapsingHeader::new("Reported patch")
                    .default_open(true)
                    .show(ui, |ui| {
                        let field = code_field(ui, &mut view.reported_text, 3, "Reported patch");
                        if field.changed() {
                            self.reported_error = None;
                        }
                        if ui
                            .add_enabled(running, egui::Button::new("Send reported"))
                            .on_hover_text("Send this patch as the device (PATCH of reported properties)")
                            .on_disabled_hover_text("Connect the device first")
                            .clicked()
                        {
                            match serde_json::from_str::<Value>(&view.reported_text) {
                                Ok(patch @ Value::Object(_)) => {
                                    command(DeviceCommand::ReportPatch(patch));
                                }
                                Ok(_) => {
                                    self.reported_error =
                                        Some("a reported patch is a JSON object".into());
                                }
                                Err(error) => {
                                    self.reported_error = Some(format!("not valid JSON: {error}"));
                                }
                            }
                        }
                        show_error(ui, &self.reported_error);
                    });
                egui::CollapsingHeader::new("Method table")
                    .default_open(false)
                    .show(ui, |ui| {
                        ui.weak("Replies by method name (a component's command: \"component*command\"); \"*\" answers the rest.");
                        let field = code_field(ui, &mut view.methods_text, 5, "Method table");
                        if field.changed() {
                            self.methods_error = None;
                        }
                        if ui
                            .button("Apply method table")
                            .on_hover_text("Answer direct methods from this table from now on")
                            .clicked()
                        {
                            match parse_method_table(&view.methods_text) {
                                Ok(table) => command(DeviceCommand::SetMethods(table)),
                                Err(error) => self.methods_error = Some(error.to_string()),
                            }
                        }
                        show_error(ui, &self.methods_error);
                    });
                egui::CollapsingHeader::new("Send telemetry")
                    .default_open(false)
                    .show(ui, |ui| {
                        ui.weak("Placeholders: {{random MIN MAX}}, {{random_int MIN MAX}}, {{counter}}, {{timestamp}}, {{device_id}}");
                        code_field(ui, &mut view.telemetry_text, 2, "Telemetry template");
                        ui.horizontal(|ui| {
                            ui.label("every");
                            ui.add(
                                egui::DragValue::new(&mut view.telemetry_interval_secs)
                                    .range(0.1..=3600.0)
                                    .speed(0.1)
                                    .suffix(" s"),
                            );
                            let label = if view.telemetry_on { "Update telemetry" } else { "Start telemetry" };
                            if ui.add_enabled(running, egui::Button::new(label)).clicked() {
                                match telemetry_schedule(view) {
                                    Ok(schedule) => {
                                        self.telemetry_error = None;
                                        view.telemetry_on = true;
                                        command(DeviceCommand::StartTelemetry(schedule));
                                    }
                                    Err(error) => self.telemetry_error = Some(error),
                                }
                            }
                            if ui
                                .add_enabled(running && view.telemetry_on, egui::Button::new("Stop"))
                                .clicked()
                            {
                                view.telemetry_on = false;
                                command(DeviceCommand::StopTelemetry);
                            }
                        });
                        show_error(ui, &self.telemetry_error);
                    });
            });
        ui.separator();
        ui.label(RichText::new("Live log").strong());
        log_ui(ui, view);
    }
}

/// The acknowledgement mode the view asks for.
pub fn desired_ack(view: &SimulatedDeviceView) -> DesiredAck {
    match (view.acknowledge_desired, view.plug_and_play_ack) {
        (false, _) => DesiredAck::Off,
        (true, false) => DesiredAck::Copy,
        (true, true) => DesiredAck::PlugAndPlay {
            description: PNP_DESCRIPTION.into(),
        },
    }
}

/// The telemetry the view asks for, or why it cannot be sent.
pub fn telemetry_schedule(view: &SimulatedDeviceView) -> Result<TelemetrySchedule, String> {
    TelemetrySchedule::new(&view.telemetry_text, view.telemetry_interval_secs)
        .map_err(|error| error.to_string())
}

fn show_error(ui: &mut Ui, error: &Option<String>) {
    if let Some(error) = error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
}

fn log_ui(ui: &mut Ui, view: &SimulatedDeviceView) {
    let lines = view.log_lines();
    let (received, sent) = if ui.visuals().dark_mode {
        (
            Color32::from_rgb(120, 180, 250),
            Color32::from_rgb(120, 220, 120),
        )
    } else {
        (Color32::from_rgb(20, 90, 190), Color32::from_rgb(0, 120, 0))
    };
    egui::ScrollArea::vertical()
        .id_salt("simulator-log")
        .stick_to_bottom(true)
        .auto_shrink(false)
        .show_rows(ui, 16.0, lines.len(), |ui, range| {
            for line in lines.range(range) {
                let (arrow, colour) = match line.direction {
                    Direction::Received => ("⬇", received),
                    Direction::Sent => ("⬆", sent),
                    Direction::Link => ("•", ui.visuals().weak_text_color()),
                    Direction::Problem => ("!", ui.visuals().error_fg_color),
                };
                ui.label(
                    RichText::new(format!("{} {arrow} {}", line.time, line.text))
                        .monospace()
                        .color(colour),
                );
            }
        });
}
