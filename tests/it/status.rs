//! The status page end to end: the CLI with the seed's flags against a fake Atlassian
//! Statuspage server over real HTTP on loopback, and the local provider round trip.
//!
//! The fake follows the published API v1: `/v1/pages/{page_id}/components`,
//! `/v1/pages/{page_id}/incidents` (POST, 201), `/incidents/{id}` (PATCH), `/incidents/unresolved`;
//! `Authorization: OAuth <key>` (401 otherwise), bodies wrapped in `{"incident": {...}}`, 404 for
//! unknown pages and incidents, 422 for values outside the documented sets, and 420/429 with
//! `Retry-After` when requests come faster than its rate limit.

#![expect(
    clippy::result_large_err,
    reason = "axum handlers return a Response as their error"
)]

use crate::common;

use crate::common::{ok, text};

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use serde_json::{Value, json};

const KEY: &str = "sp-test-key-0123456789abcdef";
const PAGE: &str = "pg7x2kq9";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    auth: String,
    body: Value,
    at: Instant,
}

/// A response the test wants instead of normal processing for the next request.
#[derive(Debug, Clone)]
enum Inject {
    Status(u16, Option<&'static str>, Value),
    /// Process the request, then answer 500 (the ambiguous failure).
    ProcessThen500,
}

#[derive(Debug, Default)]
struct Fake {
    components: Vec<Value>,
    incidents: Vec<Value>,
    seen: Vec<Seen>,
    inject: VecDeque<Inject>,
    /// Requests closer together than this get 429 (the vendor's ~1 request/second per key).
    min_gap: Duration,
    last: Option<Instant>,
    next_id: u32,
}

type Shared = Arc<Mutex<Fake>>;

const INCIDENT_STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];
const MAINTENANCE_STATUSES: [&str; 4] = ["scheduled", "in_progress", "verifying", "completed"];
const COMPONENT_STATUSES: [&str; 5] = [
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
];

fn error(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).expect("status"), Json(body)).into_response()
}

/// Shared front door: records, authenticates, rate-limits and applies injections.
fn admit(
    fake: &mut Fake,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    page: &str,
    body: &Value,
) -> Result<bool, Response> {
    let now = Instant::now();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    fake.seen.push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        auth: auth.clone(),
        body: body.clone(),
        at: now,
    });
    let too_soon = fake
        .last
        .is_some_and(|l| now.duration_since(l) < fake.min_gap);
    fake.last = Some(now);
    if auth != format!("OAuth {KEY}") {
        return Err(error(401, json!({"error": "Could not authenticate"})));
    }
    if too_soon {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"error": "Rate limit exceeded"})),
        )
            .into_response());
    }
    if page != PAGE {
        return Err(error(404, json!({"error": "Page not found"})));
    }
    match fake.inject.pop_front() {
        Some(Inject::Status(code, retry_after, body)) => {
            let mut resp = error(code, body);
            if let Some(ra) = retry_after {
                resp.headers_mut()
                    .insert("retry-after", ra.parse().expect("header"));
            }
            Err(resp)
        }
        Some(Inject::ProcessThen500) => Ok(true),
        None => Ok(false),
    }
}

fn validate_incident(
    body: &Value,
    maintenance: bool,
) -> Result<&serde_json::Map<String, Value>, Response> {
    let Some(inc) = body.get("incident").and_then(Value::as_object) else {
        return Err(error(400, json!({"error": "incident is missing"})));
    };
    let mut problems = Vec::new();
    if let Some(s) = inc.get("status").and_then(Value::as_str) {
        let ok = if maintenance {
            MAINTENANCE_STATUSES.contains(&s)
        } else {
            INCIDENT_STATUSES.contains(&s)
        };
        if !ok {
            problems.push("Status is not included in the list".to_owned());
        }
    }
    if let Some(map) = inc.get("components").and_then(Value::as_object) {
        for v in map.values() {
            if !v.as_str().is_some_and(|s| COMPONENT_STATUSES.contains(&s)) {
                problems.push(format!("Component status {v} is not included in the list"));
            }
        }
    }
    // `metadata` is a map of namespaces, each a map of strings (`{"jira": {"issue_id": ".."}}`).
    if let Some(meta) = inc.get("metadata") {
        let ok = meta.as_object().is_some_and(|m| {
            m.values().all(|ns| {
                ns.as_object()
                    .is_some_and(|kv| kv.values().all(Value::is_string))
            })
        });
        if !ok {
            problems.push("Metadata is invalid".to_owned());
        }
    }
    if problems.is_empty() {
        Ok(inc)
    } else {
        Err(error(422, json!({"error": problems})))
    }
}

async fn components(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    UrlPath(page): UrlPath<String>,
) -> Response {
    let mut f = s.lock().expect("fake");
    if let Err(r) = admit(&mut f, &method, &uri, &headers, &page, &Value::Null) {
        return r;
    }
    Json(Value::Array(f.components.clone())).into_response()
}

async fn unresolved(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    UrlPath(page): UrlPath<String>,
) -> Response {
    let mut f = s.lock().expect("fake");
    if let Err(r) = admit(&mut f, &method, &uri, &headers, &page, &Value::Null) {
        return r;
    }
    let open: Vec<Value> = f
        .incidents
        .iter()
        .filter(|i| {
            ["investigating", "identified", "monitoring"]
                .contains(&i["status"].as_str().unwrap_or(""))
        })
        .cloned()
        .collect();
    Json(Value::Array(open)).into_response()
}

/// Maintenance in `statuses`, for `/incidents/scheduled` and `/incidents/active_maintenance`.
fn maintenance_in(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    page: &str,
    statuses: &[&str],
) -> Response {
    let mut f = s.lock().expect("fake");
    if let Err(r) = admit(&mut f, method, uri, headers, page, &Value::Null) {
        return r;
    }
    let list: Vec<Value> = f
        .incidents
        .iter()
        .filter(|i| {
            i["scheduled_for"].is_string() && statuses.contains(&i["status"].as_str().unwrap_or(""))
        })
        .cloned()
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn scheduled(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    UrlPath(page): UrlPath<String>,
) -> Response {
    maintenance_in(&s, &method, &uri, &headers, &page, &["scheduled"])
}

async fn active_maintenance(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    UrlPath(page): UrlPath<String>,
) -> Response {
    maintenance_in(
        &s,
        &method,
        &uri,
        &headers,
        &page,
        &["in_progress", "verifying"],
    )
}

fn apply_components(f: &mut Fake, inc: &serde_json::Map<String, Value>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(map) = inc.get("components").and_then(Value::as_object) {
        for (id, status) in map {
            if let Some(c) = f.components.iter_mut().find(|c| c["id"] == id.as_str()) {
                c["status"] = status.clone();
                out.push(c.clone());
            }
        }
    }
    out
}

async fn create(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    UrlPath(page): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut f = s.lock().expect("fake");
    let then_500 = match admit(&mut f, &method, &uri, &headers, &page, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let maintenance = body["incident"]["scheduled_for"].is_string();
    let inc = match validate_incident(&body, maintenance) {
        Ok(i) => i.clone(),
        Err(r) => return r,
    };
    f.next_id += 1;
    let id = format!("inc{:08}", f.next_id);
    let comps = apply_components(&mut f, &inc);
    let now = jiff::Timestamp::now().to_string();
    let incident = json!({
        "id": id,
        "page_id": PAGE,
        "name": inc.get("name").cloned().unwrap_or(Value::Null),
        "status": inc.get("status").cloned().unwrap_or(json!("investigating")),
        "impact": inc.get("impact_override").cloned().unwrap_or(json!("none")),
        "impact_override": inc.get("impact_override").cloned().unwrap_or(Value::Null),
        "shortlink": format!("https://stspg.io/{id}"),
        "created_at": now,
        "updated_at": now,
        "resolved_at": null,
        "scheduled_for": inc.get("scheduled_for").cloned().unwrap_or(Value::Null),
        "scheduled_until": inc.get("scheduled_until").cloned().unwrap_or(Value::Null),
        "incident_updates": [{"id": format!("upd{id}"), "incident_id": id, "status": inc.get("status"), "body": inc.get("body"), "created_at": now}],
        "components": comps,
        "metadata": inc.get("metadata").cloned().unwrap_or(json!({})),
    });
    f.incidents.push(incident.clone());
    if then_500 {
        return error(500, json!({"error": "Internal server error"}));
    }
    (StatusCode::CREATED, Json(incident)).into_response()
}

async fn update(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    UrlPath((page, id)): UrlPath<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut f = s.lock().expect("fake");
    if let Err(r) = admit(&mut f, &method, &uri, &headers, &page, &body) {
        return r;
    }
    // Scheduled maintenance takes the maintenance statuses, incidents the incident ones.
    let maintenance = f
        .incidents
        .iter()
        .any(|i| i["id"] == id.as_str() && i["scheduled_for"].is_string());
    let inc = match validate_incident(&body, maintenance) {
        Ok(i) => i.clone(),
        Err(r) => return r,
    };
    let comps = apply_components(&mut f, &inc);
    let now = jiff::Timestamp::now().to_string();
    let Some(existing) = f.incidents.iter_mut().find(|i| i["id"] == id.as_str()) else {
        return error(
            404,
            json!({"error": "The requested resource could not be found."}),
        );
    };
    if let Some(st) = inc.get("status") {
        existing["status"] = st.clone();
        if st == "resolved" {
            existing["resolved_at"] = json!(now);
        }
    }
    existing["updated_at"] = json!(now);
    existing["components"] = Value::Array(comps);
    let update = json!({"id": format!("upd{now}"), "incident_id": id, "status": inc.get("status"), "body": inc.get("body"), "created_at": now});
    existing["incident_updates"]
        .as_array_mut()
        .expect("updates")
        .insert(0, update);
    Json(existing.clone()).into_response()
}

struct Server {
    state: Shared,
    base: String,
}

fn start_fake(min_gap: Duration) -> Server {
    let state: Shared = Arc::new(Mutex::new(Fake {
        components: ["api", "collaboration", "import-export", "desktop-downloads"]
            .iter()
            .enumerate()
            .map(|(i, n)| json!({"id": format!("cmp{i}{n}").replace('-', ""), "page_id": PAGE, "name": n, "status": "operational", "position": i}))
            .collect(),
        min_gap,
        ..Fake::default()
    }));
    let app = axum::Router::new()
        .route("/v1/pages/{page}/components", get(components))
        .route("/v1/pages/{page}/incidents/unresolved", get(unresolved))
        .route("/v1/pages/{page}/incidents/scheduled", get(scheduled))
        .route(
            "/v1/pages/{page}/incidents/active_maintenance",
            get(active_maintenance),
        )
        .route("/v1/pages/{page}/incidents", axum::routing::post(create))
        .route("/v1/pages/{page}/incidents/{id}", patch(update))
        .with_state(state.clone());
    let base = format!("http://{}/v1", common::serve(app));
    Server { state, base }
}

struct Ws {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn workspace(provider: &str, base: &str) -> Ws {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    common::init(&root);
    let cfg = root.join("release-console.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let text = text
        .replace(
            "provider = \"local\"\napi_base = \"https://api.statuspage.io/v1\"\npage_id = \"\"",
            &format!("provider = \"{provider}\"\napi_base = \"{base}\"\npage_id = \"{PAGE}\""),
        )
        .replace(
            "min_request_interval_ms = 1000",
            "min_request_interval_ms = 150",
        );
    assert!(text.contains(&format!("page_id = \"{PAGE}\"")), "{text}");
    std::fs::write(&cfg, text).expect("config");
    Ws { _dir: dir, root }
}

fn cli(ws: &Path, key: &str, args: &[&str]) -> Output {
    common::cli_with(ws, &[("STATUSPAGE_API_KEY", key)], args)
}

fn seen(s: &Server) -> Vec<Seen> {
    s.state.lock().expect("fake").seen.clone()
}

fn incidents(s: &Server) -> Vec<Value> {
    s.state.lock().expect("fake").incidents.clone()
}

const CREATE: [&str; 12] = [
    "status",
    "--action",
    "create",
    "--status",
    "investigating",
    "--component",
    "collaboration",
    "--message",
    "Investigating delays in real-time sync",
    "--severity",
    "P1",
    "--no-notify",
];

#[test]
fn the_seed_flags_create_update_and_resolve_an_incident_on_statuspage() {
    let server = start_fake(Duration::from_millis(100));
    let ws = workspace("statuspage", &server.base);
    let o = cli(&ws.root, KEY, &CREATE);
    ok(&o);
    let id = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(
        id.starts_with("INC-") && id.len() == "INC-2026-11-28-001".len(),
        "{id}"
    );

    let reqs = seen(&server);
    assert!(reqs.iter().all(|r| r.auth == format!("OAuth {KEY}")));
    let paths: Vec<String> = reqs
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            format!("GET /v1/pages/{PAGE}/components"),
            format!("GET /v1/pages/{PAGE}/incidents/unresolved"),
            format!("POST /v1/pages/{PAGE}/incidents"),
        ]
    );
    // Requests are paced to the vendor's rate limit: each leaves 150 ms after the previous
    // one's answer, so they arrive at least that far apart whatever the network did.
    for pair in reqs.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(150), "{gap:?}");
    }
    let mut body = reqs[2].body.clone();
    let key = body["incident"]
        .as_object_mut()
        .and_then(|i| i.remove("metadata"))
        .expect("metadata");
    assert!(
        key["release_console"]["idempotency_key"]
            .as_str()
            .is_some_and(|k| k.len() == 23 && k.starts_with("rc-")),
        "{key}"
    );
    assert_eq!(
        body,
        json!({"incident": {
            "name": "Investigating delays in real-time sync",
            "status": "investigating",
            "body": "Investigating delays in real-time sync",
            "impact_override": "major",
            "component_ids": ["cmp1collaboration"],
            "components": {"cmp1collaboration": "partial_outage"},
            "deliver_notifications": false,
        }})
    );

    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "--action",
            "update",
            "--incident-id",
            &id,
            "--status",
            "identified",
            "--message",
            "A stuck queue; draining it",
        ],
    );
    ok(&o);
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "--action",
            "resolve",
            "--incident-id",
            &id,
            "--status",
            "resolved",
            "--message",
            "Sync is back to normal",
        ],
    );
    ok(&o);
    assert!(text(&o).contains("postmortem due by"), "{}", text(&o));

    let reqs = seen(&server);
    let resolve = reqs.last().expect("resolve");
    assert_eq!(resolve.method, "PATCH");
    assert_eq!(
        resolve.path,
        format!("/v1/pages/{PAGE}/incidents/inc00000001")
    );
    assert_eq!(resolve.body["incident"]["status"], "resolved");
    assert_eq!(
        resolve.body["incident"]["components"],
        json!({"cmp1collaboration": "operational"})
    );
    let page = incidents(&server);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["status"], "resolved");
    assert_eq!(
        page[0]["incident_updates"].as_array().map(Vec::len),
        Some(3)
    );

    let o = cli(&ws.root, KEY, &["--json", "status", "list", "--all"]);
    let list: Value = serde_json::from_slice(&o.stdout).expect("json");
    let inc = &list[0];
    assert_eq!(inc["id"], id.as_str());
    assert_eq!(inc["severity"], "P1");
    assert_eq!(inc["page_incident_id"], "inc00000001");
    assert_eq!(inc["status"], "resolved");
    let whats: Vec<&str> = inc["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["what"].as_str())
        .collect();
    assert_eq!(whats, ["created", "updated", "resolved"]);

    // Every post is audited; the key is nowhere in the workspace.
    let audit = std::fs::read_to_string(ws.root.join("audit.log")).expect("audit");
    for action in [
        "status.incident.create",
        "status.incident.update",
        "status.incident.resolve",
    ] {
        assert!(audit.contains(action), "{action}");
    }
    let o = Command::new("grep")
        .args(["-r", "-l", KEY])
        .arg(&ws.root)
        .output()
        .expect("grep");
    assert!(
        o.stdout.is_empty(),
        "the API key leaked into {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn bad_input_is_refused_before_any_request_and_vendor_errors_are_named() {
    let server = start_fake(Duration::ZERO);
    let ws = workspace("statuspage", &server.base);
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "--action",
            "create",
            "--status",
            "fixed",
            "--component",
            "api",
            "--message",
            "m",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains(
        "incident status \"fixed\" is not one of: investigating, identified, monitoring, resolved"
    ));
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "--action",
            "create",
            "--status",
            "investigating",
            "--component",
            "api",
            "--component-status",
            "down",
            "--message",
            "m",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(seen(&server).is_empty(), "nothing was sent");

    // 401: a wrong key is named by its variable, never printed.
    let o = cli(&ws.root, "wrong-key", &CREATE);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("refused the API key (401): check $STATUSPAGE_API_KEY"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("wrong-key"));
    // An unknown component is refused with the page's names.
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "--action",
            "create",
            "--status",
            "investigating",
            "--component",
            "billing",
            "--message",
            "m",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("it has: api, collaboration, import-export, desktop-downloads"),
        "{}",
        text(&o)
    );

    // 422 from the page is shown with its reasons.
    let o = cli(&ws.root, KEY, &CREATE);
    ok(&o);
    let id = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let update = [
        "status",
        "--action",
        "update",
        "--incident-id",
        &id,
        "--status",
        "monitoring",
        "--message",
        "Watching",
    ];
    let o = run_injected(
        &server,
        &ws,
        &update,
        1,
        Inject::Status(422, None, json!({"error": ["Body can't be blank"]})),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("rejected the request (422): Body can't be blank"),
        "{}",
        text(&o)
    );

    // 404: the incident was deleted on the page.
    server.state.lock().expect("fake").incidents.clear();
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "--action",
            "update",
            "--incident-id",
            &id,
            "--status",
            "monitoring",
            "--message",
            "Watching",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("not found on the status page (404)"),
        "{}",
        text(&o)
    );
}

#[test]
fn rate_limits_are_honoured_and_retries_never_duplicate_an_incident() {
    let server = start_fake(Duration::ZERO);
    let ws = workspace("statuspage", &server.base);
    // 429 then 420, each with Retry-After: 1.
    server.state.lock().expect("fake").inject.extend([
        Inject::Status(429, Some("1"), json!({"error": "Rate limit exceeded"})),
        Inject::Status(420, Some("1"), json!({"error": "Enhance your calm"})),
    ]);
    let o = cli(&ws.root, KEY, &CREATE);
    ok(&o);
    let out = text(&o);
    assert!(out.contains("rate limited (429)"), "{out}");
    assert!(out.contains("rate limited (420)"), "{out}");
    let reqs = seen(&server);
    assert!(reqs[1].at.duration_since(reqs[0].at) >= Duration::from_millis(950));
    assert!(reqs[2].at.duration_since(reqs[1].at) >= Duration::from_millis(950));
    assert_eq!(incidents(&server).len(), 1);

    // The page creates the incident but answers 500: the retry finds it instead of posting again.
    let mut other = CREATE.to_vec();
    other.extend(["--name", "Exports failing"]);
    let before = incidents(&server).len();
    // components, unresolved, then the POST that is processed but fails.
    let o = run_injected(&server, &ws, &other, 2, Inject::ProcessThen500);
    ok(&o);
    assert!(
        text(&o).contains("not creating a duplicate"),
        "{}",
        text(&o)
    );
    let page = incidents(&server);
    assert_eq!(
        page.len(),
        before + 1,
        "exactly one new incident: {page:#?}"
    );
    let posts = seen(&server).iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "the POST was not repeated");

    assert!(
        page.last().expect("incident")["metadata"]["release_console"]["idempotency_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("rc-")),
        "the attempt's key is kept with the page's incident: {page:#?}"
    );

    // A CI retry names its attempt: the same key finds the incident, so there is no duplicate
    // and the console keeps one record; and the page is not asked to create it again.
    let mut keyed = other.clone();
    keyed.extend(["--idempotency-key", "ci-4711-exports"]);
    for _ in 0..2 {
        let o = cli(&ws.root, KEY, &keyed);
        ok(&o);
    }
    assert_eq!(incidents(&server).len(), before + 2);
    let o = cli(&ws.root, KEY, &["--json", "status", "list"]);
    let list: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list:#}");

    // Without a key, the same template run twice is two incidents: never merged by name.
    let o = cli(&ws.root, KEY, &other);
    ok(&o);
    assert_eq!(incidents(&server).len(), before + 3);
    let names: Vec<Value> = incidents(&server)
        .iter()
        .map(|i| i["name"].clone())
        .filter(|n| n == "Exports failing")
        .collect();
    assert_eq!(names.len(), 3);
}

/// Runs `args` with `inject` armed after the command's first `after_gets` GET requests (so it
/// hits the write that follows them).
fn run_injected(
    server: &Server,
    ws: &Ws,
    args: &[&str],
    after_gets: usize,
    inject: Inject,
) -> Output {
    server.state.lock().expect("fake").seen.clear();
    let state = server.state.clone();
    let watcher = std::thread::Builder::new()
        .name("statuspage-fault-injector".into())
        .spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                {
                    let mut f = state.lock().expect("fake");
                    if f.seen.iter().filter(|r| r.method == "GET").count() >= after_gets {
                        f.inject.push_back(inject);
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
        .expect("spawn the fault injector");
    let o = cli(&ws.root, KEY, args);
    watcher.join().expect("watcher");
    o
}

#[test]
fn scheduled_maintenance_is_posted_with_its_window() {
    let server = start_fake(Duration::ZERO);
    let ws = workspace("statuspage", &server.base);
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "maintenance",
            "--name",
            "Database upgrade",
            "--message",
            "Exports pause for 30 minutes",
            "--from",
            "2026-12-01T22:00:00Z",
            "--until",
            "2026-12-01T22:30:00Z",
            "--component",
            "import-export",
        ],
    );
    ok(&o);
    let post = seen(&server)
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("post");
    let inc = &post.body["incident"];
    assert_eq!(inc["status"], "scheduled");
    assert_eq!(inc["scheduled_for"], "2026-12-01T22:00:00Z");
    assert_eq!(inc["scheduled_until"], "2026-12-01T22:30:00Z");
    assert_eq!(inc["component_ids"], json!(["cmp2importexport"]));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert_eq!(id, "inc00000001");
    let listed = || {
        let o = cli(&ws.root, KEY, &["--json", "status", "maintenances"]);
        ok(&o);
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|m| m["status"].as_str().unwrap_or("").to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(listed(), ["scheduled"]);
    for step in ["in_progress", "verifying", "completed"] {
        let o = cli(
            &ws.root,
            KEY,
            &[
                "status",
                "maintenance-update",
                "--incident-id",
                &id,
                "--status",
                step,
                "--message",
                "Upgrade under way",
            ],
        );
        ok(&o);
        assert_eq!(incidents(&server)[0]["status"], step);
        if step != "completed" {
            assert_eq!(listed(), [step], "listed while under way");
        }
    }
    assert!(listed().is_empty(), "completed maintenance is not listed");
    let patch = seen(&server)
        .into_iter()
        .rev()
        .find(|r| r.method == "PATCH")
        .expect("patch");
    assert_eq!(
        patch.body,
        json!({"incident": {"status": "completed", "body": "Upgrade under way"}})
    );
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "maintenance-update",
            "--incident-id",
            &id,
            "--status",
            "resolved",
            "--message",
            "m",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "an incident status is not a maintenance status"
    );
    let o = cli(
        &ws.root,
        KEY,
        &[
            "status",
            "maintenance",
            "--name",
            "Backwards",
            "--message",
            "m",
            "--from",
            "2026-12-01T22:00:00Z",
            "--until",
            "2026-12-01T21:00:00Z",
            "--component",
            "api",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("maintenance must end after it starts"));
}

#[test]
fn the_local_page_round_trip_renders_html_and_exports_a_postmortem() {
    let ws = workspace("local", "https://api.statuspage.io/v1");
    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "--action",
            "create",
            "--status",
            "investigating",
            "--component",
            "collaboration",
            "--message",
            "Investigating delays in real-time sync",
            "--severity",
            "P0",
            "--detected-at",
            "7m",
        ],
    );
    ok(&o);
    let id = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let html = std::fs::read_to_string(ws.root.join("status/index.html")).expect("html");
    assert!(html.contains("Major outage"), "{html}");
    assert!(html.contains("Investigating delays in real-time sync"));

    let o = cli(&ws.root, "", &["status", "list"]);
    assert!(
        text(&o).contains("(target missed)"),
        "P0 answered after 7 min: {}",
        text(&o)
    );

    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "--action",
            "resolve",
            "--incident-id",
            &id,
            "--message",
            "Fixed <for real>",
        ],
    );
    ok(&o);
    let html = std::fs::read_to_string(ws.root.join("status/index.html")).expect("html");
    assert!(html.contains("All systems operational"), "{html}");
    assert!(html.contains("Fixed &lt;for real&gt;"), "escaped: {html}");
    let page: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.root.join("status/page.json")).expect("page"),
    )
    .expect("json");
    assert!(
        page["components"]
            .as_array()
            .expect("components")
            .iter()
            .all(|c| c["status"] == "operational")
    );

    let out = ws.root.join("postmortem.md");
    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "postmortem",
            "--incident-id",
            &id,
            "--out",
            out.to_str().expect("utf-8"),
        ],
    );
    ok(&o);
    let md = std::fs::read_to_string(&out).expect("postmortem");
    assert!(md.starts_with(&format!(
        "# Postmortem: Investigating delays in real-time sync ({id})"
    )));
    assert!(
        md.contains("| Severity | P0 (response target 5 min 00 s"),
        "{md}"
    );
    assert!(md.contains("(target missed)"), "{md}");
    assert!(
        md.contains("**detected**") && md.contains("**resolved** [resolved]: Fixed <for real>"),
        "{md}"
    );
    assert!(!md.contains("{{"), "every placeholder is filled: {md}");
}

/// The OS keyring through the `keyring` crate, on a real Secret Service (GNOME Keyring in a
/// private D-Bus session): an entry the old console's users stored with `secret-tool store
/// ... service release-console account NAME` is found and copied once under the crate's
/// attributes (the log says so, never the value); the copy is found once the old entry is
/// gone; `secrets forget` deletes it; `secrets set` stores a value read from stdin that the
/// real `secret-tool` reads back under the crate's attributes.
#[test]
fn the_api_key_can_come_from_the_os_keyring() {
    let server = start_fake(Duration::ZERO);
    let ws = workspace("statuspage", &server.base);
    // The keyring lives in this test's own home folder, kept between the sessions below.
    let home = tempfile::tempdir().expect("home");
    let exe = env!("CARGO_BIN_EXE_release-console");
    let create = format!(
        "'{exe}' --workspace '{}' status --action create --status investigating --component api --message 'Key from the keyring'",
        ws.root.display()
    );
    // A private D-Bus session with an unlocked GNOME keyring (the Secret Service) running
    // `script`.
    let session = |script: &str| {
        let script = format!(
            "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; {script}"
        );
        Command::new("dbus-run-session")
            .args(["--", "bash", "-c", &script])
            .env_remove("STATUSPAGE_API_KEY")
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", home.path())
            .output()
            .expect("dbus-run-session (./scripts/test.sh installs it)")
    };
    // Reading the console's own records needs no key at all.
    let o = Command::new(exe)
        .arg("--workspace")
        .arg(&ws.root)
        .args(["status", "list"])
        .env_remove("STATUSPAGE_API_KEY")
        .env("HOME", home.path())
        .output()
        .expect("list");
    ok(&o);

    let o = session(&create);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("$STATUSPAGE_API_KEY is not set and the OS keyring has no entry"),
        "{}",
        text(&o)
    );
    assert!(seen(&server).is_empty());

    // Stored as the console's users did before it used the keyring crate.
    let o = session(&format!(
        "printf %s '{KEY}' | secret-tool store --label='release-console Statuspage' service release-console account STATUSPAGE_API_KEY || exit 9; {create}"
    ));
    ok(&o);
    let reqs = seen(&server);
    assert!(!reqs.is_empty());
    assert!(reqs.iter().all(|r| r.auth == format!("OAuth {KEY}")));
    assert!(!text(&o).contains(KEY));
    assert_eq!(
        text(&o)
            .matches("copied the OS keyring entry for STATUSPAGE_API_KEY")
            .count(),
        1,
        "the copy is said once: {}",
        text(&o)
    );

    // The old entry gone, the copy (the crate's attributes: `username`) is what is found.
    let before = seen(&server).len();
    let o = session(&format!(
        "secret-tool clear service release-console account STATUSPAGE_API_KEY || exit 9; \
         test -z \"$(secret-tool lookup service release-console account STATUSPAGE_API_KEY)\" || exit 8; \
         secret-tool lookup service release-console username STATUSPAGE_API_KEY || exit 7; echo; {create}"
    ));
    ok(&o);
    assert!(
        text(&o).contains(KEY),
        "secret-tool reads the copy: {}",
        text(&o)
    );
    assert!(
        !text(&o).contains("copied the OS keyring entry"),
        "{}",
        text(&o)
    );
    assert!(seen(&server).len() > before);

    // `doctor` says where the key was looked for, never its value.
    let o = session(&format!(
        "'{exe}' --workspace '{}' doctor",
        ws.root.display()
    ));
    assert!(
        text(&o).contains(
            "$STATUSPAGE_API_KEY: not set; OS keyring (service \"release-console\", account \"STATUSPAGE_API_KEY\"): entry found"
        ),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains(KEY), "{}", text(&o));

    // Forgotten, it is missing again.
    let o = session(&format!(
        "'{exe}' secrets forget STATUSPAGE_API_KEY || exit 9; {create}"
    ));
    assert!(
        text(&o).contains("deleted 1 OS keyring entry for STATUSPAGE_API_KEY"),
        "{}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the OS keyring has no entry"),
        "{}",
        text(&o)
    );

    // Stored by the console from stdin; the real secret-tool reads it back.
    let other = "9c1e8b7a6d5f4e3c2b1a0f9e8d7c6b5a";
    let o = session(&format!(
        "printf %s '{other}' | '{exe}' secrets set STATUSPAGE_API_KEY || exit 9; \
         secret-tool lookup service release-console username STATUSPAGE_API_KEY"
    ));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).ends_with(other),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("stored STATUSPAGE_API_KEY in the OS keyring"),
        "{}",
        text(&o)
    );
    // A name that is not a variable's (it may be the secret itself) is refused unechoed.
    let o = Command::new(exe)
        .args(["secrets", "set", "sk-live-5f0e9d8c7b6a"])
        .output()
        .expect("set");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains("sk-live-5f0e9d8c7b6a"), "{}", text(&o));
}

#[test]
fn an_incident_whose_audit_append_was_refused_is_audited_when_the_command_runs_again() {
    let server = start_fake(Duration::ZERO);
    let ws = workspace("statuspage", &server.base);
    let args = [
        "status",
        "--action",
        "create",
        "--status",
        "investigating",
        "--component",
        "api",
        "--message",
        "Exports are slow",
    ];
    // The audit log refuses appends while its head is missing.
    let head = ws.root.join("audit.head");
    let saved = std::fs::read(&head).expect("head");
    std::fs::remove_file(&head).expect("remove head");
    let o = cli(&ws.root, KEY, &args);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("audit.head is missing"), "{}", text(&o));
    let o = cli(&ws.root, KEY, &["--json", "status", "list"]);
    ok(&o);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(0),
        "no record without its audit entry: {listed:#}"
    );

    // Fixed, the same command again: the page's incident is adopted (no duplicate), and this
    // time it is recorded and audited.
    std::fs::write(&head, saved).expect("restore head");
    let o = cli(&ws.root, KEY, &args);
    ok(&o);
    let audit = std::fs::read_to_string(ws.root.join("audit.log")).expect("audit");
    assert_eq!(
        audit
            .matches("\"action\":\"status.incident.create\"")
            .count(),
        1,
        "{audit}"
    );
    let creates = seen(&server)
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/incidents"))
        .count();
    assert_eq!(creates, 1, "the retry did not post a second incident");
}

#[test]
fn a_resolution_is_recorded_with_the_resolve_only_and_old_records_read_without_one() {
    let ws = workspace("local", "https://api.statuspage.io/v1");
    let create = |message: &str| {
        let o = cli(
            &ws.root,
            "",
            &[
                "status",
                "--action",
                "create",
                "--status",
                "investigating",
                "--component",
                "api",
                "--message",
                message,
            ],
        );
        ok(&o);
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    let id = create("Error rate alarm on the API");
    // A resolution belongs to the resolve: refused with an update and with a create, nothing
    // changed.
    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "--action",
            "update",
            "--incident-id",
            &id,
            "--status",
            "identified",
            "--resolution",
            "false-alarm",
            "--message",
            "Looking",
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--resolution false-alarm says how a resolved incident turned out"),
        "{}",
        text(&o)
    );
    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "--action",
            "create",
            "--status",
            "investigating",
            "--component",
            "api",
            "--resolution",
            "fixed",
            "--message",
            "x",
        ],
    );
    assert!(!o.status.success());
    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "--action",
            "resolve",
            "--incident-id",
            &id,
            "--resolution",
            "maybe",
            "--message",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("fixed, no-impact, false-alarm"),
        "{}",
        text(&o)
    );

    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "--action",
            "resolve",
            "--incident-id",
            &id,
            "--resolution",
            "false-alarm",
            "--message",
            "Nothing was wrong: the alarm's threshold was off",
        ],
    );
    ok(&o);
    let book: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.root.join("status/incidents.json")).expect("book"),
    )
    .expect("json");
    assert_eq!(book["incidents"][0]["resolution"], "false-alarm");
    // Audited: the resolve entry carries the record with its resolution.
    let log = std::fs::read_to_string(ws.root.join("audit.log")).expect("log");
    let resolve: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|e| e["action"] == "status.incident.resolve")
        .expect("resolve entry");
    assert_eq!(resolve["after"]["incident"]["resolution"], "false-alarm");
    let o = cli(&ws.root, "", &["status", "list", "--all"]);
    assert!(text(&o).contains("resolved (false-alarm)"), "{}", text(&o));

    // Resolved without saying: no field written, and a file from before the field reads.
    let other = create("Slow loads");
    let o = cli(
        &ws.root,
        "",
        &[
            "status",
            "--action",
            "resolve",
            "--incident-id",
            &other,
            "--message",
            "ok",
        ],
    );
    ok(&o);
    let text_of_book =
        std::fs::read_to_string(ws.root.join("status/incidents.json")).expect("book");
    let book: Value = serde_json::from_str(&text_of_book).expect("json");
    assert!(book["incidents"][1].get("resolution").is_none(), "{book}");
    let o = cli(&ws.root, "", &["audit", "verify"]);
    ok(&o);
    let o = cli(&ws.root, "", &["--json", "status", "list", "--all"]);
    ok(&o);
    let listed: Value = serde_json::from_slice(&o.stdout).expect("json");
    let resolutions: Vec<&Value> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|i| &i["resolution"])
        .collect();
    assert!(resolutions.contains(&&json!("false-alarm")), "{listed}");
    assert!(resolutions.contains(&&Value::Null), "{listed}");
}

/// `workspace push`es the local workspace `ws` to `url` as `console`.
fn push(console: &crate::team::Console, ws: &Path, url: &str) {
    let mut c = common::bin();
    c.args(["workspace", "push"]).arg(ws).arg(url);
    console.env(&mut c);
    ok(&c.output().expect("push"));
}

fn resolve_args<'a>(id: &'a str, message: &'a str) -> [&'a str; 7] {
    [
        "status",
        "--action",
        "resolve",
        "--incident-id",
        id,
        "--message",
        message,
    ]
}

/// The id of the incident a create printed.
fn incident_id(o: &Output) -> String {
    let out = ok(o);
    out.split_whitespace()
        .find(|w| w.starts_with("INC-"))
        .unwrap_or_else(|| panic!("no incident id in {out}"))
        .to_owned()
}

fn page_of(folder: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(folder.join("status/page.json")).expect("page.json"),
    )
    .expect("page json")
}

fn component(page: &Value, name: &str) -> String {
    page["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        .to_owned()
}

/// On a team's workspace (a real S3 server) the local status page is one page: ben posts a P1,
/// ana's console renders the same page (the same incident id, the component in partial
/// outage) and resolves it, and ben's page shows it resolved. A page file that lost its last
/// change (a crash) is rolled forward, and one edited by hand fails `audit verify` naming it.
#[test]
fn two_consoles_work_one_incident_on_the_teams_local_status_page() {
    let weed = common::Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = crate::team::Console::new(&weed, dir.path(), "ana");
    let ben = crate::team::Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/pages";
    ok(&ana.run(ws, &["init", ws]));

    let id = incident_id(&ben.run(ws, &CREATE));
    let (ana_dir, ben_dir) = (ana.folder("pages"), ben.folder("pages"));
    let bens = page_of(&ben_dir);
    assert_eq!(component(&bens, "collaboration"), "partial_outage");
    let page_id = bens["incidents"][0]["id"].as_str().expect("id").to_owned();

    // Ana's console reads the page from the log: the same page, rendered the same.
    let list = ok(&ana.run(ws, &["status", "list"]));
    assert!(list.contains(&id), "{list}");
    let anas = page_of(&ana_dir);
    assert_eq!(anas, bens, "one page for the team");
    assert_eq!(
        std::fs::read_to_string(ana_dir.join("status/index.html")).expect("ana's html"),
        std::fs::read_to_string(ben_dir.join("status/index.html")).expect("ben's html"),
    );
    assert!(
        std::fs::read_to_string(ana_dir.join("status/index.html"))
            .expect("html")
            .contains("Partial outage")
    );

    // Ana resolves ben's incident: the page knows it.
    let before_resolve = std::fs::read(ana_dir.join("status/page.json")).expect("page");
    ok(&ana.run(ws, &resolve_args(&id, "Sync is back to normal")));
    let anas = page_of(&ana_dir);
    assert_eq!(anas["incidents"][0]["id"], page_id.as_str());
    assert_eq!(anas["incidents"][0]["status"], "resolved");
    assert_eq!(component(&anas, "collaboration"), "operational");

    // Ben's console sees it resolved, on its page and in its records.
    let list = ben.run(ws, &["--json", "status", "list", "--all"]);
    ok(&list);
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(list[0]["status"], "resolved");
    let bens = page_of(&ben_dir);
    assert_eq!(bens, anas);
    let html = std::fs::read_to_string(ben_dir.join("status/index.html")).expect("html");
    assert!(html.contains("All systems operational"), "{html}");
    assert!(html.contains("Sync is back to normal"), "{html}");
    // One URL for the team: the bucket holds the page as of the last change.
    let (status, there) = weed.request("GET", "/team/pages/status/index.html", &[], b"");
    assert_eq!(status, 200, "{there}");
    let last_seq = anas["audit_seq"].as_u64().expect("seq");
    assert_eq!(
        there,
        format!(
            "{}{html}",
            release_console::workspace::shared::rendered_mark(last_seq)
        ),
        "the rendering of the page's last change"
    );
    let posts = crate::team::entries(&ben, ws)
        .into_iter()
        .filter(|e| e["action"] == "status.page.post")
        .map(|e| e["actor"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        posts,
        ["ben", "ana"],
        "each change of the page is recorded by its poster"
    );
    ok(&ana.run(ws, &["audit", "verify"]));
    ok(&ben.run(ws, &["audit", "verify"]));

    // A crash between the entry and the file: the page as it was before is rolled forward.
    std::fs::write(ana_dir.join("status/page.json"), &before_resolve).expect("old page");
    ok(&ana.run(ws, &["status", "list"]));
    assert_eq!(page_of(&ana_dir), anas, "rolled forward from the log");

    // Edited by hand: verify names the file and what differs.
    let edited = std::fs::read_to_string(ana_dir.join("status/page.json"))
        .expect("page")
        .replace("\"resolved\"", "\"monitoring\"");
    std::fs::write(ana_dir.join("status/page.json"), edited).expect("edit");
    let o = ana.run(ws, &["audit", "verify"]);
    assert!(!o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("status/page.json disagrees with the log")
            && t.contains(&format!(
                "incident {page_id} is resolved in the log, monitoring in the file"
            )),
        "{t}"
    );
}

/// With Atlassian Statuspage, ana resolves the incident ben created: by the page's id the log
/// recorded, so the fake answers the PATCH of that incident (a 404 for any other id).
#[test]
fn on_a_team_workspace_statuspage_is_updated_by_the_id_the_log_recorded() {
    let server = start_fake(Duration::from_millis(100));
    let local = workspace("statuspage", &server.base);
    let weed = common::Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ana = crate::team::Console::new(&weed, dir.path(), "ana");
    let ben = crate::team::Console::new(&weed, dir.path(), "ben");
    let ws = "s3://team/vendor";
    push(&ana, &local.root, ws);
    let key = [("STATUSPAGE_API_KEY", KEY)];

    let id = incident_id(&ben.run_with(ws, &key, &CREATE));
    ok(&ana.run_with(ws, &key, &resolve_args(&id, "Sync is back to normal")));
    let resolve = seen(&server).last().cloned().expect("resolve");
    assert_eq!(
        (resolve.method.as_str(), resolve.path.as_str()),
        (
            "PATCH",
            format!("/v1/pages/{PAGE}/incidents/inc00000001").as_str()
        )
    );
    let page = incidents(&server);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["status"], "resolved");
    let list = ben.run_with(ws, &key, &["--json", "status", "list", "--all"]);
    ok(&list);
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(list[0]["status"], "resolved");
    assert_eq!(list[0]["page_incident_id"], "inc00000001");
    // Statuspage's changes are not the local page's: none is recorded.
    assert!(
        crate::team::entries(&ana, ws)
            .iter()
            .all(|e| e["action"] != "status.page.post")
    );
}

/// Two consoles open at once: ana's has not read ben's post yet, so her change of the page is
/// refused as raced (never built on the page without his incident); once her console has read
/// the log, her post keeps his incident beside hers.
#[test]
fn a_change_of_the_teams_page_made_from_a_stale_copy_is_refused_then_made_on_the_new_page() {
    use release_console::status::incident::{self, CreateRequest};
    use release_console::status::local::LocalPage;
    use release_console::status::{IncidentStatus, Severity};
    let weed = common::Weed::start();
    weed.bucket("team");
    let dir = tempfile::tempdir().expect("dir");
    let ws = "s3://team/race";
    let ana = crate::team::Console::new(&weed, dir.path(), "ana");
    ok(&ana.run(ws, &["init", ws]));
    let anas = crate::team::open_as(&weed, dir.path(), "ana-window", ws);
    let ben = crate::team::Console::new(&weed, dir.path(), "ben");
    let bens_id = incident_id(&ben.run(ws, &CREATE));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let req = CreateRequest {
        name: None,
        status: IncidentStatus::Investigating,
        message: "Exports fail for some users".into(),
        severity: Severity::P2,
        components: vec!["import-export".into()],
        component_status: None,
        detected_at: None,
        deliver_notifications: false,
        idempotency_key: None,
    };
    let post = || {
        rt.block_on(incident::create(
            &anas,
            &LocalPage::new(&anas),
            "local",
            &req,
        ))
    };
    let err = post().expect_err("raced").to_string();
    assert!(
        err.contains("status-page was changed by") && err.contains("status.page.post"),
        "{err}"
    );
    anas.sync(release_console::projections::ALL).expect("sync");
    let mine = post().expect("posted on the page as it is");
    let page = page_of(anas.root());
    let ids: Vec<&str> = page["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{page}");
    assert_eq!(ids[1], mine.page_incident_id);
    assert_eq!(component(&page, "collaboration"), "partial_outage", "ben's");
    assert_eq!(component(&page, "import-export"), "degraded_performance");
    let list = ok(&ben.run(ws, &["status", "list"]));
    assert!(list.contains(&bens_id) && list.contains(&mine.id), "{list}");
    assert_eq!(page_of(&ben.folder("race")), page);
}
