//! What is announced: events read from the audit log, the durable record every action writes
//! as it happens. An action and its announcement cannot part: a process killed after the
//! action but before any send leaves the entry, and the next collect finds it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::AuditEntry;
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

/// Who made the change the entry records.
fn by(entry: &AuditEntry) -> Fact {
    fact("By", entry.actor.clone())
}

/// The event `entry` announces, if any.
pub fn of_entry(ws: &Workspace, entry: &AuditEntry) -> Option<Event> {
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
    match entry.action.as_str() {
        "release.create" => release_created(&mut ev, entry, product),
        "task.finish" => task_finished(&mut ev, entry, product)?,
        "verify.report" => verify_reported(&mut ev, entry, product)?,
        "publish" => published(&mut ev, entry, product),
        "publish.yank" => yanked(&mut ev, entry, product),
        "flags.advance" | "flags.rollout" | "flags.rollback" => flag_changed(&mut ev, entry)?,
        "status.incident.create" => incident_created(&mut ev, entry)?,
        "status.incident.update" | "status.incident.resolve" => {
            incident_changed(&mut ev, entry, ws);
        }
        "findings.accept" => finding_accepted(&mut ev, entry, product),
        _ => return None,
    }
    Some(ev)
}

/// A release was created (a hotfix names the release it fixes).
fn release_created(ev: &mut Event, entry: &AuditEntry, product: &str) {
    let after = &entry.after;
    ev.name = "release.created".into();
    let hotfix = after.get("hotfix_of").and_then(Value::as_str);
    ev.title = match hotfix {
        Some(of) => format!("{product} {} created (hotfix of {of})", entry.target),
        None => format!("{product} {} created", entry.target),
    };
    ev.facts = vec![fact("Release", entry.target.clone()), by(entry)];
}

/// A build, backend rollout or rollback ended; other tasks are not announced.
fn task_finished(ev: &mut Event, entry: &AuditEntry, product: &str) -> Option<()> {
    let after = &entry.after;
    let kind = s(after, "kind");
    let state = s(after, "state");
    let release = s(after, "release");
    let message = s(after, "message");
    // A timeout ends a task as failed ("timed out after N s" is its message).
    let ok = state == TaskState::Succeeded.as_str();
    let failed = state == TaskState::Failed.as_str();
    let is_build = kind.starts_with("pipeline.") && kind != "pipeline.dry-run";
    let (name, title) = if is_build && ok {
        (
            "build.finished",
            format!("{product} {release}: {} build finished", platform_of(&kind)),
        )
    } else if is_build && failed {
        (
            "build.failed",
            format!("{product} {release}: {} build failed", platform_of(&kind)),
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
    ev.facts = vec![fact("Release", release), fact("Task", entry.target.clone())];
    if !message.is_empty() {
        ev.facts.push(fact("Result", message));
    }
    Some(())
}

/// A release's own verification passed or failed (a folder checked by hand is not announced).
fn verify_reported(ev: &mut Event, entry: &AuditEntry, product: &str) -> Option<()> {
    let after = &entry.after;
    if after.get("of_release") != Some(&Value::Bool(true)) {
        return None;
    }
    let release = s(after, "release");
    let overall = s(after, "overall");
    let pass = overall == "valid" || overall == "pass";
    ev.name = if pass {
        "verify.passed"
    } else {
        "verify.failed"
    }
    .into();
    ev.subject.clone_from(&release);
    let n = after
        .get("artifacts")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    ev.title = format!(
        "{product} {release}: verification {} ({n} artifacts, {overall})",
        if pass { "PASSED" } else { "FAILED" }
    );
    ev.facts = vec![
        fact("Release", release),
        fact("Verdict", overall),
        fact("Artifacts", n.to_string()),
        by(entry),
    ];
    Some(())
}

/// A version went out on a channel, with its download links.
fn published(ev: &mut Event, entry: &AuditEntry, product: &str) {
    let after = &entry.after;
    ev.name = "release.published".into();
    let channel = s(after, "channel");
    ev.title = format!("{product} {} published to {channel}", entry.target);
    ev.facts = vec![
        fact("Release", entry.target.clone()),
        fact("Channel", channel),
        by(entry),
    ];
    if let Some(files) = after.get("files").and_then(Value::as_array) {
        for f in files {
            let url = s(f, "url");
            if url.starts_with("http") {
                ev.links.push(Link {
                    text: s(f, "name"),
                    href: url,
                });
            }
        }
    }
}

/// A version was yanked, and what is live instead.
fn yanked(ev: &mut Event, entry: &AuditEntry, product: &str) {
    let live = match s(&entry.after, "live") {
        l if l.is_empty() => "nothing".to_owned(),
        l => l,
    };
    ev.title = format!("{product} {} YANKED", entry.target);
    ev.name = "release.yanked".into();
    ev.facts = vec![
        fact("Release", entry.target.clone()),
        fact("Reason", s(&entry.after, "reason")),
        fact("Live now", live),
        by(entry),
    ];
}

/// A flag moved to another stage (or was rolled back); a staged change waits to be confirmed.
fn flag_changed(ev: &mut Event, entry: &AuditEntry) -> Option<()> {
    let after = &entry.after;
    let percent = after
        .get("rollout_percent")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())?;
    let what = entry.action.trim_start_matches("flags.").to_owned();
    ev.name = if what == "rollback" {
        "flag.rolled_back"
    } else {
        "flag.stage_changed"
    }
    .into();
    ev.title = if what == "rollback" {
        format!("Flag {} rolled back to 0%", entry.target)
    } else {
        format!("Flag {} now at {percent}%", entry.target)
    };
    let before = entry
        .before
        .get("rollout_percent")
        .and_then(Value::as_u64)
        .map_or_else(String::new, |p| format!("{p}%"));
    ev.facts = vec![fact("Flag", entry.target.clone())];
    if !before.is_empty() {
        ev.facts.push(fact("Was", before));
    }
    ev.facts.push(fact("Now", format!("{percent}%")));
    let reason = s(after, "override_reason");
    if !reason.is_empty() {
        ev.facts.push(fact("Override", reason));
    }
    ev.facts.push(by(entry));
    // Direct rollouts outside a plan (`flags set`) are not plan changes: no wait.
    if after.get("staged") != Some(&Value::Bool(false)) {
        ev.confirm = Some(Confirm {
            flag: entry.target.clone(),
            what,
            percent,
        });
    }
    Some(())
}

/// An incident was opened.
fn incident_created(ev: &mut Event, entry: &AuditEntry) -> Option<()> {
    let after = &entry.after;
    let inc = after.get("incident")?;
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
fn incident_changed(ev: &mut Event, entry: &AuditEntry, ws: &Workspace) {
    let after = &entry.after;
    let resolved = entry.action.ends_with("resolve");
    ev.name = if resolved {
        "incident.resolved"
    } else {
        "incident.updated"
    }
    .into();
    let status = s(after, "status");
    let inc = crate::status::incident::find(ws, &entry.target)
        .ok()
        .and_then(|i| serde_json::to_value(i).ok())
        .unwrap_or(Value::Null);
    incident_facts(ev, &inc, &status);
    let message = after
        .get("published")
        .map(|p| s(p, "body"))
        .unwrap_or_default();
    if !message.is_empty() {
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
fn finding_accepted(ev: &mut Event, entry: &AuditEntry, product: &str) {
    let after = &entry.after;
    ev.name = "finding.accepted".into();
    let (release, id) = entry
        .target
        .split_once('/')
        .unwrap_or(("", entry.target.as_str()));
    release.clone_into(&mut ev.subject);
    ev.title = format!("{product} {release}: finding {id} accepted");
    ev.facts = vec![
        fact("Finding", id),
        fact("Reason", s(after, "reason")),
        fact("Until", s(after, "until")),
        by(entry),
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
