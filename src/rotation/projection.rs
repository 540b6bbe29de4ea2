//! The rotations file as the audit log speaks for it ([`RotationBook`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{LOCK, Rotation, path_of, seq_of, with_new};
use crate::audit::{Action, Event};
use crate::store::{self, StateError};
use crate::workspace::{Projection, Word, Workspace, is_as_of, last_change};

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

fn read(ws: &Workspace) -> Result<BTreeMap<String, Vec<Rotation>>, StateError> {
    Ok(store::read_json(&path_of(ws))?.unwrap_or_default())
}

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
        let mut all = read(ws)?;
        let mut applied = 0;
        let mut refused = Vec::new();
        for (name, w) in last {
            if all.get(name).is_some_and(|list| seq_of(list) >= w.seq) {
                continue;
            }
            match carried(w, name) {
                Ok(record) => {
                    all.insert(name.clone(), record);
                    applied += 1;
                    tracing::info!("rolled forward entry #{} ({} {name})", w.seq, w.action);
                }
                Err(why) => refused.push((name.clone(), w.clone(), why)),
            }
        }
        if applied > 0 {
            store::write_json(&path_of(ws), &all)?;
        }
        Ok((applied, refused))
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, StateError> {
        let path = path_of(ws);
        let file = path.display();
        let all = read(ws)?;
        for (name, list) in &all {
            let seq = seq_of(list);
            // Saved before rotations kept their entry, and no entry since carries them.
            if seq == 0 && !matches!(last.get(name), Some(Some(_))) {
                continue;
            }
            let subject = format!("the rotations of {name}");
            let w = match last_change(&file, &subject, seq, last.get(name)) {
                Ok(w) => w,
                Err(d) => return Ok(Some(d)),
            };
            let holds = format!("hold {}", list.len());
            if let Err(d) = is_as_of(&file, &subject, &holds, seq, w) {
                return Ok(Some(d));
            }
            match carried(w, name) {
                Ok(logged) if logged == *list => {}
                Ok(logged) => {
                    let what = logged.iter().zip(list).find(|(a, b)| a != b).map_or_else(
                        || format!("the log has {}, the file {}", logged.len(), list.len()),
                        |(a, b)| {
                            format!(
                                "the log has one at {} by {} (entry #{}), the file at {} by \
                                     {} (entry #{})",
                                a.at, a.by, a.audit_seq, b.at, b.by, b.audit_seq
                            )
                        },
                    );
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file} disagrees with the log: the rotations of {name} are not the \
                             ones entry #{} ({}) saved: {what}",
                            w.seq, w.action
                        ),
                    )));
                }
                Err(why) => {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file}: the rotations of {name}: their last change, entry #{}: \
                             {why}",
                            w.seq
                        ),
                    )));
                }
            }
        }
        for (name, w) in last {
            if let Some(w) = w
                && !all.contains_key(name)
            {
                return Ok(Some((
                    w.seq,
                    format!(
                        "{file} disagrees with the log: it has no rotations of {name}, but entry \
                         #{} ({}) recorded one",
                        w.seq, w.action
                    ),
                )));
            }
        }
        Ok(None)
    }
}
