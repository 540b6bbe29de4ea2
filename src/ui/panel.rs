//! What every panel is: it owns its state and its in-flight work, draws from the snapshot, and
//! returns [`Command`]s for what only the app can do.
//!
//! Background work comes in two kinds. A *fetch* (read the status page, the flags) is the
//! panel's own [`Pending`] result, like a promise: started on the runtime, polled each frame.
//! A *task* (build, verify, publish) runs on the shared [`Runner`] with a name, a log and an
//! audit entry; [`Cx::start_task`] starts it, and the panel hears that it ended through
//! [`Panel::on_task_finished`].

use std::future::Future;

use tokio::sync::oneshot;

use super::command::Command;
use super::snapshot::Snapshot;
use super::widgets::toasts::ToastKind;
use crate::runner::{Runner, TaskContext, TaskError, TaskId, TaskInfo, TaskSpec, TaskState};

/// What a panel gets while it draws or reacts: the workspace snapshot, the shared runner, and
/// where its commands go.
#[derive(Debug)]
pub struct Cx<'a> {
    pub snapshot: &'a Snapshot,
    pub runner: &'a Runner,
    pub commands: &'a mut Vec<Command>,
    repaint: &'a egui::Context,
}

impl<'a> Cx<'a> {
    pub fn new(
        snapshot: &'a Snapshot,
        runner: &'a Runner,
        commands: &'a mut Vec<Command>,
        repaint: &'a egui::Context,
    ) -> Self {
        Self {
            snapshot,
            runner,
            commands,
            repaint,
        }
    }

    /// Queues a command for the app.
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Counts an error behind the header's error counter, until it is dismissed.
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(Command::Toast(ToastKind::Error, text.into()));
    }

    /// Shows a success in the corner for a few seconds.
    pub fn success(&mut self, text: impl Into<String>) {
        self.push(Command::Toast(ToastKind::Success, text.into()));
    }

    /// [`Self::error`] about `topic` (what was tried, e.g. `"verify.export"`): it stays until
    /// dismissed or until a success about the same topic answers it.
    pub fn error_about(&mut self, topic: &str, text: impl Into<String>) {
        self.push(Command::ToastAbout {
            kind: ToastKind::Error,
            topic: topic.to_owned(),
            text: text.into(),
        });
    }

    /// [`Self::success`] about `topic`: clears the errors about it.
    pub fn success_about(&mut self, topic: &str, text: impl Into<String>) {
        self.push(Command::ToastAbout {
            kind: ToastKind::Success,
            topic: topic.to_owned(),
            text: text.into(),
        });
    }

    /// Starts a task on the runner and selects it in the tray; when the runner refuses (a task
    /// of that name is running), says why in a toast and returns `None`.
    pub fn start_task<F, Fut>(&mut self, spec: TaskSpec, work: F) -> Option<TaskId>
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<String, TaskError>> + Send + 'static,
    {
        self.start_with(|runner| runner.start(spec, work).map(|id| (id, ())))
            .map(|(id, ())| id)
    }

    /// [`Self::start_task`] for a domain function that starts its own task and hands back
    /// something with its id (e.g. `verify::start` and its report slot).
    pub fn start_with<T>(
        &mut self,
        start: impl FnOnce(&Runner) -> Result<(TaskId, T), crate::runner::RunnerError>,
    ) -> Option<(TaskId, T)> {
        match start(self.runner) {
            Ok((id, extra)) => {
                self.push(Command::SelectTask(id));
                Some((id, extra))
            }
            Err(e) => {
                self.error(e.to_string());
                None
            }
        }
    }

    /// Starts `work` on the runtime as the result `pending` waits for.
    pub fn fetch<T, E, Fut>(&self, pending: &mut Pending<T>, work: Fut)
    where
        T: Send + 'static,
        E: std::error::Error + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.deliver(pending, self.runner.handle().spawn(work));
    }

    /// Runs blocking file work on the runtime's blocking pool as the result `pending` waits for.
    pub fn fetch_blocking<T, E>(
        &self,
        pending: &mut Pending<T>,
        work: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) where
        T: Send + 'static,
        E: std::error::Error + Send + 'static,
    {
        self.deliver(pending, self.runner.handle().spawn_blocking(work));
    }

    /// Hands the outcome of spawned work to `pending` and repaints: its error as a one-line
    /// chain, a panic (the work runs as its own task) as an error with its message.
    fn deliver<T, E>(&self, pending: &mut Pending<T>, work: tokio::task::JoinHandle<Result<T, E>>)
    where
        T: Send + 'static,
        E: std::error::Error + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let repaint = self.repaint.clone();
        self.runner.handle().spawn(async move {
            let result = match work.await {
                Ok(result) => result.map_err(|e| crate::error_chain(&e)),
                Err(e) => Err(crate::runner::panic_message(e)),
            };
            let _ = tx.send(result);
            repaint.request_repaint();
        });
        pending.rx = Some(rx);
    }
}

/// A result a panel waits for: empty, running, or ready once.
#[derive(Debug)]
pub struct Pending<T> {
    rx: Option<oneshot::Receiver<Result<T, String>>>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Self { rx: None }
    }
}

impl<T> Pending<T> {
    pub fn is_running(&self) -> bool {
        self.rx.is_some()
    }

    /// The result once it is ready (then the pending is empty again). Work that ended without
    /// answering (it panicked) is an error, never a spinner forever.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        let rx = self.rx.as_mut()?;
        let result = match rx.try_recv() {
            Ok(result) => result,
            Err(oneshot::error::TryRecvError::Empty) => return None,
            Err(oneshot::error::TryRecvError::Closed) => {
                Err("the background work stopped before it answered".to_owned())
            }
        };
        self.rx = None;
        Some(result)
    }
}

/// A task that ended, as panels hear of it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub info: TaskInfo,
    pub state: TaskState,
    pub message: String,
}

/// A panel of the window.
pub trait Panel {
    /// Every frame once a workspace is loaded, shown or not: collect finished fetches, refresh
    /// what went stale. Draws nothing.
    fn logic(&mut self, cx: &mut Cx<'_>) {
        let _ = cx;
    }

    /// Draws the panel.
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>);

    /// A task ended; the panel checks whether it was its own.
    fn on_task_finished(&mut self, task: &Finished, commands: &mut Vec<Command>) {
        let _ = (task, commands);
    }

    /// Whether a fetch the panel started is still running.
    fn is_busy(&self) -> bool {
        false
    }
}

/// Carries out, in order, what a panel's drawing recorded (the panel's private `Action`s)
/// once the frame's widgets are drawn, and asks for the next frame at once, so what they
/// changed shows without waiting for more input. Every panel's `ui` ends with it
/// (ARCHITECTURE, "Where to add", a panel).
pub fn apply_all<A>(ui: &egui::Ui, actions: Vec<A>, mut apply: impl FnMut(A)) {
    if actions.is_empty() {
        return;
    }
    for action in actions {
        apply(action);
    }
    ui.ctx().request_repaint();
}

/// Every panel of the navigation, each owning its state.
#[derive(Debug)]
pub struct Panels {
    pub overview: super::overview::OverviewUi,
    pub checklist: super::checklist::ChecklistUi,
    pub notes: super::notes::NotesUi,
    pub builds: super::builds::BuildsUi,
    pub verify: super::verify::VerifyUi,
    pub deploy: super::deploy::DeployUi,
    pub security: super::security::SecurityUi,
    pub status: super::status::StatusUi,
    pub flags: super::flags::FlagsUi,
    pub metrics: super::metrics::MetricsUi,
    pub runbooks: super::runbooks::RunbooksUi,
    pub audit: super::audit::AuditUi,
    pub settings: super::settings::SettingsUi,
}

impl Panels {
    /// Fresh panels for the workspace in `root`.
    pub fn new(root: &std::path::Path) -> Self {
        Self {
            overview: super::overview::OverviewUi::default(),
            checklist: super::checklist::ChecklistUi::default(),
            notes: super::notes::NotesUi::default(),
            builds: super::builds::BuildsUi::default(),
            verify: super::verify::VerifyUi::default(),
            deploy: super::deploy::DeployUi::default(),
            security: super::security::SecurityUi::default(),
            status: super::status::StatusUi::default(),
            flags: super::flags::FlagsUi::default(),
            metrics: super::metrics::MetricsUi::default(),
            runbooks: super::runbooks::RunbooksUi::default(),
            audit: super::audit::AuditUi::default(),
            settings: super::settings::SettingsUi::new(root),
        }
    }

    /// The panel a tab shows.
    pub fn get_mut(&mut self, tab: super::command::Tab) -> &mut dyn Panel {
        use super::command::Tab;
        match tab {
            Tab::Overview => &mut self.overview,
            Tab::Checklist => &mut self.checklist,
            Tab::Notes => &mut self.notes,
            Tab::Builds => &mut self.builds,
            Tab::Verify => &mut self.verify,
            Tab::Deploy => &mut self.deploy,
            Tab::Security => &mut self.security,
            Tab::StatusPage => &mut self.status,
            Tab::Flags => &mut self.flags,
            Tab::Metrics => &mut self.metrics,
            Tab::Runbooks => &mut self.runbooks,
            Tab::Audit => &mut self.audit,
            Tab::Settings => &mut self.settings,
        }
    }

    pub fn all(&self) -> [&dyn Panel; 13] {
        [
            &self.overview,
            &self.checklist,
            &self.notes,
            &self.builds,
            &self.verify,
            &self.deploy,
            &self.security,
            &self.status,
            &self.flags,
            &self.metrics,
            &self.runbooks,
            &self.audit,
            &self.settings,
        ]
    }

    pub fn all_mut(&mut self) -> [&mut dyn Panel; 13] {
        [
            &mut self.overview,
            &mut self.checklist,
            &mut self.notes,
            &mut self.builds,
            &mut self.verify,
            &mut self.deploy,
            &mut self.security,
            &mut self.status,
            &mut self.flags,
            &mut self.metrics,
            &mut self.runbooks,
            &mut self.audit,
            &mut self.settings,
        ]
    }
}
