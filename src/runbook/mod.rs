//! Runbooks as data (assets/runbooks/*.toml) and checklist progress per release.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod procedure;

/// The built-in runbooks, by id. A workspace may override one with `runbooks/<file>`.
pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "release",
        "release_checklist.toml",
        include_str!("../../assets/runbooks/release_checklist.toml"),
    ),
    (
        "hotfix",
        "hotfix_checklist.toml",
        include_str!("../../assets/runbooks/hotfix_checklist.toml"),
    ),
];

/// A runbook: ordered phases of checklist items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub phases: Vec<Phase>,
}

/// A phase of a runbook, e.g. "Pre-release".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub id: String,
    pub title: String,
    /// When the phase happens, e.g. "1-2 days before release".
    #[serde(default)]
    pub when: String,
    pub items: Vec<Item>,
}

/// One thing to do and tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable id used on the CLI and in state files, e.g. `pre.review-flags`.
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub detail: String,
    /// A task kind whose success ticks this item automatically (e.g. `verify`).
    #[serde(default)]
    pub auto_tick_on: Option<String>,
    /// Phases that must be complete before this item may be ticked (a gate).
    #[serde(default)]
    pub requires_phases: Vec<String>,
    /// Items that must be done before this one may be ticked (e.g. the post-release items
    /// wait for the publish).
    #[serde(default)]
    pub requires_items: Vec<String>,
}

impl Item {
    /// Why ticking this item by hand needs a note: a task normally ticks it, so a hand-tick
    /// stands for work done elsewhere and should say what. `None` for a plain item.
    pub fn hand_tick_needs_note(&self) -> Option<String> {
        self.auto_tick_on.as_ref().map(|kind| {
            format!(
                "a `{kind}` task normally ticks \"{}\": ticking it by hand needs a note saying \
                 what was done instead",
                self.title
            )
        })
    }
}

/// The text of `id` (a runbook or procedure in `builtin`): the workspace's own
/// `runbooks/<file>` when there is one, else the built-in text; with the name errors give it.
pub(crate) fn builtin_or_own(
    what: &str,
    id: &str,
    builtin: &[(&str, &str, &str)],
    workspace_root: &Path,
) -> Result<(String, String), RunbookError> {
    let Some((_, file, text)) = builtin.iter().find(|(bid, _, _)| *bid == id) else {
        return Err(RunbookError {
            source_name: format!("{what} {id:?}"),
            message: format!(
                "unknown {what}; known: {}",
                builtin.iter().map(|b| b.0).collect::<Vec<_>>().join(", ")
            ),
        });
    };
    let path = workspace_root.join("runbooks").join(file);
    match std::fs::read_to_string(&path) {
        Ok(own) => Ok((own, path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(((*text).to_owned(), format!("assets/runbooks/{file}")))
        }
        Err(e) => Err(RunbookError {
            source_name: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// TOML into `T`, an error naming `source_name` and the line.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    source_name: &str,
) -> Result<T, RunbookError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        RunbookError {
            source_name: source_name.to_owned(),
            message: format!("line {line}: {}", e.message().trim()),
        }
    })
}

/// A runbook file that is not valid.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct RunbookError {
    pub source_name: String,
    pub message: String,
}

impl Runbook {
    /// Loads runbook `id`: `<workspace>/runbooks/<file>` when present, else the built-in one.
    pub fn load(id: &str, workspace_root: &Path) -> Result<Self, RunbookError> {
        let (text, source) = builtin_or_own("runbook", id, BUILTIN, workspace_root)?;
        Self::parse(&text, &source)
    }

    /// Parses and validates runbook TOML; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, RunbookError> {
        let err = |message: String| RunbookError {
            source_name: source_name.to_owned(),
            message,
        };
        let rb: Runbook = parse_toml(text, source_name)?;
        let mut ids = HashSet::new();
        let phase_ids: HashSet<&str> = rb.phases.iter().map(|p| p.id.as_str()).collect();
        for phase in &rb.phases {
            for item in &phase.items {
                if !ids.insert(item.id.as_str()) {
                    return Err(err(format!("item id {:?} is used twice", item.id)));
                }
                if let Some(bad) = item.requires_items.iter().find(|i| {
                    !rb.phases
                        .iter()
                        .flat_map(|p| &p.items)
                        .any(|other| &other.id == *i)
                }) {
                    return Err(err(format!(
                        "item {:?} requires unknown item {bad:?}",
                        item.id
                    )));
                }
                if let Some(bad) = item
                    .requires_phases
                    .iter()
                    .find(|p| !phase_ids.contains(p.as_str()))
                {
                    return Err(err(format!(
                        "item {:?} requires unknown phase {bad:?}",
                        item.id
                    )));
                }
            }
        }
        Ok(rb)
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.phases
            .iter()
            .flat_map(|p| &p.items)
            .find(|i| i.id == id)
    }

    pub fn phase(&self, id: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.id == id)
    }

    /// Every item id, in order (for "did you mean" errors).
    pub fn item_ids(&self) -> Vec<&str> {
        self.phases
            .iter()
            .flat_map(|p| &p.items)
            .map(|i| i.id.as_str())
            .collect()
    }
}

/// Who ticked (or unticked) an item, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    pub done: bool,
    pub by: String,
    pub at: jiff::Timestamp,
    #[serde(default)]
    pub note: String,
    /// The audit entry of this tick or untick: a log that ends before it lost entries.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub audit_seq: u64,
    /// The audit entry of the platform skip (`release.platform.skip`) whose tick this is: the
    /// item is settled because the platform is not shipped, and withdrawing that skip unticks
    /// it. 0: a person's or a task's tick (or an untick). Only the console sets it: no note
    /// can make a tick the skip's.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub settled_by_skip: u64,
}

/// For `skip_serializing_if`: an audit sequence number of 0 is "none recorded".
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A release's checklist progress: the last tick or untick per item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checklist {
    pub items: BTreeMap<String, ItemState>,
}

/// Done and total items of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

impl Progress {
    pub fn is_complete(self) -> bool {
        self.done == self.total
    }

    pub fn fraction(self) -> f32 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f32 / self.total as f32
        }
    }
}

impl Checklist {
    pub fn is_done(&self, item_id: &str) -> bool {
        self.items.get(item_id).is_some_and(|s| s.done)
    }

    /// Whether the item is ticked only because a platform skip settled it (see
    /// [`ItemState::settled_by_skip`]): a person's or a build's tick still replaces it.
    pub fn is_settled_by_skip(&self, item_id: &str) -> bool {
        self.items
            .get(item_id)
            .is_some_and(|s| s.done && s.settled_by_skip != 0)
    }

    pub fn progress(&self, phase: &Phase) -> Progress {
        Progress {
            done: phase.items.iter().filter(|i| self.is_done(&i.id)).count(),
            total: phase.items.len(),
        }
    }

    /// Why `item` may not be ticked yet: the first required phase still open.
    pub fn gate_for(&self, runbook: &Runbook, item: &Item) -> Option<String> {
        let phases = item.requires_phases.iter().find_map(|pid| {
            let phase = runbook.phase(pid)?;
            let p = self.progress(phase);
            (!p.is_complete()).then(|| {
                format!(
                    "{} is not complete ({} of {} items open)",
                    phase.title,
                    p.total - p.done,
                    p.total
                )
            })
        });
        phases.or_else(|| {
            item.requires_items
                .iter()
                .filter(|id| !self.is_done(id))
                .find_map(|id| runbook.item(id))
                .map(|needed| format!("\"{}\" is not done yet", needed.title))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_runbooks_parse() {
        for (id, file, text) in BUILTIN {
            let rb = Runbook::parse(text, file).expect("builtin parses");
            assert_eq!(&rb.id, id);
            assert!(rb.phases.iter().all(|p| !p.items.is_empty()));
        }
    }

    #[test]
    fn duplicate_ids_and_unknown_phases_are_refused() {
        let dup = "id='x'\ntitle='X'\n[[phases]]\nid='a'\ntitle='A'\n[[phases.items]]\nid='i'\ntitle='I'\n[[phases.items]]\nid='i'\ntitle='J'\n";
        assert!(
            Runbook::parse(dup, "dup.toml")
                .expect_err("dup")
                .to_string()
                .contains("\"i\" is used twice")
        );
        let gate = "id='x'\ntitle='X'\n[[phases]]\nid='a'\ntitle='A'\n[[phases.items]]\nid='i'\ntitle='I'\nrequires_phases=['zz']\n";
        assert!(
            Runbook::parse(gate, "g.toml")
                .expect_err("gate")
                .to_string()
                .contains("unknown phase \"zz\"")
        );
    }
}
