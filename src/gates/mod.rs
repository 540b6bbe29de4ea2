//! Every gate between a release and publishing, each open or blocked with the reason: the
//! checklist phases the publish item needs, the release's last verification, a verified
//! installer for every platform the product ships (or a recorded reason it is not shipped this
//! time), open blocking findings, and the expiry of the signing certificates. `release gates`, the Overview and
//! publishing all read this one list.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use crate::findings;
use crate::verify::certs::{self, Found};
use crate::verify::{Overall, release as verified};
use crate::workspace::{Release, Workspace};

/// The task kind whose item in the runbook is "publish": the phases that item requires are the
/// checklist's gates.
pub const PUBLISH_KIND: &str = "publish";

/// Where a gate stands. `Warning` and `Unchecked` are open: they do not block publishing, but
/// the window shows them amber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    /// Open, with something a person should act on soon.
    Warning,
    /// Open only because there was nothing to check on this machine.
    Unchecked,
    Blocked,
}

impl State {
    /// Whether the gate lets a publish through (open, a warning or unchecked).
    pub fn is_open(self) -> bool {
        !matches!(self, State::Blocked)
    }

    /// `open` or `blocked`: the `state` of `--json`, which scripts read as open or not.
    pub fn open_or_blocked(self) -> &'static str {
        if self.is_open() { "open" } else { "blocked" }
    }

    /// For a terminal, as the window shows it: `open`, `WARNING`, `UNCHECKED`, `BLOCKED`.
    pub fn label(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Warning => "WARNING",
            State::Unchecked => "UNCHECKED",
            State::Blocked => "BLOCKED",
        }
    }
}

/// One gate: `checklist:<phase>`, `verify`, `installers`, `findings`,
/// `certificate:<windows|apple>`, `secret rotation`.
///
/// As JSON: `gate`, `state` (`open` or `blocked`, as ever: a warning or an unchecked gate is
/// open), `reason`, and `level` (`open`, `warning`, `unchecked` or `blocked`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub gate: String,
    pub state: State,
    pub reason: String,
}

impl Serialize for Gate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Gate", 4)?;
        s.serialize_field("gate", &self.gate)?;
        s.serialize_field("state", self.state.open_or_blocked())?;
        s.serialize_field("reason", &self.reason)?;
        s.serialize_field("level", &self.state)?;
        s.end()
    }
}

impl Gate {
    fn new(gate: impl Into<String>, open: bool, reason: impl Into<String>) -> Self {
        Self {
            gate: gate.into(),
            state: if open { State::Open } else { State::Blocked },
            reason: reason.into(),
        }
    }

    /// An open gate at `state` (a warning, or unchecked) instead of plain open.
    fn amber(self, state: State) -> Self {
        debug_assert!(state.is_open());
        Self { state, ..self }
    }

    /// Open, a warning or unchecked: it does not block publishing.
    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// Its state for a terminal, as the window shows it: `open`, `UNCHECKED` (open, nothing to
    /// check here), `WARNING` (open, act soon), `BLOCKED`.
    pub fn label(&self) -> &'static str {
        self.state.label()
    }
}

/// Whether every gate is open.
pub fn all_open(gates: &[Gate]) -> bool {
    gates.iter().all(Gate::is_open)
}

/// Every gate of `release` at `now`, in the order a release meets them. Never fails: a gate
/// that cannot be checked is blocked with the reason.
pub fn evaluate(ws: &Workspace, release: &Release, now: Timestamp) -> Vec<Gate> {
    let signing = certs::signing_certificates(ws);
    let calendar = crate::rotation::calendar_with(ws, now, 30, &signing).map_err(|e| e.to_string());
    evaluate_with(ws, release, now, &signing, &calendar)
}

/// [`evaluate`] with the signing certificates already read (the window reads them once for
/// the gates and the rotation calendar).
pub fn evaluate_with(
    ws: &Workspace,
    release: &Release,
    now: Timestamp,
    signing: &[certs::SigningCert],
    calendar: &Result<Vec<crate::rotation::Entry>, String>,
) -> Vec<Gate> {
    let mut gates = checklist(ws, release);
    gates.push(verify(ws, release));
    gates.push(installers(ws, release));
    gates.push(findings_gate(ws, release, now));
    gates.extend(certificates(ws, now, signing));
    gates.push(rotation(calendar));
    gates
}

/// Secrets overdue for rotation: a warning before a release, never a block (an old key still
/// works; the release should not wait for the vault). Secrets never recorded as rotated are of
/// unknown age: not checked (amber), with how many, never counted as within their schedule.
/// `calendar` is the rotation calendar as read for this evaluation (any window: being overdue
/// does not depend on it), so a caller that shows the calendar reads it once.
fn rotation(calendar: &Result<Vec<crate::rotation::Entry>, String>) -> Gate {
    use crate::rotation::{Counts, Due};
    let cal = match calendar {
        Ok(c) => c,
        Err(e) => {
            return Gate::new("secret rotation", true, format!("not checked: {e}"))
                .amber(State::Unchecked);
        }
    };
    // The Security panel's calendar says the same counts (`Counts::of` the same calendar).
    let counts = Counts::of(cal);
    let overdue: Vec<String> = cal
        .iter()
        .filter(|e| e.overdue_for_rotation())
        .map(|e| match e.due {
            Some(d) => format!("{} (due {})", e.name, crate::local_time(d, false)),
            None => e.name.clone(),
        })
        .collect();
    // A signing certificate is renewed, not rotated: its own gate blocks on it.
    let certificates = counts.overdue - overdue.len();
    let unknown: Vec<&str> = cal
        .iter()
        .filter(|e| e.state == Due::Unknown)
        .map(|e| e.name.as_str())
        .collect();
    let is = |n: usize| if n == 1 { "is" } else { "are" };
    let their = |n: usize| if n == 1 { "its" } else { "their" };
    let s = |n: usize| if n == 1 { "" } else { "s" };
    let within = counts.within_schedule();
    let mut parts = Vec::new();
    if !overdue.is_empty() {
        parts.push(format!(
            "OVERDUE, rotate soon (this does not block publishing): {}",
            overdue.join(", ")
        ));
    }
    if unknown.is_empty() && overdue.is_empty() && certificates == 0 {
        parts.push(format!(
            "{within} tracked secret{} {} within {} schedule",
            s(within),
            is(within),
            their(within)
        ));
    } else {
        if !unknown.is_empty() {
            const NAMED: usize = 3;
            let mut names = unknown[..unknown.len().min(NAMED)].join(", ");
            if unknown.len() > NAMED {
                let _ = write!(names, " and {} more", unknown.len() - NAMED);
            }
            parts.push(format!(
                "{} of {} tracked secrets {} of unknown age, so not checked (never recorded as \
                 rotated: {names})",
                unknown.len(),
                counts.tracked,
                is(unknown.len())
            ));
        }
        if within > 0 {
            parts.push(format!("{within} within {} schedule", their(within)));
        }
        if certificates > 0 {
            parts.push(format!(
                "{certificates} signing certificate{} due for renewal (see the certificate gates)",
                s(certificates)
            ));
        }
    }
    if counts.unreadable > 0 {
        parts.push(format!(
            "{} could not be read from AWS Secrets Manager",
            counts.unreadable
        ));
    }
    // Something to act on outranks what could not be checked; the reason says both.
    let state = if !overdue.is_empty() || counts.unreadable > 0 {
        State::Warning
    } else if !unknown.is_empty() {
        State::Unchecked
    } else {
        State::Open
    };
    Gate::new("secret rotation", true, parts.join("; ")).amber(state)
}

fn checklist(ws: &Workspace, release: &Release) -> Vec<Gate> {
    checklist_settling(ws, release, &[])
}

/// The gates that would still block `release` once `platforms` are recorded as not shipped
/// this time, as `because (reason)`: the installers gate is the publish's to check again, and
/// a checklist phase open only for the items the skip settles (their builds) would be done.
pub fn blocked_beyond_skips(
    ws: &Workspace,
    release: &Release,
    gates: &[Gate],
    platforms: &[crate::workspace::config::Platform],
) -> Vec<String> {
    let mut blocked: Vec<String> = gates
        .iter()
        .filter(|g| !g.is_open() && g.gate != INSTALLERS && !g.gate.starts_with("checklist"))
        .map(|g| format!("{} ({})", g.gate, g.reason))
        .collect();
    let settled = match crate::pipeline::skips::settled_items(ws, release, platforms) {
        Ok(items) => items,
        Err(_) if platforms.is_empty() => Vec::new(),
        Err(e) => {
            blocked.push(format!("pipeline definition ({e})"));
            Vec::new()
        }
    };
    blocked.extend(
        checklist_settling(ws, release, &settled)
            .into_iter()
            .filter(|g| !g.is_open())
            .map(|g| format!("{} ({})", g.gate, g.reason)),
    );
    blocked
}

/// The checklist gates with the items `settled` counted as done.
fn checklist_settling(ws: &Workspace, release: &Release, settled: &[String]) -> Vec<Gate> {
    let (runbook, mut list) = match ws
        .runbook(release)
        .and_then(|rb| Ok((rb, ws.checklist(release)?)))
    {
        Ok(x) => x,
        Err(e) => return vec![Gate::new("checklist", false, e.to_string())],
    };
    for id in settled {
        if !list.is_done(id) {
            list.items.insert(
                id.clone(),
                crate::runbook::ItemState {
                    done: true,
                    by: String::new(),
                    at: Timestamp::now(),
                    note: String::new(),
                    audit_seq: 0,
                    settled_by_skip: 0,
                },
            );
        }
    }
    let publish: Vec<_> = runbook
        .phases
        .iter()
        .flat_map(|p| &p.items)
        .filter(|i| i.auto_tick_on.as_deref() == Some(PUBLISH_KIND))
        .collect();
    if publish.is_empty() {
        return vec![Gate::new(
            "checklist",
            false,
            format!(
                "runbook {:?} has no item with auto_tick_on = \"{PUBLISH_KIND}\", so nothing \
                 says which phases come before publishing",
                runbook.id
            ),
        )];
    }
    let mut phases: Vec<&str> = Vec::new();
    for item in publish {
        for p in &item.requires_phases {
            if !phases.contains(&p.as_str()) {
                phases.push(p);
            }
        }
    }
    phases
        .into_iter()
        .map(|pid| {
            let name = format!("checklist:{pid}");
            let Some(phase) = runbook.phase(pid) else {
                return Gate::new(name, false, format!("runbook has no phase {pid:?}"));
            };
            let p = list.progress(phase);
            if p.is_complete() {
                Gate::new(
                    name,
                    true,
                    format!("{}: all {} items done", phase.title, p.total),
                )
            } else {
                let open: Vec<&str> = phase
                    .items
                    .iter()
                    .filter(|i| !list.is_done(&i.id))
                    .map(|i| i.title.as_str())
                    .collect();
                Gate::new(
                    name,
                    false,
                    format!(
                        "{}: {} of {} items open ({})",
                        phase.title,
                        p.total - p.done,
                        p.total,
                        open.join("; ")
                    ),
                )
            }
        })
        .collect()
}

fn verify(ws: &Workspace, release: &Release) -> Gate {
    let dir = ws.artifacts_dir(&release.version);
    let last = match verified::last(ws, release) {
        Ok(Some(last)) => last,
        Ok(None) => {
            return Gate::new(
                "verify",
                false,
                format!(
                    "not verified yet: verify {} with the workspace's pins",
                    dir.strip_prefix(ws.root()).unwrap_or(&dir).display()
                ),
            );
        }
        Err(e) => return Gate::new("verify", false, e.to_string()),
    };
    let when = format!(
        "{} by {}",
        crate::local_time(last.at, false),
        if last.by.is_empty() { "?" } else { &last.by }
    );
    if last.overall != Overall::Pass {
        return Gate::new(
            "verify",
            false,
            format!("the last verify ({when}) FAILED: {}", last.summary),
        );
    }
    match verified::stamp_files(&dir) {
        Err(e) => Gate::new("verify", false, format!("{}: {e}", dir.display())),
        Ok(now) => match verified::changes(&last.files, &now) {
            Some(what) => Gate::new(
                "verify",
                false,
                format!("the artifacts changed since the verify {when}: {what}"),
            ),
            None => Gate::new("verify", true, format!("PASS {when}: {}", last.summary)),
        },
    }
}

/// The name of the gate that wants a verified installer for every platform.
pub const INSTALLERS: &str = "installers";

/// A configured platform with no verified installer, and why, for the gate and the publish
/// dialog that offers to skip it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub platform: crate::workspace::config::Platform,
    pub why: String,
}

/// Every platform of the workspace that `release` would publish without: no signed, green
/// installer for it in the release's last verification, and no skip recorded. `Err` when the
/// records cannot be read.
pub fn missing_installers(ws: &Workspace, release: &Release) -> Result<Vec<Missing>, String> {
    let (record, skips) = installer_records(ws, release)?;
    Ok(missing_of(ws, record.as_ref(), &skips))
}

/// The release's last verification and its platform skips, as the installers gate reads them.
type InstallerRecords = (
    Option<verified::ReleaseVerify>,
    Vec<crate::pipeline::skips::Skip>,
);

fn installer_records(ws: &Workspace, release: &Release) -> Result<InstallerRecords, String> {
    let record = verified::last(ws, release).map_err(|e| e.to_string())?;
    let skips = crate::pipeline::skips::skipped(ws, &release.version.to_string())
        .map_err(|e| e.to_string())?;
    Ok((record, skips))
}

/// [`missing_installers`] from records already read.
fn missing_of(
    ws: &Workspace,
    record: Option<&verified::ReleaseVerify>,
    skips: &[crate::pipeline::skips::Skip],
) -> Vec<Missing> {
    ws.config()
        .platforms
        .iter()
        .filter(|p| !skips.iter().any(|s| s.platform == **p))
        .filter_map(|&platform| {
            let why = match record {
                None => "not verified yet".to_owned(),
                Some(r) if r.record_version < verified::RECORD_VERSION => {
                    "verified by an older console, which kept no installers: verify again"
                        .to_owned()
                }
                Some(r) if r.installers(platform).next().is_some() => return None,
                Some(r) => {
                    let seen: Vec<String> = r
                        .artifacts
                        .iter()
                        .filter(|a| a.platform() == Some(platform))
                        .map(|a| match (a.signature, a.installer) {
                            (None, _) => format!(
                                "{} was verified before installers were recorded: verify again",
                                a.name
                            ),
                            (Some(_), None) => format!(
                                "{} is not a {} installer by its content",
                                a.name,
                                platform.title()
                            ),
                            (Some(v), Some(_)) if !a.green => {
                                format!("{} is {}", a.name, v.as_str())
                            }
                            (Some(v), Some(_)) => {
                                format!("{}'s signature is {}", a.name, v.as_str())
                            }
                        })
                        .collect();
                    if seen.is_empty() {
                        "none among the verified artifacts".to_owned()
                    } else {
                        seen.join(", ")
                    }
                }
            };
            Some(Missing { platform, why })
        })
        .collect()
}

/// Every platform the product ships has a verified installer (signed, green in the last
/// verify), or the release records that it is not shipped this time, with the reason. A
/// skipped platform keeps the gate open but amber, so it is seen.
fn installers(ws: &Workspace, release: &Release) -> Gate {
    let (record, skips) = match installer_records(ws, release) {
        Ok(r) => r,
        Err(e) => return Gate::new(INSTALLERS, false, e),
    };
    let missing = missing_of(ws, record.as_ref(), &skips);
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|m| format!("{} ({})", m.platform.title(), m.why))
            .collect();
        let flags: Vec<String> = missing
            .iter()
            .map(|m| format!("--skip-platform {}", m.platform.as_str()))
            .collect();
        return Gate::new(
            INSTALLERS,
            false,
            format!(
                "no verified installer for {}; if not shipped this time, record why (Deploy: \
                 \"Not shipping … this time\", or publish {} --reason \"...\")",
                list.join(" and "),
                flags.join(" ")
            ),
        );
    }
    let mut parts: Vec<String> = Vec::new();
    for &p in &ws.config().platforms {
        if let Some(s) = skips.iter().find(|s| s.platform == p) {
            parts.push(format!(
                "{} NOT SHIPPED this time ({}, by {} {})",
                p.title(),
                s.reason,
                s.by,
                crate::local_time(s.at, false)
            ));
        } else if let Some(r) = &record {
            let names: Vec<&str> = r.installers(p).map(|a| a.name.as_str()).collect();
            parts.push(format!(
                "{} {}{}",
                p.title(),
                names.join(", "),
                if p == crate::workspace::config::Platform::Linux {
                    " (checksum: a Linux package carries no signature checked here)"
                } else {
                    ""
                }
            ));
        }
    }
    Gate::new(INSTALLERS, true, parts.join("; ")).amber(if skips.is_empty() {
        State::Open
    } else {
        State::Warning
    })
}

fn findings_gate(ws: &Workspace, release: &Release, now: Timestamp) -> Gate {
    let judged = match findings::judge(ws, release, now) {
        Ok(j) => j,
        Err(e) => return Gate::new("findings", false, e.to_string()),
    };
    if judged.is_empty() {
        // Nothing imported is nothing checked, not a clean scan: open, but never green.
        return Gate::new(
            "findings",
            true,
            "no scanner findings imported: the release's dependencies are unchecked \
             (release-console findings import)",
        )
        .amber(State::Unchecked);
    }
    let blocking: Vec<&str> = judged.iter().filter_map(|j| j.blocks.as_deref()).collect();
    if blocking.is_empty() {
        let accepted = judged
            .iter()
            .filter(|j| j.acceptance.as_ref().is_some_and(|a| a.until > now))
            .count();
        return Gate::new(
            "findings",
            true,
            format!(
                "none of {} findings blocks ({accepted} risk-accepted)",
                judged.len()
            ),
        );
    }
    let mut reason = format!(
        "{} blocking: {}",
        blocking.len(),
        blocking[..blocking.len().min(3)].join("; ")
    );
    if blocking.len() > 3 {
        reason.push_str(&format!("; and {} more", blocking.len() - 3));
    }
    Gate::new("findings", false, reason)
}

fn certificates(ws: &Workspace, now: Timestamp, signing: &[certs::SigningCert]) -> Vec<Gate> {
    let min_days = i64::from(ws.config().signing.min_valid_days);
    signing
        .iter()
        .map(|c| {
            let name = format!("certificate:{}", c.which);
            match &c.found {
                Found::NotHere(why) => Gate::new(name, true, format!("not checked here: {why}"))
                    .amber(State::Unchecked),
                Found::Failed(e) => Gate::new(name, false, e.to_string()),
                Found::Read(id) => {
                    let expires = id.expires();
                    let days = (expires.as_second() - now.as_second()).div_euclid(86_400);
                    let date = crate::local_time(expires, false);
                    let who = &id.leaf.subject;
                    if expires <= now {
                        Gate::new(name, false, format!("{who}: expired {date}"))
                    } else if days < min_days {
                        Gate::new(
                            name,
                            false,
                            format!(
                                "{who}: expires {date}, in {days} days (under [signing] \
                                 min_valid_days = {min_days})"
                            ),
                        )
                    } else {
                        Gate::new(
                            name,
                            true,
                            format!("{who}: valid until {date} ({days} days)"),
                        )
                    }
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_state_open_or_blocked_and_adds_the_level() {
        let json = |state| {
            serde_json::to_value(Gate {
                gate: "installers".into(),
                state,
                reason: "why".into(),
            })
            .expect("json")
        };
        for (state, open, level) in [
            (State::Open, "open", "open"),
            (State::Warning, "open", "warning"),
            (State::Unchecked, "open", "unchecked"),
            (State::Blocked, "blocked", "blocked"),
        ] {
            assert_eq!(
                json(state),
                serde_json::json!({
                    "gate": "installers", "state": open, "reason": "why", "level": level
                })
            );
            assert_eq!(state.is_open(), open == "open");
        }
        assert!(!all_open(&[
            Gate::new("a", true, ""),
            Gate::new("b", false, "")
        ]));
        assert!(all_open(&[
            Gate::new("a", true, "").amber(State::Warning),
            Gate::new("b", true, "").amber(State::Unchecked),
        ]));
    }
}
