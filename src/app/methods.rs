//! The direct-methods panel (right, "Methods" tab): invoke a method on the selected
//! device with a JSON payload and timeout, and see status, payload and latency of the
//! recent calls to it.

use std::time::Duration;

use egui::{RichText, Ui};
use serde_json::Value;

use super::diff_view::short;
use super::intent::Intent;
use crate::explorer::{MethodCallState, MethodCalls};

/// The panel's own state: what is being typed.
#[derive(Debug)]
pub struct MethodsPanel {
    method: String,
    payload: String,
    timeout_secs: u32,
    error: Option<String>,
}

impl Default for MethodsPanel {
    fn default() -> Self {
        MethodsPanel {
            method: "reboot".into(),
            payload: "{}".into(),
            timeout_secs: 30,
            error: None,
        }
    }
}

impl MethodsPanel {
    /// Draws the panel for `device_id`.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        device_id: &str,
        calls: &MethodCalls,
        intents: &mut Vec<Intent>,
    ) {
        egui::Grid::new("method-form")
            .num_columns(2)
            .show(ui, |ui| {
                let label = ui.label("Method");
                ui.add(egui::TextEdit::singleline(&mut self.method).desired_width(220.0))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Payload");
                ui.add(
                    egui::TextEdit::multiline(&mut self.payload)
                        .code_editor()
                        .desired_rows(3)
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Response timeout");
                ui.add(
                    egui::DragValue::new(&mut self.timeout_secs)
                        .range(5..=300)
                        .suffix(" s"),
                )
                .labelled_by(label.id)
                .on_hover_text("How long the hub waits for the device (5 to 300 s)");
                ui.end_row();
            });
        if ui
            .button("Invoke")
            .on_hover_text("Call the method on the device through the hub")
            .clicked()
        {
            self.error = None;
            let method = self.method.trim().to_owned();
            match serde_json::from_str::<Value>(&self.payload) {
                _ if method.is_empty() => self.error = Some("give the method's name".into()),
                Ok(payload) => intents.push(Intent::InvokeMethod {
                    device_id: device_id.to_owned(),
                    method,
                    payload,
                    response_timeout: Duration::from_secs(u64::from(self.timeout_secs)),
                }),
                Err(error) => self.error = Some(format!("the payload is not valid JSON: {error}")),
            }
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.separator();
        ui.label(RichText::new("Recent calls").strong());
        egui::ScrollArea::vertical()
            .id_salt("method-calls")
            .show(ui, |ui| {
                let mut any = false;
                for call in calls.for_device(device_id) {
                    any = true;
                    let outcome = match &call.state {
                        MethodCallState::Pending => "waiting for the device…".to_owned(),
                        MethodCallState::Answered {
                            status,
                            payload,
                            latency,
                        } => format!(
                            "status {status} in {} ms: {}",
                            latency.as_millis(),
                            short(payload)
                        ),
                        MethodCallState::Failed(error) => format!("failed: {error}"),
                    };
                    let text = format!(
                        "{} {}({}) → {outcome}",
                        call.time,
                        call.method,
                        short(&call.payload)
                    );
                    let rich = RichText::new(text).monospace();
                    match call.state {
                        MethodCallState::Failed(_) => {
                            ui.colored_label(ui.visuals().error_fg_color, rich)
                        }
                        _ => ui.label(rich),
                    };
                }
                if !any {
                    ui.weak("No calls to this device yet.");
                }
            });
    }
}
