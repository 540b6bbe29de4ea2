//! The Checklist panel: phases with progress, items to tick with who/when/note; for a hotfix,
//! the commits on its branch since the tag for the fast-track review and the merge back.

use std::path::PathBuf;

use super::command::{Command, Tab};
use super::panel::{Cx, Panel, Pending};
use super::snapshot::Snapshot;
use super::{theme, widgets};
use crate::source::{self, HotfixReview};
use crate::workspace::ReleaseKind;

/// Checklist panel state.
#[derive(Debug, Default)]
pub struct ChecklistUi {
    /// Note attached to the next tick or untick.
    pub note: String,
    /// The selected hotfix's branch since the tag (`release hotfix`), or why it cannot be read.
    pub hotfix: Option<Result<HotfixReview, String>>,
    review: Pending<HotfixReview>,
    /// The workspace and hotfix the review is of (read again when another is selected).
    review_of: Option<(PathBuf, String)>,
    /// An item a task normally ticks, clicked with no note: its tick waits for one.
    pub asking_note: Option<String>,
    /// The pass the panel was last drawn in: a gap means it has just come into view, and a
    /// hotfix's merge back is checked again (commits reach main outside the console).
    drawn_at: Option<u64>,
}

impl ChecklistUi {
    /// Reads the hotfix's commits and checks the merge back (the same function as `release
    /// hotfix`, which ticks "Merge the fix back to main" when every commit is on main).
    fn recheck(&mut self, cx: &Cx<'_>) {
        let data = cx.snapshot;
        let Some(view) = &data.current else { return };
        if self.review.is_running() {
            return;
        }
        self.review_of = Some((data.ws.root().to_owned(), view.release.version.to_string()));
        let (ws, release) = (data.ws.clone(), view.release.clone());
        cx.fetch(&mut self.review, async move {
            source::review_hotfix(&ws, &release).await
        });
    }

    fn hotfix_ui(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new("Hotfix branch").strong().size(16.0));
                if data.ws.config().source.is_some() {
                    let button = ui.add_enabled(
                        !self.review.is_running(),
                        egui::Button::new("Re-check merge-back"),
                    );
                    if button.clicked() {
                        actions.push(Action::Recheck);
                    }
                }
                if self.review.is_running() {
                    ui.spinner();
                }
            });
            if data.ws.config().source.is_none() {
                ui.label(theme::muted(
                    "No [source] in release-console.toml: the hotfix's commits are not read here.",
                ));
                return;
            }
            match &self.hotfix {
                None => {
                    ui.label(theme::muted("Reading the branch…"));
                }
                Some(Err(e)) => {
                    ui.label(egui::RichText::new(e).color(theme::BAD));
                }
                Some(Ok(r)) => review_ui(ui, r),
            }
        });
        ui.add_space(4.0);
    }
}

/// The hotfix's commits: what the fast-track review must look at, and which are on main.
fn review_ui(ui: &mut egui::Ui, r: &HotfixReview) {
    // `refs/heads/main` as `main`, `refs/remotes/origin/main` as `origin/main`.
    let main = r
        .main
        .strip_prefix("refs/heads/")
        .or_else(|| r.main.strip_prefix("refs/remotes/"))
        .unwrap_or(&r.main);
    ui.label(theme::muted(format!(
        "{}: {} commit(s) since {} ({}); merge back checked against {} by patch id",
        r.branch,
        r.commits.len(),
        r.tag,
        r.base.get(..10).unwrap_or(&r.base),
        main
    )));
    let flagged = r.flagged().count();
    let on_main = r.commits.iter().filter(|c| c.on_main).count();
    ui.horizontal_wrapped(|ui| {
        if r.commits.is_empty() {
            theme::badge(ui, "NO COMMITS YET", theme::MUTED);
            ui.label("The branch is still at the tag: make the fix on it.");
        } else if flagged == 0 {
            theme::badge(ui, "MINIMAL", theme::OK);
            ui.label("No commit is flagged for the fast-track review.");
        } else {
            theme::badge(ui, "FAST-TRACK REVIEW", theme::WARN);
            ui.label(format!(
                "{flagged} of {} commit(s) flagged: the review must look at them.",
                r.commits.len()
            ));
        }
    });
    ui.horizontal_wrapped(|ui| {
        if r.merged_back {
            theme::badge(ui, "MERGED BACK", theme::OK);
            ui.label(format!("Every commit is on {main}."));
        } else if !r.commits.is_empty() {
            theme::badge(ui, "NOT MERGED BACK", theme::WARN);
            ui.label(format!(
                "{} of {} commit(s) not on {main} yet.",
                r.commits.len() - on_main,
                r.commits.len(),
            ));
        }
        if !r.ticks.ticked.is_empty() {
            ui.label(theme::muted(format!(
                "ticked {}",
                r.ticks.ticked.join(", ")
            )));
        }
        for g in &r.ticks.gated {
            ui.label(egui::RichText::new(format!("not ticked yet: {g}")).color(theme::WARN));
        }
    });
    for c in &r.commits {
        ui.add_space(2.0);
        ui.horizontal_wrapped(|ui| {
            if c.flags.is_empty() {
                theme::badge(ui, "FIX", theme::OK);
            } else {
                theme::badge(ui, "REVIEW", theme::WARN);
            }
            ui.label(theme::mono(c.commit.short()));
            ui.label(egui::RichText::new(&c.commit.subject).strong());
            ui.label(theme::muted(format!(
                "{} · {} lines",
                c.commit.author, c.lines
            )));
            if c.on_main {
                theme::badge(ui, "ON MAIN", theme::OK);
            } else {
                theme::badge(ui, "NOT ON MAIN", theme::WARN);
            }
        });
        ui.indent(("hotfix-commit", &c.commit.sha), |ui| {
            for flag in &c.flags {
                ui.label(egui::RichText::new(format!("Flagged: {flag}")).color(theme::WARN));
            }
            for f in &c.commit.files {
                let counts = match (f.added, f.deleted) {
                    (Some(a), Some(d)) => format!("+{a} -{d}"),
                    _ => "binary".to_owned(),
                };
                ui.label(theme::mono(format!("{counts:>10}  {}", f.path)).color(theme::MUTED));
            }
        });
    }
}

impl Panel for ChecklistUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        if let Some(result) = self.review.poll() {
            if let Ok(r) = &result
                && !r.ticks.ticked.is_empty()
            {
                cx.success(format!(
                    "{}: every commit is on main; ticked {}",
                    r.branch,
                    super::widgets::item_titles(cx.snapshot, &r.ticks.ticked)
                ));
                cx.push(Command::Reload);
            }
            self.hotfix = Some(result);
        }
        let data = cx.snapshot;
        let Some(view) = &data.current else { return };
        let is_hotfix = matches!(view.release.kind, ReleaseKind::Hotfix { .. });
        let key = (data.ws.root().to_owned(), view.release.version.to_string());
        if self.review_of.as_ref() != Some(&key) {
            self.hotfix = None;
            if is_hotfix && data.ws.config().source.is_some() {
                self.recheck(cx);
            } else {
                self.review_of = Some(key);
            }
        }
    }

    fn is_busy(&self) -> bool {
        self.review.is_running()
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }
}

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Read the hotfix's commits and check the merge back again.
    Recheck,
    /// Tick or untick an item with the note typed (which is then cleared).
    SetItem { item: String, done: bool },
    /// Open the panel whose task ticks the item asking for a note.
    Open(Tab),
}

impl ChecklistUi {
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::Recheck => self.recheck(cx),
            Action::SetItem { item, done } => {
                self.asking_note = None;
                cx.push(Command::SetItem {
                    item,
                    done,
                    note: std::mem::take(&mut self.note),
                });
            }
            Action::Open(tab) => {
                self.asking_note = None;
                cx.push(Command::Navigate(tab));
            }
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        let pass = ui.ctx().cumulative_pass_nr();
        let came_into_view = self.drawn_at.is_none_or(|at| at + 1 < pass);
        self.drawn_at = Some(pass);
        let Some(view) = &data.current else {
            ui.label(theme::heading("Checklist"));
            ui.label("No release yet. Create one on the Overview panel or with `release-console release new 0.1.0`.");
            return;
        };
        ui.label(theme::heading(&format!(
            "{} {}: {}",
            data.ws.config().product.name,
            view.release.version,
            view.runbook.title
        )));
        if !view.runbook.description.is_empty() {
            ui.label(theme::muted(&view.runbook.description));
        }
        // A hotfix's merge back, checked again each time the checklist is opened (the read
        // of a newly selected release is `logic`'s).
        let key = (data.ws.root().to_owned(), view.release.version.to_string());
        if came_into_view
            && matches!(view.release.kind, ReleaseKind::Hotfix { .. })
            && data.ws.config().source.is_some()
            && self.review_of.as_ref() == Some(&key)
            && !self.review.is_running()
        {
            actions.push(Action::Recheck);
        }
        ui.horizontal(|ui| {
            ui.label("Note for the next tick or untick:");
            ui.add(
                egui::TextEdit::singleline(&mut self.note)
                    .hint_text("optional")
                    .desired_width(320.0),
            );
        });
        ui.add_space(6.0);
        // A shared workspace opened from this console's copy (its bucket did not answer)
        // refuses every change: its boxes are shown off, with why.
        let read_only = data.ws.shared().and_then(|shared| {
            shared.offline().map(|why| {
                format!(
                    "READ-ONLY: {} did not answer ({why}); ticks are refused until it answers \
                     again",
                    shared.url()
                )
            })
        });
        for phase in &view.runbook.phases {
            let progress = view.checklist.progress(phase);
            ui.group(|ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(&phase.title).strong().size(16.0));
                    if !phase.when.is_empty() {
                        ui.label(theme::muted(&phase.when));
                    }
                });
                let text = format!("{} of {} done", progress.done, progress.total);
                widgets::progress_bar(ui, progress, text, 320.0);
                for item in &phase.items {
                    let state = view.checklist.items.get(&item.id);
                    let done = state.is_some_and(|s| s.done);
                    let gate = if done {
                        None
                    } else {
                        view.checklist.gate_for(&view.runbook, item)
                    };
                    // Wrapped: a long note goes on the next line rather than past the edge.
                    ui.horizontal_wrapped(|ui| {
                        let mut checked = done;
                        let resp = ui.add_enabled(
                            gate.is_none() && read_only.is_none(),
                            egui::Checkbox::new(&mut checked, &item.title),
                        );
                        let resp = match (&read_only, &gate) {
                            (Some(why), _) => resp.on_disabled_hover_text(why),
                            (None, Some(reason)) => {
                                resp.on_disabled_hover_text(format!("Gated: {reason}"))
                            }
                            (None, None) if !item.detail.is_empty() => {
                                resp.on_hover_text(&item.detail)
                            }
                            (None, None) => resp,
                        };
                        if resp.clicked() {
                            if !done
                                && self.note.trim().is_empty()
                                && item.hand_tick_needs_note().is_some()
                            {
                                self.asking_note = Some(item.id.clone());
                            } else {
                                actions.push(Action::SetItem {
                                    item: item.id.clone(),
                                    done: !done,
                                });
                            }
                        }
                        if let Some(kind) = &item.auto_tick_on {
                            theme::badge(ui, &format!("auto: {kind}"), theme::MUTED).on_hover_text(
                                format!("Ticks itself when a `{kind}` task succeeds"),
                            );
                        }
                        if gate.is_some() {
                            theme::badge(ui, "GATED", theme::WARN);
                        }
                        if let Some(s) = state {
                            let verb = if s.done { "ticked" } else { "unticked" };
                            let mut text =
                                format!("{verb} by {} at {}", s.by, crate::local_time(s.at, false));
                            if !s.note.is_empty() && !says_the_task_again(&s.by, &s.note) {
                                text.push_str(&format!(": {}", s.note));
                            }
                            ui.label(theme::muted(text));
                        }
                    });
                    if self.asking_note.as_deref() == Some(item.id.as_str()) {
                        self.note_prompt(ui, item, actions);
                    }
                }
            });
            ui.add_space(4.0);
            // A hotfix's commits beside the items that need them (the branch, the minimal
            // fix, the fast-track review).
            let branch_phase = phase
                .items
                .iter()
                .any(|i| i.auto_tick_on.as_deref() == Some(source::BRANCH_KIND));
            if branch_phase && matches!(view.release.kind, ReleaseKind::Hotfix { .. }) {
                self.hotfix_ui(ui, data, actions);
            }
        }
    }
}

impl ChecklistUi {
    /// Asks for the note a hand-tick of `item` needs (a task normally ticks it).
    fn note_prompt(
        &mut self,
        ui: &mut egui::Ui,
        item: &crate::runbook::Item,
        actions: &mut Vec<Action>,
    ) {
        egui::Frame::new()
            .stroke(egui::Stroke::new(1.0, theme::WARN))
            .inner_margin(6.0)
            .show(ui, |ui| {
                if let Some(why) = item.hand_tick_needs_note() {
                    ui.label(
                        egui::RichText::new(format!("Ticking by hand: {why}.")).color(theme::WARN),
                    );
                }
                let help = item.auto_tick_on.as_deref().map(hand_tick_help);
                if let Some(help) = &help {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(theme::muted(format!("The task: {}.", help.runs)));
                        if let Some(tab) = help.panel
                            && ui.link(format!("Open {}", tab.label())).clicked()
                        {
                            actions.push(Action::Open(tab));
                        }
                    });
                }
                ui.horizontal(|ui| {
                    let label = ui.label("Why by hand:");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.note)
                            .hint_text(
                                help.map_or("what was done instead, and where", |h| h.example),
                            )
                            .desired_width(360.0),
                    )
                    .labelled_by(label.id);
                    let ready = !self.note.trim().is_empty();
                    if ui
                        .add_enabled(ready, egui::Button::new("Tick with this note"))
                        .clicked()
                    {
                        actions.push(Action::SetItem {
                            item: item.id.clone(),
                            done: true,
                        });
                    }
                    if ui.button("Cancel").clicked() {
                        self.asking_note = None;
                    }
                });
            });
    }
}

/// Where the task that ticks an item runs, and an example of the note a hand-tick needs.
struct HandTickHelp {
    /// Where it runs, in the window or on the command line.
    runs: &'static str,
    /// The panel that runs it, if one does.
    panel: Option<Tab>,
    /// What a note might say.
    example: &'static str,
}

/// The help for ticking by hand an item that a task of `kind` normally ticks.
fn hand_tick_help(kind: &str) -> HandTickHelp {
    let (runs, panel, example) = match kind {
        "pipeline.macos" => (
            "Run on the platform's card in Builds",
            Some(Tab::Builds),
            "e.g. built and notarized on the release Mac",
        ),
        k if k.starts_with("pipeline.") => (
            "Run on the platform's card in Builds",
            Some(Tab::Builds),
            "e.g. built and signed on the release machine",
        ),
        crate::verify::TASK_KIND => (
            "Run verification in Verify, or \"Write SHA256SUMS and verify\" in Builds",
            Some(Tab::Verify),
            "e.g. checked with sha256sum -c and signtool verify",
        ),
        crate::deploy::TASK_KIND | crate::deploy::LINKS_KIND => (
            "Publish in Deploy",
            Some(Tab::Deploy),
            "e.g. uploaded to the download host by hand",
        ),
        crate::deploy::argocd::TASK_KIND => (
            "the Backend card in Deploy, once [deploy.argocd] names the application",
            Some(Tab::Deploy),
            "e.g. rolled out with kubectl, error rates watched",
        ),
        "flags.review" => (
            "`release-console flags review` (no panel runs it)",
            None,
            "e.g. every flag checked in the flag provider's dashboard",
        ),
        k if k.starts_with("flags.rollout") => (
            "Advance on the flag in Flags",
            Some(Tab::Flags),
            "e.g. set in the flag provider's dashboard",
        ),
        source::NOTES_KIND => (
            "Save notes in Notes",
            Some(Tab::Notes),
            "e.g. written in the wiki, reviewed by product",
        ),
        source::BRANCH_KIND => (
            "New hotfix on the Overview",
            Some(Tab::Overview),
            "e.g. branch cut by hand from the tag",
        ),
        source::MERGE_BACK_KIND => (
            "Re-check merge-back in the Hotfix branch box",
            None,
            "e.g. merged back by hand, reviewed",
        ),
        _ => (
            "a task of this kind",
            None,
            "what was done instead, and where",
        ),
    };
    HandTickHelp {
        runs,
        panel,
        example,
    }
}

/// Whether a tick's note only repeats the task its actor already names: a task's tick is
/// by "root (task verify)" with the note "ticked by task verify", said once on screen.
fn says_the_task_again(by: &str, note: &str) -> bool {
    note.strip_prefix("ticked by task ")
        .is_some_and(|task| by.ends_with(&format!("(task {task})")))
}
