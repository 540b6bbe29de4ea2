//! Verify: SHA-256 of every artifact against SHA256SUMS, and signatures pinned to the expected
//! identity, as one report with a green/red overall verdict.

pub mod apple;
pub mod authenticode;
pub mod bundle;
pub mod certs;
pub mod cfb;
pub mod dmg;
pub mod hash;
pub mod installer;
pub mod macho;
pub mod msi;
pub mod pkg;
pub mod release;
pub mod sha_pair;
pub mod shared;
pub mod signature;
pub mod sums;
pub mod ticket;
pub mod windows_roots;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::audit::Event;
use crate::audit::event::{VerifiedBlob, VerifyVerdict};
use crate::digest::Sha256;

pub use self::signature::{Expected, Signer, Verdict as SignatureVerdict};
pub use self::sums::BadLine;

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Files and folders (folders are walked; sums and signature files are skipped).
    pub paths: Vec<PathBuf>,
    /// The sums file; default: `SHA256SUMS` in the single folder given.
    pub sums: Option<PathBuf>,
    /// Also write a sums file of what was hashed.
    pub write_sums: Option<PathBuf>,
    /// Also write `NAME.sha256` next to each artifact.
    pub write_per_file: bool,
    pub expected: Expected,
    pub threads: usize,
}

/// Checksum verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumVerdict {
    Ok,
    Mismatch,
    /// Listed in the sums file, not on disk.
    Missing,
    /// On disk, not listed.
    Unlisted,
    /// No sums file to check against.
    NotListedNoSums,
}

impl ChecksumVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumVerdict::Ok => "ok",
            ChecksumVerdict::Mismatch => "mismatch",
            ChecksumVerdict::Missing => "missing",
            ChecksumVerdict::Unlisted => "unlisted",
            ChecksumVerdict::NotListedNoSums => "not_listed_no_sums",
        }
    }
}

/// The verdicts for one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Name relative to the sums file's folder (or the folder given).
    pub path: String,
    #[serde(skip)]
    pub disk_path: PathBuf,
    pub size_bytes: u64,
    pub sha256: Option<Sha256>,
    pub checksum: ChecksumVerdict,
    pub expected_sha256: Option<Sha256>,
    pub signature: SignatureVerdict,
    pub signer: Option<Signer>,
    pub detail: String,
    #[serde(skip)]
    pub raw_output: String,
    /// For Apple artifacts read in-process: each slice's chain, team, timestamp, runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apple: Option<macho::AppleSignature>,
}

impl Artifact {
    pub fn is_green(&self) -> bool {
        self.checksum == ChecksumVerdict::Ok && self.signature.is_acceptable()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    Pass,
    Fail,
}

/// The whole verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub overall: Overall,
    pub artifacts: Vec<Artifact>,
    pub bad_lines: Vec<BadLine>,
    pub sums_file: Option<PathBuf>,
    pub expected: Expected,
    /// Files written on request (sums, per-file `.sha256`).
    pub written: Vec<PathBuf>,
}

/// Where a verify task leaves its report for whoever started it.
pub type ReportSlot = Arc<std::sync::Mutex<Option<Report>>>;

/// How a report is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Json,
}

/// Why verification could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("nothing to verify: no files in {0}")]
    Empty(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Refused(String),
}

/// Progress: bytes hashed of all bytes, and what is happening.
#[derive(Debug, Clone)]
pub struct ProgressUpdate {
    pub fraction: f32,
    pub step: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> VerifyError + '_ {
    move |cause| VerifyError::Io {
        path: path.to_owned(),
        cause,
    }
}

/// Why a FIFO, socket or device is not verified.
const NOT_REGULAR: &str =
    "not a regular file or folder (a FIFO, socket or device): not read, refused";

/// Where `path` really is, when that is inside `base` (itself resolved); `Err` with the real
/// place otherwise. Nothing outside the verified folder is hashed through a link.
fn inside(path: &Path, base: Option<&Path>) -> Result<PathBuf, String> {
    let real = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve it: {e}"))?;
    match base {
        Some(b) if !real.starts_with(b) => Err(format!(
            "it resolves through a symbolic link to {}, outside {}: refused",
            real.display(),
            b.display()
        )),
        _ => Ok(real),
    }
}

/// Refuses a trust anchor that lies inside what is being verified: a CA shipped with the
/// files it vouches for proves nothing.
fn anchor_outside(opts: &Options) -> Result<(), VerifyError> {
    let Some(ca) = &opts.expected.ca_file else {
        return Ok(());
    };
    let Ok(real_ca) = ca.canonicalize() else {
        return Ok(());
    };
    for p in &opts.paths {
        let Ok(real) = p.canonicalize() else { continue };
        if real_ca == real || (real.is_dir() && real_ca.starts_with(&real)) {
            return Err(VerifyError::Refused(format!(
                "the trust anchor {} is inside {}, which is being verified: a CA must come \
                 from outside the files it vouches for (set [signing] ca_file or --ca-file to a \
                 file elsewhere)",
                ca.display(),
                p.display()
            )));
        }
    }
    Ok(())
}

fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    refused: &mut Vec<(PathBuf, String)>,
) -> Result<(), VerifyError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .flatten()
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        let ft = e.file_type().map_err(io_err(&path))?;
        if ft.is_dir() && bundle::is_app_dir(&path) {
            // An app bundle is one artifact, checked whole by its seal.
            out.push(path);
        } else if ft.is_dir() {
            walk(&path, out, refused)?;
        } else if ft.is_file() {
            out.push(path);
        } else if ft.is_symlink() {
            // Followed only when it stays inside the folder (checked by the caller).
            refused.push((path, String::new()));
        } else {
            // A FIFO, socket or device: opening one may block or never end.
            refused.push((path, NOT_REGULAR.to_owned()));
        }
    }
    Ok(())
}

pub(crate) fn relative_name(path: &Path, base: &Path) -> String {
    let rel = path
        .strip_prefix(base)
        .unwrap_or_else(|_| Path::new(path.file_name().unwrap_or(path.as_os_str())));
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Runs the verification. Hashing runs on blocking threads; `progress` is called a few times
/// a second; `cancel` stops it between reads.
pub async fn run(
    opts: Options,
    progress: impl Fn(ProgressUpdate) + Send + Sync + 'static,
    cancel: CancellationToken,
) -> Result<Report, VerifyError> {
    anchor_outside(&opts)?;
    let mut found = on_disk(&opts)?;
    expected_by_sums(&opts, &mut found)?;
    let progress: Arc<dyn Fn(ProgressUpdate) + Send + Sync> = Arc::new(progress);
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
    } else {
        opts.threads
    };
    let (sizes, hashes) = hash_all(&found.files, threads, progress.clone(), &cancel).await?;
    let artifacts = judge(&found, &sizes, &hashes, &opts.expected, &*progress, &cancel).await?;
    let written = write_requested(&opts, &artifacts)?;
    let Found {
        parsed,
        refused,
        sums_path,
        ..
    } = found;
    let mut bad_lines = parsed.map(|p| p.bad_lines).unwrap_or_default();
    bad_lines.extend(refused);
    let overall = if !artifacts.is_empty()
        && artifacts.iter().all(Artifact::is_green)
        && bad_lines.is_empty()
    {
        Overall::Pass
    } else {
        Overall::Fail
    };
    progress(ProgressUpdate {
        fraction: 1.0,
        step: "done".into(),
    });
    Ok(Report {
        overall,
        artifacts,
        bad_lines,
        sums_file: sums_path,
        expected: opts.expected,
        written,
    })
}

/// What a verification looks at: the files found and what SHA256SUMS says of them.
struct Found {
    files: Vec<PathBuf>,
    /// Each file's name as SHA256SUMS lists it (relative to `base`, `/`-separated).
    names: Vec<String>,
    base: PathBuf,
    /// `base` with its links resolved: a link in the folder is followed only inside it.
    real_base: Option<PathBuf>,
    sums_path: Option<PathBuf>,
    parsed: Option<sums::Sums>,
    /// Listed in SHA256SUMS but not on disk.
    missing: Vec<sums::Entry>,
    /// Links and listed names that lead outside the folder, and special files.
    refused: Vec<sums::BadLine>,
}

/// Phase 1: what is on disk: the files of each path (a folder walked, links followed only
/// inside it), and the SHA256SUMS that applies.
fn on_disk(opts: &Options) -> Result<Found, VerifyError> {
    let mut files = Vec::new();
    let mut links = Vec::new();
    let mut base: Option<PathBuf> = None;
    for p in &opts.paths {
        let meta = std::fs::metadata(p).map_err(io_err(p))?;
        if !meta.is_dir() && !meta.is_file() {
            return Err(VerifyError::Refused(format!(
                "{}: {NOT_REGULAR}",
                p.display()
            )));
        }
        if meta.is_dir() && !bundle::is_app_dir(p) {
            base.get_or_insert_with(|| p.clone());
            walk(p, &mut files, &mut links)?;
        } else {
            base.get_or_insert_with(|| p.parent().map(Path::to_owned).unwrap_or_default());
            files.push(p.clone());
        }
    }
    let sums_path = opts.sums.clone().or_else(|| {
        let dirs: Vec<&PathBuf> = opts.paths.iter().filter(|p| p.is_dir()).collect();
        match dirs.as_slice() {
            [dir] if dir.join(sums::SUMS_FILE).is_file() => Some(dir.join(sums::SUMS_FILE)),
            _ => None,
        }
    });
    let base = sums_path
        .as_ref()
        .and_then(|s| s.parent().map(Path::to_owned))
        .or(base)
        .unwrap_or_default();
    // Links inside the folder are followed only when they stay inside it.
    let real_base = base.canonicalize().ok();
    let mut refused: Vec<sums::BadLine> = Vec::new();
    for (link, special) in links {
        let name = relative_name(&link, &base);
        if !special.is_empty() {
            refused.push(sums::BadLine {
                line: 0,
                text: name,
                reason: special,
            });
            continue;
        }
        match inside(&link, real_base.as_deref()) {
            Ok(real) if real.is_file() => files.push(link),
            Ok(_) => {}
            Err(why) => refused.push(sums::BadLine {
                line: 0,
                text: name,
                reason: format!("a symbolic link in the folder: {why}"),
            }),
        }
    }
    files.retain(|f| !sums::is_sums_or_signature(&relative_name(f, &base)));
    files.sort();
    files.dedup();
    Ok(Found {
        names: files.iter().map(|f| relative_name(f, &base)).collect(),
        files,
        base,
        real_base,
        sums_path,
        parsed: None,
        missing: Vec::new(),
        refused,
    })
}

/// Phase 2: what was expected: SHA256SUMS read, the files it lists that the paths did not
/// name added, the ones not on disk kept as missing.
fn expected_by_sums(opts: &Options, found: &mut Found) -> Result<(), VerifyError> {
    let Found {
        files,
        names,
        base,
        real_base,
        sums_path,
        parsed,
        missing,
        refused,
    } = found;
    *parsed = match sums_path {
        Some(p) => Some(sums::read(p).map_err(io_err(p))?),
        None => None,
    };
    if let Some(parsed) = parsed {
        for entry in &parsed.entries {
            if names.contains(&entry.name) {
                continue;
            }
            let on_disk = base.join(&entry.name);
            if !on_disk.is_file() {
                missing.push(entry.clone());
                continue;
            }
            match inside(&on_disk, real_base.as_deref()) {
                Ok(_) => {
                    names.push(entry.name.clone());
                    files.push(on_disk);
                }
                Err(_) if refused.iter().any(|r| r.text == entry.name) => {}
                Err(why) => refused.push(sums::BadLine {
                    line: entry.line,
                    text: entry.name.clone(),
                    reason: why,
                }),
            }
        }
    }
    if files.is_empty() && missing.is_empty() {
        return Err(VerifyError::Empty(
            opts.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }

    Ok(())
}

/// Phase 3: every file hashed, in parallel, with progress (to 90%); its size and its digest
/// or why it has none.
async fn hash_all(
    files: &[PathBuf],
    threads: usize,
    progress: Arc<dyn Fn(ProgressUpdate) + Send + Sync>,
    cancel: &CancellationToken,
) -> Result<(Vec<u64>, Vec<hash::HashResult>), VerifyError> {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .collect();
    let total: u64 = sizes.iter().sum::<u64>().max(1);
    let done: Arc<Vec<AtomicU64>> = Arc::new(files.iter().map(|_| AtomicU64::new(0)).collect());
    let hashing = {
        let (files, done, cancel) = (files.to_vec(), done.clone(), cancel.clone());
        tokio::task::spawn_blocking(move || hash::hash_files(&files, threads, &done, &cancel))
    };
    let ticker = {
        let (done, progress) = (done.clone(), progress.clone());
        let count = files.len();
        tokio::spawn(async move {
            loop {
                let bytes: u64 = done.iter().map(|d| d.load(Ordering::Relaxed)).sum();
                progress(ProgressUpdate {
                    fraction: bytes as f32 / total as f32 * 0.9,
                    step: format!(
                        "hashing {count} file{} ({} of {})",
                        if count == 1 { "" } else { "s" },
                        human_bytes(bytes),
                        human_bytes(total)
                    ),
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let hashes = hashing.await.map_err(|_| VerifyError::Cancelled);
    ticker.abort();
    let hashes = hashes?;
    if cancel.is_cancelled() {
        return Err(VerifyError::Cancelled);
    }
    Ok((sizes, hashes))
}

/// Phase 4: each file's checksum against SHA256SUMS and its signature, then the missing ones.
async fn judge(
    found: &Found,
    sizes: &[u64],
    hashes: &[hash::HashResult],
    expected: &Expected,
    progress: &(dyn Fn(ProgressUpdate) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<Vec<Artifact>, VerifyError> {
    let Found {
        files,
        names,
        base,
        parsed,
        missing,
        ..
    } = found;
    let by_name = parsed.as_ref().map(|p| p.by_name());
    let mut artifacts = Vec::new();
    for (i, file) in files.iter().enumerate() {
        progress(ProgressUpdate {
            fraction: 0.9 + 0.1 * i as f32 / files.len() as f32,
            step: format!("checking the signature of {}", names[i]),
        });
        let (sha256, hash_detail) = match &hashes[i] {
            Ok(h) => (Some(Sha256::from(*h)), None),
            Err(hash::HashError::Cancelled) => return Err(VerifyError::Cancelled),
            Err(_) if file.is_dir() => (
                None,
                Some(
                    "an app bundle folder has no SHA-256 of its own (SHA256SUMS lists files: \
                     ship it zipped); its files are checked by its seal"
                        .to_owned(),
                ),
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        let expected_entry = by_name.as_ref().and_then(|m| m.get(names[i].as_str()));
        let checksum = match (&by_name, expected_entry, &sha256) {
            (None, _, _) => ChecksumVerdict::NotListedNoSums,
            (Some(_), None, _) => ChecksumVerdict::Unlisted,
            (Some(_), Some(e), Some(h)) if e.sha256 == *h => ChecksumVerdict::Ok,
            (Some(_), Some(_), _) => ChecksumVerdict::Mismatch,
        };
        if cancel.is_cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let sig = signature::verify(file, expected, cancel).await;
        // A check cut short is no verdict: the verification as a whole is cancelled.
        if cancel.is_cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let mut detail = match checksum {
            ChecksumVerdict::Ok => "checksum ok".to_owned(),
            ChecksumVerdict::Mismatch => {
                "checksum MISMATCH: the bytes differ from SHA256SUMS".to_owned()
            }
            ChecksumVerdict::Unlisted => "not listed in SHA256SUMS".to_owned(),
            ChecksumVerdict::NotListedNoSums => "no SHA256SUMS to check against".to_owned(),
            ChecksumVerdict::Missing => String::new(),
        };
        if let Some(e) = hash_detail {
            detail = if file.is_dir() {
                e
            } else {
                format!("cannot hash: {e}")
            };
        }
        detail = format!("{detail}; {}", sig.detail);
        artifacts.push(Artifact {
            path: names[i].clone(),
            disk_path: file.clone(),
            size_bytes: sizes[i],
            sha256,
            checksum,
            expected_sha256: expected_entry.map(|e| e.sha256),
            signature: sig.verdict,
            signer: sig.signer,
            detail,
            raw_output: sig.raw_output,
            apple: sig.apple,
        });
    }
    for m in missing {
        artifacts.push(Artifact {
            path: m.name.clone(),
            disk_path: base.join(&m.name),
            size_bytes: 0,
            sha256: None,
            checksum: ChecksumVerdict::Missing,
            expected_sha256: Some(m.sha256),
            signature: SignatureVerdict::NotApplicable,
            signer: None,
            detail: format!("listed in SHA256SUMS (line {}) but not on disk", m.line),
            raw_output: String::new(),
            apple: None,
        });
    }
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));

    Ok(artifacts)
}

/// Phase 5: the files written on request (a SHA256SUMS, a `.sha256` beside each file).
fn write_requested(opts: &Options, artifacts: &[Artifact]) -> Result<Vec<PathBuf>, VerifyError> {
    let mut written = Vec::new();
    if let Some(out) = &opts.write_sums {
        let out_base = out.parent().map(Path::to_owned).unwrap_or_default();
        let entries: Vec<(String, Sha256)> = artifacts
            .iter()
            .filter_map(|a| Some((relative_name(&a.disk_path, &out_base), a.sha256?)))
            .collect();
        crate::store::write_atomic_named(out, sums::render(&entries).as_bytes()).map_err(|e| {
            VerifyError::Io {
                path: out.clone(),
                cause: std::io::Error::other(e.to_string()),
            }
        })?;
        written.push(out.clone());
    }
    if opts.write_per_file {
        for a in artifacts {
            let (Some(h), Some(name)) = (&a.sha256, a.disk_path.file_name()) else {
                continue;
            };
            let mut target = a.disk_path.clone().into_os_string();
            target.push(".sha256");
            let target = PathBuf::from(target);
            let line = sums::render(&[(name.to_string_lossy().into_owned(), *h)]);
            crate::store::write_atomic(&target, line.as_bytes()).map_err(|e| VerifyError::Io {
                path: target.clone(),
                cause: std::io::Error::other(e.to_string()),
            })?;
            written.push(target);
        }
    }

    Ok(written)
}

/// The kind of a verify task over a release's own artifacts with the workspace's pins: its
/// pass ticks the checklist item whose `auto_tick_on` names it.
/// The programs verification runs, with what each is for: `osslsigncode` checks Authenticode
/// signatures everywhere; on macOS `codesign`, `spctl` and `xcrun stapler` give a second
/// opinion on Apple signatures.
pub fn tools() -> Vec<(&'static str, &'static str)> {
    let mut tools = vec![("osslsigncode", "verify: Windows (Authenticode) signatures")];
    if cfg!(target_os = "macos") {
        tools.extend([
            ("codesign", "verify: Apple signatures (second opinion)"),
            ("spctl", "verify: Gatekeeper's assessment"),
            ("xcrun", "verify: notarization tickets (stapler)"),
        ]);
    }
    tools
}

pub const TASK_KIND: &str = "verify";
/// The kind of any other verify task (loose files, other pins): it reports, and ticks nothing.
pub const FILES_TASK_KIND: &str = "verify.files";
/// How long a verification may take before it fails (hashing a few GiB takes seconds).
pub const TASK_TIMEOUT: Duration = Duration::from_hours(1);

/// A `verify.report` entry's target, the same on every machine: `VERSION/SHA256SUMS` for a
/// release's own verification (the release and the checksum file's name), the file's name for
/// loose files, `artifacts` without one. Never a local path: another person's console shows
/// the entry, and the verifier's folders are nobody else's business. (Entries written before
/// carry the verifier's path; they read as they were written.)
fn report_target(
    sums_file: Option<&std::path::Path>,
    release: Option<&crate::workspace::Release>,
) -> String {
    let name = sums_file
        .and_then(std::path::Path::file_name)
        .map(|n| n.to_string_lossy().into_owned());
    match (release, name) {
        (Some(r), Some(name)) => format!("{}/{name}", r.version),
        (Some(r), None) => format!("{}/artifacts", r.version),
        (None, Some(name)) => name,
        (None, None) => "artifacts".to_owned(),
    }
}

/// The verify task's spec: in a workspace its log goes to the release's logs and its secrets
/// are redacted; without one (verifying loose files) it is a bare spec. Only a verification of
/// the release's own artifacts (`of_release`) has the kind that ticks the checklist.
pub fn task_spec(
    ws: Option<&crate::workspace::Workspace>,
    release: Option<&crate::workspace::Release>,
    of_release: bool,
) -> crate::runner::TaskSpec {
    let kind = if of_release {
        TASK_KIND
    } else {
        FILES_TASK_KIND
    };
    match ws {
        Some(ws) => ws.task_spec(TASK_KIND, kind, release, TASK_TIMEOUT),
        None => crate::runner::TaskSpec::new(TASK_KIND, kind, TASK_TIMEOUT),
    }
}

/// Starts the verify task on `runner`; the report lands in the returned slot when it ends.
/// When `opts` verify `release`'s own artifacts folder with the workspace's pins, the result is
/// kept as the release's verification (see [`release`]).
pub fn start(
    runner: &crate::runner::Runner,
    ws: Option<crate::workspace::Workspace>,
    release: Option<&crate::workspace::Release>,
    opts: Options,
) -> Result<(crate::runner::TaskId, ReportSlot), crate::runner::RunnerError> {
    let slot = ReportSlot::default();
    let of_release = match (&ws, release) {
        (Some(ws), Some(r)) if release::is_of_release(ws, r, &opts) => Some(r.clone()),
        _ => None,
    };
    let spec = task_spec(ws.as_ref(), release, of_release.is_some());
    let task_slot = slot.clone();
    let id = runner.start(spec, move |ctx| {
        run_task(ctx, opts, task_slot, ws.map(|ws| (ws, of_release)))
    })?;
    Ok((id, slot))
}

/// The verify task: runs the verification, logs each verdict, audits the report (and keeps it
/// as the release's verification when `ws` names the release it is of). Succeeds only when the
/// overall verdict is green, so a pass ticks the checklist item that asks for it.
pub async fn run_task(
    ctx: crate::runner::TaskContext,
    opts: Options,
    slot: ReportSlot,
    ws: Option<(
        crate::workspace::Workspace,
        Option<crate::workspace::Release>,
    )>,
) -> crate::runner::TaskResult {
    let failed = |e: &(dyn std::error::Error + 'static)| {
        crate::runner::TaskError::Failed(crate::error_chain(e))
    };
    // On a shared workspace, the release's files a build stored in the bucket that this
    // console lacks are fetched first, each by its SHA-256 (a blob that is not what the log
    // recorded is refused, and nothing is verified).
    let fetched = match &ws {
        Some((w, Some(r))) if w.shared().is_some() => {
            let (f_ws, f_release) = (w.clone(), r.clone());
            ctx.log_line("fetching the release's files the log records from the bucket");
            let fetch =
                tokio::task::spawn_blocking(move || shared::fetch_missing(&f_ws, &f_release))
                    .await
                    .map_err(|e| failed(&e))?
                    .map_err(|e| crate::runner::TaskError::Failed(e.to_string()))?;
            if fetch.entry > 0 {
                let who = format!(
                    "the release's files were recorded by {} (entry #{})",
                    fetch.recorded_by, fetch.entry
                );
                ctx.log_line(&who);
                ctx.set_progress(0.0, Some(&who));
            }
            for f in &fetch.files {
                ctx.log_line(&format!(
                    "{}: {} (blob SHA-256 {}, {} bytes, entry #{})",
                    f.name,
                    if f.downloaded {
                        "fetched from the bucket"
                    } else {
                        "already here (its bytes are checked below)"
                    },
                    f.sha256,
                    f.size,
                    fetch.entry
                ));
            }
            Some(fetch)
        }
        _ => None,
    };
    // What the folder held before hashing began: the gates compare it with what it holds later.
    let stamped = match ws
        .as_ref()
        .and_then(|(w, r)| Some(w.artifacts_dir(&r.as_ref()?.version)))
    {
        Some(dir) => Some(
            tokio::task::spawn_blocking(move || release::stamp_files(&dir))
                .await
                .map_err(|e| failed(&e))?
                .map_err(|e| failed(&e))?,
        ),
        None => None,
    };
    // What the files were judged against, for the audit entry.
    let used = {
        let e = &opts.expected;
        let ca_sha256 = e
            .ca_file
            .as_ref()
            .and_then(|ca| std::fs::read(ca).ok())
            .map(|b| Sha256::of(&b));
        serde_json::json!({
            "windows_publisher": e.windows_publisher,
            "windows_cert_sha256": e.windows_cert_sha256,
            "apple_team_id": e.apple_team_id,
            "ca_file": e.ca_file,
            "ca_sha256": ca_sha256,
        })
    };
    let progress_ctx = ctx.clone();
    let report = run(
        opts,
        move |p| progress_ctx.set_progress(p.fraction, Some(&p.step)),
        ctx.cancel_token().clone(),
    )
    .await
    .map_err(|e| match e {
        VerifyError::Cancelled => crate::runner::TaskError::Cancelled,
        e => failed(&e),
    })?;
    for a in &report.artifacts {
        // The detail says the checksum's verdict and the signature's in words.
        ctx.log_line(&format!(
            "{}: {} (signature {})",
            a.path,
            a.detail,
            a.signature.as_str()
        ));
    }
    for b in &report.bad_lines {
        ctx.log_line(&format!("{}: {}", b.place(), b.reason));
    }
    // The blobs verified: each fetched (or found) file whose verified bytes are the blob's,
    // and SHA256SUMS, which the fetch checked against its blob.
    let blobs: Vec<VerifiedBlob> = fetched
        .iter()
        .flat_map(|f| f.files.iter().map(move |b| (f, b)))
        .filter(|(_, b)| {
            b.name == sums::SUMS_FILE
                || report
                    .artifacts
                    .iter()
                    .any(|a| a.path == b.name && a.sha256 == Some(b.sha256))
        })
        .map(|(f, b)| VerifiedBlob {
            name: b.name.clone(),
            sha256: b.sha256,
            size: b.size,
            entry: f.entry,
            recorded_by: Some(f.recorded_by.clone()),
        })
        .collect();
    for b in &blobs {
        ctx.log_line(&format!(
            "{}: verified as blob {} (entry #{}, recorded by {})",
            b.name,
            b.sha256,
            b.entry,
            b.recorded_by.as_deref().unwrap_or("?")
        ));
    }
    let report = Arc::new(report);
    if let Some((ws, of_release)) = ws {
        let after = serde_json::json!({
            "overall": report.overall,
            "of_release": of_release.is_some(),
            "release": of_release.as_ref().map(|r| r.version.to_string()),
            "artifacts": report.artifacts.iter().map(|a| serde_json::json!({
                "path": a.path, "sha256": a.sha256, "checksum": a.checksum, "signature": a.signature,
            })).collect::<Vec<_>>(),
            "blobs": blobs,
            "bad_lines": report.bad_lines.len(),
            "expected": used,
        });
        let target = report_target(report.sums_file.as_deref(), of_release.as_ref());
        let kept = report.clone();
        let report_event = Event::VerifyReport(crate::audit::event::VerifyReport {
            target,
            before: (),
            after: VerifyVerdict::deserialize(&after).map_err(|e| failed(&e))?,
        });
        tokio::task::spawn_blocking(move || match (of_release, stamped) {
            (Some(r), Some(files)) => ws.change(report_event, |seq| {
                release::save(&ws, &r, &kept, files, blobs, seq)
            }),
            _ => ws.record(report_event),
        })
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| crate::runner::TaskError::Failed(format!("cannot audit the report: {e}")))?;
    }
    let report = Arc::try_unwrap(report).unwrap_or_else(|shared| (*shared).clone());
    let summary = report.summary();
    let pass = report.overall == Overall::Pass;
    if let Ok(mut s) = slot.lock() {
        *s = Some(report);
    }
    if pass {
        Ok(format!("PASS: {summary}"))
    } else {
        Err(crate::runner::TaskError::Failed(format!("FAIL: {summary}")))
    }
}

/// `1.2 GiB`, `340 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Index of the first differing hex digit of two hashes.
pub fn first_difference(a: &str, b: &str) -> Option<usize> {
    a.chars()
        .zip(b.chars())
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

impl Report {
    /// Counts of red and amber artifacts, for summaries.
    pub fn summary(&self) -> String {
        let green = self.artifacts.iter().filter(|a| a.is_green()).count();
        let mut s = format!("{} of {} artifacts green", green, self.artifacts.len());
        if !self.bad_lines.is_empty() {
            s.push_str(&format!(
                ", {} bad lines in SHA256SUMS",
                self.bad_lines.len()
            ));
        }
        s
    }

    /// The report as Markdown, for release notes and tickets.
    /// Writes the report into `dir` as `verify-report.md` or `verify-report.json`, atomically.
    pub fn export(
        &self,
        dir: &Path,
        format: ReportFormat,
    ) -> Result<PathBuf, crate::store::StateError> {
        let (name, body) = match format {
            ReportFormat::Markdown => ("verify-report.md", self.to_markdown()),
            ReportFormat::Json => (
                "verify-report.json",
                serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            ),
        };
        let path = dir.join(name);
        crate::store::write_atomic(&path, body.as_bytes())?;
        Ok(path)
    }

    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "# Verification report\n\n**Overall: {}** ({})\n\n",
            if self.overall == Overall::Pass {
                "PASS"
            } else {
                "FAIL"
            },
            self.summary()
        );
        if let Some(s) = &self.sums_file {
            md.push_str(&format!("Checked against `{}`.\n\n", s.display()));
        }
        md.push_str("| Artifact | Size | SHA-256 | Checksum | Signature | Signer | Timestamp |\n|---|---|---|---|---|---|---|\n");
        for a in &self.artifacts {
            let signer = a.signer.as_ref();
            md.push_str(&format!(
                "| {} | {} | `{}` | {} | {} | {} | {} |\n",
                a.path,
                human_bytes(a.size_bytes),
                a.sha256.map_or_else(|| "-".to_owned(), |h| h.to_string()),
                a.checksum.as_str(),
                a.signature.as_str(),
                signer.map_or("-", |s| s.publisher.as_str()),
                signer.and_then(|s| s.timestamp.as_deref()).unwrap_or("-"),
            ));
        }
        if !self.bad_lines.is_empty() {
            md.push_str("\n## Bad lines in SHA256SUMS\n\n");
            for b in &self.bad_lines {
                md.push_str(&format!("- {}: {} (`{}`)\n", b.place(), b.reason, b.text));
            }
        }
        md.push_str("\n## Details\n\n");
        for a in &self.artifacts {
            md.push_str(&format!("- **{}**: {}\n", a.path, a.detail));
        }
        md
    }
}
