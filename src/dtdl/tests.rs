//! The module end to end: Azure's IoT Plug and Play samples (DTDL v2), a DTDL v3 model
//! using what v3 adds, and the errors people meet when writing models.

use serde_json::json;

use super::*;

const THERMOSTAT: &str = include_str!("samples/Thermostat.json");
const TEMPERATURE_CONTROLLER: &str = include_str!("samples/TemperatureController.json");
const DEVICE_INFORMATION: &str = include_str!("samples/DeviceInformation.json");

const CONTROLLER_ID: &str = "dtmi:com:example:TemperatureController;1";
const THERMOSTAT_ID: &str = "dtmi:com:example:Thermostat;1";
const DEVICE_INFORMATION_ID: &str = "dtmi:azure:DeviceManagement:DeviceInformation;1";

fn load(files: &[(&str, &str)]) -> ModelSet {
    let mut models = ModelSet::default();
    for (file, text) in files {
        if let Err(error) = models.add_file(file, text) {
            panic!("{file} should load: {error}");
        }
    }
    models
}

fn refused(file: &str, text: &str) -> String {
    ModelSet::default()
        .add_file(file, text)
        .expect_err("the model should be refused")
        .to_string()
}

/// A v3 interface `id` with `contents` (JSON array text) and `extra` members.
fn v3(id: &str, contents: &str, extra: &str) -> String {
    format!(
        r#"{{"@context": "dtmi:dtdl:context;3", "@id": "{id}", "@type": "Interface",
            "contents": {contents} {extra}}}"#
    )
}

#[test]
fn the_temperature_controller_resolves_with_its_components() {
    let models = load(&[
        ("TemperatureController.json", TEMPERATURE_CONTROLLER),
        ("Thermostat.json", THERMOSTAT),
        ("DeviceInformation.json", DEVICE_INFORMATION),
    ]);
    assert_eq!(
        models.ids().collect::<Vec<_>>(),
        [DEVICE_INFORMATION_ID, CONTROLLER_ID, THERMOSTAT_ID]
    );
    let model = models
        .resolve(CONTROLLER_ID)
        .expect("every interface is loaded");
    assert_eq!(model.display_name(), "Temperature Controller");
    assert!(model.missing.is_empty());

    let serial = model.root.property("serialNumber").expect("declared");
    assert_eq!(
        (serial.schema.clone(), serial.writable),
        (Schema::String, false)
    );
    assert_eq!(model.root.telemetry[0].unit.as_deref(), Some("kibibyte"));
    let reboot = model.root.command("reboot").expect("declared");
    let delay = reboot.request.as_ref().expect("reboot takes a delay");
    assert_eq!(
        (delay.name.as_str(), delay.display_name()),
        ("delay", "Delay")
    );
    assert_eq!(delay.schema.parse_field("5"), Ok(json!(5)));
    assert!(delay.schema.parse_field("1.5").is_err());
    assert!(reboot.response.is_none());

    let names: Vec<&str> = model
        .components
        .iter()
        .map(|component| component.declaration.name.as_str())
        .collect();
    assert_eq!(names, ["thermostat1", "thermostat2", "deviceInformation"]);
    let thermostat = model.component("thermostat1").expect("resolved");
    assert_eq!(thermostat.declaration.display_name(), "Thermostat One");
    assert_eq!(thermostat.declaration.interface, THERMOSTAT_ID);
    let target = thermostat
        .model
        .property("targetTemperature")
        .expect("declared");
    assert!(target.writable);
    assert_eq!(target.unit.as_deref(), Some("degreeCelsius"));
    assert_eq!(target.display_name(), "Target Temperature");
    assert_eq!(
        target
            .schema
            .check(&json!("abc"))
            .map_err(|error| error.within(&target.name).within("thermostat1").to_string()),
        Err("/thermostat1/targetTemperature: expected a double, got \"abc\"".into())
    );
    let report = thermostat
        .model
        .command("getMaxMinReport")
        .expect("declared");
    let since = report.request.as_ref().expect("takes a time");
    assert_eq!(since.schema, Schema::DateTime);
    let response = &report.response.as_ref().expect("answers a report").schema;
    assert_eq!(
        response.describe(),
        "object {maxTemp, minTemp, avgTemp, startTime, endTime}"
    );
    assert_eq!(
        response.check(&json!({"maxTemp": 30.5, "startTime": "2024-05-01T10:00:00Z"})),
        Ok(())
    );

    let information = model.component("deviceInformation").expect("resolved");
    let properties: Vec<(&str, bool)> = information
        .model
        .properties
        .iter()
        .map(|property| (property.name.as_str(), property.writable))
        .collect();
    assert_eq!(properties.len(), 8);
    assert!(properties.iter().all(|(_, writable)| !writable));
    assert_eq!(
        information
            .model
            .property("totalMemory")
            .map(|p| p.schema.clone()),
        Some(Schema::Double)
    );
}

#[test]
fn missing_component_interfaces_are_listed_not_fatal() {
    let models = load(&[("TemperatureController.json", TEMPERATURE_CONTROLLER)]);
    let model = models.resolve(CONTROLLER_ID).expect("the root is loaded");
    assert!(model.components.is_empty());
    assert_eq!(model.root.properties.len(), 1);
    let messages: Vec<String> = model.missing.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages[0],
        "component 'thermostat1' uses dtmi:com:example:Thermostat;1, which is not loaded: \
         open its model file too"
    );
    assert_eq!(messages.len(), 3);
    assert_eq!(
        models.resolve(THERMOSTAT_ID).map_err(|e| e.to_string()),
        Err("dtmi:com:example:Thermostat;1 is not loaded: open its model file first".into())
    );
}

#[test]
fn loading_an_id_again_replaces_it() {
    let mut models = load(&[("Thermostat.json", THERMOSTAT)]);
    let renamed = THERMOSTAT.replace("\"Thermostat\"", "\"Thermostat (edited)\"");
    assert_eq!(
        models.add_file("edited.json", &renamed),
        Ok(vec![THERMOSTAT_ID.to_owned()])
    );
    let interface = models.interface(THERMOSTAT_ID).expect("loaded");
    assert_eq!(
        (interface.display_name(), interface.source.as_str()),
        ("Thermostat (edited)", "edited.json")
    );
    assert_eq!(models.ids().count(), 1);
}

const V3_BASE: &str = r#"{
  "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
  "@id": "dtmi:com:example:Base;1",
  "@type": "Interface",
  "contents": [
    {"@type": ["Telemetry", "Temperature"], "name": "temperature", "schema": "double", "unit": "degreeCelsius"},
    {"@type": "Relationship", "name": "feeds", "target": "dtmi:com:example:Pump;1"}
  ],
  "schemas": [
    {"@id": "dtmi:com:example:Mode;1", "@type": "Enum", "valueSchema": "string",
     "enumValues": [
       {"name": "eco", "displayName": {"it": "Economico", "en": "Economy"}, "enumValue": "eco"},
       {"name": "boost", "enumValue": "boost"}
     ]}
  ]
}"#;

const V3_ROOM: &str = r#"[{
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:com:example:Room;1",
  "@type": "Interface",
  "displayName": {"it": "Stanza", "en": "Room"},
  "extends": ["dtmi:com:example:Base;1", {
    "@type": "Interface",
    "contents": [{"@type": "Property", "name": "label", "schema": "string", "writable": true}]
  }],
  "contents": [
    {"@type": "Property", "name": "mode", "schema": "dtmi:com:example:Mode;1", "writable": true},
    {"@type": "Property", "name": "location", "writable": true,
     "schema": {"@type": "Object", "fields": [
       {"name": "building", "schema": "string"},
       {"name": "floor", "schema": "integer", "displayName": {"it": "Piano"}}]}},
    {"@type": "Property", "name": "readings", "schema": "dtmi:com:example:Readings;1"},
    {"@type": "Property", "name": "history", "writable": true,
     "schema": {"@type": "Array", "elementSchema": "double"}},
    {"@type": "Command", "name": "setMode", "request": {"name": "mode", "schema": "dtmi:com:example:Mode;1", "nullable": false}},
    {"@type": "Command", "name": "ping"},
    {"@type": "Component", "name": "fan", "schema": {
      "@type": "Interface", "@id": "dtmi:com:example:Fan;1",
      "contents": [{"@type": "Property", "name": "speed", "schema": "long", "writable": true}]}}
  ],
  "schemas": [
    {"@id": "dtmi:com:example:Readings;1", "@type": "Map",
     "mapKey": {"name": "sensor", "schema": "string"},
     "mapValue": {"name": "reading", "schema": "float"}}
  ]
}]"#;

#[test]
fn a_v3_model_with_extends_enums_objects_maps_and_arrays() {
    let models = load(&[("Base.json", V3_BASE), ("Room.json", V3_ROOM)]);
    let room = models.interface("dtmi:com:example:Room;1").expect("loaded");
    assert_eq!(room.version, DtdlVersion::V3);
    assert_eq!(room.extends[1], "dtmi:com:example:Room:_extends:__1;1");
    let model = models.resolve("dtmi:com:example:Room;1").expect("resolves");
    assert_eq!(model.display_name(), "Room");
    assert!(model.missing.is_empty());

    let names: Vec<&str> = model
        .root
        .properties
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["mode", "location", "readings", "history", "label"]);
    assert_eq!(model.root.telemetry[0].name, "temperature");

    let mode = &model.root.property("mode").expect("declared").schema;
    assert_eq!(mode.describe(), "enum of 2 strings");
    assert!(mode.is_simple());
    assert_eq!(mode.parse_field("Economy"), Ok(json!("eco")));
    assert_eq!(mode.parse_field("boost"), Ok(json!("boost")));
    assert_eq!(mode.format_field(&json!("eco")), "eco");
    assert_eq!(mode.default_value(), json!("eco"));
    let Schema::Enum { values, .. } = mode else {
        panic!("mode is an enum, not {}", mode.describe());
    };
    assert_eq!(values[0].display_name(), "Economy");
    assert_eq!(values[1].display_name(), "boost");

    let location = &model.root.property("location").expect("declared").schema;
    assert_eq!(location.describe(), "object {building, floor}");
    assert!(!location.is_simple());
    assert_eq!(
        location.default_value(),
        json!({"building": "", "floor": 0})
    );
    assert_eq!(
        location
            .parse_field(r#"{"building": "A", "floor": 2.5}"#)
            .map_err(|e| e.to_string()),
        Err("/floor: expected an integer from -2147483648 to 2147483647, got 2.5".into())
    );
    let Schema::Object { fields } = location else {
        panic!("location is an object, not {}", location.describe());
    };
    assert_eq!(fields[1].display_name(), "Piano");

    let readings = &model.root.property("readings").expect("declared").schema;
    assert_eq!(readings.describe(), "map of float");
    assert_eq!(readings.check(&json!({"s1": 1.5, "s2": 3})), Ok(()));
    assert!(readings.check(&json!({"s1": "x"})).is_err());

    let history = model.root.property("history").expect("declared");
    assert_eq!(history.schema.describe(), "array of double");
    assert!(history.schema.contains_array());
    assert!(!location.contains_array());

    let set_mode = model.root.command("setMode").expect("declared");
    let request = set_mode.request.as_ref().expect("takes a mode");
    assert_eq!(request.schema.parse_field("boost"), Ok(json!("boost")));
    assert!(
        model
            .root
            .command("ping")
            .expect("declared")
            .request
            .is_none()
    );

    let fan = model.component("fan").expect("inline component");
    assert_eq!(fan.declaration.interface, "dtmi:com:example:Fan;1");
    assert_eq!(
        fan.model.property("speed").map(|p| p.schema.describe()),
        Some("long".into())
    );
}

#[test]
fn extends_that_are_not_loaded_are_listed() {
    let models = load(&[(
        "Room.json",
        &V3_ROOM.replace("dtmi:com:example:Mode;1", "string"),
    )]);
    let model = models.resolve("dtmi:com:example:Room;1").expect("resolves");
    assert_eq!(
        model
            .missing
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "dtmi:com:example:Room;1 extends dtmi:com:example:Base;1, which is not loaded: \
          open its model file too"
        ]
    );
    assert!(model.root.property("label").is_some());
}

#[test]
fn reusable_schemas_come_from_the_file_or_the_loaded_set() {
    let unknown = refused("Room.json", V3_ROOM);
    assert_eq!(
        unknown,
        "Room.json at /0/contents/0/schema: schema dtmi:com:example:Mode;1 is not defined: \
         define it in the interface's \"schemas\", or open the model file that defines it first"
    );
    let models = load(&[("Base.json", V3_BASE)]);
    assert!(models.schema("dtmi:com:example:Mode;1").is_some());
}

#[test]
fn recursive_schemas_are_refused() {
    let text = v3(
        "dtmi:com:example:Tree;1",
        r#"[{"@type": "Property", "name": "root", "schema": "dtmi:com:example:Node;1"}]"#,
        r#", "schemas": [{"@id": "dtmi:com:example:Node;1", "@type": "Object",
             "fields": [{"name": "child", "schema": "dtmi:com:example:Node;1"}]}]"#,
    );
    let message = refused("Tree.json", &text);
    assert!(
        message.contains("dtmi:com:example:Node;1 -> dtmi:com:example:Node;1"),
        "{message}"
    );
}

#[test]
fn bad_json_names_the_file_and_line() {
    let message = refused(
        "Broken.json",
        "{\n  \"@context\": \"dtmi:dtdl:context;2\",\n  \"@id\" \"x\"\n}",
    );
    assert!(
        message.starts_with("Broken.json is not valid JSON (line 3, column 9): expected `:`"),
        "{message}"
    );
}

#[test]
fn only_interfaces_are_read() {
    let telemetry = r#"{"@context": "dtmi:dtdl:context;2", "@type": "Telemetry", "name": "t", "schema": "double"}"#;
    assert!(refused("T.json", telemetry).starts_with(
        "T.json: expected an Interface (\"@type\": \"Interface\"), found @type Telemetry"
    ));
    assert!(refused("N.json", "42").starts_with("N.json: expected an Interface"));
    let no_context = r#"{"@id": "dtmi:a;1", "@type": "Interface", "contents": []}"#;
    assert!(
        refused("C.json", no_context).starts_with("C.json: the interface has no @context: add")
    );
    let v4 = THERMOSTAT.replace("context;2", "context;4");
    assert!(refused("V4.json", &v4).contains("\"dtmi:dtdl:context;4\" is not DTDL v2 or v3"));
}

#[test]
fn invalid_dtmis_and_names_are_refused() {
    let bad_id = THERMOSTAT.replace(
        "dtmi:com:example:Thermostat;1",
        "dtmi:com:example:Thermostat_;1",
    );
    assert!(refused("Thermostat.json", &bad_id).starts_with(
        "Thermostat.json at /@id: \"dtmi:com:example:Thermostat_;1\" is not a valid DTMI"
    ));
    let bad_component =
        TEMPERATURE_CONTROLLER.replace("dtmi:com:example:Thermostat;1", "thermostat");
    assert!(
        refused("TC.json", &bad_component)
            .starts_with("TC.json at /contents/3/schema: \"thermostat\" is not a valid DTMI")
    );
    let bad_name = THERMOSTAT.replace("\"targetTemperature\"", "\"target temperature\"");
    assert!(refused("Thermostat.json", &bad_name).starts_with(
        "Thermostat.json at /contents/1/name: \"target temperature\" is not a valid name"
    ));
    let bad_schema = THERMOSTAT.replace("\"schema\": \"dateTime\"", "\"schema\": \"timestamp\"");
    assert!(refused("Thermostat.json", &bad_schema).starts_with(
        "Thermostat.json at /contents/3/request/schema: \"timestamp\" is not a DTDL schema"
    ));
}

#[test]
fn duplicate_names_are_refused() {
    let twice = THERMOSTAT.replace("\"maxTempSinceLastReboot\"", "\"targetTemperature\"");
    assert_eq!(
        refused("Thermostat.json", &twice),
        "Thermostat.json at /contents/2/name: \"targetTemperature\" is used twice: content names \
         of an interface must be unique, rename one"
    );
    let fields = THERMOSTAT.replace("\"minTemp\"", "\"maxTemp\"");
    assert!(
        refused("Thermostat.json", &fields).contains("field names of an object must be unique")
    );
    let inherited = v3(
        "dtmi:com:example:Child;1",
        r#"[{"@type": "Telemetry", "name": "temperature", "schema": "float"}]"#,
        r#", "extends": "dtmi:com:example:Base;1""#,
    );
    let models = load(&[("Base.json", V3_BASE), ("Child.json", &inherited)]);
    assert_eq!(
        models
            .resolve("dtmi:com:example:Child;1")
            .map_err(|e| e.to_string()),
        Err(
            "dtmi:com:example:Child;1: content \"temperature\" comes from both \
             dtmi:com:example:Child;1 and dtmi:com:example:Base;1: names must be unique across \
             extends, rename one"
                .into()
        )
    );
}

#[test]
fn extends_cycles_and_depth_are_refused() {
    let a = v3(
        "dtmi:com:example:A;1",
        "[]",
        r#", "extends": "dtmi:com:example:B;1""#,
    );
    let b = v3(
        "dtmi:com:example:B;1",
        "[]",
        r#", "extends": ["dtmi:com:example:A;1"]"#,
    );
    let models = load(&[("A.json", &a), ("B.json", &b)]);
    assert_eq!(
        models
            .resolve("dtmi:com:example:A;1")
            .map_err(|e| e.to_string()),
        Err(
            "dtmi:com:example:A;1 extends itself (dtmi:com:example:A;1 -> dtmi:com:example:B;1 \
             -> dtmi:com:example:A;1): remove one of these extends"
                .into()
        )
    );

    let chain: Vec<String> = (0..=12)
        .map(|level| {
            let extends = if level < 12 {
                format!(r#", "extends": "dtmi:com:example:L{};1""#, level + 1)
            } else {
                String::new()
            };
            v3(&format!("dtmi:com:example:L{level};1"), "[]", &extends)
        })
        .collect();
    let files: Vec<(&str, &str)> = chain.iter().map(|text| ("L.json", text.as_str())).collect();
    let models = load(&files);
    assert!(models.resolve("dtmi:com:example:L2;1").is_ok());
    assert!(matches!(
        models.resolve("dtmi:com:example:L0;1"),
        Err(DtdlError::ExtendsTooDeep { max: 10, .. })
    ));
}

#[test]
fn components_cannot_nest() {
    let outer = v3(
        "dtmi:com:example:Outer;1",
        r#"[{"@type": "Component", "name": "inner", "schema": "dtmi:com:example:TemperatureController;1"}]"#,
        "",
    );
    let models = load(&[("TC.json", TEMPERATURE_CONTROLLER), ("Outer.json", &outer)]);
    assert!(matches!(
        models.resolve("dtmi:com:example:Outer;1"),
        Err(DtdlError::NestedComponent { .. })
    ));
}

#[test]
fn v2_properties_cannot_hold_arrays() {
    let text = THERMOSTAT.replace(
        r#""name": "targetTemperature",
      "schema": "double""#,
        r#""name": "targetTemperature",
      "schema": {"@type": "Array", "elementSchema": "double"}"#,
    );
    assert!(
        refused("Thermostat.json", &text)
            .starts_with("Thermostat.json at /contents/1: DTDL v2 properties cannot hold arrays")
    );
}

#[test]
fn a_failed_file_adds_nothing() {
    let mut models = load(&[("Thermostat.json", THERMOSTAT)]);
    let both = format!("[{DEVICE_INFORMATION}, 7]");
    assert!(models.add_file("Both.json", &both).is_err());
    assert_eq!(models.ids().collect::<Vec<_>>(), [THERMOSTAT_ID]);
    let twice = format!("[{THERMOSTAT}, {THERMOSTAT}]");
    assert!(
        refused("Twice.json", &twice).contains("dtmi:com:example:Thermostat;1 is defined twice")
    );
}
