//! The Audit panel: the chain status and a filterable table of every action.
//!
//! The snapshot holds only an index of the log (where each entry starts, and its action); the
//! table asks for the pages of entries it shows, which are read from disk off the UI thread,
//! and a text filter streams the log as a fetch. A log of a million entries costs about 10 MB.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use egui_extras::{Column, TableBuilder};

use super::command::Command;
use super::panel::{Cx, Finished, Panel, Pending};
use super::theme;
use crate::audit::{AuditEntry, AuditIndex};

/// Entries read from disk at a time.
const PAGE: usize = 64;
/// Pages kept in memory (older ones are read again when scrolled back to).
const MAX_PAGES: usize = 64;

/// A page of entries, as read from an index of `read_at` entries: a page that was the log's
/// last is short, and is read again once the index holds entries it lacks.
#[derive(Debug)]
struct Page {
    read_at: usize,
    rows: Vec<Result<AuditEntry, String>>,
}

/// Which rows the filters let through, and for which index and filters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    generation: u64,
    len: usize,
    needle: String,
    action: Option<String>,
}

/// Audit panel state: the filters, the rows they select, and the pages read so far.
#[derive(Debug, Default)]
pub struct AuditUi {
    pub filter: String,
    pub action: Option<String>,
    /// Entry numbers (0-based, oldest first) the filters select; `None`: every entry.
    rows: Option<Arc<Vec<u32>>>,
    /// The filters `rows` was computed for.
    rows_key: Option<Key>,
    search: Pending<(Key, Vec<u32>)>,
    search_error: Option<String>,
    pages: HashMap<usize, Page>,
    pages_generation: u64,
    wanted: BTreeSet<usize>,
    loading: Pending<(u64, Vec<(usize, Page)>)>,
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl AuditUi {
    fn key(&self, index: &AuditIndex) -> Key {
        Key {
            generation: index.generation(),
            len: index.len(),
            needle: self.filter.trim().to_lowercase(),
            action: self.action.clone(),
        }
    }

    /// How many entries the filters select (so far).
    pub fn shown(&self, index: &AuditIndex) -> usize {
        self.rows.as_ref().map_or(index.len(), |r| r.len())
    }

    /// Whether the rows match the current filters (no search is still running for them).
    pub fn is_filtered(&self, index: &AuditIndex) -> bool {
        self.rows_key.as_ref() == Some(&self.key(index))
    }

    /// Recomputes the rows when the index or the filters changed: the action alone from the
    /// index at once, text by streaming the log in the background.
    fn update_rows(&mut self, cx: &mut Cx<'_>) {
        let index = cx.snapshot.audit.clone();
        let key = self.key(&index);
        if self.rows_key.as_ref() == Some(&key) || self.search.is_running() {
            return;
        }
        let within = key.action.as_deref().map(|a| index.with_action(a));
        if key.needle.is_empty() {
            self.rows = within.map(Arc::new);
            self.rows_key = Some(key);
            self.search_error = None;
            return;
        }
        let log = cx.snapshot.ws.audit().clone();
        cx.fetch_blocking(&mut self.search, move || {
            log.search(&index, &key.needle, within.as_deref())
                .map(|rows| (key, rows))
        });
    }

    /// The entry `n` (0-based) if its page is in memory; asks for the page otherwise, and for
    /// a page read before the log had entry `n` (appended since: the index grew, its
    /// generation did not), which is read again while its older rows stay shown.
    fn entry(&mut self, n: usize) -> Option<&Result<AuditEntry, String>> {
        let page = n / PAGE;
        let stale = self
            .pages
            .get(&page)
            .is_none_or(|p| p.rows.len() <= n % PAGE && p.read_at <= n);
        if stale {
            self.wanted.insert(page);
        }
        self.pages.get(&page).and_then(|p| p.rows.get(n % PAGE))
    }

    fn load_pages(&mut self, cx: &mut Cx<'_>) {
        if self.wanted.is_empty() || self.loading.is_running() {
            return;
        }
        let wanted: Vec<usize> = std::mem::take(&mut self.wanted).into_iter().collect();
        let index = cx.snapshot.audit.clone();
        let log = cx.snapshot.ws.audit().clone();
        cx.fetch_blocking(&mut self.loading, move || {
            let mut pages = Vec::with_capacity(wanted.len());
            for page in wanted {
                let range = page * PAGE..(page + 1) * PAGE;
                let rows = log.read_range(&index, range)?;
                pages.push((
                    page,
                    Page {
                        read_at: index.len(),
                        rows,
                    },
                ));
            }
            Ok::<_, crate::audit::AuditError>((index.generation(), pages))
        });
    }
}

impl Panel for AuditUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        let index = &cx.snapshot.audit;
        if self.pages_generation != index.generation() {
            // The log was read again from the start: what was read before may differ.
            self.pages.clear();
            self.pages_generation = index.generation();
        }
        if let Some(result) = self.search.poll() {
            match result {
                Ok((key, rows)) => {
                    self.rows = Some(Arc::new(rows));
                    self.rows_key = Some(key);
                    self.search_error = None;
                }
                Err(e) => self.search_error = Some(e),
            }
        }
        if let Some(result) = self.loading.poll() {
            match result {
                Ok((generation, pages)) if generation == self.pages_generation => {
                    if self.pages.len() + pages.len() > MAX_PAGES {
                        self.pages.clear();
                    }
                    self.pages.extend(pages);
                }
                Ok(_) => {}
                Err(e) => cx.error(format!("cannot read the audit log: {e}")),
            }
        }
        self.update_rows(cx);
        self.load_pages(cx);
    }

    fn on_task_finished(&mut self, task: &Finished, commands: &mut Vec<Command>) {
        if task.info.kind == "audit.verify" {
            // Show what the full check found, not the index kept since the window opened.
            commands.push(Command::ReindexAudit);
        }
    }

    fn is_busy(&self) -> bool {
        self.search.is_running() || self.loading.is_running() || !self.wanted.is_empty()
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let data = cx.snapshot;
        let index = data.audit.clone();
        let mut verify = false;
        ui.label(theme::heading("Audit log"));
        ui.horizontal(|ui| {
            match &data.audit_check {
                Ok(v) => {
                    theme::badge(ui, "CHAIN INTACT", theme::OK);
                    ui.label(theme::muted(format!(
                        "{} entries · head {}",
                        v.entries,
                        &v.last_hash[..12.min(v.last_hash.len())]
                    )));
                }
                Err(e) => {
                    theme::badge(ui, "CHAIN BROKEN", theme::BAD);
                    ui.label(egui::RichText::new(e).color(theme::BAD));
                }
            }
            if ui
                .button("Verify chain")
                .on_hover_text("Re-check every hash link as a task")
                .clicked()
            {
                verify = true;
            }
        });
        if verify {
            let ws = data.ws.clone();
            let release = data.current.as_ref().map(|c| &c.release);
            cx.start_task(ws.audit_verify_spec(release), move |ctx| {
                crate::workspace::run_audit_verify(ctx, ws, crate::projections::ALL)
            });
        }
        ui.label(theme::muted(data.ws.audit().path().display().to_string()));
        outbox_ui(ui, data, cx.commands);
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("Filter: actor, action, target, values")
                    .desired_width(260.0),
            )
            .accessible_name("Audit filter");
            egui::ComboBox::from_id_salt("audit-action")
                .selected_text(self.action.as_deref().unwrap_or("all actions"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.action, None, "all actions");
                    for a in index.action_names() {
                        ui.selectable_value(&mut self.action, Some(a.to_owned()), a);
                    }
                })
                .response
                .accessible_name("Action filter");
            if self.search.is_running() {
                ui.spinner();
                ui.label(theme::muted("searching the log…"));
            }
        });
        if let Some(e) = &self.search_error {
            ui.label(egui::RichText::new(e).color(theme::BAD));
        }
        let rows = self.rows.clone();
        let count = rows.as_ref().map_or(index.len(), |r| r.len());
        ui.label(theme::muted(format!(
            "{count} of {} entries, newest first",
            index.len()
        )));
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        TableBuilder::new(ui)
            .id_salt("audit-table")
            .striped(true)
            .resizable(true)
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(120.0))
            .column(Column::auto().at_least(100.0))
            .column(Column::auto().at_least(150.0))
            .column(Column::initial(180.0).at_least(80.0).clip(true))
            .column(Column::initial(200.0).at_least(80.0).clip(true))
            .column(Column::remainder().at_least(120.0).clip(true))
            .header(22.0, |mut h| {
                for title in ["#", "Time", "Actor", "Action", "Target", "Before", "After"] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, count, |mut row| {
                    // Newest first.
                    let k = count - 1 - row.index();
                    let n = rows
                        .as_ref()
                        .map_or(k, |r| r.get(k).map_or(0, |&n| n as usize));
                    match self.entry(n) {
                        None => {
                            row.col(|ui| {
                                ui.label(theme::muted((n + 1).to_string()));
                            });
                            row.col(|ui| {
                                ui.label(theme::muted("…"));
                            });
                        }
                        Some(Err(e)) => {
                            row.col(|ui| {
                                ui.label(theme::muted((n + 1).to_string()));
                            });
                            row.col(|ui| {
                                ui.label(egui::RichText::new(e).color(theme::BAD));
                            });
                        }
                        Some(Ok(e)) => entry_row(&mut row, e),
                    }
                });
            });
        if !self.wanted.is_empty() {
            // The rows just drawn asked for pages: the next frame's logic reads them.
            ui.ctx().request_repaint();
        }
    }
}

/// The notification outbox: what was sent where and when, what failed (with Retry), and a
/// button that sends what is due.
fn outbox_ui(ui: &mut egui::Ui, data: &crate::ui::snapshot::Snapshot, commands: &mut Vec<Command>) {
    let Some(outbox) = &data.outbox else {
        return;
    };
    let outbox = match outbox {
        Ok(o) => o,
        Err(e) => {
            ui.label(egui::RichText::new(format!("Outbox: {e}")).color(theme::BAD));
            return;
        }
    };
    let attention = outbox.attention().count();
    let title = format!(
        "Outbox: {} deliveries, {} queued, {attention} need attention",
        outbox.deliveries.len(),
        outbox.pending()
    );
    egui::CollapsingHeader::new(title)
        .id_salt("outbox")
        .default_open(attention > 0)
        .show(ui, |ui| {
            if data.ws.config().notify.deliver == crate::workspace::config::Delivery::Local {
                ui.label(theme::muted(
                    "[notify] deliver = \"local\": messages are kept here, not sent.",
                ));
            }
            ui.horizontal(|ui| {
                if ui.button("Send due notifications").clicked() {
                    commands.push(Command::SendNotifications);
                }
                // Only the failed ones: an uncertain one may have arrived, and is sent again
                // one by one with its own Send again.
                let failed: Vec<String> = outbox
                    .attention()
                    .filter(|d| d.state == crate::notify::State::Failed)
                    .map(|d| d.id.clone())
                    .collect();
                if !failed.is_empty() && ui.button("Retry all that failed").clicked() {
                    commands.push(Command::RetryNotifications(failed));
                }
            });
            egui::ScrollArea::vertical()
                .id_salt("outbox-scroll")
                .max_height(260.0)
                .show(ui, |ui| {
                    if outbox.deliveries.is_empty() {
                        ui.label(theme::muted("Nothing announced yet."));
                    }
                    crate::ui::widgets::deliveries::rows(
                        ui,
                        outbox.deliveries.iter().rev(),
                        true,
                        commands,
                    );
                });
        });
}

fn entry_row(row: &mut egui_extras::TableRow<'_, '_>, e: &AuditEntry) {
    row.col(|ui| {
        ui.label(theme::muted(e.seq.to_string()));
    });
    row.col(|ui| {
        ui.label(crate::local_time(e.time, true));
    });
    row.col(|ui| {
        ui.label(&e.actor);
    });
    // One line per row: the rows are of a fixed height.
    row.col(|ui| {
        ui.add(egui::Label::new(theme::mono(&e.action)).extend());
    });
    row.col(|ui| {
        ui.add(egui::Label::new(&e.target).truncate());
    });
    for v in [&e.before, &e.after] {
        row.col(|ui| {
            let text = compact(v);
            let resp = ui.add(egui::Label::new(theme::mono(&text).small()).truncate());
            if !text.is_empty() {
                resp.on_hover_text(serde_json::to_string_pretty(v).unwrap_or(text));
            }
        });
    }
}
