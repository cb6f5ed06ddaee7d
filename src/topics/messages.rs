//! Message topics — telemetry (`devices/{d}[/modules/{m}]/messages/events/...`) and
//! cloud-to-device (`devices/{d}/messages/devicebound/...`) — and their property bag.
//!
//! Device and module ids travel verbatim: IoT Hub does not percent-decode them, and the
//! Python SDK stopped encoding them for that reason. The property bag is the part after the
//! channel level: `name=value` pairs joined by `&`, each name and value percent-encoded.

use percent_encoding::percent_decode_str;

use crate::url_component::encode;

use super::error::TopicError;

/// One message property: system ones are named `$.ct`, `$.ce`, `$.mid` ...; application ones
/// keep their own names. `None` is a name without `=`, which IoT Hub uses for a null value
/// in cloud-to-device messages; `Some("")` is `name=`.
pub type MessageProperty = (String, Option<String>);

/// A message topic with its identity levels and its decoded property bag.
pub(super) struct MessageTopic<'a> {
    pub(super) device_id: &'a str,
    pub(super) module_id: Option<&'a str>,
    pub(super) properties: Vec<MessageProperty>,
}

/// Builds `devices/{d}[/modules/{m}]/messages/{channel}/{bag}` the way the Python SDK does.
pub(super) fn format_message_topic(
    device_id: &str,
    module_id: Option<&str>,
    channel: &str,
    properties: &[MessageProperty],
) -> String {
    let mut topic = format!("devices/{device_id}/");
    if let Some(module_id) = module_id {
        topic.push_str(&format!("modules/{module_id}/"));
    }
    topic.push_str(&format!("messages/{channel}/"));
    let pairs: Vec<String> = properties
        .iter()
        .map(|(name, value)| {
            // As the Python SDK writes them: `$.ct=application/json` becomes
            // `%24.ct=application%2Fjson`.
            let name = encode(name);
            match value {
                Some(value) => {
                    format!("{name}={}", encode(value))
                }
                None => name,
            }
        })
        .collect();
    topic.push_str(&pairs.join("&"));
    topic
}

/// Parses `topic` (which must start with `devices/`) as a message topic on `channel`.
///
/// Accepted after the channel level: nothing, `/`, or `/` followed by the bag. Real senders
/// vary: SDKs send `events/` plus the bag, the C SDK leaves `/` in values unencoded by
/// default (so the bag is everything after the channel, never split on `/`), and IoT Edge
/// documents a bag starting with `?` and one ending in `/` — both are stripped.
pub(super) fn parse_message_topic<'a>(
    topic: &'a str,
    channel: &str,
    expected: &'static str,
) -> Result<MessageTopic<'a>, TopicError> {
    let malformed = |problem: String| TopicError::Malformed {
        topic: topic.into(),
        problem,
        expected,
    };
    let rest = topic
        .strip_prefix("devices/")
        .ok_or_else(|| malformed("it does not start with \"devices/\"".into()))?;
    let (device_id, mut rest) = rest
        .split_once('/')
        .ok_or_else(|| malformed("nothing follows the device id".into()))?;
    if device_id.is_empty() {
        return Err(malformed("the device id is empty".into()));
    }
    let mut module_id = None;
    if let Some(after) = rest.strip_prefix("modules/") {
        let (module, after_module) = after
            .split_once('/')
            .ok_or_else(|| malformed("nothing follows the module id".into()))?;
        if module.is_empty() {
            return Err(malformed("the module id is empty".into()));
        }
        module_id = Some(module);
        rest = after_module;
    }
    let channel_level = format!("messages/{channel}");
    let bag = rest
        .strip_prefix(&channel_level)
        .and_then(|after| match after {
            "" => Some(""),
            _ => after.strip_prefix('/'),
        })
        .ok_or_else(|| malformed(format!("\"{channel_level}\" must follow the identity")))?;
    let bag = bag.strip_prefix('?').unwrap_or(bag);
    let bag = bag.strip_suffix('/').unwrap_or(bag);
    Ok(MessageTopic {
        device_id,
        module_id,
        properties: parse_property_bag(topic, bag)?,
    })
}

/// Decodes `name=value&name2=value2`. Empty segments (`a=1&&b=2`, a trailing `&`) carry
/// nothing and are skipped, as the C SDK does; a property without a name is refused.
/// Decoding is lenient about `%` not followed by two hex digits (the C SDK sends values
/// unencoded by default, so a raw `50%` must survive) but the result must be UTF-8.
fn parse_property_bag(topic: &str, bag: &str) -> Result<Vec<MessageProperty>, TopicError> {
    let invalid = |problem: String| TopicError::InvalidPropertyBag {
        topic: topic.into(),
        problem,
    };
    let decode = |text: &str| {
        percent_decode_str(text)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| invalid(format!("{text:?} does not decode to UTF-8")))
    };
    bag.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = match segment.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (segment, None),
            };
            if name.is_empty() {
                return Err(invalid(format!("{segment:?} has no property name")));
            }
            Ok((decode(name)?, value.map(decode).transpose()?))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EXPECTED: &str = "a message pattern";

    fn property(name: &str, value: Option<&str>) -> MessageProperty {
        (name.into(), value.map(Into::into))
    }

    fn parse(topic: &str) -> Result<MessageTopic<'_>, TopicError> {
        parse_message_topic(topic, "events", EXPECTED)
    }

    #[test]
    fn python_sdk_telemetry_topic_decodes_its_system_properties() {
        let parsed =
            parse("devices/dev1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8").unwrap();
        assert_eq!(parsed.device_id, "dev1");
        assert_eq!(parsed.module_id, None);
        assert_eq!(
            parsed.properties,
            vec![
                property("$.ct", Some("application/json")),
                property("$.ce", Some("utf-8"))
            ]
        );
    }

    #[test]
    fn c_sdk_unencoded_values_keep_their_slashes_and_percent_signs() {
        let parsed =
            parse("devices/dev1/messages/events/level=50%&%24.mid=7&%24.ct=application/json")
                .unwrap();
        assert_eq!(
            parsed.properties,
            vec![
                property("level", Some("50%")),
                property("$.mid", Some("7")),
                property("$.ct", Some("application/json"))
            ]
        );
    }

    #[test]
    fn bag_variants_seen_in_docs_are_accepted() {
        for topic in [
            "devices/d/messages/events",
            "devices/d/messages/events/",
            "devices/d/messages/events/?",
        ] {
            assert!(parse(topic).unwrap().properties.is_empty(), "{topic}");
        }
        let edge = parse_message_topic(
            "devices/e/modules/m/messages/events/%24.on=alert/",
            "events",
            EXPECTED,
        )
        .unwrap();
        assert_eq!(edge.module_id, Some("m"));
        assert_eq!(edge.properties, vec![property("$.on", Some("alert"))]);
        let query_form = parse("devices/d/messages/events/?food=I%20like%20fries&&pet=").unwrap();
        assert_eq!(
            query_form.properties,
            vec![
                property("food", Some("I like fries")),
                property("pet", Some(""))
            ]
        );
    }

    #[test]
    fn a_name_without_equals_is_a_null_value() {
        let parsed = parse_message_topic(
            "devices/d/messages/devicebound/prop1&prop2=&prop3=a%20string",
            "devicebound",
            EXPECTED,
        )
        .unwrap();
        assert_eq!(
            parsed.properties,
            vec![
                property("prop1", None),
                property("prop2", Some("")),
                property("prop3", Some("a string"))
            ]
        );
    }

    #[test]
    fn formatting_matches_the_python_sdk_byte_for_byte() {
        let properties = [
            property("$.ct", Some("application/json")),
            property("$.ce", Some("utf-8")),
        ];
        assert_eq!(
            format_message_topic("dev1", None, "events", &properties),
            "devices/dev1/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8"
        );
        assert_eq!(
            format_message_topic("d", Some("m"), "events", &[]),
            "devices/d/modules/m/messages/events/"
        );
        assert_eq!(
            format_message_topic("d", None, "devicebound", &[property("p", None)]),
            "devices/d/messages/devicebound/p"
        );
    }

    #[test]
    fn malformed_message_topics_say_what_is_wrong() {
        for (topic, problem) in [
            ("telemetry/d", "it does not start with \"devices/\""),
            ("devices/d", "nothing follows the device id"),
            ("devices//messages/events/", "the device id is empty"),
            ("devices/d/modules/m", "nothing follows the module id"),
            (
                "devices/d/modules//messages/events/",
                "the module id is empty",
            ),
            (
                "devices/d/messages/eventsX",
                "\"messages/events\" must follow the identity",
            ),
            (
                "devices/d/inputs/x",
                "\"messages/events\" must follow the identity",
            ),
        ] {
            let err = parse(topic).err().unwrap();
            assert_eq!(
                err,
                TopicError::Malformed {
                    topic: topic.into(),
                    problem: problem.into(),
                    expected: EXPECTED
                }
            );
        }
    }

    #[test]
    fn invalid_property_bags_are_refused() {
        for (topic, problem) in [
            (
                "devices/d/messages/events/=v",
                "\"=v\" has no property name",
            ),
            (
                "devices/d/messages/events/a=%FF",
                "\"%FF\" does not decode to UTF-8",
            ),
        ] {
            let err = parse(topic).err().unwrap();
            assert_eq!(
                err,
                TopicError::InvalidPropertyBag {
                    topic: topic.into(),
                    problem: problem.into()
                }
            );
        }
    }
}
