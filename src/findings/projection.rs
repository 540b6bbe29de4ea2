//! The findings files as the audit log speaks for them ([`FindingsBook`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::{Acceptance, Book, Finding, LOCK};
use crate::audit::{Action, Event};
use crate::store::{self, StateError};
use crate::workspace::{Projection, Word, Workspace, is_as_of, last_change};

/// Every release's `findings.json` as the audit log speaks for it. Its targets are a release's
/// findings (target: the version; changed by `findings.import`, whose entry carries the whole
/// list after the import in `after.merged`) and the acceptances of one finding id in a release
/// (target: `version/id`; changed by `findings.accept` and `findings.revoke`, whose entries
/// carry every acceptance of the id after the change in `after.acceptances`). The file keeps
/// the entry of each target's last change (`findings_seq`, `accepted_seq`).
///
/// A change is replayed as recorded: its precondition (the release has the finding, there is
/// an acceptance to revoke) was checked under the change lock when it was recorded, and an
/// import never drops a finding. A change whose record cannot be read, or is of another
/// finding, is marked not applied. A release that does not exist here (its `release.json`
/// missing) is left alone, as its checklist is. Entries written before they carried the
/// record are not replayed, and a file saved before it kept entry numbers is not judged until
/// a change that carries its record is in the log.
#[derive(Debug)]
pub struct FindingsBook;

/// A target's release and, for acceptances, the finding id (a version holds no `/`).
fn split(target: &str) -> (&str, Option<&str>) {
    match target.split_once('/') {
        Some((version, id)) => (version, Some(id)),
        None => (target, None),
    }
}

fn release_dir(ws: &Workspace, version: &str) -> PathBuf {
    ws.root().join("releases").join(version)
}

fn book_path(ws: &Workspace, version: &str) -> PathBuf {
    release_dir(ws, version).join("findings.json")
}

/// Whether the release exists here (a change of one that does not is left alone).
fn exists(ws: &Workspace, version: &str) -> bool {
    crate::workspace::parse_version(version).is_ok()
        && release_dir(ws, version).join("release.json").is_file()
}

fn read(ws: &Workspace, version: &str) -> Result<Book, StateError> {
    Ok(store::read_json::<Book>(&book_path(ws, version))?.unwrap_or_default())
}

/// The event an entry records, typed (`before` is not kept in a [`Word`], and no reader here
/// needs it).
fn event_of(w: &Word, target: &str) -> Event {
    Event::parse(&w.action, target, &Value::Null, &w.after)
}

/// The release's findings an import's entry carries.
fn carried_findings(w: &Word, target: &str) -> Result<Vec<Finding>, String> {
    let Event::FindingsImport(e) = event_of(w, target) else {
        return Err("it is not an import this version reads".to_owned());
    };
    let merged = e.after.merged.ok_or("it carries no findings")?;
    merged
        .into_iter()
        .map(serde_json::from_value::<Finding>)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("its findings cannot be read: {e}"))
}

/// The acceptances of finding `id` an acceptance's or revocation's entry carries, in the
/// file's order.
fn carried_acceptances(w: &Word, target: &str, id: &str) -> Result<Vec<Acceptance>, String> {
    let list = match event_of(w, target) {
        Event::FindingsAccept(e) => e.after.acceptances,
        Event::FindingsRevoke(e) => e.after.map(|r| r.acceptances),
        _ => return Err("it is not an acceptance or revocation this version reads".to_owned()),
    }
    .ok_or("it carries no acceptances")?;
    let mut list: Vec<Acceptance> = list
        .into_iter()
        .map(serde_json::from_value::<Acceptance>)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("its acceptances cannot be read: {e}"))?;
    if let Some(other) = list.iter().find(|a| a.id != id) {
        return Err(format!(
            "it carries an acceptance of {}, another finding",
            other.id
        ));
    }
    list.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(list)
}

/// The first field in which two records differ, as `field: log value, file value`.
fn first_difference<T: Serialize>(logged: &T, file: &T) -> String {
    let (a, b) = (
        serde_json::to_value(logged).unwrap_or_default(),
        serde_json::to_value(file).unwrap_or_default(),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return "the records differ".to_owned();
    };
    let show = |v: Option<&Value>| {
        let s = v.map_or_else(|| "missing".to_owned(), Value::to_string);
        if s.chars().count() > 60 {
            format!("{}…", s.chars().take(59).collect::<String>())
        } else {
            s
        }
    };
    a.keys()
        .chain(b.keys())
        .find(|k| a.get(*k) != b.get(*k))
        .map_or_else(
            || "the records differ".to_owned(),
            |k| {
                format!(
                    "{k} is {} in the log, {} in the file",
                    show(a.get(k)),
                    show(b.get(k))
                )
            },
        )
}

/// How two lists of records differ: their lengths, or the first record that differs.
fn list_difference<T: Serialize + PartialEq>(
    logged: &[T],
    file: &[T],
    name: impl Fn(&T) -> String,
) -> String {
    if logged.len() != file.len() {
        return format!("the log has {}, the file {}", logged.len(), file.len());
    }
    logged.iter().zip(file).find(|(a, b)| a != b).map_or_else(
        || "the records differ".to_owned(),
        |(a, b)| format!("{}: {}", name(a), first_difference(a, b)),
    )
}

/// The versions whose findings the check covers: those with a findings file, and those the
/// log changed, that exist here.
fn versions(
    ws: &Workspace,
    last: &BTreeMap<String, Option<Word>>,
) -> Result<BTreeSet<String>, StateError> {
    let dir = ws.root().join("releases");
    let mut out: BTreeSet<String> = last.keys().map(|t| split(t).0.to_owned()).collect();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                if e.path().join("findings.json").exists() {
                    out.insert(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(cause) => {
            return Err(StateError::Io {
                path: dir.display().to_string(),
                action: "list",
                cause,
            });
        }
    }
    out.retain(|v| exists(ws, v));
    Ok(out)
}

impl Projection for FindingsBook {
    fn follows(&self, action: Action) -> bool {
        matches!(
            action,
            Action::FindingsImport | Action::FindingsAccept | Action::FindingsRevoke
        )
    }

    fn carries(&self, after: &Value) -> bool {
        after.get("merged").is_some() || after.get("acceptances").is_some()
    }

    fn marker(&self) -> &'static str {
        r#""action":"findings."#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (ws.root().to_owned(), LOCK)
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), StateError> {
        let mut by_version: BTreeMap<&str, Vec<(&String, &Word)>> = BTreeMap::new();
        for (target, w) in last {
            by_version
                .entry(split(target).0)
                .or_default()
                .push((target, w));
        }
        let mut applied = 0;
        let mut refused = Vec::new();
        for (version, changes) in by_version {
            if !exists(ws, version) {
                continue;
            }
            let mut book = read(ws, version)?;
            let mut dirty = false;
            for (target, w) in changes {
                match split(target).1 {
                    None => {
                        if book.findings_seq >= w.seq {
                            continue;
                        }
                        match carried_findings(w, target) {
                            Ok(findings) => {
                                book.findings = findings;
                                book.findings_seq = w.seq;
                            }
                            Err(why) => {
                                refused.push((target.clone(), w.clone(), why));
                                continue;
                            }
                        }
                    }
                    Some(id) => {
                        if book.accepted_seq.get(id).copied().unwrap_or(0) >= w.seq {
                            continue;
                        }
                        match carried_acceptances(w, target, id) {
                            Ok(record) => book.set_acceptances(id, record, w.seq),
                            Err(why) => {
                                refused.push((target.clone(), w.clone(), why));
                                continue;
                            }
                        }
                    }
                }
                dirty = true;
                applied += 1;
                tracing::info!("rolled forward entry #{} ({} {target})", w.seq, w.action);
            }
            if dirty {
                store::write_json(&book_path(ws, version), &book)?;
            }
        }
        Ok((applied, refused))
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, StateError> {
        for version in versions(ws, last)? {
            let path = book_path(ws, &version);
            let file = path.display();
            let book = read(ws, &version)?;
            if let Some(d) = findings_disagree(&file, &version, &book, last.get(&version)) {
                return Ok(Some(d));
            }
            let prefix = format!("{version}/");
            let ids: BTreeSet<String> = book
                .acceptances
                .iter()
                .map(|a| a.id.clone())
                .chain(book.accepted_seq.keys().cloned())
                .chain(
                    last.keys()
                        .filter_map(|t| t.strip_prefix(&prefix).map(str::to_owned)),
                )
                .collect();
            for id in ids {
                let target = format!("{prefix}{id}");
                if let Some(d) = acceptances_disagree(&file, &target, &id, &book, last.get(&target))
                {
                    return Ok(Some(d));
                }
            }
        }
        Ok(None)
    }
}

/// The first disagreement of a release's findings with the log's last change of them.
fn findings_disagree(
    file: &dyn std::fmt::Display,
    version: &str,
    book: &Book,
    last: Option<&Option<Word>>,
) -> Option<(u64, String)> {
    let seq = book.findings_seq;
    // Saved before the file kept its entry (or never imported), and no entry since carries it.
    if seq == 0 && !matches!(last, Some(Some(_))) {
        return None;
    }
    if let (0, true, Some(Some(w))) = (seq, book.findings.is_empty(), last) {
        return Some((
            w.seq,
            format!(
                "{file} disagrees with the log: it holds no findings, but entry #{} ({}) \
                 imported them",
                w.seq, w.action
            ),
        ));
    }
    let subject = "the release's findings list";
    let w = match last_change(file, subject, seq, last) {
        Ok(w) => w,
        Err(d) => return Some(d),
    };
    let holds = format!("holds {} findings", book.findings.len());
    if let Err(d) = is_as_of(file, subject, &holds, seq, w) {
        return Some(d);
    }
    match carried_findings(w, version) {
        Ok(logged) if logged == book.findings => None,
        Ok(logged) => Some((
            w.seq,
            format!(
                "{file} disagrees with the log: the release's findings are not the ones entry \
                 #{} ({}) saved: {}",
                w.seq,
                w.action,
                list_difference(&logged, &book.findings, |f| format!(
                    "{} in {} {}",
                    f.id, f.package, f.installed
                ))
            ),
        )),
        Err(why) => Some((
            w.seq,
            format!(
                "{file}: the release's findings' last change, entry #{}: {why}",
                w.seq
            ),
        )),
    }
}

/// The first disagreement of the acceptances of finding `id` with the log's last change of them.
fn acceptances_disagree(
    file: &dyn std::fmt::Display,
    target: &str,
    id: &str,
    book: &Book,
    last: Option<&Option<Word>>,
) -> Option<(u64, String)> {
    let seq = book.accepted_seq.get(id).copied().unwrap_or(0);
    let mine = book.acceptances_of(id);
    if seq == 0 && !matches!(last, Some(Some(_))) {
        return None;
    }
    if let (0, true, Some(Some(w))) = (seq, mine.is_empty(), last) {
        return Some((
            w.seq,
            format!(
                "{file} disagrees with the log: it holds no acceptance of {id}, but entry #{} \
                 ({}) changed them",
                w.seq, w.action
            ),
        ));
    }
    let subject = format!("the acceptance record of {id}");
    let w = match last_change(file, &subject, seq, last) {
        Ok(w) => w,
        Err(d) => return Some(d),
    };
    let holds = format!("holds {} acceptances", mine.len());
    if let Err(d) = is_as_of(file, &subject, &holds, seq, w) {
        return Some(d);
    }
    match carried_acceptances(w, target, id) {
        Ok(logged) if logged == mine => None,
        Ok(logged) => Some((
            w.seq,
            format!(
                "{file} disagrees with the log: the acceptances of {id} are not the ones entry \
                 #{} ({}) saved: {}",
                w.seq,
                w.action,
                list_difference(&logged, &mine, |a| format!(
                    "{} in {}",
                    a.id,
                    a.package.as_deref().unwrap_or("every package")
                ))
            ),
        )),
        Err(why) => Some((
            w.seq,
            format!(
                "{file}: the acceptances of {id}'s last change, entry #{}: {why}",
                w.seq
            ),
        )),
    }
}
