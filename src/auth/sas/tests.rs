//! Tests of SAS signing, parsing and verification, including tokens as each Azure SDK
//! encodes them.

use proptest::prelude::*;

use super::*;

/// The 32 bytes 0x00..=0x1f.
const DEVICE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The ASCII bytes of `service-policy-key-0123456789abcdef`.
const POLICY_KEY: &str = "c2VydmljZS1wb2xpY3kta2V5LTAxMjM0NTY3ODlhYmNkZWY=";
/// 100 bytes `(7 * i + 3) mod 256`: longer than SHA-256's 64-byte block, so HMAC hashes it.
const LONG_KEY: &str = "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuA==";

const DEVICE_RESOURCE: &str = "my-hub.azure-devices.net/devices/device-1";
const EXPIRY: u64 = 1_700_000_000;

fn key(base64: &str) -> SharedAccessKey {
    SharedAccessKey::from_base64(base64).unwrap()
}

// Known answers. Each expected token was computed independently of this code with the
// documented algorithm: `sr` = the resource URL-encoded with only `A-Z a-z 0-9 - . _ ~` left
// as they are (upper-case hex, as Python's `urllib.parse.quote(resource, safe="")`); string
// to sign = `sr` + "\n" + `se`; `sig` = base64(HMAC-SHA256(base64-decoded key, string to
// sign)), URL-encoded the same way; `&skn={policy}` appended for policy tokens.

#[test]
fn known_answer_device_token() {
    let token = SasToken::sign(DEVICE_RESOURCE, &key(DEVICE_KEY), None, EXPIRY);
    assert_eq!(
        token.to_string(),
        "SharedAccessSignature sr=my-hub.azure-devices.net%2Fdevices%2Fdevice-1&sig=ZE0ZnKR44kIL1%2FL%2B50t9cwdDh0%2B2J5LKqZMHDUvYXSc%3D&se=1700000000"
    );
    assert_eq!(
        token.signature_base64(),
        "ZE0ZnKR44kIL1/L+50t9cwdDh0+2J5LKqZMHDUvYXSc="
    );
}

#[test]
fn known_answer_service_token() {
    let token = SasToken::sign(
        "my-hub.azure-devices.net",
        &key(POLICY_KEY),
        Some("iothubowner"),
        1_893_456_000,
    );
    assert_eq!(
        token.to_string(),
        "SharedAccessSignature sr=my-hub.azure-devices.net&sig=JwgAKBxHKF2a78DNdbEavaj8%2Bq2saxNQbejust%2FxW4U%3D&se=1893456000&skn=iothubowner"
    );
}

#[test]
fn known_answer_host_with_port() {
    let token = SasToken::sign(
        "localhost:8443",
        &key(POLICY_KEY),
        Some("iothubowner"),
        1_893_456_000,
    );
    assert_eq!(
        token.to_string(),
        "SharedAccessSignature sr=localhost%3A8443&sig=aQSWUB2efhUdiGKpR5t1Ne%2BbsiJ4BQDI7WRvPkJOEYc%3D&se=1893456000&skn=iothubowner"
    );
}

#[test]
fn known_answer_module_token() {
    let token = SasToken::sign(
        "localhost/devices/dev1/modules/mod-a",
        &key(DEVICE_KEY),
        None,
        1_700_003_600,
    );
    assert_eq!(
        token.to_string(),
        "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1%2Fmodules%2Fmod-a&sig=BDbHi2m1jdCurNC9yV6LmURfhGnBaSeE6mYdwBm4g%2B0%3D&se=1700003600"
    );
}

#[test]
fn known_answer_key_longer_than_a_hash_block() {
    let token = SasToken::sign(DEVICE_RESOURCE, &key(LONG_KEY), None, EXPIRY);
    assert_eq!(
        token.to_string(),
        "SharedAccessSignature sr=my-hub.azure-devices.net%2Fdevices%2Fdevice-1&sig=s4R5fyZ6arTfDR89uVIeLcJ%2FKtWVs%2BSJHlUs4IxDgiE%3D&se=1700000000"
    );
}

#[test]
fn known_answer_device_id_with_punctuation() {
    let resource = "my-hub.azure-devices.net/devices/dev:1+x";
    let token = SasToken::sign(resource, &key(DEVICE_KEY), None, EXPIRY);
    assert_eq!(
        token.to_string(),
        "SharedAccessSignature sr=my-hub.azure-devices.net%2Fdevices%2Fdev%3A1%2Bx&sig=huLNrIv7LGjDtmZEdogR0xLFHK%2Bge80HB4puWtC%2F8QI%3D&se=1700000000"
    );
    let parsed = SasToken::parse(&token.to_string()).unwrap();
    assert_eq!(parsed.resource(), resource);
    assert_eq!(parsed.verify(&key(DEVICE_KEY), EXPIRY, &[resource]), Ok(()));
}

// Tokens as other SDKs encode them, computed independently with each SDK's documented
// encoder; all signed with DEVICE_KEY and verified over `sr` exactly as it appears.

/// Node (`encodeUriComponentStrict`): `encodeURIComponent`, then `! ' ( ) *` as lower-case
/// escapes, so device `a*b` becomes `a%2ab`.
const NODE_TOKEN: &str = "SharedAccessSignature sr=my-hub.azure-devices.net%2Fdevices%2Fa%2ab&sig=6RTD2KojusNrsa9iDHlBA723Jjg2Is1b1lj%2FtKY6mTg%3D&se=1700000000";
/// C SDK over MQTT: `sr` not encoded at all; `sig` escaped with lower-case hex.
const C_TOKEN: &str = "SharedAccessSignature sr=my-hub.azure-devices.net/devices/dev1&sig=7BHJLa6HyX6tN4jdKmI9fkEnpvk2XTtgo%2b7bWj%2fh0YE%3d&se=1700000000";
/// C#: `WebUtility.UrlEncode` of `{host}/devices/{WebUtility.UrlEncode(id)}`, device `a:b`.
const CSHARP_TOKEN: &str = "SharedAccessSignature sr=my-hub.azure-devices.net%2Fdevices%2Fa%253Ab&sig=XF2nXHS2lpjvuoZE5kqs9tc81zhHU8ANXkn%2BxxDx25w%3D&se=1700000000";
/// Java: fields in the order `sig`, `se`, `sr`; `URLEncoder.encode`.
const JAVA_TOKEN: &str = "SharedAccessSignature sig=ZE0ZnKR44kIL1%2FL%2B50t9cwdDh0%2B2J5LKqZMHDUvYXSc%3D&se=1700000000&sr=my-hub.azure-devices.net%2Fdevices%2Fdevice-1";

#[test]
fn verifies_tokens_encoded_by_every_sdk() {
    let cases = [
        (
            NODE_TOKEN,
            "my-hub.azure-devices.net/devices/a*b",
            "my-hub.azure-devices.net/devices/a*b",
        ),
        (
            C_TOKEN,
            "my-hub.azure-devices.net/devices/dev1",
            "my-hub.azure-devices.net/devices/dev1",
        ),
        (
            CSHARP_TOKEN,
            "my-hub.azure-devices.net/devices/a%3Ab",
            "my-hub.azure-devices.net/devices/a:b",
        ),
        (JAVA_TOKEN, DEVICE_RESOURCE, DEVICE_RESOURCE),
    ];
    for (text, resource, accessed) in cases {
        let token = SasToken::parse(text).unwrap();
        assert_eq!(token.resource(), resource, "{text}");
        assert_eq!(token.expiry(), EXPIRY);
        assert_eq!(
            token.verify(&key(DEVICE_KEY), EXPIRY, &[accessed]),
            Ok(()),
            "{text}"
        );
        let again = SasToken::parse(&token.to_string()).unwrap();
        assert_eq!(
            again.verify(&key(DEVICE_KEY), EXPIRY, &[accessed]),
            Ok(()),
            "{text}"
        );
    }
}

#[test]
fn round_trip_sign_display_parse_verify() {
    let token = SasToken::sign(DEVICE_RESOURCE, &key(DEVICE_KEY), None, EXPIRY);
    let parsed: SasToken = token.to_string().parse().unwrap();
    assert_eq!(parsed, token);
    assert_eq!(parsed.key_name(), None);
    assert_eq!(
        parsed.verify(&key(DEVICE_KEY), EXPIRY - 60, &[DEVICE_RESOURCE]),
        Ok(())
    );

    let service = SasToken::sign("localhost:8443", &key(POLICY_KEY), Some("service"), EXPIRY);
    let parsed = SasToken::parse(&service.to_string()).unwrap();
    assert_eq!(parsed.key_name(), Some("service"));
    assert_eq!(parsed.resource(), "localhost:8443");
    assert_eq!(
        parsed.verify(&key(POLICY_KEY), EXPIRY, &["localhost:8443"]),
        Ok(())
    );
}

#[test]
fn expired_token_is_rejected_after_the_skew_allowance() {
    let token = SasToken::sign(DEVICE_RESOURCE, &key(DEVICE_KEY), None, EXPIRY);
    let last_second = EXPIRY + CLOCK_SKEW_ALLOWANCE_SECS;
    assert_eq!(
        token.verify(&key(DEVICE_KEY), last_second, &[DEVICE_RESOURCE]),
        Ok(())
    );
    let error = token
        .verify(&key(DEVICE_KEY), last_second + 1, &[DEVICE_RESOURCE])
        .unwrap_err();
    assert_eq!(
        error,
        AuthError::Expired {
            resource: DEVICE_RESOURCE.to_owned(),
            expiry: EXPIRY,
            now: last_second + 1
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("1700000000") && message.contains("1700000301"),
        "{message}"
    );
}

#[test]
fn token_signed_with_another_key_is_rejected() {
    let token = SasToken::sign(DEVICE_RESOURCE, &key(POLICY_KEY), None, EXPIRY);
    let error = token
        .verify(&key(DEVICE_KEY), EXPIRY, &[DEVICE_RESOURCE])
        .unwrap_err();
    assert_eq!(
        error,
        AuthError::BadSignature {
            resource: DEVICE_RESOURCE.to_owned()
        }
    );
    assert!(!error.to_string().contains(&token.signature_base64()));
}

#[test]
fn token_for_another_device_is_rejected() {
    let token = SasToken::sign("localhost/devices/d2", &key(DEVICE_KEY), None, EXPIRY);
    let allowed = ["localhost/devices/d1", "localhost:8443/devices/d1"];
    let error = token
        .verify(&key(DEVICE_KEY), EXPIRY, &allowed)
        .unwrap_err();
    assert_eq!(
        error,
        AuthError::ResourceNotCovered {
            resource: "localhost/devices/d2".to_owned(),
            allowed: allowed.map(str::to_owned).to_vec(),
        }
    );
    let message = error.to_string();
    assert!(message.contains("`localhost/devices/d2`"), "{message}");
    assert!(message.contains("`localhost:8443/devices/d1`"), "{message}");
}

#[test]
fn device_token_does_not_cover_the_hub() {
    let token = SasToken::sign("localhost/devices/d1", &key(DEVICE_KEY), None, EXPIRY);
    let error = token
        .verify(&key(DEVICE_KEY), EXPIRY, &["localhost"])
        .unwrap_err();
    assert!(
        matches!(error, AuthError::ResourceNotCovered { .. }),
        "{error:?}"
    );
    assert!(matches!(
        token.verify(&key(DEVICE_KEY), EXPIRY, &[]),
        Err(AuthError::ResourceNotCovered { .. })
    ));
}

#[test]
fn hub_scoped_token_covers_a_device() {
    let token = SasToken::sign(
        "localhost:8443",
        &key(POLICY_KEY),
        Some("iothubowner"),
        EXPIRY,
    );
    let allowed = [
        "localhost:8443/devices/d1",
        "localhost:8443/devices/d1/modules/m1",
    ];
    for resource in allowed {
        assert_eq!(token.verify(&key(POLICY_KEY), EXPIRY, &[resource]), Ok(()));
    }
}

#[test]
fn local_hub_accepts_any_of_its_names() {
    // A device string cannot carry a port, so its token names the bare host.
    let token = SasToken::sign("LocalHost/devices/d1", &key(DEVICE_KEY), None, EXPIRY);
    let names = [
        "127.0.0.1:8443/devices/d1",
        "localhost:8443/devices/d1",
        "localhost/devices/d1",
    ];
    assert_eq!(token.verify(&key(DEVICE_KEY), EXPIRY, &names), Ok(()));
}

#[test]
fn tampered_fields_break_the_signature() {
    let token = SasToken::sign(DEVICE_RESOURCE, &key(DEVICE_KEY), None, EXPIRY).to_string();
    let tampered = [
        token.replace("se=1700000000", "se=1800000000"),
        token.replace("device-1", "device-2"),
        token.replace("my-hub", "MY-HUB"),
    ];
    for text in tampered {
        let parsed = SasToken::parse(&text).unwrap();
        let error = parsed
            .verify(&key(DEVICE_KEY), EXPIRY, &["my-hub.azure-devices.net"])
            .unwrap_err();
        assert!(
            matches!(error, AuthError::BadSignature { .. }),
            "{text}: {error:?}"
        );
    }
}

#[test]
fn parse_accepts_sdk_variations() {
    let signed = SasToken::sign(DEVICE_RESOURCE, &key(DEVICE_KEY), Some("pol"), EXPIRY);
    let text = signed.to_string();
    let fields = text.trim_start_matches("SharedAccessSignature ");
    let variations = [
        format!("  {text}  "),
        format!("SharedAccessSignature\t{fields}"),
        fields.to_owned(),
        format!("{fields}&&"),
        format!("{fields}&extra=ignored&flag="),
        fields
            .replace("sr=", "SR=")
            .replace("sig=", "Sig=")
            .replace("skn=", "SKN="),
        fields.replace("skn=pol", "skn=%70ol"),
    ];
    for variation in variations {
        let parsed = SasToken::parse(&variation).unwrap();
        assert_eq!(parsed, signed, "{variation}");
    }
    let no_policy = text.replace("skn=pol", "skn=");
    assert_eq!(SasToken::parse(&no_policy).unwrap().key_name(), None);
}

#[test]
fn parse_rejects_malformed_tokens() {
    let valid = SasToken::sign(DEVICE_RESOURCE, &key(DEVICE_KEY), None, EXPIRY).to_string();
    let without = |field: &str| -> String {
        let fields = valid.trim_start_matches("SharedAccessSignature ");
        fields
            .split('&')
            .filter(|part| !part.starts_with(&format!("{field}=")))
            .collect::<Vec<_>>()
            .join("&")
    };
    let cases: Vec<(String, AuthError)> = vec![
        (without("sr"), AuthError::MissingTokenField { field: "sr" }),
        (
            without("sig"),
            AuthError::MissingTokenField { field: "sig" },
        ),
        (without("se"), AuthError::MissingTokenField { field: "se" }),
        (
            format!("{valid}&SE=1"),
            AuthError::DuplicateTokenField { field: "se" },
        ),
        (
            format!("{valid}&sr=x"),
            AuthError::DuplicateTokenField { field: "sr" },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(SasToken::parse(&text).unwrap_err(), expected, "{text}");
    }
}

#[test]
fn parse_explains_each_malformed_shape() {
    let sig = "sig=ZE0ZnKR44kIL1%2FL%2B50t9cwdDh0%2B2J5LKqZMHDUvYXSc%3D";
    let cases = [
        (
            format!("sharedaccesssignature sr=h&{sig}&se=1"),
            "must start with",
        ),
        ("SharedAccessSignature".to_owned(), "no fields"),
        ("".to_owned(), "has no `sr`"),
        (
            format!("SharedAccessSignature sr=h &{sig}&se=1"),
            "whitespace",
        ),
        (
            format!("SharedAccessSignature sr=h&{sig}&se"),
            "field 3 is not `name=value`",
        ),
        (
            format!("SharedAccessSignature sr=&{sig}&se=1"),
            "`sr` in the SAS token is invalid",
        ),
        (
            format!("SharedAccessSignature sr=%ff&{sig}&se=1"),
            "not UTF-8",
        ),
        (
            "SharedAccessSignature sr=h&sig=abc!&se=1".to_owned(),
            "`sig` in the SAS token is invalid",
        ),
        (
            format!("SharedAccessSignature sr=h&{sig}&se=soon"),
            "`se` in the SAS token is invalid",
        ),
        (
            format!("SharedAccessSignature sr=h&{sig}&se=-1"),
            "not a whole number",
        ),
        (
            format!("SharedAccessSignature sr=h&{sig}&se=%2B5"),
            "not a whole number",
        ),
        (
            format!("SharedAccessSignature sr=h&{sig}&se=1.5"),
            "not a whole number",
        ),
        (
            format!("SharedAccessSignature sr=h&{sig}&se=99999999999999999999"),
            "not a whole number",
        ),
        (
            format!("SharedAccessSignature sr=h&{sig}&se=1&skn=%ff"),
            "`skn` in the SAS token is invalid",
        ),
    ];
    for (text, expected) in cases {
        let message = SasToken::parse(&text).unwrap_err().to_string();
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn debug_hides_the_signature() {
    let token = SasToken::sign(DEVICE_RESOURCE, &key(DEVICE_KEY), Some("pol"), EXPIRY);
    let debug = format!("{token:?}");
    assert!(!debug.contains(&token.signature_base64()), "{debug}");
    assert!(!debug.contains("ZE0Zn"), "{debug}");
    assert!(
        debug.contains("***") && debug.contains(DEVICE_RESOURCE),
        "{debug}"
    );
}

proptest! {
    #[test]
    fn any_signed_token_round_trips_and_verifies(
        resource in "\\PC{1,60}",
        key_bytes in proptest::collection::vec(any::<u8>(), 1..100),
        key_name in proptest::option::of("[a-zA-Z0-9_@.-]{1,20}"),
        expiry in any::<u64>(),
    ) {
        let key = SharedAccessKey::from_bytes(key_bytes);
        let token = SasToken::sign(&resource, &key, key_name.as_deref(), expiry);
        let parsed = SasToken::parse(&token.to_string()).unwrap();
        prop_assert_eq!(&parsed, &token);
        prop_assert_eq!(parsed.verify(&key, expiry, &[resource.as_str()]), Ok(()));
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,200}") {
        let _ = SasToken::parse(&text);
    }
}
