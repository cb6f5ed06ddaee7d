//! A minimal IoT Hub device over rumqttc for hub tests: connects with a SAS token,
//! and hands every incoming PUBLISH, SUBACK (or the connection's end) to the test.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, MqttOptions, Packet, Publish, QoS, SubscribeReasonCode,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use twinlens::auth::{DeviceConnectionString, SharedAccessKey};

use super::{HubProcess, now};

/// What the device's event loop reported.
#[derive(Debug)]
pub enum Incoming {
    /// A message from the hub.
    Publish(Publish),
    /// The hub's answer to a SUBSCRIBE: one code per filter.
    SubAck(Vec<SubscribeReasonCode>),
    /// The connection ended (or was refused).
    Ended(String),
}

/// A connected test device.
pub struct TestDevice {
    pub client: AsyncClient,
    pub incoming: mpsc::UnboundedReceiver<Incoming>,
    /// Messages that arrived while the test waited for something else.
    pub held: VecDeque<Publish>,
    pub device_id: String,
}

/// Registers a device through the REST API and returns its primary key.
pub async fn register(hub: &HubProcess, device_id: &str) -> String {
    let response = hub
        .request(reqwest::Method::PUT, &format!("/devices/{device_id}"))
        .json(&json!({"deviceId": device_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["authentication"]["symmetricKey"]["primaryKey"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The device's connection string for this hub (plain MQTT, host `localhost`).
pub fn connection_string(device_id: &str, key: &str) -> DeviceConnectionString {
    DeviceConnectionString {
        host_name: "localhost".into(),
        device_id: device_id.into(),
        module_id: None,
        gateway_host_name: None,
        key: SharedAccessKey::from_base64(key).unwrap(),
    }
}

impl TestDevice {
    /// Connects over plain MQTT with a token from `key`; waits for the CONNACK.
    pub async fn connect(
        hub: &HubProcess,
        device_id: &str,
        key: &str,
    ) -> Result<TestDevice, String> {
        let password = connection_string(device_id, key)
            .sas_token(now() + 3600)
            .to_string();
        Self::connect_with_password(hub, device_id, &password).await
    }

    /// Connects as module `module_id` of `device_id` (client id `{device}/{module}`,
    /// username `localhost/{device}/{module}/?api-version=...`) with a token signed for
    /// the module's resource with `key`.
    pub async fn connect_module(
        hub: &HubProcess,
        device_id: &str,
        module_id: &str,
        key: &str,
    ) -> Result<TestDevice, String> {
        let credentials = DeviceConnectionString {
            module_id: Some(module_id.into()),
            ..connection_string(device_id, key)
        };
        let password = credentials.sas_token(now() + 3600).to_string();
        Self::connect_with_password(hub, &format!("{device_id}/{module_id}"), &password).await
    }

    /// Connects with an explicit password; `client_id` is a device id, or
    /// `{deviceId}/{moduleId}` for a module.
    pub async fn connect_with_password(
        hub: &HubProcess,
        client_id: &str,
        password: &str,
    ) -> Result<TestDevice, String> {
        let username = format!("localhost/{client_id}/?api-version=2021-04-12");
        Self::connect_with_username(hub, client_id, &username, password).await
    }

    /// Connects with an explicit username and password.
    pub async fn connect_with_username(
        hub: &HubProcess,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<TestDevice, String> {
        let device_id = client_id;
        let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
        let mut options = MqttOptions::new(device_id, "127.0.0.1", port);
        options.set_credentials(username, password);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(300 * 1024, 300 * 1024);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (sender, mut incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = sender.send(Incoming::Ended("connected".into()));
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let _ = sender.send(Incoming::Publish(publish));
                    }
                    Ok(Event::Incoming(Packet::SubAck(suback))) => {
                        let _ = sender.send(Incoming::SubAck(suback.return_codes));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        let _ = sender.send(Incoming::Ended(describe(&error)));
                        return;
                    }
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(10), incoming.recv()).await {
            Ok(Some(Incoming::Ended(state))) if state == "connected" => Ok(TestDevice {
                client,
                incoming,
                held: VecDeque::new(),
                device_id: device_id.to_owned(),
            }),
            Ok(Some(Incoming::Ended(error))) => Err(error),
            other => Err(format!("no CONNACK: {other:?}")),
        }
    }

    /// Subscribes at QoS 1 and returns the hub's SUBACK code for the filter.
    pub async fn subscribe(&mut self, filter: &str) -> SubscribeReasonCode {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.incoming.recv()).await {
                Ok(Some(Incoming::SubAck(codes))) => {
                    assert_eq!(codes.len(), 1, "one code per filter: {codes:?}");
                    return codes[0];
                }
                Ok(Some(Incoming::Publish(publish))) => self.held.push_back(publish),
                other => panic!("expected a SUBACK for {filter}, got {other:?}"),
            }
        }
    }

    /// Publishes at QoS 1.
    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .await
            .unwrap();
    }

    /// The next PUBLISH from the hub, within 10 seconds.
    pub async fn next_publish(&mut self) -> Publish {
        if let Some(publish) = self.held.pop_front() {
            return publish;
        }
        match tokio::time::timeout(Duration::from_secs(10), self.incoming.recv()).await {
            Ok(Some(Incoming::Publish(publish))) => publish,
            other => panic!("expected a publish, got {other:?}"),
        }
    }

    /// Waits for the connection to end and says why.
    pub async fn ended(&mut self) -> String {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.incoming.recv()).await {
                Ok(Some(Incoming::Ended(reason))) => return reason,
                Ok(Some(Incoming::Publish(_) | Incoming::SubAck(_))) => {}
                other => panic!("the connection did not end: {other:?}"),
            }
        }
    }
}

fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => format!("refused: {code:?}"),
        other => format!("ended: {other}"),
    }
}
