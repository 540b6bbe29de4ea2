//! A release's files as a shared workspace's bucket holds them: a build on one console stores
//! its artifacts, SHA256SUMS and logs as blobs (`workspace::blobs`) and records them in one
//! `release.artifacts` entry; every console rolls the entry forward into
//! `pipeline/shared-artifacts.json` (the release's artifacts list, one record per version, the last
//! build's), and a verification of the release fetches the files it lacks by their SHA-256
//! ([`fetch_missing`]) before it verifies them as any others, so a second person verifies
//! exactly the bytes CI built. The audit log speaks for the file ([`ArtifactBook`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::audit::event::{BlobFile, BlobFiles, BlobKind, ReleaseArtifacts};
use crate::audit::{Action, Event, keys};
use crate::store::{self, StateError};
use crate::workspace::blobs::{Blob, Fetched, Stored};
use crate::workspace::{Projection, Release, Word, Workspace, WorkspaceError};

/// A release's files as its last `release.artifacts` entry recorded them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub files: BlobFiles,
    /// The entry that recorded them.
    pub audit_seq: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Book {
    releases: Vec<Record>,
}

/// Beside the pipeline's other state (a folder every workspace has once it looked for skips).
fn dir(ws: &Workspace) -> PathBuf {
    ws.root().join("pipeline")
}

fn path(ws: &Workspace) -> PathBuf {
    dir(ws).join("shared-artifacts.json")
}

/// The lock every change of the file is made under (the one `store::update_json` takes).
const LOCK: &str = "shared-artifacts";

fn read(ws: &Workspace) -> Result<Book, StateError> {
    Ok(store::read_json::<Book>(&path(ws))?.unwrap_or_default())
}

/// The files the log records for `version`, if a build stored any.
pub fn of_release(ws: &Workspace, version: &str) -> Result<Option<Record>, StateError> {
    Ok(read(ws)?
        .releases
        .into_iter()
        .find(|r| r.files.version == version))
}

/// The longest file name most file systems take, in bytes.
const MAX_NAME: usize = 255;

/// Why a name cannot be a file of the release (the log is written by people who may err or
/// lie): only a plain file name is one.
pub(crate) fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() || name == "." || name == ".." {
        Some("it is empty or a folder's name")
    } else if name.contains(['/', '\\', ':', '\0']) {
        Some("it is not a plain file name (it holds a path separator)")
    } else if name.starts_with('.') {
        Some("it is a hidden file's name")
    } else if name.chars().any(char::is_control) {
        Some("it holds a control character")
    } else if name.len() > MAX_NAME {
        // Else only the rename after the whole download would find it too long.
        Some("it is longer than 255 bytes, more than a file name can be")
    } else {
        None
    }
}

/// What a recorded list holds that no console may act on, if anything.
fn refusal(files: &BlobFiles, target: &str) -> Option<String> {
    if files.version != target {
        return Some(format!(
            "its files are of release {}, not {target}",
            files.version
        ));
    }
    for f in &files.files {
        if let Some(why) = bad_name(&f.name) {
            return Some(format!("{:?} cannot be a release's file: {why}", f.name));
        }
    }
    None
}

/// Who may record a release's files (others act on them: a second console fetches and
/// verifies them): a registered person with standing, signed (see `audit::keys`), or a name
/// the configuration lists in `[team] builders` (a CI job), signed too when it has a key.
/// `key`: the key it is signed with (the signature itself checked by the caller). Says who
/// recorded them, or why they are not trusted.
fn judge(
    ws: &Workspace,
    people: &keys::People,
    actor: &str,
    key: Option<&str>,
) -> Result<String, String> {
    let person = keys::person_of(actor);
    let builder = ws
        .config()
        .team
        .builders
        .iter()
        .any(|b| keys::canonical(b) == keys::canonical(person));
    match people.standing(person) {
        keys::Standing::Active(k) if key != Some(k.id.as_str()) => Err(format!(
            "{person} has key {} but it is not signed by it",
            k.id
        )),
        keys::Standing::Active(k) if people.has_standing(person) => {
            Ok(format!("{person} (signed with key {})", k.id))
        }
        keys::Standing::Active(k) if builder => Ok(format!(
            "{person} (a builder of [team] builders, signed with key {})",
            k.id
        )),
        keys::Standing::Active(_) => Err(format!(
            "{person} registered their own key (trust on first use) and has no standing, and \
             is not one of the configuration's [team] builders"
        )),
        keys::Standing::Revoked(k) => Err(format!("{person}'s key {} was revoked", k.id)),
        keys::Standing::Unregistered if builder => Ok(format!(
            "{person} (a builder of [team] builders, unsigned: no key registered)"
        )),
        keys::Standing::Unregistered => Err(format!(
            "{person} is not a registered person with standing nor one of the \
             configuration's [team] builders"
        )),
    }
}

/// Who recorded the files of entry `seq` (see [`judge`]), with the people list as it stood
/// before the entry and its signature checked; or why a console does not act on them.
pub fn recorded_by(ws: &Workspace, seq: u64) -> Result<String, String> {
    let (people, entry) = ws
        .audit()
        .people_before(seq)
        .map_err(|e| format!("who recorded it cannot be judged: {e}"))?;
    let Some((line, e)) = entry else {
        return Err(format!("the log holds no entry #{seq}"));
    };
    if e.key.is_some() {
        // Checked when the entry was adopted; checked again, its line being at hand.
        people.clone().admit(&line, &e)?;
    }
    judge(ws, &people, &e.actor, e.key.as_deref())
}

/// Why entry `w` of `version`'s files is not acted on, if it is not: the release must exist
/// (created before it), and its writer be trusted ([`recorded_by`]).
fn untrusted(ws: &Workspace, version: &str, w: &Word) -> Option<String> {
    match ws.release(Some(version)) {
        Ok(r) if r.audit_seq <= w.seq => {}
        Ok(r) => {
            return Some(format!(
                "release {version} was created after it (entry #{})",
                r.audit_seq
            ));
        }
        Err(_) => return Some(format!("release {version} does not exist")),
    }
    // A folder's log is its owner's; a bucket's is written by whoever can write the bucket.
    ws.shared()?;
    recorded_by(ws, w.seq).err().map(|why| {
        format!(
            "entry #{} by {} is not trusted to record a release's files: {why}",
            w.seq, w.actor
        )
    })
}

/// Records `files` (stored in the bucket already) as `release`'s: one `release.artifacts`
/// entry, then the record. Refused when a name is not a plain file name.
pub fn record(
    ws: &Workspace,
    release: &Release,
    files: BlobFiles,
) -> Result<Record, WorkspaceError> {
    let version = release.version.to_string();
    if let Some(why) = refusal(&files, &version) {
        return Err(WorkspaceError::Refused(format!(
            "the files of {version} cannot be recorded: {why}"
        )));
    }
    if ws.shared().is_some() {
        let people = ws.people()?;
        let key = ws.audit().signer().map(keys::Signer::id);
        if let Err(why) = judge(ws, &people, &ws.actor(), key) {
            return Err(WorkspaceError::Refused(format!(
                "the files of {version} cannot be recorded: no console would trust them: {why}"
            )));
        }
    }
    std::fs::create_dir_all(dir(ws)).map_err(|cause| WorkspaceError::Io {
        path: dir(ws),
        action: "create folder",
        cause,
    })?;
    let _lock = store::lock(&dir(ws), LOCK)?;
    let event = Event::ReleaseArtifacts(ReleaseArtifacts {
        target: version.clone(),
        before: (),
        after: files.clone(),
    });
    ws.change(event, |seq| {
        let mut book = read(ws)?;
        let record = Record {
            files,
            audit_seq: seq,
        };
        book.releases.retain(|r| r.files.version != version);
        book.releases.push(record.clone());
        store::write_json(&path(ws), &book)?;
        Ok(record)
    })
}

/// Why the log's last `release.artifacts` entry of `version` is not acted on, when the log
/// holds one (a release without a record: its record was refused).
fn last_refused(ws: &Workspace, version: &str) -> Result<Option<String>, WorkspaceError> {
    let last = ws
        .audit()
        .entries()?
        .into_iter()
        .rfind(|e| e.action == Action::ReleaseArtifacts.as_str() && e.target == version);
    let Some(e) = last else {
        return Ok(None);
    };
    let w = Word {
        seq: e.seq,
        time: e.time,
        action: e.action,
        after: e.after,
        actor: e.actor,
        host: e.host,
        nonce: e.nonce,
    };
    let why = match carried(&w) {
        Ok(r) => refusal(&r.files, version).or_else(|| untrusted(ws, version, &w)),
        Err(why) => Some(why),
    };
    Ok(Some(why.map_or_else(
        || format!("entry #{} by {} is not rolled forward yet", w.seq, w.actor),
        |why| format!("entry #{} by {} was refused: {why}", w.seq, w.actor),
    )))
}

/// A file [`fetch_missing`] brought, or found in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchedFile {
    pub name: String,
    pub sha256: crate::digest::Sha256,
    pub size: u64,
    /// It was downloaded (else it was in place already).
    pub downloaded: bool,
}

/// The files the log records for `release` (fetched, or found in place), with the entry that
/// recorded them; nothing on a local workspace or for a release no build stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fetch {
    pub entry: u64,
    /// Who recorded them, as the console trusts them (see [`recorded_by`]).
    pub recorded_by: String,
    pub files: Vec<FetchedFile>,
}

/// Fetches the artifacts and SHA256SUMS the log records for `release` that its artifacts
/// folder lacks (and its build logs into its logs folder), each by its SHA-256 from the
/// bucket; SHA256SUMS in place is checked to be the blob recorded (an artifact is checked by
/// the verification that follows). Blocks. Any blob that is not what was recorded is refused,
/// naming its key and the SHA-256 expected; a file in place of another size is not replaced.
pub fn fetch_missing(ws: &Workspace, release: &Release) -> Result<Fetch, WorkspaceError> {
    let Some(shared) = ws.shared() else {
        return Ok(Fetch::default());
    };
    let version = release.version.to_string();
    let Some(record) = of_release(ws, &version)? else {
        return match last_refused(ws, &version)? {
            Some(why) => Err(WorkspaceError::Refused(format!(
                "found no trusted record of the files of {version}: {why}"
            ))),
            None => Ok(Fetch::default()),
        };
    };
    // Judged again: the record was rolled forward under the people list and configuration
    // of its time, and a key revoked since, or a builder taken off the list, no longer vouches.
    let recorded_by = recorded_by(ws, record.audit_seq).map_err(|why| {
        WorkspaceError::Refused(format!(
            "found no trusted record of the files of {version}: entry #{}: {why}",
            record.audit_seq
        ))
    })?;
    let artifacts = ws.artifacts_dir(&release.version);
    let logs = ws.logs_dir(&release.version);
    let mut out = Fetch {
        entry: record.audit_seq,
        recorded_by,
        files: Vec::new(),
    };
    for f in &record.files.files {
        if let Some(why) = bad_name(&f.name) {
            return Err(WorkspaceError::Refused(format!(
                "entry #{}: {:?} cannot be a release's file: {why}",
                record.audit_seq, f.name
            )));
        }
        let dest: PathBuf = match f.kind {
            BlobKind::Artifact | BlobKind::Sums => artifacts.join(&f.name),
            BlobKind::Log => logs.join(&f.name),
        };
        // An artifact or log in place of the size recorded is not read twice: the
        // verification hashes every artifact anyway, against the blob's SHA256SUMS, and names
        // one as the blob only when its bytes are (see `run_task`). SHA256SUMS, small, is
        // checked here.
        let in_place =
            std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == f.size);
        if in_place && f.kind != BlobKind::Sums {
            if f.kind == BlobKind::Artifact {
                out.files.push(FetchedFile {
                    name: f.name.clone(),
                    sha256: f.sha256,
                    size: f.size,
                    downloaded: false,
                });
            }
            continue;
        }
        let got = shared.fetch_blob(
            Blob {
                sha256: f.sha256,
                size: f.size,
            },
            &dest,
        )?;
        if f.kind != BlobKind::Log {
            out.files.push(FetchedFile {
                name: f.name.clone(),
                sha256: f.sha256,
                size: f.size,
                downloaded: got == Fetched::Downloaded,
            });
        }
    }
    Ok(out)
}

/// The files of a build to store: each artifact of `artifacts` (name, path, SHA-256, the
/// platform that built it), SHA256SUMS, and each platform's log.
#[derive(Debug, Clone, Default)]
pub struct ToStore {
    pub files: Vec<(BlobFile, PathBuf)>,
}

/// Stores `files` as blobs of the shared workspace (each only when the bucket lacks it) and
/// records them as `release`'s in one entry; `Ok(None)` on a local workspace. Blocks.
pub fn store(
    ws: &Workspace,
    release: &Release,
    platforms: Vec<String>,
    files: ToStore,
) -> Result<Option<(Record, u64)>, WorkspaceError> {
    let Some(shared) = ws.shared() else {
        return Ok(None);
    };
    let mut uploaded = 0;
    let mut list = Vec::new();
    for (file, path) in files.files {
        let blob = Blob {
            sha256: file.sha256,
            size: file.size,
        };
        match shared.put_blob(&path, blob)? {
            Stored::Uploaded => uploaded += 1,
            Stored::AlreadyThere => {}
            Stored::Replaced { found } => {
                uploaded += 1;
                ws.record(Event::BlobReplace(Event::values(
                    shared.blob_where(&blob.sha256),
                    serde_json::json!({ "found": found }),
                    serde_json::json!({ "sha256": blob.sha256, "size": blob.size }),
                )))?;
            }
        }
        list.push(file);
    }
    let record = record(
        ws,
        release,
        BlobFiles {
            version: release.version.to_string(),
            platforms,
            files: list,
        },
    )?;
    Ok(Some((record, uploaded)))
}

/// The record an entry carries, with the entry's number.
fn carried(w: &Word) -> Result<Record, String> {
    serde_json::from_value::<BlobFiles>(w.after.clone())
        .map(|files| Record {
            files,
            audit_seq: w.seq,
        })
        .map_err(|e| format!("its list of files cannot be read: {e}"))
}

/// The releases' files as the audit log speaks for them (see the module's documentation).
#[derive(Debug)]
pub struct ArtifactBook;

impl Projection for ArtifactBook {
    fn follows(&self, action: Action) -> bool {
        action == Action::ReleaseArtifacts
    }

    fn carries(&self, after: &serde_json::Value) -> bool {
        after.get("files").is_some()
    }

    fn marker(&self) -> &'static str {
        // Without the closing quote: its voids (`release.artifacts.not_applied`) too.
        r#""action":"release.artifacts"#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (dir(ws), LOCK)
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), StateError> {
        crate::workspace::roll_records(self, ws, last)
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, StateError> {
        crate::workspace::records_disagreement(self, ws, last)
    }
}

impl crate::workspace::Records for ArtifactBook {
    type Book = Book;
    type Record = Record;
    const UNNUMBERED_UNJUDGED: bool = false;

    fn path(&self, ws: &Workspace) -> PathBuf {
        path(ws)
    }

    fn records<'b>(&self, book: &'b Book) -> Vec<(String, &'b Record)> {
        book.releases
            .iter()
            .map(|r| (r.files.version.clone(), r))
            .collect()
    }

    fn seq(&self, record: &Record) -> u64 {
        record.audit_seq
    }

    fn put(&self, book: &mut Book, version: &str, record: Record) {
        match book
            .releases
            .iter()
            .position(|r| r.files.version == version)
        {
            Some(n) => book.releases[n] = record,
            None => book.releases.push(record),
        }
    }

    fn carried(&self, w: &Word, _version: &str) -> Result<Record, String> {
        carried(w)
    }

    fn refusal(&self, ws: &Workspace, version: &str, w: &Word, record: &Record) -> Option<String> {
        refusal(&record.files, version).or_else(|| untrusted(ws, version, w))
    }

    fn subject(&self, version: &str) -> String {
        format!("the files of {version}")
    }

    fn holds(&self, _record: &Record) -> String {
        "are".to_owned()
    }

    fn unlike(&self, version: &str, w: &Word, _logged: &Record, _mine: &Record) -> String {
        format!(
            "the files of {version} are not the ones entry #{} ({}) recorded",
            w.seq, w.action
        )
    }

    fn unread(&self, version: &str) -> String {
        format!("the files of {version}")
    }

    fn missing(&self, version: &str, w: &Word) -> String {
        format!(
            "it has no files of {version}, but entry #{} ({}) recorded them",
            w.seq, w.action
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Sha256;

    fn files(version: &str, name: &str) -> BlobFiles {
        BlobFiles {
            version: version.to_owned(),
            platforms: vec!["linux".to_owned()],
            files: vec![BlobFile {
                name: name.to_owned(),
                size: 3,
                sha256: Sha256::of(b"abc"),
                kind: BlobKind::Artifact,
                platform: Some("linux".to_owned()),
            }],
        }
    }

    /// `release.artifacts` of `files` for `version`, straight into the log (as a crash right
    /// after the entry, or a hand-written entry in a bucket, leaves it).
    fn log(ws: &Workspace, version: &str, files: BlobFiles) -> u64 {
        ws.record_seq(Event::ReleaseArtifacts(ReleaseArtifacts {
            target: version.to_owned(),
            before: (),
            after: files,
        }))
        .expect("recorded")
    }

    #[test]
    fn an_entry_is_rolled_forward_and_one_naming_a_path_is_not() {
        let dir = tempfile::tempdir().expect("dir");
        let ws = Workspace::init(&dir.path().join("ws"), "WireTuner").expect("init");
        let release = ws.create_release("1.0.0", None).expect("release");
        let seq = log(&ws, "1.0.0", files("1.0.0", "WireTuner-1.0.0.msi"));
        assert_eq!(of_release(&ws, "1.0.0").expect("read"), None);
        ws.recover_with(&[&ArtifactBook]).expect("recover");
        let record = of_release(&ws, "1.0.0")
            .expect("read")
            .expect("rolled forward");
        assert_eq!(record.audit_seq, seq);
        assert_eq!(record.files.files[0].name, "WireTuner-1.0.0.msi");
        assert!(ws.verify_audit_with(&[&ArtifactBook]).is_ok());

        // A list that would write outside the release's folders is never applied, and the
        // writer refuses to record one.
        // (The log keeps a target's last four changes for voids to fall back on: two forged
        // entries here, and a third below.)
        for bad in ["../../.bashrc", "a\\b"] {
            let seq = log(&ws, "1.0.0", files("1.0.0", bad));
            ws.recover_with(&[&ArtifactBook]).expect("recover");
            let kept = of_release(&ws, "1.0.0").expect("read").expect("kept");
            assert_ne!(kept.audit_seq, seq, "{bad} was applied");
        }
        let long = format!("{}.msi", "W".repeat(252));
        for bad in ["../../.bashrc", "/etc/passwd", ".hidden", "a\\b", "", &long] {
            let e = super::record(&ws, &release, files("1.0.0", bad)).expect_err("refused");
            assert!(e.to_string().contains("cannot be a release's file"), "{e}");
        }
        let voided = ws
            .audit()
            .entries()
            .expect("entries")
            .into_iter()
            .filter(|e| e.action == "release.artifacts.not_applied")
            .count();
        assert_eq!(voided, 2);
        // Files of another release under this one's name are not applied either.
        let seq = log(&ws, "1.0.0", files("2.0.0", "WireTuner-2.0.0.msi"));
        ws.recover_with(&[&ArtifactBook]).expect("recover");
        assert_ne!(
            of_release(&ws, "1.0.0")
                .expect("read")
                .expect("kept")
                .audit_seq,
            seq
        );
        if let Err(e) = ws.verify_audit_with(&[&ArtifactBook]) {
            let all: Vec<String> = ws
                .audit()
                .entries()
                .expect("entries")
                .iter()
                .map(|e| format!("#{} {} {} {}", e.seq, e.action, e.target, e.after))
                .collect();
            panic!("{e}\n{}", all.join("\n"));
        }
        // Files of a release that does not exist are not applied (and marked so).
        let seq = log(&ws, "3.0.0", files("3.0.0", "WireTuner-3.0.0.msi"));
        ws.recover_with(&[&ArtifactBook]).expect("recover");
        assert_eq!(of_release(&ws, "3.0.0").expect("read"), None);
        assert!(ws.audit().entries().expect("entries").iter().any(|e| {
            e.action == "release.artifacts.not_applied"
                && e.after["entry"] == seq
                && e.after["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("release 3.0.0 does not exist"))
        }));
        assert!(ws.verify_audit_with(&[&ArtifactBook]).is_ok());
    }
}
