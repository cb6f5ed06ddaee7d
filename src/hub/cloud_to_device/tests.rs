#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn store_with(dir: &tempfile::TempDir, ids: &[&str]) -> Store {
    let store = Store::open(&dir.path().join("hub.db")).unwrap();
    for id in ids {
        if store.device(id).is_err() {
            let (_, created) = store.put_device(id, &json!({}), None, Utc::now()).unwrap();
            created.wait().unwrap();
        }
    }
    store
}

fn text(body: &str) -> OutgoingMessage {
    OutgoingMessage {
        body: Bytes::copy_from_slice(body.as_bytes()),
        ..OutgoingMessage::default()
    }
}

fn count(store: &Store, device_id: &str) -> (u64, serde_json::Value) {
    (
        store
            .device(device_id)
            .unwrap()
            .cloud_to_device_message_count,
        store.twin(device_id).unwrap()["cloudToDeviceMessageCount"].clone(),
    )
}

#[test]
fn the_property_bag_has_azure_keys_in_azure_order() {
    let message = OutgoingMessage {
        message_id: Some("m".into()),
        correlation_id: Some("c".into()),
        user_id: Some("u".into()),
        content_type: Some("application/json".into()),
        content_encoding: Some("utf-8".into()),
        ack: Some(Acknowledgement::Positive),
        expiry: DateTime::from_timestamp(1_893_456_000, 0),
        application_properties: vec![("k".into(), "a b".into())],
        ..text("{}")
    };
    let names: Vec<(String, Option<String>)> = message.property_bag("d1");
    assert_eq!(
        names,
        vec![
            ("$.mid".into(), Some("m".into())),
            ("$.cid".into(), Some("c".into())),
            ("$.uid".into(), Some("u".into())),
            ("$.exp".into(), Some("2030-01-01T00:00:00.0000000Z".into())),
            (
                "$.to".into(),
                Some("/devices/d1/messages/devicebound".into())
            ),
            ("$.ct".into(), Some("application/json".into())),
            ("$.ce".into(), Some("utf-8".into())),
            ("iothub-ack".into(), Some("positive".into())),
            ("k".into(), Some("a b".into())),
        ]
    );
    // Never an empty bag: `$.to` is always there.
    assert_eq!(
        text("x").property_bag("d1"),
        vec![(
            "$.to".into(),
            Some("/devices/d1/messages/devicebound".into())
        )]
    );
}

#[test]
fn messages_are_taken_in_order_locked_and_completed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir, &["d1"]);
    let queues = CloudToDevice::open(store.clone(), Utc::now()).unwrap();
    let now = Utc::now();
    for body in ["one", "two", "three"] {
        queues.send("d1", &text(body), now).unwrap();
    }
    assert_eq!(count(&store, "d1"), (3, json!(3)));
    let taken = queues.take_ready("d1", now);
    let bodies: Vec<&[u8]> = taken.iter().map(|d| &d.body[..]).collect();
    assert_eq!(bodies, vec![&b"one"[..], b"two", b"three"]);
    assert!(
        queues.take_ready("d1", now).is_empty(),
        "sent ones are locked"
    );
    queues.complete("d1", taken[0].sequence);
    assert_eq!(count(&store, "d1"), (2, json!(2)));
    // The session ends without acknowledging the others: they go out again, in order.
    queues.end_session("d1", &[taken[1].sequence, taken[2].sequence]);
    let again: Vec<u64> = queues
        .take_ready("d1", now)
        .iter()
        .map(|d| d.sequence)
        .collect();
    assert_eq!(again, vec![taken[1].sequence, taken[2].sequence]);
}

#[test]
fn a_full_queue_and_a_large_message_are_refused_with_azure_codes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir, &["d1"]);
    let queues = CloudToDevice::open(store, Utc::now()).unwrap();
    let now = Utc::now();
    for n in 0..MAX_QUEUED_MESSAGES {
        queues.send("d1", &text(&n.to_string()), now).unwrap();
    }
    let error = queues.send("d1", &text("51"), now).unwrap_err();
    assert_eq!(error.error_code(), 403004);
    assert!(error.to_string().contains("limit of 50"), "{error}");
    // Taken (locked) messages still count against the queue.
    drop(queues.take_ready("d1", now));
    assert_eq!(
        queues
            .send("d1", &text("51"), now)
            .unwrap_err()
            .error_code(),
        403004
    );

    let mut large = text(&"x".repeat(MAX_MESSAGE_BYTES - 2));
    large.application_properties = vec![("k".into(), "v".into())];
    queues.purge("d1").unwrap();
    queues.send("d1", &large, now).unwrap();
    large.application_properties[0].1.push('v');
    let error = queues.send("d1", &large, now).unwrap_err();
    assert_eq!(error.error_code(), 413001);
}

#[test]
fn expired_messages_leave_the_queue_and_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir, &["d1"]);
    let queues = CloudToDevice::open(store.clone(), Utc::now()).unwrap();
    let now = Utc::now();
    let soon = OutgoingMessage {
        expiry: Some(now + TimeDelta::seconds(10)),
        ..text("soon")
    };
    queues.send("d1", &soon, now).unwrap();
    queues.send("d1", &text("default"), now).unwrap();
    queues.drop_expired(now + TimeDelta::seconds(11));
    assert_eq!(count(&store, "d1"), (1, json!(1)));
    let left = queues.take_ready("d1", now + TimeDelta::minutes(59));
    assert_eq!(&left[0].body[..], b"default");
    queues.end_session("d1", &[left[0].sequence]);
    assert!(
        queues
            .take_ready("d1", now + TimeDelta::minutes(61))
            .is_empty(),
        "the default time to live is an hour"
    );
    assert_eq!(count(&store, "d1"), (0, json!(0)));
    // An expiry in the past is refused; one past two days is brought back to two days.
    let past = OutgoingMessage {
        expiry: Some(now - TimeDelta::seconds(1)),
        ..text("late")
    };
    assert_eq!(
        queues.send("d1", &past, now).unwrap_err().error_code(),
        400004
    );
    let far = OutgoingMessage {
        expiry: Some(now + TimeDelta::days(30)),
        ..text("far")
    };
    queues.send("d1", &far, now).unwrap();
    assert!(
        queues
            .take_ready("d1", now + TimeDelta::days(2) + TimeDelta::seconds(1))
            .is_empty()
    );
}

#[test]
fn purge_empties_the_queue_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir, &["d1"]);
    let queues = CloudToDevice::open(store.clone(), Utc::now()).unwrap();
    let now = Utc::now();
    for body in ["a", "b", "c"] {
        queues.send("d1", &text(body), now).unwrap();
    }
    drop(queues.take_ready("d1", now));
    assert_eq!(
        queues.purge("d1").unwrap(),
        3,
        "sent but unacknowledged ones too"
    );
    assert_eq!(queues.purge("d1").unwrap(), 0);
    assert_eq!(count(&store, "d1"), (0, json!(0)));
}

#[test]
fn queues_survive_a_restart_without_what_expired() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let sent = {
        let store = store_with(&dir, &["d1", "d2"]);
        let queues = CloudToDevice::open(store, now).unwrap();
        let properties = OutgoingMessage {
            message_id: Some("m1".into()),
            application_properties: vec![("k".into(), "v".into())],
            body: Bytes::from_static(&[0, 159, 255]),
            ..text("")
        };
        queues.send("d1", &properties, now).unwrap();
        let short = OutgoingMessage {
            expiry: Some(now + TimeDelta::seconds(5)),
            ..text("short")
        };
        queues.send("d2", &short, now).unwrap();
        queues.send("d2", &text("kept"), now).unwrap();
        // Taken but never acknowledged when the hub stops.
        queues.take_ready("d1", now)
    };
    let store = store_with(&dir, &[]);
    let later = now + TimeDelta::seconds(30);
    let queues = CloudToDevice::open(store.clone(), later).unwrap();
    assert_eq!(queues.take_ready("d1", later), sent);
    let d2: Vec<Bytes> = queues
        .take_ready("d2", later)
        .into_iter()
        .map(|d| d.body)
        .collect();
    assert_eq!(d2, vec![Bytes::from_static(b"kept")]);
    assert_eq!(count(&store, "d2"), (1, json!(1)));
    // New messages follow the old ones.
    queues.send("d1", &text("new"), later).unwrap();
    let new = queues.take_ready("d1", later);
    assert!(new[0].sequence > sent[0].sequence);
}

#[test]
fn idle_empty_queues_are_dropped_and_deleted_devices_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(&dir, &["d1"]);
    let queues = CloudToDevice::open(store.clone(), Utc::now()).unwrap();
    let signal = queues.ready_signal("d1");
    drop(signal);
    queues.end_session("d1", &[]);
    assert!(queues.queues().devices.is_empty());
    queues.send("d1", &text("a"), Utc::now()).unwrap();
    queues.forget("d1").unwrap();
    assert_eq!(queues.queued("d1"), 0);
    assert!(store.load_cloud_messages().unwrap().is_empty());
}
