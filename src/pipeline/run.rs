//! A release's whole pipeline in one call, as `pipeline run` does it: each platform's preflight
//! and build in turn (a build is a task of the shared runner), then SHA256SUMS and the verify
//! task. The caller decides how a task is watched (the CLI echoes its log); the outcome is one
//! [`RunReport`], which the CLI prints as text or as JSON.

use serde::Serialize;

use super::{Definition, PipelineError, Preflight, RunOptions, SumsWritten};
use crate::runner::{Runner, TaskId, TaskState};
use crate::workspace::{Release, Workspace};

/// What rebuilding a release would make untrue, read by the deploy layer (which knows the
/// channels) before the run: [`crate::deploy::rebuild_guard`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildGuard {
    /// The version is on a channel: its installers are not built again unless asked.
    pub published: bool,
    /// Each thing a rebuild invalidates, as a phrase (a PASS verify, a publish).
    pub invalidates: Vec<String>,
}

/// How the caller takes part in a run: it sees each preflight as it is made, and waits for
/// each task the run starts (the CLI echoes the task's log meanwhile).
pub trait Watch {
    fn preflight(&mut self, preflight: &Preflight);
    fn note(&mut self, line: &str);
    /// Blocks until the task ends: its final state and message.
    fn wait(&mut self, runner: &Runner, id: TaskId) -> (TaskState, String);
    /// Whether the caller asked the run to stop (no further build is started).
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// What became of one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// `--resume`: it succeeded before for this version.
    AlreadyBuilt,
    /// It cannot be built on this host (the preflight says why).
    NotHere {
        reason: String,
    },
    /// Its preflight failed, so it was not started.
    PreflightFailed,
    /// Dry run: the plan was printed.
    Planned,
    Built,
    Failed {
        message: String,
    },
    /// Cancelled: nothing after it started.
    Cancelled {
        message: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct PlatformRun {
    pub platform: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// SHA256SUMS as the run wrote it.
#[derive(Debug, Clone, Serialize)]
pub struct SumsReport {
    pub path: std::path::PathBuf,
    /// Artifacts no builder printed a checksum for (listed as they are now).
    pub unvouched: Vec<String>,
}

impl From<SumsWritten> for SumsReport {
    fn from(s: SumsWritten) -> Self {
        Self {
            path: s.path,
            unvouched: s.unvouched,
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub version: String,
    pub dry_run: bool,
    /// What this build made untrue (said before it started).
    pub invalidates: Vec<String>,
    pub preflight: Vec<Preflight>,
    pub platforms: Vec<PlatformRun>,
    /// Where a dry run's artifacts would be collected.
    pub artifacts_dir: std::path::PathBuf,
    pub sums: Option<SumsReport>,
    /// On a shared workspace: the build's files stored in the bucket and recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<super::StoredBuild>,
    pub verify: Option<crate::verify::Report>,
}

impl RunReport {
    /// Every platform built (or planned), SHA256SUMS written and the verification passed.
    pub fn passed(&self) -> bool {
        let platforms_ok = self.platforms.iter().all(|p| {
            matches!(
                p.outcome,
                Outcome::AlreadyBuilt | Outcome::NotHere { .. } | Outcome::Planned | Outcome::Built
            )
        });
        if self.dry_run {
            return platforms_ok;
        }
        platforms_ok
            && self
                .verify
                .as_ref()
                .is_some_and(|r| r.overall == crate::verify::Overall::Pass)
    }

    /// The platforms that failed, each as `name: why`.
    pub fn failures(&self) -> Vec<String> {
        self.platforms
            .iter()
            .filter_map(|p| match &p.outcome {
                Outcome::PreflightFailed => Some(format!("{}: preflight failed", p.platform)),
                Outcome::Failed { message } | Outcome::Cancelled { message } => {
                    Some(format!("{}: {message}", p.platform))
                }
                _ => None,
            })
            .collect()
    }
}

/// Why a run could not go on (a platform's failure is not one: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(
        "{version} is published ({}); its installers are not built again without --rebuild, \
         and new bytes must be published as a new version",
        invalidates.join("; ")
    )]
    Published {
        version: String,
        invalidates: Vec<String>,
    },
    #[error("no platform can be built on this host ({os})")]
    NothingBuildable { os: &'static str },
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
    /// Another console is building a platform of this run: refused before this build started
    /// or recorded anything (the platforms built before it in this run stay built).
    #[error("{0}")]
    Busy(super::StartError),
    /// The lease on a build could not be taken.
    #[error("{0}")]
    Lease(super::StartError),
    /// The installers were built and SHA256SUMS written, but their verification did not end
    /// with a report (cancelled, or failed before it had one).
    #[error(
        "the installers are built and SHA256SUMS is written, but their verification {how}: \
         verify the release again (Verify panel, or `release-console verify`) before publishing"
    )]
    VerifyIncomplete { how: String },
}

/// What to run: the release, the platforms (`all`, one name, or the configured list when
/// `None`) and how.
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    pub release: &'a Release,
    pub platform: Option<&'a str>,
    pub opts: RunOptions,
    /// Build a published version again (its new bytes cannot be published as it).
    pub rebuild: bool,
    pub guard: RebuildGuard,
}

/// The platforms `platform` names: `all`, one, or the configured list.
pub fn platform_names(ws: &Workspace, def: &Definition, platform: Option<&str>) -> Vec<String> {
    match platform {
        Some("all") => def.platforms.keys().cloned().collect(),
        Some(p) => vec![p.to_owned()],
        None => ws.config().pipeline.platforms.clone(),
    }
}

/// Preflight of the platforms `platform` names, without building.
pub fn preflight_release(
    ws: &Workspace,
    runner: &Runner,
    platform: Option<&str>,
    opts: &RunOptions,
) -> Result<Vec<Preflight>, PipelineError> {
    let (def, def_path) = Definition::load(ws)?;
    let names = platform_names(ws, &def, platform);
    let selected = def.select(&def_path, &names)?;
    Ok(runner
        .handle()
        .block_on(super::preflight_all(ws, &selected, opts)))
}

/// Runs the pipeline of a release: blocks (call it from a thread that is not the runtime's).
pub fn run_release(
    ws: &Workspace,
    runner: &Runner,
    req: RunRequest<'_>,
    watch: &mut dyn Watch,
) -> Result<RunReport, RunError> {
    let RunRequest {
        release,
        platform,
        opts,
        rebuild,
        guard,
    } = req;
    let version = release.version.to_string();
    let fresh = !opts.dry_run && !opts.resume;
    if fresh && guard.published && !rebuild {
        return Err(RunError::Published {
            version,
            invalidates: guard.invalidates,
        });
    }
    let (def, def_path) = Definition::load(ws)?;
    let names = platform_names(ws, &def, platform);
    let selected = def.select(&def_path, &names)?;
    let previous = super::load_state(ws, release)?;
    let mut report = RunReport {
        version,
        dry_run: opts.dry_run,
        invalidates: if fresh { guard.invalidates } else { Vec::new() },
        preflight: Vec::new(),
        platforms: Vec::new(),
        artifacts_dir: ws.artifacts_dir(&release.version),
        sums: None,
        stored: None,
        verify: None,
    };
    let mut built = 0;
    for (name, pdef) in selected {
        let outcome = if opts.resume
            && previous
                .platforms
                .get(name)
                .is_some_and(|p| p.status == super::BuildStatus::Succeeded)
        {
            watch.note(&format!(
                "{name}: already built for {} (resume), skipping",
                report.version
            ));
            Outcome::AlreadyBuilt
        } else {
            let pre = runner
                .handle()
                .block_on(super::preflight(ws, name, pdef, &opts));
            watch.preflight(&pre);
            let outcome = if let Some(reason) = &pre.skipped {
                Outcome::NotHere {
                    reason: reason.clone(),
                }
            } else if !pre.is_ready() && !opts.dry_run {
                Outcome::PreflightFailed
            } else if watch.stop_requested() {
                Outcome::Cancelled {
                    message: "cancelled before it started".to_owned(),
                }
            } else {
                build_one(ws, runner, release, name, pdef, &opts, watch)?
            };
            report.preflight.push(pre);
            outcome
        };
        let stop = matches!(outcome, Outcome::Cancelled { .. });
        built += usize::from(matches!(outcome, Outcome::Built));
        report.platforms.push(PlatformRun {
            platform: name.to_owned(),
            outcome,
        });
        if stop {
            break;
        }
    }
    if opts.dry_run || !report.failures().is_empty() {
        return Ok(report);
    }
    if built == 0 && !opts.resume {
        return Err(RunError::NothingBuildable {
            os: std::env::consts::OS,
        });
    }
    let (sums, stored) = super::write_sums_and_store(ws, release)?;
    report.sums = Some(sums.into());
    if let Some(stored) = &stored {
        watch.note(&stored.describe(&ws.location()));
    }
    report.stored = stored;
    // What was built is verified as the verify task does it (a pass ticks the checklist).
    let vopts = crate::verify::Options {
        paths: vec![report.artifacts_dir.clone()],
        expected: crate::verify::Expected::from_workspace(ws),
        ..Default::default()
    };
    let (id, slot) = crate::verify::start(runner, Some(ws.clone()), Some(release), vopts)?;
    let (state, message) = watch.wait(runner, id);
    let verified = slot.lock().ok().and_then(|mut s| s.take());
    report.verify = Some(verified.ok_or_else(|| RunError::VerifyIncomplete {
        how: match state {
            crate::runner::TaskState::Cancelled => "was cancelled".to_owned(),
            _ if message.trim().is_empty() => format!("ended {} without a report", state.as_str()),
            _ => format!(
                "ended {} without a report ({})",
                state.as_str(),
                message.trim()
            ),
        },
    })?);
    Ok(report)
}

/// Builds one platform as a task and waits for it.
fn build_one(
    ws: &Workspace,
    runner: &Runner,
    release: &Release,
    name: &str,
    pdef: &super::PlatformDef,
    opts: &RunOptions,
    watch: &mut dyn Watch,
) -> Result<Outcome, RunError> {
    let build = super::Build {
        ws: ws.clone(),
        release: release.clone(),
        name: name.to_owned(),
        def: pdef.clone(),
        opts: opts.clone(),
    };
    let id = match super::start_build(runner, build) {
        Ok(id) => id,
        Err(e @ super::StartError::Busy { .. }) => return Err(RunError::Busy(e)),
        Err(super::StartError::Runner(e)) => return Err(RunError::Runner(e)),
        Err(e @ super::StartError::Lease(_)) => return Err(RunError::Lease(e)),
    };
    let (state, message) = watch.wait(runner, id);
    Ok(match state {
        TaskState::Succeeded if opts.dry_run => Outcome::Planned,
        TaskState::Succeeded => Outcome::Built,
        TaskState::Cancelled => Outcome::Cancelled { message },
        _ => Outcome::Failed { message },
    })
}
