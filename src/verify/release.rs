//! The verification of a release: a verify run over that release's own artifacts folder,
//! against the workspace's own pins and trust anchor, is kept in `releases/<v>/verify.json`.
//! It is what the release gates and publishing trust; a run over other paths or with other pins
//! reports as usual but is not kept here and ticks nothing.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Expected, Options, Overall, Report, sums};
use crate::store::{self, StateError};
use crate::workspace::{Release, Workspace};

/// Where the record of a release's last verification lives.
pub const FILE: &str = "verify.json";

/// One file of the artifacts folder as it was when it was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Relative to the artifacts folder, `/`-separated.
    pub name: String,
    pub size_bytes: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 when the OS has none).
    pub modified_ns: u64,
}

/// One verified artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedArtifact {
    pub name: String,
    pub sha256: Option<crate::digest::Sha256>,
    pub size_bytes: u64,
    pub green: bool,
    /// Its signature's verdict (`None` in a record written before verdicts were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<super::SignatureVerdict>,
    /// The platform it installs on, when its name and its bytes agree that it is an installer
    /// ([`super::installer::platform_of`]); `None` for anything else, and in a record written
    /// before this was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installer: Option<crate::workspace::config::Platform>,
}

impl VerifiedArtifact {
    /// The platform its name says it installs on (its bytes may say otherwise: see
    /// [`Self::installer`]).
    pub fn platform(&self) -> Option<crate::workspace::config::Platform> {
        crate::workspace::config::Platform::of_installer(&self.name)
    }

    /// A verified installer for its platform: its bytes are that platform's installer, its
    /// checksum is green, and its signature is valid (macOS, Windows) or, for a Linux package,
    /// carries nothing the console checks (its checksum is what a Linux host checks).
    pub fn is_verified_installer(&self) -> bool {
        use super::SignatureVerdict as V;
        use crate::workspace::config::Platform;
        match self.installer {
            Some(Platform::Linux) => {
                self.green && matches!(self.signature, Some(V::Valid | V::NotApplicable))
            }
            Some(_) => self.green && self.signature == Some(V::Valid),
            None => false,
        }
    }
}

impl ReleaseVerify {
    /// Its verified installers for `platform`.
    pub fn installers(
        &self,
        platform: crate::workspace::config::Platform,
    ) -> impl Iterator<Item = &VerifiedArtifact> {
        self.artifacts
            .iter()
            .filter(move |a| a.installer == Some(platform) && a.is_verified_installer())
    }
}

/// The last verification of a release's artifacts against the workspace's own pins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseVerify {
    pub overall: Overall,
    pub at: Timestamp,
    pub by: String,
    /// The `verify.report` audit entry that recorded it.
    pub audit_seq: u64,
    pub summary: String,
    pub artifacts: Vec<VerifiedArtifact>,
    /// Every file of the artifacts folder (sums and signatures too) before hashing began.
    pub files: Vec<FileStamp>,
    /// What this record keeps: [`RECORD_VERSION`] when it was written with each artifact's
    /// signature verdict and installer platform; 0 (absent) before.
    #[serde(default)]
    pub record_version: u32,
    /// On a shared workspace: the blobs of the bucket the verified files are (by SHA-256),
    /// with the `release.artifacts` entry that recorded them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<crate::audit::event::VerifiedBlob>,
}

/// The version of [`ReleaseVerify`] written now: 1 keeps each artifact's signature verdict and
/// the platform it installs on.
pub const RECORD_VERSION: u32 = 1;

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Whether `opts` verify exactly `release`'s artifacts folder, against its own `SHA256SUMS`,
/// with the workspace's own pins and trust anchor.
pub fn is_of_release(ws: &Workspace, release: &Release, opts: &Options) -> bool {
    let dir = ws.artifacts_dir(&release.version);
    let [path] = opts.paths.as_slice() else {
        return false;
    };
    same_path(path, &dir)
        && opts
            .sums
            .as_ref()
            .is_none_or(|s| same_path(s, &dir.join(sums::SUMS_FILE)))
        && opts.expected == Expected::from_workspace(ws)
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<FileStamp>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&path, base, out)?;
        } else if meta.is_file() {
            let modified_ns = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            out.push(FileStamp {
                name: super::relative_name(&path, base),
                size_bytes: meta.len(),
                modified_ns,
            });
        }
    }
    Ok(())
}

/// Every file under `dir` with its size and modification time, sorted by name.
pub fn stamp_files(dir: &Path) -> std::io::Result<Vec<FileStamp>> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What changed in `now` against `then`: added, removed and modified names, or `None`.
pub fn changes(then: &[FileStamp], now: &[FileStamp]) -> Option<String> {
    let mut parts = Vec::new();
    let added: Vec<&str> = now
        .iter()
        .filter(|n| !then.iter().any(|t| t.name == n.name))
        .map(|n| n.name.as_str())
        .collect();
    let removed: Vec<&str> = then
        .iter()
        .filter(|t| !now.iter().any(|n| n.name == t.name))
        .map(|t| t.name.as_str())
        .collect();
    let modified: Vec<&str> = now
        .iter()
        .filter(|n| then.iter().any(|t| t.name == n.name && t != *n))
        .map(|n| n.name.as_str())
        .collect();
    for (what, names) in [
        ("added", added),
        ("removed", removed),
        ("modified", modified),
    ] {
        if !names.is_empty() {
            parts.push(format!("{what} {}", names.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// How a file differs from what a verification saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    Added,
    Removed,
    Modified,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Modified => "modified",
        }
    }
}

/// One file of the artifacts folder that changed after a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub name: String,
    pub how: How,
    /// When the file now on disk was last modified (`None` for a removed file, or when the OS
    /// keeps no time).
    pub at: Option<Timestamp>,
}

/// A result about files that the files no longer match: they changed after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stale {
    /// When the result was made.
    pub verified_at: Timestamp,
    pub changed: Vec<Changed>,
}

impl Stale {
    /// `WireTuner-1.0.0.msi modified 2025-01-02 12:03:04` for each file, `, `-joined.
    pub fn files(&self) -> String {
        self.changed
            .iter()
            .map(|c| match c.at {
                Some(at) => format!(
                    "{} {} {}",
                    c.name,
                    c.how.as_str(),
                    crate::local_time(at, true)
                ),
                None => format!("{} {}", c.name, c.how.as_str()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line for a banner: what changed, when, after which verification.
    pub fn describe(&self) -> String {
        format!(
            "{} after the verify of {}",
            self.files(),
            crate::local_time(self.verified_at, true)
        )
    }
}

fn stamp_time(s: &FileStamp) -> Option<Timestamp> {
    (s.modified_ns > 0)
        .then(|| i128::from(s.modified_ns))
        .and_then(|ns| Timestamp::from_nanosecond(ns).ok())
}

/// The files of `now` that are not as `then` recorded them (added, removed, modified), with
/// when each was modified.
pub fn changed_files(then: &[FileStamp], now: &[FileStamp]) -> Vec<Changed> {
    let mut out = Vec::new();
    for n in now {
        match then.iter().find(|t| t.name == n.name) {
            None => out.push(Changed {
                name: n.name.clone(),
                how: How::Added,
                at: stamp_time(n),
            }),
            Some(t) if t != n => out.push(Changed {
                name: n.name.clone(),
                how: How::Modified,
                at: stamp_time(n),
            }),
            Some(_) => {}
        }
    }
    for t in then {
        if !now.iter().any(|n| n.name == t.name) {
            out.push(Changed {
                name: t.name.clone(),
                how: How::Removed,
                at: None,
            });
        }
    }
    out
}

/// Whether `record` is stale: the release's artifacts folder as it is now against what the
/// verification saw (a folder that is gone: every file it verified was removed). `Ok(None)`
/// when nothing changed.
pub fn staleness(
    ws: &Workspace,
    release: &Release,
    record: &ReleaseVerify,
) -> std::io::Result<Option<Stale>> {
    let now = match stamp_files(&ws.artifacts_dir(&release.version)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        other => other?,
    };
    let changed = changed_files(&record.files, &now);
    Ok((!changed.is_empty()).then_some(Stale {
        verified_at: record.at,
        changed,
    }))
}

fn path_of(ws: &Workspace, release: &Release) -> PathBuf {
    ws.release_dir(&release.version).join(FILE)
}

/// The last verification of `release`'s artifacts, if there was one.
pub fn last(ws: &Workspace, release: &Release) -> Result<Option<ReleaseVerify>, StateError> {
    store::read_json(&path_of(ws, release))
}

/// Records `report` as `release`'s verification, after its `verify.report` audit entry.
pub(super) fn save(
    ws: &Workspace,
    release: &Release,
    report: &Report,
    files: Vec<FileStamp>,
    blobs: Vec<crate::audit::event::VerifiedBlob>,
    audit_seq: u64,
) -> Result<(), StateError> {
    let record = ReleaseVerify {
        overall: report.overall,
        at: Timestamp::now(),
        by: ws.actor(),
        audit_seq,
        summary: report.summary(),
        artifacts: report
            .artifacts
            .iter()
            .map(|a| VerifiedArtifact {
                name: a.path.clone(),
                sha256: a.sha256,
                size_bytes: a.size_bytes,
                green: a.is_green(),
                signature: Some(a.signature),
                installer: super::installer::platform_of(&a.disk_path, &a.path),
            })
            .collect(),
        files,
        record_version: RECORD_VERSION,
        blobs,
    };
    let _lock = store::lock(&ws.release_dir(&release.version), "verify-record")?;
    store::write_json(&path_of(ws, release), &record)
}
