//! The `git` command line, run through the runner's short-command capture: an argv, never a
//! shell line; an environment without the caller's `GIT_*` variables (so `GIT_DIR`,
//! `GIT_WORK_TREE` or `GIT_INDEX_FILE` in the console's environment cannot point it at another
//! repository), no prompts, no pager; bounded output and a timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::runner::process::{self, ProcessSpec};

/// The most one git command may print on either stream.
pub const MAX_OUTPUT: usize = 32 * 1024 * 1024;
/// The longest one git command may take.
pub const TIMEOUT: Duration = Duration::from_mins(2);

/// A git command that failed: the command as typed, and what git said.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{command}` in {repo}: {message}")]
pub struct GitError {
    pub command: String,
    pub repo: PathBuf,
    pub message: String,
}

/// One repository (a work tree or a bare clone).
#[derive(Debug, Clone)]
pub struct Git {
    repo: PathBuf,
}

impl Git {
    pub fn new(repo: &Path) -> Self {
        Self {
            repo: repo.to_owned(),
        }
    }

    pub fn repo(&self) -> &Path {
        &self.repo
    }

    fn spec(&self, args: &[&str]) -> ProcessSpec {
        let mut spec = ProcessSpec::new("git")
            .args(["-c", "core.quotepath=off", "-c", "color.ui=false"])
            .args(args.iter().copied());
        spec.cwd = Some(self.repo.clone());
        // BASE_ENV only (PATH, HOME for the user's identity, the locale): no GIT_* variable
        // of the caller reaches git.
        spec.inherit_only = Some(Vec::new());
        spec.env = vec![
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
            ("GIT_PAGER".into(), "cat".into()),
            ("GIT_OPTIONAL_LOCKS".into(), "0".into()),
        ];
        spec
    }

    /// Runs `git ARGS` and returns its stdout; a non-zero exit is an error with git's stderr.
    pub async fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.output(args).await?;
        if out.0 {
            Ok(out.1)
        } else {
            Err(self.error(args, out.2))
        }
    }

    /// Runs `git ARGS`: whether it exited 0, its stdout and its stderr.
    pub async fn output(&self, args: &[&str]) -> Result<(bool, String, String), GitError> {
        let spec = self.spec(args);
        let captured = process::output(&spec, TIMEOUT, MAX_OUTPUT)
            .await
            .map_err(|message| self.error(args, message))?;
        let stderr = String::from_utf8_lossy(&captured.stderr).trim().to_owned();
        let stderr = if stderr.is_empty() {
            captured.status.clone()
        } else {
            stderr.replace('\n', "; ")
        };
        Ok((
            captured.success,
            String::from_utf8_lossy(&captured.stdout).into_owned(),
            stderr,
        ))
    }

    fn error(&self, args: &[&str], message: String) -> GitError {
        GitError {
            command: ProcessSpec::new("git").args(args.iter().copied()).display(),
            repo: self.repo.clone(),
            message,
        }
    }

    /// The commit `rev` names, if it names one (`rev` is a full ref or an object name).
    pub async fn commit_of(&self, rev: &str) -> Result<Option<String>, GitError> {
        let target = format!("{rev}^{{commit}}");
        let (ok, out, _) = self
            .output(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &target,
            ])
            .await?;
        Ok(ok.then(|| out.trim().to_owned()).filter(|s| !s.is_empty()))
    }
}
