//! Topics a device publishes to: formatted by the simulated device, parsed by the hub.

use super::error::TopicError;
use super::ids::RequestId;
use super::messages::{MessageProperty, format_message_topic, parse_message_topic};
use super::params::{IothubTopic, check_topic_name};

const METHOD_RESPONSE: &str = "$iothub/methods/res/{status}/?$rid={rid}";
const TELEMETRY: &str = "devices/{deviceId}[/modules/{moduleId}]/messages/events/{name=value&...}";
const ALL_DEVICE_TOPICS: &str = "$iothub/twin/GET/?$rid={rid}, \
     $iothub/twin/PATCH/properties/reported/?$rid={rid}, $iothub/methods/res/{status}/?$rid={rid}, \
     devices/{deviceId}[/modules/{moduleId}]/messages/events/{name=value&...}";

/// Every topic a device may publish to, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceTopic {
    /// `$iothub/twin/GET/?$rid={rid}`: asks for the twin's desired and reported sections.
    TwinGet {
        /// Echoed in the twin response.
        rid: RequestId,
    },
    /// `$iothub/twin/PATCH/properties/reported/?$rid={rid}`: the body is a reported patch.
    /// Other parameters (the Node SDK adds `$version`) are tolerated and dropped.
    ReportedPatch {
        /// Echoed in the twin response.
        rid: RequestId,
    },
    /// `$iothub/methods/res/{status}/?$rid={rid}`: the body answers a direct method.
    MethodResponse {
        /// Whatever integer the device chose; IoT Hub passes it to the caller untouched.
        status: i64,
        /// The `$rid` of the method request being answered.
        rid: RequestId,
    },
    /// `devices/{d}[/modules/{m}]/messages/events/{bag}`: device-to-cloud telemetry.
    Telemetry {
        /// The publishing device, verbatim.
        device_id: String,
        /// The publishing module, for module identities.
        module_id: Option<String>,
        /// The decoded property bag, in topic order (system properties are named `$.ct` ...).
        properties: Vec<MessageProperty>,
    },
}

impl DeviceTopic {
    /// The topic to publish to, in the exact form the Python SDK uses.
    ///
    /// Ids are written verbatim: a device id containing `/`, `+` or `#` yields a topic that
    /// [`parse_device_topic`] (and IoT Hub) refuses. Property names must be non-empty.
    pub fn to_topic(&self) -> String {
        match self {
            Self::TwinGet { rid } => format!("$iothub/twin/GET/?$rid={rid}"),
            Self::ReportedPatch { rid } => {
                format!("$iothub/twin/PATCH/properties/reported/?$rid={rid}")
            }
            Self::MethodResponse { status, rid } => {
                format!("$iothub/methods/res/{status}/?$rid={rid}")
            }
            Self::Telemetry {
                device_id,
                module_id,
                properties,
            } => format_message_topic(device_id, module_id.as_deref(), "events", properties),
        }
    }
}

/// Parses a topic published on the connection of `device_id` (and `module_id` for a module
/// identity).
///
/// The identity is needed because telemetry names its sender: publishing under another
/// device's id, a device publishing to a module topic, or the reverse, is refused with
/// [`TopicError::ForeignIdentity`]. Ids are compared verbatim and case-sensitively.
pub fn parse_device_topic(
    topic: &str,
    device_id: &str,
    module_id: Option<&str>,
) -> Result<DeviceTopic, TopicError> {
    check_topic_name(topic)?;
    if topic.starts_with("$iothub/") {
        parse_iothub_topic(topic)
    } else if topic.starts_with("devices/") {
        let parsed = parse_message_topic(topic, "events", TELEMETRY)?;
        if parsed.device_id != device_id || parsed.module_id != module_id {
            return Err(TopicError::ForeignIdentity {
                topic: topic.into(),
                found: describe_identity(parsed.device_id, parsed.module_id),
                connected: describe_identity(device_id, module_id),
            });
        }
        Ok(DeviceTopic::Telemetry {
            device_id: parsed.device_id.into(),
            module_id: parsed.module_id.map(Into::into),
            properties: parsed.properties,
        })
    } else {
        Err(unknown(topic))
    }
}

fn parse_iothub_topic(topic: &str) -> Result<DeviceTopic, TopicError> {
    let split = IothubTopic::split(topic, ALL_DEVICE_TOPICS)?;
    match split.path {
        "$iothub/twin/GET" => Ok(DeviceTopic::TwinGet {
            rid: split.request_id()?,
        }),
        "$iothub/twin/PATCH/properties/reported" => Ok(DeviceTopic::ReportedPatch {
            rid: split.request_id()?,
        }),
        path => {
            let status = path
                .strip_prefix("$iothub/methods/res/")
                .ok_or_else(|| unknown(topic))?;
            let status = status.parse().map_err(|_| TopicError::Malformed {
                topic: topic.into(),
                problem: format!("the status {status:?} is not an integer"),
                expected: METHOD_RESPONSE,
            })?;
            Ok(DeviceTopic::MethodResponse {
                status,
                rid: split.request_id()?,
            })
        }
    }
}

fn unknown(topic: &str) -> TopicError {
    TopicError::Unknown {
        topic: topic.into(),
        what: "a topic a device may publish to",
        expected: ALL_DEVICE_TOPICS,
    }
}

/// "device `d`" or "module `m` of device `d`", for error messages.
pub(super) fn describe_identity(device_id: &str, module_id: Option<&str>) -> String {
    match module_id {
        Some(module_id) => format!("module {module_id:?} of device {device_id:?}"),
        None => format!("device {device_id:?}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rid(text: &str) -> RequestId {
        RequestId::new(text).unwrap()
    }

    fn parse(topic: &str) -> Result<DeviceTopic, TopicError> {
        parse_device_topic(topic, "dev1", None)
    }

    #[test]
    fn topics_sent_by_the_python_sdk_parse() {
        let uuid = "505e09bb-0076-4b9f-b4a3-529430f1593f";
        assert_eq!(
            parse(&format!("$iothub/twin/GET/?$rid={uuid}")).unwrap(),
            DeviceTopic::TwinGet { rid: rid(uuid) }
        );
        assert_eq!(
            parse(&format!(
                "$iothub/twin/PATCH/properties/reported/?$rid={uuid}"
            ))
            .unwrap(),
            DeviceTopic::ReportedPatch { rid: rid(uuid) }
        );
        assert_eq!(
            parse(&format!("$iothub/methods/res/200/?$rid={uuid}")).unwrap(),
            DeviceTopic::MethodResponse {
                status: 200,
                rid: rid(uuid)
            }
        );
        assert_eq!(
            parse("devices/dev1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8").unwrap(),
            DeviceTopic::Telemetry {
                device_id: "dev1".into(),
                module_id: None,
                properties: vec![
                    ("$.ct".into(), Some("application/json".into())),
                    ("$.ce".into(), Some("utf-8".into()))
                ]
            }
        );
    }

    #[test]
    fn topics_sent_by_the_c_and_node_sdks_parse() {
        assert_eq!(
            parse("$iothub/twin/GET/?$rid=1").unwrap(),
            DeviceTopic::TwinGet { rid: rid("1") }
        );
        assert_eq!(
            parse("$iothub/methods/res/-3/?$rid=2").unwrap(),
            DeviceTopic::MethodResponse {
                status: -3,
                rid: rid("2")
            }
        );
        assert_eq!(
            parse("$iothub/twin/PATCH/properties/reported/?$rid=7&$version=4").unwrap(),
            DeviceTopic::ReportedPatch { rid: rid("7") }
        );
        assert_eq!(
            parse("devices/dev1/messages/events/").unwrap(),
            DeviceTopic::Telemetry {
                device_id: "dev1".into(),
                module_id: None,
                properties: vec![]
            }
        );
    }

    #[test]
    fn module_telemetry_parses_on_a_module_connection() {
        assert_eq!(
            parse_device_topic("devices/d/modules/m/messages/events/", "d", Some("m")).unwrap(),
            DeviceTopic::Telemetry {
                device_id: "d".into(),
                module_id: Some("m".into()),
                properties: vec![]
            }
        );
    }

    #[test]
    fn device_ids_with_special_characters_travel_verbatim() {
        let id = "a:b.c%20(x)=@;$'!*?,_-";
        let topic = DeviceTopic::Telemetry {
            device_id: id.into(),
            module_id: None,
            properties: vec![],
        };
        assert_eq!(topic.to_topic(), format!("devices/{id}/messages/events/"));
        assert_eq!(
            parse_device_topic(&topic.to_topic(), id, None).unwrap(),
            topic
        );
    }

    #[test]
    fn formatting_matches_the_documented_topics() {
        assert_eq!(
            DeviceTopic::TwinGet { rid: 1.into() }.to_topic(),
            "$iothub/twin/GET/?$rid=1"
        );
        assert_eq!(
            DeviceTopic::ReportedPatch { rid: 2.into() }.to_topic(),
            "$iothub/twin/PATCH/properties/reported/?$rid=2"
        );
        assert_eq!(
            DeviceTopic::MethodResponse {
                status: 200,
                rid: rid("x")
            }
            .to_topic(),
            "$iothub/methods/res/200/?$rid=x"
        );
    }

    #[test]
    fn telemetry_under_another_identity_is_refused() {
        for (topic, module, found, connected) in [
            (
                "devices/dev2/messages/events/",
                None,
                "device \"dev2\"",
                "device \"dev1\"",
            ),
            (
                "devices/DEV1/messages/events/",
                None,
                "device \"DEV1\"",
                "device \"dev1\"",
            ),
            (
                "devices/dev1/modules/m/messages/events/",
                None,
                "module \"m\" of device \"dev1\"",
                "device \"dev1\"",
            ),
            (
                "devices/dev1/messages/events/",
                Some("m"),
                "device \"dev1\"",
                "module \"m\" of device \"dev1\"",
            ),
        ] {
            assert_eq!(
                parse_device_topic(topic, "dev1", module).unwrap_err(),
                TopicError::ForeignIdentity {
                    topic: topic.into(),
                    found: found.into(),
                    connected: connected.into()
                }
            );
        }
    }

    #[test]
    fn wildcards_in_a_publish_topic_are_refused() {
        assert!(matches!(
            parse("devices/dev1/messages/events/#").unwrap_err(),
            TopicError::Wildcard { wildcard: '#', .. }
        ));
        assert!(matches!(
            parse("$iothub/methods/res/+/?$rid=1").unwrap_err(),
            TopicError::Wildcard { wildcard: '+', .. }
        ));
    }

    #[test]
    fn topics_a_device_may_not_publish_are_unknown() {
        for topic in [
            "",
            "telemetry",
            "$iothub/twin/PATCH/properties/desired/?$version=1",
            "$iothub/methods/POST/reboot/?$rid=1",
            "$iothub/twin/get/?$rid=1",
            "$iothub/twin/res/200/?$rid=1",
        ] {
            let err = parse(topic).unwrap_err();
            assert_eq!(
                err,
                TopicError::Unknown {
                    topic: topic.into(),
                    what: "a topic a device may publish to",
                    expected: ALL_DEVICE_TOPICS
                }
            );
            assert!(err.to_string().contains("$iothub/twin/GET/?$rid={rid}"));
        }
    }

    #[test]
    fn a_method_status_must_be_an_integer() {
        let topic = "$iothub/methods/res/ok/?$rid=1";
        assert_eq!(
            parse(topic).unwrap_err(),
            TopicError::Malformed {
                topic: topic.into(),
                problem: "the status \"ok\" is not an integer".into(),
                expected: METHOD_RESPONSE
            }
        );
    }

    #[test]
    fn request_topics_need_a_request_id() {
        for topic in [
            "$iothub/twin/GET/",
            "$iothub/twin/PATCH/properties/reported/?$version=3",
            "$iothub/methods/res/200/",
        ] {
            assert!(matches!(
                parse(topic).unwrap_err(),
                TopicError::MissingParameter { name: "$rid", .. }
            ));
        }
    }

    #[test]
    fn the_documented_patterns_are_quoted_in_errors() {
        assert!(ALL_DEVICE_TOPICS.contains(METHOD_RESPONSE));
        assert!(ALL_DEVICE_TOPICS.contains(TELEMETRY));
        let err = parse("devices/dev1/messages/evt").unwrap_err();
        assert!(err.to_string().contains(TELEMETRY), "{err}");
    }
}
