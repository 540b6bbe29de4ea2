//! The Settings panel: the workspace folder, the programs the console runs (where each was
//! found, and a field to set its path), where each secret is looked for (variable names and
//! keyring entries, never values), and the configuration as loaded.

use std::path::Path;

use super::command::{Command, PickKind};
use super::panel::{Cx, Panel};
use super::snapshot::Snapshot;
use super::theme;
use crate::workspace::Origin;

/// Settings panel state: the workspace path being typed, and the program paths being typed
/// (by program name) in the Tools section.
#[derive(Debug, Default)]
pub struct SettingsUi {
    pub path_text: String,
    pub tool_text: std::collections::BTreeMap<String, String>,
}

impl SettingsUi {
    pub fn new(root: &Path) -> Self {
        Self {
            path_text: root.display().to_string(),
            tool_text: std::collections::BTreeMap::new(),
        }
    }

    /// Path field, Open and Browse buttons; what a click asks the app for (opening the folder
    /// typed, the folder dialog), for the caller to push after drawing.
    pub fn workspace_picker_ui(&mut self, ui: &mut egui::Ui) -> Option<Command> {
        ui.horizontal(|ui| {
            let label = ui
                .label("Workspace")
                .on_hover_text("A folder, or s3://BUCKET/PREFIX for a team's shared workspace");
            ui.add(egui::TextEdit::singleline(&mut self.path_text).desired_width(420.0))
                .labelled_by(label.id);
            let mut asked = None;
            if ui.button("Open").clicked() && !self.path_text.trim().is_empty() {
                asked = Some(Command::OpenWorkspace(self.path_text.trim().into()));
            }
            if ui
                .button("Browse…")
                .on_hover_text("Pick the folder with the system dialog")
                .clicked()
            {
                asked = Some(Command::Pick(PickKind::Workspace));
            }
            asked
        })
        .inner
    }

    /// Shows `root` in the path field (after another workspace was opened).
    pub fn show_path(&mut self, root: &Path) {
        self.path_text = root.display().to_string();
    }
}

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Hand a command to the app (open a workspace, the folder dialog).
    App(Command),
}

impl Panel for SettingsUi {
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }
}

impl SettingsUi {
    #[expect(
        clippy::unused_self,
        reason = "every panel's apply is `self.apply(action, cx)` (ARCHITECTURE, \"A panel\")"
    )]
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::App(command) => cx.push(command),
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        ui.label(theme::heading("Settings"));
        ui.add_space(4.0);
        actions.extend(self.workspace_picker_ui(ui).map(Action::App));
        let origin = match data.origin {
            Origin::Flag => "chosen with --workspace or in this window",
            Origin::Env => "from $RELEASE_CONSOLE_WORKSPACE",
            Origin::CurrentDir => "the current directory",
            Origin::Demo => "the built-in demo workspace (local providers, no credentials)",
        };
        // A team's workspace is the bucket; the folder is only this console's copy.
        if let Some(shared) = data.ws.shared() {
            ui.label(theme::muted(format!(
                "Open: {}, the team's workspace in an S3 bucket ({origin})",
                shared.url()
            )));
            ui.label(theme::muted(format!(
                "This console's copy (the log it verified, the state, builds and task logs): \
                 {}; ${} puts it elsewhere",
                data.ws.root().display(),
                crate::workspace::shared::CACHE_ENV
            )));
            ui.label(theme::muted(format!(
                "Acting as: {} on {}",
                data.ws.actor(),
                shared.host()
            )));
        } else {
            ui.label(theme::muted(format!(
                "Open: {} ({origin})",
                data.ws.root().display()
            )));
            ui.label(theme::muted(format!("Acting as: {}", data.ws.actor())));
        }
        keys_line(ui, data);

        ui.add_space(10.0);
        self.tools_ui(ui, data, actions);

        ui.add_space(10.0);
        ui.label(egui::RichText::new("Secrets").strong());
        ui.label(theme::muted(
            "Read from their source (a variable, the keyring, AWS Secrets Manager) when needed; never stored in the workspace or shown.",
        ));
        let calendar = data.rotation.as_ref().ok();
        // Three columns, so the table fits a 1024 px window: what it is for (and when it is
        // needed), where it is read from (and whether it is set here), its rotation.
        egui::Grid::new("secrets")
            .striped(true)
            .num_columns(3)
            .spacing([16.0, 6.0])
            .max_col_width(330.0)
            .show(ui, |ui| {
                ui.strong("Purpose · needed for");
                ui.strong("Source · here");
                ui.strong("Last rotated · schedule");
                ui.end_row();
                let sources = data.ws.config().secret_settings();
                for s in &sources {
                    ui.vertical(|ui| {
                        ui.label(&s.purpose);
                        ui.label(theme::muted(&s.needed_for));
                    });
                    ui.vertical(|ui| {
                        ui.horizontal(|ui| {
                            ui.label(theme::mono(s.source()));
                            match s.variable() {
                                None => {
                                    theme::badge(ui, "FETCHED WHEN USED", theme::MUTED)
                                        .on_hover_text("Read from its store when a task needs it");
                                }
                                Some(var) if std::env::var_os(var).is_some() => {
                                    theme::badge(ui, "SET", theme::OK);
                                }
                                Some(_) if s.in_use => {
                                    theme::badge(ui, "MISSING", theme::WARN);
                                }
                                Some(_) => {
                                    theme::badge(ui, "NOT SET", theme::MUTED);
                                }
                            }
                        });
                        looked_in_ui(ui, data, s.source());
                    });
                    rotation_cell(
                        ui,
                        calendar.and_then(|c| c.iter().find(|e| e.name == s.source())),
                    );
                    ui.end_row();
                }
                // Secrets the console does not read but tracks for rotation ([[rotation]]).
                for e in calendar.into_iter().flatten().filter(|e| {
                    e.expires.is_none() && !sources.iter().any(|s| s.source() == e.name)
                }) {
                    ui.vertical(|ui| {
                        ui.label(format!("Tracked for rotation ({})", e.source));
                        ui.label(theme::muted(e.kind.as_str()));
                    });
                    ui.horizontal(|ui| {
                        ui.label(theme::mono(&e.name));
                        ui.label(theme::muted("not read here"));
                    });
                    rotation_cell(ui, Some(e));
                    ui.end_row();
                }
            });

        ui.add_space(10.0);
        ui.label(egui::RichText::new("Configuration as loaded").strong());
        ui.label(theme::muted(
            data.ws
                .root()
                .join(crate::workspace::CONFIG_FILE)
                .display()
                .to_string(),
        ));
        let mut text = data.ws.config().to_toml();
        ui.add(
            egui::TextEdit::multiline(&mut text)
                .code_editor()
                .interactive(false)
                .desired_width(f32::INFINITY),
        );
    }
}

impl SettingsUi {
    /// The Tools section: each program the console runs here, where it was found (its
    /// configured path, a PATH folder, or nowhere with how to install it), and a field to set
    /// its path (Enter or Save; Clear removes the setting), saved as `[tools]` in the
    /// configuration (audited).
    fn tools_ui(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        ui.label(egui::RichText::new("Tools").strong());
        ui.label(theme::muted(
            "Programs the console runs. A window started from the Finder or the Start menu does \
             not see your shell's PATH: set a program's full path here ([tools] in the \
             configuration).",
        ));
        let shared = data.ws.shared().is_some();
        egui::Grid::new("tools")
            .striped(true)
            .num_columns(3)
            .spacing([16.0, 6.0])
            .max_col_width(300.0)
            .show(ui, |ui| {
                ui.strong("Program · used for");
                ui.strong("Found · where");
                ui.strong("Path");
                ui.end_row();
                for t in &data.tools {
                    ui.vertical(|ui| {
                        ui.label(theme::mono(&t.name));
                        ui.label(theme::muted(t.used_for.join("; ")));
                    });
                    ui.horizontal_wrapped(|ui| {
                        let (text, color) = match (t.configured.is_some(), t.ok()) {
                            (true, true) => ("CONFIGURED", theme::OK),
                            (true, false) => ("BROKEN PATH", theme::BAD),
                            (false, true) => ("ON PATH", theme::OK),
                            (false, false) => ("NOT FOUND", theme::WARN),
                        };
                        theme::badge(ui, text, color);
                        ui.label(t.where_found());
                    });
                    ui.horizontal(|ui| {
                        let text = self
                            .tool_text
                            .entry(t.name.clone())
                            .or_insert_with(|| t.configured.clone().unwrap_or_default());
                        let label = ui.label(format!("Path of {}", t.name));
                        let field = ui
                            .add_enabled(
                                !shared,
                                egui::TextEdit::singleline(text)
                                    .desired_width(170.0)
                                    .hint_text(format!("/full/path/to/{}", t.name)),
                            )
                            .labelled_by(label.id);
                        let entered =
                            field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        let save = ui.add_enabled(!shared, egui::Button::new("Save"));
                        // Only a configured program has a setting to clear.
                        let clear = (!shared && t.configured.is_some()).then(|| {
                            ui.button("Clear")
                                .on_hover_text("Look for it on PATH again")
                        });
                        if entered || save.clicked() {
                            let path = text.trim();
                            actions.push(Action::App(Command::SetToolPath {
                                tool: t.name.clone(),
                                path: (!path.is_empty()).then(|| path.to_owned()),
                            }));
                        }
                        if clear.is_some_and(|c| c.clicked()) {
                            text.clear();
                            actions.push(Action::App(Command::SetToolPath {
                                tool: t.name.clone(),
                                path: None,
                            }));
                        }
                    });
                    ui.end_row();
                }
            });
        if shared {
            ui.label(theme::muted(
                "A team's workspace: its configuration is everyone's, so program paths are not \
                 set here.",
            ));
        }
    }
}

/// Where the secret whose source is `source` was looked for, one muted line per place (never
/// the value).
fn looked_in_ui(ui: &mut egui::Ui, data: &Snapshot, source: &str) {
    let Some(check) = data.secret_checks.iter().find(|c| c.source == source) else {
        return;
    };
    for l in &check.looked {
        let text = format!("{}: {}", l.place, l.answer);
        if l.found {
            ui.label(egui::RichText::new(text).small().color(theme::OK));
        } else {
            ui.label(theme::muted(text).small());
        }
    }
}

/// This console's key: whether its entries are signed, with which key (`keys new`, `keys list`).
fn keys_line(ui: &mut egui::Ui, data: &Snapshot) {
    ui.horizontal(|ui| {
        ui.label(theme::muted("Signing key:"));
        match &data.keys {
            Ok(view) => {
                if view.signs {
                    theme::badge(ui, "SIGNED", theme::OK);
                } else if view.registered.is_some()
                    || matches!(
                        view.people.standing(&view.person),
                        crate::audit::keys::Standing::Revoked(_)
                    )
                {
                    theme::badge(ui, "REFUSED HERE", theme::BAD);
                } else {
                    theme::badge(ui, "UNSIGNED", theme::MUTED);
                }
                let r = ui.label(theme::muted(&view.summary));
                if let Some(path) = &view.local_path {
                    r.on_hover_text(format!("The private key: {}", path.display()));
                }
            }
            Err(e) => {
                ui.label(egui::RichText::new(e).color(theme::BAD));
            }
        }
    });
}

/// When a secret was last rotated (and who says so) and its schedule; red when overdue.
fn rotation_cell(ui: &mut egui::Ui, entry: Option<&crate::rotation::Entry>) {
    let Some(e) = entry else {
        ui.label(theme::muted("not tracked"));
        return;
    };
    let last = e.last_rotated.as_ref().map_or_else(
        || "never recorded".to_owned(),
        |r| format!("{} ({})", crate::local_time(r.at, false), r.by),
    );
    let text = format!("{last} · every {} days", e.every_days);
    let color = match e.state {
        crate::rotation::Due::Overdue => theme::BAD,
        crate::rotation::Due::Soon | crate::rotation::Due::Unknown => theme::WARN,
        crate::rotation::Due::Later => theme::OK,
    };
    let r = ui.label(egui::RichText::new(text).color(color));
    if let Some(p) = &e.problem {
        r.on_hover_text(p);
    }
}
