//! Feature flags: the naming convention (`{prefix}_{feature_name}`), providers behind one small
//! trait (local in the workspace, `LaunchDarkly` REST v2, Unleash Admin API), and the staged
//! rollout plan (10% -> 50% -> 100%, each stage held and gated by KPIs) kept in the workspace.

mod http;
pub mod launchdarkly;
pub mod local;
pub mod plan;
pub mod unleash;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::workspace::Workspace;
use crate::workspace::config::FlagsProvider;

/// What went wrong with a flag, in words a release manager can act on.
#[derive(Debug, thiserror::Error)]
pub enum FlagsError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Config(String),
    #[error("the flag provider refused the token (401/403): check ${env_var}")]
    Unauthorized { env_var: String },
    #[error("not found on the flag provider (404): {what}")]
    NotFound { what: String },
    #[error("approval required (405): {message}")]
    ApprovalRequired { message: String },
    #[error("conflict (409): {message}")]
    Conflict { message: String },
    #[error("the flag provider rejected the change (400): {message}")]
    Rejected { message: String },
    #[error("still rate limited after {attempts} attempts; try again in a minute")]
    RateLimited { attempts: u32 },
    #[error("the flag provider answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("cannot reach the flag provider at {url}: {message}")]
    Network { url: String, message: String },
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    #[error(transparent)]
    Store(#[from] crate::store::StateError),
    /// Advancing is not allowed yet (hold or gate); an override with a reason is.
    #[error("{0}")]
    Blocked(String),
}

/// Checks `{prefix}_{feature_name}`: a configured prefix, then lower snake case.
pub fn check_key(key: &str, prefixes: &[String]) -> Result<(), FlagsError> {
    let allowed = if prefixes.is_empty() {
        "any lower-case word".to_owned()
    } else {
        prefixes.join(", ")
    };
    let bad = |why: &str| {
        FlagsError::Invalid(format!(
            "flag key {key:?} {why}: use {{prefix}}_{{feature_name}} in lower snake case, e.g. ui_new_exporter (prefix: {allowed})"
        ))
    };
    let Some((prefix, feature)) = key.split_once('_') else {
        return Err(bad("has no prefix"));
    };
    if !prefixes.is_empty() && !prefixes.iter().any(|p| p == prefix) {
        return Err(bad(&format!(
            "has the prefix {prefix:?}, which is not configured"
        )));
    }
    let snake = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !s.ends_with('_')
            && !s.contains("__")
    };
    if !snake(prefix) || !snake(feature) {
        return Err(bad("is not lower snake case"));
    }
    if key.len() > 64 {
        return Err(bad("is longer than 64 characters"));
    }
    Ok(())
}

/// Checks tags like `iteration:I5`, `team:frontend`, `type:release`.
pub fn check_tags(tags: &[String]) -> Result<(), FlagsError> {
    for t in tags {
        let ok = (2..=50).contains(&t.len())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'));
        if !ok {
            return Err(FlagsError::Invalid(format!(
                "tag {t:?}: 2 to 50 letters, digits or `:-_.`, e.g. team:frontend"
            )));
        }
    }
    Ok(())
}

/// A flag to create: OFF everywhere until a rollout turns it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFlag {
    pub key: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
}

/// A flag as the provider has it, in the configured environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagState {
    pub key: String,
    pub name: String,
    pub tags: Vec<String>,
    pub environment: String,
    pub on: bool,
    /// Share of users served the flag, 0-100 (0 when off).
    pub rollout_percent: u32,
    pub archived: bool,
    /// The provider's version of the flag, where it has one (`LaunchDarkly` `_version`).
    pub version: Option<String>,
    /// Every environment the provider reported: on/off and rollout percent.
    #[serde(default)]
    pub environments: std::collections::BTreeMap<String, EnvState>,
}

/// A flag's state in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvState {
    pub on: bool,
    pub rollout_percent: u32,
}

/// One event in a flag's history as the provider records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub who: String,
    pub what: String,
}

/// A flag's new rollout: the share of users it is on for, and the comment the provider keeps
/// with the change (where it keeps one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout<'a> {
    pub percent: u32,
    pub comment: &'a str,
}

/// A flag provider: list, get, create (OFF), set the rollout percentage (0 turns it off),
/// archive. Implementations: [`local::LocalFlags`], [`unleash::UnleashClient`],
/// [`launchdarkly::LaunchDarklyClient`].
pub trait FlagProvider: Send + Sync {
    fn list(&self) -> impl Future<Output = Result<Vec<FlagState>, FlagsError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<FlagState, FlagsError>> + Send;
    fn create(&self, flag: &NewFlag) -> impl Future<Output = Result<FlagState, FlagsError>> + Send;
    fn set_rollout(
        &self,
        key: &str,
        rollout: Rollout<'_>,
    ) -> impl Future<Output = Result<FlagState, FlagsError>> + Send;
    fn archive(
        &self,
        key: &str,
        comment: &str,
    ) -> impl Future<Output = Result<(), FlagsError>> + Send;
    /// The provider's own record of changes to the flag, newest first.
    fn history(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, FlagsError>> + Send;
    /// Whether its state is the workspace's `flags/local.json` (the local provider), which
    /// crash recovery reads to learn whether a change the console stopped in was made.
    fn is_local(&self) -> bool {
        false
    }
}

/// The provider the workspace config selects.
#[derive(Debug)]
pub enum Provider {
    Local(local::LocalFlags),
    Unleash(unleash::UnleashClient),
    LaunchDarkly(launchdarkly::LaunchDarklyClient),
}

impl Provider {
    /// Builds the configured provider; the token comes from the variable the config names.
    pub fn from_workspace(ws: &Workspace) -> Result<Self, FlagsError> {
        Self::for_environment(ws, &ws.config().flags.environment)
    }

    /// The configured provider acting on `environment` instead of the configured one.
    pub fn for_environment(ws: &Workspace, environment: &str) -> Result<Self, FlagsError> {
        let cfg = &ws.config().flags;
        let token = || {
            crate::workspace::secrets::resolve(&cfg.token_env, &cfg.token_secret, &ws.config().aws)
                .map_err(FlagsError::Config)?
                .ok_or_else(|| {
                    FlagsError::Config(crate::workspace::secrets::not_found_message(
                        "flags.token_env",
                        &cfg.token_env,
                        match cfg.provider {
                            FlagsProvider::Unleash => "the Unleash admin API token",
                            _ => "the LaunchDarkly access token",
                        },
                    ))
                })
        };
        Ok(match cfg.provider {
            FlagsProvider::Local if environment != cfg.environment => {
                return Err(FlagsError::Config(format!(
                    "the local flag provider keeps one environment ({}); {environment:?} needs Unleash or LaunchDarkly",
                    cfg.environment
                )));
            }
            FlagsProvider::Local => Provider::Local(local::LocalFlags::new(ws)),
            FlagsProvider::Unleash => {
                Provider::Unleash(unleash::UnleashClient::new(cfg, environment, token()?)?)
            }
            FlagsProvider::Launchdarkly => Provider::LaunchDarkly(
                launchdarkly::LaunchDarklyClient::new(cfg, environment, token()?)?,
            ),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Local(_) => "local",
            Provider::Unleash(_) => "unleash",
            Provider::LaunchDarkly(_) => "launchdarkly",
        }
    }
}

/// The same call on whichever provider `self` is.
macro_rules! each_provider {
    ($self:ident, $p:ident => $call:expr) => {
        match $self {
            Provider::Local($p) => $call,
            Provider::Unleash($p) => $call,
            Provider::LaunchDarkly($p) => $call,
        }
    };
}

impl FlagProvider for Provider {
    async fn list(&self) -> Result<Vec<FlagState>, FlagsError> {
        each_provider!(self, p => p.list().await)
    }

    async fn get(&self, key: &str) -> Result<FlagState, FlagsError> {
        each_provider!(self, p => p.get(key).await)
    }

    async fn create(&self, flag: &NewFlag) -> Result<FlagState, FlagsError> {
        each_provider!(self, p => p.create(flag).await)
    }

    async fn set_rollout(&self, key: &str, rollout: Rollout<'_>) -> Result<FlagState, FlagsError> {
        each_provider!(self, p => p.set_rollout(key, rollout).await)
    }

    async fn archive(&self, key: &str, comment: &str) -> Result<(), FlagsError> {
        each_provider!(self, p => p.archive(key, comment).await)
    }

    async fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, FlagsError> {
        each_provider!(self, p => p.history(key).await)
    }
    fn is_local(&self) -> bool {
        matches!(self, Provider::Local(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes() -> Vec<String> {
        ["ui", "api", "collab", "export"]
            .map(str::to_owned)
            .to_vec()
    }

    #[test]
    fn keys_follow_prefix_feature_name() {
        assert!(check_key("ui_new_exporter", &prefixes()).is_ok());
        assert!(check_key("collab_cursor_v2", &prefixes()).is_ok());
        let err = check_key("newExporter", &prefixes()).expect_err("no prefix");
        assert!(err.to_string().contains("has no prefix"), "{err}");
        let err = check_key("billing_new_plan", &prefixes()).expect_err("prefix");
        assert!(
            err.to_string()
                .contains("has the prefix \"billing\", which is not configured"),
            "{err}"
        );
        assert!(check_key("ui_NewExporter", &prefixes()).is_err());
        assert!(check_key("ui_new__exporter", &prefixes()).is_err());
        assert!(check_key("ui_", &prefixes()).is_err());
    }

    #[test]
    fn tags_are_short_words() {
        assert!(check_tags(&["iteration:I5".into(), "team:frontend".into()]).is_ok());
        assert!(check_tags(&["has space".into()]).is_err());
    }
}

/// One row of the Flags panel: the provider's state, the console's plan, and the KPI gate
/// over the current stage's hold (for flags that can still advance).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagRow {
    pub state: FlagState,
    pub plan: Option<plan::Plan>,
    pub gate: Option<crate::kpi::Gate>,
}

/// Everything the Flags panel shows, read off the UI thread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub provider: String,
    pub environment: String,
    pub rows: Vec<FlagRow>,
    /// The KPIs over the last hour, for the plots.
    pub readings: Vec<crate::kpi::Reading>,
    pub gate: crate::kpi::Gate,
}

/// Every flag with its plan and, while it can still advance, the KPI gate over its current
/// stage.
pub async fn rows<P: FlagProvider>(
    ws: &Workspace,
    provider: &P,
) -> Result<Vec<FlagRow>, FlagsError> {
    let plans = plan::load(ws)?;
    let cfg = &ws.config().flags;
    let mut rows = Vec::new();
    for state in provider.list().await? {
        let plan = plans.get(&state.key).cloned();
        let gate = match &plan {
            Some(p) if !state.archived && p.next_stage(cfg).is_some() => {
                Some(crate::kpi::evaluate(ws, p.since()).await.1)
            }
            _ => None,
        };
        rows.push(FlagRow { state, plan, gate });
    }
    Ok(rows)
}

/// The KPI gate over `key`'s current stage (since it started; a flag without a plan is judged
/// over the default window).
pub async fn current_gate(ws: &Workspace, key: &str) -> Result<crate::kpi::Gate, FlagsError> {
    let since = plan::load(ws)?
        .get(key)
        .map_or_else(jiff::Timestamp::now, plan::Plan::since);
    Ok(crate::kpi::evaluate(ws, since).await.1)
}

/// Reads flags, plans and KPIs.
pub async fn overview(ws: &Workspace) -> Result<Overview, FlagsError> {
    let provider = Provider::from_workspace(ws)?;
    let cfg = &ws.config().flags;
    let rows = rows(ws, &provider).await?;
    let hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let (readings, gate) = crate::kpi::evaluate(ws, hour_ago).await;
    Ok(Overview {
        provider: provider.name().to_owned(),
        environment: cfg.environment.clone(),
        rows,
        readings,
        gate,
    })
}

/// A change the Flags panel asks for; runs as a task on the shared runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create(NewFlag),
    Advance {
        key: String,
        override_reason: Option<String>,
    },
    Rollback {
        key: String,
    },
    Archive {
        key: String,
    },
}

impl Action {
    pub fn key(&self) -> &str {
        match self {
            Action::Create(f) => &f.key,
            Action::Advance { key, .. } | Action::Rollback { key } | Action::Archive { key } => key,
        }
    }

    /// Exactly what will change, for the confirmation.
    pub fn describe(
        &self,
        row: Option<&FlagRow>,
        cfg: &crate::workspace::config::FlagsConfig,
        provider: &str,
    ) -> String {
        let now = row.map_or(0, |r| r.state.rollout_percent);
        let env = &cfg.environment;
        match self {
            Action::Create(f) => format!(
                "Create {} (\"{}\") on {provider}, OFF in every environment, {}",
                f.key,
                f.name,
                if f.tags.is_empty() {
                    "no tags".to_owned()
                } else {
                    format!("tags {}", f.tags.join(", "))
                }
            ),
            Action::Advance {
                key,
                override_reason,
            } => {
                let next = row
                    .and_then(|r| r.plan.as_ref())
                    .and_then(|p| p.next_stage(cfg))
                    .or_else(|| cfg.stages.iter().copied().find(|s| *s > now))
                    .unwrap_or(100);
                format!(
                    "{key} in {env} on {provider}: {now}% -> {next}%{}",
                    override_reason
                        .as_deref()
                        .map(|r| format!(" (override: {r})"))
                        .unwrap_or_default()
                )
            }
            Action::Rollback { key } => format!("{key} in {env} on {provider}: {now}% -> OFF (0%)"),
            Action::Archive { key } => {
                format!("Archive {key} on {provider} (it cannot be re-created with this name)")
            }
        }
    }
}

/// The task that applies a flag change ([`run_action`]), one per flag at a time.
pub fn action_task_spec(ws: &Workspace, action: &Action) -> crate::runner::TaskSpec {
    ws.task_spec(
        &format!("flags-{}", action.key()),
        "flags.change",
        None,
        std::time::Duration::from_mins(10),
    )
}

/// Runs `action` as the task `ctx` belongs to.
pub async fn run_action(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    action: Action,
) -> crate::runner::TaskResult {
    use crate::runner::TaskError;
    let fail = |e: FlagsError| TaskError::Failed(e.to_string());
    let provider = Provider::from_workspace(&ws).map_err(fail)?;
    let what = match &action {
        Action::Create(f) => format!("create {} \"{}\"", f.key, f.name),
        Action::Advance {
            key,
            override_reason: Some(r),
        } => format!("advance {key} (override: {r})"),
        Action::Advance { key, .. } => format!("advance {key}"),
        Action::Rollback { key } => format!("roll back {key}"),
        Action::Archive { key } => format!("archive {key}"),
    };
    ctx.log_line(&format!("{what} on {}", provider.name()));
    let describe = |s: &FlagState| {
        format!(
            "{}: {} at {}%",
            s.key,
            if s.on { "on" } else { "off" },
            s.rollout_percent
        )
    };
    match action {
        Action::Create(flag) => plan::create(&ws, &provider, &flag)
            .await
            .map(|s| describe(&s))
            .map_err(fail),
        Action::Advance {
            key,
            override_reason,
        } => {
            let gate = current_gate(&ws, &key).await.map_err(fail)?;
            ctx.log_line(&format!("KPI gate {}: {}", gate.label(), gate.detail()));
            plan::rollout(
                &ws,
                &provider,
                &key,
                None,
                &gate,
                override_reason.as_deref(),
            )
            .await
            .map(|s| describe(&s))
            .map_err(fail)
        }
        Action::Rollback { key } => plan::rollout(
            &ws,
            &provider,
            &key,
            Some(0),
            &crate::kpi::Gate::Unknown(String::new()),
            None,
        )
        .await
        .map(|s| describe(&s))
        .map_err(fail),
        Action::Archive { key } => plan::archive(&ws, &provider, &key)
            .await
            .map(|p| {
                format!(
                    "{key} archived after {:.1} days",
                    p.lifespan_days(jiff::Timestamp::now())
                )
            })
            .map_err(fail),
    }
}
