//! The Verify panel: choose artifacts, run the verify task, and read one big verdict, a table
//! of per-artifact verdicts, and the details of the selected artifact.

use std::path::PathBuf;

use egui::text::LayoutJob;
use egui_extras::{Column, TableBuilder};

use super::command::{Command, PickKind};
use super::panel::{Cx, Finished, Panel, Pending};
use super::snapshot::Snapshot;
use super::{theme, widgets};
use crate::runner::TaskId;
use crate::verify::{
    self, Artifact, ChecksumVerdict, Overall, Report, ReportFormat, ReportSlot, SignatureVerdict,
};

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Hand a command to the app (the file or folder dialog).
    App(Command),
    UseRelease(PathBuf),
    Clear,
    Remove(usize),
    Run,
    Export(ReportFormat),
}

/// Verify panel state.
#[derive(Debug, Default)]
pub struct VerifyUi {
    /// Files and folders to verify.
    pub paths: Vec<PathBuf>,
    /// The running (or last) verify task.
    pub task: Option<TaskId>,
    /// Where the task leaves its report.
    pub slot: ReportSlot,
    pub report: Option<Report>,
    /// Index into the report's artifacts.
    pub selected: Option<usize>,
    /// Another panel asked for a verification of the paths it handed over.
    run_requested: bool,
    /// The report being exported.
    export: Pending<PathBuf>,
    /// When the shown report's run started, if it verified the selected release's own
    /// artifacts folder (so the files changing after it makes it stale).
    of_release_since: Option<jiff::Timestamp>,
    /// The release whose artifacts folder the report's run verified: with another release
    /// selected, the report is not shown (nor exported into that release's folder), that
    /// release's last verification is.
    pub report_of: Option<semver::Version>,
    /// Why the last run ended without a report (it failed or was cancelled): said in the
    /// panel, not left as "Verifying…".
    pub failed: Option<String>,
}

fn checksum_color(v: ChecksumVerdict) -> egui::Color32 {
    match v {
        ChecksumVerdict::Ok => theme::OK,
        ChecksumVerdict::Mismatch | ChecksumVerdict::Missing => theme::BAD,
        ChecksumVerdict::Unlisted | ChecksumVerdict::NotListedNoSums => theme::WARN,
    }
}

fn checksum_help(v: ChecksumVerdict) -> &'static str {
    match v {
        ChecksumVerdict::Ok => "The file's SHA-256 equals the one in SHA256SUMS.",
        ChecksumVerdict::Mismatch => {
            "The file's bytes differ from what SHA256SUMS records: do not publish it."
        }
        ChecksumVerdict::Missing => "SHA256SUMS lists this file, but it is not on disk.",
        ChecksumVerdict::Unlisted => "The file is on disk but SHA256SUMS does not list it.",
        ChecksumVerdict::NotListedNoSums => "There is no SHA256SUMS to check this file against.",
    }
}

fn signature_color(v: SignatureVerdict) -> egui::Color32 {
    match v {
        SignatureVerdict::Valid => theme::OK,
        SignatureVerdict::UnverifiableHere => theme::WARN,
        SignatureVerdict::NotApplicable => theme::MUTED,
        _ => theme::BAD,
    }
}

/// What a signature verdict means. A valid one says no more than that: what was checked for
/// it (the chain, a timestamp when there was one) is the verifier's own detail, shown with it.
fn signature_help(v: SignatureVerdict) -> &'static str {
    match v {
        SignatureVerdict::Valid => "Signed by the expected publisher. Checked:",
        SignatureVerdict::Invalid => {
            "The signature does not match the file: it was modified after signing."
        }
        SignatureVerdict::Unsigned => "The file carries no signature.",
        SignatureVerdict::Untrusted => {
            "Signed, but the certificate chain (or timestamp) is not trusted."
        }
        SignatureVerdict::IdentityMismatch => {
            "Validly signed, but by someone other than the pinned identity."
        }
        SignatureVerdict::UnverifiableHere => "This host cannot verify this kind of signature.",
        SignatureVerdict::NotApplicable => "This file type is not signed.",
    }
}

/// The signature badge's tooltip: what the verdict means, then the verifier's own detail, which
/// lists what it checked (a timestamp only when there was one): nothing else is claimed.
fn signature_tooltip(v: SignatureVerdict, detail: &str) -> String {
    format!("{}\n{detail}", signature_help(v))
}

/// Expected and actual hashes with the first differing hex digit onwards highlighted.
pub fn hash_diff_job(expected: &str, actual: &str, font: egui::FontId) -> LayoutJob {
    let mut job = LayoutJob::default();
    let at = verify::first_difference(expected, actual).unwrap_or(expected.len());
    let plain = egui::TextFormat {
        font_id: font.clone(),
        color: theme::MUTED,
        ..Default::default()
    };
    let hot = egui::TextFormat {
        font_id: font,
        color: theme::BAD,
        background: theme::BAD.gamma_multiply(0.2),
        ..Default::default()
    };
    for (label, hash) in [("expected ", expected), ("\nactual   ", actual)] {
        job.append(label, 0.0, plain.clone());
        let cut = at.min(hash.len());
        job.append(&hash[..cut], 0.0, plain.clone());
        job.append(&hash[cut..], 0.0, hot.clone());
    }
    job
}

impl VerifyUi {
    /// Adds paths to verify (after what is there, or instead of it with `replace`).
    pub fn add_paths(&mut self, paths: Vec<PathBuf>, replace: bool) {
        if replace {
            self.paths.clear();
        }
        for p in paths {
            if !self.paths.contains(&p) {
                self.paths.push(p);
            }
        }
    }

    /// Runs the verification of the current paths at the next frame.
    pub fn request_run(&mut self) {
        self.run_requested = true;
    }

    /// Takes the report the task left behind.
    fn collect(&mut self) {
        if let Ok(mut slot) = self.slot.lock()
            && let Some(r) = slot.take()
        {
            self.selected = r.artifacts.iter().position(|a| !a.is_green());
            self.report = Some(r);
        }
    }

    /// Starts the verify task on the current paths, pinned to the workspace's identity.
    fn start(&mut self, cx: &mut Cx<'_>) {
        if self.paths.is_empty() {
            cx.error("Add artifacts first: drop files, pick them, or use the release's artifacts");
            return;
        }
        let ws = cx.snapshot.ws.clone();
        let release = cx.snapshot.current.as_ref().map(|c| c.release.clone());
        let opts = verify::Options {
            paths: self.paths.clone(),
            expected: verify::Expected::from_workspace(&ws),
            ..Default::default()
        };
        let of_release = release
            .as_ref()
            .is_some_and(|r| verify::release::is_of_release(&ws, r, &opts));
        if let Some((id, slot)) =
            cx.start_with(|runner| verify::start(runner, Some(ws), release.as_ref(), opts))
        {
            self.of_release_since = of_release.then(jiff::Timestamp::now);
            self.report_of = release.filter(|_| of_release).map(|r| r.version.clone());
            self.task = Some(id);
            self.slot = slot;
            self.report = None;
            self.failed = None;
        }
    }

    /// Writes the report into the release folder (or the workspace's, without a release).
    fn export(&mut self, cx: &Cx<'_>, format: ReportFormat) {
        let Some(report) = self.report.clone() else {
            return;
        };
        let data = cx.snapshot;
        let dir = match &data.current {
            Some(c) => data.ws.release_dir(&c.release.version),
            None => data.ws.root().to_owned(),
        };
        cx.fetch_blocking(&mut self.export, move || report.export(&dir, format));
    }
}

impl Panel for VerifyUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        match self.export.poll() {
            Some(Ok(path)) => {
                cx.success_about("verify.export", format!("Wrote {}", path.display()));
            }
            Some(Err(e)) => cx.error_about("verify.export", e),
            None => {}
        }
        if std::mem::take(&mut self.run_requested) {
            self.start(cx);
        }
    }

    fn on_task_finished(&mut self, task: &Finished, _commands: &mut Vec<Command>) {
        if self.task == Some(task.info.id) {
            self.collect();
            if self.report.is_none() {
                // No report: the run failed (or was cancelled) before writing one.
                self.task = None;
                self.failed = Some(format!(
                    "{}: {}",
                    task.state.as_str().to_lowercase(),
                    task.message
                ));
            }
        }
    }

    fn is_busy(&self) -> bool {
        self.export.is_running()
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }
}

impl VerifyUi {
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::App(command) => cx.push(command),
            Action::UseRelease(dir) => self.paths = vec![dir],
            Action::Clear => self.paths.clear(),
            Action::Remove(i) => {
                if i < self.paths.len() {
                    self.paths.remove(i);
                }
            }
            Action::Run => self.start(cx),
            Action::Export(format) => self.export(cx, format),
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        ui.label(theme::heading("Verify artifacts"));
        ui.label(theme::muted(
            "SHA-256 against SHA256SUMS and signatures against the identity pinned in [signing]. \
             Drop files or folders on the window, or pick them.",
        ));
        ui.horizontal(|ui| {
            if ui.button("Add files…").clicked() {
                actions.push(Action::App(Command::Pick(PickKind::ArtifactFiles)));
            }
            if ui.button("Add folder…").clicked() {
                actions.push(Action::App(Command::Pick(PickKind::ArtifactFolder)));
            }
            if let Some(c) = &data.current
                && ui
                    .button(format!("Use release {} artifacts", c.release.version))
                    .on_hover_text(
                        data.ws
                            .artifacts_dir(&c.release.version)
                            .display()
                            .to_string(),
                    )
                    .clicked()
            {
                actions.push(Action::UseRelease(
                    data.ws.artifacts_dir(&c.release.version),
                ));
            }
            if !self.paths.is_empty() && ui.button("Clear").clicked() {
                actions.push(Action::Clear);
            }
        });
        for (i, p) in self.paths.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.label(theme::mono(p.display().to_string()));
                if ui.small_button("Remove").clicked() {
                    actions.push(Action::Remove(i));
                }
            });
        }
        let identity = crate::verify::Expected::from_workspace(&data.ws);
        ui.label(theme::muted(format!(
            "Expected publisher: {} · certificate pin: {} · Apple team: {} · trust anchor: {}",
            identity.windows_publisher.as_deref().unwrap_or("(not set)"),
            identity
                .windows_cert_sha256
                .map_or_else(|| "(none)".to_owned(), |h| h.to_string()),
            identity.apple_team_id.as_deref().unwrap_or("(not set)"),
            identity.ca_file.as_ref().map_or_else(
                || "pinned Windows/Apple roots".to_owned(),
                |p| format!("pinned roots + {}", p.display()),
            ),
        )));
        let running = self.task.is_some()
            && self.report.is_none()
            && self.slot.lock().is_ok_and(|s| s.is_none());
        // A report of another release's artifacts than the one selected (switched in the top
        // bar since): not this release's, so not shown as it.
        let other_release = self.report.is_some()
            && self.report_of.as_ref().is_some_and(|v| {
                data.current
                    .as_ref()
                    .is_none_or(|c| &c.release.version != v)
            });
        ui.horizontal(|ui| {
            let run = ui.add_enabled(
                !self.paths.is_empty(),
                egui::Button::new(egui::RichText::new("Run verification").strong()),
            );
            if run.clicked() {
                actions.push(Action::Run);
            }
            if self.report.is_some() && !other_release {
                if ui.button("Export Markdown").clicked() {
                    actions.push(Action::Export(ReportFormat::Markdown));
                }
                if ui.button("Export JSON").clicked() {
                    actions.push(Action::Export(ReportFormat::Json));
                }
            }
        });
        if running {
            ui.label(theme::muted("Verifying… progress is in the task tray."));
        } else if let Some(why) = &self.failed {
            ui.label(
                egui::RichText::new(format!(
                    "The last run made no report ({why}); its log is in the task tray."
                ))
                .color(theme::BAD),
            );
        }
        let Some(report) = self.report.as_ref().filter(|_| !other_release) else {
            if let Some(v) = self.report_of.as_ref().filter(|_| other_release) {
                ui.label(theme::muted(format!(
                    "This window's last run verified release {v}'s artifacts: select {v} in the \
                     top bar to see its report."
                )));
            }
            if !running && let (Some(c), Some(record)) = (&data.current, &data.verify_record) {
                ui.add_space(8.0);
                if last_record_ui(ui, &c.release.version, record, data.verify_stale.as_ref()) {
                    actions.push(Action::UseRelease(
                        data.ws.artifacts_dir(&c.release.version),
                    ));
                    actions.push(Action::Run);
                }
            }
            return;
        };
        ui.add_space(8.0);
        // The release's verification is stale when its files changed after it (a rebuild).
        let stale = self.of_release_since.and_then(|since| {
            data.verify_stale
                .as_ref()
                .filter(|st| st.verified_at >= since)
        });
        overall_ui(ui, report, stale);
        ui.add_space(6.0);
        table_ui(&mut self.selected, ui, report, stale);
        if !report.bad_lines.is_empty() {
            ui.add_space(6.0);
            ui.label(
                egui::RichText::new("Bad lines in SHA256SUMS")
                    .strong()
                    .color(theme::BAD),
            );
            for b in &report.bad_lines {
                ui.label(format!("{}: {}  ({:?})", b.place(), b.reason, b.text));
            }
        }
        if let Some(a) = self.selected.and_then(|i| report.artifacts.get(i)) {
            ui.add_space(8.0);
            details_ui(ui, a);
        }
    }
}

fn table_ui(
    selected: &mut Option<usize>,
    ui: &mut egui::Ui,
    report: &Report,
    stale: Option<&verify::release::Stale>,
) {
    let row_height = 26.0;
    // A horizontal scroll bar takes the rest of the height when the window is narrower than
    // the table (every column stays reachable at 1024 px).
    let height = (report.artifacts.len() as f32 + 1.0) * row_height + 8.0;
    ui.scope(|ui| {
        // A solid bar below the rows, always there: a floating one hid until scrolled, then
        // covered the last row.
        ui.style_mut().spacing.scroll = egui::style::ScrollStyle::solid();
        egui::ScrollArea::horizontal()
            .id_salt("verify-table-scroll")
            .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
            .show(ui, |ui| {
                table_body(selected, ui, report, stale, row_height, height);
            });
    });
}

/// The narrowest the verify table is drawn: narrower windows scroll it sideways.
const MIN_TABLE_WIDTH: f32 = 1080.0;

fn table_body(
    selected: &mut Option<usize>,
    ui: &mut egui::Ui,
    report: &Report,
    stale: Option<&verify::release::Stale>,
    row_height: f32,
    height: f32,
) {
    let width = ui.available_width().max(MIN_TABLE_WIDTH);
    ui.allocate_ui(egui::vec2(width, height.min(420.0)), |ui| {
        ui.set_min_width(width);
        TableBuilder::new(ui)
            .id_salt("verify-table")
            .striped(true)
            .resizable(true)
            .column(Column::initial(210.0).at_least(120.0).clip(true))
            .column(Column::auto().at_least(70.0))
            .column(Column::initial(190.0).at_least(120.0).clip(true))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(120.0))
            // Wide enough for a publisher such as the demo's "WireTuner Demo (throwaway
            // certificate)"; longer ones are cut, whole on hover.
            .column(Column::initial(250.0).at_least(80.0).clip(true))
            .column(Column::remainder().at_least(120.0).clip(true))
            .header(22.0, |mut h| {
                for t in [
                    "Artifact",
                    "Size",
                    "SHA-256",
                    "Checksum",
                    "Signature",
                    "Publisher / team",
                    "Timestamp",
                ] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, report.artifacts.len(), |mut row| {
                    let i = row.index();
                    let a = &report.artifacts[i];
                    row.col(|ui| {
                        if ui.selectable_label(*selected == Some(i), &a.path).clicked() {
                            *selected = Some(i);
                        }
                    });
                    row.col(|ui| {
                        ui.label(verify::human_bytes(a.size_bytes));
                    });
                    row.col(|ui| {
                        if let Some(h) = &a.sha256 {
                            ui.horizontal(|ui| {
                                if ui
                                    .small_button("Copy")
                                    .on_hover_text("Copy the full SHA-256")
                                    .clicked()
                                {
                                    ui.ctx().copy_text(h.to_string());
                                }
                                let changed = stale
                                    .and_then(|st| st.changed.iter().find(|c| c.name == a.path));
                                let hex = h.to_string();
                                let head = &hex[..16];
                                match changed {
                                    Some(c) => ui
                                        .label(theme::mono(head).color(theme::WARN))
                                        .on_hover_text(format!(
                                            "{h}\nSTALE: hashed at the verify; the file was {} \
                                             after it",
                                            c.how.as_str()
                                        )),
                                    None => ui.label(theme::mono(head)).on_hover_text(&hex),
                                };
                            });
                        }
                    });
                    row.col(|ui| {
                        theme::badge(
                            ui,
                            &a.checksum.as_str().to_uppercase(),
                            checksum_color(a.checksum),
                        )
                        .on_hover_text(checksum_help(a.checksum));
                    });
                    row.col(|ui| {
                        theme::badge(
                            ui,
                            &a.signature.as_str().to_uppercase(),
                            signature_color(a.signature),
                        )
                        .on_hover_text(signature_tooltip(a.signature, &a.detail));
                    });
                    let signer = a.signer.as_ref();
                    row.col(|ui| {
                        let who = signer
                            .map(|s| match &s.team_id {
                                Some(team) => format!("{} (team {team})", s.publisher),
                                None => s.publisher.clone(),
                            })
                            .unwrap_or_default();
                        // Cut with an ellipsis; the whole name on hover.
                        ui.add(egui::Label::new(&who).truncate())
                            .on_hover_text(&who);
                    });
                    row.col(|ui| timestamp_cell(ui, a));
                });
            });
    });
}

/// The signing time a timestamp authority countersigned, "none" in amber for a signature
/// without one (it stops being valid when its certificate expires), "n/a" for a file with no
/// signature to timestamp.
fn timestamp_cell(ui: &mut egui::Ui, a: &verify::Artifact) {
    match a.signer.as_ref() {
        Some(s) => match &s.timestamp {
            Some(t) => {
                ui.add(egui::Label::new(t).truncate()).on_hover_text(t);
            }
            None => {
                ui.colored_label(theme::WARN, "none").on_hover_text(
                    "No timestamp countersignature: the signature is valid only while its \
                     certificate is, and reads invalid once the certificate expires",
                );
            }
        },
        None => {
            ui.label(theme::muted("n/a"))
                .on_hover_text("No signature to timestamp");
        }
    }
}

/// The release's last verification as recorded (after a restart, before anything is run in
/// this window): its verdict, when and by whom, whether each artifact was green and its
/// signature verdict,
/// STALE when the files changed after it; the signers' details are in a run's report, so a
/// button runs it again. Returns whether that button was clicked.
fn last_record_ui(
    ui: &mut egui::Ui,
    version: &semver::Version,
    record: &verify::release::ReleaseVerify,
    stale: Option<&verify::release::Stale>,
) -> bool {
    let (text, color) = match (stale, record.overall) {
        (Some(_), _) => ("STALE", theme::WARN),
        (None, Overall::Pass) => ("PASS", theme::OK),
        (None, Overall::Fail) => ("FAIL", theme::BAD),
    };
    let mut again = false;
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.5, color))
        .show(ui, |ui| {
            ui.set_width(ui.available_width().min(1000.0));
            ui.horizontal_wrapped(|ui| {
                theme::badge(ui, text, color);
                ui.label(
                    egui::RichText::new(format!(
                        "Last verification of release {version}: {} ({} by {})",
                        record.summary,
                        crate::local_time(record.at, true),
                        record.by
                    ))
                    .strong(),
                );
            });
            if let Some(st) = stale {
                ui.colored_label(theme::WARN, format!("STALE: {}", st.describe()));
            }
            // A long name is cut (the whole of it on hover), so the verdicts stay in view.
            let name_width = (ui.available_width() - 330.0).clamp(160.0, 560.0);
            egui::Grid::new("last-verify")
                .num_columns(4)
                .striped(true)
                .spacing([14.0, 3.0])
                .show(ui, |ui| {
                    widgets::header_row(ui, &["Artifact", "Size", "Verdict", "Signature"]);
                    // What is not green first: the reason for a FAIL is the first row.
                    let mut rows: Vec<_> = record.artifacts.iter().collect();
                    rows.sort_by_key(|a| a.green);
                    for a in rows {
                        ui.allocate_ui_with_layout(
                            egui::vec2(name_width, ui.spacing().interact_size.y),
                            egui::Layout::left_to_right(egui::Align::Center),
                            |ui| {
                                ui.set_width(name_width);
                                ui.add(egui::Label::new(theme::mono(&a.name)).truncate())
                                    .on_hover_text(&a.name);
                            },
                        );
                        ui.label(verify::human_bytes(a.size_bytes));
                        // The record keeps whether each artifact was green (checksum and
                        // signature), not the checksum's own verdict.
                        if a.green {
                            ui.colored_label(theme::OK, "green");
                        } else {
                            ui.colored_label(theme::BAD, "NOT GREEN");
                        }
                        match a.signature {
                            Some(v) => ui.label(v.as_str()),
                            None => ui.label(theme::muted("not recorded")),
                        };
                        ui.end_row();
                    }
                });
            ui.label(theme::muted(
                "As recorded in the audit log. The signers, certificates and timestamps are in \
                 the report of a run: verify again to see them.",
            ));
            again = ui
                .button(format!("Verify release {version} again"))
                .clicked();
        });
    again
}

fn overall_ui(ui: &mut egui::Ui, report: &Report, stale: Option<&verify::release::Stale>) {
    let (text, color) = match (stale, report.overall) {
        (Some(_), _) => ("STALE", theme::WARN),
        (None, Overall::Pass) => ("PASS", theme::OK),
        (None, Overall::Fail) => ("FAIL", theme::BAD),
    };
    egui::Frame::new()
        .fill(color.gamma_multiply(0.15))
        .stroke(egui::Stroke::new(2.0, color))
        .corner_radius(6.0)
        .inner_margin(12.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(text).size(28.0).strong().color(color));
                ui.vertical(|ui| {
                    if let Some(st) = stale {
                        let was = match report.overall {
                            Overall::Pass => "PASS",
                            Overall::Fail => "FAIL",
                        };
                        ui.label(
                            egui::RichText::new(format!(
                                "Was {was} ({}); the files changed after it",
                                report.summary()
                            ))
                            .strong(),
                        );
                        ui.label(
                            egui::RichText::new(format!("STALE: {}", st.describe()))
                                .color(theme::WARN),
                        );
                        ui.label(theme::muted(
                            "This result is about files that are no longer there as they were: \
                             run the verification again.",
                        ));
                        return;
                    }
                    ui.label(egui::RichText::new(report.summary()).strong());
                    let detail = match report.overall {
                        Overall::Pass => "Every checksum matches and every signable artifact is signed by the expected identity.",
                        Overall::Fail => "Do not publish: select a red or amber artifact below for the reason.",
                    };
                    ui.label(theme::muted(detail));
                });
            });
        });
}

fn details_ui(ui: &mut egui::Ui, a: &Artifact) {
    ui.group(|ui| {
        ui.set_width(ui.available_width());
        ui.label(egui::RichText::new(&a.path).strong());
        ui.label(&a.detail);
        if let (Some(want), Some(got)) = (&a.expected_sha256, &a.sha256) {
            if want == got {
                ui.label(theme::mono(format!("sha256 {got}")));
            } else {
                let font = egui::TextStyle::Monospace.resolve(ui.style());
                ui.label(hash_diff_job(&want.to_string(), &got.to_string(), font));
            }
        } else if let Some(h) = &a.sha256 {
            ui.label(theme::mono(format!("sha256 {h}")));
        }
        if let Some(apple) = &a.apple {
            apple_ui(ui, apple);
        } else if let Some(s) = &a.signer {
            // The values wrap inside the panel (a chain of long subjects, a timestamp with its
            // authority): the width left of it after the names' column.
            let width = (ui.available_width() - 170.0).max(200.0);
            egui::Grid::new("signer")
                .num_columns(2)
                .spacing([12.0, 2.0])
                .show(ui, |ui| {
                    let rows = [
                        ("Subject", s.subject.clone()),
                        ("Issuer", s.issuer.clone()),
                        ("Serial", s.serial.clone()),
                        (
                            "Certificate SHA-256",
                            s.cert_sha256
                                .map_or_else(|| "(unknown)".into(), |h| h.to_string()),
                        ),
                        ("Signing time", s.signing_time.clone().unwrap_or_default()),
                        (
                            "Timestamp",
                            match (&s.timestamp, s.timestamp_valid) {
                                (Some(t), true) => format!("{t} (verified)"),
                                (Some(t), false) => format!("{t} (NOT verified)"),
                                (None, _) => "none".into(),
                            },
                        ),
                        ("Chain", s.chain.join("  <  ")),
                    ];
                    for (k, v) in rows {
                        ui.label(theme::muted(k));
                        ui.scope(|ui| {
                            ui.set_max_width(width);
                            ui.add(egui::Label::new(v).wrap());
                        });
                        ui.end_row();
                    }
                });
        }
        if !a.raw_output.is_empty() {
            egui::CollapsingHeader::new("Raw tool output")
                .id_salt(("raw", &a.path))
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(240.0)
                        .show(ui, |ui| {
                            ui.label(theme::mono(&a.raw_output).small());
                        });
                });
        }
    });
}

/// An Apple signature read in-process: per slice its verdict, identity, runtime, timestamp
/// and the chain as a small tree down to the root it was anchored at.
fn apple_ui(ui: &mut egui::Ui, apple: &crate::verify::macho::AppleSignature) {
    ui.label(theme::muted(format!(
        "{} · {} slice{} · notarization: {}",
        apple.format,
        apple.slices.len(),
        if apple.slices.len() == 1 { "" } else { "s" },
        apple.notarization
    )));
    for (i, slice) in apple.slices.iter().enumerate() {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(&slice.arch).strong());
            theme::badge(
                ui,
                &slice.verdict.as_str().to_uppercase(),
                signature_color(slice.verdict),
            );
            ui.label(theme::muted(&slice.detail));
        });
        egui::Grid::new(("apple-slice", i))
            .num_columns(2)
            .spacing([12.0, 2.0])
            .show(ui, |ui| {
                let yes_no = |b: bool| if b { "yes" } else { "no" };
                let rows = [
                    ("Profile", slice.profile.clone(), None),
                    (
                        "Team ID",
                        slice.team_id.clone().unwrap_or_else(|| "none".into()),
                        None,
                    ),
                    (
                        "Identifier",
                        slice.identifier.clone().unwrap_or_default(),
                        None,
                    ),
                    (
                        "Integrity",
                        match &slice.integrity {
                            Ok(()) if slice.adhoc => "every page and slot digest matches \
                                                      (ad-hoc: no CMS signature)"
                                .to_owned(),
                            Ok(()) => "every page and slot digest matches; the CMS signs this \
                                       CodeDirectory"
                                .to_owned(),
                            Err(e) => e.clone(),
                        },
                        Some(if slice.integrity.is_ok() {
                            theme::OK
                        } else {
                            theme::BAD
                        }),
                    ),
                    (
                        "Timestamp",
                        slice
                            .timestamp
                            .clone()
                            .map_or_else(|| "none".to_owned(), |t| format!("{t} (verified)")),
                        Some(if slice.timestamp.is_some() {
                            theme::OK
                        } else {
                            theme::WARN
                        }),
                    ),
                    (
                        "Hardened runtime",
                        yes_no(slice.hardened_runtime).to_owned(),
                        Some(if slice.hardened_runtime {
                            theme::OK
                        } else {
                            theme::WARN
                        }),
                    ),
                    ("CDHash", slice.cdhash.clone().unwrap_or_default(), None),
                ];
                for (k, v, color) in rows {
                    ui.label(theme::muted(k));
                    match color {
                        Some(c) => ui.label(egui::RichText::new(v).color(c)),
                        None => ui.label(v),
                    };
                    ui.end_row();
                }
            });
        if slice.chain.is_empty() {
            continue;
        }
        ui.label(theme::muted(
            "Chain, leaf first (each signature verified with the issuer's key):",
        ));
        for (depth, link) in slice.chain.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.add_space(12.0 + 18.0 * depth as f32);
                if depth == 0 {
                    ui.label("•");
                } else {
                    ui.label(theme::muted("signed by"));
                }
                ui.label(&link.subject);
                ui.label(theme::mono(format!("sha256 {}", link.sha256.short())).small());
                if let Some(anchor) = &link.anchor {
                    theme::badge(ui, "TRUSTED ROOT", theme::OK);
                    ui.label(egui::RichText::new(anchor).color(theme::OK));
                } else if depth + 1 == slice.chain.len() && depth > 0 {
                    theme::badge(ui, "NOT A TRUSTED ROOT", theme::BAD);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_signature_without_a_timestamp_is_not_said_to_have_one() {
        let detail = "signed by WireTuner Demo (no timestamp: the chain was checked as valid \
                      now); chain to \"WireTuner Demo Root CA\"";
        let tip = signature_tooltip(SignatureVerdict::Valid, detail);
        assert!(tip.ends_with(detail), "{tip}");
        // Only the verifier's words mention a timestamp, and they say there was none.
        let own = tip.strip_suffix(detail).unwrap_or_default();
        assert!(!own.to_lowercase().contains("timestamp"), "{tip}");
        assert!(!own.to_lowercase().contains("chain"), "{tip}");
    }
}
