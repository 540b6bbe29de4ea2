//! `release-console.toml`: the typed workspace configuration.
//!
//! Unknown keys and bad values are errors naming the file, line and key, so a typo never turns
//! silently into a default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the workspace configuration inside a workspace folder.
pub const CONFIG_FILE: &str = "release-console.toml";

/// The whole workspace configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub product: Product,
    /// Who ticks and acts; empty means the OS user running the console.
    #[serde(default)]
    pub actor: String,
    /// Platforms this product ships installers for.
    pub platforms: Vec<Platform>,
    /// Extra environment variables whose values are secrets (redacted from every log line),
    /// besides the provider keys named below.
    #[serde(default)]
    pub secret_env: Vec<String>,
    #[serde(default)]
    pub status_page: StatusPageConfig,
    #[serde(default)]
    pub flags: FlagsConfig,
    #[serde(default)]
    pub kpi: KpiConfig,
    #[serde(default)]
    pub signing: SigningConfig,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub findings: FindingsConfig,
    #[serde(default)]
    pub publish: PublishConfig,
    #[serde(default, skip_serializing_if = "DeployConfig::is_empty")]
    pub deploy: DeployConfig,
    #[serde(default)]
    pub aws: AwsConfig,
    /// `[notify]`: who hears about releases and incidents (PagerDuty, Slack).
    #[serde(default, skip_serializing_if = "NotifyConfig::is_empty")]
    pub notify: NotifyConfig,
    /// Secrets kept elsewhere (a vault, AWS Secrets Manager) whose rotation the console tracks,
    /// besides the provider keys and signing certificates it knows from this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotation: Vec<RotationEntry>,
    /// `[remote]`: CI engines that build the platforms this host cannot (GitHub Actions).
    #[serde(default, skip_serializing_if = "RemoteConfig::is_empty")]
    pub remote: RemoteConfig,
    /// `[source]`: the product's repository (a local clone): hotfix branches, tags, notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceConfig>,
}

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
    pub fn token(&self, aws: &AwsConfig) -> Result<Option<super::secrets::Secret>, String> {
        super::secrets::resolve(&self.token_env, &self.token_secret, aws)
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
    fn problem(&self) -> Option<(&'static str, String)> {
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
    fn problem(&self) -> Option<(&'static str, String)> {
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
        if !self.token_secret.trim().is_empty()
            && let Err(e) = super::secrets::SecretRef::parse(&self.token_secret)
        {
            return Some(("token_secret", e));
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return Some(("timeout_secs", "must be between 1 and 600".into()));
        }
        None
    }
}

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
    fn validate(&self) -> Result<(), String> {
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
        if !self.token_secret.trim().is_empty() {
            super::secrets::SecretRef::parse(&self.token_secret)
                .map_err(|e| format!("key `remote.github.token_secret`: {e}"))?;
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
    pub fn token(&self, aws: &AwsConfig) -> Result<Option<super::secrets::Secret>, String> {
        super::secrets::resolve(&self.token_env, &self.token_secret, aws)
    }
}

/// Where installers are published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A folder (the default, and the demo's), with `file://` links unless `public_base_url`
    /// says where it is served.
    #[default]
    Local,
    /// Any S3-compatible endpoint (AWS, `SeaweedFS`, `MinIO`, R2).
    S3,
}

/// `[publish]`: where installers, their checksums and the update feeds go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublishConfig {
    pub store: StoreKind,
    /// The local store's folder, relative to the workspace.
    pub folder: String,
    /// Key prefix; `{product}` is the product name. Installers go to `{prefix}{version}/`,
    /// the feeds of a channel to `{prefix}{channel}/`.
    pub prefix: String,
    /// The URL the store is served from (a CDN or website); empty: the store's own links.
    pub public_base_url: String,
    /// The update channel `publish` writes the feeds of.
    pub channel: String,
    /// `sparkle:minimumSystemVersion` of the macOS update.
    pub macos_minimum_system_version: String,
    /// `sparkle:phasedRolloutInterval` (seconds), when the update rolls out in phases.
    pub phased_rollout_interval_secs: Option<u64>,
    /// The S3 bucket (store `s3`).
    pub bucket: String,
    /// `http(s)://host[:port]` of an S3-compatible server; empty: AWS in `region`.
    pub endpoint: String,
    pub region: String,
    /// `host/bucket/key` URLs rather than `bucket.host/key`; default: path style with an
    /// `endpoint`, virtual-hosted on AWS.
    pub path_style: Option<bool>,
    /// The variables (or keyring entries) holding the access key, the secret key and an
    /// optional session token.
    pub access_key_env: String,
    pub secret_key_env: String,
    pub session_token_env: String,
    /// Where the secret is instead: `env:NAME`, `keyring:NAME` or
    /// `aws-sm:SECRET-ID[#json-key]` (AWS Secrets Manager, `[aws]`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access_key_secret: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_key_secret: String,
    /// Files of this size and more go as multipart uploads.
    pub multipart_threshold_mib: u64,
    /// The size of one part (grown when a file would need more than 10 000).
    pub part_size_mib: u64,
    /// Parts in memory (read or being sent) at once; default: as many as fit in 40 MiB, 2 to 8.
    pub parallel_parts: Option<usize>,
    /// The variable (or keyring entry) with Sparkle's `EdDSA` private key (the base64 seed that
    /// `generate_keys -x` exports); when set, the appcast carries `sparkle:edSignature`.
    pub sparkle_ed_key_env: String,
    /// Where the secret is instead: `env:NAME`, `keyring:NAME` or
    /// `aws-sm:SECRET-ID[#json-key]` (AWS Secrets Manager, `[aws]`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sparkle_ed_key_secret: String,
    /// The app's `SUPublicEDKey`: the key above must match it.
    pub sparkle_public_key: String,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            store: StoreKind::Local,
            folder: "published".to_owned(),
            prefix: "{product}/releases/".to_owned(),
            public_base_url: String::new(),
            channel: "stable".to_owned(),
            macos_minimum_system_version: "10.15".to_owned(),
            phased_rollout_interval_secs: None,
            bucket: String::new(),
            endpoint: String::new(),
            region: "us-east-1".to_owned(),
            path_style: None,
            access_key_env: "AWS_ACCESS_KEY_ID".to_owned(),
            secret_key_env: "AWS_SECRET_ACCESS_KEY".to_owned(),
            session_token_env: "AWS_SESSION_TOKEN".to_owned(),
            access_key_secret: String::new(),
            secret_key_secret: String::new(),
            multipart_threshold_mib: 64,
            part_size_mib: 8,
            parallel_parts: None,
            sparkle_ed_key_env: "SPARKLE_ED_PRIVATE_KEY".to_owned(),
            sparkle_ed_key_secret: String::new(),
            sparkle_public_key: String::new(),
        }
    }
}

/// `[aws]`: where the AWS APIs (`CloudWatch`, Secrets Manager) are and as whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    pub region: String,
    /// One URL for every AWS service (a VPC endpoint, a local stand-in); empty: AWS itself.
    pub endpoint: String,
    /// The profile of `~/.aws/credentials` used when the standard variables are not set
    /// (empty: `$AWS_PROFILE`, else `default`).
    pub profile: String,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            endpoint: String::new(),
            profile: String::new(),
        }
    }
}

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

/// How notifications leave the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Sent to PagerDuty and Slack (the default).
    #[default]
    Live,
    /// Kept in the workspace's outbox as delivered, never sent: the demo's, and a dry run's.
    Local,
}

/// `[notify]`: the outbox and its destinations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    pub deliver: Delivery,
    /// How long a CLI command waits, before it exits, for what it queued to be sent; what is
    /// left stays queued for `notify flush` or the next start.
    pub cli_wait_secs: u64,
    /// Attempts per delivery before it is left failed (a Retry starts over).
    pub max_attempts: u32,
    /// How long one send waits for the service's answer. A send that times out may have
    /// arrived: a Slack message or change event is then left uncertain, never sent again by
    /// itself.
    pub timeout_secs: u64,
    /// `[notify.pagerduty]`: pages for incidents, change events for release milestones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagerduty: Option<PagerDutyConfig>,
    /// `[[notify.slack]]`: one incoming webhook per channel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack: Vec<SlackConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            deliver: Delivery::Live,
            cli_wait_secs: 15,
            max_attempts: 8,
            timeout_secs: 30,
            pagerduty: None,
            slack: Vec::new(),
        }
    }
}

impl NotifyConfig {
    pub fn is_empty(&self) -> bool {
        self.pagerduty.is_none() && self.slack.is_empty()
    }
}

/// `[notify.pagerduty]`: PagerDuty Events API v2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDutyConfig {
    /// `https://events.pagerduty.com` (the API is under `/v2`).
    pub api_base: String,
    /// The variable (or keyring entry) holding the service's integration (routing) key.
    pub routing_key_env: String,
    /// Where the key is instead: `env:NAME`, `keyring:NAME` or `aws-sm:SECRET-ID[#json-key]`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub routing_key_secret: String,
    /// Incident severities that page (a `trigger`, resolved with the same `dedup_key`).
    pub page_on: Vec<String>,
    /// Events sent as change events (globs such as `"release.*"`).
    pub changes: Vec<String>,
    /// The service's escalation policy as people see it on the incident card.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalation: Vec<EscalationLevel>,
}

impl Default for PagerDutyConfig {
    fn default() -> Self {
        Self {
            api_base: "https://events.pagerduty.com".to_owned(),
            routing_key_env: "PAGERDUTY_ROUTING_KEY".to_owned(),
            routing_key_secret: String::new(),
            page_on: vec!["P0".to_owned(), "P1".to_owned()],
            changes: vec![
                "release.published".to_owned(),
                "release.yanked".to_owned(),
                "backend.*".to_owned(),
            ],
            escalation: Vec::new(),
        }
    }
}

/// One level of an escalation policy: who, and within how many minutes of the page they are
/// reached (the seed: on-call < 5 min, DevOps lead < 15, engineering manager < 30).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    pub who: String,
    pub within_mins: u32,
}

/// `[[notify.slack]]`: a channel's incoming webhook and the events it hears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// `#devops`: what the card and the outbox call it (the webhook decides where it posts).
    pub channel: String,
    /// The variable (or keyring entry) holding the webhook URL, which is a secret.
    pub webhook_env: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub webhook_secret: String,
    /// Event names or globs: `"incident.*"`, `"release.published"`, `"*"`.
    pub events: Vec<String>,
}

/// `[[rotation]]`: one secret and how often it must be rotated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationEntry {
    /// Its name where it lives, e.g. `/wiretuner/db/credentials` or `STATUSPAGE_API_KEY`.
    pub name: String,
    pub kind: SecretKind,
    /// Overrides the kind's period: 0 to [`MAX_DAYS`] (0: due as soon as it is rotated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_days: Option<u32>,
    /// Where its rotation dates come from: empty, rotations recorded here
    /// (`secrets rotated`); `"aws-sm"`, AWS Secrets Manager's `DescribeSecret` of `name` too.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub store: String,
}

/// What a secret is, which sets how often it is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// Every 90 days.
    DatabasePassword,
    /// Every 180 days.
    ApiKey,
    /// Before it expires, at least every year.
    SigningCertificate,
}

impl SecretKind {
    /// The seed's schedule.
    pub fn period_days(self) -> u32 {
        match self {
            SecretKind::DatabasePassword => 90,
            SecretKind::ApiKey => 180,
            SecretKind::SigningCertificate => 365,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::DatabasePassword => "database password",
            SecretKind::ApiKey => "API key",
            SecretKind::SigningCertificate => "signing certificate",
        }
    }
}

/// `[findings]`: which scanner findings block a release, and how long a risk may be accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FindingsConfig {
    /// Severities that block until fixed or accepted (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`,
    /// `UNKNOWN`).
    pub block: Vec<String>,
    /// The longest a risk acceptance may run: 1 to [`MAX_DAYS`].
    pub max_acceptance_days: u32,
    /// Whether a finding the scanner itself suppressed (VEX, ignore files) counts as accepted.
    pub scanner_suppressions_accept: bool,
}

impl Default for FindingsConfig {
    fn default() -> Self {
        Self {
            block: vec!["CRITICAL".to_owned(), "HIGH".to_owned()],
            max_acceptance_days: 90,
            scanner_suppressions_accept: false,
        }
    }
}

/// `[pipeline]`: which installer pipelines to run and what goes into them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Pipeline definition, relative to the workspace (or absolute).
    pub definition: String,
    /// Platforms `pipeline run` builds by default.
    pub platforms: Vec<String>,
    /// What goes into the installer (the Flutter build output in real use).
    pub payload_dir: String,
    /// The Flutter app, for builders that run `flutter build` (relative to the workspace or
    /// absolute).
    pub app_dir: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            definition: "packaging/pipelines/default.toml".to_owned(),
            platforms: ["macos", "windows", "windows-on-linux"]
                .map(str::to_owned)
                .to_vec(),
            payload_dir: "payload".to_owned(),
            app_dir: ".".to_owned(),
        }
    }
}

/// `[signing]`: the identities releases must be signed with, and where the signing
/// certificate comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// Variable holding the path of the Windows code-signing PFX.
    pub windows_pfx_path_env: String,
    /// Variable holding its password.
    pub windows_pfx_password_env: String,
    /// Where the password is instead: `env:NAME`, `keyring:NAME` or
    /// `aws-sm:SECRET-ID[#json-key]` (e.g. `aws-sm:/wiretuner/signing/windows#pfx_password`).
    /// The builder still gets it as `$WINDOWS_PFX_PASSWORD`, in its environment only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub windows_pfx_password_secret: String,
    /// Subject common name of the Windows code-signing certificate.
    pub windows_publisher: String,
    /// Optional SHA-256 fingerprint pin of that certificate.
    pub windows_cert_sha256: String,
    /// Apple Developer Team ID.
    pub apple_team_id: String,
    /// Certificates (PEM), relative to the workspace, trusted for Authenticode besides Windows'
    /// pinned code-signing roots (and for Apple besides Apple's roots); empty: those roots only.
    pub ca_file: String,
    /// The Windows signing certificate (public: DER or PEM), relative to the workspace, for
    /// machines without the PFX; its expiry gates releases. Empty: the PFX, when it is here.
    pub windows_certificate: String,
    /// The Apple Developer ID certificate (DER/PEM, or a PKCS#12 export whose password is in
    /// `apple_certificate_password_env`), relative to the workspace; its expiry gates releases.
    pub apple_certificate: String,
    /// Variable holding the password of `apple_certificate` when it is a PKCS#12 file.
    pub apple_certificate_password_env: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub apple_certificate_password_secret: String,
    /// A signing certificate that expires within this many days blocks the release gate: 0
    /// to [`MAX_DAYS`].
    pub min_valid_days: u32,
    /// A throwaway demo PFX (relative to the workspace; password [`DEMO_PFX_PASSWORD`]) that
    /// the Windows builders sign with when no PFX is in the environment. The demo workspace
    /// makes its own, with a CA that only this workspace trusts; never set it for a real
    /// product.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub demo_certificate: String,
}

/// The password of a demo certificate: public, since the certificate proves nothing outside
/// the demo workspace that made it.
pub const DEMO_PFX_PASSWORD: &str = "demo-only";

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            windows_pfx_path_env: "WINDOWS_PFX_PATH".to_owned(),
            windows_pfx_password_env: "WINDOWS_PFX_PASSWORD".to_owned(),
            windows_pfx_password_secret: String::new(),
            windows_publisher: String::new(),
            windows_cert_sha256: String::new(),
            apple_team_id: String::new(),
            ca_file: String::new(),
            windows_certificate: String::new(),
            apple_certificate: String::new(),
            apple_certificate_password_env: "APPLE_CERTIFICATE_PASSWORD".to_owned(),
            apple_certificate_password_secret: String::new(),
            min_valid_days: 30,
            demo_certificate: String::new(),
        }
    }
}

/// The product being released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Display name, also used in installer names (`WireTuner-0.1.0.dmg`).
    pub name: String,
    /// Prefix of release tags: `v` gives `v0.1.0`.
    #[serde(default = "default_release_prefix")]
    pub release_prefix: String,
}

fn default_release_prefix() -> String {
    "v".to_owned()
}

/// A platform the product ships on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    Macos,
    Windows,
    Linux,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Macos => "macos",
            Platform::Windows => "windows",
            Platform::Linux => "linux",
        }
    }
}

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

/// Which KPI source gates rollouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KpiProvider {
    #[default]
    Local,
    Prometheus,
    /// Amazon `CloudWatch` `GetMetricData` (`[aws]` says where and as whom).
    Cloudwatch,
}

/// `[kpi]`: where rollout-gating metrics come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpiConfig {
    pub provider: KpiProvider,
    pub api_base: String,
    /// The KPIs, with `PromQL` and thresholds; a rollout waits for the `gating` ones.
    pub metrics: Vec<KpiDef>,
}

impl Default for KpiConfig {
    fn default() -> Self {
        Self {
            provider: KpiProvider::Local,
            api_base: "http://127.0.0.1:9090".to_owned(),
            metrics: default_kpis(),
        }
    }
}

/// Which side of the threshold is healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Healthy while the value stays below the threshold (latency, errors).
    Below,
    /// Healthy while the value stays above the threshold (throughput).
    Above,
}

/// One KPI: how to read it and what is healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiDef {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub unit: String,
    /// `PromQL` returning one series (several are reduced to the worst).
    #[serde(default)]
    pub query: String,
    /// No threshold: shown, never gating.
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default = "default_direction")]
    pub direction: Direction,
    /// Whether a rollout waits for it.
    #[serde(default)]
    pub gating: bool,
    /// `CloudWatch`: the metric's namespace and name, its dimensions, the statistic
    /// (`Average`, `Maximum`, `p95`, ...) and the period.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub dimensions: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_secs: Option<u32>,
    /// `CloudWatch`: the alarms shown beside the plot (`DescribeAlarms`); empty: the alarms on
    /// this metric (`DescribeAlarmsForMetric`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
}

impl Default for KpiDef {
    fn default() -> Self {
        Self {
            name: String::new(),
            title: String::new(),
            unit: String::new(),
            query: String::new(),
            threshold: None,
            direction: Direction::Below,
            gating: false,
            namespace: String::new(),
            metric: String::new(),
            dimensions: std::collections::BTreeMap::new(),
            stat: String::new(),
            period_secs: None,
            alarms: Vec::new(),
        }
    }
}

fn default_direction() -> Direction {
    Direction::Below
}

/// The seed's KPIs (its Monitoring section) as defaults; `init` writes them to the config.
pub fn default_kpis() -> Vec<KpiDef> {
    let def = |name: &str,
               title: &str,
               unit: &str,
               query: &str,
               threshold: Option<f64>,
               direction,
               gating| KpiDef {
        name: name.into(),
        title: title.into(),
        unit: unit.into(),
        query: query.into(),
        threshold,
        direction,
        gating,
        ..KpiDef::default()
    };
    vec![
        def(
            "event_replay_rate",
            "Event replay rate (baseline ~1000/s)",
            "/s",
            "sum(rate(app_event_replay_total[5m]))",
            Some(800.0),
            Direction::Above,
            false,
        ),
        def(
            "snapshot_duration",
            "Snapshot duration p95",
            "ms",
            "1000 * histogram_quantile(0.95, sum(rate(app_snapshot_duration_seconds_bucket[5m])) by (le))",
            Some(500.0),
            Direction::Below,
            true,
        ),
        def(
            "ot_transform_latency",
            "OT transform latency p95",
            "ms",
            "1000 * histogram_quantile(0.95, sum(rate(app_ot_transform_seconds_bucket[5m])) by (le))",
            Some(50.0),
            Direction::Below,
            true,
        ),
        def(
            "queue_depth",
            "Queue depth",
            "",
            "max(app_queue_depth)",
            Some(100.0),
            Direction::Below,
            true,
        ),
        def(
            "error_rate",
            "Error rate (SLO < 0.5%)",
            "%",
            "100 * sum(rate(app_errors_total[5m])) / sum(rate(app_requests_total[5m]))",
            Some(0.5),
            Direction::Below,
            true,
        ),
        def(
            "active_sessions",
            "Active collaboration sessions (~200 typical)",
            "",
            "sum(app_active_sessions)",
            None,
            Direction::Above,
            false,
        ),
    ]
}

/// Where a secret would come from: shown in Settings, used for redaction. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSource {
    /// What the secret is for, e.g. "status page API key".
    pub purpose: String,
    /// The environment variable that holds it.
    pub env_var: String,
    /// Whether a configured provider needs it now (a missing value is then a problem).
    pub in_use: bool,
    /// When it is needed, for people: "now: provider statuspage", "building and signing".
    pub needed_for: String,
}

impl SecretSource {
    /// The environment variable it is read from (`NAME` or `env:NAME`); `None` when it lives in
    /// the keyring or AWS Secrets Manager only (`keyring:`, `aws-sm:`).
    pub fn variable(&self) -> Option<&str> {
        match super::secrets::SecretRef::parse(&self.env_var) {
            Ok(super::secrets::SecretRef::Env(_)) => self.env_var.strip_prefix("env:"),
            Ok(_) => None,
            Err(_) => Some(&self.env_var),
        }
    }
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {key}{message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Semantic { path: PathBuf, message: String },
}

impl Config {
    /// The configuration `init` writes for a new product.
    pub fn new_for_product(name: &str) -> Self {
        Self {
            product: Product {
                name: name.to_owned(),
                release_prefix: default_release_prefix(),
            },
            actor: String::new(),
            platforms: vec![Platform::Macos, Platform::Windows],
            secret_env: vec!["APPLE_ID_PASSWORD".to_owned()],
            status_page: StatusPageConfig::default(),
            flags: FlagsConfig::default(),
            kpi: KpiConfig::default(),
            signing: SigningConfig::default(),
            pipeline: PipelineConfig::default(),
            findings: FindingsConfig::default(),
            publish: PublishConfig::default(),
            deploy: DeployConfig::default(),
            aws: AwsConfig::default(),
            notify: NotifyConfig::default(),
            rotation: Vec::new(),
            remote: RemoteConfig::default(),
            source: None,
        }
    }

    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text`; `path` is only used to name the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|err| {
            let offset = err.span().map_or(0, |span| span.start);
            let (line, column) = line_column(text, offset);
            let key = key_at(text, offset)
                .map(|k| format!("key `{k}`: "))
                .unwrap_or_default();
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key,
                message: err.message().trim().replace('\n', " "),
            }
        })?;
        config.validate(path, text)?;
        Ok(config)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let fail = |message: String| {
            Err(ConfigError::Semantic {
                path: path.to_owned(),
                message,
            })
        };
        if self.product.name.trim().is_empty() {
            return fail("key `product.name`: must not be empty".to_owned());
        }
        if self.platforms.is_empty() {
            return fail("key `platforms`: list at least one platform".to_owned());
        }
        self.validate_env_names(path, text)?;
        self.validate_ranges(path, text)?;
        let stages = &self.flags.stages;
        if stages.is_empty()
            || stages.last() != Some(&100)
            || stages.windows(2).any(|w| w[0] >= w[1])
            || stages[0] == 0
        {
            return fail(format!(
                "key `flags.stages`: {stages:?} must rise from above 0 to 100, e.g. [10, 50, 100]"
            ));
        }
        for (key, spec) in [
            (
                "status_page.api_key_secret",
                &self.status_page.api_key_secret,
            ),
            ("flags.token_secret", &self.flags.token_secret),
            (
                "signing.windows_pfx_password_secret",
                &self.signing.windows_pfx_password_secret,
            ),
            (
                "signing.apple_certificate_password_secret",
                &self.signing.apple_certificate_password_secret,
            ),
            ("publish.access_key_secret", &self.publish.access_key_secret),
            ("publish.secret_key_secret", &self.publish.secret_key_secret),
            (
                "publish.sparkle_ed_key_secret",
                &self.publish.sparkle_ed_key_secret,
            ),
        ]
        .into_iter()
        .chain(
            self.deploy
                .argocd
                .iter()
                .map(|a| ("deploy.argocd.token_secret", &a.token_secret)),
        )
        .chain(
            self.notify
                .pagerduty
                .iter()
                .map(|p| ("notify.pagerduty.routing_key_secret", &p.routing_key_secret)),
        )
        .chain(
            self.notify
                .slack
                .iter()
                .map(|s| ("notify.slack.webhook_secret", &s.webhook_secret)),
        ) {
            if !spec.trim().is_empty()
                && let Err(e) = super::secrets::SecretRef::parse(spec)
            {
                return fail(format!("key `{key}`: {e}"));
            }
        }
        if let Some(a) = &self.deploy.argocd {
            if !(a.api_base.starts_with("http://") || a.api_base.starts_with("https://")) {
                return fail(format!(
                    "key `deploy.argocd.api_base`: {:?} is not an http(s) URL",
                    a.api_base
                ));
            }
            if a.application.trim().is_empty() {
                return fail(
                    "key `deploy.argocd.application`: name the Argo CD application".into(),
                );
            }
            if !(a.timeout_mins.is_finite() && a.timeout_mins > 0.0) || a.poll_interval_ms == 0 {
                return fail(
                    "keys `deploy.argocd.timeout_mins` and `poll_interval_ms`: must be above 0"
                        .into(),
                );
            }
        }
        if let Some(g) = &self.remote.github {
            g.validate().map_err(|message| ConfigError::Semantic {
                path: path.to_owned(),
                message,
            })?;
        }
        if let Some(src) = &self.source {
            if let Some((key, message)) = src.problem() {
                return Err(config_error(path, text, ("source", None, key), &message));
            }
            if let Some((key, message)) = src.github.as_ref().and_then(SourceGitHubConfig::problem)
            {
                return Err(config_error(
                    path,
                    text,
                    ("source.github", None, key),
                    &message,
                ));
            }
        }
        self.validate_notify()
            .map_err(|message| ConfigError::Semantic {
                path: path.to_owned(),
                message,
            })?;
        if self.publish.store == StoreKind::S3 && self.publish.bucket.trim().is_empty() {
            return fail("key `publish.bucket`: required when store = \"s3\"".into());
        }
        if self.status_page.provider == StatusPageProvider::Statuspage
            && self.status_page.page_id.is_empty()
        {
            return fail(
                "key `status_page.page_id`: required when provider = \"statuspage\"".into(),
            );
        }
        Ok(())
    }

    /// The actor recorded on ticks and audit entries: `actor` from config, or the OS user.
    pub fn effective_actor(&self) -> String {
        if !self.actor.trim().is_empty() {
            return self.actor.trim().to_owned();
        }
        os_user()
    }

    /// Every `*_env` key must name an environment variable (see [`is_env_var_name`]). The
    /// error names the file, line and key, never the value: what was pasted there may be the
    /// secret itself.
    fn validate_env_names(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let signing = &self.signing;
        let publish = &self.publish;
        let mut names: Vec<(&str, Option<usize>, &str, &str)> = vec![
            (
                "status_page",
                None,
                "api_key_env",
                &self.status_page.api_key_env,
            ),
            ("flags", None, "token_env", &self.flags.token_env),
            (
                "signing",
                None,
                "windows_pfx_path_env",
                &signing.windows_pfx_path_env,
            ),
            (
                "signing",
                None,
                "windows_pfx_password_env",
                &signing.windows_pfx_password_env,
            ),
            (
                "signing",
                None,
                "apple_certificate_password_env",
                &signing.apple_certificate_password_env,
            ),
            ("publish", None, "access_key_env", &publish.access_key_env),
            ("publish", None, "secret_key_env", &publish.secret_key_env),
            (
                "publish",
                None,
                "session_token_env",
                &publish.session_token_env,
            ),
            (
                "publish",
                None,
                "sparkle_ed_key_env",
                &publish.sparkle_ed_key_env,
            ),
        ];
        names.extend(
            self.secret_env
                .iter()
                .map(|n| ("", None, "secret_env", n.as_str())),
        );
        if let Some(p) = &self.notify.pagerduty {
            names.push((
                "notify.pagerduty",
                None,
                "routing_key_env",
                &p.routing_key_env,
            ));
        }
        for (i, s) in self.notify.slack.iter().enumerate() {
            names.push(("notify.slack", Some(i), "webhook_env", &s.webhook_env));
        }
        if let Some(a) = &self.deploy.argocd {
            names.push(("deploy.argocd", None, "token_env", &a.token_env));
        }
        if let Some(g) = &self.remote.github {
            names.push(("remote.github", None, "token_env", &g.token_env));
        }
        if let Some(g) = self.source.as_ref().and_then(|s| s.github.as_ref()) {
            names.push(("source.github", None, "token_env", &g.token_env));
        }
        for (table, nth, key, value) in names {
            if !is_env_var_name(value) {
                return Err(config_error(
                    path,
                    text,
                    (table, nth, key),
                    "must name an environment variable (upper-case letters, digits and `_`, \
                     not starting with a digit); its value is not shown in case it is a secret",
                ));
            }
        }
        Ok(())
    }

    /// Numbers that become dates or durations stay in ranges where the date math cannot
    /// overflow (and that make sense): the error names the file, line, key and the range.
    fn validate_ranges(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let out_of = |at: (&str, Option<usize>, &str), value: String, range: &str| {
            Err(config_error(
                path,
                text,
                at,
                &format!("{value} is outside {range}"),
            ))
        };
        for (i, r) in self.rotation.iter().enumerate() {
            if let Some(d) = r.every_days
                && d > MAX_DAYS
            {
                return out_of(
                    ("rotation", Some(i), "every_days"),
                    d.to_string(),
                    &format!("0 to {MAX_DAYS} days"),
                );
            }
        }
        let max_acceptance = self.findings.max_acceptance_days;
        if !(1..=MAX_DAYS).contains(&max_acceptance) {
            return out_of(
                ("findings", None, "max_acceptance_days"),
                max_acceptance.to_string(),
                &format!("1 to {MAX_DAYS} days"),
            );
        }
        if self.signing.min_valid_days > MAX_DAYS {
            return out_of(
                ("signing", None, "min_valid_days"),
                self.signing.min_valid_days.to_string(),
                &format!("0 to {MAX_DAYS} days"),
            );
        }
        let days = u64::from(MAX_DAYS);
        for (key, value) in [
            ("retire_after_days", self.flags.retire_after_days),
            ("lifespan_target_days", self.flags.lifespan_target_days),
        ] {
            if value > days {
                return out_of(
                    ("flags", None, key),
                    value.to_string(),
                    &format!("0 to {MAX_DAYS} days"),
                );
            }
        }
        if let Some((i, h)) =
            (self.flags.min_hold_hours.iter().enumerate()).find(|(_, h)| **h > days * 24)
        {
            return out_of(
                ("flags", None, "min_hold_hours"),
                format!("{h} (stage {})", i + 1),
                &format!("0 to {} hours", days * 24),
            );
        }
        // S3 takes single uploads and parts of 5 MiB to 5 GiB.
        for (key, value) in [
            (
                "multipart_threshold_mib",
                self.publish.multipart_threshold_mib,
            ),
            ("part_size_mib", self.publish.part_size_mib),
        ] {
            if !(MIN_PART_MIB..=MAX_PART_MIB).contains(&value) {
                return out_of(
                    ("publish", None, key),
                    value.to_string(),
                    &format!("{MIN_PART_MIB} to {MAX_PART_MIB} MiB"),
                );
            }
        }
        if let Some(n) = self.publish.parallel_parts
            && !(1..=MAX_PARALLEL_PARTS).contains(&n)
        {
            return out_of(
                ("publish", None, "parallel_parts"),
                n.to_string(),
                &format!("1 to {MAX_PARALLEL_PARTS}"),
            );
        }
        if let Some(a) = &self.deploy.argocd
            && !(a.timeout_mins.is_finite()
                && a.timeout_mins > 0.0
                && a.timeout_mins <= MAX_ROLLOUT_MINS)
        {
            return out_of(
                ("deploy.argocd", None, "timeout_mins"),
                a.timeout_mins.to_string(),
                &format!("above 0 to {MAX_ROLLOUT_MINS} minutes"),
            );
        }
        Ok(())
    }

    fn validate_notify(&self) -> Result<(), String> {
        const SEVERITIES: [&str; 4] = ["P0", "P1", "P2", "P3"];
        if let Some(p) = &self.notify.pagerduty {
            if !(p.api_base.starts_with("http://") || p.api_base.starts_with("https://")) {
                return Err(format!(
                    "key `notify.pagerduty.api_base`: {:?} is not an http(s) URL",
                    p.api_base
                ));
            }
            if let Some(bad) = p.page_on.iter().find(|s| !SEVERITIES.contains(&s.as_str())) {
                return Err(format!(
                    "key `notify.pagerduty.page_on`: {bad:?} is not a severity (P0, P1, P2, P3)"
                ));
            }
            if p.escalation
                .windows(2)
                .any(|w| w[0].within_mins > w[1].within_mins)
            {
                return Err(
                    "key `notify.pagerduty.escalation`: levels must be in the order they are \
                     reached (within_mins rising)"
                        .into(),
                );
            }
        }
        for (i, s) in self.notify.slack.iter().enumerate() {
            if s.channel.trim().is_empty() {
                return Err(format!(
                    "key `notify.slack` entry {}: name its `channel`",
                    i + 1
                ));
            }
            if s.events.is_empty() {
                return Err(format!(
                    "key `notify.slack` ({}): list the `events` it hears, e.g. [\"incident.*\"]",
                    s.channel
                ));
            }
        }
        if !(1..=600).contains(&self.notify.timeout_secs) {
            return Err("key `notify.timeout_secs`: must be between 1 and 600".into());
        }
        if self.notify.max_attempts == 0 {
            return Err("key `notify.max_attempts`: must be at least 1".into());
        }
        Ok(())
    }

    /// The Windows PFX password from its source (`windows_pfx_password_secret`, else the
    /// variable, then the keyring). Blocking (a keyring or AWS lookup).
    pub fn windows_pfx_password(&self) -> Result<Option<super::secrets::Secret>, String> {
        super::secrets::resolve(
            &self.signing.windows_pfx_password_env,
            &self.signing.windows_pfx_password_secret,
            &self.aws,
        )
    }

    /// Every secret the workspace knows about, by environment variable name.
    pub fn secret_sources(&self) -> Vec<SecretSource> {
        let provider = |in_use: bool, name: &str| {
            if in_use {
                format!("now: provider {name}")
            } else {
                "not with the local provider".to_owned()
            }
        };
        let status_in_use = self.status_page.provider != StatusPageProvider::Local;
        let flags_in_use = self.flags.provider != FlagsProvider::Local;
        let mut out = vec![
            SecretSource {
                purpose: "Status page API key".to_owned(),
                env_var: source_of(
                    &self.status_page.api_key_env,
                    &self.status_page.api_key_secret,
                ),
                in_use: status_in_use,
                needed_for: provider(status_in_use, "statuspage"),
            },
            SecretSource {
                purpose: "Feature flag provider token".to_owned(),
                env_var: source_of(&self.flags.token_env, &self.flags.token_secret),
                in_use: flags_in_use,
                needed_for: provider(
                    flags_in_use,
                    &format!("{:?}", self.flags.provider).to_lowercase(),
                ),
            },
        ];
        out.push(SecretSource {
            purpose: "Windows code-signing PFX password".to_owned(),
            env_var: source_of(
                &self.signing.windows_pfx_password_env,
                &self.signing.windows_pfx_password_secret,
            ),
            in_use: false,
            needed_for: "signing Windows installers".to_owned(),
        });
        out.push(SecretSource {
            purpose: "Apple certificate password (PKCS#12 export)".to_owned(),
            env_var: source_of(
                &self.signing.apple_certificate_password_env,
                &self.signing.apple_certificate_password_secret,
            ),
            in_use: false,
            needed_for: "reading the Apple certificate when it is a PKCS#12 file".to_owned(),
        });
        if let Some(a) = &self.deploy.argocd {
            out.push(SecretSource {
                purpose: "Argo CD API token".to_owned(),
                env_var: source_of(&a.token_env, &a.token_secret),
                in_use: true,
                needed_for: "now: rolling out the backend".to_owned(),
            });
        }
        if let Some(g) = &self.remote.github {
            out.push(SecretSource {
                purpose: "GitHub token (Actions: write)".to_owned(),
                env_var: source_of(&g.token_env, &g.token_secret),
                in_use: true,
                needed_for: format!("now: remote builds in {}", g.repo),
            });
        }
        if let Some(g) = self.source.as_ref().and_then(|s| s.github.as_ref()) {
            out.push(SecretSource {
                purpose: "GitHub token (pull requests: read)".to_owned(),
                env_var: source_of(&g.token_env, &g.token_secret),
                in_use: true,
                needed_for: format!("now: release notes from {}", g.repo),
            });
        }
        out.push(SecretSource {
            purpose: "Sparkle EdDSA private key (appcast signatures)".to_owned(),
            env_var: self.publish.sparkle_ed_key_env.clone(),
            in_use: false,
            needed_for: "signing the macOS update in the appcast".to_owned(),
        });
        let s3 = self.publish.store == StoreKind::S3;
        for (purpose, var, spec) in [
            (
                "S3 access key id",
                &self.publish.access_key_env,
                &self.publish.access_key_secret,
            ),
            (
                "S3 secret access key",
                &self.publish.secret_key_env,
                &self.publish.secret_key_secret,
            ),
        ] {
            out.push(SecretSource {
                purpose: purpose.to_owned(),
                env_var: source_of(var, spec),
                in_use: s3,
                needed_for: if s3 {
                    "now: publishing to the s3 store".to_owned()
                } else {
                    "not with the local store".to_owned()
                },
            });
        }
        out.push(SecretSource {
            purpose: "S3 session token (temporary credentials)".to_owned(),
            env_var: self.publish.session_token_env.clone(),
            in_use: false,
            needed_for: if s3 {
                "publishing to the s3 store with temporary credentials".to_owned()
            } else {
                "not with the local store".to_owned()
            },
        });
        let live = self.notify.deliver == Delivery::Live;
        if let Some(p) = &self.notify.pagerduty {
            out.push(SecretSource {
                purpose: "PagerDuty routing key (Events API v2)".to_owned(),
                env_var: source_of(&p.routing_key_env, &p.routing_key_secret),
                in_use: live,
                needed_for: if live {
                    "now: paging and change events".to_owned()
                } else {
                    "not while notifications stay local".to_owned()
                },
            });
        }
        for s in &self.notify.slack {
            out.push(SecretSource {
                purpose: format!("Slack webhook for {}", s.channel),
                env_var: source_of(&s.webhook_env, &s.webhook_secret),
                in_use: live,
                needed_for: if live {
                    format!("now: posting to {}", s.channel)
                } else {
                    "not while notifications stay local".to_owned()
                },
            });
        }
        out.extend(self.secret_env.iter().map(|name| SecretSource {
            purpose: "Build and signing secret".to_owned(),
            env_var: name.clone(),
            in_use: false,
            needed_for: "building and signing installers".to_owned(),
        }));
        out
    }

    /// Serializes for writing to `release-console.toml`.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# release-console workspace configuration.\n# Secrets are never stored here: each \
             `*_env` key names the environment variable that holds one.\n\n{body}"
        )
    }
}

/// The OS user name: `$USER` (or `$USERNAME`, `$LOGNAME`), else the password database entry of
/// the current uid, else "uid N".
pub fn os_user() -> String {
    if let Some(name) = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    {
        return name;
    }
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid {uid}"),
    }
}

/// Where a secret setting reads from: its `*_secret` source when set, else its variable.
fn source_of(env_var: &str, spec: &str) -> String {
    if spec.trim().is_empty() {
        env_var.to_owned()
    } else {
        spec.trim().to_owned()
    }
}

/// Whether `name` is an environment variable name as the console accepts one: upper-case
/// letters, digits and `_`, not starting with a digit (`^[A-Z_][A-Z0-9_]*$`). A pasted key
/// (lower-case hex, `sk-live-...`, a URL) is not one, so it is refused before any message
/// could echo it.
pub fn is_env_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The most days any `*_days` setting may hold (ten years): the calendar's window, rotation
/// periods, risk acceptances, certificate margins.
pub const MAX_DAYS: u32 = 3650;

/// The sizes S3 accepts for one upload or one part of a multipart upload, in MiB (5 MiB to
/// 5 GiB): `publish.multipart_threshold_mib` and `publish.part_size_mib`.
const MIN_PART_MIB: u64 = 5;
const MAX_PART_MIB: u64 = 5 * 1024;

/// The most parts in memory at once (`publish.parallel_parts`).
const MAX_PARALLEL_PARTS: usize = 64;

/// The longest an Argo CD rollout may be given (`deploy.argocd.timeout_mins`): a week.
const MAX_ROLLOUT_MINS: f64 = 7.0 * 24.0 * 60.0;

/// An invalid value of key `name` in `[table]` (`nth`: which `[[table]]` entry, from 0): at
/// its line in `text` when it is written there, else naming the key only.
fn config_error(
    path: &Path,
    text: &str,
    (table, nth, name): (&str, Option<usize>, &str),
    message: &str,
) -> ConfigError {
    let key = if table.is_empty() {
        name.to_owned()
    } else {
        format!("{table}.{name}")
    };
    match locate(text, table, nth, name) {
        Some((line, column)) => ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            key: format!("key `{key}`: "),
            message: message.to_owned(),
        },
        None => ConfigError::Semantic {
            path: path.to_owned(),
            message: format!("key `{key}`: {message}"),
        },
    }
}

/// A dotted key with its parts unquoted and trimmed (`a . "b"` is `a.b`).
fn normalized_key(key: &str) -> String {
    key.split('.')
        .map(|p| p.trim().trim_matches(['"', '\'']))
        .collect::<Vec<_>>()
        .join(".")
}

/// The 1-based line and column where key `name` of `[table]` (the `nth` `[[table]]`, from 0)
/// is written: under its header, or as a dotted key (`table.name = ...`) above.
fn locate(text: &str, table: &str, nth: Option<usize>, name: &str) -> Option<(usize, usize)> {
    let join = |t: &str, k: &str| {
        if t.is_empty() {
            k.to_owned()
        } else {
            format!("{t}.{k}")
        }
    };
    let wanted = join(table, name);
    let mut current = String::new();
    let mut entries: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix("[[") {
            current = normalized_key(header.split("]]").next().unwrap_or_default());
            *entries.entry(current.clone()).or_default() += 1;
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            current = normalized_key(header.split(']').next().unwrap_or_default());
            continue;
        }
        let Some((key, _)) = trimmed.split_once('=') else {
            continue;
        };
        if join(&current, &normalized_key(key)) != wanted {
            continue;
        }
        if nth.is_some_and(|n| entries.get(table) != Some(&(n + 1))) {
            continue;
        }
        return Some((i + 1, line.len() - line.trim_start().len() + 1));
    }
    None
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// The dotted key whose line contains `offset`: the nearest `[table]` header above it plus the
/// key before `=` on that line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let trimmed = line.trim();
    if trimmed.starts_with('[') {
        return Some(
            trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned(),
        );
    }
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("ws/release-console.toml"))
    }

    const GOOD: &str = "platforms = [\"macos\"]\n[product]\nname = \"WireTuner\"\n";

    #[test]
    fn minimal_config_gets_local_providers() {
        let c = parse(GOOD).expect("parses");
        assert_eq!(c.product.name, "WireTuner");
        assert_eq!(c.product.release_prefix, "v");
        assert_eq!(c.status_page.provider, StatusPageProvider::Local);
        assert_eq!(c.flags.provider, FlagsProvider::Local);
    }

    #[test]
    fn sizes_and_day_counts_the_arithmetic_cannot_hold_are_refused_at_their_line() {
        for (table, key, value, range) in [
            (
                "flags",
                "retire_after_days",
                "9223372036854775807",
                "0 to 3650 days",
            ),
            ("flags", "lifespan_target_days", "3651", "0 to 3650 days"),
            ("flags", "min_hold_hours", "[2, 87601]", "0 to 87600 hours"),
            ("publish", "multipart_threshold_mib", "0", "5 to 5120 MiB"),
            (
                "publish",
                "multipart_threshold_mib",
                "9223372036854775807",
                "5 to 5120 MiB",
            ),
            ("publish", "part_size_mib", "4", "5 to 5120 MiB"),
            ("publish", "parallel_parts", "0", "1 to 64"),
        ] {
            let err =
                parse(&format!("{GOOD}[{table}]\n{key} = {value}\n")).expect_err("out of range");
            let msg = err.to_string();
            let shown = if key == "min_hold_hours" {
                "87601 (stage 2)"
            } else {
                value
            };
            assert!(
                msg.contains(&format!(
                    ":5:1: key `{table}.{key}`: {shown} is outside {range}"
                )),
                "{key} = {value}: {msg}"
            );
        }
        // The edges are accepted.
        let c = parse(&format!(
            "{GOOD}[flags]\nretire_after_days = 3650\n[publish]\nmultipart_threshold_mib = 5120\n"
        ))
        .expect("in range");
        assert_eq!(c.publish.multipart_threshold_mib, 5120);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("platforms = [\"macos\"]\n[product]\nname = \"W\"\ncolour = \"red\"\n")
            .expect_err("unknown key");
        let msg = err.to_string();
        assert!(
            msg.starts_with("ws/release-console.toml:4:1: key `product.colour`"),
            "{msg}"
        );
        assert!(msg.contains("unknown field"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }

    #[test]
    fn bad_enum_value_names_key_and_choices() {
        let err = parse(&format!("{GOOD}[flags]\nprovider = \"optimizely\"\n")).expect_err("bad");
        let msg = err.to_string();
        assert!(msg.contains(":5:12: key `flags.provider`"), "{msg}");
        assert!(msg.contains("launchdarkly"), "{msg}");
    }

    #[test]
    fn secret_value_in_env_key_is_refused() {
        let err = parse(&format!(
            "{GOOD}[status_page]\napi_key_env = \"sk-live-123\"\n"
        ))
        .expect_err("secret value");
        assert!(err.to_string().contains("status_page.api_key_env"), "{err}");
        assert!(
            !format!("{err} {err:?}").contains("sk-live-123"),
            "the value is never echoed: {err}"
        );
    }

    #[test]
    fn a_lower_case_env_name_is_refused_at_its_line_without_its_value() {
        // A Statuspage key: 32 lower-case hex digits, a valid name for the shell.
        let pasted = "89a2c0ffee1d2e3f40516273849aeb4c";
        let err = parse(&format!("status_page.api_key_env = \"{pasted}\"\n{GOOD}"))
            .expect_err("dotted key");
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "ws/release-console.toml:1:1: key `status_page.api_key_env`: must name"
            ),
            "{msg}"
        );
        assert!(!format!("{msg} {err:?}").contains(pasted), "{msg}");
        // The second of two [[notify.slack]] entries, at its own line.
        let slack = |var: &str| {
            format!(
                "\n[[notify.slack]]\nchannel = \"#a\"\nwebhook_env = \"{var}\"\nevents = [\"*\"]\n"
            )
        };
        let text = format!("{GOOD}{}{}", slack("HOOK_A"), slack(pasted));
        let msg = parse(&text).expect_err("second entry").to_string();
        assert!(
            msg.starts_with("ws/release-console.toml:12:1: key `notify.slack.webhook_env`"),
            "{msg}"
        );
        assert!(parse(&format!("{GOOD}{}", slack("HOOK_A"))).is_ok());
    }

    #[test]
    fn round_trips_through_toml() {
        let c = Config::new_for_product("WireTuner");
        let back = parse(&c.to_toml()).expect("round trip");
        assert_eq!(c, back);
    }
}
