//! Per-person keys that sign audit entries (`keys new|list|revoke|add`, `audit verify`): on a
//! shared workspace against a real S3 server (`SeaweedFS`'s `weed mini`) over loopback, where
//! anyone with write access to the bucket could otherwise act in someone else's name; and on
//! local workspaces, where the log is edited by hand.

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use egui_kittest::kittest::Queryable as _;
use release_console::audit::keys::{self, Signer};
use release_console::audit::{AuditEntry, GENESIS_HASH};

use crate::common::{self, Weed};
use crate::team::{Console, entries};

/// `release-console --workspace WS ARGS` as `actor`, with the private keys in `keys`.
fn as_person(ws: &Path, actor: &str, keys: &Path, args: &[&str]) -> Output {
    common::cli_with(
        ws,
        &[
            ("RELEASE_CONSOLE_ACTOR", actor),
            ("RELEASE_CONSOLE_KEYS_DIR", keys.to_str().expect("utf-8")),
        ],
        args,
    )
}

#[track_caller]
fn fails(o: &Output, says: &str) -> String {
    let t = common::text(o);
    assert!(!o.status.success(), "succeeded: {t}");
    assert!(t.contains(says), "expected {says:?} in: {t}");
    t
}

/// The last line of `log`, and its hash.
fn last_line(log: &Path) -> (AuditEntry, String) {
    let text = std::fs::read_to_string(log).expect("log");
    let line = text.lines().last().expect("a line").to_owned();
    (
        serde_json::from_str(&line).expect("entry"),
        release_console::sha256_hex(line.as_bytes()),
    )
}

/// The entry that would follow `last` (whose line hashes to `prev`), by `actor`.
fn next(last: &AuditEntry, prev: &str, actor: &str, action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        seq: last.seq + 1,
        time: jiff::Timestamp::now(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        before: serde_json::Value::Null,
        after: serde_json::json!({"done": true}),
        prev: prev.to_owned(),
        host: None,
        nonce: None,
        key: None,
        sig: None,
    }
}

/// Appends `line` to a local workspace's log by hand, as someone with write access to the
/// folder would (it chains, so it is adopted past the head).
fn append_by_hand(ws: &Path, line: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(ws.join("audit.log"))
        .expect("log");
    writeln!(f, "{line}").expect("append");
}

#[test]
fn signed_changes_verify_and_an_entry_forged_in_the_bucket_is_refused() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/keys";
    common::ok(&ana.run(ws, &["init", ws]));

    let out = common::ok(&ana.run(ws, &["keys", "new"]));
    assert!(
        out.contains("made ana's key") && out.contains("at entry #2"),
        "{out}"
    );
    let key_path = keys::key_file(&ana.keys(), "ana");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Twice: the key exists, and nothing is recorded.
    fails(
        &ana.run(ws, &["keys", "new"]),
        "has a key on this machine already",
    );
    assert_eq!(entries(&ana, ws).len(), 2);

    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    common::ok(&ana.run(
        ws,
        &[
            "checklist",
            "tick",
            "pre.review-flags",
            "--note",
            "ok",
            "--release",
            "0.2.0",
        ],
    ));
    // Ben has no key: his entries stay valid, unsigned.
    common::ok(&ben.run(
        ws,
        &[
            "checklist",
            "tick",
            "pre.validate-staging",
            "--note",
            "ok",
            "--release",
            "0.2.0",
        ],
    ));
    let seen = entries(&ben, ws);
    let ana_id = seen[1]["after"]["key"].as_str().expect("key id").to_owned();
    // From her key's registration on, every entry of Ana's is signed with it.
    for e in &seen[1..] {
        if e["actor"] == "ana" {
            assert_eq!(e["key"], ana_id.as_str(), "{e}");
            assert!(e["sig"].is_string(), "{e}");
        } else {
            assert!(e.get("sig").is_none(), "{e}");
        }
    }
    let out = common::ok(&ben.run(ws, &["audit", "verify"]));
    assert!(
        out.contains("signatures: 3 entries signed") && out.contains("2 unsigned"),
        "{out}"
    );
    let out = common::ok(&ana.run(ws, &["keys", "list"]));
    assert!(out.contains("entries are signed with ana's key"), "{out}");
    assert!(out.contains(&ana_id) && out.contains("active"), "{out}");

    // The private key is nowhere in the log, here or in the bucket.
    let private = std::fs::read(&key_path).expect("key");
    let private_seed = &private[16..48];
    let log = std::fs::read_to_string(ben.folder("keys").join("audit.log")).expect("log");
    for secret in [
        base64::engine::general_purpose::STANDARD.encode(&private),
        base64::engine::general_purpose::STANDARD.encode(private_seed),
        release_console::hex(private_seed),
    ] {
        assert!(!log.contains(&secret), "the private key is in the log");
    }

    // Ben writes to the bucket directly an entry in Ana's name: a valid chain, no signature.
    let (last, prev) = last_line(&ben.folder("keys").join("audit.log"));
    let forged = next(&last, &prev, "ana", "checklist.tick", "0.2.0/post.smoke");
    let key = format!("/team/keys/log/{:012}.json", forged.seq);
    let line = forged.to_line().expect("line");
    assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
    for c in [&ana, &ben] {
        fails(
            &c.run(ws, &["checklist", "show"]),
            &format!(
                "entry #{} claims to be by ana but is not signed by ana's key",
                forged.seq
            ),
        );
    }
    // Signed, but by Ben's own key under Ana's key id: refused too.
    let bens = Signer::create(&ben.keys(), "ben").expect("ben's key");
    let (mut by_ben, _) = bens.sign_entry(forged.clone()).expect("sign");
    by_ben.key = Some(ana_id.clone());
    let line = by_ben.to_line().expect("line");
    assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
    let t = fails(
        &ben.run(ws, &["workspace", "verify"]),
        "claims to be by ana",
    );
    assert!(t.contains("does not match the entry"), "{t}");
    // The forgery removed: the consoles carry on, and the log verifies.
    assert_eq!(weed.request("DELETE", &key, &[], b"").0, 204);
    common::ok(&ana.run(ws, &["checklist", "show"]));
    common::ok(&ben.run(ws, &["audit", "verify"]));

    // Ana's name on Ben's machine (no key for her there): refused before anything is written.
    let o = ben.run_with(
        ws,
        &[("RELEASE_CONSOLE_ACTOR", "ana")],
        &[
            "checklist",
            "untick",
            "pre.review-flags",
            "--note",
            "no",
            "--release",
            "0.2.0",
        ],
    );
    fails(&o, "console holds no key for ana");
    assert_eq!(entries(&ana, ws).len(), seen.len());
}

#[test]
fn a_key_is_replaced_only_with_the_old_keys_signature() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let laptop = dir.path().join("laptop-keys");
    let other = dir.path().join("other-keys");
    common::ok(&as_person(&ws, "ana", &laptop, &["keys", "new"]));
    let old = Signer::load(&laptop, "ana")
        .expect("load")
        .expect("ana's key");

    // Elsewhere (without the key), nothing can be done in Ana's name, a new key neither.
    fails(
        &as_person(&ws, "ana", &other, &["keys", "new"]),
        "that this machine does not hold",
    );
    fails(
        &as_person(&ws, "ana", &other, &["keys", "new", "--replace"]),
        "is not on this machine",
    );
    fails(
        &as_person(&ws, "ana", &other, &["release", "new", "0.3.0"]),
        "holds no key for ana",
    );
    assert!(!keys::key_file(&other, "ana").exists());

    // A replacement written by hand, signed by the new key with its proof, but not by the
    // old one: `audit verify` names it.
    let new = Signer::create(&other, "ana").expect("a new key");
    let (last, prev) = last_line(&ws.join("audit.log"));
    let mut e = next(&last, &prev, "ana", keys::ADD, "ana");
    e.after = serde_json::json!({
        "key": new.id(), "public": new.public_b64(), "proof": new.proof(old.id()),
    });
    let (_, line) = new.sign_entry(e).expect("sign");
    let saved: Vec<(&str, Option<Vec<u8>>)> = ["audit.log", "audit.head", "audit.applied"]
        .into_iter()
        .map(|f| (f, std::fs::read(ws.join(f)).ok()))
        .collect();
    append_by_hand(&ws, &line);
    let o = as_person(&ws, "ana", &laptop, &["audit", "verify"]);
    fails(
        &o,
        &format!(
            "entry #{} claims to be by ana but is signed by key {}, not by ana's key ({})",
            last.seq + 1,
            new.id(),
            old.id()
        ),
    );
    assert_eq!(o.status.code(), Some(1));
    for (f, bytes) in saved {
        match bytes {
            Some(b) => std::fs::write(ws.join(f), b).expect("restore"),
            None => drop(std::fs::remove_file(ws.join(f))),
        }
    }
    common::ok(&as_person(&ws, "ana", &laptop, &["audit", "verify"]));

    // Where the key is, it is replaced: the new key signs from then on, the old one ended.
    let out = common::ok(&as_person(
        &ws,
        "ana",
        &laptop,
        &["keys", "new", "--replace"],
    ));
    assert!(
        out.contains(&format!("replacing key {}", old.id())),
        "{out}"
    );
    let current = Signer::load(&laptop, "ana").expect("load").expect("key");
    assert_ne!(current.id(), old.id());
    common::ok(&as_person(
        &ws,
        "ana",
        &laptop,
        &["release", "new", "0.3.0"],
    ));
    let out = common::ok(&as_person(&ws, "ana", &laptop, &["keys", "list"]));
    assert!(out.contains("replaced at #"), "{out}");
    let out = common::ok(&as_person(&ws, "ana", &laptop, &["audit", "verify"]));
    assert!(out.contains("signatures: 3 entries signed"), "{out}");
}

/// Ana registered first and has standing; Bob registered himself and has none until Ana vouches
/// for his key; then he may revoke hers and vouch for her next one.
#[test]
fn a_person_with_standing_revokes_a_key_and_vouches_for_the_next() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let (ana, bob, carol) = (
        dir.path().join("ana-keys"),
        dir.path().join("bob-keys"),
        dir.path().join("carol-keys"),
    );
    common::ok(&as_person(&ws, "ana", &ana, &["keys", "new"]));
    common::ok(&as_person(&ws, "bob", &bob, &["keys", "new"]));
    let ana_key = Signer::load(&ana, "ana").expect("load").expect("key");
    let bob_key = Signer::load(&bob, "bob").expect("load").expect("key");

    // Carol has no key: she may not revoke one.
    fails(
        &as_person(&ws, "carol", &carol, &["keys", "revoke", "ana"]),
        "without a key of their own",
    );
    // Bob registered himself (as anyone who can write the workspace could): he may not.
    fails(
        &as_person(&ws, "bob", &bob, &["keys", "revoke", "ana"]),
        "bob revokes ana's key, but bob registered their own key themself",
    );
    let carols = Signer::create(&carol, "carol").expect("key");
    fails(
        &as_person(
            &ws,
            "bob",
            &bob,
            &["keys", "add", "carol", "--public", &carols.public_b64()],
        ),
        "bob registers carol's key, but bob registered their own key themself",
    );
    // Ana vouches for Bob's key as it is.
    common::ok(&as_person(
        &ws,
        "ana",
        &ana,
        &["keys", "add", "bob", "--public", &bob_key.public_b64()],
    ));
    let out = common::ok(&as_person(
        &ws,
        "bob",
        &bob,
        &["keys", "revoke", "ana", "--key", ana_key.id()],
    ));
    assert!(
        out.contains(&format!("revoked ana's key {}", ana_key.id())),
        "{out}"
    );
    // Nothing is valid in Ana's name now, signed with the old key or not.
    fails(
        &as_person(&ws, "ana", &ana, &["release", "new", "0.3.0"]),
        "was revoked",
    );
    // Nor may she register another herself: a registered person vouches for it.
    std::fs::rename(keys::key_file(&ana, "ana"), dir.path().join("ana-old.pk8"))
        .expect("move the old key away");
    let t = fails(
        &as_person(&ws, "ana", &ana, &["keys", "new"]),
        "keys add 'ana' --public",
    );
    let public = t
        .split("--public ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the public key")
        .to_owned();
    let out = common::ok(&as_person(
        &ws,
        "bob",
        &bob,
        &["keys", "add", "ana", "--public", &public],
    ));
    assert!(out.contains("vouched for by you"), "{out}");
    common::ok(&as_person(&ws, "ana", &ana, &["release", "new", "0.3.0"]));

    let out = common::ok(&as_person(&ws, "carol", &carol, &["keys", "list"]));
    assert!(out.contains("revoked at #5 by bob"), "{out}");
    assert!(out.contains("added by bob"), "{out}");
    let out = common::ok(&as_person(&ws, "carol", &carol, &["audit", "verify"]));
    assert!(out.contains("signatures: 6 entries signed"), "{out}");
}

#[test]
fn a_log_without_keys_verifies_as_before_and_says_its_entries_are_unsigned() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let keys = dir.path().join("keys");
    common::ok(&as_person(&ws, "ana", &keys, &["release", "new", "0.3.0"]));
    let log = std::fs::read_to_string(ws.join("audit.log")).expect("log");
    assert!(
        !log.contains("\"sig\"") && !log.contains("\"key\""),
        "{log}"
    );
    let out = common::ok(&as_person(&ws, "ana", &keys, &["audit", "verify"]));
    assert!(
        out.contains("signatures: 0 entries signed") && out.contains("2 unsigned"),
        "{out}"
    );
    // An entry that signs in the name of nobody with a key proves nothing: unsigned.
    let stray = Signer::create(&keys, "zed").expect("key");
    let (last, prev) = last_line(&ws.join("audit.log"));
    let (_, line) = stray
        .sign_entry(next(&last, &prev, "zed", "note", "x"))
        .expect("sign");
    append_by_hand(&ws, &line);
    let out = common::ok(&as_person(&ws, "ana", &keys, &["audit", "verify"]));
    assert!(out.contains("3 unsigned"), "{out}");
    assert_ne!(prev, GENESIS_HASH);
}

#[test]
#[expect(
    unsafe_code,
    reason = "the window reads the actor and the keys folder from the environment, as on a \
              real desktop; nextest runs this test in a process of its own and the variables \
              are set before any thread of it starts"
)]
fn the_window_shows_this_consoles_key_and_marks_signed_entries() {
    use std::sync::Arc;

    use egui_kittest::Harness;
    use egui_kittest::kittest::{NodeT as _, Queryable as _};
    use release_console::runner::Runner;
    use release_console::ui::{ConsoleApp, Picker, RfdPicker};
    use release_console::workspace::Origin;

    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let keys = dir.path().join("keys");
    common::ok(&as_person(&ws, "ana", &keys, &["keys", "new"]));
    let id = Signer::load(&keys, "ana")
        .expect("load")
        .expect("key")
        .id()
        .to_owned();
    // SAFETY: see the reason above: no other thread exists yet.
    unsafe {
        std::env::set_var("RELEASE_CONSOLE_ACTOR", "ana");
        std::env::set_var("RELEASE_CONSOLE_KEYS_DIR", &keys);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let runner = Runner::new(rt.handle().clone(), 2);
    let picker: Arc<dyn Picker> = Arc::new(RfdPicker);
    let root = ws.clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| ConsoleApp::new(&cc.egui_ctx, runner, root, Origin::Flag, picker));
    let step_until =
        |h: &mut Harness<'static, ConsoleApp>, what: &str, cond: &dyn Fn(&ConsoleApp) -> bool| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !cond(h.state()) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "timed out waiting for {what}"
                );
                h.step();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            h.step();
        };
    step_until(&mut h, "the workspace to load", &|app| {
        app.data.is_some() && !app.is_busy()
    });
    h.get_by_label("Settings").click();
    h.step();
    h.step();
    assert!(h.query_by_label("SIGNED").is_some(), "the key's badge");
    assert!(
        h.query_by_label_contains(&format!("entries are signed with ana's key {id}"))
            .is_some()
    );
    h.get_by_label("Audit").click();
    // The rows are read from disk as they are shown.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.query_by_label("people.key.add").is_none() {
        assert!(std::time::Instant::now() < deadline, "the audit rows");
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The key's registration is ana's and signed; the workspace's creation is not.
    let labels: Vec<String> = h
        .query_all_by_label_contains("ana")
        .map(|n| format!("{:?}", n.accesskit_node().value()))
        .collect();
    assert!(
        h.query_by_label("ana · signed").is_some(),
        "a signed entry is marked: {labels:?}"
    );
    assert!(h.query_by_label("people.key.add").is_some());
}

/// A key made while a console has the workspace open (`keys new` in a terminal beside the
/// window) signs that console's next change: it is read when it is needed, not only on open.
#[test]
#[expect(
    unsafe_code,
    reason = "an open workspace reads the actor and the keys folder from the environment; \
              nextest runs this test in a process of its own and the variables are set before \
              any thread of it starts"
)]
fn a_key_made_while_the_workspace_is_open_signs_its_next_change() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let keys = dir.path().join("keys");
    // SAFETY: set before any thread of this test process reads the environment.
    unsafe {
        std::env::set_var("RELEASE_CONSOLE_ACTOR", "ana");
        std::env::set_var("RELEASE_CONSOLE_KEYS_DIR", &keys);
    }
    let open = release_console::workspace::Workspace::open(&ws).expect("open");
    common::ok(&as_person(&ws, "ana", &keys, &["keys", "new"]));
    open.record(release_console::audit::Event::parse(
        "incident.note",
        "INC-1",
        &serde_json::Value::Null,
        &serde_json::json!({ "note": "after keys new" }),
    ))
    .expect("signed with the key made since the workspace was opened");
    let (last, _) = last_line(&ws.join("audit.log"));
    assert_eq!(last.action, "incident.note");
    assert!(last.sig.is_some(), "{last:?}");
    common::ok(&as_person(&ws, "ana", &keys, &["audit", "verify"]));
}

/// An entry's values cannot name someone else as the one who ticked: an entry by mallory
/// whose values say `"by": "alice"` (written into the log by hand, chained) shows mallory.
#[test]
fn who_ticked_is_the_entrys_actor_not_a_name_in_its_values() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let keys = dir.path().join("keys");
    common::ok(&as_person(
        &ws,
        "alice",
        &keys,
        &["release", "new", "0.1.0"],
    ));
    let (last, prev) = last_line(&ws.join("audit.log"));
    let mut forged = next(
        &last,
        &prev,
        "mallory",
        "checklist.tick",
        "0.1.0/pre.review-flags",
    );
    forged.after = serde_json::json!({
        "done": true, "by": "alice", "at": "2026-12-04T10:00:00Z", "note": "forged"
    });
    append_by_hand(&ws, &forged.to_line().expect("line"));
    let o = as_person(
        &ws,
        "alice",
        &keys,
        &["--json", "checklist", "show", "--release", "0.1.0"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let items = v["phases"][0]["items"].as_array().expect("items");
    let item = items
        .iter()
        .find(|i| i["id"] == "pre.review-flags")
        .expect("the item");
    assert_eq!(item["state"]["by"], "mallory", "{item}");

    // A release created by mallory whose values say alice created it: mallory's.
    let (last, prev) = last_line(&ws.join("audit.log"));
    let mut create = next(&last, &prev, "mallory", "release.create", "0.2.0");
    let (first, _) = {
        let text = std::fs::read_to_string(ws.join("audit.log")).expect("log");
        let line = text
            .lines()
            .find(|l| l.contains("\"release.create\""))
            .expect("a creation")
            .to_owned();
        (
            serde_json::from_str::<AuditEntry>(&line).expect("entry"),
            line,
        )
    };
    create.after = first.after.clone();
    create.after["version"] = "0.2.0".into();
    create.after["created_by"] = "alice".into();
    append_by_hand(&ws, &create.to_line().expect("line"));
    let o = as_person(&ws, "alice", &keys, &["--json", "release", "show", "0.2.0"]);
    let t = common::text(&o);
    assert!(t.contains("\"created_by\": \"mallory\""), "{t}");
    assert!(!t.contains("\"created_by\": \"alice\""), "{t}");
    // `audit verify` passes (the state is the log's) and names both entries.
    let out = common::ok(&as_person(&ws, "alice", &keys, &["audit", "verify"]));
    for warning in [
        format!(
            "WARNING: entry #{} is by mallory but its `by` says \"alice\"",
            forged.seq
        ),
        format!(
            "WARNING: entry #{} is by mallory but its `created_by` says \"alice\"",
            create.seq
        ),
    ] {
        assert!(out.contains(&warning), "{warning} in {out}");
    }
    assert!(out.contains("2 entries name another person"), "{out}");
}

/// Whoever can write the bucket writes a registration of their own (trust on first use, as
/// anyone may) and a revocation of Ana's key signed by it, then a key "for ana" vouched for by
/// it: every console refuses the revocation, naming it, and Ana's name stays hers.
#[test]
fn a_name_is_not_taken_over_through_the_bucket_by_revoking_and_vouching() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/takeover";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["keys", "new"]));
    let ana_id = Signer::load(&ana.keys(), "ana")
        .expect("load")
        .expect("key")
        .id()
        .to_owned();
    assert_eq!(entries(&ben, ws).len(), 2);
    let (last, prev) = last_line(&ben.folder("takeover").join("audit.log"));

    let attacker = dir.path().join("attacker-keys");
    let mallory = Signer::create(&attacker, "mallory").expect("key");
    let as_ana = Signer::create(&attacker, "ana").expect("key");
    let put = |e: AuditEntry, by: &Signer| {
        let (e, line) = by.sign_entry(e).expect("sign");
        let key = format!("/team/takeover/log/{:012}.json", e.seq);
        assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
        (e, release_console::sha256_hex(line.as_bytes()))
    };
    let mut reg = next(&last, &prev, "mallory", keys::ADD, "mallory");
    reg.after = serde_json::json!({"key": mallory.id(), "public": mallory.public_b64()});
    let (reg, prev) = put(reg, &mallory);
    let mut revoke = next(&reg, &prev, "mallory", keys::REVOKE, "ana");
    revoke.after = serde_json::json!({ "key": ana_id });
    let (revoke, prev) = put(revoke, &mallory);
    let mut vouch = next(&revoke, &prev, "mallory", keys::ADD, "ana");
    vouch.after = serde_json::json!({"key": as_ana.id(), "public": as_ana.public_b64()});
    put(vouch, &mallory);
    for c in [&ana, &ben] {
        fails(
            &c.run(ws, &["checklist", "show"]),
            &format!(
                "entry #{}: mallory revokes ana's key, but mallory registered their own key \
                 themself",
                revoke.seq
            ),
        );
    }
}

/// `Ana`, `ana ` and a Cyrillic `аna` are not other people than ana: the first two need her
/// key, the third is refused as a name.
#[test]
fn look_alike_names_cannot_act_for_a_person_with_a_key() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let (ana, other) = (dir.path().join("ana-keys"), dir.path().join("other-keys"));
    common::ok(&as_person(&ws, "ana", &ana, &["keys", "new"]));
    for name in ["Ana", "ana ", "ａｎａ"] {
        fails(
            &as_person(&ws, name, &other, &["release", "new", "0.3.0"]),
            "holds no key for",
        );
    }
    let t = fails(
        &as_person(&ws, "\u{0430}na", &other, &["keys", "new"]),
        "cannot have a key: it mixes scripts",
    );
    assert!(t.contains("Cyrillic"), "{t}");
    fails(
        &as_person(&ws, "\u{0430}na", &other, &["release", "new", "0.3.0"]),
        "a name that could be taken for another",
    );
    fails(
        &as_person(&ws, "a\u{200B}na", &other, &["keys", "new"]),
        "is invisible or unassigned",
    );
    common::ok(&as_person(&ws, "ana", &ana, &["release", "new", "0.3.0"]));
    common::ok(&as_person(&ws, "ana", &ana, &["audit", "verify"]));
}

/// A whole name in another script that looks like a registered person's (`јое`, all
/// Cyrillic, and `joe`) mixes no scripts, but has the same UTS #39 skeleton: it can neither
/// have a key nor act unsigned.
#[test]
fn a_whole_script_look_alike_of_a_registered_name_is_refused_naming_both() {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    common::init(&ws);
    let (joe, other) = (dir.path().join("joe-keys"), dir.path().join("other-keys"));
    common::ok(&as_person(&ws, "joe", &joe, &["keys", "new"]));
    let fake = "\u{0458}\u{043E}\u{0435}";
    let t = fails(
        &as_person(&ws, fake, &other, &["keys", "new"]),
        "cannot have a key: it looks like \"joe\"",
    );
    assert!(t.contains(fake), "{t}");
    let t = fails(
        &as_person(&ws, fake, &other, &["release", "new", "0.3.0"]),
        "a name that looks like \"joe\"'s",
    );
    assert!(t.contains(fake), "{t}");
    // Names that only share letters are not refused.
    common::ok(&as_person(&ws, "jo", &other, &["keys", "new"]));
    common::ok(&as_person(&ws, "joe", &joe, &["audit", "verify"]));
}

/// A forged entry in the bucket is not an outage: the window's header turns red at the entry
/// (LOG REFUSED at #N, never the amber NOT SYNCING), and once the forgery is removed the
/// window syncs again by itself and the errors it left are gone. The header names the bucket,
/// and the window's title the workspace.
#[test]
fn a_forged_entry_is_said_as_a_refused_log_and_its_errors_go_when_it_is_removed() {
    use crate::team::{open_window, set_window_env, step_until};
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/forged";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["keys", "new"]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    let cache = dir.path().join("cache-window");
    set_window_env(&weed.endpoint, common::WEED_SECRET_KEY, &cache);
    // The window is ana's, with her key.
    std::fs::create_dir_all(cache.with_extension("keys")).expect("keys dir");
    std::fs::copy(
        keys::key_file(&ana.keys(), "ana"),
        keys::key_file(&cache.with_extension("keys"), "ana"),
    )
    .expect("ana's key");
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    assert!(h.query_by_label("SHARED").is_some());
    assert!(h.query_by_label("s3://team/forged").is_some());
    assert!(
        h.state().title().contains("team/forged"),
        "{}",
        h.state().title()
    );
    assert!(h.query_by_label_contains("NO KEY").is_none());

    // Ben writes an entry in Ana's name straight into the bucket.
    common::ok(&ben.run(ws, &["checklist", "show"]));
    let (last, prev) = last_line(&ben.folder("forged").join("audit.log"));
    let forged = next(&last, &prev, "ana", "checklist.tick", "0.2.0/post.smoke");
    let key = format!("/team/forged/log/{:012}.json", forged.seq);
    let line = forged.to_line().expect("line");
    assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
    step_until(&mut h, 30, "the refusal", |app| {
        app.sync_error
            .as_ref()
            .is_some_and(|e| e.refused_at == Some(forged.seq))
    });
    let badge = format!("LOG REFUSED at #{}", forged.seq);
    assert!(h.query_by_label(&badge).is_some(), "{badge}");
    assert!(h.query_by_label("NOT SYNCING").is_none());
    let errors = |app: &release_console::ui::ConsoleApp| {
        app.toasts
            .errors()
            .filter(|t| t.text.contains("forgery"))
            .count()
    };
    assert_eq!(errors(h.state()), 1, "{:?}", h.state().toasts.items());

    // The forgery removed: synced again, the header plain, the errors answered.
    assert_eq!(weed.request("DELETE", &key, &[], b"").0, 204);
    step_until(&mut h, 30, "syncing again", |app| app.sync_error.is_none());
    assert!(h.query_by_label(&badge).is_none());
    assert_eq!(errors(h.state()), 0, "{:?}", h.state().toasts.items());
    assert_eq!(
        crate::team::toasts_with(
            h.state(),
            &format!(
                "s3://team/forged: the log extends this console's again (entry #{} is no \
                 longer refused)",
                forged.seq
            )
        ),
        1
    );
}

/// A window on a machine without the person's registered key says so in the header before any
/// click, with how to fix it; a tick is then refused saying first what was tried.
#[test]
fn a_window_without_the_persons_key_says_so_before_a_change_is_refused() {
    use crate::team::{go_to, open_window, set_window_env, step_until, toasts_with};
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/nokey";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["keys", "new"]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    // The window is ana's on another machine: no key there.
    set_window_env(
        &weed.endpoint,
        common::WEED_SECRET_KEY,
        &dir.path().join("cache-window"),
    );
    let (mut h, _rt) = open_window(ws);
    step_until(&mut h, 30, "the workspace to load", |app| {
        app.data.is_some() && !app.is_busy()
    });
    assert!(
        h.query_by_label("NO KEY for ana here: changes will be refused")
            .is_some()
    );
    go_to(&mut h, "Checklist");
    h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "Validate staging")
        .click();
    h.step();
    step_until(&mut h, 30, "the refusal", |app| {
        toasts_with(app, "Could not tick \"Validate staging\": ") == 1
    });
}
