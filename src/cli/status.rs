//! `status`: incidents on the status page with the flags of WireTuner's operations runbook
//! (`--action create|update|resolve`), plus `list`, `components`, `maintenance` and `postmortem`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use jiff::Timestamp;

use super::{Cli, EXIT_CHECK_FAILED};
use crate::human_duration;
use crate::status::incident::{self, CreateRequest, Incident};
use crate::status::{
    ComponentStatus, IncidentStatus, MaintenanceStatus, Provider, Resolution, Severity,
    StatusError, StatusPage,
};

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StatusArgs {
    #[command(subcommand)]
    pub sub: Option<StatusSub>,
    /// What to do: create an incident, post an update, or resolve it.
    #[arg(long, value_enum)]
    pub action: Option<Action>,
    /// investigating, identified, monitoring or resolved.
    #[arg(long)]
    pub status: Option<IncidentStatus>,
    /// An affected component (name as on the page); repeat for several.
    #[arg(long = "component")]
    pub components: Vec<String>,
    /// What users read on the status page.
    #[arg(long)]
    pub message: Option<String>,
    /// P0 (critical) to P3 (minor); sets impact, response target and escalation.
    #[arg(long, default_value = "P2")]
    pub severity: Severity,
    /// Incident title (default: the message's first line).
    #[arg(long)]
    pub name: Option<String>,
    /// The console's INC-... id or the status page's incident id.
    #[arg(long)]
    pub incident_id: Option<String>,
    /// With `--action resolve`: how it turned out (fixed, no-impact, false-alarm); the
    /// quarterly alert-fatigue review counts no-impact and false-alarm as false positives.
    #[arg(long)]
    pub resolution: Option<Resolution>,
    /// Status the components get (default from the severity; operational on resolve).
    #[arg(long)]
    pub component_status: Option<ComponentStatus>,
    /// When the problem was detected: RFC 3339, or an age like 10m / 2h (default: now).
    #[arg(long)]
    pub detected_at: Option<String>,
    /// Post without emailing/texting subscribers.
    #[arg(long)]
    pub no_notify: bool,
    /// Names this create (e.g. `$GITHUB_RUN_ID-api-outage`): running the command again with
    /// the same key finds the incident instead of creating a second one.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Action {
    Create,
    Update,
    Resolve,
}

#[derive(Debug, Clone, Subcommand)]
pub enum StatusSub {
    /// List incidents (open first) with response timers and postmortem due dates.
    List {
        /// Include resolved incidents.
        #[arg(long)]
        all: bool,
    },
    /// Components and their status on the page.
    Components,
    /// Schedule maintenance.
    Maintenance {
        #[arg(long)]
        name: String,
        #[arg(long)]
        message: String,
        /// Start, RFC 3339 (e.g. 2026-12-01T22:00:00Z).
        #[arg(long)]
        from: Timestamp,
        /// End, RFC 3339.
        #[arg(long)]
        until: Timestamp,
        #[arg(long = "component")]
        components: Vec<String>,
    },
    /// Maintenance scheduled or under way.
    Maintenances,
    /// Move scheduled maintenance on: `in_progress`, verifying, completed.
    MaintenanceUpdate {
        /// The status page's id of the maintenance (printed by `status maintenance`).
        #[arg(long)]
        incident_id: String,
        #[arg(long)]
        status: MaintenanceStatus,
        #[arg(long)]
        message: String,
    },
    /// Write the postmortem Markdown of an incident, pre-filled with its timeline.
    Postmortem {
        #[arg(long)]
        incident_id: String,
        /// Write to this file (default: stdout).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

fn need<'a, T>(v: Option<&'a T>, flag: &str, action: &str) -> anyhow::Result<&'a T> {
    v.ok_or_else(|| anyhow::anyhow!("--action {action} needs {flag}"))
}

pub fn run(cli: &Cli, mut args: StatusArgs) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    let quiet = cli.json;
    let notify: crate::status::Notify = Arc::new(move |line: &str| {
        if !quiet {
            eprintln!("  {line}");
        }
    });
    // Built only where a command talks to the page: `list` and `postmortem` read the
    // workspace and need no API key.
    let page = || Provider::from_workspace(&ws, notify.clone());
    let outcome = match (args.sub.take(), args.action) {
        (Some(sub), _) => sub_command(cli, &ws, page, sub),
        (None, None) => Err(anyhow::anyhow!(
            "say what to do: --action create|update|resolve, or list, components, maintenance, postmortem"
        )),
        (None, Some(action)) => page()
            .map_err(anyhow::Error::from)
            .and_then(|page| incident_action(cli, &ws, &page, action, &args)),
    };
    match outcome {
        Ok(code) => Ok(code),
        // Refused input is a usage error; anything the page said is a failed check.
        Err(e) => match e.downcast_ref::<StatusError>() {
            Some(StatusError::Invalid(_) | StatusError::Config(_)) | None => Err(e),
            Some(other) => {
                eprintln!("error: {other}");
                Ok(ExitCode::from(EXIT_CHECK_FAILED))
            }
        },
    }
}

fn incident_action(
    cli: &Cli,
    ws: &crate::workspace::Workspace,
    page: &Provider,
    action: Action,
    args: &StatusArgs,
) -> anyhow::Result<ExitCode> {
    let name = match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Resolve => "resolve",
    };
    let incident = match action {
        Action::Create => {
            if let Some(r) = args.resolution {
                anyhow::bail!(
                    "--resolution {r} says how a resolved incident turned out: give it with \
                     --action resolve"
                );
            }
            let status = *need(args.status.as_ref(), "--status", name)?;
            let message = need(args.message.as_ref(), "--message", name)?;
            let detected_at = args
                .detected_at
                .as_deref()
                .map(|d| super::parse_time_or_age("--detected-at", d, Timestamp::now()))
                .transpose()?;
            let req = CreateRequest {
                name: args.name.clone(),
                status,
                message: message.clone(),
                severity: args.severity,
                components: args.components.clone(),
                component_status: args.component_status,
                detected_at,
                deliver_notifications: !args.no_notify,
                idempotency_key: args.idempotency_key.clone(),
            };
            cli.handle
                .block_on(incident::create(ws, page, page.name(), &req))?
        }
        Action::Update | Action::Resolve => {
            let id = need(args.incident_id.as_ref(), "--incident-id", name)?;
            let message = need(args.message.as_ref(), "--message", name)?;
            let status = match (action, args.status) {
                (Action::Resolve, None | Some(IncidentStatus::Resolved)) => {
                    IncidentStatus::Resolved
                }
                (Action::Resolve, Some(other)) => anyhow::bail!(
                    "--action resolve takes --status resolved (got {other}); use --action update"
                ),
                (_, Some(IncidentStatus::Resolved)) => anyhow::bail!(
                    "--status resolved: use --action resolve, which also sets components back to operational"
                ),
                (_, Some(s)) => s,
                (_, None) => anyhow::bail!("--action update needs --status"),
            };
            cli.handle.block_on(incident::update(
                ws,
                page,
                id,
                (status, args.resolution),
                message,
                args.component_status,
            ))?
        }
    };
    if cli.json {
        cli.print_json(&incident)?;
    } else {
        println!("{}", incident.id);
        eprintln!(
            "{} {} on the {} status page ({}): {} [{}]",
            name_past(action),
            incident.id,
            incident.provider,
            incident.page_incident_id,
            incident.name,
            incident.status
        );
        if action == Action::Resolve
            && let Some(due) = incident.postmortem_due()
        {
            eprintln!(
                "postmortem due by {} (release-console status postmortem --incident-id {})",
                crate::local_time(due, false),
                incident.id
            );
        }
        if let Provider::Local(local) = page {
            eprintln!("page: {}", local.html_path().display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn name_past(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Resolve => "resolved",
    }
}

fn sub_command(
    cli: &Cli,
    ws: &crate::workspace::Workspace,
    page: impl Fn() -> Result<Provider, StatusError>,
    sub: StatusSub,
) -> anyhow::Result<ExitCode> {
    match sub {
        StatusSub::List { all } => {
            let mut incidents: Vec<Incident> = incident::load(ws)?
                .into_iter()
                .filter(|i| all || i.is_open())
                .collect();
            incidents.sort_by_key(|i| (!i.is_open(), std::cmp::Reverse(i.detected_at)));
            if cli.json {
                cli.print_json(&incidents)?;
                return Ok(ExitCode::SUCCESS);
            }
            if incidents.is_empty() {
                println!("no {}incidents", if all { "" } else { "open " });
            }
            let now = Timestamp::now();
            for i in &incidents {
                let response = match i.response_time() {
                    Some(d) => format!(
                        "responded in {}{}",
                        human_duration(d),
                        if i.response_breached(now) {
                            " (target missed)"
                        } else {
                            ""
                        }
                    ),
                    None => "no response yet".into(),
                };
                let extra = match i.postmortem_due() {
                    Some(due) if now < due => format!(
                        "; postmortem due in {}",
                        human_duration(
                            std::time::Duration::try_from(due.duration_since(now))
                                .unwrap_or_default()
                        )
                    ),
                    Some(_) => "; postmortem overdue".into(),
                    None => format!("; open for {}", human_duration(i.open_for(now))),
                };
                let status = match i.resolution {
                    Some(r) => format!("{} ({r})", i.status),
                    None => i.status.as_str().to_owned(),
                };
                println!(
                    "{}  {}  {status:<13} {}  [{}]  {response}{extra}",
                    i.id,
                    i.severity,
                    i.name,
                    i.components.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        StatusSub::Components => {
            let comps = cli.handle.block_on(page()?.components())?;
            if cli.json {
                cli.print_json(&comps)?;
            } else {
                for c in comps {
                    println!("{:<28} {:<22} {}", c.name, c.status, c.id);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StatusSub::Maintenance {
            name,
            message,
            from,
            until,
            components,
        } => {
            let asked = crate::status::Maintenance {
                name,
                message,
                from,
                until,
                components,
            };
            let posted =
                cli.handle
                    .block_on(incident::schedule_maintenance(ws, &page()?, &asked))?;
            if cli.json {
                cli.print_json(&posted)?;
            } else {
                println!("{}", posted.id);
            }
            Ok(ExitCode::SUCCESS)
        }
        StatusSub::Maintenances => {
            let list = cli.handle.block_on(page()?.maintenances())?;
            if cli.json {
                cli.print_json(&list)?;
            } else {
                for m in &list {
                    println!(
                        "{}  {:<12} {}  {} to {}",
                        m.id,
                        m.status,
                        m.name,
                        m.scheduled_for.as_deref().unwrap_or("?"),
                        m.scheduled_until.as_deref().unwrap_or("?")
                    );
                }
                if list.is_empty() {
                    println!("no maintenance scheduled");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StatusSub::MaintenanceUpdate {
            incident_id,
            status,
            message,
        } => {
            let posted = cli.handle.block_on(incident::update_maintenance(
                ws,
                &page()?,
                &incident_id,
                status,
                &message,
            ))?;
            if cli.json {
                cli.print_json(&posted)?;
            } else {
                println!("{} {}", posted.id, posted.status);
            }
            Ok(ExitCode::SUCCESS)
        }
        StatusSub::Postmortem { incident_id, out } => {
            let inc = incident::find(ws, &incident_id)?;
            match out {
                Some(path) => {
                    incident::write_postmortem(ws, &inc, &path)?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{}", incident::postmortem_markdown(ws, &inc)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
