//! Each release's `pipeline.json` as the audit log speaks for it ([`RunBook`]), and the one
//! way a platform's run state is changed ([`change_platform`]): its entry first, carrying the
//! platform's whole run state after the change, then the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use super::{PipelineState, PlatformState, state_path};
use crate::audit::event::{PipelinePlatform, PlatformRun};
use crate::audit::{Action, Event};
use crate::store::{self, StateError};
use crate::workspace::{Held, Projection, Release, Word, Workspace, WorkspaceError, judge};

/// The lock every change of a release's `pipeline.json` is made under (one for every
/// release: a change holds it only for its entry and its write).
const LOCK: &str = "pipeline-runs";

fn lock_dir(ws: &Workspace) -> PathBuf {
    ws.root().join("pipeline")
}

/// A platform's target in the log: `version/platform`.
fn target(version: &str, name: &str) -> String {
    format!("{version}/{name}")
}

fn release_dir(ws: &Workspace, version: &str) -> PathBuf {
    ws.root().join("releases").join(version)
}

fn path(ws: &Workspace, version: &str) -> PathBuf {
    release_dir(ws, version).join("pipeline.json")
}

/// Whether the release exists here (a change of one that does not is left alone).
fn exists(ws: &Workspace, version: &str) -> bool {
    crate::workspace::parse_version(version).is_ok()
        && release_dir(ws, version).join("release.json").is_file()
}

fn read(ws: &Workspace, version: &str) -> Result<PipelineState, StateError> {
    Ok(store::read_json(&path(ws, version))?.unwrap_or_default())
}

/// Changes platform `name`'s run state of `release`, under the lock: `change` is given the
/// state saved (if any) and says the state after the change, or `None` for no change. The
/// change is recorded (`pipeline.platform`, carrying the whole state) before the file is
/// written; a crash between the two is rolled forward from the entry. Returns the state
/// saved, if it changed. Blocks.
pub(crate) fn change_platform(
    ws: &Workspace,
    release: &Release,
    name: &str,
    change: impl FnOnce(Option<&PlatformState>) -> Option<PlatformState>,
) -> Result<Option<PlatformState>, WorkspaceError> {
    let _lock = store::lock(&lock_dir(ws), LOCK)?;
    let file = state_path(ws, release);
    let mut state: PipelineState = store::read_json(&file)?.unwrap_or_default();
    let Some(mut run) = change(state.platforms.get(name)) else {
        return Ok(None);
    };
    run.audit_seq = 0;
    let event = Event::PipelinePlatform(PipelinePlatform {
        target: target(&release.version.to_string(), name),
        before: (),
        after: PlatformRun {
            run: serde_json::to_value(&run).unwrap_or(Value::Null),
        },
    });
    ws.change(event, |seq| {
        run.audit_seq = seq;
        state.platforms.insert(name.to_owned(), run.clone());
        store::write_json(&file, &state)?;
        Ok(run)
    })
    .map(Some)
}

/// The run state an entry carries, as of that entry.
fn carried(w: &Word, target: &str) -> Result<PlatformState, String> {
    let Event::PipelinePlatform(e) = Event::parse(&w.action, target, &Value::Null, &w.after) else {
        return Err("it is not a run state this version reads".to_owned());
    };
    let run = serde_json::from_value::<PlatformState>(e.after.run)
        .map(|run| PlatformState {
            audit_seq: w.seq,
            ..run
        })
        .map_err(|e| format!("its run state cannot be read: {e}"))?;
    // A run state names files in the release's folders (its task log, its artifacts) that
    // this console reads and sends to the bucket: a name that leaves them (`../`, a path) is
    // a forger's way to any file of this machine.
    for name in run.log.iter().chain(&run.artifacts) {
        if let Some(why) = crate::verify::shared::bad_name(name) {
            return Err(format!("{name:?} cannot be a file of its build: {why}"));
        }
    }
    Ok(run)
}

/// Every release's `pipeline.json` as the audit log speaks for it. Its targets are a release's
/// platforms (`version/platform`), each changed by `pipeline.platform`, whose entry carries
/// the platform's whole run state after the change; the file keeps, per platform, the entry
/// of its last change (`audit_seq`). Only run-level changes are entries (a remote run known
/// and running, the build's end: succeeded, failed, cancelled, with its steps' durations and
/// artifacts; marked UNSIGNED); the build's log lines stay in its log file.
///
/// A change is replayed as recorded. A release that does not exist here is left alone, as its
/// checklist is. A platform saved before run states kept their entry is not judged until a
/// change of it is in the log.
#[derive(Debug)]
pub struct RunBook;

/// The versions the check covers: those with a `pipeline.json`, and those the log changed,
/// that exist here.
fn versions(
    ws: &Workspace,
    last: &BTreeMap<String, Option<Word>>,
) -> Result<BTreeSet<String>, StateError> {
    let dir = ws.root().join("releases");
    let mut out: BTreeSet<String> = last
        .keys()
        .filter_map(|t| t.split_once('/').map(|(v, _)| v.to_owned()))
        .collect();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                if e.path().join("pipeline.json").exists() {
                    out.insert(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(cause) => {
            return Err(StateError::Io {
                path: dir.display().to_string(),
                action: "list",
                cause,
            });
        }
    }
    out.retain(|v| exists(ws, v));
    Ok(out)
}

impl Projection for RunBook {
    fn follows(&self, action: Action) -> bool {
        action == Action::PipelinePlatform
    }

    fn carries(&self, after: &Value) -> bool {
        after.get("run").is_some()
    }

    fn marker(&self) -> &'static str {
        // Without the closing quote: its voids (`pipeline.platform.not_applied`) too.
        r#""action":"pipeline.platform"#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (lock_dir(ws), LOCK)
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), StateError> {
        let mut by_version: BTreeMap<&str, Vec<(&str, &String, &Word)>> = BTreeMap::new();
        let mut refused = Vec::new();
        for (t, w) in last {
            match t.split_once('/') {
                Some((version, name)) if !name.is_empty() => {
                    by_version.entry(version).or_default().push((name, t, w));
                }
                _ => refused.push((
                    t.clone(),
                    w.clone(),
                    "its target is not a release's platform".to_owned(),
                )),
            }
        }
        let mut applied = 0;
        for (version, changes) in by_version {
            if !exists(ws, version) {
                continue;
            }
            let mut state = read(ws, version)?;
            let mut dirty = false;
            for (name, t, w) in changes {
                if state
                    .platforms
                    .get(name)
                    .is_some_and(|p| p.audit_seq >= w.seq)
                {
                    continue;
                }
                match carried(w, t) {
                    Ok(run) => {
                        state.platforms.insert(name.to_owned(), run);
                        dirty = true;
                        applied += 1;
                        tracing::info!("rolled forward entry #{} ({} {t})", w.seq, w.action);
                    }
                    Err(why) => refused.push((t.clone(), w.clone(), why)),
                }
            }
            if dirty {
                store::write_json(&path(ws, version), &state)?;
            }
        }
        Ok((applied, refused))
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, StateError> {
        for version in versions(ws, last)? {
            let file = path(ws, &version);
            let file = file.display();
            let state = read(ws, &version)?;
            for (name, mine) in &state.platforms {
                let t = target(&version, name);
                let subject = format!("platform {name}'s run");
                let holds = format!("is {}", mine.status.as_str());
                let held = Held {
                    file: &file,
                    subject: &subject,
                    holds: &holds,
                    seq: mine.audit_seq,
                    unnumbered_unjudged: true,
                };
                if let Some(d) = judge(
                    &held,
                    last.get(&t),
                    |w| carried(w, &t),
                    |logged| logged == mine,
                    |w, logged| {
                        format!(
                            "platform {name}'s run is not the one entry #{} ({}) saved: {}",
                            w.seq,
                            w.action,
                            crate::workspace::first_difference(logged, mine)
                        )
                    },
                    &format!("platform {name}'s run's last change"),
                ) {
                    return Ok(Some(d));
                }
            }
            let prefix = format!("{version}/");
            for (t, w) in last.range(prefix.clone()..) {
                let Some(name) = t.strip_prefix(&prefix) else {
                    break;
                };
                if let Some(w) = w
                    && !state.platforms.contains_key(name)
                {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file} disagrees with the log: it has no run of platform {name}, \
                             but entry #{} ({}) recorded one",
                            w.seq, w.action
                        ),
                    )));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{BuildStatus, StepState, load_state};

    fn run(status: BuildStatus, message: &str) -> PlatformState {
        PlatformState {
            status,
            message: message.to_owned(),
            steps: vec![StepState {
                name: "Build".to_owned(),
                seconds: 1.5,
            }],
            artifacts: vec!["WireTuner-1.0.0.tar.gz".to_owned()],
            builder_sha256: BTreeMap::new(),
            remote: None,
            log: None,
            unsigned: false,
            finished_at: jiff::Timestamp::now(),
            audit_seq: 0,
        }
    }

    fn disagreement(ws: &Workspace) -> String {
        ws.verify_audit_with(&[&RunBook])
            .expect_err("the file disagrees")
            .to_string()
    }

    #[test]
    fn a_run_state_is_saved_entry_first_rolled_forward_after_a_crash_and_compared() {
        let dir = tempfile::tempdir().expect("dir");
        let ws = Workspace::init(&dir.path().join("ws"), "WireTuner").expect("init");
        let release = ws.create_release("1.0.0", None).expect("release");

        // Saved the ordinary way: the entry carries the whole run state, the file keeps it.
        let saved = change_platform(&ws, &release, "linux", |_| {
            Some(run(BuildStatus::Succeeded, "1 artifact"))
        })
        .expect("saved")
        .expect("changed");
        let entries = ws.audit().entries().expect("entries");
        let last = entries.last().expect("an entry");
        assert_eq!(
            (last.seq, last.action.as_str(), last.target.as_str()),
            (saved.audit_seq, "pipeline.platform", "1.0.0/linux")
        );
        assert_eq!(last.after["run"]["status"], "succeeded");
        assert!(
            last.after["run"].get("audit_seq").is_none(),
            "{}",
            last.after
        );
        assert_eq!(
            load_state(&ws, &release).expect("load").platforms["linux"],
            saved
        );
        ws.verify_audit_with(&[&RunBook]).expect("agrees");

        // A change with nothing to change records nothing.
        let before = ws.audit().entries().expect("entries").len();
        assert!(
            change_platform(&ws, &release, "macos", |_| None)
                .expect("nothing")
                .is_none()
        );
        assert_eq!(ws.audit().entries().expect("entries").len(), before);

        // A crash between the entry and the write: the entry is in the log, the file lacks it.
        let failed = run(BuildStatus::Failed, "step Build failed");
        let seq = ws
            .record_seq(Event::PipelinePlatform(PipelinePlatform {
                target: "1.0.0/windows".to_owned(),
                before: (),
                after: PlatformRun {
                    run: serde_json::to_value(&failed).expect("json"),
                },
            }))
            .expect("recorded");
        let e = disagreement(&ws);
        assert!(
            e.contains("pipeline.json disagrees with the log: it has no run of platform windows")
                && e.contains(&format!("entry #{seq} (pipeline.platform)")),
            "{e}"
        );
        assert_eq!(ws.recover_with(&[&RunBook]).expect("recover"), 1);
        let state = load_state(&ws, &release).expect("load");
        assert_eq!(
            state.platforms["windows"],
            PlatformState {
                audit_seq: seq,
                ..failed
            }
        );
        assert_eq!(state.platforms["linux"], saved, "the other platform kept");
        ws.verify_audit_with(&[&RunBook])
            .expect("agrees after the roll forward");

        // A run state edited by hand is named, with the entry and the field.
        let file = state_path(&ws, &release);
        let text = std::fs::read_to_string(&file).expect("read");
        std::fs::write(
            &file,
            text.replace("step Build failed", "1 artifact (edited)"),
        )
        .expect("edit");
        let e = disagreement(&ws);
        assert!(
            e.contains(&format!(
                "pipeline.json disagrees with the log: platform windows's run is not the one \
                 entry #{seq} (pipeline.platform) saved: message is \"step Build failed\" in the \
                 log"
            )),
            "{e}"
        );
        // An older run state than the log's last change is named as such.
        std::fs::write(&file, &text).expect("put back");
        let newer = change_platform(&ws, &release, "linux", |p| {
            p.map(|p| PlatformState {
                unsigned: true,
                ..p.clone()
            })
        })
        .expect("marked")
        .expect("changed");
        std::fs::write(&file, &text).expect("the state before it");
        let e = disagreement(&ws);
        assert!(
            e.contains(&format!(
                "platform linux's run is succeeded as of entry #{}, but its last change in the \
                 log is entry #{}",
                saved.audit_seq, newer.audit_seq
            )),
            "{e}"
        );
    }

    #[test]
    fn a_pipeline_json_saved_before_entries_were_kept_loads_and_verifies() {
        let dir = tempfile::tempdir().expect("dir");
        let ws = Workspace::init(&dir.path().join("ws"), "WireTuner").expect("init");
        let release = ws.create_release("1.0.0", None).expect("release");
        let old = serde_json::json!({"platforms": {"linux": {
            "status": "succeeded", "message": "1 artifact",
            "steps": [{"name": "Build", "seconds": 2.0}],
            "artifacts": ["a.tar.gz"], "finished_at": "2026-11-01T10:00:00Z"}}});
        std::fs::write(
            state_path(&ws, &release),
            serde_json::to_vec_pretty(&old).expect("json"),
        )
        .expect("write");
        let state = load_state(&ws, &release).expect("an old file loads");
        assert_eq!(state.platforms["linux"].audit_seq, 0);
        ws.verify_audit_with(&[&RunBook])
            .expect("not judged until a change of it is in the log");
        assert_eq!(ws.recover_with(&[&RunBook]).expect("recover"), 0);
        // Its next change is an entry, and from then on it is judged.
        let saved = save_and_read(&ws, &release);
        assert!(saved.audit_seq > 0);
        ws.verify_audit_with(&[&RunBook]).expect("agrees");
    }

    fn save_and_read(ws: &Workspace, release: &Release) -> PlatformState {
        crate::pipeline::save_platform(ws, release, "linux", run(BuildStatus::Failed, "again"))
            .expect("saved");
        load_state(ws, release).expect("load").platforms["linux"].clone()
    }
}
