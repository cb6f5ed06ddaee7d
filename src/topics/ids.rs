//! Validated newtypes for the two values the hub echoes into topics: the request id (`$rid`)
//! and the direct-method name. Both travel verbatim — never percent-encoded or decoded — so
//! each type refuses exactly the characters that would change a topic's structure.

use std::fmt;

use super::error::TopicError;

/// The opaque `$rid` a client attaches to a request and the hub echoes in the answer.
///
/// SDKs differ (a UUID in Python and Node, a small integer in C), so the hub must hand back
/// exactly the text it received: a `RequestId` is kept as it appeared in the topic, still
/// percent-encoded if the sender encoded it. It may not be empty and may not contain `&`
/// (the parameter separator), `+` or `#` (MQTT wildcards) or NUL, so that formatting a topic
/// with it and parsing that topic back always yields the same id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Checks that `rid` can travel in a topic unchanged.
    pub fn new(rid: impl Into<String>) -> Result<Self, TopicError> {
        let rid = rid.into();
        let problem = if rid.is_empty() {
            Some("it is empty")
        } else if rid.contains('&') {
            Some("'&' separates topic parameters")
        } else if rid.contains(['+', '#']) {
            Some("'+' and '#' are MQTT wildcards")
        } else if rid.contains('\0') {
            Some("MQTT forbids NUL in topics")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(TopicError::InvalidRequestId { rid, problem }),
            None => Ok(Self(rid)),
        }
    }

    /// The id exactly as it travels in the topic.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Counters make valid request ids, as the C SDK's do.
impl From<u64> for RequestId {
    fn from(counter: u64) -> Self {
        Self(counter.to_string())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a direct method, carried verbatim as one level of
/// `$iothub/methods/POST/{name}/?$rid={rid}`.
///
/// IoT Hub does not percent-encode the name (the C SDK reads the level raw, Python
/// percent-decodes it, and both agree only on names that need no encoding), so the hub must
/// refuse names that would break the topic: empty, or containing `/` (level separator), `?`
/// (start of the parameters), `+` or `#` (MQTT wildcards) or NUL. The service REST handler
/// should build a `MethodName` before queueing an invocation and answer 400 when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodName(String);

impl MethodName {
    /// Checks that `name` can travel as a topic level unchanged.
    pub fn new(name: impl Into<String>) -> Result<Self, TopicError> {
        let name = name.into();
        let problem = if name.is_empty() {
            Some("it is empty")
        } else if name.contains('/') {
            Some("'/' separates topic levels")
        } else if name.contains('?') {
            Some("'?' starts the topic parameters")
        } else if name.contains(['+', '#']) {
            Some("'+' and '#' are MQTT wildcards")
        } else if name.contains('\0') {
            Some("MQTT forbids NUL in topics")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(TopicError::InvalidMethodName { name, problem }),
            None => Ok(Self(name)),
        }
    }

    /// The name exactly as it travels in the topic.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_real_sdks_are_accepted_verbatim() {
        for rid in [
            "1",
            "42",
            "505e09bb-0076-4b9f-b4a3-529430f1593f",
            "a%2Fb",
            "a/b?c=d",
        ] {
            assert_eq!(RequestId::new(rid).unwrap().as_str(), rid);
        }
        assert_eq!(RequestId::from(7).as_str(), "7");
        assert_eq!(RequestId::from(7).to_string(), "7");
    }

    #[test]
    fn request_ids_that_would_change_the_topic_are_refused() {
        for (rid, problem) in [
            ("", "it is empty"),
            ("a&b", "'&' separates topic parameters"),
            ("a+b", "'+' and '#' are MQTT wildcards"),
            ("a#", "'+' and '#' are MQTT wildcards"),
            ("a\0", "MQTT forbids NUL in topics"),
        ] {
            let err = RequestId::new(rid).unwrap_err();
            assert_eq!(
                err,
                TopicError::InvalidRequestId {
                    rid: rid.into(),
                    problem
                }
            );
            assert!(err.to_string().contains("use a non-empty id"), "{err}");
        }
    }

    #[test]
    fn method_names_with_punctuation_are_accepted_verbatim() {
        for name in ["reboot", "set value", "a:b=c&d", "%41", "(x),;@!'$*"] {
            assert_eq!(MethodName::new(name).unwrap().as_str(), name);
            assert_eq!(MethodName::new(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn method_names_that_would_change_the_topic_are_refused() {
        for (name, problem) in [
            ("", "it is empty"),
            ("a/b", "'/' separates topic levels"),
            ("a?b", "'?' starts the topic parameters"),
            ("a+", "'+' and '#' are MQTT wildcards"),
            ("#", "'+' and '#' are MQTT wildcards"),
            ("a\0", "MQTT forbids NUL in topics"),
        ] {
            let err = MethodName::new(name).unwrap_err();
            assert_eq!(
                err,
                TopicError::InvalidMethodName {
                    name: name.into(),
                    problem
                }
            );
            assert!(err.to_string().contains(&format!("{name:?}")), "{err}");
        }
    }
}
