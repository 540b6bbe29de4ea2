//! `checklist show|tick|untick`.

use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use crate::local_time;

#[derive(Debug, Clone, Subcommand)]
pub enum ChecklistCmd {
    /// Show every phase and item with who ticked it and when.
    Show {
        /// Release version (default: the newest).
        #[arg(long)]
        release: Option<String>,
    },
    /// Tick an item.
    Tick {
        item_id: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        release: Option<String>,
    },
    /// Untick an item (also recorded).
    Untick {
        item_id: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        release: Option<String>,
    },
}

pub fn run(cli: &Cli, cmd: &ChecklistCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    let (release, change) = match cmd {
        ChecklistCmd::Show { release } => (release, None),
        ChecklistCmd::Tick {
            item_id,
            note,
            release,
        } => (release, Some((item_id, true, note))),
        ChecklistCmd::Untick {
            item_id,
            note,
            release,
        } => (release, Some((item_id, false, note))),
    };
    let release = ws.release(release.as_deref())?;
    let runbook = ws.runbook(&release)?;
    let checklist = match change {
        Some((item, done, note)) => {
            let c = ws.set_item(&release, item, done, note)?;
            if !cli.json {
                let verb = if done { "ticked" } else { "unticked" };
                println!("{verb} {item} for {} as {}", release.version, ws.actor());
            }
            c
        }
        None => ws.checklist(&release)?,
    };
    if cli.json {
        cli.print_json(&serde_json::json!({
            "release": release.version,
            "runbook": runbook.id,
            "phases": runbook.phases.iter().map(|p| {
                let progress = checklist.progress(p);
                serde_json::json!({
                    "id": p.id, "title": p.title, "done": progress.done, "total": progress.total,
                    "items": p.items.iter().map(|i| serde_json::json!({
                        "id": i.id, "title": i.title, "state": checklist.items.get(&i.id),
                    })).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if change.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} {}: {}",
        ws.config().product.name,
        release.version,
        runbook.title
    );
    for phase in &runbook.phases {
        let p = checklist.progress(phase);
        println!("\n{} ({})  {}/{}", phase.title, phase.when, p.done, p.total);
        for item in &phase.items {
            let state = checklist.items.get(&item.id);
            let mark = if state.is_some_and(|s| s.done) {
                "[x]"
            } else {
                "[ ]"
            };
            let who = state
                .map(|s| {
                    let verb = if s.done { "ticked" } else { "unticked" };
                    let note = if s.note.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", s.note)
                    };
                    format!(
                        "  ({verb} by {} at {}{note})",
                        s.by,
                        local_time(s.at, false)
                    )
                })
                .unwrap_or_default();
            println!("  {mark} {:<28} {}{who}", item.id, item.title);
        }
    }
    Ok(ExitCode::SUCCESS)
}
