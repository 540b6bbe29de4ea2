//! `runbook list|show|run`: the checklists and the disaster-recovery procedures; a procedure's
//! steps run as tasks with live output, destructive ones only after their typed confirmation.
//! A step that runs a stand-in (`[dr] stand_ins`) says so; the RTO is judged only when every
//! step succeeded.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Subcommand;

use super::{Cli, Echo};
use crate::dr::{self, Plan};
use crate::runner::{Runner, TaskState};

#[derive(Debug, Clone, Subcommand)]
pub enum RunbookCmd {
    /// Every runbook: the checklists and the procedures.
    List,
    /// A procedure's steps with its parameters filled in (the exact commands).
    Show {
        name: String,
        /// A parameter, `NAME=VALUE` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// Run a procedure's steps in order (or one step), each as a task with live output.
    Run {
        name: String,
        /// A parameter, `NAME=VALUE` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Print the exact commands and run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run only this step.
        #[arg(long)]
        step: Option<String>,
        /// The confirmation of the destructive steps (the instance or deployment name), for
        /// runs without a terminal; on a terminal each destructive step asks for it.
        #[arg(long, value_name = "TEXT")]
        confirm: Option<String>,
    },
}

fn parse_params(params: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--param {p:?}: expected NAME=VALUE"))
        })
        .collect()
}

fn print_plan(plan: &Plan) {
    println!(
        "{} ({}), RTO {} min",
        plan.title, plan.procedure, plan.rto_minutes
    );
    if let Some(folder) = &plan.stand_ins {
        println!(
            "STAND-INS: every step runs its program from {folder}/ ([dr] stand_ins), never the \
             real one"
        );
    }
    for (k, v) in &plan.values {
        println!("  {k} = {v}");
    }
    for k in &plan.missing {
        println!(
            "  {k} = (not given: --param {k}=VALUE; the steps that use {{{k}}} cannot run yet)"
        );
    }
    for (i, s) in plan.steps.iter().enumerate() {
        println!("{}. {} [{}]", i + 1, s.title, s.id);
        match &s.skipped {
            Some(why) => println!("   (skipped: {why})"),
            None => println!("   $ {}", s.command_line()),
        }
        if let (None, Some(stand_in)) = (&s.skipped, plan.stand_in(s)) {
            println!("   {}", stand_in_line(&stand_in));
        }
        if let Some(c) = &s.confirm {
            println!("   destructive: confirm by typing {c}");
        }
    }
}

fn stand_in_line(s: &dr::StandIn) -> String {
    format!(
        "stand-in: {} runs in its place; the real {} is not run",
        s.path, s.program
    )
}

/// The typed confirmation of `step`: `--confirm`, else asked on the terminal.
fn typed(step: &crate::runbook::procedure::Rendered, flag: Option<&str>) -> Option<String> {
    let expected = step.confirm.as_ref()?;
    if let Some(f) = flag {
        return Some(f.to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!(
        "{} is destructive:\n  $ {}\nType {expected} to run it: ",
        step.title,
        step.command_line()
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_owned())
}

pub fn run(cli: &Cli, cmd: RunbookCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    match cmd {
        RunbookCmd::List => {
            let all = dr::list(&ws)?;
            if cli.json {
                cli.print_json(&all)?;
            } else {
                for r in &all {
                    println!("{:<14} {:<10} {}: {}", r.id, r.kind, r.title, r.summary);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RunbookCmd::Show { name, params } => {
            // Shown as far as the parameters go: `{name}` where a value is still to come.
            let plan = dr::partial_plan(&ws, &name, &parse_params(&params)?)?;
            if cli.json {
                cli.print_json(&plan)?;
            } else {
                print_plan(&plan);
            }
            Ok(ExitCode::SUCCESS)
        }
        RunbookCmd::Run {
            name,
            params,
            dry_run,
            step,
            confirm,
        } => {
            let given = parse_params(&params)?;
            // One step runs once the parameters it uses have values (listing the snapshots
            // needs no snapshot); the whole procedure needs them all.
            let plan = match &step {
                Some(id) => {
                    let plan = dr::partial_plan(&ws, &name, &given)?;
                    let unset = plan.unset_for(plan.step(id)?);
                    if !unset.is_empty() {
                        // The whole plan's refusal names what is still to give.
                        return Err(dr::plan(&ws, &name, &given).err().map_or_else(
                            || anyhow::anyhow!("{name}: step {id} needs {}", unset.join(", ")),
                            Into::into,
                        ));
                    }
                    plan
                }
                None => dr::plan(&ws, &name, &given)?,
            };
            let steps: Vec<_> = match &step {
                Some(id) => vec![plan.step(id)?.clone()],
                None => plan.steps.clone(),
            };
            if dry_run {
                if cli.json {
                    cli.print_json(&plan)?;
                } else {
                    println!("dry run: nothing is run");
                    print_plan(&plan);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let runner = Runner::new(cli.handle.clone(), 1);
            runner.set_hook(Some(ws.task_hook()));
            let run_id = format!(
                "{}-{}",
                plan.procedure,
                jiff::Timestamp::now().as_millisecond()
            );
            let first = jiff::Timestamp::now();
            let mut results = Vec::new();
            let mut ended = BTreeMap::new();
            for s in steps {
                if let Some(why) = &s.skipped {
                    if !cli.json {
                        eprintln!("- {}: skipped ({why})", s.title);
                    }
                    results.push(
                        serde_json::json!({"step": s.id, "state": "skipped", "message": why}),
                    );
                    continue;
                }
                let answer = typed(&s, confirm.as_deref());
                if let Err(e) = dr::confirm(&s, answer.as_deref()) {
                    eprintln!("error: {e}; nothing more was run");
                    return Ok(ExitCode::from(2));
                }
                if !cli.json {
                    eprintln!("- {}\n  $ {}", s.title, s.command_line());
                    if let Some(stand_in) = plan.stand_in(&s) {
                        eprintln!("  {}", stand_in_line(&stand_in));
                    }
                }
                let spec = dr::step_task_spec(&ws, &plan, &s);
                let work = {
                    let (ws, plan, s, run_id) =
                        (ws.clone(), plan.clone(), s.clone(), run_id.clone());
                    move |ctx| dr::run_step(ctx, ws, plan, s, run_id, first)
                };
                let id = runner.start(spec, work)?;
                let (state, message) = super::follow(cli, &runner, id, Echo::Log);
                results.push(serde_json::json!({
                    "step": s.id, "state": state.as_str(), "message": message,
                    "stand_in": plan.stand_in(&s).map(|x| x.path),
                }));
                ended.insert(s.id.clone(), state);
                if state != TaskState::Succeeded {
                    if !cli.json {
                        eprintln!(
                            "{} {}: {message}; the steps after it were not run",
                            s.id,
                            state.as_str()
                        );
                    }
                    break;
                }
            }
            // Judged against the whole procedure: a run of one step (--step) or one that
            // stopped has no RTO verdict.
            let took = dr::since_first_step(first, jiff::Timestamp::now());
            let outcome = dr::outcome(&plan, &ended, took);
            if cli.json {
                cli.print_json(&serde_json::json!({
                    "run": run_id, "steps": results, "took_secs": took.as_secs_f64(),
                    "rto_minutes": plan.rto_minutes, "within_rto": outcome.within_rto(),
                    "result": outcome,
                }))?;
            } else {
                println!("{}: {}", plan.title, outcome.summary());
            }
            Ok(if matches!(outcome, dr::Outcome::Stopped { .. }) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
