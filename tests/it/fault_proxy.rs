//! The fault proxy (`common::fault_proxy`) in front of a real `weed mini`, with signed requests
//! from the test's reqwest client (and curl): a write whose answer is dropped happened, a
//! `503 SlowDown` answered by the proxy reaches the client whole and the server not at all, a
//! delay delays, a `409` after forwarding leaves the write done, rules apply only to what they
//! match and only as often as asked, and `SigV4` signatures made for the proxy's address still
//! verify at weed (which checks them).
//!
//! Then the facts a shared workspace on S3 relies on, as the real servers answer them (signed
//! requests straight to the server; each test accepts exactly what its server does). Measured
//! 2026-12-04 with SeaweedFS 4.48 (`weed mini`) and moto 5.2:
//!
//! | request | weed 4.48 | moto 5.2 |
//! |---|---|---|
//! | `PUT` `If-None-Match: *`, key missing | 200, `ETag` | 200, `ETag` |
//! | `PUT` `If-None-Match: *`, key exists | 412 `PreconditionFailed` | 412 `PreconditionFailed` |
//! | `PUT` `If-Match: <current ETag>` | 200, new `ETag` | 200, new `ETag` |
//! | `PUT` `If-Match: <stale ETag>` | 412 `PreconditionFailed` | 412 `PreconditionFailed` |
//! | `PUT` `If-Match: <ETag>`, key missing | 412 `PreconditionFailed` | 404 `NoSuchKey` |
//! | `GET` `If-None-Match: <current ETag>` | 304, empty body, `ETag` | 304, empty body, `ETag` |
//! | `GET` `If-None-Match: <stale ETag>` | 200 | 200 |
//! | `ListObjectsV2` `prefix=log/&start-after=log/000001` | the keys after it only | the same |
//! | the same, `start-after` the last key | `KeyCount` 0 | `KeyCount` 0 |
//!
//! (moto stores an empty object when a `PUT`'s `Content-Type` is
//! `application/x-www-form-urlencoded`, curl's default for `--data-binary`: its web framework
//! reads the body as a form. reqwest sends no `Content-Type` for a bytes body.)

use std::time::{Duration, Instant};

use crate::common::fault_proxy::{Fault, FaultProxy, Seen};
use crate::common::{Moto, S3Answer, S3Client, Weed, weed_request};

/// weed with bucket `bkt`, the proxy in front of it, and a client of the proxy.
fn setup() -> (Weed, FaultProxy, S3Client) {
    let weed = Weed::start();
    weed.bucket("bkt");
    let proxy = FaultProxy::start(&weed.endpoint);
    let s3 = S3Client::weed(&proxy.url());
    (weed, proxy, s3)
}

fn seen(
    method: &str,
    path: &str,
    fault: Option<Fault>,
    upstream: Option<u16>,
    client: Option<u16>,
) -> Seen {
    Seen {
        method: method.into(),
        path: path.into(),
        fault,
        upstream,
        client,
        error: None,
    }
}

#[track_caller]
fn ok(answer: Result<S3Answer, String>, what: &str) -> S3Answer {
    let a = answer.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    assert!(
        (200..300).contains(&a.status),
        "{what}: {} {}",
        a.status,
        a.text()
    );
    a
}

#[test]
fn a_put_whose_answer_is_dropped_after_forwarding_is_stored_and_one_dropped_before_is_not() {
    let (_weed, proxy, s3) = setup();
    proxy.once("PUT", "/bkt/dropped", Fault::DropAfterForward);
    proxy.once("PUT", "/bkt/never", Fault::DropBeforeForward);

    let e = s3
        .send("PUT", "/bkt/dropped", &[], b"written")
        .expect_err("the client hears nothing of a dropped answer");
    assert!(!e.is_empty());
    let got = ok(
        s3.send("GET", "/bkt/dropped", &[], b""),
        "GET the dropped PUT",
    );
    assert_eq!(got.text(), "written");

    s3.send("PUT", "/bkt/never", &[], b"lost")
        .expect_err("the client hears nothing of a dropped request");
    let missing = s3.send("GET", "/bkt/never", &[], b"").expect("GET never");
    assert_eq!(
        (missing.status, missing.xml("Code").as_deref()),
        (404, Some("NoSuchKey")),
        "{}",
        missing.text()
    );

    assert_eq!(
        proxy.seen_under("/bkt"),
        vec![
            seen(
                "PUT",
                "/bkt/dropped",
                Some(Fault::DropAfterForward),
                Some(200),
                None
            ),
            seen("GET", "/bkt/dropped", None, Some(200), Some(200)),
            seen(
                "PUT",
                "/bkt/never",
                Some(Fault::DropBeforeForward),
                None,
                None
            ),
            seen("GET", "/bkt/never", None, Some(404), Some(404)),
        ]
    );
    assert_eq!(proxy.pending(), 0);
}

#[test]
fn slow_down_answered_by_the_proxy_reaches_the_client_whole_and_the_server_not_at_all() {
    let (weed, proxy, s3) = setup();
    proxy.once("PUT", "/bkt/slow", Fault::slow_down(Some(7)));

    let a = s3.send("PUT", "/bkt/slow", &[], b"x").expect("an answer");
    assert_eq!(a.status, 503, "{}", a.text());
    assert_eq!(a.header("retry-after"), Some("7"));
    assert_eq!(a.header("content-type"), Some("application/xml"));
    assert!(
        a.text().starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
        ),
        "{}",
        a.text()
    );
    assert_eq!(
        a.xml("Message").as_deref(),
        Some("Please reduce your request rate.")
    );
    let request_id = a.xml("RequestId").expect("RequestId");
    assert_eq!(a.header("x-amz-request-id"), Some(request_id.as_str()));

    // The server never saw it: the key is missing there (asked directly, not through the proxy).
    let direct = S3Client::weed(&weed.endpoint)
        .send("GET", "/bkt/slow", &[], b"")
        .expect("GET from weed");
    assert_eq!(direct.status, 404, "{}", direct.text());
    assert_eq!(
        proxy.seen_under("/bkt"),
        vec![seen(
            "PUT",
            "/bkt/slow",
            Some(Fault::slow_down(Some(7))),
            None,
            Some(503)
        )]
    );

    // Without Retry-After, no such header; a HEAD is answered without a body, as S3 does.
    proxy.once(
        "HEAD",
        "/bkt/",
        Fault::answer(500, "InternalError", "We <broke> & so"),
    );
    let head = s3.send("HEAD", "/bkt/slow", &[], b"").expect("HEAD");
    assert_eq!((head.status, head.header("retry-after")), (500, None));
    assert!(head.body.is_empty());
    assert_eq!(
        crate::common::fault_proxy::error_xml("InternalError", "We <broke> & so", "R1"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We &lt;broke&gt; &amp; so</Message><RequestId>R1</RequestId></Error>"
    );
}

#[test]
fn a_delay_delays_the_request_by_at_least_its_duration_and_then_forwards_it() {
    let (_weed, proxy, s3) = setup();
    ok(s3.send("PUT", "/bkt/k", &[], b"v"), "PUT");
    let delay = Duration::from_millis(1500);
    proxy.once("GET", "/bkt/k", Fault::Delay(delay));

    let start = Instant::now();
    let got = ok(s3.send("GET", "/bkt/k", &[], b""), "delayed GET");
    let took = start.elapsed();
    assert_eq!(got.text(), "v");
    assert!(took >= delay, "the GET took {took:?}");
    assert_eq!(
        proxy.seen_under("/bkt"),
        vec![
            seen("PUT", "/bkt/k", None, Some(200), Some(200)),
            seen(
                "GET",
                "/bkt/k",
                Some(Fault::Delay(delay)),
                Some(200),
                Some(200)
            ),
        ]
    );
}

#[test]
fn a_conflict_answered_after_forwarding_leaves_the_object_written() {
    let (_weed, proxy, s3) = setup();
    proxy.once("PUT", "/bkt/c", Fault::conflict_after_forward());

    let create = [("if-none-match", "*")];
    let a = s3
        .send("PUT", "/bkt/c", &create, b"mine")
        .expect("an answer");
    assert_eq!(
        (a.status, a.xml("Code").as_deref()),
        (409, Some("ConditionalRequestConflict")),
        "{}",
        a.text()
    );
    let got = ok(s3.send("GET", "/bkt/c", &[], b""), "GET");
    assert_eq!(got.text(), "mine");
    // What the retry a 409 asks for finds: the create already happened.
    let again = s3.send("PUT", "/bkt/c", &create, b"mine").expect("retry");
    assert_eq!(again.status, 412, "{}", again.text());

    assert_eq!(
        proxy.seen_under("/bkt"),
        vec![
            seen(
                "PUT",
                "/bkt/c",
                Some(Fault::conflict_after_forward()),
                Some(200),
                Some(409)
            ),
            seen("GET", "/bkt/c", None, Some(200), Some(200)),
            seen("PUT", "/bkt/c", None, Some(412), Some(412)),
        ]
    );
}

#[test]
fn rules_apply_only_to_matching_requests_in_order_and_only_as_often_as_asked() {
    let (_weed, proxy, s3) = setup();
    let internal = Fault::answer(500, "InternalError", "We encountered an internal error.");
    let slow = Fault::slow_down(None);
    proxy.times(2, "PUT", "/bkt/two", internal.clone());
    proxy.once("*", "list-type=2", slow.clone());
    // Two rules for one key: the first added applies first.
    proxy.once("PUT", "/bkt/q", internal.clone());
    proxy.once("PUT", "/bkt/q", slow.clone());
    assert_eq!(proxy.pending(), 5);

    let status = |method: &str, path: &str| {
        s3.send(method, path, &[], if method == "PUT" { b"x" } else { b"" })
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
            .status
    };
    let list = "/bkt?list-type=2&prefix=two";
    let statuses = [
        status("GET", "/bkt/two"),
        status("PUT", "/bkt/other"),
        status("PUT", "/bkt/two"),
        status("PUT", "/bkt/two"),
        status("PUT", "/bkt/two"),
        status("GET", list),
        status("GET", list),
        status("PUT", "/bkt/q"),
        status("PUT", "/bkt/q"),
        status("PUT", "/bkt/q"),
    ];
    assert_eq!(statuses, [404, 200, 500, 500, 200, 503, 200, 500, 503, 200]);
    assert_eq!(proxy.pending(), 0);
    assert_eq!(
        proxy.seen_under("/bkt"),
        vec![
            seen("GET", "/bkt/two", None, Some(404), Some(404)),
            seen("PUT", "/bkt/other", None, Some(200), Some(200)),
            seen("PUT", "/bkt/two", Some(internal.clone()), None, Some(500)),
            seen("PUT", "/bkt/two", Some(internal.clone()), None, Some(500)),
            seen("PUT", "/bkt/two", None, Some(200), Some(200)),
            seen("GET", list, Some(slow.clone()), None, Some(503)),
            seen("GET", list, None, Some(200), Some(200)),
            seen("PUT", "/bkt/q", Some(internal), None, Some(500)),
            seen("PUT", "/bkt/q", Some(slow), None, Some(503)),
            seen("PUT", "/bkt/q", None, Some(200), Some(200)),
        ]
    );
}

#[test]
fn signed_requests_verify_at_weed_through_the_proxy_whatever_their_body_framing() {
    let (_weed, proxy, s3) = setup();
    // weed checks signatures: a wrong secret is refused through the proxy, so the right one's
    // 200 below means the signature made for the proxy's host:port verified.
    let wrong = S3Client::new(
        &proxy.url(),
        crate::common::WEED_ACCESS_KEY,
        "not-the-secret",
    )
    .send("PUT", "/bkt/forged", &[], b"x")
    .expect("an answer");
    assert_eq!(
        (wrong.status, wrong.xml("Code").as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "{}",
        wrong.text()
    );

    // A chunked body (Transfer-Encoding: chunked, as a streamed upload without a length).
    let chunked: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    ok(
        s3.send_chunked("PUT", "/bkt/chunked", &[], &chunked),
        "chunked PUT",
    );
    assert_eq!(
        ok(s3.send("GET", "/bkt/chunked", &[], b""), "GET chunked").body,
        chunked
    );

    // curl sends `Expect: 100-continue` for a body over 1 MiB.
    let big: Vec<u8> = (0..(2 << 20) as u32).map(|i| (i % 253) as u8).collect();
    let (status, body) = weed_request(&proxy.url(), "PUT", "/bkt/big", &[], &big);
    assert_eq!(status, 200, "curl PUT through the proxy: {body}");
    assert_eq!(
        ok(s3.send("GET", "/bkt/big", &[], b""), "GET big").body,
        big
    );
    let head = ok(s3.send("HEAD", "/bkt/big", &[], b""), "HEAD big");
    assert_eq!(head.header("content-length"), Some("2097152"));
    assert!(head.body.is_empty());

    let statuses: Vec<(String, Option<u16>, Option<u16>)> = proxy
        .seen_under("/bkt")
        .into_iter()
        .map(|s| (format!("{} {}", s.method, s.path), s.upstream, s.client))
        .collect();
    let fine = |what: &str| (what.to_owned(), Some(200), Some(200));
    assert_eq!(
        statuses,
        vec![
            ("PUT /bkt/forged".to_owned(), Some(403), Some(403)),
            fine("PUT /bkt/chunked"),
            fine("GET /bkt/chunked"),
            fine("PUT /bkt/big"),
            fine("GET /bkt/big"),
            fine("HEAD /bkt/big"),
        ]
    );
}

/// What differs between the servers in [`facts`].
struct Expected {
    /// `PUT` with `If-Match` on a missing key: status and error code.
    if_match_missing: (u16, &'static str),
}

/// The `<Key>`s of a `ListObjectsV2` answer.
fn keys(a: &S3Answer) -> Vec<String> {
    a.text()
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
        .collect()
}

#[track_caller]
fn failed(a: &S3Answer, status: u16, code: &str, what: &str) {
    assert_eq!(
        (a.status, a.xml("Code").as_deref()),
        (status, Some(code)),
        "{what}: {}",
        a.text()
    );
}

/// The conditional requests and listing a shared workspace relies on, against `s3`'s server.
fn facts(s3: &S3Client, expected: &Expected) {
    ok(s3.send("PUT", "/facts", &[], b""), "create the bucket");
    let send = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        s3.send(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    };

    let created = send("PUT", "/facts/k", &[("if-none-match", "*")], b"one");
    assert_eq!(created.status, 200, "create: {}", created.text());
    let first = created.header("etag").expect("ETag").to_owned();
    let exists = send("PUT", "/facts/k", &[("if-none-match", "*")], b"two");
    failed(
        &exists,
        412,
        "PreconditionFailed",
        "create over an existing key",
    );
    assert_eq!(send("GET", "/facts/k", &[], b"").text(), "one");

    let replaced = send("PUT", "/facts/k", &[("if-match", &first)], b"two");
    assert_eq!(
        replaced.status,
        200,
        "If-Match current: {}",
        replaced.text()
    );
    let second = replaced.header("etag").expect("ETag").to_owned();
    assert_ne!(first, second);
    let stale = send("PUT", "/facts/k", &[("if-match", &first)], b"three");
    failed(&stale, 412, "PreconditionFailed", "If-Match stale");
    let missing = send("PUT", "/facts/missing", &[("if-match", &second)], b"x");
    let (status, code) = expected.if_match_missing;
    failed(&missing, status, code, "If-Match on a missing key");
    assert_eq!(send("GET", "/facts/k", &[], b"").text(), "two");

    let unchanged = send("GET", "/facts/k", &[("if-none-match", &second)], b"");
    assert_eq!(
        (unchanged.status, unchanged.body.as_slice()),
        (304, &b""[..]),
        "If-None-Match current"
    );
    assert_eq!(unchanged.header("etag"), Some(second.as_str()));
    let changed = send("GET", "/facts/k", &[("if-none-match", &first)], b"");
    assert_eq!((changed.status, changed.text().as_str()), (200, "two"));

    for key in ["log/000001", "log/000002", "log/000003", "other"] {
        ok(s3.send("PUT", &format!("/facts/{key}"), &[], b"e"), key);
    }
    let after = send(
        "GET",
        "/facts?list-type=2&prefix=log%2F&start-after=log%2F000001",
        &[],
        b"",
    );
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(keys(&after), ["log/000002", "log/000003"]);
    let past = send(
        "GET",
        "/facts?list-type=2&prefix=log%2F&start-after=log%2F000003",
        &[],
        b"",
    );
    assert_eq!(past.status, 200, "{}", past.text());
    assert_eq!(
        (keys(&past).len(), past.xml("KeyCount").as_deref()),
        (0, Some("0"))
    );
}

#[test]
fn weed_answers_conditional_writes_and_start_after_as_measured() {
    let weed = Weed::start();
    facts(
        &S3Client::weed(&weed.endpoint),
        &Expected {
            if_match_missing: (412, "PreconditionFailed"),
        },
    );
}

#[test]
fn moto_answers_conditional_writes_and_start_after_as_measured() {
    let moto = Moto::start();
    facts(
        &S3Client::new(
            &moto.endpoint,
            "AKIATESTCONSOLE",
            "moto-test-secret-key-xyz",
        ),
        &Expected {
            if_match_missing: (404, "NoSuchKey"),
        },
    );
}

#[test]
fn concurrent_creates_through_the_proxy_have_one_winner() {
    let (_weed, proxy, _s3) = setup();
    let url = proxy.url();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..16)
            .map(|i| {
                let url = url.clone();
                std::thread::Builder::new()
                    .name(format!("racer-{i}"))
                    .spawn_scoped(scope, move || {
                        S3Client::weed(&url)
                            .send(
                                "PUT",
                                "/bkt/log/000001",
                                &[("if-none-match", "*")],
                                format!("racer {i}").as_bytes(),
                            )
                            .unwrap_or_else(|e| panic!("racer {i}: {e}"))
                            .status
                    })
                    .expect("spawn a racer")
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("racer"))
            .collect()
    });
    let won = statuses.iter().filter(|s| **s == 200).count();
    let lost = statuses.iter().filter(|s| **s == 412).count();
    assert_eq!((won, lost), (1, 15), "{statuses:?}");
    let seen = proxy.seen_under("/bkt");
    assert_eq!(seen.len(), 16);
    assert!(
        seen.iter()
            .all(|s| s.upstream == s.client && s.error.is_none()),
        "{seen:?}"
    );
}

#[test]
fn an_unreachable_upstream_is_answered_502_and_recorded_with_its_error() {
    let proxy = FaultProxy::start(&format!("http://127.0.0.1:{}", crate::common::free_port()));
    let a = S3Client::weed(&proxy.url())
        .send("GET", "/bkt/k", &[], b"")
        .expect("an answer from the proxy");
    assert_eq!(
        (a.status, a.xml("Code").as_deref()),
        (502, Some("BadGateway")),
        "{}",
        a.text()
    );
    let seen = proxy.seen_under("/bkt");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].upstream, seen[0].client),
        (None, Some(502)),
        "{seen:?}"
    );
    let error = seen[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("connecting to the upstream"), "{error}");
}
