//! Registration for `twinlens simulate --count` (and `--module`): makes sure each
//! simulated device (and its module) exists in the registry and learns its key, through
//! the service client.

use super::transport::TlsMode;
use crate::auth::{DeviceConnectionString, ServiceConnectionString, SharedAccessKey};
use crate::service::{ClientOptions, DeviceAuthentication, NewDevice, ServiceClient, ServiceError};

/// Azure's code for a device that is not in the registry.
const DEVICE_NOT_FOUND: u32 = 404001;
/// Azure's code for a module that is not on the device.
const MODULE_NOT_FOUND: u32 = 404010;

/// Why the simulated devices could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The service API refused or could not be reached.
    #[error("could not register the simulated devices: {0}")]
    Service(#[from] ServiceError),
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

/// Reads or creates each of `device_ids` (and, with `module`, that module of each)
/// through the hub named by `service`, and returns their connection strings: the
/// devices', or the modules'. The host name is the service host name without a port, as
/// device connection strings carry it.
pub async fn ensure_devices(
    service: &ServiceConnectionString,
    tls: &TlsMode,
    device_ids: &[String],
    module: Option<&str>,
) -> Result<Vec<DeviceConnectionString>, RegistrationError> {
    let options = ClientOptions {
        base_url: (*tls == TlsMode::None).then(|| format!("http://{}", service.host_name)),
        extra_ca_pem: match tls {
            TlsMode::CustomCa(pem) => Some(pem.clone()),
            TlsMode::None | TlsMode::PublicRoots => None,
        },
        ..ClientOptions::default()
    };
    let client = ServiceClient::new(service, options)?;
    let mut devices = Vec::with_capacity(device_ids.len());
    for device_id in device_ids {
        let identity = match client.get_device(device_id).await {
            Ok(identity) => identity,
            Err(error) if error.error_code() == Some(DEVICE_NOT_FOUND) => {
                client
                    .create_device(device_id, &NewDevice::default())
                    .await?
            }
            Err(error) => return Err(error.into()),
        };
        let Some(module_id) = module else {
            devices.push(connection_string(
                service,
                device_id,
                None,
                &identity.authentication,
            )?);
            continue;
        };
        let module = match client.get_module(device_id, module_id).await {
            Ok(module) => module,
            Err(error) if error.error_code() == Some(MODULE_NOT_FOUND) => {
                client.create_module(device_id, module_id, None).await?
            }
            Err(error) => return Err(error.into()),
        };
        devices.push(connection_string(
            service,
            device_id,
            Some(module_id),
            &module.authentication,
        )?);
    }
    Ok(devices)
}

fn connection_string(
    service: &ServiceConnectionString,
    device_id: &str,
    module_id: Option<&str>,
    authentication: &Option<DeviceAuthentication>,
) -> Result<DeviceConnectionString, RegistrationError> {
    let no_key = |problem: String| RegistrationError::NoKey {
        device_id: match module_id {
            Some(module_id) => format!("{device_id} (module {module_id})"),
            None => device_id.to_owned(),
        },
        problem,
    };
    let key = authentication
        .as_ref()
        .and_then(|auth| auth.symmetric_key.as_ref())
        .and_then(|keys| keys.primary_key.as_deref())
        .ok_or_else(|| no_key("the identity has no primaryKey".into()))?;
    Ok(DeviceConnectionString {
        host_name: host_without_port(&service.host_name).to_owned(),
        device_id: device_id.to_owned(),
        module_id: module_id.map(str::to_owned),
        gateway_host_name: None,
        key: SharedAccessKey::from_base64(key).map_err(|error| no_key(error.to_string()))?,
    })
}

/// The host of a `HostName` value without its `:port`, IPv6 literals kept whole: devices
/// reach the hub's MQTT port, not the port of its REST API.
pub fn host_without_port(host_name: &str) -> &str {
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
