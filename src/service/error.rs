//! [`ServiceError`]: every way a service call can fail, each saying what was being done, to
//! which device, and what to try next. No variant ever holds a key or a token.

use super::azure_error::AzureError;

/// Why a service call (or building the client) failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The hub answered with an error status.
    #[error("{}", describe_refusal(.operation, .error))]
    Hub {
        /// What was being done, e.g. "reading the twin of device 'd1'".
        operation: String,
        /// What the hub said.
        error: Box<AzureError>,
    },
    /// The request never got an answer: the connection failed or timed out.
    #[error("{}", describe_transport(.operation, .url, .source))]
    Transport {
        /// What was being done.
        operation: String,
        /// The URL that was called (it carries no credentials).
        url: String,
        /// The HTTP client's error.
        source: reqwest::Error,
    },
    /// The hub answered success, but not with the document the API promises.
    #[error(
        "{operation}: the hub's answer is not the expected {expected}: {detail}; check that the \
         base URL points at an IoT Hub service endpoint"
    )]
    UnexpectedResponse {
        /// What was being done.
        operation: String,
        /// What was expected, e.g. "device twin JSON".
        expected: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A client option is unusable.
    #[error("{option} {problem}")]
    InvalidOption {
        /// Which option, e.g. "the base URL `ftp://x`".
        option: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The hub has no live telemetry stream (Azure IoT Hub serves telemetry through its
    /// Event Hub-compatible endpoint instead).
    #[error(
        "{host} has no live telemetry stream: Azure IoT Hub serves device telemetry only \
         through its Event Hub-compatible endpoint (AMQP), which twinlens cannot read yet; \
         use `az iot hub monitor-events` there. Telemetry of devices simulated in twinlens is \
         still shown"
    )]
    TelemetryUnavailable {
        /// The hub's host name.
        host: String,
    },
    /// An argument cannot be sent (e.g. an empty device id).
    #[error("{0}")]
    InvalidArgument(String),
}

/// A failed request with every cause the HTTP client gives (the interesting one, such as an
/// untrusted certificate, is usually several levels down) and advice that fits it.
fn describe_transport(operation: &str, url: &str, source: &reqwest::Error) -> String {
    let causes = crate::error_text::with_causes(source);
    let advice = crate::error_text::untrusted_certificate_advice(&causes).unwrap_or(
        "check the host name (or the base URL), the network, and that the hub is running",
    );
    format!("{operation} failed: no answer from {url}: {causes}; {advice}")
}

impl ServiceError {
    /// The HTTP status of a hub refusal.
    pub fn status(&self) -> Option<u16> {
        self.azure().map(|error| error.status)
    }

    /// Azure's numeric error code of a hub refusal (e.g. 404001).
    pub fn error_code(&self) -> Option<u32> {
        self.azure().and_then(|error| error.code)
    }

    /// The name of Azure's error code (e.g. `DeviceNotFound`).
    pub fn code_name(&self) -> Option<&str> {
        self.azure().and_then(|error| error.code_name.as_deref())
    }

    /// The tracking id of a hub refusal, for Azure support or the hub's log.
    pub fn tracking_id(&self) -> Option<&str> {
        self.azure().and_then(|error| error.tracking_id.as_deref())
    }

    /// The hub's answer, when it refused the request.
    pub fn azure(&self) -> Option<&AzureError> {
        match self {
            ServiceError::Hub { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// "{operation} failed: the hub answered 404 DeviceNotFound (404001): {message}; {advice}
/// (tracking id ...)".
fn describe_refusal(operation: &str, error: &AzureError) -> String {
    let mut text = format!("{operation} failed: the hub answered {}", error.status);
    if let Some(name) = &error.code_name {
        text.push_str(&format!(" {name}"));
    }
    if let Some(code) = error.code {
        text.push_str(&format!(" ({code})"));
    }
    if !error.message.is_empty() {
        text.push_str(&format!(": {}", error.message));
    }
    text.push_str(&format!("; {}", advice(error)));
    if let Some(tracking_id) = &error.tracking_id {
        text.push_str(&format!(" (tracking id {tracking_id})"));
    }
    text
}

/// What the user can do about a refusal.
fn advice(error: &AzureError) -> &'static str {
    match (error.code, error.status) {
        (Some(404001), _) => "check the device id, or create the device first",
        (Some(404103), _) => {
            "the device is not connected or has not subscribed to direct methods; start it, or \
             give it a connect timeout"
        }
        (Some(409001), _) => "choose another id, or update the existing device instead",
        (Some(504101), _) => {
            "the device did not answer in time; check the device, or raise the response timeout"
        }
        (_, 401) => {
            "check the connection string's SharedAccessKey and SharedAccessKeyName, and that the \
             computer's clock is right"
        }
        (_, 403) => "the shared access policy lacks this permission, or the hub's quota is used up",
        (_, 404) => "check the id and the base URL",
        (_, 412) => "someone changed it meanwhile; read it again for the current etag and retry",
        (_, 413) => "make the document or payload smaller",
        (_, 429) => "the hub is throttling requests; wait and send fewer requests per second",
        (_, status) if status >= 500 => "the hub had a problem; try again later",
        _ => "check the request's arguments",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, code: Option<u32>, name: Option<&str>) -> ServiceError {
        ServiceError::Hub {
            operation: "reading device 'd1'".into(),
            error: Box::new(AzureError {
                status,
                code,
                code_name: name.map(str::to_owned),
                message: "Device d1 not registered".into(),
                tracking_id: Some("t1".into()),
            }),
        }
    }

    #[test]
    fn refusals_say_what_where_and_what_to_do() {
        let error = refusal(404, Some(404001), Some("DeviceNotFound"));
        assert_eq!(
            error.to_string(),
            "reading device 'd1' failed: the hub answered 404 DeviceNotFound (404001): Device d1 \
             not registered; check the device id, or create the device first (tracking id t1)"
        );
        assert_eq!(error.status(), Some(404));
        assert_eq!(error.error_code(), Some(404001));
        assert_eq!(error.code_name(), Some("DeviceNotFound"));
        assert_eq!(error.tracking_id(), Some("t1"));
    }

    #[test]
    fn advice_follows_the_code_then_the_status() {
        let unauthorized = refusal(401, None, None).to_string();
        assert!(unauthorized.contains("SharedAccessKey"), "{unauthorized}");
        let conflict = refusal(412, Some(412001), None).to_string();
        assert!(conflict.contains("current etag"), "{conflict}");
        let unknown = refusal(418, None, None).to_string();
        assert!(unknown.contains("arguments"), "{unknown}");
        assert_eq!(ServiceError::InvalidArgument("x".into()).error_code(), None);
    }
}
