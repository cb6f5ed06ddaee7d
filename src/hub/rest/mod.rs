//! The service REST API of the local hub (api-version 2021-04-12), as Azure IoT Hub
//! serves it: device and module identities, device and module twins, queries, direct
//! methods, cloud-to-device messages, jobs and Plug and Play digital twins. Every route is
//! behind SAS authentication, and Azure's routes need an `api-version`; every error is
//! Azure's error JSON.
//!
//! [`router`] builds the routes over a [`HubState`], so tests can drive it with
//! `oneshot()` and the hub can serve it over plain TCP or TLS alike.

mod api_version;
mod auth;
mod cloud_to_device;
mod devices;
mod digital_twins;
mod error;
mod extract;
mod jobs;
mod keys;
mod methods;
mod modules;
mod query;
mod telemetry_stream;
mod twins;

use axum::Router;
use axum::routing::{delete, get, post};

pub use super::state::HubState;
use super::websocket;

/// The service API routes.
pub fn router(state: HubState) -> Router {
    Router::new()
        // The Node.js SDK asks for `/devices/`, others for `/devices`.
        .route("/devices", get(devices::list_devices))
        .route("/devices/", get(devices::list_devices))
        .route(
            "/devices/{id}",
            get(devices::get_device)
                .put(devices::put_device)
                .delete(devices::delete_device),
        )
        // Azure IoT Explorer writes `deviceBound`, other senders `devicebound`.
        .route(
            "/devices/{id}/messages/deviceBound",
            post(cloud_to_device::send_message),
        )
        .route(
            "/devices/{id}/messages/devicebound",
            post(cloud_to_device::send_message),
        )
        .route(
            "/devices/{id}/commands",
            delete(cloud_to_device::purge_queue),
        )
        .route("/devices/{id}/modules", get(modules::list_modules))
        .route(
            "/devices/{id}/modules/{mid}",
            get(modules::get_module)
                .put(modules::put_module)
                .delete(modules::delete_module),
        )
        .route("/devices/query", post(query::query_twins))
        .route("/devices/keys/regenerate", post(keys::regenerate_keys))
        .route(
            "/twins/{id}",
            get(twins::get_twin)
                .patch(twins::patch_twin)
                .put(twins::replace_twin),
        )
        .route("/twins/{id}/methods", post(methods::invoke_method))
        .route(
            "/twins/{id}/modules/{mid}",
            get(modules::get_module_twin)
                .patch(modules::patch_module_twin)
                .put(modules::replace_module_twin),
        )
        .route(
            "/twins/{id}/modules/{mid}/methods",
            post(methods::invoke_module_method),
        )
        .route(
            "/digitaltwins/{id}",
            get(digital_twins::get_digital_twin).patch(digital_twins::patch_digital_twin),
        )
        .route(
            "/digitaltwins/{id}/commands/{command}",
            post(digital_twins::invoke_command),
        )
        .route(
            "/digitaltwins/{id}/components/{component}/commands/{command}",
            post(digital_twins::invoke_command),
        )
        .route("/jobs/v2/query", get(jobs::query_jobs))
        .route("/jobs/v2/{id}", get(jobs::get_job).put(jobs::create_job))
        .route("/jobs/v2/{id}/cancel", post(jobs::cancel_job))
        // Azure's routes need an api-version; this hub's own routes below do not.
        .route_layer(axum::middleware::from_fn(api_version::require_api_version))
        .route(
            "/twinlens/devices/{id}/telemetry",
            get(devices::get_telemetry),
        )
        .route(
            "/twinlens/telemetry/stream",
            get(telemetry_stream::stream_telemetry),
        )
        .fallback(error::unknown_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_service_token,
        ))
        // Devices authenticate in their MQTT CONNECT, not with a service token.
        .route(websocket::PATH, get(websocket::upgrade))
        .with_state(state)
}
