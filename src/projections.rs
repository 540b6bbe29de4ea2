//! Every state file of the feature layers that the audit log speaks for, as one list: the
//! incident records (`status/incidents.json`), the flag plans (`flags/plans.json`) and the
//! platforms a release does not ship (`pipeline/skipped-platforms.json`), and the files a build
//! stored in a shared workspace's bucket (`pipeline/shared-artifacts.json`).
//! `workspace` cannot import those layers, so the CLI (when it opens a workspace, and in
//! `audit verify`) and the GUI's Verify chain task pass this list to
//! `Workspace::recover_with` and `Workspace::verify_audit_with`. It is one list because a
//! recovery given it moves the `audit.applied` checkpoint past every change it covers: a
//! state file left out would never be rolled forward.

use crate::workspace::Projection;

/// The incident records, the flag plans and the platform skips.
pub static ALL: &[&dyn Projection] = &[
    &crate::status::incident::IncidentBook,
    &crate::flags::plan::PlanBook,
    &crate::pipeline::skips::SkipBook,
    &crate::verify::shared::ArtifactBook,
];
