//! `release new|list|show|gates|hotfix|tag|notes`.

use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use crate::workspace::{Release, ReleaseKind, Workspace};
use crate::{gates, local_time, source};

#[derive(Debug, Clone, Subcommand)]
pub enum ReleaseCmd {
    /// Create a release (semver), or a hotfix of an earlier one. With `[source]`, a hotfix's
    /// branch is cut from the tag of the release it fixes.
    New {
        version: String,
        /// The release this hotfix fixes; the hotfix runbook is used.
        #[arg(long, value_name = "VERSION")]
        hotfix_of: Option<String>,
        /// Push the hotfix branch to `[source] remote` once it is cut.
        #[arg(long, requires = "hotfix_of")]
        push: bool,
    },
    /// List releases, oldest first.
    List,
    /// Show one release (default: the newest) with its checklist progress.
    Show { version: Option<String> },
    /// Every gate between a release (default: the newest) and publishing, open or blocked
    /// with the reason; exit 1 when any is blocked.
    Gates { version: Option<String> },
    /// A hotfix's commits since the tag (files, lines, what the fast-track review must look
    /// at), and whether each is on the main branch (ticks "Merge the fix back to main" when
    /// all are).
    Hotfix { version: Option<String> },
    /// Create the release's annotated tag at the commit its build recorded (else at its
    /// branch's head); refuses a tag that exists at another commit.
    Tag {
        version: String,
        /// Push the tag to `[source] remote` (also when it existed already).
        #[arg(long)]
        push: bool,
    },
    /// Draft the release notes from the commits since the previous release's tag.
    Notes {
        #[arg(long)]
        version: String,
        /// The tag to start after (default: the newest earlier release's tag).
        #[arg(long, value_name = "TAG")]
        from: Option<String>,
        /// Save them as releases/VERSION/notes.md (ticks "Draft release notes").
        #[arg(long)]
        write: bool,
    },
}

fn print_ticks(ticks: &source::Ticked) {
    for id in &ticks.ticked {
        println!("ticked {id}");
    }
    for g in &ticks.gated {
        println!("not ticked yet: {g}");
    }
}

fn new_hotfix(
    cli: &Cli,
    ws: &Workspace,
    version: &str,
    of: &str,
    push: bool,
) -> anyhow::Result<()> {
    let h = cli
        .handle
        .block_on(source::new_hotfix(ws, version, of, push))?;
    if cli.json {
        return cli.print_json(&h);
    }
    println!(
        "created {} {} (hotfix of {of}, runbook {:?})",
        ws.config().product.name,
        h.release.version,
        h.release.runbook
    );
    if h.existed {
        println!("branch {} already at {} ({})", h.branch, h.tag, h.commit);
    } else {
        println!("branched {} from {} at {}", h.branch, h.tag, h.commit);
    }
    print_ticks(&h.ticks);
    if let Some(remote) = &h.pushed {
        println!("pushed {} to {remote}", h.branch);
    }
    Ok(())
}

fn hotfix(cli: &Cli, ws: &Workspace, version: Option<&str>) -> anyhow::Result<ExitCode> {
    let r = ws.release(version)?;
    let review = cli.handle.block_on(source::review_hotfix(ws, &r))?;
    if cli.json {
        cli.print_json(&review)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "hotfix {}: {} since {} ({}), {} commit(s)",
        review.version,
        review.branch,
        review.tag,
        &review.base[..review.base.len().min(10)],
        review.commits.len()
    );
    for c in &review.commits {
        let main = if c.on_main { "on main" } else { "NOT on main" };
        println!(
            "  {} {}  ({} file(s), +{} -{}, {main})  {}",
            c.commit.short(),
            c.commit.subject,
            c.commit.files.len(),
            c.commit.files.iter().filter_map(|f| f.added).sum::<u64>(),
            c.commit.files.iter().filter_map(|f| f.deleted).sum::<u64>(),
            c.commit.author
        );
        for f in &c.commit.files {
            match (f.added, f.deleted) {
                (Some(a), Some(d)) => println!("      +{a:<5} -{d:<5} {}", f.path),
                _ => println!("      binary       {}", f.path),
            }
        }
    }
    let flagged: Vec<_> = review.flagged().collect();
    if flagged.is_empty() {
        println!("fast-track review: no commit flagged");
    } else {
        println!(
            "fast-track review must look at {} commit(s):",
            flagged.len()
        );
        for c in flagged {
            for why in &c.flags {
                println!("  {} {}: {why}", c.commit.short(), c.commit.subject);
            }
        }
    }
    if review.merged_back {
        println!("merged back: every commit is on {}", review.main);
    } else if review.commits.is_empty() {
        println!(
            "merged back: nothing to merge yet (no commits on {})",
            review.branch
        );
    } else {
        let missing = review.commits.iter().filter(|c| !c.on_main).count();
        println!(
            "not merged back: {missing} of {} commit(s) are not on {}",
            review.commits.len(),
            review.main
        );
    }
    print_ticks(&review.ticks);
    Ok(ExitCode::SUCCESS)
}

fn tag(cli: &Cli, ws: &Workspace, version: &str, push: bool) -> anyhow::Result<()> {
    let r = ws.release(Some(version))?;
    let t = cli.handle.block_on(source::tag_release(ws, &r, push))?;
    if cli.json {
        return cli.print_json(&t);
    }
    println!("{}", t.describe());
    Ok(())
}

fn notes(
    cli: &Cli,
    ws: &Workspace,
    version: &str,
    from: Option<&str>,
    write: bool,
) -> anyhow::Result<()> {
    let r = ws.release(Some(version))?;
    let draft = cli.handle.block_on(source::draft_notes(ws, &r, from))?;
    let ticks = if write {
        Some(source::save_notes(ws, &r, &draft.markdown)?)
    } else {
        None
    };
    if cli.json {
        return cli.print_json(&serde_json::json!({ "draft": draft, "saved": ticks }));
    }
    print!("{}", draft.markdown);
    if let Some(t) = ticks {
        eprintln!("saved {}", source::notes_path(ws, &r.version).display());
        for id in &t.ticked {
            eprintln!("ticked {id}");
        }
        for g in &t.gated {
            eprintln!("not ticked yet: {g}");
        }
    }
    Ok(())
}

fn kind_text(r: &Release) -> String {
    match &r.kind {
        ReleaseKind::Regular => "release".to_owned(),
        ReleaseKind::Hotfix { of } => format!("hotfix of {of}"),
    }
}

pub fn run(cli: &Cli, cmd: ReleaseCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    match cmd {
        ReleaseCmd::New {
            version,
            hotfix_of: Some(of),
            push,
        } if ws.config().source.is_some() => new_hotfix(cli, &ws, &version, &of, push)?,
        ReleaseCmd::New { push: true, .. } => return Err(source::SourceError::NotConfigured.into()),
        ReleaseCmd::New {
            version, hotfix_of, ..
        } => {
            let r = ws.create_release(&version, hotfix_of.as_deref())?;
            if cli.json {
                cli.print_json(&r)?;
            } else {
                println!(
                    "created {} {} ({}, runbook {:?})",
                    ws.config().product.name,
                    r.version,
                    kind_text(&r),
                    r.runbook
                );
            }
        }
        ReleaseCmd::List => {
            let all = ws.releases()?;
            if cli.json {
                cli.print_json(&all)?;
            } else if all.is_empty() {
                println!("no releases yet; create one with `release-console release new 0.1.0`");
            } else {
                for r in &all {
                    println!(
                        "{:<12} {:<20} created {} by {}",
                        r.version.to_string(),
                        kind_text(r),
                        local_time(r.created_at, false),
                        r.created_by
                    );
                }
            }
        }
        ReleaseCmd::Show { version } => {
            let r = ws.release(version.as_deref())?;
            let runbook = ws.runbook(&r)?;
            let checklist = ws.checklist(&r)?;
            let phases: Vec<_> = runbook
                .phases
                .iter()
                .map(|p| (p.id.clone(), p.title.clone(), checklist.progress(p)))
                .collect();
            if cli.json {
                cli.print_json(&serde_json::json!({
                    "release": r,
                    "phases": phases.iter().map(|(id, title, p)| serde_json::json!({
                        "id": id, "title": title, "done": p.done, "total": p.total
                    })).collect::<Vec<_>>(),
                }))?;
            } else {
                println!(
                    "{} {} ({})",
                    ws.config().product.name,
                    r.version,
                    kind_text(&r)
                );
                println!(
                    "created {} by {}",
                    local_time(r.created_at, false),
                    r.created_by
                );
                for (_, title, p) in &phases {
                    println!("  {title:<40} {}/{}", p.done, p.total);
                }
            }
        }
        ReleaseCmd::Gates { version } => {
            let r = ws.release(version.as_deref())?;
            let gates = gates::evaluate(&ws, &r, jiff::Timestamp::now());
            if cli.json {
                cli.print_json(&gates)?;
            } else {
                println!(
                    "{} {}: gates before publishing",
                    ws.config().product.name,
                    r.version
                );
                let width = gates.iter().map(|g| g.gate.len()).max().unwrap_or(0);
                for g in &gates {
                    println!("  {:<width$}  {:<9}  {}", g.gate, g.label(), g.reason);
                }
                let blocked = gates.iter().filter(|g| !g.is_open()).count();
                if blocked == 0 {
                    println!("all {} gates open", gates.len());
                } else {
                    println!("{blocked} of {} gates blocked", gates.len());
                }
            }
            if !gates::all_open(&gates) {
                return Ok(ExitCode::from(1));
            }
        }
        ReleaseCmd::Hotfix { version } => return hotfix(cli, &ws, version.as_deref()),
        ReleaseCmd::Tag { version, push } => tag(cli, &ws, &version, push)?,
        ReleaseCmd::Notes {
            version,
            from,
            write,
        } => notes(cli, &ws, &version, from.as_deref(), write)?,
    }
    Ok(ExitCode::SUCCESS)
}
