//! JSON views of a twin: the service view (IoT Hub's exact shape, key names and key
//! order, as returned by `GET /twins/{id}`), its lossless inverse for the store and
//! snapshots, and the device view returned by the MQTT twin GET.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::document::{
    AuthenticationType, Capabilities, ConnectionState, DeviceStatus, ROOT_FIELDS, Twin,
    UNINTERPRETED_ROOT_FIELDS, X509Thumbprint,
};
use super::error::TwinError;
use super::limits::Section;
use super::path::JsonPath;
use super::section::PropertySection;
use super::timestamp::{format_optional_timestamp, parse_optional_timestamp};

/// Whether [`Twin`] interprets a top-level key; anything else lands in `other_fields`.
fn is_interpreted(key: &str) -> bool {
    ROOT_FIELDS.contains(&key) && !UNINTERPRETED_ROOT_FIELDS.contains(&key)
}

impl Twin {
    /// The service view, in the key order a real hub uses (`deviceId`, `etag`, ...,
    /// `version`, `tags`, `properties`, `capabilities`).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("deviceId".into(), self.device_id.clone().into());
        out.insert("etag".into(), self.etag.clone().into());
        if let Some(device_etag) = &self.device_etag {
            out.insert("deviceEtag".into(), device_etag.clone().into());
        }
        out.insert("status".into(), self.status.as_str().into());
        if let Some(reason) = &self.status_reason {
            out.insert("statusReason".into(), reason.clone().into());
        }
        out.insert(
            "statusUpdateTime".into(),
            format_optional_timestamp(self.status_update_time).into(),
        );
        out.insert(
            "connectionState".into(),
            self.connection_state.as_str().into(),
        );
        out.insert(
            "lastActivityTime".into(),
            format_optional_timestamp(self.last_activity_time).into(),
        );
        out.insert(
            "cloudToDeviceMessageCount".into(),
            self.cloud_to_device_message_count.into(),
        );
        out.insert(
            "authenticationType".into(),
            self.authentication_type.as_str().into(),
        );
        out.insert(
            "x509Thumbprint".into(),
            json!({
                "primaryThumbprint": self.x509_thumbprint.primary_thumbprint,
                "secondaryThumbprint": self.x509_thumbprint.secondary_thumbprint,
            }),
        );
        out.insert("modelId".into(), self.model_id.clone().into());
        out.insert("version".into(), self.version.into());
        if let Some(tags) = &self.tags {
            out.insert("tags".into(), Value::Object(tags.clone()));
        }
        out.insert(
            "properties".into(),
            json!({"desired": self.desired.to_json(), "reported": self.reported.to_json()}),
        );
        out.insert(
            "capabilities".into(),
            json!({"iotEdge": self.capabilities.iot_edge}),
        );
        for (key, value) in &self.other_fields {
            out.entry(key.as_str()).or_insert_with(|| value.clone());
        }
        Value::Object(out)
    }

    /// Reads a service view back: the exact inverse of [`to_json`](Self::to_json), and
    /// tolerant of twins exported from IoT Hub (missing optional fields take their
    /// defaults, unknown top-level fields are kept in `other_fields`).
    pub fn from_json(value: &Value) -> Result<Twin, TwinError> {
        let Value::Object(fields) = value else {
            return Err(malformed(JsonPath::root(), "a JSON object"));
        };
        if optional_object(fields, "properties")?.is_none() {
            return Err(malformed(JsonPath::from_keys(["properties"]), "an object"));
        }
        let section = |section: Section| {
            let path = section.path();
            PropertySection::from_json(path.resolve(value).unwrap_or(&Value::Null), &path)
        };
        let thumbprint = optional_object(fields, "x509Thumbprint")?;
        let capabilities = optional_object(fields, "capabilities")?;
        Ok(Twin {
            device_id: required_string(fields, "deviceId")?,
            etag: required_string(fields, "etag")?,
            device_etag: optional_string(fields, "deviceEtag")?,
            version: optional_u64(fields, "version")?.ok_or_else(|| {
                malformed(JsonPath::from_keys(["version"]), "an unsigned integer")
            })?,
            status: optional_name(
                fields,
                "status",
                DeviceStatus::from_name,
                "\"enabled\" or \"disabled\"",
            )?
            .unwrap_or_default(),
            status_reason: optional_string(fields, "statusReason")?,
            status_update_time: optional_time(fields, "statusUpdateTime")?,
            connection_state: optional_name(
                fields,
                "connectionState",
                ConnectionState::from_name,
                "\"Connected\" or \"Disconnected\"",
            )?
            .unwrap_or_default(),
            last_activity_time: optional_time(fields, "lastActivityTime")?,
            cloud_to_device_message_count: optional_u64(fields, "cloudToDeviceMessageCount")?
                .unwrap_or(0),
            authentication_type: optional_name(
                fields,
                "authenticationType",
                AuthenticationType::from_name,
                "\"sas\", \"selfSigned\", \"certificateAuthority\" or \"none\"",
            )?
            .unwrap_or_default(),
            x509_thumbprint: X509Thumbprint {
                primary_thumbprint: nested_string(
                    thumbprint,
                    "x509Thumbprint",
                    "primaryThumbprint",
                )?,
                secondary_thumbprint: nested_string(
                    thumbprint,
                    "x509Thumbprint",
                    "secondaryThumbprint",
                )?,
            },
            model_id: optional_string(fields, "modelId")?.unwrap_or_default(),
            capabilities: Capabilities {
                iot_edge: nested_bool(capabilities, "capabilities", "iotEdge")?,
            },
            other_fields: fields
                .iter()
                .filter(|(key, _)| !is_interpreted(key))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            tags: optional_object(fields, "tags")?.cloned(),
            desired: section(Section::Desired)?,
            reported: section(Section::Reported)?,
        })
    }

    /// What the device's MQTT twin GET returns: desired and reported members with their
    /// `$version`s, no tags and no `$metadata`.
    pub fn device_view(&self) -> Value {
        json!({"desired": self.desired.device_json(), "reported": self.reported.device_json()})
    }
}

fn malformed(path: JsonPath, expected: &'static str) -> TwinError {
    TwinError::MalformedDocument { path, expected }
}

/// A top-level field; `null` counts as absent, as IoT Hub prints unset fields as `null`.
fn field<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    fields.get(key).filter(|value| !value.is_null())
}

fn required_string(fields: &Map<String, Value>, key: &str) -> Result<String, TwinError> {
    optional_string(fields, key)?.ok_or_else(|| malformed(JsonPath::from_keys([key]), "a string"))
}

fn optional_string(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, TwinError> {
    field(fields, key)
        .map(|value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| malformed(JsonPath::from_keys([key]), "a string"))
        })
        .transpose()
}

fn optional_u64(fields: &Map<String, Value>, key: &str) -> Result<Option<u64>, TwinError> {
    field(fields, key)
        .map(|value| {
            value
                .as_u64()
                .ok_or_else(|| malformed(JsonPath::from_keys([key]), "an unsigned integer"))
        })
        .transpose()
}

fn optional_object<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, TwinError> {
    field(fields, key)
        .map(|value| {
            value
                .as_object()
                .ok_or_else(|| malformed(JsonPath::from_keys([key]), "an object"))
        })
        .transpose()
}

fn optional_name<T>(
    fields: &Map<String, Value>,
    key: &str,
    parse: fn(&str) -> Option<T>,
    expected: &'static str,
) -> Result<Option<T>, TwinError> {
    field(fields, key)
        .map(|value| {
            value
                .as_str()
                .and_then(parse)
                .ok_or_else(|| malformed(JsonPath::from_keys([key]), expected))
        })
        .transpose()
}

/// An optional time; the unset value `0001-01-01T00:00:00Z` reads as `None`.
fn optional_time(
    fields: &Map<String, Value>,
    key: &str,
) -> Result<Option<DateTime<Utc>>, TwinError> {
    field(fields, key)
        .map(|value| {
            value
                .as_str()
                .and_then(parse_optional_timestamp)
                .ok_or_else(|| malformed(JsonPath::from_keys([key]), "an ISO-8601 UTC timestamp"))
        })
        .transpose()
        .map(Option::flatten)
}

fn nested_string(
    object: Option<&Map<String, Value>>,
    parent: &str,
    key: &str,
) -> Result<Option<String>, TwinError> {
    object
        .map(|members| optional_string(members, key))
        .transpose()
        .map(Option::flatten)
        .map_err(|_| malformed(JsonPath::from_keys([parent, key]), "a string or null"))
}

fn nested_bool(
    object: Option<&Map<String, Value>>,
    parent: &str,
    key: &str,
) -> Result<bool, TwinError> {
    match object.and_then(|members| field(members, key)) {
        None => Ok(false),
        Some(value) => value
            .as_bool()
            .ok_or_else(|| malformed(JsonPath::from_keys([parent, key]), "true or false")),
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
