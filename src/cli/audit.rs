//! `audit list|show|verify`.

use std::process::ExitCode;

use clap::Subcommand;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::audit::{AuditError, diff};
use crate::local_time;

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCmd {
    /// List entries, oldest first.
    List {
        /// Only entries whose action starts with this (e.g. `checklist`).
        #[arg(long)]
        action: Option<String>,
        /// Only the last N entries.
        #[arg(long)]
        last: Option<usize>,
    },
    /// Show one entry and what it changed, field by field (the Audit panel's diff).
    Show {
        /// The entry's number (`#` in `audit list`).
        seq: u64,
        /// Also list the fields that did not change.
        #[arg(long)]
        all: bool,
    },
    /// Check the hash chain; exit 1 naming the first bad line.
    Verify,
}

pub fn run(cli: &Cli, cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    match cmd {
        AuditCmd::List { action, last } => {
            let mut entries = ws.audit().entries()?;
            if let Some(a) = &action {
                entries.retain(|e| e.action.starts_with(a.as_str()));
            }
            if let Some(n) = last {
                let skip = entries.len().saturating_sub(n);
                entries.drain(..skip);
            }
            if cli.json {
                cli.print_json(&entries)?;
            } else {
                for e in &entries {
                    println!(
                        "{:>5}  {}  {:<20} {:<18} {}",
                        e.seq,
                        local_time(e.time, false),
                        e.actor,
                        e.action,
                        e.target
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Show { seq, all } => {
            show(cli, &ws, seq, all)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Verify => match ws.verify_audit_with(crate::projections::ALL) {
            Ok(v) => {
                if cli.json {
                    cli.print_json(&serde_json::json!({"ok": true, "entries": v.entries, "last_hash": v.last_hash, "signatures": v.signatures}))?;
                } else {
                    println!(
                        "audit log intact: {} entries, last hash {}",
                        v.entries, v.last_hash
                    );
                    if let Some(s) = v.signatures {
                        println!("signatures: {}", s.summary());
                        for other in &s.named_others {
                            println!("WARNING: {other}");
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(AuditError::Tampered {
                path,
                line,
                message,
            }) => {
                if cli.json {
                    cli.print_json(
                        &serde_json::json!({"ok": false, "line": line, "message": message}),
                    )?;
                } else {
                    println!("audit log BROKEN at {}:{line}: {message}", path.display());
                }
                Ok(ExitCode::from(EXIT_CHECK_FAILED))
            }
            // A state file the log speaks for that cannot be read disagrees with it: the check
            // failed (exit 1), it is no usage error.
            Err(AuditError::State(e @ crate::store::StateError::Parse { .. })) => {
                let message = e.to_string();
                if cli.json {
                    cli.print_json(&serde_json::json!({"ok": false, "message": message}))?;
                } else {
                    println!("audit log and state DISAGREE: {message}");
                }
                Ok(ExitCode::from(EXIT_CHECK_FAILED))
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// Longest value `audit show` prints on a line (`--json` has them whole).
const SHOW_VALUE_CHARS: usize = 120;

fn show(cli: &Cli, ws: &crate::workspace::Workspace, seq: u64, all: bool) -> anyhow::Result<()> {
    let log = ws.audit();
    let index = log.index()?;
    let n = usize::try_from(seq)
        .ok()
        .filter(|n| (1..=index.len()).contains(n));
    let Some(n) = n else {
        anyhow::bail!(
            "{}: there is no entry #{seq} (the log holds #1 to #{})",
            log.path().display(),
            index.len()
        );
    };
    let entry = log
        .read_range(&index, n - 1..n)?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("{}: entry #{seq} could not be read", log.path().display()))?
        .map_err(|e| anyhow::anyhow!("{}: entry #{seq}: {e}", log.path().display()))?;
    let fields = diff::diff(&entry.before, &entry.after);
    if cli.json {
        let shown: Vec<&diff::FieldChange> = fields
            .iter()
            .filter(|c| all || c.kind != diff::Kind::Unchanged)
            .collect();
        cli.print_json(&serde_json::json!({"entry": entry, "changes": shown}))?;
        return Ok(());
    }
    println!(
        "#{}  {}  {}  {}  {}",
        entry.seq,
        local_time(entry.time, false),
        entry.actor,
        entry.action,
        entry.target
    );
    let unchanged = fields
        .iter()
        .filter(|c| c.kind == diff::Kind::Unchanged)
        .count();
    if fields.is_empty() {
        println!("  (no values recorded)");
    }
    for c in fields
        .iter()
        .filter(|c| all || c.kind != diff::Kind::Unchanged)
    {
        println!("  {}", c.line(SHOW_VALUE_CHARS));
    }
    if unchanged > 0 && !all {
        println!("  ({unchanged} field(s) unchanged; --all lists them)");
    }
    Ok(())
}
