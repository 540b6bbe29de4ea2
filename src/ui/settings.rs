//! The Settings panel: the workspace folder, the programs the console runs (where each was
//! found, and a field to set its path), where each secret is looked for (variable names and
//! keyring entries, never values), and the configuration as loaded.

use std::path::Path;

use super::command::{Command, PickKind};
use super::panel::{Cx, Panel};
use super::snapshot::Snapshot;
use super::theme;
use crate::workspace::Origin;
use crate::workspace::Signing;
use crate::workspace::secrets::SecretState;

/// Settings panel state: the workspace path being typed, and the program paths being typed
/// (by program name) in the Tools section.
#[derive(Debug, Default)]
pub struct SettingsUi {
    pub path_text: String,
    pub tool_text: std::collections::BTreeMap<String, String>,
    /// Why the path typed for a program (by name) was not saved, shown under its field.
    pub tool_problem: std::collections::BTreeMap<String, String>,
}

impl SettingsUi {
    pub fn new(root: &Path) -> Self {
        Self {
            path_text: root.display().to_string(),
            tool_text: std::collections::BTreeMap::new(),
            tool_problem: std::collections::BTreeMap::new(),
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
                        ui.set_max_width(330.0);
                        let check = data.secret_checks.iter().find(|c| c.source == s.source());
                        ui.horizontal(|ui| {
                            ui.label(theme::mono(s.source()));
                            // The state `doctor` says too.
                            if let Some(c) = check {
                                let state = c.state();
                                let color = match state {
                                    SecretState::Set => theme::OK,
                                    SecretState::Missing => theme::WARN,
                                    SecretState::FetchedWhenUsed | SecretState::NotSet => {
                                        theme::MUTED
                                    }
                                };
                                let badge = theme::badge(ui, state.as_str(), color);
                                if state == SecretState::FetchedWhenUsed {
                                    badge.on_hover_text("Read from its store when a task needs it");
                                }
                            }
                        });
                        if let Some(c) = check {
                            looked_in_ui(ui, c);
                        }
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
        // Fixed column widths: every row's field starts at the same x, and a long "where" or
        // refusal wraps inside its column instead of running past the row.
        egui::Grid::new("tools")
            .striped(true)
            .num_columns(3)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                for (title, width) in [
                    ("Program · used for", TOOL_COL_W),
                    ("Found · where", WHERE_COL_W),
                    ("Path", PATH_COL_W),
                ] {
                    ui.allocate_ui(egui::vec2(width, 0.0), |ui| {
                        ui.set_width(width);
                        ui.strong(title);
                    });
                }
                ui.end_row();
                for t in &data.tools {
                    ui.vertical(|ui| {
                        ui.set_width(TOOL_COL_W);
                        ui.label(theme::mono(&t.name));
                        ui.add(egui::Label::new(theme::muted(t.used_for.join("; "))).wrap());
                    });
                    ui.vertical(|ui| {
                        ui.set_width(WHERE_COL_W);
                        let color = match t.state() {
                            "CONFIGURED" | "ON PATH" => theme::OK,
                            "BROKEN PATH" => theme::BAD,
                            _ => theme::WARN,
                        };
                        theme::badge(ui, t.state(), color);
                        ui.add(egui::Label::new(t.where_found()).wrap());
                    });
                    ui.vertical(|ui| {
                        ui.set_width(PATH_COL_W);
                        self.tool_path_ui(ui, t, shared, actions);
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

impl SettingsUi {
    /// A program's path field (Enter or Save saves it; Clear removes the setting), and below
    /// it, in full, why a path was refused: the text typed stays in the field to correct.
    fn tool_path_ui(
        &mut self,
        ui: &mut egui::Ui,
        t: &crate::pipeline::tools::ToolCheck,
        shared: bool,
        actions: &mut Vec<Action>,
    ) {
        ui.horizontal(|ui| {
            let text = self
                .tool_text
                .entry(t.name.clone())
                .or_insert_with(|| t.configured.clone().unwrap_or_default());
            let field = ui
                .add_enabled(
                    !shared,
                    egui::TextEdit::singleline(text)
                        .desired_width(TOOL_FIELD_W)
                        .hint_text(format!("/full/path/to/{}", t.name)),
                )
                .accessible_name(format!("Path of {}", t.name));
            // A long path is cut in the field: the whole of it on hover.
            let field = if text.is_empty() {
                field
            } else {
                field.on_hover_text(text.as_str())
            };
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let save = ui.add_enabled(!shared, egui::Button::new("Save"));
            // Only a configured program has a setting to clear.
            let clear = (!shared && t.configured.is_some()).then(|| {
                ui.button("Clear")
                    .on_hover_text("Look for it on PATH again")
            });
            if entered || save.clicked() {
                let path = text.trim();
                // The workspace's own rule, asked before the change: a refusal is said here.
                if let Some(problem) = (!path.is_empty())
                    .then(|| crate::workspace::config::tools::problem(&t.name, path))
                    .flatten()
                {
                    self.tool_problem.insert(t.name.clone(), problem);
                } else {
                    self.tool_problem.remove(&t.name);
                    actions.push(Action::App(Command::SetToolPath {
                        tool: t.name.clone(),
                        path: (!path.is_empty()).then(|| path.to_owned()),
                    }));
                }
            }
            if clear.is_some_and(|c| c.clicked()) {
                text.clear();
                self.tool_problem.remove(&t.name);
                actions.push(Action::App(Command::SetToolPath {
                    tool: t.name.clone(),
                    path: None,
                }));
            }
        });
        if let Some(problem) = self.tool_problem.get(&t.name) {
            ui.add(
                egui::Label::new(
                    egui::RichText::new(format!("Not saved: {problem}")).color(theme::BAD),
                )
                .wrap(),
            );
        }
    }
}

/// The Tools table's column widths: with the navigation they fit a 1024 px window.
const TOOL_COL_W: f32 = 190.0;
const WHERE_COL_W: f32 = 290.0;
const PATH_COL_W: f32 = 360.0;
/// The path field's width: with Save and Clear it fills [`PATH_COL_W`].
const TOOL_FIELD_W: f32 = 220.0;

/// Where a secret was looked for, one line per place in the body size (never the value), the
/// place muted and what it holds after it (green where it is); a long line wraps in the column.
fn looked_in_ui(ui: &mut egui::Ui, check: &crate::workspace::secrets::SecretCheck) {
    let font = egui::TextStyle::Body.resolve(ui.style());
    for l in &check.looked {
        let mut job = egui::text::LayoutJob::default();
        job.append(
            &format!("{}: ", l.place),
            0.0,
            egui::TextFormat::simple(font.clone(), theme::MUTED),
        );
        job.append(
            &l.answer,
            0.0,
            egui::TextFormat::simple(font.clone(), if l.found { theme::OK } else { theme::MUTED }),
        );
        ui.add(egui::Label::new(job).wrap());
    }
}

/// This console's key: whether its entries are signed, with which key (`keys new`, `keys list`);
/// the state and fingerprint `doctor` says too.
fn keys_line(ui: &mut egui::Ui, data: &Snapshot) {
    ui.horizontal_wrapped(|ui| {
        ui.label(theme::muted("Signing key:"));
        match &data.keys {
            Ok(view) => {
                let signing = view.signing();
                let color = match signing {
                    Signing::Signed => theme::OK,
                    Signing::Refused => theme::BAD,
                    Signing::Unsigned => theme::MUTED,
                };
                theme::badge(ui, signing.as_str(), color);
                let font = egui::TextStyle::Body.resolve(ui.style());
                let r = ui.label(code_spans(&view.summary, view.fingerprint(), &font));
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

/// `text` with its `code` spans (and the key's fingerprint) in monospace, the backticks
/// dropped: a message written for the terminal, shown in the window.
fn code_spans(text: &str, key: Option<&str>, font: &egui::FontId) -> egui::text::LayoutJob {
    let mut job = egui::text::LayoutJob::default();
    let plain = egui::TextFormat::simple(font.clone(), theme::MUTED);
    // The placeholder colour is the window's text colour: readable, set apart from the muted.
    let code = egui::TextFormat::simple(
        egui::FontId::monospace(font.size),
        egui::Color32::PLACEHOLDER,
    );
    let key = key.filter(|k| !k.is_empty());
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            job.append(part, 0.0, code.clone());
            continue;
        }
        let mut rest = part;
        while let Some((k, at)) = key.and_then(|k| rest.find(k).map(|at| (k, at))) {
            job.append(&rest[..at], 0.0, plain.clone());
            job.append(k, 0.0, code.clone());
            rest = &rest[at + k.len()..];
        }
        job.append(rest, 0.0, plain.clone());
    }
    job
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
