//! A workspace shared by a team on an S3 bucket (`s3://BUCKET/PREFIX`): consoles with caches
//! of their own, as on different machines, against a real S3 server (`SeaweedFS`'s `weed mini`)
//! over loopback.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use crate::common::fault_proxy::{Fault, FaultProxy};
use crate::common::{self, WEED_ACCESS_KEY, WEED_SECRET_KEY, Weed};
use egui_kittest::kittest::{NodeT as _, Queryable as _};

/// One person's console: their name and the cache folder their machine keeps.
pub(super) struct Console {
    pub(super) user: &'static str,
    pub(super) cache: PathBuf,
    pub(super) endpoint: String,
}

impl Console {
    pub(super) fn new(weed: &Weed, dir: &Path, user: &'static str) -> Self {
        Self {
            user,
            cache: dir.join(format!("cache-{user}")),
            endpoint: weed.endpoint.clone(),
        }
    }

    pub(super) fn run(&self, ws: &str, args: &[&str]) -> Output {
        let mut c = common::bin();
        c.arg("--workspace").arg(ws).args(args);
        self.env(&mut c);
        c.output().expect("run release-console")
    }

    /// [`Self::run`] with `extra` variables (a CI job's).
    pub(super) fn run_with(&self, ws: &str, extra: &[(&str, &str)], args: &[&str]) -> Output {
        let mut c = common::bin();
        c.arg("--workspace").arg(ws).args(args);
        self.env(&mut c);
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().expect("run release-console")
    }

    /// [`Self::run`] not yet started (to spawn it and do something meanwhile).
    pub(super) fn command(&self, ws: &str, args: &[&str]) -> std::process::Command {
        let mut c = common::bin();
        c.arg("--workspace").arg(ws).args(args);
        self.env(&mut c);
        c
    }

    pub(super) fn env(&self, c: &mut std::process::Command) {
        c.env("AWS_ENDPOINT_URL_S3", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", WEED_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", WEED_SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("RELEASE_CONSOLE_SHARED_CACHE", &self.cache)
            // Each machine's own private keys, never the user's running the tests.
            .env("RELEASE_CONSOLE_KEYS_DIR", self.keys())
            .env("USER", self.user)
            .env("HOSTNAME", format!("{}-laptop", self.user))
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL");
    }

    /// The folder this console's private keys are kept in.
    pub(super) fn keys(&self) -> PathBuf {
        self.cache.with_extension("keys")
    }

    /// The cache folder of `ws` (`s3://team/PREFIX`).
    pub(super) fn folder(&self, prefix: &str) -> PathBuf {
        self.cache.join("team").join(prefix)
    }
}

pub(super) fn entries(console: &Console, ws: &str) -> Vec<serde_json::Value> {
    let o = console.run(ws, &["--json", "audit", "list"]);
    assert!(o.status.success(), "{}", common::text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no entries in {out}"))
}

pub(super) fn item_done(console: &Console, ws: &str, release: &str, item: &str) -> (bool, String) {
    let o = console.run(ws, &["--json", "checklist", "show", "--release", release]);
    assert!(o.status.success(), "{}", common::text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let it = v["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .find(|i| i["id"] == item)
        .unwrap_or_else(|| panic!("no {item} in {out}"));
    (
        it["state"]["done"].as_bool().unwrap_or(false),
        it["state"]["by"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn two_consoles_on_one_bucket_see_one_release_one_checklist_and_one_log() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/wiretuner";

    let out = common::ok(&ana.run(ws, &["init", ws]));
    assert!(out.contains("s3://team/wiretuner"), "{out}");
    // A second init of the same workspace is refused, and changes nothing.
    let again = ben.run(ws, &["init", ws]);
    assert!(!again.status.success(), "{}", common::text(&again));
    assert!(
        common::text(&again).contains("already exists"),
        "{}",
        common::text(&again)
    );

    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    // Ben's console never saw the workspace: it reads the release from the bucket.
    let (done, _) = item_done(&ben, ws, "0.2.0", "pre.review-flags");
    assert!(!done);
    common::ok(&ben.run(
        ws,
        &[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "flags reviewed",
            "--release",
            "0.2.0",
        ],
    ));
    let (done, by) = item_done(&ana, ws, "0.2.0", "pre.review-flags");
    assert!(done, "ana's console sees ben's tick");
    assert_eq!(by, "ben");

    // One log: the same entries, in the same order, in both caches; each verifies.
    let a = entries(&ana, ws);
    let b = entries(&ben, ws);
    assert_eq!(a, b);
    let actions: Vec<&str> = a.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["workspace.init", "release.create", "checklist.tick"],
        "{a:#?}"
    );
    assert_eq!(a[2]["actor"], "ben");
    assert_eq!(a[2]["host"], "ben-laptop");
    assert_eq!(a[1]["host"], "ana-laptop");
    for c in [&ana, &ben] {
        common::ok(&c.run(ws, &["audit", "verify"]));
    }
    assert_eq!(
        std::fs::read(ana.folder("wiretuner").join("audit.log")).expect("ana's log"),
        std::fs::read(ben.folder("wiretuner").join("audit.log")).expect("ben's log"),
    );
    // The bucket holds one object per entry: the same bytes.
    let line3 = std::fs::read_to_string(ana.folder("wiretuner").join("audit.log"))
        .expect("log")
        .lines()
        .nth(2)
        .expect("line 3")
        .to_owned();
    let (status, body) = weed.request("GET", "/team/wiretuner/log/000000000003.json", &[], b"");
    assert_eq!(status, 200);
    assert_eq!(body, line3);

    // A CI job on the same workspace names itself.
    let ci = Console::new(&weed, dir.path(), "runner");
    common::ok(&ci.run_with(
        ws,
        &[("RELEASE_CONSOLE_ACTOR", "ci@github")],
        &[
            "checklist",
            "tick",
            "pre.validate-staging",
            "--note",
            "staging green",
            "--release",
            "0.2.0",
        ],
    ));
    let (done, by) = item_done(&ana, ws, "0.2.0", "pre.validate-staging");
    assert!(done);
    assert_eq!(by, "ci@github");

    // Opening the cache folder itself opens the shared workspace: a change made there is in
    // the bucket, never only in the copy.
    let folder = ana.folder("wiretuner");
    common::ok(&ana.run(
        folder.to_str().expect("utf-8"),
        &[
            "checklist",
            "untick",
            "pre.review-flags",
            "--note",
            "not yet",
            "--release",
            "0.2.0",
        ],
    ));
    let (done, _) = item_done(&ben, ws, "0.2.0", "pre.review-flags");
    assert!(!done, "ben sees the untick made through ana's cache folder");
}

#[test]
fn a_rewritten_or_truncated_bucket_log_is_refused_naming_the_entry() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/tamper";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    let key = "/team/tamper/log/000000000002.json";
    let (_, original) = weed.request("GET", key, &[], b"");

    // The last entry rewritten in the bucket (by anyone with write access).
    let forged = original.replace("\"ana\"", "\"mallory\"");
    assert_ne!(forged, original);
    assert_eq!(weed.request("PUT", key, &[], forged.as_bytes()).0, 200);
    let o = ana.run(ws, &["checklist", "show"]);
    assert!(!o.status.success());
    let t = common::text(&o);
    assert!(t.contains("entry #2") && t.contains("rewritten"), "{t}");

    // Removed: the log there was truncated.
    assert_eq!(weed.request("DELETE", key, &[], b"").0, 204);
    let t = common::text(&ana.run(ws, &["checklist", "show"]));
    assert!(t.contains("entry #2") && t.contains("truncated"), "{t}");

    // Put back as it was: the console works again.
    assert_eq!(weed.request("PUT", key, &[], original.as_bytes()).0, 200);
    common::ok(&ana.run(ws, &["checklist", "show"]));

    // A forged entry appended past the end that does not extend the chain is refused too.
    let forged3 = original
        .replace("\"seq\":2", "\"seq\":3")
        .replace("release.create", "release.yank");
    assert_eq!(
        weed.request(
            "PUT",
            "/team/tamper/log/000000000003.json",
            &[],
            forged3.as_bytes()
        )
        .0,
        200
    );
    let t = common::text(&ana.run(ws, &["checklist", "show"]));
    assert!(t.contains("entry #3") && t.contains("does not"), "{t}");
}

#[test]
fn without_the_bucket_the_workspace_opens_read_only_and_refuses_changes() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/offline";
    let ana = {
        let weed = Weed::start();
        weed.bucket("team");
        let ana = Console::new(&weed, dir.path(), "ana");
        common::ok(&ana.run(ws, &["init", ws]));
        common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
        ana
        // The server stops here.
    };
    let o = ana.run(ws, &["--json", "checklist", "show"]);
    assert!(o.status.success(), "{}", common::text(&o));
    let t = common::text(&o);
    assert!(
        t.contains("read-only"),
        "the console says it is read-only: {t}"
    );
    let before = std::fs::read(ana.folder("offline").join("audit.log")).expect("log");
    let o = ana.run(
        ws,
        &[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "x",
            "--release",
            "0.2.0",
        ],
    );
    assert!(!o.status.success());
    let t = common::text(&o);
    assert!(
        t.contains("read-only") && t.contains("nothing was changed"),
        "{t}"
    );
    assert_eq!(
        std::fs::read(ana.folder("offline").join("audit.log")).expect("log"),
        before,
        "nothing was recorded locally"
    );
    // A server that accepts connections and never answers: the workspace still opens
    // read-only, after the first look's short wait, not the minutes a transfer may take.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hole_url = format!("http://{}", hole.local_addr().expect("addr"));
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::Builder::new()
        .name("black-hole".into())
        .spawn(move || {
            for conn in hole.incoming().flatten() {
                keep.lock().expect("lock").push(conn);
            }
        })
        .expect("thread");
    let silent = Console {
        user: "ana",
        cache: ana.cache.clone(),
        endpoint: hole_url,
    };
    let started = std::time::Instant::now();
    let o = silent.run(ws, &["checklist", "show"]);
    assert!(o.status.success(), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("read-only"),
        "{}",
        common::text(&o)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(45),
        "opened after {:?}",
        started.elapsed()
    );
    // A workspace this machine never opened cannot be opened without the bucket.
    let ben = Console {
        user: "ben",
        cache: dir.path().join("cache-ben"),
        endpoint: ana.endpoint.clone(),
    };
    let o = ben.run(ws, &["checklist", "show"]);
    assert!(!o.status.success());
    assert!(
        common::text(&o).contains("s3://team/offline"),
        "{}",
        common::text(&o)
    );
}

/// Eight consoles at once, each making changes of its own release's items, and all of them
/// trying to tick one shared item: nothing is lost or doubled, one chain, and every console's
/// state equals the log.
#[test]
fn eight_consoles_at_once_lose_nothing_and_double_nothing() {
    const WRITERS: usize = 8;
    const CHANGES: usize = 12;
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/race";
    let names: [&'static str; WRITERS] = ["w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"];
    let consoles: Vec<Console> = names
        .iter()
        .map(|n| Console::new(&weed, dir.path(), n))
        .collect();
    common::ok(&consoles[0].run(ws, &["init", ws]));
    common::ok(&consoles[0].run(ws, &["release", "new", "0.1.0"]));
    let shared_item_wins = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for (i, c) in consoles.iter().enumerate() {
            let wins = &shared_item_wins;
            s.spawn(move || {
                let version = format!("0.2.{i}");
                common::ok(&c.run(ws, &["release", "new", &version]));
                // Everyone reaches for the same item once: one tick wins, the others are told
                // it is already ticked.
                let o = c.run(
                    ws,
                    &[
                        "checklist",
                        "tick",
                        "pre.validate-staging",
                        "--note",
                        c.user,
                        "--release",
                        "0.1.0",
                    ],
                );
                if o.status.success() {
                    wins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    let t = common::text(&o);
                    assert!(t.contains("already"), "{t}");
                }
                for n in 0..CHANGES {
                    let verb = if n % 2 == 0 { "tick" } else { "untick" };
                    common::ok(&c.run(
                        ws,
                        &[
                            "checklist",
                            verb,
                            "pre.review-flags",
                            "--note",
                            &format!("{n}"),
                            "--release",
                            &version,
                        ],
                    ));
                }
            });
        }
    });
    assert_eq!(
        shared_item_wins.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let all = entries(&consoles[3], ws);
    // init, release 0.1.0, one winning tick, and per writer its release and its changes.
    assert_eq!(all.len(), 3 + WRITERS * (1 + CHANGES), "{}", all.len());
    for (n, e) in all.iter().enumerate() {
        assert_eq!(e["seq"].as_u64(), Some(n as u64 + 1));
    }
    for (i, c) in consoles.iter().enumerate() {
        common::ok(&c.run(ws, &["audit", "verify"]));
        let version = format!("0.2.{i}");
        let mine = all
            .iter()
            .filter(|e| e["target"] == format!("{version}/pre.review-flags"))
            .count();
        assert_eq!(mine, CHANGES, "writer {i}: each change once");
        // An even number of alternating changes leaves the item unticked, in every console.
        let (done, _) = item_done(
            &consoles[(i + 1) % WRITERS],
            ws,
            &version,
            "pre.review-flags",
        );
        assert!(!done);
        let (shared_done, _) = item_done(c, ws, "0.1.0", "pre.validate-staging");
        assert!(shared_done);
    }
    let first = std::fs::read(consoles[0].folder("race").join("audit.log")).expect("log");
    for c in &consoles[1..] {
        assert_eq!(
            std::fs::read(c.folder("race").join("audit.log")).expect("log"),
            first,
            "{}'s copy of the log is the bucket's",
            c.user
        );
    }
}

/// A console whose requests go through a fault proxy in front of the bucket.
pub(super) fn through(proxy: &FaultProxy, dir: &Path, user: &'static str) -> Console {
    Console {
        user,
        cache: dir.join(format!("cache-{user}")),
        endpoint: proxy.url(),
    }
}

fn ticks_of(console: &Console, ws: &str, target: &str) -> usize {
    entries(console, ws)
        .iter()
        .filter(|e| e["target"] == target && e["action"] == "checklist.tick")
        .count()
}

/// Writes whose answer never came, or came as an error after the write was made: the retry
/// finds the writer's own entry (its nonce) and adopts it; nothing is doubled.
#[test]
fn a_write_whose_answer_was_lost_is_recorded_once() {
    let weed = Weed::start();
    weed.bucket("team");
    let proxy = FaultProxy::start(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ana = through(&proxy, dir.path(), "ana");
    let ws = "s3://team/lossy";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    let faults = [
        Fault::DropAfterForward,
        Fault::AnswerAfterForward {
            status: 503,
            code: "SlowDown".into(),
            message: "Please reduce your request rate.".into(),
        },
        Fault::conflict_after_forward(),
        Fault::slow_down(Some(1)),
    ];
    let items = [
        "pre.review-flags",
        "pre.validate-staging",
        "pre.release-notes",
    ];
    for (n, fault) in faults.into_iter().enumerate() {
        let item = items[n % items.len()];
        let verb = if n < items.len() { "tick" } else { "untick" };
        let seq = 3 + n;
        proxy.once("PUT", &format!("/log/{seq:012}.json"), fault.clone());
        let o = ana.run(
            ws,
            &["checklist", verb, item, "--note", "x", "--release", "0.2.0"],
        );
        assert!(o.status.success(), "{fault:?}: {}", common::text(&o));
        assert_eq!(proxy.pending(), 0, "{fault:?} was applied");
        let all = entries(&ana, ws);
        assert_eq!(all.len(), seq, "{fault:?}: one entry, not two: {all:#?}");
    }
    assert_eq!(ticks_of(&ana, ws, "0.2.0/pre.review-flags"), 1);
    common::ok(&ana.run(ws, &["audit", "verify"]));

    // No answer at all, every time: the console looks, finds nothing there, and says that
    // nothing was recorded; the next command works.
    proxy.times(4, "PUT", "/log/000000000007.json", Fault::DropBeforeForward);
    let o = ana.run(
        ws,
        &[
            "checklist",
            "untick",
            "pre.validate-staging",
            "--note",
            "y",
            "--release",
            "0.2.0",
        ],
    );
    assert!(!o.status.success());
    let t = common::text(&o);
    assert!(t.contains("nothing was recorded"), "{t}");
    assert_eq!(entries(&ana, ws).len(), 6);
    common::ok(&ana.run(
        ws,
        &[
            "checklist",
            "untick",
            "pre.validate-staging",
            "--note",
            "y",
            "--release",
            "0.2.0",
        ],
    ));
    assert_eq!(entries(&ana, ws).len(), 7);
}

/// A writer killed after its entry reached the bucket but before its own copy and state had
/// it: the same command again finds the change made, once.
#[test]
fn a_writer_killed_mid_change_leaves_the_change_once() {
    let weed = Weed::start();
    weed.bucket("team");
    let proxy = FaultProxy::start(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ana = through(&proxy, dir.path(), "ana");
    let ws = "s3://team/killed";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    proxy.once(
        "PUT",
        "/log/000000000003.json",
        Fault::Delay(std::time::Duration::from_secs(2)),
    );
    let mut c = common::bin();
    c.arg("--workspace").arg(ws).args([
        "checklist",
        "tick",
        "pre.review-flags",
        "--note",
        "x",
        "--release",
        "0.2.0",
    ]);
    ana.env(&mut c);
    let mut child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !proxy
        .seen()
        .iter()
        .any(|s| s.method == "PUT" && s.path.contains("/log/000000000003.json"))
        && proxy.pending() > 0
    {
        assert!(std::time::Instant::now() < deadline, "the PUT never came");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While the proxy holds the request: SIGKILL, no chance to finish anything.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().expect("kill -9");
    let _ = child.wait();
    // The proxy forwards what it had: the entry lands in the bucket after the writer died.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (status, _) = weed.request("GET", "/team/killed/log/000000000003.json", &[], b"");
    assert_eq!(status, 200, "the entry reached the bucket");
    let o = ana.run(
        ws,
        &[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "x",
            "--release",
            "0.2.0",
        ],
    );
    let t = common::text(&o);
    assert!(t.contains("already"), "the change was made once: {t}");
    let (done, by) = item_done(&ana, ws, "0.2.0", "pre.review-flags");
    assert!(done);
    assert_eq!(by, "ana");
    assert_eq!(ticks_of(&ana, ws, "0.2.0/pre.review-flags"), 1);
    common::ok(&ana.run(ws, &["audit", "verify"]));
}

/// The window on a shared workspace: it says so, and another person's change made from
/// another machine reaches it by itself, named once.
#[test]
#[expect(
    unsafe_code,
    reason = "the window reads the bucket's endpoint and credentials from the environment, as \
              on a real desktop; nextest runs this test in a process of its own and the \
              variables are set before any thread of it starts"
)]
fn the_window_shows_another_persons_change_by_itself() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;
    use release_console::runner::Runner;
    use release_console::ui::{ConsoleApp, Picker, RfdPicker};
    use release_console::workspace::Origin;

    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/live";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.3.0"]));
    let window_cache = dir.path().join("cache-window");
    // SAFETY: see the reason above: no other thread exists yet.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_S3", &weed.endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", WEED_ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", WEED_SECRET_KEY);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("RELEASE_CONSOLE_SHARED_CACHE", &window_cache);
        std::env::set_var("USER", "ana");
        std::env::set_var("HOSTNAME", "ana-desktop");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let runner = Runner::new(rt.handle().clone(), 2);
    let picker: Arc<dyn Picker> = Arc::new(RfdPicker);
    let root = PathBuf::from(ws);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| ConsoleApp::new(&cc.egui_ctx, runner, root, Origin::Flag, picker));
    let step_until =
        |h: &mut Harness<'static, ConsoleApp>, what: &str, cond: &dyn Fn(&ConsoleApp) -> bool| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !cond(h.state()) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "timed out waiting for {what}; toasts: {:?}",
                    h.state().toasts.items()
                );
                h.step();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            h.step();
        };
    step_until(&mut h, "the workspace to load", &|app| {
        app.data.is_some() && !app.is_busy()
    });
    assert!(
        h.query_by_label("SHARED").is_some(),
        "the header says the workspace is shared"
    );
    let done = |app: &ConsoleApp| {
        app.data
            .as_ref()
            .and_then(|d| d.current.as_ref())
            .and_then(|c| c.checklist.items.get("pre.review-flags"))
            .is_some_and(|i| i.done && i.by == "ben")
    };
    assert!(!done(h.state()));

    common::ok(&ben.run(
        ws,
        &[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "from ben's laptop",
            "--release",
            "0.3.0",
        ],
    ));
    step_until(&mut h, "ben's tick to show", &done);
    let named = |app: &ConsoleApp| {
        app.toasts
            .items()
            .iter()
            .filter(|t| {
                t.text
                    .contains("ben (ben-laptop): ticked \"Review feature flags\" (0.3.0)")
            })
            .count()
    };
    assert_eq!(named(h.state()), 1, "{:?}", h.state().toasts.items());
    let namings = |app: &ConsoleApp| {
        app.toasts
            .items()
            .iter()
            .filter(|t| {
                t.text
                    .contains("ben (ben-laptop): ticked \"Review feature flags\"")
            })
            .map(|t| t.at)
            .collect::<Vec<_>>()
    };
    let named_at = namings(h.state());
    // Later polls (one every 1.5 s) find nothing new: the change is named once. The toast may
    // have gone meanwhile on a loaded machine (it shows for 5 s): no other came after it.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    let later = namings(h.state());
    assert!(
        later.is_empty() || later == named_at,
        "{:?}",
        h.state().toasts.items()
    );

    // The Overview says who is working: ben's change, and what carol is doing right now.
    assert_eq!(h.state().tab, release_console::ui::Tab::Overview);
    assert!(
        h.query_by_label_contains("ben (ben-laptop): ticked \"Review feature flags\" (0.3.0) · ")
            .is_some()
    );
    let carol = open_as(&weed, dir.path(), "carol", ws);
    let lease = carol.lease("publish 0.3.0").expect("carol publishes");
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while h.query_by_label_contains("publish 0.3.0 by ").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the lease never showed"
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    drop(lease);
}

/// How the tests reach weed from this process: a console with a cache of its own.
pub(super) fn access(weed: &Weed, cache: &Path) -> release_console::workspace::shared::Access {
    release_console::workspace::shared::Access {
        cache_root: cache.to_owned(),
        endpoint: release_console::net::s3::Endpoint {
            url: weed.endpoint.clone(),
            bucket: String::new(),
            region: "us-east-1".into(),
            path_style: true,
            credentials: release_console::net::sigv4::Credentials::new(
                WEED_ACCESS_KEY.into(),
                WEED_SECRET_KEY.into(),
                None,
            ),
        },
    }
}

pub(super) fn open_as(
    weed: &Weed,
    dir: &Path,
    who: &str,
    ws: &str,
) -> release_console::workspace::Workspace {
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(ws))
        .expect("s3 url")
        .expect("valid");
    release_console::workspace::Workspace::open_shared_with(url, access(weed, &dir.join(who)))
        .expect("open the shared workspace")
}

#[test]
fn a_lease_has_one_holder_and_a_second_attempt_names_it() {
    use release_console::workspace::WorkspaceError;
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/leases";
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        access(&weed, &dir.path().join("ana")),
    )
    .expect("init");
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let ben = open_as(&weed, dir.path(), "ben", ws);

    let held = ana.lease("publish 0.2.0").expect("ana takes the lease");
    let e = ben.lease("publish 0.2.0").expect_err("ben is refused");
    let text = e.to_string();
    let holder = format!(
        "publish 0.2.0 is in progress by {}@{} since ",
        ana.actor(),
        ana.shared().expect("shared").host()
    );
    assert!(text.starts_with(&holder), "{text}");
    assert!(text.contains("(lease until "), "{text}");
    assert!(matches!(e, WorkspaceError::LeaseHeld { .. }));
    // Who is doing what, as every console sees it.
    let live = ben.leases().expect("leases");
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].what, "publish 0.2.0");
    // Another operation is not held by it.
    drop(ben.lease("build 0.2.0 macos").expect("another lease"));
    // Given back when dropped: the next person takes it at once.
    drop(held);
    let bens = ben.lease("publish 0.2.0").expect("ben takes it after ana");
    assert!(ana.lease("publish 0.2.0").is_err());
    drop(bens);

    // Eight consoles at once: one holder.
    let consoles: Vec<_> = (0..8)
        .map(|i| open_as(&weed, dir.path(), &format!("w{i}"), ws))
        .collect();
    let start = std::sync::Barrier::new(consoles.len());
    let tried = std::sync::Barrier::new(consoles.len());
    let won: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = consoles
            .iter()
            .map(|c| {
                let (start, tried) = (&start, &tried);
                s.spawn(move || {
                    start.wait();
                    let r = c.lease("rollout backend 0.2.0");
                    let ok = r.is_ok();
                    // Held until every console has tried.
                    tried.wait();
                    drop(r);
                    ok
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
}

/// Whoever can write the bucket cannot choose which programs every teammate's console runs:
/// a shared configuration with `[tools]` (written by hand; Settings refuses to) is refused on
/// open, naming the section, and nothing it names is run.
#[test]
fn a_shared_configuration_may_not_choose_the_programs_each_machine_runs() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/tools";
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        access(&weed, &dir.path().join("ana")),
    )
    .expect("init");
    let key = "/team/tools/release-console.toml";
    let (status, config) = weed.request("GET", key, &[], b"");
    assert_eq!(status, 200);
    let mut config = config;
    config.push_str("\n[tools]\nosslsigncode = \"/tmp/somewhere/osslsigncode\"\n");
    assert_eq!(weed.request("PUT", key, &[], config.as_bytes()).0, 200);
    let e = release_console::workspace::Workspace::open_shared_with(
        url,
        access(&weed, &dir.path().join("ben")),
    )
    .expect_err("refused");
    let t = e.to_string();
    assert!(t.contains("sets [tools] (osslsigncode)"), "{t}");
    assert_eq!(
        release_console::os::configured_program("osslsigncode"),
        None,
        "nothing it names is run"
    );
}

/// A local workspace whose `[tools]` says where this machine's programs are is not pushed:
/// the bucket's configuration would carry them, and every console (the pusher's too) would
/// refuse to open it, with the log already there.
#[test]
fn a_workspace_with_tools_is_not_pushed_to_a_bucket() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init(&local);
    let config = local.join("release-console.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\n[tools]\nosslsigncode = \"/opt/homebrew/bin/osslsigncode\"\n");
    std::fs::write(&config, text).expect("write");
    let ana = Console::new(&weed, dir.path(), "ana");
    let mut c = common::bin();
    c.args(["workspace", "push"])
        .arg(&local)
        .arg("s3://team/withtools");
    ana.env(&mut c);
    let o = c.output().expect("push");
    assert!(!o.status.success(), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("sets [tools] (osslsigncode)"),
        "{}",
        common::text(&o)
    );
    let (status, _) = weed.request("GET", "/team/withtools/release-console.toml", &[], b"");
    assert_eq!(status, 404, "nothing written to the bucket");
}

/// A lease is judged by the bucket's clock (how long ago the object was written), not by the
/// `until` its holder's clock wrote: a holder whose clock is an hour behind keeps its lease,
/// and one whose clock is an hour ahead does not keep it past its time.
#[test]
fn a_lease_is_timed_by_the_bucket_not_by_the_holders_clock() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/clocks";
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        access(&weed, &dir.path().join("ben")),
    )
    .expect("init");
    let ben = open_as(&weed, dir.path(), "ben", ws);
    let now = jiff::Timestamp::now();
    let hour = jiff::SignedDuration::from_hours(1);
    let lease = |what: &str, until: jiff::Timestamp, ttl_secs: u64| {
        let body = serde_json::json!({
            "what": what, "holder": "carol", "host": "carol-mbp",
            "since": (until - hour).to_string(), "until": until.to_string(),
            "nonce": "00", "ttl_secs": ttl_secs,
        });
        let key = format!("/team/clocks/leases/{}.json", what.replace(' ', "-"));
        let (status, _) = weed.request("PUT", &key, &[], body.to_string().as_bytes());
        assert_eq!(status, 200);
    };
    // Carol's clock is an hour behind: by it, her fresh ten-minute lease ended long ago.
    lease(
        "publish 0.2.0",
        now - hour + jiff::SignedDuration::from_mins(10),
        600,
    );
    let e = ben
        .lease("publish 0.2.0")
        .expect_err("a lease written a moment ago holds");
    assert!(
        e.to_string().contains("in progress by carol@carol-mbp"),
        "{e}"
    );
    let live = ben.leases().expect("leases");
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(
        live[0].ends() > now + jiff::SignedDuration::from_mins(8),
        "shown on this console's clock: {live:?}"
    );
    // Dave's clock is an hour ahead: by it, his two-second lease has an hour to go.
    lease("build 0.2.0 macos", now + hour, 2);
    assert!(ben.lease("build 0.2.0 macos").is_err(), "fresh: it holds");
    std::thread::sleep(std::time::Duration::from_millis(4200));
    let taken = ben
        .lease("build 0.2.0 macos")
        .expect("written more than its two seconds ago by the bucket's clock: taken over");
    let log = ben.audit().entries().expect("log");
    assert_eq!(log.last().expect("entry").action, "lease.takeover");
    drop(taken);
}

#[test]
fn an_expired_lease_is_taken_over_and_forcing_one_is_audited() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/expired";
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        access(&weed, &dir.path().join("ana")),
    )
    .expect("init");
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let ben = open_as(&weed, dir.path(), "ben", ws);

    // A console that crashed while publishing: its lease ran out a minute ago.
    let dead = serde_json::json!({
        "what": "publish 0.2.0", "holder": "carol", "host": "carol-mbp",
        "since": "2026-12-01T10:00:00Z", "until": "2026-12-01T10:10:00Z", "nonce": "00"
    });
    let (status, _) = weed.request(
        "PUT",
        "/team/expired/leases/publish-0.2.0.json",
        &[],
        dead.to_string().as_bytes(),
    );
    assert_eq!(status, 200);
    let taken = ben
        .lease("publish 0.2.0")
        .expect("an expired lease is taken over");
    let last = ben.audit().entries().expect("log");
    let over = last.last().expect("entry");
    assert_eq!(over.action, "lease.takeover");
    assert_eq!(over.target, "publish 0.2.0");
    assert_eq!(over.before["holder"], "carol");
    drop(taken);

    // Forcing a live lease: audited, naming whom it was taken from; the holder's next renewal
    // finds it gone, and its operation stops before changing anything more.
    let anas = ana
        .lease_for(
            "publish 0.2.0",
            std::time::Duration::from_millis(1500),
            false,
        )
        .expect("ana's lease");
    assert!(ben.lease("publish 0.2.0").is_err());
    let forced = ben.force_lease("publish 0.2.0").expect("forced");
    let log = ben.audit().entries().expect("log");
    let force = log.last().expect("entry");
    assert_eq!(force.action, "lease.force");
    assert_eq!(force.before["holder"], ana.actor().as_str());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while anas.check().is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "ana never learned she lost the lease"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        anas.check()
            .expect_err("lost")
            .to_string()
            .contains("lease was lost")
    );
    drop(anas);
    // Ana giving back a lease she lost does not free ben's.
    assert!(ana.lease("publish 0.2.0").is_err());
    drop(forced);
}

/// Publishing on a shared workspace while another console publishes the same version: refused
/// at once, naming who.
#[test]
fn a_second_publish_of_the_same_version_names_the_lease() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/publish";
    common::ok(&ben.run(ws, &["init", ws]));
    common::ok(&ben.run(ws, &["release", "new", "0.2.0"]));
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let held = ana.lease("publish 0.2.0").expect("ana publishes");
    let o = ben.run(ws, &["publish", "--version", "0.2.0"]);
    assert!(!o.status.success());
    let t = common::text(&o);
    assert!(
        t.contains(&format!("publish 0.2.0 is in progress by {}@", ana.actor())),
        "{t}"
    );
    drop(held);
    // Without it, the publish goes on to its own checks: here the store, a folder (the
    // default), which is each machine's own: refused, naming it and what to set, and nothing
    // recorded; a yank is refused the same way.
    let before = entries(&ben, ws).len();
    let t = common::text(&ben.run(ws, &["publish", "--version", "0.2.0"]));
    assert!(!t.contains("in progress by"), "{t}");
    assert!(
        t.contains("s3://team/publish is shared, but its [publish] store is a folder (")
            && t.contains("set [publish] store = \"s3\"")
            && t.contains("(nothing was uploaded)"),
        "{t}"
    );
    let t = common::text(&ben.run(
        ws,
        &["publish", "yank", "--version", "0.2.0", "--reason", "x"],
    ));
    assert!(
        t.contains("is shared, but its [publish] store is a folder"),
        "{t}"
    );
    assert!(t.contains("(nothing was yanked)"), "{t}");
    // The task ran and failed (its start and end are logged); no publish was begun.
    let after = entries(&ben, ws);
    assert!(
        after[before..].iter().all(|e| !e["action"]
            .as_str()
            .unwrap_or_default()
            .starts_with("publish")),
        "{:#?}",
        &after[before..]
    );
}

/// A disaster-recovery step on a shared workspace while another console runs one of the same
/// procedure: refused before anything is recorded or run, naming who.
#[test]
fn a_runbook_step_while_another_console_runs_the_procedure_names_the_lease() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/dr";
    common::ok(&ben.run(ws, &["init", ws]));
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let held = ana
        .lease("runbook db-restore")
        .expect("ana runs the restore");
    let before = ana.audit().entries().expect("log").len();
    let o = ben.run(
        ws,
        &["runbook", "run", "db-restore", "--step", "list-snapshots"],
    );
    assert!(!o.status.success());
    let t = common::text(&o);
    assert!(
        t.contains(&format!(
            "runbook db-restore is in progress by {}@",
            ana.actor()
        )),
        "{t}"
    );
    // The task's start and end are in the log (it ran, and failed); no step was.
    let after = open_as(&weed, dir.path(), "ana", ws);
    let log = after.audit().entries().expect("log");
    let new: Vec<&str> = log[before..].iter().map(|e| e.action.as_str()).collect();
    assert!(
        new.iter().all(|a| a.starts_with("task.")),
        "no step was recorded: {new:?}"
    );
    drop(held);
}

/// A local workspace moved into a bucket: a console that never saw it reads the same releases,
/// checklists and log; `workspace verify` checks the bucket end to end and finds an entry
/// changed in the bucket after a console verified it.
#[test]
fn a_local_workspace_pushed_to_a_bucket_is_the_same_workspace_there() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init(&local);
    common::ok(&common::cli(&local, &["release", "new", "0.1.0"]));
    common::ok(&common::cli(
        &local,
        &[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "done here",
            "--release",
            "0.1.0",
        ],
    ));
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/pushed";
    let mut c = common::bin();
    c.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut c);
    let out = common::ok(&c.output().expect("push"));
    assert!(out.contains("3 log entries"), "{out}");
    // Pushed again: the bucket holds a workspace now.
    let mut again = common::bin();
    again.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut again);
    let o = again.output().expect("push again");
    assert!(!o.status.success());
    assert!(
        common::text(&o).contains("already exists"),
        "{}",
        common::text(&o)
    );

    let ben = Console::new(&weed, dir.path(), "ben");
    let (done, by) = item_done(&ben, ws, "0.1.0", "pre.review-flags");
    assert!(done);
    let log = entries(&ben, ws);
    assert_eq!(log[2]["action"], "checklist.tick");
    assert_eq!(by, log[2]["actor"].as_str().expect("actor"));
    assert_eq!(
        std::fs::read(local.join("audit.log")).expect("local log"),
        std::fs::read(ben.folder("pushed").join("audit.log")).expect("ben's copy"),
        "the same log, byte for byte"
    );
    let out = common::ok(&ben.run(ws, &["workspace", "verify"]));
    assert!(out.contains("3 entries in the bucket"), "{out}");
    assert!(out.contains("is the bucket's log"), "{out}");
    let status = common::ok(&ben.run(ws, &["workspace", "status"]));
    assert!(status.contains("workspace: s3://team/pushed"), "{status}");
    assert!(status.contains("log: 3 entries"), "{status}");

    // An early entry changed in the bucket, chain and all cannot be mended: verify names it.
    let key = "/team/pushed/log/000000000001.json";
    let (_, first) = weed.request("GET", key, &[], b"");
    let forged = first.replace("WireTuner", "WireTuneR");
    assert_ne!(forged, first);
    assert_eq!(weed.request("PUT", key, &[], forged.as_bytes()).0, 200);
    let o = ben.run(ws, &["workspace", "verify"]);
    assert!(!o.status.success());
    let t = common::text(&o);
    assert!(
        t.contains("entry #2") && t.contains("chain is broken"),
        "{t}"
    );
}

/// The window's environment, as a person's desktop gives it: the bucket's endpoint and
/// credentials, this console's cache folder, who and where.
#[expect(
    unsafe_code,
    reason = "the window reads the bucket's endpoint and credentials from the environment, as \
              on a real desktop; nextest runs each test in a process of its own, and the only \
              thread started before this (a fault proxy's) reads no variable"
)]
pub(super) fn set_window_env(endpoint: &str, secret: &str, cache: &Path) {
    // SAFETY: see the reason above: no thread reads the environment meanwhile.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_S3", endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", WEED_ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", secret);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("RELEASE_CONSOLE_SHARED_CACHE", cache);
        // The window's own keys folder, never the user's running the tests.
        std::env::set_var("RELEASE_CONSOLE_KEYS_DIR", cache.with_extension("keys"));
        std::env::set_var("USER", "ana");
        std::env::set_var("HOSTNAME", "ana-desktop");
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_ENDPOINT_URL");
        std::env::remove_var("RELEASE_CONSOLE_ACTOR");
    }
}

pub(super) type Window = egui_kittest::Harness<'static, release_console::ui::ConsoleApp>;

/// The window on `ws`, with the environment [`set_window_env`] gave; its runtime is returned
/// with it, to outlive it.
pub(super) fn open_window(ws: &str) -> (Window, tokio::runtime::Runtime) {
    use release_console::runner::Runner;
    use release_console::ui::{ConsoleApp, Picker, RfdPicker};
    use release_console::workspace::Origin;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let runner = Runner::new(rt.handle().clone(), 2);
    let picker: Arc<dyn Picker> = Arc::new(RfdPicker);
    let root = PathBuf::from(ws);
    let h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| ConsoleApp::new(&cc.egui_ctx, runner, root, Origin::Flag, picker));
    (h, rt)
}

/// Steps the window until `cond` holds (at most `secs` seconds).
pub(super) fn step_until(
    h: &mut Window,
    secs: u64,
    what: &str,
    cond: impl Fn(&release_console::ui::ConsoleApp) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond(h.state()) {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; toasts: {:?}",
            h.state().toasts.items()
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.step();
}

/// How many of the window's toasts contain `text`.
pub(super) fn toasts_with(app: &release_console::ui::ConsoleApp, text: &str) -> usize {
    app.toasts
        .items()
        .iter()
        .filter(|t| t.text.contains(text))
        .count()
}

fn item_is_done(app: &release_console::ui::ConsoleApp, item: &str) -> bool {
    app.data
        .as_ref()
        .and_then(|d| d.current.as_ref())
        .and_then(|c| c.checklist.items.get(item))
        .is_some_and(|i| i.done)
}

/// Clicks the navigation's `tab`.
pub(super) fn go_to(h: &mut Window, tab: &str) {
    h.get_by_label(tab).click();
    h.step();
    h.remove_cursor();
    h.step();
}

/// The bucket stops answering under an open window: it says so once (not at every poll), a
/// tick is refused naming the item, and when the bucket answers again the window syncs again
/// by itself and says so.
#[test]
fn a_bucket_that_stops_answering_is_said_once_refuses_a_tick_and_is_found_again() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/outage";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.4.0"]));
    let proxy = FaultProxy::start(&weed.endpoint);
    set_window_env(
        &proxy.url(),
        WEED_SECRET_KEY,
        &dir.path().join("cache-window"),
    );
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("SHARED").is_some());

    // The server stops: every request is cut.
    proxy.times(1_000_000, "*", "", Fault::DropBeforeForward);
    step_until(&mut h, 40, "NOT SYNCING", |app| app.sync_error.is_some());
    assert!(h.query_by_label("NOT SYNCING").is_some());
    // Several polls later, still one error.
    let polled = proxy.seen().len();
    step_until(&mut h, 60, "more polls", |_| {
        proxy.seen().len() >= polled + 12
    });
    assert_eq!(
        toasts_with(h.state(), "Others' changes cannot be read"),
        1,
        "{:?}",
        h.state().toasts.items()
    );

    // A tick now is refused, naming the item.
    go_to(&mut h, "Checklist");
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "Validate staging")
        .click();
    h.step();
    step_until(&mut h, 60, "the tick's refusal", |app| {
        toasts_with(app, "Could not tick \"Validate staging\": s3://team/outage") == 1
    });
    assert!(!item_is_done(h.state(), "pre.validate-staging"));

    // The server is back: the window finds it by itself.
    proxy.clear();
    step_until(&mut h, 60, "syncing again", |app| {
        app.sync_error.is_none()
            && toasts_with(
                app,
                "s3://team/outage answers again: others' changes show again",
            ) == 1
    });
    assert!(h.query_by_label("NOT SYNCING").is_none());
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "Validate staging")
        .click();
    h.step();
    step_until(&mut h, 30, "the tick", |app| {
        item_is_done(app, "pre.validate-staging")
    });
}

/// A window opened while the bucket does not answer is READ-ONLY from this console's copy: a
/// tick is refused saying so, and once the bucket answers the window is SHARED again by itself.
#[test]
fn a_window_opened_read_only_becomes_shared_when_the_bucket_answers() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/readonly";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.5.0"]));
    let proxy = FaultProxy::start(&weed.endpoint);
    // This machine opened it before: its copy is there.
    let window_cache = dir.path().join("cache-window");
    let before = Console {
        user: "ana",
        cache: window_cache.clone(),
        endpoint: weed.endpoint.clone(),
    };
    common::ok(&before.run(ws, &["checklist", "show"]));
    proxy.times(1_000_000, "*", "", Fault::DropBeforeForward);
    set_window_env(&proxy.url(), WEED_SECRET_KEY, &window_cache);
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 60, "the copy to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("READ-ONLY").is_some());

    go_to(&mut h, "Checklist");
    // The boxes are off, saying why on hover: a click changes nothing.
    let boxed = h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "Validate staging");
    assert!(
        boxed.accesskit_node().is_disabled(),
        "a READ-ONLY box looks clickable"
    );
    boxed.hover();
    for _ in 0..5 {
        h.step();
    }
    assert!(
        h.query_by_label_contains("READ-ONLY: s3://team/readonly did not answer")
            .is_some()
    );
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "Validate staging")
        .click();
    h.run_steps(3);
    assert!(!item_is_done(h.state(), "pre.validate-staging"));
    h.remove_cursor();
    h.step();

    proxy.clear();
    step_until(&mut h, 60, "the bucket to be found again", |app| {
        toasts_with(
            app,
            "s3://team/readonly answers again: changes are shared again",
        ) == 1
    });
    assert!(h.query_by_label("SHARED").is_some());
    assert!(h.query_by_label("READ-ONLY").is_none());
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "Validate staging")
        .click();
    h.step();
    step_until(&mut h, 30, "the tick", |app| {
        item_is_done(app, "pre.validate-staging")
    });
}

/// Opening a bucket with a wrong secret: the load screen says the bucket's refusal and how
/// the console reaches a bucket, with what this process has set (secrets only as set).
#[test]
fn a_wrong_secret_is_said_on_the_load_screen_with_how_the_bucket_is_reached() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/creds";
    common::ok(&ana.run(ws, &["init", ws]));
    set_window_env(
        &weed.endpoint,
        "not-the-secret",
        &dir.path().join("cache-window"),
    );
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 60, "the load to fail", |app| {
        app.load_error.is_some() && !app.is_busy()
    });
    assert!(
        h.query_by_label_contains(
            "Cannot open the workspace: s3://team/creds: read the configuration: HTTP 403"
        )
        .is_some()
    );
    assert!(
        h.query_by_label_contains("The bucket is reached with AWS_ACCESS_KEY_ID")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("AWS_SECRET_ACCESS_KEY set, AWS_PROFILE not set")
            .is_some()
    );
    assert!(
        h.query_by_label_contains(&format!("AWS_ENDPOINT_URL_S3={}.", weed.endpoint))
            .is_some()
    );
    assert!(
        h.query_by_label_contains("not-the-secret").is_none(),
        "a secret's value is never shown"
    );
}

/// Settings says where a shared workspace is (the bucket, this console's copy, this machine),
/// and the Audit panel's entry names the machine another person changed it from.
#[test]
fn settings_and_the_audit_entry_name_the_bucket_the_copy_and_the_machine() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/where";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.6.0"]));
    common::ok(&ben.run(
        ws,
        &["checklist", "tick", "pre.review-flags", "--note", "ok"],
    ));
    let window_cache = dir.path().join("cache-window");
    set_window_env(&weed.endpoint, WEED_SECRET_KEY, &window_cache);
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    // The Overview's Team comes before the long list of gates, seen without scrolling.
    let team = h.get_by_label("Team").rect();
    let gates = h.get_by_label("Gates before publishing").rect();
    assert!(team.top() < gates.top(), "{team:?} {gates:?}");
    assert!(team.bottom() < 800.0, "{team:?}");
    assert!(
        h.query_by_label_contains("ben (ben-laptop): ticked \"Review feature flags\" (0.6.0) · ")
            .is_some()
    );

    go_to(&mut h, "Settings");
    assert!(
        h.query_by_label_contains("Open: s3://team/where, the team's workspace in an S3 bucket")
            .is_some()
    );
    let copy = window_cache.join("team").join("where");
    assert!(
        h.query_by_label_contains(&format!(
            "This console's copy (the log it verified, the state, builds and task logs): {}",
            copy.display()
        ))
        .is_some()
    );
    assert!(h.query_by_label("Acting as: ana on ana-desktop").is_some());

    go_to(&mut h, "Audit");
    step_until(&mut h, 30, "the entries", |app| !app.is_busy());
    assert!(
        h.query_by_label_contains("this console's verified copy of the log in s3://team/where")
            .is_some()
    );
    // Entry 3 is ben's tick (init, release, tick).
    h.get_by_label("3").click();
    h.step();
    step_until(&mut h, 30, "the selected entry", |app| {
        app.panels.audit.selected().is_some()
    });
    assert!(
        h.query_by_label_contains("by ben on ben-laptop at ")
            .is_some()
    );
    assert!(h.query_by_label_contains("by ana on").is_none());
}

/// A flag change another console recorded is taken as it says: this console never marks it
/// "not applied" for want of the other machine's provider state, and both logs verify.
#[test]
fn another_consoles_flag_change_is_not_voided_by_this_one() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/flags";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(
        ws,
        &[
            "flags",
            "create",
            "ui_shared",
            "--name",
            "Shared",
            "--tag",
            "type:release",
        ],
    ));
    common::ok(&ana.run(
        ws,
        &["flags", "advance", "ui_shared", "--override", "a test"],
    ));
    // Ben's console rolls ana's changes forward into its own flag plans.
    common::ok(&ben.run(ws, &["audit", "verify"]));
    common::ok(&ana.run(ws, &["audit", "verify"]));
    let log = entries(&ana, ws);
    assert!(
        log.iter()
            .all(|e| !e["action"].as_str().unwrap_or("").ends_with(".not_applied")),
        "{log:#?}"
    );
    let plans: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ben.folder("flags").join("flags/plans.json"))
            .expect("ben's plans"),
    )
    .expect("json");
    assert_eq!(
        plans["ui_shared"]["history"].as_array().map(Vec::len),
        Some(1),
        "ben's plan has ana's advance: {plans:#}"
    );
}

/// A console that stays open (the window): its own earlier change of an item is never taken
/// for someone else's, and after losing a race a sync brings the winner's change into its
/// state, so the retry says what is there instead of losing the race again.
#[test]
fn an_open_console_judges_its_own_changes_and_a_lost_race_by_the_state_as_it_is() {
    use release_console::workspace::WorkspaceError;
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/stayopen";
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(ws))
        .expect("url")
        .expect("valid");
    let ana = release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        access(&weed, &dir.path().join("ana")),
    )
    .expect("init");
    ana.create_release("0.2.0", None).expect("release");
    let ben = open_as(&weed, dir.path(), "ben", ws);
    let release = ana.release(Some("0.2.0")).expect("release");
    let note = "a note";
    // Ana's own changes of one item, with ben's change of another in between.
    ana.set_item(&release, "pre.review-flags", true, note)
        .expect("tick");
    ben.set_item(&release, "pre.validate-staging", true, note)
        .expect("ben's tick");
    ana.set_item(&release, "pre.review-flags", false, note)
        .expect("untick");
    ana.set_item(&release, "pre.review-flags", true, note)
        .expect("ana's own earlier change is not someone else's");

    // Ben's console reads the log as far as ana's untick (its own change of another item
    // adopts it), then ana ticks again: ben, who has not seen that, ticks the same item.
    ana.set_item(&release, "pre.review-flags", false, note)
        .expect("untick");
    ben.set_item(&release, "pre.release-notes", true, note)
        .expect("ben's other tick");
    ana.set_item(&release, "pre.review-flags", true, note)
        .expect("tick again");
    // Refused, naming ana.
    let e = ben
        .set_item(&release, "pre.review-flags", true, note)
        .expect_err("raced");
    assert!(matches!(e, WorkspaceError::Raced { .. }), "{e}");
    assert!(e.to_string().contains(&ana.actor()), "{e}");
    // A sync brings ana's change into ben's state (it names it), and the retry sees it.
    let synced = ben.sync(&[]).expect("sync");
    assert!(
        synced
            .iter()
            .any(|e| e.target == "0.2.0/pre.review-flags" && e.action == "checklist.tick"),
        "{synced:?}"
    );
    let again = ben
        .set_item(&release, "pre.review-flags", true, note)
        .expect_err("already ticked");
    assert!(matches!(again, WorkspaceError::Unchanged { .. }), "{again}");
}

/// `release gates VERSION`'s findings gate as `console` sees it: its state and reason.
fn findings_gate(console: &Console, ws: &str, version: &str) -> (String, String) {
    let o = console.run(ws, &["--json", "release", "gates", version]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {}", common::text(&o)));
    let g = v
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["gate"] == "findings")
        .unwrap_or_else(|| panic!("no findings gate in {out}"));
    (
        g["state"].as_str().unwrap_or_default().to_owned(),
        g["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The findings as `console` lists them: id, package and whether each blocks.
fn findings_of(console: &Console, ws: &str) -> Vec<(String, String, bool)> {
    let o = console.run(ws, &["--json", "findings", "list"]);
    assert!(o.status.success(), "{}", common::text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    v.as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or_default().to_owned(),
                f["package"].as_str().unwrap_or_default().to_owned(),
                !f["blocks"].is_null(),
            )
        })
        .collect()
}

/// Findings, accepted risks and rotations are projections of the shared log: a second console
/// sees the first one's import, acceptance and rotation (its gates block, then open, on the
/// same findings), the first sees the second's revocation, and both copies of the files are the
/// same bytes and verify, nothing marked not applied.
#[test]
fn findings_accepted_risks_and_rotations_recorded_on_one_console_hold_on_the_other() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init(&local);
    let cfg = local.join("release-console.toml");
    let mut config = std::fs::read_to_string(&cfg).expect("config");
    config.push_str(
        "\n[[rotation]]\nname = \"/wiretuner/db/credentials\"\nkind = \"database_password\"\n",
    );
    std::fs::write(&cfg, config).expect("config");
    common::ok(&common::cli(&local, &["release", "new", "1.4.0"]));
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/risk";
    let mut push = common::bin();
    push.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut push);
    common::ok(&push.output().expect("push"));

    // Ana imports a scan; ben's console, which never read it, blocks on the same findings.
    let scan = common::vendor("trivy/alpine-39-high-critical.json");
    common::ok(&ana.run(ws, &["findings", "import", "--version", "1.4.0", &scan]));
    let seen_by_ana = findings_of(&ana, ws);
    assert_eq!(seen_by_ana.len(), 2, "{seen_by_ana:?}");
    assert_eq!(findings_of(&ben, ws), seen_by_ana);
    let (state, reason) = findings_gate(&ben, ws, "1.4.0");
    assert_eq!(state, "blocked", "{reason}");
    assert!(reason.contains("CVE-2019-14697"), "{reason}");

    // Ana accepts the risk (every package): ben's gate opens on it.
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30))
        .strftime("%Y-%m-%d")
        .to_string();
    common::ok(&ana.run(
        ws,
        &[
            "findings",
            "accept",
            "CVE-2019-14697",
            "--version",
            "1.4.0",
            "--reason",
            "musl is not linked into the installer",
            "--until",
            &until,
        ],
    ));
    let (state, reason) = findings_gate(&ben, ws, "1.4.0");
    assert_eq!(state, "open", "{reason}");
    assert!(reason.contains("2 risk-accepted"), "{reason}");

    // Ana records a rotation: ben's calendar has it, by ana.
    common::ok(&ana.run(
        ws,
        &[
            "secrets",
            "rotated",
            "/wiretuner/db/credentials",
            "--note",
            "rotated by ana",
        ],
    ));
    let o = ben.run(ws, &["--json", "secrets", "calendar"]);
    let cal: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", common::text(&o)));
    let db = cal
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "/wiretuner/db/credentials")
        .unwrap_or_else(|| panic!("no db credentials in {cal:#}"));
    assert_eq!(db["last_rotated"]["note"], "rotated by ana", "{db:#}");
    assert_eq!(db["last_rotated"]["by"], "ana");
    assert_ne!(
        db["state"], "unknown",
        "its age is known on ben's console too"
    );

    // Ben revokes the acceptance: ana's gate blocks again.
    common::ok(&ben.run(
        ws,
        &["findings", "revoke", "CVE-2019-14697", "--version", "1.4.0"],
    ));
    assert_eq!(findings_gate(&ana, ws, "1.4.0").0, "blocked");

    // Both verify (each copy of the files against the one log), nothing was voided, and the
    // copies are the same bytes.
    common::ok(&ana.run(ws, &["audit", "verify"]));
    common::ok(&ben.run(ws, &["audit", "verify"]));
    let log = entries(&ana, ws);
    assert!(
        log.iter()
            .all(|e| !e["action"].as_str().unwrap_or("").ends_with(".not_applied")),
        "{log:#?}"
    );
    for file in ["releases/1.4.0/findings.json", "secrets/rotations.json"] {
        assert_eq!(
            std::fs::read(ana.folder("risk").join(file)).expect("ana's"),
            std::fs::read(ben.folder("risk").join(file)).expect("ben's"),
            "{file}"
        );
    }
}

/// Two consoles on one shared workspace with Slack configured: an event is announced once, by
/// the console that recorded it. The other one adopts the entry (and the writer's
/// `notify.sent`) but does not send it again from its own outbox.
#[test]
fn an_event_is_announced_once_by_the_console_that_recorded_it() {
    let weed = Weed::start();
    weed.bucket("team");
    let slack = common::notify::Slack::start();
    let hook = slack.url("ok");
    let env = [("HOOK", hook.as_str())];
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init(&local);
    let cfg = local.join("release-console.toml");
    let mut config = std::fs::read_to_string(&cfg).expect("config");
    config.push_str(
        "\n[[notify.slack]]\nchannel = \"#releases\"\nwebhook_env = \"HOOK\"\n\
         events = [\"release.*\"]\n",
    );
    std::fs::write(&cfg, config).expect("config");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/announce";
    let mut push = common::bin();
    push.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut push);
    common::ok(&push.output().expect("push"));
    // Both consoles have an outbox (each starts its own at the log's end when it first opens).
    common::ok(&ana.run_with(ws, &env, &["release", "list"]));
    common::ok(&ben.run_with(ws, &env, &["release", "list"]));

    common::ok(&ana.run_with(ws, &env, &["release", "new", "2.0.0"]));
    assert_eq!(slack.seen().len(), 1, "ana announced her release");
    // Ben's next command adopts ana's entries, her release's among them.
    common::ok(&ben.run_with(ws, &env, &["release", "list"]));
    common::ok(&ben.run_with(ws, &env, &["notify", "flush"]));
    let seen = slack.seen();
    assert_eq!(
        seen.len(),
        1,
        "announced once, not again by ben's console: {seen:#?}"
    );
    assert_eq!(seen[0].body["text"], "WireTuner 2.0.0 created");
    let log = entries(&ben, ws);
    let sent: Vec<&serde_json::Value> = log
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("notify."))
        })
        .collect();
    // The delivery's changes (queued, sending, sent), all ana's: one delivery, sent once.
    assert!(
        sent.iter().all(|e| e["actor"] == "ana"),
        "only ana's console changed it: {sent:#?}"
    );
    let ends: Vec<&&serde_json::Value> = sent
        .iter()
        .filter(|e| e["action"] == "notify.sent")
        .collect();
    assert_eq!(ends.len(), 1, "one delivery in the log: {sent:#?}");

    // Ben's own release is announced by ben.
    common::ok(&ben.run_with(ws, &env, &["release", "new", "2.1.0"]));
    let seen = slack.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[1].body["text"], "WireTuner 2.1.0 created");

    // Another console writing as ana on this very machine (as a bucket writer could: an
    // entry's actor and host are what its writer says) is not taken for ana's: hers announces
    // only what it appended itself, which its secret's tag on the nonce tells.
    let elsewhere = tempfile::tempdir().expect("dir");
    let other = Console::new(&weed, elsewhere.path(), "ana");
    common::ok(&other.run_with(ws, &env, &["release", "new", "2.2.0"]));
    assert_eq!(
        slack.seen().len(),
        3,
        "announced by the console that recorded it"
    );
    common::ok(&ana.run_with(ws, &env, &["release", "list"]));
    common::ok(&ana.run_with(ws, &env, &["notify", "flush"]));
    let seen = slack.seen();
    assert_eq!(seen.len(), 3, "not again by ana's own console: {seen:#?}");
}

/// The outbox is a projection of the shared log: a second console sees the first one's
/// deliveries (sent, uncertain, in flight) and by which console, in its own cache, but never
/// sends, retries or changes them; one left mid-send by a console that was killed shows as
/// being sent by it until that console, opened again, looks for it (uncertain: a webhook is
/// not sent twice by itself). Both caches agree with the log.
#[test]
fn a_second_console_sees_the_first_ones_deliveries_but_never_sends_them() {
    let weed = Weed::start();
    weed.bucket("team");
    let slack = common::notify::Slack::start();
    let (ok_hook, hang_hook) = (slack.url("ok"), slack.url("hang"));
    let ok_env = [("HOOK", ok_hook.as_str())];
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init(&local);
    let cfg = local.join("release-console.toml");
    let mut config = std::fs::read_to_string(&cfg).expect("config");
    config.push_str(
        "\n[[notify.slack]]\nchannel = \"#releases\"\nwebhook_env = \"HOOK\"\n\
         events = [\"release.*\"]\n",
    );
    std::fs::write(&cfg, config).expect("config");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/outbox";
    let mut push = common::bin();
    push.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut push);
    common::ok(&push.output().expect("push"));
    common::ok(&ana.run_with(ws, &ok_env, &["release", "list"]));
    common::ok(&ben.run_with(ws, &ok_env, &["release", "list"]));
    let outbox = |c: &Console| -> Vec<serde_json::Value> {
        let o = c.run_with(ws, &ok_env, &["--json", "notify", "list", "--all"]);
        assert!(o.status.success(), "{}", common::text(&o));
        serde_json::from_slice(&o.stdout).expect("outbox")
    };

    common::ok(&ana.run_with(ws, &ok_env, &["release", "new", "2.0.0"]));
    assert_eq!(slack.seen().len(), 1, "ana announced her release");
    let theirs = outbox(&ben);
    assert_eq!(theirs.len(), 1, "ben sees ana's delivery: {theirs:#?}");
    let id = theirs[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(theirs[0]["state"], "sent");
    assert_eq!(theirs[0]["console"], "ana@ana-laptop");
    assert_eq!(theirs[0]["elsewhere"], true);
    let hers = outbox(&ana);
    assert_eq!(hers[0]["state"], "sent");
    assert_eq!(hers[0].get("elsewhere"), None, "hers, in her cache");
    let o = ben.run_with(ws, &ok_env, &["notify", "list"]);
    assert!(
        common::text(&o).contains("queued by ana@ana-laptop: that console sends and retries it"),
        "{}",
        common::text(&o)
    );
    // Ben may not send it again: it is ana's.
    let o = ben.run_with(ws, &ok_env, &["notify", "resend", &id]);
    assert!(!o.status.success());
    assert!(
        common::text(&o).contains(&format!(
            "delivery {id} was queued by ana@ana-laptop: only that console sends it again"
        )),
        "{}",
        common::text(&o)
    );
    assert_eq!(slack.seen().len(), 1);

    // Ana's console is killed while it sends her next release's message.
    let mut run = common::bin();
    run.arg("--workspace")
        .arg(ws)
        .args(["release", "new", "2.1.0"]);
    ana.env(&mut run);
    let mut child = run
        .env("HOOK", &hang_hook)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while slack.seen().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "nothing was sent");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    // Ben sees it in flight, by ana, and neither his flush nor his retry sends it.
    let theirs = outbox(&ben);
    let flying = theirs
        .iter()
        .find(|d| d["event"]["subject"] == "2.1.0")
        .unwrap_or_else(|| panic!("ben sees ana's second delivery: {theirs:#?}"));
    assert_eq!(flying["state"], "sending", "{flying:#?}");
    assert_eq!(flying["console"], "ana@ana-laptop");
    let flying_id = flying["id"].as_str().expect("id").to_owned();
    common::ok(&ben.run_with(ws, &ok_env, &["notify", "flush"]));
    assert!(
        !ben.run_with(ws, &ok_env, &["notify", "retry", &flying_id])
            .status
            .success()
    );
    assert_eq!(slack.seen().len(), 2, "ben sent nothing of ana's");

    // Ana's console, opened again, looks for it: uncertain, not sent again by itself; ben sees
    // that too.
    common::ok(&ana.run_with(ws, &ok_env, &["notify", "flush"]));
    assert_eq!(slack.seen().len(), 2, "not sent twice by itself");
    let theirs = outbox(&ben);
    let d = theirs
        .iter()
        .find(|d| d["id"] == flying_id.as_str())
        .expect("the delivery");
    assert_eq!(d["state"], "uncertain", "{d:#?}");
    // Ana sends it again; ben sees it sent.
    common::ok(&ana.run_with(ws, &ok_env, &["notify", "resend", &flying_id]));
    assert_eq!(slack.seen().len(), 3);
    assert_eq!(slack.seen()[2].path, "ok");
    let theirs = outbox(&ben);
    let d = theirs
        .iter()
        .find(|d| d["id"] == flying_id.as_str())
        .expect("the delivery");
    assert_eq!(d["state"], "sent", "{d:#?}");
    assert_eq!(d["attempts"], 1, "a retry starts over");

    // Both caches agree with the log.
    for c in [&ana, &ben] {
        let o = c.run_with(ws, &ok_env, &["audit", "verify"]);
        assert!(o.status.success(), "{}: {}", c.user, common::text(&o));
    }
}

/// The window's reload of a shared workspace reads the open workspace again (its connection,
/// configuration and key) instead of opening it: no request to the bucket beyond the poll's.
/// Prints the reload's time both ways (a measurement, not a timed assertion).
#[test]
#[expect(
    unsafe_code,
    reason = "the window opens a shared workspace as the environment says; nextest runs this \
              test in a process of its own and the variables are set before it opens one"
)]
fn a_reload_of_a_shared_workspace_asks_the_bucket_nothing() {
    use release_console::ui::snapshot::{AuditCache, Snapshot};
    use release_console::workspace::Origin;

    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/reload";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.3.0"]));
    let proxy = FaultProxy::start(&weed.endpoint);
    // SAFETY: see the reason above.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_S3", proxy.url());
        std::env::set_var("AWS_ACCESS_KEY_ID", WEED_ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", WEED_SECRET_KEY);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var(
            "RELEASE_CONSOLE_SHARED_CACHE",
            dir.path().join("cache-window"),
        );
        std::env::set_var("USER", "ana");
    }
    let root = PathBuf::from(ws);
    let cache = AuditCache::default();
    let load = |reuse| {
        let started = std::time::Instant::now();
        let s = Snapshot::load(&root, Origin::Flag, None, &cache, reuse).expect("load");
        (s, started.elapsed())
    };
    let asked = || proxy.seen_under("/team/").len();
    let (first, open) = load(None);
    assert!(first.reusable(&root).is_some());
    // A reload that opens the workspace again (as every reload did before).
    let before = asked();
    let (_, reopened) = load(None);
    let reopen_requests = asked() - before;
    assert!(reopen_requests > 0, "opening reads the bucket");
    // A reload that reads the open one again: nothing asked.
    let before = asked();
    let (again, reused) = load(first.reusable(&root));
    assert_eq!(
        asked(),
        before,
        "{:#?}",
        &proxy.seen_under("/team/")[before..]
    );
    assert_eq!(again.releases.len(), 1);
    println!(
        "shared workspace snapshot: first open {open:?}; reload opening it again {reopened:?} \
         ({reopen_requests} requests); reload reusing it {reused:?} (0 requests)"
    );
    // Ben's change reaches the cache through the poll; the reload that reuses the workspace
    // shows it, and only the poll asked the bucket.
    common::ok(&ben.run(ws, &["release", "new", "0.4.0"]));
    let adopted = again
        .ws
        .sync(release_console::projections::ALL)
        .expect("poll");
    assert_eq!(adopted.len(), 1);
    let polled = asked();
    let (after, _) = load(again.reusable(&root));
    assert_eq!(asked(), polled, "the reload asked nothing");
    assert_eq!(after.releases.len(), 2);
    assert_eq!(after.selected_version().as_deref(), Some("0.4.0"));
}

/// The publish store's unfinished uploads are a projection of the shared log: an upload one
/// console's publish store left unfinished (a part refused) is in the other console's cache
/// too, with the entry that began it, and both caches verify; once completed it is gone from
/// both.
#[test]
fn an_upload_left_unfinished_by_one_console_is_seen_by_another() {
    use release_console::deploy::s3::{S3Config, S3Store};
    use release_console::deploy::store::{Meta, ObjectStore as _, Put};
    let weed = Weed::start();
    weed.bucket("team");
    weed.bucket("pub");
    let dir = tempfile::tempdir().expect("dir");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/uploads";
    common::ok(&ben.run(ws, &["init", ws]));
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let proxy = FaultProxy::start(&weed.endpoint);
    proxy.times(
        10,
        "PUT",
        "partNumber=2",
        Fault::answer(400, "InvalidRequest", "refused by the test"),
    );
    let store = |endpoint: &str| {
        S3Store::new(S3Config {
            endpoint: endpoint.to_owned(),
            bucket: "pub".into(),
            region: "us-east-1".into(),
            path_style: true,
            credentials: release_console::net::sigv4::Credentials::new(
                WEED_ACCESS_KEY.into(),
                WEED_SECRET_KEY.into(),
                None,
            ),
            part_size: 5 << 20,
            multipart_threshold: 5 << 20,
            parallel_parts: 1,
            uploads_state: ana.root().join("publish/uploads.json"),
            workspace: Some(ana.clone()),
            key_vars: ("AWS_ACCESS_KEY_ID".into(), "AWS_SECRET_ACCESS_KEY".into()),
        })
        .expect("store")
    };
    let big = dir.path().join("big.zip");
    let data: Vec<u8> = (0..(11u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &data).expect("write");
    let sha = release_console::digest::Sha256::of(&data);
    let meta = Meta {
        content_type: "application/zip".into(),
        cache_control: release_console::deploy::IMMUTABLE.into(),
    };
    let key = "W/1.0.0/W-1.0.0-symbols.zip";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(store(&proxy.url()).put_file(key, Put::of(&big, &sha, &meta, &|_| {})))
        .expect_err("a part was refused");

    let id = format!("pub/{key}");
    let starts: Vec<serde_json::Value> = entries(&ben, ws)
        .into_iter()
        .filter(|e| e["action"] == "publish.upload.start" && e["target"] == id.as_str())
        .collect();
    assert_eq!(starts.len(), 1, "{starts:#?}");
    assert_eq!(starts[0]["actor"], ana.actor());
    let read = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).expect("uploads.json")).expect("json")
    };
    let bens = read(&ben.folder("uploads").join("publish/uploads.json"));
    assert_eq!(bens[&id]["audit_seq"], starts[0]["seq"], "{bens}");
    assert_eq!(
        bens[&id]["upload_id"],
        starts[0]["after"]["upload"]["upload_id"]
    );
    assert_eq!(bens[&id]["size"], 11u64 << 20);
    common::ok(&ben.run(ws, &["audit", "verify"]));
    ana.verify_audit_with(release_console::projections::ALL)
        .expect("ana's cache agrees");

    // Sent again without the fault, it resumes and completes: gone from both caches.
    rt.block_on(store(&weed.endpoint).put_file(key, Put::of(&big, &sha, &meta, &|_| {})))
        .expect("completed");
    common::ok(&ben.run(ws, &["audit", "verify"]));
    let bens = read(&ben.folder("uploads").join("publish/uploads.json"));
    assert_eq!(bens, serde_json::json!({}), "{bens}");
    let ends: Vec<serde_json::Value> = entries(&ben, ws)
        .into_iter()
        .filter(|e| e["action"] == "publish.upload.end" && e["target"] == id.as_str())
        .collect();
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert_eq!(ends[0]["after"]["why"], "completed");
}

/// The demo workspace pushed to a bucket: the push names each configured file that stays
/// behind (the bucket carries the configuration and the log only), and on another console the
/// certificate gate says in words which setting names the missing file, in which
/// configuration, and where this console looks for it (not a bare "os error 2").
#[test]
fn a_pushed_demo_names_the_files_it_leaves_behind_and_the_gate_says_what_is_missing() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let home = dir.path().join("home");
    let o = common::bin()
        .args(["release", "list"])
        .current_dir(dir.path())
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("demo");
    assert!(o.status.success(), "{}", common::text(&o));
    let demo = home.join("data/release-console/demo-workspace");
    assert!(demo.join("demo-signing/demo-code-signing.pem").is_file());

    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/demo";
    let mut c = common::bin();
    c.args(["workspace", "push"]).arg(&demo).arg(ws);
    ana.env(&mut c);
    let out = common::ok(&c.output().expect("push"));
    assert!(
        out.contains(
            "warning: [signing] windows_certificate = \"demo-signing/demo-code-signing.pem\" is \
             in"
        ) && out.contains("but not in the bucket"),
        "{out}"
    );
    assert!(out.contains("warning: [dr] stand_ins = "), "{out}");
    // What every copy is given is not warned of.
    assert!(!out.contains("[pipeline] definition"), "{out}");

    let ben = Console::new(&weed, dir.path(), "ben");
    let o = ben.run(ws, &["--json", "release", "gates", "0.1.0"]);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", common::text(&o)));
    let gate = v["gates"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(v.as_array().into_iter().flatten())
        .find(|g| g["gate"] == "certificate:windows")
        .unwrap_or_else(|| panic!("no certificate gate in {v}"))
        .clone();
    assert_eq!(gate["state"], "blocked", "{gate}");
    let reason = gate["reason"].as_str().expect("reason");
    assert!(
        reason.contains(
            "no such file: [signing] windows_certificate = \"demo-signing/demo-code-signing.pem\" \
             in s3://team/demo/release-console.toml names it"
        ) && reason.contains(&ben.folder("demo").display().to_string())
            && !reason.contains("os error"),
        "{reason}"
    );
}

/// Records `event` in `ws` as `user` on `user`-laptop, from this process, before any window
/// opens (an entry of another person's console, as their machine writes it).
#[expect(
    unsafe_code,
    reason = "the person and the machine an entry names come from the environment; nextest runs \
              each test in a process of its own, and this runs before any other thread starts"
)]
fn record_as_person(
    weed: &Weed,
    dir: &Path,
    ws: &str,
    user: &str,
    event: release_console::audit::Event,
) {
    // SAFETY: see the reason above.
    unsafe {
        std::env::set_var("USER", user);
        std::env::set_var("HOSTNAME", format!("{user}-laptop"));
        std::env::set_var("RELEASE_CONSOLE_KEYS_DIR", dir.join(format!("{user}.keys")));
        std::env::remove_var("RELEASE_CONSOLE_ACTOR");
    }
    open_as(weed, dir, &format!("{user}-process"), ws)
        .record(event)
        .expect("recorded");
}

/// The Overview's Team says what people did in words, never the log's plumbing; a build whose
/// lease ran out is not "running" beside "Nobody is building"; and taking over that lease is
/// said to the person who did it, and then in the Team list.
#[test]
fn the_team_list_says_in_words_what_stopped_and_who_took_over() {
    use release_console::audit::Event;
    use release_console::audit::event::{TaskStart, TaskStarted};
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/words";
    common::ok(&ana.run(ws, &["init", ws]));
    let out = common::ok(&ana.run(ws, &["release", "new", "0.7.0"]));
    // The bucket's keys come from the environment: the keyring is not asked for a session
    // token (a machine without one warned at every command).
    assert!(!out.contains("AWS_SESSION_TOKEN"), "{out}");
    // Ben's console started building linux, then stopped (a crash): its lease ran out two
    // minutes ago and was never given back.
    record_as_person(
        &weed,
        dir.path(),
        ws,
        "ben",
        Event::TaskStart(TaskStart {
            target: "build-linux".into(),
            before: (),
            after: TaskStarted {
                kind: "pipeline.linux".into(),
                release: Some("0.7.0".into()),
            },
        }),
    );
    let now = jiff::Timestamp::now();
    let ago = |mins: i64| {
        now.checked_sub(jiff::SignedDuration::from_mins(mins))
            .expect("time")
    };
    let until = ago(2);
    let dead = serde_json::json!({
        "what": "build 0.7.0 linux", "holder": "ben", "host": "ben-laptop",
        "since": ago(12), "until": until, "nonce": "00"
    });
    let (status, _) = weed.request(
        "PUT",
        "/team/words/leases/build-0.7.0-linux.json",
        &[],
        dead.to_string().as_bytes(),
    );
    assert_eq!(status, 200);
    let hm = until
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%H:%M")
        .to_string();

    set_window_env(
        &weed.endpoint,
        WEED_SECRET_KEY,
        &dir.path().join("cache-window"),
    );
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    h.step();
    assert!(
        h.query_by_label_contains("Nobody is building, publishing or rolling out")
            .is_some()
    );
    let stopped = format!(
        "ben (ben-laptop): started building 0.7.0 linux; not running any more: its lease ran \
         out at {hm} without being renewed · "
    );
    assert!(
        h.query_by_label_contains(&stopped).is_some(),
        "{stopped}: {:?}",
        h.state().data.as_ref().map(|d| &d.team)
    );
    assert!(h.query_by_label("STOPPED").is_some());
    assert!(h.query_by_label_contains("task start").is_none());

    // Ana's console takes the build's lease over: she is told, in words.
    let mine = open_as(&weed, dir.path(), "ana-build", ws)
        .lease("build 0.7.0 linux")
        .expect("an expired lease is taken over");
    assert_eq!(
        mine.took_over(),
        Some(
            format!("took over ben@ben-laptop's lease on build 0.7.0 linux (expired {hm})")
                .as_str()
        )
    );
    step_until(&mut h, 10, "the take-over's toast", |app| {
        toasts_with(
            app,
            &format!("Took over ben@ben-laptop's lease on build 0.7.0 linux (expired {hm})"),
        ) == 1
    });
    // Then the Team list: Ana's build in progress, Ben's stopped by her take-over.
    step_until(
        &mut h,
        40,
        "the Team list to read the leases again",
        |app| {
            app.data
                .as_ref()
                .and_then(|d| d.team.as_ref())
                .and_then(|t| t.as_ref().ok())
                .is_some_and(|t| t.leases.iter().any(|l| l.holder == "ana"))
        },
    );
    assert!(
        h.query_by_label_contains("build 0.7.0 linux by ana@ana-desktop since")
            .is_some()
    );
    assert!(h.query_by_label_contains("ben (ben-laptop): started building 0.7.0 linux; not running any more: ana took over its lease at ").is_some());
    assert!(h.query_by_label("STOPPED").is_none());
    drop(mine);
}

/// A build refused because another console held its lease: once that lease has run out, the
/// Builds card no longer says "in progress by ben" but what holds now.
#[test]
fn the_build_card_drops_the_old_holder_once_the_lease_ran_out() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/card";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.8.0"]));
    // This machine's copy, with a builder for linux.
    let window_cache = dir.path().join("cache-window");
    let here = Console {
        user: "ana",
        cache: window_cache.clone(),
        endpoint: weed.endpoint.clone(),
    };
    common::ok(&here.run(ws, &["checklist", "show"]));
    let folder = here.folder("card");
    std::fs::write(
        folder.join("packaging/pipelines/default.toml"),
        "[platforms.linux]\ntitle = \"Linux tarball\"\nhost_os = \"linux\"\n\
         builder = [\"bash\", \"-c\", \"exit 0\"]\nchecklist_kind = \"pipeline.linux\"\n",
    )
    .expect("definition");
    // Ben's console holds the build's lease for a few seconds more, then stops renewing it.
    let now = jiff::Timestamp::now();
    let until = now
        .checked_add(jiff::SignedDuration::from_secs(6))
        .expect("time");
    let held = serde_json::json!({
        "what": "build 0.8.0 linux", "holder": "ben", "host": "ben-laptop",
        "since": now, "until": until, "nonce": "00"
    });
    let (status, _) = weed.request(
        "PUT",
        "/team/card/leases/build-0.8.0-linux.json",
        &[],
        held.to_string().as_bytes(),
    );
    assert_eq!(status, 200);

    set_window_env(&weed.endpoint, WEED_SECRET_KEY, &window_cache);
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    go_to(&mut h, "Builds");
    // Run is refused before anything starts (or already off, once the leases were read): the
    // card says who builds, and nothing is recorded here.
    h.get_by_label("Run").click();
    h.step();
    h.remove_cursor();
    // On the card, in the panel between the header and the task tray.
    let tray = h.get_by_label("Tasks").rect().top();
    let said = |h: &Window| {
        h.query_all_by_label_contains("busy: ben is building since")
            .filter(|n| n.rect().top() > 30.0 && n.rect().bottom() < tray)
            .count()
    };
    for _ in 0..300 {
        if said(&h) == 1 {
            break;
        }
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(said(&h), 1, "the card says who builds");
    assert!(h.query_by_label("BUSY").is_some());
    assert!(
        h.state().panels.builds.tasks.is_empty(),
        "no task was started"
    );
    // The lease runs out; the Overview reads the leases again.
    std::thread::sleep(std::time::Duration::from_secs(7));
    go_to(&mut h, "Overview");
    step_until(&mut h, 40, "the run-out lease to be read", |app| {
        app.data
            .as_ref()
            .and_then(|d| d.team.as_ref())
            .and_then(|t| t.as_ref().ok())
            .is_some_and(|t| t.expired.iter().any(|l| l.holder == "ben"))
    });
    go_to(&mut h, "Builds");
    assert_eq!(said(&h), 0, "the card keeps the old holder's words");
    assert!(h.query_by_label("BUSY").is_none());
    assert!(
        !h.get_by_label("Run").accesskit_node().is_disabled(),
        "the build may be taken over now"
    );
}

/// A local workspace (in `dir/local`) that published 1.0.0 and 1.1.0 on stable and 1.1.0 on
/// beta, yanked 1.1.0 from stable ("crashes on start"), and made `more` versions publishable,
/// pushed into the bucket at `ws` (a bucket `team`) by ana's console. Returns its folder.
fn published_and_pushed(weed: &Weed, dir: &Path, ws: &str, more: &[&str]) -> PathBuf {
    let pki = common::Pki::new();
    let local = dir.join("local");
    common::init_pinned_windows(&local, &pki);
    for v in ["1.0.0", "1.1.0"] {
        common::make_publishable(&pki, &local, v);
    }
    let steps: [&[&str]; 4] = [
        &["publish", "--version", "1.0.0"],
        &["publish", "--version", "1.1.0"],
        &["publish", "--version", "1.1.0", "--channel", "beta"],
        &[
            "publish",
            "yank",
            "--version",
            "1.1.0",
            "--reason",
            "crashes on start",
        ],
    ];
    for args in steps {
        common::ok(&common::cli(&local, args));
    }
    for v in more {
        common::make_publishable(&pki, &local, v);
    }
    let ana = Console::new(weed, dir, "ana");
    let mut c = common::bin();
    c.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut c);
    common::ok(&c.output().expect("push"));
    local
}

/// `user`'s console begins publishing `(version, live before it, channel)` with `files` and
/// stops there (see [`record_as_person`]).
fn begin_publish_as(
    weed: &Weed,
    dir: &Path,
    ws: &str,
    user: &str,
    (version, live, channel): (&str, &str, &str),
    files: serde_json::Value,
) {
    use release_console::audit::Event;
    use release_console::audit::event::{Live, PublishChange, Published};
    record_as_person(
        weed,
        dir,
        ws,
        user,
        Event::PublishBegin(PublishChange {
            target: version.into(),
            before: Live {
                live: Some(live.into()),
            },
            after: Published {
                channel: channel.into(),
                files,
                uploaded: None,
            },
        }),
    );
}

/// Each publish channel's record is a projection of the shared log: a local workspace that
/// published two versions on stable and one on beta, and yanked one from stable, is pushed
/// into a bucket; a console that never saw it has the same channel records, rebuilt from the
/// log alone (the bucket holds no state file), and says what is live. A publish another
/// person's console begins shows on this one as begun, to be finished; a channel record
/// changed by hand is named by `audit verify`.
#[test]
fn publish_channels_are_rebuilt_from_the_shared_log() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/channels";
    let local = published_and_pushed(&weed, dir.path(), ws, &[]);

    let ben = Console::new(&weed, dir.path(), "ben");
    let status = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json", "publish", "status"];
        all.extend_from_slice(args);
        let o = ben.run(ws, &all);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", common::text(&o)))
    };
    let stable = status(&[]);
    assert_eq!(stable["live"], "1.0.0", "{stable:#}");
    assert_eq!(stable["published"], serde_json::json!(["1.0.0", "1.1.0"]));
    assert_eq!(stable["yanked"][0]["version"], "1.1.0");
    assert_eq!(stable["yanked"][0]["reason"], "crashes on start");
    let beta = status(&["--channel", "beta"]);
    assert_eq!(beta["live"], "1.1.0", "{beta:#}");
    // The same records as where they were made: versions, files and who, entry for entry.
    let read = |root: &Path, channel: &str| -> serde_json::Value {
        let path = root.join("publish").join(format!("{channel}.json"));
        serde_json::from_slice(&std::fs::read(&path).expect("channel record")).expect("json")
    };
    for channel in ["stable", "beta"] {
        let (mine, bens) = (
            read(&local, channel),
            read(&ben.folder("channels"), channel),
        );
        assert_eq!(mine["as_of"], bens["as_of"], "{channel}");
        let files = |v: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value)> {
            v["published"]
                .as_array()
                .expect("published")
                .iter()
                .map(|p| (p["version"].clone(), p["files"].clone()))
                .collect()
        };
        assert_eq!(files(&mine), files(&bens), "{channel}");
        assert_eq!(
            mine["yanked"].as_array().map(Vec::len),
            bens["yanked"].as_array().map(Vec::len)
        );
    }
    common::ok(&ben.run(ws, &["audit", "verify"]));

    // Ana's console begins publishing 1.0.0 on beta and stops there.
    let files = read(&local, "stable")["published"][0]["files"].clone();
    begin_publish_as(
        &weed,
        dir.path(),
        ws,
        "ana",
        ("1.0.0", "1.1.0", "beta"),
        files,
    );
    let beta = status(&["--channel", "beta"]);
    assert_eq!(beta["live"], "1.1.0", "{beta:#}");
    assert!(
        beta["begun"].as_str().is_some_and(|b| b.contains("1.0.0")),
        "{beta:#}"
    );
    let bens = read(&ben.folder("channels"), "beta");
    assert_eq!(bens["begun"]["change"]["kind"], "publish", "{bens:#}");
    assert_eq!(
        bens["begun"]["change"]["published"]["by"], "ana",
        "{bens:#}"
    );
    common::ok(&ben.run(ws, &["audit", "verify"]));

    // Stable's yank taken out of ben's record by hand: the log says otherwise.
    let path = ben.folder("channels").join("publish/stable.json");
    let mut edited = read(&ben.folder("channels"), "stable");
    edited["yanked"] = serde_json::json!([]);
    std::fs::write(&path, edited.to_string()).expect("edit");
    let o = ben.run(ws, &["audit", "verify"]);
    assert!(!o.status.success(), "{}", common::text(&o));
    let t = common::text(&o);
    assert!(
        t.contains("stable.json disagrees with the log")
            && t.contains("recorded 1.1.0 on channel stable, but it is not yanked"),
        "{t}"
    );
}

/// A second console on a shared workspace where another person began publishing the current
/// release on stable (and 1.0.0 on beta) and stopped there: the Overview says UNFINISHED (not
/// LIVE) with who began it; the Deploy panel names the channel it shows, who began its
/// publish and when, and lists the other channels with what is live and begun there.
#[test]
fn a_second_console_says_who_left_a_publish_unfinished_on_each_channel() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/unfinished";
    let local = published_and_pushed(&weed, dir.path(), ws, &["1.2.0"]);
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(local.join("publish/stable.json")).expect("stable.json"),
    )
    .expect("json");
    let files = record["published"][0]["files"].clone();
    for begun in [("1.0.0", "1.1.0", "beta"), ("1.2.0", "1.0.0", "stable")] {
        begin_publish_as(&weed, dir.path(), ws, "ana", begun, files.clone());
    }

    set_window_env(
        &weed.endpoint,
        WEED_SECRET_KEY,
        &dir.path().join("cache-window"),
    );
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    // Begun is not live: the Overview says it was left unfinished, and by whom.
    assert!(
        h.query_by_label_contains("Live on stable since").is_none(),
        "a begun publish is not live"
    );
    h.get_by_label_contains("The publish of 1.2.0 on stable was begun");
    h.get_by_label_contains("by ana and not finished");
    h.get_by_label("UNFINISHED");

    go_to(&mut h, "Deploy");
    step_until(&mut h, 30, "the channels to load", |app| {
        !app.panels.deploy.others.is_empty() && app.panels.deploy.status.is_some()
    });
    h.get_by_label("Live on stable");
    h.get_by_label_contains("the publish of 1.2.0 was begun");
    h.get_by_label_contains("by ana and its feeds not all written: run `publish");
    h.get_by_label("Here, the next Publish or Yank on stable finishes it first.");
    h.get_by_label("Other channels");
    h.get_by_label("beta:");
    h.get_by_label_contains("the publish of 1.0.0 on beta was begun");
    h.get_by_label_contains(
        "by ana and its feeds not all written: the next publish or yank on beta",
    );
    h.get_by_label_contains("yanked 1.1.0");
    assert_eq!(
        h.state()
            .panels
            .deploy
            .others
            .iter()
            .map(|(name, ch)| (name.as_str(), ch.live().first().map(|p| p.version.clone())))
            .collect::<Vec<_>>(),
        [("beta", Some("1.1.0".to_owned()))]
    );
}
