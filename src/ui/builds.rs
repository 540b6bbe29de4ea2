//! The Builds panel: a card per platform with preflight, Dry run / Run / Cancel / Resume, the
//! step list with durations, and the artifacts the release has, linking to Verify.

use std::collections::BTreeMap;

use std::path::PathBuf;

use super::command::Command;
use super::panel::{Cx, Panel, Pending};
use super::snapshot::Snapshot;
use super::{theme, widgets};
use crate::pipeline::{BuildStatus, PlatformDef, Preflight, RunOptions};
use crate::runner::{TaskId, TaskSnapshot};

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    Preflight,
    Build {
        platform: String,
        dry_run: bool,
        /// Continue from the step that failed instead of starting over.
        resume: bool,
    },
    Cancel(TaskId),
    OpenInVerify(PathBuf),
    /// Write SHA256SUMS of the release's artifacts, then verify them.
    SumsAndVerify,
    /// Ask before building this platform: the build would invalidate what is named.
    AskRebuild(String),
    /// Drop the question.
    CancelRebuild,
    /// Fetch the files the log records for the release that are not here, from the bucket.
    FetchFromBucket,
}

/// What starting a build came to (the lease is taken first, off the UI thread).
#[derive(Debug)]
enum Started {
    Task(TaskId),
    /// Another console holds the lease: nothing was started or recorded.
    Busy(Box<crate::workspace::LeaseInfo>),
}

/// Builds panel state.
#[derive(Debug, Default)]
pub struct BuildsUi {
    /// Last preflight per platform.
    pub preflight: BTreeMap<String, Preflight>,
    /// What the shown preflight checked (the configuration and the platforms' definitions),
    /// so that rows are marked stale once either changes.
    preflight_inputs: Option<PreflightInputs>,
    /// What the running preflight checks; it becomes `preflight_inputs` with its results.
    running_inputs: Option<PreflightInputs>,
    /// The last task started per platform.
    pub tasks: BTreeMap<String, TaskId>,
    pub skip_signing: bool,
    preflight_run: Pending<Vec<Preflight>>,
    sums: Pending<(
        crate::pipeline::SumsWritten,
        Option<crate::pipeline::StoredBuild>,
    )>,
    /// The platform whose build waits for "Rebuild anyway" (it would invalidate a PASS
    /// verify or a published version).
    pub confirm_rebuild: Option<String>,
    /// Builds being started (their lease being taken), by platform.
    starting: BTreeMap<String, Pending<Started>>,
    /// The lease a start was refused on, by platform (shown while it is live).
    refused: BTreeMap<String, crate::workspace::LeaseInfo>,
    fetching: Pending<crate::verify::shared::Fetch>,
    /// Remote runs found running at open and watched again, by (version, platform), so each
    /// is picked up once.
    reattached: std::collections::BTreeSet<(String, String)>,
}

/// What a preflight was run against.
#[derive(Debug, Clone, PartialEq)]
struct PreflightInputs {
    root: PathBuf,
    config: crate::workspace::Config,
    platforms: BTreeMap<String, PlatformDef>,
}

impl PreflightInputs {
    fn of(data: &Snapshot) -> Option<Self> {
        let def = data.pipeline.as_ref().ok()?;
        Some(Self {
            root: data.ws.root().to_owned(),
            config: data.ws.config().clone(),
            platforms: def.platforms.clone(),
        })
    }
}

impl BuildsUi {
    /// Why the preflight shown for `name` no longer says what a build would meet, if it does
    /// not: the workspace, its configuration or the platform's definition changed since, or
    /// Skip signing was switched.
    fn stale_because(&self, data: &Snapshot, name: &str, p: &Preflight) -> Option<String> {
        if let Some(then) = &self.preflight_inputs {
            if then.root != data.ws.root() {
                return Some(
                    "This preflight checked another workspace: run preflight again".to_owned(),
                );
            }
            if then.config != *data.ws.config() {
                return Some(format!(
                    "This preflight checked an earlier configuration ({} changed since): run \
                     preflight again",
                    crate::workspace::CONFIG_FILE
                ));
            }
            let def_now = data
                .pipeline
                .as_ref()
                .ok()
                .and_then(|d| d.platforms.get(name));
            if then.platforms.get(name) != def_now {
                return Some(format!(
                    "This preflight checked an earlier definition of {name}: run preflight again"
                ));
            }
        }
        (p.skip_signing != self.skip_signing && p.skipped.is_none()).then(|| {
            if self.skip_signing {
                "This preflight checked a signed build; Skip signing is on now: run preflight \
                 again"
                    .to_owned()
            } else {
                "This preflight checked an unsigned build; signing is on now: run preflight again"
                    .to_owned()
            }
        })
    }

    /// Why Run (and Resume) are off for `name`: the preflight shown for the build as it is set
    /// now FAILED; a stale one decides nothing.
    fn failed_preflight(&self, data: &Snapshot, name: &str) -> Option<String> {
        let p = self.preflight.get(name)?;
        if self.preflight_run.is_running() || self.stale_because(data, name, p).is_some() {
            return None;
        }
        let failed: Vec<&str> = p
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        (!failed.is_empty()).then(|| {
            format!(
                "Preflight FAILED ({}): fix what it says below and run preflight again; Dry run \
                 still shows the plan",
                failed.join(", ")
            )
        })
    }

    /// The live lease of another console on building `name`, when one is known: read with
    /// the team's activity, or the one a start here was refused on. This console's own lease
    /// of a build it ran is not one (the leases may have been read before it ended).
    fn busy(
        &self,
        data: &Snapshot,
        name: &str,
        task: Option<&TaskSnapshot>,
    ) -> Option<crate::workspace::LeaseInfo> {
        if task.is_some_and(|t| !t.state.is_finished()) {
            return None;
        }
        let version = data.current.as_ref()?.release.version.to_string();
        let now = jiff::Timestamp::now();
        let known = data
            .team
            .as_ref()
            .and_then(|t| t.as_ref().ok())
            .and_then(|a| crate::pipeline::team::building_now(&a.leases, &version, name, now));
        let refused = self
            .refused
            .get(name)
            .filter(|l| l.is_live(now) && l.what == crate::pipeline::build_lease(&version, name));
        let host = data.ws.shared().map(|s| s.host().to_owned());
        known
            .or(refused)
            .filter(|l| {
                let mine = l.holder == data.ws.actor() && host.as_deref() == Some(&l.host);
                // The build it stood for ended (its run state was saved since, by its holder):
                // the lease was read before it was given back.
                let ended = data.pipeline_state.platforms.get(name).is_some_and(|p| {
                    p.status != BuildStatus::Running
                        && data.build_authors.get(name).is_some_and(|by| {
                            by.actor == l.holder
                                && by.host.as_deref() == Some(&l.host)
                                && by.at >= l.since
                        })
                });
                !(ended || mine && task.is_some())
            })
            .cloned()
    }

    fn options(&self) -> RunOptions {
        RunOptions {
            skip_signing: self.skip_signing,
            ..RunOptions::default()
        }
    }

    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::AskRebuild(platform) => {
                self.confirm_rebuild = Some(platform);
                return;
            }
            Action::CancelRebuild => {
                self.confirm_rebuild = None;
                return;
            }
            Action::Build { .. } => self.confirm_rebuild = None,
            _ => {}
        }
        let data = cx.snapshot;
        let Some(release) = data.current.as_ref().map(|c| c.release.clone()) else {
            return;
        };
        let Ok(def) = data.pipeline.clone() else {
            return;
        };
        let ws = data.ws.clone();
        match action {
            Action::Preflight => {
                self.running_inputs = PreflightInputs::of(data);
                let opts = self.options();
                cx.fetch(&mut self.preflight_run, async move {
                    let platforms: Vec<_> =
                        def.platforms.iter().map(|(n, p)| (n.as_str(), p)).collect();
                    let results = crate::pipeline::preflight_all(&ws, &platforms, &opts).await;
                    Ok::<_, std::convert::Infallible>(results)
                });
            }
            Action::Build {
                platform,
                dry_run,
                resume,
            } => {
                let Some(pdef) = def.platforms.get(&platform).cloned() else {
                    return;
                };
                let opts = RunOptions {
                    dry_run,
                    resume,
                    ..self.options()
                };
                let build = crate::pipeline::Build {
                    ws,
                    release,
                    name: platform.clone(),
                    def: pdef,
                    opts,
                };
                let runner = cx.runner.clone();
                self.refused.remove(&platform);
                let pending = self.starting.entry(platform).or_default();
                // The lease is taken first, on the bucket: off the UI thread.
                cx.fetch_blocking(pending, move || {
                    match crate::pipeline::start_build(&runner, build) {
                        Ok(id) => Ok(Started::Task(id)),
                        Err(crate::pipeline::StartError::Busy { holder, .. }) => {
                            Ok(Started::Busy(holder))
                        }
                        Err(e) => Err(e),
                    }
                });
            }
            Action::Cancel(id) => cx.push(Command::CancelTask(id)),
            Action::OpenInVerify(dir) => cx.push(Command::Verify {
                paths: vec![dir],
                replace: true,
                run: false,
            }),
            Action::SumsAndVerify => {
                cx.fetch_blocking(&mut self.sums, move || {
                    crate::pipeline::write_sums_and_store(&ws, &release)
                });
            }
            Action::FetchFromBucket => {
                cx.fetch_blocking(&mut self.fetching, move || {
                    crate::verify::shared::fetch_missing(&ws, &release)
                });
            }
            Action::AskRebuild(_) | Action::CancelRebuild => {}
        }
    }
}

impl BuildsUi {
    /// A remote build saved as running with no task watching it here (the console was closed
    /// while it built): watched again, never dispatched a second time.
    fn reattach(&mut self, cx: &mut Cx<'_>) {
        let data = cx.snapshot;
        let Some(version) = data.current.as_ref().map(|c| c.release.version.to_string()) else {
            return;
        };
        let waiting: Vec<String> = data
            .pipeline_state
            .platforms
            .iter()
            .filter(|(name, p)| {
                p.status == BuildStatus::Running
                    && p.remote.as_ref().is_some_and(|r| r.version == version)
                    && !self.tasks.contains_key(*name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for platform in waiting {
            if self.reattached.insert((version.clone(), platform.clone())) {
                self.apply(
                    Action::Build {
                        platform,
                        dry_run: false,
                        resume: false,
                    },
                    cx,
                );
            }
        }
    }
}

impl Panel for BuildsUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        self.reattach(cx);
        let mut started = Vec::new();
        for (platform, pending) in &mut self.starting {
            if let Some(result) = pending.poll() {
                started.push((platform.clone(), result));
            }
        }
        for (platform, result) in started {
            self.starting.remove(&platform);
            match result {
                Ok(Started::Task(id)) => {
                    self.tasks.insert(platform, id);
                    cx.push(Command::SelectTask(id));
                }
                // Not a failure of the build: the card says who builds it.
                Ok(Started::Busy(holder)) => {
                    self.refused.insert(platform, *holder);
                }
                Err(e) => cx.error(e),
            }
        }
        match self.fetching.poll() {
            Some(Ok(fetched)) => {
                let downloaded = fetched.files.iter().filter(|f| f.downloaded).count();
                cx.success(format!(
                    "Fetched the release's files recorded in entry #{}: {} downloaded, {} here                      already",
                    fetched.entry,
                    downloaded,
                    fetched.files.len() - downloaded
                ));
                cx.push(Command::Reload);
            }
            Some(Err(e)) => cx.error(e),
            None => {}
        }
        match self.preflight_run.poll() {
            Some(Ok(results)) => {
                self.preflight = results
                    .into_iter()
                    .map(|p| (p.platform.clone(), p))
                    .collect();
                self.preflight_inputs = self.running_inputs.take();
            }
            Some(Err(e)) => cx.error(e),
            None => {}
        }
        match self.sums.poll() {
            Some(Ok((written, stored))) => {
                let path = &written.path;
                let stored = stored
                    .map(|s| format!("; {}", s.describe(&cx.snapshot.ws.location())))
                    .unwrap_or_default();
                if written.unvouched.is_empty() {
                    cx.success(format!(
                        "Wrote {}: every artifact matches its builder's SHA-256{stored}",
                        path.display()
                    ));
                } else {
                    cx.push(Command::Toast(
                        super::widgets::toasts::ToastKind::Info,
                        format!(
                            "Wrote {}; no builder printed a checksum for {}{stored}",
                            path.display(),
                            written.unvouched.join(", ")
                        ),
                    ));
                }
                if let Some(dir) = path.parent() {
                    cx.push(Command::Verify {
                        paths: vec![dir.to_owned()],
                        replace: true,
                        run: true,
                    });
                }
            }
            Some(Err(e)) => cx.error(e),
            None => {}
        }
    }

    fn is_busy(&self) -> bool {
        self.preflight_run.is_running()
            || self.sums.is_running()
            || self.fetching.is_running()
            || self.starting.values().any(Pending::is_running)
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, (cx.snapshot, cx.runner), &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }
}

impl BuildsUi {
    fn draw(
        &mut self,
        ui: &mut egui::Ui,
        (data, runner): (&Snapshot, &crate::runner::Runner),
        actions: &mut Vec<Action>,
    ) {
        ui.label(theme::heading("Installer builds"));
        let Some(view) = &data.current else {
            ui.label("No release yet: create one on the Overview panel.");
            return;
        };
        let def = match &data.pipeline {
            Ok(d) => d,
            Err(e) => {
                ui.label(
                    egui::RichText::new(format!("Cannot read the pipeline definition: {e}"))
                        .color(theme::BAD),
                );
                return;
            }
        };
        ui.label(theme::muted(format!(
            "Release {} · builders from {} · what goes into the installers: {}/",
            view.release.version,
            data.ws.config().pipeline.definition,
            data.ws.config().pipeline.payload_dir
        )));
        ui.horizontal(|ui| {
            if ui
                .button("Run preflight")
                .on_hover_text("Check hosts, tools, signing and disk for every platform")
                .clicked()
            {
                actions.push(Action::Preflight);
            }
            ui.checkbox(&mut self.skip_signing, "Skip signing (unsigned test build)");
        });
        ui.add_space(6.0);
        for (name, pdef) in &def.platforms {
            let task = self.tasks.get(name).and_then(|id| runner.task(*id));
            self.card_ui(ui, data, name, pdef, task.as_ref(), actions);
            ui.add_space(6.0);
        }
        ui.label(egui::RichText::new("Artifacts").strong());
        let artifacts = match &data.artifacts {
            Ok(list) => list.as_slice(),
            Err(e) => {
                ui.label(
                    egui::RichText::new(format!("Cannot list the artifacts: {e}"))
                        .color(theme::BAD),
                );
                &[]
            }
        };
        if artifacts.is_empty() && data.artifacts.is_ok() {
            ui.label(theme::muted(match &data.bucket_artifacts {
                Some(_) => format!(
                    "None here yet in {}: the bucket holds the release's files (below)",
                    data.ws.artifacts_dir(&view.release.version).display()
                ),
                None => format!(
                    "None yet in {}",
                    data.ws.artifacts_dir(&view.release.version).display()
                ),
            }));
        }
        egui::Grid::new("artifacts")
            .striped(true)
            .num_columns(5)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                if !artifacts.is_empty() {
                    widgets::header_row(
                        ui,
                        &[
                            "Artifact",
                            "Size",
                            "Modified",
                            "SHA-256 its builder printed",
                            "In SHA256SUMS",
                        ],
                    );
                }
                for a in artifacts {
                    // The hash the builder printed for the file it built (checked against the
                    // copy when it was collected): the file's own as built.
                    let built = data
                        .pipeline_state
                        .platforms
                        .values()
                        .find_map(|p| p.builder_sha256.get(&a.name));
                    ui.label(&a.name);
                    ui.label(crate::verify::human_bytes(a.size_bytes));
                    ui.label(theme::muted(
                        a.modified
                            .map_or_else(|| "?".to_owned(), |t| crate::local_time(t, true)),
                    ));
                    match built {
                        Some(h) => {
                            ui.label(theme::mono(h.short()))
                                .on_hover_text(h.to_string());
                        }
                        None => {
                            ui.label(theme::muted("none printed"));
                        }
                    }
                    ui.horizontal(|ui| match &a.listed_sha256 {
                        None => {
                            ui.label(theme::muted("not in SHA256SUMS yet"));
                        }
                        Some(listed) => {
                            let differs = built.is_some_and(|b| b != listed);
                            if differs || a.changed_after_sums() {
                                ui.label(theme::mono(listed.short()).color(theme::WARN))
                                    .on_hover_text(listed.to_string());
                                let why = if differs {
                                    "SHA256SUMS lists another hash than the build's"
                                } else {
                                    "the file changed after SHA256SUMS was written"
                                };
                                theme::badge(ui, "STALE", theme::WARN).on_hover_text(format!(
                                    "{}: {why} ({}); write SHA256SUMS and verify again",
                                    a.name,
                                    match (a.modified, a.listed_at) {
                                        (Some(m), Some(l)) => format!(
                                            "file modified {}, SHA256SUMS written {}",
                                            crate::local_time(m, true),
                                            crate::local_time(l, true)
                                        ),
                                        _ => "times unknown".to_owned(),
                                    }
                                ));
                            } else {
                                ui.label(theme::mono(listed.short()))
                                    .on_hover_text(listed.to_string());
                            }
                        }
                    });
                    ui.end_row();
                }
            });
        if let Some(record) = &data.bucket_artifacts {
            self.bucket_ui(ui, record, artifacts, actions);
        }
        if let Some(st) = &data.verify_stale {
            ui.horizontal_wrapped(|ui| {
                theme::badge(ui, "STALE", theme::WARN);
                ui.colored_label(theme::WARN, st.describe());
            });
        }
        ui.horizontal(|ui| {
            let any = !artifacts.is_empty();
            if ui
                .add_enabled(any, egui::Button::new("Write SHA256SUMS and verify"))
                .on_hover_text("Hash every artifact into SHA256SUMS, then run Verify on the folder")
                .clicked()
            {
                actions.push(Action::SumsAndVerify);
            }
            if ui
                .add_enabled(any, egui::Button::new("Open in Verify"))
                .clicked()
            {
                actions.push(Action::OpenInVerify(
                    data.ws.artifacts_dir(&view.release.version),
                ));
            }
        });
    }

    /// The release's files as the log records them in the bucket (`release.artifacts`): name,
    /// platform, size and SHA-256 from the record, whether the file is here, and a button that
    /// fetches those that are not (as Verify does: each checked against its SHA-256).
    fn bucket_ui(
        &self,
        ui: &mut egui::Ui,
        record: &crate::verify::shared::Record,
        here: &[crate::pipeline::ArtifactFile],
        actions: &mut Vec<Action>,
    ) {
        use crate::audit::event::BlobKind;
        let files: Vec<_> = record
            .files
            .files
            .iter()
            .filter(|f| f.kind != BlobKind::Log)
            .collect();
        let by = format!("entry #{}", record.audit_seq);
        ui.add_space(4.0);
        ui.label(egui::RichText::new(format!(
            "In the bucket: {} file{} of {} recorded ({by}, built on {})",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            record.files.version,
            record.files.platforms.join(", ")
        )));
        // SHA256SUMS is not an artifact of the list: here when it lists one of them.
        let sums_here = here.iter().any(|a| a.listed_sha256.is_some());
        let is_here = |name: &str, size: u64| {
            (name == crate::verify::sums::SUMS_FILE && sums_here)
                || here.iter().any(|a| a.name == name && a.size_bytes == size)
        };
        let mut missing = 0;
        egui::Grid::new("bucket-artifacts")
            .striped(true)
            .num_columns(5)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                widgets::header_row(ui, &["File", "Platform", "Size", "SHA-256", "Here"]);
                for f in &files {
                    ui.label(&f.name);
                    ui.label(theme::muted(f.platform.as_deref().unwrap_or("-")));
                    ui.label(crate::verify::human_bytes(f.size));
                    ui.label(theme::mono(f.sha256.short()))
                        .on_hover_text(f.sha256.to_string());
                    if is_here(&f.name, f.size) {
                        ui.label(egui::RichText::new("here").color(theme::OK));
                    } else {
                        missing += 1;
                        ui.label(theme::muted("not fetched"));
                    }
                    ui.end_row();
                }
            });
        if ui
            .add_enabled(
                missing > 0 && !self.fetching.is_running(),
                egui::Button::new(if self.fetching.is_running() {
                    "Fetching…"
                } else {
                    "Fetch from the bucket"
                }),
            )
            .on_hover_text(
                "Download the files not here by their SHA-256, each checked against the record \
                 (as Verify does)",
            )
            .on_disabled_hover_text("Every file the record names is here")
            .clicked()
        {
            actions.push(Action::FetchFromBucket);
        }
    }

    fn card_ui(
        &self,
        ui: &mut egui::Ui,
        data: &Snapshot,
        name: &str,
        pdef: &PlatformDef,
        task: Option<&TaskSnapshot>,
        actions: &mut Vec<Action>,
    ) {
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            let saved = data.pipeline_state.platforms.get(name);
            let busy = self.busy(data, name, task);
            let starting = self.starting.get(name).is_some_and(Pending::is_running);
            // The last build (running or saved) was unsigned, or the next one will be.
            let task_unsigned =
                task.is_some_and(|t| t.info.kind.ends_with(crate::pipeline::UNSIGNED_SUFFIX));
            let built_unsigned = match task {
                Some(_) => task_unsigned,
                None => saved.is_some_and(|s| s.unsigned),
            };
            let title = if built_unsigned || self.skip_signing {
                pdef.title_unsigned()
            } else {
                pdef.title.clone()
            };
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(title).strong().size(16.0));
                if pdef.is_remote() {
                    let repo = data
                        .ws
                        .config()
                        .remote
                        .github
                        .as_ref()
                        .map_or("no [remote.github] configured", |g| g.repo.as_str());
                    ui.label(
                        egui::RichText::new(format!("{name} · builds on GitHub Actions ({repo})"))
                            .color(theme::INFO),
                    );
                } else if pdef.runs_here() {
                    ui.label(theme::muted(format!("{name} · builds on this host")));
                } else {
                    ui.label(
                        egui::RichText::new(format!(
                            "{name} · needs a {} host (dry run only here)",
                            pdef.host_os
                        ))
                        .color(theme::WARN),
                    );
                }
                match (task, saved) {
                    _ if busy.is_some() => {
                        theme::badge(ui, "BUSY", theme::INFO);
                    }
                    (Some(t), _)
                        if task_unsigned && t.state == crate::runner::TaskState::Succeeded =>
                    {
                        theme::badge(ui, "UNSIGNED", theme::WARN).on_hover_text(
                            "Built with signing skipped: a test build, not for publishing",
                        );
                    }
                    (Some(t), _) => {
                        let state = t.state.as_str().to_uppercase();
                        let label = if t.info.kind == crate::pipeline::DRY_RUN_KIND {
                            format!("DRY RUN {state}")
                        } else if task_unsigned {
                            format!("UNSIGNED BUILD {state}")
                        } else {
                            state
                        };
                        theme::badge(ui, &label, theme::task_state(t.state));
                    }
                    (None, Some(s)) if s.unsigned && s.status == BuildStatus::Succeeded => {
                        theme::badge(ui, "UNSIGNED", theme::WARN).on_hover_text(
                            "Built with signing skipped: a test build, not for publishing",
                        );
                    }
                    (None, Some(s)) => {
                        let color = match s.status {
                            BuildStatus::Succeeded => theme::OK,
                            BuildStatus::Running => theme::INFO,
                            _ => theme::BAD,
                        };
                        theme::badge(ui, &s.status.as_str().to_uppercase(), color);
                    }
                    (None, None) => {
                        theme::badge(ui, "NOT BUILT", theme::MUTED);
                    }
                }
            });
            let running = task.is_some_and(|t| !t.state.is_finished()) || starting;
            let pre = self.preflight.get(name);
            // Why Run and Resume are off: another console builds it (said first), or the
            // preflight failed.
            let busy_why = busy.as_ref().map(|l| {
                format!(
                    "{} on {}: Run is off until it ends (the lease on {} is theirs)",
                    crate::pipeline::team::busy_phrase(l),
                    l.host,
                    l.what
                )
            });
            let skipped = pre.and_then(|p| p.skipped.clone());
            let failed = busy_why
                .clone()
                .or_else(|| self.failed_preflight(data, name));
            ui.horizontal(|ui| {
                let can_run = !running && skipped.is_none() && pdef.can_build_from_here();
                // The plan can be shown on any host where the builder's interpreter runs.
                if ui
                    .add_enabled(!running, egui::Button::new("Dry run"))
                    .on_hover_text("Print the exact plan; nothing is built or signed")
                    .clicked()
                {
                    actions.push(Action::Build {
                        platform: name.to_owned(),
                        dry_run: true,
                        resume: false,
                    });
                }
                let failed_before = saved.is_some_and(|s| {
                    !matches!(s.status, BuildStatus::Succeeded | BuildStatus::Running)
                });
                let resume_hint = if pdef.is_remote() {
                    "Re-run the failed jobs of the same run on GitHub Actions"
                } else {
                    "Continue from the step that failed; finished steps are skipped"
                };
                if failed_before
                    && ui
                        .add_enabled(can_run && failed.is_none(), egui::Button::new("Resume"))
                        .on_hover_text(resume_hint)
                        .on_disabled_hover_text(failed.as_deref().unwrap_or(
                            "Not possible now: a build is running, or this host cannot build it",
                        ))
                        .clicked()
                {
                    actions.push(Action::Build {
                        platform: name.to_owned(),
                        dry_run: false,
                        resume: true,
                    });
                }
                let label = match saved {
                    Some(s) if s.status == BuildStatus::Running => "Watch run",
                    Some(_) => "Rebuild",
                    None => "Run",
                };
                let asking = self.confirm_rebuild.as_deref() == Some(name);
                let mut run = ui
                    .add_enabled(
                        can_run && !asking && failed.is_none(),
                        egui::Button::new(label),
                    )
                    .on_hover_text("Run every step from the start");
                if let Some(why) = &failed {
                    run = run.on_disabled_hover_text(why);
                }
                if run.clicked() {
                    // Replacing files a PASS verify or a published version vouched for is
                    // asked first.
                    if label != "Watch run" && !data.rebuild_invalidates.is_empty() {
                        actions.push(Action::AskRebuild(name.to_owned()));
                    } else {
                        actions.push(Action::Build {
                            platform: name.to_owned(),
                            dry_run: false,
                            resume: false,
                        });
                    }
                }
                if let Some(t) = task.filter(|_| running)
                    && ui.button("Cancel").clicked()
                {
                    actions.push(Action::Cancel(t.info.id));
                }
            });
            if let Some(l) = &busy {
                ui.label(
                    egui::RichText::new(crate::pipeline::team::busy_phrase(l)).color(theme::INFO),
                )
                .on_hover_text(busy_why.clone().unwrap_or_default());
            } else if starting {
                ui.label(theme::muted("Taking the lease on this build…"));
            }
            if self.confirm_rebuild.as_deref() == Some(name) {
                egui::Frame::new()
                    .stroke(egui::Stroke::new(1.0, theme::WARN))
                    .inner_margin(8.0)
                    .show(ui, |ui| {
                        ui.label(
                            egui::RichText::new(format!(
                                "Building {name} again replaces its installer{}. This invalidates:",
                                if self.skip_signing {
                                    " with an UNSIGNED one"
                                } else {
                                    ""
                                }
                            ))
                            .color(theme::WARN)
                            .strong(),
                        );
                        for what in &data.rebuild_invalidates {
                            ui.label(egui::RichText::new(format!("• {what}")).color(theme::WARN));
                        }
                        ui.horizontal(|ui| {
                            if ui.button("Rebuild anyway").clicked() {
                                actions.push(Action::Build {
                                    platform: name.to_owned(),
                                    dry_run: false,
                                    resume: false,
                                });
                            }
                            if ui.button("Keep the current build").clicked() {
                                actions.push(Action::CancelRebuild);
                            }
                        });
                    });
            }
            // A build's first step is its own preflight: the one it passed is said, not "not
            // run yet".
            let built_after_preflight = data
                .pipeline_state
                .platforms
                .get(name)
                .filter(|p| p.steps.iter().any(|s| s.name == "Preflight"));
            match pre {
                None => match built_after_preflight {
                    Some(p) => {
                        ui.label(theme::muted(format!(
                            "Preflight passed as the first step of the last build ({}); Run \
                             preflight checks this machine again now.",
                            crate::local_time(p.finished_at, false)
                        )));
                    }
                    None => {
                        ui.label(theme::muted("Preflight not run yet."));
                    }
                },
                Some(_) if self.preflight_run.is_running() => {
                    // The rows of the last one would read as this one's.
                    ui.label(egui::RichText::new("Preflight running…").color(theme::INFO));
                }
                Some(p) => {
                    let stale = self.stale_because(data, name, p);
                    if let Some(why) = &stale {
                        ui.horizontal_wrapped(|ui| {
                            theme::badge(ui, "STALE", theme::WARN);
                            ui.label(egui::RichText::new(why).color(theme::WARN));
                        });
                    }
                    if let Some(reason) = &p.skipped {
                        ui.label(
                            egui::RichText::new(format!("Skipped on this host: {reason}"))
                                .color(theme::WARN),
                        );
                    }
                    for c in &p.checks {
                        // Wrapped: a long path goes on the next line, inside the card.
                        ui.horizontal_wrapped(|ui| {
                            let (text, color) = if c.ok && c.warning {
                                ("SKIPPED", theme::WARN)
                            } else if c.ok {
                                ("OK", theme::OK)
                            } else {
                                ("FAIL", theme::BAD)
                            };
                            // A stale row is greyed: it says what was, not what is.
                            theme::badge(
                                ui,
                                text,
                                if stale.is_some() { theme::MUTED } else { color },
                            );
                            ui.label(&c.name);
                            ui.label(theme::muted(&c.detail));
                            if !c.fix.is_empty() {
                                ui.label(egui::RichText::new(format!("fix: {}", c.fix)).color(
                                    if stale.is_some() {
                                        theme::MUTED
                                    } else {
                                        theme::WARN
                                    },
                                ));
                            }
                        });
                    }
                }
            }
            // Steps: live from a running task, else from the saved state (a remote run's
            // durations are the engine's own), else from the finished task. A dry run's are its
            // own: the saved state is the last real build's, not what the dry run walked.
            let live = task.filter(|t| {
                !t.state.is_finished()
                    || saved.is_none()
                    || t.info.kind == crate::pipeline::DRY_RUN_KIND
            });
            let steps: Vec<(String, String)> = match live {
                Some(t) => t
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let end = t.steps.get(i + 1).map_or(t.elapsed, |n| n.started_after);
                        (
                            s.name.clone(),
                            crate::human_duration(end.saturating_sub(s.started_after)),
                        )
                    })
                    .collect(),
                None => saved
                    .map(|s| {
                        s.steps
                            .iter()
                            .map(|st| {
                                (
                                    st.name.clone(),
                                    // From a state file: a value that is no duration shows as 0.
                                    crate::human_duration(
                                        std::time::Duration::try_from_secs_f64(st.seconds)
                                            .unwrap_or_default(),
                                    ),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            if !steps.is_empty() {
                egui::Grid::new(("steps", name))
                    .num_columns(2)
                    .spacing([16.0, 2.0])
                    .show(ui, |ui| {
                        for (i, (step, duration)) in steps.iter().enumerate() {
                            let current = running && i + 1 == steps.len();
                            let text = if current {
                                format!("{step} (running)")
                            } else {
                                step.clone()
                            };
                            ui.label(egui::RichText::new(text).color(if current {
                                theme::INFO
                            } else {
                                theme::OK
                            }));
                            ui.label(theme::muted(duration));
                            ui.end_row();
                        }
                    });
            }
            if let Some(r) = saved.and_then(|s| s.remote.as_ref()) {
                ui.horizontal(|ui| {
                    ui.hyperlink_to(
                        format!("Run #{} on GitHub (attempt {})", r.run_id, r.attempt.max(1)),
                        &r.html_url,
                    );
                    ui.label(theme::muted(format!("correlation id {}", r.correlation_id)));
                });
            }
            if let Some(s) = saved.filter(|_| task.is_none()) {
                // Who ran it, where and when, as its entry says (a teammate's build too), and
                // how many of its files the bucket holds.
                match data.build_authors.get(name) {
                    Some(by) => {
                        let in_bucket = data.ws.shared().map(|_| {
                            data.bucket_artifacts.as_ref().map_or(0, |r| {
                                r.files
                                    .files
                                    .iter()
                                    .filter(|f| {
                                        f.kind == crate::audit::event::BlobKind::Artifact
                                            && f.platform.as_deref() == Some(name)
                                    })
                                    .count()
                            })
                        });
                        ui.label(theme::muted(format!(
                            "{} · {}",
                            crate::pipeline::team::run_phrase(s, by, in_bucket),
                            s.message
                        )))
                        .on_hover_text(format!(
                            "entry #{}, {}",
                            by.seq,
                            crate::local_time(by.at, true)
                        ));
                    }
                    None => {
                        ui.label(theme::muted(format!(
                            "Last run {}: {}",
                            crate::local_time(s.finished_at, false),
                            s.message
                        )));
                    }
                }
            }
            if let Some(t) = task
                && let Some(m) = &t.message
            {
                let color = if task_unsigned && t.state == crate::runner::TaskState::Succeeded {
                    theme::WARN
                } else {
                    theme::task_state(t.state)
                };
                // A build refused because another console held its lease: once that holder is
                // gone, its words are old news, and what holds now is said instead.
                match lease_now(data, name).filter(|_| m.contains(" is in progress by ")) {
                    Some(now) => {
                        ui.label(theme::muted(now)).on_hover_text(m);
                    }
                    None => {
                        ui.label(egui::RichText::new(m).color(color));
                    }
                }
            }
        });
    }
}

/// Whether the lease on building the selected release's `platform` is free now, as the
/// Overview's Team last read the leases: what holds instead of "in progress by ben" (run
/// out: the next build takes it over; given back: free). `None` while someone holds it, or
/// when it is unknown.
fn lease_now(data: &Snapshot, platform: &str) -> Option<String> {
    let version = &data.current.as_ref()?.release.version;
    let what = format!("build {version} {platform}");
    let team = data.team.as_ref()?.as_ref().ok()?;
    if team.leases.iter().any(|l| l.what == what) {
        return None;
    }
    Some(match team.expired.iter().find(|l| l.what == what) {
        Some(l) => format!(
            "{}@{}'s lease on this build ran out at {} without being renewed: building takes \
             it over.",
            l.holder,
            l.host,
            crate::local_time(l.ends(), false)
        ),
        None => "Nobody holds this build's lease now: it may be built here.".to_owned(),
    })
}
