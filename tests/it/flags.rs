//! Feature flags end to end through the CLI: a real Unleash server (npm `unleash-server@7.5.1`
//! on `PostgreSQL`, started here), a fake `LaunchDarkly` server that follows the published REST v2
//! API, and the local provider with its staged rollout rules.

#![expect(
    clippy::result_large_err,
    reason = "axum handlers return a Response as their error"
)]

use crate::common;

use crate::common::{ok, text};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const UNLEASH_TOKEN: &str = "*:*.unleash-insecure-admin-api-token";

struct Ws {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// A workspace whose `[flags]` table is replaced by `flags_toml`, with local KPI samples that
/// keep the gate green.
fn workspace(flags_toml: &str) -> Ws {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path().join("ws");
    common::init(&root);
    let cfg = root.join("release-console.toml");
    let config = std::fs::read_to_string(&cfg).expect("config");
    let start = config.find("[flags]").expect("flags table");
    let end = start + config[start..].find("\n[").expect("next table") + 1;
    let config = format!("{}{flags_toml}\n{}", &config[..start], &config[end..]);
    std::fs::write(&cfg, config).expect("config");
    for (kpi, value) in [
        ("error_rate", "0.1"),
        ("snapshot_duration", "120"),
        ("ot_transform_latency", "12"),
        ("queue_depth", "3"),
    ] {
        let o = cli(
            &root,
            &[],
            &["kpi", "record", "--name", kpi, "--value", value],
        );
        ok(&o);
    }
    Ws { _dir: dir, root }
}

fn cli(ws: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    common::cli_with(ws, env, args)
}

/// The Unleash server, killed when dropped.
struct Unleash {
    child: Child,
    base: String,
}

impl Drop for Unleash {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_unleash() -> Unleash {
    let server = std::env::var("RC_TEST_UNLEASH_SERVER").expect(
        "RC_TEST_UNLEASH_SERVER is not set: run ./scripts/test.sh (it installs unleash-server and starts PostgreSQL)",
    );
    let db = std::env::var("RC_TEST_DATABASE_URL")
        .expect("RC_TEST_DATABASE_URL is not set: run ./scripts/test.sh");
    let port = common::free_port();
    let log = std::fs::File::create(std::env::temp_dir().join(format!("unleash-{port}.log")))
        .expect("log");
    let child = Command::new("node")
        .arg(&server)
        .env("DATABASE_URL", &db)
        .env("DATABASE_SSL", "false")
        .env("HTTP_HOST", "127.0.0.1")
        .env("HTTP_PORT", port.to_string())
        .env("INIT_ADMIN_API_TOKENS", UNLEASH_TOKEN)
        .env("CHECK_VERSION", "false")
        .env("SEND_TELEMETRY", "false")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start node");
    let base = format!("http://127.0.0.1:{port}");
    let mut unleash = Unleash { child, base };
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        if let Ok(body) = http_get(&unleash.base, "/health", None)
            && body["health"] == "GOOD"
        {
            return unleash;
        }
        if let Ok(Some(status)) = unleash.child.try_wait() {
            panic!(
                "unleash exited with {status}; see {}",
                std::env::temp_dir()
                    .join(format!("unleash-{port}.log"))
                    .display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "unleash did not become healthy in 120 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A blocking GET (the test's own view of a server), JSON body or Err(status).
fn http_get(base: &str, path: &str, auth: Option<&str>) -> Result<Value, u16> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(format!("{base}{path}"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.map_err(|_| 0u16)?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(status);
        }
        resp.json::<Value>().await.map_err(|_| status)
    })
}

fn unleash_env<'a>() -> [(&'a str, &'a str); 1] {
    [("UNLEASH_ADMIN_TOKEN", UNLEASH_TOKEN)]
}

/// The flexibleRollout percentage and enabled state in production, read from the server.
fn unleash_production(base: &str, key: &str) -> (bool, Option<String>) {
    let f = http_get(
        base,
        &format!("/api/admin/projects/default/features/{key}"),
        Some(UNLEASH_TOKEN),
    )
    .expect("feature");
    let env = f["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .find(|e| e["name"] == "production")
        .cloned()
        .expect("production");
    let rollout = env["strategies"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "flexibleRollout"))
        .and_then(|s| s["parameters"]["rollout"].as_str().map(str::to_owned));
    (env["enabled"].as_bool().unwrap_or(false), rollout)
}

#[test]
fn a_real_unleash_server_sees_create_staged_rollout_rollback_and_archive() {
    let unleash = start_unleash();
    let ws = workspace(&format!(
        "[flags]\nprovider = \"unleash\"\napi_base = \"{}\"\nproject_key = \"default\"\nenvironment = \"production\"\ntoken_env = \"UNLEASH_ADMIN_TOKEN\"\nprefixes = [\"ui\", \"api\", \"collab\", \"export\"]\n",
        unleash.base
    ));
    // Archived names cannot be reused on a server: a unique key per run.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_nanos();
    let key = format!("ui_exporter_{nanos}");
    let env = unleash_env();

    let o = cli(
        &ws.root,
        &env,
        &[
            "flags",
            "create",
            &key,
            "--name",
            "New exporter",
            "--tag",
            "team:frontend",
            "--tag",
            "type:release",
        ],
    );
    ok(&o);
    assert_eq!(
        unleash_production(&unleash.base, &key),
        (false, None),
        "created OFF"
    );
    let tags = http_get(
        &unleash.base,
        &format!("/api/admin/features/{key}/tags"),
        Some(UNLEASH_TOKEN),
    )
    .expect("tags");
    let values: Vec<&str> = tags["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["value"].as_str())
        .collect();
    assert_eq!(values.len(), 2, "{tags}");
    assert!(values.contains(&"team:frontend") && values.contains(&"type:release"));

    // A name that breaks the convention never reaches the server.
    let o = cli(
        &ws.root,
        &env,
        &["flags", "create", "NewExporter", "--name", "x"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("has no prefix"));

    let o = cli(&ws.root, &env, &["flags", "advance", &key]);
    ok(&o);
    assert_eq!(
        unleash_production(&unleash.base, &key),
        (true, Some("10".into()))
    );

    // 10% holds two hours: advancing now is refused; an override with a reason is audited.
    let o = cli(&ws.root, &env, &["flags", "advance", &key]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("has held 10%"), "{}", text(&o));
    assert_eq!(
        unleash_production(&unleash.base, &key).1.as_deref(),
        Some("10")
    );
    let o = cli(
        &ws.root,
        &env,
        &[
            "flags",
            "advance",
            &key,
            "--override",
            "canary metrics reviewed by on-call",
        ],
    );
    ok(&o);
    assert_eq!(
        unleash_production(&unleash.base, &key),
        (true, Some("50".into()))
    );
    let o = cli(
        &ws.root,
        &env,
        &[
            "flags",
            "rollout",
            &key,
            "--percent",
            "100",
            "--override",
            "launch day",
        ],
    );
    ok(&o);
    assert_eq!(
        unleash_production(&unleash.base, &key),
        (true, Some("100".into()))
    );

    let o = cli(&ws.root, &env, &["--json", "flags", "list"]);
    let list: Value = serde_json::from_slice(&o.stdout).expect("json");
    let row = list
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["flag"]["key"] == key.as_str())
        .expect("row");
    assert_eq!(row["flag"]["rollout_percent"], 100);
    assert_eq!(row["flag"]["on"], true);
    // Every environment the server has, not only the staged one.
    assert_eq!(
        row["flag"]["environments"]["production"],
        json!({"on": true, "rollout_percent": 100})
    );
    assert_eq!(
        row["flag"]["environments"]["development"],
        json!({"on": false, "rollout_percent": 0})
    );

    let o = cli(&ws.root, &env, &["flags", "rollback", &key]);
    ok(&o);
    assert!(
        !unleash_production(&unleash.base, &key).0,
        "off after rollback"
    );

    let o = cli(&ws.root, &env, &["flags", "archive", &key]);
    ok(&o);
    assert_eq!(
        http_get(
            &unleash.base,
            &format!("/api/admin/projects/default/features/{key}"),
            Some(UNLEASH_TOKEN)
        )
        .err(),
        Some(404)
    );
    // Searched by its key: the database outlives a test run, and the search answers a page
    // (50) of the archived flags of every run before.
    let archived = http_get(
        &unleash.base,
        &format!("/api/admin/search/features?query={key}&archived=IS:true&project=IS:default"),
        Some(UNLEASH_TOKEN),
    )
    .expect("archive");
    assert!(
        archived.to_string().contains(&key),
        "archived on the server"
    );
    // The server's own event log for the flag, read through the console.
    let o = cli(&ws.root, &env, &["--json", "flags", "history", &key]);
    ok(&o);
    let history: Value = serde_json::from_slice(&o.stdout).expect("json");
    let whats: Vec<&str> = history
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["what"].as_str())
        .collect();
    for event in [
        "feature-archived",
        "feature-environment-disabled (production)",
        "feature-created",
    ] {
        assert!(whats.contains(&event), "{event} in {whats:?}");
    }

    let audit = std::fs::read_to_string(ws.root.join("audit.log")).expect("audit");
    for action in [
        "flags.create",
        "flags.advance",
        "flags.rollout",
        "flags.rollback",
        "flags.archive",
    ] {
        assert!(
            audit.contains(&format!("\"action\":\"{action}\"")),
            "{action}"
        );
    }
    assert!(audit.contains("canary metrics reviewed by on-call"));
    assert!(
        !audit.contains("unleash-insecure-admin-api-token"),
        "the token is never recorded"
    );
}

fn checklist_done(ws: &Path, item: &str) -> bool {
    let o = cli(ws, &[], &["--json", "checklist", "show"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    v["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .any(|i| i["id"] == item && i["state"]["done"] == true)
}

#[test]
fn a_flag_change_the_audit_log_refuses_is_not_made_and_a_failed_one_is_audited() {
    let ws = workspace(
        "[flags]\nprovider = \"local\"\nenvironment = \"production\"\nprefixes = [\"ui\", \"export\"]\n",
    );
    let run = |args: &[&str]| cli(&ws.root, &[], args);
    let create = [
        "flags",
        "create",
        "export_svg_v3",
        "--name",
        "SVG export v3",
    ];
    // Appends are refused while the head is missing: the flag is not created either.
    let head = ws.root.join("audit.head");
    let saved = std::fs::read(&head).expect("head");
    std::fs::remove_file(&head).expect("remove head");
    let o = run(&create);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("audit.head is missing"), "{}", text(&o));
    let local = std::fs::read_to_string(ws.root.join("flags/local.json")).unwrap_or_default();
    assert!(!local.contains("export_svg_v3"), "{local}");
    let plans = std::fs::read_to_string(ws.root.join("flags/plans.json")).unwrap_or_default();
    assert!(!plans.contains("export_svg_v3"), "{plans}");
    // KPI samples open the gate: one the log refuses is not recorded either.
    let samples = std::fs::read(ws.root.join("kpi/samples.json")).expect("samples");
    let o = run(&["kpi", "record", "--name", "error_rate", "--value", "0"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        std::fs::read(ws.root.join("kpi/samples.json")).expect("samples"),
        samples
    );

    std::fs::write(&head, saved).expect("restore head");
    assert!(run(&create).status.success());
    // A second create of the same key fails at the provider: the intent and its failure are
    // both in the log.
    let o = run(&create);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let audit = std::fs::read_to_string(ws.root.join("audit.log")).expect("audit");
    assert_eq!(
        audit.matches("\"action\":\"flags.create\"").count(),
        2,
        "{audit}"
    );
    assert_eq!(
        audit.matches("\"action\":\"flags.create.failed\"").count(),
        1,
        "{audit}"
    );
    // The four samples the fixture recorded, each with its entry.
    assert_eq!(
        audit.matches("\"action\":\"kpi.record\"").count(),
        4,
        "{audit}"
    );
    assert!(run(&["audit", "verify"]).status.success());
}

#[test]
fn the_local_provider_reviews_holds_stages_and_needs_a_green_gate() {
    let ws = workspace(
        "[flags]\nprovider = \"local\"\nenvironment = \"production\"\nprefixes = [\"ui\", \"export\"]\n",
    );
    let run = |args: &[&str]| cli(&ws.root, &[], args);
    assert!(run(&["release", "new", "2.0.0"]).status.success());
    let o = run(&[
        "flags",
        "create",
        "export_pdf_v2",
        "--name",
        "PDF export v2",
    ]);
    ok(&o);
    // The pre-release review names what is wrong; a clean one ticks its checklist item.
    let o = run(&["flags", "review"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("FAIL export_pdf_v2: no tags"),
        "{}",
        text(&o)
    );
    assert!(run(&["flags", "archive", "export_pdf_v2"]).status.success());
    let o = run(&[
        "flags",
        "create",
        "ui_tagged",
        "--name",
        "Tagged",
        "--tag",
        "type:release",
    ]);
    ok(&o);
    let o = run(&["flags", "review"]);
    ok(&o);
    assert!(checklist_done(&ws.root, "pre.review-flags"));

    // The gate turns red when the error rate crosses 0.5%.
    assert!(
        run(&["kpi", "record", "--name", "error_rate", "--value", "0.8"])
            .status
            .success()
    );
    let o = run(&["flags", "advance", "ui_tagged"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("error_rate reached 0.80% (limit 0.50%)"),
        "{}",
        text(&o)
    );
    let o = run(&["kpi"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("gate: RED"));
    // Skipping a stage needs an override too.
    assert_eq!(
        run(&["flags", "rollout", "ui_tagged", "--percent", "50"])
            .status
            .code(),
        Some(1)
    );
    assert!(!checklist_done(&ws.root, "deploy.flags-10"));
    let o = run(&[
        "flags",
        "rollout",
        "ui_tagged",
        "--percent",
        "10",
        "--override",
        "error spike is from another service",
    ]);
    ok(&o);
    // Every active flag is at 10%: the checklist's canary item ticks itself.
    assert!(checklist_done(&ws.root, "deploy.flags-10"));
    assert!(!checklist_done(&ws.root, "deploy.flags-50"));
    let o = run(&["--json", "flags", "history", "ui_tagged"]);
    let history: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(history[0]["what"], "rollout to 10%");
    assert_eq!(history[1]["what"], "created (OFF)");

    let o = run(&["--json", "flags", "list", "--tag", "type:release"]);
    let list: Value = serde_json::from_slice(&o.stdout).expect("json");
    let keys: Vec<&str> = list
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["flag"]["key"].as_str())
        .collect();
    assert_eq!(keys, ["ui_tagged"]);

    let o = run(&["--json", "flags", "retire-report"]);
    let report: Value = serde_json::from_slice(&o.stdout).expect("json");
    let tagged = report
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["key"] == "ui_tagged")
        .expect("line");
    assert_eq!(tagged["percent"], 10);
    assert_eq!(tagged["due_for_retirement"], false);
    let archived = report
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["key"] == "export_pdf_v2")
        .expect("line");
    assert!(archived["archived_at"].is_string());
}

// ---- A fake LaunchDarkly REST API v2 ----

#[derive(Debug, Clone)]
struct LdSeen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

#[derive(Debug, Default)]
struct Ld {
    flags: Vec<Value>,
    /// Audit log entries: (flag key, entry).
    audit: Vec<(String, Value)>,
    seen: Vec<LdSeen>,
    /// Answer the next request with 429 and this Retry-After.
    throttle_next: Option<&'static str>,
    /// Changes in production need approval (405).
    approvals: bool,
    /// The most flags one page of a list holds (the API's maximum is 100).
    max_page: usize,
}

type LdShared = Arc<Mutex<Ld>>;
const LD_TOKEN: &str = "api-0123-fake-ld-token";

fn ld_error(status: u16, code: &str, message: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::from_u16(status).expect("status"),
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

fn ld_admit(
    ld: &mut Ld,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &Value,
) -> Result<(), axum::response::Response> {
    use axum::response::IntoResponse;
    ld.seen.push(LdSeen {
        method: method.to_string(),
        path: uri.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.clone(),
    });
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(LD_TOKEN) {
        return Err(ld_error(401, "unauthorized", "Invalid account ID header"));
    }
    if let Some(ra) = ld.throttle_next.take() {
        let reset = jiff::Timestamp::now().as_millisecond() + 1000;
        return Err((
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", ra.to_owned()), ("x-ratelimit-reset", reset.to_string())],
            axum::Json(json!({"code": "rate_limited", "message": "You've exceeded the API rate limit. Try again later."})),
        )
            .into_response());
    }
    Ok(())
}

fn ld_flag_json(key: &str, name: &str, tags: &Value) -> Value {
    json!({
        "key": key, "name": name, "kind": "boolean", "tags": tags, "temporary": true, "archived": false,
        "_version": 1, "creationDate": jiff::Timestamp::now().as_millisecond(),
        "variations": [{"_id": format!("{key}-var-on"), "value": true, "name": "on"}, {"_id": format!("{key}-var-off"), "value": false, "name": "off"}],
        "environments": {
            "production": {"on": false, "_version": 1, "fallthrough": {"variation": 0}, "offVariation": 1},
            "test": {"on": false, "_version": 1, "fallthrough": {"variation": 0}, "offVariation": 1},
        },
    })
}

async fn ld_create(
    axum::extract::State(s): axum::extract::State<LdShared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    axum::extract::Path(_project): axum::extract::Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut ld = s.lock().expect("ld");
    if let Err(r) = ld_admit(&mut ld, &method, &uri, &headers, &body) {
        return r;
    }
    let key = body["key"].as_str().unwrap_or_default().to_owned();
    if ld.flags.iter().any(|f| f["key"] == key.as_str()) {
        return ld_error(409, "conflict", "A flag with this key already exists");
    }
    let mut flag = ld_flag_json(
        &key,
        body["name"].as_str().unwrap_or_default(),
        &body["tags"],
    );
    if body["isFlagOn"] == true {
        flag["environments"]["production"]["on"] = json!(true);
    }
    ld.flags.push(flag.clone());
    let n = ld.audit.len();
    ld.audit.push((key.clone(), json!({"_id": format!("a{n}"), "date": jiff::Timestamp::now().as_millisecond(), "kind": "flag", "name": key, "shortDescription": "created the flag", "member": {"email": "release@example.com"}})));
    (axum::http::StatusCode::CREATED, axum::Json(flag)).into_response()
}

/// `GET /api/v2/flags/{project}?env=&limit=&offset=`: a page of flags with `totalCount` and
/// `_links.next` while more follow, as `LaunchDarkly`'s list endpoint pages.
async fn ld_list(
    axum::extract::State(s): axum::extract::State<LdShared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    axum::extract::Path(project): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    let mut ld = s.lock().expect("ld");
    if let Err(r) = ld_admit(&mut ld, &method, &uri, &headers, &Value::Null) {
        return r;
    }
    let max = if ld.max_page == 0 { 100 } else { ld.max_page };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .min(max);
    let offset = q
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let total = ld.flags.len();
    let items: Vec<Value> = ld.flags.iter().skip(offset).take(limit).cloned().collect();
    let env = q.get("env").cloned().unwrap_or_default();
    let link = |offset: usize| json!({"href": format!("/api/v2/flags/{project}?env={env}&limit={limit}&offset={offset}"), "type": "application/json"});
    let mut links = json!({"self": link(offset)});
    if offset + items.len() < total {
        links["next"] = link(offset + items.len());
    }
    axum::response::IntoResponse::into_response(axum::Json(
        json!({"items": items, "totalCount": total, "_links": links}),
    ))
}

async fn ld_get(
    axum::extract::State(s): axum::extract::State<LdShared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    axum::extract::Path((_project, key)): axum::extract::Path<(String, String)>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut ld = s.lock().expect("ld");
    if let Err(r) = ld_admit(&mut ld, &method, &uri, &headers, &Value::Null) {
        return r;
    }
    match ld.flags.iter().find(|f| f["key"] == key.as_str()) {
        Some(f) => axum::Json(f.clone()).into_response(),
        None => ld_error(404, "not_found", "Unknown resource"),
    }
}

async fn ld_patch(
    axum::extract::State(s): axum::extract::State<LdShared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    axum::extract::Path((_project, key)): axum::extract::Path<(String, String)>,
    raw: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let mut ld = s.lock().expect("ld");
    if let Err(r) = ld_admit(&mut ld, &method, &uri, &headers, &body) {
        return r;
    }
    // Semantic patch is recognised by its content type; anything else is a JSON patch, which
    // an instructions body is not.
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/json; domain-model=launchdarkly.semanticpatch")
    {
        return ld_error(
            400,
            "invalid_request",
            "Invalid patch: expected an array of JSON patch operations",
        );
    }
    if ld.approvals && body["environmentKey"] == "production" {
        return ld_error(
            405,
            "method_not_allowed",
            "This environment requires approval for changes",
        );
    }
    let Some(flag) = ld.flags.iter_mut().find(|f| f["key"] == key.as_str()) else {
        return ld_error(404, "not_found", "Unknown resource");
    };
    let env_key = body["environmentKey"].as_str().unwrap_or("").to_owned();
    for ins in body["instructions"].as_array().cloned().unwrap_or_default() {
        match ins["kind"].as_str().unwrap_or("") {
            "turnFlagOn" => flag["environments"][&env_key]["on"] = json!(true),
            "turnFlagOff" => flag["environments"][&env_key]["on"] = json!(false),
            "updateFallthroughVariationOrRollout" => {
                let weights = ins["rolloutWeights"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let sum: u64 = weights.values().filter_map(Value::as_u64).sum();
                if sum != 100_000 {
                    return ld_error(400, "invalid_request", "rollout weights must sum to 100000");
                }
                let vars = flag["variations"].as_array().cloned().unwrap_or_default();
                let mut out = Vec::new();
                for (id, w) in weights {
                    let Some(idx) = vars.iter().position(|v| v["_id"] == id.as_str()) else {
                        return ld_error(
                            400,
                            "invalid_request",
                            &format!("unknown variation {id}"),
                        );
                    };
                    out.push(json!({"variation": idx, "weight": w}));
                }
                flag["environments"][&env_key]["fallthrough"] =
                    json!({"rollout": {"variations": out}});
            }
            "archiveFlag" => flag["archived"] = json!(true),
            other => {
                return ld_error(
                    400,
                    "invalid_request",
                    &format!("unknown instruction kind {other}"),
                );
            }
        }
    }
    let v = flag["_version"].as_u64().unwrap_or(1) + 1;
    flag["_version"] = json!(v);
    let answer = flag.clone();
    let n = ld.audit.len();
    ld.audit.push((key.clone(), json!({"_id": format!("a{n}"), "date": jiff::Timestamp::now().as_millisecond(), "kind": "flag", "name": key, "shortDescription": body["comment"].clone(), "member": {"email": "release@example.com"}})));
    axum::Json(answer).into_response()
}

/// `GET /api/v2/auditlog?spec=proj/{p}:env/{e}:flag/{key}`: newest first.
async fn ld_auditlog(
    axum::extract::State(s): axum::extract::State<LdShared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    let mut ld = s.lock().expect("ld");
    if let Err(r) = ld_admit(&mut ld, &method, &uri, &headers, &Value::Null) {
        return r;
    }
    let Some(flag) = q
        .get("spec")
        .and_then(|s| s.rsplit_once(":flag/"))
        .map(|(_, k)| k.to_owned())
    else {
        return ld_error(400, "invalid_request", "spec is required");
    };
    let items: Vec<Value> = ld
        .audit
        .iter()
        .rev()
        .filter(|(k, _)| *k == flag)
        .map(|(_, e)| e.clone())
        .collect();
    axum::response::IntoResponse::into_response(axum::Json(
        json!({"items": items, "totalCount": items.len()}),
    ))
}

fn start_ld() -> (LdShared, String) {
    let state: LdShared = Arc::new(Mutex::new(Ld::default()));
    let app = axum::Router::new()
        .route(
            "/api/v2/flags/{project}",
            axum::routing::post(ld_create).get(ld_list),
        )
        .route("/api/v2/auditlog", axum::routing::get(ld_auditlog))
        .route(
            "/api/v2/flags/{project}/{key}",
            axum::routing::get(ld_get).patch(ld_patch),
        )
        .with_state(state.clone());
    let base = format!("http://{}", common::serve(app));
    (state, base)
}

#[test]
fn launchdarkly_gets_semantic_patches_with_rollout_weights_and_429s_are_honoured() {
    let (ld, base) = start_ld();
    let ws = workspace(&format!(
        "[flags]\nprovider = \"launchdarkly\"\napi_base = \"{base}\"\nproject_key = \"wiretuner\"\nenvironment = \"production\"\ntoken_env = \"LAUNCHDARKLY_ACCESS_TOKEN\"\nprefixes = [\"ui\", \"collab\"]\n"
    ));
    let env = [("LAUNCHDARKLY_ACCESS_TOKEN", LD_TOKEN)];
    let o = cli(
        &ws.root,
        &env,
        &[
            "flags",
            "create",
            "collab_cursor_v2",
            "--name",
            "Cursor v2",
            "--tag",
            "iteration:I5",
        ],
    );
    ok(&o);
    let create = ld.lock().expect("ld").seen.last().cloned().expect("create");
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/api/v2/flags/wiretuner");
    assert_eq!(create.body["isFlagOn"], false);
    assert_eq!(create.body["temporary"], true);
    assert_eq!(create.body["tags"], json!(["iteration:I5"]));
    let header = |s: &LdSeen, k: &str| {
        s.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header(&create, "authorization").as_deref(),
        Some(LD_TOKEN),
        "no Bearer"
    );
    assert_eq!(
        header(&create, "ld-api-version").as_deref(),
        Some("20240415")
    );

    // The first request of the advance is throttled: the client waits and goes on.
    ld.lock().expect("ld").throttle_next = Some("1");
    let started = Instant::now();
    let o = cli(&ws.root, &env, &["flags", "advance", "collab_cursor_v2"]);
    ok(&o);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    let seen = ld.lock().expect("ld").seen.clone();
    let patch = seen
        .iter()
        .rev()
        .find(|s| s.method == "PATCH")
        .expect("patch");
    assert_eq!(
        header(patch, "content-type").as_deref(),
        Some("application/json; domain-model=launchdarkly.semanticpatch")
    );
    assert_eq!(patch.body["environmentKey"], "production");
    assert_eq!(patch.body["instructions"][0], json!({"kind": "turnFlagOn"}));
    assert_eq!(
        patch.body["instructions"][1],
        json!({"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {"collab_cursor_v2-var-on": 10000, "collab_cursor_v2-var-off": 90000}})
    );
    assert!(
        text(&o).contains("collab_cursor_v2: on in production at 10% (version 2)"),
        "{}",
        text(&o)
    );

    // Another environment is set directly, without the staged plan.
    let o = cli(
        &ws.root,
        &env,
        &[
            "flags",
            "rollout",
            "collab_cursor_v2",
            "--percent",
            "100",
            "--env",
            "test",
        ],
    );
    ok(&o);
    let flag = ld.lock().expect("ld").flags[0].clone();
    assert_eq!(flag["environments"]["test"]["on"], true);
    let on_weight = |env: &str| {
        flag["environments"][env]["fallthrough"]["rollout"]["variations"]
            .as_array()
            .expect("rollout")
            .iter()
            .find(|v| v["variation"] == 0)
            .map(|v| v["weight"].clone())
    };
    assert_eq!(on_weight("test"), Some(json!(100_000)));
    assert_eq!(
        on_weight("production"),
        Some(json!(10_000)),
        "production untouched"
    );

    // An environment that needs approval answers 405, shown as such; nothing is recorded.
    ld.lock().expect("ld").approvals = true;
    let o = cli(&ws.root, &env, &["flags", "rollback", "collab_cursor_v2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .contains("approval required (405): This environment requires approval for changes"),
        "{}",
        text(&o)
    );
    ld.lock().expect("ld").approvals = false;
    let o = cli(&ws.root, &env, &["flags", "rollback", "collab_cursor_v2"]);
    ok(&o);
    let flag = ld.lock().expect("ld").flags[0].clone();
    assert_eq!(flag["environments"]["production"]["on"], false);

    let o = cli(&ws.root, &env, &["flags", "archive", "collab_cursor_v2"]);
    ok(&o);
    let last = ld
        .lock()
        .expect("ld")
        .seen
        .last()
        .cloned()
        .expect("archive");
    assert_eq!(last.body["instructions"], json!([{"kind": "archiveFlag"}]));
    let o = cli(
        &ws.root,
        &env,
        &["--json", "flags", "history", "collab_cursor_v2"],
    );
    ok(&o);
    let history: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(history[0]["what"], "release-console: retired");
    assert_eq!(history[0]["who"], "release@example.com");
    let audit_request = ld
        .lock()
        .expect("ld")
        .seen
        .last()
        .cloned()
        .expect("auditlog");
    assert_eq!(
        audit_request.path,
        "/api/v2/auditlog?spec=proj/wiretuner:env/production:flag/collab_cursor_v2"
    );
    assert_eq!(ld.lock().expect("ld").flags[0]["archived"], true);

    // The retirement report reads the plans only: no token needed.
    let o = cli(&ws.root, &[], &["--json", "flags", "retire-report"]);
    ok(&o);

    // A bad token is named by its variable.
    let o = cli(
        &ws.root,
        &[("LAUNCHDARKLY_ACCESS_TOKEN", "wrong")],
        &["flags", "create", "ui_other", "--name", "x"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("refused the token (401/403): check $LAUNCHDARKLY_ACCESS_TOKEN"));
}

#[test]
fn launchdarkly_lists_every_page_and_a_405_is_approval_only_when_it_says_so() {
    let (ld, base) = start_ld();
    ld.lock().expect("ld").max_page = 2;
    let ws = workspace(&format!(
        "[flags]\nprovider = \"launchdarkly\"\napi_base = \"{base}\"\nproject_key = \"wiretuner\"\nenvironment = \"production\"\ntoken_env = \"LAUNCHDARKLY_ACCESS_TOKEN\"\nprefixes = [\"ui\", \"collab\"]\n"
    ));
    let env = [("LAUNCHDARKLY_ACCESS_TOKEN", LD_TOKEN)];
    let keys = ["ui_one", "ui_two", "ui_three", "ui_four", "ui_five"];
    for key in keys {
        let o = cli(&ws.root, &env, &["flags", "create", key, "--name", key]);
        ok(&o);
    }
    let o = cli(&ws.root, &env, &["--json", "flags", "list"]);
    ok(&o);
    let rows: Value = serde_json::from_slice(&o.stdout).expect("json");
    let listed: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["flag"]["key"].as_str())
        .collect();
    for key in keys {
        assert!(listed.contains(&key), "{key} is listed: {rows:#}");
    }
    let pages = ld
        .lock()
        .expect("ld")
        .seen
        .iter()
        .filter(|s| s.method == "GET" && s.path.starts_with("/api/v2/flags/wiretuner?"))
        .count();
    assert_eq!(pages, 3, "five flags at two a page");

    // A 405 whose body says nothing of approval is an HTTP error, not "approval required".
    let app = axum::Router::new().route(
        "/api/v2/flags/{project}/{key}",
        axum::routing::any(|| async { ld_error(405, "method_not_allowed", "Method Not Allowed") }),
    );
    let other = format!("http://{}", common::serve(app));
    let ws2 = workspace(&format!(
        "[flags]\nprovider = \"launchdarkly\"\napi_base = \"{other}\"\nproject_key = \"wiretuner\"\nenvironment = \"production\"\ntoken_env = \"LAUNCHDARKLY_ACCESS_TOKEN\"\nprefixes = [\"ui\"]\n"
    ));
    let o = cli(
        &ws2.root,
        &env,
        &[
            "flags",
            "rollout",
            "ui_one",
            "--percent",
            "10",
            "--env",
            "staging",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("answered 405: Method Not Allowed"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("approval required"), "{}", text(&o));
}
