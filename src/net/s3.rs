//! S3's REST protocol for any S3-compatible server (AWS, `SeaweedFS`, `MinIO`, R2): requests
//! signed with `SigV4` in headers ([`super::sigv4`]), retried on 5xx, 429, a broken connection
//! and AWS's 409 `ConditionalRequestConflict`, and the small-object calls a shared workspace
//! needs (conditional `PUT`, conditional `GET`, `ListObjectsV2`). Publishing's multipart uploads
//! (`deploy::s3`) are built on [`Client::send`].
//!
//! Conditional writes, as AWS documents them and as `SeaweedFS` 4.48 and moto 5.2 answer:
//! `If-None-Match: *` on a key that holds an object is 412; `If-Match` with another `ETag` is
//! 412 (moto answers 404 `NoSuchKey` when the key is missing). Resending a conditional write
//! whose answer was lost is safe: it cannot overwrite, it is answered 412, and the caller reads
//! what is there to learn whether it was its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use super::sigv4::{self, Credentials, Scope};

/// Attempts per request (5xx, 429, a broken connection): then the error stands.
const ATTEMPTS: u32 = 4;
/// The longest a request without a body (HEAD, GET of a small object, DELETE, a listing) may
/// take, whatever the client's timeout for transfers: a hanging server holds a HEAD for minutes
/// at most, not for the half hour a part may take.
const BODILESS_TIMEOUT: Duration = Duration::from_mins(1);

/// Where a bucket is and as whom.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http(s)://host[:port]`, no path; for AWS `https://s3.{region}.amazonaws.com`.
    pub url: String,
    pub bucket: String,
    pub region: String,
    /// `https://host/bucket/key` (`SeaweedFS`, `MinIO`) rather than `https://bucket.host/key`.
    pub path_style: bool,
    pub credentials: Credentials,
}

/// One request's body.
#[derive(Clone)]
pub enum Body {
    Empty,
    Bytes(bytes::Bytes),
    /// A whole file, streamed; `sent` hears the bytes sent so far.
    File {
        path: PathBuf,
        sent: Arc<dyn Fn(u64) + Send + Sync>,
    },
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::File { path, .. } => write!(f, "File({})", path.display()),
        }
    }
}

/// A request that failed: the server's answer, or no answer.
#[derive(Debug, Clone)]
pub enum Failure {
    Status {
        status: u16,
        code: String,
        message: String,
    },
    Network(String),
}

impl Failure {
    /// The status the server answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Network(_) => None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status {
                status,
                code,
                message,
            } => match (code.is_empty(), message.is_empty()) {
                (true, true) => write!(f, "HTTP {status}"),
                (true, false) => write!(f, "HTTP {status}: {message}"),
                (false, true) => write!(f, "HTTP {status} {code}"),
                (false, false) => write!(f, "HTTP {status} {code}: {message}"),
            },
            Self::Network(detail) => f.write_str(detail),
        }
    }
}

/// How a write is conditioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond<'a> {
    /// Unconditional.
    Always,
    /// `If-None-Match: *`: only when the key holds no object.
    Create,
    /// `If-Match: ETAG`: only when the object is still that one.
    Match(&'a str),
}

/// A small object read with [`Client::get_small`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// 404.
    Missing,
    /// 304: still the object of the `ETag` given.
    NotModified,
    Object {
        bytes: Vec<u8>,
        etag: String,
        /// How long ago the object was last written, by the server's own clock (its `Date`
        /// less the object's `Last-Modified`, to the second): a time no client's clock moves.
        /// `None` when the server sent either header unreadable or not at all.
        age: Option<Duration>,
    },
}

/// One page of `ListObjectsV2`.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub keys: Vec<String>,
    /// More keys follow the last one listed.
    pub truncated: bool,
}

/// An S3 bucket reached over HTTP (a clone shares the connections).
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    http: reqwest::Client,
    /// The `Host` signed and sent: `host[:port]`, or `bucket.host[:port]`.
    host: String,
    /// `/bucket` (path style) or empty.
    path_prefix: String,
    /// Each request's, as the client was made.
    timeout: Duration,
    /// Attempts per request, and a bodiless request's timeout ([`Self::impatient`]).
    attempts: u32,
    bodiless_timeout: Duration,
}

impl Client {
    /// A client whose every request may take `timeout`. The error names the endpoint.
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Result<Self, String> {
        let raw = endpoint.url.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&raw).map_err(|e| format!("endpoint {raw:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("endpoint {raw:?}: use http(s)://host[:port]"));
        }
        if endpoint.bucket.trim().is_empty() {
            return Err("the bucket is empty: name the bucket".into());
        }
        let mut host = url.host_str().unwrap_or_default().to_owned();
        if let Some(port) = url.port() {
            host = format!("{host}:{port}");
        }
        let origin = format!("{}://{host}", url.scheme());
        let (host, path_prefix) = if endpoint.path_style {
            (
                host,
                format!("/{}", sigv4::uri_encode(&endpoint.bucket, false)),
            )
        } else {
            (format!("{}.{host}", endpoint.bucket), String::new())
        };
        let http = super::build(
            super::client_builder()
                .connect_timeout(Duration::from_secs(15))
                .timeout(timeout),
        )?;
        Ok(Self {
            endpoint: Endpoint {
                url: origin,
                ..endpoint
            },
            http,
            host,
            path_prefix,
            timeout,
            attempts: ATTEMPTS,
            bodiless_timeout: BODILESS_TIMEOUT.min(timeout),
        })
    }

    /// A copy that tries each request twice and waits at most `wait` for a bodiless one: for
    /// a first look that must not hold a window for minutes when the server is unreachable.
    #[must_use]
    pub fn impatient(&self, wait: Duration) -> Self {
        Self {
            attempts: 2,
            bodiless_timeout: wait.min(self.timeout),
            ..self.clone()
        }
    }

    pub fn bucket(&self) -> &str {
        &self.endpoint.bucket
    }

    /// `http(s)://host[:port]`.
    pub fn url(&self) -> &str {
        &self.endpoint.url
    }

    /// `s3://bucket/key`, for messages.
    pub fn where_(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.endpoint.bucket)
    }

    /// The object's URL (unsigned).
    pub fn object_url(&self, key: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.host, self.path_of(key))
    }

    fn path_of(&self, key: &str) -> String {
        format!("{}/{}", self.path_prefix, sigv4::uri_encode(key, true))
    }

    fn scheme(&self) -> &str {
        if self.endpoint.url.starts_with("https://") {
            "https"
        } else {
            "http"
        }
    }

    /// [`Self::send`] of a request with no body, about `key`.
    pub async fn send_empty(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        headers: Vec<(String, String)>,
    ) -> Result<reqwest::Response, Failure> {
        self.send(
            method,
            Some(key),
            query,
            headers,
            sigv4::EMPTY_SHA256,
            Body::Empty,
        )
        .await
    }

    /// Sends one signed request (about `key`, or the bucket), retrying 5xx, 429, AWS's 409
    /// `ConditionalRequestConflict` and broken connections with backoff. A 2xx or 304 answer is
    /// `Ok`; any other is [`Failure::Status`] with S3's error code and message.
    pub async fn send(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        mut headers: Vec<(String, String)>,
        payload_sha256: &str,
        body: Body,
    ) -> Result<reqwest::Response, Failure> {
        let path = key.map_or_else(|| format!("{}/", self.path_prefix), |k| self.path_of(k));
        let query = sigv4::canonical_query(query);
        let url = if query.is_empty() {
            format!("{}://{}{path}", self.scheme(), self.host)
        } else {
            format!("{}://{}{path}?{query}", self.scheme(), self.host)
        };
        headers.push(("host".into(), self.host.clone()));
        headers.push(("x-amz-content-sha256".into(), payload_sha256.to_owned()));
        if let Some(token) = self.endpoint.credentials.session_token() {
            headers.push(("x-amz-security-token".into(), token.to_owned()));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let at = jiff::Timestamp::now();
            let mut signed = headers.clone();
            signed.push(("x-amz-date".into(), sigv4::amz_date(at)));
            let auth = sigv4::authorization(
                &sigv4::Request {
                    method: method.as_str(),
                    path: &path,
                    query: &query,
                    headers: &signed,
                    payload_sha256,
                },
                &self.endpoint.credentials,
                &Scope {
                    region: self.endpoint.region.clone(),
                    service: "s3".into(),
                },
                at,
            );
            let mut req = self.http.request(method.clone(), &url);
            for (k, v) in &signed {
                if k != "host" {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            req = req.header("authorization", auth);
            req = match &body {
                Body::Empty => req.timeout(self.bodiless_timeout),
                Body::Bytes(b) => req.body(b.clone()),
                Body::File { path, sent } => {
                    let file = tokio::fs::File::open(path)
                        .await
                        .map_err(|e| Failure::Network(format!("open {}: {e}", path.display())))?;
                    let len = file
                        .metadata()
                        .await
                        .map_err(|e| Failure::Network(format!("stat {}: {e}", path.display())))?
                        .len();
                    let reader = Counting {
                        inner: file,
                        sent: 0,
                        hear: sent.clone(),
                    };
                    req.header("content-length", len)
                        .body(reqwest::Body::wrap_stream(
                            tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024),
                        ))
                }
            };
            let failure = match req.send().await {
                Ok(resp) if resp.status().is_success() || resp.status().as_u16() == 304 => {
                    return Ok(resp);
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(super::parse_retry_after);
                    let text = super::read_body(resp, 1024 * 1024)
                        .await
                        .unwrap_or_default();
                    let (code, message) = error_of(&text);
                    // AWS answers 409 ConditionalRequestConflict to a conditional write that
                    // raced another: sent again, it is answered 412 or done.
                    let conflict = status == 409 && code == "ConditionalRequestConflict";
                    let f = Failure::Status {
                        status,
                        code,
                        message,
                    };
                    if (status >= 500 || status == 429 || conflict) && attempt < self.attempts {
                        tokio::time::sleep(retry_after.unwrap_or_else(|| super::backoff(attempt)))
                            .await;
                        continue;
                    }
                    f
                }
                Err(e) => {
                    let f = Failure::Network(super::describe(&e));
                    if attempt < self.attempts && !e.is_builder() {
                        tokio::time::sleep(super::backoff(attempt)).await;
                        continue;
                    }
                    f
                }
            };
            return Err(failure);
        }
    }

    /// `GET` of a small object, at most `max` bytes (a bigger one is an error naming it); with
    /// `if_none_match`, a 304 when the object is still that `ETag`.
    pub async fn get_small(
        &self,
        key: &str,
        if_none_match: Option<&str>,
        max: usize,
    ) -> Result<Got, Failure> {
        let headers = if_none_match
            .map(|etag| vec![("if-none-match".to_owned(), etag.to_owned())])
            .unwrap_or_default();
        let resp = match self.send_empty(Method::GET, key, &[], headers).await {
            Ok(r) => r,
            Err(Failure::Status { status: 404, .. }) => return Ok(Got::Missing),
            Err(f) => return Err(f),
        };
        if resp.status().as_u16() == 304 {
            // Not asked for, it says nothing of the object: no answer.
            return match if_none_match {
                Some(_) => Ok(Got::NotModified),
                None => Err(Failure::Status {
                    status: 304,
                    code: String::new(),
                    message: format!(
                        "{}: answered Not Modified to a read that named no ETag",
                        self.where_(key)
                    ),
                }),
            };
        }
        let etag = etag_of(&resp);
        let age = age_of(&resp);
        let bytes = super::read_bytes(resp, max)
            .await
            .map_err(|e| Failure::Network(format!("{}: {e}", self.where_(key))))?;
        Ok(Got::Object { bytes, etag, age })
    }

    /// `PUT` of a small object under `cond`; the new object's `ETag`. A refused condition is
    /// [`Failure::Status`] 412 (or moto's 404 for `If-Match` on a missing key).
    pub async fn put_small(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        cond: Cond<'_>,
    ) -> Result<String, Failure> {
        let sha = crate::sha256_hex(&bytes);
        let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
        match cond {
            Cond::Always => {}
            Cond::Create => headers.push(("if-none-match".into(), "*".into())),
            // An empty `If-Match` may be taken for none: the write would be unconditional.
            Cond::Match("") => {
                return Err(Failure::Network(format!(
                    "{}: a conditional write without the ETag it depends on was not sent",
                    self.where_(key)
                )));
            }
            Cond::Match(etag) => headers.push(("if-match".into(), etag.to_owned())),
        }
        let resp = self
            .send(
                Method::PUT,
                Some(key),
                &[],
                headers,
                &sha,
                Body::Bytes(bytes.into()),
            )
            .await?;
        Ok(etag_of(&resp))
    }

    /// `DELETE` of `key` (a missing key is no error).
    pub async fn delete(&self, key: &str) -> Result<(), Failure> {
        match self.send_empty(Method::DELETE, key, &[], Vec::new()).await {
            Ok(_) | Err(Failure::Status { status: 404, .. }) => Ok(()),
            Err(f) => Err(f),
        }
    }

    /// One page (at most `max_keys`) of the keys under `prefix` after `start_after`, in S3's
    /// order (UTF-8 binary).
    pub async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max_keys: u32,
    ) -> Result<Listing, Failure> {
        let max = max_keys.to_string();
        let mut q = vec![("list-type", "2"), ("prefix", prefix), ("max-keys", &max)];
        if let Some(after) = start_after {
            q.push(("start-after", after));
        }
        let resp = self
            .send(
                Method::GET,
                None,
                &q,
                Vec::new(),
                sigv4::EMPTY_SHA256,
                Body::Empty,
            )
            .await?;
        let text = super::read_body(resp, super::MAX_BODY_BYTES)
            .await
            .map_err(|e| Failure::Network(format!("list {}: {e}", self.where_(prefix))))?;
        let doc = super::xml::parse(&text).map_err(|e| {
            Failure::Network(format!(
                "list {}: the answer is not S3's XML: {e}",
                self.where_(prefix)
            ))
        })?;
        let mut keys: Vec<String> = doc
            .all("Contents")
            .filter_map(|c| c.text_of("Key"))
            .map(str::to_owned)
            .collect();
        // A server that lists keys outside the prefix or before `start_after` is not believed.
        keys.retain(|k| k.starts_with(prefix) && start_after.is_none_or(|a| k.as_str() > a));
        keys.sort();
        keys.dedup();
        Ok(Listing {
            truncated: doc.text_of("IsTruncated") == Some("true") && !keys.is_empty(),
            keys,
        })
    }
}

/// The answer's `ETag` header, as sent (quotes included), or empty.
fn etag_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// An answer's `Date` less its `Last-Modified`, both the server's (zero when the object looks
/// newer than the answer: the same second, rounded).
fn age_of(resp: &reqwest::Response) -> Option<Duration> {
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(http_date)
    };
    let (date, modified) = (header("date")?, header("last-modified")?);
    Some(Duration::try_from(date.duration_since(modified)).unwrap_or_default())
}

/// An HTTP date (RFC 9110's IMF-fixdate, the form S3 servers send): `Sun, 06 Nov 1994 08:49:37
/// GMT`.
pub fn http_date(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim().strip_suffix("GMT")?.trim_end();
    let civil = jiff::civil::DateTime::strptime("%a, %d %b %Y %H:%M:%S", text).ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()
}

/// `Code` and `Message` of an S3 error body (HEAD has none).
pub fn error_of(text: &str) -> (String, String) {
    match super::xml::parse(text) {
        Ok(doc) if doc.name == "Error" => (
            doc.text_of("Code").unwrap_or_default().to_owned(),
            doc.text_of("Message").unwrap_or_default().to_owned(),
        ),
        _ => (String::new(), text.chars().take(200).collect()),
    }
}

/// A stream reader that reports the bytes read so far.
struct Counting<R> {
    inner: R,
    sent: u64,
    hear: Arc<dyn Fn(u64) + Send + Sync>,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        if n > 0 {
            self.sent += n;
            (self.hear)(self.sent);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_read_and_anything_else_is_none() {
        let t = http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("an HTTP date");
        assert_eq!(t.to_string(), "1994-11-06T08:49:37Z");
        for bad in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT GMT",
        ] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn s3_error_bodies_give_their_code_and_message() {
        let (code, msg) = error_of(
            "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request \
             signature we calculated does not match</Message></Error>",
        );
        assert_eq!(code, "SignatureDoesNotMatch");
        assert!(msg.starts_with("The request signature"));
        assert_eq!(error_of("").0, "");
    }
}
