//! The Builds panel: a card per platform with preflight, Dry run / Run / Cancel / Resume, the
//! step list with durations, and the artifacts the release has, linking to Verify.

use std::collections::BTreeMap;

use super::app::{Command, Loaded, Tab};
use super::{theme, tray};
use crate::pipeline::{PlatformDef, Preflight};
use crate::runner::{Runner, TaskId, TaskSnapshot};

/// Builds panel state.
#[derive(Debug, Default)]
pub struct BuildsUi {
    /// Last preflight per platform.
    pub preflight: BTreeMap<String, Preflight>,
    /// The last task started per platform.
    pub tasks: BTreeMap<String, TaskId>,
    pub skip_signing: bool,
}

impl BuildsUi {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        data: &Loaded,
        runner: &Runner,
        commands: &mut Vec<Command>,
    ) {
        ui.label(theme::heading("Installer builds"));
        let Some(view) = &data.current else {
            ui.label("No release yet: create one on the Overview panel.");
            return;
        };
        let def = match &data.pipeline {
            Ok(d) => d,
            Err(e) => {
                ui.label(
                    egui::RichText::new(format!("Cannot read the pipeline definition: {e}"))
                        .color(theme::BAD),
                );
                return;
            }
        };
        ui.label(theme::muted(format!(
            "Release {} · builders from {} · payload {}",
            view.release.version,
            data.ws.config().pipeline.definition,
            data.ws.config().pipeline.payload_dir
        )));
        ui.horizontal(|ui| {
            if ui
                .button("Run preflight")
                .on_hover_text("Check hosts, tools, signing and disk for every platform")
                .clicked()
            {
                commands.push(Command::Preflight);
            }
            ui.checkbox(&mut self.skip_signing, "Skip signing (unsigned test build)");
        });
        ui.add_space(6.0);
        for (name, pdef) in &def.platforms {
            let task = self.tasks.get(name).and_then(|id| runner.task(*id));
            self.card_ui(ui, data, name, pdef, task.as_ref(), commands);
            ui.add_space(6.0);
        }
        ui.label(egui::RichText::new("Artifacts").strong());
        if data.artifacts.is_empty() {
            ui.label(theme::muted(format!(
                "None yet in {}",
                data.ws.artifacts_dir(&view.release.version).display()
            )));
        }
        egui::Grid::new("artifacts")
            .striped(true)
            .num_columns(3)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for (name, size, sha) in &data.artifacts {
                    ui.label(name);
                    ui.label(crate::verify::human_bytes(*size));
                    ui.label(theme::mono(
                        sha.as_deref().map_or("not in SHA256SUMS yet", |s| &s[..16]),
                    ));
                    ui.end_row();
                }
            });
        ui.horizontal(|ui| {
            let any = !data.artifacts.is_empty();
            if ui
                .add_enabled(any, egui::Button::new("Write SHA256SUMS and verify"))
                .on_hover_text("Hash every artifact into SHA256SUMS, then run Verify on the folder")
                .clicked()
            {
                commands.push(Command::SumsAndVerify);
            }
            if ui
                .add_enabled(any, egui::Button::new("Open in Verify"))
                .clicked()
            {
                commands.push(Command::VerifyUseRelease);
                commands.push(Command::Navigate(Tab::Verify));
            }
        });
    }

    fn card_ui(
        &self,
        ui: &mut egui::Ui,
        data: &Loaded,
        name: &str,
        pdef: &PlatformDef,
        task: Option<&TaskSnapshot>,
        commands: &mut Vec<Command>,
    ) {
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            let saved = data.pipeline_state.platforms.get(name);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(&pdef.title).strong().size(16.0));
                if pdef.runs_here() {
                    ui.label(theme::muted(format!("{name} · builds on this host")));
                } else {
                    ui.label(
                        egui::RichText::new(format!(
                            "{name} · needs a {} host (dry run only here)",
                            pdef.host_os
                        ))
                        .color(theme::WARN),
                    );
                }
                match (task, saved) {
                    (Some(t), _) => {
                        let state = t.state.as_str().to_uppercase();
                        let label = if t.info.kind == "pipeline.dry-run" {
                            format!("DRY RUN {state}")
                        } else {
                            state
                        };
                        theme::badge(ui, &label, tray::state_color(t.state));
                    }
                    (None, Some(s)) => {
                        let color = if s.status == "succeeded" {
                            theme::OK
                        } else {
                            theme::BAD
                        };
                        theme::badge(ui, &s.status.to_uppercase(), color);
                    }
                    (None, None) => {
                        theme::badge(ui, "NOT BUILT", theme::MUTED);
                    }
                }
            });
            let running = task.is_some_and(|t| !t.state.is_finished());
            let pre = self.preflight.get(name);
            let skipped = pre.and_then(|p| p.skipped.clone());
            ui.horizontal(|ui| {
                let can_run = !running && skipped.is_none() && pdef.runs_here();
                // The plan can be shown on any host where the builder's interpreter runs.
                if ui
                    .add_enabled(!running, egui::Button::new("Dry run"))
                    .on_hover_text("Print the exact plan; nothing is built or signed")
                    .clicked()
                {
                    commands.push(Command::Build {
                        platform: name.to_owned(),
                        dry_run: true,
                        resume: false,
                    });
                }
                let failed_before = saved.is_some_and(|s| s.status != "succeeded");
                if failed_before
                    && ui
                        .add_enabled(can_run, egui::Button::new("Resume"))
                        .on_hover_text(
                            "Continue from the step that failed; finished steps are skipped",
                        )
                        .clicked()
                {
                    commands.push(Command::Build {
                        platform: name.to_owned(),
                        dry_run: false,
                        resume: true,
                    });
                }
                let label = if saved.is_some() { "Rebuild" } else { "Run" };
                if ui
                    .add_enabled(can_run, egui::Button::new(label))
                    .on_hover_text("Run every step from the start")
                    .clicked()
                {
                    commands.push(Command::Build {
                        platform: name.to_owned(),
                        dry_run: false,
                        resume: false,
                    });
                }
                if let Some(t) = task.filter(|_| running)
                    && ui.button("Cancel").clicked()
                {
                    commands.push(Command::CancelTask(t.info.id));
                }
            });
            match pre {
                None => {
                    ui.label(theme::muted("Preflight not run yet."));
                }
                Some(p) => {
                    if let Some(reason) = &p.skipped {
                        ui.label(
                            egui::RichText::new(format!("Skipped on this host: {reason}"))
                                .color(theme::WARN),
                        );
                    }
                    for c in &p.checks {
                        ui.horizontal(|ui| {
                            if c.ok {
                                theme::badge(ui, "OK", theme::OK);
                            } else {
                                theme::badge(ui, "FAIL", theme::BAD);
                            }
                            ui.label(&c.name);
                            ui.label(theme::muted(&c.detail));
                            if !c.fix.is_empty() {
                                ui.label(
                                    egui::RichText::new(format!("fix: {}", c.fix))
                                        .color(theme::WARN),
                                );
                            }
                        });
                    }
                }
            }
            // Steps: live from the task, else from the saved state.
            let steps: Vec<(String, String)> = match task {
                Some(t) => t
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let end = t.steps.get(i + 1).map_or(t.elapsed, |n| n.started_after);
                        (
                            s.name.clone(),
                            tray::format_elapsed(end.saturating_sub(s.started_after)),
                        )
                    })
                    .collect(),
                None => saved
                    .map(|s| {
                        s.steps
                            .iter()
                            .map(|st| (st.name.clone(), format!("{:.1} s", st.seconds)))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            if !steps.is_empty() {
                egui::Grid::new(("steps", name))
                    .num_columns(2)
                    .spacing([16.0, 2.0])
                    .show(ui, |ui| {
                        for (i, (step, duration)) in steps.iter().enumerate() {
                            let current = running && i + 1 == steps.len();
                            let text = if current {
                                format!("{step} (running)")
                            } else {
                                step.clone()
                            };
                            ui.label(egui::RichText::new(text).color(if current {
                                theme::INFO
                            } else {
                                theme::OK
                            }));
                            ui.label(theme::muted(duration));
                            ui.end_row();
                        }
                    });
            }
            if let Some(s) = saved.filter(|_| task.is_none()) {
                ui.label(theme::muted(format!(
                    "Last run {}: {}",
                    crate::local_time(s.finished_at, false),
                    s.message
                )));
            }
            if let Some(t) = task
                && let Some(m) = &t.message
            {
                ui.label(egui::RichText::new(m).color(tray::state_color(t.state)));
            }
        });
    }
}
