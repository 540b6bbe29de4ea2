//! `audit list|verify`.

use std::process::ExitCode;

use clap::Subcommand;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::audit::AuditError;
use crate::local_time;

#[derive(Debug, Subcommand)]
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
        AuditCmd::Verify => match ws.verify_audit_with(crate::projections::ALL) {
            Ok(v) => {
                if cli.json {
                    cli.print_json(&serde_json::json!({"ok": true, "entries": v.entries, "last_hash": v.last_hash}))?;
                } else {
                    println!(
                        "audit log intact: {} entries, last hash {}",
                        v.entries, v.last_hash
                    );
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
                let message = crate::error_chain(&e);
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
