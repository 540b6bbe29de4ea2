//! The command line: argument parsing and rendering. The only module that prints.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI is the one place that prints"
)]

mod audit;
mod bench;
mod checklist;
mod deploy;
mod doctor;
mod findings;
mod flags;
mod keys;
mod metrics;
mod notify;
mod pipeline;
mod publish;
mod release;
mod runbook;
mod secrets;
mod status;
pub mod verify;
mod workspace_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::workspace::{self, Origin, Workspace};

/// Exit code when a check failed (audit chain broken, gate closed).
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when another console holds the lease on the operation (a build, a publish):
/// refused before anything was done or recorded, not a failure of it.
pub const EXIT_BUSY: u8 = 3;

/// Release console: click through a desktop-app release, or run the same steps headless in CI.
///
/// With no command it opens the GUI.
#[derive(Debug, Clone, Parser)]
#[command(name = "release-console", version, about)]
pub struct Args {
    /// The release workspace folder (default: $`RELEASE_CONSOLE_WORKSPACE`, the current
    /// directory if it holds release-console.toml, else the built-in demo workspace).
    #[arg(long, global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Create a release workspace in DIR.
    Init {
        dir: PathBuf,
        /// Product name (used in titles and installer names).
        #[arg(long, default_value = "WireTuner")]
        product: String,
    },
    /// Create, list and show releases.
    #[command(subcommand)]
    Release(release::ReleaseCmd),
    /// Show and tick a release's checklist.
    #[command(subcommand)]
    Checklist(checklist::ChecklistCmd),
    /// List and verify the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Build, sign and checksum the installers of a release.
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCmd),
    /// Verify artifacts: SHA-256 against SHA256SUMS and signatures against the pinned identity.
    Verify(verify::VerifyArgs),
    /// Publish a release's installers and update feeds; `publish status`; `publish yank`.
    Publish(publish::PublishArgs),
    /// Roll out the backend with Argo CD; its status, history and rollback.
    #[command(subcommand)]
    Deploy(deploy::DeployCmd),
    /// Post incidents and maintenance to the status page; list incidents; export postmortems.
    Status(status::StatusArgs),
    /// Feature flags: create, staged rollout gated by KPIs, rollback, archive.
    #[command(subcommand)]
    Flags(flags::FlagsCmd),
    /// Vulnerability findings from scanner output (Trivy, Grype, SARIF, Snyk), per release.
    #[command(subcommand)]
    Findings(findings::FindingsCmd),
    /// KPIs and the rollout gate they make; `kpi record` adds a local sample.
    Kpi(flags::KpiArgs),
    /// The ops metrics (release frequency, incident MTTR, deployment success, flag lifespan).
    Metrics(metrics::MetricsArgs),
    /// Runbooks: the checklists and the disaster-recovery procedures, run step by step.
    #[command(subcommand)]
    Runbook(runbook::RunbookCmd),
    /// The notification outbox: what was sent to PagerDuty and Slack, flush, retry.
    #[command(subcommand)]
    Notify(notify::NotifyCmd),
    /// The rotation calendar of the secrets and signing certificates the workspace relies on;
    /// a secret's OS keyring entry (`secrets set NAME`, the value on stdin; `secrets forget`).
    #[command(subcommand)]
    Secrets(secrets::SecretsCmd),
    /// The workspace: where it is, and a shared one's bucket checked end to end, who is
    /// working on it, moving a local one into a bucket.
    #[command(subcommand)]
    Workspace(workspace_cmd::WorkspaceCmd),
    /// Where each program the console runs was found (configured path, PATH, or not found)
    /// and where each secret is looked for (never a value); exit 1 when one is missing.
    Doctor,
    /// Per-person keys that sign your audit entries: make and register yours, list the
    /// people list, revoke a key, vouch for someone's key.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Measure the hot paths: log ingest, task-tray frame time, hashing.
    Bench(bench::BenchArgs),
}

/// Times a command runs again after losing a race on a shared workspace.
const RACE_RETRIES: usize = 3;

/// Shared state for a CLI command.
#[derive(Debug)]
pub struct Cli {
    pub json: bool,
    pub workspace_flag: Option<PathBuf>,
    pub handle: tokio::runtime::Handle,
    /// The workspace the command opened, for the notifications it queued.
    opened: std::sync::Mutex<Option<Workspace>>,
}

impl Cli {
    fn open_workspace(&self) -> anyhow::Result<Workspace> {
        let (root, origin) = workspace::resolve(self.workspace_flag.as_deref())?;
        if origin == Origin::Demo && !self.json {
            eprintln!("note: using the demo workspace at {}", root.display());
        }
        let ws = Workspace::open(&root)?;
        if let Some(why) = ws.shared().and_then(workspace::shared::Shared::offline) {
            eprintln!("warning: {} is read-only here: {why}", ws.location());
        }
        // What crashes left (a torn audit line, entries past the head, changes in the log
        // only) is repaired before the command runs; a tampered log is left for the command
        // (and `audit verify`) to report.
        if let Err(e) = ws.recover_with(crate::projections::ALL) {
            eprintln!("warning: crash recovery: {e}");
        }
        if let Err(e) = crate::notify::init(&ws) {
            eprintln!("warning: the notification outbox: {e}");
        }
        *self
            .opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ws.clone());
        if origin == Origin::Demo {
            let r = crate::demo::refresh(&ws, jiff::Timestamp::now());
            if let (Some(p), false) = (&r.signing_problem, self.json) {
                eprintln!(
                    "warning: the demo's signing certificate could not be made ({p}); its \
                     Windows builds cannot be signed until it is"
                );
            }
            if let Err(e) = crate::metrics::demo::add(&ws, jiff::Timestamp::now()) {
                eprintln!("warning: the demo's quarterly history: {e}");
            }
        }
        Ok(ws)
    }

    #[expect(
        clippy::unused_self,
        reason = "commands print through their Cli, where the output settings live"
    )]
    fn print_json(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }
}

/// Runs a CLI command; `Ok(code)` is the process exit code.
pub fn run(args: Args, handle: tokio::runtime::Handle) -> anyhow::Result<ExitCode> {
    let cli = Cli {
        json: args.json,
        workspace_flag: args.workspace,
        handle,
        opened: std::sync::Mutex::new(None),
    };
    let Some(command) = args.command else {
        anyhow::bail!("no command given (the GUI is started by main)");
    };
    let explicit = matches!(command, Command::Notify(_) | Command::Bench(_));
    let mut code = run_command(&cli, command.clone());
    // On a shared workspace, a command whose first change lost to another person's change of
    // the same thing runs again on the state read anew: its checks then judge what is there
    // now (an item ticked meanwhile is "already ticked"). One that recorded anything does not.
    for _ in 0..RACE_RETRIES {
        let raced = cli
            .opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(Workspace::shared)
            .is_some_and(|s| s.take_raced() && s.appended() == 0);
        let Err(e) = &code else { break };
        if !raced {
            break;
        }
        if !cli.json {
            eprintln!("note: {e}; reading the workspace again");
        }
        code = run_command(&cli, command.clone());
    }
    let opened = cli
        .opened
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let (Some(ws), false) = (opened, explicit) {
        notify::before_exit(&cli, &ws);
    }
    code
}

fn run_command(cli: &Cli, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init { dir, product } => {
            let ws = Workspace::init(&dir, &product)?;
            if cli.json {
                cli.print_json(
                    &serde_json::json!({"workspace": ws.location(), "product": product}),
                )?;
            } else {
                println!("created workspace for {product} in {}", ws.location());
                println!(
                    "next: release-console --workspace {} release new 0.1.0",
                    dir.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Release(cmd) => release::run(cli, cmd),
        Command::Checklist(cmd) => checklist::run(cli, &cmd),
        Command::Findings(cmd) => findings::run(cli, &cmd),
        Command::Metrics(args) => metrics::run(cli, &args),
        Command::Runbook(cmd) => runbook::run(cli, cmd),
        Command::Secrets(cmd) => secrets::run(cli, &cmd),
        Command::Notify(cmd) => notify::run(cli, &cmd),
        Command::Audit(cmd) => audit::run(cli, cmd),
        Command::Keys(cmd) => keys::run(cli, cmd),
        Command::Workspace(cmd) => workspace_cmd::run(cli, &cmd),
        Command::Verify(verify_args) => verify::run(cli, verify_args),
        Command::Publish(args) => publish::run(cli, args),
        Command::Deploy(cmd) => deploy::run(cli, cmd),
        Command::Pipeline(cmd) => pipeline::run(cli, cmd),
        Command::Status(status_args) => status::run(cli, status_args),
        Command::Flags(cmd) => flags::run(cli, cmd),
        Command::Kpi(kpi_args) => flags::run_kpi(cli, kpi_args),
        Command::Bench(bench_args) => bench::run(cli, &bench_args),
        Command::Doctor => doctor::run(cli),
    }
}

/// An RFC 3339 time, or an age before `now` (`90s`, `10m`, `2h`, `3d`, optionally `ago`),
/// given to option `flag`. An age too large to subtract from `now` is an error naming the
/// option, never an overflow.
pub fn parse_time_or_age(
    flag: &str,
    text: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<jiff::Timestamp> {
    let bad = || {
        anyhow::anyhow!(
            "{flag} {text:?}: use RFC 3339 (2026-11-28T10:00:00Z) or an age like 10m, 2h or 3d"
        )
    };
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let age = t.trim_end_matches(" ago").trim_start_matches('-');
    let (num, unit) = age.split_at(age.find(|c: char| !c.is_ascii_digit()).unwrap_or(age.len()));
    let n: i64 = num.parse().map_err(|_| bad())?;
    let unit_secs: i64 = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(unit_secs).ok_or_else(|| {
        anyhow::anyhow!("{flag} {text:?}: that age is too large; use at most a few years")
    })?;
    now.checked_sub(jiff::SignedDuration::from_secs(secs))
        .map_err(|_| anyhow::anyhow!("{flag} {text:?}: that age reaches before the year -9999"))
}

/// Sends `tracing` events to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

pub fn report_error(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
}

/// What [`follow`] echoes to stderr while a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Echo {
    /// Every log line (builders).
    Log,
    /// Each new step (verification).
    Steps,
    /// Every log line and a progress bar (uploads): redrawn in place on a terminal, a line
    /// every 10% otherwise.
    Progress,
}

/// `[#####.....]  42%  step`.
fn progress_bar(fraction: f32, step: &str) -> String {
    const WIDTH: usize = 30;
    let fraction = fraction.clamp(0.0, 1.0);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a clamped fraction times 30 or 100"
    )]
    let (filled, pct) = (
        (fraction * WIDTH as f32).round() as usize,
        (fraction * 100.0).floor() as u32,
    );
    format!(
        "  [{}{}] {pct:>3}%  {step}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

/// Runs one task on a runner of its own with the workspace's hook (audit, auto-ticks) and
/// follows it to the end: its final state and message.
pub(crate) fn run_one<F, Fut>(
    cli: &Cli,
    ws: &Workspace,
    spec: crate::runner::TaskSpec,
    work: F,
    echo: Echo,
) -> anyhow::Result<(crate::runner::TaskState, String)>
where
    F: FnOnce(crate::runner::TaskContext) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::runner::TaskResult> + Send + 'static,
{
    let runner = crate::runner::Runner::new(cli.handle.clone(), 1);
    runner.set_hook(Some(ws.task_hook()));
    let id = runner.start(spec, work)?;
    Ok(follow(cli, &runner, id, echo))
}

/// Waits for task `id`, echoing its progress to stderr (never with `--json`, so stdout stays
/// machine-readable), and returns its final state and message.
pub(crate) fn follow(
    cli: &Cli,
    runner: &crate::runner::Runner,
    id: crate::runner::TaskId,
    echo: Echo,
) -> (crate::runner::TaskState, String) {
    let mut events = runner.subscribe();
    let mut printed_lines = 0u64;
    let mut last_step = String::new();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last_tenth = None;
    let mut bar_shown = false;
    let mut print_new = || {
        if cli.json {
            return;
        }
        let Some(snap) = runner.task(id) else { return };
        match echo {
            Echo::Progress => {
                if let Ok(log) = snap.log.lock() {
                    let skipped = log.skipped_from(printed_lines);
                    if skipped > 0 {
                        if bar_shown {
                            eprint!("\r\x1b[2K");
                            bar_shown = false;
                        }
                        eprintln!(
                            "  | {}",
                            crate::runner::log::skipped_note(skipped, snap.log_file.as_deref())
                        );
                        printed_lines += skipped;
                    }
                    for (i, line) in log.lines_from(printed_lines) {
                        if bar_shown {
                            eprint!("\r\x1b[2K");
                            bar_shown = false;
                        }
                        eprintln!("  | {line}");
                        printed_lines = i + 1;
                    }
                }
                if let Some(p) = snap
                    .progress
                    .filter(|_| snap.state == crate::runner::TaskState::Running)
                {
                    let step = snap.step.clone().unwrap_or_default();
                    if tty {
                        eprint!("\r\x1b[2K{}", progress_bar(p, &step));
                        bar_shown = true;
                    } else {
                        #[expect(
                            clippy::cast_possible_truncation,
                            clippy::cast_sign_loss,
                            reason = "a clamped fraction times 10"
                        )]
                        let tenth = (p.clamp(0.0, 1.0) * 10.0).floor() as u32;
                        if last_tenth != Some(tenth) {
                            eprintln!("{}", progress_bar(p, &step));
                            last_tenth = Some(tenth);
                        }
                    }
                } else if bar_shown {
                    eprintln!();
                    bar_shown = false;
                }
            }
            Echo::Log => {
                if let Ok(log) = snap.log.lock() {
                    let skipped = log.skipped_from(printed_lines);
                    if skipped > 0 {
                        eprintln!(
                            "  | {}",
                            crate::runner::log::skipped_note(skipped, snap.log_file.as_deref())
                        );
                        printed_lines += skipped;
                    }
                    for (i, line) in log.lines_from(printed_lines) {
                        eprintln!("  | {line}");
                        printed_lines = i + 1;
                    }
                }
            }
            Echo::Steps => {
                if let Some(step) = snap.step.filter(|s| *s != last_step) {
                    eprintln!("  {step}");
                    last_step = step;
                }
            }
        }
    };
    cli.handle.block_on(async {
        // Ctrl-C, or another request to stop (SIGTERM, SIGHUP when the terminal or the SSH
        // session went away; Ctrl-Break or the console window closing on Windows) cancels the
        // task, which ends the builder's whole process tree: none of these reach it directly,
        // and it must not outlive the console. One heard before this task started (between two
        // builds of `pipeline run`) cancels it at once.
        let stop = stop_requested(&cli.handle);
        let mut interrupted = false;
        loop {
            tokio::select! {
                // Events wake us early; the timeout keeps the echo going when they lag.
                _ = tokio::time::timeout(std::time::Duration::from_millis(500), events.recv()) => {}
                () = stop.token.cancelled(), if !interrupted => {
                    interrupted = true;
                    let how = stop.how.get().copied().unwrap_or("stopped");
                    eprintln!("{how}: cancelling {} (stopping its processes)", runner.task(id).map(|t| t.info.name).unwrap_or_default());
                    runner.cancel(id);
                }
            }
            print_new();
            if let Some(snap) = runner.task(id)
                && snap.state.is_finished()
            {
                print_new();
                return (snap.state, snap.message.unwrap_or_default());
            }
        }
    })
}

/// A request to stop the command (a signal), heard from the first task the command follows
/// to its end: once the console listens for a signal the system no longer ends it by that
/// signal, so a request that comes between two tasks must be kept for the next one.
pub(crate) struct StopRequest {
    pub(crate) token: tokio_util::sync::CancellationToken,
    /// What it was, in a word for the message.
    pub(crate) how: std::sync::OnceLock<&'static str>,
}

/// The command's stop request; the first call starts listening for one on `handle`.
pub(crate) fn stop_requested(handle: &tokio::runtime::Handle) -> &'static StopRequest {
    static STOP: std::sync::OnceLock<StopRequest> = std::sync::OnceLock::new();
    let mut first = false;
    let stop = STOP.get_or_init(|| {
        first = true;
        StopRequest {
            token: tokio_util::sync::CancellationToken::new(),
            how: std::sync::OnceLock::new(),
        }
    });
    if first {
        // Registered before this returns, so no signal after it ends the console unheard.
        let mut stops = {
            let _in = handle.enter();
            StopSignals::new()
        };
        handle.spawn(async move {
            let how = stops.recv().await;
            let _ = stop.how.set(how);
            stop.token.cancel();
        });
    }
    stop
}

/// The requests to stop a command: Ctrl-C, SIGTERM and SIGHUP on Unix; Ctrl-C, Ctrl-Break and
/// the console window closing on Windows. One that cannot be listened for is never heard.
struct StopSignals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    int: Option<tokio::signal::windows::CtrlC>,
    #[cfg(windows)]
    brk: Option<tokio::signal::windows::CtrlBreak>,
    #[cfg(windows)]
    close: Option<tokio::signal::windows::CtrlClose>,
}

impl StopSignals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(windows)]
        {
            Self {
                int: tokio::signal::windows::ctrl_c().ok(),
                brk: tokio::signal::windows::ctrl_break().ok(),
                close: tokio::signal::windows::ctrl_close().ok(),
            }
        }
    }

    /// Waits for the next request; what it was, in a word for the message.
    async fn recv(&mut self) -> &'static str {
        async fn next<F: std::future::Future<Output = Option<()>>>(f: Option<F>) {
            match f {
                Some(f) => {
                    if f.await.is_none() {
                        // The stream ended: nothing more will come from it.
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending().await,
            }
        }
        #[cfg(unix)]
        {
            tokio::select! {
                () = next(self.int.as_mut().map(tokio::signal::unix::Signal::recv)) => "interrupted",
                () = next(self.term.as_mut().map(tokio::signal::unix::Signal::recv)) => "terminated",
                () = next(self.hup.as_mut().map(tokio::signal::unix::Signal::recv)) => "hung up",
            }
        }
        #[cfg(windows)]
        {
            tokio::select! {
                () = next(self.int.as_mut().map(tokio::signal::windows::CtrlC::recv)) => "interrupted",
                () = next(self.brk.as_mut().map(tokio::signal::windows::CtrlBreak::recv)) => "Ctrl-Break",
                () = next(self.close.as_mut().map(tokio::signal::windows::CtrlClose::recv)) => "closed",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_or_an_age_before_now() {
        let now: jiff::Timestamp = "2026-11-28T10:00:00Z".parse().expect("ts");
        let at = |s: &str| parse_time_or_age("--since", s, now).map(|t| t.to_string());
        assert_eq!(at("10m").ok().as_deref(), Some("2026-11-28T09:50:00Z"));
        assert_eq!(at("2h ago").ok().as_deref(), Some("2026-11-28T08:00:00Z"));
        assert_eq!(at("3d").ok().as_deref(), Some("2026-11-25T10:00:00Z"));
        assert_eq!(
            at("2026-11-28T09:00:00Z").ok().as_deref(),
            Some("2026-11-28T09:00:00Z")
        );
        let err = |s: &str| at(s).expect_err(s).to_string();
        assert!(err("yesterday").starts_with("--since \"yesterday\": use RFC 3339"));
        // i64::MAX / 3600 + 1 hours overflows the multiplication: an error, not a wrap.
        assert!(
            err("2562047788015216h").contains("too large"),
            "{}",
            err("2562047788015216h")
        );
        assert!(err("9223372036854775807d").contains("too large"));
        assert!(err("99999999999999s").contains("before the year"));
        assert!(err("99999999999999999999h").starts_with("--since"));
    }
}
