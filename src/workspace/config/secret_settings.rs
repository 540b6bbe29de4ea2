//! The secrets the configuration names: one list, walked by validation (every variable name
//! and `*_secret` source is checked at load), the Settings panel, the redactor and the rotation
//! calendar. Each section says which of its keys name secrets (`secret_settings`); a test
//! checks that every `*_env` and `*_secret` key of the file is in the list.

use super::{Config, SourceConfig};

/// One secret a `*_env` key names (or, for `signing.windows_pfx_path_env`, the file that holds
/// one), with its `*_secret` source when the section has one. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSetting {
    /// The `[table]` the keys are in (`status_page`, `notify.slack`); empty at the top level.
    pub table: &'static str,
    /// Which `[[table]]` entry, from 0, for tables that are lists (`[[notify.slack]]`).
    pub nth: Option<usize>,
    /// The key naming the variable (`api_key_env`).
    pub env_key: &'static str,
    /// The variable (or keyring entry) the secret is read from when no source is set.
    pub env_var: String,
    /// The key of the `*_secret` source (`api_key_secret`), when the section has one.
    pub secret_key: Option<&'static str>,
    /// Its value: `env:NAME`, `keyring:NAME` or `aws-sm:ID[#key]`; empty: `env_var`.
    pub secret: String,
    /// What the secret is, for people: "Status page API key".
    pub purpose: String,
    /// Whether a configured provider needs it now (a missing value is then a problem).
    pub in_use: bool,
    /// When it is needed, for people: "now: provider statuspage", "signing Windows installers".
    pub needed_for: String,
    /// Whether the variable's value is masked in task logs: false only for the path of a
    /// secret file, which is not itself a secret.
    pub redact: bool,
}

impl SecretSetting {
    /// A secret in `[table]` named by key `env_key` (holding `env_var`), needed for nothing
    /// yet: see [`Self::with_source`] and [`Self::needed`].
    pub(super) fn new(
        table: &'static str,
        env_key: &'static str,
        env_var: &str,
        purpose: impl Into<String>,
    ) -> Self {
        Self {
            table,
            nth: None,
            env_key,
            env_var: env_var.to_owned(),
            secret_key: None,
            secret: String::new(),
            purpose: purpose.into(),
            in_use: false,
            needed_for: String::new(),
            redact: true,
        }
    }

    /// Its `*_secret` key and value.
    pub(super) fn with_source(mut self, secret_key: &'static str, spec: &str) -> Self {
        self.secret_key = Some(secret_key);
        spec.trim().clone_into(&mut self.secret);
        self
    }

    /// Whether it is needed now, and what for.
    pub(super) fn needed(mut self, in_use: bool, needed_for: impl Into<String>) -> Self {
        self.in_use = in_use;
        self.needed_for = needed_for.into();
        self
    }

    /// [`Self::needed`], saying `now` while in use and `otherwise` when not.
    pub(super) fn needed_now(self, in_use: bool, now: &str, otherwise: &str) -> Self {
        self.needed(in_use, if in_use { now } else { otherwise })
    }

    /// The `nth` entry of a `[[table]]` list.
    pub(super) fn entry(mut self, nth: usize) -> Self {
        self.nth = Some(nth);
        self
    }

    /// A variable that holds the path of a secret file, not a secret: not masked.
    pub(super) fn path(mut self) -> Self {
        self.redact = false;
        self
    }

    /// The dotted key naming the variable, for messages: `status_page.api_key_env`.
    pub fn key(&self) -> String {
        dotted(self.table, self.env_key)
    }

    /// The dotted key of its `*_secret` source, if the section has one.
    pub fn secret_key_path(&self) -> Option<String> {
        self.secret_key.map(|k| dotted(self.table, k))
    }

    /// Where it is read from: its `*_secret` source when set, else its variable.
    pub fn source(&self) -> &str {
        if self.secret.is_empty() {
            &self.env_var
        } else {
            &self.secret
        }
    }

    /// The environment variable it is read from (its own, or `env:NAME`); `None` when it lives
    /// in the keyring or AWS Secrets Manager only (`keyring:`, `aws-sm:`).
    pub fn variable(&self) -> Option<&str> {
        use crate::workspace::secrets::SecretRef;
        if self.secret.is_empty() {
            return Some(&self.env_var);
        }
        match SecretRef::parse(&self.secret) {
            Ok(SecretRef::Env(_)) => self.secret.strip_prefix("env:"),
            _ => None,
        }
    }
}

fn dotted(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_owned()
    } else {
        format!("{table}.{key}")
    }
}

impl Config {
    /// Every secret the workspace names, section by section: what Settings lists, what load
    /// validates and what the redactor masks.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        let mut out = self.status_page.secret_settings();
        out.extend(self.flags.secret_settings());
        out.extend(self.signing.secret_settings());
        out.extend(self.deploy.secret_settings());
        out.extend(self.remote.secret_settings());
        out.extend(self.source.iter().flat_map(SourceConfig::secret_settings));
        out.extend(self.publish.secret_settings());
        out.extend(self.notify.secret_settings());
        out.extend(self.secret_env.iter().map(|name| {
            SecretSetting::new("", "secret_env", name, "Build and signing secret")
                .needed(false, "building and signing installers")
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::Serialize as _;

    use super::super::{
        ArgoCdConfig, GitHubConfig, PagerDutyConfig, RotationEntry, SecretKind, SlackConfig,
        SourceGitHubConfig,
    };
    use super::*;

    /// Every key of a value's serialization as a dotted path (list entries share their list's
    /// path), skipped ones included: serde reports a field left out by `skip_serializing_if`
    /// through `skip_field`, so an empty `*_secret` key is seen too.
    mod keys {
        use std::collections::BTreeSet;

        use serde::ser::{self, Serialize};

        #[derive(Debug)]
        pub struct Never;

        impl std::fmt::Display for Never {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("never")
            }
        }

        impl std::error::Error for Never {}

        impl ser::Error for Never {
            fn custom<T: std::fmt::Display>(_: T) -> Self {
                Self
            }
        }

        #[derive(Debug, Default)]
        pub struct Keys {
            path: Vec<String>,
            pub found: BTreeSet<String>,
        }

        impl Keys {
            fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Never> {
                self.path.push(key.to_owned());
                self.found.insert(self.path.join("."));
                let result = value.serialize(&mut *self);
                self.path.pop();
                result
            }

            fn skipped(&mut self, key: &str) {
                self.path.push(key.to_owned());
                self.found.insert(self.path.join("."));
                self.path.pop();
            }
        }

        macro_rules! leaves {
            ($($name:ident: $ty:ty),* $(,)?) => {
                $(fn $name(self, _: $ty) -> Result<(), Never> { Ok(()) })*
            };
        }

        impl ser::Serializer for &mut Keys {
            type Ok = ();
            type Error = Never;
            type SerializeSeq = Self;
            type SerializeTuple = Self;
            type SerializeTupleStruct = Self;
            type SerializeTupleVariant = Self;
            type SerializeMap = Self;
            type SerializeStruct = Self;
            type SerializeStructVariant = Self;

            leaves!(
                serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
                serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
                serialize_u64: u64, serialize_f32: f32, serialize_f64: f64,
                serialize_char: char, serialize_str: &str, serialize_bytes: &[u8],
                serialize_unit_struct: &'static str,
            );

            fn serialize_none(self) -> Result<(), Never> {
                Ok(())
            }

            fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Never> {
                value.serialize(self)
            }

            fn serialize_unit(self) -> Result<(), Never> {
                Ok(())
            }

            fn serialize_unit_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
            ) -> Result<(), Never> {
                Ok(())
            }

            fn serialize_newtype_struct<T: Serialize + ?Sized>(
                self,
                _: &'static str,
                value: &T,
            ) -> Result<(), Never> {
                value.serialize(self)
            }

            fn serialize_newtype_variant<T: Serialize + ?Sized>(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                value: &T,
            ) -> Result<(), Never> {
                value.serialize(self)
            }

            fn serialize_seq(self, _: Option<usize>) -> Result<Self, Never> {
                Ok(self)
            }

            fn serialize_tuple(self, _: usize) -> Result<Self, Never> {
                Ok(self)
            }

            fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
                Ok(self)
            }

            fn serialize_tuple_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self, Never> {
                Ok(self)
            }

            fn serialize_map(self, _: Option<usize>) -> Result<Self, Never> {
                Ok(self)
            }

            fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
                Ok(self)
            }

            fn serialize_struct_variant(
                self,
                _: &'static str,
                _: u32,
                _: &'static str,
                _: usize,
            ) -> Result<Self, Never> {
                Ok(self)
            }
        }

        macro_rules! elements {
            ($($tr:ident :: $method:ident),*) => {
                $(impl ser::$tr for &mut Keys {
                    type Ok = ();
                    type Error = Never;
                    fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Never> {
                        value.serialize(&mut **self)
                    }
                    fn end(self) -> Result<(), Never> {
                        Ok(())
                    }
                })*
            };
        }

        elements!(
            SerializeSeq::serialize_element,
            SerializeTuple::serialize_element,
            SerializeTupleStruct::serialize_field,
            SerializeTupleVariant::serialize_field
        );

        impl ser::SerializeMap for &mut Keys {
            type Ok = ();
            type Error = Never;

            fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Never> {
                Ok(())
            }

            fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Never> {
                self.field("*", value)
            }

            fn end(self) -> Result<(), Never> {
                Ok(())
            }
        }

        macro_rules! structs {
            ($($tr:ident),*) => {
                $(impl ser::$tr for &mut Keys {
                    type Ok = ();
                    type Error = Never;
                    fn serialize_field<T: Serialize + ?Sized>(
                        &mut self,
                        key: &'static str,
                        value: &T,
                    ) -> Result<(), Never> {
                        self.field(key, value)
                    }
                    fn skip_field(&mut self, key: &'static str) -> Result<(), Never> {
                        self.skipped(key);
                        Ok(())
                    }
                    fn end(self) -> Result<(), Never> {
                        Ok(())
                    }
                })*
            };
        }

        structs!(SerializeStruct, SerializeStructVariant);
    }

    /// A configuration with every optional section and list present, so each of their keys
    /// is serialized.
    fn everything() -> Config {
        let mut c = Config::new_for_product("WireTuner");
        c.deploy.argocd = Some(ArgoCdConfig::default());
        c.remote.github = Some(GitHubConfig::default());
        c.source = Some(SourceConfig {
            github: Some(SourceGitHubConfig::default()),
            ..SourceConfig::default()
        });
        c.notify.pagerduty = Some(PagerDutyConfig::default());
        c.notify.slack = vec![SlackConfig {
            channel: "#devops".to_owned(),
            webhook_env: "SLACK_WEBHOOK_DEVOPS".to_owned(),
            webhook_secret: String::new(),
            events: vec!["*".to_owned()],
        }];
        c.rotation = vec![RotationEntry {
            name: "/wiretuner/db".to_owned(),
            kind: SecretKind::DatabasePassword,
            every_days: None,
            store: String::new(),
        }];
        c
    }

    #[test]
    fn every_env_and_secret_key_of_the_file_is_in_the_one_list() {
        let config = everything();
        let mut keys = keys::Keys::default();
        config
            .serialize(&mut keys)
            .expect("collecting keys never fails");
        let in_file: BTreeSet<String> = keys
            .found
            .into_iter()
            .filter(|k| k.ends_with("_env") || k.ends_with("_secret"))
            .collect();
        // The walk sees keys that serialization skips (an empty `*_secret`).
        assert!(
            in_file.contains("status_page.api_key_secret"),
            "{in_file:?}"
        );
        let listed: BTreeSet<String> = config
            .secret_settings()
            .iter()
            .flat_map(|s| [Some(s.key()), s.secret_key_path()])
            .flatten()
            .collect();
        assert_eq!(
            in_file.difference(&listed).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "keys of the file that name a secret but are not in Config::secret_settings"
        );
        assert_eq!(
            listed.difference(&in_file).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "listed keys the file does not have"
        );
    }

    #[test]
    fn a_setting_reads_its_source_when_set_else_its_variable() {
        let mut c = everything();
        c.publish.sparkle_ed_key_secret = "aws-sm:/wiretuner/sparkle#ed_key".to_owned();
        c.flags.token_secret = "env:LD_TOKEN".to_owned();
        let settings = c.secret_settings();
        let by_key = |k: &str| {
            settings
                .iter()
                .find(|s| s.key() == k)
                .unwrap_or_else(|| panic!("{k} listed"))
        };
        let sparkle = by_key("publish.sparkle_ed_key_env");
        assert_eq!(sparkle.source(), "aws-sm:/wiretuner/sparkle#ed_key");
        assert_eq!(sparkle.variable(), None);
        assert_eq!(by_key("flags.token_env").variable(), Some("LD_TOKEN"));
        let status = by_key("status_page.api_key_env");
        assert_eq!(
            (status.source(), status.variable()),
            ("STATUSPAGE_API_KEY", Some("STATUSPAGE_API_KEY"))
        );
        assert!(!by_key("signing.windows_pfx_path_env").redact);
        assert_eq!(by_key("notify.slack.webhook_env").nth, Some(0));
    }
}
