//! A workspace shared by a team through an S3 bucket (`s3://BUCKET/PREFIX`), with no server of
//! ours: the bucket's log is the truth, and each console keeps a verified copy of it.
//!
//! In the bucket, under the prefix:
//! - `release-console.toml`, the configuration;
//! - `log/000000000001.json`, ...: one object per audit entry, its exact line, created with
//!   `If-None-Match: *`, so a sequence number has one winner;
//! - `log/segments/000000000001-000000001024.jsonl`, ...: sealed segments, the exact lines of
//!   each whole range of [`SEGMENT_ENTRIES`] entries, a copy of those entries for a console
//!   that opens cold (a few large reads instead of one request per entry). The writer of a
//!   range's last entry seals it, with `If-None-Match: *`; a console that opens cold and finds
//!   a whole range unsealed seals it too. Their bytes follow from the entries, so two sealers
//!   race harmlessly: a 412 over the same bytes is success, over other bytes a forged segment.
//!   A segment is trusted no more than the entries: its lines are checked to chain from the
//!   last entry the console verified, and the last line read is compared with its entry
//!   object, which by the chain vouches for every line before it.
//!
//! On this machine, a cache folder per shared workspace (`cache_root()/<bucket>/<prefix>`) is an
//! ordinary workspace folder: the configuration as last read, `audit.log` (the bucket's entries,
//! the same bytes, each checked to extend the chain before it is adopted: the console's memory
//! of the last verified sequence and hash), and the state the entries roll forward into
//! (`Workspace::recover_with`), with a `.shared.json` marker naming the bucket, so opening the
//! folder itself opens the shared workspace again, never a local copy that would drift.
//!
//! A change is appended to the bucket first, at the next sequence number. A writer that loses
//! the race (412) reads the winners' entries and tries the next number; when one of them
//! changed the same target since this console last read the state, the change is refused
//! ([`WorkspaceError::Raced`]), naming who, so a precondition is never judged on a stale view.
//! An answer that is lost (a timeout, a dropped connection) is resolved by reading the entry
//! at that number: the writer's random nonce in it says whether it is its own. Nothing is
//! doubled, nothing is lost. The winners' entries read on the way are written to the local
//! copy with the change's own, one write and one fsync for them all.
//!
//! When the bucket cannot be reached, the workspace opens from its cache, read-only: every
//! change is refused with [`WorkspaceError::Offline`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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
/// The most entries read at once when catching up (windows grow to it from one).
const FETCH_AT_ONCE: usize = 64;
/// The most entries read at once by a change after a lost race: the winner's, and those that
/// may already follow it. How many it reads is learnt as it goes (see [`Shared::after_winner`]).
const PEEK: usize = 16;
/// Staged entries written at once while catching up.
const COMMIT_EVERY: u64 = 8192;
/// Entries per sealed segment of the log.
pub const SEGMENT_ENTRIES: u64 = 1024;
/// Where the sealed segments are, under the prefix.
const SEGMENTS_DIR: &str = "log/segments/";
/// The largest segment a console writes or reads (a range whose lines take more stays
/// unsealed, its entries read one by one).
const MAX_SEGMENT: usize = 16 * 1024 * 1024;
/// Segments read at once; the entry after the last of them vouches for them all.
const SEGMENTS_AT_ONCE: usize = 8;
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

    /// The key of the sealed segment of the entries from `first` (a range's first).
    pub fn segment_key(&self, first: u64) -> String {
        self.key(&format!(
            "{SEGMENTS_DIR}{first:012}-{:012}.jsonl",
            segment_last(first)
        ))
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

/// A conditional create of log entry `key` (number `seq`, `bytes`), answered by the server,
/// or, when the server holds it past `patience`, by reading the key: another's entry of that
/// number there means the number is taken (a create that raced it can only be refused:
/// answered as 412 without waiting); these very bytes there mean it was written (its answer
/// was merely slow); nothing there yet, or something that is no entry of that number (a
/// proxy's page sent as `200`, a torn body), and the write is waited for again, twice as long:
/// it may still land, and taken for a lost race it would be tried again at the same number
/// and find its own first try there as another's. Nothing is sent twice: the write still on
/// its way is left to the server, whose answer no longer matters. Returns the answer and
/// whether the server held the write.
async fn put_or_look(
    client: &Client,
    key: &str,
    seq: u64,
    bytes: Vec<u8>,
    patience: Duration,
) -> (Result<String, Failure>, bool) {
    let mine = bytes.clone();
    let mut put = std::pin::pin!(client.put_small(key, bytes, "application/json", Cond::Create));
    let mut wait = patience;
    let mut held = false;
    loop {
        if let Ok(answer) = tokio::time::timeout(wait, put.as_mut()).await {
            return (answer, held);
        }
        held = true;
        match client.get_small(key, None, MAX_OBJECT).await {
            Ok(Got::Object { bytes, etag, .. }) if bytes == mine => return (Ok(etag), held),
            Ok(Got::Object { bytes, .. }) if is_entry_of(&bytes, seq) => {
                return (
                    Err(Failure::Status {
                        status: 412,
                        code: "PreconditionFailed".to_owned(),
                        message: format!(
                            "{key} holds another entry (read while the server held this write)"
                        ),
                    }),
                    held,
                );
            }
            // Not there yet (or not readable, or no entry of this number): the write is
            // still on its way.
            _ => wait = wait.saturating_mul(2),
        }
    }
}

/// An open shared workspace's connection to its bucket.
#[derive(Debug)]
pub struct Shared {
    url: SharedUrl,
    pub(super) client: Client,
    /// The same bucket for blobs, whose transfers may take long (`blobs`).
    pub(super) blobs: Client,
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
    /// Entries this process adopted past `seen`, while the log is as it left it.
    unrolled: Mutex<Unrolled>,
    /// How many entries others recorded between this console's last two changes, as the
    /// second one found them: its next change reads that many along with its first try
    /// (whose answer tells whether it was caught up), rather than a round of reads before it.
    between_changes: AtomicUsize,
    /// How many entries followed a lost race's winner when this console last lost one: the
    /// next lost race reads the winner and that many after it (twice as many when all were
    /// there), up to [`PEEK`]. Each read past the log's end is a request every loser makes
    /// for every number: under many writers the server's time goes to them.
    after_winner: AtomicUsize,
    /// How long an entry's conditional `PUT` takes here when the server answers it at once
    /// (microseconds, a moving average; 0: none measured yet). A `PUT` not answered within a
    /// few times that is held by the server (SeaweedFS holds a create that races another on
    /// the same key for about a second before it answers 412): the number is read then, and
    /// when another's entry holds it the race is lost without waiting for the answer.
    put_micros: AtomicU64,
    /// What this console's reads and writes of entries cost (see [`Shared::costs`]).
    costs: Mutex<Costs>,
    host: String,
    /// Where this console's secret lives (`cache_root()/.console-key`), and the secret once
    /// read: its entries' nonces carry a tag made with it ([`Shared::is_mine`]).
    key_path: PathBuf,
    console_key: std::sync::OnceLock<Result<String, String>>,
}

/// What a console's reads and writes of log entries cost since it opened: requests by kind
/// and time by phase (see [`Shared::costs`]); a benchmark's breakdown of a change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Costs {
    /// Entries this console appended.
    pub appended: u64,
    /// `GET`s of log entries (catching up, before a change, after a lost race).
    pub reads: u64,
    /// Of which answered 404: past the log's end.
    pub reads_missing: u64,
    /// Conditional `PUT`s of entries.
    pub puts: u64,
    /// Of which answered 412: the number was taken.
    pub puts_taken: u64,
    /// Waits for a winner's entry that was refused to this console but not readable yet.
    pub waits: u64,
    /// `PUT`s the server held past a few times their usual time, whose number was read
    /// meanwhile ([`Shared::put_micros`]), and of those, the ones found taken by another's
    /// entry (the race lost without waiting for the answer).
    pub held: u64,
    pub held_taken: u64,
    pub wait_secs: f64,
    /// Time in those requests (reads at once counted once).
    pub request_secs: f64,
    /// Time writing adopted entries to the local log (write, fsync, head).
    pub commit_secs: f64,
    /// Time in [`Shared::append`], all of it.
    pub append_secs: f64,
}

impl Costs {
    /// What `self` counted past `before`.
    #[must_use]
    pub fn since(&self, before: &Self) -> Self {
        Self {
            appended: self.appended - before.appended,
            reads: self.reads - before.reads,
            reads_missing: self.reads_missing - before.reads_missing,
            puts: self.puts - before.puts,
            puts_taken: self.puts_taken - before.puts_taken,
            waits: self.waits - before.waits,
            held: self.held - before.held,
            held_taken: self.held_taken - before.held_taken,
            wait_secs: self.wait_secs - before.wait_secs,
            request_secs: self.request_secs - before.request_secs,
            commit_secs: self.commit_secs - before.commit_secs,
            append_secs: self.append_secs - before.append_secs,
        }
    }

    /// `self` and `other` added.
    #[must_use]
    pub fn plus(&self, other: &Self) -> Self {
        Self {
            appended: self.appended + other.appended,
            reads: self.reads + other.reads,
            reads_missing: self.reads_missing + other.reads_missing,
            puts: self.puts + other.puts,
            puts_taken: self.puts_taken + other.puts_taken,
            waits: self.waits + other.waits,
            held: self.held + other.held,
            held_taken: self.held_taken + other.held_taken,
            wait_secs: self.wait_secs + other.wait_secs,
            request_secs: self.request_secs + other.request_secs,
            commit_secs: self.commit_secs + other.commit_secs,
            append_secs: self.append_secs + other.append_secs,
        }
    }
}

/// Entries adopted and not rolled into the state yet ([`Shared::unrolled`]), as of the log's
/// length `len` (`None`: not known; the log is read).
#[derive(Debug, Default)]
struct Unrolled {
    len: Option<u64>,
    entries: Vec<AuditEntry>,
}

/// What [`Shared::pull_staged`] read.
#[derive(Debug, Default)]
struct Pulled {
    /// The entries staged, when kept.
    entries: Vec<AuditEntry>,
    /// The segments listed on the way.
    listed: Option<Listed>,
}

/// Segments listed from the range that begins at `from` on: the first entry of each.
#[derive(Debug)]
struct Listed {
    from: u64,
    firsts: Vec<u64>,
}

/// A bucket request that failed, as a [`WorkspaceError`] naming it.
pub(super) fn unreachable(url: &SharedUrl, what: &str, f: &Failure) -> WorkspaceError {
    WorkspaceError::Bucket {
        url: url.to_string(),
        message: format!("{what}: {f}"),
    }
}

impl Shared {
    fn new(url: SharedUrl, endpoint: Endpoint, cache_root: &Path) -> Result<Self, WorkspaceError> {
        let endpoint = Endpoint {
            bucket: url.bucket.clone(),
            ..endpoint
        };
        let client = Client::new(endpoint.clone(), REQUEST_TIMEOUT)
            .map_err(|e| WorkspaceError::Refused(format!("{url}: {e}")))?;
        let blobs = Client::new(endpoint, super::blobs::TRANSFER_TIMEOUT)
            .map_err(|e| WorkspaceError::Refused(format!("{url}: {e}")))?;
        Ok(Self {
            url,
            client,
            blobs,
            offline: Mutex::new(None),
            seen: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            raced: std::sync::atomic::AtomicBool::new(false),
            own: Mutex::new(std::collections::HashSet::new()),
            unrolled: Mutex::new(Unrolled::default()),
            between_changes: AtomicUsize::new(0),
            after_winner: AtomicUsize::new(0),
            put_micros: AtomicU64::new(0),
            costs: Mutex::new(Costs::default()),
            host: crate::os::host_name(),
            key_path: cache_root.join(".console-key"),
            console_key: std::sync::OnceLock::new(),
        })
    }

    /// This console's secret, made on first use (see [`Self::is_mine`]).
    fn console_key(&self) -> Result<&str, WorkspaceError> {
        self.console_key
            .get_or_init(|| console_key(&self.key_path))
            .as_deref()
            .map_err(|why| WorkspaceError::Refused(why.clone()))
    }

    /// The nonce of a new entry, number `seq` recording `action`: 128 random bits and a tag
    /// over them, the number and the action made with this console's secret, so that
    /// [`Self::is_mine`] knows its own entries again in any later process, and nobody without
    /// the secret (a bucket writer) makes an entry this console takes for its own, not even
    /// by copying a nonce of this console's (each entry in the bucket shows its nonce) into
    /// an entry of another number or action.
    fn nonce(&self, seq: u64, action: &str) -> Result<String, WorkspaceError> {
        let random = crate::hex(&random16()?);
        let tag = nonce_tag(self.console_key()?, &random, seq, action);
        Ok(format!("{random}{tag}"))
    }

    /// Whether entry number `seq`, recording `action` with `nonce`, was appended by this
    /// console (by any of its processes, the window's and the command line's alike): its tag
    /// is this console's for that number and action. An entry's actor and host say nothing
    /// here: whoever can write the bucket writes them.
    pub fn is_mine(&self, nonce: Option<&str>, seq: u64, action: &str) -> bool {
        let (Some(nonce), Ok(key)) = (nonce, self.console_key()) else {
            return false;
        };
        nonce
            .split_at_checked(32)
            .is_some_and(|(random, tag)| nonce_tag(key, random, seq, action) == tag)
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
        let seen = self.seen();
        lock(&self.unrolled).entries.retain(|e| e.seq > seen);
    }

    /// What this console's reads and writes of entries cost since it opened.
    pub fn costs(&self) -> Costs {
        *lock(&self.costs)
    }

    /// Notes entry reads that took `took`: `missing` of them answered 404.
    fn count_reads(&self, reads: usize, missing: usize, took: Duration) {
        let mut c = lock(&self.costs);
        c.reads += reads as u64;
        c.reads_missing += missing as u64;
        c.request_secs += took.as_secs_f64();
    }

    fn get(&self, key: String) -> Result<Got, Failure> {
        let client = self.client.clone();
        let started = Instant::now();
        let got = block(async move { client.get_small(&key, None, MAX_OBJECT).await })
            .map_err(|e| Failure::Network(e.to_string()))?;
        self.count_reads(
            1,
            usize::from(matches!(got, Ok(Got::Missing))),
            started.elapsed(),
        );
        got
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

    /// Writes `bytes` to `rel` under the prefix as the rendering of log entry `seq`, unless
    /// the object there renders a later one: every object written here starts with the line
    /// [`rendered_mark`] makes, and is replaced only with `If-Match` on the one that was read
    /// (or created with `If-None-Match: *`), so two consoles writing at once leave the newer
    /// page, never the older. For what a team opens in a browser (the local status page);
    /// the log stays the truth. Returns whether it was written.
    pub fn put_rendered(
        &self,
        rel: &str,
        seq: u64,
        bytes: &[u8],
        content_type: &'static str,
    ) -> Result<bool, WorkspaceError> {
        let key = self.url.key(rel);
        let mark = rendered_mark(seq);
        let mut body = mark.clone().into_bytes();
        body.extend_from_slice(bytes);
        for _ in 0..MAX_RACES {
            let got = self
                .get(key.clone())
                .map_err(|f| unreachable(&self.url, &format!("read {rel}"), &f))?;
            let etag = match &got {
                Got::Object { bytes, etag, .. } => {
                    if rendered_seq(bytes).is_some_and(|there| there >= seq) {
                        return Ok(false);
                    }
                    Some(etag.clone())
                }
                Got::Missing | Got::NotModified => None,
            };
            let client = self.client.clone();
            let (key, body) = (key.clone(), body.clone());
            let put = block(async move {
                let cond = etag.as_deref().map_or(Cond::Create, Cond::Match);
                client.put_small(&key, body, content_type, cond).await
            })
            .map_err(|e| Failure::Network(e.to_string()))
            .and_then(|r| r);
            match put {
                Ok(_) => return Ok(true),
                // Another console wrote it meanwhile: look again.
                Err(Failure::Status { status: 412, .. }) => {}
                Err(f) => return Err(unreachable(&self.url, &format!("write {rel}"), &f)),
            }
        }
        Err(WorkspaceError::Refused(format!(
            "{}: {rel} kept changing while it was written; not written",
            self.url
        )))
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

    /// Reads every entry the bucket holds past the local copy, in order, and stages each in
    /// `held`, checked to extend the chain; the caller commits (a long catch-up is committed
    /// as it goes). Returns the entries when `keep`, and the segments listed on the way, if
    /// any were.
    ///
    /// The first read is `first_width` entries at once (1: an idle poll is one request), then
    /// windows twice as wide up to [`FETCH_AT_ONCE`]. A console that holds nothing yet
    /// (`cold`), or that finds a whole window of the widest new (it is far behind), reads the
    /// log's sealed segments first: a few large reads instead of one request per entry.
    fn pull_staged(
        &self,
        held: &mut Held<'_>,
        first_width: usize,
        cold: bool,
        keep: bool,
    ) -> Result<Pulled, WorkspaceError> {
        let mut pulled = Pulled::default();
        if cold {
            self.adopt_segments(held, keep, &mut pulled)?;
        }
        let mut width = first_width.clamp(1, FETCH_AT_ONCE);
        loop {
            let next = held.len() + 1;
            let seqs: Vec<u64> = (next..next + width as u64).collect();
            // Up to the first missing one: the log ends there (a hole in the bucket's log
            // looks the same here; `workspace verify` names it).
            let lines: Vec<String> = self
                .fetch_many(&seqs)?
                .into_iter()
                .map_while(|l| l.map(|l| l.trim_end_matches('\n').to_owned()))
                .collect();
            let found = lines.len();
            if found > 0 {
                let entries = held
                    .stage_all(&lines)
                    .map_err(|e| self.diverged(tampered_line(&e).unwrap_or(next), refusal(&e)))?;
                self.took(next - 1, &entries, keep, &mut pulled);
                if held.staged() >= COMMIT_EVERY {
                    held.commit()?;
                }
            }
            if found < width {
                return Ok(pulled);
            }
            if width == FETCH_AT_ONCE && pulled.listed.is_none() {
                self.adopt_segments(held, keep, &mut pulled)?;
            }
            width = (width * 2).min(FETCH_AT_ONCE);
        }
    }

    /// Notes entries just staged after entry `after`: kept when `keep`, and remembered as
    /// not rolled into the state yet ([`Self::unrolled`]).
    fn took(&self, after: u64, entries: &[AuditEntry], keep: bool, pulled: &mut Pulled) {
        self.note_unrolled(after, entries, keep);
        if keep {
            pulled.entries.extend_from_slice(entries);
        }
    }

    /// Lists the sealed segments from the one that holds the entry after `held`'s last, and
    /// stages the lines of those that follow on one another from there, a few segments at a
    /// time (committed as they are): each segment must hold exactly its range's lines, each
    /// line must extend the one before it (from the last entry this console verified), and
    /// the last line of each few must be, byte for byte, the entry object of its sequence
    /// number in the bucket. By the chain, that one entry vouches for every line before it: a
    /// segment is trusted no more than the entries are. Anything else is refused, naming the
    /// segment's key, and nothing of it is written.
    fn adopt_segments(
        &self,
        held: &mut Held<'_>,
        keep: bool,
        pulled: &mut Pulled,
    ) -> Result<(), WorkspaceError> {
        let start = segment_first(held.len() + 1);
        let listed = self.list_segments(start)?;
        let usable: Vec<u64> = listed
            .iter()
            .copied()
            .enumerate()
            .take_while(|(i, first)| *first == start + *i as u64 * SEGMENT_ENTRIES)
            .map(|(_, first)| first)
            .collect();
        pulled.listed = Some(Listed {
            from: start,
            firsts: listed,
        });
        for chunk in usable.chunks(SEGMENTS_AT_ONCE) {
            let Some(&last_first) = chunk.last() else {
                break;
            };
            let pin_seq = segment_last(last_first);
            let last_key = self.url.segment_key(last_first);
            let (segments, pin) = self.fetch_segments(chunk, pin_seq)?;
            if segments.iter().any(Option::is_none) {
                // Listed, then gone: what it held is read entry by entry.
                break;
            }
            let mut lines: Vec<&str> = Vec::new();
            for (first, bytes) in chunk.iter().zip(segments.iter().flatten()) {
                let key = self.url.segment_key(*first);
                let seg = self.segment_lines(&key, *first, bytes)?;
                // A segment that begins at or before this console's last entry: its line for
                // that entry must be the one this console verified.
                let mine = held.len().saturating_sub(first - 1);
                let skip = usize::try_from(mine).unwrap_or(usize::MAX).min(seg.len());
                if skip > 0 && crate::sha256_hex(seg[skip - 1].as_bytes()) != held.last_hash() {
                    return Err(self.diverged(
                        held.len(),
                        format!(
                            "segment {key} differs from the log this console verified: its \
                             line for entry #{} is another entry",
                            held.len()
                        ),
                    ));
                }
                lines.extend(&seg[skip..]);
            }
            if lines.is_empty() {
                continue;
            }
            let Some(pin) = pin else {
                return Err(self.diverged(
                    pin_seq,
                    format!(
                        "segment {last_key} holds entry #{pin_seq}, which the bucket does not \
                         hold ({}): the segment is not of this log",
                        self.url.log_key(pin_seq)
                    ),
                ));
            };
            if lines.last().copied() != Some(pin.trim_end_matches('\n')) {
                return Err(self.diverged(
                    pin_seq,
                    format!(
                        "segment {last_key} disagrees with entry #{pin_seq} in the bucket ({}): \
                         the segment was forged, or the entry rewritten",
                        self.url.log_key(pin_seq)
                    ),
                ));
            }
            let after = held.len();
            let entries = held.stage_all(&lines).map_err(|e| {
                let seq = tampered_line(&e).unwrap_or(after + 1);
                self.diverged(
                    seq,
                    format!(
                        "segment {}: {}",
                        self.url.segment_key(segment_first(seq)),
                        refusal(&e)
                    ),
                )
            })?;
            self.took(after, &entries, keep, pulled);
            held.commit()?;
        }
        Ok(())
    }

    /// The first entries of the sealed segments whose first entry is `from` or later, in
    /// order. Keys under `log/segments/` not named as a segment of [`SEGMENT_ENTRIES`] are no
    /// segments (as keys under `log/` not named as an entry are no entries).
    fn list_segments(&self, from: u64) -> Result<Vec<u64>, WorkspaceError> {
        let prefix = self.url.key(SEGMENTS_DIR);
        // Every key of a segment from `from` on sorts after this one.
        let mut after = Some(self.url.key(&format!("{SEGMENTS_DIR}{from:012}")));
        let mut firsts = Vec::new();
        loop {
            let client = self.client.clone();
            let (p, start) = (prefix.clone(), after.clone());
            let listing = block(async move { client.list(&p, start.as_deref(), 1000).await })?
                .map_err(|f| unreachable(&self.url, "list the log's segments", &f))?;
            firsts.extend(
                listing
                    .keys
                    .iter()
                    .filter_map(|k| segment_of_key(&self.url, k)),
            );
            after = listing.keys.last().cloned();
            if !listing.truncated || after.is_none() {
                break;
            }
        }
        firsts.sort_unstable();
        firsts.dedup();
        Ok(firsts)
    }

    /// The segments of `firsts` read at once, with entry `pin`; `None` for one the bucket does
    /// not hold. A segment over [`MAX_SEGMENT`] is refused, naming it.
    #[expect(
        clippy::type_complexity,
        reason = "the segments' bytes and the entry that vouches for them, read together"
    )]
    fn fetch_segments(
        &self,
        firsts: &[u64],
        pin: u64,
    ) -> Result<(Vec<Option<Vec<u8>>>, Option<String>), WorkspaceError> {
        let client = self.client.clone();
        let keys: Vec<String> = firsts.iter().map(|f| self.url.segment_key(*f)).collect();
        let pin_key = self.url.log_key(pin);
        let (segments, pin_got) = block(async move {
            let mut set = tokio::task::JoinSet::new();
            for (i, key) in keys.into_iter().enumerate() {
                let client = client.clone();
                set.spawn(async move {
                    let read = read_segment(&client, &key).await;
                    (i, key, read)
                });
            }
            let pin_got = client.get_small(&pin_key, None, MAX_OBJECT).await;
            let mut out = Vec::new();
            while let Some(done) = set.join_next().await {
                if let Ok(r) = done {
                    out.push(r);
                }
            }
            out.sort_by_key(|(i, _, _)| *i);
            (out, pin_got)
        })?;
        if segments.len() != firsts.len() {
            return Err(WorkspaceError::Refused(format!(
                "{}: a read of the log's segments stopped",
                self.url
            )));
        }
        let mut out = Vec::with_capacity(segments.len());
        for ((_, key, read), first) in segments.into_iter().zip(firsts) {
            match read.map_err(|f| unreachable(&self.url, &format!("read segment {key}"), &f))? {
                SegmentRead::Bytes(bytes) => out.push(Some(bytes)),
                SegmentRead::Missing => out.push(None),
                SegmentRead::TooLarge => {
                    return Err(self.diverged(
                        *first,
                        format!(
                            "segment {key} is larger than the {} MiB a segment may take: \
                             refused (no console writes one that large)",
                            MAX_SEGMENT / (1024 * 1024)
                        ),
                    ));
                }
            }
        }
        let pin = self.entry_line(pin, pin_got)?;
        Ok((out, pin))
    }

    /// Segment `key`'s lines (without newlines): exactly the [`SEGMENT_ENTRIES`] lines of the
    /// entries from `first` on, each one line of UTF-8 text ending with its newline; else
    /// the refusal naming the key. The lines' chain is checked when they are staged.
    fn segment_lines<'b>(
        &self,
        key: &str,
        first: u64,
        bytes: &'b [u8],
    ) -> Result<Vec<&'b str>, WorkspaceError> {
        let refuse = |what: String| self.diverged(first, format!("segment {key} {what}"));
        let text = std::str::from_utf8(bytes).map_err(|_| refuse("is not UTF-8 text".into()))?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| refuse("does not end with a whole line".into()))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() as u64 != SEGMENT_ENTRIES {
            return Err(refuse(format!(
                "holds {} lines; a segment holds the {SEGMENT_ENTRIES} entries #{first} to #{}",
                lines.len(),
                segment_last(first)
            )));
        }
        Ok(lines)
    }

    /// Seals the range of [`SEGMENT_ENTRIES`] entries from `first` with their `lines` (the
    /// bucket's, as this console verified them): created only where there is none
    /// (`If-None-Match: *`). A segment there already is fine when it holds the same bytes
    /// (another console sealed it) and refused, naming it, when it does not. Returns whether
    /// the bucket now holds it; a range whose lines take more than [`MAX_SEGMENT`] is left
    /// unsealed (its entries are read one by one).
    fn seal(&self, first: u64, lines: &[String]) -> Result<bool, WorkspaceError> {
        if lines.len() as u64 != SEGMENT_ENTRIES {
            return Ok(false);
        }
        let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        if bytes.len() > MAX_SEGMENT {
            return Ok(false);
        }
        let key = self.url.segment_key(first);
        match self.put(key.clone(), bytes.clone(), "application/x-ndjson") {
            Ok(_) => Ok(true),
            Err(Failure::Status { status: 412, .. }) => {
                let client = self.client.clone();
                let k = key.clone();
                let there = block(async move { read_segment(&client, &k).await })?
                    .map_err(|f| unreachable(&self.url, &format!("read segment {key}"), &f))?;
                match there {
                    SegmentRead::Bytes(b) if b == bytes => Ok(true),
                    SegmentRead::Missing => Ok(false),
                    SegmentRead::Bytes(_) | SegmentRead::TooLarge => Err(self.diverged(
                        first,
                        format!(
                            "segment {key} in the bucket is not entries #{first} to #{} as \
                             this console verified them: a forged segment, or another log's",
                            segment_last(first)
                        ),
                    )),
                }
            }
            Err(f) => Err(unreachable(&self.url, &format!("write segment {key}"), &f)),
        }
    }

    /// Seals the ranges this console holds whole that `listed` (a listing from its `from` on)
    /// showed without a segment: a sealing console that stopped before it sealed, or a log
    /// from before segments. A bucket this console may not write to (a read-only key) is
    /// said in the process log, once; a segment that differs from the entries is an error.
    fn seal_missing(&self, held: &mut Held<'_>, listed: &Listed) -> Result<u64, WorkspaceError> {
        let whole = held.len() / SEGMENT_ENTRIES * SEGMENT_ENTRIES;
        let missing: Vec<u64> = (listed.from..=whole)
            .step_by(usize::try_from(SEGMENT_ENTRIES).unwrap_or(usize::MAX))
            .filter(|f| segment_last(*f) <= whole && listed.firsts.binary_search(f).is_err())
            .collect();
        let Some(&oldest) = missing.first() else {
            return Ok(0);
        };
        let tail = held.last_lines(held.len() - oldest + 1)?;
        let mut sealed = 0;
        for first in missing {
            let at = usize::try_from(first - oldest).unwrap_or(usize::MAX);
            let end = at.saturating_add(usize::try_from(SEGMENT_ENTRIES).unwrap_or(0));
            let Some(lines) = tail.get(at..end) else {
                break;
            };
            match self.seal(first, lines) {
                Ok(true) => sealed += 1,
                Ok(false) => {}
                Err(e @ WorkspaceError::Diverged { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!("{}: the log's segments were not sealed: {e}", self.url);
                    break;
                }
            }
        }
        Ok(sealed)
    }

    /// Entries `seqs` read at once, in order.
    fn fetch_many(&self, seqs: &[u64]) -> Result<Vec<Option<String>>, WorkspaceError> {
        if let [seq] = seqs {
            return Ok(vec![self.fetch_entry(*seq)?]);
        }
        let client = self.client.clone();
        let keys: Vec<String> = seqs.iter().map(|s| self.url.log_key(*s)).collect();
        let started = Instant::now();
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
        self.count_reads(
            results.len(),
            results
                .iter()
                .filter(|(_, r)| matches!(r, Ok(Got::Missing)))
                .count(),
            started.elapsed(),
        );
        results
            .into_iter()
            .zip(seqs)
            .map(|((_, r), seq)| self.entry_line(*seq, r))
            .collect()
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
        let pulled = self.pull_staged(&mut held, 1, false, true)?;
        held.commit()?;
        out.extend(pulled.entries);
        Ok(out)
    }

    /// The entries of the local log (`len` of them) past the one the state was last rolled
    /// forward through. This process remembers those it adopted; the log is read only when
    /// another process changed it meanwhile (a window and a command on one cache folder).
    fn unrolled(&self, audit: &AuditLog, len: u64) -> Result<Vec<AuditEntry>, WorkspaceError> {
        let seen = self.seen();
        if seen >= len {
            return Ok(Vec::new());
        }
        {
            let memory = lock(&self.unrolled);
            if memory.len == Some(len) {
                return Ok(memory
                    .entries
                    .iter()
                    .filter(|e| e.seq > seen)
                    .cloned()
                    .collect());
            }
        }
        let entries: Vec<AuditEntry> = audit
            .entries()?
            .into_iter()
            .filter(|e| e.seq > seen && e.seq <= len)
            .collect();
        *lock(&self.unrolled) = Unrolled {
            len: Some(len),
            entries: entries.clone(),
        };
        Ok(entries)
    }

    /// Remembers `entries`, staged after entry `after`, as not rolled into the state yet;
    /// forgets what it remembered when they do not follow it (or are not `kept`: a long
    /// catch-up, after which the state is rolled forward as a whole).
    fn note_unrolled(&self, after: u64, entries: &[AuditEntry], kept: bool) {
        let seen = self.seen();
        let mut memory = lock(&self.unrolled);
        if kept && (memory.len == Some(after) || seen >= after) {
            memory.entries.retain(|e| e.seq > seen);
            memory.entries.extend_from_slice(entries);
            memory.len = Some(after + entries.len() as u64);
        } else {
            *memory = Unrolled::default();
        }
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
        let started = Instant::now();
        let mut held = audit.hold()?;
        let appended = self.append_held(audit, &mut held, new);
        lock(&self.costs).append_secs += started.elapsed().as_secs_f64();
        if appended.is_err() {
            // Others' entries read on the way are the bucket's log: kept, though this change
            // was not recorded (a retry builds on them).
            if let Err(e) = held.commit() {
                tracing::warn!("{}: keeping others' entries: {e}", self.url);
            }
        }
        appended
    }

    fn append_held(
        &self,
        audit: &AuditLog,
        held: &mut Held<'_>,
        new: &NewEntry,
    ) -> Result<AuditEntry, WorkspaceError> {
        // What the state this change was judged on does not hold yet: entries adopted before
        // and not rolled forward, and those read on the way. Others' entries read on the way
        // are staged and written with this change's own: one write and one fsync.
        let mut unseen = self.unrolled(audit, held.len())?;
        // Answers of 412 for a number whose entry cannot be read yet (the winner's write still
        // in flight at the server), in a row.
        let mut unseen_winner = 0u32;
        // The first try is made at the number after this console's last entry, with no round
        // of reads before it: when the number is free, nobody recorded anything since, so the
        // state this change was judged on is the log's. The entries others recorded since
        // this console's last change are read along with the try (as many as last time):
        // when the number is taken, they are what the next try needs, read in the same round.
        let mut first_try = true;
        for _ in 0..MAX_RACES {
            // This console's own entries are in its state already (it wrote the state right
            // after each): only another's change of the same target makes the view stale.
            let own = lock(&self.own).clone();
            // A nonce of this console's copied into another entry is not this console's.
            let mine = |e: &AuditEntry| {
                e.nonce.as_ref().is_some_and(|n| own.contains(n))
                    && self.is_mine(e.nonce.as_deref(), e.seq, &e.action)
            };
            if let Some(other) = unseen.iter().find(|e| same_subject(e, new) && !mine(e)) {
                self.raced.store(true, Ordering::Relaxed);
                return Err(WorkspaceError::Raced {
                    target: new.target.clone(),
                    actor: other.actor.clone(),
                    action: other.action.clone(),
                    seq: other.seq,
                });
            }
            // Signed here when its person has a key; refused when it would not verify. Its
            // nonce is bound to its number: each try has its own.
            let next = held.next_entry(new.clone());
            let nonce = self.nonce(next.seq, &next.action)?;
            let (entry, line) = held.seal(AuditEntry {
                host: Some(self.host.clone()),
                nonce: Some(nonce.clone()),
                ..next
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
            let along = if first_try {
                self.between_changes.load(Ordering::Relaxed)
            } else {
                (self.after_winner.load(Ordering::Relaxed) + 1).min(PEEK)
            };
            let (put, read_along) = self.try_entry(entry.seq, &line, along)?;
            match put {
                Ok(_) => {
                    if first_try {
                        // Nobody recorded anything since this console's last change.
                        self.between_changes.store(0, Ordering::Relaxed);
                    }
                    return self.adopt_own(held, &entry, &line);
                }
                // Taken: by another writer, or by this one when an answer was lost and the
                // request was sent again. The entry there says which.
                Err(Failure::Status { status: 412, .. }) => {}
                Err(f) => {
                    // No answer: the entry may or may not be there. Look before anything else.
                    match self.fetch_entry(entry.seq)? {
                        Some(there) if there == line => {
                            return self.adopt_own(held, &entry, &line);
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
                }
            }
            // Another's entry holds the number (or this one's, whose answer was lost). The
            // reads made with the try hold it, unless they were answered before it was
            // written: then read it, and those that followed the winner last time, now.
            let (lines, width) = if read_along.is_empty() {
                let width = (self.after_winner.load(Ordering::Relaxed) + 1).min(PEEK);
                let seqs: Vec<u64> = (entry.seq..entry.seq + width as u64).collect();
                let lines: Vec<String> = self
                    .fetch_many(&seqs)?
                    .into_iter()
                    .map_while(|l| l.map(|l| l.trim_end_matches('\n').to_owned()))
                    .collect();
                (lines, width)
            } else {
                (read_along, along)
            };
            let Some(first) = lines.first() else {
                // Refused, yet not there: the winner's write is still in flight at the server
                // (or moto's answer to a write racing a delete). Asked again at once, the
                // same number is refused again within that moment: wait a little longer each
                // time, so the attempts are not spent before the entry can be read.
                unseen_winner += 1;
                let wait = Duration::from_millis(10 * u64::from(unseen_winner.min(20)));
                std::thread::sleep(wait);
                let mut c = lock(&self.costs);
                c.waits += 1;
                c.wait_secs += wait.as_secs_f64();
                first_try = false;
                continue;
            };
            if is_own(first, &nonce) {
                let first = first.clone();
                return self.adopt_own(held, &entry, &first);
            }
            unseen_winner = 0;
            // All there: more may follow. The first try's reads learn how many others record
            // between two changes of this console's, a later one's how many follow a winner.
            let all = lines.len() == width;
            if first_try {
                self.between_changes.store(
                    if all {
                        (2 * lines.len()).min(FETCH_AT_ONCE)
                    } else {
                        lines.len()
                    },
                    Ordering::Relaxed,
                );
            } else {
                let after = lines.len() - 1;
                self.after_winner.store(
                    if all { (2 * after).max(1) } else { after },
                    Ordering::Relaxed,
                );
            }
            let after = held.len();
            let entries = held
                .stage_all(&lines)
                .map_err(|e| self.diverged(tampered_line(&e).unwrap_or(entry.seq), refusal(&e)))?;
            self.note_unrolled(after, &entries, true);
            unseen.extend(entries);
            // Far behind (every entry read was there): catch up in growing rounds of reads,
            // not one try per round.
            if all && first_try {
                unseen.extend(
                    self.pull_staged(held, 2 * lines.len(), false, true)?
                        .entries,
                );
            }
            first_try = false;
        }
        Err(WorkspaceError::Refused(format!(
            "{}: {} {}: {MAX_RACES} other changes were recorded first, one after another; try \
             again",
            self.url, new.action, new.target
        )))
    }

    /// Puts log entry `seq`'s line (created only if the number is free) and, in the same
    /// round, reads `along` entries from `seq` on: when the number is taken, they are the
    /// winner's and those after it. The lines read are those up to the first missing one;
    /// a read that failed counts as missing (it is read again when needed).
    fn try_entry(
        &self,
        seq: u64,
        line: &str,
        along: usize,
    ) -> Result<(Result<String, Failure>, Vec<String>), WorkspaceError> {
        let client = self.client.clone();
        let key = self.url.log_key(seq);
        let keys: Vec<String> = (seq..seq + along as u64)
            .map(|s| self.url.log_key(s))
            .collect();
        let bytes = line.as_bytes().to_vec();
        // A few times the usual answer, and at least a few milliseconds (a first write, with
        // nothing measured, waits a tenth of a second).
        let usual = self.put_micros.load(Ordering::Relaxed);
        let patience = if usual == 0 {
            Duration::from_millis(100)
        } else {
            Duration::from_micros(4 * usual).max(Duration::from_millis(4))
        };
        let started = Instant::now();
        let (put, held, got) = block(async move {
            let mut reads = tokio::task::JoinSet::new();
            for (i, key) in keys.into_iter().enumerate() {
                let client = client.clone();
                reads.spawn(async move { (i, client.get_small(&key, None, MAX_OBJECT).await) });
            }
            let (put, held) = put_or_look(&client, &key, seq, bytes, patience).await;
            let mut got = Vec::new();
            while let Some(done) = reads.join_next().await {
                if let Ok(r) = done {
                    got.push(r);
                }
            }
            got.sort_by_key(|(i, _)| *i);
            (put, held, got)
        })?;
        let took = started.elapsed();
        if !held && matches!(put, Ok(_) | Err(Failure::Status { status: 412, .. })) {
            // Learnt from writes the server answered at once (with the reads made along,
            // which the answer waits for: the round's time is what a try costs).
            let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            let before = self.put_micros.load(Ordering::Relaxed);
            let avg = if before == 0 {
                us
            } else {
                (3 * before + us) / 4
            };
            self.put_micros.store(avg, Ordering::Relaxed);
        }
        {
            let mut c = lock(&self.costs);
            c.held += u64::from(held);
            c.held_taken +=
                u64::from(held && matches!(put, Err(Failure::Status { status: 412, .. })));
            c.puts += 1;
            c.puts_taken += u64::from(matches!(put, Err(Failure::Status { status: 412, .. })));
            c.reads += got.len() as u64;
            c.reads_missing += got
                .iter()
                .filter(|(_, r)| matches!(r, Ok(Got::Missing)))
                .count() as u64;
            c.request_secs += took.as_secs_f64();
        }
        let mut lines = Vec::new();
        for (n, (i, r)) in got.into_iter().enumerate() {
            // A read lost to the join is a gap: the lines stop there.
            if i != n {
                break;
            }
            match self.entry_line(seq + i as u64, r) {
                Ok(Some(l)) => lines.push(l.trim_end_matches('\n').to_owned()),
                Ok(None) | Err(_) => break,
            }
        }
        Ok((put, lines))
    }

    /// Every entry in the bucket, read in order from the first and checked to chain from the
    /// genesis hash and to be signed as its person's key requires, compared with this
    /// console's copy (`audit`) where both have it, and every
    /// sealed segment compared with the entries it holds. The answer says how many entries the
    /// bucket holds and where it and the copy part, if they do, and which segments are not
    /// their entries' bytes; a broken chain in the bucket is an error naming the entry.
    pub fn verify_bucket(&self, audit: &AuditLog) -> Result<BucketCheck, WorkspaceError> {
        use sha2::Digest as _;
        let local = audit.entries()?;
        let mut prev = crate::audit::GENESIS_HASH.to_owned();
        let mut seq = 0u64;
        let mut after: Option<String> = None;
        let mut differs: Option<u64> = None;
        // The SHA-256 of each whole range's lines, as its segment would hold them.
        let mut ranges = std::collections::BTreeMap::<u64, Vec<u8>>::new();
        let mut range = sha2::Sha256::new();
        let mut segments: Vec<u64> = Vec::new();
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
            segments.extend(
                listing
                    .keys
                    .iter()
                    .filter_map(|k| segment_of_key(&self.url, k)),
            );
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
                    range.update(line.as_bytes());
                    range.update(b"\n");
                    if seq.is_multiple_of(SEGMENT_ENTRIES) {
                        ranges.insert(segment_first(seq), range.finalize_reset().to_vec());
                    }
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
        let mut segments_differ = Vec::new();
        let mut sealed = 0u64;
        for first in segments {
            let key = self.url.segment_key(first);
            let client = self.client.clone();
            let k = key.clone();
            let read = block(async move { read_segment(&client, &k).await })?
                .map_err(|f| unreachable(&self.url, &format!("read segment {key}"), &f))?;
            match read {
                SegmentRead::Bytes(bytes)
                    if ranges
                        .get(&first)
                        .is_some_and(|h| *h == sha2::Sha256::digest(&bytes).to_vec()) =>
                {
                    sealed += 1;
                }
                // Removed since it was listed.
                SegmentRead::Missing => {}
                SegmentRead::Bytes(_) | SegmentRead::TooLarge => segments_differ.push(key),
            }
        }
        Ok(BucketCheck {
            url: self.url.to_string(),
            entries: seq,
            last_hash: prev,
            local_entries: local.len() as u64,
            differs_at: differs,
            segments: sealed,
            unsealed: (ranges.len() as u64).saturating_sub(sealed),
            segments_differ,
        })
    }

    /// Writes this console's own entry, just stored in the bucket at its number, after the
    /// others' entries staged before it: one write and one fsync. The writer of a range's
    /// last entry seals the range (see [`Self::seal`]); a seal that fails is said in the
    /// process log and leaves the change recorded (a console that opens cold seals it later).
    fn adopt_own(
        &self,
        held: &mut Held<'_>,
        entry: &AuditEntry,
        line: &str,
    ) -> Result<AuditEntry, WorkspaceError> {
        let after = held.len();
        let adopted = held
            .stage(line.trim_end_matches('\n'))
            .map_err(|e| self.diverged(entry.seq, refusal(&e)))?;
        let started = Instant::now();
        held.commit()?;
        {
            let mut c = lock(&self.costs);
            c.commit_secs += started.elapsed().as_secs_f64();
            c.appended += 1;
        }
        self.note_unrolled(after, std::slice::from_ref(&adopted), true);
        self.appended.fetch_add(1, Ordering::Relaxed);
        if let Some(nonce) = &adopted.nonce {
            lock(&self.own).insert(nonce.clone());
        }
        // What this process recorded is what its state will hold.
        if self.seen.load(Ordering::Relaxed) + 1 == adopted.seq {
            self.mark_seen(adopted.seq);
        }
        if adopted.seq.is_multiple_of(SEGMENT_ENTRIES) {
            let first = segment_first(adopted.seq);
            let sealed = held
                .last_lines(SEGMENT_ENTRIES)
                .map_err(WorkspaceError::from)
                .and_then(|lines| self.seal(first, &lines));
            if let Err(e) = sealed {
                tracing::error!(
                    "{}: entry #{} was recorded, but segment {} was not sealed: {e}",
                    self.url,
                    adopted.seq,
                    self.url.segment_key(first)
                );
            }
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
    /// Sealed segments in the bucket, each the same bytes as the entries it holds.
    pub segments: u64,
    /// Whole ranges of entries with no segment (a console that opens cold reads them one by
    /// one; the next such console seals them).
    pub unsealed: u64,
    /// Segments that are not the bytes of the entries they name (forged, another log's, or
    /// past the log's end), by key: a console that opens cold refuses them.
    pub segments_differ: Vec<String>,
}

impl BucketCheck {
    /// Whether the bucket's log and this console's copy are one log (the copy may lag), and
    /// every segment is its entries.
    pub fn agrees(&self) -> bool {
        self.differs_at.is_none()
            && self.local_entries <= self.entries
            && self.segments_differ.is_empty()
    }
}

/// The first line of an object [`Shared::put_rendered`] writes: which entry it renders.
pub fn rendered_mark(seq: u64) -> String {
    format!("<!-- release-console: rendered from audit entry #{seq} -->\n")
}

/// The entry an object [`Shared::put_rendered`] wrote renders, from its first line.
fn rendered_seq(bytes: &[u8]) -> Option<u64> {
    let line = bytes.split(|b| *b == b'\n').next()?;
    std::str::from_utf8(line)
        .ok()?
        .strip_prefix("<!-- release-console: rendered from audit entry #")?
        .strip_suffix(" -->")?
        .parse()
        .ok()
}

/// What [`push`] moved, and what it could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pushed {
    /// Log entries now in the bucket.
    pub entries: u64,
    /// The files and folders the configuration names by a relative path that are in the
    /// pushed folder but do not travel with the bucket (only the configuration and the log
    /// do): `([section] key, path)`. Each console looks for them in its own copy, where they
    /// are not until someone puts them there.
    pub not_carried: Vec<(String, String)>,
}

/// The configuration's relative paths that `from` holds and a shared workspace's copy would
/// not (see [`Pushed::not_carried`]); the packaging files every copy is given are left out.
fn not_carried(from: &Path, config: &super::Config) -> Vec<(String, String)> {
    config
        .relative_paths()
        .into_iter()
        .filter(|(_, path)| !super::PACKAGING.iter().any(|(rel, ..)| rel == path))
        .filter(|(_, path)| std::fs::symlink_metadata(from.join(path)).is_ok())
        .map(|(key, path)| (key.to_owned(), path.to_owned()))
        .collect()
}

/// Moves the local workspace `from` into the bucket at `url`: its configuration, then every
/// entry of its log, verified first, each created with `If-None-Match: *` (a bucket that holds
/// a workspace already is refused, and nothing is written to it). Returns the entries moved
/// and the configured files that stay behind: they are said, not refused, because what
/// the configuration names there (a certificate, a clone, stand-ins) is each machine's to
/// provide, and the gates that read them say on each console what is missing.
pub fn push(from: &Path, url: &SharedUrl, access: Access) -> Result<Pushed, WorkspaceError> {
    let ws = super::Workspace::open(from)?;
    if ws.shared().is_some() {
        return Err(WorkspaceError::Refused(format!(
            "{}: already a shared workspace",
            ws.location()
        )));
    }
    // The bucket would refuse to open with them (see [`open`]): say so before writing.
    if !ws.config.tools.is_empty() {
        let names: Vec<&str> = ws.config.tools.keys().map(String::as_str).collect();
        return Err(WorkspaceError::Refused(format!(
            "{}: its {CONFIG_FILE} sets [tools] ({}), which a team's shared configuration may \
             not (which program runs is each machine's to say); remove them first (Settings > \
             Tools), nothing was written to {url}",
            from.display(),
            names.join(", ")
        )));
    }
    ws.audit().verify()?;
    let config = std::fs::read(from.join(CONFIG_FILE)).map_err(|cause| WorkspaceError::Io {
        path: from.join(CONFIG_FILE),
        action: "read",
        cause,
    })?;
    let shared = Shared::new(url.clone(), access.endpoint, &access.cache_root)?;
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
    // Sealed, so a console that opens it cold reads a few segments, not every entry.
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (n, range) in lines
        .chunks(usize::try_from(SEGMENT_ENTRIES).unwrap_or(usize::MAX))
        .enumerate()
    {
        shared.seal(n as u64 * SEGMENT_ENTRIES + 1, range)?;
    }
    match shared.put(url.key(CONFIG_FILE), config, "application/toml") {
        Ok(_) => Ok(Pushed {
            entries: moved,
            not_carried: not_carried(from, &ws.config),
        }),
        Err(Failure::Status { status: 412, .. }) => Err(WorkspaceError::AlreadyExists(
            PathBuf::from(url.to_string()),
        )),
        Err(f) => Err(unreachable(url, "create the configuration", &f)),
    }
}

/// What others did, for a person who sees it happen: `entries` just adopted by a console of
/// `actor` on `host`, without that console's own. `None` when there are none.
/// Each change is said in words ([`Workspace::in_words`]: `ticked "Validate staging" (0.1.0)`),
/// as this console says its own.
pub fn others_did(
    ws: &super::Workspace,
    entries: &[AuditEntry],
    actor: &str,
    host: &str,
) -> Option<String> {
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
    let what = |e: &AuditEntry| ws.in_words(e);
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
        AuditError::Signing(why) | AuditError::Forged { why, .. } => {
            format!("the bucket's entry is refused as a forgery: {why}")
        }
        e => format!("the bucket's entry does not extend the log this console verified: {e}"),
    }
}

/// Whether entry `e` changed what `new` changes ([`crate::audit::event::subject`]), so that
/// `new`, judged without it, was judged on a stale view.
fn same_subject(e: &AuditEntry, new: &NewEntry) -> bool {
    use crate::audit::event::subject;
    subject(&e.action, &e.target, &e.after) == subject(&new.action, &new.target, &new.after)
}

/// Whether `bytes` are an audit entry numbered `seq` (a line of the log, whoever wrote it).
fn is_entry_of(bytes: &[u8], seq: u64) -> bool {
    serde_json::from_slice::<AuditEntry>(bytes.trim_ascii_end()).is_ok_and(|e| e.seq == seq)
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

/// The first entry of the segment range that holds entry `seq` (1-based).
fn segment_first(seq: u64) -> u64 {
    seq.saturating_sub(1) / SEGMENT_ENTRIES * SEGMENT_ENTRIES + 1
}

/// The last entry of the segment range that begins at `first`.
fn segment_last(first: u64) -> u64 {
    first + SEGMENT_ENTRIES - 1
}

/// The first entry of the segment named by `key` (`PREFIX/log/segments/<first>-<last>.jsonl`,
/// a range of [`SEGMENT_ENTRIES`] that begins where ranges begin); none for any other key.
fn segment_of_key(url: &SharedUrl, key: &str) -> Option<u64> {
    let name = key.strip_prefix(&url.key(SEGMENTS_DIR))?;
    let (first, last) = name.strip_suffix(".jsonl")?.split_once('-')?;
    let number = |d: &str| {
        (d.len() == 12 && d.bytes().all(|b| b.is_ascii_digit()))
            .then(|| d.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = (number(first)?, number(last)?);
    (first >= 1 && segment_first(first) == first && last == segment_last(first)).then_some(first)
}

/// The entry an audit log refusal names.
fn tampered_line(e: &crate::audit::AuditError) -> Option<u64> {
    match e {
        crate::audit::AuditError::Tampered { line, .. } => Some(*line),
        crate::audit::AuditError::Forged { seq, .. } => Some(*seq),
        _ => None,
    }
}

/// A segment as read: its bytes, or none there, or more than [`MAX_SEGMENT`].
enum SegmentRead {
    Bytes(Vec<u8>),
    Missing,
    TooLarge,
}

/// `GET` of segment `key`, at most [`MAX_SEGMENT`] bytes.
async fn read_segment(client: &Client, key: &str) -> Result<SegmentRead, Failure> {
    let resp = match client
        .send_empty(reqwest::Method::GET, key, &[], Vec::new())
        .await
    {
        Ok(r) if r.status().as_u16() == 304 => {
            return Err(Failure::Status {
                status: 304,
                code: String::new(),
                message: format!(
                    "{}: answered Not Modified to a read that named no ETag",
                    client.where_(key)
                ),
            });
        }
        Ok(r) => r,
        Err(Failure::Status { status: 404, .. }) => return Ok(SegmentRead::Missing),
        Err(f) => return Err(f),
    };
    match crate::net::read_bytes(resp, MAX_SEGMENT).await {
        Ok(bytes) => Ok(SegmentRead::Bytes(bytes)),
        Err(crate::net::BodyError::TooLarge { .. }) => Ok(SegmentRead::TooLarge),
        Err(e) => Err(Failure::Network(format!("{}: {e}", client.where_(key)))),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The tag of a nonce's random part (its hex) in entry number `seq` recording `action`:
/// HMAC-SHA-256 keyed with the console's secret (its hex as written) over `RANDOM SEQ ACTION`,
/// 64 bits, hex.
fn nonce_tag(key: &str, random: &str, seq: u64, action: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, format!("{random} {seq} {action}").as_bytes());
    crate::hex(&tag.as_ref()[..8])
}

/// The console's secret at `path`, made there when there is none: written whole to a
/// temporary file first and then linked into place, so two processes starting at once agree
/// on one secret (the second link fails and reads the first's).
fn console_key(path: &Path) -> Result<String, String> {
    let read = |path: &Path| -> Result<Option<String>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key = text.trim();
                if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Some(key.to_owned()))
                } else {
                    Err(format!(
                        "{}: not this console's secret (64 hex digits); remove it to make a new one",
                        path.display()
                    ))
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    };
    if let Some(key) = read(path)? {
        return Ok(key);
    }
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| "no random numbers for the console's secret".to_owned())?;
    let key = crate::hex(&bytes);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let temp = dir.join(format!(
        ".console-key.{}",
        crate::hex(&random16().map_err(|e| e.to_string())?)
    ));
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(key.as_bytes())?;
        file.sync_all()
    };
    let result = write()
        .map_err(|e| format!("{}: {e}", temp.display()))
        .and_then(|()| match std::fs::hard_link(&temp, path) {
            Ok(()) => Ok(Some(key)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        });
    let _ = std::fs::remove_file(&temp);
    match result? {
        Some(key) => Ok(key),
        None => read(path)?.ok_or_else(|| format!("{}: vanished while being made", path.display())),
    }
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
    let shared = Shared::new(url, access.endpoint, &access.cache_root)?;
    let config_path = dir.join(CONFIG_FILE);
    match shared.fetch_config() {
        Ok(Some(text)) => {
            let config = super::Config::parse(&text, Path::new(&shared.url.key(CONFIG_FILE)))
                .map_err(WorkspaceError::Config)?;
            // Which program runs on this machine is this machine's to say: whoever can write
            // the bucket would otherwise choose the `osslsigncode` every teammate's console
            // trusts. Settings refuses to write it here; one written by hand is refused too.
            if !config.tools.is_empty() {
                let names: Vec<&str> = config.tools.keys().map(String::as_str).collect();
                return Err(WorkspaceError::Refused(format!(
                    "{}: its {CONFIG_FILE} sets [tools] ({}): a team's shared configuration may \
                     not choose which programs run on each machine; remove [tools] from it \
                     (each person puts the programs on PATH)",
                    shared.url,
                    names.join(", ")
                )));
            }
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
        let cold = held.is_empty();
        let pulled = shared.pull_staged(&mut held, 1, cold, false)?;
        held.commit()?;
        if let Some(listed) = &pulled.listed {
            shared.seal_missing(&mut held, listed)?;
        }
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
    let shared = Shared::new(url, access.endpoint, &access.cache_root)?;
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
