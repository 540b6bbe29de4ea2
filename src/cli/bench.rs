//! `bench`: the hot-path figures the README reports (log ingest, task-tray frame time).
//!
//! Run it from a release build: `cargo run --release -- bench`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::Cli;
use crate::runner::log::{LineSplitter, LogBuffer};
use crate::runner::{ProcessSpec, Runner, TaskSpec, TaskState};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Lines printed by the child / held in the tray.
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u64,
    /// Frames to time for the tray.
    #[arg(long, default_value_t = 200)]
    pub frames: usize,
}

const SAMPLE_LINE: &str = "[build] compiling src/render/path_tessellator.rs ... ok (1234 bytes)";

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) && !cli.json {
        eprintln!("warning: this is a debug build; figures are only meaningful with --release");
    }
    // 1. A real child printing N lines through a pipe into a task's log buffer.
    let runner = Runner::new(cli.handle.clone(), 2);
    // Like a real task: redaction on, and the full log written to disk.
    let log_dir = tempfile::tempdir()?;
    let mut spec = TaskSpec::new("bench-ingest", "bench", Duration::from_secs(300));
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
    let got = snap.log.lock().map(|b| b.total_lines()).unwrap_or(0);
    anyhow::ensure!(
        got >= args.lines,
        "bench: only {got} of {} lines arrived",
        args.lines
    );

    // 2. The same bytes split and stored in-process (no pipe, no child).
    let mut bytes = Vec::with_capacity((SAMPLE_LINE.len() + 1) * args.lines as usize);
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
    if cli.json {
        cli.print_json(&result)?;
    } else {
        println!(
            "log ingest, child via pipe:  {:>12.0} lines/s ({} lines in {:.3} s)",
            args.lines as f64 / child_secs,
            args.lines,
            child_secs
        );
        println!(
            "log ingest, in-process:      {:>12.0} lines/s ({:.1} MiB held)",
            args.lines as f64 / buffer_secs,
            buf.size_bytes() as f64 / 1048576.0
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
    Ok(ExitCode::SUCCESS)
}
