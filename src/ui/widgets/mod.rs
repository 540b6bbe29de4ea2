//! Small reusable widgets.

pub mod deliveries;
pub mod toasts;

use crate::runbook::Progress;
use crate::ui::theme;

/// A phase's progress bar: blue while open, green when complete.
pub fn progress_bar(
    ui: &mut egui::Ui,
    progress: Progress,
    text: String,
    width: f32,
) -> egui::Response {
    let color = if progress.is_complete() {
        theme::OK
    } else if progress.fraction() <= 0.0 {
        theme::NONE
    } else {
        theme::INFO
    };
    ui.add(
        egui::ProgressBar::new(progress.fraction())
            .text(text)
            .fill(color.gamma_multiply(0.6))
            .desired_width(width),
    )
}

/// Gates as rows: an OPEN/WARNING/UNCHECKED/BLOCKED badge, the gate's name and its reason (wrapped). A gate open
/// only because nothing could be checked here reads amber, not green.
pub fn gate_list<'a>(ui: &mut egui::Ui, gates: impl IntoIterator<Item = &'a crate::gates::Gate>) {
    let mut any = false;
    for g in gates {
        any = true;
        ui.horizontal_wrapped(|ui| {
            let (text, color) = match g.state {
                crate::gates::State::Blocked => ("BLOCKED", theme::BAD),
                crate::gates::State::Warning => ("WARNING", theme::WARN),
                crate::gates::State::Unchecked => ("UNCHECKED", theme::WARN),
                crate::gates::State::Open => ("OPEN", theme::OK),
            };
            theme::badge(ui, text, color);
            ui.label(egui::RichText::new(&g.gate).monospace());
            ui.label(&g.reason);
        });
    }
    if !any {
        ui.label(theme::muted("No release selected."));
    }
}

/// A grid's header row: each column's name, muted, then the end of the row.
pub fn header_row(ui: &mut egui::Ui, names: &[&str]) {
    for name in names {
        ui.label(theme::muted(*name));
    }
    ui.end_row();
}

/// What a fetch loaded, or draws why there is nothing yet: a spinner while it runs, the error
/// in red once it failed.
pub fn loaded<'a, T>(ui: &mut egui::Ui, value: &'a Option<Result<T, String>>) -> Option<&'a T> {
    match value {
        None => {
            ui.spinner();
            None
        }
        Some(Err(e)) => {
            ui.colored_label(theme::BAD, e);
            None
        }
        Some(Ok(v)) => Some(v),
    }
}

/// Which edge of a resizable panel its grip is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Top,
    Right,
}

/// A short bar drawn on a resizable panel's edge (where egui's resize handle is), so that a
/// person sees the panel can be dragged larger or smaller: the handle itself is invisible
/// until hovered.
pub fn resize_grip(ui: &egui::Ui, edge: Edge) {
    let rect = ui.max_rect();
    let color = super::theme::MUTED.gamma_multiply(0.8);
    let bar = match edge {
        Edge::Top => egui::Rect::from_center_size(
            egui::pos2(rect.center().x, rect.top() - 4.0),
            egui::vec2(36.0, 3.0),
        ),
        Edge::Right => egui::Rect::from_center_size(
            egui::pos2(rect.right() + 4.0, rect.center().y),
            egui::vec2(3.0, 36.0),
        ),
    };
    ui.ctx()
        .layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique(match edge {
                Edge::Top => "resize-grip-top",
                Edge::Right => "resize-grip-right",
            }),
        ))
        .rect_filled(bar, 2.0, color);
}

/// A platform the release does not ship this time: an amber NOT SHIPPED badge and the
/// record in words (drawn into `ui`, which the caller lays out).
pub fn not_shipped(ui: &mut egui::Ui, s: &crate::pipeline::skips::Skip) {
    super::theme::badge(ui, "NOT SHIPPED", super::theme::WARN);
    ui.label(format!(
        "{} is not shipped in {} this time: {} (recorded by {}, {})",
        s.platform.title(),
        s.version,
        s.reason,
        s.by,
        crate::local_time(s.at, false)
    ));
}

/// Checklist items named by their titles, quoted (`"Draft release notes", "Merge …"`), as a
/// person knows them; an id the selected release's runbook does not have stays as it is.
pub fn item_titles(data: &super::snapshot::Snapshot, ids: &[String]) -> String {
    ids.iter()
        .map(|id| {
            let title = data
                .current
                .as_ref()
                .and_then(|c| c.runbook.item(id))
                .map_or(id.as_str(), |i| i.title.as_str());
            format!("\"{title}\"")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
