//! The append-only, hash-chained audit log (`audit.log` + `audit.head`).
//!
//! Each line is one JSON entry holding the SHA-256 of the previous line, so editing, deleting or
//! reordering a line breaks the chain. `audit.head` (written atomically after each append) records
//! the entry count, byte length and last hash, so truncating the tail or editing the last line is
//! caught too. Appends from several processes (GUI and CLI) are serialized with a file lock.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{self, StateError};

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
}

/// Result of a successful chain verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub entries: u64,
    pub last_hash: String,
}

/// An audit log that could not be read, or whose chain is broken.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
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
}

/// Handle on a workspace's audit log.
#[derive(Debug, Clone)]
#[expect(
    clippy::struct_field_names,
    reason = "three files of one log; the suffix says each is a path"
)]
pub struct AuditLog {
    log_path: PathBuf,
    head_path: PathBuf,
    lock_path: PathBuf,
}

impl AuditLog {
    /// The audit log in workspace folder `root`.
    pub fn in_workspace(root: &Path) -> Self {
        Self {
            log_path: root.join("audit.log"),
            head_path: root.join("audit.head"),
            lock_path: root.join(".audit.lock"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.log_path
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
        move |source| AuditError::Io {
            path: self.log_path.clone(),
            action,
            source,
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
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(self.io("open lock file"))?;
        lock.lock().map_err(self.io("lock"))?;

        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.log_path)
            .map_err(self.io("open"))?;
        let head = self.recover_head(&mut file)?;

        let entry = AuditEntry {
            seq: head.entries + 1,
            time: jiff::Timestamp::now(),
            actor: new.actor,
            action: new.action,
            target: new.target,
            before: new.before,
            after: new.after,
            prev: head.last_hash.clone(),
        };
        let mut line = serde_json::to_string(&entry).map_err(|e| {
            AuditError::State(StateError::Parse {
                path: self.log_path.display().to_string(),
                line: 0,
                column: 0,
                message: e.to_string(),
            })
        })?;
        let hash = crate::sha256_hex(line.as_bytes());
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(self.io("append"))?;
        file.sync_data().map_err(self.io("fsync"))?;
        let new_head = Head {
            entries: entry.seq,
            len_bytes: head.len_bytes + line.len() as u64,
            last_hash: hash,
        };
        store::write_json(&self.head_path, &new_head)?;
        Ok(entry)
        // The lock is released when `lock` drops.
    }

    /// The head to append after. Repairs only what a crash can leave: a torn last line (cut
    /// off before its newline) is removed, and complete entries written after the head was last
    /// saved are adopted when they chain correctly. Anything else is tampering and stops appends.
    fn recover_head(&self, file: &mut File) -> Result<Head, AuditError> {
        let len = file.metadata().map_err(self.io("stat"))?.len();
        let head: Option<Head> = store::read_json(&self.head_path)?;
        let mut head = match head {
            Some(h) => h,
            None if len == 0 => Head {
                entries: 0,
                len_bytes: 0,
                last_hash: GENESIS_HASH.to_owned(),
            },
            None => {
                return Err(self.tampered(
                    1,
                    "audit.head is missing but audit.log has entries; run `audit verify`".into(),
                ));
            }
        };
        if len < head.len_bytes {
            return Err(self.tampered(
                head.entries,
                format!(
                    "audit.log is {len} bytes but audit.head records {} bytes: entries were removed",
                    head.len_bytes
                ),
            ));
        }
        self.check_last_line(file, &head)?;
        if len == head.len_bytes {
            return Ok(head);
        }
        let mut tail = Vec::with_capacity(usize::try_from(len - head.len_bytes).unwrap_or(0));
        file.seek(SeekFrom::Start(head.len_bytes))
            .map_err(self.io("seek"))?;
        file.read_to_end(&mut tail).map_err(self.io("read"))?;
        let mut rest = &tail[..];
        let recorded = head.entries;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let line = &rest[..nl];
            let line_no = head.entries + 1;
            if line_no > recorded + MAX_ENTRIES_PAST_HEAD {
                return Err(self.tampered(line_no, format!("{}", PastHead(line_no - recorded))));
            }
            let entry: AuditEntry = serde_json::from_slice(line)
                .map_err(|e| self.tampered(line_no, format!("not a valid audit entry: {e}")))?;
            if entry.seq != line_no || entry.prev != head.last_hash {
                return Err(self.tampered(line_no, "does not chain to audit.head".into()));
            }
            head = Head {
                entries: line_no,
                len_bytes: head.len_bytes + nl as u64 + 1,
                last_hash: crate::sha256_hex(line),
            };
            rest = &rest[nl + 1..];
        }
        if !rest.is_empty() {
            // A torn write from a crash: it was never acknowledged, so it is dropped.
            file.set_len(head.len_bytes)
                .map_err(self.io("truncate torn line"))?;
            file.sync_data().map_err(self.io("fsync"))?;
        }
        store::write_json(&self.head_path, &head)?;
        Ok(head)
    }

    fn read_log(&self) -> Result<Vec<u8>, AuditError> {
        match std::fs::read(&self.log_path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io("read")(e)),
        }
    }

    /// The last line before `head.len_bytes` must still be the one the head's hash names: an
    /// edit of it (even one that keeps its length) stops appends instead of being built upon.
    fn check_last_line(&self, file: &mut File, head: &Head) -> Result<(), AuditError> {
        if head.entries == 0 || head.len_bytes == 0 {
            return Ok(());
        }
        // The last entry is at most a few KiB; read back far enough to find its start.
        let mut window = 64 * 1024u64;
        loop {
            let from = head.len_bytes.saturating_sub(window);
            let mut buf = vec![0u8; usize::try_from(head.len_bytes - from).unwrap_or(0)];
            file.seek(SeekFrom::Start(from)).map_err(self.io("seek"))?;
            file.read_exact(&mut buf).map_err(self.io("read"))?;
            let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let start = body.iter().rposition(|&b| b == b'\n').map(|i| i + 1);
            if start.is_none() && from > 0 {
                window *= 4;
                continue;
            }
            let last = &body[start.unwrap_or(0)..];
            if crate::sha256_hex(last) != head.last_hash {
                return Err(self.tampered(
                    head.entries,
                    format!(
                        "line {} was changed after it was written: it does not match the hash \
                         recorded in audit.head; run `audit verify`",
                        head.entries
                    ),
                ));
            }
            return Ok(());
        }
    }

    /// All entries, oldest first. Fails on the first line that is not an entry.
    pub fn entries(&self) -> Result<Vec<AuditEntry>, AuditError> {
        self.parse_entries(&self.read_log()?)
    }

    /// The entries and the chain check from one read of the log (what the Audit panel shows).
    pub fn load(&self) -> Result<(Vec<AuditEntry>, Result<Verified, AuditError>), AuditError> {
        let bytes = self.read_log()?;
        Ok((
            self.parse_entries(&bytes).unwrap_or_default(),
            self.verify_bytes(&bytes),
        ))
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

    /// Checks the whole chain and the head; names the first bad line.
    pub fn verify(&self) -> Result<Verified, AuditError> {
        self.verify_bytes(&self.read_log()?)
    }

    fn verify_bytes(&self, bytes: &[u8]) -> Result<Verified, AuditError> {
        let head: Option<Head> = store::read_json(&self.head_path)?;
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let torn = lines.pop().filter(|last| !last.is_empty());
        let mut prev_hash = GENESIS_HASH.to_owned();
        for (i, line) in lines.iter().enumerate() {
            let n = i as u64 + 1;
            let entry: AuditEntry = serde_json::from_slice(line)
                .map_err(|e| self.tampered(n, format!("not a valid audit entry: {e}")))?;
            if entry.seq != n {
                return Err(self.tampered(
                    n,
                    format!(
                        "holds entry #{} where entry #{n} belongs: a line was deleted, inserted or \
                         moved",
                        entry.seq
                    ),
                ));
            }
            if entry.prev != prev_hash {
                let bad = n.saturating_sub(1).max(1);
                return Err(self.tampered(
                    bad,
                    format!(
                        "line {bad} was changed after it was written: the hash recorded in line \
                         {n} does not match it"
                    ),
                ));
            }
            prev_hash = crate::sha256_hex(line);
        }
        let count = lines.len() as u64;
        if torn.is_some() {
            return Err(self.tampered(count + 1, "incomplete entry (cut off mid-line)".to_owned()));
        }
        match head {
            None if count == 0 => {}
            None => {
                return Err(self.tampered(
                    count,
                    "audit.head is missing: cannot tell whether entries were removed from the end"
                        .into(),
                ));
            }
            Some(h) if h.entries > count => {
                return Err(self.tampered(
                    count + 1,
                    format!(
                        "audit.log ends after {count} entries but audit.head records {}: the log \
                         was truncated",
                        h.entries
                    ),
                ));
            }
            Some(h) if count > h.entries + MAX_ENTRIES_PAST_HEAD => {
                return Err(self.tampered(
                    h.entries + MAX_ENTRIES_PAST_HEAD + 1,
                    format!("{}", PastHead(count - h.entries)),
                ));
            }
            Some(h) => {
                // One entry beyond the head is a crash between the append and the head update;
                // it chains correctly, so it is accepted.
                let recorded = lines
                    .get(usize::try_from(h.entries.saturating_sub(1)).unwrap_or(usize::MAX))
                    .map_or_else(|| GENESIS_HASH.to_owned(), |l| crate::sha256_hex(l));
                if h.entries > 0 && recorded != h.last_hash {
                    return Err(self.tampered(
                        h.entries,
                        format!(
                            "line {} was changed after it was written: it does not match the \
                             hash recorded in audit.head",
                            h.entries
                        ),
                    ));
                }
            }
        }
        Ok(Verified {
            entries: count,
            last_hash: prev_hash,
        })
    }
}

/// A crash between an append and its head update leaves at most one entry past the head; more
/// are entries someone added by hand.
const MAX_ENTRIES_PAST_HEAD: u64 = 1;

/// Why entries past the head are not adopted.
struct PastHead(u64);

impl std::fmt::Display for PastHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} entries follow the last one audit.head records; a crash leaves at most one: \
             entries were added outside the console",
            self.0
        )
    }
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
    fn more_than_one_entry_past_the_head_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        log.append(entry("a")).expect("append");
        let head = std::fs::read(dir.path().join("audit.head")).expect("head");
        log.append(entry("b")).expect("append");
        log.append(entry("c")).expect("append");
        // Two correctly chained entries past an old head: no crash leaves that.
        std::fs::write(dir.path().join("audit.head"), head).expect("old head");
        let err = log.verify().expect_err("refused");
        assert!(
            err.to_string()
                .contains("2 entries follow the last one audit.head records"),
            "{err}"
        );
        let err = log.append(entry("d")).expect_err("append refused");
        assert!(
            err.to_string()
                .contains("entries were added outside the console"),
            "{err}"
        );
    }

    #[test]
    fn a_same_length_edit_of_the_last_line_stops_the_next_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        log.append(entry("a")).expect("append");
        log.append(entry("approve")).expect("append");
        let text = std::fs::read_to_string(log.path()).expect("log");
        let edited = text.replacen("\"approve\"", "\"disavow\"", 1);
        assert_eq!(edited.len(), text.len());
        std::fs::write(log.path(), edited).expect("edit");
        let err = log.append(entry("c")).expect_err("append refused");
        assert!(
            err.to_string()
                .contains("line 2 was changed after it was written"),
            "{err}"
        );
        assert_eq!(
            log.entries().expect("entries").len(),
            2,
            "nothing was built on the edit"
        );
    }
}
