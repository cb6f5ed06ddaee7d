//! A twin-update job over the whole fleet of a `twinlens hub` process: N demo twins
//! (`--demo N`, default 100,000), then `PUT /jobs/v2/{id}` with a desired-property patch
//! and `queryCondition: "*"`, polled with `GET /jobs/v2/{id}` every 200 ms until it is
//! completed. Reports the time from scheduling to completion, the devices per second, the
//! hub's resident memory before the job, at its peak while the job runs (sampled every
//! 200 ms; also `VmHWM`) and after, and the first page of `SELECT * FROM devices.jobs`.
//! Runs twice: at the hub's default job rate (1,000 device operations a second) and with
//! `--job-rate 1000000` (as fast as the hub goes), each on a fresh hub process over the
//! same store. Every twin is checked to carry the patch afterwards.
//! Run with `cargo bench --bench job_scale` (`TWINS=N` for another fleet size).

mod support;

use std::time::{Duration, Instant};

use serde_json::{Map, json};
use support::KillOnDrop;
use twinlens::service::{JobTiming, JobWork, ServiceClient};

const DEFAULT_TWINS: usize = 100_000;
const POLL: Duration = Duration::from_millis(200);
/// The longest a job may take before the benchmark gives up.
const JOB_TIMEOUT: Duration = Duration::from_secs(30 * 60);

struct Run {
    label: &'static str,
    rate: Option<&'static str>,
}

const RUNS: [Run; 2] = [
    Run {
        label: "default rate (1,000/s)",
        rate: None,
    },
    Run {
        label: "--job-rate 1000000",
        rate: Some("1000000"),
    },
];

struct Measured {
    seconds: f64,
    devices: u64,
    succeeded: u64,
    rss_before: Option<u64>,
    rss_peak: Option<u64>,
    hwm: Option<u64>,
    rss_after: Option<u64>,
    rows_page_ms: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let twins = support::from_env("TWINS", DEFAULT_TWINS);
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("hub");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("twin-update job over {twins} demo twins (twinlens hub, release build)");
    let mut results = Vec::new();
    for (index, run) in RUNS.iter().enumerate() {
        let demo = twins.to_string();
        let mut extra = vec!["--demo", demo.as_str()];
        if let Some(rate) = run.rate {
            extra.extend(["--job-rate", rate]);
        }
        let (hub, ready) = support::start_hub(&data_dir, &extra)?;
        let hub = KillOnDrop(hub);
        let pid = hub.0.id().to_string();
        let (client, _) = support::service_client(&ready)?;
        std::thread::sleep(Duration::from_secs(1));
        let measured = runtime.block_on(run_job(&client, &pid, index))?;
        results.push((run.label, measured));
        drop(hub);
    }
    println!();
    println!(
        "| run | devices | succeeded | time to completed | devices/s | hub RSS before | peak RSS during (VmHWM) | RSS after | devices.jobs first page |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mb = |value: Option<u64>| value.map_or("n/a".to_owned(), |mb| format!("{mb} MB"));
    for (label, m) in &results {
        println!(
            "| {label} | {} | {} | {:.1} s | {:.0} | {} | {} ({}) | {} | {:.1} ms |",
            m.devices,
            m.succeeded,
            m.seconds,
            m.devices as f64 / m.seconds,
            mb(m.rss_before),
            mb(m.rss_peak),
            mb(m.hwm),
            mb(m.rss_after),
            m.rows_page_ms,
        );
    }
    Ok(())
}

async fn run_job(
    client: &ServiceClient,
    pid: &str,
    index: usize,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let rss_before = support::memory_megabytes(pid, "VmRSS");
    let value = format!("bench-{index}");
    let desired: Map<String, serde_json::Value> = [("jobBench".to_owned(), json!(value))]
        .into_iter()
        .collect();
    let work = JobWork::UpdateTwin {
        tags: None,
        desired: Some(desired),
    };
    let job_id = format!("bench-job-{index}");
    let timing = JobTiming {
        start: None,
        max_execution: JOB_TIMEOUT,
    };
    let started = Instant::now();
    client.schedule_job(&job_id, "*", &work, timing).await?;
    let mut rss_peak = rss_before;
    let job = loop {
        tokio::time::sleep(POLL).await;
        rss_peak = rss_peak.max(support::memory_megabytes(pid, "VmRSS"));
        let job = client.get_job(&job_id).await?;
        if job.is_finished() {
            break job;
        }
        if started.elapsed() > JOB_TIMEOUT {
            return Err(format!("the job did not finish in {JOB_TIMEOUT:?}").into());
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if job.status != "completed" {
        return Err(format!("the job ended {}: {:?}", job.status, job.failure_reason).into());
    }
    let statistics = job.device_job_statistics.unwrap_or_default();
    let hwm = support::memory_megabytes(pid, "VmHWM");
    let rss_after = support::memory_megabytes(pid, "VmRSS");
    let page_started = Instant::now();
    let page = support::first_page(
        client,
        &format!("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '{job_id}'"),
    )
    .await?;
    let rows_page_ms = page_started.elapsed().as_secs_f64() * 1000.0;
    if page.rows.is_empty() {
        return Err("devices.jobs returned no rows".into());
    }
    let missing = support::count(
        client,
        &format!(
            "SELECT COUNT() AS n FROM devices WHERE NOT (properties.desired.jobBench = '{value}')"
        ),
    )
    .await?;
    if missing != 0 {
        return Err(format!("{missing} twins lack the job's patch").into());
    }
    Ok(Measured {
        seconds,
        devices: statistics.device_count,
        succeeded: statistics.succeeded_count,
        rss_before,
        rss_peak,
        hwm,
        rss_after,
        rows_page_ms,
    })
}
