//! The twinlens binary's own modules (not part of the library):
//!
//! - [`args`]: the command line (clap), with its checks.
//! - [`explorer_command`]: the explorer window (the default command).
//! - [`diff_command`], [`export_command`], [`import_command`]: snapshots from the
//!   command line.
//! - [`send_command`], [`monitor_command`]: cloud-to-device messages and live
//!   telemetry from the command line.
//! - [`hub_client`]: the service client those commands build from their options.
//!
//! `main.rs` runs `twinlens hub` and `twinlens simulate` itself.

pub mod args;
pub mod diff_command;
pub mod explorer_command;
pub mod export_command;
pub mod hub_client;
pub mod import_command;
pub mod monitor_command;
pub mod send_command;

pub use args::{Cli, Command, HubArgs, SimulateArgs};
