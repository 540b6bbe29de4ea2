//! Every change to a workspace as one typed event: [`Event`], a variant per audited action,
//! each with a payload struct holding the target's parts and the entry's `before` and `after`.
//!
//! An event is written as today's entries are ([`Event::to_new_entry`]: the same action
//! string, target and JSON, byte for byte), and read back from any entry
//! ([`Event::from_entry`]): an entry of an action this version does not know, or of a known
//! action in a shape it does not read (an older version's), becomes [`Event::Unknown`],
//! holding the entry's parts as they are: never an error, never a panic. An old log is read
//! and upgraded in memory, never rewritten.
//!
//! Values are typed where a reader uses them; what a higher layer owns (a release, an
//! incident, a flag's plan: `audit` cannot import them) and what nobody reads back stays
//! `serde_json::Value`, still under its own variant, so that renaming an action is a change
//! of one string here and every writer and reader names the variant.
//!
//! # The actions
//!
//! | action | variant | target | written by | read by |
//! |---|---|---|---|---|
//! | `workspace.init` | [`Event::WorkspaceInit`] | the folder or `s3://` URL | `workspace` | `audit verify` (a log starts with it) |
//! | `workspace.config.upgraded` | [`Event::ConfigUpgraded`] | `release-console.toml` | `workspace` (the demo's `[dr]`) | |
//! | `workspace.config.tool` | [`Event::ConfigTool`] | `release-console.toml` | `workspace` (Settings > Tools: a program's path) | |
//! | `people.key.add` / `people.key.revoke` | [`Event::PeopleKeyAdd`] / [`Event::PeopleKeyRevoke`] | the person | `workspace::people` (`keys new`, `keys add`, `keys revoke`) | `audit::keys::People` (who signs) |
//! | `release.create` | [`Event::ReleaseCreate`] | version | `workspace` | notify, roll forward |
//! | `checklist.tick` / `checklist.untick` | [`Event::ChecklistTick`] / [`Event::ChecklistUntick`] | `version/item` | `workspace` (by hand, task hook, skips) | roll forward, `others_did` |
//! | `task.start` / `task.finish` | [`Event::TaskStart`] / [`Event::TaskFinish`] | task name | the task hook | notify (builds, backend), `others_did` |
//! | `lease.takeover` / `lease.force` | [`Event::LeaseTakeover`] / [`Event::LeaseForce`] | what is leased | `workspace::lease` | |
//! | `notify.sent` / `notify.failed` / `notify.uncertain` | [`Event::NotifySent`] / [`Event::NotifyFailed`] / [`Event::NotifyUncertain`] | delivery id | notify | the outbox (projection) |
//! | `notify.retry` | [`Event::NotifyRetry`] | the delivery id (before each carried its record: the ids, space-separated) | notify | the outbox (projection) |
//! | `notify.queued` / `.sending` / `.pending` / `.dropped` | [`Event::NotifyQueued`] / [`Event::NotifySending`] / [`Event::NotifyPending`] / [`Event::NotifyDropped`] | delivery id | notify | the outbox (projection) |
//! | `deploy.backend` / `deploy.rollback` | [`Event::DeployBackend`] / [`Event::DeployRollback`] | version | `deploy::argocd` | metrics (a rollback is a failed deployment) |
//! | `publish.begin` / `publish` | [`Event::PublishBegin`] / [`Event::Publish`] | version | deploy | deploy (`logged`), notify |
//! | `publish.upload.start` / `publish.upload.end` | [`Event::UploadStart`] / [`Event::UploadEnd`] | `bucket/key` | `deploy::s3` (a multipart upload begun, or ended: completed, aborted, or found gone) | the publish store's unfinished uploads (projection) |
//! | `publish.yank.begin` / `publish.yank` | [`Event::YankBegin`] / [`Event::Yank`] | version | deploy | deploy (`logged`), notify, metrics |
//! | `source.push` / `source.branch` / `source.tag` | [`Event::SourcePush`] / [`Event::SourceBranch`] / [`Event::SourceTag`] | version (push: version or ref) | source | |
//! | `source.built-commit` | [`Event::SourceBuiltCommit`] | version | source | |
//! | `release.notes` | [`Event::ReleaseNotes`] | version | source | |
//! | `release.platform.skip` / `release.platform.ship` | [`Event::PlatformSkip`] / [`Event::PlatformShip`] | `version/platform` | `pipeline::skips` | `pipeline::skips` (projection) |
//! | `release.artifacts` | [`Event::ReleaseArtifacts`] | version | `pipeline` (a build on a shared workspace: its files stored as blobs) | `verify::shared` (projection: the release's artifacts a second console fetches) |
//! | `pipeline.platform` | [`Event::PipelinePlatform`] | `version/platform` | `pipeline` (a platform's build started remotely, finished, failed, was cancelled or marked UNSIGNED) | `pipeline::projection` (projection: `releases/<version>/pipeline.json`) |
//! | `blob.replace` | [`Event::BlobReplace`] | the blob's key | `verify::shared` (a build found other bytes under a blob's name and replaced them with `If-Match`) | |
//! | `verify.report` | [`Event::VerifyReport`] | `version/SHA256SUMS` (a loose file's name, or `artifacts`; older entries: the verifier's path) | verify | notify |
//! | `kpi.record` / `kpi.demo-samples` | [`Event::KpiRecord`] / [`Event::KpiDemoSamples`] | KPI name / `demo` | kpi, demo | |
//! | `runbook.step` / `runbook.step.end` | [`Event::RunbookStep`] / [`Event::RunbookStepEnd`] | `procedure/step` | dr | `dr::history` (the quarterly review) |
//! | `findings.accept` / `findings.revoke` | [`Event::FindingsAccept`] / [`Event::FindingsRevoke`] | `version/id` | findings | notify (accept), findings (projection) |
//! | `findings.import` | [`Event::FindingsImport`] | version | findings | findings (projection) |
//! | `secret.rotated` | [`Event::SecretRotated`] | secret name | rotation | rotations (projection) |
//! | `flags.create` / `.advance` / `.rollout` / `.rollback` / `.archive` | [`Event::FlagsCreate`] ... [`Event::FlagsArchive`] | flag key | `flags::plan` | notify, flag plans (projection) |
//! | `flags.import` | [`Event::FlagsImport`] | flag key | `flags::plan` (the demo's history) | flag plans (projection) |
//! | `status.incident.create` / `.update` / `.resolve` | [`Event::IncidentCreate`] / [`Event::IncidentUpdate`] / [`Event::IncidentResolve`] | incident id | status | notify, incidents (projection) |
//! | `status.incident.import` | [`Event::IncidentImport`] | incident id | status (the demo's history) | incidents (projection) |
//! | `status.maintenance.schedule` / `.update` | [`Event::MaintenanceSchedule`] / [`Event::MaintenanceUpdate`] | maintenance id | status | |
//! | `status.page.post` | [`Event::StatusPagePost`] | `status-page` | `status::local` (the local page: each change, with the whole page after it) | the local page (projection: one page for a shared workspace's team) |
//! | `status.postmortem.export` | [`Event::PostmortemExport`] | incident id | status | |
//! | `demo.signing` / `demo.repository` / `demo.history` | [`Event::DemoSigning`] / [`Event::DemoRepository`] / [`Event::DemoHistory`] | what was made | demo, `metrics::demo` | `metrics::demo` (made once) |
//! | `ACTION.failed` | [`Event::Failed`] | the intent's target | `Workspace::record_failed`, deploy | notify (withdraws the intent's event), roll forward |
//! | `ACTION.not_applied` | [`Event::NotApplied`] | the change's target | roll forward | roll forward |
//! | anything else | [`Event::Unknown`] | as written | tests and benchmarks (`test.filler`, `bench.append`) | |
//!
//! `notify.failed` is a delivery's outcome, not a failure of an action `notify`: known actions
//! are matched before the `.failed` suffix.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{AuditEntry, NewEntry};
use crate::runbook::ItemState;
use crate::runner::TaskState;

/// A target of two parts joined by `/` (`version/item`, `procedure/step`): read by splitting
/// at the first `/`, so any target with one is read back as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub first: String,
    pub second: String,
}

impl Pair {
    pub fn new(first: impl Into<String>, second: impl Into<String>) -> Self {
        Self {
            first: first.into(),
            second: second.into(),
        }
    }
}

/// How a payload's target is written and read.
trait Target: Sized {
    fn render(&self) -> String;
    fn parse(text: &str) -> Option<Self>;
}

impl Target for String {
    fn render(&self) -> String {
        self.clone()
    }
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl Target for Pair {
    fn render(&self) -> String {
        format!("{}/{}", self.first, self.second)
    }
    fn parse(text: &str) -> Option<Self> {
        let (first, second) = text.split_once('/')?;
        Some(Self::new(first, second))
    }
}

/// A payload's conversions to and from an entry's target, `before` and `after`.
trait Payload: Sized {
    fn target(&self) -> String;
    fn values(&self) -> (Value, Value);
    fn read(target: &str, before: &Value, after: &Value) -> Option<Self>;
}

fn value_of<T: Serialize>(t: &T) -> Value {
    // Serializing these types cannot fail (string keys, no custom serializers that refuse).
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Declares a payload struct with `target`, `before` and `after` fields of the given types,
/// and its conversions.
macro_rules! payload {
    ($(#[$m:meta])* $name:ident { target: $t:ty, before: $b:ty, after: $a:ty $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            pub target: $t,
            pub before: $b,
            pub after: $a,
        }

        impl Payload for $name {
            fn target(&self) -> String {
                Target::render(&self.target)
            }
            fn values(&self) -> (Value, Value) {
                (value_of(&self.before), value_of(&self.after))
            }
            fn read(target: &str, before: &Value, after: &Value) -> Option<Self> {
                Some(Self {
                    target: <$t as Target>::parse(target)?,
                    before: <$b>::deserialize(before).ok()?,
                    after: <$a>::deserialize(after).ok()?,
                })
            }
        }
    };
}

payload! {
    /// An entry whose values nobody reads back (a record for people and `audit show`), or
    /// that hold a higher layer's record (a release, a lease, an incident): as written.
    Values { target: String, before: Value, after: Value }
}

/// `release.create`'s `after`: the release as created (`workspace::Release`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// `regular` or `hotfix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The release a hotfix fixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    /// The rest of the record (version, runbook, who and when).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

payload! {
    /// A release was created (target: its version).
    ReleaseCreate { target: String, before: (), after: ReleaseRecord }
}

payload! {
    /// A checklist item was ticked or unticked (target: `version/item`), its state before
    /// (none: never changed) and after.
    ChecklistChange { target: Pair, before: Option<ItemState>, after: ItemState }
}

/// `task.start`'s `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStarted {
    pub kind: String,
    pub release: Option<String>,
}

payload! {
    /// A task started (target: its name).
    TaskStart { target: String, before: (), after: TaskStarted }
}

/// `task.finish`'s `before`: `{"state": "running"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRunning {
    pub state: String,
}

impl Default for TaskRunning {
    fn default() -> Self {
        Self {
            state: "running".to_owned(),
        }
    }
}

/// `task.finish`'s `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFinished {
    pub state: TaskState,
    pub message: String,
    pub kind: String,
    pub release: Option<String>,
}

payload! {
    /// A task ended (target: its name).
    TaskFinish { target: String, before: TaskRunning, after: TaskFinished }
}

/// A delivery's state (`before` of its end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    pub state: String,
}

/// A delivery's end: its state, where to, which event, the service's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEnd {
    pub state: String,
    pub to: String,
    pub event: String,
    pub answer: String,
    /// The delivery's whole record after its end (`notify::Delivery`, without secrets, as the
    /// outbox keeps it); entries written before the outbox was a projection of the log do not
    /// carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Value>,
}

payload! {
    /// A notification's delivery ended (target: the delivery's id).
    Delivery { target: String, before: DeliveryState, after: DeliveryEnd }
}

/// The `after` of a delivery's change that is not its end: its whole record after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub delivery: Value,
}

payload! {
    /// A notification's delivery queued, begun, due again or withdrawn (target: its id;
    /// `before`: its state before, none when queued).
    DeliveryChange { target: String, before: Option<DeliveryState>, after: DeliveryRecord }
}

/// `notify.retry`'s `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deliveries {
    pub deliveries: Vec<String>,
    /// The delivery's whole record after it was queued again (one entry per delivery since
    /// the outbox is a projection of the log; earlier entries named several and carry none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Value>,
}

payload! {
    /// Deliveries queued again (target: the delivery's id; in older entries their ids,
    /// space-separated).
    NotifyRetry { target: String, before: (), after: Deliveries }
}

/// What a channel had live before a publish or yank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    pub live: Option<String>,
}

/// A publish's `after`: the channel and its files (`deploy::feeds::File`s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub channel: String,
    pub files: Value,
    /// How many files were uploaded (the publish's end; its begin does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<u64>,
}

impl Published {
    /// Each file's name and URL.
    pub fn links(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f.get("name")?.as_str()?, f.get("url")?.as_str()?)))
    }
}

payload! {
    /// A version published (or begun to be) on a channel (target: the version).
    PublishChange { target: String, before: Live, after: Published }
}

/// An unfinished multipart upload of the publish store (`deploy::s3`): its record after the
/// change (`None`: no longer remembered), and why it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

payload! {
    /// A multipart upload begun or ended (target: `bucket/key`).
    UploadChange { target: String, before: (), after: UploadRecord }
}

/// A yank's `after`: the channel, what is live instead, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Yanked {
    pub channel: String,
    pub live: Option<String>,
    pub reason: String,
    /// The version's publish record on the channel, which stays (`deploy::feeds::Published`:
    /// who, when, the files), so the entry carries the version's whole record there; entries
    /// written before it do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Value>,
}

payload! {
    /// A version yanked (or begun to be) from a channel (target: the version).
    YankChange { target: String, before: Live, after: Yanked }
}

/// `verify.report`'s `after`: the verdict and what was checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyVerdict {
    /// `pass`, `fail`, ... (`verify::Overall`).
    pub overall: String,
    /// Whether it was a release's own verification (not a folder checked by hand).
    pub of_release: bool,
    pub release: Option<String>,
    pub artifacts: Vec<Value>,
    /// The blobs of the shared workspace's bucket the verified files were fetched as, or
    /// matched (none on a local workspace, and in entries written before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<VerifiedBlob>,
    /// The rest (bad lines, what was expected).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A blob a verification checked: the file, the blob's SHA-256 (which the file's bytes
/// have), and the `release.artifacts` entry that recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedBlob {
    pub name: String,
    pub sha256: crate::digest::Sha256,
    pub size: u64,
    pub entry: u64,
    /// Who recorded it, as the verifying console trusted them: a person with standing (signed)
    /// or a configured builder (absent in entries written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<String>,
}

payload! {
    /// A verification's report (target: `version/SHA256SUMS`, a loose checksum file's name, or
    /// `artifacts`; entries written before name the verifier's path).
    VerifyReport { target: String, before: (), after: VerifyVerdict }
}

payload! {
    /// A disaster-recovery step's start or end (target: `procedure/step`); the end's `after`
    /// is `dr::history::StepEnd`.
    RunbookStep { target: Pair, before: (), after: Value }
}

/// `findings.accept`'s `after` (`findings::Acceptance`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acceptance {
    pub reason: String,
    pub until: jiff::Timestamp,
    /// Every acceptance of the finding's id in the release after the change
    /// (`findings::Acceptance`s): what a roll forward replays. Absent in entries written
    /// before the log spoke for the findings file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptances: Option<Vec<Value>>,
    /// The rest (id, package, who and when).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

payload! {
    /// A finding accepted (target: `version/id`).
    FindingsAccept { target: Pair, before: (), after: Acceptance }
}

/// `findings.revoke`'s `after`: the acceptances of the id the release keeps
/// (`findings::Acceptance`s, those of other packages), what a roll forward replays. Entries
/// written before the log spoke for the findings file have none (`after` is null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remaining {
    pub acceptances: Vec<Value>,
}

payload! {
    /// A finding's acceptance revoked (target: `version/id`; `before`: the acceptances gone).
    FindingsRevoke { target: Pair, before: Value, after: Option<Remaining> }
}

/// `findings.import`'s `after`: what the import read, and the release's findings after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingsImported {
    /// Each file read, as `[path, format, findings]`.
    pub files: Vec<Value>,
    /// Findings not seen before in the release.
    pub new: u64,
    /// How many findings the release holds after the import.
    pub findings: u64,
    /// How many of them block it.
    pub blocking: u64,
    /// The release's findings after the import (`findings::Finding`s, normalized and bounded,
    /// as `findings.json` holds them): what a roll forward replays. Absent in entries written
    /// before the log spoke for the findings file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Vec<Value>>,
}

payload! {
    /// Scanner output imported into a release's findings (target: the version; `before`: how
    /// many findings it held).
    FindingsImport { target: String, before: Value, after: FindingsImported }
}

/// `secret.rotated`'s `after`: the rotation recorded (`rotation::Rotation`), and the secret's
/// rotations kept before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rotated {
    pub at: jiff::Timestamp,
    pub by: String,
    pub note: String,
    /// The secret's other rotations as the rotations file kept them (`rotation::Rotation`s,
    /// each with its entry): with this one, its whole record, what a roll forward replays.
    /// Absent in entries written before the log spoke for the rotations file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier: Option<Vec<Value>>,
}

payload! {
    /// A secret's rotation recorded (target: the secret's name).
    SecretRotated { target: String, before: (), after: Rotated }
}

/// A flag change's intent (`after`), as `flags::plan` writes it: what a reader needs, read
/// from the object as written (keys are present or absent depending on the change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FlagIntent {
    pub fields: Map<String, Value>,
}

impl FlagIntent {
    /// The rollout it sets.
    pub fn rollout_percent(&self) -> Option<u32> {
        self.fields
            .get("rollout_percent")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
    }
    /// Why a gate was overridden.
    pub fn override_reason(&self) -> Option<&str> {
        self.fields.get("override_reason").and_then(Value::as_str)
    }
    /// `false` for a direct rollout outside any plan (`flags set`).
    pub fn staged(&self) -> bool {
        self.fields.get("staged") != Some(&Value::Bool(false))
    }
    /// The plan's change (`flags::plan::Intended`), when it changes a plan.
    pub fn change(&self) -> Option<&Value> {
        self.fields.get("change")
    }
}

payload! {
    /// A flag change's intent (target: the flag's key; `before`: the flag as it was, or null).
    FlagChange { target: String, before: Value, after: FlagIntent }
}

/// `status.incident.create`'s `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentCreated {
    /// The record (`status::incident::Incident`).
    pub incident: Value,
    pub page_incident: Value,
    pub published: Value,
}

payload! {
    /// An incident opened (target: its id).
    IncidentCreate { target: String, before: (), after: IncidentCreated }
}

/// `status.incident.update`'s and `.resolve`'s `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentChanged {
    pub status: String,
    /// The update as published (`body`, ...).
    pub published: Value,
    pub page_status: Value,
    /// The record after the change.
    pub incident: Value,
}

impl IncidentChanged {
    /// The published update's text.
    pub fn body(&self) -> Option<&str> {
        self.published.get("body").and_then(Value::as_str)
    }
}

payload! {
    /// An incident updated or resolved (target: its id; `before`: status and components).
    IncidentChange { target: String, before: Value, after: IncidentChanged }
}

/// The platform skip record `release.platform.skip`/`.ship` carry (`pipeline::skips`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkipRecord {
    pub skip: Value,
}

payload! {
    /// A platform skipped or shipped again (target: `version/platform`; `before`: the record
    /// it replaces, or null).
    PlatformChange { target: String, before: Value, after: SkipRecord }
}

/// What a file stored as a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    /// An installer or other artifact of the release's artifacts folder.
    Artifact,
    /// The release's SHA256SUMS.
    Sums,
    /// A build's task log.
    Log,
}

/// One file of a build, stored in a shared workspace's bucket as blob `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobFile {
    /// Its file name (in the release's artifacts folder, or its logs folder for a log).
    pub name: String,
    pub size: u64,
    pub sha256: crate::digest::Sha256,
    pub kind: BlobKind,
    /// The platform whose build made it (none for SHA256SUMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// `release.artifacts`'s `after`: a build's files as the bucket holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobFiles {
    pub version: String,
    /// The platforms built.
    pub platforms: Vec<String>,
    pub files: Vec<BlobFile>,
}

payload! {
    /// A build's artifacts, SHA256SUMS and logs stored as blobs in a shared workspace's
    /// bucket (target: the version; a later one replaces the list).
    ReleaseArtifacts { target: String, before: (), after: BlobFiles }
}

/// `pipeline.platform`'s `after`: a platform's whole run state after the change (what
/// `pipeline::PlatformState` saves in `pipeline.json`, without the entry's number). Run-level
/// changes only: the build's live log lines stay in its log file (and blob).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformRun {
    pub run: Value,
}

payload! {
    /// A platform's run state of a release changed (target: `version/platform`).
    PipelinePlatform { target: String, before: (), after: PlatformRun }
}

/// `ACTION.failed`: the intent of `action` on `target` (entry `entry`, when it says) did not
/// take effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    /// The intent's action.
    pub action: String,
    pub target: String,
    pub error: String,
    pub entry: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct FailedAfter {
    error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry: Option<u64>,
}

/// `ACTION.not_applied`: the change of entry `entry` on `target` did not take effect in the
/// state, and never will.
#[derive(Debug, Clone, PartialEq)]
pub struct NotApplied {
    pub action: String,
    pub target: String,
    pub entry: u64,
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
struct NotAppliedAfter {
    entry: u64,
    reason: String,
}

/// An entry this version does not read: its parts as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Unknown {
    pub action: String,
    pub target: String,
    pub before: Value,
    pub after: Value,
}

/// Declares [`Event`] with its typed variants and their action strings.
macro_rules! events {
    ($($(#[$m:meta])* $variant:ident($payload:ty) = $action:literal,)*) => {
        /// One change to a workspace, as its audit entry records it (see the module's table).
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($(#[$m])* $variant($payload),)*
            /// `ACTION.failed`.
            Failed(Failed),
            /// `ACTION.not_applied`.
            NotApplied(NotApplied),
            /// Anything else, as written.
            Unknown(Unknown),
        }

        /// The typed actions, without their payloads (for matching on the action alone).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            /// Every typed action.
            pub const ALL: &[Action] = &[$(Action::$variant,)*];

            /// The action's string in the log.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $action,)*
                }
            }

            /// The action named `text`, if it is a typed one.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($action => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }

        impl Event {
            /// The typed action, `None` for failures, voids and unknown entries.
            pub fn kind(&self) -> Option<Action> {
                match self {
                    $(Event::$variant(_) => Some(Action::$variant),)*
                    Event::Failed(_) | Event::NotApplied(_) | Event::Unknown(_) => None,
                }
            }

            /// The entry's target.
            pub fn target(&self) -> String {
                match self {
                    $(Event::$variant(p) => p.target(),)*
                    Event::Failed(f) => f.target.clone(),
                    Event::NotApplied(n) => n.target.clone(),
                    Event::Unknown(u) => u.target.clone(),
                }
            }

            /// The entry's target, `before` and `after`.
            fn target_and_values(&self) -> (String, Value, Value) {
                match self {
                    $(Event::$variant(p) => {
                        let (before, after) = p.values();
                        (p.target(), before, after)
                    })*
                    Event::Failed(f) => (
                        f.target.clone(),
                        Value::Null,
                        value_of(&FailedAfter { error: f.error.clone(), entry: f.entry }),
                    ),
                    Event::NotApplied(n) => (
                        n.target.clone(),
                        Value::Null,
                        value_of(&NotAppliedAfter { entry: n.entry, reason: n.reason.clone() }),
                    ),
                    Event::Unknown(u) => (u.target.clone(), u.before.clone(), u.after.clone()),
                }
            }

            /// The typed event of `action`, if its values are in the shape this version writes.
            fn read_typed(action: Action, target: &str, before: &Value, after: &Value) -> Option<Self> {
                match action {
                    $(Action::$variant => {
                        <$payload as Payload>::read(target, before, after).map(Event::$variant)
                    })*
                }
            }
        }
    };
}

events! {
    WorkspaceInit(Values) = "workspace.init",
    ConfigUpgraded(Values) = "workspace.config.upgraded",
    ConfigTool(Values) = "workspace.config.tool",
    PeopleKeyAdd(Values) = "people.key.add",
    PeopleKeyRevoke(Values) = "people.key.revoke",
    ReleaseCreate(ReleaseCreate) = "release.create",
    ChecklistTick(ChecklistChange) = "checklist.tick",
    ChecklistUntick(ChecklistChange) = "checklist.untick",
    TaskStart(TaskStart) = "task.start",
    TaskFinish(TaskFinish) = "task.finish",
    LeaseTakeover(Values) = "lease.takeover",
    LeaseForce(Values) = "lease.force",
    NotifySent(Delivery) = "notify.sent",
    NotifyFailed(Delivery) = "notify.failed",
    NotifyUncertain(Delivery) = "notify.uncertain",
    NotifyRetry(NotifyRetry) = "notify.retry",
    NotifyQueued(DeliveryChange) = "notify.queued",
    NotifySending(DeliveryChange) = "notify.sending",
    NotifyPending(DeliveryChange) = "notify.pending",
    NotifyDropped(DeliveryChange) = "notify.dropped",
    DeployBackend(Values) = "deploy.backend",
    DeployRollback(Values) = "deploy.rollback",
    PublishBegin(PublishChange) = "publish.begin",
    Publish(PublishChange) = "publish",
    YankBegin(YankChange) = "publish.yank.begin",
    Yank(YankChange) = "publish.yank",
    UploadStart(UploadChange) = "publish.upload.start",
    UploadEnd(UploadChange) = "publish.upload.end",
    SourcePush(Values) = "source.push",
    SourceBranch(Values) = "source.branch",
    SourceTag(Values) = "source.tag",
    SourceBuiltCommit(Values) = "source.built-commit",
    ReleaseNotes(Values) = "release.notes",
    PlatformSkip(PlatformChange) = "release.platform.skip",
    PlatformShip(PlatformChange) = "release.platform.ship",
    ReleaseArtifacts(ReleaseArtifacts) = "release.artifacts",
    PipelinePlatform(PipelinePlatform) = "pipeline.platform",
    BlobReplace(Values) = "blob.replace",
    VerifyReport(VerifyReport) = "verify.report",
    KpiRecord(Values) = "kpi.record",
    KpiDemoSamples(Values) = "kpi.demo-samples",
    RunbookStep(RunbookStep) = "runbook.step",
    RunbookStepEnd(RunbookStep) = "runbook.step.end",
    FindingsAccept(FindingsAccept) = "findings.accept",
    FindingsRevoke(FindingsRevoke) = "findings.revoke",
    FindingsImport(FindingsImport) = "findings.import",
    SecretRotated(SecretRotated) = "secret.rotated",
    FlagsCreate(FlagChange) = "flags.create",
    FlagsAdvance(FlagChange) = "flags.advance",
    FlagsRollout(FlagChange) = "flags.rollout",
    FlagsRollback(FlagChange) = "flags.rollback",
    FlagsArchive(FlagChange) = "flags.archive",
    FlagsImport(Values) = "flags.import",
    IncidentCreate(IncidentCreate) = "status.incident.create",
    IncidentUpdate(IncidentChange) = "status.incident.update",
    IncidentResolve(IncidentChange) = "status.incident.resolve",
    IncidentImport(Values) = "status.incident.import",
    MaintenanceSchedule(Values) = "status.maintenance.schedule",
    MaintenanceUpdate(Values) = "status.maintenance.update",
    StatusPagePost(Values) = "status.page.post",
    PostmortemExport(Values) = "status.postmortem.export",
    DemoSigning(Values) = "demo.signing",
    DemoRepository(Values) = "demo.repository",
    DemoHistory(Values) = "demo.history",
}

/// What a change (`action` on `target`, with `after`) changes, as two changes are compared
/// to tell whether one was judged without the other: its target, except for the changes of a
/// publish channel (`publish.begin`, `publish`, `publish.yank.begin`, `publish.yank`), which
/// all change that channel's record (it holds every version on the channel and one begun
/// change, while the publish leases are per version): `publish channel CHANNEL`.
pub fn subject<'a>(action: &str, target: &'a str, after: &Value) -> Cow<'a, str> {
    let of_channel = matches!(
        Action::parse(action),
        Some(Action::PublishBegin | Action::Publish | Action::YankBegin | Action::Yank)
    );
    match after.get("channel").and_then(Value::as_str) {
        Some(channel) if of_channel => Cow::Owned(format!("publish channel {channel}")),
        _ => Cow::Borrowed(target),
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// The action string the entry is written with.
    pub fn action(&self) -> Cow<'static, str> {
        match self {
            Event::Failed(f) => Cow::Owned(format!("{}.failed", f.action)),
            Event::NotApplied(n) => Cow::Owned(format!("{}.not_applied", n.action)),
            Event::Unknown(u) => Cow::Owned(u.action.clone()),
            typed => Cow::Borrowed(typed.kind().map_or("", Action::as_str)),
        }
    }

    /// The action, target, `before` and `after` an entry of this event is written with.
    pub fn into_parts(self) -> (String, String, Value, Value) {
        let action = self.action().into_owned();
        let (target, before, after) = match self {
            Event::Unknown(u) => (u.target, u.before, u.after),
            other => other.target_and_values(),
        };
        (action, target, before, after)
    }

    /// The entry `actor` writes for this event: exactly what the console wrote before events
    /// were typed.
    pub fn to_new_entry(self, actor: &str) -> NewEntry {
        let (action, target, before, after) = self.into_parts();
        NewEntry {
            actor: actor.to_owned(),
            action,
            target,
            before,
            after,
        }
    }

    /// The failure of this event's intent (`ACTION.failed`), naming its entry when known.
    #[must_use]
    pub fn failed(&self, error: String, entry: Option<u64>) -> Event {
        Event::Failed(Failed {
            action: self.action().into_owned(),
            target: self.target(),
            error,
            entry,
        })
    }

    /// The event an entry of these parts records. Never fails: what this version does not
    /// read is [`Event::Unknown`].
    pub fn parse(action: &str, target: &str, before: &Value, after: &Value) -> Event {
        let typed = if let Some(kind) = Action::parse(action) {
            Event::read_typed(kind, target, before, after)
        } else if let Some(of) = action.strip_suffix(".failed") {
            FailedAfter::deserialize(after)
                .ok()
                .filter(|_| before.is_null() && !of.is_empty())
                .map(|a| {
                    Event::Failed(Failed {
                        action: of.to_owned(),
                        target: target.to_owned(),
                        error: a.error,
                        entry: a.entry,
                    })
                })
        } else if let Some(of) = action.strip_suffix(".not_applied") {
            NotAppliedAfter::deserialize(after)
                .ok()
                .filter(|_| before.is_null() && !of.is_empty())
                .map(|a| {
                    Event::NotApplied(NotApplied {
                        action: of.to_owned(),
                        target: target.to_owned(),
                        entry: a.entry,
                        reason: a.reason,
                    })
                })
        } else {
            None
        };
        typed.unwrap_or_else(|| {
            Event::Unknown(Unknown {
                action: action.to_owned(),
                target: target.to_owned(),
                before: before.clone(),
                after: after.clone(),
            })
        })
    }

    /// The event `entry` records (see [`Self::parse`]).
    pub fn from_entry(entry: &AuditEntry) -> Event {
        Self::parse(&entry.action, &entry.target, &entry.before, &entry.after)
    }

    /// A payload of untyped values for `target` (the variants whose values nobody reads).
    pub fn values(target: impl Into<String>, before: Value, after: Value) -> Values {
        Values {
            target: target.into(),
            before,
            after,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::audit::AuditLog;

    /// An entry's parts for `action` in the shape its writer writes (every action has one:
    /// the match is exhaustive).
    fn sample(action: Action) -> (&'static str, Value, Value) {
        let at = "2026-12-04T10:00:00Z";
        let item = json!({"done": true, "by": "ana", "at": at, "note": "looked", "audit_seq": 3});
        let flag = json!({"key": "ui_new", "rollout_percent": 5, "version": "7"});
        match action {
            Action::WorkspaceInit => ("/tmp/ws", Value::Null, json!({"product": "WireTuner"})),
            Action::ConfigUpgraded => (
                "release-console.toml",
                Value::Null,
                json!({"added": "[dr] stand_ins = \"x\"", "why": "stand-ins"}),
            ),
            Action::ConfigTool => (
                "release-console.toml",
                json!({"tool": "osslsigncode", "path": null}),
                json!({"tool": "osslsigncode", "path": "/opt/homebrew/bin/osslsigncode"}),
            ),
            Action::PeopleKeyAdd => (
                "ana",
                Value::Null,
                json!({"key": "k1", "public": "AAAA", "proof": "BBBB"}),
            ),
            Action::PeopleKeyRevoke => ("ana", Value::Null, json!({"key": "k1"})),
            Action::ReleaseCreate => (
                "1.2.1",
                Value::Null,
                json!({"version": "1.2.1", "kind": "hotfix", "of": "1.2.0", "runbook": "hotfix",
                       "created_at": at, "created_by": "ana"}),
            ),
            Action::ChecklistTick => ("1.2.0/pre.review", Value::Null, item),
            Action::ChecklistUntick => (
                "1.2.0/pre.review",
                item,
                json!({"done": false, "by": "bo", "at": at, "note": ""}),
            ),
            Action::TaskStart => (
                "build-linux-1.2.0",
                Value::Null,
                json!({"kind": "pipeline.linux", "release": "1.2.0"}),
            ),
            Action::TaskFinish => (
                "build-linux-1.2.0",
                json!({"state": "running"}),
                json!({"state": "succeeded", "message": "built", "kind": "pipeline.linux",
                       "release": null}),
            ),
            Action::BlobReplace => (
                "s3://team/ws/blobs/sha256/9f2c",
                json!({"found": "18 bytes of SHA-256 41d0 (ETag \"1\")"}),
                json!({"sha256": "9f2c", "size": 18}),
            ),
            Action::LeaseTakeover | Action::LeaseForce => (
                "publish 1.2.0",
                json!({"who": "bo", "until": at}),
                json!({"who": "ana", "until": at}),
            ),
            Action::NotifySent | Action::NotifyFailed | Action::NotifyUncertain => (
                "ev-3-abcdef01/slack:0",
                json!({"state": "pending"}),
                json!({"state": "sent", "to": "slack #releases", "event": "release.created",
                       "answer": "ok"}),
            ),
            Action::NotifyRetry => ("a b", Value::Null, json!({"deliveries": ["a", "b"]})),
            Action::NotifyQueued
            | Action::NotifySending
            | Action::NotifyPending
            | Action::NotifyDropped => (
                "ev-3-abcdef01/slack:0",
                json!({"state": "pending"}),
                json!({"delivery": {"id": "ev-3-abcdef01/slack:0", "state": "sending"}}),
            ),
            Action::DeployBackend | Action::DeployRollback => (
                "1.2.0",
                json!({"revision": "abc", "health": "Healthy"}),
                json!({"application": "wiretuner", "revision": "def", "history_id": 4}),
            ),
            Action::UploadStart | Action::UploadEnd => (
                "releases/WireTuner/1.2.0/a.zip",
                Value::Null,
                json!({"upload": {"upload_id": "u1", "sha256": "ab", "part_size": 8, "size": 9}}),
            ),
            Action::PublishBegin | Action::Publish => (
                "1.2.0",
                json!({"live": null}),
                json!({"channel": "stable", "uploaded": 2, "files": [
                    {"name": "a.msi", "url": "https://dl.example.com/a.msi", "sha256": "00"}]}),
            ),
            Action::YankBegin | Action::Yank => (
                "1.2.0",
                json!({"live": "1.2.0"}),
                json!({"channel": "stable", "live": "1.1.0", "reason": "crash on start"}),
            ),
            Action::SourcePush => (
                "1.2.0",
                Value::Null,
                json!({"remote": "origin", "ref": "refs/tags/v1.2.0"}),
            ),
            Action::SourceBranch => (
                "1.2.1",
                Value::Null,
                json!({"repo": "/src", "branch": "hotfix/1.2.1", "from_tag": "v1.2.0",
                       "commit": "abc"}),
            ),
            Action::SourceTag => (
                "1.2.0",
                Value::Null,
                json!({"tag": "v1.2.0", "commit": "abc", "from": "build"}),
            ),
            Action::SourceBuiltCommit => (
                "1.2.0",
                json!({"built_commit": null}),
                json!({"built_commit": "abc"}),
            ),
            Action::ReleaseNotes => (
                "1.2.0",
                Value::Null,
                json!({"file": "releases/1.2.0/notes.md", "sha256": "00", "bytes": 12}),
            ),
            Action::PlatformSkip | Action::PlatformShip => (
                "1.2.0/macos",
                Value::Null,
                json!({"skip": {"version": "1.2.0", "platform": "macos", "skipped": true,
                                "reason": "signing", "by": "ana", "at": at}}),
            ),
            Action::VerifyReport => (
                "artifacts",
                Value::Null,
                json!({"overall": "pass", "of_release": true, "release": "1.2.0",
                       "artifacts": [{"path": "a.msi"}],
                       "blobs": [{"name": "a.msi", "sha256": "ab".repeat(32), "size": 3,
                                  "entry": 7}],
                       "bad_lines": 0, "expected": 1}),
            ),
            Action::ReleaseArtifacts => (
                "1.2.0",
                Value::Null,
                json!({"version": "1.2.0", "platforms": ["windows"],
                       "files": [{"name": "a.msi", "size": 3, "sha256": "ab".repeat(32),
                                  "kind": "artifact", "platform": "windows"},
                                 {"name": "SHA256SUMS", "size": 75, "sha256": "cd".repeat(32),
                                  "kind": "sums"}]}),
            ),
            Action::PipelinePlatform => (
                "1.2.0/linux",
                Value::Null,
                json!({"run": {"status": "succeeded", "message": "1 artifact",
                               "steps": [{"name": "Build", "seconds": 1.5}],
                               "artifacts": ["a.tar.gz"], "finished_at": at}}),
            ),
            Action::KpiRecord => ("crash_rate", Value::Null, json!({"value": 0.25, "at": at})),
            Action::KpiDemoSamples => ("demo", Value::Null, json!({"samples": 10, "until": at})),
            Action::RunbookStep => (
                "restore-db/restore",
                Value::Null,
                json!({"run": "r1", "command": ["aws", "rds"], "confirmed": false}),
            ),
            Action::RunbookStepEnd => (
                "restore-db/restore",
                Value::Null,
                json!({"procedure": "restore-db", "step": "restore", "state": "succeeded"}),
            ),
            Action::FindingsAccept => (
                "1.2.0/CVE-2026-1",
                Value::Null,
                json!({"id": "CVE-2026-1", "package": null, "reason": "not reachable",
                       "until": "2027-01-01T00:00:00Z", "by": "ana", "at": at,
                       "acceptances": [{"id": "CVE-2026-1", "package": null,
                                        "reason": "not reachable",
                                        "until": "2027-01-01T00:00:00Z", "by": "ana",
                                        "at": at}]}),
            ),
            Action::FindingsRevoke => (
                "1.2.0/CVE-2026-1",
                json!([{"id": "CVE-2026-1"}]),
                json!({"acceptances": []}),
            ),
            Action::FindingsImport => (
                "1.2.0",
                json!({"findings": 0}),
                json!({"files": [["trivy.json", "trivy", 1]], "new": 1, "findings": 1,
                       "blocking": 0,
                       "merged": [{"id": "CVE-2026-1", "package": "musl", "installed": "1.1",
                                   "fixed": null, "severity": "LOW", "title": null,
                                   "scanner": "trivy", "source_file": "trivy.json",
                                   "suppressed": null, "first_seen": at}]}),
            ),
            Action::SecretRotated => (
                "signing-pfx",
                Value::Null,
                json!({"at": at, "by": "ana", "note": "",
                       "earlier": [{"at": at, "by": "bo", "note": "", "audit_seq": 2}]}),
            ),
            Action::FlagsCreate
            | Action::FlagsAdvance
            | Action::FlagsRollout
            | Action::FlagsRollback
            | Action::FlagsArchive => (
                "ui_new",
                flag,
                json!({"rollout_percent": 25, "override_reason": null, "gate": {"open": true},
                       "change": {"what": "advance", "percent": 25},
                       "provider": {"local": true, "version": "7"}}),
            ),
            Action::FlagsImport => (
                "ui_new",
                Value::Null,
                json!({"change": {}, "plan": {}, "provider": {"local": true}, "why": "demo"}),
            ),
            Action::IncidentCreate => (
                "INC-1",
                Value::Null,
                json!({"incident": {"id": "INC-1", "name": "Login down", "severity": "P1"},
                       "page_incident": {"id": "p1"}, "published": {"body": "looking"}}),
            ),
            Action::IncidentUpdate | Action::IncidentResolve => (
                "INC-1",
                json!({"status": "investigating", "components": []}),
                json!({"status": "resolved", "published": {"body": "fixed"},
                       "page_status": "resolved", "incident": {"id": "INC-1"}}),
            ),
            Action::IncidentImport => (
                "INC-0",
                Value::Null,
                json!({"incident": {"id": "INC-0"}, "why": "demo"}),
            ),
            Action::MaintenanceSchedule => (
                "m1",
                Value::Null,
                json!({"maintenance": {}, "page_incident": {"id": "m1"}}),
            ),
            Action::MaintenanceUpdate => (
                "m1",
                Value::Null,
                json!({"status": "in_progress", "message": "", "page_status": "in_progress"}),
            ),
            Action::StatusPagePost => (
                "status-page",
                Value::Null,
                json!({"change": "create incident local-1",
                       "page": {"components": [{"id": "api", "name": "api",
                                                "status": "partial_outage"}],
                                "incidents": []}}),
            ),
            Action::PostmortemExport => ("INC-1", Value::Null, json!({"path": "/tmp/pm.md"})),
            Action::DemoSigning => (
                "demo-signing",
                Value::Null,
                json!({"ca": "/CN=x", "certificate": "y", "certificate_sha256": "00"}),
            ),
            Action::DemoRepository => (
                "demo-repo",
                Value::Null,
                json!({"tags": ["v0.0.9"], "commits": 3}),
            ),
            Action::DemoHistory => (
                "quarterly review",
                Value::Null,
                json!({"why": "demo", "incidents": 2, "flags": 1, "procedure_runs": 3}),
            ),
        }
    }

    /// Appends `events` to a real log and reads them back: each is read back as itself, and
    /// its line holds exactly the action, target and values it was written with.
    fn round_trip(events: &[(Event, String, String, Value, Value)]) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_workspace(dir.path());
        for (event, ..) in events {
            log.append(event.clone().to_new_entry("ana"))
                .expect("append");
        }
        let entries = log.entries().expect("entries");
        assert_eq!(entries.len(), events.len());
        for (entry, (event, action, target, before, after)) in entries.iter().zip(events) {
            assert_eq!(&Event::from_entry(entry), event, "{action}");
            assert_eq!(
                (&entry.action, &entry.target, &entry.before, &entry.after),
                (action, target, before, after),
            );
        }
        assert_eq!(log.verify().expect("intact").entries, events.len() as u64);
    }

    #[test]
    fn every_action_is_read_typed_and_written_back_as_it_was_read() {
        let mut all = Vec::new();
        for &action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            let (target, before, after) = sample(action);
            let event = Event::parse(action.as_str(), target, &before, &after);
            assert_eq!(event.kind(), Some(action), "{action}: {event:?}");
            assert_eq!(event.action(), action.as_str());
            assert_eq!(event.target(), target);
            let (a, t, b, f) = event.clone().into_parts();
            assert_eq!(
                (a.as_str(), t.as_str(), &b, &f),
                (action.as_str(), target, &before, &after),
                "{action} is not written as it was read"
            );
            all.push((event, a, t, b, f));
        }
        // A log admits a key's registration or revocation only when it is signed as the
        // people list requires (audit::keys' tests append real ones): these samples are
        // checked above as values, not appended.
        all.retain(|(e, ..)| {
            !matches!(
                e.kind(),
                Some(Action::PeopleKeyAdd | Action::PeopleKeyRevoke)
            )
        });
        round_trip(&all);
    }

    #[test]
    fn failures_and_voids_name_their_action_and_entry() {
        let intent = Event::FlagsAdvance(FlagChange {
            target: "ui_new".into(),
            before: Value::Null,
            after: FlagIntent {
                fields: [("rollout_percent".to_owned(), json!(25))]
                    .into_iter()
                    .collect(),
            },
        });
        assert_eq!(intent.action(), "flags.advance");
        let failed = intent.failed("refused".into(), Some(7));
        assert_eq!(failed.action(), "flags.advance.failed");
        let untargeted = Event::Failed(Failed {
            action: "source.push".into(),
            target: "1.2.0".into(),
            error: "offline".into(),
            entry: None,
        });
        let void = Event::NotApplied(NotApplied {
            action: "checklist.tick".into(),
            target: "1.2.0/pre.review".into(),
            entry: 4,
            reason: "gated".into(),
        });
        let parts = |e: &Event| {
            let (a, t, b, f) = e.clone().into_parts();
            (e.clone(), a, t, b, f)
        };
        assert_eq!(
            parts(&failed).4,
            json!({"error": "refused", "entry": 7}),
            "as Workspace::record_failed wrote it"
        );
        assert_eq!(parts(&untargeted).4, json!({"error": "offline"}));
        assert_eq!(parts(&void).4, json!({"entry": 4, "reason": "gated"}));
        round_trip(&[parts(&failed), parts(&untargeted), parts(&void)]);
        // A delivery that failed is an action of its own, not a failure of "notify".
        let (t, b, f) = sample(Action::NotifyFailed);
        assert_eq!(
            Event::parse("notify.failed", t, &b, &f).kind(),
            Some(Action::NotifyFailed)
        );
        // ... and a failure to record one is a failure of it.
        let e = Event::parse(
            "notify.failed.failed",
            t,
            &Value::Null,
            &json!({"error": "x"}),
        );
        assert!(
            matches!(&e, Event::Failed(f) if f.action == "notify.failed"),
            "{e:?}"
        );
    }

    /// Findings and rotation entries written before the log spoke for their files carry no
    /// record to replay: still read typed (the record absent), and written back as they were.
    #[test]
    fn findings_and_rotations_entries_older_than_their_records_are_read_typed() {
        let at = "2026-12-04T10:00:00Z";
        let cases: Vec<(Action, &str, Value, Value)> = vec![
            (
                Action::FindingsImport,
                "1.2.0",
                json!({"findings": 0}),
                json!({"files": [], "new": 1, "findings": 1, "blocking": 0}),
            ),
            (
                Action::FindingsAccept,
                "1.2.0/CVE-2026-1",
                Value::Null,
                json!({"id": "CVE-2026-1", "package": null, "reason": "not reachable",
                       "until": "2027-01-01T00:00:00Z", "by": "ana", "at": at}),
            ),
            (
                Action::FindingsRevoke,
                "1.2.0/CVE-2026-1",
                json!([{"id": "CVE-2026-1"}]),
                Value::Null,
            ),
            (
                Action::SecretRotated,
                "signing-pfx",
                Value::Null,
                json!({"at": at, "by": "ana", "note": ""}),
            ),
        ];
        let mut all = Vec::new();
        for (action, target, before, after) in cases {
            let event = Event::parse(action.as_str(), target, &before, &after);
            let carried = match &event {
                Event::FindingsImport(e) => e.after.merged.is_some(),
                Event::FindingsAccept(e) => e.after.acceptances.is_some(),
                Event::FindingsRevoke(e) => e.after.is_some(),
                Event::SecretRotated(e) => e.after.earlier.is_some(),
                other => panic!("{action}: read as {other:?}"),
            };
            assert!(!carried, "{action}: {event:?}");
            let (a, t, b, f) = event.clone().into_parts();
            assert_eq!(
                (a.as_str(), t.as_str(), &b, &f),
                (action.as_str(), target, &before, &after)
            );
            all.push((event, a, t, b, f));
        }
        round_trip(&all);
    }

    #[test]
    fn unknown_and_malformed_entries_are_read_as_written() {
        let cases: Vec<(&str, &str, Value, Value)> = vec![
            ("test.filler", "filler 1", Value::Null, json!({"n": 1})),
            ("bench.append", "bench", Value::Null, Value::Null),
            ("", "", Value::Null, Value::Null),
            // A known action in another shape: an older version's, or a hand-edited one.
            ("task.finish", "t", Value::Null, json!("done")),
            ("task.start", "t", Value::Null, json!({"kind": 7})),
            (
                "checklist.tick",
                "no-slash",
                Value::Null,
                sample(Action::ChecklistTick).2,
            ),
            // write_synthetic's (and early versions') ticks carry only `done` and a note.
            (
                "checklist.tick",
                "1.4.0/x",
                json!({"done": false}),
                json!({"done": true, "note": "n"}),
            ),
            ("release.create", "1.0.0", json!({"x": 1}), json!({})),
            (
                "findings.accept",
                "1.0.0/x",
                Value::Null,
                json!({"reason": "r", "until": "soon"}),
            ),
            (
                "publish",
                "1.0.0",
                json!({"live": 3}),
                json!({"channel": "c", "files": []}),
            ),
            (".failed", "x", Value::Null, json!({"error": "e"})),
            ("x.failed", "x", json!({"was": 1}), json!({"error": "e"})),
            ("x.failed", "x", Value::Null, json!({"error": 5})),
            (
                "x.not_applied",
                "x",
                Value::Null,
                json!({"entry": "five", "reason": ""}),
            ),
            (
                "status.incident.update",
                "INC-1",
                Value::Null,
                json!([1, 2]),
            ),
            ("flags.advance", "k", Value::Null, json!(null)),
        ];
        let mut all = Vec::new();
        for (action, target, before, after) in cases {
            let event = Event::parse(action, target, &before, &after);
            assert!(
                matches!(&event, Event::Unknown(u) if u.action == action && u.target == target
                    && u.before == before && u.after == after),
                "{action} {target} {after}: {event:?}"
            );
            assert_eq!(event.kind(), None);
            assert_eq!(event.action(), action);
            all.push((event, action.to_owned(), target.to_owned(), before, after));
        }
        // A log made by `write_synthetic` (an older shape of ticks) is read without a panic.
        let dir = tempfile::tempdir().expect("tempdir");
        super::super::write_synthetic(dir.path(), 20).expect("synthetic");
        for e in AuditLog::in_workspace(dir.path())
            .entries()
            .expect("entries")
        {
            let event = Event::from_entry(&e);
            let (action, target, before, after) = event.into_parts();
            assert_eq!(
                (action, target, before, after),
                (e.action, e.target, e.before, e.after)
            );
        }
        // Unknown entries are written back as they were read.
        all.retain(|(_, action, ..)| !action.is_empty());
        round_trip(&all);
    }
}
