//! A stateful Argo CD fake that follows the published API
//! (`tests/fixtures/vendor/argo-cd/swagger.json`), with Prism in front of it checking every
//! request and response against that spec. Argo CD itself needs Kubernetes, which cannot run here.
//!
//! Applications: `collab-api` (Running, then Succeeded + Progressing, then Healthy),
//! `broken-api` (Succeeded, then Degraded), `stuck-api` (Running and Progressing until
//! terminated); a token other than [`TOKEN`] gets 401, another name 404. A rollback leaves the
//! application `OutOfSync` (Git still asks for the newer revision), as Argo CD reports it, and
//! a requested operation shows in the Application's own `operation` until it is over.
//! [`Fake::faults`] make a gateway answer a sync or rollback 5xx, after or before it took
//! effect.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::Prism;

pub const TOKEN: &str = "argocd-test-token-4f1d";

/// How an application behaves once synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Running, then Succeeded + Progressing, then Healthy.
    Healthy,
    /// Succeeded, then the Deployment is Degraded.
    Degraded,
    /// Running and Progressing forever (until terminated).
    Stuck,
}

#[derive(Debug)]
pub struct App {
    scenario: Scenario,
    revision: String,
    health: String,
    history: Vec<(i64, String, String)>,
    pub op: Option<Op>,
    /// Rolled back: live is not what Git asks for.
    out_of_sync: bool,
}

#[derive(Debug)]
pub struct Op {
    pub phase: String,
    message: String,
    requested: String,
    started_at: String,
    finished_at: Option<String>,
    polls: u32,
    rollback: bool,
}

/// What a gateway in front of Argo CD does to the next sync or rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Argo CD starts the operation; the console gets this 5xx instead of its answer.
    AfterEffect(u16),
    /// The request never reaches Argo CD; the console gets this 5xx.
    BeforeEffect(u16),
}

#[derive(Debug, Default)]
pub struct Fake {
    /// The token requests must carry.
    token: String,
    pub apps: std::collections::BTreeMap<String, App>,
    /// Every request: method, path and body.
    pub requests: Vec<(String, String, Value)>,
    /// What becomes of the next syncs and rollbacks (one each, in order).
    pub faults: Vec<Fault>,
}

pub type Shared = Arc<Mutex<Fake>>;

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn sha_of(rev: &str) -> String {
    // A tag resolves to a commit, as Argo CD reports it.
    release_console::sha256_hex(rev.as_bytes())[..40].to_owned()
}

fn error(status: StatusCode, code: i64, message: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({ "error": message, "code": code, "message": message })),
    )
}

fn authorized(f: &Fake, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", f.token))
}

fn app_json(name: &str, a: &App) -> Value {
    let running = a.op.as_ref().filter(|o| o.phase == "Running");
    let synced = running.is_none() && !a.out_of_sync;
    let deployment_health = a.health.clone();
    let mut status = json!({
        "sync": {"status": if synced { "Synced" } else { "OutOfSync" }, "revision": a.revision},
        "health": {"status": a.health},
        "resources": [
            {"kind": "Deployment", "group": "apps", "version": "v1", "namespace": "wiretuner",
             "name": "collab-api", "status": if synced { "Synced" } else { "OutOfSync" },
             "health": if deployment_health == "Degraded" {
                 json!({"status": "Degraded", "message": "Deployment \"collab-api\" exceeded its progress deadline"})
             } else {
                 json!({"status": deployment_health})
             }},
            {"kind": "ConfigMap", "version": "v1", "namespace": "wiretuner", "name": "collab-config",
             "status": "Synced"}
        ],
        "history": a.history.iter().map(|(id, rev, at)| json!({
            "id": id, "revision": rev, "deployedAt": at, "deployStartedAt": at
        })).collect::<Vec<_>>(),
    });
    if let Some(op) = &a.op {
        let mut state = json!({
            "phase": op.phase,
            "message": op.message,
            "startedAt": op.started_at,
            "operation": {"sync": {"revision": op.requested, "prune": false}},
        });
        if let Some(f) = &op.finished_at {
            state["finishedAt"] = json!(f);
            state["syncResult"] = json!({"revision": sha_of(&op.requested), "resources": []});
        }
        status["operationState"] = state;
    }
    let mut app = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"project": "default",
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "wiretuner"},
                 "source": {"repoURL": "https://git.example.com/wiretuner/deploy.git", "path": "collab", "targetRevision": "main"}},
        "status": status,
    });
    if let Some(op) = running {
        app["operation"] = json!({
            "sync": {"revision": op.requested, "prune": false},
            "initiatedBy": {"username": "admin"},
        });
    }
    app
}

/// One poll moves a running operation along its scenario.
fn advance(a: &mut App) {
    let Some(op) = a.op.as_mut() else { return };
    if op.finished_at.is_some() && a.scenario == Scenario::Healthy && a.health == "Progressing" {
        a.health = "Healthy".into();
        return;
    }
    if op.phase != "Running" {
        return;
    }
    op.polls += 1;
    if a.scenario == Scenario::Stuck || op.polls < 2 {
        a.health = "Progressing".into();
        return;
    }
    op.phase = "Succeeded".into();
    op.message = "successfully synced (all tasks run)".into();
    op.finished_at = Some(now());
    if op.rollback {
        // Live is the old revision; Git (what the app is compared with) still the new one.
        a.out_of_sync = true;
    } else {
        a.revision = sha_of(&op.requested);
        a.out_of_sync = false;
    }
    a.health = if a.scenario == Scenario::Degraded {
        "Degraded".into()
    } else {
        "Progressing".into()
    };
    let id = a.history.last().map_or(0, |h| h.0) + 1;
    a.history.push((id, op.requested.clone(), now()));
}

/// The application `name`, after checking the token: 401 and 404 as Argo CD answers them.
fn app_for<'a>(
    f: &'a mut Fake,
    headers: &HeaderMap,
    name: &str,
) -> Result<&'a mut App, (StatusCode, Json<Value>)> {
    if !authorized(f, headers) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            16,
            "invalid session: token signature is invalid",
        ));
    }
    f.apps.get_mut(name).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            5,
            &format!("applications.argoproj.io \"{name}\" not found"),
        )
    })
}

async fn get_app(
    State(s): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let mut f = s.lock().expect("fake");
    f.requests.push((
        "GET".into(),
        format!("/api/v1/applications/{name}"),
        Value::Null,
    ));
    let a = app_for(&mut f, &headers, &name)?;
    advance(a);
    Ok(Json(app_json(&name, a)))
}

fn start_op(a: &mut App, requested: String, rollback: bool) {
    a.op = Some(Op {
        phase: "Running".into(),
        message: "waiting for completion of hook batch/Job/migrate".into(),
        requested,
        started_at: now(),
        finished_at: None,
        polls: 0,
        rollback,
    });
    a.health = "Progressing".into();
}

/// The next fault, if any: `Err` is the gateway's answer when it comes before the effect.
fn next_fault(f: &mut Fake) -> Result<Option<u16>, (StatusCode, Json<Value>)> {
    if f.faults.is_empty() {
        return Ok(None);
    }
    match f.faults.remove(0) {
        Fault::AfterEffect(code) => Ok(Some(code)),
        Fault::BeforeEffect(code) => Err(gateway(code)),
    }
}

fn gateway(code: u16) -> (StatusCode, Json<Value>) {
    error(
        StatusCode::from_u16(code).expect("status"),
        14,
        "upstream request timeout",
    )
}

async fn sync(
    State(s): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let mut f = s.lock().expect("fake");
    f.requests.push((
        "POST".into(),
        format!("/api/v1/applications/{name}/sync"),
        body.clone(),
    ));
    let fault = next_fault(&mut f)?;
    let a = app_for(&mut f, &headers, &name)?;
    if a.op.as_ref().is_some_and(|o| o.phase == "Running") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            9,
            "another operation is already in progress",
        ));
    }
    start_op(
        a,
        body["revision"].as_str().unwrap_or("HEAD").to_owned(),
        false,
    );
    if let Some(code) = fault {
        return Err(gateway(code));
    }
    Ok(Json(app_json(&name, a)))
}

async fn rollback(
    State(s): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let mut f = s.lock().expect("fake");
    f.requests.push((
        "POST".into(),
        format!("/api/v1/applications/{name}/rollback"),
        body.clone(),
    ));
    let fault = next_fault(&mut f)?;
    let a = app_for(&mut f, &headers, &name)?;
    if a.op.as_ref().is_some_and(|o| o.phase == "Running") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            9,
            "another operation is already in progress",
        ));
    }
    let id = body["id"]
        .as_i64()
        .or_else(|| body["id"].as_str().and_then(|v| v.parse().ok()));
    let Some(rev) = a
        .history
        .iter()
        .find(|h| Some(h.0) == id)
        .map(|h| h.1.clone())
    else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            3,
            "application has no history entry with that id",
        ));
    };
    start_op(a, rev, true);
    if let Some(code) = fault {
        return Err(gateway(code));
    }
    Ok(Json(app_json(&name, a)))
}

async fn terminate(
    State(s): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let mut f = s.lock().expect("fake");
    f.requests.push((
        "DELETE".into(),
        format!("/api/v1/applications/{name}/operation"),
        Value::Null,
    ));
    let a = app_for(&mut f, &headers, &name)?;
    match a.op.as_mut() {
        Some(op) if op.phase == "Running" => {
            op.phase = "Failed".into();
            op.message = "Operation terminated".into();
            op.finished_at = Some(now());
            Ok(Json(json!({})))
        }
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            9,
            "Unable to terminate operation. No operation is in progress",
        )),
    }
}

/// The fake, with Prism validating in front of it.
pub struct Argo {
    pub fake: Shared,
    pub prism: Prism,
}

pub fn start() -> Argo {
    start_accepting(TOKEN)
}

/// The fake accepting only `token`.
pub fn start_accepting(token: &str) -> Argo {
    let fake: Shared = Arc::default();
    {
        let mut f = fake.lock().expect("fake");
        token.clone_into(&mut f.token);
        for (name, scenario) in [
            ("collab-api", Scenario::Healthy),
            ("broken-api", Scenario::Degraded),
            ("stuck-api", Scenario::Stuck),
        ] {
            f.apps.insert(
                name.into(),
                App {
                    scenario,
                    revision: sha_of("v1.1.0"),
                    health: "Healthy".into(),
                    history: vec![(1, "v1.1.0".into(), "2026-11-20T10:00:00Z".into())],
                    op: None,
                    out_of_sync: false,
                },
            );
        }
    }
    let app = Router::new()
        .route("/api/v1/applications/{name}", get(get_app))
        .route("/api/v1/applications/{name}/sync", post(sync))
        .route("/api/v1/applications/{name}/rollback", post(rollback))
        .route("/api/v1/applications/{name}/operation", delete(terminate))
        .with_state(fake.clone());
    let addr = super::serve(app);
    let prism = Prism::proxy(
        &super::vendor("argo-cd/swagger.json"),
        &format!("http://{addr}"),
    );
    Argo { fake, prism }
}

/// A new workspace with release 1.2.0 whose `[deploy.argocd]` is `application` behind Prism.
pub fn workspace(
    argo: &Argo,
    application: &str,
    timeout_mins: f64,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let ws = dir.path().join("ws");
    super::init(&ws);
    configure(&ws, argo, application, timeout_mins, "ARGOCD_AUTH_TOKEN");
    assert!(
        super::cli(&ws, &["release", "new", "1.2.0"])
            .status
            .success()
    );
    (dir, ws)
}

/// Points the workspace at `application` behind Prism, its token in `token_env`.
pub fn configure(
    ws: &std::path::Path,
    argo: &Argo,
    application: &str,
    timeout_mins: f64,
    token_env: &str,
) {
    let path = ws.join("release-console.toml");
    let mut cfg: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    let mut a = toml::Table::new();
    a.insert("api_base".into(), argo.prism.url.as_str().into());
    a.insert("application".into(), application.into());
    a.insert("timeout_mins".into(), timeout_mins.into());
    a.insert("poll_interval_ms".into(), 100.into());
    a.insert("token_env".into(), token_env.into());
    let mut d = toml::Table::new();
    d.insert("argocd".into(), a.into());
    cfg.insert("deploy".into(), d.into());
    std::fs::write(&path, toml::to_string(&cfg).expect("toml")).expect("write");
}
