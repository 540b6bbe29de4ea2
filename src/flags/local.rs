//! The local flag provider (the default, and the demo's): flags in `flags/local.json` in the
//! workspace, written atomically under a lock. Archived flags stay listed as archived.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{FlagProvider, FlagState, FlagsError, NewFlag, Rollout};
use crate::store;
use crate::workspace::Workspace;

#[derive(Debug, Clone)]
pub struct LocalFlags {
    dir: PathBuf,
    environment: String,
}

impl LocalFlags {
    pub fn new(ws: &Workspace) -> Self {
        Self {
            dir: ws.root().join("flags"),
            environment: ws.config().flags.environment.clone(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("local.json")
    }

    fn load(&self) -> Result<BTreeMap<String, FlagState>, FlagsError> {
        Ok(store::read_json(&self.path())?.unwrap_or_default())
    }

    fn modify<T>(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, FlagState>) -> Result<T, FlagsError>,
    ) -> Result<T, FlagsError> {
        store::update_json(&self.path(), change)
    }
}

/// Flag `key` as the local provider of the workspace whose `flags` folder is `flags_dir` has
/// it, if it has it.
pub(crate) fn state_at(
    flags_dir: &std::path::Path,
    key: &str,
) -> Result<Option<FlagState>, store::StateError> {
    Ok(
        store::read_json::<BTreeMap<String, FlagState>>(&flags_dir.join("local.json"))?
            .and_then(|mut flags| flags.remove(key)),
    )
}

fn not_found(key: &str) -> FlagsError {
    FlagsError::NotFound {
        what: format!("flag {key} in the local provider"),
    }
}

impl FlagProvider for LocalFlags {
    async fn list(&self) -> Result<Vec<FlagState>, FlagsError> {
        Ok(self.load()?.into_values().collect())
    }

    async fn get(&self, key: &str) -> Result<FlagState, FlagsError> {
        self.load()?.remove(key).ok_or_else(|| not_found(key))
    }

    async fn create(&self, flag: &NewFlag) -> Result<FlagState, FlagsError> {
        let env = self.environment.clone();
        self.modify(|flags| {
            if flags.contains_key(&flag.key) {
                return Err(FlagsError::Conflict {
                    message: format!(
                        "flag {} already exists (archived names cannot be reused)",
                        flag.key
                    ),
                });
            }
            let state = FlagState {
                key: flag.key.clone(),
                name: flag.name.clone(),
                tags: flag.tags.clone(),
                environment: env.clone(),
                on: false,
                rollout_percent: 0,
                archived: false,
                version: Some("1".into()),
                environments: [(
                    env,
                    super::EnvState {
                        on: false,
                        rollout_percent: 0,
                    },
                )]
                .into(),
            };
            flags.insert(flag.key.clone(), state.clone());
            Ok(state)
        })
    }

    async fn set_rollout(&self, key: &str, rollout: Rollout<'_>) -> Result<FlagState, FlagsError> {
        let percent = rollout.percent;
        self.modify(|flags| {
            let f = flags.get_mut(key).ok_or_else(|| not_found(key))?;
            if f.archived {
                return Err(FlagsError::Invalid(format!("{key} is archived")));
            }
            f.on = percent > 0;
            f.rollout_percent = percent;
            f.environments.insert(
                f.environment.clone(),
                super::EnvState {
                    on: f.on,
                    rollout_percent: percent,
                },
            );
            let v = f
                .version
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            f.version = Some((v + 1).to_string());
            Ok(f.clone())
        })
    }

    async fn history(&self, key: &str) -> Result<Vec<super::HistoryEntry>, FlagsError> {
        // The local provider's history is the console's own plan.
        let plans = super::plan::load_at(&self.dir)?;
        let plan = plans.get(key).ok_or_else(|| not_found(key))?;
        Ok(plan
            .history
            .iter()
            .rev()
            .map(|c| super::HistoryEntry {
                at: c.at.to_string(),
                who: c.actor.clone(),
                what: match c.what.as_str() {
                    "create" => "created (OFF)".to_owned(),
                    "archive" => "archived".to_owned(),
                    other => format!("{other} to {}%", c.percent),
                },
            })
            .collect())
    }

    fn is_local(&self) -> bool {
        true
    }

    async fn archive(&self, key: &str, _comment: &str) -> Result<(), FlagsError> {
        self.modify(|flags| {
            let f = flags.get_mut(key).ok_or_else(|| not_found(key))?;
            f.archived = true;
            Ok(())
        })
    }
}
