//! The publish channels' records (`publish/CHANNEL.json`) as the audit log speaks for them
//! ([`ChannelBook`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::feeds::{File, Published};
use super::{Begun, Change, Channel, Yank, channel_path, check_channel};
use crate::audit::Action;
use crate::audit::event;
use crate::store::{self, StateError};
use crate::workspace::{Disagreement, Projection, Word, Workspace, is_as_of, last_change};

/// Each channel's record as the audit log speaks for it. Its changes are kept by channel and
/// version (`CHANNEL/VERSION`: a version may be on several channels): `publish.begin` and
/// `publish.yank.begin` begin a publish or a yank on the channel (the entry carries the files,
/// or the version the feeds point back to and why), `publish` and `publish.yank` record it
/// done. Who and when are the entry's. Each channel keeps, per version, the entry of its last
/// change ([`Channel::as_of`]). On a shared workspace every console's cache thus shows what
/// another console published or yanked, and finishes a change another began and left.
///
/// A version a channel record holds from before the entries were kept is not judged until
/// a change of it is rolled forward.
#[derive(Debug)]
pub struct ChannelBook;

/// `CHANNEL/VERSION` → (channel, version); channel names have no `/`.
fn split(key: &str) -> Option<(&str, &str)> {
    let (channel, version) = key.split_once('/')?;
    check_channel(channel).ok()?;
    Some((channel, version))
}

/// What entry `w` (on `version`) begins or records done, and for a yank, the version's
/// publish record it carries (entries written before they did carry none).
fn carried(w: &Word, version: &str) -> Result<(Change, bool), String> {
    carried_with(w, version).map(|(c, done, _)| (c, done))
}

fn carried_with(w: &Word, version: &str) -> Result<(Change, bool, Option<Published>), String> {
    // Only a release's version is published (as it writes itself): a target like
    // `9.9.9/../../x` is no version, though its key splits at its first `/`.
    if !semver::Version::parse(version).is_ok_and(|v| v.to_string() == version) {
        return Err(format!("{version:?} is not a release's version"));
    }
    let action = Action::parse(&w.action);
    match action {
        Some(Action::PublishBegin | Action::Publish) => {
            let after = serde_json::from_value::<event::Published>(w.after.clone())
                .map_err(|e| format!("its record cannot be read: {e}"))?;
            let files = serde_json::from_value::<Vec<File>>(after.files)
                .map_err(|e| format!("its files cannot be read: {e}"))?;
            let change = Change::Publish {
                published: Published {
                    version: version.to_owned(),
                    at: w.time,
                    by: w.actor.clone(),
                    files,
                },
                uploaded: usize::try_from(after.uploaded.unwrap_or(0)).unwrap_or(usize::MAX),
            };
            Ok((change, action == Some(Action::Publish), None))
        }
        Some(Action::YankBegin | Action::Yank) => {
            let after = serde_json::from_value::<event::Yanked>(w.after.clone())
                .map_err(|e| format!("its record cannot be read: {e}"))?;
            let back_to = after
                .live
                .ok_or_else(|| "it names no version the feeds point back to".to_owned())?;
            let change = Change::Yank {
                yank: Yank {
                    version: version.to_owned(),
                    at: w.time,
                    by: w.actor.clone(),
                    reason: after.reason,
                },
                back_to,
            };
            let published = after
                .published
                .map(serde_json::from_value::<Published>)
                .transpose()
                .map_err(|e| format!("the publish record it carries cannot be read: {e}"))?
                .filter(|p| p.version == version);
            Ok((change, action == Some(Action::Yank), published))
        }
        _ => Err("it is not a change of a channel this version reads".to_owned()),
    }
}

/// The channel with `w`'s change (on `version`) in it; `published`: the version's publish
/// record a yank carries, kept when the channel lacks it.
fn roll(
    c: &mut Channel,
    w: &Word,
    version: &str,
    (change, done, published): (Change, bool, Option<Published>),
) {
    if let Some(p) = published
        && !c.published.iter().any(|q| q.version == version)
    {
        c.published.push(p);
    }
    if done {
        if c.begun
            .as_ref()
            .is_some_and(|b| b.change.version() == version)
        {
            c.begun = None;
        }
        c.apply(change);
    } else if c.begun.as_ref().is_none_or(|b| b.seq < w.seq) {
        c.begun = Some(Begun { seq: w.seq, change });
    }
    c.as_of.insert(version.to_owned(), w.seq);
}

/// Whether `p` is published with exactly `files` (by name and SHA-256). Sets, not a scan per
/// file: an entry may carry tens of thousands (a forger's), and `audit verify` compares each.
fn same_files(p: &Published, files: &[File]) -> bool {
    let set = |files: &[File]| -> std::collections::BTreeSet<(String, String)> {
        files
            .iter()
            .map(|f| (f.name.clone(), f.sha256.to_string()))
            .collect()
    };
    p.files.len() == files.len() && set(&p.files) == set(files)
}

/// How the channel's record of `version` differs from `change` (the log's last change of it,
/// `done` or begun), if it does.
fn unlike(c: &Channel, version: &str, change: &Change, done: bool) -> Option<String> {
    let published = c.published.iter().find(|p| p.version == version);
    let yanked = c.yanked.iter().find(|y| y.version == version);
    match (change, done) {
        (
            Change::Publish {
                published: logged, ..
            },
            true,
        ) => match (published, yanked) {
            (Some(p), None) if same_files(p, &logged.files) => None,
            (Some(_), None) => Some("it is published with other files".to_owned()),
            (None, _) => Some("it is not published".to_owned()),
            (Some(_), Some(_)) => Some("it is yanked".to_owned()),
        },
        (Change::Yank { yank, .. }, true) => match yanked {
            Some(y) if y.reason == yank.reason => None,
            Some(y) => Some(format!(
                "it was yanked because {:?}, not {:?}",
                y.reason, yank.reason
            )),
            None => Some("it is not yanked".to_owned()),
        },
        (_, false) => match &c.begun {
            Some(b) if b.change.version() != version || b.change == *change => None,
            Some(b) if std::mem::discriminant(&b.change) != std::mem::discriminant(change) => {
                Some(format!(
                    "the {} is begun, not the {}",
                    b.change.describe(),
                    change.describe()
                ))
            }
            // Who and when are the entry's; the rest must be as the entry says.
            Some(begun) => match (&begun.change, change) {
                (
                    Change::Publish {
                        published: held, ..
                    },
                    Change::Publish {
                        published: logged, ..
                    },
                ) if same_files(held, &logged.files) => None,
                (
                    Change::Yank {
                        yank: held,
                        back_to: held_back,
                    },
                    Change::Yank {
                        yank: logged,
                        back_to: logged_back,
                    },
                ) if held.reason == logged.reason && held_back == logged_back => None,
                _ => Some(format!(
                    "its begun {} is not the one the entry began",
                    begun.change.describe()
                )),
            },
            None => Some(format!("no {} is begun", change.describe())),
        },
    }
}

fn read(ws: &Workspace, channel: &str) -> Result<Channel, StateError> {
    Ok(store::read_json(&channel_path(ws, channel))?.unwrap_or_default())
}

impl Projection for ChannelBook {
    fn follows(&self, action: Action) -> bool {
        matches!(
            action,
            Action::PublishBegin | Action::Publish | Action::YankBegin | Action::Yank
        )
    }

    fn carries(&self, after: &Value) -> bool {
        after.get("channel").and_then(Value::as_str).is_some()
    }

    fn key(&self, target: &str, after: &Value) -> String {
        let channel = after
            .get("channel")
            .and_then(Value::as_str)
            .unwrap_or_default();
        format!("{channel}/{target}")
    }

    fn readable(&self, key: &str, w: &Word) -> Result<(), String> {
        let (_, version) =
            split(key).ok_or("its channel is not a channel name (letters, digits, - and _)")?;
        carried_with(w, version).map(|_| ())
    }

    fn marker(&self) -> &'static str {
        r#""action":"publish"#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        (ws.root().join("publish"), super::CHANGE_LOCK)
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), StateError> {
        let mut order: Vec<(&String, &Word)> = last.iter().collect();
        order.sort_by_key(|(_, w)| w.seq);
        let mut channels: BTreeMap<&str, (Channel, bool)> = BTreeMap::new();
        let mut applied = 0;
        let mut refused = Vec::new();
        for (key, w) in order {
            let Some((channel, version)) = split(key) else {
                refused.push((
                    key.rsplit_once('/')
                        .map_or(key.as_str(), |(_, v)| v)
                        .to_owned(),
                    w.clone(),
                    "its channel is not a channel name (letters, digits, - and _)".to_owned(),
                ));
                continue;
            };
            let (c, changed) = match channels.entry(channel) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert((read(ws, channel)?, false))
                }
            };
            if c.as_of.get(version).is_some_and(|&s| s >= w.seq) {
                continue;
            }
            match carried_with(w, version) {
                Ok(carried) => {
                    roll(c, w, version, carried);
                    *changed = true;
                    applied += 1;
                    tracing::info!("rolled forward entry #{} ({} {key})", w.seq, w.action);
                }
                Err(why) => refused.push((version.to_owned(), w.clone(), why)),
            }
        }
        for (channel, (c, changed)) in &channels {
            if *changed {
                store::write_json(&channel_path(ws, channel), c)?;
            }
        }
        Ok((applied, refused))
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<Disagreement>, StateError> {
        let mut channels: BTreeMap<String, Channel> = BTreeMap::new();
        // Every channel with a file, and every channel the log changed.
        let dir = ws.root().join("publish");
        if let Ok(list) = std::fs::read_dir(&dir) {
            for entry in list.flatten() {
                let name = entry.file_name();
                if let Some(channel) = name.to_str().and_then(|n| n.strip_suffix(".json"))
                    && check_channel(channel).is_ok()
                {
                    channels.insert(channel.to_owned(), read(ws, channel)?);
                }
            }
        }
        for key in last.keys() {
            if let Some((channel, _)) = split(key)
                && !channels.contains_key(channel)
            {
                channels.insert(channel.to_owned(), read(ws, channel)?);
            }
        }
        for (channel, c) in &channels {
            let path = channel_path(ws, channel);
            let file = path.display();
            // A version whose last change is refused (it cannot be read: said when rolled
            // forward, and marked not applied by the console that wrote it) keeps what it
            // had before, which is not judged.
            let refused = |key: &str, version: &str| {
                last.get(key)
                    .and_then(Option::as_ref)
                    .is_some_and(|w| carried(w, version).is_err())
            };
            // What the file holds, against the log's last change of it.
            for (version, &seq) in &c.as_of {
                let key = format!("{channel}/{version}");
                if refused(&key, version) {
                    continue;
                }
                let subject = format!("{version} on channel {channel}");
                let w = match last_change(&file, &subject, seq, last.get(&key)) {
                    Ok(w) => w,
                    Err(d) => return Ok(Some(d)),
                };
                if let Err(d) = is_as_of(&file, &subject, "is recorded", seq, w) {
                    return Ok(Some(d));
                }
            }
            // What the log changed, against what the file holds.
            let prefix = format!("{channel}/");
            for (key, w) in last.range(prefix.clone()..) {
                let Some(version) = key.strip_prefix(&prefix) else {
                    break;
                };
                let Some(w) = w else { continue };
                if refused(key, version) {
                    continue;
                }
                let subject = format!("{version} on channel {channel}");
                let Some(&seq) = c.as_of.get(version) else {
                    // Saved before records kept their entries: not judged.
                    let known = c.published.iter().any(|p| p.version == version)
                        || c.yanked.iter().any(|y| y.version == version)
                        || c.begun
                            .as_ref()
                            .is_some_and(|b| b.change.version() == version);
                    if known {
                        continue;
                    }
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file} disagrees with the log: it has no record of {subject}, \
                             though entry #{} ({}) changed it",
                            w.seq, w.action
                        ),
                    )));
                };
                if seq != w.seq {
                    continue; // said above
                }
                if let Ok((change, done)) = carried(w, version)
                    && let Some(how) = unlike(c, version, &change, done)
                {
                    return Ok(Some((
                        w.seq,
                        format!(
                            "{file} disagrees with the log: entry #{} ({}) recorded {subject}, \
                             but {how}",
                            w.seq, w.action
                        ),
                    )));
                }
            }
        }
        Ok(None)
    }
}
