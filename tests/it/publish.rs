//! `publish` to the local store: gated, exactly the verified bytes, checked after upload,
//! resumable, the feeds written last; `publish status` and `publish yank`.

use crate::apple_pki;
use crate::common;

use std::path::{Path, PathBuf};

use crate::common::{Pki, cli, ok, text};
use serde_json::Value;

/// A Windows-only workspace pinned to the test PKI, with `versions` each signed, summed,
/// verified and with the checklist ticked up to publishing.
fn workspace(pki: &Pki, versions: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init_pinned_windows(&ws, pki);
    for v in versions {
        common::make_publishable(pki, &ws, v);
    }
    (dir, ws)
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("hash")
        .to_owned()
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// How many audit entries have `action` on `target`.
fn audited(ws: &Path, action: &str, target: &str) -> usize {
    common::audit_entries(ws, action, Some(target)).len()
}

/// Rebuilds `version`'s MSI (signed again: other bytes), sums and verifies it again; the new
/// SHA-256.
#[cfg(unix)]
fn rebuild(pki: &Pki, ws: &Path, version: &str) -> String {
    let artifacts = ws.join("releases").join(version).join("artifacts");
    let msi = artifacts.join(format!("WireTuner-{version}.msi"));
    let old = sha256(&msi);
    // The timestamp's time and nonce differ from one signing to the next.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::remove_file(&msi).expect("the old build");
    pki.sign("leaf.pfx", "app.msi", &msi);
    common::sh(&artifacts, "sha256sum *.msi > SHA256SUMS");
    let o = cli(
        ws,
        &[
            "verify",
            artifacts.to_str().expect("utf-8"),
            "--release",
            version,
        ],
    );
    ok(&o);
    let new = sha256(&msi);
    assert_ne!(old, new, "the rebuilt MSI has other bytes");
    new
}

/// Puts a directory where the channel's first feed (`appcast.xml`) goes: writing the feeds fails.
fn block_feeds(ws: &Path, channel: &str) -> PathBuf {
    let at = ws.join(format!(
        "published/WireTuner/releases/{channel}/appcast.xml"
    ));
    let _ = std::fs::remove_file(&at);
    std::fs::create_dir_all(at.join("in-the-way")).expect("block");
    at
}

fn ticked(ws: &Path, version: &str, item: &str) -> bool {
    let v = json(&cli(
        ws,
        &["--json", "checklist", "show", "--release", version],
    ));
    v["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["items"].as_array().expect("items"))
        .find(|i| i["id"] == item)
        .is_some_and(|i| i["state"]["done"] == true)
}

#[test]
fn publish_is_gated_uploads_the_verified_bytes_and_writes_the_feeds_last() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &[]);
    // A release whose artifacts were never verified: refused, naming the gate; nothing stored.
    assert!(cli(&ws, &["release", "new", "0.9.0"]).status.success());
    let o = cli(&ws, &["publish", "--version", "0.9.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("publishing 0.9.0 is refused")
            && text(&o).contains("verify (not verified yet"),
        "{}",
        text(&o)
    );
    assert!(!ws.join("published").exists());
    let o = cli(&ws, &["publish", "--version", "0.9.0", "--dry-run"]);
    assert!(
        text(&o).contains("nothing to upload: 0.9.0 has no verification to publish from"),
        "{}",
        text(&o)
    );

    common::make_publishable(&pki, &ws, "1.0.0");
    // The dry run shows every key, size and checksum and the feeds, and stores nothing.
    let o = cli(&ws, &["publish", "--version", "1.0.0", "--dry-run"]);
    ok(&o);
    let artifact = ws.join("releases/1.0.0/artifacts/WireTuner-1.0.0.msi");
    let hash = sha256(&artifact);
    assert!(
        text(&o).contains(&format!(
            "WireTuner/releases/1.0.0/WireTuner-1.0.0.msi  {} bytes  sha256 {hash}",
            std::fs::metadata(&artifact).expect("meta").len()
        )),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("--- WireTuner/releases/stable/latest.json (no-cache)"),
        "{}",
        text(&o)
    );
    assert!(!ws.join("published").exists());

    let o = cli(&ws, &["--json", "publish", "--version", "1.0.0"]);
    ok(&o);
    let done = json(&o);
    assert_eq!(
        done["uploaded"].as_array().map(Vec::len),
        Some(2),
        "{done:#}"
    );
    let root = ws.join("published/WireTuner/releases");
    assert_eq!(sha256(&root.join("1.0.0/WireTuner-1.0.0.msi")), hash);
    assert_eq!(
        std::fs::read(root.join("1.0.0/SHA256SUMS")).expect("sums"),
        std::fs::read(ws.join("releases/1.0.0/artifacts/SHA256SUMS")).expect("sums")
    );
    // latest.json names the verified bytes; the appcast is valid XML with Sparkle's namespace.
    let latest: Value =
        serde_json::from_slice(&std::fs::read(root.join("stable/latest.json")).expect("latest"))
            .expect("json");
    assert_eq!(latest["version"], "1.0.0");
    assert_eq!(
        latest["platforms"]["windows-x86_64"]["sha256"],
        hash.as_str()
    );
    let url = latest["platforms"]["windows-x86_64"]["url"]
        .as_str()
        .expect("url");
    assert!(
        url.starts_with("file://")
            && url.ends_with("/published/WireTuner/releases/1.0.0/WireTuner-1.0.0.msi"),
        "{url}"
    );
    let parsed = std::process::Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag == 'rss' and r.get('version') == '2.0'; c = r.find('channel'); print(len(c.findall('item')), c.find('title').text)"])
        .arg(root.join("stable/appcast.xml"))
        .output()
        .expect("python3");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&parsed.stdout).trim(),
        "0 WireTuner (stable)",
        "no macOS installer, no item"
    );
    let page = std::fs::read_to_string(root.join("stable/index.html")).expect("page");
    assert!(page.contains(&hash) && page.contains("1.0.0 (latest)"));
    // The task ticked both items; the audit log says what was published.
    assert!(ticked(&ws, "1.0.0", "deploy.publish-installers"));
    assert!(ticked(&ws, "1.0.0", "deploy.download-links"));

    // Again: nothing is sent twice.
    let again = json(&cli(&ws, &["--json", "publish", "--version", "1.0.0"]));
    assert_eq!(again["uploaded"].as_array().map(Vec::len), Some(0));
    assert_eq!(again["already_there"].as_array().map(Vec::len), Some(2));
    // A stored object changed outside the console is not replaced: refused, naming what the
    // store holds and the published bytes.
    std::fs::write(root.join("1.0.0/WireTuner-1.0.0.msi"), b"truncated").expect("damage");
    let o = cli(&ws, &["publish", "--version", "1.0.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let damaged = release_console::sha256_hex(b"truncated");
    assert!(
        text(&o).contains(&format!("the store holds SHA-256 {damaged}"))
            && text(&o).contains(&hash)
            && text(&o).contains("changed outside the console"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read(root.join("1.0.0/WireTuner-1.0.0.msi")).expect("stored"),
        b"truncated"
    );
    // Removed, it is created again with the published bytes.
    std::fs::remove_file(root.join("1.0.0/WireTuner-1.0.0.msi")).expect("remove");
    let fixed = json(&cli(&ws, &["--json", "publish", "--version", "1.0.0"]));
    assert_eq!(
        fixed["uploaded"],
        serde_json::json!(["WireTuner/releases/1.0.0/WireTuner-1.0.0.msi"])
    );
    assert_eq!(sha256(&root.join("1.0.0/WireTuner-1.0.0.msi")), hash);

    // An artifact changed after its verification: refused by the verify gate.
    std::fs::write(ws.join("releases/1.0.0/artifacts/notes.txt"), "late").expect("write");
    let o = cli(&ws, &["publish", "--version", "1.0.0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("the artifacts changed since the verify"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_yank_points_the_feeds_back_and_counts_against_the_success_rate() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &["1.0.0", "1.1.0"]);
    for v in ["1.0.0", "1.1.0"] {
        let o = cli(&ws, &["publish", "--version", v]);
        assert!(o.status.success(), "{v}: {}", text(&o));
    }
    let s = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], "1.1.0");
    assert_eq!(s["feeds"]["WireTuner/releases/stable/latest.json"], "1.1.0");
    // Also on beta, before the yank.
    let o = cli(&ws, &["publish", "--version", "1.1.0", "--channel", "beta"]);
    ok(&o);

    let o = cli(
        &ws,
        &["publish", "yank", "--version", "1.1.0", "--reason", ""],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--reason must say why"), "{}", text(&o));
    let o = cli(
        &ws,
        &[
            "publish",
            "yank",
            "--version",
            "1.1.0",
            "--reason",
            "crashes on start",
        ],
    );
    ok(&o);
    let s = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], "1.0.0");
    assert_eq!(s["feeds"]["WireTuner/releases/stable/latest.json"], "1.0.0");
    assert_eq!(s["yanked"][0]["reason"], "crashes on start");
    // The objects stay; the only live version cannot be yanked.
    assert!(
        ws.join("published/WireTuner/releases/1.1.0/WireTuner-1.1.0.msi")
            .is_file()
    );
    let o = cli(
        &ws,
        &["publish", "yank", "--version", "1.0.0", "--reason", "x"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("the only live version"), "{}", text(&o));
    // A yanked version is not published again, on its channel or another: it was bad, and
    // publishing it would offer it again and announce it a second time.
    let announced = audited(&ws, "publish", "1.1.0");
    for channel in ["stable", "beta", "nightly"] {
        let o = cli(
            &ws,
            &["publish", "--version", "1.1.0", "--channel", channel],
        );
        assert_ne!(o.status.code(), Some(0), "{channel}: {}", text(&o));
        assert!(
            text(&o).contains("1.1.0 was yanked from channel stable at ")
                && text(&o).contains("(crashes on start); a yanked version is not published again"),
            "{channel}: {}",
            text(&o)
        );
    }
    assert_eq!(audited(&ws, "publish", "1.1.0"), announced);
    // The log remembers the yank when the channel records are gone.
    std::fs::rename(ws.join("publish"), ws.join("publish-kept")).expect("move publish/");
    let o = cli(&ws, &["publish", "--version", "1.1.0", "--channel", "beta"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("1.1.0 was yanked from channel stable at "),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(ws.join("publish")).ok();
    std::fs::rename(ws.join("publish-kept"), ws.join("publish")).expect("restore publish/");
    let s = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], "1.0.0");
    assert_eq!(s["feeds"]["WireTuner/releases/stable/latest.json"], "1.0.0");
    // Another channel has its own feeds; stable's yank left beta as it was.
    let beta = json(&cli(
        &ws,
        &["--json", "publish", "status", "--channel", "beta"],
    ));
    assert_eq!(
        beta["feeds"]["WireTuner/releases/beta/latest.json"],
        "1.1.0"
    );
    assert_eq!(
        json(&cli(&ws, &["--json", "publish", "status"]))["live"],
        "1.0.0"
    );
    let o = cli(&ws, &["publish", "--version", "1.1.0", "--channel", "../x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("channel \"../x\": use letters, digits, - and _"),
        "{}",
        text(&o)
    );
    // `Beta` would be beta's record on macOS and Windows.
    let o = cli(&ws, &["publish", "--version", "1.0.0", "--channel", "Beta"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("channel \"Beta\": use lowercase letters (its record publish/beta.json"),
        "{}",
        text(&o)
    );
    // The metrics see the yank.
    let m = json(&cli(&ws, &["--json", "metrics"]));
    assert!(
        (m["deployment_success"]["rate"].as_f64().expect("rate") - 0.5).abs() < 1e-9,
        "{m:#}"
    );
}

#[test]
fn with_a_sparkle_key_the_appcast_carries_an_ed25519_signature_openssl_verifies() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &[]);
    let version = "1.3.0";
    // A zipped .app beside the MSI: the macOS update the appcast offers, signed with the test
    // Developer ID, stapled, and verified green with the test Apple-like root trusted and the
    // team pinned (a zip that is not a signed app is red, and never published).
    let apple = apple_pki::ApplePki::new();
    let tsa = apple.tsa();
    let app_dir = tempfile::tempdir().expect("app");
    let app = apple_pki::signed_app(&apple, app_dir.path(), &tsa, None);
    apple_pki::staple(&apple, &app);
    let app_zip = app_dir.path().join("app.zip");
    apple_pki::zip_app(&app, &app_zip, None);
    let roots = [
        std::fs::read_to_string(ws.join("ca.pem")).expect("ca"),
        std::fs::read_to_string(apple.path("ca.pem")).expect("apple ca"),
    ]
    .concat();
    std::fs::write(ws.join("ca.pem"), roots).expect("roots");
    let cfg = ws.join("release-console.toml");
    let text_cfg = std::fs::read_to_string(&cfg).expect("config");
    assert!(text_cfg.contains("apple_team_id = \"\""), "{text_cfg}");
    std::fs::write(
        &cfg,
        text_cfg.replace(
            "apple_team_id = \"\"",
            &format!("apple_team_id = \"{}\"", apple_pki::TEAM),
        ),
    )
    .expect("pin the team");
    common::make_publishable_with(
        &pki,
        &ws,
        version,
        &format!("cp '{}' WireTuner-1.3.0.app.zip", app_zip.display()),
    );
    let zip_size = std::fs::metadata(&app_zip).expect("zip").len().to_string();
    let artifacts = ws.join("releases").join(version).join("artifacts");
    // A key as Sparkle 2 exports it: the base64 of the 32-byte seed.
    let keys = tempfile::tempdir().expect("keys");
    common::sh(
        keys.path(),
        "openssl genpkey -algorithm ed25519 -out key.pem && \
         openssl pkey -in key.pem -pubout -out pub.pem && \
         openssl pkey -in key.pem -outform DER | tail -c 32 | base64 > seed.b64 && \
         openssl pkey -pubin -in pub.pem -outform DER | tail -c 32 | base64 > pub.b64",
    );
    let seed = std::fs::read_to_string(keys.path().join("seed.b64")).expect("seed");
    let public = std::fs::read_to_string(keys.path().join("pub.b64")).expect("pub");
    let env = [("SPARKLE_ED_PRIVATE_KEY", seed.trim())];

    // Pinned to another app's public key: refused, naming both keys.
    let cfg = ws.join("release-console.toml");
    let pinned = |key: &str| {
        let mut t: toml::Table = std::fs::read_to_string(&cfg)
            .expect("cfg")
            .parse()
            .expect("toml");
        t["publish"]
            .as_table_mut()
            .expect("[publish]")
            .insert("sparkle_public_key".into(), key.into());
        toml::to_string(&t).expect("toml")
    };
    std::fs::write(&cfg, pinned("c29tZW9uZSBlbHNlJ3Mga2V5IGlzIG5vdCBvdXJzIQ==")).expect("cfg");
    let o = common::cli_with(&ws, &env, &["publish", "--version", version]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("is the key of public key {}", public.trim())),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains(seed.trim()), "the seed is never shown");

    std::fs::write(&cfg, pinned(public.trim())).expect("cfg");
    // The release's notes (as `release notes --write` saves them) go out with it.
    std::fs::write(
        ws.join("releases").join(version).join("notes.md"),
        "# WireTuner 1.3.0\n\n## Fixes\n\n- snapping <b>works</b> ([#17](https://github.com/o/r/pull/17))\n",
    )
    .expect("notes");
    let o = common::cli_with(&ws, &env, &["publish", "--version", version]);
    ok(&o);
    let appcast =
        std::fs::read_to_string(ws.join("published/WireTuner/releases/stable/appcast.xml"))
            .expect("appcast");
    let doc = release_console::net::xml::parse(&appcast).expect("appcast parses");
    let enclosure = doc
        .child("channel")
        .and_then(|c| c.child("item"))
        .and_then(|i| i.child("enclosure"))
        .expect("enclosure");
    let sig = enclosure.attr("sparkle:edSignature").expect("edSignature");
    assert_eq!(
        doc.attr("xmlns:sparkle"),
        Some("http://www.andymatuschak.org/xml-namespaces/sparkle")
    );
    let item = doc
        .child("channel")
        .and_then(|c| c.child("item"))
        .expect("item");
    assert_eq!(item.text_of("version"), Some("1.3.0"));
    let notes = item
        .text_of("description")
        .expect("the notes in <description>");
    assert!(notes.contains("<h2>Fixes</h2>"), "{notes}");
    assert!(
        notes.contains("snapping &lt;b&gt;works&lt;/b&gt;"),
        "{notes}"
    );
    assert!(
        appcast.contains("<description><![CDATA[<h1>WireTuner 1.3.0</h1>"),
        "{appcast}"
    );
    let stable = ws.join("published/WireTuner/releases/stable");
    let latest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(stable.join("latest.json")).expect("latest.json"),
    )
    .expect("json");
    assert!(
        latest["notes"]
            .as_str()
            .unwrap_or("")
            .starts_with("# WireTuner 1.3.0"),
        "{latest}"
    );
    let page = std::fs::read_to_string(stable.join("index.html")).expect("index.html");
    assert!(
        page.contains("<h2>Fixes</h2>"),
        "the downloads page shows the notes"
    );
    let date = item.text_of("pubDate").expect("pubDate");
    let at = jiff::fmt::rfc2822::parse(date).expect("RFC 2822 pubDate");
    let age = jiff::Timestamp::now().duration_since(at.timestamp());
    assert!(age.as_secs() >= 0 && age.as_secs() < 600, "{date}");
    assert_eq!(enclosure.attr("length"), Some(zip_size.as_str()));
    std::fs::write(keys.path().join("sig.b64"), sig).expect("sig");
    let zip = artifacts.join("WireTuner-1.3.0.app.zip");
    // openssl checks the signature over the installer's bytes with the public key.
    common::sh(
        keys.path(),
        &format!(
            "base64 -d sig.b64 > sig.bin && openssl pkeyutl -verify -pubin -inkey pub.pem -rawin \
             -in '{}' -sigfile sig.bin",
            zip.display()
        ),
    );
    // And one flipped byte does not verify.
    let mut bytes = std::fs::read(&zip).expect("zip");
    bytes[0] ^= 1;
    std::fs::write(keys.path().join("flipped"), &bytes).expect("flipped");
    let o = std::process::Command::new("openssl")
        .args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "flipped",
            "-sigfile", "sig.bin",
        ])
        .current_dir(keys.path())
        .output()
        .expect("openssl");
    assert!(!o.status.success(), "a changed installer must not verify");

    // The installer changed after its verification (size and time kept, so the verify gate's
    // stamp does not see it), while the store already holds the verified bytes: nothing is
    // signed over the changed bytes; refused, naming both hashes.
    let verified = release_console::sha256_hex(&std::fs::read(&zip).expect("zip"));
    let mtime = std::fs::metadata(&zip)
        .expect("meta")
        .modified()
        .expect("mtime");
    std::fs::write(&zip, &bytes).expect("change");
    std::fs::File::options()
        .write(true)
        .open(&zip)
        .expect("open")
        .set_modified(mtime)
        .expect("mtime");
    let o = common::cli_with(&ws, &env, &["publish", "--version", version]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "its bytes now have SHA-256 {}, not the verified {verified}",
            release_console::sha256_hex(&bytes)
        )),
        "{}",
        text(&o)
    );
    let after = std::fs::read_to_string(ws.join("published/WireTuner/releases/stable/appcast.xml"))
        .expect("appcast");
    assert_eq!(after, appcast, "the appcast is as it was");
}

#[cfg(unix)]
#[test]
fn a_published_version_never_changes_is_announced_once_and_channels_are_checked() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &["0.1.0"]);
    let msi = ws.join("published/WireTuner/releases/0.1.0/WireTuner-0.1.0.msi");
    let o = cli(&ws, &["publish", "--version", "0.1.0"]);
    ok(&o);
    let live = sha256(&msi);
    assert_eq!(audited(&ws, "publish", "0.1.0"), 1);
    // Published files are readable by the web server that serves the folder (0644 as the
    // umask allows), not the owner's only as temporary files are.
    let umask = std::process::Command::new("sh")
        .args(["-c", "umask"])
        .output()
        .expect("umask");
    let umask = u32::from_str_radix(String::from_utf8_lossy(&umask.stdout).trim(), 8)
        .expect("an octal umask");
    for f in [
        msi.clone(),
        msi.with_file_name("SHA256SUMS"),
        ws.join("published/WireTuner/releases/stable/appcast.xml"),
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&f)
            .expect("published")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o644 & !umask, "{}", f.display());
    }
    // A re-run of the completed publish records and announces nothing.
    let again = json(&cli(&ws, &["--json", "publish", "--version", "0.1.0"]));
    assert_eq!(again["already_published"], true, "{again:#}");
    assert_eq!(again["uploaded"].as_array().map(Vec::len), Some(0));
    assert_eq!(audited(&ws, "publish", "0.1.0"), 1, "announced once");

    // Nor does its set of files: a checksum file added beside the verified ones after it was
    // published is refused, naming it, and nothing is uploaded.
    let artifacts = ws.join("releases/0.1.0/artifacts");
    common::sh(
        &artifacts,
        "sha256sum WireTuner-0.1.0.msi > WireTuner-0.1.0.msi.sha256",
    );
    let o = cli(
        &ws,
        &[
            "verify",
            artifacts.to_str().expect("utf-8"),
            "--release",
            "0.1.0",
        ],
    );
    ok(&o);
    let o = cli(&ws, &["publish", "--version", "0.1.0"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("publishing it now would add WireTuner-0.1.0.msi.sha256")
            && text(&o).contains("publish as a new version (nothing was uploaded)"),
        "{}",
        text(&o)
    );
    assert!(
        !ws.join("published/WireTuner/releases/0.1.0/WireTuner-0.1.0.msi.sha256")
            .exists()
    );
    assert_eq!(audited(&ws, "publish", "0.1.0"), 1);
    std::fs::remove_file(artifacts.join("WireTuner-0.1.0.msi.sha256")).expect("rm");
    let o = cli(
        &ws,
        &[
            "verify",
            artifacts.to_str().expect("utf-8"),
            "--release",
            "0.1.0",
        ],
    );
    ok(&o);

    // Rebuilt, summed and verified again: other bytes under the same version are refused,
    // naming both hashes; the live object stays as it was.
    let rebuilt = rebuild(&pki, &ws, "0.1.0");
    let o = cli(&ws, &["publish", "--version", "0.1.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "WireTuner/releases/0.1.0/WireTuner-0.1.0.msi: 0.1.0 was published with SHA-256 \
             {live}; the bytes to publish now have SHA-256 {rebuilt}"
        )) && text(&o).contains("publish them as a new version"),
        "{}",
        text(&o)
    );
    assert_eq!(sha256(&msi), live, "the live object is unchanged");
    assert_eq!(audited(&ws, "publish", "0.1.0"), 1);
    // With the channel records and the store lost (a `publish/` folder removed, a new
    // bucket), the audit log still says what 0.1.0 was published with: refused all the same.
    let keep = ws.join("publish-kept");
    std::fs::rename(ws.join("publish"), &keep).expect("move publish/");
    let published = ws.join("published-kept");
    std::fs::rename(ws.join("published"), &published).expect("move published/");
    let o = cli(&ws, &["publish", "--version", "0.1.0"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("0.1.0 was published with SHA-256 {live}")),
        "{}",
        text(&o)
    );
    assert!(!ws.join("published").exists(), "nothing was uploaded");
    assert_eq!(audited(&ws, "publish", "0.1.0"), 1);
    // The channel's record is a projection of the log: opening the workspace rebuilt it.
    let rebuilt_record: Value = serde_json::from_slice(
        &std::fs::read(ws.join("publish/stable.json")).expect("stable.json rebuilt"),
    )
    .expect("json");
    assert_eq!(rebuilt_record["published"][0]["version"], "0.1.0");
    assert_eq!(
        rebuilt_record["published"][0]["files"][0]["sha256"],
        live.as_str()
    );
    std::fs::remove_dir_all(ws.join("publish")).expect("the rebuilt publish/");
    std::fs::rename(&keep, ws.join("publish")).expect("restore publish/");
    std::fs::rename(&published, ws.join("published")).expect("restore published/");
    // On another channel too: the version's keys are shared.
    let o = cli(&ws, &["publish", "--version", "0.1.0", "--channel", "beta"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&live), "{}", text(&o));
    assert_eq!(sha256(&msi), live);

    // Channel names that are the console's own state files are refused, in any case.
    for reserved in ["uploads", "publish-change", "Uploads"] {
        for args in [
            vec!["publish", "--version", "0.1.0", "--channel", reserved],
            vec!["publish", "status", "--channel", reserved],
        ] {
            let o = cli(&ws, &args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
            assert!(
                text(&o).contains(&format!("channel {reserved:?} is reserved")),
                "{}",
                text(&o)
            );
        }
    }
    assert!(!ws.join("publish/uploads.json").exists());
    let long = "c".repeat(65);
    let o = cli(&ws, &["publish", "status", "--channel", &long]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("at most 64 characters"), "{}", text(&o));
}

#[test]
fn when_the_feeds_fail_a_publish_or_yank_stays_begun_and_a_rerun_finishes_it() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &["1.0.0", "1.1.0"]);
    let o = cli(&ws, &["publish", "--version", "1.0.0"]);
    ok(&o);
    let latest = "WireTuner/releases/stable/latest.json";

    // Publishing 1.1.0 uploads it, then cannot write the feeds: not recorded as published,
    // nothing announced; status still says 1.0.0, as the feeds do.
    let blocked = block_feeds(&ws, "stable");
    let o = cli(&ws, &["publish", "--version", "1.1.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(audited(&ws, "publish", "1.1.0"), 0, "not announced");
    assert_eq!(audited(&ws, "publish.failed", "1.1.0"), 1);
    std::fs::remove_dir_all(&blocked).expect("unblock");
    let s = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], "1.0.0", "{s:#}");
    assert_eq!(s["feeds"][latest], "1.0.0", "{s:#}");
    assert!(
        s["begun"]
            .as_str()
            .is_some_and(|b| b.contains("publish of 1.1.0")),
        "{s:#}"
    );
    // The re-run finishes it: announced once.
    let o = cli(&ws, &["publish", "--version", "1.1.0"]);
    ok(&o);
    let s = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(
        (&s["live"], &s["feeds"][latest]),
        (&"1.1.0".into(), &"1.1.0".into())
    );
    assert_eq!(s["begun"], Value::Null);
    assert!(
        json(&cli(&ws, &["--json", "publish", "--version", "1.1.0"]))["already_published"] == true
    );
    assert_eq!(audited(&ws, "publish", "1.1.0"), 1, "announced once");

    // A yank whose feeds cannot be written stays begun: status and the feeds still say 1.1.0.
    let yank = [
        "publish",
        "yank",
        "--version",
        "1.1.0",
        "--reason",
        "crashes on start",
    ];
    let blocked = block_feeds(&ws, "stable");
    let o = cli(&ws, &yank);
    // Failed, not misused: exit 1, as a publish whose feeds fail.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    std::fs::remove_dir_all(&blocked).expect("unblock");
    let s = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], "1.1.0", "{s:#}");
    assert_eq!(s["feeds"][latest], "1.1.0", "{s:#}");
    assert!(
        s["begun"]
            .as_str()
            .is_some_and(|b| b.contains("yank of 1.1.0")),
        "{s:#}"
    );
    assert_eq!(audited(&ws, "publish.yank", "1.1.0"), 0);
    // Run again, it is finished (not refused as "not live"), and recorded once.
    let o = cli(&ws, &yank);
    ok(&o);
    let s = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(
        (&s["live"], &s["feeds"][latest]),
        (&"1.0.0".into(), &"1.0.0".into())
    );
    assert_eq!(s["begun"], Value::Null);
    assert_eq!(s["yanked"][0]["reason"], "crashes on start");
    let o = cli(&ws, &yank);
    ok(&o);
    assert_eq!(audited(&ws, "publish.yank", "1.1.0"), 1, "announced once");
}

/// `release gates VERSION --json`'s installers gate: its state and reason.
fn installers_gate(ws: &Path, version: &str) -> (String, String) {
    let list = json(&cli(ws, &["--json", "release", "gates", version]));
    let g = list
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["gate"] == "installers")
        .unwrap_or_else(|| panic!("no installers gate: {list:#}"))
        .clone();
    (
        g["state"].as_str().expect("state").to_owned(),
        g["reason"].as_str().expect("reason").to_owned(),
    )
}

#[test]
fn a_platform_with_no_verified_installer_blocks_until_the_release_records_why_it_is_not_shipped() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &[]);
    // The product ships Windows and macOS; this release has a signed MSI and nothing for macOS.
    let cfg = ws.join("release-console.toml");
    let text_cfg = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text_cfg.replacen(
            "platforms = [\"windows\"]",
            "platforms = [\"windows\", \"macos\"]",
            1,
        ),
    )
    .expect("config");
    common::make_publishable(&pki, &ws, "1.0.0");
    let (state, reason) = installers_gate(&ws, "1.0.0");
    assert_eq!(state, "blocked");
    assert!(
        reason.contains("no verified installer for macOS (none among the verified artifacts)")
            && reason.contains("publish --skip-platform macos --reason"),
        "{reason}"
    );
    // Refused, naming the gate: nothing stored, nothing written.
    let o = cli(&ws, &["publish", "--version", "1.0.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("installers (no verified installer for macOS (none among"),
        "{}",
        text(&o)
    );
    assert!(!ws.join("published").exists());

    // What cannot be skipped, each refused with the reason and nothing recorded: a platform
    // the product does not ship, one that has its verified installer, an empty reason, a
    // skip with no reason at all, and a skip in a dry run.
    for (args, says) in [
        (
            vec!["--skip-platform", "linux", "--reason", "no Linux build"],
            "linux is not a platform this workspace ships",
        ),
        (
            vec!["--skip-platform", "windows", "--reason", "mac only"],
            "has a verified Windows installer (WireTuner-1.0.0.msi): it ships",
        ),
        (
            vec!["--skip-platform", "macos", "--reason", "   "],
            "say why WireTuner 1.0.0 is not shipped for macOS",
        ),
        (vec!["--skip-platform", "macos"], "--reason"),
        (
            vec!["--skip-platform", "macos", "--reason", "x", "--dry-run"],
            "--dry-run changes nothing",
        ),
        (
            vec!["--skip-platform", "beos", "--reason", "x"],
            "--skip-platform \"beos\": not a platform",
        ),
    ] {
        let mut full = vec!["publish", "--version", "1.0.0"];
        full.extend(args.iter().copied());
        let o = cli(&ws, &full);
        assert!(!o.status.success(), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 0);
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/windows"), 0);
    // A reason that would rewrite the terminal it prints on, and a request for two platforms
    // of which one cannot be skipped: refused whole, nothing recorded.
    for (args, says) in [
        (
            vec![
                "--skip-platform",
                "macos",
                "--reason",
                "ok\n\u{1b}[31mforged",
            ],
            "a control or direction character",
        ),
        (
            vec!["--skip-platform", "macos", "--reason", "left\u{202e}right"],
            "a control or direction character",
        ),
        (
            vec![
                "--skip-platform",
                "macos",
                "--skip-platform",
                "windows",
                "--reason",
                "both",
            ],
            "has a verified Windows installer",
        ),
    ] {
        let mut full = vec!["publish", "--version", "1.0.0"];
        full.extend(args.iter().copied());
        let o = cli(&ws, &full);
        assert!(!o.status.success(), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 0);
    // A skip written into the state file by hand skips nothing: the log is what counts.
    std::fs::create_dir_all(ws.join("pipeline")).expect("pipeline dir");
    std::fs::write(
        ws.join("pipeline/skipped-platforms.json"),
        serde_json::json!({"skips": [{
            "version": "1.0.0", "platform": "macos", "skipped": true,
            "reason": "forged by hand", "by": "mallory",
            "at": "2026-12-04T00:00:00Z", "audit_seq": 5
        }]})
        .to_string(),
    )
    .expect("forge");
    let (state, reason) = installers_gate(&ws, "1.0.0");
    assert_eq!(state, "blocked", "{reason}");
    let o = cli(&ws, &["publish", "--version", "1.0.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = cli(&ws, &["audit", "verify"]);
    assert!(
        !o.status.success(),
        "the forged record is named: {}",
        text(&o)
    );
    std::fs::remove_file(ws.join("pipeline/skipped-platforms.json")).expect("unforge");

    // Another release whose other gates are blocked: the skip would not let it publish, so
    // it is not recorded either.
    assert!(cli(&ws, &["release", "new", "1.1.0"]).status.success());
    let o = cli(
        &ws,
        &[
            "publish",
            "--version",
            "1.1.0",
            "--skip-platform",
            "macos",
            "--reason",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no platform skip was recorded"),
        "{}",
        text(&o)
    );
    assert_eq!(audited(&ws, "release.platform.skip", "1.1.0/macos"), 0);

    // With the reason: recorded (audited), the gate opens amber, the version publishes, and
    // the appcast, which only a macOS installer feeds, is written with no item.
    let reason = "Windows-only hotfix for INC-2026-12-01-001";
    let o = cli(
        &ws,
        &[
            "publish",
            "--version",
            "1.0.0",
            "--skip-platform",
            "macos",
            "--reason",
            reason,
        ],
    );
    ok(&o);
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 1);
    let (state, gate_reason) = installers_gate(&ws, "1.0.0");
    assert_eq!(state, "open");
    assert!(
        gate_reason.starts_with("Windows WireTuner-1.0.0.msi; macOS NOT SHIPPED this time")
            && gate_reason.contains(reason),
        "{gate_reason}"
    );
    let status = json(&cli(&ws, &["--json", "publish", "status"]));
    assert_eq!(status["live"], "1.0.0", "{status:#}");
    // Asked again: already published, and the same skip is not recorded twice.
    let o = cli(
        &ws,
        &[
            "publish",
            "--version",
            "1.0.0",
            "--skip-platform",
            "macos",
            "--reason",
            reason,
        ],
    );
    ok(&o);
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 1);
    // Another reason after the publish is refused: what a published version shipped is fixed.
    let o = cli(
        &ws,
        &[
            "publish",
            "--version",
            "1.0.0",
            "--skip-platform",
            "macos",
            "--reason",
            "rewritten after the publish",
        ],
    );
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("1.0.0 is already published: what it shipped is fixed"),
        "{}",
        text(&o)
    );
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 1);
    let o = cli(&ws, &["audit", "verify"]);
    ok(&o);

    // The record is one the log speaks for: lost (a crash, a restore), it is rolled forward
    // from its entry at the next start; edited by hand, `audit verify` names it.
    let skips = ws.join("pipeline/skipped-platforms.json");
    let kept = std::fs::read_to_string(&skips).expect("the skip record");
    assert!(kept.contains(reason), "{kept}");
    std::fs::write(&skips, "{\"skips\": []}").expect("lose it");
    let (state, gate_reason) = installers_gate(&ws, "1.0.0");
    assert_eq!(state, "open", "{gate_reason}");
    assert!(gate_reason.contains(reason), "{gate_reason}");
    assert_eq!(
        std::fs::read_to_string(&skips).expect("rolled forward"),
        kept
    );
    std::fs::write(&skips, kept.replace(reason, "a reason nobody gave")).expect("edit it");
    let o = cli(&ws, &["audit", "verify"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("skipped-platforms.json disagrees with the log: the skip of 1.0.0/macos is not the record entry"),
        "{}",
        text(&o)
    );
    // One that cannot be read at all fails the check too (exit 1, not a usage error).
    std::fs::write(&skips, "{garbage").expect("break it");
    let o = cli(&ws, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("skipped-platforms.json: not valid state"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_signed_program_named_as_an_installer_is_no_installer() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &[]);
    // macOS is shipped too, pinned to the test Developer ID's team.
    let apple = apple_pki::ApplePki::new();
    let tsa = apple.tsa();
    let roots = [
        std::fs::read_to_string(ws.join("ca.pem")).expect("ca"),
        std::fs::read_to_string(apple.path("ca.pem")).expect("apple ca"),
    ]
    .concat();
    std::fs::write(ws.join("ca.pem"), roots).expect("roots");
    let cfg = ws.join("release-console.toml");
    let text_cfg = std::fs::read_to_string(&cfg)
        .expect("config")
        .replacen(
            "platforms = [\"windows\"]",
            "platforms = [\"windows\", \"macos\"]",
            1,
        )
        .replace(
            "apple_team_id = \"\"",
            &format!("apple_team_id = \"{}\"", apple_pki::TEAM),
        );
    std::fs::write(&cfg, text_cfg).expect("config");
    // A Developer ID signed, timestamped program (valid as what it is) named as a disk image.
    let program = apple_pki::signed(
        &apple,
        apple_pki::How::With {
            cert: "devid",
            tsa: Some(&tsa),
        },
    );
    let staged = tempfile::tempdir().expect("staged");
    std::fs::write(staged.path().join("prog"), &program).expect("program");
    common::make_publishable_with(
        &pki,
        &ws,
        "1.4.0",
        &format!(
            "cp '{}' WireTuner-1.4.0.dmg",
            staged.path().join("prog").display()
        ),
    );
    // It verifies green (its signature is valid), but it is no disk image: no macOS
    // installer, so the gate stays blocked and it is not offered as one.
    let (state, reason) = installers_gate(&ws, "1.4.0");
    assert_eq!(state, "blocked", "{reason}");
    assert!(
        reason.contains("macOS (WireTuner-1.4.0.dmg is not a macOS installer by its content)"),
        "{reason}"
    );
    let o = cli(&ws, &["publish", "--version", "1.4.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

/// A skip settles the checklist item a build of the platform would tick (ticked with the
/// reason), so the build phase does not wait for a build that will not happen; withdrawing
/// the skip (`publish unskip`) unticks that item and no other, and is refused once published.
#[test]
fn a_skip_ticks_the_platforms_build_item_and_withdrawing_it_unticks_only_that() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki, &[]);
    let cfg = ws.join("release-console.toml");
    let text_cfg = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text_cfg.replacen(
            "platforms = [\"windows\"]",
            "platforms = [\"windows\", \"macos\"]",
            1,
        ),
    )
    .expect("config");
    common::make_publishable(&pki, &ws, "1.0.0");
    let untick = cli(
        &ws,
        &["checklist", "untick", "build.macos", "--release", "1.0.0"],
    );
    assert!(untick.status.success(), "{}", text(&untick));
    let item = |ws: &Path| {
        let v = json(&cli(
            ws,
            &["--json", "checklist", "show", "--release", "1.0.0"],
        ));
        v["phases"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["items"].as_array().into_iter().flatten())
            .find(|i| i["id"] == "build.macos")
            .map_or_else(|| panic!("no build.macos: {v:#}"), |i| i["state"].clone())
    };
    // The publish fails after the skip is recorded (the store's folder is a file): the skip
    // and its tick stay, and can be withdrawn.
    std::fs::write(ws.join("published"), "in the way").expect("block the store");
    let reason = "Windows-only hotfix";
    let skip = [
        "publish",
        "--version",
        "1.0.0",
        "--skip-platform",
        "macos",
        "--reason",
        reason,
    ];
    let o = cli(&ws, &skip);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "ticked \"Build, sign and notarize the macOS installer\" (settled by the skip)"
        ),
        "{}",
        text(&o)
    );
    let it = item(&ws);
    assert_eq!(it["done"], true, "{it:#}");
    assert!(
        it["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("macOS not shipped in 1.0.0 this time: Windows-only hotfix (platform skip, audit entry #")),
        "{it:#}"
    );
    let (state, _) = installers_gate(&ws, "1.0.0");
    assert_eq!(state, "open");

    // Withdrawn: audited, the item the skip ticked is unticked, the gate wants macOS again.
    let o = cli(
        &ws,
        &[
            "publish",
            "unskip",
            "--version",
            "1.0.0",
            "--platform",
            "macos",
        ],
    );
    ok(&o);
    assert!(
        text(&o).contains(
            "1.0.0 ships macOS after all: the skip (\"Windows-only hotfix\") is withdrawn"
        ) && text(&o).contains(
            "unticked \"Build, sign and notarize the macOS installer\" (the skip had ticked it)"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(audited(&ws, "release.platform.ship", "1.0.0/macos"), 1);
    assert_eq!(item(&ws)["done"], false);
    let (state, reason_now) = installers_gate(&ws, "1.0.0");
    assert_eq!(state, "blocked", "{reason_now}");
    // Nothing left to withdraw.
    let o = cli(
        &ws,
        &[
            "publish",
            "unskip",
            "--version",
            "1.0.0",
            "--platform",
            "macos",
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("records no skip of macOS"),
        "{}",
        text(&o)
    );

    // An item ticked by hand (what was done instead) is not the skip's: a withdrawal keeps it.
    let o = cli(
        &ws,
        &[
            "checklist",
            "tick",
            "build.macos",
            "--release",
            "1.0.0",
            "--note",
            "built and shipped through the Mac App Store this time",
        ],
    );
    ok(&o);
    let o = cli(&ws, &skip);
    assert!(!o.status.success(), "the store is still in the way");
    assert!(!text(&o).contains("settled by the skip"), "{}", text(&o));
    let o = cli(
        &ws,
        &[
            "publish",
            "unskip",
            "--version",
            "1.0.0",
            "--platform",
            "macos",
        ],
    );
    ok(&o);
    assert!(!text(&o).contains("unticked"), "{}", text(&o));
    assert_eq!(item(&ws)["done"], true);

    // Published with the skip: the skip cannot be withdrawn any more.
    std::fs::remove_file(ws.join("published")).expect("unblock the store");
    let o = cli(&ws, &skip);
    ok(&o);
    let o = cli(
        &ws,
        &[
            "publish",
            "unskip",
            "--version",
            "1.0.0",
            "--platform",
            "macos",
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("1.0.0 is already published (Live on stable since"),
        "{}",
        text(&o)
    );
    assert_eq!(audited(&ws, "release.platform.ship", "1.0.0/macos"), 2);
    let o = cli(&ws, &["audit", "verify"]);
    ok(&o);
}

/// A Windows and macOS workspace whose 1.0.0 has a verified MSI and nothing for macOS, the
/// macOS build item open, and the store's folder blocked by a file (a publish fails after
/// recording its skips).
fn macos_missing(pki: &Pki) -> (tempfile::TempDir, PathBuf) {
    let (d, ws) = workspace(pki, &[]);
    let cfg = ws.join("release-console.toml");
    let text_cfg = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text_cfg.replacen(
            "platforms = [\"windows\"]",
            "platforms = [\"windows\", \"macos\"]",
            1,
        ),
    )
    .expect("config");
    common::make_publishable(pki, &ws, "1.0.0");
    let o = cli(
        &ws,
        &["checklist", "untick", "build.macos", "--release", "1.0.0"],
    );
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(ws.join("published"), "in the way").expect("block the store");
    (d, ws)
}

/// `publish --version 1.0.0 --skip-platform macos --reason REASON`.
fn skip_macos(ws: &Path, reason: &str) -> std::process::Output {
    cli(
        ws,
        &[
            "publish",
            "--version",
            "1.0.0",
            "--skip-platform",
            "macos",
            "--reason",
            reason,
        ],
    )
}

fn unskip_macos(ws: &Path) -> std::process::Output {
    cli(
        ws,
        &[
            "publish",
            "unskip",
            "--version",
            "1.0.0",
            "--platform",
            "macos",
        ],
    )
}

/// The state of 1.0.0's `build.macos` item.
fn macos_item(ws: &Path) -> Value {
    let v = json(&cli(
        ws,
        &["--json", "checklist", "show", "--release", "1.0.0"],
    ));
    v["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["items"].as_array().into_iter().flatten())
        .find(|i| i["id"] == "build.macos")
        .map_or_else(|| panic!("no build.macos: {v:#}"), |i| i["state"].clone())
}

/// The skip's tick is known by the item's state, not by its note: a skip recorded again with
/// another reason is still withdrawn with its tick; a hand tick whose note copies the skip's
/// is a person's, and so is a tick over the skip's (what was done instead): a withdrawal keeps
/// both.
#[test]
fn a_withdrawal_unticks_what_a_skip_ticked_and_only_that_whatever_the_notes_say() {
    let pki = Pki::new();
    let (_d, ws) = macos_missing(&pki);
    // Skipped, then skipped again with another reason (the second records a new entry and
    // ticks nothing: the item is ticked already).
    let o = skip_macos(&ws, "notarization is down");
    assert!(text(&o).contains("settled by the skip"), "{}", text(&o));
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(
        text(&o).contains("not shipped this time: Windows-only hotfix"),
        "{}",
        text(&o)
    );
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 2);
    let o = unskip_macos(&ws);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "unticked \"Build, sign and notarize the macOS installer\" (the skip had ticked it)"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(
        macos_item(&ws)["done"],
        false,
        "the first skip's tick is taken back"
    );

    // A person's tick that copies the note of the skip standing is still a person's.
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(text(&o).contains("settled by the skip"), "{}", text(&o));
    let forged = macos_item(&ws)["note"].as_str().expect("note").to_owned();
    assert!(
        forged.ends_with(')') && forged.contains("audit entry #"),
        "{forged}"
    );
    let o = cli(
        &ws,
        &["checklist", "untick", "build.macos", "--release", "1.0.0"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(
        &ws,
        &[
            "checklist",
            "tick",
            "build.macos",
            "--release",
            "1.0.0",
            "--note",
            &forged,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = unskip_macos(&ws);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("unticked"), "{}", text(&o));
    assert_eq!(macos_item(&ws)["done"], true, "a person's tick stays");

    // A tick over the skip's makes it the person's: the withdrawal keeps it.
    let o = cli(
        &ws,
        &["checklist", "untick", "build.macos", "--release", "1.0.0"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(text(&o).contains("settled by the skip"), "{}", text(&o));
    let o = cli(
        &ws,
        &[
            "checklist",
            "tick",
            "build.macos",
            "--release",
            "1.0.0",
            "--note",
            "built on the Mac mini after all",
        ],
    );
    assert!(o.status.success(), "a tick over the skip's: {}", text(&o));
    let o = unskip_macos(&ws);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("unticked"), "{}", text(&o));
    let it = macos_item(&ws);
    assert_eq!(it["done"], true, "{it:#}");
    assert_eq!(it["note"], "built on the Mac mini after all", "{it:#}");
    let o = cli(&ws, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// A directory where the release's checklist lock goes: ticking and unticking fail (the gates,
/// which take no lock, still read the checklist).
fn block_ticks(ws: &Path) -> PathBuf {
    let at = ws.join("releases/1.0.0/.checklist.lock");
    let _ = std::fs::remove_file(&at);
    std::fs::create_dir_all(at.join("in-the-way")).expect("block");
    at
}

/// A skip whose tick was never made (the process stopped right after the skip's entry) is
/// settled by the next publish, with or without --skip-platform.
#[test]
fn a_skip_whose_tick_was_never_made_is_settled_by_the_next_publish() {
    let pki = Pki::new();
    let (_d, ws) = macos_missing(&pki);
    // Skipped; the tick fails.
    let lock = block_ticks(&ws);
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(!o.status.success(), "{}", text(&o));
    std::fs::remove_dir_all(&lock).expect("unblock");
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 1);
    assert_eq!(macos_item(&ws)["done"], false);
    let o = cli(&ws, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    // The next publish (no --skip-platform) ticks it, as the skip's, and goes on.
    std::fs::remove_file(ws.join("published")).expect("unblock the store");
    let o = cli(&ws, &["publish", "--version", "1.0.0", "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(&ws, &["publish", "--version", "1.0.0"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "ticked \"Build, sign and notarize the macOS installer\" (settled by the skip of macOS, entry #"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(macos_item(&ws)["done"], true);
    assert!(ticked(&ws, "1.0.0", "deploy.publish-installers"));
}

/// A withdrawal that stops before its unticks are made leaves the skip standing with its tick
/// (never a ticked build item with no skip behind it), and the next one finishes it.
#[test]
fn a_withdrawal_that_stops_midway_leaves_the_skip_and_its_tick_and_the_next_finishes_it() {
    let pki = Pki::new();
    let (_d, ws) = macos_missing(&pki);
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(text(&o).contains("settled by the skip"), "{}", text(&o));
    let lock = block_ticks(&ws);
    let o = unskip_macos(&ws);
    assert!(!o.status.success(), "{}", text(&o));
    std::fs::remove_dir_all(&lock).expect("unblock");
    // Nothing half done: the skip stands with its tick.
    assert_eq!(installers_gate(&ws, "1.0.0").0, "open");
    assert_eq!(macos_item(&ws)["done"], true);
    assert_eq!(audited(&ws, "release.platform.ship", "1.0.0/macos"), 0);
    let o = unskip_macos(&ws);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(macos_item(&ws)["done"], false);
    assert_eq!(installers_gate(&ws, "1.0.0").0, "blocked");
    let o = cli(&ws, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// A withdrawal while a publish that began with the skip uploads: the publish records what it
/// shipped under the lock the withdrawal takes, and checks the gates again there, so the
/// version is never published without macOS once macOS is to ship.
#[test]
fn a_withdrawal_racing_a_publish_never_leaves_a_version_published_without_the_platform() {
    let pki = Pki::new();
    let (_d, ws) = macos_missing(&pki);
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(text(&o).contains("settled by the skip"), "{}", text(&o));
    std::fs::remove_file(ws.join("published")).expect("unblock the store");
    // The lock a publish records under, held: the publish uploads, then waits for it.
    std::fs::create_dir_all(ws.join("publish")).expect("publish folder");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(ws.join("publish/.publish-change.lock"))
        .expect("lock file");
    lock.lock().expect("lock");
    let spawn = |args: &[&str]| {
        common::bin()
            .arg("--workspace")
            .arg(&ws)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let publish = spawn(&["publish", "--version", "1.0.0"]);
    let uploaded = || {
        walkdir(&ws.join("published"))
            .iter()
            .any(|p| p.ends_with("WireTuner-1.0.0.msi"))
    };
    // Uploaded and waiting to record (or waiting for the lock before it uploads at all).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !uploaded() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let unskip = spawn(&[
        "publish",
        "unskip",
        "--version",
        "1.0.0",
        "--platform",
        "macos",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    lock.unlock().expect("unlock");
    let publish = publish.wait_with_output().expect("publish");
    let unskip = unskip.wait_with_output().expect("unskip");
    assert!(
        publish.status.success() != unskip.status.success(),
        "exactly one of them: publish {}\nunskip {}",
        text(&publish),
        text(&unskip)
    );
    let live = json(&cli(&ws, &["--json", "publish", "status"]))["published"]
        .as_array()
        .is_some_and(|p| p.iter().any(|v| v == "1.0.0"));
    let skipped = installers_gate(&ws, "1.0.0").0 == "open";
    assert_eq!(live, publish.status.success());
    assert!(
        !live || skipped,
        "published without macOS, but the skip is withdrawn: {}",
        text(&unskip)
    );
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A pipeline definition that cannot be read: a skip cannot know what it settles, and says so
/// (naming the file), instead of refusing for the build item it would have ticked.
#[test]
fn a_skip_with_an_unreadable_pipeline_definition_names_the_definition() {
    let pki = Pki::new();
    let (_d, ws) = macos_missing(&pki);
    let def = ws.join("packaging/pipelines/default.toml");
    assert!(def.is_file(), "the workspace's definition");
    std::fs::write(&def, "[platforms.macos]\nplatform = \"plan9\"\n").expect("break it");
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("pipeline definition (")
            && text(&o).contains("default.toml")
            && text(&o).contains("no platform skip was recorded"),
        "{}",
        text(&o)
    );
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 0);
}

/// `--json publish unskip` is data: the platform, the skip withdrawn, the entry, the items
/// unticked.
#[test]
fn unskip_in_json_says_what_it_withdrew_and_unticked_as_fields() {
    let pki = Pki::new();
    let (_d, ws) = macos_missing(&pki);
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(text(&o).contains("settled by the skip"), "{}", text(&o));
    let v = json(&cli(
        &ws,
        &[
            "--json",
            "publish",
            "unskip",
            "--version",
            "1.0.0",
            "--platform",
            "macos",
        ],
    ));
    assert_eq!(v["version"], "1.0.0", "{v:#}");
    assert_eq!(v["platform"], "macos", "{v:#}");
    assert_eq!(v["withdrawn"]["reason"], "Windows-only hotfix", "{v:#}");
    assert!(v["entry"].as_u64().is_some_and(|n| n > 0), "{v:#}");
    assert_eq!(
        v["unticked"],
        serde_json::json!(["Build, sign and notarize the macOS installer"]),
        "{v:#}"
    );
}

/// An item every platform's build ticks ("Build the installers", one `checklist_kind` for
/// all): skipping macOS does not settle it, Windows is still to build.
#[test]
fn a_skip_does_not_settle_an_item_a_platform_still_shipped_builds_too() {
    let pki = Pki::new();
    let (_d, ws) = macos_missing(&pki);
    let def = ws.join("packaging/pipelines/default.toml");
    let text_def = std::fs::read_to_string(&def).expect("definition");
    let shared = text_def
        .replace(
            "checklist_kind = \"pipeline.macos\"",
            "checklist_kind = \"pipeline.installers\"",
        )
        .replace(
            "checklist_kind = \"pipeline.windows\"",
            "checklist_kind = \"pipeline.installers\"",
        );
    assert_eq!(shared.matches("pipeline.installers").count(), 3, "{shared}");
    std::fs::write(&def, shared).expect("definition");
    let runbook = include_str!("../../assets/runbooks/release_checklist.toml");
    let start = runbook
        .find("[[phases.items]]\nid = \"build.macos\"")
        .expect("build.macos");
    let end = runbook
        .find("[[phases.items]]\nid = \"build.verify\"")
        .expect("build.verify");
    let own = format!(
        "{}[[phases.items]]\nid = \"build.installers\"\ntitle = \"Build the installers\"\nauto_tick_on = \"pipeline.installers\"\n\n{}",
        &runbook[..start],
        &runbook[end..]
    );
    std::fs::create_dir_all(ws.join("runbooks")).expect("runbooks");
    std::fs::write(ws.join("runbooks/release_checklist.toml"), own).expect("runbook");
    let o = skip_macos(&ws, "Windows-only hotfix");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("settled by the skip"), "{}", text(&o));
    assert!(
        text(&o).contains("Build the installers")
            && text(&o).contains("no platform skip was recorded"),
        "{}",
        text(&o)
    );
    assert!(!ticked(&ws, "1.0.0", "build.installers"));
    assert_eq!(audited(&ws, "release.platform.skip", "1.0.0/macos"), 0);
}
