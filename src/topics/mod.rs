//! The IoT Hub device MQTT (3.1.1) vocabulary: every `$iothub/...` and `devices/...` topic,
//! every SUBSCRIBE filter and the CONNECT username, formatted *and* parsed in one place.
//!
//! The simulated device formats what it publishes and parses what it receives with this
//! module; the local hub does the reverse with the same code, so the two sides cannot drift.
//! It is pure: no I/O, no MQTT packets, no sessions. Which topics a connection may use and
//! what the hub answers are the callers' business.
//!
//! # Layout
//! - [`DeviceTopic`] / [`parse_device_topic`]: what a device publishes (twin GET, reported
//!   patch, method response, telemetry).
//! - [`HubTopic`] / [`parse_hub_topic`]: what the hub publishes (twin response, desired
//!   patch, method request, cloud-to-device message).
//! - [`Subscription`] / [`parse_subscription`]: the filters IoT Hub allows.
//! - [`MqttUsername`]: the CONNECT username; [`API_VERSION`] is what the device announces.
//! - [`RequestId`], [`MethodName`]: values echoed into topics, validated on construction.
//! - [`TopicError`]: every refusal, naming the input and the fix.
//!
//! # Encoding rules (where Azure's documentation is silent, the SDKs decide)
//! - **`$rid` is opaque and verbatim.** It is neither decoded nor encoded: the hub echoes
//!   the exact text the client sent (a UUID from Python and Node, a counter from C).
//! - **Device and module ids are verbatim** in topics and in the username. IoT Hub does not
//!   percent-decode them; the Python SDK stopped encoding them for that reason (its
//!   `mqtt_topic_iothub.py` and wiki page "URL-Encoding (MQTT)"), and the C SDK never did.
//!   An id containing `+` or `#` therefore cannot appear in a topic — MQTT reserves them as
//!   wildcards — so such devices can use twins and methods but not telemetry or
//!   cloud-to-device messages, exactly as on Azure (azure-docs issue 16302).
//! - **Method names are verbatim** (IoT Hub puts them in the topic as given).
//! - **Property bags are percent-encoded** name/value pairs: formatted with everything but
//!   RFC 3986 unreserved characters encoded (Python's `quote(safe="")`), decoded leniently
//!   because the C SDK sends values unencoded by default.
//! - **`$iothub` topics are case-sensitive** and need `/?` before their parameters, which
//!   may come in any order; unknown parameters are ignored.

mod device;
mod error;
mod hub;
mod ids;
mod messages;
mod params;
mod subscription;
mod username;

pub use device::{DeviceTopic, parse_device_topic};
pub use error::TopicError;
pub use hub::{HubTopic, parse_hub_topic};
pub use ids::{MethodName, RequestId};
pub use messages::MessageProperty;
pub use subscription::{Subscription, parse_subscription};
pub use username::{API_VERSION, MqttUsername};

#[cfg(test)]
mod round_trips;
