//! Measurements and set-up the benchmarks share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A memory figure of a process in MB, from `/proc/{process}/status` (`None` where there
/// is no /proc or the process is gone). `process` is `self` or a pid; `field` is
/// `VmRSS` (resident now) or `VmHWM` (the peak resident so far).
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
    let mut hub = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(["hub", "--http-port", "0", "--mqtt-port", "0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = hub.stdout.take().ok_or("the hub has no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let ready = serde_json::from_str(&line)?;
    Ok((hub, ready))
}
