//! Secrets (API keys, tokens): from the environment variable the config names, or else from the
//! OS keyring under service `release-console` with that variable's name as the account. Never
//! from the config file, never printed: [`Secret`]'s `Debug` says `<redacted>`.
//!
//! The keyring is the `keyring` crate's native store: the Keychain on macOS, the Credential
//! Manager on Windows, the Secret Service (GNOME Keyring, `KWallet`) over D-Bus on Linux. Store
//! a key with `release-console secrets set STATUSPAGE_API_KEY` (the value on stdin). On Linux,
//! entries stored before with `secret-tool store ... service release-console account NAME` are
//! still found: such an entry is copied once under the crate's attributes (`service`,
//! `username`), and the log says so (never the value). macOS entries made with `security
//! add-generic-password -s release-console -a NAME` are the crate's own already.

use std::sync::Mutex;
use std::time::Duration;

/// The keyring service every secret is stored under.
pub const KEYRING_SERVICE: &str = "release-console";
/// A keyring that does not answer in this time is treated as "no entry" (a lookup) or as an
/// error (storing, forgetting): a hung Secret Service never hangs the window or the CLI.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// A secret value: never printed, never serialized.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOrigin {
    Environment,
    Keyring,
}

/// Secret values this process read (from the keyring, AWS, a credentials file or a variable):
/// every redactor masks them too, including those made before the value was read.
static FROM_KEYRING: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The secret named `var`: `$var` when set and not empty, else the OS keyring entry. Either
/// way the value joins what every redactor masks, so a variable no config key lists (or one
/// read before a redactor was made) is masked in task logs too.
pub fn lookup(var: &str) -> Option<(Secret, SecretOrigin)> {
    if let Some(v) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
        remember_for_redaction(&v);
        return Some((Secret::new(v), SecretOrigin::Environment));
    }
    let value = keyring_lookup(var)?;
    remember_for_redaction(&value);
    Some((Secret::new(value), SecretOrigin::Keyring))
}

/// The error for a secret that is neither in the variable config key `key` names (`name`) nor
/// in the keyring; `what` says what it must hold ("the Statuspage API key"). A `name` that is
/// not an upper-case variable name (config load refuses those) is never echoed: it may be the
/// secret itself, pasted into the wrong key.
pub fn not_found_message(key: &str, name: &str, what: &str) -> String {
    if super::config::is_env_var_name(name) {
        format!(
            "${name} is not set and the OS keyring has no entry (service {KEYRING_SERVICE:?}, \
             account {name:?}): it must hold {what} (`{key}`)"
        )
    } else {
        format!(
            "the variable named in `{key}` is not set and the OS keyring has no entry for it \
             (service {KEYRING_SERVICE:?}): it must hold {what}; `{key}` must name an \
             environment variable (its value is not shown in case it is a secret)"
        )
    }
}

/// Adds a secret this process holds to what every redactor masks.
pub fn remember_for_redaction(value: &str) {
    crate::runner::log::remember_secret(value);
    let mut known = FROM_KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !value.is_empty() && !known.iter().any(|k| k == value) {
        known.push(value.to_owned());
    }
}

/// Every secret value read so far (for redaction only).
pub fn keyring_values() -> Vec<String> {
    FROM_KEYRING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn keyring_lookup(account: &str) -> Option<String> {
    match keyring_read(account) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("the OS keyring could not be read for {account}: {e}");
            None
        }
    }
}

/// Runs `job` (a call into the OS keyring) on a thread of its own and waits at most
/// [`KEYRING_TIMEOUT`] for it: a keyring that hangs (a locked collection waiting for a prompt
/// nobody sees, a Secret Service that does not answer) leaves that thread behind, never the
/// caller.
fn within_timeout<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let worker = std::thread::Builder::new()
        .name("keyring".into())
        .spawn(job)
        .map_err(|e| format!("cannot start the keyring thread: {e}"))?;
    let deadline = std::time::Instant::now() + KEYRING_TIMEOUT;
    while !worker.is_finished() {
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "the OS keyring did not answer within {} s",
                KEYRING_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    worker
        .join()
        .map_err(|_| "the keyring call panicked".to_owned())?
}

/// A keyring error in words: its `Display`, which never holds the secret (a value that is not
/// UTF-8 is carried by the error, and only its `Debug` would print it).
fn keyring_error(e: &keyring::Error) -> String {
    e.to_string()
}

/// The entry `account` of service [`KEYRING_SERVICE`] in the OS keyring; the error says why
/// there is no keyring (the store's own start-up error: no D-Bus session, no Secret Service).
fn keyring_entry(account: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(KEYRING_SERVICE, account).map_err(|e| {
        let why = match keyring::Entry::store_status() {
            Err(start) => keyring_error(start),
            Ok(()) => keyring_error(&e),
        };
        format!("no OS keyring: {why}")
    })
}

/// What the OS keyring holds for `account`: `Ok(None)` when it has no entry, an error when it
/// cannot be asked (no Secret Service, a timeout). Blocking, at most [`KEYRING_TIMEOUT`].
pub fn keyring_read(account: &str) -> Result<Option<String>, String> {
    let account = account.to_owned();
    within_timeout(move || {
        let entry = keyring_entry(&account)?;
        let value = match entry.get_password() {
            Ok(v) => Some(v),
            Err(keyring::Error::NoEntry) => migrate_legacy(&entry, &account)?,
            Err(e) => return Err(keyring_error(&e)),
        };
        Ok(value.filter(|v| !v.is_empty()))
    })
}

/// Stores `value` as the keyring entry `account` (replacing one that is there). Blocking, at
/// most [`KEYRING_TIMEOUT`]. The value joins what every redactor masks.
pub fn keyring_store(account: &str, value: &Secret) -> Result<(), String> {
    remember_for_redaction(value.expose());
    forget_presence();
    let (account, value) = (account.to_owned(), value.clone());
    within_timeout(move || {
        keyring_entry(&account)?
            .set_password(value.expose())
            .map_err(|e| keyring_error(&e))
    })
}

/// Deletes the keyring entry `account`, and on Linux the entries `secret-tool` stored for it
/// (service, account): returns how many were deleted. Blocking, at most [`KEYRING_TIMEOUT`].
pub fn keyring_forget(account: &str) -> Result<usize, String> {
    forget_presence();
    let account = account.to_owned();
    within_timeout(move || {
        let mut deleted = 0;
        match keyring_entry(&account)?.delete_credential() {
            Ok(()) => deleted += 1,
            Err(keyring::Error::NoEntry) => {}
            Err(e) => return Err(keyring_error(&e)),
        }
        for old in legacy_entries(&account)? {
            old.delete_credential().map_err(|e| keyring_error(&e))?;
            deleted += 1;
        }
        Ok(deleted)
    })
}

/// The entries `secret-tool store ... service release-console account NAME` made (the
/// console's keyring before it used the `keyring` crate, whose entries say `username`):
/// only the Secret Service has them.
fn legacy_entries(account: &str) -> Result<Vec<keyring_core::Entry>, String> {
    if !cfg!(all(
        unix,
        not(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "android"
        ))
    )) {
        return Ok(Vec::new());
    }
    let spec =
        std::collections::HashMap::from([("service", KEYRING_SERVICE), ("account", account)]);
    match keyring_core::Entry::search(&spec) {
        Ok(found) => Ok(found),
        Err(keyring::Error::NoEntry) => Ok(Vec::new()),
        Err(e) => Err(keyring_error(&e)),
    }
}

/// The value of the entry `secret-tool` stored for `account`, copied under the crate's
/// attributes as `entry` so that the next lookup finds it directly; the log says so once (the
/// copy is what makes it once). The old entry is left as it was: a script that still reads
/// it with `secret-tool lookup` keeps working.
fn migrate_legacy(entry: &keyring::Entry, account: &str) -> Result<Option<String>, String> {
    let Some(old) = legacy_entries(account)?.into_iter().next() else {
        return Ok(None);
    };
    let value = old.get_password().map_err(|e| keyring_error(&e))?;
    remember_for_redaction(&value);
    match entry.set_password(&value) {
        // Said at warn, which the CLI shows by default: once, so a user who finds the entry
        // twice in their keyring knows why.
        Ok(()) => tracing::warn!(
            "copied the OS keyring entry for {account} (stored with secret-tool: service \
             {KEYRING_SERVICE:?}, account {account:?}) to the keyring's own attributes \
             (service {KEYRING_SERVICE:?}, username {account:?}); the old entry is left as it was"
        ),
        Err(e) => tracing::warn!(
            "found the OS keyring entry for {account} that secret-tool stored (service \
             {KEYRING_SERVICE:?}, account {account:?}) but could not copy it under the \
             keyring's own attributes: {}",
            keyring_error(&e)
        ),
    }
    Ok(Some(value))
}

/// What the OS keyring holds for an account, without reading the value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum KeyringPresence {
    /// An entry under service `release-console`, account NAME.
    Found,
    /// Only the entry `secret-tool store` made (Linux); it is copied on first use.
    FoundLegacy,
    /// No entry.
    Missing,
    /// The keyring could not be asked (why).
    Unavailable(String),
}

impl KeyringPresence {
    pub fn text(&self) -> String {
        match self {
            Self::Found => "entry found".to_owned(),
            Self::FoundLegacy => {
                "entry found (stored with secret-tool; copied to the keyring's own attributes \
                 on first use)"
                    .to_owned()
            }
            Self::Missing => "no entry".to_owned(),
            Self::Unavailable(why) => format!("not available: {}", short_why(why)),
        }
    }
}

/// Why the keyring cannot be asked, said shortly: the same answer stands on every secret's
/// row, so a D-Bus library's error text (a socket path and more) is said as what it means.
fn short_why(why: &str) -> String {
    let lower = why.to_ascii_lowercase();
    if lower.contains("zbus") || lower.contains("d-bus") || lower.contains("dbus") {
        return "no Secret Service reachable (no D-Bus session bus: a desktop session starts one)"
            .to_owned();
    }
    match why.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &why[..at]),
        None => why.to_owned(),
    }
}

/// How long a presence answer is reused: the Settings snapshot reloads after every change.
const PRESENCE_FOR: Duration = Duration::from_secs(30);
type Presence = (std::time::Instant, KeyringPresence);
static PRESENCE: Mutex<Vec<(String, Presence)>> = Mutex::new(Vec::new());

/// Whether the OS keyring has an entry for each of `accounts` (values are not read), all
/// asked in one go within [`KEYRING_TIMEOUT`]; answers are reused for 30 s.
pub fn keyring_presence(accounts: &[String]) -> Vec<KeyringPresence> {
    let now = std::time::Instant::now();
    let cached = |a: &str| {
        PRESENCE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(k, (at, _))| k == a && now.duration_since(*at) < PRESENCE_FOR)
            .map(|(_, (_, p))| p.clone())
    };
    let wanted: Vec<String> = accounts
        .iter()
        .filter(|a| cached(a).is_none())
        .cloned()
        .collect();
    if !wanted.is_empty() {
        let asked = wanted.clone();
        let answers = within_timeout(move || {
            Ok(asked
                .iter()
                .map(|account| {
                    let entry = match keyring_entry(account) {
                        Ok(e) => e,
                        Err(e) => return KeyringPresence::Unavailable(e),
                    };
                    match entry.inner.get_attributes() {
                        Ok(_) => KeyringPresence::Found,
                        Err(keyring::Error::NoEntry) => match legacy_entries(account) {
                            Ok(old) if !old.is_empty() => KeyringPresence::FoundLegacy,
                            Ok(_) => KeyringPresence::Missing,
                            Err(e) => KeyringPresence::Unavailable(e),
                        },
                        Err(e) => KeyringPresence::Unavailable(keyring_error(&e)),
                    }
                })
                .collect::<Vec<_>>())
        })
        .unwrap_or_else(|e| vec![KeyringPresence::Unavailable(e); wanted.len()]);
        let mut cache = PRESENCE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (account, answer) in wanted.into_iter().zip(answers) {
            cache.retain(|(k, _)| *k != account);
            cache.push((account, (now, answer)));
        }
    }
    accounts
        .iter()
        .map(|a| cached(a).unwrap_or(KeyringPresence::Missing))
        .collect()
}

/// Forgets the keyring presence answers (after `secrets set` or `forget` in this process).
pub fn forget_presence() {
    PRESENCE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}

/// One place a secret was looked for, and what was there (never the value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LookedIn {
    /// `$STATUSPAGE_API_KEY`, `OS keyring (service "release-console", account "X")`,
    /// `AWS Secrets Manager: ID`.
    pub place: String,
    /// `set`, `not set`, `entry found`, `no entry`, `not asked: $X is set`, ...
    pub answer: String,
    /// Whether the secret is there.
    pub found: bool,
}

/// Where one secret of the configuration is looked for, in order, and what each place holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretCheck {
    pub purpose: String,
    pub needed_for: String,
    pub in_use: bool,
    /// Its source as configured (a variable's name, or `keyring:`/`env:`/`aws-sm:`).
    pub source: String,
    pub looked: Vec<LookedIn>,
}

impl SecretCheck {
    /// Whether one of the places has it (an AWS secret is fetched only when used: unknown).
    pub fn found(&self) -> bool {
        self.looked.iter().any(|l| l.found)
    }

    /// Where it stands: what Settings' badge and `doctor` both say.
    pub fn state(&self) -> SecretState {
        if self.found() {
            SecretState::Set
        } else if self.source.starts_with("aws-sm:") {
            SecretState::FetchedWhenUsed
        } else if self.in_use {
            SecretState::Missing
        } else {
            SecretState::NotSet
        }
    }
}

/// Where a secret stands, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretState {
    /// One of the places has it.
    Set,
    /// Read from AWS Secrets Manager when a task needs it: not checked before.
    FetchedWhenUsed,
    /// Needed by what the configuration turns on, and in none of the places.
    Missing,
    /// In none of the places, and nothing configured needs it.
    NotSet,
}

impl SecretState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Set => "SET",
            Self::FetchedWhenUsed => "FETCHED WHEN USED",
            Self::Missing => "MISSING",
            Self::NotSet => "NOT SET",
        }
    }
}

/// Every secret the configuration names, with where it is looked for ($VAR, the keyring, AWS
/// Secrets Manager) and what is there, never a value. Blocking: the keyring is asked (at most
/// [`KEYRING_TIMEOUT`] in all, answers reused for 30 s); AWS is not called.
pub fn where_looked(config: &super::Config) -> Vec<SecretCheck> {
    let settings = config.secret_settings();
    let var_set = |v: &str| std::env::var(v).is_ok_and(|x| !x.trim().is_empty());
    let keyring_place =
        |a: &str| format!("OS keyring (service {KEYRING_SERVICE:?}, account {a:?})");
    // The keyring accounts to ask: a `keyring:` source, or a variable that is not set.
    let accounts: Vec<String> = settings
        .iter()
        .filter_map(|s| match SecretRef::parse(&s.secret) {
            _ if s.secret.trim().is_empty() => (!var_set(&s.env_var)).then(|| s.env_var.clone()),
            Ok(SecretRef::Keyring(name)) => Some(name),
            _ => None,
        })
        .collect();
    let presence = keyring_presence(&accounts);
    let in_keyring = |a: &str| {
        accounts
            .iter()
            .position(|x| x == a)
            .and_then(|i| presence.get(i).cloned())
            .unwrap_or(KeyringPresence::Missing)
    };
    settings
        .iter()
        .map(|s| {
            let mut looked = Vec::new();
            let mut var = |name: &str| {
                let set = var_set(name);
                looked.push(LookedIn {
                    place: format!("${name}"),
                    answer: if set { "set" } else { "not set" }.to_owned(),
                    found: set,
                });
                set
            };
            let keyring = |looked: &mut Vec<LookedIn>, name: &str| {
                let p = in_keyring(name);
                looked.push(LookedIn {
                    place: keyring_place(name),
                    answer: p.text(),
                    found: matches!(p, KeyringPresence::Found | KeyringPresence::FoundLegacy),
                });
            };
            match SecretRef::parse(&s.secret) {
                _ if s.secret.trim().is_empty() => {
                    if var(&s.env_var) {
                        looked.push(LookedIn {
                            place: keyring_place(&s.env_var),
                            answer: format!("not asked: ${} is set", s.env_var),
                            found: false,
                        });
                    } else {
                        keyring(&mut looked, &s.env_var);
                    }
                }
                Ok(SecretRef::Env(name)) => {
                    var(&name);
                }
                Ok(SecretRef::Keyring(name)) => keyring(&mut looked, &name),
                Ok(SecretRef::AwsSm { id, json_key }) => looked.push(LookedIn {
                    place: format!(
                        "AWS Secrets Manager: {id}{} (region {})",
                        json_key.map_or_else(String::new, |k| format!(", key {k:?}")),
                        if config.aws.region.trim().is_empty() {
                            "not set"
                        } else {
                            config.aws.region.as_str()
                        }
                    ),
                    answer: "fetched when a task needs it (not read here)".to_owned(),
                    found: false,
                }),
                Err(e) => looked.push(LookedIn {
                    place: s.secret_key_path().unwrap_or_else(|| s.key()),
                    answer: e,
                    found: false,
                }),
            }
            SecretCheck {
                purpose: s.purpose.clone(),
                needed_for: s.needed_for.clone(),
                in_use: s.in_use,
                source: s.source().to_owned(),
                looked,
            }
        })
        .collect()
}

/// AWS credentials: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) from
/// the environment or the keyring, else `profile` (empty: `$AWS_PROFILE`, else `default`) of
/// the shared credentials file (`$AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
/// The error says everything that was tried.
pub fn aws_credentials(profile: &str) -> Result<crate::net::sigv4::Credentials, String> {
    if let (Some((access, from)), Some((secret, _))) =
        (lookup("AWS_ACCESS_KEY_ID"), lookup("AWS_SECRET_ACCESS_KEY"))
    {
        // The token goes with the keys: keys from the environment take their token from there
        // only (a session token is set with the keys it belongs to), and the keyring is not
        // asked for one (each command warned that it could not be read).
        let token = match from {
            SecretOrigin::Environment => std::env::var("AWS_SESSION_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .inspect(|t| remember_for_redaction(t)),
            SecretOrigin::Keyring => {
                lookup("AWS_SESSION_TOKEN").map(|(t, _)| t.expose().to_owned())
            }
        };
        return Ok(crate::net::sigv4::Credentials::new(
            access.expose().to_owned(),
            secret.expose().to_owned(),
            token,
        ));
    }
    let profile = if profile.trim().is_empty() {
        std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned())
    } else {
        profile.trim().to_owned()
    };
    let file = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".aws/credentials"))
        });
    let tried = format!(
        "no AWS credentials: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY are not set (nor in \
         the keyring), and profile {profile:?} is not in {}",
        file.as_ref().map_or_else(
            || "~/.aws/credentials".to_owned(),
            |f| f.display().to_string()
        )
    );
    let Some(text) = file.and_then(|f| std::fs::read_to_string(f).ok()) else {
        return Err(tried);
    };
    let mut section = String::new();
    let (mut access, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            name.trim().clone_into(&mut section);
            continue;
        }
        if section != profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "aws_access_key_id" => access = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    match (access, secret) {
        (Some(a), Some(s)) => {
            remember_for_redaction(&s);
            if let Some(t) = &token {
                remember_for_redaction(t);
            }
            Ok(crate::net::sigv4::Credentials::new(a, s, token))
        }
        _ => Err(tried),
    }
}

/// Secrets fetched from AWS Secrets Manager this run, by source: each is fetched once.
static FROM_AWS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Where a `*_secret` key says a secret is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`: only the environment variable.
    Env(String),
    /// `keyring:NAME`: only the OS keyring entry.
    Keyring(String),
    /// `aws-sm:ID` or `aws-sm:ID#json-key`: AWS Secrets Manager's secret (a key inside its JSON).
    AwsSm {
        id: String,
        json_key: Option<String>,
    },
}

impl SecretRef {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if let Some(name) = spec.strip_prefix("env:") {
            if !super::config::is_env_var_name(name) {
                return Err(
                    "env: must be followed by an environment variable name (upper-case \
                            letters, digits and `_`); the value is not shown in case it is a \
                            secret"
                        .to_owned(),
                );
            }
            return Ok(Self::Env(name.to_owned()));
        }
        if let Some(name) = spec.strip_prefix("keyring:") {
            return Ok(Self::Keyring(name.to_owned()));
        }
        if let Some(rest) = spec.strip_prefix("aws-sm:") {
            let (id, key) = match rest.split_once('#') {
                Some((id, key)) => (id, Some(key.to_owned())),
                None => (rest, None),
            };
            if id.is_empty() {
                return Err(format!("{spec:?}: name the secret after aws-sm:"));
            }
            return Ok(Self::AwsSm {
                id: id.to_owned(),
                json_key: key,
            });
        }
        // Only a scheme is echoed: the rest of what was pasted here may be the secret itself.
        let scheme = spec.split_once(':').map(|(s, _)| s).filter(|s| {
            !s.is_empty()
                && s.len() <= 16
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        Err(format!(
            "{} is not a secret source: a secret source is env:NAME, keyring:NAME or \
             aws-sm:SECRET-ID[#json-key] ({} is not shown in case it is a secret)",
            scheme.map_or_else(
                || "the value".to_owned(),
                |s| format!("{:?}", format!("{s}:"))
            ),
            if scheme.is_some() {
                "the rest of the value"
            } else {
                "the value"
            }
        ))
    }
}

/// The secret a setting names: its `*_secret` source when set (`spec`), else `$env_var` then
/// the keyring as always. `Ok(None)`: not set anywhere; an error names what failed (a missing
/// AWS secret, a key not in its JSON). Secrets from AWS are fetched once per run and join
/// what every redactor masks.
pub fn resolve(
    env_var: &str,
    spec: &str,
    aws: &super::config::AwsConfig,
) -> Result<Option<Secret>, String> {
    if spec.trim().is_empty() {
        return Ok(lookup(env_var).map(|(s, _)| s));
    }
    match SecretRef::parse(spec)? {
        SecretRef::Env(name) => Ok(std::env::var(&name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                remember_for_redaction(&v);
                Secret::new(v)
            })),
        SecretRef::Keyring(name) => Ok(keyring_lookup(&name).map(|v| {
            remember_for_redaction(&v);
            Secret::new(v)
        })),
        SecretRef::AwsSm { id, json_key } => {
            let cache_key = spec.trim().to_owned();
            if let Some((_, v)) = FROM_AWS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find(|(k, _)| *k == cache_key)
            {
                return Ok(Some(Secret::new(v.clone())));
            }
            let raw = fetch_aws_secret(&id, aws)?;
            let value = match json_key {
                None => raw,
                Some(key) => {
                    let v: serde_json::Value = serde_json::from_str(&raw).map_err(|_| {
                        format!("aws-sm:{id}: the secret is not JSON, so it has no key {key:?}")
                    })?;
                    v.get(&key)
                        .and_then(|x| {
                            x.as_str()
                                .map(str::to_owned)
                                .or_else(|| Some(x.to_string()))
                        })
                        .filter(|x| x != "null")
                        .ok_or_else(|| {
                            format!("aws-sm:{id}: the secret's JSON has no key {key:?}")
                        })?
                }
            };
            remember_for_redaction(&value);
            FROM_AWS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((cache_key, value.clone()));
            Ok(Some(Secret::new(value)))
        }
    }
}

/// `GetSecretValue`, on a thread of its own (so it can be called from anywhere, async code
/// included) with its own small runtime.
/// One AWS Secrets Manager call (`secretsmanager.{target}`), on a thread of its own so that it
/// can be made from async and sync code alike. The error names the secret.
fn secrets_manager(
    target: &str,
    id: &str,
    aws: &super::config::AwsConfig,
) -> Result<serde_json::Value, String> {
    let creds = aws_credentials(&aws.profile)?;
    let endpoint = Some(aws.endpoint.clone()).filter(|e| !e.trim().is_empty());
    let api = crate::net::aws::JsonApi::new(
        endpoint.as_deref(),
        "secretsmanager",
        "secretsmanager",
        &aws.region,
        creds,
        "1.1",
    )?;
    let (id, target) = (id.to_owned(), format!("secretsmanager.{target}"));
    let worker = std::thread::Builder::new()
        .name("aws-secret".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(api.call(&target, &serde_json::json!({ "SecretId": id })))
                .map_err(|e| match e.kind() {
                    "ResourceNotFoundException" => {
                        format!("aws-sm:{id}: no such secret in AWS Secrets Manager ({e})")
                    }
                    _ => format!("aws-sm:{id}: {e}"),
                })
        })
        .map_err(|e| e.to_string())?;
    worker
        .join()
        .map_err(|_| "the AWS Secrets Manager lookup panicked".to_owned())?
}

fn fetch_aws_secret(id: &str, aws: &super::config::AwsConfig) -> Result<String, String> {
    let v = secrets_manager("GetSecretValue", id, aws)?;
    v["SecretString"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            format!("aws-sm:{id}: the secret has no SecretString (binary secrets are not read)")
        })
}

/// When AWS Secrets Manager last rotated or changed a secret (`DescribeSecret`; the value is
/// not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDates {
    pub last_rotated: Option<jiff::Timestamp>,
    pub last_changed: Option<jiff::Timestamp>,
    pub rotation_enabled: bool,
    pub next_rotation: Option<jiff::Timestamp>,
}

impl SecretDates {
    /// `LastRotatedDate`, else `LastChangedDate`, with which of the two it is.
    pub fn last(&self) -> Option<(jiff::Timestamp, &'static str)> {
        self.last_rotated
            .map(|t| (t, "LastRotatedDate"))
            .or_else(|| self.last_changed.map(|t| (t, "LastChangedDate")))
    }
}

/// How long a `DescribeSecret` answer is reused: the snapshot reloads often, rotations do not.
const DESCRIBE_FOR: std::time::Duration = std::time::Duration::from_mins(10);

type Described = (std::time::Instant, Result<SecretDates, String>);
static DESCRIBED: Mutex<Vec<(String, Described)>> = Mutex::new(Vec::new());

/// `DescribeSecret` of `id`, asked at most once every ten minutes per secret.
pub fn describe_aws_secret(
    id: &str,
    aws: &super::config::AwsConfig,
) -> Result<SecretDates, String> {
    let key = format!("{}|{}|{id}", aws.endpoint, aws.region);
    {
        let cache = DESCRIBED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, (at, answer))) = cache.iter().find(|(k, _)| *k == key)
            && at.elapsed() < DESCRIBE_FOR
        {
            return answer.clone();
        }
    }
    let date = crate::net::aws::timestamp;
    let answer = secrets_manager("DescribeSecret", id, aws).map(|v| SecretDates {
        last_rotated: date(&v["LastRotatedDate"]),
        last_changed: date(&v["LastChangedDate"]),
        rotation_enabled: v["RotationEnabled"].as_bool().unwrap_or(false),
        next_rotation: date(&v["NextRotationDate"]),
    });
    let mut cache = DESCRIBED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.retain(|(k, _)| *k != key);
    cache.push((key, (std::time::Instant::now(), answer.clone())));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("k".into())), "<redacted>");
    }

    #[test]
    fn a_missing_secret_names_its_variable_but_never_a_pasted_key() {
        let named = not_found_message(
            "status_page.api_key_env",
            "STATUSPAGE_API_KEY",
            "the Statuspage API key",
        );
        assert!(
            named.starts_with("$STATUSPAGE_API_KEY is not set and the OS keyring has no entry"),
            "{named}"
        );
        // A Statuspage key is 32 lower-case hex digits: a valid name for the shell, a secret.
        let pasted = "89a2c0ffee1d2e3f40516273849aeb4c";
        let msg = not_found_message("status_page.api_key_env", pasted, "the Statuspage API key");
        assert!(!msg.contains(pasted), "{msg}");
        assert!(
            msg.starts_with("the variable named in `status_page.api_key_env` is not set"),
            "{msg}"
        );
    }

    #[test]
    fn a_secret_source_that_is_not_one_is_refused_without_echoing_it() {
        let pasted = "sk-live-5f0e9d8c7b6a";
        for spec in [pasted.to_owned(), format!("env:{pasted}")] {
            let e = SecretRef::parse(&spec).expect_err("not a source");
            assert!(!e.contains(pasted), "{e}");
        }
        assert_eq!(
            SecretRef::parse("env:PFX_PASSWORD"),
            Ok(SecretRef::Env("PFX_PASSWORD".into()))
        );
    }
}
