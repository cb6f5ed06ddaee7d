//! A fleet connected at once: starts `twinlens hub` and then `twinlens simulate --count
//! N` against it (plain MQTT on loopback) as two separate processes, and polls the hub
//! with `SELECT COUNT() AS n FROM devices WHERE connectionState = 'Connected'` (every
//! 250 ms, through the service API) until all N devices are connected or 120 s have
//! passed. Reports when every device was registered (the simulator registers them one
//! at a time before it connects any) and connected, then, after a 5 s settle, the
//! resident memory of each process and their CPU time (utime + stime from /proc; the
//! hub's includes answering the benchmark's polling queries).
//! The hub keeps its default connection limit (derived from its open-file limit, shown
//! in the table); `HUB_MAX_CONNECTIONS=N` passes `--max-connections N` to it.
//! Run with `cargo bench --bench connected_fleet` (`DEVICES=N` for another fleet size,
//! default 10,000).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::KillOnDrop;

const TWINLENS: &str = env!("CARGO_BIN_EXE_twinlens");
const DEFAULT_DEVICES: usize = 10_000;
/// How long the fleet may take to connect, from the start of the simulator.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(250);
/// The pause between the fleet being connected and the memory being read.
const SETTLE: Duration = Duration::from_secs(5);
/// The unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

const REGISTERED: &str = "SELECT COUNT() AS n FROM devices";
const CONNECTED: &str = "SELECT COUNT() AS n FROM devices WHERE connectionState = 'Connected'";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let devices: u64 = support::from_env("DEVICES", DEFAULT_DEVICES as u64);
    let max_connections = std::env::var("HUB_MAX_CONNECTIONS").ok();
    let hub_args: Vec<&str> = match &max_connections {
        Some(n) => vec!["--max-connections", n],
        None => Vec::new(),
    };
    let dir = tempfile::tempdir()?;
    let (hub, ready) = support::start_hub(&dir.path().join("hub"), &hub_args)?;
    let hub = KillOnDrop(hub);
    let hub_pid = hub.0.id().to_string();
    let (client, mqtt_port) = support::service_client(&ready)?;
    let connection = ready["service_connection_string"]
        .as_str()
        .ok_or("the hub's ready line has no service connection string")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    let log_path = dir.path().join("simulate.log");
    let started = Instant::now();
    let mut simulator = KillOnDrop(
        Command::new(TWINLENS)
            .args(["simulate", "--connection-string", connection, "--count"])
            .arg(devices.to_string())
            .args(["--no-tls", "--mqtt-port"])
            .arg(mqtt_port.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path)?)
            .spawn()?,
    );
    let simulator_pid = simulator.0.id().to_string();

    let mut registered_after = None;
    let mut connected_after = None;
    let mut connected = 0;
    while started.elapsed() < CONNECT_TIMEOUT {
        if let Some(status) = simulator.0.try_wait()? {
            return Err(format!(
                "twinlens simulate exited with {status}; its log ends with:\n{}",
                log_tail(&log_path)
            )
            .into());
        }
        let at = started.elapsed();
        if registered_after.is_none()
            && runtime.block_on(support::count(&client, REGISTERED))? >= devices
        {
            registered_after = Some(at);
        }
        connected = runtime.block_on(support::count(&client, CONNECTED))?;
        if connected >= devices {
            connected_after = Some(at);
            break;
        }
        std::thread::sleep(POLL);
    }
    let cpu_at_connected = (cpu_seconds(&hub_pid), cpu_seconds(&simulator_pid));
    std::thread::sleep(SETTLE);
    let cpu_after_settle = (cpu_seconds(&hub_pid), cpu_seconds(&simulator_pid));
    let hub_open_files = open_file_limit(&hub_pid);
    let hub_rss = support::memory_megabytes(&hub_pid, "VmRSS");
    let hub_peak = support::memory_megabytes(&hub_pid, "VmHWM");
    let simulator_rss = support::memory_megabytes(&simulator_pid, "VmRSS");
    let simulator_peak = support::memory_megabytes(&simulator_pid, "VmHWM");
    let connected_after_settle = runtime.block_on(support::count(&client, CONNECTED))?;
    drop(simulator);
    drop(hub);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let logged = log.lines().filter(|line| !line.trim().is_empty()).count();

    println!(
        "{devices} devices: `twinlens hub` and `twinlens simulate --count {devices} --no-tls` \
         as separate processes on loopback"
    );
    println!();
    println!("| measure | result |");
    println!("|---|---|");
    println!(
        "| every device registered (simulate start to `{REGISTERED}` = {devices}) | {} |",
        registered_after.map_or_else(
            || format!("not within {}", seconds(CONNECT_TIMEOUT)),
            seconds
        )
    );
    println!(
        "| every device connected (simulate start to `connectionState = 'Connected'` count = {devices}) | {} |",
        connected_after.map_or_else(
            || format!(
                "not within {}: {connected} of {devices} connected",
                seconds(CONNECT_TIMEOUT)
            ),
            seconds
        )
    );
    println!(
        "| connected after a further {} | {connected_after_settle} of {devices} |",
        seconds(SETTLE)
    );
    println!(
        "| hub resident memory after the settle (peak) | {} |",
        memory(hub_rss, hub_peak, devices)
    );
    println!(
        "| simulator resident memory after the settle (peak) | {} |",
        memory(simulator_rss, simulator_peak, devices)
    );
    println!(
        "| hub CPU time from its start until the fleet was connected (or the wait gave up) | {} |",
        cpu(cpu_at_connected.0)
    );
    println!(
        "| simulator CPU time from its start until the fleet was connected (or the wait gave up) | {} |",
        cpu(cpu_at_connected.1)
    );
    println!(
        "| hub CPU time during the {} settle | {} |",
        seconds(SETTLE),
        settle_cpu(cpu_at_connected.0, cpu_after_settle.0)
    );
    println!(
        "| simulator CPU time during the {} settle | {} |",
        seconds(SETTLE),
        settle_cpu(cpu_at_connected.1, cpu_after_settle.1)
    );
    println!(
        "| hub open-file limit (its default connection limit per listener derives from it) | {} |",
        hub_open_files.unwrap_or_else(|| "n/a (no /proc)".to_owned())
    );
    println!(
        "| hub `--max-connections` | {} |",
        max_connections
            .as_deref()
            .unwrap_or("not given (the default)")
    );
    println!("| simulator log lines at warn or above | {logged} |");
    if logged > 0 {
        println!();
        println!(
            "The simulator's log ends with:\n\n```\n{}\n```",
            log_tail(&log_path)
        );
    }
    Ok(())
}

/// The CPU time (user and system) a process has used so far, from `/proc/{pid}/stat`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; utime and stime
    // are fields 14 and 15, the 12th and 13th after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS_PER_SECOND)
}

/// A process's (soft) limit on open files, from `/proc/{pid}/limits`.
fn open_file_limit(pid: &str) -> Option<String> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3).map(str::to_owned)
}

/// The last lines of the simulator's log.
fn log_tail(path: &std::path::Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn memory(resident: Option<u64>, peak: Option<u64>, devices: u64) -> String {
    match (resident, peak) {
        (Some(resident), Some(peak)) => format!(
            "{resident} MB ({:.0} KB a device; peak {peak} MB)",
            resident as f64 * 1024.0 / devices.max(1) as f64
        ),
        _ => "n/a (no /proc)".to_owned(),
    }
}

fn cpu(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "n/a (no /proc)".to_owned(), |s| format!("{s:.2} s"))
}

fn settle_cpu(before: Option<f64>, after: Option<f64>) -> String {
    match (before, after) {
        (Some(before), Some(after)) => format!(
            "{:.2} s ({:.1} % of one core)",
            after - before,
            (after - before) / SETTLE.as_secs_f64() * 100.0
        ),
        _ => "n/a (no /proc)".to_owned(),
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
