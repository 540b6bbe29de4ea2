//! The console window: navigation, panels, task tray and toasts.
//!
//! Panels draw from a snapshot of the workspace ([`Loaded`]) and return [`Command`]s. Commands
//! that touch files run on a blocking worker of the shared runtime; their results come back over
//! a channel, so the UI thread never waits on I/O.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::widgets::toasts::{ToastKind, Toasts};
use super::{audit, builds, checklist, flags, overview, settings, status, theme, tray, verify};
use crate::audit::{AuditEntry, Verified};
use crate::runbook::{Checklist, Runbook};
use crate::runner::{Runner, TaskEvent, TaskId, TaskState};
use crate::workspace::{self, Origin, Release, Workspace};

/// Navigation targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Overview,
    Checklist,
    Builds,
    Verify,
    StatusPage,
    Flags,
    Audit,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 8] = [
        Tab::Overview,
        Tab::Checklist,
        Tab::Builds,
        Tab::Verify,
        Tab::StatusPage,
        Tab::Flags,
        Tab::Audit,
        Tab::Settings,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Checklist => "Checklist",
            Tab::Builds => "Builds",
            Tab::Verify => "Verify",
            Tab::StatusPage => "Status page",
            Tab::Flags => "Flags",
            Tab::Audit => "Audit",
            Tab::Settings => "Settings",
        }
    }
}

/// What panels ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SelectRelease(String),
    SetItem {
        item: String,
        done: bool,
        note: String,
    },
    NewRelease {
        version: String,
        hotfix_of: Option<String>,
    },
    OpenWorkspace(PathBuf),
    /// Open a native picker.
    Pick(PickKind),
    VerifyAdd(Vec<PathBuf>),
    VerifyRemove(usize),
    VerifyClear,
    /// Verify the selected release's artifacts folder.
    VerifyUseRelease,
    VerifyRun,
    ExportReport(ExportFormat),
    /// Run preflight for every platform of the definition.
    Preflight,
    /// Build one platform (dry run or for real).
    Build {
        platform: String,
        dry_run: bool,
        /// Continue from the step that failed instead of starting over.
        resume: bool,
    },
    /// Write SHA256SUMS of the release's artifacts, then verify them.
    SumsAndVerify,
    VerifyAudit,
    /// Fetch the status page's components.
    StatusRefresh,
    /// Publish to the status page (as a task).
    StatusPost(crate::status::Post),
    /// Write an incident's postmortem Markdown into the workspace.
    StatusPostmortem(String),
    /// Read flags, plans and KPIs.
    FlagsRefresh,
    /// Change a flag (as a task).
    FlagsAct(crate::flags::Action),
    CancelTask(TaskId),
    ClearFinishedTasks,
    Navigate(Tab),
}

/// Report export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Json,
}

/// The selected release with its runbook and progress.
#[derive(Debug, Clone)]
pub struct ReleaseView {
    pub release: Release,
    pub runbook: Runbook,
    pub checklist: Checklist,
}

/// A snapshot of the open workspace, loaded off the UI thread.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub ws: Workspace,
    pub origin: Origin,
    pub releases: Vec<Release>,
    pub current: Option<ReleaseView>,
    pub audit: Vec<AuditEntry>,
    /// The audit chain check: entries and head hash, or the first bad line.
    pub audit_check: Result<Verified, String>,
    /// The pipeline definition (or why it cannot be read).
    pub pipeline: Result<crate::pipeline::Definition, String>,
    /// The selected release's pipeline state.
    pub pipeline_state: crate::pipeline::PipelineState,
    /// The selected release's artifacts: name, size, SHA-256 from SHA256SUMS.
    pub artifacts: Vec<(String, u64, Option<String>)>,
    /// Incidents the console tracks, oldest first.
    pub incidents: Vec<crate::status::incident::Incident>,
    /// Why the incident records cannot be read, if they cannot.
    pub incidents_error: Option<String>,
}

impl Loaded {
    fn load(root: PathBuf, origin: Origin, release: Option<String>) -> Result<Self, String> {
        let ws = Workspace::open(&root).map_err(|e| e.to_string())?;
        let releases = ws.releases().map_err(|e| e.to_string())?;
        let selected = release
            .and_then(|v| workspace::parse_version(&v).ok())
            .and_then(|v| releases.iter().find(|r| r.version == v).cloned())
            .or_else(|| releases.last().cloned());
        let current = match selected {
            Some(release) => {
                let runbook = ws.runbook(&release).map_err(|e| e.to_string())?;
                let checklist = ws.checklist(&release).map_err(|e| e.to_string())?;
                Some(ReleaseView {
                    release,
                    runbook,
                    checklist,
                })
            }
            None => None,
        };
        let (audit, audit_check) = ws.audit().load().map_err(|e| e.to_string())?;
        let audit_check = audit_check.map_err(|e| e.to_string());
        let pipeline = crate::pipeline::Definition::load(&ws)
            .map(|(d, _)| d)
            .map_err(|e| e.to_string());
        let (pipeline_state, artifacts) = match &current {
            Some(c) => (
                crate::pipeline::load_state(&ws, &c.release).unwrap_or_default(),
                list_artifacts(&ws.artifacts_dir(&c.release.version)),
            ),
            None => Default::default(),
        };
        let (incidents, incidents_error) = match crate::status::incident::load(&ws) {
            Ok(list) => (list, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        Ok(Self {
            ws,
            origin,
            releases,
            current,
            audit,
            audit_check,
            pipeline,
            pipeline_state,
            artifacts,
            incidents,
            incidents_error,
        })
    }
}

/// Files in an artifacts folder with their sizes and the SHA-256 SHA256SUMS records.
fn list_artifacts(dir: &std::path::Path) -> Vec<(String, u64, Option<String>)> {
    let sums =
        crate::verify::sums::read(&dir.join(crate::verify::sums::SUMS_FILE)).unwrap_or_default();
    let by_name = sums.by_name();
    let mut out: Vec<(String, u64, Option<String>)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let size = e.metadata().map_or(0, |m| m.len());
                    let sha = by_name.get(name.as_str()).map(|e| e.sha256.clone());
                    (name, size, sha)
                })
                .filter(|(n, _, _)| !crate::verify::sums::is_sums_or_signature(n))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// What a picker is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickKind {
    /// A release workspace folder.
    Workspace,
    /// Artifact files to verify.
    ArtifactFiles,
    /// A folder of artifacts to verify.
    ArtifactFolder,
}

/// Opens file and folder pickers. Behind a seam so tests can feed paths (rfd shows nothing
/// under Xvfb without a portal).
pub trait Picker: Send + Sync {
    /// Starts a picker; the chosen paths (empty when cancelled) are sent to `reply`.
    fn pick(
        &self,
        handle: &tokio::runtime::Handle,
        kind: PickKind,
        reply: Box<dyn FnOnce(Vec<PathBuf>) + Send>,
    );
}

/// The native picker (rfd: XDG portal on Linux, native dialogs on macOS and Windows).
#[derive(Debug, Default)]
pub struct RfdPicker;

impl Picker for RfdPicker {
    fn pick(
        &self,
        handle: &tokio::runtime::Handle,
        kind: PickKind,
        reply: Box<dyn FnOnce(Vec<PathBuf>) + Send>,
    ) {
        handle.spawn(async move {
            let dialog = rfd::AsyncFileDialog::new();
            let one = |h: Option<rfd::FileHandle>| h.map(|h| vec![h.path().to_owned()]);
            let picked = match kind {
                PickKind::Workspace => one(dialog
                    .set_title("Open release workspace")
                    .pick_folder()
                    .await),
                PickKind::ArtifactFolder => one(dialog
                    .set_title("Verify a folder of artifacts")
                    .pick_folder()
                    .await),
                PickKind::ArtifactFiles => dialog
                    .set_title("Verify artifacts")
                    .pick_files()
                    .await
                    .map(|hs| hs.iter().map(|h| h.path().to_owned()).collect()),
            };
            reply(picked.unwrap_or_default());
        });
    }
}

enum WorkerResult {
    Loaded(Box<Loaded>, Option<String>),
    Failed(String),
    Picked(PickKind, Vec<PathBuf>),
    Preflight(Vec<crate::pipeline::Preflight>),
    SumsWritten(PathBuf),
    Exported(PathBuf),
    StatusComponents(Result<crate::status::PageView, String>),
    Flags(Box<Result<crate::flags::Overview, String>>),
}

/// Everything the window shows and remembers.
pub struct ConsoleApp {
    pub tab: Tab,
    pub data: Option<Loaded>,
    pub load_error: Option<String>,
    pub toasts: Toasts,
    pub checklist_ui: checklist::ChecklistUi,
    pub audit_ui: audit::AuditUi,
    pub settings_ui: settings::SettingsUi,
    pub overview_ui: overview::OverviewUi,
    pub verify_ui: verify::VerifyUi,
    pub builds_ui: builds::BuildsUi,
    pub status_ui: status::StatusUi,
    pub flags_ui: flags::FlagsUi,
    pub tray: tray::TrayUi,
    runner: Runner,
    handle: tokio::runtime::Handle,
    events: broadcast::Receiver<TaskEvent>,
    results_tx: mpsc::Sender<WorkerResult>,
    results_rx: mpsc::Receiver<WorkerResult>,
    picker: Arc<dyn Picker>,
    /// Commands in flight on the worker.
    pending: usize,
    root: PathBuf,
    origin: Origin,
    title: String,
    repaint: Option<egui::Context>,
}

impl std::fmt::Debug for ConsoleApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleApp")
            .field("tab", &self.tab)
            .field("root", &self.root)
            .finish()
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
        let (results_tx, results_rx) = mpsc::channel();
        let mut app = Self {
            tab: Tab::Overview,
            data: None,
            load_error: None,
            toasts: Toasts::default(),
            checklist_ui: checklist::ChecklistUi::default(),
            audit_ui: audit::AuditUi::default(),
            settings_ui: settings::SettingsUi::new(&root),
            overview_ui: overview::OverviewUi::default(),
            verify_ui: verify::VerifyUi::default(),
            builds_ui: builds::BuildsUi::default(),
            status_ui: status::StatusUi::default(),
            flags_ui: flags::FlagsUi::default(),
            tray: tray::TrayUi::default(),
            events: runner.subscribe(),
            handle: runner.handle().clone(),
            runner,
            results_tx,
            results_rx,
            picker,
            pending: 0,
            root,
            origin,
            title: String::new(),
            repaint: Some(ctx.clone()),
        };
        app.reload(None);
        app
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Whether a background command is still running.
    pub fn is_busy(&self) -> bool {
        self.pending > 0
    }

    fn selected_release(&self) -> Option<String> {
        self.data
            .as_ref()?
            .current
            .as_ref()
            .map(|c| c.release.version.to_string())
    }

    /// Runs blocking workspace work on the runtime's blocking pool.
    fn submit(&mut self, job: impl FnOnce() -> WorkerResult + Send + 'static) {
        self.pending += 1;
        let tx = self.results_tx.clone();
        let ctx = self.repaint.clone();
        self.handle.spawn_blocking(move || {
            let _ = tx.send(job());
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    fn reload(&mut self, toast: Option<String>) {
        let (root, origin, release) = (self.root.clone(), self.origin, self.selected_release());
        self.submit(move || match Loaded::load(root, origin, release) {
            Ok(l) => WorkerResult::Loaded(Box::new(l), toast),
            Err(e) => WorkerResult::Failed(e),
        });
    }

    /// Applies a panel's command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Navigate(tab) => self.tab = tab,
            Command::SelectRelease(v) => {
                let (root, origin) = (self.root.clone(), self.origin);
                self.submit(move || match Loaded::load(root, origin, Some(v)) {
                    Ok(l) => WorkerResult::Loaded(Box::new(l), None),
                    Err(e) => WorkerResult::Failed(e),
                });
            }
            Command::SetItem { item, done, note } => {
                let Some((ws, release)) = self.current() else {
                    return;
                };
                let (root, origin) = (self.root.clone(), self.origin);
                let version = release.version.to_string();
                self.submit(move || {
                    let verb = if done { "Ticked" } else { "Unticked" };
                    match ws.set_item(&release, &item, done, &note) {
                        Ok(_) => match Loaded::load(root, origin, Some(version)) {
                            Ok(l) => {
                                WorkerResult::Loaded(Box::new(l), Some(format!("{verb} {item}")))
                            }
                            Err(e) => WorkerResult::Failed(e),
                        },
                        Err(e) => WorkerResult::Failed(e.to_string()),
                    }
                });
            }
            Command::NewRelease { version, hotfix_of } => {
                let Some(ws) = self.data.as_ref().map(|d| d.ws.clone()) else {
                    return;
                };
                let (root, origin) = (self.root.clone(), self.origin);
                self.submit(
                    move || match ws.create_release(&version, hotfix_of.as_deref()) {
                        Ok(r) => match Loaded::load(root, origin, Some(r.version.to_string())) {
                            Ok(l) => WorkerResult::Loaded(
                                Box::new(l),
                                Some(format!("Created release {}", r.version)),
                            ),
                            Err(e) => WorkerResult::Failed(e),
                        },
                        Err(e) => WorkerResult::Failed(e.to_string()),
                    },
                );
            }
            Command::OpenWorkspace(path) => {
                self.root = path;
                self.origin = Origin::Flag;
                self.data = None;
                self.settings_ui = settings::SettingsUi::new(&self.root);
                self.reload(Some(format!("Opened workspace {}", self.root.display())));
            }
            Command::Pick(kind) => {
                let tx = self.results_tx.clone();
                let ctx = self.repaint.clone();
                self.pending += 1;
                self.picker.pick(
                    &self.handle,
                    kind,
                    Box::new(move |picked| {
                        let _ = tx.send(WorkerResult::Picked(kind, picked));
                        if let Some(ctx) = ctx {
                            ctx.request_repaint();
                        }
                    }),
                );
            }
            Command::VerifyAdd(paths) => {
                self.verify_ui.add_paths(paths);
                self.tab = Tab::Verify;
            }
            Command::VerifyRemove(i) => {
                if i < self.verify_ui.paths.len() {
                    self.verify_ui.paths.remove(i);
                }
            }
            Command::VerifyClear => self.verify_ui.paths.clear(),
            Command::VerifyUseRelease => {
                if let Some((ws, release)) = self.current() {
                    self.verify_ui.paths = vec![ws.artifacts_dir(&release.version)];
                }
            }
            Command::VerifyRun => self.start_verify(),
            Command::ExportReport(format) => self.export_report(format),
            Command::Preflight => self.start_preflight(),
            Command::Build {
                platform,
                dry_run,
                resume,
            } => self.start_build(&platform, dry_run, resume),
            Command::SumsAndVerify => {
                let Some((ws, release)) = self.current() else {
                    return;
                };
                self.submit(move || match crate::pipeline::write_sums(&ws, &release) {
                    Ok(path) => WorkerResult::SumsWritten(path),
                    Err(e) => WorkerResult::Failed(e.to_string()),
                });
            }
            Command::VerifyAudit => self.start_audit_verify(),
            Command::StatusRefresh => {
                let Some(data) = &self.data else { return };
                let ws = data.ws.clone();
                let handle = self.handle.clone();
                self.status_ui.fetching = true;
                self.submit(move || {
                    WorkerResult::StatusComponents(
                        handle
                            .block_on(crate::status::fetch_page(&ws))
                            .map_err(|e| e.to_string()),
                    )
                });
            }
            Command::StatusPost(post) => self.start_status_post(post),
            Command::FlagsRefresh => {
                let Some(data) = &self.data else { return };
                let ws = data.ws.clone();
                let handle = self.handle.clone();
                self.flags_ui.fetching = true;
                self.submit(move || {
                    WorkerResult::Flags(Box::new(
                        handle
                            .block_on(crate::flags::overview(&ws))
                            .map_err(|e| e.to_string()),
                    ))
                });
            }
            Command::FlagsAct(action) => {
                let Some(data) = &self.data else { return };
                let ws = data.ws.clone();
                let spec = ws.task_spec(
                    &format!("flags-{}", action.key()),
                    "flags.change",
                    None,
                    Duration::from_secs(600),
                );
                match self
                    .runner
                    .start(spec, move |ctx| crate::flags::run_action(ctx, ws, action))
                {
                    Ok(id) => {
                        self.flags_ui.task = Some(id);
                        self.flags_ui.last_error = None;
                        self.tray.selected = Some(id);
                    }
                    Err(e) => self.toasts.error(e.to_string()),
                }
            }
            Command::StatusPostmortem(id) => {
                let Some(data) = &self.data else { return };
                let ws = data.ws.clone();
                self.submit(move || {
                    let written = crate::status::incident::find(&ws, &id)
                        .map_err(|e| e.to_string())
                        .and_then(|inc| {
                            let md = crate::status::incident::postmortem_markdown(&ws, &inc);
                            let path = ws
                                .root()
                                .join("status/postmortems")
                                .join(format!("{}.md", inc.id));
                            crate::workspace::atomic::write_atomic(&path, md.as_bytes())
                                .map_err(|e| e.to_string())?;
                            ws.record(
                                "status.postmortem.export",
                                &inc.id,
                                serde_json::Value::Null,
                                serde_json::json!({"path": &path}),
                            )
                            .map_err(|e| e.to_string())?;
                            Ok(path)
                        });
                    match written {
                        Ok(path) => WorkerResult::Exported(path),
                        Err(e) => WorkerResult::Failed(e),
                    }
                });
            }
            Command::CancelTask(id) => self.runner.cancel(id),
            Command::ClearFinishedTasks => self.runner.clear_finished(),
        }
    }

    fn current(&self) -> Option<(Workspace, Release)> {
        let data = self.data.as_ref()?;
        Some((data.ws.clone(), data.current.as_ref()?.release.clone()))
    }

    fn start_audit_verify(&mut self) {
        let Some(data) = &self.data else { return };
        let ws = data.ws.clone();
        let release = data.current.as_ref().map(|c| &c.release);
        let spec = ws.task_spec(
            "audit-verify",
            "audit.verify",
            release,
            Duration::from_secs(600),
        );
        let started = self.runner.start(spec, move |ctx| async move {
            ctx.log_line(&format!(
                "checking the hash chain of {}",
                ws.audit().path().display()
            ));
            let audit = ws.audit().clone();
            let result = tokio::task::spawn_blocking(move || audit.verify())
                .await
                .map_err(|e| crate::runner::TaskError::Failed(e.to_string()))?;
            match result {
                Ok(v) => Ok(format!(
                    "audit log intact: {} entries, last hash {}",
                    v.entries,
                    &v.last_hash[..12]
                )),
                Err(e) => Err(crate::runner::TaskError::Failed(e.to_string())),
            }
        });
        match started {
            Ok(id) => self.tray.selected = Some(id),
            Err(e) => self.toasts.error(e.to_string()),
        }
    }

    fn start_verify(&mut self) {
        let Some(data) = &self.data else { return };
        if self.verify_ui.paths.is_empty() {
            self.toasts.error(
                "Add artifacts first: drop files, pick them, or use the release's artifacts",
            );
            return;
        }
        let ws = data.ws.clone();
        let release = data.current.as_ref().map(|c| &c.release);
        let spec = ws.task_spec("verify", "verify", release, Duration::from_secs(3600));
        let opts = crate::verify::Options {
            paths: self.verify_ui.paths.clone(),
            expected: ws.expected_identity(),
            ..Default::default()
        };
        let slot = self.verify_ui.slot.clone();
        match self.runner.start(spec, move |ctx| {
            crate::verify::run_task(ctx, opts, slot, Some(ws))
        }) {
            Ok(id) => {
                self.verify_ui.task = Some(id);
                self.verify_ui.report = None;
                self.tray.selected = Some(id);
            }
            Err(e) => self.toasts.error(e.to_string()),
        }
    }

    fn start_status_post(&mut self, post: crate::status::Post) {
        let Some(data) = &self.data else { return };
        let ws = data.ws.clone();
        let spec = ws.task_spec("status-post", "status.post", None, Duration::from_secs(600));
        match self
            .runner
            .start(spec, move |ctx| crate::status::run_post(ctx, ws, post))
        {
            Ok(id) => {
                self.status_ui.task = Some(id);
                self.status_ui.last_error = None;
                self.tray.selected = Some(id);
            }
            Err(e) => self.toasts.error(e.to_string()),
        }
    }

    fn start_preflight(&mut self) {
        let Some(data) = &self.data else { return };
        let Ok(def) = data.pipeline.clone() else {
            return;
        };
        let ws = data.ws.clone();
        let opts = crate::pipeline::RunOptions {
            skip_signing: self.builds_ui.skip_signing,
            ..Default::default()
        };
        let tx = self.results_tx.clone();
        let ctx = self.repaint.clone();
        self.pending += 1;
        self.handle.spawn(async move {
            let mut out = Vec::new();
            for (name, pdef) in &def.platforms {
                out.push(crate::pipeline::preflight(&ws, name, pdef, &opts).await);
            }
            let _ = tx.send(WorkerResult::Preflight(out));
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    fn start_build(&mut self, platform: &str, dry_run: bool, resume: bool) {
        let Some(data) = &self.data else { return };
        let Some(c) = &data.current else { return };
        let Some(def) = data
            .pipeline
            .as_ref()
            .ok()
            .and_then(|d| d.platforms.get(platform))
            .cloned()
        else {
            return;
        };
        let (ws, release) = (data.ws.clone(), c.release.clone());
        let kind = if dry_run {
            "pipeline.dry-run".to_owned()
        } else {
            def.checklist_kind.clone()
        };
        let prefix = if dry_run { "dry-run" } else { "build" };
        let spec = ws.task_spec(
            &format!("{prefix}-{platform}"),
            &kind,
            Some(&release),
            Duration::from_secs(def.timeout_secs),
        );
        let opts = crate::pipeline::RunOptions {
            skip_signing: self.builds_ui.skip_signing,
            dry_run,
            resume,
        };
        let name = platform.to_owned();
        match self.runner.start(spec, move |ctx| {
            crate::pipeline::build_platform(ctx, ws, release, name, def, opts)
        }) {
            Ok(id) => {
                self.builds_ui.tasks.insert(platform.to_owned(), id);
                self.tray.selected = Some(id);
            }
            Err(e) => self.toasts.error(e.to_string()),
        }
    }

    fn export_report(&mut self, format: ExportFormat) {
        let Some(report) = self.verify_ui.report.clone() else {
            return;
        };
        let Some(data) = &self.data else { return };
        let dir = match &data.current {
            Some(c) => data.ws.release_dir(&c.release.version),
            None => data.ws.root().to_owned(),
        };
        self.submit(move || {
            let (name, body) = match format {
                ExportFormat::Markdown => ("verify-report.md", report.to_markdown()),
                ExportFormat::Json => (
                    "verify-report.json",
                    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
                ),
            };
            let path = dir.join(name);
            match crate::workspace::atomic::write_atomic(&path, body.as_bytes()) {
                Ok(()) => WorkerResult::Exported(path),
                Err(e) => WorkerResult::Failed(e.to_string()),
            }
        });
    }

    fn drain(&mut self) {
        while let Ok(result) = self.results_rx.try_recv() {
            self.pending = self.pending.saturating_sub(1);
            match result {
                WorkerResult::Loaded(loaded, toast) => {
                    self.runner.set_hook(Some(loaded.ws.task_hook()));
                    self.data = Some(*loaded);
                    self.load_error = None;
                    if let Some(t) = toast {
                        self.toasts.push(ToastKind::Success, t);
                    }
                }
                WorkerResult::Failed(e) => {
                    if self.data.is_none() {
                        self.load_error = Some(e.clone());
                    }
                    self.toasts.error(e);
                }
                WorkerResult::Preflight(results) => {
                    self.builds_ui.preflight = results
                        .into_iter()
                        .map(|p| (p.platform.clone(), p))
                        .collect();
                }
                WorkerResult::SumsWritten(path) => {
                    self.toasts
                        .push(ToastKind::Success, format!("Wrote {}", path.display()));
                    self.apply(Command::VerifyUseRelease);
                    self.start_verify();
                }
                WorkerResult::Flags(result) => {
                    self.flags_ui.fetching = false;
                    self.flags_ui.overview = Some(result.map(std::sync::Arc::new));
                }
                WorkerResult::StatusComponents(result) => {
                    self.status_ui.fetching = false;
                    match result {
                        Ok(view) => {
                            self.status_ui.components = Some(Ok(view.components));
                            self.status_ui.maintenances = view.maintenances;
                        }
                        Err(e) => self.status_ui.components = Some(Err(e)),
                    }
                }
                WorkerResult::Exported(path) => {
                    self.toasts
                        .push(ToastKind::Success, format!("Wrote {}", path.display()));
                }
                WorkerResult::Picked(PickKind::Workspace, paths) if !paths.is_empty() => {
                    self.apply(Command::OpenWorkspace(paths[0].clone()));
                }
                WorkerResult::Picked(_, paths) if !paths.is_empty() => {
                    self.apply(Command::VerifyAdd(paths));
                }
                WorkerResult::Picked(_, _) => {
                    self.toasts.push(
                        ToastKind::Info,
                        "No folder chosen (type a path instead if no picker appeared)",
                    );
                }
            }
        }
        let mut finished = false;
        loop {
            match self.events.try_recv() {
                Ok(TaskEvent::Finished {
                    info,
                    state,
                    message,
                }) => {
                    finished = true;
                    if self.verify_ui.task == Some(info.id) {
                        self.verify_ui.collect();
                    }
                    if self.status_ui.task == Some(info.id) {
                        self.status_ui.finished(state, &message);
                        self.apply(Command::StatusRefresh);
                    }
                    if self.flags_ui.task == Some(info.id) {
                        self.flags_ui.finished(state, &message);
                        self.apply(Command::FlagsRefresh);
                    }
                    let kind = match state {
                        TaskState::Succeeded => ToastKind::Success,
                        TaskState::Cancelled => ToastKind::Info,
                        _ => ToastKind::Error,
                    };
                    self.toasts
                        .push(kind, format!("{} {}: {message}", info.name, state.as_str()));
                }
                Ok(TaskEvent::Started(info)) => {
                    if self.tray.selected.is_none() {
                        self.tray.selected = Some(info.id);
                    }
                }
                Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        if finished {
            // Finished tasks write audit entries and may auto-tick items.
            self.reload(None);
        }
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match &self.data {
            Some(d) => match &d.current {
                Some(c) => format!(
                    "{} {} — Release console",
                    d.ws.config().product.name,
                    c.release.version
                ),
                None => format!("{} — Release console", d.ws.config().product.name),
            },
            None => "Release console".to_owned(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// Draws one frame.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.drain();
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .collect()
        });
        if !dropped.is_empty() {
            self.apply(Command::VerifyAdd(dropped));
        }
        // The Status page panel reads the page's components when first shown.
        if self.tab == Tab::StatusPage
            && self.status_ui.components.is_none()
            && !self.status_ui.fetching
            && self.data.is_some()
        {
            self.apply(Command::StatusRefresh);
        }
        if self.tab == Tab::Flags
            && self.flags_ui.overview.is_none()
            && !self.flags_ui.fetching
            && self.data.is_some()
        {
            self.apply(Command::FlagsRefresh);
        }
        self.update_title(&ctx);
        let mut commands = Vec::new();

        egui::Panel::top("header").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(theme::heading("Release console"));
                if let Some(d) = &self.data {
                    ui.separator();
                    ui.label(egui::RichText::new(&d.ws.config().product.name).strong());
                    if let Some(c) = &d.current {
                        egui::ComboBox::from_id_salt("release-picker")
                            .selected_text(format!("{}", c.release.version))
                            .show_ui(ui, |ui| {
                                for r in d.releases.iter().rev() {
                                    let selected = r.version == c.release.version;
                                    if ui
                                        .selectable_label(selected, r.version.to_string())
                                        .clicked()
                                        && !selected
                                    {
                                        commands
                                            .push(Command::SelectRelease(r.version.to_string()));
                                    }
                                }
                            })
                            .response
                            .accessible_name("Release");
                    }
                    if d.origin == Origin::Demo {
                        theme::badge(ui, "DEMO WORKSPACE", theme::INFO).on_hover_text(format!(
                            "Local providers only: {}",
                            d.ws.root().display()
                        ));
                    }
                }
                if self.pending > 0 {
                    ui.spinner();
                }
            });
        });

        egui::Panel::left("nav")
            .resizable(false)
            .exact_size(150.0)
            .show(ui, |ui| {
                ui.add_space(6.0);
                for tab in Tab::ALL {
                    let selected = self.tab == tab;
                    let button = egui::Button::selectable(selected, tab.label())
                        .min_size(egui::vec2(ui.available_width(), 28.0));
                    if ui.add(button).clicked() {
                        commands.push(Command::Navigate(tab));
                    }
                }
            });

        egui::Panel::bottom("tray")
            .resizable(true)
            .default_size(220.0)
            .min_size(80.0)
            .show(ui, |ui| {
                let tasks = self.runner.tasks();
                self.tray.ui(ui, &tasks, &mut commands);
            });

        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(err) = &self.load_error {
                ui.label(
                    egui::RichText::new(format!("Cannot open the workspace: {err}"))
                        .color(theme::BAD),
                );
                ui.add_space(8.0);
                self.settings_ui.workspace_picker_ui(ui, &mut commands);
                return;
            }
            let Some(data) = &self.data else {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading workspace…");
                });
                return;
            };
            egui::ScrollArea::vertical()
                .auto_shrink(false)
                .show(ui, |ui| match self.tab {
                    Tab::Overview => self.overview_ui.ui(ui, data, &self.runner, &mut commands),
                    Tab::Checklist => self.checklist_ui.ui(ui, data, &mut commands),
                    Tab::Audit => self.audit_ui.ui(ui, data, &mut commands),
                    Tab::Settings => self.settings_ui.ui(ui, data, &mut commands),
                    Tab::Verify => self.verify_ui.ui(ui, data, &mut commands),
                    Tab::Builds => self.builds_ui.ui(ui, data, &self.runner, &mut commands),
                    Tab::StatusPage => self.status_ui.ui(ui, data, &mut commands),
                    Tab::Flags => self.flags_ui.ui(ui, data, &mut commands),
                });
        });

        self.toasts.show(&ctx);
        for c in commands {
            self.apply(c);
        }
        if self.pending > 0 || self.runner.tasks().iter().any(|t| !t.state.is_finished()) {
            // Elapsed timers tick while something runs.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }
}

impl eframe::App for ConsoleApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.ui_root(ui);
    }
}
