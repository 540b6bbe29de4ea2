//! `publish` to a real S3 server (`SeaweedFS` on loopback, which checks `SigV4` signatures and
//! `x-amz-checksum-sha256`): every object's stored checksum, the cache headers, the feeds as
//! stored; a re-run uploads nothing; a wrong secret and bytes changed after verification are
//! red; a multipart upload killed with SIGKILL is resumed without sending finished parts again;
//! a published version's objects are never replaced (`If-None-Match: *`), also by another store.

use crate::common;

use std::path::{Path, PathBuf};

use crate::common::{Pki, Weed, cli_with, ok, text};
use serde_json::Value;

const ENV: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", common::WEED_ACCESS_KEY),
    ("AWS_SECRET_ACCESS_KEY", common::WEED_SECRET_KEY),
];

/// Points the workspace's `[publish]` at `bucket` on `weed`, with `extra` keys.
fn use_s3(ws: &Path, weed: &Weed, bucket: &str, extra: &[(&str, toml::Value)]) {
    let path = ws.join("release-console.toml");
    let mut cfg: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    let publish = cfg
        .entry("publish")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("[publish]");
    publish.insert("store".into(), "s3".into());
    publish.insert("bucket".into(), bucket.into());
    publish.insert("endpoint".into(), weed.endpoint.as_str().into());
    publish.insert(
        "public_base_url".into(),
        format!("https://downloads.example.com/{bucket}").into(),
    );
    for (k, v) in extra {
        publish.insert((*k).into(), v.clone());
    }
    std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write config");
}

fn run(ws: &Path, args: &[&str]) -> std::process::Output {
    cli_with(ws, &ENV, args)
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The response headers of a HEAD (lower-case names).
fn head(weed: &Weed, bucket: &str, key: &str) -> Vec<(String, String)> {
    let (status, body) = weed.request(
        "HEAD",
        &format!(
            "/{bucket}/{}",
            release_console::net::sigv4::uri_encode(key, true)
        ),
        &[("x-amz-checksum-mode", "ENABLED")],
        b"",
    );
    assert_eq!(status, 200, "HEAD {key}: {body}");
    body.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
    h.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn b64_sha256(path: &Path) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl dgst -sha256 -binary '{}' | base64",
            path.display()
        ))
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn workspace(pki: &Pki) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init_pinned_windows(&ws, pki);
    (dir, ws)
}

#[test]
fn publish_to_s3_stores_checksummed_objects_and_feeds_and_a_rerun_uploads_nothing() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki);
    let weed = Weed::start();
    weed.bucket("releases");
    use_s3(&ws, &weed, "releases", &[]);
    common::make_publishable(&pki, &ws, "1.0.0");

    let o = run(&ws, &["--json", "publish", "--version", "1.0.0"]);
    ok(&o);
    let out = json(&o);
    let uploaded: Vec<&str> = out["uploaded"]
        .as_array()
        .expect("uploaded")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        uploaded,
        [
            "WireTuner/releases/1.0.0/WireTuner-1.0.0.msi",
            "WireTuner/releases/1.0.0/SHA256SUMS"
        ]
    );
    // The server's own checksum of the installer is the file's, and it is served immutable.
    let msi = ws.join("releases/1.0.0/artifacts/WireTuner-1.0.0.msi");
    let h = head(&weed, "releases", uploaded[0]);
    assert_eq!(header(&h, "x-amz-checksum-sha256"), b64_sha256(&msi));
    assert_eq!(
        header(&h, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&h, "content-type"), "application/x-msi");
    // The feeds are stored no-cache and point at the public links of the objects.
    let h = head(&weed, "releases", "WireTuner/releases/stable/latest.json");
    assert_eq!(header(&h, "cache-control"), "no-cache");
    let (status, latest) = weed.request(
        "GET",
        "/releases/WireTuner/releases/stable/latest.json",
        &[],
        b"",
    );
    assert_eq!(status, 200, "{latest}");
    let latest: Value = serde_json::from_str(&latest).expect("latest.json");
    assert_eq!(latest["version"], "1.0.0");
    let win = &latest["platforms"]["windows-x86_64"];
    assert_eq!(
        win["url"],
        "https://downloads.example.com/releases/WireTuner/releases/1.0.0/WireTuner-1.0.0.msi"
    );
    assert_eq!(
        win["size"].as_u64(),
        Some(std::fs::metadata(&msi).expect("msi").len())
    );
    let (status, appcast) = weed.request(
        "GET",
        "/releases/WireTuner/releases/stable/appcast.xml",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    let doc = release_console::net::xml::parse(&appcast).expect("appcast parses");
    assert_eq!(doc.name, "rss");

    // A re-run finds every object stored with the same checksum and sends none.
    let o = run(&ws, &["--json", "publish", "--version", "1.0.0"]);
    ok(&o);
    let out = json(&o);
    assert_eq!(out["uploaded"].as_array().map(Vec::len), Some(0), "{out}");
    assert_eq!(
        out["already_there"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );

    // latest.json's checksum and size are those the server keeps for the object.
    let h = head(&weed, "releases", uploaded[0]);
    let stored = header(&h, "x-amz-checksum-sha256").to_owned();
    let (_, latest) = weed.request(
        "GET",
        "/releases/WireTuner/releases/stable/latest.json",
        &[],
        b"",
    );
    let latest: Value = serde_json::from_str(&latest).expect("latest.json");
    let sha = latest["platforms"]["windows-x86_64"]["sha256"]
        .as_str()
        .expect("sha256");
    assert_eq!(
        sha,
        release_console::sha256_hex(&std::fs::read(&msi).expect("msi")),
        "latest.json names the installer's SHA-256"
    );
    assert_eq!(
        stored,
        b64_sha256(&msi),
        "which is the one the server stored"
    );

    // A second release, then yanked: the stored feeds point back at the first.
    common::make_publishable(&pki, &ws, "1.1.0");
    assert!(
        run(&ws, &["publish", "--version", "1.1.0"])
            .status
            .success()
    );
    let s = json(&run(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["feeds"]["WireTuner/releases/stable/latest.json"], "1.1.0");
    let o = run(
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
    let (_, latest) = weed.request(
        "GET",
        "/releases/WireTuner/releases/stable/latest.json",
        &[],
        b"",
    );
    assert_eq!(
        serde_json::from_str::<Value>(&latest).expect("json")["version"],
        "1.0.0"
    );
    let (status, _) = weed.request(
        "HEAD",
        "/releases/WireTuner/releases/1.1.0/WireTuner-1.1.0.msi",
        &[],
        b"",
    );
    assert_eq!(status, 200, "a yanked release's objects stay");

    let o = run(&ws, &["--json", "publish", "status"]);
    let s = json(&o);
    assert_eq!(s["live"], "1.0.0");
    assert!(
        s["store"]
            .as_str()
            .is_some_and(|d| d.starts_with("s3://releases at http://127.0.0.1:"))
    );
    assert_eq!(s["feeds"]["WireTuner/releases/stable/latest.json"], "1.0.0");
}

#[test]
fn a_wrong_secret_and_bytes_changed_after_verification_are_red_and_nothing_goes_live() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki);
    let weed = Weed::start();
    weed.bucket("releases");
    use_s3(&ws, &weed, "releases", &[]);
    common::make_publishable(&pki, &ws, "1.0.0");

    // No credentials at all: named before anything is sent.
    let o = cli_with(
        &ws,
        &[("AWS_ACCESS_KEY_ID", "K")],
        &["publish", "--version", "1.0.0"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("$AWS_SECRET_ACCESS_KEY") && text(&o).contains("it is not set"),
        "{}",
        text(&o)
    );
    // The wrong secret: the server's refusal, with what to check; the secret is not printed.
    let o = cli_with(
        &ws,
        &[
            ("AWS_ACCESS_KEY_ID", "K"),
            ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
        &["publish", "--version", "1.0.0"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    // The first request is a HEAD, whose 403 has no body to say why.
    assert!(
        t.contains(
            "HEAD s3://releases/WireTuner/releases/1.0.0/WireTuner-1.0.0.msi: 403: Forbidden: the \
             server refused the request"
        ),
        "{t}"
    );
    assert!(t.contains("$AWS_SECRET_ACCESS_KEY"), "{t}");
    assert!(!t.contains("not-the-secret"), "{t}");

    // One byte of the installer changed after verification, with its size and time kept (so
    // the verify gate's stamp does not see it): the server refuses the upload as not the
    // announced SHA-256.
    let msi = ws.join("releases/1.0.0/artifacts/WireTuner-1.0.0.msi");
    let mut bytes = std::fs::read(&msi).expect("msi");
    let mtime = std::fs::metadata(&msi)
        .expect("meta")
        .modified()
        .expect("mtime");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&msi, &bytes).expect("write");
    std::fs::File::options()
        .write(true)
        .open(&msi)
        .expect("open")
        .set_modified(mtime)
        .expect("set mtime");
    let o = run(&ws, &["publish", "--version", "1.0.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("the server refused the bytes as not those with SHA-256")
            && (t.contains("BadDigest") || t.contains("XAmzContentSHA256Mismatch")),
        "{t}"
    );
    let (status, _) = weed.request(
        "HEAD",
        "/releases/WireTuner/releases/1.0.0/WireTuner-1.0.0.msi",
        &[],
        b"",
    );
    assert_eq!(status, 404, "nothing was stored");
    let s = json(&run(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], Value::Null, "{s}");
}

/// The parts the server holds for the one unfinished upload in `bucket`.
fn parts_held(weed: &Weed, bucket: &str) -> Option<(String, String, usize)> {
    let (status, body) = weed.request("GET", &format!("/{bucket}?uploads="), &[], b"");
    if status != 200 {
        return None;
    }
    let doc = release_console::net::xml::parse(&body).ok()?;
    let up = doc.child("Upload")?;
    let key = up.text_of("Key")?.to_owned();
    let id = up.text_of("UploadId")?.to_owned();
    let path = format!(
        "/{bucket}/{}?uploadId={}",
        release_console::net::sigv4::uri_encode(&key, true),
        release_console::net::sigv4::uri_encode(&id, false)
    );
    let (status, body) = weed.request("GET", &path, &[], b"");
    if status != 200 {
        return None;
    }
    let doc = release_console::net::xml::parse(&body).ok()?;
    Some((key, id, doc.all("Part").count()))
}

/// A workspace whose 2.0.0 has a 300 MiB file, publishing to `bucket` of a `SeaweedFS` one
/// 8 MiB part at a time (so a kill or a second console lands between parts).
fn big_upload(bucket: &str) -> (Pki, tempfile::TempDir, PathBuf, Weed) {
    let pki = Pki::new();
    let (dir, ws) = workspace(&pki);
    let weed = Weed::start();
    weed.bucket(bucket);
    use_s3(
        &ws,
        &weed,
        bucket,
        &[("parallel_parts", 1.into()), ("part_size_mib", 8.into())],
    );
    common::make_publishable_with(
        &pki,
        &ws,
        "2.0.0",
        "head -c 300M /dev/urandom > WireTuner-2.0.0-debug-symbols.zip",
    );
    (pki, dir, ws, weed)
}

#[test]
fn a_multipart_upload_killed_midway_resumes_without_sending_finished_parts_again() {
    // One part at a time, so the kill lands between parts.
    let (_pki, _d, ws, weed) = big_upload("big");
    let version = "2.0.0";

    let mut child = common::bin()
        .arg("--workspace")
        .arg(&ws)
        .args(["publish", "--version", version])
        .envs(ENV)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("publish");
    // Wait until some parts, not all, are stored; then SIGKILL.
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    let before = loop {
        if let Some((key, id, n)) = parts_held(&weed, "big")
            && n >= 3
        {
            break (key, id);
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "publish ended before it could be killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no parts stored in 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // A part whose bytes had all arrived may still be committed after the kill: settle.
    let mut held = usize::MAX;
    let mut key = String::new();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let (k, _, n) = parts_held(&weed, "big").expect("the upload is still unfinished");
        if n == held {
            break;
        }
        (key, held) = (k, n);
    }
    assert_eq!(key, before.0);
    assert!(held < 38, "killed after all 38 parts: {held}");

    // The unfinished upload is a projection of the log: its entry carries it, the file keeps
    // the entry; a save cut off after the entry is named, then rolled forward; an edit is named.
    let state = ws.join("publish/uploads.json");
    let id = format!("big/{key}");
    let starts = common::audit_entries(&ws, "publish.upload.start", Some(&id));
    assert_eq!(starts.len(), 1, "{starts:#?}");
    let start = &starts[0];
    let remembered: Value =
        serde_json::from_slice(&std::fs::read(&state).expect("uploads.json")).expect("json");
    assert_eq!(remembered[&id]["audit_seq"], start["seq"], "{remembered}");
    assert_eq!(
        remembered[&id]["upload_id"],
        start["after"]["upload"]["upload_id"]
    );
    assert_eq!(start["after"]["upload"].get("audit_seq"), None);
    let verify = || {
        release_console::workspace::Workspace::open(&ws)
            .expect("open")
            .verify_audit_with(release_console::projections::ALL)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    verify().expect("in agreement");
    let written = std::fs::read(&state).expect("uploads.json");
    std::fs::write(&state, "{}").expect("the file as it was before the upload");
    let err = verify().expect_err("the file lacks the upload");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: it remembers no unfinished upload of {id}, but entry \
             #{} (publish.upload.start) began one",
            state.display(),
            start["seq"]
        )),
        "{err}"
    );
    let o = run(&ws, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "recovered first: {}", text(&o));
    assert_eq!(
        std::fs::read(&state).expect("uploads.json"),
        written,
        "rolled forward"
    );
    let edited = String::from_utf8(written.clone()).expect("utf-8").replace(
        start["after"]["upload"]["upload_id"].as_str().expect("id"),
        "someone-elses",
    );
    std::fs::write(&state, edited).expect("edit");
    let err = verify().expect_err("edited");
    assert!(
        err.contains(&format!(
            "{} disagrees with the log: the unfinished upload of {id} is not the one entry #{} \
             (publish.upload.start) recorded",
            state.display(),
            start["seq"]
        )),
        "{err}"
    );
    std::fs::write(&state, &written).expect("restore");

    let o = run(&ws, &["--json", "publish", "--version", version]);
    ok(&o);
    let out = json(&o);
    let note = out["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .find(|n| n.contains("debug-symbols.zip"))
        .unwrap_or_else(|| panic!("no note on the big file: {out}"))
        .to_owned();
    let want = format!(
        "resumed the unfinished upload: {held} of 38 parts were already stored, sent the other {}",
        38 - held
    );
    assert!(note.ends_with(&want), "{note} / {want}");
    // Finished, and the stored composite checksum is that of the file's 8 MiB parts.
    assert!(parts_held(&weed, "big").is_none(), "the upload is complete");
    let h = head(&weed, "big", &key);
    assert!(
        header(&h, "x-amz-checksum-sha256").ends_with("-38"),
        "{h:?}"
    );
    assert_eq!(header(&h, "content-length"), (300u64 << 20).to_string());
    // And the state file no longer remembers it.
    let pending = std::fs::read_to_string(ws.join("publish/uploads.json")).expect("uploads.json");
    assert_eq!(pending.trim(), "{}");
    let ends = common::audit_entries(&ws, "publish.upload.end", Some(&id));
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert_eq!(ends[0]["after"]["why"], "completed");
    verify().expect("in agreement");
    // A third run sends nothing and still finds every object the same.
    let out = json(&run(&ws, &["--json", "publish", "--version", version]));
    assert_eq!(out["uploaded"].as_array().map(Vec::len), Some(0), "{out}");
}

fn sha256_hex(path: &Path) -> String {
    release_console::sha256_hex(&std::fs::read(path).expect("read"))
}

/// An S3 store on `bucket` of `weed`, as a second console would open it.
fn store(
    weed: &Weed,
    bucket: &str,
    state: &Path,
    multipart_mib: u64,
) -> release_console::deploy::s3::S3Store {
    use release_console::deploy::s3::{S3Config, S3Store};
    S3Store::new(S3Config {
        endpoint: weed.endpoint.clone(),
        bucket: bucket.into(),
        region: "us-east-1".into(),
        path_style: true,
        credentials: release_console::net::sigv4::Credentials::new(
            common::WEED_ACCESS_KEY.into(),
            common::WEED_SECRET_KEY.into(),
            None,
        ),
        part_size: 5 << 20,
        multipart_threshold: multipart_mib << 20,
        parallel_parts: 2,
        uploads_state: state.join("uploads.json"),
        workspace: None,
        key_vars: ("AWS_ACCESS_KEY_ID".into(), "AWS_SECRET_ACCESS_KEY".into()),
    })
    .expect("store")
}

#[test]
fn a_version_published_to_s3_never_changes_and_its_links_encode_a_plus() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki);
    let weed = Weed::start();
    weed.bucket("releases");
    use_s3(&ws, &weed, "releases", &[]);
    common::make_publishable(&pki, &ws, "0.1.0");
    let key = "WireTuner/releases/0.1.0/WireTuner-0.1.0.msi";
    let o = run(&ws, &["publish", "--version", "0.1.0"]);
    ok(&o);
    let artifacts = ws.join("releases/0.1.0/artifacts");
    let msi = artifacts.join("WireTuner-0.1.0.msi");
    let live = sha256_hex(&msi);
    let stored = header(&head(&weed, "releases", key), "x-amz-checksum-sha256").to_owned();
    assert_eq!(stored, b64_sha256(&msi));

    // Rebuilt (signed again: other bytes), summed and verified again, then published as the
    // same version: refused naming both hashes; the server still holds the live bytes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::remove_file(&msi).expect("the old build");
    pki.sign("leaf.pfx", "app.msi", &msi);
    common::sh(&artifacts, "sha256sum *.msi > SHA256SUMS");
    let o = cli_with(
        &ws,
        &ENV,
        &[
            "verify",
            artifacts.to_str().expect("utf-8"),
            "--release",
            "0.1.0",
        ],
    );
    ok(&o);
    let rebuilt = sha256_hex(&msi);
    assert_ne!(rebuilt, live);
    let o = run(&ws, &["publish", "--version", "0.1.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{key}: 0.1.0 was published with SHA-256 {live}; the bytes to publish now have \
             SHA-256 {rebuilt}"
        )),
        "{}",
        text(&o)
    );
    assert_eq!(
        header(&head(&weed, "releases", key), "x-amz-checksum-sha256"),
        stored,
        "the object on the server is unchanged"
    );
    // Another workspace on the same bucket, which never published 0.1.0 (neither its records
    // nor its log know of it), building 0.1.0 itself: the server's object refuses it.
    let (_d2, other) = workspace(&pki);
    use_s3(&other, &weed, "releases", &[]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    common::make_publishable(&pki, &other, "0.1.0");
    let theirs = sha256_hex(&other.join("releases/0.1.0/artifacts/WireTuner-0.1.0.msi"));
    assert_ne!(theirs, live);
    let o = run(&other, &["publish", "--version", "0.1.0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{key}: the store holds SHA-256 {live} under this key, not the bytes to publish \
             (SHA-256 {theirs})"
        )),
        "{}",
        text(&o)
    );
    assert_eq!(
        header(&head(&weed, "releases", key), "x-amz-checksum-sha256"),
        stored
    );

    // A `+` in a version is %2B in the links (S3 and CDNs read `+` as a space), and the link's
    // path finds the object.
    let v = "1.0.0+build.5";
    common::make_publishable(&pki, &ws, v);
    let o = run(&ws, &["--json", "publish", "--version", v]);
    ok(&o);
    let (status, latest) = weed.request(
        "GET",
        "/releases/WireTuner/releases/stable/latest.json",
        &[],
        b"",
    );
    assert_eq!(status, 200, "{latest}");
    let latest: Value = serde_json::from_str(&latest).expect("latest.json");
    let path = "/releases/WireTuner/releases/1.0.0%2Bbuild.5/WireTuner-1.0.0%2Bbuild.5.msi";
    assert_eq!(
        latest["platforms"]["windows-x86_64"]["url"],
        format!("https://downloads.example.com{path}")
    );
    let (status, body) = weed.request("HEAD", path, &[], b"");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn two_stores_racing_for_a_versioned_key_cannot_overwrite_each_other() {
    use release_console::deploy::store::{Meta, ObjectStore as _, Put, StoreError};
    let weed = Weed::start();
    weed.bucket("race");
    let dir = tempfile::tempdir().expect("dir");
    let meta = Meta {
        content_type: "application/x-msi".into(),
        cache_control: release_console::deploy::IMMUTABLE.into(),
    };
    // Eight consoles create one key with their own bytes at once: one wins, the others are
    // told the key is taken, and the server keeps the winner's bytes.
    let key = "W/1.0.0/W-1.0.0.msi";
    let barrier = std::sync::Barrier::new(8);
    let results: Vec<(Vec<u8>, Result<(), StoreError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (weed, dir, meta, barrier) = (&weed, &dir, &meta, &barrier);
                s.spawn(move || {
                    let state = dir.path().join(format!("c{i}"));
                    std::fs::create_dir_all(&state).expect("state");
                    let bytes = format!("installer built by console {i}").into_bytes();
                    let file = state.join("app.msi");
                    std::fs::write(&file, &bytes).expect("write");
                    let store = store(weed, "race", &state, 64);
                    let sha = release_console::digest::Sha256::of(&bytes);
                    barrier.wait();
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    let r = rt.block_on(store.put_file(key, Put::of(&file, &sha, meta, &|_| {})));
                    (bytes, r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let winners: Vec<&Vec<u8>> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(b, _)| b)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (_, r) in &results {
        if let Err(e) = r {
            assert!(matches!(e, StoreError::Exists { .. }), "{e}");
        }
    }
    let (status, body) = weed.request("GET", &format!("/race/{key}"), &[], b"");
    assert_eq!(status, 200);
    assert_eq!(body.as_bytes(), winners[0].as_slice());

    // A multipart upload whose key is created while its parts are sent: the completion is
    // refused (`If-None-Match: *`), the other object stays, the upload is not left behind.
    let state = dir.path().join("multipart");
    std::fs::create_dir_all(&state).expect("state");
    let big = state.join("big.zip");
    let data: Vec<u8> = (0..(11u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &data).expect("write");
    let store = store(&weed, "race", &state, 5);
    let key = "W/1.0.0/W-1.0.0-symbols.zip";
    let taken = std::sync::atomic::AtomicBool::new(false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let e = rt
        .block_on(store.put_file(
            key,
            Put::of(
                &big,
                &release_console::digest::Sha256::of(&data),
                &meta,
                &|_| {
                    if !taken.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        let (status, body) =
                            weed.request("PUT", &format!("/race/{key}"), &[], b"theirs");
                        assert_eq!(status, 200, "{body}");
                    }
                },
            ),
        ))
        .expect_err("the key was taken meanwhile");
    assert!(matches!(e, StoreError::Exists { .. }), "{e}");
    let (status, body) = weed.request("GET", &format!("/race/{key}"), &[], b"");
    assert_eq!((status, body.as_str()), (200, "theirs"));
    assert!(
        parts_held(&weed, "race").is_none(),
        "the upload was aborted"
    );
    // And a second multipart upload of a taken key sends nothing.
    let e = rt
        .block_on(store.put_file(
            key,
            Put::of(
                &big,
                &release_console::digest::Sha256::of(&data),
                &meta,
                &|n| {
                    assert_eq!(n, 0, "nothing is sent");
                },
            ),
        ))
        .expect_err("taken");
    assert!(matches!(e, StoreError::Exists { .. }), "{e}");
}

/// SIGTERM (as a service manager or `kill` sends it) during a multipart upload: the CLI says it
/// cancels, exits red soon, nothing goes live; the next run sends only the parts not stored and
/// the version goes live once.
#[cfg(unix)]
#[test]
fn a_publish_terminated_midway_exits_red_and_the_next_run_resumes_it() {
    let pki = Pki::new();
    let (_d, ws) = workspace(&pki);
    let weed = Weed::start();
    weed.bucket("term");
    use_s3(
        &ws,
        &weed,
        "term",
        &[("parallel_parts", 1.into()), ("part_size_mib", 8.into())],
    );
    let version = "2.0.0";
    common::make_publishable_with(
        &pki,
        &ws,
        version,
        "head -c 200M /dev/urandom > WireTuner-2.0.0-debug-symbols.zip",
    );
    let child = common::bin()
        .arg("--workspace")
        .arg(&ws)
        .args(["publish", "--version", version])
        .envs(ENV)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("publish");
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while parts_held(&weed, "term").is_none_or(|(_, _, n)| n < 2) {
        assert!(std::time::Instant::now() < deadline, "no parts in 120 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let asked = std::time::Instant::now();
    let o = child.wait_with_output().expect("wait");
    let out = text(&o);
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(30),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("terminated: cancelling publish 2.0.0"),
        "{out}"
    );
    let s = json(&run(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], Value::Null, "{s}");
    // A part whose bytes had all arrived may still be committed after the exit: settle.
    let mut held = usize::MAX;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let (_, _, n) = parts_held(&weed, "term").expect("the upload is unfinished");
        if n == held {
            break;
        }
        held = n;
    }
    assert!(held < 25, "all parts were sent: {held}");

    let o = run(&ws, &["--json", "publish", "--version", version]);
    ok(&o);
    let out = json(&o);
    let note = out["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .find(|n| n.contains("debug-symbols.zip"))
        .unwrap_or_else(|| panic!("no note on the big file: {out}"))
        .to_owned();
    assert!(
        note.contains(&format!("{held} of 25 parts were already stored")),
        "{note} ({held} held)"
    );
    let s = json(&run(&ws, &["--json", "publish", "status"]));
    assert_eq!(s["live"], version, "{s}");
    let audit = std::fs::read_to_string(ws.join("audit.log")).expect("audit");
    assert_eq!(
        audit.matches("\"action\":\"publish\"").count(),
        1,
        "published once"
    );
}

/// Two publishes of one version at once (two terminals): the big file's parts are sent once.
/// The second console found the first one's unfinished upload in `publish/uploads.json`,
/// sent the same parts into it again, and one of the two completions failed.
#[test]
fn a_second_publish_at_once_does_not_send_the_same_parts_again() {
    let (_pki, _d, ws, weed) = big_upload("twice");
    let version = "2.0.0";
    let publish = || {
        common::bin()
            .arg("--workspace")
            .arg(&ws)
            .args(["--json", "publish", "--version", version])
            .envs(ENV)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("publish")
    };
    let first = publish();
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while parts_held(&weed, "twice").is_none_or(|(_, _, n)| n < 1) {
        assert!(std::time::Instant::now() < deadline, "no parts in 120 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = publish().wait_with_output().expect("second");
    let first = first.wait_with_output().expect("first");
    let (one, two) = (text(&first), text(&second));
    assert!(first.status.success(), "{one}");
    assert_eq!(second.status.code(), Some(1), "{two}");
    assert!(
        two.contains("debug-symbols.zip: another console is uploading it now"),
        "{two}"
    );
    // The first one's upload was not joined: it sent every part itself.
    let out = json(&first);
    let note = out["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .find(|n| n.contains("debug-symbols.zip"))
        .unwrap_or_else(|| panic!("no note on the big file: {out}"))
        .to_owned();
    assert!(note.ends_with("sent in 38 parts of 8 MiB"), "{note}");
    // Run again, it finds everything stored.
    let out = json(&run(&ws, &["--json", "publish", "--version", version]));
    assert_eq!(out["uploaded"].as_array().map(Vec::len), Some(0), "{out}");
}
