//! Building a service client from what a user gives: a connection string (a service
//! one: a device's cannot call the service API), a CA certificate to trust besides the
//! public roots, or plain HTTP for a local hub started without TLS. The command line and
//! the explorer build their clients here.

use crate::auth::{AuthError, ConnectionString, ServiceConnectionString};

use super::{ClientOptions, ServiceClient, ServiceError};

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// A device connection string where the service's was needed.
    #[error(
        "that is a device connection string; use the hub's service connection string \
         (HostName=...;SharedAccessKeyName=...;SharedAccessKey=...) from its shared access \
         policies"
    )]
    DeviceConnectionString,
    /// The text is no connection string.
    #[error("the connection string is not valid: {0}")]
    Invalid(#[from] AuthError),
    /// The client could not be set up (a bad CA certificate, a bad host name).
    #[error(transparent)]
    Client(#[from] ServiceError),
}

/// A client for the hub of `connection_string`, trusting `ca_pem` besides the public
/// roots, or over plain HTTP when `no_tls`; a failed request is tried again up to
/// `max_retries` times ([`super::DEFAULT_MAX_RETRIES`] unless there is a reason).
pub fn client_for(
    connection_string: &str,
    ca_pem: Option<String>,
    no_tls: bool,
    max_retries: u32,
) -> Result<(ServiceConnectionString, ServiceClient), ClientSetupError> {
    let service = match connection_string.trim().parse::<ConnectionString>()? {
        ConnectionString::Service(service) => service,
        ConnectionString::Device(_) => return Err(ClientSetupError::DeviceConnectionString),
    };
    let options = ClientOptions {
        base_url: no_tls.then(|| format!("http://{}", service.host_name)),
        extra_ca_pem: ca_pem,
        max_retries,
        ..ClientOptions::default()
    };
    let client = ServiceClient::new(&service, options)?;
    Ok((service, client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_service_connection_string_makes_a_client() {
        let device = "HostName=h;DeviceId=d;SharedAccessKey=a2V5a2V5a2V5a2V5";
        assert!(matches!(
            client_for(device, None, false, 0),
            Err(ClientSetupError::DeviceConnectionString)
        ));
        assert!(matches!(
            client_for("not one", None, false, 0),
            Err(ClientSetupError::Invalid(_))
        ));
        let service = "HostName=localhost:8080;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5a2V5a2V5a2V5";
        let (parsed, _client) =
            client_for(service, None, true, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.host_name, "localhost:8080");
        assert!(matches!(
            client_for(service, Some("not a certificate".into()), false, 0),
            Err(ClientSetupError::Client(_))
        ));
    }
}
