//! The Checklist panel: phases with progress, items to tick with who/when/note.

use super::command::Command;
use super::panel::{Cx, Panel};
use super::{theme, widgets};

/// Checklist panel state.
#[derive(Debug, Default)]
pub struct ChecklistUi {
    /// Note attached to the next tick or untick.
    pub note: String,
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
                            commands.push(Command::SetItem {
                                item: item.id.clone(),
                                done: !done,
                                note: std::mem::take(&mut self.note),
                            });
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
                }
            });
            ui.add_space(4.0);
        }
    }
}
