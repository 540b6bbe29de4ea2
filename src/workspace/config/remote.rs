//! `[remote]`: CI engines that build the platforms this host cannot.

use serde::{Deserialize, Serialize};

use super::{AwsConfig, SecretSetting};

/// `[remote]`: where platforms with `runner = "github"` in the pipeline definition build.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    /// `[remote.github]`: GitHub Actions (github.com or GitHub Enterprise Server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GitHubConfig>,
}

impl RemoteConfig {
    pub fn is_empty(&self) -> bool {
        self.github.is_none()
    }
}

/// `[remote.github]`: the repository whose workflow builds the installers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitHubConfig {
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_base: String,
    /// `owner/name`.
    pub repo: String,
    /// The workflow's file name (`release.yml`) or id.
    pub workflow: String,
    /// The branch or tag the workflow runs on.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The variable (or keyring entry) holding a token that may run workflows (`actions: write`).
    pub token_env: String,
    /// Where the token is instead: `env:NAME`, `keyring:NAME` or `aws-sm:SECRET-ID[#json-key]`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_secret: String,
    /// The artifact a platform's job uploads; `{platform}` and `{version}` are filled in.
    pub artifact: String,
    /// How often the run and its jobs are read while it builds (a 304 costs no rate limit).
    pub poll_interval_ms: u64,
    /// How long one API request waits for GitHub's answer. A dispatch whose answer does not
    /// come in time may have started a build: its run is looked for before any other dispatch.
    pub timeout_secs: u64,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.github.com".to_owned(),
            repo: String::new(),
            workflow: "release.yml".to_owned(),
            git_ref: "main".to_owned(),
            token_env: "GITHUB_TOKEN".to_owned(),
            token_secret: String::new(),
            artifact: "{platform}-{version}".to_owned(),
            poll_interval_ms: 5000,
            timeout_secs: 30,
        }
    }
}

impl GitHubConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if !(self.api_base.starts_with("http://") || self.api_base.starts_with("https://")) {
            return Err(format!(
                "key `remote.github.api_base`: {:?} is not an http(s) URL",
                self.api_base
            ));
        }
        let parts: Vec<&str> = self.repo.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(format!(
                "key `remote.github.repo`: {:?} is not `owner/name`",
                self.repo
            ));
        }
        if self.workflow.trim().is_empty() || self.workflow.contains('/') {
            return Err(format!(
                "key `remote.github.workflow`: {:?} must be the workflow's file name (e.g. \
                 \"release.yml\") or id",
                self.workflow
            ));
        }
        if self.git_ref.trim().is_empty() {
            return Err("key `remote.github.ref`: name the branch or tag to run on".into());
        }
        if !self.artifact.contains("{platform}") {
            return Err(format!(
                "key `remote.github.artifact`: {:?} must contain {{platform}}, or every \
                 platform would download the same artifact",
                self.artifact
            ));
        }
        if self.poll_interval_ms == 0 {
            return Err("key `remote.github.poll_interval_ms`: must be above 0".into());
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return Err("key `remote.github.timeout_secs`: must be between 1 and 600".into());
        }
        Ok(())
    }

    /// The token from its source. Blocking (a keyring or AWS lookup).
    pub fn token(
        &self,
        aws: &AwsConfig,
    ) -> Result<Option<crate::workspace::secrets::Secret>, String> {
        crate::workspace::secrets::resolve(&self.token_env, &self.token_secret, aws)
    }
}

impl RemoteConfig {
    /// The GitHub token, when builds run on GitHub Actions.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        self.github
            .iter()
            .map(|g| {
                SecretSetting::new(
                    "remote.github",
                    "token_env",
                    &g.token_env,
                    "GitHub token (Actions: write)",
                )
                .with_source("token_secret", &g.token_secret)
                .needed(true, format!("now: remote builds in {}", g.repo))
            })
            .collect()
    }
}
