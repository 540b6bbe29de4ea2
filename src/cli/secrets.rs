//! `secrets calendar|rotated`: the rotation calendar of the secrets the workspace relies on;
//! `secrets set|forget`: a secret's entry in the OS keyring (the value read from stdin, never
//! from the command line).

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
    /// Store a secret in the OS keyring (service release-console, account NAME), where the
    /// console looks when $NAME is not set. The value is read from stdin (one line, or all
    /// of a pipe), never from the command line: `printf %s "$KEY" | release-console secrets
    /// set STATUSPAGE_API_KEY`.
    Set {
        /// The environment variable name the configuration gives the secret.
        name: String,
    },
    /// Delete a secret's OS keyring entry (and on Linux the ones `secret-tool store` made).
    Forget { name: String },
}

/// The most a secret read from stdin may be.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// A keyring account name: an environment variable's name (what the configuration's `*_env`
/// keys hold), so that what was typed there is never a secret pasted in the wrong place.
fn account(name: &str) -> anyhow::Result<&str> {
    if crate::workspace::config::is_env_var_name(name) {
        Ok(name)
    } else {
        anyhow::bail!(
            "the name must be an environment variable's name (upper-case letters, digits and \
             `_`, not starting with a digit), as the configuration's `*_env` keys give it; \
             the argument is not shown in case it is the secret itself"
        )
    }
}

/// The secret on stdin: a terminal's one line, or a pipe's whole text, without the line end
/// that ends it; at most [`MAX_SECRET_BYTES`].
fn read_secret() -> anyhow::Result<crate::workspace::secrets::Secret> {
    use std::io::{IsTerminal as _, Read as _};
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        eprint!("value (it is shown as typed; pipe it in to keep it off the screen): ");
        stdin.read_line(&mut text)?;
    } else {
        let read = stdin
            .lock()
            .take(MAX_SECRET_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| anyhow::anyhow!("stdin: {e} (the value must be UTF-8 text)"))?;
        if read as u64 > MAX_SECRET_BYTES {
            anyhow::bail!(
                "stdin holds more than {MAX_SECRET_BYTES} bytes: that is no secret value"
            );
        }
    }
    let value = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    if value.trim().is_empty() {
        anyhow::bail!(
            "stdin held no value: pipe the secret in, e.g. `printf %s \"$KEY\" | release-console secrets set NAME`"
        );
    }
    let secret = crate::workspace::secrets::Secret::new(value.to_owned());
    crate::workspace::secrets::remember_for_redaction(secret.expose());
    Ok(secret)
}

/// `secrets set` and `secrets forget`: the OS keyring only, no workspace needed.
fn run_keyring(cli: &Cli, cmd: &SecretsCmd) -> anyhow::Result<Option<ExitCode>> {
    use crate::workspace::secrets::{KEYRING_SERVICE, keyring_forget, keyring_store};
    match cmd {
        SecretsCmd::Set { name } => {
            let name = account(name)?;
            let secret = read_secret()?;
            keyring_store(name, &secret)
                .map_err(|e| anyhow::anyhow!("cannot store {name} in the OS keyring: {e}"))?;
            if cli.json {
                cli.print_json(&serde_json::json!({
                    "stored": name, "service": KEYRING_SERVICE, "account": name
                }))?;
            } else {
                println!(
                    "stored {name} in the OS keyring (service {KEYRING_SERVICE:?}, account \
                     {name:?}); ${name} still wins when it is set"
                );
            }
            Ok(Some(ExitCode::SUCCESS))
        }
        SecretsCmd::Forget { name } => {
            let name = account(name)?;
            let deleted = keyring_forget(name)
                .map_err(|e| anyhow::anyhow!("cannot delete {name} from the OS keyring: {e}"))?;
            if cli.json {
                cli.print_json(&serde_json::json!({ "forgot": name, "entries": deleted }))?;
            } else if deleted == 0 {
                println!("the OS keyring has no entry for {name}");
            } else {
                println!(
                    "deleted {deleted} OS keyring entr{} for {name}",
                    if deleted == 1 { "y" } else { "ies" }
                );
            }
            Ok(Some(ExitCode::SUCCESS))
        }
        SecretsCmd::Calendar { .. } | SecretsCmd::Rotated { .. } => Ok(None),
    }
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
    if let Some(code) = run_keyring(cli, cmd)? {
        return Ok(code);
    }
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
        SecretsCmd::Set { .. } | SecretsCmd::Forget { .. } => Ok(ExitCode::SUCCESS),
    }
}
