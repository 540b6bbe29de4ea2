//! Object stores behind one small trait: `local` here, `s3` in [`super::s3`]. `local` is a
//! folder: every put streams the file, hashing it on the way, and refuses bytes whose SHA-256
//! is not the one announced (as S3 does with `x-amz-checksum-sha256`); a head re-hashes what is
//! stored. The methods are async and run on the caller's runtime (the process's one); the
//! folder's file work goes to the runtime's blocking pool. [`Store`] is the one the workspace
//! configures.
//!
//! A versioned object (an installer, its checksums) is created once and never replaced:
//! [`ObjectStore::put_file`] has create-new semantics in every store (the folder: a rename that
//! refuses an existing name; S3: `If-None-Match: *`), so two consoles cannot overwrite each
//! other either. Feeds and the page are replaced in place with [`ObjectStore::put_bytes`].

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::Digest as _;

use crate::digest::Sha256;

/// How an object is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub content_type: String,
    pub cache_control: String,
}

/// What the store holds under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// The whole object's SHA-256 as the store computed it, when it keeps one (S3 keeps a
    /// composite of the parts for a multipart object instead: see [`ObjectStore::holds`]).
    pub sha256: Option<Sha256>,
}

/// Whether the store holds a given file's bytes under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holds {
    Same,
    Missing,
    /// Something else: what.
    Different(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} {path}: {cause}")]
    Io {
        what: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The bytes sent are not the ones announced: nothing was stored.
    #[error("{key}: the bytes sent have SHA-256 {got}, not {expected}; nothing was stored")]
    BadDigest {
        key: String,
        expected: String,
        got: String,
    },
    /// Another console is uploading the key's parts now (into the same unfinished upload).
    #[error(
        "{key}: another console is uploading it now ({lock} is held); run again when it has \
         ended"
    )]
    Busy { key: String, lock: PathBuf },
    /// A create-new write found an object under the key: nothing was written.
    #[error("{key}: the store already holds an object under this key (it is never replaced)")]
    Exists { key: String },
    #[error("{0:?} is not a key this store accepts (empty, absolute, or with ..)")]
    BadKey(String),
    /// The server refused the bytes as not the announced ones: nothing was stored.
    #[error("{key}: the server refused the bytes as not those with SHA-256 {expected}: {detail}")]
    Rejected {
        key: String,
        expected: String,
        detail: String,
    },
    #[error("{what}: {status}{}: {message}", if code.is_empty() { String::new() } else { format!(" {code}") })]
    Server {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{what}: {detail}")]
    Network { what: String, detail: String },
    /// The store cannot be set up as configured (an endpoint, a bucket, its HTTP client).
    #[error("{0}")]
    Config(String),
    /// A state file of the store's own (the unfinished uploads it resumes).
    #[error(transparent)]
    State(#[from] crate::store::StateError),
    /// Work run as a task of its own (a part's upload, the file's reader) panicked or was
    /// stopped.
    #[error("{what}: {cause}")]
    Stopped {
        what: &'static str,
        cause: tokio::task::JoinError,
    },
}

/// A file on this machine as a store is to hold it: where it is, its size and its SHA-256.
#[derive(Debug, Clone, Copy)]
pub struct LocalFile<'a> {
    pub path: &'a Path,
    pub sha256: &'a Sha256,
    pub size: u64,
}

/// A file to store under a key: the file, the object's metadata, and who hears the bytes sent
/// so far.
#[derive(Clone, Copy)]
pub struct Put<'a> {
    pub file: LocalFile<'a>,
    pub meta: &'a Meta,
    pub progress: &'a (dyn Fn(u64) + Sync),
}

impl<'a> LocalFile<'a> {
    pub fn new(path: &'a Path, sha256: &'a Sha256, size: u64) -> Self {
        Self { path, sha256, size }
    }
}

impl<'a> Put<'a> {
    /// The file at `path`, its size read from the disk.
    pub fn of(
        path: &'a Path,
        sha256: &'a Sha256,
        meta: &'a Meta,
        progress: &'a (dyn Fn(u64) + Sync),
    ) -> Self {
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        Self {
            file: LocalFile::new(path, sha256, size),
            meta,
            progress,
        }
    }
}

impl std::fmt::Debug for Put<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put")
            .field("file", &self.file)
            .field("meta", self.meta)
            .finish_non_exhaustive()
    }
}

/// An object store.
pub trait ObjectStore: Send + Sync {
    /// Where it is, for messages.
    fn describe(&self) -> String;
    /// What is stored under `key`, if anything.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<Stored>, StoreError>> + Send;
    /// Whether the store holds exactly the file at `path` (of `size` bytes, SHA-256 `sha256`)
    /// under `key`, by the checksum the store itself keeps.
    fn holds(
        &self,
        key: &str,
        file: LocalFile<'_>,
    ) -> impl Future<Output = Result<Holds, StoreError>> + Send {
        let (sha256, size) = (file.sha256, file.size);
        async move {
            Ok(match self.head(key).await? {
                None => Holds::Missing,
                Some(Stored {
                    size: got,
                    sha256: Some(h),
                }) if got != size => {
                    Holds::Different(format!("SHA-256 {h} ({got} bytes, not {size})"))
                }
                Some(s) if s.size != size => {
                    Holds::Different(format!("{} bytes, not {size}", s.size))
                }
                Some(Stored {
                    sha256: Some(got), ..
                }) if got == *sha256 => Holds::Same,
                Some(Stored {
                    sha256: Some(got), ..
                }) => Holds::Different(format!("SHA-256 {got}")),
                Some(Stored { sha256: None, .. }) => {
                    Holds::Different("no stored SHA-256 checksum".into())
                }
            })
        }
    }
    /// Creates the object `key` from the file at `path`, streamed; refuses it unless its SHA-256
    /// is `sha256`. Never replaces: when the key already holds an object, nothing is written and
    /// the answer is [`StoreError::Exists`]. `progress` hears the bytes sent so far.
    fn put_file(
        &self,
        key: &str,
        put: Put<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores `bytes` under `key`, replacing what is there (feeds, the page).
    fn put_bytes(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &Meta,
    ) -> impl Future<Output = Result<Stored, StoreError>> + Send;
    /// The object under `key`, if any.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// The store's own link to `key`.
    fn url(&self, key: &str) -> String;
    /// What the uploads since the last call did that a log should say (parts resumed).
    fn take_notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The store `[publish] store` selects.
#[derive(Debug)]
pub enum Store {
    Local(LocalStore),
    S3(Box<super::s3::S3Store>),
}

impl ObjectStore for Store {
    fn describe(&self) -> String {
        match self {
            Store::Local(s) => s.describe(),
            Store::S3(s) => s.describe(),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        match self {
            Store::Local(s) => s.head(key).await,
            Store::S3(s) => s.head(key).await,
        }
    }

    async fn holds(&self, key: &str, file: LocalFile<'_>) -> Result<Holds, StoreError> {
        match self {
            Store::Local(s) => s.holds(key, file).await,
            Store::S3(s) => s.holds(key, file).await,
        }
    }

    async fn put_file(&self, key: &str, put: Put<'_>) -> Result<(), StoreError> {
        match self {
            Store::Local(s) => s.put_file(key, put).await,
            Store::S3(s) => s.put_file(key, put).await,
        }
    }

    async fn put_bytes(&self, key: &str, bytes: &[u8], meta: &Meta) -> Result<Stored, StoreError> {
        match self {
            Store::Local(s) => s.put_bytes(key, bytes, meta).await,
            Store::S3(s) => s.put_bytes(key, bytes, meta).await,
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Local(s) => s.get(key).await,
            Store::S3(s) => s.get(key).await,
        }
    }

    fn url(&self, key: &str) -> String {
        match self {
            Store::Local(s) => s.url(key),
            Store::S3(s) => s.url(key),
        }
    }

    fn take_notes(&self) -> Vec<String> {
        match self {
            Store::Local(s) => s.take_notes(),
            Store::S3(s) => s.take_notes(),
        }
    }
}

/// Runs blocking file work on the runtime's blocking pool (of the file at `path`); a panic in
/// it goes on in the caller.
pub(super) fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> impl Future<Output = Result<T, StoreError>> + Send + 'static {
    let path = path.to_owned();
    async move {
        match tokio::task::spawn_blocking(work).await {
            Ok(r) => r,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(io("work on", &path)(std::io::Error::other(e.to_string()))),
            },
        }
    }
}

/// Drives `work` to its end, telling `progress` the bytes `seen` counts every 200 ms and once
/// at the end (the work cannot call a callback borrowed from its caller: it runs elsewhere).
pub(super) async fn reporting<T>(
    work: impl Future<Output = T>,
    seen: &AtomicU64,
    progress: &(dyn Fn(u64) + Sync),
) -> T {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            r = &mut work => {
                progress(seen.load(Ordering::Relaxed));
                return r;
            }
            _ = tick.tick() => progress(seen.load(Ordering::Relaxed)),
        }
    }
}

/// A folder as an object store.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |cause| StoreError::Io {
        what,
        path: path.to_owned(),
        cause,
    }
}

impl LocalStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let bad = key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..");
        if bad {
            return Err(StoreError::BadKey(key.to_owned()));
        }
        Ok(self.root.join(key))
    }

    /// Streams `from` into a temporary file beside `dest`, hashing it; renames it into place
    /// only when the hash is `expected`. With `create`, the rename refuses an existing `dest`
    /// (`renameat2(RENAME_NOREPLACE)`, or link and unlink): of two writers, one wins.
    fn store(
        &self,
        key: &str,
        dest: &Path,
        from: &mut dyn std::io::Read,
        expected: Option<&Sha256>,
        create: bool,
        progress: &dyn Fn(u64),
    ) -> Result<Stored, StoreError> {
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        // Published files are for everyone to download: readable by all (as the umask allows),
        // where a temporary file would be the owner's only.
        #[cfg(unix)]
        let builder = {
            let mut b = tempfile::Builder::new();
            b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
            b
        };
        #[cfg(not(unix))]
        let builder = tempfile::Builder::new();
        let mut tmp = builder
            .tempfile_in(dir)
            .map_err(io("create a temporary file in", dir))?;
        let mut hasher = sha2::Sha256::new();
        let mut aligned = crate::verify::hash::AlignedBuf::new();
        let buf = aligned.bytes_mut();
        let mut size = 0u64;
        loop {
            let n = from.read(buf).map_err(io("read for", dest))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(io("write", tmp.path()))?;
            size += n as u64;
            progress(size);
        }
        let got = Sha256::from_output(hasher.finalize());
        if let Some(expected) = expected
            && got != *expected
        {
            return Err(StoreError::BadDigest {
                key: key.to_owned(),
                expected: expected.to_string(),
                got: got.to_string(),
            });
        }
        tmp.as_file().sync_all().map_err(io("sync", tmp.path()))?;
        let persisted = if create {
            tmp.persist_noclobber(dest)
        } else {
            tmp.persist(dest)
        };
        persisted.map_err(|e| {
            if create && e.error.kind() == std::io::ErrorKind::AlreadyExists {
                StoreError::Exists {
                    key: key.to_owned(),
                }
            } else {
                StoreError::Io {
                    what: "rename into",
                    path: dest.to_owned(),
                    cause: e.error,
                }
            }
        })?;
        Ok(Stored {
            size,
            sha256: Some(got),
        })
    }
}

fn sha256_of(path: &Path) -> Result<Stored, StoreError> {
    let size = std::sync::atomic::AtomicU64::new(0);
    let digest =
        crate::verify::hash::hash_file(path, &size, &tokio_util::sync::CancellationToken::new())
            .map_err(|e| match e {
                crate::verify::hash::HashError::Io { cause, .. } => io("read", path)(cause),
                crate::verify::hash::HashError::Cancelled => {
                    io("read", path)(std::io::Error::other("cancelled"))
                }
            })?;
    Ok(Stored {
        size: size.into_inner(),
        sha256: Some(Sha256::from(digest)),
    })
}

impl ObjectStore for LocalStore {
    fn describe(&self) -> String {
        format!("the folder {}", self.root.display())
    }

    async fn head(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let path = self.path(key)?;
        blocking(&path.clone(), move || {
            if !path.is_file() {
                return Ok(None);
            }
            sha256_of(&path).map(Some)
        })
        .await
    }

    async fn put_file(&self, key: &str, put: Put<'_>) -> Result<(), StoreError> {
        let (path, sha256, progress) = (put.file.path, put.file.sha256, put.progress);
        let dest = self.path(key)?;
        let seen = Arc::new(AtomicU64::new(0));
        let work = {
            let (this, key, path, sha256) = (
                self.clone(),
                key.to_owned(),
                path.to_owned(),
                sha256.to_owned(),
            );
            let seen = seen.clone();
            blocking(&dest.clone(), move || {
                // Not streamed in vain when the key is taken; the rename below is what
                // guarantees it.
                if std::fs::symlink_metadata(&dest).is_ok() {
                    return Err(StoreError::Exists { key });
                }
                let mut from = std::fs::File::open(&path).map_err(io("open", &path))?;
                this.store(&key, &dest, &mut from, Some(&sha256), true, &|n| {
                    seen.store(n, Ordering::Relaxed);
                })
                .map(|_| ())
            })
        };
        reporting(work, &seen, progress).await
    }

    async fn put_bytes(&self, key: &str, bytes: &[u8], _meta: &Meta) -> Result<Stored, StoreError> {
        let dest = self.path(key)?;
        let expected = Sha256::of(bytes);
        let (this, key, bytes) = (self.clone(), key.to_owned(), bytes.to_vec());
        blocking(&dest.clone(), move || {
            this.store(
                &key,
                &dest,
                &mut &bytes[..],
                Some(&expected),
                false,
                &|_| {},
            )
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        blocking(&path.clone(), move || match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        })
        .await
    }

    fn url(&self, key: &str) -> String {
        let path = self.root.join(key);
        let abs = std::path::absolute(&path).unwrap_or(path);
        format!("file://{}", percent_path(&abs.to_string_lossy()))
    }
}

/// Percent-encodes what a URL path may not hold (space, `%`, `#`, `?`, `+`, non-ASCII).
pub fn percent_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        // `+` too: S3 and CDNs read a `+` in a path as a space (`1.0.0+build.5`).
        if b.is_ascii_alphanumeric() || b"/-._~:@!$&'()*,;=".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_that_are_not_the_announced_ones_are_refused_and_nothing_is_stored() {
        let dir = tempfile::tempdir().expect("dir");
        let src = dir.path().join("app.msi");
        std::fs::write(&src, b"the installer").expect("write");
        let store = LocalStore::new(dir.path().join("store"));
        let meta = Meta {
            content_type: "application/x-msi".into(),
            cache_control: crate::deploy::IMMUTABLE.into(),
        };
        let wrong = Sha256::from([0; 32]);
        let e = store
            .put_file("p/1.0.0/app.msi", Put::of(&src, &wrong, &meta, &|_| {}))
            .await
            .expect_err("bad digest");
        assert!(matches!(e, StoreError::BadDigest { .. }), "{e}");
        assert_eq!(store.head("p/1.0.0/app.msi").await.expect("head"), None);
        let right = Sha256::of(b"the installer");
        store
            .put_file("p/1.0.0/app.msi", Put::of(&src, &right, &meta, &|_| {}))
            .await
            .expect("stored");
        assert_eq!(
            store.head("p/1.0.0/app.msi").await.expect("head"),
            Some(Stored {
                size: 13,
                sha256: Some(right)
            })
        );
        assert_eq!(
            store
                .holds("p/1.0.0/app.msi", LocalFile::new(&src, &right, 13))
                .await
                .expect("holds"),
            Holds::Same
        );
        assert!(matches!(
            store
                .holds("p/1.0.0/app.msi", LocalFile::new(&src, &wrong, 13))
                .await
                .expect("holds"),
            Holds::Different(_)
        ));
        assert_eq!(
            store
                .holds("p/1.0.0/other.msi", LocalFile::new(&src, &right, 13))
                .await
                .expect("holds"),
            Holds::Missing
        );
        for bad in ["", "/abs", "a/../b", "a//b"] {
            assert!(
                matches!(store.head(bad).await, Err(StoreError::BadKey(_))),
                "{bad}"
            );
        }
        assert!(store.url("p/a b.msi").ends_with("/store/p/a%20b.msi"));
        assert!(
            store
                .url("p/1.0.0+build.5/a.msi")
                .ends_with("/store/p/1.0.0%2Bbuild.5/a.msi")
        );
    }

    #[tokio::test]
    async fn a_stored_file_is_never_replaced_but_bytes_are() {
        let dir = tempfile::tempdir().expect("dir");
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::write(&one, b"first bytes").expect("write");
        std::fs::write(&two, b"other bytes").expect("write");
        let store = LocalStore::new(dir.path().join("store"));
        let meta = Meta {
            content_type: "application/x-msi".into(),
            cache_control: crate::deploy::IMMUTABLE.into(),
        };
        let key = "p/1.0.0/app.msi";
        store
            .put_file(
                key,
                Put::of(&one, &Sha256::of(b"first bytes"), &meta, &|_| {}),
            )
            .await
            .expect("created");
        let e = store
            .put_file(
                key,
                Put::of(&two, &Sha256::of(b"other bytes"), &meta, &|_| {}),
            )
            .await
            .expect_err("exists");
        assert!(matches!(e, StoreError::Exists { .. }), "{e}");
        assert_eq!(
            store.get(key).await.expect("get").as_deref(),
            Some(&b"first bytes"[..])
        );
        // The rename itself refuses: two writers that both passed the first look, one wins.
        let dest = store.path(key).expect("path");
        let e = store
            .store(key, &dest, &mut &b"other bytes"[..], None, true, &|_| {})
            .expect_err("exists");
        assert!(matches!(e, StoreError::Exists { .. }), "{e}");
        assert_eq!(
            store.get(key).await.expect("get").as_deref(),
            Some(&b"first bytes"[..])
        );
        // Feeds are replaced.
        store
            .put_bytes("p/stable/latest.json", b"1", &meta)
            .await
            .expect("put");
        store
            .put_bytes("p/stable/latest.json", b"2", &meta)
            .await
            .expect("put");
        assert_eq!(
            store
                .get("p/stable/latest.json")
                .await
                .expect("get")
                .as_deref(),
            Some(&b"2"[..])
        );
    }

    #[tokio::test]
    async fn the_folder_store_reports_every_byte_it_stored_from_its_blocking_thread() {
        let dir = tempfile::tempdir().expect("dir");
        let src = dir.path().join("big.zip");
        let data: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &data).expect("write");
        let store = LocalStore::new(dir.path().join("store"));
        let meta = Meta {
            content_type: "application/zip".into(),
            cache_control: crate::deploy::IMMUTABLE.into(),
        };
        let heard = std::sync::Mutex::new(Vec::new());
        store
            .put_file(
                "p/1.0.0/big.zip",
                Put::of(&src, &Sha256::of(&data), &meta, &|n| {
                    heard.lock().expect("heard").push(n);
                }),
            )
            .await
            .expect("stored");
        let heard = heard.into_inner().expect("heard");
        assert_eq!(heard.last(), Some(&(data.len() as u64)), "{heard:?}");
        assert!(heard.windows(2).all(|w| w[0] <= w[1]), "{heard:?}");
        assert_eq!(
            store.get("p/1.0.0/big.zip").await.expect("get").as_deref(),
            Some(&data[..])
        );
    }
}
