//! The procedure runs the workspace has made, read back from the audit log for WireTuner's
//! quarterly review of its backup and restore drills: each step's end is an entry
//! ([`super::STEP_END_ACTION`]) with when the run's first step and the step itself started and
//! ended, how it ended, the parameters, and for a step that restores a snapshot the snapshot and
//! its age when the restore began. [`runs`] puts them together again as [`super::outcome`]
//! judges a run in the Runbooks view: a step run again sets aside what the steps after it did
//! before it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Outcome, Plan, STEP_END_ACTION};
use crate::audit::Event;
use crate::audit::event::{Pair, RunbookStep};
use crate::runbook::procedure::Procedure;
use crate::runner::TaskState;
use crate::workspace::{Workspace, WorkspaceError};

/// A snapshot a step restored, and how old it was when the restore began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its identifier, as the procedure's parameter named it.
    pub id: String,
    /// When it was taken, when that can be known: read from the time in its name
    /// ([`taken_at_from_name`]); `None`: unknown (a name without one).
    pub taken_at: Option<Timestamp>,
    /// Where `taken_at` comes from, for people (`"the time in its name (to the minute)"`).
    pub taken_at_from: Option<String>,
    /// The procedure's recovery point objective at the time.
    pub rpo_minutes: Option<u64>,
}

impl Snapshot {
    /// The snapshot `id`, its time read from its name when it has one.
    pub fn named(id: &str, rpo_minutes: Option<u64>) -> Self {
        let taken_at = taken_at_from_name(id);
        Snapshot {
            id: id.to_owned(),
            taken_at_from: taken_at.map(|_| "the time in its name (to the minute, UTC)".into()),
            taken_at,
            rpo_minutes,
        }
    }
}

/// When a snapshot named like RDS names its automated snapshots (`rds:<instance>-YYYY-MM-DD-HH-MM`,
/// the seed's `wiretuner-prod-2024-01-15-00-00`) was taken: the UTC minute in its name. A name
/// without one (a manual snapshot's own name) says nothing, and nothing is guessed.
pub fn taken_at_from_name(id: &str) -> Option<Timestamp> {
    let tail = id.get(id.len().checked_sub(16)?..)?;
    let before = id.get(..id.len() - 16)?;
    if !before.ends_with('-') && !before.ends_with(':') && !before.is_empty() {
        return None;
    }
    let b = tail.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let dashes = [4, 7, 10, 13].iter().all(|&i| b[i] == b'-');
    if !(dashes
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && digits(11..13)
        && digits(14..16))
    {
        return None;
    }
    let text = format!("{}T{}:{}:00Z", &tail[..10], &tail[11..13], &tail[14..16]);
    text.parse().ok()
}

/// One step's end, as its entry records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEnd {
    pub run: String,
    pub procedure: String,
    pub step: String,
    pub state: TaskState,
    /// When the run's first step started (the RTO clock's start).
    pub first_step: Timestamp,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub params: BTreeMap<String, String>,
    /// The stand-in that ran in the step's place, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stand_in: Option<String>,
    /// For a step that restores a snapshot: which, and when it was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// Set on the made-up history the demo workspace starts with, saying so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo_history: Option<String>,
}

/// Records a step's end (target `<procedure>/<step>`).
pub fn record_end(ws: &Workspace, end: &StepEnd) -> Result<(), WorkspaceError> {
    ws.record(Event::RunbookStepEnd(RunbookStep {
        target: Pair::new(&end.procedure, &end.step),
        before: (),
        after: serde_json::to_value(end).unwrap_or_default(),
    }))
}

/// The restore of a run: its snapshot, when the restore began, the age, and the RPO's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restore {
    pub snapshot: Snapshot,
    pub began_at: Timestamp,
    /// The snapshot's age when the restore began; `None` when its time is unknown.
    pub age_secs: Option<f64>,
    /// `Some(within)` when both the age and the RPO are known.
    pub within_rpo: Option<bool>,
}

/// One run of a procedure, put together from its steps' ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub run: String,
    pub procedure: String,
    pub title: String,
    pub first_step: Timestamp,
    /// The last step's end.
    pub last_end: Timestamp,
    /// The procedure's RTO (`None` when it is no longer known).
    pub rto_minutes: Option<u64>,
    /// How it ended, as the Runbooks view judges it (`None`: the procedure is no longer known,
    /// so which steps it has cannot be said).
    pub outcome: Option<Outcome>,
    /// The last restore of a snapshot in the run, if it restored one.
    pub restore: Option<Restore>,
    /// Its steps ran against stand-ins (`[dr] stand_ins`), not the real programs.
    pub stand_ins: bool,
    /// Made-up history of the demo workspace, saying so.
    pub demo_history: Option<String>,
}

impl Run {
    /// The measured duration of a run whose every step succeeded.
    pub fn took_secs(&self) -> Option<f64> {
        match &self.outcome {
            Some(Outcome::Finished { took, .. }) => Some(took.as_secs_f64()),
            _ => None,
        }
    }

    pub fn within_rto(&self) -> Option<bool> {
        self.outcome.as_ref().and_then(Outcome::within_rto)
    }
}

/// Every run whose first step started within `since..=until`, oldest first.
pub fn runs(ws: &Workspace, since: Timestamp, until: Timestamp) -> Result<Vec<Run>, String> {
    let log = ws.audit();
    let index = log.index().map_err(|e| e.to_string())?;
    let mut by_run: BTreeMap<String, Vec<StepEnd>> = BTreeMap::new();
    for i in index.with_action(STEP_END_ACTION) {
        let i = usize::try_from(i).unwrap_or(usize::MAX);
        for entry in log
            .read_range(&index, i..i.saturating_add(1))
            .map_err(|e| e.to_string())?
            .into_iter()
            .flatten()
        {
            // An entry this version cannot read is left out rather than guessed at.
            if let Event::RunbookStepEnd(e) = Event::from_entry(&entry)
                && let Ok(end) = serde_json::from_value::<StepEnd>(e.after)
            {
                by_run.entry(end.run.clone()).or_default().push(end);
            }
        }
    }
    let mut procedures: BTreeMap<String, Option<Procedure>> = BTreeMap::new();
    let mut out: Vec<Run> = by_run
        .into_values()
        .filter_map(|mut steps| {
            steps.sort_by_key(|s| s.started_at);
            let first = steps.first()?.clone();
            if first.first_step < since || first.first_step > until {
                return None;
            }
            let procedure = procedures
                .entry(first.procedure.clone())
                .or_insert_with(|| Procedure::load(&first.procedure, ws.root()).ok())
                .clone();
            Some(put_together(ws, procedure.as_ref(), &first, &steps))
        })
        .collect();
    out.sort_by_key(|r| r.first_step);
    Ok(out)
}

/// A run from its steps' ends (oldest first), judged against `procedure` when it is known.
fn put_together(
    ws: &Workspace,
    procedure: Option<&Procedure>,
    first: &StepEnd,
    steps: &[StepEnd],
) -> Run {
    let plan: Option<Plan> = procedure.and_then(|p| super::plan_of(ws, p, &first.params).ok());
    let order = |id: &str| {
        plan.as_ref()
            .and_then(|p| p.steps.iter().position(|s| s.id == id))
    };
    let mut ended: BTreeMap<String, TaskState> = BTreeMap::new();
    for s in steps {
        // Run again, a step sets aside what the steps after it did before it.
        if let Some(at) = order(&s.step) {
            ended.retain(|id, _| order(id).is_none_or(|o| o <= at));
        }
        ended.insert(s.step.clone(), s.state);
    }
    let last_end = steps
        .iter()
        .map(|s| s.ended_at)
        .max()
        .unwrap_or(first.first_step);
    let took = super::since_first_step(first.first_step, last_end);
    let restore = steps
        .iter()
        .rev()
        .find_map(|s| s.snapshot.as_ref().map(|snap| (s, snap)))
        .map(|(s, snap)| {
            let age_secs = snap
                .taken_at
                .map(|t| s.started_at.duration_since(t).as_secs_f64());
            Restore {
                within_rpo: age_secs
                    .zip(snap.rpo_minutes)
                    .map(|(age, rpo)| age < rpo as f64 * 60.0),
                age_secs,
                began_at: s.started_at,
                snapshot: snap.clone(),
            }
        });
    Run {
        run: first.run.clone(),
        procedure: first.procedure.clone(),
        title: procedure.map_or_else(|| first.procedure.clone(), |p| p.title.clone()),
        first_step: first.first_step,
        last_end,
        rto_minutes: procedure.map(|p| p.rto_minutes),
        outcome: plan.as_ref().map(|p| super::outcome(p, &ended, took)),
        restore,
        stand_ins: steps.iter().any(|s| s.stand_in.is_some()),
        demo_history: steps.iter().find_map(|s| s.demo_history.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_time_is_read_only_from_a_name_that_carries_one() {
        let t = |s: &str| taken_at_from_name(s).map(|t| t.to_string());
        assert_eq!(
            t("wiretuner-prod-2024-01-15-00-00").as_deref(),
            Some("2024-01-15T00:00:00Z")
        );
        assert_eq!(
            t("rds:wiretuner-prod-2026-11-03-06-15").as_deref(),
            Some("2026-11-03T06:15:00Z")
        );
        assert_eq!(
            t("2026-11-03-06-15").as_deref(),
            Some("2026-11-03T06:15:00Z")
        );
        // No time, a time glued to the name, an impossible date: unknown, never guessed.
        assert_eq!(t("wiretuner-prod-before-migration"), None);
        assert_eq!(t("prod2026-11-03-06-15"), None);
        assert_eq!(t("wiretuner-prod-2026-13-03-06-15"), None);
        assert_eq!(t("short"), None);
        assert_eq!(t("wiretuner-prod-2026-11-03-06-1é"), None);
    }
}
