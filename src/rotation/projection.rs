//! The rotations file as the audit log speaks for it ([`RotationBook`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{LOCK, Rotation, path_of, seq_of, with_new};
use crate::audit::{Action, Event};
use crate::store::StateError;
use crate::workspace::{Projection, Records, Word, Workspace};

/// `secrets/rotations.json` as the audit log speaks for it: its targets are the secrets (by
/// name), each changed by `secret.rotated`, whose entry carries the rotation and the secret's
/// other rotations kept (`after.earlier`), so the secret's whole record after the change. Each
/// rotation keeps the entry that recorded it; a secret's record is as of its newest one.
///
/// A rotation is replayed as recorded (the secret was tracked when it was recorded; a
/// configuration changed since does not undo a rotation done). One whose record cannot be read
/// is marked not applied. Entries written before they carried the record are not replayed, and
/// rotations saved before they kept their entry are not judged until a change that carries
/// them is in the log.
#[derive(Debug)]
pub struct RotationBook;

/// The secret's rotations after the change of entry `w`.
fn carried(w: &Word, name: &str) -> Result<Vec<Rotation>, String> {
    let Event::SecretRotated(e) = Event::parse(&w.action, name, &Value::Null, &w.after) else {
        return Err("its rotation cannot be read".to_owned());
    };
    let earlier = e
        .after
        .earlier
        .ok_or("it carries no record of the secret's rotations")?
        .into_iter()
        .map(serde_json::from_value::<Rotation>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("its earlier rotations cannot be read: {e}"))?;
    if let Some(r) = earlier.iter().find(|r| r.audit_seq >= w.seq) {
        return Err(format!(
            "it carries a rotation recorded by entry #{}, not an earlier one",
            r.audit_seq
        ));
    }
    Ok(with_new(
        earlier,
        Rotation {
            at: e.after.at,
            by: e.after.by,
            note: e.after.note,
            audit_seq: w.seq,
        },
    ))
}

impl Projection for RotationBook {
    fn follows(&self, action: Action) -> bool {
        matches!(action, Action::SecretRotated)
    }

    fn carries(&self, after: &Value) -> bool {
        after.get("earlier").is_some()
    }

    fn marker(&self) -> &'static str {
        r#""action":"secret.rotated"#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (ws.root().join("secrets"), LOCK)
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

impl Records for RotationBook {
    type Book = BTreeMap<String, Vec<Rotation>>;
    type Record = Vec<Rotation>;
    // Saved before rotations kept their entry, and no entry since carries them.
    const UNNUMBERED_UNJUDGED: bool = true;

    fn path(&self, ws: &Workspace) -> PathBuf {
        path_of(ws)
    }

    fn records<'b>(&self, book: &'b Self::Book) -> Vec<(String, &'b Vec<Rotation>)> {
        book.iter()
            .map(|(name, list)| (name.clone(), list))
            .collect()
    }

    fn seq(&self, record: &Vec<Rotation>) -> u64 {
        seq_of(record)
    }

    fn put(&self, book: &mut Self::Book, name: &str, record: Vec<Rotation>) {
        book.insert(name.to_owned(), record);
    }

    fn carried(&self, w: &Word, name: &str) -> Result<Vec<Rotation>, String> {
        carried(w, name)
    }

    fn subject(&self, name: &str) -> String {
        format!("the rotations of {name}")
    }

    fn holds(&self, record: &Vec<Rotation>) -> String {
        format!("hold {}", record.len())
    }

    fn unlike(&self, name: &str, w: &Word, logged: &Vec<Rotation>, list: &Vec<Rotation>) -> String {
        let what = logged.iter().zip(list).find(|(a, b)| a != b).map_or_else(
            || format!("the log has {}, the file {}", logged.len(), list.len()),
            |(a, b)| {
                format!(
                    "the log has one at {} by {} (entry #{}), the file at {} by {} (entry #{})",
                    a.at, a.by, a.audit_seq, b.at, b.by, b.audit_seq
                )
            },
        );
        format!(
            "the rotations of {name} are not the ones entry #{} ({}) saved: {what}",
            w.seq, w.action
        )
    }

    fn unread(&self, name: &str) -> String {
        format!("the rotations of {name}: their last change")
    }

    fn missing(&self, name: &str, w: &Word) -> String {
        format!(
            "it has no rotations of {name}, but entry #{} ({}) recorded one",
            w.seq, w.action
        )
    }
}
