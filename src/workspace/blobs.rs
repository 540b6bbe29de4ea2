//! A shared workspace's large files (installers, SHA256SUMS, task logs) in its bucket by
//! content address: `PREFIX/blobs/sha256/<hex>`, so a second console fetches exactly the bytes
//! the first one stored, and nothing is stored twice.
//!
//! A blob is created with `If-None-Match: *`: a 412 means the bucket holds that key already
//! (nothing is copied twice), and it is read back (hashed, at most the size asked for) to check
//! it is the blob; other bytes are replaced only with `If-Match` on their `ETag`.
//! A file from [`MULTIPART_THRESHOLD`] up goes as a multipart upload (`net::multipart`, the
//! one publishing uses), the others as one streamed `PUT`; either way the server is told the
//! SHA-256 and refuses other bytes.
//!
//! The bucket is hostile: a download is written into a temp file in the destination folder,
//! hashed on the way, cut off as soon as it passes the size asked for, and renamed into place
//! only when its size and SHA-256 are the ones asked for; anything else is refused, naming the
//! key and the hash expected, and nothing of it is kept. A file already in place with the
//! size and SHA-256 asked for is not downloaded again.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use sha2::Digest as _;
use tokio::io::AsyncWriteExt as _;

use super::WorkspaceError;
use super::shared::{Shared, block, unreachable};
use crate::digest::Sha256;
use crate::net::multipart;
use crate::net::s3::{Body, Client, Failure};

/// Where blobs are, under the prefix.
pub const BLOBS_DIR: &str = "blobs/sha256/";
/// Files from this size up are sent as multipart uploads.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// The part size of a multipart upload (grown to stay within S3's 10,000 parts).
const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Parts read and sent at once.
const PARALLEL_PARTS: usize = 4;
/// S3's most parts per upload.
const MAX_PARTS: u64 = 10_000;
/// How long one blob's transfer (or one part's) may take.
pub(super) const TRANSFER_TIMEOUT: Duration = Duration::from_mins(30);

/// A blob: the SHA-256 and size of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob {
    pub sha256: Sha256,
    pub size: u64,
}

impl Blob {
    /// The blob of the file at `path`: its SHA-256 and size, read once.
    pub fn of_file(path: &Path) -> Result<Self, WorkspaceError> {
        let io = |action: &'static str| {
            move |cause| WorkspaceError::Io {
                path: path.to_owned(),
                action,
                cause,
            }
        };
        let mut f = std::fs::File::open(path).map_err(io("open"))?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(io("read"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok(Self {
            sha256: Sha256::from_output(hasher.finalize()),
            size,
        })
    }
}

/// What storing a blob did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Its bytes were sent.
    Uploaded,
    /// The bucket held it already (its bytes read back and hashed): nothing was sent.
    AlreadyThere,
    /// The bucket held other bytes under its name (planted, or a torn write): they were
    /// replaced with `If-Match` on their `ETag`; `found` says what they were (for the audit
    /// entry the caller records).
    Replaced { found: String },
}

/// What fetching a blob did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    Downloaded,
    /// The file in place is that blob already: nothing was downloaded.
    Cached,
}

/// The part size for a file of `size` bytes.
fn part_size_for(size: u64) -> u64 {
    let mut part = PART_SIZE;
    while size.div_ceil(part) > MAX_PARTS {
        part *= 2;
    }
    part
}

impl Shared {
    /// The key of blob `sha256`.
    pub fn blob_key(&self, sha256: &Sha256) -> String {
        self.url().key(&format!("{BLOBS_DIR}{sha256}"))
    }

    /// `s3://bucket/key` of blob `sha256`, for messages.
    pub fn blob_where(&self, sha256: &Sha256) -> String {
        self.blobs.where_(&self.blob_key(sha256))
    }

    /// Stores the file at `path`, whose bytes are `blob`, under its content address, unless
    /// the bucket holds it already. Blocks (see [`block`]).
    pub fn put_blob(&self, path: &Path, blob: Blob) -> Result<Stored, WorkspaceError> {
        if let Some(why) = self.offline() {
            return Err(WorkspaceError::Offline {
                url: self.url().to_string(),
                why,
            });
        }
        let key = self.blob_key(&blob.sha256);
        let client = self.blobs.clone();
        let (path, k) = (path.to_owned(), key.clone());
        let put = {
            let path = path.clone();
            block(async move { put(&client, &k, &path, blob).await })?
        };
        match put {
            Ok(Stored::AlreadyThere) => self.check_there(&key, &path, blob),
            Ok(stored) => Ok(stored),
            Err(PutError::Failure(what, f)) => Err(unreachable(
                self.url(),
                &format!("{what} {}", self.blobs.where_(&key)),
                &f,
            )),
            Err(PutError::Multipart(e)) => Err(WorkspaceError::Bucket {
                url: self.url().to_string(),
                message: format!("store blob {}: {e}", self.blobs.where_(&key)),
            }),
        }
    }

    /// The bucket holds an object under `key` (the blob of `path`, `blob`): read back, at most
    /// `blob.size` bytes and hashed on the way. When it is not those bytes (someone with write
    /// access planted others of the same size, say), that is said loudly, naming the key, and
    /// the object is replaced with `path`'s bytes only with `If-Match` on its `ETag` (so nothing
    /// written meanwhile is overwritten); a server that does not take that is refused, and so
    /// is the build's record.
    fn check_there(&self, key: &str, path: &Path, blob: Blob) -> Result<Stored, WorkspaceError> {
        let where_ = self.blobs.where_(key);
        let client = self.blobs.clone();
        let k = key.to_owned();
        let read = block(async move { read_back(&client, &k, blob).await })?
            .map_err(|f| unreachable(self.url(), &format!("GET {where_}"), &f))?;
        let (etag, found) = match read {
            ReadBack::Same => return Ok(Stored::AlreadyThere),
            ReadBack::Other { etag, found } => (etag, found),
        };
        tracing::error!(
            "blob {where_} in the bucket is NOT the blob of {} (expected SHA-256 {}, {} bytes): \
             {found}; replacing it",
            path.display(),
            blob.sha256,
            blob.size
        );
        let refuse = |message: String| WorkspaceError::BadBlob {
            key: where_.clone(),
            expected: blob.sha256.to_string(),
            message,
        };
        let Some(etag) = etag else {
            return Err(refuse(format!(
                "the bucket holds other bytes under this blob's name ({found}) and gives no \
                 ETag to replace them without a race: not replaced, and the build is not \
                 recorded; remove the object from the bucket"
            )));
        };
        let client = self.blobs.clone();
        let (k, p, e) = (key.to_owned(), path.to_owned(), etag.clone());
        let replaced = block(async move { replace(&client, &k, &p, blob, &e).await })?;
        match replaced {
            Ok(()) => Ok(Stored::Replaced {
                found: format!("{found} (ETag {etag})"),
            }),
            Err(Failure::Status { status: 412, .. }) => Err(refuse(format!(
                "the bucket holds other bytes under this blob's name ({found}), and they changed \
                 while they were being replaced: not replaced, and the build is not recorded"
            ))),
            Err(f) => Err(refuse(format!(
                "the bucket holds other bytes under this blob's name ({found}); replacing them \
                 only if they are still those (If-Match) failed ({f}): the server may not \
                 support it; not replaced, and the build is not recorded; remove the object \
                 from the bucket"
            ))),
        }
    }

    /// Fetches `blob` into `dest` (a file name in an existing or new folder): nothing when
    /// `dest` holds it already; else downloaded into a temp file beside it, hashed on the way,
    /// at most `blob.size` bytes read, and renamed into place only when its size and SHA-256
    /// are `blob`'s. A file at `dest` with other bytes is refused (it is not replaced).
    pub fn fetch_blob(&self, blob: Blob, dest: &Path) -> Result<Fetched, WorkspaceError> {
        let key = self.blob_where(&blob.sha256);
        if dest.exists() {
            let there = Blob::of_file(dest)?;
            if there == blob {
                return Ok(Fetched::Cached);
            }
            return Err(WorkspaceError::Refused(format!(
                "{}: it holds other bytes (SHA-256 {}, {} bytes) than blob {key} ({} bytes): \
                 not replaced; move it away to fetch the blob",
                dest.display(),
                there.sha256,
                there.size,
                blob.size
            )));
        }
        if let Some(why) = self.offline() {
            return Err(WorkspaceError::Offline {
                url: self.url().to_string(),
                why,
            });
        }
        let dir = dest.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir).map_err(|cause| WorkspaceError::Io {
            path: dir.to_owned(),
            action: "create folder",
            cause,
        })?;
        sweep_parts(dir);
        let mut temp = tempfile::Builder::new()
            .prefix(PART_PREFIX)
            .suffix(PART_SUFFIX)
            .tempfile_in(dir)
            .map_err(|cause| WorkspaceError::Io {
                path: dir.to_owned(),
                action: "create a temp file in",
                cause,
            })?;
        // Held while it is written: a sweep by another console leaves it alone.
        temp.as_file().lock().map_err(|cause| WorkspaceError::Io {
            path: temp.path().to_owned(),
            action: "lock",
            cause,
        })?;
        let file = temp
            .as_file()
            .try_clone()
            .map_err(|cause| WorkspaceError::Io {
                path: temp.path().to_owned(),
                action: "open",
                cause,
            })?;
        let client = self.blobs.clone();
        let k = self.blob_key(&blob.sha256);
        let got = block(async move { download(&client, &k, blob, file).await })?;
        let refuse = |message: String| WorkspaceError::BadBlob {
            key: key.clone(),
            expected: blob.sha256.to_string(),
            message,
        };
        match got {
            Ok(()) => {}
            Err(Download::Missing) => {
                return Err(refuse(
                    "the bucket does not hold it (the build that recorded it did not store it, \
                     or it was removed)"
                        .to_owned(),
                ));
            }
            Err(Download::Bad(message)) => return Err(refuse(message)),
            Err(Download::Failure(f)) => {
                return Err(unreachable(self.url(), &format!("GET {key}"), &f));
            }
            Err(Download::Io(cause)) => {
                return Err(WorkspaceError::Io {
                    path: temp.path().to_owned(),
                    action: "write",
                    cause,
                });
            }
        }
        temp.as_file_mut()
            .sync_all()
            .map_err(|cause| WorkspaceError::Io {
                path: temp.path().to_owned(),
                action: "sync",
                cause,
            })?;
        // Never over a file put there meanwhile: another console fetching the same blob may
        // have renamed its download into place first, which is as good.
        match temp.persist_noclobber(dest) {
            Ok(_) => Ok(Fetched::Downloaded),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                drop(e.file);
                if Blob::of_file(dest)? == blob {
                    return Ok(Fetched::Cached);
                }
                Err(WorkspaceError::Refused(format!(
                    "{}: a file with other bytes than blob {key} was put there while it was \
                     downloaded: not replaced; move it away to fetch the blob",
                    dest.display()
                )))
            }
            Err(e) => Err(WorkspaceError::Io {
                path: dest.to_owned(),
                action: "rename the downloaded blob into place as",
                cause: e.error,
            }),
        }
    }
}

/// A download's temp file is `.blob-XXXXXX.part` in the destination's folder.
const PART_PREFIX: &str = ".blob-";
const PART_SUFFIX: &str = ".part";
/// A temp file not written for this long, and not locked, is a crashed download's.
const STALE_PART: Duration = Duration::from_mins(2);

/// Removes from `dir` the temp files of downloads that crashed (a `kill -9`, a power cut
/// leave them): each `.blob-*.part` file that no process holds locked (a live download locks
/// its own) and that was not written for [`STALE_PART`] (a download that created its file
/// but has not locked it yet is younger). Best effort: what cannot be removed is left, and
/// said in the log.
fn sweep_parts(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(PART_PREFIX) && name.ends_with(PART_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        let stale = std::fs::symlink_metadata(&path).is_ok_and(|m| {
            m.is_file()
                && m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= STALE_PART)
        });
        if !stale {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        if file.try_lock().is_err() {
            tracing::debug!("{} is being written: left alone", path.display());
            continue;
        }
        // Removed while locked, so no download takes it up meanwhile.
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!("removed {}, a crashed download's", path.display()),
            Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
        }
    }
}

/// Why a blob was not stored.
enum PutError {
    /// A request (named) failed.
    Failure(&'static str, Failure),
    Multipart(multipart::Error),
}

/// Stores `path` under `key`: one `PUT` with `If-None-Match: *`, or a multipart upload
/// completed with it (after a `HEAD` that finds none there).
async fn put(client: &Client, key: &str, path: &Path, blob: Blob) -> Result<Stored, PutError> {
    let hex = blob.sha256.to_string();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(blob.sha256.as_bytes())
    };
    if blob.size < MULTIPART_THRESHOLD {
        let headers = vec![
            (
                "content-type".to_owned(),
                "application/octet-stream".to_owned(),
            ),
            ("x-amz-checksum-sha256".to_owned(), b64),
            ("if-none-match".to_owned(), "*".to_owned()),
        ];
        let body = Body::File {
            path: path.to_owned(),
            sent: std::sync::Arc::new(|_| {}),
        };
        return match client
            .send(Method::PUT, Some(key), &[], headers, &hex, body)
            .await
        {
            Ok(_) => Ok(Stored::Uploaded),
            Err(Failure::Status { status: 412, .. }) => Ok(Stored::AlreadyThere),
            Err(f) => Err(PutError::Failure("PUT", f)),
        };
    }
    match client.send_empty(Method::HEAD, key, &[], Vec::new()).await {
        Ok(_) => return Ok(Stored::AlreadyThere),
        Err(Failure::Status { status: 404, .. }) => {}
        Err(f) => return Err(PutError::Failure("HEAD", f)),
    }
    let part_size = part_size_for(blob.size);
    let headers = vec![
        (
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
        ("x-amz-checksum-algorithm".to_owned(), "SHA256".to_owned()),
        ("x-amz-meta-sha256".to_owned(), hex.clone()),
        ("x-amz-meta-part-size".to_owned(), part_size.to_string()),
    ];
    let upload_id = multipart::start(client, key, headers)
        .await
        .map_err(PutError::Multipart)?;
    let held = std::collections::BTreeMap::new();
    let parts = multipart::Parts {
        path,
        size: blob.size,
        sha256: &hex,
        part_size,
        parallel: PARALLEL_PARTS,
        held: &held,
        progress: &|_| {},
    };
    let sent = multipart::send_parts(client, key, &upload_id, parts).await;
    let done = match sent {
        Ok(sent) => multipart::complete(client, key, &upload_id, &sent.parts).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(Stored::Uploaded),
        Err(e) => {
            // No resume here: the parts sent are dropped (a next build sends the blob again).
            if let Err(f) = multipart::abort(client, key, &upload_id).await {
                tracing::warn!("abort the upload of {}: {f}", client.where_(key));
            }
            match e {
                multipart::Error::Exists => Ok(Stored::AlreadyThere),
                e => Err(PutError::Multipart(e)),
            }
        }
    }
}

/// What [`read_back`] found under a blob's key.
enum ReadBack {
    /// The blob's bytes.
    Same,
    /// Other bytes: their `ETag`, and what they are.
    Other { etag: Option<String>, found: String },
}

/// Reads the object under `key` back, hashed on the way, cut off past `blob.size` bytes.
async fn read_back(client: &Client, key: &str, blob: Blob) -> Result<ReadBack, Failure> {
    let mut resp = match client.send_empty(Method::GET, key, &[], Vec::new()).await {
        Ok(r) => r,
        Err(Failure::Status { status: 404, .. }) => {
            return Ok(ReadBack::Other {
                etag: None,
                found: "it answered 412 to the blob's creation, then 404 to reading it".to_owned(),
            });
        }
        Err(f) => return Err(f),
    };
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let other = |found: String| {
        Ok(ReadBack::Other {
            etag: etag.clone(),
            found,
        })
    };
    if let Some(len) = resp.content_length()
        && len != blob.size
    {
        return other(format!("an object of {len} bytes, not {}", blob.size));
    }
    let mut hasher = sha2::Sha256::new();
    let mut got = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Failure::Network(crate::net::describe(&e)))?
    {
        got += chunk.len() as u64;
        if got > blob.size {
            return other(format!(
                "an object larger than {} bytes (cut off after {got})",
                blob.size
            ));
        }
        hasher.update(&chunk);
    }
    let sha = Sha256::from_output(hasher.finalize());
    if got != blob.size {
        return other(format!("an object of {got} bytes, not {}", blob.size));
    }
    if sha != blob.sha256 {
        return other(format!("{got} bytes of SHA-256 {sha}"));
    }
    Ok(ReadBack::Same)
}

/// Writes `path` (the bytes of `blob`) under `key` only if the object there still has `ETag`
/// `etag`: one `PUT` with `If-Match` (the server checks the SHA-256 too).
async fn replace(
    client: &Client,
    key: &str,
    path: &Path,
    blob: Blob,
    etag: &str,
) -> Result<(), Failure> {
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(blob.sha256.as_bytes())
    };
    let headers = vec![
        (
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
        ("x-amz-checksum-sha256".to_owned(), b64),
        ("if-match".to_owned(), etag.to_owned()),
    ];
    let body = Body::File {
        path: path.to_owned(),
        sent: std::sync::Arc::new(|_| {}),
    };
    client
        .send(
            Method::PUT,
            Some(key),
            &[],
            headers,
            &blob.sha256.to_string(),
            body,
        )
        .await
        .map(|_| ())
}

/// Why a download was not kept.
enum Download {
    Missing,
    /// Not the blob asked for (the message says how).
    Bad(String),
    Failure(Failure),
    Io(std::io::Error),
}

/// Writes the object under `key` into `file`, hashed on the way; at most `blob.size` bytes
/// are read (one more byte is a refusal), and the whole must be `blob`.
async fn download(
    client: &Client,
    key: &str,
    blob: Blob,
    file: std::fs::File,
) -> Result<(), Download> {
    let mut resp = match client.send_empty(Method::GET, key, &[], Vec::new()).await {
        Ok(r) if r.status().as_u16() == 304 => {
            return Err(Download::Bad(
                "answered Not Modified to a read that named no ETag".to_owned(),
            ));
        }
        Ok(r) => r,
        Err(Failure::Status { status: 404, .. }) => return Err(Download::Missing),
        Err(f) => return Err(Download::Failure(f)),
    };
    if let Some(len) = resp.content_length()
        && len != blob.size
    {
        return Err(Download::Bad(format!(
            "the bucket announces {len} bytes, not the {} bytes recorded; not read",
            blob.size
        )));
    }
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
    let mut hasher = sha2::Sha256::new();
    let mut got = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Download::Failure(Failure::Network(crate::net::describe(&e))))?
    {
        got += chunk.len() as u64;
        if got > blob.size {
            return Err(Download::Bad(format!(
                "it is larger than the {} bytes recorded: cut off after {got} bytes",
                blob.size
            )));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(Download::Io)?;
    }
    out.flush().await.map_err(Download::Io)?;
    if got != blob.size {
        return Err(Download::Bad(format!(
            "it holds {got} bytes, not the {} bytes recorded",
            blob.size
        )));
    }
    let sha = Sha256::from_output(hasher.finalize());
    if sha != blob.sha256 {
        return Err(Download::Bad(format!(
            "its bytes have SHA-256 {sha}: not the blob recorded"
        )));
    }
    Ok(())
}
