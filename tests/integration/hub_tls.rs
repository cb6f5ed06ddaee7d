//! The hub's TLS endpoints as devices use them: MQTT over WebSockets on the HTTPS port
//! (`wss://HOST/$iothub/websocket`, subprotocol `mqtt`), and TLS clients that close
//! without close_notify.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use common::HubProcess;
use common::device::register;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Connect, Packet, Publish, Subscribe, SubscribeFilter};
use rustls_pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

/// A TLS connection to `port` trusting only the hub's CA.
async fn tls_connect(hub: &HubProcess, port: u16) -> TlsStream<TcpStream> {
    use rustls_pki_types::pem::PemObject;
    let ca = std::fs::read_to_string(hub.ready["ca_cert"].as_str().unwrap()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

fn http_port(hub: &HubProcess) -> u16 {
    let url = hub.ready["http_url"].as_str().unwrap();
    url.rsplit(':').next().unwrap().parse().unwrap()
}

fn signed_connect(device_id: &str, key: &str) -> Packet {
    let password = common::device::connection_string(device_id, key)
        .sas_token(common::now() + 600)
        .to_string();
    let mut connect = Connect::new(device_id);
    connect.clean_session = false;
    connect.set_login(
        format!("localhost/{device_id}/?api-version=2021-04-12"),
        password,
    );
    Packet::Connect(connect)
}

/// A device speaking MQTT over a WebSocket, packet by packet.
struct WebSocketDevice {
    socket: WebSocketStream<TlsStream<TcpStream>>,
    received: BytesMut,
}

impl WebSocketDevice {
    /// Opens `wss://localhost:PORT/$iothub/websocket` offering `subprotocol`.
    async fn open(
        hub: &HubProcess,
        subprotocol: Option<&str>,
    ) -> Result<WebSocketDevice, tungstenite::Error> {
        let port = http_port(hub);
        let stream = tls_connect(hub, port).await;
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
            "wss://localhost:{port}/$iothub/websocket"
        ))
        .unwrap();
        if let Some(subprotocol) = subprotocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", subprotocol.parse().unwrap());
        }
        let (socket, response) = tokio_tungstenite::client_async(request, stream).await?;
        assert_eq!(response.headers()["sec-websocket-protocol"], "mqtt");
        Ok(WebSocketDevice {
            socket,
            received: BytesMut::new(),
        })
    }

    async fn send(&mut self, bytes: Vec<u8>) {
        self.socket.send(Message::binary(bytes)).await.unwrap();
    }

    async fn next(&mut self) -> Packet {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(packet) = common::take_packet(&mut self.received) {
                    return packet;
                }
                match self.socket.next().await {
                    Some(Ok(Message::Binary(bytes))) => self.received.extend_from_slice(&bytes),
                    other => panic!("expected a binary message, got {other:?}"),
                }
            }
        })
        .await
        .expect("a packet from the hub within 10 s")
    }
}

#[tokio::test]
async fn mqtt_over_websockets_on_the_https_port() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls"]);
    let key = register(&hub, "ws1").await;

    let mut device = WebSocketDevice::open(&hub, Some("mqtt")).await.unwrap();
    // Message boundaries need not be packet boundaries: CONNECT in two messages, then
    // SUBSCRIBE and a twin GET in one.
    let connect = common::packet_bytes(signed_connect("ws1", &key));
    let (head, tail) = connect.split_at(5);
    device.send(head.to_vec()).await;
    device.send(tail.to_vec()).await;
    let Packet::ConnAck(connack) = device.next().await else {
        panic!("expected CONNACK");
    };
    assert_eq!(
        connack.code,
        rumqttc::mqttbytes::v4::ConnectReturnCode::Success
    );
    let mut subscribe = Subscribe::new_many(
        ["$iothub/twin/res/#", "$iothub/methods/POST/#"]
            .map(|path| SubscribeFilter::new(path.into(), QoS::AtMostOnce)),
    );
    subscribe.pkid = 1;
    let mut both = common::packet_bytes(Packet::Subscribe(subscribe));
    both.extend(common::packet_bytes(Packet::Publish(Publish::new(
        "$iothub/twin/GET/?$rid=1",
        QoS::AtMostOnce,
        Vec::new(),
    ))));
    device.send(both).await;
    assert!(matches!(device.next().await, Packet::SubAck(_)));
    let Packet::Publish(twin) = device.next().await else {
        panic!("expected the twin");
    };
    assert_eq!(twin.topic, "$iothub/twin/res/200/?$rid=1");
    let twin: Value = serde_json::from_slice(&twin.payload).unwrap();
    assert!(twin["desired"].is_object(), "{twin}");

    // A direct method reaches the device over its WebSocket.
    let call = json!({"methodName": "ping", "payload": {"x": 1}, "responseTimeoutInSeconds": 10});
    let calling = hub.send_json(Method::POST, "/twins/ws1/methods", &call);
    let answering = async {
        let Packet::Publish(request) = device.next().await else {
            panic!("expected the method call");
        };
        let rid = request.topic.rsplit("$rid=").next().unwrap().to_owned();
        let answer = Publish::new(
            format!("$iothub/methods/res/200/?$rid={rid}"),
            QoS::AtMostOnce,
            request.payload.to_vec(),
        );
        device
            .send(common::packet_bytes(Packet::Publish(answer)))
            .await;
    };
    let (response, ()) = tokio::join!(calling, answering);
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": 200, "payload": {"x": 1}}));
    let twin = hub.get_json("/twins/ws1").await;
    assert_eq!(twin["connectionState"], "Connected");
}

#[tokio::test]
async fn websocket_requests_without_mqtt_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), &["--tls"]);
    // No subprotocol: refused before the upgrade.
    match WebSocketDevice::open(&hub, None).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("subprotocol 'mqtt'"), "{body}");
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a WebSocket without the mqtt subprotocol was accepted"),
    }
    // A plain GET, with the service API's token or without: an Azure error, not a hang.
    let response = hub
        .request(Method::GET, "/$iothub/websocket")
        .send()
        .await
        .unwrap();
    let message = common::assert_azure_error(response, 400, 400004).await;
    assert!(message.contains("WebSocket upgrade"), "{message}");
}

#[tokio::test]
async fn a_tls_client_closing_without_close_notify_is_not_a_protocol_violation() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start_logging(dir.path(), &["--tls"], "twinlens=debug");
    let key = register(&hub, "d1").await;
    let port = u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap();
    let mut stream = tls_connect(&hub, port).await;
    stream
        .write_all(&common::packet_bytes(signed_connect("d1", &key)))
        .await
        .unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack[..2], [0x20, 2], "accepted");
    // Close the TCP connection under TLS, without close_notify.
    drop(stream.into_inner().0);
    let log = hub.wait_for_log("device session ended");
    println!("{log}");
    assert!(!log.contains("protocol violation"), "{log}");
    assert!(!log.contains("WARN"), "{log}");
}

/// `--http-port 443` where the OS refuses it: a message saying how to allow it. Run as
/// an unprivileged user (the test drops root with setpriv when it has it).
#[test]
fn a_refused_port_443_says_how_to_allow_it() {
    let unprivileged_from: u16 =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(1024);
    if unprivileged_from <= 443 {
        println!("this system lets every program use port 443; nothing to refuse");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("hub");
    std::fs::create_dir(&data_dir).unwrap();
    let root = running_as_root();
    let mut command = if root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        command.arg(env!("CARGO_BIN_EXE_twinlens"));
        command
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_twinlens"))
    };
    let output = command
        .args(["hub", "--tls", "--http-port", "443", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("127.0.0.1:443"), "{stderr}");
    assert!(stderr.contains("cap_net_bind_service"), "{stderr}");
    assert!(stderr.contains("Serving on port 443"), "{stderr}");
}

fn running_as_root() -> bool {
    let output = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}
