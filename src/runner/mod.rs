//! The shared task runner: named long-running tasks on one tokio runtime, with states, logs,
//! progress, cancellation and timeouts. The GUI and the CLI subscribe to the same events.
//!
//! Two streams leave the runner. [`Runner::subscribe`] carries every event, output included, on
//! a bounded broadcast channel: a subscriber that falls behind skips events (`Lagged`) and
//! catches up by reading the task table ([`Runner::tasks`]) and the log buffers, which hold the
//! state and the lines. [`Runner::lifecycle`] carries only a task's changes of state (queued,
//! started, finished), a few per task, on a channel of its own that never drops one, so a
//! flood of output can never hide a task's end.

pub mod log;
pub mod process;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use self::log::{LogBuffer, Redactor};
pub use self::process::ProcessSpec;

/// How many finished tasks are kept in memory (their logs stay on disk).
const KEEP_FINISHED: usize = 50;
/// How long a cancelled task's work gets to wind down before it is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Identifies a task for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct TaskId(pub u64);

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }
}

/// What to run: a unique name while running, a kind (checklist items auto-tick on a kind's
/// success), a timeout, where the log goes on disk, and which secrets to mask.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub name: String,
    pub kind: String,
    /// The release this task belongs to, if any.
    pub release: Option<String>,
    pub timeout: Duration,
    pub log_file: Option<PathBuf>,
    pub redactor: Redactor,
    /// In-memory log bound in bytes.
    pub max_log_bytes: usize,
}

impl TaskSpec {
    pub fn new(name: impl Into<String>, kind: impl Into<String>, timeout: Duration) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            release: None,
            timeout,
            log_file: None,
            redactor: Redactor::default(),
            max_log_bytes: log::DEFAULT_MAX_BYTES,
        }
    }
}

/// The identity of a task, handed to hooks and events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub name: String,
    pub kind: String,
    pub release: Option<String>,
}

/// Why a task's work failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("cancelled")]
    Cancelled,
    #[error("cannot run `{program}`: {cause}")]
    Spawn {
        program: String,
        cause: std::io::Error,
    },
    #[error("`{program}` failed: {status}")]
    Exit { program: String, status: String },
    #[error("{0}")]
    Failed(String),
}

/// The result of a task's work: a one-line summary on success.
pub type TaskResult = Result<String, TaskError>;

/// Something the runner reports. Logs are not carried line by line: `Output` says new lines are
/// in the task's [`LogBuffer`], so a slow subscriber never holds back a fast task.
///
/// `Queued`, `Started` and `Finished` are a task's changes of state: they also go to every
/// [`Runner::lifecycle`] receiver, which never loses one. `Output`, `Progress` and `Step` only
/// go to the lossy broadcast; what they report is kept in the task table.
#[derive(Debug, Clone)]
pub enum TaskEvent {
    Queued(TaskInfo),
    Started(TaskInfo),
    Output {
        id: TaskId,
        total_lines: u64,
    },
    Progress {
        id: TaskId,
        fraction: f32,
        step: Option<String>,
    },
    /// A new step began (from a `::step::` line or [`TaskContext::begin_step`]).
    Step {
        id: TaskId,
        name: String,
    },
    Finished {
        info: TaskInfo,
        state: TaskState,
        message: String,
    },
}

impl TaskEvent {
    /// Whether this is a change of the task's state (sent on [`Runner::lifecycle`] too).
    pub fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            TaskEvent::Queued(_) | TaskEvent::Started(_) | TaskEvent::Finished { .. }
        )
    }
}

/// A point-in-time view of a task, for the task tray and the CLI.
#[derive(Debug, Clone)]
pub struct TaskSnapshot {
    pub info: TaskInfo,
    pub state: TaskState,
    pub elapsed: Duration,
    pub progress: Option<f32>,
    pub step: Option<String>,
    /// Success summary or failure reason once finished.
    pub message: Option<String>,
    pub log: Arc<Mutex<LogBuffer>>,
    pub log_file: Option<PathBuf>,
    /// Steps announced with `::step:: NAME` lines, in order.
    pub steps: Vec<Step>,
}

/// A step of a task, announced by a `::step:: NAME` output line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// When it started, from the task's start.
    pub started_after: Duration,
}

/// Output line prefix that starts a named step.
pub const STEP_MARKER: &str = "::step:: ";
/// Output line prefix that names a file the task produced.
pub const ARTIFACT_MARKER: &str = "::artifact:: ";

/// Observes task starts and ends (audit log, checklist auto-ticks). Called off the async
/// workers, so it may do blocking I/O; the event is sent after the hook returns. An error is
/// written into the task's log, never dropped.
pub trait TaskHook: Send + Sync {
    fn on_start(&self, task: &TaskInfo) -> Result<(), String>;
    fn on_finish(&self, task: &TaskInfo, state: TaskState, message: &str) -> Result<(), String>;
}

/// Refusals from [`Runner::start`].
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("a task named {0:?} is already running")]
    DuplicateName(String),
    #[error("task {0:?}: cannot open log file {1}: {2}")]
    LogFile(String, PathBuf, std::io::Error),
}

struct Entry {
    info: TaskInfo,
    state: TaskState,
    started: Option<Instant>,
    finished: Option<Instant>,
    progress: Option<f32>,
    step: Option<String>,
    message: Option<String>,
    log: Arc<Mutex<LogBuffer>>,
    log_file: Option<PathBuf>,
    steps: Vec<Step>,
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
}

type Notifier = Arc<dyn Fn() + Send + Sync>;

struct Inner {
    handle: Handle,
    tasks: Mutex<VecDeque<Entry>>,
    events: broadcast::Sender<TaskEvent>,
    /// One sender per [`Runner::lifecycle`] receiver; closed ones are dropped on the next send.
    lifecycle: Mutex<Vec<mpsc::UnboundedSender<TaskEvent>>>,
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    notifier: Mutex<Option<Notifier>>,
    hook: Mutex<Option<Arc<dyn TaskHook>>>,
}

/// Aborts a spawned future when dropped, so its process groups die with the task.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a task or fetch that panicked says: `panicked: MESSAGE`.
pub fn panic_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return format!("stopped: {e}");
    }
    let payload = e.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!("panicked: {text}")
}

/// The one task runner of a process. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("tasks", &lock(&self.inner.tasks).len())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Runner {
    /// A runner on `handle` running at most `max_concurrent` tasks at once (others queue).
    pub fn new(handle: Handle, max_concurrent: usize) -> Self {
        let (events, _) = broadcast::channel(4096);
        Self {
            inner: Arc::new(Inner {
                handle,
                tasks: Mutex::new(VecDeque::new()),
                events,
                lifecycle: Mutex::new(Vec::new()),
                slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
                next_id: AtomicU64::new(1),
                notifier: Mutex::new(None),
                hook: Mutex::new(None),
            }),
        }
    }

    pub fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    /// Receives every event from now on, output included. Bounded: a receiver that falls more
    /// than 4,096 events behind gets `Lagged` and skips the oldest, so use it to wake up and
    /// read state ([`Runner::task`]), or use [`Runner::lifecycle`] for what must not be missed.
    pub fn subscribe(&self) -> broadcast::Receiver<TaskEvent> {
        self.inner.events.subscribe()
    }

    /// Receives every change of a task's state from now on (`Queued`, `Started`, `Finished`), in
    /// order and never dropped, however much output the tasks print. Unbounded, but it holds
    /// at most three events per task started while it goes unread; drop it to unsubscribe.
    pub fn lifecycle(&self) -> mpsc::UnboundedReceiver<TaskEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.inner.lifecycle).push(tx);
        rx
    }

    /// Called after every event (the GUI passes `request_repaint`).
    pub fn set_notifier(&self, notifier: impl Fn() + Send + Sync + 'static) {
        *lock(&self.inner.notifier) = Some(Arc::new(notifier));
    }

    /// Replaces the start/finish hook (a new workspace brings its own).
    pub fn set_hook(&self, hook: Option<Arc<dyn TaskHook>>) {
        *lock(&self.inner.hook) = hook;
    }

    /// Starts `work` as a task. Refused when a task with the same name is queued or running.
    pub fn start<F, Fut>(&self, spec: TaskSpec, work: F) -> Result<TaskId, RunnerError>
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = TaskResult> + Send + 'static,
    {
        let log_writer = match &spec.log_file {
            Some(path) => {
                let open = || {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    File::create(path)
                };
                let file =
                    open().map_err(|e| RunnerError::LogFile(spec.name.clone(), path.clone(), e))?;
                Some(BufWriter::with_capacity(64 * 1024, file))
            }
            None => None,
        };
        let id = TaskId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let info = TaskInfo {
            id,
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            release: spec.release.clone(),
        };
        let cancel = CancellationToken::new();
        let log = Arc::new(Mutex::new(LogBuffer::with_max_bytes(spec.max_log_bytes)));
        let (done_tx, done_rx) = watch::channel(false);
        {
            let mut tasks = lock(&self.inner.tasks);
            if tasks
                .iter()
                .any(|t| t.info.name == spec.name && !t.state.is_finished())
            {
                return Err(RunnerError::DuplicateName(spec.name));
            }
            tasks.push_back(Entry {
                info: info.clone(),
                state: TaskState::Queued,
                started: None,
                finished: None,
                progress: None,
                step: None,
                message: None,
                log: log.clone(),
                log_file: spec.log_file.clone(),
                steps: Vec::new(),
                cancel: cancel.clone(),
                done: done_rx,
            });
            prune_finished(&mut tasks);
        }
        let ctx = TaskContext {
            shared: Arc::new(ContextShared {
                id,
                runner: self.clone(),
                log,
                file: Mutex::new(log_writer),
                redactor: spec.redactor.clone(),
                cancel: cancel.clone(),
                artifacts: Mutex::new(Vec::new()),
            }),
        };
        self.emit(TaskEvent::Queued(info.clone()));
        let runner = self.clone();
        self.inner.handle.spawn(async move {
            runner.drive(info, spec.timeout, cancel, ctx, work).await;
            let _ = done_tx.send(true);
        });
        Ok(id)
    }

    async fn drive<F, Fut>(
        &self,
        info: TaskInfo,
        timeout: Duration,
        cancel: CancellationToken,
        ctx: TaskContext,
        work: F,
    ) where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = TaskResult> + Send + 'static,
    {
        let slots = self.inner.slots.clone();
        let permit = tokio::select! {
            permit = slots.acquire_owned() => permit.ok(),
            () = cancel.cancelled() => None,
        };
        let Some(_permit) = permit else {
            self.finish(
                &info,
                TaskState::Cancelled,
                "cancelled while queued".into(),
                &ctx,
            )
            .await;
            return;
        };
        self.update(info.id, |e| {
            e.state = TaskState::Running;
            e.started = Some(Instant::now());
        });
        self.call_hook(&info, None, &ctx).await;
        self.emit(TaskEvent::Started(info.clone()));

        let (state, message) = {
            // The work runs as its own tokio task, so that a panic in it ends this task as
            // Failed (with the panic's message) instead of leaving it running forever.
            let mut work = AbortOnDrop(self.inner.handle.spawn(work(ctx.clone())));
            let deadline = tokio::time::sleep(timeout);
            tokio::select! {
                joined = &mut work.0 => match joined {
                    Ok(Ok(summary)) => (TaskState::Succeeded, summary),
                    Ok(Err(_)) if cancel.is_cancelled() => (TaskState::Cancelled, "cancelled".into()),
                    Ok(Err(TaskError::Cancelled)) => (TaskState::Cancelled, "cancelled".into()),
                    Ok(Err(e)) => (TaskState::Failed, e.to_string()),
                    Err(e) => (TaskState::Failed, panic_message(e)),
                },
                () = deadline => {
                    cancel.cancel();
                    (TaskState::Failed, format!("timed out after {} s", timeout.as_secs_f64()))
                }
                () = cancel.cancelled() => {
                    // Give the work a moment to stop its processes gracefully. Work that ends
                    // done in that moment (past the point where it could stop: a publish that
                    // went live) did what it says, and is not called cancelled.
                    match tokio::time::timeout(CANCEL_GRACE, &mut work.0).await {
                        Ok(Ok(Ok(summary))) => (
                            TaskState::Succeeded,
                            format!("{summary} (it ended before the cancel could stop it)"),
                        ),
                        _ => (TaskState::Cancelled, "cancelled".into()),
                    }
                }
            }
            // `work` is aborted here if it still runs: its future drops, and any process group
            // it still owned is killed.
        };
        self.finish(&info, state, message, &ctx).await;
    }

    async fn finish(&self, info: &TaskInfo, state: TaskState, message: String, ctx: &TaskContext) {
        // The summary reaches toasts, the tray and the audit log: masked like every log line.
        let message = ctx.shared.redactor.redact(&message).into_owned();
        ctx.log_line(&format!("[{}] {message}", state.as_str()));
        self.call_hook(info, Some((state, &message)), ctx).await;
        if let Some(mut w) = lock(&ctx.shared.file).take() {
            let _ = w.flush();
        }
        self.update(info.id, |e| {
            e.state = state;
            e.finished = Some(Instant::now());
            e.message = Some(message.clone());
        });
        self.emit(TaskEvent::Finished {
            info: info.clone(),
            state,
            message,
        });
    }

    async fn call_hook(
        &self,
        info: &TaskInfo,
        finished: Option<(TaskState, &str)>,
        ctx: &TaskContext,
    ) {
        let Some(hook) = lock(&self.inner.hook).clone() else {
            return;
        };
        let info = info.clone();
        let finished = finished.map(|(s, m)| (s, m.to_owned()));
        let result = tokio::task::spawn_blocking(move || match finished {
            None => hook.on_start(&info),
            Some((state, message)) => hook.on_finish(&info, state, &message),
        })
        .await
        .unwrap_or_else(|e| Err(format!("hook panicked: {e}")));
        if let Err(e) = result {
            ctx.log_line(&format!("[audit] could not record this task: {e}"));
        }
    }

    fn update(&self, id: TaskId, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = lock(&self.inner.tasks).iter_mut().find(|e| e.info.id == id) {
            f(e);
        }
    }

    fn emit(&self, event: TaskEvent) {
        if event.is_lifecycle() {
            lock(&self.inner.lifecycle).retain(|tx| tx.send(event.clone()).is_ok());
        }
        let _ = self.inner.events.send(event);
        let notifier = lock(&self.inner.notifier).clone();
        if let Some(n) = notifier {
            n();
        }
    }

    /// Asks a task to stop: its process groups get SIGTERM, then SIGKILL.
    pub fn cancel(&self, id: TaskId) {
        if let Some(e) = lock(&self.inner.tasks).iter().find(|e| e.info.id == id) {
            e.cancel.cancel();
        }
    }

    /// Every task still in memory, oldest first.
    pub fn tasks(&self) -> Vec<TaskSnapshot> {
        lock(&self.inner.tasks).iter().map(snapshot).collect()
    }

    pub fn task(&self, id: TaskId) -> Option<TaskSnapshot> {
        lock(&self.inner.tasks)
            .iter()
            .find(|e| e.info.id == id)
            .map(snapshot)
    }

    /// Waits until the task has finished and returns its final snapshot.
    pub async fn wait(&self, id: TaskId) -> Option<TaskSnapshot> {
        let mut done = lock(&self.inner.tasks)
            .iter()
            .find(|e| e.info.id == id)?
            .done
            .clone();
        let _ = done.wait_for(|d| *d).await;
        self.task(id)
    }

    /// Removes finished tasks from the tray (their logs stay on disk).
    pub fn clear_finished(&self) {
        lock(&self.inner.tasks).retain(|e| !e.state.is_finished());
    }
}

fn snapshot(e: &Entry) -> TaskSnapshot {
    let elapsed = match (e.started, e.finished) {
        (Some(s), Some(f)) => f.duration_since(s),
        (Some(s), None) => s.elapsed(),
        _ => Duration::ZERO,
    };
    TaskSnapshot {
        info: e.info.clone(),
        state: e.state,
        elapsed,
        progress: e.progress,
        step: e.step.clone(),
        message: e.message.clone(),
        log: e.log.clone(),
        log_file: e.log_file.clone(),
        steps: e.steps.clone(),
    }
}

fn prune_finished(tasks: &mut VecDeque<Entry>) {
    let finished = tasks.iter().filter(|e| e.state.is_finished()).count();
    let mut excess = finished.saturating_sub(KEEP_FINISHED);
    tasks.retain(|e| {
        if excess > 0 && e.state.is_finished() {
            excess -= 1;
            false
        } else {
            true
        }
    });
}

struct ContextShared {
    id: TaskId,
    runner: Runner,
    log: Arc<Mutex<LogBuffer>>,
    file: Mutex<Option<BufWriter<File>>>,
    redactor: Redactor,
    cancel: CancellationToken,
    artifacts: Mutex<Vec<PathBuf>>,
}

/// What a task's work gets: its log, progress, cancellation and child processes.
#[derive(Clone)]
pub struct TaskContext {
    shared: Arc<ContextShared>,
}

impl std::fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("id", &self.shared.id)
            .finish()
    }
}

impl TaskContext {
    pub fn id(&self) -> TaskId {
        self.shared.id
    }

    pub fn cancel_token(&self) -> &CancellationToken {
        &self.shared.cancel
    }

    /// Appends one line to the task log (redacted first).
    pub fn log_line(&self, line: &str) {
        let total = {
            let mut buf = lock(&self.shared.log);
            let mut file = lock(&self.shared.file);
            self.store(&mut buf, &mut file, line);
            buf.total_lines()
        };
        self.shared.runner.emit(TaskEvent::Output {
            id: self.shared.id,
            total_lines: total,
        });
    }

    fn store(&self, buf: &mut LogBuffer, file: &mut Option<BufWriter<File>>, line: &str) {
        let line = self.shared.redactor.redact(line);
        if let Some(w) = file.as_mut() {
            let _ = w.write_all(line.as_bytes());
            let _ = w.write_all(b"\n");
        }
        if let Some(name) = line.strip_prefix(STEP_MARKER) {
            self.begin_step(name.trim());
        } else if let Some(path) = line.strip_prefix(ARTIFACT_MARKER) {
            lock(&self.shared.artifacts).push(PathBuf::from(path.trim()));
        }
        buf.push(&line);
    }

    /// Starts a named step (also done by `::step:: NAME` output lines).
    pub fn begin_step(&self, name: &str) {
        let name = name.to_owned();
        self.shared.runner.update(self.shared.id, |e| {
            let started_after = e.started.map_or(Duration::ZERO, |s| s.elapsed());
            e.steps.push(Step {
                name: name.clone(),
                started_after,
            });
            e.step = Some(name.clone());
        });
        self.shared.runner.emit(TaskEvent::Step {
            id: self.shared.id,
            name,
        });
    }

    /// This task's current snapshot (steps, elapsed time).
    pub fn snapshot(&self) -> Option<TaskSnapshot> {
        self.shared.runner.task(self.shared.id)
    }

    /// Files announced with `::artifact:: PATH` lines so far.
    pub fn artifacts(&self) -> Vec<PathBuf> {
        lock(&self.shared.artifacts).clone()
    }

    /// Feeds raw output bytes; complete lines are redacted and stored under one lock.
    pub(crate) fn log_bytes(&self, splitter: &mut log::LineSplitter, bytes: &[u8]) {
        let total = {
            let mut buf = lock(&self.shared.log);
            let mut file = lock(&self.shared.file);
            splitter.feed(bytes, |line| self.store(&mut buf, &mut file, line));
            buf.total_lines()
        };
        self.shared.runner.emit(TaskEvent::Output {
            id: self.shared.id,
            total_lines: total,
        });
    }

    pub(crate) fn log_finish(&self, splitter: &mut log::LineSplitter) {
        let mut buf = lock(&self.shared.log);
        let mut file = lock(&self.shared.file);
        splitter.finish(|line| self.store(&mut buf, &mut file, line));
    }

    /// Reports progress (0.0..=1.0) and optionally the current step.
    pub fn set_progress(&self, fraction: f32, step: Option<&str>) {
        let fraction = fraction.clamp(0.0, 1.0);
        self.shared.runner.update(self.shared.id, |e| {
            e.progress = Some(fraction);
            if let Some(s) = step {
                e.step = Some(s.to_owned());
            }
        });
        self.shared.runner.emit(TaskEvent::Progress {
            id: self.shared.id,
            fraction,
            step: step.map(str::to_owned),
        });
    }

    /// Runs a child process in its own process group, its output going to this task's log.
    pub async fn run_process(&self, spec: &ProcessSpec) -> Result<(), TaskError> {
        self.log_line(&format!("$ {}", spec.display()));
        process::run(self, spec).await
    }
}
