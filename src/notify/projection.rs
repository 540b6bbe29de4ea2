//! The outbox as the audit log speaks for it ([`OutboxBook`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{Delivery, LOCK, Outbox, outbox_path};
use crate::audit::Action;
use crate::audit::event::{Deliveries, DeliveryEnd, DeliveryRecord};
use crate::store::{self, StateError};
use crate::workspace::{Projection, Word, Workspace, is_as_of, last_change};

/// `notify/outbox.json` as the audit log speaks for it: its targets are the deliveries (by
/// id), each changed by `notify.queued`, `.sending`, `.pending`, `.dropped`, `.retry`,
/// `.sent`, `.failed` and `.uncertain`, whose entries carry the delivery's whole record after
/// the change (`after.delivery`). Each delivery keeps the entry of its last change
/// (`audit_seq`), and whether that entry is another console's (`elsewhere`: such a delivery
/// is shown, never sent here).
///
/// A change is replayed as recorded: it was made under the outbox lock by the console that
/// queued the delivery. One whose record cannot be read, or is of another delivery, is marked
/// not applied. Entries written before they carried the record (a `notify.retry` naming
/// several deliveries, an end without its record) are not replayed, and deliveries saved
/// before they kept their entry are not judged until a change that carries them is in the
/// log. The outbox's reading mark (`next_seq`, `offset`) is the console's own, not judged.
#[derive(Debug)]
pub struct OutboxBook;

/// The delivery an entry of a change of delivery `id` carries.
fn carried(w: &Word, id: &str) -> Result<Delivery, String> {
    let record = match Action::parse(&w.action) {
        Some(Action::NotifySent | Action::NotifyFailed | Action::NotifyUncertain) => {
            serde_json::from_value::<DeliveryEnd>(w.after.clone())
                .ok()
                .and_then(|e| e.delivery)
        }
        Some(Action::NotifyRetry) => serde_json::from_value::<Deliveries>(w.after.clone())
            .ok()
            .and_then(|e| e.delivery),
        Some(
            Action::NotifyQueued
            | Action::NotifySending
            | Action::NotifyPending
            | Action::NotifyDropped,
        ) => serde_json::from_value::<DeliveryRecord>(w.after.clone())
            .ok()
            .map(|e| e.delivery),
        _ => None,
    }
    .ok_or("it carries no record of the delivery")?;
    let d: Delivery = serde_json::from_value(record)
        .map_err(|e| format!("its record of the delivery cannot be read: {e}"))?;
    if d.id != id {
        return Err(format!(
            "it carries the record of another delivery, {}",
            d.id
        ));
    }
    Ok(d)
}

/// Why another console's entry does not change delivery `id`, which this console queued (only
/// the console that queued a delivery changes it: another's entry of it is a forger's, or an
/// id taken by mistake).
fn not_theirs(id: &str) -> String {
    format!(
        "delivery {id} was queued by this console, which alone changes it; the entry is \
         another console's"
    )
}

/// The delivery as this console keeps the change of entry `w`.
fn kept(ws: &Workspace, w: &Word, id: &str) -> Result<Delivery, String> {
    Ok(Delivery {
        audit_seq: w.seq,
        elsewhere: !ws.wrote(w),
        ..carried(w, id)?
    })
}

impl Projection for OutboxBook {
    fn follows(&self, action: Action) -> bool {
        matches!(
            action,
            Action::NotifyQueued
                | Action::NotifySending
                | Action::NotifyPending
                | Action::NotifyDropped
                | Action::NotifyRetry
                | Action::NotifySent
                | Action::NotifyFailed
                | Action::NotifyUncertain
        )
    }

    fn carries(&self, after: &Value) -> bool {
        after.get("delivery").is_some_and(Value::is_object)
    }

    fn marker(&self) -> &'static str {
        r#""action":"notify."#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (ws.root().join("notify"), LOCK)
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), StateError> {
        if last.is_empty() {
            return Ok((0, Vec::new()));
        }
        let mut ob: Outbox = store::read_json(&outbox_path(ws))?.unwrap_or_default();
        let mut applied = 0;
        let mut added = false;
        let mut refused = Vec::new();
        for (id, w) in last {
            if ob.get(id).is_some_and(|d| d.audit_seq >= w.seq) {
                continue;
            }
            match kept(ws, w, id) {
                Ok(d) if d.elsewhere && ob.get(id).is_some_and(|x| !x.elsewhere) => {
                    refused.push((id.clone(), w.clone(), not_theirs(id)));
                }
                Ok(d) => {
                    if let Some(x) = ob.deliveries.iter_mut().find(|x| x.id == *id) {
                        *x = d;
                    } else {
                        ob.deliveries.push(d);
                        added = true;
                    }
                    applied += 1;
                    tracing::info!("rolled forward entry #{} ({} {id})", w.seq, w.action);
                }
                Err(why) => refused.push((id.clone(), w.clone(), why)),
            }
        }
        if added {
            // Oldest first, as the outbox lists them.
            ob.deliveries.sort_by_key(|d| d.queued_at);
        }
        if applied > 0 {
            store::write_json(&outbox_path(ws), &ob)?;
        }
        Ok((applied, refused))
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, StateError> {
        let path = outbox_path(ws);
        let file = path.display();
        let ob: Outbox = store::read_json(&path)?.unwrap_or_default();
        for d in &ob.deliveries {
            // Saved before deliveries kept their entry, and no entry since carries it.
            if d.audit_seq == 0 && !matches!(last.get(&d.id), Some(Some(_))) {
                continue;
            }
            // This console's delivery, whose last change in the log another console's entry
            // claims: refused when rolled forward, so the file keeps this console's own.
            if !d.elsewhere
                && let Some(Some(w)) = last.get(&d.id)
                && w.seq > d.audit_seq
                && !ws.wrote(w)
            {
                continue;
            }
            let subject = format!("delivery {}", d.id);
            let w = match last_change(&file, &subject, d.audit_seq, last.get(&d.id)) {
                Ok(w) => w,
                Err(x) => return Ok(Some(x)),
            };
            let holds = format!("is {}", d.state.as_str());
            if let Err(x) = is_as_of(&file, &subject, &holds, d.audit_seq, w) {
                return Ok(Some(x));
            }
            match kept(ws, w, &d.id) {
                Ok(logged) if logged == *d => {}
                Ok(logged) => {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file} disagrees with the log: delivery {} is not what entry #{} \
                             ({}) recorded: {}",
                            d.id,
                            w.seq,
                            w.action,
                            crate::workspace::first_difference(&logged, d)
                        ),
                    )));
                }
                Err(why) => {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file}: delivery {}: its last change, entry #{}: {why}",
                            d.id, w.seq
                        ),
                    )));
                }
            }
        }
        for (id, w) in last {
            if let Some(w) = w
                && ob.get(id).is_none()
            {
                return Ok(Some((
                    w.seq,
                    format!(
                        "{file} disagrees with the log: it has no delivery {id}, but entry #{} \
                         ({}) recorded it",
                        w.seq, w.action
                    ),
                )));
            }
        }
        Ok(None)
    }
}
