//! Local hub benchmark: storing and loading 100,000 demo twins, and IoT Hub queries
//! over them through the same store the REST API uses. Prints a table; run with
//! `cargo bench --bench hub_query` (set `TWINLENS_BENCH_DEVICES` for another size).

mod support;

use std::time::{Duration, Instant};

use twinlens::hub::demo::DemoFleet;
use twinlens::hub::store::Store;

const QUERIES: [(&str, &str); 6] = [
    (
        "tag equality",
        "SELECT * FROM devices WHERE tags.location.city = 'Dublin'",
    ),
    (
        "tag and reported",
        "SELECT deviceId FROM devices WHERE tags.deviceType = 'gateway' AND properties.reported.sensors.battery < 20",
    ),
    (
        "count with a tag filter (full scan)",
        "SELECT COUNT() AS n FROM devices WHERE tags.location.city = 'Dublin'",
    ),
    ("count all", "SELECT COUNT() AS n FROM devices"),
    (
        "group by tag",
        "SELECT tags.location.city, COUNT() AS n FROM devices GROUP BY tags.location.city",
    ),
    (
        "no match (full scan)",
        "SELECT * FROM devices WHERE tags.owner = 'nobody'",
    ),
];

/// Set to a store file, the bench only opens that store and prints the load time and
/// resident memory: run in a fresh process so that the numbers are the loader's alone.
const LOAD_ONLY: &str = "TWINLENS_BENCH_LOAD_ONLY";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(path) = std::env::var(LOAD_ONLY) {
        let started = Instant::now();
        let store = Store::open(std::path::Path::new(&path))?;
        println!(
            "{:.0} {} {}",
            started.elapsed().as_secs_f64() * 1000.0,
            support::memory_megabytes("self", "VmRSS")
                .map_or_else(|| "n/a".to_owned(), |mb| mb.to_string()),
            store.device_count()
        );
        return Ok(());
    }
    let count: usize = support::from_env("TWINLENS_BENCH_DEVICES", 100_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hub.db");

    let store = Store::open(&path)?;
    let started = Instant::now();
    let fleet = DemoFleet::new(count, chrono::Utc::now())?;
    store.seed_devices(count, |index| fleet.device(index))?;
    let seeded = started.elapsed();
    drop(store);

    let output = std::process::Command::new(std::env::current_exe()?)
        .env(LOAD_ONLY, &path)
        .output()?;
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    let mut fields = report.split_whitespace();
    let loaded = fields.next().unwrap_or("n/a").to_owned();
    let rss = fields.next().unwrap_or("n/a").to_owned();
    let store = Store::open(&path)?;

    println!("local hub, {count} demo twins");
    println!();
    println!("| step | time |");
    println!("|---|---|");
    println!(
        "| generate the demo twins and store them (`--demo` seeding) | {} |",
        ms(seeded)
    );
    println!("| open the store and load every twin (fresh process) | {loaded} ms |");
    println!("| resident memory of that process after loading | {rss} MB |");
    println!();
    println!("| query | rows (first page of 100) | median of 11 | min |");
    println!("|---|---|---|---|");
    for (name, text) in QUERIES {
        let query = twinlens::query::parse(text)?;
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..11 {
            let started = Instant::now();
            rows = store.query_page(&query, None, 100)?.rows.len();
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "| {name} | {rows} | {} | {} |",
            ms(times[times.len() / 2]),
            ms(times[0])
        );
    }
    Ok(())
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
