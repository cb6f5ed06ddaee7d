//! The structure shared by every `$iothub/...` topic: path levels, then `/?`, then
//! `$name=value` parameters separated by `&` in any order. Also the check every PUBLISH topic
//! goes through first (no wildcards, no NUL). Values are kept verbatim, never decoded.

use super::error::TopicError;
use super::ids::RequestId;

/// The name of the request-id parameter.
pub(super) const RID: &str = "$rid";
/// The name of the version parameter.
pub(super) const VERSION: &str = "$version";

/// Refuses what MQTT forbids in any topic name, before any IoT Hub rule is looked at.
pub(super) fn check_topic_name(topic: &str) -> Result<(), TopicError> {
    if let Some(wildcard) = topic.chars().find(|c| matches!(c, '+' | '#')) {
        return Err(TopicError::Wildcard {
            topic: topic.into(),
            wildcard,
        });
    }
    if topic.contains('\0') {
        return Err(TopicError::NulCharacter {
            topic: topic.into(),
        });
    }
    Ok(())
}

/// A `$iothub/...` topic split into its path (without the trailing `/`) and its parameters.
pub(super) struct IothubTopic<'a> {
    topic: &'a str,
    /// The levels before `/?`, e.g. `$iothub/twin/res/200`.
    pub(super) path: &'a str,
    params: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> IothubTopic<'a> {
    /// Splits `topic` at its first `?`, which must follow a `/` as in every documented topic.
    /// A topic without `?` has no parameters (a tolerated trailing `/` is dropped), so that
    /// the caller can name the missing one. `expected` is the pattern quoted when the shape
    /// is wrong.
    pub(super) fn split(topic: &'a str, expected: &'static str) -> Result<Self, TopicError> {
        let (path, query) = match topic.split_once('?') {
            Some((before, query)) => match before.strip_suffix('/') {
                Some(path) => (path, query),
                None => {
                    return Err(TopicError::Malformed {
                        topic: topic.into(),
                        problem: "the parameters must follow \"/?\"".into(),
                        expected,
                    });
                }
            },
            None => (topic.strip_suffix('/').unwrap_or(topic), ""),
        };
        let params = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (pair, None),
            })
            .collect();
        Ok(Self {
            topic,
            path,
            params,
        })
    }

    /// The value of parameter `name` if present once; `Some("")` for a bare `name`.
    /// Other parameters are ignored, so clients may add their own (Node adds `$version`
    /// to reported patches).
    pub(super) fn optional(&self, name: &'static str) -> Result<Option<&'a str>, TopicError> {
        let mut values = self
            .params
            .iter()
            .filter(|(candidate, _)| *candidate == name)
            .map(|(_, value)| value.unwrap_or(""));
        let first = values.next();
        if values.next().is_some() {
            return Err(TopicError::DuplicateParameter {
                topic: self.topic.into(),
                name,
            });
        }
        Ok(first)
    }

    /// The value of parameter `name`, which must be present exactly once.
    pub(super) fn required(&self, name: &'static str) -> Result<&'a str, TopicError> {
        self.optional(name)?
            .ok_or_else(|| TopicError::MissingParameter {
                topic: self.topic.into(),
                name,
            })
    }

    /// The `$rid` parameter, verbatim.
    pub(super) fn request_id(&self) -> Result<RequestId, TopicError> {
        let value = self.required(RID)?;
        RequestId::new(value).map_err(|_| TopicError::InvalidParameter {
            topic: self.topic.into(),
            name: RID,
            value: value.into(),
            expected: "a non-empty request id",
        })
    }

    /// The `$version` parameter, which must be present.
    pub(super) fn version(&self) -> Result<u64, TopicError> {
        let value = self.required(VERSION)?;
        self.parse_version(value)
    }

    /// The `$version` parameter, if present.
    pub(super) fn optional_version(&self) -> Result<Option<u64>, TopicError> {
        self.optional(VERSION)?
            .map(|value| self.parse_version(value))
            .transpose()
    }

    fn parse_version(&self, value: &str) -> Result<u64, TopicError> {
        value.parse().map_err(|_| TopicError::InvalidParameter {
            topic: self.topic.into(),
            name: VERSION,
            value: value.into(),
            expected: "a non-negative integer",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EXPECTED: &str = "a test pattern";

    #[test]
    fn parameters_are_found_in_any_order_and_unknown_ones_are_ignored() {
        let topic = "$iothub/twin/res/204/?$version=6&x-extra=1&$rid=abc";
        let split = IothubTopic::split(topic, EXPECTED).unwrap();
        assert_eq!(split.path, "$iothub/twin/res/204");
        assert_eq!(split.request_id().unwrap().as_str(), "abc");
        assert_eq!(split.version().unwrap(), 6);
        assert_eq!(split.optional("x-missing").unwrap(), None);
    }

    #[test]
    fn a_topic_without_parameters_reports_the_missing_one() {
        for topic in ["$iothub/twin/GET/", "$iothub/twin/GET"] {
            let split = IothubTopic::split(topic, EXPECTED).unwrap();
            assert_eq!(split.path, "$iothub/twin/GET");
            assert_eq!(
                split.request_id().unwrap_err(),
                TopicError::MissingParameter {
                    topic: topic.into(),
                    name: RID
                }
            );
        }
    }

    #[test]
    fn parameters_must_follow_a_slash() {
        let topic = "$iothub/twin/GET?$rid=1";
        let err = IothubTopic::split(topic, EXPECTED).err().unwrap();
        assert!(matches!(err, TopicError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains(EXPECTED), "{err}");
    }

    #[test]
    fn a_repeated_parameter_is_ambiguous() {
        let topic = "$iothub/twin/GET/?$rid=1&$rid=2";
        let split = IothubTopic::split(topic, EXPECTED).unwrap();
        assert_eq!(
            split.request_id().unwrap_err(),
            TopicError::DuplicateParameter {
                topic: topic.into(),
                name: RID
            }
        );
    }

    #[test]
    fn an_empty_request_id_is_refused() {
        for topic in ["$iothub/twin/GET/?$rid=", "$iothub/twin/GET/?$rid"] {
            let split = IothubTopic::split(topic, EXPECTED).unwrap();
            assert!(matches!(
                split.request_id().unwrap_err(),
                TopicError::InvalidParameter { name: RID, .. }
            ));
        }
    }

    #[test]
    fn a_version_must_be_a_non_negative_integer() {
        for value in ["", "-1", "1.5", "v3", "18446744073709551616"] {
            let topic = format!("$iothub/twin/res/204/?$rid=1&$version={value}");
            let split = IothubTopic::split(&topic, EXPECTED).unwrap();
            let err = split.optional_version().unwrap_err();
            assert_eq!(
                err,
                TopicError::InvalidParameter {
                    topic: topic.clone(),
                    name: VERSION,
                    value: value.into(),
                    expected: "a non-negative integer"
                }
            );
        }
        let split = IothubTopic::split("$iothub/twin/res/200/?$rid=1", EXPECTED).unwrap();
        assert_eq!(split.optional_version().unwrap(), None);
    }

    #[test]
    fn wildcards_and_nul_are_refused_in_topic_names() {
        assert_eq!(
            check_topic_name("devices/a+b/messages/events/").unwrap_err(),
            TopicError::Wildcard {
                topic: "devices/a+b/messages/events/".into(),
                wildcard: '+'
            }
        );
        assert_eq!(
            check_topic_name("$iothub/twin/res/#").unwrap_err(),
            TopicError::Wildcard {
                topic: "$iothub/twin/res/#".into(),
                wildcard: '#'
            }
        );
        assert_eq!(
            check_topic_name("$iothub/twin/GET/?$rid=\0").unwrap_err(),
            TopicError::NulCharacter {
                topic: "$iothub/twin/GET/?$rid=\0".into()
            }
        );
        assert!(check_topic_name("$iothub/twin/GET/?$rid=1").is_ok());
    }
}
