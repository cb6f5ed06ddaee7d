//! The twin document itself: identity fields, tags, desired and reported properties,
//! and the twin-wide `version`/`etag`. Writes live in `service_write` (tags and desired,
//! from the service) and `reported_write` (reported, from the device); JSON views in
//! `codec`. No clock here: every write takes `now`.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::TwinError;
use super::section::PropertySection;

/// Whether the device may connect, as set in the identity registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DeviceStatus {
    /// The device may connect (the default for new devices).
    #[default]
    Enabled,
    /// The device is refused.
    Disabled,
}

impl DeviceStatus {
    /// IoT Hub's spelling: `"enabled"` / `"disabled"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Enabled => "enabled",
            DeviceStatus::Disabled => "disabled",
        }
    }

    /// Reads IoT Hub's spelling back (any letter case).
    pub fn from_name(name: &str) -> Option<Self> {
        [DeviceStatus::Enabled, DeviceStatus::Disabled]
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(name))
    }
}

/// Whether the device currently has a live connection to the hub.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Connected now.
    Connected,
    /// Not connected (the default for new devices).
    #[default]
    Disconnected,
}

impl ConnectionState {
    /// IoT Hub's spelling: `"Connected"` / `"Disconnected"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connected => "Connected",
            ConnectionState::Disconnected => "Disconnected",
        }
    }

    /// Reads IoT Hub's spelling back (any letter case; the guide writes `"connected"`).
    pub fn from_name(name: &str) -> Option<Self> {
        [ConnectionState::Connected, ConnectionState::Disconnected]
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(name))
    }
}

/// How the device authenticates, mirrored from its identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AuthenticationType {
    /// Shared access signatures from symmetric keys (the default).
    #[default]
    Sas,
    /// A self-signed X.509 certificate, matched by thumbprint.
    SelfSigned,
    /// An X.509 certificate issued by a registered CA.
    CertificateAuthority,
    /// No authentication configured.
    None,
}

impl AuthenticationType {
    /// IoT Hub's spelling: `"sas"`, `"selfSigned"`, `"certificateAuthority"`, `"none"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationType::Sas => "sas",
            AuthenticationType::SelfSigned => "selfSigned",
            AuthenticationType::CertificateAuthority => "certificateAuthority",
            AuthenticationType::None => "none",
        }
    }

    /// Reads IoT Hub's spelling back (any letter case).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            AuthenticationType::Sas,
            AuthenticationType::SelfSigned,
            AuthenticationType::CertificateAuthority,
            AuthenticationType::None,
        ]
        .into_iter()
        .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }
}

/// The certificate thumbprints of a self-signed X.509 device (`null` otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct X509Thumbprint {
    /// `primaryThumbprint`.
    pub primary_thumbprint: Option<String>,
    /// `secondaryThumbprint`.
    pub secondary_thumbprint: Option<String>,
}

/// Device capabilities shown on the twin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// `iotEdge`: whether the device is an IoT Edge device.
    pub iot_edge: bool,
}

/// What the hub pushes to the device after a service write touched desired properties,
/// on `$iothub/twin/PATCH/properties/desired/?$version={version}`.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredChange {
    /// The new desired `$version` (also inside `notification`).
    pub version: u64,
    /// The message body, `$version` included.
    pub notification: Value,
}

/// The root fields of a device or module twin, in IoT Hub's spelling.
pub const ROOT_FIELDS: [&str; 19] = [
    "deviceId",
    "moduleId",
    "etag",
    "deviceEtag",
    "version",
    "status",
    "statusReason",
    "statusUpdateTime",
    "connectionState",
    "lastActivityTime",
    "cloudToDeviceMessageCount",
    "authenticationType",
    "x509Thumbprint",
    "modelId",
    "capabilities",
    "deviceScope",
    "parentScopes",
    "tags",
    "properties",
];

/// Root fields [`Twin`] keeps as they come, in `other_fields`, without interpreting them.
pub(super) const UNINTERPRETED_ROOT_FIELDS: [&str; 3] = ["moduleId", "deviceScope", "parentScopes"];

/// A device twin, as IoT Hub keeps it.
///
/// Identity fields are plain public fields the hub keeps in step with the registry;
/// tags and properties change only through the `apply_*` methods, which enforce IoT
/// Hub's rules and bookkeeping (`$version`, `$metadata`, `version`, `etag`).
#[derive(Debug, Clone, PartialEq)]
pub struct Twin {
    /// `deviceId`.
    pub device_id: String,
    /// `etag` of the twin; see [`etag_for_version`].
    pub etag: String,
    /// `deviceEtag`: the identity's etag, when the hub tracks one.
    pub device_etag: Option<String>,
    /// `version`: +1 per accepted twin write.
    pub version: u64,
    /// `status`.
    pub status: DeviceStatus,
    /// `statusReason`, omitted when `None`.
    pub status_reason: Option<String>,
    /// `statusUpdateTime`; `None` prints as `0001-01-01T00:00:00Z`.
    pub status_update_time: Option<DateTime<Utc>>,
    /// `connectionState`.
    pub connection_state: ConnectionState,
    /// `lastActivityTime`; `None` prints as `0001-01-01T00:00:00Z`.
    pub last_activity_time: Option<DateTime<Utc>>,
    /// `cloudToDeviceMessageCount`.
    pub cloud_to_device_message_count: u64,
    /// `authenticationType`.
    pub authentication_type: AuthenticationType,
    /// `x509Thumbprint`.
    pub x509_thumbprint: X509Thumbprint,
    /// `modelId` (IoT Plug and Play), `""` when none.
    pub model_id: String,
    /// `capabilities`.
    pub capabilities: Capabilities,
    /// Top-level fields this model does not interpret (`moduleId`, `configurations`,
    /// `deviceScope`, `parentScopes`, ...), kept so imported twins survive a round trip.
    pub other_fields: Map<String, Value>,
    /// `tags`; `None` until first written (a new twin has no `tags` key).
    pub(super) tags: Option<Map<String, Value>>,
    pub(super) desired: PropertySection,
    pub(super) reported: PropertySection,
}

static NO_TAGS: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

impl Twin {
    /// The twin IoT Hub creates with a device: version 1, no tags, empty desired and
    /// reported sections at `$version` 1 stamped `now`, enabled, disconnected.
    pub fn new(device_id: impl Into<String>, now: DateTime<Utc>) -> Twin {
        Twin {
            device_id: device_id.into(),
            etag: etag_for_version(1),
            device_etag: None,
            version: 1,
            status: DeviceStatus::Enabled,
            status_reason: None,
            status_update_time: None,
            connection_state: ConnectionState::Disconnected,
            last_activity_time: None,
            cloud_to_device_message_count: 0,
            authentication_type: AuthenticationType::Sas,
            x509_thumbprint: X509Thumbprint::default(),
            model_id: String::new(),
            capabilities: Capabilities::default(),
            other_fields: Map::new(),
            tags: None,
            desired: PropertySection::new(now),
            reported: PropertySection::new(now),
        }
    }

    /// The tags (empty when none were ever written).
    pub fn tags(&self) -> &Map<String, Value> {
        self.tags.as_ref().unwrap_or(&NO_TAGS)
    }

    /// The desired properties, without `$metadata` and `$version`.
    pub fn desired(&self) -> &Map<String, Value> {
        self.desired.members()
    }

    /// The reported properties, without `$metadata` and `$version`.
    pub fn reported(&self) -> &Map<String, Value> {
        self.reported.members()
    }

    /// The desired `$version`, which devices compare against notifications.
    pub fn desired_version(&self) -> u64 {
        self.desired.version()
    }

    /// The reported `$version`, returned to the device after each reported patch.
    pub fn reported_version(&self) -> u64 {
        self.reported.version()
    }

    /// The twin `version` the next accepted write will produce; checked before any
    /// part of a write is committed.
    pub(super) fn next_version(&self) -> Result<u64, TwinError> {
        self.version
            .checked_add(1)
            .ok_or(TwinError::VersionExhausted)
    }

    /// Records that a write was committed: moves `version` and `etag` together.
    pub(super) fn set_version(&mut self, version: u64) {
        self.version = version;
        self.etag = etag_for_version(version);
    }
}

/// The etag for a twin `version`: base64 of its big-endian bytes, so version 1 is
/// `"AAAAAAAAAAE="` like a new twin on IoT Hub, and every write changes it.
pub fn etag_for_version(version: u64) -> String {
    STANDARD.encode(version.to_be_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn new_twin_matches_a_fresh_iot_hub_twin() {
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let twin = Twin::new("dev1", now);
        assert_eq!(twin.etag, "AAAAAAAAAAE=");
        assert_eq!(twin.version, 1);
        assert_eq!(twin.desired_version(), 1);
        assert_eq!(twin.reported_version(), 1);
        assert!(twin.tags().is_empty() && twin.desired().is_empty() && twin.reported().is_empty());
        assert_eq!(twin.status, DeviceStatus::Enabled);
        assert_eq!(twin.connection_state, ConnectionState::Disconnected);
    }

    #[test]
    fn etag_encodes_the_version() {
        assert_eq!(etag_for_version(1), "AAAAAAAAAAE=");
        assert_eq!(etag_for_version(2), "AAAAAAAAAAI=");
        assert_eq!(etag_for_version(7), "AAAAAAAAAAc=");
    }

    #[test]
    fn exhausted_version_refuses_to_advance() {
        let mut twin = Twin::new("dev1", Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
        twin.version = u64::MAX;
        assert_eq!(twin.next_version(), Err(TwinError::VersionExhausted));
    }

    #[test]
    fn names_round_trip_in_any_case() {
        assert_eq!(
            DeviceStatus::from_name("Disabled"),
            Some(DeviceStatus::Disabled)
        );
        assert_eq!(
            ConnectionState::from_name("connected"),
            Some(ConnectionState::Connected)
        );
        assert_eq!(
            AuthenticationType::from_name("selfsigned"),
            Some(AuthenticationType::SelfSigned)
        );
        for kind in [
            AuthenticationType::Sas,
            AuthenticationType::CertificateAuthority,
            AuthenticationType::None,
        ] {
            assert_eq!(AuthenticationType::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(DeviceStatus::from_name("paused"), None);
    }
}
