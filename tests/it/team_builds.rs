//! A platform's build on a shared workspace as two people see it, on a real S3 server
//! (`SeaweedFS`'s `weed mini`): while ben builds (he holds the build's lease), ana's Run is
//! refused naming him before anything is started or recorded (not a failure of the build: no
//! entry, no error, the CLI's own exit code), and once his build is recorded ana's Builds
//! panel says who built it, lists its files from the record and fetches them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{self, WEED_SECRET_KEY, Weed};
use crate::team::{Console, entries, go_to, open_window, set_window_env, step_until};
use egui_kittest::kittest::{NodeT as _, Queryable as _};

const ARTIFACT: &str = "WireTuner-0.1.0-linux.tar.gz";

/// A Linux builder in `folder` that says it started (`started`), waits for `go` to exist,
/// then makes one artifact of fixed bytes with the SHA-256 it printed.
fn slow_builder(folder: &Path, started: &Path, go: &Path) {
    std::fs::write(
        folder.join("packaging/pipelines/default.toml"),
        r#"
[platforms.linux]
title = "Linux tarball"
host_os = "linux"
builder = ["bash", "packaging/slow.sh"]
args = ["{out_dir}"]
checklist_kind = "pipeline.linux"
"#,
    )
    .expect("definition");
    std::fs::write(
        folder.join("packaging/slow.sh"),
        format!(
            "set -e\nout=\"$1\"; mkdir -p \"$out\"\necho ::step:: Build\ntouch '{}'\n\
             for i in $(seq 600); do [ -e '{}' ] && break; sleep 0.1; done\n\
             printf 'the bytes ben built' > \"$out/{ARTIFACT}\"\necho ::step:: Checksums\n\
             (cd \"$out\" && sha256sum {ARTIFACT} > {ARTIFACT}.sha256 && cat {ARTIFACT}.sha256)\n\
             echo \"::artifact:: $out/{ARTIFACT}\"\n",
            started.display(),
            go.display()
        ),
    )
    .expect("builder");
}

fn wait_for(path: &Path, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ana and ben on one workspace with release 0.1.0 and the slow builder in both caches.
struct Team {
    weed: Weed,
    dir: tempfile::TempDir,
    ana: Console,
    ben: Console,
    started: PathBuf,
    go: PathBuf,
}

fn team(ws: &str) -> Team {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    common::ok(&ana.run(ws, &["init", ws]));
    let prefix = ws.trim_start_matches("s3://team/");
    // Both build, and a release's files are trusted only from a configured builder (or a
    // person with standing).
    crate::team_blobs::builders(&weed, prefix, &["ana", "ben"]);
    common::ok(&ana.run(ws, &["release", "new", "0.1.0"]));
    common::ok(&ben.run(ws, &["release", "list"]));
    let (started, go) = (dir.path().join("started"), dir.path().join("go"));
    for c in [&ana, &ben] {
        slow_builder(&c.folder(prefix), &started, &go);
    }
    Team {
        weed,
        dir,
        ana,
        ben,
        started,
        go,
    }
}

/// Ben's build, started; returns once it runs (it holds the lease then).
fn ben_builds(t: &Team, ws: &str) -> std::process::Child {
    let child = t
        .ben
        .command(
            ws,
            &[
                "pipeline",
                "run",
                "--version",
                "0.1.0",
                "--platform",
                "linux",
            ],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ben's build");
    wait_for(&t.started, 60);
    child
}

#[test]
fn a_cli_build_refused_by_a_teammates_lease_records_nothing_and_exits_busy() {
    let ws = "s3://team/busy-cli";
    let t = team(ws);
    let ben = ben_builds(&t, ws);
    let before = entries(&t.ben, ws).len();

    let o = t.ana.run(
        ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "linux",
        ],
    );
    let out = common::text(&o);
    assert_eq!(o.status.code(), Some(3), "busy, not a failed build: {out}");
    assert!(
        out.contains("build 0.1.0 linux is in progress by ben@ben-laptop since ")
            && out.contains("nothing was started or recorded"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    // Nothing of ana's attempt is in the log: no task.start, no task.finish, no run state.
    let after = entries(&t.ben, ws);
    assert_eq!(after.len(), before, "{:?}", &after[before..]);
    assert!(
        after.iter().all(|e| e["actor"] != "ana"
            || !["task.start", "task.finish", "pipeline.platform"]
                .contains(&e["action"].as_str().unwrap_or_default())),
        "{after:?}"
    );

    // Ben's build goes on, and ends well.
    std::fs::write(&t.go, b"").expect("go");
    let done = ben.wait_with_output().expect("ben's build ends");
    assert!(done.status.success(), "{}", common::text(&done));
    // Once it ended the lease is given back: ana builds.
    let o = t.ana.run(
        ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "linux",
        ],
    );
    assert!(o.status.success(), "{}", common::text(&o));
    drop(t.weed);
}

#[test]
fn the_builds_panel_says_who_builds_refuses_run_quietly_and_shows_and_fetches_a_teammates_build() {
    let ws = "s3://team/busy-gui";
    let t = team(ws);
    set_window_env(&t.weed.endpoint, WEED_SECRET_KEY, &t.ana.cache);
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    go_to(&mut h, "Builds");
    assert!(h.query_by_label("NOT BUILT").is_some());
    let ana_entries = |t: &Team| {
        entries(&t.ben, ws)
            .iter()
            .filter(|e| e["actor"] == "ana")
            .count()
    };
    let before = ana_entries(&t);

    // Ben starts building after ana's window read the leases: her Run is refused by the
    // lease, quietly.
    let ben = ben_builds(&t, ws);
    h.get_by_label("Run").click();
    // Refused on the lease (or, had the window read the leases again meanwhile, off): either
    // way the card names ben.
    let deadline = Instant::now() + Duration::from_secs(30);
    while h
        .query_by_label_contains("busy: ben is building since ")
        .is_none()
    {
        assert!(Instant::now() < deadline, "the card never named ben");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(h.query_by_label("BUSY").is_some());
    let app = h.state();
    assert!(app.panels.builds.tasks.is_empty(), "no task started");
    assert_eq!(
        app.toasts.errors().count(),
        0,
        "not an error: {:?}",
        app.toasts.items()
    );
    assert_eq!(ana_entries(&t), before, "nothing recorded by ana");
    // Run is off while ben builds, saying why.
    assert!(
        h.get_by_label("Run").accesskit_node().is_disabled(),
        "Run is disabled while ben holds the lease"
    );

    // Ben's build ends and is recorded: ana's card says who built it, where and when, and the
    // bucket's files are listed from the record.
    std::fs::write(&t.go, b"").expect("go");
    let done = ben.wait_with_output().expect("ben's build ends");
    assert!(done.status.success(), "{}", common::text(&done));
    step_until(&mut h, 60, "ben's build in ana's window", |app| {
        app.data
            .as_ref()
            .is_some_and(|d| d.bucket_artifacts.is_some() && d.build_authors.contains_key("linux"))
    });
    h.step();
    assert!(
        h.query_by_label_contains("built by ben at ")
            .and_then(|n| n.accesskit_node().value())
            .is_some_and(|l| l.contains(" on ben-laptop, 1 file in the bucket")),
        "the card says who built it"
    );
    assert!(h.query_by_label("BUSY").is_none());
    assert!(
        h.query_all_by_label(ARTIFACT).next().is_some(),
        "the artifact is listed"
    );
    let sha = release_console::sha256_hex(b"the bytes ben built");
    assert!(
        h.query_all_by_label(&format!("{}…", &sha[..16]))
            .next()
            .is_some(),
        "its SHA-256 from the record"
    );
    assert!(h.query_all_by_label("not fetched").next().is_some());

    // Fetched as Verify fetches: the bytes ben built, here.
    h.get_by_label("Fetch from the bucket").click();
    let fetched = t
        .ana
        .folder("busy-gui")
        .join("releases/0.1.0/artifacts")
        .join(ARTIFACT);
    step_until(&mut h, 60, "the fetch", |app| {
        app.toasts
            .items()
            .iter()
            .any(|t| t.text.contains("Fetched"))
    });
    assert_eq!(
        std::fs::read(&fetched).expect("fetched"),
        b"the bytes ben built"
    );
    step_until(&mut h, 30, "the list to say here", |app| {
        app.data
            .as_ref()
            .and_then(|d| d.artifacts.as_ref().ok())
            .is_some_and(|a| !a.is_empty())
    });
    h.step();
    assert!(h.query_all_by_label("not fetched").next().is_none());
    drop(t.dir);
}

/// Ana's console holds the lease on building 0.1.0 for Linux in `s3://team/PREFIX` now, as
/// a take-over (forced, or after the holder's ran out) writes it.
fn ana_takes_the_lease(weed: &Weed, prefix: &str) {
    let now = jiff::Timestamp::now();
    let until = now
        .checked_add(jiff::SignedDuration::from_secs(600))
        .expect("time");
    let hers = serde_json::json!({
        "what": "build 0.1.0 linux", "holder": "ana", "host": "ana-laptop",
        "since": now, "until": until, "nonce": "0123456789abcdef", "ttl_secs": 600
    });
    let (status, _) = weed.request(
        "PUT",
        &format!("/team/{prefix}/leases/build-0.1.0-linux.json"),
        &[],
        hers.to_string().as_bytes(),
    );
    assert_eq!(status, 200);
}

/// A build whose lease another console took over while it ran (forced, or after this one
/// slept past it) records nothing when it ends: the lease is read back from the bucket before
/// the outcome is saved, so the other console's build is the release's, not overwritten.
#[test]
fn a_build_whose_lease_was_taken_over_meanwhile_records_no_outcome() {
    let ws = "s3://team/taken";
    let t = team(ws);
    let ben = ben_builds(&t, ws);
    let before = entries(&t.ben, ws).len();
    ana_takes_the_lease(&t.weed, "taken");

    std::fs::write(&t.go, b"").expect("go");
    let done = ben.wait_with_output().expect("ben's build ends");
    let out = common::text(&done);
    assert!(!done.status.success(), "{out}");
    assert!(
        out.contains("build 0.1.0 linux: the lease was taken over: it is held by ana@ana-laptop"),
        "{out}"
    );
    let after = entries(&t.ben, ws);
    assert!(
        after[before..]
            .iter()
            .all(|e| !["pipeline.platform", "release.artifacts"]
                .contains(&e["action"].as_str().unwrap_or_default())),
        "{:?}",
        &after[before..]
    );
}

/// A Linux builder in `folder` whose artifact is a named pipe: the console's copy of it waits
/// until the test writes the bytes, so a test can act while the outcome is being collected.
#[cfg(unix)]
fn pipe_builder(folder: &Path, started: &Path, go: &Path) {
    std::fs::write(
        folder.join("packaging/slow.sh"),
        format!(
            "set -e\nout=\"$1\"; mkdir -p \"$out\"\necho ::step:: Build\ntouch '{}'\n\
             for i in $(seq 600); do [ -e '{}' ] && break; sleep 0.1; done\n\
             rm -f \"$out/{ARTIFACT}\"; mkfifo \"$out/{ARTIFACT}\"\necho ::step:: Checksums\n\
             h=$(printf 'the bytes ben built' | sha256sum | cut -d' ' -f1)\n\
             echo \"$h  {ARTIFACT}\" > \"$out/{ARTIFACT}.sha256\"; cat \"$out/{ARTIFACT}.sha256\"\n\
             echo \"::artifact:: $out/{ARTIFACT}\"\n",
            started.display(),
            go.display()
        ),
    )
    .expect("builder");
}

/// The lease is read back right before the outcome is recorded, after the artifacts are
/// collected (copied and hashed: minutes for big installers), not before: a take-over while
/// they were collected recorded the outcome over the other console's build.
#[cfg(unix)]
#[test]
fn a_lease_taken_over_while_the_artifacts_are_collected_records_no_outcome() {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let ws = "s3://team/taken-late";
    let t = team(ws);
    pipe_builder(&t.ben.folder("taken-late"), &t.started, &t.go);
    let ben = ben_builds(&t, ws);
    let before = entries(&t.ben, ws).len();
    std::fs::write(&t.go, b"").expect("go");
    // Opened for writing (without waiting) only once ben's console reads it: it is
    // collecting the artifact then.
    let pipe = t
        .ben
        .folder("taken-late")
        .join("releases/0.1.0/build/linux")
        .join(ARTIFACT);
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut writer = loop {
        // O_NONBLOCK: refused (ENXIO) while nobody reads the pipe.
        if let Ok(f) = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(0o4000)
            .open(&pipe)
        {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "ben never read {}",
            pipe.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    ana_takes_the_lease(&t.weed, "taken-late");
    writer.write_all(b"the bytes ben built").expect("artifact");
    drop(writer);

    let done = ben.wait_with_output().expect("ben's build ends");
    let out = common::text(&done);
    assert!(!done.status.success(), "{out}");
    assert!(
        out.contains("build 0.1.0 linux: the lease was taken over: it is held by ana@ana-laptop"),
        "{out}"
    );
    let after = entries(&t.ben, ws);
    assert!(
        after[before..]
            .iter()
            .all(|e| e["action"].as_str() != Some("pipeline.platform")),
        "{:?}",
        &after[before..]
    );
}
