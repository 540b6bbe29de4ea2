//! The window's frame: header with the release picker, navigation, task tray, the selected
//! panel and toasts. Drawing only: what is clicked comes back as commands.

use super::ConsoleApp;
use crate::ui::command::{Command, Tab};
use crate::ui::panel::Cx;
use crate::ui::theme;
use crate::workspace::Origin;

impl ConsoleApp {
    /// Draws one frame and returns what was asked for.
    pub(super) fn draw(&mut self, ui: &mut egui::Ui) -> Vec<Command> {
        let mut commands = Vec::new();
        self.header_ui(ui, &mut commands);

        egui::Panel::left("nav")
            .resizable(false)
            .exact_size(150.0)
            .show(ui, |ui| {
                ui.add_space(6.0);
                for tab in Tab::ALL {
                    let selected = self.tab == tab;
                    let button = egui::Button::selectable(selected, tab.label())
                        .min_size(egui::vec2(ui.available_width(), 28.0));
                    if ui.add(button).clicked() {
                        commands.push(Command::Navigate(tab));
                    }
                }
            });

        egui::Panel::bottom("tray")
            .resizable(true)
            .default_size(220.0)
            .min_size(80.0)
            .show(ui, |ui| {
                crate::ui::widgets::resize_grip(ui, crate::ui::widgets::Edge::Top);
                let tasks = self.runner.tasks();
                self.tray.ui(ui, &tasks, &mut commands);
            });

        let central = egui::CentralPanel::default().show(ui, |ui| {
            if let Some(err) = &self.load_error {
                ui.label(
                    egui::RichText::new(format!("Cannot open the workspace: {err}"))
                        .color(theme::BAD),
                );
                if self.root.to_str().is_some_and(|r| r.starts_with("s3://")) {
                    ui.label(theme::muted(s3_access_hint()));
                }
                ui.add_space(8.0);
                commands.extend(self.panels.settings.workspace_picker_ui(ui));
                return;
            }
            let Some(data) = &self.data else {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading workspace…");
                });
                return;
            };
            let mut cx = Cx::new(data, &self.runner, &mut commands, &self.ctx);
            let panel = self.panels.get_mut(self.tab);
            // Each panel scrolls on its own: one scrolled far down does not open the next one
            // in its middle.
            egui::ScrollArea::vertical()
                .id_salt(("panel", self.tab.label()))
                .auto_shrink(false)
                .show(ui, |ui| panel.ui(ui, &mut cx));
        });

        // Successes float in the panel's bottom-right corner for a few seconds; errors are
        // behind the header's counter.
        self.toasts.show(ui.ctx(), central.response.rect);
        commands
    }

    fn header_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
        egui::Panel::top("header").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(theme::heading("Release console"));
                if let Some(d) = &self.data {
                    ui.separator();
                    ui.label(egui::RichText::new(&d.ws.config().product.name).strong());
                    if let Some(c) = &d.current {
                        egui::ComboBox::from_id_salt("release-picker")
                            .selected_text(format!("{}", c.release.version))
                            .show_ui(ui, |ui| {
                                for r in d.releases.iter().rev() {
                                    let selected = r.version == c.release.version;
                                    if ui
                                        .selectable_label(selected, r.version.to_string())
                                        .clicked()
                                        && !selected
                                    {
                                        commands
                                            .push(Command::SelectRelease(r.version.to_string()));
                                    }
                                }
                            })
                            .response
                            .accessible_name("Release");
                    }
                    if let Some(shared) = d.ws.shared() {
                        match shared.offline() {
                            Some(why) => {
                                theme::badge(ui, "READ-ONLY", theme::WARN).on_hover_text(format!(
                                    "{}: {why}. This window shows this console's copy and \
                                     refuses changes until the bucket answers again (tried \
                                     every {}).",
                                    shared.url(),
                                    crate::human_duration(super::handling::OFFLINE_RETRY_EVERY)
                                ));
                            }
                            None => {
                                theme::badge(ui, "SHARED", theme::INFO).on_hover_text(format!(
                                    "A team's workspace in an S3 bucket: {}; others' changes \
                                     appear within seconds. This console's copy: {}",
                                    shared.url(),
                                    d.ws.root().display()
                                ));
                            }
                        }
                        let url = shared.url().to_string();
                        ui.label(theme::muted(shorten(&url, URL_SHOWN)))
                            .on_hover_text(&url);
                        if let Some(e) = &self.sync_error {
                            sync_badge(ui, e, &url);
                        }
                        if let Ok(keys) = &d.keys
                            && keys.signing() == crate::workspace::Signing::Refused
                        {
                            theme::badge(
                                ui,
                                &format!(
                                    "NO KEY for {} here: changes will be refused",
                                    keys.person
                                ),
                                theme::BAD,
                            )
                            .on_hover_text(format!(
                                "{}. To change this workspace from this machine, copy {}'s \
                                 private key here ({}), or replace it with `release-console \
                                 keys new --replace` where it is; `release-console keys list` \
                                 shows the registered keys.",
                                keys.summary,
                                keys.person,
                                crate::audit::keys::keys_dir().map_or_else(
                                    |e| e.to_string(),
                                    |dir| crate::audit::keys::key_file(&dir, &keys.person)
                                        .display()
                                        .to_string()
                                ),
                            ));
                        }
                    }
                    if d.origin == Origin::Demo {
                        theme::badge(ui, "DEMO WORKSPACE", theme::INFO).on_hover_text(format!(
                            "Local providers only: {}",
                            d.ws.root().display()
                        ));
                    }
                }
                if self.is_busy() {
                    ui.spinner();
                }
                // The error counter at the right end of the header, over no panel.
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    self.toasts.indicator(ui);
                });
            });
        });
    }
}

/// The most characters of a bucket's URL the header shows (all of it on hover).
const URL_SHOWN: usize = 40;

/// `text` cut to at most `max` characters, its middle left out (`s3://bucket/…/prefix`): the
/// bucket and the prefix's end are what tell two workspaces apart.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_owned();
    }
    let head = max / 2;
    let tail = max.saturating_sub(head + 1);
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// The header's state of a poll that failed: a log refused at an entry is red (waiting does not
/// mend it: the entry must go), a bucket that does not answer amber.
fn sync_badge(ui: &mut egui::Ui, e: &super::SyncError, url: &str) {
    match e.refused_at {
        Some(seq) => {
            theme::badge(ui, &format!("LOG REFUSED at #{seq}"), theme::BAD).on_hover_text(format!(
                "{}\n\nThis console keeps the log it verified, up to entry #{}, and shows \
                     nothing of the bucket's from #{seq} on: others' changes do not appear, \
                     and changes made here are refused. What to do: run \
                     `release-console workspace verify` to see every refused entry, then have \
                     the bucket's admin delete the refused entry's object \
                     ({url}/log/{seq:012}.json; with versioning, restore its earlier version). \
                     The window reads the log again by itself every {}.",
                e.message,
                seq.saturating_sub(1),
                crate::human_duration(super::POLL_EVERY)
            ));
        }
        None => {
            theme::badge(ui, "NOT SYNCING", theme::WARN).on_hover_text(format!(
                "Others' changes cannot be read: {}. Tried again every {}; a change made now \
                 may be refused.",
                e.message,
                crate::human_duration(super::POLL_EVERY)
            ));
        }
    }
}

/// How a shared workspace's bucket is reached, and what of it this process has: for the load
/// screen of an `s3://` workspace that could not be opened (secrets said only set or not).
fn s3_access_hint() -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let set = |name: &str| {
        if var(name).is_some() {
            format!("{name} set")
        } else {
            format!("{name} not set")
        }
    };
    let shown = |name: &str| match var(name) {
        Some(v) => format!("{name}={v}"),
        None => format!("{name} not set"),
    };
    format!(
        "The bucket is reached with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the \
         $AWS_PROFILE profile of ~/.aws/credentials), AWS_REGION, and AWS_ENDPOINT_URL_S3 for a \
         server that is not AWS. Here: {}, {}, {}, {}, {}. A workspace is created in a bucket \
         with `release-console init s3://BUCKET/PREFIX`.",
        set("AWS_ACCESS_KEY_ID"),
        set("AWS_SECRET_ACCESS_KEY"),
        shown("AWS_PROFILE"),
        shown("AWS_REGION"),
        if var("AWS_ENDPOINT_URL_S3").is_none() && var("AWS_ENDPOINT_URL").is_some() {
            shown("AWS_ENDPOINT_URL")
        } else {
            shown("AWS_ENDPOINT_URL_S3")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn a_long_url_keeps_its_bucket_and_its_end() {
        assert_eq!(shorten("s3://walk/console", 40), "s3://walk/console");
        let long = "s3://release-team-bucket/products/wiretuner/staging-workspace";
        let short = shorten(long, 40);
        assert_eq!(short.chars().count(), 40, "{short}");
        assert!(short.starts_with("s3://release-team-bu"), "{short}");
        assert!(short.ends_with("staging-workspace"), "{short}");
        assert!(short.contains('…'), "{short}");
    }
}
