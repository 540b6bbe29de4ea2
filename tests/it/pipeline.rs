//! `pipeline run` end to end on Linux with real tools: build a real MSI with wixl, sign it with a
//! throwaway PFX, collect it, write SHA256SUMS, verify; preflight failures; resume.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{Pki, ok, text};

const PASSWORD: &str = "pfx password that must stay secret";

struct Setup {
    _pki: Pki,
    dir: tempfile::TempDir,
    ws: PathBuf,
    pfx: PathBuf,
    ca: PathBuf,
}

fn setup() -> Setup {
    let pki = Pki::new();
    common::sh(
        &pki.path(""),
        &format!(
            "openssl pkcs12 -export -out release.pfx -inkey leaf.key -in leaf.pem -certfile ca.pem -passout 'pass:{PASSWORD}'"
        ),
    );
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    let o = bin(&ws, &["init"]).arg(&ws).output().expect("init");
    ok(&o);
    assert!(
        bin(&ws, &["release", "new", "0.1.0"])
            .status()
            .expect("release")
            .success()
    );
    std::fs::copy(pki.path("app.exe"), ws.join("payload/WireTuner.exe")).expect("payload exe");
    let ca = pki.path("ca.pem");
    let cfg = ws.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let text = text
        .replace(
            "windows_publisher = \"\"",
            "windows_publisher = \"WireTuner Inc\"",
        )
        .replace("ca_file = \"\"", &format!("ca_file = \"{}\"", ca.display()));
    std::fs::write(&cfg, text).expect("config");
    Setup {
        pfx: pki.path("release.pfx"),
        ca,
        _pki: pki,
        dir,
        ws,
    }
}

fn bin(ws: &Path, args: &[&str]) -> Command {
    let mut c = common::bin();
    c.arg("--workspace")
        .arg(ws)
        .args(args)
        .env_remove("WINDOWS_PFX_PATH")
        .env_remove("WINDOWS_PFX_PASSWORD");
    c
}

fn signed(s: &Setup, args: &[&str]) -> Output {
    bin(&s.ws, args)
        .env("WINDOWS_PFX_PATH", &s.pfx)
        .env("WINDOWS_PFX_PASSWORD", PASSWORD)
        .output()
        .expect("run")
}

fn checklist_done(ws: &Path, item: &str) -> bool {
    let o = bin(ws, &["--json", "checklist", "show", "--release", "0.1.0"])
        .output()
        .expect("show");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    v["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .any(|i| i["id"] == item && i["state"]["done"] == true)
}

#[test]
fn pipeline_builds_signs_collects_checksums_and_verifies_a_real_msi() {
    let s = setup();
    let o = signed(&s, &["pipeline", "run", "--version", "0.1.0"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("PASS: 1 of 1 artifacts green"), "{out}");
    assert!(
        !out.contains(PASSWORD),
        "the password never reaches the output"
    );

    let artifacts = s.ws.join("releases/0.1.0/artifacts");
    let msi = artifacts.join("WireTuner-Setup-0.1.0.msi");
    let v = Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(&s.ca)
        .arg("-in")
        .arg(&msi)
        .output()
        .expect("osslsigncode");
    assert!(v.status.success(), "{}", text(&v));
    let sums = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&artifacts)
        .output()
        .expect("sha256sum");
    assert!(sums.status.success(), "{}", text(&sums));

    // Steps were recorded, the checklist ticked itself, and everything is audited.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.ws.join("releases/0.1.0/pipeline.json")).expect("state"),
    )
    .expect("json");
    let p = &state["platforms"]["windows-on-linux"];
    assert_eq!(p["status"], "succeeded");
    let steps: Vec<&str> = p["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "Preflight",
            "Generate WiX source",
            "Build MSI",
            "Code signing",
            "Verify signature",
            "Checksums"
        ]
    );
    assert!(
        checklist_done(&s.ws, "build.windows"),
        "pipeline.windows ticks build.windows"
    );
    assert!(
        checklist_done(&s.ws, "build.verify"),
        "a verify pass ticks build.verify"
    );
    let audit = std::fs::read_to_string(s.ws.join("audit.log")).expect("audit");
    assert!(
        audit.contains("\"target\":\"build-windows-on-linux\"")
            && audit.contains("\"action\":\"verify.report\"")
    );
    // The verify entry says what the files were judged against: the pins and the CA's hash.
    let entry: serde_json::Value = audit
        .lines()
        .rev()
        .find(|l| l.contains("\"action\":\"verify.report\""))
        .map(|l| serde_json::from_str(l).expect("entry"))
        .expect("verify entry");
    let used = &entry["after"]["expected"];
    assert_eq!(used["windows_publisher"], "WireTuner Inc", "{used}");
    let ca = std::fs::read(used["ca_file"].as_str().expect("ca_file")).expect("ca");
    assert_eq!(used["ca_sha256"], release_console::sha256_hex(&ca));
    assert!(
        entry["after"]["artifacts"][0]["sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64),
        "{entry}"
    );
    assert!(!audit.contains(PASSWORD));
    for log in std::fs::read_dir(s.ws.join("releases/0.1.0/logs"))
        .expect("logs")
        .flatten()
    {
        let body = std::fs::read_to_string(log.path()).expect("log");
        assert!(
            !body.contains(PASSWORD),
            "{} leaks the password",
            log.path().display()
        );
    }
    assert!(
        bin(&s.ws, &["audit", "verify"])
            .status()
            .expect("audit verify")
            .success()
    );

    // Published (Windows only: the Mac build is not shipped this time), the version is not
    // built again without --rebuild, and the refusal names what a rebuild would make untrue.
    for item in [
        "pre.review-flags",
        "pre.validate-staging",
        "pre.release-notes",
    ] {
        let o = bin(&s.ws, &["checklist", "tick", item, "--note", "test setup"])
            .output()
            .expect("tick");
        assert!(o.status.success(), "{item}: {}", text(&o));
    }
    let o = bin(
        &s.ws,
        &[
            "publish",
            "--version",
            "0.1.0",
            "--skip-platform",
            "macos",
            "--reason",
            "Windows first",
        ],
    )
    .output()
    .expect("publish");
    ok(&o);
    let before = std::fs::read(&msi).expect("msi");
    let again = [
        "pipeline",
        "run",
        "--version",
        "0.1.0",
        "--platform",
        "windows-on-linux",
    ];
    let o = signed(&s, &again);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("0.1.0 is published (the PASS verify of ")
            && out.contains("as published on channel stable at ")
            && out.contains("without --rebuild"),
        "{out}"
    );
    assert!(
        std::fs::read(&msi).expect("msi") == before,
        "nothing was built: the published installer is as it was"
    );

    // Rebuilt with signing skipped (and --rebuild): a warning names the verify and the
    // published version it invalidates; the state says UNSIGNED and the signed build's tick
    // is taken back (audited), since the installer it stood for was replaced.
    let o = bin(
        &s.ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "windows-on-linux",
            "--skip-signing",
            "--rebuild",
        ],
    )
    .output()
    .expect("run");
    let out = text(&o);
    assert!(out.contains("UNSIGNED"), "{out}");
    assert!(
        out.contains("warning: building 0.1.0 again invalidates the PASS verify of "),
        "{out}"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.ws.join("releases/0.1.0/pipeline.json")).expect("state"),
    )
    .expect("json");
    assert_eq!(state["platforms"]["windows-on-linux"]["unsigned"], true);
    assert!(
        !checklist_done(&s.ws, "build.windows"),
        "an unsigned rebuild unticks \"Build and sign the Windows installer\""
    );
    let audit = std::fs::read_to_string(s.ws.join("audit.log")).expect("audit");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"action\":\"checklist.untick\"")
                && l.contains("0.1.0/build.windows")
                && l.contains("UNSIGNED")),
        "the untick is audited with why"
    );

    // `--json` prints the run's report: each platform's outcome, SHA256SUMS and the verdict.
    let json = |args: &[&str]| -> serde_json::Value {
        let o = signed(&s, args);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    };
    let plan = json(&[
        "--json",
        "pipeline",
        "run",
        "--version",
        "0.1.0",
        "--platform",
        "windows-on-linux",
        "--dry-run",
    ]);
    assert_eq!(plan["dry_run"], true, "{plan}");
    assert_eq!(
        plan["platforms"][0]["platform"], "windows-on-linux",
        "{plan}"
    );
    assert_eq!(plan["platforms"][0]["outcome"], "planned", "{plan}");
    assert!(
        plan["verify"].is_null(),
        "a dry run verifies nothing: {plan}"
    );
    let resumed = json(&[
        "--json",
        "pipeline",
        "run",
        "--version",
        "0.1.0",
        "--platform",
        "windows-on-linux",
        "--resume",
    ]);
    assert_eq!(
        resumed["platforms"][0]["outcome"], "already_built",
        "{resumed}"
    );
    assert!(
        resumed["sums"]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("SHA256SUMS")),
        "{resumed}"
    );
    assert!(
        resumed["verify"]["overall"].is_string(),
        "the verify report is part of the run's: {resumed}"
    );
}

#[test]
fn preflight_names_what_is_missing_and_how_to_fix_it() {
    let s = setup();
    let o = bin(&s.ws, &["pipeline", "preflight", "--version", "0.1.0"])
        .output()
        .expect("preflight");
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    assert!(out.contains("FAIL env WINDOWS_PFX_PATH"), "{out}");
    assert!(
        out.contains("export WINDOWS_PFX_PATH=/path/to/code-signing.pfx"),
        "{out}"
    );
    let o = bin(
        &s.ws,
        &[
            "pipeline",
            "preflight",
            "--version",
            "0.1.0",
            "--skip-signing",
        ],
    )
    .output()
    .expect("preflight");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("ok   tool wixl"));

    let o = signed(
        &s,
        &["--json", "pipeline", "preflight", "--version", "0.1.0"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let platforms = v.as_array().expect("platforms");
    // Every configured platform is listed; the ones for other hosts say why they are skipped.
    let macos = platforms
        .iter()
        .find(|p| p["platform"] == "macos")
        .expect("macos");
    assert_eq!(macos["skipped"], "needs a macos host; this is linux");
    let linux = platforms
        .iter()
        .find(|p| p["platform"] == "windows-on-linux")
        .expect("windows-on-linux");
    let cert = linux["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "signing certificate")
        .expect("cert check");
    assert_eq!(cert["ok"], true, "{cert}");
    assert!(
        cert["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("valid until"))
    );
    // A wrong password is caught before any build.
    let o = bin(&s.ws, &["pipeline", "preflight", "--version", "0.1.0"])
        .env("WINDOWS_PFX_PATH", &s.pfx)
        .env("WINDOWS_PFX_PASSWORD", "wrong")
        .output()
        .expect("preflight");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("wrong password?"), "{}", text(&o));

    let o = bin(
        &s.ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "amiga",
        ],
    )
    .output()
    .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("platform \"amiga\" is not defined in"),
        "{}",
        text(&o)
    );
}

#[test]
fn resume_runs_only_the_platforms_that_did_not_succeed() {
    let s = setup();
    // A second platform whose builder fails the first time (an injected failure).
    let def = s.ws.join("packaging/pipelines/default.toml");
    let text_def = std::fs::read_to_string(&def).expect("definition");
    let second = text_def
        .split("[platforms.windows-on-linux]")
        .nth(1)
        .expect("platform table")
        .replace("platforms.windows-on-linux.", "platforms.second-msi.")
        .replace("\"--out\", \"{out_dir}\"", "\"--out\", \"{out_dir}\", \"--product\", \"Second\", \"--payload\", \"/injected/failure\"");
    std::fs::write(&def, format!("{text_def}\n[platforms.second-msi]{second}")).expect("write");
    let o = signed(
        &s,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "all",
            "--skip-signing",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("payload folder /injected/failure does not exist"),
        "{}",
        text(&o)
    );

    // Fix the failure, then resume: only the failed platform runs again.
    let fixed = std::fs::read_to_string(&def)
        .expect("def")
        .replace(", \"--payload\", \"/injected/failure\"", "");
    std::fs::write(&def, fixed).expect("write");
    let o = signed(
        &s,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "all",
            "--skip-signing",
            "--resume",
        ],
    );
    let out = text(&o);
    assert!(
        out.contains("windows-on-linux: already built for 0.1.0 (resume), skipping"),
        "{out}"
    );
    let audit = std::fs::read_to_string(s.ws.join("audit.log")).expect("audit");
    let starts = |target: &str| {
        audit
            .lines()
            .filter(|l| l.contains("\"action\":\"task.start\"") && l.contains(target))
            .count()
    };
    assert_eq!(starts("build-unsigned-windows-on-linux"), 1, "not rebuilt");
    assert_eq!(
        starts("build-unsigned-second-msi"),
        2,
        "failed once, then resumed"
    );
    assert!(
        s.ws.join("releases/0.1.0/artifacts/Second-Setup-0.1.0.msi")
            .is_file()
    );
    // Unsigned installers are never green.
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("signature unsigned"), "{out}");
}

/// A folder to put first on PATH with one tool replaced by `body` (the real tool is `real`).
fn shim(dir: &Path, tool: &str, body: &str) -> String {
    let bin = dir.join(format!("shim-{tool}"));
    std::fs::create_dir_all(&bin).expect("shim dir");
    let path = bin.join(tool);
    std::fs::write(&path, format!("#!/usr/bin/env bash\n{body}\n")).expect("shim");
    common::sh(dir, &format!("chmod +x '{}'", path.display()));
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn steps_of(ws: &Path, platform: &str) -> Vec<String> {
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.join("releases/0.1.0/pipeline.json")).expect("state"),
    )
    .expect("json");
    state["platforms"][platform]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn resume_after_a_failed_step_runs_only_the_remaining_steps() {
    let s = setup();
    // Injected failure: signing fails (as when the timestamp server is down); everything else
    // is the real osslsigncode.
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v osslsigncode"])
            .output()
            .expect("which")
            .stdout,
    )
    .expect("utf-8");
    let path = shim(
        s.dir.path(),
        "osslsigncode",
        &format!(
            "if [ \"$1\" = sign ]; then echo 'injected: timestamp server unreachable' >&2; exit 1; fi\nexec {} \"$@\"",
            real.trim()
        ),
    );
    let run = [
        "pipeline",
        "run",
        "--version",
        "0.1.0",
        "--platform",
        "windows-on-linux",
    ];
    let o = bin(&s.ws, &run)
        .env("PATH", &path)
        .env("WINDOWS_PFX_PATH", &s.pfx)
        .env("WINDOWS_PFX_PASSWORD", PASSWORD)
        .output()
        .expect("run");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("injected: timestamp server unreachable"),
        "{out}"
    );
    assert!(out.contains("run again with --resume"), "{out}");
    assert_eq!(
        steps_of(&s.ws, "windows-on-linux"),
        [
            "Preflight",
            "Generate WiX source",
            "Build MSI",
            "Code signing"
        ]
    );

    // Resume with the real tool: only the steps from the failed one on run.
    let mut resume = run.to_vec();
    resume.push("--resume");
    let o = signed(&s, &resume);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("skip: Build MSI (done in an earlier run)"),
        "{out}"
    );
    assert_eq!(
        steps_of(&s.ws, "windows-on-linux"),
        ["Preflight", "Code signing", "Verify signature", "Checksums"]
    );
    assert!(out.contains("PASS: 1 of 1 artifacts green"), "{out}");
    assert!(!out.contains(PASSWORD));
}

/// Starts a windows-on-linux build whose wixl is slow (a shell waiting on a sleep, both in the
/// builder's process group) and returns the CLI once wixl runs, with wixl's two process ids.
#[cfg(unix)]
fn start_a_slow_build(s: &Setup) -> (std::process::Child, Vec<i32>) {
    let pids = s.dir.path().join("wixl.pids");
    let _ = std::fs::remove_file(&pids);
    let real = "/usr/bin/wixl";
    let path = shim(
        s.dir.path(),
        "wixl",
        &format!(
            "if [ \"$1\" = --version ]; then exec {real} --version; fi\nsleep 300 & echo \"$$ $!\" > '{}'\nwait",
            pids.display()
        ),
    );
    let child = bin(
        &s.ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "windows-on-linux",
            "--skip-signing",
        ],
    )
    .env("PATH", &path)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    let started: Vec<i32> = loop {
        if let Ok(t) = std::fs::read_to_string(&pids)
            && t.ends_with('\n')
        {
            break t
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
        }
        assert!(std::time::Instant::now() < deadline, "wixl never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(started.len(), 2);
    (child, started)
}

/// Every one of `pids` ends (or is a zombie) within 5 s.
#[cfg(unix)]
fn assert_all_gone(pids: &[i32], after: &str) {
    for &pid in pids {
        let gone = (0..100).any(|_| {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
                !st.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            });
            if alive {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            !alive
        });
        assert!(gone, "process {pid} of the builder survived {after}");
    }
}

#[cfg(unix)]
fn signal(child: &std::process::Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        signal,
    )
    .expect("signal");
}

/// Sends the CLI of a slow build `sig` once wixl runs, and checks that the CLI says `said`,
/// that every process of the builder is gone, and that the platform is recorded as cancelled.
/// Returns the CLI's output.
#[cfg(unix)]
fn interrupt_a_build(s: &Setup, sig: nix::sys::signal::Signal, said: &str) -> String {
    let (child, started) = start_a_slow_build(s);
    signal(&child, sig);
    let o = child.wait_with_output().expect("wait");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(said), "{out}");
    assert_all_gone(&started, &format!("the {sig:?}"));
    let state = std::fs::read_to_string(s.ws.join("releases/0.1.0/pipeline.json")).expect("state");
    assert!(state.contains("\"status\": \"cancelled\""), "{state}");
    out
}

#[cfg(unix)]
#[test]
fn a_console_killed_with_sigkill_takes_its_builders_with_it() {
    let s = setup();
    let (mut child, started) = start_a_slow_build(&s);
    // No handler runs for SIGKILL: only the watchdog's closed pipe tells.
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert_all_gone(&started, "a kill -9 of the console");
}

#[cfg(unix)]
#[test]
fn a_hang_up_cancels_the_build_so_no_builder_outlives_the_console() {
    let s = setup();
    interrupt_a_build(
        &s,
        nix::sys::signal::Signal::SIGHUP,
        "hung up: cancelling build-unsigned-windows-on-linux",
    );
}

#[cfg(unix)]
#[test]
fn cancel_stops_the_builder_and_every_child_then_resume_finishes() {
    let s = setup();
    // Ctrl-C, as a release manager at a terminal would.
    interrupt_a_build(
        &s,
        nix::sys::signal::Signal::SIGINT,
        "interrupted: cancelling build-unsigned-windows-on-linux",
    );

    // Resume without the slow tool: the generated source is kept, the MSI is built.
    let o = bin(
        &s.ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "windows-on-linux",
            "--skip-signing",
            "--resume",
        ],
    )
    .output()
    .expect("resume");
    let out = text(&o);
    assert!(out.contains("skip: Generate WiX source"), "{out}");
    assert!(
        s.ws.join("releases/0.1.0/artifacts/WireTuner-Setup-0.1.0.msi")
            .is_file(),
        "{out}"
    );
}

#[test]
fn preflight_names_each_missing_variable_and_accepts_a_stand_in() {
    let s = setup();
    // A Linux platform that needs variables, as the macOS one does on its own host.
    let def = s.ws.join("packaging/pipelines/default.toml");
    let text_def = std::fs::read_to_string(&def).expect("definition");
    std::fs::write(
        &def,
        format!(
            "{text_def}\n[platforms.linux-notary]\ntitle = \"t\"\nhost_os = \"linux\"\nbuilder = [\"bash\", \"packaging/macos/build_dmg.sh\"]\nchecklist_kind = \"pipeline.macos\"\n\
             [[platforms.linux-notary.env]]\nname = \"RC_TEST_APPLE_ID\"\nfix = \"export RC_TEST_APPLE_ID=...\"\nsigning = true\nunless = \"RC_TEST_PROFILE\"\n"
        ),
    )
    .expect("write");
    let pre = |envs: &[(&str, &str)]| {
        let mut c = bin(
            &s.ws,
            &[
                "--json",
                "pipeline",
                "preflight",
                "--version",
                "0.1.0",
                "--platform",
                "linux-notary",
            ],
        );
        c.env_remove("RC_TEST_APPLE_ID")
            .env_remove("RC_TEST_PROFILE");
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.output().expect("preflight");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let check = v[0]["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["name"] == "env RC_TEST_APPLE_ID")
            .cloned()
            .expect("env check");
        (o.status.code(), check)
    };
    let (code, check) = pre(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(check["ok"], false);
    assert_eq!(check["fix"], "export RC_TEST_APPLE_ID=...");
    let (_, check) = pre(&[("RC_TEST_APPLE_ID", "secret-value")]);
    assert_eq!(check["ok"], true);
    assert_eq!(check["detail"], "set (value not shown)");
    let (_, check) = pre(&[("RC_TEST_PROFILE", "profile")]);
    assert_eq!(check["ok"], true);
    assert_eq!(check["detail"], "not needed: RC_TEST_PROFILE is set");
}

#[test]
fn a_builder_sees_only_what_its_definition_declares_never_the_consoles_tokens() {
    let s = setup();
    let def = s.ws.join("packaging/pipelines/default.toml");
    let mut text_def = std::fs::read_to_string(&def).expect("definition");
    text_def.push_str(
        r#"
[platforms.env-probe]
title = "Prints what it can see"
host_os = "linux"
builder = ["bash", "packaging/probe.sh"]
checklist_kind = "pipeline.probe"
signs_with_pfx = true
pass_env = ["PUB_CACHE"]
"#,
    );
    std::fs::write(&def, text_def).expect("write");
    std::fs::write(
        s.ws.join("packaging/probe.sh"),
        "echo ::step:: Probe\necho \"probe: token=${LAUNCHDARKLY_ACCESS_TOKEN:-unset} \
         cache=${PUB_CACHE:-unset} pfx=${WINDOWS_PFX_PASSWORD:+set} path=${PATH:+set}\"\n",
    )
    .expect("probe");
    let o = bin(
        &s.ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "env-probe",
        ],
    )
    .env("WINDOWS_PFX_PATH", &s.pfx)
    .env("WINDOWS_PFX_PASSWORD", PASSWORD)
    .env("LAUNCHDARKLY_ACCESS_TOKEN", "ld-token-must-not-leak")
    .env("PUB_CACHE", "/opt/pub-cache")
    .output()
    .expect("run");
    let out = text(&o);
    assert!(
        out.contains("probe: token=unset cache=/opt/pub-cache pfx=set path=set"),
        "{out}"
    );
    assert!(!out.contains("ld-token-must-not-leak"), "{out}");
}

/// `pipeline run --version 0.1.0 --platform PLATFORM` in `ws`.
fn run_platform(ws: &Path, platform: &str) -> Output {
    bin(
        ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            platform,
        ],
    )
    .output()
    .expect("run")
}

#[test]
fn artifacts_are_checked_against_the_hash_their_builder_printed() {
    let s = setup();
    let def = s.ws.join("packaging/pipelines/default.toml");
    let mut text_def = std::fs::read_to_string(&def).expect("definition");
    text_def.push_str(
        r#"
[platforms.honest]
title = "Prints the right checksum"
host_os = "linux"
builder = ["bash", "packaging/honest.sh"]
args = ["{out_dir}"]
checklist_kind = "pipeline.honest"

[platforms.liar]
title = "Signs after it printed the checksum"
host_os = "linux"
builder = ["bash", "packaging/liar.sh"]
args = ["{out_dir}"]
checklist_kind = "pipeline.liar"
"#,
    );
    std::fs::write(&def, text_def).expect("write");
    let script = |file: &str, tail: &str| {
        format!(
            "set -e\nout=\"$1\"; mkdir -p \"$out\"\necho ::step:: Build\nprintf 'payload' > \"$out/{file}\"\n\
             echo ::step:: Checksums\n(cd \"$out\" && sha256sum {file} > {file}.sha256 && cat {file}.sha256)\n{tail}\
             echo \"::artifact:: $out/{file}\"\n"
        )
    };
    std::fs::write(
        s.ws.join("packaging/honest.sh"),
        script("Honest-0.1.0.msi", ""),
    )
    .expect("honest");
    std::fs::write(
        s.ws.join("packaging/liar.sh"),
        script(
            "Liar-0.1.0.msi",
            "printf 'signed later' >> \"$out/Liar-0.1.0.msi\"\n",
        ),
    )
    .expect("liar");

    let o = run_platform(&s.ws, "liar");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("Liar-0.1.0.msi: its builder printed SHA-256")
            && out.contains("it changed after it was built"),
        "{out}"
    );
    assert!(
        !s.ws
            .join("releases/0.1.0/artifacts/Liar-0.1.0.msi")
            .exists(),
        "a file that is not what its builder hashed is not collected"
    );

    let o = run_platform(&s.ws, "honest");
    let out = text(&o);
    assert!(
        out.contains("collected Honest-0.1.0.msi (SHA-256")
            && out.contains("as its builder printed")
            && out.contains("matches the SHA-256 its builder printed"),
        "{out}"
    );
    // Changed after it was collected: writing SHA256SUMS refuses, naming both hashes.
    let artifact = s.ws.join("releases/0.1.0/artifacts/Honest-0.1.0.msi");
    std::fs::write(&artifact, "tampered").expect("tamper");
    let ws = release_console::workspace::Workspace::open(&s.ws).expect("ws");
    let release = ws.release(Some("0.1.0")).expect("release");
    let e = release_console::pipeline::write_sums(&ws, &release).expect_err("refused");
    let msg = e.to_string();
    assert!(
        msg.contains(&release_console::sha256_hex(b"payload"))
            && msg.contains(&release_console::sha256_hex(b"tampered")),
        "{msg}"
    );
}

/// `git ARGS` in `dir`, which must succeed; its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
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

#[test]
fn a_build_records_the_commit_it_built_and_release_tag_tags_that_commit() {
    let s = setup();
    // The product's repository, and a platform whose builder is quick.
    let repo = s.ws.join("product");
    std::fs::create_dir_all(&repo).expect("repo");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("app.txt"), "0.1.0\n").expect("write");
    git(&repo, &["add", "app.txt"]);
    git(&repo, &["commit", "-q", "-m", "feat: first"]);
    let built = git(&repo, &["rev-parse", "HEAD"]);
    let cfg = s.ws.join("release-console.toml");
    let mut toml = std::fs::read_to_string(&cfg).expect("config");
    toml.push_str("\n[source]\nrepo = \"product\"\n");
    std::fs::write(&cfg, toml).expect("config");
    let def = s.ws.join("packaging/pipelines/default.toml");
    let mut text_def = std::fs::read_to_string(&def).expect("definition");
    text_def.push_str(
        r#"
[platforms.quick]
title = "A quick builder"
host_os = "linux"
builder = ["bash", "packaging/quick.sh"]
args = ["{out_dir}"]
checklist_kind = "pipeline.quick"
"#,
    );
    std::fs::write(&def, text_def).expect("write");
    std::fs::write(
        s.ws.join("packaging/quick.sh"),
        "set -e\nout=\"$1\"; mkdir -p \"$out\"\necho ::step:: Build\nprintf 'payload' > \"$out/Quick-0.1.0.msi\"\necho \"::artifact:: $out/Quick-0.1.0.msi\"\n",
    )
    .expect("script");

    // A dry run builds nothing and records nothing.
    let o = bin(
        &s.ws,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "quick",
            "--dry-run",
        ],
    )
    .output()
    .expect("dry run");
    ok(&o);
    assert!(!s.ws.join("releases/0.1.0/source.json").exists());

    let o = run_platform(&s.ws, "quick");
    let out = text(&o);
    assert!(
        out.contains(&format!("source: building refs/heads/main at {built}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("source: recorded {built} as the built commit")),
        "{out}"
    );
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.ws.join("releases/0.1.0/source.json")).expect("source.json"),
    )
    .expect("json");
    assert_eq!(record["built_commit"], built.as_str());
    let audit = std::fs::read_to_string(s.ws.join("audit.log")).expect("audit");
    assert!(audit.contains("\"source.built-commit\""), "audited");

    // Main moves on after the build: `release tag` tags what was built, not main's head.
    std::fs::write(repo.join("app.txt"), "later\n").expect("write");
    git(&repo, &["commit", "-q", "-am", "fix: later"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    assert_ne!(head, built);
    let o = bin(&s.ws, &["release", "tag", "0.1.0"])
        .output()
        .expect("tag");
    ok(&o);
    assert_eq!(git(&repo, &["rev-parse", "v0.1.0^{commit}"]), built);

    // A failed build records nothing: the record stays the built commit.
    std::fs::write(
        s.ws.join("packaging/quick.sh"),
        "echo ::step:: Build\nexit 3\n",
    )
    .expect("script");
    let o = run_platform(&s.ws, "quick");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.ws.join("releases/0.1.0/source.json")).expect("source.json"),
    )
    .expect("json");
    assert_eq!(record["built_commit"], built.as_str());
}

/// A stop asked for between two builds (SIGTERM while the next platform's preflight runs a
/// slow tool) stops the run: the next platform is not built. The console heard the signal
/// once it had listened for one during the first build; one that came between the tasks it
/// watched was swallowed and the next build ran.
#[cfg(unix)]
#[test]
fn a_stop_between_two_builds_stops_the_run() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    ok(&bin(&ws, &["init"]).arg(&ws).output().expect("init"));
    ok(&bin(&ws, &["release", "new", "0.1.0"])
        .output()
        .expect("release"));
    let tools = dir.path().join("bin");
    std::fs::create_dir_all(&tools).expect("bin");
    let started = dir.path().join("slowtool-started");
    let second_ran = dir.path().join("second-ran");
    let slow = tools.join("slowtool");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\ntouch '{}'\nsleep 4\necho slowtool 1.0\n",
            started.display()
        ),
    )
    .expect("slowtool");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(
        ws.join("packaging/pipelines/default.toml"),
        format!(
            r#"
[platforms.first]
title = "Quick"
host_os = "linux"
builder = ["bash", "packaging/first.sh"]
args = ["{{out_dir}}"]
checklist_kind = "pipeline.first"

[platforms.second]
title = "After a slow preflight"
host_os = "linux"
builder = ["bash", "packaging/second.sh"]
args = ["{{out_dir}}", "{}"]
checklist_kind = "pipeline.second"

[[platforms.second.tools]]
name = "slowtool"
version_args = ["--version"]
install = "it is in the test's bin folder"
"#,
            second_ran.display()
        ),
    )
    .expect("definition");
    let script = |file: &str, tail: &str| {
        format!(
            "set -e\nout=\"$1\"; mkdir -p \"$out\"\n{tail}echo ::step:: Build\n\
             printf 'payload' > \"$out/{file}\"\necho \"::artifact:: $out/{file}\"\n"
        )
    };
    std::fs::write(ws.join("packaging/first.sh"), script("First-0.1.0.zip", "")).expect("first");
    std::fs::write(
        ws.join("packaging/second.sh"),
        script("Second-0.1.0.zip", "touch \"$2\"\n"),
    )
    .expect("second");
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = bin(
        &ws,
        &["pipeline", "run", "--version", "0.1.0", "--platform", "all"],
    )
    .env("PATH", &path)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("pipeline run");
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while !started.exists() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "ended before the second preflight"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no second preflight in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let o = child.wait_with_output().expect("wait");
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        !second_ran.exists(),
        "the second platform was built after the stop: {out}"
    );
    assert!(
        out.contains("terminated: starting no further build")
            && out.contains("FAIL second: cancelled before it started"),
        "{out}"
    );
    assert!(
        ws.join("releases/0.1.0/artifacts/First-0.1.0.zip").exists(),
        "{out}"
    );
}

/// The demo makes its PKI in-process: with an `openssl` first on `PATH` that only leaves a
/// mark and fails, its first run still makes the CA, the certificate and the owner-only PFX;
/// the MSI built and signed with them verifies green against the demo's CA with the
/// certificate pinned by SHA-256, and red with another pin.
#[test]
fn the_demo_signs_with_a_pki_made_without_openssl_and_verifies_against_the_pinned_certificate() {
    use release_console::demo;
    let home = tempfile::tempdir().expect("home");
    let cwd = tempfile::tempdir().expect("cwd");
    let mark = home.path().join("openssl-ran");
    let path = shim(
        home.path(),
        "openssl",
        &format!("echo \"$*\" >> '{}'; exit 1", mark.display()),
    );
    let demo_cli = |args: &[&str]| {
        common::bin()
            .args(args)
            .current_dir(cwd.path())
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("PATH", &path)
            .env_remove("WINDOWS_PFX_PATH")
            .env_remove("WINDOWS_PFX_PASSWORD")
            .output()
            .expect("run")
    };
    let out = ok(&demo_cli(&["release", "list"]));
    assert!(out.contains("note: using the demo workspace at"), "{out}");
    assert!(!out.contains("signing certificate"), "{out}");
    let root = home.path().join("data/release-console/demo-workspace");
    let signing = root.join(demo::SIGNING_DIR);
    for file in [demo::CA_FILE, demo::CERT_FILE, demo::PFX_FILE, "README.txt"] {
        assert!(signing.join(file).is_file(), "{file}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(signing.join(demo::PFX_FILE))
            .expect("pfx")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the PFX holds the signing key");
    }
    let pfx = release_console::verify::certs::read_identity(
        &signing.join(demo::PFX_FILE),
        Some(release_console::workspace::config::DEMO_PFX_PASSWORD),
    )
    .expect("the PFX opens with the demo's password");
    let cert = release_console::verify::certs::read_identity(&signing.join(demo::CERT_FILE), None)
        .expect("the certificate");
    assert_eq!(pfx.leaf.sha256, cert.leaf.sha256);
    assert_eq!(cert.leaf.subject, demo::LEAF_CN);
    let made = common::audit_entries(&root, "demo.signing", None);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        made[0]["after"]["certificate_sha256"],
        cert.leaf.sha256.to_string()
    );

    // Pin the certificate by SHA-256, then build, sign and verify the Windows installer.
    let cfg = root.join("release-console.toml");
    let text_cfg = std::fs::read_to_string(&cfg).expect("config");
    assert!(
        text_cfg.contains("windows_cert_sha256 = \"\""),
        "{text_cfg}"
    );
    let pinned = |pin: &str| {
        std::fs::write(
            &cfg,
            text_cfg.replace(
                "windows_cert_sha256 = \"\"",
                &format!("windows_cert_sha256 = \"{pin}\""),
            ),
        )
        .expect("config");
    };
    pinned(&cert.leaf.sha256.to_string());
    let o = demo_cli(&[
        "pipeline",
        "run",
        "--version",
        "0.1.0",
        "--platform",
        "windows-on-linux",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("PASS: 1 of 1 artifacts green"), "{out}");
    let report = common::audit_entries(&root, "verify.report", None);
    let last = report.last().expect("a verify entry");
    assert_eq!(
        last["after"]["expected"]["windows_cert_sha256"],
        cert.leaf.sha256.to_string(),
        "judged against the pin: {last}"
    );
    assert!(
        last["after"]["expected"]["ca_file"]
            .as_str()
            .is_some_and(|ca| ca.ends_with(demo::CA_FILE)),
        "{last}"
    );

    // Another pin turns the same file red, naming both digests.
    let other = release_console::digest::Sha256::of(b"another certificate");
    pinned(&other.to_string());
    let artifacts = root.join("releases/0.1.0/artifacts");
    let o = common::bin()
        .arg("--workspace")
        .arg(&root)
        .arg("verify")
        .arg(&artifacts)
        .env("PATH", &path)
        .output()
        .expect("verify");
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "expected certificate SHA-256 {other}, got {}",
            cert.leaf.sha256
        )),
        "{out}"
    );
    assert!(
        !mark.exists(),
        "openssl ran: {}",
        std::fs::read_to_string(&mark).unwrap_or_default()
    );
}
