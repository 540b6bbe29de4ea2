//! The Audit panel: the chain status and a filterable table of every action.

use egui_extras::{Column, TableBuilder};

use super::panel::{Cx, Panel};
use super::theme;
use crate::audit::AuditEntry;

/// Audit panel state: the filters.
#[derive(Debug, Default)]
pub struct AuditUi {
    pub filter: String,
    pub action: Option<String>,
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl AuditUi {
    fn matches(&self, e: &AuditEntry) -> bool {
        if self.action.as_ref().is_some_and(|a| &e.action != a) {
            return false;
        }
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        [&e.actor, &e.action, &e.target]
            .iter()
            .any(|f| f.to_lowercase().contains(&needle))
            || compact(&e.after).to_lowercase().contains(&needle)
            || compact(&e.before).to_lowercase().contains(&needle)
    }
}

impl Panel for AuditUi {
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let data = cx.snapshot;
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
                crate::workspace::run_audit_verify(ctx, ws)
            });
        }
        ui.label(theme::muted(data.ws.audit().path().display().to_string()));
        let mut actions: Vec<&str> = data.audit.iter().map(|e| e.action.as_str()).collect();
        actions.sort_unstable();
        actions.dedup();
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
                    for a in &actions {
                        ui.selectable_value(&mut self.action, Some((*a).to_owned()), *a);
                    }
                })
                .response
                .accessible_name("Action filter");
        });
        let rows: Vec<&AuditEntry> = data
            .audit
            .iter()
            .rev()
            .filter(|e| self.matches(e))
            .collect();
        ui.label(theme::muted(format!(
            "{} of {} entries, newest first",
            rows.len(),
            data.audit.len()
        )));
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        TableBuilder::new(ui)
            .id_salt("audit-table")
            .striped(true)
            .resizable(true)
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(120.0))
            .column(Column::auto().at_least(100.0))
            .column(Column::auto().at_least(110.0))
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
                body.rows(row_height, rows.len(), |mut row| {
                    let e = rows[row.index()];
                    row.col(|ui| {
                        ui.label(theme::muted(e.seq.to_string()));
                    });
                    row.col(|ui| {
                        ui.label(crate::local_time(e.time, true));
                    });
                    row.col(|ui| {
                        ui.label(&e.actor);
                    });
                    row.col(|ui| {
                        ui.label(theme::mono(&e.action));
                    });
                    row.col(|ui| {
                        ui.label(&e.target);
                    });
                    for v in [&e.before, &e.after] {
                        row.col(|ui| {
                            let text = compact(v);
                            let resp =
                                ui.add(egui::Label::new(theme::mono(&text).small()).truncate());
                            if !text.is_empty() {
                                resp.on_hover_text(serde_json::to_string_pretty(v).unwrap_or(text));
                            }
                        });
                    }
                });
            });
    }
}
