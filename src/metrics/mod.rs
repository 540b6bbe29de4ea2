//! The ops metrics of WireTuner's operations runbook, computed from the workspace's own history:
//! release frequency, incident MTTR per severity, deployment success rate and feature-flag
//! lifespan, and what its quarterly reviews look at: backup and restore drills against their
//! RTO and RPO, the false-positive rate of pages, and flags past their retirement date. Each
//! with its target and the records it came from. `metrics` and the Metrics panel show the same
//! figures.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::audit::Action;
use crate::dr::history as drills;
use crate::status::incident;
use crate::status::{Resolution, Severity};
use crate::workspace::{Release, ReleaseKind, Workspace, WorkspaceError};

pub mod demo;

/// Target: a release every two weeks.
pub const RELEASE_INTERVAL_TARGET_DAYS: f64 = 14.0;
/// Target: P1 incidents resolved within two hours.
pub const P1_MTTR_TARGET_HOURS: f64 = 2.0;
/// Target: more than 95% of releases without rollback, yank or hotfix.
pub const SUCCESS_RATE_TARGET: f64 = 0.95;
/// Audit actions that mark a release as not successful (besides a hotfix of it).
pub const FAILURE_ACTIONS: &[Action] = &[Action::Yank, Action::DeployRollback];

/// The fewest records a metric is judged against its target from: one release at 100% says
/// nothing about a 95% target.
pub const MIN_RECORDS_TO_JUDGE: usize = 2;

/// Target of the alert-fatigue review: at most one page in five a false positive. WireTuner's
/// documentation names the review (false positive rates) but no figure; this one is the
/// console's, and says so where it shows.
pub const FALSE_POSITIVE_TARGET: f64 = 0.2;
/// The fewest incidents with a resolution the false-positive rate is judged from: a rate over
/// two pages says nothing about one page in five.
pub const MIN_PAGES_TO_JUDGE: usize = 5;

/// A metric against its target, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Meets,
    Misses,
    /// Some records, fewer than the `needed` ones it is judged from.
    TooFew {
        records: usize,
        needed: usize,
    },
    NoData,
}

/// The verdict of a metric computed from `records` records (judged from
/// [`MIN_RECORDS_TO_JUDGE`]).
pub fn verdict(meets: Option<bool>, records: usize) -> Verdict {
    verdict_from(meets, records, MIN_RECORDS_TO_JUDGE)
}

/// The verdict of a metric computed from `records` records, judged from `needed`.
pub fn verdict_from(meets: Option<bool>, records: usize, needed: usize) -> Verdict {
    match meets {
        Some(true) => Verdict::Meets,
        Some(false) => Verdict::Misses,
        None if records > 0 && records < needed => Verdict::TooFew { records, needed },
        None => Verdict::NoData,
    }
}

/// `value` compared with the target, once there are enough records to judge.
fn judged(records: usize, meets: Option<bool>) -> Option<bool> {
    judged_from(records, MIN_RECORDS_TO_JUDGE, meets)
}

fn judged_from(records: usize, needed: usize, meets: Option<bool>) -> Option<bool> {
    meets.filter(|_| records >= needed)
}

/// Release frequency over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frequency {
    /// Regular releases in the window, oldest first: version and creation time.
    pub releases: Vec<(String, Timestamp)>,
    /// Days between consecutive releases, one per release after the first.
    pub intervals_days: Vec<f64>,
    pub mean_interval_days: Option<f64>,
    pub target_days: f64,
    pub meets_target: Option<bool>,
    pub source: String,
}

/// Mean time to resolution of one severity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mttr {
    pub severity: Severity,
    /// Incidents of this severity resolved in the window.
    pub resolved: usize,
    /// Still open (not in the mean).
    pub open: usize,
    pub mean_hours: Option<f64>,
    pub target_hours: Option<f64>,
    pub meets_target: Option<bool>,
}

/// One release's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub version: String,
    pub created_at: Timestamp,
    /// Why it was not a success (a hotfix of it, a yank, a rollback), empty when it was.
    pub failures: Vec<String>,
}

/// Releases without rollback, yank or hotfix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Success {
    pub releases: Vec<Outcome>,
    pub rate: Option<f64>,
    pub target: f64,
    pub meets_target: Option<bool>,
    pub source: String,
}

/// Days from a flag's creation to its retirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lifespan {
    /// Flags archived in the window: key and days lived.
    pub retired: Vec<(String, f64)>,
    pub mean_days: Option<f64>,
    /// Live flags already older than the target: key and days so far.
    pub live_over_target: Vec<(String, f64)>,
    pub target_days: f64,
    pub meets_target: Option<bool>,
    pub source: String,
}

/// Backup and restore drills: every procedure run with its measured duration against its RTO,
/// and for a restore the snapshot's age when it began against the RPO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drills {
    /// Runs whose first step started in the window, oldest first.
    pub runs: Vec<drills::Run>,
    /// Runs whose every step succeeded (the RTO is judged for those only), and how many of
    /// them within it.
    pub rto_judged: usize,
    pub rto_within: usize,
    /// Restores whose snapshot's age is known, and how many within the RPO.
    pub rpo_judged: usize,
    pub rpo_within: usize,
    /// Restores whose snapshot's time is unknown (not judged).
    pub rpo_unknown: usize,
    /// Target: every judged run within its RTO, and every judged restore within its RPO.
    pub rto_meets_target: Option<bool>,
    pub rpo_meets_target: Option<bool>,
    pub min_records: usize,
    pub source: String,
}

/// One resolved incident as the alert-fatigue review reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub id: String,
    pub severity: Severity,
    pub name: String,
    pub resolved_at: Timestamp,
    /// `None`: resolved without saying how it turned out (not in the rate).
    pub resolution: Option<Resolution>,
    /// Its severity pages on-call (`[notify.pagerduty] page_on`).
    pub paged: bool,
}

/// Pages (incidents) resolved as no impact or false alarm, of those whose resolution was said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FalsePositives {
    /// Incidents detected in the window and resolved, oldest first.
    pub pages: Vec<Page>,
    /// Those with a resolution (the rate's records).
    pub with_resolution: usize,
    pub false_positives: usize,
    /// Of the false positives, those that paged on-call.
    pub paged_false_positives: usize,
    pub rate: Option<f64>,
    /// At most this share.
    pub target: f64,
    pub min_records: usize,
    pub meets_target: Option<bool>,
    pub source: String,
}

/// A live flag with a retirement date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetireDue {
    pub key: String,
    pub retire_by: Timestamp,
    /// Days since its retirement date (negative: days still to go).
    pub days_past: f64,
}

/// Flags past their retirement date (14 days at 100%, WireTuner's flag policy) and not yet
/// archived: technical debt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retirement {
    /// Live flags with a retirement date (at 100%), most overdue first.
    pub flags: Vec<RetireDue>,
    pub past_due: usize,
    pub retire_after_days: u64,
    /// Target: none past its date.
    pub meets_target: Option<bool>,
    pub source: String,
}

/// Every metric over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub since: Timestamp,
    pub until: Timestamp,
    pub release_frequency: Frequency,
    pub mttr: Vec<Mttr>,
    pub mttr_source: String,
    pub deployment_success: Success,
    pub flag_lifespan: Lifespan,
    pub drills: Drills,
    pub false_positives: FalsePositives,
    pub flag_retirement: Retirement,
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("incidents: {0}")]
    Incidents(crate::status::StatusError),
    #[error("flag plans: {0}")]
    Flags(crate::flags::FlagsError),
    #[error("audit log: {0}")]
    Audit(crate::audit::AuditError),
    #[error("procedure runs: {0}")]
    Drills(String),
}

// By hand, not `#[from]`: that would make the error its message names its `source()` too.
impl From<crate::status::StatusError> for MetricsError {
    fn from(e: crate::status::StatusError) -> Self {
        MetricsError::Incidents(e)
    }
}

impl From<crate::flags::FlagsError> for MetricsError {
    fn from(e: crate::flags::FlagsError) -> Self {
        MetricsError::Flags(e)
    }
}

impl From<crate::audit::AuditError> for MetricsError {
    fn from(e: crate::audit::AuditError) -> Self {
        MetricsError::Audit(e)
    }
}

fn days(d: jiff::SignedDuration) -> f64 {
    d.as_secs_f64() / 86_400.0
}

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

/// Parses `180d`, `12w`, `36h` (a window length).
pub fn parse_window(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let hours = match unit {
        "h" => n,
        "d" => n.checked_mul(24)?,
        "w" => n.checked_mul(24 * 7)?,
        _ => return None,
    };
    Some(Duration::from_secs(hours.checked_mul(3600)?))
}

/// The metrics of the `window` before `now`.
pub fn compute(ws: &Workspace, window: Duration, now: Timestamp) -> Result<Metrics, MetricsError> {
    let since = jiff::SignedDuration::try_from(window)
        .ok()
        .and_then(|w| now.checked_sub(w).ok())
        .unwrap_or(Timestamp::MIN);
    let releases = ws.releases()?;
    let in_window = |t: Timestamp| t >= since && t <= now;
    let incidents = incident::load(ws)?;
    Ok(Metrics {
        since,
        until: now,
        release_frequency: frequency(&releases, in_window),
        mttr: mttr(&incidents, in_window),
        mttr_source: "incidents detected in the window, from detection to resolution \
                      (status/incidents.json)"
            .to_owned(),
        deployment_success: success(ws, &releases, in_window)?,
        flag_lifespan: lifespan(ws, now, in_window)?,
        drills: drill_runs(drills::runs(ws, since, now).map_err(MetricsError::Drills)?),
        false_positives: false_positives(
            &incidents,
            ws.config()
                .notify
                .pagerduty
                .as_ref()
                .map(|p| p.page_on.as_slice()),
            in_window,
        ),
        flag_retirement: retirement(ws, now)?,
    })
}

/// `n` and the noun, `s` added unless `n` is one.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn drill_runs(runs: Vec<drills::Run>) -> Drills {
    let rto: Vec<bool> = runs.iter().filter_map(drills::Run::within_rto).collect();
    let restores: Vec<&drills::Restore> = runs.iter().filter_map(|r| r.restore.as_ref()).collect();
    let rpo: Vec<bool> = restores.iter().filter_map(|r| r.within_rpo).collect();
    let rto_within = rto.iter().filter(|w| **w).count();
    Drills {
        source: format!(
            "{} started in the window ({} audit entries: each step's start and end, the \
             snapshot a restore named, the time in its name)",
            count(runs.len(), "procedure run"),
            crate::dr::STEP_END_ACTION
        ),
        rto_judged: rto.len(),
        rto_within,
        rpo_judged: rpo.len(),
        rpo_within: rpo.iter().filter(|w| **w).count(),
        rpo_unknown: restores.len() - rpo.len(),
        rto_meets_target: judged(rto.len(), Some(rto_within == rto.len())),
        rpo_meets_target: judged(rpo.len(), Some(rpo.iter().all(|w| *w))),
        min_records: MIN_RECORDS_TO_JUDGE,
        runs,
    }
}

/// `page_on`: the severities that page (`None`: no `[notify.pagerduty]`, nothing pages).
fn false_positives(
    incidents: &[incident::Incident],
    page_on: Option<&[String]>,
    in_window: impl Fn(Timestamp) -> bool,
) -> FalsePositives {
    let pages = |s: Severity| page_on.is_some_and(|on| on.iter().any(|x| x == s.as_str()));
    let mut pages: Vec<Page> = incidents
        .iter()
        .filter(|i| in_window(i.detected_at))
        .filter_map(|i| {
            Some(Page {
                resolved_at: i.resolved_at?,
                id: i.id.clone(),
                severity: i.severity,
                name: i.name.clone(),
                resolution: i.resolution,
                paged: pages(i.severity),
            })
        })
        .collect();
    pages.sort_by_key(|p| p.resolved_at);
    let with_resolution = pages.iter().filter(|p| p.resolution.is_some()).count();
    let false_positives = pages
        .iter()
        .filter(|p| p.resolution.is_some_and(Resolution::is_false_positive))
        .count();
    let paged_false_positives = pages
        .iter()
        .filter(|p| p.paged && p.resolution.is_some_and(Resolution::is_false_positive))
        .count();
    let rate = (with_resolution > 0).then(|| false_positives as f64 / with_resolution as f64);
    let paging = match page_on {
        Some(on) if !on.is_empty() => format!("{} page on-call", on.join(", ")),
        _ => "no severity pages: no [notify.pagerduty]".to_owned(),
    };
    FalsePositives {
        source: format!(
            "{} detected in the window and resolved, {with_resolution} with a resolution \
             (status/incidents.json; {paging})",
            count(pages.len(), "incident")
        ),
        pages,
        with_resolution,
        false_positives,
        paged_false_positives,
        meets_target: judged_from(
            with_resolution,
            MIN_PAGES_TO_JUDGE,
            rate.map(|r| r <= FALSE_POSITIVE_TARGET),
        ),
        rate,
        target: FALSE_POSITIVE_TARGET,
        min_records: MIN_PAGES_TO_JUDGE,
    }
}

fn retirement(ws: &Workspace, now: Timestamp) -> Result<Retirement, MetricsError> {
    let cfg = &ws.config().flags;
    let plans = crate::flags::plan::load(ws)?;
    let mut flags: Vec<RetireDue> = plans
        .values()
        .filter(|p| p.archived_at.is_none())
        .filter_map(|p| {
            let retire_by = p.retire_by(cfg)?;
            Some(RetireDue {
                key: p.key.clone(),
                days_past: days(now.duration_since(retire_by)),
                retire_by,
            })
        })
        .collect();
    flags.sort_by(|a, b| b.days_past.total_cmp(&a.days_past));
    let past_due = flags.iter().filter(|f| f.days_past >= 0.0).count();
    Ok(Retirement {
        source: format!(
            "{} at 100% and not archived, of {} (flags/plans.json; a flag's date is {} days \
             after it reached 100%)",
            count(flags.len(), "live flag"),
            count(plans.len(), "rollout plan"),
            cfg.retire_after_days
        ),
        meets_target: judged(flags.len(), Some(past_due == 0)),
        flags,
        past_due,
        retire_after_days: cfg.retire_after_days,
    })
}

fn frequency(releases: &[Release], in_window: impl Fn(Timestamp) -> bool) -> Frequency {
    let mut regular: Vec<(String, Timestamp)> = releases
        .iter()
        .filter(|r| r.kind == ReleaseKind::Regular && in_window(r.created_at))
        .map(|r| (r.version.to_string(), r.created_at))
        .collect();
    regular.sort_by_key(|r| r.1);
    let intervals_days: Vec<f64> = regular
        .windows(2)
        .map(|w| days(w[1].1.duration_since(w[0].1)))
        .collect();
    let mean_interval_days = mean(intervals_days.iter().copied());
    Frequency {
        source: format!(
            "{} regular release{} created in the window (releases/*/release.json; hotfixes not \
             counted)",
            regular.len(),
            if regular.len() == 1 { "" } else { "s" }
        ),
        releases: regular,
        meets_target: judged(
            intervals_days.len(),
            mean_interval_days.map(|d| d <= RELEASE_INTERVAL_TARGET_DAYS),
        ),
        intervals_days,
        mean_interval_days,
        target_days: RELEASE_INTERVAL_TARGET_DAYS,
    }
}

fn mttr(incidents: &[incident::Incident], in_window: impl Fn(Timestamp) -> bool) -> Vec<Mttr> {
    [Severity::P0, Severity::P1, Severity::P2, Severity::P3]
        .into_iter()
        .map(|severity| {
            let of: Vec<_> = incidents
                .iter()
                .filter(|i| i.severity == severity && in_window(i.detected_at))
                .collect();
            let hours: Vec<f64> = of
                .iter()
                .filter_map(|i| {
                    i.resolved_at
                        .map(|r| days(r.duration_since(i.detected_at)) * 24.0)
                })
                .collect();
            let mean_hours = mean(hours.iter().copied());
            let target_hours = (severity == Severity::P1).then_some(P1_MTTR_TARGET_HOURS);
            Mttr {
                severity,
                resolved: hours.len(),
                open: of.iter().filter(|i| i.resolved_at.is_none()).count(),
                meets_target: judged(
                    hours.len(),
                    target_hours.and_then(|t| mean_hours.map(|m| m < t)),
                ),
                mean_hours,
                target_hours,
            }
        })
        .collect()
}

fn success(
    ws: &Workspace,
    releases: &[Release],
    in_window: impl Fn(Timestamp) -> bool,
) -> Result<Success, MetricsError> {
    // Yanks and rollbacks name their release in the audit entry's target (`1.4.0`, `1.4.0/...`).
    let log = ws.audit();
    let index = log.index()?;
    let mut marks: Vec<(String, String)> = Vec::new();
    let mut audited = 0;
    for action in FAILURE_ACTIONS {
        for i in index.with_action(action.as_str()) {
            let i = usize::try_from(i).unwrap_or(usize::MAX);
            for entry in log
                .read_range(&index, i..i.saturating_add(1))?
                .into_iter()
                .flatten()
            {
                audited += 1;
                marks.push((entry.target.clone(), format!("{action} by {}", entry.actor)));
            }
        }
    }
    let mut outcomes: Vec<Outcome> = releases
        .iter()
        .filter(|r| in_window(r.created_at))
        .map(|r| {
            let version = r.version.to_string();
            let mut failures: Vec<String> = releases
                .iter()
                .filter(|h| matches!(&h.kind, ReleaseKind::Hotfix { of } if *of == r.version))
                .map(|h| format!("hotfix {}", h.version))
                .collect();
            failures.extend(
                marks
                    .iter()
                    .filter(|(target, _)| {
                        target == &version || target.starts_with(&format!("{version}/"))
                    })
                    .map(|(_, what)| what.clone()),
            );
            Outcome {
                version,
                created_at: r.created_at,
                failures,
            }
        })
        .collect();
    outcomes.sort_by_key(|o| o.created_at);
    let total = outcomes.len();
    let good = outcomes.iter().filter(|o| o.failures.is_empty()).count();
    let rate = (total > 0).then(|| good as f64 / total as f64);
    Ok(Success {
        source: format!(
            "{total} release{} created in the window (releases/*/release.json), hotfixes of \
             them, and {audited} audit entries {}",
            if total == 1 { "" } else { "s" },
            FAILURE_ACTIONS
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        releases: outcomes,
        meets_target: judged(total, rate.map(|r| r > SUCCESS_RATE_TARGET)),
        rate,
        target: SUCCESS_RATE_TARGET,
    })
}

fn lifespan(
    ws: &Workspace,
    now: Timestamp,
    in_window: impl Fn(Timestamp) -> bool,
) -> Result<Lifespan, MetricsError> {
    let target_days = ws.config().flags.lifespan_target_days as f64;
    let plans = crate::flags::plan::load(ws)?;
    let mut retired: Vec<(String, f64)> = plans
        .values()
        .filter(|p| p.archived_at.is_some_and(&in_window))
        .map(|p| (p.key.clone(), p.lifespan_days(now)))
        .collect();
    retired.sort_by(|a, b| a.0.cmp(&b.0));
    let live_over_target = plans
        .values()
        .filter(|p| p.archived_at.is_none() && p.lifespan_days(now) > target_days)
        .map(|p| (p.key.clone(), p.lifespan_days(now)))
        .collect();
    let mean_days = mean(retired.iter().map(|r| r.1));
    Ok(Lifespan {
        source: format!(
            "{} flags archived in the window, of {} rollout plans (flags/plans.json)",
            retired.len(),
            plans.len()
        ),
        meets_target: judged(retired.len(), mean_days.map(|d| d < target_days)),
        retired,
        mean_days,
        live_over_target,
        target_days,
    })
}
