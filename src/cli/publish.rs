//! `publish`: a release's installers, checksums and signatures to the store, then the feeds;
//! `publish status`; `publish yank`; `publish unskip`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{Cli, Echo};
use crate::deploy;
use crate::runner::TaskState;

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    #[command(subcommand)]
    action: Option<PublishAction>,
    /// The release to publish (default: the newest).
    #[arg(long)]
    version: Option<String>,
    /// Print every key, size and SHA-256, the gates and the feeds it would write; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The update channel (default: `[publish] channel`, e.g. `stable`).
    #[arg(long, global = true)]
    channel: Option<String>,
    /// A platform this release does not ship this time (`macos`, `windows`, `linux`; repeat
    /// for more): recorded on the release with --reason, audited, so the "installers" gate
    /// lets it publish without one. That platform's feeds are left as they were.
    #[arg(long = "skip-platform", value_name = "PLATFORM", requires = "reason")]
    skip_platform: Vec<String>,
    /// Why the platforms given with --skip-platform are not shipped this time.
    #[arg(long, requires = "skip_platform")]
    reason: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
enum PublishAction {
    /// What is live on the channel and what each feed points at.
    Status,
    /// Point the feeds and the page back to the previous version (the objects stay).
    Yank {
        #[arg(long)]
        version: String,
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a platform skip recorded with --skip-platform: the release ships that platform
    /// after all (the installers gate wants its installer again). Refused once published.
    Unskip {
        /// The release (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// The platform to ship after all (`macos`, `windows`, `linux`).
        #[arg(long)]
        platform: String,
    },
}

pub fn run(cli: &Cli, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    deploy::channel_name(&ws, args.channel.as_deref())?;
    match args.action {
        Some(PublishAction::Status) => {
            let s = cli
                .handle
                .block_on(deploy::status(&ws, args.channel.as_deref()))?;
            if cli.json {
                cli.print_json(&s)?;
            } else {
                println!("channel {} in {}", s.channel, s.store);
                println!("live: {}", s.live.as_deref().unwrap_or("nothing"));
                if let Some(b) = &s.begun {
                    println!("unfinished: {b}");
                }
                println!("published: {}", s.published.join(", "));
                for y in &s.yanked {
                    println!("yanked: {} by {}: {}", y.version, y.by, y.reason);
                }
                for (k, v) in &s.feeds {
                    let what = match v {
                        Some(v) => v.as_str(),
                        None if s.written.contains(k) => "no version (no installer for it)",
                        None => "nothing (not written)",
                    };
                    println!("{k} -> {what}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(PublishAction::Unskip { version, platform }) => {
            let release = ws.release(version.as_deref().or(args.version.as_deref()))?;
            let p = crate::workspace::config::Platform::parse(&platform).ok_or_else(|| {
                anyhow::anyhow!("--platform {platform:?}: not a platform (macos, windows or linux)")
            })?;
            let done = deploy::withdraw_skip(&ws, &release, p)?;
            if cli.json {
                cli.print_json(&done)?;
            } else {
                for l in done.lines() {
                    println!("{l}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(PublishAction::Yank { version, reason }) => {
            let yank = deploy::yank(&ws, &version, &reason, args.channel.as_deref());
            let keys = match cli.handle.block_on(yank) {
                Ok(keys) => keys,
                // A refused request (no reason, not live) is a usage error; a yank that could
                // not be carried out (the store, the feeds) failed as publishing does: exit 1.
                Err(e @ deploy::DeployError::Invalid(_)) => return Err(e.into()),
                Err(e) => {
                    super::report_error(&e.into());
                    return Ok(ExitCode::from(super::EXIT_CHECK_FAILED));
                }
            };
            if cli.json {
                cli.print_json(&keys)?;
            } else {
                println!("yanked {version}; rewrote {}", keys.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let release = ws.release(args.version.as_deref())?;
            let mut skips = deploy::SkipRequest {
                platforms: Vec::new(),
                reason: args.reason.clone().unwrap_or_default(),
            };
            for name in &args.skip_platform {
                let p = crate::workspace::config::Platform::parse(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--skip-platform {name:?}: not a platform (macos, windows or linux)"
                    )
                })?;
                if !skips.platforms.contains(&p) {
                    skips.platforms.push(p);
                }
            }
            if args.dry_run {
                if !skips.platforms.is_empty() {
                    anyhow::bail!(
                        "--skip-platform records a decision and --dry-run changes nothing: \
                         run the dry run without it (its installers gate shows what is missing)"
                    );
                }
                let plan = deploy::plan(&ws, &release, args.channel.as_deref())?;
                if cli.json {
                    cli.print_json(&plan)?;
                } else {
                    println!(
                        "dry run: publishing {} to {} ({})",
                        plan.version, plan.store, plan.channel
                    );
                    for g in &plan.gates {
                        println!("  gate {:<22} {:<9}  {}", g.gate, g.label(), g.reason);
                    }
                    if let Some(p) = &plan.problem {
                        println!("  nothing to upload: {p}");
                    }
                    for u in &plan.uploads {
                        println!(
                            "  {}  {} bytes  sha256 {}  ({})",
                            u.key, u.size, u.sha256, u.cache_control
                        );
                    }
                    for (key, body) in &plan.feeds {
                        println!("--- {key} ({})\n{body}", deploy::NO_CACHE);
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let spec = ws.task_spec(
                &format!("publish {}", release.version),
                deploy::TASK_KIND,
                Some(&release),
                deploy::TASK_TIMEOUT,
            );
            let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
            let work = {
                let (ws, release, slot) = (ws.clone(), release.clone(), slot.clone());
                let channel = args.channel.clone();
                move |ctx| deploy::run_task(ctx, ws, release, channel, skips, slot)
            };
            let (state, message) = super::run_one(cli, &ws, spec, work, Echo::Progress)?;
            let outcome = slot.lock().ok().and_then(|mut o| o.take());
            if cli.json {
                match &outcome {
                    Some(o) => cli.print_json(o)?,
                    None => cli.print_json(
                        &serde_json::json!({"state": state.as_str(), "error": message}),
                    )?,
                }
            } else if let Some(o) = &outcome {
                for (name, url) in &o.links {
                    println!("{name}: {url}");
                }
                println!("{message}");
            }
            if state == TaskState::Succeeded {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: {message}");
                Ok(ExitCode::from(1))
            }
        }
    }
}
