//! SHA256SUMS files: reading every format `sha256sum -c` and `shasum -a 256 -c` accept, and
//! writing one that both accept.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::digest::Sha256;

/// File name of the checksum list in a release's artifacts folder.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// Extensions of detached signatures that sign the sums file; never listed in it.
pub const SIGNATURE_SUFFIXES: &[&str] = &[".sig", ".asc", ".sigstore.json", ".p7s"];

/// One entry: the artifact name (relative, normalized) and its expected hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub line: usize,
    pub name: String,
    pub sha256: Sha256,
}

/// A line that is not a valid entry, with why. Never silently skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl BadLine {
    /// `SHA256SUMS line 3`, or the file's name for what is not a line (a link that leaves the
    /// folder).
    pub fn place(&self) -> String {
        if self.line == 0 {
            self.text.clone()
        } else {
            format!("SHA256SUMS line {}", self.line)
        }
    }
}

/// A parsed sums file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sums {
    pub entries: Vec<Entry>,
    pub bad_lines: Vec<BadLine>,
}

impl Sums {
    /// Entries by name.
    pub fn by_name(&self) -> BTreeMap<&str, &Entry> {
        self.entries.iter().map(|e| (e.name.as_str(), e)).collect()
    }
}

/// Whether `name` is the sums file itself, a per-file `.sha256`, or a detached signature.
pub fn is_sums_or_signature(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    file == "sha256sums"
        || file.ends_with(".sha256")
        || file.starts_with("sha256sums.")
        || SIGNATURE_SUFFIXES.iter().any(|s| file.ends_with(s))
}

/// Whether a file named `name` is an artifact to hash, list and verify: not hidden (builder
/// state such as `.state/`), not SHA256SUMS, a per-file `.sha256` or a detached signature. The
/// one rule for Verify, SHA256SUMS writing and the Builds panel.
pub fn is_artifact(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    !file.starts_with('.') && !is_sums_or_signature(name)
}

/// Parses a sums file's text.
pub fn parse(text: &str) -> Sums {
    let mut sums = Sums::default();
    let mut seen: BTreeMap<String, (usize, Sha256)> = BTreeMap::new();
    // Names listed twice with different hashes: kept as data, never re-read from a message.
    let mut conflicted: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = body.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    for (i, raw) in lines.into_iter().enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let bad = |reason: String| BadLine {
            line: line_no,
            text: line.to_owned(),
            reason,
        };
        let (hash, name) = match parse_line(line) {
            Ok(v) => v,
            Err(reason) => {
                sums.bad_lines.push(bad(reason));
                continue;
            }
        };
        let name = match normalize_name(&name) {
            Ok(n) => n,
            Err(reason) => {
                sums.bad_lines.push(bad(reason));
                continue;
            }
        };
        if let Some((first, first_hash)) = seen.get(&name) {
            if *first_hash != hash {
                sums.bad_lines.push(bad(format!(
                    "{name:?} is listed again with a different hash (first on line {first})"
                )));
                conflicted.insert(name);
            }
            continue;
        }
        seen.insert(name.clone(), (line_no, hash));
        sums.entries.push(Entry {
            line: line_no,
            name,
            sha256: hash,
        });
    }
    // A name listed twice with different hashes is untrustworthy: drop its first entry too.
    sums.entries.retain(|e| !conflicted.contains(&e.name));
    sums
}

/// Splits one line into (hash, raw name).
fn parse_line(line: &str) -> Result<(Sha256, String), String> {
    if line.trim().is_empty() {
        return Err("empty line".to_owned());
    }
    // A leading backslash means the name is escaped (GNU coreutils).
    let (escaped, rest) = match line.strip_prefix('\\') {
        Some(r) => (true, r),
        None => (false, line),
    };
    let (hash, name) = if let Some(tag) = rest.strip_prefix("SHA256 (") {
        let (name, hash) = tag
            .rsplit_once(") = ")
            .ok_or_else(|| "BSD-style line without \") = HASH\"".to_owned())?;
        (hash, name)
    } else {
        let hash = rest
            .get(..64)
            .ok_or_else(|| "not a SHA-256 line (expected 64 hex digits)".to_owned())?;
        let after = &rest[64..];
        let name = after
            .strip_prefix("  ")
            .or_else(|| after.strip_prefix(" *"))
            .ok_or_else(|| {
                if after.starts_with(' ') {
                    "expected two spaces or \" *\" between the hash and the name".to_owned()
                } else {
                    "not a SHA-256 line (expected 64 hex digits)".to_owned()
                }
            })?;
        (hash, name)
    };
    let hash: Sha256 = hash
        .parse()
        .map_err(|e: crate::digest::BadSha256| e.to_string())?;
    if name.is_empty() {
        return Err("no file name".to_owned());
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_owned()
    };
    Ok((hash, name))
}

fn unescape(name: &str) -> Result<String, String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => {
                return Err(format!(
                    "bad escape \\{} in the name",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        }
    }
    Ok(out)
}

/// Normalizes `./a/./b` to `a/b`; refuses absolute paths and `..` (never opened). A backslash
/// separates folders only where the host says so (Windows); elsewhere it is part of a name
/// (`\x` is a file in this folder on Linux and macOS, and sums written there list it so).
pub fn normalize_name(name: &str) -> Result<String, String> {
    let windows = cfg!(windows);
    if name.starts_with('/')
        || (windows && name.starts_with('\\'))
        || name.get(1..3) == Some(":\\")
        || name.get(1..3) == Some(":/")
    {
        return Err(format!(
            "{name:?} is an absolute path (refused, never opened)"
        ));
    }
    let mut parts = Vec::new();
    for part in name.split(|c| c == '/' || (windows && c == '\\')) {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "{name:?} has a \"..\" component (refused, never opened)"
                ));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("{name:?} names no file"));
    }
    Ok(parts.join("/"))
}

/// Renders a sums file: `HASH  name`, LF, sorted by name, never listing itself or signatures.
/// Names with a backslash or newline are written in GNU's escaped form.
pub fn render(entries: &[(String, Sha256)]) -> String {
    let mut sorted: Vec<&(String, Sha256)> = entries
        .iter()
        .filter(|(name, _)| !is_sums_or_signature(name))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut out = String::new();
    for (name, hash) in sorted {
        if name.contains(['\\', '\n', '\r']) {
            let escaped = name
                .replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('\r', "\\r");
            out.push_str(&format!("\\{hash}  {escaped}\n"));
        } else {
            out.push_str(&format!("{hash}  {name}\n"));
        }
    }
    out
}

/// Reads and parses a sums file.
/// The largest checksum file read (a million lines of SHA-256 and a name are under 200 MiB;
/// a release's are a few lines).
pub const MAX_SUMS_FILE: u64 = 64 * 1024 * 1024;

/// Reads and parses a checksum file: a regular file of at most [`MAX_SUMS_FILE`] bytes (a
/// FIFO or device is refused before it is opened, so it can neither block nor run on).
pub fn read(path: &Path) -> std::io::Result<Sums> {
    use std::io::Read as _;
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device): not read",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SUMS_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SUMS_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB: not a checksum file the console reads",
                MAX_SUMS_FILE >> 20
            ),
        ));
    }
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn h() -> Sha256 {
        H.parse().expect("a digest")
    }

    #[test]
    fn a_conflicting_name_with_quotes_or_backslashes_is_never_trusted() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        for name in [r#"Setup "beta".msi"#, r"Setup\x.msi", "plain.msi"] {
            let line = |hash: &str| {
                if name.contains('\\') {
                    // GNU escapes a backslash in a name and marks the line with one.
                    format!("\\{hash}  {}\n", name.replace('\\', "\\\\"))
                } else {
                    format!("{hash}  {name}\n")
                }
            };
            let sums = parse(&(line(&a) + &line(&b)));
            assert!(
                sums.entries.iter().all(|e| e.name != name),
                "{name}: neither hash is trusted: {sums:?}"
            );
            assert_eq!(sums.bad_lines.len(), 1, "{name}: {sums:?}");
        }
    }

    #[test]
    fn every_accepted_format_parses() {
        let upper = H.to_ascii_uppercase();
        let text = format!(
            "{H}  plain.exe\n{H} *binary.msi\nSHA256 (bsd.dmg) = {H}\n{upper}  upper.exe\n{H}  ./dot/./slash.exe\n\\{H}  back\\\\slash\\nnew.exe\r\n{H}  spaces in name.exe\r\n"
        );
        let sums = parse(&text);
        assert_eq!(sums.bad_lines, vec![]);
        let names: Vec<&str> = sums.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "plain.exe",
                "binary.msi",
                "bsd.dmg",
                "upper.exe",
                "dot/slash.exe",
                "back\\slash\nnew.exe",
                "spaces in name.exe"
            ]
        );
        assert!(sums.entries.iter().all(|e| e.sha256 == h()));
    }

    #[test]
    #[cfg(unix)]
    fn a_name_starting_with_a_backslash_is_a_file_here_on_unix() {
        // Found by the write-sums property test: `\\n$` was refused as an absolute path.
        let text = render(&[("\\n$ 0-1".to_owned(), h())]);
        let sums = parse(&text);
        assert!(sums.bad_lines.is_empty(), "{:?}", sums.bad_lines);
        assert_eq!(sums.entries[0].name, "\\n$ 0-1");
        assert_eq!(normalize_name("..\\..\\etc"), Ok("..\\..\\etc".to_owned()));
    }

    #[test]
    fn bad_lines_are_reported_with_line_numbers() {
        let text = format!(
            "{H}  ok.exe\n\nnot a line\n{H}  /etc/passwd\n{H}  ../../etc/passwd\n{H} single.exe\n{H}  ok.exe\n{}  ok.exe\nSHA256 (x) = zz\n",
            H.replace('9', "8")
        );
        let sums = parse(&text);
        let lines: Vec<usize> = sums.bad_lines.iter().map(|b| b.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 8, 9], "{:#?}", sums.bad_lines);
        assert!(sums.bad_lines[2].reason.contains("absolute path"));
        assert!(sums.bad_lines[3].reason.contains("\"..\""));
        assert!(sums.bad_lines[5].reason.contains("first on line 1"));
        assert_eq!(
            sums.bad_lines[6].reason,
            "\"zz\" is not a SHA-256 digest (64 hex digits): 'z' at character 1 is not a hex digit"
        );
        // The conflicted name is not trusted at all.
        assert!(sums.entries.is_empty(), "{:?}", sums.entries);
    }

    #[test]
    fn render_sorts_escapes_and_skips_itself_and_signatures() {
        let entries = vec![
            ("b.msi".to_owned(), h()),
            ("SHA256SUMS".to_owned(), h()),
            ("SHA256SUMS.asc".to_owned(), h()),
            ("a.exe.sig".to_owned(), h()),
            ("a.exe".to_owned(), h()),
            ("we\\ird".to_owned(), h()),
        ];
        let text = render(&entries);
        assert_eq!(text, format!("{H}  a.exe\n{H}  b.msi\n\\{H}  we\\\\ird\n"));
        let back = parse(&text);
        assert_eq!(back.entries.len(), 3);
        assert_eq!(back.entries[2].name, "we\\ird");
    }
}
