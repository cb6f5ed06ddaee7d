//! Demo data for an empty hub (`--demo N`): devices with realistic tags, desired and
//! reported properties (sites, device types, firmware rollouts, sensor readings), so
//! the explorer has something to show on first start. Generated from a fixed seed, so
//! the same N always gives the same fleet.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::error::HubError;
use super::identity::DeviceIdentity;
use crate::twin::Twin;

const SEED: u64 = 0x7717_1e25;

const SITES: [(&str, &str, &str); 8] = [
    ("Seattle", "US", "Building 25"),
    ("Redmond", "US", "Building 40"),
    ("Dublin", "IE", "Leopardstown 3"),
    ("Amsterdam", "NL", "Schiphol Hub"),
    ("Munich", "DE", "Parkring 2"),
    ("Singapore", "SG", "Marina One"),
    ("Sydney", "AU", "Pitt St 1"),
    ("São Paulo", "BR", "Av. Paulista 1000"),
];

const KINDS: [(&str, &str); 5] = [
    ("thermostat", "Contoso"),
    ("air-quality", "Fabrikam"),
    ("gateway", "Contoso"),
    ("cold-chain", "Northwind"),
    ("energy-meter", "Tailwind"),
];

const FIRMWARE: [&str; 4] = ["1.4.2", "1.5.0", "1.5.1", "2.0.0-rc.1"];

/// The ids of a demo fleet of `count` devices: `demo-0001` and so on.
pub fn demo_device_id(index: usize, count: usize) -> String {
    let width = count.to_string().len().max(3);
    format!("demo-{:0width$}", index + 1)
}

/// Builds `count` demo devices with their twins.
pub fn demo_devices(
    count: usize,
    now: DateTime<Utc>,
) -> Result<Vec<(DeviceIdentity, Twin)>, HubError> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..count)
        .map(|index| demo_device(&demo_device_id(index, count), &mut rng, now))
        .collect()
}

fn demo_device(
    device_id: &str,
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<(DeviceIdentity, Twin), HubError> {
    let identity = DeviceIdentity::create(device_id, &json!({}), now)?;
    let mut twin = Twin::new(device_id, now);
    let (city, country, building) = SITES[rng.random_range(0..SITES.len())];
    let (kind, maker) = KINDS[rng.random_range(0..KINDS.len())];
    let target = FIRMWARE[rng.random_range(0..FIRMWARE.len())];
    // Most devices run the desired firmware; some lag behind, which the drift view shows.
    let running = if rng.random_bool(0.8) {
        target
    } else {
        FIRMWARE[0]
    };
    let interval = [15, 30, 60, 300][rng.random_range(0..4)];
    let service_patch = json!({
        "tags": {
            "location": {"city": city, "country": country, "building": building,
                         "floor": rng.random_range(1..12)},
            "deviceType": kind,
            "manufacturer": maker,
            "environment": if rng.random_bool(0.85) { "production" } else { "staging" },
        },
        "properties": {"desired": {
            "telemetryInterval": interval,
            "firmware": {"version": target, "channel": if target.contains("rc") { "preview" } else { "stable" }},
            "thresholds": {"temperatureHigh": rng.random_range(24..32), "humidityHigh": rng.random_range(55..80)},
        }},
    });
    twin.apply_service_patch(&service_patch, now)?;
    twin.apply_reported_patch(&reported(rng, running, interval), now)?;
    Ok((identity, twin))
}

fn reported(rng: &mut StdRng, firmware: &str, interval: u32) -> Value {
    let temperature = f64::from(rng.random_range(160..290_i32)) / 10.0;
    json!({
        "firmware": {"version": firmware, "status": "current"},
        "telemetryInterval": interval,
        "sensors": {
            "temperature": temperature,
            "humidity": rng.random_range(25..75),
            "battery": rng.random_range(5..101),
        },
        "connectivity": {
            "network": if rng.random_bool(0.7) { "wifi" } else { "lte" },
            "rssi": -rng.random_range(40..95),
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn demo_fleets_are_valid_and_repeatable() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let first = demo_devices(50, now).unwrap();
        let second = demo_devices(50, now).unwrap();
        assert_eq!(first.len(), 50);
        assert_eq!(first[0].0.device_id, "demo-001");
        assert_eq!(first[49].0.device_id, "demo-050");
        for ((_, a), (_, b)) in first.iter().zip(&second) {
            assert_eq!(a.tags(), b.tags());
            assert_eq!(a.reported(), b.reported());
        }
        let twin = first[0].1.to_json();
        assert!(twin["tags"]["location"]["city"].is_string());
        assert!(twin["properties"]["desired"]["firmware"]["version"].is_string());
        assert!(twin["properties"]["reported"]["sensors"]["temperature"].is_number());
    }

    #[test]
    fn ids_are_zero_padded_to_the_fleet_size() {
        assert_eq!(demo_device_id(0, 10), "demo-001");
        assert_eq!(demo_device_id(99_999, 100_000), "demo-100000");
        assert_eq!(demo_device_id(0, 100_000), "demo-000001");
    }
}
