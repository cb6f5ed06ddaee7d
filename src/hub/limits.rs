//! The limits that keep one hub up under any load: connections per listener, how long
//! an HTTP client may take to send a request, and how much telemetry is kept. Each has a
//! default fit for a laptop and a `twinlens hub` flag to change it.

use std::time::Duration;

/// File descriptors kept free for the store, the listeners and the process itself when
/// the connection limits are derived from the descriptor limit.
const RESERVED_DESCRIPTORS: u64 = 64;
/// The connection limit of each listener when the descriptor limit allows it.
const MAX_CONNECTIONS_PER_LISTENER: usize = 100_000;
/// How long an HTTP client may take to send a request's headers (and so how long an
/// idle connection stays open), and then its body.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Telemetry bytes kept per device.
pub const DEFAULT_TELEMETRY_DEVICE_BYTES: usize = 1024 * 1024;
/// Telemetry bytes kept for the whole hub.
pub const DEFAULT_TELEMETRY_HUB_BYTES: usize = 64 * 1024 * 1024;
/// Telemetry messages kept per device.
pub const DEFAULT_TELEMETRY_DEVICE_MESSAGES: usize = 100;

/// Jobs active (queued, scheduled or running) at once: Azure's S1 and free hubs allow one.
pub const DEFAULT_MAX_ACTIVE_JOBS: usize = 1;
/// Device operations (twin updates, method calls) a job starts per second.
pub const DEFAULT_JOB_DEVICE_RATE: u32 = 1000;

/// How much load the hub takes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubLimits {
    /// Connections open at once on each listener (service API, device endpoint); `None`
    /// derives it from the process's file-descriptor limit. Clients past the limit wait
    /// in the kernel's backlog until a connection closes.
    pub max_connections: Option<usize>,
    /// How long an HTTP client may take to send a request's headers, which also closes
    /// connections idle for that long, and then again for its body.
    pub http_timeout: Duration,
    /// How much telemetry is kept.
    pub telemetry: TelemetryLimits,
    /// How many jobs run at once, and how fast.
    pub jobs: JobLimits,
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            max_connections: None,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            telemetry: TelemetryLimits::default(),
            jobs: JobLimits::default(),
        }
    }
}

/// How many jobs the hub runs at once and how fast each works through its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// Jobs queued, scheduled or running at once; another is refused with
    /// ThrottlingMaxActiveJobCountExceeded until one finishes.
    pub max_active: usize,
    /// Device operations a job starts per second, so a job over the whole fleet leaves
    /// the hub responsive.
    pub device_rate: u32,
}

impl Default for JobLimits {
    fn default() -> Self {
        Self {
            max_active: DEFAULT_MAX_ACTIVE_JOBS,
            device_rate: DEFAULT_JOB_DEVICE_RATE,
        }
    }
}

/// How much device-to-cloud telemetry the hub keeps in memory; older messages are
/// dropped first, and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelemetryLimits {
    /// Messages kept per device.
    pub device_messages: usize,
    /// Bytes (bodies and properties) kept per device.
    pub device_bytes: usize,
    /// Bytes kept for all devices together.
    pub hub_bytes: usize,
}

impl Default for TelemetryLimits {
    fn default() -> Self {
        Self {
            device_messages: DEFAULT_TELEMETRY_DEVICE_MESSAGES,
            device_bytes: DEFAULT_TELEMETRY_DEVICE_BYTES,
            hub_bytes: DEFAULT_TELEMETRY_HUB_BYTES,
        }
    }
}

/// How many connections each listener keeps open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// The device MQTT endpoint.
    pub devices: usize,
    /// The service API.
    pub service: usize,
}

/// The most connections the service API takes by default: service clients (the
/// explorer, scripts, SDKs) keep a few connections each, devices one each.
const SERVICE_CONNECTIONS: u64 = 1024;

impl HubLimits {
    /// The connection limit of each listener: the configured one for both, or a share
    /// of the descriptors the process may open (`descriptor_limit`), less a reserve: a
    /// quarter for the service API, at most 1,024, and the rest for devices.
    pub fn connections_per_listener(&self, descriptor_limit: u64) -> ListenerLimits {
        if let Some(configured) = self.max_connections {
            let both = configured.max(1);
            return ListenerLimits {
                devices: both,
                service: both,
            };
        }
        let available = descriptor_limit.saturating_sub(RESERVED_DESCRIPTORS);
        let service = (available / 4).min(SERVICE_CONNECTIONS);
        let limit = |share: u64| {
            usize::try_from(share)
                .unwrap_or(usize::MAX)
                .clamp(16, MAX_CONNECTIONS_PER_LISTENER)
        };
        ListenerLimits {
            devices: limit(available - service),
            service: limit(service),
        }
    }
}

/// Raises the process's soft limit on open files to its hard limit, as servers do, and
/// returns the limit in force. Where the limit cannot be read, assumes the common 1,024.
pub fn raise_descriptor_limit() -> u64 {
    const COMMON_LIMIT: u64 = 1024;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::debug!("could not read or raise the open-file limit: {error}");
            COMMON_LIMIT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits_share_the_descriptors() {
        let limits = HubLimits::default();
        let share = |descriptors| {
            let limits = limits.connections_per_listener(descriptors);
            (limits.devices, limits.service)
        };
        assert_eq!(share(1024), (720, 240));
        assert_eq!(share(20_000), (18_912, 1024), "10,000 devices fit");
        assert_eq!(share(10), (16, 16));
        assert_eq!(share(u64::MAX), (MAX_CONNECTIONS_PER_LISTENER, 1024));
        let configured = HubLimits {
            max_connections: Some(5),
            ..HubLimits::default()
        };
        let configured = configured.connections_per_listener(1024);
        assert_eq!((configured.devices, configured.service), (5, 5));
    }
}
