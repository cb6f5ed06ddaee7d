//! Building a service client from command-line options, for the subcommands that talk
//! to a hub (`export`, `import`, `diff` against a live hub), and the runtime they run on.

use std::path::Path;

use anyhow::Context;
use twinlens::auth::ServiceConnectionString;
use twinlens::service::{ServiceClient, client_for};

/// A client for the hub of a service connection string; `ca_cert` adds a trusted CA and
/// `no_tls` switches to plain HTTP (a local hub started without `--tls`).
pub fn service_client(
    connection_string: &str,
    ca_cert: Option<&Path>,
    no_tls: bool,
) -> anyhow::Result<(ServiceConnectionString, ServiceClient)> {
    let extra_ca_pem = match ca_cert {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("could not read the CA certificate {}", path.display()))?,
        ),
        None => None,
    };
    Ok(client_for(
        connection_string,
        extra_ca_pem,
        no_tls,
        twinlens::service::DEFAULT_MAX_RETRIES,
    )?)
}

/// The single-threaded async runtime a hub subcommand runs its requests on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}
