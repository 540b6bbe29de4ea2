//! The console window: the snapshot, the panels, the task tray and toasts.
//!
//! [`eframe::App::logic`] collects what finished (snapshot loads, picks, task events, the
//! panels' fetches) and sets the title; [`eframe::App::ui`] only draws (see `app/layout.rs`).
//! Commands the panels return are applied in `app/handling.rs`.

mod handling;
mod layout;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use self::handling::nothing_picked;
use super::command::{Command, PickKind, Tab};
use super::panel::{Cx, Finished, Panels};
use super::picker::Picker;
use super::snapshot::{AuditCache, Snapshot};
use super::widgets::toasts::{ToastKind, Toasts};
use super::{theme, tray};
use crate::runner::{Runner, TaskEvent, TaskState};
use crate::workspace::Origin;
pub use handling::{POLL_EVERY, SyncError, TEAM_EVERY, capitalized, workspace_name};

/// What the app's own background work (loading, picking) sends back.
enum AppResult {
    /// A fresh snapshot, with a toast to show and what it is about (a success answers the
    /// errors about the same topic).
    Loaded(Box<Snapshot>, Option<String>, Option<String>),
    /// A load or change that failed, and what it was about.
    Failed(String, Option<String>),
    Picked(PickKind, Vec<PathBuf>),
    /// A shared workspace's poll: others' changes (a toast), or why not; not in `pending`.
    Synced(Result<Option<String>, SyncError>),
}

/// Everything the window shows and remembers.
pub struct ConsoleApp {
    pub tab: Tab,
    pub data: Option<Snapshot>,
    pub load_error: Option<String>,
    pub toasts: Toasts,
    pub panels: Panels,
    pub tray: tray::TrayUi,
    runner: Runner,
    /// Tasks' changes of state, never dropped (output and progress are read from the task
    /// table each frame instead).
    lifecycle: mpsc::UnboundedReceiver<TaskEvent>,
    results_tx: mpsc::UnboundedSender<AppResult>,
    results_rx: mpsc::UnboundedReceiver<AppResult>,
    picker: Arc<dyn Picker>,
    /// The app's own work in flight (loads, workspace changes, picks).
    pending: usize,
    root: PathBuf,
    origin: Origin,
    title: String,
    ctx: egui::Context,
    /// Commands returned outside a frame's drawing (task hooks, results), applied in `logic`.
    queued: Vec<Command>,
    audit_cache: AuditCache,
    /// A shared workspace's polls: when the last began, whether one runs, when the Overview
    /// last read the leases, why the last could not read the bucket (the header says it).
    polled_at: Option<std::time::Instant>,
    polling: bool,
    team_read_at: Option<std::time::Instant>,
    pub sync_error: Option<SyncError>,
    /// Whether the window had the focus last frame: coming back to it (from a terminal where
    /// `release-console keys new`, `tick` or another command ran) reads the workspace again.
    focused: bool,
}

impl std::fmt::Debug for ConsoleApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleApp")
            .field("tab", &self.tab)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl ConsoleApp {
    /// A console on workspace `root`, loading it in the background.
    pub fn new(
        ctx: &egui::Context,
        runner: Runner,
        root: PathBuf,
        origin: Origin,
        picker: Arc<dyn Picker>,
    ) -> Self {
        theme::apply(ctx);
        let repaint_ctx = ctx.clone();
        runner.set_notifier(move || repaint_ctx.request_repaint());
        let (results_tx, results_rx) = mpsc::unbounded_channel();
        let mut app = Self {
            tab: Tab::Overview,
            data: None,
            load_error: None,
            toasts: Toasts::default(),
            panels: Panels::new(&root),
            tray: tray::TrayUi::default(),
            lifecycle: runner.lifecycle(),
            runner,
            results_tx,
            results_rx,
            picker,
            pending: 0,
            root,
            origin,
            title: String::new(),
            ctx: ctx.clone(),
            queued: Vec::new(),
            audit_cache: AuditCache::default(),
            polled_at: None,
            polling: false,
            team_read_at: None,
            sync_error: None,
            focused: true,
        };
        app.reload(None);
        app
    }

    /// The window's title as last set.
    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Whether background work (the app's or a panel's fetch) is still running.
    pub fn is_busy(&self) -> bool {
        self.pending > 0 || self.panels.all().iter().any(|p| p.is_busy())
    }

    /// Collects what finished since the last frame; applies the commands that came of it.
    fn collect(&mut self) {
        while let Ok(result) = self.results_rx.try_recv() {
            if let AppResult::Synced(synced) = result {
                self.polling = false;
                self.synced(synced);
                continue;
            }
            self.pending = self.pending.saturating_sub(1);
            match result {
                AppResult::Synced(_) => {}
                AppResult::Loaded(snapshot, toast, topic) => {
                    self.loaded(*snapshot, toast, topic);
                }
                AppResult::Failed(e, topic) => {
                    if self.data.is_none() {
                        self.load_error = Some(e.clone());
                    }
                    self.toasts.push_about(ToastKind::Error, topic, e);
                }
                AppResult::Picked(PickKind::Workspace, paths) if !paths.is_empty() => {
                    self.queued.push(Command::OpenWorkspace(paths[0].clone()));
                }
                AppResult::Picked(PickKind::FindingsFiles, paths) if !paths.is_empty() => {
                    self.queued.push(Command::ImportFindings(paths));
                }
                AppResult::Picked(_, paths) if !paths.is_empty() => {
                    self.queued.push(Command::Verify {
                        paths,
                        replace: false,
                        run: false,
                    });
                }
                AppResult::Picked(kind, _) => {
                    self.toasts.push(ToastKind::Info, nothing_picked(kind));
                }
            }
        }
        let mut finished = false;
        while let Ok(event) = self.lifecycle.try_recv() {
            match event {
                TaskEvent::Finished {
                    info,
                    state,
                    message,
                } => {
                    finished = true;
                    let kind = match state {
                        TaskState::Succeeded => ToastKind::Success,
                        TaskState::Cancelled => ToastKind::Info,
                        _ => ToastKind::Error,
                    };
                    // A task's success answers the failure of the same task before it
                    // (the same kind and name, for the same release).
                    self.toasts.push_about(
                        kind,
                        Some(task_topic(&info)),
                        format!("{} {}: {message}", info.name, state.as_str()),
                    );
                    let task = Finished {
                        info,
                        state,
                        message,
                    };
                    for panel in self.panels.all_mut() {
                        panel.on_task_finished(&task, &mut self.queued);
                    }
                }
                TaskEvent::Started(info) => self.tray.select_if_none(info.id),
                // Queued tasks show in the tray from the task table; the lifecycle channel
                // carries no output, progress or steps (the tray reads those each frame too).
                _ => {}
            }
        }
        if finished {
            // Finished tasks write audit entries and may tick checklist items.
            self.reload(None);
        }
    }

    /// One frame's logic: results, task events, the panels' own fetches, dropped files.
    pub fn logic_pass(&mut self) {
        self.collect();
        // A lease this console's task took from another holder: the person who did it hears
        // it (the task's log says it too).
        for words in crate::workspace::take_notices() {
            self.toasts.push(ToastKind::Info, capitalized(&words));
        }
        let dropped: Vec<PathBuf> = self.ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .collect()
        });
        if !dropped.is_empty() {
            self.dropped(dropped);
        }
        if let Some(data) = &self.data {
            let mut commands = std::mem::take(&mut self.queued);
            let mut cx = Cx::new(data, &self.runner, &mut commands, &self.ctx);
            for panel in self.panels.all_mut() {
                panel.logic(&mut cx);
            }
            self.queued = commands;
        }
        self.apply_all();
        let focused = self.ctx.input(|i| i.focused);
        if focused && !self.focused && self.pending == 0 {
            self.reload(None);
        }
        self.focused = focused;
        self.poll_shared();
        self.update_title();
        let running = self.runner.tasks().iter().any(|t| !t.state.is_finished());
        if self.is_busy() || running {
            // Elapsed timers tick while something runs.
            self.ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    /// Applies every queued command.
    fn apply_all(&mut self) {
        while !self.queued.is_empty() {
            for command in std::mem::take(&mut self.queued) {
                self.apply(command);
            }
        }
    }
}

/// What a task's toast is about: a later run of the same task answers it.
fn task_topic(info: &crate::runner::TaskInfo) -> String {
    format!(
        "task {} {} {}",
        info.kind,
        info.name,
        info.release.as_deref().unwrap_or("-")
    )
}

impl eframe::App for ConsoleApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.logic_pass();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let commands = self.draw(ui);
        if !commands.is_empty() {
            // Applied by the next frame's logic.
            self.queued.extend(commands);
            ui.ctx().request_repaint();
        }
    }
}
