//! `bench --only team`: a workspace shared on an S3 bucket (a local `SeaweedFS` started here),
//! against issue 26's numbers: writers at once, how soon another console sees a change,
//! opening a big shared log, and replaying a big log into state. The reference in the same run
//! is the same client's raw `PUT` of the same objects, without the log's logic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::weed::{Weed, start_weed, weed_binary};
use super::{BenchArgs, Cli};
use crate::audit::{AuditEntry, GENESIS_HASH};
use crate::net::s3::{Client, Cond};
use crate::runbook::ItemState;
use crate::workspace::shared::{Access, Costs, SEGMENT_ENTRIES, Shared, SharedUrl};
use crate::workspace::{Release, Workspace, WorkspaceError};

const BUCKET: &str = "bench-team";
/// Every how many changes a writer changes one of the items all writers share.
const SHARED_EVERY: usize = 5;
/// Requests in flight when the big log is put into the bucket.
const SEED_IN_FLIGHT: usize = 32;
/// Polls timed with nothing new to find.
const IDLE_POLLS: usize = 9;
/// Reads in flight in the references for a cold open.
const GET_IN_FLIGHT: usize = 16;
/// Lines built and adopted at once when the replay's log is made.
const REPLAY_CHUNK: u64 = 100_000;

/// The team suite's figures, as `bench --json` prints them under `team`.
#[derive(Debug, Serialize)]
pub(super) struct TeamFigures {
    writers: WriterFigures,
    visibility: VisibilityFigures,
    open: OpenFigures,
    replay: ReplayFigures,
}

#[derive(Debug, Serialize)]
struct WriterFigures {
    writers: usize,
    changes_per_writer: usize,
    /// Changes whose `set_item` returned `Ok`.
    acknowledged: u64,
    /// Entries the bucket's log gained during the run.
    bucket_entries: u64,
    /// Acknowledged changes the bucket does not hold.
    lost: u64,
    /// Entries recorded more than once (the same nonce twice, or more entries than changes).
    doubled: u64,
    secs: f64,
    committed_per_sec: f64,
    /// When the first and the last writer finished, from the first one's start: a fixed
    /// number of changes each, so the last ones write with fewer others at the end.
    first_done_secs: f64,
    last_done_secs: f64,
    /// Each writer's finish (seconds from the first one's start) and its mean change (ms),
    /// in the order they finished.
    each_writer: Vec<(f64, f64)>,
    /// Changes committed while every writer was still writing (before the first finished),
    /// per second: the throughput of all of them at once.
    all_writing_per_sec: f64,
    /// Changes of a shared item refused as raced (another writer's came first), then read again.
    raced: u64,
    /// Changes of a writer's own item (which no other writer changes) refused as raced: the
    /// console took its own earlier entry, adopted after others' and not yet marked seen, for
    /// another person's change. Read again and tried again, as for a shared item.
    raced_on_own_items: u64,
    /// Changes given up after `RACE_RETRIES` lost races in a row.
    gave_up: u64,
    /// `audit verify` (with the projections) passed in every writer's cache after a last sync.
    verify_passed_in_every_cache: bool,
    /// Every cache's state holds each writer's last change of its own items.
    state_agrees_in_every_cache: bool,
    /// The same lines put as new objects (`If-None-Match: *`), as many in flight as writers.
    raw_put_per_sec: f64,
    committed_over_raw_put: f64,
    goal_per_sec: f64,
    meets_goal: bool,
    /// Where a committed change's time and requests went, over all writers.
    per_change: PerChange,
}

/// One committed change's share of the writers' requests and time (totals over every writer
/// divided by the changes committed): what the bucket was asked, and where a writer's time
/// went.
#[derive(Debug, Serialize)]
struct PerChange {
    /// `GET`s of log entries, and of them those answered 404 (past the log's end).
    reads: f64,
    reads_missing: f64,
    /// Conditional `PUT`s, and of them those answered 412 (the number was taken).
    puts: f64,
    puts_taken: f64,
    /// `PUT`s the server held past a few times their usual time (their number read
    /// meanwhile), and of them those found taken (lost without waiting for the answer).
    held: f64,
    held_taken: f64,
    /// Waits for a winner's entry not readable yet, and their time.
    waits: f64,
    wait_ms: f64,
    /// A writer's time per change: the whole change (`set_item`), of which the log's append,
    /// of which the bucket's requests and the local log's write with its fsync; then reading
    /// the workspace again after a change refused as raced.
    change_ms: f64,
    append_ms: f64,
    request_ms: f64,
    commit_ms: f64,
    reread_ms: f64,
}

#[derive(Debug, Serialize)]
struct VisibilityFigures {
    changes: usize,
    poll_every_ms: f64,
    median_ms: f64,
    max_ms: f64,
    /// A poll that finds nothing new (one `GET` answered 404), median of a few.
    idle_poll_ms: f64,
    goal_ms: f64,
    meets_goal: bool,
}

#[derive(Debug, Serialize)]
struct OpenFigures {
    entries: u64,
    /// The log's objects put into the bucket, many in flight: the server's pace here.
    seed_put_per_sec: f64,
    seed_in_flight: usize,
    /// The first console that opens it, before the bucket holds any segment (a log put there
    /// entry by entry): every entry fetched, checked and adopted; it then seals the log's
    /// segments, which this includes.
    cold_unsealed_secs: f64,
    /// Segments in the bucket after it, and the entries each holds.
    segments: u64,
    segment_entries: u64,
    /// A console that never saw the workspace, once the log is sealed: the segments listed,
    /// read and checked line by line from the first entry, then the entries after the last
    /// segment; as the CLI opens a workspace (open, then recovery with every projection).
    cold_secs: f64,
    cold_entries_per_sec: f64,
    /// Of which the workspace's open (the log brought into the cache), without the recovery.
    cold_open_only_secs: f64,
    /// The reference for a cold open: the same objects (the segments, the entry that vouches
    /// for them, the entries after them) only read, with the same client, [`GET_IN_FLIGHT`]
    /// at once.
    raw_segments_get_secs: f64,
    cold_over_raw: f64,
    /// Every entry object only read, as a console without segments needs them.
    raw_get_per_sec: f64,
    raw_get_in_flight: usize,
    /// A console whose cache is up to date.
    warm_secs: f64,
    goal_secs: f64,
    meets_goal: bool,
}

#[derive(Debug, Serialize)]
struct ReplayFigures {
    entries: u64,
    log_bytes: u64,
    secs: f64,
    entries_per_sec: f64,
    /// Only reading the log and parsing each line as an entry, one thread: the floor.
    parse_only_entries_per_sec: f64,
    goal_entries_per_sec: f64,
    meets_goal: bool,
}

pub(super) fn team_bench(cli: &Cli, args: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.team_writers >= 1 && args.team_changes >= 1 && args.team_visibility >= 1,
        "--team-writers, --team-changes and --team-visibility must be at least 1"
    );
    let scratch = super::scratch_dir(args)?;
    let dir = tempfile::tempdir_in(&scratch)?;
    let server = dir.path().join("weed");
    std::fs::create_dir_all(&server)?;
    let weed = start_weed(&weed_binary(args), &server)?;
    weed.bucket(&cli.handle, BUCKET)?;
    let bench = TeamBench {
        cli,
        weed: &weed,
        dir: dir.path(),
    };
    let writers = bench.writers(args.team_writers, args.team_changes)?;
    if !cli.json {
        print_writers(&writers);
    }
    let visibility = bench.visibility(args.team_visibility)?;
    if !cli.json {
        print_visibility(&visibility);
    }
    let open = bench.open(args.team_entries)?;
    if !cli.json {
        print_open(&open);
    }
    let replay = replay(dir.path(), args.team_replay)?;
    if !cli.json {
        print_replay(&replay);
    }
    Ok(serde_json::to_value(TeamFigures {
        writers,
        visibility,
        open,
        replay,
    })?)
}

struct TeamBench<'a> {
    cli: &'a Cli,
    weed: &'a Weed,
    dir: &'a Path,
}

impl TeamBench<'_> {
    /// Console `name`'s way to the bucket: a cache folder of its own, as on its own machine.
    fn access(&self, name: &str) -> Access {
        Access {
            cache_root: self.dir.join(format!("cache-{name}")),
            endpoint: self.weed.s3_endpoint(BUCKET),
        }
    }

    fn client(&self) -> anyhow::Result<Client> {
        Client::new(self.weed.s3_endpoint(BUCKET), Duration::from_mins(1))
            .map_err(anyhow::Error::msg)
    }

    /// A new shared workspace at `s3://bench-team/PREFIX` with `releases`, made by a console
    /// of its own.
    fn workspace(&self, prefix: &str, releases: &[String]) -> anyhow::Result<SharedUrl> {
        let url = shared_url(prefix)?;
        let seed =
            Workspace::init_shared_with(&url, "Bench", self.access(&format!("{prefix}-seed")))?;
        for v in releases {
            seed.create_release(v, None)?;
        }
        Ok(url)
    }

    /// Part 1: `writers` consoles, each in a thread with a cache of its own, making `changes`
    /// each.
    fn writers(&self, writers: usize, changes: usize) -> anyhow::Result<WriterFigures> {
        let versions: Vec<String> = (0..writers).map(|i| format!("1.1.{i}")).collect();
        let mut all = vec!["1.0.0".to_owned()];
        all.extend(versions.iter().cloned());
        let url = self.workspace("writers", &all)?;
        let consoles = (0..writers)
            .map(|i| Workspace::open_shared_with(url.clone(), self.access(&format!("w{i}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let base = consoles[0].audit().recorded()?;
        let costs_before: Vec<Costs> = consoles.iter().map(costs_of).collect();
        let common = consoles[0].release(Some("1.0.0"))?;
        let items = plain_items(&consoles[0], &common)?;
        let barrier = Barrier::new(writers);
        let tallies: Vec<anyhow::Result<Tally>> = std::thread::scope(|s| {
            let handles: Vec<_> = consoles
                .iter()
                .zip(&versions)
                .enumerate()
                .map(|(i, (ws, version))| {
                    let (barrier, items, common) = (&barrier, &items, &common);
                    std::thread::Builder::new()
                        .name(format!("bench-writer-{i}"))
                        .spawn_scoped(s, move || {
                            let mine = ws.release(Some(version))?;
                            barrier.wait();
                            let started = Instant::now();
                            let mut tally = write_changes(ws, &mine, common, items, changes)?;
                            tally.window = (started, Instant::now());
                            Ok(tally)
                        })
                })
                .collect::<Result<_, _>>()?;
            Ok::<_, std::io::Error>(
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("a writer thread panicked")))
                    })
                    .collect(),
            )
        })?;
        let tallies = tallies.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        let costs = consoles
            .iter()
            .zip(&costs_before)
            .fold(Costs::default(), |sum, (ws, before)| {
                sum.plus(&costs_of(ws).since(before))
            });
        let first = tallies.iter().map(|t| t.window.0).min();
        let end = tallies.iter().map(|t| t.window.1).max();
        let secs = match (first, end) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let acknowledged: u64 = tallies.iter().map(|t| t.acked).sum();
        let first_done = tallies.iter().map(|t| t.window.1).min();
        let since_start = |at: Option<Instant>| match (first, at) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let (first_done_secs, last_done_secs) = (since_start(first_done), secs);
        let mut each_writer: Vec<(f64, f64)> = tallies
            .iter()
            .map(|t| {
                let mean_ms = 1000.0 * t.change_secs / t.acked.max(1) as f64;
                (since_start(Some(t.window.1)), mean_ms)
            })
            .collect();
        each_writer.sort_by(|a, b| a.0.total_cmp(&b.0));
        let all_writing = first_done.map_or(0, |done| {
            tallies
                .iter()
                .flat_map(|t| &t.acks)
                .filter(|at| **at <= done)
                .count()
        });
        let all_writing_per_sec = if first_done_secs > 0.0 {
            all_writing as f64 / first_done_secs
        } else {
            0.0
        };

        // Every console catches up; the log and the state are judged in each.
        let mut verify_ok = true;
        let mut state_ok = true;
        for (i, ws) in consoles.iter().enumerate() {
            ws.sync(crate::projections::ALL)?;
            if let Err(e) = ws.verify_audit_with(crate::projections::ALL) {
                tracing::error!("bench: audit verify in writer {i}'s cache: {e}");
                verify_ok = false;
            }
            for (t, version) in tallies.iter().zip(&versions) {
                let checklist = ws.checklist(&ws.release(Some(version))?)?;
                if t.own
                    .iter()
                    .any(|(item, done)| checklist.is_done(item) != *done)
                {
                    state_ok = false;
                }
            }
        }
        let entries: Vec<AuditEntry> = consoles[0]
            .audit()
            .entries()?
            .into_iter()
            .filter(|e| e.seq > base)
            .collect();
        let in_bucket = count_keys(self.cli, &self.client()?, &url.key("log/"))?;
        let bucket_entries = in_bucket.saturating_sub(base);
        let mut nonces: Vec<&str> = entries.iter().filter_map(|e| e.nonce.as_deref()).collect();
        nonces.sort_unstable();
        let distinct = {
            let mut d = nonces.clone();
            d.dedup();
            d.len()
        };
        let doubled =
            (nonces.len() - distinct) as u64 + bucket_entries.saturating_sub(acknowledged);
        let lost = acknowledged.saturating_sub(bucket_entries)
            + acknowledged.saturating_sub(entries.len() as u64);

        // The reference: the same lines, put as new objects by as many at once, no log logic.
        let lines = entries
            .iter()
            .map(AuditEntry::to_line)
            .collect::<Result<Vec<_>, _>>()?;
        let raw_secs = put_lines(self.cli, &self.client()?, "raw-put", base, lines, writers)?;
        let committed_per_sec = acknowledged as f64 / secs;
        let raw_put_per_sec = entries.len() as f64 / raw_secs;
        let each = |n: f64| n / acknowledged.max(1) as f64;
        let per_change = PerChange {
            reads: each(costs.reads as f64),
            reads_missing: each(costs.reads_missing as f64),
            puts: each(costs.puts as f64),
            puts_taken: each(costs.puts_taken as f64),
            held: each(costs.held as f64),
            held_taken: each(costs.held_taken as f64),
            waits: each(costs.waits as f64),
            wait_ms: each(costs.wait_secs * 1e3),
            change_ms: each(tallies.iter().map(|t| t.change_secs).sum::<f64>() * 1e3),
            append_ms: each(costs.append_secs * 1e3),
            request_ms: each(costs.request_secs * 1e3),
            commit_ms: each(costs.commit_secs * 1e3),
            reread_ms: each(tallies.iter().map(|t| t.reread_secs).sum::<f64>() * 1e3),
        };
        Ok(WriterFigures {
            writers,
            changes_per_writer: changes,
            acknowledged,
            bucket_entries,
            lost,
            doubled,
            secs,
            committed_per_sec,
            first_done_secs,
            last_done_secs,
            each_writer,
            all_writing_per_sec,
            raced: tallies.iter().map(|t| t.raced).sum(),
            raced_on_own_items: tallies.iter().map(|t| t.raced_own).sum(),
            gave_up: tallies.iter().map(|t| t.gave_up).sum(),
            verify_passed_in_every_cache: verify_ok,
            state_agrees_in_every_cache: state_ok,
            raw_put_per_sec,
            committed_over_raw_put: committed_per_sec / raw_put_per_sec,
            goal_per_sec: 100.0,
            meets_goal: committed_per_sec >= 100.0 && lost == 0 && doubled == 0,
            per_change,
        })
    }

    /// Part 2: one console changes an item `changes` times at uneven intervals; another polls
    /// as the window does (`sync` every [`crate::ui::app::POLL_EVERY`]) and notes when its state
    /// holds each change.
    fn visibility(&self, changes: usize) -> anyhow::Result<VisibilityFigures> {
        let url = self.workspace("watch", &["1.2.0".to_owned()])?;
        let writer = Workspace::open_shared_with(url.clone(), self.access("watch-writer"))?;
        let watcher = Workspace::open_shared_with(url, self.access("watch-watcher"))?;
        let release = writer.release(Some("1.2.0"))?;
        let item = plain_items(&writer, &release)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("the release's runbook has no plain item"))?;
        let poll = crate::ui::app::POLL_EVERY;
        let acks: Mutex<Vec<(u64, Instant)>> = Mutex::new(Vec::new());
        let polls: Mutex<Vec<Poll>> = Mutex::new(Vec::new());
        let last_seq = AtomicU64::new(u64::MAX);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| -> anyhow::Result<()> {
            let watching = std::thread::Builder::new()
                .name("bench-watcher".into())
                .spawn_scoped(s, || -> anyhow::Result<()> {
                    let deadline_after_last = Duration::from_secs(30);
                    let mut writer_done_at: Option<Instant> = None;
                    loop {
                        let started = Instant::now();
                        watcher.sync(crate::projections::ALL)?;
                        let holds = watcher
                            .checklist(&release)?
                            .items
                            .get(&item)
                            .map_or(0, |s| s.audit_seq);
                        let at = Instant::now();
                        lock(&polls).push(Poll { at, holds });
                        let last = last_seq.load(Ordering::Acquire);
                        if last != u64::MAX {
                            if holds >= last {
                                return Ok(());
                            }
                            let done = *writer_done_at.get_or_insert(at);
                            anyhow::ensure!(
                                at.duration_since(done) < deadline_after_last,
                                "the watcher's state did not hold entry #{last} 30 s after it \
                                 was made"
                            );
                        }
                        if stop.load(Ordering::Acquire) {
                            return Ok(());
                        }
                        std::thread::sleep(
                            (started + poll).saturating_duration_since(Instant::now()),
                        );
                    }
                })?;
            let mut jitter = Jitter(0x2545_f491_4f6c_dd1d);
            let mut wrote = || -> anyhow::Result<()> {
                for n in 0..changes {
                    std::thread::sleep(Duration::from_millis(150 + jitter.next() % 500));
                    let checklist =
                        writer.set_item(&release, &item, n % 2 == 0, &format!("change {n}"))?;
                    let at = Instant::now();
                    let seq = checklist.items.get(&item).map_or(0, |s| s.audit_seq);
                    lock(&acks).push((seq, at));
                }
                let last = lock(&acks).last().map_or(0, |(seq, _)| *seq);
                last_seq.store(last, Ordering::Release);
                Ok(())
            };
            let wrote = wrote();
            if wrote.is_err() {
                stop.store(true, Ordering::Release);
            }
            let seen = watching
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the watcher thread panicked")));
            wrote.and(seen)
        })?;
        let polls = polls
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let acks = acks
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut latencies = acks
            .iter()
            .map(|(seq, at)| {
                polls
                    .iter()
                    .find(|p| p.holds >= *seq)
                    .map(|p| p.at.saturating_duration_since(*at))
                    .ok_or_else(|| anyhow::anyhow!("entry #{seq} was never seen by the watcher"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        latencies.sort_unstable();
        // Polls that find nothing new, the watcher's steady state.
        let mut idle = Vec::new();
        for _ in 0..IDLE_POLLS {
            let t = Instant::now();
            let adopted = watcher.sync(crate::projections::ALL)?;
            anyhow::ensure!(
                adopted.is_empty(),
                "an idle poll found {} entries",
                adopted.len()
            );
            idle.push(t.elapsed());
        }
        idle.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let median = latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default();
        let max = latencies.last().copied().unwrap_or_default();
        Ok(VisibilityFigures {
            changes,
            poll_every_ms: ms(poll),
            median_ms: ms(median),
            max_ms: ms(max),
            idle_poll_ms: ms(idle[idle.len() / 2]),
            goal_ms: 2000.0,
            meets_goal: max <= Duration::from_secs(2),
        })
    }

    /// Part 3: a log of `entries` entries in the bucket (put there directly, correctly
    /// chained, as an old console would have: no segments), opened by a first console that
    /// never saw it (it reads every entry and seals the segments), then by a second one from
    /// the segments, and again once its cache is up to date, each as the CLI opens a
    /// workspace (open, then recovery with every projection).
    fn open(&self, entries: u64) -> anyhow::Result<OpenFigures> {
        let url = self.workspace("open", &["1.4.0".to_owned()])?;
        let seed = Workspace::open_shared_with(url.clone(), self.access("open-seed"))?;
        let release = seed.release(Some("1.4.0"))?;
        let items = plain_items(&seed, &release)?;
        let (after, hash) = {
            let held = seed.audit().hold()?;
            (held.len(), held.last_hash().to_owned())
        };
        let count = entries.saturating_sub(after);
        let lines = tick_lines(after, &hash, count, &release, &items)?.0;
        let seed_secs = put_lines(
            self.cli,
            &self.client()?,
            &url.prefix,
            after,
            lines,
            SEED_IN_FLIGHT,
        )?;

        let open = |console: &str| -> anyhow::Result<(Workspace, f64)> {
            let t = Instant::now();
            let ws = Workspace::open_shared_with(url.clone(), self.access(console))?;
            let opened = t.elapsed().as_secs_f64();
            ws.recover_with(crate::projections::ALL)?;
            Ok((ws, opened))
        };
        // The first console reads every entry and seals the segments.
        let t = Instant::now();
        drop(open("open-first")?);
        let cold_unsealed_secs = t.elapsed().as_secs_f64();
        let client = self.client()?;
        let segments = count_keys(self.cli, &client, &url.key("log/segments/"))?;

        let t = Instant::now();
        let (ws, cold_open_only_secs) = open("open-reader")?;
        let cold_secs = t.elapsed().as_secs_f64();
        let total = ws.audit().recorded()?;
        anyhow::ensure!(
            total == after + count,
            "the cold console holds {total} entries; the bucket holds {}",
            after + count
        );
        drop(ws);
        let warm_secs = super::best_of(3, || open("open-reader").map(drop))?;
        let sealed_through = segments * SEGMENT_ENTRIES;
        let mut keys: Vec<String> = (0..segments)
            .map(|i| url.segment_key(i * SEGMENT_ENTRIES + 1))
            .collect();
        if sealed_through > 0 {
            keys.push(url.log_key(sealed_through));
        }
        keys.extend((sealed_through + 1..=total).map(|s| url.log_key(s)));
        let raw_segments_get_secs = get_keys(self.cli, &client, keys, GET_IN_FLIGHT)?;
        let get_secs = get_all(self.cli, &client, &url, total, GET_IN_FLIGHT)?;
        Ok(OpenFigures {
            entries: total,
            seed_put_per_sec: count as f64 / seed_secs,
            seed_in_flight: SEED_IN_FLIGHT,
            cold_unsealed_secs,
            segments,
            segment_entries: SEGMENT_ENTRIES,
            cold_secs,
            cold_entries_per_sec: total as f64 / cold_secs,
            cold_open_only_secs,
            raw_segments_get_secs,
            cold_over_raw: cold_secs / raw_segments_get_secs,
            raw_get_per_sec: total as f64 / get_secs,
            raw_get_in_flight: GET_IN_FLIGHT,
            warm_secs,
            goal_secs: 2.0,
            meets_goal: cold_secs < 2.0,
        })
    }
}

/// One poll of the watcher: when it ended, and the entry of the watched item its state held
/// then.
struct Poll {
    at: Instant,
    holds: u64,
}

/// What one writer did.
struct Tally {
    acked: u64,
    raced: u64,
    raced_own: u64,
    gave_up: u64,
    /// Its own items as it left them.
    own: BTreeMap<String, bool>,
    window: (Instant, Instant),
    /// When each change was acknowledged.
    acks: Vec<Instant>,
    /// Time in `set_item`, and in reading the workspace again after a change refused as raced.
    change_secs: f64,
    reread_secs: f64,
}

/// What console `ws`'s reads and writes of log entries cost so far (nothing for a local one).
fn costs_of(ws: &Workspace) -> Costs {
    ws.shared().map(Shared::costs).unwrap_or_default()
}

/// `changes` changes by one console: ticks and unticks of its own release's items, and every
/// [`SHARED_EVERY`]th one of an item of `common`, which every writer changes: that one is
/// flipped from the state as this console sees it. A change refused as raced (or, for a shared
/// item, one another writer just made) reads the workspace again and tries again, as the CLI
/// does.
fn write_changes(
    ws: &Workspace,
    mine: &Release,
    common: &Release,
    items: &[String],
    changes: usize,
) -> anyhow::Result<Tally> {
    let now = Instant::now();
    let mut t = Tally {
        acked: 0,
        raced: 0,
        raced_own: 0,
        gave_up: 0,
        own: BTreeMap::new(),
        window: (now, now),
        acks: Vec::new(),
        change_secs: 0.0,
        reread_secs: 0.0,
    };
    for n in 0..changes {
        let note = format!("bench change {n}");
        let shared = n % SHARED_EVERY == SHARED_EVERY - 1;
        let (release, item) = if shared {
            (common, &items[(n / SHARED_EVERY) % items.len()])
        } else {
            (mine, &items[n % items.len()])
        };
        let mut tries = 0;
        loop {
            let done = if shared {
                !ws.checklist(common)?.is_done(item)
            } else {
                !t.own.get(item).copied().unwrap_or(false)
            };
            let started = Instant::now();
            let set = ws.set_item(release, item, done, &note);
            t.change_secs += started.elapsed().as_secs_f64();
            match set {
                Ok(_) => {
                    t.acked += 1;
                    t.acks.push(Instant::now());
                    if !shared {
                        t.own.insert(item.clone(), done);
                    }
                    break;
                }
                Err(e @ (WorkspaceError::Raced { .. } | WorkspaceError::Unchanged { .. })) => {
                    if shared {
                        t.raced += 1;
                    } else if matches!(e, WorkspaceError::Raced { .. }) {
                        // Only this writer changes its own items.
                        t.raced_own += 1;
                    } else {
                        return Err(e.into());
                    }
                    if tries == super::super::RACE_RETRIES {
                        t.gave_up += 1;
                        break;
                    }
                    tries += 1;
                    // The CLI opens the workspace again, which rolls the state forward and
                    // marks the log seen. `sync` alone is not enough: the entries that won
                    // were adopted by the refused append, so it finds nothing new, and the
                    // next try would be refused again.
                    let started = Instant::now();
                    ws.sync(crate::projections::ALL)?;
                    ws.recover_with(crate::projections::ALL)?;
                    t.reread_secs += started.elapsed().as_secs_f64();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(t)
}

/// The items of `release` a person may tick at any time (no phase or item before them).
fn plain_items(ws: &Workspace, release: &Release) -> anyhow::Result<Vec<String>> {
    let runbook = ws.runbook(release)?;
    let items: Vec<String> = runbook
        .phases
        .iter()
        .flat_map(|p| &p.items)
        .filter(|i| i.requires_phases.is_empty() && i.requires_items.is_empty())
        .map(|i| i.id.clone())
        .collect();
    anyhow::ensure!(
        !items.is_empty(),
        "runbook {} has no item without a gate",
        runbook.id
    );
    Ok(items)
}

fn shared_url(prefix: &str) -> anyhow::Result<SharedUrl> {
    let text = format!("s3://{BUCKET}/{prefix}");
    Ok(SharedUrl::of_path(Path::new(&text))
        .ok_or_else(|| anyhow::anyhow!("{text}: not an s3 URL"))??)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A small deterministic xorshift, for uneven pauses.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `count` entry lines after entry `after` (whose line hashes to `hash`), chained as the log
/// chains them: ticks and unticks of `items` of `release` by three people, each item's entry
/// saying the state before and after as a real tick does. Returns the lines and the last hash.
fn tick_lines(
    after: u64,
    hash: &str,
    count: u64,
    release: &Release,
    items: &[String],
) -> anyhow::Result<(Vec<String>, String)> {
    let version = release.version.to_string();
    let start = jiff::Timestamp::now();
    let mut prev = if after == 0 {
        GENESIS_HASH.to_owned()
    } else {
        hash.to_owned()
    };
    let mut states: Vec<Option<ItemState>> = vec![None; items.len()];
    let mut lines = Vec::with_capacity(usize::try_from(count)?);
    for seq in after + 1..=after + count {
        let k = usize::try_from(seq)? % items.len();
        let before = states[k].clone();
        let done = !before.as_ref().is_some_and(|s| s.done);
        let state = ItemState {
            done,
            by: ["ana", "ben", "carol"][usize::try_from(seq % 3)?].to_owned(),
            at: start,
            note: format!("synthetic change {seq}"),
            audit_seq: 0,
            settled_by_skip: 0,
        };
        let entry = AuditEntry {
            seq,
            time: start,
            actor: state.by.clone(),
            action: if done {
                "checklist.tick"
            } else {
                "checklist.untick"
            }
            .to_owned(),
            target: format!("{version}/{}", items[k]),
            before: serde_json::to_value(&before)?,
            after: serde_json::to_value(&state)?,
            prev,
            host: Some(format!("{}-laptop", state.by)),
            nonce: None,
            key: None,
            sig: None,
        };
        let line = entry.to_line()?;
        prev = crate::sha256_hex(line.as_bytes());
        lines.push(line);
        states[k] = Some(state);
    }
    Ok((lines, prev))
}

/// Puts `lines` (entries `after + 1`...) as new objects `PREFIX/log/<seq>.json`
/// (`If-None-Match: *`), `in_flight` at once; the seconds it took.
fn put_lines(
    cli: &Cli,
    client: &Client,
    prefix: &str,
    after: u64,
    lines: Vec<String>,
    in_flight: usize,
) -> anyhow::Result<f64> {
    let url = shared_url(prefix)?;
    let next = std::sync::Arc::new(AtomicU64::new(0));
    let lines = std::sync::Arc::new(lines);
    let started = Instant::now();
    cli.handle.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..in_flight.max(1) {
            let (client, next, lines, url) =
                (client.clone(), next.clone(), lines.clone(), url.clone());
            set.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(line) = lines.get(usize::try_from(i)?) else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    let key = url.log_key(after + 1 + i);
                    client
                        .put_small(
                            &key,
                            line.clone().into_bytes(),
                            "application/json",
                            Cond::Create,
                        )
                        .await
                        .map_err(|f| anyhow::anyhow!("put {key}: {f}"))?;
                }
            });
        }
        while let Some(done) = set.join_next().await {
            done??;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(started.elapsed().as_secs_f64())
}

/// Reads entries 1..=`entries` of `url`'s log, `in_flight` at once, checking each is there;
/// the seconds it took.
fn get_all(
    cli: &Cli,
    client: &Client,
    url: &SharedUrl,
    entries: u64,
    in_flight: usize,
) -> anyhow::Result<f64> {
    get_keys(
        cli,
        client,
        (1..=entries).map(|s| url.log_key(s)).collect(),
        in_flight,
    )
}

/// Reads `keys` (each at most 16 MiB), `in_flight` at once, checking each is there; the
/// seconds it took.
fn get_keys(
    cli: &Cli,
    client: &Client,
    keys: Vec<String>,
    in_flight: usize,
) -> anyhow::Result<f64> {
    let next = std::sync::Arc::new(AtomicU64::new(0));
    let keys = std::sync::Arc::new(keys);
    let started = Instant::now();
    cli.handle.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..in_flight.max(1) {
            let (client, next, keys) = (client.clone(), next.clone(), keys.clone());
            set.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(key) = keys.get(usize::try_from(i)?) else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    match client.get_small(key, None, 16 << 20).await {
                        Ok(crate::net::s3::Got::Object { .. }) => {}
                        Ok(_) => anyhow::bail!("{key} is missing"),
                        Err(f) => anyhow::bail!("get {key}: {f}"),
                    }
                }
            });
        }
        while let Some(done) = set.join_next().await {
            done??;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(started.elapsed().as_secs_f64())
}

/// How many keys the bucket holds under `prefix`.
fn count_keys(cli: &Cli, client: &Client, prefix: &str) -> anyhow::Result<u64> {
    let mut count = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = cli
            .handle
            .block_on(client.list(prefix, after.as_deref(), 1000))
            .map_err(|f| anyhow::anyhow!("list {prefix}: {f}"))?;
        count += page.keys.len() as u64;
        if !page.truncated {
            return Ok(count);
        }
        after = page.keys.last().cloned();
    }
}

/// Part 4: a local workspace whose log holds `entries` checklist changes of a real release
/// past its state, rolled forward into it as the CLI's recovery does, against only parsing
/// the log.
fn replay(dir: &Path, entries: u64) -> anyhow::Result<ReplayFigures> {
    let root: PathBuf = dir.join("replay");
    let ws = Workspace::init(&root, "Bench")?;
    let release = ws.create_release("1.4.0", None)?;
    let items = plain_items(&ws, &release)?;
    {
        let mut held = ws.audit().hold()?;
        let mut left = entries;
        while left > 0 {
            let n = left.min(REPLAY_CHUNK);
            let (lines, _) = tick_lines(held.len(), held.last_hash(), n, &release, &items)?;
            held.adopt_all(&lines)?;
            left -= n;
        }
    }
    let log = ws.audit().path().to_owned();
    let log_bytes = std::fs::metadata(&log)?.len();
    super::warm(std::slice::from_ref(&log))?;
    let ws = Workspace::open(&root)?;
    let t = Instant::now();
    ws.recover_with(crate::projections::ALL)?;
    let secs = t.elapsed().as_secs_f64();
    let total = ws.audit().recorded()?;
    let checklist = ws.checklist(&release)?;
    let newest = checklist
        .items
        .values()
        .map(|s| s.audit_seq)
        .max()
        .unwrap_or(0);
    anyhow::ensure!(
        newest == total,
        "after the replay the state's newest change is entry #{newest}, the log's last #{total}"
    );
    let parse = super::best_of(1, || {
        use std::io::BufRead as _;
        let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&log)?);
        let mut n = 0u64;
        for line in reader.lines() {
            let _: AuditEntry = serde_json::from_str(&line?)?;
            n += 1;
        }
        anyhow::ensure!(n == total, "parsed {n} lines of {total}");
        Ok(())
    })?;
    let entries_per_sec = entries as f64 / secs;
    Ok(ReplayFigures {
        entries,
        log_bytes,
        secs,
        entries_per_sec,
        parse_only_entries_per_sec: total as f64 / parse,
        goal_entries_per_sec: 500_000.0,
        meets_goal: entries_per_sec >= 500_000.0,
    })
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn print_writers(w: &WriterFigures) {
    println!(
        "team, {} writers x {} changes: {:.0} committed changes/s (goal 100) {}; {} acknowledged, \
         {} in the bucket's log: {} lost, {} doubled; {} lost races on shared items and {} on \
         a writer's own items read again, {} given up",
        w.writers,
        w.changes_per_writer,
        w.committed_per_sec,
        mark(w.meets_goal),
        w.acknowledged,
        w.bucket_entries,
        w.lost,
        w.doubled,
        w.raced,
        w.raced_on_own_items,
        w.gave_up
    );
    println!(
        "team, the writers finished between {:.2} s and {:.2} s after the first started; while \
         all {} were writing: {:.0} committed changes/s",
        w.first_done_secs, w.last_done_secs, w.writers, w.all_writing_per_sec
    );
    println!(
        "team, each writer's finish and mean change: {}",
        w.each_writer
            .iter()
            .map(|(done, ms)| format!("{done:.2} s/{ms:.0} ms"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "team, the same {} lines as raw PUTs ({} in flight, If-None-Match: *): {:.0}/s; the log \
         commits at {:.2}x that; audit verify in every cache: {}; every cache's state agrees: {}",
        w.bucket_entries,
        w.writers,
        w.raw_put_per_sec,
        w.committed_over_raw_put,
        mark(w.verify_passed_in_every_cache),
        mark(w.state_agrees_in_every_cache)
    );
    let p = &w.per_change;
    println!(
        "team, per committed change: {:.2} entry GETs ({:.2} answered 404), {:.2} PUTs ({:.2} \
         answered 412; {:.2} held by the server and looked at, {:.2} found taken), {:.2} waits \
         for an unreadable winner ({:.1} ms); a writer's time: \
         change {:.1} ms, of which the log's append {:.1} ms (requests {:.1} ms, local log \
         write and fsync {:.1} ms, waits {:.1} ms); reading again after a raced change {:.1} ms",
        p.reads,
        p.reads_missing,
        p.puts,
        p.puts_taken,
        p.held,
        p.held_taken,
        p.waits,
        p.wait_ms,
        p.change_ms,
        p.append_ms,
        p.request_ms,
        p.commit_ms,
        p.wait_ms,
        p.reread_ms
    );
}

fn print_visibility(v: &VisibilityFigures) {
    println!(
        "team, another console's state holds a change: median {:.0} ms, max {:.0} ms over {} \
         changes (goal 2000 ms) {}; polling every {:.0} ms, an idle poll {:.1} ms",
        v.median_ms,
        v.max_ms,
        v.changes,
        mark(v.meets_goal),
        v.poll_every_ms,
        v.idle_poll_ms
    );
}

fn print_open(o: &OpenFigures) {
    println!(
        "team, open a shared workspace of {} entries: cold (segments of {} entries read and \
         checked, then the entries after them; open and recovery) {:.2} s (goal 2 s) {}, of \
         which the open {:.2} s; the same {} segments and entries only read: {:.2} s ({:.2}x); \
         warm cache {:.3} s",
        o.entries,
        o.segment_entries,
        o.cold_secs,
        mark(o.meets_goal),
        o.cold_open_only_secs,
        o.segments,
        o.raw_segments_get_secs,
        o.cold_over_raw,
        o.warm_secs
    );
    println!(
        "team, the first console to open it, before any segment (every entry fetched and \
         verified, then {} segments sealed): {:.1} s; every entry only read: {:.0} GET/s ({} in \
         flight); the log was put at {:.0} PUT/s ({} in flight)",
        o.segments,
        o.cold_unsealed_secs,
        o.raw_get_per_sec,
        o.raw_get_in_flight,
        o.seed_put_per_sec,
        o.seed_in_flight
    );
}

fn print_replay(r: &ReplayFigures) {
    println!(
        "team, replay {} entries ({:.0} MiB) into state: {:.2} s, {:.0} entries/s (goal 500,000) \
         {}; only parsing the log, one thread: {:.0} entries/s",
        r.entries,
        r.log_bytes as f64 / 1_048_576.0,
        r.secs,
        r.entries_per_sec,
        mark(r.meets_goal),
        r.parse_only_entries_per_sec
    );
}
