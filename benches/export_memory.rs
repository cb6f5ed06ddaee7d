//! Export benchmark: starts `twinlens hub --demo N` as its own process, runs the
//! `twinlens export` command line against it, and records the export process's wall
//! time and peak resident memory (VmHWM, polled from /proc while it runs), for 10,000
//! and 100,000 twins, to show that an export's memory does not grow with the twin count.
//! Prints a table; run with `cargo bench --bench export_memory`.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TWINLENS: &str = env!("CARGO_BIN_EXE_twinlens");
const COUNTS: [usize; 2] = [10_000, 100_000];

/// How often the export's memory is read.
const POLL: Duration = Duration::from_millis(5);

/// One export measured.
struct Row {
    twins: usize,
    hub_start: Duration,
    export_time: Duration,
    file_megabytes: f64,
    peak_megabytes: Option<u64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rows = Vec::new();
    for twins in COUNTS {
        let dir = tempfile::tempdir()?;
        let started = Instant::now();
        let (mut hub, connection) = start_hub(&dir.path().join("hub"), twins)?;
        let hub_start = started.elapsed();
        let out = dir.path().join("twins.json");
        let measured = export(&connection, &out);
        let _ = hub.kill();
        let _ = hub.wait();
        let (export_time, peak_megabytes) = measured?;
        rows.push(Row {
            twins,
            hub_start,
            export_time,
            file_megabytes: std::fs::metadata(&out)?.len() as f64 / 1e6,
            peak_megabytes,
        });
    }
    println!("twinlens export from a local hub (plain HTTP, JSON layout)");
    println!();
    println!(
        "| twins | hub start with demo seeding | export wall time | twins per second | snapshot size | export peak resident memory |"
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {:.1} s | {:.1} s | {:.0} | {:.0} MB | {} |",
            row.twins,
            row.hub_start.as_secs_f64(),
            row.export_time.as_secs_f64(),
            row.twins as f64 / row.export_time.as_secs_f64(),
            row.file_megabytes,
            row.peak_megabytes
                .map_or_else(|| "n/a".to_owned(), |mb| format!("{mb} MB")),
        );
    }
    Ok(())
}

/// Starts `twinlens hub` with `twins` demo devices; returns it once ready, with its
/// service connection string.
fn start_hub(data_dir: &Path, twins: usize) -> Result<(Child, String), Box<dyn std::error::Error>> {
    let (hub, ready) = support::start_hub(data_dir, &["--demo", &twins.to_string()])?;
    let connection = ready["service_connection_string"]
        .as_str()
        .ok_or("the hub's ready line has no service connection string")?
        .to_owned();
    Ok((hub, connection))
}

/// Runs `twinlens export` into `out`; returns its wall time and its peak resident
/// memory, read from /proc until it exits.
fn export(
    connection: &str,
    out: &Path,
) -> Result<(Duration, Option<u64>), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut export = Command::new(TWINLENS)
        .args([
            "export",
            "--no-tls",
            "--connection-string",
            connection,
            "--out",
        ])
        .arg(out)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = export.id().to_string();
    let mut peak = None;
    let status = loop {
        // VmHWM only grows, so the last reading before the exit is the peak.
        if let Some(megabytes) = support::memory_megabytes(&pid, "VmHWM") {
            peak = Some(megabytes);
        }
        if let Some(status) = export.try_wait()? {
            break status;
        }
        std::thread::sleep(POLL);
    };
    let elapsed = started.elapsed();
    if !status.success() {
        return Err(format!("twinlens export failed with {status}").into());
    }
    Ok((elapsed, peak))
}
