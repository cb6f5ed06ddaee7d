//! # twinlens
//!
//! A desktop explorer for IoT Hub device twins, with an embedded IoT Hub-compatible
//! local hub so that it works offline with zero setup.
//!
//! # Layout
//!
//! - [`twin`] owns the twin document: merge patches, `$metadata`/`$version`
//!   bookkeeping, IoT Hub's validation limits, a structural JSON diff, and the IoT Plug
//!   and Play reading of a twin (components, acknowledgements, the digital twin and its
//!   JSON Patch). It is pure data logic: no I/O, no clock, no UI.
//! - [`auth`] owns connection strings, SAS tokens and the rules for device and module
//!   ids, both signing (clients) and verifying (the local hub), so the two sides can
//!   never drift apart.
//! - [`query`] owns the IoT Hub query language: a parser with positioned errors and an
//!   evaluator over twins in their service JSON shape.
//! - [`snapshot`] owns twin snapshot files (`docs/snapshot-format.md`): atomic,
//!   streaming writes, line-accurate reads, comparisons, and export from / import into
//!   a hub through the service client.
//! - [`topics`] owns the device MQTT vocabulary (`$iothub/...` topics, subscription
//!   filters, CONNECT usernames), formatted and parsed in one place for the simulated
//!   devices and the hub alike.
//! - [`mqtt_wire`] owns MQTT 3.1.1 packets on a socket: the codec with the fixed-header
//!   checks, and a packet stream whose buffers stay small, for the hub's device endpoint
//!   and the simulated devices alike.
//! - [`dtdl`] owns Digital Twins Definition Language (v2 and v3) interfaces: parsing
//!   model files, resolving `extends`, components and schemas into a device's view, and
//!   typed property values and command payloads checked against their schema. Pure: no
//!   I/O, no UI.
//! - [`device`] owns the simulated devices: an IoT Hub device client over MQTT with
//!   switchable behaviours (desired acknowledgement, IoT Plug and Play components
//!   included, method table, telemetry templates, completing or ignoring cloud-to-device
//!   messages) and an optional Plug and Play model id, used by the explorer and by
//!   `twinlens simulate`.
//! - [`hub`] is the embedded IoT Hub-compatible local hub: durable registry and
//!   cloud-to-device queues, service REST API (Plug and Play digital twins included),
//!   device MQTT endpoint, live telemetry.
//! - [`service`] is the client of the service REST API, for Azure IoT Hub and the local
//!   hub alike: identities, twins, paged queries, direct methods, jobs, cloud-to-device
//!   messages, and live telemetry behind a source trait, with SAS tokens renewed before
//!   expiry and retries on throttling.
//! - [`worker`] is the bridge between the UI thread and all I/O: commands in, events
//!   out, each request answered by a reply of its own kind, a repaint after every event.
//! - [`explorer`] owns the explorer's state and its rules (device table, the open twin
//!   with what is in flight for it, twin editing with conflicts, drift, simulated-device
//!   views, method calls, live telemetry and its charts, sent messages, the Plug and Play
//!   view and the DTDL models loaded, event log, saved connections), free of egui so
//!   they are tested without a window.
//! - [`backoff`] owns how long to wait before trying again (devices reconnecting,
//!   throttled service calls).
//! - [`error_text`] owns how errors read: every cause once, and shared advice.
//! - [`url_component`] owns the percent-encoding of URL components the Azure SDKs use
//!   (SAS fields, MQTT properties and username parameters, service API paths).
//! - [`app`] owns the egui user interface: one panel per file, drawing [`explorer`]
//!   state and returning intents; it never performs I/O itself.
//!
//! The binary's own modules (the command line and its subcommands) are under
//! `src/cli/`; `src/main.rs` parses the command line and starts the chosen role: the
//! explorer window (the default) or one of the headless subcommands.

pub mod app;
pub mod auth;
pub mod backoff;
pub mod device;
pub mod dtdl;
pub mod error_text;
pub mod explorer;
pub mod hub;
pub mod mqtt_wire;
pub mod query;
pub mod service;
pub mod snapshot;
pub mod topics;
pub mod twin;
pub mod url_component;
pub mod worker;
