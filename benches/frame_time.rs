//! Frame time of the explorer: the app's own frame function, headless, with 100,000
//! devices listed and a 32 KB twin open in the editor, for an idle frame, a frame
//! scrolling the device list, and a frame typing into the editor. CPU time is the UI
//! thread's own (CLOCK_THREAD_CPUTIME_ID), including tessellation; GPU upload
//! and painting are the renderer's and not counted. Target: under 4 ms per frame.
//!
//! Run with `cargo bench --bench frame_time`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, Pos2, RawInput, Rect, Vec2};
use serde_json::{Map, Value, json};
use twinlens::app::file_dialog::{FilePicker, PickedFile};
use twinlens::app::settings::Settings;
use twinlens::app::{ExplorerApp, StartOptions};
use twinlens::worker::HubTarget;

const DEVICES: usize = 100_000;
const FRAMES: usize = 300;
const WARM_UP: usize = 20;
/// Query pieces added on top of the listed devices, one per frame.
const PAGES: usize = 200;
/// Twins per query piece, as the worker sends them.
const PAGE: usize = twinlens::worker::QUERY_EVENT_ROWS;
/// Samples of the frame after a typing pause (each costs the pause).
const PAUSED_FRAMES: usize = 40;
const SCREEN: Vec2 = Vec2::new(1400.0, 860.0);

fn main() {
    let started = Instant::now();
    let twins: Vec<Value> = (0..DEVICES).map(listed_twin).collect();
    let open = big_twin();
    let editor_bytes =
        twinlens::explorer::twin_edit::pretty(&twinlens::explorer::twin_edit::editable(&open))
            .len();
    let mut app = ExplorerApp::new(options(), Arc::new(|| {})).expect("the worker starts");
    app.list_twins(twins);
    app.open_twin(open.clone());
    println!(
        "setup: {DEVICES} devices listed, open twin {} bytes of JSON ({editor_bytes} bytes in the editor), {:.1} s, {} MB resident",
        open.to_string().len(),
        started.elapsed().as_secs_f64(),
        support::memory_megabytes("self", "VmRSS").map_or("?".into(), |mb| mb.to_string())
    );

    let context = egui::Context::default();
    let mut frame = |events: Vec<Event>, page: Vec<Value>, time: f64| -> Duration {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, SCREEN)),
            time: Some(time),
            events,
            ..RawInput::default()
        };
        let cpu = thread_cpu();
        if !page.is_empty() {
            // As the worker's query pages land: folded in at the start of the frame.
            app.list_twins(page);
        }
        let output = context.run_ui(input, |ui| app.frame_ui(ui));
        let primitives = context.tessellate(output.shapes, output.pixels_per_point);
        std::hint::black_box(primitives);
        thread_cpu().saturating_sub(cpu)
    };

    println!();
    println!("| frame | median ms | p95 ms | max ms | target |");
    println!("|---|---|---|---|---|");
    let mut time = 0.0;
    let row = |name: &str, mut samples: Vec<Duration>| {
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let median = ms(samples[samples.len() / 2]);
        let p95 = ms(samples[samples.len() * 95 / 100]);
        let max = ms(samples[samples.len() - 1]);
        let verdict = if p95 < 4.0 { "met" } else { "missed" };
        println!("| {name} | {median:.2} | {p95:.2} | {max:.2} | < 4 ms: {verdict} |");
    };
    let mut run =
        |name: &str, events: &dyn Fn(usize) -> Vec<Event>, pause_after: Option<Duration>| {
            let mut samples = Vec::with_capacity(FRAMES);
            let frames = if pause_after.is_some() {
                PAUSED_FRAMES
            } else {
                FRAMES
            };
            for index in 0..WARM_UP + frames {
                time += 1.0 / 60.0;
                let spent = frame(events(index), Vec::new(), time);
                if let Some(pause) = pause_after {
                    // The measured frame is the one after the pause, with no input.
                    std::thread::sleep(pause);
                    time += pause.as_secs_f64();
                    let checked = frame(Vec::new(), Vec::new(), time);
                    if index >= WARM_UP {
                        samples.push(checked);
                    }
                } else if index >= WARM_UP {
                    samples.push(spent);
                }
            }
            row(name, samples);
        };
    run("idle (100k listed, 32 KB twin open)", &|_| Vec::new(), None);
    let over_list = Pos2::new(200.0, 400.0);
    run(
        "scrolling the device list",
        &|index| {
            let direction = if (index / 100) % 2 == 0 { -1.0 } else { 1.0 };
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
        },
        None,
    );
    let over_editor = Pos2::new(1200.0, 300.0);
    let typing = |index: usize| {
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
        } else {
            vec![Event::Text(if index.is_multiple_of(2) {
                " ".into()
            } else {
                "\n".into()
            })]
        }
    };
    run("typing in the 32 KB editor", &typing, None);
    run(
        "idle after the same pause (control: cold caches)",
        &|_| Vec::new(),
        Some(twinlens::explorer::twin_edit::CHECK_AFTER_PAUSE + Duration::from_millis(10)),
    );
    run(
        "checking the 32 KB text when typing pauses",
        &typing,
        Some(twinlens::explorer::twin_edit::CHECK_AFTER_PAUSE + Duration::from_millis(10)),
    );
    let mut samples = Vec::with_capacity(PAGES);
    for page in 0..PAGES {
        time += 1.0 / 60.0;
        let first = DEVICES + page * PAGE;
        let twins = (first..first + PAGE).map(listed_twin).collect();
        samples.push(frame(Vec::new(), twins, time));
    }
    row("a query piece of 250 more arriving (100k+ listed)", samples);
}

fn options() -> StartOptions {
    let folder = std::env::temp_dir().join("twinlens-frame-bench");
    let picker: FilePicker = Arc::new(|_: &_| PickedFile::Cancelled);
    StartOptions {
        hub: None,
        embedded: HubTarget::Embedded {
            data_dir: folder,
            demo_devices: None,
        },
        open_device: None,
        simulate: false,
        connections_path: None,
        saved_connections: Vec::new(),
        picker,
        settings: Settings::default(),
    }
}

/// A listed twin as a query returns it (without `$metadata`, which the list drops).
fn listed_twin(index: usize) -> Value {
    let cities = ["Oslo", "Lima", "Pune", "Kyiv", "Perth", "Quito"];
    json!({
        "deviceId": format!("device-{index:06}"),
        "status": "enabled",
        "connectionState": if index.is_multiple_of(7) { "Connected" } else { "Disconnected" },
        "lastActivityTime": format!("2026-11-{:02}T10:{:02}:00Z", 1 + index % 28, index % 60),
        "version": 3,
        "tags": {"location": {"city": cities[index % cities.len()], "floor": index % 12}},
        "properties": {"desired": {"interval": 30}, "reported": {"interval": 30}}
    })
}

/// A twin of about 32 KB: tags and desired near their limits, reported beside them.
fn big_twin() -> Value {
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
        "deviceId": "device-000042",
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
