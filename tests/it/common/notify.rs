//! Fakes of the two notification services that cannot run here.
//!
//! PagerDuty Events API v2 follows `tests/fixtures/vendor/pagerduty/events-v2.openapi.json`
//! (Prism sits in front and checks every request and response against it); Slack incoming webhooks
//! follow Slack's published webhook behaviour: `200 ok`, `429` with `Retry-After`, and the
//! documented error strings as plain-text bodies with their status codes.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::Prism;

pub const ROUTING_KEY: &str = "R0UTINGKEY4c1d9e0f2a3b4c5d6e7f8a9b";

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub body: Value,
    pub at: Instant,
}

#[derive(Debug, Default)]
pub struct Fake {
    pub seen: Vec<Seen>,
    /// Answers given before the normal one, in order: (status, body, Retry-After).
    pub script: Vec<(u16, String, Option<String>)>,
    /// The routing key PagerDuty accepts ([`ROUTING_KEY`] unless set).
    pub key: Option<String>,
    /// Requests that are processed at once and answered this much later, in order (one per
    /// request): a client that times out first does not learn that they arrived.
    pub slow: Vec<std::time::Duration>,
}

fn key_ok(f: &Shared, body: &Value) -> bool {
    let f = f.lock().expect("fake server");
    body["routing_key"] == f.key.as_deref().unwrap_or(ROUTING_KEY)
}

pub type Shared = Arc<Mutex<Fake>>;

fn scripted(f: &Shared) -> Option<Response> {
    let mut f = f.lock().expect("fake server");
    if f.script.is_empty() {
        return None;
    }
    let (status, body, retry) = f.script.remove(0);
    let mut resp = (StatusCode::from_u16(status).expect("fake server"), body).into_response();
    resp.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("fake server"),
    );
    if let Some(r) = retry {
        resp.headers_mut()
            .insert("retry-after", r.parse().expect("fake server"));
    }
    Some(resp)
}

fn invalid(errors: &[&str]) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "status": "invalid event", "message": "Event object is invalid", "errors": errors })),
    )
        .into_response()
}

/// The delay before the answer to the request just admitted, if [`Fake::slow`] has one.
fn delay(f: &Shared) -> Option<std::time::Duration> {
    let mut f = f.lock().expect("fake server");
    (!f.slow.is_empty()).then(|| f.slow.remove(0))
}

/// Records the request, then gives the scripted answer or the routing key's refusal, if any.
fn admit(f: &Shared, path: &str, body: &Value) -> Option<Response> {
    f.lock().expect("fake server").seen.push(Seen {
        path: path.into(),
        body: body.clone(),
        at: Instant::now(),
    });
    if let Some(r) = scripted(f) {
        return Some(r);
    }
    (!key_ok(f, body)).then(|| invalid(&["Invalid routing key"]))
}

async fn enqueue(State(f): State<Shared>, Json(body): Json<Value>) -> Response {
    if let Some(r) = admit(&f, "/v2/enqueue", &body) {
        return r;
    }
    if let Some(d) = delay(&f) {
        tokio::time::sleep(d).await;
    }
    let action = body["event_action"].as_str().unwrap_or("");
    if action != "trigger" && body["dedup_key"].as_str().is_none_or(str::is_empty) {
        return invalid(&["'dedup_key' is missing or blank"]);
    }
    if action == "trigger" {
        for k in ["summary", "source", "severity"] {
            if body["payload"][k].as_str().is_none_or(str::is_empty) {
                return invalid(&[&format!("'payload.{k}' is missing or blank")]);
            }
        }
    }
    let key = body["dedup_key"]
        .as_str()
        .unwrap_or("generated-key")
        .to_owned();
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "success", "message": "Event processed", "dedup_key": key })),
    )
        .into_response()
}

async fn change(State(f): State<Shared>, Json(body): Json<Value>) -> Response {
    if let Some(r) = admit(&f, "/v2/change/enqueue", &body) {
        return r;
    }
    if let Some(d) = delay(&f) {
        tokio::time::sleep(d).await;
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "success", "message": "Change event processed" })),
    )
        .into_response()
}

/// The PagerDuty fake behind a validating Prism. `api_base` is what `[notify.pagerduty]`
/// takes.
pub struct PagerDuty {
    pub state: Shared,
    pub prism: Prism,
    pub api_base: String,
}

impl PagerDuty {
    pub fn start() -> Self {
        let state = Shared::default();
        let app = Router::new()
            .route("/v2/enqueue", post(enqueue))
            .route("/v2/change/enqueue", post(change))
            .with_state(state.clone());
        let addr = super::serve(app);
        // The spec's server is `https://events.pagerduty.com/v2` and its paths are relative to
        // it (`/enqueue`); Prism matches paths without the server's base, so a hop in front
        // takes `/v2` off, and Prism puts it back on the way to the fake.
        let prism = Prism::proxy(
            &super::vendor("pagerduty/events-v2.openapi.json"),
            &format!("http://{addr}/v2"),
        );
        let api_base = format!("http://{}", strip_base("/v2", &prism.url));
        Self {
            state,
            prism,
            api_base,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("fake server").seen.clone()
    }
}

async fn webhook(
    State(f): State<Shared>,
    UrlPath(hook): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    f.lock().expect("fake server").seen.push(Seen {
        path: hook.clone(),
        body: body.clone(),
        at: Instant::now(),
    });
    if hook == "hang" {
        tokio::time::sleep(std::time::Duration::from_mins(10)).await;
    }
    if hook == "slow" {
        // Posted at once, answered late: Slack's answer after the client gave up.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    }
    let (status, code) = match hook.as_str() {
        "limited" => {
            let first = f
                .lock()
                .expect("fake server")
                .seen
                .iter()
                .filter(|s| s.path == "limited")
                .count()
                == 1;
            if first {
                let mut r = (StatusCode::TOO_MANY_REQUESTS, "rate_limited").into_response();
                r.headers_mut()
                    .insert("retry-after", "2".parse().expect("fake server"));
                return r;
            }
            (StatusCode::OK, "ok")
        }
        "gone" => (StatusCode::NOT_FOUND, "channel_not_found"),
        "archived" => (StatusCode::GONE, "channel_is_archived"),
        "locked" => (StatusCode::FORBIDDEN, "action_prohibited"),
        "bad" => (StatusCode::BAD_REQUEST, "invalid_payload"),
        _ => {
            if body["text"].as_str().is_none_or(str::is_empty) {
                (StatusCode::BAD_REQUEST, "no_text")
            } else if body["blocks"].as_array().is_none_or(Vec::is_empty) {
                (StatusCode::BAD_REQUEST, "invalid_blocks")
            } else {
                (StatusCode::OK, "ok")
            }
        }
    };
    (status, code).into_response()
}

/// A Slack fake: `POST /services/T0/B0/{hook}`; `hook` picks the behaviour (`ok`, `limited`:
/// 429 with `Retry-After: 2` once, `gone`, `archived`, `locked`, `bad`, `hang`, `slow`: posted,
/// and answered `ok` 3 s later).
pub struct Slack {
    pub state: Shared,
    pub base: String,
}

impl Slack {
    pub fn start() -> Self {
        let state = Shared::default();
        let app = Router::new()
            .route("/services/T0/B0/{hook}", post(webhook))
            .with_state(state.clone());
        let addr = super::serve(app);
        Self {
            state,
            base: format!("http://{addr}"),
        }
    }

    pub fn url(&self, hook: &str) -> String {
        format!("{}/services/T0/B0/{hook}", self.base)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("fake server").seen.clone()
    }
}

/// A loopback hop that takes `prefix` off each request's path and forwards it to `upstream`,
/// answering with what comes back.
fn strip_base(prefix: &'static str, upstream: &str) -> String {
    let upstream = upstream.to_owned();
    let client = reqwest::Client::new();
    let app = Router::new().fallback(move |req: axum::extract::Request| {
        let (upstream, client) = (upstream.clone(), client.clone());
        async move {
            let (parts, body) = req.into_parts();
            let path = parts.uri.path();
            let rest = path.strip_prefix(prefix).unwrap_or(path);
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .expect("fake server");
            let mut r = client.request(parts.method.clone(), format!("{upstream}{rest}"));
            for (k, v) in &parts.headers {
                if k != "host" && k != "content-length" {
                    r = r.header(k, v);
                }
            }
            let answer = r.body(body).send().await.expect("fake server");
            let mut out = Response::builder().status(answer.status().as_u16());
            for (k, v) in answer.headers() {
                if k != "content-length" && k != "transfer-encoding" {
                    out = out.header(k, v);
                }
            }
            out.body(axum::body::Body::from(
                answer.bytes().await.expect("fake server"),
            ))
            .expect("fake server")
        }
    });
    super::serve(app)
}
