//! The workspace as the panels read it: loaded off the UI thread after every change, then
//! read-only for drawing.

use std::path::Path;

use crate::audit::{AuditEntry, Verified};
use crate::pipeline::{ArtifactFile, Definition, PipelineState};
use crate::runbook::{Checklist, Runbook};
use crate::status::incident::Incident;
use crate::workspace::{self, Origin, Release, Workspace, WorkspaceError};

/// The selected release with its runbook and progress.
#[derive(Debug, Clone)]
pub struct ReleaseView {
    pub release: Release,
    pub runbook: Runbook,
    pub checklist: Checklist,
}

/// A snapshot of the open workspace.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub ws: Workspace,
    pub origin: Origin,
    pub releases: Vec<Release>,
    pub current: Option<ReleaseView>,
    pub audit: Vec<AuditEntry>,
    /// The audit chain check: entries and head hash, or the first bad line.
    pub audit_check: Result<Verified, String>,
    /// The pipeline definition (or why it cannot be read).
    pub pipeline: Result<Definition, String>,
    /// The selected release's pipeline state.
    pub pipeline_state: PipelineState,
    /// The selected release's artifacts (or why the folder cannot be read).
    pub artifacts: Result<Vec<ArtifactFile>, String>,
    /// Incidents the console tracks, oldest first.
    pub incidents: Vec<Incident>,
    /// Why the incident records cannot be read, if they cannot.
    pub incidents_error: Option<String>,
}

impl Snapshot {
    /// Reads the workspace in `root` with `release` selected (default: the newest). Blocking:
    /// call it from a worker.
    pub fn load(
        root: &Path,
        origin: Origin,
        release: Option<String>,
    ) -> Result<Self, WorkspaceError> {
        let ws = Workspace::open(root)?;
        let releases = ws.releases()?;
        let selected = release
            .and_then(|v| workspace::parse_version(&v).ok())
            .and_then(|v| releases.iter().find(|r| r.version == v).cloned())
            .or_else(|| releases.last().cloned());
        let current = match selected {
            Some(release) => Some(ReleaseView {
                runbook: ws.runbook(&release)?,
                checklist: ws.checklist(&release)?,
                release,
            }),
            None => None,
        };
        let (audit, audit_check) = ws.load_audit()?;
        let pipeline = Definition::load(&ws)
            .map(|(d, _)| d)
            .map_err(|e| crate::error_chain(&e));
        let (pipeline_state, artifacts) = match &current {
            Some(c) => (
                crate::pipeline::load_state(&ws, &c.release).unwrap_or_default(),
                crate::pipeline::list_artifacts(&ws, &c.release)
                    .map_err(|e| crate::error_chain(&e)),
            ),
            None => (PipelineState::default(), Ok(Vec::new())),
        };
        let (incidents, incidents_error) = match crate::status::incident::load(&ws) {
            Ok(list) => (list, None),
            Err(e) => (Vec::new(), Some(crate::error_chain(&e))),
        };
        Ok(Self {
            ws,
            origin,
            releases,
            current,
            audit,
            audit_check: audit_check.map_err(|e| crate::error_chain(&e)),
            pipeline,
            pipeline_state,
            artifacts,
            incidents,
            incidents_error,
        })
    }

    /// The selected release's version, if there is a release.
    pub fn selected_version(&self) -> Option<String> {
        self.current.as_ref().map(|c| c.release.version.to_string())
    }
}
