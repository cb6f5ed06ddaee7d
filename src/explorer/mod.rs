//! The explorer's state, free of egui and of I/O: what the window shows and edits
//! (the device table, the open twin and its edit, simulated devices, method calls, live
//! telemetry, sent cloud-to-device messages, the Plug and Play view and the DTDL models
//! loaded, the event log, saved connections) and the rules that change it. The panels in `crate::app`
//! draw this state and turn clicks into intents; the worker does the I/O. Keeping the
//! rules here lets them be tested without a window.

pub mod bulk_job;
pub mod connections;
pub mod device_modules;
pub mod device_table;
pub mod drift;
pub mod event_log;
pub mod list_query;
pub mod live_telemetry;
pub mod method_calls;
pub mod models;
pub mod open_twin;
pub mod plug_and_play;
pub mod request;
pub mod sent_messages;
pub mod simulation;
pub mod telemetry_history;
pub mod text;
pub mod twin_check;
pub mod twin_edit;
pub mod twin_key;

pub use connections::{ConnectionsError, SavedConnection};
pub use device_table::{DeviceTable, RowView, SortKey};
pub use drift::{DriftEntry, drift};
pub use event_log::{EventLog, LogLevel};
pub use list_query::{ListQuery, ListedRows, RowReader};
pub use method_calls::{MethodCall, MethodCallState, MethodCalls};
pub use open_twin::{AfterAnswer, NothingToSave, OpenTwin, TwinAnswer, TwinSave};
pub use request::{JobId, Requested};
pub use simulation::{LinkState, SimulatedDeviceView, Simulations};
pub use twin_edit::{EditCheck, EditError, TwinEdit};
