//! Live telemetry, behind one trait so that other sources can slot in: the local hub
//! streams what devices send as server-sent events (`GET /twinlens/telemetry/stream`);
//! Azure IoT Hub serves telemetry only through its Event Hub-compatible endpoint (AMQP),
//! which a future [`TelemetrySource`] can read. Against a hub without the stream, opening
//! one fails with [`ServiceError::TelemetryUnavailable`], which says so in those words.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use futures_util::future::BoxFuture;
use reqwest::Method;

use super::model::TelemetryEvent;
use super::retry::Idempotency;
use super::transport::{Call, encode_segment};
use super::{ServiceClient, ServiceError};

/// How long a stream may stay silent before it is taken for dead (the hub sends a
/// keep-alive comment every 15 seconds).
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// How long one stream stays open before the reader is asked to open another.
const STREAM_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// One item of a live feed.
#[derive(Debug, Clone, PartialEq)]
pub enum TelemetryItem {
    /// A message a device sent.
    Message(TelemetryEvent),
    /// The reader fell behind and this many messages were skipped.
    Missed(u64),
}

/// A live feed: items until the source ends it (`None`) or fails.
pub type TelemetryFeed =
    Pin<Box<dyn Stream<Item = Result<TelemetryItem, ServiceError>> + Send + 'static>>;

/// Where live telemetry comes from.
pub trait TelemetrySource: Send + Sync {
    /// Opens a feed of the messages of `devices` (every device when empty) from now on.
    fn open_feed<'a>(
        &'a self,
        devices: &'a [String],
    ) -> BoxFuture<'a, Result<TelemetryFeed, ServiceError>>;
}

impl TelemetrySource for ServiceClient {
    fn open_feed<'a>(
        &'a self,
        devices: &'a [String],
    ) -> BoxFuture<'a, Result<TelemetryFeed, ServiceError>> {
        Box::pin(self.open_telemetry_stream(devices))
    }
}

impl ServiceClient {
    async fn open_telemetry_stream(
        &self,
        devices: &[String],
    ) -> Result<TelemetryFeed, ServiceError> {
        let operation = match devices {
            [] => "opening the live telemetry of every device".to_owned(),
            [device] => format!("opening the live telemetry of device '{device}'"),
            _ => format!("opening the live telemetry of {} devices", devices.len()),
        };
        let query: Vec<String> = devices
            .iter()
            .map(|device| format!("deviceId={}", encode_segment(device)))
            .collect();
        let path = match query.is_empty() {
            true => "/twinlens/telemetry/stream".to_owned(),
            false => format!("/twinlens/telemetry/stream?{}", query.join("&")),
        };
        let call = Call {
            operation: operation.clone(),
            method: Method::GET,
            path,
            body: None,
            headers: vec![("accept".into(), "text/event-stream".into())],
            idempotency: Idempotency::Idempotent,
            timeout: Some(STREAM_LIFETIME),
        };
        let response = match self.transport.send(&call).await {
            Ok(response) => response,
            Err(error) => return Err(unavailable_or(error, self.base_url())),
        };
        let is_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if !is_stream {
            return Err(ServiceError::TelemetryUnavailable {
                host: self.base_url().to_owned(),
            });
        }
        let reader = StreamReader {
            response,
            parser: EventParser::default(),
            ready: VecDeque::new(),
            operation,
        };
        Ok(Box::pin(futures_util::stream::unfold(
            reader,
            |mut reader| async move {
                let item = reader.next_item().await.transpose()?;
                Some((item, reader))
            },
        )))
    }
}

/// One message as a line of NDJSON (what `twinlens monitor --ndjson` prints and the
/// explorer records): `receivedAt`, `deviceId`, `moduleId` (for a module), `properties`
/// as an object, and `body` as JSON when it is JSON, else as text (`bodyBase64` for
/// bytes that are not UTF-8).
pub fn ndjson_line(event: &TelemetryEvent) -> String {
    let message = &event.message;
    let body = message
        .body
        .as_ref()
        .map(|body| serde_json::from_str(body).unwrap_or_else(|_| body.clone().into()));
    telemetry_line(
        &message.received_at,
        (&event.device_id, event.module_id.as_deref()),
        &message.properties,
        body,
        message.body_base64.as_deref(),
    )
}

/// The NDJSON line of a message from its parts: the sender as `(deviceId, moduleId)`,
/// and its body already read (JSON, or text as a JSON string).
pub fn telemetry_line(
    received_at: &str,
    (device_id, module_id): (&str, Option<&str>),
    properties: &[(String, String)],
    body: Option<serde_json::Value>,
    body_base64: Option<&str>,
) -> String {
    let mut line = serde_json::Map::new();
    line.insert("receivedAt".into(), received_at.into());
    line.insert("deviceId".into(), device_id.into());
    if let Some(module_id) = module_id {
        line.insert("moduleId".into(), module_id.into());
    }
    let properties: serde_json::Map<String, serde_json::Value> = properties
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    line.insert("properties".into(), properties.into());
    if let Some(body) = body {
        line.insert("body".into(), body);
    }
    if let Some(bytes) = body_base64 {
        line.insert("bodyBase64".into(), bytes.into());
    }
    serde_json::Value::Object(line).to_string()
}

/// A refusal of the stream route by a hub that has none (Azure IoT Hub) becomes
/// [`ServiceError::TelemetryUnavailable`]; an unknown device stays what it is.
fn unavailable_or(error: ServiceError, host: &str) -> ServiceError {
    let no_route = error
        .azure()
        .is_some_and(|azure| matches!(azure.status, 400 | 404 | 405) && azure.code != Some(404001));
    if no_route {
        ServiceError::TelemetryUnavailable {
            host: host.to_owned(),
        }
    } else {
        error
    }
}

struct StreamReader {
    response: reqwest::Response,
    parser: EventParser,
    ready: VecDeque<Result<TelemetryItem, ServiceError>>,
    operation: String,
}

impl StreamReader {
    async fn next_item(&mut self) -> Result<Option<TelemetryItem>, ServiceError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return item.map(Some);
            }
            let chunk = tokio::time::timeout(SILENCE_LIMIT, self.response.chunk()).await;
            let chunk = match chunk {
                Err(_) => {
                    return Err(ServiceError::UnexpectedResponse {
                        operation: self.operation.clone(),
                        expected: "a keep-alive within 45 seconds",
                        detail: "the telemetry stream went silent".into(),
                    });
                }
                Ok(Err(source)) => {
                    return Err(ServiceError::Transport {
                        operation: self.operation.clone(),
                        url: self.response.url().to_string(),
                        source,
                    });
                }
                Ok(Ok(None)) => return Ok(None),
                Ok(Ok(Some(chunk))) => chunk,
            };
            for event in self.parser.feed(&chunk) {
                if let Some(item) = item_of(&event, &self.operation) {
                    self.ready.push_back(item);
                }
            }
        }
    }
}

/// The item an event carries; `None` for events of other kinds.
fn item_of(event: &ServerEvent, operation: &str) -> Option<Result<TelemetryItem, ServiceError>> {
    let unexpected = |detail: String| ServiceError::UnexpectedResponse {
        operation: operation.to_owned(),
        expected: "telemetry event JSON",
        detail,
    };
    match event.name.as_str() {
        "telemetry" => Some(
            serde_json::from_str(&event.data)
                .map(TelemetryItem::Message)
                .map_err(|e| unexpected(e.to_string())),
        ),
        "lagged" => Some(
            serde_json::from_str::<serde_json::Value>(&event.data)
                .ok()
                .and_then(|value| value["missed"].as_u64())
                .map(TelemetryItem::Missed)
                .ok_or_else(|| {
                    unexpected(format!("a lagged event without a count: {}", event.data))
                }),
        ),
        _ => None,
    }
}

/// One server-sent event: its name (`message` when none is given) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerEvent {
    name: String,
    data: String,
}

/// Splits a `text/event-stream` body into events as its bytes arrive (any chunking).
#[derive(Default)]
struct EventParser {
    /// Bytes of a line not yet ended.
    partial: Vec<u8>,
    name: Option<String>,
    data: Option<String>,
}

impl EventParser {
    /// Takes more bytes; returns the events they complete.
    fn feed(&mut self, bytes: &[u8]) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte != b'\n' {
                self.partial.push(byte);
                continue;
            }
            let mut line = std::mem::take(&mut self.partial);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    events.push(ServerEvent {
                        name: self.name.take().unwrap_or_else(|| "message".into()),
                        data,
                    });
                }
                self.name = None;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.name = Some(value.to_owned()),
                "data" => match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                },
                // Comments (keep-alives), `id` and `retry` carry nothing for us.
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> ServerEvent {
        ServerEvent {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_are_found_whatever_the_chunking() {
        let body = b": keep-alive\n\nevent: telemetry\ndata: {\"a\":1}\n\r\ndata: x\ndata: y\n\n";
        let whole = EventParser::default().feed(body);
        assert_eq!(
            whole,
            vec![event("telemetry", "{\"a\":1}"), event("message", "x\ny")]
        );
        let mut parser = EventParser::default();
        let mut bytewise = Vec::new();
        for byte in body {
            bytewise.extend(parser.feed(&[*byte]));
        }
        assert_eq!(bytewise, whole);
    }

    #[test]
    fn ndjson_lines_carry_json_bodies_as_json() {
        use crate::service::model::TelemetryMessage;
        let mut event = TelemetryEvent {
            device_id: "d1".into(),
            module_id: None,
            message: TelemetryMessage {
                received_at: "2026-01-01T00:00:00.0000000Z".into(),
                properties: vec![("unit".into(), "C".into())],
                body: Some("{\"t\":21.5}".into()),
                body_base64: None,
            },
        };
        assert_eq!(
            ndjson_line(&event),
            r#"{"receivedAt":"2026-01-01T00:00:00.0000000Z","deviceId":"d1","properties":{"unit":"C"},"body":{"t":21.5}}"#
        );
        event.module_id = Some("m1".into());
        event.message.body = Some("not json".into());
        let line: serde_json::Value = serde_json::from_str(&ndjson_line(&event)).unwrap();
        assert_eq!(line["moduleId"], "m1");
        assert_eq!(line["body"], "not json");
    }

    #[test]
    fn telemetry_and_lagged_events_become_items() {
        let message = item_of(
            &event(
                "telemetry",
                r#"{"deviceId":"d1","moduleId":null,"receivedAt":"2026-01-01T00:00:00Z","properties":[["k","v"]],"body":"{}","bodyBase64":null}"#,
            ),
            "op",
        )
        .unwrap()
        .unwrap();
        let TelemetryItem::Message(message) = message else {
            panic!("{message:?}");
        };
        assert_eq!(message.device_id, "d1");
        assert_eq!(message.message.properties, vec![("k".into(), "v".into())]);
        assert_eq!(
            item_of(&event("lagged", r#"{"missed":7}"#), "op")
                .unwrap()
                .unwrap(),
            TelemetryItem::Missed(7)
        );
        assert!(item_of(&event("lagged", "{}"), "op").unwrap().is_err());
        assert!(item_of(&event("other", "{}"), "op").is_none());
    }
}
