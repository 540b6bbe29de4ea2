//! The task tray: every task with state, elapsed time and progress, and the selected task's
//! live log (virtualized rows, search, copy, auto-scroll that stops when you scroll up).

use std::time::{Duration, Instant};

use super::command::Command;
use super::theme;
use crate::runner::{LogBuffer, TaskId, TaskSnapshot};

/// Lines scanned per frame by the log search, so a million-line log never stalls a frame.
const SEARCH_BUDGET_LINES: u64 = 200_000;
/// Copy takes at most this many lines (the newest).
const COPY_MAX_LINES: u64 = 200_000;

/// Incremental search over a task's log.
#[derive(Debug, Default)]
pub struct LogSearch {
    task: Option<TaskId>,
    query: String,
    scanned_to: u64,
    /// Absolute indices of matching lines.
    pub matches: Vec<u64>,
}

impl LogSearch {
    /// Scans lines added since the last call (up to a budget); returns whether it is caught up.
    pub fn update(&mut self, task: TaskId, query: &str, log: &LogBuffer) -> bool {
        if self.task != Some(task) || self.query != query {
            *self = Self {
                task: Some(task),
                query: query.to_owned(),
                ..Self::default()
            };
        }
        let first = log.first_retained();
        let dropped = self.matches.partition_point(|&i| i < first);
        self.matches.drain(..dropped);
        if query.is_empty() {
            self.scanned_to = log.total_lines();
            return true;
        }
        let smart_case = query.chars().any(char::is_uppercase);
        let start = self.scanned_to.max(first);
        let end = log.total_lines().min(start + SEARCH_BUDGET_LINES);
        for i in start..end {
            if let Some(line) = log.line(i) {
                let hit = if smart_case {
                    line.contains(query)
                } else {
                    contains_ignore_ascii_case(line, query)
                };
                if hit {
                    self.matches.push(i);
                }
            }
        }
        self.scanned_to = end;
        end == log.total_lines()
    }
}

fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    let first = n[0].to_ascii_lowercase();
    (0..=h.len() - n.len())
        .any(|i| h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Tray state: which task is shown, the search, the follow mode.
#[derive(Debug)]
pub struct TrayUi {
    pub selected: Option<TaskId>,
    pub query: String,
    pub search: LogSearch,
    /// Whether the log view was at the bottom last frame (auto-scroll on).
    pub following: bool,
    jump_to_end: bool,
    copied: Option<(Instant, u64)>,
}

impl Default for TrayUi {
    fn default() -> Self {
        Self {
            selected: None,
            query: String::new(),
            search: LogSearch::default(),
            following: true,
            jump_to_end: false,
            copied: None,
        }
    }
}

impl TrayUi {
    /// Shows task `id`'s log.
    pub fn select(&mut self, id: TaskId) {
        self.selected = Some(id);
    }

    /// Shows task `id`'s log when no task is selected yet.
    pub fn select_if_none(&mut self, id: TaskId) {
        self.selected.get_or_insert(id);
    }

    /// Draws the tray for `tasks` (oldest first).
    pub fn ui(&mut self, ui: &mut egui::Ui, tasks: &[TaskSnapshot], commands: &mut Vec<Command>) {
        if self
            .selected
            .is_none_or(|id| !tasks.iter().any(|t| t.info.id == id))
        {
            self.selected = tasks.last().map(|t| t.info.id);
        }
        egui::Panel::left("tray-tasks")
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| {
                super::widgets::resize_grip(ui, super::widgets::Edge::Right);
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new("Tasks").strong());
                    let running = tasks.iter().filter(|t| !t.state.is_finished()).count();
                    ui.label(theme::muted(format!(
                        "{running} running, {} total",
                        tasks.len()
                    )));
                    if tasks.iter().any(|t| t.state.is_finished())
                        && ui.small_button("Clear finished").clicked()
                    {
                        commands.push(Command::ClearFinishedTasks);
                    }
                });
                if tasks.is_empty() {
                    ui.label(theme::muted(
                        "No tasks yet. Builds, verification and audit checks run here.",
                    ));
                }
                egui::ScrollArea::vertical()
                    .id_salt("tray-task-list")
                    .auto_shrink(false)
                    .show(ui, |ui| {
                        for t in tasks.iter().rev() {
                            self.task_row_ui(ui, t, commands);
                        }
                    });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            match self
                .selected
                .and_then(|id| tasks.iter().find(|t| t.info.id == id))
            {
                Some(task) => self.log_ui(ui, task),
                None => {
                    ui.label(theme::muted("Select a task to see its live log."));
                }
            }
        });
    }

    fn task_row_ui(&mut self, ui: &mut egui::Ui, t: &TaskSnapshot, commands: &mut Vec<Command>) {
        let selected = self.selected == Some(t.info.id);
        let frame = egui::Frame::new()
            .inner_margin(4.0)
            .corner_radius(4.0)
            .fill(if selected {
                ui.visuals().selection.bg_fill.gamma_multiply(0.35)
            } else {
                egui::Color32::TRANSPARENT
            });
        // A build that succeeded without signing is no green success: it ships nothing.
        let unsigned = t.state == crate::runner::TaskState::Succeeded
            && t.info.kind.ends_with(crate::pipeline::UNSIGNED_SUFFIX);
        let color = if unsigned {
            theme::WARN
        } else {
            theme::task_state(t.state)
        };
        frame.show(ui, |ui| {
            ui.horizontal(|ui| {
                if unsigned {
                    theme::badge(ui, "UNSIGNED", color).on_hover_text(
                        "Built without signing (a test build): it verifies red and is not \
                         published",
                    );
                } else {
                    theme::badge(ui, &t.state.as_str().to_uppercase(), color);
                }
                let name = ui.selectable_label(selected, &t.info.name);
                if name.clicked() {
                    self.selected = Some(t.info.id);
                }
                ui.label(theme::muted(crate::human_duration(t.elapsed)));
                if !t.state.is_finished() && ui.small_button("Cancel").clicked() {
                    commands.push(Command::CancelTask(t.info.id));
                }
            });
            if let Some(p) = t.progress {
                let text = match &t.step {
                    Some(s) => format!("{s} ({:.0}%)", p * 100.0),
                    None => format!("{:.0}%", p * 100.0),
                };
                ui.add(egui::ProgressBar::new(p).text(text).desired_height(14.0));
            }
            if let Some(m) = &t.message {
                ui.label(egui::RichText::new(m).small().color(color));
            }
        });
    }

    /// The log of one task: toolbar and virtualized lines.
    pub fn log_ui(&mut self, ui: &mut egui::Ui, task: &TaskSnapshot) {
        let Ok(log) = task.log.lock() else {
            ui.label(egui::RichText::new("log unavailable").color(theme::BAD));
            return;
        };
        let caught_up = self.search.update(task.info.id, &self.query, &log);
        if !caught_up {
            ui.ctx().request_repaint();
        }
        let searching = !self.query.is_empty();
        let retained = log.total_lines() - log.first_retained();
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(&task.info.name).strong());
            ui.label(theme::muted(format!("{} lines", log.total_lines())));
            if log.first_retained() > 0 {
                ui.label(theme::muted(format!(
                    "({} oldest only on disk)",
                    log.first_retained()
                )))
                .on_hover_text(match &task.log_file {
                    Some(path) => format!(
                        "The in-memory log is bounded; the full log is in {}",
                        path.display()
                    ),
                    None => "The in-memory log is bounded and this task keeps no log file.".into(),
                });
            }
            ui.add(
                egui::TextEdit::singleline(&mut self.query)
                    .hint_text("Search log")
                    .desired_width(180.0),
            )
            .accessible_name("Search log");
            if searching {
                let suffix = if caught_up { "" } else { "…" };
                ui.label(theme::muted(format!(
                    "{} matches{suffix}",
                    self.search.matches.len()
                )));
                if ui.small_button("Clear").clicked() {
                    self.query.clear();
                }
            }
            if ui
                .button("Copy")
                .on_hover_text("Copy the shown lines (newest 200,000 at most)")
                .clicked()
            {
                let text = if searching {
                    let skip = self
                        .search
                        .matches
                        .len()
                        .saturating_sub(usize::try_from(COPY_MAX_LINES).unwrap_or(usize::MAX));
                    let lines: Vec<&str> = self.search.matches[skip..]
                        .iter()
                        .filter_map(|&i| log.line(i))
                        .collect();
                    lines.join("\n")
                } else {
                    let from = log.total_lines().saturating_sub(COPY_MAX_LINES);
                    log.lines_from(from)
                        .map(|(_, l)| l)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let n = text.lines().count() as u64;
                ui.ctx().copy_text(text);
                self.copied = Some((Instant::now(), n));
            }
            if let Some((at, n)) = self.copied {
                if at.elapsed() < Duration::from_secs(3) {
                    ui.label(theme::muted(format!("copied {n} lines")));
                } else {
                    self.copied = None;
                }
            }
            if self.following {
                ui.label(theme::muted("following"));
            } else if ui.button("Jump to end").clicked() {
                self.jump_to_end = true;
            }
            if let Some(path) = &task.log_file {
                ui.label(theme::muted("log file"))
                    .on_hover_text(path.display().to_string());
            }
        });
        ui.separator();

        let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
        let rows = if searching {
            self.search.matches.len()
        } else {
            usize::try_from(retained).unwrap_or(usize::MAX)
        };
        let first = log.first_retained();
        let mut area = egui::ScrollArea::both()
            .id_salt(("task-log", task.info.id.0))
            .auto_shrink(false)
            .stick_to_bottom(true);
        if self.jump_to_end {
            // The content height, not f32::MAX: show_rows turns the offset into row numbers.
            let content_height = rows as f32 * (row_height + ui.spacing().item_spacing.y);
            area = area.vertical_scroll_offset(content_height);
            self.jump_to_end = false;
        }
        let matches = &self.search.matches;
        let out = area.show_rows(ui, row_height, rows, |ui, range| {
            for row in range {
                let index = if searching {
                    matches.get(row).copied()
                } else {
                    Some(first + row as u64)
                };
                let Some(index) = index else { continue };
                let line = log.line(index).unwrap_or("");
                ui.add(egui::Label::new(theme::mono(line)).wrap_mode(egui::TextWrapMode::Extend));
            }
        });
        let bottom = out.state.clamped_offset().y + out.inner_rect.height();
        self.following = bottom >= out.content_size.y - row_height * 1.5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_is_incremental_and_smart_case() {
        let mut log = LogBuffer::default();
        for i in 0..1000 {
            log.push(&format!(
                "step {i}: {}",
                if i % 100 == 0 { "ERROR disk" } else { "ok" }
            ));
        }
        let mut s = LogSearch::default();
        assert!(s.update(TaskId(1), "error", &log));
        assert_eq!(s.matches.len(), 10);
        log.push("another error");
        s.update(TaskId(1), "error", &log);
        assert_eq!(s.matches.len(), 11);
        s.update(TaskId(1), "ERROR", &log);
        assert_eq!(s.matches.len(), 10, "upper case query is case-sensitive");
    }
}
