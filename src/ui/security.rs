//! The Security panel: the selected release's findings by severity and package with their
//! fixed versions, what blocks the release and why, accepting a risk (a dialog that states the
//! expiry and the policy's limit) and revoking an acceptance, and the security gates' badges.
//! Scanner output is imported with "Import findings…" (the file picker) or by dropping the
//! files on the window while the panel is shown, through `findings::import` as `findings
//! import` does, off the UI thread; the panel says what it imported or why it could not.

use std::path::PathBuf;

use jiff::Timestamp;

use super::command::{Command, PickKind, Tab};
use super::panel::{Cx, Panel, Pending};
use super::snapshot::Snapshot;
use super::{theme, widgets};
use crate::findings::{self, Judged, Severity};

/// A risk acceptance being written.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptDialog {
    pub id: String,
    pub package: String,
    /// Only `package`'s finding, not every package with this id.
    pub only_package: bool,
    pub reason: String,
    /// `YYYY-MM-DD` (the end of that day, UTC) or an RFC 3339 time.
    pub until: String,
}

/// What a click asks for once the frame is drawn.
enum Action {
    Accept(AcceptDialog),
    Revoke {
        id: String,
        package: Option<String>,
    },
    /// Record that a secret was rotated now.
    Rotated(String),
    /// Hand a command to the app (the file dialog, another panel).
    App(Command),
}

/// Security panel state: the open dialog and the change in flight.
#[derive(Debug, Default)]
pub struct SecurityUi {
    pub dialog: Option<AcceptDialog>,
    /// The acceptance or revocation being written; its message for the toast.
    change: Pending<String>,
    /// What that change is about (`security.accept ID PACKAGE`, `security.rotated NAME`...):
    /// its success answers an earlier failure of the same.
    change_topic: String,
    /// Scanner files picked or dropped, waiting for the import to start.
    import_request: Vec<PathBuf>,
    /// The import in flight, and its files.
    import: Pending<findings::Imported>,
    importing: Vec<PathBuf>,
    /// What the last import did, or why it did not (naming the file), shown under the heading.
    pub last_import: Option<Result<findings::Imported, String>>,
}

/// What a toast and the panel say of an import.
const IMPORT_TOPIC: &str = "security.import";

/// The files' names, for a message (`a.json, b.sarif`).
fn file_names(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A path's file name, for a message.
fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// One line on what an import did: how many findings from which scanner, how many block.
fn import_summary(done: &findings::Imported) -> String {
    let files: Vec<String> = done
        .files
        .iter()
        .map(|(file, format, n)| {
            format!("{}: {n} finding(s) from {}", file_name(file), format.name())
        })
        .collect();
    format!(
        "Imported into {}: {}. {} new, {} in all, {} blocking the release.",
        done.version,
        files.join("; "),
        done.new,
        done.total,
        done.blocking
    )
}

fn severity_color(s: Severity) -> egui::Color32 {
    match s {
        Severity::Critical | Severity::High => theme::BAD,
        Severity::Medium => theme::WARN,
        Severity::Low => theme::INFO,
        Severity::Unknown => theme::MUTED,
    }
}

/// The default end of a new acceptance: the end of the day 30 days from now, or of the last day
/// the policy allows when that is sooner.
fn default_until(max_days: u32, now: Timestamp) -> String {
    let latest = now.as_second() + i64::from(max_days) * 86_400;
    let mut date = (now + jiff::SignedDuration::from_hours(24 * 30))
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let end = |d: jiff::civil::Date| {
        d.at(23, 59, 59, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map_or(i64::MAX, |z| z.timestamp().as_second())
    };
    while end(date) > latest {
        match date.yesterday() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    date.to_string()
}

impl AcceptDialog {
    /// The acceptance's end and its length in days, or why that date will not do. The same
    /// rules as `findings accept`; the domain checks them again when it writes.
    pub fn expiry(&self, max_days: u32, now: Timestamp) -> Result<(Timestamp, i64), String> {
        let until = findings::parse_until(&self.until).map_err(|e| e.to_string())?;
        let secs = until.as_second() - now.as_second();
        if secs <= 0 {
            return Err(format!("{} is not in the future.", self.until.trim()));
        }
        let days = secs.div_euclid(86_400);
        if secs > i64::from(max_days) * 86_400 {
            return Err(format!(
                "{} is {days} days away; [findings] max_acceptance_days allows {max_days}.",
                self.until.trim()
            ));
        }
        Ok((until, days))
    }

    /// Why the dialog cannot accept yet (no reason), if it cannot.
    pub fn missing_reason(&self) -> Option<&'static str> {
        self.reason
            .trim()
            .is_empty()
            .then_some("Say why the risk is acceptable: the reason is audited.")
    }
}

impl Panel for SecurityUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        match self.change.poll() {
            Some(Ok(message)) => {
                cx.success_about(&self.change_topic, message);
                cx.push(Command::Reload);
            }
            Some(Err(e)) => cx.error_about(&self.change_topic, e),
            None => {}
        }
        if let Some(result) = self.import.poll() {
            let result = result.map_err(|e| {
                format!(
                    "Cannot import {}: {e}. Nothing was imported.",
                    file_names(&self.importing)
                )
            });
            match &result {
                Ok(done) => {
                    cx.success_about(IMPORT_TOPIC, import_summary(done));
                    cx.push(Command::Reload);
                }
                Err(e) => cx.error_about(IMPORT_TOPIC, e.clone()),
            }
            self.last_import = Some(result);
        }
        if !self.import.is_running() && !self.import_request.is_empty() {
            self.start_import(cx);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }

    fn is_busy(&self) -> bool {
        self.change.is_running() || self.import.is_running() || !self.import_request.is_empty()
    }
}

impl SecurityUi {
    /// Imports `paths` (picked or dropped) into the selected release's findings once the import
    /// before it, if any, is done.
    pub fn request_import(&mut self, paths: Vec<PathBuf>) {
        self.import_request.extend(paths);
    }

    /// Whether an import is waiting or running.
    pub fn is_importing(&self) -> bool {
        self.import.is_running() || !self.import_request.is_empty()
    }

    /// Starts the requested import on the runtime's blocking pool: the CLI's own
    /// `findings::import`, which reads every file before it stores anything and audits the
    /// import before it is stored.
    fn start_import(&mut self, cx: &mut Cx<'_>) {
        let paths = std::mem::take(&mut self.import_request);
        let Some(release) = cx.snapshot.current.as_ref().map(|c| c.release.clone()) else {
            let e = format!(
                "Cannot import {}: there is no release to import into (create one on the \
                 Overview). Nothing was imported.",
                file_names(&paths)
            );
            cx.error_about(IMPORT_TOPIC, e.clone());
            self.last_import = Some(Err(e));
            return;
        };
        let ws = cx.snapshot.ws.clone();
        self.importing.clone_from(&paths);
        cx.fetch_blocking(&mut self.import, move || {
            findings::import(&ws, &release, &paths)
        });
    }

    /// "Import findings…", the hint to drop files, and what the last import did.
    fn import_ui(&self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let running = self.is_importing();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!running, egui::Button::new("Import findings…"))
                .on_hover_text(
                    "Pick Trivy JSON, Grype JSON, SARIF 2.1.0 or `snyk test --json` output; \
                     the format is told by the content. Audited, as `findings import` is.",
                )
                .clicked()
            {
                actions.push(Action::App(Command::Pick(PickKind::FindingsFiles)));
            }
            if running {
                ui.spinner();
                ui.label(format!("Importing {}…", file_names(&self.importing)));
            } else {
                ui.label(theme::muted(
                    "or drop scanner output on the window · CLI: release-console findings \
                     import FILE",
                ));
            }
        });
        if ui.input(|i| !i.raw.hovered_files.is_empty()) {
            ui.colored_label(
                theme::INFO,
                "Drop the files to import them as this release's findings.",
            );
        }
        match &self.last_import {
            Some(Ok(done)) => {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, "IMPORTED", theme::OK);
                    ui.label(format!(
                        "into {}: {} new, {} in all, {} blocking the release",
                        done.version, done.new, done.total, done.blocking
                    ));
                });
                for (file, format, n) in &done.files {
                    ui.label(format!(
                        "{}: {n} finding(s) from {}",
                        file_name(file),
                        format.name()
                    ))
                    .on_hover_text(file);
                }
            }
            Some(Err(e)) => {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, "IMPORT FAILED", theme::BAD);
                    ui.colored_label(theme::BAD, e);
                });
            }
            None => {}
        }
    }

    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        if let Action::App(command) = action {
            cx.push(command);
            return;
        }
        let ws = cx.snapshot.ws.clone();
        let Some(release) = cx.snapshot.current.as_ref().map(|c| c.release.clone()) else {
            return;
        };
        self.change_topic = match &action {
            Action::Accept(d) => format!("security.accept {} {}", d.id, d.package),
            Action::Revoke { id, package } => {
                format!(
                    "security.revoke {id} {}",
                    package.as_deref().unwrap_or_default()
                )
            }
            Action::Rotated(name) => format!("security.rotated {name}"),
            Action::App(_) => return,
        };
        match action {
            Action::Accept(d) => {
                cx.fetch_blocking(&mut self.change, move || {
                    let until = findings::parse_until(&d.until)?;
                    let package = d.only_package.then_some(d.package.as_str());
                    let a = findings::accept(&ws, &release, &d.id, package, &d.reason, until)?;
                    Ok::<_, findings::FindingsError>(format!(
                        "Accepted {} until {}",
                        a.id,
                        crate::local_time(a.until, false)
                    ))
                });
            }
            Action::Rotated(name) => {
                cx.fetch_blocking(&mut self.change, move || {
                    let r = crate::rotation::record(&ws, &name, Timestamp::now(), "")?;
                    Ok::<_, crate::rotation::RotationError>(format!(
                        "Recorded: {name} rotated {} by {}",
                        crate::local_time(r.at, false),
                        r.by
                    ))
                });
            }
            Action::Revoke { id, package } => {
                cx.fetch_blocking(&mut self.change, move || {
                    let n = findings::revoke(&ws, &release, &id, package.as_deref())?;
                    Ok::<_, findings::FindingsError>(format!(
                        "Revoked {n} acceptance(s) of {id}: it blocks again if its severity does"
                    ))
                });
            }
            Action::App(_) => {}
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        let product = &data.ws.config().product.name;
        let Some(view) = &data.current else {
            ui.label(theme::heading("Security"));
            ui.label("No release yet: create one on the Overview.");
            return;
        };
        ui.label(theme::heading(&format!(
            "Security: {product} {}",
            view.release.version
        )));
        let policy = &data.ws.config().findings;
        ui.label(theme::muted(format!(
            "Blocking severities: {} · an acceptance runs at most {} days · scanner suppressions \
             {}",
            policy.block.join(", "),
            policy.max_acceptance_days,
            if policy.scanner_suppressions_accept {
                "count as accepted"
            } else {
                "do not count"
            }
        )));
        self.import_ui(ui, actions);
        ui.add_space(6.0);
        ui.label(egui::RichText::new("Security gates").strong());
        super::widgets::gate_list(
            ui,
            data.gates.iter().filter(|g| {
                g.gate == "findings"
                    || g.gate.starts_with("certificate:")
                    || g.gate == "secret rotation"
            }),
        );
        if ui.link("All gates on the Overview").clicked() {
            actions.push(Action::App(Command::Navigate(Tab::Overview)));
        }
        ui.add_space(8.0);

        let judged = match &data.findings {
            Ok(j) => j,
            Err(e) => {
                ui.colored_label(theme::BAD, format!("Cannot read the findings: {e}"));
                return;
            }
        };
        if judged.is_empty() {
            ui.label(theme::muted(
                "No findings for this release: import Trivy, Grype, SARIF or Snyk output with \
                 \"Import findings…\" or by dropping the files here.",
            ));
        }
        let now = Timestamp::now();
        let busy = self.change.is_running();
        for severity in [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Unknown,
        ] {
            let rows: Vec<&Judged> = judged
                .iter()
                .filter(|j| j.finding.severity == severity)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let blocking = rows.iter().filter(|j| j.blocks.is_some()).count();
            ui.horizontal(|ui| {
                theme::badge(ui, severity.as_str(), severity_color(severity));
                ui.label(format!("{} finding(s), {blocking} blocking", rows.len()));
            });
            egui::Grid::new(("findings", severity.as_str()))
                .num_columns(6)
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    widgets::header_row(
                        ui,
                        &[
                            "Vulnerability",
                            "Package",
                            "Installed",
                            "Fixed in",
                            "State",
                            "",
                        ],
                    );
                    for j in rows {
                        self.row(ui, j, now, busy, policy.max_acceptance_days, actions);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
        }
        self.dialog_ui(ui, policy.max_acceptance_days, now, actions);
        ui.add_space(8.0);
        rotation_ui(ui, &data.rotation, now, busy, actions);
    }

    fn row(
        &mut self,
        ui: &mut egui::Ui,
        j: &Judged,
        now: Timestamp,
        busy: bool,
        max_days: u32,
        actions: &mut Vec<Action>,
    ) {
        let f = &j.finding;
        ui.label(theme::mono(&f.id)).on_hover_text(format!(
            "{}\nfrom {} ({}), first seen {}",
            f.title.as_deref().unwrap_or(""),
            f.scanner,
            f.source_file,
            crate::local_time(f.first_seen, false)
        ));
        ui.label(&f.package);
        ui.label(theme::mono(&f.installed));
        match &f.fixed {
            Some(v) => ui.label(theme::mono(v)),
            None => ui.label(theme::muted("no fix yet")),
        };
        ui.horizontal(|ui| {
            let active = j.acceptance.as_ref().filter(|a| a.until > now);
            if j.blocks.is_some() {
                theme::badge(ui, "BLOCKS", theme::BAD);
                if let Some(a) = &j.acceptance {
                    ui.label(format!(
                        "acceptance expired {}",
                        crate::local_time(a.until, false)
                    ));
                }
            } else if let Some(a) = active {
                theme::badge(ui, "ACCEPTED", theme::OK);
                ui.label(format!(
                    "until {} by {}",
                    crate::local_time(a.until, false),
                    a.by
                ))
                .on_hover_text(&a.reason);
            } else if let Some(why) = &f.suppressed {
                theme::badge(ui, "SUPPRESSED", theme::MUTED);
                ui.label(theme::muted("by the scanner")).on_hover_text(why);
            } else {
                ui.label(theme::muted("does not block"));
            }
        });
        ui.horizontal(|ui| {
            if j.acceptance.is_some()
                && ui
                    .add_enabled(
                        !busy,
                        egui::Button::new(format!("Revoke {} in {}", f.id, f.package)),
                    )
                    .clicked()
            {
                let package = j.acceptance.as_ref().and_then(|a| a.package.clone());
                actions.push(Action::Revoke {
                    id: f.id.clone(),
                    package,
                });
            }
            let accepted = j.acceptance.as_ref().is_some_and(|a| a.until > now);
            if !accepted
                && j.blocks.is_some()
                && ui
                    .add_enabled(
                        !busy,
                        egui::Button::new(format!("Accept {} in {}", f.id, f.package)),
                    )
                    .clicked()
            {
                self.dialog = Some(AcceptDialog {
                    id: f.id.clone(),
                    package: f.package.clone(),
                    only_package: true,
                    reason: String::new(),
                    until: default_until(max_days, now),
                });
            }
        });
    }

    fn dialog_ui(
        &mut self,
        ui: &mut egui::Ui,
        max_days: u32,
        now: Timestamp,
        actions: &mut Vec<Action>,
    ) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("accept-risk")).show(ui.ctx(), |ui| {
            ui.set_width(460.0);
            ui.label(theme::heading(&format!("Accept the risk of {}", d.id)));
            ui.checkbox(&mut d.only_package, format!("Only in {}", d.package));
            ui.horizontal(|ui| {
                let l = ui.label("Reason");
                ui.add(
                    egui::TextEdit::singleline(&mut d.reason)
                        .hint_text("why it is acceptable, for the audit log")
                        .desired_width(320.0),
                )
                .labelled_by(l.id);
            });
            ui.horizontal(|ui| {
                let l = ui.label("Until");
                ui.add(egui::TextEdit::singleline(&mut d.until).desired_width(120.0))
                    .labelled_by(l.id);
                ui.label(theme::muted("YYYY-MM-DD, the end of that day (UTC)"));
            });
            let expiry = d.expiry(max_days, now);
            match &expiry {
                Ok((until, days)) => ui.label(format!(
                    "The acceptance expires {} (in {days} days); then the finding blocks again. \
                     The policy allows at most {max_days} days.",
                    crate::local_time(*until, false)
                )),
                Err(e) => ui.colored_label(theme::WARN, e),
            };
            let missing = d.missing_reason();
            if let Some(why) = missing {
                ui.colored_label(theme::WARN, why);
            }
            let checked = expiry.is_ok() && missing.is_none();
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(checked, egui::Button::new("Accept risk"))
                    .clicked()
                {
                    actions.push(Action::Accept(d.clone()));
                    close = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if close || modal.should_close() {
            self.dialog = None;
        }
    }
}

/// The rotation calendar: the counts the rotation gate says, a strip of the next 90 days with
/// each due secret on it (or, when none is, why in words) and what is not on it, then every
/// tracked secret with its state, last rotation and due date.
fn rotation_ui(
    ui: &mut egui::Ui,
    calendar: &Result<Vec<crate::rotation::Entry>, String>,
    now: Timestamp,
    busy: bool,
    actions: &mut Vec<Action>,
) {
    let window = super::snapshot::ROTATION_WINDOW_DAYS;
    ui.label(egui::RichText::new(format!("Rotation calendar (next {window} days)")).strong());
    let entries = match calendar {
        Ok(e) => e,
        Err(e) => {
            ui.colored_label(
                theme::BAD,
                format!("Cannot read the rotation calendar: {e}"),
            );
            return;
        }
    };
    if entries.is_empty() {
        ui.label(theme::muted(
            "No secrets tracked: add [[rotation]] entries to release-console.toml.",
        ));
        return;
    }
    ui.label(counts_line(&crate::rotation::Counts::of(entries), window));
    let days_until = |t: Timestamp| (t.as_second() - now.as_second()) as f64 / 86_400.0;
    let on_strip: Vec<(f64, &crate::rotation::Entry)> = entries
        .iter()
        .filter_map(|e| e.due.map(|d| (days_until(d).max(0.0), e)))
        .filter(|(d, _)| *d <= f64::from(window))
        .collect();
    let off = off_strip(entries, on_strip.len(), window);
    if on_strip.is_empty() {
        // An empty strip says nothing: say why in words instead.
        ui.colored_label(theme::WARN, off.unwrap_or_default());
    } else {
        strip_ui(ui, &on_strip, window);
        if let Some(off) = off {
            ui.label(theme::muted(off));
        }
    }
    list_ui(ui, entries, busy, actions);
}

/// How many tracked secrets stand where, in the words (and counts) of the rotation gate.
fn counts_line(c: &crate::rotation::Counts, window: u32) -> String {
    let mut parts = vec![format!("{} tracked", c.tracked)];
    for (n, what) in [
        (c.overdue, "overdue".to_owned()),
        (c.soon, format!("due within {window} days")),
        (c.later, "due later".to_owned()),
        (c.unknown, "of unknown age (not checked)".to_owned()),
        (
            c.unreadable,
            "not readable from AWS Secrets Manager".to_owned(),
        ),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(" · ")
}

/// What the strip does not show and why (no due date, or due after the window), or `None`
/// when every secret is on it.
fn off_strip(entries: &[crate::rotation::Entry], shown: usize, window: u32) -> Option<String> {
    use crate::rotation::Due;
    let unknown = entries.iter().filter(|e| e.state == Due::Unknown).count();
    let later: Vec<&crate::rotation::Entry> =
        entries.iter().filter(|e| e.state == Due::Later).collect();
    let mut why = Vec::new();
    if unknown > 0 {
        why.push(format!(
            "{unknown} of unknown age {} no due date (never recorded as rotated: press \
             \"Rotated now\" once it is)",
            if unknown == 1 { "has" } else { "have" }
        ));
    }
    if let Some(first) = later
        .iter()
        .filter_map(|e| e.due.map(|d| (d, e)))
        .min_by_key(|x| x.0)
    {
        why.push(format!(
            "{} due after the next {window} days (the first: {} on {})",
            later.len(),
            first.1.name,
            crate::local_time(first.0, false)
        ));
    }
    if why.is_empty() {
        return None;
    }
    Some(if shown == 0 {
        format!(
            "Nothing falls due in the next {window} days, so the calendar is empty: {}.",
            why.join("; ")
        )
    } else {
        format!("Not on the calendar: {}.", why.join("; "))
    })
}

/// The strip of the next `window` days with each secret due in them.
fn strip_ui(ui: &mut egui::Ui, on_strip: &[(f64, &crate::rotation::Entry)], window: u32) {
    use crate::rotation::Due;
    egui_plot::Plot::new("rotation-strip")
        .height(90.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .show_y(false)
        .show_axes([true, false])
        .include_x(0.0)
        .include_x(f64::from(window))
        .include_y(-0.5)
        .include_y(on_strip.len() as f64)
        .x_axis_label("days from today")
        .show(ui, |p| {
            for (i, (days, e)) in on_strip.iter().enumerate() {
                let color = if e.state == Due::Overdue {
                    theme::BAD
                } else {
                    theme::WARN
                };
                let y = i as f64;
                p.points(
                    egui_plot::Points::new(e.name.clone(), vec![[*days, y]])
                        .radius(4.0)
                        .color(color),
                );
                // A name in the right half goes left of its point, so the strip's end does
                // not cut it.
                let (x, anchor) = if *days > f64::from(window) / 2.0 {
                    (*days - 1.0, egui::Align2::RIGHT_CENTER)
                } else {
                    (*days + 1.0, egui::Align2::LEFT_CENTER)
                };
                p.text(
                    egui_plot::Text::new(
                        e.name.clone(),
                        egui_plot::PlotPoint::new(x, y),
                        egui::RichText::new(&e.name).color(color),
                    )
                    .anchor(anchor),
                );
            }
        });
}

/// Every tracked secret with its state, last rotation and due date, and "Rotated now".
fn list_ui(
    ui: &mut egui::Ui,
    entries: &[crate::rotation::Entry],
    busy: bool,
    actions: &mut Vec<Action>,
) {
    use crate::rotation::Due;
    egui::Grid::new("rotation-list")
        .num_columns(5)
        .striped(true)
        .spacing([14.0, 4.0])
        .show(ui, |ui| {
            widgets::header_row(ui, &["", "Secret", "Schedule", "Last rotated", "Due"]);
            for e in entries {
                match e.state {
                    Due::Overdue => theme::badge(ui, "OVERDUE", theme::BAD),
                    Due::Soon => theme::badge(ui, "DUE SOON", theme::WARN),
                    Due::Later => theme::badge(ui, "OK", theme::OK),
                    Due::Unknown => theme::badge(ui, "UNKNOWN AGE", theme::WARN),
                };
                ui.label(theme::mono(&e.name)).on_hover_text(&e.source);
                ui.label(format!("{}, every {} days", e.kind.as_str(), e.every_days));
                let last = match (&e.last_rotated, e.expires) {
                    (Some(r), _) => {
                        let resp =
                            ui.label(format!("{} by {}", crate::local_time(r.at, false), r.by));
                        if r.note.is_empty() {
                            resp
                        } else {
                            resp.on_hover_text(&r.note)
                        }
                    }
                    (None, Some(x)) => ui.label(format!("expires {}", crate::local_time(x, false))),
                    (None, None) => ui.label(theme::muted("never recorded")),
                };
                if let Some(p) = &e.problem {
                    last.on_hover_text(p);
                }
                ui.horizontal(|ui| {
                    if let Some(d) = e.due {
                        ui.label(crate::local_time(d, false));
                    }
                    if e.expires.is_none()
                        && ui
                            .add_enabled(!busy, egui::Button::new("Rotated now"))
                            .on_hover_text(format!(
                                "Record that {} was rotated now (audited)",
                                e.name
                            ))
                            .clicked()
                    {
                        actions.push(Action::Rotated(e.name.clone()));
                    }
                });
                ui.end_row();
            }
        });
}
