//! `[notify]`: the outbox and its destinations (PagerDuty, Slack).

use serde::{Deserialize, Serialize};

use super::SecretSetting;

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

    pub(super) fn validate(&self) -> Result<(), String> {
        const SEVERITIES: [&str; 4] = ["P0", "P1", "P2", "P3"];
        if let Some(p) = &self.pagerduty {
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
        for (i, s) in self.slack.iter().enumerate() {
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
        if !(1..=600).contains(&self.timeout_secs) {
            return Err("key `notify.timeout_secs`: must be between 1 and 600".into());
        }
        if self.max_attempts == 0 {
            return Err("key `notify.max_attempts`: must be at least 1".into());
        }
        Ok(())
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
/// reached (WireTuner's: on-call < 5 min, DevOps lead < 15, engineering manager < 30).
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

impl NotifyConfig {
    /// PagerDuty's routing key and each Slack channel's webhook.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        let live = self.deliver == Delivery::Live;
        let local = "not while notifications stay local";
        let pagerduty = self.pagerduty.iter().map(|p| {
            SecretSetting::new(
                "notify.pagerduty",
                "routing_key_env",
                &p.routing_key_env,
                "PagerDuty routing key (Events API v2)",
            )
            .with_source("routing_key_secret", &p.routing_key_secret)
            .needed_now(live, "now: paging and change events", local)
        });
        let slack = self.slack.iter().enumerate().map(|(i, s)| {
            SecretSetting::new(
                "notify.slack",
                "webhook_env",
                &s.webhook_env,
                format!("Slack webhook for {}", s.channel),
            )
            .with_source("webhook_secret", &s.webhook_secret)
            .entry(i)
            .needed(
                live,
                if live {
                    format!("now: posting to {}", s.channel)
                } else {
                    local.to_owned()
                },
            )
        });
        pagerduty.chain(slack).collect()
    }
}
