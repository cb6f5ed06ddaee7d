//! Just enough of the service REST API for `twinlens simulate --count`: make sure each
//! simulated device exists in the registry and learn its key. Anything richer belongs to the
//! service client.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::transport::{TlsMode, TransportError, tls_config};
use crate::auth::{DeviceConnectionString, ServiceConnectionString, SharedAccessKey};
use crate::topics::API_VERSION;

/// How long a registration token lives.
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// Why the simulated devices could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The TLS settings are unusable.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The HTTP client could not be built.
    #[error("could not set up the HTTP client for {host}: {source}")]
    Client {
        /// The hub.
        host: String,
        /// What reqwest said.
        source: reqwest::Error,
    },
    /// The hub could not be reached.
    #[error(
        "could not reach {url} to register device {device_id}: {source}; check the host name and TLS settings"
    )]
    Unreachable {
        /// The device being registered.
        device_id: String,
        /// The request URL.
        url: String,
        /// What reqwest said.
        source: reqwest::Error,
    },
    /// The hub answered with an error.
    #[error(
        "the hub answered {status} when registering device {device_id}: {body}; check the policy has registry write rights"
    )]
    Refused {
        /// The device being registered.
        device_id: String,
        /// The HTTP status.
        status: u16,
        /// The hub's error body.
        body: String,
    },
    /// The device exists but has no usable symmetric key (e.g. an X.509 device).
    #[error(
        "device {device_id} has no usable primary key ({problem}); give the simulated devices ids of SAS devices, or delete this one"
    )]
    NoKey {
        /// The device.
        device_id: String,
        /// What is missing.
        problem: String,
    },
}

/// Reads or creates each of `device_ids` through the hub named by `service`, and returns
/// their device connection strings. The devices' host name is the service host name without
/// a port, as device connection strings carry it.
pub async fn ensure_devices(
    service: &ServiceConnectionString,
    tls: &TlsMode,
    device_ids: &[String],
) -> Result<Vec<DeviceConnectionString>, RegistrationError> {
    // reqwest needs a TLS configuration even for plain HTTP (no process-wide provider is
    // installed), so plain mode gets the public roots it never uses.
    let trust = match tls {
        TlsMode::None => &TlsMode::PublicRoots,
        tls => tls,
    };
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
    if let Some(config) = tls_config(trust, &service.host_name)? {
        builder = builder.tls_backend_preconfigured(config);
    }
    let client = builder
        .build()
        .map_err(|source| RegistrationError::Client {
            host: service.host_name.clone(),
            source,
        })?;
    let scheme = if *tls == TlsMode::None {
        "http"
    } else {
        "https"
    };
    let mut devices = Vec::with_capacity(device_ids.len());
    for device_id in device_ids {
        let url = format!(
            "{scheme}://{}/devices/{}?api-version={API_VERSION}",
            service.host_name,
            utf8_percent_encode(device_id, NON_ALPHANUMERIC)
        );
        let identity = match send(&client, service, device_id, &url, None).await? {
            Some(identity) => identity,
            None => {
                let body = json!({ "deviceId": device_id });
                send(&client, service, device_id, &url, Some(body))
                    .await?
                    .unwrap_or_default()
            }
        };
        devices.push(connection_string(service, device_id, &identity)?);
    }
    Ok(devices)
}

/// GET (no body) or PUT (with a body) one identity; `None` for a 404 on GET.
async fn send(
    client: &reqwest::Client,
    service: &ServiceConnectionString,
    device_id: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Option<Value>, RegistrationError> {
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let token = service.sas_token(now + TOKEN_LIFETIME_SECS).to_string();
    let request = match &body {
        None => client.get(url),
        Some(body) => client.put(url).json(body),
    };
    let unreachable = |source| RegistrationError::Unreachable {
        device_id: device_id.to_owned(),
        url: url.to_owned(),
        source,
    };
    let response = request
        .header("Authorization", token)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    if status == 404 && body.is_none() {
        return Ok(None);
    }
    if !(200..300).contains(&status) {
        let body = response.text().await.unwrap_or_default();
        return Err(RegistrationError::Refused {
            device_id: device_id.to_owned(),
            status,
            body,
        });
    }
    response.json().await.map(Some).map_err(unreachable)
}

fn connection_string(
    service: &ServiceConnectionString,
    device_id: &str,
    identity: &Value,
) -> Result<DeviceConnectionString, RegistrationError> {
    let no_key = |problem: String| RegistrationError::NoKey {
        device_id: device_id.to_owned(),
        problem,
    };
    let key = identity
        .pointer("/authentication/symmetricKey/primaryKey")
        .and_then(Value::as_str)
        .ok_or_else(|| no_key("the identity has no primaryKey".into()))?;
    Ok(DeviceConnectionString {
        host_name: host_without_port(&service.host_name).to_owned(),
        device_id: device_id.to_owned(),
        module_id: None,
        gateway_host_name: None,
        key: SharedAccessKey::from_base64(key).map_err(|error| no_key(error.to_string()))?,
    })
}

/// `localhost:8443` → `localhost`; `[::1]:80` → `[::1]`; names without a port unchanged.
pub(super) fn host_without_port(host_name: &str) -> &str {
    match host_name.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => host,
        _ => host_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_taken_off_host_names() {
        assert_eq!(host_without_port("localhost:8443"), "localhost");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
        assert_eq!(
            host_without_port("hub.azure-devices.net"),
            "hub.azure-devices.net"
        );
    }
}
