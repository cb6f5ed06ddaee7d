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

/// A demo fleet of `count` devices, all written at one time. Device `i` is the same
/// every time, so a fleet can be built in any order or on several threads.
pub struct DemoFleet {
    count: usize,
    now: DateTime<Utc>,
    /// The twin of the first device as the twin model builds it. Every demo twin has
    /// the same members in the same order, written at the same time in the same two
    /// writes, so they differ from it only in their id and property values: a device's
    /// twin is this one with those replaced, several times cheaper than running the
    /// twin model for every device (a test checks that the two agree).
    shape: Value,
}

/// What one demo device is made of: its id and the two writes that give its twin.
struct DemoWrites {
    device_id: String,
    service_patch: Value,
    reported_patch: Value,
}

impl DemoFleet {
    /// Prepares a fleet of `count` devices written at `now`.
    pub fn new(count: usize, now: DateTime<Utc>) -> Result<Self, HubError> {
        let shape = DemoWrites::of(0, count).modelled_twin(now)?.to_json();
        Ok(Self { count, now, shape })
    }

    /// Device `index`: its identity and its twin in the service JSON shape.
    pub fn device(&self, index: usize) -> Result<(DeviceIdentity, Value), HubError> {
        let mut writes = DemoWrites::of(index, self.count);
        let identity = DeviceIdentity::create(&writes.device_id, &json!({}), self.now)?;
        let mut twin = self.shape.clone();
        twin["deviceId"] = Value::from(writes.device_id);
        twin["tags"] = writes.service_patch["tags"].take();
        let sections = [
            ("desired", &writes.service_patch["properties"]["desired"]),
            ("reported", &writes.reported_patch),
        ];
        for (section, values) in sections {
            let members = values.as_object().into_iter().flatten();
            for (name, value) in members {
                twin["properties"][section][name] = value.clone();
            }
        }
        Ok((identity, twin))
    }
}

impl DemoWrites {
    /// The writes of device `index` of a fleet of `count`.
    fn of(index: usize, count: usize) -> Self {
        let rng = &mut StdRng::seed_from_u64(SEED.wrapping_add(index as u64));
        let (city, country, building) = SITES[rng.random_range(0..SITES.len())];
        let (kind, maker) = KINDS[rng.random_range(0..KINDS.len())];
        let target = FIRMWARE[rng.random_range(0..FIRMWARE.len())];
        // Most devices run the desired firmware; some lag behind, which the drift view
        // shows.
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
        Self {
            device_id: demo_device_id(index, count),
            service_patch,
            reported_patch: reported(rng, running, interval),
        }
    }

    /// The device's twin built by the twin model from these writes at `now`, as any
    /// write builds twins.
    fn modelled_twin(&self, now: DateTime<Utc>) -> Result<Twin, HubError> {
        let mut twin = Twin::new(&self.device_id, now);
        twin.apply_service_patch(&self.service_patch, now)?;
        twin.apply_reported_patch(&self.reported_patch, now)?;
        Ok(twin)
    }
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

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 123_456_700).unwrap()
    }

    #[test]
    fn demo_fleets_are_valid_and_repeatable() {
        let fleet = DemoFleet::new(50, now()).unwrap();
        let build = || -> Vec<_> { (0..50).map(|i| fleet.device(i).unwrap()).collect() };
        let (first, second) = (build(), build());
        assert_eq!(first[0].0.device_id, "demo-001");
        assert_eq!(first[49].0.device_id, "demo-050");
        for ((_, a), (_, b)) in first.iter().zip(&second) {
            assert_eq!(a, b);
        }
        let cities: std::collections::HashSet<String> = first
            .iter()
            .map(|(_, twin)| twin["tags"]["location"]["city"].to_string())
            .collect();
        assert!(cities.len() > 3, "devices differ: {cities:?}");
        let twin = &first[0].1;
        assert!(twin["tags"]["location"]["city"].is_string());
        assert!(twin["properties"]["desired"]["firmware"]["version"].is_string());
        assert!(twin["properties"]["reported"]["sensors"]["temperature"].is_number());
    }

    #[test]
    fn demo_twins_are_what_the_twin_model_builds() {
        let fleet = DemoFleet::new(1000, now()).unwrap();
        for index in 0..1000 {
            let (_, twin) = fleet.device(index).unwrap();
            let modelled = DemoWrites::of(index, 1000)
                .modelled_twin(now())
                .unwrap()
                .to_json();
            assert_eq!(twin.to_string(), modelled.to_string(), "device {index}");
        }
    }

    #[test]
    fn ids_are_zero_padded_to_the_fleet_size() {
        assert_eq!(demo_device_id(0, 10), "demo-001");
        assert_eq!(demo_device_id(99_999, 100_000), "demo-100000");
        assert_eq!(demo_device_id(0, 100_000), "demo-000001");
    }
}
