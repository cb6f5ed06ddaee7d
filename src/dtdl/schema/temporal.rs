//! The text forms of DTDL's temporal schemas: `date` (`YYYY-MM-DD`), `time`
//! (`hh:mm:ss[.fff]`), `dateTime` (RFC 3339) and `duration` (ISO 8601, `P1DT2H`, `PT30S`).

use chrono::{DateTime, NaiveDate, NaiveTime};

/// Whether `text` is a calendar date written `YYYY-MM-DD`.
pub(super) fn is_date(text: &str) -> bool {
    has_shape(text, "dddd-dd-dd") && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// Whether `text` is a time of day written `hh:mm:ss`, optionally with `.` and
/// fractional seconds.
pub(super) fn is_time(text: &str) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    has_shape(whole, "dd:dd:dd")
        && fraction
            .is_none_or(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        && NaiveTime::parse_from_str(whole, "%H:%M:%S").is_ok()
}

/// Whether `text` is an RFC 3339 date and time with an offset (`2024-05-01T12:00:00Z`).
pub(super) fn is_date_time(text: &str) -> bool {
    DateTime::parse_from_rfc3339(text).is_ok()
}

/// Whether `text` is an ISO 8601 duration: `P`, then any of `nY nM nW nD` in that
/// order, then optionally `T` and any of `nH nM nS`; at least one part, a `T` only
/// before a time part, and a fraction (`.` or `,`) only on the seconds.
pub(super) fn is_duration(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    match (parts(date, &['Y', 'M', 'W', 'D']), time) {
        (Some(date_parts), None) => date_parts > 0,
        (Some(_), Some(time)) => parts(time, &['H', 'M', 'S']).is_some_and(|count| count > 0),
        (None, _) => false,
    }
}

/// How many `<number><designator>` parts `text` holds, designators in the order of
/// `designators`; `None` if it holds anything else.
fn parts(text: &str, designators: &[char]) -> Option<usize> {
    let mut rest = text;
    let mut allowed = designators;
    let mut count = 0;
    while !rest.is_empty() {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))?;
        let designator = rest[end..].chars().next()?;
        let position = allowed.iter().position(|allowed| *allowed == designator)?;
        if !is_number(&rest[..end], designator == 'S') {
            return None;
        }
        allowed = &allowed[position + 1..];
        rest = &rest[end + designator.len_utf8()..];
        count += 1;
    }
    Some(count)
}

fn is_number(text: &str, fraction_allowed: bool) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match text.split_once(['.', ',']) {
        Some((whole, fraction)) => fraction_allowed && digits(whole) && digits(fraction),
        None => digits(text),
    }
}

/// Whether `text` has the shape of `pattern`, where `d` stands for any ASCII digit.
fn has_shape(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(b, p)| match p {
            b'd' => b.is_ascii_digit(),
            _ => b == p,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2024-2-9"));
        assert!(!is_date("+2024-02-01"));
        assert!(!is_date("2024-02-01T00:00:00Z"));
    }

    #[test]
    fn times() {
        assert!(is_time("23:59:59"));
        assert!(is_time("00:00:00.125"));
        assert!(!is_time("24:00:00"));
        assert!(!is_time("1:00:00"));
        assert!(!is_time("10:00"));
        assert!(!is_time("10:00:00."));
        assert!(!is_time("10:00:00Z"));
    }

    #[test]
    fn date_times() {
        assert!(is_date_time("2024-05-01T12:00:00Z"));
        assert!(is_date_time("2024-05-01T12:00:00.5+02:00"));
        assert!(!is_date_time("2024-05-01T12:00:00"));
        assert!(!is_date_time("2024-05-01"));
    }

    #[test]
    fn durations() {
        for good in [
            "P1DT2H",
            "PT30S",
            "P1Y2M3DT4H5M6.5S",
            "P2W",
            "PT0S",
            "P1M",
            "PT1M",
        ] {
            assert!(is_duration(good), "{good}");
        }
        for bad in [
            "", "P", "PT", "P1DT", "1D", "P1H", "PT1D", "P1.5D", "P1D2Y", "PTS", "P-1D", "pt1s",
        ] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
