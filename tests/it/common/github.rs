//! A fake GitHub REST API (Actions) that follows GitHub's published description, npm
//! `@octokit/openapi` `generated/api.github.com.json` (`$RC_TEST_GITHUB_OPENAPI`): its bodies
//! start from the description's own examples, and Prism sits in front with the operations the
//! console uses, checking every request and response against it.
//!
//! Behaviour from GitHub's documentation: `Authorization: Bearer`, `X-GitHub-Api-Version`,
//! weak `ETag`s with `304 Not Modified` for `If-None-Match`, the `x-ratelimit-*` headers on
//! every answer, a primary limit at 0 answered 403 until its reset, secondary limits answered
//! 403 with `Retry-After`, downloads and logs as a 302 to a short-lived URL on another host, 410
//! for an expired artifact, 409 for cancelling a finished run, and 422 for an input the
//! workflow does not declare (inputs read from the workflow we ship).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::Prism;

pub const TOKEN: &str = "ghp_FAKE0123456789abcdefABCDEF0123456789";
pub const OWNER: &str = "wiretuner";
pub const REPO: &str = "wiretuner-app";
pub const WORKFLOW: &str = "release.yml";

/// The operations the console uses, as the description names their paths.
pub const OPERATIONS: &[(&str, &str)] = &[
    (
        "get",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}",
    ),
    (
        "post",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
    ),
    (
        "get",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
    ),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
    ("post", "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"),
    (
        "post",
        "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
    ),
    (
        "get",
        "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts",
    ),
    (
        "get",
        "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
    ),
    ("get", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs"),
];

/// GitHub's description, from `$RC_TEST_GITHUB_OPENAPI`.
pub fn description() -> Value {
    let path = std::env::var("RC_TEST_GITHUB_OPENAPI").expect(
        "RC_TEST_GITHUB_OPENAPI names api.github.com.json of npm @octokit/openapi \
         (scripts/test.sh installs it)",
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("GitHub's description is JSON")
}

/// The description cut down to [`OPERATIONS`] and what they reference, so Prism loads it in
/// seconds (the whole file is 13 MB).
pub fn pruned(full: &Value) -> Value {
    pruned_to(full, OPERATIONS)
}

/// The description cut down to `operations` (method, path) and what they reference.
pub fn pruned_to(full: &Value, operations: &[(&str, &str)]) -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path) in operations {
        let item = &full["paths"][*path];
        assert!(item.is_object(), "{path} is not in GitHub's description");
        let op = item[*method].clone();
        assert!(
            op.is_object(),
            "{method} {path} is not in GitHub's description"
        );
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    let mut keep: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut todo: Vec<Value> = vec![Value::Object(paths.clone())];
    while let Some(v) = todo.pop() {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "$ref"
                        && let Some(r) = v.as_str()
                        && keep.insert(r.to_owned())
                    {
                        let ptr = r.trim_start_matches('#');
                        todo.push(full.pointer(ptr).cloned().unwrap_or(Value::Null));
                    } else {
                        todo.push(v);
                    }
                }
            }
            Value::Array(items) => todo.extend(items),
            _ => {}
        }
    }
    let mut components = json!({});
    for r in &keep {
        let ptr = r.trim_start_matches('#');
        let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
        if let ["components", kind, name] = parts.as_slice() {
            components[*kind][*name] = full.pointer(ptr).cloned().unwrap_or(Value::Null);
        }
    }
    json!({
        "openapi": full["openapi"],
        "info": full["info"],
        "servers": full["servers"],
        "paths": paths,
        "components": components,
    })
}

/// How a run proceeds.
#[derive(Debug, Clone)]
pub struct Script {
    /// The job's steps, as the workflow we ship names them.
    pub steps: Vec<String>,
    /// Each tick moves the run one step on.
    pub tick: Duration,
    /// The step (index) that fails in the first attempt, if any.
    pub fail_first_attempt_at: Option<usize>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            steps: [
                "Set up job",
                "Run actions/checkout@v4",
                "Build and sign the installers",
                "Run actions/upload-artifact@v4",
                "Complete job",
            ]
            .map(str::to_owned)
            .to_vec(),
            tick: Duration::from_millis(150),
            fail_first_attempt_at: None,
        }
    }
}

/// What the artifact of a platform holds.
#[derive(Debug, Clone)]
pub enum ArtifactKind {
    /// These files (name, bytes) at the top level.
    Files(Vec<(String, Vec<u8>)>),
    /// A good file and an entry named `../escaped.txt`.
    Escaping,
    /// These files, but listed at 100 bytes: the download is larger than GitHub says.
    Oversized(Vec<(String, Vec<u8>)>),
    /// Past its retention: listed as expired, its download answered 410.
    Expired,
    /// Listed as current, but gone by the time it is downloaded (410).
    ExpiredOnDownload,
}

/// What becomes of a dispatch's answer after GitHub has created its run.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// A gateway in front of GitHub answers with this 5xx instead (502, 503, 504).
    Gateway(u16),
    /// The answer is held back this long: past the console's timeout, it never learns it.
    Delay(Duration),
}

/// One request the fake received (after Prism).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub status: u16,
    pub body: Value,
    pub at: Instant,
}

#[derive(Debug)]
struct Run {
    id: u64,
    title: String,
    platform: String,
    version: String,
    created: jiff::Timestamp,
    attempt: u32,
    /// When the current attempt started.
    began: Instant,
    began_at: jiff::Timestamp,
    cancelled: bool,
    job_base: u64,
}

#[derive(Debug)]
pub struct Fake {
    pub seen: Vec<Seen>,
    /// Requests the blob host got with an Authorization header, and other rule breaks.
    pub violations: Vec<String>,
    /// Answer dispatches 200 with the run's details (false: 204, as older GitHub Enterprise).
    pub run_details: bool,
    /// Runs of other people's dispatches created beside ours (204 mode).
    pub decoys: usize,
    pub script: Script,
    pub artifacts: BTreeMap<String, ArtifactKind>,
    /// The request (1-based count) whose answer says the primary limit is used up (reset in
    /// `limit_reset`).
    pub limit_at: Option<usize>,
    pub limit_reset: Duration,
    /// The request answered 403 with `Retry-After: 1` (a secondary limit).
    pub secondary_at: Option<usize>,
    pub not_modified: usize,
    /// Requests that came with `If-None-Match`.
    pub conditional: usize,
    /// The token it accepts ([`TOKEN`] unless set).
    pub token: String,
    /// What becomes of the answers to the next dispatches (one each, in order), after the run
    /// was created: the request was processed, the console does not learn it.
    pub dispatch_faults: Vec<Fault>,
    /// The commit every run builds (`head_sha`); `None`: the description's example's.
    pub head_sha: Option<String>,
    blocked_until: Option<(Instant, i64)>,
    quiet_until: Option<Instant>,
    runs: Vec<Run>,
    next_id: u64,
    examples: Examples,
    inputs: Vec<String>,
    blob_base: String,
}

/// A status and conclusion.
type State2 = (String, Option<String>);
/// A run's (status, conclusion) and its steps'.
type Progress = (String, Option<String>, Vec<State2>);

#[derive(Debug, Clone)]
struct Examples {
    run: Value,
    job: Value,
    artifact: Value,
    workflow: Value,
}

pub type Shared = Arc<Mutex<Fake>>;

/// The fake behind Prism, and its blob host (another loopback port).
pub struct FakeGitHub {
    pub state: Shared,
    prism: Prism,
    /// What the console's `api_base` is: Prism, in front of the fake.
    pub api_base: String,
    _spec: tempfile::TempDir,
}

/// The `inputs` the workflow we ship declares under `workflow_dispatch`.
fn shipped_inputs() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/ci/github/release.yml"
    );
    let text = std::fs::read_to_string(path).expect("release.yml");
    let mut inputs = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_end() == "    inputs:" {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("      ") && !line.trim().is_empty() {
                break;
            }
            if let Some(name) = line
                .strip_prefix("      ")
                .filter(|l| !l.starts_with(' '))
                .and_then(|l| l.strip_suffix(':'))
            {
                inputs.push(name.to_owned());
            }
        }
    }
    assert!(inputs.contains(&"correlation_id".to_owned()), "{inputs:?}");
    inputs
}

impl FakeGitHub {
    pub fn start(setup: impl FnOnce(&mut Fake)) -> Self {
        let full = description();
        let ex = |name: &str| full["components"]["examples"][name]["value"].clone();
        let examples = Examples {
            run: ex("workflow-run"),
            job: ex("job"),
            artifact: ex("artifact"),
            workflow: ex("workflow"),
        };
        assert!(examples.run.is_object() && examples.job.is_object());
        let spec_dir = tempfile::tempdir().expect("spec dir");
        let spec_path = spec_dir.path().join("github-actions.json");
        std::fs::write(
            &spec_path,
            serde_json::to_vec(&pruned(&full)).expect("spec"),
        )
        .expect("write spec");
        drop(full);
        let mut fake = Fake {
            seen: Vec::new(),
            violations: Vec::new(),
            run_details: true,
            decoys: 0,
            script: Script::default(),
            artifacts: BTreeMap::new(),
            limit_at: None,
            limit_reset: Duration::from_secs(2),
            secondary_at: None,
            not_modified: 0,
            conditional: 0,
            token: TOKEN.to_owned(),
            dispatch_faults: Vec::new(),
            head_sha: None,
            blocked_until: None,
            quiet_until: None,
            runs: Vec::new(),
            next_id: 30_433_642,
            examples,
            inputs: shipped_inputs(),
            blob_base: String::new(),
        };
        setup(&mut fake);
        let state: Shared = Arc::new(Mutex::new(fake));
        let blob = super::serve(Router::new().fallback(blob).with_state(state.clone()));
        state.lock().expect("fake").blob_base = format!("http://{blob}");
        let api = super::serve(Router::new().fallback(api).with_state(state.clone()));
        let prism = Prism::proxy(spec_path.to_str().expect("utf-8"), &format!("http://{api}"));
        let front = front(state.clone(), prism.url.clone(), format!("http://{api}"));
        Self {
            state,
            api_base: format!("http://{front}"),
            prism,
            _spec: spec_dir,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("fake").seen.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        let mut v = self.state.lock().expect("fake").violations.clone();
        v.extend(self.spec_violations());
        v
    }

    /// What Prism logged against GitHub's description. A 304 is GitHub's documented answer to
    /// a conditional request on any endpoint, though the description lists it for few.
    pub fn spec_violations(&self) -> Vec<String> {
        self.prism.violations()
    }

    pub fn prism_log(&self) -> String {
        self.prism.log()
    }

    /// Runs created, as `(id, title)`.
    pub fn runs(&self) -> Vec<(u64, String)> {
        let f = self.state.lock().expect("fake");
        f.runs.iter().map(|r| (r.id, r.title.clone())).collect()
    }
}

fn answer(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        "content-type",
        "application/json; charset=utf-8".parse().expect("header"),
    );
    resp
}

fn error(status: StatusCode, message: &str, doc: &str) -> Response {
    answer(
        status,
        &json!({
            "message": message,
            "documentation_url": format!("https://docs.github.com/rest/{doc}"),
            "status": status.as_u16().to_string(),
        }),
    )
}

impl Fake {
    /// Where a run stands: (status, conclusion, steps as (status, conclusion)).
    fn progress(&self, run: &Run) -> Progress {
        let n = self.script.steps.len();
        let fail = self
            .script
            .fail_first_attempt_at
            .filter(|_| run.attempt == 1);
        let ticks =
            (run.began.elapsed().as_millis() / self.script.tick.as_millis().max(1)) as usize;
        if run.cancelled {
            let steps = (0..n)
                .map(|i| {
                    if i + 1 < ticks {
                        ("completed".into(), Some("success".into()))
                    } else {
                        ("completed".into(), Some("cancelled".into()))
                    }
                })
                .collect();
            return ("completed".into(), Some("cancelled".into()), steps);
        }
        if ticks == 0 {
            return (
                "queued".into(),
                None,
                (0..n).map(|_| ("queued".into(), None)).collect(),
            );
        }
        // Tick k: steps before k-1 done, step k-1 running.
        let current = ticks - 1;
        let mut steps = Vec::with_capacity(n);
        let mut failed = false;
        for i in 0..n {
            let s = if failed {
                ("completed".into(), Some("skipped".into()))
            } else if i < current {
                if fail == Some(i) {
                    failed = true;
                    ("completed".into(), Some("failure".into()))
                } else {
                    ("completed".into(), Some("success".into()))
                }
            } else if i == current {
                ("in_progress".into(), None)
            } else {
                ("queued".into(), None)
            };
            steps.push(s);
        }
        if failed {
            return ("completed".into(), Some("failure".into()), steps);
        }
        if current >= n {
            return ("completed".into(), Some("success".into()), steps);
        }
        ("in_progress".into(), None, steps)
    }

    fn run_body(&self, run: &Run) -> Value {
        let (status, conclusion, _) = self.progress(run);
        let mut v = self.examples.run.clone();
        let base = format!(
            "https://api.github.com/repos/{OWNER}/{REPO}/actions/runs/{}",
            run.id
        );
        v["id"] = json!(run.id);
        v["name"] = json!("release");
        v["display_title"] = json!(run.title);
        v["event"] = json!("workflow_dispatch");
        v["status"] = json!(status);
        v["conclusion"] = json!(conclusion);
        v["run_attempt"] = json!(run.attempt);
        if let Some(sha) = &self.head_sha {
            v["head_sha"] = json!(sha);
        }
        v["run_number"] = json!(run.id % 1000);
        v["path"] = json!(format!(".github/workflows/{WORKFLOW}"));
        v["html_url"] = json!(format!(
            "https://github.com/{OWNER}/{REPO}/actions/runs/{}",
            run.id
        ));
        v["url"] = json!(base);
        v["jobs_url"] = json!(format!("{base}/jobs"));
        v["artifacts_url"] = json!(format!("{base}/artifacts"));
        v["cancel_url"] = json!(format!("{base}/cancel"));
        v["rerun_url"] = json!(format!("{base}/rerun"));
        let created = run.created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        v["created_at"] = json!(created);
        v["run_started_at"] = json!(created);
        v["updated_at"] = json!(created);
        v
    }

    fn jobs_body(&self, run: &Run) -> Value {
        let (status, conclusion, steps) = self.progress(run);
        let now = jiff::Timestamp::now();
        let stamp = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut job = self.examples.job.clone();
        let job_id = run.job_base + u64::from(run.attempt);
        job["id"] = json!(job_id);
        job["run_id"] = json!(run.id);
        job["run_attempt"] = json!(run.attempt);
        job["name"] = json!(run.platform.clone());
        job["workflow_name"] = json!("release");
        job["status"] = json!(if status == "queued" {
            "queued"
        } else {
            &status
        });
        job["conclusion"] = json!(conclusion);
        job["url"] = json!(format!(
            "https://api.github.com/repos/{OWNER}/{REPO}/actions/jobs/{job_id}"
        ));
        job["html_url"] = json!(format!(
            "https://github.com/{OWNER}/{REPO}/actions/runs/{}/job/{job_id}",
            run.id
        ));
        job["created_at"] = json!(stamp(run.created));
        job["started_at"] = json!(stamp(run.created));
        job["completed_at"] = if status == "completed" {
            json!(stamp(now))
        } else {
            Value::Null
        };
        job["steps"] = Value::Array(
            self.script
                .steps
                .iter()
                .zip(steps)
                .enumerate()
                .map(|(i, (name, (s, c)))| {
                    // Step i runs during tick i + 1, as `progress` has it.
                    let at = |ticks: usize| {
                        let d = self.script.tick * u32::try_from(ticks).expect("ticks");
                        stamp(
                            run.began_at
                                .checked_add(jiff::SignedDuration::try_from(d).expect("tick"))
                                .expect("time"),
                        )
                    };
                    json!({
                        "name": name,
                        "status": s,
                        "conclusion": c,
                        "number": i + 1,
                        "started_at": if s == "queued" { Value::Null } else { json!(at(i + 1)) },
                        "completed_at": if s == "completed" { json!(at(i + 2)) } else { Value::Null },
                    })
                })
                .collect(),
        );
        json!({"total_count": 1, "jobs": [job]})
    }

    /// Where run `id` (as the path spells it) is in the list.
    fn index_of(&self, id: &str) -> Option<usize> {
        let id: u64 = id.parse().ok()?;
        self.runs.iter().position(|r| r.id == id)
    }

    fn find(&self, id: u64) -> Option<&Run> {
        self.runs.iter().find(|r| r.id == id)
    }

    fn new_run(&mut self, title: String, platform: &str, version: &str) -> u64 {
        self.next_id += 7;
        let id = self.next_id;
        self.runs.push(Run {
            id,
            title,
            platform: platform.to_owned(),
            version: version.to_owned(),
            created: jiff::Timestamp::now(),
            attempt: 1,
            began: Instant::now(),
            began_at: jiff::Timestamp::now(),
            cancelled: false,
            job_base: id * 10,
        });
        id
    }

    /// The artifacts of a run: the platform's (if the fake has one) and an unrelated one.
    fn artifacts_body(&self, run: &Run) -> Value {
        let mut list = Vec::new();
        let name = format!("{}-{}", run.platform, run.version);
        let mut push = |id: u64, name: &str, expired: bool| {
            let mut a = self.examples.artifact.clone();
            a["id"] = json!(id);
            a["name"] = json!(name);
            // The zip's own size, as GitHub lists it (artifacts v4).
            let size = match self
                .find(id / 100)
                .and_then(|r| self.artifacts.get(&r.platform))
            {
                Some(ArtifactKind::Oversized(_)) if id % 100 == 1 => 100,
                _ => self.zip_of(id).map_or(1024, |z| z.len()),
            };
            a["size_in_bytes"] = json!(size);
            a["expired"] = json!(expired);
            a["url"] = json!(format!(
                "https://api.github.com/repos/{OWNER}/{REPO}/actions/artifacts/{id}"
            ));
            a["archive_download_url"] = json!(format!(
                "https://api.github.com/repos/{OWNER}/{REPO}/actions/artifacts/{id}/zip"
            ));
            list.push(a);
        };
        if let Some(kind) = self.artifacts.get(&run.platform) {
            push(
                run.id * 100 + 1,
                &name,
                matches!(kind, ArtifactKind::Expired),
            );
        }
        push(
            run.id * 100 + 2,
            &format!("console-deb-{}", run.version),
            false,
        );
        json!({"total_count": list.len(), "artifacts": list})
    }

    fn zip_of(&self, artifact_id: u64) -> Option<Vec<u8>> {
        let run = self.runs.iter().find(|r| r.id == artifact_id / 100)?;
        if artifact_id % 100 != 1 {
            return Some(zip_bytes(&[("README.txt".into(), b"not ours".to_vec())]));
        }
        match self.artifacts.get(&run.platform)? {
            ArtifactKind::Files(files) | ArtifactKind::Oversized(files) => Some(zip_bytes(files)),
            ArtifactKind::Escaping => Some(zip_bytes(&[
                ("WireTuner-ok.dmg".into(), b"fine".to_vec()),
                ("../escaped.txt".into(), b"outside".to_vec()),
            ])),
            ArtifactKind::Expired | ArtifactKind::ExpiredOnDownload => None,
        }
    }
}

/// A zip of `files` (deflated), names exactly as given.
pub fn zip_bytes(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts).expect("zip entry");
        w.write_all(bytes).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

/// An installer and the `NAME.sha256` its builder writes (as `shasum -a 256` prints it).
pub fn with_checksum(name: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let hex = hex(&sha2::Sha256::digest(&bytes));
    vec![
        (
            format!("{name}.sha256"),
            format!("{hex}  {name}\n").into_bytes(),
        ),
        (name.to_owned(), bytes),
    ]
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A 200 with a weak `ETag` of its body (the front hop answers 304 for a matching
/// `If-None-Match`).
fn etagged(body: &Value) -> Response {
    let tag = format!(
        "W/\"{}\"",
        &hex(&sha2::Sha256::digest(body.to_string().as_bytes()))[..32]
    );
    let mut resp = answer(StatusCode::OK, body);
    resp.headers_mut()
        .insert("etag", tag.parse().expect("etag"));
    resp
}

/// Whether a request is one GitHub answers with a 302 to another host. Prism's proxy follows
/// redirects itself (node-fetch, Authorization included), so these go straight to the fake,
/// which answers them as the description says (302 with `Location`, 410 `basic-error`).
fn redirecting(path: &str) -> bool {
    (path.contains("/actions/artifacts/") && path.ends_with("/zip"))
        || (path.contains("/actions/jobs/") && path.ends_with("/logs"))
}

/// The console's side: requests go to Prism (and through it to the fake), except the
/// redirecting ones. Conditional requests are answered here: Prism gets the plain request
/// and checks the whole 200, and a matching `If-None-Match` turns it into the 304 GitHub sends
/// (documented for every endpoint in GitHub's "conditional requests", listed for few).
fn front(state: Shared, prism: String, fake: String) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let app = Router::new().fallback(move |req: axum::extract::Request| {
        let (client, prism, fake, state) =
            (client.clone(), prism.clone(), fake.clone(), state.clone());
        async move {
            let (parts, body) = req.into_parts();
            let path_q = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let upstream = if redirecting(parts.uri.path()) {
                fake
            } else {
                prism
            };
            let body = axum::body::to_bytes(body, 1 << 20).await.expect("front");
            let if_none_match = parts
                .headers
                .get("if-none-match")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut r = client.request(parts.method.clone(), format!("{upstream}{path_q}"));
            for (k, v) in &parts.headers {
                if k != "host" && k != "content-length" && k != "if-none-match" {
                    r = r.header(k, v);
                }
            }
            let answer = r.body(body).send().await.expect("front");
            let status = answer.status().as_u16();
            let headers = answer.headers().clone();
            let bytes = answer.bytes().await.expect("front");
            if parts.method == Method::POST && parts.uri.path().ends_with("/dispatches") {
                let fault = {
                    let mut f = state.lock().expect("fake");
                    (!f.dispatch_faults.is_empty()).then(|| f.dispatch_faults.remove(0))
                };
                match fault {
                    Some(Fault::Gateway(code)) => {
                        return Response::builder()
                            .status(code)
                            .header("content-type", "text/html")
                            .body(axum::body::Body::from(format!(
                                "<html><body><h1>{code}</h1>The upstream did not answer in time.\
                                 </body></html>"
                            )))
                            .expect("front");
                    }
                    Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
                    None => {}
                }
            }
            let matched = status == 200
                && if_none_match.is_some()
                && headers.get("etag").and_then(|v| v.to_str().ok()) == if_none_match.as_deref();
            {
                let mut f = state.lock().expect("fake");
                if if_none_match.is_some() {
                    f.conditional += 1;
                }
                if matched {
                    f.not_modified += 1;
                }
            }
            let mut out = Response::builder().status(if matched { 304 } else { status });
            for (k, v) in &headers {
                if k != "content-length"
                    && k != "transfer-encoding"
                    && !(matched && k == "content-type")
                {
                    out = out.header(k, v);
                }
            }
            out.body(if matched {
                axum::body::Body::empty()
            } else {
                axum::body::Body::from(bytes)
            })
            .expect("front")
        }
    });
    super::serve(app)
}

async fn api(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut f = state.lock().expect("fake");
    let count = f.seen.len() + 1;
    let now = Instant::now();
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    // Rate limits first, as GitHub does.
    let mut remaining = 5000 - i64::try_from(count).expect("count");
    let mut reset = jiff::Timestamp::now().as_second() + 3600;
    let mut resp = if let Some((until, at)) = f.blocked_until.filter(|(u, _)| now < *u) {
        f.violations.push(format!(
            "{method} {path} arrived {} ms before the rate limit's reset",
            until.duration_since(now).as_millis()
        ));
        remaining = 0;
        reset = at;
        error(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for user ID 1.",
            "overview/rate-limits-for-the-rest-api",
        )
    } else if let Some(until) = f.quiet_until.filter(|u| now < *u) {
        f.violations.push(format!(
            "{method} {path} arrived {} ms before Retry-After allowed",
            until.duration_since(now).as_millis()
        ));
        error(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        )
    } else if f.secondary_at == Some(count) {
        f.quiet_until = Some(now + Duration::from_secs(1));
        let mut r = error(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        );
        r.headers_mut()
            .insert("retry-after", "1".parse().expect("header"));
        r
    } else if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {}", f.token))
    {
        error(
            StatusCode::UNAUTHORIZED,
            "Bad credentials",
            "overview/authenticating-to-the-rest-api",
        )
    } else if headers
        .get("x-github-api-version")
        .and_then(|v| v.to_str().ok())
        != Some("2022-11-28")
    {
        error(
            StatusCode::BAD_REQUEST,
            "Missing or unsupported X-GitHub-Api-Version",
            "about-the-rest-api/api-versions",
        )
    } else {
        route(&mut f, &method, &path, &body_json)
    };
    if f.limit_at == Some(count) {
        let at = jiff::Timestamp::now().as_second() + f.limit_reset.as_secs().cast_signed();
        f.blocked_until = Some((now + f.limit_reset, at));
        remaining = 0;
        reset = at;
    }
    let h = resp.headers_mut();
    for (k, v) in [
        ("x-ratelimit-limit", "5000".to_owned()),
        ("x-ratelimit-remaining", remaining.max(0).to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-used", (5000 - remaining.max(0)).to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-github-api-version-selected", "2022-11-28".to_owned()),
    ] {
        h.insert(k, v.parse().expect("header"));
    }
    let status = resp.status().as_u16();
    f.seen.push(Seen {
        method: method.to_string(),
        path,
        query,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status,
        body: body_json,
        at: now,
    });
    resp
}

fn route(f: &mut Fake, method: &Method, path: &str, body: &Value) -> Response {
    let prefix = format!("/repos/{OWNER}/{REPO}/actions/");
    let Some(rest) = path.strip_prefix(&prefix) else {
        return error(StatusCode::NOT_FOUND, "Not Found", "actions");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let not_found = || error(StatusCode::NOT_FOUND, "Not Found", "actions/workflow-runs");
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["workflows", w]) if *w == WORKFLOW => {
            let mut v = f.examples.workflow.clone();
            v["name"] = json!("release");
            v["path"] = json!(format!(".github/workflows/{WORKFLOW}"));
            v["state"] = json!("active");
            etagged(&v)
        }
        ("POST", ["workflows", w, "dispatches"]) if *w == WORKFLOW => {
            let inputs = body["inputs"].as_object().cloned().unwrap_or_default();
            let unexpected: Vec<&String> =
                inputs.keys().filter(|k| !f.inputs.contains(k)).collect();
            if !unexpected.is_empty() {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("Unexpected inputs provided: {unexpected:?}"),
                    "actions/workflows#create-a-workflow-dispatch-event",
                );
            }
            if body["ref"] != "main" {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("No ref found for: {}", body["ref"]),
                    "actions/workflows#create-a-workflow-dispatch-event",
                );
            }
            let s = |k: &str| {
                inputs
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let (version, platform, corr) = (s("version"), s("platform"), s("correlation_id"));
            // Someone else dispatched the same workflow at the same moment.
            for i in 0..f.decoys {
                let title =
                    format!("release {version} {platform} [rc-{platform}-{version}-d{i:07}]");
                f.new_run(title, &platform, &version);
            }
            let id = f.new_run(
                format!("release {version} {platform} [{corr}]"),
                &platform,
                &version,
            );
            if f.run_details && body["return_run_details"] == true {
                answer(
                    StatusCode::OK,
                    &json!({
                        "workflow_run_id": id,
                        "run_url": format!("https://api.github.com/repos/{OWNER}/{REPO}/actions/runs/{id}"),
                        "html_url": format!("https://github.com/{OWNER}/{REPO}/actions/runs/{id}"),
                    }),
                )
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        ("GET", ["workflows", w, "runs"]) if *w == WORKFLOW => {
            let runs: Vec<Value> = f.runs.iter().rev().map(|r| f.run_body(r)).collect();
            answer(
                StatusCode::OK,
                &json!({"total_count": runs.len(), "workflow_runs": runs}),
            )
        }
        ("GET", ["runs", id]) => match id.parse().ok().and_then(|id| f.find(id)) {
            Some(run) => etagged(&f.run_body(run)),
            None => not_found(),
        },
        ("GET", ["runs", id, "jobs"]) => match id.parse().ok().and_then(|id| f.find(id)) {
            Some(run) => etagged(&f.jobs_body(run)),
            None => not_found(),
        },
        ("GET", ["runs", id, "artifacts"]) => match id.parse().ok().and_then(|id| f.find(id)) {
            Some(run) => answer(StatusCode::OK, &f.artifacts_body(run)),
            None => not_found(),
        },
        ("POST", ["runs", id, "cancel"]) => {
            let Some(i) = f.index_of(id) else {
                return not_found();
            };
            let (status, _, _) = f.progress(&f.runs[i]);
            if status == "completed" {
                return error(
                    StatusCode::CONFLICT,
                    "Cannot cancel a workflow run that is completed.",
                    "actions/workflow-runs#cancel-a-workflow-run",
                );
            }
            f.runs[i].cancelled = true;
            answer(StatusCode::ACCEPTED, &json!({}))
        }
        ("POST", ["runs", id, "rerun-failed-jobs"]) => {
            let Some(i) = f.index_of(id) else {
                return not_found();
            };
            let (status, conclusion, _) = f.progress(&f.runs[i]);
            if status != "completed" || conclusion.as_deref() == Some("success") {
                return error(
                    StatusCode::FORBIDDEN,
                    "This workflow run is not completed or has no failed jobs",
                    "actions/workflow-runs#re-run-failed-jobs-from-a-workflow-run",
                );
            }
            let run = &mut f.runs[i];
            run.attempt += 1;
            run.began = Instant::now();
            run.began_at = jiff::Timestamp::now();
            run.cancelled = false;
            answer(StatusCode::CREATED, &json!({}))
        }
        ("GET", ["artifacts", id, "zip"]) => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            let Some(run) = f.find(id / 100) else {
                return not_found();
            };
            if id % 100 == 1
                && matches!(
                    f.artifacts.get(&run.platform),
                    Some(ArtifactKind::Expired | ArtifactKind::ExpiredOnDownload)
                )
            {
                return error(
                    StatusCode::GONE,
                    "Artifact has expired",
                    "actions/artifacts#download-an-artifact",
                );
            }
            redirect(&format!(
                "{}/artifact/{id}.zip?sig=Zm9vYmFy&se=2026-12-02T00%3A01%3A00Z",
                f.blob_base
            ))
        }
        ("GET", ["jobs", id, "logs"]) => redirect(&format!(
            "{}/log/{id}.txt?sig=YmF6&se=2026-12-02T00%3A01%3A00Z",
            f.blob_base
        )),
        _ => not_found(),
    }
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut()
        .insert("location", to.parse().expect("location"));
    r
}

/// The short-lived download host: it must never see the API token.
async fn blob(State(state): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let mut f = state.lock().expect("fake");
    if let Some(auth) = headers.get("authorization") {
        let shown = if auth.to_str().unwrap_or("").contains(f.token.as_str()) {
            "the API token"
        } else {
            "an Authorization header"
        };
        f.violations
            .push(format!("the download host got {shown} for {}", uri.path()));
        return (
            StatusCode::BAD_REQUEST,
            "Authorization not allowed with a signed URL",
        )
            .into_response();
    }
    if !uri.query().unwrap_or("").contains("sig=") {
        return (StatusCode::FORBIDDEN, "missing signature").into_response();
    }
    let path = uri.path();
    if let Some(id) = path
        .strip_prefix("/artifact/")
        .and_then(|p| p.strip_suffix(".zip"))
        .and_then(|p| p.parse::<u64>().ok())
    {
        return match f.zip_of(id) {
            Some(bytes) => {
                (StatusCode::OK, [("content-type", "application/zip")], bytes).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if let Some(id) = path
        .strip_prefix("/log/")
        .and_then(|p| p.strip_suffix(".txt"))
    {
        return (
            StatusCode::OK,
            [("content-type", "text/plain")],
            format!(
                "2026-12-02T10:00:00.0000000Z ##[group]Run job {id}\n\
                 2026-12-02T10:00:01.0000000Z ::step:: not a step of ours\n\
                 2026-12-02T10:00:02.0000000Z built on GitHub's runner\n\
                 2026-12-02T10:00:03.0000000Z ##[endgroup]\n"
            ),
        )
            .into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}
