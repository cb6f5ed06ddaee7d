//! The one error type of the topic vocabulary: every way a topic, filter, request id, method
//! name or CONNECT username can be refused, each message naming the input and the way out.
//! Topics and usernames never carry secrets (the SAS token travels in the password), so
//! quoting them in full is safe.

/// Why a topic, subscription filter, request id, method name or MQTT username was refused.
///
/// The hub turns these into a closed connection or a failed SUBACK; the device client shows
/// them to the user. Either way the message must say what was wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// A PUBLISH topic contained `+` or `#`, which MQTT reserves for subscription filters.
    #[error(
        "topic {topic:?} contains the MQTT wildcard {wildcard:?}, which only subscription filters \
         may use; publish to a concrete topic (a device or module id containing '+' or '#' cannot \
         be used in device-specific topics)"
    )]
    Wildcard {
        /// The refused topic.
        topic: String,
        /// The wildcard found.
        wildcard: char,
    },

    /// A topic contained U+0000, which MQTT forbids in topic names.
    #[error(
        "topic {topic:?} contains a NUL character, which MQTT forbids in topic names; remove it"
    )]
    NulCharacter {
        /// The refused topic.
        topic: String,
    },

    /// The topic is not one IoT Hub uses in this direction at all.
    #[error("topic {topic:?} is not {what}; expected one of {expected}")]
    Unknown {
        /// The refused topic.
        topic: String,
        /// Which kind of topic was expected, e.g. "a topic a device may publish to".
        what: &'static str,
        /// The accepted topic patterns.
        expected: &'static str,
    },

    /// The topic starts like a known one but its shape is wrong.
    #[error("topic {topic:?} is malformed: {problem}; expected {expected}")]
    Malformed {
        /// The refused topic.
        topic: String,
        /// What exactly is wrong.
        problem: String,
        /// The pattern the topic should follow.
        expected: &'static str,
    },

    /// A required `$`-parameter (`$rid`, `$version`) is absent.
    #[error(
        "topic {topic:?} lacks the {name} parameter; add `{name}=...` to the parameters after \"/?\""
    )]
    MissingParameter {
        /// The refused topic.
        topic: String,
        /// The missing parameter, e.g. `$rid`.
        name: &'static str,
    },

    /// A `$`-parameter appears more than once, so its value is ambiguous.
    #[error("topic {topic:?} carries the {name} parameter more than once; send it exactly once")]
    DuplicateParameter {
        /// The refused topic.
        topic: String,
        /// The repeated parameter.
        name: &'static str,
    },

    /// A `$`-parameter has a value of the wrong shape.
    #[error("topic {topic:?} has {name}={value:?}, but {name} must be {expected}")]
    InvalidParameter {
        /// The refused topic.
        topic: String,
        /// The parameter, e.g. `$version`.
        name: &'static str,
        /// The value found.
        value: String,
        /// What the value must look like.
        expected: &'static str,
    },

    /// A device-specific topic names a device or module other than the connected one.
    #[error(
        "topic {topic:?} addresses {found}, but this connection is {connected}; a client may only \
         use the topics of the identity it connected as"
    )]
    ForeignIdentity {
        /// The refused topic.
        topic: String,
        /// The identity the topic names, e.g. "device `dev2`".
        found: String,
        /// The identity of the connection, e.g. "device `dev1`".
        connected: String,
    },

    /// The `k=v&k2=v2` property bag of a message topic cannot be decoded.
    #[error(
        "topic {topic:?} has an invalid property bag: {problem}; encode it as \
         name=value&name2=value2 with percent-encoded UTF-8"
    )]
    InvalidPropertyBag {
        /// The refused topic.
        topic: String,
        /// What exactly is wrong.
        problem: String,
    },

    /// A SUBSCRIBE filter that IoT Hub does not offer.
    #[error("subscription filter {filter:?} is not one IoT Hub allows; use one of {allowed}")]
    UnsupportedFilter {
        /// The refused filter.
        filter: String,
        /// The filters this connection may use.
        allowed: String,
    },

    /// A request id that could not travel in a topic unchanged.
    #[error(
        "request id {rid:?} is invalid: {problem}; use a non-empty id without '&', '+', '#' or \
         NUL, such as a counter or a UUID"
    )]
    InvalidRequestId {
        /// The refused request id.
        rid: String,
        /// What exactly is wrong.
        problem: &'static str,
    },

    /// A direct-method name that could not travel in a topic level unchanged.
    #[error(
        "method name {name:?} is invalid: {problem}; use a non-empty name without '/', '?', '+', \
         '#' or NUL"
    )]
    InvalidMethodName {
        /// The refused method name.
        name: String,
        /// What exactly is wrong.
        problem: &'static str,
    },

    /// A CONNECT username that does not follow `{host}/{deviceId}[/{moduleId}]/?{params}`.
    #[error(
        "MQTT username {username:?} is malformed: {problem}; expected \
         {{host}}/{{deviceId}}/?api-version=... or {{host}}/{{deviceId}}/{{moduleId}}/?api-version=..."
    )]
    InvalidUsername {
        /// The refused username (it never holds the SAS token, which is the password).
        username: String,
        /// What exactly is wrong.
        problem: String,
    },
}
