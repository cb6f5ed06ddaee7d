//! The status bar (very bottom): which hub, whether connected, how many devices are
//! listed, how many simulated devices run, and the last error.

use egui::{Color32, RichText, Ui};

/// How the hub connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubStatus {
    /// Connecting to this hub.
    Connecting(String),
    /// The embedded hub is loading its store of this many devices (when known).
    OpeningLocal(Option<u64>),
    /// Connected.
    Connected {
        /// The hub's host name.
        host_name: String,
        /// Whether it is the embedded local hub.
        embedded: bool,
    },
    /// Not connected, and why.
    Failed(String),
    /// Not connected to anything.
    Disconnected,
}

impl HubStatus {
    /// What is being waited for, while connecting: "connecting to HOST…" or "opening the
    /// local hub (100000 devices)…".
    pub fn waiting_text(&self) -> Option<String> {
        match self {
            HubStatus::Connecting(hub) => Some(format!("connecting to {hub}…")),
            HubStatus::OpeningLocal(Some(devices)) => {
                Some(format!("opening the local hub ({devices} devices)…"))
            }
            HubStatus::OpeningLocal(None) => Some("opening the local hub…".to_owned()),
            _ => None,
        }
    }
}

/// What the status bar shows.
pub struct StatusLine<'a> {
    /// The hub.
    pub hub: &'a HubStatus,
    /// Why the connected hub did not answer the last request, until one succeeds.
    pub unreachable: Option<&'a str>,
    /// Devices listed.
    pub devices: usize,
    /// Simulated devices running.
    pub simulated: usize,
    /// The last error, if any.
    pub last_error: Option<&'a str>,
}

/// Draws the status bar.
pub fn status_bar_ui(ui: &mut Ui, status: &StatusLine<'_>) {
    ui.horizontal(|ui| {
        let (dot, text) = match status.hub {
            HubStatus::Connecting(_) | HubStatus::OpeningLocal(_) => (
                Color32::from_rgb(220, 170, 40),
                status.hub.waiting_text().unwrap_or_default(),
            ),
            HubStatus::Connected {
                host_name,
                embedded: true,
            } => (
                Color32::from_rgb(40, 170, 70),
                format!("embedded local hub ({host_name})"),
            ),
            HubStatus::Connected { host_name, .. } => {
                (Color32::from_rgb(40, 170, 70), host_name.clone())
            }
            HubStatus::Failed(_) => (ui.visuals().error_fg_color, "not connected".into()),
            HubStatus::Disconnected => (ui.visuals().weak_text_color(), "not connected".into()),
        };
        let dot = if status.unreachable.is_some() {
            Color32::from_rgb(220, 170, 40)
        } else {
            dot
        };
        ui.label(RichText::new("•").size(20.0).color(dot));
        match status.unreachable {
            Some(why) => {
                ui.label(format!("{text}: not answering"))
                    .on_hover_text(why);
            }
            None => {
                ui.label(text);
            }
        }
        ui.separator();
        ui.label(format!("{} devices", status.devices));
        if status.simulated > 0 {
            ui.separator();
            ui.label(format!("{} simulated", status.simulated));
        }
        if let Some(error) = status.last_error {
            ui.separator();
            let short = crate::explorer::text::cut(error.to_owned(), 140);
            ui.colored_label(ui.visuals().error_fg_color, short)
                .on_hover_text(error);
        }
    });
}
