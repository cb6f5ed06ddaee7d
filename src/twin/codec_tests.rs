//! Tests for `codec`: Azure's exact shape, lossless round trips, tolerant import.

#![allow(clippy::unwrap_used)]

use super::*;
use chrono::TimeZone;

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2017, 3, 9, 18, 30, second).unwrap()
}

#[test]
fn fresh_twin_has_azure_shape_and_key_order() {
    let twin = Twin::new("dev1", at(52));
    let stamp = "2017-03-09T18:30:52.0000000Z";
    let expected = json!({
        "deviceId": "dev1",
        "etag": "AAAAAAAAAAE=",
        "status": "enabled",
        "statusUpdateTime": "0001-01-01T00:00:00Z",
        "connectionState": "Disconnected",
        "lastActivityTime": "0001-01-01T00:00:00Z",
        "cloudToDeviceMessageCount": 0,
        "authenticationType": "sas",
        "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
        "modelId": "",
        "version": 1,
        "properties": {
            "desired": {"$metadata": {"$lastUpdated": stamp}, "$version": 1},
            "reported": {"$metadata": {"$lastUpdated": stamp}, "$version": 1}
        },
        "capabilities": {"iotEdge": false}
    });
    let actual = twin.to_json();
    assert_eq!(actual, expected);
    assert_eq!(
        serde_json::to_string(&actual).unwrap(),
        serde_json::to_string(&expected).unwrap(),
        "key order"
    );
    assert!(actual.get("tags").is_none());
}

fn busy_twin() -> Twin {
    let mut twin = Twin::new("dev-α", at(0));
    twin.device_etag = Some("NzgwNjA1MDUz".into());
    twin.status = DeviceStatus::Disabled;
    twin.status_reason = Some("maintenance".into());
    twin.status_update_time = Some(at(1));
    twin.connection_state = ConnectionState::Connected;
    twin.last_activity_time = Some(at(2));
    twin.cloud_to_device_message_count = 4;
    twin.authentication_type = AuthenticationType::SelfSigned;
    twin.x509_thumbprint.primary_thumbprint = Some("ABC".into());
    twin.model_id = "dtmi:com:example:Thermostat;1".into();
    twin.capabilities.iot_edge = true;
    twin.other_fields.insert("moduleId".into(), json!("m1"));
    let service =
        json!({"tags": {"site": {"floor": 3}}, "properties": {"desired": {"rate": [1, 2]}}});
    twin.apply_service_patch(&service, at(3)).unwrap();
    twin.apply_reported_patch(&json!({"temp": 21.5, "state": {"ok": true}}), at(4))
        .unwrap();
    twin
}

#[test]
fn round_trip_is_lossless() {
    let twin = busy_twin();
    let json = twin.to_json();
    let back = Twin::from_json(&json).unwrap();
    assert_eq!(back, twin);
    assert_eq!(
        serde_json::to_string(&back.to_json()).unwrap(),
        serde_json::to_string(&json).unwrap()
    );
}

#[test]
fn optional_fields_appear_only_when_set() {
    let json = busy_twin().to_json();
    assert_eq!(json["deviceEtag"], json!("NzgwNjA1MDUz"));
    assert_eq!(json["statusReason"], json!("maintenance"));
    assert_eq!(json["status"], json!("disabled"));
    assert_eq!(json["connectionState"], json!("Connected"));
    assert_eq!(json["authenticationType"], json!("selfSigned"));
    assert_eq!(
        json["statusUpdateTime"],
        json!("2017-03-09T18:30:01.0000000Z")
    );
    assert_eq!(json["moduleId"], json!("m1"));
    assert_eq!(json["tags"], json!({"site": {"floor": 3}}));
}

#[test]
fn imports_a_twin_exported_from_iot_hub() {
    let exported = json!({
        "deviceId": "myEdgeDevice",
        "etag": "AAAAAAAAAAc=",
        "deviceEtag": "NTgwMDg5MDAz",
        "status": "enabled",
        "statusUpdateTime": "0001-01-01T00:00:00",
        "connectionState": "connected",
        "lastActivityTime": "2015-02-28T16:24:48.789Z",
        "cloudToDeviceMessageCount": 0,
        "authenticationType": "sas",
        "x509Thumbprint": {"primaryThumbprint": null, "secondaryThumbprint": null},
        "version": 2,
        "properties": {
            "desired": {
                "telemetryConfig": {"sendFrequency": "5m"},
                "$metadata": {
                    "$lastUpdated": "2016-03-30T16:24:48.789Z",
                    "$lastUpdatedVersion": 23,
                    "telemetryConfig": {"$lastUpdated": "2016-03-30T16:24:48.789Z"}
                },
                "$version": 23
            },
            "reported": {"$metadata": {"$lastUpdated": "2016-03-30T16:24:48.789Z"}, "$version": 4}
        },
        "configurations": {"cfg": {"status": "Applied"}},
        "capabilities": {"iotEdge": false}
    });
    let twin = Twin::from_json(&exported).unwrap();
    assert_eq!(twin.connection_state, ConnectionState::Connected);
    assert_eq!(twin.status_update_time, None);
    assert_eq!(twin.desired_version(), 23);
    assert_eq!(
        twin.desired()["telemetryConfig"],
        json!({"sendFrequency": "5m"})
    );
    assert_eq!(
        twin.other_fields["configurations"],
        json!({"cfg": {"status": "Applied"}})
    );
    assert_eq!(twin.model_id, "");
    let again = Twin::from_json(&twin.to_json()).unwrap();
    assert_eq!(again, twin);
}

#[test]
fn malformed_documents_name_the_field() {
    let good = Twin::new("dev1", at(0)).to_json();
    let cases = [
        ("deviceId", json!(5), "deviceId"),
        ("etag", Value::Null, "etag"),
        ("version", json!("2"), "version"),
        ("status", json!("paused"), "status"),
        ("connectionState", json!(true), "connectionState"),
        ("lastActivityTime", json!("yesterday"), "lastActivityTime"),
        (
            "authenticationType",
            json!("password"),
            "authenticationType",
        ),
        (
            "x509Thumbprint",
            json!({"primaryThumbprint": 1}),
            "x509Thumbprint.primaryThumbprint",
        ),
        (
            "capabilities",
            json!({"iotEdge": "no"}),
            "capabilities.iotEdge",
        ),
        ("tags", json!([]), "tags"),
        (
            "properties",
            json!({"desired": {}}),
            "properties.desired.$version",
        ),
        ("properties", json!(1), "properties"),
    ];
    for (field, value, path) in cases {
        let mut broken = good.clone();
        broken[field] = value;
        let error = Twin::from_json(&broken).unwrap_err();
        assert_eq!(error.path().unwrap().to_string(), path, "{field}: {error}");
        assert!(matches!(error, TwinError::MalformedDocument { .. }));
    }
    assert!(Twin::from_json(&json!([])).is_err());
}

#[test]
fn device_view_has_no_tags_or_metadata() {
    let view = busy_twin().device_view();
    assert_eq!(
        view,
        json!({
            "desired": {"rate": [1, 2], "$version": 2},
            "reported": {"temp": 21.5, "state": {"ok": true}, "$version": 2}
        })
    );
}
