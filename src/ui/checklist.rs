//! The Checklist panel: phases with progress, items to tick with who/when/note.

use super::command::Command;
use super::panel::{Cx, Panel};
use super::{theme, widgets};

/// Checklist panel state.
#[derive(Debug, Default)]
pub struct ChecklistUi {
    /// Note attached to the next tick or untick.
    pub note: String,
    /// An item a task normally ticks, clicked with no note: its tick waits for one.
    pub asking_note: Option<String>,
}

impl Panel for ChecklistUi {
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let (data, commands) = (cx.snapshot, &mut *cx.commands);
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
        ui.horizontal(|ui| {
            ui.label("Note for the next tick or untick:");
            ui.add(
                egui::TextEdit::singleline(&mut self.note)
                    .hint_text("optional")
                    .desired_width(320.0),
            );
        });
        ui.add_space(6.0);
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
                    ui.horizontal(|ui| {
                        let mut checked = done;
                        let resp = ui.add_enabled(
                            gate.is_none(),
                            egui::Checkbox::new(&mut checked, &item.title),
                        );
                        let resp = match &gate {
                            Some(reason) => resp.on_disabled_hover_text(format!("Gated: {reason}")),
                            None if !item.detail.is_empty() => resp.on_hover_text(&item.detail),
                            None => resp,
                        };
                        if resp.clicked() {
                            if !done
                                && self.note.trim().is_empty()
                                && item.hand_tick_needs_note().is_some()
                            {
                                self.asking_note = Some(item.id.clone());
                            } else {
                                self.asking_note = None;
                                commands.push(Command::SetItem {
                                    item: item.id.clone(),
                                    done: !done,
                                    note: std::mem::take(&mut self.note),
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
                            if !s.note.is_empty() {
                                text.push_str(&format!(": {}", s.note));
                            }
                            ui.label(theme::muted(text));
                        }
                    });
                    if self.asking_note.as_deref() == Some(item.id.as_str()) {
                        self.note_prompt(ui, item, commands);
                    }
                }
            });
            ui.add_space(4.0);
        }
    }
}

impl ChecklistUi {
    /// Asks for the note a hand-tick of `item` needs (a task normally ticks it).
    fn note_prompt(
        &mut self,
        ui: &mut egui::Ui,
        item: &crate::runbook::Item,
        commands: &mut Vec<Command>,
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
                ui.horizontal(|ui| {
                    let label = ui.label("Why by hand:");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.note)
                            .hint_text("e.g. built and notarized on the release Mac")
                            .desired_width(360.0),
                    )
                    .labelled_by(label.id);
                    let ready = !self.note.trim().is_empty();
                    if ui
                        .add_enabled(ready, egui::Button::new("Tick with this note"))
                        .clicked()
                    {
                        self.asking_note = None;
                        commands.push(Command::SetItem {
                            item: item.id.clone(),
                            done: true,
                            note: std::mem::take(&mut self.note),
                        });
                    }
                    if ui.button("Cancel").clicked() {
                        self.asking_note = None;
                    }
                });
            });
    }
}
