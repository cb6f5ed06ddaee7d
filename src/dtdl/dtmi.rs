//! Digital Twin Model Identifiers (`dtmi:com:example:Thermostat;1`) and DTDL names:
//! their syntax, checked by hand (one DTMI path segment and one name follow the same rule).

/// The longest DTMI an Interface may have.
pub const MAX_INTERFACE_DTMI_LENGTH: usize = 128;

/// The longest DTMI of any other element.
pub const MAX_DTMI_LENGTH: usize = 2048;

/// Whether `text` is a DTMI of at most [`MAX_DTMI_LENGTH`] characters:
/// `dtmi:` then `:`-separated segments (a letter, then letters, digits or `_`, not
/// ending in `_`), then optionally `;` and a version (1 to 999999999, optionally `.`
/// and a minor version 1 to 999999). DTMIs compare case-sensitively.
pub fn is_valid_dtmi(text: &str) -> bool {
    if text.len() > MAX_DTMI_LENGTH {
        return false;
    }
    let Some(rest) = text.strip_prefix("dtmi:") else {
        return false;
    };
    let (path, version) = match rest.split_once(';') {
        Some((path, version)) => (path, Some(version)),
        None => (rest, None),
    };
    path.split(':').all(is_segment) && version.is_none_or(is_version)
}

/// Whether `text` is a valid DTMI for an Interface (a device's model id): as
/// [`is_valid_dtmi`], at most [`MAX_INTERFACE_DTMI_LENGTH`] characters.
pub fn is_valid_interface_dtmi(text: &str) -> bool {
    text.len() <= MAX_INTERFACE_DTMI_LENGTH && is_valid_dtmi(text)
}

/// Whether `name` is a valid DTDL name of at most `max_length` characters: letters,
/// digits and `_`, starting with a letter and not ending with `_`.
pub fn is_valid_name(name: &str, max_length: usize) -> bool {
    name.len() <= max_length && is_segment(name)
}

fn is_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphabetic()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        _ => false,
    }
}

fn is_version(version: &str) -> bool {
    let (major, minor) = match version.split_once('.') {
        Some((major, minor)) => (major, Some(minor)),
        None => (version, None),
    };
    is_version_number(major, 9) && minor.is_none_or(|minor| is_version_number(minor, 6))
}

fn is_version_number(number: &str, max_digits: usize) -> bool {
    (1..=max_digits).contains(&number.len())
        && !number.starts_with('0')
        && number.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dtmis() {
        for dtmi in [
            "dtmi:com:example:Thermostat;1",
            "dtmi:azure:DeviceManagement:DeviceInformation;1",
            "dtmi:a",
            "dtmi:a_b:C9;123456789",
            "dtmi:com:example:X;2.15",
        ] {
            assert!(is_valid_dtmi(dtmi), "{dtmi}");
        }
    }

    #[test]
    fn refuses_malformed_dtmis() {
        for dtmi in [
            "",
            "dtmi:",
            "DTMI:com:x;1",
            "dtmi:com::x;1",
            "dtmi:com:x_;1",
            "dtmi:com:_x;1",
            "dtmi:com:9x;1",
            "dtmi:com:x;0",
            "dtmi:com:x;01",
            "dtmi:com:x;1234567890",
            "dtmi:com:x;1.0",
            "dtmi:com:x;1.1234567",
            "dtmi:com:x;",
            "dtmi:com:x-y;1",
            "dtmi:com:x;1;2",
        ] {
            assert!(!is_valid_dtmi(dtmi), "{dtmi}");
        }
    }

    #[test]
    fn interface_dtmis_have_a_length_limit() {
        let long = format!("dtmi:{};1", "a".repeat(130));
        assert!(is_valid_dtmi(&long));
        assert!(!is_valid_interface_dtmi(&long));
        assert!(is_valid_interface_dtmi("dtmi:com:example:Thermostat;1"));
    }

    #[test]
    fn names_follow_the_segment_rule() {
        assert!(is_valid_name("targetTemperature", 64));
        assert!(is_valid_name("a_1", 64));
        assert!(!is_valid_name("1a", 64));
        assert!(!is_valid_name("a_", 64));
        assert!(!is_valid_name("a b", 64));
        assert!(!is_valid_name("", 64));
        assert!(!is_valid_name(&"a".repeat(65), 64));
    }
}
