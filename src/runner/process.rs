//! Child processes for tasks: each in a tree of its own (a process group on Unix, a job object
//! on Windows), line-by-line output, the whole tree ended on cancel.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

#[cfg(unix)]
use nix::sys::signal::{Signal, killpg};
#[cfg(unix)]
use nix::unistd::Pid;
use tokio::io::AsyncReadExt as _;

use super::{TaskContext, TaskError};

/// How long a cancelled process group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// Variables every child keeps when its environment is cleared: `PATH`, `HOME` and the locale
/// (and on Windows what the system itself needs to start a program).
pub const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    #[cfg(windows)]
    "SystemRoot",
    #[cfg(windows)]
    "SystemDrive",
    #[cfg(windows)]
    "windir",
    #[cfg(windows)]
    "PATHEXT",
    #[cfg(windows)]
    "TEMP",
    #[cfg(windows)]
    "TMP",
    #[cfg(windows)]
    "USERPROFILE",
    #[cfg(windows)]
    "APPDATA",
    #[cfg(windows)]
    "LOCALAPPDATA",
    #[cfg(windows)]
    "ProgramFiles",
    #[cfg(windows)]
    "ProgramFiles(x86)",
    #[cfg(windows)]
    "ProgramData",
    #[cfg(windows)]
    "ComSpec",
];

/// A command to run as part of a task.
#[derive(Clone, Default)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    /// Variables set for the child; values may be secrets (never shown by `Debug`).
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// `Some(names)`: the child starts from an empty environment with only [`BASE_ENV`], these
    /// inherited variables (when set) and `env`. `None`: it inherits this process's whole
    /// environment (short tool runs).
    pub inherit_only: Option<Vec<String>>,
}

impl std::fmt::Debug for ProcessSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, _)| format!("{k}=<redacted>"))
            .collect();
        f.debug_struct("ProcessSpec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &env)
            .field("cwd", &self.cwd)
            .field("inherit_only", &self.inherit_only)
            .finish()
    }
}

impl ProcessSpec {
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command line as a person would type it (for logs and dry runs).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(|a| {
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"') {
                    format!("{a:?}")
                } else {
                    a.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A child and everything it starts, ended as a whole when dropped: no orphans survive a
/// dropped or timed-out task. On Unix the child leads a process group of its own; on Windows it
/// is put in a job object that kills its processes when closed (so they also end when this
/// console does, in any way).
#[derive(Debug)]
struct Tree {
    #[cfg(unix)]
    group: Option<Pid>,
    #[cfg(windows)]
    job: Option<crate::os::Job>,
}

impl Tree {
    /// The tree of `child`, spawned from a command [`own_tree`] prepared.
    fn of(child: &tokio::process::Child) -> Self {
        #[cfg(unix)]
        {
            Self {
                group: child
                    .id()
                    .map(|id| Pid::from_raw(i32::try_from(id).unwrap_or(i32::MAX))),
            }
        }
        #[cfg(windows)]
        {
            let job = child.raw_handle().and_then(|h| {
                crate::os::Job::holding(h)
                    .map_err(|e| {
                        tracing::warn!("no job object for the child process: {e}");
                    })
                    .ok()
            });
            Self { job }
        }
    }

    /// Asks the tree to stop: SIGTERM to the group. (Windows has no such request for
    /// processes without a console window of their own: they are killed after the grace.)
    fn terminate(&self) {
        #[cfg(unix)]
        if let Some(group) = self.group {
            let _ = killpg(group, Signal::SIGTERM);
        }
    }

    /// Leaves what the child started running (it ended by itself; the rest is its business).
    fn release(mut self) {
        #[cfg(unix)]
        {
            self.group = None;
        }
        #[cfg(windows)]
        if let Some(job) = self.job.take() {
            job.release();
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(group) = self.group {
            let _ = killpg(group, Signal::SIGKILL);
        }
        #[cfg(windows)]
        if let Some(job) = &self.job {
            job.kill();
        }
    }
}

/// Makes `cmd` start a tree of its own: a new process group on Unix (on Windows the job
/// object is made once the process exists, [`Tree::of`]).
fn own_tree(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    #[cfg(unix)]
    cmd.process_group(0);
    cmd
}

/// Kills a builder's process group when this console dies in any way, `kill -9` included,
/// which no handler in the console can see: a tiny `sh` (in its own group) blocks reading a
/// pipe whose only write end this process holds (close-on-exec, so no other child has it). The
/// kernel closes that end when the console exits, the read returns, and the shell kills the
/// group. A builder that ends while the console lives disarms it first.
/// (On Windows the job object does this: it ends its processes when this console's handle to
/// it closes, which the system does when the console ends.)
#[derive(Debug)]
struct Watchdog(#[cfg(unix)] tokio::process::Child);

impl Watchdog {
    // The POSIX form of kill: dash takes neither `-KILL --` nor `-9 --`.
    #[cfg(unix)]
    const SCRIPT: &str = "read _ignored; kill -s KILL -- \"-$1\" 2>/dev/null";

    fn spawn(tree: &Tree) -> Option<Self> {
        #[cfg(windows)]
        {
            let _ = tree;
            None
        }
        #[cfg(unix)]
        {
            Self::spawn_for(tree.group?)
        }
    }

    #[cfg(unix)]
    fn spawn_for(group: Pid) -> Option<Self> {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.args(["-c", Self::SCRIPT, "release-console-watchdog"])
            .arg(group.to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        match own_tree(&mut cmd).spawn() {
            Ok(child) => Some(Self(child)),
            Err(e) => {
                tracing::warn!("no watchdog for process group {group}: {e}");
                None
            }
        }
    }

    /// Stops the watchdog without letting it act (the group is already dealt with).
    async fn disarm(this: Option<Self>) {
        #[cfg(unix)]
        if let Some(Self(mut child)) = this {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        #[cfg(windows)]
        drop(this);
    }
}

/// The command `spec` describes: its program, arguments and environment (only the names it
/// lets through, when it says so), no stdin, both streams piped, in a process group of its
/// own, killed when dropped.
fn command(spec: &ProcessSpec) -> tokio::process::Command {
    // Looked up in the PATH the child gets (its own, when the spec sets one).
    let program = match spec.env.iter().find(|(k, _)| k.as_str() == "PATH") {
        Some((_, path)) => crate::os::find_program_in(&spec.program, path.as_ref())
            .unwrap_or_else(|| spec.program.clone().into()),
        None => crate::os::resolve_program(spec.program.as_ref()),
    };
    let mut cmd = tokio::process::Command::new(program);
    if let Some(names) = &spec.inherit_only {
        cmd.env_clear();
        for name in BASE_ENV
            .iter()
            .copied()
            .chain(names.iter().map(String::as_str))
        {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
    }
    // The programs the child runs by name are the configured ones too (`[tools]`).
    if let Some(path) = crate::os::path_with_configured() {
        cmd.env("PATH", path);
    }
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    own_tree(&mut cmd);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd
}

/// Runs `spec` in its own process group, streaming stdout and stderr into the task log.
///
/// Returns the exit code on success (0). A non-zero exit is [`TaskError::Exit`]; cancellation
/// sends SIGTERM to the group, then SIGKILL after [`KILL_GRACE`].
pub async fn run(ctx: &TaskContext, spec: &ProcessSpec) -> Result<(), TaskError> {
    let mut cmd = command(spec);
    let mut child = cmd.spawn().map_err(|cause| TaskError::Spawn {
        program: spec.program.clone(),
        cause,
    })?;
    let tree = Tree::of(&child);
    let watchdog = Watchdog::spawn(&tree);

    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(out, ctx.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(err, ctx.clone())));
    }

    let status = tokio::select! {
        status = child.wait() => status,
        () = ctx.cancel_token().cancelled() => {
            tree.terminate();
            let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
            // Whatever is still running after the grace period (the leader, or children that
            // ignore SIGTERM) is killed with the tree.
            drop(tree);
            let _ = child.wait().await;
            Watchdog::disarm(watchdog).await;
            finish_readers(readers).await;
            return Err(TaskError::Cancelled);
        }
    }
    .map_err(|cause| TaskError::Spawn {
        program: spec.program.clone(),
        cause,
    })?;
    // The leader is gone; whatever it left running in its tree goes too.
    drop(tree);
    Watchdog::disarm(watchdog).await;
    finish_readers(readers).await;
    if status.success() {
        Ok(())
    } else {
        Err(TaskError::Exit {
            program: spec.program.clone(),
            status: status.to_string(),
        })
    }
}

/// Where the program `tool` is: its configured path (`[tools]`), else on PATH (with `PATHEXT`
/// on Windows).
pub fn find_on_path(tool: &str) -> Option<std::path::PathBuf> {
    crate::os::find_program(tool)
}

/// Runs a short tool (a version check, a verifier), not a task: returns whether it exited 0
/// and its stdout followed by stderr. Killed if it takes longer than `timeout`.
pub async fn capture<S: AsRef<std::ffi::OsStr>>(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[S],
    timeout: Duration,
) -> Result<(bool, String), String> {
    let name = program.as_ref().to_string_lossy().into_owned();
    let mut cmd = tokio::process::Command::new(crate::os::resolve_program(program.as_ref()));
    // Its own process group, so a timeout kills whatever the tool started too.
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = match own_tree(&mut cmd).spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "`{name}` is not installed ({})",
                crate::os::install_hint(&name)
            ));
        }
        Err(e) => return Err(format!("cannot run `{name}`: {e}")),
    };
    let tree = Tree::of(&child);
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        // The guard kills the group as it drops.
        Err(_) => Err(format!(
            "`{name}` did not finish within {} s",
            timeout.as_secs()
        )),
        Ok(Err(e)) => Err(format!("cannot run `{name}`: {e}")),
        Ok(Ok(out)) => {
            // It ended by itself: what it left running in the background is its own business.
            tree.release();
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Ok((out.status.success(), text))
        }
    }
}

/// What a short command left: its exit, and what it printed on each stream.
#[derive(Debug, Clone)]
pub struct Captured {
    pub success: bool,
    /// The exit status as text (`exit status: 128`).
    pub status: String,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `spec` as a short command, not a task: in its own process group, its environment as
/// `spec` says, each stream read up to `limit` bytes. A command that prints more than `limit`
/// on either stream, or takes longer than `timeout`, is killed with its group, and that is the
/// error.
pub async fn output(
    spec: &ProcessSpec,
    timeout: Duration,
    limit: usize,
) -> Result<Captured, String> {
    let mut cmd = command(spec);
    let name = &spec.program;
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("`{name}` is not installed"));
        }
        Err(e) => return Err(format!("cannot run `{name}`: {e}")),
    };
    let tree = Tree::of(&child);
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read = |stream: Option<tokio::process::ChildStdout>| async move {
        let mut buf = Vec::new();
        if let Some(s) = stream {
            let _ = s.take(cap).read_to_end(&mut buf).await;
        }
        buf
    };
    let read_err = |stream: Option<tokio::process::ChildStderr>| async move {
        let mut buf = Vec::new();
        if let Some(s) = stream {
            let _ = s.take(cap).read_to_end(&mut buf).await;
        }
        buf
    };
    let work = async {
        let (out, err) = tokio::join!(read(stdout), read_err(stderr));
        if out.len() > limit || err.len() > limit {
            // The guard kills the group as it drops: it may be blocked writing the rest.
            return Err(format!("`{name}` printed more than {limit} bytes"));
        }
        let status = child
            .wait()
            .await
            .map_err(|e| format!("cannot run `{name}`: {e}"))?;
        Ok((status, out, err))
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(format!(
            "`{name}` did not finish within {} s",
            timeout.as_secs()
        )),
        Ok(Err(e)) => Err(e),
        Ok(Ok((status, stdout, stderr))) => {
            tree.release();
            Ok(Captured {
                success: status.success(),
                status: status.to_string(),
                stdout,
                stderr,
            })
        }
    }
}

async fn finish_readers(readers: Vec<tokio::task::JoinHandle<()>>) {
    for r in readers {
        // Every process that held the pipe was killed, so EOF comes quickly.
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
}

async fn pump(mut src: impl tokio::io::AsyncRead + Unpin, ctx: TaskContext) {
    let mut splitter = super::log::LineSplitter::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match src.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => ctx.log_bytes(&mut splitter, &buf[..n]),
        }
    }
    ctx.log_finish(&mut splitter);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_an_environment_value() {
        let mut spec = ProcessSpec::new("osslsigncode").arg("sign");
        spec.env
            .push(("WINDOWS_PFX_PASSWORD".into(), "hunter2-pfx".into()));
        let shown = format!("{spec:?} {spec:#?}");
        assert!(!shown.contains("hunter2-pfx"), "{shown}");
        assert!(shown.contains("WINDOWS_PFX_PASSWORD=<redacted>"), "{shown}");
        assert!(shown.contains("osslsigncode"), "{shown}");
    }
}
