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
//!   - another person *with standing* (below), for someone who has none (never had one, or it
//!     was revoked): that person vouches for the key, the entry is signed by them and names
//!     them. Nobody can replace another person's active key; a person with standing may vouch
//!     for another's active key as it is (the same key), which gives that person standing.
//! - [`REVOKE`] (`people.key.revoke`), target the person, `after` = `{key}`: signed by the key
//!   it revokes (the person themself), or by another person with standing (a lost or stolen
//!   key must be revocable without it); the signed entry names who did. After a revocation the
//!   person has no active key and *nothing* in their name is valid (not even unsigned) until a
//!   person with standing vouches for a new key: otherwise revoking a key would reopen the name
//!   to trust on first use, for anyone with write access to the bucket.
//!
//! **Standing** ([`Person::vouched_by`]) is what it takes to revoke another's key or vouch for
//! another's: the workspace's first registered person has it, and so has everyone a person
//! with standing vouched for. Whoever registers a new name later by trust on first use signs
//! their own entries but has none, because anyone who can write the bucket can do that: with
//! standing for every registered name, they could register `mallory`, revoke ana's key and
//! vouch for a key of their own as ana's, and act in her name.
//!
//! **Names** are compared in their [`canonical`] form (NFKC, lower case, invisible characters
//! left out, spaces trimmed), so `Ana`, `ana ` and `ａｎａ` are ana, whose key they need. A new
//! name that mixes scripts (`аna`, with a Cyrillic `а`) or holds invisible characters is
//! refused ([`check_name`], [`look_alike`]); once anyone has a key, an unsigned entry by such
//! a name is refused too.
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

/// The form names are compared in, so that one person cannot be impersonated by a look-alike
/// of their name: NFKC (`ａｎａ` and `ana`), each character's lower case (`Ana` and `ana`),
/// NFKC again, invisible characters (Unicode's default-ignorable code points: zero-width
/// spaces and joiners, soft hyphens) left out, white space at the ends trimmed and each run of
/// it inside one space (`ana ` and `ana`). The people list is keyed by it; the name shown is
/// the one first registered. Letters of other scripts that look alike (`аna` with a Cyrillic
/// `а`) are not folded: a new name that mixes scripts is refused ([`check_name`]).
pub fn canonical(name: &str) -> String {
    use icu_normalizer::ComposingNormalizerBorrowed;
    use icu_properties::{CodePointSetData, props::DefaultIgnorableCodePoint};
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let lower: String = nfkc
        .normalize(name)
        .chars()
        .flat_map(char::to_lowercase)
        .collect();
    let mut out = String::with_capacity(lower.len());
    for word in nfkc
        .normalize(&lower)
        .chars()
        .filter(|c| !ignorable.contains(*c))
        .collect::<String>()
        .split_whitespace()
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The UTS #39 skeleton of `name`'s [`canonical`] form: names that look alike have the same
/// one, a whole name in another script too (`јое`, all Cyrillic, and `joe`).
pub fn skeleton(name: &str) -> String {
    unicode_security::skeleton(&canonical(name)).collect()
}

/// Why `person` could be mistaken for another name, if it could: a character that is not
/// seen (control, format and other default-ignorable characters, unassigned and private-use
/// code points, separators but the plain space), or letters of two scripts (`аna`, a Cyrillic
/// `а` among Latin letters). Characters common to every script (digits, `.`, `-`, `@`) and
/// combining marks go with any; Han with Hiragana and Katakana (Japanese) or Hangul (Korean)
/// is one writing system.
pub fn look_alike(person: &str) -> Option<String> {
    use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, Script};
    use icu_properties::{CodePointMapData, CodePointSetData, PropertyNamesLong};
    let category = CodePointMapData::<GeneralCategory>::new();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let scripts = CodePointMapData::<Script>::new();
    let script_name = |s: Script| {
        PropertyNamesLong::<Script>::new()
            .get(s)
            .unwrap_or("another script")
    };
    let mut first: Option<(Script, char)> = None;
    for (i, c) in person.chars().enumerate() {
        let hidden = c.is_control()
            || ignorable.contains(c)
            || (c.is_whitespace() && c != ' ')
            || matches!(
                category.get(c),
                GeneralCategory::Format
                    | GeneralCategory::Unassigned
                    | GeneralCategory::PrivateUse
                    | GeneralCategory::Surrogate
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
                    | GeneralCategory::SpaceSeparator
            ) && c != ' ';
        if hidden {
            return Some(format!(
                "character {} (U+{:04X}) is invisible or unassigned",
                i + 1,
                u32::from(c)
            ));
        }
        let script = scripts.get(c);
        if script == Script::Common || script == Script::Inherited {
            continue;
        }
        let cjk = |s: Script| {
            [
                Script::Han,
                Script::Hiragana,
                Script::Katakana,
                Script::Hangul,
            ]
            .contains(&s)
        };
        match first {
            None => first = Some((script, c)),
            Some((s, _)) if s == script || (cjk(s) && cjk(script)) => {}
            Some((s, f)) => {
                return Some(format!(
                    "it mixes scripts: {f:?} is {}, {c:?} (U+{:04X}) is {}",
                    script_name(s),
                    u32::from(c),
                    script_name(script)
                ));
            }
        }
    }
    None
}

/// Checks that `person` can have a key: not empty, at most 128 bytes, no control characters
/// and no parentheses (an actor's ` (…)` says on whose behalf, see [`person_of`]), nothing
/// that makes it look like another name ([`look_alike`]).
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
    if let Some(why) = look_alike(person) {
        return Err(format!(
            "{person:?} cannot have a key: {why}, so it could be taken for another name"
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
    /// The name as first registered (the list is keyed by its [`canonical`] form).
    pub name: String,
    pub keys: Vec<RegisteredKey>,
    /// Who gave this person the standing to revoke another's key and vouch for another's
    /// (see the module's comment): themself for the workspace's first registered person, else
    /// the person with standing who last vouched for a key of theirs. `None` for someone who
    /// registered themself after the first (trust on first use): they sign their own entries
    /// and may revoke or replace their own key only.
    pub vouched_by: Option<String>,
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

/// The workspace's people list: everyone who has or had a key, as the log made it, keyed by
/// the [`canonical`] form of their name.
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
    /// `person`'s entry, by any name that is the same as theirs ([`canonical`]).
    pub fn get(&self, person: &str) -> Option<&Person> {
        self.people.get(&canonical(person))
    }

    /// Whether `person` may revoke another's key and vouch for another's: they have an
    /// active key and standing ([`Person::vouched_by`]).
    fn may_vouch(&self, person: &str) -> bool {
        self.get(person)
            .is_some_and(|p| p.active().is_some() && p.vouched_by.is_some())
    }

    /// The registered person other than `person` whose name looks like theirs (the same
    /// [`skeleton`]), if any.
    pub fn looks_like(&self, person: &str) -> Option<&Person> {
        let (mine, sk) = (canonical(person), skeleton(person));
        self.people
            .iter()
            .find(|(c, p)| **c != mine && skeleton(&p.name) == sk)
            .map(|(_, p)| p)
    }

    /// Whether `person` has an active key and standing ([`Person::vouched_by`]): what a
    /// record others act on (a release's files) asks of its writer.
    pub fn has_standing(&self, person: &str) -> bool {
        self.may_vouch(person)
    }

    /// Where `person` stands.
    pub fn standing(&self, person: &str) -> Standing<'_> {
        let Some(p) = self.get(person) else {
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
            Standing::Unregistered
                if e.action == ADD && canonical(&e.target) == canonical(person) =>
            {
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
            // Once the workspace has keys, a name that only looks like another's is refused
            // even unsigned: it could only be there to be taken for that person.
            Standing::Unregistered => match (look_alike(person), self.looks_like(person)) {
                (Some(why), _) if !self.people.is_empty() => Need::Refused(format!(
                    "entry #{} claims to be by {person:?}, a name that could be taken for \
                     another: {why}",
                    e.seq
                )),
                // A whole name in another script that looks like a registered one.
                (_, Some(p)) => Need::Refused(format!(
                    "entry #{} claims to be by {person:?}, a name that looks like {:?}'s (the \
                     same UTS #39 skeleton)",
                    e.seq, p.name
                )),
                _ => Need::Nothing,
            },
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
        let by_self = canonical(&actor) == canonical(target);
        let no_standing = |what: &str| {
            format!(
                "entry #{}: {actor} {what} {target}'s key, but {actor} registered their own key \
                 themself (trust on first use): only the workspace's first registered person, or \
                 someone a person with that standing vouched for, may revoke another's key or \
                 vouch for another's",
                e.seq
            )
        };
        match e.action.as_str() {
            ADD => {
                check_name(target).map_err(|why| format!("entry #{}: {why}", e.seq))?;
                let (add, public) = parse_add(e)?;
                // A person with standing vouching for another's active key, as it is: gives
                // them standing (nothing else changes).
                if !by_self
                    && let Standing::Active(k) = self.standing(target)
                    && k.id == add.key
                {
                    if !signed {
                        return Err(format!(
                            "entry #{}: {actor} vouches for {target}'s key without a key of \
                             their own",
                            e.seq
                        ));
                    }
                    if !self.may_vouch(&actor) {
                        return Err(no_standing("vouches for"));
                    }
                    if let Some(p) = self.people.get_mut(&canonical(target)) {
                        p.vouched_by = Some(actor);
                    }
                    return Ok(());
                }
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
                let founder = self.people.is_empty();
                if by_self {
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
                    if !self.may_vouch(&actor) {
                        return Err(no_standing("registers"));
                    }
                    if add.proof.as_deref().is_some_and(|p| !proof_ok(p)) {
                        return Err(format!(
                            "entry #{}: the proof of possession of key {} does not verify",
                            e.seq, add.key
                        ));
                    }
                }
                if self.get(target).is_none()
                    && let Some(p) = self.looks_like(target)
                {
                    return Err(format!(
                        "entry #{}: {target:?} cannot have a key: it looks like {:?}, a \
                         registered person's name (the same UTS #39 skeleton)",
                        e.seq, p.name
                    ));
                }
                let person = self
                    .people
                    .entry(canonical(target))
                    .or_insert_with(|| Person {
                        name: target.to_owned(),
                        keys: Vec::new(),
                        vouched_by: None,
                    });
                if !by_self {
                    person.vouched_by = Some(actor.clone());
                } else if founder {
                    person.vouched_by = Some(target.to_owned());
                }
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
                // Signed by the key it revokes (the person's own, active), or by a person with
                // standing.
                if !by_self && !self.may_vouch(&actor) {
                    return Err(no_standing("revokes"));
                }
                let active = self
                    .people
                    .get_mut(&canonical(target))
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signatures {
    /// Entries signed by their person's registered key, each signature checked.
    pub signed: u64,
    /// Entries by people without a registered key at that point, valid unsigned.
    pub unsigned: u64,
    /// Entries whose values name another person than their actor as who did something (a
    /// `by` or `…_by` field in `after`): the signature vouches for the actor only, so these
    /// are warnings. The first [`MAX_NAMED_OTHERS`]; [`Self::names_others`] counts them all.
    pub named_others: Vec<NamedOther>,
    pub names_others: u64,
}

/// How many [`NamedOther`]s a verification lists.
pub const MAX_NAMED_OTHERS: usize = 50;

/// An entry whose values name someone else as who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedOther {
    pub seq: u64,
    pub actor: String,
    /// The field's path in `after` (`by`, `record.created_by`).
    pub field: String,
    pub names: String,
}

impl std::fmt::Display for NamedOther {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "entry #{} is by {} but its `{}` says {:?}: the entry's actor is who did it",
            self.seq, self.actor, self.field, self.names
        )
    }
}

/// The fields of `e.after` that name a person (`by`, `…_by`, at any depth) other than the
/// entry's actor, compared as [`canonical`] names.
pub fn names_others(e: &AuditEntry) -> Vec<NamedOther> {
    fn walk(
        v: &serde_json::Value,
        path: &str,
        me: &str,
        e: &AuditEntry,
        out: &mut Vec<NamedOther>,
    ) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let field = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match v {
                        serde_json::Value::String(name)
                            if (k == "by" || k.ends_with("_by"))
                                && !name.is_empty()
                                && canonical(person_of(name)) != me =>
                        {
                            out.push(NamedOther {
                                seq: e.seq,
                                actor: e.actor.clone(),
                                field,
                                names: name.clone(),
                            });
                        }
                        _ => walk(v, &field, me, e, out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}[{i}]"), me, e, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&e.after, "", &canonical(person_of(&e.actor)), e, &mut out);
    out
}

impl Signatures {
    /// One line for a person: what was checked and what could not be.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} entries signed, each signature checked against its person's registered key; {} \
             unsigned (by people without a registered key at the time)",
            self.signed, self.unsigned
        );
        if self.names_others > 0 {
            line.push_str(&format!(
                "; WARNING: {} entries name another person than their actor as who did it ({})",
                self.names_others,
                self.named_others
                    .iter()
                    .take(3)
                    .map(|n| format!("#{} by {}: {} {:?}", n.seq, n.actor, n.field, n.names))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if self.names_others > 3 {
                line.push_str(", …");
            }
        }
        line
    }
}

/// The bytes every `people.key.*` entry's line holds.
const PEOPLE_MARK: &[u8] = br#""action":"people.key."#;
/// The bytes every line with a `by` or `…_by` field holds (see [`names_others`]).
const BY_MARK: &[u8] = br#"by":""#;

impl AuditLog {
    /// Reads the first `entries` whole lines of the log, calling `visit` with each line that
    /// needs judging (`true`): every line from the first that records a `people.key.*` action
    /// on (before it nobody has a key); and, with `also`, with each line before that one that
    /// holds `also`'s bytes (`false`). Returns how many lines came before that one.
    fn scan_people(
        &self,
        entries: u64,
        also: Option<&[u8]>,
        visit: &mut dyn FnMut(&str, AuditEntry, bool) -> Result<(), AuditError>,
    ) -> Result<u64, AuditError> {
        let file = match std::fs::File::open(&self.log_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.io("open")(e)),
        };
        let finder = memchr::memmem::Finder::new(PEOPLE_MARK);
        let also = also.map(memchr::memmem::Finder::new);
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
                if also.as_ref().is_none_or(|f| f.find(text).is_none()) {
                    continue;
                }
            } else {
                judging = true;
            }
            let text = std::str::from_utf8(text)
                .map_err(|_| self.tampered(seq, format!("entry #{seq} is not UTF-8")))?;
            let entry: AuditEntry = serde_json::from_str(text)
                .map_err(|e| self.tampered(seq, format!("not a valid audit entry: {e}")))?;
            visit(text, entry, judging)?;
        }
        Ok(before)
    }

    /// The people list as the first `entries` entries of the log (already verified) made it.
    pub fn people_through(&self, entries: u64) -> Result<People, AuditError> {
        let mut people = People::default();
        self.scan_people(entries, None, &mut |_, e, _| {
            if e.action.starts_with("people.key.") {
                people.fold(&e);
            }
            Ok(())
        })?;
        Ok(people)
    }

    /// The people list as it stood right before entry `seq` (the log's first `seq - 1`
    /// entries, already verified made it), with entry `seq` itself as its line and entry, if
    /// the log holds it. A projection that trusts an entry only from some people judges it so.
    pub fn people_before(
        &self,
        seq: u64,
    ) -> Result<(People, Option<(String, AuditEntry)>), AuditError> {
        let mut people = People::default();
        let mut found = None;
        let seq_mark = format!("\"seq\":{seq},");
        self.scan_people(seq, Some(seq_mark.as_bytes()), &mut |line, e, _| {
            if e.seq == seq {
                found = Some((line.to_owned(), e));
            } else if e.action.starts_with("people.key.") {
                people.fold(&e);
            }
            Ok(())
        })?;
        Ok((people, found))
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
            named_others: Vec::new(),
            names_others: 0,
        };
        let before = self.scan_people(entries, Some(BY_MARK), &mut |line, e, judging| {
            let seq = e.seq;
            for other in names_others(&e) {
                count.names_others += 1;
                if count.named_others.len() < MAX_NAMED_OTHERS {
                    count.named_others.push(other);
                }
            }
            if !judging {
                return Ok(());
            }
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

    /// A signed `people.key.*` entry by `by` about `target`.
    fn people_entry(
        seq: u64,
        by: &Signer,
        action: &str,
        target: &str,
        after: serde_json::Value,
    ) -> (AuditEntry, String) {
        by.sign_entry(AuditEntry {
            after,
            ..entry(seq, by.person(), action, target)
        })
        .expect("sign")
    }

    /// Whoever can write the bucket can register a new name (trust on first use); that must
    /// not let them revoke someone's key and vouch for one of their own in that name.
    #[test]
    fn a_name_is_taken_over_neither_by_revoking_nor_by_vouching() {
        let dir = tempfile::tempdir().expect("dir");
        let ana = Signer::create(dir.path(), "ana").expect("key");
        let mallory = Signer::create(dir.path(), "mallory").expect("key");
        let bob = Signer::create(dir.path(), "bob").expect("key");
        let fake = Signer::create(dir.path(), "ana-fake").expect("key");
        let mut people = People::default();
        let admit = |people: &mut People, (e, line): (AuditEntry, String)| people.admit(&line, &e);
        // Ana is the first: she has standing. Mallory and Bob register themselves: none.
        for (seq, who) in [(1, &ana), (2, &mallory), (3, &bob)] {
            let e = who.sign_entry(registration(seq, who)).expect("sign");
            assert_eq!(admit(&mut people, e), Ok(true));
        }
        assert_eq!(people.people["ana"].vouched_by.as_deref(), Some("ana"));
        assert_eq!(people.people["mallory"].vouched_by, None);
        // Mallory revokes Ana's key: refused, Ana's key stays.
        let revoke = |seq, by: &Signer, target: &str, key: &str| {
            people_entry(seq, by, REVOKE, target, serde_json::json!({ "key": key }))
        };
        let e = admit(&mut people.clone(), revoke(4, &mallory, "ana", ana.id()))
            .expect_err("mallory has no standing");
        assert!(
            e.contains(
                "entry #4: mallory revokes ana's key, but mallory registered their own key themself"
            ),
            "{e}"
        );
        // Nor may she vouch for a key for a name that has none.
        let vouch = |seq, by: &Signer, target: &str, key: &Signer| {
            people_entry(
                seq,
                by,
                ADD,
                target,
                serde_json::json!({"key": key.id(), "public": key.public_b64()}),
            )
        };
        let e = admit(&mut people.clone(), vouch(4, &mallory, "carol", &fake))
            .expect_err("mallory has no standing");
        assert!(e.contains("mallory registers carol's key, but"), "{e}");
        // Ana vouches for Bob's key as it is: Bob has standing, and may revoke Ana's key.
        assert_eq!(admit(&mut people, vouch(4, &ana, "bob", &bob)), Ok(true));
        assert_eq!(people.people["bob"].vouched_by.as_deref(), Some("ana"));
        assert_eq!(people.people["bob"].keys.len(), 1);
        // Mallory revokes her own key (signed by it): allowed.
        assert_eq!(
            admit(&mut people, revoke(5, &mallory, "mallory", mallory.id())),
            Ok(true)
        );
        // A revoked name is never registered again by trust on first use, signed or not.
        let again = Signer::create(dir.path(), "mallory2").expect("key");
        let mut reg = registration(6, &again);
        reg.actor = "mallory".into();
        reg.target = "mallory".into();
        let e = admit(
            &mut people.clone(),
            again.sign_entry(reg.clone()).expect("sign"),
        )
        .expect_err("revoked");
        assert!(e.contains("was revoked"), "{e}");
        let e = people
            .clone()
            .admit(&reg.to_line().expect("line"), &reg)
            .expect_err("revoked, unsigned");
        assert!(e.contains("was revoked"), "{e}");
        // Bob (vouched for) revokes Ana's key and vouches for her next one.
        assert_eq!(
            admit(&mut people, revoke(6, &bob, "ana", ana.id())),
            Ok(true)
        );
        assert_eq!(admit(&mut people, vouch(7, &bob, "ana", &fake)), Ok(true));
        assert_eq!(people.people["ana"].vouched_by.as_deref(), Some("bob"));
    }

    #[test]
    fn look_alike_names_are_one_name_or_refused() {
        for same in [
            "Ana",
            "ANA",
            "ana ",
            " ana",
            "ａｎａ",
            "a\u{200B}na",
            "a\u{00AD}na",
        ] {
            assert_eq!(canonical(same), "ana", "{same:?}");
        }
        assert_eq!(canonical("Ana  Lima"), "ana lima");
        assert_eq!(canonical("ΣΑΣ"), canonical("σασ"));
        assert_ne!(canonical("\u{0430}na"), "ana", "Cyrillic а is no Latin a");
        for ok in [
            "ana",
            "Ana Lima",
            "ci@github",
            "ana.lima-2",
            "山田太郎",
            "やまだ山田",
            "Ζωή",
            "José",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok:?}");
        }
        let e = check_name("\u{0430}na").expect_err("mixed");
        assert!(
            e.contains("it mixes scripts") && e.contains("Cyrillic") && e.contains("Latin"),
            "{e}"
        );
        for hidden in [
            "a\u{200B}na",
            "a\u{00A0}na",
            "ana\u{202E}",
            "a\u{E000}na",
            "a\tna",
        ] {
            let e = check_name(hidden).expect_err(hidden);
            assert!(e.contains("cannot have a key"), "{e}");
        }
        assert!(check_name("ana ").is_err());

        // Ana has a key: her name in any look-alike form needs it.
        let dir = tempfile::tempdir().expect("dir");
        let ana = Signer::create(dir.path(), "ana").expect("key");
        let mut people = People::default();
        let (reg, line) = ana.sign_entry(registration(1, &ana)).expect("sign");
        assert_eq!(people.admit(&line, &reg), Ok(true));
        for actor in ["Ana", "ana ", "ａｎａ", "a\u{200B}na (task build)"] {
            let e = entry(2, actor, "checklist.tick", "x");
            let why = people
                .clone()
                .admit(&e.to_line().expect("line"), &e)
                .expect_err(actor);
            assert!(why.contains("is not signed by"), "{actor:?}: {why}");
        }
        // Signed by her key under another spelling: hers.
        let (e, line) = ana
            .sign_entry(entry(2, "Ana", "checklist.tick", "x"))
            .expect("sign");
        assert_eq!(people.clone().admit(&line, &e), Ok(true));
        // A name of mixed scripts is refused, even unsigned.
        let e = entry(2, "\u{0430}na", "checklist.tick", "x");
        let why = people
            .clone()
            .admit(&e.to_line().expect("line"), &e)
            .expect_err("mixed scripts");
        assert!(why.contains("could be taken for another"), "{why}");
        // "ANA" registering a key of its own is a replacement of Ana's: refused without hers.
        let other = Signer::create(dir.path(), "ANA").expect("key");
        let (e, line) = other.sign_entry(registration(2, &other)).expect("sign");
        assert!(people.clone().admit(&line, &e).is_err());
        assert_eq!(people.standing("ANA"), people.standing("ana"));
    }

    #[test]
    fn values_that_name_another_person_are_found_at_any_depth() {
        let mut e = entry(7, "mallory (task build)", "checklist.tick", "x");
        e.after = serde_json::json!({
            "by": "ana", "note": "by ana", "record": {"created_by": "Bob", "acked_by": "Mallory"},
            "list": [{"resolved_by": "ci"}], "nearby": "zed", "by_count": 3
        });
        let found: Vec<(String, String)> = names_others(&e)
            .into_iter()
            .map(|n| (n.field, n.names))
            .collect();
        assert_eq!(
            found,
            [
                ("by".to_owned(), "ana".to_owned()),
                ("list[0].resolved_by".to_owned(), "ci".to_owned()),
                ("record.created_by".to_owned(), "Bob".to_owned()),
            ]
        );
        let n = &names_others(&e)[0];
        assert_eq!(
            n.to_string(),
            "entry #7 is by mallory (task build) but its `by` says \"ana\": the entry's actor is \
             who did it"
        );
    }
}
