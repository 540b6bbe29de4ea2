//! Disaster-recovery runbooks run for real: a procedure's steps (see
//! [`crate::runbook::procedure`]) as named tasks with live output, each audited with its exact
//! command before it runs; destructive steps only after the operator typed their confirmation;
//! the recovery time objective measured from the first step. `runbook run` and the Runbooks
//! view both use these functions.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::runbook::procedure::{self, Procedure, Rendered};
use crate::runbook::{Runbook, RunbookError};
use crate::runner::{ProcessSpec, TaskContext, TaskError, TaskResult, TaskSpec};
use crate::workspace::Workspace;

/// How long one step may run before it fails.
pub const STEP_TIMEOUT: Duration = Duration::from_hours(1);

#[derive(Debug, thiserror::Error)]
pub enum DrError {
    #[error(transparent)]
    Runbook(#[from] RunbookError),
    /// Parameters missing or unknown.
    #[error("{0}")]
    Params(String),
    #[error("{procedure}: no step {step:?} (steps: {known})")]
    NoStep {
        procedure: String,
        step: String,
        known: String,
    },
    /// A destructive step without its typed confirmation.
    #[error("step {step:?} ({title}) is destructive: type {expected:?} to confirm it{got}")]
    NotConfirmed {
        step: String,
        title: String,
        expected: String,
        got: String,
    },
}

/// One runbook as `runbook list` shows it: a checklist or a procedure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    pub id: String,
    pub title: String,
    /// `checklist` or `procedure`.
    pub kind: &'static str,
    pub summary: String,
}

/// Every runbook the workspace has: the checklists and the procedures (built in, or the
/// workspace's own version of one).
pub fn list(ws: &Workspace) -> Result<Vec<Listed>, DrError> {
    let mut out = Vec::new();
    for (id, _, _) in crate::runbook::BUILTIN {
        let rb = Runbook::load(id, ws.root())?;
        let items: usize = rb.phases.iter().map(|p| p.items.len()).sum();
        out.push(Listed {
            summary: format!("{} phases, {items} items", rb.phases.len()),
            id: rb.id,
            title: rb.title,
            kind: "checklist",
        });
    }
    for (id, _, _) in procedure::BUILTIN {
        let p = Procedure::load(id, ws.root())?;
        let destructive = p.steps.iter().filter(|s| s.confirm.is_some()).count();
        out.push(Listed {
            summary: format!(
                "{} steps ({destructive} destructive), RTO {} min",
                p.steps.len(),
                p.rto_minutes
            ),
            id: p.id,
            title: p.title,
            kind: "procedure",
        });
    }
    Ok(out)
}

/// A procedure with its parameters filled in: exactly what would run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub procedure: String,
    pub title: String,
    pub rto_minutes: u64,
    pub values: BTreeMap<String, String>,
    pub steps: Vec<Rendered>,
}

impl Plan {
    /// The step `id`.
    pub fn step(&self, id: &str) -> Result<&Rendered, DrError> {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| DrError::NoStep {
                procedure: self.procedure.clone(),
                step: id.to_owned(),
                known: self
                    .steps
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The plan of procedure `id` with `given` parameters (defaults for the rest).
pub fn plan(ws: &Workspace, id: &str, given: &BTreeMap<String, String>) -> Result<Plan, DrError> {
    plan_of(&Procedure::load(id, ws.root())?, given)
}

/// The plan of a loaded procedure with `given` parameters.
pub fn plan_of(p: &Procedure, given: &BTreeMap<String, String>) -> Result<Plan, DrError> {
    let values = p.values(given).map_err(DrError::Params)?;
    Ok(Plan {
        steps: p.render(&values),
        procedure: p.id.clone(),
        title: p.title.clone(),
        rto_minutes: p.rto_minutes,
        values,
    })
}

/// Every procedure of the workspace (built in, or its own version of one).
pub fn procedures(ws: &Workspace) -> Result<Vec<Procedure>, DrError> {
    procedure::BUILTIN
        .iter()
        .map(|(id, _, _)| Ok(Procedure::load(id, ws.root())?))
        .collect()
}

/// Checks a destructive step's typed confirmation; a step that changes nothing needs none.
pub fn confirm(step: &Rendered, typed: Option<&str>) -> Result<(), DrError> {
    let Some(expected) = &step.confirm else {
        return Ok(());
    };
    match typed.map(str::trim) {
        Some(t) if t == expected => Ok(()),
        other => Err(DrError::NotConfirmed {
            step: step.id.clone(),
            title: step.title.clone(),
            expected: expected.clone(),
            got: other.map_or_else(String::new, |t| format!(" (typed {t:?})")),
        }),
    }
}

fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The task of one step: `runbook <procedure>: <step>`, its log in `logs/runbooks/`.
pub fn step_task_spec(ws: &Workspace, plan: &Plan, step: &Rendered) -> TaskSpec {
    let mut spec = ws.task_spec(
        &format!("runbook {}: {}", plan.procedure, step.id),
        &format!("runbook.{}", plan.procedure),
        None,
        STEP_TIMEOUT,
    );
    let stamp = Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    spec.log_file = Some(ws.root().join("logs").join("runbooks").join(format!(
        "{}-{}-{stamp}.log",
        file_part(&plan.procedure),
        file_part(&step.id)
    )));
    spec
}

/// How long the procedure has run since its first step, against its RTO.
pub fn rto_status(plan: &Plan, first_step: Timestamp, now: Timestamp) -> (Duration, bool) {
    let took = Duration::try_from(now.duration_since(first_step)).unwrap_or_default();
    (took, took < Duration::from_secs(plan.rto_minutes * 60))
}

/// Runs one step (after its confirmation was checked): audits the exact command, runs it with
/// its output in the task's log, and audits a failure. `first_step` is when the procedure's
/// first step started, for the RTO.
pub async fn run_step(
    ctx: TaskContext,
    ws: Workspace,
    plan: Plan,
    step: Rendered,
    run_id: String,
    first_step: Timestamp,
) -> TaskResult {
    let failed = |e: &dyn std::fmt::Display| TaskError::Failed(e.to_string());
    if let Some(why) = &step.skipped {
        return Ok(format!("skipped: {why}"));
    }
    let target = format!("{}/{}", plan.procedure, step.id);
    let command = step.command_line();
    let after = serde_json::json!({
        "run": run_id,
        "command": command,
        "params": plan.values,
        "confirmed": step.confirm,
    });
    {
        let (ws, target) = (ws.clone(), target.clone());
        tokio::task::spawn_blocking(move || {
            ws.record("runbook.step", &target, serde_json::Value::Null, after)
        })
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| TaskError::Failed(format!("not run: the audit log refused it: {e}")))?;
    }
    let (program, args) = step
        .argv
        .split_first()
        .ok_or_else(|| failed(&"no command"))?;
    let result = ctx
        .run_process(&ProcessSpec::new(program.clone()).args(args.iter().cloned()))
        .await;
    let (took, within) = rto_status(&plan, first_step, Timestamp::now());
    ctx.log_line(&format!(
        "RTO: {} since the first step, {} the {} min objective",
        crate::human_duration(took),
        if within { "within" } else { "OVER" },
        plan.rto_minutes
    ));
    if let Err(e) = &result {
        let error = std::io::Error::other(e.to_string());
        tokio::task::spawn_blocking(move || ws.record_failed("runbook.step", &target, &error))
            .await
            .map_err(|e| failed(&e))?;
    }
    result.map(|()| format!("{} done", step.title))
}
