//! Platforms a release does not ship: WireTuner ships macOS and Windows, but a hotfix for a
//! Windows-only defect may ship Windows alone. The release records it, with a reason, audited
//! (`release.platform.skip`), before it publishes without that platform; the "installers"
//! gate reads it, and nothing else lets a configured platform go without a verified installer.
//! The record keeps whether the platform is skipped, so a withdrawal (`release.platform.ship`)
//! is a change of the same record.
//!
//! A skip settles the checklist items a build of the platform would tick ("Build, sign and
//! notarize the macOS installer"): they are ticked as the skip's (its entry is kept in the
//! item's state, which no note can forge), with its reason; a build or a person ticking such an
//! item makes the tick theirs, and a withdrawal unticks the items a skip of that platform
//! ticked and nothing else.
//!
//! The records live in `pipeline/skipped-platforms.json`, one per release and platform, each
//! with the entry of its last change; the audit log speaks for the file ([`SkipBook`]): a
//! crash between the entry and the write is rolled forward, and `audit verify` compares them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::audit::event::{PlatformChange, SkipRecord};
use crate::audit::{Action, Event};
use crate::store::{self, StateError};
use crate::workspace::config::Platform;
use crate::workspace::{Projection, Release, Word, Workspace, WorkspaceError};

/// The longest reason kept (a reason is a sentence, not a document).
pub const MAX_REASON_CHARS: usize = 500;

/// Whether a release ships a platform, as last recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub version: String,
    pub platform: Platform,
    /// `true`: not shipped this time; `false`: the skip was withdrawn.
    pub skipped: bool,
    /// Why it is not shipped (empty for a withdrawal).
    pub reason: String,
    pub by: String,
    pub at: Timestamp,
    /// The audit entry of this change.
    pub audit_seq: u64,
}

impl Skip {
    fn target(&self) -> String {
        target(&self.version, self.platform)
    }
}

fn target(version: &str, platform: Platform) -> String {
    format!("{version}/{}", platform.as_str())
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Book {
    skips: Vec<Skip>,
}

#[derive(Debug, thiserror::Error)]
pub enum SkipError {
    /// The request cannot be recorded as asked (the message says why).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    State(#[from] StateError),
}

fn dir(ws: &Workspace) -> PathBuf {
    ws.root().join("pipeline")
}

fn path(ws: &Workspace) -> PathBuf {
    dir(ws).join("skipped-platforms.json")
}

/// The lock every change of the file is made under (the one `store::update_json` takes).
const LOCK: &str = "skipped-platforms";

/// What the audit log has said of skips so far, and where it was read up to: each call reads
/// only the entries appended since (the gates ask on every refresh of the window).
#[derive(Debug, Default)]
struct Scanned {
    /// The byte offset after the last whole line read, and the sequence number of the entry
    /// expected there (the last line's, skip or not, plus one).
    offset: u64,
    next_seq: u64,
    /// Each target's (`version/platform`) changes in log order: entry number and the record.
    changes: BTreeMap<String, Vec<(u64, Option<Skip>)>>,
    /// Entries a `….failed` / `….not_applied` entry says did not take effect.
    voided: Vec<u64>,
}

impl Scanned {
    /// The target's last change that took effect.
    fn last_of(&self, target: &str) -> Option<&Skip> {
        self.changes.get(target).and_then(|list| {
            list.iter()
                .rev()
                .find(|(seq, _)| !self.voided.contains(seq))
                .and_then(|(_, r)| r.as_ref())
        })
    }
}

/// The scan of each workspace's log, by the log's path.
static SCANNED: std::sync::Mutex<BTreeMap<PathBuf, Scanned>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The entry number a raw log line starts with (`{"seq":12,…`), read without parsing the line.
fn seq_of(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(br#"{"seq":"#)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Reads what the log appended since `scanned` was last brought up to date into it. `Ok(false)`
/// when the log is not the one `scanned` was read from (replaced, or a line whose number cannot
/// be read): `scanned` is then not to be trusted.
fn scan_more(ws: &Workspace, scanned: &mut Scanned) -> Result<bool, StateError> {
    let log = ws.audit().path();
    let action = memchr::memmem::Finder::new(br#""action":"release.platform."#);
    let expected = scanned.next_seq.max(1);
    // The numbers of the lines read, skip or not: where the next call starts, and whether the
    // log still continues the one read before.
    let first = std::cell::Cell::new(None::<u64>);
    let last = std::cell::Cell::new(None::<u64>);
    let unnumbered = std::cell::Cell::new(false);
    let (offset, _) = ws
        .audit()
        .scan_from(
            scanned.offset,
            expected,
            &|line| {
                match seq_of(line) {
                    Some(seq) => {
                        if first.get().is_none() {
                            first.set(Some(seq));
                        }
                        last.set(Some(seq));
                    }
                    None => unnumbered.set(true),
                }
                action.find(line).is_some()
            },
            &mut |e| {
                if matches!(
                    Action::parse(&e.action),
                    Some(Action::PlatformSkip | Action::PlatformShip)
                ) {
                    let word = Word {
                        seq: e.seq,
                        time: e.time,
                        action: e.action.clone(),
                        after: e.after.clone(),
                        actor: e.actor.clone(),
                        host: e.host.clone(),
                        nonce: e.nonce.clone(),
                    };
                    let record = carried(&word).ok().filter(|r| r.target() == e.target);
                    scanned
                        .changes
                        .entry(e.target.clone())
                        .or_default()
                        .push((e.seq, record));
                } else if let Some(entry) = e.after.get("entry").and_then(serde_json::Value::as_u64)
                {
                    scanned.voided.push(entry);
                }
                Ok(())
            },
        )
        .map_err(|e| StateError::Io {
            path: log.display().to_string(),
            action: "read",
            cause: std::io::Error::other(e.to_string()),
        })?;
    // Read from the start when the log at the offset was not the continuation expected.
    let continued = scanned.offset == 0 || first.get().is_none_or(|s| s == expected);
    scanned.offset = offset;
    if let Some(seq) = last.get() {
        scanned.next_seq = seq + 1;
    }
    Ok(continued && !unnumbered.get())
}

/// Runs `read` on what the audit log has said of skips, brought up to date.
fn with_scan<R>(ws: &Workspace, read: impl FnOnce(&Scanned) -> R) -> Result<R, StateError> {
    let log = ws.audit().path().to_owned();
    let mut all = SCANNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let len = std::fs::metadata(&log).map_or(0, |m| m.len());
    let scanned = all.entry(log).or_default();
    if len < scanned.offset {
        // A shorter log is another log: read it from the start.
        *scanned = Scanned::default();
    }
    if !scan_more(ws, scanned)? {
        // Another log than the one read before: what was read of it says nothing. This one is
        // read whole, and kept for the next call unless its lines cannot be told apart by
        // number (then it is read whole again next time).
        let mut fresh = Scanned::default();
        if !scan_more(ws, &mut fresh)? {
            *scanned = Scanned::default();
            return Ok(read(&fresh));
        }
        *scanned = fresh;
    }
    Ok(read(scanned))
}

/// The platforms `version` does not ship, as the audit log records them (withdrawn skips
/// left out). The log, not `skipped-platforms.json`, is what counts: a record written into the
/// file by hand skips nothing (and `audit verify` names it).
pub fn skipped(ws: &Workspace, version: &str) -> Result<Vec<Skip>, StateError> {
    let prefix = format!("{version}/");
    with_scan(ws, |scanned| {
        scanned
            .changes
            .keys()
            .filter(|t| t.starts_with(&prefix))
            .filter_map(|t| scanned.last_of(t))
            .filter(|r| r.version == version && r.skipped)
            .cloned()
            .collect()
    })
}

/// The entries of every skip of `platform` in `version` that took effect, withdrawn or not:
/// the skips whose ticks a withdrawal takes back.
fn skip_entries(ws: &Workspace, version: &str, platform: Platform) -> Result<Vec<u64>, StateError> {
    let target = target(version, platform);
    with_scan(ws, |scanned| {
        scanned.changes.get(&target).map_or_else(Vec::new, |list| {
            list.iter()
                .filter(|(seq, r)| {
                    !scanned.voided.contains(seq) && r.as_ref().is_some_and(|r| r.skipped)
                })
                .map(|(seq, _)| *seq)
                .collect()
        })
    })
}

/// The platforms of the workspace, as a list for messages (`macos, windows`).
fn configured(ws: &Workspace) -> String {
    ws.config()
        .platforms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records that `release` does not ship `platform` this time, because of `reason`. Refused
/// when the platform is not one the workspace ships, when the reason is empty or too long,
/// and when the release's verification holds a verified installer for it (it ships). Asking
/// again with the same reason records nothing and returns the record (a second click does not
/// double it); another reason is a new change.
pub fn skip(
    ws: &Workspace,
    release: &Release,
    platform: Platform,
    reason: &str,
) -> Result<Skip, SkipError> {
    check(ws, release, platform, reason)?;
    change(
        ws,
        &release.version.to_string(),
        platform,
        true,
        reason.trim(),
    )
}

/// Withdraws the skip of `platform` for `release`: it ships after all, and the installers
/// gate wants its installer again. Refused when no skip of it is recorded. (Whether the
/// version is already published, which fixes what it shipped, is the caller's to check.)
pub fn ship(ws: &Workspace, release: &Release, platform: Platform) -> Result<Skip, SkipError> {
    let version = release.version.to_string();
    if !skipped(ws, &version)?
        .iter()
        .any(|s| s.platform == platform)
    {
        return Err(SkipError::Invalid(format!(
            "{version} records no skip of {}: it already ships (nothing to withdraw)",
            platform.title()
        )));
    }
    change(ws, &version, platform, false, "")
}

/// The checklist items of `release` that a build of one of `platforms` ticks (their
/// `auto_tick_on` is the `checklist_kind` of a pipeline that builds the platform, and of none
/// that builds a platform still shipped): the items a skip of those platforms settles. `Err` (what cannot be read, and where) when the pipeline
/// definition or the release's runbook cannot be read: what a skip settles is then unknown.
pub fn settled_items(
    ws: &Workspace,
    release: &Release,
    platforms: &[Platform],
) -> Result<Vec<String>, String> {
    let (def, _) = super::Definition::load(ws).map_err(|e| {
        format!("{e} (a platform skip settles the checklist items its builders tick)")
    })?;
    // A kind a builder of a platform still shipped ticks too (one "Build the installers" item
    // for every platform) is not settled: that build is still to come.
    let shipped = |name: &str, d: &super::PlatformDef| {
        d.ships(name)
            .is_some_and(|p| ws.config().platforms.contains(&p) && !platforms.contains(&p))
    };
    let kinds: Vec<String> = def
        .platforms
        .iter()
        .filter(|(name, d)| d.ships(name).is_some_and(|p| platforms.contains(&p)))
        .map(|(_, d)| d.checklist_kind.clone())
        .filter(|kind| {
            !def.platforms
                .iter()
                .any(|(name, d)| d.checklist_kind == *kind && shipped(name, d))
        })
        .collect();
    let rb = ws.runbook(release).map_err(|e| e.to_string())?;
    Ok(rb
        .phases
        .iter()
        .flat_map(|p| &p.items)
        .filter(|i| i.auto_tick_on.as_ref().is_some_and(|k| kinds.contains(k)))
        .map(|i| i.id.clone())
        .collect())
}

/// Ticks the open items `skip` settles, each as the skip's (its entry in the item's state,
/// see [`crate::runbook::ItemState::settled_by_skip`]) with its reason; returns the ticked
/// items' titles.
pub fn settle(ws: &Workspace, release: &Release, skip: &Skip) -> Result<Vec<String>, SkipError> {
    let runbook = ws.runbook(release)?;
    let checklist = ws.checklist(release)?;
    let mut ticked = Vec::new();
    let items = settled_items(ws, release, &[skip.platform]).map_err(SkipError::Invalid)?;
    for id in items {
        if checklist.is_done(&id) {
            continue;
        }
        let note = format!(
            "{} not shipped in {} this time: {} (platform skip, audit entry #{})",
            skip.platform.title(),
            skip.version,
            skip.reason,
            skip.audit_seq
        );
        match ws.settle_item(release, &id, skip.audit_seq, &note) {
            Ok(_) => ticked.extend(runbook.item(&id).map(|i| i.title.clone())),
            Err(WorkspaceError::Unchanged { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ticked)
}

/// Ticks the open items of every skip `release` records (a tick that a stop right after the
/// skip's entry never made); returns `ticked "TITLE" (...)` lines.
pub fn settle_standing(ws: &Workspace, release: &Release) -> Result<Vec<String>, SkipError> {
    let mut out = Vec::new();
    for s in skipped(ws, &release.version.to_string())? {
        for title in settle(ws, release, &s)? {
            out.push(format!(
                "ticked \"{title}\" (settled by the skip of {}, entry #{})",
                s.platform.title(),
                s.audit_seq
            ));
        }
    }
    Ok(out)
}

/// Unticks every item a skip of `platform` in `release` ticked (by the item's state, not its
/// note: an item a person or a build ticked since stays), whatever the pipeline definition
/// says now; returns their titles.
pub fn unsettle(
    ws: &Workspace,
    release: &Release,
    platform: Platform,
) -> Result<Vec<String>, SkipError> {
    let version = release.version.to_string();
    let entries = skip_entries(ws, &version, platform)?;
    let runbook = ws.runbook(release)?;
    let checklist = ws.checklist(release)?;
    let mut unticked = Vec::new();
    for (id, state) in &checklist.items {
        if !(state.done && entries.contains(&state.settled_by_skip)) {
            continue;
        }
        let note = format!(
            "{} ships in {version} after all: the skip that ticked this (entry #{}) is withdrawn",
            platform.title(),
            state.settled_by_skip
        );
        match ws.set_item(release, id, false, &note) {
            Ok(_) => unticked.push(
                runbook
                    .item(id)
                    .map_or_else(|| id.clone(), |i| i.title.clone()),
            ),
            Err(WorkspaceError::Unchanged { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unticked)
}

/// Whether a character would change how a line prints: a control character (a newline, an
/// escape sequence) or a bidirectional override.
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Whether [`skip`] would record `platform` for `release` with `reason`, without recording
/// anything (a request for several platforms is checked whole before any is recorded).
pub fn check(
    ws: &Workspace,
    release: &Release,
    platform: Platform,
    reason: &str,
) -> Result<(), SkipError> {
    let version = release.version.to_string();
    let reason = reason.trim();
    if !ws.config().platforms.contains(&platform) {
        return Err(SkipError::Invalid(format!(
            "{} is not a platform this workspace ships (platforms = [{}] in {}): there is \
             nothing to skip",
            platform.as_str(),
            configured(ws),
            crate::workspace::CONFIG_FILE
        )));
    }
    if reason.is_empty() {
        return Err(SkipError::Invalid(format!(
            "say why {} {version} is not shipped for {} (a reason is required and audited)",
            ws.config().product.name,
            platform.title()
        )));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(SkipError::Invalid(format!(
            "the reason is {} characters; at most {MAX_REASON_CHARS}",
            reason.chars().count()
        )));
    }
    if let Some(c) = reason.chars().find(|c| unprintable(*c)) {
        return Err(SkipError::Invalid(format!(
            "the reason holds {:?} (U+{:04X}), a control or direction character: one line of \
             plain text, please",
            c, c as u32
        )));
    }
    if let Some(record) = crate::verify::release::last(ws, release)? {
        let names: Vec<&str> = record
            .installers(platform)
            .map(|a| a.name.as_str())
            .collect();
        if !names.is_empty() {
            return Err(SkipError::Invalid(format!(
                "{version} has a verified {} installer ({}): it ships; a skip is for a platform \
                 with no installer this time",
                platform.title(),
                names.join(", ")
            )));
        }
    }
    Ok(())
}

fn change(
    ws: &Workspace,
    version: &str,
    platform: Platform,
    skipped: bool,
    reason: &str,
) -> Result<Skip, SkipError> {
    store::update_json(&path(ws), |book: &mut Book| {
        let at = book
            .skips
            .iter()
            .position(|s| s.version == version && s.platform == platform);
        if let Some(n) = at
            && book.skips[n].skipped == skipped
            && book.skips[n].reason == reason
        {
            return Ok(book.skips[n].clone());
        }
        let before = at.map_or(
            serde_json::Value::Null,
            |n| serde_json::json!({ "skip": book.skips[n] }),
        );
        let mut record = Skip {
            version: version.to_owned(),
            platform,
            skipped,
            reason: reason.to_owned(),
            by: ws.actor(),
            at: Timestamp::now(),
            audit_seq: 0,
        };
        // Audited first: a refused append changes nothing. The entry carries the whole
        // record, so a crash before the write below is rolled forward from it.
        let change = PlatformChange {
            target: record.target(),
            before,
            after: SkipRecord {
                skip: serde_json::json!(&record),
            },
        };
        record.audit_seq = ws.record_seq(if skipped {
            Event::PlatformSkip(change)
        } else {
            Event::PlatformShip(change)
        })?;
        match at {
            Some(n) => book.skips[n] = record.clone(),
            None => book.skips.push(record.clone()),
        }
        Ok::<_, SkipError>(record)
    })
}

/// The skip records as the audit log speaks for them (see the module's documentation).
#[derive(Debug)]
pub struct SkipBook;

/// The record an entry carries, with the entry's number.
fn carried(w: &Word) -> Result<Skip, String> {
    let value = w.after.get("skip").cloned().unwrap_or_default();
    serde_json::from_value::<Skip>(value)
        .map(|s| Skip {
            audit_seq: w.seq,
            ..s
        })
        .map_err(|e| format!("its skip record cannot be read: {e}"))
}

impl Projection for SkipBook {
    fn follows(&self, action: Action) -> bool {
        matches!(action, Action::PlatformSkip | Action::PlatformShip)
    }

    fn carries(&self, after: &serde_json::Value) -> bool {
        after.get("skip").is_some()
    }

    fn marker(&self) -> &'static str {
        r#""action":"release.platform."#
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

impl crate::workspace::Records for SkipBook {
    type Book = Book;
    type Record = Skip;
    const UNNUMBERED_UNJUDGED: bool = false;

    fn path(&self, ws: &Workspace) -> PathBuf {
        path(ws)
    }

    fn records<'b>(&self, book: &'b Book) -> Vec<(String, &'b Skip)> {
        book.skips.iter().map(|s| (s.target(), s)).collect()
    }

    fn seq(&self, record: &Skip) -> u64 {
        record.audit_seq
    }

    fn put(&self, book: &mut Book, target: &str, record: Skip) {
        match book.skips.iter().position(|s| s.target() == target) {
            Some(n) => book.skips[n] = record,
            None => book.skips.push(record),
        }
    }

    fn carried(&self, w: &Word, _target: &str) -> Result<Skip, String> {
        carried(w)
    }

    fn refusal(&self, _ws: &Workspace, target: &str, _w: &Word, record: &Skip) -> Option<String> {
        (record.target() != target)
            .then(|| "its record is of another release or platform".to_owned())
    }

    fn subject(&self, target: &str) -> String {
        format!("the skip of {target}")
    }

    fn holds(&self, _record: &Skip) -> String {
        "is".to_owned()
    }

    fn unlike(&self, target: &str, w: &Word, _logged: &Skip, _mine: &Skip) -> String {
        format!(
            "the skip of {target} is not the record entry #{} ({}) saved",
            w.seq, w.action
        )
    }

    fn unread(&self, target: &str) -> String {
        format!("the skip of {target}'s last change")
    }

    fn missing(&self, target: &str, w: &Word) -> String {
        format!(
            "it has no skip of {target}, but entry #{} ({}) recorded it",
            w.seq, w.action
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records a skip of `platform` in 1.0.0 straight into the log (as [`change`] does).
    fn log_skip(ws: &Workspace, platform: Platform) -> u64 {
        let record = Skip {
            version: "1.0.0".to_owned(),
            platform,
            skipped: true,
            reason: "test".to_owned(),
            by: ws.actor(),
            at: Timestamp::now(),
            audit_seq: 0,
        };
        ws.record_seq(Event::PlatformSkip(PlatformChange {
            target: record.target(),
            before: serde_json::Value::Null,
            after: SkipRecord {
                skip: serde_json::json!(record),
            },
        }))
        .expect("recorded")
    }

    fn platforms(ws: &Workspace) -> Vec<Platform> {
        skipped(ws, "1.0.0")
            .expect("read")
            .iter()
            .map(|s| s.platform)
            .collect()
    }

    #[test]
    fn a_log_replaced_at_the_same_path_is_read_afresh() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path().join("ws");
        let ws = Workspace::init(&root, "WireTuner").expect("init");
        log_skip(&ws, Platform::Windows);
        assert_eq!(platforms(&ws), vec![Platform::Windows]);
        // Another workspace in its place (restored from elsewhere), with a longer log and no
        // skip of Windows: the skip read from the first one is not carried over.
        std::fs::rename(&root, dir.path().join("old")).expect("move away");
        let ws = Workspace::init(&root, "WireTuner").expect("init again");
        filler(&ws, 20);
        log_skip(&ws, Platform::Macos);
        assert_eq!(platforms(&ws), vec![Platform::Macos]);
    }

    /// `n` entries of an action no projection follows.
    fn filler(ws: &Workspace, n: usize) {
        for n in 0..n {
            let after = serde_json::json!({ "n": n });
            ws.record(Event::parse(
                "test.filler",
                &format!("filler {n}"),
                &serde_json::Value::Null,
                &after,
            ))
            .expect("filler");
        }
    }

    #[test]
    fn each_read_reads_only_what_was_appended_since() {
        let dir = tempfile::tempdir().expect("dir");
        let ws = Workspace::init(&dir.path().join("ws"), "WireTuner").expect("init");
        log_skip(&ws, Platform::Windows);
        assert_eq!(platforms(&ws), vec![Platform::Windows]);
        // Entries of other actions after the skip, read once.
        filler(&ws, 3);
        assert_eq!(platforms(&ws), vec![Platform::Windows]);
        ws.record(Event::parse(
            "test.filler",
            "one more",
            &serde_json::Value::Null,
            &serde_json::Value::Null,
        ))
        .expect("filler");
        // The skip's line, already read, is made unreadable in place: a read of the whole log
        // again would fail on it; one of the entry appended since does not read it.
        let log = ws.audit().path().to_owned();
        let text = std::fs::read_to_string(&log).expect("log");
        let broken: String = text
            .lines()
            .map(|l| {
                if l.contains(r#""action":"release.platform.skip""#) {
                    format!(
                        "{}\n",
                        l.replacen(r#""before":null"#, r#""before":nul!"#, 1)
                    )
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        assert_ne!(text, broken);
        std::fs::write(&log, broken).expect("write");
        assert_eq!(platforms(&ws), vec![Platform::Windows]);
    }
}
