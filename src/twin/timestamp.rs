//! IoT Hub's timestamp text: UTC with exactly seven fractional digits
//! (`2017-03-09T18:30:52.3167248Z`, .NET tick precision), and the "never happened"
//! value `0001-01-01T00:00:00Z`. Owns formatting and lenient parsing only; callers pass
//! the clock reading in.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

/// What IoT Hub prints for a time that was never set (`statusUpdateTime`,
/// `lastActivityTime` of a device that never connected).
pub const UNSET_TIMESTAMP: &str = "0001-01-01T00:00:00Z";

/// Formats `instant` the way IoT Hub does: UTC, seven fractional digits, `Z` suffix,
/// so our documents are byte-for-byte comparable with a real hub's.
pub fn format_timestamp(instant: DateTime<Utc>) -> String {
    // A leap second is carried as nanoseconds >= 1e9; fold it into the last tick.
    let ticks = instant.nanosecond().min(999_999_999) / 100;
    let (date, time) = (instant.date_naive(), instant.time());
    let leap_second = instant.nanosecond() >= 1_000_000_000;
    if leap_second || !(0..=9999).contains(&date.year()) {
        return format!("{}.{ticks:07}Z", instant.format("%Y-%m-%dT%H:%M:%S"));
    }
    // Every twin write prints a time per changed property: written out by hand, as
    // chrono's general formatter costs several times more.
    let mut text = String::with_capacity(28);
    let mut digits = |value: u32, width: u32, after: Option<char>| {
        for place in (0..width).rev() {
            let digit = value / 10u32.pow(place) % 10;
            text.push(char::from(b'0' + digit as u8));
        }
        if let Some(separator) = after {
            text.push(separator);
        }
    };
    digits(date.year().unsigned_abs(), 4, Some('-'));
    digits(date.month(), 2, Some('-'));
    digits(date.day(), 2, Some('T'));
    digits(time.hour(), 2, Some(':'));
    digits(time.minute(), 2, Some(':'));
    digits(time.second(), 2, Some('.'));
    digits(ticks, 7, Some('Z'));
    text
}

/// Formats an optional time, printing [`UNSET_TIMESTAMP`] for `None`.
pub fn format_optional_timestamp(instant: Option<DateTime<Utc>>) -> String {
    instant.map_or_else(|| UNSET_TIMESTAMP.to_owned(), format_timestamp)
}

/// Parses the timestamps IoT Hub and its documentation use: RFC 3339 with any number of
/// fractional digits, or the same without a zone (`0001-01-01T00:00:00`, read as UTC).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|naive| naive.and_utc())
        })
}

/// Parses an optional time: `Some(None)` for the unset value (year 1, midnight),
/// `Some(Some(t))` for a real time, `None` when the text is not a timestamp at all.
pub fn parse_optional_timestamp(text: &str) -> Option<Option<DateTime<Utc>>> {
    let instant = parse_timestamp(text)?;
    let unset = parse_timestamp(UNSET_TIMESTAMP)?;
    Some((instant != unset).then_some(instant))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    proptest::proptest! {
        #[test]
        fn prints_what_the_general_formatter_prints(
            seconds in -62_135_596_800i64..253_402_300_800,
            nanos in 0u32..2_000_000_000,
        ) {
            if let Some(instant) = DateTime::from_timestamp(seconds, nanos) {
                let ticks = instant.nanosecond().min(999_999_999) / 100;
                let general = format!("{}.{ticks:07}Z", instant.format("%Y-%m-%dT%H:%M:%S"));
                proptest::prop_assert_eq!(format_timestamp(instant), general);
            }
        }
    }

    #[test]
    fn formats_seven_fractional_digits() {
        let instant = Utc.with_ymd_and_hms(2017, 3, 9, 18, 30, 52).unwrap()
            + chrono::Duration::nanoseconds(316_724_899);
        assert_eq!(format_timestamp(instant), "2017-03-09T18:30:52.3167248Z");
    }

    #[test]
    fn formats_whole_seconds_with_zero_digits() {
        let instant = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_timestamp(instant), "2024-01-02T03:04:05.0000000Z");
    }

    #[test]
    fn year_one_keeps_four_digits() {
        let instant = parse_timestamp(UNSET_TIMESTAMP).unwrap();
        assert_eq!(format_timestamp(instant), "0001-01-01T00:00:00.0000000Z");
    }

    #[test]
    fn unset_round_trips_as_none() {
        assert_eq!(format_optional_timestamp(None), UNSET_TIMESTAMP);
        assert_eq!(parse_optional_timestamp(UNSET_TIMESTAMP), Some(None));
        assert_eq!(parse_optional_timestamp("0001-01-01T00:00:00"), Some(None));
    }

    #[test]
    fn parses_what_it_formats() {
        let text = "2017-03-09T18:30:52.3167248Z";
        let instant = parse_timestamp(text).unwrap();
        assert_eq!(format_timestamp(instant), text);
        assert_eq!(parse_optional_timestamp(text), Some(Some(instant)));
    }

    #[test]
    fn parses_documentation_variants() {
        let expected = Utc.with_ymd_and_hms(2016, 3, 30, 16, 24, 48).unwrap()
            + chrono::Duration::milliseconds(789);
        assert_eq!(parse_timestamp("2016-03-30T16:24:48.789Z"), Some(expected));
        assert_eq!(
            parse_timestamp("2016-03-30T16:24:48.789+00:00"),
            Some(expected)
        );
        assert_eq!(parse_timestamp("2016-03-30T16:24:48.789"), Some(expected));
    }

    #[test]
    fn rejects_non_timestamps() {
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_optional_timestamp(""), None);
    }
}
