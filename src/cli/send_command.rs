//! `twinlens send`: one cloud-to-device message from the command line, through the
//! service client.

use anyhow::Context;
use twinlens::service::{CloudMessage, new_message_id};

use crate::cli::args::SendArgs;
use crate::cli::hub_client;

/// Sends the message; returns its message id.
pub fn run(args: &SendArgs) -> anyhow::Result<String> {
    let body = match (&args.data, &args.file) {
        (Some(text), _) => text.clone().into_bytes(),
        (None, Some(path)) => std::fs::read(path)
            .with_context(|| format!("could not read the payload file {}", path.display()))?,
        (None, None) => anyhow::bail!("give the payload with --data TEXT or --file FILE"),
    };
    let message_id = args.message_id.clone().unwrap_or_else(new_message_id);
    let message = CloudMessage {
        body,
        message_id: Some(message_id.clone()),
        correlation_id: args.correlation_id.clone(),
        content_type: args.content_type.clone(),
        content_encoding: args.content_encoding.clone(),
        ack: args.ack.clone(),
        time_to_live: args.ttl.map(std::time::Duration::from_secs),
        properties: args.properties.clone(),
    };
    let (_, client) = hub_client::service_client(
        &args.hub.connection_string,
        args.hub.ca_cert.as_deref(),
        args.hub.no_tls,
    )?;
    hub_client::runtime()?.block_on(client.send_cloud_to_device(&args.device, &message))?;
    Ok(message_id)
}
