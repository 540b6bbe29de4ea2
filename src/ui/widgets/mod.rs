//! Small reusable widgets.

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
