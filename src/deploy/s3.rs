//! An S3-compatible store (AWS, `SeaweedFS`, `MinIO`, R2): requests signed with `SigV4` in
//! headers ([`crate::net::sigv4`]) and sent with our reqwest.
//!
//! Every upload carries `x-amz-checksum-sha256` and the payload's SHA-256 in the signature, so
//! the server refuses bytes that are not the announced ones. Files from
//! `[publish] multipart_threshold_mib` up go as multipart uploads: parts read from disk one at
//! a time (never the whole file in memory), hashed, and sent several at once. An unfinished
//! upload is remembered in `publish/uploads.json`; the next run lists the parts the server
//! holds and sends only the others. A multipart object's stored checksum is S3's composite
//! (the SHA-256 of the parts' SHA-256s, `-N`), which is checked against the same composite of
//! the local file.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::store::{
    Holds, LocalFile, Meta, ObjectStore, Put, StoreError, Stored, blocking, reporting,
};
use crate::digest::Sha256;
use crate::net::multipart::{self, PartInfo};
use crate::net::s3::{Body, Client, Endpoint, Failure};
use crate::net::sigv4::Credentials;

/// A part or a whole object may take this long.
const TRANSFER_TIMEOUT: Duration = Duration::from_mins(30);
/// Memory the parts being read and sent may take.
pub const PARTS_MEMORY: u64 = 40 * 1024 * 1024;
/// S3's smallest part (but the last).
const MIN_PART: u64 = 5 * 1024 * 1024;
/// S3's most parts per upload.
const MAX_PARTS: u64 = 10_000;

/// How an S3 store is reached.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `http(s)://host[:port]`, no path; for AWS `https://s3.{region}.amazonaws.com`.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// `https://host/bucket/key` (`SeaweedFS`, `MinIO`) rather than `https://bucket.host/key`.
    pub path_style: bool,
    pub credentials: Credentials,
    pub part_size: u64,
    pub multipart_threshold: u64,
    /// Parts sent at once.
    pub parallel_parts: usize,
    /// Where unfinished multipart uploads are remembered.
    pub uploads_state: PathBuf,
    /// The variables the access key and the secret came from, for messages.
    pub key_vars: (String, String),
}

/// An unfinished multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    upload_id: String,
    /// Of the whole file, hex.
    sha256: String,
    part_size: u64,
    size: u64,
}

/// `publish/uploads.json`: unfinished multipart uploads by bucket and key.
type PendingUploads = BTreeMap<String, Pending>;

/// An S3 bucket as an object store.
#[derive(Debug)]
pub struct S3Store {
    cfg: S3Config,
    client: Client,
    /// The composite checksum of each multipart object this store uploaded, by key.
    composites: Mutex<HashMap<String, String>>,
    /// What the last multipart upload did (parts sent and already there), for the log.
    notes: Mutex<Vec<String>>,
}

impl S3Store {
    pub fn new(cfg: S3Config) -> Result<Self, StoreError> {
        let client = Client::new(
            Endpoint {
                url: cfg.endpoint.clone(),
                bucket: cfg.bucket.clone(),
                region: cfg.region.clone(),
                path_style: cfg.path_style,
                credentials: cfg.credentials.clone(),
            },
            TRANSFER_TIMEOUT,
        )
        .map_err(|e| StoreError::Config(format!("[publish] {e}")))?;
        let mut cfg = cfg;
        client.url().clone_into(&mut cfg.endpoint);
        Ok(Self {
            cfg,
            client,
            composites: Mutex::new(HashMap::new()),
            notes: Mutex::new(Vec::new()),
        })
    }

    /// The part size a file of `size` bytes is sent in: the configured one, grown so that the
    /// parts stay within S3's 10 000.
    pub fn part_size_for(&self, size: u64) -> u64 {
        let mut part = self.cfg.part_size.max(MIN_PART);
        while size.div_ceil(part) > MAX_PARTS {
            part *= 2;
        }
        part
    }

    /// Turns a failure of `what` on `key` into a [`StoreError`] that names them.
    fn fail(&self, what: &str, key: &str, f: Failure) -> StoreError {
        match f {
            Failure::Status {
                status,
                code,
                message,
            } => {
                let (access_var, secret_var) = &self.cfg.key_vars;
                let hint = match code.as_str() {
                    "SignatureDoesNotMatch" => format!(
                        " (check the secret key in ${secret_var}, [publish] secret_key_env)"
                    ),
                    "InvalidAccessKeyId" => format!(
                        " (check the access key in ${access_var}, [publish] access_key_env)"
                    ),
                    // A HEAD answer has no body to say why.
                    "" if status == 403 => format!(
                        "Forbidden: the server refused the request (check the access key in \
                         ${access_var} and the secret key in ${secret_var}, [publish] \
                         access_key_env and secret_key_env, and that the key may use this bucket)"
                    ),
                    "" if status == 404 => "Not Found".to_owned(),
                    "NoSuchBucket" => format!(" (create the bucket {:?} first)", self.cfg.bucket),
                    "AccessDenied" => " (the key may not write this bucket)".to_owned(),
                    _ => String::new(),
                };
                StoreError::Server {
                    what: format!("{what} {}", self.client.where_(key)),
                    status,
                    code,
                    message: format!("{message}{hint}"),
                }
            }
            Failure::Network(detail) => StoreError::Network {
                what: format!(
                    "{what} {} at {}",
                    self.client.where_(key),
                    self.cfg.endpoint
                ),
                detail,
            },
        }
    }

    async fn head_async(&self, key: &str) -> Result<Option<HeadInfo>, StoreError> {
        let headers = vec![("x-amz-checksum-mode".into(), "ENABLED".into())];
        match self
            .client
            .send_empty(Method::HEAD, key, &[], headers)
            .await
        {
            Ok(resp) => {
                let h = resp.headers();
                let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
                Ok(Some(HeadInfo {
                    // The header itself: reqwest gives a HEAD's (empty) body length.
                    size: get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    checksum: get("x-amz-checksum-sha256"),
                    part_size: get("x-amz-meta-part-size").and_then(|v| v.parse().ok()),
                }))
            }
            Err(Failure::Status { status: 404, .. }) => Ok(None),
            Err(f) => Err(self.fail("HEAD", key, f)),
        }
    }

    /// One `PUT`; with `create`, `If-None-Match: *`, which the server answers 412 when the key
    /// holds an object (AWS S3 documents it; `SeaweedFS` 4.48 and moto 5.2, the servers the
    /// tests run, answer so too).
    async fn put_single(
        &self,
        key: &str,
        body: Body,
        sha256_hex: &str,
        meta: &Meta,
        create: bool,
    ) -> Result<(), StoreError> {
        let mut headers = vec![
            ("content-type".into(), meta.content_type.clone()),
            ("cache-control".into(), meta.cache_control.clone()),
            ("x-amz-checksum-sha256".into(), b64_of_hex(sha256_hex)?),
        ];
        if create {
            headers.push(("if-none-match".into(), "*".into()));
        }
        self.client
            .send(Method::PUT, Some(key), &[], headers, sha256_hex, body)
            .await
            .map_err(|f| self.put_failure(key, sha256_hex, f))?;
        Ok(())
    }

    fn put_failure(&self, key: &str, expected: &str, f: Failure) -> StoreError {
        match &f {
            Failure::Status { status: 412, .. } => StoreError::Exists {
                key: key.to_owned(),
            },
            Failure::Status { code, .. }
                if code == "BadDigest" || code == "XAmzContentSHA256Mismatch" =>
            {
                StoreError::Rejected {
                    key: key.to_owned(),
                    expected: expected.to_owned(),
                    detail: self.fail("PUT", key, f).to_string(),
                }
            }
            _ => self.fail("PUT", key, f),
        }
    }

    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<BTreeMap<u64, PartInfo>>, StoreError> {
        let mut parts = BTreeMap::new();
        let mut marker = String::new();
        loop {
            let mut q = vec![("uploadId", upload_id), ("max-parts", "1000")];
            if !marker.is_empty() {
                q.push(("part-number-marker", marker.as_str()));
            }
            let resp = match self
                .client
                .send_empty(Method::GET, key, &q, Vec::new())
                .await
            {
                Ok(r) => r,
                Err(Failure::Status { status: 404, .. }) => return Ok(None),
                Err(f) => return Err(self.fail("list the parts of", key, f)),
            };
            let doc = self.xml_of(resp, "list the parts of", key).await?;
            for p in doc.all("Part") {
                let n: u64 = p
                    .text_of("PartNumber")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if n == 0 {
                    continue;
                }
                parts.insert(
                    n,
                    PartInfo {
                        size: p.text_of("Size").and_then(|v| v.parse().ok()).unwrap_or(0),
                        etag: p.text_of("ETag").unwrap_or_default().to_owned(),
                        checksum: p
                            .text_of("ChecksumSHA256")
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned),
                    },
                );
            }
            let truncated = doc.text_of("IsTruncated") == Some("true");
            // Only a marker past the last one and within S3's parts goes on: a server whose
            // markers go back (or on for ever) would be asked again for ever. The parts it did
            // not list are sent again.
            let last: u64 = marker.parse().unwrap_or(0);
            match doc.text_of("NextPartNumberMarker") {
                Some(next)
                    if truncated
                        && next.parse::<u64>().is_ok_and(|n| n > last && n < MAX_PARTS) =>
                {
                    next.clone_into(&mut marker);
                }
                _ => break,
            }
        }
        Ok(Some(parts))
    }

    async fn xml_of(
        &self,
        resp: reqwest::Response,
        what: &str,
        key: &str,
    ) -> Result<crate::net::xml::Element, StoreError> {
        let text = crate::net::read_body(resp, crate::net::MAX_BODY_BYTES)
            .await
            .map_err(|e| StoreError::Network {
                what: format!("{what} {}", self.client.where_(key)),
                detail: e.to_string(),
            })?;
        let doc = crate::net::xml::parse(&text).map_err(|e| StoreError::Network {
            what: format!("{what} {}", self.client.where_(key)),
            detail: format!("the answer is not S3's XML: {e}"),
        })?;
        if doc.name == "Error" {
            // CompleteMultipartUpload may answer 200 with an error inside.
            return Err(StoreError::Server {
                what: format!("{what} {}", self.client.where_(key)),
                status: 200,
                code: doc.text_of("Code").unwrap_or_default().to_owned(),
                message: doc.text_of("Message").unwrap_or_default().to_owned(),
            });
        }
        Ok(doc)
    }

    fn pending(&self) -> Result<PendingUploads, StoreError> {
        Ok(crate::store::read_json(&self.cfg.uploads_state)?.unwrap_or_default())
    }

    fn set_pending(&self, key: &str, p: Option<Pending>) -> Result<(), StoreError> {
        let id = format!("{}/{key}", self.cfg.bucket);
        crate::store::update_json(&self.cfg.uploads_state, |all: &mut PendingUploads| {
            match p {
                Some(p) => all.insert(id, p),
                None => all.remove(&id),
            };
            Ok::<_, crate::store::StateError>(())
        })
        .map_err(StoreError::State)
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        if let Err(f) = multipart::abort(&self.client, key, upload_id).await {
            tracing::warn!("{}", self.fail("abort the upload of", key, f));
        }
    }

    /// A multipart upload's failure as a [`StoreError`] naming `key`.
    fn multipart_error(&self, key: &str, e: multipart::Error) -> StoreError {
        match e {
            multipart::Error::Io { what, path, cause } => StoreError::Io { what, path, cause },
            multipart::Error::Request { what, failure } => self.fail(what, key, failure),
            multipart::Error::Part {
                sha256, failure, ..
            } => self.put_failure(key, &sha256, failure),
            multipart::Error::Answer { what, detail } => StoreError::Network {
                what: format!("{what} {}", self.client.where_(key)),
                detail,
            },
            multipart::Error::InAnswer {
                what,
                code,
                message,
            } => StoreError::Server {
                what: format!("{what} {}", self.client.where_(key)),
                status: 200,
                code,
                message,
            },
            multipart::Error::Exists => StoreError::Exists {
                key: key.to_owned(),
            },
            multipart::Error::BadDigest { expected, got } => StoreError::BadDigest {
                key: key.to_owned(),
                expected,
                got,
            },
            multipart::Error::Stopped { what, cause } => StoreError::Stopped { what, cause },
        }
    }

    /// Starts a multipart upload, or finds the unfinished one of the same file.
    async fn start_or_resume(
        &self,
        key: &str,
        sha256: &str,
        size: u64,
        part_size: u64,
        meta: &Meta,
    ) -> Result<(String, BTreeMap<u64, PartInfo>), StoreError> {
        let id = format!("{}/{key}", self.cfg.bucket);
        if let Some(p) = self.pending()?.get(&id).cloned() {
            if p.sha256 == sha256 && p.part_size == part_size && p.size == size {
                if let Some(parts) = self.list_parts(key, &p.upload_id).await? {
                    return Ok((p.upload_id, parts));
                }
            } else {
                self.abort(key, &p.upload_id).await;
            }
            self.set_pending(key, None)?;
        }
        let headers = vec![
            ("content-type".into(), meta.content_type.clone()),
            ("cache-control".into(), meta.cache_control.clone()),
            ("x-amz-checksum-algorithm".into(), "SHA256".into()),
            ("x-amz-meta-part-size".into(), part_size.to_string()),
            ("x-amz-meta-sha256".into(), sha256.to_owned()),
        ];
        let upload_id = multipart::start(&self.client, key, headers)
            .await
            .map_err(|e| self.multipart_error(key, e))?;
        self.set_pending(
            key,
            Some(Pending {
                upload_id: upload_id.clone(),
                sha256: sha256.to_owned(),
                part_size,
                size,
            }),
        )?;
        Ok((upload_id, BTreeMap::new()))
    }

    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        sha256: &str,
        size: u64,
        meta: &Meta,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        // Nothing is sent for a key that is taken; the condition on the completion below keeps
        // a key created meanwhile (for what each server guarantees, see there).
        if self.head_async(key).await?.is_some() {
            return Err(StoreError::Exists {
                key: key.to_owned(),
            });
        }
        // One console at a time sends a key's parts: a second one would find the first one's
        // unfinished upload in the state, send the same parts into it again, and one of the two
        // completions would fail.
        let dir = self
            .cfg
            .uploads_state
            .parent()
            .unwrap_or_else(|| Path::new("."));
        let id = format!("{}/{key}", self.cfg.bucket);
        let name = format!("upload-{}", &crate::sha256_hex(id.as_bytes())[..16]);
        let Some(_uploading) = crate::store::try_lock(dir, &name)? else {
            return Err(StoreError::Busy {
                key: key.to_owned(),
                lock: dir.join(format!(".{name}.lock")),
            });
        };
        let part_size = self.part_size_for(size);
        let (upload_id, held) = self
            .start_or_resume(key, sha256, size, part_size, meta)
            .await?;
        let parts = multipart::Parts {
            path,
            size,
            sha256,
            part_size,
            parallel: self.cfg.parallel_parts,
            held: &held,
            progress,
        };
        let sent = match multipart::send_parts(&self.client, key, &upload_id, parts).await {
            Ok(sent) => sent,
            Err(e @ multipart::Error::BadDigest { .. }) => {
                // The file is not the one announced: its upload is of no use.
                self.abort(key, &upload_id).await;
                self.set_pending(key, None)?;
                return Err(self.multipart_error(key, e));
            }
            // The parts sent stay for the next run, which sends only the others.
            Err(e) => return Err(self.multipart_error(key, e)),
        };
        // Completed with `If-None-Match: *` (see `multipart::complete` for what each server
        // guarantees): `publish` checks every object's stored checksum after its uploads and
        // is red when it is not its own.
        let composite = match multipart::complete(&self.client, key, &upload_id, &sent.parts).await
        {
            Ok(c) => c,
            Err(multipart::Error::Exists) => {
                self.abort(key, &upload_id).await;
                self.set_pending(key, None)?;
                return Err(StoreError::Exists {
                    key: key.to_owned(),
                });
            }
            Err(e @ multipart::Error::BadDigest { .. }) => {
                self.set_pending(key, None)?;
                return Err(self.multipart_error(key, e));
            }
            Err(e) => return Err(self.multipart_error(key, e)),
        };
        self.set_pending(key, None)?;
        if let Ok(mut c) = self.composites.lock() {
            c.insert(key.to_owned(), composite);
        }
        let (kept, count, sent) = (sent.kept, sent.count, sent.sent);
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(if kept > 0 {
                format!(
                    "{key}: resumed the unfinished upload: {kept} of {count} parts were already \
                     stored, sent the other {sent}"
                )
            } else {
                format!(
                    "{key}: sent in {count} parts of {} MiB",
                    part_size / (1024 * 1024)
                )
            });
        }
        Ok(())
    }

    /// The composite checksum of the file at `path` sent in parts of `part_size`.
    fn composite_of(path: &Path, part_size: u64) -> Result<String, StoreError> {
        let mut f = std::fs::File::open(path).map_err(|e| StoreError::Io {
            what: "open",
            path: path.to_owned(),
            cause: e,
        })?;
        let mut all = Vec::new();
        let mut count = 0u64;
        let mut aligned = crate::verify::hash::AlignedBuf::new();
        let buf = aligned.bytes_mut();
        loop {
            let mut part = sha2::Sha256::new();
            let mut left = part_size;
            let mut any = false;
            while left > 0 {
                let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                let n = f.read(&mut buf[..want]).map_err(|e| StoreError::Io {
                    what: "read",
                    path: path.to_owned(),
                    cause: e,
                })?;
                if n == 0 {
                    break;
                }
                any = true;
                part.update(&buf[..n]);
                left -= n as u64;
            }
            if !any {
                break;
            }
            all.extend_from_slice(&part.finalize());
            count += 1;
            if left > 0 {
                break;
            }
        }
        Ok(format!(
            "{}-{count}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&all))
        ))
    }
}

/// What HEAD tells.
#[derive(Debug)]
struct HeadInfo {
    size: u64,
    checksum: Option<String>,
    part_size: Option<u64>,
}

fn b64_of_hex(hex: &str) -> Result<String, StoreError> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes {
        Some(b) if b.len() == 32 => Ok(base64::engine::general_purpose::STANDARD.encode(b)),
        _ => Err(StoreError::Config(format!(
            "{hex:?} is not a SHA-256 in hex"
        ))),
    }
}

fn hex_of_b64(b64: &str) -> Option<Sha256> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(Sha256::from)
}

impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        format!("s3://{} at {}", self.cfg.bucket, self.cfg.endpoint)
    }

    async fn head(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let info = self.head_async(key).await?;
        Ok(info.map(|i| Stored {
            size: i.size,
            sha256: i.checksum.as_deref().and_then(hex_of_b64),
        }))
    }

    async fn holds(&self, key: &str, file: LocalFile<'_>) -> Result<Holds, StoreError> {
        let (path, sha256, size) = (file.path, file.sha256, file.size);
        let Some(info) = self.head_async(key).await? else {
            return Ok(Holds::Missing);
        };
        if info.size != size {
            return Ok(Holds::Different(format!("{} bytes, not {size}", info.size)));
        }
        let Some(checksum) = info.checksum else {
            return Ok(Holds::Different("no stored SHA-256 checksum".into()));
        };
        if let Some((_, n)) = checksum.rsplit_once('-') {
            let known = self
                .composites
                .lock()
                .ok()
                .and_then(|c| c.get(key).cloned());
            let expected = if let Some(c) = known {
                c
            } else {
                let Some(part_size) = info.part_size else {
                    return Ok(Holds::Different(format!(
                        "a multipart checksum ({checksum}) of unknown part size"
                    )));
                };
                // What the server says (its metadata) is checked against the file before the
                // file is read in parts of that size: a part size of a few bytes would read it
                // a few bytes at a time and keep a digest of every part.
                let parts = n.parse::<u64>().ok();
                if part_size == 0
                    || parts.is_none_or(|n| n > MAX_PARTS || n != size.div_ceil(part_size).max(1))
                {
                    return Ok(Holds::Different(format!(
                        "a multipart checksum ({checksum}) whose {n} parts of {part_size} bytes \
                         (x-amz-meta-part-size) do not fit a file of {size} bytes sent in at most \
                         {MAX_PARTS} parts"
                    )));
                }
                // The whole file is read: on the blocking pool.
                let owned = path.to_owned();
                blocking(path, move || Self::composite_of(&owned, part_size)).await?
            };
            return Ok(if expected == checksum {
                Holds::Same
            } else {
                Holds::Different(format!(
                    "composite SHA-256 {checksum} of {n} parts, not {expected}"
                ))
            });
        }
        Ok(match hex_of_b64(&checksum) {
            Some(h) if h == *sha256 => Holds::Same,
            Some(h) => Holds::Different(format!("SHA-256 {h}")),
            None => Holds::Different(format!("an unreadable checksum {checksum:?}")),
        })
    }

    async fn put_file(&self, key: &str, put: Put<'_>) -> Result<(), StoreError> {
        let (path, sha256, meta, progress) =
            (put.file.path, put.file.sha256, put.meta, put.progress);
        let sha256 = &sha256.to_string();
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| StoreError::Io {
                what: "stat",
                path: path.to_owned(),
                cause: e,
            })?
            .len();
        if size >= self.cfg.multipart_threshold {
            return self
                .put_multipart(key, path, sha256, size, meta, progress)
                .await;
        }
        // The body is streamed by the HTTP client, which wants a 'static callback: the bytes
        // sent come over an atomic.
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let body = Body::File {
            path: path.to_owned(),
            sent: {
                let seen = seen.clone();
                Arc::new(move |n| seen.store(n, std::sync::atomic::Ordering::Relaxed))
            },
        };
        reporting(
            self.put_single(key, body, sha256, meta, true),
            &seen,
            progress,
        )
        .await
    }

    async fn put_bytes(&self, key: &str, bytes: &[u8], meta: &Meta) -> Result<Stored, StoreError> {
        let sha = Sha256::of(bytes);
        self.put_single(
            key,
            Body::Bytes(bytes::Bytes::copy_from_slice(bytes)),
            &sha.to_string(),
            meta,
            false,
        )
        .await?;
        Ok(Stored {
            size: bytes.len() as u64,
            sha256: Some(sha),
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .client
            .send_empty(Method::GET, key, &[], Vec::new())
            .await
        {
            Ok(resp) => {
                let text = crate::net::read_body(resp, crate::net::MAX_BODY_BYTES)
                    .await
                    .map_err(|e| StoreError::Network {
                        what: format!("GET {}", self.client.where_(key)),
                        detail: e.to_string(),
                    })?;
                Ok(Some(text.into_bytes()))
            }
            Err(Failure::Status { status: 404, .. }) => Ok(None),
            Err(f) => Err(self.fail("GET", key, f)),
        }
    }

    fn url(&self, key: &str) -> String {
        self.client.object_url(key)
    }

    fn take_notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_checksums_hash_the_parts_hashes() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("f");
        let data: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&f, &data).expect("write");
        let mut all = Vec::new();
        for chunk in data.chunks(1000) {
            all.extend_from_slice(&sha2::Sha256::digest(chunk));
        }
        let want = format!(
            "{}-3",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&all))
        );
        assert_eq!(S3Store::composite_of(&f, 1000).expect("composite"), want);
        assert!(
            S3Store::composite_of(&f, 2500)
                .expect("one")
                .ends_with("-1")
        );
    }

    /// A loopback server that answers each request (its text) with what `answer` makes of it;
    /// returns its URL.
    async fn serve(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut req = [0u8; 8192];
                    let n = sock.read(&mut req).await.unwrap_or(0);
                    let reply = answer(&String::from_utf8_lossy(&req[..n]));
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        url
    }

    /// A server whose part lists are always truncated, its next marker going back and forth
    /// between 1 and 2 (and counting the requests in `asked`).
    async fn looping_lister(asked: Arc<std::sync::atomic::AtomicU64>) -> String {
        serve(move |request| {
            asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let next = if request.contains("part-number-marker=1") {
                2
            } else {
                1
            };
            let body = format!(
                "<ListPartsResult><IsTruncated>true</IsTruncated>\
                 <NextPartNumberMarker>{next}</NextPartNumberMarker><Part>\
                 <PartNumber>{next}</PartNumber><Size>5</Size><ETag>\"e\"</ETag>\
                 </Part></ListPartsResult>"
            );
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        })
        .await
    }

    #[tokio::test]
    async fn a_part_list_whose_marker_goes_back_is_not_asked_for_again_for_ever() {
        let dir = tempfile::tempdir().expect("dir");
        let asked = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let url = looping_lister(asked.clone()).await;
        let store = store_at(url, dir.path());
        let parts = tokio::time::timeout(
            Duration::from_secs(20),
            store.list_parts("p/1.0.0/app.zip", "upload-1"),
        )
        .await
        .expect("the listing ended")
        .expect("listed")
        .expect("the upload is there");
        assert_eq!(parts.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(asked.load(std::sync::atomic::Ordering::Relaxed), 3);
    }

    /// A server that answers every request with `head` (a HEAD's answer: no body).
    async fn lying_server(head: String) -> String {
        serve(move |_| head.clone()).await
    }

    fn store_at(endpoint: String, state: &Path) -> S3Store {
        S3Store::new(S3Config {
            endpoint,
            bucket: "releases".into(),
            region: "us-east-1".into(),
            path_style: true,
            credentials: Credentials::new("AKID".into(), "SECRET".into(), None),
            part_size: MIN_PART,
            multipart_threshold: MIN_PART,
            parallel_parts: 2,
            uploads_state: state.join("uploads.json"),
            key_vars: ("AK".into(), "SK".into()),
        })
        .expect("store")
    }

    #[tokio::test]
    async fn a_part_size_in_metadata_that_does_not_fit_the_file_is_not_used_to_read_it() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("app.zip");
        let size: u64 = 4 << 20;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(&f, &data).expect("write");
        let sha = Sha256::of(&data);
        // A server whose metadata says parts of one byte: read so, the file would be read a
        // byte at a time and a digest kept per byte (32 times the file in memory).
        for (checksum, part_size) in [
            ("AAAA-3", "1"),
            (&*format!("AAAA-{size}"), "1"),
            ("AAAA-1", "0"),
            ("AAAA-x", "1048576"),
        ] {
            let url = lying_server(format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {size}\r\nx-amz-checksum-sha256: \
                 {checksum}\r\nx-amz-meta-part-size: {part_size}\r\nconnection: close\r\n\r\n"
            ))
            .await;
            let store = store_at(url, dir.path());
            let held = tokio::time::timeout(
                Duration::from_secs(20),
                store.holds("p/1.0.0/app.zip", LocalFile::new(&f, &sha, size)),
            )
            .await
            .expect("answered without reading the file byte by byte")
            .expect("holds");
            let Holds::Different(why) = held else {
                panic!("{checksum} of parts of {part_size}: {held:?}");
            };
            assert!(
                why.contains("do not fit a file of 4194304 bytes"),
                "{checksum} of parts of {part_size}: {why}"
            );
        }
        // Metadata that fits is used: the composite of the file read in those parts.
        let url = lying_server(format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {size}\r\nx-amz-checksum-sha256: \
             AAAA-4\r\nx-amz-meta-part-size: 1048576\r\nconnection: close\r\n\r\n"
        ))
        .await;
        let held = store_at(url, dir.path())
            .holds("p/1.0.0/app.zip", LocalFile::new(&f, &sha, size))
            .await
            .expect("holds");
        let want = S3Store::composite_of(&f, 1 << 20).expect("composite");
        assert_eq!(
            held,
            Holds::Different(format!("composite SHA-256 AAAA-4 of 4 parts, not {want}"))
        );
    }

    #[test]
    fn checksums_convert_between_hex_and_base64() {
        let hex = crate::sha256_hex(b"x");
        let b64 = b64_of_hex(&hex).expect("b64");
        assert_eq!(hex_of_b64(&b64), Some(Sha256::of(b"x")));
        assert!(b64_of_hex("zz").is_err());
    }
}
