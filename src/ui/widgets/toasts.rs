//! Toasts: finished tasks and errors appear in the corner; errors stay until dismissed.

use std::time::{Duration, Instant};

use crate::ui::theme;

const INFO_TTL: Duration = Duration::from_secs(6);
const MAX_TOASTS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Info,
    Error,
}

#[derive(Debug, Clone)]
pub struct Toast {
    pub kind: ToastKind,
    pub text: String,
    created: Instant,
}

/// The toast queue.
#[derive(Debug, Default)]
pub struct Toasts {
    items: Vec<Toast>,
}

impl Toasts {
    pub fn push(&mut self, kind: ToastKind, text: impl Into<String>) {
        self.items.push(Toast {
            kind,
            text: text.into(),
            created: Instant::now(),
        });
        if self.items.len() > MAX_TOASTS {
            // Drop the oldest non-error first, so errors are not pushed out by chatter.
            let pos = self
                .items
                .iter()
                .position(|t| t.kind != ToastKind::Error)
                .unwrap_or(0);
            self.items.remove(pos);
        }
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.push(ToastKind::Error, text);
    }

    pub fn items(&self) -> &[Toast] {
        &self.items
    }

    /// Draws the toasts in the top-right corner.
    pub fn show(&mut self, ctx: &egui::Context) {
        self.items
            .retain(|t| t.kind == ToastKind::Error || t.created.elapsed() < INFO_TTL);
        if self.items.is_empty() {
            return;
        }
        let mut dismiss = None;
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-12.0, 40.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                ui.set_max_width(380.0);
                for (i, t) in self.items.iter().enumerate() {
                    let color = match t.kind {
                        ToastKind::Success => theme::OK,
                        ToastKind::Info => theme::INFO,
                        ToastKind::Error => theme::BAD,
                    };
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(1.5, color))
                        .show(ui, |ui| {
                            // Wrapped at the area's width: an unwrapped long message would
                            // stretch the toast across the window, over the navigation.
                            ui.horizontal_top(|ui| {
                                ui.set_max_width(360.0);
                                ui.add(
                                    egui::Label::new(egui::RichText::new(&t.text).color(color))
                                        .wrap(),
                                );
                                if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                                    dismiss = Some(i);
                                }
                            });
                        });
                }
            });
        if let Some(i) = dismiss {
            self.items.remove(i);
        }
        // Info toasts expire on their own: wake up to remove them.
        ctx.request_repaint_after(Duration::from_millis(500));
    }
}
