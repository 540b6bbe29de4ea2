//! The workspace as the panels read it: loaded off the UI thread after every change, then
//! read-only for drawing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::audit::{AuditError, AuditIndex, Verified};
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
    /// Where each audit entry is in the log (entries are read from disk as they are shown).
    pub audit: Arc<AuditIndex>,
    /// The audit chain check: entries and head hash, or the first bad line.
    pub audit_check: Result<Verified, String>,
    /// The pipeline definition (or why it cannot be read).
    pub pipeline: Result<Definition, String>,
    /// The selected release's pipeline state.
    pub pipeline_state: PipelineState,
    /// The selected release's artifacts (or why the folder cannot be read).
    pub artifacts: Result<Vec<ArtifactFile>, String>,
    /// Who saved each platform's run state of the selected release (its entry).
    pub build_authors: std::collections::BTreeMap<String, crate::pipeline::team::RunBy>,
    /// On a shared workspace: the selected release's files as the log records them in the
    /// bucket (`release.artifacts`), if a build stored any.
    pub bucket_artifacts: Option<crate::verify::shared::Record>,
    /// The selected release's last verification against the workspace's pins, if any.
    pub verify_record: Option<crate::verify::release::ReleaseVerify>,
    /// Files of the artifacts folder that changed after that verification.
    pub verify_stale: Option<crate::verify::release::Stale>,
    /// What a rebuild of the selected release would make untrue (a PASS verify, a published
    /// version), each as a phrase; empty when nothing.
    pub rebuild_invalidates: Vec<String>,
    /// Where the selected release stands on each channel it was published on, or why that
    /// cannot be read.
    pub on_channels: Result<Vec<crate::deploy::OnChannel>, String>,
    /// The platforms the selected release records as not shipped this time.
    pub skipped: Vec<crate::pipeline::skips::Skip>,
    /// Incidents the console tracks, oldest first.
    pub incidents: Vec<Incident>,
    /// Why the incident records cannot be read, if they cannot.
    pub incidents_error: Option<String>,
    /// Every gate between the selected release and publishing (empty without a release).
    pub gates: Vec<crate::gates::Gate>,
    /// The selected release's findings as the policy judges them (or why they cannot be read).
    pub findings: Result<Vec<crate::findings::Judged>, String>,
    /// The rotation calendar of the next [`ROTATION_WINDOW_DAYS`] (or why it cannot be read).
    pub rotation: Result<Vec<crate::rotation::Entry>, String>,
    /// The notification outbox (new audit entries queued first), or why it cannot be read;
    /// `None` when no notifications are configured.
    pub outbox: Option<Result<crate::notify::Outbox, String>>,
    /// On a shared workspace: who is working on it (leases, recent changes), or why that
    /// cannot be read.
    pub team: Option<Result<crate::workspace::Activity, String>>,
    /// Every program the console runs here, and where it was found (Settings > Tools).
    pub tools: Vec<crate::pipeline::tools::ToolCheck>,
    /// Where each secret is looked for and what is there, never a value (Settings > Secrets).
    pub secret_checks: Vec<crate::workspace::secrets::SecretCheck>,
    /// This console's key and the people list (or why they cannot be read).
    pub keys: Result<crate::workspace::KeysView, String>,
    /// When [`Self::ws`] was opened (a reload of a shared workspace reuses it for a while:
    /// see [`Self::reusable`]).
    pub opened_at: std::time::Instant,
    /// When [`Self::team`]'s leases were read from the bucket.
    pub team_read_at: std::time::Instant,
}

/// How long a reload that reuses the open workspace reuses the leases read before (the
/// Overview's Team reloads this often to read them again).
pub const TEAM_READ_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a reload of a shared workspace reuses the open one (its connection, its
/// configuration as the bucket held it, this console's key) before it opens it again, which
/// reads the configuration from the bucket and checks the log there anew. Others' changes of
/// the log reach the cache meanwhile through the poll (`Workspace::sync`), which the reload
/// reads from disk.
pub const REOPEN_SHARED_EVERY: std::time::Duration = std::time::Duration::from_mins(5);

/// An open shared workspace a reload may read again instead of opening it: the workspace and
/// when it was opened.
#[derive(Debug, Clone)]
pub struct Reuse {
    ws: Workspace,
    opened_at: std::time::Instant,
    /// The lease objects read before (live and run out), when they are recent enough (see
    /// [`TEAM_READ_EVERY`]).
    leases: Option<(Vec<crate::workspace::LeaseInfo>, std::time::Instant)>,
}

/// The days the rotation calendar looks ahead.
pub const ROTATION_WINDOW_DAYS: u32 = 90;

impl Snapshot {
    /// The open workspace for the next reload of `root` to read again, when it may: a shared
    /// workspace that reaches its bucket, the one at `root`, opened less than
    /// [`REOPEN_SHARED_EVERY`] ago. A local workspace is opened each time (no requests; its
    /// configuration may have been edited by hand).
    pub fn reusable(&self, root: &Path) -> Option<Reuse> {
        let shared = self.ws.shared()?;
        let same = root == self.ws.root()
            || crate::workspace::shared::SharedUrl::of_path(root)
                .and_then(Result::ok)
                .is_some_and(|url| url == *shared.url());
        (same && shared.offline().is_none() && self.opened_at.elapsed() < REOPEN_SHARED_EVERY).then(
            || Reuse {
                ws: self.ws.clone(),
                opened_at: self.opened_at,
                leases: match &self.team {
                    Some(Ok(a)) if self.team_read_at.elapsed() < TEAM_READ_EVERY => Some((
                        a.leases.iter().chain(&a.expired).cloned().collect(),
                        self.team_read_at,
                    )),
                    _ => None,
                },
            },
        )
    }

    /// Reads the workspace in `root` with `release` selected (default: the newest); with
    /// `reuse` (from [`Self::reusable`]), reads that open workspace again instead of opening
    /// it (no request to its bucket). Blocking: call it from a worker.
    pub fn load(
        root: &Path,
        origin: Origin,
        release: Option<String>,
        audit_cache: &AuditCache,
        reuse: Option<Reuse>,
    ) -> Result<Self, WorkspaceError> {
        let (ws, opened_at, leases) = match reuse {
            Some(r) => (r.ws, r.opened_at, r.leases),
            None => (Workspace::open(root)?, std::time::Instant::now(), None),
        };
        if ws.shared().is_some() {
            // Others' changes of the projections (incidents, flag plans, skips) too.
            if let Err(e) = ws.recover_with(crate::projections::ALL) {
                tracing::warn!("rolling forward the shared workspace's log: {e}");
            }
        }
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
        let audit = audit_cache.current(&ws)?;
        let (team, team_read_at) = match leases {
            Some((leases, at)) => (
                Some(
                    ws.activity_with(leases, &audit, jiff::Timestamp::now())
                        .map_err(|e| e.to_string()),
                ),
                at,
            ),
            None => (
                ws.shared().map(|_| {
                    ws.activity(&audit, jiff::Timestamp::now())
                        .map_err(|e| e.to_string())
                }),
                std::time::Instant::now(),
            ),
        };
        let audit_check = ws.audit_status(&audit);
        let pipeline = Definition::load(&ws)
            .map(|(d, _)| d)
            .map_err(|e| e.to_string());
        let (pipeline_state, artifacts) = match &current {
            Some(c) => (
                crate::pipeline::load_state(&ws, &c.release).unwrap_or_default(),
                crate::pipeline::list_artifacts(&ws, &c.release).map_err(|e| e.to_string()),
            ),
            None => (PipelineState::default(), Ok(Vec::new())),
        };
        let build_authors = crate::pipeline::team::run_authors(&ws, &audit, &pipeline_state);
        let bucket_artifacts = match (&current, ws.shared()) {
            (Some(c), Some(_)) => {
                crate::verify::shared::of_release(&ws, &c.release.version.to_string())
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let verify_record = current
            .as_ref()
            .and_then(|c| crate::verify::release::last(&ws, &c.release).ok().flatten());
        let verify_stale = match (&current, &verify_record) {
            (Some(c), Some(record)) => crate::verify::release::staleness(&ws, &c.release, record)
                .ok()
                .flatten(),
            _ => None,
        };
        let on_channels = current.as_ref().map_or_else(
            || Ok(Vec::new()),
            |c| {
                crate::deploy::on_channels(&ws, &c.release.version.to_string())
                    .map_err(|e| e.to_string())
            },
        );
        let skipped = current
            .as_ref()
            .and_then(|c| crate::pipeline::skips::skipped(&ws, &c.release.version.to_string()).ok())
            .unwrap_or_default();
        let rebuild_invalidates = current
            .as_ref()
            .map(|c| crate::deploy::rebuild_invalidates(&ws, &c.release))
            .unwrap_or_default();
        let (incidents, incidents_error) = match crate::status::incident::load(&ws) {
            Ok(list) => (list, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let now = jiff::Timestamp::now();
        // Read once (a PFX is decrypted, a keyring may be asked) for the gates and the calendar.
        let signing = crate::verify::certs::signing_certificates(&ws);
        // Read once for the Security panel and the rotation gate.
        let rotation = crate::rotation::calendar_with(&ws, now, ROTATION_WINDOW_DAYS, &signing)
            .map_err(|e| e.to_string());
        let (gates, findings) = match &current {
            Some(c) => (
                crate::gates::evaluate_with(&ws, &c.release, now, &signing, &rotation),
                crate::findings::judge(&ws, &c.release, now).map_err(|e| e.to_string()),
            ),
            None => (Vec::new(), Ok(Vec::new())),
        };
        let outbox = (!ws.config().notify.is_empty()).then(|| {
            crate::notify::collect(&ws)
                .and_then(|_| crate::notify::load(&ws))
                .map_err(|e| e.to_string())
        });
        let tools = crate::pipeline::tools::check(&ws);
        let secret_checks = crate::workspace::secrets::where_looked(ws.config());
        let keys = ws.keys_view().map_err(|e| e.to_string());
        Ok(Self {
            ws,
            origin,
            releases,
            current,
            audit,
            audit_check,
            pipeline,
            pipeline_state,
            artifacts,
            build_authors,
            bucket_artifacts,
            verify_record,
            verify_stale,
            rebuild_invalidates,
            on_channels,
            skipped,
            incidents,
            incidents_error,
            gates,
            findings,
            rotation,
            outbox,
            team,
            tools,
            secret_checks,
            keys,
            opened_at,
            team_read_at,
        })
    }

    /// The outbox, when it is configured and readable.
    pub fn outbox(&self) -> Option<&crate::notify::Outbox> {
        self.outbox.as_ref().and_then(|o| o.as_ref().ok())
    }

    /// Whether a delivery is due now (queued, not waiting for a retry time).
    pub fn notifications_due(&self) -> bool {
        let now = jiff::Timestamp::now();
        self.outbox().is_some_and(|o| {
            o.deliveries.iter().any(|d| {
                d.state == crate::notify::State::Pending && d.next_at.is_none_or(|t| t <= now)
            })
        })
    }

    /// The selected release's version, if there is a release.
    pub fn selected_version(&self) -> Option<String> {
        self.current.as_ref().map(|c| c.release.version.to_string())
    }
}

/// The audit index, kept from one snapshot to the next so that a reload reads only what was
/// appended to the log since (see [`crate::audit::AuditLog::refresh`]).
#[derive(Debug, Clone, Default)]
pub struct AuditCache(Arc<Mutex<Option<CachedIndex>>>);

/// An index and the workspace folder whose log it is.
type CachedIndex = (PathBuf, Arc<AuditIndex>);

impl AuditCache {
    /// The index of `ws`'s log, brought up to date.
    pub fn current(&self, ws: &Workspace) -> Result<Arc<AuditIndex>, AuditError> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut index = match slot.take() {
            Some((root, index)) if root == ws.root() => index,
            _ => Arc::default(),
        };
        if !ws.audit().is_current(&index)? {
            // Copies the index while the shown snapshot still holds it (10 bytes an entry).
            ws.audit().refresh(Arc::make_mut(&mut index))?;
        }
        *slot = Some((ws.root().to_owned(), index.clone()));
        Ok(index)
    }

    /// Forgets the index, so the next snapshot reads the whole log again (after "Verify").
    pub fn forget(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
