//! `verify PATH...`: checksums and signatures, exit 0 only when everything is green.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::runner::Runner;
use crate::verify::{self, Overall, Report};
use crate::workspace::{self, Workspace};

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Artifacts: files or folders (default with --release: that release's artifacts folder,
    /// whose files a shared workspace's build stored are fetched first).
    #[arg(required_unless_present = "release")]
    pub paths: Vec<PathBuf>,
    /// The SHA256SUMS to check against (default: SHA256SUMS in the folder given).
    #[arg(long, value_name = "FILE")]
    pub sums: Option<PathBuf>,
    /// Write a SHA256SUMS of the artifacts to FILE.
    #[arg(long, value_name = "FILE")]
    pub write_sums: Option<PathBuf>,
    /// Write NAME.sha256 next to each artifact.
    #[arg(long)]
    pub write_per_file: bool,
    /// Expected Windows publisher (certificate subject CN); overrides [signing].
    #[arg(long, value_name = "SUBJECT")]
    pub expect_publisher: Option<String>,
    /// Expected Apple Team ID; overrides [signing].
    #[arg(long, value_name = "ID")]
    pub expect_team_id: Option<String>,
    /// Certificates (PEM) trusted besides Windows' pinned code-signing roots; overrides
    /// [signing] `ca_file`.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The release whose checklist a pass ticks (default: the newest).
    #[arg(long)]
    pub release: Option<String>,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(cli: &Cli, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    // A workspace found on purpose brings its [signing] identity, audit log and checklist; the
    // demo workspace never stands in for a real one here.
    let ws = match workspace::find(cli.workspace_flag.as_deref()) {
        Some((root, _)) => Some(Workspace::open(&root)?),
        None => None,
    };
    // A shared workspace's entries adopted on opening are rolled forward (the files a build
    // stored in the bucket among them, which the verification of a release fetches).
    if let Some(w) = &ws
        && let Err(e) = w.recover_with(crate::projections::ALL)
    {
        eprintln!("warning: crash recovery: {e}");
    }
    let mut expected = ws
        .as_ref()
        .map(crate::verify::Expected::from_workspace)
        .unwrap_or_default();
    if let Some(p) = args.expect_publisher {
        expected.windows_publisher = Some(p);
    }
    if let Some(t) = args.expect_team_id {
        expected.apple_team_id = Some(t);
    }
    if let Some(ca) = args.ca_file {
        expected.ca_file = Some(ca);
    }
    let release = match &ws {
        Some(w) => w.release(args.release.as_deref()).ok(),
        None => None,
    };
    let paths = match (&ws, &release) {
        (_, _) if !args.paths.is_empty() => args.paths,
        (Some(w), Some(r)) => vec![w.artifacts_dir(&r.version)],
        _ => anyhow::bail!(
            "name the artifacts to verify (no workspace with release {} here)",
            args.release.as_deref().unwrap_or("?")
        ),
    };
    let opts = verify::Options {
        paths,
        sums: args.sums,
        write_sums: args.write_sums,
        write_per_file: args.write_per_file,
        expected,
        threads: args.threads,
    };

    let runner = Runner::new(cli.handle.clone(), 1);
    if let Some(w) = &ws {
        runner.set_hook(Some(w.task_hook()));
    }
    let (id, report_slot) = verify::start(&runner, ws.clone(), release.as_ref(), opts)?;

    let final_state = super::follow(cli, &runner, id, super::Echo::Steps);
    let report = report_slot.lock().ok().and_then(|mut r| r.take());
    let Some(report) = report else {
        anyhow::bail!("verification did not complete: {}", final_state.1);
    };
    if cli.json {
        cli.print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.overall == Overall::Pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    })
}

fn print_report(report: &Report) {
    for a in &report.artifacts {
        let mark = if a.is_green() { "ok  " } else { "FAIL" };
        println!(
            "{mark} {:<40} checksum {:<9} signature {:<17} {}",
            a.path,
            a.checksum.as_str(),
            a.signature.as_str(),
            a.detail
        );
        if let (Some(want), Some(got)) = (&a.expected_sha256, &a.sha256)
            && want != got
        {
            println!("     expected {want}\n     actual   {got}");
        }
    }
    for b in &report.bad_lines {
        println!("FAIL {}: {} ({:?})", b.place(), b.reason, b.text);
    }
    for w in &report.written {
        println!("wrote {}", w.display());
    }
    let verdict = if report.overall == Overall::Pass {
        "PASS"
    } else {
        "FAIL"
    };
    println!("{verdict}: {}", report.summary());
}
