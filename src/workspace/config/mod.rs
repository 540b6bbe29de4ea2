//! `release-console.toml`: the typed workspace configuration.
//!
//! Unknown keys and bad values are errors naming the file, line and key, so a typo never turns
//! silently into a default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod aws;
mod deploy;
mod dr;
mod kpi;
mod locate;
mod notify;
mod providers;
mod publish;
mod release;
mod remote;
mod rotation;
mod secret_settings;
mod source;
pub mod tools;

pub use aws::AwsConfig;
pub use deploy::{ArgoCdConfig, DeployConfig};
pub use dr::DrConfig;
pub use kpi::{Direction, KpiConfig, KpiDef, KpiProvider, default_kpis};
pub use notify::{Delivery, EscalationLevel, NotifyConfig, PagerDutyConfig, SlackConfig};
pub use providers::{FlagsConfig, FlagsProvider, StatusPageConfig, StatusPageProvider};
pub use publish::{PublishConfig, StoreKind};
pub use release::{
    DEMO_PFX_PASSWORD, FindingsConfig, PipelineConfig, Platform, Product, SigningConfig,
};
pub use remote::{GitHubConfig, RemoteConfig};
pub use rotation::{RotationEntry, SecretKind};
pub use secret_settings::SecretSetting;
pub use source::{SourceConfig, SourceGitHubConfig, is_safe_ref_name};

use locate::{config_error, key_at, line_column};
use release::default_release_prefix;

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
    /// `[dr]`: how the disaster-recovery procedures' steps run (the demo's: against stand-ins).
    #[serde(default, skip_serializing_if = "DrConfig::is_empty")]
    pub dr: DrConfig,
    /// `[tools]`: program name = absolute path, run instead of the program found on `PATH`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tools: std::collections::BTreeMap<String, String>,
    /// `[team]`: who a shared workspace trusts to record a release's files.
    #[serde(default, skip_serializing_if = "TeamConfig::is_empty")]
    pub team: TeamConfig,
}

/// `[team]`: a shared workspace's trust in names that are not people with standing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamConfig {
    /// CI jobs' actors (`ci@github`) whose `release.artifacts` entries a console trusts
    /// besides those of registered people with standing; one that has a registered key must
    /// still sign them.
    pub builders: Vec<String>,
}

impl TeamConfig {
    pub fn is_empty(&self) -> bool {
        self.builders.is_empty()
    }
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
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
    /// Every file or folder the configuration names by a path relative to the workspace
    /// (`[signing] windows_certificate`, `[source] repo`, ...), as `([section] key, path)`;
    /// empty and absolute ones are left out, and so is `.` (the workspace itself). A shared
    /// workspace's bucket carries only the configuration and the log, so each of these is
    /// looked for in every console's own copy.
    pub fn relative_paths(&self) -> Vec<(&'static str, &str)> {
        let mut paths = vec![
            ("[pipeline] definition", self.pipeline.definition.as_str()),
            ("[pipeline] payload_dir", self.pipeline.payload_dir.as_str()),
            ("[pipeline] app_dir", self.pipeline.app_dir.as_str()),
            ("[signing] ca_file", self.signing.ca_file.as_str()),
            (
                "[signing] windows_certificate",
                self.signing.windows_certificate.as_str(),
            ),
            (
                "[signing] apple_certificate",
                self.signing.apple_certificate.as_str(),
            ),
            (
                "[signing] demo_certificate",
                self.signing.demo_certificate.as_str(),
            ),
            ("[dr] stand_ins", self.dr.stand_ins.as_str()),
        ];
        if self.publish.store == publish::StoreKind::Local {
            paths.push(("[publish] folder", self.publish.folder.as_str()));
        }
        if let Some(source) = &self.source {
            paths.push(("[source] repo", source.repo.as_str()));
        }
        paths
            .into_iter()
            .map(|(key, path)| (key, path.trim()))
            .filter(|(_, path)| {
                !path.is_empty() && *path != "." && !std::path::Path::new(path).is_absolute()
            })
            .collect()
    }

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
            dr: DrConfig::default(),
            tools: std::collections::BTreeMap::new(),
            team: TeamConfig::default(),
        }
    }

    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
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
        self.validate_secret_settings(path, text)?;
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
        let semantic = |message| ConfigError::Semantic {
            path: path.to_owned(),
            message,
        };
        if let Some(a) = &self.deploy.argocd {
            a.validate().map_err(semantic)?;
        }
        if let Some(g) = &self.remote.github {
            g.validate().map_err(semantic)?;
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
        self.notify.validate().map_err(semantic)?;
        for (name, program) in &self.tools {
            if let Some(message) = tools::problem(name, program) {
                return Err(config_error(path, text, ("tools", None, name), &message));
            }
        }
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

    /// Every secret setting ([`Config::secret_settings`]): its `*_env` key must name an
    /// environment variable (see [`is_env_var_name`]) and its `*_secret` source, when set,
    /// must be one. The error names the file, line and key, never the value: what was pasted
    /// there may be the secret itself.
    fn validate_secret_settings(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        for s in self.secret_settings() {
            if !is_env_var_name(&s.env_var) {
                return Err(config_error(
                    path,
                    text,
                    (s.table, s.nth, s.env_key),
                    "must name an environment variable (upper-case letters, digits and `_`, \
                     not starting with a digit); its value is not shown in case it is a secret",
                ));
            }
            if let Some(key) = s.secret_key
                && !s.secret.is_empty()
                && let Err(e) = crate::workspace::secrets::SecretRef::parse(&s.secret)
            {
                return Err(config_error(path, text, (s.table, s.nth, key), &e));
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
        if let Err(e) = self.signing.windows_cert_pin() {
            return Err(config_error(
                path,
                text,
                ("signing", None, "windows_cert_sha256"),
                &e.to_string(),
            ));
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
        // A pause between status-page requests longer than a minute would stall every command.
        if self.status_page.min_request_interval_ms > 60_000 {
            return out_of(
                ("status_page", None, "min_request_interval_ms"),
                self.status_page.min_request_interval_ms.to_string(),
                "0 to 60000 ms",
            );
        }
        if let Some(secs) = self.publish.phased_rollout_interval_secs
            && secs > days * 86_400
        {
            return out_of(
                ("publish", None, "phased_rollout_interval_secs"),
                secs.to_string(),
                &format!("0 to {} seconds ({MAX_DAYS} days)", days * 86_400),
            );
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

    /// The Windows PFX password from its source (`windows_pfx_password_secret`, else the
    /// variable, then the keyring). Blocking (a keyring or AWS lookup).
    pub fn windows_pfx_password(
        &self,
    ) -> Result<Option<crate::workspace::secrets::Secret>, String> {
        crate::workspace::secrets::resolve(
            &self.signing.windows_pfx_password_env,
            &self.signing.windows_pfx_password_secret,
            &self.aws,
        )
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

/// The OS user name: `$USER` (or `$USERNAME`, `$LOGNAME`), else the system's record of the
/// account (the password database entry of the current uid, else "uid N").
pub fn os_user() -> String {
    if let Some(name) = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    {
        return name;
    }
    crate::os::account_name().unwrap_or_else(|| "unknown user".to_owned())
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
        const MAX: &str = "9223372036854775807";
        for (table, key, value, range) in [
            ("flags", "retire_after_days", MAX, "0 to 3650 days"),
            ("flags", "lifespan_target_days", "3651", "0 to 3650 days"),
            ("flags", "min_hold_hours", "[2, 87601]", "0 to 87600 hours"),
            ("publish", "multipart_threshold_mib", "0", "5 to 5120 MiB"),
            ("publish", "multipart_threshold_mib", MAX, "5 to 5120 MiB"),
            ("publish", "part_size_mib", "4", "5 to 5120 MiB"),
            ("publish", "parallel_parts", "0", "1 to 64"),
            (
                "status_page",
                "min_request_interval_ms",
                "100000000",
                "0 to 60000 ms",
            ),
            (
                "publish",
                "phased_rollout_interval_secs",
                MAX,
                "0 to 315360000 seconds (3650 days)",
            ),
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
    fn a_certificate_pin_is_a_digest_with_or_without_colons_and_a_bad_one_is_refused_at_its_line() {
        let hex = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        for pin in [hex.as_str(), colons.as_str()] {
            let c = parse(&format!(
                "{GOOD}[signing]\nwindows_cert_sha256 = \"{pin}\"\n"
            ))
            .expect("a pin");
            assert_eq!(
                c.signing
                    .windows_cert_pin()
                    .expect("a digest")
                    .map(|d| d.to_string()),
                Some("ab".repeat(32))
            );
        }
        assert_eq!(
            parse(GOOD).expect("parses").signing.windows_cert_pin(),
            Ok(None)
        );
        let err = parse(&format!("{GOOD}[signing]\nwindows_cert_sha256 = \"abc\"\n"))
            .expect_err("not a digest");
        let msg = err.to_string();
        assert!(
            msg.contains(
                ":5:1: key `signing.windows_cert_sha256`: \"abc\" is not a SHA-256 digest (64 \
                 hex digits): it has 3 digits, not 64"
            ),
            "{msg}"
        );
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
    fn a_secret_source_that_is_not_one_is_refused_at_its_line_without_its_value() {
        let pasted = "sk-live-0ddba11c0ffee";
        let slack = |source: &str| {
            format!(
                "\n[[notify.slack]]\nchannel = \"#a\"\nwebhook_env = \"HOOK\"\n\
                 webhook_secret = \"{source}\"\nevents = [\"*\"]\n"
            )
        };
        let text = format!("{GOOD}{}{}", slack("env:HOOK_A"), slack(pasted));
        let err = parse(&text).expect_err("not a source");
        let msg = err.to_string();
        assert!(
            msg.starts_with("ws/release-console.toml:14:1: key `notify.slack.webhook_secret`: "),
            "{msg}"
        );
        assert!(!format!("{msg} {err:?}").contains(pasted), "{msg}");
        assert!(parse(&format!("{GOOD}{}", slack("keyring:HOOK_A"))).is_ok());
    }

    #[test]
    fn round_trips_through_toml() {
        let c = Config::new_for_product("WireTuner");
        let back = parse(&c.to_toml()).expect("round trip");
        assert_eq!(c, back);
    }
}
