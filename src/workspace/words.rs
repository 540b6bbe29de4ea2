//! What an audit entry did, in the words a person uses: `ticked "Validate staging" (0.1.0)`,
//! `verified the audit log`, `posted to the status page (failed)`, never the log's plumbing
//! (`checklist tick 0.1.0/pre.validate-staging`, `task finish audit-verify`). The Overview's
//! Team list and the toasts that name others' changes say the same words as a console's own
//! toasts.

use crate::audit::AuditEntry;

use super::Workspace;

impl Workspace {
    /// What `entry` did, in words (lower case, without who did it).
    pub fn in_words(&self, entry: &AuditEntry) -> String {
        let target = entry.target.as_str();
        let str_of = |v: &serde_json::Value, key: &str| {
            v.get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        match entry.action.as_str() {
            "checklist.tick" | "checklist.untick" => {
                let verb = if entry.action == "checklist.tick" {
                    "ticked"
                } else {
                    "unticked"
                };
                match target.split_once('/') {
                    Some((version, item)) => {
                        format!("{verb} \"{}\" ({version})", self.item_title(version, item))
                    }
                    None => format!("{verb} {target}"),
                }
            }
            "task.start" => {
                let (doing, _) = task_words(target, &entry.after);
                format!("started {doing}")
            }
            "task.finish" => {
                let (_, done) = task_words(target, &entry.after);
                match str_of(&entry.after, "state").as_deref() {
                    Some("succeeded") | None => done,
                    Some(state) => format!("{done} ({state})"),
                }
            }
            "lease.takeover" | "lease.force" => {
                let holder = str_of(&entry.before, "holder").unwrap_or_else(|| "someone".into());
                if entry.action == "lease.force" {
                    format!("took {holder}'s lease on {target} by force")
                } else {
                    format!(
                        "took over {holder}'s lease on {target}{}",
                        expired_at(&entry.before)
                    )
                }
            }
            "release.create" => format!("created release {target}"),
            "verify.report" => {
                let overall = str_of(&entry.after, "overall").unwrap_or_default();
                // Entries written before named the verifier's path: its file's name only.
                let what = match str_of(&entry.after, "release") {
                    Some(v) => format!("release {v}'s files"),
                    None => std::path::Path::new(target)
                        .file_name()
                        .map_or_else(|| target.to_owned(), |n| n.to_string_lossy().into_owned()),
                };
                format!("verified {what} ({overall})")
            }
            "publish.begin" => format!("began publishing {target}"),
            "publish" => format!("published {target}"),
            "publish.yank.begin" => format!("began yanking {target}"),
            "publish.yank" => format!("yanked {target}"),
            "deploy.backend" => format!("rolled out the backend ({target})"),
            "deploy.rollback" => format!("rolled back the backend ({target})"),
            "people.key.add" => format!("registered a key for {target}"),
            "people.key.revoke" => format!("revoked {target}'s key"),
            "findings.import" => format!("imported scanner findings for {target}"),
            "findings.accept" => format!("accepted a risk ({target})"),
            "findings.revoke" => format!("withdrew an accepted risk ({target})"),
            "release.platform.skip" => format!("marked {target} as not shipped this time"),
            "release.platform.ship" => format!("withdrew the skip of {target}"),
            "release.artifacts" => format!("stored release {target}'s files in the bucket"),
            "release.notes" => format!("wrote release {target}'s notes"),
            "source.tag" => format!("tagged release {target}"),
            "source.branch" => format!("cut the hotfix branch for {target}"),
            "status.incident.create" => format!("opened incident {target}"),
            "status.incident.update" => format!("updated incident {target}"),
            "status.incident.resolve" => format!("resolved incident {target}"),
            "secret.rotated" => format!("recorded a rotation of {target}"),
            "workspace.config.tool" => "set a program's path".to_owned(),
            "notify.sent" => "sent a notification".to_owned(),
            "notify.failed" => "could not send a notification".to_owned(),
            action if action.starts_with("flags.") => {
                format!("{} flag {target}", action.trim_start_matches("flags."))
            }
            action => match action.strip_suffix(".failed") {
                Some(intent) => format!("{} {target} (failed)", intent.replace('.', " ")),
                None => format!("{} {target}", action.replace('.', " ")),
            },
        }
    }

    /// A checklist item's title in release `version`, else its id.
    fn item_title(&self, version: &str, item: &str) -> String {
        self.release(Some(version))
            .and_then(|r| self.runbook(&r))
            .ok()
            .and_then(|rb| rb.item(item).map(|i| i.title.clone()))
            .unwrap_or_else(|| item.to_owned())
    }
}

/// ` (expired 03:30)`: when the lease taken over had run out, from its `until`.
fn expired_at(lease: &serde_json::Value) -> String {
    lease
        .get("until")
        .and_then(|u| serde_json::from_value::<jiff::Timestamp>(u.clone()).ok())
        .map(|t| {
            format!(
                " (expired {})",
                t.to_zoned_datetime(jiff::tz::TimeZone::system())
                    .strftime("%H:%M")
            )
        })
        .unwrap_or_default()
}

/// A task as people say it, running and done (`building 0.1.0 macos`, `built 0.1.0 macos`),
/// from its name and the kind and release its entry records.
pub fn task_words(name: &str, after: &serde_json::Value) -> (String, String) {
    let kind = after
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let release = after
        .get("release")
        .and_then(serde_json::Value::as_str)
        .map(|r| format!("{r} "))
        .unwrap_or_default();
    let pair = |doing: String, done: String| (doing, done);
    if let Some(platform) = name.strip_prefix("build-unsigned-") {
        return pair(
            format!("an unsigned build of {release}{platform}"),
            format!("built {release}{platform} unsigned"),
        );
    }
    if let Some(platform) = name.strip_prefix("build-") {
        return pair(
            format!("building {release}{platform}"),
            format!("built {release}{platform}"),
        );
    }
    if let Some(platform) = name.strip_prefix("dry-run-") {
        return pair(
            format!("a dry run of {release}{platform}"),
            format!("dry-ran {release}{platform}"),
        );
    }
    let release = release.trim_end();
    match kind {
        "audit.verify" => pair(
            "verifying the audit log".into(),
            "verified the audit log".into(),
        ),
        "status.post" => pair(
            "posting to the status page".into(),
            "posted to the status page".into(),
        ),
        "notify.flush" => pair("sending notifications".into(), "sent notifications".into()),
        "verify" => pair(
            format!("verifying release {release}'s files"),
            format!("verified release {release}'s files"),
        ),
        "verify.files" => pair("verifying files".into(), "verified files".into()),
        "publish" => pair(
            format!("publishing {release}"),
            format!("published {release}"),
        ),
        "publish.links" => pair(
            format!("updating the download links of {release}"),
            format!("updated the download links of {release}"),
        ),
        "deploy.backend" => pair(
            "rolling out the backend".into(),
            "rolled out the backend".into(),
        ),
        "deploy.rollback" => pair(
            "rolling back the backend".into(),
            "rolled back the backend".into(),
        ),
        "source.new-hotfix" | "source.branch" => pair(
            format!(
                "cutting the hotfix branch {}",
                name.trim_start_matches("new-hotfix-")
            ),
            format!(
                "cut the hotfix branch {}",
                name.trim_start_matches("new-hotfix-")
            ),
        ),
        "source.tag-release" => pair(
            format!("tagging {}", name.trim_start_matches("tag-")),
            format!("tagged {}", name.trim_start_matches("tag-")),
        ),
        "source.notes" => pair(
            "drafting release notes".into(),
            "drafted release notes".into(),
        ),
        "source.merge-back" => pair("merging back".into(), "merged back".into()),
        "flags.change" => {
            let flag = name.trim_start_matches("flags-");
            pair(
                format!("changing flag {flag}"),
                format!("changed flag {flag}"),
            )
        }
        k if k.starts_with("runbook.") => pair(format!("running {name}"), format!("ran {name}")),
        _ => pair(format!("task {name}"), format!("ran task {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::task_words;
    use serde_json::json;

    #[test]
    fn tasks_are_said_in_words() {
        let (doing, done) = task_words(
            "build-unsigned-windows-on-linux",
            &json!({"kind": "pipeline.windows.unsigned", "release": "0.1.0"}),
        );
        assert_eq!(doing, "an unsigned build of 0.1.0 windows-on-linux");
        assert_eq!(done, "built 0.1.0 windows-on-linux unsigned");
        let (_, done) = task_words("audit-verify", &json!({"kind": "audit.verify"}));
        assert_eq!(done, "verified the audit log");
        let (_, done) = task_words("status-post", &json!({"kind": "status.post"}));
        assert_eq!(done, "posted to the status page");
        let (doing, _) = task_words("odd", &json!({}));
        assert_eq!(doing, "task odd");
    }
}
