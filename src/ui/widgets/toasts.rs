//! Toasts: successes and notes appear for a few seconds in the bottom-right corner of the
//! panel, then leave by themselves; errors never float over a panel: they collect behind one
//! counter in the header ("2 errors"), which opens their list, and stay until dismissed or
//! answered (a later success about the same topic, e.g. a verify that passes after one that
//! failed, clears the failure).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::ui::theme;

/// How long a success or a note stays.
const INFO_TTL: Duration = Duration::from_secs(5);
/// How many successes and notes float at once (the oldest leaves first).
const MAX_FLOATING: usize = 3;
/// How many errors are kept (the oldest goes first).
const MAX_ERRORS: usize = 50;
/// How long the newest error's text shows beside the counter.
const FRESH: Duration = Duration::from_secs(8);

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
    /// What it is about (a task, a panel's action): a success about the same topic answers
    /// an error about it, and a new error about it replaces the older one.
    pub topic: Option<String>,
    /// How many times this error came (replaced by a newer one about the same topic).
    pub times: u32,
    /// When it came, for the list of errors.
    pub at: jiff::Timestamp,
    created: Instant,
}

/// The toasts: floating successes and notes, and the errors behind the header's counter.
#[derive(Debug, Default)]
pub struct Toasts {
    /// Every toast still shown, oldest first; errors among them until dismissed or answered.
    items: Vec<Toast>,
    /// Whether the list of errors is open.
    pub errors_open: bool,
}

impl Toasts {
    pub fn push(&mut self, kind: ToastKind, text: impl Into<String>) {
        self.push_about(kind, None, text);
    }

    /// A toast about `topic`: a success clears the errors about it, an error replaces the one
    /// about it (counting how many times it came).
    pub fn push_about(&mut self, kind: ToastKind, topic: Option<String>, text: impl Into<String>) {
        let mut times = 1;
        if let Some(t) = &topic {
            match kind {
                ToastKind::Success => self.resolve(t),
                ToastKind::Error => {
                    if let Some(i) = self
                        .items
                        .iter()
                        .position(|x| x.kind == ToastKind::Error && x.topic.as_ref() == Some(t))
                    {
                        times += self.items.remove(i).times;
                    }
                }
                ToastKind::Info => {}
            }
        }
        self.items.push(Toast {
            kind,
            text: text.into(),
            topic,
            times,
            at: jiff::Timestamp::now(),
            created: Instant::now(),
        });
        // The oldest of a kind leaves first.
        let floating = self.floating().count();
        if floating > MAX_FLOATING
            && let Some(i) = self.items.iter().position(|t| t.kind != ToastKind::Error)
        {
            self.items.remove(i);
        }
        if self.errors().count() > MAX_ERRORS
            && let Some(i) = self.items.iter().position(|t| t.kind == ToastKind::Error)
        {
            self.items.remove(i);
        }
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.push(ToastKind::Error, text);
    }

    /// Clears the errors about `topic` (it succeeded since).
    pub fn resolve(&mut self, topic: &str) {
        self.items
            .retain(|t| t.kind != ToastKind::Error || t.topic.as_deref() != Some(topic));
        if self.errors().next().is_none() {
            self.errors_open = false;
        }
    }

    /// Every toast still shown, errors included, oldest first.
    pub fn items(&self) -> &[Toast] {
        &self.items
    }

    /// The errors not yet dismissed or answered, oldest first.
    pub fn errors(&self) -> impl Iterator<Item = &Toast> {
        self.items.iter().filter(|t| t.kind == ToastKind::Error)
    }

    /// The successes and notes floating in the corner, oldest first.
    pub fn floating(&self) -> impl Iterator<Item = &Toast> {
        self.items.iter().filter(|t| t.kind != ToastKind::Error)
    }

    /// Drops every error.
    pub fn dismiss_errors(&mut self) {
        self.items.retain(|t| t.kind != ToastKind::Error);
        self.errors_open = false;
    }

    /// The counter's text: "1 error", "3 errors".
    pub fn counter_label(n: usize) -> String {
        if n == 1 {
            "1 error".to_owned()
        } else {
            format!("{n} errors")
        }
    }

    /// Draws the successes and notes at the bottom right of `over` (the panel's area), where
    /// they cover the least, and drops those that have been there long enough.
    pub fn show(&mut self, ctx: &egui::Context, over: egui::Rect) {
        self.items
            .retain(|t| t.kind == ToastKind::Error || t.created.elapsed() < INFO_TTL);
        if self.floating().next().is_none() {
            return;
        }
        let mut dismiss = None;
        // Each its own area, stacked up from the corner, the newest nearest it: right edges
        // align whatever their widths.
        let mut bottom = over.right_bottom() - egui::vec2(16.0, 12.0);
        for (i, t) in self.items.iter().enumerate().rev() {
            if t.kind == ToastKind::Error {
                continue;
            }
            let color = match t.kind {
                ToastKind::Success => theme::OK,
                ToastKind::Info | ToastKind::Error => theme::INFO,
            };
            let area = egui::Area::new(egui::Id::unique(("toast", t.created)))
                .pivot(egui::Align2::RIGHT_BOTTOM)
                .fixed_pos(bottom)
                .order(egui::Order::Foreground)
                .show(ctx, |ui| {
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(1.5, color))
                        .show(ui, |ui| {
                            // Wrapped: an unwrapped long message would stretch the toast
                            // across the window, over the navigation.
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
                });
            bottom.y -= area.response.rect.height() + 6.0;
        }
        if let Some(i) = dismiss {
            self.items.remove(i);
        }
        // They expire on their own: wake up to remove them.
        ctx.request_repaint_after(Duration::from_millis(500));
    }

    /// The error counter, for the header: nothing without errors; else a red "N errors"
    /// button (with the newest error's text beside it for a few seconds after it came) that
    /// opens their list below the header. Nothing here floats over a panel unless asked for.
    pub fn indicator(&mut self, ui: &mut egui::Ui) {
        let n = self.errors().count();
        if n == 0 {
            self.errors_open = false;
            return;
        }
        let counter = ui
            .add(
                egui::Button::new(
                    egui::RichText::new(Self::counter_label(n))
                        .color(theme::BAD)
                        .strong(),
                )
                .small()
                .stroke(egui::Stroke::new(
                    if self.errors_open { 2.0 } else { 1.0 },
                    theme::BAD,
                )),
            )
            .on_hover_text("Show the errors");
        if counter.clicked() {
            self.errors_open = !self.errors_open;
        }
        if let Some(newest) = self.errors().last()
            && newest.created.elapsed() < FRESH
            && !self.errors_open
        {
            let text = newest.text.lines().next().unwrap_or_default();
            ui.add(
                egui::Label::new(egui::RichText::new(text).color(theme::BAD))
                    .truncate()
                    .sense(egui::Sense::hover()),
            )
            .on_hover_text(&newest.text);
            // The text leaves once it is no longer fresh.
            ui.ctx().request_repaint_after(FRESH);
        }
        if self.errors_open {
            self.error_list(ui.ctx(), counter.rect);
        }
    }

    /// The list of errors, newest first, under the counter at `below`.
    fn error_list(&mut self, ctx: &egui::Context, below: egui::Rect) {
        let mut dismiss = None;
        let mut dismiss_all = false;
        let mut close = false;
        let right = ctx.content_rect().right() - 8.0;
        egui::Area::new(egui::Id::unique("error-list"))
            .pivot(egui::Align2::RIGHT_TOP)
            .fixed_pos(egui::pos2(right, below.bottom() + 6.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style())
                    .stroke(egui::Stroke::new(1.5, theme::BAD))
                    .show(ui, |ui| {
                        ui.set_max_width(520.0);
                        ui.horizontal(|ui| {
                            ui.label(egui::RichText::new("Errors").strong());
                            ui.label(theme::muted(
                                "kept until dismissed, or until the same work succeeds",
                            ));
                        });
                        egui::ScrollArea::vertical()
                            .max_height(320.0)
                            .show(ui, |ui| {
                                for (i, t) in self.items.iter().enumerate().rev() {
                                    if t.kind != ToastKind::Error {
                                        continue;
                                    }
                                    ui.separator();
                                    ui.horizontal_top(|ui| {
                                        ui.set_max_width(500.0);
                                        let mut when = crate::local_time(t.at, true);
                                        if t.times > 1 {
                                            let _ = write!(when, " ({} times)", t.times);
                                        }
                                        ui.label(theme::muted(when));
                                        ui.add(
                                            egui::Label::new(
                                                egui::RichText::new(&t.text).color(theme::BAD),
                                            )
                                            .wrap(),
                                        );
                                        if ui.small_button("×").on_hover_text("Dismiss").clicked()
                                        {
                                            dismiss = Some(i);
                                        }
                                    });
                                }
                            });
                        ui.separator();
                        ui.horizontal(|ui| {
                            if ui.button("Dismiss all").clicked() {
                                dismiss_all = true;
                            }
                            if ui.button("Close").clicked() {
                                close = true;
                            }
                        });
                    });
            });
        if let Some(i) = dismiss {
            self.items.remove(i);
        }
        if dismiss_all {
            self.dismiss_errors();
        }
        if close {
            self.errors_open = false;
        }
    }
}
