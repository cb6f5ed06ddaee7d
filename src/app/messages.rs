//! The Messages tab: send a cloud-to-device message to the open device (payload,
//! application properties, time to live, feedback asked for), see how many wait in its
//! queue and purge them, and follow what became of each message sent.

use egui::{RichText, Ui};

use super::intent::Intent;
use super::json_view::code_field;
use crate::explorer::sent_messages::{SentMessages, SentState};
use crate::service::{CloudMessage, new_message_id};

/// The feedback choices, as `iothub-ack` values (`None`: not set).
const ACK_MODES: [Option<&str>; 5] = [
    None,
    Some("none"),
    Some("positive"),
    Some("negative"),
    Some("full"),
];

/// The tab's own state: the message being written.
pub struct MessagesPanel {
    body: String,
    content_type: String,
    message_id: String,
    properties: Vec<(String, String)>,
    /// Seconds; 0 keeps the hub's default (an hour on IoT Hub).
    ttl_secs: u32,
    ack: Option<&'static str>,
}

impl Default for MessagesPanel {
    fn default() -> Self {
        Self {
            body: "{\n  \"command\": \"blink\"\n}".into(),
            content_type: "application/json".into(),
            message_id: String::new(),
            properties: Vec::new(),
            ttl_secs: 0,
            ack: None,
        }
    }
}

impl MessagesPanel {
    /// Draws the tab for `key` (a device id, or `d/m` for a module); `queued` is the
    /// twin's `cloudToDeviceMessageCount`, when read.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        key: &str,
        queued: Option<u64>,
        sent: &SentMessages,
        intents: &mut Vec<Intent>,
    ) {
        if crate::twin::key::split(key).1.is_some() {
            ui.weak(
                "IoT Hub sends modules no cloud-to-device messages; open the module's device \
                 to send it one.",
            );
            return;
        }
        ui.horizontal(|ui| {
            let queued = queued.map_or("?".to_owned(), |count| count.to_string());
            ui.label(format!("Queued for the device: {queued}"))
                .on_hover_text("Messages the hub holds until the device takes them (at most 50)");
            if ui
                .button("Purge queue")
                .on_hover_text("Delete every message waiting for this device")
                .clicked()
            {
                intents.push(Intent::PurgeCloudMessages(key.to_owned()));
            }
        });
        ui.separator();
        ui.label(RichText::new("New message").strong());
        code_field(ui, &mut self.body, 4, "Message payload");
        egui::Grid::new("c2d options")
            .num_columns(2)
            .show(ui, |ui| {
                let label = ui.label("Content type");
                ui.add(egui::TextEdit::singleline(&mut self.content_type).desired_width(200.0))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Message id");
                ui.add(
                    egui::TextEdit::singleline(&mut self.message_id)
                        .hint_text("a new id when empty")
                        .desired_width(200.0),
                )
                .labelled_by(label.id);
                ui.end_row();
                ui.label("Time to live");
                ui.add(
                    egui::DragValue::new(&mut self.ttl_secs)
                        .range(0..=172_800)
                        .custom_formatter(|value, _| match value as u32 {
                            0 => "hub default".into(),
                            secs => format!("{secs} s"),
                        }),
                )
                .on_hover_text("How long the hub keeps it for an offline device; 0 keeps the hub's default (one hour), at most two days");
                ui.end_row();
                ui.label("Feedback");
                egui::ComboBox::from_id_salt("c2d ack")
                    .selected_text(self.ack.unwrap_or("not asked"))
                    .show_ui(ui, |ui| {
                        for mode in ACK_MODES {
                            ui.selectable_value(&mut self.ack, mode, mode.unwrap_or("not asked"));
                        }
                    });
                ui.end_row();
            });
        self.properties_ui(ui);
        if ui
            .button("Send message")
            .on_hover_text("Queue the message for the device (it gets it when connected)")
            .clicked()
        {
            intents.push(Intent::SendCloudMessage {
                device_id: key.to_owned(),
                message: Box::new(self.message()),
            });
        }
        ui.separator();
        ui.label(RichText::new("Sent").strong());
        history_ui(ui, key, sent);
    }

    fn properties_ui(&mut self, ui: &mut Ui) {
        ui.label("Application properties");
        let mut removed = None;
        egui::Grid::new("c2d properties")
            .num_columns(3)
            .show(ui, |ui| {
                for (index, (name, value)) in self.properties.iter_mut().enumerate() {
                    ui.add(
                        egui::TextEdit::singleline(name)
                            .hint_text("name")
                            .desired_width(120.0),
                    );
                    ui.add(
                        egui::TextEdit::singleline(value)
                            .hint_text("value")
                            .desired_width(180.0),
                    );
                    if ui
                        .small_button("Remove")
                        .on_hover_text("Remove this property")
                        .clicked()
                    {
                        removed = Some(index);
                    }
                    ui.end_row();
                }
            });
        if let Some(index) = removed {
            self.properties.remove(index);
        }
        if ui.small_button("Add property").clicked() {
            self.properties.push((String::new(), String::new()));
        }
    }

    /// The message as written; a new message id when none is given.
    fn message(&self) -> CloudMessage {
        let given = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        CloudMessage {
            body: self.body.clone().into_bytes(),
            message_id: given(&self.message_id).or_else(|| Some(new_message_id())),
            correlation_id: None,
            content_type: given(&self.content_type),
            content_encoding: Some("utf-8".into()),
            ack: self.ack.map(str::to_owned),
            time_to_live: (self.ttl_secs > 0)
                .then(|| std::time::Duration::from_secs(u64::from(self.ttl_secs))),
            properties: self
                .properties
                .iter()
                .filter(|(name, _)| !name.trim().is_empty())
                .map(|(name, value)| (name.trim().to_owned(), value.clone()))
                .collect(),
        }
    }
}

fn history_ui(ui: &mut Ui, key: &str, sent: &SentMessages) {
    let mut any = false;
    egui::ScrollArea::vertical()
        .id_salt("sent messages")
        .show(ui, |ui| {
            for message in sent.of_device(key) {
                any = true;
                let colour = match message.state {
                    SentState::Refused(_) => ui.visuals().error_fg_color,
                    _ => ui.visuals().text_color(),
                };
                ui.horizontal_wrapped(|ui| {
                    ui.monospace(message.sent_at.format("%H:%M:%S").to_string());
                    ui.monospace(&message.message_id);
                    ui.label(RichText::new(message.state.label()).color(colour));
                });
                ui.weak(&message.body);
            }
        });
    if !any {
        ui.weak("Nothing sent to this device yet.");
    }
}
