//! Per-person Ed25519 keys that sign audit entries, and the workspace's `people` list they are
//! registered in, so that write access to a shared workspace's bucket is not enough to act in
//! someone else's name.
//!
//! **Keys.** `release-console keys new` makes a key pair for this console's actor (the person,
//! on this machine). The private key (PKCS#8 v2, DER) is kept in the user's configuration
//! folder (`keys/<person>.pk8` under [`KEYS_DIR_ENV`], else the OS's config directory), mode
//! 0600 on Unix, never in a workspace, never in a log; [`Signer`]'s `Debug` shows only the
//! person and the key id. A key's id is the first 16 hex digits of the SHA-256 of its 32-byte
//! public key.
//!
//! **The people list** is a projection of the log, never a file of its own: each person's keys
//! with the entry that added each, and the entry that replaced or revoked it. Two actions
//! change it:
//! - [`ADD`] (`people.key.add`), target the person, `after` = `{key, public, proof?}`: the id,
//!   the public key (base64) and, for a replacement, the proof of possession. Who may:
//!   - the person themself, the first time (no key yet): *trust on first use*, the entry is
//!     signed with the key it adds (which proves possession; nothing proves that the first
//!     registration of a name is by that person, so whoever registers first holds the name);
//!   - the person themself, replacing their active key: the entry is signed with the current
//!     key, and `proof` is the new key's signature of [`proof_message`] (person, public key,
//!     and the id of the key it replaces, so it serves that one replacement only);
//!   - another person with an active key, for someone who has none (never had one, or it was
//!     revoked): that person vouches for the key, the entry is signed by them and names them.
//!     Nobody can replace another person's active key.
//! - [`REVOKE`] (`people.key.revoke`), target the person, `after` = `{key}`: any person with an
//!   active key may revoke any active key, their own or another's (a lost or stolen key must be
//!   revocable without it), and the signed entry names who did. After a revocation the person
//!   has no active key and *nothing* in their name is valid (not even unsigned) until another
//!   registered person vouches for a new key: otherwise revoking a key would reopen the name to
//!   trust on first use, for anyone with write access to the bucket.
//!
//! **Signatures.** An entry's *person* is its actor up to a ` (` (an auto-tick's
//! `ana (task build)` is ana's). When the person has an active key at that point in the log,
//! the entry must carry `key` (that key's id) and `sig`: the base64 Ed25519 signature of
//! [`ENTRY_DOMAIN`] followed by the entry's line *without* the `sig` field (the line exactly as
//! the entry serializes with `sig` absent; `sig` is the entry's last field, so the signed line
//! is that line with `,"sig":"…"` inserted before its final `}`). The chain hash covers the
//! whole line, signature included, as before. `seq` and `prev` are in the signed bytes, so a
//! signed entry cannot be replayed at another place in the log. Entries by a person without a
//! key stay valid, unsigned; `audit verify` says how many there are.
//!
//! **Where it is checked.** A console signs in one place, where an entry is finalized before
//! it is appended ([`super::Held::seal`]), and refuses to write an entry that would not verify
//! (a person with a key working on a machine without it). A shared workspace's console checks
//! every entry it adopts from the bucket ([`super::Held::adopt`]): an entry in the name of a
//! person with a key that is not signed by it is a forgery and is refused, so the log stops
//! there for every console until the object is removed from the bucket. `audit verify` checks
//! the whole log ([`super::AuditLog::verify_signatures`]).

use std::collections::BTreeMap;
use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use serde::Serialize;

use super::{AuditEntry, AuditError, AuditLog};

/// The action that registers a key.
pub const ADD: &str = super::event::Action::PeopleKeyAdd.as_str();
/// The action that revokes a key.
pub const REVOKE: &str = super::event::Action::PeopleKeyRevoke.as_str();
/// Where the private keys are kept, when set (tests; a CI job's own folder); else the user's
/// configuration directory's `keys` folder.
pub const KEYS_DIR_ENV: &str = "RELEASE_CONSOLE_KEYS_DIR";
/// What an entry's signature signs before the entry's line.
pub const ENTRY_DOMAIN: &[u8] = b"release-console audit entry v1\n";
/// What a proof of possession signs before the person, key and link.
const PROOF_DOMAIN: &[u8] = b"release-console people.key.add proof v1\n";
/// A PKCS#8 Ed25519 key is 85 bytes; anything much bigger is not one.
const MAX_KEY_FILE: u64 = 4096;
/// The longest person name a key is made for.
const MAX_NAME: usize = 128;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The person an actor speaks for: the actor up to ` (` (`ana (task build)` is ana).
pub fn person_of(actor: &str) -> &str {
    actor.split_once(" (").map_or(actor, |(p, _)| p)
}

/// A key's id: the first 16 hex digits of the SHA-256 of its public key.
pub fn key_id(public: &[u8]) -> String {
    let mut hex = crate::sha256_hex(public);
    hex.truncate(16);
    hex
}

/// What a proof of possession of `public` for `person` signs: the key it replaces (`replaces`,
/// the id of the person's last key, or `none`), so that a proof serves one replacement only.
pub fn proof_message(person: &str, public_b64: &str, replaces: &str) -> Vec<u8> {
    [
        PROOF_DOMAIN,
        person.as_bytes(),
        b"\n",
        public_b64.as_bytes(),
        b"\n",
        replaces.as_bytes(),
    ]
    .concat()
}

/// A key file that could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {action}: {cause}")]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{person} has a key on this machine already (key {id}, {path}); it is not replaced \
         (`release-console keys new --replace` replaces it)"
    )]
    Exists {
        person: String,
        id: String,
        path: PathBuf,
    },
    #[error("{0}")]
    Refused(String),
}

impl KeyError {
    fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |cause| Self::Io {
            path: path.to_owned(),
            action,
            cause,
        }
    }
}

/// The folder this user's private keys are kept in.
pub fn keys_dir() -> Result<PathBuf, KeyError> {
    if let Some(dir) = std::env::var_os(KEYS_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("dev", "release-console", "release-console")
        .ok_or_else(|| {
            KeyError::Refused(format!(
                "no configuration directory for this user to keep keys in; set ${KEYS_DIR_ENV}"
            ))
        })?;
    Ok(dirs.config_dir().join("keys"))
}

/// Checks that `person` can have a key: not empty, at most 128 bytes, no control characters
/// and no parentheses (an actor's ` (…)` says on whose behalf, see [`person_of`]).
pub fn check_name(person: &str) -> Result<(), String> {
    if person.trim().is_empty() || person.trim() != person {
        return Err(format!(
            "{person:?} cannot have a key: a name may not be empty or start or end with spaces"
        ));
    }
    if person.len() > MAX_NAME {
        return Err(format!(
            "{person:?} cannot have a key: a name has at most {MAX_NAME} bytes"
        ));
    }
    if person
        .chars()
        .any(|c| c.is_control() || c == '(' || c == ')')
    {
        return Err(format!(
            "{person:?} cannot have a key: a name may hold no control characters or parentheses"
        ));
    }
    Ok(())
}

/// The file of `person`'s private key in `dir`: the name with every byte but letters, digits,
/// `-`, `_`, `.` and `@` written as `%XX` (so no name leaves the folder).
pub fn key_file(dir: &Path, person: &str) -> PathBuf {
    let mut name = String::new();
    for (i, b) in person.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'@') || (b == b'.' && i > 0) {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    dir.join(format!("{name}.pk8"))
}

/// A person's private key on this machine. `Debug` shows the person and the key id only.
pub struct Signer {
    person: String,
    id: String,
    public: Vec<u8>,
    pair: Ed25519KeyPair,
    path: PathBuf,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("person", &self.person)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    fn from_pkcs8(person: &str, bytes: &[u8], path: &Path) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(|e| KeyError::Invalid {
            path: path.to_owned(),
            message: format!("not an Ed25519 private key (PKCS#8): {e}"),
        })?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Self {
            person: person.to_owned(),
            id: key_id(&public),
            public,
            pair,
            path: path.to_owned(),
        })
    }

    /// `person`'s key in `dir`, if there is one. A key file others may read is refused.
    pub fn load(dir: &Path, person: &str) -> Result<Option<Self>, KeyError> {
        let path = key_file(dir, person);
        // Looked at before it is opened: opening a FIFO (or a device) would wait forever.
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(KeyError::Invalid {
                    path,
                    message: "not a regular file (a private key is one)".into(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => return Err(KeyError::io(&path, "stat")(cause)),
        }
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => return Err(KeyError::io(&path, "open")(cause)),
        };
        let meta = file.metadata().map_err(KeyError::io(&path, "stat"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Invalid {
                    path,
                    message: format!(
                        "the private key may be read by others (mode {mode:o}); `chmod 600` it"
                    ),
                });
            }
        }
        if meta.len() > MAX_KEY_FILE {
            return Err(KeyError::Invalid {
                path,
                message: format!("{} bytes is no Ed25519 private key", meta.len()),
            });
        }
        let mut bytes = Vec::new();
        file.take(MAX_KEY_FILE)
            .read_to_end(&mut bytes)
            .map_err(KeyError::io(&path, "read"))?;
        Self::from_pkcs8(person, &bytes, &path).map(Some)
    }

    /// Makes a new key for `person` in `dir`; one that exists is refused
    /// ([`KeyError::Exists`]) and left alone.
    pub fn create(dir: &Path, person: &str) -> Result<Self, KeyError> {
        check_name(person).map_err(KeyError::Refused)?;
        if let Some(existing) = Self::load(dir, person)? {
            return Err(KeyError::Exists {
                person: person.to_owned(),
                id: existing.id,
                path: existing.path,
            });
        }
        let path = key_file(dir, person);
        let signer = Self::generate(person, &path)?;
        write_private(dir, &path, &signer, false)?;
        Ok(signer)
    }

    /// Makes a key to replace `person`'s, kept beside it (`.pk8.new`) until
    /// [`Self::install`] puts it in place (after its registration was recorded).
    pub fn create_replacement(dir: &Path, person: &str) -> Result<Self, KeyError> {
        check_name(person).map_err(KeyError::Refused)?;
        let path = key_file(dir, person);
        let signer = Self::generate(person, &path)?;
        write_private(dir, &path.with_extension("pk8.new"), &signer, true)?;
        Ok(signer)
    }

    /// Puts a replacement made by [`Self::create_replacement`] in place of the old key.
    pub fn install(&self) -> Result<(), KeyError> {
        let new = self.path.with_extension("pk8.new");
        std::fs::rename(&new, &self.path).map_err(KeyError::io(&new, "rename"))
    }

    fn generate(person: &str, path: &Path) -> Result<Self, KeyError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| KeyError::Refused("no random numbers to make a key".to_owned()))?;
        Self::from_pkcs8(person, doc.as_ref(), path)
    }

    pub fn person(&self) -> &str {
        &self.person
    }

    /// The key's id (see [`key_id`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public key, base64.
    pub fn public_b64(&self) -> String {
        b64().encode(&self.public)
    }

    /// Where the private key is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sign(&self, message: &[u8]) -> String {
        b64().encode(self.pair.sign(message).as_ref())
    }

    /// The proof that this key's holder registers it for [`Self::person`] in place of key
    /// `replaces` (see [`proof_message`]).
    pub fn proof(&self, replaces: &str) -> String {
        self.sign(&proof_message(&self.person, &self.public_b64(), replaces))
    }

    /// `entry` (with `key` and `sig` unset) signed: its `key` and `sig` set, and its line.
    pub fn sign_entry(&self, mut entry: AuditEntry) -> Result<(AuditEntry, String), String> {
        entry.key = Some(self.id.clone());
        entry.sig = None;
        let unsigned = entry
            .to_line()
            .map_err(|e| format!("cannot encode the audit entry: {e}"))?;
        entry.sig = Some(self.sign(&[ENTRY_DOMAIN, unsigned.as_bytes()].concat()));
        let line = entry
            .to_line()
            .map_err(|e| format!("cannot encode the audit entry: {e}"))?;
        // The verifier finds the signed bytes by taking `sig` out of the end of the line.
        if unsigned_line(&line, entry.sig.as_deref().unwrap_or_default()).as_deref()
            != Some(unsigned.as_str())
        {
            return Err("the audit entry's `sig` is not its last field".to_owned());
        }
        Ok((entry, line))
    }
}

/// Writes `signer`'s private key to `path`: a temporary file made with mode 0600, synced, then
/// linked in place when nothing is there (`replace`: renamed over what is).
fn write_private(dir: &Path, path: &Path, signer: &Signer, replace: bool) -> Result<(), KeyError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(KeyError::io(dir, "create folder"))?;
    let doc = signer
        .pair
        .to_pkcs8()
        .map_err(|_| KeyError::Refused("cannot encode the new key".to_owned()))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&tmp).map_err(KeyError::io(&tmp, "create"))?;
        file.write_all(doc.as_ref())
            .map_err(KeyError::io(&tmp, "write"))?;
        file.sync_all().map_err(KeyError::io(&tmp, "fsync"))?;
        if replace {
            std::fs::rename(&tmp, path).map_err(KeyError::io(path, "rename"))
        } else {
            // A link fails when the name is taken: a key made meanwhile is never overwritten.
            std::fs::hard_link(&tmp, path).map_err(KeyError::io(path, "create"))
        }
    })();
    // Gone after a rename; after a link (or a failure) the temporary name goes.
    let _ = std::fs::remove_file(&tmp);
    written
}

/// `line` without its `sig` field, when the line ends with `,"sig":"SIG"}`: the bytes the
/// signature signs (after [`ENTRY_DOMAIN`]).
pub fn unsigned_line(line: &str, sig: &str) -> Option<String> {
    let suffix = format!(",\"sig\":\"{sig}\"}}");
    line.strip_suffix(&suffix).map(|body| format!("{body}}}"))
}

/// How a registered key ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum Ended {
    /// Its person registered another key at entry `seq`.
    Replaced { seq: u64 },
    /// `by` revoked it at entry `seq`.
    Revoked { seq: u64, by: String },
}

/// A key in the people list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredKey {
    pub id: String,
    /// The public key, base64.
    pub public: String,
    /// The entry that registered it.
    pub since: u64,
    /// Who registered it: the person, or whoever vouched for it.
    pub added_by: String,
    pub ended: Option<Ended>,
}

/// One person's keys, oldest first; the last is active unless it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub name: String,
    pub keys: Vec<RegisteredKey>,
}

impl Person {
    /// The key entries in this person's name must be signed with, if any.
    pub fn active(&self) -> Option<&RegisteredKey> {
        self.keys.last().filter(|k| k.ended.is_none())
    }
}

/// What a person's entries need, at one point of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing<'a> {
    /// No key was ever registered: entries are valid unsigned.
    Unregistered,
    /// Entries must be signed with this key.
    Active(&'a RegisteredKey),
    /// The last key was revoked: nothing in this name is valid until a new key.
    Revoked(&'a RegisteredKey),
}

/// The workspace's people list: everyone who has or had a key, as the log made it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct People {
    pub people: BTreeMap<String, Person>,
}

/// The key an entry must be signed with, judged before it.
enum Need {
    Nothing,
    Key {
        person: String,
        id: String,
        public: Vec<u8>,
    },
    Refused(String),
}

/// `after` of a `people.key.add`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddAfter {
    key: String,
    public: String,
    #[serde(default)]
    proof: Option<String>,
}

/// `after` of a `people.key.revoke`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeAfter {
    key: String,
}

/// A registration's key, decoded and checked against its id.
fn parse_add(e: &AuditEntry) -> Result<(AddAfter, Vec<u8>), String> {
    let bad = |why: String| format!("entry #{}: not a valid key registration: {why}", e.seq);
    let add: AddAfter = serde_json::from_value(e.after.clone()).map_err(|x| bad(x.to_string()))?;
    let public = b64()
        .decode(&add.public)
        .map_err(|_| bad("the public key is not base64".to_owned()))?;
    if public.len() != 32 {
        return Err(bad(format!(
            "the public key has {} bytes, not Ed25519's 32",
            public.len()
        )));
    }
    if key_id(&public) != add.key {
        return Err(bad(format!(
            "key {} is not the id of its public key ({})",
            add.key,
            key_id(&public)
        )));
    }
    Ok((add, public))
}

fn verifies(public: &[u8], message: &[u8], sig_b64: &str) -> bool {
    b64().decode(sig_b64).is_ok_and(|sig| {
        UnparsedPublicKey::new(&ED25519, public)
            .verify(message, &sig)
            .is_ok()
    })
}

impl People {
    /// Where `person` stands.
    pub fn standing(&self, person: &str) -> Standing<'_> {
        let Some(p) = self.people.get(person) else {
            return Standing::Unregistered;
        };
        match p.keys.last() {
            None => Standing::Unregistered,
            Some(k) if k.ended.is_none() => Standing::Active(k),
            Some(k) => Standing::Revoked(k),
        }
    }

    fn need(&self, e: &AuditEntry) -> Need {
        let person = person_of(&e.actor);
        match self.standing(person) {
            Standing::Active(k) => Need::Key {
                person: person.to_owned(),
                id: k.id.clone(),
                public: b64().decode(&k.public).unwrap_or_default(),
            },
            Standing::Revoked(k) => Need::Refused(format!(
                "entry #{} claims to be by {person}, whose key {} was revoked at entry #{}: \
                 nothing in {person}'s name is valid until a registered person records a new \
                 key for them",
                e.seq,
                k.id,
                match &k.ended {
                    Some(Ended::Revoked { seq, .. } | Ended::Replaced { seq }) => *seq,
                    None => 0,
                }
            )),
            Standing::Unregistered if e.action == ADD && e.target == person => {
                // Trust on first use: signed with the key it registers.
                match parse_add(e) {
                    Ok((add, public)) => Need::Key {
                        person: person.to_owned(),
                        id: add.key,
                        public,
                    },
                    Err(why) => Need::Refused(why),
                }
            }
            Standing::Unregistered => Need::Nothing,
        }
    }

    /// Judges entry `e` (whose line is `line`) against the list as it stands before it, and
    /// applies it: whether it was signed (and the signature checked), or why it is refused.
    pub fn admit(&mut self, line: &str, e: &AuditEntry) -> Result<bool, String> {
        let signed = match self.need(e) {
            Need::Nothing => false,
            Need::Refused(why) => return Err(why),
            Need::Key { person, id, public } => {
                let Some(sig) = &e.sig else {
                    return Err(format!(
                        "entry #{} claims to be by {person} but is not signed by {person}'s \
                         key ({id})",
                        e.seq
                    ));
                };
                if e.key.as_deref() != Some(id.as_str()) {
                    return Err(format!(
                        "entry #{} claims to be by {person} but is signed by key {}, not by \
                         {person}'s key ({id})",
                        e.seq,
                        e.key.as_deref().unwrap_or("(none)")
                    ));
                }
                let ok = unsigned_line(line, sig).is_some_and(|unsigned| {
                    verifies(&public, &[ENTRY_DOMAIN, unsigned.as_bytes()].concat(), sig)
                });
                if !ok {
                    return Err(format!(
                        "entry #{} claims to be by {person} but is not signed by {person}'s \
                         key ({id}): its signature does not match the entry",
                        e.seq
                    ));
                }
                true
            }
        };
        self.apply(e, signed)?;
        Ok(signed)
    }

    /// Judges `e` as [`Self::admit`] would before it is signed: `Ok(Some(id))` when it must be
    /// signed with key `id`, `Ok(None)` when it needs no signature, else why it cannot be
    /// recorded at all.
    pub fn needs(&self, e: &AuditEntry) -> Result<Option<String>, String> {
        match self.need(e) {
            Need::Nothing => Ok(None),
            Need::Key { id, .. } => Ok(Some(id)),
            Need::Refused(why) => Err(why),
        }
    }

    /// `e`, already in a verified log, applied to the list (a log checked when each entry was
    /// adopted is not checked again); an entry that does not apply changes nothing.
    pub fn fold(&mut self, e: &AuditEntry) {
        let signed = e.sig.is_some() && matches!(self.need(e), Need::Key { .. });
        if let Err(why) = self.apply(e, signed) {
            tracing::debug!("people list: {why}");
        }
    }

    /// What a `people.key.*` entry does to the list; `signed`: it was signed by its actor's
    /// active key (or, for a first registration, the key it adds).
    pub fn apply(&mut self, e: &AuditEntry, signed: bool) -> Result<(), String> {
        let actor = person_of(&e.actor).to_owned();
        let target = e.target.as_str();
        match e.action.as_str() {
            ADD => {
                check_name(target).map_err(|why| format!("entry #{}: {why}", e.seq))?;
                let (add, public) = parse_add(e)?;
                if let Some(owner) = self
                    .people
                    .values()
                    .find(|p| p.keys.iter().any(|k| k.id == add.key))
                {
                    return Err(format!(
                        "entry #{}: key {} was registered before (for {}); a key is \
                         registered once",
                        e.seq, add.key, owner.name
                    ));
                }
                let replaces = self
                    .people
                    .get(target)
                    .and_then(|p| p.keys.last())
                    .map_or_else(|| "none".to_owned(), |k| k.id.clone());
                let proof_ok = |proof: &str| {
                    verifies(
                        &public,
                        &proof_message(target, &add.public, &replaces),
                        proof,
                    )
                };
                let standing = self.standing(target);
                if actor == target {
                    match standing {
                        Standing::Unregistered => {}
                        Standing::Active(_) => {
                            if !signed || !add.proof.as_deref().is_some_and(proof_ok) {
                                return Err(format!(
                                    "entry #{}: {target}'s new key {} is not proven: a \
                                     replacement is signed by the current key, with the new \
                                     key's proof of possession",
                                    e.seq, add.key
                                ));
                            }
                        }
                        Standing::Revoked(_) => {
                            return Err(format!(
                                "entry #{}: {target}'s key was revoked; a new key is recorded \
                                 by another registered person",
                                e.seq
                            ));
                        }
                    }
                } else {
                    if !signed {
                        return Err(format!(
                            "entry #{}: {actor} registers a key for {target} without a key of \
                             their own: only a person with a registered key may vouch for \
                             another's",
                            e.seq
                        ));
                    }
                    if let Standing::Active(k) = standing {
                        return Err(format!(
                            "entry #{}: {actor} registers a key for {target}, who has one ({}): \
                             only {target}'s own key can replace it",
                            e.seq, k.id
                        ));
                    }
                    if add.proof.as_deref().is_some_and(|p| !proof_ok(p)) {
                        return Err(format!(
                            "entry #{}: the proof of possession of key {} does not verify",
                            e.seq, add.key
                        ));
                    }
                }
                let person = self
                    .people
                    .entry(target.to_owned())
                    .or_insert_with(|| Person {
                        name: target.to_owned(),
                        keys: Vec::new(),
                    });
                if let Some(old) = person.keys.last_mut().filter(|k| k.ended.is_none()) {
                    old.ended = Some(Ended::Replaced { seq: e.seq });
                }
                person.keys.push(RegisteredKey {
                    id: add.key,
                    public: add.public,
                    since: e.seq,
                    added_by: actor,
                    ended: None,
                });
                Ok(())
            }
            REVOKE => {
                let revoke: RevokeAfter = serde_json::from_value(e.after.clone())
                    .map_err(|x| format!("entry #{}: not a valid key revocation: {x}", e.seq))?;
                if !signed {
                    return Err(format!(
                        "entry #{}: {actor} revokes {target}'s key without a key of their own: \
                         only a person with a registered key may revoke one",
                        e.seq
                    ));
                }
                let active = self
                    .people
                    .get_mut(target)
                    .and_then(|p| p.keys.last_mut())
                    .filter(|k| k.ended.is_none() && k.id == revoke.key);
                let Some(key) = active else {
                    return Err(format!(
                        "entry #{}: revokes key {} of {target}, which is not {target}'s active \
                         key",
                        e.seq, revoke.key
                    ));
                };
                key.ended = Some(Ended::Revoked {
                    seq: e.seq,
                    by: actor,
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// What [`AuditLog::verify_signatures`] counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Signatures {
    /// Entries signed by their person's registered key, each signature checked.
    pub signed: u64,
    /// Entries by people without a registered key at that point, valid unsigned.
    pub unsigned: u64,
}

impl Signatures {
    /// One line for a person: what was checked and what could not be.
    pub fn summary(&self) -> String {
        format!(
            "{} entries signed, each signature checked against its person's registered key; {} \
             unsigned (by people without a registered key at the time)",
            self.signed, self.unsigned
        )
    }
}

/// The bytes every `people.key.*` entry's line holds.
const PEOPLE_MARK: &[u8] = br#""action":"people.key."#;

impl AuditLog {
    /// Reads the first `entries` whole lines of the log, calling `visit` with each line that
    /// needs judging: every line from the first that records a `people.key.*` action on
    /// (before it nobody has a key). Returns how many lines came before that one.
    fn scan_people(
        &self,
        entries: u64,
        visit: &mut dyn FnMut(&str, AuditEntry) -> Result<(), AuditError>,
    ) -> Result<u64, AuditError> {
        let file = match std::fs::File::open(&self.log_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.io("open")(e)),
        };
        let finder = memchr::memmem::Finder::new(PEOPLE_MARK);
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        let (mut seq, mut before, mut judging) = (0u64, 0u64, false);
        while seq < entries {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(self.io("read"))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            seq += 1;
            let text = &line[..n - 1];
            if !judging && finder.find(text).is_none() {
                before += 1;
                continue;
            }
            judging = true;
            let text = std::str::from_utf8(text)
                .map_err(|_| self.tampered(seq, format!("entry #{seq} is not UTF-8")))?;
            let entry: AuditEntry = serde_json::from_str(text)
                .map_err(|e| self.tampered(seq, format!("not a valid audit entry: {e}")))?;
            visit(text, entry)?;
        }
        Ok(before)
    }

    /// The people list as the first `entries` entries of the log (already verified) made it.
    pub fn people_through(&self, entries: u64) -> Result<People, AuditError> {
        let mut people = People::default();
        self.scan_people(entries, &mut |_, e| {
            if e.action.starts_with("people.key.") {
                people.fold(&e);
            }
            Ok(())
        })?;
        Ok(people)
    }

    /// Checks the signatures of the log's first `entries` entries (whose chain was verified):
    /// each entry by a person with a registered key at that point must be signed by that key,
    /// and each change of the people list must be made by whom it may (see the module's
    /// comment). The first that is not is named.
    pub fn verify_signatures(&self, entries: u64) -> Result<Signatures, AuditError> {
        let mut people = People::default();
        let mut count = Signatures {
            signed: 0,
            unsigned: 0,
        };
        let before = self.scan_people(entries, &mut |line, e| {
            let seq = e.seq;
            match people.admit(line, &e) {
                Ok(true) => count.signed += 1,
                Ok(false) => count.unsigned += 1,
                Err(why) => return Err(self.tampered(seq, why)),
            }
            Ok(())
        })?;
        count.unsigned += before;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, actor: &str, action: &str, target: &str) -> AuditEntry {
        AuditEntry {
            seq,
            time: jiff::Timestamp::UNIX_EPOCH,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            prev: crate::audit::GENESIS_HASH.to_owned(),
            host: None,
            nonce: None,
            key: None,
            sig: None,
        }
    }

    fn registration(seq: u64, signer: &Signer) -> AuditEntry {
        AuditEntry {
            after: serde_json::json!({"key": signer.id(), "public": signer.public_b64()}),
            ..entry(seq, signer.person(), ADD, signer.person())
        }
    }

    #[test]
    fn names_become_file_names_that_stay_in_the_folder() {
        let dir = Path::new("/k");
        assert_eq!(key_file(dir, "ana"), Path::new("/k/ana.pk8"));
        assert_eq!(key_file(dir, "ci@github"), Path::new("/k/ci@github.pk8"));
        assert_eq!(key_file(dir, "../x"), Path::new("/k/%2E.%2Fx.pk8"));
        assert_eq!(key_file(dir, "a b/c"), Path::new("/k/a%20b%2Fc.pk8"));
        assert_eq!(person_of("ana (task build)"), "ana");
        assert!(check_name("ana (x)").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("Ana Lima").is_ok());
    }

    #[test]
    fn signatures_and_the_people_list_are_judged_entry_by_entry() {
        let dir = tempfile::tempdir().expect("dir");
        let ana = Signer::create(dir.path(), "ana").expect("ana's key");
        let bob = Signer::create(dir.path(), "bob").expect("bob's key");
        assert!(!format!("{ana:?}").contains(&ana.public_b64()), "{ana:?}");
        let mut people = People::default();
        // Unsigned entries by people without keys are valid.
        let first = entry(1, "ana", "checklist.tick", "x");
        assert_eq!(
            people.admit(&first.to_line().expect("line"), &first),
            Ok(false)
        );
        // Ana registers, signed by the key itself.
        let (reg, line) = ana.sign_entry(registration(2, &ana)).expect("sign");
        assert_eq!(people.admit(&line, &reg), Ok(true));
        // Unsigned, and signed by bob's key: both refused, naming the entry and person.
        let tick = entry(3, "ana (task build)", "checklist.tick", "x");
        let unsigned = tick.to_line().expect("line");
        let e = people
            .clone()
            .admit(&unsigned, &tick)
            .expect_err("unsigned");
        assert!(
            e.contains("entry #3 claims to be by ana but is not signed by ana's key"),
            "{e}"
        );
        let (forged, line) = bob.sign_entry(tick.clone()).expect("sign");
        assert!(people.clone().admit(&line, &forged).is_err());
        // A signed entry whose bytes changed after signing.
        let (signed, line) = ana.sign_entry(tick).expect("sign");
        let edited = line.replace("checklist.tick", "checklist.tock");
        let mut changed = signed.clone();
        changed.action = "checklist.tock".into();
        let e = people.clone().admit(&edited, &changed).expect_err("edited");
        assert!(e.contains("does not match"), "{e}");
        assert_eq!(people.admit(&line, &signed), Ok(true));
        // Bob (no key) cannot revoke ana's key, nor register one for her.
        let revoke = AuditEntry {
            after: serde_json::json!({"key": ana.id()}),
            ..entry(4, "bob", REVOKE, "ana")
        };
        let e = people
            .clone()
            .admit(&revoke.to_line().expect("line"), &revoke)
            .expect_err("bob has no key");
        assert!(e.contains("without a key of their own"), "{e}");
        // A replacement without the current key's signature is refused.
        let ana2 = Signer::create_replacement(dir.path(), "ana").expect("new key");
        let (replace, line) = ana2.sign_entry(registration(4, &ana2)).expect("sign");
        assert!(people.clone().admit(&line, &replace).is_err());
        // With it, and the new key's proof: accepted, the old key replaced.
        let mut with_proof = registration(4, &ana2);
        with_proof.after["proof"] = ana2.proof(ana.id()).into();
        let (replace, line) = ana.sign_entry(with_proof).expect("sign");
        assert_eq!(people.admit(&line, &replace), Ok(true));
        assert_eq!(
            people.people["ana"].keys[0].ended,
            Some(Ended::Replaced { seq: 4 })
        );
        assert_eq!(
            people.standing("ana"),
            Standing::Active(&people.people["ana"].keys[1])
        );
    }
}
