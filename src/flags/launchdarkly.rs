//! `LaunchDarkly` REST API v2: `Authorization: <access token>` (no Bearer), `LD-API-Version:
//! 20240415`. Flags are created OFF (`isFlagOn: false`) with two boolean variations; changes use
//! semantic patch (`Content-Type: application/json; domain-model=launchdarkly.semanticpatch`):
//! `turnFlagOn`, `turnFlagOff`, `updateFallthroughVariationOrRollout` with `rolloutWeights` keyed
//! by variation `_id` in thousandths of a percent (10% = 10000; they sum to 100000), and
//! `archiveFlag`.

use reqwest::Method;
use serde_json::{Value, json};

use super::http::Api;
use super::{FlagProvider, FlagState, FlagsError, NewFlag, Rollout};
use crate::workspace::config::FlagsConfig;
use crate::workspace::secrets::Secret;

pub const API_VERSION: &str = "20240415";
pub const SEMANTIC_PATCH: &str = "application/json; domain-model=launchdarkly.semanticpatch";

#[derive(Debug, Clone)]
pub struct LaunchDarklyClient {
    api: Api,
    project: String,
    environment: String,
}

/// The ids of the `true` and `false` variations.
fn variation_ids(v: &Value) -> Option<(String, String)> {
    let vars = v["variations"].as_array()?;
    let id = |want: bool| {
        vars.iter()
            .find(|x| x["value"].as_bool() == Some(want))
            .and_then(|x| x["_id"].as_str())
            .map(str::to_owned)
    };
    Some((id(true)?, id(false)?))
}

/// The share served the `true` variation by the fallthrough, in percent.
fn fallthrough_percent(v: &Value, env: &Value) -> u32 {
    let true_index = v["variations"]
        .as_array()
        .and_then(|vs| vs.iter().position(|x| x["value"].as_bool() == Some(true)));
    let ft = &env["fallthrough"];
    if let Some(vars) = ft["rollout"]["variations"].as_array() {
        let weight: u64 = vars
            .iter()
            .filter(|x| {
                x["variation"]
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    == true_index
            })
            .filter_map(|x| x["weight"].as_u64())
            .sum();
        return u32::try_from(weight / 1000).unwrap_or(100);
    }
    match ft["variation"]
        .as_u64()
        .and_then(|i| usize::try_from(i).ok())
    {
        Some(i) if Some(i) == true_index => 100,
        Some(_) => 0,
        None => 100,
    }
}

/// Flags asked for per page of a list (the API's maximum).
const LIST_PAGE_SIZE: usize = 100;
/// A list longer than this many pages is a server that never says it is done.
const MAX_LIST_PAGES: usize = 1000;

impl LaunchDarklyClient {
    /// A client for `[flags]` (`api_base`, `project_key`, `token_env`) in `environment`.
    pub fn new(cfg: &FlagsConfig, environment: &str, token: Secret) -> Result<Self, FlagsError> {
        let project = &cfg.project_key;
        if project.trim().is_empty() {
            return Err(FlagsError::Config(
                "[flags] project_key is empty: the LaunchDarkly project key".into(),
            ));
        }
        let headers = vec![("LD-API-Version", API_VERSION)];
        Ok(Self {
            api: Api::new(&cfg.api_base, token, &cfg.token_env, headers)?,
            project: project.clone(),
            environment: environment.to_owned(),
        })
    }

    fn flag_path(&self, key: &str) -> String {
        format!("/api/v2/flags/{}/{key}", self.project)
    }

    fn state_of(&self, v: &Value) -> FlagState {
        let env = &v["environments"][self.environment.as_str()];
        let on = env["on"].as_bool().unwrap_or(false);
        FlagState {
            key: v["key"].as_str().unwrap_or_default().to_owned(),
            name: v["name"].as_str().unwrap_or_default().to_owned(),
            tags: v["tags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            environment: self.environment.clone(),
            on,
            rollout_percent: if on { fallthrough_percent(v, env) } else { 0 },
            archived: v["archived"].as_bool().unwrap_or(false),
            version: v["_version"].as_u64().map(|n| n.to_string()),
            environments: v["environments"]
                .as_object()
                .map(|envs| {
                    envs.iter()
                        .map(|(name, e)| {
                            let on = e["on"].as_bool().unwrap_or(false);
                            let rollout_percent = if on { fallthrough_percent(v, e) } else { 0 };
                            (
                                name.clone(),
                                super::EnvState {
                                    on,
                                    rollout_percent,
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    async fn patch(&self, key: &str, body: Value) -> Result<Value, FlagsError> {
        self.api
            .call(
                Method::PATCH,
                &self.flag_path(key),
                Some(&body),
                Some(SEMANTIC_PATCH),
            )
            .await
    }
}

impl FlagProvider for LaunchDarklyClient {
    async fn list(&self) -> Result<Vec<FlagState>, FlagsError> {
        // Paged (at most 100 a page): follow `_links.next` until there is none.
        let mut path = format!(
            "/api/v2/flags/{}?env={}&limit={LIST_PAGE_SIZE}&offset=0",
            self.project, self.environment
        );
        let mut out = Vec::new();
        for _ in 0..MAX_LIST_PAGES {
            let v = self.api.call(Method::GET, &path, None, None).await?;
            let items = v["items"].as_array().map(Vec::as_slice).unwrap_or_default();
            out.extend(items.iter().map(|i| self.state_of(i)));
            match v["_links"]["next"]["href"].as_str() {
                Some(next) if !items.is_empty() => path = self.api.relative(next),
                _ => return Ok(out),
            }
        }
        Err(FlagsError::Http {
            status: 200,
            message: format!(
                "the flag list did not end after {MAX_LIST_PAGES} pages of {LIST_PAGE_SIZE}"
            ),
        })
    }

    async fn get(&self, key: &str) -> Result<FlagState, FlagsError> {
        let v = self
            .api
            .call(
                Method::GET,
                &format!("{}?env={}", self.flag_path(key), self.environment),
                None,
                None,
            )
            .await?;
        Ok(self.state_of(&v))
    }

    async fn create(&self, flag: &NewFlag) -> Result<FlagState, FlagsError> {
        let body = json!({
            "key": flag.key,
            "name": flag.name,
            "description": flag.description,
            "tags": flag.tags,
            "temporary": true,
            "isFlagOn": false,
            "variations": [{"value": true, "name": "on"}, {"value": false, "name": "off"}],
            "defaults": {"onVariation": 0, "offVariation": 1},
        });
        let v = self
            .api
            .call(
                Method::POST,
                &format!("/api/v2/flags/{}", self.project),
                Some(&body),
                None,
            )
            .await?;
        Ok(self.state_of(&v))
    }

    async fn set_rollout(&self, key: &str, rollout: Rollout<'_>) -> Result<FlagState, FlagsError> {
        let Rollout { percent, comment } = rollout;
        let instructions = if percent == 0 {
            json!([{"kind": "turnFlagOff"}])
        } else {
            let current = self
                .api
                .call(Method::GET, &self.flag_path(key), None, None)
                .await?;
            let (on_id, off_id) = variation_ids(&current).ok_or_else(|| {
                FlagsError::Invalid(format!(
                    "{key} is not a boolean flag with true/false variations"
                ))
            })?;
            let on_weight = percent.min(100) * 1000;
            json!([
                {"kind": "turnFlagOn"},
                {"kind": "updateFallthroughVariationOrRollout",
                 "rolloutWeights": {on_id: on_weight, off_id: 100_000 - on_weight}},
            ])
        };
        let v = self
            .patch(
                key,
                json!({"environmentKey": self.environment, "comment": comment, "instructions": instructions}),
            )
            .await?;
        Ok(self.state_of(&v))
    }

    async fn history(&self, key: &str) -> Result<Vec<super::HistoryEntry>, FlagsError> {
        let spec = format!("proj/{}:env/{}:flag/{key}", self.project, self.environment);
        let v = self
            .api
            .call(
                Method::GET,
                &format!("/api/v2/auditlog?spec={spec}"),
                None,
                None,
            )
            .await?;
        Ok(v["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| super::HistoryEntry {
                        at: i["date"]
                            .as_i64()
                            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                            .map(|t| t.to_string())
                            .unwrap_or_default(),
                        who: i["member"]["email"]
                            .as_str()
                            .or_else(|| i["token"]["name"].as_str())
                            .unwrap_or("unknown")
                            .to_owned(),
                        what: i["shortDescription"]
                            .as_str()
                            .or_else(|| i["description"].as_str())
                            .or_else(|| i["title"].as_str())
                            .unwrap_or_default()
                            .to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn archive(&self, key: &str, comment: &str) -> Result<(), FlagsError> {
        self.patch(
            key,
            json!({"comment": comment, "instructions": [{"kind": "archiveFlag"}]}),
        )
        .await?;
        Ok(())
    }
}
