//! The audit log read at scale: one streaming pass checks every hash link and records where
//! each entry starts, so the whole log never sits in memory and an entry is parsed only when
//! it is shown.
//!
//! A pass hashes each line and reads three fields of it (`seq`, `action`, `prev`); the other
//! fields are skipped by the JSON parser without being built. Large logs are cut at line
//! boundaries into one part per core the machine offers, checked in parallel, and the parts'
//! seams checked after (the first line of a part must link to the last of the one before).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{AuditEntry, AuditError, AuditLog, GENESIS_HASH, Head, Stamp};

/// Below this a log is checked on one thread: starting threads costs more than it saves.
const PARALLEL_FROM_BYTES: u64 = 8 * 1024 * 1024;
/// How much of the log a pass holds at once.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// Where each entry of the log starts, what action it is, and the chain's state, for a log of
/// any size (about 10 bytes an entry).
#[derive(Debug, Clone, Default)]
pub struct AuditIndex {
    /// Offset of each entry's line; `starts[i]` is entry `i + 1`.
    starts: Chunked<u64>,
    /// Offset just past the last complete line.
    end: u64,
    /// Each entry's action, as an index into `action_names`.
    actions: Chunked<u16>,
    action_names: Vec<String>,
    /// Hash of the last line and of the one before it (a head may lag one entry behind).
    last_hash: String,
    before_last_hash: String,
    /// The first broken link: line number and what is wrong.
    broken: Option<(u64, String)>,
    /// Bytes after the last newline (a write cut off mid-line).
    torn: bool,
    /// The log file as it was when indexed.
    stamp: Option<Stamp>,
    /// Which full read of the log this index extends (entries of another may differ).
    generation: u64,
}

/// A growing list in shared chunks: a copy (the window keeps one per snapshot) copies only
/// the last, unfinished chunk, so a reload after an append costs the same at any log size.
#[derive(Debug, Clone)]
struct Chunked<T> {
    full: Vec<Arc<[T]>>,
    tail: Vec<T>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            full: Vec::new(),
            tail: Vec::new(),
        }
    }
}

/// Items per shared chunk.
const SHARED_CHUNK: usize = 1 << 16;

impl<T: Copy> Chunked<T> {
    fn len(&self) -> usize {
        self.full.len() * SHARED_CHUNK + self.tail.len()
    }

    fn is_empty(&self) -> bool {
        self.full.is_empty() && self.tail.is_empty()
    }

    fn push(&mut self, value: T) {
        self.tail.push(value);
        if self.tail.len() == SHARED_CHUNK {
            self.full.push(Arc::from(std::mem::take(&mut self.tail)));
        }
    }

    fn extend(&mut self, values: impl IntoIterator<Item = T>) {
        for v in values {
            self.push(v);
        }
    }

    fn get(&self, i: usize) -> Option<T> {
        let (chunk, at) = (i / SHARED_CHUNK, i % SHARED_CHUNK);
        match self.full.get(chunk) {
            Some(c) => c.get(at).copied(),
            None if chunk == self.full.len() => self.tail.get(at).copied(),
            None => None,
        }
    }

    fn last(&self) -> Option<T> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.full
            .iter()
            .flat_map(|c| c.iter().copied())
            .chain(self.tail.iter().copied())
    }
}

impl<T: Copy> std::ops::Index<usize> for Chunked<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        let (chunk, at) = (i / SHARED_CHUNK, i % SHARED_CHUNK);
        match self.full.get(chunk) {
            Some(c) => &c[at],
            None => &self.tail[at],
        }
    }
}

/// Full reads of any log so far, to tell indexes apart.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The three fields a pass reads from each line; every other field must be there, and is
/// skipped without being built.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "the skipped fields are read only to check that they are there"
)]
struct Link<'a> {
    seq: u64,
    time: IgnoredAny,
    actor: IgnoredAny,
    #[serde(borrow)]
    action: Cow<'a, str>,
    target: IgnoredAny,
    before: IgnoredAny,
    after: IgnoredAny,
    #[serde(borrow)]
    prev: Cow<'a, str>,
    #[serde(default)]
    host: IgnoredAny,
    #[serde(default)]
    nonce: IgnoredAny,
    #[serde(default)]
    key: IgnoredAny,
    #[serde(default)]
    sig: IgnoredAny,
}

/// One part of a pass: what it found in its byte range.
#[derive(Debug, Default)]
struct Part {
    starts: Vec<u64>,
    actions: Vec<u16>,
    names: Vec<String>,
    /// `seq` and `prev` of its first line, when it is an entry (checked against the part
    /// before).
    first: Option<(u64, String)>,
    last_hash: String,
    before_last_hash: String,
    /// First break inside the part: index of the line in the part, and the message.
    broken: Option<(usize, Break)>,
    end: u64,
    torn: bool,
}

#[derive(Debug)]
enum Break {
    NotAnEntry(String),
    /// The line holds this sequence number.
    Seq(u64),
    /// The line's `prev` is not the hash of the line before.
    Link,
}

impl Part {
    fn intern(&mut self, map: &mut HashMap<String, u16>, action: &str) -> u16 {
        if let Some(&id) = map.get(action) {
            return id;
        }
        let id = u16::try_from(self.names.len()).unwrap_or(u16::MAX);
        if id < u16::MAX {
            self.names.push(action.to_owned());
            map.insert(action.to_owned(), id);
        }
        id
    }

    /// Checks the lines of `file` in `range` (which starts at a line start), as if the line
    /// before the range: `expected` is the sequence number and `prev` hash its first line must
    /// have, or `None` when that is not known yet (the seam is checked after).
    fn scan(
        file: &mut File,
        range: Range<u64>,
        mut expected: Option<(u64, String)>,
    ) -> std::io::Result<Self> {
        let mut part = Self {
            end: range.start,
            ..Self::default()
        };
        let mut names = HashMap::new();
        file.seek(SeekFrom::Start(range.start))?;
        let mut reader = file.take(range.end - range.start);
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut filled = 0;
        let mut offset = range.start;
        loop {
            let n = reader.read(&mut buf[filled..])?;
            filled += n;
            let mut at = 0;
            while let Some(nl) = memchr::memchr(b'\n', &buf[at..filled]) {
                let line = &buf[at..at + nl];
                part.line(offset, line, &mut expected, &mut names);
                offset += nl as u64 + 1;
                at += nl + 1;
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
            if n == 0 {
                break;
            }
            if filled == buf.len() {
                // One line longer than the buffer: grow it (the console never writes one).
                buf.resize(buf.len() * 2, 0);
            }
        }
        part.end = offset;
        part.torn = filled > 0;
        Ok(part)
    }

    fn line(
        &mut self,
        offset: u64,
        line: &[u8],
        expected: &mut Option<(u64, String)>,
        names: &mut HashMap<String, u16>,
    ) {
        let index = self.starts.len();
        self.starts.push(offset);
        let hash = crate::sha256_hex(line);
        match serde_json::from_slice::<Link<'_>>(line) {
            Ok(entry) => {
                let id = self.intern(names, &entry.action);
                self.actions.push(id);
                if index == 0 {
                    self.first = Some((entry.seq, entry.prev.clone().into_owned()));
                }
                if self.broken.is_none()
                    && let Some((seq, prev)) = expected.as_ref()
                {
                    if entry.seq != *seq {
                        self.broken = Some((index, Break::Seq(entry.seq)));
                    } else if *entry.prev != **prev {
                        self.broken = Some((index, Break::Link));
                    }
                }
                *expected = Some((entry.seq.saturating_add(1), hash.clone()));
            }
            Err(e) => {
                self.actions.push(u16::MAX);
                if self.broken.is_none() {
                    self.broken = Some((index, Break::NotAnEntry(e.to_string())));
                }
                // What follows cannot be checked against this line.
                *expected = None;
            }
        }
        self.before_last_hash = std::mem::replace(&mut self.last_hash, hash);
    }
}

fn describe(line: u64, why: &Break) -> (u64, String) {
    match why {
        Break::NotAnEntry(e) => (line, format!("not a valid audit entry: {e}")),
        Break::Seq(seq) => (
            line,
            format!(
                "holds entry #{seq} where entry #{line} belongs: a line was deleted, inserted or \
                 moved"
            ),
        ),
        Break::Link => {
            let bad = line.saturating_sub(1).max(1);
            (
                bad,
                format!(
                    "line {bad} was changed after it was written: the hash recorded in line \
                     {line} does not match it"
                ),
            )
        }
    }
}

/// Offsets that cut `range` of `file` (which starts at a line start) into `parts` ranges at
/// line starts.
fn split_points(file: &mut File, range: Range<u64>, parts: u64) -> std::io::Result<Vec<u64>> {
    let (from, len) = (range.start, range.end);
    let mut points = vec![from];
    let mut probe = vec![0u8; 64 * 1024];
    for k in 1..parts {
        let mut at = (from + (len - from) / parts * k).max(*points.last().unwrap_or(&from));
        file.seek(SeekFrom::Start(at))?;
        let cut = loop {
            let n = file.read(&mut probe)?;
            if n == 0 {
                break None;
            }
            if let Some(nl) = memchr::memchr(b'\n', &probe[..n]) {
                break Some(at + nl as u64 + 1);
            }
            at += n as u64;
        };
        match cut {
            Some(c) if c < len => points.push(c),
            _ => break,
        }
    }
    points.push(len);
    points.dedup();
    Ok(points)
}

impl AuditIndex {
    /// Which full read of the log this index extends: entries shown from an index of another
    /// generation are read again.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of complete entries.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Every action in the log, sorted.
    pub fn action_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.action_names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Entry numbers (0-based) whose action is `action`, oldest first.
    pub fn with_action(&self, action: &str) -> Vec<u32> {
        let Some(id) = self.action_names.iter().position(|a| a == action) else {
            return Vec::new();
        };
        let id = u16::try_from(id).unwrap_or(u16::MAX);
        self.actions
            .iter()
            .enumerate()
            .filter(|&(_, a)| a == id)
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect()
    }

    /// Hash of the last entry's line (the genesis hash for an empty log).
    pub fn last_hash(&self) -> &str {
        if self.starts.is_empty() {
            GENESIS_HASH
        } else {
            &self.last_hash
        }
    }

    /// The chain's first break, as `(line, message)`.
    pub(super) fn chain_error(&self) -> Option<(u64, String)> {
        if let Some(b) = &self.broken {
            return Some(b.clone());
        }
        self.torn.then(|| {
            (
                self.len() as u64 + 1,
                "incomplete entry (cut off mid-line)".to_owned(),
            )
        })
    }

    /// The first broken link, not counting a torn last line.
    pub(super) fn broken(&self) -> Option<&(u64, String)> {
        self.broken.as_ref()
    }

    pub(super) fn end(&self) -> u64 {
        self.end
    }

    pub(super) fn is_torn(&self) -> bool {
        self.torn
    }

    /// Hash of entry `n` (1-based), when the index still knows it (the last two).
    pub(super) fn hash_of(&self, n: u64) -> Option<&str> {
        let len = self.len() as u64;
        if n == 0 {
            Some(GENESIS_HASH)
        } else if n == len {
            Some(&self.last_hash)
        } else if n + 1 == len {
            Some(&self.before_last_hash)
        } else {
            None
        }
    }

    /// Adds `part` (scanned right after what the index holds) to the index.
    fn absorb(&mut self, part: Part) {
        let base = self.len() as u64;
        let first_is_bad = matches!(part.broken, Some((0, Break::NotAnEntry(_))));
        if self.broken.is_none()
            && !first_is_bad
            && let Some((seq, prev)) = &part.first
        {
            let n = base + 1;
            let expected_prev = self.last_hash();
            if *seq != n {
                self.broken = Some(describe(n, &Break::Seq(*seq)));
            } else if prev != expected_prev {
                self.broken = Some(describe(n, &Break::Link));
            }
        }
        if self.broken.is_none()
            && let Some((i, why)) = &part.broken
        {
            self.broken = Some(describe(base + *i as u64 + 1, why));
        }
        let remap: Vec<u16> = part
            .names
            .iter()
            .map(|name| {
                self.action_names
                    .iter()
                    .position(|a| a == name)
                    .unwrap_or_else(|| {
                        self.action_names.push(name.clone());
                        self.action_names.len() - 1
                    })
            })
            .map(|i| u16::try_from(i).unwrap_or(u16::MAX))
            .collect();
        self.actions.extend(
            part.actions
                .iter()
                .map(|&a| remap.get(usize::from(a)).copied().unwrap_or(u16::MAX)),
        );
        match part.starts.len() {
            0 => {}
            1 => {
                self.before_last_hash = std::mem::take(&mut self.last_hash);
                self.last_hash = part.last_hash;
            }
            _ => {
                self.last_hash = part.last_hash;
                self.before_last_hash = part.before_last_hash;
            }
        }
        self.starts.extend(part.starts);
        self.end = part.end;
        self.torn = part.torn;
    }
}

impl AuditLog {
    fn open_log(&self) -> Result<Option<File>, AuditError> {
        match File::open(&self.log_path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("open")(e)),
        }
    }

    /// Reads the whole log once: every link checked, every entry's offset recorded. The head
    /// is not consulted (see [`Self::check_head`]).
    pub fn index(&self) -> Result<AuditIndex, AuditError> {
        let Some(mut file) = self.open_log()? else {
            return Ok(AuditIndex::default());
        };
        let stamp = Stamp::of(&file).map_err(self.io("stat"))?;
        let mut index = AuditIndex {
            stamp: Some(stamp),
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..AuditIndex::default()
        };
        self.scan_into(&mut index, &mut file, stamp.len)?;
        Ok(index)
    }

    /// Scans from `index.end` to `len` and adds what it finds.
    fn scan_into(
        &self,
        index: &mut AuditIndex,
        file: &mut File,
        len: u64,
    ) -> Result<(), AuditError> {
        let from = index.end;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u64;
        let parts = if len - from >= PARALLEL_FROM_BYTES {
            cores.clamp(1, 8)
        } else {
            1
        };
        if parts == 1 {
            let link = Some((index.len() as u64 + 1, index.last_hash().to_owned()));
            let part = Part::scan(file, from..len, link).map_err(self.io("read"))?;
            index.absorb(part);
            return Ok(());
        }
        let points = split_points(file, from..len, parts).map_err(self.io("read"))?;
        let scanned: Vec<std::io::Result<Part>> = std::thread::scope(|scope| {
            let handles: Vec<_> = points
                .windows(2)
                .map(|w| {
                    let range = w[0]..w[1];
                    let path = self.log_path.clone();
                    scope.spawn(move || {
                        let mut f = File::open(path)?;
                        Part::scan(&mut f, range, None)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|payload| {
                        let message = payload
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        Err(std::io::Error::other(format!(
                            "the check of part of the log panicked: {message}"
                        )))
                    })
                })
                .collect()
        });
        for part in scanned {
            index.absorb(part.map_err(self.io("read"))?);
        }
        Ok(())
    }

    /// Brings `index` up to date with the log: when the log was last changed by an append of
    /// the console (the head's stamp says so) and still starts with what the index holds, only
    /// the appended bytes are read; anything else is read again from the start.
    pub fn refresh(&self, index: &mut AuditIndex) -> Result<(), AuditError> {
        let lock = self.open_lock()?;
        // A shared lock: no append is half done while the log and its head are compared.
        lock.lock_shared().map_err(self.io("lock"))?;
        let Some(mut file) = self.open_log()? else {
            *index = AuditIndex::default();
            return Ok(());
        };
        let stamp = Stamp::of(&file).map_err(self.io("stat"))?;
        // Where a stamp cannot prove the log unchanged (Windows), the log is read on from the
        // last verified point as when it differs.
        if super::STAMP_PROVES_UNCHANGED && index.stamp == Some(stamp) {
            return Ok(());
        }
        let head: Option<Head> = crate::store::read_json(&self.head_path)?;
        let appended_by_console = head.as_ref().and_then(|h| h.stamp) == Some(stamp);
        let extends = index.stamp.is_some_and(|s| s.same_file(&stamp))
            && stamp.len >= index.end
            && !index.torn
            && self.last_line_hash(&mut file, index)? == index.last_hash();
        if !(appended_by_console && extends) {
            *index = self.index()?;
            return Ok(());
        }
        self.scan_into(index, &mut file, stamp.len)?;
        index.stamp = Some(stamp);
        Ok(())
    }

    /// Whether the log is exactly as `index` read it (nothing appended or changed since).
    pub fn is_current(&self, index: &AuditIndex) -> Result<bool, AuditError> {
        match File::open(&self.log_path).and_then(|f| Stamp::of(&f)) {
            Ok(stamp) => Ok(index.stamp == Some(stamp)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(index.stamp.is_none() && index.is_empty())
            }
            Err(e) => Err(self.io("stat")(e)),
        }
    }

    /// The hash of entry `n` (1-based) of the log `index` read: the index knows the last two;
    /// an earlier one is read back from the file. `None` when the log has no such entry.
    pub(super) fn entry_hash(
        &self,
        index: &AuditIndex,
        n: u64,
    ) -> Result<Option<String>, AuditError> {
        if let Some(hash) = index.hash_of(n) {
            return Ok(Some(hash.to_owned()));
        }
        let Some(i) = n
            .checked_sub(1)
            .filter(|i| *i < index.len() as u64)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return Ok(None);
        };
        let Some(mut file) = self.open_log()? else {
            return Ok(None);
        };
        let start = index.starts[i];
        let end = index.starts.get(i + 1).unwrap_or(index.end);
        let mut line = vec![0u8; usize::try_from(end.saturating_sub(start + 1)).unwrap_or(0)];
        file.seek(SeekFrom::Start(start)).map_err(self.io("seek"))?;
        file.read_exact(&mut line).map_err(self.io("read"))?;
        Ok(Some(crate::sha256_hex(&line)))
    }

    /// Streams the entries from byte `offset` (a point an earlier call returned; 0: the start)
    /// to `visit`, one at a time, and returns the offset after the last whole line and the
    /// last sequence number visited. `next_seq` is the sequence number expected first: when
    /// the log at `offset` does not start there (it was replaced), the log is read from the
    /// start and entries before `next_seq` are skipped. Only lines `keep` accepts (it sees the
    /// raw line) are parsed and visited, so a caller that wants a few actions does not build
    /// every entry. A line being appended is left for the next call; a kept line that is not
    /// an entry is an error.
    pub fn scan_from(
        &self,
        offset: u64,
        next_seq: u64,
        keep: &dyn Fn(&[u8]) -> bool,
        visit: &mut dyn FnMut(AuditEntry) -> Result<(), AuditError>,
    ) -> Result<(u64, u64), AuditError> {
        let Some(mut file) = self.open_log()? else {
            return Ok((0, next_seq.saturating_sub(1)));
        };
        let len = file.metadata().map_err(self.io("stat"))?.len();
        let mut from = if offset <= len { offset } else { 0 };
        if from > 0 {
            // The entry at `offset` must be the one expected, else the log was replaced.
            let mut reader = std::io::BufReader::new(&mut file);
            reader
                .seek(SeekFrom::Start(from))
                .map_err(self.io("seek"))?;
            let mut line = Vec::new();
            std::io::BufRead::read_until(&mut reader, b'\n', &mut line).map_err(self.io("read"))?;
            let fits = line.last() != Some(&b'\n')
                || serde_json::from_slice::<AuditEntry>(&line[..line.len() - 1])
                    .is_ok_and(|e| e.seq == next_seq);
            if !fits {
                from = 0;
            }
        }
        file.seek(SeekFrom::Start(from)).map_err(self.io("seek"))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file.take(len - from));
        let mut line = Vec::new();
        let mut at = from;
        let mut last = next_seq.saturating_sub(1);
        loop {
            line.clear();
            let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut line)
                .map_err(self.io("read"))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            if !keep(&line[..n - 1]) {
                at += n as u64;
                continue;
            }
            let entry: AuditEntry = serde_json::from_slice(&line[..n - 1]).map_err(|e| {
                self.tampered(
                    last + 1,
                    format!("after byte {at}: not a valid audit entry: {e}"),
                )
            })?;
            at += n as u64;
            if entry.seq >= next_seq {
                last = entry.seq;
                visit(entry)?;
            }
        }
        Ok((at, last))
    }

    /// The hash of the line the index holds last, read back from the file.
    fn last_line_hash(&self, file: &mut File, index: &AuditIndex) -> Result<String, AuditError> {
        let Some(start) = index.starts.last() else {
            return Ok(GENESIS_HASH.to_owned());
        };
        let mut line = vec![0u8; usize::try_from(index.end - start - 1).unwrap_or(0)];
        file.seek(SeekFrom::Start(start)).map_err(self.io("seek"))?;
        file.read_exact(&mut line).map_err(self.io("read"))?;
        Ok(crate::sha256_hex(&line))
    }

    /// The sequence number the next entry will have and the byte offset where it will start:
    /// the log's end, read from its last line.
    pub fn tail(&self) -> Result<(u64, u64), AuditError> {
        let Some(mut file) = self.open_log()? else {
            return Ok((1, 0));
        };
        let len = file.metadata().map_err(self.io("stat"))?.len();
        let mut back = 4096u64;
        loop {
            let from = len.saturating_sub(back);
            let mut bytes = Vec::new();
            file.seek(SeekFrom::Start(from)).map_err(self.io("seek"))?;
            file.read_to_end(&mut bytes).map_err(self.io("read"))?;
            let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
                if from == 0 {
                    return Ok((1, 0));
                }
                back *= 4;
                continue;
            };
            let start = bytes[..end].iter().rposition(|&b| b == b'\n');
            if start.is_none() && from > 0 {
                back *= 4;
                continue;
            }
            let line = &bytes[start.map_or(0, |i| i + 1)..end];
            let entry: AuditEntry = serde_json::from_slice(line).map_err(|e| {
                self.tampered(0, format!("the last line is not a valid audit entry: {e}"))
            })?;
            return Ok((entry.seq + 1, from + end as u64 + 1));
        }
    }

    /// The entries that follow byte `offset`, a point an earlier call returned (0: the start),
    /// with the offset after the last whole line. A line still being appended is left for the
    /// next call. `next_seq` is the sequence number expected first: when the log at `offset`
    /// does not start there (it was replaced), the whole log is read and entries before
    /// `next_seq` are skipped.
    pub fn entries_after(
        &self,
        offset: u64,
        next_seq: u64,
    ) -> Result<(Vec<AuditEntry>, u64), AuditError> {
        let Some(mut file) = self.open_log()? else {
            return Ok((Vec::new(), 0));
        };
        let len = file.metadata().map_err(self.io("stat"))?.len();
        let from = if offset <= len { offset } else { 0 };
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(from)).map_err(self.io("seek"))?;
        file.read_to_end(&mut bytes).map_err(self.io("read"))?;
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let parse = |bytes: &[u8], base: u64| -> Result<Vec<AuditEntry>, AuditError> {
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|line| {
                    serde_json::from_slice::<AuditEntry>(line).map_err(|e| {
                        self.tampered(
                            0,
                            format!("after byte {base}: not a valid audit entry: {e}"),
                        )
                    })
                })
                .collect()
        };
        let entries = parse(&bytes[..whole], from)?;
        if from > 0 && entries.first().is_some_and(|e| e.seq != next_seq) {
            return self.entries_after(0, next_seq);
        }
        let entries = entries.into_iter().filter(|e| e.seq >= next_seq).collect();
        Ok((entries, from + whole as u64))
    }

    /// Entries `range` (0-based entry numbers, oldest first) parsed from the log; a line that
    /// is not an entry is an error naming its line.
    pub fn read_range(
        &self,
        index: &AuditIndex,
        range: Range<usize>,
    ) -> Result<Vec<Result<AuditEntry, String>>, AuditError> {
        let range = range.start.min(index.len())..range.end.min(index.len());
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let Some(mut file) = self.open_log()? else {
            return Ok(Vec::new());
        };
        let from = index.starts[range.start];
        let to = index.starts.get(range.end).unwrap_or(index.end);
        let mut bytes = vec![0u8; usize::try_from(to - from).unwrap_or(0)];
        file.seek(SeekFrom::Start(from)).map_err(self.io("seek"))?;
        file.read_exact(&mut bytes).map_err(self.io("read"))?;
        Ok(bytes
            .split(|&b| b == b'\n')
            .take(range.len())
            .zip(range.start..)
            .map(|(line, i)| {
                serde_json::from_slice(line)
                    .map_err(|e| format!("line {}: not a valid audit entry: {e}", i + 1))
            })
            .collect())
    }

    /// Entry numbers (0-based, oldest first) among `within` (all when `None`) whose actor,
    /// action, target or values contain `needle`, ignoring case. Streams the log: lines
    /// without the needle anywhere are skipped unparsed.
    pub fn search(
        &self,
        index: &AuditIndex,
        needle: &str,
        within: Option<&[u32]>,
    ) -> Result<Vec<u32>, AuditError> {
        let needle = needle.to_lowercase();
        let Some(mut file) = self.open_log()? else {
            return Ok(Vec::new());
        };
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        // The raw line holds what the fields hold, JSON-escaped: a needle that escaping could
        // change is matched on the parsed entry only.
        let prefilter = needle.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
            && !needle.contains(['"', '\\']);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut lower = Vec::new();
        let mut check = |i: usize, line: &[u8], lower: &mut Vec<u8>| {
            lower.clear();
            lower.extend(line.iter().map(u8::to_ascii_lowercase));
            if prefilter && finder.find(lower).is_none() {
                return;
            }
            if let Ok(e) = serde_json::from_slice::<AuditEntry>(line)
                && super::entry_matches(&e, &needle)
                && let Ok(i) = u32::try_from(i)
            {
                out.push(i);
            }
        };
        // Read in chunks of whole entries: at most CHUNK_BYTES (or one entry) at a time.
        let all: Vec<u32>;
        let wanted: &[u32] = if let Some(w) = within {
            w
        } else {
            all = (0..u32::try_from(index.len()).unwrap_or(u32::MAX)).collect();
            &all
        };
        let mut k = 0;
        while k < wanted.len() {
            let first = wanted[k] as usize;
            let mut last = first;
            let mut j = k;
            while j + 1 < wanted.len()
                && wanted[j + 1] as usize == last + 1
                && index.starts[last + 1] - index.starts[first] < CHUNK_BYTES as u64
            {
                j += 1;
                last += 1;
            }
            let from = index.starts[first];
            let to = index.starts.get(last + 1).unwrap_or(index.end);
            buf.resize(usize::try_from(to - from).unwrap_or(0), 0);
            file.seek(SeekFrom::Start(from)).map_err(self.io("seek"))?;
            file.read_exact(&mut buf).map_err(self.io("read"))?;
            for (line, i) in buf.split(|&b| b == b'\n').zip(first..=last) {
                check(i, line, &mut lower);
            }
            k = j + 1;
        }
        Ok(out)
    }

    /// Opens the lock file appends hold.
    pub(super) fn open_lock(&self) -> Result<File, AuditError> {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(self.io("open lock file"))
    }
}
