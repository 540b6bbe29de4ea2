//! The demo workspace's quarterly history: a few months of made-up drills, resolved incidents
//! and flag rollouts, so that every figure of the quarterly review has records to show in the
//! demo. Written once (the `demo.history` entry marks it), through the owning modules' import
//! functions, so the audit log speaks for every record (`audit verify` holds); each record says
//! it is made up. It lives here rather than in `demo`, which may not import `status`, `flags`
//! and `dr` (they are its peers).

use jiff::{SignedDuration, Timestamp};

use crate::dr::history::{Snapshot, StepEnd, record_end};
use crate::flags::plan::{self, Change, Plan};
use crate::runner::TaskState;
use crate::status::incident::{self, Incident, TimelineEntry};
use crate::status::{IncidentStatus, Resolution, Severity};
use crate::workspace::Workspace;

/// The audit action that marks the history as written.
pub const MARK_ACTION: &str = crate::audit::Action::DemoHistory.as_str();
const WHY: &str = "made-up history the demo workspace starts with: nothing of it happened";
const ACTOR: &str = "demo history";

fn minute_of(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() / 60 * 60).unwrap_or(t)
}

fn ago(now: Timestamp, days: i64, minutes: i64) -> Timestamp {
    minute_of(now) - SignedDuration::from_hours(24 * days) + SignedDuration::from_mins(minutes)
}

/// Adds the history to the demo workspace `ws` unless it has it; whether it was added now.
pub fn add(ws: &Workspace, now: Timestamp) -> Result<bool, String> {
    let index = ws.audit().index().map_err(|e| e.to_string())?;
    if !index.with_action(MARK_ACTION).is_empty() {
        return Ok(false);
    }
    let incidents = add_incidents(ws, now)?;
    let flags = add_flags(ws, now)?;
    let runs = add_drills(ws, now)?;
    ws.record(crate::audit::Event::DemoHistory(
        crate::audit::Event::values(
            "quarterly review",
            serde_json::Value::Null,
            serde_json::json!({
                "why": WHY,
                "incidents": incidents,
                "flags": flags,
                "procedure_runs": runs,
            }),
        ),
    ))
    .map_err(|e| e.to_string())?;
    Ok(true)
}

fn add_incidents(ws: &Workspace, now: Timestamp) -> Result<Vec<String>, String> {
    let existing = incident::load(ws).map_err(|e| e.to_string())?;
    // Detected (days ago), open for (minutes), severity, what, components, how it turned out.
    let made: [(i64, i64, Severity, &str, &str, Resolution); 6] = [
        (
            80,
            95,
            Severity::P1,
            "Collaboration sync delayed",
            "collaboration",
            Resolution::Fixed,
        ),
        (
            62,
            40,
            Severity::P2,
            "Export queue backlog",
            "import-export",
            Resolution::Fixed,
        ),
        (
            45,
            150,
            Severity::P1,
            "API error rate above 2%",
            "api",
            Resolution::Fixed,
        ),
        (
            30,
            20,
            Severity::P3,
            "Health checks flapping on one node",
            "api",
            Resolution::NoImpact,
        ),
        (
            12,
            70,
            Severity::P2,
            "Slow document loads in eu-west",
            "collaboration",
            Resolution::Fixed,
        ),
        (
            5,
            15,
            Severity::P1,
            "Download errors alarm",
            "desktop-downloads",
            Resolution::FalseAlarm,
        ),
    ];
    let mut ids = Vec::new();
    for (days, open_for, severity, name, component, resolution) in made {
        let detected = ago(now, days, 0);
        let created = detected + SignedDuration::from_mins(4);
        let resolved = detected + SignedDuration::from_mins(open_for);
        let id = format!("INC-{}-001", detected.strftime("%Y-%m-%d"));
        if existing.iter().any(|i| i.id == id) {
            continue;
        }
        let entry = |at, what: &str, status, message: &str| TimelineEntry {
            at,
            what: what.to_owned(),
            status,
            message: message.to_owned(),
            actor: ACTOR.to_owned(),
        };
        let inc = Incident {
            id: id.clone(),
            name: name.to_owned(),
            severity,
            components: vec![component.to_owned()],
            status: IncidentStatus::Resolved,
            provider: "local".to_owned(),
            page_incident_id: format!("demo-{id}"),
            shortlink: None,
            detected_at: detected,
            created_at: created,
            first_response_at: Some(created),
            resolved_at: Some(resolved),
            resolution: Some(resolution),
            timeline: vec![
                entry(detected, "detected", None, ""),
                entry(
                    created,
                    "created",
                    Some(IncidentStatus::Investigating),
                    &format!("Investigating: {name}."),
                ),
                entry(
                    resolved,
                    "resolved",
                    Some(IncidentStatus::Resolved),
                    &format!("Resolved ({resolution})."),
                ),
            ],
            idempotency_key: None,
            audit_seq: 0,
        };
        incident::import(ws, &inc, WHY).map_err(|e| e.to_string())?;
        ids.push(id);
    }
    Ok(ids)
}

/// A made-up flag: key, name, and its changes (days ago, what, percent).
type MadeFlag = (
    &'static str,
    &'static str,
    &'static [(i64, &'static str, u32)],
);

fn add_flags(ws: &Workspace, now: Timestamp) -> Result<Vec<String>, String> {
    let existing = plan::load(ws).map_err(|e| e.to_string())?;
    let made: [MadeFlag; 3] = [
        (
            "ui_new_exporter",
            "New exporter",
            &[
                (70, "create", 0),
                (68, "advance", 10),
                (66, "advance", 50),
                (60, "advance", 100),
            ],
        ),
        (
            "collab_presence_v2",
            "Presence indicators v2",
            &[
                (25, "create", 0),
                (20, "advance", 10),
                (15, "advance", 50),
                (10, "advance", 100),
            ],
        ),
        (
            "api_batch_import",
            "Batch import API",
            &[
                (50, "create", 0),
                (48, "advance", 10),
                (45, "advance", 50),
                (40, "advance", 100),
                (20, "archive", 100),
            ],
        ),
    ];
    let mut keys = Vec::new();
    for (key, name, changes) in made {
        if existing.contains_key(key) {
            continue;
        }
        let history: Vec<Change> = changes
            .iter()
            .map(|(days, what, percent)| Change {
                at: ago(now, *days, 0),
                what: (*what).to_owned(),
                percent: *percent,
                actor: ACTOR.to_owned(),
                override_reason: None,
            })
            .collect();
        let p = Plan {
            key: key.to_owned(),
            created_at: history.first().map_or(now, |c| c.at),
            archived_at: history.iter().find(|c| c.what == "archive").map(|c| c.at),
            history,
            audit_seq: 0,
        };
        plan::import(ws, &p, name, WHY).map_err(|e| e.to_string())?;
        keys.push(key.to_owned());
    }
    Ok(keys)
}

/// One made-up run: procedure, parameters, and its steps (id, started and ended in seconds after
/// the first step began).
struct MadeRun<'a> {
    days_ago: i64,
    procedure: &'a str,
    params: &'a [(&'a str, &'a str)],
    /// The snapshot restored, as minutes before the run began (named by its time), or a name
    /// without a time.
    snapshot: Option<Result<i64, &'a str>>,
    steps: &'a [(&'a str, i64, i64)],
}

fn add_drills(ws: &Workspace, now: Timestamp) -> Result<Vec<String>, String> {
    let runs = [
        MadeRun {
            days_ago: 75,
            procedure: "db-restore",
            params: &[],
            snapshot: Some(Ok(30)),
            steps: &[
                ("list-snapshots", 0, 20),
                ("restore", 120, 190),
                ("wait-available", 195, 700),
            ],
        },
        MadeRun {
            days_ago: 55,
            procedure: "collab-drain",
            params: &[("force", "true")],
            snapshot: None,
            steps: &[("scale-down", 0, 90), ("flush-sessions", 120, 130)],
        },
        MadeRun {
            days_ago: 40,
            procedure: "db-restore",
            params: &[],
            snapshot: Some(Ok(125)),
            steps: &[
                ("list-snapshots", 0, 25),
                ("restore", 180, 260),
                ("wait-available", 265, 1020),
            ],
        },
        MadeRun {
            days_ago: 10,
            procedure: "db-restore",
            params: &[],
            snapshot: Some(Err("wiretuner-prod-before-schema-v42")),
            steps: &[
                ("list-snapshots", 0, 15),
                ("restore", 90, 150),
                ("wait-available", 155, 780),
            ],
        },
    ];
    let mut ids = Vec::new();
    for r in runs {
        let first = ago(now, r.days_ago, 9 * 60);
        let snapshot_id = r.snapshot.map(|s| match s {
            Ok(minutes) => format!(
                "wiretuner-prod-{}",
                (first - SignedDuration::from_mins(minutes)).strftime("%Y-%m-%d-%H-%M")
            ),
            Err(name) => name.to_owned(),
        });
        let mut given: std::collections::BTreeMap<String, String> = r
            .params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if let Some(s) = &snapshot_id {
            given.insert("snapshot".to_owned(), s.clone());
        }
        let plan = crate::dr::plan(ws, r.procedure, &given).map_err(|e| e.to_string())?;
        let run = format!("{}-{}", r.procedure, first.as_millisecond());
        for (step, from, to) in r.steps {
            let rendered = plan.step(step).map_err(|e| e.to_string())?;
            record_end(
                ws,
                &StepEnd {
                    run: run.clone(),
                    procedure: r.procedure.to_owned(),
                    step: (*step).to_owned(),
                    state: TaskState::Succeeded,
                    first_step: first,
                    started_at: first + SignedDuration::from_secs(*from),
                    ended_at: first + SignedDuration::from_secs(*to),
                    params: plan.values.clone(),
                    stand_in: None,
                    snapshot: rendered
                        .snapshot
                        .as_deref()
                        .map(|id| Snapshot::named(id, plan.rpo_minutes)),
                    demo_history: Some(WHY.to_owned()),
                },
            )
            .map_err(|e| e.to_string())?;
        }
        ids.push(run);
    }
    Ok(ids)
}
