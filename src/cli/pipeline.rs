//! `pipeline preflight|run|status`: build, sign and checksum the installers of a release.

use std::process::ExitCode;

use clap::Subcommand;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::pipeline::{self, Definition, Preflight, RunOptions};
use crate::runner::{Runner, TaskState};
use crate::verify::{self, Overall};
use crate::workspace::Workspace;

#[derive(Debug, Subcommand)]
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

fn platforms(ws: &Workspace, def: &Definition, platform: Option<&str>) -> Vec<String> {
    match platform {
        Some("all") => def.platforms.keys().cloned().collect(),
        Some(p) => vec![p.to_owned()],
        None => ws.config().pipeline.platforms.clone(),
    }
}

/// Secrets overdue for rotation, as a warning before a release (it blocks nothing).
fn warn_rotation(ws: &crate::workspace::Workspace) {
    let Ok(cal) = crate::rotation::calendar(ws, jiff::Timestamp::now(), 30) else {
        return;
    };
    for e in cal
        .iter()
        .filter(|e| e.state == crate::rotation::Due::Overdue && e.expires.is_none())
    {
        eprintln!(
            "warning: {} is overdue for rotation (every {} days{}); `secrets calendar` lists them",
            e.name,
            e.every_days,
            e.due
                .map(|d| format!(", due {}", crate::local_time(d, false)))
                .unwrap_or_default()
        );
    }
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

pub fn run(cli: &Cli, cmd: PipelineCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    let (def, def_path) = Definition::load(&ws)?;
    match cmd {
        PipelineCmd::Preflight {
            version,
            platform,
            skip_signing,
        } => {
            let _release = ws.release(version.as_deref())?;
            let names = platforms(&ws, &def, platform.as_deref());
            let selected = def.select(&def_path, &names)?;
            let opts = RunOptions {
                skip_signing,
                ..RunOptions::default()
            };
            let results: Vec<Preflight> = cli
                .handle
                .block_on(pipeline::preflight_all(&ws, &selected, &opts));
            if cli.json {
                cli.print_json(&results)?;
            } else {
                results.iter().for_each(print_preflight);
                warn_rotation(&ws);
            }
            let ready = results.iter().all(|p| p.skipped.is_some() || p.is_ready());
            Ok(if ready {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CHECK_FAILED)
            })
        }
        PipelineCmd::Status { version } => {
            let release = ws.release(version.as_deref())?;
            let state = pipeline::load_state(&ws, &release)?;
            if cli.json {
                cli.print_json(&state)?;
            } else if state.platforms.is_empty() {
                println!("{}: no pipeline run yet", release.version);
            } else {
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
            if !dry_run && !resume {
                // What a build would make untrue is said first, as the GUI asks; a published
                // version is not rebuilt without --rebuild.
                let lost = crate::deploy::rebuild_invalidates(&ws, &release);
                let published = !crate::deploy::on_channels(&ws, &version)
                    .map_err(|e| anyhow::anyhow!(crate::error_chain(&e)))?
                    .is_empty();
                if published && !rebuild {
                    anyhow::bail!(
                        "{version} is published ({}); its installers are not built again \
                         without --rebuild, and new bytes must be published as a new version",
                        lost.join("; ")
                    );
                }
                for what in &lost {
                    eprintln!("warning: building {version} again invalidates {what}");
                }
            }
            let names = platforms(&ws, &def, platform.as_deref());
            let selected = def.select(&def_path, &names)?;
            let opts = RunOptions {
                skip_signing,
                dry_run,
                resume,
            };
            let runner = Runner::new(cli.handle.clone(), 1);
            runner.set_hook(Some(ws.task_hook()));
            let previous = pipeline::load_state(&ws, &release)?;
            let mut failed = Vec::new();
            let mut built = 0;
            for (name, pdef) in selected {
                if resume
                    && previous
                        .platforms
                        .get(name)
                        .is_some_and(|p| p.status == pipeline::BuildStatus::Succeeded)
                {
                    eprintln!("{name}: already built for {version} (resume), skipping");
                    continue;
                }
                let pre = cli
                    .handle
                    .block_on(pipeline::preflight(&ws, name, pdef, &opts));
                if !cli.json {
                    print_preflight(&pre);
                }
                if pre.skipped.is_some() {
                    continue;
                }
                if !pre.is_ready() && !dry_run {
                    failed.push(format!("{name}: preflight failed"));
                    continue;
                }
                let spec = pipeline::build_task_spec(&ws, &release, name, pdef, &opts);
                let (task_ws, task_release, task_name, task_def, task_opts) = (
                    ws.clone(),
                    release.clone(),
                    name.to_owned(),
                    pdef.clone(),
                    opts.clone(),
                );
                let id = runner.start(spec, move |ctx| {
                    pipeline::build_platform(
                        ctx,
                        task_ws,
                        task_release,
                        task_name,
                        task_def,
                        task_opts,
                    )
                })?;
                let (state, message) = super::follow(cli, &runner, id, super::Echo::Log);
                if state == TaskState::Succeeded {
                    built += 1;
                } else {
                    failed.push(format!("{name}: {message}"));
                }
                if state == TaskState::Cancelled {
                    // Nothing else starts after a cancel.
                    break;
                }
            }
            if dry_run {
                if !cli.json {
                    println!(
                        "dry run: then collect artifacts into {}, write SHA256SUMS, verify",
                        ws.artifacts_dir(&release.version).display()
                    );
                }
                return Ok(if failed.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_CHECK_FAILED)
                });
            }
            if !failed.is_empty() {
                for f in &failed {
                    eprintln!("FAIL {f}");
                }
                eprintln!("fix the failure and run again with --resume to skip what succeeded");
                return Ok(ExitCode::from(EXIT_CHECK_FAILED));
            }
            if built == 0 && !resume {
                anyhow::bail!(
                    "no platform can be built on this host ({})",
                    std::env::consts::OS
                );
            }
            let sums = pipeline::write_sums(&ws, &release)?;
            if !cli.json {
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
            // Verify what was built, as the verify task (a pass ticks the checklist).
            let opts = verify::Options {
                paths: vec![ws.artifacts_dir(&release.version)],
                expected: crate::verify::Expected::from_workspace(&ws),
                ..Default::default()
            };
            let (id, slot) = verify::start(&runner, Some(ws.clone()), Some(&release), opts)?;
            super::follow(cli, &runner, id, super::Echo::Log);
            let report = slot.lock().ok().and_then(|mut s| s.take());
            let Some(report) = report else {
                anyhow::bail!("verification did not complete")
            };
            if cli.json {
                cli.print_json(&report)?;
            } else {
                for a in &report.artifacts {
                    println!(
                        "  {:<40} checksum {:<9} signature {}",
                        a.path,
                        a.checksum.as_str(),
                        a.signature.as_str()
                    );
                }
                println!(
                    "{}: {}",
                    if report.overall == Overall::Pass {
                        "PASS"
                    } else {
                        "FAIL"
                    },
                    report.summary()
                );
            }
            Ok(if report.overall == Overall::Pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CHECK_FAILED)
            })
        }
    }
}
