//! The release workspace: `release-console.toml`, `releases/<version>/` and the audit log.
//!
//! Every method here is blocking file I/O: the CLI calls them directly, the GUI from a
//! background worker. Every change is written atomically and recorded in the audit log.

pub mod blobs;
pub mod config;
mod lease;
mod people;
mod records;
pub mod secrets;
pub mod shared;
mod words;

pub use self::lease::{ACTIVE_WITHIN, Active, Activity, LEASE_FOR, Lease, LeaseInfo, take_notices};
pub use self::people::{KeysView, NewKey, Signing};
pub(crate) use self::records::{Held, first_difference, judge};
pub(crate) use self::records::{Records, records_disagreement, roll_records};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::event::{
    ChecklistChange, Pair, TaskFinished, TaskRunning, TaskStart, TaskStarted,
};
use crate::audit::{self, Action, AuditEntry, AuditError, AuditLog, Event, Verified};
use crate::runbook::{Checklist, Runbook, RunbookError};
use crate::runner::{Redactor, TaskContext, TaskError, TaskHook, TaskInfo, TaskSpec, TaskState};
use crate::store;

pub use self::config::{CONFIG_FILE, Config, ConfigError};
pub use crate::store::StateError;

/// Environment variable naming who acts, over the configuration's `actor` and the OS user.
pub const ACTOR_ENV: &str = "RELEASE_CONSOLE_ACTOR";

/// Environment variable naming the workspace when `--workspace` is not given.
pub const WORKSPACE_ENV: &str = "RELEASE_CONSOLE_WORKSPACE";

const DEMO_CONFIG: &str = include_str!("../../assets/demo/release-console.toml");

/// The folder of the stand-ins the demo's disaster-recovery procedures run (its `[dr]
/// stand_ins`) in place of the real `aws`, `kubectl` and `redis-cli`.
pub const DEMO_STAND_INS: &str = "dr-stand-ins";

/// The demo's `[dr]` section, as its configuration ends with it: added to a demo unpacked
/// before it had one.
const DEMO_DR_MARK: &str = "\n# The disaster-recovery procedures (Runbooks) run against stand-ins";

/// The demo's stand-ins (path, text, executable): small scripts that print made-up output and
/// say "DEMO STAND-IN", so no demo procedure touches a cloud, a cluster or a database.
const DEMO_FILES: &[(&str, &str, bool)] = &[
    (
        "dr-stand-ins/aws",
        include_str!("../../assets/demo/dr-stand-ins/aws"),
        true,
    ),
    (
        "dr-stand-ins/kubectl",
        include_str!("../../assets/demo/dr-stand-ins/kubectl"),
        true,
    ),
    (
        "dr-stand-ins/redis-cli",
        include_str!("../../assets/demo/dr-stand-ins/redis-cli"),
        true,
    ),
];

/// The installer builders and pipeline definition every new workspace gets (path, text,
/// executable).
pub(crate) const PACKAGING: &[(&str, &str, bool)] = &[
    (
        "packaging/pipelines/default.toml",
        include_str!("../../packaging/pipelines/default.toml"),
        false,
    ),
    (
        "packaging/windows/build_installer_on_linux.sh",
        include_str!("../../packaging/windows/build_installer_on_linux.sh"),
        true,
    ),
    (
        "packaging/windows/installer.wxs.in",
        include_str!("../../packaging/windows/installer.wxs.in"),
        false,
    ),
    (
        "packaging/lib/steps.sh",
        include_str!("../../packaging/lib/steps.sh"),
        false,
    ),
    (
        "packaging/macos/build_dmg.sh",
        include_str!("../../packaging/macos/build_dmg.sh"),
        true,
    ),
    (
        "packaging/windows/build_msi.ps1",
        include_str!("../../packaging/windows/build_msi.ps1"),
        false,
    ),
    (
        "packaging/windows/installer.iss",
        include_str!("../../packaging/windows/installer.iss"),
        false,
    ),
    (
        "packaging/windows/installer.wxs",
        include_str!("../../packaging/windows/installer.wxs"),
        false,
    ),
    (
        "payload/README.txt",
        include_str!("../../assets/demo/payload/README.txt"),
        false,
    ),
];
const DEMO_RELEASE: &str = "0.1.0";

/// Anything that went wrong with the workspace, naming the file or value.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Runbook(#[from] RunbookError),
    #[error("{path}: {action}: {cause}")]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: std::io::Error,
    },
    #[error(
        "{0}: not a release workspace (no {CONFIG_FILE}); create one with `release-console init`"
    )]
    NotAWorkspace(PathBuf),
    #[error("{0}: a workspace already exists here")]
    AlreadyExists(PathBuf),
    #[error("version {input:?}: not a semantic version ({message}); expected e.g. 1.2.3")]
    BadVersion { input: String, message: String },
    #[error("release {0} already exists")]
    ReleaseExists(String),
    #[error("release {version} not found; releases: {known}")]
    UnknownRelease { version: String, known: String },
    #[error("no release yet; create one with `release-console release new VERSION`")]
    NoRelease,
    #[error("release {release}: no checklist item {item:?}; items: {known}")]
    UnknownItem {
        release: String,
        item: String,
        known: String,
    },
    #[error("release {release}: cannot tick {item:?}: {reason}")]
    Gated {
        release: String,
        item: String,
        reason: String,
    },
    #[error(
        "release {release}: cannot tick {item:?} by hand without a note: {why} (--note \"...\")"
    )]
    NoteNeeded {
        release: String,
        item: String,
        why: String,
    },
    #[error("release {release}: {item:?} is already {state}{since}")]
    Unchanged {
        release: String,
        item: String,
        state: &'static str,
        /// By whom and when it last changed (` by ben at 2026-12-05 03:15`), or empty when
        /// it never did.
        since: String,
    },
    #[error("hotfix {version} must be newer than the release it fixes ({of})")]
    HotfixNotNewer { version: String, of: String },
    #[error("the user data directory is unknown on this system; pass --workspace DIR")]
    NoDataDir,
    /// A feature's own error, for callers that speak only `WorkspaceError` (the GUI's changes).
    #[error("{0}")]
    Refused(String),
    /// A shared workspace opened from its cache because the bucket could not be reached.
    #[error("{url} is read-only here: {why}; nothing was changed")]
    Offline { url: String, why: String },
    /// Another person changed the same thing after this console last read it.
    #[error(
        "{target} was changed by {actor} ({action}, entry #{seq}) after this console last read \
         it: nothing was recorded; look again and retry"
    )]
    Raced {
        target: String,
        actor: String,
        action: String,
        seq: u64,
    },
    /// The bucket's log does not extend the log this console verified.
    #[error(
        "{url}: entry #{seq}: {message}; refusing to use this workspace (see `release-console \
         workspace verify`)"
    )]
    Diverged {
        url: String,
        seq: u64,
        message: String,
    },
    /// Another console holds the lease on a long operation.
    #[error("{what} is in progress by {by}")]
    LeaseHeld {
        what: String,
        by: String,
        /// The lease as read: who, where, since and until.
        holder: Box<lease::LeaseInfo>,
    },
    /// A request to a shared workspace's bucket failed.
    #[error("{url}: {message}")]
    Bucket { url: String, message: String },
    /// A blob the bucket holds is not the one asked for (another size or SHA-256): refused,
    /// and nothing of it kept.
    #[error("{key}: refused: {message} (expected SHA-256 {expected})")]
    BadBlob {
        key: String,
        expected: String,
        message: String,
    },
}

impl WorkspaceError {
    /// The entry a shared workspace's bucket log was refused at (rewritten, removed, forked,
    /// or forged: [`Self::Diverged`], or an audit refusal of an entry), if this is such a
    /// refusal; none for anything else (a bucket that did not answer is not one).
    pub fn refused_entry(&self) -> Option<u64> {
        match self {
            Self::Diverged { seq, .. } | Self::Audit(AuditError::Forged { seq, .. }) => Some(*seq),
            Self::Audit(AuditError::Tampered { line, .. }) => Some(*line),
            _ => None,
        }
    }
}

/// What kind of release: a regular one, or a hotfix of an earlier release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReleaseKind {
    Regular,
    Hotfix { of: semver::Version },
}

/// `releases/<version>/release.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub version: semver::Version,
    #[serde(flatten)]
    pub kind: ReleaseKind,
    /// Which runbook the checklist follows.
    pub runbook: String,
    pub created_at: jiff::Timestamp,
    pub created_by: String,
    /// The audit entry that created it: a log that ends before it lost entries.
    #[serde(default, skip_serializing_if = "crate::runbook::is_zero")]
    pub audit_seq: u64,
}

/// How the workspace folder was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--workspace DIR`.
    Flag,
    /// The `RELEASE_CONSOLE_WORKSPACE` environment variable.
    Env,
    /// The current directory holds a workspace.
    CurrentDir,
    /// The embedded demo workspace in the user's data directory.
    Demo,
}

/// An open workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    config: Config,
    audit: AuditLog,
    /// The bucket, when this is a shared workspace (`root` is then its cache folder).
    shared: Option<Arc<shared::Shared>>,
}

/// Parses and validates a version string.
pub fn parse_version(input: &str) -> Result<semver::Version, WorkspaceError> {
    let trimmed = input.trim().trim_start_matches('v');
    semver::Version::parse(trimmed).map_err(|e| WorkspaceError::BadVersion {
        input: input.to_owned(),
        message: e.to_string(),
    })
}

/// Finds the workspace: `--workspace`, then `$RELEASE_CONSOLE_WORKSPACE`, then the current
/// directory, then the demo workspace (unpacked on first use).
pub fn resolve(flag: Option<&Path>) -> Result<(PathBuf, Origin), WorkspaceError> {
    match find(flag) {
        Some(found) => Ok(found),
        None => Ok((ensure_demo()?, Origin::Demo)),
    }
}

/// The workspace named by `--workspace`, the environment or the current directory, if any;
/// never the demo.
pub fn find(flag: Option<&Path>) -> Option<(PathBuf, Origin)> {
    if let Some(dir) = flag {
        return Some((dir.to_owned(), Origin::Flag));
    }
    if let Some(dir) = std::env::var_os(WORKSPACE_ENV).filter(|v| !v.is_empty()) {
        return Some((PathBuf::from(dir), Origin::Env));
    }
    let cwd = std::env::current_dir().ok()?;
    // There in any form (a folder, a link to nothing): opening it says what is wrong with it,
    // rather than the demo standing in for it.
    std::fs::symlink_metadata(cwd.join(CONFIG_FILE))
        .is_ok()
        .then_some((cwd, Origin::CurrentDir))
}

/// Writes the packaging files (builders, templates, pipeline definition) a workspace lacks;
/// files that exist are never overwritten (they may be edited).
fn add_missing_packaging(root: &Path) -> Result<(), WorkspaceError> {
    add_missing(root, PACKAGING)
}

/// Writes each of `files` (path, text, executable) that `root` does not have yet.
fn add_missing(root: &Path, files: &[(&str, &str, bool)]) -> Result<(), WorkspaceError> {
    #[cfg_attr(not(unix), allow(unused_variables))]
    for (rel, text, executable) in files {
        let path = root.join(rel);
        if path.exists() {
            continue;
        }
        store::write_atomic(&path, text.as_bytes())?;
        #[cfg(unix)]
        if *executable {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(
                |cause| WorkspaceError::Io {
                    path: path.clone(),
                    action: "make executable",
                    cause,
                },
            )?;
        }
    }
    Ok(())
}

/// Removes temp files older than an hour that a crash left in the workspace's state folders.
fn sweep_stale_temps(root: &Path) {
    let hour = std::time::Duration::from_hours(1);
    let mut dirs = vec![
        root.to_owned(),
        root.join("status"),
        root.join("flags"),
        root.join("kpi"),
    ];
    if let Ok(releases) = std::fs::read_dir(root.join("releases")) {
        dirs.extend(releases.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    let removed: usize = dirs.iter().map(|d| store::sweep_stale_temps(d, hour)).sum();
    if removed > 0 {
        tracing::info!("removed {removed} stale temp file(s) left by an interrupted write");
    }
}

/// The demo workspace folder, unpacked into the user's data directory on first use.
pub fn ensure_demo() -> Result<PathBuf, WorkspaceError> {
    let dirs = directories::ProjectDirs::from("dev", "release-console", "release-console")
        .ok_or(WorkspaceError::NoDataDir)?;
    let root = dirs.data_dir().join("demo-workspace");
    if root.join(CONFIG_FILE).is_file() {
        // A demo unpacked by an older version gets the builders added since.
        add_missing_packaging(&root)?;
        add_demo_stand_ins(&root)?;
    } else {
        unpack_demo(&root)?;
    }
    Ok(root)
}

/// Writes the demo workspace (`WireTuner`, local providers, release 0.1.0) into `root`.
pub fn unpack_demo(root: &Path) -> Result<Workspace, WorkspaceError> {
    let ws = Workspace::create(root, DEMO_CONFIG, serde_json::json!({"demo": true}))?;
    add_missing(root, DEMO_FILES)?;
    ws.create_release(DEMO_RELEASE, None)?;
    Ok(ws)
}

/// A demo unpacked before its procedures ran against stand-ins (it has no `dr-stand-ins/`)
/// gets the stand-ins and, when its configuration has no `[dr]` section, the demo's, so its
/// Runbooks never run the machine's real `aws`; the change is audited
/// (`workspace.config.upgraded`) before it is written. A demo that has the folder is left as
/// it is. Returns whether the configuration was changed.
pub fn add_demo_stand_ins(root: &Path) -> Result<bool, WorkspaceError> {
    if root.join(DEMO_STAND_INS).exists() {
        return Ok(false);
    }
    add_missing(root, DEMO_FILES)?;
    let ws = Workspace::open(root)?;
    let config_path = root.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&config_path).map_err(|cause| WorkspaceError::Io {
        path: config_path.clone(),
        action: "read",
        cause,
    })?;
    if !ws.config().dr.is_empty() {
        return Ok(false);
    }
    let Some(at) = DEMO_CONFIG.find(DEMO_DR_MARK) else {
        return Ok(false);
    };
    let upgraded = format!("{}\n{}", text.trim_end(), &DEMO_CONFIG[at..]);
    // Validated before anything is recorded or written: a configuration that has a `[dr]`
    // section of its own (one that sets no stand-ins) keeps it.
    if let Err(e) = Config::parse(&upgraded, &config_path) {
        tracing::warn!("the demo's [dr] stand-ins were not added to its configuration: {e}");
        return Ok(false);
    }
    ws.record(Event::ConfigUpgraded(Event::values(
        CONFIG_FILE,
        serde_json::Value::Null,
        serde_json::json!({
            "added": format!("[dr] stand_ins = \"{DEMO_STAND_INS}\""),
            "why": "the demo's disaster-recovery procedures run against stand-ins, never the \
                    real aws, kubectl or redis-cli",
        }),
    )))?;
    store::write_atomic(&config_path, upgraded.as_bytes())?;
    Ok(true)
}

impl Workspace {
    /// Opens the workspace in `root`, validating its configuration.
    pub fn open(root: &Path) -> Result<Self, WorkspaceError> {
        if let Some(url) = shared::SharedUrl::of_path(root) {
            return Self::open_shared(url?);
        }
        if let Some(url) = shared::marked(root) {
            // A shared workspace's cache folder opens the shared workspace, never a copy.
            return Self::open_shared(url);
        }
        Self::open_folder(root)
    }

    /// Opens the shared workspace at `url` (see [`shared`]), reached as the environment says.
    fn open_shared(url: shared::SharedUrl) -> Result<Self, WorkspaceError> {
        let access = shared::Access::from_env(&url)?;
        Self::open_shared_with(url, access)
    }

    /// Opens the shared workspace at `url` reached through `access` (a benchmark's writers,
    /// each with a cache of its own in one process).
    pub fn open_shared_with(
        url: shared::SharedUrl,
        access: shared::Access,
    ) -> Result<Self, WorkspaceError> {
        let (dir, connection) = shared::open(url, access)?;
        add_missing_packaging(&dir)?;
        let mut ws = Self::open_folder(&dir)?;
        ws.shared = Some(Arc::new(connection));
        // The actor of a shared workspace is another (the OS user): its key, then.
        ws.load_signer()?;
        // Others' releases and checklist changes reach the state before anything reads it;
        // the callers roll forward the projections of higher layers (`recover_with`).
        ws.recover_with(&[])?;
        Ok(ws)
    }

    /// The bucket's connection, when this is a shared workspace.
    pub fn shared(&self) -> Option<&shared::Shared> {
        self.shared.as_deref()
    }

    /// Where the workspace is: its folder, or its `s3://` URL.
    pub fn location(&self) -> String {
        self.shared
            .as_ref()
            .map_or_else(|| self.root.display().to_string(), |s| s.url().to_string())
    }

    /// A shared workspace: the entries others recorded since it was last read, adopted into
    /// the local log and rolled forward into the state (`projections` as for
    /// [`Self::recover_with`]); they are returned. A local workspace has none.
    pub fn sync(&self, projections: &[&dyn Projection]) -> Result<Vec<AuditEntry>, WorkspaceError> {
        let Some(shared) = &self.shared else {
            return Ok(Vec::new());
        };
        let adopted = shared.sync(&self.audit)?;
        if !adopted.is_empty() {
            self.recover_with(projections)?;
        }
        Ok(adopted)
    }

    fn open_folder(root: &Path) -> Result<Self, WorkspaceError> {
        // Absolute, so builders that run in other folders get paths that still work.
        let root = &std::path::absolute(root).map_err(|cause| WorkspaceError::Io {
            path: root.to_owned(),
            action: "resolve",
            cause,
        })?;
        let config_path = root.join(CONFIG_FILE);
        // One that is there but no file is read, and the error says why it cannot be.
        if std::fs::symlink_metadata(&config_path).is_err() {
            return Err(WorkspaceError::NotAWorkspace(root.to_owned()));
        }
        let config = Config::load(&config_path)?;
        // Every program the console runs by name from now on is the configured one.
        crate::os::set_configured_programs(config::tools::paths(&config.tools));
        sweep_stale_temps(root);
        let mut ws = Self {
            root: root.to_owned(),
            config,
            audit: AuditLog::in_workspace(root),
            shared: None,
        };
        ws.load_signer()?;
        Ok(ws)
    }

    /// Creates a new workspace for `product` in `root` (which may exist but must not hold one).
    pub fn init(root: &Path, product: &str) -> Result<Self, WorkspaceError> {
        let config = Config::new_for_product(product).to_toml();
        Self::create(root, &config, serde_json::json!({"product": product}))
    }

    /// Writes `config_text` as the configuration of a new workspace and records it.
    fn create(
        root: &Path,
        config_text: &str,
        details: serde_json::Value,
    ) -> Result<Self, WorkspaceError> {
        if let Some(url) = shared::SharedUrl::of_path(root) {
            let url = url?;
            let access = shared::Access::from_env(&url)?;
            return Self::create_shared(&url, config_text, details, access);
        }
        let config_path = root.join(CONFIG_FILE);
        if config_path.exists() {
            return Err(WorkspaceError::AlreadyExists(root.to_owned()));
        }
        // Validate before anything is written.
        Config::parse(config_text, &config_path)?;
        store::write_atomic(&config_path, config_text.as_bytes())?;
        let releases = root.join("releases");
        std::fs::create_dir_all(&releases).map_err(|cause| WorkspaceError::Io {
            path: releases,
            action: "create folder",
            cause,
        })?;
        add_missing_packaging(root)?;
        let ws = Self::open(root)?;
        ws.record(Event::WorkspaceInit(Event::values(
            root.display().to_string(),
            serde_json::Value::Null,
            details,
        )))?;
        Ok(ws)
    }

    /// Creates a shared workspace for `product` at `url`, reached through `access`.
    pub fn init_shared_with(
        url: &shared::SharedUrl,
        product: &str,
        access: shared::Access,
    ) -> Result<Self, WorkspaceError> {
        let config = Config::new_for_product(product).to_toml();
        Self::create_shared(
            url,
            &config,
            serde_json::json!({"product": product}),
            access,
        )
    }

    fn create_shared(
        url: &shared::SharedUrl,
        config_text: &str,
        details: serde_json::Value,
        access: shared::Access,
    ) -> Result<Self, WorkspaceError> {
        Config::parse(config_text, Path::new(&url.key(CONFIG_FILE)))?;
        let dir = shared::create(url.clone(), config_text, access.clone())?;
        add_missing_packaging(&dir)?;
        let ws = Self::open_shared_with(url.clone(), access)?;
        ws.record(Event::WorkspaceInit(Event::values(
            url.to_string(),
            serde_json::Value::Null,
            details,
        )))?;
        Ok(ws)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Who this console's entries name: `$RELEASE_CONSOLE_ACTOR` (a CI job's `ci@github`),
    /// else on a shared workspace the OS user (its configuration is everyone's, so its
    /// `actor` would name them all alike), else the configuration's `actor`, else the OS user.
    pub fn actor(&self) -> String {
        if let Some(actor) = std::env::var(ACTOR_ENV)
            .ok()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
        {
            return actor;
        }
        if self.shared.is_some() {
            return config::os_user();
        }
        self.config.effective_actor()
    }

    /// Masks the values of every secret the workspace knows: its secret environment variables,
    /// and whatever this process read from the keyring.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(
            self.config
                .secret_settings()
                .into_iter()
                .filter(|s| s.redact)
                .filter_map(|s| std::env::var(s.variable()?).ok())
                .chain(secrets::keyring_values()),
        )
    }

    /// Sets the path of the program `tool` in `[tools]` of the configuration (`None`: removes
    /// it, so the program is looked for on `PATH` again), audited (`workspace.config.tool`,
    /// with the path before and after) before the file is replaced atomically; the programs
    /// this process runs follow at once. The Settings panel's Tools section and nothing else
    /// writes the configuration, so every other line of the file is kept as it is. Returns the
    /// new configuration.
    pub fn set_tool_path(&self, tool: &str, path: Option<&str>) -> Result<Config, WorkspaceError> {
        let path = path.map(str::trim).filter(|p| !p.is_empty());
        if let Some(shared) = self.shared() {
            return Err(WorkspaceError::Refused(format!(
                "{} is a team's workspace: its configuration is everyone's, and where a \
                 program is differs from machine to machine; put `{tool}` on PATH here instead",
                shared.url()
            )));
        }
        if let Some(p) = path
            && let Some(problem) = config::tools::problem(tool, p)
        {
            return Err(WorkspaceError::Refused(format!("tools.{tool}: {problem}")));
        }
        let config_path = self.root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&config_path).map_err(|cause| WorkspaceError::Io {
            path: config_path.clone(),
            action: "read",
            cause,
        })?;
        let current = Config::parse(&text, &config_path)?;
        let before = current.tools.get(tool).cloned();
        if before.as_deref() == path {
            return Ok(current);
        }
        let edited = config::tools::with_tool(&text, tool, path);
        let config = Config::parse(&edited, &config_path)?;
        if config.tools.get(tool).map(String::as_str) != path {
            return Err(WorkspaceError::Refused(format!(
                "{}: its [tools] is written in a form this editor does not change (an inline \
                 table or dotted keys): set `{tool}` there by hand",
                config_path.display()
            )));
        }
        self.change(
            Event::ConfigTool(Event::values(
                CONFIG_FILE,
                serde_json::json!({ "tool": tool, "path": before }),
                serde_json::json!({ "tool": tool, "path": path }),
            )),
            |_| store::write_atomic(&config_path, edited.as_bytes()),
        )?;
        crate::os::set_configured_programs(config::tools::paths(&config.tools));
        Ok(config)
    }

    /// Records one event by this workspace's actor.
    pub fn record(&self, event: Event) -> Result<(), WorkspaceError> {
        self.record_as(&self.actor(), event).map(|_| ())
    }

    /// Like [`Self::record`], and returns the entry's sequence number, for state that records
    /// the entry of its last change (see [`Projection`]).
    pub fn record_seq(&self, event: Event) -> Result<u64, WorkspaceError> {
        self.record_as(&self.actor(), event)
    }

    /// A state change and its audit entry, together: the entry is appended first (a refused
    /// append changes nothing), then `write` saves the state; when the write fails, an
    /// `ACTION.failed` entry says so and the error is returned. Call it under the state's lock.
    pub fn change<T>(
        &self,
        event: Event,
        write: impl FnOnce(u64) -> Result<T, StateError>,
    ) -> Result<T, WorkspaceError> {
        self.change_as(&self.actor(), event, write)
    }

    fn change_as<T>(
        &self,
        actor: &str,
        event: Event,
        write: impl FnOnce(u64) -> Result<T, StateError>,
    ) -> Result<T, WorkspaceError> {
        let (action, target) = (event.action(), event.target());
        let seq = self.record_as(actor, event)?;
        write(seq).map_err(|e| {
            self.record_failed_as(actor, &action, &target, Some(seq), &e);
            WorkspaceError::State(e)
        })
    }

    /// Appends `ACTION.failed` with the error, after an audited intent of `action` on `target`
    /// whose work failed. The failure is returned by the caller either way; when the log
    /// refuses this entry too, it goes to the process log.
    pub fn record_failed(
        &self,
        action: Action,
        target: &str,
        error: &(dyn std::error::Error + 'static),
    ) {
        self.record_failed_as(&self.actor(), action.as_str(), target, None, error);
    }

    /// [`Self::record_failed`] for `intent`, recorded as entry `entry`, which it names, so
    /// that the failure voids that change even when other entries on its target came in
    /// between.
    pub fn record_failed_of(
        &self,
        intent: &Event,
        entry: u64,
        error: &(dyn std::error::Error + 'static),
    ) {
        let (action, target) = (intent.action(), intent.target());
        self.record_failed_as(&self.actor(), &action, &target, Some(entry), error);
    }

    fn record_failed_as(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        entry: Option<u64>,
        error: &(dyn std::error::Error + 'static),
    ) {
        let failed = self.record_as(
            actor,
            Event::Failed(audit::event::Failed {
                action: action.to_owned(),
                target: target.to_owned(),
                error: crate::error_chain(error),
                entry,
            }),
        );
        if let Err(audit) = failed {
            tracing::error!(
                "{action} {target} failed, and the audit log refused to say so: {}",
                audit.to_string()
            );
        }
    }

    fn record_as(&self, actor: &str, event: Event) -> Result<u64, WorkspaceError> {
        let new = event.to_new_entry(actor);
        let entry = match &self.shared {
            Some(shared) => shared.append(&self.audit, &new)?,
            None => self.audit.append(new)?,
        };
        Ok(entry.seq)
    }

    pub fn release_dir(&self, version: &semver::Version) -> PathBuf {
        self.root.join("releases").join(version.to_string())
    }

    /// Where a release's task logs go.
    pub fn logs_dir(&self, version: &semver::Version) -> PathBuf {
        self.release_dir(version).join("logs")
    }

    /// Every release, oldest version first.
    pub fn releases(&self) -> Result<Vec<Release>, WorkspaceError> {
        let dir = self.root.join("releases");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(cause) => {
                return Err(WorkspaceError::Io {
                    path: dir,
                    action: "list",
                    cause,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten().filter(|e| e.path().is_dir()) {
            let path = entry.path().join("release.json");
            if let Some(release) = store::read_json::<Release>(&path)? {
                out.push(release);
            }
        }
        out.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(out)
    }

    /// The release with `version`, or the newest when `None`.
    pub fn release(&self, version: Option<&str>) -> Result<Release, WorkspaceError> {
        let all = self.releases()?;
        let Some(version) = version else {
            return all.last().cloned().ok_or(WorkspaceError::NoRelease);
        };
        let wanted = parse_version(version)?;
        all.iter()
            .find(|r| r.version == wanted)
            .cloned()
            .ok_or_else(|| WorkspaceError::UnknownRelease {
                version: wanted.to_string(),
                known: known_versions(&all),
            })
    }

    /// Creates release `version`; `hotfix_of` names the release it fixes.
    pub fn create_release(
        &self,
        version: &str,
        hotfix_of: Option<&str>,
    ) -> Result<Release, WorkspaceError> {
        let version = parse_version(version)?;
        let kind = match hotfix_of {
            Some(of) => {
                let base = self.release(Some(of))?;
                if version <= base.version {
                    return Err(WorkspaceError::HotfixNotNewer {
                        version: version.to_string(),
                        of: base.version.to_string(),
                    });
                }
                ReleaseKind::Hotfix { of: base.version }
            }
            None => ReleaseKind::Regular,
        };
        self.recover_state(&[])?;
        // One creator at a time: two processes creating the same version cannot both succeed.
        let _lock = store::lock(&self.root, "create-release")?;
        // A creation a crash left in the log only is made first (it may be this version).
        self.roll_forward(&Scope::Creates, &[])?;
        let path = self.release_dir(&version).join("release.json");
        if path.exists() {
            return Err(WorkspaceError::ReleaseExists(version.to_string()));
        }
        let release = Release {
            runbook: match kind {
                ReleaseKind::Regular => "release",
                ReleaseKind::Hotfix { .. } => "hotfix",
            }
            .to_owned(),
            version,
            kind,
            created_at: jiff::Timestamp::now(),
            created_by: self.actor(),
            audit_seq: 0,
        };
        // Fail before writing anything if the runbook is broken.
        Runbook::load(&release.runbook, &self.root)?;
        let created = serde_json::to_value(&release)
            .and_then(serde_json::from_value)
            .map_err(|e| WorkspaceError::Refused(format!("release {}: {e}", release.version)))?;
        self.change(
            Event::ReleaseCreate(audit::event::ReleaseCreate {
                target: release.version.to_string(),
                before: (),
                after: created,
            }),
            |seq| {
                let release = Release {
                    audit_seq: seq,
                    ..release.clone()
                };
                store::write_json(&path, &release).map(|()| release)
            },
        )
    }

    pub fn runbook(&self, release: &Release) -> Result<Runbook, WorkspaceError> {
        Ok(Runbook::load(&release.runbook, &self.root)?)
    }

    fn checklist_path(&self, release: &Release) -> PathBuf {
        self.release_dir(&release.version).join("checklist.json")
    }

    pub fn checklist(&self, release: &Release) -> Result<Checklist, WorkspaceError> {
        Ok(store::read_json(&self.checklist_path(release))?.unwrap_or_default())
    }

    /// Ticks (`done = true`) or unticks an item, recording who, when and the note.
    ///
    /// This is a tick by hand: an item a task normally ticks needs a note saying what was done
    /// instead ([`crate::runbook::Item::hand_tick_needs_note`]).
    pub fn set_item(
        &self,
        release: &Release,
        item_id: &str,
        done: bool,
        note: &str,
    ) -> Result<Checklist, WorkspaceError> {
        if done && note.trim().is_empty() {
            let runbook = self.runbook(release)?;
            if let Some(item) = runbook.item(item_id)
                && let Some(why) = item.hand_tick_needs_note()
            {
                let checklist = self.checklist(release)?;
                // A gated or unchanged item says so first.
                if checklist.gate_for(&runbook, item).is_none()
                    && (!checklist.is_done(item_id) || checklist.is_settled_by_skip(item_id))
                {
                    return Err(WorkspaceError::NoteNeeded {
                        release: release.version.to_string(),
                        item: item_id.to_owned(),
                        why,
                    });
                }
            }
        }
        self.set_item_as(&self.actor(), release, item_id, (done, 0), note)
    }

    /// Ticks `item_id` as settled by the platform skip recorded in entry `skip_entry` (see
    /// [`crate::runbook::ItemState::settled_by_skip`]), with `note`.
    pub fn settle_item(
        &self,
        release: &Release,
        item_id: &str,
        skip_entry: u64,
        note: &str,
    ) -> Result<Checklist, WorkspaceError> {
        self.set_item_as(&self.actor(), release, item_id, (true, skip_entry), note)
    }

    /// Ticks or unticks an item; `(done, settled_by_skip)`. A tick of an item that only a
    /// platform skip ticked is a change (a person or a build did it after all), not
    /// `Unchanged`.
    fn set_item_as(
        &self,
        actor: &str,
        release: &Release,
        item_id: &str,
        (done, settled_by_skip): (bool, u64),
        note: &str,
    ) -> Result<Checklist, WorkspaceError> {
        let runbook = self.runbook(release)?;
        let version = release.version.to_string();
        let item = runbook
            .item(item_id)
            .ok_or_else(|| WorkspaceError::UnknownItem {
                release: version.clone(),
                item: item_id.to_owned(),
                known: runbook.item_ids().join(", "),
            })?;
        self.recover_state(&[])?;
        let _lock = store::lock(&self.release_dir(&release.version), "checklist")?;
        // A change a crash left in the log only is made first: this one builds on it.
        self.roll_forward(&Scope::Checklist(release), &[])?;

        let mut checklist = self.checklist(release)?;
        let before = checklist.items.get(item_id).cloned();
        let claims_settled = done && settled_by_skip == 0 && checklist.is_settled_by_skip(item_id);
        if before.as_ref().is_some_and(|b| b.done) == done && !claims_settled {
            return Err(WorkspaceError::Unchanged {
                release: version,
                item: item_id.to_owned(),
                state: if done { "ticked" } else { "unticked" },
                since: before.as_ref().map_or_else(String::new, |b| {
                    format!(" by {} at {}", b.by, crate::local_time(b.at, false))
                }),
            });
        }
        if done && let Some(reason) = checklist.gate_for(&runbook, item) {
            return Err(WorkspaceError::Gated {
                release: version,
                item: item_id.to_owned(),
                reason,
            });
        }
        let after = crate::runbook::ItemState {
            done,
            by: actor.to_owned(),
            at: jiff::Timestamp::now(),
            note: note.trim().to_owned(),
            audit_seq: 0,
            settled_by_skip: if done { settled_by_skip } else { 0 },
        };
        let change = ChecklistChange {
            target: Pair::new(version, item_id),
            before,
            after: after.clone(),
        };
        self.change_as(
            actor,
            if done {
                Event::ChecklistTick(change)
            } else {
                Event::ChecklistUntick(change)
            },
            |seq| {
                checklist.items.insert(
                    item_id.to_owned(),
                    crate::runbook::ItemState {
                        audit_seq: seq,
                        ..after.clone()
                    },
                );
                store::write_json(&self.checklist_path(release), &checklist)
            },
        )?;
        Ok(checklist)
    }

    /// Ticks every open item of `release` that names `task_kind`; returns the ticked ids.
    pub fn auto_tick(
        &self,
        release: &Release,
        task_kind: &str,
        task_name: &str,
    ) -> Result<Vec<String>, WorkspaceError> {
        let note = format!("ticked by task {task_name}");
        let ticked = self.auto_set(release, task_kind, task_name, true, &note)?;
        Ok(ticked.into_iter().map(|(id, _)| id).collect())
    }

    /// Unticks every ticked item of `release` that names `task_kind` (a task replaced what
    /// the tick stood for, e.g. an unsigned rebuild of a signed installer), recording `note`;
    /// returns the unticked items' titles.
    pub fn auto_untick(
        &self,
        release: &Release,
        task_kind: &str,
        task_name: &str,
        note: &str,
    ) -> Result<Vec<String>, WorkspaceError> {
        let unticked = self.auto_set(release, task_kind, task_name, false, note)?;
        Ok(unticked.into_iter().map(|(_, title)| title).collect())
    }

    /// Ticks (or unticks) the items of `release` that name `task_kind`, as the task; returns
    /// the id and title of each item changed.
    fn auto_set(
        &self,
        release: &Release,
        task_kind: &str,
        task_name: &str,
        tick: bool,
        note: &str,
    ) -> Result<Vec<(String, String)>, WorkspaceError> {
        let runbook = self.runbook(release)?;
        let checklist = self.checklist(release)?;
        let actor = format!("{} (task {task_name})", self.actor());
        let mut changed = Vec::new();
        for item in runbook.phases.iter().flat_map(|p| &p.items) {
            if item.auto_tick_on.as_deref() != Some(task_kind) {
                continue;
            }
            // An item a platform skip settled is ticked again by the build that did it after
            // all: the tick is the build's now, and withdrawing the skip keeps it.
            let to_change = if tick {
                !checklist.is_done(&item.id) || checklist.is_settled_by_skip(&item.id)
            } else {
                checklist.is_done(&item.id)
            };
            if !to_change {
                continue;
            }
            match self.set_item_as(&actor, release, &item.id, (tick, 0), note) {
                Ok(_) => changed.push((item.id.clone(), item.title.clone())),
                // Ticked meanwhile by another process (a second publish at once): done.
                Err(WorkspaceError::Unchanged { .. }) if tick => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changed)
    }

    /// Where a release's artifacts are collected.
    pub fn artifacts_dir(&self, version: &semver::Version) -> PathBuf {
        self.release_dir(version).join("artifacts")
    }

    /// A task spec for work on `release`: its log goes to `releases/<v>/logs/<name>-<time>.log`
    /// and every secret the workspace knows is redacted from it.
    pub fn task_spec(
        &self,
        name: &str,
        kind: &str,
        release: Option<&Release>,
        timeout: std::time::Duration,
    ) -> TaskSpec {
        let mut spec = TaskSpec::new(name, kind, timeout);
        spec.redactor = self.redactor();
        if let Some(r) = release {
            spec.release = Some(r.version.to_string());
            let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
            let file = format!("{}-{stamp}.log", sanitize_file_name(name));
            spec.log_file = Some(self.logs_dir(&r.version).join(file));
        }
        spec
    }

    /// Checks the audit log's chain and head, and that it is not gone altogether: every
    /// workspace's log starts with its `workspace.init` entry, so an empty log (`audit.log` and
    /// `audit.head` both deleted) is tampering, not a fresh start.
    ///
    /// Then every state file the log can speak for is compared with it: each release's
    /// `release.json` must record the entry that created it, and each checklist item the
    /// entry of its last tick or untick in the log (changes marked `ACTION.failed` or
    /// `ACTION.not_applied` did not take effect). The state locks are held meanwhile, so a
    /// change half done by a live process is not taken for a disagreement.
    pub fn verify_audit(&self) -> Result<Verified, AuditError> {
        self.verify_audit_with(&[])
    }

    /// [`Self::verify_audit`], and the state files of higher layers (`projections`: incident
    /// records, flag plans, platform skips, findings, rotations) compared with the log too.
    pub fn verify_audit_with(
        &self,
        projections: &[&dyn Projection],
    ) -> Result<Verified, AuditError> {
        let verified = self.audit.verify()?;
        let verified = not_emptied(&self.audit, verified)?;
        let mut verified = self.not_behind_state(verified)?;
        verified.signatures = Some(self.audit.verify_signatures(verified.entries)?);
        self.state_agrees().map_err(into_audit_error)?;
        for p in projections {
            self.projection_agrees(*p).map_err(into_audit_error)?;
        }
        Ok(verified)
    }

    /// The newest audit entry the state refers to (releases and checklist ticks record the
    /// sequence number of their entry), and which file says so.
    fn newest_state_ref(&self) -> Option<(u64, PathBuf)> {
        let releases = self.releases().ok()?;
        let mut newest: Option<(u64, PathBuf)> = None;
        let mut consider = |seq: u64, path: PathBuf| {
            if newest.as_ref().is_none_or(|(n, _)| seq > *n) {
                newest = Some((seq, path));
            }
        };
        for r in &releases {
            consider(
                r.audit_seq,
                self.release_dir(&r.version).join("release.json"),
            );
            if let Ok(c) = self.checklist(r)
                && let Some(seq) = c.items.values().map(|i| i.audit_seq).max()
            {
                consider(seq, self.checklist_path(r));
            }
        }
        newest.filter(|(seq, _)| *seq > 0)
    }

    /// A log (and head) rewritten shorter together still ends before the entries the state
    /// files refer to.
    fn not_behind_state(&self, verified: Verified) -> Result<Verified, AuditError> {
        self.not_behind(verified, self.newest_state_ref())
    }

    /// [`Self::not_behind_state`] with the newest reference already read.
    fn not_behind(
        &self,
        verified: Verified,
        newest: Option<(u64, PathBuf)>,
    ) -> Result<Verified, AuditError> {
        match newest {
            Some((seq, path)) if seq > verified.entries => Err(AuditError::Tampered {
                path: self.audit.path().to_owned(),
                line: verified.entries + 1,
                message: format!(
                    "{} records audit entry #{seq}, but the log ends after {} entries: entries \
                     were removed",
                    path.display(),
                    verified.entries
                ),
            }),
            _ => Ok(verified),
        }
    }

    /// The chain check of `index` (kept current with `AuditLog::refresh`), as
    /// [`Self::verify_audit`] judges it.
    pub fn audit_status(&self, index: &crate::audit::AuditIndex) -> Result<Verified, String> {
        // The state is read before the index is compared with the log: a state file is written
        // after its entry, so when the index is still current it holds every entry the state
        // read refers to. When the log grew since the index was read, the state may refer to
        // entries appended since; the next snapshot, with the index brought up to date, judges.
        let newest = self.newest_state_ref();
        self.audit
            .status(index)
            .and_then(|v| not_emptied(&self.audit, v))
            .and_then(|v| {
                if self.audit.is_current(index)? {
                    self.not_behind(v, newest)
                } else {
                    Ok(v)
                }
            })
            .map_err(|e| e.to_string())
    }

    /// The task that re-checks the audit log's hash chain ([`run_audit_verify`]).
    pub fn audit_verify_spec(&self, release: Option<&Release>) -> TaskSpec {
        self.task_spec(
            "audit-verify",
            "audit.verify",
            release,
            std::time::Duration::from_mins(10),
        )
    }

    /// A hook that audits every task start and end and auto-ticks checklist items.
    pub fn task_hook(&self) -> Arc<dyn TaskHook> {
        Arc::new(WorkspaceHook { ws: self.clone() })
    }
}

/// Re-checks every link of the audit log's hash chain as a task; fails naming the first bad
/// line.
pub async fn run_audit_verify(
    ctx: TaskContext,
    ws: Workspace,
    projections: &'static [&'static dyn Projection],
) -> Result<String, TaskError> {
    ctx.log_line(&format!(
        "checking the hash chain of {}, and the state files against it",
        ws.audit().path().display()
    ));
    let verified = tokio::task::spawn_blocking(move || {
        // What crashes left (a torn line, entries past the head, changes in the log only) is
        // repaired first, as the CLI does when it opens the workspace.
        if let Err(e) = ws.recover_with(projections) {
            tracing::warn!("crash recovery: {}", e.to_string());
        }
        ws.verify_audit_with(projections)
    })
    .await
    .map_err(|e| TaskError::Failed(crate::runner::panic_message(e)))?
    .map_err(|e| TaskError::Failed(e.to_string()))?;
    Ok(format!(
        "audit log intact: {} entries, last hash {}{}",
        verified.entries,
        &verified.last_hash[..12.min(verified.last_hash.len())],
        verified
            .signatures
            .map(|s| format!("; {}", s.summary()))
            .unwrap_or_default()
    ))
}

fn not_emptied(audit: &AuditLog, verified: Verified) -> Result<Verified, AuditError> {
    if verified.entries == 0 {
        return Err(AuditError::Tampered {
            path: audit.path().to_owned(),
            line: 1,
            message: "the log is empty, but every workspace's log starts with its \
                      workspace.init entry: audit.log and audit.head were deleted"
                .into(),
        });
    }
    Ok(verified)
}

fn sanitize_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn known_versions(all: &[Release]) -> String {
    if all.is_empty() {
        "none yet".to_owned()
    } else {
        all.iter()
            .map(|r| r.version.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Tasks whose start and finish are not audited: the notification sender, which audits each
/// delivery itself (its own start and finish would be entries that start it again).
fn is_quiet(task: &TaskInfo) -> bool {
    task.kind.starts_with("notify.")
}

struct WorkspaceHook {
    ws: Workspace,
}

impl WorkspaceHook {
    /// Records a task's start or end in the audit log; a notification's own tasks are not
    /// recorded (their deliveries are).
    fn record(&self, task: &TaskInfo, event: Event) -> Result<bool, String> {
        if is_quiet(task) {
            return Ok(false);
        }
        self.ws.record(event).map_err(|e| e.to_string())?;
        Ok(true)
    }
}

impl TaskHook for WorkspaceHook {
    fn on_start(&self, task: &TaskInfo) -> Result<(), String> {
        let event = Event::TaskStart(TaskStart {
            target: task.name.clone(),
            before: (),
            after: TaskStarted {
                kind: task.kind.clone(),
                release: task.release.clone(),
            },
        });
        self.record(task, event).map(|_| ())
    }

    fn on_finish(&self, task: &TaskInfo, state: TaskState, message: &str) -> Result<(), String> {
        let event = Event::TaskFinish(audit::event::TaskFinish {
            target: task.name.clone(),
            before: TaskRunning::default(),
            after: TaskFinished {
                state,
                message: message.to_owned(),
                kind: task.kind.clone(),
                release: task.release.clone(),
            },
        });
        let recorded = self.record(task, event)?;
        if recorded
            && state == TaskState::Succeeded
            && let Some(version) = task.release.as_deref()
        {
            let release = self.ws.release(Some(version)).map_err(|e| e.to_string())?;
            self.ws
                .auto_tick(&release, &task.kind, &task.name)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// `audit.applied`: every entry up to `seq` (the log's first `offset` bytes) took effect in the
/// state files, or was marked as not applied. Rolling forward reads only what follows.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Applied {
    seq: u64,
    offset: u64,
}

const APPLIED_FILE: &str = "audit.applied";

/// The checkpoint moves on once this many entries follow it (moving it costs a write).
const CHECKPOINT_EVERY: u64 = 64;

/// A change of state as an entry records it.
#[derive(Debug, Clone)]
pub struct Word {
    pub seq: u64,
    /// When it was appended.
    pub time: jiff::Timestamp,
    pub action: String,
    pub after: serde_json::Value,
    /// Who recorded it, and on which machine (see [`Workspace::wrote`]).
    pub actor: String,
    pub host: Option<String>,
    /// The appending console's nonce (a shared workspace's entries).
    pub nonce: Option<String>,
}

/// A projection's record that disagrees with the log: the entry number to report, and why
/// (naming the file).
pub type Disagreement = (u64, String);

/// The log's last change of a projection's record, as `last` holds it (`None`: the log has
/// none; `Some(None)`: every change of it was voided); either of those disagrees with a record
/// that exists. `subject` names the record in the message (`incident INC-1`), `seq` is the
/// entry it keeps.
pub fn last_change<'a>(
    file: &dyn std::fmt::Display,
    subject: &str,
    seq: u64,
    last: Option<&'a Option<Word>>,
) -> Result<&'a Word, Disagreement> {
    match last {
        Some(Some(w)) => Ok(w),
        None => Err((
            seq,
            format!(
                "{file} disagrees with the log: {subject} records entry #{seq}, but the log \
                 holds no change of it"
            ),
        )),
        Some(None) => Err((
            seq,
            format!(
                "{file} disagrees with the log: {subject} records entry #{seq}, but the log \
                 says that change did not take effect"
            ),
        )),
    }
}

/// Whether the record keeps the log's last change of it (`w`) as its entry (`seq`); `holds`
/// says what it holds (`is resolved`), for the message.
pub fn is_as_of(
    file: &dyn std::fmt::Display,
    subject: &str,
    holds: &str,
    seq: u64,
    w: &Word,
) -> Result<(), Disagreement> {
    if w.seq == seq {
        return Ok(());
    }
    let as_of = if seq == 0 {
        "recording no entry".to_owned()
    } else {
        format!("as of entry #{seq}")
    };
    Err((
        w.seq,
        format!(
            "{file} disagrees with the log: {subject} {holds} {as_of}, but its last change in \
             the log is entry #{} ({})",
            w.seq, w.action
        ),
    ))
}

/// A state file of a higher layer (incident records, flag plans, findings, rotations:
/// `workspace` cannot import those layers) whose changes the log records with what to replay in the entry's `after`, and
/// whose records each keep the sequence number of their last change. [`Workspace::recover_with`]
/// rolls it forward and [`Workspace::verify_audit_with`] compares it with the log; `cli` and
/// `ui` pass the projections in (`crate::projections::ALL`).
pub trait Projection: Send + Sync {
    /// Whether entries of `action` (without `.failed` or `.not_applied`) may change it.
    fn follows(&self, action: Action) -> bool;
    /// Whether an entry of an action it follows is a change of it (carries what to replay):
    /// one that does not (written before entries carried it, or a change of something else
    /// under the same action, like a flag's rollout in another environment) is left out.
    fn carries(&self, after: &serde_json::Value) -> bool;
    /// What its changes are kept by: the entry's target, unless one target has a record in
    /// several places (a version published on two channels: `CHANNEL/VERSION`). The keys are
    /// what `roll_forward` and `disagreement` are given; a void (`ACTION.failed` naming its
    /// entry) finds its change under whichever key it is.
    fn key(&self, target: &str, _after: &serde_json::Value) -> String {
        target.to_owned()
    }
    /// Whether change `w`, kept under `key`, can be replayed at all (else why not). One that
    /// cannot (a forger's, anyone's who can write a shared workspace's bucket) is left out,
    /// not kept as its key's last change: there it hid the changes before it from a console
    /// that rolls the log forward from the start, which has no record of its own to keep.
    fn readable(&self, _key: &str, _w: &Word) -> Result<(), String> {
        Ok(())
    }
    /// A raw-line marker every such entry contains (e.g. `"action":"status.incident.`), so
    /// the comparison parses only those lines.
    fn marker(&self) -> &'static str;
    /// The lock every change of the state file is made under, as [`store::lock`]'s folder and
    /// name. The comparison waits for it; a recovery that finds it taken leaves the file alone
    /// (a live process is making a change: it is not a crashed one). Not the lock of
    /// `store::update_json` on the file itself when `roll_forward` writes through it.
    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str);
    /// With the lock held: settles each target's last change in effect that the file lacks,
    /// applying it or not; returns how many it applied and the ones it did not apply (target,
    /// change, why), which are then marked `ACTION.not_applied`.
    #[expect(
        clippy::type_complexity,
        reason = "a list of (target, change, why) is what the caller marks"
    )]
    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), StateError>;
    /// With the lock held: the first disagreement of the file with `last` (each target's last
    /// change in effect, `None` when every change of it was voided), as the entry number to
    /// report and the message (naming the file).
    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, StateError>;
}

/// The changes the log holds per target of the actions whose state can be replayed from the
/// entry's `after`: a release's creation (`release.create`, target the version) and a
/// checklist item's tick or untick (target `version/item`), and the changes of the projections
/// given. An `ACTION.failed` or `ACTION.not_applied` entry voids the change it names
/// (`after.entry`), or, written before voids named it, the change before it on its target.
#[derive(Default)]
struct Changes<'p> {
    creates: ByTarget,
    items: ByTarget,
    /// Per projection, its targets' changes.
    projections: Vec<(&'p dyn Projection, ByTarget)>,
}

/// Whether release `r` is what its creation entry `w` recorded: every field the entry carries
/// (entries written before a field existed do not judge it).
fn same_release(w: &Word, r: &Release) -> bool {
    let Ok(serde_json::Value::Object(mine)) = serde_json::to_value(r) else {
        return false;
    };
    // Who created it is the entry's actor, whatever its values say (`audit verify` warns of
    // values that name another).
    r.created_by == w.actor
        && match &w.after {
            serde_json::Value::Object(recorded) => recorded
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "audit_seq" | "created_by"))
                .all(|(k, v)| mine.get(k) == Some(v)),
            _ => true,
        }
}

/// Whether item state `s` is what entry `w` recorded: the whole state (done, who, when and
/// the note) where the entry carries it, else (an older entry) at least done or not.
fn same_item(w: &Word, s: &crate::runbook::ItemState) -> bool {
    match serde_json::from_value::<crate::runbook::ItemState>(w.after.clone()) {
        Ok(recorded) => {
            // Who ticked it is the entry's actor, whatever its values say.
            recorded.done == s.done
                && s.by == w.actor
                && recorded.at == s.at
                && recorded.note == s.note
        }
        Err(_) => w.after.get("done").and_then(serde_json::Value::as_bool) == Some(s.done),
    }
}

/// Each target's last changes, oldest first.
type ByTarget = BTreeMap<String, Vec<Word>>;

/// Changes kept per target: the last, and the ones a void would fall back to.
const KEPT_PER_TARGET: usize = 4;

impl<'p> Changes<'p> {
    fn with(projections: &[&'p dyn Projection]) -> Self {
        Changes {
            projections: projections.iter().map(|p| (*p, BTreeMap::new())).collect(),
            ..Changes::default()
        }
    }

    /// Each target of projection `i` with its last change in effect.
    fn last_of(&self, i: usize) -> BTreeMap<String, Option<Word>> {
        self.projections[i]
            .1
            .iter()
            .map(|(t, w)| (t.clone(), w.last().cloned()))
            .collect()
    }

    fn add(&mut self, e: AuditEntry) {
        // A known action is matched before the `.failed` suffix: `notify.failed` is a
        // delivery's end, not a void of an action `notify`.
        let (action, void) = match e
            .action
            .strip_suffix(".failed")
            .or_else(|| e.action.strip_suffix(".not_applied"))
        {
            Some(base) if Action::parse(&e.action).is_none() => (base, true),
            _ => (e.action.as_str(), false),
        };
        let (map, key, projection) = match Action::parse(action) {
            Some(Action::ReleaseCreate) => (&mut self.creates, e.target.clone(), None),
            Some(Action::ChecklistTick | Action::ChecklistUntick) => {
                (&mut self.items, e.target.clone(), None)
            }
            Some(a) => match self.projections.iter_mut().find(|(p, _)| p.follows(a)) {
                Some((p, _)) if !void && !p.carries(&e.after) => return,
                Some((_, map)) if void => (map, e.target.clone(), None),
                Some((p, map)) => {
                    let key = p.key(&e.target, &e.after);
                    (map, key, Some(*p))
                }
                None => return,
            },
            None => return,
        };
        if void {
            // A void names the entry it voids (`after.entry`); one that does not (written
            // before they did) voids the change right before it on its target.
            match e.after.get("entry").and_then(serde_json::Value::as_u64) {
                Some(seq) => {
                    let here = map
                        .get(&key)
                        .is_some_and(|words| words.iter().any(|w| w.seq == seq));
                    if here {
                        map.entry(key).or_default().retain(|w| w.seq != seq);
                    } else if let Some(words) = map
                        .values_mut()
                        .find(|words| words.iter().any(|w| w.seq == seq))
                    {
                        // Kept under another key than its target (see [`Projection::key`]).
                        words.retain(|w| w.seq != seq);
                    } else {
                        map.entry(key).or_default();
                    }
                }
                None => {
                    map.entry(key).or_default().pop();
                }
            }
        } else {
            let word = Word {
                seq: e.seq,
                time: e.time,
                action: e.action,
                after: e.after,
                actor: e.actor,
                host: e.host,
                nonce: e.nonce,
            };
            if let Some(p) = projection
                && let Err(why) = p.readable(&key, &word)
            {
                tracing::warn!(
                    "entry #{} ({} {}) by {}: left out of this console's state: {why}",
                    word.seq,
                    word.action,
                    e.target,
                    word.actor
                );
                return;
            }
            let words = map.entry(key).or_default();
            if words.len() == KEPT_PER_TARGET {
                words.remove(0);
            }
            words.push(word);
        }
    }

    /// Each item of release `version` the log changed, with its last change in effect (`None`
    /// when every change of it was voided).
    fn items_of<'a>(
        &'a self,
        version: &str,
    ) -> impl Iterator<Item = (&'a str, Option<&'a Word>)> + 'a {
        let prefix = format!("{version}/");
        let skip = prefix.len();
        self.items
            .range(prefix.clone()..)
            .take_while(move |(t, _)| t.starts_with(&prefix))
            .map(move |(t, w)| (&t[skip..], w.last()))
    }
}

/// What a roll forward covers: everything (under every state lock, the projections' it is
/// given included), the creation of releases (under the create lock), or one release's
/// checklist (under its lock).
enum Scope<'a> {
    All,
    /// Everything but a projection that was busy: the checkpoint does not move.
    AllBut,
    Creates,
    Checklist(&'a Release),
}

/// An error of the state check, as the audit check reports errors.
fn into_audit_error(e: WorkspaceError) -> AuditError {
    match e {
        WorkspaceError::Audit(a) => a,
        WorkspaceError::State(s) => AuditError::State(s),
        WorkspaceError::Io {
            path,
            action,
            cause,
        } => AuditError::Io {
            path,
            action,
            cause,
        },
        other => AuditError::Io {
            path: PathBuf::new(),
            action: "compare the state with the log",
            cause: std::io::Error::other(other.to_string()),
        },
    }
}

impl Workspace {
    /// Repairs what any number of crashes left, as one recovery: the audit log's torn last
    /// line and the entries past its head (see `AuditLog::repair`), then every change the
    /// log holds that its state file does not (a crash between the append and the state
    /// write) is rolled forward from the entry's `after`, or marked `ACTION.not_applied` when
    /// it cannot be. Holds every state lock meanwhile, so a change a live process is making is
    /// waited for, never taken for a crashed one. Returns how many changes were rolled
    /// forward or marked. The CLI runs it when it opens the workspace; readers (the GUI's
    /// snapshots) never do.
    pub fn recover(&self) -> Result<usize, WorkspaceError> {
        self.recover_with(&[])
    }

    /// [`Self::recover`], and the state files of higher layers (`projections`) rolled forward
    /// too, before the checkpoint moves past their entries.
    pub fn recover_with(&self, projections: &[&dyn Projection]) -> Result<usize, WorkspaceError> {
        self.audit.repair()?;
        let through = self.audit.recorded()?;
        let rolled = self.recover_state(projections)?;
        if let Some(shared) = &self.shared {
            shared.mark_seen(through);
        }
        Ok(rolled)
    }

    /// The state part of [`Self::recover_with`].
    fn recover_state(&self, projections: &[&dyn Projection]) -> Result<usize, WorkspaceError> {
        let _create = store::lock(&self.root, "create-release")?;
        let mut locks = Vec::new();
        for r in self.releases()? {
            locks.push(store::lock(&self.release_dir(&r.version), "checklist")?);
        }
        // A projection whose lock is taken is having a change made by a live process, which
        // may hold it across a provider's answer: it is left for the next recovery, and the
        // checkpoint stays before its changes.
        let mut free: Vec<&dyn Projection> = Vec::new();
        for p in projections {
            let (dir, name) = p.lock(self);
            if let Some(lock) = store::try_lock(&dir, name)? {
                locks.push(lock);
                free.push(*p);
            }
        }
        let scope = if free.len() == projections.len() {
            Scope::All
        } else {
            Scope::AllBut
        };
        self.roll_forward(&scope, &free)
    }

    /// Rolls forward the changes of `scope` that are in the log past the checkpoint but not in
    /// their state files. The caller holds the locks `scope` needs.
    fn roll_forward(
        &self,
        scope: &Scope<'_>,
        projections: &[&dyn Projection],
    ) -> Result<usize, WorkspaceError> {
        let checkpoint = self.root.join(APPLIED_FILE);
        let applied: Applied = store::read_json(&checkpoint)?.unwrap_or_default();
        let mut changes = Changes::with(projections);
        let (end, last) =
            self.audit
                .scan_from(applied.offset, applied.seq + 1, &|_| true, &mut |e| {
                    changes.add(e);
                    Ok(())
                })?;
        let mut rolled = 0;
        if matches!(scope, Scope::All | Scope::AllBut | Scope::Creates) {
            for (version, words) in &changes.creates {
                if let Some(w) = words.last() {
                    rolled += self.roll_create(version, w)?;
                }
            }
        }
        match scope {
            Scope::Creates => {}
            Scope::Checklist(r) => rolled += self.roll_checklist(r, &changes)?,
            Scope::All | Scope::AllBut => {
                let releases = self.releases()?;
                for r in &releases {
                    rolled += self.roll_checklist(r, &changes)?;
                }
                for (i, p) in projections.iter().enumerate() {
                    let last: BTreeMap<String, Word> = changes
                        .last_of(i)
                        .into_iter()
                        .filter_map(|(t, w)| Some((t, w?)))
                        .collect();
                    let (applied, refused) = p.roll_forward(self, &last)?;
                    rolled += applied + refused.len();
                    for (target, w, why) in refused {
                        self.not_applied(&target, &w, &why);
                    }
                }
                // Changes of releases that do not exist (a release folder removed by hand,
                // a synthetic log) are left alone; `audit verify` does not judge them either.
                // Only a recovery given the projections (the CLI's, the Verify task's) moves
                // the checkpoint: one without them (a tick's, `recover`) would move it past
                // their changes that are still waiting to be rolled forward.
                if matches!(scope, Scope::All)
                    && !projections.is_empty()
                    && last >= applied.seq + CHECKPOINT_EVERY
                {
                    store::write_json(
                        &checkpoint,
                        &Applied {
                            seq: last,
                            offset: end,
                        },
                    )?;
                }
            }
        }
        Ok(rolled)
    }

    /// Writes `release.json` for release `version` from its creation entry when it is missing.
    fn roll_create(&self, version: &str, w: &Word) -> Result<usize, WorkspaceError> {
        let Ok(v) = parse_version(version) else {
            self.not_applied(version, w, "not a version");
            return Ok(1);
        };
        let path = self.release_dir(&v).join("release.json");
        if store::read_json::<Release>(&path)?.is_some() {
            return Ok(0);
        }
        match serde_json::from_value::<Release>(w.after.clone()) {
            Ok(release) if release.version == v => {
                store::write_json(
                    &path,
                    &Release {
                        audit_seq: w.seq,
                        // Who created it is who recorded it (the entry's actor, which its
                        // signature covers), never a name written into its values.
                        created_by: w.actor.clone(),
                        ..release
                    },
                )?;
                tracing::info!("rolled forward entry #{} ({} {version})", w.seq, w.action);
            }
            Ok(_) => self.not_applied(version, w, "its release is another version"),
            Err(e) => self.not_applied(version, w, &format!("its release cannot be read: {e}")),
        }
        Ok(1)
    }

    /// Applies to `release`'s checklist every item change of the log it lacks.
    fn roll_checklist(
        &self,
        release: &Release,
        changes: &Changes,
    ) -> Result<usize, WorkspaceError> {
        let version = release.version.to_string();
        let mut checklist = self.checklist(release)?;
        let mut rolled = 0;
        let mut dirty = false;
        for (item, w) in changes.items_of(&version) {
            let Some(w) = w else { continue };
            let recorded = checklist.items.get(item).map_or(0, |s| s.audit_seq);
            if w.seq <= recorded {
                continue;
            }
            // An item without its entry number in a release that numbers them was not written
            // by the console: it is left for `audit verify` to name, not quietly replaced.
            if checklist.items.contains_key(item) && recorded == 0 && release.audit_seq > 0 {
                continue;
            }
            rolled += 1;
            match serde_json::from_value::<crate::runbook::ItemState>(w.after.clone()) {
                Ok(state) => {
                    checklist.items.insert(
                        item.to_owned(),
                        crate::runbook::ItemState {
                            audit_seq: w.seq,
                            // Who ticked it is who recorded it (the entry's actor, which its
                            // signature covers), never a name written into its values.
                            by: w.actor.clone(),
                            ..state
                        },
                    );
                    dirty = true;
                    tracing::info!(
                        "rolled forward entry #{} ({} {version}/{item})",
                        w.seq,
                        w.action
                    );
                }
                Err(e) => self.not_applied(
                    &format!("{version}/{item}"),
                    w,
                    &format!("its item state cannot be read: {e}"),
                ),
            }
        }
        if dirty {
            store::write_json(&self.checklist_path(release), &checklist)?;
        }
        Ok(rolled)
    }

    /// Whether this console recorded the change `w`: always on a local workspace; on a shared
    /// one when its nonce carries this console's tag. Only its writer can tell whether a
    /// change took effect where it was made (its provider, its crash); another console takes
    /// it from the log.
    pub fn wrote(&self, w: &Word) -> bool {
        self.recorded_here(w.nonce.as_deref(), w.seq, &w.action)
    }

    /// Whether this console recorded entry number `seq`, recording `action` with `nonce` (see
    /// [`Self::wrote`]): always in a folder; on a shared workspace only when its nonce carries
    /// this console's tag for that number and action ([`shared::Shared::is_mine`]), never by
    /// the entry's actor and host, which whoever can write the bucket writes.
    pub fn recorded_here(&self, nonce: Option<&str>, seq: u64, action: &str) -> bool {
        match &self.shared {
            None => true,
            Some(shared) => shared.is_mine(nonce, seq, action),
        }
    }

    /// Records that the change of entry `w` on `target` did not take effect and never will.
    /// On a shared workspace only the console that recorded the change says so: another one
    /// would void a change made elsewhere, once for every console that reads it.
    fn not_applied(&self, target: &str, w: &Word, why: &str) {
        let action = format!("{}.not_applied", w.action);
        if !self.wrote(w) {
            tracing::warn!(
                "entry #{} ({} {target}) by {}: not taken into this console's state: {why}",
                w.seq,
                w.action,
                w.actor
            );
            return;
        }
        if let Err(e) = self.record(Event::NotApplied(audit::event::NotApplied {
            action: w.action.clone(),
            target: target.to_owned(),
            entry: w.seq,
            reason: why.to_owned(),
        })) {
            tracing::error!(
                "{action} {target}: the audit log refused it: {}",
                e.to_string()
            );
        }
    }

    /// `projection`'s state file agrees with the whole log (see [`Self::verify_audit_with`]).
    fn projection_agrees(&self, projection: &dyn Projection) -> Result<(), WorkspaceError> {
        let (dir, name) = projection.lock(self);
        let _lock = store::lock(&dir, name)?;
        let marker = memchr::memmem::Finder::new(projection.marker().as_bytes());
        let mut changes = Changes::with(&[projection]);
        self.audit
            .scan_from(0, 1, &|line| marker.find(line).is_some(), &mut |e| {
                changes.add(e);
                Ok(())
            })?;
        match projection.disagreement(self, &changes.last_of(0))? {
            None => Ok(()),
            Some((seq, message)) => Err(WorkspaceError::Audit(AuditError::Tampered {
                path: self.audit.path().to_owned(),
                line: seq,
                message,
            })),
        }
    }

    /// Every state file the log speaks for agrees with it (see [`Self::verify_audit`]).
    fn state_agrees(&self) -> Result<(), WorkspaceError> {
        let _create = store::lock(&self.root, "create-release")?;
        let releases = self.releases()?;
        let mut locks = Vec::new();
        for r in &releases {
            locks.push(store::lock(&self.release_dir(&r.version), "checklist")?);
        }
        // Only the lines that can speak for a state file are parsed: creations, and checklist
        // changes of the releases there are.
        let creations = memchr::memmem::Finder::new(br#""action":"release.create"#);
        let ticks = memchr::memmem::Finder::new(br#""action":"checklist."#);
        let targets: Vec<Vec<u8>> = releases
            .iter()
            .map(|r| format!(r#""target":"{}/"#, r.version).into_bytes())
            .collect();
        let keep = |line: &[u8]| {
            creations.find(line).is_some()
                || (ticks.find(line).is_some()
                    && targets
                        .iter()
                        .any(|t| memchr::memmem::find(line, t).is_some()))
        };
        let mut changes = Changes::default();
        self.audit.scan_from(0, 1, &keep, &mut |e| {
            changes.add(e);
            Ok(())
        })?;
        let broken = |seq: u64, message: String| {
            WorkspaceError::Audit(AuditError::Tampered {
                path: self.audit.path().to_owned(),
                line: seq,
                message,
            })
        };
        for r in &releases {
            let version = r.version.to_string();
            let file = self.release_dir(&r.version).join("release.json");
            let created = changes.creates.get(&version).and_then(|w| w.last());
            match created {
                _ if r.audit_seq == 0 => {}
                Some(w) if w.seq == r.audit_seq && same_release(w, r) => {}
                Some(w) if w.seq == r.audit_seq => {
                    return Err(broken(
                        w.seq,
                        format!(
                            "{} disagrees with the log: entry #{} created release {version} \
                             otherwise (runbook, kind, who or when)",
                            file.display(),
                            w.seq
                        ),
                    ));
                }
                Some(w) => {
                    return Err(broken(
                        w.seq,
                        format!(
                            "{} disagrees with the log: it records entry #{}, but release \
                             {version} was created by entry #{}",
                            file.display(),
                            r.audit_seq,
                            w.seq
                        ),
                    ));
                }
                None => {
                    return Err(broken(
                        r.audit_seq,
                        format!(
                            "{} disagrees with the log: it records entry #{}, but the log \
                             holds no creation of release {version} that took effect",
                            file.display(),
                            r.audit_seq
                        ),
                    ));
                }
            }
            let file = self.checklist_path(r);
            let checklist = self.checklist(r)?;
            for (item, w) in changes.items_of(&version) {
                let state = checklist.items.get(item);
                match (w, state) {
                    // Written before items kept their entry (checked below for newer releases).
                    (_, Some(s)) if s.audit_seq == 0 => {}
                    (Some(w), Some(s)) if s.audit_seq == w.seq && same_item(w, s) => {}
                    (Some(w), Some(s)) => {
                        return Err(broken(
                            w.seq,
                            format!(
                                "{} disagrees with the log: item {item} is {} as of entry #{}, \
                                 but its last change in the log is entry #{} ({}){}",
                                file.display(),
                                if s.done { "ticked" } else { "unticked" },
                                s.audit_seq,
                                w.seq,
                                w.action,
                                if s.audit_seq == w.seq {
                                    ", which records it otherwise (who, when, note or state)"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
                    (Some(w), None) => {
                        return Err(broken(
                            w.seq,
                            format!(
                                "{} disagrees with the log: it has no item {item}, but entry \
                                 #{} ({}) changed it",
                                file.display(),
                                w.seq,
                                w.action
                            ),
                        ));
                    }
                    (None, Some(s)) => {
                        return Err(broken(
                            s.audit_seq,
                            format!(
                                "{} disagrees with the log: item {item} records entry #{}, but \
                                 the log says that change did not take effect",
                                file.display(),
                                s.audit_seq
                            ),
                        ));
                    }
                    (None, None) => {}
                }
            }
            let prefix = format!("{version}/");
            for (item, s) in &checklist.items {
                // A release created since entries are numbered has every item from a numbered
                // entry: one without is not the console's (a hand-added item).
                if s.audit_seq == 0 && r.audit_seq > 0 {
                    return Err(broken(
                        r.audit_seq,
                        format!(
                            "{} disagrees with the log: item {item} is {} but names no entry; \
                             the log holds {} change of it",
                            file.display(),
                            if s.done { "ticked" } else { "unticked" },
                            if changes.items.contains_key(&format!("{prefix}{item}")) {
                                "another"
                            } else {
                                "no"
                            }
                        ),
                    ));
                }
                if s.audit_seq > 0 && !changes.items.contains_key(&format!("{prefix}{item}")) {
                    return Err(broken(
                        s.audit_seq,
                        format!(
                            "{} disagrees with the log: item {item} records entry #{}, but the \
                             log holds no change of it",
                            file.display(),
                            s.audit_seq
                        ),
                    ));
                }
            }
        }
        for (version, words) in &changes.creates {
            if let Some(w) = words.last()
                && !releases.iter().any(|r| r.version.to_string() == *version)
            {
                return Err(broken(
                    w.seq,
                    format!(
                        "releases/{version}/release.json is missing, but entry #{} created \
                         release {version}",
                        w.seq
                    ),
                ));
            }
        }
        Ok(())
    }
}
