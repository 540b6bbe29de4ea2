//! The publish store's unfinished multipart uploads as the audit log speaks for them
//! ([`UploadBook`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::s3::{Pending, PendingUploads, UPLOADS_LOCK};
use crate::audit::Action;
use crate::audit::event::UploadRecord;
use crate::store::{self, StateError};
use crate::workspace::{Projection, Word, Workspace, is_as_of, last_change};

/// `publish/uploads.json` as the audit log speaks for it: its targets are the objects
/// (`bucket/key`), each changed by `publish.upload.start` (a multipart upload begun: the entry
/// carries its record, `after.upload`) and `publish.upload.end` (completed, aborted or found
/// gone: `after.upload` is null, `after.why` says which). Each upload remembered keeps the
/// entry that recorded it. On a shared workspace every console's cache thus shows the uploads
/// another console left unfinished; which console may send into one is the publish lease's
/// to say, and any that resumes one sends only the parts the store does not hold (the same
/// bytes: its SHA-256, size and part size must match).
///
/// Uploads remembered before entries recorded them are not judged until a change of their
/// key is in the log.
#[derive(Debug)]
pub struct UploadBook;

fn path_of(ws: &Workspace) -> PathBuf {
    ws.root().join("publish").join("uploads.json")
}

fn read(ws: &Workspace) -> Result<PendingUploads, StateError> {
    Ok(store::read_json(&path_of(ws))?.unwrap_or_default())
}

/// The upload an entry leaves remembered (`None`: none), as the file keeps it.
fn carried(w: &Word) -> Result<Option<Pending>, String> {
    let record = serde_json::from_value::<UploadRecord>(w.after.clone())
        .map_err(|e| format!("its record cannot be read: {e}"))?;
    match (Action::parse(&w.action), record.upload) {
        (Some(Action::UploadStart), Some(v)) => serde_json::from_value::<Pending>(v)
            .map(|p| {
                Some(Pending {
                    audit_seq: w.seq,
                    ..p
                })
            })
            .map_err(|e| format!("its upload cannot be read: {e}")),
        (Some(Action::UploadStart), None) => Err("it begins no upload".to_owned()),
        (Some(Action::UploadEnd), _) => Ok(None),
        _ => Err("it is not a change of an upload this version reads".to_owned()),
    }
}

impl Projection for UploadBook {
    fn follows(&self, action: Action) -> bool {
        matches!(action, Action::UploadStart | Action::UploadEnd)
    }

    fn carries(&self, after: &Value) -> bool {
        after.get("upload").is_some()
    }

    fn marker(&self) -> &'static str {
        r#""action":"publish.upload."#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (ws.root().to_owned(), UPLOADS_LOCK)
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), StateError> {
        if last.is_empty() {
            return Ok((0, Vec::new()));
        }
        let mut all = read(ws)?;
        let mut applied = 0;
        let mut refused = Vec::new();
        for (id, w) in last {
            let held = all.get(id).map(|p| p.audit_seq);
            match carried(w) {
                // Already as of this change, or later.
                Ok(Some(_)) if held.is_some_and(|s| s >= w.seq) => {}
                Ok(None) if held.is_none_or(|s| s > w.seq) => {}
                Ok(Some(p)) => {
                    all.insert(id.clone(), p);
                    applied += 1;
                    tracing::info!("rolled forward entry #{} ({} {id})", w.seq, w.action);
                }
                Ok(None) => {
                    all.remove(id);
                    applied += 1;
                    tracing::info!("rolled forward entry #{} ({} {id})", w.seq, w.action);
                }
                Err(why) => refused.push((id.clone(), w.clone(), why)),
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
        for (id, p) in &all {
            if p.audit_seq == 0 && !matches!(last.get(id), Some(Some(_))) {
                continue;
            }
            let subject = format!("the unfinished upload of {id}");
            let w = match last_change(&file, &subject, p.audit_seq, last.get(id)) {
                Ok(w) => w,
                Err(d) => return Ok(Some(d)),
            };
            if let Err(d) = is_as_of(&file, &subject, "is remembered", p.audit_seq, w) {
                return Ok(Some(d));
            }
            match carried(w) {
                Ok(Some(logged)) if logged == *p => {}
                Ok(Some(logged)) => {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file} disagrees with the log: the unfinished upload of {id} is not \
                             the one entry #{} ({}) recorded: the log has upload {} of {} bytes \
                             (SHA-256 {}), the file upload {} of {} bytes (SHA-256 {})",
                            w.seq,
                            w.action,
                            logged.upload_id,
                            logged.size,
                            logged.sha256,
                            p.upload_id,
                            p.size,
                            p.sha256
                        ),
                    )));
                }
                Ok(None) => {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file} disagrees with the log: it remembers an unfinished upload \
                             of {id}, but entry #{} ({}) ended it",
                            w.seq, w.action
                        ),
                    )));
                }
                Err(why) => {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file}: the unfinished upload of {id}: its last change, entry #{}: \
                             {why}",
                            w.seq
                        ),
                    )));
                }
            }
        }
        for (id, w) in last {
            if let Some(w) = w
                && !all.contains_key(id)
                && matches!(carried(w), Ok(Some(_)))
            {
                return Ok(Some((
                    w.seq,
                    format!(
                        "{file} disagrees with the log: it remembers no unfinished upload of \
                         {id}, but entry #{} ({}) began one",
                        w.seq, w.action
                    ),
                )));
            }
        }
        Ok(None)
    }
}
