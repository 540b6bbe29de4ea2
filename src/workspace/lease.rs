//! Leases: who is doing a long operation on a shared workspace (a platform's build, a publish,
//! a backend rollout, a runbook run, a flag advance), so that a second person's attempt is
//! refused naming the holder instead of racing it.
//!
//! A lease is an object in the bucket, `leases/<name>.json`, holding what, who, where, since
//! and until. It is taken with `If-None-Match: *` (one winner), renewed with `If-Match` on its
//! `ETag` while the operation runs, and given back by writing it as released, with `If-Match`
//! too. A lease past its `until` (its holder stopped renewing: a crash, a lost network) is
//! taken over with `If-Match` on the `ETag` read, so of two takers one wins; the take-over is
//! audited (`lease.takeover`), and so is forcing a live one (`lease.force`). A renewal that
//! finds the object changed has lost the lease: [`Lease::check`] says so before the operation
//! does anything it cannot undo.
//!
//! On a local workspace a lease is held by nobody else: the operations' own file locks keep
//! two processes on one machine apart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::shared::{self, Shared};
use super::{Workspace, WorkspaceError};
use crate::net::s3::{Cond, Failure, Got};

/// How long a lease lasts without renewal.
pub const LEASE_FOR: Duration = Duration::from_mins(10);
/// Attempts to take a lease while others take, renew or give it back at the same moment.
const ATTEMPTS: u32 = 8;
/// The largest lease object read.
const MAX_LEASE: usize = 64 * 1024;
/// Lease objects read at once when listing who is working.
const READ_AT_ONCE: usize = 16;
/// The most lease objects listed (a listing that never ends stops there).
const MAX_LEASES: usize = 100_000;

/// A lease as the bucket holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The operation, as people say it: `publish 1.2.0`, `build 1.2.0 macos`.
    pub what: String,
    /// Who holds it, and on which machine.
    pub holder: String,
    pub host: String,
    pub since: jiff::Timestamp,
    pub until: jiff::Timestamp,
    /// Given back: free to take.
    #[serde(default)]
    pub released: bool,
    /// The holder's random value: its renewals are its own.
    pub nonce: String,
    /// How long the lease lasts from its last write, in seconds. A reader judges it by the
    /// bucket's clock (the object's age), so a holder or a taker whose clock is wrong cannot
    /// cut a lease short or stretch it; `until` is the holder's own clock, for people (and
    /// for leases written without this, by older consoles).
    #[serde(default, skip_serializing_if = "crate::runbook::is_zero")]
    pub ttl_secs: u64,
    /// When it runs out on this console's clock, as judged by the bucket's (see `ttl_secs`),
    /// when read from a bucket that said how old the object is.
    #[serde(skip)]
    pub ends_here: Option<jiff::Timestamp>,
}

impl LeaseInfo {
    /// Whether it holds at `now`.
    pub fn is_live(&self, now: jiff::Timestamp) -> bool {
        !self.released && self.ends() > now
    }

    /// When it runs out, on this console's clock.
    pub fn ends(&self) -> jiff::Timestamp {
        self.ends_here.unwrap_or(self.until)
    }

    /// When its holder last wrote it (took or renewed it), on this console's clock; unknown
    /// for a lease written without `ttl_secs`.
    pub fn written_at(&self) -> Option<jiff::Timestamp> {
        let ttl = jiff::SignedDuration::from_secs(i64::try_from(self.ttl_secs).ok()?);
        (self.ttl_secs > 0)
            .then(|| self.ends().checked_sub(ttl).ok())
            .flatten()
    }

    /// Whether a live lease has gone without its renewal (due every third of its time) for
    /// more than half its time at `now`: its holder's console has most likely stopped, and the
    /// lease runs out at [`Self::ends`] unless it comes back.
    pub fn unrenewed(&self, now: jiff::Timestamp) -> bool {
        self.written_at().is_some_and(|at| {
            now.duration_since(at).as_secs() > i64::try_from(self.ttl_secs / 2).unwrap_or(i64::MAX)
        })
    }

    /// `ana@ana-mbp since 14:02 (lease until 14:12)`.
    pub fn describe(&self) -> String {
        let hm = |t: jiff::Timestamp| {
            t.to_zoned_datetime(jiff::tz::TimeZone::system())
                .strftime("%H:%M")
                .to_string()
        };
        format!(
            "{}@{} since {} (lease until {})",
            self.holder,
            self.host,
            hm(self.since),
            hm(self.ends())
        )
    }
}

/// A held lease; renewed in the background while it lives, given back when dropped.
#[derive(Debug)]
pub struct Lease {
    inner: Option<Held>,
    /// How it was taken from another holder, when it was (see [`Lease::took_over`]).
    took_over: Option<String>,
}

/// The most take-overs kept for the window to say (a process that never reads them, the CLI,
/// keeps no more).
const MAX_NOTICES: usize = 16;

/// Take-overs this process made and nobody has said yet: the window reads them
/// ([`take_notices`]) and says each in a toast, as the task's log does.
static NOTICES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The take-overs of leases this process made since the last call, oldest first, each as
/// [`Lease::took_over`] says it.
pub fn take_notices() -> Vec<String> {
    std::mem::take(
        &mut *NOTICES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

fn notice(text: &str) {
    let mut n = NOTICES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if n.len() >= MAX_NOTICES {
        n.remove(0);
    }
    n.push(text.to_owned());
}

/// `took over ben's lease on build 0.1.0 macos (expired 03:30)`, or, forced from a live
/// holder, `took ben's lease on … by force (it held until 03:40)`.
fn took_over_words(what: &str, from: &LeaseInfo, forced: bool) -> String {
    let hm = from
        .ends()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%H:%M");
    let who = if from.host.is_empty() {
        from.holder.clone()
    } else {
        format!("{}@{}", from.holder, from.host)
    };
    if forced {
        format!("took {who}'s lease on {what} by force (it held until {hm})")
    } else {
        format!("took over {who}'s lease on {what} (expired {hm})")
    }
}

#[derive(Debug)]
struct Held {
    what: String,
    key: String,
    client: crate::net::s3::Client,
    /// The lease as last written, and its `ETag`; the renewal holds it while it writes.
    state: Arc<tokio::sync::Mutex<(LeaseInfo, String)>>,
    lost: Arc<AtomicBool>,
    stop: tokio_util::sync::CancellationToken,
}

impl Lease {
    /// A lease on a local workspace: nobody else can hold it.
    fn local() -> Self {
        Self {
            inner: None,
            took_over: None,
        }
    }

    /// How this lease was taken from another holder (one whose lease had run out, or by
    /// force), in words for the task's log: `took over ben@vm's lease on build 0.1.0 macos
    /// (expired 03:30)`; `None` when nobody held it. The window says it in a toast too
    /// ([`take_notices`]).
    pub fn took_over(&self) -> Option<&str> {
        self.took_over.as_deref()
    }

    /// Whether it still holds: a renewal that found another holder, or could not reach the
    /// bucket before the lease ran out, has lost it; the operation stops before its next step
    /// that cannot be undone.
    pub fn check(&self) -> Result<(), WorkspaceError> {
        match &self.inner {
            Some(h) if h.lost.load(Ordering::Relaxed) => Err(WorkspaceError::Refused(format!(
                "{}: the lease was lost (taken over, or not renewed in time): stopped before \
                 changing anything more",
                h.what
            ))),
            _ => Ok(()),
        }
    }

    /// Whether it still holds, asked of the bucket now, before a step that records a result
    /// another holder's would contradict (a build's outcome): the renewal notices a take-over
    /// only at its next round, minutes later. Its object must still be this holder's (same
    /// nonce, not given back); a take-over (forced, or after it ran out while this console
    /// slept) is refused naming who holds it now. A bucket that does not answer leaves the
    /// renewal's word (it has not run out here).
    pub async fn confirm(&self) -> Result<(), WorkspaceError> {
        self.check()?;
        let Some(h) = &self.inner else { return Ok(()) };
        let mine = h.state.lock().await.0.clone();
        match read(&h.client, &h.key).await {
            Ok(Some((there, _))) if there.nonce == mine.nonce && !there.released => Ok(()),
            Ok(Some((there, _))) if !there.released => {
                h.lost.store(true, Ordering::Relaxed);
                Err(WorkspaceError::Refused(format!(
                    "{}: the lease was taken over: it is held by {} now; stopped before \
                     recording anything",
                    h.what,
                    there.describe()
                )))
            }
            Ok(_) => {
                h.lost.store(true, Ordering::Relaxed);
                Err(WorkspaceError::Refused(format!(
                    "{}: the lease is no longer this console's (its object was given back or \
                     removed in the bucket); stopped before recording anything",
                    h.what
                )))
            }
            Err(f) => {
                tracing::warn!("lease on {}: could not read it back: {f}", h.what);
                Ok(())
            }
        }
    }

    /// The lease's object in the bucket, if it is a shared workspace's.
    pub fn key(&self) -> Option<&str> {
        self.inner.as_ref().map(|h| h.key.as_str())
    }
}

impl Drop for Lease {
    /// Stops the renewal and gives the lease back (written as released, `If-Match` on its
    /// `ETag`), waiting for the answer, so the next person can take it at once; a lease that
    /// cannot be given back runs out at its `until`.
    fn drop(&mut self) {
        let Some(h) = self.inner.take() else { return };
        h.stop.cancel();
        if h.lost.load(Ordering::Relaxed) {
            return;
        }
        let Held {
            what,
            key,
            client,
            state,
            ..
        } = h;
        let gave_back = shared::block(async move {
            let guard = state.lock().await;
            let (info, etag) = &*guard;
            give_back(&client, &key, info, etag).await
        });
        match gave_back {
            Ok(Ok(())) => {}
            Ok(Err(f)) => tracing::warn!("lease on {what}: could not give it back ({f})"),
            Err(e) => tracing::warn!("lease on {what}: could not give it back ({e})"),
        }
    }
}

/// Writes the lease `info` as released, `If-Match` on `etag`. Refused because the object is
/// still this console's lease under another `ETag` (a renewal whose answer was lost), it is
/// written once more on that one; taken by another console meanwhile, it is left alone.
async fn give_back(
    client: &crate::net::s3::Client,
    key: &str,
    info: &LeaseInfo,
    etag: &str,
) -> Result<(), Failure> {
    let mut back = info.clone();
    back.released = true;
    back.until = jiff::Timestamp::now();
    let body = encode(&back);
    match client
        .put_small(key, body.clone(), "application/json", Cond::Match(etag))
        .await
    {
        Err(Failure::Status { status: 412, .. }) => match read(client, key).await? {
            Some((there, now)) if there.nonce == info.nonce && !there.released => client
                .put_small(key, body, "application/json", Cond::Match(&now))
                .await
                .map(|_| ()),
            _ => Ok(()),
        },
        other => other.map(|_| ()),
    }
}

/// The `ETag` of `info`, just written at `key`: the answer's, or, when the answer left it out
/// (a server or proxy that drops it), the object's as read back while it is still `info`. A
/// lease is renewed and given back only on an `ETag` it knows.
async fn written_etag(
    client: &crate::net::s3::Client,
    key: &str,
    info: &LeaseInfo,
    answered: String,
) -> Result<String, Failure> {
    if !answered.is_empty() {
        return Ok(answered);
    }
    match read(client, key).await? {
        Some((there, etag)) if encode(&there) == encode(info) && !etag.is_empty() => Ok(etag),
        _ => Err(Failure::Network(format!(
            "{}: the bucket answered the lease's write without an ETag, and the lease cannot \
             be read back as written",
            client.where_(key)
        ))),
    }
}

/// The object name of the lease on `what`: lower-case letters, digits, `-` and `.`.
fn key_of(shared: &Shared, what: &str) -> String {
    let mut name: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(120);
    shared.url().key(&format!("leases/{name}.json"))
}

/// The lease at `key` and its `ETag`, if there is one.
async fn read(
    client: &crate::net::s3::Client,
    key: &str,
) -> Result<Option<(LeaseInfo, String)>, Failure> {
    match client.get_small(key, None, MAX_LEASE).await? {
        Got::Object { bytes, etag, age } => {
            // An object that is not a lease (written by hand, cut short) is treated as an
            // expired one: it may be taken over, which is audited.
            let mut info = serde_json::from_slice(&bytes).unwrap_or_else(|_| LeaseInfo {
                what: String::new(),
                holder: "an unreadable lease object".to_owned(),
                host: String::new(),
                since: jiff::Timestamp::UNIX_EPOCH,
                until: jiff::Timestamp::UNIX_EPOCH,
                released: false,
                nonce: String::new(),
                ttl_secs: 0,
                ends_here: None,
            });
            info.ends_here = age.map(|age| until_here(&info, age));
            Ok(Some((info, etag)))
        }
        Got::Missing | Got::NotModified => Ok(None),
    }
}

/// When a lease of `age` (by the bucket's clock) runs out, on this console's clock: what is
/// left of its `ttl_secs` from now. A lease without one keeps its holder's `until`.
fn until_here(info: &LeaseInfo, age: Duration) -> jiff::Timestamp {
    if info.ttl_secs == 0 {
        return info.until;
    }
    // Both times are whole seconds, cut down: a lease written late in one second and read
    // early in the next looks a second older than it is. It gets that second, never loses it.
    let left = Duration::from_secs(info.ttl_secs)
        .saturating_sub(age.saturating_sub(Duration::from_secs(1)));
    let now = jiff::Timestamp::now();
    jiff::SignedDuration::try_from(left)
        .ok()
        .and_then(|l| now.checked_add(l).ok())
        .unwrap_or(now)
}

fn encode(info: &LeaseInfo) -> Vec<u8> {
    serde_json::to_vec(info).unwrap_or_default()
}

/// What taking the lease found.
enum Took {
    Taken(String),
    /// Taken over from a holder whose lease had run out (or by force): audited.
    TakenOver(String, LeaseInfo),
    HeldBy(LeaseInfo),
}

impl Workspace {
    /// Takes the lease on `what` for a long operation ([`LEASE_FOR`], renewed while the
    /// returned [`Lease`] lives). Refused, naming the holder, when another console holds it.
    pub fn lease(&self, what: &str) -> Result<Lease, WorkspaceError> {
        self.lease_for(what, LEASE_FOR, false)
    }

    /// Takes the lease on `what` even from a live holder (audited as `lease.force`, naming
    /// whom it was taken from).
    pub fn force_lease(&self, what: &str) -> Result<Lease, WorkspaceError> {
        self.lease_for(what, LEASE_FOR, true)
    }

    /// [`Self::lease`] lasting `ttl` between renewals (tests use short ones).
    pub fn lease_for(
        &self,
        what: &str,
        ttl: Duration,
        force: bool,
    ) -> Result<Lease, WorkspaceError> {
        let Some(shared) = self.shared() else {
            return Ok(Lease::local());
        };
        if let Some(why) = shared.offline() {
            return Err(WorkspaceError::Offline {
                url: shared.url().to_string(),
                why,
            });
        }
        let key = key_of(shared, what);
        let now = jiff::Timestamp::now();
        let ttl_span = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::ZERO);
        let mine = LeaseInfo {
            what: what.to_owned(),
            holder: self.actor(),
            host: shared.host().to_owned(),
            since: now,
            until: now.checked_add(ttl_span).unwrap_or(now),
            released: false,
            nonce: crate::hex(&super::shared::random16()?),
            ttl_secs: ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0),
            ends_here: None,
        };
        let client = shared.client.clone();
        let (k, m) = (key.clone(), mine.clone());
        let took =
            shared::block(async move { take(&client, &k, &m, force).await })?.map_err(|f| {
                shared::unreachable(shared.url(), &format!("take the lease on {what}"), &f)
            })?;
        let mut took_over = None;
        let etag = match took {
            Took::Taken(etag) => etag,
            Took::HeldBy(info) => {
                return Err(WorkspaceError::LeaseHeld {
                    what: what.to_owned(),
                    by: info.describe(),
                    holder: Box::new(info),
                });
            }
            Took::TakenOver(etag, from) => {
                let taken = crate::audit::Event::values(
                    what,
                    serde_json::to_value(&from).unwrap_or_default(),
                    serde_json::to_value(&mine).unwrap_or_default(),
                );
                let forced = force && from.is_live(now);
                self.record(if forced {
                    crate::audit::Event::LeaseForce(taken)
                } else {
                    crate::audit::Event::LeaseTakeover(taken)
                })?;
                let words = took_over_words(what, &from, forced);
                notice(&words);
                took_over = Some(words);
                etag
            }
        };
        let lost = Arc::new(AtomicBool::new(false));
        let stop = tokio_util::sync::CancellationToken::new();
        let state = Arc::new(tokio::sync::Mutex::new((mine, etag)));
        let renewer = Renewer {
            client: shared.client.clone(),
            key: key.clone(),
            state: state.clone(),
            ttl,
            lost: lost.clone(),
            stop: stop.clone(),
        };
        shared::io()?.spawn(renewer.run());
        Ok(Lease {
            inner: Some(Held {
                what: what.to_owned(),
                key,
                client: shared.client.clone(),
                state,
                lost,
                stop,
            }),
            took_over,
        })
    }

    /// The live leases of a shared workspace (who is doing what); none on a local one.
    pub fn leases(&self) -> Result<Vec<LeaseInfo>, WorkspaceError> {
        let now = jiff::Timestamp::now();
        let mut live: Vec<LeaseInfo> = self
            .lease_objects()?
            .into_iter()
            .filter(|l| l.is_live(now))
            .collect();
        live.sort_by_key(|l| l.since);
        Ok(live)
    }

    /// Every lease object of a shared workspace, live, run out or given back; none on a local
    /// one.
    pub fn lease_objects(&self) -> Result<Vec<LeaseInfo>, WorkspaceError> {
        let Some(shared) = self.shared() else {
            return Ok(Vec::new());
        };
        if shared.offline().is_some() {
            return Ok(Vec::new());
        }
        let client = shared.client.clone();
        let prefix = shared.url().key("leases/");
        let found = shared::block(async move {
            // Leases are given back by rewriting them, never deleted: every page of them.
            let mut keys: Vec<String> = Vec::new();
            loop {
                let page = client
                    .list(&prefix, keys.last().map(String::as_str), 1000)
                    .await?;
                keys.extend(page.keys);
                if !page.truncated || keys.len() >= MAX_LEASES {
                    break;
                }
            }
            // Read several at once.
            let mut out = Vec::new();
            let mut keys = keys.into_iter();
            let mut reads = tokio::task::JoinSet::new();
            loop {
                while reads.len() < READ_AT_ONCE
                    && let Some(key) = keys.next()
                {
                    let client = client.clone();
                    reads.spawn(async move { read(&client, &key).await });
                }
                let Some(done) = reads.join_next().await else {
                    break;
                };
                let done = done
                    .map_err(|e| Failure::Network(format!("a read of the leases stopped: {e}")))?;
                if let Some((info, _)) = done? {
                    out.push(info);
                }
            }
            Ok::<_, Failure>(out)
        })?
        .map_err(|f| shared::unreachable(shared.url(), "list the leases", &f))?;
        Ok(found)
    }
}

/// Takes the lease at `key` for `mine`: creates it, or takes over one that ran out (or any,
/// with `force`); a live one is someone else's.
async fn take(
    client: &crate::net::s3::Client,
    key: &str,
    mine: &LeaseInfo,
    force: bool,
) -> Result<Took, Failure> {
    let body = encode(mine);
    // The lease this console tried to take over: when the answer to that write was lost, the
    // object found to be its own is a takeover still, and audited as one.
    let mut over: Option<LeaseInfo> = None;
    for _ in 0..ATTEMPTS {
        match read(client, key).await? {
            None => match client
                .put_small(key, body.clone(), "application/json", Cond::Create)
                .await
            {
                Ok(etag) => {
                    return Ok(Took::Taken(written_etag(client, key, mine, etag).await?));
                }
                // Someone took it first (or this one's own answer was lost: its nonce says).
                Err(Failure::Status { status: 412, .. }) => {}
                Err(f) => return Err(f),
            },
            Some((info, etag)) if info.nonce == mine.nonce => {
                // Our own write, whose answer was lost.
                let etag = written_etag(client, key, mine, etag).await?;
                return Ok(match over {
                    Some(from) if !from.released => Took::TakenOver(etag, from),
                    _ => Took::Taken(etag),
                });
            }
            Some((info, etag)) if force || !info.is_live(jiff::Timestamp::now()) => {
                over = Some(info.clone());
                match client
                    .put_small(key, body.clone(), "application/json", Cond::Match(&etag))
                    .await
                {
                    Ok(new) => {
                        let new = written_etag(client, key, mine, new).await?;
                        return Ok(if info.released {
                            Took::Taken(new)
                        } else {
                            Took::TakenOver(new, info)
                        });
                    }
                    // Another taker won, or the holder renewed in time (moto answers 404 when
                    // the object went away meanwhile): read again.
                    Err(Failure::Status {
                        status: 412 | 404, ..
                    }) => {}
                    Err(f) => return Err(f),
                }
            }
            Some((info, _)) => return Ok(Took::HeldBy(info)),
        }
    }
    Err(Failure::Network(format!(
        "{key}: taken and given back {ATTEMPTS} times while this console tried to take it"
    )))
}

/// Renews a held lease every third of its time until stopped.
struct Renewer {
    client: crate::net::s3::Client,
    key: String,
    state: Arc<tokio::sync::Mutex<(LeaseInfo, String)>>,
    ttl: Duration,
    lost: Arc<AtomicBool>,
    stop: tokio_util::sync::CancellationToken,
}

impl Renewer {
    async fn run(self) {
        let every = self.ttl / 3;
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if self.lost.load(Ordering::Relaxed) {
                return;
            }
            let mut guard = self.state.lock().await;
            if self.stop.is_cancelled() {
                return;
            }
            let (info, etag) = &mut *guard;
            let now = jiff::Timestamp::now();
            let ttl =
                jiff::SignedDuration::try_from(self.ttl).unwrap_or(jiff::SignedDuration::ZERO);
            let mut next = info.clone();
            next.until = now.checked_add(ttl).unwrap_or(now);
            match self
                .client
                .put_small(
                    &self.key,
                    encode(&next),
                    "application/json",
                    Cond::Match(etag),
                )
                .await
            {
                Ok(new) => match written_etag(&self.client, &self.key, &next, new).await {
                    Ok(new) => {
                        *etag = new;
                        *info = next;
                    }
                    // The next renewal reads it again (below).
                    Err(f) => tracing::warn!("lease on {}: {f}", info.what),
                },
                Err(Failure::Status {
                    status: 412 | 404, ..
                }) => match read(&self.client, &self.key).await {
                    // A renewal whose answer was lost and that was sent again: the object
                    // moved on by this console's own write, and is still its lease.
                    Ok(Some((there, new)))
                        if there.nonce == info.nonce && !there.released && !new.is_empty() =>
                    {
                        *etag = new;
                        *info = there;
                    }
                    _ => {
                        tracing::warn!("lease on {} lost: another console took it", info.what);
                        self.lost.store(true, Ordering::Relaxed);
                    }
                },
                Err(f) => {
                    tracing::warn!("lease on {}: renewal failed: {f}", info.what);
                    if info.until <= jiff::Timestamp::now() {
                        self.lost.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Someone who changed a shared workspace lately: their last entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Active {
    pub actor: String,
    pub host: String,
    pub action: String,
    pub target: String,
    pub at: jiff::Timestamp,
    /// What the entry did, in words ([`Workspace::in_words`]: `ticked "Validate staging"
    /// (0.1.0)`, `started building 0.1.0 macos`), and for an operation it started that holds
    /// a lease, what became of it when it is not running any more (`; not running any more:
    /// its lease ran out at 03:30 without being renewed`).
    pub said: String,
}

/// Who is working on a shared workspace: the live leases (what they are doing), the leases
/// whose holder stopped renewing them, and whoever recorded a change in the last
/// [`ACTIVE_WITHIN`] (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub leases: Vec<LeaseInfo>,
    /// Leases that ran out in the last [`ACTIVE_WITHIN`] without being given back: their
    /// holder's console stopped (a crash, a lost network); the next to start the operation
    /// takes them over.
    pub expired: Vec<LeaseInfo>,
    pub people: Vec<Active>,
}

/// How recent a change makes its author "active".
pub const ACTIVE_WITHIN: Duration = Duration::from_mins(30);
/// The log's tail read for [`Activity`].
const ACTIVITY_TAIL: usize = 500;
/// How long a task may run before it takes its lease: a start younger than this with no lease
/// is not said to have stopped.
const LEASE_GRACE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

impl Workspace {
    /// [`Activity`] at `now`, from the leases and the last entries of the log (`index`).
    pub fn activity(
        &self,
        index: &crate::audit::AuditIndex,
        now: jiff::Timestamp,
    ) -> Result<Activity, WorkspaceError> {
        self.activity_with(self.lease_objects()?, index, now)
    }

    /// [`Self::activity`] with the lease objects as read before (a reload that does not read
    /// them again).
    pub fn activity_with(
        &self,
        leases: Vec<LeaseInfo>,
        index: &crate::audit::AuditIndex,
        now: jiff::Timestamp,
    ) -> Result<Activity, WorkspaceError> {
        let from = index.len().saturating_sub(ACTIVITY_TAIL);
        let since = now
            .checked_sub(jiff::SignedDuration::try_from(ACTIVE_WITHIN).unwrap_or_default())
            .unwrap_or(now);
        let (mut live, mut expired): (Vec<LeaseInfo>, Vec<LeaseInfo>) = leases
            .into_iter()
            .filter(|l| !l.released)
            .partition(|l| l.is_live(now));
        expired.retain(|l| l.ends() >= since);
        live.sort_by_key(|l| l.since);
        expired.sort_by_key(|l| l.since);
        let mut people: Vec<Active> = Vec::new();
        // Take-overs seen so far (newer than the entries still to come): what, from whom, by
        // whom, when.
        let mut takeovers: Vec<(String, String, String, jiff::Timestamp)> = Vec::new();
        for entry in self
            .audit()
            .read_range(index, from..index.len())?
            .into_iter()
            .flatten()
            .rev()
            .filter(|e| e.time >= since)
        {
            if matches!(entry.action.as_str(), "lease.takeover" | "lease.force") {
                let from = entry
                    .before
                    .get("holder")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                takeovers.push((entry.target.clone(), from, entry.actor.clone(), entry.time));
            }
            let host = entry.host.clone().unwrap_or_default();
            if people
                .iter()
                .any(|p| p.actor == entry.actor && p.host == host)
            {
                continue;
            }
            let mut said = self.in_words(&entry);
            if entry.action == "task.start"
                && let Some(what) = task_lease(&entry.target, &entry.after)
            {
                let holds = |l: &LeaseInfo| {
                    l.what == what && l.holder == entry.actor && (host.is_empty() || l.host == host)
                };
                let hm = |t: jiff::Timestamp| {
                    t.to_zoned_datetime(jiff::tz::TimeZone::system())
                        .strftime("%H:%M")
                        .to_string()
                };
                if let Some(l) = live.iter().find(|l| holds(l)) {
                    if l.unrenewed(now) {
                        said.push_str(&format!(
                            "; its lease has not been renewed since {}: its console may have \
                             stopped",
                            l.written_at().map_or_else(String::new, hm)
                        ));
                    }
                } else if let Some((_, _, by, at)) = takeovers
                    .iter()
                    .find(|(w, from, _, _)| *w == what && *from == entry.actor)
                {
                    said.push_str(&format!(
                        "; not running any more: {by} took over its lease at {}",
                        hm(*at)
                    ));
                } else if let Some(l) = expired.iter().find(|l| holds(l)) {
                    said.push_str(&format!(
                        "; not running any more: its lease ran out at {} without being renewed",
                        hm(l.ends())
                    ));
                } else if let Some(l) = live.iter().find(|l| l.what == what) {
                    said.push_str(&format!(
                        "; not running any more: {} holds its lease now",
                        l.holder
                    ));
                } else if now.duration_since(entry.time) > LEASE_GRACE {
                    said.push_str("; not running any more: it holds no lease");
                }
            }
            people.push(Active {
                actor: entry.actor,
                host,
                action: entry.action,
                target: entry.target,
                at: entry.time,
                said,
            });
        }
        Ok(Activity {
            leases: live,
            expired,
            people,
        })
    }
}

/// The lease a task holds while it runs, from its `task.start` entry's name and values: a
/// build's (`build VERSION PLATFORM`), a publish's (`publish VERSION`), a runbook step's
/// (`runbook PROCEDURE`); none for a task that takes none.
fn task_lease(name: &str, after: &serde_json::Value) -> Option<String> {
    let field = |key: &str| after.get(key).and_then(serde_json::Value::as_str);
    let kind = field("kind").unwrap_or_default();
    let release = field("release");
    if let Some(platform) = name
        .strip_prefix("build-unsigned-")
        .or_else(|| name.strip_prefix("build-"))
    {
        return Some(format!("build {} {platform}", release?));
    }
    if kind == "publish" {
        return Some(format!("publish {}", release?));
    }
    kind.strip_prefix("runbook.")
        .map(|procedure| format!("runbook {procedure}"))
}
