//! `[source]`: the product's git repository (a local clone) and, for release notes, GitHub.

use serde::{Deserialize, Serialize};

use super::{AwsConfig, SecretSetting};

/// `[source]`: the product's git repository, a local clone the console reads and branches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// The clone, relative to the workspace (or absolute).
    pub repo: String,
    /// The remote whose branches stand in for missing local ones (`origin/main`).
    pub remote: String,
    /// A release's tag; `{version}` is replaced (`v{version}` tags 1.2.3 as `v1.2.3`).
    pub tag_format: String,
    /// Where every fix must end up.
    pub main_branch: String,
    /// A hotfix's branch; `{version}` is the hotfix's version.
    pub hotfix_branch: String,
    /// A regular expression: a hotfix commit whose subject matches is a feature, flagged for
    /// the fast-track review.
    pub feature_pattern: String,
    /// A hotfix commit changing more lines than this (added plus deleted) is flagged too.
    pub max_hotfix_commit_lines: u64,
    /// `[source.github]`: merged pull requests for the release notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<SourceGitHubConfig>,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            repo: String::new(),
            remote: "origin".to_owned(),
            tag_format: "v{version}".to_owned(),
            main_branch: "main".to_owned(),
            hotfix_branch: "hotfix/v{version}".to_owned(),
            feature_pattern: r"(?i)^feat(\(.*\))?!?:|\bfeat\b".to_owned(),
            max_hotfix_commit_lines: 200,
            github: None,
        }
    }
}

/// `[source.github]`: the repository on GitHub, for pull requests' titles and numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceGitHubConfig {
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_base: String,
    /// `owner/name`.
    pub repo: String,
    /// The variable (or keyring entry) holding a token that may read pull requests.
    pub token_env: String,
    /// Where the token is instead: `env:NAME`, `keyring:NAME` or `aws-sm:SECRET-ID[#json-key]`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_secret: String,
    /// How long one API request waits for GitHub's answer.
    pub timeout_secs: u64,
}

impl Default for SourceGitHubConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.github.com".to_owned(),
            repo: String::new(),
            token_env: "GITHUB_TOKEN".to_owned(),
            token_secret: String::new(),
            timeout_secs: 30,
        }
    }
}

impl SourceGitHubConfig {
    /// The token from its source, if any. Blocking (a keyring or AWS lookup).
    pub fn token(
        &self,
        aws: &AwsConfig,
    ) -> Result<Option<crate::workspace::secrets::Secret>, String> {
        crate::workspace::secrets::resolve(&self.token_env, &self.token_secret, aws)
    }
}

/// A git ref name the console may pass as an argument: not empty, no option-like start, and
/// within `git check-ref-format`'s rules that can be checked without git.
pub fn is_safe_ref_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.to_ascii_lowercase().ends_with(".lock")
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains("//")
        && !name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
}

impl SourceConfig {
    /// Every key that is wrong, as `(key, message)`: the first is reported at its line.
    pub(super) fn problem(&self) -> Option<(&'static str, String)> {
        if self.repo.trim().is_empty() {
            return Some(("repo", "name the product's local clone".into()));
        }
        if !self.tag_format.contains("{version}") {
            return Some((
                "tag_format",
                format!("{:?} must contain {{version}}", self.tag_format),
            ));
        }
        if !is_safe_ref_name(&self.tag_format.replace("{version}", "1.0.0")) {
            return Some((
                "tag_format",
                format!("{:?} is not a valid tag name", self.tag_format),
            ));
        }
        if !is_safe_ref_name(&self.main_branch) {
            return Some((
                "main_branch",
                format!("{:?} is not a valid branch name", self.main_branch),
            ));
        }
        if !is_safe_ref_name(&self.remote) || self.remote.contains('/') {
            return Some((
                "remote",
                format!("{:?} is not a remote's name", self.remote),
            ));
        }
        if !self.hotfix_branch.contains("{version}")
            || !is_safe_ref_name(&self.hotfix_branch.replace("{version}", "1.0.1"))
        {
            return Some((
                "hotfix_branch",
                format!(
                    "{:?} must be a branch name containing {{version}}",
                    self.hotfix_branch
                ),
            ));
        }
        if let Err(e) = regex::Regex::new(&self.feature_pattern) {
            return Some((
                "feature_pattern",
                format!(
                    "not a regular expression: {}",
                    e.to_string().replace('\n', " ")
                ),
            ));
        }
        if self.max_hotfix_commit_lines == 0 {
            return Some(("max_hotfix_commit_lines", "must be above 0".into()));
        }
        None
    }
}

impl SourceGitHubConfig {
    pub(super) fn problem(&self) -> Option<(&'static str, String)> {
        if !(self.api_base.starts_with("http://") || self.api_base.starts_with("https://")) {
            return Some((
                "api_base",
                format!("{:?} is not an http(s) URL", self.api_base),
            ));
        }
        let parts: Vec<&str> = self.repo.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.trim().is_empty()) {
            return Some(("repo", format!("{:?} is not `owner/name`", self.repo)));
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return Some(("timeout_secs", "must be between 1 and 600".into()));
        }
        None
    }
}

impl SourceConfig {
    /// The GitHub token, when pull requests are read for the release notes.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        self.github
            .iter()
            .map(|g| {
                SecretSetting::new(
                    "source.github",
                    "token_env",
                    &g.token_env,
                    "GitHub token (pull requests: read)",
                )
                .with_source("token_secret", &g.token_secret)
                .needed(true, format!("now: release notes from {}", g.repo))
            })
            .collect()
    }
}
