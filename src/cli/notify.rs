//! `notify list|flush|retry|resend`: the outbox of notifications (PagerDuty, Slack).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;

use super::Cli;
use crate::notify::{self, State};

#[derive(Debug, Clone, Subcommand)]
pub enum NotifyCmd {
    /// What was sent where and when, and what failed (newest first).
    List {
        /// Also deliveries that are done (sent, local, dropped); default: the last 20 of them.
        #[arg(long)]
        all: bool,
    },
    /// Send whatever is pending now; exit 1 when a delivery failed or may have arrived
    /// (uncertain: it is not sent again by itself).
    Flush {
        /// Wait up to this many seconds for retries that are due later.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Queue failed or uncertain deliveries again (every failed one without IDs; an uncertain
    /// one only when named), then send. Audited.
    Retry {
        ids: Vec<String>,
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Send one delivery again: the Outbox's "Send again" for one that is uncertain (maybe
    /// delivered) or failed. Audited as a person's retry.
    Resend {
        id: String,
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
}

fn when(t: Option<jiff::Timestamp>) -> String {
    t.map_or_else(String::new, |t| crate::local_time(t, true))
}

pub fn run(cli: &Cli, cmd: &NotifyCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    if ws.config().notify.is_empty() {
        anyhow::bail!(
            "no notifications configured: add [notify.pagerduty] or [[notify.slack]] to {}",
            ws.root().join("release-console.toml").display()
        );
    }
    match cmd {
        NotifyCmd::List { all } => {
            notify::collect(&ws)?;
            let ob = notify::load(&ws)?;
            let mut shown: Vec<&notify::Delivery> = ob.deliveries.iter().rev().collect();
            if !all {
                let mut done = 0;
                shown.retain(|d| {
                    let open = !matches!(d.state, State::Sent | State::Local | State::Dropped);
                    done += usize::from(!open);
                    open || done <= 20
                });
            }
            if cli.json {
                cli.print_json(&shown)?;
                return Ok(ExitCode::SUCCESS);
            }
            if shown.is_empty() {
                println!("the outbox is empty");
            }
            for d in &shown {
                println!(
                    "{:<9} {:<22} {:<20} {}  {}",
                    d.state.as_str().to_uppercase(),
                    d.target.label(),
                    d.event.name,
                    when(d.done_at.or(Some(d.queued_at))),
                    d.event.title
                );
                println!("          id {}", d.id);
                if d.elsewhere {
                    println!(
                        "          queued by {}: that console sends and retries it",
                        d.whose()
                    );
                }
                if d.state == State::Uncertain {
                    println!(
                        "          {}: not sent again by itself; `notify resend {}` sends it \
                         again",
                        d.state.describe(),
                        d.id
                    );
                }
                if !d.answer.is_empty() {
                    println!("          {}", d.answer);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        NotifyCmd::Flush { wait } => flush(cli, &ws, *wait),
        NotifyCmd::Retry { ids, wait } => {
            let n = notify::retry(&ws, ids)?;
            println!("{n} delivery(ies) queued again");
            flush(cli, &ws, *wait)
        }
        NotifyCmd::Resend { id, wait } => {
            let n = notify::retry(&ws, std::slice::from_ref(id))?;
            if n == 0 {
                let state = notify::load(&ws)?
                    .get(id)
                    .map_or("unknown", |d| d.state.describe());
                anyhow::bail!(
                    "delivery {id} is {state}: only an uncertain or failed one is sent again"
                );
            }
            println!("{id} queued again");
            flush(cli, &ws, *wait)
        }
    }
}

fn flush(cli: &Cli, ws: &crate::workspace::Workspace, wait: u64) -> anyhow::Result<ExitCode> {
    let log = |line: &str| eprintln!("  {line}");
    let report = cli.handle.block_on(notify::flush(
        ws,
        Instant::now() + Duration::from_secs(wait),
        &log,
    ))?;
    if cli.json {
        cli.print_json(&serde_json::json!({
            "sent": report.sent, "local": report.local, "failed": report.failed,
            "uncertain": report.uncertain,
            "pending": report.pending, "busy": report.busy,
        }))?;
    } else {
        println!(
            "{}",
            report
                .summary()
                .unwrap_or_else(|| "notifications: nothing to send".into())
        );
    }
    Ok(if report.failed.is_empty() && report.uncertain.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// After a command: sends what it queued, for up to `[notify] cli_wait_secs`; what is left
/// stays queued. Never changes the command's outcome.
pub fn before_exit(cli: &Cli, ws: &crate::workspace::Workspace) {
    if ws.config().notify.is_empty() {
        return;
    }
    let wait = Duration::from_secs(ws.config().notify.cli_wait_secs);
    let quiet = |_: &str| {};
    match cli
        .handle
        .block_on(notify::flush(ws, Instant::now() + wait, &quiet))
    {
        Ok(report) => {
            if let Some(line) = report.summary() {
                eprintln!("{line}");
            }
        }
        Err(e) => eprintln!("warning: notifications not sent: {e}"),
    }
}
