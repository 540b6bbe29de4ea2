//! Platforms built on GitHub Actions (`runner = "github"`), driven through the CLI against a
//! fake GitHub API that follows GitHub's published description (Prism checks every request
//! and answer against it) and a second loopback host for the signed download URLs.

use crate::common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use crate::common::github::{ArtifactKind, Fake, FakeGitHub, Fault, Script, TOKEN, with_checksum};
use crate::common::{Pki, ok, text};
use serde_json::Value;

const VERSION: &str = "0.1.0";
const DEFINITION: &str = r#"
[platforms.macos]
title = "macOS (GitHub Actions)"
host_os = "macos"
checklist_kind = "pipeline.macos"
runner = "github"

[platforms.windows]
title = "Windows (GitHub Actions)"
host_os = "windows"
checklist_kind = "pipeline.windows"
runner = "github"
"#;

struct Setup {
    dir: tempfile::TempDir,
    ws: PathBuf,
    gh: FakeGitHub,
    _pki: Pki,
}

/// A workspace pinned to the test PKI, whose platforms build on the fake GitHub; `fake`
/// scripts it. The Windows artifact is a real MSI signed with the pinned certificate.
fn setup(fake: impl FnOnce(&mut Fake)) -> Setup {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init_pinned_windows(&ws, &pki);
    let msi = dir.path().join("signed.msi");
    pki.sign("leaf.pfx", "app.msi", &msi);
    let msi = std::fs::read(&msi).expect("msi");
    let gh = FakeGitHub::start(|f| {
        f.artifacts.insert(
            "windows".into(),
            ArtifactKind::Files(with_checksum(&format!("WireTuner-{VERSION}.msi"), msi)),
        );
        f.artifacts.insert(
            "macos".into(),
            ArtifactKind::Files(with_checksum(
                &format!("WireTuner-{VERSION}.dmg"),
                b"placeholder, not a disk image ".repeat(30),
            )),
        );
        fake(f);
    });
    std::fs::write(ws.join("packaging/pipelines/remote.toml"), DEFINITION).expect("definition");
    let cfg = ws.join("release-console.toml");
    let original = std::fs::read_to_string(&cfg).expect("config");
    let edited = original.replace(
        "definition = \"packaging/pipelines/default.toml\"",
        "definition = \"packaging/pipelines/remote.toml\"",
    );
    assert_ne!(edited, original, "the config names the pipeline definition");
    std::fs::write(
        &cfg,
        format!(
            "{edited}\n[remote.github]\napi_base = \"{}\"\nrepo = \"wiretuner/wiretuner-app\"\n\
             poll_interval_ms = 100\n",
            gh.api_base
        ),
    )
    .expect("config");
    let o = common::cli(&ws, &["release", "new", VERSION]);
    ok(&o);
    Setup {
        dir,
        ws,
        gh,
        _pki: pki,
    }
}

fn console(s: &Setup, args: &[&str]) -> std::process::Command {
    let mut c = common::bin();
    c.arg("--workspace")
        .arg(&s.ws)
        .args(args)
        .env("GITHUB_TOKEN", TOKEN);
    c
}

fn run(s: &Setup, args: &[&str]) -> Output {
    console(s, args).output().expect("run")
}

/// `pipeline run` of `platform`; its output, with what Prism found against GitHub's
/// description after it (empty when nothing).
fn build(s: &Setup, platform: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "pipeline",
        "run",
        "--version",
        VERSION,
        "--platform",
        platform,
    ];
    args.extend_from_slice(extra);
    let o = run(s, &args);
    let mut out = text(&o);
    for v in s.gh.spec_violations() {
        out.push_str(&format!("\nPRISM: {v}"));
    }
    (o.status.code(), out)
}

fn state(s: &Setup) -> Value {
    let path = s.ws.join("releases").join(VERSION).join("pipeline.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|_| "{}".into()))
        .expect("pipeline.json")
}

fn dispatches(s: &Setup) -> Vec<common::github::Seen> {
    s.gh.seen()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/dispatches"))
        .collect()
}

fn assert_clean(s: &Setup) {
    let v = s.gh.violations();
    assert!(v.is_empty(), "violations: {v:#?}\n{}", s.gh.prism_log());
}

#[test]
fn a_remote_build_is_dispatched_watched_downloaded_and_verified() {
    let s = setup(|_| {});
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS: 1 of 1 artifacts green"), "{out}");
    // The remote steps, as they ran, and the job's log copied into the task's.
    for step in [
        "windows: Set up job",
        "windows: Build and sign the installers",
        "windows: Complete job",
    ] {
        assert!(out.contains(step), "{step} in:\n{out}");
    }
    assert!(
        out.contains("[windows]") && out.contains("built on GitHub's runner"),
        "{out}"
    );
    assert!(
        !out.contains("::step:: not a step"),
        "a remote log cannot start steps here: {out}"
    );
    assert!(!out.contains(TOKEN), "the token never reaches the output");
    assert_clean(&s);

    let [dispatch] = dispatches(&s).try_into().expect("one dispatch");
    assert_eq!(dispatch.body["ref"], "main");
    assert_eq!(dispatch.body["return_run_details"], true);
    assert_eq!(dispatch.body["inputs"]["version"], VERSION);
    assert_eq!(dispatch.body["inputs"]["platform"], "windows");
    assert_eq!(dispatch.body["inputs"]["skip_signing"], "false");
    let corr = dispatch.body["inputs"]["correlation_id"]
        .as_str()
        .expect("correlation id")
        .to_owned();
    let runs = s.gh.runs();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].1.contains(&corr), "{runs:?} carries {corr}");

    let st = state(&s);
    let p = &st["platforms"]["windows"];
    assert_eq!(p["status"], "succeeded", "{st}");
    assert_eq!(p["remote"]["run_id"], runs[0].0);
    assert_eq!(p["remote"]["correlation_id"], corr.as_str());
    let msi = format!("WireTuner-{VERSION}.msi");
    assert!(
        p["builder_sha256"][&msi].is_string(),
        "checked against the .sha256 the workflow uploaded: {st}"
    );
    assert!(
        p["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .any(|x| x["name"] == "windows: Build and sign the installers"),
        "{st}"
    );
    assert!(
        s.ws.join("releases")
            .join(VERSION)
            .join("artifacts")
            .join(&msi)
            .is_file()
    );

    // Every API request carried the token and the API version; the run and its jobs were
    // read conditionally, and GitHub answered 304 to some.
    let seen = s.gh.seen();
    assert!(
        seen.iter()
            .all(|r| r.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
    {
        let f = s.gh.state.lock().expect("fake");
        assert!(f.conditional > 0, "the polls were conditional");
        assert!(f.not_modified > 0, "and some were answered 304");
    }
    assert!(
        seen.iter()
            .any(|r| r.path.ends_with("/zip") && r.status == 302),
        "the download went through the 302"
    );

    let o = run(&s, &["pipeline", "status", "--version", VERSION]);
    let status = text(&o);
    assert!(
        status.contains(&format!(
            "https://github.com/wiretuner/wiretuner-app/actions/runs/{}",
            runs[0].0
        )),
        "{status}"
    );
    let o = run(&s, &["--json", "checklist", "show", "--release", VERSION]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("build.windows"),
        "{}",
        text(&o)
    );
}

/// A remote build records the commit GitHub's run built (its `head_sha`), as a local build
/// records its own, and `release tag` tags that commit, not the branch's newer head.
#[test]
fn a_remote_build_records_the_commit_github_built_and_release_tag_tags_it() {
    use crate::source::{commit, git};
    let product = tempfile::tempdir().expect("dir");
    let repo = product.path();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["config", "user.name", "Release Manager"]);
    git(repo, &["config", "user.email", "rm@wiretuner.test"]);
    let built = commit(repo, "Ann Lee", "src/app.txt", "app\n", "feat: pen tool");
    let s = setup(|f| f.head_sha = Some(built.clone()));
    // main moved on after the run was dispatched.
    let head = commit(repo, "Bob Ray", "src/more.txt", "more\n", "fix: later");
    let cfg = s.ws.join("release-console.toml");
    let mut toml = std::fs::read_to_string(&cfg).expect("config");
    toml.push_str(&format!(
        "\n[source]\nrepo = {:?}\n",
        repo.display().to_string()
    ));
    std::fs::write(&cfg, toml).expect("config");

    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("source: recorded {built} as the built commit")),
        "{out}"
    );
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(s.ws.join("releases").join(VERSION).join("source.json"))
            .expect("source.json"),
    )
    .expect("json");
    assert_eq!(record["built_commit"], built.as_str());

    let o = run(&s, &["release", "tag", VERSION]);
    ok(&o);
    assert!(
        text(&o).contains(&format!(
            "tagged v{VERSION} at {built} (the commit the build recorded)"
        )),
        "{}",
        text(&o)
    );
    let tagged = git(repo, &["rev-parse", &format!("v{VERSION}^{{commit}}")]);
    assert_eq!(tagged, built);
    assert_ne!(tagged, head);
    assert_clean(&s);
}

#[test]
fn a_204_dispatch_adopts_only_the_run_that_carries_our_correlation_id() {
    let s = setup(|f| {
        f.run_details = false;
        f.decoys = 3;
    });
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("GitHub named no run (204)"), "{out}");
    assert_clean(&s);
    let [dispatch] = dispatches(&s).try_into().expect("one dispatch");
    let corr = dispatch.body["inputs"]["correlation_id"]
        .as_str()
        .expect("correlation id")
        .to_owned();
    let runs = s.gh.runs();
    assert_eq!(runs.len(), 4, "ours and three of someone else's: {runs:?}");
    let ours: Vec<_> = runs.iter().filter(|(_, t)| t.contains(&corr)).collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(
        state(&s)["platforms"]["windows"]["remote"]["run_id"],
        ours[0].0
    );
    // Nobody else's run was read, let alone watched or cancelled.
    for (id, _) in runs.iter().filter(|(id, _)| *id != ours[0].0) {
        assert!(
            !s.gh
                .seen()
                .iter()
                .any(|r| r.path.contains(&format!("/runs/{id}"))),
            "run {id} is not ours"
        );
    }
    let listed =
        s.gh.seen()
            .into_iter()
            .find(|r| r.path.ends_with("/runs") && r.method == "GET")
            .expect("the runs were listed");
    assert!(
        listed.query.contains("event=workflow_dispatch"),
        "{}",
        listed.query
    );
}

/// The build after a dispatch whose answer the console never got, though GitHub created the
/// run: exactly one dispatch, one run, and that run adopted by its correlation id.
fn assert_one_run_adopted(s: &Setup, code: Option<i32>, out: &str) {
    let runs = s.gh.runs();
    assert_eq!(runs.len(), 1, "exactly one build: {runs:?}\n{out}");
    let [dispatch] = dispatches(s).try_into().expect("one dispatch");
    let corr = dispatch.body["inputs"]["correlation_id"]
        .as_str()
        .expect("correlation id")
        .to_owned();
    assert!(runs[0].1.contains(&corr), "{runs:?} carries {corr}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("the dispatch may have arrived"), "{out}");
    assert!(
        out.contains("the dispatch had arrived: adopting run #"),
        "{out}"
    );
    let st = state(s);
    assert_eq!(st["platforms"]["windows"]["status"], "succeeded", "{st}");
    assert_eq!(st["platforms"]["windows"]["remote"]["run_id"], runs[0].0);
    assert_clean(s);
}

#[test]
fn a_dispatch_answered_504_after_github_started_its_run_is_adopted_never_sent_again() {
    let s = setup(|f| f.dispatch_faults = vec![Fault::Gateway(504)]);
    let (code, out) = build(&s, "windows", &[]);
    assert_one_run_adopted(&s, code, &out);
    assert!(out.contains("504"), "{out}");
}

#[test]
fn a_dispatch_whose_answer_comes_after_the_timeout_is_adopted_never_sent_again() {
    let s = setup(|f| f.dispatch_faults = vec![Fault::Delay(Duration::from_secs(4))]);
    // `[remote.github]` is the config's last table.
    let cfg = s.ws.join("release-console.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str("timeout_secs = 1\n");
    std::fs::write(&cfg, text).expect("config");
    let (code, out) = build(&s, "windows", &[]);
    assert_one_run_adopted(&s, code, &out);
    assert!(out.contains("timed out"), "{out}");
}

#[test]
fn a_failed_job_is_resumed_by_rerunning_the_failed_jobs_of_the_same_run() {
    let s = setup(|f| {
        f.script = Script {
            fail_first_attempt_at: Some(2),
            ..Script::default()
        };
    });
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("windows failure at step \"Build and sign the installers\""),
        "{out}"
    );
    assert!(out.contains("Resume re-runs the failed jobs"), "{out}");
    let st = state(&s);
    assert_eq!(st["platforms"]["windows"]["status"], "failed", "{st}");
    let run_id = st["platforms"]["windows"]["remote"]["run_id"].clone();

    let (code, out) = build(&s, "windows", &["--resume"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS"), "{out}");
    assert_eq!(
        dispatches(&s).len(),
        1,
        "the same run, not a second dispatch"
    );
    assert!(
        s.gh.seen().iter().any(|r| r.method == "POST"
            && r.path
                .ends_with(&format!("/runs/{run_id}/rerun-failed-jobs"))),
        "rerun-failed-jobs was asked for"
    );
    let st = state(&s);
    assert_eq!(st["platforms"]["windows"]["status"], "succeeded", "{st}");
    assert_eq!(st["platforms"]["windows"]["remote"]["run_id"], run_id);
    assert_eq!(st["platforms"]["windows"]["remote"]["attempt"], 2);
    assert_clean(&s);
}

/// Starts a slow remote build in the background and waits until its run is saved.
#[cfg(unix)]
fn start_slow(s: &Setup) -> std::process::Child {
    let child = console(
        s,
        &[
            "pipeline",
            "run",
            "--version",
            VERSION,
            "--platform",
            "windows",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    // Saved as running with its run's id (before that, only the dispatch is saved).
    while state(s)["platforms"]["windows"]["status"] != "running"
        || state(s)["platforms"]["windows"]["remote"]["run_id"]
            .as_u64()
            .is_none_or(|id| id == 0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run was never saved"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[cfg(unix)]
fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, sig).expect("signal");
}

#[cfg(unix)]
#[test]
fn a_console_killed_before_its_dispatch_was_answered_adopts_that_run_at_the_next_run() {
    // GitHub creates the run; its answer is held back while the console is killed.
    let s = setup(|f| f.dispatch_faults = vec![Fault::Delay(Duration::from_secs(20))]);
    let mut child = console(
        &s,
        &[
            "pipeline",
            "run",
            "--version",
            VERSION,
            "--platform",
            "windows",
        ],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while s.gh.runs().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was dispatched"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    child.wait().expect("wait");

    let (code, out) = build(&s, "windows", &[]);
    let runs = s.gh.runs();
    assert_eq!(runs.len(), 1, "exactly one build: {runs:?}\n{out}");
    assert_eq!(dispatches(&s).len(), 1, "{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("the earlier dispatch had arrived"), "{out}");
    let st = state(&s);
    assert_eq!(st["platforms"]["windows"]["status"], "succeeded", "{st}");
    assert_eq!(st["platforms"]["windows"]["remote"]["run_id"], runs[0].0);
    assert_clean(&s);
}

#[cfg(unix)]
#[test]
fn cancelling_the_task_cancels_the_run_on_github() {
    let s = setup(|f| {
        f.script.tick = Duration::from_secs(2);
    });
    let child = start_slow(&s);
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let o = child.wait_with_output().expect("wait");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let st = state(&s);
    assert_eq!(st["platforms"]["windows"]["status"], "cancelled", "{st}");
    let id = st["platforms"]["windows"]["remote"]["run_id"].clone();
    assert!(
        s.gh.seen().iter().any(|r| r.method == "POST"
            && r.path.ends_with(&format!("/runs/{id}/cancel"))
            && r.status == 202),
        "POST .../cancel was sent: {out}"
    );
    assert_clean(&s);
}

#[cfg(unix)]
#[test]
fn a_console_killed_while_a_run_builds_watches_the_same_run_again() {
    let s = setup(|f| {
        f.script.tick = Duration::from_millis(700);
    });
    let mut child = start_slow(&s);
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("watching it again instead of dispatching another"),
        "{out}"
    );
    assert_eq!(dispatches(&s).len(), 1, "no second dispatch");
    assert_eq!(s.gh.runs().len(), 1);
    assert_eq!(state(&s)["platforms"]["windows"]["status"], "succeeded");
    assert_clean(&s);
}

#[test]
fn rate_limits_are_waited_out_before_the_next_request() {
    let s = setup(|f| {
        // The 4th answer says the hour's requests are used up (reset in 2 s); the 9th is a
        // secondary limit with Retry-After: 1.
        f.limit_at = Some(4);
        f.secondary_at = Some(9);
    });
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("the core rate limit (5000 requests an hour) is used up"),
        "{out}"
    );
    assert!(out.contains("secondary rate limit"), "{out}");
    // The fake counts any request before a reset or a Retry-After as a violation.
    assert_clean(&s);
    let seen = s.gh.seen();
    assert!(seen[4].at.duration_since(seen[3].at) >= Duration::from_millis(900));
    assert_eq!(seen[8].status, 403);
    assert!(seen[9].at.duration_since(seen[8].at) >= Duration::from_secs(1));
}

#[test]
fn the_download_link_never_gets_the_token_and_an_escaping_archive_is_refused() {
    let s = setup(|f| {
        f.artifacts.insert("windows".into(), ArtifactKind::Escaping);
    });
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("entry \"../escaped.txt\" would be written outside the artifacts folder"),
        "{out}"
    );
    assert_clean(&s);
    let mut stack = vec![s.dir.path().to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            assert_ne!(
                p.file_name().and_then(|n| n.to_str()),
                Some("escaped.txt"),
                "{}",
                p.display()
            );
            assert_ne!(
                p.file_name().and_then(|n| n.to_str()),
                Some("WireTuner-ok.dmg"),
                "nothing unpacked: {}",
                p.display()
            );
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    assert_eq!(state(&s)["platforms"]["windows"]["status"], "failed");
}

#[test]
fn a_download_larger_than_the_artifact_github_lists_is_refused() {
    let s = setup(|f| {
        f.artifacts.insert(
            "windows".into(),
            ArtifactKind::Oversized(with_checksum("WireTuner-big.msi", vec![7u8; 4096])),
        );
    });
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("but GitHub lists the artifact at 100; refusing it"),
        "{out}"
    );
    assert_clean(&s);
    let mut stack = vec![s.dir.path().to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            assert_ne!(
                p.file_name().and_then(|n| n.to_str()),
                Some("WireTuner-big.msi"),
                "nothing unpacked: {}",
                p.display()
            );
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
}

#[test]
fn an_expired_artifact_is_named_as_such() {
    let s = setup(|f| {
        f.artifacts
            .insert("windows".into(), ArtifactKind::ExpiredOnDownload);
        f.artifacts.insert("macos".into(), ArtifactKind::Expired);
    });
    let (code, out) = build(&s, "windows", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("artifact windows-{VERSION} has expired"))
            && out.contains("(Artifact has expired)"),
        "the 410 is named: {out}"
    );
    let (code, out) = build(&s, "macos", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("artifact macos-{VERSION} of run")) && out.contains("has expired"),
        "{out}"
    );
    assert_clean(&s);
}

#[test]
fn preflight_checks_the_token_and_the_workflow_without_showing_the_token() {
    let s = setup(|_| {});
    let o = run(&s, &["pipeline", "preflight", "--platform", "windows"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("windows: ready"), "{out}");
    assert!(
        out.contains("release (active) at .github/workflows/release.yml"),
        "{out}"
    );
    let o = common::bin()
        .arg("--workspace")
        .arg(&s.ws)
        .args(["pipeline", "preflight", "--platform", "windows"])
        .env("GITHUB_TOKEN", "ghp_wrong")
        .output()
        .expect("run");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("401") && out.contains("refused the token in $GITHUB_TOKEN"),
        "{out}"
    );
    assert!(!out.contains("ghp_wrong"));
    let o = common::bin()
        .arg("--workspace")
        .arg(&s.ws)
        .args(["pipeline", "preflight", "--platform", "windows"])
        .env_remove("GITHUB_TOKEN")
        .output()
        .expect("run");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("$GITHUB_TOKEN") && out.contains("it is not set"),
        "{out}"
    );
    // A dry run shows the plan and sends nothing.
    let before = s.gh.seen().len();
    let (code, out) = build(&s, "windows", &["--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("would dispatch release.yml on main in wiretuner/wiretuner-app"),
        "{out}"
    );
    assert_eq!(
        s.gh.seen()[before..]
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        0,
        "nothing dispatched"
    );
}
