//! Where and how a simulated device connects: the endpoint (host, port, TLS trust) and the
//! options of one connection attempt, signed with a fresh SAS token.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::link::ConnectOptions;
use super::model_id::ModelId;
use crate::auth::DeviceConnectionString;
use crate::topics::{API_VERSION, MqttUsername};

/// The port IoT Hub serves MQTT over TLS on (the device SDKs hard-code it).
pub const IOT_HUB_MQTT_PORT: u16 = 8883;
/// IoT Hub's largest device-to-cloud message is 256 KB; allow the packet overhead. It
/// also admits the hub's largest method request (a 128 KB payload). It only bounds
/// packets: buffers grow only while a larger packet passes.
const MAX_PACKET_BYTES: usize = 256 * 1024 + 1024;
/// The keep-alive the Python device SDK uses.
const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// QoS 1 publishes the device has on the wire before it waits for the hub's PUBACKs. 20
/// lets the fastest telemetry (one message every `MIN_TELEMETRY_INTERVAL`, 100 a second)
/// flow with round trips of up to 200 ms; the local hub answers a connection's packets
/// one at a time anyway.
const MAX_IN_FLIGHT: usize = 20;
/// Publishes that may wait for room on the wire before the next is refused: with those in
/// flight, 164 outstanding messages, enough for any burst of reported patches and method
/// answers a device makes. The queue costs nothing until messages wait in it.
const MAX_WAITING: usize = 144;

/// How the connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain MQTT, for a local hub started without TLS.
    None,
    /// TLS trusting the public web roots, as Azure IoT Hub needs.
    PublicRoots,
    /// TLS trusting only this CA (PEM), e.g. the local hub's generated CA.
    CustomCa(String),
}

impl TlsMode {
    /// The choice the command line and the explorer offer: plain MQTT (`no_tls`, a local
    /// hub without TLS), else TLS trusting `ca_pem` when given (a local hub's CA), else
    /// the public roots (Azure IoT Hub).
    pub fn chosen(no_tls: bool, ca_pem: Option<String>) -> Self {
        match (no_tls, ca_pem) {
            (true, _) => Self::None,
            (false, Some(pem)) => Self::CustomCa(pem),
            (false, None) => Self::PublicRoots,
        }
    }
}

/// Where a device dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address to connect to (and to check the certificate against).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub tls: TlsMode,
}

impl Endpoint {
    /// Azure IoT Hub's endpoint for `connection`: its gateway when it names one, else its
    /// hub, on 8883 with the public roots.
    pub fn azure(connection: &DeviceConnectionString) -> Self {
        Self {
            host: connection.connect_host_name().to_owned(),
            port: IOT_HUB_MQTT_PORT,
            tls: TlsMode::PublicRoots,
        }
    }
}

/// Why a connection cannot even be attempted; retrying does not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// TLS cannot check a certificate against this host.
    #[error(
        "{host} cannot be checked against the hub's TLS certificate: {problem}; connect by the host name the certificate names"
    )]
    BadHost {
        /// The endpoint host.
        host: String,
        /// What is wrong.
        problem: String,
    },
    /// The custom CA is not usable.
    #[error(
        "the CA certificate for {host} is not usable: {problem}; pass the PEM file the hub wrote (ca.pem)"
    )]
    BadCa {
        /// The endpoint host.
        host: String,
        /// What is wrong.
        problem: String,
    },
}

/// The options of one connection of `connection` to `endpoint`, with `password` (a SAS
/// token) as the MQTT password. A `model_id` goes into the username as `model-id`, after
/// the other parameters, as the Azure device SDKs send it; IoT Hub reads it only with an
/// `api-version` of 2020-09-30 or later, which [`API_VERSION`] is.
pub(super) fn connect_options(
    connection: &DeviceConnectionString,
    endpoint: &Endpoint,
    model_id: Option<&ModelId>,
    password: String,
) -> Result<ConnectOptions, TransportError> {
    let username = MqttUsername {
        host: connection.host_name.clone(),
        device_id: connection.device_id.clone(),
        module_id: connection.module_id.clone(),
        api_version: Some(API_VERSION.to_owned()),
        model_id: model_id.map(|model_id| model_id.as_str().to_owned()),
        other: vec![(
            "DeviceClientType".to_owned(),
            concat!("twinlens/", env!("CARGO_PKG_VERSION")).to_owned(),
        )],
    };
    let tls = match tls_config(&endpoint.tls, &endpoint.host)? {
        None => None,
        Some(config) => {
            let name = ServerName::try_from(endpoint.host.clone()).map_err(|error| {
                TransportError::BadHost {
                    host: endpoint.host.clone(),
                    problem: error.to_string(),
                }
            })?;
            Some((Arc::new(config), name))
        }
    };
    Ok(ConnectOptions {
        host: endpoint.host.clone(),
        port: endpoint.port,
        tls,
        client_id: username.client_id(),
        username: username.to_username(),
        password,
        keep_alive: KEEP_ALIVE,
        max_packet_bytes: MAX_PACKET_BYTES,
        max_in_flight: MAX_IN_FLIGHT,
        max_waiting: MAX_WAITING,
    })
}

/// The rustls client configuration (ring provider) trusting what `tls` says, `None` for
/// plain connections; `host` names the endpoint in errors. The service registration of
/// `twinlens simulate` uses it too, so MQTT and REST trust the same roots.
pub(super) fn tls_config(
    tls: &TlsMode,
    host: &str,
) -> Result<Option<rustls::ClientConfig>, TransportError> {
    let bad_ca = |problem: String| TransportError::BadCa {
        host: host.to_owned(),
        problem,
    };
    let mut roots = rustls::RootCertStore::empty();
    match tls {
        TlsMode::None => return Ok(None),
        TlsMode::PublicRoots => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        TlsMode::CustomCa(pem) => {
            for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let certificate =
                    certificate.map_err(|error| bad_ca(format!("it is not PEM: {error}")))?;
                roots
                    .add(certificate)
                    .map_err(|error| bad_ca(error.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad_ca("it holds no certificate".into()));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| bad_ca(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::SharedAccessKey;

    fn connection(gateway: Option<&str>) -> DeviceConnectionString {
        DeviceConnectionString {
            host_name: "hub.azure-devices.net".into(),
            device_id: "dev1".into(),
            module_id: None,
            gateway_host_name: gateway.map(Into::into),
            key: SharedAccessKey::from_bytes(vec![1; 32]),
        }
    }

    #[test]
    fn azure_endpoint_prefers_the_gateway() {
        assert_eq!(
            Endpoint::azure(&connection(None)),
            Endpoint {
                host: "hub.azure-devices.net".into(),
                port: 8883,
                tls: TlsMode::PublicRoots
            }
        );
        assert_eq!(Endpoint::azure(&connection(Some("edge"))).host, "edge");
    }

    #[test]
    fn options_carry_the_iot_hub_username_and_client_id() {
        let endpoint = Endpoint::azure(&connection(Some("edge")));
        let options =
            connect_options(&connection(Some("edge")), &endpoint, None, "token".into()).unwrap();
        assert_eq!(options.client_id, "dev1");
        assert_eq!((options.host.as_str(), options.port), ("edge", 8883));
        let (_, name) = options.tls.unwrap();
        assert_eq!(name.to_str(), "edge");
        let parsed = MqttUsername::parse(&options.username).unwrap();
        assert_eq!(parsed.host, "hub.azure-devices.net");
        assert_eq!(parsed.api_version.as_deref(), Some(API_VERSION));
        assert_eq!(parsed.model_id, None);
        assert_eq!(options.password, "token");
        assert_eq!(options.keep_alive, KEEP_ALIVE);
    }

    /// The first service API version with IoT Plug and Play: IoT Hub ignores `model-id`
    /// in usernames with an older one.
    const PLUG_AND_PLAY_API_VERSION: &str = "2020-09-30";

    #[test]
    fn a_model_id_is_announced_percent_encoded_with_a_plug_and_play_api_version() {
        // ISO dates compare as text.
        assert!(API_VERSION >= PLUG_AND_PLAY_API_VERSION);
        let model = ModelId::new("dtmi:com:example:Thermostat;1").unwrap();
        let endpoint = Endpoint::azure(&connection(None));
        let options =
            connect_options(&connection(None), &endpoint, Some(&model), String::new()).unwrap();
        assert!(
            options.username.starts_with(&format!(
                "hub.azure-devices.net/dev1/?api-version={API_VERSION}&DeviceClientType=twinlens%2F"
            )),
            "{}",
            options.username
        );
        assert!(
            options
                .username
                .ends_with("&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1"),
            "{}",
            options.username
        );
        let parsed = MqttUsername::parse(&options.username).unwrap();
        assert_eq!(parsed.model_id.as_deref(), Some(model.as_str()));
    }

    #[test]
    fn a_module_announces_its_model_id_too() {
        let module = DeviceConnectionString {
            module_id: Some("thermostat".into()),
            ..connection(None)
        };
        let model = ModelId::new("dtmi:com:example:Thermostat;1").unwrap();
        let endpoint = Endpoint::azure(&module);
        let options = connect_options(&module, &endpoint, Some(&model), String::new()).unwrap();
        assert_eq!(options.client_id, "dev1/thermostat");
        assert!(
            options
                .username
                .starts_with("hub.azure-devices.net/dev1/thermostat/?"),
            "{}",
            options.username
        );
        let parsed = MqttUsername::parse(&options.username).unwrap();
        assert_eq!(parsed.module_id.as_deref(), Some("thermostat"));
        assert_eq!(parsed.model_id.as_deref(), Some(model.as_str()));
    }

    #[test]
    fn a_bad_custom_ca_is_refused() {
        for pem in ["", "not a certificate"] {
            let endpoint = Endpoint {
                host: "localhost".into(),
                port: 8883,
                tls: TlsMode::CustomCa(pem.into()),
            };
            let error = connect_options(&connection(None), &endpoint, None, String::new())
                .err()
                .unwrap();
            assert!(error.to_string().contains("localhost"), "{error}");
        }
    }

    #[test]
    fn a_host_tls_cannot_check_is_refused_before_dialling() {
        let endpoint = Endpoint {
            host: "not a host name".into(),
            port: 8883,
            tls: TlsMode::PublicRoots,
        };
        let error = connect_options(&connection(None), &endpoint, None, String::new())
            .err()
            .unwrap();
        assert!(matches!(error, TransportError::BadHost { .. }), "{error}");
        assert!(error.to_string().contains("not a host name"), "{error}");
        let plain = Endpoint {
            tls: TlsMode::None,
            ..endpoint
        };
        assert!(connect_options(&connection(None), &plain, None, String::new()).is_ok());
    }
}
