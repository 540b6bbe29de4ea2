//! A shared workspace's blobs (`PREFIX/blobs/sha256/<hex>`) on a real S3 server (`SeaweedFS`'s
//! `weed mini`): a CI console's build stores its artifacts, SHA256SUMS and log there and
//! records them in one entry; a second console verifies exactly those bytes. A blob is stored
//! once; a blob in the bucket that is not the one recorded (other bytes, more bytes) is
//! refused, naming its key and the SHA-256 expected, and nothing of it is kept.

use std::path::Path;

use crate::common::fault_proxy::{Fault, FaultProxy};
use crate::common::{self, S3Client, Weed};
use crate::team::{Console, access, open_as};
use release_console::digest::Sha256;
use release_console::workspace::WorkspaceError;
use release_console::workspace::blobs::{Blob, Fetched, Stored};

const WS: &str = "s3://team/wiretuner";
const ARTIFACT: &str = "WireTuner-0.1.0-linux.tar.gz";

/// A fake Linux builder in the CI console's cache folder: one artifact of fixed bytes, with
/// the SHA-256 it printed at its Checksums step.
pub(crate) fn fake_builder(folder: &Path) {
    std::fs::write(
        folder.join("packaging/pipelines/default.toml"),
        r#"
[platforms.linux]
title = "Linux tarball"
host_os = "linux"
builder = ["bash", "packaging/fake.sh"]
args = ["{out_dir}"]
checklist_kind = "pipeline.linux"
"#,
    )
    .expect("definition");
    std::fs::write(
        folder.join("packaging/fake.sh"),
        format!(
            "set -e\nout=\"$1\"; mkdir -p \"$out\"\necho ::step:: Build\n\
             printf 'the bytes CI built' > \"$out/{ARTIFACT}\"\necho ::step:: Checksums\n\
             (cd \"$out\" && sha256sum {ARTIFACT} > {ARTIFACT}.sha256 && cat {ARTIFACT}.sha256)\n\
             echo \"::artifact:: $out/{ARTIFACT}\"\n"
        ),
    )
    .expect("builder");
}

/// The object under `key` in bucket `team`: status and `Last-Modified`.
fn head(s3: &S3Client, key: &str) -> (u16, Option<String>) {
    let a = s3
        .send("HEAD", &format!("/team/{key}"), &[], b"")
        .expect("HEAD");
    (a.status, a.header("last-modified").map(str::to_owned))
}

/// Lists `names` as the workspace's `[team] builders` in the bucket's configuration.
pub(crate) fn builders(weed: &Weed, prefix: &str, names: &[&str]) {
    let key = format!("/team/{prefix}/release-console.toml");
    let (status, config) = weed.request("GET", &key, &[], b"");
    assert_eq!(status, 200, "{config}");
    let list: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    let config = format!("{config}\n[team]\nbuilders = [{}]\n", list.join(", "));
    assert_eq!(weed.request("PUT", &key, &[], config.as_bytes()).0, 200);
}

/// Writes into the bucket, as anyone with write access to it could, a `release.artifacts`
/// entry by `actor` for `version` that chains to the last entry `console` holds; its number.
fn forge_artifacts(
    weed: &Weed,
    console: &Console,
    prefix: &str,
    actor: &str,
    version: &str,
    sha: &str,
) -> u64 {
    // Brought up to date with the bucket first.
    common::ok(&console.run(&format!("s3://team/{prefix}"), &["audit", "list"]));
    let log = std::fs::read_to_string(console.folder(prefix).join("audit.log")).expect("log");
    let line = log.lines().last().expect("a line");
    let last: release_console::audit::AuditEntry = serde_json::from_str(line).expect("entry");
    let forged = release_console::audit::AuditEntry {
        seq: last.seq + 1,
        time: jiff::Timestamp::now(),
        actor: actor.to_owned(),
        action: "release.artifacts".to_owned(),
        target: version.to_owned(),
        before: serde_json::Value::Null,
        after: serde_json::json!({
            "version": version,
            "platforms": ["linux"],
            "files": [{"name": ARTIFACT, "size": 18, "sha256": sha, "kind": "artifact",
                       "platform": "linux"}],
        }),
        prev: release_console::sha256_hex(line.as_bytes()),
        host: Some("somewhere".to_owned()),
        nonce: None,
        key: None,
        sig: None,
    };
    let key = format!("/team/{prefix}/log/{:012}.json", forged.seq);
    let text = forged.to_line().expect("line");
    assert_eq!(weed.request("PUT", &key, &[], text.as_bytes()).0, 200);
    forged.seq
}

fn blob_key(sha: &str) -> String {
    format!("wiretuner/blobs/sha256/{sha}")
}

#[test]
fn a_ci_build_is_fetched_and_verified_byte_for_byte_on_a_second_console() {
    let weed = Weed::start();
    weed.bucket("team");
    let s3 = S3Client::weed(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ci = Console::new(&weed, dir.path(), "ci");
    let rm = Console::new(&weed, dir.path(), "rm");
    common::ok(&ci.run(WS, &["init", WS]));
    builders(&weed, "wiretuner", &["ci"]);
    common::ok(&ci.run(WS, &["release", "new", "0.1.0"]));
    fake_builder(&ci.folder("wiretuner"));

    let out = common::ok(&ci.run(
        WS,
        &["pipeline", "run", "--version", "0.1.0", "--platform", "all"],
    ));
    assert!(
        out.contains("stored 3 files in s3://team/wiretuner by SHA-256 (3 sent, 0 there already)"),
        "{out}"
    );
    let artifact_sha = release_console::sha256_hex(b"the bytes CI built");
    let ci_artifacts = ci.folder("wiretuner").join("releases/0.1.0/artifacts");
    let sums = std::fs::read(ci_artifacts.join("SHA256SUMS")).expect("CI's SHA256SUMS");
    let sums_sha = release_console::sha256_hex(&sums);
    for sha in [&artifact_sha, &sums_sha] {
        assert_eq!(
            head(&s3, &blob_key(sha)).0,
            200,
            "blob {sha} is in the bucket"
        );
    }
    // One entry records them: name, size, SHA-256, kind and platform of each.
    let recorded = crate::team::entries(&rm, WS);
    let recorded: Vec<&serde_json::Value> = recorded
        .iter()
        .filter(|e| e["action"] == "release.artifacts")
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let after = &recorded[0]["after"];
    assert_eq!(after["version"], "0.1.0");
    assert_eq!(after["platforms"], serde_json::json!(["linux"]));
    let files = after["files"].as_array().expect("files");
    let artifact = files
        .iter()
        .find(|f| f["name"] == ARTIFACT)
        .expect("the artifact");
    assert_eq!(artifact["sha256"], artifact_sha.as_str());
    assert_eq!(artifact["size"], 18);
    assert_eq!(artifact["platform"], "linux");
    assert!(
        files
            .iter()
            .any(|f| f["kind"] == "log" && f["platform"] == "linux"),
        "the build's log: {files:?}"
    );

    // The release manager's console holds none of it, fetches it by hash and verifies it.
    let rm_artifacts = rm.folder("wiretuner").join("releases/0.1.0/artifacts");
    assert!(!rm_artifacts.join(ARTIFACT).exists());
    let o = rm.run(WS, &["--json", "verify", "--release", "0.1.0"]);
    let out = common::text(&o);
    assert!(o.status.success(), "{out}");
    assert_eq!(
        std::fs::read(rm_artifacts.join(ARTIFACT)).expect("fetched"),
        b"the bytes CI built"
    );
    assert_eq!(
        std::fs::read(rm_artifacts.join("SHA256SUMS")).expect("fetched"),
        sums
    );
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(rm.folder("wiretuner").join("releases/0.1.0/verify.json")).expect("record"),
    )
    .expect("json");
    assert_eq!(record["overall"], "pass", "{record}");
    let named: Vec<(String, String)> = record["blobs"]
        .as_array()
        .expect("the record names the blobs")
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap_or_default().to_owned(),
                b["sha256"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        named.contains(&(ARTIFACT.to_owned(), artifact_sha.clone()))
            && named.contains(&("SHA256SUMS".to_owned(), sums_sha.clone())),
        "{named:?}"
    );
    let reports = crate::team::entries(&rm, WS);
    let report = reports
        .iter()
        .rfind(|e| e["action"] == "verify.report")
        .expect("the verify.report entry");
    assert_eq!(report["actor"], "rm", "{report}");
    // The same on every machine: the release and the file, not the verifier's cache path.
    assert_eq!(report["target"], "0.1.0/SHA256SUMS", "{report}");
    assert!(
        report["after"]["blobs"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["sha256"] == artifact_sha.as_str())),
        "{report}"
    );

    // The release manager's list of the release's files is the log's, as `audit verify`
    // compares them.
    let audited = common::ok(&rm.run(WS, &["audit", "verify"]));
    assert!(audited.contains("audit log intact"), "{audited}");
    let book_path = rm
        .folder("wiretuner")
        .join("pipeline/shared-artifacts.json");
    let book = std::fs::read_to_string(&book_path).expect("the release's files rolled forward");
    assert!(book.contains(&artifact_sha), "{book}");
    // A list edited by hand is not the log's, and is named.
    std::fs::write(&book_path, book.replace(&artifact_sha, &"0".repeat(64))).expect("edit");
    let o = rm.run(WS, &["audit", "verify"]);
    let out = common::text(&o);
    assert!(
        !o.status.success() && out.contains("artifacts.json disagrees with the log"),
        "{out}"
    );
    std::fs::write(&book_path, &book).expect("put back");

    // Verified again: what is here already is not downloaded again.
    let modified = std::fs::metadata(rm_artifacts.join(ARTIFACT))
        .and_then(|m| m.modified())
        .expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let o = rm.run(WS, &["verify", "--release", "0.1.0"]);
    assert!(o.status.success(), "{}", common::text(&o));
    assert_eq!(
        std::fs::metadata(rm_artifacts.join(ARTIFACT))
            .and_then(|m| m.modified())
            .expect("mtime"),
        modified
    );

    // Other bytes of the same size in place here: not the blob, so red, and not named as it.
    std::fs::write(rm_artifacts.join(ARTIFACT), b"the bytes I edited").expect("edit");
    let o = rm.run(WS, &["verify", "--release", "0.1.0"]);
    let out = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("checksum MISMATCH"), "{out}");
    let record = std::fs::read_to_string(rm.folder("wiretuner").join("releases/0.1.0/verify.json"))
        .expect("record");
    assert!(!record.contains(&artifact_sha), "{record}");
    std::fs::write(rm_artifacts.join(ARTIFACT), b"the bytes CI built").expect("put back");

    // The same build again: the same bytes (the artifact, SHA256SUMS, and a log of the same
    // lines) are there already; nothing is sent, and the artifact's object is the one stored
    // first.
    let (_, first_written) = head(&s3, &blob_key(&artifact_sha));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = common::ok(&ci.run(
        WS,
        &["pipeline", "run", "--version", "0.1.0", "--platform", "all"],
    ));
    assert!(
        out.contains("(0 sent, 3 there already)"),
        "the second build sent the artifact again: {out}"
    );
    assert_eq!(head(&s3, &blob_key(&artifact_sha)).1, first_written);

    // Someone with write access to the bucket swaps the artifact's blob for other bytes of
    // the same size: the second console refuses it, naming the key and the hash expected.
    let (status, body) = weed.request(
        "PUT",
        &format!("/team/{}", blob_key(&artifact_sha)),
        &[],
        b"the bytes I forged",
    );
    assert_eq!(status, 200, "{body}");
    std::fs::remove_file(rm_artifacts.join(ARTIFACT)).expect("remove");
    let o = rm.run(WS, &["verify", "--release", "0.1.0"]);
    let out = common::text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains(&format!("s3://team/{}", blob_key(&artifact_sha)))
            && out.contains(&format!("expected SHA-256 {artifact_sha}")),
        "{out}"
    );
    assert!(!rm_artifacts.join(ARTIFACT).exists(), "nothing of it kept");
    let left: Vec<String> = std::fs::read_dir(&rm_artifacts)
        .expect("artifacts")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

#[test]
fn a_blob_is_stored_once_and_one_that_is_not_what_was_asked_for_is_refused() {
    let weed = Weed::start();
    weed.bucket("team");
    let s3 = S3Client::weed(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ci = Console::new(&weed, dir.path(), "ci");
    common::ok(&ci.run(WS, &["init", WS]));
    let ana = open_as(&weed, dir.path(), "ana", WS);
    let ben = open_as(&weed, dir.path(), "ben", WS);
    let (a, b) = (ana.shared().expect("shared"), ben.shared().expect("shared"));

    // Small: one PUT, then a 412 and a HEAD.
    let file = dir.path().join("small.bin");
    std::fs::write(&file, b"0123456789").expect("write");
    let blob = Blob::of_file(&file).expect("blob");
    assert_eq!(blob.sha256, Sha256::of(b"0123456789"));
    assert_eq!(a.put_blob(&file, blob).expect("put"), Stored::Uploaded);
    let key = blob_key(&blob.sha256.to_string());
    let (_, written) = head(&s3, &key);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(a.put_blob(&file, blob).expect("put"), Stored::AlreadyThere);
    assert_eq!(b.put_blob(&file, blob).expect("put"), Stored::AlreadyThere);
    assert_eq!(head(&s3, &key).1, written, "stored once, never again");

    // Large: a multipart upload (publishing's), stored once too, and fetched whole.
    let big = dir.path().join("big.bin");
    let bytes: Vec<u8> = (0..65u32 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &bytes).expect("write");
    let big_blob = Blob::of_file(&big).expect("blob");
    assert!(big_blob.size >= release_console::workspace::blobs::MULTIPART_THRESHOLD);
    assert_eq!(a.put_blob(&big, big_blob).expect("put"), Stored::Uploaded);
    assert_eq!(
        b.put_blob(&big, big_blob).expect("put"),
        Stored::AlreadyThere
    );
    let into = dir.path().join("ben-got/big.bin");
    assert_eq!(
        b.fetch_blob(big_blob, &into).expect("fetch"),
        Fetched::Downloaded
    );
    assert!(std::fs::read(&into).expect("read") == bytes);
    assert_eq!(
        b.fetch_blob(big_blob, &into).expect("again"),
        Fetched::Cached
    );
    drop(bytes);

    // The bucket holds more bytes under the small blob's name than were recorded.
    let (status, body) = weed.request("PUT", &format!("/team/{key}"), &[], &[b'x'; 4096]);
    assert_eq!(status, 200, "{body}");
    let refused = |got: Result<Fetched, WorkspaceError>, into: &Path, says: &str| {
        let e = got.expect_err("refused");
        let msg = e.to_string();
        assert!(matches!(e, WorkspaceError::BadBlob { .. }), "{msg}");
        assert!(
            msg.contains(&format!("s3://team/{key}"))
                && msg.contains(&format!("expected SHA-256 {}", blob.sha256))
                && msg.contains(says),
            "{msg}"
        );
        assert!(!into.exists(), "nothing of it kept: {msg}");
        let left: Vec<_> = std::fs::read_dir(into.parent().expect("dir"))
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    };
    let into = dir.path().join("ben-small/small.bin");
    refused(
        b.fetch_blob(blob, &into),
        &into,
        "announces 4096 bytes, not the 10 bytes recorded",
    );
    // Through a proxy that drops its Content-Length, it is read: and cut off past the size.
    let proxy = FaultProxy::start(&weed.endpoint);
    proxy.times(
        10,
        "GET",
        "/blobs/",
        Fault::WithoutHeader("content-length".into()),
    );
    let mut through = access(&weed, &dir.path().join("cid"));
    through.endpoint.url = proxy.url();
    let url = release_console::workspace::shared::SharedUrl::of_path(Path::new(WS))
        .expect("s3 url")
        .expect("valid");
    let cid = release_console::workspace::Workspace::open_shared_with(url, through)
        .expect("open through the proxy");
    let c = cid.shared().expect("shared");
    refused(
        c.fetch_blob(blob, &into),
        &into,
        "larger than the 10 bytes recorded: cut off after",
    );
    // Other bytes of the same size.
    let (status, body) = weed.request("PUT", &format!("/team/{key}"), &[], b"9876543210");
    assert_eq!(status, 200, "{body}");
    refused(
        b.fetch_blob(blob, &into),
        &into,
        &format!(
            "SHA-256 {}: not the blob recorded",
            Sha256::of(b"9876543210")
        ),
    );
    // A file in place with other bytes is not replaced.
    std::fs::write(&into, b"mine").expect("write");
    let e = b.fetch_blob(blob, &into).expect_err("refused");
    assert!(e.to_string().contains("not replaced"), "{e}");
    assert_eq!(std::fs::read(&into).expect("read"), b"mine");
    // Storing the blob finds the other bytes under its name (read back and hashed, not only
    // sized) and replaces them, with If-Match on their ETag.
    let planted = Sha256::of(b"9876543210").to_string();
    match a.put_blob(&file, blob).expect("replaced") {
        Stored::Replaced { found } => {
            assert!(
                found.contains(&planted) && found.contains("ETag"),
                "{found}"
            );
        }
        other => panic!("not replaced: {other:?}"),
    }
    let (status, body) = weed.request("GET", &format!("/team/{key}"), &[], b"");
    assert_eq!((status, body.as_str()), (200, "0123456789"));
    assert_eq!(a.put_blob(&file, blob).expect("put"), Stored::AlreadyThere);
    // An object of another size under its name: replaced too.
    let (status, body) = weed.request("PUT", &format!("/team/{key}"), &[], b"short");
    assert_eq!(status, 200, "{body}");
    match b.put_blob(&file, blob).expect("replaced") {
        Stored::Replaced { found } => assert!(found.contains("5 bytes"), "{found}"),
        other => panic!("not replaced: {other:?}"),
    }
    // A server that does not take the conditional replacement (501 to the If-Match PUT): the
    // other bytes stay, and storing the blob is refused naming its key (so the build is not
    // recorded).
    let (status, body) = weed.request("PUT", &format!("/team/{key}"), &[], b"9876543210");
    assert_eq!(status, 200, "{body}");
    proxy.once("PUT", "/blobs/", Fault::Delay(std::time::Duration::ZERO));
    // (Each retry of it too.)
    proxy.times(
        20,
        "PUT",
        "/blobs/",
        Fault::answer(501, "NotImplemented", "If-Match is not supported"),
    );
    let e = c.put_blob(&file, blob).expect_err("refused");
    proxy.clear();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("s3://team/{key}"))
            && msg.contains("not replaced, and the build is not recorded"),
        "{msg}"
    );
    let (status, body) = weed.request("GET", &format!("/team/{key}"), &[], b"");
    assert_eq!((status, body.as_str()), (200, "9876543210"));
}

/// Two consoles on one machine (the CLI and the GUI, or two `verify --release`) fetching the
/// same blob into the same file at once: both end with the blob in place, neither fails
/// because the other renamed its download into place first, and no temp file is left.
#[test]
fn two_consoles_fetching_one_blob_into_one_file_at_once_both_succeed() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ci = Console::new(&weed, dir.path(), "ci");
    common::ok(&ci.run(WS, &["init", WS]));
    let ana = open_as(&weed, dir.path(), "ana", WS);
    let ben = open_as(&weed, dir.path(), "ben", WS);
    let file = dir.path().join("mid.bin");
    let bytes: Vec<u8> = (0..8u32 * 1024 * 1024).map(|i| (i % 241) as u8).collect();
    std::fs::write(&file, &bytes).expect("write");
    let blob = Blob::of_file(&file).expect("blob");
    let a = ana.shared().expect("shared");
    assert_eq!(a.put_blob(&file, blob).expect("put"), Stored::Uploaded);
    let into = dir.path().join("together/mid.bin");
    for round in 0..3 {
        let _ = std::fs::remove_file(&into);
        let gate = std::sync::Barrier::new(2);
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| {
                gate.wait();
                ana.shared().expect("shared").fetch_blob(blob, &into)
            });
            let tb = s.spawn(|| {
                gate.wait();
                ben.shared().expect("shared").fetch_blob(blob, &into)
            });
            (ta.join().expect("ana"), tb.join().expect("ben"))
        });
        let (ra, rb) = (ra.expect("ana's fetch"), rb.expect("ben's fetch"));
        assert!(
            ra == Fetched::Downloaded || rb == Fetched::Downloaded,
            "round {round}: {ra:?} {rb:?}"
        );
        assert!(
            std::fs::read(&into).expect("read") == bytes,
            "round {round}"
        );
        let left: Vec<_> = std::fs::read_dir(into.parent().expect("dir"))
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "mid.bin")
            .collect();
        assert!(left.is_empty(), "round {round}: temp files left: {left:?}");
    }
}

/// A build's run state (`releases/VERSION/pipeline.json`) is a projection of the log: one
/// `pipeline.platform` entry per run-level change, carrying the platform's whole run state
/// (never the build's log lines), replayed by a second console that never built, and a copy
/// edited by hand is named by `audit verify`.
#[test]
fn a_builds_run_state_is_replayed_on_a_second_console_from_its_entry() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ci = Console::new(&weed, dir.path(), "ci");
    let rm = Console::new(&weed, dir.path(), "rm");
    common::ok(&ci.run(WS, &["init", WS]));
    builders(&weed, "wiretuner", &["ci"]);
    common::ok(&ci.run(WS, &["release", "new", "0.1.0"]));
    fake_builder(&ci.folder("wiretuner"));
    common::ok(&ci.run(
        WS,
        &["pipeline", "run", "--version", "0.1.0", "--platform", "all"],
    ));

    let entries = crate::team::entries(&rm, WS);
    let runs: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("pipeline."))
        })
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "one entry for the run, none per line: {runs:?}"
    );
    let entry = runs[0];
    assert_eq!(entry["target"], "0.1.0/linux");
    assert_eq!(entry["actor"], "ci");
    let run = &entry["after"]["run"];
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["artifacts"], serde_json::json!([ARTIFACT]));
    let steps: Vec<&str> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(steps, ["Build", "Checksums"]);
    assert!(
        !entry.to_string().contains("the bytes CI built")
            && !entry.to_string().contains("collected"),
        "no log line in the entry: {entry}"
    );

    // The release manager's console never built: its state is the log's, as CI saved it.
    let status = common::ok(&rm.run(WS, &["pipeline", "status", "--version", "0.1.0"]));
    assert!(status.contains("linux: succeeded (1 artifact)"), "{status}");
    let rm_path = rm.folder("wiretuner").join("releases/0.1.0/pipeline.json");
    let ci_path = ci.folder("wiretuner").join("releases/0.1.0/pipeline.json");
    let rm_state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rm_path).expect("replayed")).expect("json");
    let ci_state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ci_path).expect("built")).expect("json");
    assert_eq!(rm_state, ci_state);
    assert_eq!(rm_state["platforms"]["linux"]["audit_seq"], entry["seq"]);
    let audited = common::ok(&rm.run(WS, &["audit", "verify"]));
    assert!(audited.contains("audit log intact"), "{audited}");

    // A state edited by hand (a failed build shown as succeeded, say) is not the log's.
    let text = std::fs::read_to_string(&rm_path).expect("state");
    std::fs::write(&rm_path, text.replace("1 artifact", "2 artifacts")).expect("edit");
    let o = rm.run(WS, &["audit", "verify"]);
    let out = common::text(&o);
    assert!(
        !o.status.success()
            && out.contains("pipeline.json disagrees with the log: platform linux's run is not")
            && out.contains(&format!("entry #{} (pipeline.platform)", entry["seq"])),
        "{out}"
    );
}

/// A `release.artifacts` entry is acted on only when a registered person with standing signed
/// it, or a name the configuration lists as a builder recorded it, and only for a release that
/// exists: anyone who can write the bucket could otherwise point a release at bytes of theirs.
#[test]
fn a_release_s_files_are_trusted_only_from_people_with_standing_or_configured_builders() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/trust";
    let rm = Console::new(&weed, dir.path(), "rm");
    let ci = Console::new(&weed, dir.path(), "ci");
    let mallory = Console::new(&weed, dir.path(), "mallory");
    common::ok(&rm.run(ws, &["init", ws]));
    common::ok(&rm.run(ws, &["keys", "new"]));
    common::ok(&rm.run(ws, &["release", "new", "0.1.0"]));
    builders(&weed, "trust", &["ci"]);

    // Mallory, neither registered nor a builder, cannot record a build: her console refuses.
    common::ok(&mallory.run(ws, &["audit", "verify"]));
    fake_builder(&mallory.folder("trust"));
    let o = mallory.run(
        ws,
        &["pipeline", "run", "--version", "0.1.0", "--platform", "all"],
    );
    let out = common::text(&o);
    assert!(
        !o.status.success() && out.contains("no console would trust them"),
        "{out}"
    );
    // Written straight into the bucket, her entry is kept in the log but not acted on, and
    // verifying the release says so, naming her and the entry.
    let evil = release_console::sha256_hex(b"the bytes I planted");
    let forged = forge_artifacts(&weed, &rm, "trust", "mallory", "0.1.0", &evil);
    let o = rm.run(ws, &["verify", "--release", "0.1.0"]);
    let out = common::text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("found no trusted record of the files of 0.1.0")
            && out.contains(&format!("entry #{forged} by mallory was refused"))
            && out.contains("not a registered person with standing"),
        "{out}"
    );
    let book = rm.folder("trust").join("pipeline/shared-artifacts.json");
    let held = std::fs::read_to_string(&book).unwrap_or_default();
    assert!(!held.contains(&evil), "{held}");
    common::ok(&rm.run(ws, &["audit", "verify"]));

    // A builder's entry for a release that does not exist is not acted on either.
    let nowhere = forge_artifacts(&weed, &rm, "trust", "ci", "9.9.9", &evil);
    common::ok(&rm.run(ws, &["audit", "verify"]));
    let held = std::fs::read_to_string(&book).unwrap_or_default();
    assert!(
        !held.contains("9.9.9"),
        "entry #{nowhere} was applied: {held}"
    );

    // The bucket was pre-planted with other bytes of the artifact's size under its blob's
    // name: the build reads them back, says so naming the key, replaces them (If-Match on
    // their ETag) and records that.
    let artifact_sha = release_console::sha256_hex(b"the bytes CI built");
    let planted = format!("/team/trust/blobs/sha256/{artifact_sha}");
    assert_eq!(
        weed.request("PUT", &planted, &[], b"the bytes I forged").0,
        200
    );
    // The configured builder's build is trusted, unsigned, and the verification names it.
    common::ok(&ci.run(ws, &["audit", "verify"]));
    fake_builder(&ci.folder("trust"));
    let out = common::ok(&ci.run(
        ws,
        &["pipeline", "run", "--version", "0.1.0", "--platform", "all"],
    ));
    assert!(
        out.contains(&format!("s3://team/trust/blobs/sha256/{artifact_sha}"))
            && out.contains("is NOT the blob"),
        "{out}"
    );
    assert_eq!(
        weed.request("GET", &planted, &[], b""),
        (200, "the bytes CI built".to_owned())
    );
    let replaced: Vec<serde_json::Value> = crate::team::entries(&rm, ws)
        .into_iter()
        .filter(|e| e["action"] == "blob.replace")
        .collect();
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert!(
        replaced[0]["target"]
            .as_str()
            .is_some_and(|t| t.ends_with(&artifact_sha))
            && replaced[0]["before"]["found"]
                .as_str()
                .is_some_and(|f| f.contains(&release_console::sha256_hex(b"the bytes I forged"))),
        "{replaced:?}"
    );
    let o = rm.run(ws, &["verify", "--release", "0.1.0"]);
    let out = common::text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("recorded by ci (a builder of [team] builders, unsigned"),
        "{out}"
    );
    let record = std::fs::read_to_string(rm.folder("trust").join("releases/0.1.0/verify.json"))
        .expect("record");
    assert!(record.contains("a builder of [team] builders"), "{record}");

    // The release manager, registered first (standing), records a build of hers: signed.
    fake_builder(&rm.folder("trust"));
    common::ok(&rm.run(
        ws,
        &["pipeline", "run", "--version", "0.1.0", "--platform", "all"],
    ));
    let record = std::fs::read_to_string(rm.folder("trust").join("releases/0.1.0/verify.json"))
        .expect("record");
    let o = ci.run(ws, &["verify", "--release", "0.1.0"]);
    let out = common::text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("recorded by rm (signed with key"),
        "{out}{record}"
    );
    common::ok(&ci.run(ws, &["audit", "verify"]));
}

/// Temp files a crashed download left (`.blob-*.part`) are removed when the folder is next
/// fetched into, once they are stale and nobody holds them; one another process is writing
/// (it holds it locked) is left alone, however old.
#[test]
fn a_crashed_downloads_temp_file_is_removed_but_not_one_being_written() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ci = Console::new(&weed, dir.path(), "ci");
    common::ok(&ci.run(WS, &["init", WS]));
    let ana = open_as(&weed, dir.path(), "ana", WS);
    let file = dir.path().join("small.bin");
    std::fs::write(&file, b"0123456789").expect("write");
    let blob = Blob::of_file(&file).expect("blob");
    let shared = ana.shared().expect("shared");
    shared.put_blob(&file, blob).expect("put");

    let got = dir.path().join("got");
    std::fs::create_dir_all(&got).expect("dir");
    let old = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
    let plant = |name: &str| {
        let path = got.join(name);
        let f = std::fs::File::create(&path).expect("create");
        f.set_modified(old).expect("mtime");
        (path, f)
    };
    let (crashed, crashed_file) = plant(".blob-crashed.part");
    drop(crashed_file);
    let (live, live_file) = plant(".blob-live.part");
    live_file.lock().expect("lock");
    let (fresh, fresh_file) = plant(".blob-fresh.part");
    drop(fresh_file);
    std::fs::File::options()
        .write(true)
        .open(&fresh)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .expect("mtime");
    let mine = got.join("mine.part");
    std::fs::write(&mine, b"not a download").expect("write");
    std::fs::File::options()
        .write(true)
        .open(&mine)
        .and_then(|f| f.set_modified(old))
        .expect("mtime");

    assert_eq!(
        shared
            .fetch_blob(blob, &got.join("small.bin"))
            .expect("fetch"),
        Fetched::Downloaded
    );
    assert!(
        !crashed.exists(),
        "a crashed download's temp file is removed"
    );
    assert!(live.exists(), "one being written is left alone");
    assert!(
        fresh.exists(),
        "a young one may not be locked yet: left alone"
    );
    assert!(
        mine.exists(),
        "only the console's own temp files are removed"
    );
    drop(live_file);
}
