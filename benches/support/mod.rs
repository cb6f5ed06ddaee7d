//! Measurements and set-up the benchmarks share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A setting of a benchmark from the environment variable `name` (a fleet size, say),
/// or `default` when it is unset or unreadable.
#[allow(dead_code)] // not every benchmark takes a setting
pub fn from_env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A memory figure of a process in MB, from `/proc/{process}/status` (`None` where there
/// is no /proc or the process is gone). `process` is `self` or a pid; `field` is
/// `VmRSS` (resident now) or `VmHWM` (the peak resident so far).
#[allow(dead_code)] // not every benchmark reads memory
pub fn memory_megabytes(process: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| {
                    line.strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with(':'))
                })
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .map(|kb| kb / 1024)
        })
}

/// Starts the `twinlens hub` binary on `data_dir` with ports chosen by the OS and the
/// `extra` arguments, and returns it with its parsed ready line once it is serving.
#[allow(dead_code)] // not every benchmark starts a hub process
pub fn start_hub(
    data_dir: &Path,
    extra: &[&str],
) -> Result<(Child, serde_json::Value), Box<dyn std::error::Error>> {
    let mut hub = spawn_hub(data_dir, extra)?;
    let stdout = hub.stdout.take().ok_or("the hub has no stdout")?;
    match read_ready_line(stdout) {
        Ok(ready) => Ok((hub, ready)),
        Err(error) => {
            let _ = hub.kill();
            let _ = hub.wait();
            Err(error.into())
        }
    }
}

/// Spawns the `twinlens hub` binary as [`start_hub`] does (stdout piped, warnings and
/// errors logged to stderr), without waiting for it to be ready: read its ready line
/// from its stdout with [`read_ready_line`].
#[allow(dead_code)] // not every benchmark starts a hub process
pub fn spawn_hub(data_dir: &Path, extra: &[&str]) -> std::io::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(["hub", "--http-port", "0", "--mqtt-port", "0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
}

/// Reads and parses the ready line a hub prints on `stdout` once it is serving (blocks
/// until then); an error if the hub exits first.
#[allow(dead_code)] // not every benchmark starts a hub process
pub fn read_ready_line(stdout: ChildStdout) -> std::io::Result<serde_json::Value> {
    let mut line = String::new();
    if BufReader::new(stdout).read_line(&mut line)? == 0 {
        return Err(std::io::Error::other(
            "the hub exited before it printed its ready line",
        ));
    }
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

/// A child process that is killed (and reaped) when this is dropped, so that a benchmark
/// that fails half-way leaves no process behind.
#[allow(dead_code)] // not every benchmark starts processes of its own
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first page of `query` through the service API (`POST /devices/query`, the hub's
/// default page size).
#[allow(dead_code)] // not every benchmark runs queries
pub async fn first_page(
    client: &twinlens::service::ServiceClient,
    query: &str,
) -> Result<twinlens::service::QueryPage, Box<dyn std::error::Error>> {
    let pages = client.query(query, None);
    futures_util::pin_mut!(pages);
    Ok(futures_util::StreamExt::next(&mut pages)
        .await
        .ok_or("the query returned no page")??)
}

/// The `n` of a `SELECT COUNT() AS n ...` query through the service API.
#[allow(dead_code)] // not every benchmark runs queries
pub async fn count(
    client: &twinlens::service::ServiceClient,
    query: &str,
) -> Result<u64, Box<dyn std::error::Error>> {
    let page = first_page(client, query).await?;
    Ok(page
        .rows
        .first()
        .and_then(|row| row.get("n"))
        .and_then(serde_json::Value::as_u64)
        .ok_or("the count query returned no n")?)
}

/// A service client for a hub started by [`start_hub`] (from its ready line), and the
/// hub's device MQTT port.
#[allow(dead_code)] // not every benchmark uses the service API
pub fn service_client(
    ready: &serde_json::Value,
) -> Result<(twinlens::service::ServiceClient, u16), Box<dyn std::error::Error>> {
    let service: twinlens::auth::ServiceConnectionString = ready["service_connection_string"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let options = twinlens::service::ClientOptions {
        base_url: ready["http_url"].as_str().map(str::to_owned),
        ..twinlens::service::ClientOptions::default()
    };
    let client = twinlens::service::ServiceClient::new(&service, options)?;
    let mqtt_port = u16::try_from(ready["mqtt_port"].as_u64().unwrap_or(0))?;
    Ok((client, mqtt_port))
}

/// Registers `device_id` through the service API and returns its connection string
/// (host `localhost`, its primary key).
#[allow(dead_code)] // not every benchmark registers devices
pub async fn register_device(
    client: &twinlens::service::ServiceClient,
    device_id: &str,
) -> Result<twinlens::auth::DeviceConnectionString, Box<dyn std::error::Error>> {
    let device = client
        .create_device(device_id, &twinlens::service::NewDevice::default())
        .await?;
    let key = device
        .authentication
        .and_then(|auth| auth.symmetric_key)
        .and_then(|keys| keys.primary_key)
        .ok_or("a device without a key")?;
    Ok(twinlens::auth::DeviceConnectionString {
        host_name: "localhost".into(),
        device_id: device_id.to_owned(),
        module_id: None,
        gateway_host_name: None,
        key: twinlens::auth::SharedAccessKey::from_base64(&key)?,
    })
}

/// The CPU time (user and system) process `pid` has used, from `/proc/{pid}/stat`
/// (zero where there is no /proc). Clock ticks are taken as 100 a second, Linux's
/// `USER_HZ` everywhere it runs.
#[allow(dead_code)] // not every benchmark reads another process's CPU
pub fn process_cpu(pid: u32) -> std::time::Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name (which may hold spaces), from field 3 on.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    std::time::Duration::from_millis(ticks * 10)
}
