//! The append-only, hash-chained audit log (`audit.log` + `audit.head`).
//!
//! Each line is one JSON entry holding the SHA-256 of the previous line, so editing, deleting or
//! reordering a line breaks the chain. `audit.head` (written atomically after each append) records
//! the entry count, byte length and last hash, so truncating the tail or editing the last line is
//! caught too. Appends from several processes (GUI and CLI) are serialized with a file lock.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{self, StateError};

pub mod diff;
pub mod event;
pub use event::{Action, Event};
mod index;
pub mod keys;
pub use index::AuditIndex;

/// The entry format this console writes and understands. Entries of it carry no `format`
/// (every log written so far is of it); a later change of what entries mean that an older
/// console must not read past (a field it would not check, as signatures were) raises it, and
/// entries of the new format carry `"format": N`. A console refuses to adopt an entry of a
/// format above this one, naming it, rather than read it as one it knows.
pub const ENTRY_FORMAT: u64 = 1;

/// Why `line` is of an entry format this console does not know, if it is (see
/// [`ENTRY_FORMAT`]): its top-level `format`, when above it or not a number.
fn unknown_format(line: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Format {
        #[serde(default)]
        format: Option<serde_json::Value>,
    }
    // Most lines hold no `"format"` anywhere: not parsed twice.
    if !line.contains("\"format\"") {
        return None;
    }
    let format = serde_json::from_str::<Format>(line).ok()?.format?;
    match format.as_u64() {
        Some(n) if n <= ENTRY_FORMAT => None,
        Some(n) => Some(format!(
            "it is of entry format {n}, and this console knows entry formats up to \
             {ENTRY_FORMAT}: update the console before it reads this log"
        )),
        None => Some(format!("its entry format {format} is not a number")),
    }
}

/// The hash a first entry links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One recorded action: who did what to which target, and the state before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// 1-based position in the log.
    pub seq: u64,
    pub time: jiff::Timestamp,
    pub actor: String,
    /// Dotted action name, e.g. `checklist.tick`, `release.create`, `task.finish`.
    pub action: String,
    /// What was acted on, e.g. `0.1.0/pre.review-flags`.
    pub target: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// SHA-256 (hex) of the previous line's bytes, or [`GENESIS_HASH`].
    pub prev: String,
    /// The machine it was made on (entries of a shared workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A random value its writer chose, by which a writer whose answer was lost recognises its
    /// own entry in a shared workspace's bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The id of the key that signed the entry (see [`keys`]), when it is signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The Ed25519 signature (base64) of the entry's line without this field (see [`keys`]).
    /// It stays the last field: the signed bytes are the line with it taken off the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl AuditEntry {
    /// The entry as its line in the log (without the newline); the chain hashes these bytes.
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// What to record; the log fills in sequence, time and hash link.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    entries: u64,
    len_bytes: u64,
    last_hash: String,
    /// `audit.log` as the append that wrote this head left it. A log whose stamp still matches
    /// was changed by nothing but the console's own appends, each of which checked what came
    /// before; any other writer (an editor, `truncate`, a restore) changes it, and the next
    /// append or reload checks the whole chain again before it builds on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stamp: Option<Stamp>,
}

/// A file's identity and last change: device, inode, status-change time and length. The
/// status-change time (ctime) moves on every write and cannot be set back by a user. On Windows
/// the identity is the volume serial number and file index, and the time the last write time,
/// which a user can set back: a stamp there is weaker, so a log with the same stamp is still
/// read from the last verified point on (the chain is checked again before each append).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    ctime_sec: i64,
    ctime_nsec: i64,
    len: u64,
}

/// Whether a matching stamp proves the log unchanged since (it does where the change time
/// cannot be set back).
pub(crate) const STAMP_PROVES_UNCHANGED: bool = cfg!(unix);

impl Stamp {
    #[cfg(unix)]
    fn of(file: &std::fs::File) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = file.metadata()?;
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            ctime_sec: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
            len: meta.len(),
        })
    }

    #[cfg(windows)]
    fn of(file: &std::fs::File) -> std::io::Result<Self> {
        let info = winapi_util::file::information(file)?;
        // 100 ns ticks since 1601.
        let written = info.last_write_time().unwrap_or(0);
        Ok(Self {
            dev: info.volume_serial_number(),
            ino: info.file_index(),
            ctime_sec: i64::try_from(written / 10_000_000).unwrap_or(i64::MAX),
            ctime_nsec: i64::try_from(written % 10_000_000 * 100).unwrap_or(0),
            len: info.file_size(),
        })
    }

    fn same_file(&self, other: &Self) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// Whether `e`'s actor, action, target or values contain `needle` (already lower case).
pub fn entry_matches(e: &AuditEntry, needle: &str) -> bool {
    let compact = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        other => other.to_string().to_lowercase(),
    };
    [&e.actor, &e.action, &e.target]
        .iter()
        .any(|f| f.to_lowercase().contains(needle))
        || compact(&e.after).contains(needle)
        || compact(&e.before).contains(needle)
}

/// The log, locked (see [`AuditLog::hold`]); dropping it releases the lock.
///
/// Lines may be staged ([`Held::stage`]): each is checked to extend the log as it is staged,
/// and they are written with the next [`Held::commit`] (or adopt or append), one write and one
/// fsync for them all. The log's length, last hash and next entry count the staged lines.
/// Staged lines that are never committed are dropped with the held log: nothing is written.
#[derive(Debug)]
pub struct Held<'a> {
    log: &'a AuditLog,
    _lock: File,
    file: File,
    /// The log as written (and its head).
    head: Head,
    /// Checked lines, each with its newline, not written yet.
    staged: Vec<u8>,
    /// Entries and last hash with the staged lines.
    tail: (u64, String),
    /// The people list with the staged lines, when some are staged (else the head's).
    tail_people: Option<keys::People>,
}

impl Held<'_> {
    /// Entries in the log (staged ones included).
    pub fn len(&self) -> u64 {
        self.tail.0
    }

    pub fn is_empty(&self) -> bool {
        self.tail.0 == 0
    }

    /// The hash of the last entry's line (staged ones included), or [`GENESIS_HASH`].
    pub fn last_hash(&self) -> &str {
        &self.tail.1
    }

    /// Entries staged and not written yet.
    pub fn staged(&self) -> u64 {
        self.tail.0 - self.head.entries
    }

    /// Stages `line`, an entry made elsewhere, when it is the next one: its `seq` follows the
    /// last and its `prev` is the last line's hash; anything else is refused, naming what
    /// differs, and nothing is staged. It is written by the next [`Self::commit`].
    pub fn stage(&mut self, line: &str) -> Result<AuditEntry, AuditError> {
        let (entry, hash) = self.check_next(self.tail.0, &self.tail.1, line)?;
        let mut people = self.people_at_tail()?;
        people
            .admit(line, &entry)
            .map_err(|why| AuditError::Forged {
                seq: entry.seq,
                why,
            })?;
        self.staged.extend_from_slice(line.as_bytes());
        self.staged.push(b'\n');
        self.tail = (entry.seq, hash);
        self.tail_people = Some(people);
        Ok(entry)
    }

    /// [`Self::stage`] of many lines, each checked to extend the one before; the entries.
    /// Nothing is staged when one is refused.
    pub fn stage_all<S: AsRef<str>>(&mut self, lines: &[S]) -> Result<Vec<AuditEntry>, AuditError> {
        let (mut seq, mut hash) = self.tail.clone();
        let mut people = self.people_at_tail()?;
        let mut bytes = Vec::new();
        let mut entries = Vec::with_capacity(lines.len());
        for line in lines {
            let line = line.as_ref();
            let (entry, h) = self.check_next(seq, &hash, line)?;
            people
                .admit(line, &entry)
                .map_err(|why| AuditError::Forged {
                    seq: entry.seq,
                    why,
                })?;
            (seq, hash) = (entry.seq, h);
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
            entries.push(entry);
        }
        self.staged.extend_from_slice(&bytes);
        self.tail = (seq, hash);
        self.tail_people = Some(people);
        Ok(entries)
    }

    /// Writes the staged lines, syncs them and saves the head: one write and one fsync.
    pub fn commit(&mut self) -> Result<(), AuditError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.staged);
        let (last, hash) = self.tail.clone();
        if let Err(e) = self.write_adopted(&bytes, last, hash) {
            // What was not written is not the log: the tail is the head again.
            self.tail = (self.head.entries, self.head.last_hash.clone());
            self.tail_people = None;
            return Err(e);
        }
        if let Some(people) = self.tail_people.take() {
            self.remember_people(people);
        }
        Ok(())
    }

    /// Appends `line`, an entry made elsewhere, when it is the next one (see [`Self::stage`]),
    /// with the lines staged before it; nothing is written when it is refused.
    ///
    /// Its signature is checked too (as every staged line's is): an entry in the name of a
    /// person with a registered key that is not signed by it is a forgery, and refused (see
    /// [`keys`]).
    pub fn adopt(&mut self, line: &str) -> Result<AuditEntry, AuditError> {
        let entry = self.stage(line)?;
        self.commit()?;
        Ok(entry)
    }

    /// [`Self::adopt`] of many lines, each checked to extend the one before, written with one
    /// fsync and one head for them all; how many. Nothing is written when one is refused. For
    /// building big logs quickly (benchmarks, tests of scale).
    pub fn adopt_all<S: AsRef<str>>(&mut self, lines: &[S]) -> Result<u64, AuditError> {
        let n = self.stage_all(lines)?.len() as u64;
        self.commit()?;
        Ok(n)
    }

    /// `new` as the entry that would follow this log now (staged lines included): sequence
    /// number, time and link filled in (no host, no nonce).
    pub fn next_entry(&self, new: NewEntry) -> AuditEntry {
        AuditEntry {
            seq: self.tail.0 + 1,
            time: jiff::Timestamp::now(),
            actor: new.actor,
            action: new.action,
            target: new.target,
            before: new.before,
            after: new.after,
            prev: self.tail.1.clone(),
            host: None,
            nonce: None,
            key: None,
            sig: None,
        }
    }

    /// `entry` (one [`Self::next_entry`] made, with its host and nonce) finalized: signed when
    /// its person has a registered key (with this log's signer, which must be that key), and
    /// its line. An entry that would not verify is refused here, before anything is written:
    /// a person with a key on a machine without it, a revoked person, a change of the people
    /// list that is not theirs to make. See [`keys`].
    pub fn seal(&self, entry: AuditEntry) -> Result<(AuditEntry, String), AuditError> {
        let people = self.people_at_tail()?;
        let what = format!("{} {}", entry.action, entry.target);
        let refuse =
            |why: String| AuditError::Signing(format!("{what}: {why}; nothing was recorded"));
        let person = keys::person_of(&entry.actor).to_owned();
        let (entry, line) = match people.needs(&entry).map_err(refuse)? {
            None => {
                let line = entry.to_line().map_err(|e| {
                    AuditError::Signing(format!("cannot encode the audit entry: {e}"))
                })?;
                (entry, line)
            }
            Some(id) => {
                // A key made after this console opened the workspace (`keys new` run while
                // the window is open) is read now.
                let held = self
                    .log
                    .signer
                    .as_deref()
                    .filter(|s| s.person() == person && s.id() == id);
                let fresh = if held.is_none() {
                    keys::keys_dir()
                        .ok()
                        .and_then(|dir| keys::Signer::load(&dir, &person).ok().flatten())
                        .filter(|s| s.id() == id)
                } else {
                    None
                };
                let signer = held.or(fresh.as_ref());
                let Some(signer) = signer else {
                    return Err(refuse(match self.log.signer.as_deref() {
                        Some(s) if s.person() == person => format!(
                            "{person}'s registered key is {id}, but this machine's key for \
                             {person} is {} ({}): an entry in {person}'s name must be signed \
                             with the registered key",
                            s.id(),
                            s.path().display()
                        ),
                        _ => format!(
                            "{person} has a registered key ({id}) in this workspace, but this \
                             console holds no key for {person}: an entry in {person}'s name \
                             must be signed with it (`release-console keys list` shows the \
                             keys)"
                        ),
                    }));
                };
                signer.sign_entry(entry).map_err(AuditError::Signing)?
            }
        };
        // The people list's own rules (who may register or revoke which key).
        people.clone().admit(&line, &entry).map_err(refuse)?;
        Ok((entry, line))
    }

    /// Appends `new` as the next entry (sequence number, time and link filled in; signed as
    /// [`Self::seal`] says), with the lines staged before it.
    pub fn append(&mut self, new: NewEntry) -> Result<AuditEntry, AuditError> {
        let (entry, line) = self.seal(self.next_entry(new))?;
        let hash = crate::sha256_hex(line.as_bytes());
        let mut people = self.people_at_tail()?;
        people.fold(&entry);
        self.staged.extend_from_slice(line.as_bytes());
        self.staged.push(b'\n');
        self.tail = (entry.seq, hash);
        self.tail_people = Some(people);
        self.commit()?;
        Ok(entry)
    }

    /// The people list with the staged lines (see [`Self::people`]).
    fn people_at_tail(&self) -> Result<keys::People, AuditError> {
        match &self.tail_people {
            Some(p) => Ok(p.clone()),
            None => self.people(),
        }
    }

    /// The people list as the log stands now (kept between calls, read from the log when it
    /// changed otherwise).
    fn people(&self) -> Result<keys::People, AuditError> {
        let mut cache = self
            .log
            .people
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.as_ref()
            && c.entries == self.head.entries
            && c.last_hash == self.head.last_hash
        {
            return Ok(c.people.clone());
        }
        let people = self.log.people_through(self.head.entries)?;
        *cache = Some(PeopleAt {
            entries: self.head.entries,
            last_hash: self.head.last_hash.clone(),
            people: people.clone(),
        });
        Ok(people)
    }

    /// Keeps `people` as the list at the log's head.
    fn remember_people(&self, people: keys::People) {
        *self
            .log
            .people
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(PeopleAt {
            entries: self.head.entries,
            last_hash: self.head.last_hash.clone(),
            people,
        });
    }

    /// The last `n` lines of the written log (without their newlines), oldest first; fewer
    /// when the log holds fewer. Read back from the end of the file.
    pub fn last_lines(&mut self, n: u64) -> Result<Vec<String>, AuditError> {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let want = usize::try_from(n.min(self.head.entries)).unwrap_or(usize::MAX);
        if want == 0 {
            return Ok(Vec::new());
        }
        let end = self.head.len_bytes;
        let mut back = 64 * 1024u64;
        loop {
            let from = end.saturating_sub(back);
            let mut bytes = vec![0u8; usize::try_from(end - from).unwrap_or(0)];
            self.file
                .seek(SeekFrom::Start(from))
                .map_err(self.log.io("seek"))?;
            self.file
                .read_exact(&mut bytes)
                .map_err(self.log.io("read"))?;
            // `bytes` ends with a newline; the lines that start after a newline in it (or at
            // the file's start) are whole.
            let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            let whole: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
            let complete = if from == 0 {
                whole.len()
            } else {
                whole.len() - 1
            };
            if complete >= want || from == 0 {
                return whole[whole.len() - want.min(complete)..]
                    .iter()
                    .map(|l| {
                        String::from_utf8(l.to_vec()).map_err(|_| {
                            self.log
                                .tampered(self.head.entries, "a line is not UTF-8 text".into())
                        })
                    })
                    .collect();
            }
            back *= 2;
        }
    }

    /// `line` parsed, when it is the entry after `last` (whose line hashes to `last_hash`), and
    /// its own hash; else the refusal naming what differs.
    fn check_next(
        &self,
        last: u64,
        last_hash: &str,
        line: &str,
    ) -> Result<(AuditEntry, String), AuditError> {
        let next = last + 1;
        let refuse = |message: String| self.log.tampered(next, message);
        if line.contains('\n') {
            return Err(refuse("the entry spans more than one line".into()));
        }
        if let Some(why) = unknown_format(line) {
            return Err(refuse(format!("entry #{next}: {why}")));
        }
        let entry: AuditEntry = serde_json::from_str(line)
            .map_err(|e| refuse(format!("not a valid audit entry: {e}")))?;
        if entry.seq != next {
            return Err(refuse(format!(
                "holds entry #{} where entry #{next} belongs",
                entry.seq
            )));
        }
        if entry.prev != last_hash {
            return Err(refuse(format!(
                "entry #{next} does not follow entry #{last}: it links to {}, but that entry's \
                 hash is {last_hash}",
                entry.prev
            )));
        }
        Ok((entry, crate::sha256_hex(line.as_bytes())))
    }

    /// Appends `bytes` (checked lines ending with entry `last`, whose hash is `hash`), syncs
    /// them and saves the head.
    fn write_adopted(&mut self, bytes: &[u8], last: u64, hash: String) -> Result<(), AuditError> {
        self.file.write_all(bytes).map_err(self.log.io("append"))?;
        self.file.sync_data().map_err(self.log.io("fsync"))?;
        let len = self.head.len_bytes + bytes.len() as u64;
        let stamp = Stamp::of(&self.file).map_err(self.log.io("stat"))?;
        self.head = Head {
            entries: last,
            len_bytes: len,
            last_hash: hash,
            stamp: (stamp.len == len).then_some(stamp),
        };
        // The head is a hint the next holder checks: one a power cut sets back to the one
        // before is read as a crash between an append and its head.
        store::write_json_hint(&self.log.head_path, &self.head)?;
        Ok(())
    }
}

/// Result of a successful chain verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub entries: u64,
    pub last_hash: String,
    /// The entries' signatures, when they were checked ([`AuditLog::verify_signatures`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures: Option<keys::Signatures>,
}

/// An audit log that could not be read, or whose chain is broken.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {action}: {cause}")]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
    /// The chain is broken; `line` is the first bad line (1-based).
    #[error("{path}:{line}: {message}")]
    Tampered {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// An entry that would not verify, about to be written or adopted: in the name of a person
    /// with a key but not signed by it, or a change of the people list that is not its
    /// actor's to make (see [`keys`]).
    #[error("{0}")]
    Signing(String),
    /// An entry made elsewhere, refused as [`Self::Signing`] says, at entry `seq` (the one
    /// refused, among the lines staged at once).
    #[error("{why}")]
    Forged { seq: u64, why: String },
}

/// Handle on a workspace's audit log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    log_path: PathBuf,
    head_path: PathBuf,
    lock_path: PathBuf,
    /// The key this console signs its person's entries with (see [`keys`]).
    signer: Option<std::sync::Arc<keys::Signer>>,
    /// The people list at a point of the log, kept between appends.
    people: std::sync::Arc<std::sync::Mutex<Option<PeopleAt>>>,
}

/// The people list as the log's first `entries` entries (the last hashing to `last_hash`)
/// made it.
#[derive(Debug)]
struct PeopleAt {
    entries: u64,
    last_hash: String,
    people: keys::People,
}

impl AuditLog {
    /// The audit log in workspace folder `root`.
    pub fn in_workspace(root: &Path) -> Self {
        Self {
            log_path: root.join("audit.log"),
            head_path: root.join("audit.head"),
            lock_path: root.join(".audit.lock"),
            signer: None,
            people: std::sync::Arc::default(),
        }
    }

    /// This log, its entries signed with `signer` where they must be (see [`Held::seal`]).
    #[must_use]
    pub fn signed_by(mut self, signer: Option<std::sync::Arc<keys::Signer>>) -> Self {
        self.signer = signer;
        self
    }

    /// The key this console signs with, if it has one.
    pub fn signer(&self) -> Option<&keys::Signer> {
        self.signer.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.log_path
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
        move |cause| AuditError::Io {
            path: self.log_path.clone(),
            action,
            cause,
        }
    }

    fn tampered(&self, line: u64, message: String) -> AuditError {
        AuditError::Tampered {
            path: self.log_path.clone(),
            line,
            message,
        }
    }

    /// Appends one entry durably and returns it as written.
    pub fn append(&self, new: NewEntry) -> Result<AuditEntry, AuditError> {
        self.hold()?.append(new)
        // The lock is released when the held log drops.
    }

    /// The log locked for a writer that decides its entries elsewhere: a shared workspace's
    /// bucket decides the order, and its entries are [`Held::adopt`]ed here as they are. What
    /// crashes left is repaired first, as before an append; a tampered log is refused.
    pub fn hold(&self) -> Result<Held<'_>, AuditError> {
        let lock = self.open_lock()?;
        lock.lock().map_err(self.io("lock"))?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.log_path)
            .map_err(self.io("open"))?;
        let head = self.recover_head(&mut file)?;
        Ok(Held {
            log: self,
            _lock: lock,
            file,
            tail: (head.entries, head.last_hash.clone()),
            tail_people: None,
            head,
            staged: Vec::new(),
        })
    }

    /// How many entries the head records (after [`Self::repair`], the log's length).
    pub fn recorded(&self) -> Result<u64, AuditError> {
        Ok(store::read_json::<Head>(&self.head_path)?.map_or(0, |h| h.entries))
    }

    /// The head to append after. When the log is as the last append left it (its stamp), that
    /// is the head. Otherwise something else changed the log (or a crash came between an
    /// append and its head), so the whole chain is checked first, and what crashes leave is
    /// repaired: a torn last line (cut off before its newline) is removed, and every complete
    /// entry written after the head was last saved is adopted when it chains correctly (each
    /// crash between an append and its head leaves one; any number of crashes in a row leave
    /// as many). Anything else (a broken link, a log shorter than its head, a line the head
    /// names that changed) is tampering and stops appends.
    fn recover_head(&self, file: &mut File) -> Result<Head, AuditError> {
        let stamp = Stamp::of(file).map_err(self.io("stat"))?;
        let head: Option<Head> = store::read_json(&self.head_path)?;
        match &head {
            Some(h)
                if STAMP_PROVES_UNCHANGED && h.stamp == Some(stamp) && h.len_bytes == stamp.len =>
            {
                return Ok(h.clone());
            }
            None if stamp.len == 0 => {
                return Ok(Head {
                    entries: 0,
                    len_bytes: 0,
                    last_hash: GENESIS_HASH.to_owned(),
                    stamp: None,
                });
            }
            _ => {}
        }
        let index = self.index()?;
        if let Some((line, message)) = index.broken() {
            return Err(self.tampered(*line, message.clone()));
        }
        self.check_head(&index, head.as_ref())?;
        if let Some(h) = &head
            && index.len() as u64 > h.entries
        {
            tracing::info!(
                "adopted {} audit entries written after audit.head was last saved (a crash \
                 between an append and its head)",
                index.len() as u64 - h.entries
            );
        }
        if index.is_torn() {
            // A torn write from a crash: it was never acknowledged, so it is dropped.
            file.set_len(index.end())
                .map_err(self.io("truncate torn line"))?;
            file.sync_data().map_err(self.io("fsync"))?;
        }
        Ok(Head {
            entries: index.len() as u64,
            len_bytes: index.end(),
            last_hash: index.last_hash().to_owned(),
            stamp: None,
        })
    }

    /// Repairs what crashes leave in the log (see [`Self::recover_head`]: a torn last line is
    /// dropped, correctly chained entries past the head are adopted) and saves the head, so
    /// that the log verifies without waiting for the next append. Refuses, changing nothing,
    /// when the log was tampered with.
    pub fn repair(&self) -> Result<(), AuditError> {
        let lock = self.open_lock()?;
        lock.lock().map_err(self.io("lock"))?;
        let mut file = match OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.log_path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io("open")(e)),
        };
        let head = self.recover_head(&mut file)?;
        if head.stamp.is_some() || head.entries == 0 {
            // As the last append left it (or empty): nothing to repair.
            return Ok(());
        }
        let stamp = Stamp::of(&file).map_err(self.io("stat"))?;
        store::write_json(
            &self.head_path,
            &Head {
                stamp: (stamp.len == head.len_bytes).then_some(stamp),
                ..head
            },
        )?;
        Ok(())
    }

    /// The head against the chain `index` read: it may not be missing (when there are
    /// entries), name more entries than there are, or name a hash its line no longer has.
    /// Entries after the one it names are adopted when the chain holds: a crash between an
    /// append and its head leaves one, and crashes in a row leave more. Entries appended by
    /// hand that chain correctly look the same and are adopted too; edits of earlier lines and
    /// truncation are still caught, by the chain and by the head.
    fn check_head(&self, index: &AuditIndex, head: Option<&Head>) -> Result<(), AuditError> {
        let count = index.len() as u64;
        match head {
            None if count == 0 => Ok(()),
            None => Err(self.tampered(
                count,
                "audit.head is missing: cannot tell whether entries were removed from the end"
                    .into(),
            )),
            Some(h) if h.entries > count => Err(self.tampered(
                count + 1,
                format!(
                    "audit.log ends after {count} entries but audit.head records {}: the log \
                     was truncated",
                    h.entries
                ),
            )),
            Some(h)
                if h.entries > 0
                    && self.entry_hash(index, h.entries)?.as_deref()
                        != Some(h.last_hash.as_str()) =>
            {
                Err(self.tampered(
                    h.entries,
                    format!(
                        "line {} was changed after it was written: it does not match the hash \
                         recorded in audit.head",
                        h.entries
                    ),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    /// The chain and the head as `index` (kept up to date with [`Self::refresh`]) finds them.
    pub fn status(&self, index: &AuditIndex) -> Result<Verified, AuditError> {
        if let Some((line, message)) = index.chain_error() {
            return Err(self.tampered(line, message));
        }
        let lock = self.open_lock()?;
        // A shared lock: no append is half done while the log and its head are compared.
        lock.lock_shared().map_err(self.io("lock"))?;
        // An index read before the latest append is checked against the head when it is
        // brought up to date: a head that moved on since is not a log that lost entries.
        if self.is_current(index)? {
            let head: Option<Head> = store::read_json(&self.head_path)?;
            self.check_head(index, head.as_ref())?;
        }
        Ok(Verified {
            entries: index.len() as u64,
            last_hash: index.last_hash().to_owned(),
            signatures: None,
        })
    }

    fn read_log(&self) -> Result<Vec<u8>, AuditError> {
        match std::fs::read(&self.log_path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io("read")(e)),
        }
    }

    /// All entries, oldest first. Fails on the first line that is not an entry.
    pub fn entries(&self) -> Result<Vec<AuditEntry>, AuditError> {
        self.parse_entries(&self.read_log()?)
    }

    fn parse_entries(&self, bytes: &[u8]) -> Result<Vec<AuditEntry>, AuditError> {
        let mut out = Vec::new();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry = serde_json::from_slice(line).map_err(|e| {
                self.tampered(i as u64 + 1, format!("not a valid audit entry: {e}"))
            })?;
            out.push(entry);
        }
        Ok(out)
    }

    /// Checks the whole chain and the head; names the first bad line. Reads the log once,
    /// holding a shared lock so that no append is half done meanwhile.
    pub fn verify(&self) -> Result<Verified, AuditError> {
        let lock = self.open_lock()?;
        lock.lock_shared().map_err(self.io("lock"))?;
        let index = self.index()?;
        self.status(&index)
    }
}

/// Writes a log of `entries` correctly chained entries, and its head, in workspace folder `root`
/// (replacing its log): a `workspace.init`, then checklist ticks and unticks by three actors,
/// about 290 bytes each. For benchmarks and tests of scale.
pub fn write_synthetic(root: &Path, entries: u64) -> Result<(), AuditError> {
    let log = AuditLog::in_workspace(root);
    let file = File::create(&log.log_path).map_err(log.io("create"))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut prev = GENESIS_HASH.to_owned();
    let mut len = 0u64;
    let start = jiff::Timestamp::now();
    for seq in 1..=entries {
        let (action, actor) = if seq == 1 {
            ("workspace.init", "console")
        } else {
            let actor = ["alice", "bob", "carol"][usize::try_from(seq % 3).unwrap_or(0)];
            (
                if seq % 2 == 0 {
                    "checklist.tick"
                } else {
                    "checklist.untick"
                },
                actor,
            )
        };
        let entry = AuditEntry {
            seq,
            time: start,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: format!("1.4.0/pre.item-{}", seq % 7),
            before: serde_json::json!({"done": seq % 2 == 1}),
            after: serde_json::json!({"done": seq % 2 == 0, "note": format!("synthetic entry {seq}")}),
            prev: prev.clone(),
            host: None,
            nonce: None,
            key: None,
            sig: None,
        };
        let line = serde_json::to_string(&entry).map_err(|e| log.io("encode")(e.into()))?;
        prev = crate::sha256_hex(line.as_bytes());
        out.write_all(line.as_bytes()).map_err(log.io("write"))?;
        out.write_all(b"\n").map_err(log.io("write"))?;
        len += line.len() as u64 + 1;
    }
    let file = out
        .into_inner()
        .map_err(|e| log.io("write")(e.into_error()))?;
    file.sync_all().map_err(log.io("fsync"))?;
    let stamp = Stamp::of(&file).map_err(log.io("stat"))?;
    store::write_json(
        &log.head_path,
        &Head {
            entries,
            len_bytes: len,
            last_hash: prev,
            stamp: Some(stamp),
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> NewEntry {
        NewEntry {
            actor: "alice".into(),
            action: action.into(),
            target: "0.1.0/x".into(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"done": true}),
        }
    }

    #[test]
    fn torn_line_from_a_crash_is_dropped_on_next_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        log.append(entry("a")).expect("append");
        let mut f = OpenOptions::new()
            .append(true)
            .open(log.path())
            .expect("open");
        f.write_all(b"{\"seq\":2,\"ti").expect("torn write");
        drop(f);
        assert!(matches!(
            log.verify(),
            Err(AuditError::Tampered { line: 2, .. })
        ));
        let e = log.append(entry("b")).expect("append after crash");
        assert_eq!(e.seq, 2);
        assert_eq!(log.verify().expect("intact").entries, 2);
    }

    #[test]
    fn many_lines_are_adopted_at_once_only_when_each_extends_the_chain() {
        let made = tempfile::tempdir().expect("tempdir");
        let source = AuditLog::in_workspace(made.path());
        for action in ["a", "b", "c"] {
            source.append(entry(action)).expect("append");
        }
        let text = std::fs::read_to_string(source.path()).expect("log");
        let lines: Vec<&str> = text.lines().collect();

        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        log.append(entry("x")).expect("append");
        let before = std::fs::read(log.path()).expect("log");
        // Another log's entries do not extend this one: refused, nothing written.
        let e = log
            .hold()
            .expect("hold")
            .adopt_all(&lines)
            .expect_err("another chain");
        assert!(e.to_string().contains("where entry #2 belongs"), "{e}");
        assert_eq!(std::fs::read(log.path()).expect("log"), before);

        let empty = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(empty.path());
        // Out of order: the second line is refused, and the first is not written either.
        let swapped = [lines[0], lines[2], lines[1]];
        let e = log
            .hold()
            .expect("hold")
            .adopt_all(&swapped)
            .expect_err("order");
        assert!(e.to_string().contains(":2:"), "{e}");
        assert_eq!(log.recorded().expect("head"), 0);
        assert!(std::fs::read(log.path()).expect("log").is_empty());

        assert_eq!(
            log.hold().expect("hold").adopt_all(&lines).expect("adopt"),
            3
        );
        assert_eq!(std::fs::read_to_string(log.path()).expect("log"), text);
        assert_eq!(log.verify().expect("intact").entries, 3);
        log.append(entry("d"))
            .expect("an append builds on the adopted lines");
        assert_eq!(log.verify().expect("intact").entries, 4);
    }

    #[test]
    fn entry_written_before_head_update_is_adopted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        log.append(entry("a")).expect("append");
        let head = std::fs::read(dir.path().join("audit.head")).expect("head");
        log.append(entry("b")).expect("append");
        // Simulate a crash after the line was synced but before the head was renamed.
        std::fs::write(dir.path().join("audit.head"), head).expect("restore old head");
        assert_eq!(log.verify().expect("accepted").entries, 2);
        assert_eq!(log.append(entry("c")).expect("append").seq, 3);
        assert_eq!(log.verify().expect("intact").entries, 3);
    }

    #[test]
    fn any_number_of_chained_entries_past_the_head_are_adopted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        log.append(entry("a")).expect("append");
        let head = std::fs::read(dir.path().join("audit.head")).expect("head");
        for _ in 0..4 {
            log.append(entry("b")).expect("append");
        }
        // Four crashes in a row, each between its append and its head: the head is the first.
        std::fs::write(dir.path().join("audit.head"), &head).expect("old head");
        assert_eq!(log.verify().expect("adopted").entries, 5);
        assert_eq!(log.append(entry("c")).expect("append").seq, 6);
        assert_eq!(log.verify().expect("intact").entries, 6);

        // `repair` saves the head without an append, so the stamp is right again.
        std::fs::write(dir.path().join("audit.head"), &head).expect("old head");
        log.repair().expect("repair");
        let saved: Head = store::read_json(&dir.path().join("audit.head"))
            .expect("read")
            .expect("head");
        assert_eq!(saved.entries, 6);
        assert!(saved.stamp.is_some(), "{saved:?}");
    }

    #[test]
    fn an_old_head_whose_line_was_changed_is_still_caught() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        log.append(entry("a")).expect("append");
        log.append(entry("approve")).expect("append");
        let head = std::fs::read(dir.path().join("audit.head")).expect("head");
        for _ in 0..3 {
            log.append(entry("b")).expect("append");
        }
        std::fs::write(dir.path().join("audit.head"), &head).expect("old head");
        // Line 2, the one the (old) head names, is edited keeping its length; the links after
        // it are rewritten too, so only the head can tell.
        let text = std::fs::read_to_string(log.path()).expect("log");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[1] = lines[1].replacen("\"approve\"", "\"disavow\"", 1);
        for i in 2..lines.len() {
            let prev = crate::sha256_hex(lines[i - 1].as_bytes());
            let mut e: AuditEntry = serde_json::from_str(&lines[i]).expect("entry");
            e.prev = prev;
            lines[i] = serde_json::to_string(&e).expect("line");
        }
        std::fs::write(log.path(), lines.join("\n") + "\n").expect("rewrite");
        let err = log.verify().expect_err("caught");
        assert!(
            err.to_string()
                .contains("line 2 was changed after it was written"),
            "{err}"
        );
        assert!(log.append(entry("c")).is_err(), "appends stop");
    }

    /// Appends `others_before` entries, one "approve", then `others_after`; edits the
    /// approval keeping its length; the next append is refused naming its line.
    fn same_length_edit_stops_the_next_append(others_before: u64, others_after: u64) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        for _ in 0..others_before {
            log.append(entry("a")).expect("append");
        }
        log.append(entry("approve")).expect("append");
        for _ in 0..others_after {
            log.append(entry("b")).expect("append");
        }
        let text = std::fs::read_to_string(log.path()).expect("log");
        let edited = text.replacen("\"approve\"", "\"disavow\"", 1);
        assert_eq!(edited.len(), text.len());
        std::fs::write(log.path(), edited).expect("edit");
        let err = log.append(entry("c")).expect_err("append refused");
        let line = others_before + 1;
        assert!(
            err.to_string()
                .contains(&format!("line {line} was changed after it was written")),
            "{err}"
        );
        assert_eq!(
            log.entries().expect("entries").len() as u64,
            others_before + 1 + others_after,
            "nothing was built on the edit"
        );
    }

    #[test]
    fn a_same_length_edit_of_the_last_line_stops_the_next_append() {
        same_length_edit_stops_the_next_append(1, 0);
    }

    #[test]
    fn a_same_length_edit_of_an_earlier_line_stops_the_next_append() {
        same_length_edit_stops_the_next_append(0, 5);
    }

    #[test]
    fn a_refresh_reads_only_what_was_appended_and_rereads_after_an_outside_edit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        for _ in 0..3 {
            log.append(entry("a")).expect("append");
        }
        let mut index = log.index().expect("index");
        let generation = index.generation();
        log.append(entry("tick")).expect("append");
        assert!(!log.is_current(&index).expect("stat"));
        log.refresh(&mut index).expect("refresh");
        assert_eq!(index.generation(), generation, "extended, not read again");
        assert_eq!(index.len(), 4);
        assert_eq!(log.status(&index).expect("intact").entries, 4);
        assert_eq!(index.action_names(), ["a", "tick"]);
        let shown = log.read_range(&index, 2..10).expect("read");
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[1].as_ref().expect("entry").action, "tick");

        // An editor rewrites line 2 (same length): the next refresh reads it all and says so.
        let text = std::fs::read_to_string(log.path()).expect("log");
        let lines: Vec<&str> = text.lines().collect();
        let edited = text.replacen(lines[1], &lines[1].replacen("alice", "mal0r", 1), 1);
        assert_eq!(edited.len(), text.len());
        std::fs::write(log.path(), edited).expect("edit");
        log.refresh(&mut index).expect("refresh");
        assert_ne!(index.generation(), generation);
        let err = log.status(&index).expect_err("broken");
        assert!(err.to_string().contains(":2: line 2 was changed"), "{err}");
    }

    #[test]
    fn a_log_checked_in_parallel_parts_finds_the_same_first_break() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        // Over PARALLEL_FROM_BYTES, so the pass is cut into parts wherever the cores say.
        write_synthetic(dir.path(), 40_000).expect("synthetic");
        assert!(std::fs::metadata(log.path()).expect("log").len() > 8 * 1024 * 1024);
        assert_eq!(log.verify().expect("intact").entries, 40_000);
        let clean = std::fs::read_to_string(log.path()).expect("log");
        let starts: Vec<usize> = std::iter::once(0)
            .chain(clean.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        for line in [2usize, 19_999, 20_000, 20_001, 39_999] {
            // One byte of line `line` changes (keeping it valid JSON): `line` is named.
            let at = starts[line - 1] + clean[starts[line - 1]..].find("entry ").expect("note") + 6;
            let mut bytes = clean.clone().into_bytes();
            bytes[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
            std::fs::write(log.path(), &bytes).expect("tamper");
            let err = log.verify().expect_err("tampered");
            assert!(
                err.to_string()
                    .contains(&format!(":{line}: line {line} was changed")),
                "line {line}: {err}"
            );
        }
        // A line removed in the middle: the line after names the hole.
        let mut text = clean.clone();
        text.replace_range(starts[25_000 - 1]..starts[25_000], "");
        std::fs::write(log.path(), text).expect("remove");
        let err = log.verify().expect_err("tampered");
        assert!(
            err.to_string()
                .contains("holds entry #25001 where entry #25000 belongs"),
            "{err}"
        );
    }
}
