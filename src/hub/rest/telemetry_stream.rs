//! `GET /twinlens/telemetry/stream[?deviceId=a&deviceId=b]`, local to this hub (Azure
//! serves telemetry through its Event Hub-compatible endpoint instead): every telemetry
//! message devices send from now on, as server-sent events, so live views need no
//! polling. Each message is an event named `telemetry` whose data is a
//! [`TelemetryEvent`]; a listener too slow to keep up gets a `lagged` event saying how
//! many messages it missed. With `deviceId`s only those devices' messages (their
//! modules' included) are sent; a device that is not registered is refused.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::Uri;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use percent_encoding::percent_decode_str;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use super::HubState;
use crate::hub::error::HubError;
use crate::hub::telemetry::LiveTelemetry;
use crate::service::model::TelemetryEvent;
use crate::twin::key::split;

/// Streams live telemetry.
pub async fn stream_telemetry(
    State(state): State<HubState>,
    uri: Uri,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, HubError> {
    let devices = requested_devices(uri.query().unwrap_or(""))?;
    for device_id in &devices {
        state.store.device(device_id)?;
    }
    let (messages, stopped) = state.telemetry.listen();
    let events = futures_util::stream::unfold(
        Listener {
            messages,
            stopped,
            devices,
        },
        |mut listener| async move {
            let event = listener.next_event().await?;
            Some((Ok(event), listener))
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The `deviceId` parameters of the query string, percent-decoded.
fn requested_devices(query: &str) -> Result<Vec<String>, HubError> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| *name == "deviceId")
        .map(|(_, value)| {
            let value = value.replace('+', " ");
            percent_decode_str(&value)
                .decode_utf8()
                .map(|id| id.into_owned())
                .map_err(|_| {
                    HubError::ArgumentInvalid(format!(
                        "deviceId '{value}' does not decode to UTF-8; percent-encode it as UTF-8"
                    ))
                })
        })
        .collect()
}

struct Listener {
    messages: broadcast::Receiver<Arc<LiveTelemetry>>,
    stopped: watch::Receiver<bool>,
    devices: Vec<String>,
}

impl Listener {
    /// The next event to send, or `None` once the hub stops.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            let received = tokio::select! {
                received = self.messages.recv() => received,
                _ = self.stopped.wait_for(|stopped| *stopped) => return None,
            };
            match received {
                Ok(live) => {
                    let (device_id, module_id) = split(&live.client);
                    if !self.devices.is_empty() && !self.devices.iter().any(|d| d == device_id) {
                        continue;
                    }
                    let event = TelemetryEvent {
                        device_id: device_id.to_owned(),
                        module_id: module_id.map(str::to_owned),
                        message: live.message.clone(),
                    };
                    return Event::default().event("telemetry").json_data(event).ok();
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    return Event::default()
                        .event("lagged")
                        .json_data(json!({"missed": missed}))
                        .ok();
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_come_from_repeated_parameters() {
        assert_eq!(
            requested_devices("deviceId=a&api-version=1&deviceId=b%2Fc&deviceId=d+e").unwrap(),
            vec!["a", "b/c", "d e"]
        );
        assert!(requested_devices("").unwrap().is_empty());
        assert_eq!(
            requested_devices("deviceId=%FF").unwrap_err().error_code(),
            400004
        );
    }
}
