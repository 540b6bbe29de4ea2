//! Every state file of the feature layers that the audit log speaks for, as one list: the
//! incident records (`status/incidents.json`), the local status page (`status/page.json`),
//! the flag plans (`flags/plans.json`), the
//! platforms a release does not ship (`pipeline/skipped-platforms.json`), each release's
//! vulnerability findings and accepted risks (`releases/<version>/findings.json`), the
//! secrets' recorded rotations (`secrets/rotations.json`), the files a build stored in a
//! shared workspace's bucket (`pipeline/shared-artifacts.json`), each release's platforms'
//! run states (`releases/<version>/pipeline.json`), the notification outbox
//! (`notify/outbox.json`), the publish store's unfinished uploads
//! (`publish/uploads.json`) and each publish channel's versions (`publish/CHANNEL.json`,
//! kept by channel and version). Each change's entry carries
//! its target's whole record after it, so the last change of a target is enough to replay.
//! `workspace` cannot import those layers, so the CLI (when it opens a workspace, and in
//! `audit verify`) and the GUI's Verify chain task pass this list to
//! `Workspace::recover_with` and `Workspace::verify_audit_with`. It is one list because a
//! recovery given it moves the `audit.applied` checkpoint past every change it covers: a
//! state file left out would never be rolled forward.

use crate::workspace::Projection;

/// The incident records, the local status page, the flag plans, the platform skips, the
/// findings, the rotations, the files stored in a bucket, the platforms' run states, the
/// outbox, the unfinished uploads and the publish channels.
pub static ALL: &[&dyn Projection] = &[
    &crate::status::incident::IncidentBook,
    &crate::status::local::PageBook,
    &crate::flags::plan::PlanBook,
    &crate::pipeline::skips::SkipBook,
    &crate::findings::FindingsBook,
    &crate::rotation::RotationBook,
    &crate::verify::shared::ArtifactBook,
    &crate::pipeline::projection::RunBook,
    &crate::notify::OutboxBook,
    &crate::deploy::uploads::UploadBook,
    &crate::deploy::channels::ChannelBook,
];
