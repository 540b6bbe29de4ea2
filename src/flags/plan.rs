//! Rollout plans (`flags/plans.json` in the workspace): per flag the stages (10% -> 50% -> 100%
//! by default), the history of every change (who, when, percent, override reason), how long the
//! current stage has held, when the next one is allowed, and retirement. The workflow functions
//! audit the intent, change the provider, then record the plan's change, all under the flags'
//! change lock; the intent entry carries the plan's change, so a crash before the plan is saved
//! is settled at the next start from the entry (see [`PlanBook`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{FlagProvider, FlagState, FlagsError, NewFlag, check_key, check_tags};
use crate::audit::event::{FlagChange, FlagIntent};
use crate::audit::{Action, Event};
use crate::kpi::Gate;
use crate::store;
use crate::workspace::config::FlagsConfig;
use crate::workspace::{Word, Workspace};

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
    /// The audit entry of its last change, whose `after.change` is its last history entry; 0 in
    /// plans saved before it was kept (those are compared with the log only once an entry
    /// written since changes them).
    #[serde(default)]
    pub audit_seq: u64,
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

    /// Its retirement date, from WireTuner's flag policy ("after 14+ days at 100%, remove from
    /// code and archive"): `retire_after_days` after it reached 100% and stayed there. `None`
    /// before it is at 100% (a flag rolled back from 100% has none until it is back).
    pub fn retire_by(&self, cfg: &FlagsConfig) -> Option<Timestamp> {
        let full = self.full_since()?;
        Some(
            full.checked_add(Duration::from_secs(
                cfg.retire_after_days.saturating_mul(86_400),
            ))
            .unwrap_or(Timestamp::MAX),
        )
    }

    /// At 100% for at least `retire_after_days` (its [`Plan::retire_by`] reached), and not
    /// archived.
    pub fn due_for_retirement(&self, cfg: &FlagsConfig, now: Timestamp) -> bool {
        self.archived_at.is_none() && self.retire_by(cfg).is_some_and(|t| now >= t)
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

/// A change of a flag's plan as its intent entry carries it (`after.change`): what
/// [`record_change`] adds to the plan once the provider made it, and what crash recovery adds
/// when the console stopped before that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Intended {
    what: String,
    percent: u32,
    actor: String,
    override_reason: Option<String>,
}

impl Intended {
    fn new(ws: &Workspace, what: &str, percent: u32, override_reason: Option<&str>) -> Self {
        Intended {
            what: what.to_owned(),
            percent,
            actor: ws.actor(),
            override_reason: override_reason.map(str::to_owned),
        }
    }

    /// Adds it to `key`'s plan (started when missing) as the change of entry `seq`, at `at`.
    fn apply(
        &self,
        plans: &mut BTreeMap<String, Plan>,
        key: &str,
        at: Timestamp,
        seq: u64,
    ) -> Plan {
        let plan = plans.entry(key.to_owned()).or_insert_with(|| Plan {
            key: key.to_owned(),
            created_at: at,
            history: Vec::new(),
            archived_at: None,
            audit_seq: 0,
        });
        if self.what == "archive" {
            plan.archived_at = Some(at);
        }
        plan.history.push(Change {
            at,
            what: self.what.clone(),
            percent: self.percent,
            actor: self.actor.clone(),
            override_reason: self.override_reason.clone(),
        });
        plan.audit_seq = seq;
        plan.clone()
    }

    /// Whether `plan`'s last change is this one.
    fn is_last_of(&self, plan: &Plan) -> bool {
        plan.history.last().is_some_and(|c| {
            c.what == self.what
                && c.percent == self.percent
                && c.actor == self.actor
                && c.override_reason == self.override_reason
        }) && plan.archived_at.is_some() == (self.what == "archive")
    }
}

/// Records the change of intent entry `seq` in the plan.
fn record_change(
    ws: &Workspace,
    key: &str,
    change: &Intended,
    seq: u64,
) -> Result<Plan, FlagsError> {
    modify(ws, |plans| {
        Ok(change.apply(plans, key, Timestamp::now(), seq))
    })
}

fn flags_dir(ws: &Workspace) -> PathBuf {
    ws.root().join("flags")
}

/// The name of the flags' change lock (see [`change_lock`]).
const CHANGE_LOCK: &str = "changes";

/// The lock every change of a flag is made under, from reading the provider's and the plan's
/// state to the plan's save, so that changes do not interleave and crash recovery (which takes
/// it too) waits for a change a live process is making. Released before checklist items are
/// ticked: recovery takes the checklists' locks before this one.
async fn change_lock(ws: &Workspace) -> Result<std::fs::File, FlagsError> {
    let dir = flags_dir(ws);
    tokio::task::spawn_blocking(move || store::lock(&dir, CHANGE_LOCK))
        .await
        .map_err(|e| FlagsError::Invalid(format!("taking the flags' change lock: {e}")))?
        .map_err(FlagsError::from)
}

/// What a staged change's intent entry says besides its own facts: the plan's change, and
/// what recovery needs to learn whether the provider made it (the local provider's version
/// before, as `flags/local.json` keeps it).
fn staged(
    mut intent: serde_json::Value,
    change: &Intended,
    local: bool,
    before: Option<&FlagState>,
) -> serde_json::Value {
    intent["change"] = serde_json::json!(change);
    intent["provider"] = serde_json::json!({
        "local": local,
        "version": before.and_then(|b| b.version.clone()),
    });
    intent
}

/// Why a change's work failed.
enum Failed {
    /// The provider refused it or could not be reached: the change was not made.
    NotMade(FlagsError),
    /// The provider made the change, and the plan could not be saved after.
    Unrecorded(FlagsError),
}

/// Audits `action` as intended (what is about to be done), then does `work` (the provider's
/// change and the plan's), given the intent's entry number. When the provider's change fails,
/// the failure is audited too (`{action}.failed`, naming the intent's entry): no change is ever
/// made without its entry, and the log says which intents did not happen. When only the plan's
/// save fails, the change was made: the intent stays in effect, for crash recovery to settle
/// as it settles a crash there. Call it under the flags' change lock ([`change_lock`]), taken
/// before the provider's state was read.
async fn audited<T, F>(
    ws: &Workspace,
    action: fn(FlagChange) -> Event,
    key: &str,
    before: Option<&FlagState>,
    intent: serde_json::Value,
    work: impl FnOnce(u64) -> F,
) -> Result<T, FlagsError>
where
    F: std::future::Future<Output = Result<T, Failed>>,
{
    let serde_json::Value::Object(fields) = intent else {
        return Err(FlagsError::Invalid(format!(
            "{key}: the change's intent is not an object: {intent}"
        )));
    };
    let event = action(FlagChange {
        target: key.to_owned(),
        before: before.map_or(serde_json::Value::Null, |b| serde_json::json!(b)),
        after: FlagIntent { fields },
    });
    let seq = ws.record_seq(event.clone())?;
    match work(seq).await {
        Ok(done) => Ok(done),
        Err(Failed::NotMade(e)) => {
            ws.record_failed_of(&event, seq, &e);
            Err(e)
        }
        Err(Failed::Unrecorded(e)) => Err(e),
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
    let _lock = change_lock(ws).await?;
    let change = Intended::new(ws, "create", 0, None);
    audited(
        ws,
        Event::FlagsCreate,
        &flag.key,
        None,
        staged(
            serde_json::json!({"flag": flag}),
            &change,
            provider.is_local(),
            None,
        ),
        |seq| async move {
            let state = provider.create(flag).await.map_err(Failed::NotMade)?;
            record_change(ws, &flag.key, &change, seq).map_err(Failed::Unrecorded)?;
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
    // On a shared workspace, one console advances a flag at a time; a second is told who.
    let _lease = {
        let (l_ws, what) = (ws.clone(), format!("advance flag {key}"));
        tokio::task::spawn_blocking(move || l_ws.lease(&what))
            .await
            .map_err(|e| FlagsError::Invalid(format!("advance flag {key}: {e}")))??
    };
    let after = {
        let _lock = change_lock(ws).await?;
        // Up to the plan's save, under the change lock.
        let set: Result<FlagState, FlagsError> = async {
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
                audit_seq: 0,
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
                        "{key}: the next stage is {}%, not {target}% (stages {}; or pass --override \"reason\")",
                        plan.next_stage(cfg).unwrap_or(100),
                        cfg.stages_text()
                    )));
                }
            }
            let (what, action): (_, fn(FlagChange) -> Event) = match (percent, going_up) {
                (_, false) if target == 0 => ("rollback", Event::FlagsRollback),
                (None, _) => ("advance", Event::FlagsAdvance),
                _ => ("rollout", Event::FlagsRollout),
            };
            let comment = match reason {
                Some(r) => format!("release-console: {what} to {target}% (override: {r})"),
                None => format!("release-console: {what} to {target}%"),
            };
            let change = Intended::new(ws, what, target, reason);
            audited(
                ws,
                action,
                key,
                Some(&before),
                staged(
                    serde_json::json!({"rollout_percent": target, "gate": gate, "override_reason": reason, "stage_since": plan.since()}),
                    &change,
                    provider.is_local(),
                    Some(&before),
                ),
                |seq| async move {
                    let after = provider
                        .set_rollout(
                            key,
                            super::Rollout {
                                percent: target,
                                comment: &comment,
                            },
                        )
                        .await
                        .map_err(Failed::NotMade)?;
                    record_change(ws, key, &change, seq).map_err(Failed::Unrecorded)?;
                    Ok(after)
                },
            )
            .await
        }
        .await;
        set?
    };
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
    let _lock = change_lock(ws).await?;
    let before = provider.get(key).await?;
    audited(
        ws,
        Event::FlagsRollout,
        key,
        Some(&before),
        serde_json::json!({"rollout_percent": percent, "environment": environment, "staged": false}),
        |_| async move {
            provider
                .set_rollout(
                    key,
                    super::Rollout {
                        percent,
                        comment: &format!("release-console: {percent}% in {environment}"),
                    },
                )
                .await
                .map_err(Failed::NotMade)
        },
    )
    .await
}

/// Archives a flag (after it has served 100% long enough, or on purpose).
pub async fn archive<P: FlagProvider>(
    ws: &Workspace,
    provider: &P,
    key: &str,
) -> Result<Plan, FlagsError> {
    let _lock = change_lock(ws).await?;
    let before = provider.get(key).await?;
    let now = Timestamp::now();
    let lifespan_days = load(ws)?.get(key).map(|p| p.lifespan_days(now));
    let change = Intended::new(ws, "archive", before.rollout_percent, None);
    audited(
        ws,
        Event::FlagsArchive,
        key,
        Some(&before),
        staged(
            serde_json::json!({"archived_at": now, "lifespan_days": lifespan_days}),
            &change,
            provider.is_local(),
            Some(&before),
        ),
        |seq| async move {
            provider
                .archive(key, "release-console: retired")
                .await
                .map_err(Failed::NotMade)?;
            record_change(ws, key, &change, seq).map_err(Failed::Unrecorded)
        },
    )
    .await
}

/// The audit action of [`import`]: not announced (it is history, not news).
pub const IMPORT_ACTION: &str = Action::FlagsImport.as_str();

/// Records a flag rolled out outside the console (the demo's made-up history) as it stands:
/// the local provider gets the flag at the plan's percentage (archived if the plan is), the
/// change is audited (`flags.import`, carrying the plan's last change, the whole plan and
/// `why`), then the plan is saved; all under the flags' change lock. Refused when the
/// workspace's provider is not the local one, or the flag or its plan exists.
pub fn import(ws: &Workspace, plan: &Plan, name: &str, why: &str) -> Result<Plan, FlagsError> {
    if !matches!(
        ws.config().flags.provider,
        crate::workspace::config::FlagsProvider::Local
    ) {
        return Err(FlagsError::Invalid(format!(
            "flag {}: only a workspace with the local flag provider imports flags",
            plan.key
        )));
    }
    let last = plan.history.last().ok_or_else(|| {
        FlagsError::Invalid(format!("flag {}: a plan to import has changes", plan.key))
    })?;
    let _lock = store::lock(&flags_dir(ws), CHANGE_LOCK)?;
    if load(ws)?.contains_key(&plan.key) {
        return Err(FlagsError::Conflict {
            message: format!("flag {} has a plan already: not imported", plan.key),
        });
    }
    let env = ws.config().flags.environment.clone();
    let percent = plan.percent();
    let version = plan.history.len().to_string();
    store::update_json(
        &flags_dir(ws).join("local.json"),
        |flags: &mut BTreeMap<String, FlagState>| {
            if flags.contains_key(&plan.key) {
                return Err(FlagsError::Conflict {
                    message: format!("flag {} exists already: not imported", plan.key),
                });
            }
            flags.insert(
                plan.key.clone(),
                FlagState {
                    key: plan.key.clone(),
                    name: name.to_owned(),
                    tags: Vec::new(),
                    environment: env.clone(),
                    on: percent > 0,
                    rollout_percent: percent,
                    archived: plan.archived_at.is_some(),
                    version: Some(version.clone()),
                    environments: [(
                        env.clone(),
                        super::EnvState {
                            on: percent > 0,
                            rollout_percent: percent,
                        },
                    )]
                    .into(),
                },
            );
            Ok(())
        },
    )?;
    let change = Intended {
        what: last.what.clone(),
        percent: last.percent,
        actor: last.actor.clone(),
        override_reason: last.override_reason.clone(),
    };
    let seq = ws.record_seq(Event::FlagsImport(Event::values(
        plan.key.clone(),
        serde_json::Value::Null,
        serde_json::json!({
            "change": change,
            "plan": plan,
            "provider": {"local": true},
            "why": why,
        }),
    )))?;
    modify(ws, |plans| {
        let saved = Plan {
            audit_seq: seq,
            ..plan.clone()
        };
        plans.insert(plan.key.clone(), saved.clone());
        Ok(saved)
    })
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

/// The flag plans as the audit log speaks for them (`flags/plans.json`): each staged change's
/// intent entry (`flags.create`, `.advance`, `.rollout`, `.rollback`, `.archive`) carries the
/// plan's change in `after.change`, and each plan keeps the entry of its last change.
///
/// A change in the log but not in the plan (the console stopped after the intent) is settled
/// from what the provider has: the local provider's state is `flags/local.json`, so the change
/// is rolled forward when that file shows it (the flag exists, its version moved on, it is
/// archived) and marked `ACTION.not_applied` when it does not. Whether a remote provider made
/// it cannot be learnt offline; the plan does not claim a stage it cannot show, so it is marked
/// not applied with that said (the next rollout starts from the provider's state).
#[derive(Debug)]
pub struct PlanBook;

/// The plan change an entry carries.
fn intended(w: &Word) -> Result<Intended, String> {
    serde_json::from_value(w.after.get("change").cloned().unwrap_or_default())
        .map_err(|e| format!("its plan change cannot be read: {e}"))
}

/// Whether the change of entry `w` shows in the local provider's `flags/local.json`, or why
/// it is not applied. Another console's change on a shared workspace is taken from the log.
fn made(
    ws: &Workspace,
    key: &str,
    w: &Word,
    change: &Intended,
) -> Result<Result<(), String>, store::StateError> {
    if !ws.wrote(w) {
        // Another console's change on a shared workspace: its provider is not this machine's
        // to ask, and its writer marks it failed or not applied when it was not made.
        return Ok(Ok(()));
    }
    let provider = w.after.get("provider");
    if provider
        .and_then(|p| p.get("local"))
        .and_then(serde_json::Value::as_bool)
        != Some(true)
    {
        return Ok(Err(
            "the console stopped after its intent, before the plan was saved; whether the flag \
             provider made the change cannot be known here, so the plan does not take it \
             (`flags list` shows the provider's state)"
                .to_owned(),
        ));
    }
    let version_before = provider
        .and_then(|p| p.get("version"))
        .and_then(serde_json::Value::as_str);
    let now = super::local::state_at(&flags_dir(ws), key)?;
    let shown = match (change.what.as_str(), &now) {
        (_, None) => false,
        ("create", Some(_)) => true,
        ("archive", Some(f)) => f.archived,
        (_, Some(f)) => match version_before {
            Some(v) => f.version.as_deref() != Some(v),
            None => f.rollout_percent == change.percent,
        },
    };
    Ok(if shown {
        Ok(())
    } else {
        Err(
            "the console stopped after its intent, and the local provider (flags/local.json) \
             does not have the change: it was not made"
                .to_owned(),
        )
    })
}

impl crate::workspace::Projection for PlanBook {
    fn follows(&self, action: Action) -> bool {
        matches!(
            action,
            Action::FlagsCreate
                | Action::FlagsAdvance
                | Action::FlagsRollout
                | Action::FlagsRollback
                | Action::FlagsArchive
                | Action::FlagsImport
        )
    }

    fn carries(&self, after: &serde_json::Value) -> bool {
        // A rollout in another environment (`staged: false`) changes no plan.
        after.get("change").is_some()
    }

    fn marker(&self) -> &'static str {
        r#""action":"flags."#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (flags_dir(ws), CHANGE_LOCK)
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), store::StateError> {
        let plans =
            store::read_json::<BTreeMap<String, Plan>>(&plans_path(ws))?.unwrap_or_default();
        let mut apply = Vec::new();
        let mut refused = Vec::new();
        for (key, w) in last {
            // A plan without an entry number was last saved before they were kept, so an entry
            // that carries a change (written since) is newer than it.
            if plans.get(key).is_some_and(|p| p.audit_seq >= w.seq) {
                continue;
            }
            match intended(w) {
                Ok(change) => match made(ws, key, w, &change)? {
                    Ok(()) => apply.push((key, w, change)),
                    Err(why) => refused.push((key.clone(), w.clone(), why)),
                },
                Err(why) => refused.push((key.clone(), w.clone(), why)),
            }
        }
        if !apply.is_empty() {
            store::update_json(&plans_path(ws), |plans: &mut BTreeMap<String, Plan>| {
                for (key, w, change) in &apply {
                    change.apply(plans, key, w.time, w.seq);
                    tracing::info!("rolled forward entry #{} ({} {key})", w.seq, w.action);
                }
                Ok::<_, store::StateError>(())
            })?;
        }
        Ok((apply.len(), refused))
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, store::StateError> {
        let path = plans_path(ws);
        let file = path.display();
        let plans = store::read_json::<BTreeMap<String, Plan>>(&path)?.unwrap_or_default();
        for (key, plan) in &plans {
            let seq = plan.audit_seq;
            let at = |p: &Plan| {
                p.history.last().map_or_else(
                    || "has no change".to_owned(),
                    |c| format!("is at {}% ({})", c.percent, c.what),
                )
            };
            let (subject, holds) = (format!("flag {key}'s plan"), at(plan));
            // Saved before plans kept their entry, and no entry since carries a change: left
            // unjudged.
            let held = crate::workspace::Held {
                file: &file,
                subject: &subject,
                holds: &holds,
                seq,
                unnumbered_unjudged: true,
            };
            if let Some(d) = crate::workspace::judge(
                &held,
                last.get(key),
                intended,
                |change| change.is_last_of(plan),
                |w, change| {
                    format!(
                        "flag {key}'s plan {holds}{}, but entry #{} ({}) set it to {}% ({})",
                        if plan.archived_at.is_some() {
                            ", archived"
                        } else {
                            ""
                        },
                        w.seq,
                        w.action,
                        change.percent,
                        change.what
                    )
                },
                &format!("flag {key}'s last change"),
            ) {
                return Ok(Some(d));
            }
        }
        for (key, w) in last {
            if let Some(w) = w
                && !plans.contains_key(key)
            {
                return Ok(Some((
                    w.seq,
                    format!(
                        "{file} disagrees with the log: it has no plan for flag {key}, but entry \
                         #{} ({}) changed it",
                        w.seq, w.action
                    ),
                )));
            }
        }
        Ok(None)
    }
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
            audit_seq: 0,
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
        assert_eq!(p.retire_by(&cfg), Some(ts("2026-10-19T00:00:00Z")));
        assert_eq!(plan(&[("2026-10-01T00:00:00Z", 50)]).retire_by(&cfg), None);
        // Rolled back from 100%: no date until it is back.
        let back = plan(&[("2026-10-01T00:00:00Z", 100), ("2026-10-02T00:00:00Z", 50)]);
        assert_eq!(back.retire_by(&cfg), None);
        assert!(!p.due_for_retirement(&cfg, ts("2026-10-18T00:00:00Z")));
        assert!(p.due_for_retirement(&cfg, ts("2026-10-19T00:00:00Z")));
        assert!((p.lifespan_days(ts("2026-10-31T00:00:00Z")) - 30.0).abs() < 1e-9);
    }
}
