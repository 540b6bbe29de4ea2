//! The installer builders in packaging/: shellcheck clean, and the Linux-hosted Windows builder
//! really builds, signs and checksums an MSI with a throwaway PKI.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Pki;

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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
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
    assert!(o.status.success(), "{}", text(&o));
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
}
