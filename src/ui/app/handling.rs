//! Applying the commands panels return: the workspace changes that need a new snapshot, the
//! picker, navigation, the tray and toasts. Workspace work runs on the runtime's blocking pool;
//! its result comes back to `collect`.

use super::{AppResult, ConsoleApp};
use crate::ui::command::{Command, PickKind, Tab};
use crate::ui::snapshot::Snapshot;
use crate::ui::widgets::toasts::ToastKind;
use crate::workspace::{Origin, Release, Workspace, WorkspaceError};

/// What the errors of a shared workspace's poll are about: the next poll that reads the
/// bucket answers them.
const SYNC_TOPIC: &str = "sync";
/// What the errors of loading the workspace are about: the next load, or poll, answers them.
const LOAD_TOPIC: &str = "load";

/// How often a console on a shared workspace looks for others' changes (one small request
/// when there are none).
pub const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(1500);
/// How often the Overview of a shared workspace reads who is working (the leases) again.
pub const TEAM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// How often a shared workspace opened read-only (its bucket could not be reached) is opened
/// again, to find the bucket back.
pub const OFFLINE_RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl ConsoleApp {
    /// A snapshot loaded: it is shown, with its toast; a shared workspace that was read-only
    /// and is not any more says so once.
    pub(super) fn loaded(
        &mut self,
        snapshot: Snapshot,
        toast: Option<String>,
        topic: Option<String>,
    ) {
        self.runner.set_hook(Some(snapshot.ws.task_hook()));
        let due = snapshot.notifications_due();
        if self
            .data
            .as_ref()
            .and_then(|d| d.ws.shared())
            .and_then(crate::workspace::shared::Shared::offline)
            .is_some()
            && let Some(shared) = snapshot.ws.shared()
            && shared.offline().is_none()
        {
            self.toasts.push(
                ToastKind::Success,
                format!("{} answers again: changes are shared again", shared.url()),
            );
        }
        self.data = Some(snapshot);
        if due {
            self.send_notifications();
        }
        self.load_error = None;
        // A load that failed before is answered by this one.
        self.toasts.resolve(LOAD_TOPIC);
        match (toast, topic) {
            (Some(t), topic) => self.toasts.push_about(ToastKind::Success, topic, t),
            (None, Some(topic)) => self.toasts.resolve(&topic),
            (None, None) => {}
        }
    }

    /// The window's title: the product, the selected release and the workspace.
    pub(super) fn update_title(&mut self) {
        // The workspace too: two windows on two workspaces of one product are told apart.
        let title = match &self.data {
            Some(d) => match &d.current {
                Some(c) => format!(
                    "{} {} — {} — Release console",
                    d.ws.config().product.name,
                    c.release.version,
                    workspace_name(d)
                ),
                None => format!(
                    "{} — {} — Release console",
                    d.ws.config().product.name,
                    workspace_name(d)
                ),
            },
            None => "Release console".to_owned(),
        };
        if title != self.title {
            self.ctx
                .send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// Runs blocking workspace work on the runtime's blocking pool.
    fn submit(&mut self, job: impl FnOnce() -> AppResult + Send + 'static) {
        self.pending += 1;
        let tx = self.results_tx.clone();
        let ctx = self.ctx.clone();
        self.runner.handle().spawn_blocking(move || {
            let _ = tx.send(job());
            ctx.request_repaint();
        });
    }

    /// Runs `change` on the workspace (if one is loaded), then loads a snapshot with the
    /// release `change` returns selected and shows its toast; its failure is an error about
    /// `topic`, which its later success answers.
    fn change(
        &mut self,
        topic: Option<String>,
        change: impl FnOnce(
            &Workspace,
            Option<&Release>,
        ) -> Result<(Option<String>, String), WorkspaceError>
        + Send
        + 'static,
    ) {
        let Some(data) = &self.data else { return };
        let ws = data.ws.clone();
        let release = data.current.as_ref().map(|c| c.release.clone());
        let (root, origin, cache) = (self.root.clone(), self.origin, self.audit_cache.clone());
        let reuse = data.reusable(&root);
        self.submit(move || {
            let loaded = change(&ws, release.as_ref()).and_then(|(release, toast)| {
                Ok((
                    Snapshot::load(&root, origin, release, &cache, reuse)?,
                    toast,
                ))
            });
            match loaded {
                Ok((snapshot, toast)) => AppResult::Loaded(Box::new(snapshot), Some(toast), topic),
                Err(e) => AppResult::Failed(e.to_string(), topic),
            }
        });
    }

    /// On a shared workspace, looks for others' changes every [`POLL_EVERY`] (off the
    /// UI thread; one poll at a time); a workspace read-only for want of its bucket is opened
    /// again every [`OFFLINE_RETRY_EVERY`], which brings it back once the bucket answers.
    pub(super) fn poll_shared(&mut self) {
        let Some(data) = &self.data else { return };
        let Some(shared) = data.ws.shared() else {
            return;
        };
        if shared.offline().is_some() {
            self.ctx.request_repaint_after(OFFLINE_RETRY_EVERY);
            if self.pending == 0
                && self
                    .polled_at
                    .is_none_or(|t| t.elapsed() >= OFFLINE_RETRY_EVERY)
            {
                self.polled_at = Some(std::time::Instant::now());
                self.reload(None);
            }
            return;
        }
        self.ctx.request_repaint_after(POLL_EVERY);
        if self.polling
            || self.pending > 0
            || self.polled_at.is_some_and(|t| t.elapsed() < POLL_EVERY)
        {
            return;
        }
        self.polling = true;
        self.polled_at = Some(std::time::Instant::now());
        let ws = data.ws.clone();
        let tx = self.results_tx.clone();
        let ctx = self.ctx.clone();
        self.runner.handle().spawn_blocking(move || {
            let synced = ws
                .sync(crate::projections::ALL)
                .map(|adopted| {
                    let shared = ws.shared();
                    (!adopted.is_empty()).then(|| {
                        crate::workspace::shared::others_did(
                            &ws,
                            &adopted,
                            &ws.actor(),
                            shared.map_or("", |s| s.host()),
                        )
                    })
                })
                .map(|toast| toast.map(Option::unwrap_or_default))
                .map_err(|e| SyncError::of(&e));
            let _ = tx.send(super::AppResult::Synced(synced));
            ctx.request_repaint();
        });
    }

    /// A poll's result: others' changes reload the snapshot and are named once.
    pub(super) fn synced(&mut self, synced: Result<Option<String>, SyncError>) {
        match synced {
            Ok(None) => {
                self.back_in_sync();
                // Leases come and go without entries: the Overview's Team reads them again now
                // and then.
                if self.tab == Tab::Overview
                    && self.team_read_at.is_none_or(|t| t.elapsed() >= TEAM_EVERY)
                {
                    self.team_read_at = Some(std::time::Instant::now());
                    self.reload(None);
                }
            }
            Ok(Some(toast)) => {
                self.back_in_sync();
                self.reload((!toast.is_empty()).then_some(toast));
            }
            Err(e) => {
                // Said once when the bucket stops answering, not at every poll (whose words
                // may change: a refused connection, then a timeout); the header's NOT SYNCING
                // holds the latest. A log refused is said again only at another entry.
                let new = match &self.sync_error {
                    None => true,
                    Some(before) => e.refused_at.is_some() && before.refused_at != e.refused_at,
                };
                if new {
                    let text = match e.refused_at {
                        Some(_) => format!("Others' changes are refused: {}", e.message),
                        None => format!("Others' changes cannot be read: {}", e.message),
                    };
                    self.toasts
                        .push_about(ToastKind::Error, Some(SYNC_TOPIC.to_owned()), text);
                }
                self.sync_error = Some(e);
            }
        }
    }

    /// A poll reached the bucket: an earlier failure to is over, and said so once; the errors
    /// the failure left (the poll's, a load's) are answered.
    fn back_in_sync(&mut self) {
        self.toasts.resolve(SYNC_TOPIC);
        self.toasts.resolve(LOAD_TOPIC);
        if let Some(was) = self.sync_error.take()
            && let Some(shared) = self.data.as_ref().and_then(|d| d.ws.shared())
        {
            let text = match was.refused_at {
                Some(seq) => format!(
                    "{}: the log extends this console's again (entry #{seq} is no longer \
                     refused): others' changes show again",
                    shared.url()
                ),
                None => format!("{} answers again: others' changes show again", shared.url()),
            };
            self.toasts.push(ToastKind::Success, text);
        }
    }

    /// Loads a fresh snapshot, keeping the selected release.
    pub(super) fn reload(&mut self, toast: Option<String>) {
        let release = self.data.as_ref().and_then(Snapshot::selected_version);
        self.load(release, toast);
    }

    fn load(&mut self, release: Option<String>, toast: Option<String>) {
        let (root, origin, cache) = (self.root.clone(), self.origin, self.audit_cache.clone());
        let reuse = self.data.as_ref().and_then(|d| d.reusable(&root));
        self.submit(
            move || match Snapshot::load(&root, origin, release, &cache, reuse) {
                Ok(s) => AppResult::Loaded(Box::new(s), toast, None),
                Err(e) => AppResult::Failed(e.to_string(), Some(LOAD_TOPIC.to_owned())),
            },
        );
    }

    /// Starts the notification sender when something is due and it is not running already; it
    /// sends for up to a minute (retries due within it included). Its end reloads the snapshot.
    pub(super) fn send_notifications(&mut self) {
        let Some(data) = &self.data else { return };
        let ws = data.ws.clone();
        let running = self
            .runner
            .tasks()
            .iter()
            .any(|t| t.info.kind == crate::notify::FLUSH_KIND && !t.state.is_finished());
        if running {
            return;
        }
        let spec = crate::notify::task_spec(&ws);
        let wait = std::time::Duration::from_mins(1);
        if let Err(e) = self
            .runner
            .start(spec, move |ctx| crate::notify::run_task(ctx, ws, wait))
        {
            self.toasts.error(e.to_string());
        }
    }

    /// Files dropped on the window: scanner output while the Security panel is shown, else
    /// artifacts for the Verify panel.
    pub(super) fn dropped(&mut self, paths: Vec<std::path::PathBuf>) {
        self.queued.push(if self.tab == Tab::Security {
            Command::ImportFindings(paths)
        } else {
            Command::Verify {
                paths,
                replace: false,
                run: false,
            }
        });
    }

    /// Applies one command.
    pub(super) fn apply(&mut self, command: Command) {
        match command {
            Command::Navigate(tab) => self.tab = tab,
            Command::SelectRelease(v) => self.load(Some(v), None),
            Command::SetItem { item, done, note } => {
                self.change(Some(format!("item {item}")), move |ws, release| {
                    let release = release.ok_or(WorkspaceError::NoRelease)?;
                    // The item as people know it: its title, not its id.
                    let title = ws
                        .runbook(release)
                        .ok()
                        .and_then(|rb| rb.item(&item).map(|i| i.title.clone()))
                        .unwrap_or_else(|| item.clone());
                    ws.set_item(release, &item, done, &note).map_err(|e| {
                        not_done(
                            &e,
                            &format!("{} \"{title}\"", if done { "tick" } else { "untick" }),
                        )
                    })?;
                    let verb = if done { "Ticked" } else { "Unticked" };
                    Ok((
                        Some(release.version.to_string()),
                        format!("{verb} \"{title}\""),
                    ))
                });
            }
            Command::NewRelease { version, hotfix_of } => self.change(None, move |ws, _| {
                let r = ws
                    .create_release(&version, hotfix_of.as_deref())
                    .map_err(|e| not_done(&e, &format!("create release {version}")))?;
                Ok((
                    Some(r.version.to_string()),
                    format!("Created release {}", r.version),
                ))
            }),
            Command::SetToolPath { tool, path } => {
                self.change(Some(format!("tool {tool}")), move |ws, release| {
                    ws.set_tool_path(&tool, path.as_deref())
                        .map_err(|e| not_done(&e, &format!("set the path of {tool}")))?;
                    let toast = match &path {
                        Some(p) if crate::os::find_program(&tool).is_none() => format!(
                            "{tool}: saved {p}, but it is not a program this system can run: \
                         whatever needs {tool} fails until the path is corrected or cleared"
                        ),
                        Some(p) => format!("{tool}: runs {p} from now on"),
                        None => format!("{tool}: looked for on PATH again"),
                    };
                    Ok((release.map(|r| r.version.to_string()), toast))
                });
            }
            Command::OpenWorkspace(path) => {
                self.root = path;
                self.origin = Origin::Flag;
                self.data = None;
                self.panels.settings.show_path(&self.root);
                let toast = format!("Opened workspace {}", self.root.display());
                self.load(None, Some(toast));
            }
            Command::Pick(kind) => {
                let tx = self.results_tx.clone();
                let ctx = self.ctx.clone();
                self.pending += 1;
                self.picker.pick(
                    self.runner.handle(),
                    kind,
                    Box::new(move |picked| {
                        let _ = tx.send(AppResult::Picked(kind, picked));
                        ctx.request_repaint();
                    }),
                );
            }
            Command::Verify {
                paths,
                replace,
                run,
            } => {
                self.panels.verify.add_paths(paths, replace);
                if run {
                    self.panels.verify.request_run();
                }
                self.tab = Tab::Verify;
            }
            Command::ImportFindings(paths) => {
                self.panels.security.request_import(paths);
                self.tab = Tab::Security;
            }
            Command::Reload => self.reload(None),
            Command::ReindexAudit => {
                self.audit_cache.forget();
                self.reload(None);
            }
            Command::SelectTask(id) => self.tray.select(id),
            Command::CancelTask(id) => self.runner.cancel(id),
            Command::ClearFinishedTasks => self.runner.clear_finished(),
            Command::Toast(kind, text) => self.toasts.push(kind, text),
            Command::ToastAbout { kind, topic, text } => {
                self.toasts.push_about(kind, Some(topic), text);
            }
            Command::RetryNotifications(ids) => self.change(None, move |ws, release| {
                let n = crate::notify::retry(ws, &ids)
                    .map_err(|e| WorkspaceError::Refused(e.to_string()))?;
                Ok((
                    release.map(|r| r.version.to_string()),
                    format!("{n} notification(s) queued again"),
                ))
            }),
            Command::SendNotifications => self.send_notifications(),
        }
    }
}

/// What a picker that chose nothing says.
pub(super) fn nothing_picked(kind: PickKind) -> &'static str {
    match kind {
        PickKind::Workspace | PickKind::ArtifactFolder => {
            "No folder chosen (type a path instead if no picker appeared)"
        }
        PickKind::ArtifactFiles => "No file chosen (or drop the files on the window)",
        PickKind::FindingsFiles => {
            "No file chosen (or drop the scanner output on the window while Security is shown)"
        }
    }
}

/// A change that was refused (a bucket that did not answer or refused the request, a key this
/// machine lacks, a gate), said first as what the person tried, then why: the refusal's own
/// words name only the request or the item's id.
fn not_done(e: &WorkspaceError, what: &str) -> WorkspaceError {
    WorkspaceError::Refused(format!("Could not {what}: {e}"))
}

/// Why a shared workspace's poll could not bring others' changes: the bucket did not answer
/// (the header's amber NOT SYNCING), or its log was refused at an entry (rewritten, forked,
/// forged: the header's red LOG REFUSED, which waiting does not mend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncError {
    /// The entry the bucket's log was refused at, when it was refused.
    pub refused_at: Option<u64>,
    pub message: String,
}

impl SyncError {
    pub fn of(e: &crate::workspace::WorkspaceError) -> Self {
        Self {
            refused_at: e.refused_entry(),
            message: e.to_string(),
        }
    }
}

/// The workspace as the window's title names it: a shared one's `BUCKET/PREFIX`, else its
/// folder's name.
pub fn workspace_name(d: &Snapshot) -> String {
    match d.ws.shared() {
        Some(shared) => {
            let url = shared.url();
            if url.prefix.is_empty() {
                url.bucket.clone()
            } else {
                format!("{}/{}", url.bucket, url.prefix)
            }
        }
        None => d.ws.root().file_name().map_or_else(
            || d.ws.root().display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
    }
}

/// `text` with its first letter upper case: words said mid-sentence elsewhere, said alone.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
