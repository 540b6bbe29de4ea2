//! Small HTTP helpers shared by the vendor clients (Statuspage, `LaunchDarkly`, Unleash,
//! Prometheus): retry timing and error bodies.

pub mod aws;
pub mod multipart;
pub mod s3;
pub mod sigv4;
pub mod xml;

use std::time::Duration;

use serde_json::Value;

/// Per-request timeout of every vendor client.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait honoured from a `Retry-After` (or reset) header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_mins(2);

/// Exponential backoff from 0.5 s with up to 50% jitter.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = base.mul_f64(f64::from(nanos % 500) / 1000.0);
    base + jitter
}

/// A `Retry-After` longer than this is not a rate limit but a broken server.
const ABSURD_RETRY_AFTER: Duration = Duration::from_hours(24);

/// `Retry-After` in seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`]. A negative,
/// non-finite or unreadable value is `None` (the caller's default wait); one beyond a day
/// (`1e20`) is a protocol error: logged, and clamped like any long wait, never a panic.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let wait = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        if wait > ABSURD_RETRY_AFTER {
            tracing::warn!(
                "the server sent Retry-After: {v}, which no rate limit means; waiting {} s",
                MAX_RETRY_AFTER.as_secs()
            );
        }
        return Some(wait.min(MAX_RETRY_AFTER));
    }
    let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let wait: Duration = at
        .duration_since(jiff::Timestamp::now())
        .try_into()
        .unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The `error` or `message` (string or list; Unleash's `details[].message` too) of an error
/// body, else the start of the body itself.
pub fn error_message(text: &str) -> String {
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        if let Some(details) = v.get("details").and_then(Value::as_array) {
            let msgs: Vec<String> = details
                .iter()
                .filter_map(|d| d.get("message").and_then(Value::as_str).map(str::to_owned))
                .collect();
            if !msgs.is_empty() {
                return Some(msgs.join("; "));
            }
        }
        let e = v.get("message").or_else(|| v.get("error"))?;
        Some(match e {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        })
    });
    from_json.unwrap_or_else(|| text.chars().take(200).collect())
}

/// The largest response body any vendor client reads (a page of flags, a KPI range): a bigger
/// one is refused with an error instead of filling memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A response body that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the response is larger than {} KiB; refusing to read it", limit_bytes / 1024)]
    TooLarge { limit_bytes: usize },
    #[error("the response broke off: {0}")]
    Read(String),
}

/// Reads a response body as text, chunk by chunk, refusing one over `limit` bytes (by its
/// `Content-Length` before reading anything, or as soon as the bytes read pass it).
pub async fn read_body(resp: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    let body = read_bytes(resp, limit).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// [`read_body`]'s bytes, as they came.
pub async fn read_bytes(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit))
    {
        return Err(BodyError::TooLarge { limit_bytes: limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Read(describe(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit_bytes: limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `GET /path` with the server's message after it in parentheses, if it sent one: what a 404
/// names.
pub fn request_and_message(method: &reqwest::Method, path: &str, message: &str) -> String {
    if message.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path} ({message})")
    }
}

/// reqwest's error without the URL it repeats, down to the root cause.
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Whether a request may be sent twice. Every request that changes something says which it
/// is, so that a retry loop cannot send a second copy of one whose effect may already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// A second copy changes nothing more: a read, a cancel, a PagerDuty alert folded by its
    /// `dedup_key`.
    Idempotent,
    /// A second copy is a second effect: a Slack message, a PagerDuty change event, a workflow
    /// dispatch (a second build), an Argo CD sync or rollback (a second operation).
    NonIdempotent,
}

impl Idempotency {
    /// The HTTP method's own promise: POST and PATCH are not idempotent, the others are. A
    /// caller whose POST is idempotent (a cancel, an alert with a `dedup_key`) says so instead.
    pub fn of_method(method: &reqwest::Method) -> Self {
        if method == reqwest::Method::POST || method == reqwest::Method::PATCH {
            Idempotency::NonIdempotent
        } else {
            Idempotency::Idempotent
        }
    }
}

/// What a failed attempt says about whether the request reached the server and took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// It certainly did not arrive: the connection was refused or failed (DNS, TLS) before
    /// anything was sent.
    NotSent,
    /// It arrived and the server said it did not act on it: 429, or an origin's own 5xx
    /// (500, 501, 505, ...) "arrived but failed".
    Refused,
    /// It may have arrived and taken effect: a timeout or a broken connection after it was
    /// sent, or 502/503/504 (a gateway's answer: the origin may or may not have acted).
    Uncertain,
}

impl Arrival {
    /// What a transport error says: only a failed connection is certain not to have arrived.
    pub fn of_error(e: &reqwest::Error) -> Self {
        if e.is_connect() || e.is_builder() {
            Arrival::NotSent
        } else {
            Arrival::Uncertain
        }
    }

    /// What an error status says (`None` for a status that is not worth another attempt:
    /// 2xx, 3xx and 4xx other than 429).
    pub fn of_status(status: reqwest::StatusCode) -> Option<Self> {
        match status.as_u16() {
            429 => Some(Arrival::Refused),
            502..=504 => Some(Arrival::Uncertain),
            s if s >= 500 => Some(Arrival::Refused),
            _ => None,
        }
    }

    /// Whether a request of `idempotency` may be sent again by itself after this: never a
    /// non-idempotent one that may have arrived (look for its effect first, or ask a person).
    /// A client that can look for the effect (GitHub's run, Argo CD's operation) looks after
    /// an origin's 5xx too, before any second copy.
    pub fn may_retry(self, idempotency: Idempotency) -> bool {
        match self {
            Arrival::NotSent | Arrival::Refused => true,
            Arrival::Uncertain => idempotency == Idempotency::Idempotent,
        }
    }
}

/// An HTTP client with the console's user agent and timeout.
pub fn client() -> Result<reqwest::Client, String> {
    client_with_timeout(REQUEST_TIMEOUT)
}

/// A client builder with the console's user agent.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(concat!("release-console/", env!("CARGO_PKG_VERSION")))
}

/// Builds `builder`'s client; the error says why it could not (its causes included).
pub fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, String> {
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", crate::error_chain(&e)))
}

/// An HTTP client with the console's user agent and a per-request `timeout`.
pub fn client_with_timeout(timeout: Duration) -> Result<reqwest::Client, String> {
    build(client_builder().timeout(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener on a free loopback port, and its URL.
    async fn listen() -> (tokio::net::TcpListener, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        (listener, url)
    }

    /// Serves one raw HTTP response on loopback; returns its URL.
    async fn serve_once(head: String, body_bytes: usize) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (listener, url) = listen().await;
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.expect("accept");
            let mut req = [0u8; 4096];
            let _ = sock.read(&mut req).await;
            let _ = sock.write_all(head.as_bytes()).await;
            let block = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < body_bytes {
                let n = block.len().min(body_bytes - sent);
                if sock.write_all(&block[..n]).await.is_err() {
                    return;
                }
                sent += n;
            }
        });
        url
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_by_length_or_while_streaming() {
        let http = client().expect("client");
        let big = MAX_BODY_BYTES + 1;
        // Declared too large: refused before reading.
        let url = serve_once(
            format!("HTTP/1.1 200 OK\r\ncontent-length: {big}\r\n\r\n"),
            0,
        )
        .await;
        let resp = http.get(&url).send().await.expect("send");
        assert!(matches!(
            read_body(resp, MAX_BODY_BYTES).await,
            Err(BodyError::TooLarge { .. })
        ));
        // Chunked, with no length: refused once the bytes read pass the limit.
        let url = serve_once(
            "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_owned(),
            1024 * 1024,
        )
        .await;
        let resp = http.get(&url).send().await.expect("send");
        let err = read_body(resp, 256 * 1024).await.expect_err("too large");
        assert_eq!(
            err.to_string(),
            "the response is larger than 256 KiB; refusing to read it"
        );
        // Within the limit: read whole.
        let url = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".to_owned(), 5).await;
        let resp = http.get(&url).send().await.expect("send");
        assert_eq!(
            read_body(resp, MAX_BODY_BYTES).await.expect("body"),
            "xxxxx"
        );
    }

    #[test]
    fn retry_after_never_panics_and_never_waits_past_the_limit() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        // Finite, but too big for a Duration: `Duration::from_secs_f64` panics on it.
        assert_eq!(parse_retry_after("1e20"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("1e308"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER));
        for bad in ["-1", "NaN", "inf", "-inf", "soon", ""] {
            assert_eq!(parse_retry_after(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_request_names_the_server_message_only_when_there_is_one() {
        let get = reqwest::Method::GET;
        assert_eq!(request_and_message(&get, "/pages/p1", ""), "GET /pages/p1");
        assert_eq!(
            request_and_message(&get, "/pages/p1", "Page not found"),
            "GET /pages/p1 (Page not found)"
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn error_bodies_in_every_shape() {
        assert_eq!(
            error_message(r#"{"error":"Could not authenticate"}"#),
            "Could not authenticate"
        );
        assert_eq!(
            error_message(
                r#"{"error":["Status is not included in the list","Name can't be blank"]}"#
            ),
            "Status is not included in the list; Name can't be blank"
        );
        assert_eq!(
            error_message(r#"{"code":"invalid_request","message":"unknown instruction"}"#),
            "unknown instruction"
        );
        assert_eq!(
            error_message(
                r#"{"name":"ValidationError","details":[{"message":"\"name\" must be URL friendly"}]}"#
            ),
            "\"name\" must be URL friendly"
        );
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
    }

    #[tokio::test]
    async fn only_a_failed_connection_is_certain_not_to_have_arrived() {
        // Nothing listens on this port: refused before anything was sent.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", closed.local_addr().expect("addr"));
        drop(closed);
        let http = client_with_timeout(Duration::from_millis(300)).expect("client");
        let e = http.post(&url).send().await.expect_err("refused");
        assert_eq!(Arrival::of_error(&e), Arrival::NotSent, "{e:?}");
        // A server that reads the request and never answers: timed out after it was sent.
        let (listener, url) = listen().await;
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt as _;
            let (mut sock, _) = listener.accept().await.expect("accept");
            let mut req = [0u8; 4096];
            let _ = sock.read(&mut req).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let e = http.post(&url).send().await.expect_err("timed out");
        assert_eq!(Arrival::of_error(&e), Arrival::Uncertain, "{e:?}");
        // A connection closed after the request was read, without an answer.
        let url = serve_once(String::new(), 0).await;
        let e = http.post(&url).send().await.expect_err("closed");
        assert_eq!(Arrival::of_error(&e), Arrival::Uncertain, "{e:?}");
        assert!(!Arrival::Uncertain.may_retry(Idempotency::NonIdempotent));
        assert!(Arrival::Uncertain.may_retry(Idempotency::Idempotent));
        assert!(Arrival::NotSent.may_retry(Idempotency::NonIdempotent));
    }

    #[test]
    fn a_gateways_5xx_is_uncertain_an_origins_is_refused() {
        use reqwest::StatusCode as S;
        for s in [S::BAD_GATEWAY, S::SERVICE_UNAVAILABLE, S::GATEWAY_TIMEOUT] {
            assert_eq!(Arrival::of_status(s), Some(Arrival::Uncertain), "{s}");
        }
        for s in [S::INTERNAL_SERVER_ERROR, S::TOO_MANY_REQUESTS] {
            assert_eq!(Arrival::of_status(s), Some(Arrival::Refused), "{s}");
        }
        for s in [S::OK, S::NOT_FOUND, S::BAD_REQUEST] {
            assert_eq!(Arrival::of_status(s), None, "{s}");
        }
    }

    #[test]
    fn backoff_grows_with_bounded_jitter() {
        for attempt in 1..5 {
            let base = Duration::from_millis(500) * 2u32.pow(attempt - 1);
            let b = backoff(attempt);
            assert!(b >= base && b < base.mul_f64(1.5), "{b:?}");
        }
    }
}
