//! Integration tests, linked into one test binary: each module drives real servers
//! (the `twinlens hub` binary or an in-process hub) on loopback ports chosen by the OS.

#![allow(clippy::unwrap_used)]

mod common;

mod diff_cli;
mod export_cli;
mod hub_c2d;
mod hub_durability;
mod hub_hardening;
mod hub_jobs;
mod hub_modules;
mod hub_mqtt;
mod hub_mqtt_sessions;
mod hub_pnp;
mod hub_rest;
mod hub_rest_clients;
mod hub_tls;
mod import_cli;
mod messages_cli;
mod sdk_conformance;
mod service_azure_shapes;
mod service_client;
mod simulate_cli;
mod simulated_device;
mod ui;
mod ui_plug_and_play;
mod worker;
