//! `release new|list|show`.

use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use crate::workspace::{Release, ReleaseKind};
use crate::{gates, local_time};

#[derive(Debug, Subcommand)]
pub enum ReleaseCmd {
    /// Create a release (semver), or a hotfix of an earlier one.
    New {
        version: String,
        /// The release this hotfix fixes; the hotfix runbook is used.
        #[arg(long, value_name = "VERSION")]
        hotfix_of: Option<String>,
    },
    /// List releases, oldest first.
    List,
    /// Show one release (default: the newest) with its checklist progress.
    Show { version: Option<String> },
    /// Every gate between a release (default: the newest) and publishing, open or blocked
    /// with the reason; exit 1 when any is blocked.
    Gates { version: Option<String> },
}

fn kind_text(r: &Release) -> String {
    match &r.kind {
        ReleaseKind::Regular => "release".to_owned(),
        ReleaseKind::Hotfix { of } => format!("hotfix of {of}"),
    }
}

pub fn run(cli: &Cli, cmd: ReleaseCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    match cmd {
        ReleaseCmd::New { version, hotfix_of } => {
            let r = ws.create_release(&version, hotfix_of.as_deref())?;
            if cli.json {
                cli.print_json(&r)?;
            } else {
                println!(
                    "created {} {} ({}, runbook {:?})",
                    ws.config().product.name,
                    r.version,
                    kind_text(&r),
                    r.runbook
                );
            }
        }
        ReleaseCmd::List => {
            let all = ws.releases()?;
            if cli.json {
                cli.print_json(&all)?;
            } else if all.is_empty() {
                println!("no releases yet; create one with `release-console release new 0.1.0`");
            } else {
                for r in &all {
                    println!(
                        "{:<12} {:<20} created {} by {}",
                        r.version.to_string(),
                        kind_text(r),
                        local_time(r.created_at, false),
                        r.created_by
                    );
                }
            }
        }
        ReleaseCmd::Show { version } => {
            let r = ws.release(version.as_deref())?;
            let runbook = ws.runbook(&r)?;
            let checklist = ws.checklist(&r)?;
            let phases: Vec<_> = runbook
                .phases
                .iter()
                .map(|p| (p.id.clone(), p.title.clone(), checklist.progress(p)))
                .collect();
            if cli.json {
                cli.print_json(&serde_json::json!({
                    "release": r,
                    "phases": phases.iter().map(|(id, title, p)| serde_json::json!({
                        "id": id, "title": title, "done": p.done, "total": p.total
                    })).collect::<Vec<_>>(),
                }))?;
            } else {
                println!(
                    "{} {} ({})",
                    ws.config().product.name,
                    r.version,
                    kind_text(&r)
                );
                println!(
                    "created {} by {}",
                    local_time(r.created_at, false),
                    r.created_by
                );
                for (_, title, p) in &phases {
                    println!("  {title:<40} {}/{}", p.done, p.total);
                }
            }
        }
        ReleaseCmd::Gates { version } => {
            let r = ws.release(version.as_deref())?;
            let gates = gates::evaluate(&ws, &r, jiff::Timestamp::now());
            if cli.json {
                cli.print_json(&gates)?;
            } else {
                println!(
                    "{} {}: gates before publishing",
                    ws.config().product.name,
                    r.version
                );
                let width = gates.iter().map(|g| g.gate.len()).max().unwrap_or(0);
                for g in &gates {
                    let state = if g.is_open() { "open" } else { "BLOCKED" };
                    println!("  {:<width$}  {state:<7}  {}", g.gate, g.reason);
                }
                let blocked = gates.iter().filter(|g| !g.is_open()).count();
                if blocked == 0 {
                    println!("all {} gates open", gates.len());
                } else {
                    println!("{blocked} of {} gates blocked", gates.len());
                }
            }
            if !gates::all_open(&gates) {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
