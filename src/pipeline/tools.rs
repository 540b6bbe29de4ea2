//! The programs the console runs, and where each was found: its configured path (`[tools]` in
//! the workspace configuration), a `PATH` folder, or nowhere (with how to install it). The
//! Settings panel's Tools section and `release-console doctor` show the same list.

use serde::Serialize;

use super::Definition;
use crate::os::ProgramAt;
use crate::workspace::Workspace;

/// One program the console runs, and what for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCheck {
    pub name: String,
    /// What runs it (`build macos`, `verify: Windows (Authenticode) signatures`, ...).
    pub used_for: Vec<String>,
    /// How it is installed, for when it is not found.
    pub install: String,
    /// The path configured for it, if one is.
    pub configured: Option<String>,
    /// The program that runs, if there is one.
    pub found: Option<String>,
    /// `configured`, `PATH`, `configured path is not a program` or `not found`.
    pub status: &'static str,
}

impl ToolCheck {
    /// Whether a program runs for this name.
    pub fn ok(&self) -> bool {
        self.found.is_some()
    }

    /// Where it stands, in one word: `CONFIGURED`, `BROKEN PATH` (configured, but no
    /// program), `ON PATH` or `NOT FOUND`; what Settings' badge and `doctor` both say.
    pub fn state(&self) -> &'static str {
        match (self.configured.is_some(), self.ok()) {
            (true, true) => "CONFIGURED",
            (true, false) => "BROKEN PATH",
            (false, true) => "ON PATH",
            (false, false) => "NOT FOUND",
        }
    }

    /// Where it was looked for and what was found, in words.
    pub fn where_found(&self) -> String {
        match (&self.configured, &self.found) {
            (Some(c), Some(_)) => format!("configured: {c}"),
            (Some(c), None) => format!(
                "configured: {c}, which is not a program this system can run (missing, a \
                 folder, or not executable)"
            ),
            (None, Some(f)) => format!("on PATH: {f}"),
            (None, None) => format!("not on PATH ({})", self.install),
        }
    }
}

/// Every program this workspace's work runs on this host: the builders' interpreters and
/// required tools (of the platforms this host builds), verification's, and `git` for the
/// product's repository when `[source]` is set; each once, with everything that uses it.
pub fn catalogue(ws: &Workspace) -> Vec<(String, Vec<String>, String)> {
    let mut tools: Vec<(String, Vec<String>, String)> = Vec::new();
    let mut add = |name: &str, what: String, install: String| match tools
        .iter_mut()
        .find(|(n, _, _)| n == name)
    {
        Some((_, uses, _)) if !uses.contains(&what) => uses.push(what),
        Some(_) => {}
        None => tools.push((name.to_owned(), vec![what], install)),
    };
    if let Ok((def, _)) = Definition::load(ws) {
        for (platform, p) in def
            .platforms
            .iter()
            .filter(|(_, p)| p.runs_here() && !p.is_remote())
        {
            // `builder = ["bash", "packaging/x.sh"]`: the first word is a program, the last a
            // script in the workspace; a builder of one word is that script.
            if p.builder.len() > 1
                && let Some(program) = p.builder.first()
            {
                add(
                    program,
                    format!("build {platform}"),
                    crate::os::install_hint(program),
                );
            }
            for t in &p.tools {
                let install = if t.install.trim().is_empty() {
                    crate::os::install_hint(&t.name)
                } else {
                    t.install.clone()
                };
                let what = if t.signing {
                    format!("build {platform} (signing)")
                } else {
                    format!("build {platform}")
                };
                add(&t.name, what, install);
            }
        }
    }
    for (name, what) in crate::verify::tools() {
        add(name, what.to_owned(), crate::os::install_hint(name));
    }
    if ws.config().source.is_some() {
        add(
            "git",
            "source: hotfix branches, tags, release notes".to_owned(),
            crate::os::install_hint("git"),
        );
    }
    // Programs configured by hand that nothing above names are shown too.
    for name in ws.config().tools.keys() {
        add(
            name,
            "configured in [tools]".to_owned(),
            crate::os::install_hint(name),
        );
    }
    tools
}

/// [`catalogue`] with where each program was found. Cheap (file system checks only): the
/// snapshot reads it on every load.
pub fn check(ws: &Workspace) -> Vec<ToolCheck> {
    catalogue(ws)
        .into_iter()
        .map(|(name, used_for, install)| {
            let at = crate::os::locate_program(&name);
            let (configured, found, status) = match &at {
                ProgramAt::Configured(p) => (
                    Some(p.display().to_string()),
                    Some(p.display().to_string()),
                    "configured",
                ),
                ProgramAt::ConfiguredBroken(p) => (
                    Some(p.display().to_string()),
                    None,
                    "configured path is not a program",
                ),
                ProgramAt::OnPath(p) => (None, Some(p.display().to_string()), "PATH"),
                ProgramAt::Missing => (None, None, "not found"),
            };
            ToolCheck {
                name,
                used_for,
                install,
                configured,
                found,
                status,
            }
        })
        .collect()
}
