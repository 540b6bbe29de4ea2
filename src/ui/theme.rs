//! Colours and text styles. Panels use these names, never literal colours.
#![expect(
    clippy::disallowed_methods,
    reason = "the one place colours are defined; panels use these names"
)]

use egui::{Color32, RichText};

use crate::runner::TaskState;
use crate::status::Severity;

/// Green: done, passed, succeeded.
pub const OK: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);
/// Amber: waiting, blocked, cannot verify here.
pub const WARN: Color32 = Color32::from_rgb(0xd2, 0x99, 0x22);
/// Red: failed, broken, tampered.
pub const BAD: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);
/// Blue: running, informational.
pub const INFO: Color32 = Color32::from_rgb(0x58, 0xa6, 0xff);
/// Grey: secondary text, not started.
pub const MUTED: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);
/// No paint: an empty progress bar's fill (egui draws a dot for 0 otherwise).
pub const NONE: Color32 = Color32::TRANSPARENT;

/// Applies the console's look to the context (dark, slightly larger text).
pub fn apply(ctx: &egui::Context) {
    ctx.set_theme(egui::Theme::Dark);
    ctx.global_style_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(8.0, 4.0);
    });
}

/// A small coloured label such as `SUCCEEDED`.
pub fn badge(ui: &mut egui::Ui, text: &str, color: Color32) -> egui::Response {
    egui::Frame::new()
        .fill(color.gamma_multiply(0.18))
        .stroke(egui::Stroke::new(1.0, color))
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(text).color(color).small().strong())
        })
        .response
}

pub fn heading(text: &str) -> RichText {
    RichText::new(text).heading().strong()
}

pub fn muted(text: impl Into<String>) -> RichText {
    RichText::new(text).color(MUTED)
}

pub fn mono(text: impl Into<String>) -> RichText {
    RichText::new(text).monospace()
}

/// A task state's colour: blue running, green succeeded, red failed, amber cancelled.
pub fn task_state(state: TaskState) -> Color32 {
    match state {
        TaskState::Queued => MUTED,
        TaskState::Running => INFO,
        TaskState::Succeeded => OK,
        TaskState::Failed => BAD,
        TaskState::Cancelled => WARN,
    }
}

/// An incident severity's colour: P0/P1 red, P2 amber, P3 blue (informational).
pub fn severity(s: Severity) -> Color32 {
    match s {
        Severity::P0 | Severity::P1 => BAD,
        Severity::P2 => WARN,
        Severity::P3 => INFO,
    }
}

/// A status page status's colour (component, incident or maintenance status).
pub fn page_status(status: &str) -> Color32 {
    match status {
        "operational" | "resolved" | "completed" => OK,
        "degraded_performance"
        | "monitoring"
        | "identified"
        | "under_maintenance"
        | "scheduled"
        | "in_progress"
        | "verifying" => WARN,
        "partial_outage" | "major_outage" | "investigating" => BAD,
        _ => MUTED,
    }
}

/// A field's change in an audit entry: amber changed, green added, red removed, grey unchanged.
pub fn field_change(kind: crate::audit::diff::Kind) -> Color32 {
    use crate::audit::diff::Kind;
    match kind {
        Kind::Changed => WARN,
        Kind::Added => OK,
        Kind::Removed => BAD,
        Kind::Unchanged => MUTED,
    }
}
