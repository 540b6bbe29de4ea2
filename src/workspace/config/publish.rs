//! `[publish]`: where installers, their checksums and the update feeds go.

use serde::{Deserialize, Serialize};

use super::SecretSetting;

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

impl PublishConfig {
    /// Sparkle's signing key and the S3 store's credentials.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        let s3 = self.store == StoreKind::S3;
        let local = "not with the local store";
        vec![
            SecretSetting::new(
                "publish",
                "sparkle_ed_key_env",
                &self.sparkle_ed_key_env,
                "Sparkle EdDSA private key (appcast signatures)",
            )
            .with_source("sparkle_ed_key_secret", &self.sparkle_ed_key_secret)
            .needed(false, "signing the macOS update in the appcast"),
            SecretSetting::new(
                "publish",
                "access_key_env",
                &self.access_key_env,
                "S3 access key id",
            )
            .with_source("access_key_secret", &self.access_key_secret)
            .needed_now(s3, "now: publishing to the s3 store", local),
            SecretSetting::new(
                "publish",
                "secret_key_env",
                &self.secret_key_env,
                "S3 secret access key",
            )
            .with_source("secret_key_secret", &self.secret_key_secret)
            .needed_now(s3, "now: publishing to the s3 store", local),
            SecretSetting::new(
                "publish",
                "session_token_env",
                &self.session_token_env,
                "S3 session token (temporary credentials)",
            )
            .needed(
                false,
                if s3 {
                    "publishing to the s3 store with temporary credentials"
                } else {
                    local
                },
            ),
        ]
    }
}
