//! The Flags panel: a table of flags (key, tags, state, rollout %, stage progress, how long the
//! stage has held, when the next is allowed, the KPI gate) with create, advance, rollback and
//! archive, each confirmed after showing exactly what will change; and a plot per KPI with its
//! threshold line.

use crate::flags::{Action as Change, FlagRow, NewFlag, Overview};
use crate::human_duration;
use crate::kpi::Gate;
use crate::runner::{TaskId, TaskState};

use super::command::Command;
use super::panel::{Cx, Finished, Panel, Pending};
use super::snapshot::Snapshot;
use super::theme;

#[derive(Debug, Default)]
pub struct FlagsUi {
    /// What the provider and the KPIs say (or why they could not be read).
    /// Shared, so drawing a frame does not copy every KPI series.
    pub overview: Option<Result<std::sync::Arc<Overview>, String>>,
    /// Flags, plans and KPIs being read.
    fetch: Pending<Overview>,
    /// A change of ours ended: read again.
    stale: bool,
    /// The change waiting for confirmation.
    pub pending: Option<Change>,
    /// Reason to override a closed hold or gate (required then).
    pub override_reason: String,
    pub new_key: String,
    pub new_name: String,
    pub new_tags: String,
    pub task: Option<TaskId>,
    pub last_error: Option<String>,
    /// The flag the action buttons act on.
    pub selected: Option<String>,
}

fn gate_badge(ui: &mut egui::Ui, gate: &Gate) {
    let (text, color) = match gate {
        Gate::Green(_) => ("GATE GREEN", theme::OK),
        Gate::Red(_) => ("GATE RED", theme::BAD),
        Gate::Unknown(_) => ("GATE UNKNOWN", theme::WARN),
    };
    theme::badge(ui, text, color).on_hover_text(gate.detail());
}

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Read flags, plans and KPIs again.
    ReadFlags,
    /// Change a flag (as a task).
    Act(Change),
}

impl Panel for FlagsUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        if let Some(result) = self.fetch.poll() {
            self.overview = Some(result.map(std::sync::Arc::new));
        }
        if std::mem::take(&mut self.stale) {
            self.apply(Action::ReadFlags, cx);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }

    fn on_task_finished(&mut self, task: &Finished, _commands: &mut Vec<Command>) {
        if self.task == Some(task.info.id) {
            self.finished(task.state, &task.message);
            self.stale = true;
        }
    }

    fn is_busy(&self) -> bool {
        self.fetch.is_running()
    }
}

impl FlagsUi {
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        let ws = cx.snapshot.ws.clone();
        match action {
            Action::ReadFlags => {
                cx.fetch(
                    &mut self.fetch,
                    async move { crate::flags::overview(&ws).await },
                );
            }
            Action::Act(change) => {
                let spec = crate::flags::action_task_spec(&ws, &change);
                if let Some(id) =
                    cx.start_task(spec, move |ctx| crate::flags::run_action(ctx, ws, change))
                {
                    self.task = Some(id);
                    self.last_error = None;
                }
            }
        }
    }

    /// Asks to confirm `action`; an error from an earlier change is no longer shown above it.
    fn ask(&mut self, action: Change) {
        self.last_error = None;
        self.pending = Some(action);
    }

    fn finished(&mut self, state: TaskState, message: &str) {
        self.task = None;
        if state == TaskState::Succeeded {
            if matches!(self.pending, Some(Change::Create(_))) {
                // Created: the form is ready for the next flag.
                self.new_key.clear();
                self.new_name.clear();
                self.new_tags.clear();
            }
            self.pending = None;
            self.override_reason.clear();
            self.last_error = None;
        } else {
            self.last_error = Some(format!("Not changed ({}): {message}", state.as_str()));
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        // Flags are read when the panel is first shown.
        if self.overview.is_none() && !self.fetch.is_running() {
            actions.push(Action::ReadFlags);
        }
        ui.label(theme::heading("Feature flags"));
        let cfg = &data.ws.config().flags;
        ui.horizontal(|ui| {
            ui.label(theme::muted(format!(
                "Environment {}, stages {}, retire after {} days at 100%",
                cfg.environment,
                cfg.stages_text(),
                cfg.retire_after_days
            )));
            if ui.button("Refresh").clicked() {
                actions.push(Action::ReadFlags);
            }
        });
        let overview = match &self.overview {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading flags and KPIs...");
                });
                return;
            }
            Some(Err(e)) => {
                ui.label(egui::RichText::new(format!("Cannot read flags: {e}")).color(theme::BAD));
                return;
            }
            Some(Ok(o)) => std::sync::Arc::clone(o),
        };
        self.create_ui(ui, cfg, &overview);
        ui.add_space(6.0);
        self.confirm_ui(ui, &overview, cfg, actions);
        ui.add_space(6.0);
        self.table_ui(ui, &overview, cfg);
        ui.add_space(10.0);
        kpi_ui(ui, &overview);
    }

    fn create_ui(
        &mut self,
        ui: &mut egui::Ui,
        cfg: &crate::workspace::config::FlagsConfig,
        overview: &Overview,
    ) {
        egui::CollapsingHeader::new("Create a flag").show(ui, |ui| {
            ui.label(theme::muted(format!(
                "Key: {{prefix}}_{{feature_name}} in lower snake case; prefix one of {}",
                cfg.prefixes.join(", ")
            )));
            egui::Grid::new("new-flag").num_columns(2).show(ui, |ui| {
                let l = ui.label("Key");
                ui.add(
                    egui::TextEdit::singleline(&mut self.new_key).hint_text("e.g. ui_new_exporter"),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Name");
                ui.text_edit_singleline(&mut self.new_name)
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Tags");
                ui.add(
                    egui::TextEdit::singleline(&mut self.new_tags)
                        .hint_text("team:frontend, iteration:I5, type:release"),
                )
                .labelled_by(l.id);
                ui.end_row();
            });
            let key = self.new_key.trim();
            // A key the provider already has would only fail at Confirm (409): said now.
            let taken = overview.rows.iter().find(|r| r.state.key == key).map(|r| {
                format!(
                    "{key} already exists on {}{}: pick another key",
                    overview.provider,
                    if r.state.archived {
                        " (archived: its key cannot be used again)"
                    } else {
                        ""
                    }
                )
            });
            let check = crate::flags::check_key(key, &cfg.prefixes)
                .map_err(|e| e.to_string())
                .and_then(|()| taken.map_or(Ok(()), Err));
            match (&check, self.new_name.trim().is_empty()) {
                (Err(e), _) if !self.new_key.is_empty() => {
                    ui.label(egui::RichText::new(e).color(theme::BAD));
                }
                (Ok(()), false) => {
                    if ui
                        .add_enabled(self.pending.is_none(), egui::Button::new("Create flag"))
                        .clicked()
                    {
                        self.ask(Change::Create(NewFlag {
                            key: self.new_key.trim().to_owned(),
                            name: self.new_name.trim().to_owned(),
                            description: String::new(),
                            tags: self
                                .new_tags
                                .split(',')
                                .map(|t| t.trim().to_owned())
                                .filter(|t| !t.is_empty())
                                .collect(),
                        }));
                    }
                }
                _ => {
                    ui.label(theme::muted(
                        "Give it a key and a name; it is created OFF everywhere.",
                    ));
                }
            }
        });
    }

    fn confirm_ui(
        &mut self,
        ui: &mut egui::Ui,
        overview: &Overview,
        cfg: &crate::workspace::config::FlagsConfig,
        actions: &mut Vec<Action>,
    ) {
        if let Some(e) = &self.last_error {
            ui.label(egui::RichText::new(e).color(theme::BAD));
        }
        let Some(action) = self.pending.clone() else {
            return;
        };
        let row = overview.rows.iter().find(|r| r.state.key == action.key());
        let posting = self.task.is_some();
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            ui.label(egui::RichText::new("Confirm the change").strong());
            ui.label(action.describe(row, cfg, &overview.provider));
            let mut needs_reason = false;
            if let (Change::Advance { .. }, Some(r)) = (&action, row) {
                let gate = r.gate.clone().unwrap_or(Gate::Unknown("no plan".into()));
                if let Some(plan) = &r.plan
                    && let Some(why) =
                        crate::flags::plan::blocked_reason(plan, cfg, &gate, jiff::Timestamp::now())
                {
                    needs_reason = true;
                    ui.label(
                        egui::RichText::new(format!("Not allowed yet: {why}")).color(theme::WARN),
                    );
                    ui.horizontal(|ui| {
                        let l = ui.label("Override reason (audited)");
                        ui.text_edit_singleline(&mut self.override_reason)
                            .labelled_by(l.id);
                    });
                }
            }
            ui.horizontal(|ui| {
                let reason = self.override_reason.trim().to_owned();
                let ready = !posting && (!needs_reason || !reason.is_empty());
                if ui
                    .add_enabled(ready, egui::Button::new("Confirm"))
                    .clicked()
                {
                    let action = match action.clone() {
                        Change::Advance { key, .. } => Change::Advance {
                            key,
                            override_reason: needs_reason.then_some(reason),
                        },
                        other => other,
                    };
                    actions.push(Action::Act(action));
                }
                if ui
                    .add_enabled(!posting, egui::Button::new("Cancel"))
                    .clicked()
                {
                    self.pending = None;
                    self.override_reason.clear();
                }
                if posting {
                    ui.spinner();
                }
            });
        });
    }

    fn table_ui(
        &mut self,
        ui: &mut egui::Ui,
        overview: &Overview,
        cfg: &crate::workspace::config::FlagsConfig,
    ) {
        ui.label(
            egui::RichText::new(format!(
                "Flags on {} ({})",
                overview.provider,
                overview.rows.len()
            ))
            .strong(),
        );
        if overview.rows.is_empty() {
            ui.label(theme::muted("No flags yet."));
            return;
        }
        let now = jiff::Timestamp::now();
        let busy = self.pending.is_some() || self.task.is_some();
        egui::Grid::new("flags")
            .striped(true)
            .num_columns(8)
            .spacing([14.0, 6.0])
            .show(ui, |ui| {
                for h in [
                    "Key (click to select)",
                    "Tags",
                    "State",
                    "Other environments",
                    "Stage",
                    "Held",
                    "Next",
                    "Gate",
                ] {
                    ui.label(egui::RichText::new(h).strong());
                }
                ui.end_row();
                for r in &overview.rows {
                    self.row_ui(ui, r, cfg, now);
                    ui.end_row();
                }
            });
        let Some(row) = self
            .selected
            .as_ref()
            .and_then(|k| overview.rows.iter().find(|r| &r.state.key == k))
        else {
            ui.label(theme::muted(
                "Select a flag to advance, roll back or archive it.",
            ));
            return;
        };
        let s = &row.state;
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(&s.key).strong());
            if s.archived {
                ui.label(theme::muted("archived"));
                return;
            }
            let can_advance = row
                .plan
                .as_ref()
                .is_none_or(|p| p.next_stage(cfg).is_some());
            if ui
                .add_enabled(
                    !busy && can_advance,
                    egui::Button::new(format!("Advance {}", s.key)),
                )
                .clicked()
            {
                self.ask(Change::Advance {
                    key: s.key.clone(),
                    override_reason: None,
                });
            }
            if ui
                .add_enabled(
                    !busy && s.on,
                    egui::Button::new(format!("Rollback {}", s.key)),
                )
                .clicked()
            {
                self.ask(Change::Rollback { key: s.key.clone() });
            }
            if ui
                .add_enabled(!busy, egui::Button::new(format!("Archive {}", s.key)))
                .clicked()
            {
                self.ask(Change::Archive { key: s.key.clone() });
            }
        });
    }

    fn row_ui(
        &mut self,
        ui: &mut egui::Ui,
        r: &FlagRow,
        cfg: &crate::workspace::config::FlagsConfig,
        now: jiff::Timestamp,
    ) {
        let s = &r.state;
        let selected = self.selected.as_deref() == Some(s.key.as_str());
        if ui
            .selectable_label(selected, theme::mono(&s.key))
            .on_hover_text(&s.name)
            .clicked()
        {
            self.selected = Some(s.key.clone());
        }
        ui.label(theme::muted(s.tags.join(", ")));
        if s.archived {
            theme::badge(ui, "ARCHIVED", theme::MUTED);
        } else if s.on {
            theme::badge(ui, &format!("ON {}%", s.rollout_percent), theme::OK);
        } else {
            theme::badge(ui, "OFF", theme::MUTED);
        }
        let others: Vec<String> = s
            .environments
            .iter()
            .filter(|(env, _)| **env != s.environment)
            .map(|(env, e)| {
                if e.on {
                    format!("{env} {}%", e.rollout_percent)
                } else {
                    format!("{env} off")
                }
            })
            .collect();
        ui.label(theme::muted(if others.is_empty() {
            "-".to_owned()
        } else {
            others.join(", ")
        }));
        let fraction = s.rollout_percent as f32 / 100.0;
        ui.add(
            egui::ProgressBar::new(fraction)
                .desired_width(120.0)
                .text(format!("{}%", s.rollout_percent)),
        );
        match &r.plan {
            Some(_) if s.archived => {
                ui.label("");
                ui.label("");
            }
            Some(p) => {
                ui.label(human_duration(p.held_for(now)));
                let next = match p.next_stage(cfg) {
                    _ if s.archived => String::new(),
                    Some(n) if now >= p.next_allowed_at(cfg) => format!("{n}% now"),
                    Some(n) => format!(
                        "{n}% after {}",
                        crate::local_time(p.next_allowed_at(cfg), false)
                    ),
                    None if p.due_for_retirement(cfg, now) => "retire".into(),
                    None => "at 100%".into(),
                };
                if next == "retire" {
                    theme::badge(ui, "RETIRE", theme::WARN)
                        .on_hover_text("At 100% for 14+ days: archive it");
                } else {
                    ui.label(next);
                }
            }
            None => {
                ui.label("-");
                ui.label(theme::muted("no plan"));
            }
        }
        match &r.gate {
            Some(g) => gate_badge(ui, g),
            None => {
                ui.label("");
            }
        }
    }
}

fn kpi_ui(ui: &mut egui::Ui, overview: &Overview) {
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("Monitoring (last hour)").strong());
        gate_badge(ui, &overview.gate);
        ui.label(theme::muted(overview.gate.detail()));
    });
    // Three plots a row where they fit, two in a narrow window (a 1024-wide one).
    let per_row = if ui.available_width() < 900.0 { 2 } else { 3 };
    for chunk in overview.readings.chunks(per_row) {
        ui.columns(per_row, |cols| {
            for (ui, r) in cols.iter_mut().zip(chunk) {
                kpi_plot_ui(ui, r);
            }
        });
        ui.add_space(6.0);
    }
}

fn kpi_plot_ui(ui: &mut egui::Ui, r: &crate::kpi::Reading) {
    // Wrapped: a long title and its badges stay in the plot's column.
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(&r.def.title).strong());
        match (r.ok, &r.error) {
            (_, Some(e)) => {
                theme::badge(ui, "ERROR", theme::BAD).on_hover_text(e);
            }
            (Some(true), _) => {
                theme::badge(ui, "OK", theme::OK);
            }
            (Some(false), _) => {
                theme::badge(ui, "BREACHED", theme::BAD);
            }
            (None, _) if r.def.threshold.is_none() => {
                theme::badge(ui, "INFO", theme::INFO);
            }
            (None, _) => {
                theme::badge(ui, "NO DATA", theme::WARN);
            }
        }
        if r.def.threshold.is_some() && !r.def.gating {
            theme::badge(ui, "NOT GATING", theme::MUTED).on_hover_text(
                "Watched against its threshold, but it does not hold a rollout ([[kpi.metrics]] \
                 gating = false)",
            );
        }
        for a in &r.alarms {
            let color = match a.state.as_str() {
                "OK" => theme::OK,
                "ALARM" => theme::BAD,
                _ => theme::WARN,
            };
            let when = a
                .updated
                .map(|t| format!(" since {}", crate::local_time(t, false)))
                .unwrap_or_default();
            theme::badge(ui, &format!("{} {}", a.state, a.name), color)
                .on_hover_text(format!("{}{when}", a.reason));
        }
        if let Some(e) = &r.alarm_error {
            theme::badge(ui, "ALARMS UNREAD", theme::WARN).on_hover_text(e);
        }
    });
    ui.label(theme::muted(format!(
        "now {}{}; threshold {}",
        r.current.map_or("-".into(), |v| format!("{v:.2}")),
        if r.def.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", r.def.unit)
        },
        r.def.threshold.map_or("none".into(), |t| format!(
            "{} {t}",
            if r.def.direction == crate::kpi::Direction::Below {
                "<"
            } else {
                ">"
            }
        )),
    )));
    if r.series.is_empty() {
        ui.add_sized(
            [ui.available_width(), 120.0],
            egui::Label::new(theme::muted(
                "No samples in this window: record them with `release-console kpi record`, or read them from Prometheus or CloudWatch ([kpi] provider).",
            ))
            .wrap(),
        );
        return;
    }
    // Minutes relative to now: the right end (0) is now, the past is negative.
    let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    let points: Vec<[f64; 2]> = r
        .series
        .iter()
        // A non-number cannot be drawn; the badge and the gate already say it breached.
        .filter(|(_, v)| v.is_finite())
        .map(|(t, v)| [(t - now) / 60.0, *v])
        .collect();
    egui_plot::Plot::new(("kpi", &r.def.name))
        .height(120.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .x_axis_label("minutes before now (0 = now)")
        .x_axis_formatter(|mark, _| format!("{:.0}", mark.value))
        .show(ui, |plot| {
            plot.line(egui_plot::Line::new(r.def.name.clone(), points).color(theme::INFO));
            if let Some(t) = r.def.threshold {
                plot.hline(egui_plot::HLine::new("threshold", t).color(theme::BAD));
            }
        });
}
