//! Format → parse → equal, for every topic kind, filter and username, over generated inputs
//! that include every character IoT Hub allows in ids plus arbitrary Unicode in properties.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

/// Request ids: anything but `&`, `+`, `#`, NUL; includes `/`, `?`, `=`, `%` and spaces.
fn request_id() -> impl Strategy<Value = RequestId> {
    "[A-Za-z0-9._~:/?=$% -]{1,40}".prop_map(|rid| RequestId::new(rid).unwrap())
}

/// Method names: anything but `/`, `?`, `+`, `#`, NUL.
fn method_name() -> impl Strategy<Value = MethodName> {
    "[A-Za-z0-9 _.:=&$%()!*,;@'-]{1,30}".prop_map(|name| MethodName::new(name).unwrap())
}

/// Ids with every character IoT Hub allows except the MQTT wildcards `+` and `#`.
fn topic_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9:.%_*?!(),=@;$'-]{1,20}"
}

/// Ids with every character IoT Hub allows, wildcards included (usernames are not topics).
fn username_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9:.%_*?!(),=@;$'#+-]{1,20}"
}

fn properties() -> impl Strategy<Value = Vec<MessageProperty>> {
    prop::collection::vec(("\\PC{1,8}", prop::option::of("\\PC{0,8}")), 0..5)
}

proptest! {
    #[test]
    fn device_request_topics_round_trip(rid in request_id(), status in any::<i64>()) {
        for topic in [
            DeviceTopic::TwinGet { rid: rid.clone() },
            DeviceTopic::ReportedPatch { rid: rid.clone() },
            DeviceTopic::MethodResponse { status, rid: rid.clone() },
        ] {
            prop_assert_eq!(parse_device_topic(&topic.to_topic(), "d", None).unwrap(), topic);
        }
    }

    #[test]
    fn telemetry_round_trips(
        device_id in topic_id(),
        module_id in prop::option::of(topic_id()),
        properties in properties(),
    ) {
        let topic = DeviceTopic::Telemetry {
            device_id: device_id.clone(),
            module_id: module_id.clone(),
            properties,
        };
        let parsed = parse_device_topic(&topic.to_topic(), &device_id, module_id.as_deref());
        prop_assert_eq!(parsed.unwrap(), topic);
    }

    #[test]
    fn hub_topics_round_trip(
        status in any::<u16>(),
        rid in request_id(),
        version in any::<u64>(),
        response_version in prop::option::of(any::<u64>()),
        name in method_name(),
        device_id in topic_id(),
        properties in properties(),
    ) {
        for topic in [
            HubTopic::TwinResponse { status, rid: rid.clone(), version: response_version },
            HubTopic::DesiredPatch { version },
            HubTopic::MethodRequest { name: name.clone(), rid: rid.clone() },
            HubTopic::CloudToDevice { device_id: device_id.clone(), properties: properties.clone() },
        ] {
            prop_assert_eq!(parse_hub_topic(&topic.to_topic()).unwrap(), topic);
        }
    }

    #[test]
    fn subscriptions_round_trip(device_id in topic_id(), module_id in prop::option::of(topic_id())) {
        for subscription in [
            Subscription::TwinResponses,
            Subscription::DesiredPatches,
            Subscription::MethodRequests,
            Subscription::CloudToDevice,
        ] {
            let filter = subscription.filter(&device_id, module_id.as_deref());
            let parsed = parse_subscription(&filter, &device_id, module_id.as_deref());
            prop_assert_eq!(parsed.unwrap(), subscription);
        }
    }

    #[test]
    fn usernames_round_trip(
        host in "[a-z0-9.:-]{1,30}",
        device_id in username_id(),
        module_id in prop::option::of(username_id()),
        api_version in prop::option::of("\\PC{0,12}"),
        model_id in prop::option::of("\\PC{0,12}"),
        other in prop::collection::vec(("\\PC{0,8}", "\\PC{0,8}"), 0..4)
            .prop_filter("known names live in their own fields", |other| {
                other.iter().all(|(name, _)| name != "api-version" && name != "model-id")
            }),
    ) {
        let username = MqttUsername { host, device_id, module_id, api_version, model_id, other };
        prop_assert_eq!(MqttUsername::parse(&username.to_username()).unwrap(), username);
    }
}

#[test]
fn every_topic_kind_round_trips_on_a_fixed_example() {
    let rid = RequestId::from(1);
    for topic in [
        DeviceTopic::TwinGet { rid: rid.clone() },
        DeviceTopic::ReportedPatch { rid: rid.clone() },
        DeviceTopic::MethodResponse {
            status: 500,
            rid: rid.clone(),
        },
        DeviceTopic::Telemetry {
            device_id: "dev1".into(),
            module_id: None,
            properties: vec![("$.ct".into(), Some("application/json".into()))],
        },
    ] {
        assert_eq!(
            parse_device_topic(&topic.to_topic(), "dev1", None).unwrap(),
            topic
        );
    }
    for topic in [
        HubTopic::TwinResponse {
            status: 200,
            rid: rid.clone(),
            version: None,
        },
        HubTopic::DesiredPatch { version: 9 },
        HubTopic::MethodRequest {
            name: MethodName::new("reboot").unwrap(),
            rid,
        },
        HubTopic::CloudToDevice {
            device_id: "dev1".into(),
            properties: vec![("$.mid".into(), Some("m1".into()))],
        },
    ] {
        assert_eq!(parse_hub_topic(&topic.to_topic()).unwrap(), topic);
    }
}
