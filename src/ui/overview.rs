//! The Overview panel: the release, progress per phase, running tasks, the gates before
//! publishing, and creating releases.

use super::command::{Command, Tab};
use super::panel::{Cx, Panel};
use super::{theme, widgets};
use crate::workspace::ReleaseKind;

/// Overview panel state: the new-release form.
#[derive(Debug, Default)]
pub struct OverviewUi {
    pub new_version: String,
    pub hotfix_of: Option<String>,
}

impl Panel for OverviewUi {
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let (data, runner, commands) = (cx.snapshot, cx.runner, &mut *cx.commands);
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
                        commands.push(Command::RetryNotifications(failed));
                    }
                    if ui.link("Open the outbox").clicked() {
                        commands.push(Command::Navigate(Tab::Audit));
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
            ui.add_space(8.0);
            ui.label(egui::RichText::new("Gates before publishing").strong());
            widgets::gate_list(ui, &data.gates);
            ui.horizontal(|ui| {
                if ui.link("Open the security panel").clicked() {
                    commands.push(Command::Navigate(Tab::Security));
                }
            });
            if ui.link("Open the checklist").clicked() {
                commands.push(Command::Navigate(Tab::Checklist));
            }
        } else {
            ui.label(theme::heading(product));
            ui.label("No release yet: create the first one below.");
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
            commands.push(Command::Navigate(Tab::StatusPage));
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
            ui.add(
                egui::TextEdit::singleline(&mut self.new_version)
                    .hint_text("0.2.0")
                    .desired_width(100.0),
            )
            .labelled_by(label.id);
            egui::ComboBox::from_id_salt("hotfix-of")
                .selected_text(match &self.hotfix_of {
                    Some(v) => format!("hotfix of {v}"),
                    None => "regular release".to_owned(),
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.hotfix_of, None, "regular release");
                    for r in data.releases.iter().rev() {
                        let v = r.version.to_string();
                        ui.selectable_value(
                            &mut self.hotfix_of,
                            Some(v.clone()),
                            format!("hotfix of {v}"),
                        );
                    }
                })
                .response
                .accessible_name("Release kind");
            let valid = crate::workspace::parse_version(&self.new_version);
            let button = ui.add_enabled(valid.is_ok(), egui::Button::new("Create release"));
            if let Err(e) = &valid
                && !self.new_version.trim().is_empty()
            {
                ui.label(
                    egui::RichText::new(crate::error_chain(e))
                        .color(theme::BAD)
                        .small(),
                );
            }
            if button.clicked() {
                commands.push(Command::NewRelease {
                    version: std::mem::take(&mut self.new_version),
                    hotfix_of: self.hotfix_of.take(),
                });
            }
        });
    }
}
