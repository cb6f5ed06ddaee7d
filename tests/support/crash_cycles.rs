//! The crash-cycle reliability check of the local hub, shared by the maintainers' tool
//! (`examples/crash_cycles.rs`, the long run) and the integration test
//! `hub_durability` (the short form), both of which include this file with `#[path]`.
//!
//! Each cycle runs the real `twinlens hub` binary on one persistent data directory
//! while writers change twins: REST writers PATCH desired properties and MQTT writers
//! PATCH reported properties as devices (`$iothub/twin/PATCH/properties/reported`,
//! answered by `$iothub/twin/res/204`). Every key is written once, and a write is
//! recorded only once the hub acknowledged it. Once every writer has had a write
//! acknowledged, the hub is SIGKILLed after a random delay, restarted on the same
//! directory, and every twin the run wrote so far is read back: an acknowledged write
//! that is missing is lost. The store keeps growing from cycle to cycle.
//!
//! Load stays bounded: loopback only, one request in flight per writer, and a writer
//! moves on to a fresh device every [`KEYS_PER_DEVICE`] keys so no twin nears IoT Hub's
//! 32 KB section limit.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet, QoS};
use rumqttc::{Publish, SubscribeReasonCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use twinlens::auth::{DeviceConnectionString, ServiceConnectionString, SharedAccessKey};
use twinlens::topics::{
    API_VERSION, DeviceTopic, HubTopic, MqttUsername, RequestId, Subscription, parse_hub_topic,
};

/// Keys a writer puts on one device before it moves on to a new one.
pub const KEYS_PER_DEVICE: u64 = 400;
/// How long the hub may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one request, CONNECT or SUBSCRIBE may take before the writer gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the writers may take to stop once the hub is gone.
const WRITERS_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How many lost writes a report lists one by one.
const LOST_LISTED: usize = 20;

/// What a run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `twinlens` executable to run as `twinlens hub`.
    pub hub_binary: PathBuf,
    /// The hub's data directory, kept from cycle to cycle (created when missing).
    pub data_dir: PathBuf,
    /// How many times the hub is killed and restarted.
    pub cycles: u32,
    /// The longest time the writers write in one cycle; the kill comes after a random
    /// delay between a quarter of it and all of it.
    pub cycle_length: Duration,
    /// Writers of each kind: this many REST writers and this many MQTT writers.
    pub writers: usize,
    /// Seeds the kill delays, so that a run's timing can be repeated.
    pub seed: u64,
}

/// The twin section a write went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// `properties.desired`, written by a REST PATCH.
    Desired,
    /// `properties.reported`, written by a device over MQTT.
    Reported,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Desired => "desired",
            Section::Reported => "reported",
        }
    }
}

/// One write: a new key in a section of a device's twin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The cycle it was made in (from 1).
    pub cycle: u32,
    /// The device whose twin it changed.
    pub device_id: String,
    /// The section.
    pub section: Section,
    /// The key, new in that section.
    pub key: String,
    /// The value.
    pub value: u64,
}

impl fmt::Display for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cycle {}: {} properties.{}.{} = {}",
            self.cycle,
            self.device_id,
            self.section.name(),
            self.key,
            self.value
        )
    }
}

/// An acknowledged write that was not there after a restart.
#[derive(Debug, Clone)]
pub struct LostWrite {
    /// The write.
    pub write: Write,
    /// The restart after which it was missed (the cycle number).
    pub noticed_after_cycle: u32,
    /// What was found instead.
    pub found: String,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Cycles completed (each one a SIGKILL and a restart).
    pub cycles: u32,
    /// Acknowledged REST PATCHes of desired properties.
    pub rest_acknowledged: u64,
    /// Acknowledged MQTT PATCHes of reported properties.
    pub mqtt_acknowledged: u64,
    /// Acknowledged device registrations (`PUT /devices/{id}`).
    pub registrations: u64,
    /// Writes sent but not yet answered when the hub died.
    pub in_flight: u64,
    /// Of those, how many were stored all the same.
    pub in_flight_stored: u64,
    /// Acknowledged writes missing after a restart (each counted once).
    pub lost: Vec<LostWrite>,
    /// Acknowledged registrations whose device was missing after a restart.
    pub lost_devices: Vec<String>,
    /// Spawn to ready line of the first start.
    pub first_start: Duration,
    /// Spawn to ready line of every restart after a SIGKILL.
    pub restarts: Vec<Duration>,
    /// Size of the data directory's files at the end.
    pub store_bytes: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl Report {
    /// Acknowledged writes that were lost (twin keys and registrations).
    pub fn lost_count(&self) -> usize {
        self.lost.len() + self.lost_devices.len()
    }

    fn restart_median_and_max(&self) -> (Duration, Duration) {
        let mut sorted = self.restarts.clone();
        sorted.sort();
        let median = match sorted.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        };
        (median, sorted.last().copied().unwrap_or_default())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (median, max) = self.restart_median_and_max();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        writeln!(f, "| measure | value |")?;
        writeln!(f, "|---|---|")?;
        writeln!(
            f,
            "| cycles (SIGKILL, restart, read back) | {} |",
            self.cycles
        )?;
        writeln!(
            f,
            "| acknowledged REST desired PATCHes | {} |",
            self.rest_acknowledged
        )?;
        writeln!(
            f,
            "| acknowledged MQTT reported PATCHes | {} |",
            self.mqtt_acknowledged
        )?;
        writeln!(
            f,
            "| acknowledged device registrations | {} |",
            self.registrations
        )?;
        writeln!(f, "| lost acknowledged writes | {} |", self.lost_count())?;
        writeln!(
            f,
            "| unanswered writes at the kills (stored anyway) | {} ({}) |",
            self.in_flight, self.in_flight_stored
        )?;
        writeln!(f, "| first start to ready | {} |", ms(self.first_start))?;
        writeln!(
            f,
            "| restart to ready after SIGKILL: median / max | {} / {} |",
            ms(median),
            ms(max)
        )?;
        writeln!(
            f,
            "| store files at the end | {:.1} MB |",
            self.store_bytes as f64 / 1e6
        )?;
        write!(f, "| wall time | {:.1} s |", self.elapsed.as_secs_f64())?;
        for lost in self.lost.iter().take(LOST_LISTED) {
            write!(
                f,
                "\nLOST {} (missed after the restart of cycle {}; found {})",
                lost.write, lost.noticed_after_cycle, lost.found
            )?;
        }
        if self.lost.len() > LOST_LISTED {
            write!(f, "\n... and {} more", self.lost.len() - LOST_LISTED)?;
        }
        for device in &self.lost_devices {
            write!(f, "\nLOST the registered device {device}")?;
        }
        Ok(())
    }
}

/// Runs the cycles and reports; an `Err` means the run could not be carried out (the
/// hub did not start, died on its own, refused a write), not that a write was lost.
pub async fn run(options: &Options) -> Result<Report> {
    ensure!(options.cycles > 0, "at least one cycle is needed");
    ensure!(
        options.writers > 0,
        "at least one writer of each kind is needed"
    );
    ensure!(
        !options.cycle_length.is_zero(),
        "the cycle length must be positive"
    );
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(options.seed);
    // Device ids differ from run to run, so a kept data directory can be reused.
    let run_tag = format!("t{:x}", now());
    let mut report = Report::default();
    let mut expected = Expected::default();

    let (mut hub, first_start) = Hub::start(&options.hub_binary, &options.data_dir).await?;
    report.first_start = first_start;
    for cycle in 1..=options.cycles {
        let endpoint = hub.endpoint.clone();
        let mut writers = Vec::new();
        let mut first_acks = Vec::new();
        for writer in 0..options.writers {
            for kind in [Section::Desired, Section::Reported] {
                let (first_ack, acknowledged) = oneshot::channel();
                first_acks.push(acknowledged);
                let label = match kind {
                    Section::Desired => format!("{run_tag}-c{cycle}-rest{writer}"),
                    Section::Reported => format!("{run_tag}-c{cycle}-mqtt{writer}"),
                };
                let writer = Writer {
                    endpoint: endpoint.clone(),
                    cycle,
                    label: label.clone(),
                    first_ack: Some(first_ack),
                    outcome: Outcome::default(),
                };
                writers.push((
                    label,
                    tokio::spawn(async move {
                        match kind {
                            Section::Desired => writer.write_rest().await,
                            Section::Reported => writer.write_mqtt().await,
                        }
                    }),
                ));
            }
        }

        // The kill delay starts once every writer is writing, so each cycle has at
        // least one acknowledged write per writer, however slow the machine.
        let mut all_writing = true;
        for acknowledged in first_acks {
            if !matches!(
                tokio::time::timeout(READY_TIMEOUT, acknowledged).await,
                Ok(Ok(()))
            ) {
                all_writing = false;
                break;
            }
        }
        let writing_since = Instant::now();
        if all_writing {
            let quarter = options.cycle_length / 4;
            let delay = rng.random_range(quarter..=options.cycle_length);
            tokio::time::sleep(delay).await;
        }
        let killed_at = Instant::now();
        let writing = killed_at - writing_since;
        hub.kill().await?;

        let mut outcomes = Vec::new();
        for (label, writer) in writers {
            let outcome = tokio::time::timeout(WRITERS_STOP_TIMEOUT, writer)
                .await
                .with_context(|| format!("writer {label} did not stop after the kill"))?
                .with_context(|| format!("writer {label} panicked"))?;
            if let Some(refusal) = &outcome.refused {
                bail!("writer {label}: the hub refused a request: {refusal}");
            }
            if outcome.ended_at.is_none_or(|ended| ended < killed_at) {
                bail!(
                    "writer {label} stopped before the kill ({} writes acknowledged): {}",
                    outcome.acknowledged.len(),
                    outcome.ended_because
                );
            }
            outcomes.push(outcome);
        }
        ensure!(
            all_writing,
            "not every writer had a write acknowledged within {READY_TIMEOUT:?}"
        );

        let (restarted, to_ready) = Hub::start(&options.hub_binary, &options.data_dir).await?;
        hub = restarted;
        report.restarts.push(to_ready);

        let (mut rest, mut mqtt, mut in_flight) = (0, 0, Vec::new());
        for outcome in outcomes {
            for device_id in outcome.registered {
                expected.devices.entry(device_id).or_default();
                report.registrations += 1;
            }
            for write in outcome.acknowledged {
                match write.section {
                    Section::Desired => rest += 1,
                    Section::Reported => mqtt += 1,
                }
                expected
                    .devices
                    .entry(write.device_id.clone())
                    .or_default()
                    .push(write);
            }
            in_flight.extend(outcome.in_flight);
        }
        report.rest_acknowledged += rest;
        report.mqtt_acknowledged += mqtt;

        let lost_before = report.lost_count();
        let twins = hub.read_twins(expected.devices.keys()).await?;
        expected.check(&twins, cycle, &mut report);
        report.in_flight += in_flight.len() as u64;
        report.in_flight_stored += in_flight
            .iter()
            .filter(|write| found(&twins, write).is_ok())
            .count() as u64;
        report.cycles = cycle;
        println!(
            "cycle {cycle}/{}: killed after {:.2} s of writing; acknowledged REST +{rest}, \
             MQTT +{mqtt}; ready again in {:.0} ms; {} twins read back, lost {}",
            options.cycles,
            writing.as_secs_f64(),
            to_ready.as_secs_f64() * 1000.0,
            twins.len(),
            report.lost_count() - lost_before
        );
        if report.lost_count() > 0 {
            // Stop here, so that the data directory shows the loss as it happened.
            break;
        }
    }
    hub.kill().await?;
    report.store_bytes = directory_bytes(&options.data_dir);
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Every acknowledged write of the run so far, by device.
#[derive(Default)]
struct Expected {
    devices: BTreeMap<String, Vec<Write>>,
}

impl Expected {
    /// Compares the twins read back with every acknowledged write, adding new losses
    /// (a loss already reported is not counted again).
    fn check(&self, twins: &BTreeMap<String, Option<Value>>, cycle: u32, report: &mut Report) {
        for (device_id, writes) in &self.devices {
            if matches!(twins.get(device_id), Some(None))
                && !report.lost_devices.contains(device_id)
            {
                report.lost_devices.push(device_id.clone());
            }
            for write in writes {
                if let Err(found_instead) = found(twins, write) {
                    let known = report.lost.iter().any(|lost| lost.write == *write);
                    if !known {
                        report.lost.push(LostWrite {
                            write: write.clone(),
                            noticed_after_cycle: cycle,
                            found: found_instead,
                        });
                    }
                }
            }
        }
    }
}

/// Whether the twins read back hold `write`; if not, what is there instead.
fn found(twins: &BTreeMap<String, Option<Value>>, write: &Write) -> Result<(), String> {
    let Some(Some(twin)) = twins.get(&write.device_id) else {
        return Err("no such device".into());
    };
    match twin["properties"][write.section.name()].get(&write.key) {
        Some(value) if value.as_u64() == Some(write.value) => Ok(()),
        Some(other) => Err(format!("the value {other}")),
        None => Err("no such key".into()),
    }
}

/// Total size of the files directly in `dir` (the store, its WAL, keys).
fn directory_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.metadata().ok())
                .filter(|metadata| metadata.is_file())
                .map(|metadata| metadata.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0)
}

/// How to reach a running hub.
#[derive(Clone)]
struct Endpoint {
    http_url: Arc<str>,
    mqtt_port: u16,
    service: Arc<ServiceConnectionString>,
    client: reqwest::Client,
}

/// Why a request did not succeed.
enum Failure {
    /// No answer: the connection failed or ended (what the kill causes).
    Transport(String),
    /// The hub answered with something else than success.
    Refused(String),
}

impl Endpoint {
    fn url(&self, path: &str) -> String {
        format!("{}{path}?api-version={API_VERSION}", self.http_url)
    }

    fn token(&self) -> String {
        self.service.sas_token(now() + 3600).to_string()
    }

    /// Sends an authenticated request, and returns the body of a 200 answer.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let mut request = self
            .client
            .request(method.clone(), self.url(path))
            .header("Authorization", self.token());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| Failure::Transport(format!("{method} {path}: {error}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| Failure::Transport(format!("{method} {path}: {error}")))?;
        if status != reqwest::StatusCode::OK {
            return Err(Failure::Refused(format!(
                "{method} {path}: {status} {text}"
            )));
        }
        serde_json::from_str(&text)
            .map_err(|error| Failure::Refused(format!("{method} {path}: {error} in {text}")))
    }

    /// Registers a device and returns its primary key.
    async fn register(&self, device_id: &str) -> Result<String, Failure> {
        let identity = self
            .send(
                reqwest::Method::PUT,
                &format!("/devices/{device_id}"),
                Some(&json!({"deviceId": device_id})),
            )
            .await?;
        identity["authentication"]["symmetricKey"]["primaryKey"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Failure::Refused(format!("no primary key in {identity}")))
    }
}

/// A `twinlens hub` process; killed if dropped.
struct Hub {
    child: Child,
    endpoint: Endpoint,
}

impl Hub {
    /// Starts the hub on `data_dir` with ports chosen by the OS, and waits for its ready
    /// line; returns it with the time from spawn to ready line.
    async fn start(binary: &Path, data_dir: &Path) -> Result<(Hub, Duration)> {
        let spawned = Instant::now();
        let mut child = Command::new(binary)
            .args(["hub", "--http-port", "0", "--mqtt-port", "0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {} hub", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the hub's stdout is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                let status = child.wait().await?;
                bail!("the hub exited ({status}) before printing its ready line");
            }
            Ok(Err(error)) => return Err(error).context("could not read the hub's ready line"),
            Err(_) => bail!("the hub printed no ready line within {READY_TIMEOUT:?}"),
        };
        let to_ready = spawned.elapsed();
        // Nothing else is expected on stdout, but a full pipe must never stall the hub.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let ready: Value = serde_json::from_str(&line)
            .with_context(|| format!("the hub's ready line is not JSON: {line}"))?;
        ensure!(ready["event"] == "ready", "unexpected first line: {line}");
        let text = |field: &str| {
            ready[field]
                .as_str()
                .with_context(|| format!("no {field} in the ready line {line}"))
        };
        let service: ServiceConnectionString = text("service_connection_string")?
            .parse()
            .context("the ready line's service connection string does not parse")?;
        let mqtt_port = ready["mqtt_port"]
            .as_u64()
            .and_then(|port| u16::try_from(port).ok())
            .with_context(|| format!("no mqtt_port in the ready line {line}"))?;
        let endpoint = Endpoint {
            http_url: text("http_url")?.into(),
            mqtt_port,
            service: Arc::new(service),
            client: http_client()?,
        };
        Ok((Hub { child, endpoint }, to_ready))
    }

    /// SIGKILLs the hub and waits for it to be gone; fails if it had already exited.
    async fn kill(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the hub exited on its own ({status}) before it was killed");
        }
        self.child.kill().await.context("could not kill the hub")
    }

    /// Reads the twins of `devices` (`None` for a device the hub does not know).
    async fn read_twins<'a>(
        &self,
        devices: impl Iterator<Item = &'a String>,
    ) -> Result<BTreeMap<String, Option<Value>>> {
        let mut twins = BTreeMap::new();
        for device_id in devices {
            let response = self
                .endpoint
                .client
                .get(self.endpoint.url(&format!("/twins/{device_id}")))
                .header("Authorization", self.endpoint.token())
                .send()
                .await
                .with_context(|| format!("could not read the twin of {device_id}"))?;
            let twin = match response.status() {
                reqwest::StatusCode::NOT_FOUND => None,
                reqwest::StatusCode::OK => Some(
                    response
                        .json()
                        .await
                        .with_context(|| format!("the twin of {device_id} is not JSON"))?,
                ),
                status => bail!("reading the twin of {device_id} answered {status}"),
            };
            twins.insert(device_id.clone(), twin);
        }
        Ok(twins)
    }
}

/// A plain-HTTP client for the hub on loopback (rustls with ring, as the project's
/// clients build it, though no TLS is used).
fn http_client() -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// What one writer did in one cycle.
#[derive(Default)]
struct Outcome {
    /// Devices it registered (acknowledged).
    registered: Vec<String>,
    /// Writes the hub acknowledged.
    acknowledged: Vec<Write>,
    /// The write sent but unanswered when the writer stopped.
    in_flight: Option<Write>,
    /// Set when the hub answered a request with something else than success.
    refused: Option<String>,
    /// Why the writer stopped.
    ended_because: String,
    /// When it stopped.
    ended_at: Option<Instant>,
}

/// One writer of one cycle: writes new keys until the hub stops answering.
struct Writer {
    endpoint: Endpoint,
    cycle: u32,
    /// Prefix of its device ids.
    label: String,
    /// Told when the first write is acknowledged.
    first_ack: Option<oneshot::Sender<()>>,
    outcome: Outcome,
}

impl Writer {
    /// PATCHes desired properties through the REST API.
    async fn write_rest(mut self) -> Outcome {
        for device in 0.. {
            let device_id = format!("{}-{device}", self.label);
            if let Err(failure) = self.register(&device_id).await {
                return self.stop(failure);
            }
            for n in 0..KEYS_PER_DEVICE {
                let write = self.write(&device_id, Section::Desired, n);
                let patch = json!({"properties": {"desired": {write.key.clone(): n}}});
                self.outcome.in_flight = Some(write);
                let sent = self
                    .endpoint
                    .send(
                        reqwest::Method::PATCH,
                        &format!("/twins/{device_id}"),
                        Some(&patch),
                    )
                    .await;
                if let Err(failure) = sent {
                    return self.stop(failure);
                }
                self.acknowledged();
            }
        }
        self.stop(Failure::Transport("ran out of device numbers".into()))
    }

    /// PATCHes reported properties as devices over MQTT.
    async fn write_mqtt(mut self) -> Outcome {
        for device in 0.. {
            let device_id = format!("{}-{device}", self.label);
            let key = match self.register(&device_id).await {
                Ok(key) => key,
                Err(failure) => return self.stop(failure),
            };
            let mut link = match DeviceLink::connect(&self.endpoint, &device_id, &key).await {
                Ok(link) => link,
                Err(failure) => return self.stop(failure),
            };
            for n in 0..KEYS_PER_DEVICE {
                let write = self.write(&device_id, Section::Reported, n);
                let patch = json!({write.key.clone(): n});
                self.outcome.in_flight = Some(write);
                if let Err(failure) = link.report(n, &patch).await {
                    return self.stop(failure);
                }
                self.acknowledged();
            }
            link.close().await;
        }
        self.stop(Failure::Transport("ran out of device numbers".into()))
    }

    async fn register(&mut self, device_id: &str) -> Result<String, Failure> {
        let key = self.endpoint.register(device_id).await?;
        self.outcome.registered.push(device_id.to_owned());
        Ok(key)
    }

    fn write(&self, device_id: &str, section: Section, n: u64) -> Write {
        Write {
            cycle: self.cycle,
            device_id: device_id.to_owned(),
            section,
            key: format!("k{n}"),
            value: n,
        }
    }

    fn acknowledged(&mut self) {
        if let Some(write) = self.outcome.in_flight.take() {
            self.outcome.acknowledged.push(write);
        }
        if let Some(first_ack) = self.first_ack.take() {
            let _ = first_ack.send(());
        }
    }

    fn stop(mut self, failure: Failure) -> Outcome {
        self.outcome.ended_at = Some(Instant::now());
        match failure {
            Failure::Transport(reason) => self.outcome.ended_because = reason,
            Failure::Refused(reason) => {
                self.outcome.ended_because.clone_from(&reason);
                self.outcome.refused = Some(reason);
            }
        }
        self.outcome
    }
}

/// What a device connection's event loop passes on.
enum LinkEvent {
    Connected(ConnectReturnCode),
    Subscribed(Vec<SubscribeReasonCode>),
    Message(Publish),
    Ended(String),
}

/// One device's MQTT connection, subscribed to twin responses.
struct DeviceLink {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<LinkEvent>,
    event_loop: JoinHandle<()>,
}

impl DeviceLink {
    /// Connects as `device_id` with a SAS token from `key`, and subscribes to
    /// `$iothub/twin/res/#`.
    async fn connect(endpoint: &Endpoint, device_id: &str, key: &str) -> Result<Self, Failure> {
        let key = SharedAccessKey::from_base64(key)
            .map_err(|error| Failure::Refused(format!("the device key is invalid: {error}")))?;
        let identity = DeviceConnectionString {
            host_name: "localhost".into(),
            device_id: device_id.into(),
            module_id: None,
            gateway_host_name: None,
            key,
        };
        let username = MqttUsername {
            host: "localhost".into(),
            device_id: device_id.into(),
            module_id: None,
            api_version: Some(API_VERSION.into()),
            model_id: None,
            other: Vec::new(),
        };
        let mut options = MqttOptions::new(device_id, "127.0.0.1", endpoint.mqtt_port);
        options.set_credentials(
            username.to_username(),
            identity.sas_token(now() + 3600).to_string(),
        );
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut event_loop) = AsyncClient::new(options, 16);
        // Without TCP_NODELAY, the PATCH that follows the PUBACK of a twin response waits
        // for the hub's delayed ACK (about 40 ms on Linux): ten times fewer writes.
        let mut network = event_loop.network_options();
        network.set_tcp_nodelay(true);
        event_loop.set_network_options(network);
        let (events, received) = mpsc::unbounded_channel();
        let event_loop = tokio::spawn(async move {
            loop {
                let event = match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                        LinkEvent::Connected(connack.code)
                    }
                    Ok(Event::Incoming(Packet::SubAck(suback))) => {
                        LinkEvent::Subscribed(suback.return_codes)
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => LinkEvent::Message(publish),
                    Ok(_) => continue,
                    Err(error) => {
                        let _ = events.send(LinkEvent::Ended(error.to_string()));
                        return;
                    }
                };
                if events.send(event).is_err() {
                    return;
                }
            }
        });
        let mut link = DeviceLink {
            client,
            events: received,
            event_loop,
        };
        match link.next_event("CONNACK").await? {
            LinkEvent::Connected(ConnectReturnCode::Success) => {}
            LinkEvent::Connected(code) => {
                return Err(Failure::Refused(format!("CONNECT refused: {code:?}")));
            }
            _ => return Err(Failure::Refused("no CONNACK first".into())),
        }
        let filter = Subscription::TwinResponses.filter(device_id, None);
        link.client
            .subscribe(filter.as_str(), QoS::AtLeastOnce)
            .await
            .map_err(|error| Failure::Transport(format!("SUBSCRIBE: {error}")))?;
        match link.next_event("SUBACK").await? {
            LinkEvent::Subscribed(codes)
                if codes
                    .iter()
                    .all(|code| matches!(code, SubscribeReasonCode::Success(_))) => {}
            LinkEvent::Subscribed(codes) => {
                return Err(Failure::Refused(format!(
                    "SUBSCRIBE {filter} refused: {codes:?}"
                )));
            }
            _ => return Err(Failure::Refused("no SUBACK after SUBSCRIBE".into())),
        }
        Ok(link)
    }

    /// The next event within [`REQUEST_TIMEOUT`]; the connection's end is a failure.
    async fn next_event(&mut self, awaited: &str) -> Result<LinkEvent, Failure> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.events.recv()).await {
            Ok(Some(LinkEvent::Ended(reason))) => Err(Failure::Transport(format!(
                "the connection ended while waiting for {awaited}: {reason}"
            ))),
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(Failure::Transport(format!(
                "the connection ended while waiting for {awaited}"
            ))),
            Err(_) => Err(Failure::Transport(format!(
                "no {awaited} within {REQUEST_TIMEOUT:?}"
            ))),
        }
    }

    /// Sends a reported-property patch with `$rid` = `n` and waits for its 204.
    async fn report(&mut self, n: u64, patch: &Value) -> Result<(), Failure> {
        let rid = RequestId::new(n.to_string())
            .map_err(|error| Failure::Refused(format!("request id {n}: {error}")))?;
        let topic = DeviceTopic::ReportedPatch { rid: rid.clone() }.to_topic();
        self.client
            .publish(topic.as_str(), QoS::AtLeastOnce, false, patch.to_string())
            .await
            .map_err(|error| Failure::Transport(format!("PUBLISH {topic}: {error}")))?;
        let awaited = format!("the answer to {topic}");
        loop {
            let LinkEvent::Message(message) = self.next_event(&awaited).await? else {
                continue;
            };
            match parse_hub_topic(&message.topic) {
                Ok(HubTopic::TwinResponse {
                    status: 204,
                    rid: answered,
                    ..
                }) if answered == rid => return Ok(()),
                Ok(HubTopic::TwinResponse {
                    status,
                    rid: answered,
                    ..
                }) if answered == rid => {
                    return Err(Failure::Refused(format!(
                        "{topic} answered {status}: {}",
                        String::from_utf8_lossy(&message.payload)
                    )));
                }
                _ => {}
            }
        }
    }

    /// Disconnects and lets the event loop finish.
    async fn close(mut self) {
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, &mut self.event_loop).await;
    }
}

impl Drop for DeviceLink {
    fn drop(&mut self) {
        self.event_loop.abort();
    }
}
