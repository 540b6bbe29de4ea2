//! `findings import|list`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use crate::findings;

#[derive(Debug, Subcommand)]
pub enum FindingsCmd {
    /// Import scanner output (Trivy JSON, Grype JSON or SARIF 2.1.0, told by the content).
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Release version (default: the newest).
        #[arg(long)]
        version: Option<String>,
    },
    /// List a release's findings, most severe first.
    List {
        /// Release version (default: the newest).
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
                    println!("{file}: {n} findings ({format:?})");
                }
                println!("{}: {} new, {} in all", done.version, done.new, done.total);
            }
        }
        FindingsCmd::List { version } => {
            let release = ws.release(version.as_deref())?;
            let all = findings::list(&ws, &release)?;
            if cli.json {
                cli.print_json(&all)?;
            } else if all.is_empty() {
                println!("{}: no findings", release.version);
            } else {
                for f in &all {
                    println!(
                        "{:<8} {:<20} {:<28} {:<16} fixed in {}{}",
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
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
