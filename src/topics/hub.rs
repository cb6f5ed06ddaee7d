//! Topics the hub publishes to a device: formatted by the local hub, parsed by the simulated
//! device.

use super::error::TopicError;
use super::ids::{MethodName, RequestId};
use super::messages::{MessageProperty, format_message_topic, parse_message_topic};
use super::params::{IothubTopic, RID, VERSION, check_topic_name};

const TWIN_RESPONSE: &str = "$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]";
const METHOD_REQUEST: &str = "$iothub/methods/POST/{method name}/?$rid={rid}";
const CLOUD_TO_DEVICE: &str = "devices/{deviceId}/messages/devicebound/{name=value&...}";
const ALL_HUB_TOPICS: &str = "$iothub/twin/res/{status}/?$rid={rid}[&$version={version}], \
     $iothub/twin/PATCH/properties/desired/?$version={version}, \
     $iothub/methods/POST/{method name}/?$rid={rid}, \
     devices/{deviceId}/messages/devicebound/{name=value&...}";

/// Every topic the hub publishes to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubTopic {
    /// `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`: answers a twin GET (200 with
    /// the twin) or a reported patch (204 with the new reported `$version`), or reports a
    /// failure (400, 429, 5xx). `$rid` comes first because the C SDK reads it positionally.
    TwinResponse {
        /// HTTP-like status.
        status: u16,
        /// The request being answered.
        rid: RequestId,
        /// The new reported version, sent after a successful reported patch.
        version: Option<u64>,
    },
    /// `$iothub/twin/PATCH/properties/desired/?$version={v}`: the body is a desired patch.
    DesiredPatch {
        /// The desired section's `$version` after the change.
        version: u64,
    },
    /// `$iothub/methods/POST/{name}/?$rid={rid}`: the body is the method payload.
    MethodRequest {
        /// The method invoked, verbatim.
        name: MethodName,
        /// The id the device echoes in its method response.
        rid: RequestId,
    },
    /// `devices/{d}/messages/devicebound/{bag}`: a cloud-to-device message (devices only;
    /// IoT Hub never sends these to modules).
    CloudToDevice {
        /// The receiving device, verbatim.
        device_id: String,
        /// Application and user-settable system properties (`$.mid`, `$.cid`, `$.to` ...).
        properties: Vec<MessageProperty>,
    },
}

impl HubTopic {
    /// The topic to publish to, in the exact form IoT Hub uses.
    pub fn to_topic(&self) -> String {
        match self {
            Self::TwinResponse {
                status,
                rid,
                version,
            } => {
                let mut topic = format!("$iothub/twin/res/{status}/?{RID}={rid}");
                if let Some(version) = version {
                    topic.push_str(&format!("&{VERSION}={version}"));
                }
                topic
            }
            Self::DesiredPatch { version } => {
                format!("$iothub/twin/PATCH/properties/desired/?{VERSION}={version}")
            }
            Self::MethodRequest { name, rid } => {
                format!("$iothub/methods/POST/{name}/?{RID}={rid}")
            }
            Self::CloudToDevice {
                device_id,
                properties,
            } => format_message_topic(device_id, None, "devicebound", properties),
        }
    }
}

/// Parses a topic the hub published, so the device client routes it with the same rules the
/// hub formatted it with. The device id of a cloud-to-device topic is returned, not checked:
/// the hub only ever sends a device its own messages.
pub fn parse_hub_topic(topic: &str) -> Result<HubTopic, TopicError> {
    check_topic_name(topic)?;
    if topic.starts_with("$iothub/") {
        parse_iothub_topic(topic)
    } else if topic.starts_with("devices/") {
        let parsed = parse_message_topic(topic, "devicebound", CLOUD_TO_DEVICE)?;
        if parsed.module_id.is_some() {
            return Err(TopicError::Malformed {
                topic: topic.into(),
                problem: "IoT Hub sends cloud-to-device messages to devices, not modules".into(),
                expected: CLOUD_TO_DEVICE,
            });
        }
        Ok(HubTopic::CloudToDevice {
            device_id: parsed.device_id.into(),
            properties: parsed.properties,
        })
    } else {
        Err(unknown(topic))
    }
}

fn parse_iothub_topic(topic: &str) -> Result<HubTopic, TopicError> {
    let split = IothubTopic::split(topic, ALL_HUB_TOPICS)?;
    if split.path == "$iothub/twin/PATCH/properties/desired" {
        return Ok(HubTopic::DesiredPatch {
            version: split.version()?,
        });
    }
    if let Some(status) = split.path.strip_prefix("$iothub/twin/res/") {
        let status = status.parse().map_err(|_| TopicError::Malformed {
            topic: topic.into(),
            problem: format!("the status {status:?} is not an integer from 0 to 65535"),
            expected: TWIN_RESPONSE,
        })?;
        return Ok(HubTopic::TwinResponse {
            status,
            rid: split.request_id()?,
            version: split.optional_version()?,
        });
    }
    if let Some(name) = split.path.strip_prefix("$iothub/methods/POST/") {
        let name = MethodName::new(name).map_err(|err| TopicError::Malformed {
            topic: topic.into(),
            problem: err.to_string(),
            expected: METHOD_REQUEST,
        })?;
        return Ok(HubTopic::MethodRequest {
            name,
            rid: split.request_id()?,
        });
    }
    Err(unknown(topic))
}

fn unknown(topic: &str) -> TopicError {
    TopicError::Unknown {
        topic: topic.into(),
        what: "a topic IoT Hub publishes to devices",
        expected: ALL_HUB_TOPICS,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rid(text: &str) -> RequestId {
        RequestId::new(text).unwrap()
    }

    #[test]
    fn documented_topics_parse() {
        assert_eq!(
            parse_hub_topic("$iothub/twin/res/200/?$rid=1234").unwrap(),
            HubTopic::TwinResponse {
                status: 200,
                rid: rid("1234"),
                version: None
            }
        );
        assert_eq!(
            parse_hub_topic("$iothub/twin/res/204/?$rid=1&$version=6").unwrap(),
            HubTopic::TwinResponse {
                status: 204,
                rid: rid("1"),
                version: Some(6)
            }
        );
        assert_eq!(
            parse_hub_topic("$iothub/twin/PATCH/properties/desired/?$version=8").unwrap(),
            HubTopic::DesiredPatch { version: 8 }
        );
        assert_eq!(
            parse_hub_topic(
                "$iothub/methods/POST/some_method/?$rid=505e09bb-0076-4b9f-b4a3-529430f1593f"
            )
            .unwrap(),
            HubTopic::MethodRequest {
                name: MethodName::new("some_method").unwrap(),
                rid: rid("505e09bb-0076-4b9f-b4a3-529430f1593f")
            }
        );
        assert_eq!(
            parse_hub_topic(
                "devices/dev_c/messages/devicebound/propertyName=propertyValue&%24.to=%2Fdevices%2Fdev_c%2Fmessages%2FdeviceBound"
            )
            .unwrap(),
            HubTopic::CloudToDevice {
                device_id: "dev_c".into(),
                properties: vec![
                    ("propertyName".into(), Some("propertyValue".into())),
                    ("$.to".into(), Some("/devices/dev_c/messages/deviceBound".into()))
                ]
            }
        );
    }

    #[test]
    fn parameters_may_come_in_any_order() {
        assert_eq!(
            parse_hub_topic("$iothub/twin/res/204/?$version=6&$rid=1").unwrap(),
            HubTopic::TwinResponse {
                status: 204,
                rid: rid("1"),
                version: Some(6)
            }
        );
    }

    #[test]
    fn formatting_puts_the_request_id_first() {
        let response = HubTopic::TwinResponse {
            status: 204,
            rid: rid("9"),
            version: Some(3),
        };
        assert_eq!(
            response.to_topic(),
            "$iothub/twin/res/204/?$rid=9&$version=3"
        );
        assert_eq!(
            HubTopic::DesiredPatch { version: 2 }.to_topic(),
            "$iothub/twin/PATCH/properties/desired/?$version=2"
        );
        assert_eq!(
            HubTopic::MethodRequest {
                name: MethodName::new("set value").unwrap(),
                rid: rid("1")
            }
            .to_topic(),
            "$iothub/methods/POST/set value/?$rid=1"
        );
        assert_eq!(
            HubTopic::CloudToDevice {
                device_id: "d".into(),
                properties: vec![]
            }
            .to_topic(),
            "devices/d/messages/devicebound/"
        );
    }

    #[test]
    fn a_desired_patch_needs_its_version() {
        let topic = "$iothub/twin/PATCH/properties/desired/";
        assert_eq!(
            parse_hub_topic(topic).unwrap_err(),
            TopicError::MissingParameter {
                topic: topic.into(),
                name: VERSION
            }
        );
    }

    #[test]
    fn a_twin_status_must_fit_in_u16() {
        let topic = "$iothub/twin/res/70000/?$rid=1";
        assert_eq!(
            parse_hub_topic(topic).unwrap_err(),
            TopicError::Malformed {
                topic: topic.into(),
                problem: "the status \"70000\" is not an integer from 0 to 65535".into(),
                expected: TWIN_RESPONSE
            }
        );
    }

    #[test]
    fn a_method_name_must_be_one_level() {
        let topic = "$iothub/methods/POST/a/b/?$rid=1";
        let err = parse_hub_topic(topic).unwrap_err();
        assert!(
            matches!(&err, TopicError::Malformed { expected, .. } if *expected == METHOD_REQUEST),
            "{err}"
        );
        assert!(
            err.to_string().contains("'/' separates topic levels"),
            "{err}"
        );
    }

    #[test]
    fn cloud_to_device_topics_are_for_devices_only() {
        let topic = "devices/d/modules/m/messages/devicebound/";
        assert_eq!(
            parse_hub_topic(topic).unwrap_err(),
            TopicError::Malformed {
                topic: topic.into(),
                problem: "IoT Hub sends cloud-to-device messages to devices, not modules".into(),
                expected: CLOUD_TO_DEVICE
            }
        );
    }

    #[test]
    fn topics_the_hub_never_sends_are_unknown() {
        for topic in [
            "$iothub/twin/GET/?$rid=1",
            "$iothub/methods/res/200/?$rid=1",
            "anything",
        ] {
            assert!(matches!(
                parse_hub_topic(topic).unwrap_err(),
                TopicError::Unknown {
                    what: "a topic IoT Hub publishes to devices",
                    ..
                }
            ));
        }
        assert!(matches!(
            parse_hub_topic("$iothub/twin/res/#").unwrap_err(),
            TopicError::Wildcard { .. }
        ));
    }
}
