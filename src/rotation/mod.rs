//! Secret rotation on the schedule of WireTuner's operations runbook (database passwords every 90
//! days, API keys every 180, signing certificates before they expire): which secrets the workspace
//! relies on, when each was last rotated (recorded here, audited), when it is due, as a calendar.
//!
//! The recorded rotations live in `secrets/rotations.json`, per secret its rotations (at most
//! [`MAX_KEPT`], the oldest let go), each with the entry that recorded it. The audit log speaks
//! for the file ([`RotationBook`]): a `secret.rotated` entry carries the rotation and the
//! secret's other rotations kept, its whole record, so a crash between the entry and the write
//! is rolled forward from it, `audit verify` names a file that disagrees, and a second console
//! on a shared workspace has the first one's rotations after a sync.

mod projection;

pub use self::projection::RotationBook;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::store::{self, StateError};
use crate::verify::certs::{self, Found};
use crate::workspace::config::SecretKind;
use crate::workspace::{Workspace, WorkspaceError};

/// One recorded rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub at: Timestamp,
    pub by: String,
    #[serde(default)]
    pub note: String,
    /// The audit entry that recorded it (0: recorded before rotations kept it, or a date
    /// read from AWS Secrets Manager).
    #[serde(default)]
    pub audit_seq: u64,
}

/// The most rotations kept per secret (the calendar reads the last; the rest is history, and
/// each entry carries them all): the oldest are let go past it.
pub const MAX_KEPT: usize = 100;

/// The longest note kept with a rotation, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// A secret's rotations once `new` is recorded after `earlier` (the ones kept before it),
/// oldest first: the one change a recording and its roll forward make.
fn with_new(mut earlier: Vec<Rotation>, new: Rotation) -> Vec<Rotation> {
    earlier.push(new);
    earlier.sort_by_key(|r| r.at);
    earlier
}

/// The rotations of a secret kept when one more is recorded: the newest [`MAX_KEPT`] - 1.
fn kept_before(list: &[Rotation]) -> Vec<Rotation> {
    let mut kept = list.to_vec();
    kept.sort_by_key(|r| r.at);
    let drop = kept.len().saturating_sub(MAX_KEPT - 1);
    kept.drain(..drop);
    kept
}

/// The entry of a secret's last recorded change: its newest entry number.
fn seq_of(list: &[Rotation]) -> u64 {
    list.iter().map(|r| r.audit_seq).max().unwrap_or(0)
}

/// Where a tracked secret's state stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Due {
    /// Its due date has passed.
    Overdue,
    /// Due within the calendar's window.
    Soon,
    /// Due later.
    Later,
    /// Never recorded as rotated: its age is unknown.
    Unknown,
}

/// One secret on the calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub name: String,
    pub kind: SecretKind,
    pub every_days: u32,
    /// Why the console tracks it (`[status_page] api_key_env`, `[[rotation]]`, the PFX...).
    pub source: String,
    pub last_rotated: Option<Rotation>,
    /// For a signing certificate, its expiry.
    pub expires: Option<Timestamp>,
    pub due: Option<Timestamp>,
    pub state: Due,
    /// Why its dates could not be read where it lives (AWS Secrets Manager).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Entry {
    /// A secret past its rotation date. A signing certificate is renewed, not rotated: its
    /// own gate blocks on it, so it is never one of these.
    pub fn overdue_for_rotation(&self) -> bool {
        self.state == Due::Overdue && self.expires.is_none()
    }
}

/// How many tracked secrets stand where: the one count the "secret rotation" gate and the
/// Security panel's calendar both say, so they cannot disagree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub tracked: usize,
    pub overdue: usize,
    /// Due within the calendar's window.
    pub soon: usize,
    pub later: usize,
    /// Never recorded as rotated: not checked, since nothing says how old they are.
    pub unknown: usize,
    /// Whose dates could not be read where they live (AWS Secrets Manager).
    pub unreadable: usize,
}

impl Counts {
    pub fn of(calendar: &[Entry]) -> Self {
        let mut c = Self {
            tracked: calendar.len(),
            ..Self::default()
        };
        for e in calendar {
            match e.state {
                Due::Overdue => c.overdue += 1,
                Due::Soon => c.soon += 1,
                Due::Later => c.later += 1,
                Due::Unknown => c.unknown += 1,
            }
            if e.problem.is_some() {
                c.unreadable += 1;
            }
        }
        c
    }

    /// Those whose due date is known and not passed.
    pub fn within_schedule(&self) -> usize {
        self.soon + self.later
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Store(#[from] StateError),
}

fn path_of(ws: &Workspace) -> PathBuf {
    ws.root().join("secrets").join("rotations.json")
}

/// The lock every change of the rotations file is made under (in `secrets/`), across its
/// read, its entry and its write.
const LOCK: &str = "rotations-change";

/// Every recorded rotation by secret name, oldest first.
pub fn history(ws: &Workspace) -> Result<BTreeMap<String, Vec<Rotation>>, RotationError> {
    Ok(store::read_json(&path_of(ws))?.unwrap_or_default())
}

/// The secrets the workspace relies on: the provider keys its config names (for providers
/// that are not local), the signing certificates, and every `[[rotation]]` entry.
fn tracked(ws: &Workspace) -> Vec<(String, SecretKind, Option<u32>, String)> {
    let cfg = ws.config();
    let mut out = Vec::new();
    // The providers' API keys, when the provider is not the local one.
    for s in (cfg.status_page.secret_settings().into_iter())
        .chain(cfg.flags.secret_settings())
        .filter(|s| s.in_use)
    {
        out.push((
            s.source().to_owned(),
            SecretKind::ApiKey,
            None,
            format!("[{}] {}", s.table, s.env_key),
        ));
    }
    for r in &cfg.rotation {
        out.push((
            if r.store == "aws-sm" {
                format!("aws-sm:{}", r.name)
            } else {
                r.name.clone()
            },
            r.kind,
            r.every_days,
            "[[rotation]]".to_owned(),
        ));
    }
    // Every other key the console reads from AWS Secrets Manager is an API key to rotate.
    for s in cfg.secret_settings() {
        if s.in_use
            && s.source().starts_with("aws-sm:")
            && !out.iter().any(|(name, ..)| name == s.source())
        {
            out.push((s.source().to_owned(), SecretKind::ApiKey, None, s.purpose));
        }
    }
    out
}

/// The rotation date AWS Secrets Manager has for `name` (`aws-sm:ID[#key]`), if it lives there.
fn aws_dates(ws: &Workspace, name: &str) -> Option<Result<Rotation, String>> {
    let crate::workspace::secrets::SecretRef::AwsSm { id, .. } =
        crate::workspace::secrets::SecretRef::parse(name).ok()?
    else {
        return None;
    };
    let dates = crate::workspace::secrets::describe_aws_secret(&id, &ws.config().aws);
    Some(dates.and_then(|d| {
        d.last()
            .map(|(at, which)| Rotation {
                at,
                by: "AWS Secrets Manager".to_owned(),
                note: which.to_owned(),
                audit_seq: 0,
            })
            .ok_or_else(|| format!("aws-sm:{id}: AWS has no rotation or change date for it"))
    }))
}

/// `n` days as a duration (24-hour days, as the calendar counts them).
fn days(n: u32) -> SignedDuration {
    SignedDuration::from_hours(24 * i64::from(n))
}

/// `n` days after `at`, or the last date there is when that is past it: a schedule of any
/// length never panics the calendar (the config keeps them within
/// [`crate::workspace::config::MAX_DAYS`]; a caller's window may be anything).
fn after_days(at: Timestamp, n: u32) -> Timestamp {
    at.checked_add(days(n)).unwrap_or(Timestamp::MAX)
}

/// Every tracked secret with its due date, soonest first; `window_days` is what counts as due
/// soon. Signing certificates are due `[signing] min_valid_days` before they expire.
pub fn calendar(
    ws: &Workspace,
    now: Timestamp,
    window_days: u32,
) -> Result<Vec<Entry>, RotationError> {
    calendar_with(ws, now, window_days, &certs::signing_certificates(ws))
}

/// Secrets overdue for rotation (signing certificates left out: they are renewed, and their own
/// gate blocks on them), each as a warning line before a release; it blocks nothing. Empty when
/// the calendar cannot be read (the gates say so).
pub fn overdue_warnings(ws: &Workspace, now: Timestamp) -> Vec<String> {
    let Ok(cal) = calendar(ws, now, 30) else {
        return Vec::new();
    };
    cal.iter()
        .filter(|e| e.overdue_for_rotation())
        .map(|e| {
            format!(
                "{} is overdue for rotation (every {} days{}); `secrets calendar` lists them",
                e.name,
                e.every_days,
                e.due
                    .map(|d| format!(", due {}", crate::local_time(d, false)))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// [`calendar`] with the signing certificates already read.
pub fn calendar_with(
    ws: &Workspace,
    now: Timestamp,
    window_days: u32,
    signing: &[certs::SigningCert],
) -> Result<Vec<Entry>, RotationError> {
    let history = history(ws)?;
    // Past the last date there is, everything is within the window.
    let horizon = after_days(now, window_days);
    let state = |due: Option<Timestamp>| match due {
        None => Due::Unknown,
        Some(d) if d <= now => Due::Overdue,
        Some(d) if d <= horizon => Due::Soon,
        Some(_) => Due::Later,
    };
    let mut out = Vec::new();
    for (name, kind, every, source) in tracked(ws) {
        let every_days = every.unwrap_or_else(|| kind.period_days());
        let here = history.get(&name).and_then(|h| h.last()).cloned();
        let (last, problem) = match aws_dates(ws, &name) {
            // The later of what AWS says and what was recorded here.
            Some(Ok(aws)) => (
                Some(match here {
                    Some(h) if h.at > aws.at => h,
                    _ => aws,
                }),
                None,
            ),
            Some(Err(e)) => (here, Some(e)),
            None => (here, None),
        };
        let due = last.as_ref().map(|r| after_days(r.at, every_days));
        out.push(Entry {
            name,
            kind,
            every_days,
            source,
            state: state(due),
            last_rotated: last,
            expires: None,
            due,
            problem,
        });
    }
    let min_valid = ws.config().signing.min_valid_days;
    for c in signing {
        if let Found::Read(id) = &c.found {
            let name = format!("{} signing certificate ({})", c.which, id.leaf.subject);
            let expires = id.expires();
            // Before the first date there is: long overdue.
            let by_expiry = expires
                .checked_sub(days(min_valid))
                .unwrap_or(Timestamp::MIN);
            let due = Some(by_expiry);
            out.push(Entry {
                name,
                kind: SecretKind::SigningCertificate,
                every_days: SecretKind::SigningCertificate.period_days(),
                source: c.source.clone(),
                state: state(due),
                last_rotated: None,
                expires: Some(expires),
                due,
                problem: None,
            });
        }
    }
    out.sort_by(|a, b| match (a.due, b.due) {
        (Some(x), Some(y)) => x.cmp(&y),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    });
    Ok(out)
}

/// Records that secret `name` was rotated at `at` (audited first). The name must be one the
/// calendar tracks, so a typo is not recorded.
pub fn record(
    ws: &Workspace,
    name: &str,
    at: Timestamp,
    note: &str,
) -> Result<Rotation, RotationError> {
    let now = Timestamp::now();
    if at > now + SignedDuration::from_mins(5) {
        return Err(RotationError::Invalid(format!(
            "--at {at} is in the future: record a rotation once it is done"
        )));
    }
    let known = calendar(ws, now, 90)?;
    if known
        .iter()
        .any(|e| e.name == name && e.kind == SecretKind::SigningCertificate && e.expires.is_some())
    {
        return Err(RotationError::Invalid(format!(
            "{name}: a signing certificate is rotated by replacing it; the calendar reads the \
             new one's expiry"
        )));
    }
    if !known.iter().any(|e| e.name == name) {
        return Err(RotationError::Invalid(format!(
            "{name:?} is not a secret this workspace tracks (tracked: {}); add it as \
             [[rotation]] in release-console.toml",
            known
                .iter()
                .map(|e| format!("{:?}", e.name))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let note = note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(RotationError::Invalid(format!(
            "--note is {} characters; at most {MAX_NOTE_CHARS}",
            note.chars().count()
        )));
    }
    let rotation = Rotation {
        at,
        by: ws.actor(),
        note: note.to_owned(),
        audit_seq: 0,
    };
    let path = path_of(ws);
    let _lock = store::lock(&ws.root().join("secrets"), LOCK)?;
    // The secret's rotations kept before this one, read under the lock: with it, the record
    // the entry carries.
    let earlier = kept_before(history(ws)?.get(name).map_or(&[], Vec::as_slice));
    let carried = earlier
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RotationError::Invalid(format!("{name}: its rotations: {e}")))?;
    let rotation = ws.change(
        crate::audit::Event::SecretRotated(crate::audit::event::SecretRotated {
            target: name.to_owned(),
            before: (),
            after: crate::audit::event::Rotated {
                at: rotation.at,
                by: rotation.by.clone(),
                note: rotation.note.clone(),
                earlier: Some(carried),
            },
        }),
        |seq| {
            let rotation = Rotation {
                audit_seq: seq,
                ..rotation
            };
            store::update_json(&path, |h: &mut BTreeMap<String, Vec<Rotation>>| {
                h.insert(name.to_owned(), with_new(earlier, rotation.clone()));
                Ok::<_, StateError>(())
            })?;
            Ok(rotation)
        },
    )?;
    Ok(rotation)
}
