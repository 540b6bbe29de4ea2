//! The Audit panel: the chain status and a filterable table of every action.
//!
//! The snapshot holds only an index of the log (where each entry starts, and its action); the
//! table asks for the pages of entries it shows, which are read from disk off the UI thread,
//! and a text filter streams the log as a fetch. A log of a million entries costs about 10 MB.
//!
//! Each row says what the entry changed on one line (`done: false -> true`); a click on a row
//! shows the entry below the table, field by field (changed, added, removed; nested values as
//! dotted paths, long ones cut and whole on hover), with its raw JSON behind "Raw JSON". The
//! diff is `audit::diff`, which `audit show` prints too.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use egui_extras::{Column, TableBuilder};

use super::command::Command;
use super::panel::{Cx, Finished, Panel, Pending};
use super::snapshot::Snapshot;
use super::{theme, widgets};
use crate::audit::diff::{self, FieldChange, Kind};
use crate::audit::{AuditEntry, AuditIndex};

/// Entries read from disk at a time.
const PAGE: usize = 64;
/// Pages kept in memory (older ones are read again when scrolled back to).
const MAX_PAGES: usize = 64;
/// Longest value in a row's Change column (the row's tooltip lists every change).
const ROW_VALUE_CHARS: usize = 40;
/// Longest value in the selected entry's table (whole on hover).
const FIELD_VALUE_CHARS: usize = 72;

/// One entry as a row shows it: the entry and what it changed, on one line (computed when its
/// page is read, off the UI thread).
#[derive(Debug)]
struct Row {
    entry: AuditEntry,
    change: String,
}

impl Row {
    fn of(entry: AuditEntry) -> Self {
        let change = diff::summary(&diff::changes(&entry.before, &entry.after), ROW_VALUE_CHARS);
        Self { entry, change }
    }
}

/// The entry shown below the table and its fields.
#[derive(Debug)]
struct Selected {
    /// Its number (0-based, oldest first).
    n: usize,
    /// The entry and its fields once its page is in memory, with the pages' generation they
    /// were read in (a log read again from the start is looked up again).
    shown: Option<(u64, Arc<AuditEntry>, Arc<Vec<FieldChange>>)>,
}

/// A page of entries, as read from an index of `read_at` entries: a page that was the log's
/// last is short, and is read again once the index holds entries it lacks.
#[derive(Debug)]
struct Page {
    read_at: usize,
    rows: Vec<Result<Row, String>>,
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
    selected: Option<Selected>,
    /// The table row to bring into view in the next frame (the one just selected).
    scroll_to: Option<usize>,
    /// Whether the selected entry's table lists the fields that did not change too.
    pub show_unchanged: bool,
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

    /// The selected entry's number (its `seq`), if a row was clicked.
    pub fn selected(&self) -> Option<u64> {
        self.selected.as_ref().map(|s| s.n as u64 + 1)
    }

    /// The selected entry's fields (every one, unchanged too), once its page was read.
    pub fn selected_fields(&self) -> Option<&[FieldChange]> {
        self.selected
            .as_ref()
            .and_then(|s| s.shown.as_ref())
            .map(|(.., f)| f.as_slice())
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
    fn entry(&mut self, n: usize) -> Option<&Result<Row, String>> {
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
                let rows = log
                    .read_range(&index, range)?
                    .into_iter()
                    .map(|r| r.map(Row::of))
                    .collect();
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
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }
}

/// What a click asks the panel to do once the frame's widgets are drawn.
enum Action {
    /// Check every hash link of the log as a task.
    VerifyChain,
    /// Hand a command to the app (send or retry notifications).
    App(Command),
}

impl AuditUi {
    #[expect(
        clippy::unused_self,
        reason = "every panel's apply is `self.apply(action, cx)` (ARCHITECTURE, \"A panel\")"
    )]
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::VerifyChain => {
                let ws = cx.snapshot.ws.clone();
                let release = cx.snapshot.current.as_ref().map(|c| &c.release);
                cx.start_task(ws.audit_verify_spec(release), move |ctx| {
                    crate::workspace::run_audit_verify(ctx, ws, crate::projections::ALL)
                });
            }
            Action::App(command) => cx.push(command),
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        let index = data.audit.clone();
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
                actions.push(Action::VerifyChain);
            }
        });
        let path = data.ws.audit().path().display();
        ui.label(theme::muted(match data.ws.shared() {
            Some(shared) => format!(
                "{path}: this console's verified copy of the log in {}",
                shared.url()
            ),
            None => path.to_string(),
        }));
        let mut commands = Vec::new();
        outbox_ui(ui, data, &mut commands);
        actions.extend(commands.into_iter().map(Action::App));
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
        // With an entry selected the table leaves room for it below.
        // With an entry selected the table shrinks so that the entry shows below it in the
        // panel's height (at least four rows stay), wherever the panel is scrolled to.
        let above = ui.cursor().top() - ui.min_rect().top();
        let on_screen = (ui.clip_rect().height() - above).max(0.0);
        let table_height = match &self.selected {
            Some(s) => {
                let lines = s.shown.as_ref().map_or(6, |(.., f)| {
                    f.iter()
                        .filter(|c| self.show_unchanged || c.kind != Kind::Unchanged)
                        .count()
                        .min(12)
                });
                let details = 150.0 + lines as f32 * (row_height + 4.0);
                (on_screen - 30.0 - details).max(4.0 * row_height)
            }
            None => f32::INFINITY,
        };
        let scroll_to = self.scroll_to.take();
        let selected = self.selected.as_ref().map(|s| s.n);
        let mut clicked = None;
        ui.scope(|ui| {
            // A click anywhere on a row selects it: labels do not take it for text selection.
            ui.style_mut().interaction.selectable_labels = false;
            let mut table = TableBuilder::new(ui)
                .id_salt("audit-table")
                .striped(true)
                .resizable(true)
                .sense(egui::Sense::click())
                .min_scrolled_height(table_height.min(200.0))
                .max_scroll_height(table_height)
                .column(Column::auto().at_least(40.0))
                .column(Column::auto().at_least(120.0))
                .column(Column::auto().at_least(100.0))
                .column(Column::auto().at_least(150.0))
                .column(Column::initial(200.0).at_least(80.0).clip(true))
                .column(Column::remainder().at_least(160.0).clip(true));
            if let Some(row) = scroll_to {
                table = table.scroll_to_row(row, None);
            }
            table
                .header(22.0, |mut h| {
                    for title in ["#", "Time", "Actor", "Action", "Target", "Change"] {
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
                        row.set_selected(selected == Some(n));
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
                            Some(Ok(r)) => entry_row(&mut row, r),
                        }
                        if row.response().clicked() {
                            clicked = Some(n);
                        }
                    });
                });
        });
        if let Some(n) = clicked {
            // A second click on the selected row closes it.
            self.selected = (selected != Some(n)).then_some(Selected { n, shown: None });
            // The table shrinks under the entry: keep its row in view.
            self.scroll_to = rows_index_of(rows.as_deref().map(Vec::as_slice), count, n);
        }
        self.selected_ui(ui);
        if !self.wanted.is_empty() {
            // The rows just drawn asked for pages: the next frame's logic reads them.
            ui.ctx().request_repaint();
        }
    }
}

impl AuditUi {
    /// The selected entry below the table: who did what, its fields as a table of changes,
    /// and its raw JSON (collapsed).
    fn selected_ui(&mut self, ui: &mut egui::Ui) {
        let Some(n) = self.selected.as_ref().map(|s| s.n) else {
            return;
        };
        let generation = self.pages_generation;
        let cached = self
            .selected
            .as_ref()
            .and_then(|s| s.shown.as_ref())
            .filter(|(g, ..)| *g == generation)
            .map(|(_, e, f)| (e.clone(), f.clone()));
        let (entry, fields) = if let Some(shown) = cached {
            shown
        } else {
            let entry = match self.entry(n) {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(theme::muted(format!("reading entry #{}…", n + 1)));
                    });
                    return;
                }
                Some(Err(e)) => {
                    ui.colored_label(theme::BAD, format!("Entry #{}: {e}", n + 1));
                    return;
                }
                Some(Ok(r)) => Arc::new(r.entry.clone()),
            };
            let fields = Arc::new(diff::diff(&entry.before, &entry.after));
            if let Some(s) = self.selected.as_mut() {
                s.shown = Some((generation, entry.clone(), fields.clone()));
            }
            (entry, fields)
        };
        let mut close = false;
        ui.add_space(6.0);
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                ui.label(
                    egui::RichText::new(format!(
                        "Entry #{}: {} on {}",
                        entry.seq, entry.action, entry.target
                    ))
                    .strong(),
                );
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    close = ui.button("Close").clicked();
                });
            });
            ui.label(theme::muted(format!(
                "by {} at {} · links to {}",
                who(&entry),
                crate::local_time(entry.time, true),
                &entry.prev[..12.min(entry.prev.len())]
            )));
            fields_ui(ui, &fields, &mut self.show_unchanged);
            egui::CollapsingHeader::new("Raw JSON")
                .id_salt("audit-raw-json")
                .default_open(false)
                .show(ui, |ui| raw_json_ui(ui, &entry));
        });
        if close {
            self.selected = None;
        }
    }
}

/// The entry's fields: what changed, was added or removed (and, when asked, what did not), one
/// row each with the value before and after.
fn fields_ui(ui: &mut egui::Ui, fields: &[FieldChange], show_unchanged: &mut bool) {
    let unchanged = fields.iter().filter(|c| c.kind == Kind::Unchanged).count();
    let changed = fields.len() - unchanged;
    if fields.is_empty() {
        ui.label(theme::muted("This entry records no values."));
        return;
    }
    ui.horizontal(|ui| {
        ui.label(if changed == 0 {
            "No field changed.".to_owned()
        } else {
            let count = |k: Kind| fields.iter().filter(|c| c.kind == k).count();
            let parts: Vec<String> = [
                (count(Kind::Changed), "changed"),
                (count(Kind::Added), "added"),
                (count(Kind::Removed), "removed"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            format!("Fields: {}", parts.join(", "))
        });
        if unchanged > 0 {
            ui.checkbox(show_unchanged, format!("Show {unchanged} unchanged"));
        }
    });
    egui::Grid::new("audit-fields")
        .num_columns(5)
        .striped(true)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            widgets::header_row(ui, &["", "Field", "Before", "", "After"]);
            for c in fields
                .iter()
                .filter(|c| *show_unchanged || c.kind != Kind::Unchanged)
            {
                let color = theme::field_change(c.kind);
                ui.label(egui::RichText::new(c.kind.as_str()).color(color).small());
                ui.label(theme::mono(c.label()));
                value_ui(ui, c.before.as_ref(), c.kind == Kind::Removed);
                ui.label(theme::muted(if c.kind == Kind::Unchanged {
                    "="
                } else {
                    "->"
                }));
                value_ui(ui, c.after.as_ref(), false);
                ui.end_row();
            }
        });
}

/// One value, cut at [`FIELD_VALUE_CHARS`] with the whole of it on hover; a dash when the
/// field was not there.
fn value_ui(ui: &mut egui::Ui, v: Option<&serde_json::Value>, gone: bool) {
    let Some(v) = v else {
        ui.label(theme::muted("—")).on_hover_text("not there");
        return;
    };
    let text = diff::show(v);
    let short = diff::shorten(&text, FIELD_VALUE_CHARS);
    let rich = egui::RichText::new(&short);
    let resp = ui.label(if gone { rich.strikethrough() } else { rich });
    if short != text {
        let whole = match v {
            serde_json::Value::String(s) => s.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or(text),
        };
        resp.on_hover_text(whole);
    }
}

/// The entry's before and after as written in the log, pretty-printed side by side.
fn raw_json_ui(ui: &mut egui::Ui, entry: &AuditEntry) {
    ui.columns(2, |cols| {
        for (ui, (title, v)) in cols
            .iter_mut()
            .zip([("Before", &entry.before), ("After", &entry.after)])
        {
            ui.label(theme::muted(title));
            egui::ScrollArea::both()
                .id_salt(("audit-raw", title))
                .max_height(240.0)
                .show(ui, |ui| {
                    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
                    ui.add(egui::Label::new(theme::mono(text)).extend());
                });
        }
    });
}

/// The table row (newest first) that shows entry `n`, among `count` rows of `rows` (`None`:
/// every entry).
fn rows_index_of(rows: Option<&[u32]>, count: usize, n: usize) -> Option<usize> {
    let k = match rows {
        None => n,
        Some(r) => r.iter().position(|&m| m as usize == n)?,
    };
    (k < count).then(|| count - 1 - k)
}

/// The notification outbox: what was sent where and when, what failed (with Retry), and a
/// button that sends what is due.
fn outbox_ui(ui: &mut egui::Ui, data: &Snapshot, commands: &mut Vec<Command>) {
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

/// Who made `entry`, with the machine when it names one (a shared workspace's entries do).
fn who(entry: &AuditEntry) -> String {
    match &entry.host {
        Some(host) => format!("{} on {host}", entry.actor),
        None => entry.actor.clone(),
    }
}

fn entry_row(row: &mut egui_extras::TableRow<'_, '_>, r: &Row) {
    let e = &r.entry;
    row.col(|ui| {
        ui.label(theme::muted(e.seq.to_string()));
    });
    row.col(|ui| {
        ui.label(crate::local_time(e.time, true));
    });
    row.col(|ui| {
        // A signed entry is marked: its signature is checked against its person's registered
        // key when a shared workspace adopts it and by `audit verify`.
        let actor = match &e.key {
            Some(key) if e.sig.is_some() => ui
                .label(format!("{} · signed", e.actor))
                .on_hover_text(format!("{}, signed with key {key}", who(e))),
            _ => ui.label(&e.actor),
        };
        // On a shared workspace, the machine it was done on.
        if e.host.is_some() && e.sig.is_none() {
            actor.on_hover_text(who(e));
        }
    });
    // One line per row: the rows are of a fixed height.
    row.col(|ui| {
        ui.add(egui::Label::new(theme::mono(&e.action)).extend());
    });
    row.col(|ui| {
        ui.add(egui::Label::new(&e.target).truncate());
    });
    row.col(|ui| {
        if r.change.is_empty() {
            return;
        }
        ui.add(
            egui::Label::new(&r.change)
                .truncate()
                .show_tooltip_when_elided(false),
        )
        .on_hover_ui(|ui| {
            // Every change, one a line; computed only while hovered.
            for c in diff::changes(&e.before, &e.after) {
                ui.label(c.line(FIELD_VALUE_CHARS));
            }
            ui.label(theme::muted("Click the row for the whole entry."));
        });
    });
}
