//! The simulated device's MQTT 3.1.1 client connection, on the shared [`PacketStream`]:
//! CONNECT and its CONNACK, QoS 1 publishes with their packet ids and PUBACKs, subscribes,
//! acknowledgements of the hub's messages, keep-alive pings, DISCONNECT.
//!
//! It is the device's own rather than a general-purpose client's: a general client keeps
//! fixed buffers, a 65,536-bit packet-id set and an event-loop task of its own for every
//! connection (some 30 KB), which ten thousand simulated devices in one process cannot
//! afford. Here an idle connection is its socket, two empty buffers and a few words.
//!
//! Reading ([`Link::read`]) is cancel-safe, so the device can wait for the next packet in
//! a `select!`; everything that writes is awaited outside one. A write that the hub does
//! not take within the keep-alive period fails the connection.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    Connect, ConnectReturnCode, Login, Packet, PubAck, Publish, Subscribe, SubscribeFilter,
    SubscribeReasonCode,
};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::mqtt_wire::{FrameError, PacketCodec, PacketStream};

/// How long connecting may take: TCP, TLS and the hub's CONNACK together.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A byte stream a connection runs on: plain TCP or TLS over it.
trait Socket: AsyncRead + AsyncWrite + Send + Unpin {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> Socket for S {}

/// What one connection attempt sends and where.
pub(super) struct ConnectOptions {
    /// Host to dial.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS configuration and the name the hub's certificate must carry; `None` for
    /// plain MQTT.
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// The CONNECT client id.
    pub client_id: String,
    /// The CONNECT username.
    pub username: String,
    /// The CONNECT password (a SAS token).
    pub password: String,
    /// The keep-alive period announced in CONNECT and kept by pings.
    pub keep_alive: Duration,
    /// The largest packet either way.
    pub max_packet_bytes: usize,
    /// QoS 1 publishes on the wire before more wait for the hub's PUBACKs.
    pub max_in_flight: usize,
    /// Publishes that may wait for room on the wire before a publish is refused.
    pub max_waiting: usize,
}

/// Why a connection failed or ended; the device reconnects after a backoff.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The hub answered CONNECT with a refusal.
    #[error("the hub refused the connection ({0:?}); check the device id and key")]
    Refused(ConnectReturnCode),
    /// The hub did not finish connecting in time.
    #[error("the hub did not accept the connection within {0:?}")]
    ConnectTimeout(Duration),
    /// The hub answered something other than CONNACK to CONNECT.
    #[error("the hub answered CONNECT with {0}, not CONNACK")]
    NotConnAck(String),
    /// The hub did not answer a keep-alive ping within a keep-alive period.
    #[error("the hub did not answer a keep-alive ping within {0:?}")]
    NoPingResponse(Duration),
    /// The hub did not take a packet within a keep-alive period.
    #[error("the hub did not take a packet within {0:?}")]
    WriteTimeout(Duration),
    /// The hub closed the connection.
    #[error("the hub closed the connection")]
    Closed,
    /// The socket failed, or a packet could not be read or written.
    #[error("{}", with_advice(.0))]
    Frame(#[from] FrameError),
}

/// A socket error's text with every cause, and advice when a certificate was not trusted.
fn with_advice(error: &FrameError) -> String {
    let text = crate::error_text::with_causes(error);
    match crate::error_text::untrusted_certificate_advice(&text) {
        Some(advice) => format!("{text}; {advice}"),
        None => text,
    }
}

impl From<io::Error> for LinkError {
    fn from(error: io::Error) -> Self {
        Self::Frame(FrameError::Io(error))
    }
}

/// Why a publish was not sent.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Too many publishes are waiting for the hub already; the connection is fine.
    #[error(
        "{0} messages are already waiting for the hub to acknowledge them; send it again once they are acknowledged"
    )]
    Backlog(usize),
    /// The connection failed.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// What a packet from the hub means to the device, once the link has done its part.
#[derive(Debug)]
pub(super) enum Received {
    /// A message to handle; [`Link::acknowledge`] it afterwards.
    Message(Publish),
    /// The hub's answer to a subscribe: one code per filter, in order.
    Subscribed(Vec<SubscribeReasonCode>),
    /// Bookkeeping only (PUBACK, PINGRESP).
    Nothing,
}

/// A connected device.
pub(super) struct Link {
    stream: PacketStream<Box<dyn Socket>>,
    keep_alive: Duration,
    max_in_flight: usize,
    max_waiting: usize,
    last_packet_id: u16,
    /// Packet ids of publishes and subscribes the hub has not acknowledged yet.
    unacknowledged: Vec<u16>,
    /// Publishes waiting for room on the wire.
    waiting: VecDeque<Publish>,
    /// When the next ping is due: a keep-alive period after the last packet written.
    ping_due: Instant,
    /// A ping is out and its PINGRESP has not come.
    ping_outstanding: bool,
}

impl Link {
    /// Dials, secures and sends CONNECT; returns once the hub accepted it.
    pub(super) async fn connect(options: ConnectOptions) -> Result<Self, LinkError> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::connect_now(options))
            .await
            .unwrap_or(Err(LinkError::ConnectTimeout(CONNECT_TIMEOUT)))
    }

    async fn connect_now(options: ConnectOptions) -> Result<Self, LinkError> {
        let tcp = TcpStream::connect((options.host.as_str(), options.port)).await?;
        // Without TCP_NODELAY a publish sent right after the device acknowledged the hub's
        // last message waits for the hub's delayed ACK, about 40 ms.
        tcp.set_nodelay(true)?;
        let socket: Box<dyn Socket> = match options.tls {
            None => Box::new(tcp),
            Some((config, name)) => {
                let connector = tokio_rustls::TlsConnector::from(config);
                Box::new(connector.connect(name, tcp).await?)
            }
        };
        let codec = PacketCodec::new(options.max_packet_bytes);
        let mut stream = PacketStream::new(socket, codec, BytesMut::new());
        let mut connect = Connect::new(options.client_id);
        connect.keep_alive = u16::try_from(options.keep_alive.as_secs()).unwrap_or(u16::MAX);
        // The device re-subscribes and re-reads its twin on every connect.
        connect.clean_session = true;
        connect.login = Some(Login::new(options.username, options.password));
        stream.write_packets([Packet::Connect(connect)]).await?;
        match stream.read_packet().await {
            None => Err(LinkError::Closed),
            Some(Err(error)) => Err(error.into()),
            Some(Ok(Packet::ConnAck(connack))) if connack.code == ConnectReturnCode::Success => {
                Ok(Self {
                    stream,
                    keep_alive: options.keep_alive,
                    max_in_flight: options.max_in_flight.max(1),
                    max_waiting: options.max_waiting,
                    last_packet_id: 0,
                    unacknowledged: Vec::new(),
                    waiting: VecDeque::new(),
                    ping_due: Instant::now() + options.keep_alive,
                    ping_outstanding: false,
                })
            }
            Some(Ok(Packet::ConnAck(connack))) => Err(LinkError::Refused(connack.code)),
            Some(Ok(other)) => Err(LinkError::NotConnAck(format!("{other:?}"))),
        }
    }

    /// The next packet from the hub. Cancel-safe.
    pub(super) async fn read(&mut self) -> Result<Packet, LinkError> {
        match self.stream.read_packet().await {
            None => Err(LinkError::Closed),
            Some(result) => Ok(result?),
        }
    }

    /// Does the link's part for `packet` (freeing the packet ids the hub acknowledged and
    /// sending what waited for them) and says what is left for the device.
    pub(super) async fn received(&mut self, packet: Packet) -> Result<Received, LinkError> {
        match packet {
            Packet::Publish(publish) => Ok(Received::Message(publish)),
            Packet::PubAck(ack) => {
                self.forget(ack.pkid);
                self.send_waiting().await?;
                Ok(Received::Nothing)
            }
            Packet::SubAck(ack) => {
                self.forget(ack.pkid);
                Ok(Received::Subscribed(ack.return_codes))
            }
            Packet::PingResp => {
                self.ping_outstanding = false;
                Ok(Received::Nothing)
            }
            other => {
                tracing::debug!("ignored a packet the device never asked for: {other:?}");
                Ok(Received::Nothing)
            }
        }
    }

    /// Publishes at QoS 1, at once when fewer than the in-flight limit wait for PUBACK,
    /// else after them.
    pub(super) async fn publish(
        &mut self,
        topic: String,
        body: Vec<u8>,
    ) -> Result<(), PublishError> {
        let publish = Publish::new(topic, QoS::AtLeastOnce, body);
        if self.unacknowledged.len() < self.max_in_flight {
            self.send_publish(publish).await?;
        } else if self.waiting.len() < self.max_waiting {
            self.waiting.push_back(publish);
        } else {
            return Err(PublishError::Backlog(
                self.unacknowledged.len() + self.waiting.len(),
            ));
        }
        Ok(())
    }

    /// Subscribes to `filters` at QoS 1; the answer comes as [`Received::Subscribed`].
    pub(super) async fn subscribe(&mut self, filters: Vec<String>) -> Result<(), LinkError> {
        let pkid = self.next_packet_id();
        let filters = filters
            .into_iter()
            .map(|path| SubscribeFilter::new(path, QoS::AtLeastOnce));
        let mut subscribe = Subscribe::new_many(filters);
        subscribe.pkid = pkid;
        self.unacknowledged.push(pkid);
        self.write(Packet::Subscribe(subscribe)).await
    }

    /// Tells the hub a message was handled (PUBACK for QoS 1; nothing for QoS 0).
    pub(super) async fn acknowledge(&mut self, message: &Publish) -> Result<(), LinkError> {
        if message.qos == QoS::AtMostOnce {
            return Ok(());
        }
        self.write(Packet::PubAck(PubAck::new(message.pkid))).await
    }

    /// When the link must ping the hub (see [`Link::ping`]).
    pub(super) fn ping_due(&self) -> Instant {
        self.ping_due
    }

    /// Pings the hub, or fails the connection when the last ping went unanswered for a
    /// whole keep-alive period.
    pub(super) async fn ping(&mut self) -> Result<(), LinkError> {
        if self.ping_outstanding {
            return Err(LinkError::NoPingResponse(self.keep_alive));
        }
        self.ping_outstanding = true;
        self.write(Packet::PingReq).await
    }

    /// Sends DISCONNECT and closes the connection, within `grace`.
    pub(super) async fn disconnect(mut self, grace: Duration) {
        let _ = tokio::time::timeout(grace, self.stream.write_packets([Packet::Disconnect])).await;
    }

    async fn send_waiting(&mut self) -> Result<(), LinkError> {
        while self.unacknowledged.len() < self.max_in_flight {
            let Some(publish) = self.waiting.pop_front() else {
                break;
            };
            self.send_publish(publish).await?;
        }
        Ok(())
    }

    async fn send_publish(&mut self, mut publish: Publish) -> Result<(), LinkError> {
        publish.pkid = self.next_packet_id();
        self.unacknowledged.push(publish.pkid);
        self.write(Packet::Publish(publish)).await
    }

    async fn write(&mut self, packet: Packet) -> Result<(), LinkError> {
        tokio::time::timeout(self.keep_alive, self.stream.write_packets([packet]))
            .await
            .map_err(|_| LinkError::WriteTimeout(self.keep_alive))??;
        self.ping_due = Instant::now() + self.keep_alive;
        Ok(())
    }

    /// The next packet id (1 to 65,535) that no unacknowledged packet holds.
    fn next_packet_id(&mut self) -> u16 {
        loop {
            self.last_packet_id = self.last_packet_id.checked_add(1).unwrap_or(1);
            if !self.unacknowledged.contains(&self.last_packet_id) {
                return self.last_packet_id;
            }
        }
    }

    fn forget(&mut self, pkid: u16) {
        if let Some(index) = self.unacknowledged.iter().position(|id| *id == pkid) {
            self.unacknowledged.swap_remove(index);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::{ConnAck, SubAck};
    use tokio::net::TcpListener;

    /// The hub's end of a link under test.
    type HubEnd = PacketStream<TcpStream>;

    fn options(port: u16) -> ConnectOptions {
        ConnectOptions {
            host: "127.0.0.1".into(),
            port,
            tls: None,
            client_id: "dev1".into(),
            username: "hub/dev1/?api-version=2021-04-12".into(),
            password: "token".into(),
            keep_alive: Duration::from_secs(60),
            max_packet_bytes: 4096,
            max_in_flight: 2,
            max_waiting: 1,
        }
    }

    /// A link to a hub on a loopback port that answers CONNECT with `code`, and the
    /// CONNECT it read.
    async fn link_with(code: ConnectReturnCode) -> (Result<Link, LinkError>, HubEnd, Connect) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hub = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut hub = PacketStream::new(socket, PacketCodec::new(4096), BytesMut::new());
            let Some(Ok(Packet::Connect(connect))) = hub.read_packet().await else {
                panic!("no CONNECT")
            };
            let connack = Packet::ConnAck(ConnAck::new(code, false));
            hub.write_packets([connack]).await.unwrap();
            (hub, connect)
        });
        let link = Link::connect(options(port)).await;
        let (hub, connect) = hub.await.unwrap();
        (link, hub, connect)
    }

    async fn connected() -> (Link, HubEnd) {
        let (link, hub, _) = link_with(ConnectReturnCode::Success).await;
        (link.unwrap(), hub)
    }

    async fn next(hub: &mut HubEnd) -> Packet {
        hub.read_packet().await.unwrap().unwrap()
    }

    fn pkid(packet: &Packet) -> u16 {
        match packet {
            Packet::Publish(publish) => publish.pkid,
            Packet::Subscribe(subscribe) => subscribe.pkid,
            Packet::PubAck(ack) => ack.pkid,
            other => panic!("no packet id in {other:?}"),
        }
    }

    #[tokio::test]
    async fn connect_sends_the_credentials_and_a_clean_session() {
        let (link, _hub, connect) = link_with(ConnectReturnCode::Success).await;
        assert!(link.is_ok());
        assert_eq!(connect.client_id, "dev1");
        assert_eq!(connect.keep_alive, 60);
        assert!(connect.clean_session);
        let login = connect.login.unwrap();
        assert_eq!(login.username, "hub/dev1/?api-version=2021-04-12");
        assert_eq!(login.password, "token");
    }

    #[tokio::test]
    async fn a_refusal_keeps_its_code() {
        let (link, _hub, _) = link_with(ConnectReturnCode::NotAuthorized).await;
        assert!(matches!(
            link,
            Err(LinkError::Refused(ConnectReturnCode::NotAuthorized))
        ));
    }

    #[tokio::test]
    async fn nobody_listening_is_a_socket_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let error = Link::connect(options(port)).await.err().unwrap();
        assert!(
            matches!(error, LinkError::Frame(FrameError::Io(_))),
            "{error}"
        );
    }

    #[tokio::test]
    async fn publishes_beyond_the_in_flight_limit_wait_for_pubacks() {
        let (mut link, mut hub) = connected().await;
        link.publish("a".into(), b"1".to_vec()).await.unwrap();
        link.publish("b".into(), b"2".to_vec()).await.unwrap();
        link.publish("c".into(), b"3".to_vec()).await.unwrap();
        let backlog = link.publish("d".into(), b"4".to_vec()).await;
        assert!(
            matches!(backlog, Err(PublishError::Backlog(3))),
            "{backlog:?}"
        );
        let first = next(&mut hub).await;
        let second = next(&mut hub).await;
        assert_ne!(pkid(&first), pkid(&second));
        assert!(
            matches!(&first, Packet::Publish(p) if p.topic == "a" && p.qos == QoS::AtLeastOnce)
        );
        // The hub acknowledges the second first; the waiting publish goes out then.
        let ack = Packet::PubAck(PubAck::new(pkid(&second)));
        assert!(matches!(
            link.received(ack).await.unwrap(),
            Received::Nothing
        ));
        let third = next(&mut hub).await;
        assert!(matches!(&third, Packet::Publish(p) if p.topic == "c"));
        assert_ne!(
            pkid(&third),
            pkid(&first),
            "an unacknowledged id is not reused"
        );
        link.publish("d".into(), b"4".to_vec()).await.unwrap();
    }

    #[tokio::test]
    async fn packet_ids_wrap_around_past_the_ones_in_use() {
        let (mut link, mut hub) = connected().await;
        link.last_packet_id = u16::MAX - 1;
        link.publish("a".into(), Vec::new()).await.unwrap();
        link.publish("b".into(), Vec::new()).await.unwrap();
        assert_eq!(pkid(&next(&mut hub).await), u16::MAX);
        assert_eq!(pkid(&next(&mut hub).await), 1);
        link.received(Packet::PubAck(PubAck::new(1))).await.unwrap();
        link.last_packet_id = u16::MAX - 1;
        link.publish("c".into(), Vec::new()).await.unwrap();
        assert_eq!(pkid(&next(&mut hub).await), 1, "65,535 is still in flight");
    }

    #[tokio::test]
    async fn subscribes_and_their_answers() {
        let (mut link, mut hub) = connected().await;
        link.subscribe(vec!["x/#".into(), "y/#".into()])
            .await
            .unwrap();
        let Packet::Subscribe(subscribe) = next(&mut hub).await else {
            panic!("no SUBSCRIBE")
        };
        let filters: Vec<_> = subscribe
            .filters
            .iter()
            .map(|f| (f.path.as_str(), f.qos))
            .collect();
        assert_eq!(
            filters,
            [("x/#", QoS::AtLeastOnce), ("y/#", QoS::AtLeastOnce)]
        );
        let codes = vec![
            SubscribeReasonCode::Success(QoS::AtLeastOnce),
            SubscribeReasonCode::Failure,
        ];
        let answer = Packet::SubAck(SubAck::new(subscribe.pkid, codes.clone()));
        let Received::Subscribed(received) = link.received(answer).await.unwrap() else {
            panic!("the answer is the device's")
        };
        assert_eq!(received, codes);
        assert!(link.unacknowledged.is_empty());
    }

    #[tokio::test]
    async fn only_qos_1_messages_are_acknowledged() {
        let (mut link, mut hub) = connected().await;
        let mut message = Publish::new("m", QoS::AtLeastOnce, "{}");
        message.pkid = 7;
        let Received::Message(received) = link.received(Packet::Publish(message)).await.unwrap()
        else {
            panic!("a message is the device's")
        };
        link.acknowledge(&Publish::new("m", QoS::AtMostOnce, "{}"))
            .await
            .unwrap();
        link.acknowledge(&received).await.unwrap();
        assert!(matches!(next(&mut hub).await, Packet::PubAck(ack) if ack.pkid == 7));
    }

    #[tokio::test]
    async fn an_unanswered_ping_fails_the_link() {
        let (mut link, mut hub) = connected().await;
        let before = link.ping_due();
        link.ping().await.unwrap();
        assert!(matches!(next(&mut hub).await, Packet::PingReq));
        assert!(link.ping_due() > before, "a write moves the next ping");
        link.received(Packet::PingResp).await.unwrap();
        link.ping().await.unwrap();
        assert!(matches!(
            link.ping().await,
            Err(LinkError::NoPingResponse(_))
        ));
    }

    #[tokio::test]
    async fn disconnect_says_goodbye_and_a_closed_hub_ends_the_link() {
        let (link, mut hub) = connected().await;
        link.disconnect(Duration::from_secs(1)).await;
        assert!(matches!(next(&mut hub).await, Packet::Disconnect));
        assert!(hub.read_packet().await.is_none());
        let (mut link, hub) = connected().await;
        drop(hub);
        assert!(matches!(link.read().await, Err(LinkError::Closed)));
    }
}
