//! The provider sections: `[status_page]` and `[flags]`.

use serde::{Deserialize, Serialize};

use super::SecretSetting;

/// Which status page provider posts incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusPageProvider {
    #[default]
    Local,
    Statuspage,
}

/// `[status_page]`: where incidents and component states are published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusPageConfig {
    pub provider: StatusPageProvider,
    pub api_base: String,
    pub page_id: String,
    /// Name of the environment variable holding the API key (never the key itself).
    pub api_key_env: String,
    /// Where the secret is instead: `env:NAME`, `keyring:NAME` or
    /// `aws-sm:SECRET-ID[#json-key]` (AWS Secrets Manager, `[aws]`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_key_secret: String,
    pub components: Vec<String>,
    /// Pause between API requests: Statuspage allows about one request per second per key.
    pub min_request_interval_ms: u64,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        Self {
            provider: StatusPageProvider::Local,
            api_base: "https://api.statuspage.io/v1".to_owned(),
            page_id: String::new(),
            api_key_env: "STATUSPAGE_API_KEY".to_owned(),
            api_key_secret: String::new(),
            components: ["api", "collaboration", "import-export", "desktop-downloads"]
                .map(str::to_owned)
                .to_vec(),
            min_request_interval_ms: 1000,
        }
    }
}

/// Which feature flag provider holds the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagsProvider {
    #[default]
    Local,
    Launchdarkly,
    Unleash,
}

/// `[flags]`: feature flag provider and naming convention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlagsConfig {
    pub provider: FlagsProvider,
    pub api_base: String,
    pub project_key: String,
    pub environment: String,
    /// Name of the environment variable holding the access token.
    pub token_env: String,
    /// Where the secret is instead: `env:NAME`, `keyring:NAME` or
    /// `aws-sm:SECRET-ID[#json-key]` (AWS Secrets Manager, `[aws]`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_secret: String,
    /// Allowed `{prefix}` values in `{prefix}_{feature_name}`.
    pub prefixes: Vec<String>,
    /// Rollout stages in percent, ending at 100.
    pub stages: Vec<u32>,
    /// Minimum hold of each stage before the next, in hours (10%: 2 h, 50%: 24 h).
    pub min_hold_hours: Vec<u64>,
    /// A flag at 100% this long is listed for retirement.
    pub retire_after_days: u64,
    /// Target lifespan of a flag, creation to retirement.
    pub lifespan_target_days: u64,
}

impl FlagsConfig {
    /// The stages for people: `10% (hold 2 h) -> 50% (hold 24 h) -> 100%`.
    pub fn stages_text(&self) -> String {
        self.stages
            .iter()
            .enumerate()
            .map(|(i, s)| match self.min_hold_hours.get(i) {
                Some(h) if i + 1 < self.stages.len() => format!("{s}% (hold {h} h)"),
                _ => format!("{s}%"),
            })
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

impl Default for FlagsConfig {
    fn default() -> Self {
        Self {
            provider: FlagsProvider::Local,
            api_base: "https://app.launchdarkly.com".to_owned(),
            project_key: String::new(),
            environment: "production".to_owned(),
            token_env: "LAUNCHDARKLY_ACCESS_TOKEN".to_owned(),
            token_secret: String::new(),
            prefixes: ["ui", "api", "collab", "export"]
                .map(str::to_owned)
                .to_vec(),
            stages: vec![10, 50, 100],
            min_hold_hours: vec![2, 24],
            retire_after_days: 14,
            lifespan_target_days: 60,
        }
    }
}

impl StatusPageConfig {
    /// Its API key.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        let in_use = self.provider != StatusPageProvider::Local;
        vec![
            SecretSetting::new(
                "status_page",
                "api_key_env",
                &self.api_key_env,
                "Status page API key",
            )
            .with_source("api_key_secret", &self.api_key_secret)
            .needed(in_use, provider_needs(in_use, "statuspage")),
        ]
    }
}

impl FlagsConfig {
    /// Its provider's access token.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        let in_use = self.provider != FlagsProvider::Local;
        let name = format!("{:?}", self.provider).to_lowercase();
        vec![
            SecretSetting::new(
                "flags",
                "token_env",
                &self.token_env,
                "Feature flag provider token",
            )
            .with_source("token_secret", &self.token_secret)
            .needed(in_use, provider_needs(in_use, &name)),
        ]
    }
}

fn provider_needs(in_use: bool, name: &str) -> String {
    if in_use {
        format!("now: provider {name}")
    } else {
        "not with the local provider".to_owned()
    }
}
