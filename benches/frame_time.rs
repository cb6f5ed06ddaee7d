//! The explorer at 100,000 and 1,000,000 devices: launch, listing, memory and frame time.
//!
//! For each fleet size N in `DEVICES` (comma-separated, default `100000,1000000`) the
//! benchmark seeds a store of N demo devices once (`twinlens hub --demo N` into
//! `twinlens-frame-bench-N` under the temp folder, reused while it holds N devices), then
//! runs each measurement in a fresh process (this benchmark run again by itself in a
//! child role), so that every memory figure is that process's own. A child prints one
//! JSON line of results; this process prints them as tables.
//!
//! - The explorer with its embedded hub on that store, headless: from the start of
//!   `main` through `ExplorerApp::new` to the end of the first frame (the app's own frame
//!   function through an `egui::Context` at 1400×860, tessellation included); then frames
//!   paced like a 60 Hz display (a frame, then a sleep until the next 16.7 ms tick, none
//!   after a frame that overran) until all N devices are listed, the time from the start
//!   of `main`, and the resident memory of the process (explorer and hub) then (VmRSS)
//!   and at its peak so far (VmHWM).
//! - In that process, the UI thread's CPU time per frame (CLOCK_THREAD_CPUTIME_ID,
//!   tessellation included; GPU upload and painting are the renderer's and not counted):
//!   every frame of the listing in which rows were added (a page arriving); then, with
//!   all N listed and a twin of about 32 KB open in the editor, 20 warm-up and 300
//!   measured frames idle, scrolling the device list and typing into the editor (a
//!   space or Enter every frame), paced at 60 Hz like the listing (frames run back to
//!   back take a third of the CPU time: caches stay warm, which no display allows), and
//!   100 of the frame after a typing pause (the editor checks its text once typing
//!   pauses) against 100 idle frames after the same pause (the control). The open twin
//!   is re-read from the hub only once a day here, and opened again after a second of frames in which its first read lands,
//!   so that the hub's copy does not replace the 32 KB twin being measured.
//! - The explorer alone, connected (plain HTTP) to `twinlens hub` run separately on the
//!   same store: the time from the start of `main` until all N are listed, paced the same
//!   way, and the resident memory of the explorer's process then.
//!
//! Targets: first frame ≤ 300 ms and p95 frame < 2 ms at every size; at 100,000 devices,
//! all listed in ≤ 5 s, ≤ 500 MB resident with the embedded hub and ≤ 150 MB for the
//! explorer alone. A missed target is reported, not a failure; a child that fails or does
//! not list every device within 300 s is. MB are 2^20 bytes, as in /proc.
//!
//! Run with `cargo bench --bench frame_time`; `DEVICES=100000 cargo bench --bench
//! frame_time` for one size (1,000,000 takes a few minutes and about 1.5 GB).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, Pos2, RawInput, Rect, Vec2};
use serde_json::{Map, Value, json};
use support::KillOnDrop;
use twinlens::app::file_dialog::{FilePicker, PickedFile};
use twinlens::app::settings::Settings;
use twinlens::app::{ExplorerApp, StartOptions};
use twinlens::explorer::twin_edit;
use twinlens::service::DeviceTwin;
use twinlens::worker::{HubTarget, RemoteHub, WorkerOptions};

const DEFAULT_DEVICES: &str = "100000,1000000";
/// The fleet size the size-dependent targets are set for.
const TARGET_DEVICES: usize = 100_000;

/// Which measurement a child process makes: `embedded` or `remote`.
const ROLE: &str = "FRAME_BENCH_ROLE";
/// The child's fleet size.
const CHILD_DEVICES: &str = "FRAME_BENCH_DEVICES";
/// The seeded store the child's embedded hub opens (and the connections dialog offers).
const CHILD_STORE: &str = "FRAME_BENCH_STORE";
/// The separately run hub's service connection string, for the `remote` child.
const CHILD_CONNECTION: &str = "FRAME_BENCH_CONNECTION_STRING";
/// The separately run hub's device MQTT port, for the `remote` child.
const CHILD_MQTT_PORT: &str = "FRAME_BENCH_MQTT_PORT";

const FRAMES: usize = 300;
const WARM_UP: usize = 20;
/// Samples of the frame after a typing pause (each costs the pause).
const PAUSED_FRAMES: usize = 100;
const SCREEN: Vec2 = Vec2::new(1400.0, 860.0);
/// A 60 Hz display's frame interval.
const TICK: Duration = Duration::from_nanos(16_666_667);
/// How long a child may take from launch until every device is listed.
const LIST_TIMEOUT: Duration = Duration::from_secs(300);
/// Paced frames with the 32 KB twin open before it is opened again and measured.
const SETTLE: Duration = Duration::from_secs(1);
/// Seconds between re-reads of the open twin in the children: once a day.
const TWIN_REFRESH_SECS: f32 = 86_400.0;

fn main() {
    let started = Instant::now();
    match std::env::var(ROLE) {
        Ok(role) => child(started, &role),
        Err(_) => parent(),
    }
}

// ---- The benchmark process: seeds stores, runs children, prints tables ----

fn parent() {
    let sizes: Vec<usize> = support::from_env("DEVICES", DEFAULT_DEVICES.to_owned())
        .split(',')
        .map(|size| {
            size.trim().parse().unwrap_or_else(|_| {
                panic!("DEVICES must be fleet sizes separated by commas, not {size:?}")
            })
        })
        .collect();
    println!(
        "frame_time: {} CPUs (nproc), {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let mut failed = false;
    for devices in sizes {
        failed |= !measure(devices);
    }
    if failed {
        eprintln!("frame_time: a measurement failed (see above)");
        std::process::exit(1);
    }
}

/// Measures one fleet size and prints its tables; false if a child failed.
fn measure(devices: usize) -> bool {
    let store = seeded_store(devices);
    let embedded = run_child("embedded", devices, &store, &[]);
    let alone = support::start_hub(&store, &[])
        .map_err(|error| {
            format!(
                "`twinlens hub` did not start on {}: {error}",
                store.display()
            )
        })
        .and_then(|(hub, ready)| {
            let _hub = KillOnDrop(hub);
            let connection = ready["service_connection_string"]
                .as_str()
                .ok_or("the hub's ready line has no service_connection_string")?
                .to_owned();
            let mqtt_port = ready["mqtt_port"].to_string();
            run_child(
                "remote",
                devices,
                &store,
                &[
                    (CHILD_CONNECTION, &connection),
                    (CHILD_MQTT_PORT, &mqtt_port),
                ],
            )
        });
    for (what, result) in [("embedded hub", &embedded), ("explorer alone", &alone)] {
        if let Err(error) = result {
            eprintln!(
                "frame_time: {} devices, {what}: FAILED: {error}",
                grouped(devices)
            );
        }
    }

    println!();
    println!("## {} devices", grouped(devices));
    println!();
    let figure = |result: &Result<Value, String>, key: &str| {
        result.as_ref().ok().and_then(|value| value[key].as_f64())
    };
    let first_frame = Target::everywhere(300.0, "ms");
    let listed = Target::at_target_size(5.0, "s");
    let memory = Target::at_target_size(500.0, "MB");
    let memory_alone = Target::at_target_size(150.0, "MB");
    println!("| measure | value | target | verdict |");
    println!("|---|---|---|---|");
    let rows = [
        (
            "launch → first frame (explorer + embedded hub)",
            figure(&embedded, "first_frame_ms"),
            first_frame,
        ),
        (
            "launch → all listed (explorer + embedded hub)",
            figure(&embedded, "listed_s"),
            listed,
        ),
        (
            "resident once listed (explorer + embedded hub, VmRSS)",
            figure(&embedded, "rss_mb"),
            memory,
        ),
        (
            "peak resident (explorer + embedded hub, VmHWM)",
            figure(&embedded, "peak_mb"),
            memory,
        ),
        (
            "explorer alone: resident once listed (VmRSS)",
            figure(&alone, "rss_mb"),
            memory_alone,
        ),
        (
            "explorer alone: peak resident (VmHWM)",
            figure(&alone, "peak_mb"),
            memory_alone,
        ),
        (
            "explorer alone: launch → all listed (separate `twinlens hub`)",
            figure(&alone, "listed_s"),
            listed,
        ),
    ];
    for (measure, value, target) in rows {
        let (limit, verdict) = target.judge(value, devices);
        let value = value.map_or("failed".to_owned(), |value| target.show(value));
        println!("| {measure} | {value} | {limit} | {verdict} |");
    }

    println!();
    println!("| frame | median ms | p95 ms | max ms | target (< 2 ms p95) |");
    println!("|---|---|---|---|---|");
    match &embedded {
        Ok(result) => {
            for row in result["frames"].as_array().into_iter().flatten() {
                let ms = |key: &str| row[key].as_f64().unwrap_or(f64::NAN);
                let verdict = if ms("p95_ms") < 2.0 { "met" } else { "missed" };
                println!(
                    "| {} ({} frames) | {:.2} | {:.2} | {:.2} | {verdict} |",
                    row["name"].as_str().unwrap_or("?"),
                    row["frames"],
                    ms("median_ms"),
                    ms("p95_ms"),
                    ms("max_ms"),
                );
            }
            println!();
            println!(
                "Open twin: {}, {} bytes of JSON ({} bytes in the editor).",
                result["twin_device_id"].as_str().unwrap_or("?"),
                result["twin_bytes"],
                result["editor_bytes"]
            );
        }
        Err(_) => println!("| (the embedded child failed) | | | | |"),
    }
    embedded.is_ok() && alone.is_ok()
}

/// A target a figure should be at most `limit` of; `everywhere` or only at
/// [`TARGET_DEVICES`].
#[derive(Clone, Copy)]
struct Target {
    limit: f64,
    unit: &'static str,
    everywhere: bool,
}

impl Target {
    const fn everywhere(limit: f64, unit: &'static str) -> Self {
        Target {
            limit,
            unit,
            everywhere: true,
        }
    }

    const fn at_target_size(limit: f64, unit: &'static str) -> Self {
        Target {
            limit,
            unit,
            everywhere: false,
        }
    }

    /// The target and verdict cells for `value` at `devices`.
    fn judge(self, value: Option<f64>, devices: usize) -> (String, &'static str) {
        let mut text = format!("≤ {} {}", self.limit, self.unit);
        if !self.everywhere {
            text += &format!(" at {}", grouped(TARGET_DEVICES));
        }
        let verdict = match value {
            None => "failed",
            Some(_) if !self.everywhere && devices != TARGET_DEVICES => "not judged",
            Some(value) if value <= self.limit => "met",
            Some(_) => "missed",
        };
        (text, verdict)
    }

    /// `value` in the target's unit, as precisely as it is worth reading.
    fn show(self, value: f64) -> String {
        let decimals = if self.unit == "s" { 2 } else { 0 };
        format!("{value:.decimals$} {}", self.unit)
    }
}

/// `n` with thousands separated by commas.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// The store of `devices` demo devices, seeded by `twinlens hub --demo` unless an earlier
/// run left it.
fn seeded_store(devices: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twinlens-frame-bench-{devices}"));
    let wanted = Some(devices as u64);
    if twinlens::hub::stored_device_count(&dir) == wanted {
        eprintln!(
            "frame_time: reusing the store of {devices} devices in {}",
            dir.display()
        );
        return dir;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .unwrap_or_else(|error| panic!("could not remove {}: {error}", dir.display()));
    }
    eprintln!(
        "frame_time: seeding {devices} demo devices into {}",
        dir.display()
    );
    let started = Instant::now();
    let (hub, _ready) = support::start_hub(&dir, &["--demo", &devices.to_string()])
        .unwrap_or_else(|error| panic!("`twinlens hub --demo {devices}` failed: {error}"));
    drop(KillOnDrop(hub));
    let stored = twinlens::hub::stored_device_count(&dir);
    assert_eq!(
        stored,
        wanted,
        "the seeded store in {} holds {stored:?} devices",
        dir.display()
    );
    eprintln!(
        "frame_time: seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    dir
}

/// Runs this benchmark again as a child in `role` and returns the JSON line it prints,
/// or why it failed (its own messages go to stderr as they come).
fn run_child(
    role: &str,
    devices: usize,
    store: &Path,
    extra: &[(&str, &str)],
) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|error| format!("no current exe: {error}"))?;
    let output = Command::new(exe)
        .env(ROLE, role)
        .env(CHILD_DEVICES, devices.to_string())
        .env(CHILD_STORE, store)
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("the {role} child did not start: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "the {role} child {} (its messages are above)",
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .ok_or_else(|| format!("the {role} child printed no result line: {stdout:?}"))?;
    serde_json::from_str(line)
        .map_err(|error| format!("the {role} child's result line is not JSON ({error}): {line}"))
}

// ---- A child process: one explorer, measured headless ----

fn child(started: Instant, role: &str) {
    let devices: usize = required_env(CHILD_DEVICES)
        .parse()
        .unwrap_or_else(|_| panic!("{CHILD_DEVICES} must be a fleet size"));
    let embedded = HubTarget::Embedded {
        data_dir: PathBuf::from(required_env(CHILD_STORE)),
        demo_devices: None,
    };
    let hub = match role {
        "embedded" => embedded.clone(),
        "remote" => HubTarget::Remote(RemoteHub {
            connection_string: required_env(CHILD_CONNECTION),
            ca_pem: None,
            no_tls: true,
            mqtt_port: required_env(CHILD_MQTT_PORT)
                .parse()
                .unwrap_or_else(|_| panic!("{CHILD_MQTT_PORT} must be a port")),
        }),
        other => panic!("{ROLE} must be embedded or remote, not {other:?}"),
    };
    let app = ExplorerApp::new(options(hub, embedded), Arc::new(|| {}))
        .expect("the explorer's worker starts");
    let mut headless = Headless {
        app,
        context: egui::Context::default(),
        time: 0.0,
    };
    let listing = headless.list_all(started, devices);
    let memory = |field| support::memory_megabytes("self", field);
    let mut result = json!({
        "first_frame_ms": listing.first_frame.as_secs_f64() * 1000.0,
        "listed_s": listing.listed.as_secs_f64(),
        "rss_mb": memory("VmRSS"),
        "peak_mb": memory("VmHWM"),
    });
    if role == "embedded" {
        let twin = big_twin(&twinlens::hub::demo::demo_device_id(41, devices));
        result["twin_device_id"] = twin["deviceId"].clone();
        result["twin_bytes"] = twin.to_string().len().into();
        result["editor_bytes"] = twin_edit::pretty(&twin_edit::editable(&twin)).len().into();
        let mut frames = vec![summary(
            "a page arriving (rows added during the listing)",
            listing.page_frames,
        )];
        frames.extend(headless.twin_frames(twin, devices));
        result["frames"] = frames.into();
    }
    println!("{result}");
}

/// A child's setting from its environment; it panics (failing the child) when unset.
fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn options(hub: HubTarget, embedded: HubTarget) -> StartOptions {
    let picker: FilePicker = Arc::new(|_: &_| PickedFile::Cancelled);
    StartOptions {
        hub: Some(hub),
        embedded,
        open_device: None,
        simulate: false,
        tab: None,
        connections_path: None,
        saved_connections: Vec::new(),
        picker,
        settings: Settings {
            twin_refresh_secs: TWIN_REFRESH_SECS,
            ..Settings::default()
        },
        worker: WorkerOptions::default(),
    }
}

/// How the launch went until every device was listed.
struct Listing {
    /// From the start of `main` to the end of the first frame.
    first_frame: Duration,
    /// From the start of `main` to the end of the frame that showed the last device.
    listed: Duration,
    /// UI-thread CPU time of each frame in which rows were added.
    page_frames: Vec<Duration>,
}

/// The explorer driven through its own frame function, without a window.
struct Headless {
    app: ExplorerApp,
    context: egui::Context,
    /// The input's time, in seconds.
    time: f64,
}

impl Headless {
    /// Runs one frame with `events` at `self.time`; returns the UI thread's CPU time.
    fn frame(&mut self, events: Vec<Event>) -> Duration {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, SCREEN)),
            time: Some(self.time),
            events,
            ..RawInput::default()
        };
        let cpu = thread_cpu();
        let output = self.context.run_ui(input, |ui| self.app.frame_ui(ui));
        let primitives = self
            .context
            .tessellate(output.shapes, output.pixels_per_point);
        std::hint::black_box(primitives);
        thread_cpu().saturating_sub(cpu)
    }

    /// Runs paced frames from launch until all `devices` are listed.
    fn list_all(&mut self, started: Instant, devices: usize) -> Listing {
        let mut first_frame = None;
        let mut page_frames = Vec::new();
        let mut pacer = Pacer::new();
        loop {
            let before = self.app.devices_listed();
            self.time = started.elapsed().as_secs_f64();
            let spent = self.frame(Vec::new());
            first_frame.get_or_insert_with(|| started.elapsed());
            let listed = self.app.devices_listed();
            if listed > before {
                page_frames.push(spent);
            }
            if !self.app.is_listing() && self.app.is_connected() && listed == devices {
                return Listing {
                    first_frame: first_frame.unwrap_or_default(),
                    listed: started.elapsed(),
                    page_frames,
                };
            }
            assert!(
                started.elapsed() < LIST_TIMEOUT,
                "not all {devices} devices listed {} s after launch: {listed} listed, connected: {}, listing: {}, last request: {:?}",
                LIST_TIMEOUT.as_secs(),
                self.app.is_connected(),
                self.app.is_listing(),
                self.app.last_list_request(),
            );
            pacer.wait();
        }
    }

    /// With every device listed, opens `twin` and measures the frames of the table.
    fn twin_frames(&mut self, twin: Value, devices: usize) -> Vec<Value> {
        // Opening a twin reads it from the hub once; its answer lands while this runs
        // and replaces the twin, which is then opened again.
        let twin: DeviceTwin =
            serde_json::from_value(twin).expect("the generated twin has the service's shape");
        self.app.open_twin(twin.clone());
        let settling = Instant::now();
        let mut pacer = Pacer::new();
        while settling.elapsed() < SETTLE {
            self.time += TICK.as_secs_f64();
            self.frame(Vec::new());
            pacer.wait();
        }
        self.app.open_twin(twin);

        let listed = if devices >= 1_000_000 {
            format!("{}M", devices / 1_000_000)
        } else {
            format!("{}k", devices / 1000)
        };
        let mut rows = vec![summary(
            &format!("idle ({listed} listed, 32 KB twin open)"),
            self.run(&|_| Vec::new(), None),
        )];
        let over_list = Pos2::new(200.0, 400.0);
        let scrolling = move |index: usize| {
            let direction = if (index / 100).is_multiple_of(2) {
                -1.0
            } else {
                1.0
            };
            vec![
                Event::PointerMoved(over_list),
                Event::MouseWheel {
                    unit: egui::MouseWheelUnit::Point,
                    delta: Vec2::new(0.0, 120.0 * direction),
                    phase: egui::TouchPhase::Move,
                    modifiers: egui::Modifiers::NONE,
                    source: egui::MouseWheelSource::Unknown,
                },
            ]
        };
        rows.push(summary(
            "scrolling the device list",
            self.run(&scrolling, None),
        ));
        let over_editor = Pos2::new(1200.0, 300.0);
        let typing = move |index: usize| {
            if index == 0 {
                vec![
                    Event::PointerMoved(over_editor),
                    Event::PointerButton {
                        pos: over_editor,
                        button: egui::PointerButton::Primary,
                        pressed: true,
                        modifiers: egui::Modifiers::NONE,
                    },
                    Event::PointerButton {
                        pos: over_editor,
                        button: egui::PointerButton::Primary,
                        pressed: false,
                        modifiers: egui::Modifiers::NONE,
                    },
                ]
            } else if index.is_multiple_of(2) {
                vec![Event::Text(" ".into())]
            } else {
                // A text event of "\n" is not typing: egui takes newlines as Enter.
                vec![Event::Key {
                    key: egui::Key::Enter,
                    physical_key: None,
                    pressed: true,
                    repeat: false,
                    modifiers: egui::Modifiers::NONE,
                }]
            }
        };
        rows.push(summary(
            "typing in the 32 KB editor",
            self.run(&typing, None),
        ));
        let pause = twin_edit::CHECK_AFTER_PAUSE + Duration::from_millis(10);
        rows.push(summary(
            "idle after the same pause (control)",
            self.run(&|_| Vec::new(), Some(pause)),
        ));
        rows.push(summary(
            "checking the 32 KB text when typing pauses",
            self.run(&typing, Some(pause)),
        ));
        rows
    }

    /// Warm-up frames then measured ones with `events(index)`, paced at 60 Hz; with a
    /// pause, each frame is followed by that pause and the frame after it (without
    /// input) is the one measured.
    fn run(
        &mut self,
        events: &dyn Fn(usize) -> Vec<Event>,
        pause_after: Option<Duration>,
    ) -> Vec<Duration> {
        let frames = if pause_after.is_some() {
            PAUSED_FRAMES
        } else {
            FRAMES
        };
        let mut samples = Vec::with_capacity(frames);
        let mut pacer = Pacer::new();
        for index in 0..WARM_UP + frames {
            self.time += TICK.as_secs_f64();
            let spent = self.frame(events(index));
            if let Some(pause) = pause_after {
                std::thread::sleep(pause);
                self.time += pause.as_secs_f64();
                let checked = self.frame(Vec::new());
                if index >= WARM_UP {
                    samples.push(checked);
                }
            } else if index >= WARM_UP {
                samples.push(spent);
            }
            pacer.wait();
        }
        samples
    }
}

/// Sleeps until the next tick of a 60 Hz display; not at all after a frame that
/// overran its tick (the next tick is then a full interval from now).
struct Pacer {
    next: Instant,
}

impl Pacer {
    fn new() -> Self {
        Pacer {
            next: Instant::now(),
        }
    }

    fn wait(&mut self) {
        self.next += TICK;
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        } else {
            self.next = now;
        }
    }
}

/// One row of the frame table: the median, p95 and maximum of `samples`.
fn summary(name: &str, mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let ms = |index: usize| {
        samples
            .get(index)
            .map(|sample| sample.as_secs_f64() * 1000.0)
    };
    json!({
        "name": name,
        "frames": samples.len(),
        "median_ms": ms(samples.len() / 2),
        "p95_ms": ms(samples.len() * 95 / 100),
        "max_ms": ms(samples.len().wrapping_sub(1)),
    })
}

/// A twin of about 32 KB: tags and desired near their limits, reported beside them.
fn big_twin(device_id: &str) -> Value {
    let section = |prefix: &str, count: usize| -> Map<String, Value> {
        (0..count)
            .map(|n| {
                (
                    format!("{prefix}{n:03}"),
                    json!({"setpoint": n, "label": format!("zone {n} of the {prefix} group"), "enabled": n % 2 == 0}),
                )
            })
            .collect()
    };
    json!({
        "deviceId": device_id,
        "etag": "AAAAAAAAAAE=",
        "version": 12,
        "status": "enabled",
        "connectionState": "Connected",
        "tags": section("tag", 60),
        "properties": {
            "desired": section("desired", 190),
            "reported": section("reported", 100)
        }
    })
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    cpu_time::ThreadTime::now().as_duration()
}
