//! `twinlens monitor`: follows a hub's live telemetry and prints each message on stdout
//! (text, or NDJSON with `--ndjson`), reopening the stream when the hub goes away and
//! comes back. Notes about the stream itself go to stderr.

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use twinlens::service::{
    ServiceClient, ServiceError, TelemetryItem, TelemetrySource, model::TelemetryEvent, ndjson_line,
};

use crate::cli::args::MonitorArgs;
use crate::cli::hub_client;

/// How long to wait before reopening a stream that ended.
const REOPEN_DELAY: Duration = Duration::from_secs(2);

/// Prints telemetry until interrupted; returns only on an error that reopening cannot
/// mend (no stream on this hub, an unknown device, bad credentials).
pub fn run(args: &MonitorArgs) -> anyhow::Result<()> {
    let (service, client) = hub_client::service_client(
        &args.hub.connection_string,
        args.hub.ca_cert.as_deref(),
        args.hub.no_tls,
    )?;
    let scope = match args.devices.as_slice() {
        [] => "every device".to_owned(),
        devices => devices.join(", "),
    };
    eprintln!(
        "following the telemetry of {scope} on {} (Ctrl-C stops)",
        service.host_name
    );
    hub_client::runtime()?.block_on(follow(&client, args))
}

async fn follow(client: &ServiceClient, args: &MonitorArgs) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut feed = match client.open_feed(&args.devices).await {
            Ok(feed) => feed,
            Err(error) if lasting(&error) => return Err(error.into()),
            Err(error) => {
                eprintln!("{error}; trying again in {} s", REOPEN_DELAY.as_secs());
                tokio::time::sleep(REOPEN_DELAY).await;
                continue;
            }
        };
        while let Some(item) = feed.next().await {
            match item {
                Ok(TelemetryItem::Message(event)) => {
                    let line = match args.ndjson {
                        true => ndjson_line(&event),
                        false => text_line(&event),
                    };
                    // A closed stdout (`| head`) ends the command quietly.
                    if writeln!(stdout, "{line}")
                        .and_then(|()| stdout.flush())
                        .is_err()
                    {
                        return Ok(());
                    }
                }
                Ok(TelemetryItem::Missed(count)) => {
                    eprintln!("{count} messages skipped: this terminal fell behind the hub");
                }
                Err(error) => {
                    eprintln!("{error}");
                    break;
                }
            }
        }
        eprintln!(
            "the telemetry stream ended; reopening in {} s",
            REOPEN_DELAY.as_secs()
        );
        tokio::time::sleep(REOPEN_DELAY).await;
    }
}

/// Errors that reopening would only repeat.
fn lasting(error: &ServiceError) -> bool {
    match error {
        ServiceError::TelemetryUnavailable { .. }
        | ServiceError::InvalidArgument(_)
        | ServiceError::InvalidOption { .. } => true,
        other => other
            .status()
            .is_some_and(|status| (400..500).contains(&status) && status != 429),
    }
}

/// `time  device[/module]  body  [name=value ...]`.
fn text_line(event: &TelemetryEvent) -> String {
    let sender = match &event.module_id {
        Some(module_id) => format!("{}/{module_id}", event.device_id),
        None => event.device_id.clone(),
    };
    let body = match (&event.message.body, &event.message.body_base64) {
        (Some(text), _) => text.clone(),
        (None, Some(bytes)) => format!("(binary, base64) {bytes}"),
        (None, None) => String::new(),
    };
    let mut line = format!("{}  {sender}  {body}", event.message.received_at);
    if !event.message.properties.is_empty() {
        let properties: Vec<String> = event
            .message
            .properties
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        line.push_str(&format!("  [{}]", properties.join(" ")));
    }
    line
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use twinlens::service::TelemetryMessage;

    #[test]
    fn text_lines_name_the_sender_and_properties() {
        let event = TelemetryEvent {
            device_id: "d1".into(),
            module_id: Some("m".into()),
            message: TelemetryMessage {
                received_at: "T".into(),
                properties: vec![("unit".into(), "C".into())],
                body: Some("{}".into()),
                body_base64: None,
            },
        };
        assert_eq!(text_line(&event), "T  d1/m  {}  [unit=C]");
    }
}
