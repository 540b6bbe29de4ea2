//! The Deploy panel: the gates before publishing, the publish step (every file with its size
//! and SHA-256, the feeds exactly as they will be written, a confirmation that says what will
//! happen), the resulting links with copy buttons, what is live on the channel, and yank.

use super::command::Command;
use super::panel::{Cx, Finished, Panel, Pending};
use super::{theme, widgets};
use crate::deploy::{self, Outcome, Plan, Status};
use crate::runner::{TaskId, TaskState};

/// A change waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Publish,
    Yank { version: String, reason: String },
}

/// Deploy panel state.
#[derive(Debug, Default)]
pub struct DeployUi {
    pub plan: Option<Result<Plan, String>>,
    pub status: Option<Result<Status, String>>,
    fetch: Pending<(Plan, Status)>,
    /// The release and audit length the plan is for.
    computed_for: Option<(String, usize)>,
    pub confirm: Option<Confirm>,
    /// The publish task in flight and where its outcome lands.
    pub task: Option<TaskId>,
    slot: std::sync::Arc<std::sync::Mutex<Option<Outcome>>>,
    pub outcome: Option<Outcome>,
    yank: Pending<Vec<String>>,
}

impl Panel for DeployUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        match self.fetch.poll() {
            Some(Ok((plan, status))) => {
                self.plan = Some(Ok(plan));
                self.status = Some(Ok(status));
            }
            Some(Err(e)) => {
                self.plan = Some(Err(e.clone()));
                self.status = Some(Err(e));
            }
            None => {}
        }
        match self.yank.poll() {
            Some(Ok(keys)) => {
                cx.success(format!("Yanked; rewrote {}", keys.join(", ")));
                cx.push(Command::Reload);
            }
            Some(Err(e)) => cx.error(e),
            None => {}
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let data = cx.snapshot;
        let Some(view) = &data.current else {
            ui.label(theme::heading("Deploy"));
            ui.label("No release yet: create one on the Overview.");
            return;
        };
        let release = view.release.clone();
        let key = (release.version.to_string(), data.audit.len());
        if self.computed_for.as_ref() != Some(&key) && !self.fetch.is_running() {
            self.computed_for = Some(key);
            let ws = data.ws.clone();
            let r = release.clone();
            cx.fetch_blocking(&mut self.fetch, move || {
                Ok::<_, deploy::DeployError>((
                    deploy::plan(&ws, &r, None)?,
                    deploy::status(&ws, None)?,
                ))
            });
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
        self.publish_card(ui, cx, open, &release);
        ui.add_space(8.0);
        self.status_card(ui, cx);
    }

    fn on_task_finished(&mut self, task: &Finished, commands: &mut Vec<Command>) {
        if self.task != Some(task.info.id) {
            return;
        }
        self.task = None;
        if task.state == TaskState::Succeeded {
            self.outcome = self.slot.lock().ok().and_then(|mut o| o.take());
        }
        self.computed_for = None;
        commands.push(Command::Reload);
    }

    fn is_busy(&self) -> bool {
        self.fetch.is_running() || self.yank.is_running()
    }
}

impl DeployUi {
    fn publish_card(
        &mut self,
        ui: &mut egui::Ui,
        cx: &mut Cx<'_>,
        gates_open: bool,
        release: &crate::workspace::Release,
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
            egui::Grid::new("publish-files")
                .num_columns(3)
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    for h in ["Key", "Size", "SHA-256"] {
                        ui.label(theme::muted(h));
                    }
                    ui.end_row();
                    for u in &plan.uploads {
                        ui.label(theme::mono(&u.key));
                        ui.label(crate::verify::human_bytes(u.size));
                        ui.label(theme::mono(&u.sha256));
                        ui.end_row();
                    }
                });
            for (key, body) in &plan.feeds {
                egui::CollapsingHeader::new(format!("{key} as it will be written"))
                    .id_salt(("feed", key))
                    .show(ui, |ui| {
                        ui.label(theme::mono(body));
                    });
            }
            let running = self.task.is_some();
            let ready = gates_open && plan.problem.is_none() && !running;
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
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(ready, egui::Button::new("Confirm publish"))
                        .clicked()
                    {
                        self.confirm = None;
                        self.start(cx, release);
                    }
                    if ui.button("Cancel").clicked() {
                        self.confirm = None;
                    }
                });
            } else {
                let label = format!("Publish {}", plan.version);
                let resp = ui.add_enabled(ready, egui::Button::new(label));
                let resp = if gates_open {
                    resp
                } else {
                    resp.on_disabled_hover_text("A gate is blocked (see above)")
                };
                if resp.clicked() {
                    self.confirm = Some(Confirm::Publish);
                }
            }
            if running {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Publishing… (progress and log in the tray)");
                });
            }
            if let Some(o) = &self.outcome {
                ui.label(format!(
                    "{} published: {} uploaded, {} already there",
                    o.version,
                    o.uploaded.len(),
                    o.already_there.len()
                ));
                for (name, url) in &o.links {
                    ui.horizontal(|ui| {
                        ui.label(name);
                        ui.label(theme::mono(url));
                        if ui.small_button(format!("Copy link {name}")).clicked() {
                            ui.ctx().copy_text(url.clone());
                        }
                    });
                }
            }
        });
    }

    fn start(&mut self, cx: &mut Cx<'_>, release: &crate::workspace::Release) {
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
        let r = release.clone();
        self.task = cx.start_task(spec, move |ctx| deploy::run_task(ctx, ws, r, None, slot));
    }

    fn status_card(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width().min(1000.0));
            ui.label(egui::RichText::new("Live on the channel").strong());
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
                ui.label(theme::muted(format!(
                    "yanked {} {} by {}: {}",
                    y.version,
                    crate::local_time(y.at, false),
                    y.by,
                    y.reason
                )));
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
                        let ws = cx.snapshot.ws.clone();
                        cx.fetch_blocking(&mut self.yank, move || deploy::yank(&ws, &v, &r, None));
                        self.confirm = None;
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
}
