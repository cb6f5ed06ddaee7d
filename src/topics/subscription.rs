//! The SUBSCRIBE filters IoT Hub accepts from a device or module, and which hub topics each
//! one receives. IoT Hub is not a general broker: only these exact filters are allowed.

use super::device::describe_identity;
use super::error::TopicError;
use super::hub::HubTopic;

const TWIN_RESPONSES: &str = "$iothub/twin/res/#";
const DESIRED_PATCHES: &str = "$iothub/twin/PATCH/properties/desired/#";
const METHOD_REQUESTS: &str = "$iothub/methods/POST/#";
/// The Embedded C SDK (`az_iot_hub_client.h`) subscribes with a `+` for the device id.
const ANY_DEVICE_CLOUD_TO_DEVICE: &str = "devices/+/messages/devicebound/#";

/// One of the subscriptions IoT Hub lets a device or module make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// `$iothub/twin/res/#`: answers to twin GETs and reported patches.
    TwinResponses,
    /// `$iothub/twin/PATCH/properties/desired/#`: desired-property change notifications.
    DesiredPatches,
    /// `$iothub/methods/POST/#`: direct-method requests.
    MethodRequests,
    /// A device's `devices/{d}/messages/devicebound/#` (the Embedded C SDK writes
    /// `devices/+/messages/devicebound/#`): cloud-to-device messages. For a module identity
    /// this is the module's inbound message filter, `devices/{d}/modules/{m}/#` (also
    /// accepted: `.../inputs/#` as Python and Java send it, `.../messages/devicebound/#` as
    /// Java sends it), which IoT Hub accepts but only IoT Edge ever delivers to.
    CloudToDevice,
}

impl Subscription {
    /// The filter a client on the identity `device_id` / `module_id` subscribes with, as the
    /// Python, C and C# SDKs write it.
    pub fn filter(&self, device_id: &str, module_id: Option<&str>) -> String {
        match self {
            Self::TwinResponses => TWIN_RESPONSES.into(),
            Self::DesiredPatches => DESIRED_PATCHES.into(),
            Self::MethodRequests => METHOD_REQUESTS.into(),
            Self::CloudToDevice => match module_id {
                Some(module_id) => format!("devices/{device_id}/modules/{module_id}/#"),
                None => format!("devices/{device_id}/messages/devicebound/#"),
            },
        }
    }

    /// Whether a connection holding this subscription receives `topic`; the hub holds back
    /// what no subscription matches.
    pub fn matches(&self, topic: &HubTopic) -> bool {
        matches!(
            (self, topic),
            (Self::TwinResponses, HubTopic::TwinResponse { .. })
                | (Self::DesiredPatches, HubTopic::DesiredPatch { .. })
                | (Self::MethodRequests, HubTopic::MethodRequest { .. })
                | (Self::CloudToDevice, HubTopic::CloudToDevice { .. })
        )
    }
}

/// Parses a SUBSCRIBE filter from the connection of `device_id` (and `module_id` for a
/// module identity). Anything but the documented filters is refused, including wildcard
/// variations and another identity's message filter.
pub fn parse_subscription(
    filter: &str,
    device_id: &str,
    module_id: Option<&str>,
) -> Result<Subscription, TopicError> {
    match filter {
        TWIN_RESPONSES => return Ok(Subscription::TwinResponses),
        DESIRED_PATCHES => return Ok(Subscription::DesiredPatches),
        METHOD_REQUESTS => return Ok(Subscription::MethodRequests),
        ANY_DEVICE_CLOUD_TO_DEVICE if module_id.is_none() => {
            return Ok(Subscription::CloudToDevice);
        }
        _ => {}
    }
    if let Some((found_device, found_module)) = message_filter_identity(filter) {
        if found_device == device_id && found_module == module_id {
            return Ok(Subscription::CloudToDevice);
        }
        return Err(TopicError::ForeignIdentity {
            topic: filter.into(),
            found: describe_identity(found_device, found_module),
            connected: describe_identity(device_id, module_id),
        });
    }
    Err(TopicError::UnsupportedFilter {
        filter: filter.into(),
        allowed: [
            Subscription::TwinResponses,
            Subscription::DesiredPatches,
            Subscription::MethodRequests,
            Subscription::CloudToDevice,
        ]
        .iter()
        .map(|subscription| subscription.filter(device_id, module_id))
        .collect::<Vec<_>>()
        .join(", "),
    })
}

/// The identity named by a cloud-to-device or module message filter, if `filter` is one.
fn message_filter_identity(filter: &str) -> Option<(&str, Option<&str>)> {
    let rest = filter.strip_prefix("devices/")?;
    let (device_id, rest) = rest.split_once('/')?;
    if device_id.is_empty() {
        return None;
    }
    if rest == "messages/devicebound/#" {
        return Some((device_id, None));
    }
    let (module_id, rest) = rest.strip_prefix("modules/")?.split_once('/')?;
    let module_filters = ["#", "inputs/#", "messages/devicebound/#"];
    (!module_id.is_empty() && module_filters.contains(&rest))
        .then_some((device_id, Some(module_id)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::topics::ids::{MethodName, RequestId};

    const ALL: [Subscription; 4] = [
        Subscription::TwinResponses,
        Subscription::DesiredPatches,
        Subscription::MethodRequests,
        Subscription::CloudToDevice,
    ];

    #[test]
    fn filters_the_sdks_send_are_accepted() {
        for (filter, expected) in [
            ("$iothub/twin/res/#", Subscription::TwinResponses),
            (
                "$iothub/twin/PATCH/properties/desired/#",
                Subscription::DesiredPatches,
            ),
            ("$iothub/methods/POST/#", Subscription::MethodRequests),
            (
                "devices/dev1/messages/devicebound/#",
                Subscription::CloudToDevice,
            ),
            (
                "devices/+/messages/devicebound/#",
                Subscription::CloudToDevice,
            ),
        ] {
            assert_eq!(parse_subscription(filter, "dev1", None).unwrap(), expected);
        }
    }

    #[test]
    fn module_message_filters_are_accepted_on_module_connections() {
        for filter in [
            "devices/d/modules/m/#",
            "devices/d/modules/m/inputs/#",
            "devices/d/modules/m/messages/devicebound/#",
        ] {
            assert_eq!(
                parse_subscription(filter, "d", Some("m")).unwrap(),
                Subscription::CloudToDevice
            );
        }
    }

    #[test]
    fn every_filter_round_trips_for_devices_and_modules() {
        for subscription in ALL {
            for module in [None, Some("m")] {
                let filter = subscription.filter("d:1", module);
                assert_eq!(
                    parse_subscription(&filter, "d:1", module).unwrap(),
                    subscription
                );
            }
        }
        assert_eq!(
            Subscription::CloudToDevice.filter("d", None),
            "devices/d/messages/devicebound/#"
        );
        assert_eq!(
            Subscription::CloudToDevice.filter("d", Some("m")),
            "devices/d/modules/m/#"
        );
    }

    #[test]
    fn another_identitys_message_filter_is_refused() {
        for (filter, module, found, connected) in [
            (
                "devices/dev2/messages/devicebound/#",
                None,
                "device \"dev2\"",
                "device \"dev1\"",
            ),
            (
                "devices/dev1/modules/other/#",
                Some("m"),
                "module \"other\" of device \"dev1\"",
                "module \"m\" of device \"dev1\"",
            ),
            (
                "devices/+/messages/devicebound/#",
                Some("m"),
                "device \"+\"",
                "module \"m\" of device \"dev1\"",
            ),
        ] {
            assert_eq!(
                parse_subscription(filter, "dev1", module).unwrap_err(),
                TopicError::ForeignIdentity {
                    topic: filter.into(),
                    found: found.into(),
                    connected: connected.into()
                }
            );
        }
    }

    #[test]
    fn undocumented_filters_are_refused_with_the_allowed_list() {
        for filter in [
            "#",
            "$iothub/#",
            "$iothub/twin/res/+",
            "$iothub/twin/PATCH/properties/desired/?$version=",
            "$iothub/methods/POST/reboot/#",
            "devices/dev1/messages/devicebound",
            "devices//messages/devicebound/#",
            "devices/dev1/modules//#",
            "devices/dev1/modules/m/outputs/#",
        ] {
            let err = parse_subscription(filter, "dev1", None).unwrap_err();
            assert_eq!(
                err,
                TopicError::UnsupportedFilter {
                    filter: filter.into(),
                    allowed: "$iothub/twin/res/#, $iothub/twin/PATCH/properties/desired/#, \
                              $iothub/methods/POST/#, devices/dev1/messages/devicebound/#"
                        .into()
                },
                "{filter}"
            );
        }
    }

    #[test]
    fn each_subscription_matches_only_its_own_topics() {
        let topics = [
            HubTopic::TwinResponse {
                status: 200,
                rid: RequestId::from(1),
                version: None,
            },
            HubTopic::DesiredPatch { version: 1 },
            HubTopic::MethodRequest {
                name: MethodName::new("m").unwrap(),
                rid: RequestId::from(1),
            },
            HubTopic::CloudToDevice {
                device_id: "d".into(),
                properties: vec![],
            },
        ];
        for (i, subscription) in ALL.iter().enumerate() {
            for (j, topic) in topics.iter().enumerate() {
                assert_eq!(
                    subscription.matches(topic),
                    i == j,
                    "{subscription:?} {topic:?}"
                );
            }
        }
    }
}
