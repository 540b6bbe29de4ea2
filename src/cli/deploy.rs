//! `deploy backend`: roll the backend out with Argo CD and watch it until Synced and Healthy;
//! `deploy status`, `deploy history`, `deploy rollback --to ID`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use super::{Cli, Echo};
use crate::deploy::argocd::{self, ArgoCd};
use crate::runner::TaskState;

#[derive(Debug, Clone, Subcommand)]
pub enum DeployCmd {
    /// Sync the Argo CD application to the release's revision and wait until it is Synced at
    /// that revision and Healthy (ticks "Backend rolling update").
    Backend {
        /// The release (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// The Git revision (default: `[deploy.argocd] revision`, e.g. `v{version}`).
        #[arg(long)]
        revision: Option<String>,
        /// Show the application and what would be synced; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The application's sync and health, its resources and its last operation.
    Status,
    /// The application's sync history (the ids `rollback --to` takes).
    History,
    /// Roll the application back to a history entry.
    Rollback {
        #[arg(long, value_name = "ID")]
        to: i64,
        /// The release being rolled back (default: the newest); audited against it.
        #[arg(long)]
        version: Option<String>,
    },
}

fn timeout(argo: &ArgoCd) -> Duration {
    // The watch has its own timeout; the task's leaves room for the calls around it.
    Duration::from_secs_f64(argo.config().timeout_mins * 60.0) + Duration::from_mins(2)
}

pub fn run(cli: &Cli, cmd: DeployCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    match cmd {
        DeployCmd::Status | DeployCmd::History => {
            let argo = ArgoCd::from_workspace(&ws)?;
            let status = cli.handle.block_on(argo.status())?;
            let history = matches!(cmd, DeployCmd::History);
            if cli.json {
                if history {
                    cli.print_json(&status.history)?;
                } else {
                    cli.print_json(&status)?;
                }
            } else if history {
                for h in status.history.iter().rev() {
                    println!("{:>4}  {}  {}", h.id, h.deployed_at, h.revision);
                }
            } else {
                println!("{}", status.line());
                if let Some(op) = &status.operation {
                    println!("last operation: {}", op.line());
                }
                for r in &status.resources {
                    println!(
                        "  {}/{} {} {}{}",
                        r.kind,
                        r.name,
                        r.sync.as_ref().map_or("", |v| v.as_str()),
                        r.health.as_ref().map_or("", |v| v.as_str()),
                        if r.message.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", r.message)
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DeployCmd::Backend {
            version,
            revision,
            dry_run,
        } => {
            let release = ws.release(version.as_deref())?;
            let argo = ArgoCd::from_workspace(&ws)?;
            let revision = revision.unwrap_or_else(|| argo.revision_of(&release));
            if dry_run {
                let status = cli.handle.block_on(argo.status())?;
                if cli.json {
                    cli.print_json(&serde_json::json!({
                        "application": argo.config().application,
                        "revision": revision,
                        "now": status,
                    }))?;
                } else {
                    println!("now: {}", status.line());
                    println!(
                        "dry run: would sync {} to {revision} (prune: {}) and wait up to {} min \
                         for Synced and Healthy",
                        argo.config().application,
                        argo.config().prune,
                        argo.config().timeout_mins
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let spec = ws.task_spec(
                &format!("deploy backend {}", release.version),
                argocd::TASK_KIND,
                Some(&release),
                timeout(&argo),
            );
            let work = {
                let (ws, release) = (ws.clone(), release.clone());
                move |ctx| argocd::run_task(ctx, ws, release, Some(revision))
            };
            finish(cli, super::run_one(cli, &ws, spec, work, Echo::Log)?)
        }
        DeployCmd::Rollback { to, version } => {
            let release = ws.release(version.as_deref())?;
            let argo = ArgoCd::from_workspace(&ws)?;
            let spec = ws.task_spec(
                &format!("deploy rollback {}", release.version),
                argocd::ROLLBACK_KIND,
                None,
                timeout(&argo),
            );
            let work = {
                let ws = ws.clone();
                let version = release.version.to_string();
                move |ctx| argocd::run_rollback(ctx, ws, version, to)
            };
            finish(cli, super::run_one(cli, &ws, spec, work, Echo::Log)?)
        }
    }
}

fn finish(cli: &Cli, (state, message): (TaskState, String)) -> anyhow::Result<ExitCode> {
    if cli.json {
        cli.print_json(&serde_json::json!({"state": state.as_str(), "message": message}))?;
    }
    if state == TaskState::Succeeded {
        if !cli.json {
            println!("{message}");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {message}");
        Ok(ExitCode::from(1))
    }
}
