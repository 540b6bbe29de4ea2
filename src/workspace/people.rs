//! People's keys in a workspace: making this console's key and registering it (`keys new`),
//! the people list (`keys list`, Settings), revoking a key and vouching for another person's
//! (`keys revoke`, `keys add`). The rules, the signatures and the people list itself are
//! [`crate::audit::keys`]'s; here they meet the workspace's actor and this machine's key.

use std::sync::Arc;

use base64::Engine as _;
use serde::Serialize;

use super::{Workspace, WorkspaceError};
use crate::audit::Event;
use crate::audit::keys::{self, KeyError, People, Signer, Standing};

impl From<KeyError> for WorkspaceError {
    fn from(e: KeyError) -> Self {
        Self::Refused(e.to_string())
    }
}

/// What `keys new` did.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    pub person: String,
    /// The key's id.
    pub key: String,
    /// Where the private key is kept.
    pub path: std::path::PathBuf,
    /// Whether the key was made now (else this machine had it, and it was only registered).
    pub created: bool,
    /// The key it replaced, if any.
    pub replaced: Option<String>,
    /// The entry that registered it.
    pub seq: u64,
}

/// This console's key and the workspace's people list, as `keys list` and Settings show them.
#[derive(Debug, Clone, Serialize)]
pub struct KeysView {
    /// The person this console acts for.
    pub person: String,
    /// This machine's key for them (its id), if it has one.
    pub local_key: Option<String>,
    pub local_path: Option<std::path::PathBuf>,
    /// The person's registered key in this workspace, if any.
    pub registered: Option<String>,
    /// Whether this console's entries are signed (its key is the registered one).
    pub signs: bool,
    /// One line for a person: whether entries are signed, and if not why.
    pub summary: String,
    pub people: People,
}

/// Whether this console's changes are signed, in one word: what Settings' badge and
/// `release-console doctor` both say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signing {
    /// This machine holds the person's registered key: every entry is signed with it.
    Signed,
    /// The person has a registered (or revoked) key this machine does not hold: changes in
    /// their name are refused here.
    Refused,
    /// The person has no registered key: entries are not signed.
    Unsigned,
}

impl Signing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signed => "SIGNED",
            Self::Refused => "REFUSED HERE",
            Self::Unsigned => "UNSIGNED",
        }
    }
}

impl KeysView {
    /// Whether entries are signed here, refused, or unsigned.
    pub fn signing(&self) -> Signing {
        if self.signs {
            Signing::Signed
        } else if self.registered.is_some()
            || matches!(self.people.standing(&self.person), Standing::Revoked(_))
        {
            Signing::Refused
        } else {
            Signing::Unsigned
        }
    }

    /// The fingerprint of the key that matters here: this machine's key (the one that signs),
    /// else the person's registered one; `None` when there is neither.
    pub fn fingerprint(&self) -> Option<&str> {
        self.local_key.as_deref().or(self.registered.as_deref())
    }
}

impl Workspace {
    /// Reads this machine's key for the workspace's actor, which [`Self::record`] signs with.
    pub(super) fn load_signer(&mut self) -> Result<(), WorkspaceError> {
        let actor = self.actor();
        let person = keys::person_of(&actor);
        let signer = match keys::keys_dir() {
            Ok(dir) => Signer::load(&dir, person)?,
            // No configuration folder: no key, nothing is signed.
            Err(_) => None,
        };
        self.audit = self.audit.clone().signed_by(signer.map(Arc::new));
        Ok(())
    }

    /// This workspace with its entries signed by `signer`.
    fn signing_with(&self, signer: Arc<Signer>) -> Self {
        let mut ws = self.clone();
        ws.audit = ws.audit.clone().signed_by(Some(signer));
        ws
    }

    /// The people list as the log (this console's copy) makes it.
    pub fn people(&self) -> Result<People, WorkspaceError> {
        Ok(self.audit.people_through(self.audit.recorded()?)?)
    }

    /// This console's key and the people list.
    pub fn keys_view(&self) -> Result<KeysView, WorkspaceError> {
        let people = self.people()?;
        let person = keys::person_of(&self.actor()).to_owned();
        // As the machine holds it now (a key made since the workspace was opened signs the
        // next change too: see `Held::seal`).
        let fresh = keys::keys_dir()
            .ok()
            .and_then(|dir| Signer::load(&dir, &person).ok().flatten());
        let local = fresh.as_ref().or(self.audit.signer());
        let (registered, summary) = match people.standing(&person) {
            Standing::Unregistered => (
                None,
                match local {
                    Some(k) => format!(
                        "{person}'s key {} is on this machine but not registered in this \
                         workspace (`release-console keys new` registers it): entries are not \
                         signed",
                        k.id()
                    ),
                    None => format!(
                        "{person} has no key: entries are not signed (`release-console keys \
                         new` makes one)"
                    ),
                },
            ),
            Standing::Active(k) => (
                Some(k.id.clone()),
                match local {
                    Some(l) if l.id() == k.id => format!(
                        "entries are signed with {person}'s key {} (registered at entry #{})",
                        k.id, k.since
                    ),
                    _ => format!(
                        "{person}'s registered key {} is not on this machine: changes in \
                         {person}'s name are refused here",
                        k.id
                    ),
                },
            ),
            Standing::Revoked(k) => (
                None,
                format!(
                    "{person}'s key {} was revoked: changes in {person}'s name are refused until \
                     a registered person records a new key (`release-console keys add`)",
                    k.id
                ),
            ),
        };
        Ok(KeysView {
            signs: registered.is_some() && registered.as_deref() == local.map(Signer::id),
            local_key: local.map(|k| k.id().to_owned()),
            local_path: local.map(|k| k.path().to_owned()),
            registered,
            summary,
            person,
            people,
        })
    }

    /// `keys new`: makes a key for this console's actor on this machine (unless it has one)
    /// and registers it in the workspace's people list, the entry signed by the new key
    /// (trust on first use). With `replace`, a new key replaces the person's registered one:
    /// the entry is signed by the current key and carries the new key's proof of possession,
    /// and the new private key takes the old one's place once the entry is recorded.
    pub fn new_key(&self, replace: bool) -> Result<NewKey, WorkspaceError> {
        let actor = self.actor();
        let person = keys::person_of(&actor).to_owned();
        keys::check_name(&person).map_err(WorkspaceError::Refused)?;
        let dir = keys::keys_dir()?;
        let people = self.people()?;
        if people.get(&person).is_none()
            && let Some(p) = people.looks_like(&person)
        {
            return Err(WorkspaceError::Refused(format!(
                "{person:?} cannot have a key: it looks like {:?}, a registered person's name \
                 (the same UTS #39 skeleton), so it could be taken for theirs",
                p.name
            )));
        }
        let local = Signer::load(&dir, &person)?;
        let local_id = local.as_ref().map(|l| l.id().to_owned());
        let refuse = |why: String| Err(WorkspaceError::Refused(why));
        match (people.standing(&person), local_id.as_deref(), replace) {
            (Standing::Active(k), Some(l), false) if l == k.id => {
                return Err(KeyError::Exists {
                    person,
                    id: k.id.clone(),
                    path: keys::key_file(&dir, keys::person_of(&actor)),
                }
                .into());
            }
            (Standing::Active(k), _, false) => {
                return refuse(format!(
                    "{person} has a registered key ({}, entry #{}) that this machine does not \
                     hold: copy its private key here, or replace it with `keys new --replace` \
                     where it is",
                    k.id, k.since
                ));
            }
            (Standing::Active(k), Some(l), true) if l == k.id => {
                let new = Arc::new(Signer::create_replacement(&dir, &person)?);
                let mut after = registration(&new);
                after["proof"] = new.proof(&k.id).into();
                // Signed by the current key, which this console holds.
                let seq = self.record_seq(Event::PeopleKeyAdd(Event::values(
                    &person,
                    serde_json::json!({"key": k.id}),
                    after,
                )))?;
                new.install()?;
                return Ok(NewKey {
                    person,
                    key: new.id().to_owned(),
                    path: new.path().to_owned(),
                    created: true,
                    replaced: Some(k.id.clone()),
                    seq,
                });
            }
            (Standing::Active(k), _, true) => {
                return refuse(format!(
                    "{person}'s registered key {} is not on this machine: a key is replaced \
                     only where the current one is (its signature is needed)",
                    k.id
                ));
            }
            (_, _, true) => {
                return refuse(format!(
                    "{person} has no registered key to replace: `keys new` registers one"
                ));
            }
            (Standing::Revoked(k), _, false) => {
                let key = match local {
                    Some(l) if l.id() != k.id => l,
                    Some(old) => {
                        return refuse(format!(
                            "{person}'s key {} ({}) was revoked; move that file away and run \
                             `keys new` again for a new one",
                            old.id(),
                            old.path().display()
                        ));
                    }
                    None => Signer::create(&dir, &person)?,
                };
                return refuse(format!(
                    "{person}'s key {} was revoked at entry #{}: a new key is recorded by \
                     another registered person. This machine's key for {person} is {} ({}); \
                     give them this line to run: release-console keys add '{person}' --public {}",
                    k.id,
                    match &k.ended {
                        Some(keys::Ended::Revoked { seq, .. } | keys::Ended::Replaced { seq }) =>
                            *seq,
                        None => 0,
                    },
                    key.id(),
                    key.path().display(),
                    key.public_b64()
                ));
            }
            (Standing::Unregistered, _, false) => {}
        }
        let (signer, created) = match local {
            Some(l) => (l, false),
            None => (Signer::create(&dir, &person)?, true),
        };
        let signer = Arc::new(signer);
        let seq = self
            .signing_with(signer.clone())
            .record_seq(Event::PeopleKeyAdd(Event::values(
                &person,
                serde_json::Value::Null,
                registration(&signer),
            )))?;
        Ok(NewKey {
            person,
            key: signer.id().to_owned(),
            path: signer.path().to_owned(),
            created,
            replaced: None,
            seq,
        })
    }

    /// `keys revoke`: revokes `person`'s active key (`key`, when given, must be it). The
    /// entry is this console's actor's, signed by their key: only a person with a registered
    /// key may revoke one. Returns the key revoked and the entry.
    pub fn revoke_key(
        &self,
        person: &str,
        key: Option<&str>,
    ) -> Result<(String, u64), WorkspaceError> {
        let people = self.people()?;
        let Standing::Active(active) = people.standing(person) else {
            return Err(WorkspaceError::Refused(format!(
                "{person} has no active key in this workspace (`keys list` shows the keys)"
            )));
        };
        if let Some(k) = key
            && k != active.id
        {
            return Err(WorkspaceError::Refused(format!(
                "{person}'s active key is {}, not {k}",
                active.id
            )));
        }
        let id = active.id.clone();
        let seq = self.record_seq(Event::PeopleKeyRevoke(Event::values(
            person,
            serde_json::Value::Null,
            serde_json::json!({ "key": id }),
        )))?;
        Ok((id, seq))
    }

    /// `keys add`: this console's actor vouches for `public` (base64) as `person`'s key; the
    /// person has none (never had one, or it was revoked). Returns the key's id and the entry.
    pub fn vouch_key(&self, person: &str, public: &str) -> Result<(String, u64), WorkspaceError> {
        keys::check_name(person).map_err(WorkspaceError::Refused)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(public.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                WorkspaceError::Refused(format!(
                    "{public:?} is not an Ed25519 public key (32 bytes, base64)"
                ))
            })?;
        let id = keys::key_id(&bytes);
        let seq = self.record_seq(Event::PeopleKeyAdd(Event::values(
            person,
            serde_json::Value::Null,
            serde_json::json!({"key": id, "public": public.trim()}),
        )))?;
        Ok((id, seq))
    }
}

/// A `people.key.add`'s `after` for `signer`'s key.
fn registration(signer: &Signer) -> serde_json::Value {
    serde_json::json!({"key": signer.id(), "public": signer.public_b64()})
}
