//! Credentials: SAS token parsing, rendering and verification, and the three ways of
//! reading a connection string (service, device, either), with the tokens they sign.
//!
//! Input: any UTF-8 text, read both as a token and as a connection string.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use twinlens::auth::{
    ConnectionString, DeviceConnectionString, SasToken, ServiceConnectionString, SharedAccessKey,
    device_resource,
};

/// 2026-12-01T00:00:00Z.
const NOW: u64 = 1_795_996_800;

fn key() -> &'static SharedAccessKey {
    static KEY: OnceLock<SharedAccessKey> = OnceLock::new();
    KEY.get_or_init(|| SharedAccessKey::from_bytes(*b"twinlens fuzzing key, 32 bytes!!"))
}

fn check_token(text: &str) {
    let Ok(token) = SasToken::parse(text) else {
        return;
    };
    // A parsed token renders back to a token that reads the same.
    let rendered = token.to_string();
    let again = SasToken::parse(&rendered)
        .unwrap_or_else(|error| panic!("{rendered:?} does not parse back: {error}"));
    assert_eq!(again, token, "{text:?} rendered as {rendered:?}");
    let resource = token.resource();
    let device = device_resource("hub.example.net", "device-1", None);
    let module = device_resource("HUB.example.net", "device-1", Some("module-a"));
    for now in [0, NOW, token.expiry(), u64::MAX] {
        let _ = token.verify(key(), now, &[resource]);
        let _ = token.verify(key(), now, &[&device, &module, "hub.example.net"]);
    }
    // The same resource, policy and expiry signed with our key verifies.
    let signed = SasToken::sign(resource, key(), token.key_name(), token.expiry());
    signed
        .verify(key(), token.expiry(), &[resource])
        .unwrap_or_else(|error| panic!("a token signed for {resource:?} is refused: {error}"));
    let signed_again = SasToken::parse(&signed.to_string())
        .unwrap_or_else(|error| panic!("a signed token does not parse: {error}"));
    assert_eq!(signed_again, signed);
    let other_key = SharedAccessKey::from_bytes(*b"another key");
    assert!(
        signed
            .verify(&other_key, token.expiry(), &[resource])
            .is_err()
    );
    let _ = format!("{token:?}");
}

fn check_connection_strings(text: &str) {
    let service = text.parse::<ServiceConnectionString>();
    if let Ok(service) = &service {
        let written = service.to_connection_string();
        assert_eq!(
            written.parse::<ServiceConnectionString>().ok().as_ref(),
            Some(service)
        );
        let _ = service.masked();
        service
            .sas_token(NOW)
            .verify(&service.key, NOW, &[&service.host_name])
            .unwrap_or_else(|error| panic!("the string's own token is refused: {error}"));
    }
    let device = text.parse::<DeviceConnectionString>();
    if let Ok(device) = &device {
        let written = device.to_connection_string();
        assert_eq!(
            written.parse::<DeviceConnectionString>().ok().as_ref(),
            Some(device)
        );
        let _ = (device.masked(), device.connect_host_name());
        device
            .sas_token(NOW)
            .verify(&device.key, NOW, &[&device.resource()])
            .unwrap_or_else(|error| panic!("the string's own token is refused: {error}"));
    }
    match text.parse::<ConnectionString>() {
        Ok(any) => {
            match &any {
                ConnectionString::Service(parsed) => {
                    assert_eq!(service.as_ref().ok(), Some(parsed));
                }
                ConnectionString::Device(parsed) => {
                    assert_eq!(device.as_ref().ok(), Some(parsed));
                }
            }
            let written = any.to_connection_string();
            assert_eq!(written.parse::<ConnectionString>().ok(), Some(any.clone()));
            let _ = (any.masked(), any.host_name(), any.sas_token(NOW));
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_token(text);
    check_connection_strings(text);
    let _ = SharedAccessKey::from_base64(text).map(|key| key.to_base64());
});
