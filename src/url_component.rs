//! Percent-encoding of one URL component as the Azure SDKs write it: everything but
//! RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped, with upper-case
//! hex, as Python's `urllib.parse.quote(value, safe="")` does. SAS token fields, MQTT
//! message properties and username parameters, and service API path segments all use
//! it.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What is escaped: everything but RFC 3986's unreserved characters.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` with everything but the unreserved characters percent-encoded.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(
            encode("$.ct=application/json"),
            "%24.ct%3Dapplication%2Fjson"
        );
        assert_eq!(encode("a b#?%é"), "a%20b%23%3F%25%C3%A9");
    }
}
