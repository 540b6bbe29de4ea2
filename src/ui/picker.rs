//! The picker seam: native file and folder dialogs, behind a trait so tests can feed paths
//! (rfd shows nothing under Xvfb without a portal).

use std::path::PathBuf;

use super::command::PickKind;

/// Opens file and folder pickers. Behind a seam so tests can feed paths (rfd shows nothing
/// under Xvfb without a portal).
pub trait Picker: Send + Sync {
    /// Starts a picker; the chosen paths (empty when cancelled) are sent to `reply`.
    fn pick(
        &self,
        handle: &tokio::runtime::Handle,
        kind: PickKind,
        reply: Box<dyn FnOnce(Vec<PathBuf>) + Send>,
    );
}

/// The native picker (rfd: XDG portal on Linux, native dialogs on macOS and Windows).
#[derive(Debug, Default)]
pub struct RfdPicker;

impl Picker for RfdPicker {
    fn pick(
        &self,
        handle: &tokio::runtime::Handle,
        kind: PickKind,
        reply: Box<dyn FnOnce(Vec<PathBuf>) + Send>,
    ) {
        handle.spawn(async move {
            let dialog = rfd::AsyncFileDialog::new();
            let one = |h: Option<rfd::FileHandle>| h.map(|h| vec![h.path().to_owned()]);
            let picked = match kind {
                PickKind::Workspace => one(dialog
                    .set_title("Open release workspace")
                    .pick_folder()
                    .await),
                PickKind::ArtifactFolder => one(dialog
                    .set_title("Verify a folder of artifacts")
                    .pick_folder()
                    .await),
                PickKind::ArtifactFiles => dialog
                    .set_title("Verify artifacts")
                    .pick_files()
                    .await
                    .map(|hs| hs.iter().map(|h| h.path().to_owned()).collect()),
                // No filter by extension: the format is told by the content.
                PickKind::FindingsFiles => dialog
                    .set_title("Import scanner findings (Trivy, Grype, SARIF, Snyk)")
                    .pick_files()
                    .await
                    .map(|hs| hs.iter().map(|h| h.path().to_owned()).collect()),
            };
            reply(picked.unwrap_or_default());
        });
    }
}
