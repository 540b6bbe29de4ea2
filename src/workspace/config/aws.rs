//! `[aws]`: where the AWS APIs are and as whom.

use serde::{Deserialize, Serialize};

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
