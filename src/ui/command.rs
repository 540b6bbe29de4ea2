//! What panels ask the app for. A panel draws from the snapshot and its own state, does its own
//! fetches and tasks, and returns these for what only the app can do: change the workspace,
//! navigate, pick files, talk to the tray or show a toast.

use std::path::PathBuf;

use super::widgets::toasts::ToastKind;
use crate::runner::TaskId;

/// Navigation targets, in the order of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Overview,
    Checklist,
    Notes,
    Builds,
    Verify,
    Deploy,
    Security,
    StatusPage,
    Flags,
    Metrics,
    Runbooks,
    Audit,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 13] = [
        Tab::Overview,
        Tab::Checklist,
        Tab::Notes,
        Tab::Builds,
        Tab::Verify,
        Tab::Deploy,
        Tab::Security,
        Tab::StatusPage,
        Tab::Flags,
        Tab::Metrics,
        Tab::Runbooks,
        Tab::Audit,
        Tab::Settings,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Checklist => "Checklist",
            Tab::Notes => "Notes",
            Tab::Builds => "Builds",
            Tab::Verify => "Verify",
            Tab::Deploy => "Deploy",
            Tab::Security => "Security",
            Tab::StatusPage => "Status page",
            Tab::Flags => "Flags",
            Tab::Metrics => "Metrics",
            Tab::Runbooks => "Runbooks",
            Tab::Audit => "Audit",
            Tab::Settings => "Settings",
        }
    }
}

/// What a picker is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickKind {
    /// A release workspace folder.
    Workspace,
    /// Artifact files to verify.
    ArtifactFiles,
    /// A folder of artifacts to verify.
    ArtifactFolder,
    /// Scanner output to import as the selected release's findings.
    FindingsFiles,
}

/// A request from a panel to the app.
#[must_use = "a command does nothing until the app applies it"]
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show another panel.
    Navigate(Tab),
    /// Make another release the selected one.
    SelectRelease(String),
    /// Tick (`done`) or untick a checklist item of the selected release, with a note.
    SetItem {
        item: String,
        done: bool,
        note: String,
    },
    /// Create a release, or a hotfix of `hotfix_of`.
    NewRelease {
        version: String,
        hotfix_of: Option<String>,
    },
    /// Open another workspace folder.
    OpenWorkspace(PathBuf),
    /// Set where the program `tool` is (`[tools]` in the configuration; `None` removes the
    /// setting, so it is looked for on PATH again). Audited.
    SetToolPath { tool: String, path: Option<String> },
    /// Read the whole audit log again (after a full chain check), then reload.
    ReindexAudit,
    /// Open a native picker; the choice comes back as `OpenWorkspace`, `Verify` or
    /// `ImportFindings`.
    Pick(PickKind),
    /// Hand paths to the Verify panel (and show it); `replace` drops what it had, `run` starts
    /// the verification at once.
    Verify {
        paths: Vec<PathBuf>,
        replace: bool,
        run: bool,
    },
    /// Import scanner output into the selected release's findings (the Security panel does it,
    /// and is shown).
    ImportFindings(Vec<PathBuf>),
    /// Re-read the workspace snapshot (after a panel changed files).
    Reload,
    /// Select a task in the tray so its log shows.
    SelectTask(TaskId),
    /// Cancel a running or queued task.
    CancelTask(TaskId),
    /// Drop finished tasks from the tray.
    ClearFinishedTasks,
    /// Queue these failed or uncertain notifications again (audited), then send.
    RetryNotifications(Vec<String>),
    /// Send the notifications that are due now.
    SendNotifications,
    /// Show a message in the corner.
    Toast(ToastKind, String),
    /// Show a message about `topic` (a panel's action): a success clears the errors about the
    /// same topic, an error replaces the one about it.
    ToastAbout {
        kind: ToastKind,
        topic: String,
        text: String,
    },
}
