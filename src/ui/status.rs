//! The Status page panel: components as coloured badges, open incidents with their timeline and
//! response timers, a compose form with a template per status, a preview of exactly what will be
//! published and a confirmation (twice for P0/P1), resolve, postmortem export, and scheduled
//! maintenance. A failed post keeps the draft and says what happened.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::human_duration;
use crate::runner::{TaskId, TaskState};
use crate::status::incident::{CreateRequest, Incident};
use crate::status::{
    ComponentStatus, IncidentStatus, IncidentUpdate, Maintenance, MaintenanceStatus,
    MaintenanceUpdate, PageComponent, Post, Resolution, Severity, message_template,
};

/// What each resolution means, on hover in the resolve form.
fn resolution_hint(r: Resolution) -> &'static str {
    match r {
        Resolution::Fixed => "Users were affected and a change fixed it",
        Resolution::NoImpact => {
            "Real, but no user was affected: counted as a false positive in the quarterly review"
        }
        Resolution::FalseAlarm => {
            "Nothing was wrong: counted as a false positive in the quarterly review"
        }
    }
}

use super::command::Command;
use super::panel::{Cx, Finished, Panel, Pending};
use super::snapshot::Snapshot;
use super::theme;

/// What the compose form is writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftKind {
    New,
    /// An update (or the resolution) of this incident.
    Update(String),
}

/// The form's contents; kept until a post succeeds.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: DraftKind,
    pub status: IncidentStatus,
    pub severity: Severity,
    pub components: BTreeSet<String>,
    pub name: String,
    pub message: String,
    pub notify: bool,
    /// New incidents: how many minutes ago the problem was detected (the response timer starts
    /// there).
    pub detected_minutes_ago: u32,
    /// For updates: what the components become (default from severity and status).
    pub component_status: Option<ComponentStatus>,
    /// For the resolution: how the incident turned out (not said: `None`).
    pub resolution: Option<Resolution>,
    /// 0: editing; 1: preview shown, asked once; 2: asked the second time (P0/P1).
    pub confirmations: u8,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            kind: DraftKind::New,
            status: IncidentStatus::Investigating,
            severity: Severity::P2,
            components: BTreeSet::new(),
            name: String::new(),
            message: String::new(),
            notify: true,
            detected_minutes_ago: 0,
            component_status: None,
            resolution: None,
            confirmations: 0,
        }
    }
}

/// Scheduled maintenance form.
#[derive(Debug, Clone, Default)]
pub struct MaintenanceDraft {
    pub name: String,
    pub message: String,
    pub from: String,
    pub until: String,
    pub components: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct StatusUi {
    pub draft: Option<Draft>,
    pub maintenance: MaintenanceDraft,
    /// The page's components, fetched off the UI thread (or why they could not be).
    pub components: Option<Result<Vec<PageComponent>, String>>,
    /// The post in flight.
    pub task: Option<TaskId>,
    /// The components and maintenance being read.
    page: Pending<crate::status::PageView>,
    /// A postmortem being written.
    postmortem: Pending<PathBuf>,
    /// The page changed (our post ended): read it again.
    stale: bool,
    /// Maintenance scheduled or under way.
    pub maintenances: Vec<crate::status::PageIncident>,
    /// Why the last post failed; the draft it came from is kept.
    pub last_error: Option<String>,
}

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Read the page's components and maintenance again.
    ReadPage,
    /// Publish to the status page (as a task).
    Post(Post),
    /// Write an incident's postmortem Markdown into the workspace.
    Postmortem(String),
    /// Hand a command to the app (a notification retry).
    App(Command),
}

impl Panel for StatusUi {
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }

    fn logic(&mut self, cx: &mut Cx<'_>) {
        match self.page.poll() {
            Some(Ok(view)) => {
                self.components = Some(Ok(view.components));
                self.maintenances = view.maintenances;
            }
            Some(Err(e)) => self.components = Some(Err(e)),
            None => {}
        }
        match self.postmortem.poll() {
            Some(Ok(path)) => cx.success(format!("Wrote {}", path.display())),
            Some(Err(e)) => cx.error(e),
            None => {}
        }
        if std::mem::take(&mut self.stale) {
            self.apply(Action::ReadPage, cx);
        }
    }

    fn on_task_finished(&mut self, task: &Finished, _commands: &mut Vec<Command>) {
        if self.task == Some(task.info.id) {
            self.finished(task.state, &task.message);
            self.stale = true;
        }
    }

    fn is_busy(&self) -> bool {
        self.page.is_running() || self.postmortem.is_running()
    }
}

impl StatusUi {
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        let ws = cx.snapshot.ws.clone();
        match action {
            Action::ReadPage => cx.fetch(&mut self.page, async move {
                crate::status::fetch_page(&ws).await
            }),
            Action::Post(post) => {
                let spec = crate::status::post_task_spec(&ws);
                if let Some(id) =
                    cx.start_task(spec, move |ctx| crate::status::run_post(ctx, ws, post))
                {
                    self.task = Some(id);
                    self.last_error = None;
                }
            }
            Action::App(command) => cx.push(command),
            Action::Postmortem(id) => cx.fetch_blocking(&mut self.postmortem, move || {
                crate::status::incident::export_postmortem(&ws, &id)
            }),
        }
    }

    /// Called when the post task ends: success clears the draft, failure keeps it.
    fn finished(&mut self, state: TaskState, message: &str) {
        self.task = None;
        if state == TaskState::Succeeded {
            self.draft = None;
            self.last_error = None;
        } else {
            self.last_error = Some(format!("Not published ({}): {message}", state.as_str()));
            if let Some(d) = self.draft.as_mut() {
                d.confirmations = 0;
            }
        }
    }

    /// The post the draft describes, or why it is not ready.
    pub fn draft_post(&self) -> Result<Post, String> {
        let Some(d) = &self.draft else {
            return Err("nothing to publish".into());
        };
        if d.message.trim().is_empty() {
            return Err("Write the message users will read.".into());
        }
        Ok(match &d.kind {
            DraftKind::New => {
                if d.components.is_empty() {
                    return Err("Pick at least one affected component.".into());
                }
                Post::Create(CreateRequest {
                    name: Some(d.name.clone()).filter(|n| !n.trim().is_empty()),
                    status: d.status,
                    message: d.message.clone(),
                    severity: d.severity,
                    components: d.components.iter().cloned().collect(),
                    idempotency_key: None,
                    component_status: None,
                    detected_at: (d.detected_minutes_ago > 0).then(|| {
                        jiff::Timestamp::now()
                            - jiff::SignedDuration::from_mins(i64::from(d.detected_minutes_ago))
                    }),
                    deliver_notifications: d.notify,
                })
            }
            DraftKind::Update(id) => Post::Update(IncidentUpdate {
                incident_id: id.clone(),
                status: d.status,
                message: d.message.clone(),
                component_status: d.component_status,
                resolution: d
                    .resolution
                    .filter(|_| d.status == IncidentStatus::Resolved),
            }),
        })
    }

    fn start_draft(&mut self, kind: DraftKind, status: IncidentStatus, components: &[String]) {
        self.last_error = None;
        self.draft = Some(Draft {
            kind,
            status,
            message: message_template(status, components),
            components: components.iter().cloned().collect(),
            ..Draft::default()
        });
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        // The page's components are read when the panel is first shown.
        if self.components.is_none() && !self.page.is_running() {
            actions.push(Action::ReadPage);
        }
        ui.label(theme::heading("Status page and incidents"));
        let cfg = &data.ws.config().status_page;
        ui.label(theme::muted(match cfg.provider {
            crate::workspace::config::StatusPageProvider::Local => format!(
                "Local page: {}",
                data.ws.root().join("status/index.html").display()
            ),
            crate::workspace::config::StatusPageProvider::Statuspage => format!(
                "Atlassian Statuspage page {} ({}), key from ${}",
                cfg.page_id, cfg.api_base, cfg.api_key_env
            ),
        }));
        if let Some(e) = &data.incidents_error {
            ui.label(
                egui::RichText::new(format!("Cannot read the incident records: {e}"))
                    .color(theme::BAD),
            );
        }
        ui.add_space(6.0);
        self.components_ui(ui, actions);
        ui.add_space(8.0);
        self.compose_ui(ui, data, actions);
        ui.add_space(8.0);
        self.incidents_ui(ui, data, actions);
        ui.add_space(8.0);
        self.maintenance_ui(ui, actions);
    }

    fn components_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new("Components").strong());
            if ui.button("Refresh").clicked() {
                actions.push(Action::ReadPage);
            }
        });
        match &self.components {
            None => {
                ui.label(theme::muted("Loading components..."));
            }
            Some(Err(e)) => {
                ui.label(
                    egui::RichText::new(format!("Cannot read components: {e}")).color(theme::BAD),
                );
            }
            Some(Ok(list)) => {
                ui.horizontal_wrapped(|ui| {
                    for c in list {
                        ui.label(&c.name);
                        theme::badge(
                            ui,
                            &c.status.replace('_', " ").to_uppercase(),
                            theme::page_status(&c.status),
                        );
                        ui.add_space(12.0);
                    }
                });
            }
        }
    }

    fn compose_ui(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        let posting = self.task.is_some();
        if self.draft.is_none() {
            if ui
                .add_enabled(!posting, egui::Button::new("New incident"))
                .clicked()
            {
                self.start_draft(DraftKind::New, IncidentStatus::Investigating, &[]);
            }
            if let Some(e) = &self.last_error {
                ui.label(egui::RichText::new(e).color(theme::BAD));
            }
            return;
        }
        let names: Vec<String> = match &self.components {
            Some(Ok(list)) => list.iter().map(|c| c.name.clone()).collect(),
            _ => data.ws.config().status_page.components.clone(),
        };
        let post = self.draft_post();
        let incidents = &data.incidents;
        let Some(d) = self.draft.as_mut() else { return };
        let mut cancel = false;
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            let title = match &d.kind {
                DraftKind::New => "New incident".to_owned(),
                DraftKind::Update(id) if d.status == IncidentStatus::Resolved => {
                    format!("Resolve {id}")
                }
                DraftKind::Update(id) => format!("Update {id}"),
            };
            ui.label(egui::RichText::new(title).strong().size(16.0));
            let editing = d.confirmations == 0;
            ui.add_enabled_ui(editing && !posting, |ui| {
                ui.horizontal(|ui| {
                    ui.label("Status");
                    let before = d.status;
                    let resolving =
                        d.kind != DraftKind::New && d.status == IncidentStatus::Resolved;
                    for s in IncidentStatus::ALL {
                        let allowed = match d.kind {
                            DraftKind::New => *s != IncidentStatus::Resolved,
                            DraftKind::Update(_) => resolving == (*s == IncidentStatus::Resolved),
                        };
                        if allowed {
                            ui.radio_value(&mut d.status, *s, s.as_str());
                        }
                    }
                    if d.status != before {
                        let comps: Vec<String> = d.components.iter().cloned().collect();
                        if d.message.trim().is_empty()
                            || d.message == message_template(before, &comps)
                        {
                            d.message = message_template(d.status, &comps);
                        }
                    }
                });
                if d.kind != DraftKind::New && d.status == IncidentStatus::Resolved {
                    ui.horizontal_wrapped(|ui| {
                        ui.label("Resolution");
                        ui.radio_value(&mut d.resolution, None, "not said");
                        for r in Resolution::ALL {
                            ui.radio_value(&mut d.resolution, Some(*r), r.as_str())
                                .on_hover_text(resolution_hint(*r));
                        }
                    });
                }
                if d.kind != DraftKind::New && d.status != IncidentStatus::Resolved {
                    ui.horizontal_wrapped(|ui| {
                        ui.label("Components become");
                        ui.radio_value(&mut d.component_status, None, "default");
                        for s in ComponentStatus::ALL {
                            ui.radio_value(&mut d.component_status, Some(*s), s.as_str());
                        }
                    });
                }
                if d.kind == DraftKind::New {
                    ui.horizontal(|ui| {
                        ui.label("Severity");
                        for s in Severity::ALL {
                            ui.radio_value(&mut d.severity, *s, s.as_str())
                                .on_hover_text(format!(
                                    "respond within {}; {}",
                                    human_duration(s.response_target()),
                                    s.escalation()
                                ));
                        }
                    });
                    ui.horizontal_wrapped(|ui| {
                        ui.label("Components");
                        for n in &names {
                            let mut on = d.components.contains(n);
                            if ui.checkbox(&mut on, n).changed() {
                                let before: Vec<String> = d.components.iter().cloned().collect();
                                let was_template = d.message == message_template(d.status, &before);
                                if on {
                                    d.components.insert(n.clone());
                                } else {
                                    d.components.remove(n);
                                }
                                if was_template || d.message.trim().is_empty() {
                                    let now: Vec<String> = d.components.iter().cloned().collect();
                                    d.message = message_template(d.status, &now);
                                }
                            }
                        }
                    });
                    ui.horizontal(|ui| {
                        let label = ui.label("Title");
                        ui.add(
                            egui::TextEdit::singleline(&mut d.name)
                                .hint_text("default: the message's first sentence, cut at a word")
                                .desired_width(420.0),
                        )
                        .labelled_by(label.id);
                    });
                    ui.horizontal(|ui| {
                        let l = ui.label("Detected (minutes ago)");
                        ui.add(egui::DragValue::new(&mut d.detected_minutes_ago).range(0..=10_080))
                            .labelled_by(l.id)
                            .on_hover_text("When the problem was first seen: the response timer runs from there");
                    });
                    ui.checkbox(&mut d.notify, "Notify subscribers");
                }
                let label = ui.label("Message (published as written)");
                ui.add(
                    egui::TextEdit::multiline(&mut d.message)
                        .desired_rows(3)
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id);
            });
            match &post {
                Err(why) => {
                    ui.label(theme::muted(why));
                }
                Ok(p) => {
                    if d.confirmations > 0 {
                        ui.add_space(4.0);
                        ui.label(
                            egui::RichText::new("Preview: exactly what will be published").strong(),
                        );
                        egui::Grid::new("status-preview")
                            .num_columns(2)
                            .striped(true)
                            .show(ui, |ui| {
                                for (k, v) in p.preview(&data.ws, incidents) {
                                    ui.label(theme::muted(k));
                                    ui.label(v);
                                    ui.end_row();
                                }
                            });
                    }
                    let double = p
                        .severity(incidents)
                        .is_some_and(Severity::needs_double_confirmation);
                    ui.horizontal(|ui| {
                        match d.confirmations {
                            0 => {
                                if ui
                                    .add_enabled(!posting, egui::Button::new("Preview"))
                                    .clicked()
                                {
                                    d.confirmations = 1;
                                }
                            }
                            1 if double => {
                                if ui.button("Publish").clicked() {
                                    d.confirmations = 2;
                                }
                            }
                            _ => {
                                if double {
                                    ui.label(
                                        egui::RichText::new(format!(
                                            "{} incident: escalates to {}. Publish it?",
                                            p.severity(incidents).map_or("", super::super::status::Severity::as_str),
                                            p.severity(incidents)
                                                .map_or("", super::super::status::Severity::escalation)
                                        ))
                                        .color(theme::WARN),
                                    );
                                }
                                let label = if double {
                                    "Yes, publish now"
                                } else {
                                    "Publish"
                                };
                                if ui.add_enabled(!posting, egui::Button::new(label)).clicked() {
                                    actions.push(Action::Post(p.clone()));
                                }
                            }
                        }
                        if d.confirmations > 0
                            && ui
                                .add_enabled(!posting, egui::Button::new("Edit"))
                                .clicked()
                        {
                            d.confirmations = 0;
                        }
                        if ui
                            .add_enabled(!posting, egui::Button::new("Discard"))
                            .clicked()
                        {
                            cancel = true;
                        }
                        if posting {
                            ui.spinner();
                            ui.label("Publishing...");
                        }
                    });
                }
            }
            if let Some(e) = &self.last_error {
                ui.label(
                    egui::RichText::new(format!("{e} (the draft is kept; fix and publish again)"))
                        .color(theme::BAD),
                );
            }
        });
        if cancel {
            self.draft = None;
            self.last_error = None;
        }
    }

    fn incidents_ui(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        let now = jiff::Timestamp::now();
        let open: Vec<&Incident> = data.incidents.iter().filter(|i| i.is_open()).collect();
        ui.label(egui::RichText::new(format!("Open incidents ({})", open.len())).strong());
        if open.is_empty() {
            ui.label(theme::muted("None."));
        }
        let busy = self.task.is_some() || self.draft.is_some();
        for inc in open.iter().rev() {
            self.incident_card(ui, data, inc, now, busy, actions);
        }
        let resolved: Vec<&Incident> = data
            .incidents
            .iter()
            .filter(|i| !i.is_open())
            .rev()
            .take(10)
            .collect();
        if !resolved.is_empty() {
            ui.add_space(6.0);
            ui.label(egui::RichText::new("Recently resolved").strong());
            for inc in resolved {
                self.incident_card(ui, data, inc, now, busy, actions);
            }
        }
    }

    fn incident_card(
        &mut self,
        ui: &mut egui::Ui,
        data: &Snapshot,
        inc: &Incident,
        now: jiff::Timestamp,
        busy: bool,
        actions: &mut Vec<Action>,
    ) {
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                theme::badge(ui, inc.severity.as_str(), theme::severity(inc.severity));
                theme::badge(
                    ui,
                    &inc.status.as_str().to_uppercase(),
                    theme::page_status(inc.status.as_str()),
                );
                if let Some(r) = inc.resolution {
                    theme::badge(ui, &r.as_str().to_uppercase(), theme::MUTED)
                        .on_hover_text(resolution_hint(r));
                }
                ui.label(egui::RichText::new(&inc.name).strong());
                ui.label(theme::muted(format!(
                    "{} · {} · {}",
                    inc.id,
                    inc.components.join(", "),
                    inc.page_incident_id
                )));
            });
            ui.horizontal(|ui| {
                let target = human_duration(inc.severity.response_target());
                let (text, color) = match inc.response_time() {
                    Some(d) if inc.response_breached(now) => (
                        format!(
                            "Responded in {} (target {target}): BREACHED",
                            human_duration(d)
                        ),
                        theme::BAD,
                    ),
                    Some(d) => (
                        format!("Responded in {} (target {target})", human_duration(d)),
                        theme::OK,
                    ),
                    None => (format!("No response yet (target {target})"), theme::WARN),
                };
                ui.label(egui::RichText::new(text).color(color));
                ui.label(theme::muted(format!(
                    "· open {}",
                    human_duration(inc.open_for(now))
                )));
                if let Some(due) = inc.postmortem_due() {
                    match std::time::Duration::try_from(due.duration_since(now)) {
                        Ok(left) if !left.is_zero() => {
                            ui.label(
                                egui::RichText::new(format!(
                                    "· postmortem due in {}",
                                    human_duration(left)
                                ))
                                .color(theme::WARN),
                            );
                        }
                        _ => {
                            ui.label(egui::RichText::new("· postmortem overdue").color(theme::BAD));
                        }
                    }
                }
            });
            notifications_ui(ui, data, inc, now, actions);
            egui::CollapsingHeader::new(format!("Timeline ({})", inc.timeline.len()))
                .id_salt(("timeline", &inc.id))
                .show(ui, |ui| {
                    for e in &inc.timeline {
                        ui.horizontal_wrapped(|ui| {
                            ui.label(theme::mono(crate::local_time(e.at, true)));
                            ui.label(egui::RichText::new(&e.what).strong());
                            if let Some(s) = e.status {
                                theme::badge(ui, s.as_str(), theme::page_status(s.as_str()));
                            }
                            // An empty label in a wrapped row is laid out at the row's start,
                            // over the time (a "detected" row has no message): none is added.
                            if !e.message.is_empty() {
                                ui.label(&e.message);
                            }
                            if !e.actor.is_empty() {
                                ui.label(theme::muted(&e.actor));
                            }
                        });
                    }
                });
            ui.horizontal(|ui| {
                if inc.is_open() {
                    if ui
                        .add_enabled(
                            !busy,
                            egui::Button::new(format!("Post update to {}", inc.id)),
                        )
                        .clicked()
                    {
                        let next = match inc.status {
                            IncidentStatus::Investigating => IncidentStatus::Identified,
                            _ => IncidentStatus::Monitoring,
                        };
                        self.start_draft(DraftKind::Update(inc.id.clone()), next, &inc.components);
                    }
                    if ui
                        .add_enabled(!busy, egui::Button::new(format!("Resolve {}", inc.id)))
                        .clicked()
                    {
                        self.start_draft(
                            DraftKind::Update(inc.id.clone()),
                            IncidentStatus::Resolved,
                            &inc.components,
                        );
                    }
                }
                if ui
                    .button(format!("Export postmortem of {}", inc.id))
                    .on_hover_text(
                        "Markdown from the incident template, pre-filled with the timeline",
                    )
                    .clicked()
                {
                    actions.push(Action::Postmortem(inc.id.clone()));
                }
            });
        });
    }

    fn maintenance_ui(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let names: Vec<String> = match &self.components {
            Some(Ok(list)) => list.iter().map(|c| c.name.clone()).collect(),
            _ => Vec::new(),
        };
        let posting = self.task.is_some();
        ui.label(
            egui::RichText::new(format!("Maintenance ({})", self.maintenances.len())).strong(),
        );
        if self.maintenances.is_empty() {
            ui.label(theme::muted("None scheduled."));
        }
        for m in &self.maintenances {
            ui.horizontal_wrapped(|ui| {
                theme::badge(ui, &m.status.to_uppercase(), theme::page_status(&m.status));
                ui.label(egui::RichText::new(&m.name).strong());
                ui.label(theme::muted(format!(
                    "{} to {} · {}",
                    m.scheduled_for.as_deref().unwrap_or("?"),
                    m.scheduled_until.as_deref().unwrap_or("?"),
                    m.components
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
                let next: &[(MaintenanceStatus, &str, &str)] = match m.status.as_str() {
                    "scheduled" => &[(
                        MaintenanceStatus::InProgress,
                        "Start",
                        "The scheduled maintenance is in progress.",
                    )],
                    "in_progress" => &[(
                        MaintenanceStatus::Verifying,
                        "Verify",
                        "The maintenance is done; we are verifying that everything works.",
                    )],
                    "verifying" => &[(
                        MaintenanceStatus::Completed,
                        "Complete",
                        "The scheduled maintenance has been completed.",
                    )],
                    _ => &[],
                };
                for (status, verb, message) in next {
                    if ui
                        .add_enabled(!posting, egui::Button::new(format!("{verb} {}", m.name)))
                        .on_hover_text(format!("Publishes: {message}"))
                        .clicked()
                    {
                        let update = MaintenanceUpdate {
                            id: m.id.clone(),
                            name: m.name.clone(),
                            status: *status,
                            message: (*message).to_owned(),
                        };
                        actions.push(Action::Post(Post::MaintenanceUpdate(update)));
                    }
                }
            });
        }
        egui::CollapsingHeader::new("Schedule maintenance").show(ui, |ui| {
            let m = &mut self.maintenance;
            egui::Grid::new("maintenance")
                .num_columns(2)
                .show(ui, |ui| {
                    let l = ui.label("Title");
                    ui.text_edit_singleline(&mut m.name).labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Message");
                    ui.text_edit_singleline(&mut m.message).labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("From (RFC 3339)");
                    ui.add(
                        egui::TextEdit::singleline(&mut m.from).hint_text("2026-12-01T22:00:00Z"),
                    )
                    .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Until (RFC 3339)");
                    ui.add(
                        egui::TextEdit::singleline(&mut m.until).hint_text("2026-12-01T22:30:00Z"),
                    )
                    .labelled_by(l.id);
                    ui.end_row();
                });
            ui.horizontal_wrapped(|ui| {
                ui.label("Components");
                for n in &names {
                    let mut on = m.components.contains(n);
                    if ui.checkbox(&mut on, format!("{n} (maintenance)")).changed() {
                        if on {
                            m.components.insert(n.clone());
                        } else {
                            m.components.remove(n);
                        }
                    }
                }
            });
            let parsed = (
                m.from.trim().parse::<jiff::Timestamp>(),
                m.until.trim().parse::<jiff::Timestamp>(),
            );
            match parsed {
                (Ok(from), Ok(until))
                    if !m.name.trim().is_empty() && !m.message.trim().is_empty() =>
                {
                    if ui
                        .add_enabled(!posting, egui::Button::new("Schedule this maintenance"))
                        .clicked()
                    {
                        actions.push(Action::Post(Post::Maintenance(Maintenance {
                            name: m.name.clone(),
                            message: m.message.clone(),
                            from,
                            until,
                            components: m.components.iter().cloned().collect(),
                        })));
                    }
                }
                _ => {
                    ui.label(theme::muted(
                        "Fill in a title, a message and the window (RFC 3339 times, UTC).",
                    ));
                }
            }
        });
    }
}

/// Who was told about `inc` (its deliveries, with Retry) and, once it paged, the escalation
/// policy's levels with the time each is (or was) paged.
fn notifications_ui(
    ui: &mut egui::Ui,
    data: &Snapshot,
    inc: &Incident,
    now: jiff::Timestamp,
    actions: &mut Vec<Action>,
) {
    let Some(outbox) = data.outbox() else {
        return;
    };
    let mine: Vec<&crate::notify::Delivery> = outbox.about(&inc.id).collect();
    if mine.is_empty() {
        ui.label(theme::muted("Notifications: none for this incident."));
    } else {
        let mut commands = Vec::new();
        crate::ui::widgets::deliveries::chips(ui, &mine, &mut commands);
        actions.extend(commands.into_iter().map(Action::App));
    }
    let paged = mine.iter().find(|d| {
        matches!(&d.target, crate::notify::Target::PagerDutyAlert { action, .. } if action == "trigger")
            && matches!(d.state, crate::notify::State::Sent | crate::notify::State::Local)
    });
    let policy = data
        .ws
        .config()
        .notify
        .pagerduty
        .as_ref()
        .map(|p| p.escalation.as_slice())
        .unwrap_or_default();
    let (Some(paged), false) = (paged, policy.is_empty()) else {
        return;
    };
    let from = paged.done_at.unwrap_or(paged.queued_at);
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new("Escalation").strong());
        if !inc.is_open() {
            ui.label(theme::muted("(stopped: resolved)"));
        }
        for level in policy {
            let at = from + jiff::SignedDuration::from_mins(i64::from(level.within_mins));
            let until = now.duration_until(at);
            let end = inc.resolved_at.unwrap_or(now);
            let within = format!("{} < {} min", level.who, level.within_mins);
            let (text, color) = if at > end && !inc.is_open() {
                (format!("{within}: not needed"), theme::MUTED)
            } else if until.is_positive() {
                let left = std::time::Duration::try_from(until).unwrap_or_default();
                (
                    format!("{within}: {} left", human_duration(left)),
                    theme::WARN,
                )
            } else {
                (
                    format!("{within}: due {}", crate::local_time(at, false)),
                    theme::INFO,
                )
            };
            ui.label(egui::RichText::new(format!("· {text}")).color(color));
        }
    });
}
