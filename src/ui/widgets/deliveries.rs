//! Notification deliveries as rows (the incident card's and the Outbox's): where, what, when,
//! the service's answer, and Retry on the ones that failed, Send again on the ones that may
//! have arrived ("uncertain: maybe delivered").

use crate::notify::{Delivery, State};
use crate::ui::command::Command;
use crate::ui::theme;

fn color(state: State) -> egui::Color32 {
    match state {
        State::Sent | State::Local => theme::OK,
        State::Pending | State::Waiting | State::Sending => theme::INFO,
        State::Failed => theme::BAD,
        State::Uncertain => theme::WARN,
        State::Dropped => theme::MUTED,
    }
}

/// The badge a delivery shows: SENT, LOCAL, QUEUED, RETRYING, FAILED, UNCERTAIN, WITHDRAWN.
pub fn label(d: &Delivery) -> &'static str {
    match d.state {
        State::Sent => "SENT",
        State::Local => "KEPT LOCALLY",
        State::Pending if d.attempts > 0 => "RETRYING",
        State::Pending | State::Sending => "QUEUED",
        State::Waiting => "WAITING",
        State::Failed => "FAILED",
        State::Uncertain => "UNCERTAIN",
        State::Dropped => "WITHDRAWN",
    }
}

/// One row per delivery; a Retry button on each of this console's that failed, and "Send
/// again" on each that is uncertain (maybe delivered), push [`Command::RetryNotifications`]
/// with its id. Another console's says whose it is and has neither.
pub fn rows<'a>(
    ui: &mut egui::Ui,
    deliveries: impl IntoIterator<Item = &'a Delivery>,
    with_event: bool,
    commands: &mut Vec<Command>,
) {
    for d in deliveries {
        ui.horizontal_wrapped(|ui| {
            theme::badge(ui, label(d), color(d.state));
            ui.label(egui::RichText::new(d.target.label()).strong());
            if with_event {
                ui.label(theme::mono(&d.event.name));
            }
            let at = d.done_at.unwrap_or(d.queued_at);
            ui.label(theme::muted(crate::local_time(at, true)));
            if d.attempts > 1 {
                ui.label(theme::muted(format!("{} attempts", d.attempts)));
            }
            // Another console's (a shared workspace): shown, sent and retried by that one.
            if d.elsewhere {
                ui.label(theme::muted(format!("by {}", d.whose())));
            }
            if d.state == State::Uncertain {
                ui.label(egui::RichText::new(d.state.describe()).color(color(d.state)));
            }
            let button = if d.state == State::Uncertain {
                format!("Send again {}", d.target.label())
            } else {
                format!("Retry {}", d.target.label())
            };
            if d.state.needs_attention()
                && !d.elsewhere
                && ui
                    .button(button)
                    .on_hover_text(format!(
                        "{}{}",
                        d.id,
                        if d.state == State::Uncertain {
                            "\nIt may have arrived: send it again only if it did not."
                        } else {
                            ""
                        }
                    ))
                    .clicked()
            {
                commands.push(Command::RetryNotifications(vec![d.id.clone()]));
            }
        });
        if with_event {
            ui.label(&d.event.title);
        }
        if !d.answer.is_empty() && d.state != State::Local {
            let c = if d.state.needs_attention() {
                color(d.state)
            } else {
                theme::MUTED
            };
            ui.label(egui::RichText::new(&d.answer).color(c).small());
        }
    }
}

/// Deliveries on one wrapped line (badge and destination each); those that need a person get
/// a line of their own with the answer and Retry.
pub fn chips(ui: &mut egui::Ui, deliveries: &[&Delivery], commands: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new("Told:").strong());
        for d in deliveries.iter().filter(|d| !d.state.needs_attention()) {
            theme::badge(ui, label(d), color(d.state)).on_hover_text(format!(
                "{} · {}{}",
                d.event.name,
                crate::local_time(d.done_at.unwrap_or(d.queued_at), true),
                if d.answer.is_empty() {
                    String::new()
                } else {
                    format!("\n{}", d.answer)
                }
            ));
            ui.label(d.target.label());
        }
    });
    let failed: Vec<&Delivery> = deliveries
        .iter()
        .copied()
        .filter(|d| d.state.needs_attention())
        .collect();
    rows(ui, failed, false, commands);
}
