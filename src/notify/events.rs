//! What is announced: events read from the audit log, the durable record every action writes
//! as it happens. An action and its announcement cannot part: a process killed after the
//! action but before any send leaves the entry, and the next collect finds it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::event::{TaskFinished, VerifyVerdict};
use crate::audit::{self, AuditEntry};
use crate::runner::TaskState;
use crate::workspace::Workspace;

/// Every event name, for globs in `[[notify.slack]] events` and `changes`.
pub const NAMES: &[&str] = &[
    "release.created",
    "build.finished",
    "build.failed",
    "verify.passed",
    "verify.failed",
    "release.published",
    "release.yanked",
    "backend.deployed",
    "backend.failed",
    "backend.rolled_back",
    "flag.stage_changed",
    "flag.rolled_back",
    "incident.created",
    "incident.updated",
    "incident.resolved",
    "finding.accepted",
];

/// One fact line of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// A link a message carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub text: String,
    pub href: String,
}

/// Something to announce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The idempotency key: `ev-{seq}-{8 hex of the entry's chain link}`, unique in this
    /// workspace's log and the same every time the entry is read.
    pub key: String,
    /// `incident.created`, one of [`NAMES`].
    pub name: String,
    pub at: Timestamp,
    pub actor: String,
    /// What it is about: a version, an incident id, a flag key.
    pub subject: String,
    /// One line a person reads first.
    pub title: String,
    pub facts: Vec<Fact>,
    pub links: Vec<Link>,
    /// `P0`..`P3` for incidents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// The audit entry it was read from.
    pub audit_seq: u64,
    /// The audited action, so a later `{action}.failed` can withdraw an intent.
    pub action: String,
    /// Set when the entry is an intent whose work may still fail (a flag change): the event
    /// waits until the flag's plan shows the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirm>,
}

/// What must be seen before an intent's event goes out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirm {
    pub flag: String,
    pub what: String,
    pub percent: u32,
}

impl Event {
    pub fn fact(&self, label: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.as_str())
    }
}

fn fact(label: &str, value: impl Into<String>) -> Fact {
    Fact {
        label: label.to_owned(),
        value: value.into(),
    }
}

fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Whether `name` matches `glob` (`*` matches any run of characters).
pub fn glob_match(glob: &str, name: &str) -> bool {
    match glob.split_once('*') {
        None => glob == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            if tail.is_empty() {
                return true;
            }
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| glob_match(tail, &rest[i..]))
        }
    }
}

/// The event `entry` announces, if any.
pub fn of_entry(ws: &Workspace, entry: &AuditEntry) -> Option<Event> {
    of_event(ws, entry, audit::Event::from_entry(entry))
}

/// The event `entry`, which records `event`, announces, if any.
pub fn of_event(ws: &Workspace, entry: &AuditEntry, event: audit::Event) -> Option<Event> {
    let product = &ws.config().product.name;
    let mut ev = Event {
        key: format!(
            "ev-{}-{}",
            entry.seq,
            entry.prev.get(..8).unwrap_or(&entry.prev)
        ),
        name: String::new(),
        at: entry.time,
        actor: entry.actor.clone(),
        subject: entry.target.clone(),
        title: String::new(),
        facts: Vec::new(),
        links: Vec::new(),
        severity: None,
        audit_seq: entry.seq,
        action: entry.action.clone(),
        confirm: None,
    };
    match event {
        audit::Event::ReleaseCreate(e) => release_created(&mut ev, &e, product),
        audit::Event::TaskFinish(e) => task_finished(&mut ev, &e.after, &e.target, product)?,
        audit::Event::VerifyReport(e) => verify_reported(&mut ev, &e.after, product)?,
        audit::Event::Publish(e) => published(&mut ev, &e, product),
        audit::Event::Yank(e) => yanked(&mut ev, &e, product),
        audit::Event::FlagsAdvance(e) => flag_changed(&mut ev, &e, FlagMove::Advance)?,
        audit::Event::FlagsRollout(e) => flag_changed(&mut ev, &e, FlagMove::Rollout)?,
        audit::Event::FlagsRollback(e) => flag_changed(&mut ev, &e, FlagMove::Rollback)?,
        audit::Event::IncidentCreate(e) => incident_created(&mut ev, &e.after)?,
        audit::Event::IncidentUpdate(e) => incident_changed(&mut ev, &e, false, ws),
        audit::Event::IncidentResolve(e) => incident_changed(&mut ev, &e, true, ws),
        audit::Event::FindingsAccept(e) => finding_accepted(&mut ev, &e, product),
        _ => return None,
    }
    Some(ev)
}

/// A release was created (a hotfix names the release it fixes).
fn release_created(ev: &mut Event, e: &audit::event::ReleaseCreate, product: &str) {
    ev.name = "release.created".into();
    let hotfix = e
        .after
        .of
        .as_deref()
        .filter(|_| e.after.kind.as_deref() == Some("hotfix"));
    ev.title = match hotfix {
        Some(of) => format!("{product} {} created (hotfix of {of})", e.target),
        None => format!("{product} {} created", e.target),
    };
    ev.facts = vec![
        fact("Release", e.target.clone()),
        fact("By", ev.actor.clone()),
    ];
}

/// A build, backend rollout or rollback ended; other tasks are not announced.
fn task_finished(ev: &mut Event, after: &TaskFinished, task: &str, product: &str) -> Option<()> {
    let kind = after.kind.as_str();
    let release = after.release.clone().unwrap_or_default();
    // A timeout ends a task as failed ("timed out after N s" is its message).
    let ok = after.state == TaskState::Succeeded;
    let failed = after.state == TaskState::Failed;
    let is_build = kind.starts_with("pipeline.") && kind != "pipeline.dry-run";
    let (name, title) = if is_build && ok {
        (
            "build.finished",
            format!("{product} {release}: {} build finished", platform_of(kind)),
        )
    } else if is_build && failed {
        (
            "build.failed",
            format!("{product} {release}: {} build failed", platform_of(kind)),
        )
    } else if kind == "deploy.backend" && ok {
        (
            "backend.deployed",
            format!("{product} {release}: backend rolled out"),
        )
    } else if kind == "deploy.backend" && failed {
        (
            "backend.failed",
            format!("{product} {release}: backend rollout failed"),
        )
    } else if kind == "deploy.rollback" && ok {
        (
            "backend.rolled_back",
            format!("{product} {release}: backend rolled back"),
        )
    } else {
        return None;
    };
    ev.name = name.into();
    ev.title = title;
    ev.subject.clone_from(&release);
    ev.facts = vec![fact("Release", release), fact("Task", task)];
    if !after.message.is_empty() {
        ev.facts.push(fact("Result", after.message.clone()));
    }
    Some(())
}

/// A release's own verification passed or failed (a folder checked by hand is not announced).
fn verify_reported(ev: &mut Event, after: &VerifyVerdict, product: &str) -> Option<()> {
    if !after.of_release {
        return None;
    }
    let release = after.release.clone().unwrap_or_default();
    let overall = after.overall.clone();
    let pass = overall == "valid" || overall == "pass";
    ev.name = if pass {
        "verify.passed"
    } else {
        "verify.failed"
    }
    .into();
    ev.subject.clone_from(&release);
    let n = after.artifacts.len();
    ev.title = format!(
        "{product} {release}: verification {} ({n} artifacts, {overall})",
        if pass { "PASSED" } else { "FAILED" }
    );
    ev.facts = vec![
        fact("Release", release),
        fact("Verdict", overall),
        fact("Artifacts", n.to_string()),
        fact("By", ev.actor.clone()),
    ];
    Some(())
}

/// A version went out on a channel, with its download links.
fn published(ev: &mut Event, e: &audit::event::PublishChange, product: &str) {
    ev.name = "release.published".into();
    let channel = e.after.channel.clone();
    ev.title = format!("{product} {} published to {channel}", e.target);
    ev.facts = vec![
        fact("Release", e.target.clone()),
        fact("Channel", channel),
        fact("By", ev.actor.clone()),
    ];
    for (name, url) in e.after.links() {
        if url.starts_with("http") {
            ev.links.push(Link {
                text: name.to_owned(),
                href: url.to_owned(),
            });
        }
    }
}

/// A version was yanked, and what is live instead.
fn yanked(ev: &mut Event, e: &audit::event::YankChange, product: &str) {
    let live = match e.after.live.as_deref() {
        None | Some("") => "nothing".to_owned(),
        Some(l) => l.to_owned(),
    };
    ev.title = format!("{product} {} YANKED", e.target);
    ev.name = "release.yanked".into();
    ev.facts = vec![
        fact("Release", e.target.clone()),
        fact("Reason", e.after.reason.clone()),
        fact("Live now", live),
        fact("By", ev.actor.clone()),
    ];
}

/// How a flag moved.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagMove {
    Advance,
    Rollout,
    Rollback,
}

/// A flag moved to another stage (or was rolled back); a staged change waits to be confirmed.
fn flag_changed(ev: &mut Event, e: &audit::event::FlagChange, how: FlagMove) -> Option<()> {
    let after = &e.after;
    let percent = after.rollout_percent()?;
    let what = match how {
        FlagMove::Advance => "advance",
        FlagMove::Rollout => "rollout",
        FlagMove::Rollback => "rollback",
    };
    ev.name = if how == FlagMove::Rollback {
        "flag.rolled_back"
    } else {
        "flag.stage_changed"
    }
    .into();
    ev.title = if how == FlagMove::Rollback {
        format!("Flag {} rolled back to 0%", e.target)
    } else {
        format!("Flag {} now at {percent}%", e.target)
    };
    let before = e
        .before
        .get("rollout_percent")
        .and_then(Value::as_u64)
        .map_or_else(String::new, |p| format!("{p}%"));
    ev.facts = vec![fact("Flag", e.target.clone())];
    if !before.is_empty() {
        ev.facts.push(fact("Was", before));
    }
    ev.facts.push(fact("Now", format!("{percent}%")));
    if let Some(reason) = after.override_reason().filter(|r| !r.is_empty()) {
        ev.facts.push(fact("Override", reason));
    }
    ev.facts.push(fact("By", ev.actor.clone()));
    // Direct rollouts outside a plan (`flags set`) are not plan changes: no wait.
    if after.staged() {
        ev.confirm = Some(Confirm {
            flag: e.target.clone(),
            what: what.to_owned(),
            percent,
        });
    }
    Some(())
}

/// An incident was opened.
fn incident_created(ev: &mut Event, after: &audit::event::IncidentCreated) -> Option<()> {
    let inc = &after.incident;
    if inc.is_null() {
        return None;
    }
    ev.name = "incident.created".into();
    incident_facts(ev, inc, &s(inc, "status"));
    ev.title = format!(
        "{} incident: {}",
        ev.severity.clone().unwrap_or_default(),
        s(inc, "name")
    );
    Some(())
}

/// An incident was updated or resolved, with what was published.
fn incident_changed(
    ev: &mut Event,
    e: &audit::event::IncidentChange,
    resolved: bool,
    ws: &Workspace,
) {
    ev.name = if resolved {
        "incident.resolved"
    } else {
        "incident.updated"
    }
    .into();
    let status = e.after.status.clone();
    let inc = crate::status::incident::find(ws, &e.target)
        .ok()
        .and_then(|i| serde_json::to_value(i).ok())
        .unwrap_or(Value::Null);
    incident_facts(ev, &inc, &status);
    if let Some(message) = e.after.body().filter(|m| !m.is_empty()) {
        ev.facts.push(fact("Update", message));
    }
    ev.title = format!(
        "{} incident {}: {}",
        ev.severity.clone().unwrap_or_default(),
        if resolved {
            "resolved"
        } else {
            status.as_str()
        },
        s(&inc, "name")
    );
}

/// A scanner finding was accepted, with why and until when.
fn finding_accepted(ev: &mut Event, e: &audit::event::FindingsAccept, product: &str) {
    ev.name = "finding.accepted".into();
    let (release, id) = (&e.target.first, &e.target.second);
    release.clone_into(&mut ev.subject);
    ev.title = format!("{product} {release}: finding {id} accepted");
    ev.facts = vec![
        fact("Finding", id.clone()),
        fact("Reason", e.after.reason.clone()),
        fact("Until", e.after.until.to_string()),
        fact("By", ev.actor.clone()),
    ];
}

fn platform_of(kind: &str) -> &str {
    kind.strip_prefix("pipeline.").unwrap_or(kind)
}

fn incident_facts(ev: &mut Event, inc: &Value, status: &str) {
    let severity = s(inc, "severity");
    ev.severity = (!severity.is_empty()).then(|| severity.clone());
    ev.facts = vec![
        fact("Incident", ev.subject.clone()),
        fact("Severity", severity),
        fact("Status", status.to_owned()),
    ];
    if let Some(c) = inc.get("components").and_then(Value::as_array) {
        let names: Vec<&str> = c.iter().filter_map(Value::as_str).collect();
        if !names.is_empty() {
            ev.facts.push(fact("Components", names.join(", ")));
        }
    }
    ev.facts.push(fact("By", ev.actor.clone()));
    let link = s(inc, "shortlink");
    if link.starts_with("http") {
        ev.links.push(Link {
            text: "Status page".into(),
            href: link,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("incident.*", "incident.created"));
        assert!(glob_match("*", "release.yanked"));
        assert!(glob_match("*.failed", "build.failed"));
        assert!(glob_match("release.published", "release.published"));
        assert!(!glob_match("incident.*", "release.created"));
        assert!(!glob_match("release.pub", "release.published"));
        assert!(!glob_match("*.failed", "build.finished"));
    }
}
