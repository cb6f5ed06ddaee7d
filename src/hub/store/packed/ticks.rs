//! IoT Hub timestamps as numbers. Twins carry a 28-byte time for every property
//! (`2026-03-04T05:06:07.1234567Z` in `$metadata`); packed documents keep it as the count
//! of 100 ns ticks since `0001-01-01T00:00:00Z` and print it back exactly. Only text that
//! prints back byte for byte is converted; anything else stays text.

use chrono::{DateTime, Datelike, NaiveDate};

use crate::twin::format_timestamp;

/// Ticks in a second.
const TICKS_PER_SECOND: u64 = 10_000_000;
const SECONDS_PER_DAY: u64 = 86_400;

/// The length of `YYYY-MM-DDTHH:MM:SS.fffffffZ`.
pub const TIMESTAMP_BYTES: usize = 28;

/// The ticks of `text` when it is a timestamp in exactly IoT Hub's form.
pub fn parse(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() != TIMESTAMP_BYTES {
        return None;
    }
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    let punctuation_ok = separators
        .iter()
        .chain(&[(19, b'.'), (27, b'Z')])
        .all(|&(at, expected)| bytes.get(at) == Some(&expected));
    if !punctuation_ok {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u64> {
        bytes.get(from..to)?.iter().try_fold(0u64, |total, &byte| {
            byte.is_ascii_digit()
                .then(|| total * 10 + u64::from(byte - b'0'))
        })
    };
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(
        year,
        u32::try_from(number(5, 7)?).ok()?,
        u32::try_from(number(8, 10)?).ok()?,
    )?;
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if year < 1 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = u64::try_from(date.num_days_from_ce() - 1).ok()?;
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    Some(seconds * TICKS_PER_SECOND + number(20, 27)?)
}

/// Seconds from `0001-01-01T00:00:00Z` to the Unix epoch.
const SECONDS_BEFORE_UNIX_EPOCH: u64 = 62_135_596_800;

/// The ticks of `9999-12-31T23:59:59.9999999Z`, the last time IoT Hub prints.
pub const MAX_TICKS: u64 = 3_155_378_975_999_999_999;

/// Prints ticks as IoT Hub does; `None` past the year 9999.
pub fn format(ticks: u64) -> Option<String> {
    if ticks > MAX_TICKS {
        return None;
    }
    let seconds = i64::try_from(ticks / TICKS_PER_SECOND).ok()?;
    let nanos = u32::try_from(ticks % TICKS_PER_SECOND).ok()? * 100;
    let unix_seconds = seconds - SECONDS_BEFORE_UNIX_EPOCH as i64;
    DateTime::from_timestamp(unix_seconds, nanos).map(format_timestamp)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hub_timestamps_round_trip() {
        for text in [
            "0001-01-01T00:00:00.0000000Z",
            "2026-03-04T05:06:07.1234567Z",
            "2024-02-29T23:59:59.9999999Z",
            "9999-12-31T23:59:59.9999999Z",
        ] {
            let ticks = parse(text).unwrap();
            assert_eq!(format(ticks).unwrap(), text);
        }
        assert_eq!(parse("9999-12-31T23:59:59.9999999Z"), Some(MAX_TICKS));
        assert_eq!(format(MAX_TICKS + 1), None);
    }

    #[test]
    fn other_text_stays_text() {
        for text in [
            "0001-01-01T00:00:00Z",
            "2026-03-04T05:06:07Z",
            "2026-03-04T05:06:07.123456Z",
            "2026-02-30T05:06:07.1234567Z",
            "2026-03-04T24:06:07.1234567Z",
            "2026-03-04T05:06:60.1234567Z",
            "2026-03-04 05:06:07.1234567Z",
            "0000-03-04T05:06:07.1234567Z",
            "2026-03-04T05:06:07.123456ZZ",
            "2026-03-04T05:06:07.1234567+",
            "+026-03-04T05:06:07.1234567Z",
            "2026-03-04T05:06:07.12345é7Z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn every_formatted_hub_time_round_trips(seconds in 0i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let instant = DateTime::from_timestamp(seconds - 62_135_596_800, nanos).unwrap();
            let text = format_timestamp(instant);
            let ticks = parse(&text).unwrap();
            prop_assert_eq!(format(ticks).unwrap(), text);
        }

        #[test]
        fn parse_accepts_only_what_prints_back(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{7}Z") {
            if let Some(ticks) = parse(&text) {
                prop_assert_eq!(format(ticks).unwrap(), text);
            }
        }
    }
}
