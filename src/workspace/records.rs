//! The part every [`Projection`](super::Projection) shares: judging a record of its file
//! against the log's last change of it ([`judge`]), and, for a projection kept as one file of
//! whole records (one per target, each keeping the entry of its last change, which carries
//! the whole record after it), rolling the file forward and comparing it ([`Records`],
//! [`roll_records`], [`records_disagreement`]). Each book keeps only what is its own: where
//! its file is, how it reads a record out of an entry, and how it names what it holds.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Disagreement, Word, Workspace, is_as_of, last_change};
use crate::store::{self, StateError};

/// A record of a projection's file as [`judge`] compares it with the log.
pub(crate) struct Held<'a> {
    /// The file, as messages name it.
    pub file: &'a dyn Display,
    /// The record, as messages name it (`incident INC-1`).
    pub subject: &'a str,
    /// What it holds, for the message (`is resolved`).
    pub holds: &'a str,
    /// The entry it keeps.
    pub seq: u64,
    /// Whether a record that keeps no entry (saved before records kept theirs) is left
    /// unjudged until a change of it in effect is in the log.
    pub unnumbered_unjudged: bool,
}

/// The first disagreement of a record (`held`) with the log's last change of its target
/// (`last`, as [`last_change`] takes it): the log has none or voided it, the record is as of
/// another entry, the entry cannot be read (`logged`'s error; `unread` names what in
/// `FILE: UNREAD, entry #N: WHY`), or what it carries does not `agree` with the record
/// (`unlike` says how, after `FILE disagrees with the log: `).
pub(crate) fn judge<L>(
    held: &Held<'_>,
    last: Option<&Option<Word>>,
    logged: impl FnOnce(&Word) -> Result<L, String>,
    agrees: impl FnOnce(&L) -> bool,
    unlike: impl FnOnce(&Word, &L) -> String,
    unread: &str,
) -> Option<Disagreement> {
    let Held {
        file,
        subject,
        holds,
        seq,
        unnumbered_unjudged,
    } = *held;
    if unnumbered_unjudged && seq == 0 && !matches!(last, Some(Some(_))) {
        return None;
    }
    let w = match last_change(file, subject, seq, last) {
        Ok(w) => w,
        Err(d) => return Some(d),
    };
    if let Err(d) = is_as_of(file, subject, holds, seq, w) {
        return Some(d);
    }
    match logged(w) {
        Ok(l) if agrees(&l) => None,
        Ok(l) => Some((
            w.seq,
            format!("{file} disagrees with the log: {}", unlike(w, &l)),
        )),
        Err(why) => Some((w.seq, format!("{file}: {unread}, entry #{}: {why}", w.seq))),
    }
}

/// A projection kept as one file (`Book`) of whole records, one per target, each keeping the
/// entry of its last change, whose `after` carries the target's whole record after it.
pub(crate) trait Records {
    type Book: Default + Serialize + DeserializeOwned;
    type Record: PartialEq;
    /// See [`Held::unnumbered_unjudged`].
    const UNNUMBERED_UNJUDGED: bool;
    /// The file.
    fn path(&self, ws: &Workspace) -> PathBuf;
    /// The file's records with their targets, in the file's order.
    fn records<'b>(&self, book: &'b Self::Book) -> Vec<(String, &'b Self::Record)>;
    /// The entry a record keeps (0: none).
    fn seq(&self, record: &Self::Record) -> u64;
    /// Sets the record of `target` (adds it when the file has none).
    fn put(&self, book: &mut Self::Book, target: &str, record: Self::Record);
    /// The record of `target` an entry carries, as of that entry.
    fn carried(&self, w: &Word, target: &str) -> Result<Self::Record, String>;
    /// Why the record entry `w` carries for `target` is not rolled forward though it could be
    /// read (it is of another target, it names a path, its writer is not trusted with it...).
    /// A record whose last change is refused keeps what it had before, which is not judged.
    fn refusal(
        &self,
        _ws: &Workspace,
        _target: &str,
        _w: &Word,
        _record: &Self::Record,
    ) -> Option<String> {
        None
    }
    /// The record of `target` as messages name it (`the skip of 1.0.0/linux`).
    fn subject(&self, target: &str) -> String;
    /// What `record` holds, for the message (`is`, `hold 3`).
    fn holds(&self, record: &Self::Record) -> String;
    /// How `mine` differs from `logged`, the record entry `w` carries, after `FILE disagrees
    /// with the log: `.
    fn unlike(&self, target: &str, w: &Word, logged: &Self::Record, mine: &Self::Record) -> String;
    /// What the entry of `target`'s last change is, in `FILE: UNREAD, entry #N: WHY`.
    fn unread(&self, target: &str) -> String;
    /// That the file has no record of `target` though entry `w` recorded one, after `FILE
    /// disagrees with the log: `.
    fn missing(&self, target: &str, w: &Word) -> String;
}

fn read<R: Records + ?Sized>(r: &R, ws: &Workspace) -> Result<R::Book, StateError> {
    Ok(store::read_json::<R::Book>(&r.path(ws))?.unwrap_or_default())
}

/// [`Projection::roll_forward`](super::Projection::roll_forward) of a [`Records`] book: each
/// target's last change that its record is not as of is replayed from the entry, or refused
/// (target, change, why).
#[expect(
    clippy::type_complexity,
    reason = "a list of (target, change, why) is what the caller marks"
)]
pub(crate) fn roll_records<R: Records + ?Sized>(
    r: &R,
    ws: &Workspace,
    last: &BTreeMap<String, Word>,
) -> Result<(usize, Vec<(String, Word, String)>), StateError> {
    let mut book = read(r, ws)?;
    let mut applied = 0;
    let mut refused = Vec::new();
    for (target, w) in last {
        // A record without an entry number was last saved before they were kept, so an
        // entry that carries a record (written since) is newer than it.
        let seq = r
            .records(&book)
            .into_iter()
            .find(|(t, _)| t == target)
            .map(|(_, rec)| r.seq(rec));
        if seq.is_some_and(|s| s >= w.seq) {
            continue;
        }
        match r.carried(w, target) {
            Ok(record) => {
                if let Some(why) = r.refusal(ws, target, w, &record) {
                    refused.push((target.clone(), w.clone(), why));
                    continue;
                }
                r.put(&mut book, target, record);
                applied += 1;
                tracing::info!("rolled forward entry #{} ({} {target})", w.seq, w.action);
            }
            Err(why) => refused.push((target.clone(), w.clone(), why)),
        }
    }
    if applied > 0 {
        store::write_json(&r.path(ws), &book)?;
    }
    Ok((applied, refused))
}

/// [`Projection::disagreement`](super::Projection::disagreement) of a [`Records`] book: the
/// first record that [`judge`] finds wrong, in the file's order, else the first target the log
/// has a change in effect of and the file no record.
pub(crate) fn records_disagreement<R: Records + ?Sized>(
    r: &R,
    ws: &Workspace,
    last: &BTreeMap<String, Option<Word>>,
) -> Result<Option<Disagreement>, StateError> {
    let path = r.path(ws);
    let file = path.display();
    let book = read(r, ws)?;
    let records = r.records(&book);
    // A target whose last change is refused keeps a record from before it, which `last`
    // does not hold to compare (a console other than the refused entry's writer does not
    // mark it not applied, so it is still the last change here).
    let refused: BTreeMap<&String, u64> = last
        .iter()
        .filter_map(|(target, w)| {
            let w = w.as_ref()?;
            let bad = r
                .carried(w, target)
                .map_or(true, |rec| r.refusal(ws, target, w, &rec).is_some());
            bad.then_some((target, w.seq))
        })
        .collect();
    for (target, mine) in &records {
        if refused.get(target).is_some_and(|&at| r.seq(mine) < at) {
            continue;
        }
        let (subject, holds) = (r.subject(target), r.holds(mine));
        let held = Held {
            file: &file,
            subject: &subject,
            holds: &holds,
            seq: r.seq(mine),
            unnumbered_unjudged: R::UNNUMBERED_UNJUDGED,
        };
        if let Some(d) = judge(
            &held,
            last.get(target),
            |w| r.carried(w, target),
            |logged| logged == *mine,
            |w, logged| r.unlike(target, w, logged, mine),
            &r.unread(target),
        ) {
            return Ok(Some(d));
        }
    }
    for (target, w) in last {
        if let Some(w) = w
            && !refused.contains_key(target)
            && !records.iter().any(|(t, _)| t == target)
        {
            return Ok(Some((
                w.seq,
                format!("{file} disagrees with the log: {}", r.missing(target, w)),
            )));
        }
    }
    Ok(None)
}

/// The first field in which two records differ, as `field: log value, file value`.
pub(crate) fn first_difference<T: Serialize>(logged: &T, file: &T) -> String {
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
