//! The console's incident records (`status/incidents.json` in the workspace): id
//! `INC-YYYY-MM-DD-NNN`, severity, components, the linked status page incident, a timeline, the
//! time to first response against the severity's target, and the postmortem due 48 h after
//! resolution. The workflow functions post to the status page first and record after, so a
//! crash in between is healed by the next attempt (the page finds the unresolved incident).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    ComponentStatus, IncidentChange, IncidentStatus, NewIncident, NewMaintenance, PageIncident,
    Resolution, Severity, StatusError, StatusPage, resolve_components,
};
use crate::audit::event::{self, IncidentChanged, IncidentCreate, IncidentCreated};
use crate::audit::{Action, Event};
use crate::store;
use crate::workspace::{Projection, Word, Workspace};

/// A postmortem is due this long after resolution.
pub const POSTMORTEM_DUE: Duration = Duration::from_hours(48);
const TEMPLATE: &str = include_str!("../../assets/runbooks/incident_template.md");

/// One event in an incident's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// `detected`, `created`, `updated`, `resolved`.
    pub what: String,
    pub status: Option<IncidentStatus>,
    pub message: String,
    pub actor: String,
}

/// An incident as the console tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub name: String,
    pub severity: Severity,
    /// Component names.
    pub components: Vec<String>,
    pub status: IncidentStatus,
    /// `local` or `statuspage`.
    pub provider: String,
    pub page_incident_id: String,
    pub shortlink: Option<String>,
    pub detected_at: Timestamp,
    pub created_at: Timestamp,
    /// When users were first told (the status page post).
    pub first_response_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// How it turned out, said when it was resolved; `None` while open, and for incidents
    /// resolved without saying (or before the field was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    pub timeline: Vec<TimelineEntry>,
    /// The key its create was posted with (see [`CreateRequest::idempotency_key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The audit entry of its last change (create, update, resolve), whose `after.incident`
    /// is this record; 0 in records written before it was kept (those are not compared).
    #[serde(default)]
    pub audit_seq: u64,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.status != IncidentStatus::Resolved
    }

    /// Detection to first public response.
    pub fn response_time(&self) -> Option<Duration> {
        self.first_response_at.map(|at| since(self.detected_at, at))
    }

    /// Whether the response took (or, with none yet, is taking) longer than the target.
    pub fn response_breached(&self, now: Timestamp) -> bool {
        let took = self
            .response_time()
            .unwrap_or_else(|| since(self.detected_at, now));
        took > self.severity.response_target()
    }

    pub fn postmortem_due(&self) -> Option<Timestamp> {
        self.resolved_at
            .and_then(|r| r.checked_add(POSTMORTEM_DUE).ok())
    }

    /// How long it has been (or was) open.
    pub fn open_for(&self, now: Timestamp) -> Duration {
        since(self.detected_at, self.resolved_at.unwrap_or(now))
    }
}

fn since(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

use crate::human_duration;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Book {
    incidents: Vec<Incident>,
    /// Creates started but not yet recorded: written before the post, so that a run that
    /// crashed (or whose audit append was refused) after the page created the incident is
    /// finished by the next run of the same request, with the same key, instead of posting a
    /// second incident.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<PendingCreate>,
}

/// A create in flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingCreate {
    key: String,
    /// What was asked for (title, message, severity, status, components), hashed.
    request: String,
    started_at: Timestamp,
}

fn book_path(ws: &Workspace) -> PathBuf {
    ws.root().join("status").join("incidents.json")
}

/// Every incident, oldest first.
pub fn load(ws: &Workspace) -> Result<Vec<Incident>, StatusError> {
    Ok(store::read_json::<Book>(&book_path(ws))?
        .unwrap_or_default()
        .incidents)
}

/// Runs `change` on the incidents under the book's lock and saves it atomically.
fn modify<T>(
    ws: &Workspace,
    change: impl FnOnce(&mut Vec<Incident>) -> Result<T, StatusError>,
) -> Result<T, StatusError> {
    modify_book(ws, |book| change(&mut book.incidents))
}

fn modify_book<T>(
    ws: &Workspace,
    change: impl FnOnce(&mut Book) -> Result<T, StatusError>,
) -> Result<T, StatusError> {
    store::update_json(&book_path(ws), change)
}

/// The next `INC-YYYY-MM-DD-NNN` for the day of `at` (UTC).
pub fn next_id(existing: &[Incident], at: Timestamp) -> String {
    let day = at.strftime("%Y-%m-%d").to_string();
    let prefix = format!("INC-{day}-");
    let n = existing
        .iter()
        .filter_map(|i| i.id.strip_prefix(&prefix)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("{prefix}{:03}", n + 1)
}

/// The longest title made from a message.
pub const MAX_DEFAULT_TITLE_CHARS: usize = 80;

/// A title made from a message: its first sentence (of its first non-empty line), and when
/// that is longer than [`MAX_DEFAULT_TITLE_CHARS`], cut at the last whole word that fits, with
/// an ellipsis: never mid-word ("Next update wit").
pub fn default_title(message: &str) -> String {
    let line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let sentence = line
        .find(". ")
        .map_or(line, |end| &line[..end])
        .trim_end_matches('.')
        .trim();
    if sentence.chars().count() <= MAX_DEFAULT_TITLE_CHARS {
        return sentence.to_owned();
    }
    // Room for the ellipsis.
    let fit: String = sentence.chars().take(MAX_DEFAULT_TITLE_CHARS - 1).collect();
    let next_is_space = sentence
        .chars()
        .nth(MAX_DEFAULT_TITLE_CHARS - 1)
        .is_some_and(char::is_whitespace);
    let words = if next_is_space {
        fit.as_str()
    } else {
        fit.rsplit_once(char::is_whitespace)
            .map_or(fit.as_str(), |(head, _)| head)
    };
    format!(
        "{}…",
        words.trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ':')
    )
}

/// What `status --action create` (or the panel's compose form) asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub status: IncidentStatus,
    pub message: String,
    pub severity: Severity,
    pub components: Vec<String>,
    /// Defaults to what the severity implies.
    pub component_status: Option<ComponentStatus>,
    pub detected_at: Option<Timestamp>,
    pub deliver_notifications: bool,
    /// Names this create, so that running it again (a CI retry) finds the incident instead of
    /// creating a second one. Without it, a run finishes an unfinished earlier run of the same
    /// request, and otherwise creates a new incident: two incidents from one template are two
    /// incidents.
    pub idempotency_key: Option<String>,
}

impl CreateRequest {
    /// The incident's name: given, or [`default_title`] of the message.
    pub fn title(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| default_title(&self.message))
    }

    /// What was asked for, hashed: equal for a re-run of the same request.
    fn fingerprint(&self) -> String {
        let what = serde_json::json!([
            self.title(),
            self.message.trim(),
            self.severity,
            self.status,
            self.components,
        ]);
        crate::sha256_hex(what.to_string().as_bytes())
    }

    fn validate(&self) -> Result<(), StatusError> {
        if let Some(key) = &self.idempotency_key
            && (key.is_empty()
                || key.len() > 128
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)))
        {
            return Err(StatusError::Invalid(
                "--idempotency-key takes 1 to 128 letters, digits and - _ . :".into(),
            ));
        }
        if self.message.trim().is_empty() {
            return Err(StatusError::Invalid(
                "--message must say what users see (it is published)".into(),
            ));
        }
        if self.status == IncidentStatus::Resolved {
            return Err(StatusError::Invalid(
                "an incident cannot be created as resolved: create it, then --action resolve"
                    .into(),
            ));
        }
        if self.components.is_empty() {
            return Err(StatusError::Invalid(
                "name at least one affected --component".into(),
            ));
        }
        Ok(())
    }
}

/// Creates the incident on the status page, then records it. Calling it again after a failure
/// (or with the same idempotency key) never creates a second page incident (the page is
/// searched for the attempt's key first) nor a second record.
pub async fn create<P: StatusPage>(
    ws: &Workspace,
    page: &P,
    provider: &str,
    req: &CreateRequest,
) -> Result<Incident, StatusError> {
    req.validate()?;
    let comps = page.components().await?;
    let ids = resolve_components(&comps, &req.components)?;
    let component_status = req
        .component_status
        .unwrap_or(req.severity.component_status());
    let (key, done) = begin_create(ws, req)?;
    if let Some(done) = done {
        return Ok(done);
    }
    let new = NewIncident {
        idempotency_key: key.clone(),
        name: req.title(),
        status: req.status,
        body: req.message.trim().to_owned(),
        impact_override: req.severity.impact(),
        components: ids
            .iter()
            .map(|id| (id.clone(), component_status))
            .collect(),
        deliver_notifications: req.deliver_notifications,
    };
    let posted = page.create_incident(&new).await?;
    let actor = ws.actor();
    let now = Timestamp::now();
    let incident = modify_book(ws, |all| {
        all.pending.retain(|p| p.key != key);
        let book = &mut all.incidents;
        if let Some(existing) = book.iter().find(|i| i.page_incident_id == posted.id) {
            return Ok(existing.clone());
        }
        let detected = req.detected_at.unwrap_or(now).min(now);
        let mut timeline = Vec::new();
        if detected < now {
            timeline.push(TimelineEntry {
                at: detected,
                what: "detected".into(),
                status: None,
                message: String::new(),
                actor: actor.clone(),
            });
        }
        timeline.push(TimelineEntry {
            at: now,
            what: "created".into(),
            status: Some(req.status),
            message: new.body.clone(),
            actor: actor.clone(),
        });
        let incident = Incident {
            id: next_id(book, now),
            name: posted.name.clone(),
            severity: req.severity,
            components: req.components.clone(),
            status: req.status,
            provider: provider.to_owned(),
            page_incident_id: posted.id.clone(),
            shortlink: posted.shortlink.clone(),
            detected_at: detected,
            created_at: now,
            first_response_at: Some(now),
            resolved_at: None,
            resolution: None,
            timeline,
            idempotency_key: Some(key.clone()),
            audit_seq: 0,
        };
        // Audited before it is recorded: when the append is refused, the record is not written,
        // so a re-run records (and audits) it instead of finding it and staying silent.
        let seq = ws.record_seq(Event::IncidentCreate(IncidentCreate {
            target: incident.id.clone(),
            before: (),
            after: IncidentCreated {
                incident: serde_json::json!(&incident),
                page_incident: serde_json::json!(&posted),
                published: serde_json::json!(&new),
            },
        }))?;
        let incident = Incident {
            audit_seq: seq,
            ..incident
        };
        book.push(incident.clone());
        Ok(incident)
    })?;
    Ok(incident)
}

/// The key to post a create with, and the incident when a create with that key was already
/// recorded. An explicit key is used as given; otherwise an unfinished create of the same
/// request lends its key, and anything else gets a fresh one. The key is saved (as pending)
/// before anything is posted.
fn begin_create(
    ws: &Workspace,
    req: &CreateRequest,
) -> Result<(String, Option<Incident>), StatusError> {
    let request = req.fingerprint();
    let now = Timestamp::now();
    modify_book(ws, |book| {
        let key = match &req.idempotency_key {
            Some(key) => {
                if let Some(done) = book
                    .incidents
                    .iter()
                    .find(|i| i.idempotency_key.as_ref() == Some(key))
                {
                    return Ok((key.clone(), Some(done.clone())));
                }
                key.clone()
            }
            None => {
                if let Some(p) = book.pending.iter().find(|p| p.request == request) {
                    p.key.clone()
                } else {
                    let seed = format!("{request}{}{}", now.as_nanosecond(), std::process::id());
                    format!("rc-{}", &crate::sha256_hex(seed.as_bytes())[..20])
                }
            }
        };
        if !book.pending.iter().any(|p| p.key == key) {
            book.pending.push(PendingCreate {
                key: key.clone(),
                request,
                started_at: now,
            });
        }
        Ok((key, None))
    })
}

/// Records an incident handled outside the console (the demo's made-up history) as it stands,
/// without posting anything: audited (`status.incident.import`, the whole record and `why`) and
/// then saved. Refused when an incident with its id exists.
pub fn import(ws: &Workspace, incident: &Incident, why: &str) -> Result<Incident, StatusError> {
    modify(ws, |book| {
        if book.iter().any(|i| i.id == incident.id) {
            return Err(StatusError::Invalid(format!(
                "incident {} already exists: not imported",
                incident.id
            )));
        }
        let seq = ws.record_seq(Event::IncidentImport(Event::values(
            incident.id.clone(),
            serde_json::Value::Null,
            serde_json::json!({ "incident": incident, "why": why }),
        )))?;
        let incident = Incident {
            audit_seq: seq,
            ..incident.clone()
        };
        book.push(incident.clone());
        Ok(incident)
    })
}

/// The audit action of [`import`]: not announced (it is history, not news).
pub const IMPORT_ACTION: &str = Action::IncidentImport.as_str();

/// Finds an incident by its console id or its status page id.
pub fn find(ws: &Workspace, id: &str) -> Result<Incident, StatusError> {
    let all = load(ws)?;
    all.iter()
        .find(|i| i.id == id || i.page_incident_id == id)
        .cloned()
        .ok_or_else(|| {
            let open: Vec<&str> = all
                .iter()
                .filter(|i| i.is_open())
                .map(|i| i.id.as_str())
                .collect();
            StatusError::NotFound {
                what: format!(
                    "incident {id} (open: {})",
                    if open.is_empty() {
                        "none".to_owned()
                    } else {
                        open.join(", ")
                    }
                ),
            }
        })
}

/// Posts a status update (or the resolution, with how the incident turned out if said) and
/// records it on the timeline. Resolving sets the incident's components back to operational.
pub async fn update<P: StatusPage>(
    ws: &Workspace,
    page: &P,
    id: &str,
    (status, resolution): (IncidentStatus, Option<Resolution>),
    message: &str,
    component_status: Option<ComponentStatus>,
) -> Result<Incident, StatusError> {
    if message.trim().is_empty() {
        return Err(StatusError::Invalid(
            "--message must say what changed (it is published)".into(),
        ));
    }
    if let Some(r) = resolution
        && status != IncidentStatus::Resolved
    {
        return Err(StatusError::Invalid(format!(
            "--resolution {r} says how a resolved incident turned out: give it with --action \
             resolve, not with status {status}"
        )));
    }
    let before = find(ws, id)?;
    if !before.is_open() {
        return Err(StatusError::Invalid(format!(
            "{} is already resolved",
            before.id
        )));
    }
    let comps = page.components().await?;
    let ids = resolve_components(&comps, &before.components)?;
    let to = if status == IncidentStatus::Resolved {
        ComponentStatus::Operational
    } else {
        component_status.unwrap_or(before.severity.component_status_for(status))
    };
    let change = IncidentChange {
        status,
        body: message.trim().to_owned(),
        components: ids
            .iter()
            .map(|i| (i.clone(), to))
            .collect::<BTreeMap<_, _>>(),
        deliver_notifications: true,
    };
    let posted = page
        .update_incident(&before.page_incident_id, &change)
        .await?;
    let actor = ws.actor();
    let now = Timestamp::now();
    let after = modify(ws, |book| {
        let inc =
            book.iter_mut()
                .find(|i| i.id == before.id)
                .ok_or_else(|| StatusError::NotFound {
                    what: format!("incident {}", before.id),
                })?;
        inc.status = status;
        if status == IncidentStatus::Resolved {
            inc.resolved_at = Some(now);
            inc.resolution = resolution;
        }
        inc.timeline.push(TimelineEntry {
            at: now,
            what: if status == IncidentStatus::Resolved {
                "resolved".into()
            } else {
                "updated".into()
            },
            status: Some(status),
            message: change.body.clone(),
            actor,
        });
        // Audited before the book is saved: a refused append leaves the record as it was. The
        // entry carries the whole record after the change, so a crash before the save is
        // rolled forward from it (see `IncidentBook`).
        let changed = event::IncidentChange {
            target: inc.id.clone(),
            before: serde_json::json!({"status": before.status, "components": before.components}),
            after: IncidentChanged::deserialize(&serde_json::json!({
                "status": inc.status,
                "published": &change,
                "page_status": posted.status,
                "incident": &*inc,
            }))
            .map_err(|e| StatusError::Invalid(format!("incident {}: {e}", inc.id)))?,
        };
        inc.audit_seq = ws.record_seq(if status == IncidentStatus::Resolved {
            Event::IncidentResolve(changed)
        } else {
            Event::IncidentUpdate(changed)
        })?;
        Ok(inc.clone())
    })?;
    Ok(after)
}

/// Schedules maintenance on the page (component names resolved to ids) and audits it.
pub async fn schedule_maintenance<P: StatusPage>(
    ws: &Workspace,
    page: &P,
    asked: &super::Maintenance,
) -> Result<PageIncident, StatusError> {
    let super::Maintenance {
        name,
        message,
        from,
        until,
        components,
    } = asked;
    let (from, until) = (*from, *until);
    if name.trim().is_empty() || message.trim().is_empty() {
        return Err(StatusError::Invalid(
            "maintenance needs a --name and a --message".into(),
        ));
    }
    if until <= from {
        return Err(StatusError::Invalid(format!(
            "maintenance must end after it starts ({from} .. {until})"
        )));
    }
    let comps = page.components().await?;
    let ids = resolve_components(&comps, components)?;
    let m = NewMaintenance {
        name: name.trim().to_owned(),
        body: message.trim().to_owned(),
        scheduled_for: from,
        scheduled_until: until,
        components: ids,
    };
    let posted = page.schedule_maintenance(&m).await?;
    ws.record(Event::MaintenanceSchedule(Event::values(
        posted.id.clone(),
        serde_json::Value::Null,
        serde_json::json!({"maintenance": &m, "page_incident": &posted}),
    )))?;
    Ok(posted)
}

/// Moves scheduled maintenance on (in progress, verifying, completed) and audits it.
pub async fn update_maintenance<P: StatusPage>(
    ws: &Workspace,
    page: &P,
    id: &str,
    status: super::MaintenanceStatus,
    message: &str,
) -> Result<PageIncident, StatusError> {
    if message.trim().is_empty() {
        return Err(StatusError::Invalid(
            "--message must say what users see (it is published)".into(),
        ));
    }
    let step = super::Step {
        status,
        body: message.trim(),
    };
    let posted = page.update_maintenance(id, step).await?;
    ws.record(Event::MaintenanceUpdate(Event::values(
        id,
        serde_json::Value::Null,
        serde_json::json!({"status": status, "message": message.trim(), "page_status": posted.status}),
    )))?;
    Ok(posted)
}

/// Where an incident's exported postmortem goes in the workspace.
pub fn postmortem_path(ws: &Workspace, id: &str) -> std::path::PathBuf {
    ws.root()
        .join("status/postmortems")
        .join(format!("{id}.md"))
}

/// Writes incident `id`'s postmortem Markdown to [`postmortem_path`], atomically, and audits
/// the export.
pub fn export_postmortem(ws: &Workspace, id: &str) -> Result<std::path::PathBuf, StatusError> {
    let inc = find(ws, id)?;
    let path = postmortem_path(ws, &inc.id);
    write_postmortem(ws, &inc, &path)?;
    Ok(path)
}

/// Writes `incident`'s postmortem Markdown to `path`, atomically, and audits the export.
pub fn write_postmortem(
    ws: &Workspace,
    incident: &Incident,
    path: &std::path::Path,
) -> Result<(), StatusError> {
    let md = postmortem_markdown(ws, incident);
    ws.change(
        Event::PostmortemExport(Event::values(
            incident.id.clone(),
            serde_json::Value::Null,
            serde_json::json!({ "path": path }),
        )),
        |_| store::write_atomic_named(path, md.as_bytes()),
    )?;
    Ok(())
}

/// The postmortem Markdown from the template (the workspace's `runbooks/incident_template.md`
/// when present), pre-filled with the incident's facts and timeline.
pub fn postmortem_markdown(ws: &Workspace, incident: &Incident) -> String {
    let template = std::fs::read_to_string(ws.root().join("runbooks/incident_template.md"))
        .unwrap_or_else(|_| TEMPLATE.to_owned());
    let fmt = |t: Timestamp| crate::local_time(t, true);
    let timeline = incident
        .timeline
        .iter()
        .map(|e| {
            format!(
                "- {} **{}**{}{} ({})",
                fmt(e.at),
                e.what,
                e.status.map(|s| format!(" [{s}]")).unwrap_or_default(),
                if e.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", e.message)
                },
                e.actor
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let response = match incident.response_time() {
        Some(d) => format!(
            "{} after detection{}",
            human_duration(d),
            if d > incident.severity.response_target() {
                " (target missed)"
            } else {
                ""
            }
        ),
        None => "none".into(),
    };
    let now = Timestamp::now();
    [
        ("{{id}}", incident.id.clone()),
        ("{{name}}", incident.name.clone()),
        ("{{severity}}", incident.severity.to_string()),
        (
            "{{response_target}}",
            human_duration(incident.severity.response_target()),
        ),
        ("{{escalation}}", incident.severity.escalation().to_owned()),
        ("{{components}}", incident.components.join(", ")),
        ("{{detected}}", fmt(incident.detected_at)),
        ("{{response}}", response),
        (
            "{{resolved}}",
            incident
                .resolved_at
                .map_or_else(|| "not yet".to_owned(), fmt),
        ),
        ("{{duration}}", human_duration(incident.open_for(now))),
        (
            "{{page_incident}}",
            format!(
                "{} ({}){}",
                incident.page_incident_id,
                incident.provider,
                incident
                    .shortlink
                    .as_deref()
                    .map(|l| format!(" {l}"))
                    .unwrap_or_default()
            ),
        ),
        (
            "{{postmortem_due}}",
            incident
                .postmortem_due()
                .map_or_else(|| "48 h after resolution".to_owned(), fmt),
        ),
        ("{{timeline}}", timeline),
    ]
    .into_iter()
    .fold(template, |text, (key, value)| text.replace(key, &value))
}

/// The incident records as the audit log speaks for them (`status/incidents.json`): each
/// create, update and resolve entry carries the whole record after the change in
/// `after.incident`, and each record keeps the entry of its last change (`audit_seq`). A record
/// the log holds newer than the file (a crash between the append and the save, which are both
/// made under the book's lock) is rolled forward from it: the page was already changed, so the
/// change did happen. `audit verify` compares each record with its last entry. Records with no
/// entry number (written before it was kept) are not compared unless an entry written since
/// changed them, and entries written before the record they carry kept one (an old create's,
/// whose record later updates changed without carrying it) are not replayed.
#[derive(Debug)]
pub struct IncidentBook;

/// Whether an entry's `after` carries a record to replay: one with its `audit_seq` field.
fn carries_record(after: &serde_json::Value) -> bool {
    after
        .get("incident")
        .is_some_and(|i| i.get("audit_seq").is_some())
}

/// The record an entry carries, with the entry's number.
fn carried(w: &Word) -> Result<Incident, String> {
    let value = w.after.get("incident").cloned().unwrap_or_default();
    serde_json::from_value::<Incident>(value)
        .map(|i| Incident {
            audit_seq: w.seq,
            ..i
        })
        .map_err(|e| format!("its incident record cannot be read: {e}"))
}

impl Projection for IncidentBook {
    fn follows(&self, action: Action) -> bool {
        matches!(
            action,
            Action::IncidentCreate
                | Action::IncidentUpdate
                | Action::IncidentResolve
                | Action::IncidentImport
        )
    }

    fn carries(&self, after: &serde_json::Value) -> bool {
        carries_record(after)
    }

    fn marker(&self) -> &'static str {
        r#""action":"status.incident."#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        // The lock `store::update_json` takes for the book: every change is made under it.
        (ws.root().join("status"), "incidents")
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), store::StateError> {
        crate::workspace::roll_records(self, ws, last)
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, store::StateError> {
        crate::workspace::records_disagreement(self, ws, last)
    }
}

impl crate::workspace::Records for IncidentBook {
    type Book = Book;
    type Record = Incident;
    // Saved before records kept their entry, and no entry since carries it.
    const UNNUMBERED_UNJUDGED: bool = true;

    fn path(&self, ws: &Workspace) -> PathBuf {
        book_path(ws)
    }

    fn records<'b>(&self, book: &'b Book) -> Vec<(String, &'b Incident)> {
        book.incidents.iter().map(|i| (i.id.clone(), i)).collect()
    }

    fn seq(&self, record: &Incident) -> u64 {
        record.audit_seq
    }

    fn put(&self, book: &mut Book, id: &str, record: Incident) {
        if let Some(key) = &record.idempotency_key {
            book.pending.retain(|p| p.key != *key);
        }
        match book.incidents.iter().position(|i| i.id == id) {
            Some(n) => book.incidents[n] = record,
            None => book.incidents.push(record),
        }
    }

    fn carried(&self, w: &Word, _id: &str) -> Result<Incident, String> {
        carried(w)
    }

    fn refusal(&self, _ws: &Workspace, id: &str, _w: &Word, record: &Incident) -> Option<String> {
        (record.id != id).then(|| "its incident record is another incident".to_owned())
    }

    fn subject(&self, id: &str) -> String {
        format!("incident {id}")
    }

    fn holds(&self, record: &Incident) -> String {
        format!("is {}", record.status.as_str())
    }

    fn unlike(&self, id: &str, w: &Word, logged: &Incident, mine: &Incident) -> String {
        format!(
            "incident {id} is not the record entry #{} ({}) saved: {}",
            w.seq,
            w.action,
            first_difference(logged, mine)
        )
    }

    fn unread(&self, id: &str) -> String {
        format!("incident {id}'s last change")
    }

    fn missing(&self, id: &str, w: &Word) -> String {
        format!(
            "it has no incident {id}, but entry #{} ({}) recorded it",
            w.seq, w.action
        )
    }
}

/// The first field in which the record the log saved and the file's differ, as
/// `field: log value, file value`.
fn first_difference(logged: &Incident, file: &Incident) -> String {
    let (a, b) = (
        serde_json::to_value(logged).unwrap_or_default(),
        serde_json::to_value(file).unwrap_or_default(),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return "the records differ".to_owned();
    };
    a.iter()
        .find(|(k, v)| b.get(*k) != Some(*v))
        .or_else(|| b.iter().find(|(k, _)| !a.contains_key(*k)))
        .map_or_else(
            || "the records differ".to_owned(),
            |(k, _)| {
                let show = |v: Option<&serde_json::Value>| {
                    v.map_or_else(
                        || "missing".to_owned(),
                        |v| {
                            let t = v.to_string();
                            if t.chars().count() > 60 {
                                format!("{}...", t.chars().take(60).collect::<String>())
                            } else {
                                t
                            }
                        },
                    )
                };
                format!(
                    "{k} is {} in the log, {} in the file",
                    show(a.get(k)),
                    show(b.get(k))
                )
            },
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_title_from_a_message_is_its_first_sentence_cut_at_a_word() {
        use super::default_title;
        assert_eq!(
            default_title("Exports fail for some users. Next update within 30 minutes."),
            "Exports fail for some users"
        );
        let long = "We are investigating elevated error rates on the export service affecting \
                    PDF and SVG exports for users in all regions; next update within 30 minutes";
        let title = default_title(long);
        assert_eq!(
            title,
            "We are investigating elevated error rates on the export service affecting PDF…"
        );
        assert!(title.chars().count() <= super::MAX_DEFAULT_TITLE_CHARS);
        assert!(long.starts_with(title.trim_end_matches('…')));
        // One long word: cut, with the ellipsis.
        let word = "x".repeat(200);
        assert_eq!(default_title(&word).chars().count(), 80);
        assert!(default_title(&word).ends_with('…'));
        assert_eq!(
            default_title("\n\n  Degraded exports\nmore"),
            "Degraded exports"
        );
        assert_eq!(default_title(""), "");
    }

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn incident(severity: Severity, detected: &str, created: &str) -> Incident {
        Incident {
            id: "INC-2026-11-28-001".into(),
            name: "Sync delays".into(),
            severity,
            components: vec!["collaboration".into()],
            status: IncidentStatus::Investigating,
            provider: "local".into(),
            page_incident_id: "p1".into(),
            shortlink: None,
            detected_at: ts(detected),
            created_at: ts(created),
            first_response_at: Some(ts(created)),
            resolved_at: None,
            resolution: None,
            timeline: Vec::new(),
            idempotency_key: None,
            audit_seq: 0,
        }
    }

    #[test]
    fn ids_count_per_day() {
        let at = ts("2026-11-28T10:00:00Z");
        assert_eq!(next_id(&[], at), "INC-2026-11-28-001");
        let mut a = incident(Severity::P1, "2026-11-28T10:00:00Z", "2026-11-28T10:01:00Z");
        a.id = "INC-2026-11-28-007".into();
        let mut b = a.clone();
        b.id = "INC-2026-11-27-099".into();
        assert_eq!(next_id(&[a, b], at), "INC-2026-11-28-008");
    }

    #[test]
    fn response_targets_per_severity() {
        let quick = incident(Severity::P0, "2026-11-28T10:00:00Z", "2026-11-28T10:04:00Z");
        assert!(!quick.response_breached(ts("2026-11-28T12:00:00Z")));
        let slow = incident(Severity::P0, "2026-11-28T10:00:00Z", "2026-11-28T10:06:00Z");
        assert!(slow.response_breached(ts("2026-11-28T12:00:00Z")));
        let p2 = incident(Severity::P2, "2026-11-28T10:00:00Z", "2026-11-28T10:50:00Z");
        assert!(!p2.response_breached(ts("2026-11-28T12:00:00Z")));
        let mut waiting = p2.clone();
        waiting.first_response_at = None;
        assert!(waiting.response_breached(ts("2026-11-28T11:01:00Z")));
        assert_eq!(human_duration(Duration::from_mins(65)), "1 h 05 min");
    }
}
