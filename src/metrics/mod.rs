//! The ops metrics of WireTuner's operations runbook, computed from the workspace's own history:
//! release frequency, incident MTTR per severity, deployment success rate and feature-flag
//! lifespan, each with its target and the records it came from. `metrics` and the Metrics panel
//! show the same figures.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::status::Severity;
use crate::status::incident;
use crate::workspace::{Release, ReleaseKind, Workspace, WorkspaceError};

/// Target: a release every two weeks.
pub const RELEASE_INTERVAL_TARGET_DAYS: f64 = 14.0;
/// Target: P1 incidents resolved within two hours.
pub const P1_MTTR_TARGET_HOURS: f64 = 2.0;
/// Target: more than 95% of releases without rollback, yank or hotfix.
pub const SUCCESS_RATE_TARGET: f64 = 0.95;
/// Audit actions that mark a release as not successful (besides a hotfix of it).
pub const FAILURE_ACTIONS: &[&str] = &["publish.yank", "deploy.rollback"];

/// The fewest records a metric is judged against its target from: one release at 100% says
/// nothing about a 95% target.
pub const MIN_RECORDS_TO_JUDGE: usize = 2;

/// A metric against its target, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Meets,
    Misses,
    /// Some records, fewer than [`MIN_RECORDS_TO_JUDGE`].
    TooFew(usize),
    NoData,
}

/// The verdict of a metric computed from `records` records.
pub fn verdict(meets: Option<bool>, records: usize) -> Verdict {
    match meets {
        Some(true) => Verdict::Meets,
        Some(false) => Verdict::Misses,
        None if records > 0 && records < MIN_RECORDS_TO_JUDGE => Verdict::TooFew(records),
        None => Verdict::NoData,
    }
}

/// `value` compared with the target, once there are enough records to judge.
fn judged(records: usize, meets: Option<bool>) -> Option<bool> {
    meets.filter(|_| records >= MIN_RECORDS_TO_JUDGE)
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
    Ok(Metrics {
        since,
        until: now,
        release_frequency: frequency(&releases, in_window),
        mttr: mttr(&incident::load(ws)?, in_window),
        mttr_source: "incidents detected in the window, from detection to resolution \
                      (status/incidents.json)"
            .to_owned(),
        deployment_success: success(ws, &releases, in_window)?,
        flag_lifespan: lifespan(ws, now, in_window)?,
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
        for i in index.with_action(action) {
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
            FAILURE_ACTIONS.join(" / ")
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
