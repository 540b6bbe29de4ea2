//! A shared workspace's log sealed into segments (`log/segments/<first>-<last>.jsonl`, the
//! exact lines of 1,024 entries), which a console that opens cold reads instead of every
//! entry: the requests it makes, forged segments refused naming their key, and two consoles
//! sealing one range at once. Against a real S3 server (`SeaweedFS`'s `weed mini`) over
//! loopback, some through the fault proxy, whose request log counts what a console asked.

use std::path::Path;

use release_console::workspace::shared::{self, SEGMENT_ENTRIES, SharedUrl};
use release_console::workspace::{Workspace, WorkspaceError};

use crate::common::Weed;
use crate::common::fault_proxy::{Fault, FaultProxy, Seen};
use crate::team::access;

/// Two whole segments and 40 entries after them.
const ENTRIES: u64 = 2 * SEGMENT_ENTRIES + 40;

fn url(ws: &str) -> SharedUrl {
    SharedUrl::of_path(Path::new(ws))
        .expect("an s3 url")
        .expect("valid")
}

/// A local workspace whose log holds `entries` chained entries, pushed into the bucket at
/// `ws` (which seals its whole ranges); the pushed log's text.
fn pushed(weed: &Weed, dir: &Path, ws: &str, entries: u64) -> String {
    let local = dir.join("local");
    Workspace::init(&local, "WireTuner").expect("init");
    release_console::audit::write_synthetic(&local, entries).expect("log");
    let moved = shared::push(&local, &url(ws), access(weed, &dir.join("pusher"))).expect("push");
    assert_eq!(moved.entries, entries);
    std::fs::read_to_string(local.join("audit.log")).expect("log")
}

/// A console that never saw `ws`, reaching the bucket at `endpoint`.
fn open_cold(
    weed: &Weed,
    endpoint: Option<&str>,
    cache: &Path,
    ws: &str,
) -> Result<Workspace, WorkspaceError> {
    let mut a = access(weed, cache);
    if let Some(e) = endpoint {
        e.clone_into(&mut a.endpoint.url);
    }
    Workspace::open_shared_with(url(ws), a)
}

fn segment_path(ws_prefix: &str, first: u64) -> String {
    format!(
        "/team/{ws_prefix}/log/segments/{first:012}-{:012}.jsonl",
        first + SEGMENT_ENTRIES - 1
    )
}

fn gets(seen: &[Seen]) -> Vec<&str> {
    seen.iter()
        .filter(|s| s.method == "GET")
        .map(|s| s.path.as_str())
        .collect()
}

#[test]
fn a_cold_console_reads_the_segments_and_only_the_entries_after_them() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/sealed";
    let text = pushed(&weed, dir.path(), ws, ENTRIES);
    // The push sealed both whole ranges: their bytes are the entries' lines.
    let lines: Vec<&str> = text.lines().collect();
    for first in [1, SEGMENT_ENTRIES + 1] {
        let (status, body) = weed.request("GET", &segment_path("sealed", first), &[], b"");
        assert_eq!(status, 200, "segment from #{first}");
        let from = usize::try_from(first - 1).expect("index");
        let want = joined(&lines[from..from + 1024]);
        assert_eq!(body, want, "segment from #{first}");
    }

    let proxy = FaultProxy::start(&weed.endpoint);
    let ws_cold = open_cold(&weed, Some(&proxy.url()), &dir.path().join("cold"), ws)
        .expect("opens from the segments");
    // The same log, byte for byte, and it verifies.
    let cache = ws_cold.root().join("audit.log");
    assert_eq!(std::fs::read_to_string(&cache).expect("copy"), text);
    assert_eq!(ws_cold.audit().verify().expect("verifies").entries, ENTRIES);

    let seen = proxy.seen_under("/team/");
    let got = gets(&seen);
    let entry_gets: Vec<u64> = got
        .iter()
        .filter_map(|p| p.strip_prefix("/team/sealed/log/"))
        .filter_map(|n| n.strip_suffix(".json"))
        .filter_map(|n| n.parse().ok())
        .collect();
    let segment_gets = got.iter().filter(|p| p.contains("/log/segments/")).count();
    let lists = got.iter().filter(|p| p.contains("list-type=2")).count();
    // One listing of the segments, both segments, the entry that vouches for them (#2048),
    // then only entries after it.
    assert_eq!(lists, 1, "{got:#?}");
    assert_eq!(segment_gets, 2, "{got:#?}");
    assert_eq!(
        entry_gets
            .iter()
            .filter(|s| **s <= 2 * SEGMENT_ENTRIES)
            .count(),
        1,
        "only entry #2048 of the sealed ones: {entry_gets:?}"
    );
    assert!(entry_gets.contains(&(2 * SEGMENT_ENTRIES)));
    for seq in 2 * SEGMENT_ENTRIES + 1..=ENTRIES {
        assert!(entry_gets.contains(&seq), "entry #{seq} was read");
    }
    // Windows of 1, 2, 4, ... 32 entries find the 40 and the end: a console asks about a
    // hundred times, not two thousand.
    assert!(seen.len() < 80, "{} requests: {got:#?}", seen.len());
    assert!(
        seen.iter().all(|s| s.method == "GET"),
        "a cold console that finds every range sealed writes nothing: {seen:#?}"
    );
}

/// Replaces segment `first` of `prefix` in the bucket with `body` (anyone with write access).
fn forge(weed: &Weed, prefix: &str, first: u64, body: &[u8]) {
    let (status, answer) = weed.request("PUT", &segment_path(prefix, first), &[], body);
    assert_eq!(status, 200, "{answer}");
}

/// The lines of segment `first` (whole lines, each with its newline).
fn segment_lines(text: &str, first: u64) -> Vec<String> {
    text.lines()
        .skip(usize::try_from(first - 1).expect("index"))
        .take(1024)
        .map(str::to_owned)
        .collect()
}

fn joined<S: AsRef<str>>(lines: &[S]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line.as_ref());
        text.push('\n');
    }
    text
}

#[track_caller]
fn refused_naming(r: Result<Workspace, WorkspaceError>, key: &str, what: &str) {
    match r {
        Ok(_) => panic!("{what}: a cold console opened from a forged segment"),
        Err(e) => {
            assert!(matches!(e, WorkspaceError::Diverged { .. }), "{what}: {e}");
            let t = e.to_string();
            assert!(t.contains(key), "{what}: the error names {key}: {t}");
        }
    }
}

#[test]
fn a_forged_segment_is_refused_naming_its_key_and_verify_names_it() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/forged";
    let text = pushed(&weed, dir.path(), ws, ENTRIES);
    let second = SEGMENT_ENTRIES + 1;
    let key = "forged/log/segments/000000001025-000000002048.jsonl";
    let original = joined(&segment_lines(&text, second));
    // A console that already holds the log, to run `workspace verify` with.
    let warm = open_cold(&weed, None, &dir.path().join("warm"), ws).expect("open");

    // Lines that do not chain: two swapped in the middle (the last line is still right).
    let mut swapped = segment_lines(&text, second);
    swapped.swap(10, 11);
    forge(&weed, "forged", second, joined(&swapped).as_bytes());
    refused_naming(
        open_cold(&weed, None, &dir.path().join("c1"), ws),
        key,
        "swapped lines",
    );

    // Lines that chain, but are not the log's: one entry rewritten and every line after it
    // linked again, so only the entries after the segment can tell.
    let mut rechained = segment_lines(&text, second);
    rechained[5] = rechained[5].replacen("\"bob\"", "\"eve\"", 1);
    rechained[5] = rechained[5].replacen("\"alice\"", "\"eve\"", 1);
    rechained[5] = rechained[5].replacen("\"carol\"", "\"eve\"", 1);
    assert_ne!(rechained[5], segment_lines(&text, second)[5]);
    for i in 6..rechained.len() {
        let prev = release_console::sha256_hex(rechained[i - 1].as_bytes());
        let mut e: serde_json::Value = serde_json::from_str(&rechained[i]).expect("entry");
        e["prev"] = prev.into();
        rechained[i] =
            release_console::audit::AuditEntry::to_line(&serde_json::from_value(e).expect("entry"))
                .expect("line");
    }
    forge(&weed, "forged", second, joined(&rechained).as_bytes());
    let cold = open_cold(&weed, None, &dir.path().join("c2"), ws);
    refused_naming(cold, key, "a rewritten chain");
    let check = warm
        .shared()
        .expect("shared")
        .verify_bucket(warm.audit())
        .expect("the entries chain");
    assert!(!check.agrees(), "{check:?}");
    assert_eq!(check.segments_differ, [key.to_owned()], "{check:?}");
    assert_eq!(check.segments, 1, "{check:?}");
    assert_eq!(check.entries, ENTRIES);

    // Larger than any segment a console writes.
    let big = vec![b'x'; 17 * 1024 * 1024];
    forge(&weed, "forged", second, &big);
    refused_naming(
        open_cold(&weed, None, &dir.path().join("c3"), ws),
        key,
        "an oversized segment",
    );

    // Put back: a cold console opens, and the bucket verifies.
    forge(&weed, "forged", second, original.as_bytes());
    let back = open_cold(&weed, None, &dir.path().join("c4"), ws).expect("opens again");
    assert_eq!(back.audit().verify().expect("verifies").entries, ENTRIES);
    let check = warm
        .shared()
        .expect("shared")
        .verify_bucket(warm.audit())
        .expect("verify");
    assert!(check.agrees(), "{check:?}");
    assert_eq!((check.segments, check.unsealed), (2, 0), "{check:?}");
}

#[test]
fn the_writer_of_a_ranges_last_entry_seals_it_and_two_sealers_race_harmlessly() {
    let weed = Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/race";
    // One entry short of a whole range: nothing sealed yet.
    let text = pushed(&weed, dir.path(), ws, SEGMENT_ENTRIES - 1);
    assert_eq!(
        weed.request("GET", &segment_path("race", 1), &[], b"").0,
        404
    );
    let ana = open_cold(&weed, None, &dir.path().join("ana"), ws).expect("open");
    ana.record(release_console::audit::Event::parse(
        "incident.note",
        "INC-1",
        &serde_json::Value::Null,
        &serde_json::json!({ "note": "the range's last entry" }),
    ))
    .expect("recorded");
    let (status, body) = weed.request("GET", &segment_path("race", 1), &[], b"");
    assert_eq!(status, 200, "ana sealed the range she completed");
    let log = std::fs::read_to_string(ana.root().join("audit.log")).expect("log");
    assert!(log.starts_with(&text));
    assert_eq!(body, log, "the segment is the range's lines, byte for byte");

    // The segment removed (an admin), as if ana had stopped before sealing it: two consoles
    // that open cold both find the range unsealed and seal it at once. Ana's write is held
    // by the proxy until Ben's is in: hers is answered 412, and the same bytes are success.
    assert_eq!(
        weed.request("DELETE", &segment_path("race", 1), &[], b"").0,
        204
    );
    let proxy = FaultProxy::start(&weed.endpoint);
    proxy.once(
        "PUT",
        "/log/segments/",
        Fault::Delay(std::time::Duration::from_secs(8)),
    );
    let proxied = proxy.url();
    std::thread::scope(|s| {
        let first = s.spawn(|| open_cold(&weed, Some(&proxied), &dir.path().join("c1"), ws));
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        while proxy.pending() > 0 {
            assert!(std::time::Instant::now() < deadline, "the seal never came");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        open_cold(&weed, None, &dir.path().join("c2"), ws).expect("the second sealer opens");
        assert_eq!(
            weed.request("GET", &segment_path("race", 1), &[], b"").1,
            log,
            "the second console's segment is in"
        );
        first
            .join()
            .expect("thread")
            .expect("the first sealer, answered 412, finds the same bytes and opens");
    });
    let seen = proxy.seen_under("/team/race/log/segments/");
    let put = seen
        .iter()
        .find(|s| s.method == "PUT")
        .expect("the first console's seal");
    assert_eq!(put.upstream, Some(412), "{seen:#?}");
    assert!(
        seen.iter().any(|s| s.method == "GET" && s.path == put.path),
        "it read what was there: {seen:#?}"
    );

    // A different segment there already: sealing it is refused, naming it.
    assert_eq!(
        weed.request("DELETE", &segment_path("race", 1), &[], b"").0,
        204
    );
    let proxy = FaultProxy::start(&weed.endpoint);
    proxy.once(
        "PUT",
        "/log/segments/",
        Fault::Delay(std::time::Duration::from_secs(8)),
    );
    let proxied = proxy.url();
    std::thread::scope(|s| {
        let first = s.spawn(|| open_cold(&weed, Some(&proxied), &dir.path().join("c3"), ws));
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        while proxy.pending() > 0 {
            assert!(std::time::Instant::now() < deadline, "the seal never came");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut other: Vec<String> = log.lines().map(str::to_owned).collect();
        other[3] = other[3].replacen("synthetic", "forged", 1);
        forge(&weed, "race", 1, joined(&other).as_bytes());
        refused_naming(
            first.join().expect("thread"),
            "race/log/segments/000000000001-000000001024.jsonl",
            "a different segment in the race",
        );
    });
}
