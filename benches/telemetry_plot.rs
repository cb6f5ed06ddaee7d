//! Live telemetry at fleet scale: 1,000 simulated devices (`twinlens simulate`, its own
//! process) each send a message a second to `twinlens hub` (its own process) while the
//! explorer (headless, in this process, connected to that hub) charts one of them.
//!
//! Two phases of `SECONDS` each (default 15), frames paced like a 60 Hz display:
//! 1. the explorer connected with no device open (nothing streamed to it): the reference;
//! 2. one device open on its Telemetry tab, its first numeric field charted over the
//!    last minute (the hub streams that device's messages to the explorer).
//!
//! For each phase: the UI thread's CPU time per frame (median, p95, max;
//! CLOCK_THREAD_CPUTIME_ID, tessellation included, GPU painting not), the hub process's
//! CPU (user + system, as a share of one core), the fleet's send rate (the hub's counts
//! of 10 sampled devices, scaled to the fleet), and the messages the explorer held for
//! the charted device.
//!
//! Run with `cargo bench --bench telemetry_plot` (`DEVICES=N`, `SECONDS=S` to change).

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Pos2, RawInput, Rect, Vec2};
use support::KillOnDrop;
use twinlens::app::file_dialog::{FilePicker, PickedFile};
use twinlens::app::settings::Settings;
use twinlens::app::{ExplorerApp, StartOptions};
use twinlens::worker::{HubTarget, RemoteHub, WorkerOptions};

const SCREEN: Vec2 = Vec2::new(1400.0, 860.0);
const TICK: Duration = Duration::from_nanos(16_666_667);
/// The device charted.
const CHARTED: &str = "tele-1";
/// Devices whose counts give the fleet's rate.
const SAMPLED: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let devices: usize = support::from_env("DEVICES", 1000);
    let seconds: u64 = support::from_env("SECONDS", 15);
    let phase = Duration::from_secs(seconds);
    let dir = tempfile::tempdir()?;
    let (hub, ready) = support::start_hub(dir.path(), &[])?;
    let hub = KillOnDrop(hub);
    let hub_pid = hub.0.id();
    let connection = ready["service_connection_string"]
        .as_str()
        .ok_or("no connection string in the ready line")?
        .to_owned();
    let mqtt_port = ready["mqtt_port"].as_u64().ok_or("no mqtt_port")?;
    eprintln!("starting {devices} simulated devices…");
    let simulator = Command::new(env!("CARGO_BIN_EXE_twinlens"))
        .args(["simulate", "--no-tls", "--connection-string", &connection])
        .args(["--count", &devices.to_string(), "--template", "tele-{N}"])
        .args(["--mqtt-port", &mqtt_port.to_string(), "--interval", "1"])
        .args([
            "--telemetry",
            r#"{"t": {{random 20.0 30.0}}, "seq": {{counter}}}"#,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let _simulator = KillOnDrop(simulator);
    let runtime = tokio::runtime::Runtime::new()?;
    let (client, _) = support::service_client(&ready)?;
    let last = format!("tele-{devices}");
    let waited = Instant::now();
    loop {
        let sending = runtime
            .block_on(client.device_telemetry(&last))
            .is_ok_and(|telemetry| telemetry.count > 0);
        if sending {
            break;
        }
        if waited.elapsed() > Duration::from_secs(180) {
            return Err("the simulated fleet did not start sending within 180 s".into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "fleet sending after {:.1} s",
        waited.elapsed().as_secs_f64()
    );

    let picker: FilePicker = Arc::new(|_: &_| PickedFile::Cancelled);
    let remote = HubTarget::Remote(RemoteHub {
        connection_string: connection,
        ca_pem: None,
        no_tls: true,
        mqtt_port: u16::try_from(mqtt_port)?,
    });
    let options = StartOptions {
        hub: Some(remote.clone()),
        embedded: remote,
        open_device: None,
        simulate: false,
        tab: None,
        connections_path: None,
        saved_connections: Vec::new(),
        picker,
        settings: Settings::default(),
        worker: WorkerOptions::default(),
    };
    let mut explorer = Headless {
        app: ExplorerApp::new(options, Arc::new(|| {}))?,
        context: egui::Context::default(),
        started: Instant::now(),
    };
    while !explorer.app.is_connected() || explorer.app.is_listing() {
        explorer.frame();
        std::thread::sleep(TICK);
    }

    // The fleet's messages so far, from the hub's counts of 10 devices spread over it.
    let sampled: Vec<String> = (0..SAMPLED)
        .map(|n| format!("tele-{}", 1 + n * devices / SAMPLED))
        .collect();
    let counter = || -> u64 {
        let sum: u64 = sampled
            .iter()
            .filter_map(|id| runtime.block_on(client.device_telemetry(id)).ok())
            .map(|telemetry| telemetry.count)
            .sum();
        sum * devices as u64 / SAMPLED as u64
    };
    let mut rows = Vec::new();
    rows.push(explorer.phase("no device open (reference)", phase, hub_pid, &counter));
    explorer.app.show_telemetry_of(CHARTED);
    rows.push(explorer.phase(
        "Telemetry tab, charting one device",
        phase,
        hub_pid,
        &counter,
    ));

    println!();
    println!(
        "{devices} devices at 1 message/s each; the explorer charts {CHARTED}; {seconds} s a phase"
    );
    println!(
        "| phase | frames | frame median ms | p95 ms | max ms | hub CPU (% of a core) | fleet msgs/s | charted device msgs held |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.1} | {:.0} | {} |",
            row.name,
            row.frames,
            row.median_ms,
            row.p95_ms,
            row.max_ms,
            row.hub_cpu_percent,
            row.hub_rate,
            row.held
        );
    }
    Ok(())
}

struct Row {
    name: &'static str,
    frames: usize,
    median_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    hub_cpu_percent: f64,
    hub_rate: f64,
    held: usize,
}

struct Headless {
    app: ExplorerApp,
    context: egui::Context,
    started: Instant,
}

impl Headless {
    /// One frame; the UI thread's CPU time.
    fn frame(&mut self) -> Duration {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, SCREEN)),
            time: Some(self.started.elapsed().as_secs_f64()),
            ..RawInput::default()
        };
        let cpu = cpu_time::ThreadTime::now().as_duration();
        let output = self.context.run_ui(input, |ui| self.app.frame_ui(ui));
        std::hint::black_box(
            self.context
                .tessellate(output.shapes, output.pixels_per_point),
        );
        cpu_time::ThreadTime::now()
            .as_duration()
            .saturating_sub(cpu)
    }

    /// Paced frames for `length`, with the hub's CPU and message rate over it.
    fn phase(
        &mut self,
        name: &'static str,
        length: Duration,
        hub_pid: u32,
        hub_messages: &dyn Fn() -> u64,
    ) -> Row {
        // Let the phase's set-up (a watch opening, a first read) settle.
        for _ in 0..60 {
            self.frame();
            std::thread::sleep(TICK);
        }
        let cpu_before = support::process_cpu(hub_pid);
        let messages_before = hub_messages();
        let started = Instant::now();
        let mut samples = Vec::new();
        let mut next = Instant::now();
        while started.elapsed() < length {
            samples.push(self.frame());
            next += TICK;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                next = now;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let hub_cpu = support::process_cpu(hub_pid).saturating_sub(cpu_before);
        let messages = hub_messages().saturating_sub(messages_before);
        samples.sort();
        let ms = |index: usize| samples.get(index).map_or(0.0, |s| s.as_secs_f64() * 1000.0);
        Row {
            name,
            frames: samples.len(),
            median_ms: ms(samples.len() / 2),
            p95_ms: ms(samples.len() * 95 / 100),
            max_ms: ms(samples.len().saturating_sub(1)),
            hub_cpu_percent: hub_cpu.as_secs_f64() / elapsed * 100.0,
            hub_rate: messages as f64 / elapsed,
            held: self.app.telemetry_kept(CHARTED),
        }
    }
}
