//! Every failure the local hub reports to a client, with the numeric error code and
//! name Azure IoT Hub uses for it. The REST layer turns these into Azure's error JSON;
//! the MQTT layer into the status of a `$iothub/.../res/{status}` reply.

use crate::twin::TwinError;

/// A request the hub refused or could not complete.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The request has no `api-version`, or one that names no version.
    #[error("{0}")]
    InvalidProtocolVersion(String),
    /// The request is malformed: bad JSON, a bad field, a bad header.
    #[error("{0}")]
    ArgumentInvalid(String),
    /// The request body is not declared as the content type the route takes.
    #[error("{0}")]
    InvalidContentType(String),
    /// The twin document or patch breaks one of IoT Hub's rules.
    #[error(transparent)]
    Twin(#[from] TwinError),
    /// The query text does not parse.
    #[error("{0}")]
    QueryInvalid(String),
    /// No (or no valid) SAS token authorises the request.
    #[error("{0}")]
    Unauthorized(String),
    /// The device id is not in the registry.
    #[error("Device {device_id} not registered")]
    DeviceNotFound {
        /// The id that was asked for.
        device_id: String,
    },
    /// The device exists but has no module with this id.
    #[error("Module {module_id} is not registered on device {device_id}")]
    ModuleNotFound {
        /// The device asked for.
        device_id: String,
        /// The module id that was asked for.
        module_id: String,
    },
    /// A create request names a module the device already has.
    #[error("A module with ID '{module_id}' is already registered on device '{device_id}'")]
    ModuleAlreadyExistsOnDevice {
        /// The device.
        device_id: String,
        /// The id that is taken.
        module_id: String,
    },
    /// A direct method was invoked on a device (or module) that is not connected.
    #[error(
        "Timed out waiting for {} to connect: it is not online or has not subscribed to \
         direct methods", crate::twin::key::describe(.device_id)
    )]
    DeviceNotOnline {
        /// The device (or `{deviceId}/{moduleId}`) that was asked for.
        device_id: String,
    },
    /// A create request names a device that already exists.
    #[error("A device with ID '{device_id}' is already registered")]
    DeviceAlreadyExists {
        /// The id that is taken.
        device_id: String,
    },
    /// The `If-Match` etag does not match the current one.
    #[error(
        "Precondition failed: the etag {given} does not match the current etag {current}; read the resource again and retry"
    )]
    PreconditionFailed {
        /// The etag the client sent.
        given: String,
        /// The etag the resource has now.
        current: String,
    },
    /// The device did not answer a direct method in time.
    #[error(
        "Timed out waiting for the response from {} to method '{method}'",
        crate::twin::key::describe(.device_id)
    )]
    GatewayTimeout {
        /// The device (or `{deviceId}/{moduleId}`) that was invoked.
        device_id: String,
        /// The method name.
        method: String,
    },
    /// A device's cloud-to-device queue is full.
    #[error(
        "C2D messages enqueued for device {device_id} exceeded the queue limit of {limit}; \
         wait for the device to receive them, or purge its queue"
    )]
    DeviceMaximumQueueDepthExceeded {
        /// The device.
        device_id: String,
        /// How many messages a queue holds.
        limit: usize,
    },
    /// The request body is larger than the hub accepts.
    #[error("{0}")]
    MessageTooLarge(String),
    /// No job has this id.
    #[error("Job {job_id} was not found")]
    JobNotFound {
        /// The id that was asked for.
        job_id: String,
    },
    /// A job with this id exists already.
    #[error("A job with ID '{job_id}' already exists; choose another job id")]
    JobAlreadyExists {
        /// The id that is taken.
        job_id: String,
    },
    /// As many jobs as the hub runs at once are queued or running already.
    #[error(
        "The hub already has {limit} active job(s), its maximum; wait for one to finish \
         or cancel one, then schedule this job again"
    )]
    ThrottlingMaxActiveJobCountExceeded {
        /// How many jobs may be active at once.
        limit: usize,
    },
    /// The resource's state does not allow the operation (cancelling a finished job).
    #[error("{0}")]
    OperationNotAllowedInCurrentState(String),
    /// Something failed inside the hub (storage, a lost task).
    #[error("{0}")]
    Server(String),
}

impl HubError {
    /// Azure's six-digit error code; its first three digits are the HTTP status.
    pub fn error_code(&self) -> u32 {
        match self {
            HubError::InvalidProtocolVersion(_) => 400001,
            HubError::ArgumentInvalid(_) | HubError::QueryInvalid(_) => 400004,
            HubError::InvalidContentType(_) => 400103,
            HubError::Twin(error) => error.error_code(),
            HubError::Unauthorized(_) => 401002,
            HubError::DeviceNotFound { .. } => 404001,
            HubError::ModuleNotFound { .. } => 404010,
            HubError::ModuleAlreadyExistsOnDevice { .. } => 409301,
            HubError::DeviceNotOnline { .. } => 404103,
            HubError::DeviceAlreadyExists { .. } => 409001,
            HubError::PreconditionFailed { .. } => 412001,
            HubError::DeviceMaximumQueueDepthExceeded { .. } => 403004,
            HubError::MessageTooLarge(_) => 413001,
            HubError::JobNotFound { .. } => 404002,
            HubError::JobAlreadyExists { .. } => 409104,
            HubError::ThrottlingMaxActiveJobCountExceeded { .. } => 429004,
            HubError::OperationNotAllowedInCurrentState(_) => 405102,
            HubError::Server(_) => 500001,
            HubError::GatewayTimeout { .. } => 504101,
        }
    }

    /// Azure's name for the error code, sent in the `iothub-errorcode` header.
    pub fn error_code_name(&self) -> &'static str {
        match self {
            HubError::InvalidProtocolVersion(_) => "InvalidProtocolVersion",
            HubError::ArgumentInvalid(_) | HubError::QueryInvalid(_) => "ArgumentInvalid",
            HubError::InvalidContentType(_) => "InvalidContentEncodingOrType",
            HubError::Twin(error) => error.error_code_name(),
            HubError::Unauthorized(_) => "IotHubUnauthorizedAccess",
            HubError::DeviceNotFound { .. } => "DeviceNotFound",
            HubError::ModuleNotFound { .. } => "ModuleNotFound",
            HubError::ModuleAlreadyExistsOnDevice { .. } => "ModuleAlreadyExistsOnDevice",
            HubError::DeviceNotOnline { .. } => "DeviceNotOnline",
            HubError::DeviceAlreadyExists { .. } => "DeviceAlreadyExists",
            HubError::PreconditionFailed { .. } => "PreconditionFailed",
            HubError::DeviceMaximumQueueDepthExceeded { .. } => "DeviceMaximumQueueDepthExceeded",
            HubError::MessageTooLarge(_) => "MessageTooLarge",
            HubError::JobNotFound { .. } => "JobNotFound",
            HubError::JobAlreadyExists { .. } => "JobAlreadyExists",
            HubError::ThrottlingMaxActiveJobCountExceeded { .. } => {
                "ThrottlingMaxActiveJobCountExceeded"
            }
            HubError::OperationNotAllowedInCurrentState(_) => "OperationNotAllowedInCurrentState",
            HubError::Server(_) => "ServerError",
            HubError::GatewayTimeout { .. } => "GatewayTimeout",
        }
    }

    /// The HTTP status: the first three digits of the error code.
    pub fn http_status(&self) -> u16 {
        u16::try_from(self.error_code() / 1000).unwrap_or(500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_code_prefix() {
        let cases = [
            (HubError::ArgumentInvalid("x".into()), 400, 400004),
            (HubError::Unauthorized("x".into()), 401, 401002),
            (
                HubError::DeviceNotFound {
                    device_id: "d".into(),
                },
                404,
                404001,
            ),
            (
                HubError::DeviceNotOnline {
                    device_id: "d".into(),
                },
                404,
                404103,
            ),
            (
                HubError::ModuleNotFound {
                    device_id: "d".into(),
                    module_id: "m".into(),
                },
                404,
                404010,
            ),
            (
                HubError::ModuleAlreadyExistsOnDevice {
                    device_id: "d".into(),
                    module_id: "m".into(),
                },
                409,
                409301,
            ),
            (
                HubError::DeviceAlreadyExists {
                    device_id: "d".into(),
                },
                409,
                409001,
            ),
            (
                HubError::PreconditionFailed {
                    given: "a".into(),
                    current: "b".into(),
                },
                412,
                412001,
            ),
            (HubError::MessageTooLarge("x".into()), 413, 413001),
            (
                HubError::DeviceMaximumQueueDepthExceeded {
                    device_id: "d".into(),
                    limit: 50,
                },
                403,
                403004,
            ),
            (HubError::JobNotFound { job_id: "j".into() }, 404, 404002),
            (
                HubError::JobAlreadyExists { job_id: "j".into() },
                409,
                409104,
            ),
            (
                HubError::ThrottlingMaxActiveJobCountExceeded { limit: 1 },
                429,
                429004,
            ),
            (
                HubError::OperationNotAllowedInCurrentState("x".into()),
                405,
                405102,
            ),
            (HubError::Server("x".into()), 500, 500001),
            (
                HubError::GatewayTimeout {
                    device_id: "d".into(),
                    method: "m".into(),
                },
                504,
                504101,
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.error_code(), code, "{error}");
            assert_eq!(error.http_status(), status, "{error}");
        }
    }
}
