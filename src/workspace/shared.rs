//! A workspace shared by a team through an S3 bucket (`s3://BUCKET/PREFIX`), with no server of
//! ours: the bucket's log is the truth, and each console keeps a verified copy of it.
//!
//! In the bucket, under the prefix:
//! - `release-console.toml`, the configuration;
//! - `log/000000000001.json`, ...: one object per audit entry, its exact line, created with
//!   `If-None-Match: *`, so a sequence number has one winner.
//!
//! On this machine, a cache folder per shared workspace (`cache_root()/<bucket>/<prefix>`) is an
//! ordinary workspace folder: the configuration as last read, `audit.log` (the bucket's entries,
//! the same bytes, each checked to extend the chain before it is adopted: the console's memory
//! of the last verified sequence and hash), and the state the entries roll forward into
//! (`Workspace::recover_with`), with a `.shared.json` marker naming the bucket, so opening the
//! folder itself opens the shared workspace again, never a local copy that would drift.
//!
//! A change is appended to the bucket first, at the next sequence number. A writer that loses
//! the race (412) adopts the winners' entries and tries the next number; when one of them
//! changed the same target since this console last read the state, the change is refused
//! ([`WorkspaceError::Raced`]), naming who, so a precondition is never judged on a stale view.
//! An answer that is lost (a timeout, a dropped connection) is resolved by reading the entry
//! at that number: the writer's random nonce in it says whether it is its own. Nothing is
//! doubled, nothing is lost.
//!
//! When the bucket cannot be reached, the workspace opens from its cache, read-only: every
//! change is refused with [`WorkspaceError::Offline`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CONFIG_FILE, WorkspaceError};
use crate::audit::{AuditEntry, AuditError, AuditLog, Held, NewEntry};
use crate::net::s3::{Client, Cond, Endpoint, Failure, Got};
use crate::store;

/// The marker in a shared workspace's cache folder.
pub const MARKER: &str = ".shared.json";
/// Where the cache folders of shared workspaces are kept, when set (tests; a CI job's own
/// folder); else the user's data directory.
pub const CACHE_ENV: &str = "RELEASE_CONSOLE_SHARED_CACHE";
/// How long one small request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long opening waits for the bucket's first answer before it opens read-only.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest log entry or configuration read from a bucket.
const MAX_OBJECT: usize = 4 * 1024 * 1024;
/// Entries fetched at once when catching up.
const FETCH_AT_ONCE: usize = 16;
/// Sequence numbers tried by one change before it gives up (each lost race is another
/// writer's change committed: the team moved on, not the network failing).
const MAX_RACES: u32 = 64;

/// `s3://BUCKET/PREFIX`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedUrl {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl std::fmt::Display for SharedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl SharedUrl {
    /// `Some` when `path` is an `s3://` URL: parsed, or the error naming what is wrong.
    pub fn of_path(path: &Path) -> Option<Result<Self, WorkspaceError>> {
        let text = path.to_str()?;
        let rest = text.strip_prefix("s3://")?;
        Some(Self::parse(text, rest))
    }

    fn parse(text: &str, rest: &str) -> Result<Self, WorkspaceError> {
        let bad = |why: &str| WorkspaceError::Refused(format!("{text}: {why}"));
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad(
                "not an S3 bucket name (3 to 63 lower-case letters, digits, '-' and '.'); \
                 expected s3://BUCKET/PREFIX",
            ));
        }
        let prefix = prefix.trim_matches('/');
        for part in prefix.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." {
                return Err(bad("the prefix may not contain '.' or '..'"));
            }
            if !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(bad(
                    "the prefix may hold only letters, digits, '-', '_', '.' and '/'",
                ));
            }
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix
                .split('/')
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("/"),
        })
    }

    /// The key of `rel` under the prefix.
    pub fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    /// The key of log entry `seq`.
    pub fn log_key(&self, seq: u64) -> String {
        self.key(&format!("log/{seq:012}.json"))
    }

    /// The cache folder of this workspace under `root`.
    pub fn cache_dir(&self, root: &Path) -> PathBuf {
        let mut dir = root.join(&self.bucket);
        if self.prefix.is_empty() {
            dir.push("_");
        } else {
            dir.extend(self.prefix.split('/'));
        }
        dir
    }
}

/// The folder the cache folders of shared workspaces live in.
pub fn cache_root() -> Result<PathBuf, WorkspaceError> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("dev", "release-console", "release-console")
        .ok_or(WorkspaceError::NoDataDir)?;
    Ok(dirs.data_dir().join("shared"))
}

/// `.shared.json`: which bucket a cache folder mirrors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    url: SharedUrl,
}

/// How a console reaches shared workspaces: where it keeps their cache folders, and the S3
/// endpoint and credentials.
#[derive(Debug, Clone)]
pub struct Access {
    pub cache_root: PathBuf,
    pub endpoint: Endpoint,
}

impl Access {
    /// From the environment: [`cache_root`] and the AWS conventions (see [`endpoint`]).
    pub fn from_env(url: &SharedUrl) -> Result<Self, WorkspaceError> {
        Ok(Self {
            cache_root: cache_root()?,
            endpoint: endpoint(url)?,
        })
    }
}

/// Where the bucket is, from the AWS conventions: `$AWS_ENDPOINT_URL_S3`, else
/// `$AWS_ENDPOINT_URL`, else AWS itself in `$AWS_REGION` (else `$AWS_DEFAULT_REGION`, else
/// us-east-1); path-style addressing for any endpoint but AWS's own; credentials from the
/// variables, the keyring or the profile (`$AWS_PROFILE`).
fn endpoint(url: &SharedUrl) -> Result<Endpoint, WorkspaceError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let custom = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
    let credentials = super::secrets::aws_credentials("")
        .map_err(|e| WorkspaceError::Refused(format!("{url}: {e}")))?;
    Ok(Endpoint {
        path_style: custom.is_some(),
        url: custom.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com")),
        bucket: url.bucket.clone(),
        region,
        credentials,
    })
}

/// The process's one runtime for a shared workspace's requests: workspace methods block, and
/// are called from the main runtime's threads (task hooks) as well as from outside it, so the
/// requests run here and the caller waits on a channel. It lives as long as the process.
pub(super) fn io() -> Result<&'static tokio::runtime::Runtime, WorkspaceError> {
    static IO: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("shared-workspace-io")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the shared workspace's I/O thread: {e}"))
    })
    .as_ref()
    .map_err(|e| WorkspaceError::Refused(e.clone()))
}

/// Runs `fut` on [`io`] and waits for it.
pub(super) fn block<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, WorkspaceError> {
    let rt = io()?;
    #[expect(
        clippy::disallowed_methods,
        reason = "the caller may be a thread of the main runtime (a task hook), where tokio's \
                  blocking receive panics; this waits on a thread of the I/O runtime only"
    )]
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        // The caller waits for this; a caller that is gone hears nothing.
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| {
        WorkspaceError::Refused("the shared workspace's I/O thread stopped".to_owned())
    })
}

/// An open shared workspace's connection to its bucket.
#[derive(Debug)]
pub struct Shared {
    url: SharedUrl,
    pub(super) client: Client,
    /// Why the bucket could not be reached when the workspace was opened: it is read-only.
    offline: Mutex<Option<String>>,
    /// The log's length when the state was last rolled forward from it: a change whose target
    /// an entry after this changed was judged on a stale view.
    seen: AtomicU64,
    /// Entries this process appended.
    appended: AtomicU64,
    /// A change was refused as [`WorkspaceError::Raced`].
    raced: std::sync::atomic::AtomicBool,
    /// The nonces of the entries this console appended.
    own: Mutex<std::collections::HashSet<String>>,
    host: String,
}

/// A bucket request that failed, as a [`WorkspaceError`] naming it.
pub(super) fn unreachable(url: &SharedUrl, what: &str, f: &Failure) -> WorkspaceError {
    WorkspaceError::Bucket {
        url: url.to_string(),
        message: format!("{what}: {f}"),
    }
}

impl Shared {
    fn new(url: SharedUrl, endpoint: Endpoint) -> Result<Self, WorkspaceError> {
        let endpoint = Endpoint {
            bucket: url.bucket.clone(),
            ..endpoint
        };
        let client = Client::new(endpoint, REQUEST_TIMEOUT)
            .map_err(|e| WorkspaceError::Refused(format!("{url}: {e}")))?;
        Ok(Self {
            url,
            client,
            offline: Mutex::new(None),
            seen: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            raced: std::sync::atomic::AtomicBool::new(false),
            own: Mutex::new(std::collections::HashSet::new()),
            host: crate::os::host_name(),
        })
    }

    pub fn url(&self) -> &SharedUrl {
        &self.url
    }

    /// This machine's name, as its entries record it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Why the workspace is read-only, when the bucket could not be reached.
    pub fn offline(&self) -> Option<String> {
        self.offline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Entries this process appended to the bucket.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// Whether a change was refused because another person's came first (and forgets it): a
    /// command that recorded nothing yet may run again on the state read anew.
    pub fn take_raced(&self) -> bool {
        self.raced.swap(false, Ordering::Relaxed)
    }

    /// The log's length when the state was last rolled forward from it.
    fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Notes that the state has been rolled forward through entry `seq`.
    pub(super) fn mark_seen(&self, seq: u64) {
        self.seen.fetch_max(seq, Ordering::Relaxed);
    }

    fn get(&self, key: String) -> Result<Got, Failure> {
        let client = self.client.clone();
        block(async move { client.get_small(&key, None, MAX_OBJECT).await })
            .map_err(|e| Failure::Network(e.to_string()))?
    }

    fn put(
        &self,
        key: String,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> Result<String, Failure> {
        let client = self.client.clone();
        block(async move {
            client
                .put_small(&key, bytes, content_type, Cond::Create)
                .await
        })
        .map_err(|e| Failure::Network(e.to_string()))?
    }

    /// The configuration in the bucket, if there is one. Asked impatiently (twice, 10 s at
    /// most each): the answer decides whether the workspace opens read-only from its copy,
    /// and a window waits for it.
    fn fetch_config(&self) -> Result<Option<String>, Failure> {
        let client = self.client.impatient(OPEN_TIMEOUT);
        let key = self.url.key(CONFIG_FILE);
        let got = block(async move { client.get_small(&key, None, MAX_OBJECT).await })
            .map_err(|e| Failure::Network(e.to_string()))??;
        match got {
            Got::Object { bytes, .. } => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Got::Missing | Got::NotModified => Ok(None),
        }
    }

    /// Entry `seq` as its line, if the bucket holds it.
    fn fetch_entry(&self, seq: u64) -> Result<Option<String>, WorkspaceError> {
        self.entry_line(seq, self.get(self.url.log_key(seq)))
    }

    /// What reading entry `seq` answered, as its line (`None`: the bucket has none).
    fn entry_line(
        &self,
        seq: u64,
        got: Result<Got, Failure>,
    ) -> Result<Option<String>, WorkspaceError> {
        match got {
            Ok(Got::Object { bytes, .. }) => String::from_utf8(bytes).map(Some).map_err(|_| {
                self.diverged(seq, "the entry in the bucket is not UTF-8 text".to_owned())
            }),
            Ok(Got::Missing | Got::NotModified) => Ok(None),
            Err(f) => Err(unreachable(
                &self.url,
                &format!("read log entry #{seq}"),
                &f,
            )),
        }
    }

    fn diverged(&self, seq: u64, message: String) -> WorkspaceError {
        WorkspaceError::Diverged {
            url: self.url.to_string(),
            seq,
            message,
        }
    }

    /// Checks that the bucket still holds the last entry this console verified, byte for byte:
    /// a log that was truncated or rewritten there is refused, naming the entry.
    fn check_last(&self, held: &Held<'_>) -> Result<(), WorkspaceError> {
        let last = held.len();
        if last == 0 {
            return Ok(());
        }
        match self.fetch_entry(last)? {
            None => Err(self.diverged(
                last,
                format!(
                    "the bucket no longer holds entry #{last}, which this console verified: \
                     the log there was truncated or replaced"
                ),
            )),
            Some(line)
                if crate::sha256_hex(line.trim_end_matches('\n').as_bytes())
                    != held.last_hash() =>
            {
                Err(self.diverged(
                    last,
                    format!(
                        "entry #{last} in the bucket differs from the one this console \
                         verified: the log there was rewritten"
                    ),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    /// Adopts every entry the bucket holds past the local copy, in order, each checked to
    /// extend the chain; returns them. One request when there is nothing new.
    fn pull(&self, held: &mut Held<'_>) -> Result<Vec<AuditEntry>, WorkspaceError> {
        let mut adopted = Vec::new();
        loop {
            let next = held.len() + 1;
            let Some(line) = self.fetch_entry(next)? else {
                return Ok(adopted);
            };
            adopted.push(self.adopt(held, next, &line)?);
            // More may follow: list them and fetch several at once.
            loop {
                let after = self.url.log_key(held.len());
                let client = self.client.clone();
                let prefix = self.url.key("log/");
                let listing = block(async move { client.list(&prefix, Some(&after), 1000).await })?
                    .map_err(|f| unreachable(&self.url, "list the log", &f))?;
                let seqs: Vec<u64> = listing
                    .keys
                    .iter()
                    .filter_map(|k| seq_of_key(&self.url, k))
                    .take_while({
                        let mut want = held.len() + 1;
                        move |s| {
                            let ok = *s == want;
                            want += 1;
                            ok
                        }
                    })
                    .collect();
                if seqs.is_empty() {
                    break;
                }
                for chunk in seqs.chunks(FETCH_AT_ONCE) {
                    let mut lines = Vec::with_capacity(chunk.len());
                    for (seq, line) in chunk.iter().zip(self.fetch_many(chunk)?) {
                        let Some(line) = line else {
                            return Err(self.diverged(
                                *seq,
                                format!("entry #{seq} was listed but cannot be read"),
                            ));
                        };
                        lines.push(line.trim_end_matches('\n').to_owned());
                    }
                    // One write and one fsync for the batch; each line is checked first.
                    held.adopt_all(&lines).map_err(|e| {
                        self.diverged(chunk.first().copied().unwrap_or_default(), refusal(&e))
                    })?;
                    for line in &lines {
                        if let Ok(entry) = serde_json::from_str::<AuditEntry>(line) {
                            adopted.push(entry);
                        }
                    }
                }
                if !listing.truncated {
                    break;
                }
            }
        }
    }

    /// Entries `seqs` read at once, in order.
    fn fetch_many(&self, seqs: &[u64]) -> Result<Vec<Option<String>>, WorkspaceError> {
        let client = self.client.clone();
        let keys: Vec<String> = seqs.iter().map(|s| self.url.log_key(*s)).collect();
        let results = block(async move {
            let mut set = tokio::task::JoinSet::new();
            for (i, key) in keys.into_iter().enumerate() {
                let client = client.clone();
                set.spawn(async move { (i, client.get_small(&key, None, MAX_OBJECT).await) });
            }
            let mut out = Vec::new();
            while let Some(done) = set.join_next().await {
                if let Ok(r) = done {
                    out.push(r);
                }
            }
            out.sort_by_key(|(i, _)| *i);
            out
        })?;
        if results.len() != seqs.len() {
            return Err(WorkspaceError::Refused(format!(
                "{}: a read of the log stopped",
                self.url
            )));
        }
        results
            .into_iter()
            .zip(seqs)
            .map(|((_, r), seq)| self.entry_line(*seq, r))
            .collect()
    }

    fn adopt(
        &self,
        held: &mut Held<'_>,
        seq: u64,
        line: &str,
    ) -> Result<AuditEntry, WorkspaceError> {
        held.adopt(line.trim_end_matches('\n'))
            .map_err(|e| self.diverged(seq, refusal(&e)))
    }

    /// Brings the local copy of the log up to the bucket's; returns the entries the state
    /// does not hold yet: those adopted now, and those a change that lost a race adopted
    /// before (so a retry judges the state as it now is, once they are rolled forward).
    pub fn sync(&self, audit: &AuditLog) -> Result<Vec<AuditEntry>, WorkspaceError> {
        if self.offline().is_some() {
            return Ok(Vec::new());
        }
        let mut held = audit.hold()?;
        let mut out = self.unrolled(audit, held.len())?;
        out.extend(self.pull(&mut held)?);
        Ok(out)
    }

    /// The entries of the local log (`len` of them) past the one the state was last rolled
    /// forward through; the log is read only when there are some (after a lost race).
    fn unrolled(&self, audit: &AuditLog, len: u64) -> Result<Vec<AuditEntry>, WorkspaceError> {
        let seen = self.seen();
        if seen >= len {
            return Ok(Vec::new());
        }
        Ok(audit
            .entries()?
            .into_iter()
            .filter(|e| e.seq > seen && e.seq <= len)
            .collect())
    }

    /// Appends one entry: to the bucket first, at the next free sequence number, then to the
    /// local copy. See the module's comment for races and lost answers.
    pub fn append(&self, audit: &AuditLog, new: &NewEntry) -> Result<AuditEntry, WorkspaceError> {
        if let Some(why) = self.offline() {
            return Err(WorkspaceError::Offline {
                url: self.url.to_string(),
                why,
            });
        }
        let mut held = audit.hold()?;
        let nonce = nonce()?;
        // What the state this change was judged on does not hold yet: entries adopted before
        // and not rolled forward, and those each attempt adopts.
        let mut unseen = self.unrolled(audit, held.len())?;
        for _ in 0..MAX_RACES {
            unseen.extend(self.pull(&mut held)?);
            // This console's own entries are in its state already (it wrote the state right
            // after each): only another's change of the same target makes the view stale.
            let own = self
                .own
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let mine = |e: &AuditEntry| e.nonce.as_ref().is_some_and(|n| own.contains(n));
            if let Some(other) = unseen.iter().find(|e| e.target == new.target && !mine(e)) {
                self.raced.store(true, Ordering::Relaxed);
                return Err(WorkspaceError::Raced {
                    target: new.target.clone(),
                    actor: other.actor.clone(),
                    action: other.action.clone(),
                    seq: other.seq,
                });
            }
            // Signed here when its person has a key; refused when it would not verify.
            let (entry, line) = held.seal(AuditEntry {
                host: Some(self.host.clone()),
                nonce: Some(nonce.clone()),
                ..held.next_entry(new.clone())
            })?;
            // A bigger one would be in the bucket and unreadable by every console, this one
            // too: the log would stop there for everyone.
            if line.len() > MAX_OBJECT {
                return Err(WorkspaceError::Refused(format!(
                    "{}: {} {}: its audit entry would take {} bytes, more than the {} MiB a \
                     console reads; nothing was recorded",
                    self.url,
                    new.action,
                    new.target,
                    line.len(),
                    MAX_OBJECT / (1024 * 1024)
                )));
            }
            let key = self.url.log_key(entry.seq);
            match self.put(key, line.clone().into_bytes(), "application/json") {
                Ok(_) => return self.adopt_own(&mut held, &entry, &line),
                // Taken: by another writer, or by this one when an answer was lost and the
                // request was sent again. The entry there says which.
                Err(Failure::Status { status: 412, .. }) => {}
                Err(f) => {
                    // No answer: the entry may or may not be there. Look before anything else.
                    match self.fetch_entry(entry.seq)? {
                        Some(there) if there == line => {
                            return self.adopt_own(&mut held, &entry, &line);
                        }
                        Some(_) => {}
                        None => {
                            return Err(unreachable(
                                &self.url,
                                &format!(
                                    "record {} {} (nothing was recorded)",
                                    new.action, new.target
                                ),
                                &f,
                            ));
                        }
                    }
                    continue;
                }
            }
            if let Some(there) = self.fetch_entry(entry.seq)?
                && is_own(&there, &nonce)
            {
                return self.adopt_own(&mut held, &entry, &there);
            }
        }
        Err(WorkspaceError::Refused(format!(
            "{}: {} {}: {MAX_RACES} other changes were recorded first, one after another; try \
             again",
            self.url, new.action, new.target
        )))
    }

    /// Every entry in the bucket, read in order from the first and checked to chain from the
    /// genesis hash and to be signed as its person's key requires, compared with this console's copy (`audit`) where both have it. The
    /// answer says how many entries the bucket holds and where it and the copy part, if they
    /// do; a broken chain in the bucket is an error naming the entry.
    pub fn verify_bucket(&self, audit: &AuditLog) -> Result<BucketCheck, WorkspaceError> {
        let local = audit.entries()?;
        let mut prev = crate::audit::GENESIS_HASH.to_owned();
        let mut seq = 0u64;
        let mut after: Option<String> = None;
        let mut differs: Option<u64> = None;
        // Each entry's signature too, as its people list stood before it.
        let mut people = crate::audit::keys::People::default();
        loop {
            let client = self.client.clone();
            let prefix = self.url.key("log/");
            let start = after.clone();
            let listing = block(async move { client.list(&prefix, start.as_deref(), 1000).await })?
                .map_err(|f| unreachable(&self.url, "list the log", &f))?;
            let seqs: Vec<u64> = listing
                .keys
                .iter()
                .filter_map(|k| seq_of_key(&self.url, k))
                .collect();
            for chunk in seqs.chunks(FETCH_AT_ONCE) {
                for (n, line) in chunk.iter().zip(self.fetch_many(chunk)?) {
                    seq += 1;
                    if *n != seq {
                        return Err(self.diverged(
                            seq,
                            format!("the bucket has no entry #{seq}; its next is #{n}"),
                        ));
                    }
                    let line = line.ok_or_else(|| {
                        self.diverged(seq, "listed but cannot be read".to_owned())
                    })?;
                    let line = line.trim_end_matches('\n');
                    let entry: AuditEntry = serde_json::from_str(line)
                        .map_err(|e| self.diverged(seq, format!("not a valid audit entry: {e}")))?;
                    if entry.seq != seq || entry.prev != prev {
                        return Err(self.diverged(
                            seq,
                            "does not link to the entry before it: the chain is broken".to_owned(),
                        ));
                    }
                    people
                        .admit(line, &entry)
                        .map_err(|why| self.diverged(seq, why))?;
                    prev = crate::sha256_hex(line.as_bytes());
                    if differs.is_none()
                        && local
                            .get(usize::try_from(seq - 1).unwrap_or(usize::MAX))
                            .is_some_and(|l| l != &entry)
                    {
                        differs = Some(seq);
                    }
                }
            }
            after = listing.keys.last().cloned();
            if !listing.truncated || after.is_none() {
                break;
            }
        }
        Ok(BucketCheck {
            url: self.url.to_string(),
            entries: seq,
            last_hash: prev,
            local_entries: local.len() as u64,
            differs_at: differs,
        })
    }

    fn adopt_own(
        &self,
        held: &mut Held<'_>,
        entry: &AuditEntry,
        line: &str,
    ) -> Result<AuditEntry, WorkspaceError> {
        let adopted = self.adopt(held, entry.seq, line)?;
        self.appended.fetch_add(1, Ordering::Relaxed);
        if let Some(nonce) = &adopted.nonce {
            self.own
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(nonce.clone());
        }
        // What this process recorded is what its state will hold.
        if self.seen.load(Ordering::Relaxed) + 1 == adopted.seq {
            self.mark_seen(adopted.seq);
        }
        Ok(adopted)
    }
}

/// What [`Shared::verify_bucket`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketCheck {
    pub url: String,
    /// Entries in the bucket, each chained to the one before.
    pub entries: u64,
    pub last_hash: String,
    /// Entries in this console's copy.
    pub local_entries: u64,
    /// The first entry where the bucket and the copy differ, if any.
    pub differs_at: Option<u64>,
}

impl BucketCheck {
    /// Whether the bucket's log and this console's copy are one log (the copy may lag).
    pub fn agrees(&self) -> bool {
        self.differs_at.is_none() && self.local_entries <= self.entries
    }
}

/// Moves the local workspace `from` into the bucket at `url`: its configuration, then every
/// entry of its log, verified first, each created with `If-None-Match: *` (a bucket that holds
/// a workspace already is refused, and nothing is written to it). Returns the entries moved.
pub fn push(from: &Path, url: &SharedUrl, access: Access) -> Result<u64, WorkspaceError> {
    let ws = super::Workspace::open(from)?;
    if ws.shared().is_some() {
        return Err(WorkspaceError::Refused(format!(
            "{}: already a shared workspace",
            ws.location()
        )));
    }
    ws.audit().verify()?;
    let config = std::fs::read(from.join(CONFIG_FILE)).map_err(|cause| WorkspaceError::Io {
        path: from.join(CONFIG_FILE),
        action: "read",
        cause,
    })?;
    let shared = Shared::new(url.clone(), access.endpoint)?;
    // The log first (a bucket without a configuration is no workspace yet, so nobody opens
    // it half moved), then the configuration, which is created only if there is none.
    if shared
        .fetch_config()
        .map_err(|f| unreachable(url, "read the configuration", &f))?
        .is_some()
    {
        return Err(WorkspaceError::AlreadyExists(PathBuf::from(
            url.to_string(),
        )));
    }
    let text = std::fs::read_to_string(ws.audit().path()).map_err(|cause| WorkspaceError::Io {
        path: ws.audit().path().to_owned(),
        action: "read",
        cause,
    })?;
    let mut moved = 0u64;
    for (n, line) in text.lines().enumerate() {
        let seq = n as u64 + 1;
        match shared.put(
            url.log_key(seq),
            line.as_bytes().to_vec(),
            "application/json",
        ) {
            Ok(_) => moved += 1,
            // Moved by an earlier push that stopped part way: the same bytes are fine.
            Err(Failure::Status { status: 412, .. }) => match shared.fetch_entry(seq)? {
                Some(there) if there == line => moved += 1,
                _ => {
                    return Err(WorkspaceError::Refused(format!(
                        "{url}: the bucket already holds another log (entry #{seq} differs); \
                         nothing more was written"
                    )));
                }
            },
            Err(f) => return Err(unreachable(url, &format!("write log entry #{seq}"), &f)),
        }
    }
    match shared.put(url.key(CONFIG_FILE), config, "application/toml") {
        Ok(_) => Ok(moved),
        Err(Failure::Status { status: 412, .. }) => Err(WorkspaceError::AlreadyExists(
            PathBuf::from(url.to_string()),
        )),
        Err(f) => Err(unreachable(url, "create the configuration", &f)),
    }
}

/// What others did, for a person who sees it happen: `entries` just adopted by a console of
/// `actor` on `host`, without that console's own. `None` when there are none.
pub fn others_did(entries: &[AuditEntry], actor: &str, host: &str) -> Option<String> {
    let others: Vec<&AuditEntry> = entries
        .iter()
        .filter(|e| !(e.actor == actor && e.host.as_deref().is_none_or(|h| h == host)))
        .filter(|e| !e.action.starts_with("task."))
        .collect();
    let first = others.first()?;
    let who = |e: &AuditEntry| match &e.host {
        Some(h) => format!("{} ({h})", e.actor),
        None => e.actor.clone(),
    };
    let what = |e: &AuditEntry| format!("{} {}", e.action.replace('.', " "), e.target);
    Some(match others.len() {
        1 => format!("{}: {}", who(first), what(first)),
        n => {
            let mut people: Vec<String> = others.iter().map(|e| who(e)).collect();
            people.sort();
            people.dedup();
            format!(
                "{n} changes by {}; the last: {}",
                people.join(", "),
                what(others[n - 1])
            )
        }
    })
}

/// Why an entry of the bucket was not adopted.
fn refusal(e: &AuditError) -> String {
    match e {
        AuditError::Signing(why) => format!("the bucket's entry is refused as a forgery: {why}"),
        e => format!("the bucket's entry does not extend the log this console verified: {e}"),
    }
}

/// Whether the entry line `there` is this writer's (its nonce).
fn is_own(there: &str, nonce: &str) -> bool {
    serde_json::from_str::<AuditEntry>(there.trim_end_matches('\n'))
        .is_ok_and(|e| e.nonce.as_deref() == Some(nonce))
}

/// The sequence number of a key of `url`'s log (`PREFIX/log/000000000123.json`); none for any
/// other key under it (a copy in `log/old/`, a `.tmp`).
fn seq_of_key(url: &SharedUrl, key: &str) -> Option<u64> {
    let name = key.strip_prefix(&url.key("log/"))?;
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// 128 random bits, hex.
fn nonce() -> Result<String, WorkspaceError> {
    Ok(crate::hex(&random16()?))
}

/// 128 random bits.
pub(super) fn random16() -> Result<[u8; 16], WorkspaceError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| WorkspaceError::Refused("no random numbers for a nonce".into()))?;
    Ok(bytes)
}

/// Opens the shared workspace at `url`: the configuration from the bucket (or the cache, when
/// the bucket cannot be reached: read-only), the log brought up to date and checked against
/// what this console verified before. Returns the cache folder and the connection.
pub(super) fn open(url: SharedUrl, access: Access) -> Result<(PathBuf, Shared), WorkspaceError> {
    let dir = url.cache_dir(&access.cache_root);
    let shared = Shared::new(url, access.endpoint)?;
    let config_path = dir.join(CONFIG_FILE);
    match shared.fetch_config() {
        Ok(Some(text)) => {
            super::Config::parse(&text, Path::new(&shared.url.key(CONFIG_FILE)))
                .map_err(WorkspaceError::Config)?;
            if std::fs::read_to_string(&config_path).ok().as_deref() != Some(text.as_str()) {
                store::write_atomic(&config_path, text.as_bytes())?;
            }
            write_marker(&dir, &shared.url)?;
        }
        Ok(None) => {
            return Err(WorkspaceError::Refused(format!(
                "{}: not a release workspace (no {CONFIG_FILE} there; is the bucket {:?} the \
                 right one?); create one with `release-console init {}`",
                shared.url, shared.url.bucket, shared.url
            )));
        }
        Err(f) if config_path.is_file() => {
            let why = format!("the bucket cannot be reached ({f})");
            tracing::warn!(
                "{}: opened read-only from {}: {why}",
                shared.url,
                dir.display()
            );
            *shared
                .offline
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
        }
        Err(f) => return Err(unreachable(&shared.url, "read the configuration", &f)),
    }
    std::fs::create_dir_all(dir.join("releases")).map_err(|cause| WorkspaceError::Io {
        path: dir.join("releases"),
        action: "create folder",
        cause,
    })?;
    if shared.offline().is_none() {
        let audit = AuditLog::in_workspace(&dir);
        let mut held = audit.hold()?;
        shared.check_last(&held)?;
        shared.pull(&mut held)?;
    }
    Ok((dir, shared))
}

/// Creates a shared workspace at `url` with `config_text`: the configuration is created in
/// the bucket only when it holds none (`If-None-Match: *`).
pub(super) fn create(
    url: SharedUrl,
    config_text: &str,
    access: Access,
) -> Result<PathBuf, WorkspaceError> {
    let dir = url.cache_dir(&access.cache_root);
    let shared = Shared::new(url, access.endpoint)?;
    let key = shared.url.key(CONFIG_FILE);
    match shared.put(key, config_text.as_bytes().to_vec(), "application/toml") {
        Ok(_) => {}
        Err(Failure::Status { status: 412, .. }) => {
            return Err(WorkspaceError::AlreadyExists(PathBuf::from(
                shared.url.to_string(),
            )));
        }
        Err(f) => return Err(unreachable(&shared.url, "create the configuration", &f)),
    }
    if dir.join("audit.log").exists() {
        // A cache of an earlier workspace under the same name: this one starts a new log.
        let stale = dir.with_extension(format!("replaced-{}", jiff::Timestamp::now().as_second()));
        std::fs::rename(&dir, &stale).map_err(|cause| WorkspaceError::Io {
            path: dir.clone(),
            action: "set aside the cache of a replaced workspace",
            cause,
        })?;
    }
    store::write_atomic(&dir.join(CONFIG_FILE), config_text.as_bytes())?;
    write_marker(&dir, &shared.url)?;
    Ok(dir)
}

fn write_marker(dir: &Path, url: &SharedUrl) -> Result<(), WorkspaceError> {
    let path = dir.join(MARKER);
    if store::read_json::<Marker>(&path)
        .ok()
        .flatten()
        .is_some_and(|m| &m.url == url)
    {
        return Ok(());
    }
    store::write_json(&path, &Marker { url: url.clone() })?;
    Ok(())
}

/// The bucket a cache folder mirrors, when `dir` is one.
pub(super) fn marked(dir: &Path) -> Option<SharedUrl> {
    store::read_json::<Marker>(&dir.join(MARKER))
        .ok()
        .flatten()
        .map(|m| m.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_bad_ones_named() {
        let u = SharedUrl::of_path(Path::new("s3://team-bucket/releases/wiretuner/"))
            .expect("an s3 url")
            .expect("valid");
        assert_eq!(u.bucket, "team-bucket");
        assert_eq!(u.prefix, "releases/wiretuner");
        assert_eq!(u.log_key(123), "releases/wiretuner/log/000000000123.json");
        assert_eq!(u.to_string(), "s3://team-bucket/releases/wiretuner");
        assert!(SharedUrl::of_path(Path::new("/tmp/ws")).is_none());
        for bad in [
            "s3://B",
            "s3://ok-bucket/../x",
            "s3://ok-bucket/a b",
            "s3://",
        ] {
            let e = SharedUrl::of_path(Path::new(bad))
                .expect("an s3 url")
                .expect_err(bad);
            assert!(e.to_string().starts_with(bad), "{e}");
        }
        let root = Path::new("/cache");
        assert_eq!(
            SharedUrl::of_path(Path::new("s3://abc"))
                .expect("url")
                .expect("ok")
                .cache_dir(root),
            Path::new("/cache/abc/_")
        );
    }

    #[test]
    fn log_keys_give_their_sequence_numbers_and_nothing_else() {
        let url = |u: &str| {
            SharedUrl::of_path(Path::new(u))
                .expect("an s3 url")
                .expect("valid")
        };
        let (p, top) = (url("s3://team/p"), url("s3://team"));
        assert_eq!(seq_of_key(&p, "p/log/000000000123.json"), Some(123));
        assert_eq!(seq_of_key(&top, "log/000000000001.json"), Some(1));
        assert_eq!(seq_of_key(&top, "log/123.json"), None);
        assert_eq!(seq_of_key(&top, "log/00000000012x.json"), None);
        assert_eq!(seq_of_key(&top, "log/000000000123.json.tmp"), None);
        assert_eq!(seq_of_key(&p, "p/log/old/000000000123.json"), None);
        assert_eq!(seq_of_key(&p, "q/log/000000000123.json"), None);
    }
}
