//! The secrets the configuration names, one list for Settings, validation and the redactor.

use super::{Config, Delivery, FlagsProvider, StatusPageProvider, StoreKind};

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
        match crate::workspace::secrets::SecretRef::parse(&self.env_var) {
            Ok(crate::workspace::secrets::SecretRef::Env(_)) => self.env_var.strip_prefix("env:"),
            Ok(_) => None,
            Err(_) => Some(&self.env_var),
        }
    }
}

impl Config {
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
}

/// Where a secret setting reads from: its `*_secret` source when set, else its variable.
fn source_of(env_var: &str, spec: &str) -> String {
    if spec.trim().is_empty() {
        env_var.to_owned()
    } else {
        spec.trim().to_owned()
    }
}
