//! The Runbooks view: the disaster-recovery procedures with their parameters, every step's exact
//! command (what a dry run prints), a typed confirmation for each destructive step, each step
//! run as a task with its output in the tray, and the RTO timer from the first step.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::command::{Command, Tab};
use super::panel::{Cx, Finished, Panel, Pending};
use super::theme;
use crate::dr;
use crate::runbook::procedure::{Procedure, Rendered};
use crate::runner::{TaskId, TaskState};

/// One run of a procedure in this window: when its first step started and each step's task.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub procedure: String,
    pub first_step: Timestamp,
    /// Step id → its task and how it ended (`None` while it runs).
    pub steps: BTreeMap<String, (TaskId, Option<TaskState>)>,
    /// When the last step ended, once no step runs.
    pub finished: Option<Timestamp>,
}

/// Runbooks view state.
#[derive(Debug, Default)]
pub struct RunbooksUi {
    pub procedures: Option<Result<Vec<Procedure>, String>>,
    fetch: Pending<Vec<Procedure>>,
    /// The selected procedure's id.
    pub selected: Option<String>,
    /// Parameter values typed, by procedure and name (empty: the default).
    pub params: BTreeMap<(String, String), String>,
    /// Confirmations typed, by procedure and step.
    pub confirm: BTreeMap<(String, String), String>,
    pub run: Option<Run>,
}

impl Panel for RunbooksUi {
    fn logic(&mut self, _cx: &mut Cx<'_>) {
        if let Some(result) = self.fetch.poll() {
            if self.selected.is_none() {
                self.selected = result
                    .as_ref()
                    .ok()
                    .and_then(|p| p.first())
                    .map(|p| p.id.clone());
            }
            self.procedures = Some(result);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        if self.procedures.is_none() && !self.fetch.is_running() {
            let ws = cx.snapshot.ws.clone();
            cx.fetch_blocking(&mut self.fetch, move || dr::procedures(&ws));
        }
        ui.label(theme::heading("Disaster-recovery runbooks"));
        ui.horizontal(|ui| {
            ui.label(theme::muted(
                "Disaster-recovery procedures, step by step. The release and hotfix checklists \
                 are on the",
            ));
            if ui.link("Checklist").clicked() {
                cx.push(Command::Navigate(Tab::Checklist));
            }
        });
        let Some(procedures) = super::widgets::loaded(ui, &self.procedures).cloned() else {
            return;
        };
        ui.horizontal(|ui| {
            for p in &procedures {
                let on = self.selected.as_deref() == Some(p.id.as_str());
                if ui.selectable_label(on, &p.title).clicked() {
                    self.selected = Some(p.id.clone());
                }
            }
        });
        let Some(p) = procedures
            .iter()
            .find(|p| Some(p.id.as_str()) == self.selected.as_deref())
        else {
            return;
        };
        ui.add_space(6.0);
        ui.label(egui::RichText::new(&p.title).strong());
        ui.label(theme::muted(format!(
            "{} · RTO {} min from the first step",
            p.description, p.rto_minutes
        )));
        self.rto_ui(ui, p);
        ui.add_space(6.0);
        self.params_ui(ui, p);
        let given: BTreeMap<String, String> = self
            .params
            .iter()
            .filter(|((pid, _), v)| *pid == p.id && !v.trim().is_empty())
            .map(|((_, name), v)| (name.clone(), v.clone()))
            .collect();
        // Until every parameter has a value, the steps show `{name}` where it goes and none
        // can run.
        let (plan, missing) = match dr::plan_of(p, &given) {
            Ok(plan) => (plan, None),
            Err(e) => {
                let values = p.known_values(&given);
                let plan = dr::Plan {
                    procedure: p.id.clone(),
                    title: p.title.clone(),
                    rto_minutes: p.rto_minutes,
                    steps: p.render(&values),
                    values,
                };
                (plan, Some(crate::error_chain(&e)))
            }
        };
        if let Some(why) = &missing {
            ui.colored_label(theme::WARN, why);
        }
        ui.add_space(6.0);
        // A step can run once the parameters it uses have values (listing the snapshots
        // needs no snapshot).
        let unset: Vec<String> = p
            .params
            .iter()
            .filter(|x| !plan.values.contains_key(&x.name))
            .map(|x| format!("{{{}}}", x.name))
            .collect();
        for (i, step) in plan.steps.iter().enumerate() {
            let ready = !step
                .argv
                .iter()
                .chain(step.confirm.iter())
                .any(|a| unset.iter().any(|u| a.contains(u.as_str())));
            if let Some(start) = self.step_ui(ui, i, step, &plan, ready) {
                self.start(cx, &plan, &start);
            }
            ui.add_space(4.0);
        }
    }

    fn on_task_finished(&mut self, task: &Finished, _commands: &mut Vec<Command>) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let mut any = false;
        for (id, state) in run.steps.values_mut() {
            if *id == task.info.id {
                *state = Some(task.state);
                any = true;
            }
        }
        if any && run.steps.values().all(|(_, s)| s.is_some()) {
            run.finished = Some(Timestamp::now());
        }
    }

    fn is_busy(&self) -> bool {
        self.fetch.is_running()
    }
}

impl RunbooksUi {
    fn params_ui(&mut self, ui: &mut egui::Ui, p: &Procedure) {
        for param in &p.params {
            ui.horizontal(|ui| {
                let l = ui.add_sized([150.0, 20.0], egui::Label::new(theme::mono(&param.name)));
                let value = self
                    .params
                    .entry((p.id.clone(), param.name.clone()))
                    .or_default();
                let hint = param.default.as_deref().unwrap_or("required");
                ui.add(
                    egui::TextEdit::singleline(value)
                        .hint_text(hint)
                        .desired_width(280.0),
                )
                .labelled_by(l.id);
                ui.label(theme::muted(&param.description));
            });
        }
    }

    fn rto_ui(&self, ui: &mut egui::Ui, p: &Procedure) {
        let Some(run) = self.run.as_ref().filter(|r| r.procedure == p.id) else {
            return;
        };
        let end = run.finished.unwrap_or_else(Timestamp::now);
        let took =
            std::time::Duration::try_from(end.duration_since(run.first_step)).unwrap_or_default();
        let within = took.as_secs() < p.rto_minutes * 60;
        let text = format!(
            "RTO {} of {} min{}",
            crate::human_duration(took),
            p.rto_minutes,
            if run.finished.is_some() {
                " (no step running)"
            } else {
                ""
            }
        );
        ui.horizontal(|ui| {
            theme::badge(
                ui,
                if within { "WITHIN RTO" } else { "OVER RTO" },
                if within { theme::OK } else { theme::BAD },
            );
            ui.label(text);
        });
        if run.finished.is_none() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs(1));
        }
    }

    /// Draws one step; returns it when its Run button was clicked (and its confirmation holds).
    fn step_ui(
        &mut self,
        ui: &mut egui::Ui,
        i: usize,
        step: &Rendered,
        plan: &dr::Plan,
        ready: bool,
    ) -> Option<Rendered> {
        let state = self
            .run
            .as_ref()
            .filter(|r| r.procedure == plan.procedure)
            .and_then(|r| r.steps.get(&step.id).copied());
        let mut clicked = None;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width().min(900.0));
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(format!("{}. {}", i + 1, step.title)).strong());
                if step.confirm.is_some() {
                    theme::badge(ui, "DESTRUCTIVE", theme::WARN);
                }
                match state {
                    Some((_, None)) => theme::badge(ui, "RUNNING", theme::INFO),
                    Some((_, Some(s))) => {
                        theme::badge(ui, &s.as_str().to_uppercase(), theme::task_state(s))
                    }
                    None => ui.label(""),
                };
            });
            if !step.detail.is_empty() {
                ui.label(theme::muted(&step.detail));
            }
            ui.label(theme::mono(format!("$ {}", step.command_line())));
            if let Some(why) = &step.skipped {
                ui.label(theme::muted(format!("Skipped: {why}.")));
                return;
            }
            let running = matches!(state, Some((_, None)));
            let confirmed = match &step.confirm {
                None => true,
                Some(expected) => {
                    let typed = self
                        .confirm
                        .entry((plan.procedure.clone(), step.id.clone()))
                        .or_default();
                    ui.horizontal(|ui| {
                        let l = ui.label(format!("Type {expected} to confirm"));
                        ui.add(egui::TextEdit::singleline(typed).desired_width(240.0))
                            .labelled_by(l.id);
                    });
                    dr::confirm(step, Some(typed)).is_ok()
                }
            };
            if ui
                .add_enabled(
                    ready && confirmed && !running,
                    egui::Button::new(format!("Run {}", step.id)),
                )
                .clicked()
            {
                clicked = Some(step.clone());
            }
        });
        clicked
    }

    fn start(&mut self, cx: &mut Cx<'_>, plan: &dr::Plan, step: &Rendered) {
        let ws = cx.snapshot.ws.clone();
        let now = Timestamp::now();
        let fresh = self
            .run
            .as_ref()
            .is_none_or(|r| r.procedure != plan.procedure);
        if fresh {
            self.run = Some(Run {
                id: format!("{}-{}", plan.procedure, now.as_millisecond()),
                procedure: plan.procedure.clone(),
                first_step: now,
                steps: BTreeMap::new(),
                finished: None,
            });
        }
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let spec = dr::step_task_spec(&ws, plan, step);
        let work = {
            let (plan, step, run_id, first) =
                (plan.clone(), step.clone(), run.id.clone(), run.first_step);
            move |ctx| dr::run_step(ctx, ws, plan, step, run_id, first)
        };
        if let Some(id) = cx.start_task(spec, work) {
            run.steps.insert(step.id.clone(), (id, None));
            run.finished = None;
        }
    }
}
