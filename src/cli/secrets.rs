//! `secrets calendar|rotated`: the rotation calendar of the secrets the workspace relies on.

use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use crate::rotation::{self, Due};

#[derive(Debug, Clone, Subcommand)]
pub enum SecretsCmd {
    /// Every tracked secret with its last rotation and due date; exit 1 when one is overdue.
    Calendar {
        /// What counts as due soon, in days (0 to 3650).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::workspace::config::MAX_DAYS)))]
        days: u32,
    },
    /// Record that a secret was rotated (audited).
    Rotated {
        name: String,
        /// When (default: now): `2026-11-30` or an RFC 3339 time.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn state_text(d: Due) -> &'static str {
    match d {
        Due::Overdue => "OVERDUE",
        Due::Soon => "due soon",
        Due::Later => "ok",
        Due::Unknown => "UNKNOWN AGE",
    }
}

/// `2026-11-30` (the start of that day, UTC) or an RFC 3339 time.
fn parse_at(s: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(t) = s.trim().parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let bad = || anyhow::anyhow!("--at {s:?}: expected a date (2026-11-30) or an RFC 3339 time");
    let date: jiff::civil::Date = s.trim().parse().map_err(|_| bad())?;
    Ok(date
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map_err(|_| bad())?
        .timestamp())
}

pub fn run(cli: &Cli, cmd: &SecretsCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    let now = jiff::Timestamp::now();
    match cmd {
        SecretsCmd::Calendar { days } => {
            let cal = rotation::calendar(&ws, now, *days)?;
            if cli.json {
                cli.print_json(&cal)?;
            } else if cal.is_empty() {
                println!("no secrets tracked: add [[rotation]] entries to release-console.toml");
            }
            if !cli.json {
                for e in &cal {
                    let due = e.due.map_or_else(
                        || "never rotated here: record it with `secrets rotated`".to_owned(),
                        |d| format!("due {}", crate::local_time(d, false)),
                    );
                    let last = e.last_rotated.as_ref().map_or_else(String::new, |r| {
                        let which = if r.note.starts_with("Last") {
                            format!(" ({})", r.note)
                        } else {
                            String::new()
                        };
                        format!(
                            ", rotated {} by {}{which}",
                            crate::local_time(r.at, false),
                            r.by
                        )
                    });
                    let problem = e
                        .problem
                        .as_ref()
                        .map_or_else(String::new, |p| format!(" [cannot read: {p}]"));
                    let expires = e.expires.map_or_else(String::new, |x| {
                        format!(", expires {}", crate::local_time(x, false))
                    });
                    println!(
                        "{:<11} {} ({}, every {} days){last}{expires}: {due}{problem}",
                        state_text(e.state),
                        e.name,
                        e.kind.as_str(),
                        e.every_days
                    );
                }
            }
            let overdue = cal.iter().any(|e| e.state == Due::Overdue);
            Ok(if overdue {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        SecretsCmd::Rotated { name, at, note } => {
            let at = match at {
                Some(s) => parse_at(s)?,
                None => now,
            };
            let r = rotation::record(&ws, name, at, note)?;
            if cli.json {
                cli.print_json(&r)?;
            } else {
                println!(
                    "recorded: {name} rotated {} by {}",
                    crate::local_time(r.at, false),
                    r.by
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
