//! A shared workspace attacked as an outsider would: a bucket that holds keys the console did
//! not write, colleagues whose changes this machine cannot judge, many leases. Against a real
//! S3 server (`SeaweedFS`'s `weed mini`) over loopback, as `team.rs`.

use crate::common::{self, Weed};
use crate::team::{Console, entries, open_as};

/// A colleague's flag change is the log's: another console opening the workspace cannot see
/// the colleague's provider (its `flags/local.json` is the colleague's machine's), and must not
/// mark the change `not_applied` in the shared log, voiding it for everyone.
#[test]
fn a_colleagues_flag_change_is_not_voided_by_another_console() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/flags";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(
        ws,
        &[
            "flags",
            "create",
            "ui_new_exporter",
            "--name",
            "New exporter",
        ],
    ));
    // Ben only looks; then Ana does too.
    let seen = entries(&ben, ws);
    let actions: Vec<&str> = seen.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["workspace.init", "flags.create"], "{seen:#?}");
    common::ok(&ana.run(ws, &["audit", "verify"]));
    common::ok(&ben.run(ws, &["audit", "verify"]));
    // Ben's plan is the log's: the flag has one.
    let plans = std::fs::read_to_string(ben.folder("flags").join("flags/plans.json"))
        .expect("ben's flag plans");
    assert!(plans.contains("ui_new_exporter"), "{plans}");
}

/// A key under `log/` that is not one of the log's own (an admin's copy in `log/old/`) is no
/// entry: it neither stops the pull nor the bucket's verification.
#[test]
fn a_copy_of_an_entry_elsewhere_under_log_is_not_taken_for_the_log() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/stray";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    let (status, second) = weed.request("GET", "/team/stray/log/000000000002.json", &[], b"");
    assert_eq!(status, 200);
    // Sorted right after entry #2, named as entry #3 would be.
    for key in [
        "/team/stray/log/old/000000000003.json",
        "/team/stray/log/000000000003.json.tmp",
    ] {
        assert_eq!(weed.request("PUT", key, &[], second.as_bytes()).0, 200);
    }
    let (done, _) = crate::team::item_done(&ben, ws, "0.2.0", "pre.review-flags");
    assert!(!done);
    let o = ben.run(ws, &["workspace", "verify"]);
    assert!(o.status.success(), "{}", common::text(&o));
    assert_eq!(entries(&ben, ws).len(), 2);
}

/// Leases are given back by rewriting them, never deleted (the console needs no
/// `s3:DeleteObject`), so a busy workspace gathers many: a live one past the first thousand is
/// still seen.
#[test]
fn a_live_lease_among_a_thousand_given_back_is_seen() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/manyleases";
    let url = release_console::workspace::shared::SharedUrl::of_path(std::path::Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        crate::team::access(&weed, &dir.path().join("ana")),
    )
    .expect("init");
    let released = |what: &str| {
        serde_json::json!({
            "what": what,
            "holder": "ci",
            "host": "runner",
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-01-01T00:05:00Z",
            "released": true,
            "nonce": "00",
        })
        .to_string()
    };
    for n in 0..1001 {
        let what = format!("build 0.{n}.0 linux");
        let key = format!("/team/manyleases/leases/build-0.{n}.0-linux.json");
        assert_eq!(
            weed.request("PUT", &key, &[], released(&what).as_bytes()).0,
            200
        );
    }
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let ben = open_as(&weed, dir.path(), "ben", ws);
    // `publish …` sorts after every `build …`.
    let held = ana.lease("publish 0.2.0").expect("lease");
    let started = std::time::Instant::now();
    let live = ben.leases().expect("leases");
    let took = started.elapsed();
    assert_eq!(
        live.iter().map(|l| l.what.as_str()).collect::<Vec<_>>(),
        ["publish 0.2.0"]
    );
    // Read at once, not one after another (the Overview reads them every 10 s).
    assert!(
        took < std::time::Duration::from_secs(5),
        "{took:?} to read 1002 leases"
    );
    drop(held);
}

/// A bucket (or a proxy in front of it) that answers writes without an `ETag`: a lease is
/// still renewed only while it is this console's, never written over another's with an
/// `If-Match` that names nothing.
#[test]
fn a_lease_written_without_an_etag_in_the_answer_stays_conditional() {
    use crate::common::fault_proxy::{Fault, FaultProxy};
    use std::time::Duration;
    let weed = Weed::start();
    weed.bucket("team");
    let proxy = FaultProxy::start(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/noetag";
    let url = release_console::workspace::shared::SharedUrl::of_path(std::path::Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        crate::team::access(&weed, &dir.path().join("ben")),
    )
    .expect("init");
    let mut through = crate::team::access(&weed, &dir.path().join("ana"));
    through.endpoint.url = proxy.url();
    let ana = release_console::workspace::Workspace::open_shared_with(url, through)
        .expect("ana opens through the proxy");
    let ben = open_as(&weed, dir.path(), "ben", ws);
    proxy.times(1000, "PUT", "/leases/", Fault::WithoutHeader("etag".into()));

    // Renewed every second: Ana's own lease holds across renewals.
    let held = ana
        .lease_for("publish 0.2.0", Duration::from_secs(3), false)
        .expect("ana takes the lease");
    std::thread::sleep(Duration::from_millis(3500));
    held.check().expect("ana's lease holds across its renewals");
    let live = ben.leases().expect("leases");
    assert_eq!(live.len(), 1, "renewed, so still live: {live:?}");
    // Both consoles are this process's user; Ben's lease is the one that lasts ten minutes.
    let bens_lease = |live: &[release_console::workspace::LeaseInfo]| {
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
        live.len() == 1 && live[0].until > soon
    };

    // Ben forces it: Ana's next renewal finds it taken and stops, never writing over it.
    let bens = ben.force_lease("publish 0.2.0").expect("ben forces it");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(held.check().is_err(), "ana's lease is lost");
    let live = ben.leases().expect("leases");
    assert!(bens_lease(&live), "ben's lease, not written over: {live:?}");
    drop(held);
    let live = ben.leases().expect("leases");
    assert!(
        bens_lease(&live),
        "ana's give-back left ben's lease alone: {live:?}"
    );
    drop(bens);
}

/// A write whose answer was lost, and a server that then answers the look at the entry with a
/// 304 it was not asked for (no `If-None-Match` was sent): that is no answer, not "no entry",
/// so the console does not claim that nothing was recorded; the next command finds the change.
#[test]
fn an_unasked_not_modified_is_not_taken_for_a_missing_entry() {
    use crate::common::fault_proxy::{Fault, FaultProxy};
    let weed = Weed::start();
    weed.bucket("team");
    let proxy = FaultProxy::start(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ana = crate::team::through(&proxy, dir.path(), "ana");
    let ws = "s3://team/unasked";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    let entry3 = "/log/000000000003.json";
    // Read as it is once (opening; a change tries its number before reading it), then the
    // write lands and
    // the answers to it and to the requests sent again never come, then 304s.
    proxy.times(1, "GET", entry3, Fault::Delay(std::time::Duration::ZERO));
    proxy.times(4, "PUT", entry3, Fault::DropAfterForward);
    proxy.times(3, "GET", entry3, Fault::answer(304, "", ""));
    let tick = [
        "checklist",
        "tick",
        "pre.review-flags",
        "--note",
        "x",
        "--release",
        "0.2.0",
    ];
    let t = common::text(&ana.run(ws, &tick));
    assert!(!t.contains("nothing was recorded"), "{t}");
    // Either the 304s are said as what they are, or (the write held past its usual time and
    // its number read meanwhile) a read that got through found this console's own entry.
    assert!(
        t.contains("Not Modified") || t.contains("ticked pre.review-flags for 0.2.0"),
        "{t}"
    );
    // What the rules for reads have left is used up by reads that fail (one a command); a
    // write held and looked at is not sent again, so rules for the PUT may be left.
    let faulted_reads = || {
        proxy
            .seen()
            .iter()
            .filter(|s| s.method == "GET" && s.path.contains(entry3) && s.fault.is_some())
            .count()
    };
    for _ in 0..16 {
        if faulted_reads() == 4 {
            break;
        }
        let _ = ana.run(ws, &["checklist", "show"]);
    }
    assert_eq!(faulted_reads(), 4, "{:#?}", proxy.seen());
    proxy.clear();
    let all = entries(&ana, ws);
    let ticks = all
        .iter()
        .filter(|e| e["action"] == "checklist.tick")
        .count();
    assert_eq!(ticks, 1, "{all:#?}");
}

/// A renewal whose answer was lost after the bucket took it (the request sent again is then
/// refused: the `ETag` moved on, by this console's own write): the lease is still this
/// console's, its operation goes on, and it is given back when done.
#[test]
fn a_renewal_whose_answer_was_lost_keeps_the_lease() {
    use crate::common::fault_proxy::{Fault, FaultProxy};
    use std::time::Duration;
    let weed = Weed::start();
    weed.bucket("team");
    let proxy = FaultProxy::start(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/lostrenewal";
    let url = release_console::workspace::shared::SharedUrl::of_path(std::path::Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        crate::team::access(&weed, &dir.path().join("ben")),
    )
    .expect("init");
    let mut through = crate::team::access(&weed, &dir.path().join("ana"));
    through.endpoint.url = proxy.url();
    let ana = release_console::workspace::Workspace::open_shared_with(url, through)
        .expect("ana opens through the proxy");
    let ben = open_as(&weed, dir.path(), "ben", ws);

    let held = ana
        .lease_for("publish 0.2.0", Duration::from_secs(3), false)
        .expect("ana takes the lease");
    // The first renewal (in a second) reaches the bucket; its answer does not.
    proxy.once("PUT", "/leases/", Fault::DropAfterForward);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(proxy.pending(), 0, "the renewal was sent");
    held.check().expect("the lease is still ana's");
    assert_eq!(ben.leases().expect("leases").len(), 1);
    // Given back: Ben takes it at once.
    drop(held);
    let bens = ben.lease("publish 0.2.0").expect("ben takes it after ana");

    // Ana forces it, and the answer to her takeover is lost: the request sent again finds her
    // own lease there, and the forcing is audited all the same.
    proxy.once("PUT", "/leases/", Fault::DropAfterForward);
    let forced = ana.force_lease("publish 0.2.0").expect("ana forces it");
    assert_eq!(proxy.pending(), 0, "the takeover was sent");
    let log = ana.audit().entries().expect("log");
    let last = log.last().expect("entry");
    assert_eq!(last.action, "lease.force", "{log:#?}");
    drop(forced);
    drop(bens);
}

/// An entry bigger than a console reads back (4 MiB) is refused before it reaches the bucket:
/// there, every console, its writer's too, would stop at it.
#[test]
fn an_entry_too_big_to_read_back_is_never_written() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/big";
    let url = release_console::workspace::shared::SharedUrl::of_path(std::path::Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        crate::team::access(&weed, &dir.path().join("ana")),
    )
    .expect("init");
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let note = "x".repeat(5 * 1024 * 1024);
    let e = ana
        .record(release_console::audit::Event::parse(
            "incident.note",
            "INC-1",
            &serde_json::Value::Null,
            &serde_json::json!({ "note": note }),
        ))
        .expect_err("refused");
    let t = e.to_string();
    assert!(
        t.contains("4 MiB") && t.contains("nothing was recorded"),
        "{t}"
    );
    // Everyone, Ana too, goes on.
    let ben = open_as(&weed, dir.path(), "ben", ws);
    assert_eq!(ben.audit().entries().expect("log").len(), 1);
    ana.record(release_console::audit::Event::parse(
        "incident.note",
        "INC-1",
        &serde_json::Value::Null,
        &serde_json::json!({ "note": "small" }),
    ))
    .expect("a small one is recorded");
}

/// A forged entry in the middle of a sealed segment (an unsigned entry in the name of a person
/// with a key, the segment and the entry objects after it chained again, as whoever can write
/// the bucket could): a console that opens cold refuses it naming that entry and its segment,
/// not the first entry of the segments it read at once.
#[test]
fn a_forged_entry_inside_a_segment_is_named_by_its_own_number() {
    use release_console::audit::AuditEntry;
    use release_console::audit::keys::{self, Signer};
    use release_console::workspace::Workspace;
    use release_console::workspace::shared::{self, SEGMENT_ENTRIES, SharedUrl};

    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    Workspace::init(&local, "WireTuner").expect("init");
    let log = local.join("audit.log");
    let first = std::fs::read_to_string(&log).expect("log");
    let mut lines: Vec<String> = first.lines().map(str::to_owned).collect();
    let entry = |line: &str| serde_json::from_str::<AuditEntry>(line).expect("entry");
    let hash = |line: &str| release_console::sha256_hex(line.as_bytes());
    let ana = Signer::create(&dir.path().join("keys"), "ana").expect("key");
    let total = 2 * SEGMENT_ENTRIES + 40;
    // Ana's key registered at #2; then ticks by bob, unsigned (he has no key).
    while (lines.len() as u64) < total {
        let last = entry(lines.last().expect("a line"));
        let seq = last.seq + 1;
        let mut e = AuditEntry {
            seq,
            prev: hash(lines.last().expect("a line")),
            actor: "bob".into(),
            action: "checklist.tick".into(),
            target: format!("1.4.0/pre.item-{}", seq % 7),
            after: serde_json::json!({"done": true, "note": format!("entry {seq}")}),
            before: serde_json::Value::Null,
            host: None,
            nonce: None,
            key: None,
            sig: None,
            ..last
        };
        let line = if seq == 2 {
            e.actor = "ana".into();
            e.action = keys::ADD.into();
            e.target = "ana".into();
            e.after = serde_json::json!({"key": ana.id(), "public": ana.public_b64()});
            ana.sign_entry(e).expect("sign").1
        } else {
            e.to_line().expect("line")
        };
        lines.push(line);
    }
    let mut text = String::new();
    for l in &lines[1..] {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&log, format!("{first}{text}")).expect("append");
    let ws = "s3://team/forgedentry";
    let url = SharedUrl::of_path(std::path::Path::new(ws))
        .expect("an s3 url")
        .expect("valid");
    let access = |name: &str| crate::team::access(&weed, &dir.path().join(name));
    shared::push(&local, &url, access("pusher")).expect("push");

    // Entry #2040 (in the second segment) becomes Ana's, unsigned; every line after it is
    // chained again, in the segment and in the entry objects.
    let forged = 2040u64;
    let at = usize::try_from(forged - 1).expect("index");
    let mut e = entry(&lines[at]);
    e.actor = "ana".into();
    lines[at] = e.to_line().expect("line");
    for i in at + 1..lines.len() {
        let mut e = entry(&lines[i]);
        e.prev = hash(&lines[i - 1]);
        lines[i] = e.to_line().expect("line");
    }
    for (i, line) in lines.iter().enumerate().skip(at) {
        let key = format!("/team/forgedentry/log/{:012}.json", i + 1);
        assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
    }
    let second = SEGMENT_ENTRIES + 1;
    let mut segment = String::new();
    for l in &lines[usize::try_from(second - 1).expect("index")..2048] {
        segment.push_str(l);
        segment.push('\n');
    }
    let seg_key = format!(
        "/team/forgedentry/log/segments/{second:012}-{:012}.jsonl",
        2 * SEGMENT_ENTRIES
    );
    assert_eq!(
        weed.request("PUT", &seg_key, &[], segment.as_bytes()).0,
        200
    );

    let Err(e) = Workspace::open_shared_with(url, access("cold")) else {
        panic!("a cold console opened a log with a forged entry");
    };
    let t = e.to_string();
    assert!(
        t.contains(&format!(
            "entry #{forged}: segment forgedentry/log/segments/000000001025-000000002048.jsonl"
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "entry #{forged} claims to be by ana but is not signed"
        )),
        "{t}"
    );
}

/// An entry of a newer entry format (`"format": 2`, which a later console would write for a
/// change of what entries mean) is not read as one this console knows: it refuses to adopt it,
/// naming the entry and the format, and nothing of it is taken. Entries without `format` (every
/// log so far) are of the current one.
#[test]
fn an_entry_of_a_newer_format_is_refused_naming_it() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/format";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    let log = std::fs::read_to_string(ana.folder("format").join("audit.log")).expect("log");
    let last_line = log.lines().last().expect("a line");
    let last: release_console::audit::AuditEntry = serde_json::from_str(last_line).expect("entry");
    let newer = release_console::audit::AuditEntry {
        seq: last.seq + 1,
        time: jiff::Timestamp::now(),
        actor: "ben".to_owned(),
        action: "checklist.tick".to_owned(),
        target: "0.2.0/pre.review-flags".to_owned(),
        before: serde_json::Value::Null,
        after: serde_json::json!({"done": true}),
        prev: release_console::sha256_hex(last_line.as_bytes()),
        host: None,
        nonce: None,
        key: None,
        sig: None,
    };
    let line = newer
        .to_line()
        .expect("line")
        .replacen('{', r#"{"format":2,"#, 1);
    let key = format!("/team/format/log/{:012}.json", newer.seq);
    assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
    let o = ana.run(ws, &["checklist", "show", "--release", "0.2.0"]);
    let out = common::text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains(&format!("entry #{}: it is of entry format 2", newer.seq))
            && out.contains("knows entry formats up to 1"),
        "{out}"
    );
    assert_eq!(entries_in(&ana, "format"), last.seq);
    // Removed from the bucket: the console carries on.
    assert_eq!(weed.request("DELETE", &key, &[], b"").0, 204);
    common::ok(&ana.run(ws, &["audit", "verify"]));
}

/// How many entries `console`'s copy of `prefix` holds.
fn entries_in(console: &Console, prefix: &str) -> u64 {
    std::fs::read_to_string(console.folder(prefix).join("audit.log"))
        .expect("log")
        .lines()
        .count() as u64
}

/// A bucket writer without the console's secret copies the nonce of one of Ana's entries
/// (every entry in the bucket shows its nonce) into a forged entry of their own: a release
/// that Ana never made. Ana's console must not take it for its own entry, so it announces
/// nothing for it (nor would it send a forged delivery record or roll a status page it did
/// not post into the bucket): a nonce's tag is bound to the entry's number and action, so a
/// copy elsewhere is nobody's.
#[test]
fn a_copied_nonce_does_not_make_a_forged_entry_this_consoles() {
    let weed = Weed::start();
    weed.bucket("team");
    let slack = common::notify::Slack::start();
    let hook = slack.url("ok");
    let env = [("HOOK", hook.as_str())];
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init(&local);
    let cfg = local.join("release-console.toml");
    let mut config = std::fs::read_to_string(&cfg).expect("config");
    config.push_str(
        "\n[[notify.slack]]\nchannel = \"#releases\"\nwebhook_env = \"HOOK\"\n\
         events = [\"release.*\"]\n",
    );
    std::fs::write(&cfg, config).expect("config");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/copiednonce";
    let mut push = common::bin();
    push.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut push);
    common::ok(&push.output().expect("push"));
    common::ok(&ana.run_with(ws, &env, &["release", "new", "2.0.0"]));
    assert_eq!(slack.seen().len(), 1, "ana announced her release");

    let log = std::fs::read_to_string(ana.folder("copiednonce").join("audit.log")).expect("log");
    let lines: Vec<&str> = log.lines().collect();
    let entry =
        |l: &str| -> release_console::audit::AuditEntry { serde_json::from_str(l).expect("entry") };
    let hers = lines
        .iter()
        .map(|l| entry(l))
        .find(|e| e.target == "2.0.0" && e.action.starts_with("release.") && e.nonce.is_some())
        .unwrap_or_else(|| panic!("ana's release entry in {log}"));
    let last_line = lines.last().expect("a line");
    let last = entry(last_line);
    let forged = release_console::audit::AuditEntry {
        seq: last.seq + 1,
        time: jiff::Timestamp::now(),
        target: "6.6.6".to_owned(),
        after: serde_json::to_value(&hers.after)
            .expect("after")
            .to_string()
            .replace("2.0.0", "6.6.6")
            .parse()
            .expect("json"),
        prev: release_console::sha256_hex(last_line.as_bytes()),
        ..hers
    };
    let key = format!("/team/copiednonce/log/{:012}.json", forged.seq);
    let line = forged.to_line().expect("line");
    assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
    let _ = ana.run_with(ws, &env, &["release", "list"]);
    let _ = ana.run_with(ws, &env, &["notify", "flush"]);
    let seen = slack.seen();
    assert_eq!(
        seen.len(),
        1,
        "ana's console announced a release a bucket writer forged with her nonce: {seen:#?}"
    );
}

/// A bucket writer forges a build's run state (`pipeline.platform`) whose task log is a path
/// out of the release's logs folder (here absolute: a secret of the CI machine). The CI
/// console's next build stores each built platform's log in the bucket: it must not read a
/// file the log names outside its logs folder, let alone send it to the bucket (where the
/// forger reads it back by its SHA-256).
#[test]
fn a_forged_run_state_s_log_path_does_not_send_a_local_file_to_the_bucket() {
    use crate::team_blobs::{builders, fake_builder};
    const WS: &str = "s3://team/wiretuner";
    let weed = Weed::start();
    weed.bucket("team");
    let s3 = common::S3Client::weed(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let secret = dir.path().join("id_ed25519");
    let secret_bytes = b"-----BEGIN OPENSSH PRIVATE KEY----- ci's own";
    std::fs::write(&secret, secret_bytes).expect("secret");
    let ci = Console::new(&weed, dir.path(), "ci");
    common::ok(&ci.run(WS, &["init", WS]));
    builders(&weed, "wiretuner", &["ci"]);
    common::ok(&ci.run(WS, &["release", "new", "0.1.0"]));
    fake_builder(&ci.folder("wiretuner"));
    common::ok(&ci.run(WS, &["audit", "list"]));

    for (name, path) in [
        ("evil", secret.display().to_string()),
        ("sneaky", "../../../../id_ed25519".to_owned()),
    ] {
        let log = std::fs::read_to_string(ci.folder("wiretuner").join("audit.log")).expect("log");
        let prev_line = log.lines().last().expect("a line");
        let prev: release_console::audit::AuditEntry =
            serde_json::from_str(prev_line).expect("entry");
        let forged = release_console::audit::AuditEntry {
            seq: prev.seq + 1,
            time: jiff::Timestamp::now(),
            actor: "ci".to_owned(),
            action: "pipeline.platform".to_owned(),
            target: format!("0.1.0/{name}"),
            before: serde_json::Value::Null,
            after: serde_json::json!({"run": {
                "status": "succeeded", "message": "1 artifact", "steps": [],
                "artifacts": [], "log": path, "finished_at": jiff::Timestamp::now(),
            }}),
            prev: release_console::sha256_hex(prev_line.as_bytes()),
            host: Some("somewhere".to_owned()),
            nonce: None,
            key: None,
            sig: None,
        };
        let key = format!("/team/wiretuner/log/{:012}.json", forged.seq);
        let text = forged.to_line().expect("line");
        assert_eq!(weed.request("PUT", &key, &[], text.as_bytes()).0, 200);
        common::ok(&ci.run(WS, &["audit", "list"]));
    }
    // The secret, where the relative one points, too.
    let logs = ci.folder("wiretuner").join("releases/0.1.0/logs");
    std::fs::create_dir_all(&logs).expect("logs");
    std::fs::write(logs.join("../../../../id_ed25519"), secret_bytes).expect("secret");

    let _ = ci.run(
        WS,
        &[
            "pipeline",
            "run",
            "--version",
            "0.1.0",
            "--platform",
            "linux",
        ],
    );
    let sha = release_console::sha256_hex(secret_bytes);
    let a = s3
        .send(
            "HEAD",
            &format!("/team/wiretuner/blobs/sha256/{sha}"),
            &[],
            b"",
        )
        .expect("HEAD");
    assert_eq!(
        a.status, 404,
        "a file named by a forged run state's log was sent to the bucket"
    );
}

/// A bucket writer (or another console by mistake) records a change of a delivery this console
/// queued and has not sent yet (its webhook was not set): marked dropped, from elsewhere. Only
/// the console that queued a delivery changes it: the forged change is not taken, and this
/// console still retries and sends its message, its cache agreeing with the log.
#[test]
fn a_forged_change_of_this_consoles_delivery_does_not_silence_it() {
    let weed = Weed::start();
    weed.bucket("team");
    let slack = common::notify::Slack::start();
    let hook = slack.url("ok");
    let env = [("HOOK", hook.as_str())];
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init(&local);
    let cfg = local.join("release-console.toml");
    let mut config = std::fs::read_to_string(&cfg).expect("config");
    config.push_str(
        "\n[[notify.slack]]\nchannel = \"#releases\"\nwebhook_env = \"HOOK\"\n\
         events = [\"release.*\"]\n",
    );
    std::fs::write(&cfg, config).expect("config");
    let ana = Console::new(&weed, dir.path(), "ana");
    let ws = "s3://team/silenced";
    let mut push = common::bin();
    push.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut push);
    common::ok(&push.output().expect("push"));
    // Its webhook is not set yet on Ana's machine: the delivery waits for it.
    common::ok(&ana.run(ws, &["release", "new", "2.0.0"]));
    assert_eq!(slack.seen().len(), 0, "not sent without its webhook");

    let log = std::fs::read_to_string(ana.folder("silenced").join("audit.log")).expect("log");
    let lines: Vec<&str> = log.lines().collect();
    let entry =
        |l: &str| -> release_console::audit::AuditEntry { serde_json::from_str(l).expect("entry") };
    let hers = lines
        .iter()
        .map(|l| entry(l))
        .rfind(|e| e.action.starts_with("notify.") && e.after["delivery"].is_object())
        .unwrap_or_else(|| panic!("ana's delivery in {log}"));
    let id = hers.target.clone();
    let mut record = hers.after["delivery"].clone();
    record["state"] = "dropped".into();
    record["answer"] = "dropped".into();
    let last_line = lines.last().expect("a line");
    let last = entry(last_line);
    let forged = release_console::audit::AuditEntry {
        seq: last.seq + 1,
        time: jiff::Timestamp::now(),
        action: "notify.dropped".to_owned(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "delivery": record }),
        prev: release_console::sha256_hex(last_line.as_bytes()),
        host: Some("elsewhere".to_owned()),
        nonce: None,
        key: None,
        sig: None,
        ..hers
    };
    let key = format!("/team/silenced/log/{:012}.json", forged.seq);
    let line = forged.to_line().expect("line");
    assert_eq!(weed.request("PUT", &key, &[], line.as_bytes()).0, 200);
    // Its webhook set, Ana retries it.
    common::ok(&ana.run_with(ws, &env, &["notify", "retry", &id]));
    let seen = slack.seen();
    assert_eq!(seen.len(), 1, "ana's console sent her delivery: {seen:#?}");
    let audited = common::ok(&ana.run_with(ws, &env, &["audit", "verify"]));
    assert!(audited.contains("audit log intact"), "{audited}");
}

/// A write the server holds (as SeaweedFS holds a create racing another on one key, for
/// about a second) is not waited out: after a few times the usual answer its number is read.
/// Another's entry there is a lost race, and the next number is tried at once; this console's
/// own entry there is its write, landed: adopted, nothing sent twice.
#[test]
fn a_held_write_is_looked_at_not_waited_out() {
    use crate::common::fault_proxy::{Fault, FaultProxy};
    use std::time::{Duration, Instant};
    let weed = Weed::start();
    weed.bucket("team");
    let proxy = FaultProxy::start(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ana = crate::team::through(&proxy, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/held";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    let tick = |who: &Console, item: &str| {
        let started = Instant::now();
        let o = who.run(
            ws,
            &[
                "checklist",
                "tick",
                item,
                "--note",
                "x",
                "--release",
                "0.2.0",
            ],
        );
        (common::text(&o), o.status.success(), started.elapsed())
    };
    // Ben takes entry #3 first; ana's write of #3 (she has not seen his) is held 8 s.
    let (t, ok, _) = tick(&ben, "pre.review-flags");
    assert!(ok, "{t}");
    proxy.once(
        "PUT",
        "/log/000000000003.json",
        Fault::Delay(Duration::from_secs(8)),
    );
    let (t, ok, took) = tick(&ana, "pre.validate-staging");
    assert!(ok, "{t}");
    assert!(
        took < Duration::from_secs(6),
        "waited out the held write: {took:?}: {t}"
    );
    let all = entries(&ben, ws);
    assert_eq!(all.len(), 4, "{all:#?}");
    assert_eq!(all[2]["actor"], ben.user);
    assert_eq!(all[3]["actor"], ana.user);
    assert_eq!(all[3]["target"], "0.2.0/pre.validate-staging");

    // Her write of #5 held 3 s before it reaches the server: nothing is there when she looks,
    // so it is waited for (never sent again, never given up): one tick, in place.
    proxy.once(
        "PUT",
        "/log/000000000005.json",
        Fault::Delay(Duration::from_secs(3)),
    );
    let (t, ok, took) = tick(&ana, "pre.release-notes");
    assert!(ok, "{t}");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    let all = entries(&ben, ws);
    assert_eq!(all.len(), 5, "{all:#?}");
    assert_eq!(all[4]["target"], "0.2.0/pre.release-notes");
    let puts = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "PUT" && s.path.contains("/log/000000000005.json"))
        .count();
    assert_eq!(puts, 1);
    common::ok(&ben.run(ws, &["audit", "verify"]));
}

/// A look at a held write that reads something that is no entry of that number (a proxy's
/// error page sent as `200`, a torn body) is not another's entry: the create may still be on
/// its way and land, so it is waited for, not taken for a lost race. Taken for one, the change
/// was tried again at the same number, the held write landed first, and the console refused
/// its own change as raced by "another" (its own first try) though the log recorded it.
#[test]
fn a_garbage_look_at_a_held_write_is_not_a_lost_race() {
    use crate::common::fault_proxy::{Fault, FaultProxy};
    use std::time::{Duration, Instant};
    let weed = Weed::start();
    weed.bucket("team");
    let proxy = FaultProxy::start(&weed.endpoint);
    let dir = tempfile::tempdir().expect("dir");
    let ana = crate::team::through(&proxy, dir.path(), "ana");
    let ben = Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/garbage";
    common::ok(&ana.run(ws, &["init", ws]));
    common::ok(&ana.run(ws, &["release", "new", "0.2.0"]));
    // Her write of #3 reaches the server after 3 s; once it is on its way, the look at #3
    // reads a 200 that is no entry, and a second write of #3 would be held 5 s.
    proxy.once(
        "PUT",
        "/log/000000000003.json",
        Fault::Delay(Duration::from_secs(3)),
    );
    let (out, ok) = std::thread::scope(|s| {
        let tick = s.spawn(|| {
            let o = ana.run(
                ws,
                &[
                    "checklist",
                    "tick",
                    "pre.validate-staging",
                    "--release",
                    "0.2.0",
                ],
            );
            (common::text(&o), o.status.success())
        });
        let started = Instant::now();
        while proxy.pending() > 0 && started.elapsed() < Duration::from_mins(1) {
            std::thread::sleep(Duration::from_millis(2));
        }
        proxy.once(
            "GET",
            "/log/000000000003.json",
            Fault::answer(200, "Garbage", "not an entry"),
        );
        proxy.once(
            "PUT",
            "/log/000000000003.json",
            Fault::Delay(Duration::from_secs(5)),
        );
        tick.join().expect("tick")
    });
    proxy.clear();
    assert!(ok, "{out}");
    let all = entries(&ben, ws);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(all[2]["target"], "0.2.0/pre.validate-staging");
    common::ok(&ana.run(ws, &["audit", "verify"]));
}

/// A channel's record (`publish/CHANNEL.json`) holds every version on it, and keeps one
/// begun change: a publish (or yank) begun on a channel by a console that had not read
/// another's change of that channel is judged on a stale record, whatever its version. The
/// publish leases are per version, so two consoles may publish two versions to one channel at
/// once: the second one's begin must be refused as raced (read again, it finishes the first
/// one's begun change first), not recorded beside it, where a roll forward keeps only the
/// later begun change and the earlier one is shown by no console that rolled it meanwhile.
#[test]
fn a_channel_change_judged_before_anothers_change_of_that_channel_is_raced() {
    use release_console::audit::Event;
    use release_console::audit::event::{Live, PublishChange, Published};
    use release_console::workspace::WorkspaceError;
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/channel-race";
    let url = release_console::workspace::shared::SharedUrl::of_path(std::path::Path::new(ws))
        .expect("url")
        .expect("valid");
    release_console::workspace::Workspace::init_shared_with(
        &url,
        "WireTuner",
        crate::team::access(&weed, &dir.path().join("ana")),
    )
    .expect("init");
    let ana = open_as(&weed, dir.path(), "ana", ws);
    let ben = open_as(&weed, dir.path(), "ben", ws);
    let begin = |version: &str, channel: &str| {
        Event::PublishBegin(PublishChange {
            target: version.into(),
            before: Live {
                live: Some("1.0.0".into()),
            },
            after: Published {
                channel: channel.into(),
                files: serde_json::json!([]),
                uploaded: None,
            },
        })
    };
    ana.record(begin("2.0.0", "stable"))
        .expect("ana begins 2.0.0");
    let e = ben
        .record(begin("2.1.0", "stable"))
        .expect_err("ben judged stable before ana's begin");
    assert!(
        matches!(&e, WorkspaceError::Raced { seq, .. } if *seq == 2),
        "{e}"
    );
    // Another channel's record is not stale.
    ben.record(begin("2.1.0", "beta"))
        .expect("beta was not changed meanwhile");
}

/// Channel changes forged into the shared log by anyone who can write the bucket: channels
/// that are no channel names or are the console's own files (`../x`, `uploads`,
/// `publish-change`, `Uploads`), a target that is no version (`9.9.9/../../x`, whose key
/// `stable/9.9.9/../../x` split at its first `/` made it a version published on stable),
/// files that are no files, twenty thousand files, a yank naming no version to go back to, a
/// yank carrying another version's publish record. None is taken into the channels' records,
/// nothing is written outside `publish/`, and `publish status` and `audit verify` answer.
#[test]
fn forged_channel_changes_are_refused_and_nothing_leaves_publish() {
    use release_console::audit::Event;
    use release_console::audit::event::{Live, PublishChange, Published, YankChange, Yanked};
    let pki = common::Pki::new();
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let local = dir.path().join("local");
    common::init_pinned_windows(&local, &pki);
    common::make_publishable(&pki, &local, "1.0.0");
    common::ok(&common::cli(&local, &["publish", "--version", "1.0.0"]));
    let ws = "s3://team/forged";
    let ana = Console::new(&weed, dir.path(), "ana");
    let mut c = common::bin();
    c.args(["workspace", "push"]).arg(&local).arg(ws);
    ana.env(&mut c);
    common::ok(&c.output().expect("push"));
    let files: serde_json::Value = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(local.join("publish/stable.json")).expect("stable"),
    )
    .expect("json")["published"][0]["files"]
        .clone();
    let m = open_as(&weed, dir.path(), "mallory", ws);
    let publish = |target: &str, channel: &str, files: serde_json::Value, done: bool| {
        let p = PublishChange {
            target: target.into(),
            before: Live { live: None },
            after: Published {
                channel: channel.into(),
                files,
                uploaded: None,
            },
        };
        if done {
            Event::Publish(p)
        } else {
            Event::PublishBegin(p)
        }
    };
    let big: Vec<serde_json::Value> = (0..20000)
        .map(|i| serde_json::json!({"name": format!("f{i}"), "key": "k", "url": "u", "size": 1, "sha256": "00".repeat(32)}))
        .collect();
    for e in [
        publish("1.0.0", "../x", files.clone(), true),
        publish("1.0.0", "uploads", files.clone(), true),
        publish("1.0.0", "publish-change", files.clone(), true),
        publish("1.0.0", "Uploads", files.clone(), true),
        publish("9.9.9/../../../../evil", "stable", files.clone(), true),
        publish("3.0.0", "stable", serde_json::json!("garbage"), true),
        publish("3.1.0", "stable", serde_json::Value::Array(big), true),
        Event::Yank(YankChange {
            target: "1.0.0".into(),
            before: Live { live: None },
            after: Yanked {
                channel: "stable".into(),
                live: None,
                reason: "x".into(),
                published: None,
            },
        }),
        Event::YankBegin(YankChange {
            target: "4.0.0".into(),
            before: Live { live: None },
            after: Yanked {
                channel: "beta".into(),
                live: Some("1.0.0".into()),
                reason: "x".into(),
                published: Some(
                    serde_json::json!({"version": "1.0.0", "at": "2026-01-01T00:00:00Z", "by": "m", "files": []}),
                ),
            },
        }),
    ] {
        m.record(e).expect("forged");
    }
    let ben = Console::new(&weed, dir.path(), "ben");
    let status = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json", "publish", "status"];
        all.extend_from_slice(args);
        let o = ben.run(ws, &all);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", common::text(&o)))
    };
    let stable = status(&[]);
    assert_eq!(
        stable["published"],
        serde_json::json!(["1.0.0", "3.1.0"]),
        "{stable:#}"
    );
    assert_eq!(stable["yanked"], serde_json::json!([]), "{stable:#}");
    let beta = status(&["--channel", "beta"]);
    assert_eq!(beta["published"], serde_json::json!([]), "{beta:#}");
    common::ok(&ben.run(ws, &["audit", "verify"]));
    let folder = ben.folder("forged");
    let mut names: Vec<String> = std::fs::read_dir(folder.join("publish"))
        .expect("publish/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".publish-change.lock", "beta.json", "stable.json"]);
    assert!(!folder.join("x.json").exists());
    assert!(!dir.path().join("x.json").exists());
}
