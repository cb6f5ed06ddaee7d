//! The explorer window driven through AccessKit with egui_kittest, against a real hub:
//! the embedded local hub each test's app starts in its own folder, on ports chosen by
//! the OS. Each test finds widgets by their labels, clicks and types as a person would,
//! and waits for the worker's answers to show up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use serde_json::{Value, json};
use twinlens::app::ExplorerApp;
use twinlens::app::StartOptions;
use twinlens::app::file_dialog::{FilePicker, PickedFile};
use twinlens::app::settings::Settings;
use twinlens::auth::ServiceConnectionString;
use twinlens::service::{ClientOptions, ServiceClient};
use twinlens::worker::{HubTarget, RemoteHub, WorkerOptions};

/// Longest wait for the worker to show an answer.
const PATIENCE: Duration = Duration::from_secs(30);

pub(super) fn explorer(
    folder: &Path,
    picker: FilePicker,
    settings: Settings,
) -> Harness<'static, ExplorerApp> {
    let embedded = HubTarget::Embedded {
        data_dir: folder.join("hub"),
        demo_devices: Some(5),
    };
    let mut harness = explorer_on(folder, embedded, picker, settings);
    wait_for(&mut harness, "the demo devices to be listed", |h| {
        h_lists(h, "demo-005")
    });
    harness
}

/// The explorer connecting to `hub` at start.
fn explorer_on(
    folder: &Path,
    hub: HubTarget,
    picker: FilePicker,
    settings: Settings,
) -> Harness<'static, ExplorerApp> {
    let options = StartOptions {
        hub: Some(hub),
        embedded: HubTarget::Embedded {
            data_dir: folder.join("hub"),
            demo_devices: Some(5),
        },
        open_device: None,
        simulate: false,
        tab: None,
        connections_path: Some(folder.join("connections.json")),
        saved_connections: Vec::new(),
        picker,
        settings,
        // A hub that stops answering shows up after one retry, not four.
        worker: WorkerOptions { service_retries: 1 },
    };
    let app = ExplorerApp::new(options, Arc::new(|| {})).unwrap();
    Harness::builder()
        .with_size([1500.0, 950.0])
        .build_ui_state(|ui, app: &mut ExplorerApp| app.frame_ui(ui), app)
}

pub(super) fn no_dialogs() -> FilePicker {
    Arc::new(|_: &_| PickedFile::Unavailable("no dialogs in tests".into()))
}

/// Steps frames until `done` holds, failing with `what` after [`PATIENCE`].
pub(super) fn wait_for(
    harness: &mut Harness<'_, ExplorerApp>,
    what: &str,
    done: impl Fn(&Harness<'_, ExplorerApp>) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        harness.step();
        if done(harness) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(15));
    }
}

pub(super) fn has_text(harness: &Harness<'_, ExplorerApp>, fragment: &str) -> bool {
    harness
        .query_all_by_label_contains(fragment)
        .next()
        .is_some()
}

/// Clicks a device's row and waits for its twin in the editor.
pub(super) fn open_device(harness: &mut Harness<'_, ExplorerApp>, device_id: &str) {
    harness
        .query_all_by_label(device_id)
        .next()
        .unwrap()
        .click();
    wait_for(harness, "the twin editor", |h| {
        h.query_by_label("Twin editor").is_some() && has_text(h, "etag")
    });
}

/// Replaces the editor's whole text, typing as a user would.
fn type_into_editor(harness: &mut Harness<'_, ExplorerApp>, text: &str) {
    harness.get_by_label("Twin editor").focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.step();
    harness.get_by_label("Twin editor").type_text(text);
    harness.step();
    harness.step();
}

fn editor_text(harness: &Harness<'_, ExplorerApp>) -> String {
    harness
        .get_by_label("Twin editor")
        .value()
        .unwrap_or_default()
}

/// The twin's identity section as shown in the twin view.
fn shown_identity(harness: &Harness<'_, ExplorerApp>) -> Value {
    let text = harness
        .get_by_role_and_label(egui::Role::TextInput, "Identity")
        .value()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A service client of the app's embedded hub, to change twins behind its back.
pub(super) fn service_client(harness: &Harness<'_, ExplorerApp>) -> ServiceClient {
    let local = harness.state().local_hub().unwrap();
    let service: ServiceConnectionString = local.service_connection_string.parse().unwrap();
    ServiceClient::new(
        &service,
        ClientOptions {
            base_url: Some(local.http_url.clone()),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

pub(super) fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn edited_desired(harness: &Harness<'_, ExplorerApp>, change: impl FnOnce(&mut Value)) -> String {
    let mut document: Value = serde_json::from_str(&editor_text(harness)).unwrap();
    change(&mut document);
    document.to_string()
}

#[test]
fn editing_desired_and_saving_bumps_the_version() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    open_device(&mut harness, "demo-001");
    let before = shown_identity(&harness)["version"].as_u64().unwrap();

    let text = edited_desired(&harness, |doc| {
        doc["properties"]["desired"]["fanSpeed"] = json!(3);
    });
    type_into_editor(&mut harness, &text);
    wait_for(&mut harness, "the patch preview", |h| {
        has_text(h, "+ properties.desired.fanSpeed: 3")
    });
    harness.get_by_label("Save").click();
    wait_for(&mut harness, "the saved version", |h| {
        has_text(h, "Saved the twin of demo-001")
    });
    wait_for(&mut harness, "the new version in the twin view", |h| {
        shown_identity(h)["version"].as_u64().unwrap() > before
    });
    assert!(
        has_text(&harness, "Valid, no changes"),
        "the editor starts over from the saved twin"
    );

    let twin = block_on(service_client(&harness).get_twin("demo-001")).unwrap();
    let twin = serde_json::to_value(twin).unwrap();
    assert_eq!(twin["properties"]["desired"]["fanSpeed"], json!(3));
}

#[test]
fn bad_json_is_pointed_at_and_not_saved() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    open_device(&mut harness, "demo-002");
    type_into_editor(&mut harness, "{\"tags\": {,}}");
    wait_for(&mut harness, "the syntax error", |h| {
        has_text(h, "Error: line 1, column")
    });
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    wait_for(&mut harness, "the refusal", |h| {
        has_text(h, "Nothing saved: fix the error shown in the editor first")
    });
}

#[test]
fn a_conflicting_save_shows_their_changes_and_merges() {
    let folder = tempfile::tempdir().unwrap();
    let settings = Settings {
        twin_refresh_secs: 600.0,
        ..Settings::default()
    };
    let mut harness = explorer(folder.path(), no_dialogs(), settings);
    open_device(&mut harness, "demo-002");
    let text = edited_desired(&harness, |doc| {
        doc["properties"]["desired"]["mine"] = json!("from the editor");
    });
    type_into_editor(&mut harness, &text);

    let client = service_client(&harness);
    block_on(client.patch_twin(
        "demo-002",
        &json!({"properties": {"desired": {"theirs": "from elsewhere"}}}),
        None,
    ))
    .unwrap();

    harness.get_by_label("Save").click();
    wait_for(&mut harness, "the conflict", |h| {
        has_text(h, "The hub refused the save (412)")
    });
    assert!(
        has_text(&harness, "+ properties.desired.theirs"),
        "their change is listed"
    );
    harness.get_by_label("Merge my edits").click();
    wait_for(&mut harness, "the merged text", |h| {
        let text = editor_text(h);
        text.contains("from the editor") && text.contains("from elsewhere")
    });
    harness.get_by_label("Save").click();
    wait_for(&mut harness, "the merged save", |h| {
        has_text(h, "Saved the twin of demo-002")
    });

    let twin = serde_json::to_value(block_on(client.get_twin("demo-002")).unwrap()).unwrap();
    assert_eq!(
        twin["properties"]["desired"]["mine"],
        json!("from the editor")
    );
    assert_eq!(
        twin["properties"]["desired"]["theirs"],
        json!("from elsewhere")
    );
}

#[test]
fn queries_narrow_the_list_and_bad_ones_are_explained() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_label("Query")
        .type_text("SELECT * FROM devices WHERE deviceId = 'demo-004'");
    harness.step();
    harness.get_by_label("Run").click();
    wait_for(&mut harness, "one device listed", |h| {
        h_lists(h, "demo-004") && !h_lists(h, "demo-001")
    });
    assert!(has_text(&harness, "1 devices"));

    harness.get_by_label("Query").focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_label("Query")
        .type_text("SELECT * FROM devices WHERE");
    harness.step();
    harness.get_by_label("Run").click();
    wait_for(&mut harness, "the query error", |h| has_text(h, "^"));
    assert!(h_lists(&harness, "demo-004"), "the old result stays listed");
}

#[test]
fn the_list_asks_only_for_its_columns_and_an_added_column_sorts_and_filters() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    let request = harness.state().last_list_request().unwrap().to_owned();
    assert_eq!(
        request,
        "SELECT deviceId, status, connectionState, lastActivityTime, tags.location.city AS c0 FROM devices",
        "the list asks for a projection of its columns, not whole twins"
    );

    // What the hub holds, to check the list against.
    let client = service_client(&harness);
    let rows = block_on(async {
        let pages = client.query(
            "SELECT deviceId, tags.location.floor AS floor, tags.location.city AS city FROM devices",
            None,
        );
        futures_util::pin_mut!(pages);
        let mut rows = Vec::new();
        while let Some(page) = futures_util::StreamExt::next(&mut pages).await {
            rows.extend(page.unwrap().rows);
        }
        rows
    });
    let mut by_floor: Vec<(i64, String)> = rows
        .iter()
        .map(|row| {
            (
                row["floor"].as_i64().unwrap(),
                row["deviceId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    by_floor.sort();

    harness.get_by_label("Column").focus();
    harness.step();
    harness
        .get_by_label("Column")
        .type_text("tags.location.floor");
    harness.step();
    harness.get_by_label("Add").click();
    let (first_floor, first_device) = &by_floor[0];
    let floor_cell = format!("tags.location.floor: {first_floor}");
    wait_for(&mut harness, "the added column's values", |h| {
        h.state().devices_listed() == 5
            && has_text(h, "tags.location.floor")
            && h.query_by_label(first_device).is_some_and(|row| {
                row.accesskit_node()
                    .description()
                    .is_some_and(|cells| cells.ends_with(&floor_cell))
            })
    });
    harness.get_by_label("tags.location.floor").click();
    harness.step();
    harness.step();
    let shown_order: Vec<String> = {
        let mut shown: Vec<(f32, String)> = by_floor
            .iter()
            .map(|(_, id)| (harness.get_by_label(id).rect().min.y, id.clone()))
            .collect();
        shown.sort_by(|a, b| a.0.total_cmp(&b.0));
        shown.into_iter().map(|(_, id)| id).collect()
    };
    let expected: Vec<String> = by_floor.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(shown_order, expected, "sorted by the fetched floor");

    let city = rows[0]["city"].as_str().unwrap().to_owned();
    let in_city = rows
        .iter()
        .filter(|row| row["city"] == city.as_str())
        .count();
    harness.get_by_label("Filter").focus();
    harness.step();
    harness.get_by_label("Filter").type_text(&city);
    harness.step();
    harness.step();
    assert!(
        has_text(&harness, &format!("{in_city} of 5 devices")),
        "the filter narrows to the devices in {city}"
    );
    let device = rows[0]["deviceId"].as_str().unwrap().to_owned();
    open_device(&mut harness, &device);
    let reported = harness
        .get_by_role_and_label(egui::Role::TextInput, "Reported properties")
        .value()
        .unwrap();
    let reported: Value = serde_json::from_str(&reported).unwrap();
    assert!(
        reported["sensors"]["temperature"].is_number(),
        "the open twin is read whole: {reported}"
    );

    // Listing again asks for both columns, by position.
    harness.key_press(Key::F5);
    wait_for(&mut harness, "the list read again", |h| {
        h.state()
            .last_list_request()
            .is_some_and(|request| request.contains("tags.location.floor AS c1"))
    });
}

#[test]
fn rows_mark_with_ctrl_click_and_open_from_their_context_menu() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    for device_id in ["demo-002", "demo-004"] {
        harness
            .get_by_label(device_id)
            .click_modifiers(Modifiers::COMMAND);
        harness.step();
    }
    harness.step();
    assert!(has_text(&harness, "5 devices, 2 marked"), "two rows marked");
    assert!(
        harness.query_by_label("Twin editor").is_none(),
        "Ctrl+click marks without opening"
    );
    harness
        .get_by_label("demo-004")
        .click_modifiers(Modifiers::COMMAND);
    harness.step();
    harness.step();
    assert!(
        has_text(&harness, "5 devices, 1 marked"),
        "Ctrl+click again unmarks"
    );

    harness.get_by_label("demo-003").click_secondary();
    wait_for(&mut harness, "the row's context menu", |h| {
        h.query_by_label("Simulate this device").is_some()
    });
    assert_eq!(
        harness.query_all_by_label("demo-003").count(),
        2,
        "the menu names the device it was opened on"
    );
    harness.get_by_label("Open").click();
    wait_for(&mut harness, "demo-003's twin", |h| {
        h.query_by_label("Twin editor").is_some() && has_text(h, "etag")
    });
    let identity = harness
        .get_by_role_and_label(egui::Role::TextInput, "Identity")
        .value()
        .unwrap();
    assert!(identity.contains("\"demo-003\""), "{identity}");
}

fn h_lists(harness: &Harness<'_, ExplorerApp>, device_id: &str) -> bool {
    harness.query_all_by_label(device_id).next().is_some()
}

#[test]
fn a_simulated_device_acknowledges_desired_and_answers_methods() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    open_device(&mut harness, "demo-003");
    harness.get_by_label("Simulate").click();
    harness.step();
    harness.get_by_label("Connect as device").click();
    wait_for(&mut harness, "the device to connect", |h| {
        has_text(h, "• connected")
    });

    harness.get_by_label("Edit twin").click();
    harness.step();
    let text = edited_desired(&harness, |doc| {
        doc["properties"]["desired"]["mode"] = json!("eco");
    });
    type_into_editor(&mut harness, &text);
    harness.get_by_label("Save").click();
    wait_for(&mut harness, "the acknowledgement in reported", |h| {
        h.query_by_role_and_label(egui::Role::TextInput, "Reported properties")
            .and_then(|node| node.value())
            .is_some_and(|reported| reported.contains("\"mode\": \"eco\""))
    });

    harness.get_by_label("Methods").click();
    harness.step();
    harness.get_by_label("Invoke").click();
    wait_for(&mut harness, "the method's answer", |h| {
        has_text(h, "→ status 200 in")
    });
    assert!(has_text(&harness, "rebooting"));
}

#[test]
fn a_model_id_that_is_no_dtmi_is_explained_and_the_device_not_connected() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    open_device(&mut harness, "demo-005");
    harness.get_by_label("Simulate").click();
    harness.step();
    let type_model_id = |harness: &mut Harness<'_, ExplorerApp>, text: &str| {
        harness
            .get_by_role_and_label(egui::Role::TextInput, "Model id")
            .focus();
        harness.step();
        harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
        harness.step();
        harness
            .get_by_role_and_label(egui::Role::TextInput, "Model id")
            .type_text(text);
        harness.step();
        harness.step();
    };

    type_model_id(&mut harness, "thermostat");
    assert!(has_text(&harness, "\"thermostat\" is not a DTMI model id"));
    assert!(
        harness
            .get_by_label("Connect as device")
            .accesskit_node()
            .is_disabled()
    );

    type_model_id(&mut harness, "dtmi:com:example:Thermostat;1");
    assert!(!has_text(&harness, "is not a DTMI model id"));
    harness.get_by_label("Connect as device").click();
    wait_for(&mut harness, "the device to connect", |h| {
        has_text(h, "• connected")
    });
}

#[test]
fn exporting_the_open_twin_through_the_save_dialog() {
    let folder = tempfile::tempdir().unwrap();
    let target: PathBuf = folder.path().join("exported.json");
    let chosen = target.clone();
    let picker: FilePicker = Arc::new(move |_: &_| PickedFile::Chosen(chosen.clone()));
    let mut harness = explorer(folder.path(), picker, Settings::default());
    open_device(&mut harness, "demo-004");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::E);
    wait_for(&mut harness, "the export dialog", |h| {
        has_text(h, "Export twins to a snapshot")
    });
    harness.get_by_label("Browse…").click();
    wait_for(&mut harness, "the chosen path", |h| {
        h.get_by_label("File")
            .value()
            .is_some_and(|path| path.ends_with("exported.json"))
    });
    harness.get_by_label("Export").click();
    wait_for(&mut harness, "the export", |h| {
        has_text(h, "Exported 1 twins")
    });

    let snapshot = twinlens::snapshot::read_snapshot(&target).unwrap();
    assert_eq!(snapshot.twins.len(), 1);
    assert_eq!(snapshot.twins[0]["deviceId"], json!("demo-004"));
    assert_eq!(
        snapshot.header.query, "SELECT * FROM devices WHERE deviceId IN ['demo-004']",
        "the snapshot says how to select the same devices again"
    );
    assert!(twinlens::query::parse(&snapshot.header.query).is_ok());
}

#[test]
fn without_a_native_dialog_the_path_is_typed_and_the_reason_given() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    open_device(&mut harness, "demo-001");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::E);
    wait_for(&mut harness, "the export dialog", |h| {
        has_text(h, "Export twins to a snapshot")
    });
    harness.get_by_label("Browse…").click();
    wait_for(&mut harness, "the fallback note", |h| {
        has_text(h, "type the file's path above instead")
    });
    let target = folder.path().join("typed.ndjson");
    harness.get_by_label("File").focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_label("File")
        .type_text(&target.display().to_string());
    harness.step();
    harness.get_by_label("Export").click();
    wait_for(&mut harness, "the export", |h| {
        has_text(h, "Exported 1 twins")
    });
    assert!(target.exists());
}

#[test]
fn a_device_deleted_elsewhere_is_reported_in_place() {
    let folder = tempfile::tempdir().unwrap();
    let settings = Settings {
        twin_refresh_secs: 0.5,
        ..Settings::default()
    };
    let mut harness = explorer(folder.path(), no_dialogs(), settings);
    open_device(&mut harness, "demo-005");
    block_on(service_client(&harness).delete_device("demo-005", None)).unwrap();
    wait_for(&mut harness, "the message in place", |h| {
        has_text(h, "demo-005 no longer exists on the hub")
    });
    harness
        .query_all_by_label("demo-001")
        .next()
        .unwrap()
        .click();
    wait_for(&mut harness, "the next twin", |h| {
        // The message left the twin view; the event log keeps its copy.
        h.query_all_by_label_contains("no longer exists").count() == 1
            && h.query_all_by_label("demo-001").count() >= 2
            && editor_text(h).contains("tags")
    });
}

/// Writes a snapshot holding `twin`.
fn write_snapshot(path: &Path, twin: &Value) {
    let header = twinlens::snapshot::SnapshotHeader {
        hub_host_name: "elsewhere".into(),
        query: "SELECT * FROM devices WHERE deviceId = 'demo-002'".into(),
        taken_at: "2026-11-01T00:00:00Z".into(),
    };
    let mut writer = twinlens::snapshot::SnapshotWriter::create(path, &header).unwrap();
    writer.write_twin(twin).unwrap();
    writer.finish().unwrap();
}

fn open_snapshot_dialog(harness: &mut Harness<'_, ExplorerApp>, item: &str, path: &Path) {
    harness.get_by_label("Hub").click_accesskit();
    wait_for(harness, "the Hub menu", |h| {
        h.query_by_label(item).is_some()
    });
    harness.get_by_label(item).click();
    wait_for(harness, "the snapshot dialog", |h| {
        h.query_by_label("Snapshot file").is_some()
    });
    harness.get_by_label("Snapshot file").focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_label("Snapshot file")
        .type_text(&path.display().to_string());
    harness.step();
    harness.step();
}

#[test]
fn a_snapshot_is_compared_then_imported_after_a_dry_run() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    let client = service_client(&harness);
    let mut twin = serde_json::to_value(block_on(client.get_twin("demo-002")).unwrap()).unwrap();
    twin["properties"]["desired"]["restoredSetting"] = json!("from the snapshot");
    twin["properties"]["reported"]["neverWritten"] = json!(true);
    let snapshot = folder.path().join("before.json");
    write_snapshot(&snapshot, &twin);

    open_snapshot_dialog(&mut harness, "Compare with snapshot…", &snapshot);
    harness.get_by_label("Compare").click();
    wait_for(&mut harness, "the comparison", |h| {
        has_text(h, "1 differ from the hub")
    });
    assert!(has_text(&harness, "properties.desired.restoredSetting"));
    harness.get_by_label("Close").click();
    harness.step();

    open_snapshot_dialog(&mut harness, "Import snapshot…", &snapshot);
    harness.get_by_label("Preview (dry run)").click();
    wait_for(&mut harness, "the dry run", |h| {
        has_text(h, "Dry run: 1 to update")
    });
    let untouched = serde_json::to_value(block_on(client.get_twin("demo-002")).unwrap()).unwrap();
    assert!(
        untouched["properties"]["desired"]
            .get("restoredSetting")
            .is_none(),
        "a dry run writes nothing"
    );
    // The dialog grows with the preview and settles its position a frame later.
    harness.run_steps(3);
    harness.get_by_label("Import 1 devices…").click();
    wait_for(&mut harness, "the confirmation", |h| {
        h.query_by_label("Import now").is_some()
    });
    harness.run_steps(3);
    harness.get_by_label("Import now").click();
    wait_for(&mut harness, "the import", |h| {
        has_text(h, "Imported: 1 updated")
    });

    let after = serde_json::to_value(block_on(client.get_twin("demo-002")).unwrap()).unwrap();
    assert_eq!(
        after["properties"]["desired"]["restoredSetting"],
        json!("from the snapshot")
    );
    assert!(
        after["properties"]["reported"]
            .get("neverWritten")
            .is_none()
    );
}

#[test]
fn saved_connections_are_private_masked_and_a_dead_hub_is_explained() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    harness.get_by_label("Hub").click_accesskit();
    wait_for(&mut harness, "the Hub menu", |h| {
        h.query_by_label("Connect…").is_some()
    });
    harness.get_by_label("Connect…").click();
    wait_for(&mut harness, "the connections dialog", |h| {
        h.query_by_label("Connection string").is_some()
    });
    let secret = "c2VjcmV0LWtleS1mb3ItdGVzdHM=";
    let unreachable =
        format!("HostName=127.0.0.1:1;SharedAccessKeyName=iothubowner;SharedAccessKey={secret}");
    harness.get_by_label("Connection string").focus();
    harness.step();
    harness
        .get_by_label("Connection string")
        .type_text(&unreachable);
    harness.get_by_label("Name").focus();
    harness.step();
    harness.get_by_label("Name").type_text("nowhere");
    harness
        .get_by_label("Save this connection (in a file only you can read)")
        .click();
    harness.step();
    harness.get_by_label("Connect").click();
    wait_for(&mut harness, "the failure to connect", |h| {
        has_text(h, "could not reach 127.0.0.1:1")
    });

    let file = folder.path().join("connections.json");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains(secret) && saved.contains("nowhere"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the user may read the keys");
    }
    wait_for(
        &mut harness,
        "the dialog offering the saved connection",
        |h| has_text(h, "SharedAccessKey=***"),
    );
    assert!(!has_text(&harness, secret), "the key is never shown");

    harness.get_by_label("Use the embedded local hub").click();
    wait_for(&mut harness, "the embedded hub again", |h| {
        h_lists(h, "demo-005")
    });
}

#[test]
fn devices_are_created_and_deleted_after_confirmation() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    harness.get_by_label("New device…").click();
    wait_for(&mut harness, "the new-device dialog", |h| {
        h.query_by_label("Device id").is_some()
    });
    harness.get_by_label("Device id").type_text("bad id!");
    harness.step();
    harness.get_by_label("Create").click();
    wait_for(&mut harness, "the id rule", |h| has_text(h, "contains ' '"));
    harness.get_by_label("Device id").focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.get_by_label("Device id").type_text("sensor-042");
    harness.step();
    harness.get_by_label("Create").click();
    wait_for(&mut harness, "the new device, open", |h| {
        has_text(h, "Created device sensor-042") && h.query_all_by_label("sensor-042").count() >= 2
    });

    harness.get_by_label("Hub").click_accesskit();
    wait_for(&mut harness, "the Hub menu", |h| {
        h.query_by_label("Delete sensor-042…").is_some()
    });
    harness.get_by_label("Delete sensor-042…").click();
    wait_for(&mut harness, "the confirmation", |h| {
        h.query_by_label("Delete device").is_some()
    });
    harness.run_steps(3);
    harness.get_by_label("Delete device").click();
    wait_for(&mut harness, "the deletion", |h| {
        has_text(h, "Deleted device sensor-042") && !h_lists(h, "sensor-042")
    });
    let gone = block_on(service_client(&harness).get_twin("sensor-042"));
    assert!(gone.is_err());
}

#[test]
fn a_separately_run_hub_is_reached_with_its_ca_and_its_loss_is_shown() {
    let folder = tempfile::tempdir().unwrap();
    let hub =
        crate::common::HubProcess::start(&folder.path().join("remote"), &["--tls", "--demo", "3"]);
    let ca_pem = std::fs::read_to_string(hub.ready["ca_cert"].as_str().unwrap()).unwrap();
    let remote = RemoteHub {
        connection_string: hub.ready["service_connection_string"]
            .as_str()
            .unwrap()
            .to_owned(),
        ca_pem: Some(ca_pem),
        no_tls: false,
        mqtt_port: u16::try_from(hub.ready["mqtt_port"].as_u64().unwrap()).unwrap(),
    };
    // Refreshes every half second, so the loss shows without waiting out the default.
    let settings = Settings {
        twin_refresh_secs: 0.5,
        ..Settings::default()
    };
    let mut harness = explorer_on(
        folder.path(),
        HubTarget::Remote(remote),
        no_dialogs(),
        settings,
    );
    wait_for(&mut harness, "the remote hub's devices", |h| {
        h_lists(h, "demo-003")
    });
    assert!(!has_text(&harness, "embedded local hub"));
    open_device(&mut harness, "demo-002");
    harness.get_by_label("Simulate").click();
    harness.step();
    harness.get_by_label("Connect as device").click();
    wait_for(&mut harness, "the device over MQTTS", |h| {
        has_text(h, "• connected")
    });

    hub.kill();
    wait_for(&mut harness, "the status bar to say the hub is down", |h| {
        has_text(h, ": not answering")
    });
    harness
        .query_all_by_label("demo-001")
        .next()
        .unwrap()
        .click();
    wait_for(&mut harness, "the failed read explained in place", |h| {
        has_text(h, "Reading the twin of demo-001 failed")
    });
}

#[test]
fn a_module_twin_opens_from_its_device_and_its_desired_is_saved() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    let client = service_client(&harness);
    block_on(client.create_module("demo-001", "filter-module", None)).unwrap();
    open_device(&mut harness, "demo-001");
    // The device's row expands to list its module, and the twin view names it too.
    wait_for(&mut harness, "the device's modules", |h| {
        has_text(h, "Modules (1)") && h.query_all_by_label("filter-module").count() == 2
    });
    for place in [0, 1] {
        harness
            .query_all_by_label("filter-module")
            .nth(place)
            .unwrap()
            .click();
        wait_for(&mut harness, "the module's twin", |h| {
            has_text(h, "module filter-module of demo-001")
                && shown_identity(h)["moduleId"] == "filter-module"
        });
        if place == 0 {
            harness.get_by_label("device twin").click();
            wait_for(&mut harness, "the device's twin", |h| {
                shown_identity(h).get("moduleId").is_none()
            });
        }
    }
    let text = edited_desired(&harness, |doc| {
        doc["properties"]["desired"]["threshold"] = json!(42);
    });
    type_into_editor(&mut harness, &text);
    wait_for(&mut harness, "the patch preview", |h| {
        has_text(h, "+ properties.desired.threshold: 42")
    });
    harness.get_by_label("Save").click();
    wait_for(&mut harness, "the saved module twin", |h| {
        has_text(h, "Saved the twin of module filter-module of demo-001")
    });

    let module_twin = block_on(client.get_module_twin("demo-001", "filter-module")).unwrap();
    assert_eq!(module_twin.properties.unwrap().desired["threshold"], 42);
    let device_twin = block_on(client.get_twin("demo-001")).unwrap();
    assert!(
        !device_twin
            .properties
            .unwrap()
            .desired
            .contains_key("threshold"),
        "the device's own twin is untouched"
    );

    // Back to the device's twin.
    harness.get_by_label("device twin").click();
    wait_for(&mut harness, "the device's twin again", |h| {
        shown_identity(h).get("moduleId").is_none() && shown_identity(h)["deviceId"] == "demo-001"
    });
}

#[test]
fn a_bulk_desired_update_runs_as_a_job_and_changes_the_twins() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    harness.get_by_label("Update twins…").click();
    wait_for(&mut harness, "the preview count", |h| {
        has_text(h, "5 device(s) match")
    });
    let patch = "{\"properties\": {\"desired\": {\"firmware\": \"3.1\"}}}";
    let field = "Patch (tags and desired properties; null removes a key)";
    harness.get_by_label(field).focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.step();
    harness.get_by_label(field).type_text(patch);
    harness.step();
    harness.get_by_label("Run as job").click();
    wait_for(&mut harness, "the job to complete", |h| {
        has_text(h, "completed: 5 succeeded, 0 failed")
    });
    wait_for(&mut harness, "the per-device results", |h| {
        has_text(h, "Results (5 devices)")
    });
    let client = service_client(&harness);
    for index in 1..=5 {
        let twin = block_on(client.get_twin(&format!("demo-00{index}"))).unwrap();
        assert_eq!(twin.properties.unwrap().desired["firmware"], "3.1");
    }
}

/// Connects the open device as a simulated device from the Simulate tab.
pub(super) fn simulate_open_device(harness: &mut Harness<'_, ExplorerApp>) {
    harness.get_by_label("Simulate").click();
    harness.step();
    harness.get_by_label("Connect as device").click();
    wait_for(harness, "the device to connect", |h| {
        has_text(h, "• connected")
    });
}

#[test]
fn a_simulated_devices_telemetry_is_listed_and_charted() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    open_device(&mut harness, "demo-002");
    simulate_open_device(&mut harness);
    harness.get_by_label("Send telemetry").click();
    harness.step();
    harness.get_by_label("Start telemetry").click();
    harness.step();
    harness.get_by_label("Telemetry").click();
    wait_for(&mut harness, "the message in the list", |h| {
        has_text(h, "\"temperature\"")
    });
    // The first numeric field is charted, with points.
    wait_for(&mut harness, "a charted field with points", |h| {
        h.query_all_by_label_contains(" points, latest")
            .any(|node| {
                node.accesskit_node()
                    .value()
                    .is_some_and(|text| !text.contains(": 0 points"))
            })
    });
    assert!(has_text(&harness, "Live"));
    // Another field can be added to the chart.
    harness.get_by_label("humidity").click();
    wait_for(&mut harness, "humidity on the chart", |h| {
        has_text(h, "humidity: ")
    });

    // What is shown is exported, and new messages are recorded until stopped.
    let shown = folder.path().join("shown.ndjson");
    type_path(&mut harness, "NDJSON file", &shown);
    harness.get_by_label("Export shown").click();
    wait_for(&mut harness, "the export", |h| {
        has_text(h, "telemetry messages written to")
    });
    let exported = std::fs::read_to_string(&shown).unwrap();
    let first: Value = serde_json::from_str(exported.lines().next().unwrap()).unwrap();
    assert_eq!(first["deviceId"], "demo-002");
    assert!(first["body"]["temperature"].is_number(), "{first}");
    let recorded = folder.path().join("recorded.ndjson");
    type_path(&mut harness, "NDJSON file", &recorded);
    harness.get_by_label("Record to file").click();
    wait_for(&mut harness, "the recording to start", |h| {
        has_text(h, "Recording every new message to")
    });
    // The simulated device sends every 5 s.
    wait_for(&mut harness, "a recorded message", |_| {
        std::fs::read_to_string(&recorded).is_ok_and(|text| text.lines().count() >= 1)
    });
    harness.get_by_label("Stop recording").click();
    wait_for(&mut harness, "the recording to stop", |h| {
        has_text(h, "Recording of demo-002 stopped")
    });
}

/// Replaces the text of the path field labelled `label` with `path`.
pub(super) fn type_path(harness: &mut Harness<'_, ExplorerApp>, label: &str, path: &Path) {
    replace_text(harness, label, &path.display().to_string());
}

/// Replaces the text of the text field labelled `label` with `text`, typing as a user
/// would.
pub(super) fn replace_text(harness: &mut Harness<'_, ExplorerApp>, label: &str, text: &str) {
    text_field(harness, label).focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    text_field(harness, label).type_text(text);
    harness.step();
}

/// The one- or multi-line text field labelled `label` (a section may share its label).
pub(super) fn text_field<'h>(
    harness: &'h Harness<'_, ExplorerApp>,
    label: &'h str,
) -> egui_kittest::Node<'h> {
    harness
        .query_all_by_label(label)
        .find(|node| {
            matches!(
                node.accesskit_node().role(),
                egui::accesskit::Role::TextInput | egui::accesskit::Role::MultilineTextInput
            )
        })
        .unwrap_or_else(|| panic!("no text field labelled {label}"))
}

#[test]
fn a_message_sent_from_the_messages_tab_reaches_the_simulated_device() {
    let folder = tempfile::tempdir().unwrap();
    let mut harness = explorer(folder.path(), no_dialogs(), Settings::default());
    open_device(&mut harness, "demo-004");
    simulate_open_device(&mut harness);
    harness.get_by_label("Messages").click();
    harness.step();
    harness.get_by_label("Add property").click();
    harness.step();
    harness.get_by_label("Send message").click();
    wait_for(&mut harness, "the device's receipt in the history", |h| {
        has_text(h, "received and completed by the device")
    });
    harness.get_by_label("Simulate").click();
    wait_for(&mut harness, "the message in the simulator's log", |h| {
        has_text(h, "C2D message {")
    });
    assert!(has_text(&harness, "1 C2D received"));
}
