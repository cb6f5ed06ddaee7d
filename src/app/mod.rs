//! The egui explorer window. Panels live one per file in this folder; this module
//! owns the top-level [`ExplorerApp`] state and wires the panels together. Nothing
//! here performs I/O: panels read state and return intents.

/// The application name shown in the title bar and used for settings storage.
pub const APP_NAME: &str = "twinlens";

/// Top-level state of the explorer window.
#[derive(Default)]
pub struct ExplorerApp {}

impl ExplorerApp {
    /// Creates the explorer for a freshly created window.
    pub fn new(_creation: &eframe::CreationContext<'_>) -> Self {
        Self::default()
    }
}

impl eframe::App for ExplorerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        ui.heading(APP_NAME);
    }
}

/// Opens the explorer window and blocks until it is closed.
pub fn run() -> eframe::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(APP_NAME)
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    eframe::run_native(
        APP_NAME,
        options,
        Box::new(|creation| Ok(Box::new(ExplorerApp::new(creation)))),
    )
}
