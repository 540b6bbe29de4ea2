//! `release gates`: every gate between a release and publishing, with real signed artifacts
//! (osslsigncode), real scanner output (the vendor samples) and real certificates (openssl).

use crate::common;

use std::path::{Path, PathBuf};

use crate::common::{Pki, cli, cli_with, ok, sh, text, vendor};
use serde_json::Value;

const VERSION: &str = "1.0.0";

/// A workspace shipping Windows only, pinned to the test PKI's `WireTuner Inc`.
fn workspace(pki: &Pki) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    common::init_pinned_windows(&root, pki);
    assert!(cli(&root, &["release", "new", VERSION]).status.success());
    (dir, root)
}

fn set_config(ws: &Path, from: &str, to: &str) {
    let cfg = ws.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    assert!(text.contains(from), "{from:?} not in the config");
    std::fs::write(&cfg, text.replacen(from, to, 1)).expect("write config");
}

/// `release gates VERSION --json` with `env`: the exit code and every gate by name.
fn gates(ws: &Path, env: &[(&str, &str)]) -> (i32, Vec<(String, String, String)>) {
    let o = cli_with(ws, env, &["--json", "release", "gates", VERSION]);
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let list = v
        .as_array()
        .expect("a list")
        .iter()
        .map(|g| {
            let field = |k: &str| g[k].as_str().expect(k).to_owned();
            (field("gate"), field("state"), field("reason"))
        })
        .collect();
    (o.status.code().expect("exit code"), list)
}

fn gate<'a>(list: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    list.iter().find(|g| g.0 == name).map_or_else(
        || panic!("no gate {name} in {list:#?}"),
        |g| (g.1.as_str(), g.2.as_str()),
    )
}

fn checklist_done(ws: &Path, item: &str) -> bool {
    let o = cli(ws, &["--json", "checklist", "show"]);
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let state = v["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["items"].as_array().expect("items"))
        .find(|i| i["id"] == item)
        .unwrap_or_else(|| panic!("no item {item}"))["state"]
        .clone();
    state["done"].as_bool().unwrap_or(false)
}

#[test]
fn gates_open_one_by_one_as_the_release_gets_ready() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki);
    let artifacts = ws.join("releases").join(VERSION).join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts");
    pki.sign(
        "leaf.pfx",
        "app.msi",
        &artifacts.join("WireTuner-1.0.0.msi"),
    );
    sh(&artifacts, "sha256sum WireTuner-1.0.0.msi > SHA256SUMS");

    // A new release: the checklist phases before "Publish installers" are open, nothing is
    // verified, no findings, and no certificate on this machine (said so, not failed).
    let (code, list) = gates(&ws, &[]);
    assert_eq!(code, 1);
    let names: Vec<&str> = list.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "checklist:pre-release",
            "checklist:build",
            "verify",
            "installers",
            "findings",
            "certificate:windows",
            "secret rotation"
        ]
    );
    let (state, reason) = gate(&list, "secret rotation");
    assert_eq!(state, "open", "an old secret warns, it never blocks");
    assert!(reason.contains("within their schedule"), "{reason}");
    let (state, reason) = gate(&list, "checklist:pre-release");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("3 of 3 items open") && reason.contains("Draft release notes"),
        "{reason}"
    );
    let (state, reason) = gate(&list, "verify");
    assert_eq!(
        (state, reason.starts_with("not verified yet")),
        ("blocked", true),
        "{reason}"
    );
    let (state, reason) = gate(&list, "installers");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("no verified installer for Windows (not verified yet)"),
        "{reason}"
    );
    // Nothing imported is open but unchecked, never a clean scan (amber, not green).
    let (state, reason) = gate(&list, "findings");
    assert_eq!(state, "open");
    assert!(
        reason
            .starts_with("no scanner findings imported: the release's dependencies are unchecked"),
        "{reason}"
    );
    let o = cli_with(&ws, &[], &["--json", "release", "gates", VERSION]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let level = v
        .as_array()
        .and_then(|l| l.iter().find(|g| g["gate"] == "findings"))
        .map(|g| g["level"].clone());
    assert_eq!(level, Some(Value::from("unchecked")), "{v:#}");
    let (state, reason) = gate(&list, "certificate:windows");
    assert_eq!(state, "open");
    assert!(
        reason.starts_with("not checked here") && reason.contains("$WINDOWS_PFX_PATH"),
        "{reason}"
    );

    // A verify of one file with its own sums passes but is not the release's verification:
    // nothing is kept and nothing ticks.
    let file = artifacts.join("WireTuner-1.0.0.msi");
    let sums = artifacts.join("SHA256SUMS");
    let o = cli(
        &ws,
        &[
            "verify",
            file.to_str().expect("utf-8"),
            "--sums",
            sums.to_str().expect("utf-8"),
        ],
    );
    ok(&o);
    assert!(
        !ws.join("releases")
            .join(VERSION)
            .join("verify.json")
            .exists()
    );
    assert!(!checklist_done(&ws, "build.verify"));
    assert_eq!(gate(&gates(&ws, &[]).1, "verify").0, "blocked");

    // The release's own folder with the workspace's pins: kept, ticked, the gate opens.
    let o = cli(&ws, &["verify", artifacts.to_str().expect("utf-8")]);
    ok(&o);
    assert!(checklist_done(&ws, "build.verify"));
    let list = gates(&ws, &[]).1;
    let (state, reason) = gate(&list, "verify");
    assert_eq!(state, "open", "{reason}");
    assert!(
        reason.starts_with("PASS") && reason.contains("1 of 1 artifacts green"),
        "{reason}"
    );
    let (state, reason) = gate(&list, "installers");
    assert_eq!(
        (state, reason),
        ("open", "Windows WireTuner-1.0.0.msi"),
        "the verified, signed installer is named"
    );
    // A record an older console wrote kept no installers: verify again, it says.
    let record = ws.join("releases").join(VERSION).join("verify.json");
    let kept = std::fs::read_to_string(&record).expect("record");
    let mut old: Value = serde_json::from_str(&kept).expect("json");
    old.as_object_mut()
        .expect("object")
        .remove("record_version");
    std::fs::write(&record, old.to_string()).expect("old record");
    let list = gates(&ws, &[]).1;
    let (state, reason) = gate(&list, "installers");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("older console") && reason.contains("verify again"),
        "{reason}"
    );
    std::fs::write(&record, kept).expect("restore");

    // Tick the rest of the two phases by hand: the checklist gates open.
    for item in common::ITEMS_BEFORE_PUBLISH {
        let o = cli(&ws, &["checklist", "tick", item, "--note", "by hand"]);
        assert!(o.status.success(), "{item}: {}", text(&o));
    }
    let (code, list) = gates(&ws, &[]);
    assert_eq!(code, 0, "{list:#?}");
    assert!(list.iter().all(|g| g.1 == "open"));
    let o = cli(&ws, &["release", "gates", VERSION]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains("all 7 gates open"), "{}", text(&o));

    // A HIGH finding blocks; its acceptance opens the gate again.
    let o = cli(
        &ws,
        &[
            "findings",
            "import",
            &vendor("trivy/alpine-39-high-critical.json"),
        ],
    );
    ok(&o);
    let (code, list) = gates(&ws, &[]);
    assert_eq!(code, 1);
    let (state, reason) = gate(&list, "findings");
    assert_eq!(state, "blocked");
    assert!(
        reason.starts_with("2 blocking:") && reason.contains("CVE-"),
        "{reason}"
    );
    let o = cli(&ws, &["--json", "findings", "list"]);
    let found: Value = serde_json::from_slice(&o.stdout).expect("findings json");
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30))
        .strftime("%Y-%m-%d")
        .to_string();
    for f in found.as_array().expect("list") {
        let id = f["id"].as_str().expect("id");
        let o = cli(
            &ws,
            &[
                "findings",
                "accept",
                id,
                "--reason",
                "not reachable from the app",
                "--until",
                &until,
            ],
        );
        ok(&o);
    }
    let (code, list) = gates(&ws, &[]);
    assert_eq!(code, 0, "{list:#?}");
    assert!(gate(&list, "findings").1.contains("2 risk-accepted"));

    // Changing an artifact after its verification closes the verify gate.
    std::fs::write(artifacts.join("notes.txt"), "late addition").expect("write");
    let (code, list) = gates(&ws, &[]);
    assert_eq!(code, 1);
    let (state, reason) = gate(&list, "verify");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("changed since the verify") && reason.contains("added notes.txt"),
        "{reason}"
    );
}

#[test]
fn a_signing_certificate_near_or_past_its_expiry_blocks_the_gate() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki);
    let pfx = pki.path("leaf.pfx");
    let pfx = pfx.to_str().expect("utf-8");
    let with_pfx = [("WINDOWS_PFX_PATH", pfx), ("WINDOWS_PFX_PASSWORD", "pw")];

    // The PFX, opened in-process with its password: valid for 825 days from its making (824
    // once a second has passed).
    let (_, list) = gates(&ws, &with_pfx);
    let (state, reason) = gate(&list, "certificate:windows");
    assert_eq!(state, "open", "{reason}");
    assert!(
        reason.starts_with("WireTuner Inc: valid until")
            && (reason.contains("(824 days)") || reason.contains("(825 days)")),
        "{reason}"
    );

    // A PFX made the way older Windows tools export it (3DES) reads the same.
    sh(
        &pki.path(""),
        "openssl pkcs12 -export -out leaf-3des.pfx -inkey leaf.key -in leaf.pem -certfile ca.pem \
         -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -passout pass:pw",
    );
    let old = pki.path("leaf-3des.pfx");
    let (_, list) = gates(
        &ws,
        &[
            ("WINDOWS_PFX_PATH", old.to_str().expect("utf-8")),
            ("WINDOWS_PFX_PASSWORD", "pw"),
        ],
    );
    assert_eq!(gate(&list, "certificate:windows").0, "open", "{list:#?}");

    // The wrong password is a blocked gate that names the file, never the password.
    let (_, list) = gates(
        &ws,
        &[
            ("WINDOWS_PFX_PATH", pfx),
            ("WINDOWS_PFX_PASSWORD", "wrong-pw-123"),
        ],
    );
    let (state, reason) = gate(&list, "certificate:windows");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("leaf.pfx") && reason.contains("PKCS#12"),
        "{reason}"
    );
    assert!(!reason.contains("wrong-pw-123"));
    // No password at all is named too.
    let (_, list) = gates(&ws, &[("WINDOWS_PFX_PATH", pfx)]);
    let (state, reason) = gate(&list, "certificate:windows");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("$WINDOWS_PFX_PASSWORD is not set"),
        "{reason}"
    );

    // Within [signing] min_valid_days: blocked, with the days left.
    set_config(&ws, "min_valid_days = 30", "min_valid_days = 900");
    let (code, list) = gates(&ws, &with_pfx);
    assert_eq!(code, 1);
    let (state, reason) = gate(&list, "certificate:windows");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("days (under [signing] min_valid_days = 900)")
            && (reason.contains("in 824 days") || reason.contains("in 825 days")),
        "{reason}"
    );
    set_config(&ws, "min_valid_days = 900", "min_valid_days = 30");

    // A public certificate (PEM) that expired: blocked, without any PFX on this machine.
    sh(
        &pki.path(""),
        r"
        mkdir -p oldca && cd oldca && touch index.txt && echo 01 > serial
        printf '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nserial=serial\nnew_certs_dir=.\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' > ca.cnf
        openssl req -newkey rsa:2048 -nodes -keyout old.key -out old.csr -subj '/CN=WireTuner Old' 2>/dev/null
        openssl ca -batch -config ca.cnf -cert ../ca.pem -keyfile ../ca.key -in old.csr -out old.pem \
          -startdate 20240101000000Z -enddate 20250101000000Z 2>/dev/null
        ",
    );
    std::fs::copy(pki.path("oldca/old.pem"), ws.join("windows-signing.pem")).expect("copy");
    set_config(
        &ws,
        "windows_certificate = \"\"",
        "windows_certificate = \"windows-signing.pem\"",
    );
    let (_, list) = gates(&ws, &[]);
    let (state, reason) = gate(&list, "certificate:windows");
    assert_eq!(state, "blocked");
    assert!(reason.starts_with("WireTuner Old: expired"), "{reason}");
}
