//! A platform that builds on a CI engine (`runner = "github"` in the pipeline definition):
//! preflight of the engine, dispatch (or watching a saved run again, or re-running its failed
//! jobs), the remote steps as the task's steps, then the artifacts downloaded, unpacked and
//! collected exactly like a local builder's.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    BuildStatus, Check, Outcome, PlatformDef, PlatformState, Preflight, RunOptions, StepState,
};
use crate::remote::github::GitHub;
use crate::remote::{self, CiEngine, DispatchRequest, Engine, RemoteError, RemoteRun, RunView};
use crate::runner::{TaskContext, TaskError, TaskResult};
use crate::workspace::config::GitHubConfig;
use crate::workspace::{Release, Workspace};

fn config(ws: &Workspace, name: &str) -> Result<GitHubConfig, RemoteError> {
    ws.config().remote.github.clone().ok_or_else(|| {
        RemoteError::Config(format!(
            "platform {name} builds on GitHub Actions (runner = \"github\"), but \
             release-console.toml has no [remote.github] (repo, workflow, ref, token_env)"
        ))
    })
}

/// The client for `ws`'s `[remote.github]`, its token looked up off the async threads.
async fn github(
    ws: &Workspace,
    name: &str,
    ctx: Option<TaskContext>,
) -> Result<GitHub, RemoteError> {
    let cfg = config(ws, name)?;
    let (lookup, aws) = (cfg.clone(), ws.config().aws.clone());
    let token = tokio::task::spawn_blocking(move || lookup.token(&aws))
        .await
        .map_err(|cause| RemoteError::Stopped {
            what: "the GitHub token lookup",
            cause,
        })?
        .map_err(RemoteError::Config)?
        .ok_or_else(|| {
            RemoteError::Config(format!(
                "GitHub needs a token that may run workflows in {} in ${} (or the keyring entry \
                 {}, or token_secret); it is not set",
                cfg.repo, cfg.token_env, cfg.token_env
            ))
        })?;
    GitHub::new(cfg, token, ctx)
}

/// Preflight of a remote platform: the engine is configured, its token is set, and the
/// workflow exists and is enabled (one API call).
pub async fn preflight(
    ws: &Workspace,
    name: &str,
    _def: &PlatformDef,
    opts: &RunOptions,
) -> Preflight {
    let mut checks = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String, fix: &str| {
        checks.push(Check::new(what, ok, detail, fix));
    };
    match config(ws, name) {
        Err(e) => check(
            "remote.github",
            false,
            e.to_string(),
            "add [remote.github] with repo = \"owner/name\" to release-console.toml",
        ),
        Ok(cfg) => {
            check(
                "remote.github",
                true,
                format!(
                    "{} · workflow {} on {} · {}",
                    cfg.repo, cfg.workflow, cfg.git_ref, cfg.api_base
                ),
                "",
            );
            match github(ws, name, None).await {
                Err(e) => check(
                    &format!("token {}", cfg.token_env),
                    false,
                    e.to_string(),
                    &format!(
                        "export {}=... (a token with actions: write on {})",
                        cfg.token_env, cfg.repo
                    ),
                ),
                Ok(gh) => {
                    check(
                        &format!("token {}", cfg.token_env),
                        true,
                        "set (value not shown)".into(),
                        "",
                    );
                    match gh.describe_workflow().await {
                        Ok(detail) => check("workflow", true, detail, ""),
                        Err(e) => check(
                            "workflow",
                            false,
                            e.to_string(),
                            "copy packaging/ci/github/release.yml to .github/workflows/ in the \
                             repository, and check repo, workflow and the token",
                        ),
                    }
                }
            }
        }
    }
    Preflight {
        platform: name.to_owned(),
        skipped: None,
        checks,
        skip_signing: opts.skip_signing,
    }
}

/// The saved run of `name` for this release, with the platform's saved status.
fn saved_run(
    ws: &Workspace,
    release: &Release,
    name: &str,
) -> Result<Option<(BuildStatus, RemoteRun)>, TaskError> {
    let state = super::load_state(ws, release).map_err(|e| TaskError::Failed(e.to_string()))?;
    Ok(state.platforms.get(name).and_then(|p| {
        p.remote
            .clone()
            .filter(|r| r.version == release.version.to_string())
            .map(|r| (p.status.clone(), r))
    }))
}

/// Saves platform `name` of `release` as running `run`, saying `message` (what it does now).
async fn save_running(
    (ws, release, name): (&Workspace, &Release, &str),
    run: &RemoteRun,
    message: String,
) -> Result<(), TaskError> {
    let state = PlatformState {
        status: BuildStatus::Running,
        message,
        steps: Vec::new(),
        artifacts: Vec::new(),
        builder_sha256: std::collections::BTreeMap::new(),
        remote: Some(run.clone()),
        log: None,
        unsigned: false,
        finished_at: jiff::Timestamp::now(),
        audit_seq: 0,
    };
    let (ws, release, name) = (ws.clone(), release.clone(), name.to_owned());
    tokio::task::spawn_blocking(move || super::save_platform(&ws, &release, &name, state))
        .await
        .map_err(|e| TaskError::Failed(crate::runner::panic_message(e)))?
        .map_err(|e| TaskError::Failed(e.to_string()))
}

/// The remote steps with the engine's own durations, for the saved state.
fn steps_of(view: &RunView) -> Vec<StepState> {
    let now = jiff::Timestamp::now();
    view.jobs
        .iter()
        .flat_map(|j| {
            j.steps.iter().map(move |s| StepState {
                name: format!("{}: {}", j.name, s.name),
                seconds: s.progress.seconds(now),
            })
        })
        .collect()
}

/// How a remote build ended, with its run.
fn ended(
    status: BuildStatus,
    message: String,
    steps: Vec<StepState>,
    artifacts: Vec<PathBuf>,
    run: &RemoteRun,
) -> Outcome {
    Outcome {
        status,
        message,
        steps,
        artifacts,
        remote: Some(run.clone()),
    }
}

/// Builds platform `name` on its CI engine as the task `ctx` belongs to, under `lease` (a
/// shared workspace's, read back before an outcome is saved).
pub async fn build(
    ctx: TaskContext,
    build: super::Build,
    lease: Option<&crate::workspace::Lease>,
) -> TaskResult {
    let (ws, release, name, def, opts) = build.into_parts();
    let cfg = config(&ws, &name)?;
    let version = release.version.to_string();
    let input = def.remote_platform.clone().unwrap_or_else(|| name.clone());
    let artifact_name = cfg
        .artifact
        .replace("{platform}", &input)
        .replace("{version}", &version);
    if opts.dry_run {
        ctx.log_line(&format!(
            "would dispatch {} on {} in {} ({}) with version={version} platform={input} \
             skip_signing={} resume={}",
            cfg.workflow, cfg.git_ref, cfg.repo, cfg.api_base, opts.skip_signing, opts.resume
        ));
        ctx.log_line(&format!(
            "then watch the run, download the artifact {artifact_name}, collect it into {}",
            ws.artifacts_dir(&release.version).display()
        ));
        return Ok(format!(
            "dry run of {name}: nothing was dispatched to GitHub Actions"
        ));
    }
    let engine = &Engine::GitHub(github(&ws, &name, Some(ctx.clone())).await?);
    let run = match saved_run(&ws, &release, &name)? {
        // A console stopped while it dispatched: the run that dispatch started, if any, is
        // found by its correlation id and adopted; only when none appeared is it sent again.
        Some((BuildStatus::Running, pending)) if pending.run_id == 0 => {
            ctx.begin_step(&format!("Find the dispatched run on {}", engine.title()));
            ctx.log_line(&format!(
                "a dispatch with {} was sent earlier and its run not seen; looking for it \
                 before dispatching again",
                pending.correlation_id
            ));
            if let Some(found) = engine.find_dispatched(&pending.correlation_id).await? {
                ctx.log_line(&format!(
                    "adopting run #{} {}: the earlier dispatch had arrived",
                    found.id, found.html_url
                ));
                adopt(&ws, &release, &name, engine, pending, found).await?
            } else {
                ctx.log_line("no run appeared: the earlier dispatch did not arrive");
                dispatch(
                    &ctx,
                    (&ws, &release, &name, lease),
                    engine,
                    &input,
                    &opts,
                    pending,
                )
                .await?
            }
        }
        // A console closed while it built: the same run is watched again.
        Some((BuildStatus::Running, run)) => {
            ctx.log_line(&format!(
                "run #{} ({}) was started for {version} earlier and not seen finishing; \
                 watching it again instead of dispatching another",
                run.run_id, run.html_url
            ));
            run
        }
        Some((status, mut run))
            if opts.resume && status != BuildStatus::Succeeded && run.run_id != 0 =>
        {
            ctx.begin_step(&format!("Re-run failed jobs on {}", engine.title()));
            engine.rerun_failed(run.run_id).await?;
            run.attempt += 1;
            save_running(
                (&ws, &release, &name),
                &run,
                format!("re-running the failed jobs of run #{}", run.run_id),
            )
            .await?;
            run
        }
        _ => {
            let pending = RemoteRun {
                engine: engine.key().to_owned(),
                run_id: 0,
                html_url: String::new(),
                correlation_id: remote::correlation_id(&input, &version),
                version: version.clone(),
                attempt: 1,
            };
            dispatch(
                &ctx,
                (&ws, &release, &name, lease),
                engine,
                &input,
                &opts,
                pending,
            )
            .await?
        }
    };
    ctx.log_line(&format!("watching {}", run.html_url));
    let poll = Duration::from_millis(cfg.poll_interval_ms);
    let view = match remote::watch(&ctx, engine, run.run_id, poll).await {
        Ok(view) => view,
        Err(RemoteError::Cancelled) => {
            let outcome = ended(
                BuildStatus::Cancelled,
                format!("cancelled; asked GitHub to cancel run #{}", run.run_id),
                super::step_durations(&ctx),
                Vec::new(),
                &run,
            );
            super::save_outcome(&ctx, &ws, &release, &name, outcome, lease).await?;
            return Err(TaskError::Cancelled);
        }
        Err(e) => {
            // The run may well go on: it stays `running`, so the next Run watches it again.
            save_running(
                (&ws, &release, &name),
                &run,
                format!(
                    "lost track of run #{} ({e}); Run watches it again",
                    run.run_id
                ),
            )
            .await?;
            return Err(e.into());
        }
    };
    let run = RemoteRun {
        attempt: view.attempt,
        ..run
    };
    let steps = steps_of(&view);
    if !view.succeeded() {
        let failures = view.failures();
        let message = format!(
            "run #{} {}: {}",
            view.id,
            view.conclusion
                .as_ref()
                .map_or("did not finish", remote::Conclusion::as_str),
            if failures.is_empty() {
                "no job failed".to_owned()
            } else {
                failures.join("; ")
            }
        );
        let cancelled = view.conclusion == Some(remote::Conclusion::Cancelled);
        let outcome = ended(
            if cancelled {
                BuildStatus::Cancelled
            } else {
                BuildStatus::Failed
            },
            message.clone(),
            steps,
            Vec::new(),
            &run,
        );
        super::save_outcome(&ctx, &ws, &release, &name, outcome, lease).await?;
        return Err(TaskError::Failed(format!(
            "{message}; Resume re-runs the failed jobs"
        )));
    }
    ctx.begin_step(&format!("Download {artifact_name}"));
    let files = match fetch_artifact(&ctx, engine, &ws, &release, &name, &run, &artifact_name).await
    {
        Ok(files) => files,
        Err(RemoteError::Cancelled) => return Err(TaskError::Cancelled),
        Err(e) => {
            let outcome = ended(BuildStatus::Failed, e.to_string(), steps, Vec::new(), &run);
            super::save_outcome(&ctx, &ws, &release, &name, outcome, lease).await?;
            return Err(e.into());
        }
    };
    let installers: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| crate::verify::sums::is_artifact(n) && !n.ends_with(".sha256"))
        })
        .collect();
    if installers.is_empty() {
        let message = format!("artifact {artifact_name} holds no installer");
        let outcome = ended(
            BuildStatus::Failed,
            message.clone(),
            steps,
            Vec::new(),
            &run,
        );
        super::save_outcome(&ctx, &ws, &release, &name, outcome, lease).await?;
        return Err(TaskError::Failed(message));
    }
    let message = format!(
        "{} from run #{} on {}",
        super::artifacts_phrase(installers.len()),
        run.run_id,
        engine.title()
    );
    let outcome = ended(
        BuildStatus::Succeeded,
        message.clone(),
        steps,
        installers,
        &run,
    );
    super::save_outcome(&ctx, &ws, &release, &name, outcome, lease).await?;
    // The commit GitHub built, recorded where a local build records its own: what `release
    // tag` tags. Only with `[source]`, as a local build.
    if ws.config().source.is_some() {
        match view.head_sha {
            Some(commit) => {
                ctx.log_line(&format!("source: run #{} built {commit}", run.run_id));
                super::record_built(&ctx, &ws, &release, commit).await;
            }
            None => ctx.log_line(&format!(
                "source: run #{} names no head commit; `release tag` will tag the branch's head",
                run.run_id
            )),
        }
    }
    Ok(format!("{name}: {message}"))
}

/// Dispatches the build `pending` describes (its correlation id chosen), saved first as
/// running with no run yet: a console stopped from here on finds the dispatch at the next Run
/// and looks for its run instead of sending a second one. Returns the run, saved.
async fn dispatch(
    ctx: &TaskContext,
    (ws, release, name, lease): (&Workspace, &Release, &str, Option<&crate::workspace::Lease>),
    engine: &Engine,
    input: &str,
    opts: &RunOptions,
    pending: RemoteRun,
) -> Result<RemoteRun, TaskError> {
    ctx.begin_step(&format!("Dispatch on {}", engine.title()));
    save_running(
        (ws, release, name),
        &pending,
        format!(
            "dispatching on {} ({})",
            engine.title(),
            pending.correlation_id
        ),
    )
    .await?;
    let req = DispatchRequest {
        platform: input.to_owned(),
        version: pending.version.clone(),
        skip_signing: opts.skip_signing,
        resume: opts.resume,
        correlation_id: pending.correlation_id.clone(),
    };
    match engine.dispatch(&req).await {
        Ok(found) => adopt(ws, release, name, engine, pending, found).await,
        Err(RemoteError::Cancelled) => {
            let outcome = Outcome {
                status: BuildStatus::Cancelled,
                message: format!(
                    "cancelled while dispatching; a run named with {} may have started on {}",
                    pending.correlation_id,
                    engine.title()
                ),
                steps: super::step_durations(ctx),
                artifacts: Vec::new(),
                remote: None,
            };
            super::save_outcome(ctx, ws, release, name, outcome, lease).await?;
            Err(TaskError::Cancelled)
        }
        // Refused, or no run appeared after every attempt: no run to keep (the next Run
        // dispatches anew).
        Err(e) => {
            let outcome = Outcome {
                status: BuildStatus::Failed,
                message: e.to_string(),
                steps: super::step_durations(ctx),
                artifacts: Vec::new(),
                remote: None,
            };
            super::save_outcome(ctx, ws, release, name, outcome, lease).await?;
            Err(e.into())
        }
    }
}

/// Saves `found` as the run of the dispatch `pending` (saved at once: a console closed from
/// here on finds it and watches it again).
async fn adopt(
    ws: &Workspace,
    release: &Release,
    name: &str,
    engine: &Engine,
    pending: RemoteRun,
    found: remote::RunRef,
) -> Result<RemoteRun, TaskError> {
    let run = RemoteRun {
        run_id: found.id,
        html_url: found.html_url,
        ..pending
    };
    save_running(
        (ws, release, name),
        &run,
        format!("run #{} on {}", run.run_id, engine.title()),
    )
    .await?;
    Ok(run)
}

/// Downloads the run's artifact `wanted` and unpacks it under the platform's build folder;
/// returns the unpacked files.
async fn fetch_artifact(
    ctx: &TaskContext,
    engine: &Engine,
    ws: &Workspace,
    release: &Release,
    name: &str,
    run: &RemoteRun,
    wanted: &str,
) -> Result<Vec<PathBuf>, RemoteError> {
    let list = engine.artifacts(run.run_id).await?;
    let Some(artifact) = list.iter().find(|a| a.name == wanted) else {
        return Err(RemoteError::Http(format!(
            "run #{} uploaded no artifact named {wanted} (it has: {}); check the workflow's \
             upload-artifact name and [remote.github] artifact",
            run.run_id,
            if list.is_empty() {
                "none".to_owned()
            } else {
                list.iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    };
    if artifact.expired {
        return Err(RemoteError::Expired(format!(
            "artifact {wanted} of run #{} has expired{}; build the platform again",
            run.run_id,
            artifact
                .expires_at
                .as_deref()
                .map(|t| format!(" (on {t})"))
                .unwrap_or_default()
        )));
    }
    let base = ws
        .release_dir(&release.version)
        .join("build")
        .join(name)
        .join("remote");
    let zip = base.join(format!("{wanted}.zip"));
    let bytes = engine.download(artifact, &zip).await?;
    ctx.log_line(&format!(
        "downloaded {wanted} ({})",
        crate::verify::human_bytes(bytes)
    ));
    let into = base.join(wanted);
    let what = format!("artifact {wanted}");
    tokio::task::spawn_blocking(move || {
        match std::fs::remove_dir_all(&into) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(cause) => {
                return Err(RemoteError::Io {
                    path: into.clone(),
                    cause,
                });
            }
        }
        let files = remote::archive::unpack_flat(&zip, &into, &what);
        let _ = std::fs::remove_file(&zip);
        files
    })
    .await
    .map_err(|cause| RemoteError::Stopped {
        what: "unpacking the artifact",
        cause,
    })?
}
