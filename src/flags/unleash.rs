//! Unleash Admin API (open source, self-hosted): `Authorization: <admin token>`; flags in a
//! project; a `flexibleRollout` strategy per environment carries the percentage
//! (`{"rollout": "10", "stickiness": "default", "groupId": key}`); `/on` and `/off` per
//! environment; archive with `DELETE /api/admin/projects/{p}/features/{key}`.

use reqwest::Method;
use serde_json::{Value, json};

use super::http::Api;
use super::{FlagProvider, FlagState, FlagsError, NewFlag, Rollout};
use crate::workspace::config::FlagsConfig;
use crate::workspace::secrets::Secret;

#[derive(Debug, Clone)]
pub struct UnleashClient {
    api: Api,
    project: String,
    environment: String,
}

impl UnleashClient {
    /// A client for `[flags]` (`api_base`, `project_key`, `token_env`) in `environment`.
    pub fn new(cfg: &FlagsConfig, environment: &str, token: Secret) -> Result<Self, FlagsError> {
        let project = &cfg.project_key;
        if project.trim().is_empty() {
            return Err(FlagsError::Config(
                "[flags] project_key is empty: the Unleash project id (\"default\" on a new server)"
                    .into(),
            ));
        }
        Ok(Self {
            api: Api::new(&cfg.api_base, token, &cfg.token_env, Vec::new())?,
            project: project.clone(),
            environment: environment.to_owned(),
        })
    }

    fn feature_path(&self, key: &str) -> String {
        format!("/api/admin/projects/{}/features/{key}", self.project)
    }

    fn strategies_path(&self, key: &str) -> String {
        format!(
            "{}/environments/{}/strategies",
            self.feature_path(key),
            self.environment
        )
    }

    async fn tags(&self, key: &str) -> Result<Vec<String>, FlagsError> {
        let v = self
            .api
            .call(
                Method::GET,
                &format!("/api/admin/features/{key}/tags"),
                None,
                None,
            )
            .await?;
        Ok(v["tags"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| t["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The flag in the configured environment, from `GET .../features/{key}`.
    fn state_of(&self, v: &Value, tags: Vec<String>) -> Result<FlagState, FlagsError> {
        let key = v["name"].as_str().unwrap_or_default().to_owned();
        let env = v["environments"]
            .as_array()
            .and_then(|es| es.iter().find(|e| e["name"] == self.environment.as_str()))
            .ok_or_else(|| {
                FlagsError::Config(format!(
                    "environment {:?} is not enabled in Unleash project {:?} ([flags] environment)",
                    self.environment, self.project
                ))
            })?;
        let on = env["enabled"].as_bool().unwrap_or(false);
        let rollout = rollout_strategy(env).map_or(100, |(_, p)| p);
        Ok(FlagState {
            key: key.clone(),
            name: v["description"]
                .as_str()
                .filter(|d| !d.is_empty())
                .unwrap_or(&key)
                .to_owned(),
            tags,
            environment: self.environment.clone(),
            on,
            rollout_percent: if on { rollout } else { 0 },
            archived: v["archived"].as_bool().unwrap_or(false),
            version: None,
            environments: v["environments"]
                .as_array()
                .map(|envs| {
                    envs.iter()
                        .filter_map(|e| {
                            let on = e["enabled"].as_bool().unwrap_or(false);
                            let percent = rollout_strategy(e).map_or(100, |(_, p)| p);
                            Some((
                                e["name"].as_str()?.to_owned(),
                                super::EnvState {
                                    on,
                                    rollout_percent: if on { percent } else { 0 },
                                },
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// The `flexibleRollout` strategy of an environment: its id and percentage.
fn rollout_strategy(env: &Value) -> Option<(String, u32)> {
    env["strategies"].as_array()?.iter().find_map(|s| {
        if s["name"] != "flexibleRollout" {
            return None;
        }
        let p = &s["parameters"]["rollout"];
        let percent = p
            .as_str()
            .and_then(|r| r.parse().ok())
            .or_else(|| p.as_u64().and_then(|n| u32::try_from(n).ok()))?;
        Some((s["id"].as_str()?.to_owned(), percent))
    })
}

impl FlagProvider for UnleashClient {
    async fn list(&self) -> Result<Vec<FlagState>, FlagsError> {
        let v = self
            .api
            .call(
                Method::GET,
                &format!("/api/admin/projects/{}/features", self.project),
                None,
                None,
            )
            .await?;
        let keys: Vec<String> = v["features"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| f["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        for k in keys {
            out.push(self.get(&k).await?);
        }
        Ok(out)
    }

    async fn get(&self, key: &str) -> Result<FlagState, FlagsError> {
        let v = self
            .api
            .call(Method::GET, &self.feature_path(key), None, None)
            .await?;
        let tags = self.tags(key).await?;
        self.state_of(&v, tags)
    }

    async fn create(&self, flag: &NewFlag) -> Result<FlagState, FlagsError> {
        let body = json!({
            "name": flag.key,
            "type": "release",
            "description": flag.name,
            "impressionData": false,
        });
        self.api
            .call(
                Method::POST,
                &format!("/api/admin/projects/{}/features", self.project),
                Some(&body),
                None,
            )
            .await?;
        for tag in &flag.tags {
            self.api
                .call(
                    Method::POST,
                    &format!("/api/admin/features/{}/tags", flag.key),
                    Some(&json!({"type": "simple", "value": tag})),
                    None,
                )
                .await?;
        }
        self.get(&flag.key).await
    }

    async fn set_rollout(&self, key: &str, rollout: Rollout<'_>) -> Result<FlagState, FlagsError> {
        let percent = rollout.percent;
        let env_path = format!(
            "{}/environments/{}",
            self.feature_path(key),
            self.environment
        );
        if percent == 0 {
            self.api
                .call(Method::POST, &format!("{env_path}/off"), None, None)
                .await?;
            return self.get(key).await;
        }
        let v = self
            .api
            .call(Method::GET, &self.feature_path(key), None, None)
            .await?;
        let existing = v["environments"]
            .as_array()
            .and_then(|es| es.iter().find(|e| e["name"] == self.environment.as_str()))
            .and_then(rollout_strategy);
        let strategy = json!({
            "name": "flexibleRollout",
            "constraints": [],
            "parameters": {"rollout": percent.to_string(), "stickiness": "default", "groupId": key},
        });
        match existing {
            Some((id, _)) => {
                self.api
                    .call(
                        Method::PUT,
                        &format!("{}/{id}", self.strategies_path(key)),
                        Some(&strategy),
                        None,
                    )
                    .await?;
            }
            None => {
                self.api
                    .call(
                        Method::POST,
                        &self.strategies_path(key),
                        Some(&strategy),
                        None,
                    )
                    .await?;
            }
        }
        self.api
            .call(Method::POST, &format!("{env_path}/on"), None, None)
            .await?;
        self.get(key).await
    }

    async fn history(&self, key: &str) -> Result<Vec<super::HistoryEntry>, FlagsError> {
        let v = self
            .api
            .call(
                Method::GET,
                &format!("/api/admin/search/events?feature=IS:{key}"),
                None,
                None,
            )
            .await?;
        Ok(v["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| super::HistoryEntry {
                        at: e["createdAt"].as_str().unwrap_or_default().to_owned(),
                        who: e["createdBy"].as_str().unwrap_or_default().to_owned(),
                        what: match e["environment"].as_str() {
                            Some(env) => {
                                format!("{} ({env})", e["type"].as_str().unwrap_or("event"))
                            }
                            None => e["type"].as_str().unwrap_or("event").to_owned(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn archive(&self, key: &str, _comment: &str) -> Result<(), FlagsError> {
        self.api
            .call(Method::DELETE, &self.feature_path(key), None, None)
            .await?;
        Ok(())
    }
}
