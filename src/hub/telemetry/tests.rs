//! The telemetry log's bounds: messages and bytes per device, bytes for the hub, the
//! oldest dropped first and every drop counted.

#![allow(clippy::unwrap_used)]

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn limits(device_messages: usize, device_bytes: usize, hub_bytes: usize) -> TelemetryLimits {
    TelemetryLimits {
        device_messages,
        device_bytes,
        hub_bytes,
    }
}

/// A body that makes a message cost exactly `cost` bytes (no properties).
fn body_costing(cost: usize) -> Vec<u8> {
    vec![b'x'; cost - MESSAGE_OVERHEAD_BYTES]
}

#[test]
fn the_ring_is_bounded_by_messages_and_counts_everything() {
    let log = TelemetryLog::new(limits(100, usize::MAX, usize::MAX));
    for n in 0..105 {
        log.record(
            "d1",
            vec![("n".into(), n.to_string())],
            n.to_string().as_bytes(),
            now(),
        );
    }
    log.record("d1", Vec::new(), &[0xff, 0x00], now());
    let telemetry = log.device("d1");
    assert_eq!(telemetry.count, 106);
    assert_eq!(telemetry.dropped, 6);
    assert_eq!(telemetry.messages.len(), 100);
    assert_eq!(telemetry.messages[0].body.as_deref(), Some("6"));
    assert_eq!(
        telemetry.messages.back().unwrap().body_base64.as_deref(),
        Some("/wA=")
    );
    assert_eq!(log.device("nobody").count, 0);
    log.forget("d1");
    assert_eq!(log.device("d1").count, 0);
    assert_eq!(log.bytes_kept(), 0);
}

#[test]
fn each_device_keeps_at_most_its_bytes() {
    let log = TelemetryLog::new(limits(100, 1000, usize::MAX));
    for _ in 0..10 {
        log.record("d1", Vec::new(), &body_costing(300), now());
    }
    let telemetry = log.device("d1");
    assert_eq!(telemetry.messages.len(), 3);
    assert_eq!(telemetry.dropped, 7);
    assert_eq!(log.bytes_kept(), 900);
    // A message bigger than the whole allowance is counted, and dropped at once.
    assert_eq!(log.record("d1", Vec::new(), &body_costing(1001), now()), 1);
    let telemetry = log.device("d1");
    assert_eq!((telemetry.count, telemetry.dropped), (11, 8));
    assert_eq!(telemetry.messages.len(), 3);
}

#[test]
fn the_hub_drops_its_oldest_messages_whoever_sent_them() {
    let log = TelemetryLog::new(limits(100, 10_000, 1_000));
    log.record("old", Vec::new(), &body_costing(400), now());
    log.record("old", Vec::new(), &body_costing(400), now());
    // The third message takes the hub past 1,000 bytes: the oldest of all goes.
    let dropped = log.record("new", Vec::new(), &body_costing(400), now());
    assert_eq!(dropped, 1);
    assert_eq!(log.device("old").messages.len(), 1);
    assert_eq!(log.device("old").dropped, 1);
    assert_eq!(log.device("new").messages.len(), 1);
    assert_eq!(log.bytes_kept(), 800);
}

#[test]
fn a_flood_stays_within_the_hub_limit_and_the_bookkeeping_stays_small() {
    let log = TelemetryLog::new(limits(5, 2_000, 50_000));
    for round in 0..2_000 {
        let device = format!("d{}", round % 300);
        log.record(&device, vec![("k".into(), "v".into())], b"payload", now());
        assert!(log.bytes_kept() <= 50_000);
    }
    let kept = log.inner.lock().unwrap();
    assert!(
        kept.arrivals.len() <= 2 * kept.live + 1024,
        "{}",
        kept.arrivals.len()
    );
    let counted: usize = kept.devices.values().map(|log| log.entries.len()).sum();
    assert_eq!(counted, kept.live);
    let bytes: usize = kept.devices.values().map(|log| log.bytes).sum();
    assert_eq!(bytes, kept.bytes);
}
