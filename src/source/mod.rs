//! The product's repository (`[source]`, a local clone): hotfix branches cut from a release's
//! tag, the hotfix's commits for the fast-track review, the merge back to main checked by patch
//! id, release tags, and release notes drafted from the history.
//!
//! Git is the `git` command line (`git.rs`), run through the runner's short-command capture
//! with an argv, never a shell line. Not `gix`: it has no patch id (`git cherry`, which is how
//! a cherry-picked fix is recognised on main), and its dependency tree would add minutes to a
//! cold build on the project's 2-core machines, for a handful of commands the CLI does well.
//!
//! Every change to the repository (a branch, a tag) is audited before it is made, and
//! `source.*.failed` when git refuses; ticks go through the workspace and are audited there.
//! Items tick themselves by naming a kind here in `auto_tick_on` ([`BRANCH_KIND`],
//! [`MERGE_BACK_KIND`], [`NOTES_KIND`]).

pub mod git;
pub mod github;
pub mod notes;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use self::git::{Git, GitError};
use self::notes::{Entry, NoteCommit, PullRequest};
use crate::audit::{Action, Event};
use crate::store::{self, StateError};
use crate::workspace::config::{SourceConfig, is_safe_ref_name};
use crate::workspace::{Release, ReleaseKind, Workspace, WorkspaceError, parse_version};

/// The kind items name (`auto_tick_on`) to be ticked when a hotfix branch is cut.
pub const BRANCH_KIND: &str = "source.branch";
/// ... when every hotfix commit is on the main branch.
pub const MERGE_BACK_KIND: &str = "source.merge-back";
/// ... when the release notes are saved.
pub const NOTES_KIND: &str = "source.notes";
/// A release's notes, in its folder.
pub const NOTES_FILE: &str = "notes.md";
/// What the console records of a release's source (`built_commit`).
const SOURCE_FILE: &str = "source.json";
/// The largest notes file read or saved.
pub const MAX_NOTES_BYTES: usize = 1024 * 1024;

/// What went wrong with the product's repository, naming the repository, ref or commits.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "no [source] in release-console.toml: name the product's local clone with \
         `[source] repo = \"PATH\"`"
    )]
    NotConfigured,
    #[error("{path}: [source] repo is not a git repository ({message})")]
    NotARepo { path: PathBuf, message: String },
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("tag {tag} (of {what}) is not in {repo}; tags there: {known}")]
    TagMissing {
        tag: String,
        what: String,
        repo: PathBuf,
        known: String,
    },
    #[error(
        "branch {branch} already exists with {} commit(s) that are not on tag {tag}: {}",
        commits.len(),
        commits.join("; ")
    )]
    BranchHasOtherCommits {
        branch: String,
        tag: String,
        commits: Vec<String>,
    },
    #[error("branch {branch} already exists at {at}, which is not tag {tag} ({tag_commit})")]
    BranchElsewhere {
        branch: String,
        at: String,
        tag: String,
        tag_commit: String,
    },
    #[error("tag {tag} already exists at {at}, not at {wanted} ({why})")]
    TagElsewhere {
        tag: String,
        at: String,
        wanted: String,
        why: String,
    },
    #[error("{what} {name:?} is not a valid git ref name")]
    BadRef { what: &'static str, name: String },
    #[error("release {0} is not a hotfix")]
    NotAHotfix(String),
    #[error("branch {0} does not exist (cut it with `release new VERSION --hotfix-of OF`)")]
    NoBranch(String),
    #[error("neither refs/heads/{branch} nor refs/remotes/{remote}/{branch} is in {repo}")]
    NoMainBranch {
        branch: String,
        remote: String,
        repo: PathBuf,
    },
    #[error("notes: {0}")]
    Notes(String),
    #[error("GitHub: {0}")]
    GitHub(String),
}

impl From<SourceError> for WorkspaceError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Workspace(w) => w,
            other => WorkspaceError::Refused(other.to_string()),
        }
    }
}

/// One file a commit changed: lines added and deleted (`None` for a binary file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    pub added: Option<u64>,
    pub deleted: Option<u64>,
}

/// A commit with what it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commit {
    pub sha: String,
    pub author: String,
    pub email: String,
    pub subject: String,
    pub body: String,
    pub files: Vec<FileChange>,
}

impl Commit {
    pub fn short(&self) -> &str {
        self.sha.get(..10).unwrap_or(&self.sha)
    }

    /// Lines added plus deleted (binary files count none).
    pub fn lines(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.added.unwrap_or(0) + f.deleted.unwrap_or(0))
            .sum()
    }

    fn one_line(&self) -> String {
        format!("{} {}", self.short(), self.subject)
    }
}

/// The product's repository as `[source]` configures it.
#[derive(Debug, Clone)]
pub struct Source {
    cfg: SourceConfig,
    git: Git,
}

impl Source {
    /// The configured clone, which must be a git repository.
    pub async fn open(ws: &Workspace) -> Result<Self, SourceError> {
        let cfg = ws
            .config()
            .source
            .clone()
            .ok_or(SourceError::NotConfigured)?;
        let path = ws.root().join(&cfg.repo);
        if !path.is_dir() {
            return Err(SourceError::NotARepo {
                path,
                message: "no such folder".into(),
            });
        }
        let git = Git::new(&path);
        git.run(&["rev-parse", "--git-dir"])
            .await
            .map_err(|e| SourceError::NotARepo {
                path: path.clone(),
                message: e.message,
            })?;
        Ok(Self { cfg, git })
    }

    pub fn config(&self) -> &SourceConfig {
        &self.cfg
    }

    pub fn git(&self) -> &Git {
        &self.git
    }

    /// The tag of `version` (`tag_format`).
    pub fn tag_of(&self, version: &semver::Version) -> String {
        self.cfg
            .tag_format
            .replace("{version}", &version.to_string())
    }

    /// The hotfix branch of `version` (`hotfix_branch`).
    pub fn hotfix_branch(&self, version: &semver::Version) -> String {
        self.cfg
            .hotfix_branch
            .replace("{version}", &version.to_string())
    }

    /// The version a tag names, if it follows `tag_format`.
    pub fn version_of_tag(&self, tag: &str) -> Option<semver::Version> {
        let (prefix, suffix) = self.cfg.tag_format.split_once("{version}")?;
        let v = tag.strip_prefix(prefix)?.strip_suffix(suffix)?;
        semver::Version::parse(v).ok()
    }

    /// The commit tag `tag` points at (an annotated tag peeled).
    pub async fn tag_commit(&self, tag: &str) -> Result<Option<String>, SourceError> {
        if !is_safe_ref_name(tag) {
            return Err(SourceError::BadRef {
                what: "tag",
                name: tag.to_owned(),
            });
        }
        Ok(self.git.commit_of(&format!("refs/tags/{tag}")).await?)
    }

    /// The commit local branch `branch` is at.
    pub async fn branch_commit(&self, branch: &str) -> Result<Option<String>, SourceError> {
        if !is_safe_ref_name(branch) {
            return Err(SourceError::BadRef {
                what: "branch",
                name: branch.to_owned(),
            });
        }
        Ok(self.git.commit_of(&format!("refs/heads/{branch}")).await?)
    }

    /// The main branch: the local one, else the remote's.
    pub async fn main_ref(&self) -> Result<String, SourceError> {
        let local = format!("refs/heads/{}", self.cfg.main_branch);
        if self.git.commit_of(&local).await?.is_some() {
            return Ok(local);
        }
        let remote = format!("refs/remotes/{}/{}", self.cfg.remote, self.cfg.main_branch);
        if self.git.commit_of(&remote).await?.is_some() {
            return Ok(remote);
        }
        Err(SourceError::NoMainBranch {
            branch: self.cfg.main_branch.clone(),
            remote: self.cfg.remote.clone(),
            repo: self.git.repo().to_owned(),
        })
    }

    /// Every tag that follows `tag_format`, oldest version first.
    pub async fn release_tags(&self) -> Result<Vec<(semver::Version, String)>, SourceError> {
        let out = self
            .git
            .run(&["for-each-ref", "--format=%(refname:strip=2)", "refs/tags"])
            .await?;
        let mut tags: Vec<(semver::Version, String)> = out
            .lines()
            .filter_map(|t| Some((self.version_of_tag(t)?, t.to_owned())))
            .collect();
        tags.sort();
        Ok(tags)
    }

    async fn tag_missing(&self, tag: &str, what: String) -> SourceError {
        let known = match self.release_tags().await {
            Ok(t) if t.is_empty() => "none".to_owned(),
            Ok(t) => t
                .iter()
                .rev()
                .take(10)
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => e.to_string(),
        };
        SourceError::TagMissing {
            tag: tag.to_owned(),
            what,
            repo: self.git.repo().to_owned(),
            known,
        }
    }

    /// The non-merge commits in `from..to` (`from` `None`: all of `to`'s history), oldest
    /// first, with their changed files and line counts. Both are commit names or full refs.
    pub async fn commits(&self, from: Option<&str>, to: &str) -> Result<Vec<Commit>, SourceError> {
        let range = match from {
            Some(f) => format!("{f}..{to}"),
            None => to.to_owned(),
        };
        let out = self
            .git
            .run(&[
                "log",
                "--no-merges",
                "--reverse",
                "--numstat",
                "--format=%x1e%H%x1f%an%x1f%ae%x1f%s%x1f%b%x1f",
                "--end-of-options",
                &range,
                "--",
            ])
            .await?;
        Ok(parse_log(&out))
    }
}

/// Reads `git log --numstat --format=%x1e%H%x1f%an%x1f%ae%x1f%s%x1f%b%x1f`.
fn parse_log(out: &str) -> Vec<Commit> {
    out.split('\x1e')
        .filter_map(|record| {
            let mut f = record.split('\x1f');
            let sha = f.next()?.trim().to_owned();
            if sha.is_empty() {
                return None;
            }
            let author = f.next()?.to_owned();
            let email = f.next()?.to_owned();
            let subject = f.next()?.to_owned();
            let body = f.next()?.trim().to_owned();
            let files = f
                .next()
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let mut parts = l.splitn(3, '\t');
                    let added = parts.next()?;
                    let deleted = parts.next()?;
                    let path = parts.next()?;
                    Some(FileChange {
                        path: path.to_owned(),
                        added: added.parse().ok(),
                        deleted: deleted.parse().ok(),
                    })
                })
                .collect();
            Some(Commit {
                sha,
                author,
                email,
                subject,
                body,
                files,
            })
        })
        .collect()
}

/// Ticks every open item of `release` whose `auto_tick_on` names `kind`, with `note`; a gated
/// item is left open and its reason returned.
fn tick_kind(
    ws: &Workspace,
    release: &Release,
    kind: &str,
    note: &str,
) -> Result<Ticked, WorkspaceError> {
    let runbook = ws.runbook(release)?;
    let checklist = ws.checklist(release)?;
    let mut out = Ticked::default();
    for item in runbook.phases.iter().flat_map(|p| &p.items) {
        if item.auto_tick_on.as_deref() != Some(kind) || checklist.is_done(&item.id) {
            continue;
        }
        match ws.set_item(release, &item.id, true, note) {
            Ok(_) => out.ticked.push(item.id.clone()),
            Err(WorkspaceError::Gated { reason, .. }) => {
                out.gated.push(format!("{}: {reason}", item.id));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The items a step ticked, and those it could not tick yet (with the gate's reason).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ticked {
    pub ticked: Vec<String>,
    pub gated: Vec<String>,
}

/// A hotfix branch, cut or found.
#[derive(Debug, Clone, Serialize)]
pub struct HotfixBranch {
    pub release: Release,
    pub branch: String,
    pub tag: String,
    /// The commit it was cut from (the tag's).
    pub commit: String,
    /// It existed already at the tag's commit, so nothing was cut.
    pub existed: bool,
    pub ticks: Ticked,
    /// The remote the branch was pushed to (`--push`), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<String>,
}

/// Pushes `full_ref` (`refs/heads/..`, `refs/tags/..`) to `[source] remote` under the same
/// name: audited before (`source.push`), `source.push.failed` when git refuses (a remote that
/// has the ref at another commit, one that cannot be reached). Returns the remote's name.
async fn push_ref(
    ws: &Workspace,
    src: &Source,
    target: &str,
    full_ref: &str,
) -> Result<String, SourceError> {
    let remote = src.config().remote.clone();
    ws.record(Event::SourcePush(Event::values(
        target,
        serde_json::Value::Null,
        serde_json::json!({ "remote": remote, "ref": full_ref }),
    )))?;
    let refspec = format!("{full_ref}:{full_ref}");
    if let Err(e) = src
        .git()
        .run(&["push", "--porcelain", "--end-of-options", &remote, &refspec])
        .await
    {
        ws.record_failed(Action::SourcePush, target, &e);
        return Err(e.into());
    }
    Ok(remote)
}

/// `release new VERSION --hotfix-of OF` with `[source]`: checks the tag of `of` and the branch
/// first, creates the release, cuts `hotfix_branch` from the tag's commit (audited), and ticks
/// the items naming [`BRANCH_KIND`] with that commit. A release made by an earlier attempt
/// whose branch failed is taken up again.
pub async fn new_hotfix(
    ws: &Workspace,
    version: &str,
    of: &str,
    push: bool,
) -> Result<HotfixBranch, SourceError> {
    let src = Source::open(ws).await?;
    let base = ws.release(Some(of))?;
    let version = parse_version(version)?;
    let tag = src.tag_of(&base.version);
    let Some(commit) = src.tag_commit(&tag).await? else {
        return Err(src
            .tag_missing(&tag, format!("release {}", base.version))
            .await);
    };
    let branch = src.hotfix_branch(&version);
    let existing = src.branch_commit(&branch).await?;
    if let Some(at) = &existing
        && *at != commit
    {
        let other = src.commits(Some(&commit), at).await?;
        if other.is_empty() {
            return Err(SourceError::BranchElsewhere {
                branch,
                at: at.clone(),
                tag,
                tag_commit: commit,
            });
        }
        return Err(SourceError::BranchHasOtherCommits {
            branch,
            tag,
            commits: other.iter().map(Commit::one_line).collect(),
        });
    }
    let release = match ws.create_release(&version.to_string(), Some(of)) {
        Ok(r) => r,
        Err(WorkspaceError::ReleaseExists(v)) => {
            let r = ws.release(Some(&v))?;
            if r.kind
                != (ReleaseKind::Hotfix {
                    of: base.version.clone(),
                })
            {
                return Err(WorkspaceError::ReleaseExists(v).into());
            }
            r
        }
        Err(e) => return Err(e.into()),
    };
    let target = release.version.to_string();
    if existing.is_none() {
        let details = serde_json::json!({
            "repo": src.git().repo(),
            "branch": branch,
            "from_tag": tag,
            "commit": commit,
        });
        ws.record(Event::SourceBranch(Event::values(
            target.clone(),
            serde_json::Value::Null,
            details,
        )))?;
        if let Err(e) = src
            .git()
            .run(&["branch", "--no-track", &branch, &commit])
            .await
        {
            ws.record_failed(Action::SourceBranch, &target, &e);
            return Err(e.into());
        }
    }
    let note = format!("{branch} from {tag} at {commit}");
    let ticks = tick_kind(ws, &release, BRANCH_KIND, &note)?;
    let pushed = if push {
        Some(push_ref(ws, &src, &target, &format!("refs/heads/{branch}")).await?)
    } else {
        None
    };
    Ok(HotfixBranch {
        release,
        branch,
        tag,
        commit,
        existed: existing.is_some(),
        ticks,
        pushed,
    })
}

/// The kind of the task that cuts a hotfix from the GUI ([`run_new_hotfix`]). No item names
/// it: [`new_hotfix`] ticks the items naming [`BRANCH_KIND`] itself, with the commit.
pub const NEW_HOTFIX_KIND: &str = "source.new-hotfix";

/// The task that makes hotfix `version` ([`run_new_hotfix`]): git runs in it, so it is a task
/// with a name and a log, like a build, not work on the UI thread.
pub fn new_hotfix_task_spec(ws: &Workspace, version: &str) -> crate::runner::TaskSpec {
    ws.task_spec(
        &format!("new-hotfix-{}", version.trim()),
        NEW_HOTFIX_KIND,
        None,
        std::time::Duration::from_mins(5),
    )
}

/// [`new_hotfix`] as the task `ctx` belongs to (the Overview's New hotfix): its refusal is the
/// task's failure, in the same words the CLI prints.
pub async fn run_new_hotfix(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    version: String,
    of: String,
) -> crate::runner::TaskResult {
    ctx.log_line(&format!(
        "hotfix {version} of {of}: checking the tag and the branch"
    ));
    let h = new_hotfix(&ws, &version, &of, false)
        .await
        .map_err(|e| crate::runner::TaskError::Failed(e.to_string()))?;
    let what = if h.existed {
        format!(
            "{} was already at {} ({}): nothing cut",
            h.branch, h.tag, h.commit
        )
    } else {
        format!("cut {} from {} at {}", h.branch, h.tag, h.commit)
    };
    ctx.log_line(&what);
    for item in &h.ticks.ticked {
        ctx.log_line(&format!("ticked {item}"));
    }
    for gated in &h.ticks.gated {
        ctx.log_line(&format!("not ticked yet: {gated}"));
    }
    Ok(format!(
        "created hotfix {} of {of}; {what}",
        h.release.version
    ))
}

/// A hotfix commit as the fast-track review sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewedCommit {
    #[serde(flatten)]
    pub commit: Commit,
    pub lines: u64,
    /// Why the review must look at it (empty: a minimal fix).
    pub flags: Vec<String>,
    /// It is on the main branch (itself, or a commit with the same patch id).
    pub on_main: bool,
}

/// A hotfix's branch since the tag: its commits, what is flagged, and the merge back.
#[derive(Debug, Clone, Serialize)]
pub struct HotfixReview {
    pub version: String,
    pub branch: String,
    pub tag: String,
    pub base: String,
    pub main: String,
    pub commits: Vec<ReviewedCommit>,
    /// Every commit is on main (and there is at least one).
    pub merged_back: bool,
    pub ticks: Ticked,
}

impl HotfixReview {
    pub fn flagged(&self) -> impl Iterator<Item = &ReviewedCommit> {
        self.commits.iter().filter(|c| !c.flags.is_empty())
    }
}

/// The hotfix `release`'s commits on its branch since the tag of the release it fixes, each
/// with its changed files and line counts, flagged for the fast-track review when its subject
/// matches `feature_pattern` or it changes more than `max_hotfix_commit_lines`; and whether
/// each is on the main branch by patch id (`git cherry`, so a cherry-pick counts). When all
/// are, the items naming [`MERGE_BACK_KIND`] are ticked.
pub async fn review_hotfix(ws: &Workspace, release: &Release) -> Result<HotfixReview, SourceError> {
    let ReleaseKind::Hotfix { of } = &release.kind else {
        return Err(SourceError::NotAHotfix(release.version.to_string()));
    };
    let src = Source::open(ws).await?;
    let tag = src.tag_of(of);
    let Some(base) = src.tag_commit(&tag).await? else {
        return Err(src.tag_missing(&tag, format!("release {of}")).await);
    };
    let branch = src.hotfix_branch(&release.version);
    if src.branch_commit(&branch).await?.is_none() {
        return Err(SourceError::NoBranch(branch));
    }
    let branch_ref = format!("refs/heads/{branch}");
    let main = src.main_ref().await?;
    let commits = src.commits(Some(&base), &branch_ref).await?;
    let cherry = src
        .git()
        .run(&["cherry", &main, &branch_ref, &base])
        .await?;
    let missing: Vec<&str> = cherry
        .lines()
        .filter_map(|l| l.strip_prefix("+ "))
        .map(str::trim)
        .collect();
    let pattern = regex::Regex::new(&src.config().feature_pattern)
        .map_err(|e| SourceError::Notes(format!("feature_pattern: {e}")))?;
    let max = src.config().max_hotfix_commit_lines;
    let reviewed: Vec<ReviewedCommit> = commits
        .into_iter()
        .map(|c| {
            let lines = c.lines();
            let mut flags = Vec::new();
            if pattern.is_match(&c.subject) {
                flags.push(format!(
                    "its subject matches the feature pattern `{}`: a hotfix carries no features",
                    src.config().feature_pattern
                ));
            }
            if lines > max {
                flags.push(format!(
                    "{lines} lines changed, over the {max} a minimal fix may change"
                ));
            }
            let on_main = !missing.contains(&c.sha.as_str());
            ReviewedCommit {
                commit: c,
                lines,
                flags,
                on_main,
            }
        })
        .collect();
    let merged_back = !reviewed.is_empty() && reviewed.iter().all(|c| c.on_main);
    let ticks = if merged_back {
        let note = format!(
            "all {} commit(s) of {branch} are on {} (by patch id)",
            reviewed.len(),
            src.config().main_branch
        );
        tick_kind(ws, release, MERGE_BACK_KIND, &note)?
    } else {
        Ticked::default()
    };
    Ok(HotfixReview {
        version: release.version.to_string(),
        branch,
        tag,
        base,
        main,
        commits: reviewed,
        merged_back,
        ticks,
    })
}

/// `releases/<v>/source.json`: what the console knows of a release's source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// The commit the installers were built from, recorded when the build ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_commit: Option<String>,
}

fn source_path(ws: &Workspace, release: &Release) -> PathBuf {
    ws.release_dir(&release.version).join(SOURCE_FILE)
}

/// What the console recorded of `release`'s source.
pub fn source_record(ws: &Workspace, release: &Release) -> Result<SourceRecord, SourceError> {
    Ok(store::read_json(&source_path(ws, release))?.unwrap_or_default())
}

/// Records the commit `release`'s installers were built from (audited): what `release tag`
/// tags.
pub fn record_built_commit(
    ws: &Workspace,
    release: &Release,
    commit: &str,
) -> Result<(), SourceError> {
    let _lock = store::lock(&ws.release_dir(&release.version), "source")?;
    let mut record = source_record(ws, release)?;
    let before = serde_json::to_value(&record).unwrap_or_default();
    record.built_commit = Some(commit.to_owned());
    ws.change(
        Event::SourceBuiltCommit(Event::values(
            release.version.to_string(),
            before,
            serde_json::to_value(&record).unwrap_or_default(),
        )),
        |_| store::write_json(&source_path(ws, release), &record),
    )?;
    Ok(())
}

/// The commit a build of `release` starts from: the head of its branch (its hotfix branch, or
/// the main branch), with that branch's ref. `None` without `[source]`.
pub async fn build_commit(
    ws: &Workspace,
    release: &Release,
) -> Result<Option<(String, String)>, SourceError> {
    if ws.config().source.is_none() {
        return Ok(None);
    }
    let src = Source::open(ws).await?;
    let branch = release_branch(&src, release).await?;
    let commit = src
        .git()
        .commit_of(&branch)
        .await?
        .ok_or_else(|| SourceError::NoBranch(branch.clone()))?;
    Ok(Some((commit, branch)))
}

/// What `release tag` did.
#[derive(Debug, Clone, Serialize)]
pub struct Tagged {
    pub tag: String,
    pub commit: String,
    /// Where the commit came from: `"build"` (recorded when the build ran) or the branch
    /// whose head it is.
    pub from: String,
    /// The tag existed already at this commit: nothing was made.
    pub existed: bool,
    /// The remote the tag was pushed to (`--push`), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<String>,
}

/// The branch a release is made from: its hotfix branch, or the main branch.
async fn release_branch(src: &Source, release: &Release) -> Result<String, SourceError> {
    match release.kind {
        ReleaseKind::Hotfix { .. } => {
            let branch = src.hotfix_branch(&release.version);
            if src.branch_commit(&branch).await?.is_none() {
                return Err(SourceError::NoBranch(branch));
            }
            Ok(format!("refs/heads/{branch}"))
        }
        ReleaseKind::Regular => src.main_ref().await,
    }
}

/// `release tag X`: the annotated tag of `release` at the commit its build recorded, or, when
/// none was recorded, at its branch's head (and [`Tagged::from`] says so). A tag that exists
/// at that commit is left as it is; one at another commit is refused. With `push`, the tag
/// (new or found) is pushed to `[source] remote`. The CLI's `release tag` and the Overview's
/// Tag the release.
pub async fn tag_release(
    ws: &Workspace,
    release: &Release,
    push: bool,
) -> Result<Tagged, SourceError> {
    let mut tagged = make_tag(ws, release).await?;
    if push {
        let src = Source::open(ws).await?;
        let full = format!("refs/tags/{}", tagged.tag);
        tagged.pushed = Some(push_ref(ws, &src, &release.version.to_string(), &full).await?);
    }
    Ok(tagged)
}

async fn make_tag(ws: &Workspace, release: &Release) -> Result<Tagged, SourceError> {
    let src = Source::open(ws).await?;
    let tag = src.tag_of(&release.version);
    let recorded = source_record(ws, release)?.built_commit;
    let (commit, from) = if let Some(c) = recorded {
        let commit = src.git().commit_of(&c).await?.ok_or_else(|| {
            SourceError::Notes(format!("built commit {c} is not in the repository"))
        })?;
        (commit, "build".to_owned())
    } else {
        let branch = release_branch(&src, release).await?;
        let head = src.git().commit_of(&branch).await?.unwrap_or_default();
        (head, branch)
    };
    if let Some(at) = src.tag_commit(&tag).await? {
        if at == commit {
            return Ok(Tagged {
                tag,
                commit,
                from,
                existed: true,
                pushed: None,
            });
        }
        return Err(SourceError::TagElsewhere {
            tag,
            at,
            wanted: commit,
            why: if from == "build" {
                "the commit the build recorded".to_owned()
            } else {
                format!("the head of {from}; no build recorded its commit")
            },
        });
    }
    let target = release.version.to_string();
    ws.record(Event::SourceTag(Event::values(
        target.clone(),
        serde_json::Value::Null,
        serde_json::json!({ "tag": tag, "commit": commit, "from": from }),
    )))?;
    let message = format!("{} {}", ws.config().product.name, release.version);
    if let Err(e) = src
        .git()
        .run(&["tag", "--annotate", "--message", &message, &tag, &commit])
        .await
    {
        ws.record_failed(Action::SourceTag, &target, &e);
        return Err(e.into());
    }
    Ok(Tagged {
        tag,
        commit,
        from,
        existed: false,
        pushed: None,
    })
}

impl Tagged {
    /// What was done, in the words the CLI prints and the GUI's task ends with.
    pub fn describe(&self) -> String {
        let at = if self.from == "build" {
            "the commit the build recorded".to_owned()
        } else {
            format!("the head of {}: no build recorded its commit", self.from)
        };
        let mut out = if self.existed {
            format!("tag {} already at {} ({at})", self.tag, self.commit)
        } else {
            format!("tagged {} at {} ({at})", self.tag, self.commit)
        };
        if let Some(remote) = &self.pushed {
            out.push_str(&format!("; pushed to {remote}"));
        }
        out
    }
}

/// The kind of the task that tags a release from the GUI ([`run_tag_release`]).
pub const TAG_TASK_KIND: &str = "source.tag-release";

/// The task that tags release `version` ([`run_tag_release`]): git runs in it.
pub fn tag_task_spec(ws: &Workspace, version: &str) -> crate::runner::TaskSpec {
    ws.task_spec(
        &format!("tag-{}", version.trim()),
        TAG_TASK_KIND,
        None,
        std::time::Duration::from_mins(5),
    )
}

/// [`tag_release`] as the task `ctx` belongs to (the Overview's Tag the release): a refusal is
/// the task's failure, in the words the CLI prints.
pub async fn run_tag_release(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    release: Release,
    push: bool,
) -> crate::runner::TaskResult {
    let t = tag_release(&ws, &release, push)
        .await
        .map_err(|e| crate::runner::TaskError::Failed(e.to_string()))?;
    let what = t.describe();
    ctx.log_line(&what);
    Ok(what)
}

/// A draft of a release's notes.
#[derive(Debug, Clone, Serialize)]
pub struct NotesDraft {
    pub version: String,
    /// The tag the notes start after (`None`: the whole history).
    pub from: Option<String>,
    /// The ref they end at: the release's tag, its branch's head.
    pub to: String,
    pub commits: usize,
    pub entries: Vec<Entry>,
    pub markdown: String,
}

/// Drafts the notes of `release` from the commits since `from` (a tag), or since the tag of the
/// newest earlier version in the repository; up to the release's tag, else its branch's head.
/// With `[source.github]`, each commit's merged pull request gives the entry its title and
/// number.
pub async fn draft_notes(
    ws: &Workspace,
    release: &Release,
    from: Option<&str>,
) -> Result<NotesDraft, SourceError> {
    let src = Source::open(ws).await?;
    let own_tag = src.tag_of(&release.version);
    let to = if src.tag_commit(&own_tag).await?.is_some() {
        format!("refs/tags/{own_tag}")
    } else {
        release_branch(&src, release).await?
    };
    let from = match from {
        Some(t) => {
            let t = t.trim();
            if src.tag_commit(t).await?.is_none() {
                return Err(src.tag_missing(t, "--from".to_owned()).await);
            }
            Some(t.to_owned())
        }
        None => src
            .release_tags()
            .await?
            .into_iter()
            .rev()
            .find(|(v, _)| *v < release.version)
            .map(|(_, t)| t),
    };
    let from_ref = from.as_ref().map(|t| format!("refs/tags/{t}"));
    let commits = src.commits(from_ref.as_deref(), &to).await?;
    let prs = match &src.config().github {
        Some(g) => pull_requests(ws, g, &commits).await?,
        None => Vec::new(),
    };
    let note_commits: Vec<NoteCommit> = commits
        .iter()
        .map(|c| NoteCommit {
            sha: c.sha.clone(),
            author: c.author.clone(),
            subject: c.subject.clone(),
            body: c.body.clone(),
        })
        .collect();
    let entries = notes::entries(&note_commits, &prs);
    let markdown = notes::render(
        &ws.config().product.name,
        &release.version.to_string(),
        from.as_deref().unwrap_or("the first commit"),
        &entries,
    );
    Ok(NotesDraft {
        version: release.version.to_string(),
        from,
        to,
        commits: commits.len(),
        entries,
        markdown,
    })
}

async fn pull_requests(
    ws: &Workspace,
    cfg: &crate::workspace::config::SourceGitHubConfig,
    commits: &[Commit],
) -> Result<Vec<Option<PullRequest>>, SourceError> {
    let aws = ws.config().aws.clone();
    let for_token = cfg.clone();
    let token = tokio::task::spawn_blocking(move || for_token.token(&aws))
        .await
        .map_err(|e| SourceError::GitHub(format!("token lookup: {e}")))?
        .map_err(SourceError::GitHub)?;
    let client = github::PullRequests::new(cfg.clone(), token).map_err(SourceError::GitHub)?;
    let mut out = Vec::with_capacity(commits.len());
    for c in commits {
        out.push(
            client
                .for_commit(&c.sha)
                .await
                .map_err(SourceError::GitHub)?,
        );
    }
    Ok(out)
}

/// Where `version`'s notes are.
pub fn notes_path(ws: &Workspace, version: &semver::Version) -> PathBuf {
    ws.release_dir(version).join(NOTES_FILE)
}

/// `version`'s saved notes, if any (at most [`MAX_NOTES_BYTES`]; a bigger file is not read).
pub fn read_notes(
    ws: &Workspace,
    version: &semver::Version,
) -> Result<Option<String>, SourceError> {
    let path = notes_path(ws, version);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SourceError::Notes(format!("{}: {e}", path.display()))),
        Ok(m) if m.len() > MAX_NOTES_BYTES as u64 => {
            return Err(SourceError::Notes(format!(
                "{}: over {} KiB",
                path.display(),
                MAX_NOTES_BYTES / 1024
            )));
        }
        Ok(_) => {}
    }
    std::fs::read_to_string(&path)
        .map(Some)
        .map_err(|e| SourceError::Notes(format!("{}: {e}", path.display())))
}

/// Saves `markdown` as `release`'s notes (audited, with the SHA-256 before and after) and ticks
/// the items naming [`NOTES_KIND`]. The CLI's `--write` and the Notes view's Save.
pub fn save_notes(
    ws: &Workspace,
    release: &Release,
    markdown: &str,
) -> Result<Ticked, SourceError> {
    if markdown.len() > MAX_NOTES_BYTES {
        return Err(SourceError::Notes(format!(
            "over {} KiB; refusing to save",
            MAX_NOTES_BYTES / 1024
        )));
    }
    if markdown.trim().is_empty() {
        return Err(SourceError::Notes("empty; nothing to save".into()));
    }
    let path = notes_path(ws, &release.version);
    {
        let _lock = store::lock(&ws.release_dir(&release.version), "notes")?;
        let before = read_notes(ws, &release.version)?;
        let digest = |s: &str| crate::digest::Sha256::of(s.as_bytes());
        ws.change(
            Event::ReleaseNotes(Event::values(
                release.version.to_string(),
                before.as_deref().map_or(
                    serde_json::Value::Null,
                    |b| serde_json::json!({ "sha256": digest(b), "bytes": b.len() }),
                ),
                serde_json::json!({
                    "file": format!("releases/{}/{NOTES_FILE}", release.version),
                    "sha256": digest(markdown),
                    "bytes": markdown.len(),
                }),
            )),
            |_| store::write_atomic(&path, markdown.as_bytes()),
        )?;
    }
    let note = format!(
        "releases/{}/{NOTES_FILE} saved ({} bytes)",
        release.version,
        markdown.len()
    );
    Ok(tick_kind(ws, release, NOTES_KIND, &note)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_with_numstat_and_binary_files_is_read() {
        let out = "\x1eaaaa\x1fAnn\x1fann@x\x1ffix: one\x1fbody line\x1f\n\n3\t1\tsrc/a.rs\n-\t-\timg.png\n\x1ebbbb\x1fBob\x1fbob@x\x1ffeat: two\x1f\x1f\n\n10\t0\tb.rs\n";
        let c = parse_log(out);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].subject, "fix: one");
        assert_eq!(c[0].body, "body line");
        assert_eq!(c[0].files.len(), 2);
        assert_eq!(c[0].files[1].added, None);
        assert_eq!(c[0].lines(), 4);
        assert_eq!(c[1].lines(), 10);
    }
}
