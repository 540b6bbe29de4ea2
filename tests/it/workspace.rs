//! The release workspace: init, releases, checklist ticks, gates, auto-ticks, and state that
//! survives `kill -9` mid-write.

use std::process::Command;
use std::time::Duration;

use release_console::workspace::{ReleaseKind, Workspace, WorkspaceError};

use crate::common::{ok, text};

const CHILD_ENV: &str = "RELEASE_CONSOLE_TEST_CRASH_WRITER";

fn new_ws() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::init(dir.path(), "WireTuner").expect("init");
    (dir, ws)
}

#[test]
fn init_refuses_an_existing_workspace_and_open_names_missing_config() {
    let (dir, _ws) = new_ws();
    let again = Workspace::init(dir.path(), "Other");
    assert!(
        matches!(again, Err(WorkspaceError::AlreadyExists(_))),
        "{again:?}"
    );
    let empty = tempfile::tempdir().expect("tempdir");
    let err = Workspace::open(empty.path()).expect_err("no config");
    assert!(
        err.to_string()
            .contains("not a release workspace (no release-console.toml)"),
        "{err}"
    );
}

#[test]
fn releases_are_semver_sorted_and_hotfixes_use_their_runbook() {
    let (_dir, ws) = new_ws();
    ws.create_release("0.10.0", None).expect("0.10.0");
    ws.create_release("v0.9.0", None)
        .expect("0.9.0 with a v prefix");
    let hotfix = ws.create_release("0.10.1", Some("0.10.0")).expect("hotfix");
    assert_eq!(hotfix.runbook, "hotfix");
    assert_eq!(
        hotfix.kind,
        ReleaseKind::Hotfix {
            of: semver::Version::new(0, 10, 0)
        }
    );
    let versions: Vec<String> = ws
        .releases()
        .expect("list")
        .iter()
        .map(|r| r.version.to_string())
        .collect();
    assert_eq!(versions, ["0.9.0", "0.10.0", "0.10.1"]);
    assert_eq!(
        ws.release(None).expect("newest").version.to_string(),
        "0.10.1"
    );

    assert!(matches!(
        ws.create_release("0.10.0", None),
        Err(WorkspaceError::ReleaseExists(_))
    ));
    assert!(matches!(
        ws.create_release("1.0", None),
        Err(WorkspaceError::BadVersion { .. })
    ));
    assert!(matches!(
        ws.create_release("0.9.5", Some("0.10.0")),
        Err(WorkspaceError::HotfixNotNewer { .. })
    ));
    let err = ws
        .create_release("2.0.1", Some("1.9.9"))
        .expect_err("unknown base");
    assert!(
        err.to_string()
            .contains("release 1.9.9 not found; releases: 0.9.0, 0.10.0, 0.10.1"),
        "{err}"
    );
    let runbook = ws.runbook(&hotfix).expect("runbook");
    assert!(runbook.item("hotfix.branch").is_some());
}

#[test]
fn tick_and_untick_record_who_when_and_note_and_gates_hold() {
    let (_dir, ws) = new_ws();
    let r = ws.create_release("1.0.0", None).expect("release");
    let c = ws
        .set_item(&r, "pre.review-flags", true, " all OFF in prod ")
        .expect("tick");
    let s = &c.items["pre.review-flags"];
    assert!(s.done);
    assert_eq!(s.note, "all OFF in prod");
    assert_eq!(s.by, ws.actor());
    assert!(matches!(
        ws.set_item(&r, "pre.review-flags", true, "by hand"),
        Err(WorkspaceError::Unchanged { .. })
    ));
    let c = ws
        .set_item(&r, "pre.review-flags", false, "flag ui_x still on")
        .expect("untick");
    assert!(!c.items["pre.review-flags"].done);

    let err = ws
        .set_item(&r, "deploy.publish-installers", true, "by hand")
        .expect_err("gated");
    assert!(
        err.to_string()
            .contains("Phase 1: Pre-release is not complete (3 of 3 items open)"),
        "{err}"
    );
    let err = ws.set_item(&r, "pre.nope", true, "").expect_err("unknown");
    assert!(
        err.to_string()
            .contains("no checklist item \"pre.nope\"; items: pre.review-flags,"),
        "{err}"
    );

    for id in [
        "pre.review-flags",
        "pre.validate-staging",
        "pre.release-notes",
        "build.macos",
        "build.windows",
        "build.verify",
    ] {
        ws.set_item(&r, id, true, "by hand").expect("tick");
    }
    ws.set_item(&r, "deploy.publish-installers", true, "by hand")
        .expect("gate open now");

    let actions: Vec<String> = ws
        .audit()
        .entries()
        .expect("audit")
        .iter()
        .map(|e| e.action.clone())
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "checklist.tick").count(), 8);
    assert_eq!(
        actions.iter().filter(|a| *a == "checklist.untick").count(),
        1
    );
    let untick = ws
        .audit()
        .entries()
        .expect("audit")
        .into_iter()
        .find(|e| e.action == "checklist.untick")
        .expect("untick entry");
    assert_eq!(untick.target, "1.0.0/pre.review-flags");
    assert_eq!(untick.before["done"], true);
    assert_eq!(untick.after["note"], "flag ui_x still on");
}

#[test]
fn a_succeeded_task_auto_ticks_items_that_name_its_kind() {
    let (_dir, ws) = new_ws();
    let r = ws.create_release("1.0.0", None).expect("release");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let runner = release_console::runner::Runner::new(rt.handle().clone(), 2);
    runner.set_hook(Some(ws.task_hook()));
    let mut spec = release_console::runner::TaskSpec::new(
        "flag-review",
        "flags.review",
        Duration::from_secs(30),
    );
    spec.release = Some("1.0.0".into());
    let id = runner
        .start(spec, |_| async { Ok("3 flags reviewed".into()) })
        .expect("start");
    rt.block_on(runner.wait(id));
    let c = ws.checklist(&r).expect("checklist");
    let s = c.items.get("pre.review-flags").expect("auto-ticked");
    assert!(s.done);
    assert!(s.by.ends_with("(task flag-review)"), "{}", s.by);
    let actions: Vec<String> = ws
        .audit()
        .entries()
        .expect("audit")
        .iter()
        .map(|e| e.action.clone())
        .collect();
    let finish = actions
        .iter()
        .position(|a| a == "task.finish")
        .expect("task.finish audited");
    assert_eq!(actions[finish - 1], "task.start", "{actions:?}");
    assert_eq!(actions[finish + 1], "checklist.tick", "{actions:?}");
    // A failed task of the same kind ticks nothing.
    ws.set_item(&r, "pre.review-flags", false, "")
        .expect("untick");
    let mut spec = release_console::runner::TaskSpec::new(
        "flag-review",
        "flags.review",
        Duration::from_secs(30),
    );
    spec.release = Some("1.0.0".into());
    let id = runner
        .start(spec, |_| async {
            Err(release_console::runner::TaskError::Failed("LD down".into()))
        })
        .expect("start");
    rt.block_on(runner.wait(id));
    assert!(
        !ws.checklist(&r)
            .expect("checklist")
            .is_done("pre.review-flags")
    );
    assert!(ws.audit().verify().is_ok());
}

/// Not a test on its own: the child process of the crash test, writing state in a loop until
/// it is killed. Ignored, so it never counts as a passing test; the crash test runs it.
#[test]
#[ignore = "the child process of kill_9_mid_write_leaves_the_last_good_state, which starts it with --ignored"]
fn crash_writer_child() {
    let dir = std::env::var_os(CHILD_ENV).expect("started by the crash test with its folder");
    let ws = Workspace::open(std::path::Path::new(&dir)).expect("open");
    let r = ws.release(None).expect("release");
    loop {
        let done = ws
            .checklist(&r)
            .expect("checklist")
            .is_done("pre.release-notes");
        ws.set_item(&r, "pre.release-notes", !done, &"x".repeat(4096))
            .expect("write");
    }
}

#[test]
fn kill_9_mid_write_leaves_the_last_good_state() {
    let (dir, ws) = new_ws();
    let r = ws.create_release("1.0.0", None).expect("release");
    let exe = std::env::current_exe().expect("test exe");
    for round in 0..10u64 {
        let mut child = Command::new(&exe)
            .args([
                "workspace::crash_writer_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn writer");
        std::thread::sleep(Duration::from_millis(150 + round * 37 % 200));
        child.kill().expect("kill -9");
        child.wait().expect("reap");

        // The checklist is always a whole file: the old one or the new one.
        let checklist = ws.checklist(&r).expect("checklist readable after kill -9");
        assert!(checklist.items.len() <= 1);
        // The audit log is intact, or ends in a line cut off mid-write, which the next append
        // drops (it was never acknowledged).
        match ws.audit().verify() {
            Ok(_) => {}
            Err(release_console::audit::AuditError::Tampered { message, .. }) => {
                assert!(
                    message.contains("cut off mid-line"),
                    "round {round}: {message}"
                );
            }
            Err(e) => panic!("round {round}: {e}"),
        }
        ws.record(release_console::audit::Event::parse(
            "test.after-crash",
            "round",
            &serde_json::Value::Null,
            &serde_json::json!(round),
        ))
        .expect("append after crash");
        let v = ws.audit().verify().expect("intact after the next append");
        assert!(v.entries > 2);
    }
    assert_eq!(
        ws.release(Some("1.0.0"))
            .expect("release.json readable")
            .version,
        r.version
    );
    let ticks = ws
        .audit()
        .entries()
        .expect("entries")
        .iter()
        .filter(|e| e.action.starts_with("checklist."))
        .count();
    assert!(
        ticks >= 20,
        "the writer made real progress between kills: {ticks} writes"
    );
}

#[test]
fn temp_files_left_by_a_crash_are_swept_when_the_workspace_opens() {
    let (_dir, ws) = new_ws();
    let root = ws.root().to_owned();
    ws.create_release("1.0.0", None).expect("release");
    let release_dir = root.join("releases/1.0.0");
    let stale = [
        root.join(".tmp-crashed1"),
        release_dir.join(".tmp-crashed2"),
    ];
    for p in &stale {
        std::fs::write(p, b"half a write").expect("temp");
        let o = std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(p)
            .status()
            .expect("touch");
        assert!(o.success());
    }
    // A writer that is busy right now keeps its temp file.
    let live = release_dir.join(".tmp-writing");
    std::fs::write(&live, b"in progress").expect("temp");
    let checklist = release_dir.join("checklist.json");
    let before = std::fs::read(&checklist).ok();

    Workspace::open(&root).expect("open");
    for p in &stale {
        assert!(!p.exists(), "{} was swept", p.display());
    }
    assert!(live.exists(), "a fresh temp file is left alone");
    assert_eq!(std::fs::read(&checklist).ok(), before, "state is untouched");
}

#[test]
fn a_secret_read_from_the_keyring_is_redacted_from_every_task_log() {
    let (_dir, ws) = new_ws();
    // What secrets::lookup does with a value it found in the keyring (no variable holds it).
    release_console::workspace::secrets::remember_for_redaction("kr-7c1d9e-secret");
    let masked = ws
        .redactor()
        .redact("Authorization: OAuth kr-7c1d9e-secret");
    assert_eq!(masked, "Authorization: OAuth <redacted>");
    let spec = ws.task_spec("t", "k", None, std::time::Duration::from_secs(1));
    assert_eq!(spec.redactor.redact("kr-7c1d9e-secret"), "<redacted>");
}

#[test]
fn a_refused_audit_append_changes_no_state() {
    let (_dir, ws) = new_ws();
    let release = ws.create_release("1.0.0", None).expect("release");
    ws.set_item(&release, "pre.review-flags", true, "by hand")
        .expect("tick");
    // A log whose head is gone refuses every append (it cannot tell what was removed).
    std::fs::remove_file(ws.root().join("audit.head")).expect("remove head");
    let checklist_path = ws.release_dir(&release.version).join("checklist.json");
    let before = std::fs::read(&checklist_path).expect("checklist");
    let err = ws
        .set_item(&release, "pre.validate-staging", true, "")
        .expect_err("refused");
    assert!(err.to_string().contains("audit.head is missing"), "{err}");
    assert_eq!(
        std::fs::read(&checklist_path).expect("checklist"),
        before,
        "the item did not change without its audit entry"
    );
    let err = ws.create_release("1.1.0", None).expect_err("refused");
    assert!(err.to_string().contains("audit.head is missing"), "{err}");
    assert!(
        !ws.release_dir(&semver::Version::new(1, 1, 0))
            .join("release.json")
            .exists(),
        "no release without its audit entry"
    );
}

#[test]
fn a_log_and_head_cut_short_together_are_caught_by_what_the_state_refers_to() {
    let (_dir, ws) = new_ws();
    let release = ws.create_release("1.0.0", None).expect("release");
    ws.set_item(&release, "pre.review-flags", true, "by hand")
        .expect("tick");
    ws.set_item(&release, "pre.validate-staging", true, "")
        .expect("tick");
    let checklist = ws.checklist(&release).expect("checklist");
    let seq = checklist.items["pre.validate-staging"].audit_seq;
    assert!(seq > 0, "the tick records its audit entry: {checklist:?}");
    assert_eq!(ws.verify_audit().expect("intact").entries, seq);

    // Someone removes the last two entries and rewrites the head to match: the chain alone
    // is consistent again.
    let log = ws.root().join("audit.log");
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    let kept = &lines[..lines.len() - 2];
    let body = kept.join("\n") + "\n";
    std::fs::write(&log, &body).expect("cut");
    let head = serde_json::json!({
        "entries": kept.len(),
        "len_bytes": body.len(),
        "last_hash": release_console::sha256_hex(kept[kept.len() - 1].as_bytes()),
    });
    std::fs::write(ws.root().join("audit.head"), head.to_string()).expect("head");
    assert!(ws.audit().verify().is_ok(), "the chain and head agree");
    let err = ws.verify_audit().expect_err("caught");
    assert!(
        err.to_string().contains(&format!(
            "checklist.json records audit entry #{seq}, but the log ends after {} entries",
            kept.len()
        )),
        "{err}"
    );
}

/// `release-console --workspace ROOT ARGS...`, acting as `crash-test`.
fn cli(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    cli_command(root, args)
        .output()
        .expect("run release-console")
}

fn cli_command(root: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_release-console"));
    c.env_remove("RELEASE_CONSOLE_WORKSPACE")
        .env("USER", "crash-test")
        .arg("--workspace")
        .arg(root)
        .args(args);
    c
}

#[test]
fn two_crashes_between_append_and_head_leave_a_workspace_that_works() {
    let (_dir, ws) = new_ws();
    let r = ws.create_release("1.0.0", None).expect("release");
    let head = ws.root().join("audit.head");
    let checklist = ws.release_dir(&r.version).join("checklist.json");
    let old_head = std::fs::read(&head).expect("head");
    ws.set_item(&r, "pre.review-flags", true, "by hand")
        .expect("tick");
    let old_checklist = std::fs::read(&checklist).expect("checklist");
    ws.set_item(&r, "pre.validate-staging", true, "")
        .expect("tick");
    ws.set_item(&r, "pre.review-flags", false, "")
        .expect("untick");
    // Two crashes in a row, each after its entry was appended and before the head moved (so
    // before its state was written too): the head and the checklist are as they were.
    std::fs::write(&head, &old_head).expect("old head");
    std::fs::write(&checklist, &old_checklist).expect("old checklist");

    assert!(ws.audit().verify().is_ok(), "a chained tail is adopted");
    // The next change works, and builds on both: they are rolled forward first.
    ws.set_item(&r, "pre.release-notes", true, "by hand")
        .expect("the next change works");
    let now = ws.checklist(&r).expect("checklist");
    assert!(now.is_done("pre.validate-staging"), "{now:?}");
    assert!(!now.is_done("pre.review-flags"), "{now:?}");
    assert!(now.is_done("pre.release-notes"), "{now:?}");
    let v = ws.verify_audit().expect("intact and in agreement");
    assert_eq!(v.entries, 6);
}

#[test]
fn a_change_in_the_log_but_not_in_the_state_is_rolled_forward() {
    let (_dir, ws) = new_ws();
    let r = ws.create_release("1.0.0", None).expect("release");
    let checklist = ws.release_dir(&r.version).join("checklist.json");
    ws.set_item(&r, "pre.review-flags", true, "by hand")
        .expect("tick");
    let ticked = std::fs::read(&checklist).expect("checklist");
    ws.set_item(&r, "pre.review-flags", false, "wrong item")
        .expect("untick");
    // A crash after the untick's entry (and head) was written, before its state was.
    std::fs::write(&checklist, &ticked).expect("state before the untick");
    let err = ws
        .verify_audit()
        .expect_err("the state disagrees with the log");
    assert!(
        err.to_string().contains(
            "checklist.json disagrees with the log: item pre.review-flags is ticked as of entry \
             #3, but its last change in the log is entry #4 (checklist.untick)"
        ),
        "{err}"
    );
    assert_eq!(ws.recover().expect("recover"), 1);
    let item = &ws.checklist(&r).expect("checklist").items["pre.review-flags"];
    assert!(!item.done, "rolled forward: {item:?}");
    assert_eq!(item.audit_seq, 4);
    assert_eq!(item.note, "wrong item", "from the entry's after");
    ws.verify_audit().expect("in agreement");
    assert_eq!(ws.recover().expect("again"), 0, "nothing twice");

    // A release whose release.json was never written is created from its entry.
    let created = ws.create_release("1.1.0", None).expect("release");
    let file = ws.release_dir(&created.version).join("release.json");
    std::fs::remove_file(&file).expect("crash before the write");
    let err = ws.verify_audit().expect_err("missing");
    assert!(
        err.to_string()
            .contains("releases/1.1.0/release.json is missing, but entry #5 created release 1.1.0"),
        "{err}"
    );
    let again = ws
        .create_release("1.1.0", None)
        .expect_err("it exists after all");
    assert!(
        again.to_string().contains("release 1.1.0 already exists"),
        "{again}"
    );
    assert_eq!(
        ws.release(Some("1.1.0")).expect("rolled forward").audit_seq,
        5
    );
    ws.verify_audit().expect("in agreement");
}

#[test]
fn a_state_file_edited_to_disagree_with_the_log_fails_verify_naming_it() {
    let (_dir, ws) = new_ws();
    let r = ws.create_release("1.0.0", None).expect("release");
    ws.set_item(&r, "pre.review-flags", true, "by hand")
        .expect("tick");
    ws.set_item(&r, "pre.validate-staging", true, "")
        .expect("tick");
    let path = ws.release_dir(&r.version).join("checklist.json");
    let text = std::fs::read_to_string(&path).expect("checklist");
    // Someone unticks an item by hand, keeping the entry number it records.
    let mut state: serde_json::Value = serde_json::from_str(&text).expect("json");
    state["items"]["pre.review-flags"]["done"] = serde_json::json!(false);
    std::fs::write(&path, state.to_string()).expect("edit");
    let err = ws.verify_audit().expect_err("caught");
    assert!(
        err.to_string().contains(&format!(
            "{} disagrees with the log: item pre.review-flags is unticked as of entry #3, but \
             its last change in the log is entry #3 (checklist.tick)",
            path.display()
        )),
        "{err}"
    );
    // An item the log never changed.
    state["items"]["pre.review-flags"]["done"] = serde_json::json!(true);
    state["items"]["pre.release-notes"] = state["items"]["pre.review-flags"].clone();
    std::fs::write(&path, state.to_string()).expect("edit");
    let err = ws.verify_audit().expect_err("caught");
    assert!(
        err.to_string().contains(
            "disagrees with the log: item pre.release-notes records entry #3, but the log \
             holds no change of it"
        ),
        "{err}"
    );
    // An item added by hand without an entry number, in a release that numbers them.
    state["items"]
        .as_object_mut()
        .expect("items")
        .remove("pre.release-notes");
    let mut forged = state["items"]["pre.review-flags"].clone();
    forged.as_object_mut().expect("item").remove("audit_seq");
    state["items"]["pre.release-notes"] = forged;
    std::fs::write(&path, state.to_string()).expect("edit");
    let err = ws.verify_audit().expect_err("caught");
    assert!(
        err.to_string().contains(&format!(
            "{} disagrees with the log: item pre.release-notes is ticked but names no entry; \
             the log holds no change of it",
            path.display()
        )),
        "{err}"
    );
    state["items"]
        .as_object_mut()
        .expect("items")
        .remove("pre.release-notes");
    std::fs::write(&path, state.to_string()).expect("edit");
    ws.verify_audit().expect("as the log says again");
    // Who ticked it, when, or the note, changed by hand with the entry number kept.
    for (field, value) in [
        ("by", serde_json::json!("mallory")),
        ("note", serde_json::json!("approved by the CTO")),
        ("at", serde_json::json!("2020-01-01T00:00:00Z")),
    ] {
        let mut edited = state.clone();
        edited["items"]["pre.review-flags"][field] = value;
        std::fs::write(&path, edited.to_string()).expect("edit");
        let err = ws.verify_audit().expect_err("caught");
        assert!(
            err.to_string().contains(&format!(
                "{} disagrees with the log: item pre.review-flags is ticked as of entry #3, but \
                 its last change in the log is entry #3 (checklist.tick), which records it \
                 otherwise",
                path.display()
            )),
            "{field}: {err}"
        );
    }
}

/// A small deterministic generator (xorshift), seeded per run so kills land at new moments.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
            | 1;
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn two_hundred_kill_9s_across_changes_leave_a_workspace_that_works() {
    use release_console::ui::snapshot::{AuditCache, Snapshot};
    use release_console::workspace::Origin;
    use std::sync::atomic::{AtomicBool, Ordering};

    let (dir, ws) = new_ws();
    let root = dir.path().to_owned();
    let r = ws.create_release("1.0.0", None).expect("release");
    let o = cli(
        &root,
        &[
            "flags",
            "create",
            "ui_crash",
            "--name",
            "Crash",
            "--tag",
            "type:release",
        ],
    );
    ok(&o);
    let o = cli(
        &root,
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
            "--no-notify",
        ],
    );
    ok(&o);
    let incident = String::from_utf8_lossy(&o.stdout).trim().to_owned();

    // The GUI's snapshot reader, open on the same workspace the whole time.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let reader = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::Builder::new()
            .name("snapshot-reader".into())
            .spawn(move || {
                let cache = AuditCache::default();
                let (mut loads, mut transient) = (0u32, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let snap = Snapshot::load(&root, Origin::Flag, None, &cache, None)
                        .unwrap_or_else(|e| panic!("snapshot after {loads} loads: {e}"));
                    if let Err(e) = &snap.audit_check {
                        transient.push(e.clone());
                    }
                    loads += 1;
                }
                (loads, transient)
            })
            .expect("reader thread")
    };

    let items = [
        "pre.review-flags",
        "pre.validate-staging",
        "pre.release-notes",
    ];
    let statuses = ["identified", "monitoring", "investigating"];
    let mut rng = Rng::new();
    let mut finished = 0;
    for round in 0..200u64 {
        let args: Vec<String> = match rng.below(4) {
            0 | 1 => {
                let item = items[usize::try_from(rng.below(3)).expect("small")];
                let done = ws.checklist(&r).expect("checklist").is_done(item);
                let verb = if done { "untick" } else { "tick" };
                vec![
                    "checklist".into(),
                    verb.into(),
                    item.into(),
                    "--note".into(),
                    "by hand".into(),
                ]
            }
            2 => {
                let at = release_console::flags::plan::load(&ws)
                    .expect("plans")
                    .get("ui_crash")
                    .map_or(0, release_console::flags::plan::Plan::percent);
                if at == 0 {
                    [
                        "flags",
                        "rollout",
                        "ui_crash",
                        "--percent",
                        "10",
                        "--override",
                        "crash test",
                    ]
                    .map(String::from)
                    .to_vec()
                } else {
                    ["flags", "rollback", "ui_crash"].map(String::from).to_vec()
                }
            }
            _ => {
                let status = statuses[usize::try_from(rng.below(3)).expect("small")];
                [
                    "status",
                    "--action",
                    "update",
                    "--incident-id",
                    &incident,
                    "--status",
                    status,
                    "--message",
                    &format!("update {round}"),
                    "--no-notify",
                ]
                .map(String::from)
                .to_vec()
            }
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = cli_command(&root, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_micros(rng.below(120_000)));
        let _ = child.kill();
        if child.wait().expect("reap").success() {
            finished += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (loads, transient) = reader.join().expect("the reader never failed");
    assert!(loads > 0);
    for e in &transient {
        assert!(e.contains("cut off mid-line"), "the reader saw: {e}");
    }
    let seed = rng.0;
    assert!(
        finished > 0 && finished < 200,
        "some commands were killed and some finished: {finished} of 200 finished (rng state {seed})"
    );

    // Every command works afterwards.
    let o = cli(&root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for args in [
        vec!["checklist", "show"],
        vec!["status", "list", "--all"],
        vec!["flags", "list"],
    ] {
        let o = cli(&root, &args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    let item = items[0];
    let verb = if ws.checklist(&r).expect("checklist").is_done(item) {
        "untick"
    } else {
        "tick"
    };
    let o = cli(&root, &["checklist", verb, item, "--note", "by hand"]);
    ok(&o);
    let o = cli(
        &root,
        &[
            "status",
            "--action",
            "update",
            "--incident-id",
            &incident,
            "--status",
            "monitoring",
            "--message",
            "after the crashes",
            "--no-notify",
        ],
    );
    ok(&o);
    let o = cli(&root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The checklist is what the log says: each item as its last tick or untick left it.
    let entries = ws.audit().entries().expect("entries");
    let checklist = ws.checklist(&r).expect("checklist");
    for item in items {
        let target = format!("1.0.0/{item}");
        // A `.failed` or `.not_applied` entry voids the change right before it.
        let mut changes = Vec::new();
        for e in entries.iter().filter(|e| e.target == target) {
            match e.action.as_str() {
                "checklist.tick" | "checklist.untick" => changes.push(e),
                a if a.ends_with(".failed") || a.ends_with(".not_applied") => {
                    changes.pop();
                }
                _ => {}
            }
        }
        let state = checklist.items.get(item);
        match changes.last() {
            Some(e) => {
                let state = state.unwrap_or_else(|| panic!("{item}: entry #{} not applied", e.seq));
                assert_eq!(state.audit_seq, e.seq, "{item}");
                assert_eq!(state.done, e.action == "checklist.tick", "{item}");
            }
            None => assert!(state.is_none_or(|s| s.audit_seq == 0), "{item}: {state:?}"),
        }
    }

    // The incident record is what the log says: the record its last change in effect carried.
    let changes = in_effect(&entries, &incident, |a| a.starts_with("status.incident."));
    let last = changes.last().expect("the incident's changes");
    let mut expected: release_console::status::incident::Incident =
        serde_json::from_value(last.after["incident"].clone()).expect("carried record");
    expected.audit_seq = last.seq;
    let record = release_console::status::incident::find(&ws, &incident).expect("record");
    assert_eq!(record, expected, "the record entry #{} carried", last.seq);

    // The flag's plan is what the log says: every change in effect, in order, and no other.
    let changes = in_effect(&entries, "ui_crash", |a| a.starts_with("flags."));
    let plans = release_console::flags::plan::load(&ws).expect("plans");
    let plan = plans.get("ui_crash").expect("plan");
    let history: Vec<(String, u64)> = plan
        .history
        .iter()
        .map(|c| (c.what.clone(), u64::from(c.percent)))
        .collect();
    let logged: Vec<(String, u64)> = changes
        .iter()
        .map(|e| {
            let c = &e.after["change"];
            (
                c["what"].as_str().expect("what").to_owned(),
                c["percent"].as_u64().expect("percent"),
            )
        })
        .collect();
    assert_eq!(history, logged, "plan history against the log");
    assert_eq!(plan.audit_seq, changes.last().expect("changes").seq);
    let local: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("flags/local.json")).expect("local provider"),
    )
    .expect("json");
    assert_eq!(
        local["ui_crash"]["rollout_percent"].as_u64(),
        Some(u64::from(plan.percent())),
        "the plan claims no more and no less than the local provider has"
    );
}

/// The changes of `target` (actions `follows` picks, carrying what to replay) that took
/// effect: a `.failed` or `.not_applied` entry voids the change it names (`after.entry`).
fn in_effect<'a>(
    entries: &'a [release_console::audit::AuditEntry],
    target: &str,
    follows: impl Fn(&str) -> bool,
) -> Vec<&'a release_console::audit::AuditEntry> {
    let mut changes: Vec<&release_console::audit::AuditEntry> = Vec::new();
    for e in entries.iter().filter(|e| e.target == target) {
        if e.action.ends_with(".failed") || e.action.ends_with(".not_applied") {
            let voided = e.after["entry"].as_u64().expect("a void names its entry");
            changes.retain(|c| c.seq != voided);
        } else if follows(&e.action)
            && (e.after.get("change").is_some() || e.after["incident"].get("audit_seq").is_some())
        {
            changes.push(e);
        }
    }
    changes
}

#[test]
fn a_change_that_cannot_be_rolled_forward_is_marked_not_applied() {
    let (_dir, ws) = new_ws();
    let r = ws.create_release("1.0.0", None).expect("release");
    // A tick whose state write never happened, and whose `after` is no item state.
    ws.record(release_console::audit::Event::parse(
        "checklist.tick",
        "1.0.0/pre.release-notes",
        &serde_json::Value::Null,
        &serde_json::json!("not an item state"),
    ))
    .expect("append");
    let err = ws.verify_audit().expect_err("the state disagrees");
    assert!(
        err.to_string()
            .contains("it has no item pre.release-notes, but entry #3 (checklist.tick) changed it"),
        "{err}"
    );
    assert_eq!(ws.recover().expect("recover"), 1);
    let last = ws.audit().entries().expect("entries").pop().expect("entry");
    assert_eq!(last.action, "checklist.tick.not_applied");
    assert_eq!(last.target, "1.0.0/pre.release-notes");
    assert_eq!(last.after["entry"], 3);
    assert!(
        !ws.checklist(&r)
            .expect("checklist")
            .is_done("pre.release-notes")
    );
    ws.verify_audit()
        .expect("in agreement: the tick did not take effect");
    assert_eq!(ws.recover().expect("again"), 0, "marked once");
}

/// The incident id `status --action create` printed.
fn create_incident(root: &std::path::Path) -> String {
    let o = cli(
        root,
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
            "--no-notify",
        ],
    );
    ok(&o);
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn update_incident(root: &std::path::Path, id: &str, status: &str, message: &str) {
    let o = cli(
        root,
        &[
            "status",
            "--action",
            "update",
            "--incident-id",
            id,
            "--status",
            status,
            "--message",
            message,
            "--no-notify",
        ],
    );
    ok(&o);
}

fn verify_with_projections(ws: &Workspace) -> Result<(), String> {
    ws.verify_audit_with(release_console::projections::ALL)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn last_entry(ws: &Workspace) -> release_console::audit::AuditEntry {
    ws.audit()
        .entries()
        .expect("entries")
        .pop()
        .expect("an entry")
}

#[test]
fn an_incident_update_in_the_log_but_not_in_its_record_is_rolled_forward_by_the_next_command() {
    use release_console::status::{IncidentStatus, incident};
    let (dir, ws) = new_ws();
    let root = dir.path();
    let id = create_incident(root);
    let book = root.join("status/incidents.json");
    let saved = std::fs::read(&book).expect("incidents");
    update_incident(root, &id, "identified", "Found it: a slow index");
    let update = last_entry(&ws);
    assert_eq!(update.action, "status.incident.update");
    // A crash after the update's entry was appended, before the record was saved.
    std::fs::write(&book, &saved).expect("the record as it was");
    let err = verify_with_projections(&ws).expect_err("the record disagrees with the log");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: incident {id} is investigating as of entry #{}, but its \
             last change in the log is entry #{} (status.incident.update)",
            book.display(),
            // The create's entry (the local page's own entries come before each change).
            serde_json::from_slice::<serde_json::Value>(&saved).expect("json")["incidents"][0]
                ["audit_seq"],
            update.seq
        )),
        "{err}"
    );

    // The next command (any: it recovers when it opens the workspace) rolls it forward.
    let o = cli(root, &["status", "list", "--all"]);
    ok(&o);
    let record = incident::find(&ws, &id).expect("record");
    assert_eq!(record.status, IncidentStatus::Identified);
    assert_eq!(record.audit_seq, update.seq);
    assert_eq!(
        record.timeline.last().map(|t| t.message.as_str()),
        Some("Found it: a slow index")
    );
    verify_with_projections(&ws).expect("in agreement");
    let o = cli(root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // And the next update builds on it.
    update_incident(root, &id, "monitoring", "Fix deployed");
    let record = incident::find(&ws, &id).expect("record");
    assert_eq!(record.status, IncidentStatus::Monitoring);
    assert_eq!(record.timeline.len(), 3, "{:?}", record.timeline);
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        0
    );
}

fn flags_cli(root: &std::path::Path, args: &[&str]) {
    let o = cli(root, args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
}

fn plan_of(ws: &Workspace, key: &str) -> release_console::flags::plan::Plan {
    release_console::flags::plan::load(ws)
        .expect("plans")
        .remove(key)
        .expect("plan")
}

#[test]
fn a_flag_rollout_in_the_log_but_not_in_its_plan_is_settled_from_the_local_provider() {
    let (dir, ws) = new_ws();
    let root = dir.path();
    let (plans, local) = (root.join("flags/plans.json"), root.join("flags/local.json"));
    flags_cli(
        root,
        &[
            "flags",
            "create",
            "ui_crash",
            "--name",
            "Crash",
            "--tag",
            "type:release",
        ],
    );
    let created = plan_of(&ws, "ui_crash");
    let saved_plans = std::fs::read(&plans).expect("plans");
    flags_cli(
        root,
        &[
            "flags",
            "rollout",
            "ui_crash",
            "--percent",
            "10",
            "--override",
            "test",
        ],
    );
    let rollout = ws
        .audit()
        .entries()
        .expect("entries")
        .into_iter()
        .rfind(|e| e.action == "flags.rollout")
        .expect("the rollout's entry");
    // A crash after the local provider made the change, before the plan was saved.
    std::fs::write(&plans, &saved_plans).expect("the plan as it was");
    let err = verify_with_projections(&ws).expect_err("the plan disagrees with the log");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: flag ui_crash's plan is at 0% (create) as of entry #{}, \
             but its last change in the log is entry #{} (flags.rollout)",
            plans.display(),
            created.audit_seq,
            rollout.seq
        )),
        "{err}"
    );
    flags_cli(root, &["flags", "list"]);
    let plan = plan_of(&ws, "ui_crash");
    assert_eq!(plan.percent(), 10, "rolled forward: {plan:?}");
    assert_eq!(plan.audit_seq, rollout.seq);
    let last = plan.history.last().expect("change");
    assert_eq!((last.what.as_str(), last.at), ("rollout", rollout.time));
    assert_eq!(last.override_reason.as_deref(), Some("test"));
    verify_with_projections(&ws).expect("in agreement");

    // A crash after the intent, before the provider's change: not made, so not applied.
    let (saved_plans, saved_local) = (
        std::fs::read(&plans).expect("plans"),
        std::fs::read(&local).expect("local"),
    );
    flags_cli(
        root,
        &[
            "flags",
            "rollout",
            "ui_crash",
            "--percent",
            "50",
            "--override",
            "test",
        ],
    );
    let intent = last_entry(&ws);
    std::fs::write(&plans, &saved_plans).expect("the plan as it was");
    std::fs::write(&local, &saved_local).expect("the provider as it was");
    flags_cli(root, &["flags", "list"]);
    let marked = last_entry(&ws);
    assert_eq!(marked.action, "flags.rollout.not_applied");
    assert_eq!(marked.after["entry"], intent.seq);
    let reason = marked.after["reason"].as_str().expect("reason");
    assert!(
        reason.contains("local provider (flags/local.json) does not have the change"),
        "{reason}"
    );
    assert_eq!(plan_of(&ws, "ui_crash").percent(), 10);
    verify_with_projections(&ws).expect("in agreement: the change did not take effect");
    let o = cli(root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // With a remote provider, whether it made the change cannot be learnt offline: the plan
    // does not claim it.
    let mut after = intent.after.clone();
    after["provider"]["local"] = serde_json::json!(false);
    ws.record(release_console::audit::Event::parse(
        "flags.rollout",
        "ui_crash",
        &intent.before.clone(),
        &after,
    ))
    .expect("an intent the console stopped in");
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        1
    );
    let marked = last_entry(&ws);
    assert_eq!(marked.action, "flags.rollout.not_applied");
    assert!(
        marked.after["reason"].as_str().is_some_and(
            |r| r.contains("whether the flag provider made the change cannot be known")
        ),
        "{marked:?}"
    );
    assert_eq!(plan_of(&ws, "ui_crash").percent(), 10);
    verify_with_projections(&ws).expect("in agreement");
}

#[test]
fn hand_edited_incident_records_and_flag_plans_fail_verify_naming_the_file() {
    let (dir, ws) = new_ws();
    let root = dir.path();
    let id = create_incident(root);
    update_incident(root, &id, "identified", "Found it");
    flags_cli(
        root,
        &[
            "flags",
            "create",
            "ui_crash",
            "--name",
            "Crash",
            "--tag",
            "type:release",
        ],
    );
    flags_cli(
        root,
        &[
            "flags",
            "rollout",
            "ui_crash",
            "--percent",
            "10",
            "--override",
            "test",
        ],
    );
    verify_with_projections(&ws).expect("in agreement");
    let o = cli(root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Someone resolves the incident by hand, keeping the entry number it records.
    let book = root.join("status/incidents.json");
    let original = std::fs::read_to_string(&book).expect("incidents");
    let mut edited: serde_json::Value = serde_json::from_str(&original).expect("json");
    edited["incidents"][0]["status"] = serde_json::json!("resolved");
    std::fs::write(&book, edited.to_string()).expect("edit");
    let err = verify_with_projections(&ws).expect_err("caught");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: incident {id} is not the record entry #",
            book.display()
        )) && err.contains("status is \"identified\" in the log, \"resolved\" in the file"),
        "{err}"
    );
    let o = cli(root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("incidents.json disagrees with the log"),
        "{}",
        text(&o)
    );
    // Dropping the entry number too does not hide it.
    edited["incidents"][0]["audit_seq"] = serde_json::json!(0);
    std::fs::write(&book, edited.to_string()).expect("edit");
    let err = verify_with_projections(&ws).expect_err("caught");
    assert!(
        err.contains("incident") && err.contains("is resolved recording no entry"),
        "{err}"
    );
    std::fs::write(&book, &original).expect("restore");
    verify_with_projections(&ws).expect("in agreement again");

    // Someone moves the flag to 100% in its plan by hand.
    let plans = root.join("flags/plans.json");
    let mut edited: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plans).expect("plans")).expect("json");
    edited["ui_crash"]["history"][1]["percent"] = serde_json::json!(100);
    std::fs::write(&plans, edited.to_string()).expect("edit");
    let err = verify_with_projections(&ws).expect_err("caught");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: flag ui_crash's plan is at 100% (rollout), but entry #",
            plans.display()
        )) && err.contains("(flags.rollout) set it to 10% (rollout)"),
        "{err}"
    );
    let o = cli(root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("plans.json disagrees with the log"),
        "{}",
        text(&o)
    );
}

#[test]
fn records_saved_before_they_kept_their_entry_are_not_judged_until_a_change_carries_them() {
    let (dir, ws) = new_ws();
    let root = dir.path();
    create_incident(root);
    let book = root.join("status/incidents.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&book).expect("incidents")).expect("json");
    // An incident and a flag plan as an earlier version saved them (no entry number), with
    // the entries it appended (carrying no record or plan change to replay).
    let mut old = state["incidents"][0].clone();
    old["id"] = serde_json::json!("INC-2020-01-01-001");
    old["page_incident_id"] = serde_json::json!("old-page-incident");
    old.as_object_mut().expect("record").remove("audit_seq");
    ws.record(release_console::audit::Event::parse(
        "status.incident.create",
        "INC-2020-01-01-001",
        &serde_json::Value::Null,
        &serde_json::json!({ "incident": &old }),
    ))
    .expect("an old create");
    ws.record(release_console::audit::Event::parse(
        "status.incident.update",
        "INC-2020-01-01-001",
        &serde_json::Value::Null,
        &serde_json::json!({ "status": "identified" }),
    ))
    .expect("an old update");
    old["status"] = serde_json::json!("monitoring");
    state["incidents"]
        .as_array_mut()
        .expect("incidents")
        .push(old.clone());
    std::fs::write(&book, state.to_string()).expect("old record");
    ws.record(release_console::audit::Event::parse(
        "flags.rollout",
        "ui_old",
        &serde_json::Value::Null,
        &serde_json::json!({ "rollout_percent": 50 }),
    ))
    .expect("an old rollout");
    let plans = root.join("flags/plans.json");
    std::fs::create_dir_all(root.join("flags")).expect("flags folder");
    let plan = serde_json::json!({"ui_old": {
        "key": "ui_old",
        "created_at": "2020-01-01T00:00:00Z",
        "history": [{"at": "2020-01-01T00:00:00Z", "what": "rollout", "percent": 10,
                     "actor": "old", "override_reason": null}],
        "archived_at": null,
    }});
    std::fs::write(&plans, plan.to_string()).expect("old plan");

    // Neither is judged (their entries cannot say what they hold), nor rolled forward.
    verify_with_projections(&ws).expect("old records are not judged");
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        0
    );
    let o = cli(root, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        release_console::status::incident::find(&ws, "INC-2020-01-01-001")
            .expect("old record")
            .audit_seq,
        0
    );

    // The first change since that carries the record (an update whose save a crash cut off)
    // is judged, and rolled forward.
    let mut carried = old.clone();
    carried["status"] = serde_json::json!("resolved");
    carried["audit_seq"] = serde_json::json!(0);
    ws.record(release_console::audit::Event::parse(
        "status.incident.resolve",
        "INC-2020-01-01-001",
        &serde_json::Value::Null,
        &serde_json::json!({ "status": "resolved", "incident": &carried }),
    ))
    .expect("a resolve");
    let resolve = last_entry(&ws);
    let err = verify_with_projections(&ws).expect_err("judged now");
    assert!(
        err.contains(
            "incident INC-2020-01-01-001 is monitoring recording no entry, but its last change \
             in the log is entry #"
        ),
        "{err}"
    );
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        1
    );
    let record =
        release_console::status::incident::find(&ws, "INC-2020-01-01-001").expect("record");
    assert_eq!(
        record.status,
        release_console::status::IncidentStatus::Resolved
    );
    assert_eq!(record.audit_seq, resolve.seq);
    verify_with_projections(&ws).expect("in agreement");
}

#[test]
fn a_flag_change_in_flight_is_not_taken_for_a_crashed_one_nor_holds_up_other_commands() {
    let (dir, ws) = new_ws();
    let root = dir.path();
    flags_cli(
        root,
        &[
            "flags",
            "create",
            "ui_crash",
            "--name",
            "Crash",
            "--tag",
            "type:release",
        ],
    );
    let plans = root.join("flags/plans.json");
    let saved = std::fs::read(&plans).expect("plans");
    flags_cli(
        root,
        &[
            "flags",
            "rollout",
            "ui_crash",
            "--percent",
            "10",
            "--override",
            "test",
        ],
    );
    let rollout = last_entry(&ws);
    // The plan is not saved yet, and the process making the change holds the flags' change
    // lock (as it does across the provider's answer).
    std::fs::write(&plans, &saved).expect("the plan before its save");
    let held = release_console::store::lock(&root.join("flags"), "changes").expect("lock");
    let mut other = cli_command(root, &["status", "list", "--all"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = other.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = other.kill();
            let _ = other.wait();
            panic!("another command waited for the flag change in flight");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        0,
        "a live change is left alone"
    );
    assert_eq!(plan_of(&ws, "ui_crash").percent(), 0);
    assert_eq!(last_entry(&ws).seq, rollout.seq, "nothing marked");
    // Once that process is gone without saving the plan, the change is settled.
    drop(held);
    assert_eq!(
        ws.recover_with(release_console::projections::ALL)
            .expect("recover"),
        1
    );
    assert_eq!(plan_of(&ws, "ui_crash").audit_seq, rollout.seq);
    verify_with_projections(&ws).expect("in agreement");
}

/// The local provider, whose rollouts then make the plan's save fail (plans.json becomes a
/// folder), as a full disk would.
struct PlanSaveFails(
    release_console::flags::local::LocalFlags,
    std::path::PathBuf,
);

impl release_console::flags::FlagProvider for PlanSaveFails {
    async fn list(
        &self,
    ) -> Result<Vec<release_console::flags::FlagState>, release_console::flags::FlagsError> {
        self.0.list().await
    }
    async fn get(
        &self,
        key: &str,
    ) -> Result<release_console::flags::FlagState, release_console::flags::FlagsError> {
        self.0.get(key).await
    }
    async fn create(
        &self,
        flag: &release_console::flags::NewFlag,
    ) -> Result<release_console::flags::FlagState, release_console::flags::FlagsError> {
        self.0.create(flag).await
    }
    async fn set_rollout(
        &self,
        key: &str,
        rollout: release_console::flags::Rollout<'_>,
    ) -> Result<release_console::flags::FlagState, release_console::flags::FlagsError> {
        let done = self.0.set_rollout(key, rollout).await?;
        std::fs::remove_file(&self.1).expect("plans");
        std::fs::create_dir(&self.1).expect("a folder in its place");
        Ok(done)
    }
    async fn archive(
        &self,
        key: &str,
        comment: &str,
    ) -> Result<(), release_console::flags::FlagsError> {
        self.0.archive(key, comment).await
    }
    async fn history(
        &self,
        key: &str,
    ) -> Result<Vec<release_console::flags::HistoryEntry>, release_console::flags::FlagsError> {
        self.0.history(key).await
    }
    fn is_local(&self) -> bool {
        true
    }
}

#[test]
fn a_flag_change_the_provider_made_but_whose_plan_could_not_be_saved_is_not_audited_as_failed() {
    let (dir, ws) = new_ws();
    let root = dir.path();
    flags_cli(
        root,
        &[
            "flags",
            "create",
            "ui_crash",
            "--name",
            "Crash",
            "--tag",
            "type:release",
        ],
    );
    let plans = root.join("flags/plans.json");
    let saved = std::fs::read(&plans).expect("plans");
    let provider = PlanSaveFails(
        release_console::flags::local::LocalFlags::new(&ws),
        plans.clone(),
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let err = rt
        .block_on(release_console::flags::plan::rollout(
            &ws,
            &provider,
            "ui_crash",
            Some(10),
            &release_console::kpi::Gate::Green("ok".into()),
            Some("test"),
        ))
        .expect_err("the plan's save failed");
    assert!(err.to_string().contains("plans.json"), "{err}");
    // The provider made the change: the log does not say it failed.
    let intent = last_entry(&ws);
    assert_eq!(intent.action, "flags.rollout", "{intent:?}");
    std::fs::remove_dir(&plans).expect("the folder");
    std::fs::write(&plans, &saved).expect("the plan as it was");
    // Recovery settles it from the local provider, which has it.
    flags_cli(root, &["flags", "list"]);
    let plan = plan_of(&ws, "ui_crash");
    assert_eq!((plan.percent(), plan.audit_seq), (10, intent.seq));
    verify_with_projections(&ws).expect("in agreement");
}

#[test]
fn a_release_or_an_item_edited_by_hand_is_named_by_verify_not_quietly_put_back() {
    let (_dir, ws) = new_ws();
    let root = ws.root().to_owned();
    let r = ws.create_release("1.0.0", None).expect("release");
    ws.set_item(&r, "pre.review-flags", true, "reviewed in the flags tool")
        .expect("tick");
    ws.verify_audit().expect("as the log says");

    // The runbook swapped (a hotfix's gates are fewer): the release file no longer is what its
    // creation entry recorded.
    let release = ws.release_dir(&r.version).join("release.json");
    let original = std::fs::read_to_string(&release).expect("release.json");
    let mut edited: serde_json::Value = serde_json::from_str(&original).expect("json");
    edited["runbook"] = serde_json::json!("hotfix");
    std::fs::write(&release, edited.to_string()).expect("edit");
    let err = ws.verify_audit().expect_err("caught");
    assert!(
        err.to_string().contains(&format!(
            "{} disagrees with the log: entry #{} created release 1.0.0 otherwise",
            release.display(),
            r.audit_seq
        )),
        "{err}"
    );
    edited["runbook"] = serde_json::json!("release");
    edited["created_by"] = serde_json::json!("mallory");
    std::fs::write(&release, edited.to_string()).expect("edit");
    assert!(ws.verify_audit().is_err(), "created_by edited");
    std::fs::write(&release, &original).expect("restore");
    ws.verify_audit().expect("as the log says again");

    // An item's entry number zeroed and its note edited: the next command (which recovers
    // first) leaves it, and audit verify names the file.
    let checklist = ws.release_dir(&r.version).join("checklist.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checklist).expect("checklist"))
            .expect("json");
    let item = &mut state["items"]["pre.review-flags"];
    item.as_object_mut().expect("item").remove("audit_seq");
    item["note"] = serde_json::json!("approved by the CTO");
    std::fs::write(&checklist, state.to_string()).expect("edit");
    let o = cli(&root, &["checklist", "show"]);
    ok(&o);
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checklist).expect("checklist"))
            .expect("json");
    assert_eq!(
        after["items"]["pre.review-flags"]["note"], "approved by the CTO",
        "not quietly put back"
    );
    let o = cli(&root, &["audit", "verify"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("item pre.review-flags is ticked but names no entry"),
        "{}",
        text(&o)
    );
}

#[cfg(unix)]
#[test]
fn a_demo_unpacked_before_its_stand_ins_gets_them_and_its_runbooks_run_no_real_tool() {
    use release_console::workspace::{CONFIG_FILE, add_demo_stand_ins, unpack_demo};
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("demo");
    unpack_demo(&root).expect("demo");
    let cfg = root.join(CONFIG_FILE);
    let fresh = std::fs::read_to_string(&cfg).expect("config");
    assert_eq!(
        Workspace::open(&root)
            .expect("open")
            .config()
            .dr
            .stand_ins(),
        Some("dr-stand-ins")
    );
    assert!(!add_demo_stand_ins(&root).expect("nothing to add"));
    // A demo unpacked by an older version: no stand-ins, no [dr].
    let old = fresh
        .split("\n# The disaster-recovery procedures (Runbooks)")
        .next()
        .expect("before [dr]")
        .to_owned();
    assert!(!old.contains("[dr]"));
    std::fs::write(&cfg, &old).expect("write");
    std::fs::remove_dir_all(root.join("dr-stand-ins")).expect("remove");
    assert!(add_demo_stand_ins(&root).expect("upgraded"));
    let ws = Workspace::open(&root).expect("open");
    assert_eq!(ws.config().dr.stand_ins(), Some("dr-stand-ins"));
    let upgraded = std::fs::read_to_string(&cfg).expect("config");
    assert!(upgraded.starts_with(old.trim_end()), "the rest is kept");
    for tool in ["aws", "kubectl", "redis-cli"] {
        let path = root.join("dr-stand-ins").join(tool);
        let text = std::fs::read_to_string(&path).expect("stand-in");
        assert!(text.contains("DEMO STAND-IN"), "{tool}");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{tool} is executable");
    }
    let entries = ws.audit().entries().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e.action == "workspace.config.upgraded"
                && e.after["added"] == "[dr] stand_ins = \"dr-stand-ins\"")
    );
    // Once there, nothing more is done; a demo whose own [dr] sets no stand-ins keeps it.
    assert!(!add_demo_stand_ins(&root).expect("nothing to add"));
    let own = format!("{old}\n[dr]\nstand_ins = \"\"\n");
    std::fs::write(&cfg, &own).expect("write");
    std::fs::remove_dir_all(root.join("dr-stand-ins")).expect("remove");
    assert!(!add_demo_stand_ins(&root).expect("kept"));
    assert_eq!(std::fs::read_to_string(&cfg).expect("config"), own);
    assert!(root.join("dr-stand-ins/aws").is_file());
}

/// Every entry of a real log (the demo unpacked, its quarterly history, checklist ticks and
/// unticks, a KPI sample) is read as its typed event, and that event writes back exactly the
/// entry's bytes: events change nothing in what the log holds.
#[test]
fn every_entry_of_a_real_log_is_read_typed_and_written_back_byte_for_byte() {
    use release_console::audit::{Action, AuditEntry, Event};
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = release_console::workspace::unpack_demo(&dir.path().join("demo")).expect("demo");
    let now = jiff::Timestamp::now();
    assert!(release_console::metrics::demo::add(&ws, now).expect("history"));
    let release = ws.release(None).expect("release");
    let items: Vec<String> = ws
        .runbook(&release)
        .expect("runbook")
        .item_ids()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let ticked = items
        .iter()
        .find(|id| ws.set_item(&release, id, true, "done by hand").is_ok())
        .expect("an item ticks");
    ws.set_item(&release, ticked, false, "not yet")
        .expect("untick");
    release_console::kpi::local::LocalKpis::new(&ws)
        .record("crash_free_sessions", 99.5, now)
        .expect("kpi");

    let text = std::fs::read_to_string(ws.audit().path()).expect("log");
    let mut seen = std::collections::BTreeSet::new();
    for line in text.lines() {
        let entry: AuditEntry = serde_json::from_str(line).expect("entry");
        let event = Event::from_entry(&entry);
        if Action::parse(&entry.action).is_some() {
            assert!(
                event.kind().is_some(),
                "{} was not read typed: {line}",
                entry.action
            );
        }
        seen.insert(entry.action.clone());
        let new = event.to_new_entry(&entry.actor);
        let again = AuditEntry {
            actor: new.actor,
            action: new.action,
            target: new.target,
            before: new.before,
            after: new.after,
            ..entry.clone()
        };
        assert_eq!(again.to_line().expect("line"), line);
    }
    for action in [
        "workspace.init",
        "release.create",
        "checklist.tick",
        "checklist.untick",
        "status.incident.import",
        "flags.import",
        "runbook.step.end",
        "demo.history",
        "kpi.record",
    ] {
        assert!(seen.contains(action), "{action} not in {seen:?}");
    }
}
