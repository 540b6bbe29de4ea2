//! The Metrics panel: WireTuner's operations runbook's four ops metrics over a chosen window, each
//! as a figure with its target, a chart with the target drawn as a line, and the records it came
//! from; and below them its quarterly review: backup and restore drills against their RTO and
//! RPO, the false-positive rate of pages, and flags past their retirement date, each with its
//! target, its records as rows, and "too few to judge" below its minimum.

use super::panel::{Cx, Panel, Pending};
use super::snapshot::Snapshot;
use super::theme;
use crate::metrics::{self, Metrics};

/// The windows the panel offers, in days.
pub const WINDOWS: [u64; 4] = [30, 90, 180, 365];

/// Metrics panel state: the window, the figures and when they were computed.
#[derive(Debug)]
pub struct MetricsUi {
    pub window_days: u64,
    pub metrics: Option<Result<Metrics, String>>,
    fetch: Pending<Metrics>,
    /// The audit log length and window the figures are for: every change is audited, so a
    /// longer log means the figures may be stale.
    computed_for: Option<(usize, u64)>,
}

impl Default for MetricsUi {
    fn default() -> Self {
        Self {
            window_days: 180,
            metrics: None,
            fetch: Pending::default(),
            computed_for: None,
        }
    }
}

fn verdict(ui: &mut egui::Ui, meets: Option<bool>, records: usize) {
    verdict_from(ui, meets, records, metrics::MIN_RECORDS_TO_JUDGE);
}

fn verdict_from(ui: &mut egui::Ui, meets: Option<bool>, records: usize, needed: usize) {
    match metrics::verdict_from(meets, records, needed) {
        metrics::Verdict::Meets => theme::badge(ui, "MEETS TARGET", theme::OK),
        metrics::Verdict::Misses => theme::badge(ui, "MISSES TARGET", theme::BAD),
        metrics::Verdict::TooFew { records, needed } => {
            theme::badge(ui, "TOO FEW TO JUDGE", theme::WARN).on_hover_text(format!(
                "From {records} record{}; at least {needed} are needed to judge it against its \
                 target",
                if records == 1 { "" } else { "s" }
            ))
        }
        metrics::Verdict::NoData => theme::badge(ui, "NO DATA", theme::MUTED),
    };
}

/// An x axis that names bar `i` by `names[i]` (a version, a flag key).
fn named_x(
    names: Vec<String>,
) -> impl Fn(egui_plot::GridMark, &std::ops::RangeInclusive<f64>) -> String {
    move |mark, _| {
        let i = mark.value.round();
        if (mark.value - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a non-negative whole number of bars, far below usize::MAX"
        )]
        names.get(i as usize).cloned().unwrap_or_default()
    }
}

fn plot(id: &str, y_label: &str) -> egui_plot::Plot<'static> {
    egui_plot::Plot::new(id.to_owned())
        .height(130.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .include_y(0.0)
        .y_axis_label(y_label.to_owned())
}

impl Panel for MetricsUi {
    fn logic(&mut self, _cx: &mut Cx<'_>) {
        if let Some(result) = self.fetch.poll() {
            self.metrics = Some(result);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }

    fn is_busy(&self) -> bool {
        self.fetch.is_running()
    }
}

/// What the drawing asks the panel to do once the frame's widgets are drawn.
#[derive(Clone, Copy)]
enum Action {
    /// Compute the figures for this audit log length and window (they are stale or missing).
    Compute((usize, u64)),
}

impl MetricsUi {
    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::Compute(key) => {
                self.computed_for = Some(key);
                let ws = cx.snapshot.ws.clone();
                let window = std::time::Duration::from_secs(key.1 * 86_400);
                cx.fetch_blocking(&mut self.fetch, move || {
                    metrics::compute(&ws, window, jiff::Timestamp::now())
                });
            }
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        let key = (data.audit.len(), self.window_days);
        if self.computed_for != Some(key) && !self.fetch.is_running() {
            actions.push(Action::Compute(key));
        }
        ui.label(theme::heading("Ops metrics"));
        ui.horizontal(|ui| {
            ui.label("Window");
            for days in WINDOWS {
                ui.selectable_value(&mut self.window_days, days, format!("{days} days"));
            }
            if self.fetch.is_running() {
                ui.spinner();
            }
        });
        let m = match &self.metrics {
            None => {
                ui.label(theme::muted("Computing…"));
                return;
            }
            Some(Err(e)) => {
                ui.colored_label(theme::BAD, format!("Cannot compute the metrics: {e}"));
                return;
            }
            Some(Ok(m)) => m,
        };
        ui.label(theme::muted(format!(
            "From {} to {}, computed from the workspace's own records.",
            crate::local_time(m.since, false),
            crate::local_time(m.until, false)
        )));
        ui.add_space(6.0);
        // Two cards a row, narrower in a narrow window (a 1024-wide one) rather than cut.
        let card = ((ui.available_width() - CARD_GAP) / 2.0).clamp(280.0, CARD_WIDTH);
        egui::Grid::new("metrics-cards")
            .num_columns(2)
            .spacing([CARD_GAP, 16.0])
            .show(ui, |ui| {
                for (i, draw) in [frequency, mttr, success, lifespan].into_iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.set_width(card);
                        draw(ui, m);
                    });
                    if i % 2 == 1 {
                        ui.end_row();
                    }
                }
            });
        ui.add_space(12.0);
        ui.separator();
        ui.label(theme::heading("Quarterly review"));
        ui.label(theme::muted(
            "What WireTuner's operations documentation reviews each quarter, from the same \
             window.",
        ));
        ui.add_space(6.0);
        drills(ui, m, (2.0 * card + CARD_GAP).min(ui.available_width()));
        ui.add_space(12.0);
        egui::Grid::new("metrics-quarterly")
            .num_columns(2)
            .spacing([CARD_GAP, 16.0])
            .show(ui, |ui| {
                for draw in [false_positives, retirement] {
                    ui.vertical(|ui| {
                        ui.set_width(card);
                        draw(ui, m);
                    });
                }
                ui.end_row();
            });
    }
}

fn minutes(secs: f64) -> String {
    crate::human_duration(std::time::Duration::from_secs_f64(secs.max(0.0)))
}

/// A badge for a within/over verdict of one record (`None`: not judged, with why).
fn within_badge(ui: &mut egui::Ui, within: Option<bool>, not_judged: &str) {
    match within {
        Some(true) => theme::badge(ui, "WITHIN", theme::OK),
        Some(false) => theme::badge(ui, "OVER", theme::BAD),
        None => theme::badge(ui, "NOT JUDGED", theme::MUTED).on_hover_text(not_judged),
    };
}

/// Backup and restore drills: the RTO and RPO verdicts, then a row per run.
fn drills(ui: &mut egui::Ui, m: &Metrics, width: f32) {
    let d = &m.drills;
    ui.vertical(|ui| {
        ui.set_width(width);
        ui.label(egui::RichText::new("Backup and restore drills").strong());
        ui.horizontal_wrapped(|ui| {
            ui.label(
                egui::RichText::new(format!("RTO: {} of {} within", d.rto_within, d.rto_judged))
                    .size(18.0),
            );
            verdict_from(ui, d.rto_meets_target, d.rto_judged, d.min_records);
            ui.add_space(16.0);
            ui.label(
                egui::RichText::new(format!("RPO: {} of {} within", d.rpo_within, d.rpo_judged))
                    .size(18.0),
            );
            verdict_from(ui, d.rpo_meets_target, d.rpo_judged, d.min_records);
            if d.rpo_unknown > 0 {
                ui.label(theme::muted(format!(
                    "({} restore{} with the snapshot's age unknown)",
                    d.rpo_unknown,
                    if d.rpo_unknown == 1 { "" } else { "s" }
                )));
            }
        });
        ui.label(theme::muted(
            "Target: every run within its RTO, every restore's snapshot younger than its RPO \
             when the restore began.",
        ));
        if d.runs.is_empty() {
            ui.label(theme::muted(
                "No procedure run in the window (Runbooks runs them).",
            ));
        }
        // Wider than a narrow window: scrolled sideways rather than cut.
        egui::ScrollArea::horizontal()
            .id_salt("metrics-drills-scroll")
            .show(ui, |ui| drill_rows(ui, &d.runs));
        let demo = d.runs.iter().filter(|r| r.demo_history.is_some()).count();
        if demo > 0 {
            ui.label(theme::muted(format!(
                "{demo} of these runs are the demo workspace's made-up history: nothing ran."
            )));
        }
        let stand_ins = d
            .runs
            .iter()
            .filter(|r| r.stand_ins && r.demo_history.is_none())
            .count();
        if stand_ins > 0 {
            ui.label(theme::muted(format!(
                "{stand_ins} of these runs ran against stand-ins ([dr] stand_ins), not the real \
                 programs."
            )));
        }
        ui.label(theme::muted(format!("from {}", d.source)));
    });
}

/// A row per run: when and which procedure, its duration against its RTO, its snapshot's age
/// against its RPO.
fn drill_rows(ui: &mut egui::Ui, runs: &[crate::dr::history::Run]) {
    egui::Grid::new("metrics-drills")
        .num_columns(3)
        .spacing([12.0, 4.0])
        .striped(true)
        .show(ui, |ui| {
            for r in runs {
                ui.label(format!(
                    "{}  {}",
                    crate::local_time(r.first_step, false),
                    r.procedure
                ))
                .on_hover_text(format!(
                    "{}{}{}",
                    r.title,
                    if r.stand_ins {
                        " (ran against stand-ins, not the real programs)"
                    } else {
                        ""
                    },
                    r.demo_history
                        .as_deref()
                        .map(|w| format!("; {w}"))
                        .unwrap_or_default()
                ));
                ui.horizontal(|ui| {
                    match (r.took_secs(), r.rto_minutes) {
                        (Some(took), Some(rto)) => {
                            ui.label(format!("took {} of {rto} min RTO", minutes(took)));
                        }
                        _ => {
                            ui.label(r.outcome.as_ref().map_or_else(
                                || "procedure no longer known".to_owned(),
                                crate::dr::Outcome::summary,
                            ));
                        }
                    }
                    within_badge(
                        ui,
                        r.within_rto(),
                        "Judged only for a run whose every step succeeded",
                    );
                });
                ui.horizontal(|ui| match &r.restore {
                    None => {
                        ui.label(theme::muted("no snapshot restored"));
                    }
                    Some(x) => {
                        match x.age_secs {
                            Some(age) => ui.label(format!(
                                "snapshot {} old{}",
                                minutes(age),
                                x.snapshot
                                    .rpo_minutes
                                    .map(|m| format!(" of {m} min RPO"))
                                    .unwrap_or_default()
                            )),
                            None => ui.label("snapshot age unknown"),
                        }
                        .on_hover_text(format!(
                            "{}: {}",
                            x.snapshot.id,
                            x.snapshot.taken_at_from.as_deref().map_or(
                                "its name carries no time, so when it was taken is not known",
                                |from| from
                            )
                        ));
                        within_badge(
                            ui,
                            x.within_rpo,
                            "The snapshot's time is unknown: its name carries none",
                        );
                    }
                });
                ui.end_row();
            }
        });
}

fn false_positives(ui: &mut egui::Ui, m: &Metrics) {
    let f = &m.false_positives;
    let figure = f.rate.map_or_else(
        || "no resolution said".to_owned(),
        |r| {
            format!(
                "{:.0}% false positives ({} of {})",
                r * 100.0,
                f.false_positives,
                f.with_resolution
            )
        },
    );
    ui.label(egui::RichText::new("Alert fatigue").strong());
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(figure).size(18.0));
        verdict_from(ui, f.meets_target, f.with_resolution, f.min_records);
    });
    if f.paged_false_positives > 0 {
        ui.label(format!(
            "{} of the false positives paged on-call",
            f.paged_false_positives
        ));
    }
    ui.label(theme::muted(format!(
        "Target: at most {:.0}% of pages and incidents resolved as no-impact or false-alarm (the console's \
         figure: the runbook names none); judged from {} resolutions.",
        f.target * 100.0,
        f.min_records
    )));
    egui::Grid::new("metrics-false-positives")
        .num_columns(4)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            for p in &f.pages {
                ui.label(&p.id).on_hover_text(&p.name);
                ui.label(p.severity.as_str());
                ui.label(theme::muted(if p.paged { "paged" } else { "" }));
                match p.resolution {
                    Some(r) if r.is_false_positive() => {
                        ui.colored_label(theme::WARN, r.as_str());
                    }
                    Some(r) => {
                        ui.label(r.as_str());
                    }
                    None => {
                        ui.label(theme::muted("not said (not counted)"));
                    }
                }
                ui.end_row();
            }
        });
    ui.label(theme::muted(format!("from {}", f.source)));
}

fn retirement(ui: &mut egui::Ui, m: &Metrics) {
    let r = &m.flag_retirement;
    ui.label(egui::RichText::new("Flags past their retirement date").strong());
    ui.horizontal_wrapped(|ui| {
        ui.label(
            egui::RichText::new(format!("{} of {} live flags", r.past_due, r.flags.len()))
                .size(18.0),
        );
        verdict(ui, r.meets_target, r.flags.len());
    });
    ui.label(theme::muted(format!(
        "Target: no flag past its date; a flag is retired (removed from code and archived) {} days after it \
         reached 100%.",
        r.retire_after_days
    )));
    egui::Grid::new("metrics-retirement")
        .num_columns(2)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            for f in &r.flags {
                ui.label(&f.key);
                if f.days_past >= 0.0 {
                    ui.colored_label(
                        theme::WARN,
                        format!(
                            "{:.0} days past its date ({})",
                            f.days_past,
                            crate::local_time(f.retire_by, false)
                        ),
                    );
                } else {
                    ui.label(format!(
                        "retire by {}",
                        crate::local_time(f.retire_by, false)
                    ));
                }
                ui.end_row();
            }
        });
    ui.label(theme::muted(format!("from {}", r.source)));
}

const CARD_WIDTH: f32 = 440.0;
const CARD_GAP: f32 = 24.0;

/// A bar per record, `i`-th at x = `i`: its height, its name on hover and its colour.
fn bars_of(bars: impl Iterator<Item = (f64, String, egui::Color32)>) -> Vec<egui_plot::Bar> {
    bars.enumerate()
        .map(|(i, (height, name, fill))| {
            egui_plot::Bar::new(i as f64, height).name(name).fill(fill)
        })
        .collect()
}

/// A chart of days per record (`id`, with its y axis label), each bar named on the x axis by
/// `names`, and the target in days as a green line.
fn days_chart(
    ui: &mut egui::Ui,
    (id, y_label): (&str, &str),
    chart: egui_plot::BarChart,
    names: Vec<String>,
    target_days: f64,
) {
    plot(id, y_label)
        .x_axis_formatter(named_x(names))
        .show(ui, |p| {
            p.bar_chart(chart);
            p.hline(
                egui_plot::HLine::new(format!("target {target_days} days"), target_days)
                    .color(theme::OK),
            );
        });
}

/// A card's title, its figure with the number of records it comes from, and its verdict.
fn card_head(
    ui: &mut egui::Ui,
    title: &str,
    figure: String,
    (meets, records, what): (Option<bool>, usize, &str),
) {
    ui.label(egui::RichText::new(title).strong());
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(figure).size(18.0));
        if records > 0 {
            ui.label(theme::muted(format!(
                "from {records} {what}{}",
                if records == 1 { "" } else { "s" }
            )));
        }
        verdict(ui, meets, records);
    });
}

fn frequency(ui: &mut egui::Ui, m: &Metrics) {
    let f = &m.release_frequency;
    let figure = f.mean_interval_days.map_or_else(
        || "fewer than two releases".to_owned(),
        |d| format!("every {d:.1} days"),
    );
    card_head(
        ui,
        "Release frequency",
        figure,
        (f.meets_target, f.intervals_days.len(), "interval"),
    );
    let bars = f
        .intervals_days
        .iter()
        .zip(f.releases.iter().skip(1))
        .map(|(d, r)| (*d, format!("{} after {d:.1} days", r.0), theme::INFO));
    let names = f.releases.iter().skip(1).map(|r| r.0.clone()).collect();
    days_chart(
        ui,
        ("metrics-frequency", "days since the last"),
        egui_plot::BarChart::new("interval", bars_of(bars)).color(theme::INFO),
        names,
        f.target_days,
    );
    ui.label(theme::muted(format!("from {}", f.source)));
}

fn mttr(ui: &mut egui::Ui, m: &Metrics) {
    let p1 = m.mttr.iter().find(|s| s.target_hours.is_some());
    let figure = p1.and_then(|s| s.mean_hours).map_or_else(
        || "no P1 resolved".to_owned(),
        |h| format!("P1 in {h:.1} h"),
    );
    card_head(
        ui,
        "Incident MTTR",
        figure,
        (
            p1.and_then(|s| s.meets_target),
            p1.map_or(0, |s| s.resolved),
            "resolved P1",
        ),
    );
    let bars: Vec<egui_plot::Bar> = m
        .mttr
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let h = s.mean_hours?;
            Some(
                egui_plot::Bar::new(i as f64, h)
                    .name(format!(
                        "{}: {h:.1} h over {} resolved",
                        s.severity.as_str(),
                        s.resolved
                    ))
                    .fill(theme::severity(s.severity)),
            )
        })
        .collect();
    plot("metrics-mttr", "hours")
        // A bar per severity at its index, named only at whole marks: with one bar the
        // axis zooms in and every fractional mark would round to its name.
        .x_axis_formatter(named_x(
            m.mttr
                .iter()
                .map(|s| s.severity.as_str().to_owned())
                .collect(),
        ))
        .show(ui, |p| {
            p.bar_chart(egui_plot::BarChart::new("mttr", bars));
            if let Some(t) = p1.and_then(|s| s.target_hours) {
                p.hline(egui_plot::HLine::new(format!("P1 target {t} h"), t).color(theme::OK));
            }
        });
    let counts: Vec<String> = m
        .mttr
        .iter()
        .map(|s| {
            format!(
                "{} {}/{}",
                s.severity.as_str(),
                s.resolved,
                s.resolved + s.open
            )
        })
        .collect();
    ui.label(theme::muted(format!(
        "resolved/all: {} · from {}",
        counts.join(", "),
        m.mttr_source
    )));
}

fn success(ui: &mut egui::Ui, m: &Metrics) {
    let d = &m.deployment_success;
    let figure = d.rate.map_or_else(
        || "no releases".to_owned(),
        |r| format!("{:.1}%", r * 100.0),
    );
    card_head(
        ui,
        "Deployment success rate",
        figure,
        (d.meets_target, d.releases.len(), "release"),
    );
    // The rate as it stood after each release, oldest first.
    let mut good = 0usize;
    let points: Vec<[f64; 2]> = d
        .releases
        .iter()
        .enumerate()
        .map(|(i, o)| {
            good += usize::from(o.failures.is_empty());
            [i as f64, good as f64 * 100.0 / (i as f64 + 1.0)]
        })
        .collect();
    let names = d.releases.iter().map(|o| o.version.clone()).collect();
    plot("metrics-success", "% successful")
        .x_axis_formatter(named_x(names))
        .include_y(100.0)
        .show(ui, |p| {
            p.line(egui_plot::Line::new("success rate", points).color(theme::INFO));
            p.hline(
                egui_plot::HLine::new(format!("target {:.0}%", d.target * 100.0), d.target * 100.0)
                    .color(theme::OK),
            );
        });
    for o in d.releases.iter().filter(|o| !o.failures.is_empty()) {
        ui.label(format!("{}: {}", o.version, o.failures.join(", ")));
    }
    ui.label(theme::muted(format!("from {}", d.source)));
}

fn lifespan(ui: &mut egui::Ui, m: &Metrics) {
    let l = &m.flag_lifespan;
    let figure = l
        .mean_days
        .map_or_else(|| "no flag retired".to_owned(), |d| format!("{d:.0} days"));
    card_head(
        ui,
        "Feature flag lifespan",
        figure,
        (l.meets_target, l.retired.len(), "retired flag"),
    );
    let bars = l.retired.iter().map(|(key, days)| {
        let fill = if *days < l.target_days {
            theme::INFO
        } else {
            theme::WARN
        };
        (*days, format!("{key}: {days:.0} days"), fill)
    });
    let names = l.retired.iter().map(|r| r.0.clone()).collect();
    days_chart(
        ui,
        ("metrics-lifespan", "days lived"),
        egui_plot::BarChart::new("lifespan", bars_of(bars)),
        names,
        l.target_days,
    );
    for (key, days) in &l.live_over_target {
        ui.colored_label(
            theme::WARN,
            format!("{key}: live for {days:.0} days, over the target"),
        );
    }
    ui.label(theme::muted(format!("from {}", l.source)));
}
