//! A fault proxy of our own: an HTTP/1.1 reverse proxy on a free loopback port in front of a
//! real server (`weed mini`'s or moto's S3), which applies the faults a test queues and
//! forwards everything else.
//!
//! A request is forwarded byte for byte: its head as the client sent it (the `Host` header
//! too, so a `SigV4` signature made for the proxy's `127.0.0.1:PORT` verifies at the upstream,
//! which `weed mini` checks) and its body streamed as framed (`Content-Length` or chunked).
//! One request per client connection: the answer goes back with `Connection: close` instead of
//! its own `Connection` and `Keep-Alive` headers (the only change to it) and the connection is
//! closed, so every request opens a connection of its own to the upstream. A request that says `Expect: 100-continue` is told to continue by the
//! proxy, which then reads the body itself (the upstream's own interim 100 is skipped).
//!
//! The proxy runs on a thread with its own runtime, so sync and async tests use it alike;
//! dropping the [`FaultProxy`] stops it (connections in flight are cut).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::io::{AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// The most a request's or response's head (start line and headers) may take.
const MAX_HEAD: usize = 64 * 1024;

/// What the proxy does to a request a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the upstream, wait for its whole answer, then close the client's connection
    /// without sending a byte (the effect happened, the client cannot know).
    DropAfterForward,
    /// Read the request, then close the connection without forwarding it.
    DropBeforeForward,
    /// Wait, then forward normally.
    Delay(Duration),
    /// Answer without forwarding: `status` with S3's error XML (`Code`, `Message`,
    /// `RequestId`), and `Retry-After` when given.
    Answer {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<u32>,
    },
    /// Forward (the effect happens) and read the upstream's whole answer, then answer the
    /// client this error instead.
    AnswerAfterForward {
        status: u16,
        code: String,
        message: String,
    },
    /// Forward, and pass the upstream's answer without its header of this (lower-case) name,
    /// as a server or proxy that leaves it out would.
    WithoutHeader(String),
}

impl Fault {
    /// `Answer` of S3's `503 SlowDown` with `Retry-After: retry_after`.
    pub fn slow_down(retry_after: Option<u32>) -> Self {
        Fault::Answer {
            status: 503,
            code: "SlowDown".into(),
            message: "Please reduce your request rate.".into(),
            retry_after,
        }
    }

    /// `Answer` of `status` with S3 error `code` and `message`, no `Retry-After`.
    pub fn answer(status: u16, code: &str, message: &str) -> Self {
        Fault::Answer {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// `AnswerAfterForward` of S3's `409 ConditionalRequestConflict` (AWS's answer to a
    /// conditional write that raced another one: retry it).
    pub fn conflict_after_forward() -> Self {
        Fault::AnswerAfterForward {
            status: 409,
            code: "ConditionalRequestConflict".into(),
            message: "A conflicting conditional operation is currently in progress against this resource. Try again.".into(),
        }
    }
}

/// One request the proxy saw, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The request target as sent: the path with its query.
    pub path: String,
    /// The fault a rule applied to it; `None`: forwarded as it was.
    pub fault: Option<Fault>,
    /// The upstream's status (interim 1xx answers skipped); `None`: not forwarded, or no
    /// answer came.
    pub upstream: Option<u16>,
    /// The status the client was sent; `None`: its connection was closed without an answer.
    pub client: Option<u16>,
    /// What went wrong in the proxy itself (the upstream unreachable, a malformed message)
    /// before the client heard anything; the client was then answered `502 BadGateway`. (A
    /// failure while the answer is on its way, e.g. the client gone, is not recorded.)
    pub error: Option<String>,
}

#[derive(Debug)]
struct Rule {
    method: String,
    path_contains: String,
    fault: Fault,
    left: usize,
}

#[derive(Debug, Default)]
struct State {
    rules: VecDeque<Rule>,
    seen: Vec<Seen>,
    answers: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The proxy; dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    url: String,
    state: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let authority = upstream
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("fault proxy: upstream {upstream} is not http://HOST:PORT"))
            .trim_end_matches('/')
            .to_owned();
        assert!(
            !authority.contains('/'),
            "fault proxy: upstream {upstream} has a path; give http://HOST:PORT"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("fault proxy: bind");
        listener
            .set_nonblocking(true)
            .expect("fault proxy: nonblocking");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("fault proxy: address")
        );
        let state = Shared::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{url}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fault proxy: runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("fault proxy: listener");
                    let accept = async {
                        loop {
                            let Ok((client, _)) = listener.accept().await else {
                                continue;
                            };
                            let (shared, authority) = (shared.clone(), authority.clone());
                            tokio::spawn(async move {
                                serve(client, &authority, &shared).await;
                            });
                        }
                    };
                    tokio::select! {
                        () = accept => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("fault proxy: spawn its thread");
        FaultProxy {
            url,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Applies `fault` once, to the next request whose method is `method` (any when `"*"`)
    /// and whose path with query contains `path_contains`. Rules queue in order: of two rules
    /// matching a request, the one added first applies.
    pub fn once(&self, method: &str, path_contains: &str, fault: Fault) {
        self.times(1, method, path_contains, fault);
    }

    /// Like [`FaultProxy::once`], for the next `n` matching requests.
    pub fn times(&self, n: usize, method: &str, path_contains: &str, fault: Fault) {
        if n > 0 {
            lock(&self.state).rules.push_back(Rule {
                method: method.to_owned(),
                path_contains: path_contains.to_owned(),
                fault,
                left: n,
            });
        }
    }

    /// Drops every rule still queued: the requests that follow are forwarded as they come.
    pub fn clear(&self) {
        lock(&self.state).rules.clear();
    }

    /// Every request seen, in the order their outcome was decided (which is before the
    /// client hears anything of it, so a client that got its answer finds its request here).
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state).seen.clone()
    }

    /// [`Self::seen`] of the requests whose path starts with `prefix` (a test's bucket): the
    /// port is a loopback port any process on the machine may connect to (another test's
    /// readiness probe that picked it as free), and those requests are not the test's.
    pub fn seen_under(&self, prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.starts_with(prefix))
            .collect()
    }

    /// How many queued applications of rules are left.
    pub fn pending(&self) -> usize {
        lock(&self.state).rules.iter().map(|r| r.left).sum()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A message's head: its start line's three parts, its header lines as sent, and the headers
/// parsed (names lower-case, values trimmed).
#[derive(Debug)]
struct Head {
    raw: Vec<u8>,
    start: [String; 3],
    lines: Vec<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Result<Option<u64>, String> {
        self.header("content-length")
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|e| format!("Content-Length {v:?}: {e}"))
            })
            .transpose()
    }
}

/// How a body ends.
#[derive(Debug, Clone, Copy)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Reads a head (up to the empty line); `None` when the peer closed before sending a byte.
async fn read_head<R: AsyncBufRead + Unpin>(from: &mut R) -> Result<Option<Head>, String> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = from
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading a head: {e}"))?;
        if n == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err("the connection closed in the middle of a head".into());
        }
        raw.extend_from_slice(&line);
        if raw.len() > MAX_HEAD {
            return Err(format!("a head longer than {MAX_HEAD} bytes"));
        }
        let content = line
            .strip_suffix(b"\n")
            .map_or(&line[..], |l| l.strip_suffix(b"\r").unwrap_or(l))
            .to_vec();
        if content.is_empty() {
            if lines.is_empty() {
                // Blank lines before a request line are allowed (RFC 9112, 2.2).
                raw.clear();
                continue;
            }
            break;
        }
        lines.push(content);
    }
    let first = String::from_utf8_lossy(&lines[0]).into_owned();
    let mut parts = first.splitn(3, ' ');
    let start = [(); 3].map(|()| parts.next().unwrap_or_default().to_owned());
    let lines = lines.split_off(1);
    let headers = lines
        .iter()
        .filter_map(|l| {
            let l = String::from_utf8_lossy(l);
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    Ok(Some(Head {
        raw,
        start,
        lines,
        headers,
    }))
}

/// Copies a body framed as `framing` from `from` to `to`, framing bytes included.
async fn copy_body<R, W>(from: &mut R, framing: Framing, to: &mut W) -> Result<(), String>
where
    R: AsyncBufRead + AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let write = |e: std::io::Error| format!("writing a body: {e}");
    match framing {
        Framing::None => {}
        Framing::Length(n) => copy_exact(from, n, to).await?,
        Framing::UntilClose => {
            tokio::io::copy(from, to)
                .await
                .map_err(|e| format!("copying a body: {e}"))?;
        }
        Framing::Chunked => loop {
            let mut line = Vec::new();
            from.read_until(b'\n', &mut line)
                .await
                .map_err(|e| format!("reading a chunk size: {e}"))?;
            if line.is_empty() {
                return Err("a chunked body ended before its last chunk".into());
            }
            to.write_all(&line).await.map_err(write)?;
            let text = String::from_utf8_lossy(&line);
            let size = text.split(';').next().unwrap_or_default().trim();
            let size =
                u64::from_str_radix(size, 16).map_err(|e| format!("chunk size {size:?}: {e}"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut trailer = Vec::new();
                    from.read_until(b'\n', &mut trailer)
                        .await
                        .map_err(|e| format!("reading a trailer: {e}"))?;
                    to.write_all(&trailer).await.map_err(write)?;
                    if trailer.is_empty() || trailer == b"\r\n" || trailer == b"\n" {
                        break;
                    }
                }
                break;
            }
            // The chunk's data and its CRLF.
            copy_exact(from, size + 2, to).await?;
        },
    }
    to.flush().await.map_err(write)
}

/// Copies exactly `n` bytes from `from` to `to`.
async fn copy_exact<R, W>(from: &mut R, n: u64, to: &mut W) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let copied = tokio::io::copy(&mut (&mut *from).take(n), to)
        .await
        .map_err(|e| format!("copying a body: {e}"))?;
    if copied < n {
        return Err(format!("a body ended after {copied} of its {n} bytes"));
    }
    Ok(())
}

/// The next matching rule's fault, counted as applied.
fn take_fault(state: &Shared, method: &str, path: &str) -> Option<Fault> {
    let mut state = lock(state);
    let i = state
        .rules
        .iter()
        .position(|r| (r.method == "*" || r.method == method) && path.contains(&r.path_contains))?;
    let rule = &mut state.rules[i];
    rule.left -= 1;
    let fault = rule.fault.clone();
    if rule.left == 0 {
        state.rules.remove(i);
    }
    Some(fault)
}

/// A request's record, and whether it is in the proxy's list yet.
#[derive(Debug)]
struct Track {
    seen: Seen,
    recorded: bool,
}

impl Track {
    /// Records the request as it stands: the last thing done before the client hears of it.
    fn record(&mut self, state: &Shared) {
        if !self.recorded {
            self.recorded = true;
            lock(state).seen.push(self.seen.clone());
        }
    }
}

/// Serves one client connection: one request.
async fn serve(client: TcpStream, upstream: &str, state: &Shared) {
    let mut client = BufReader::new(client);
    // Nothing sent, or not HTTP: nothing to record.
    let Ok(Some(head)) = read_head(&mut client).await else {
        return;
    };
    let [method, path, _] = head.start.clone();
    let fault = take_fault(state, &method, &path);
    let mut track = Track {
        seen: Seen {
            method,
            path,
            fault: fault.clone(),
            upstream: None,
            client: None,
            error: None,
        },
        recorded: false,
    };
    if let Err(error) = exchange(&mut client, &head, upstream, fault, state, &mut track).await
        && !track.recorded
    {
        // The client has heard nothing yet: it is told what went wrong.
        track.seen.error = Some(error.clone());
        track.seen.client = Some(502);
        track.record(state);
        let _ = answer(&mut client, &head, 502, "BadGateway", &error, None, state).await;
    }
    let _ = client.get_mut().shutdown().await;
}

async fn exchange(
    client: &mut BufReader<TcpStream>,
    head: &Head,
    upstream: &str,
    fault: Option<Fault>,
    state: &Shared,
    track: &mut Track,
) -> Result<(), String> {
    let framing = if head.chunked() {
        Framing::Chunked
    } else {
        head.content_length()?
            .map_or(Framing::None, Framing::Length)
    };
    if head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        client
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|e| format!("telling the client to continue: {e}"))?;
    }
    match fault {
        Some(Fault::DropBeforeForward) => {
            copy_body(client, framing, &mut tokio::io::sink()).await?;
            track.record(state);
            Ok(())
        }
        Some(Fault::Answer {
            status,
            code,
            message,
            retry_after,
        }) => {
            copy_body(client, framing, &mut tokio::io::sink()).await?;
            track.seen.client = Some(status);
            track.record(state);
            answer(client, head, status, &code, &message, retry_after, state).await
        }
        Some(Fault::DropAfterForward) => {
            let (mut up, _, response) = forward(client, head, framing, upstream, track).await?;
            copy_body(&mut up, response, &mut tokio::io::sink()).await?;
            track.record(state);
            Ok(())
        }
        Some(Fault::AnswerAfterForward {
            status,
            code,
            message,
        }) => {
            let (mut up, _, response) = forward(client, head, framing, upstream, track).await?;
            copy_body(&mut up, response, &mut tokio::io::sink()).await?;
            track.seen.client = Some(status);
            track.record(state);
            answer(client, head, status, &code, &message, None, state).await
        }
        Some(Fault::Delay(by)) => {
            tokio::time::sleep(by).await;
            pass(client, head, framing, upstream, state, track, None).await
        }
        Some(Fault::WithoutHeader(name)) => {
            pass(client, head, framing, upstream, state, track, Some(&name)).await
        }
        None => pass(client, head, framing, upstream, state, track, None).await,
    }
}

/// Forwards the request and passes the upstream's answer to the client (without the header
/// named `without`, when given).
async fn pass(
    client: &mut BufReader<TcpStream>,
    head: &Head,
    framing: Framing,
    upstream: &str,
    state: &Shared,
    track: &mut Track,
    without: Option<&str>,
) -> Result<(), String> {
    let (mut up, answer_head, response) = forward(client, head, framing, upstream, track).await?;
    track.seen.client = track.seen.upstream;
    track.record(state);
    let out = client.get_mut();
    out.write_all(&closing(&answer_head, without))
        .await
        .map_err(|e| format!("writing the answer to the client: {e}"))?;
    copy_body(&mut up, response, out).await
}

/// Sends the request to the upstream (its head as sent, its body streamed) and reads the
/// answer's head, skipping interim 1xx answers; returns the upstream connection, the head and
/// how the answer's body is framed.
async fn forward(
    client: &mut BufReader<TcpStream>,
    head: &Head,
    framing: Framing,
    upstream: &str,
    track: &mut Track,
) -> Result<(BufReader<TcpStream>, Head, Framing), String> {
    let mut up = TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("connecting to the upstream {upstream}: {e}"))?;
    up.write_all(&head.raw)
        .await
        .map_err(|e| format!("sending the request head to {upstream}: {e}"))?;
    copy_body(client, framing, &mut up).await?;
    let mut up = BufReader::new(up);
    loop {
        let response = read_head(&mut up)
            .await?
            .ok_or_else(|| format!("{upstream} closed the connection without an answer"))?;
        let status: u16 = response.start[1]
            .parse()
            .map_err(|e| format!("{upstream}'s status {:?}: {e}", response.start[1]))?;
        if (100..200).contains(&status) {
            continue;
        }
        track.seen.upstream = Some(status);
        let framing = if head.start[0] == "HEAD" || status == 204 || status == 304 {
            Framing::None
        } else if response.chunked() {
            Framing::Chunked
        } else {
            response
                .content_length()?
                .map_or(Framing::UntilClose, Framing::Length)
        };
        return Ok((up, response, framing));
    }
}

/// `head` with its `Connection` header (and `Keep-Alive`) replaced by `Connection: close`, and
/// without the header named `without`.
fn closing(head: &Head, without: Option<&str>) -> Vec<u8> {
    let mut out = head.start.join(" ").into_bytes();
    out.extend_from_slice(b"\r\n");
    for line in &head.lines {
        let name = String::from_utf8_lossy(line)
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if name != "connection" && name != "keep-alive" && without != Some(name.as_str()) {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out
}

/// Answers the client `status` with S3's error XML (no body for a HEAD, as S3 does).
async fn answer(
    client: &mut BufReader<TcpStream>,
    request: &Head,
    status: u16,
    code: &str,
    message: &str,
    retry_after: Option<u32>,
    state: &Shared,
) -> Result<(), String> {
    let request_id = {
        let mut state = lock(state);
        state.answers += 1;
        format!("FAULTPROXY{:06X}", state.answers)
    };
    let body = error_xml(code, message, &request_id);
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nx-amz-request-id: {request_id}\r\n",
        reason(status),
        body.len()
    );
    if let Some(secs) = retry_after {
        out.push_str(&format!("Retry-After: {secs}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    if request.start[0] != "HEAD" {
        out.push_str(&body);
    }
    let client = client.get_mut();
    client
        .write_all(out.as_bytes())
        .await
        .map_err(|e| format!("answering the client {status}: {e}"))?;
    client
        .flush()
        .await
        .map_err(|e| format!("answering the client {status}: {e}"))
}

/// S3's error document (as AWS documents it in "Error responses").
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        escape(code),
        escape(message),
        escape(request_id)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}
