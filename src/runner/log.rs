//! Task logs: a bounded in-memory line buffer, line splitting of raw output, and redaction.

use std::collections::VecDeque;

/// Lines longer than this are cut (the full line still reaches the log file).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
const CHUNK_BYTES: usize = 256 * 1024;

/// Default memory bound of one task's log buffer.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug)]
struct Chunk {
    /// Absolute index of the chunk's first line.
    first: u64,
    text: String,
    /// End offset of each line in `text`.
    ends: Vec<u32>,
}

impl Chunk {
    /// Memory held: allocated capacity, not just the bytes in use.
    fn size_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

/// A task's log in memory: lines addressed by absolute index (0 = first line ever printed).
///
/// Lines live in large chunks (one allocation per 256 KiB, not per line). When the buffer
/// passes its byte bound the oldest chunk is dropped, so memory stays bounded on a task that
/// prints forever; `first_retained` tells the UI where the retained window starts.
#[derive(Debug)]
pub struct LogBuffer {
    chunks: VecDeque<Chunk>,
    total_lines: u64,
    size_bytes: usize,
    max_bytes: usize,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::with_max_bytes(DEFAULT_MAX_BYTES)
    }
}

impl LogBuffer {
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            total_lines: 0,
            size_bytes: 0,
            max_bytes,
        }
    }

    /// Appends one line (without its newline); overlong lines are cut at a char boundary.
    pub fn push(&mut self, line: &str) {
        let line = if line.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            &line[..cut]
        } else {
            line
        };
        let needs_chunk = self
            .chunks
            .back()
            .is_none_or(|c| c.text.len() + line.len() > CHUNK_BYTES && !c.ends.is_empty());
        if needs_chunk {
            let chunk = Chunk {
                first: self.total_lines,
                text: String::with_capacity(CHUNK_BYTES),
                ends: Vec::with_capacity(4096),
            };
            self.size_bytes += chunk.size_bytes();
            self.chunks.push_back(chunk);
        }
        if let Some(chunk) = self.chunks.back_mut() {
            let before = chunk.size_bytes();
            chunk.text.push_str(line);
            // A chunk holds at most CHUNK_BYTES plus one line of MAX_LINE_BYTES: far below u32::MAX.
            chunk
                .ends
                .push(u32::try_from(chunk.text.len()).unwrap_or(u32::MAX));
            self.size_bytes += chunk.size_bytes() - before;
        }
        self.total_lines += 1;
        while self.size_bytes > self.max_bytes && self.chunks.len() > 1 {
            if let Some(old) = self.chunks.pop_front() {
                self.size_bytes -= old.size_bytes();
            }
        }
    }

    /// Number of lines ever pushed (the next line's index).
    pub fn total_lines(&self) -> u64 {
        self.total_lines
    }

    /// Index of the oldest line still in memory.
    pub fn first_retained(&self) -> u64 {
        self.chunks.front().map_or(self.total_lines, |c| c.first)
    }

    /// Memory held by the lines, in bytes (allocated capacity).
    pub fn size_bytes(&self) -> usize {
        self.size_bytes
    }

    /// The line at absolute index `index`, if still retained.
    pub fn line(&self, index: u64) -> Option<&str> {
        if index < self.first_retained() || index >= self.total_lines {
            return None;
        }
        let pos = self
            .chunks
            .partition_point(|c| c.first <= index)
            .checked_sub(1)?;
        let chunk = &self.chunks[pos];
        let local = usize::try_from(index - chunk.first).ok()?;
        let start = if local == 0 {
            0
        } else {
            chunk.ends[local - 1] as usize
        };
        let end = *chunk.ends.get(local)? as usize;
        chunk.text.get(start..end)
    }

    /// Retained lines from `from` (clamped to the retained window) to the end.
    pub fn lines_from(&self, from: u64) -> impl Iterator<Item = (u64, &str)> {
        let start = from.max(self.first_retained());
        (start..self.total_lines).filter_map(move |i| self.line(i).map(|l| (i, l)))
    }

    /// How many lines from `from` on left memory before a view showed them (`lines_from`
    /// starts after them).
    pub fn skipped_from(&self, from: u64) -> u64 {
        self.first_retained().saturating_sub(from)
    }
}

/// What a log view says in place of `skipped` lines it could not show because the bounded
/// buffer let them go first: how many, and where the full log is.
pub fn skipped_note(skipped: u64, log_file: Option<&std::path::Path>) -> String {
    let count = group_digits(skipped);
    let noun = if skipped == 1 { "line" } else { "lines" };
    match log_file {
        Some(path) => format!(
            "… {count} {noun} skipped (the view fell behind); the full log is in {}",
            path.display()
        ),
        None => {
            format!("… {count} {noun} skipped (the view fell behind; this task keeps no log file)")
        }
    }
}

/// `12345` as `12,345`.
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Splits raw output into lines, keeping a partial last line until its newline arrives.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; calls `emit` with each complete line (no `\n`, no trailing `\r`).
    pub fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&str)) {
        while let Some(nl) = memchr_newline(bytes) {
            let (line, rest) = bytes.split_at(nl);
            bytes = &rest[1..];
            if self.partial.is_empty() {
                emit(&decode(line));
            } else {
                self.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial);
                emit(&decode(&whole));
            }
        }
        if !bytes.is_empty() {
            self.partial.extend_from_slice(bytes);
            if self.partial.len() > 4 * MAX_LINE_BYTES {
                // A "line" that never ends: flush it so memory stays bounded.
                let whole = std::mem::take(&mut self.partial);
                emit(&decode(&whole));
            }
        }
    }

    /// Emits the last line if the output did not end with a newline.
    pub fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.partial.is_empty() {
            let whole = std::mem::take(&mut self.partial);
            emit(&decode(&whole));
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn decode(line: &[u8]) -> std::borrow::Cow<'_, str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line)
}

/// Replaces known secret values in log lines with `<redacted>`.
///
/// Values shorter than [`Redactor::MIN_SECRET_LEN`] are ignored: redacting every "a" would make
/// logs unreadable while protecting nothing.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets: <redacted>)", self.secrets.len())
    }
}

/// Secrets this process read after some redactors were made (a password fetched from AWS
/// Secrets Manager while a task already runs): every redactor masks them too.
static LATE: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Adds `value` to what every redactor masks, from now on.
pub fn remember_secret(value: &str) {
    let mut late = LATE
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for piece in pieces(value) {
        if !late.contains(&piece) {
            late.push(piece);
        }
    }
    late.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// What masks `secret` in output read line by line: the value, and each line of a value of
/// several (a PEM key, a JSON credential: a builder that prints it prints it line by line),
/// those shorter than [`Redactor::MIN_SECRET_LEN`] left out.
fn pieces(secret: &str) -> Vec<String> {
    let lines = secret
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.len() != secret.len());
    std::iter::once(secret)
        .chain(lines)
        .filter(|s| s.len() >= Redactor::MIN_SECRET_LEN)
        .map(str::to_owned)
        .collect()
}

impl Redactor {
    pub const MIN_SECRET_LEN: usize = 4;
    pub const MASK: &'static str = "<redacted>";

    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().flat_map(|s| pieces(&s)).collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The line with every secret masked; borrows when nothing matched.
    pub fn redact<'a>(&self, line: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(line);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(secret.as_str(), Self::MASK));
            }
        }
        let late = LATE
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for secret in late.iter() {
            if out.contains(secret.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(secret.as_str(), Self::MASK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_addresses_lines_across_chunks() {
        let mut b = LogBuffer::default();
        for i in 0..100_000 {
            b.push(&format!("line {i}"));
        }
        assert_eq!(b.total_lines(), 100_000);
        assert_eq!(b.line(0), Some("line 0"));
        assert_eq!(b.line(54_321), Some("line 54321"));
        assert_eq!(b.line(99_999), Some("line 99999"));
        assert_eq!(b.line(100_000), None);
    }

    #[test]
    fn buffer_memory_is_bounded_and_drops_oldest() {
        let mut b = LogBuffer::with_max_bytes(2 * 1024 * 1024);
        let line = "x".repeat(100);
        for _ in 0..200_000 {
            b.push(&line);
        }
        assert!(
            b.size_bytes() <= 2 * 1024 * 1024 + CHUNK_BYTES,
            "{}",
            b.size_bytes()
        );
        assert!(b.first_retained() > 0);
        assert_eq!(b.line(0), None);
        assert_eq!(b.line(199_999), Some(line.as_str()));
        assert_eq!(b.lines_from(0).count() as u64, 200_000 - b.first_retained());
        assert_eq!(b.skipped_from(0), b.first_retained());
        assert_eq!(b.skipped_from(b.first_retained() + 5), 0);
    }

    #[test]
    fn a_skip_is_told_with_its_count_and_the_log_file() {
        assert_eq!(
            skipped_note(12_345, Some(std::path::Path::new("/ws/logs/build.log"))),
            "… 12,345 lines skipped (the view fell behind); the full log is in /ws/logs/build.log"
        );
        assert_eq!(
            skipped_note(1, None),
            "… 1 line skipped (the view fell behind; this task keeps no log file)"
        );
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[test]
    fn splitter_joins_partial_lines_and_strips_crlf() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.feed(b"hel", |l| out.push(l.to_owned()));
        s.feed(b"lo\r\nwor", |l| out.push(l.to_owned()));
        s.feed(b"ld\nlast", |l| out.push(l.to_owned()));
        s.finish(|l| out.push(l.to_owned()));
        assert_eq!(out, ["hello", "world", "last"]);
    }

    #[test]
    fn redactor_masks_every_occurrence_and_ignores_tiny_values() {
        let r = Redactor::new(["hunter22".to_owned(), "ab".to_owned()]);
        assert_eq!(
            r.redact("pass=hunter22 again hunter22 ab"),
            "pass=<redacted> again <redacted> ab"
        );
        assert!(matches!(r.redact("clean"), std::borrow::Cow::Borrowed(_)));
        assert!(!format!("{r:?}").contains("hunter22"));
    }

    #[test]
    fn a_secret_of_several_lines_is_masked_line_by_line() {
        let key = "-----BEGIN PRIVATE KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nab\n";
        let r = Redactor::new([key.to_owned()]);
        assert_eq!(r.redact("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "<redacted>");
        assert_eq!(r.redact(key), "<redacted>");
        assert_eq!(r.redact("ab"), "ab", "pieces too short are not masked");
        remember_secret("first-line-of-late\nsecond-line-of-late");
        let empty = Redactor::new(Vec::new());
        assert_eq!(empty.redact("x second-line-of-late"), "x <redacted>");
    }
}
