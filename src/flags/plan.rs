//! Rollout plans (`flags/plans.json` in the workspace): per flag the stages (10% -> 50% -> 100%
//! by default), the history of every change (who, when, percent, override reason), how long the
//! current stage has held, when the next one is allowed, and retirement. The workflow functions
//! change the provider first and record after; every change is audited with before and after.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{FlagProvider, FlagState, FlagsError, NewFlag, check_key, check_tags};
use crate::kpi::Gate;
use crate::store;
use crate::workspace::Workspace;
use crate::workspace::config::FlagsConfig;

/// One change of a flag's rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub at: Timestamp,
    /// `create`, `advance`, `rollout`, `rollback`, `archive`.
    pub what: String,
    pub percent: u32,
    pub actor: String,
    /// Why the hold or the gate was overridden.
    pub override_reason: Option<String>,
}

/// A flag's staged rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub key: String,
    pub created_at: Timestamp,
    pub history: Vec<Change>,
    pub archived_at: Option<Timestamp>,
}

impl Plan {
    pub fn percent(&self) -> u32 {
        self.history.last().map_or(0, |c| c.percent)
    }

    /// When the current percentage was set.
    pub fn since(&self) -> Timestamp {
        self.history.last().map_or(self.created_at, |c| c.at)
    }

    /// The stage after the current percentage, if any.
    pub fn next_stage(&self, cfg: &FlagsConfig) -> Option<u32> {
        cfg.stages.iter().copied().find(|s| *s > self.percent())
    }

    /// The minimum hold of the current stage (none before the first stage).
    pub fn min_hold(&self, cfg: &FlagsConfig) -> Duration {
        let idx = cfg.stages.iter().position(|s| *s == self.percent());
        let hours = idx
            .and_then(|i| cfg.min_hold_hours.get(i))
            .copied()
            .unwrap_or(0);
        Duration::from_secs(hours.saturating_mul(3600))
    }

    /// When the next stage is allowed (the hold elapsed).
    pub fn next_allowed_at(&self, cfg: &FlagsConfig) -> Timestamp {
        self.since()
            .checked_add(self.min_hold(cfg))
            .unwrap_or(self.since())
    }

    pub fn held_for(&self, now: Timestamp) -> Duration {
        Duration::try_from(now.duration_since(self.since())).unwrap_or(Duration::ZERO)
    }

    /// When it reached 100% (and has stayed there), if it has.
    pub fn full_since(&self) -> Option<Timestamp> {
        (self.percent() == 100).then(|| self.since())
    }

    /// At 100% for at least `retire_after_days`, and not archived.
    pub fn due_for_retirement(&self, cfg: &FlagsConfig, now: Timestamp) -> bool {
        self.archived_at.is_none()
            && self.full_since().is_some_and(|t| {
                Duration::try_from(now.duration_since(t)).unwrap_or_default()
                    >= Duration::from_secs(cfg.retire_after_days.saturating_mul(86_400))
            })
    }

    /// Days from creation to retirement (or to now while it lives).
    pub fn lifespan_days(&self, now: Timestamp) -> f64 {
        let end = self.archived_at.unwrap_or(now);
        Duration::try_from(end.duration_since(self.created_at))
            .unwrap_or_default()
            .as_secs_f64()
            / 86_400.0
    }
}

fn plans_path(ws: &Workspace) -> PathBuf {
    ws.root().join("flags").join("plans.json")
}

/// Every plan by flag key.
pub fn load(ws: &Workspace) -> Result<BTreeMap<String, Plan>, FlagsError> {
    Ok(store::read_json(&plans_path(ws))?.unwrap_or_default())
}

/// Every plan, from the workspace's `flags` folder.
pub(crate) fn load_at(flags_dir: &std::path::Path) -> Result<BTreeMap<String, Plan>, FlagsError> {
    Ok(store::read_json(&flags_dir.join("plans.json"))?.unwrap_or_default())
}

fn modify<T>(
    ws: &Workspace,
    change: impl FnOnce(&mut BTreeMap<String, Plan>) -> Result<T, FlagsError>,
) -> Result<T, FlagsError> {
    store::update_json(&plans_path(ws), change)
}

fn record_change(
    ws: &Workspace,
    key: &str,
    what: &str,
    percent: u32,
    override_reason: Option<String>,
) -> Result<Plan, FlagsError> {
    let actor = ws.actor();
    modify(ws, |plans| {
        let now = Timestamp::now();
        let plan = plans.entry(key.to_owned()).or_insert_with(|| Plan {
            key: key.to_owned(),
            created_at: now,
            history: Vec::new(),
            archived_at: None,
        });
        if what == "archive" {
            plan.archived_at = Some(now);
        }
        plan.history.push(Change {
            at: now,
            what: what.to_owned(),
            percent,
            actor,
            override_reason,
        });
        Ok(plan.clone())
    })
}

fn audit(
    ws: &Workspace,
    action: &str,
    key: &str,
    before: Option<&FlagState>,
    after: serde_json::Value,
) -> Result<(), FlagsError> {
    ws.record(
        action,
        key,
        before.map_or(serde_json::Value::Null, |b| serde_json::json!(b)),
        after,
    )?;
    Ok(())
}

/// Audits `action` as intended (what is about to be done), then does `work` (the provider's
/// change and the plan's). When the work fails, the failure is audited too
/// (`{action}.failed`): no change is ever made without its entry, and the log says which
/// intents did not happen.
async fn audited<T>(
    ws: &Workspace,
    action: &str,
    key: &str,
    before: Option<&FlagState>,
    intent: serde_json::Value,
    work: impl std::future::Future<Output = Result<T, FlagsError>>,
) -> Result<T, FlagsError> {
    audit(ws, action, key, before, intent)?;
    match work.await {
        Ok(done) => Ok(done),
        Err(e) => {
            ws.record_failed(action, key, &e);
            Err(e)
        }
    }
}

/// Creates a flag, OFF, after checking its name and tags; starts its plan at 0%.
pub async fn create<P: FlagProvider>(
    ws: &Workspace,
    provider: &P,
    flag: &NewFlag,
) -> Result<FlagState, FlagsError> {
    check_key(&flag.key, &ws.config().flags.prefixes)?;
    check_tags(&flag.tags)?;
    if flag.name.trim().is_empty() {
        return Err(FlagsError::Invalid(format!(
            "flag {}: --name must say what it gates",
            flag.key
        )));
    }
    audited(
        ws,
        "flags.create",
        &flag.key,
        None,
        serde_json::json!({"flag": flag}),
        async {
            let state = provider.create(flag).await?;
            record_change(ws, &flag.key, "create", 0, None)?;
            Ok(state)
        },
    )
    .await
}

/// Why the next stage is not allowed yet, or `None` when it is.
pub fn blocked_reason(
    plan: &Plan,
    cfg: &FlagsConfig,
    gate: &Gate,
    now: Timestamp,
) -> Option<String> {
    let Some(next) = plan.next_stage(cfg) else {
        return Some(format!("{} is at 100%: nothing to advance", plan.key));
    };
    let allowed_at = plan.next_allowed_at(cfg);
    if now < allowed_at {
        return Some(format!(
            "{} has held {}% for {}; {}% is allowed after {} (hold {})",
            plan.key,
            plan.percent(),
            crate::human_duration(plan.held_for(now)),
            next,
            crate::local_time(allowed_at, false),
            crate::human_duration(plan.min_hold(cfg)),
        ));
    }
    if !gate.is_green() {
        return Some(format!("the KPI gate is not green: {}", gate.detail()));
    }
    None
}

/// Sets a flag's rollout. Going up needs the hold elapsed and the gate green (and only to the
/// next stage), unless `override_reason` says why (audited). Going down is always allowed.
pub async fn rollout<P: FlagProvider>(
    ws: &Workspace,
    provider: &P,
    key: &str,
    percent: Option<u32>,
    gate: &Gate,
    override_reason: Option<&str>,
) -> Result<FlagState, FlagsError> {
    let cfg = &ws.config().flags;
    let before = provider.get(key).await?;
    if before.archived {
        return Err(FlagsError::Invalid(format!("{key} is archived")));
    }
    let plans = load(ws)?;
    let plan = plans.get(key).cloned().unwrap_or(Plan {
        key: key.to_owned(),
        created_at: Timestamp::now(),
        history: vec![Change {
            at: Timestamp::now(),
            what: "adopted".into(),
            percent: before.rollout_percent,
            actor: ws.actor(),
            override_reason: None,
        }],
        archived_at: None,
    });
    let target = match percent {
        Some(p) if p > 100 => {
            return Err(FlagsError::Invalid(format!("--percent {p}: 0 to 100")));
        }
        Some(p) => p,
        None => plan
            .next_stage(cfg)
            .ok_or_else(|| FlagsError::Blocked(format!("{key} is at 100%: nothing to advance")))?,
    };
    let reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
    let going_up = target > plan.percent();
    if going_up && reason.is_none() {
        if let Some(why) = blocked_reason(&plan, cfg, gate, Timestamp::now()) {
            return Err(FlagsError::Blocked(format!(
                "{why} (or pass --override \"reason\")"
            )));
        }
        if Some(target) != plan.next_stage(cfg) {
            return Err(FlagsError::Blocked(format!(
                "{key}: the next stage is {}%, not {target}% (stages {:?}; or pass --override \"reason\")",
                plan.next_stage(cfg).unwrap_or(100),
                cfg.stages
            )));
        }
    }
    let what = match (percent, going_up) {
        (_, false) if target == 0 => "rollback",
        (None, _) => "advance",
        _ => "rollout",
    };
    let comment = match reason {
        Some(r) => format!("release-console: {what} to {target}% (override: {r})"),
        None => format!("release-console: {what} to {target}%"),
    };
    let after = audited(
        ws,
        &format!("flags.{what}"),
        key,
        Some(&before),
        serde_json::json!({"rollout_percent": target, "gate": gate, "override_reason": reason, "stage_since": plan.since()}),
        async {
            let after = provider.set_rollout(key, target, &comment).await?;
            record_change(ws, key, what, target, reason.map(str::to_owned))?;
            Ok(after)
        },
    )
    .await?;
    tick_stages(ws)?;
    Ok(after)
}

/// Ticks the latest release's "Roll out flags to N%" items whose stage every active flag has
/// reached. Returns the ticked item ids.
pub fn tick_stages(ws: &Workspace) -> Result<Vec<String>, FlagsError> {
    let Ok(release) = ws.release(None) else {
        return Ok(Vec::new());
    };
    let plans = load(ws)?;
    let Some(lowest) = plans
        .values()
        .filter(|p| p.archived_at.is_none())
        .map(Plan::percent)
        .min()
    else {
        return Ok(Vec::new());
    };
    let mut ticked = Vec::new();
    for stage in ws.config().flags.stages.iter().filter(|s| **s <= lowest) {
        ticked.extend(ws.auto_tick(&release, &format!("flags.rollout-{stage}"), "flags")?);
    }
    Ok(ticked)
}

/// What is wrong with the provider's flags before a release: names off the convention, no
/// tags, or ON in production before their rollout started.
pub async fn review<P: FlagProvider>(
    ws: &Workspace,
    provider: &P,
) -> Result<Vec<String>, FlagsError> {
    let cfg = &ws.config().flags;
    let plans = load(ws)?;
    let mut problems = Vec::new();
    for f in provider.list().await?.into_iter().filter(|f| !f.archived) {
        if let Err(e) = check_key(&f.key, &cfg.prefixes) {
            problems.push(e.to_string());
        }
        if f.tags.is_empty() {
            problems.push(format!(
                "{}: no tags (e.g. team:frontend, type:release)",
                f.key
            ));
        }
        let started = plans.get(&f.key).is_some_and(|p| p.percent() > 0);
        if f.on && !started {
            problems.push(format!(
                "{}: ON in {} at {}% before its staged rollout started",
                f.key, f.environment, f.rollout_percent
            ));
        }
    }
    if problems.is_empty()
        && let Ok(release) = ws.release(None)
    {
        ws.auto_tick(&release, "flags.review", "flags review")?;
    }
    Ok(problems)
}

/// Sets a flag's rollout in an environment other than the staged one (e.g. staging): no plan,
/// no gate; audited with the environment.
pub async fn rollout_unstaged<P: FlagProvider>(
    ws: &Workspace,
    provider: &P,
    key: &str,
    percent: u32,
    environment: &str,
) -> Result<FlagState, FlagsError> {
    if percent > 100 {
        return Err(FlagsError::Invalid(format!(
            "--percent {percent}: 0 to 100"
        )));
    }
    let before = provider.get(key).await?;
    audited(
        ws,
        "flags.rollout",
        key,
        Some(&before),
        serde_json::json!({"rollout_percent": percent, "environment": environment, "staged": false}),
        provider.set_rollout(
            key,
            percent,
            &format!("release-console: {percent}% in {environment}"),
        ),
    )
    .await
}

/// Archives a flag (after it has served 100% long enough, or on purpose).
pub async fn archive<P: FlagProvider>(
    ws: &Workspace,
    provider: &P,
    key: &str,
) -> Result<Plan, FlagsError> {
    let before = provider.get(key).await?;
    let now = Timestamp::now();
    let lifespan_days = load(ws)?.get(key).map(|p| p.lifespan_days(now));
    audited(
        ws,
        "flags.archive",
        key,
        Some(&before),
        serde_json::json!({"archived_at": now, "lifespan_days": lifespan_days}),
        async {
            provider.archive(key, "release-console: retired").await?;
            record_change(ws, key, "archive", before.rollout_percent, None)
        },
    )
    .await
}

/// A line of the retirement report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetireLine {
    pub key: String,
    pub percent: u32,
    pub full_since: Option<Timestamp>,
    pub due_for_retirement: bool,
    pub archived_at: Option<Timestamp>,
    pub lifespan_days: f64,
    /// Lifespan within the target (e.g. < 60 days).
    pub within_target: bool,
}

/// Flags due for retirement (100% for `retire_after_days`+) and every flag's lifespan.
pub fn retire_report(ws: &Workspace, now: Timestamp) -> Result<Vec<RetireLine>, FlagsError> {
    let cfg = &ws.config().flags;
    Ok(load(ws)?
        .into_values()
        .map(|p| {
            let days = p.lifespan_days(now);
            RetireLine {
                key: p.key.clone(),
                percent: p.percent(),
                full_since: p.full_since(),
                due_for_retirement: p.due_for_retirement(cfg, now),
                archived_at: p.archived_at,
                lifespan_days: (days * 10.0).round() / 10.0,
                within_target: days < cfg.lifespan_target_days as f64,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn plan(changes: &[(&str, u32)]) -> Plan {
        Plan {
            key: "ui_new_exporter".into(),
            created_at: ts(changes[0].0),
            history: changes
                .iter()
                .map(|(at, p)| Change {
                    at: ts(at),
                    what: "x".into(),
                    percent: *p,
                    actor: "a".into(),
                    override_reason: None,
                })
                .collect(),
            archived_at: None,
        }
    }

    #[test]
    fn stages_hold_and_gate() {
        let cfg = FlagsConfig::default();
        let green = Gate::Green("ok".into());
        let p = plan(&[("2026-11-01T00:00:00Z", 0)]);
        assert_eq!(p.next_stage(&cfg), Some(10));
        assert_eq!(
            blocked_reason(&p, &cfg, &green, ts("2026-11-01T00:00:01Z")),
            None
        );

        let p = plan(&[("2026-11-01T00:00:00Z", 0), ("2026-11-01T10:00:00Z", 10)]);
        let early = blocked_reason(&p, &cfg, &green, ts("2026-11-01T11:00:00Z")).expect("hold");
        assert!(early.contains("has held 10% for 1 h 00 min"), "{early}");
        assert_eq!(
            blocked_reason(&p, &cfg, &green, ts("2026-11-01T12:00:00Z")),
            None
        );
        let red = Gate::Red("error rate 0.8% > 0.5%".into());
        let why = blocked_reason(&p, &cfg, &red, ts("2026-11-01T12:00:00Z")).expect("gate");
        assert!(why.contains("error rate 0.8% > 0.5%"));
        assert!(
            blocked_reason(
                &p,
                &cfg,
                &Gate::Unknown("no data".into()),
                ts("2026-11-02T00:00:00Z")
            )
            .is_some()
        );

        let p = plan(&[
            ("2026-11-01T00:00:00Z", 0),
            ("2026-11-01T10:00:00Z", 10),
            ("2026-11-02T10:00:00Z", 50),
        ]);
        assert_eq!(p.next_stage(&cfg), Some(100));
        assert!(
            blocked_reason(&p, &cfg, &green, ts("2026-11-03T09:00:00Z")).is_some(),
            "50% holds a day"
        );
        assert_eq!(
            blocked_reason(&p, &cfg, &green, ts("2026-11-03T10:00:00Z")),
            None
        );
    }

    #[test]
    fn retirement_after_fourteen_days_at_full() {
        let cfg = FlagsConfig::default();
        let p = plan(&[("2026-10-01T00:00:00Z", 0), ("2026-10-05T00:00:00Z", 100)]);
        assert!(!p.due_for_retirement(&cfg, ts("2026-10-18T00:00:00Z")));
        assert!(p.due_for_retirement(&cfg, ts("2026-10-19T00:00:00Z")));
        assert!((p.lifespan_days(ts("2026-10-31T00:00:00Z")) - 30.0).abs() < 1e-9);
    }
}
