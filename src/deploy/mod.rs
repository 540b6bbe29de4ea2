//! Deploy: publish a release's verified installers to an object store with their checksums and
//! signatures, then the update feeds and the downloads page; see what is live per channel; yank
//! a bad release (the feeds point back to the previous one). Publishing obeys every gate of
//! [`crate::gates`] and uploads exactly the bytes the release's verification hashed.
//!
//! A published version never changes: its objects are created once (see [`store`]) and other
//! bytes under it are refused. A publish or a yank is recorded as begun, the feeds written,
//! then recorded done: the done entry (`publish`, `publish.yank`) is what the outbox announces,
//! so a release is announced once, after its feeds, and a change whose feeds failed is
//! finished by the next run on the channel.

pub mod argocd;
pub mod channels;
pub mod feeds;
pub mod s3;
pub mod sparkle;
pub mod store;
pub mod uploads;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use self::feeds::{FeedInput, File, Published};
use self::store::{Holds, LocalStore, Meta, ObjectStore, Store, StoreError};
use crate::audit::{self, Action, Event};
use crate::store::{self as state, StateError};
use crate::verify::release as verified;
use crate::workspace::config::StoreKind;
use crate::workspace::{Release, Workspace, WorkspaceError};

/// The publish task's kind: it ticks the checklist item with `auto_tick_on = "publish"`.
pub const TASK_KIND: &str = "publish";
/// Ticked once the feeds and links point at the release.
pub const LINKS_KIND: &str = "publish.links";
pub const TASK_TIMEOUT: Duration = Duration::from_hours(2);
/// Installers never change under a versioned key.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Feeds and the page are read fresh every time.
pub const NO_CACHE: &str = "no-cache";

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A gate is blocked: nothing was uploaded.
    #[error("publishing {version} is refused: {reasons}")]
    Gated { version: String, reasons: String },
    #[error("{0}")]
    Invalid(String),
    /// Cancelled before anything went live: the objects stored stay for the next run.
    #[error("cancelled before anything went live")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// A published version never changes: these bytes differ from those it was published with.
    #[error(
        "{key}: {version} was published with SHA-256 {published}; the bytes to publish now have \
         SHA-256 {new}. A published version never changes: publish them as a new version \
         (nothing was uploaded)"
    )]
    Changed {
        version: String,
        key: String,
        published: String,
        new: String,
    },
    /// The store holds other bytes under a versioned key; they are not replaced.
    #[error(
        "{key}: the store holds {held} under this key, not the bytes to publish (SHA-256 {new}); \
         {why} (nothing was uploaded)"
    )]
    Occupied {
        key: String,
        held: String,
        new: String,
        why: &'static str,
    },
    /// A published version's set of files never changes either.
    #[error(
        "{version} was published with {published}; publishing it now would {change}. A \
         published version never changes: publish as a new version (nothing was uploaded)"
    )]
    FilesChanged {
        version: String,
        published: String,
        change: String,
    },
    /// A yanked version is not offered again.
    #[error(
        "{version} was yanked from channel {channel} at {at} by {by} ({reason}); a yanked \
         version is not published again: publish the fix as a new version (nothing was uploaded)"
    )]
    Yanked {
        version: String,
        channel: String,
        at: Timestamp,
        by: String,
        reason: String,
    },
    /// What the store holds is not what was sent.
    #[error("{key}: the store holds {got}, not {expected}")]
    Mismatch {
        key: String,
        expected: String,
        got: String,
    },
}

/// A channel's publishing history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub published: Vec<Published>,
    pub yanked: Vec<Yank>,
    /// A publish or yank recorded as begun whose feeds are not yet written: `published` and
    /// `yanked` (what `publish status` calls live) change only once the feeds say so, and the
    /// next publish or yank on the channel finishes it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begun: Option<Begun>,
    /// The entry of each version's last change on this channel (begun or done), which the
    /// channel is as of (see [`channels::ChannelBook`]); empty in a record saved before they
    /// were kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub as_of: BTreeMap<String, u64>,
}

/// A change begun on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Begun {
    /// The sequence number of the audit entry that began it (`publish.begin`,
    /// `publish.yank.begin`).
    pub seq: u64,
    pub change: Change,
}

/// What a begun change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Publish {
        published: Published,
        /// Objects uploaded by the run that began it.
        uploaded: usize,
    },
    Yank {
        yank: Yank,
        /// The version the feeds point back to.
        back_to: String,
    },
}

impl Change {
    pub fn version(&self) -> &str {
        match self {
            Self::Publish { published, .. } => &published.version,
            Self::Yank { yank, .. } => &yank.version,
        }
    }

    /// The audit action that records it done (`release.published` / `release.yanked` are
    /// announced from these entries).
    pub fn action(&self) -> Action {
        match self {
            Self::Publish { .. } => Action::Publish,
            Self::Yank { .. } => Action::Yank,
        }
    }

    /// For messages: `publish of 1.2.0`, `yank of 1.1.0`.
    pub fn describe(&self) -> String {
        match self {
            Self::Publish { published, .. } => format!("publish of {}", published.version),
            Self::Yank { yank, .. } => format!("yank of {}", yank.version),
        }
    }

    /// Who began it, and when.
    pub fn begun_by(&self) -> (&str, Timestamp) {
        match self {
            Self::Publish { published, .. } => (&published.by, published.at),
            Self::Yank { yank, .. } => (&yank.by, yank.at),
        }
    }
}

/// A yanked version: the objects stay, the feeds no longer offer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Yank {
    pub version: String,
    pub at: Timestamp,
    pub by: String,
    pub reason: String,
}

impl Channel {
    /// The channel with its begun change done.
    #[must_use]
    pub fn applied(&self) -> Self {
        let mut c = self.clone();
        if let Some(b) = c.begun.take() {
            c.apply(b.change);
        }
        c
    }

    /// Makes `change` done on the channel (whatever is begun stays begun).
    fn apply(&mut self, change: Change) {
        match change {
            Change::Publish { published, .. } => {
                self.published.retain(|p| p.version != published.version);
                self.yanked.retain(|y| y.version != published.version);
                self.published.push(published);
            }
            Change::Yank { yank, .. } => {
                self.yanked.retain(|y| y.version != yank.version);
                self.yanked.push(yank);
            }
        }
    }

    /// Published, not yanked, newest version first.
    pub fn live(&self) -> Vec<&Published> {
        let mut v: Vec<&Published> = self
            .published
            .iter()
            .filter(|p| !self.yanked.iter().any(|y| y.version == p.version))
            .collect();
        v.sort_by(|a, b| {
            let parse = |s: &str| semver::Version::parse(s).ok();
            parse(&b.version).cmp(&parse(&a.version))
        });
        v
    }
}

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub name: String,
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: crate::digest::Sha256,
    pub cache_control: String,
    /// The macOS installer's Sparkle `EdDSA` signature, when a key is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ed_signature: Option<String>,
}

impl Upload {
    /// The file on this machine, as the store is to hold it.
    pub fn file(&self) -> store::LocalFile<'_> {
        store::LocalFile {
            path: &self.path,
            sha256: &self.sha256,
            size: self.size,
        }
    }
}

/// What `publish` would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub version: String,
    pub channel: String,
    pub store: String,
    pub uploads: Vec<Upload>,
    /// Feed key and its content as it would be written.
    pub feeds: Vec<(String, String)>,
    pub gates: Vec<crate::gates::Gate>,
    /// Why the files to upload cannot be listed (no verification, a red artifact), if so.
    pub problem: Option<String>,
    /// When the verification the uploads' SHA-256 come from was made (the hashes shown are
    /// that verification's, not read again from the files).
    pub verified_at: Option<Timestamp>,
    /// The files changed after that verification: the hashes are no longer the files' own.
    pub stale: Option<verified::Stale>,
    /// Platforms of the product with no verified installer and no recorded skip: the
    /// installers gate blocks on them until each ships or is skipped with a reason.
    pub missing_installers: Vec<crate::gates::Missing>,
    /// The gates still blocked once every platform of `missing_installers` is recorded as not
    /// shipped (the checklist items such a skip settles, and those the skips already recorded
    /// settle, counted as done): empty when skipping them would open the publish.
    pub blocked_beyond_skips: Vec<String>,
    /// The checklist items a skip of each missing platform ticks with its reason, by title.
    pub skip_settles: Vec<(crate::workspace::config::Platform, String)>,
    /// The platforms the release records as not shipped this time.
    pub skipped: Vec<crate::pipeline::skips::Skip>,
}

/// Whether a publish may start, with the platforms ticked "not shipping" and the reason given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Every gate is open.
    Open,
    /// Blocked only for want of installers, all of them on platforms ticked "not shipping"
    /// with a reason: recording those skips (and the build items they settle) opens it.
    BySkipping,
    /// Blocked only by build items recorded skips settle (a stop right after a skip's entry
    /// left them open): the publish ticks them first.
    SettlingRecorded,
    /// Blocked only for want of installers: a skip with a reason would open it.
    WantsSkip,
    /// Another gate is blocked.
    Blocked,
}

impl Opening {
    /// Whether publishing may start.
    pub fn may_publish(self) -> bool {
        matches!(self, Self::Open | Self::BySkipping | Self::SettlingRecorded)
    }
}

impl Plan {
    /// Whether publishing may start once `skip` are recorded as not shipped because of
    /// `reason` (`gates_open`: every gate open, as the window last read them).
    pub fn opening(
        &self,
        gates_open: bool,
        skip: &[crate::workspace::config::Platform],
        reason: &str,
    ) -> Opening {
        if gates_open {
            return Opening::Open;
        }
        if !self.blocked_beyond_skips.is_empty() {
            return Opening::Blocked;
        }
        if self.missing_installers.is_empty() {
            return if self.skipped.is_empty() {
                Opening::Blocked
            } else {
                Opening::SettlingRecorded
            };
        }
        let covered = self
            .missing_installers
            .iter()
            .all(|m| skip.contains(&m.platform));
        if covered && !reason.trim().is_empty() {
            Opening::BySkipping
        } else {
            Opening::WantsSkip
        }
    }
}

fn prefix(ws: &Workspace) -> String {
    let cfg = ws.config();
    let mut p = cfg.publish.prefix.replace("{product}", &cfg.product.name);
    if !p.is_empty() && !p.ends_with('/') {
        p.push('/');
    }
    p
}

/// Names a channel cannot have: `publish/NAME.json` is the console's own state there
/// (`uploads.json`: unfinished multipart uploads; `.publish-change.lock`: the lock every
/// channel change takes, which `publish-change.json` would take again and wait on forever).
pub const RESERVED_CHANNELS: [&str; 2] = ["uploads", "publish-change"];
/// The longest channel name.
pub const MAX_CHANNEL_LEN: usize = 64;

/// The channel to use: `given`, else `[publish] channel`; letters, digits, `-` and `_` only
/// (it is part of keys and file names), at most [`MAX_CHANNEL_LEN`], not one of
/// [`RESERVED_CHANNELS`] (in any case: some file systems ignore it).
pub fn channel_name(ws: &Workspace, given: Option<&str>) -> Result<String, DeployError> {
    let name = given.map_or_else(|| ws.config().publish.channel.clone(), str::to_owned);
    check_channel(&name)?;
    Ok(name)
}

fn check_channel(name: &str) -> Result<(), DeployError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(DeployError::Invalid(format!(
            "channel {:?}: use letters, digits, - and _",
            name.chars().take(MAX_CHANNEL_LEN + 1).collect::<String>()
        )));
    }
    if name.len() > MAX_CHANNEL_LEN {
        return Err(DeployError::Invalid(format!(
            "channel {name:?}: at most {MAX_CHANNEL_LEN} characters"
        )));
    }
    if let Some(r) = RESERVED_CHANNELS
        .iter()
        .find(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(DeployError::Invalid(format!(
            "channel {name:?} is reserved: publish/{r}.json and its lock are the console's own \
             state; choose another name"
        )));
    }
    // Its record is a file here, and on macOS and Windows `Stable` and `stable` are one file:
    // two channels would overwrite each other's record.
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(DeployError::Invalid(format!(
            "channel {name:?}: use lowercase letters (its record publish/{}.json would be \
             another channel's on macOS and Windows, which do not tell case apart)",
            name.to_ascii_lowercase()
        )));
    }
    Ok(())
}

/// Why this workspace cannot publish to its store: a shared workspace whose `[publish] store`
/// is a folder, which is each machine's own (a relative one is in each console's cache), so
/// a version published there would go live on one machine only, while the team's log says
/// it is live. `None`: it can.
pub fn store_not_shared(ws: &Workspace) -> Option<String> {
    let cfg = &ws.config().publish;
    if ws.shared().is_none() || cfg.store != StoreKind::Local {
        return None;
    }
    let folder = PathBuf::from(&cfg.folder);
    let here = if folder.is_absolute() {
        folder
    } else {
        ws.root().join(folder)
    };
    Some(format!(
        "{} is shared, but its [publish] store is a folder ({}, on this machine): what is \
         published there is live on this machine only, not for the team; set [publish] store = \
         \"s3\" with its bucket in the shared configuration (Settings > Publish) to publish \
         (nothing was uploaded)",
        ws.location(),
        here.display()
    ))
}

/// The store `[publish]` names. For `s3`, the credentials come from the variables (or keyring
/// entries) it names; a missing one is an error naming it.
pub fn open_store(ws: &Workspace) -> Result<Store, DeployError> {
    let cfg = &ws.config().publish;
    match cfg.store {
        StoreKind::Local => {
            let folder = PathBuf::from(&cfg.folder);
            Ok(Store::Local(LocalStore::new(if folder.is_absolute() {
                folder
            } else {
                ws.root().join(folder)
            })))
        }
        StoreKind::S3 => {
            let secret = |var: &str, spec: &str, what: &str| {
                crate::workspace::secrets::resolve(var, spec, &ws.config().aws)
                    .map_err(DeployError::Invalid)?
                    .map(|s| s.expose().to_owned())
                    .ok_or_else(|| {
                        DeployError::Invalid(format!(
                            "the s3 store needs {what} in ${var} (or the keyring entry {var}); \
                             it is not set"
                        ))
                    })
            };
            let access = secret(
                &cfg.access_key_env,
                &cfg.access_key_secret,
                "the access key id",
            )?;
            let secret_key = secret(
                &cfg.secret_key_env,
                &cfg.secret_key_secret,
                "the secret access key",
            )?;
            let token = crate::workspace::secrets::lookup(&cfg.session_token_env)
                .map(|(s, _)| s.expose().to_owned());
            let endpoint = if cfg.endpoint.trim().is_empty() {
                format!("https://s3.{}.amazonaws.com", cfg.region)
            } else {
                cfg.endpoint.trim().to_owned()
            };
            let part_size = cfg.part_size_mib.saturating_mul(1024 * 1024);
            let parallel = cfg
                .parallel_parts
                .unwrap_or_else(|| default_parallel_parts(part_size));
            Ok(Store::S3(Box::new(s3::S3Store::new(s3::S3Config {
                path_style: cfg.path_style.unwrap_or(!cfg.endpoint.trim().is_empty()),
                endpoint,
                bucket: cfg.bucket.trim().to_owned(),
                region: cfg.region.clone(),
                credentials: crate::net::sigv4::Credentials::new(access, secret_key, token),
                part_size,
                multipart_threshold: cfg.multipart_threshold_mib.saturating_mul(1024 * 1024),
                parallel_parts: parallel,
                uploads_state: ws.root().join("publish").join("uploads.json"),
                workspace: Some(ws.clone()),
                key_vars: (cfg.access_key_env.clone(), cfg.secret_key_env.clone()),
            })?)))
        }
    }
}

/// Parts sent at once when `[publish] parallel_parts` is not set: uploads wait on the network
/// and the server, not on this machine's cores, so several are in flight; as many as fit in
/// [`s3::PARTS_MEMORY`] of part buffers, between 2 and 8.
pub fn default_parallel_parts(part_size: u64) -> usize {
    usize::try_from(s3::PARTS_MEMORY / part_size.max(1))
        .unwrap_or(8)
        .clamp(2, 8)
}

fn public_url(ws: &Workspace, store: &Store, key: &str) -> String {
    let base = ws.config().publish.public_base_url.trim();
    if base.is_empty() {
        store.url(key)
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            store::percent_path(key)
        )
    }
}

/// The published files the uploads become, with their public links.
fn files_of(ws: &Workspace, store: &Store, uploads: &[Upload]) -> Vec<File> {
    uploads
        .iter()
        .map(|u| File {
            name: u.name.clone(),
            url: public_url(ws, store, &u.key),
            key: u.key.clone(),
            size: u.size,
            sha256: u.sha256,
            ed_signature: u.ed_signature.clone(),
        })
        .collect()
}

fn channel_path(ws: &Workspace, channel: &str) -> PathBuf {
    ws.root()
        .join("publish")
        .join(format!("{}.json", channel.replace(['/', '\\'], "_")))
}

/// A channel's history.
pub fn channel(ws: &Workspace, name: &str) -> Result<Channel, DeployError> {
    Ok(state::read_json(&channel_path(ws, name))?.unwrap_or_default())
}

/// Every channel the workspace has published to (`publish/*.json`), by name.
pub fn channels(ws: &Workspace) -> Result<Vec<(String, Channel)>, DeployError> {
    let dir = ws.root().join("publish");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(StoreError::Io {
                what: "list",
                path: dir,
                cause: e,
            }
            .into());
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::Io {
            what: "list",
            path: dir.clone(),
            cause: e,
        })?;
        let file = entry.file_name();
        let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if check_channel(name).is_ok() {
            out.push((name.to_owned(), channel(ws, name)?));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Refuses to publish `version` with bytes other than those it was published with, or with
/// files added or left out, on any channel (its keys are shared), begun or done, yanked or
/// not; and refuses a version yanked on any channel (it was bad: the fix is a new version).
fn check_unchanged(ws: &Workspace, version: &str, list: &[Upload]) -> Result<(), DeployError> {
    let (logged_files, logged_yank) = logged(ws, version)?;
    // The log remembers what the channel files may have lost (a `publish/` folder removed or
    // restored from an old backup): it is the record of what was published and yanked.
    if let Some((channel, yank)) = logged_yank {
        return Err(DeployError::Yanked {
            version: version.to_owned(),
            channel,
            at: yank.at,
            by: yank.by,
            reason: yank.reason,
        });
    }
    if !logged_files.is_empty() {
        let record = Published {
            version: version.to_owned(),
            at: Timestamp::UNIX_EPOCH,
            by: String::new(),
            files: logged_files,
        };
        compare_published(version, &record, list)?;
    }
    for (name, ch) in channels(ws)? {
        // A yank begun and not finished is finished by this run first, so it counts too.
        let begun_yank = ch.begun.iter().filter_map(|b| match &b.change {
            Change::Yank { yank, .. } => Some(yank),
            Change::Publish { .. } => None,
        });
        if let Some(y) = ch
            .yanked
            .iter()
            .chain(begun_yank)
            .find(|y| y.version == version)
        {
            return Err(DeployError::Yanked {
                version: version.to_owned(),
                channel: name,
                at: y.at,
                by: y.by.clone(),
                reason: y.reason.clone(),
            });
        }
        let begun = ch.begun.iter().filter_map(|b| match &b.change {
            Change::Publish { published, .. } => Some(published),
            Change::Yank { .. } => None,
        });
        for p in ch
            .published
            .iter()
            .chain(begun)
            .filter(|p| p.version == version)
        {
            compare_published(version, p, list)?;
        }
    }
    Ok(())
}

/// Refuses `list` for `version` unless it is exactly the files of `p` (names and SHA-256).
fn compare_published(version: &str, p: &Published, list: &[Upload]) -> Result<(), DeployError> {
    let added: Vec<&str> = list
        .iter()
        .filter(|u| !p.files.iter().any(|f| f.name == u.name))
        .map(|u| u.name.as_str())
        .collect();
    let left_out: Vec<&str> = p
        .files
        .iter()
        .filter(|f| !list.iter().any(|u| u.name == f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !added.is_empty() || !left_out.is_empty() {
        let mut change = Vec::new();
        if !added.is_empty() {
            change.push(format!("add {}", added.join(", ")));
        }
        if !left_out.is_empty() {
            change.push(format!("leave out {}", left_out.join(", ")));
        }
        return Err(DeployError::FilesChanged {
            version: version.to_owned(),
            published: p
                .files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            change: change.join(" and "),
        });
    }
    for u in list {
        if let Some(f) = p
            .files
            .iter()
            .find(|f| f.name == u.name && f.sha256 != u.sha256)
        {
            return Err(DeployError::Changed {
                version: version.to_owned(),
                key: u.key.clone(),
                published: f.sha256.to_string(),
                new: u.sha256.to_string(),
            });
        }
    }
    Ok(())
}

/// The files a version was published with, and where and how it was first yanked.
type Logged = (Vec<feeds::File>, Option<(String, Yank)>);

/// What the audit log says of `version`: the files of every publish of it that was begun
/// (`publish.begin` carries them), and the first yank of it begun on any channel.
fn logged(ws: &Workspace, version: &str) -> Result<Logged, DeployError> {
    let marker = format!(r#""target":{}"#, serde_json::Value::from(version));
    let publish = memchr::memmem::Finder::new(br#""action":"publish"#);
    let target = memchr::memmem::Finder::new(marker.as_bytes());
    let mut files: Vec<feeds::File> = Vec::new();
    let mut yank = None;
    ws.audit()
        .scan_from(
            0,
            1,
            &|line| publish.find(line).is_some() && target.find(line).is_some(),
            &mut |e| {
                if e.target != version {
                    return Ok(());
                }
                match Event::from_entry(&e) {
                    Event::PublishBegin(begun) => {
                        if let Ok(listed) =
                            serde_json::from_value::<Vec<feeds::File>>(begun.after.files)
                        {
                            for f in listed {
                                if !files.iter().any(|g| g.name == f.name) {
                                    files.push(f);
                                }
                            }
                        }
                    }
                    Event::YankBegin(begun) if yank.is_none() => {
                        yank = Some((
                            begun.after.channel,
                            Yank {
                                version: version.to_owned(),
                                at: e.time,
                                by: e.actor.clone(),
                                reason: begun.after.reason,
                            },
                        ));
                    }
                    _ => {}
                }
                Ok(())
            },
        )
        .map_err(|e| DeployError::Workspace(e.into()))?;
    Ok((files, yank))
}

/// The files of `release` to publish: every artifact its verification passed, with the SHA-256
/// it hashed, plus SHA256SUMS and the signatures beside them (hashed now: the verify gate has
/// checked they did not change since).
fn uploads(ws: &Workspace, release: &Release) -> Result<Vec<Upload>, DeployError> {
    let dir = ws.artifacts_dir(&release.version);
    let record = verified::last(ws, release)?.ok_or_else(|| {
        DeployError::Invalid(format!(
            "{} has no verification to publish from",
            release.version
        ))
    })?;
    let base = format!("{}{}/", prefix(ws), release.version);
    let ed_key = sparkle::key(ws)?;
    let mut out = Vec::new();
    for a in &record.artifacts {
        let Some(sha) = a.sha256.filter(|_| a.green) else {
            return Err(DeployError::Invalid(format!(
                "{}: its verification was not green",
                a.name
            )));
        };
        let path = dir.join(&a.name);
        let ed_signature = match &ed_key {
            Some(k) if feeds::platform_of(&a.name) == Some("darwin-universal") => {
                Some(k.sign_verified(&path, &sha)?)
            }
            _ => None,
        };
        out.push(Upload {
            key: format!("{base}{}", a.name),
            path,
            name: a.name.clone(),
            size: a.size_bytes,
            sha256: sha,
            cache_control: IMMUTABLE.to_owned(),
            ed_signature,
        });
    }
    for f in &record.files {
        if crate::verify::sums::is_sums_or_signature(&f.name) {
            let path = dir.join(&f.name);
            let bytes = std::fs::read(&path).map_err(|e| StoreError::Io {
                what: "read",
                path: path.clone(),
                cause: e,
            })?;
            out.push(Upload {
                key: format!("{base}{}", f.name),
                name: f.name.clone(),
                size: bytes.len() as u64,
                sha256: crate::digest::Sha256::of(&bytes),
                path,
                cache_control: IMMUTABLE.to_owned(),
                ed_signature: None,
            });
        }
    }
    Ok(out)
}

/// The feeds of `channel` as they would be written from `ch`.
fn render_feeds(ws: &Workspace, channel: &str, ch: &Channel) -> Vec<(String, String)> {
    let cfg = ws.config();
    let live = ch.live();
    // Each live version's notes as saved in its release (`release notes --write`, the Notes
    // view); one that cannot be read is left out of the feeds and logged.
    let mut notes = std::collections::BTreeMap::new();
    for v in &live {
        let Ok(version) = semver::Version::parse(&v.version) else {
            continue;
        };
        match crate::source::read_notes(ws, &version) {
            Ok(Some(text)) if !text.trim().is_empty() => {
                notes.insert(v.version.clone(), text);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("release {version}: notes left out of the feeds: {e}"),
        }
    }
    let input = FeedInput {
        product: &cfg.product.name,
        channel,
        versions: &live,
        minimum_system_version: &cfg.publish.macos_minimum_system_version,
        phased_rollout_interval_secs: cfg.publish.phased_rollout_interval_secs,
        notes: &notes,
    };
    let dir = format!("{}{channel}/", prefix(ws));
    let mut out = vec![(format!("{dir}appcast.xml"), feeds::appcast(&input))];
    if let Some(latest) = feeds::latest_json(&input) {
        out.push((format!("{dir}latest.json"), latest));
    }
    out.push((format!("{dir}index.html"), feeds::index_html(&input)));
    out
}

/// What publishing `release` would upload and write, and the gates it must pass.
pub fn plan(
    ws: &Workspace,
    release: &Release,
    channel_given: Option<&str>,
) -> Result<Plan, DeployError> {
    let store = open_store(ws)?;
    let channel_name = channel_name(ws, channel_given)?;
    let gates = crate::gates::evaluate(ws, release, Timestamp::now());
    // A store no teammate sees is said first: verifying would not make publishing there right.
    let (uploads, problem) = match uploads(ws, release) {
        Ok(u) => (u, store_not_shared(ws)),
        Err(e) => (Vec::new(), store_not_shared(ws).or(Some(e.to_string()))),
    };
    let record = verified::last(ws, release).ok().flatten();
    let stale = record
        .as_ref()
        .and_then(|r| verified::staleness(ws, release, r).ok().flatten());
    let mut ch = channel(ws, &channel_name)?.applied();
    ch.published
        .retain(|p| p.version != release.version.to_string());
    ch.yanked
        .retain(|y| y.version != release.version.to_string());
    ch.published.push(Published {
        version: release.version.to_string(),
        at: Timestamp::now(),
        by: ws.actor(),
        files: files_of(ws, &store, &uploads),
    });
    let missing_installers = crate::gates::missing_installers(ws, release).unwrap_or_default();
    let skipped =
        crate::pipeline::skips::skipped(ws, &release.version.to_string()).unwrap_or_default();
    let missing: Vec<_> = missing_installers.iter().map(|m| m.platform).collect();
    // The skips recorded settle their items again as the publish starts (a tick a stop right
    // after the skip never made), so those items do not block it either.
    let settling: Vec<_> = missing
        .iter()
        .copied()
        .chain(skipped.iter().map(|s| s.platform))
        .collect();
    let blocked_beyond_skips = crate::gates::blocked_beyond_skips(ws, release, &gates, &settling);
    let skip_settles = ws.runbook(release).map_or_else(
        |_| Vec::new(),
        |rb| {
            missing
                .iter()
                .flat_map(|&p| {
                    crate::pipeline::skips::settled_items(ws, release, &[p])
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|id| rb.item(&id).map(|i| (p, i.title.clone())))
                        .collect::<Vec<_>>()
                })
                .collect()
        },
    );
    Ok(Plan {
        version: release.version.to_string(),
        feeds: render_feeds(ws, &channel_name, &ch),
        channel: channel_name,
        store: store.describe(),
        uploads,
        gates,
        problem,
        verified_at: record.map(|r| r.at),
        stale,
        blocked_beyond_skips,
        skip_settles,
        skipped,
        missing_installers,
    })
}

/// What rebuilding `release`'s installers would make untrue, each as a phrase for the
/// question asked first: its PASS verification (the files it vouched for are replaced) and the
/// channels it is published on (a published version never changes, so the new bytes cannot be
/// published as it). Empty when there is nothing to lose. Never fails: what cannot be read is
/// named as such.
pub fn rebuild_invalidates(ws: &Workspace, release: &Release) -> Vec<String> {
    guard_of(ws, release, channels(ws)).invalidates
}

/// Whether `release`'s installers may be built again: published on a channel (then only when
/// asked to), and what a rebuild would make untrue ([`rebuild_invalidates`]). Channels that
/// cannot be read are an error here: whether the version is published is not known.
pub fn rebuild_guard(
    ws: &Workspace,
    release: &Release,
) -> Result<crate::pipeline::run::RebuildGuard, DeployError> {
    let list = channels(ws)?;
    Ok(guard_of(ws, release, Ok(list)))
}

/// [`rebuild_guard`] of the channels as read (once).
fn guard_of(
    ws: &Workspace,
    release: &Release,
    channels: Result<Vec<(String, Channel)>, DeployError>,
) -> crate::pipeline::run::RebuildGuard {
    let mut guard = crate::pipeline::run::RebuildGuard::default();
    let out = &mut guard.invalidates;
    match verified::last(ws, release) {
        Ok(Some(v)) if v.overall == crate::verify::Overall::Pass => out.push(format!(
            "the PASS verify of {} by {} ({})",
            crate::local_time(v.at, false),
            if v.by.is_empty() { "?" } else { &v.by },
            v.summary
        )),
        Ok(_) => {}
        Err(e) => out.push(format!("possibly a verification (cannot read it: {e})")),
    }
    let version = release.version.to_string();
    match channels {
        Ok(list) => {
            for (name, ch) in list {
                let ch = ch.applied();
                if let Some(p) = ch.published.iter().find(|p| p.version == version) {
                    let yanked = ch.yanked.iter().any(|y| y.version == version);
                    guard.published = true;
                    guard.invalidates.push(format!(
                        "{version} as published on channel {name} at {}{} (a published version \
                         never changes: new bytes must be published as a new version)",
                        crate::local_time(p.at, false),
                        if yanked { ", since yanked" } else { ", live" }
                    ));
                }
            }
        }
        Err(e) => guard.invalidates.push(format!(
            "possibly a published version (cannot read the channels: {e})"
        )),
    }
    guard
}

/// Platforms to publish without, and why: recorded on the release before it publishes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkipRequest {
    pub platforms: Vec<crate::workspace::config::Platform>,
    pub reason: String,
}

/// Records that `release` does not ship `req.platforms` this time, as the start of a publish
/// that needs it: refused, recording nothing, while another gate than the installers is
/// blocked (the skip would not make the publish possible), or when a platform cannot be
/// skipped (not configured, or it has a verified installer). Returns what it recorded, in
/// words.
pub fn record_skips(
    ws: &Workspace,
    release: &Release,
    req: &SkipRequest,
) -> Result<Vec<String>, DeployError> {
    let version = release.version.to_string();
    if req.platforms.is_empty() {
        if crate::pipeline::skips::skipped(ws, &version)?.is_empty() {
            return Ok(Vec::new());
        }
        // The skips already recorded settle what a stop right after one left open.
        let _lock = change_lock(ws)?;
        return Ok(crate::pipeline::skips::settle_standing(ws, release)?);
    }
    let gates = crate::gates::evaluate(ws, release, Timestamp::now());
    let standing = crate::pipeline::skips::skipped(ws, &version)?;
    let settling: Vec<_> = req
        .platforms
        .iter()
        .copied()
        .chain(standing.iter().map(|s| s.platform))
        .collect();
    let blocked = crate::gates::blocked_beyond_skips(ws, release, &gates, &settling);
    if !blocked.is_empty() {
        return Err(DeployError::Gated {
            version,
            reasons: format!("{} (no platform skip was recorded)", blocked.join("; ")),
        });
    }
    // Every platform is checked before any is recorded.
    for &p in &req.platforms {
        crate::pipeline::skips::check(ws, release, p, &req.reason)?;
    }
    // Under the lock a withdrawal takes: a skip is not withdrawn between its entry and its
    // ticks, and a publish records what it shipped under it too.
    let _lock = change_lock(ws)?;
    // What a published version shipped is fixed: its skips are not recorded again with
    // another reason, nor added (the same skip asked again records nothing).
    if !on_channels(ws, &version)?.is_empty() {
        let recorded = crate::pipeline::skips::skipped(ws, &version)?;
        for &p in &req.platforms {
            let same = recorded
                .iter()
                .any(|s| s.platform == p && s.reason == req.reason.trim());
            if !same {
                return Err(DeployError::Invalid(format!(
                    "{version} is already published: what it shipped is fixed, so its \
                     platform skips are not changed ({} {})",
                    p.title(),
                    recorded.iter().find(|s| s.platform == p).map_or_else(
                        || "had no skip recorded".to_owned(),
                        |s| format!("was skipped with the reason {:?}", s.reason)
                    )
                )));
            }
        }
    }
    let mut out = Vec::new();
    for &p in &req.platforms {
        let s = crate::pipeline::skips::skip(ws, release, p, &req.reason)?;
        out.push(format!(
            "{} {} not shipped this time: {} (recorded by {}, entry #{})",
            s.version,
            p.title(),
            s.reason,
            s.by,
            s.audit_seq
        ));
        for title in crate::pipeline::skips::settle(ws, release, &s)? {
            out.push(format!("ticked \"{title}\" (settled by the skip)"));
        }
    }
    out.extend(crate::pipeline::skips::settle_standing(ws, release)?);
    Ok(out)
}

impl From<crate::pipeline::skips::SkipError> for DeployError {
    fn from(e: crate::pipeline::skips::SkipError) -> Self {
        use crate::pipeline::skips::SkipError;
        match e {
            SkipError::Invalid(m) => DeployError::Invalid(m),
            SkipError::Workspace(e) => DeployError::Workspace(e),
            SkipError::State(e) => DeployError::State(e),
        }
    }
}

/// What withdrawing a platform skip did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    pub version: String,
    pub platform: crate::workspace::config::Platform,
    /// The skip withdrawn, as it was recorded; `None` when none stood (only the ticks of a skip
    /// withdrawn before were taken back).
    pub withdrawn: Option<crate::pipeline::skips::Skip>,
    /// The `release.platform.ship` entry that withdrew it, and who did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    pub by: String,
    /// The checklist items a skip of the platform had ticked, unticked now, by title.
    pub unticked: Vec<String>,
}

impl Withdrawal {
    /// What it did, in words, one line each.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        match (&self.withdrawn, self.entry) {
            (Some(w), Some(entry)) => out.push(format!(
                "{} ships {} after all: the skip ({:?}) is withdrawn (recorded by {}, entry #{entry})",
                self.version,
                self.platform.title(),
                w.reason,
                self.by
            )),
            _ => out.push(format!(
                "{} records no skip of {}: it ships; the items a skip withdrawn earlier had \
                 ticked are unticked",
                self.version,
                self.platform.title()
            )),
        }
        for t in &self.unticked {
            out.push(format!("unticked \"{t}\" (the skip had ticked it)"));
        }
        out
    }
}

/// Withdraws the recorded skip of `platform`: `release` ships it after all, and the
/// installers gate wants its installer again. Refused once the version is published (what it
/// shipped is fixed), under the lock a publish records under, so a publish that began before
/// cannot finish without the platform after it. Unticks the checklist items a skip of the
/// platform ticked first (a stop between leaves the skip standing with its items open: the
/// build phase waits, it is never done without a build or a skip), then records the
/// withdrawal. With no skip standing, unticks what a withdrawn skip's ticks left (a withdrawal
/// that stopped midway) and is refused when there is none.
pub fn withdraw_skip(
    ws: &Workspace,
    release: &Release,
    platform: crate::workspace::config::Platform,
) -> Result<Withdrawal, DeployError> {
    let version = release.version.to_string();
    let _lock = change_lock(ws)?;
    if let Some(on) = on_channels(ws, &version)?.first() {
        return Err(DeployError::Invalid(format!(
            "{version} is already published ({}): what it shipped is fixed, so the skip of {} \
             stays",
            on.describe(),
            platform.title()
        )));
    }
    let was = crate::pipeline::skips::skipped(ws, &version)?
        .into_iter()
        .find(|s| s.platform == platform);
    let unticked = crate::pipeline::skips::unsettle(ws, release, platform)?;
    let Some(was) = was else {
        if unticked.is_empty() {
            return Err(DeployError::Invalid(format!(
                "{version} records no skip of {}: it already ships (nothing to withdraw)",
                platform.title()
            )));
        }
        return Ok(Withdrawal {
            version,
            platform,
            withdrawn: None,
            entry: None,
            by: ws.actor(),
            unticked,
        });
    };
    let s = crate::pipeline::skips::ship(ws, release, platform)?;
    Ok(Withdrawal {
        version,
        platform,
        withdrawn: Some(was),
        entry: Some(s.audit_seq),
        by: s.by,
        unticked,
    })
}

/// The lock every change of what is published takes (a publish's record, a yank, a skip's
/// entry and ticks, a withdrawal): `publish/.publish-change.lock`.
/// The lock every change of a channel is made under (in `publish/`).
const CHANGE_LOCK: &str = "publish-change";

fn change_lock(ws: &Workspace) -> Result<std::fs::File, StateError> {
    state::lock(&ws.root().join("publish"), CHANGE_LOCK)
}

/// Refuses, naming every blocked gate and its reason (then `why`), unless all of `release`'s
/// gates are open now.
fn gates_open(ws: &Workspace, release: &Release, why: &str) -> Result<(), DeployError> {
    let blocked: Vec<String> = crate::gates::evaluate(ws, release, Timestamp::now())
        .iter()
        .filter(|g| !g.is_open())
        .map(|g| format!("{} ({})", g.gate, g.reason))
        .collect();
    if blocked.is_empty() {
        return Ok(());
    }
    Err(DeployError::Gated {
        version: release.version.to_string(),
        reasons: format!("{}{why}", blocked.join("; ")),
    })
}

/// Where a version stands on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnChannel {
    /// The newest live version there: what the feeds offer.
    Live {
        channel: String,
        since: Timestamp,
        by: String,
    },
    /// Live, but a newer version is offered.
    Superseded {
        channel: String,
        since: Timestamp,
        by_version: String,
    },
    Yanked {
        channel: String,
        yank: Yank,
    },
    /// A publish or yank of the version begun there and not finished (its feeds not all
    /// written): what is live is as before it until the next publish or yank finishes it.
    Unfinished {
        channel: String,
        /// `publish of 1.2.0`, `yank of 1.1.0`.
        what: String,
        since: Timestamp,
        by: String,
    },
}

impl OnChannel {
    /// For people: `Live on stable since 2026-12-04 12:36 (published by rm)`.
    pub fn describe(&self) -> String {
        match self {
            OnChannel::Live { channel, since, by } => format!(
                "Live on {channel} since {} (published by {by})",
                crate::local_time(*since, false)
            ),
            OnChannel::Superseded {
                channel,
                since,
                by_version,
            } => format!(
                "Published on {channel} {}; {channel} now offers {by_version}",
                crate::local_time(*since, false)
            ),
            OnChannel::Yanked { channel, yank } => format!(
                "Yanked from {channel} {} by {}: {}",
                crate::local_time(yank.at, false),
                yank.by,
                yank.reason
            ),
            OnChannel::Unfinished {
                channel,
                what,
                since,
                by,
            } => format!(
                "The {what} on {channel} was begun {} by {by} and not finished: publishing or \
                 yanking on {channel} again finishes it",
                crate::local_time(*since, false)
            ),
        }
    }
}

/// Where `version` stands on every channel it was published on, or a publish or yank of it
/// was begun on (from the workspace's own records: no store is read). A begun change is said
/// as [`OnChannel::Unfinished`], after where the version stood before it.
pub fn on_channels(ws: &Workspace, version: &str) -> Result<Vec<OnChannel>, DeployError> {
    let mut out = Vec::new();
    for (name, ch) in channels(ws)? {
        let live = ch.live();
        if let Some(y) = ch.yanked.iter().find(|y| y.version == version) {
            out.push(OnChannel::Yanked {
                channel: name.clone(),
                yank: y.clone(),
            });
        } else if let Some(p) = live.iter().find(|p| p.version == version) {
            out.push(match live.first() {
                Some(newest) if newest.version != version => OnChannel::Superseded {
                    channel: name.clone(),
                    since: p.at,
                    by_version: newest.version.clone(),
                },
                _ => OnChannel::Live {
                    channel: name.clone(),
                    since: p.at,
                    by: p.by.clone(),
                },
            });
        }
        if let Some(b) = ch.begun.as_ref().filter(|b| b.change.version() == version) {
            let (by, since) = b.change.begun_by();
            out.push(OnChannel::Unfinished {
                channel: name,
                what: b.change.describe(),
                since,
                by: by.to_owned(),
            });
        }
    }
    Ok(out)
}

/// What one publish did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub version: String,
    pub channel: String,
    /// Keys uploaded now; the rest were already stored with the same checksum.
    pub uploaded: Vec<String>,
    pub already_there: Vec<String>,
    pub feeds: Vec<String>,
    pub links: Vec<(String, String)>,
    /// What the store said about the uploads (multipart parts sent, resumed).
    pub notes: Vec<String>,
    /// The version was already live on the channel with these bytes: nothing was recorded or
    /// announced (the feeds were written again from the record).
    pub already_published: bool,
    /// A change begun earlier on the channel that this run finished first (`yank of 1.1.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
}

/// Publishes `release`: refused unless every gate is open, and when any file's bytes differ
/// from those the version was ever published with (on any channel) or that the store holds
/// under its key; creates what the store does not hold (never replacing an object); checks
/// every object's stored checksum; records the publish as begun (`publish.begin`), writes the
/// feeds and the page, checks them, and only then records it done (`publish`, which is what
/// announces `release.published`). A re-run of a completed publish records nothing; a re-run
/// of one whose feeds failed finishes it. `progress(done, total, step)` hears of it.
///
/// It runs on the caller's runtime: the store's requests are awaited there, and the file work
/// (the gates, hashing and signing, the audit log, the lock) goes to its blocking pool. Dropped
/// part way (a cancelled task), it stops where a crash would, and the next run finishes it.
pub async fn publish(
    ws: &Workspace,
    release: &Release,
    channel_given: Option<&str>,
    progress: &(dyn Fn(u64, u64, &str) + Sync),
) -> Result<Outcome, DeployError> {
    let never = tokio_util::sync::CancellationToken::new();
    publish_unless_cancelled(ws, release, channel_given, progress, &never).await
}

/// `work`, unless `cancel` comes first: [`DeployError::Cancelled`].
async fn or_cancelled<T, E: Into<DeployError>>(
    cancel: &tokio_util::sync::CancellationToken,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, DeployError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(DeployError::Cancelled),
        r = work => r.map_err(Into::into),
    }
}

/// [`publish`], stopped by `cancel` until it begins to go live ([`DeployError::Cancelled`]:
/// the objects stored stay for the next run, nothing is recorded); from then on it ends. A
/// cancel the store's work did not hear went on until the runner's grace ended, and went live
/// while the task said it was cancelled.
pub async fn publish_unless_cancelled(
    ws: &Workspace,
    release: &Release,
    channel_given: Option<&str>,
    progress: &(dyn Fn(u64, u64, &str) + Sync),
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Outcome, DeployError> {
    let version = release.version.to_string();
    // On a shared workspace, one console publishes a version at a time; a second is told who.
    let lease = {
        let (ws, what) = (ws.clone(), format!("publish {version}"));
        blocking(move || ws.lease(&what).map_err(DeployError::from)).await?
    };
    let (channel_name, store, list) = {
        let (ws, release) = (ws.clone(), release.clone());
        let (given, version) = (channel_given.map(str::to_owned), version.clone());
        blocking(move || {
            let channel_name = channel_name(&ws, given.as_deref())?;
            if let Some(why) = store_not_shared(&ws) {
                return Err(DeployError::Invalid(why));
            }
            gates_open(&ws, &release, "")?;
            let store = open_store(&ws)?;
            let list = uploads(&ws, &release)?;
            check_unchanged(&ws, &version, &list)?;
            Ok((channel_name, store, list))
        })
        .await?
    };
    // What the store holds, before anything is sent: a key with other bytes refuses the lot.
    let mut missing = Vec::new();
    let mut already = Vec::new();
    for u in &list {
        match or_cancelled(cancel, store.holds(&u.key, u.file())).await? {
            Holds::Same => already.push(u.key.clone()),
            Holds::Missing => missing.push(u),
            Holds::Different(held) => return Err(occupied(ws, &version, u, held)?),
        }
    }
    let total: u64 = list.iter().map(|u| u.size).sum::<u64>().max(1);
    let mut done: u64 = list
        .iter()
        .filter(|u| already.contains(&u.key))
        .map(|u| u.size)
        .sum();
    let mut uploaded = Vec::new();
    for u in missing {
        let meta = Meta {
            content_type: feeds::mime(&u.name).to_owned(),
            cache_control: u.cache_control.clone(),
        };
        let base = done;
        let put = or_cancelled(
            cancel,
            store.put_file(
                &u.key,
                store::Put {
                    file: u.file(),
                    meta: &meta,
                    progress: &|n| progress(base + n, total, &u.name),
                },
            ),
        )
        .await;
        match put {
            Ok(()) => uploaded.push(u.key.clone()),
            // Created meanwhile by someone else (another console): the same bytes are "already
            // there"; others are refused, and stay.
            Err(DeployError::Store(StoreError::Exists { .. })) => {
                match or_cancelled(cancel, store.holds(&u.key, u.file())).await? {
                    Holds::Same => already.push(u.key.clone()),
                    Holds::Missing => {
                        return Err(DeployError::Mismatch {
                            key: u.key.clone(),
                            expected: u.sha256.to_string(),
                            got: "nothing (the store said the key was taken)".to_owned(),
                        });
                    }
                    Holds::Different(held) => return Err(occupied(ws, &version, u, held)?),
                }
            }
            Err(e) => return Err(e),
        }
        done += u.size;
        progress(done, total, &u.name);
    }
    // Every object as the store holds it.
    for u in &list {
        match or_cancelled(cancel, store.holds(&u.key, u.file())).await? {
            Holds::Same => {}
            Holds::Missing => {
                return Err(DeployError::Mismatch {
                    key: u.key.clone(),
                    expected: u.sha256.to_string(),
                    got: "nothing".to_owned(),
                });
            }
            Holds::Different(got) => {
                return Err(DeployError::Mismatch {
                    key: u.key.clone(),
                    expected: u.sha256.to_string(),
                    got,
                });
            }
        }
    }
    let notes = store.take_notes();
    let files = files_of(ws, &store, &list);
    // The gates again, under the lock a skip's withdrawal takes: one withdrawn while the files
    // uploaded wants its platform's installer, and what is recorded below would not ship it.
    let _lock = {
        let (ws, release) = (ws.clone(), release.clone());
        blocking(move || {
            let lock = change_lock(&ws)?;
            gates_open(&ws, &release, " (changed while the files uploaded)")?;
            Ok(lock)
        })
        .await?
    };
    // The last moment to stop: from here the change is recorded and goes live.
    if cancel.is_cancelled() {
        return Err(DeployError::Cancelled);
    }
    lease.check()?;
    let finished = finish_begun(ws, &store, &channel_name).await?;
    // Checked again under the lock: another console may have published the version meanwhile.
    let before = {
        let (ws, channel_name, version) = (ws.clone(), channel_name.clone(), version.clone());
        blocking(move || {
            let before = channel(&ws, &channel_name)?;
            check_unchanged(&ws, &version, &list)?;
            Ok(before)
        })
        .await?
    };
    let live_now = before.live().iter().any(|p| {
        p.version == version
            && p.files.len() == files.len()
            && files.iter().all(|f| {
                p.files
                    .iter()
                    .any(|g| g.name == f.name && g.sha256 == f.sha256)
            })
    });
    // Finished just now, this run's publish was recorded (and is announced) by it.
    let finished_this = matches!(
        &finished,
        Some((Change::Publish { published, .. }, _)) if published.version == version
    );
    let (feeds, already_published) = if live_now {
        // A completed publish run again: the feeds are written again from the record (the same
        // bytes), nothing is recorded, nothing is announced.
        (
            write_feeds(ws, &store, &channel_name, &before).await?,
            !finished_this,
        )
    } else {
        let change = Change::Publish {
            published: Published {
                version: version.clone(),
                at: Timestamp::now(),
                by: ws.actor(),
                files: files.clone(),
            },
            uploaded: uploaded.len(),
        };
        let feeds = begin_then_finish(
            ws,
            &store,
            &channel_name,
            Event::PublishBegin(audit::event::PublishChange {
                target: version.clone(),
                before: audit::event::Live {
                    live: before.live().first().map(|p| p.version.clone()),
                },
                after: audit::event::Published {
                    channel: channel_name.clone(),
                    files: serde_json::json!(files),
                    uploaded: None,
                },
            }),
            &change,
        )
        .await?;
        (feeds, false)
    };
    Ok(Outcome {
        version,
        channel: channel_name,
        uploaded,
        already_there: already,
        links: files
            .iter()
            .map(|f| (f.name.clone(), f.url.clone()))
            .collect(),
        feeds,
        notes,
        already_published,
        finished: finished.map(|(c, _)| c.describe()),
    })
}

/// Runs blocking file work of publishing (the gates, hashing and signing, the audit log, the
/// lock, channel records) on the runtime's blocking pool; a panic in it goes on in the caller.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DeployError> + Send + 'static,
) -> Result<T, DeployError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(r) => r,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(DeployError::Invalid(format!(
                "the runtime stopped before the publishing work ended: {e}"
            ))),
        },
    }
}

/// The refusal for a versioned key whose stored object is not `u`'s bytes.
fn occupied(
    ws: &Workspace,
    version: &str,
    u: &Upload,
    held: String,
) -> Result<DeployError, DeployError> {
    let published = channels(ws)?.iter().any(|(_, ch)| {
        ch.published.iter().any(|p| {
            p.version == version
                && p.files
                    .iter()
                    .any(|f| f.name == u.name && f.sha256 == u.sha256)
        })
    });
    Ok(DeployError::Occupied {
        key: u.key.clone(),
        held,
        new: u.sha256.to_string(),
        why: if published {
            "these are the bytes the version was published with, so the stored object was \
             changed outside the console: it is not replaced here (a published object never \
             changes); check who changed it"
        } else {
            "a published version never changes: publish these bytes as a new version"
        },
    })
}

/// Finishes the change begun on `channel_name`, if any: writes the feeds of the channel with it
/// applied and checks them, then records it done (`publish` or `publish.yank`, once: an entry
/// already in the log after the one that began it, from a run that stopped before saving the
/// state, is not written again) and saves the state. When the feeds cannot be written, the
/// change stays begun (`ACTION.failed` says why) and the next run finishes it. Call it under
/// the `publish-change` lock.
async fn finish_begun(
    ws: &Workspace,
    store: &Store,
    channel_name: &str,
) -> Result<Option<(Change, Vec<String>)>, DeployError> {
    let ch = {
        let (ws, channel_name) = (ws.clone(), channel_name.to_owned());
        blocking(move || channel(&ws, &channel_name)).await?
    };
    let Some(begun) = ch.begun.clone() else {
        return Ok(None);
    };
    let change = begun.change.clone();
    let action = change.action();
    let version = change.version().to_owned();
    let done = ch.applied();
    let feeds = match write_feeds(ws, store, channel_name, &done).await {
        Ok(f) => f,
        Err(e) => {
            let (ws, version) = (ws.clone(), version.clone());
            return blocking(move || {
                ws.record_failed(action, &version, &e);
                Err(e)
            })
            .await;
        }
    };
    let event = match &change {
        Change::Publish {
            published,
            uploaded,
        } => Event::Publish(audit::event::PublishChange {
            target: version.clone(),
            before: audit::event::Live {
                live: ch.live().first().map(|p| p.version.clone()),
            },
            after: audit::event::Published {
                channel: channel_name.to_owned(),
                files: serde_json::json!(published.files),
                uploaded: Some(u64::try_from(*uploaded).unwrap_or(u64::MAX)),
            },
        }),
        Change::Yank { yank, back_to } => Event::Yank(audit::event::YankChange {
            target: version.clone(),
            before: audit::event::Live {
                live: Some(version.clone()),
            },
            after: audit::event::Yanked {
                channel: channel_name.to_owned(),
                live: Some(back_to.clone()),
                reason: yank.reason.clone(),
                published: published_record(&ch, &version),
            },
        }),
    };
    let (ws, channel_name) = (ws.clone(), channel_name.to_owned());
    blocking(move || {
        let path = channel_path(&ws, &channel_name);
        let save = |c: &mut Channel, seq: u64| {
            if c.begun.as_ref() == Some(&begun) {
                *c = c.applied();
                c.as_of.insert(version.clone(), seq);
            }
            Ok::<_, StateError>(())
        };
        match recorded_since(&ws, action, &version, &channel_name, begun.seq)? {
            Some(seq) => state::update_json(&path, |c| save(c, seq))?,
            None => ws.change(event, |seq| state::update_json(&path, |c| save(c, seq)))?,
        }
        Ok(())
    })
    .await?;
    Ok(Some((change, feeds)))
}

/// `version`'s publish record on channel `ch`, as a yank's entry carries it.
fn published_record(ch: &Channel, version: &str) -> Option<serde_json::Value> {
    ch.published
        .iter()
        .find(|p| p.version == version)
        .and_then(|p| serde_json::to_value(p).ok())
}

/// The entry of `action` on `target` in `channel_name` after entry `seq`, if the log holds one.
fn recorded_since(
    ws: &Workspace,
    action: Action,
    target: &str,
    channel_name: &str,
    seq: u64,
) -> Result<Option<u64>, DeployError> {
    let log = ws.audit();
    let index = log.index().map_err(WorkspaceError::from)?;
    for i in index.with_action(action.as_str()).into_iter().rev() {
        let i = usize::try_from(i).unwrap_or(usize::MAX);
        for entry in log
            .read_range(&index, i..i.saturating_add(1))
            .map_err(WorkspaceError::from)?
            .into_iter()
            .flatten()
        {
            if entry.seq <= seq {
                return Ok(None);
            }
            if entry.target == target && entry.after["channel"] == channel_name {
                return Ok(Some(entry.seq));
            }
        }
    }
    Ok(None)
}

/// Writes the channel's feeds and page (no-cache) and checks what the store then holds.
async fn write_feeds(
    ws: &Workspace,
    store: &Store,
    channel_name: &str,
    ch: &Channel,
) -> Result<Vec<String>, DeployError> {
    let mut keys = Vec::new();
    for (key, body) in render_feeds(ws, channel_name, ch) {
        let meta = Meta {
            content_type: feeds::mime(&key).to_owned(),
            cache_control: NO_CACHE.to_owned(),
        };
        store.put_bytes(&key, body.as_bytes(), &meta).await?;
        let want = crate::digest::Sha256::of(body.as_bytes());
        match store.head(&key).await? {
            Some(s) if s.sha256 == Some(want) => {}
            other => {
                return Err(DeployError::Mismatch {
                    key,
                    expected: want.to_string(),
                    got: other
                        .and_then(|s| s.sha256)
                        .map_or_else(|| "nothing".to_owned(), |h| h.to_string()),
                });
            }
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Yanks `version` from the channel: the objects stay, the feeds and the page point back to the
/// newest version still live. Recorded as begun (`publish.yank.begin`), the feeds written and
/// checked, then recorded done (`publish.yank`, which announces `release.yanked`): until then
/// `publish status` still calls it live, as the feeds do, and a re-run finishes it. A yank of a
/// version already yanked rewrites the feeds and records nothing.
pub async fn yank(
    ws: &Workspace,
    version: &str,
    reason: &str,
    channel_given: Option<&str>,
) -> Result<Vec<String>, DeployError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DeployError::Invalid(
            "--reason must say why the release is yanked (it is audited)".into(),
        ));
    }
    let (channel_name, store, _lock) = {
        let (ws, given) = (ws.clone(), channel_given.map(str::to_owned));
        blocking(move || {
            let channel_name = channel_name(&ws, given.as_deref())?;
            if let Some(why) = store_not_shared(&ws) {
                return Err(DeployError::Invalid(
                    why.replace("(nothing was uploaded)", "(nothing was yanked)"),
                ));
            }
            // Opened first: a store that cannot be reached must not begin a yank.
            let store = open_store(&ws)?;
            let lock = change_lock(&ws)?;
            Ok((channel_name, store, lock))
        })
        .await?
    };
    if let Some((change, feeds)) = finish_begun(ws, &store, &channel_name).await?
        && matches!(&change, Change::Yank { yank, .. } if yank.version == version)
    {
        return Ok(feeds);
    }
    let before = {
        let (ws, channel_name) = (ws.clone(), channel_name.clone());
        blocking(move || channel(&ws, &channel_name)).await?
    };
    if before.yanked.iter().any(|y| y.version == version)
        && !before.live().iter().any(|p| p.version == version)
    {
        // Done before: the feeds are written again (the same bytes), nothing is recorded.
        return write_feeds(ws, &store, &channel_name, &before).await;
    }
    if !before.live().iter().any(|p| p.version == version) {
        return Err(DeployError::Invalid(format!(
            "{version} is not live on {channel_name} (live: {})",
            before
                .live()
                .iter()
                .map(|p| p.version.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let back_to = before
        .live()
        .iter()
        .find(|p| p.version != version)
        .map(|p| p.version.clone())
        .ok_or_else(|| {
            DeployError::Invalid(format!(
                "{version} is the only live version on {channel_name}: there is nothing to \
                 point the feeds back to"
            ))
        })?;
    let change = Change::Yank {
        yank: Yank {
            version: version.to_owned(),
            at: Timestamp::now(),
            by: ws.actor(),
            reason: reason.to_owned(),
        },
        back_to: back_to.clone(),
    };
    begin_then_finish(
        ws,
        &store,
        &channel_name,
        Event::YankBegin(audit::event::YankChange {
            target: version.to_owned(),
            before: audit::event::Live {
                live: Some(version.to_owned()),
            },
            after: audit::event::Yanked {
                channel: channel_name.clone(),
                live: Some(back_to),
                reason: reason.to_owned(),
                published: published_record(&before, version),
            },
        }),
        &change,
    )
    .await
}

/// Records a publish or yank as begun on its channel (`action` on `version`), then writes the
/// feeds and records it done (`finish_begun`), returning the feeds as stored.
async fn begin_then_finish(
    ws: &Workspace,
    store: &Store,
    channel_name: &str,
    begin: Event,
    change: &Change,
) -> Result<Vec<String>, DeployError> {
    let (action, version) = (begin.action(), begin.target());
    {
        let (ws, path, change) = (ws.clone(), channel_path(ws, channel_name), change.clone());
        let version = version.clone();
        blocking(move || {
            ws.change(begin, |seq| {
                state::update_json(&path, |c: &mut Channel| {
                    c.begun = Some(Begun { seq, change });
                    c.as_of.insert(version, seq);
                    Ok::<_, StateError>(())
                })
            })?;
            Ok(())
        })
        .await?;
    }
    finish_begun(ws, store, channel_name)
        .await?
        .map(|(_, feeds)| feeds)
        .ok_or_else(|| {
            DeployError::Invalid(format!(
                "the {action} of {version} on {channel_name} is no longer recorded"
            ))
        })
}

/// What is live on a channel, and what its feeds as stored point at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub channel: String,
    pub store: String,
    pub live: Option<String>,
    pub published: Vec<String>,
    pub yanked: Vec<Yank>,
    /// Feed key → the version it offers as stored (`None`: it offers none, or is missing).
    pub feeds: BTreeMap<String, Option<String>>,
    /// The feed keys the store holds.
    pub written: Vec<String>,
    /// A publish or yank begun whose feeds were not all written (`live` is what it was before
    /// it; the feeds may be part way): what to run to finish it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub begun: Option<String>,
}

/// What is live on a channel (default: `[publish] channel`).
pub async fn status(ws: &Workspace, channel_given: Option<&str>) -> Result<Status, DeployError> {
    let (channel_name, ch, store) = {
        let (ws, given) = (ws.clone(), channel_given.map(str::to_owned));
        blocking(move || {
            let channel_name = channel_name(&ws, given.as_deref())?;
            let ch = channel(&ws, &channel_name)?;
            let store = open_store(&ws)?;
            Ok((channel_name, ch, store))
        })
        .await?
    };
    let dir = format!("{}{channel_name}/", prefix(ws));
    let mut feeds = BTreeMap::new();
    let mut written = Vec::new();
    let latest_key = format!("{dir}latest.json");
    let latest = store.get(&latest_key).await?.map(|b| {
        serde_json::from_slice::<serde_json::Value>(&b)
            .ok()
            .and_then(|v| v["version"].as_str().map(str::to_owned))
    });
    if latest.is_some() {
        written.push(latest_key.clone());
    }
    feeds.insert(latest_key, latest.flatten());
    let appcast_key = format!("{dir}appcast.xml");
    let appcast = store.get(&appcast_key).await?.map(|b| {
        let text = String::from_utf8_lossy(&b).to_string();
        text.split("<sparkle:version>")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .map(str::to_owned)
    });
    if appcast.is_some() {
        written.push(appcast_key.clone());
    }
    feeds.insert(appcast_key, appcast.flatten());
    let begun = ch.begun.as_ref().map(|b| {
        let run = match &b.change {
            Change::Publish { published, .. } => {
                format!(
                    "publish --version {} --channel {channel_name}",
                    published.version
                )
            }
            Change::Yank { yank, .. } => format!(
                "publish yank --version {} --channel {channel_name} --reason ...",
                yank.version
            ),
        };
        let (by, at) = b.change.begun_by();
        format!(
            "the {} was begun {} by {by} and its feeds not all written: run `{run}` again to \
             finish it",
            b.change.describe(),
            crate::local_time(at, false)
        )
    });
    Ok(Status {
        begun,
        live: ch.live().first().map(|p| p.version.clone()),
        published: ch.published.iter().map(|p| p.version.clone()).collect(),
        yanked: ch.yanked.clone(),
        channel: channel_name,
        store: store.describe(),
        feeds,
        written,
    })
}

/// The publish task: publishes, logs each upload, ticks "Update download links" once the
/// feeds are written (the task's own kind ticks "Publish installers").
pub async fn run_task(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    release: Release,
    channel: Option<String>,
    skips: SkipRequest,
    slot: std::sync::Arc<std::sync::Mutex<Option<Outcome>>>,
) -> crate::runner::TaskResult {
    let (ws2, rel2) = (ws.clone(), release.clone());
    let skipped = tokio::task::spawn_blocking(move || record_skips(&ws2, &rel2, &skips))
        .await
        .map_err(|e| crate::runner::TaskError::Failed(crate::runner::panic_message(e)))?
        .map_err(|e| crate::runner::TaskError::Failed(e.to_string()))?;
    for line in skipped {
        ctx.log_line(&line);
    }
    let outcome = publish_unless_cancelled(
        &ws,
        &release,
        channel.as_deref(),
        &|done, total, step| {
            ctx.set_progress(done as f32 / total as f32, Some(step));
        },
        ctx.cancel_token(),
    )
    .await
    .map_err(|e| match e {
        DeployError::Cancelled => crate::runner::TaskError::Cancelled,
        e => crate::runner::TaskError::Failed(e.to_string()),
    })?;
    for k in &outcome.uploaded {
        ctx.log_line(&format!("uploaded and verified {k}"));
    }
    for k in &outcome.already_there {
        ctx.log_line(&format!("already stored with the same SHA-256: {k}"));
    }
    for n in &outcome.notes {
        ctx.log_line(n);
    }
    for k in &outcome.feeds {
        ctx.log_line(&format!("wrote {k}"));
    }
    let name = ctx
        .snapshot()
        .map_or_else(|| TASK_KIND.to_owned(), |s| s.info.name);
    tokio::task::spawn_blocking(move || ws.auto_tick(&release, LINKS_KIND, &name))
        .await
        .map_err(|e| crate::runner::TaskError::Failed(crate::runner::panic_message(e)))?
        .map_err(|e| crate::runner::TaskError::Failed(e.to_string()))?;
    if let Some(f) = &outcome.finished {
        ctx.log_line(&format!(
            "finished the {f} begun earlier on {}",
            outcome.channel
        ));
    }
    let msg = format!(
        "{} {} on {}: {} uploaded, {} already there",
        outcome.version,
        if outcome.already_published {
            "was already published (nothing recorded or announced)"
        } else {
            "published"
        },
        outcome.channel,
        outcome.uploaded.len(),
        outcome.already_there.len()
    );
    if let Ok(mut s) = slot.lock() {
        *s = Some(outcome);
    }
    Ok(msg)
}
