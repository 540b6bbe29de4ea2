//! Builds on a CI engine instead of this host: dispatch a workflow run, watch its jobs and
//! steps, cancel or re-run what failed, and fetch and unpack its artifacts. GitHub Actions is
//! the engine today (`github.rs`); the [`CiEngine`] trait is what another one (GitLab CI,
//! Buildkite) implements, and [`Engine`] the enum that holds whichever the workspace uses (a
//! new engine is a variant there and an arm in each method).

pub mod archive;
pub mod github;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runner::{TaskContext, TaskError};

/// Why a remote call failed, in words a release manager can act on.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{0}")]
    Config(String),
    /// The server refused or failed; the message names the request and the server's words.
    #[error("{0}")]
    Http(String),
    /// A request that changes something may have arrived without its answer (a timeout or a
    /// broken connection after sending, a gateway's 502/503/504): it is never sent again
    /// before its effect is looked for.
    #[error("{0}")]
    Uncertain(String),
    #[error("cancelled")]
    Cancelled,
    /// An artifact past its retention (GitHub answers 410 Gone).
    #[error("{0}")]
    Expired(String),
    /// An archive that would write outside its folder, or that cannot be read.
    #[error("{0}")]
    Archive(String),
    /// A file of the download or the unpacked artifact that cannot be written or read.
    #[error("{}: {cause}", path.display())]
    Io {
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
    /// Work run off the async threads (a token lookup, an unpacking) panicked or was stopped.
    #[error("{what}: {cause}")]
    Stopped {
        what: &'static str,
        cause: tokio::task::JoinError,
    },
}

impl From<RemoteError> for TaskError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::Cancelled => TaskError::Cancelled,
            other => TaskError::Failed(other.to_string()),
        }
    }
}

/// The inputs of a dispatched build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRequest {
    /// The workflow's `platform` input.
    pub platform: String,
    pub version: String,
    pub skip_signing: bool,
    pub resume: bool,
    /// Put into the run's name so the console can tell its run from anyone else's.
    pub correlation_id: String,
}

/// A run the console started or adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    pub id: u64,
    /// Where a person sees it.
    pub html_url: String,
}

vendor_enum! {
    /// Where a run, job or step is (GitHub Actions' `status`; another engine maps to these).
    pub enum Status {
        Queued = "queued", InProgress = "in_progress", Completed = "completed",
        Waiting = "waiting", Requested = "requested", Pending = "pending",
    }
}

vendor_enum! {
    /// How a completed run, job or step ended (GitHub Actions' `conclusion`).
    pub enum Conclusion {
        Success = "success", Failure = "failure", Cancelled = "cancelled",
        TimedOut = "timed_out", Skipped = "skipped", Neutral = "neutral",
        ActionRequired = "action_required", Stale = "stale", StartupFailure = "startup_failure",
    }
}

/// A run as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    pub id: u64,
    pub html_url: String,
    pub title: String,
    pub status: Status,
    /// Once completed.
    pub conclusion: Option<Conclusion>,
    pub attempt: u32,
    /// The commit the run builds (GitHub's `head_sha`), when the engine says: what
    /// `release tag` tags after a remote build.
    pub head_sha: Option<String>,
    pub jobs: Vec<JobView>,
}

impl RunView {
    pub fn is_completed(&self) -> bool {
        self.status == Status::Completed
    }

    pub fn succeeded(&self) -> bool {
        self.conclusion == Some(Conclusion::Success)
    }

    /// The jobs (and their first failed step) that did not succeed, for a failure message.
    pub fn failures(&self) -> Vec<String> {
        self.jobs
            .iter()
            .filter(|j| {
                j.progress.status == Status::Completed
                    && !matches!(
                        j.progress.conclusion,
                        Some(Conclusion::Success | Conclusion::Skipped)
                    )
            })
            .map(|j| {
                let step = j.steps.iter().find(|s| {
                    matches!(
                        s.progress.conclusion,
                        Some(Conclusion::Failure | Conclusion::TimedOut)
                    )
                });
                let how = j
                    .progress
                    .conclusion
                    .as_ref()
                    .map_or("unfinished", Conclusion::as_str);
                match step {
                    Some(s) => format!("{} {how} at step {:?}", j.name, s.name),
                    None => format!("{} {how}", j.name),
                }
            })
            .collect()
    }
}

/// One job of a run (read as GitHub's jobs API spells it; another engine maps to it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct JobView {
    pub id: u64,
    pub name: String,
    #[serde(flatten)]
    pub progress: Progress,
    #[serde(default)]
    pub steps: Vec<StepView>,
}

/// One step of a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct StepView {
    pub number: u64,
    pub name: String,
    #[serde(flatten)]
    pub progress: Progress,
}

/// Where a job or a step is, how it ended, and when it started and completed by the engine's
/// clock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Progress {
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub started_at: Option<jiff::Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub completed_at: Option<jiff::Timestamp>,
}

/// A time the engine gives as RFC 3339; absent, null or unreadable is `None` (a step's
/// duration is then not shown), never an error that loses the whole run.
fn lenient_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<jiff::Timestamp>, D::Error> {
    let text = <Option<String> as serde::Deserialize>::deserialize(d)?;
    Ok(text.and_then(|t| t.parse().ok()))
}

impl Progress {
    /// Seconds from start to end (or to `now` while it runs), by the engine's clock.
    pub fn seconds(&self, now: jiff::Timestamp) -> f64 {
        match (self.started_at, self.completed_at) {
            (Some(s), Some(e)) => e.duration_since(s).as_secs_f64().max(0.0),
            (Some(s), None) => now.duration_since(s).as_secs_f64().max(0.0),
            _ => 0.0,
        }
    }
}

/// An artifact a run uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactView {
    pub id: u64,
    pub name: String,
    pub size_bytes: u64,
    pub expired: bool,
    pub expires_at: Option<String>,
}

/// The run a platform's last remote build used, saved in `pipeline.json` as soon as it is
/// known, so a console that closes while it builds watches it again instead of starting
/// another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRun {
    /// `github`.
    pub engine: String,
    pub run_id: u64,
    pub html_url: String,
    pub correlation_id: String,
    /// The release version the run builds.
    pub version: String,
    #[serde(default)]
    pub attempt: u32,
}

/// A CI engine the console can drive. Every call honours the task's cancellation and the
/// engine's rate limits (waiting, with a line in the task log, when it must).
pub trait CiEngine: Send + Sync {
    /// Shown in logs and the Builds panel: `GitHub Actions`.
    fn title(&self) -> &'static str;
    /// The key saved with a run: `github`.
    fn key(&self) -> &'static str;
    /// Starts a run and returns it once the engine names it; never someone else's run.
    fn dispatch(
        &self,
        req: &DispatchRequest,
    ) -> impl Future<Output = Result<RunRef, RemoteError>> + Send;
    /// The run a dispatch with `correlation_id` started, looked for a while; `None` when none
    /// appeared (the dispatch did not arrive).
    fn find_dispatched(
        &self,
        correlation_id: &str,
    ) -> impl Future<Output = Result<Option<RunRef>, RemoteError>> + Send;
    /// The run with its jobs and steps.
    fn run(&self, id: u64) -> impl Future<Output = Result<RunView, RemoteError>> + Send;
    fn cancel(&self, id: u64) -> impl Future<Output = Result<(), RemoteError>> + Send;
    /// Runs the failed and cancelled jobs of a completed run again (a new attempt).
    fn rerun_failed(&self, id: u64) -> impl Future<Output = Result<(), RemoteError>> + Send;
    fn artifacts(
        &self,
        run_id: u64,
    ) -> impl Future<Output = Result<Vec<ArtifactView>, RemoteError>> + Send;
    /// Streams an artifact's archive to `to`; returns the bytes written.
    fn download(
        &self,
        artifact: &ArtifactView,
        to: &Path,
    ) -> impl Future<Output = Result<u64, RemoteError>> + Send;
    /// A finished job's log text.
    fn job_log(&self, job_id: u64) -> impl Future<Output = Result<String, RemoteError>> + Send;
}

/// The engine a platform builds on: GitHub Actions today. Another engine is a variant here
/// and an arm in each method below.
#[derive(Debug)]
pub enum Engine {
    GitHub(github::GitHub),
}

impl CiEngine for Engine {
    fn title(&self) -> &'static str {
        match self {
            Engine::GitHub(e) => e.title(),
        }
    }

    fn key(&self) -> &'static str {
        match self {
            Engine::GitHub(e) => e.key(),
        }
    }

    async fn dispatch(&self, req: &DispatchRequest) -> Result<RunRef, RemoteError> {
        match self {
            Engine::GitHub(e) => e.dispatch(req).await,
        }
    }

    async fn find_dispatched(&self, correlation_id: &str) -> Result<Option<RunRef>, RemoteError> {
        match self {
            Engine::GitHub(e) => e.find_dispatched(correlation_id).await,
        }
    }

    async fn run(&self, id: u64) -> Result<RunView, RemoteError> {
        match self {
            Engine::GitHub(e) => e.run(id).await,
        }
    }

    async fn cancel(&self, id: u64) -> Result<(), RemoteError> {
        match self {
            Engine::GitHub(e) => e.cancel(id).await,
        }
    }

    async fn rerun_failed(&self, id: u64) -> Result<(), RemoteError> {
        match self {
            Engine::GitHub(e) => e.rerun_failed(id).await,
        }
    }

    async fn artifacts(&self, run_id: u64) -> Result<Vec<ArtifactView>, RemoteError> {
        match self {
            Engine::GitHub(e) => e.artifacts(run_id).await,
        }
    }

    async fn download(&self, artifact: &ArtifactView, to: &Path) -> Result<u64, RemoteError> {
        match self {
            Engine::GitHub(e) => e.download(artifact, to).await,
        }
    }

    async fn job_log(&self, job_id: u64) -> Result<String, RemoteError> {
        match self {
            Engine::GitHub(e) => e.job_log(job_id).await,
        }
    }
}

/// The most log lines copied from one remote job into the task log (the last ones are kept).
pub const MAX_JOB_LOG_LINES: usize = 4000;

/// Watches run `id` until it completes: each remote step becomes a step of the task as it
/// starts (`job: step`), each finished step a log line with its conclusion and duration, each
/// finished job's log is copied into the task log. A cancel of the task cancels the run.
pub async fn watch(
    ctx: &TaskContext,
    engine: &impl CiEngine,
    id: u64,
    poll: Duration,
) -> Result<RunView, RemoteError> {
    let mut started: BTreeSet<(u32, u64, u64)> = BTreeSet::new();
    let mut finished: BTreeSet<(u32, u64, u64)> = BTreeSet::new();
    let mut logged_jobs: BTreeSet<(u32, u64)> = BTreeSet::new();
    let mut last_status = String::new();
    loop {
        let view = match engine.run(id).await {
            Ok(v) => v,
            Err(RemoteError::Cancelled) => return cancel(ctx, engine, id).await,
            Err(e) => return Err(e),
        };
        let status = format!(
            "{}{}",
            view.status,
            view.conclusion
                .as_ref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        );
        if status != last_status {
            ctx.log_line(&format!(
                "{} run #{} attempt {}: {status}",
                engine.title(),
                view.id,
                view.attempt
            ));
            last_status = status;
        }
        let now = jiff::Timestamp::now();
        for job in &view.jobs {
            for step in &job.steps {
                let key = (view.attempt, job.id, step.number);
                if step.progress.status != Status::Queued && started.insert(key) {
                    ctx.begin_step(&format!("{}: {}", job.name, step.name));
                }
                if step.progress.status == Status::Completed && finished.insert(key) {
                    ctx.log_line(&format!(
                        "  {}: {} {} ({})",
                        job.name,
                        step.name,
                        step.progress
                            .conclusion
                            .as_ref()
                            .map_or("done", Conclusion::as_str),
                        crate::human_duration(Duration::from_secs_f64(step.progress.seconds(now)))
                    ));
                }
            }
            if job.progress.status == Status::Completed
                && logged_jobs.insert((view.attempt, job.id))
            {
                copy_job_log(ctx, engine, job).await;
            }
        }
        if view.is_completed() {
            return Ok(view);
        }
        tokio::select! {
            () = ctx.cancel_token().cancelled() => return cancel(ctx, engine, id).await,
            () = tokio::time::sleep(poll) => {}
        }
    }
}

async fn cancel<T>(ctx: &TaskContext, engine: &impl CiEngine, id: u64) -> Result<T, RemoteError> {
    ctx.log_line(&format!("cancelling {} run #{id}", engine.title()));
    // The task is already cancelled: the request gets its own short budget, outside it.
    match tokio::time::timeout(Duration::from_secs(30), engine.cancel(id)).await {
        Ok(Ok(())) => ctx.log_line(&format!("asked {} to cancel run #{id}", engine.title())),
        Ok(Err(e)) => ctx.log_line(&format!("could not cancel run #{id}: {e}")),
        Err(_) => ctx.log_line(&format!("could not cancel run #{id}: no answer in 30 s")),
    }
    Err(RemoteError::Cancelled)
}

async fn copy_job_log(ctx: &TaskContext, engine: &impl CiEngine, job: &JobView) {
    match engine.job_log(job.id).await {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(MAX_JOB_LOG_LINES);
            ctx.log_line(&format!("--- log of job {} ---", job.name));
            if skip > 0 {
                ctx.log_line(&format!("  ({skip} earlier lines not copied)"));
            }
            for line in &lines[skip..] {
                // A remote builder's markers must not start steps or name files here.
                let line = line
                    .replace(crate::runner::STEP_MARKER, "step: ")
                    .replace(crate::runner::ARTIFACT_MARKER, "artifact: ");
                ctx.log_line(&format!("  [{}] {line}", job.name));
            }
        }
        Err(e) => ctx.log_line(&format!(
            "the log of job {} is not available: {e}",
            job.name
        )),
    }
}

/// A correlation id: the platform, the version and 8 random hex digits.
pub fn correlation_id(platform: &str, version: &str) -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom_bytes(&mut bytes);
    format!("rc-{platform}-{version}-{}", crate::hex(&bytes))
}

fn getrandom_bytes(out: &mut [u8]) -> Result<(), String> {
    aws_lc_rs::rand::fill(out).map_err(|_| "no random bytes".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, status: &str, conclusion: Option<&str>, step: Option<&str>) -> JobView {
        JobView {
            id: 1,
            name: name.into(),
            progress: Progress {
                status: status.into(),
                conclusion: conclusion.map(Conclusion::from),
                started_at: None,
                completed_at: None,
            },
            steps: step
                .map(|c| StepView {
                    number: 1,
                    name: "Sign".into(),
                    progress: Progress {
                        status: Status::Completed,
                        conclusion: Some(c.into()),
                        started_at: None,
                        completed_at: None,
                    },
                })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn github_values_read_known_keep_unknown_and_write_back_as_spelled() {
        for text in Conclusion::KNOWN {
            let c = Conclusion::from(*text);
            assert!(!matches!(c, Conclusion::Other(_)), "{text}");
            assert_eq!(c.to_string(), *text);
        }
        assert_eq!(Conclusion::from("timed_out"), Conclusion::TimedOut);
        assert_eq!(Status::from("in_progress"), Status::InProgress);
        let later: Status = serde_json::from_str("\"paused\"").expect("json");
        assert_eq!(later, Status::Other("paused".into()));
        assert_eq!(serde_json::to_string(&later).expect("json"), "\"paused\"");
        assert_eq!(later.to_string(), "paused");
    }

    #[test]
    fn failures_name_the_jobs_that_did_not_succeed_and_their_failed_step() {
        let run = RunView {
            id: 7,
            html_url: String::new(),
            title: String::new(),
            status: Status::Completed,
            conclusion: Some(Conclusion::Failure),
            attempt: 1,
            head_sha: None,
            jobs: vec![
                job("macos", "completed", Some("failure"), Some("timed_out")),
                job("lint", "completed", Some("skipped"), None),
                job("linux", "completed", Some("success"), None),
                job("windows", "completed", Some("quarantined"), None),
                job("docs", "in_progress", None, None),
            ],
        };
        assert!(run.is_completed() && !run.succeeded());
        assert_eq!(
            run.failures(),
            ["macos failure at step \"Sign\"", "windows quarantined"]
        );
    }
}
