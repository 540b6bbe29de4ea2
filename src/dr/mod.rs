//! Disaster-recovery runbooks run for real: a procedure's steps (see
//! [`crate::runbook::procedure`]) as named tasks with live output, each audited with its exact
//! command before it runs; destructive steps only after the operator typed their confirmation;
//! the recovery time objective measured from the first step and judged only for a run whose
//! every step succeeded ([`outcome`]). A workspace with `[dr] stand_ins` (the demo's) runs each
//! step's program from that folder instead, never the real one, and says so wherever the step
//! shows. `runbook run` and the Runbooks view both use these functions.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::audit::event::{Pair, RunbookStep};
use crate::audit::{Action, Event};
use crate::runbook::procedure::{self, Procedure, Rendered};
use crate::runbook::{Runbook, RunbookError};
use crate::runner::{ProcessSpec, TaskContext, TaskError, TaskResult, TaskSpec, TaskState};
use crate::workspace::Workspace;

pub mod history;

/// The audit action of a step's end: when it started and ended, how, and for a restore the
/// snapshot's age ([`history`] reads the runs back from them).
pub const STEP_END_ACTION: &str = crate::audit::Action::RunbookStepEnd.as_str();

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
    let against = ws
        .config()
        .dr
        .stand_ins()
        .map(|f| format!(", against the stand-ins in {f}/ (no real command runs)"))
        .unwrap_or_default();
    for (id, _, _) in procedure::BUILTIN {
        let p = Procedure::load(id, ws.root())?;
        let destructive = p.steps.iter().filter(|s| s.confirm.is_some()).count();
        out.push(Listed {
            summary: format!(
                "{} steps ({destructive} destructive), RTO {} min{against}",
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
    /// The recovery point objective of a procedure that restores a snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_minutes: Option<u64>,
    pub values: BTreeMap<String, String>,
    pub steps: Vec<Rendered>,
    /// `[dr] stand_ins`: the folder whose programs run in place of the real ones, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stand_ins: Option<String>,
    /// The parameters with no value yet (a preview): the steps that use one show `{name}`
    /// and cannot run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// What runs in a step's place when the workspace sets `[dr] stand_ins`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandIn {
    /// The program the step names (`aws`), which is not run.
    pub program: String,
    /// The stand-in as configured: `<stand_ins>/<program>` (`dr-stand-ins/aws`).
    pub path: String,
}

impl Plan {
    /// What runs in `step`'s place, when this workspace runs its procedures against stand-ins.
    pub fn stand_in(&self, step: &Rendered) -> Option<StandIn> {
        let folder = self.stand_ins.as_deref()?;
        let argv0 = step.argv.first().map_or("", String::as_str);
        // A program named by path (`/usr/local/bin/aws`) has its stand-in under its file name.
        let program = std::path::Path::new(argv0)
            .file_name()
            .map_or_else(|| argv0.to_owned(), |n| n.to_string_lossy().into_owned());
        Some(StandIn {
            path: format!("{}/{program}", folder.trim_end_matches(['/', '\\'])),
            program,
        })
    }

    /// The parameters `step` needs that have no value yet (listing the snapshots needs no
    /// snapshot); empty when it can run.
    pub fn unset_for(&self, step: &Rendered) -> Vec<String> {
        self.missing
            .iter()
            .filter(|name| {
                let placeholder = format!("{{{name}}}");
                step.argv
                    .iter()
                    .chain(step.confirm.iter())
                    .any(|a| a.contains(&placeholder))
            })
            .cloned()
            .collect()
    }

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
    plan_of(ws, &Procedure::load(id, ws.root())?, given)
}

/// The plan of a loaded procedure with `given` parameters.
pub fn plan_of(
    ws: &Workspace,
    p: &Procedure,
    given: &BTreeMap<String, String>,
) -> Result<Plan, DrError> {
    let values = p.values(given).map_err(DrError::Params)?;
    Ok(plan_with(ws, p, values))
}

/// The plan of procedure `id` as far as `given` goes (`{name}` where a value is still to come,
/// [`Plan::missing`] naming them); refused for an unknown parameter or a value no step may run
/// with.
pub fn partial_plan(
    ws: &Workspace,
    id: &str,
    given: &BTreeMap<String, String>,
) -> Result<Plan, DrError> {
    let p = Procedure::load(id, ws.root())?;
    p.check_given(given).map_err(DrError::Params)?;
    Ok(plan_with(ws, &p, p.known_values(given)))
}

/// The plan as far as `given` goes, for a preview: every step with the values known so far
/// (`{name}` where one is missing), and why it cannot all run yet, if it cannot.
pub fn preview(
    ws: &Workspace,
    p: &Procedure,
    given: &BTreeMap<String, String>,
) -> (Plan, Option<DrError>) {
    match plan_of(ws, p, given) {
        Ok(plan) => (plan, None),
        Err(e) => (plan_with(ws, p, p.known_values(given)), Some(e)),
    }
}

fn plan_with(ws: &Workspace, p: &Procedure, values: BTreeMap<String, String>) -> Plan {
    Plan {
        missing: p
            .params
            .iter()
            .filter(|x| !values.contains_key(&x.name))
            .map(|x| x.name.clone())
            .collect(),
        steps: p.render(&values),
        procedure: p.id.clone(),
        title: p.title.clone(),
        rto_minutes: p.rto_minutes,
        rpo_minutes: p.rpo_minutes,
        values,
        stand_ins: ws.config().dr.stand_ins().map(str::to_owned),
    }
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

/// The task of one step: `runbook <procedure>: <step>` (with `(stand-in)` when a stand-in runs
/// in its place), its log in `logs/runbooks/`.
pub fn step_task_spec(ws: &Workspace, plan: &Plan, step: &Rendered) -> TaskSpec {
    let suffix = if plan.stand_in(step).is_some() {
        " (stand-in)"
    } else {
        ""
    };
    let mut spec = ws.task_spec(
        &format!("runbook {}: {}{suffix}", plan.procedure, step.id),
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

/// How long since the procedure's first step started.
pub fn since_first_step(first_step: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(first_step)).unwrap_or_default()
}

/// Where a run of a procedure stands. The RTO is judged only for a run in which every step
/// (but those its parameters skip) succeeded: a run that stopped, or has steps still to run,
/// has no verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// No step stopped, `done` of the `of` steps to run have succeeded.
    InProgress { done: usize, of: usize },
    /// Step `number` (from 1, as listed) ended `state` (failed or cancelled).
    Stopped {
        number: usize,
        step: String,
        title: String,
        state: TaskState,
    },
    /// Every step succeeded, `took` after the first one started.
    Finished {
        #[serde(rename = "took_secs", serialize_with = "secs")]
        took: Duration,
        rto_minutes: u64,
        within_rto: bool,
    },
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Where a run stands: `ended` holds how each step that ran ended (by step id; a step still
/// running or not run is absent), `took` the time since the first step started (to the last
/// step's end, once none runs).
pub fn outcome(plan: &Plan, ended: &BTreeMap<String, TaskState>, took: Duration) -> Outcome {
    let to_run: Vec<(usize, &Rendered)> = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.skipped.is_none())
        .collect();
    if let Some((i, step, state)) = to_run.iter().find_map(|(i, s)| {
        ended
            .get(&s.id)
            .filter(|st| **st != TaskState::Succeeded)
            .map(|st| (i, s, *st))
    }) {
        return Outcome::Stopped {
            number: i + 1,
            step: step.id.clone(),
            title: step.title.clone(),
            state,
        };
    }
    let done = to_run
        .iter()
        .filter(|(_, s)| ended.get(&s.id) == Some(&TaskState::Succeeded))
        .count();
    if done < to_run.len() {
        return Outcome::InProgress {
            done,
            of: to_run.len(),
        };
    }
    Outcome::Finished {
        took,
        rto_minutes: plan.rto_minutes,
        within_rto: took < Duration::from_secs(plan.rto_minutes * 60),
    }
}

impl Outcome {
    /// The RTO's verdict: `Some(within)` only for a run whose every step succeeded.
    pub fn within_rto(&self) -> Option<bool> {
        match self {
            Outcome::Finished { within_rto, .. } => Some(*within_rto),
            _ => None,
        }
    }

    /// One line, the same in the window and on the terminal: `FAILED at step 2 (restore); RTO
    /// not judged`, or the verdict of a run whose every step succeeded.
    pub fn summary(&self) -> String {
        match self {
            Outcome::InProgress { done, of } => format!(
                "{done} of {of} steps succeeded so far; RTO judged once every step has succeeded"
            ),
            Outcome::Stopped {
                number,
                step,
                state,
                ..
            } => format!(
                "{} at step {number} ({step}); RTO not judged",
                state.as_str().to_uppercase()
            ),
            Outcome::Finished {
                took,
                rto_minutes,
                within_rto,
            } => format!(
                "every step succeeded in {}: {} the RTO of {rto_minutes} min",
                crate::human_duration(*took),
                if *within_rto { "within" } else { "OVER" }
            ),
        }
    }
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
    let stand_in = plan.stand_in(&step);
    // With stand-ins set, the step runs its stand-in or nothing: never the real program.
    let program_path = match &stand_in {
        Some(s) => {
            let path = ws.root().join(&s.path);
            if !path.is_file() {
                return Err(TaskError::Failed(format!(
                    "not run: no stand-in {} for `{}` ({}; [dr] stand_ins is set in {}, so the \
                     real {} is never run)",
                    s.path,
                    s.program,
                    path.display(),
                    crate::workspace::CONFIG_FILE,
                    s.program
                )));
            }
            Some(path)
        }
        None => None,
    };
    // On a shared workspace, one console runs a procedure's step at a time: a second person
    // is told who is running it, before anything is recorded or run.
    let lease = {
        let (l_ws, what) = (ws.clone(), format!("runbook {}", plan.procedure));
        tokio::task::spawn_blocking(move || l_ws.lease(&what))
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e| TaskError::Failed(format!("not run: {e}")))?
    };
    lease.took_over().inspect(|words| ctx.log_line(words));
    let started_at = Timestamp::now();
    let after = serde_json::json!({
        "run": run_id,
        "first_step": first_step,
        "command": command,
        "params": plan.values,
        "confirmed": step.confirm,
        "stand_in": stand_in.as_ref().map(|s| &s.path),
    });
    {
        let (ws, target) = (ws.clone(), Pair::new(&plan.procedure, &step.id));
        tokio::task::spawn_blocking(move || {
            ws.record(Event::RunbookStep(RunbookStep {
                target,
                before: (),
                after,
            }))
        })
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| TaskError::Failed(format!("not run: the audit log refused it: {e}")))?;
    }
    let (program, args) = step
        .argv
        .split_first()
        .ok_or_else(|| failed(&"no command"))?;
    let run = match (&stand_in, &program_path) {
        (Some(s), Some(path)) => {
            ctx.log_line(&format!(
                "STAND-IN: {} runs in place of `{}`; the real {} is not run ([dr] stand_ins)",
                s.path, s.program, s.program
            ));
            path.display().to_string()
        }
        _ => program.clone(),
    };
    let mut result = ctx
        .run_process(&ProcessSpec::new(run).args(args.iter().cloned()))
        .await;
    if let Some(s) = &stand_in {
        result = result.map_err(|e| match e {
            TaskError::Exit { status, .. } => TaskError::Failed(format!(
                "the stand-in {} failed: {status} (the real {} was not run)",
                s.path, s.program
            )),
            TaskError::Spawn { cause, .. } => TaskError::Failed(format!(
                "cannot run the stand-in {}: {cause} (the real {} was not run)",
                s.path, s.program
            )),
            other => other,
        });
    }
    ctx.log_line(&format!(
        "RTO clock: {} since the first step; the {} min objective is judged once every step \
         has succeeded",
        crate::human_duration(since_first_step(first_step, Timestamp::now())),
        plan.rto_minutes
    ));
    let state = match &result {
        Ok(()) => TaskState::Succeeded,
        Err(TaskError::Cancelled) => TaskState::Cancelled,
        Err(_) => TaskState::Failed,
    };
    let end = history::StepEnd {
        run: run_id,
        procedure: plan.procedure.clone(),
        step: step.id.clone(),
        state,
        first_step,
        started_at,
        ended_at: Timestamp::now(),
        params: plan.values.clone(),
        stand_in: stand_in.as_ref().map(|s| s.path.clone()),
        snapshot: step
            .snapshot
            .as_deref()
            .map(|id| history::Snapshot::named(id, plan.rpo_minutes)),
        demo_history: None,
    };
    // The step's end is recorded for the quarterly review (the task's own end is recorded by
    // the task hook); a log that refuses it leaves the step as it ended, said in its log.
    let error = result
        .as_ref()
        .err()
        .map(|e| std::io::Error::other(e.to_string()));
    let recorded = tokio::task::spawn_blocking(move || {
        if let Some(error) = &error {
            ws.record_failed(Action::RunbookStep, &target, error);
        }
        history::record_end(&ws, &end)
    })
    .await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => ctx.log_line(&format!(
            "the audit log refused this step's end ({e}): the quarterly review will not count \
             this run"
        )),
        Err(e) => ctx.log_line(&format!("recording this step's end failed: {e}")),
    }
    result.map(|()| match &stand_in {
        Some(s) => format!(
            "{} done against the stand-in {} (the real {} was not run)",
            step.title, s.path, s.program
        ),
        None => format!("{} done", step.title),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(force: bool) -> Plan {
        let p = Procedure::parse(procedure::BUILTIN[1].2, "drain").expect("drain");
        let mut given = BTreeMap::new();
        given.insert("force".to_owned(), force.to_string());
        let values = p.values(&given).expect("values");
        Plan {
            steps: p.render(&values),
            procedure: p.id.clone(),
            title: p.title.clone(),
            rto_minutes: p.rto_minutes,
            rpo_minutes: p.rpo_minutes,
            values,
            stand_ins: None,
            missing: Vec::new(),
        }
    }

    fn ended(states: &[(&str, TaskState)]) -> BTreeMap<String, TaskState> {
        states.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn the_rto_is_judged_only_when_every_step_that_runs_has_succeeded() {
        let minute = Duration::from_mins(1);
        let forced = plan(true);
        // Nothing run yet, or one of two: the clock runs, no verdict.
        let o = outcome(&forced, &BTreeMap::new(), minute);
        assert_eq!(o, Outcome::InProgress { done: 0, of: 2 });
        assert_eq!(o.within_rto(), None);
        let o = outcome(
            &forced,
            &ended(&[("scale-down", TaskState::Succeeded)]),
            minute,
        );
        assert_eq!(o.within_rto(), None);
        assert!(o.summary().contains("1 of 2 steps succeeded"), "{o:?}");
        // The second step failed: no verdict, however quick it was.
        let o = outcome(
            &forced,
            &ended(&[
                ("scale-down", TaskState::Succeeded),
                ("flush-sessions", TaskState::Failed),
            ]),
            minute,
        );
        assert_eq!(o.within_rto(), None);
        assert_eq!(
            o.summary(),
            "FAILED at step 2 (flush-sessions); RTO not judged"
        );
        // A cancelled first step stops the run too, even with a later step succeeded.
        let o = outcome(
            &forced,
            &ended(&[
                ("scale-down", TaskState::Cancelled),
                ("flush-sessions", TaskState::Succeeded),
            ]),
            minute,
        );
        assert_eq!(
            o.summary(),
            "CANCELLED at step 1 (scale-down); RTO not judged"
        );
        // Every step succeeded: within, or over.
        let both = ended(&[
            ("scale-down", TaskState::Succeeded),
            ("flush-sessions", TaskState::Succeeded),
        ]);
        let o = outcome(&forced, &both, minute);
        assert_eq!(o.within_rto(), Some(true));
        assert_eq!(
            o.summary(),
            "every step succeeded in 1 min 00 s: within the RTO of 15 min"
        );
        let o = outcome(&forced, &both, 16 * minute);
        assert_eq!(o.within_rto(), Some(false));
        // A graceful drain skips the flush: the scale-down alone finishes it.
        let graceful = plan(false);
        let o = outcome(
            &graceful,
            &ended(&[("scale-down", TaskState::Succeeded)]),
            minute,
        );
        assert_eq!(o.within_rto(), Some(true));
    }

    #[test]
    fn a_stand_in_is_the_program_of_the_same_name_in_the_folder() {
        let mut p = plan(true);
        assert_eq!(p.stand_in(&p.steps[0]), None, "no [dr] stand_ins: none");
        p.stand_ins = Some("dr-stand-ins/".to_owned());
        let s = p.stand_in(&p.steps[1]).expect("stand-in");
        assert_eq!(s.program, "redis-cli");
        assert_eq!(s.path, "dr-stand-ins/redis-cli");
        // A program named by its path has its stand-in under its file name.
        p.steps[0].argv[0] = "/usr/local/bin/kubectl".to_owned();
        let s = p.stand_in(&p.steps[0]).expect("stand-in");
        assert_eq!(s.path, "dr-stand-ins/kubectl");
    }
}
