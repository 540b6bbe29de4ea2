//! Vulnerability findings per release, imported from scanner output: Trivy JSON (schema 2,
//! with the scanner's own suppressions in `ExperimentalModifiedFindings`), Grype JSON
//! (`matches[]`) and SARIF 2.1.0 (`runs[].results[]`, `suppressions`). The format is told by
//! the content, not the file name. Stored in `releases/<version>/findings.json`; every import
//! is audited before it is stored.
//!
//! The audit log speaks for that file ([`FindingsBook`], see `projection.rs`): an import's
//! entry carries the release's findings after it (normalized: each text field cut to a bound,
//! see [`normalize`]; at most [`MAX_CARRIED_BYTES`] of them, else the import is refused saying
//! so), an acceptance's or revocation's entry every acceptance of that finding id after it.
//! A crash between the entry and the write is rolled forward from it, `audit verify` names a
//! file that disagrees, and a second console on a shared workspace rolls the first one's
//! changes into its own copy.

mod projection;

pub use self::projection::FindingsBook;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::event::{FindingsImported, Pair, Remaining};
use crate::audit::{self, Event};
use crate::store;
use crate::workspace::{Release, Workspace, WorkspaceError};

/// How bad a finding is, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Unknown,
}

impl Severity {
    /// Trivy and Grype spell it in words (`CRITICAL`, `High`, `Negligible`).
    fn from_word(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "HIGH" => Self::High,
            "MEDIUM" | "MODERATE" => Self::Medium,
            "LOW" | "NEGLIGIBLE" => Self::Low,
            _ => Self::Unknown,
        }
    }

    /// SARIF's `security-severity` is a CVSS score (GitHub's bands).
    fn from_score(score: f64) -> Self {
        match score {
            s if s >= 9.0 => Self::Critical,
            s if s >= 7.0 => Self::High,
            s if s >= 4.0 => Self::Medium,
            s if s > 0.0 => Self::Low,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// The scanner formats the console reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Trivy,
    Grype,
    Sarif,
    Snyk,
}

impl Format {
    /// The format as people name it: `Trivy JSON`, `Grype JSON`, `SARIF`, `Snyk JSON`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trivy => "Trivy JSON",
            Self::Grype => "Grype JSON",
            Self::Sarif => "SARIF",
            Self::Snyk => "Snyk JSON",
        }
    }
}

/// One vulnerability in one package of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The vulnerability's id (`CVE-2019-14697`, `GHSA-...`).
    pub id: String,
    pub package: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub severity: Severity,
    pub title: Option<String>,
    /// The scanner (`trivy`, `grype`, or the SARIF tool's name) and the file it came from.
    pub scanner: String,
    pub source_file: String,
    /// Why the scanner itself suppressed it (its status and statement), if it did.
    pub suppressed: Option<String>,
    /// When that suppression ends (a Snyk ignore's `expires`); past it, the suppression
    /// clears nothing. `None`: it does not end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_until: Option<Timestamp>,
    /// Why the scanner's severity could not be read (a SARIF `security-severity` that is not a
    /// CVSS score, such as `NaN`): the severity is unknown, and the finding blocks until it is
    /// accepted, whatever `[findings] block` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_unreadable: Option<String>,
    pub first_seen: Timestamp,
}

impl Finding {
    /// Findings are the same when id, package and installed version are.
    fn key(&self) -> (String, String, String) {
        (
            self.id.clone(),
            self.package.clone(),
            self.installed.clone(),
        )
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Book {
    findings: Vec<Finding>,
    /// Sorted by finding id, then package (one per id and package).
    #[serde(default)]
    acceptances: Vec<Acceptance>,
    /// The entry of the import that saved `findings` (0: none, or saved before the log spoke
    /// for this file).
    #[serde(default)]
    findings_seq: u64,
    /// Per finding id, the entry of the last acceptance or revocation that saved its
    /// acceptances (kept when a revocation left none).
    #[serde(default)]
    accepted_seq: BTreeMap<String, u64>,
}

impl Book {
    /// The acceptances of finding `id`, in the file's order.
    fn acceptances_of(&self, id: &str) -> Vec<Acceptance> {
        self.acceptances
            .iter()
            .filter(|a| a.id == id)
            .cloned()
            .collect()
    }

    /// Replaces the acceptances of finding `id` with `list`, as saved by entry `seq`: the one
    /// change an acceptance, a revocation and their roll forward make, so the file is the same
    /// whichever order the changes of different ids are applied in.
    fn set_acceptances(&mut self, id: &str, list: Vec<Acceptance>, seq: u64) {
        self.acceptances.retain(|a| a.id != id);
        self.acceptances.extend(list);
        self.acceptances
            .sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
        self.accepted_seq.insert(id.to_owned(), seq);
    }
}

/// A risk accepted for a while: who, why and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acceptance {
    pub id: String,
    /// Only this package's finding; `None`: every package with this id.
    pub package: Option<String>,
    pub reason: String,
    pub until: Timestamp,
    pub by: String,
    pub at: Timestamp,
}

impl Acceptance {
    fn covers(&self, f: &Finding) -> bool {
        self.id == f.id && self.package.as_ref().is_none_or(|p| *p == f.package)
    }
}

/// A finding with what the policy makes of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    #[serde(flatten)]
    pub finding: Finding,
    /// The acceptance that covers it (expired ones too: they block again).
    pub acceptance: Option<Acceptance>,
    /// Why it blocks the release, or `None` when it does not.
    pub blocks: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("{path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file is not scanner output the console reads, or is malformed.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// A request the policy refuses, or a setting it cannot use.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Store(#[from] store::StateError),
}

/// What one import did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Imported {
    pub version: String,
    /// Each file with its format and how many findings it held.
    pub files: Vec<(String, Format, usize)>,
    /// Findings not seen before in this release.
    pub new: usize,
    pub total: usize,
    /// How many of the release's findings (`total`) block it after the import, by the policy
    /// and the acceptances as they stand.
    pub blocking: usize,
}

fn path_of(ws: &Workspace, release: &Release) -> PathBuf {
    ws.release_dir(&release.version).join("findings.json")
}

/// Every finding of `release`, most severe first.
pub fn list(ws: &Workspace, release: &Release) -> Result<Vec<Finding>, FindingsError> {
    let mut all = store::read_json::<Book>(&path_of(ws, release))?
        .unwrap_or_default()
        .findings;
    all.sort_by(|a, b| (a.severity, &a.package, &a.id).cmp(&(b.severity, &b.package, &b.id)));
    Ok(all)
}

/// The lock every change of a release's findings is made under, across its check, its entry
/// and its write (the book's own lock is taken by each write), in the workspace's folder: one
/// for every release, the lock the roll forward takes ([`FindingsBook`]).
const LOCK: &str = "findings-change";

/// Held across a check and its write.
fn change_lock(ws: &Workspace) -> Result<std::fs::File, FindingsError> {
    Ok(store::lock(ws.root(), LOCK)?)
}

fn load(ws: &Workspace, release: &Release) -> Result<Book, FindingsError> {
    Ok(store::read_json::<Book>(&path_of(ws, release))?.unwrap_or_default())
}

/// The severities `[findings] block` names.
fn blocking_severities(ws: &Workspace) -> Result<Vec<Severity>, FindingsError> {
    ws.config()
        .findings
        .block
        .iter()
        .map(|s| {
            let sev = Severity::from_word(s);
            if sev == Severity::Unknown && !s.eq_ignore_ascii_case("UNKNOWN") {
                return Err(FindingsError::Invalid(format!(
                    "[findings] block: {s:?} is not a severity (CRITICAL, HIGH, MEDIUM, LOW, \
                     UNKNOWN)"
                )));
            }
            Ok(sev)
        })
        .collect()
}

/// Every finding of `release` with its acceptance and whether it blocks at `now`, most severe
/// first.
pub fn judge(
    ws: &Workspace,
    release: &Release,
    now: Timestamp,
) -> Result<Vec<Judged>, FindingsError> {
    let block = blocking_severities(ws)?;
    let suppressions_accept = ws.config().findings.scanner_suppressions_accept;
    let book = load(ws, release)?;
    Ok(judge_all(
        list(ws, release)?,
        &book.acceptances,
        &block,
        suppressions_accept,
        now,
    ))
}

/// `findings` with the acceptance that covers each and whether it blocks at `now` under the
/// policy (`block`, `suppressions_accept`).
fn judge_all(
    findings: Vec<Finding>,
    acceptances: &[Acceptance],
    block: &[Severity],
    suppressions_accept: bool,
    now: Timestamp,
) -> Vec<Judged> {
    findings
        .into_iter()
        .map(|finding| {
            let acceptance = acceptances
                .iter()
                .filter(|a| a.covers(&finding))
                .max_by_key(|a| a.until)
                .cloned();
            let suppression_lasts = finding.suppressed.is_some()
                && finding.suppressed_until.is_none_or(|until| until > now);
            let cleared = !(block.contains(&finding.severity)
                || finding.severity_unreadable.is_some())
                || acceptance.as_ref().is_some_and(|a| a.until > now)
                || (suppression_lasts && suppressions_accept);
            let blocks = if cleared {
                None
            } else if let Some(a) = &acceptance {
                Some(format!(
                    "{} {} in {}: its acceptance expired {}",
                    finding.severity.as_str(),
                    finding.id,
                    finding.package,
                    crate::local_time(a.until, false)
                ))
            } else if let Some(why) = &finding.severity_unreadable {
                Some(format!(
                    "{} {} in {}: its severity is unknown ({why}); it blocks until accepted",
                    finding.severity.as_str(),
                    finding.id,
                    finding.package,
                ))
            } else if let (true, Some(until)) = (
                suppressions_accept && finding.suppressed.is_some(),
                finding.suppressed_until.filter(|u| *u <= now),
            ) {
                Some(format!(
                    "{} {} in {}: the scanner's suppression of it expired {}",
                    finding.severity.as_str(),
                    finding.id,
                    finding.package,
                    crate::local_time(until, false)
                ))
            } else {
                Some(format!(
                    "{} {} in {} {}: {}",
                    finding.severity.as_str(),
                    finding.id,
                    finding.package,
                    finding.installed,
                    finding
                        .fixed
                        .as_deref()
                        .map_or("no fix yet".to_owned(), |f| format!("fixed in {f}"))
                ))
            };
            Judged {
                finding,
                acceptance,
                blocks,
            }
        })
        .collect()
}

/// An acceptance's end as written by a person: `2027-01-31` (the end of that day, UTC) or an
/// RFC 3339 time.
pub fn parse_until(s: &str) -> Result<Timestamp, FindingsError> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let bad = || {
        FindingsError::Invalid(format!(
            "--until {s:?}: expected a date (2027-01-31) or an RFC 3339 time"
        ))
    };
    let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
    date.at(23, 59, 59, 0)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// Accepts the risk of finding `id` (in `package`, or every package) until `until`, with a
/// reason; longer than `[findings] max_acceptance_days` is refused. Audited.
pub fn accept(
    ws: &Workspace,
    release: &Release,
    id: &str,
    package: Option<&str>,
    reason: &str,
    until: Timestamp,
) -> Result<Acceptance, FindingsError> {
    let now = Timestamp::now();
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(FindingsError::Invalid(
            "--reason must say why the risk is acceptable (it is audited)".into(),
        ));
    }
    if until <= now {
        return Err(FindingsError::Invalid(format!(
            "--until {until} is not in the future"
        )));
    }
    let max_days = ws.config().findings.max_acceptance_days;
    let latest = now
        .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(max_days)))
        .unwrap_or(Timestamp::MAX);
    if until > latest {
        return Err(FindingsError::Invalid(format!(
            "--until {until} is more than {max_days} days away ([findings] \
             max_acceptance_days): accept until {} at the latest",
            crate::local_time(latest, false)
        )));
    }
    let _lock = change_lock(ws)?;
    let book = load(ws, release)?;
    let matches = book
        .findings
        .iter()
        .filter(|f| f.id == id && package.is_none_or(|p| p == f.package))
        .count();
    if matches == 0 {
        return Err(FindingsError::Invalid(format!(
            "{} has no finding {id}{}",
            release.version,
            package.map(|p| format!(" in {p}")).unwrap_or_default()
        )));
    }
    let acceptance = Acceptance {
        id: id.to_owned(),
        package: package.map(str::to_owned),
        reason: reason.to_owned(),
        until,
        by: ws.actor(),
        at: now,
    };
    let path = path_of(ws, release);
    // Every acceptance of the id after this one, which the entry carries.
    let mut after = book.acceptances_of(id);
    after.retain(|a| a.package != acceptance.package);
    after.push(acceptance.clone());
    after.sort_by(|a, b| a.package.cmp(&b.package));
    let mut accepted: audit::event::Acceptance = serde_json::to_value(&acceptance)
        .and_then(serde_json::from_value)
        .map_err(|e| FindingsError::Invalid(format!("acceptance of {id}: {e}")))?;
    accepted.acceptances = Some(to_values(&after)?);
    ws.change(
        Event::FindingsAccept(audit::event::FindingsAccept {
            target: Pair::new(release.version.to_string(), id),
            before: (),
            after: accepted,
        }),
        |seq| {
            store::update_json(&path, |b: &mut Book| {
                b.set_acceptances(id, after, seq);
                Ok::<_, store::StateError>(())
            })
        },
    )?;
    Ok(acceptance)
}

/// Withdraws the acceptances of finding `id` (in `package`, or all of them). Audited.
pub fn revoke(
    ws: &Workspace,
    release: &Release,
    id: &str,
    package: Option<&str>,
) -> Result<usize, FindingsError> {
    let _lock = change_lock(ws)?;
    let book = load(ws, release)?;
    let revoked = |a: &Acceptance| package.is_none_or(|p| a.package.as_deref() == Some(p));
    let (gone, kept): (Vec<Acceptance>, Vec<Acceptance>) =
        book.acceptances_of(id).into_iter().partition(revoked);
    if gone.is_empty() {
        return Err(FindingsError::Invalid(format!(
            "{} has no acceptance of {id} to revoke",
            release.version
        )));
    }
    let path = path_of(ws, release);
    let n = gone.len();
    ws.change(
        Event::FindingsRevoke(audit::event::FindingsRevoke {
            target: Pair::new(release.version.to_string(), id),
            before: serde_json::json!(gone),
            after: Some(Remaining {
                acceptances: to_values(&kept)?,
            }),
        }),
        |seq| {
            store::update_json(&path, |b: &mut Book| {
                b.set_acceptances(id, kept, seq);
                Ok::<_, store::StateError>(())
            })
        },
    )?;
    Ok(n)
}

/// The largest scanner file read (a report of a whole image is tens of MiB).
pub const MAX_SCANNER_FILE: u64 = 256 * 1024 * 1024;

/// The most an import's entry carries of the release's findings (their JSON): about 3,000
/// findings as [`normalize`] keeps them. An entry stays well within the 4 MiB a shared
/// workspace's entry object may take, and a sealed segment of 1,024 entries within its 16 MiB
/// unless many imports of this size follow each other. An import past it is refused, naming
/// the size: the findings are what the gates judge, so none is dropped quietly.
pub const MAX_CARRIED_BYTES: usize = 1024 * 1024;

/// The longest id, package or version kept, in characters.
const MAX_NAME_CHARS: usize = 200;
/// The longest title, suppression statement, scanner name or file path kept.
const MAX_TEXT_CHARS: usize = 300;

/// `s` cut to `max` characters, marked with `…` when cut.
fn cut(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A finding as it is stored and carried by its import's entry: every text field cut to a
/// bound ([`MAX_NAME_CHARS`] for id, package and versions, [`MAX_TEXT_CHARS`] for the rest),
/// so that an entry's size follows from how many findings it carries.
pub fn normalize(f: Finding) -> Finding {
    let text = |s: Option<String>| s.map(|s| cut(s, MAX_TEXT_CHARS));
    Finding {
        id: cut(f.id, MAX_NAME_CHARS),
        package: cut(f.package, MAX_NAME_CHARS),
        installed: cut(f.installed, MAX_NAME_CHARS),
        fixed: f.fixed.map(|s| cut(s, MAX_NAME_CHARS)),
        title: text(f.title),
        scanner: cut(f.scanner, MAX_TEXT_CHARS),
        source_file: cut(f.source_file, MAX_TEXT_CHARS),
        suppressed: text(f.suppressed),
        severity_unreadable: text(f.severity_unreadable),
        ..f
    }
}

/// Records as JSON values, for an entry that carries them.
fn to_values<T: Serialize>(records: &[T]) -> Result<Vec<Value>, FindingsError> {
    records
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|e| FindingsError::Invalid(format!("a record cannot be written as JSON: {e}")))
}

/// A scanner file's text, refused past [`MAX_SCANNER_FILE`] (a device or a runaway file is
/// not read without end).
fn read_capped(path: &std::path::Path) -> Result<String, FindingsError> {
    use std::io::Read as _;
    let read = |cause| FindingsError::Read {
        path: path.to_owned(),
        cause,
    };
    // A FIFO or device is refused before it is opened (opening one may block).
    if !std::fs::metadata(path).map_err(read)?.is_file() {
        return Err(FindingsError::Format {
            path: path.to_owned(),
            message: "not a regular file (a FIFO, socket or device): not read".to_owned(),
        });
    }
    let file = std::fs::File::open(path).map_err(read)?;
    let mut text = String::new();
    file.take(MAX_SCANNER_FILE + 1)
        .read_to_string(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_SCANNER_FILE {
        return Err(FindingsError::Format {
            path: path.to_owned(),
            message: format!(
                "larger than {} MiB: not a scanner report the console reads",
                MAX_SCANNER_FILE >> 20
            ),
        });
    }
    Ok(text)
}

/// Reads every file (all of them first: one that is not scanner output stops the import,
/// naming it), then merges the findings into the release's, audited before they are stored.
/// A finding seen again keeps its first-seen time and takes the newer facts.
pub fn import(
    ws: &Workspace,
    release: &Release,
    files: &[PathBuf],
) -> Result<Imported, FindingsError> {
    let now = Timestamp::now();
    // A policy that cannot be read stops the import before anything is read or stored.
    let block = blocking_severities(ws)?;
    let mut parsed = Vec::new();
    let mut summary = Vec::new();
    for path in files {
        let text = read_capped(path)?;
        let (format, found) = parse(&text, path, now)?;
        summary.push((path.display().to_string(), format, found.len()));
        parsed.extend(found);
    }
    let version = release.version.to_string();
    let book_path = path_of(ws, release);
    // One change at a time: what is merged is what is stored.
    let _lock = change_lock(ws)?;
    let book = load(ws, release)?;
    let before = &book.findings;
    let mut merged: BTreeMap<(String, String, String), Finding> =
        before.iter().map(|f| (f.key(), f.clone())).collect();
    let mut new = 0;
    for mut f in parsed {
        match merged.get(&f.key()) {
            Some(old) => f.first_seen = old.first_seen,
            None => new += 1,
        }
        merged.insert(f.key(), f);
    }
    let total = merged.len();
    let blocking = judge_all(
        merged.values().cloned().collect(),
        &book.acceptances,
        &block,
        ws.config().findings.scanner_suppressions_accept,
        now,
    )
    .iter()
    .filter(|j| j.blocks.is_some())
    .count();
    let imported = Imported {
        version: version.clone(),
        files: summary,
        new,
        total,
        blocking,
    };
    let merged: Vec<Finding> = merged.into_values().collect();
    // The entry carries the release's findings after the import, bounded: the log is read by
    // every console (on a shared workspace, one object per entry).
    let carried = to_values(&merged)?;
    let bytes = serde_json::to_vec(&carried).map_or(usize::MAX, |b| b.len());
    if bytes > MAX_CARRIED_BYTES {
        return Err(FindingsError::Invalid(format!(
            "{version} would hold {total} findings after this import, {} KiB in its audit \
             entry, which carries them: more than the {} KiB an entry may carry; nothing was \
             imported. Import a scan limited to the severities that matter (trivy --severity \
             HIGH,CRITICAL, grype --only-fixed ...) or fewer files",
            bytes.div_ceil(1024),
            MAX_CARRIED_BYTES / 1024
        )));
    }
    let counts = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    ws.change(
        Event::FindingsImport(audit::event::FindingsImport {
            target: version.clone(),
            before: serde_json::json!({ "findings": before.len() }),
            after: FindingsImported {
                files: imported
                    .files
                    .iter()
                    .map(|f| serde_json::json!(f))
                    .collect(),
                new: counts(new),
                findings: counts(total),
                blocking: counts(blocking),
                merged: Some(carried),
            },
        }),
        |seq| {
            store::update_json(&book_path, |b: &mut Book| {
                b.findings = merged;
                b.findings_seq = seq;
                Ok::<_, store::StateError>(())
            })
        },
    )?;
    Ok(imported)
}

/// Parses scanner output, telling the format by its content.
pub fn parse(
    text: &str,
    path: &Path,
    now: Timestamp,
) -> Result<(Format, Vec<Finding>), FindingsError> {
    let bad = |message: String| FindingsError::Format {
        path: path.to_owned(),
        message,
    };
    let v: Value = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "not JSON ({e}); expected Trivy JSON, Grype JSON, SARIF 2.1.0 or `snyk test --json`"
        ))
    })?;
    let source = path.display().to_string();
    let format = if v.get("SchemaVersion").is_some() && v.get("Results").is_some() {
        Format::Trivy
    } else if v.get("matches").is_some_and(Value::is_array) {
        Format::Grype
    } else if v.get("runs").is_some_and(Value::is_array)
        && v.get("version").and_then(Value::as_str) == Some("2.1.0")
    {
        Format::Sarif
    } else if is_snyk(&v) {
        Format::Snyk
    } else {
        return Err(bad(
            "not scanner output the console reads: expected Trivy JSON (SchemaVersion and \
             Results), Grype JSON (matches), SARIF 2.1.0 (version \"2.1.0\" and runs) or \
             `snyk test --json` (vulnerabilities with packageManager)"
                .into(),
        ));
    };
    let found = match format {
        Format::Trivy => trivy(&v, &source, now),
        Format::Grype => grype(&v, &source, now),
        Format::Sarif => sarif(&v, &source, now),
        Format::Snyk => snyk(&v, &source, now),
    }
    .map_err(bad)?;
    Ok((format, found.into_iter().map(normalize).collect()))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn trivy(v: &Value, source: &str, now: Timestamp) -> Result<Vec<Finding>, String> {
    if v.get("SchemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(format!(
            "Trivy SchemaVersion {} is not supported (expected 2)",
            v.get("SchemaVersion").unwrap_or(&Value::Null)
        ));
    }
    let finding = |vuln: &Value, suppressed: Option<String>| -> Result<Finding, String> {
        let id = text(vuln, "VulnerabilityID").ok_or("a vulnerability without VulnerabilityID")?;
        Ok(Finding {
            package: text(vuln, "PkgName").unwrap_or_default(),
            installed: text(vuln, "InstalledVersion").unwrap_or_default(),
            fixed: text(vuln, "FixedVersion"),
            severity: Severity::from_word(&text(vuln, "Severity").unwrap_or_default()),
            title: text(vuln, "Title"),
            scanner: "trivy".into(),
            source_file: source.to_owned(),
            suppressed,
            suppressed_until: None,
            severity_unreadable: None,
            first_seen: now,
            id,
        })
    };
    let mut out = Vec::new();
    for result in array(v, "Results") {
        for vuln in array(result, "Vulnerabilities") {
            out.push(finding(vuln, None)?);
        }
        for modified in array(result, "ExperimentalModifiedFindings") {
            if modified.get("Type").and_then(Value::as_str) != Some("vulnerability") {
                continue;
            }
            let why = [text(modified, "Status"), text(modified, "Statement")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let why = if why.is_empty() {
                "suppressed by the scanner".to_owned()
            } else {
                why
            };
            out.push(finding(
                modified.get("Finding").unwrap_or(&Value::Null),
                Some(why),
            )?);
        }
    }
    Ok(out)
}

/// `snyk test --json`: one project's result, or (`--all-projects`) a list of them; each has a
/// `vulnerabilities` list and says its `packageManager`.
fn is_snyk(v: &Value) -> bool {
    let project = |p: &Value| {
        p.get("vulnerabilities").is_some_and(Value::is_array)
            && (p.get("packageManager").is_some() || p.get("projectName").is_some())
    };
    match v {
        Value::Array(all) => !all.is_empty() && all.iter().all(project),
        v => project(v),
    }
}

/// Snyk lists a vulnerability once per dependency path (`from`); a finding is one per id,
/// package and version. The id is the vulnerability's CVE when it has exactly one (so that the
/// same CVE from Trivy or Grype is the same finding), else Snyk's own id; the title keeps
/// Snyk's id. Ignores (`filtered.ignore`, from `.snyk` or the Snyk UI) are the scanner's
/// suppressions.
fn snyk(v: &Value, source: &str, now: Timestamp) -> Result<Vec<Finding>, String> {
    let projects = match v {
        Value::Array(all) => all.iter().collect::<Vec<_>>(),
        v => vec![v],
    };
    let finding = |vuln: &Value,
                   suppressed: Option<(String, Option<Timestamp>)>|
     -> Result<Finding, String> {
        let (suppressed, suppressed_until) = suppressed.unzip();
        let snyk_id = text(vuln, "id").ok_or("a Snyk vulnerability without id")?;
        let cves = vuln
            .get("identifiers")
            .map(|i| array(i, "CVE"))
            .unwrap_or_default();
        let id = match cves {
            [one] => one.as_str().map_or_else(|| snyk_id.clone(), str::to_owned),
            _ => snyk_id.clone(),
        };
        let fixed: Vec<&str> = array(vuln, "fixedIn")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let title =
            text(vuln, "title").map_or_else(|| snyk_id.clone(), |t| format!("{t} ({snyk_id})"));
        Ok(Finding {
            package: text(vuln, "packageName")
                .or_else(|| text(vuln, "name"))
                .unwrap_or_default(),
            installed: text(vuln, "version").unwrap_or_default(),
            fixed: (!fixed.is_empty()).then(|| fixed.join(", ")),
            severity: Severity::from_word(&text(vuln, "severity").unwrap_or_default()),
            title: Some(title),
            scanner: "snyk".into(),
            source_file: source.to_owned(),
            suppressed,
            suppressed_until: suppressed_until.flatten(),
            severity_unreadable: None,
            first_seen: now,
            id,
        })
    };
    let mut out: Vec<Finding> = Vec::new();
    let mut push = |f: Finding| {
        if !out.iter().any(|o| o.key() == f.key()) {
            out.push(f);
        }
    };
    for project in projects {
        for vuln in array(project, "vulnerabilities") {
            push(finding(vuln, None)?);
        }
        let ignored = project
            .get("filtered")
            .map(|f| array(f, "ignore"))
            .unwrap_or_default();
        for vuln in ignored {
            // The ignore that lasts longest: one without `expires` lasts for ever; one whose
            // `expires` is not a time ended when it was read.
            let why = vuln
                .get("filtered")
                .map(|f| array(f, "ignored"))
                .unwrap_or_default()
                .iter()
                .map(|i| {
                    let reason = text(i, "reason").unwrap_or_else(|| "no reason given".into());
                    match text(i, "expires") {
                        Some(until) => match until.trim().parse::<Timestamp>() {
                            Ok(t) => (format!("ignored in Snyk until {until}: {reason}"), Some(t)),
                            Err(_) => (
                                format!(
                                    "ignored in Snyk until {until:?}, which is not a time, so \
                                     the ignore does not count: {reason}"
                                ),
                                Some(now),
                            ),
                        },
                        None => (format!("ignored in Snyk: {reason}"), None),
                    }
                })
                .max_by_key(|(_, until)| until.unwrap_or(Timestamp::MAX))
                .unwrap_or_else(|| ("ignored in Snyk".to_owned(), None));
            push(finding(vuln, Some(why))?);
        }
    }
    Ok(out)
}

fn grype(v: &Value, source: &str, now: Timestamp) -> Result<Vec<Finding>, String> {
    array(v, "matches")
        .iter()
        .map(|m| {
            let vuln = m.get("vulnerability").unwrap_or(&Value::Null);
            let artifact = m.get("artifact").unwrap_or(&Value::Null);
            let fix = vuln.get("fix").unwrap_or(&Value::Null);
            let fixed = (fix.get("state").and_then(Value::as_str) == Some("fixed"))
                .then(|| {
                    array(fix, "versions")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|s| !s.is_empty());
            Ok(Finding {
                id: text(vuln, "id").ok_or("a match without vulnerability.id")?,
                package: text(artifact, "name").unwrap_or_default(),
                installed: text(artifact, "version").unwrap_or_default(),
                fixed,
                severity: Severity::from_word(&text(vuln, "severity").unwrap_or_default()),
                title: text(vuln, "description"),
                scanner: "grype".into(),
                source_file: source.to_owned(),
                suppressed: None,
                suppressed_until: None,
                severity_unreadable: None,
                first_seen: now,
            })
        })
        .collect()
}

/// `Label: value` from a SARIF message (Trivy writes package facts there).
fn labelled(message: &str, label: &str) -> Option<String> {
    message
        .lines()
        .find_map(|l| l.trim().strip_prefix(label)?.strip_prefix(':'))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// A SARIF rule's `security-severity`: a CVSS score from 0 to 10, as a string (what GitHub
/// documents) or a number. Anything else (`NaN`, `inf`, `11`, `"high"`) is an error saying
/// what it was (cut short).
fn security_severity(v: &Value) -> Result<Severity, String> {
    let score = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok()));
    match score {
        Some(s) if s.is_finite() && (0.0..=10.0).contains(&s) => Ok(Severity::from_score(s)),
        _ => {
            let mut shown: String = v.to_string().chars().take(40).collect();
            if shown.len() < v.to_string().len() {
                shown.push('…');
            }
            Err(format!(
                "the rule's security-severity {shown} is not a CVSS score from 0 to 10"
            ))
        }
    }
}

fn sarif(v: &Value, source: &str, now: Timestamp) -> Result<Vec<Finding>, String> {
    let mut out = Vec::new();
    for run in array(v, "runs") {
        let driver = run
            .get("tool")
            .and_then(|t| t.get("driver"))
            .unwrap_or(&Value::Null);
        let tool = text(driver, "name").unwrap_or_else(|| "sarif".into());
        let rules: BTreeMap<String, &Value> = array(driver, "rules")
            .iter()
            .filter_map(|r| Some((text(r, "id")?, r)))
            .collect();
        for result in array(run, "results") {
            let id = text(result, "ruleId").ok_or("a result without ruleId")?;
            let rule = rules.get(&id).copied().unwrap_or(&Value::Null);
            let message = result
                .get("message")
                .and_then(|m| text(m, "text"))
                .unwrap_or_default();
            let score = rule
                .get("properties")
                .and_then(|p| p.get("security-severity"))
                .filter(|s| !s.is_null())
                .map(security_severity);
            let severity_unreadable = score.clone().and_then(Result::err);
            let severity = match (score, text(result, "level").as_deref()) {
                (Some(Ok(s)), _) => s,
                (None, Some("error")) => Severity::High,
                (None, Some("warning")) => Severity::Medium,
                (None, Some("note")) => Severity::Low,
                // A score that is not one: unknown (and it blocks, see `severity_unreadable`).
                (Some(Err(_)) | None, _) => Severity::Unknown,
            };
            let location = array(result, "locations")
                .first()
                .and_then(|l| l.get("physicalLocation"))
                .and_then(|p| p.get("artifactLocation"))
                .and_then(|a| text(a, "uri"));
            let suppressed = array(result, "suppressions")
                .iter()
                .find(|s| text(s, "status").is_none_or(|st| st == "accepted"))
                .map(|s| {
                    [text(s, "kind"), text(s, "justification")]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ")
                });
            out.push(Finding {
                package: labelled(&message, "Package")
                    .or(location)
                    .unwrap_or_default(),
                installed: labelled(&message, "Installed Version").unwrap_or_default(),
                fixed: labelled(&message, "Fixed Version"),
                severity,
                title: rule.get("shortDescription").and_then(|d| text(d, "text")),
                scanner: tool.to_ascii_lowercase(),
                source_file: source.to_owned(),
                suppressed,
                suppressed_until: None,
                severity_unreadable,
                first_seen: now,
                id,
            });
        }
    }
    Ok(out)
}
