//! `[[rotation]]`: secrets kept elsewhere whose rotation the console tracks.

use serde::{Deserialize, Serialize};

/// `[[rotation]]`: one secret and how often it must be rotated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationEntry {
    /// Its name where it lives, e.g. `/wiretuner/db/credentials` or `STATUSPAGE_API_KEY`.
    pub name: String,
    pub kind: SecretKind,
    /// Overrides the kind's period: 0 to [`MAX_DAYS`](super::MAX_DAYS) (0: due as soon as it is rotated).
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
    /// How often it is rotated, in days (WireTuner's operations runbook's schedule).
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
