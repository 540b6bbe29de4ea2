//! `workspace`: where the workspace is and, for a shared one (`s3://BUCKET/PREFIX`), its bucket
//! checked end to end, who is working on it, and moving a local workspace into a bucket.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::workspace::shared::{self, SharedUrl};

#[derive(Debug, Clone, Subcommand)]
pub enum WorkspaceCmd {
    /// Where the workspace is; for a shared one its bucket, cache folder, log and who is
    /// working (leases, recent changes).
    Status,
    /// A shared workspace checked end to end: every entry in the bucket, in order, chained
    /// from the first, and the same as this console's copy; every sealed segment the same
    /// bytes as its entries; then the copy and the state.
    Verify,
    /// Move the local workspace DIR into a bucket: its configuration and its whole verified
    /// log (the releases, checklists, incidents, flag plans and skips the log replays).
    Push {
        dir: PathBuf,
        /// `s3://BUCKET/PREFIX`, which must hold no workspace yet.
        url: String,
    },
    /// Take the lease on an operation from whoever holds it (audited as `lease.force`), e.g.
    /// when its holder's machine is gone; it is given back at once.
    ForceLease {
        /// The operation as `workspace status` names it, e.g. "publish 1.2.0".
        what: String,
    },
}

pub fn run(cli: &Cli, cmd: &WorkspaceCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WorkspaceCmd::Push { dir, url } => {
            let parsed = SharedUrl::of_path(std::path::Path::new(url))
                .ok_or_else(|| anyhow::anyhow!("{url}: expected s3://BUCKET/PREFIX"))??;
            let access = shared::Access::from_env(&parsed)?;
            let pushed = shared::push(dir, &parsed, access)?;
            let moved = pushed.entries;
            if cli.json {
                cli.print_json(&serde_json::json!({
                    "url": url,
                    "entries": moved,
                    "not_carried": pushed.not_carried,
                }))?;
            } else {
                println!(
                    "moved {} and its {moved} log entries to {url}",
                    dir.display()
                );
                for (key, path) in &pushed.not_carried {
                    println!(
                        "warning: {key} = \"{path}\" is in {} but not in the bucket (only the \
                         configuration and the log are): every console looks for it in its own \
                         copy of the workspace; put it there on each machine, or set {key} to a \
                         path each machine has",
                        dir.display()
                    );
                }
                println!(
                    "not moved (they stay in {}): build state and artifacts, verification \
                     records, task logs, the notification outbox and publish state",
                    dir.display()
                );
                println!("next: release-console --workspace {url} workspace verify");
            }
            Ok(ExitCode::SUCCESS)
        }
        WorkspaceCmd::Status => {
            let ws = cli.open_workspace()?;
            let index = ws.audit().index()?;
            let activity = ws.activity(&index, jiff::Timestamp::now())?;
            let shared = ws.shared();
            if cli.json {
                cli.print_json(&serde_json::json!({
                    "location": ws.location(),
                    "folder": ws.root(),
                    "shared": shared.is_some(),
                    "read_only": shared.and_then(shared::Shared::offline),
                    "entries": index.len(),
                    "last_hash": index.last_hash(),
                    "activity": activity,
                }))?;
                return Ok(ExitCode::SUCCESS);
            }
            println!("workspace: {}", ws.location());
            if let Some(s) = shared {
                println!("cache folder: {}", ws.root().display());
                match s.offline() {
                    Some(why) => println!("READ-ONLY: {why}"),
                    None => println!("bucket: reachable"),
                }
            }
            println!(
                "log: {} entries, last hash {}",
                index.len(),
                index.last_hash()
            );
            for l in &activity.leases {
                println!("in progress: {} by {}", l.what, l.describe());
            }
            for p in &activity.people {
                println!(
                    "active: {}{} {} {} at {}",
                    p.actor,
                    if p.host.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", p.host)
                    },
                    p.action,
                    p.target,
                    crate::local_time(p.at, true)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        WorkspaceCmd::Verify => {
            let ws = cli.open_workspace()?;
            let Some(s) = ws.shared() else {
                anyhow::bail!(
                    "{} is a local workspace: `audit verify` checks its log",
                    ws.location()
                );
            };
            if let Some(why) = s.offline() {
                anyhow::bail!("{}: the bucket cannot be checked: {why}", ws.location());
            }
            let check = s.verify_bucket(ws.audit())?;
            let local = ws.verify_audit_with(crate::projections::ALL);
            let ok = check.agrees() && local.is_ok();
            if cli.json {
                cli.print_json(&serde_json::json!({
                    "ok": ok,
                    "bucket": check,
                    "local": local.as_ref().map(|v| v.entries).map_err(ToString::to_string),
                }))?;
            } else {
                println!(
                    "{}: {} entries in the bucket, each chained to the one before; last hash {}",
                    check.url, check.entries, check.last_hash
                );
                match (check.differs_at, check.local_entries > check.entries) {
                    (Some(seq), _) => println!(
                        "DIFFERENT: entry #{seq} in the bucket is not the one this console verified"
                    ),
                    (None, true) => println!(
                        "DIFFERENT: this console verified {} entries, the bucket holds {}",
                        check.local_entries, check.entries
                    ),
                    (None, false) => println!(
                        "this console's copy ({} entries) is the bucket's log",
                        check.local_entries
                    ),
                }
                for key in &check.segments_differ {
                    println!(
                        "DIFFERENT: segment {key} is not the entries it names (a console that \
                         opens cold refuses it; remove it and the next one seals it again)"
                    );
                }
                println!(
                    "{} sealed segments are the entries they hold; {} whole ranges unsealed",
                    check.segments, check.unsealed
                );
                match &local {
                    Ok(v) => {
                        println!("the copy and the state agree: {} entries", v.entries);
                        for other in v.signatures.iter().flat_map(|s| &s.named_others) {
                            println!("WARNING: {other}");
                        }
                    }
                    Err(e) => println!("the copy or the state is BROKEN: {e}"),
                }
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CHECK_FAILED)
            })
        }
        WorkspaceCmd::ForceLease { what } => {
            let ws = cli.open_workspace()?;
            drop(ws.force_lease(what)?);
            if !cli.json {
                println!("took the lease on {what} and gave it back (audited)");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
