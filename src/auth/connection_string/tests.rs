//! Tests of connection-string parsing, rendering and the tokens they sign.

use proptest::prelude::*;

use super::*;

/// The 32 bytes 0x00..=0x1f.
const DEVICE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The ASCII bytes of `service-policy-key-0123456789abcdef`.
const POLICY_KEY: &str = "c2VydmljZS1wb2xpY3kta2V5LTAxMjM0NTY3ODlhYmNkZWY=";

const SERVICE: &str = "HostName=my-hub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VydmljZS1wb2xpY3kta2V5LTAxMjM0NTY3ODlhYmNkZWY=";
const DEVICE: &str = "HostName=my-hub.azure-devices.net;DeviceId=device-1;SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn service_error(text: &str) -> AuthError {
    let error = text.parse::<ServiceConnectionString>().unwrap_err();
    assert_no_key(&error);
    error
}

fn device_error(text: &str) -> AuthError {
    let error = text.parse::<DeviceConnectionString>().unwrap_err();
    assert_no_key(&error);
    error
}

/// Errors must never quote a key, whole or in part.
fn assert_no_key(error: &AuthError) {
    let message = error.to_string();
    for secret in [DEVICE_KEY, POLICY_KEY, "AAECAwQF", "c2VydmljZS1w"] {
        assert!(!message.contains(secret), "{message}");
    }
}

#[test]
fn parses_a_service_connection_string() {
    let parsed: ServiceConnectionString = SERVICE.parse().unwrap();
    assert_eq!(parsed.host_name, "my-hub.azure-devices.net");
    assert_eq!(parsed.policy_name, "iothubowner");
    assert_eq!(parsed.key.to_base64(), POLICY_KEY);
    assert_eq!(parsed.to_connection_string(), SERVICE);
    assert_eq!(
        parsed.masked(),
        "HostName=my-hub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=***"
    );
}

#[test]
fn parses_a_device_connection_string_with_module_and_gateway() {
    let text = format!("{DEVICE};ModuleId=mod-a;GatewayHostName=127.0.0.2");
    let parsed: DeviceConnectionString = text.parse().unwrap();
    assert_eq!(parsed.host_name, "my-hub.azure-devices.net");
    assert_eq!(parsed.device_id, "device-1");
    assert_eq!(parsed.module_id.as_deref(), Some("mod-a"));
    assert_eq!(parsed.gateway_host_name.as_deref(), Some("127.0.0.2"));
    assert_eq!(parsed.connect_host_name(), "127.0.0.2");
    assert_eq!(
        parsed.resource(),
        "my-hub.azure-devices.net/devices/device-1/modules/mod-a"
    );
    assert_eq!(
        parsed.to_connection_string(),
        format!(
            "HostName=my-hub.azure-devices.net;DeviceId=device-1;ModuleId=mod-a;SharedAccessKey={DEVICE_KEY};GatewayHostName=127.0.0.2"
        )
    );
    assert_eq!(
        parsed.masked(),
        "HostName=my-hub.azure-devices.net;DeviceId=device-1;ModuleId=mod-a;SharedAccessKey=***;GatewayHostName=127.0.0.2"
    );
    let plain: DeviceConnectionString = DEVICE.parse().unwrap();
    assert_eq!(plain.to_connection_string(), DEVICE);
    assert_eq!(plain.connect_host_name(), "my-hub.azure-devices.net");
}

#[test]
fn either_kind_is_recognised() {
    let service: ConnectionString = SERVICE.parse().unwrap();
    assert!(matches!(service, ConnectionString::Service(_)));
    assert_eq!(service.to_connection_string(), SERVICE);
    let device: ConnectionString = DEVICE.parse().unwrap();
    assert!(matches!(device, ConnectionString::Device(_)));
    assert_eq!(device.host_name(), "my-hub.azure-devices.net");
    assert!(device.masked().ends_with("SharedAccessKey=***"));
}

#[test]
fn syntax_is_forgiving_where_azure_is() {
    let text = format!(
        " ;HostName = localhost:8443 ;; SharedAccessKeyName= service\t; SharedAccessKey = {POLICY_KEY} ; "
    );
    let parsed: ServiceConnectionString = text.parse().unwrap();
    assert_eq!(parsed.host_name, "localhost:8443");
    assert_eq!(parsed.policy_name, "service");
    assert_eq!(parsed.key.to_base64(), POLICY_KEY);
    // Values may contain `=`: the part splits at its first `=` only.
    let device: DeviceConnectionString =
        format!("HostName=h;DeviceId=a=b;SharedAccessKey={DEVICE_KEY}")
            .parse()
            .unwrap();
    assert_eq!(device.device_id, "a=b");
}

#[test]
fn missing_fields_are_named_with_an_example() {
    let missing = |kind, field| AuthError::MissingField { kind, field };
    let service = ConnectionStringKind::Service;
    let device = ConnectionStringKind::Device;
    let cases = [
        (
            service_error(&format!(
                "SharedAccessKeyName=p;SharedAccessKey={POLICY_KEY}"
            )),
            missing(service, "HostName"),
        ),
        (
            service_error(&format!("HostName=h;SharedAccessKey={POLICY_KEY}")),
            missing(service, "SharedAccessKeyName"),
        ),
        (
            service_error("HostName=h;SharedAccessKeyName=p"),
            missing(service, "SharedAccessKey"),
        ),
        (service_error(""), missing(service, "HostName")),
        (
            device_error(&format!("DeviceId=d;SharedAccessKey={DEVICE_KEY}")),
            missing(device, "HostName"),
        ),
        (
            device_error(&format!("HostName=h;SharedAccessKey={DEVICE_KEY}")),
            missing(device, "DeviceId"),
        ),
        (
            device_error("HostName=h;DeviceId=d"),
            missing(device, "SharedAccessKey"),
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error, expected);
    }
    let message = service_error("HostName=h;SharedAccessKeyName=p").to_string();
    assert!(message.contains("SharedAccessKey`;"), "{message}");
    assert!(message.contains("HostName=<hub>.azure-devices.net;SharedAccessKeyName=<policy>;SharedAccessKey=<base64 key>"), "{message}");
    let message = device_error("HostName=h;SharedAccessKey=a2V5").to_string();
    assert!(message.contains("DeviceId=<device id>"), "{message}");
}

#[test]
fn empty_values_are_rejected() {
    let service = ConnectionStringKind::Service;
    let device = ConnectionStringKind::Device;
    let empty = |kind, field| AuthError::EmptyField { kind, field };
    let cases = [
        (
            service_error(&format!(
                "HostName=;SharedAccessKeyName=p;SharedAccessKey={POLICY_KEY}"
            )),
            empty(service, "HostName"),
        ),
        (
            service_error(&format!(
                "HostName=h;SharedAccessKeyName= ;SharedAccessKey={POLICY_KEY}"
            )),
            empty(service, "SharedAccessKeyName"),
        ),
        (
            service_error("HostName=h;SharedAccessKeyName=p;SharedAccessKey="),
            empty(service, "SharedAccessKey"),
        ),
        (
            device_error(&format!(
                "HostName=h;DeviceId=;SharedAccessKey={DEVICE_KEY}"
            )),
            empty(device, "DeviceId"),
        ),
        (
            device_error(&format!("{DEVICE};ModuleId=")),
            empty(device, "ModuleId"),
        ),
        (
            device_error(&format!("{DEVICE};GatewayHostName=")),
            empty(device, "GatewayHostName"),
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error, expected);
    }
}

#[test]
fn bad_base64_keys_are_rejected_without_echo() {
    for key in ["not base64!", "abc", "AAECAwQF=Bgc"] {
        let error = service_error(&format!(
            "HostName=h;SharedAccessKeyName=p;SharedAccessKey={key}"
        ));
        assert!(matches!(error, AuthError::InvalidKey { .. }), "{error:?}");
        assert!(!error.to_string().contains(key), "{error}");
        let error = device_error(&format!("HostName=h;DeviceId=d;SharedAccessKey={key}"));
        assert!(matches!(error, AuthError::InvalidKey { .. }), "{error:?}");
    }
}

#[test]
fn unknown_duplicate_and_malformed_parts_are_rejected() {
    let service = ConnectionStringKind::Service;
    let device = ConnectionStringKind::Device;
    assert_eq!(
        service_error(&format!("{SERVICE};Color=blue")),
        AuthError::UnknownField {
            kind: service,
            name: "Color".to_owned(),
            suggestion: None
        }
    );
    let error = device_error(&format!(
        "Hostname=h;DeviceId=d;SharedAccessKey={DEVICE_KEY}"
    ));
    assert_eq!(
        error,
        AuthError::UnknownField {
            kind: device,
            name: "Hostname".to_owned(),
            suggestion: Some("HostName")
        }
    );
    assert!(
        error
            .to_string()
            .contains("case-sensitive: did you mean `HostName`?"),
        "{error}"
    );
    assert_eq!(
        service_error(&format!("{SERVICE};HostName=other")),
        AuthError::DuplicateField {
            kind: service,
            field: "HostName"
        }
    );
    assert_eq!(
        device_error(&format!("{DEVICE};DeviceId=device-2")),
        AuthError::DuplicateField {
            kind: device,
            field: "DeviceId"
        }
    );
    assert_eq!(
        device_error(&format!("HostName=h;DeviceId;SharedAccessKey={DEVICE_KEY}")),
        AuthError::MalformedPart {
            kind: device,
            position: 2
        }
    );
    assert_eq!(
        service_error(&format!("{SERVICE};oops")),
        AuthError::MalformedPart {
            kind: service,
            position: 4
        }
    );
}

#[test]
fn unsupported_authentication_is_explained() {
    let token_string = "HostName=h;DeviceId=d;SharedAccessSignature=SharedAccessSignature sr=h";
    assert!(matches!(
        device_error(token_string),
        AuthError::UnsupportedField {
            field: "SharedAccessSignature",
            ..
        }
    ));
    assert!(matches!(
        device_error("HostName=h;DeviceId=d;x509=true"),
        AuthError::UnsupportedField { field: "x509", .. }
    ));
}

#[test]
fn parts_of_the_other_kind_are_rejected() {
    for (extra, field) in [
        ("DeviceId=d", "DeviceId"),
        ("ModuleId=m", "ModuleId"),
        ("GatewayHostName=g", "GatewayHostName"),
    ] {
        let error = service_error(&format!("{SERVICE};{extra}"));
        assert!(
            matches!(error, AuthError::FieldNotAllowed { field: f, .. } if f == field),
            "{error:?}"
        );
    }
    let error = device_error(&format!("{DEVICE};SharedAccessKeyName=p"));
    assert!(
        matches!(
            error,
            AuthError::FieldNotAllowed {
                field: "SharedAccessKeyName",
                ..
            }
        ),
        "{error:?}"
    );
    let error = ConnectionString::from_str(&format!("{DEVICE};SharedAccessKeyName=p")).unwrap_err();
    assert!(
        matches!(error, AuthError::FieldNotAllowed { .. }),
        "{error:?}"
    );
}

#[test]
fn invalid_values_are_named() {
    let cases = [
        (
            service_error(&format!(
                "HostName=https://h.net;SharedAccessKeyName=p;SharedAccessKey={POLICY_KEY}"
            )),
            "HostName",
        ),
        (
            service_error(&format!(
                "HostName=h.net/x;SharedAccessKeyName=p;SharedAccessKey={POLICY_KEY}"
            )),
            "HostName",
        ),
        (
            service_error(&format!(
                "HostName=h;SharedAccessKeyName=my policy;SharedAccessKey={POLICY_KEY}"
            )),
            "SharedAccessKeyName",
        ),
        (
            device_error(&format!(
                "HostName=h;DeviceId=my device;SharedAccessKey={DEVICE_KEY}"
            )),
            "DeviceId",
        ),
        (
            device_error(&format!(
                "HostName=h;DeviceId={};SharedAccessKey={DEVICE_KEY}",
                "d".repeat(129)
            )),
            "DeviceId",
        ),
        (
            device_error(&format!(
                "HostName=h;DeviceId=d/1;SharedAccessKey={DEVICE_KEY}"
            )),
            "DeviceId",
        ),
        (device_error(&format!("{DEVICE};ModuleId=m&1")), "ModuleId"),
        (
            device_error(&format!("{DEVICE};GatewayHostName=gw/x")),
            "GatewayHostName",
        ),
    ];
    for (error, expected_field) in cases {
        assert!(
            matches!(&error, AuthError::InvalidField { field, .. } if *field == expected_field),
            "{error:?}"
        );
    }
    let accepted = format!(
        "HostName=h;DeviceId={};SharedAccessKey={DEVICE_KEY}",
        "d".repeat(128)
    );
    assert!(accepted.parse::<DeviceConnectionString>().is_ok());
    let punctuated =
        format!("HostName=[::1]:8883;DeviceId=a-:.+%_#*?!(),=@$'z;SharedAccessKey={DEVICE_KEY}");
    assert!(punctuated.parse::<DeviceConnectionString>().is_ok());
}

#[test]
fn either_kind_needs_a_device_id_or_a_policy() {
    let any = ConnectionStringKind::Any;
    assert_eq!(
        ConnectionString::from_str(&format!("HostName=h;SharedAccessKey={DEVICE_KEY}"))
            .unwrap_err(),
        AuthError::MissingField {
            kind: any,
            field: "DeviceId or SharedAccessKeyName"
        }
    );
    assert_eq!(
        ConnectionString::from_str(&format!("SharedAccessKey={DEVICE_KEY}")).unwrap_err(),
        AuthError::MissingField {
            kind: any,
            field: "HostName"
        }
    );
    let message = ConnectionString::from_str("").unwrap_err().to_string();
    assert!(message.contains("(service) or"), "{message}");
}

// Known answers: the same tokens as the `sas` known-answer tests (documented algorithm:
// `sr` = URL-encoded resource, string to sign = `sr` + "\n" + `se`, `sig` = URL-encoded
// base64 HMAC-SHA256 keyed with the base64-decoded key), reached through connection strings:
// a service string signs its HostName with `skn`, a device string `{host}/devices/{id}`.

#[test]
fn connection_strings_sign_their_own_resource() {
    let service: ServiceConnectionString = SERVICE.parse().unwrap();
    assert_eq!(
        service.sas_token(1_893_456_000).to_string(),
        "SharedAccessSignature sr=my-hub.azure-devices.net&sig=JwgAKBxHKF2a78DNdbEavaj8%2Bq2saxNQbejust%2FxW4U%3D&se=1893456000&skn=iothubowner"
    );
    let device: ConnectionString = DEVICE.parse().unwrap();
    assert_eq!(
        device.sas_token(1_700_000_000).to_string(),
        "SharedAccessSignature sr=my-hub.azure-devices.net%2Fdevices%2Fdevice-1&sig=ZE0ZnKR44kIL1%2FL%2B50t9cwdDh0%2B2J5LKqZMHDUvYXSc%3D&se=1700000000"
    );
    // A module signs its own resource, and a gateway does not change what is signed.
    let module: DeviceConnectionString =
        format!("HostName=localhost;DeviceId=dev1;ModuleId=mod-a;SharedAccessKey={DEVICE_KEY};GatewayHostName=127.0.0.2")
            .parse()
            .unwrap();
    assert_eq!(
        module.sas_token(1_700_003_600).to_string(),
        "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1%2Fmodules%2Fmod-a&sig=BDbHi2m1jdCurNC9yV6LmURfhGnBaSeE6mYdwBm4g%2B0%3D&se=1700003600"
    );
}

#[test]
fn debug_output_hides_every_key() {
    let service: ServiceConnectionString = SERVICE.parse().unwrap();
    let device: DeviceConnectionString = DEVICE.parse().unwrap();
    let outputs = [
        format!("{:?}", service.key),
        format!("{service:?}"),
        format!("{service:#?}"),
        format!("{device:?}"),
        format!("{:?}", ConnectionString::Service(service.clone())),
        format!("{:#?}", ConnectionString::Device(device.clone())),
    ];
    for output in outputs {
        for secret in [DEVICE_KEY, POLICY_KEY, "AAECAwQF", "c2VydmljZS1w"] {
            assert!(!output.contains(secret), "{output}");
        }
        assert!(output.contains("SharedAccessKey(***)"), "{output}");
    }
}

proptest! {
    #[test]
    fn device_strings_round_trip(
        host in "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}(:[0-9]{1,5})?",
        device_id in "[A-Za-z0-9:.+%_#*?!(),=@$'-]{1,128}",
        module_id in proptest::option::of("[A-Za-z0-9-]{1,20}"),
        key in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let original = DeviceConnectionString {
            host_name: host,
            device_id,
            module_id,
            gateway_host_name: None,
            key: SharedAccessKey::from_bytes(key),
        };
        let parsed: DeviceConnectionString = original.to_connection_string().parse().unwrap();
        prop_assert_eq!(parsed, original);
    }

    #[test]
    fn parsing_never_panics(text in "\\PC{0,200}") {
        let _ = ConnectionString::from_str(&text);
    }
}

#[test]
fn the_host_name_is_found_anywhere_in_an_unparsed_string() {
    assert_eq!(
        host_name_of("SharedAccessKeyName=k; HostName=h.azure-devices.net;SharedAccessKey=s"),
        Some("h.azure-devices.net")
    );
    assert_eq!(host_name_of("SharedAccessKey=s"), None);
}

#[test]
fn keys_and_signatures_of_unparsed_strings_are_masked() {
    assert_eq!(
        mask_connection_string(
            "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0"
        ),
        "HostName=h.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=***"
    );
    assert!(
        !mask_connection_string(
            "HostName=h;SharedAccessSignature=SharedAccessSignature sr=x&sig=y"
        )
        .contains("sig=y")
    );
}
