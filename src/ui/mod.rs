//! The egui GUI. The only module that knows egui.

pub mod app;
mod audit;
pub mod bench;
mod builds;
mod checklist;
pub mod command;
pub mod deploy;
pub mod flags;
pub mod metrics;
mod notes;
mod overview;
pub mod panel;
pub mod picker;
pub mod runbooks;
pub mod security;
mod settings;
pub mod snapshot;
pub mod status;
pub mod theme;
pub mod tray;
mod verify;
pub mod widgets;

use std::path::Path;
use std::sync::Arc;

pub use self::app::ConsoleApp;
pub use self::command::{Command, PickKind, Tab};
pub use self::picker::{Picker, RfdPicker};
use crate::runner::Runner;
use crate::workspace;

/// Opens the console window on the workspace (resolved like the CLI does).
pub fn run(workspace_flag: Option<&Path>, handle: tokio::runtime::Handle) -> anyhow::Result<()> {
    let (root, origin) = workspace::resolve(workspace_flag)?;
    if origin == workspace::Origin::Demo {
        // Before the window opens: its first run makes the demo's signing material (in-process,
        // well under a second) and tops up its KPI samples.
        let ws = workspace::Workspace::open(&root)?;
        crate::demo::refresh(&ws, jiff::Timestamp::now());
        if let Err(e) = crate::metrics::demo::add(&ws, jiff::Timestamp::now()) {
            tracing::warn!("the demo's quarterly history: {e}");
        }
    }
    let runner = Runner::new(
        handle,
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
    );
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("Release console")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([900.0, 560.0]),
        ..Default::default()
    };
    eframe::run_native(
        "release-console",
        options,
        Box::new(move |cc| {
            Ok(Box::new(ConsoleApp::new(
                &cc.egui_ctx,
                runner,
                root,
                origin,
                Arc::new(RfdPicker),
            )))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
