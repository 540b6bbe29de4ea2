//! `flags` (create, list, staged rollout, rollback, archive, retirement report) and `kpi`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::flags::plan;
use crate::flags::{FlagProvider, FlagsError, NewFlag, Provider};
use crate::human_duration;
use crate::kpi;
use crate::kpi::Gate;

#[derive(Debug, Clone, Subcommand)]
pub enum FlagsCmd {
    /// Flags with their rollout, stage, hold and KPI gate.
    List {
        /// Only flags with this tag (e.g. iteration:I5).
        #[arg(long)]
        tag: Option<String>,
    },
    /// Create a flag, OFF in every environment.
    Create {
        /// `{prefix}_{feature_name}`, e.g. `ui_new_exporter`.
        key: String,
        #[arg(long)]
        name: String,
        /// e.g. iteration:I5, team:frontend, type:release; repeat for several.
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Set the rollout percentage (going up needs the hold and a green gate, or --override).
    Rollout {
        key: String,
        #[arg(long)]
        percent: u32,
        /// Why the hold or the gate is overridden (audited).
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
        /// Another environment than the staged one ([flags] environment): set directly, with no
        /// plan or gate (e.g. staging).
        #[arg(long)]
        env: Option<String>,
    },
    /// Go to the next stage (10% -> 50% -> 100%).
    Advance {
        key: String,
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Turn the flag off (0%) at once.
    Rollback { key: String },
    /// Archive a retired flag.
    Archive { key: String },
    /// Flags at 100% for 14+ days, and every flag's lifespan.
    RetireReport,
    /// The provider's own record of changes to a flag (`LaunchDarkly` audit log, Unleash events).
    History { key: String },
    /// Check every flag before a release: naming, tags, OFF until its rollout (ticks
    /// "Review feature flags" when clean).
    Review,
}

#[derive(Debug, Clone, Args)]
pub struct KpiArgs {
    #[command(subcommand)]
    pub sub: Option<KpiSub>,
    /// The window to judge: an age like 2h or 30m (default 1h).
    #[arg(long, default_value = "1h")]
    pub since: String,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KpiSub {
    /// Record a sample for the local KPI source.
    Record {
        #[arg(long)]
        name: String,
        #[arg(long)]
        value: f64,
    },
}

/// Usage and configuration errors exit 2 (through the caller); what the provider or the
/// rollout refused exits 1.
fn outcome(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(c) => Ok(c),
        Err(e) => match e.downcast_ref::<FlagsError>() {
            None | Some(FlagsError::Invalid(_) | FlagsError::Config(_)) => Err(e),
            Some(_) => {
                super::report_error(&e);
                Ok(ExitCode::from(EXIT_CHECK_FAILED))
            }
        },
    }
}

pub fn run(cli: &Cli, cmd: FlagsCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    if let FlagsCmd::RetireReport = cmd {
        return outcome(retire_report(cli, &ws));
    }
    let provider = Provider::from_workspace(&ws)?;
    outcome(cli.handle.block_on(run_async(cli, &ws, &provider, cmd)))
}

async fn run_async(
    cli: &Cli,
    ws: &crate::workspace::Workspace,
    provider: &Provider,
    cmd: FlagsCmd,
) -> anyhow::Result<ExitCode> {
    let cfg = &ws.config().flags;
    let print = |state: &crate::flags::FlagState| -> anyhow::Result<()> {
        if cli.json {
            cli.print_json(state)?;
        } else {
            println!(
                "{}: {} in {} at {}%{}",
                state.key,
                if state.on { "on" } else { "off" },
                state.environment,
                state.rollout_percent,
                state
                    .version
                    .as_deref()
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default()
            );
        }
        Ok(())
    };
    match cmd {
        FlagsCmd::List { tag } => {
            let now = Timestamp::now();
            let mut rows = Vec::new();
            for row in crate::flags::rows(ws, provider)
                .await?
                .into_iter()
                .filter(|r| tag.as_ref().is_none_or(|t| r.state.tags.contains(t)))
            {
                let (f, p, gate) = (&row.state, row.plan.as_ref(), &row.gate);
                rows.push(serde_json::json!({
                    "flag": f,
                    "stage_since": p.map(plan::Plan::since),
                    "next_stage": p.and_then(|p| p.next_stage(cfg)),
                    "next_allowed_at": p.map(|p| p.next_allowed_at(cfg)),
                    "due_for_retirement": p.is_some_and(|p| p.due_for_retirement(cfg, now)),
                    "gate": gate,
                }));
                if !cli.json {
                    let stage = match p {
                        _ if f.archived => "archived".to_owned(),
                        Some(p) => match p.next_stage(cfg) {
                            Some(next) => format!(
                                "held {} at {}%, {}% allowed {}",
                                human_duration(p.held_for(now)),
                                p.percent(),
                                next,
                                if now >= p.next_allowed_at(cfg) {
                                    "now".to_owned()
                                } else {
                                    format!(
                                        "after {}",
                                        crate::local_time(p.next_allowed_at(cfg), false)
                                    )
                                }
                            ),
                            None if p.due_for_retirement(cfg, now) => {
                                "at 100%: due for retirement".into()
                            }
                            None => format!("at 100% for {}", human_duration(p.held_for(now))),
                        },
                        None => "no rollout plan (created outside the console)".into(),
                    };
                    let gate_text = match &gate {
                        Some(Gate::Green(_)) => " gate GREEN".to_owned(),
                        Some(Gate::Red(d)) => format!(" gate RED ({d})"),
                        Some(Gate::Unknown(d)) => format!(" gate UNKNOWN ({d})"),
                        None => String::new(),
                    };
                    println!(
                        "{:<32} {:<4} {:>3}%  {}  [{}]{}",
                        f.key,
                        if f.on { "on" } else { "off" },
                        f.rollout_percent,
                        stage,
                        f.tags.join(", "),
                        gate_text
                    );
                }
            }
            if cli.json {
                cli.print_json(&rows)?;
            } else if rows.is_empty() {
                println!(
                    "no flags yet: release-console flags create ui_new_exporter --name \"New exporter\""
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::Create {
            key,
            name,
            tags,
            description,
        } => {
            let state = plan::create(
                ws,
                provider,
                &NewFlag {
                    key,
                    name,
                    description,
                    tags,
                },
            )
            .await?;
            print(&state)?;
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::Rollout {
            key,
            percent,
            env: Some(env),
            ..
        } if env != cfg.environment => {
            let other = Provider::for_environment(ws, &env)?;
            let state = plan::rollout_unstaged(ws, &other, &key, percent, &env).await?;
            print(&state)?;
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::Rollout {
            key,
            percent,
            override_reason,
            ..
        } => {
            let gate = crate::flags::current_gate(ws, &key).await?;
            let state = plan::rollout(
                ws,
                provider,
                &key,
                Some(percent),
                &gate,
                override_reason.as_deref(),
            )
            .await?;
            print(&state)?;
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::Advance {
            key,
            override_reason,
        } => {
            let gate = crate::flags::current_gate(ws, &key).await?;
            let state =
                plan::rollout(ws, provider, &key, None, &gate, override_reason.as_deref()).await?;
            print(&state)?;
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::Rollback { key } => {
            let state = plan::rollout(
                ws,
                provider,
                &key,
                Some(0),
                &Gate::Unknown(String::new()),
                None,
            )
            .await?;
            print(&state)?;
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::Archive { key } => {
            let p = plan::archive(ws, provider, &key).await?;
            if cli.json {
                cli.print_json(&p)?;
            } else {
                println!(
                    "{key}: archived after {:.1} days",
                    p.lifespan_days(Timestamp::now())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::History { key } => {
            let entries = provider.history(&key).await?;
            if cli.json {
                cli.print_json(&entries)?;
            } else {
                for e in &entries {
                    println!("{}  {:<28} {}", e.at, e.who, e.what);
                }
                if entries.is_empty() {
                    println!("{key}: no recorded changes");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FlagsCmd::Review => {
            let problems = plan::review(ws, provider).await?;
            if cli.json {
                cli.print_json(&problems)?;
            } else if problems.is_empty() {
                println!("every flag is named, tagged and OFF until its rollout");
            } else {
                for p in &problems {
                    println!("FAIL {p}");
                }
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CHECK_FAILED)
            })
        }
        // Reads the plans only; handled in `run` without a provider.
        FlagsCmd::RetireReport => retire_report(cli, ws),
    }
}

/// `flags retire-report`: from the plans alone, so it needs no provider token.
fn retire_report(cli: &Cli, ws: &crate::workspace::Workspace) -> anyhow::Result<ExitCode> {
    let lines = plan::retire_report(ws, Timestamp::now())?;
    if cli.json {
        cli.print_json(&lines)?;
    } else {
        for l in &lines {
            println!(
                "{:<32} {:>3}%  lifespan {:>5.1} d{}{}{}",
                l.key,
                l.percent,
                l.lifespan_days,
                if l.within_target {
                    ""
                } else {
                    " (over target)"
                },
                if l.due_for_retirement {
                    "  RETIRE: at 100% for 14+ days"
                } else {
                    ""
                },
                if l.archived_at.is_some() {
                    "  archived"
                } else {
                    ""
                },
            );
        }
        if lines.is_empty() {
            println!("no flags have a rollout plan yet");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_kpi(cli: &Cli, args: KpiArgs) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    if let Some(KpiSub::Record { name, value }) = args.sub {
        if !ws.config().kpi.metrics.iter().any(|m| m.name == name) {
            anyhow::bail!(
                "KPI {name:?} is not configured; known: {}",
                ws.config()
                    .kpi
                    .metrics
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        kpi::local::LocalKpis::new(&ws).record(&name, value, Timestamp::now())?;
        return Ok(ExitCode::SUCCESS);
    }
    let since = super::parse_time_or_age("--since", &args.since, Timestamp::now())?;
    let (readings, gate) = cli.handle.block_on(kpi::evaluate(&ws, since));
    if cli.json {
        cli.print_json(&serde_json::json!({"gate": gate, "kpis": readings}))?;
    } else {
        for r in &readings {
            let verdict = match (r.ok, &r.error) {
                (_, Some(e)) => format!("ERROR {e}"),
                (Some(true), _) => "ok".into(),
                (Some(false), _) => "BREACHED".into(),
                (None, _) if r.def.threshold.is_none() => "info".into(),
                (None, _) => "no data".into(),
            };
            println!(
                "{:<24} now {:>10}  worst {:>10}  threshold {:>8} {}  {}{}",
                r.def.name,
                r.current.map_or("-".into(), |v| format!("{v:.3}")),
                r.worst.map_or("-".into(), |v| format!("{v:.3}")),
                r.def.threshold.map_or("-".into(), |v| format!("{v}")),
                r.def.unit,
                verdict,
                if r.def.gating { "  (gating)" } else { "" }
            );
            for a in &r.alarms {
                println!("{:<24}   alarm {}: {} {}", "", a.name, a.state, a.reason);
            }
            if let Some(e) = &r.alarm_error {
                println!("{:<24}   alarms: cannot read: {e}", "");
            }
        }
        println!(
            "gate: {}",
            match &gate {
                Gate::Green(d) => format!("GREEN ({d})"),
                Gate::Red(d) => format!("RED ({d})"),
                Gate::Unknown(d) => format!("UNKNOWN ({d})"),
            }
        );
    }
    Ok(if gate.is_green() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    })
}
