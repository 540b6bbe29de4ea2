//! The Deploy panel: the gates before publishing, the publish step (every file with its size
//! and SHA-256, the feeds exactly as they will be written, a confirmation that says what will
//! happen), the resulting links with copy buttons, what is live on the channel, and yank; the
//! backend's Argo CD application (sync and health live, its resources, history and rollback).

use super::command::Command;
use super::panel::{Cx, Finished, Panel, Pending};
use super::snapshot::Snapshot;
use super::{theme, widgets};
use crate::deploy::argocd::{self, AppStatus, Health, SyncStatus, or_unknown};
use crate::deploy::{self, Outcome, Plan, Status};
use crate::runner::{Runner, TaskId, TaskState};
use crate::workspace::Release;
use crate::workspace::config::Platform;

/// A change waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Publish,
    Yank {
        version: String,
        reason: String,
    },
    /// Sync the backend to this revision.
    Backend(String),
    /// Roll the backend back to this history entry (id, revision).
    Rollback(i64, String),
}

/// What the panel reads: the plan, the default channel's status, and the other channels'
/// records.
type Loaded = (
    Result<Plan, String>,
    Result<Status, String>,
    Vec<(String, deploy::Channel)>,
);

/// Deploy panel state.
#[derive(Debug, Default)]
pub struct DeployUi {
    pub plan: Option<Result<Plan, String>>,
    pub status: Option<Result<Status, String>>,
    /// Every channel's record but the default's (what is live, yanked and begun there), from
    /// the workspace's own records.
    pub others: Vec<(String, deploy::Channel)>,
    /// The plan and the status, each read on its own: a status that cannot be read (a feed
    /// in the way) leaves the plan shown, and the other way round.
    fetch: Pending<Loaded>,
    /// The release and audit length the plan is for.
    computed_for: Option<(String, usize)>,
    pub confirm: Option<Confirm>,
    /// Platforms ticked "Not shipping … this time" for the next publish, and why.
    pub skip: Vec<Platform>,
    pub skip_reason: String,
    /// The publish task in flight and where its outcome lands.
    pub task: Option<TaskId>,
    slot: std::sync::Arc<std::sync::Mutex<Option<Outcome>>>,
    pub outcome: Option<Outcome>,
    /// Why the last publish failed or was refused, shown in the card (not only as a toast).
    pub publish_error: Option<String>,
    yank: Pending<Vec<String>>,
    /// A platform skip being withdrawn ("Ship … after all"), and why the last one failed.
    unskip: Pending<Vec<String>>,
    pub unskip_error: Option<String>,
    /// Why the last yank failed, shown in the card.
    pub yank_error: Option<String>,
    /// The backend's Argo CD application, when `[deploy.argocd]` names one.
    pub backend: Option<Result<AppStatus, String>>,
    backend_fetch: Pending<AppStatus>,
    backend_at: Option<std::time::Instant>,
    /// The backend card has been drawn: its state is worth reading.
    backend_seen: bool,
    /// The backend rollout or rollback in flight.
    pub backend_task: Option<TaskId>,
}

/// How long a backend rollout or rollback may take: the wait for Synced and Healthy, and two
/// minutes more.
fn backend_timeout(cfg: &crate::workspace::config::ArgoCdConfig) -> std::time::Duration {
    std::time::Duration::from_secs_f64(cfg.timeout_mins * 60.0) + std::time::Duration::from_mins(2)
}

/// How often the backend card reads the application while a rollout runs.
const BACKEND_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

impl Panel for DeployUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        match self.fetch.poll() {
            Some(Ok((plan, status, others))) => {
                // A failed yank stays begun until a later publish or yank finishes it: once
                // nothing is begun, its error is answered.
                if status.as_ref().is_ok_and(|s| s.begun.is_none()) {
                    self.yank_error = None;
                }
                self.plan = Some(plan);
                self.status = Some(status);
                self.others = others;
            }
            Some(Err(e)) => {
                self.plan = Some(Err(e.clone()));
                self.status = Some(Err(e));
            }
            None => {}
        }
        if let Some(r) = self.backend_fetch.poll() {
            self.backend = Some(r);
            self.backend_at = Some(std::time::Instant::now());
        }
        // The backend's state is read once its card is shown, then again while a rollout runs.
        let stale = self
            .backend_at
            .is_none_or(|at| self.backend_task.is_some() && at.elapsed() >= BACKEND_REFRESH);
        if self.backend_seen && stale && !self.backend_fetch.is_running() {
            let ws = cx.snapshot.ws.clone();
            cx.fetch(&mut self.backend_fetch, argocd::status_of(ws));
        }
        match self.unskip.poll() {
            Some(Ok(lines)) => {
                self.unskip_error = None;
                self.computed_for = None;
                cx.success(lines.join("; "));
                cx.push(Command::Reload);
            }
            Some(Err(e)) => {
                self.unskip_error = Some(e.clone());
                self.computed_for = None;
                cx.error(e);
                cx.push(Command::Reload);
            }
            None => {}
        }
        match self.yank.poll() {
            Some(Ok(keys)) => {
                self.yank_error = None;
                cx.success(format!("Yanked; rewrote {}", keys.join(", ")));
                cx.push(Command::Reload);
            }
            Some(Err(e)) => {
                // A failed yank may have begun (it stays begun until finished): what is live
                // is read again, and the card says why it failed.
                self.yank_error = Some(e.clone());
                self.computed_for = None;
                cx.error(e);
                cx.push(Command::Reload);
            }
            None => {}
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, (cx.snapshot, cx.runner), &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }

    fn on_task_finished(&mut self, task: &Finished, commands: &mut Vec<Command>) {
        if self.backend_task == Some(task.info.id) {
            self.backend_task = None;
            self.backend_at = None;
            commands.push(Command::Reload);
            return;
        }
        if self.task != Some(task.info.id) {
            return;
        }
        self.task = None;
        if task.state == TaskState::Succeeded {
            self.outcome = self.slot.lock().ok().and_then(|mut o| o.take());
            self.publish_error = None;
        } else {
            self.publish_error = Some(format!("{}: {}", task.state.as_str(), task.message));
        }
        self.computed_for = None;
        commands.push(Command::Reload);
    }

    fn is_busy(&self) -> bool {
        self.fetch.is_running()
            || self.yank.is_running()
            || self.unskip.is_running()
            || self.backend_fetch.is_running()
    }
}

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Read the publish plan and what is live for this release (missing or stale).
    Load(Release),
    /// Publish the release (confirmed), with the platforms ticked as not shipped.
    Publish(Release),
    /// Withdraw the skip of a platform in a version ("Ship … after all").
    Unskip { platform: Platform, version: String },
    /// Yank a version (confirmed) for this reason.
    Yank { version: String, reason: String },
    /// Read the backend's application again.
    RefreshBackend,
    /// Sync the backend to this revision (confirmed), as a task.
    Rollout { release: Release, revision: String },
    /// Roll the backend back to a history entry (confirmed), as a task.
    Rollback { release: Release, id: i64 },
}

impl DeployUi {
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        let ws = cx.snapshot.ws.clone();
        match action {
            Action::Load(release) => {
                self.computed_for = Some((release.version.to_string(), cx.snapshot.audit.len()));
                cx.fetch(&mut self.fetch, async move {
                    // The plan is file work (the gates, the artifacts); the status asks the
                    // store.
                    let plan = {
                        let (ws, r) = (ws.clone(), release);
                        tokio::task::spawn_blocking(move || deploy::plan(&ws, &r, None))
                            .await
                            .map_err(crate::runner::panic_message)
                            .and_then(|p| p.map_err(|e| e.to_string()))
                    };
                    let status = deploy::status(&ws, None).await.map_err(|e| e.to_string());
                    // The other channels, as recorded here (a channel whose record cannot be
                    // read is left out: the default's status says why, if it is the cause).
                    let shown = status.as_ref().ok().map(|s| s.channel.clone());
                    let others = tokio::task::spawn_blocking(move || deploy::channels(&ws))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|(name, _)| Some(name) != shown.as_ref())
                        .collect();
                    Ok::<_, deploy::DeployError>((plan, status, others))
                });
            }
            Action::Publish(release) => {
                self.confirm = None;
                let skips = deploy::SkipRequest {
                    platforms: std::mem::take(&mut self.skip),
                    reason: std::mem::take(&mut self.skip_reason).trim().to_owned(),
                };
                self.start(cx, &release, skips);
            }
            Action::Unskip { platform, version } => {
                cx.fetch_blocking(&mut self.unskip, move || {
                    let release = ws.release(Some(&version))?;
                    deploy::withdraw_skip(&ws, &release, platform).map(|w| w.lines())
                });
            }
            Action::Yank { version, reason } => {
                self.yank_error = None;
                cx.fetch(&mut self.yank, async move {
                    deploy::yank(&ws, &version, &reason, None).await
                });
                self.confirm = None;
            }
            Action::RefreshBackend => self.backend_at = None,
            Action::Rollout { release, revision } => {
                self.confirm = None;
                let Some(cfg) = ws.config().deploy.argocd.clone() else {
                    return;
                };
                let spec = ws.task_spec(
                    &format!("deploy backend {}", release.version),
                    argocd::TASK_KIND,
                    Some(&release),
                    backend_timeout(&cfg),
                );
                self.backend_task = cx.start_task(spec, move |ctx| {
                    argocd::run_task(ctx, ws, release, Some(revision))
                });
                self.backend_at = None;
            }
            Action::Rollback { release, id } => {
                self.confirm = None;
                let Some(cfg) = ws.config().deploy.argocd.clone() else {
                    return;
                };
                let spec = ws.task_spec(
                    &format!("deploy rollback {}", release.version),
                    argocd::ROLLBACK_KIND,
                    None,
                    backend_timeout(&cfg),
                );
                let v = release.version.to_string();
                self.backend_task =
                    cx.start_task(spec, move |ctx| argocd::run_rollback(ctx, ws, v, id));
                self.backend_at = None;
            }
        }
    }

    fn draw(
        &mut self,
        ui: &mut egui::Ui,
        (data, runner): (&Snapshot, &Runner),
        actions: &mut Vec<Action>,
    ) {
        let Some(view) = &data.current else {
            ui.label(theme::heading("Deploy"));
            ui.label("No release yet: create one on the Overview.");
            return;
        };
        let release = view.release.clone();
        let key = (release.version.to_string(), data.audit.len());
        if self.computed_for.as_ref() != Some(&key) && !self.fetch.is_running() {
            actions.push(Action::Load(release.clone()));
        }
        ui.label(theme::heading(&format!(
            "Deploy: {} {}",
            data.ws.config().product.name,
            release.version
        )));
        ui.add_space(4.0);
        ui.label(egui::RichText::new("Gates before publishing").strong());
        widgets::gate_list(ui, &data.gates);
        let open = crate::gates::all_open(&data.gates);
        ui.add_space(8.0);
        self.publish_card(ui, (runner, open, &release), actions);
        ui.add_space(8.0);
        self.status_card(ui, actions);
        ui.add_space(8.0);
        self.other_channels(ui);
        self.backend_card(ui, data, &release, actions);
    }

    fn publish_card(
        &mut self,
        ui: &mut egui::Ui,
        (runner, gates_open, release): (&Runner, bool, &Release),
        actions: &mut Vec<Action>,
    ) {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width().min(1000.0));
            ui.label(egui::RichText::new("Publish installers").strong());
            let Some(plan) = widgets::loaded(ui, &self.plan).cloned() else {
                return;
            };
            ui.label(theme::muted(format!(
                "To {} · channel {} · installers under immutable versioned keys, then the feeds \
                 (no-cache)",
                plan.store, plan.channel
            )));
            if let Some(p) = &plan.problem {
                ui.colored_label(theme::WARN, format!("Nothing to upload: {p}"));
            }
            if let Some(stale) = &plan.stale {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, "STALE", theme::WARN);
                    ui.colored_label(
                        theme::WARN,
                        format!(
                            "{}: the SHA-256 below are that verify's, not the files' own. \
                             Verify again before publishing.",
                            stale.describe()
                        ),
                    );
                });
            }
            self.skipped_card(ui, &plan, actions);
            self.skip_card(ui, &plan);
            let sha_header = plan.verified_at.map_or_else(
                || "SHA-256".to_owned(),
                |at| format!("SHA-256 as verified {}", crate::local_time(at, true)),
            );
            egui::Grid::new("publish-files")
                .num_columns(3)
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    widgets::header_row(ui, &["Key", "Size", sha_header.as_str()]);
                    for u in &plan.uploads {
                        let changed = plan
                            .stale
                            .as_ref()
                            .and_then(|st| st.changed.iter().find(|c| c.name == u.name));
                        ui.label(theme::mono(&u.key));
                        ui.label(crate::verify::human_bytes(u.size));
                        match changed {
                            Some(c) => {
                                ui.add(
                                    egui::Label::new(
                                        theme::mono(u.sha256.to_string()).color(theme::WARN),
                                    )
                                    .truncate(),
                                )
                                .on_hover_text(format!(
                                    "STALE: the file was {} after the verify; this is the \
                                         verified hash, not the file's own",
                                    c.how.as_str()
                                ));
                            }
                            None => {
                                // Cut with an ellipsis in a narrow window; whole on hover.
                                ui.add(
                                    egui::Label::new(theme::mono(u.sha256.to_string())).truncate(),
                                )
                                .on_hover_text(u.sha256.to_string());
                            }
                        }
                        ui.end_row();
                    }
                });
            for (key, body) in &plan.feeds {
                egui::CollapsingHeader::new(if plan.stale.is_some() {
                    format!("{key} as it would be written from the stale verify")
                } else {
                    format!("{key} as it will be written")
                })
                .id_salt(("feed", key))
                .show(ui, |ui| {
                    ui.label(theme::mono(body));
                });
            }
            let running = self.task.is_some();
            let opening = plan.opening(gates_open, &self.skip, &self.skip_reason);
            let ready = opening.may_publish() && plan.problem.is_none() && !running;
            if self.confirm == Some(Confirm::Publish) {
                ui.colored_label(
                    theme::WARN,
                    format!(
                        "Upload {} files to {} and point the {} feeds and page at {}?",
                        plan.uploads.len(),
                        plan.store,
                        plan.channel,
                        plan.version
                    ),
                );
                for p in &self.skip {
                    let settles: Vec<String> = plan
                        .skip_settles
                        .iter()
                        .filter(|(sp, _)| sp == p)
                        .map(|(_, title)| format!("; ticks \"{title}\""))
                        .collect();
                    ui.colored_label(
                        theme::WARN,
                        format!(
                            "{} is NOT shipped in {} ({}): recorded on the release, audited{}; \
                             its feeds are left as they are.",
                            p.title(),
                            plan.version,
                            self.skip_reason.trim(),
                            settles.concat(),
                        ),
                    );
                }
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(ready, egui::Button::new("Confirm publish"))
                        .clicked()
                    {
                        actions.push(Action::Publish(release.clone()));
                    }
                    if ui.button("Cancel").clicked() {
                        self.confirm = None;
                    }
                });
            } else {
                let label = format!("Publish {}", plan.version);
                // Why the button is as it is, beside it: a reason only on hover is missed.
                let why = match opening {
                    deploy::Opening::SettlingRecorded => Some((
                        theme::MUTED,
                        "A build item of a platform not shipped this time is open (its skip's \
                         tick was not made): publishing ticks it first, as the skip's",
                    )),
                    deploy::Opening::Open | deploy::Opening::BySkipping => None,
                    deploy::Opening::WantsSkip => Some((
                        theme::WARN,
                        "A platform has no verified installer: ship it, or tick \"Not shipping \
                         … this time\" above and say why",
                    )),
                    deploy::Opening::Blocked => {
                        Some((theme::WARN, "A gate is blocked (see above)"))
                    }
                };
                ui.horizontal_wrapped(|ui| {
                    let resp = ui.add_enabled(ready, egui::Button::new(label));
                    if let Some((color, text)) = why {
                        ui.colored_label(color, text);
                    }
                    if resp.clicked() {
                        self.confirm = Some(Confirm::Publish);
                    }
                });
            }
            if let Some(e) = &self.publish_error {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, "NOT PUBLISHED", theme::BAD);
                    ui.colored_label(theme::BAD, e);
                });
            }
            if let Some(snap) = self.task.and_then(|id| runner.task(id)) {
                let fraction = snap.progress.unwrap_or(0.0);
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .show_percentage()
                        .text(format!(
                            "Publishing {:.0}%: {}",
                            fraction * 100.0,
                            snap.step.as_deref().unwrap_or("starting")
                        )),
                );
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(250));
            }
            if let Some(o) = &self.outcome {
                ui.label(format!(
                    "{} {}: {} uploaded, {} already there; every object's stored \
                     checksum checked",
                    o.version,
                    if o.already_published {
                        "was already published (nothing announced)"
                    } else {
                        "published"
                    },
                    o.uploaded.len(),
                    o.already_there.len()
                ));
                for (name, url) in &o.links {
                    let suffix = format!("/{name}");
                    let sent = o.uploaded.iter().any(|k| k.ends_with(&suffix));
                    ui.horizontal(|ui| {
                        if sent {
                            theme::badge(ui, "UPLOADED", theme::INFO);
                        } else {
                            theme::badge(ui, "ALREADY STORED", theme::MUTED);
                        }
                        theme::badge(ui, "VERIFIED", theme::OK);
                        ui.label(name);
                        if ui.small_button(format!("Copy link {name}")).clicked() {
                            ui.ctx().copy_text(url.clone());
                        }
                        // A long link is cut to the card; the whole one shows on hover.
                        ui.add(egui::Label::new(theme::mono(url)).truncate())
                            .on_hover_text(url);
                    });
                }
                for n in &o.notes {
                    ui.label(theme::muted(n));
                }
            }
        });
    }

    /// The platforms the release records as not shipped, each with its reason and a button
    /// that withdraws the skip (refused once the version is published).
    fn skipped_card(&self, ui: &mut egui::Ui, plan: &Plan, actions: &mut Vec<Action>) {
        if plan.skipped.is_empty() {
            return;
        }
        let published = self.status.as_ref().is_some_and(|s| {
            s.as_ref()
                .is_ok_and(|s| s.published.contains(&plan.version))
        });
        ui.add_space(4.0);
        for s in &plan.skipped {
            ui.horizontal_wrapped(|ui| {
                widgets::not_shipped(ui, s);
                if !published {
                    let label = format!("Ship {} in {} after all", s.platform.title(), s.version);
                    if ui
                        .add_enabled(!self.unskip.is_running(), egui::Button::new(label))
                        .on_hover_text(
                            "Withdraws the skip (audited): the installers gate wants its \
                             installer again, and the checklist items the skip ticked are \
                             unticked",
                        )
                        .clicked()
                    {
                        actions.push(Action::Unskip {
                            platform: s.platform,
                            version: s.version.clone(),
                        });
                    }
                }
            });
        }
        if let Some(e) = &self.unskip_error {
            ui.colored_label(theme::BAD, format!("Not withdrawn: {e}"));
        }
    }

    /// The platforms without a verified installer, each with a "Not shipping it this time"
    /// box, and the reason the skip is recorded with.
    fn skip_card(&mut self, ui: &mut egui::Ui, plan: &Plan) {
        self.skip
            .retain(|p| plan.missing_installers.iter().any(|m| m.platform == *p));
        if plan.missing_installers.is_empty() {
            return;
        }
        ui.add_space(4.0);
        ui.label(egui::RichText::new("Platforms without a verified installer").strong());
        for m in &plan.missing_installers {
            ui.horizontal_wrapped(|ui| {
                theme::badge(ui, "NO INSTALLER", theme::BAD);
                ui.label(format!("{}: {}", m.platform.title(), m.why));
            });
            let mut on = self.skip.contains(&m.platform);
            if ui
                .checkbox(
                    &mut on,
                    format!(
                        "Not shipping {} in {} this time",
                        m.platform.title(),
                        plan.version
                    ),
                )
                .changed()
            {
                if on {
                    self.skip.push(m.platform);
                } else {
                    self.skip.retain(|p| *p != m.platform);
                }
            }
            // The skip is recorded when Publish runs, not when the box is ticked: the gates
            // above count it from then.
            for (_, title) in plan.skip_settles.iter().filter(|(p, _)| *p == m.platform) {
                ui.indent(("skip-settles", m.platform.title()), |ui| {
                    ui.label(theme::muted(format!(
                        "Publish records the skip first and ticks \"{title}\" with the reason; \
                         until {version} is published, \"Ship {platform} in {version} after \
                         all\" withdraws it and unticks the item.",
                        version = plan.version,
                        platform = m.platform.title(),
                    )));
                });
            }
        }
        if !self.skip.is_empty() {
            ui.horizontal(|ui| {
                let l = ui.label("Why it is not shipped (audited)");
                ui.add(
                    egui::TextEdit::singleline(&mut self.skip_reason)
                        .hint_text("e.g. Windows-only hotfix for INC-2026-12-01-001")
                        .desired_width(380.0),
                )
                .labelled_by(l.id);
            });
        }
        ui.add_space(6.0);
    }

    fn start(&mut self, cx: &mut Cx<'_>, release: &Release, skips: deploy::SkipRequest) {
        let ws = cx.snapshot.ws.clone();
        let spec = ws.task_spec(
            &format!("publish {}", release.version),
            deploy::TASK_KIND,
            Some(release),
            deploy::TASK_TIMEOUT,
        );
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        self.slot = slot.clone();
        self.outcome = None;
        self.publish_error = None;
        let r = release.clone();
        self.task = cx.start_task(spec, move |ctx| {
            deploy::run_task(ctx, ws, r, None, skips, slot)
        });
    }

    fn status_card(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width().min(1000.0));
            let title = match &self.status {
                Some(Ok(s)) => format!("Live on {}", s.channel),
                _ => "Live on the channel".to_owned(),
            };
            ui.label(egui::RichText::new(title).strong());
            let Some(status) = widgets::loaded(ui, &self.status).cloned() else {
                return;
            };
            ui.horizontal(|ui| {
                ui.label("Live:");
                match &status.live {
                    Some(v) => theme::badge(ui, v, theme::OK),
                    None => theme::badge(ui, "NOTHING PUBLISHED", theme::MUTED),
                };
            });
            if let Some(begun) = &status.begun {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, "UNFINISHED", theme::WARN);
                    ui.label(begun);
                });
                ui.label(theme::muted(format!(
                    "Here, the next Publish or Yank on {} finishes it first.",
                    status.channel
                )));
            }
            for (feed, points) in &status.feeds {
                ui.label(format!(
                    "{feed} offers {}",
                    match points {
                        Some(v) => v.as_str(),
                        None if status.written.contains(feed) => "no version (no installer for it)",
                        None => "nothing (not written)",
                    }
                ));
            }
            for y in &status.yanked {
                ui.label(theme::muted(yanked_line(y)));
            }
            if let Some(e) = &self.yank_error {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, "YANK FAILED", theme::BAD);
                    ui.colored_label(theme::BAD, e);
                });
            }
            let Some(live) = status.live.clone() else {
                return;
            };
            let others = status
                .published
                .iter()
                .filter(|v| **v != live && !status.yanked.iter().any(|y| y.version == **v))
                .count();
            ui.add_space(4.0);
            if let Some(Confirm::Yank { version, reason }) = &mut self.confirm {
                ui.colored_label(
                    theme::WARN,
                    format!(
                        "Yank {version}: the feeds and the page point back to the previous \
                             live version; the objects stay."
                    ),
                );
                ui.horizontal(|ui| {
                    let l = ui.label("Reason");
                    ui.add(egui::TextEdit::singleline(reason).desired_width(320.0))
                        .labelled_by(l.id);
                });
                let ok = !reason.trim().is_empty() && !self.yank.is_running();
                let (v, r) = (version.clone(), reason.clone());
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(ok, egui::Button::new("Confirm yank"))
                        .clicked()
                    {
                        actions.push(Action::Yank {
                            version: v,
                            reason: r,
                        });
                    }
                    if ui.button("Cancel").clicked() {
                        self.confirm = None;
                    }
                });
            } else {
                let resp = ui.add_enabled(others > 0, egui::Button::new(format!("Yank {live}")));
                if resp
                    .on_disabled_hover_text("The only live version: nothing to point back to")
                    .clicked()
                {
                    self.confirm = Some(Confirm::Yank {
                        version: live,
                        reason: String::new(),
                    });
                }
            }
        });
    }

    /// The channels other than the one shown: what is live, yanked and begun on each.
    fn other_channels(&self, ui: &mut egui::Ui) {
        if self.others.is_empty() {
            return;
        }
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width().min(1000.0));
            ui.label(egui::RichText::new("Other channels").strong());
            self.other_channel_rows(ui);
        });
        ui.add_space(8.0);
    }

    fn other_channel_rows(&self, ui: &mut egui::Ui) {
        for (name, ch) in &self.others {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!("{name}:"));
                match ch.live().first() {
                    Some(p) => theme::badge(ui, &p.version, theme::OK),
                    None => theme::badge(ui, "NOTHING PUBLISHED", theme::MUTED),
                };
            });
            ui.indent(("other-channel", name), |ui| {
                if let Some(b) = &ch.begun {
                    let (by, at) = b.change.begun_by();
                    ui.horizontal_wrapped(|ui| {
                        theme::badge(ui, "UNFINISHED", theme::WARN);
                        ui.label(format!(
                            "the {} on {name} was begun {} by {by} and its feeds not all \
                             written: the next publish or yank on {name} finishes it first",
                            b.change.describe(),
                            crate::local_time(at, false)
                        ));
                    });
                }
                for y in &ch.yanked {
                    ui.label(theme::muted(yanked_line(y)));
                }
            });
        }
    }

    fn backend_card(
        &mut self,
        ui: &mut egui::Ui,
        data: &Snapshot,
        release: &Release,
        actions: &mut Vec<Action>,
    ) {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width().min(1000.0));
            ui.label(egui::RichText::new("Backend rolling update").strong());
            let Some(cfg) = data.ws.config().deploy.argocd.clone() else {
                ui.label(theme::muted(
                    "No backend here: add [deploy.argocd] (api_base, application, token_env) to \
                     release-console.toml to roll it out with Argo CD; until then the checklist \
                     item is ticked by hand.",
                ));
                return;
            };
            let revision = cfg
                .revision
                .replace("{version}", &release.version.to_string());
            // Read (again) by `logic` once the card has been seen.
            self.backend_seen = true;
            if self.backend_task.is_some() {
                ui.ctx().request_repaint_after(BACKEND_REFRESH);
            }
            ui.label(theme::muted(format!(
                "Argo CD application {} at {} · a release deploys revision {revision}",
                cfg.application, cfg.api_base
            )));
            ui.horizontal(|ui| {
                if ui.small_button("Refresh").clicked() {
                    actions.push(Action::RefreshBackend);
                }
                if self.backend_fetch.is_running() {
                    ui.spinner();
                }
            });
            let Some(app) = widgets::loaded(ui, &self.backend).cloned() else {
                return;
            };
            ui.horizontal(|ui| {
                let sync_colour = if app.sync == Some(SyncStatus::Synced) {
                    theme::OK
                } else {
                    theme::WARN
                };
                theme::badge(
                    ui,
                    &or_unknown(app.sync.as_ref()).to_uppercase(),
                    sync_colour,
                );
                let health_colour = match &app.health {
                    Some(Health::Healthy) => theme::OK,
                    Some(h) if h.is_bad() => theme::BAD,
                    _ => theme::WARN,
                };
                theme::badge(
                    ui,
                    &or_unknown(app.health.as_ref()).to_uppercase(),
                    health_colour,
                );
                ui.label(theme::mono(&app.revision));
            });
            if let Some(op) = &app.operation {
                ui.label(theme::muted(format!("Last operation: {}", op.line())));
            }
            egui::Grid::new("backend-resources")
                .num_columns(4)
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    widgets::header_row(ui, &["Resource", "Sync", "Health", "Message"]);
                    for r in &app.resources {
                        ui.label(theme::mono(format!("{}/{}", r.kind, r.name)));
                        ui.label(r.sync.as_ref().map_or("", SyncStatus::as_str));
                        let colour = match &r.health {
                            None | Some(Health::Healthy) => theme::OK,
                            Some(h) if h.is_bad() => theme::BAD,
                            Some(_) => theme::WARN,
                        };
                        ui.colored_label(colour, r.health.as_ref().map_or("-", Health::as_str));
                        ui.label(&r.message);
                        ui.end_row();
                    }
                });
            let running = self.backend_task.is_some();
            match self.confirm.clone() {
                Some(Confirm::Backend(rev)) => {
                    ui.colored_label(
                        theme::WARN,
                        format!(
                            "Sync {} to {rev} (prune: {}) and wait up to {} min for Synced and \
                             Healthy?",
                            cfg.application, cfg.prune, cfg.timeout_mins
                        ),
                    );
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(!running, egui::Button::new("Confirm rollout"))
                            .clicked()
                        {
                            actions.push(Action::Rollout {
                                release: release.clone(),
                                revision: rev.clone(),
                            });
                        }
                        if ui.button("Cancel").clicked() {
                            self.confirm = None;
                        }
                    });
                }
                Some(Confirm::Rollback(id, rev)) => {
                    ui.colored_label(
                        theme::WARN,
                        format!(
                            "Roll {} back to history {id} ({rev}) and wait for Healthy? Audited \
                             as a rollback of {}.",
                            cfg.application, release.version
                        ),
                    );
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(!running, egui::Button::new("Confirm rollback"))
                            .clicked()
                        {
                            actions.push(Action::Rollback {
                                release: release.clone(),
                                id,
                            });
                        }
                        if ui.button("Cancel").clicked() {
                            self.confirm = None;
                        }
                    });
                }
                _ => {
                    let b =
                        ui.add_enabled(!running, egui::Button::new(format!("Roll out {revision}")));
                    if b.clicked() {
                        self.confirm = Some(Confirm::Backend(revision.clone()));
                    }
                }
            }
            if running {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Rolling out… (each state in the tray's log)");
                });
            }
            if !app.history.is_empty() {
                egui::CollapsingHeader::new(format!("History ({})", app.history.len()))
                    .id_salt("backend-history")
                    .show(ui, |ui| {
                        for h in app.history.iter().rev() {
                            ui.horizontal(|ui| {
                                ui.label(theme::mono(format!("{:>3}  {}", h.id, h.revision)));
                                ui.label(theme::muted(&h.deployed_at));
                                let current = app.history.last().is_some_and(|l| l.id == h.id);
                                if !current
                                    && ui
                                        .add_enabled(
                                            !running,
                                            egui::Button::new(format!("Roll back to {}", h.id)),
                                        )
                                        .clicked()
                                {
                                    self.confirm =
                                        Some(Confirm::Rollback(h.id, h.revision.clone()));
                                }
                            });
                        }
                    });
            }
        });
    }
}

/// `yanked 1.1.0 2026-12-05 14:02 by ana: crashes on start`.
fn yanked_line(y: &crate::deploy::Yank) -> String {
    format!(
        "yanked {} {} by {}: {}",
        y.version,
        crate::local_time(y.at, false),
        y.by,
        y.reason
    )
}
