//! `findings import|list`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use crate::findings;

#[derive(Debug, Clone, Subcommand)]
pub enum FindingsCmd {
    /// Import scanner output (Trivy JSON, Grype JSON, SARIF 2.1.0 or `snyk test --json`, told by the content).
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Release version (default: the newest).
        #[arg(long)]
        version: Option<String>,
    },
    /// List a release's findings, most severe first, with what blocks the release.
    List {
        /// Release version (default: the newest).
        #[arg(long)]
        version: Option<String>,
    },
    /// Accept a finding's risk until a date, with a reason (audited).
    Accept {
        /// The vulnerability id, e.g. CVE-2019-14697.
        id: String,
        #[arg(long)]
        reason: String,
        /// A date (2027-01-31, the end of that day UTC) or an RFC 3339 time.
        #[arg(long)]
        until: String,
        /// Only this package's finding (default: every package with this id).
        #[arg(long)]
        package: Option<String>,
        #[arg(long)]
        version: Option<String>,
    },
    /// Withdraw an acceptance (audited): the finding blocks again.
    Revoke {
        id: String,
        #[arg(long)]
        package: Option<String>,
        #[arg(long)]
        version: Option<String>,
    },
}

pub fn run(cli: &Cli, cmd: &FindingsCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    match cmd {
        FindingsCmd::Import { files, version } => {
            let release = ws.release(version.as_deref())?;
            let done = findings::import(&ws, &release, files)?;
            if cli.json {
                cli.print_json(&done)?;
            } else {
                for (file, format, n) in &done.files {
                    println!("{file}: {n} findings ({})", format.name());
                }
                println!(
                    "{}: {} new, {} in all, {} blocking the release",
                    done.version, done.new, done.total, done.blocking
                );
            }
        }
        FindingsCmd::List { version } => {
            let release = ws.release(version.as_deref())?;
            let all = findings::judge(&ws, &release, jiff::Timestamp::now())?;
            if cli.json {
                cli.print_json(&all)?;
            } else if all.is_empty() {
                println!("{}: no findings", release.version);
            } else {
                for j in &all {
                    let f = &j.finding;
                    let state = match (&j.blocks, &j.acceptance) {
                        (Some(_), _) => "BLOCKS".to_owned(),
                        (None, Some(a)) if a.until > jiff::Timestamp::now() => format!(
                            "accepted until {} by {}: {}",
                            crate::local_time(a.until, false),
                            a.by,
                            a.reason
                        ),
                        _ => String::new(),
                    };
                    println!(
                        "{:<8} {:<20} {:<28} {:<16} fixed in {:<12} {state}{}",
                        f.severity.as_str(),
                        f.id,
                        f.package,
                        f.installed,
                        f.fixed.as_deref().unwrap_or("(no fix)"),
                        f.suppressed
                            .as_deref()
                            .map(|s| format!("  [suppressed by the scanner: {s}]"))
                            .unwrap_or_default()
                    );
                }
                let blocking = all.iter().filter(|j| j.blocks.is_some()).count();
                println!(
                    "{}: {} findings, {blocking} blocking the release",
                    release.version,
                    all.len()
                );
            }
        }
        FindingsCmd::Accept {
            id,
            reason,
            until,
            package,
            version,
        } => {
            let release = ws.release(version.as_deref())?;
            let until = findings::parse_until(until)?;
            let a = findings::accept(&ws, &release, id, package.as_deref(), reason, until)?;
            if cli.json {
                cli.print_json(&a)?;
            } else {
                println!(
                    "{id} accepted until {} by {}",
                    crate::local_time(a.until, false),
                    a.by
                );
            }
        }
        FindingsCmd::Revoke {
            id,
            package,
            version,
        } => {
            let release = ws.release(version.as_deref())?;
            let n = findings::revoke(&ws, &release, id, package.as_deref())?;
            println!("{id}: {n} acceptance(s) revoked; it blocks again if its severity does");
        }
    }
    Ok(ExitCode::SUCCESS)
}
