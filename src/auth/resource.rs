//! SAS resource URIs: how a resource is written into a token, and which resources a token's
//! resource grants. Signing and verifying both go through here so they agree.

use std::str::Utf8Error;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// What .NET's `WebUtility.UrlEncode` escapes (everything except `A-Z a-z 0-9 - _ . ! * ( )`).
/// The C# device SDK runs device and module ids through it before it encodes the whole
/// resource, so its `sr` decodes to `{host}/devices/{escaped id}`.
const DOTNET_URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'*')
    .remove(b'(')
    .remove(b')');

/// The resource a device (or one of its modules) signs for: `{host}/devices/{deviceId}`
/// or `{host}/devices/{deviceId}/modules/{moduleId}`. Clients sign it and the hub lists it
/// among the allowed resources, so both must build it here.
pub fn device_resource(host_name: &str, device_id: &str, module_id: Option<&str>) -> String {
    match module_id {
        Some(module_id) => format!("{host_name}/devices/{device_id}/modules/{module_id}"),
        None => format!("{host_name}/devices/{device_id}"),
    }
}

/// URL-encodes one token field value (`sr`, `sig`, `skn`) the way the Python SDKs do.
pub(super) fn encode_component(value: &str) -> String {
    crate::url_component::encode(value)
}

/// Decodes `%XX` escapes in a token field value. A `+` stays a `+`: device ids may contain
/// `+` but never a space, and base64 signatures use `+` literally.
pub(super) fn decode_component(value: &str) -> Result<String, Utf8Error> {
    percent_decode_str(value)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
}

/// Whether a token for `granted` may access `accessed`: same host (ASCII case-insensitive,
/// as DNS names are) and `granted`'s path is a whole-segment prefix of `accessed`'s path.
/// So a hub-scoped token (`host`) covers every device, and a device-scoped one
/// (`host/devices/d1`) covers that device and its modules but not `host/devices/d10`.
/// Trailing slashes do not matter.
pub(super) fn covers(granted: &str, accessed: &str) -> bool {
    let (granted_host, granted_path) = split_host(granted);
    let (accessed_host, accessed_path) = split_host(accessed);
    if !granted_host.eq_ignore_ascii_case(accessed_host) {
        return false;
    }
    let mut accessed_segments = accessed_path.into_iter().flat_map(|path| path.split('/'));
    granted_path
        .into_iter()
        .flat_map(|path| path.split('/'))
        .all(|granted_segment| {
            accessed_segments
                .next()
                .is_some_and(|accessed_segment| segment_matches(granted_segment, accessed_segment))
        })
}

/// Splits `host/path` into the host and the path (without its leading `/`), ignoring
/// trailing slashes.
fn split_host(resource: &str) -> (&str, Option<&str>) {
    match resource.trim_end_matches('/').split_once('/') {
        Some((host, path)) => (host, Some(path)),
        None => (resource.trim_end_matches('/'), None),
    }
}

/// A path segment of a token's resource matches an accessed segment when it is the same
/// text, or the accessed segment as the C# SDK escapes ids (escape hex in either case).
fn segment_matches(granted: &str, accessed: &str) -> bool {
    granted == accessed
        || (granted.contains('%')
            && uppercase_escapes(granted)
                == utf8_percent_encode(accessed, DOTNET_URL_ENCODE).to_string())
}

/// Upper-cases the two characters after each `%`, so `%3a` and `%3A` compare equal.
fn uppercase_escapes(segment: &str) -> String {
    let mut normalised = String::with_capacity(segment.len());
    let mut escape_digits_left = 0;
    for character in segment.chars() {
        if escape_digits_left > 0 {
            normalised.push(character.to_ascii_uppercase());
            escape_digits_left -= 1;
        } else {
            if character == '%' {
                escape_digits_left = 2;
            }
            normalised.push(character);
        }
    }
    normalised
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn device_and_module_resources() {
        assert_eq!(device_resource("h.net", "d1", None), "h.net/devices/d1");
        assert_eq!(
            device_resource("h.net", "d1", Some("m1")),
            "h.net/devices/d1/modules/m1"
        );
    }

    #[test]
    fn encodes_like_python_quote_with_no_safe_characters() {
        assert_eq!(
            encode_component("my-hub.azure-devices.net/devices/a b:c+d~e*f"),
            "my-hub.azure-devices.net%2Fdevices%2Fa%20b%3Ac%2Bd~e%2Af"
        );
        assert_eq!(encode_component("localhost:8443"), "localhost%3A8443");
        assert_eq!(encode_component("é"), "%C3%A9");
    }

    #[test]
    fn decodes_escapes_in_any_case_and_keeps_plus() {
        assert_eq!(
            decode_component("h%2fdevices%2Fa%2b+b").unwrap(),
            "h/devices/a++b"
        );
        assert_eq!(decode_component("100%").unwrap(), "100%");
        assert!(decode_component("%ff").is_err());
    }

    #[test]
    fn hub_scope_covers_everything_on_that_host() {
        assert!(covers("h.net", "h.net"));
        assert!(covers("h.net", "h.net/devices/d1"));
        assert!(covers("H.NET/", "h.net/devices/d1/modules/m1"));
        assert!(!covers("h.net", "other.net/devices/d1"));
        assert!(!covers("h.net", "h.net.evil/devices/d1"));
        assert!(!covers("localhost", "localhost:8443"));
    }

    #[test]
    fn device_scope_covers_only_that_device() {
        assert!(covers("h.net/devices/d1", "h.net/devices/d1"));
        assert!(covers("h.net/devices/d1/", "h.net/devices/d1/modules/m1"));
        assert!(covers("Localhost/devices/d1", "localhost/devices/d1"));
        assert!(!covers("h.net/devices/d1", "h.net/devices/d10"));
        assert!(!covers("h.net/devices/d1", "h.net/devices/D1"));
        assert!(!covers("h.net/devices/d1", "h.net"));
        assert!(!covers("h.net/devices/d1/modules/m1", "h.net/devices/d1"));
    }

    #[test]
    fn accepts_ids_escaped_by_the_csharp_sdk() {
        assert!(covers("h.net/devices/a%3Ab", "h.net/devices/a:b"));
        assert!(covers("h.net/devices/a%3ab%23", "h.net/devices/a:b#"));
        assert!(covers(
            "h.net/devices/a%2Bb/modules/m%40",
            "h.net/devices/a+b/modules/m@"
        ));
        assert!(covers("h.net/devices/a(b)", "h.net/devices/a(b)"));
    }

    #[test]
    fn escapes_never_stand_for_unescaped_characters() {
        // The C# SDK never escapes letters, so `a%41` is device `a%41`, not device `aA`.
        assert!(!covers("h.net/devices/a%41", "h.net/devices/aA"));
        assert!(covers("h.net/devices/a%41", "h.net/devices/a%41"));
        assert!(!covers("h.net/devices/a%2Fb", "h.net/devices/a/b"));
    }
}
