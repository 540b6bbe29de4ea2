//! `[deploy]`: rolling out the backend (Argo CD).

use serde::{Deserialize, Serialize};

use super::SecretSetting;

/// `[deploy]`: rolling out the backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeployConfig {
    /// `[deploy.argocd]`: the Argo CD application the backend is; none: no backend rollout here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdConfig>,
}

impl DeployConfig {
    pub fn is_empty(&self) -> bool {
        self.argocd.is_none()
    }
}

/// `[deploy.argocd]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArgoCdConfig {
    /// `https://argocd.example.com` (the API is under `/api/v1`).
    pub api_base: String,
    pub application: String,
    /// The application's namespace and project, when the server needs them.
    pub app_namespace: String,
    pub project: String,
    /// The variable (or keyring entry) holding the API token.
    pub token_env: String,
    /// Where the secret is instead: `env:NAME`, `keyring:NAME` or
    /// `aws-sm:SECRET-ID[#json-key]` (AWS Secrets Manager, `[aws]`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_secret: String,
    /// The Git revision a release deploys; `{version}` is the release's version.
    pub revision: String,
    /// Delete resources no longer in Git while syncing.
    pub prune: bool,
    /// How long a rollout may take to be Synced and Healthy.
    pub timeout_mins: f64,
    /// How often the application is read while it rolls out.
    pub poll_interval_ms: u64,
}

impl Default for ArgoCdConfig {
    fn default() -> Self {
        Self {
            api_base: String::new(),
            application: String::new(),
            app_namespace: String::new(),
            project: String::new(),
            token_env: "ARGOCD_AUTH_TOKEN".to_owned(),
            token_secret: String::new(),
            revision: "v{version}".to_owned(),
            prune: false,
            timeout_mins: 30.0,
            poll_interval_ms: 5000,
        }
    }
}

impl ArgoCdConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if !(self.api_base.starts_with("http://") || self.api_base.starts_with("https://")) {
            return Err(format!(
                "key `deploy.argocd.api_base`: {:?} is not an http(s) URL",
                self.api_base
            ));
        }
        if self.application.trim().is_empty() {
            return Err("key `deploy.argocd.application`: name the Argo CD application".into());
        }
        if !(self.timeout_mins.is_finite() && self.timeout_mins > 0.0) || self.poll_interval_ms == 0
        {
            return Err(
                "keys `deploy.argocd.timeout_mins` and `poll_interval_ms`: must be above 0".into(),
            );
        }
        Ok(())
    }
}

impl DeployConfig {
    /// The Argo CD API token, when there is a backend to roll out.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        self.argocd
            .iter()
            .map(|a| {
                SecretSetting::new(
                    "deploy.argocd",
                    "token_env",
                    &a.token_env,
                    "Argo CD API token",
                )
                .with_source("token_secret", &a.token_secret)
                .needed(true, "now: rolling out the backend")
            })
            .collect()
    }
}
