//! The Runbooks view: the disaster-recovery procedures with their parameters, every step's exact
//! command (what a dry run prints), a typed confirmation for each destructive step, each step
//! run as a task with its output in the tray, and the RTO clock from the first step, judged
//! only once every step has succeeded in order (starting a step sets aside what the steps
//! after it did before it). A workspace that runs its procedures against stand-ins
//! (`[dr] stand_ins`, the demo's) says so above the steps and on each of them.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::command::{Command, Tab};
use super::panel::{Cx, Finished, Panel, Pending};
use super::snapshot::Snapshot;
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
    /// Step id → the command it ran with, as typed: a parameter changed since shows the step
    /// as it ran beside its badge, not only as it would run now.
    pub ran: BTreeMap<String, String>,
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
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
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

/// What the drawing asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Read the procedures (none are read yet).
    Load,
    /// Hand a command to the app (open the Checklist).
    App(Command),
    /// Run a step of the plan as a task (its Run button was clicked).
    Start(Box<(dr::Plan, Rendered)>),
}

impl RunbooksUi {
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::Load => {
                let ws = cx.snapshot.ws.clone();
                cx.fetch_blocking(&mut self.fetch, move || dr::procedures(&ws));
            }
            Action::App(command) => cx.push(command),
            Action::Start(run) => self.start(cx, &run.0, &run.1),
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        if self.procedures.is_none() && !self.fetch.is_running() {
            actions.push(Action::Load);
        }
        ui.label(theme::heading("Disaster-recovery runbooks"));
        ui.horizontal(|ui| {
            ui.label(theme::muted(
                "Disaster-recovery procedures, step by step. The release and hotfix checklists \
                 are on the",
            ));
            if ui.link("Checklist").clicked() {
                actions.push(Action::App(Command::Navigate(Tab::Checklist)));
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
        // The description is a sentence or more; the RTO follows it as one.
        let description = p.description.trim();
        ui.label(theme::muted(if description.ends_with('.') {
            format!(
                "{description} RTO {} min from the first step.",
                p.rto_minutes
            )
        } else {
            format!(
                "{description} · RTO {} min from the first step",
                p.rto_minutes
            )
        }));
        let (plan, _) = dr::preview(&data.ws, p, &self.given(p));
        if let Some(folder) = &plan.stand_ins {
            ui.horizontal_wrapped(|ui| {
                theme::badge(ui, "STAND-INS", theme::WARN);
                ui.label(format!(
                    "This workspace runs its procedures against stand-ins: each step runs the \
                     program of the same name in {folder}/ ([dr] stand_ins), never the real one."
                ));
            });
        }
        self.rto_ui(ui, &plan);
        ui.add_space(6.0);
        self.params_ui(ui, p, &plan.values);
        // Until every parameter has a value, the steps show `{name}` where it goes and none
        // can run.
        let given = self.given(p);
        let (plan, missing) = dr::preview(&data.ws, p, &given);
        if let Some(e) = &missing {
            // A value still to type is said in the window's words (the domain's error names
            // the CLI's `--param`); a value refused, or anything else, as the error says it.
            if !plan.missing.is_empty() && p.check_given(&given).is_ok() {
                let them = if plan.missing.len() == 1 {
                    "it"
                } else {
                    "them"
                };
                ui.colored_label(
                    theme::WARN,
                    format!(
                        "Still to give above: {}. The steps that use {them} wait for {them}.",
                        plan.missing.join(", "),
                    ),
                );
            } else {
                ui.colored_label(theme::WARN, e.to_string());
            }
        }
        ui.add_space(6.0);
        // A step can run once the parameters it uses have values (listing the snapshots
        // needs no snapshot), every step before it has succeeded in this run (a wait for the
        // restored instance means nothing before the restore), and no other step is running.
        let any_running = self
            .run
            .as_ref()
            .filter(|r| r.procedure == plan.procedure)
            .is_some_and(|r| r.steps.values().any(|(_, s)| s.is_none()));
        for (i, step) in plan.steps.iter().enumerate() {
            let waits = self.waits_for(&plan, i);
            let ready = plan.unset_for(step).is_empty() && waits.is_none() && !any_running;
            if let Some(start) = self.step_ui(ui, i, step, &plan, ready, waits) {
                actions.push(Action::Start(Box::new((plan.clone(), start))));
            }
            ui.add_space(4.0);
        }
    }

    /// The parameter values typed for `p` (the empty ones take their defaults).
    fn given(&self, p: &Procedure) -> BTreeMap<String, String> {
        self.params
            .iter()
            .filter(|((pid, _), v)| *pid == p.id && !v.trim().is_empty())
            .map(|((_, name), v)| (name.clone(), v.clone()))
            .collect()
    }

    /// The first step before step `i` (not skipped) that has not succeeded in this window's
    /// run, with its number: step `i` waits for it.
    fn waits_for<'a>(&self, plan: &'a dr::Plan, i: usize) -> Option<(usize, &'a Rendered)> {
        let run = self.run.as_ref().filter(|r| r.procedure == plan.procedure);
        plan.steps
            .iter()
            .enumerate()
            .take(i)
            .filter(|(_, s)| s.skipped.is_none())
            .find(|(_, s)| {
                run.and_then(|r| r.steps.get(&s.id))
                    .and_then(|(_, state)| *state)
                    != Some(TaskState::Succeeded)
            })
            .map(|(n, s)| (n + 1, s))
    }

    /// The parameters' fields; an empty one shows the value it takes (`values`: the defaults
    /// filled in), or that it is required.
    fn params_ui(&mut self, ui: &mut egui::Ui, p: &Procedure, values: &BTreeMap<String, String>) {
        for param in &p.params {
            ui.horizontal(|ui| {
                let l = ui.add_sized([150.0, 20.0], egui::Label::new(theme::mono(&param.name)));
                let value = self
                    .params
                    .entry((p.id.clone(), param.name.clone()))
                    .or_default();
                let default = param
                    .default
                    .as_ref()
                    .map(|d| values.get(&param.name).unwrap_or(d));
                let hint =
                    default.map_or_else(|| "required".to_owned(), |d| format!("{d} (default)"));
                ui.add(
                    egui::TextEdit::singleline(value)
                        .hint_text(hint)
                        .desired_width(280.0),
                )
                .labelled_by(l.id);
                // Wrapped in what is left of the row, beside its field.
                ui.add(egui::Label::new(theme::muted(&param.description)).wrap());
            });
        }
    }

    /// Where this window's run of the procedure stands: the RTO clock while steps are still to
    /// run, the step where it stopped (no verdict), or WITHIN/OVER RTO once every step has
    /// succeeded.
    fn rto_ui(&self, ui: &mut egui::Ui, plan: &dr::Plan) {
        let Some(run) = self.run.as_ref().filter(|r| r.procedure == plan.procedure) else {
            return;
        };
        let now = Timestamp::now();
        let ended: BTreeMap<String, TaskState> = run
            .steps
            .iter()
            .filter_map(|(id, (_, state))| state.map(|s| (id.clone(), s)))
            .collect();
        // A finished or stopped run is timed to its last step's end; one with steps still to
        // run keeps its clock running, step or no step.
        let outcome = dr::outcome(
            plan,
            &ended,
            dr::since_first_step(run.first_step, run.finished.unwrap_or(now)),
        );
        let took = match outcome {
            dr::Outcome::InProgress { .. } => dr::since_first_step(run.first_step, now),
            _ => dr::since_first_step(run.first_step, run.finished.unwrap_or(now)),
        };
        ui.horizontal_wrapped(|ui| {
            match &outcome {
                dr::Outcome::Finished { within_rto, .. } => theme::badge(
                    ui,
                    if *within_rto {
                        "WITHIN RTO"
                    } else {
                        "OVER RTO"
                    },
                    if *within_rto { theme::OK } else { theme::BAD },
                ),
                dr::Outcome::Stopped { state, .. } => theme::badge(
                    ui,
                    &state.as_str().to_uppercase(),
                    theme::task_state(*state),
                ),
                dr::Outcome::InProgress { .. } => theme::badge(ui, "RTO CLOCK", theme::INFO),
            };
            ui.label(outcome.summary());
            if !matches!(outcome, dr::Outcome::Finished { .. }) {
                ui.label(theme::muted(format!(
                    "{} since the first step; RTO {} min",
                    crate::human_duration(took),
                    plan.rto_minutes
                )));
            }
            if plan.stand_ins.is_some() {
                ui.label(theme::muted("(against stand-ins)"));
            }
        });
        if run.finished.is_none() || matches!(outcome, dr::Outcome::InProgress { .. }) {
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
        waits: Option<(usize, &Rendered)>,
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
                if step.skipped.is_none() && plan.stand_in(step).is_some() {
                    theme::badge(ui, "STAND-IN", theme::WARN);
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
            let command = step.command_line();
            ui.label(theme::mono(format!("$ {command}")));
            // A step that ran with other values (a snapshot typed again after a failed
            // restore) says so: its badge is about that command, not this one.
            let ran = self
                .run
                .as_ref()
                .filter(|r| r.procedure == plan.procedure && state.is_some())
                .and_then(|r| r.ran.get(&step.id))
                .filter(|ran| **ran != command);
            if let Some(ran) = ran {
                ui.label(
                    egui::RichText::new(format!(
                        "The {} above is of this command, run before the parameters changed: \
                         $ {ran}",
                        match state {
                            Some((_, None)) => "RUNNING".to_owned(),
                            Some((_, Some(s))) => s.as_str().to_uppercase(),
                            None => String::new(),
                        }
                    ))
                    .color(theme::WARN),
                );
            }
            if let Some(why) = &step.skipped {
                ui.label(theme::muted(format!("Skipped: {why}.")));
                return;
            }
            if let Some(stand_in) = plan.stand_in(step) {
                ui.label(theme::muted(match state {
                    Some((_, Some(_))) => format!(
                        "Ran the stand-in {} in its place: the real {} was not run.",
                        stand_in.path, stand_in.program
                    ),
                    _ => format!(
                        "Runs the stand-in {} in its place: the real {} is not run.",
                        stand_in.path, stand_in.program
                    ),
                }));
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
            let waiting = waits.map(|(n, before)| {
                format!(
                    "Runs once step {n} ({}) has succeeded in this run.",
                    before.title
                )
            });
            if let Some(why) = &waiting
                && state.is_none()
            {
                ui.label(theme::muted(why));
            }
            let button = ui.add_enabled(
                ready && confirmed && !running,
                egui::Button::new(format!("Run {}", step.id)),
            );
            let button = match &waiting {
                Some(why) => button.on_disabled_hover_text(why),
                None => button,
            };
            if button.clicked() {
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
                ran: BTreeMap::new(),
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
            // The steps after this one ran on what it did before (or before it, as the wait
            // for the instance before the restore that creates it): they count for nothing
            // and run again after it (a restore run again is waited for again).
            let after: Vec<&str> = plan
                .steps
                .iter()
                .skip_while(|s| s.id != step.id)
                .skip(1)
                .map(|s| s.id.as_str())
                .collect();
            run.steps.retain(|id, _| !after.contains(&id.as_str()));
            run.ran.retain(|id, _| !after.contains(&id.as_str()));
            run.steps.insert(step.id.clone(), (id, None));
            run.ran.insert(step.id.clone(), step.command_line());
            run.finished = None;
        }
    }
}
