//! `pipeline preflight|run|status`: build, sign and checksum the installers of a release.

use std::process::ExitCode;

use clap::Subcommand;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::pipeline::run::{RunReport, RunRequest};
use crate::pipeline::{self, Preflight, RunOptions};
use crate::runner::{Runner, TaskId, TaskState};
use crate::verify::Overall;

#[derive(Debug, Clone, Subcommand)]
pub enum PipelineCmd {
    /// Check hosts, tools, signing variables and certificate, payload and disk.
    Preflight {
        #[arg(long)]
        version: Option<String>,
        /// A platform from the definition, or `all` (default: [pipeline] platforms).
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        skip_signing: bool,
    },
    /// Build the installers, collect them, write SHA256SUMS and verify.
    Run {
        #[arg(long)]
        version: String,
        #[arg(long)]
        platform: Option<String>,
        /// Print the plan with the exact commands; build, sign and publish nothing.
        #[arg(long)]
        dry_run: bool,
        /// Skip platforms that already succeeded for this version.
        #[arg(long)]
        resume: bool,
        /// Build unsigned installers (no certificate needed).
        #[arg(long)]
        skip_signing: bool,
        /// Build again a version that is already published (its new bytes cannot be published
        /// as that version: a published version never changes).
        #[arg(long)]
        rebuild: bool,
    },
    /// Show the saved state of a release's pipeline.
    Status {
        #[arg(long)]
        version: Option<String>,
    },
}

fn print_preflight(p: &Preflight) {
    if let Some(reason) = &p.skipped {
        println!("{}: skipped ({reason})", p.platform);
    } else {
        println!(
            "{}: {}",
            p.platform,
            if p.is_ready() { "ready" } else { "NOT READY" }
        );
        for c in &p.checks {
            let mark = match (c.ok, c.warning) {
                (false, _) => "FAIL",
                (true, true) => "WARN",
                (true, false) => "ok  ",
            };
            let fix = if c.fix.is_empty() {
                String::new()
            } else {
                format!("  -> {}", c.fix)
            };
            println!("  {mark} {:<28} {}{fix}", c.name, c.detail);
        }
    }
}

/// How `pipeline run` watches its tasks: preflights and notes printed as they come (not with
/// `--json`), each task's log echoed until it ends.
struct Echoing<'a>(&'a Cli);

impl pipeline::run::Watch for Echoing<'_> {
    fn preflight(&mut self, p: &Preflight) {
        if !self.0.json {
            print_preflight(p);
        }
    }

    fn note(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn wait(&mut self, runner: &Runner, id: TaskId) -> (TaskState, String) {
        super::follow(self.0, runner, id, super::Echo::Log)
    }

    fn stop_requested(&mut self) -> bool {
        let stop = super::stop_requested(&self.0.handle);
        if stop.token.is_cancelled() {
            let how = stop.how.get().copied().unwrap_or("stopped");
            eprintln!("{how}: starting no further build");
        }
        stop.token.is_cancelled()
    }
}

fn print_run(report: &RunReport) {
    if report.dry_run {
        println!(
            "dry run: then collect artifacts into {}, write SHA256SUMS, verify",
            report.artifacts_dir.display()
        );
        return;
    }
    let failures = report.failures();
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("FAIL {f}");
        }
        eprintln!("fix the failure and run again with --resume to skip what succeeded");
        return;
    }
    if let Some(sums) = &report.sums {
        println!(
            "wrote {} (each built artifact matches the SHA-256 its builder printed)",
            sums.path.display()
        );
        if !sums.unvouched.is_empty() {
            println!(
                "note: no builder printed a checksum for {}: they are listed as they are now",
                sums.unvouched.join(", ")
            );
        }
    }
    if let Some(v) = &report.verify {
        for a in &v.artifacts {
            println!(
                "  {:<40} checksum {:<9} signature {}",
                a.path,
                a.checksum.as_str(),
                a.signature.as_str()
            );
        }
        println!(
            "{}: {}",
            if v.overall == Overall::Pass {
                "PASS"
            } else {
                "FAIL"
            },
            v.summary()
        );
    }
}

fn print_status(release: &crate::workspace::Release, state: &pipeline::PipelineState) {
    if state.platforms.is_empty() {
        println!("{}: no pipeline run yet", release.version);
    }
    for (name, p) in &state.platforms {
        println!(
            "{name}: {} ({}) at {}",
            p.status,
            p.message,
            crate::local_time(p.finished_at, true)
        );
        if let Some(r) = &p.remote {
            println!(
                "  run #{} attempt {} on {}: {}",
                r.run_id,
                r.attempt,
                if r.engine == "github" {
                    "GitHub Actions"
                } else {
                    r.engine.as_str()
                },
                r.html_url
            );
        }
        for s in &p.steps {
            println!("  {:<28} {:.1} s", s.name, s.seconds);
        }
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    }
}

pub fn run(cli: &Cli, cmd: PipelineCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    let runner = Runner::new(cli.handle.clone(), 1);
    match cmd {
        PipelineCmd::Preflight {
            version,
            platform,
            skip_signing,
        } => {
            ws.release(version.as_deref())?;
            let opts = RunOptions {
                skip_signing,
                ..RunOptions::default()
            };
            let results =
                pipeline::run::preflight_release(&ws, &runner, platform.as_deref(), &opts)?;
            if cli.json {
                cli.print_json(&results)?;
            } else {
                results.iter().for_each(print_preflight);
                for w in crate::rotation::overdue_warnings(&ws, jiff::Timestamp::now()) {
                    eprintln!("warning: {w}");
                }
            }
            Ok(exit(
                results.iter().all(|p| p.skipped.is_some() || p.is_ready()),
            ))
        }
        PipelineCmd::Status { version } => {
            let release = ws.release(version.as_deref())?;
            let state = pipeline::load_state(&ws, &release)?;
            if cli.json {
                cli.print_json(&state)?;
            } else {
                print_status(&release, &state);
            }
            Ok(ExitCode::SUCCESS)
        }
        PipelineCmd::Run {
            version,
            platform,
            dry_run,
            resume,
            skip_signing,
            rebuild,
        } => {
            let release = ws.release(Some(&version))?;
            let req = RunRequest {
                release: &release,
                platform: platform.as_deref(),
                opts: RunOptions {
                    skip_signing,
                    dry_run,
                    resume,
                },
                rebuild,
                guard: crate::deploy::rebuild_guard(&ws, &release)?,
            };
            // What a build makes untrue is said before it starts, as the GUI asks first.
            if !dry_run && !resume && (rebuild || !req.guard.published) {
                for what in &req.guard.invalidates {
                    eprintln!("warning: building {version} again invalidates {what}");
                }
            }
            runner.set_hook(Some(ws.task_hook()));
            let report = match pipeline::run::run_release(&ws, &runner, req, &mut Echoing(cli)) {
                Err(e @ pipeline::run::RunError::Busy(_)) => {
                    eprintln!("busy: {e}");
                    return Ok(ExitCode::from(super::EXIT_BUSY));
                }
                other => other?,
            };
            if cli.json {
                cli.print_json(&report)?;
            } else {
                print_run(&report);
            }
            Ok(exit(report.passed()))
        }
    }
}
