//! Frame-time measurement of the task tray with a huge log (used by `release-console bench`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::tray::TrayUi;
use crate::runner::{LogBuffer, TaskId, TaskInfo, TaskSnapshot, TaskState};

/// Median, 95th percentile and worst frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameStats {
    pub median: Duration,
    pub p95: Duration,
    pub max: Duration,
    /// Shapes painted in the last frame (proof that the visible rows were laid out).
    pub shapes: usize,
}

/// Times `frames` egui frames (layout + tessellation, no GPU) of the tray showing a running
/// task with `lines` log lines, following the tail as a real build log does; every frame also
/// appends a line, so the view never sits on a cached frame.
pub fn tray_frame_times(lines: u64, frames: usize) -> FrameStats {
    let mut log = LogBuffer::default();
    for i in 0..lines {
        log.push(&format!(
            "[build] {i:>8} compiling src/render/path_tessellator.rs ... ok (1234 bytes)"
        ));
    }
    let log = Arc::new(Mutex::new(log));
    let task = TaskSnapshot {
        info: TaskInfo {
            id: TaskId(1),
            name: "pipeline-windows".into(),
            kind: "pipeline.windows".into(),
            release: None,
        },
        state: TaskState::Running,
        elapsed: Duration::from_secs(42),
        progress: Some(0.5),
        step: Some("Code signing".into()),
        message: None,
        log: log.clone(),
        log_file: None,
        steps: Vec::new(),
    };
    let tasks = vec![task];
    let ctx = egui::Context::default();
    let mut tray = TrayUi::default();
    let mut commands = Vec::new();
    let mut times = Vec::with_capacity(frames);
    let mut shapes = 0;
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    // Warm-up: fonts and galley caches.
    for _ in 0..5 {
        let _ = ctx.run_ui(input(), |ui| tray.ui(ui, &tasks, &mut commands));
    }
    for n in 0..frames {
        if let Ok(mut l) = log.lock() {
            l.push(&format!("[build] new line {n}"));
        }
        let start = Instant::now();
        let out = ctx.run_ui(input(), |ui| tray.ui(ui, &tasks, &mut commands));
        shapes = out.shapes.len();
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
        times.push(start.elapsed());
    }
    times.sort_unstable();
    // The sample nearest to quantile `q` (0..=1).
    let at = |q: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "q is in 0..=1, so the index is in 0..len"
        )]
        let index = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(index).copied().unwrap_or_default()
    };
    FrameStats {
        median: at(0.5),
        p95: at(0.95),
        max: times.last().copied().unwrap_or_default(),
        shapes,
    }
}

/// What opening and filtering the Audit panel on a big log cost.
#[derive(Debug, Clone)]
pub struct AuditPanelStats {
    /// From nothing to the first page of entries drawn (index built, page read).
    pub open: Duration,
    /// From typing the filter to its rows drawn.
    pub filter: Duration,
    /// Entries the filter selected.
    pub matched: usize,
    /// The audit part of a reload after one append (the index brought up to date).
    pub reload_after_append: Duration,
    /// A whole snapshot reload after one append.
    pub snapshot_after_append: Duration,
}

/// Opens the Audit panel on the workspace in `root` as the window does (a snapshot, then
/// frames until the panel is idle), filters it by `needle`, then appends one entry and
/// reloads.
pub fn audit_panel(
    root: &std::path::Path,
    runner: &crate::runner::Runner,
    needle: &str,
) -> Result<AuditPanelStats, String> {
    use super::panel::{Cx, Panel as _};
    use super::snapshot::{AuditCache, Snapshot};
    let err = |e: &(dyn std::error::Error + 'static)| crate::error_chain(e);
    let ctx = egui::Context::default();
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    let cache = AuditCache::default();
    let mut panel = super::audit::AuditUi::default();
    let mut commands = Vec::new();
    let mut frames_until_idle = |panel: &mut super::audit::AuditUi, snapshot: &Snapshot| {
        let deadline = Instant::now() + Duration::from_mins(2);
        loop {
            let _ = ctx.run_ui(input(), |ui| {
                let repaint = ui.ctx().clone();
                let mut cx = Cx::new(snapshot, runner, &mut commands, &repaint);
                panel.logic(&mut cx);
                panel.ui(ui, &mut cx);
            });
            if !panel.is_busy() && panel.is_filtered(&snapshot.audit) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("the Audit panel did not settle within 2 minutes".to_owned());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    let started = Instant::now();
    let snapshot = Snapshot::load(root, crate::workspace::Origin::Flag, None, &cache, None)
        .map_err(|e| err(&e))?;
    frames_until_idle(&mut panel, &snapshot)?;
    let open = started.elapsed();

    needle.clone_into(&mut panel.filter);
    let started = Instant::now();
    frames_until_idle(&mut panel, &snapshot)?;
    let filter = started.elapsed();
    let matched = panel.shown(&snapshot.audit);

    let append_one = || {
        snapshot
            .ws
            .record(crate::audit::Event::parse(
                "bench.append",
                "bench",
                &serde_json::Value::Null,
                &serde_json::Value::Null,
            ))
            .map_err(|e| err(&e))
    };
    append_one()?;
    let started = Instant::now();
    let index = cache.current(&snapshot.ws).map_err(|e| err(&e))?;
    let reload_after_append = started.elapsed();
    if index.len() != snapshot.audit.len() + 1 {
        return Err(format!(
            "the reload holds {} entries, expected {}",
            index.len(),
            snapshot.audit.len() + 1
        ));
    }
    drop(index);
    append_one()?;
    let started = Instant::now();
    let reloaded = Snapshot::load(root, crate::workspace::Origin::Flag, None, &cache, None)
        .map_err(|e| err(&e))?;
    let snapshot_after_append = started.elapsed();
    if let Err(e) = &reloaded.audit_check {
        return Err(format!(
            "the chain is reported broken after the appends: {e}"
        ));
    }
    Ok(AuditPanelStats {
        open,
        filter,
        matched,
        reload_after_append,
        snapshot_after_append,
    })
}
