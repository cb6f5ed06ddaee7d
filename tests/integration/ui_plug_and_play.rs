//! The Plug and Play tab driven through AccessKit against the embedded hub, with the open
//! device connected as a simulated device: its components and acknowledgements, a
//! desired value set from a typed field, and a component command invoked.

use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use serde_json::{Value, json};
use twinlens::app::ExplorerApp;
use twinlens::app::file_dialog::{FilePicker, PickedFile};
use twinlens::app::settings::Settings;

use super::ui::{
    block_on, explorer, has_text, no_dialogs, open_device, replace_text, service_client,
    simulate_open_device, wait_for,
};

/// The sample models: the controller in the models folder, the thermostat it uses
/// opened from a file.
const CONTROLLER: &str = include_str!("../../src/dtdl/samples/TemperatureController.json");
const THERMOSTAT: &str = include_str!("../../src/dtdl/samples/Thermostat.json");
const CONTROLLER_ID: &str = "dtmi:com:example:TemperatureController;1";

/// Clicks the choice labelled `label` in the combo box labelled `combo`.
fn choose(harness: &mut Harness<'_, ExplorerApp>, combo: &str, label: &str) {
    // A pointer click opens and closes the popup within one frame; AccessKit's does not.
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, combo)
        .click_accesskit();
    // The popup's choice, not a section of the same name.
    let choice = |h: &Harness<'_, ExplorerApp>| {
        h.query_by_role_and_label(egui::accesskit::Role::Button, label)
            .is_some()
    };
    wait_for(harness, "the combo box's choices", choice);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, label)
        .click();
    harness.step();
}

/// Sets desired properties through the service, behind the explorer's back; returns the
/// desired `$version` they became.
fn set_desired(harness: &Harness<'_, ExplorerApp>, device_id: &str, desired: Value) -> u64 {
    let twin = block_on(service_client(harness).patch_twin(
        device_id,
        &json!({"properties": {"desired": desired}}),
        None,
    ))
    .unwrap();
    twin.properties.unwrap().desired["$version"]
        .as_u64()
        .unwrap()
}

/// Sends `patch` as the simulated device's reported patch, from the Simulate tab.
fn report(harness: &mut Harness<'_, ExplorerApp>, patch: &Value) {
    harness.get_by_label("Simulate").click();
    harness.step();
    replace_text(harness, "Reported patch", &patch.to_string());
    harness.get_by_label("Send reported").click();
    harness.step();
}

/// Whether the hub's twin of `device_id` says `check`.
fn twin_shows(
    harness: &Harness<'_, ExplorerApp>,
    device_id: &str,
    check: impl Fn(&Value) -> bool,
) -> bool {
    block_on(service_client(harness).get_twin(device_id)).is_ok_and(|twin| check(&twin.to_json()))
}

/// A TemperatureController simulated here: it announces its model and acknowledges
/// desired values the Plug and Play way (thermostat1's target, inside its component),
/// reports read-only properties, then stops acknowledging, so a root property set after
/// waits for it.
fn controller_device(harness: &mut Harness<'_, ExplorerApp>, device_id: &str) {
    open_device(harness, device_id);
    harness.get_by_label("Simulate").click();
    harness.step();
    replace_text(harness, "Model id", CONTROLLER_ID);
    harness
        .get_by_label("IoT Plug and Play envelope (value, ac, av, ad)")
        .click();
    harness.step();
    simulate_open_device(harness);
    report(
        harness,
        &json!({"serialNumber": "SN-0042", "thermostat1": {"__t": "c", "maxTempSinceLastReboot": 25.5}}),
    );
    set_desired(
        harness,
        device_id,
        json!({"thermostat1": {"__t": "c", "targetTemperature": 21.5}}),
    );
    wait_for(harness, "the device's acknowledgement", |h| {
        twin_shows(h, device_id, |twin| {
            twin.pointer("/properties/reported/thermostat1/targetTemperature/ac")
                == Some(&json!(200))
        })
    });
    harness.get_by_label("Acknowledge in reported").click();
    harness.step();
    set_desired(harness, device_id, json!({"fanSpeed": 3}));
}

#[test]
fn a_plug_and_play_device_shows_its_components_and_acknowledgements() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    controller_device(&mut harness, "demo-003");
    harness.get_by_label("Plug and Play").click();
    wait_for(&mut harness, "the acknowledged component property", |h| {
        has_text(h, "thermostat1") && has_text(h, "current") && has_text(h, "applied by twinlens")
    });
    assert!(has_text(&harness, "Default component"));
    assert!(has_text(&harness, CONTROLLER_ID), "the announced model");
    assert!(has_text(&harness, "is not loaded: open its model file"));
    // fanSpeed is desired after thermostat1 was acknowledged: the device owes an answer.
    wait_for(&mut harness, "the unacknowledged root property", |h| {
        has_text(h, "waiting for device")
    });
    assert!(has_text(&harness, "maxTempSinceLastReboot"));
    assert!(has_text(&harness, "SN-0042"));

    // The drift tab knows the acknowledged component property is in step.
    harness.get_by_label("Drift").click();
    wait_for(&mut harness, "the drift", |h| {
        has_text(h, "not reflected in reported")
    });
    assert!(has_text(&harness, "fanSpeed"));
    assert!(!has_text(&harness, "thermostat1.targetTemperature"));
    assert!(
        !has_text(&harness, "thermostat1.__t"),
        "the marker never drifts"
    );
}

#[test]
fn an_untyped_desired_value_is_checked_and_set_inside_its_component() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    controller_device(&mut harness, "demo-002");
    harness.get_by_label("Plug and Play").click();
    let field = "New value of thermostat1.targetTemperature";
    wait_for(&mut harness, "the desired field", |h| {
        h.query_by_label(field).is_some()
    });
    let set = "Set desired thermostat1.targetTemperature";
    replace_text(&mut harness, field, "warm");
    wait_for(&mut harness, "the JSON error", |h| {
        has_text(h, "not valid JSON")
    });
    assert!(harness.get_by_label(set).accesskit_node().is_disabled());

    replace_text(&mut harness, field, "23.5");
    harness.step();
    assert!(!harness.get_by_label(set).accesskit_node().is_disabled());
    harness.get_by_label(set).click();
    wait_for(&mut harness, "the write to be taken", |h| {
        has_text(h, "thermostat1.targetTemperature set (desired version")
    });
    let twin = block_on(service_client(&harness).get_twin("demo-002")).unwrap();
    let desired = &twin.properties.unwrap().desired;
    assert_eq!(desired["thermostat1"]["targetTemperature"], json!(23.5));
    assert_eq!(desired["thermostat1"]["__t"], json!("c"));
}

#[test]
fn a_dtdl_model_types_a_writable_property_and_a_command() {
    let folder = tempfile::tempdir().unwrap();
    let models = folder.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::fs::write(models.join("TemperatureController.json"), CONTROLLER).unwrap();
    let thermostat = folder.path().join("Thermostat.json");
    std::fs::write(&thermostat, THERMOSTAT).unwrap();
    let chosen = thermostat.clone();
    let picker: FilePicker = Arc::new(move |_: &_| PickedFile::Chosen(chosen.clone()));
    let settings = Settings {
        models_folder: models.display().to_string(),
        ..Settings::default()
    };
    let mut harness = explorer(folder.path(), picker, settings);
    wait_for(&mut harness, "the models folder", |h| {
        has_text(h, "1 interface loaded from the models folder")
    });
    harness.get_by_label("Hub").click_accesskit();
    // The item's label carries its shortcut too.
    wait_for(&mut harness, "the Hub menu", |h| {
        h.query_by_label_contains("Open model…").is_some()
    });
    harness.get_by_label_contains("Open model…").click();
    wait_for(&mut harness, "the opened model", |h| {
        has_text(h, "1 interface loaded from the model file")
    });

    controller_device(&mut harness, "demo-005");
    harness.get_by_label("Plug and Play").click();
    wait_for(&mut harness, "the typed view", |h| {
        has_text(h, "Typed by the model Temperature Controller")
    });
    assert!(has_text(&harness, "thermostat2"), "declared by the model");
    assert!(
        has_text(&harness, "'deviceInformation' uses"),
        "its interface is missing"
    );

    let field = "New value of thermostat1.targetTemperature";
    let set = "Set desired thermostat1.targetTemperature";
    replace_text(&mut harness, field, "warm");
    wait_for(&mut harness, "the schema's error", |h| {
        has_text(h, "thermostat1.targetTemperature: expected")
    });
    assert!(harness.get_by_label(set).accesskit_node().is_disabled());
    replace_text(&mut harness, field, "23.5");
    harness.step();
    assert!(!has_text(
        &harness,
        "thermostat1.targetTemperature: expected"
    ));
    harness.get_by_label(set).click_accesskit();
    wait_for(&mut harness, "the write to be taken", |h| {
        has_text(h, "thermostat1.targetTemperature set (desired version")
    });
    let twin = block_on(service_client(&harness).get_twin("demo-005")).unwrap();
    let desired = &twin.properties.unwrap().desired;
    assert_eq!(
        desired["thermostat1"],
        json!({"__t": "c", "targetTemperature": 23.5})
    );

    // The model's command form: its request typed as a dateTime.
    let since = "Since of thermostat1.getMaxMinReport";
    replace_text(&mut harness, since, "yesterday");
    wait_for(&mut harness, "the request's error", |h| {
        has_text(h, "thermostat1.getMaxMinReport: expected")
    });
    replace_text(&mut harness, since, "2026-12-01T00:00:00Z");
    harness
        .get_by_label("Invoke thermostat1*getMaxMinReport")
        .click_accesskit();
    wait_for(&mut harness, "the device's answer", |h| {
        has_text(h, "thermostat1*getMaxMinReport at") && has_text(h, "status 404 in")
    });
}

#[test]
fn a_component_command_is_invoked_and_its_answer_shown() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    controller_device(&mut harness, "demo-004");
    harness
        .query_all_by_label("Method table")
        .find(|node| node.accesskit_node().role() == egui::accesskit::Role::DisclosureTriangle)
        .unwrap()
        .click();
    harness.step();
    replace_text(
        &mut harness,
        "Method table",
        &json!({"thermostat1*getMaxMinReport": {"status": 200, "payload": {"maxTemp": 25.5, "minTemp": 19.0}}})
            .to_string(),
    );
    // AccessKit clicks reach buttons scrolled out of the panel's view, as a screen reader's do.
    harness.get_by_label("Apply method table").click_accesskit();
    harness.step();

    harness.get_by_label("Plug and Play").click();
    wait_for(&mut harness, "the command form", |h| {
        h.query_by_label("Invoke command").is_some() && has_text(h, "thermostat1")
    });
    choose(&mut harness, "Component", "thermostat1");
    replace_text(&mut harness, "Command", "getMaxMinReport");
    replace_text(&mut harness, "Command payload", "\"2026-12-01T00:00:00Z\"");
    harness.get_by_label("Invoke command").click_accesskit();
    wait_for(&mut harness, "the device's answer", |h| {
        has_text(h, "thermostat1*getMaxMinReport at") && has_text(h, "status 200 in")
    });
    let response = harness
        .get_by_label("Response of thermostat1*getMaxMinReport")
        .value()
        .unwrap();
    let response: Value = serde_json::from_str(&response).unwrap();
    assert_eq!(response["maxTemp"], json!(25.5));
}
