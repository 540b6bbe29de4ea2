//! The Overview panel: the release, progress per phase, running tasks, the gates before
//! publishing, and creating releases and hotfixes.

use std::path::PathBuf;

use super::command::{Command, Tab};
use super::panel::{Cx, Finished, Panel, Pending};
use super::snapshot::Snapshot;
use super::{theme, widgets};
use crate::runner::{Runner, TaskId, TaskState};
use crate::workspace::ReleaseKind;

/// Overview panel state: the new-release and new-hotfix forms.
#[derive(Debug, Default)]
pub struct OverviewUi {
    pub new_version: String,
    /// The New hotfix form: its version and the release it fixes.
    pub hotfix_version: String,
    pub hotfix_of: Option<String>,
    /// The running New hotfix task and the version it makes.
    pub hotfix_task: Option<(TaskId, String)>,
    /// Why the last New hotfix was refused, in the domain's words.
    pub hotfix_error: Option<String>,
    /// The release to fix was chosen by hand (else the newest tagged one is offered).
    chose_base: bool,
    /// A hotfix just made, selected once the snapshot has it.
    select_after: Option<String>,
    /// The release tags of `[source]`, as (version, tag), or why they cannot be read.
    pub tags: Option<Result<Vec<(String, String)>, String>>,
    tags_run: Pending<Vec<(String, String)>>,
    /// The workspace and audit length the tags were read at (read again after any change).
    tags_at: Option<(PathBuf, usize)>,
    /// The running Tag the release task and the version it tags.
    pub tag_task: Option<(TaskId, String)>,
    /// Why the last Tag the release was refused: the version and the domain's words.
    pub tag_error: Option<(String, String)>,
}

/// A release's tag in the product's repository.
enum TagState<'a> {
    /// The tags are not read (no `[source]`, or not yet).
    Unknown,
    Tagged(&'a str),
    Untagged,
}

impl OverviewUi {
    /// Whether the release tags of `[source]` are to be read (again): after any audited change
    /// (a cut branch, a tag) while the Overview shows.
    fn tags_stale(&self, data: &Snapshot) -> bool {
        data.ws.config().source.is_some()
            && !self.tags_run.is_running()
            && self.tags_at.as_ref() != Some(&(data.ws.root().to_owned(), data.audit.len()))
    }

    /// Reads the release tags of `[source]`.
    fn read_tags(&mut self, cx: &Cx<'_>) {
        let data = cx.snapshot;
        self.tags_at = Some((data.ws.root().to_owned(), data.audit.len()));
        let ws = data.ws.clone();
        cx.fetch(&mut self.tags_run, async move {
            let src = crate::source::Source::open(&ws).await?;
            let tags = src.release_tags().await?;
            Ok::<_, crate::source::SourceError>(
                tags.into_iter().map(|(v, t)| (v.to_string(), t)).collect(),
            )
        });
    }

    /// Whether release `version` has its tag in the repository, as far as is known.
    fn tag_of(&self, version: &str) -> TagState<'_> {
        let Some(Ok(tags)) = &self.tags else {
            return TagState::Unknown;
        };
        tags.iter()
            .find(|(v, _)| v == version)
            .map_or(TagState::Untagged, |(_, t)| TagState::Tagged(t))
    }

    /// The New hotfix form: with `[source]` the branch is cut from the tag as a task (the same
    /// function as `release new X --hotfix-of Y`); without, the release is made alone, as the
    /// CLI does.
    fn hotfix_ui(
        &mut self,
        ui: &mut egui::Ui,
        (data, runner): (&Snapshot, &Runner),
        actions: &mut Vec<Action>,
    ) {
        let source = data.ws.config().source.clone();
        ui.label(egui::RichText::new("Hotfix of a released version").strong());
        if data.releases.is_empty() {
            ui.label(theme::muted("A hotfix fixes a release: create one first."));
            return;
        }
        if self
            .hotfix_of
            .as_ref()
            .is_none_or(|v| !data.releases.iter().any(|r| r.version.to_string() == *v))
        {
            // The newest tagged release, else the newest.
            let tagged = data
                .releases
                .iter()
                .rev()
                .find(|r| matches!(self.tag_of(&r.version.to_string()), TagState::Tagged(_)));
            self.hotfix_of = tagged
                .or(data.releases.last())
                .map(|r| r.version.to_string());
        }
        let running = self
            .hotfix_task
            .as_ref()
            .and_then(|(id, _)| runner.task(*id))
            .is_some_and(|t| !t.state.is_finished());
        // The next patch version of the base that is not a release yet.
        let suggestion = self
            .hotfix_of
            .as_deref()
            .and_then(|v| semver::Version::parse(v).ok())
            .map_or_else(
                || "0.1.1".to_owned(),
                |v| {
                    let mut next = semver::Version::new(v.major, v.minor, v.patch + 1);
                    while data.releases.iter().any(|r| r.version == next) {
                        next.patch += 1;
                    }
                    next.to_string()
                },
            );
        let option = |v: &str| match self.tag_of(v) {
            TagState::Tagged(t) => format!("{v} (tag {t})"),
            TagState::Untagged => format!("{v} (not tagged)"),
            TagState::Unknown => v.to_owned(),
        };
        let options: Vec<(String, String)> = data
            .releases
            .iter()
            .rev()
            .map(|r| {
                let v = r.version.to_string();
                let text = option(&v);
                (v, text)
            })
            .collect();
        let selected = self
            .hotfix_of
            .as_deref()
            .map(|v| format!("hotfix of {}", option(v)))
            .unwrap_or_default();
        let mut chosen = self.hotfix_of.clone();
        let mut clicked = false;
        // An empty field takes the suggestion its hint shows.
        let wanted = |typed: &str| {
            crate::workspace::parse_version(if typed.trim().is_empty() {
                &suggestion
            } else {
                typed
            })
        };
        ui.horizontal(|ui| {
            let label = ui.label("Hotfix version");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.hotfix_version)
                        .hint_text(&suggestion)
                        .desired_width(100.0),
                )
                .labelled_by(label.id);
            if edit.changed() {
                // The refusal was of the last version.
                self.hotfix_error = None;
            }
            egui::ComboBox::from_id_salt("hotfix-of")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    for (v, text) in options {
                        ui.selectable_value(&mut chosen, Some(v), text);
                    }
                })
                .response
                .accessible_name("Hotfix of");
            let valid = wanted(&self.hotfix_version);
            let button = ui.add_enabled(
                valid.is_ok() && chosen.is_some() && !running,
                egui::Button::new("New hotfix"),
            );
            if running {
                ui.spinner();
            }
            if let Err(e) = &valid
                && !self.hotfix_version.trim().is_empty()
            {
                ui.label(egui::RichText::new(e.to_string()).color(theme::BAD).small());
            }
            clicked = button.clicked();
        });
        if chosen != self.hotfix_of {
            self.hotfix_of = chosen;
            self.chose_base = true;
            self.hotfix_error = None;
        }
        // What it will do, before it is done (or why it was not).
        if let Some(e) = &self.hotfix_error {
            ui.label(egui::RichText::new(format!("Not created: {e}")).color(theme::BAD));
        } else if let (Some(of), Some(src)) = (&self.hotfix_of, &source) {
            let version =
                wanted(&self.hotfix_version).map_or_else(|_| suggestion.clone(), |v| v.to_string());
            let branch = src.hotfix_branch.replace("{version}", &version);
            match self.tag_of(of) {
                TagState::Tagged(tag) => {
                    ui.label(theme::muted(format!(
                        "Cuts {branch} from tag {tag} in {} and ticks \"Branch from the release \
                         tag\" with its commit.",
                        src.repo
                    )));
                }
                TagState::Untagged => {
                    let tag = src.tag_format.replace("{version}", of);
                    ui.label(
                        egui::RichText::new(format!(
                            "{of} has no tag {tag} in {}: a hotfix of it will be refused \
                             (tag the release first: release tag {of}).",
                            src.repo
                        ))
                        .color(theme::WARN),
                    );
                }
                TagState::Unknown => {}
            }
            if let Some(Err(e)) = &self.tags {
                ui.label(
                    egui::RichText::new(format!("Cannot read the repository's tags: {e}"))
                        .color(theme::WARN),
                );
            }
        } else if source.is_none() {
            ui.label(theme::muted(
                "No [source] in release-console.toml: the release is made with the hotfix \
                 runbook, and the branch is yours to cut.",
            ));
        }
        if clicked && let Ok(version) = wanted(&self.hotfix_version) {
            actions.push(Action::NewHotfix(version.to_string()));
        }
    }

    /// New hotfix: with `[source]` the branch is cut as a task, else the release is made
    /// alone (the version typed, or the suggestion its hint shows when empty).
    fn new_hotfix(&mut self, cx: &mut Cx<'_>, version: String) {
        let Some(of) = self.hotfix_of.clone() else {
            return;
        };
        self.hotfix_error = None;
        let data = cx.snapshot;
        if data.ws.config().source.is_none() {
            self.hotfix_version.clear();
            cx.push(Command::NewRelease {
                version,
                hotfix_of: Some(of),
            });
            return;
        }
        let ws = data.ws.clone();
        let spec = crate::source::new_hotfix_task_spec(&ws, &version);
        let task_version = version.clone();
        if let Some(id) = cx.start_task(spec, move |ctx| {
            crate::source::run_new_hotfix(ctx, ws, task_version, of)
        }) {
            self.hotfix_task = Some((id, version));
        }
    }

    /// The release's tag in `[source]`: there, or Tag the release (the same function as
    /// `release tag X`, as a task), and why it was refused.
    fn tag_row(
        &self,
        ui: &mut egui::Ui,
        (data, runner): (&Snapshot, &Runner),
        version: &str,
        actions: &mut Vec<Action>,
    ) {
        let Some(src) = &data.ws.config().source else {
            return;
        };
        let running = self
            .tag_task
            .as_ref()
            .and_then(|(id, _)| runner.task(*id))
            .is_some_and(|t| !t.state.is_finished());
        ui.horizontal_wrapped(|ui| match self.tag_of(version) {
            TagState::Tagged(tag) => {
                theme::badge(ui, "TAGGED", theme::OK);
                ui.label(format!("{tag} in {}", src.repo));
            }
            TagState::Untagged => {
                theme::badge(ui, "NOT TAGGED", theme::MUTED);
                let tag = src.tag_format.replace("{version}", version);
                if ui
                    .add_enabled(!running, egui::Button::new("Tag the release"))
                    .on_hover_text(format!(
                        "Creates the annotated tag {tag} in {} at the commit the build                          recorded (else the branch's head), as `release tag {version}`",
                        src.repo
                    ))
                    .clicked()
                {
                    actions.push(Action::Tag(version.to_owned()));
                }
                if running {
                    ui.spinner();
                }
            }
            TagState::Unknown => {}
        });
        if let Some((v, e)) = &self.tag_error
            && v == version
        {
            ui.label(egui::RichText::new(format!("Not tagged: {e}")).color(theme::BAD));
        }
    }

    /// Tag the release: [`crate::source::tag_release`] as a task.
    fn tag_release(&mut self, cx: &mut Cx<'_>, version: String) {
        let data = cx.snapshot;
        let Some(release) = data
            .releases
            .iter()
            .find(|r| r.version.to_string() == version)
            .cloned()
        else {
            return;
        };
        self.tag_error = None;
        let ws = data.ws.clone();
        let spec = crate::source::tag_task_spec(&ws, &version);
        if let Some(id) = cx.start_task(spec, move |ctx| {
            crate::source::run_tag_release(ctx, ws, release, false)
        }) {
            self.tag_task = Some((id, version));
        }
    }

    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::App(command) => cx.push(command),
            Action::NewRelease => cx.push(Command::NewRelease {
                version: std::mem::take(&mut self.new_version),
                hotfix_of: None,
            }),
            Action::NewHotfix(version) => self.new_hotfix(cx, version),
            Action::ReadTags => self.read_tags(cx),
            Action::Tag(version) => self.tag_release(cx, version),
        }
    }
}

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Hand a command to the app (another panel, a notification retry).
    App(Command),
    /// Create the release typed in New release.
    NewRelease,
    /// Make the hotfix of this version (as typed, or suggested) of the release chosen.
    NewHotfix(String),
    /// Read the release tags of `[source]` (missing or stale).
    ReadTags,
    /// Tag this release in `[source]`.
    Tag(String),
}

impl Panel for OverviewUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        if let Some(tags) = self.tags_run.poll() {
            self.tags = Some(tags);
            if !self.chose_base {
                // Offered again now that the tags are known.
                self.hotfix_of = None;
            }
        }
        if let Some(v) = &self.select_after
            && cx
                .snapshot
                .releases
                .iter()
                .any(|r| r.version.to_string() == *v)
        {
            if cx.snapshot.selected_version().as_ref() != Some(v) {
                cx.push(Command::SelectRelease(v.clone()));
            }
            self.select_after = None;
        }
    }

    fn on_task_finished(&mut self, task: &Finished, _commands: &mut Vec<Command>) {
        if let Some((id, version)) = &self.tag_task
            && task.info.id == *id
        {
            if task.state == TaskState::Failed {
                self.tag_error = Some((version.clone(), task.message.clone()));
            }
            self.tag_task = None;
        }
        let Some((id, version)) = &self.hotfix_task else {
            return;
        };
        if task.info.id != *id {
            return;
        }
        match task.state {
            TaskState::Succeeded => {
                self.select_after = Some(version.clone());
                self.hotfix_version.clear();
                self.hotfix_error = None;
            }
            TaskState::Failed => self.hotfix_error = Some(task.message.clone()),
            _ => {}
        }
        self.hotfix_task = None;
    }

    fn is_busy(&self) -> bool {
        self.tags_run.is_running()
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, (cx.snapshot, cx.runner), &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }
}

impl OverviewUi {
    fn draw(
        &mut self,
        ui: &mut egui::Ui,
        (data, runner): (&Snapshot, &Runner),
        actions: &mut Vec<Action>,
    ) {
        let product = &data.ws.config().product.name;
        if let Some(outbox) = data.outbox() {
            let stuck: Vec<&crate::notify::Delivery> = outbox.attention().collect();
            if !stuck.is_empty() {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, "NOTIFICATIONS", theme::WARN);
                    ui.label(
                        egui::RichText::new(format!(
                            "{} not delivered (last: {}: {})",
                            stuck.len(),
                            stuck[stuck.len() - 1].target.label(),
                            stuck[stuck.len() - 1].answer
                        ))
                        .color(theme::WARN),
                    );
                    // Only the failed ones: an uncertain one may have arrived (the Outbox
                    // sends it again, one by one).
                    let failed: Vec<String> = stuck
                        .iter()
                        .filter(|d| d.state == crate::notify::State::Failed)
                        .map(|d| d.id.clone())
                        .collect();
                    if !failed.is_empty() && ui.button("Retry them").clicked() {
                        actions.push(Action::App(Command::RetryNotifications(failed)));
                    }
                    if ui.link("Open the outbox").clicked() {
                        actions.push(Action::App(Command::Navigate(Tab::Audit)));
                    }
                });
                ui.add_space(6.0);
            }
        }
        if let Some(view) = &data.current {
            ui.label(theme::heading(&format!(
                "{product} {}",
                view.release.version
            )));
            let kind = match &view.release.kind {
                ReleaseKind::Regular => "Release".to_owned(),
                ReleaseKind::Hotfix { of } => format!("Hotfix of {of}"),
            };
            ui.label(theme::muted(format!(
                "{kind} · runbook \"{}\" · created {} by {}",
                view.runbook.title,
                crate::local_time(view.release.created_at, false),
                view.release.created_by
            )));
            self.tag_row(
                ui,
                (data, runner),
                &view.release.version.to_string(),
                actions,
            );
            match &data.on_channels {
                Ok(list) => {
                    for on in list {
                        ui.horizontal_wrapped(|ui| {
                            let (badge, color) = match on {
                                crate::deploy::OnChannel::Live { .. } => ("LIVE", theme::OK),
                                crate::deploy::OnChannel::Superseded { .. } => {
                                    ("SUPERSEDED", theme::MUTED)
                                }
                                crate::deploy::OnChannel::Yanked { .. } => ("YANKED", theme::BAD),
                                crate::deploy::OnChannel::Unfinished { .. } => {
                                    ("UNFINISHED", theme::WARN)
                                }
                            };
                            theme::badge(ui, badge, color);
                            ui.label(on.describe());
                        });
                    }
                }
                Err(e) => {
                    ui.colored_label(theme::WARN, format!("Where it is published: {e}"));
                }
            }
            for s in &data.skipped {
                ui.horizontal_wrapped(|ui| widgets::not_shipped(ui, s));
            }
            ui.add_space(8.0);
            ui.label(egui::RichText::new("Progress").strong());
            egui::Grid::new("phase-progress")
                .num_columns(2)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    for phase in &view.runbook.phases {
                        let p = view.checklist.progress(phase);
                        ui.label(&phase.title);
                        let text = format!("{} / {}", p.done, p.total);
                        widgets::progress_bar(ui, p, text, 260.0);
                        ui.end_row();
                    }
                });
            // On a team's workspace, who is working on it comes before the gates, whose list
            // is long: seen without scrolling.
            if let Some(team) = &data.team {
                ui.add_space(8.0);
                team_section(ui, team);
            }
            ui.add_space(8.0);
            ui.label(egui::RichText::new("Gates before publishing").strong());
            widgets::gate_list(ui, &data.gates);
            ui.horizontal(|ui| {
                if ui.link("Open the security panel").clicked() {
                    actions.push(Action::App(Command::Navigate(Tab::Security)));
                }
            });
            if ui.link("Open the checklist").clicked() {
                actions.push(Action::App(Command::Navigate(Tab::Checklist)));
            }
        } else {
            ui.label(theme::heading(product));
            ui.label("No release yet: create the first one below.");
            if let Some(team) = &data.team {
                ui.add_space(10.0);
                team_section(ui, team);
            }
        }
        ui.add_space(10.0);
        ui.label(egui::RichText::new("Open incidents").strong());
        let now = jiff::Timestamp::now();
        let open: Vec<_> = data.incidents.iter().filter(|i| i.is_open()).collect();
        if open.is_empty() {
            ui.label(theme::muted("None."));
        }
        for inc in open {
            ui.horizontal(|ui| {
                theme::badge(ui, inc.severity.as_str(), theme::severity(inc.severity));
                ui.label(format!("{} {} ({})", inc.id, inc.name, inc.status));
                ui.label(theme::muted(format!(
                    "open {}",
                    crate::human_duration(inc.open_for(now))
                )));
            });
        }
        let overdue = data
            .incidents
            .iter()
            .filter(|i| i.postmortem_due().is_some_and(|d| d < now))
            .count();
        if overdue > 0 {
            ui.label(
                egui::RichText::new(format!("{overdue} postmortem(s) overdue")).color(theme::BAD),
            );
        }
        if ui.link("Open the status page panel").clicked() {
            actions.push(Action::App(Command::Navigate(Tab::StatusPage)));
        }

        ui.add_space(10.0);
        ui.label(egui::RichText::new("Running tasks").strong());
        let running: Vec<_> = runner
            .tasks()
            .into_iter()
            .filter(|t| !t.state.is_finished())
            .collect();
        if running.is_empty() {
            ui.label(theme::muted("Nothing running."));
        }
        for t in running {
            ui.horizontal(|ui| {
                theme::badge(
                    ui,
                    &t.state.as_str().to_uppercase(),
                    theme::task_state(t.state),
                );
                ui.label(&t.info.name);
                ui.label(theme::muted(crate::human_duration(t.elapsed)));
                if let Some(p) = t.progress {
                    ui.add(
                        egui::ProgressBar::new(p)
                            .desired_width(160.0)
                            .show_percentage(),
                    );
                }
            });
        }

        ui.add_space(10.0);
        ui.label(egui::RichText::new("New release").strong());
        ui.horizontal(|ui| {
            let label = ui.label("Version");
            let hint = next_minor(&data.releases);
            ui.add(
                egui::TextEdit::singleline(&mut self.new_version)
                    .hint_text(hint)
                    .desired_width(100.0),
            )
            .labelled_by(label.id);
            let valid = crate::workspace::parse_version(&self.new_version);
            let button = ui.add_enabled(valid.is_ok(), egui::Button::new("Create release"));
            if let Err(e) = &valid
                && !self.new_version.trim().is_empty()
            {
                ui.label(egui::RichText::new(e.to_string()).color(theme::BAD).small());
            }
            if button.clicked() {
                actions.push(Action::NewRelease);
            }
        });
        ui.add_space(10.0);
        if self.tags_stale(data) {
            actions.push(Action::ReadTags);
        }
        self.hotfix_ui(ui, (data, runner), actions);
    }
}

/// The version a new release would most likely take: the minor after the highest release's
/// (`0.1.0` in a workspace without any), shown as the field's hint.
fn next_minor(releases: &[crate::workspace::Release]) -> String {
    releases.iter().map(|r| &r.version).max().map_or_else(
        || "0.1.0".to_owned(),
        |v| semver::Version::new(v.major, v.minor + 1, 0).to_string(),
    )
}

/// Who is working on a shared workspace: what each lease holder is doing, and who changed it
/// lately.
fn team_section(ui: &mut egui::Ui, team: &Result<crate::workspace::Activity, String>) {
    ui.label(egui::RichText::new("Team").strong());
    let activity = match team {
        Ok(a) => a,
        Err(e) => {
            ui.colored_label(theme::WARN, format!("Who is working cannot be read: {e}"));
            return;
        }
    };
    let now = jiff::Timestamp::now();
    let hm = |t: jiff::Timestamp| {
        t.to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime("%H:%M")
            .to_string()
    };
    if activity.leases.is_empty() {
        ui.label(theme::muted(
            "Nobody is building, publishing or rolling out right now.",
        ));
    }
    for lease in &activity.leases {
        ui.horizontal_wrapped(|ui| {
            if lease.unrenewed(now) {
                theme::badge(ui, "NOT RENEWED", theme::WARN).on_hover_text(format!(
                    "A holder renews its lease every {} while the operation runs; this one \
                     was last written at {}: the holder's console may have stopped (a crash, \
                     a lost network). It runs out at {}, and the next to start it takes it \
                     over.",
                    crate::human_duration(std::time::Duration::from_secs(lease.ttl_secs / 3)),
                    lease.written_at().map_or_else(|| "?".to_owned(), hm),
                    hm(lease.ends())
                ));
            } else {
                theme::badge(ui, "IN PROGRESS", theme::INFO);
            }
            ui.label(format!("{} by {}", lease.what, lease.describe()));
        });
    }
    for lease in &activity.expired {
        ui.horizontal_wrapped(|ui| {
            theme::badge(ui, "STOPPED", theme::WARN);
            ui.label(format!(
                "{} by {}@{}: its lease ran out at {} without being renewed (that console \
                 stopped); the next to start it takes it over",
                lease.what,
                lease.holder,
                lease.host,
                hm(lease.ends())
            ));
        });
    }
    if activity.people.is_empty() {
        ui.label(theme::muted(format!(
            "No changes in the last {}.",
            crate::human_duration(crate::workspace::ACTIVE_WITHIN)
        )));
    }
    for p in &activity.people {
        let ago = now.duration_since(p.at).try_into().map_or_else(
            |_| "just now".to_owned(),
            |d| format!("{} ago", crate::human_duration(d)),
        );
        let who = if p.host.is_empty() {
            p.actor.clone()
        } else {
            format!("{} ({})", p.actor, p.host)
        };
        ui.label(format!("{who}: {} · {ago}", p.said))
            .on_hover_text(format!("{} {}", p.action, p.target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::{Release, ReleaseKind};

    fn release(v: &str) -> Release {
        Release {
            version: v.parse().expect("version"),
            kind: ReleaseKind::Regular,
            runbook: "standard".into(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
            created_by: "ana".into(),
            audit_seq: 0,
        }
    }

    #[test]
    fn the_hint_is_the_minor_after_the_highest_release() {
        assert_eq!(next_minor(&[]), "0.1.0");
        let rs = [release("1.4.0"), release("1.10.2"), release("1.9.0")];
        assert_eq!(next_minor(&rs), "1.11.0");
    }
}
