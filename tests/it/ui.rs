//! The GUI with `egui_kittest`: navigation, ticking by label, the audit panel, tasks in the tray,
//! settings that show secret names but never values, and the folder picker seam.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use release_console::deploy::argocd::Health;
use release_console::gates::State as GateState;
use release_console::runner::{Runner, TaskState};
use release_console::ui::{ConsoleApp, PickKind, Picker, Tab};
use release_console::workspace::{Origin, Workspace};

/// Answers every picker with fixed paths: a workspace folder, artifacts, or scanner output.
struct FixedPicker {
    workspace: PathBuf,
    artifacts: Vec<PathBuf>,
    findings: Vec<PathBuf>,
}

impl Picker for FixedPicker {
    fn pick(
        &self,
        _handle: &tokio::runtime::Handle,
        kind: PickKind,
        reply: Box<dyn FnOnce(Vec<PathBuf>) + Send>,
    ) {
        match kind {
            PickKind::Workspace => reply(vec![self.workspace.clone()]),
            PickKind::ArtifactFiles | PickKind::ArtifactFolder => reply(self.artifacts.clone()),
            PickKind::FindingsFiles => reply(self.findings.clone()),
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    root: PathBuf,
    other: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("wiretuner");
    let ws = Workspace::init(&root, "WireTuner").expect("init");
    ws.create_release("1.4.0", None).expect("release");
    let other = dir.path().join("other");
    let ws2 = Workspace::init(&other, "OtherApp").expect("init other");
    ws2.create_release("3.0.0", None).expect("release other");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    Fixture {
        _dir: dir,
        rt,
        root,
        other,
    }
}

fn harness(f: &Fixture) -> Harness<'static, ConsoleApp> {
    let runner = Runner::new(f.rt.handle().clone(), 2);
    let root = f.root.clone();
    let picker: Arc<dyn Picker> = Arc::new(FixedPicker {
        workspace: f.other.clone(),
        artifacts: vec![f.root.join("picked.txt")],
        findings: vec![vendor("trivy/alpine-39-high-critical.json")],
    });
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 900.0))
        .build_eframe(move |cc| ConsoleApp::new(&cc.egui_ctx, runner, root, Origin::Flag, picker));
    step_until(&mut h, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    h
}

/// A scanner sample in `tests/fixtures/vendor`.
fn vendor(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vendor")
        .join(rel)
}

/// A file dropped on the window, as the windowing layer hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Drops `path` on the window and lets the frame that receives it run.
fn drop_file(h: &mut Harness<'static, ConsoleApp>, path: PathBuf) {
    h.input_mut().dropped_files.push(Arc::new(Dropped(path)));
    h.step();
    h.step();
}

/// Steps frames until `cond` holds (background work arrives between frames).
fn step_until(
    h: &mut Harness<'static, ConsoleApp>,
    what: &str,
    cond: impl Fn(&ConsoleApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        h.step();
        if cond(h.state()) {
            h.step();
            return;
        }
        if Instant::now() >= deadline {
            let app = h.state();
            let tasks: Vec<_> = app
                .runner()
                .tasks()
                .iter()
                .map(|t| (t.info.name.clone(), t.state, t.message.clone()))
                .collect();
            panic!(
                "timed out waiting for {what}; busy: {}; tasks: {tasks:?}; toasts: {:?}",
                app.is_busy(),
                app.toasts.items()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Clicks the widget labelled `label` and lets the frames run (input, then the redraw).
/// Types `text` into the Audit panel's filter and waits until its rows are the filtered ones.
fn filter_audit(h: &mut Harness<'static, ConsoleApp>, text: &str) {
    click(h, "Audit filter");
    h.get_by_label("Audit filter").type_text(text);
    step_until(h, "the search", |app| {
        !app.is_busy()
            && app
                .data
                .as_ref()
                .is_some_and(|d| app.panels.audit.is_filtered(&d.audit))
    });
}

fn click(h: &mut Harness<'static, ConsoleApp>, label: &str) {
    // Bring it into view first: a click outside the window reaches nothing.
    // (egui animates the scroll over a few frames).
    h.get_by_label(label).scroll_to_me();
    for _ in 0..20 {
        h.step();
    }
    h.get_by_label(label).click();
    h.step();
    // Move the pointer away so no tooltip covers the next target.
    h.remove_cursor();
    h.step();
}

#[test]
fn navigation_reaches_every_panel() {
    let f = fixture();
    let mut h = harness(&f);
    for tab in Tab::ALL {
        click(&mut h, tab.label());
        assert_eq!(h.state().tab, tab);
    }
    // Every tab shows its own panel (a text only that panel draws).
    for tab in Tab::ALL {
        let own = match tab {
            Tab::Overview => "Gates before publishing",
            Tab::Checklist => "WireTuner 1.4.0: Release checklist",
            Tab::Notes => "Release notes",
            Tab::Builds => "Installer builds",
            Tab::Verify => "Verify artifacts",
            Tab::Deploy => "Publish installers",
            Tab::Security => "Security gates",
            Tab::StatusPage => "Status page and incidents",
            Tab::Flags => "Feature flags",
            Tab::Metrics => "Ops metrics",
            Tab::Runbooks => "Disaster-recovery runbooks",
            Tab::Audit => "Audit log",
            Tab::Settings => "Configuration as loaded",
        };
        click(&mut h, tab.label());
        assert_eq!(h.state().tab, tab);
        assert!(h.query_by_label(own).is_some(), "{tab:?} shows {own:?}");
    }
    click(&mut h, "Overview");
    assert!(h.query_by_label("WireTuner 1.4.0").is_some());
}

#[test]
fn ticking_an_item_by_its_label_is_recorded_and_shown_in_the_audit_panel() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Checklist");
    h.get_by_label("Validate staging").click();
    step_until(&mut h, "the tick to land", |app| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| c.checklist.is_done("pre.validate-staging"))
    });
    // The toast names the item by its title, not its id.
    step_until(&mut h, "the tick's toast", |app| {
        app.toasts
            .items()
            .iter()
            .any(|t| t.text == "Ticked \"Validate staging\"")
    });
    // Who and when are shown next to the item.
    assert!(h.query_by_label_contains("ticked by").is_some());
    assert!(h.query_by_label("1 of 3 done").is_some());

    // Gated items cannot be ticked: the click changes nothing, in the state or the log.
    let entries_before = h.state().data.as_ref().map(|d| d.audit.len());
    click(&mut h, "Publish installers");
    for _ in 0..20 {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let data = h.state().data.as_ref().expect("data");
    assert!(
        !data
            .current
            .as_ref()
            .expect("release")
            .checklist
            .is_done("deploy.publish-installers"),
        "a gated item stays open"
    );
    assert_eq!(data.audit.len(), entries_before.unwrap_or_default());
    let ws = Workspace::open(&f.root).expect("open");
    let on_disk = ws
        .checklist(&ws.release(None).expect("release"))
        .expect("checklist");
    assert!(!on_disk.is_done("deploy.publish-installers"));
    assert_eq!(
        ws.audit().entries().expect("entries").len(),
        entries_before.unwrap_or_default()
    );

    click(&mut h, "Audit");
    step_until(&mut h, "the entries to be read", |app| !app.is_busy());
    assert!(h.query_by_label("checklist.tick").is_some());
    assert!(h.query_by_label("1.4.0/pre.validate-staging").is_some());
    assert!(h.query_by_label("CHAIN INTACT").is_some());

    // The filter narrows the table.
    filter_audit(&mut h, "release.create");
    assert!(h.query_by_label("checklist.tick").is_none());
    assert!(h.query_by_label("release.create").is_some());

    // Unticking is recorded too.
    click(&mut h, "Checklist");
    h.get_by_label("Validate staging").click();
    step_until(&mut h, "the untick to land", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| d.audit.action_names().contains(&"checklist.untick"))
    });
}

#[test]
fn the_audit_panel_pages_a_big_log_from_disk_newest_first_and_filters_it() {
    let f = fixture();
    release_console::audit::write_synthetic(&f.root, 3000).expect("synthetic log");
    let mut h = harness(&f);
    click(&mut h, "Audit");
    step_until(&mut h, "the first page", |app| !app.is_busy());
    assert!(h.query_by_label("CHAIN INTACT").is_some());
    assert!(
        h.query_by_label("3000 of 3000 entries, newest first")
            .is_some()
    );
    // The newest entries are drawn, read from disk; the oldest are not (nor read).
    assert!(h.query_by_label("3000").is_some());
    assert!(
        h.query_all_by_label("1.4.0/pre.item-4").count() > 0,
        "3000 % 7"
    );
    assert!(h.query_by_label("workspace.init").is_none());

    // carol made every third entry from the second: 2, 5, ..., 2999.
    filter_audit(&mut h, "CAROL");
    assert!(
        h.query_by_label("1000 of 3000 entries, newest first")
            .is_some()
    );
    assert!(h.query_by_label("2999").is_some());
    assert!(h.query_by_label("3000").is_none());
    assert!(h.query_by_label("alice").is_none());
}

#[test]
fn audit_entries_appended_after_the_panel_first_loaded_show_without_verify_chain() {
    let f = fixture();
    let mut h = harness(&f);
    // The panel reads its last page once: the entries the log has now.
    click(&mut h, "Audit");
    step_until(&mut h, "the first page", |app| !app.is_busy());
    assert!(h.query_by_label("release.create").is_some());
    assert!(h.query_by_label("checklist.tick").is_none());
    let before = h.state().data.as_ref().map_or(0, |d| d.audit.len());

    // Entries appended afterwards land in the page already read.
    tick(&mut h, "Validate staging", "pre.validate-staging");
    tick(&mut h, "Review feature flags", "pre.review-flags");
    click(&mut h, "Audit");
    step_until(&mut h, "the appended entries to be read", |app| {
        !app.is_busy()
    });
    let after = h.state().data.as_ref().map_or(0, |d| d.audit.len());
    assert_eq!(after, before + 2, "two ticks, two entries");
    // Their rows show what they are, not "…", and nothing was pressed for it.
    assert_eq!(h.query_all_by_label("…").count(), 0, "no blank row");
    assert_eq!(h.query_all_by_label("checklist.tick").count(), 2);
    assert!(h.query_by_label("1.4.0/pre.validate-staging").is_some());
    assert!(h.query_by_label("1.4.0/pre.review-flags").is_some());
    assert!(h.query_by_label(&after.to_string()).is_some(), "its number");
    assert!(
        !h.state()
            .runner()
            .tasks()
            .iter()
            .any(|t| t.info.name == "audit-verify"),
        "no chain check was run"
    );
}

#[test]
fn a_change_made_in_a_terminal_shows_when_the_window_gets_the_focus_back() {
    let f = fixture();
    let mut h = harness(&f);
    let done = |app: &ConsoleApp| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| c.checklist.is_done("pre.validate-staging"))
    };
    // The user leaves the window for a terminal, where the CLI ticks an item.
    h.input_mut().focused = false;
    h.step();
    let ws = Workspace::open(&f.root).expect("open");
    let release = ws.release(Some("1.4.0")).expect("release");
    ws.set_item(&release, "pre.validate-staging", true, "done in a terminal")
        .expect("tick");
    for _ in 0..20 {
        h.step();
    }
    assert!(
        !done(h.state()),
        "nothing reads the workspace while the window is away"
    );
    // Back in the window: the workspace is read again and the tick (and its entry) shows.
    h.input_mut().focused = true;
    step_until(&mut h, "the terminal's tick", done);
    click(&mut h, "Audit");
    step_until(&mut h, "the audit page", |app| !app.is_busy());
    assert!(h.query_by_label("checklist.tick").is_some());
}

#[test]
fn a_verification_that_fails_without_a_report_says_so_instead_of_verifying_forever() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Verify");
    // No build yet: the release's artifacts folder does not exist.
    click(&mut h, "Use release 1.4.0 artifacts");
    click(&mut h, "Run verification");
    step_until(&mut h, "the run to end", |app| {
        app.panels.verify.failed.is_some() && !app.is_busy()
    });
    assert!(h.state().panels.verify.report.is_none());
    assert!(h.query_by_label_contains("Verifying…").is_none());
    assert!(
        h.query_by_label_contains("The last run made no report (failed")
            .is_some()
    );
}

#[test]
fn a_selected_audit_entry_shows_what_changed_field_by_field_with_its_raw_json_behind() {
    use release_console::audit::diff::Kind;
    let f = fixture();
    let mut h = harness(&f);
    // Tick, untick, tick again: the last tick changes `done` from false to true.
    for (done, what) in [(true, "tick"), (false, "untick"), (true, "tick again")] {
        click(&mut h, "Checklist");
        h.get_by_label("Validate staging").click();
        step_until(&mut h, what, |app| {
            !app.is_busy()
                && app
                    .data
                    .as_ref()
                    .and_then(|d| d.current.as_ref())
                    .is_some_and(|c| c.checklist.is_done("pre.validate-staging") == done)
        });
    }
    let seq = h.state().data.as_ref().map_or(0, |d| d.audit.len());
    click(&mut h, "Audit");
    step_until(&mut h, "the entries to be read", |app| !app.is_busy());
    // Each row says what changed in the normal font, the short changes first: no raw JSON.
    assert!(
        h.query_by_label_contains("done: false -> true").is_some(),
        "the re-tick's row"
    );
    assert!(
        h.query_by_label_contains("done: true -> false").is_some(),
        "the untick's row"
    );
    assert!(
        h.query_by_label_contains("{\"").is_none(),
        "no JSON in the table"
    );
    assert!(
        h.query_by_label("Raw JSON").is_none(),
        "nothing selected yet"
    );

    // A click on the row (its number) shows the entry below the table.
    click(&mut h, &seq.to_string());
    step_until(&mut h, "the selected entry", |app| {
        app.panels.audit.selected_fields().is_some()
    });
    assert_eq!(h.state().panels.audit.selected(), Some(seq as u64));
    assert!(
        h.query_by_label(&format!(
            "Entry #{seq}: checklist.tick on 1.4.0/pre.validate-staging"
        ))
        .is_some()
    );
    let fields = h
        .state()
        .panels
        .audit
        .selected_fields()
        .expect("fields")
        .to_vec();
    let done = fields.iter().find(|c| c.path == "done").expect("done");
    assert_eq!(done.kind, Kind::Changed);
    assert_eq!(
        (done.before.clone(), done.after.clone()),
        (
            Some(serde_json::json!(false)),
            Some(serde_json::json!(true))
        )
    );
    // The row of `done` on screen: its path, the old value, the new one.
    assert!(h.query_by_label("done").is_some());
    assert!(h.query_by_label("false").is_some());
    assert!(h.query_by_label("true").is_some());
    assert!(h.query_by_label_contains("Fields: ").is_some());
    // The same actor ticked both times: `by` did not change and is listed only when asked.
    let by = fields.iter().find(|c| c.path == "by").expect("by");
    assert_eq!(by.kind, Kind::Unchanged);
    let unchanged = fields.iter().filter(|c| c.kind == Kind::Unchanged).count();
    assert!(h.query_by_label("by").is_none());
    click(&mut h, &format!("Show {unchanged} unchanged"));
    assert!(h.state().panels.audit.show_unchanged);
    assert!(h.query_by_label("by").is_some());

    // The raw JSON is behind a collapsed header.
    assert!(h.query_by_label_contains("\"done\": true").is_none());
    click(&mut h, "Raw JSON");
    assert!(h.query_by_label_contains("\"done\": true").is_some());
    assert!(h.query_by_label_contains("\"done\": false").is_some());

    // The first tick had no state before: every field is added.
    click(&mut h, &(seq - 2).to_string());
    step_until(&mut h, "the first tick", |app| {
        app.panels.audit.selected() == Some(seq as u64 - 2)
            && app.panels.audit.selected_fields().is_some()
    });
    let fields = h.state().panels.audit.selected_fields().expect("fields");
    assert!(fields.iter().all(|c| c.kind == Kind::Added), "{fields:?}");
    assert!(h.query_by_label_contains("+ done: true").is_some());

    click(&mut h, "Close");
    assert_eq!(h.state().panels.audit.selected(), None);
    assert!(h.query_by_label("Raw JSON").is_none());
}

#[test]
fn verify_chain_runs_as_a_task_in_the_tray_with_a_toast() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Audit");
    h.get_by_label("Verify chain").click();
    step_until(&mut h, "the verify task to finish", |app| {
        app.runner()
            .tasks()
            .iter()
            .any(|t| t.info.name == "audit-verify" && t.state == TaskState::Succeeded)
    });
    // State turns final before the Finished event; wait for the reload that event triggers.
    step_until(&mut h, "the reload after the task", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| d.audit.action_names().contains(&"task.finish"))
            && !app.is_busy()
    });
    assert!(h.query_by_label("SUCCEEDED").is_some());
    assert!(
        h.query_by_label_contains("audit-verify succeeded: audit log intact")
            .is_some(),
        "toast shown"
    );
    // The tray shows the selected task's log lines.
    assert!(
        h.query_by_label_contains("checking the hash chain of")
            .is_some()
    );
    // The full log is on disk under the release.
    let logs: Vec<_> = std::fs::read_dir(f.root.join("releases/1.4.0/logs"))
        .expect("logs dir")
        .flatten()
        .collect();
    assert_eq!(logs.len(), 1);
    let name = logs[0].file_name().into_string().expect("utf-8 name");
    assert!(
        name.starts_with("audit-verify-")
            && std::path::Path::new(&name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("log")),
        "{name}"
    );
    let text = std::fs::read_to_string(logs[0].path()).expect("log file");
    assert!(text.contains("[succeeded] audit log intact"), "{text}");
    // Task start and finish are audited.
    let actions: Vec<String> = h
        .state()
        .data
        .as_ref()
        .expect("data")
        .audit
        .action_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert!(
        actions.contains(&"task.start".to_owned()) && actions.contains(&"task.finish".to_owned()),
        "{actions:?}"
    );
}

#[test]
fn verify_chain_compares_incident_records_with_the_log() {
    let f = fixture();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_release-console"))
        .env_remove("RELEASE_CONSOLE_WORKSPACE")
        .arg("--workspace")
        .arg(&f.root)
        .args([
            "status",
            "--action",
            "create",
            "--status",
            "investigating",
            "--component",
            "collaboration",
            "--message",
            "Sync is slow",
            "--no-notify",
        ])
        .output()
        .expect("run release-console");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Someone resolves the incident by hand.
    let book = f.root.join("status/incidents.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&book).expect("incidents")).expect("json");
    state["incidents"][0]["status"] = serde_json::json!("resolved");
    std::fs::write(&book, state.to_string()).expect("edit");

    let mut h = harness(&f);
    click(&mut h, "Audit");
    h.get_by_label("Verify chain").click();
    step_until(&mut h, "the verify task to fail", |app| {
        app.runner()
            .tasks()
            .iter()
            .any(|t| t.info.name == "audit-verify" && t.state == TaskState::Failed)
    });
    let message = h
        .state()
        .runner()
        .tasks()
        .iter()
        .find(|t| t.info.name == "audit-verify")
        .and_then(|t| t.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("incidents.json disagrees with the log"),
        "{message}"
    );
}

#[test]
fn settings_show_secret_names_never_values_and_the_picker_opens_another_workspace() {
    // The status page key is said to live in $PATH: a variable that is set, with a value that
    // appears nowhere else in the window.
    let value = std::env::var("PATH").expect("PATH is set");
    let f = fixture();
    let cfg = f.root.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace(
            "api_key_env = \"STATUSPAGE_API_KEY\"",
            "api_key_env = \"PATH\"",
        ),
    )
    .expect("write");
    let mut h = harness(&f);
    click(&mut h, "Settings");
    assert!(h.query_by_label("PATH").is_some());
    assert!(h.query_by_label("LAUNCHDARKLY_ACCESS_TOKEN").is_some());
    assert!(h.query_by_label("SET").is_some(), "presence is shown");
    assert!(
        h.query_by_label_contains(&value).is_none(),
        "the value is never shown"
    );
    assert!(
        h.query_by_value(&value).is_none(),
        "the value is in no text field either"
    );

    h.get_by_label("Browse…").click();
    step_until(&mut h, "the other workspace", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| d.ws.config().product.name == "OtherApp")
            && !app.is_busy()
    });
    click(&mut h, "Overview");
    assert!(h.query_by_label("OtherApp 3.0.0").is_some());
}

#[test]
fn creating_a_release_from_the_overview() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Version");
    h.get_by_label("Version").type_text("1.5.0");
    h.step();
    h.get_by_label("Create release").click();
    step_until(&mut h, "the new release", |app| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| c.release.version.to_string() == "1.5.0")
    });
    assert!(h.query_by_label("WireTuner 1.5.0").is_some());
    assert!(
        h.state()
            .toasts
            .items()
            .iter()
            .any(|t| t.text == "Created release 1.5.0")
    );
}

#[test]
fn the_tray_searches_a_live_log_and_cancels_a_running_task() {
    let f = fixture();
    let mut h = harness(&f);
    let runner = h.state().runner().clone();
    let spec =
        release_console::runner::TaskSpec::new("noisy-build", "test", Duration::from_mins(1));
    let id = runner
        .start(spec, |ctx| async move {
            let script = "i=0; while [ $i -lt 3000 ]; do echo step $i; i=$((i+1)); done; echo READY; sleep 60";
            ctx.run_process(&release_console::runner::ProcessSpec::new("sh").arg("-c").arg(script)).await?;
            Ok(String::new())
        })
        .expect("start");
    step_until(&mut h, "the output", |app| {
        app.runner()
            .task(id)
            .is_some_and(|t| t.log.lock().is_ok_and(|l| l.total_lines() >= 3002))
    });
    assert_eq!(
        h.query_all_by_label("noisy-build").count(),
        3,
        "in the task list, over its log, and under Running tasks"
    );
    assert!(h.query_all_by_label("RUNNING").count() >= 1);
    // Following: the newest line is on screen, the first is scrolled away (virtualized rows).
    let mut frames = 0;
    while h.query_by_label("READY").is_none() && frames < 20 {
        h.step();
        frames += 1;
    }
    assert!(
        h.query_by_label("READY").is_some(),
        "the view follows the tail"
    );
    assert!(h.query_by_label("step 0").is_none());
    assert!(h.query_by_label("following").is_some());

    // Scrolling up stops following; "Jump to end" brings the tail back.
    let log_area = h.get_by_label("READY").rect().center();
    h.hover_at(log_area);
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 400.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
    h.step();
    assert!(
        h.query_by_label("READY").is_none(),
        "scrolled away from the tail"
    );
    assert!(!h.state().tray.following);
    click(&mut h, "Jump to end");
    h.step();
    assert!(h.query_by_label("READY").is_some());
    assert!(h.state().tray.following);

    click(&mut h, "Search log");
    h.get_by_label("Search log").type_text("step 29");
    h.step();
    h.step();
    // "step 29", "step 290".."step 299" and "step 2900".."step 2999".
    assert_eq!(h.state().tray.query, "step 29");
    assert!(
        h.query_by_label("111 matches").is_some(),
        "{:?}",
        h.state().tray.search.matches.len()
    );
    assert!(h.query_by_label("step 2999").is_some());
    assert!(
        h.query_by_label("step 3").is_none(),
        "non-matching lines are hidden"
    );

    click(&mut h, "Cancel");
    step_until(&mut h, "the cancel", |app| {
        app.runner()
            .task(id)
            .is_some_and(|t| t.state == TaskState::Cancelled)
    });
    h.step();
    assert!(h.query_by_label("CANCELLED").is_some());
    assert!(h.query_by_label("RUNNING").is_none());
}

/// Issue 28: a task that prints 100,000 lines in a burst and ends is heard by the app even when
/// no frame ran meanwhile (a minimized window draws none) and another task went on printing
/// after it: more output than any event queue holds must not hide a task's end, or its panel
/// shows a spinner forever.
#[test]
fn a_task_that_ends_after_a_burst_is_heard_even_when_frames_fall_behind() {
    use release_console::runner::{TaskError, TaskSpec};
    let f = fixture();
    let mut h = harness(&f);
    let runner = h.state().runner().clone();
    let burst = runner
        .start(
            TaskSpec::new("burst", "test", Duration::from_mins(1)),
            |ctx| async move {
                for i in 0..100_000 {
                    ctx.log_line(&format!("burst line {i}"));
                }
                Ok("printed 100000 lines".into())
            },
        )
        .expect("start burst");
    // No frame runs while it prints and ends.
    let done = f.rt.block_on(runner.wait(burst)).expect("burst finished");
    assert_eq!(done.state, TaskState::Succeeded);
    let chatty = runner
        .start(
            TaskSpec::new("chatty", "test", Duration::from_mins(1)),
            |ctx| async move {
                for i in 0..100_000 {
                    ctx.log_line(&format!("chatty line {i}"));
                }
                ctx.cancel_token().cancelled().await;
                Err(TaskError::Cancelled)
            },
        )
        .expect("start chatty");
    let deadline = Instant::now() + Duration::from_mins(1);
    while !runner
        .task(chatty)
        .is_some_and(|t| t.log.lock().is_ok_and(|l| l.total_lines() >= 100_000))
    {
        assert!(Instant::now() < deadline, "chatty never printed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Now the frames run: the burst's end reaches the app (its toast, its panels, the reload).
    step_until(&mut h, "the burst's end to reach the app", |app| {
        app.toasts
            .items()
            .iter()
            .any(|t| t.text == "burst succeeded: printed 100000 lines")
    });
    assert!(
        !h.state()
            .toasts
            .items()
            .iter()
            .any(|t| t.text.starts_with("chatty")),
        "chatty still runs"
    );
    runner.cancel(chatty);
    step_until(&mut h, "chatty's end", |app| {
        app.toasts
            .items()
            .iter()
            .any(|t| t.text == "chatty cancelled: cancelled")
    });
}

/// Puts artifacts and a SHA256SUMS into release 1.4.0's artifacts folder.
fn write_artifacts(f: &Fixture, tamper: bool) -> PathBuf {
    let dir = f.root.join("releases/1.4.0/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    std::fs::write(dir.join("WireTuner-1.4.0.tar.gz"), b"the linux bundle").expect("write");
    std::fs::write(dir.join("notes.txt"), b"release notes").expect("write");
    let sums = format!(
        "{}  WireTuner-1.4.0.tar.gz\n{}  notes.txt\n",
        release_console::sha256_hex(b"the linux bundle"),
        release_console::sha256_hex(b"release notes"),
    );
    std::fs::write(dir.join("SHA256SUMS"), sums).expect("sums");
    if tamper {
        std::fs::write(dir.join("notes.txt"), b"release notes, edited").expect("tamper");
    }
    dir
}

#[test]
fn verifying_release_artifacts_shows_one_verdict_ticks_the_checklist_and_exports() {
    let f = fixture();
    write_artifacts(&f, false);
    let mut h = harness(&f);
    click(&mut h, "Verify");
    click(&mut h, "Use release 1.4.0 artifacts");
    assert!(
        h.query_by_label_contains("releases/1.4.0/artifacts")
            .is_some()
    );
    click(&mut h, "Run verification");
    step_until(&mut h, "the report", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("PASS").is_some());
    assert!(h.query_by_label("2 of 2 artifacts green").is_some());
    assert_eq!(h.query_all_by_label("OK").count(), 2, "checksum badges");
    assert_eq!(
        h.query_all_by_label("NOT_APPLICABLE").count(),
        2,
        "nothing to sign in a tarball"
    );
    assert_eq!(
        h.query_all_by_label("n/a").count(),
        2,
        "and no signature to timestamp, said so rather than a blank cell"
    );

    // A pass ticks "Verify checksums and signatures" and is audited.
    let data = h.state().data.as_ref().expect("data");
    let checklist = &data.current.as_ref().expect("release").checklist;
    let tick = checklist.items.get("build.verify").expect("auto-ticked");
    assert!(tick.done && tick.by.ends_with("(task verify)"), "{tick:?}");
    assert!(
        data.ws
            .audit()
            .entries()
            .expect("entries")
            .iter()
            .any(|e| e.action == "verify.report" && e.after["overall"] == "pass")
    );

    // The checklist names the task once: its actor says it, the note only repeated it.
    click(&mut h, "Checklist");
    assert!(
        h.query_by_label_contains("(task verify) at").is_some(),
        "the tick by the task is shown"
    );
    assert!(
        h.query_by_label_contains("ticked by task verify").is_none(),
        "the task said twice"
    );
    click(&mut h, "Verify");
    click(&mut h, "Export Markdown");
    step_until(&mut h, "the export", |app| !app.is_busy());
    let md = std::fs::read_to_string(f.root.join("releases/1.4.0/verify-report.md"))
        .expect("markdown report");
    assert!(
        md.contains("**Overall: PASS**") && md.contains("| notes.txt |"),
        "{md}"
    );
    click(&mut h, "Export JSON");
    step_until(&mut h, "the export", |app| !app.is_busy());
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.root.join("releases/1.4.0/verify-report.json"))
            .expect("json report"),
    )
    .expect("valid json");
    assert_eq!(json["overall"], "pass");
}

#[test]
fn a_mismatch_is_red_with_expected_and_actual_shown() {
    let f = fixture();
    write_artifacts(&f, true);
    let mut h = harness(&f);
    click(&mut h, "Verify");
    click(&mut h, "Use release 1.4.0 artifacts");
    click(&mut h, "Run verification");
    step_until(&mut h, "the report", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("FAIL").is_some());
    assert!(h.query_by_label("MISMATCH").is_some());
    // The red artifact is selected: its details show both hashes.
    let want = release_console::sha256_hex(b"release notes");
    let got = release_console::sha256_hex(b"release notes, edited");
    assert!(
        h.query_by_label_contains(&format!("expected {want}"))
            .is_some()
    );
    assert!(
        h.query_by_label_contains(&format!("actual   {got}"))
            .is_some()
    );
    // A failed verification does not tick the checklist.
    let checklist = &h
        .state()
        .data
        .as_ref()
        .expect("data")
        .current
        .as_ref()
        .expect("release")
        .checklist;
    assert!(!checklist.is_done("build.verify"));
}

/// Runs the Verify panel's verification again and waits for its report.
fn run_verification(h: &mut Harness<'static, ConsoleApp>) {
    click(h, "Run verification");
    step_until(h, "the report", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
}

#[test]
fn errors_collect_behind_one_counter_in_the_header_and_a_later_pass_clears_the_fail() {
    use release_console::ui::widgets::toasts::ToastKind;
    let f = fixture();
    write_artifacts(&f, true);
    let mut h = harness(&f);
    click(&mut h, "Verify");
    click(&mut h, "Use release 1.4.0 artifacts");
    run_verification(&mut h);
    assert!(h.query_by_label("FAIL").is_some());

    // The failure is one counter in the header, above the panel, never a toast over it.
    let errors = |app: &ConsoleApp| app.toasts.errors().cloned().collect::<Vec<_>>();
    let list = errors(h.state());
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0].text.starts_with("verify failed: "), "{list:?}");
    assert_eq!(h.state().toasts.floating().count(), 0, "no floating error");
    let heading = h.get_by_label("Verify artifacts").rect();
    let counter = h.get_by_label("1 error").rect();
    assert!(
        counter.bottom() <= heading.top(),
        "{counter:?} over {heading:?}"
    );
    for n in h.query_all_by_label_contains("verify failed") {
        assert!(
            n.rect().bottom() <= heading.top(),
            "the newest error's text is in the header"
        );
    }

    // Failing again does not stack: the same error, counted.
    run_verification(&mut h);
    run_verification(&mut h);
    let list = errors(h.state());
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].times, 3);
    // Another kind of error is counted beside it: an export that cannot write its file.
    let md = f.root.join("releases/1.4.0/verify-report.md");
    std::fs::create_dir_all(&md).expect("a folder where the report goes");
    let export_failed = |app: &ConsoleApp| {
        app.toasts
            .errors()
            .any(|t| t.topic.as_deref() == Some("verify.export"))
    };
    click(&mut h, "Export Markdown");
    step_until(&mut h, "the export's error", export_failed);
    assert_eq!(h.state().toasts.errors().count(), 2);
    assert!(h.query_by_label("1 error").is_none());
    assert!(h.query_by_label("2 errors").is_some());

    // The counter opens the list: both errors, the verify one with how often it came.
    click(&mut h, "2 errors");
    assert!(h.state().toasts.errors_open);
    assert!(
        h.query_by_label_contains("verify failed: FAIL: 1 of 2 artifacts green")
            .is_some()
    );
    assert!(h.query_by_label_contains("(3 times)").is_some());
    assert!(h.query_by_label_contains("verify-report.md").is_some());
    click(&mut h, "Close");
    assert!(!h.state().toasts.errors_open);
    assert!(h.query_by_label_contains("(3 times)").is_none());

    // A later PASS of the same verification answers its failure: that error goes.
    write_artifacts(&f, false);
    run_verification(&mut h);
    assert!(h.query_by_label("PASS").is_some());
    let list = errors(h.state());
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].topic.as_deref(), Some("verify.export"), "{list:?}");
    assert!(h.query_by_label("1 error").is_some());
    // The success floats in the panel's bottom-right corner, clear of its header and verdict.
    let pass = h
        .state()
        .toasts
        .floating()
        .find(|t| t.kind == ToastKind::Success && t.text.starts_with("verify succeeded"))
        .map(|t| t.text.clone())
        .expect("a success toast");
    let toast = h.get_by_label(&pass).rect();
    for covered in ["Verify artifacts", "PASS"] {
        let r = h.get_by_label(covered).rect();
        assert!(!toast.intersects(r), "the toast covers {covered}");
    }
    // ...and leaves by itself.
    step_until(&mut h, "the success toast to leave", |app| {
        app.toasts.floating().count() == 0
    });
    assert!(h.query_by_label(&pass).is_none());

    // An export that writes answers the export that could not.
    std::fs::remove_dir(&md).expect("remove the folder");
    click(&mut h, "Export Markdown");
    step_until(&mut h, "the export", |app| {
        !export_failed(app) && !app.is_busy()
    });
    assert_eq!(h.state().toasts.errors().count(), 0);
    assert!(h.query_by_label("1 error").is_none());

    // What no success answers is dismissed from the list.
    std::fs::remove_file(&md).expect("remove the report");
    std::fs::create_dir_all(&md).expect("a folder where the report goes");
    click(&mut h, "Export Markdown");
    step_until(&mut h, "the export's error", export_failed);
    let text = errors(h.state())[0].text.clone();
    click(&mut h, "1 error");
    assert!(h.query_by_label(&text).is_some(), "listed");
    click(&mut h, "Dismiss all");
    assert_eq!(h.state().toasts.errors().count(), 0);
    assert!(h.query_by_label("1 error").is_none());
    assert!(h.query_by_label(&text).is_none());
}

#[test]
fn picked_files_are_added_to_the_verify_list() {
    let f = fixture();
    std::fs::write(f.root.join("picked.txt"), b"x").expect("write");
    let mut h = harness(&f);
    click(&mut h, "Verify");
    click(&mut h, "Add files…");
    step_until(&mut h, "the picked file", |app| {
        !app.panels.verify.paths.is_empty()
    });
    assert_eq!(
        h.state().panels.verify.paths,
        vec![f.root.join("picked.txt")]
    );
    click(&mut h, "Remove");
    assert!(h.state().panels.verify.paths.is_empty());
}

#[test]
fn builds_panel_runs_preflight_builds_an_msi_and_verifies_it() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Builds");
    // A card per configured platform: macos, windows, windows-on-linux.
    assert_eq!(h.query_all_by_label("Preflight not run yet.").count(), 3);
    click(&mut h, "Run preflight");
    step_until(&mut h, "the preflight", |app| {
        !app.panels.builds.preflight.is_empty() && !app.is_busy()
    });
    assert!(h.query_by_label("tool wixl").is_some());
    assert!(
        h.query_by_label("env WINDOWS_PFX_PATH").is_some(),
        "signing vars are checked unless skipped"
    );
    assert!(
        h.query_by_label("Skipped on this host: needs a macos host; this is linux")
            .is_some()
    );
    click(&mut h, "Skip signing (unsigned test build)");
    // The preflight shown checked a signed build: it says so, and a new one says what is
    // skipped instead of claiming the signing setup OK.
    assert!(
        h.query_by_label_contains("This preflight checked a signed build")
            .is_some()
    );
    assert!(
        h.query_by_label("Windows installer (MSI), built UNSIGNED on Linux")
            .is_some(),
        "the card does not read \"built and signed\""
    );
    click(&mut h, "Run preflight");
    step_until(&mut h, "the unsigned preflight", |app| {
        !app.is_busy() && app.panels.builds.preflight.values().all(|p| p.skip_signing)
    });
    assert!(
        h.query_by_label_contains("This preflight checked")
            .is_none()
    );
    assert!(h.query_by_label("env WINDOWS_PFX_PATH").is_none());
    assert!(h.query_all_by_label("SKIPPED").count() >= 1);
    assert!(
        h.query_by_label_contains("SKIPPED: the installer will be UNSIGNED")
            .is_some()
    );
    // Only the card this host can build has an enabled Run button.
    build_from_the_panel(
        &mut h,
        &PanelBuild {
            enabled_runs: 1,
            run: 0,
            task: "build-unsigned-windows-on-linux",
            step: "Build MSI",
            artifact: "WireTuner-Setup-1.4.0.msi",
            sign_item: "build.windows",
            signature: release_console::verify::SignatureVerdict::Unsigned,
        },
    );
}

/// A dry run after a real build shows the dry run's steps under its DRY RUN badge, not the
/// saved steps of the build before it.
#[test]
fn a_dry_run_after_a_build_shows_its_own_steps_not_the_builds() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Builds");
    click(&mut h, "Skip signing (unsigned test build)");
    click(&mut h, "Run preflight");
    step_until(&mut h, "the preflight", |app| {
        !app.panels.builds.preflight.is_empty() && !app.is_busy()
    });
    let run = h
        .get_all_by_label("Run")
        .find(|b| !b.accesskit_node().is_disabled())
        .expect("an enabled Run");
    run.click();
    h.step();
    h.remove_cursor();
    step_until(&mut h, "the unsigned build", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| d.pipeline_state.platforms.values().any(|p| p.unsigned))
            && !app.is_busy()
    });
    // The unsigned build skipped signing: no such step among its saved ones.
    assert!(h.query_by_label("Code signing").is_none());

    // A dry run of the signed build walks the signing steps too.
    click(&mut h, "Skip signing (unsigned test build)");
    h.get_all_by_label("Dry run")
        .last()
        .expect("the card this host builds")
        .click();
    h.step();
    h.remove_cursor();
    step_until(&mut h, "the dry run", |app| {
        app.runner().tasks().iter().any(|t| {
            t.info.kind == release_console::pipeline::DRY_RUN_KIND && t.state.is_finished()
        }) && !app.is_busy()
    });
    assert!(h.query_by_label("DRY RUN SUCCEEDED").is_some());
    assert!(
        h.query_by_label("Code signing").is_some(),
        "the steps shown are the dry run's"
    );
}

/// What a build started from the Builds panel must show.
struct PanelBuild<'a> {
    /// How many cards have an enabled Run button, and which of those to click.
    enabled_runs: usize,
    run: usize,
    task: &'a str,
    step: &'a str,
    artifact: &'a str,
    /// The "build and sign" item a signed build ticks: an unsigned one leaves it open.
    sign_item: &'a str,
    signature: release_console::verify::SignatureVerdict,
}

/// Clicks Run on a card, waits for the build and the reload after it, checks its steps,
/// artifact and checklist item, then writes SHA256SUMS and verifies from the panel: the same
/// flow whether the platform builds here or on a CI engine.
fn build_from_the_panel(h: &mut Harness<'static, ConsoleApp>, b: &PanelBuild<'_>) {
    let runs: Vec<_> = h.get_all_by_label("Run").collect();
    assert_eq!(runs.len(), 3);
    let enabled: Vec<_> = runs
        .into_iter()
        .filter(|b| !b.accesskit_node().is_disabled())
        .collect();
    assert_eq!(enabled.len(), b.enabled_runs);
    enabled.into_iter().nth(b.run).expect("enabled Run").click();
    h.step();
    h.remove_cursor();
    h.step();
    // The task finishes, then its Finished event triggers a reload that lists the artifact.
    step_until(h, "the build and the reload after it", |app| {
        app.data.as_ref().is_some_and(|d| {
            d.artifacts.as_ref().is_ok_and(|a| !a.is_empty())
                && d.pipeline_state.platforms.values().any(|p| p.unsigned)
        }) && !app.is_busy()
    });
    // Signing was skipped: UNSIGNED in amber on the card, and the "sign" item stays open.
    assert!(
        !done(h, b.sign_item),
        "an unsigned build ticks no sign item"
    );
    assert_eq!(
        h.query_all_by_label("UNSIGNED").count(),
        2,
        "the card and the task tray say UNSIGNED (not a green SUCCEEDED)"
    );
    assert!(
        h.query_by_label("SUCCEEDED").is_none() || {
            // Other tasks (the notification) may have succeeded; the build's row is not one.
            h.state()
                .runner()
                .tasks()
                .iter()
                .filter(|t| {
                    t.state == release_console::runner::TaskState::Succeeded
                        && !t.info.kind.ends_with(".unsigned")
                })
                .count()
                == h.query_all_by_label("SUCCEEDED").count()
        }
    );
    let task_name = h
        .state()
        .runner()
        .tasks()
        .into_iter()
        .find(|t| t.info.name == b.task)
        .map(|t| t.info.kind);
    assert!(
        task_name.is_some_and(|k| k.ends_with(".unsigned")),
        "an unsigned build has its own kind, which ticks nothing"
    );
    let task = h
        .state()
        .runner()
        .tasks()
        .into_iter()
        .find(|t| t.info.name == b.task)
        .expect("build task");
    assert_eq!(task.state, TaskState::Succeeded, "{:?}", task.message);
    assert!(
        h.query_by_label(b.step).is_some(),
        "the step list shows the builder's steps"
    );
    assert!(
        h.query_by_label(b.artifact).is_some(),
        "the artifact is listed"
    );

    click(h, "Write SHA256SUMS and verify");
    step_until(h, "the verification", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
    let report = h.state().panels.verify.report.clone().expect("report");
    assert_eq!(report.artifacts.len(), 1);
    assert_eq!(
        report.artifacts[0].checksum,
        release_console::verify::ChecksumVerdict::Ok
    );
    assert_eq!(report.artifacts[0].signature, b.signature);
}

#[test]
fn builds_panel_runs_a_remote_build_on_github_actions_like_a_local_one() {
    use common::github::{ArtifactKind, FakeGitHub, with_checksum};
    let f = fixture();
    // The fake takes this process's $HOME as the token, which the workspace names.
    let token = std::env::var("HOME").expect("HOME");
    let gh = FakeGitHub::start(|fake| {
        fake.token = token.clone();
        fake.artifacts.insert(
            "macos".into(),
            ArtifactKind::Files(with_checksum(
                "WireTuner-1.4.0.dmg",
                b"placeholder, not a disk image ".repeat(50),
            )),
        );
    });
    let def = f.root.join("packaging/pipelines/default.toml");
    let text = std::fs::read_to_string(&def).expect("definition");
    let text = text.replacen(
        "title = \"macOS DMG: Flutter build, Developer ID signing, notarization, stapling\"",
        "title = \"macOS (GitHub Actions)\"\nrunner = \"github\"",
        1,
    );
    assert!(text.contains("runner = \"github\""));
    std::fs::write(&def, text).expect("definition");
    let cfg = f.root.join("release-console.toml");
    let mut config = std::fs::read_to_string(&cfg).expect("config");
    config.push_str(&format!(
        "\n[remote.github]\napi_base = \"{}\"\nrepo = \"wiretuner/wiretuner-app\"\n\
         token_env = \"HOME\"\npoll_interval_ms = 100\n",
        gh.api_base
    ));
    std::fs::write(&cfg, config).expect("config");
    let mut h = harness(&f);
    click(&mut h, "Builds");
    assert!(h.query_by_label("macOS (GitHub Actions)").is_some());
    assert!(
        h.query_by_label("macos · builds on GitHub Actions (wiretuner/wiretuner-app)")
            .is_some()
    );
    click(&mut h, "Run preflight");
    step_until(&mut h, "the preflight", |app| {
        !app.panels.builds.preflight.is_empty() && !app.is_busy()
    });
    assert!(
        h.query_by_label("release (active) at .github/workflows/release.yml")
            .is_some(),
        "the workflow was found"
    );
    click(&mut h, "Skip signing (unsigned test build)");
    // The remote card and the Linux one can build from here; the remote one is first.
    build_from_the_panel(
        &mut h,
        &PanelBuild {
            enabled_runs: 2,
            run: 0,
            task: "build-unsigned-macos",
            step: "macos: Build and sign the installers",
            artifact: "WireTuner-1.4.0.dmg",
            sign_item: "build.macos",
            // The fake's "DMG" is placeholder bytes, not a disk image: amber, never green.
            signature: release_console::verify::SignatureVerdict::UnverifiableHere,
        },
    );
    let (id, _) = gh.runs()[0].clone();
    click(&mut h, "Builds");
    assert!(
        h.query_by_label(&format!("Run #{id} on GitHub (attempt 1)"))
            .is_some(),
        "the card links the run"
    );
    let dispatch = gh
        .seen()
        .into_iter()
        .find(|r| r.path.ends_with("/dispatches"))
        .expect("dispatched");
    assert_eq!(dispatch.body["inputs"]["skip_signing"], "true");
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

fn click_checkbox(h: &mut Harness<'static, ConsoleApp>, label: &str) {
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, label)
        .click();
    h.step();
    h.remove_cursor();
    h.step();
}

/// Opens the Status page panel and drafts a P1 incident on collaboration.
fn open_p1_draft(h: &mut Harness<'static, ConsoleApp>) {
    click(h, "Status page");
    step_until(
        h,
        "the page's components",
        |app| matches!(&app.panels.status.components, Some(Ok(c)) if c.len() == 4),
    );
    click(h, "New incident");
    click_checkbox(h, "collaboration");
    click(h, "P1");
}

#[test]
fn status_panel_composes_previews_and_publishes_a_p1_after_two_confirmations_then_resolves() {
    let f = fixture();
    let mut h = harness(&f);
    open_p1_draft(&mut h);
    let draft = h.state().panels.status.draft.clone().expect("draft");
    assert_eq!(
        draft.message,
        "We are investigating reports of problems with collaboration. Next update within 30 minutes."
    );
    click(&mut h, "Preview");
    assert!(h.query_by_label("create incident").is_some());
    // No title typed: the message's first sentence, never cut mid-word ("…Next update wit").
    let title = "We are investigating reports of problems with collaboration";
    assert!(
        h.query_by_label(title).is_some(),
        "the preview shows the title it will publish"
    );
    assert!(h.query_by_label("collaboration: partial_outage").is_some());
    assert!(h.query_by_label("major (severity P1)").is_some());
    // A P1 asks twice: the first Publish only asks again.
    click(&mut h, "Publish");
    assert!(
        h.state().runner().tasks().is_empty(),
        "nothing published yet"
    );
    assert!(
        h.query_by_label_contains("P1 incident: escalates to the DevOps lead")
            .is_some()
    );
    click(&mut h, "Yes, publish now");
    step_until(&mut h, "the incident to be recorded", |app| {
        app.panels.status.draft.is_none()
            && app.data.as_ref().is_some_and(|d| d.incidents.len() == 1)
            && matches!(&app.panels.status.components, Some(Ok(c)) if c.iter().any(|c| c.status == "partial_outage"))
    });
    let inc = h.state().data.as_ref().expect("data").incidents[0].clone();
    assert_eq!(inc.severity, release_console::status::Severity::P1);
    assert_eq!(inc.components, ["collaboration"]);
    assert_eq!(inc.name, title);
    let html = std::fs::read_to_string(f.root.join("status/index.html")).expect("page");
    assert!(html.contains("Partial outage"), "{html}");

    // Resolve: the template, a preview, two confirmations, then the postmortem countdown.
    click(&mut h, &format!("Resolve {}", inc.id));
    let draft = h.state().panels.status.draft.clone().expect("draft");
    assert_eq!(
        draft.status,
        release_console::status::IncidentStatus::Resolved
    );
    assert!(draft.message.starts_with("This incident has been resolved"));
    assert_eq!(draft.resolution, None, "not said until chosen");
    click(&mut h, "no-impact");
    assert_eq!(
        h.state()
            .panels
            .status
            .draft
            .as_ref()
            .and_then(|d| d.resolution),
        Some(release_console::status::Resolution::NoImpact)
    );
    click(&mut h, "Preview");
    assert!(h.query_by_label("resolve incident").is_some());
    // The radio chosen, and the preview's Resolution row.
    assert_eq!(h.query_all_by_label("no-impact").count(), 2);
    assert!(h.query_by_label("collaboration: operational").is_some());
    click(&mut h, "Publish");
    click(&mut h, "Yes, publish now");
    step_until(&mut h, "the resolution", |app| {
        app.data.as_ref().is_some_and(|d| !d.incidents[0].is_open())
    });
    assert!(
        h.query_by_label_contains("postmortem due in 1 d 23 h")
            .is_some()
    );
    let resolved = h.state().data.as_ref().expect("data").incidents[0].clone();
    assert_eq!(
        resolved.resolution,
        Some(release_console::status::Resolution::NoImpact)
    );
    assert!(h.query_by_label("NO-IMPACT").is_some(), "the card says it");
    click(&mut h, &format!("Export postmortem of {}", inc.id));
    let md = f.root.join(format!("status/postmortems/{}.md", inc.id));
    step_until(&mut h, "the postmortem file", |_| md.is_file());
    let text = std::fs::read_to_string(&md).expect("postmortem");
    assert!(text.contains("**resolved** [resolved]"), "{text}");
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    for action in [
        "status.incident.create",
        "status.incident.resolve",
        "status.postmortem.export",
    ] {
        assert!(audit.contains(action), "{action}");
    }
}

#[test]
fn a_failed_post_keeps_the_draft_and_says_what_happened() {
    let f = fixture();
    // A Statuspage provider nothing answers for (port 1 refuses connections). The key variable
    // only has to be set: HOME always is.
    let cfg = f.root.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let text = text
        .replace("provider = \"local\"\napi_base = \"https://api.statuspage.io/v1\"\npage_id = \"\"\napi_key_env = \"STATUSPAGE_API_KEY\"",
                 "provider = \"statuspage\"\napi_base = \"http://127.0.0.1:1/v1\"\npage_id = \"pg1\"\napi_key_env = \"HOME\"")
        .replace("min_request_interval_ms = 1000", "min_request_interval_ms = 10");
    assert!(text.contains("127.0.0.1:1"), "{text}");
    std::fs::write(&cfg, text).expect("config");
    let mut h = harness(&f);
    click(&mut h, "Status page");
    step_until(&mut h, "the components fetch to fail", |app| {
        matches!(&app.panels.status.components, Some(Err(_)))
    });
    assert!(
        h.query_by_label_contains("Cannot read components: cannot reach the status page")
            .is_some()
    );
    click(&mut h, "New incident");
    // Components come from the config when the page cannot be read.
    click_checkbox(&mut h, "api");
    click(&mut h, "Preview");
    click(&mut h, "Publish");
    step_until(&mut h, "the post to fail", |app| {
        app.panels.status.last_error.is_some()
    });
    let ui = &h.state().panels.status;
    let err = ui.last_error.clone().expect("error");
    assert!(
        err.contains("cannot reach the status page at http://127.0.0.1:1/v1"),
        "{err}"
    );
    let draft = ui.draft.clone().expect("the draft is kept");
    assert!(draft.components.contains("api"));
    assert_eq!(draft.confirmations, 0, "back to editing");
    assert!(h.state().data.as_ref().expect("data").incidents.is_empty());
}

fn type_into(h: &mut Harness<'static, ConsoleApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

#[test]
fn flags_panel_creates_a_flag_then_advances_with_an_override_and_rolls_back() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Flags");
    step_until(&mut h, "the flags overview", |app| {
        matches!(&app.panels.flags.overview, Some(Ok(_)))
    });
    assert!(h.query_by_label("No flags yet.").is_some());
    click(&mut h, "Create a flag");
    type_into(&mut h, "Key", "NewExporter");
    assert!(
        h.query_by_label_contains("has no prefix").is_some(),
        "the naming rule is shown while typing"
    );
    h.state_mut().panels.flags.new_key.clear();
    h.step();
    type_into(&mut h, "Key", "ui_new_exporter");
    type_into(&mut h, "Name", "New exporter");
    type_into(&mut h, "Tags", "team:frontend, iteration:I5");
    click(&mut h, "Create flag");
    assert!(
        h.query_by_label_contains("OFF in every environment, tags team:frontend, iteration:I5")
            .is_some()
    );
    click(&mut h, "Confirm");
    step_until(&mut h, "the new flag", |app| {
        matches!(&app.panels.flags.overview, Some(Ok(o)) if o.rows.len() == 1)
            && app.panels.flags.task.is_none()
    });
    // Created: the form is empty for the next flag, and the task log reads as words.
    let flags = &h.state().panels.flags;
    assert!(
        flags.new_key.is_empty() && flags.new_name.is_empty() && flags.new_tags.is_empty(),
        "the form was cleared"
    );
    let task = h
        .state()
        .runner()
        .tasks()
        .into_iter()
        .find(|t| t.info.name == "flags-ui_new_exporter")
        .expect("the create task");
    let log: String = task
        .log
        .lock()
        .expect("log")
        .lines_from(0)
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        log.contains("create ui_new_exporter \"New exporter\" on local"),
        "{log}"
    );
    assert!(
        !log.contains("Create(") && !log.contains("NewFlag {"),
        "{log}"
    );
    // The same key again is refused while typing, not by a 409 at Confirm.
    type_into(&mut h, "Key", "ui_new_exporter");
    type_into(&mut h, "Name", "Again");
    assert!(
        h.query_by_label_contains("ui_new_exporter already exists on local")
            .is_some()
    );
    assert!(h.query_by_label("Create flag").is_none());
    h.state_mut().panels.flags.new_key.clear();
    h.state_mut().panels.flags.new_name.clear();
    h.step();
    // The stages read as words, not a Rust list.
    assert!(
        h.query_by_label_contains("stages 10% (hold 2 h) -> 50% (hold 24 h) -> 100%")
            .is_some()
    );

    click(&mut h, "ui_new_exporter");
    click(&mut h, "Advance ui_new_exporter");
    assert!(h.query_by_label_contains("0% -> 10%").is_some());
    // No KPI samples: the gate is unknown, so advancing needs a reason.
    assert!(
        h.query_by_label_contains("Not allowed yet: the KPI gate is not green")
            .is_some()
    );
    type_into(&mut h, "Override reason (audited)", "dogfood build only");
    click(&mut h, "Confirm");
    step_until(
        &mut h,
        "the rollout to 10%",
        |app| matches!(&app.panels.flags.overview, Some(Ok(o)) if o.rows[0].state.rollout_percent == 10),
    );
    let log = h
        .state()
        .runner()
        .tasks()
        .into_iter()
        .filter(|t| t.info.name == "flags-ui_new_exporter")
        .map(|t| {
            t.log
                .lock()
                .expect("log")
                .lines_from(0)
                .map(|(_, l)| l)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .find(|l| l.contains("advance"))
        .expect("the advance task's log");
    assert!(
        log.contains("advance ui_new_exporter (override: dogfood build only)")
            && log.contains("KPI gate unknown: "),
        "{log}"
    );
    assert!(
        !log.contains("Advance {") && !log.contains("Unknown(\""),
        "{log}"
    );
    let plans = release_console::flags::plan::load(&Workspace::open(&f.root).expect("workspace"))
        .expect("plans");
    let last = plans["ui_new_exporter"]
        .history
        .last()
        .cloned()
        .expect("change");
    assert_eq!(last.override_reason.as_deref(), Some("dogfood build only"));

    click(&mut h, "Rollback ui_new_exporter");
    assert!(h.query_by_label_contains("10% -> OFF (0%)").is_some());
    click(&mut h, "Confirm");
    step_until(
        &mut h,
        "the rollback",
        |app| matches!(&app.panels.flags.overview, Some(Ok(o)) if !o.rows[0].state.on),
    );
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    for action in ["flags.create", "flags.advance", "flags.rollback"] {
        assert!(audit.contains(action), "{action}");
    }
}

#[test]
fn maintenance_is_scheduled_from_the_panel_and_moved_on() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Status page");
    step_until(&mut h, "the page", |app| {
        matches!(&app.panels.status.components, Some(Ok(_)))
    });
    assert!(h.query_by_label("None scheduled.").is_some());
    click(&mut h, "Schedule maintenance");
    type_into(&mut h, "Title", "Database upgrade");
    type_into(&mut h, "Message", "Exports pause for 30 minutes");
    type_into(&mut h, "From (RFC 3339)", "2026-12-01T22:00:00Z");
    type_into(&mut h, "Until (RFC 3339)", "2026-12-01T22:30:00Z");
    click_checkbox(&mut h, "import-export (maintenance)");
    click(&mut h, "Schedule this maintenance");
    step_until(&mut h, "the maintenance to be listed", |app| {
        app.panels.status.maintenances.len() == 1 && app.panels.status.task.is_none()
    });
    click(&mut h, "Start Database upgrade");
    step_until(&mut h, "the maintenance to start", |app| {
        app.panels
            .status
            .maintenances
            .first()
            .is_some_and(|m| m.status == "in_progress")
            && matches!(&app.panels.status.components, Some(Ok(c)) if c.iter().any(|c| c.name == "import-export" && c.status == "under_maintenance"))
    });
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    assert!(audit.contains("status.maintenance.schedule"));
    assert!(audit.contains("status.maintenance.update"));
}

/// Eight CLI processes tick and untick their own items 25 times each while the GUI, open on the
/// same workspace, ticks one of its own: nothing is lost and the audit chain holds.
#[test]
fn eight_cli_processes_and_the_gui_lose_no_change_and_keep_the_chain() {
    let f = fixture();
    let mut h = harness(&f);
    let items = [
        "pre.review-flags",
        "pre.validate-staging",
        "pre.release-notes",
        "build.macos",
        "build.windows",
        "build.verify",
        "deploy.backend",
        "deploy.flags-10",
    ];
    let tickers: Vec<_> = items
        .iter()
        .map(|item| {
            let (root, item) = (f.root.clone(), (*item).to_owned());
            std::thread::Builder::new()
                .name(format!("ticker-{item}"))
                .spawn(move || {
                    for round in 0..25 {
                        for verb in ["tick", "untick"] {
                            let o =
                                std::process::Command::new(env!("CARGO_BIN_EXE_release-console"))
                                    .env_remove("RELEASE_CONSOLE_WORKSPACE")
                                    .arg("--workspace")
                                    .arg(&root)
                                    .args(["checklist", verb, &item, "--note"])
                                    .arg(format!("round {round}"))
                                    .output()
                                    .expect("run the CLI");
                            assert!(
                                o.status.success(),
                                "{verb} {item} (round {round}): {}",
                                String::from_utf8_lossy(&o.stderr)
                            );
                        }
                    }
                })
                .expect("spawn a ticker")
        })
        .collect();
    // Meanwhile the GUI ticks an item of its own (one a task normally ticks: with a note).
    click(&mut h, "Checklist");
    click(&mut h, "Roll out flags to 50%");
    answer_note(&mut h, "canary held by hand");
    while tickers.iter().any(|t| !t.is_finished()) {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    for t in tickers {
        t.join().expect("a ticker failed");
    }
    step_until(&mut h, "the GUI's tick", |app| {
        !app.is_busy()
            && app.data.as_ref().is_some_and(|d| {
                d.current
                    .as_ref()
                    .is_some_and(|c| c.checklist.is_done("deploy.flags-50"))
            })
    });
    assert!(
        h.state()
            .toasts
            .items()
            .iter()
            .all(|t| t.kind != release_console::ui::widgets::toasts::ToastKind::Error),
        "{:?}",
        h.state().toasts.items()
    );

    let ws = Workspace::open(&f.root).expect("open");
    let release = ws.release(None).expect("release");
    let checklist = ws.checklist(&release).expect("checklist");
    for item in items {
        let state = checklist.items.get(item).expect("item state");
        assert!(!state.done, "{item} ends unticked");
        assert_eq!(state.note, "round 24", "{item}: the last change is kept");
    }
    assert!(
        checklist.is_done("deploy.flags-50"),
        "the GUI's tick is kept"
    );
    let entries = ws.audit().entries().expect("entries");
    for item in items {
        let target = format!("1.4.0/{item}");
        let count = |action: &str| {
            entries
                .iter()
                .filter(|e| e.action == action && e.target == target)
                .count()
        };
        assert_eq!(count("checklist.tick"), 25, "{item}");
        assert_eq!(count("checklist.untick"), 25, "{item}");
    }
    let verified = ws.audit().verify().expect("the chain verifies");
    assert_eq!(verified.entries, entries.len() as u64);
}

#[test]
fn accepting_a_finding_in_the_security_panel_opens_the_findings_gate() {
    let f = fixture();
    let ws = Workspace::open(&f.root).expect("open");
    let release = ws.release(None).expect("release");
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vendor/trivy/alpine-39-high-critical.json");
    release_console::findings::import(&ws, &release, &[sample]).expect("import");
    let mut h = harness(&f);
    let findings_gate = |app: &ConsoleApp| {
        app.data
            .as_ref()
            .and_then(|d| d.gates.iter().find(|g| g.gate == "findings").cloned())
            .expect("a findings gate")
    };
    assert!(!findings_gate(h.state()).is_open());

    click(&mut h, "Security");
    assert!(h.query_by_label("Security: WireTuner 1.4.0").is_some());
    assert_eq!(h.query_all_by_label("BLOCKS").count(), 2);
    let judged = h
        .state()
        .data
        .as_ref()
        .expect("data")
        .findings
        .clone()
        .expect("findings");
    let ids: Vec<String> = judged
        .iter()
        .map(|j| format!("{} in {}", j.finding.id, j.finding.package))
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");

    // The dialog states the expiry and will not accept without a reason.
    click(&mut h, &format!("Accept {}", ids[0]));
    assert!(h.state().panels.security.dialog.is_some());
    assert!(h.query_by_label_contains("the reason is audited").is_some());
    type_into(&mut h, "Reason", "musl is not reachable from the app");
    assert!(
        h.query_by_label_contains("The acceptance expires")
            .is_some()
    );
    assert!(h.query_by_label_contains("(in 30 days)").is_some());
    click(&mut h, "Accept risk");
    step_until(&mut h, "the acceptance", |app| {
        !app.is_busy()
            && app.data.as_ref().is_some_and(|d| {
                d.findings
                    .as_ref()
                    .is_ok_and(|j| j.iter().filter(|j| j.blocks.is_none()).count() == 1)
            })
    });
    assert_eq!(h.query_all_by_label("BLOCKS").count(), 1);
    assert!(!findings_gate(h.state()).is_open());

    // The second one: the gate opens.
    click(&mut h, &format!("Accept {}", ids[1]));
    type_into(
        &mut h,
        "Reason",
        "fixed upstream, image rebuilt next sprint",
    );
    click(&mut h, "Accept risk");
    step_until(&mut h, "the gate to open", |app| {
        !app.is_busy() && findings_gate(app).is_open()
    });
    assert!(findings_gate(h.state()).reason.contains("2 risk-accepted"));
    assert_eq!(h.query_all_by_label("ACCEPTED").count(), 2);
    let audit = Workspace::open(&f.root)
        .expect("open")
        .audit()
        .entries()
        .expect("entries");
    let accepted: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "findings.accept")
        .collect();
    assert_eq!(accepted.len(), 2);
    assert_eq!(
        accepted[0].after["reason"],
        "musl is not reachable from the app"
    );

    // Revoking one blocks the release again.
    click(&mut h, &format!("Revoke {}", ids[1]));
    step_until(&mut h, "the revocation", |app| {
        !app.is_busy() && !findings_gate(app).is_open()
    });
    assert_eq!(h.query_all_by_label("BLOCKS").count(), 1);
}

#[test]
fn findings_are_imported_in_the_security_panel_by_picker_and_by_drop_through_the_cli_import() {
    let f = fixture();
    let mut h = harness(&f);
    let findings_gate = |app: &ConsoleApp| {
        app.data
            .as_ref()
            .and_then(|d| d.gates.iter().find(|g| g.gate == "findings").cloned())
            .expect("a findings gate")
    };
    let count = |app: &ConsoleApp| {
        app.data
            .as_ref()
            .and_then(|d| d.findings.as_ref().ok())
            .map_or(0, Vec::len)
    };
    let imports = || {
        Workspace::open(&f.root)
            .expect("open")
            .audit()
            .entries()
            .expect("entries")
            .into_iter()
            .filter(|e| e.action == "findings.import")
            .collect::<Vec<_>>()
    };
    assert!(findings_gate(h.state()).is_open(), "nothing imported yet");
    click(&mut h, "Security");
    assert!(
        h.query_by_label_contains("No findings for this release")
            .is_some()
    );

    // The picker: the fake one answers with Trivy's sample.
    click(&mut h, "Import findings…");
    step_until(&mut h, "the picked file's import", |app| {
        !app.is_busy() && count(app) == 2
    });
    let done = h
        .state()
        .panels
        .security
        .last_import
        .clone()
        .expect("an import")
        .expect("imported");
    assert_eq!(done.version, "1.4.0");
    assert_eq!(done.files.len(), 1);
    assert_eq!(done.files[0].1, release_console::findings::Format::Trivy);
    assert_eq!((done.files[0].2, done.new, done.blocking), (2, 2, 2));
    assert!(h.query_by_label("IMPORTED").is_some());
    assert!(
        h.query_by_label("into 1.4.0: 2 new, 2 in all, 2 blocking the release")
            .is_some()
    );
    assert!(
        h.query_by_label("alpine-39-high-critical.json: 2 finding(s) from Trivy JSON")
            .is_some()
    );
    assert_eq!(h.query_all_by_label("BLOCKS").count(), 2);
    assert!(!findings_gate(h.state()).is_open(), "the gate closed");
    // Audited as the CLI's import is.
    let audited = imports();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].after["blocking"], 2);
    assert_eq!(audited[0].after["findings"], 2);

    // A file that is not scanner output: an error naming it, and nothing changes.
    let bad = f.root.join("release-notes.txt");
    std::fs::write(&bad, "Fixed the sync bug.\n").expect("write");
    let book = f.root.join("releases/1.4.0/findings.json");
    let stored = std::fs::read(&book).expect("findings.json");
    drop_file(&mut h, bad);
    step_until(&mut h, "the failed import", |app| {
        !app.panels.security.is_importing()
            && matches!(app.panels.security.last_import, Some(Err(_)))
    });
    let e = h
        .state()
        .panels
        .security
        .last_import
        .clone()
        .expect("an import")
        .expect_err("refused");
    assert!(e.starts_with("Cannot import release-notes.txt: "), "{e}");
    assert!(e.contains("release-notes.txt: not JSON"), "{e}");
    assert!(e.ends_with("Nothing was imported."), "{e}");
    assert!(h.query_by_label("IMPORT FAILED").is_some());
    assert!(
        h.query_all_by_label_contains("Cannot import release-notes.txt")
            .count()
            > 0
    );
    assert_eq!(std::fs::read(&book).expect("findings.json"), stored);
    assert_eq!(imports().len(), 1, "no entry for a refused import");
    assert_eq!(count(h.state()), 2);
    assert_eq!(h.state().tab, Tab::Security);

    // Grype's sample dropped on the window: one more finding, and the gate still blocks
    // (CVE-1999-0002 is critical).
    drop_file(&mut h, vendor("grype/image.json"));
    step_until(&mut h, "the dropped file's import", |app| {
        !app.is_busy() && count(app) == 4
    });
    let done = h
        .state()
        .panels
        .security
        .last_import
        .clone()
        .expect("an import")
        .expect("imported");
    assert_eq!(done.files[0].1, release_console::findings::Format::Grype);
    assert_eq!((done.new, done.total, done.blocking), (2, 4, 3));
    assert!(
        h.query_by_label("image.json: 2 finding(s) from Grype JSON")
            .is_some()
    );
    assert!(
        h.query_by_label("into 1.4.0: 2 new, 4 in all, 3 blocking the release")
            .is_some()
    );
    assert!(
        findings_gate(h.state()).reason.contains("3 blocking"),
        "{}",
        findings_gate(h.state()).reason
    );
    assert_eq!(imports().len(), 2);
    assert!(
        h.query_by_label("IMPORT FAILED").is_none(),
        "the error was answered"
    );

    // Dropped on another panel, files go to Verify as before, and are not imported.
    click(&mut h, "Checklist");
    drop_file(&mut h, vendor("grype/empty.json"));
    step_until(&mut h, "the Verify panel", |app| app.tab == Tab::Verify);
    assert_eq!(imports().len(), 2);
}

#[test]
fn the_metrics_panel_computes_the_figures_and_follows_the_window() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Metrics");
    step_until(&mut h, "the metrics", |app| {
        !app.is_busy() && app.panels.metrics.metrics.is_some()
    });
    // One release, no hotfix, no yank: 100%; no flag retired, no incident.
    assert!(h.query_by_label("100.0%").is_some());
    assert!(h.query_by_label("no flag retired").is_some());
    assert!(h.query_by_label("no P1 resolved").is_some());
    // Three of the four cards, and the quarterly review's RTO, RPO, false positives and flags
    // past their date: nothing to judge them from.
    assert_eq!(h.query_all_by_label("NO DATA").count(), 7);
    assert!(h.query_by_label("RTO: 0 of 0 within").is_some());
    assert!(h.query_by_label("no resolution said").is_some());
    // One release is too few to judge a 95% target: said, not MEETS TARGET.
    assert_eq!(h.query_all_by_label("MEETS TARGET").count(), 0);
    assert_eq!(h.query_all_by_label("TOO FEW TO JUDGE").count(), 1);
    assert!(h.query_by_label("from 1 release").is_some());
    click(&mut h, "30 days");
    step_until(&mut h, "the 30-day figures", |app| {
        !app.is_busy()
            && app.panels.metrics.window_days == 30
            && app.panels.metrics.metrics.as_ref().is_some_and(|m| {
                m.as_ref().is_ok_and(|m| {
                    m.until.duration_since(m.since) == jiff::SignedDuration::from_hours(24 * 30)
                })
            })
    });
}

#[test]
fn the_metrics_panel_shows_the_quarterly_review_with_its_records() {
    let f = fixture();
    let ws = Workspace::open(&f.root).expect("open");
    assert!(release_console::metrics::demo::add(&ws, jiff::Timestamp::now()).expect("history"));
    let mut h = harness(&f);
    click(&mut h, "Metrics");
    step_until(&mut h, "the metrics", |app| {
        !app.is_busy() && app.panels.metrics.metrics.is_some()
    });
    assert!(h.query_by_label("Quarterly review").is_some());
    // Drills: three of four runs within the RTO, one of two known snapshot ages within the RPO,
    // the third restore's snapshot age unknown and not judged.
    assert!(h.query_by_label("Backup and restore drills").is_some());
    assert!(h.query_by_label("RTO: 3 of 4 within").is_some());
    assert!(h.query_by_label("RPO: 1 of 2 within").is_some());
    assert!(
        h.query_by_label("(1 restore with the snapshot's age unknown)")
            .is_some()
    );
    assert!(h.query_by_label("took 17 min 00 s of 15 min RTO").is_some());
    assert!(
        h.query_by_label("snapshot 2 h 08 min old of 60 min RPO")
            .is_some()
    );
    assert!(h.query_by_label("snapshot age unknown").is_some());
    assert_eq!(h.query_all_by_label("NOT JUDGED").count(), 1);
    assert_eq!(h.query_all_by_label("OVER").count(), 2);
    assert!(
        h.query_by_label("4 of these runs are the demo workspace's made-up history: nothing ran.")
            .is_some()
    );
    // Pages: two of six resolutions were false positives.
    assert!(h.query_by_label("Alert fatigue").is_some());
    assert!(h.query_by_label("33% false positives (2 of 6)").is_some());
    assert!(h.query_by_label("false-alarm").is_some());
    assert!(h.query_by_label("no-impact").is_some());
    // Flags: one of two live flags at 100% is past its date.
    assert!(
        h.query_by_label("Flags past their retirement date")
            .is_some()
    );
    assert!(h.query_by_label("1 of 2 live flags").is_some());
    assert!(h.query_by_label_contains("46 days past its date").is_some());
    // The drills' RTO and RPO, pages and flags miss; MTTR (P1: 95, 150 and 15 min, 1.4 h)
    // meets.
    assert_eq!(h.query_all_by_label("MISSES TARGET").count(), 4);
    // Thirty days: one drill (its snapshot's age unknown), too few to judge its RTO. (The
    // window's button is the first "30 days": the retired flag lived 30 days too.)
    h.get_all_by_label("30 days")
        .next()
        .expect("the window's button")
        .click();
    step_until(&mut h, "the 30-day figures", |app| {
        !app.is_busy()
            && app
                .panels
                .metrics
                .metrics
                .as_ref()
                .is_some_and(|m| m.as_ref().is_ok_and(|m| m.drills.runs.len() == 1))
    });
    assert!(h.query_by_label("RTO: 1 of 1 within").is_some());
    assert!(h.query_all_by_label("TOO FEW TO JUDGE").count() >= 1);
}

#[test]
fn a_destructive_runbook_step_runs_only_after_its_name_is_typed_and_the_rto_runs() {
    let f = fixture();
    // A stand-in kubectl that records its arguments: the workspace's own version of the drain
    // procedure calls it by path, so the test changes no PATH.
    let tools = f.root.join("tools");
    std::fs::create_dir_all(&tools).expect("tools");
    let calls = f.root.join("calls.txt");
    let kubectl = tools.join("kubectl");
    std::fs::write(
        &kubectl,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho scaled\n",
            calls.display()
        ),
    )
    .expect("kubectl");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&kubectl)
        .status()
        .expect("chmod");
    let builtin = release_console::runbook::procedure::BUILTIN[1].2;
    let own = builtin.replace(
        "run = [\"kubectl\"",
        &format!("run = [\"{}\"", kubectl.display()),
    );
    assert_ne!(own, builtin);
    std::fs::create_dir_all(f.root.join("runbooks")).expect("runbooks");
    std::fs::write(f.root.join("runbooks/dr_collaboration_drain.toml"), own).expect("write");

    let mut h = harness(&f);
    click(&mut h, "Runbooks");
    step_until(&mut h, "the procedures", |app| {
        app.panels.runbooks.procedures.is_some()
    });
    click(&mut h, "Drain collaboration sessions");
    assert!(h.query_by_label_contains("--replicas=0").is_some());
    assert!(
        h.query_by_label("Skipped: runs only with force=true.")
            .is_some()
    );
    // Not confirmed: the button does nothing.
    click(&mut h, "Run scale-down");
    assert!(h.state().panels.runbooks.run.is_none());
    type_into(
        &mut h,
        "Type wiretuner-collaboration to confirm",
        "wiretuner-collab",
    );
    click(&mut h, "Run scale-down");
    assert!(
        h.state().panels.runbooks.run.is_none(),
        "a wrong name runs nothing"
    );
    type_into(&mut h, "Type wiretuner-collaboration to confirm", "oration");
    click(&mut h, "Run scale-down");
    step_until(&mut h, "the step", |app| {
        app.panels
            .runbooks
            .run
            .as_ref()
            .is_some_and(|r| r.finished.is_some())
    });
    let run = h.state().panels.runbooks.run.clone().expect("run");
    assert_eq!(
        run.steps.get("scale-down").and_then(|s| s.1),
        Some(TaskState::Succeeded)
    );
    assert_eq!(
        std::fs::read_to_string(&calls).expect("calls").trim(),
        "--namespace default scale deployment wiretuner-collaboration --replicas=0"
    );
    assert!(h.query_by_label("WITHIN RTO").is_some());
    assert!(
        h.query_all_by_label("SUCCEEDED").count() >= 2,
        "the step's badge and the tray's"
    );
    let audit = Workspace::open(&f.root)
        .expect("open")
        .audit()
        .entries()
        .expect("entries");
    assert!(audit.iter().any(|e| e.action == "runbook.step"
        && e.target == "collab-drain/scale-down"
        && e.after["confirmed"] == "wiretuner-collaboration"));
}

/// The demo workspace (unpacked, not refreshed: no signing material or KPI samples needed).
fn demo_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("demo");
    release_console::workspace::unpack_demo(&root).expect("demo");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    Fixture {
        other: dir.path().to_owned(),
        _dir: dir,
        rt,
        root,
    }
}

/// Opens the demo's database restore in the Runbooks view and runs its first step.
fn demo_restore_listed(h: &mut Harness<'static, ConsoleApp>) {
    click(h, "Runbooks");
    step_until(h, "the procedures", |app| {
        app.panels.runbooks.procedures.is_some()
    });
    // The first procedure, selected.
    assert_eq!(
        h.state().panels.runbooks.selected.as_deref(),
        Some("db-restore")
    );
    click(h, "Run list-snapshots");
    step_until(h, "the listing", |app| {
        app.panels.runbooks.run.as_ref().is_some_and(|r| {
            r.steps.get("list-snapshots").and_then(|s| s.1) == Some(TaskState::Succeeded)
        })
    });
}

/// Runs the restore of `snapshot`, confirmed, and waits until it ended.
fn demo_restore(h: &mut Harness<'static, ConsoleApp>, snapshot: &str) {
    type_into(h, "snapshot", snapshot);
    type_into(
        h,
        "Type wiretuner-prod-restored to confirm",
        "wiretuner-prod-restored",
    );
    click(h, "Run restore");
    step_until(h, "the restore", |app| {
        app.panels.runbooks.run.as_ref().is_some_and(|r| {
            r.finished.is_some() && r.steps.get("restore").is_some_and(|s| s.1.is_some())
        })
    });
}

/// Set (to the marker file's path) when the test below runs itself again with a fake `aws`
/// first on PATH.
const FAKE_AWS_MARKER: &str = "RC_TEST_FAKE_AWS_MARKER";
const DEMO_STAND_IN_TEST: &str = "ui::the_demo_runbooks_run_their_stand_ins_never_the_aws_on_path";

#[test]
fn the_demo_runbooks_run_their_stand_ins_never_the_aws_on_path() {
    let Some(marker) = std::env::var_os(FAKE_AWS_MARKER).map(PathBuf::from) else {
        // A test cannot change its own PATH safely (other threads read the environment), so
        // it runs itself again in a process of its own with a fake `aws` first on PATH, which
        // leaves a marker if it is ever run.
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let marker = dir.path().join("real-aws-ran");
        let aws = bin.join("aws");
        std::fs::write(
            &aws,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\necho 'the aws on PATH ran'\n",
                marker.display()
            ),
        )
        .expect("aws");
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&aws)
            .status()
            .expect("chmod");
        let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .expect("PATH");
        let o = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                DEMO_STAND_IN_TEST,
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("PATH", path)
            .env(FAKE_AWS_MARKER, &marker)
            .output()
            .expect("run the test again");
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{out}");
        assert!(out.contains("1 passed"), "the test ran: {out}");
        assert!(
            !marker.exists(),
            "the real aws (the fake on PATH) ran: {:?}",
            std::fs::read_to_string(&marker)
        );
        return;
    };
    // The fake is what `aws` means here: were the procedure to run `aws`, the marker would be
    // written.
    assert_eq!(
        release_console::runner::process::find_on_path("aws")
            .and_then(|p| p.parent().map(std::path::Path::to_path_buf)),
        marker.parent().map(|d| d.join("bin"))
    );
    let f = demo_fixture();
    let mut h = harness(&f);
    demo_restore_listed(&mut h);
    // The view says the procedures run against stand-ins, and each step which one.
    assert!(h.query_by_label("STAND-INS").is_some());
    assert!(
        h.query_by_label_contains("runs the program of the same name in dr-stand-ins/")
            .is_some()
    );
    assert!(
        h.query_by_label(
            "Ran the stand-in dr-stand-ins/aws in its place: the real aws was not run."
        )
        .is_some()
    );
    assert_eq!(
        h.query_all_by_label(
            "Runs the stand-in dr-stand-ins/aws in its place: the real aws is not run."
        )
        .count(),
        2,
        "the restore and the wait, not run yet"
    );
    assert_eq!(h.query_all_by_label("STAND-IN").count(), 3);
    // The stand-in's own output, in the tray.
    assert!(
        h.query_by_label_contains("DEMO STAND-IN: no AWS call was made")
            .is_some()
    );
    assert!(
        h.query_all_by_label_contains("runbook db-restore: list-snapshots (stand-in)")
            .count()
            >= 1,
        "the tray names the task a stand-in's"
    );
    // One step of three: the clock runs, no verdict.
    assert!(h.query_by_label("RTO CLOCK").is_some());
    assert!(h.query_by_label("WITHIN RTO").is_none());
    assert!(
        h.query_by_label_contains("1 of 3 steps succeeded so far")
            .is_some()
    );
    demo_restore(&mut h, "wiretuner-prod-2024-01-15-00-00");
    let run = h.state().panels.runbooks.run.clone().expect("run");
    assert_eq!(
        run.steps.get("restore").and_then(|s| s.1),
        Some(TaskState::Succeeded)
    );
    // Restored, but the instance is still being created: no verdict until it is available.
    assert!(h.query_by_label("WITHIN RTO").is_none());
    assert!(
        h.query_by_label_contains("2 of 3 steps succeeded so far")
            .is_some()
    );
    click(&mut h, "Run wait-available");
    step_until(&mut h, "the wait", |app| {
        app.panels.runbooks.run.as_ref().is_some_and(|r| {
            r.steps.get("wait-available").and_then(|s| s.1) == Some(TaskState::Succeeded)
        })
    });
    assert!(h.query_by_label("WITHIN RTO").is_some());
    assert!(
        h.query_by_label_contains("every step succeeded in ")
            .is_some()
    );
    assert!(h.query_by_label("(against stand-ins)").is_some());
    assert!(!marker.exists(), "the aws on PATH never ran");
    let audit = Workspace::open(&f.root)
        .expect("open")
        .audit()
        .entries()
        .expect("entries");
    let steps: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "runbook.step")
        .collect();
    assert_eq!(steps.len(), 3);
    assert!(
        steps
            .iter()
            .all(|e| e.after["stand_in"] == "dr-stand-ins/aws")
    );
}

#[test]
fn a_failed_runbook_step_shows_where_it_stopped_and_no_rto_verdict() {
    let f = demo_fixture();
    let mut h = harness(&f);
    demo_restore_listed(&mut h);
    // The demo's aws knows no such snapshot: the restore fails.
    demo_restore(&mut h, "wiretuner-prod-1999-01-01-00-00");
    let run = h.state().panels.runbooks.run.clone().expect("run");
    assert_eq!(
        run.steps.get("restore").and_then(|s| s.1),
        Some(TaskState::Failed)
    );
    assert!(
        h.query_by_label("FAILED at step 2 (restore); RTO not judged")
            .is_some()
    );
    assert!(h.query_by_label("WITHIN RTO").is_none());
    assert!(h.query_by_label("OVER RTO").is_none());
    assert!(h.query_by_label_contains("DBSnapshotNotFound").is_some());
    // The snapshot typed again: the step shows the command it failed with beside its badge,
    // not only the one it would run now.
    assert!(
        h.query_by_label_contains("run before the parameters changed")
            .is_none()
    );
    h.state_mut().panels.runbooks.params.insert(
        ("db-restore".to_owned(), "snapshot".to_owned()),
        "wiretuner-prod-2024-01-15-00-00".to_owned(),
    );
    h.step();
    h.step();
    let ran = h
        .get_by_label_contains(
            "The FAILED above is of this command, run before the parameters changed",
        )
        .accesskit_node()
        // A label's text is its value in AccessKit.
        .value()
        .unwrap_or_default();
    assert!(
        ran.contains("--db-snapshot-identifier wiretuner-prod-1999-01-01-00-00"),
        "{ran}"
    );
}

#[test]
fn a_runbook_step_waits_for_the_steps_before_it_so_the_rto_is_judged_on_a_run_in_order() {
    let f = demo_fixture();
    let mut h = harness(&f);
    click(&mut h, "Runbooks");
    step_until(&mut h, "the procedures", |app| {
        app.panels.runbooks.procedures.is_some()
    });
    // What is still to give is said in the window's words, not the CLI's.
    assert!(
        h.query_by_label("Still to give above: snapshot. The steps that use it wait for it.")
            .is_some()
    );
    assert!(h.query_by_label_contains("--param").is_none());
    demo_restore_listed(&mut h);
    type_into(&mut h, "snapshot", "wiretuner-prod-2024-01-15-00-00");
    assert!(h.query_by_label_contains("Still to give above").is_none());
    // The wait for the restored instance cannot run before the restore: the stand-in would
    // answer "available" for an instance never restored, and the RTO would be judged on it.
    let waits = "Runs once step 2 (Restore from the snapshot) has succeeded in this run.";
    assert!(h.query_by_label(waits).is_some());
    assert!(
        h.get_by_label("Run wait-available")
            .accesskit_node()
            .is_disabled()
    );
    click(&mut h, "Run wait-available");
    for _ in 0..10 {
        h.step();
    }
    let run = h.state().panels.runbooks.run.clone().expect("run");
    assert!(
        !run.steps.contains_key("wait-available"),
        "the wait did not run: {run:?}"
    );
    demo_restore(&mut h, "wiretuner-prod-2024-01-15-00-00");
    assert!(h.query_by_label(waits).is_none());
    click(&mut h, "Run wait-available");
    step_until(&mut h, "the wait", |app| {
        app.panels.runbooks.run.as_ref().is_some_and(|r| {
            r.steps.get("wait-available").and_then(|s| s.1) == Some(TaskState::Succeeded)
        })
    });
    assert!(h.query_by_label("WITHIN RTO").is_some());
    // A restore run again is waited for again: the earlier wait no longer counts.
    click(&mut h, "Run restore");
    step_until(&mut h, "the second restore", |app| {
        app.panels.runbooks.run.as_ref().is_some_and(|r| {
            r.finished.is_some() && r.steps.get("restore").is_some_and(|s| s.1.is_some())
        })
    });
    let run = h.state().panels.runbooks.run.clone().expect("run");
    assert!(!run.steps.contains_key("wait-available"), "{run:?}");
    assert!(h.query_by_label("WITHIN RTO").is_none());
    assert!(
        h.query_by_label_contains("2 of 3 steps succeeded so far")
            .is_some()
    );
    let audit = Workspace::open(&f.root)
        .expect("open")
        .audit()
        .entries()
        .expect("entries");
    let steps: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "runbook.step")
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "db-restore/list-snapshots",
            "db-restore/restore",
            "db-restore/wait-available",
            "db-restore/restore"
        ],
        "no step ran out of its order"
    );
}

#[test]
fn a_hand_tick_says_where_the_task_runs_and_opens_that_panel() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Checklist");
    // No panel runs the flags review: the prompt names the command.
    click(&mut h, "Review feature flags");
    assert!(
        h.query_by_label("The task: `release-console flags review` (no panel runs it).")
            .is_some()
    );
    click(&mut h, "Cancel");
    assert!(h.query_by_label("Tick with this note").is_none());
    // The macOS build runs on its card in Builds: the prompt opens it.
    click(&mut h, "Build, sign and notarize the macOS installer");
    assert!(
        h.query_by_label("The task: Run on the platform's card in Builds.")
            .is_some()
    );
    click(&mut h, "Open Builds");
    assert_eq!(h.state().tab, Tab::Builds);
    assert!(!done(&h, "build.macos"), "opening Builds ticks nothing");
}

#[test]
fn each_panel_keeps_its_own_scroll_position() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Checklist");
    // Far down the checklist.
    h.get_by_label("Update the status page").scroll_to_me();
    for _ in 0..30 {
        h.step();
    }
    let heading = h.get_by_label("WireTuner 1.4.0: Release checklist").rect();
    assert!(
        heading.min.y < 0.0,
        "the checklist is scrolled: {heading:?}"
    );
    click(&mut h, "Overview");
    for _ in 0..5 {
        h.step();
    }
    // The Overview opens at its top, its heading under the window's header.
    let heading = h.get_by_label("WireTuner 1.4.0").rect();
    assert!(
        heading.min.y > 0.0 && heading.min.y < 80.0,
        "the Overview opens at its top: {heading:?}"
    );
    click(&mut h, "Checklist");
    for _ in 0..5 {
        h.step();
    }
    let heading = h.get_by_label("WireTuner 1.4.0: Release checklist").rect();
    assert!(
        heading.min.y < 0.0,
        "and the checklist where it was: {heading:?}"
    );
}

#[test]
fn the_security_panel_shows_the_rotation_calendar_and_records_a_rotation() {
    let f = fixture();
    let cfg = f.root.join("release-console.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(
        "\n[[rotation]]\nname = \"/wiretuner/db/credentials\"\nkind = \"database_password\"\n",
    );
    std::fs::write(&cfg, text).expect("write");
    let mut h = harness(&f);
    click(&mut h, "Security");
    assert!(
        h.query_by_label("Rotation calendar (next 90 days)")
            .is_some()
    );
    assert!(h.query_by_label("UNKNOWN AGE").is_some());
    click(&mut h, "Rotated now");
    step_until(&mut h, "the rotation", |app| {
        !app.is_busy()
            && app.data.as_ref().is_some_and(|d| {
                d.rotation
                    .as_ref()
                    .is_ok_and(|c| c.iter().all(|e| e.last_rotated.is_some()))
            })
    });
    // Rotated now: due in 90 days, the end of the window.
    assert!(h.query_by_label("UNKNOWN AGE").is_none());
    assert!(h.query_by_label("DUE SOON").is_some());
    let audit = Workspace::open(&f.root)
        .expect("open")
        .audit()
        .entries()
        .expect("entries");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "secret.rotated" && e.target == "/wiretuner/db/credentials")
    );
}

/// The "secret rotation" gate of the loaded snapshot.
fn rotation_gate(app: &ConsoleApp) -> release_console::gates::Gate {
    app.data
        .as_ref()
        .and_then(|d| d.gates.iter().find(|g| g.gate == "secret rotation"))
        .cloned()
        .expect("a secret rotation gate")
}

/// Clicks the first widget labelled `label` (a list with one button per row).
fn click_first(h: &mut Harness<'static, ConsoleApp>, label: &str) {
    h.query_all_by_label(label)
        .next()
        .unwrap_or_else(|| panic!("no {label:?}"))
        .scroll_to_me();
    for _ in 0..20 {
        h.step();
    }
    h.query_all_by_label(label)
        .next()
        .unwrap_or_else(|| panic!("no {label:?}"))
        .click();
    h.step();
    h.remove_cursor();
    h.step();
}

#[test]
fn the_rotation_gate_and_the_security_panel_agree_on_secrets_of_unknown_age() {
    let f = fixture();
    let cfg = f.root.join("release-console.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(
        "\n[[rotation]]\nname = \"/wiretuner/db/credentials\"\nkind = \"database_password\"\n\
         \n[[rotation]]\nname = \"/wiretuner/launchdarkly/sdk-key-staging\"\nkind = \"api_key\"\n",
    );
    std::fs::write(&cfg, text).expect("write");
    let mut h = harness(&f);

    // Never recorded as rotated: unknown age, which is not "within their schedule".
    let gate = rotation_gate(h.state());
    assert!(gate.is_open(), "rotation never blocks");
    assert_eq!(
        gate.state,
        GateState::Unchecked,
        "unknown age is unchecked (amber)"
    );
    assert!(
        gate.reason
            .starts_with("2 of 2 tracked secrets are of unknown age, so not checked"),
        "{}",
        gate.reason
    );
    assert!(
        !gate.reason.contains("within their schedule"),
        "{}",
        gate.reason
    );
    // The Overview shows that reason; the Security panel shows the same gate and counts.
    assert!(h.query_by_label(&gate.reason).is_some());
    click(&mut h, "Security");
    assert!(h.query_by_label(&gate.reason).is_some());
    assert!(
        h.query_by_label("2 tracked · 2 of unknown age (not checked)")
            .is_some()
    );
    assert_eq!(h.query_all_by_label("UNKNOWN AGE").count(), 2);
    // Nothing can go on the calendar: it says why instead of drawing an empty grid.
    assert!(
        h.query_by_label_contains(
            "Nothing falls due in the next 90 days, so the calendar is empty: 2 of unknown age \
             have no due date"
        )
        .is_some()
    );

    // One rotated now: due in 90 days (on the calendar), one still of unknown age.
    click_first(&mut h, "Rotated now");
    step_until(&mut h, "the first rotation", |app| {
        !app.is_busy() && rotation_gate(app).reason.starts_with("1 of 2")
    });
    let gate = rotation_gate(h.state());
    assert_eq!(gate.state, GateState::Unchecked, "{}", gate.reason);
    assert!(
        gate.reason
            .starts_with("1 of 2 tracked secrets is of unknown age, so not checked")
            && gate.reason.contains("sdk-key-staging")
            && gate.reason.ends_with("; 1 within its schedule"),
        "{}",
        gate.reason
    );
    assert!(h.query_by_label(&gate.reason).is_some());
    assert!(
        h.query_by_label("2 tracked · 1 due within 90 days · 1 of unknown age (not checked)")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("Not on the calendar: 1 of unknown age has no due date")
            .is_some()
    );
    assert!(h.query_by_label_contains("Nothing falls due").is_none());

    // Both rotated: the gate is checked and open, and the panel counts the same two.
    click_first(&mut h, "Rotated now");
    step_until(&mut h, "the second rotation", |app| {
        !app.is_busy() && rotation_gate(app).state != GateState::Unchecked
    });
    let gate = rotation_gate(h.state());
    assert_eq!(gate.reason, "2 tracked secrets are within their schedule");
    assert_eq!(gate.state, GateState::Open);
    assert!(h.query_by_label(&gate.reason).is_some());
    assert!(
        h.query_by_label("2 tracked · 1 due within 90 days · 1 due later")
            .is_some()
    );
    assert!(
        h.query_by_label_contains(
            "Not on the calendar: 1 due after the next 90 days (the first: \
             /wiretuner/launchdarkly/sdk-key-staging on"
        )
        .is_some()
    );
    assert!(h.query_by_label("UNKNOWN AGE").is_none());
}

/// A workspace with `versions` signed, summed, verified and ticked up to publishing.
fn publishable(pki: &common::Pki, versions: &[&str]) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("wiretuner");
    common::init_pinned_windows(&root, pki);
    for v in versions {
        common::make_publishable(pki, &root, v);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    Fixture {
        other: dir.path().to_owned(),
        _dir: dir,
        rt,
        root,
    }
}

/// After a restart, the Verify panel shows the release's last verification as recorded (not
/// an empty panel), and verifies it again with one click.
#[test]
fn the_verify_panel_shows_the_last_recorded_verification_after_a_restart() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &["1.0.0"]);
    let mut h = harness(&f);
    click(&mut h, "Verify");
    step_until(&mut h, "the record", |app| {
        !app.is_busy() && app.data.as_ref().is_some_and(|d| d.verify_record.is_some())
    });
    assert!(
        h.query_by_label_contains("Last verification of release 1.0.0: 1 of 1 artifacts green")
            .is_some()
            && h.query_by_label("PASS").is_some(),
        "the recorded verdict is shown"
    );
    assert!(h.query_by_label("WireTuner-1.0.0.msi").is_some());
    assert!(h.query_by_label("valid").is_some(), "its signature verdict");
    click(&mut h, "Verify release 1.0.0 again");
    step_until(&mut h, "the report", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
    assert!(
        h.query_by_label_contains("Last verification of release")
            .is_none(),
        "a run's report replaces the record"
    );
}

/// A release whose artifacts folder is gone since its verification: the recorded PASS is
/// shown STALE, every file it verified removed (as the verify gate says), not green.
#[test]
fn the_last_verification_of_files_that_are_gone_is_stale() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &["1.0.0"]);
    std::fs::remove_dir_all(f.root.join("releases/1.0.0/artifacts")).expect("rm artifacts");
    let mut h = harness(&f);
    click(&mut h, "Verify");
    step_until(&mut h, "the record", |app| {
        !app.is_busy() && app.data.as_ref().is_some_and(|d| d.verify_record.is_some())
    });
    assert!(
        h.query_by_label_contains("Last verification of release 1.0.0")
            .is_some()
    );
    assert!(h.query_by_label("STALE").is_some(), "not shown as PASS");
    assert!(h.query_by_label("PASS").is_none());
    assert!(
        h.query_by_label_contains("STALE: SHA256SUMS removed, WireTuner-1.0.0.msi removed")
            .is_some()
    );
}

/// A FAIL recorded among many artifacts with very long names: the artifact that is not green
/// comes first, and its verdict is in the window (a long name is cut, not the verdict).
#[test]
fn a_recorded_fail_among_long_names_shows_its_verdict_first_and_in_view() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &["1.0.0"]);
    let artifacts = f.root.join("releases/1.0.0/artifacts");
    let long = format!("WireTuner-1.0.0-{}.zip", "debug-symbols-".repeat(12));
    for n in 0..12 {
        std::fs::write(artifacts.join(format!("{n:02}-{long}")), format!("{n}")).expect("zip");
    }
    // Not a signed MSI: its signature does not verify.
    std::fs::write(artifacts.join("Broken-1.0.0.msi"), "not an installer").expect("msi");
    common::sh(
        &artifacts,
        "sha256sum $(ls | grep -v SHA256SUMS) > SHA256SUMS",
    );
    let o = common::cli(
        &f.root,
        &[
            "verify",
            artifacts.to_str().expect("utf-8"),
            "--release",
            "1.0.0",
        ],
    );
    assert!(!o.status.success(), "{}", common::text(&o));
    let mut h = harness(&f);
    click(&mut h, "Verify");
    step_until(&mut h, "the record", |app| {
        !app.is_busy() && app.data.as_ref().is_some_and(|d| d.verify_record.is_some())
    });
    assert!(h.query_by_label("FAIL").is_some());
    let bad = h.get_by_label("NOT GREEN").rect();
    assert!(
        bad.right() <= 1280.0,
        "the verdict is in the window: {bad:?}"
    );
    let first = h.get_by_label("Broken-1.0.0.msi").rect();
    let other = h.get_by_label(&format!("00-{long}")).rect();
    assert!(
        first.top() < other.top(),
        "the artifact that failed comes first"
    );
    assert!(
        (first.center().y - bad.center().y).abs() < 4.0,
        "on its row"
    );
}

/// A report of one release's artifacts is not shown (nor exported) as another's: with another
/// release selected in the top bar, that release's last verification is shown, and the report
/// comes back with its release.
#[test]
fn the_verify_panel_shows_the_selected_releases_verification_not_anothers_report() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &["1.0.0", "1.1.0"]);
    let mut h = harness(&f);
    click(&mut h, "Verify");
    step_until(&mut h, "the record", |app| {
        !app.is_busy() && app.data.as_ref().is_some_and(|d| d.verify_record.is_some())
    });
    click(&mut h, "Verify release 1.1.0 again");
    step_until(&mut h, "the report", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("Export JSON").is_some());
    // 1.0.0's files changed since its verification; 1.1.0's did not.
    std::fs::write(f.root.join("releases/1.0.0/artifacts/extra.txt"), "added").expect("add");
    click(&mut h, "Release");
    click(&mut h, "1.0.0");
    step_until(&mut h, "1.0.0 selected", |app| {
        !app.is_busy()
            && app.data.as_ref().is_some_and(|d| {
                d.current
                    .as_ref()
                    .is_some_and(|c| c.release.version.to_string() == "1.0.0")
            })
    });
    assert!(
        h.query_by_label_contains("Last verification of release 1.0.0")
            .is_some(),
        "the selected release's own verification"
    );
    assert!(
        h.query_by_label_contains("STALE: extra.txt added")
            .is_some()
    );
    assert!(
        h.query_by_label("Export JSON").is_none(),
        "1.1.0's report is not exported into 1.0.0's folder"
    );
    assert!(
        h.query_by_label_contains("This window's last run verified release 1.1.0's artifacts")
            .is_some()
    );
    click(&mut h, "Release");
    click(&mut h, "1.1.0");
    step_until(&mut h, "1.1.0 selected", |app| {
        !app.is_busy()
            && app.data.as_ref().is_some_and(|d| {
                d.current
                    .as_ref()
                    .is_some_and(|c| c.release.version.to_string() == "1.1.0")
            })
    });
    assert!(
        h.query_by_label("Export JSON").is_some(),
        "its report again"
    );
    assert!(
        h.query_by_label_contains("Last verification of release")
            .is_none()
    );
}

/// A skip whose tick was never made (the process stopped right after the skip's entry): the
/// build item it settles is open, yet the Publish button is offered, and the publish ticks it
/// first, as the skip's, and publishes.
#[test]
fn a_recorded_skip_whose_tick_was_never_made_does_not_block_publishing_in_the_window() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &[]);
    let cfg = f.root.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replacen(
            "platforms = [\"windows\"]",
            "platforms = [\"windows\", \"macos\"]",
            1,
        ),
    )
    .expect("config");
    common::make_publishable(&pki, &f.root, "1.0.0");
    let o = common::cli(
        &f.root,
        &["checklist", "untick", "build.macos", "--release", "1.0.0"],
    );
    assert!(o.status.success(), "{}", common::text(&o));
    // Ticking fails (the checklist's lock is a folder): the skip is recorded, its tick is not.
    let lock = f.root.join("releases/1.0.0/.checklist.lock");
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir_all(lock.join("in-the-way")).expect("block");
    let o = common::cli(
        &f.root,
        &[
            "publish",
            "--version",
            "1.0.0",
            "--skip-platform",
            "macos",
            "--reason",
            "Windows-only hotfix",
        ],
    );
    assert!(!o.status.success(), "{}", common::text(&o));
    std::fs::remove_dir_all(&lock).expect("unblock");
    let mut h = harness(&f);
    click(&mut h, "Deploy");
    step_until(&mut h, "the plan with the skip", |app| {
        !app.is_busy()
            && app
                .panels
                .deploy
                .plan
                .as_ref()
                .is_some_and(|p| p.as_ref().is_ok_and(|p| !p.skipped.is_empty()))
    });
    let done = |app: &ConsoleApp| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| c.checklist.is_done("build.macos"))
    };
    assert!(!done(h.state()), "the skip's tick was not made");
    assert!(
        !h.get_by_label("Publish 1.0.0")
            .accesskit_node()
            .is_disabled(),
        "only the item the recorded skip settles is open: the publish settles it"
    );
    click(&mut h, "Publish 1.0.0");
    click(&mut h, "Confirm publish");
    step_until(&mut h, "the publish", |app| {
        app.panels.deploy.task.is_none() && !app.is_busy() && done(app)
    });
    assert!(h.state().panels.deploy.publish_error.is_none());
    let o = common::cli(&f.root, &["--json", "publish", "status"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"1.0.0\""),
        "{}",
        common::text(&o)
    );
}

/// A skip recorded by a publish that then failed is shown on the card with its reason, and
/// "Ship macOS in … after all" withdraws it: the item the skip ticked is unticked and the
/// installers gate wants a macOS installer again.
#[test]
fn a_recorded_skip_is_shown_and_ship_after_all_withdraws_it() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &[]);
    let cfg = f.root.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replacen(
            "platforms = [\"windows\"]",
            "platforms = [\"windows\", \"macos\"]",
            1,
        ),
    )
    .expect("config");
    common::make_publishable(&pki, &f.root, "1.0.0");
    let o = common::cli(
        &f.root,
        &["checklist", "untick", "build.macos", "--release", "1.0.0"],
    );
    assert!(o.status.success(), "{}", common::text(&o));
    // The store's folder is a file: the publish fails after recording the skip.
    std::fs::write(f.root.join("published"), "in the way").expect("block the store");
    let mut h = harness(&f);
    click(&mut h, "Deploy");
    step_until(&mut h, "the plan", |app| {
        !app.is_busy() && app.panels.deploy.plan.as_ref().is_some_and(Result::is_ok)
    });
    click(&mut h, "Not shipping macOS in 1.0.0 this time");
    type_into(
        &mut h,
        "Why it is not shipped (audited)",
        "Windows-only hotfix",
    );
    click(&mut h, "Publish 1.0.0");
    click(&mut h, "Confirm publish");
    step_until(&mut h, "the failed publish", |app| {
        app.panels.deploy.task.is_none()
            && app.panels.deploy.publish_error.is_some()
            && !app.is_busy()
    });
    step_until(&mut h, "the plan with the skip", |app| {
        !app.is_busy()
            && app
                .panels
                .deploy
                .plan
                .as_ref()
                .is_some_and(|p| p.as_ref().is_ok_and(|p| !p.skipped.is_empty()))
    });
    assert!(
        h.query_by_label_contains("macOS is not shipped in 1.0.0 this time: Windows-only hotfix")
            .is_some(),
        "the recorded skip is on the card, with its reason"
    );
    let done = |app: &ConsoleApp| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| c.checklist.is_done("build.macos"))
    };
    assert!(done(h.state()), "the skip ticked the macOS build item");
    click(&mut h, "Ship macOS in 1.0.0 after all");
    step_until(&mut h, "the withdrawal", |app| {
        !app.is_busy()
            && app
                .panels
                .deploy
                .plan
                .as_ref()
                .is_some_and(|p| p.as_ref().is_ok_and(|p| p.skipped.is_empty()))
    });
    assert!(
        !done(h.state()),
        "the withdrawal unticked the item the skip ticked"
    );
    assert!(h.query_by_label("Ship macOS in 1.0.0 after all").is_none());
    assert!(
        h.query_by_label("Not shipping macOS in 1.0.0 this time")
            .is_some(),
        "macOS is missing again, with its skip box"
    );
    let audit = Workspace::open(&f.root)
        .expect("open")
        .audit()
        .entries()
        .expect("entries");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "release.platform.ship" && e.target == "1.0.0/macos"),
        "the withdrawal is audited"
    );
}

#[test]
fn the_deploy_panel_publishes_after_a_confirmation_and_yanks_with_a_reason() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &["1.0.0", "1.1.0"]);
    assert!(
        common::cli(&f.root, &["publish", "--version", "1.0.0"])
            .status
            .success()
    );
    let mut h = harness(&f);
    click(&mut h, "Deploy");
    step_until(&mut h, "the plan", |app| {
        !app.is_busy() && app.panels.deploy.plan.as_ref().is_some_and(Result::is_ok)
    });
    assert!(h.query_by_label("Deploy: WireTuner 1.1.0").is_some());
    assert!(
        h.query_by_label("WireTuner/releases/1.1.0/WireTuner-1.1.0.msi")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("latest.json as it will be written")
            .is_some()
    );

    // Publishing asks first, saying what will happen.
    click(&mut h, "Publish 1.1.0");
    assert!(
        h.query_by_label_contains("Upload 2 files to the folder")
            .is_some()
    );
    click(&mut h, "Confirm publish");
    step_until(&mut h, "the publish task", |app| {
        app.panels.deploy.outcome.is_some() && app.panels.deploy.task.is_none() && !app.is_busy()
    });
    step_until(&mut h, "the status after it", |app| {
        !app.is_busy()
            && app
                .panels
                .deploy
                .status
                .as_ref()
                .is_some_and(|s| s.as_ref().is_ok_and(|s| s.live.as_deref() == Some("1.1.0")))
    });
    assert!(h.query_by_label("Copy link WireTuner-1.1.0.msi").is_some());
    let latest = f
        .root
        .join("published/WireTuner/releases/stable/latest.json");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&latest).expect("latest")).expect("json");
    assert_eq!(v["version"], "1.1.0");

    // Yank needs a reason, then the feeds point back to 1.0.0.
    click(&mut h, "Yank 1.1.0");
    assert!(
        h.query_by_label_contains("point back to the previous live version")
            .is_some()
    );
    type_into(&mut h, "Reason", "crashes on start");
    click(&mut h, "Confirm yank");
    step_until(&mut h, "the yank", |app| {
        !app.is_busy()
            && app
                .panels
                .deploy
                .status
                .as_ref()
                .is_some_and(|s| s.as_ref().is_ok_and(|s| s.live.as_deref() == Some("1.0.0")))
    });
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&latest).expect("latest")).expect("json");
    assert_eq!(v["version"], "1.0.0");
    let audit = Workspace::open(&f.root)
        .expect("open")
        .audit()
        .entries()
        .expect("entries");
    assert!(audit.iter().any(|e| e.action == "publish.yank"
        && e.target == "1.1.0"
        && e.after["reason"] == "crashes on start"));
}

#[test]
fn a_publish_or_yank_that_fails_says_why_in_its_card_and_the_status_is_read_again() {
    let pki = common::Pki::new();
    let f = publishable(&pki, &["1.0.0", "1.1.0", "1.2.0"]);
    for v in ["1.0.0", "1.1.0"] {
        assert!(
            common::cli(&f.root, &["publish", "--version", v])
                .status
                .success()
        );
    }
    // A folder where the channel's downloads page goes: writing the feeds fails (reading
    // what they offer does not).
    let page = f
        .root
        .join("published/WireTuner/releases/stable/index.html");
    std::fs::remove_file(&page).expect("the page");
    std::fs::create_dir_all(page.join("in-the-way")).expect("block");
    let mut h = harness(&f);
    click(&mut h, "Deploy");
    step_until(&mut h, "the plan and the status", |app| {
        !app.is_busy()
            && app.panels.deploy.plan.as_ref().is_some_and(Result::is_ok)
            && app.panels.deploy.status.as_ref().is_some_and(Result::is_ok)
    });

    // The yank fails: said in the status card, and the status is read again (the yank stays
    // begun, shown UNFINISHED rather than as before).
    click(&mut h, "Yank 1.1.0");
    type_into(&mut h, "Reason", "crashes on start");
    click(&mut h, "Confirm yank");
    step_until(&mut h, "the failed yank and the status after it", |app| {
        !app.is_busy()
            && app.panels.deploy.yank_error.is_some()
            && app.panels.deploy.status.as_ref().is_some_and(|s| {
                s.as_ref()
                    .is_ok_and(|s| s.begun.as_deref().is_some_and(|b| b.contains("yank")))
            })
    });
    assert!(h.query_by_label("YANK FAILED").is_some());
    assert!(h.query_by_label("UNFINISHED").is_some());

    // The publish fails too (it finishes the begun yank first): said in the publish card.
    click(&mut h, "Publish 1.2.0");
    click(&mut h, "Confirm publish");
    step_until(&mut h, "the failed publish", |app| {
        app.panels.deploy.task.is_none() && app.panels.deploy.publish_error.is_some()
    });
    assert!(
        h.query_by_label("NOT PUBLISHED").is_some(),
        "said in the card"
    );
    let err = h
        .state()
        .panels
        .deploy
        .publish_error
        .clone()
        .expect("the error");
    assert!(err.contains("index.html"), "naming what failed: {err}");
    assert!(h.query_by_label(&err).is_some(), "shown in the card");

    // Unblocked, the publish finishes the yank and publishes; both errors are answered.
    std::fs::remove_dir_all(&page).expect("unblock");
    step_until(&mut h, "the panel idle", |app| !app.is_busy());
    click(&mut h, "Publish 1.2.0");
    click(&mut h, "Confirm publish");
    step_until(&mut h, "the publish and the status after it", |app| {
        !app.is_busy()
            && app.panels.deploy.task.is_none()
            && app.panels.deploy.outcome.is_some()
            && app.panels.deploy.status.as_ref().is_some_and(|s| {
                s.as_ref()
                    .is_ok_and(|s| s.begun.is_none() && s.live.as_deref() == Some("1.2.0"))
            })
    });
    assert!(h.query_by_label("NOT PUBLISHED").is_none());
    assert!(h.query_by_label("YANK FAILED").is_none());
}

#[test]
fn the_deploy_panel_rolls_the_backend_out_and_back_after_confirmations() {
    // The token variable only has to hold what the fake accepts: HOME always is set.
    let home = std::env::var("HOME").expect("HOME");
    let argo = common::argo::start_accepting(&home);
    let f = fixture();
    common::argo::configure(&f.root, &argo, "collab-api", 0.5, "HOME");
    let mut h = harness(&f);
    click(&mut h, "Deploy");
    step_until(&mut h, "the application", |app| {
        app.panels
            .deploy
            .backend
            .as_ref()
            .is_some_and(Result::is_ok)
    });
    assert!(
        h.query_by_label_contains("Argo CD application collab-api at http://127.0.0.1:")
            .is_some()
    );
    assert!(h.query_by_label("Deployment/collab-api").is_some());
    // Rolling out asks first, saying what will happen.
    click(&mut h, "Roll out v1.4.0");
    assert!(
        h.query_by_label_contains("Sync collab-api to v1.4.0 (prune: false)")
            .is_some()
    );
    assert!(h.state().runner().tasks().is_empty(), "nothing started yet");
    click(&mut h, "Confirm rollout");
    step_until(&mut h, "the rollout to finish", |app| {
        app.panels.deploy.backend_task.is_none()
            && app
                .runner()
                .tasks()
                .iter()
                .any(|t| t.state == release_console::runner::TaskState::Succeeded)
    });
    step_until(&mut h, "the Healthy application", |app| {
        app.panels
            .deploy
            .backend
            .as_ref()
            .and_then(|b| b.as_ref().ok())
            .is_some_and(|a| a.health == Some(Health::Healthy) && a.history.len() == 2)
    });
    let ws = Workspace::open(&f.root).expect("ws");
    let release = ws.release(Some("1.4.0")).expect("release");
    assert!(
        ws.checklist(&release)
            .expect("checklist")
            .is_done("deploy.backend"),
        "Backend rolling update is ticked by the task"
    );
    // Roll back to the first history entry, after its own confirmation.
    click(&mut h, "History (2)");
    click(&mut h, "Roll back to 1");
    assert!(
        h.query_by_label_contains("Roll collab-api back to history 1 (v1.1.0)")
            .is_some()
    );
    click(&mut h, "Confirm rollback");
    step_until(&mut h, "the rollback", |app| {
        app.panels.deploy.backend_task.is_none()
            && app
                .panels
                .deploy
                .backend
                .as_ref()
                .and_then(|b| b.as_ref().ok())
                .is_some_and(|a| a.history.len() == 3 && a.health == Some(Health::Healthy))
    });
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    assert!(audit.contains("\"deploy.backend\""), "audited rollout");
    assert!(audit.contains("\"deploy.rollback\""), "audited rollback");
    let v = argo.prism.violations();
    assert!(
        v.is_empty(),
        "requests and responses follow Argo CD's spec: {v:?}"
    );
}

/// Ticks a checklist item by its title and waits for it to land.
fn tick(h: &mut Harness<'static, ConsoleApp>, title: &str, id: &str) {
    click(h, "Checklist");
    // Items far down the list are scrolled into view first.
    h.get_by_label(title).scroll_to_me();
    // The scroll animates over a few frames.
    for _ in 0..30 {
        h.step();
    }
    h.get_by_label(title).click();
    h.step();
    h.step();
    // An item a task normally ticks asks why it is ticked by hand.
    if h.query_by_label("Tick with this note").is_some() {
        answer_note(h, "done outside the console (test walk)");
    }
    step_until(h, &format!("{id} to be ticked"), |app| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| c.checklist.is_done(id))
    });
}

/// Answers the Checklist's question for a hand-tick: types the note, then ticks with it.
fn answer_note(h: &mut Harness<'static, ConsoleApp>, note: &str) {
    type_into(h, "Why by hand:", note);
    click(h, "Tick with this note");
}

fn done(h: &Harness<'static, ConsoleApp>, id: &str) -> bool {
    h.state()
        .data
        .as_ref()
        .and_then(|d| d.current.as_ref())
        .is_some_and(|c| c.checklist.is_done(id))
}

#[test]
fn the_demo_walks_a_whole_release_with_no_credentials_and_no_network() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("demo");
    let ws = release_console::workspace::unpack_demo(&root).expect("demo");
    let r = release_console::demo::refresh(&ws, jiff::Timestamp::now());
    assert!(r.signing_made, "{:?}", r.signing_problem);
    assert!(
        r.kpi_samples_added > 6 * 500,
        "48 h of samples for each KPI"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let f = Fixture {
        other: dir.path().to_owned(),
        _dir: dir,
        rt,
        root,
    };
    let mut h = harness(&f);

    // Phase 1, by hand.
    tick(&mut h, "Review feature flags", "pre.review-flags");
    tick(&mut h, "Validate staging", "pre.validate-staging");
    // The notes: drafted from the demo's own repository in the Notes view, saved (which ticks
    // "Draft release notes"), and carried by the feeds when publishing.
    click(&mut h, "Notes");
    click(&mut h, "Draft from history");
    step_until(&mut h, "the notes drafted", |app| {
        app.panels.notes.text.contains("smoother pen strokes") && !app.is_busy()
    });
    click(&mut h, "Save notes");
    step_until(&mut h, "pre.release-notes to be ticked", |app| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| c.checklist.is_done("pre.release-notes"))
    });

    // Phase 2: the MSI built and signed here with the demo's own certificate.
    click(&mut h, "Builds");
    click(&mut h, "Run preflight");
    step_until(&mut h, "the preflight", |app| {
        !app.panels.builds.preflight.is_empty() && !app.is_busy()
    });
    assert!(
        h.query_by_label_contains("the demo's throwaway certificate")
            .is_some(),
        "preflight says it signs with the demo certificate"
    );
    h.get_all_by_label("Run")
        .find(|b| !b.accesskit_node().is_disabled())
        .expect("the Run this host can do")
        .click();
    h.step();
    step_until(&mut h, "the signed build", |app| {
        app.data.as_ref().is_some_and(|d| {
            d.artifacts.as_ref().is_ok_and(|a| !a.is_empty())
                && d.current
                    .as_ref()
                    .is_some_and(|c| c.checklist.is_done("build.windows"))
        }) && !app.is_busy()
    });
    click(&mut h, "Write SHA256SUMS and verify");
    step_until(&mut h, "a green verify", |app| {
        app.panels.verify.report.is_some() && !app.is_busy() && {
            app.data
                .as_ref()
                .and_then(|d| d.current.as_ref())
                .is_some_and(|c| c.checklist.is_done("build.verify"))
        }
    });
    let report = h.state().panels.verify.report.clone().expect("report");
    assert_eq!(
        report.artifacts[0].signature,
        release_console::verify::SignatureVerdict::Valid,
        "{:?}",
        report.artifacts[0]
    );
    assert!(
        report.artifacts[0]
            .detail
            .contains("WireTuner Demo (throwaway certificate)"),
        "the signer is labelled as a demo: {}",
        report.artifacts[0].detail
    );
    assert_eq!(
        h.query_all_by_label("none").count(),
        1,
        "the demo signs without a timestamp: the Timestamp cell says none, not blank"
    );
    // The macOS DMG needs a Mac: its item stays open; skipping the platform settles it.

    // Phase 3: every gate open but the installers one, which has no macOS installer and
    // says so, and the build phase, open for the macOS build alone; the demo ships Windows
    // alone, recorded with its reason (which ticks the macOS build item); then publish to the
    // local folder.
    click(&mut h, "Deploy");
    let only_installers = |d: &release_console::ui::snapshot::Snapshot| {
        d.gates
            .iter()
            .filter(|g| !g.is_open())
            .map(|g| g.gate.as_str())
            .eq(["checklist:build", "installers"])
    };
    step_until(
        &mut h,
        "the plan blocked on the macOS installer alone",
        |app| {
            !app.is_busy()
                && app.panels.deploy.plan.as_ref().is_some_and(Result::is_ok)
                && app.data.as_ref().is_some_and(only_installers)
        },
    );
    assert!(
        h.query_by_label_contains("no verified installer for macOS (none among the verified")
            .is_some(),
        "the gate names the missing platform"
    );
    assert!(
        h.query_by_label_contains("macOS: none among the verified artifacts")
            .is_some(),
        "and so does the publish card, above its skip box"
    );
    assert!(
        h.get_by_label("Publish 0.1.0")
            .accesskit_node()
            .is_disabled(),
        "no publish without a macOS installer or a reason"
    );
    assert!(
        h.query_by_label_contains(
            "Publish records the skip first and ticks \"Build, sign and notarize the macOS \
             installer\" with the reason"
        )
        .is_some(),
        "the skip box says which checklist item the skip settles, and when"
    );
    click(&mut h, "Not shipping macOS in 0.1.0 this time");
    type_into(
        &mut h,
        "Why it is not shipped (audited)",
        "demo: a macOS installer needs a Mac",
    );
    assert!(
        !h.get_by_label("Publish 0.1.0")
            .accesskit_node()
            .is_disabled(),
        "a skip with a reason opens the publish: the build item it settles does not block"
    );
    click(&mut h, "Publish 0.1.0");
    assert!(
        h.query_by_label_contains("macOS is NOT shipped in 0.1.0")
            .is_some(),
        "the confirmation says what is not shipped"
    );
    assert!(
        h.query_by_label_contains(
            "audited; ticks \"Build, sign and notarize the macOS installer\""
        )
        .is_some(),
        "and which checklist item the skip ticks"
    );
    click(&mut h, "Confirm publish");
    step_until(&mut h, "the publish", |app| {
        app.panels.deploy.task.is_none() && app.panels.deploy.outcome.is_some()
    });
    step_until(&mut h, "the items publishing ticks", |app| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .is_some_and(|c| {
                c.checklist.is_done("deploy.publish-installers")
                    && c.checklist.is_done("deploy.download-links")
            })
    });
    let item = h
        .state()
        .data
        .as_ref()
        .and_then(|d| d.current.as_ref())
        .and_then(|c| c.checklist.items.get("build.macos").cloned())
        .expect("the macOS build item has a state");
    assert!(
        item.done
            && item.note.starts_with(
                "macOS not shipped in 0.1.0 this time: demo: a macOS installer needs a Mac"
            ),
        "the skip ticked the macOS build item with its reason: {item:?}"
    );
    // The plan and the status are read again after the publish, in the background.
    step_until(&mut h, "the plan and status after the publish", |app| {
        let d = &app.panels.deploy;
        !app.is_busy()
            && d.plan
                .as_ref()
                .is_some_and(|p| p.as_ref().is_ok_and(|p| !p.skipped.is_empty()))
            && d.status.as_ref().is_some_and(|s| {
                s.as_ref()
                    .is_ok_and(|s| s.published.iter().any(|v| v == "0.1.0"))
            })
    });
    assert!(
        h.query_by_label_contains("macOS is not shipped in 0.1.0 this time")
            .is_some()
            && h.query_by_label("Ship macOS in 0.1.0 after all").is_none(),
        "the card names the skip; published, it cannot be withdrawn"
    );
    let latest = std::fs::read_to_string(
        f.root
            .join("published/WireTuner/releases/stable/latest.json"),
    )
    .expect("latest.json");
    assert!(
        latest.contains("smoother pen strokes"),
        "the feed carries the notes: {latest}"
    );
    let gates = &h.state().data.as_ref().expect("data").gates;
    let installers = gates
        .iter()
        .find(|g| g.gate == "installers")
        .expect("installers gate");
    assert!(
        installers.is_open()
            && installers.state == GateState::Warning
            && installers
                .reason
                .contains("macOS NOT SHIPPED this time (demo: a macOS installer needs a Mac"),
        "{installers:?}"
    );
    assert!(
        h.query_by_label_contains("No backend here").is_some(),
        "the demo has no Argo CD: the card says how to add one"
    );
    // The Overview says the release is live, and where.
    click(&mut h, "Overview");
    step_until(&mut h, "the Overview saying it is live", |app| {
        app.data.as_ref().is_some_and(|d| {
            d.on_channels.as_ref().is_ok_and(|l| {
                l.iter()
                    .any(|o| matches!(o, release_console::deploy::OnChannel::Live { .. }))
            })
        })
    });
    assert!(
        h.query_by_label_contains(
            "macOS is not shipped in 0.1.0 this time: demo: a macOS installer needs a Mac"
        )
        .is_some(),
        "the Overview says which platform the live release does not ship"
    );
    assert!(h.query_by_label("LIVE").is_some());
    assert!(h.query_by_label_contains("Live on stable since").is_some());
    click(&mut h, "Deploy");
    tick(&mut h, "Backend rolling update", "deploy.backend");

    // The flag stages: the first with a green KPI gate from the demo's samples, no override.
    click(&mut h, "Flags");
    step_until(&mut h, "the flags overview", |app| {
        matches!(&app.panels.flags.overview, Some(Ok(_)))
    });
    click(&mut h, "Create a flag");
    type_into(&mut h, "Key", "ui_new_exporter");
    type_into(&mut h, "Name", "New exporter");
    type_into(&mut h, "Tags", "team:frontend");
    click(&mut h, "Create flag");
    click(&mut h, "Confirm");
    step_until(&mut h, "the new flag", |app| {
        matches!(&app.panels.flags.overview, Some(Ok(o)) if o.rows.len() == 1)
            && app.panels.flags.task.is_none()
    });
    click(&mut h, "ui_new_exporter");
    click(&mut h, "Advance ui_new_exporter");
    assert!(h.query_by_label_contains("0% -> 10%").is_some());
    assert!(
        h.query_by_label_contains("Not allowed yet").is_none(),
        "the KPI gate is green on the demo's samples"
    );
    click(&mut h, "Confirm");
    step_until(&mut h, "10% and its checklist item", |app| {
        matches!(&app.panels.flags.overview, Some(Ok(o)) if o.rows[0].state.rollout_percent == 10)
            && app
                .data
                .as_ref()
                .and_then(|d| d.current.as_ref())
                .is_some_and(|c| c.checklist.is_done("deploy.flags-10"))
    });
    // The next stages wait for their hold time: a demo walks on with an audited reason.
    for (pct, id) in [(50, "deploy.flags-50"), (100, "deploy.flags-100")] {
        click(&mut h, "Advance ui_new_exporter");
        type_into(
            &mut h,
            "Override reason (audited)",
            "demo walk-through: no time to hold",
        );
        click(&mut h, "Confirm");
        step_until(&mut h, &format!("{pct}%"), |app| {
            matches!(&app.panels.flags.overview, Some(Ok(o)) if o.rows[0].state.rollout_percent == pct)
                && app
                    .data
                    .as_ref()
                    .and_then(|d| d.current.as_ref())
                    .is_some_and(|c| c.checklist.is_done(id))
        });
    }

    // Phase 4, the 48 hours after, by hand.
    for (title, id) in [
        ("Monitor error rates", "post.error-rates"),
        ("Monitor latency", "post.latency"),
        ("Monitor queue depth", "post.queue-depth"),
        ("Triage incidents", "post.triage-incidents"),
        ("Update the status page", "post.status-page"),
    ] {
        tick(&mut h, title, id);
    }
    let view = h
        .state()
        .data
        .as_ref()
        .and_then(|d| d.current.clone())
        .expect("release");
    let open: Vec<&str> = view
        .runbook
        .phases
        .iter()
        .flat_map(|p| &p.items)
        .filter(|i| !view.checklist.is_done(&i.id))
        .map(|i| i.id.as_str())
        .collect();
    assert!(
        open.is_empty(),
        "every item of the release is done: {open:?}"
    );
    assert!(done(&h, "build.verify"));
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    for action in [
        "demo.signing",
        "kpi.demo-samples",
        "publish",
        "flags.advance",
    ] {
        assert!(audit.contains(&format!("\"{action}\"")), "{action}");
    }
}

#[test]
fn an_incident_created_in_the_status_panel_shows_its_page_and_slack_deliveries_with_retry() {
    let pd = common::notify::PagerDuty::start();
    // No variable can be set for the GUI under test: the routing key is $HOME's value, and
    // #oncall's webhook variable is unset, so that delivery fails and offers Retry.
    let home = std::env::var("HOME").expect("HOME");
    pd.state.lock().expect("fake").key = Some(home);
    let f = fixture();
    let cfg = f.root.join("release-console.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(&format!(
        "\n[notify.pagerduty]\napi_base = \"{}\"\nrouting_key_env = \"HOME\"\n\
         escalation = [{{ who = \"On-call engineer\", within_mins = 5 }}, \
         {{ who = \"DevOps lead\", within_mins = 15 }}]\n\n\
         [[notify.slack]]\nchannel = \"#oncall\"\nwebhook_env = \"RC_TEST_NO_SUCH_HOOK\"\n\
         events = [\"incident.*\"]\n",
        pd.api_base
    ));
    std::fs::write(&cfg, text).expect("config");
    let mut h = harness(&f);
    open_p1_draft(&mut h);
    click(&mut h, "Preview");
    click(&mut h, "Publish");
    click(&mut h, "Yes, publish now");
    let state_of = |app: &ConsoleApp, target: &str| {
        app.data.as_ref().and_then(|d| d.outbox()).and_then(|o| {
            o.deliveries
                .iter()
                .find(|d| d.target.label() == target)
                .map(|d| d.state)
        })
    };
    step_until(&mut h, "the page to be sent and #oncall to fail", |app| {
        state_of(app, "pagerduty trigger") == Some(release_console::notify::State::Sent)
            && state_of(app, "slack #oncall") == Some(release_console::notify::State::Failed)
            && !app.is_busy()
    });
    let inc = h.state().data.as_ref().expect("data").incidents[0].clone();
    let seen = pd.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].body["dedup_key"], inc.id.as_str());
    assert_eq!(seen[0].body["payload"]["severity"], "error");
    assert!(
        pd.prism.violations().is_empty(),
        "{:?}",
        pd.prism.violations()
    );

    // The card says who was told, the escalation levels, and what failed, with Retry.
    assert!(h.query_by_label("pagerduty trigger").is_some());
    assert!(h.query_by_label("SENT").is_some());
    assert!(
        h.query_by_label_contains("On-call engineer < 5 min")
            .is_some()
    );
    assert!(h.query_by_label_contains("DevOps lead < 15 min").is_some());
    assert!(h.query_by_label("Retry slack #oncall").is_some());
    // On the card (and in the failed task's toast).
    assert!(
        h.query_all_by_label_contains(
            "the webhook for #oncall: $RC_TEST_NO_SUCH_HOOK (or the keyring entry \
             RC_TEST_NO_SUCH_HOOK) is not set"
        )
        .next()
        .is_some()
    );
    click(&mut h, "Retry slack #oncall");
    step_until(&mut h, "the retry to be audited and to fail again", |app| {
        !app.is_busy()
            && state_of(app, "slack #oncall") == Some(release_console::notify::State::Failed)
    });
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    assert!(audit.contains("\"notify.retry\""), "the retry is audited");
    assert_eq!(
        audit.matches("\"notify.failed\"").count(),
        2,
        "failed, retried, failed again"
    );
    assert_eq!(pd.seen().len(), 1, "the page is not sent twice");

    // The Overview warns about it, with Retry and a way to the Outbox.
    click(&mut h, "Overview");
    assert!(
        h.query_by_label_contains("1 not delivered (last: slack #oncall")
            .is_some()
    );
    assert!(h.query_by_label("Retry them").is_some());

    // The Outbox in the Audit panel lists both.
    click(&mut h, "Audit");
    // Open by itself, since a delivery needs attention.
    assert!(
        h.query_by_label("Outbox: 2 deliveries, 0 queued, 1 need attention")
            .is_some()
    );
    assert!(h.query_by_label("Retry all that failed").is_some());
    assert_eq!(h.query_all_by_label_contains("P1 incident:").count(), 2);
}

#[test]
fn the_verify_panel_shows_an_apple_signature_as_slices_and_a_chain_tree() {
    let vendor = std::env::var("RC_TEST_APPLE_VENDOR_BINARY")
        .expect("RC_TEST_APPLE_VENDOR_BINARY (scripts/test.sh fetches npm @sentry/cli-darwin)");
    let f = fixture();
    let dir = f.root.join("releases/1.4.0/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts");
    std::fs::copy(&vendor, dir.join("sentry-cli")).expect("copy");
    common::sh(&dir, "sha256sum sentry-cli > SHA256SUMS");
    let cfg = f.root.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let pinned = text.replace("apple_team_id = \"\"", "apple_team_id = \"97JCY7859U\"");
    assert_ne!(pinned, text);
    std::fs::write(&cfg, pinned).expect("config");
    let mut h = harness(&f);
    click(&mut h, "Verify");
    click(&mut h, "Use release 1.4.0 artifacts");
    click(&mut h, "Run verification");
    step_until(&mut h, "the report", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("1 of 1 artifacts green").is_some());
    click(&mut h, "sentry-cli");
    // Both slices, each with its chain down to Apple's root, matched by fingerprint.
    for arch in ["x86_64", "arm64"] {
        assert!(h.query_by_label(arch).is_some(), "{arch} slice shown");
    }
    assert_eq!(h.query_all_by_label("TRUSTED ROOT").count(), 2);
    assert_eq!(
        h.query_all_by_label("Apple Root CA, matched by SHA-256 fingerprint")
            .count(),
        2
    );
    assert_eq!(
        h.query_all_by_label("Developer ID Certification Authority")
            .count(),
        2
    );
    assert!(
        h.query_all_by_label("97JCY7859U").count() >= 2,
        "the Team ID of each slice"
    );
}

/// `git ARGS` in `dir`, which must succeed; its stdout.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Ann Lee",
            "-c",
            "user.email=ann@wiretuner.test",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes `file` in `repo` and commits it with `message`; returns the commit.
fn commit(repo: &std::path::Path, file: &str, content: &str, message: &str) -> String {
    let path = repo.join(file);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(&path, content).expect("write");
    git(repo, &["add", "--", file]);
    git(repo, &["commit", "-q", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

/// The fixture's workspace with `[source]` on a new repository `product/`: 1.4.0 tagged
/// `v1.4.0`, then a feature and a fix on main; release 1.5.0 (not tagged) made too.
fn source_fixture() -> (Fixture, PathBuf) {
    let f = fixture();
    let repo = f.root.join("product");
    std::fs::create_dir_all(&repo).expect("repo");
    git(&repo, &["init", "-q", "-b", "main"]);
    commit(&repo, "src/app.txt", "app 1.4.0\n", "feat: pen tool");
    git(&repo, &["tag", "-a", "v1.4.0", "-m", "WireTuner 1.4.0"]);
    commit(
        &repo,
        "src/layers.txt",
        "layers\n",
        "feat(layers): layer panel",
    );
    commit(
        &repo,
        "src/export.txt",
        "svg\n",
        "fix(export): keep layer names in SVG",
    );
    let cfg = f.root.join("release-console.toml");
    let mut toml = std::fs::read_to_string(&cfg).expect("config");
    toml.push_str("\n[source]\nrepo = \"product\"\nmax_hotfix_commit_lines = 100\n");
    std::fs::write(&cfg, toml).expect("config");
    Workspace::open(&f.root)
        .expect("open")
        .create_release("1.5.0", None)
        .expect("1.5.0");
    (f, repo)
}

fn selected(h: &Harness<'static, ConsoleApp>) -> Option<String> {
    h.state()
        .data
        .as_ref()
        .and_then(release_console::ui::snapshot::Snapshot::selected_version)
}

/// Chooses `option` in the Overview's "Hotfix of" list and types `version`.
fn hotfix_form(h: &mut Harness<'static, ConsoleApp>, option: &str, version: &str) {
    click(h, "Hotfix of");
    click(h, option);
    h.get_by_label("Hotfix version")
        .set_text_value_accesskit(version);
    h.step();
    h.step();
    assert_eq!(h.state().panels.overview.hotfix_version, version);
}

#[test]
fn new_hotfix_from_the_overview_is_refused_in_words_then_cut_from_the_tag_and_reviewed() {
    let (f, repo) = source_fixture();
    let mut h = harness(&f);
    step_until(
        &mut h,
        "the repository's tags",
        |app| matches!(&app.panels.overview.tags, Some(Ok(t)) if t.len() == 1),
    );

    // A hotfix of a release that was never tagged: refused, in the domain's words.
    hotfix_form(&mut h, "1.5.0 (not tagged)", "1.5.1");
    assert!(
        h.query_by_label_contains("a hotfix of it will be refused")
            .is_some(),
        "the form says so before the click"
    );
    click(&mut h, "New hotfix");
    step_until(&mut h, "the refusal", |app| {
        app.panels.overview.hotfix_error.is_some() && !app.is_busy()
    });
    assert!(
        h.query_by_label_contains("Not created: tag v1.5.0 (of release 1.5.0) is not in")
            .is_some(),
        "{:?}",
        h.state().panels.overview.hotfix_error
    );
    assert!(!f.root.join("releases/1.5.1").exists());

    // A branch that exists with other commits: refused, naming them.
    git(&repo, &["branch", "hotfix/v1.4.2", "v1.4.0"]);
    git(&repo, &["checkout", "-q", "hotfix/v1.4.2"]);
    let stray = commit(&repo, "src/stray.txt", "x\n", "wip: stray work");
    git(&repo, &["checkout", "-q", "main"]);
    hotfix_form(&mut h, "1.4.0 (tag v1.4.0)", "1.4.2");
    assert!(
        h.query_by_label_contains("Cuts hotfix/v1.4.2 from tag v1.4.0")
            .is_some()
    );
    click(&mut h, "New hotfix");
    step_until(&mut h, "the second refusal", |app| {
        app.panels
            .overview
            .hotfix_error
            .as_deref()
            .is_some_and(|e| e.contains("hotfix/v1.4.2"))
    });
    let said = format!(
        "Not created: branch hotfix/v1.4.2 already exists with 1 commit(s) that are not on tag v1.4.0: {} wip: stray work",
        &stray[..10]
    );
    assert!(h.query_by_label(&said).is_some(), "{said}");

    // The hotfix: cut from the tag's commit as a task, selected, its branch item ticked.
    hotfix_form(&mut h, "1.4.0 (tag v1.4.0)", "1.4.1");
    click(&mut h, "New hotfix");
    step_until(
        &mut h,
        "the hotfix selected with its branch ticked",
        |app| selected_is(app, "1.4.1") && app.panels.overview.hotfix_task.is_none(),
    );
    assert!(done(&h, "hotfix.branch"));
    let tag_commit = git(&repo, &["rev-parse", "v1.4.0^{commit}"]);
    assert_eq!(git(&repo, &["rev-parse", "hotfix/v1.4.1"]), tag_commit);
    let task = h
        .state()
        .runner()
        .tasks()
        .into_iter()
        .find(|t| t.info.name == "new-hotfix-1.4.1")
        .expect("the New hotfix task");
    assert_eq!(task.state, TaskState::Succeeded);
    assert!(h.state().panels.overview.hotfix_error.is_none());

    // A fix and a feature on the branch; the fix cherry-picked onto main.
    git(&repo, &["checkout", "-q", "hotfix/v1.4.1"]);
    let fix = commit(
        &repo,
        "src/app.txt",
        "app 1.4.1\nno crash on empty files\n",
        "fix: crash when opening an empty file",
    );
    commit(&repo, "src/brush.txt", "brush\n", "feat: brush tool");
    git(&repo, &["checkout", "-q", "main"]);
    git(&repo, &["cherry-pick", "-x", &fix]);

    click(&mut h, "Checklist");
    click(&mut h, "Re-check merge-back");
    step_until(&mut h, "the branch's two commits", |app| {
        matches!(&app.panels.checklist.hotfix, Some(Ok(r)) if r.commits.len() == 2)
            && !app.is_busy()
    });
    let review = match &h.state().panels.checklist.hotfix {
        Some(Ok(r)) => r.clone(),
        other => panic!("{other:?}"),
    };
    assert!(review.commits[0].flags.is_empty());
    assert!(review.commits[0].on_main, "the cherry-pick counts");
    assert!(!review.commits[1].flags.is_empty());
    assert!(!review.commits[1].on_main);
    for text in [
        "FAST-TRACK REVIEW",
        "NOT MERGED BACK",
        "feat: brush tool",
        "fix: crash when opening an empty file",
        "ON MAIN",
        "NOT ON MAIN",
    ] {
        assert!(h.query_by_label(text).is_some(), "{text}");
    }
    assert!(
        h.query_by_label_contains("Flagged: its subject matches the feature pattern")
            .is_some()
    );
    assert!(h.query_by_label_contains("+2 -1  src/app.txt").is_some());
    assert!(h.query_by_label_contains("src/brush.txt").is_some());
    assert!(!done(&h, "hotfix.merge-back"));

    // The rest merged: the re-check ticks "Merge the fix back to main".
    git(
        &repo,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge hotfix/v1.4.1",
            "hotfix/v1.4.1",
        ],
    );
    click(&mut h, "Re-check merge-back");
    step_until(&mut h, "the merge back ticked", |app| {
        matches!(&app.panels.checklist.hotfix, Some(Ok(r)) if r.merged_back)
            && app
                .data
                .as_ref()
                .and_then(|d| d.current.as_ref())
                .is_some_and(|c| c.checklist.is_done("hotfix.merge-back"))
    });
    assert!(h.query_by_label("MERGED BACK").is_some());
}

#[test]
fn tag_the_release_on_the_overview_refuses_a_tag_elsewhere_then_tags_as_release_tag_does() {
    let (f, repo) = source_fixture();
    let mut h = harness(&f);
    assert_eq!(selected(&h).as_deref(), Some("1.5.0"));
    step_until(
        &mut h,
        "the repository's tags",
        |app| matches!(&app.panels.overview.tags, Some(Ok(t)) if t.len() == 1),
    );
    assert!(h.query_by_label("NOT TAGGED").is_some());
    let head = git(&repo, &["rev-parse", "main"]);
    let old = git(&repo, &["rev-parse", "v1.4.0^{commit}"]);

    // Someone tagged 1.5.0 elsewhere meanwhile: refused in the domain's words, nothing moved.
    git(&repo, &["tag", "-a", "v1.5.0", "-m", "elsewhere", &old]);
    click(&mut h, "Tag the release");
    step_until(&mut h, "the refusal", |app| {
        app.panels.overview.tag_error.is_some() && app.panels.overview.tag_task.is_none()
    });
    let said = format!("Not tagged: tag v1.5.0 already exists at {old}, not at {head}");
    assert!(
        h.query_by_label_contains(&said).is_some(),
        "{said}: {:?}",
        h.state().panels.overview.tag_error
    );
    assert_eq!(git(&repo, &["rev-parse", "v1.5.0^{commit}"]), old);

    // That tag removed (and the tags read again after a change): tagged at main's head, as
    // `release tag 1.5.0` does with no build recorded.
    git(&repo, &["tag", "-d", "v1.5.0"]);
    tick(&mut h, "Validate staging", "pre.validate-staging");
    click(&mut h, "Overview");
    step_until(&mut h, "the tags read again", |app| {
        matches!(&app.panels.overview.tags, Some(Ok(t)) if t.len() == 1) && !app.is_busy()
    });
    click(&mut h, "Tag the release");
    step_until(&mut h, "the tag seen", |app| {
        matches!(&app.panels.overview.tags, Some(Ok(t)) if t.len() == 2) && !app.is_busy()
    });
    assert!(h.state().panels.overview.tag_error.is_none());
    assert_eq!(git(&repo, &["cat-file", "-t", "v1.5.0"]), "tag");
    assert_eq!(git(&repo, &["rev-parse", "v1.5.0^{commit}"]), head);
    assert!(h.query_by_label("TAGGED").is_some());
    assert!(h.query_by_label("Tag the release").is_none());
    let task = h
        .state()
        .runner()
        .tasks()
        .into_iter()
        .find(|t| t.info.name == "tag-1.5.0" && t.state == TaskState::Succeeded)
        .expect("the Tag the release task");
    let message = task.message.unwrap_or_default();
    assert!(message.contains("tagged v1.5.0 at"), "{message}");
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    assert!(audit.contains("\"source.tag\""), "the tag is audited");
}

#[test]
fn the_merge_back_is_checked_again_each_time_the_hotfix_checklist_is_opened() {
    let (f, repo) = source_fixture();
    crate::common::ok(&crate::common::cli(
        &f.root,
        &["release", "new", "1.4.1", "--hotfix-of", "1.4.0"],
    ));
    git(&repo, &["checkout", "-q", "hotfix/v1.4.1"]);
    commit(
        &repo,
        "src/app.txt",
        "app 1.4.1\n",
        "fix: crash on empty files",
    );
    git(&repo, &["checkout", "-q", "main"]);
    let mut h = harness(&f);
    select_release(&mut h, "1.4.1");
    click(&mut h, "Checklist");
    step_until(&mut h, "the branch read, not merged back", |app| {
        matches!(&app.panels.checklist.hotfix, Some(Ok(r)) if r.commits.len() == 1 && !r.merged_back)
            && !app.is_busy()
    });
    assert!(h.query_by_label("NOT MERGED BACK").is_some());
    assert!(!done(&h, "hotfix.merge-back"));

    // Merged on main while another panel shows; opening the checklist again checks and
    // ticks, with no click on Re-check.
    click(&mut h, "Overview");
    git(
        &repo,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge hotfix/v1.4.1",
            "hotfix/v1.4.1",
        ],
    );
    for _ in 0..5 {
        h.step();
    }
    assert!(
        !done(&h, "hotfix.merge-back"),
        "not checked while the checklist is not shown"
    );
    click(&mut h, "Checklist");
    step_until(&mut h, "the merge back ticked", |app| {
        matches!(&app.panels.checklist.hotfix, Some(Ok(r)) if r.merged_back)
            && app
                .data
                .as_ref()
                .and_then(|d| d.current.as_ref())
                .is_some_and(|c| c.checklist.is_done("hotfix.merge-back"))
    });
    assert!(h.query_by_label("MERGED BACK").is_some());
}

fn selected_is(app: &ConsoleApp, version: &str) -> bool {
    app.data
        .as_ref()
        .and_then(release_console::ui::snapshot::Snapshot::selected_version)
        .as_deref()
        == Some(version)
}

#[test]
fn notes_are_drafted_from_the_history_edited_previewed_and_saved() {
    let (f, _repo) = source_fixture();
    let mut h = harness(&f);
    assert_eq!(selected(&h).as_deref(), Some("1.5.0"));
    click(&mut h, "Notes");
    step_until(&mut h, "the notes read", |app| !app.is_busy());
    assert!(h.query_by_label("not written yet").is_some());
    assert!(h.query_by_label("Nothing to preview yet.").is_some());

    click(&mut h, "Draft from history");
    step_until(&mut h, "the draft", |app| {
        app.panels.notes.text.contains("## Features") && !app.is_busy()
    });
    let text = h.state().panels.notes.text.clone();
    assert!(text.starts_with("# WireTuner 1.5.0"), "{text}");
    assert!(text.contains("Changes since v1.4.0."), "{text}");
    assert!(text.contains("- **layers:** layer panel"), "{text}");
    assert!(!text.contains("pen tool"), "before the tag: {text}");
    // The preview draws it as text: headings, bullets with their scope in bold.
    for label in [
        "WireTuner 1.5.0",
        "Features",
        "Fixes",
        "layers:",
        "unsaved changes",
    ] {
        assert!(h.query_by_label(label).is_some(), "{label}");
    }
    assert!(
        h.query_by_label_contains("Drafted from 2 commit(s) since v1.4.0")
            .is_some()
    );

    // An edit by hand, then Save: the file, its audit entry, and the checklist item.
    h.get_by_label("Markdown").focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::CTRL, egui::Key::End);
    h.step();
    h.get_by_label("Markdown")
        .type_text("\nThanks for testing the beta.\n");
    h.step();
    h.step();
    assert!(h.query_by_label("Thanks for testing the beta.").is_some());
    assert!(!done(&h, "pre.release-notes"));
    click(&mut h, "Save notes");
    step_until(&mut h, "the notes saved and their item ticked", |app| {
        app.panels.notes.saved.is_some()
            && app
                .data
                .as_ref()
                .and_then(|d| d.current.as_ref())
                .is_some_and(|c| c.checklist.is_done("pre.release-notes"))
    });
    let file = std::fs::read_to_string(f.root.join("releases/1.5.0/notes.md")).expect("notes.md");
    assert_eq!(file, h.state().panels.notes.text);
    assert!(file.contains("Thanks for testing the beta."), "{file}");
    assert!(h.query_by_label("saved").is_some());
    let audit = std::fs::read_to_string(f.root.join("audit.log")).expect("audit");
    assert!(audit.contains("\"release.notes\""), "the save is audited");
    assert!(
        h.state()
            .toasts
            .items()
            .iter()
            .any(|t| t.text.contains("ticked \"Draft release notes\"")),
        "{:?}",
        h.state().toasts.items()
    );
}

/// Picks `version` in the header's Release list and waits until it is selected and read.
fn select_release(h: &mut Harness<'static, ConsoleApp>, version: &str) {
    click(h, "Release");
    click(h, version);
    step_until(h, &format!("{version} selected"), |app| {
        selected_is(app, version) && !app.is_busy()
    });
}

#[test]
fn unsaved_notes_are_kept_per_release_when_another_release_is_selected() {
    let (f, _repo) = source_fixture();
    std::fs::write(
        f.root.join("releases/1.4.0/notes.md"),
        "# WireTuner 1.4.0\n\nSaved before.\n",
    )
    .expect("1.4.0 notes");
    let mut h = harness(&f);
    assert_eq!(selected(&h).as_deref(), Some("1.5.0"));
    click(&mut h, "Notes");
    step_until(&mut h, "the notes read", |app| !app.is_busy());
    h.get_by_label("Markdown").focus();
    h.step();
    h.get_by_label("Markdown")
        .type_text("# WireTuner 1.5.0\n\nWork in progress.\n");
    h.step();
    h.step();
    let typed = h.state().panels.notes.text.clone();
    assert!(typed.contains("Work in progress."), "{typed}");
    assert!(h.query_by_label("unsaved changes").is_some());

    // Another release: its own saved notes, and the edits of 1.5.0 said to be kept.
    select_release(&mut h, "1.4.0");
    step_until(&mut h, "1.4.0's notes", |app| {
        app.panels.notes.text.contains("Saved before.") && !app.is_busy()
    });
    assert!(h.query_by_label("saved").is_some());
    assert!(
        h.query_by_label_contains("unsaved edits kept for 1.5.0")
            .is_some()
    );
    assert!(!f.root.join("releases/1.5.0/notes.md").exists());

    // Back to 1.5.0: the edits are there again, still unsaved.
    select_release(&mut h, "1.5.0");
    step_until(&mut h, "1.5.0's edits back", |app| {
        app.panels.notes.text == typed && !app.is_busy()
    });
    assert!(h.query_by_label("unsaved changes").is_some());
    let root = h.state().data.as_ref().expect("data").ws.root().to_owned();
    assert!(h.state().panels.notes.kept_versions(&root).is_empty());
    assert!(
        h.query_by_label_contains("unsaved edits kept for")
            .is_none()
    );
}

/// Verifies release 1.4.0's artifacts from the Verify panel: a green PASS.
fn verify_release_in_panel(h: &mut Harness<'static, ConsoleApp>) {
    click(h, "Verify");
    click(h, "Use release 1.4.0 artifacts");
    click(h, "Run verification");
    step_until(h, "the report", |app| {
        app.panels.verify.report.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("PASS").is_some());
}

#[test]
fn a_verify_whose_files_changed_after_it_reads_stale_everywhere_naming_the_file() {
    let f = fixture();
    let dir = write_artifacts(&f, false);
    let mut h = harness(&f);
    verify_release_in_panel(&mut h);
    // A rebuild replaces the bundle after the PASS (new bytes, new size).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        dir.join("WireTuner-1.4.0.tar.gz"),
        b"the linux bundle, rebuilt",
    )
    .expect("write");
    // Any change reloads the workspace: tick a plain item.
    tick(&mut h, "Validate staging", "pre.validate-staging");
    step_until(&mut h, "the stale verify to be seen", |app| {
        app.data.as_ref().is_some_and(|d| d.verify_stale.is_some()) && !app.is_busy()
    });

    // Verify: no big green PASS for files that changed; amber STALE naming the file.
    click(&mut h, "Verify");
    assert!(
        h.query_by_label("PASS").is_none(),
        "no PASS for changed files"
    );
    assert!(h.query_by_label("STALE").is_some());
    assert!(
        h.query_by_label_contains("STALE: WireTuner-1.4.0.tar.gz modified")
            .is_some(),
        "names the file and when it changed"
    );

    // Builds: each hash says which reference it is; SHA256SUMS is marked stale for the file.
    click(&mut h, "Builds");
    assert!(h.query_by_label("In SHA256SUMS").is_some());
    assert!(h.query_by_label("SHA-256 its builder printed").is_some());
    assert!(
        h.query_all_by_label("STALE").count() >= 2,
        "the SHA256SUMS entry and the verify are stale"
    );

    // Deploy: the plan's hashes are the verify's, said so, and stale.
    click(&mut h, "Deploy");
    step_until(&mut h, "the plan", |app| {
        !app.is_busy()
            && app
                .panels
                .deploy
                .plan
                .as_ref()
                .is_some_and(|p| p.as_ref().is_ok_and(|p| p.stale.is_some()))
    });
    assert!(h.query_by_label_contains("SHA-256 as verified").is_some());
    assert!(h.query_by_label("STALE").is_some());
    assert!(h.query_by_label_contains("as it will be written").is_none());
}

#[test]
fn rebuild_asks_first_naming_the_pass_verify_it_invalidates() {
    let f = fixture();
    write_artifacts(&f, false);
    // windows-on-linux was built before.
    let state = serde_json::json!({"platforms": {"windows-on-linux": {
        "status": "succeeded", "message": "1 artifact", "steps": [], "artifacts": [],
        "finished_at": "2025-01-01T00:00:00Z"}}});
    std::fs::write(
        f.root.join("releases/1.4.0/pipeline.json"),
        serde_json::to_vec(&state).expect("json"),
    )
    .expect("state");
    let mut h = harness(&f);
    verify_release_in_panel(&mut h);
    step_until(&mut h, "the PASS to be known", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| !d.rebuild_invalidates.is_empty())
    });
    click(&mut h, "Builds");
    click(&mut h, "Rebuild");
    // Nothing started: the question names what a rebuild invalidates.
    assert!(
        !h.state()
            .runner()
            .tasks()
            .iter()
            .any(|t| t.info.name == "build-windows-on-linux"),
        "a rebuild asks first"
    );
    assert!(h.query_by_label_contains("This invalidates").is_some());
    assert!(h.query_by_label_contains("the PASS verify of").is_some());
    click(&mut h, "Keep the current build");
    assert!(h.query_by_label_contains("This invalidates").is_none());
    assert!(h.state().panels.builds.confirm_rebuild.is_none());
    click(&mut h, "Rebuild");
    click(&mut h, "Rebuild anyway");
    assert!(
        h.state()
            .runner()
            .tasks()
            .iter()
            .any(|t| t.info.name == "build-windows-on-linux"),
        "the rebuild runs once confirmed"
    );
}

#[test]
fn hand_ticking_an_item_a_task_ticks_asks_for_a_note_and_post_release_waits_for_the_publish() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Checklist");
    // A task normally ticks the macOS build: ticking it by hand asks why.
    let title = "Build, sign and notarize the macOS installer";
    h.get_by_label(title).scroll_to_me();
    for _ in 0..20 {
        h.step();
    }
    h.get_by_label(title).click();
    for _ in 0..5 {
        h.step();
    }
    assert!(!done(&h, "build.macos"), "not ticked without a note");
    assert!(
        h.query_by_label_contains("ticking it by hand needs a note")
            .is_some()
    );
    let button = h.get_by_label("Tick with this note");
    assert!(
        button.accesskit_node().is_disabled(),
        "an empty note cannot tick"
    );
    answer_note(&mut h, "built and notarized on the release Mac");
    step_until(&mut h, "the tick with its note", |app| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .and_then(|c| c.checklist.items.get("build.macos"))
            .is_some_and(|s| s.done && s.note == "built and notarized on the release Mac")
    });
    // The CLI refuses the same tick without a note (the same domain function).
    let ws = Workspace::open(&f.root).expect("open");
    let r = ws.release(None).expect("release");
    let err = ws
        .set_item(&r, "build.windows", true, " ")
        .expect_err("a hand-tick of an auto item needs a note");
    assert!(err.to_string().contains("needs a note"), "{err}");

    // Post-release items wait for the publish.
    h.get_by_label("Monitor error rates").scroll_to_me();
    for _ in 0..20 {
        h.step();
    }
    assert!(
        h.get_by_label("Monitor error rates")
            .accesskit_node()
            .is_disabled(),
        "gated on the publish"
    );
    let err = ws
        .set_item(&r, "post.error-rates", true, "looks fine")
        .expect_err("gated");
    assert!(
        err.to_string()
            .contains("\"Publish installers\" is not done yet"),
        "{err}"
    );
}

/// The task tray can be resized, and the pointer says so: over its top edge the cursor is a
/// vertical resize arrow (the grip drawn there marks the place), and dragging the edge up
/// makes the tray taller by as much; its task list's right edge likewise resizes sideways.
#[test]
fn the_task_tray_resizes_from_its_marked_edges() {
    let f = fixture();
    let mut h = harness(&f);
    let tasks_top = h.get_by_label("Tasks").rect().top();
    // The panel's top edge is a few points above its first line.
    let edge = (1..40)
        .map(|d| tasks_top - d as f32)
        .find(|&y| {
            h.hover_at(egui::pos2(640.0, y));
            h.step();
            h.output().platform_output.cursor_icon == egui::CursorIcon::ResizeRow
                || h.output().platform_output.cursor_icon == egui::CursorIcon::ResizeVertical
        })
        .expect("over the tray's top edge the cursor says it resizes");
    h.drag_at(egui::pos2(640.0, edge));
    h.step();
    for y in (0..=15).map(|i| edge - i as f32 * 10.0) {
        h.hover_at(egui::pos2(640.0, y));
        h.step();
    }
    h.drop_at(egui::pos2(640.0, edge - 150.0));
    for _ in 0..5 {
        h.step();
    }
    let moved = tasks_top - h.get_by_label("Tasks").rect().top();
    assert!(
        (140.0..=160.0).contains(&moved),
        "dragging the edge 150 points up made the tray {moved} points taller"
    );

    // The task list beside the log: its right edge resizes sideways.
    let label = h.get_by_label("Tasks").rect();
    let (list_right, row) = (label.left() + 320.0, label.center().y + 40.0);
    let side = (-40..40).map(|d| list_right + d as f32).find(|&x| {
        h.hover_at(egui::pos2(x, row));
        h.step();
        h.output().platform_output.cursor_icon == egui::CursorIcon::ResizeColumn
            || h.output().platform_output.cursor_icon == egui::CursorIcon::ResizeHorizontal
    });
    assert!(
        side.is_some(),
        "over the task list's right edge the cursor says it resizes"
    );
}

/// A card whose last build ran its own Preflight step says so, instead of "not run yet".
#[test]
fn a_build_that_ran_its_preflight_step_is_not_shown_as_never_preflighted() {
    let f = fixture();
    let state = serde_json::json!({"platforms": {"windows-on-linux": {
        "status": "succeeded", "message": "built", "artifacts": [],
        "steps": [{"name": "Preflight", "seconds": 0.4}, {"name": "Build MSI", "seconds": 3.0}],
        "finished_at": "2026-12-04T10:00:00Z"
    }}});
    std::fs::write(
        f.root.join("releases/1.4.0/pipeline.json"),
        serde_json::to_vec(&state).expect("json"),
    )
    .expect("pipeline.json");
    let mut h = harness(&f);
    click(&mut h, "Builds");
    assert_eq!(h.query_all_by_label("Preflight not run yet.").count(), 2);
    assert!(
        h.query_by_label_contains("Preflight passed as the first step of the last build")
            .is_some()
    );
}

/// A disabled Publish says why beside it, not only on hover.
#[test]
fn a_disabled_publish_says_why_beside_it() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Deploy");
    step_until(&mut h, "the deploy plan", |app| !app.is_busy());
    assert!(
        h.query_by_label("A gate is blocked (see above)").is_some(),
        "the reason is a label on the panel"
    );
}

/// Settings > Tools: a program's path typed in its row (Enter saves it) lands in `[tools]` of
/// the configuration, audited, and the row then says the program is the configured one; the
/// console runs that file for the name from then on.
#[cfg(unix)]
#[test]
fn a_tool_path_set_in_settings_is_saved_and_its_row_says_configured() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = fixture();
    // A program of our own where no PATH folder is.
    let bin = f.root.join("own-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let program = bin.join("osslsigncode");
    std::fs::write(&program, "#!/bin/sh\necho osslsigncode 9.9\n").expect("write");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = program.display().to_string();

    let mut h = harness(&f);
    click(&mut h, "Settings");
    assert!(h.query_by_label("Tools").is_some());
    click(&mut h, "Path of osslsigncode");
    h.get_by_label("Path of osslsigncode").type_text(&path);
    h.step();
    h.key_press(egui::Key::Enter);
    step_until(&mut h, "the configuration with the tool path", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| d.ws.config().tools.get("osslsigncode") == Some(&path))
            && !app.is_busy()
    });

    let text = std::fs::read_to_string(f.root.join("release-console.toml")).expect("config");
    assert!(
        text.contains(&format!("[tools]\nosslsigncode = \"{path}\"")),
        "{text}"
    );
    let ws = Workspace::open(&f.root).expect("open");
    let entries = ws.audit().entries().expect("entries");
    let set = entries
        .iter()
        .find(|e| e.action == "workspace.config.tool")
        .expect("audited");
    assert_eq!(set.after["tool"], "osslsigncode");
    assert_eq!(set.after["path"], path.as_str());
    assert!(set.before["path"].is_null());

    assert!(
        h.query_by_label(&format!("configured: {path}")).is_some(),
        "the row says where the program is"
    );
    assert!(h.query_by_label("CONFIGURED").is_some());
    assert_eq!(
        release_console::os::find_program("osslsigncode"),
        Some(program.clone()),
        "the console runs the configured file for the name"
    );

    // Cleared, the program is looked for on PATH again (audited too).
    // (Through accessibility, so the test does not depend on where the row wraps.)
    h.get_by_label("Clear").click_accesskit();
    h.step();
    step_until(&mut h, "the tool path removed", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| d.ws.config().tools.is_empty())
            && !app.is_busy()
    });
    assert!(h.query_by_label(&format!("configured: {path}")).is_none());
    let entries = ws.audit().entries().expect("entries");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "workspace.config.tool")
            .count(),
        2
    );
}

/// Settings > Tools: a relative path is refused beside its field, in full, before anything is
/// saved; the text typed stays in the field to correct, and the window's error bar stays empty.
#[test]
fn a_relative_tool_path_is_refused_beside_its_field_and_the_text_is_kept() {
    let f = fixture();
    let mut h = harness(&f);
    click(&mut h, "Settings");
    click(&mut h, "Path of osslsigncode");
    h.get_by_label("Path of osslsigncode")
        .type_text("bin/osslsigncode");
    h.step();
    h.key_press(egui::Key::Enter);
    for _ in 0..5 {
        h.step();
    }
    assert!(
        h.query_by_label(
            "Not saved: \"bin/osslsigncode\" is not an absolute path: a program is looked for \
             wherever the console runs, so give its full path (e.g. \
             /opt/homebrew/bin/osslsigncode)"
        )
        .is_some(),
        "the whole reason is under the field"
    );
    assert!(
        h.query_all_by_value("bin/osslsigncode").count() >= 1,
        "the field keeps what was typed"
    );
    let app = h.state();
    assert!(!app.is_busy(), "nothing was sent to the workspace");
    assert!(
        app.data
            .as_ref()
            .is_some_and(|d| d.ws.config().tools.is_empty()),
        "nothing saved"
    );
    let text = std::fs::read_to_string(f.root.join("release-console.toml")).expect("config");
    assert!(!text.contains("[tools]"), "{text}");
}

/// Builds: a tool whose configured path is no program fails preflight with where to change the
/// path (not how to install it); Run is off with the reason on hover while that preflight is
/// the one for the build as set; its rows are marked stale once Skip signing or the
/// configuration changes, and a new preflight hides them while it runs.
#[test]
fn a_broken_tool_path_fails_preflight_with_where_to_change_it_and_run_is_off() {
    let f = fixture();
    Workspace::open(&f.root)
        .expect("open")
        .set_tool_path("wixl", Some("/nonexistent-gui30/bin/wixl"))
        .expect("set the path");
    let mut h = harness(&f);
    click(&mut h, "Builds");
    click(&mut h, "Run preflight");
    step_until(&mut h, "the preflight", |app| {
        !app.panels.builds.preflight.is_empty() && !app.is_busy()
    });
    let fix = h
        .query_by_label_contains("fix: correct the path of wixl in Settings > Tools")
        .map(|n| n.accesskit_node().value().unwrap_or_default());
    assert!(fix.is_some(), "the fix names where the path is set");
    assert!(
        fix.is_some_and(|t| t.contains("release-console.toml") && !t.contains("apt-get")),
        "not an install hint"
    );
    let enabled_runs = |h: &Harness<'static, ConsoleApp>| {
        h.get_all_by_label("Run")
            .filter(|b| !b.accesskit_node().is_disabled())
            .count()
    };
    assert_eq!(enabled_runs(&h), 0, "Run is off after a FAILED preflight");
    assert!(
        h.get_all_by_label("Dry run")
            .last()
            .is_some_and(|b| !b.accesskit_node().is_disabled()),
        "a dry run stays possible"
    );
    // Hovering the disabled Run says why.
    let run = h
        .get_all_by_label("Run")
        .last()
        .expect("the card this host builds");
    run.hover();
    for _ in 0..5 {
        h.step();
    }
    assert!(
        h.query_by_label_contains("Preflight FAILED (tool wixl")
            .is_some(),
        "the hover text says why Run is off"
    );
    h.remove_cursor();
    h.step();

    // Skip signing switched: the rows are stale, and no longer decide Run.
    click(&mut h, "Skip signing (unsigned test build)");
    assert!(
        h.query_all_by_label_contains("This preflight checked a signed build")
            .count()
            >= 1
    );
    assert_eq!(enabled_runs(&h), 1, "a stale preflight decides nothing");
    click(&mut h, "Skip signing (unsigned test build)");
    assert_eq!(enabled_runs(&h), 0);

    // The path cleared in Settings (the configuration changed): stale too.
    click(&mut h, "Settings");
    h.get_by_label("Clear").click_accesskit();
    h.step();
    step_until(&mut h, "the tool path removed", |app| {
        !app.is_busy()
            && app
                .data
                .as_ref()
                .is_some_and(|d| d.ws.config().tools.is_empty())
    });
    click(&mut h, "Builds");
    assert_eq!(
        h.query_all_by_label_contains("This preflight checked an earlier configuration")
            .count(),
        3,
        "every card's rows say they are stale"
    );
}

/// An incident's timeline: the "detected" row (no message) keeps its person beside its time,
/// never drawn over the year.
#[test]
fn the_detected_row_of_a_timeline_draws_nothing_over_its_time() {
    let f = fixture();
    common::ok(&common::cli_with(
        &f.root,
        &[("RELEASE_CONSOLE_ACTOR", "walker")],
        &[
            "status",
            "--action",
            "create",
            "--status",
            "investigating",
            "--component",
            "collaboration",
            "--message",
            "Sync is slow",
            "--severity",
            "P2",
            "--detected-at",
            "5m",
        ],
    ));
    let mut h = harness(&f);
    click(&mut h, "Status page");
    click(&mut h, "Timeline (2)");
    // The detected row: its time and its person, on the line of its "detected".
    let row = h.get_by_label("detected").rect();
    let on_row = |r: &egui::Rect| (r.center().y - row.center().y).abs() < row.height() / 2.0;
    let times: Vec<egui::Rect> = h
        .get_all_by_role(egui::accesskit::Role::Label)
        .filter(|n| {
            n.accesskit_node()
                .value()
                .is_some_and(|l| l.len() == 19 && l.starts_with("20"))
        })
        .map(|n| n.rect())
        .filter(on_row)
        .collect();
    assert_eq!(times.len(), 1, "the detected row's time");
    let people: Vec<egui::Rect> = h
        .get_all_by_label("walker")
        .map(|n| n.rect())
        .filter(on_row)
        .collect();
    assert_eq!(people.len(), 1, "the detected row names who");
    for p in &people {
        for t in &times {
            assert!(!p.intersects(*t), "{p:?} is drawn over {t:?}");
        }
    }
}
