//! Rolling out the backend with Argo CD (`[deploy.argocd]`): sync the application to a
//! release's revision and watch it until the operation is over, the application is Synced at
//! that revision and Healthy; read its status and history; roll back to a history entry;
//! terminate a running operation when the task is cancelled. Requests and bodies follow Argo
//! CD's published API (`/api/v1/applications/{name}`, `.../sync`, `.../rollback`,
//! `.../operation`).
//!
//! A sync or rollback starts an operation: it is never posted again while the first may have
//! arrived (a timeout or a broken connection after sending, a gateway's 502/503/504). The
//! application is read instead, and an operation for the revision asked for that started after
//! the last one known is adopted. A rollback is done when its own operation succeeded and the
//! application is Healthy at the rolled-back revision: Argo CD reports it `OutOfSync` by
//! design (Git still asks for the newer revision).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::DeployError;
use crate::audit::event::Failed;
use crate::audit::{Action, Event};
use crate::workspace::config::ArgoCdConfig;
use crate::workspace::secrets::Secret;
use crate::workspace::{Release, Workspace};

/// The task's kind: it ticks the checklist item with `auto_tick_on = "deploy.backend"`.
pub const TASK_KIND: &str = "deploy.backend";
/// A rollback's task kind (ticks nothing).
pub const ROLLBACK_KIND: &str = "deploy.rollback";

vendor_enum! {
    /// An application's or a resource's health, as Argo CD spells it (`health.status`).
    pub enum Health as spelled { Healthy, Progressing, Degraded, Suspended, Missing, Unknown }
}

impl Health {
    /// Degraded or Missing: broken, not on its way.
    pub fn is_bad(&self) -> bool {
        matches!(self, Health::Degraded | Health::Missing)
    }
}

vendor_enum! {
    /// Whether an application or a resource is as Git says (`sync.status`, a resource's
    /// `status`).
    pub enum SyncStatus as spelled { Synced, OutOfSync, Unknown }
}

vendor_enum! {
    /// An operation's or a hook's phase (`operationState.phase`, `hookPhase`).
    pub enum Phase as spelled { Running, Terminating, Succeeded, Failed, Error }
}

vendor_enum! {
    /// What a sync did to one resource (`syncResult.resources[].status`).
    pub enum ResultCode as spelled { Synced, SyncFailed, Pruned, PruneSkipped }
}

/// A vendor value at `path` in `v`; `None` when it is absent or empty.
fn vendor<T: From<String>>(v: &Value, path: &[&str]) -> Option<T> {
    Some(s(v, path)).filter(|t| !t.is_empty()).map(T::from)
}

/// An absent vendor value as `""`, as the console wrote it before it had enums.
#[expect(
    clippy::ref_option,
    reason = "serde's serialize_with passes the field by reference"
)]
fn or_empty<T: AsRef<str>, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_ref().map_or("", AsRef::as_ref))
}

/// One Kubernetes resource of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    #[serde(serialize_with = "or_empty")]
    pub sync: Option<SyncStatus>,
    /// `None`: the resource has no health (e.g. a `ConfigMap`); `""` in JSON.
    #[serde(serialize_with = "or_empty")]
    pub health: Option<Health>,
    pub message: String,
}

/// A sync in the application's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub revision: String,
    pub deployed_at: String,
    pub started_at: String,
}

/// The running or last operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    #[serde(serialize_with = "or_empty")]
    pub phase: Option<Phase>,
    pub message: String,
    pub started_at: String,
    pub finished_at: String,
    /// The revision the operation was asked for, and the one it synced to (Argo CD resolves a
    /// tag to a commit).
    pub requested_revision: String,
    pub synced_revision: String,
    /// Resources the sync did not apply cleanly: `kind/name: status: message`.
    pub failed_resources: Vec<String>,
}

/// Why a request failed: refused or failed for sure, or perhaps arrived.
#[derive(Debug)]
enum CallError {
    /// It may have arrived; a request that changes something is not sent again by itself.
    Uncertain(String),
    Failed(DeployError),
}

impl From<CallError> for DeployError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Uncertain(why) => DeployError::Invalid(why),
            CallError::Failed(e) => e,
        }
    }
}

impl Operation {
    /// `Succeeded to v1.4.0 (started ...): message`, for a log, the CLI or a card.
    pub fn line(&self) -> String {
        let msg = if self.message.is_empty() {
            String::new()
        } else {
            format!(": {}", self.message)
        };
        format!(
            "{} to {} (started {}){msg}",
            or_unknown(self.phase.as_ref()),
            self.requested_revision,
            self.started_at
        )
    }
}

/// What the application is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppStatus {
    pub application: String,
    #[serde(serialize_with = "or_empty")]
    pub sync: Option<SyncStatus>,
    pub revision: String,
    #[serde(serialize_with = "or_empty")]
    pub health: Option<Health>,
    pub health_message: String,
    pub operation: Option<Operation>,
    pub resources: Vec<Resource>,
    pub history: Vec<HistoryEntry>,
    /// The revision of an operation asked for and not finished (the Application's own
    /// `operation`, set as soon as a sync or rollback is accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_operation: Option<String>,
}

fn s(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default().to_owned()
}

impl AppStatus {
    /// Reads an Application as Argo CD returns it.
    pub fn from_json(application: &str, app: &Value) -> Self {
        let st = &app["status"];
        let operation = st.get("operationState").filter(|o| o.is_object()).map(|o| {
            let failed_resources = o["syncResult"]["resources"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .filter(|r| {
                            let status = vendor::<ResultCode>(r, &["status"]);
                            status.is_some_and(|c| {
                                !matches!(c, ResultCode::Synced | ResultCode::Pruned)
                            }) || vendor(r, &["hookPhase"]) == Some(Phase::Failed)
                        })
                        .map(|r| {
                            format!(
                                "{}/{}: {}: {}",
                                s(r, &["kind"]),
                                s(r, &["name"]),
                                s(r, &["status"]),
                                s(r, &["message"])
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Operation {
                phase: vendor(o, &["phase"]),
                message: s(o, &["message"]),
                started_at: s(o, &["startedAt"]),
                finished_at: s(o, &["finishedAt"]),
                requested_revision: s(o, &["operation", "sync", "revision"]),
                synced_revision: s(o, &["syncResult", "revision"]),
                failed_resources,
            }
        });
        let resources = st["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| Resource {
                        kind: s(r, &["kind"]),
                        namespace: s(r, &["namespace"]),
                        name: s(r, &["name"]),
                        sync: vendor(r, &["status"]),
                        health: vendor(r, &["health", "status"]),
                        message: s(r, &["health", "message"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let history = st["history"]
            .as_array()
            .map(|hs| {
                hs.iter()
                    .map(|h| HistoryEntry {
                        // int64 may come as a number or, from grpc-gateway, as a string.
                        id: h["id"]
                            .as_i64()
                            .or_else(|| h["id"].as_str().and_then(|v| v.parse().ok()))
                            .unwrap_or_default(),
                        revision: s(h, &["revision"]),
                        deployed_at: s(h, &["deployedAt"]),
                        started_at: s(h, &["deployStartedAt"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let requested_operation = app
            .get("operation")
            .filter(|o| o.is_object())
            .map(|o| s(o, &["sync", "revision"]));
        Self {
            requested_operation,
            application: application.to_owned(),
            sync: vendor(st, &["sync", "status"]),
            revision: s(st, &["sync", "revision"]),
            health: vendor(st, &["health", "status"]),
            health_message: s(st, &["health", "message"]),
            operation,
            resources,
            history,
        }
    }

    /// The operation for `revision` that was asked for, or started after `prior_start` (the
    /// last operation's start before ours), as a line; `None` when there is none.
    pub fn operation_for(&self, revision: &str, prior_start: Option<&str>) -> Option<String> {
        if self.requested_operation.as_deref() == Some(revision) {
            return Some(format!("asked for {revision}"));
        }
        self.operation
            .as_ref()
            .filter(|o| {
                o.requested_revision == revision && prior_start.is_none_or(|p| o.started_at != p)
            })
            .map(Operation::line)
    }

    /// Resources that are not Healthy (and have a health), with their messages.
    pub fn unhealthy(&self) -> Vec<String> {
        self.resources
            .iter()
            .filter_map(|r| {
                let health = r.health.as_ref().filter(|h| **h != Health::Healthy)?;
                let msg = if r.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.message)
                };
                Some(format!("{}/{} {health}{msg}", r.kind, r.name))
            })
            .collect()
    }

    /// One line for a log or a card.
    pub fn line(&self) -> String {
        let op = self.operation.as_ref().map_or_else(String::new, |o| {
            format!(
                ", operation {}",
                o.phase.as_ref().map_or("?", Phase::as_str)
            )
        });
        format!(
            "{}: {} at {}, {}{op}",
            self.application,
            or_unknown(self.sync.as_ref()),
            short(&self.revision),
            or_unknown(self.health.as_ref())
        )
    }

    /// The health as the audit log has recorded it: `""` when Argo CD gave none.
    fn health_recorded(&self) -> &str {
        self.health.as_ref().map_or("", Health::as_str)
    }
}

/// A vendor value, or `Unknown` when Argo CD gave none.
pub fn or_unknown<T: AsRef<str>>(v: Option<&T>) -> &str {
    v.map_or("Unknown", AsRef::as_ref)
}

fn short(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..10]
    } else if rev.is_empty() {
        "no revision"
    } else {
        rev
    }
}

/// An Argo CD API client for one application.
#[derive(Debug, Clone)]
pub struct ArgoCd {
    http: reqwest::Client,
    cfg: ArgoCdConfig,
    token: Secret,
}

/// What a watched operation must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal<'a> {
    /// A sync: the application Synced (at this revision, when given) and Healthy.
    Synced(Option<&'a str>),
    /// A rollback to this revision: its operation succeeded and the application is Healthy
    /// at it. Argo CD reports it `OutOfSync` after a rollback by design (Git still asks for
    /// the newer revision), so Synced is not asked for.
    RolledBack(&'a str),
}

/// How a watched rollout ended, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Cancelled,
    Failed(String),
}

impl ArgoCd {
    /// The client `[deploy.argocd]` describes; an error when there is none or no token.
    pub fn from_workspace(ws: &Workspace) -> Result<Self, DeployError> {
        let cfg = ws.config().deploy.argocd.clone().ok_or_else(|| {
            DeployError::Invalid(
                "no backend to roll out: add [deploy.argocd] with api_base and application to \
                 release-console.toml"
                    .into(),
            )
        })?;
        let token = crate::workspace::secrets::resolve(
            &cfg.token_env,
            &cfg.token_secret,
            &ws.config().aws,
        )
        .map_err(DeployError::Invalid)?
        .ok_or_else(|| {
            DeployError::Invalid(format!(
                "Argo CD needs an API token in ${} (or the keyring entry {}); it is not set",
                cfg.token_env, cfg.token_env
            ))
        })?;
        let http = crate::net::client().map_err(DeployError::Invalid)?;
        Ok(Self { http, cfg, token })
    }

    pub fn config(&self) -> &ArgoCdConfig {
        &self.cfg
    }

    /// The revision `release` deploys.
    pub fn revision_of(&self, release: &Release) -> String {
        self.cfg
            .revision
            .replace("{version}", &release.version.to_string())
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/api/v1/applications/{}{tail}",
            self.cfg.api_base.trim_end_matches('/'),
            crate::net::sigv4::uri_encode(&self.cfg.application, false)
        )
    }

    fn scope(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if !self.cfg.app_namespace.is_empty() {
            q.push(("appNamespace", self.cfg.app_namespace.clone()));
        }
        if !self.cfg.project.is_empty() {
            q.push(("project", self.cfg.project.clone()));
        }
        q
    }

    async fn call(
        &self,
        method: Method,
        tail: &str,
        body: Option<Value>,
    ) -> Result<Value, DeployError> {
        let idempotency = crate::net::Idempotency::of_method(&method);
        Ok(self.request(method, tail, body, idempotency).await?)
    }

    /// One API call; one that may not be sent twice is sent again only when it certainly did
    /// not arrive (the connection failed) or Argo CD refused it (429); when it may have arrived
    /// (a timeout or a broken connection after sending, any 5xx) it is
    /// [`CallError::Uncertain`].
    async fn request(
        &self,
        method: Method,
        tail: &str,
        body: Option<Value>,
        idempotency: crate::net::Idempotency,
    ) -> Result<Value, CallError> {
        let what = format!(
            "{method} /api/v1/applications/{}{tail}",
            self.cfg.application
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), self.url(tail))
                .bearer_auth(self.token.expose())
                .query(&self.scope());
            if let Some(b) = &body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if !crate::net::Arrival::of_error(&e).may_retry(idempotency) => {
                    return Err(CallError::Uncertain(format!(
                        "{what} at {}: {}; it may have arrived",
                        self.cfg.api_base,
                        crate::net::describe(&e)
                    )));
                }
                Err(e) if attempt < 3 => {
                    tracing::warn!("{what}: {}; retrying", crate::net::describe(&e));
                    tokio::time::sleep(crate::net::backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(CallError::Failed(DeployError::Invalid(format!(
                        "{what} at {}: {}",
                        self.cfg.api_base,
                        crate::net::describe(&e)
                    ))));
                }
            };
            let code = resp.status();
            let status = code.as_u16();
            let text = crate::net::read_body(resp, crate::net::MAX_BODY_BYTES)
                .await
                .map_err(|e| CallError::Failed(DeployError::Invalid(format!("{what}: {e}"))))?;
            if (200..300).contains(&status) {
                return serde_json::from_str(&text).map_err(|e| {
                    CallError::Failed(DeployError::Invalid(format!(
                        "{what}: the answer is not Argo CD's JSON: {e}"
                    )))
                });
            }
            // Before any second copy of a request that may not be sent twice, its effect is
            // looked for: a gateway's 502/503/504 may have reached the origin, and an origin's
            // own 5xx may have failed after acting.
            if idempotency == crate::net::Idempotency::NonIdempotent && code.is_server_error() {
                let why = if crate::net::Arrival::of_status(code)
                    == Some(crate::net::Arrival::Uncertain)
                {
                    "it may have arrived"
                } else {
                    "it arrived and failed, perhaps after acting"
                };
                return Err(CallError::Uncertain(format!(
                    "{what}: {status} ({}); {}",
                    crate::net::error_message(&text),
                    why
                )));
            }
            if (status >= 500 || status == 429) && attempt < 3 {
                tokio::time::sleep(crate::net::backoff(attempt)).await;
                continue;
            }
            let message = crate::net::error_message(&text);
            let why = match status {
                401 => format!(
                    "401 Unauthorized: Argo CD refused the token in ${} ({message})",
                    self.cfg.token_env
                ),
                403 => format!(
                    "403 Forbidden: the token in ${} may not do this to {} ({message})",
                    self.cfg.token_env, self.cfg.application
                ),
                404 => format!(
                    "404 Not Found: no application {:?} at {} ({message})",
                    self.cfg.application, self.cfg.api_base
                ),
                _ => format!("{status}: {message}"),
            };
            return Err(CallError::Failed(DeployError::Invalid(format!(
                "{what}: {why}"
            ))));
        }
    }

    /// The application now.
    pub async fn status(&self) -> Result<AppStatus, DeployError> {
        let app = self.call(Method::GET, "", None).await?;
        Ok(AppStatus::from_json(&self.cfg.application, &app))
    }

    /// Posts a request that starts an operation for `revision` (a sync, or a rollback to a
    /// history entry of that revision), never twice while the first may have arrived: when
    /// its answer is lost the application is read, and an operation for `revision` that is
    /// requested or started after `prior_start` (the last operation known before) is adopted.
    /// Only when there is none is it posted again. `log` hears what happened.
    async fn start_operation(
        &self,
        tail: &str,
        body: Value,
        revision: &str,
        prior_start: Option<&str>,
        log: &(dyn Fn(&str) + Sync),
    ) -> Result<(), DeployError> {
        let mut uncertain: Option<String> = None;
        for _ in 0..3 {
            let sent = self
                .request(
                    Method::POST,
                    tail,
                    Some(body.clone()),
                    crate::net::Idempotency::NonIdempotent,
                )
                .await;
            let why = match sent {
                Ok(_) => return Ok(()),
                Err(CallError::Uncertain(why)) => why,
                // A first post that arrived after all makes a second one "already in
                // progress": look whether the operation is ours.
                Err(CallError::Failed(e))
                    if uncertain.is_some() && e.to_string().contains("already in progress") =>
                {
                    e.to_string()
                }
                Err(CallError::Failed(e)) => return Err(e),
            };
            log(&format!(
                "{why}; reading {} before asking again",
                self.cfg.application
            ));
            let now = self.status().await?;
            if let Some(found) = now.operation_for(revision, prior_start) {
                log(&format!(
                    "the request had arrived: adopting the operation {found}"
                ));
                return Ok(());
            }
            if let Some(other) = now
                .operation
                .as_ref()
                .filter(|o| matches!(o.phase, Some(Phase::Running | Phase::Terminating)))
            {
                return Err(DeployError::Invalid(format!(
                    "{why}; {} now runs another operation ({}), not ours: not asking again",
                    self.cfg.application,
                    other.line()
                )));
            }
            log("no operation for it: it did not arrive; asking again");
            uncertain = Some(why);
        }
        Err(DeployError::Invalid(format!(
            "{}; no operation for {revision} appeared after 3 attempts",
            uncertain.unwrap_or_default()
        )))
    }

    /// Asks Argo CD to sync to `revision`, adopting the operation it started when its answer
    /// is lost (see [`Self::start_operation`]).
    pub async fn sync(
        &self,
        revision: &str,
        prior_start: Option<&str>,
        log: &(dyn Fn(&str) + Sync),
    ) -> Result<(), DeployError> {
        let mut body = json!({
            "name": self.cfg.application,
            "revision": revision,
            "prune": self.cfg.prune,
        });
        if !self.cfg.app_namespace.is_empty() {
            body["appNamespace"] = json!(self.cfg.app_namespace);
        }
        if !self.cfg.project.is_empty() {
            body["project"] = json!(self.cfg.project);
        }
        self.start_operation("/sync", body, revision, prior_start, log)
            .await
    }

    /// Asks Argo CD to roll back to history entry `id`, of `revision`; adopts the operation it
    /// started when its answer is lost.
    async fn rollback(
        &self,
        id: i64,
        revision: &str,
        prior_start: Option<&str>,
        log: &(dyn Fn(&str) + Sync),
    ) -> Result<(), DeployError> {
        let mut body = json!({ "name": self.cfg.application, "id": id, "prune": self.cfg.prune });
        if !self.cfg.app_namespace.is_empty() {
            body["appNamespace"] = json!(self.cfg.app_namespace);
        }
        if !self.cfg.project.is_empty() {
            body["project"] = json!(self.cfg.project);
        }
        self.start_operation("/rollback", body, revision, prior_start, log)
            .await
    }

    /// Terminates the running operation.
    pub async fn terminate(&self) -> Result<(), DeployError> {
        self.call(Method::DELETE, "/operation", None)
            .await
            .map(|_| ())
    }

    /// Watches the operation that started after `before` (the last operation's start, if any)
    /// until it is over and the application is where `goal` says, and Healthy. `seen` hears
    /// each new state; `cancel` terminates the operation.
    pub async fn watch(
        &self,
        before: Option<&str>,
        goal: Goal<'_>,
        seen: &(dyn Fn(&AppStatus) + Sync),
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<AppStatus, (Ending, Option<AppStatus>)> {
        let timeout = Duration::from_secs_f64(self.cfg.timeout_mins * 60.0);
        let poll = Duration::from_millis(self.cfg.poll_interval_ms);
        let started = Instant::now();
        let mut last_line = String::new();
        let mut last: Option<AppStatus> = None;
        loop {
            let status = match self.status().await {
                Ok(s) => s,
                Err(e) => return Err((Ending::Failed(e.to_string()), last)),
            };
            if status.line() != last_line {
                last_line = status.line();
                seen(&status);
            }
            let ours = status
                .operation
                .as_ref()
                .filter(|o| before.is_none_or(|b| o.started_at != b));
            if let Some(op) = ours {
                match &op.phase {
                    Some(phase @ (Phase::Failed | Phase::Error)) => {
                        let what = match goal {
                            Goal::Synced(_) => "sync",
                            Goal::RolledBack(_) => "rollback",
                        };
                        let mut why = format!(
                            "the {what} {}: {}",
                            phase.as_str().to_lowercase(),
                            op.message
                        );
                        if !op.failed_resources.is_empty() {
                            why.push_str(&format!("; {}", op.failed_resources.join("; ")));
                        }
                        return Err((Ending::Failed(why), Some(status)));
                    }
                    Some(Phase::Succeeded) => {
                        let done = match goal {
                            Goal::Synced(want) => {
                                status.sync == Some(SyncStatus::Synced)
                                    && want.is_none_or(|w| op.requested_revision == w)
                                    && (op.synced_revision.is_empty()
                                        || op.synced_revision == status.revision)
                            }
                            // The rollback's own operation, deployed: the newest history entry
                            // is the revision it rolled back to.
                            Goal::RolledBack(want) => {
                                op.requested_revision == want
                                    && status.history.last().is_some_and(|h| h.revision == want)
                            }
                        };
                        if status.health == Some(Health::Degraded) {
                            return Err((
                                Ending::Failed(format!(
                                    "the application is Degraded: {}",
                                    status.unhealthy().join("; ")
                                )),
                                Some(status),
                            ));
                        }
                        if done && status.health == Some(Health::Healthy) {
                            return Ok(status);
                        }
                    }
                    _ => {}
                }
            }
            if started.elapsed() >= timeout {
                let why = format!(
                    "still {} after {:.0} min (timeout_mins): {}",
                    or_unknown(status.health.as_ref()),
                    self.cfg.timeout_mins,
                    {
                        let u = status.unhealthy();
                        if u.is_empty() {
                            status.line()
                        } else {
                            u.join("; ")
                        }
                    }
                );
                return Err((Ending::Failed(why), Some(status)));
            }
            last = Some(status);
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = cancel.cancelled() => {
                    return Err((Ending::Cancelled, last));
                }
            }
        }
    }
}

/// The application of `ws`'s `[deploy.argocd]` now (the token is looked up off the async
/// threads: the keyring tool may take a moment).
pub async fn status_of(ws: Workspace) -> Result<AppStatus, DeployError> {
    let argo = tokio::task::spawn_blocking(move || ArgoCd::from_workspace(&ws))
        .await
        .map_err(|e| DeployError::Invalid(e.to_string()))??;
    argo.status().await
}

/// The deploy task: audits the intent, syncs the application to the release's revision (or
/// `revision`), watches it, terminates the operation on cancel, audits a failure.
pub async fn run_task(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    release: Release,
    revision: Option<String>,
) -> crate::runner::TaskResult {
    let fail = |e: &dyn std::fmt::Display| crate::runner::TaskError::Failed(e.to_string());
    let argo = ArgoCd::from_workspace(&ws).map_err(|e| fail(&e))?;
    let version = release.version.to_string();
    let revision = revision.unwrap_or_else(|| argo.revision_of(&release));
    // On a shared workspace, one console rolls out the backend at a time.
    let _lease = {
        let (ws, what) = (
            ws.clone(),
            format!("roll out the backend ({})", argo.config().application),
        );
        tokio::task::spawn_blocking(move || ws.lease(&what))
            .await
            .map_err(|e| fail(&e))?
            .map_err(|e| fail(&e))?
    };
    ctx.begin_step("read the application");
    let before = argo.status().await.map_err(|e| fail(&e))?;
    ctx.log_line(&format!("before: {}", before.line()));
    let intent = json!({
        "application": argo.config().application,
        "revision": revision,
    });
    let prior = json!({ "revision": before.revision, "health": before.health_recorded() });
    {
        let (ws, version, prior, intent) =
            (ws.clone(), version.clone(), prior.clone(), intent.clone());
        tokio::task::spawn_blocking(move || {
            ws.record(Event::DeployBackend(Event::values(version, prior, intent)))
        })
        .await
        .map_err(|e| fail(&e))?
        .map_err(|e| fail(&e))?;
    }
    ctx.begin_step(&format!("sync to {revision}"));
    let prior_start = before.operation.as_ref().map(|o| o.started_at.clone());
    let log = ctx.clone();
    let say = move |line: &str| log.log_line(line);
    if let Err(e) = argo.sync(&revision, prior_start.as_deref(), &say).await {
        record_failure(&ws, Action::DeployBackend, &version, &e.to_string()).await;
        return Err(fail(&e));
    }
    ctx.begin_step("wait for Synced and Healthy");
    let log = ctx.clone();
    let seen = move |s: &AppStatus| {
        log.log_line(&s.line());
        let total = s.resources.len().max(1);
        let healthy = s
            .resources
            .iter()
            .filter(|r| r.health.as_ref().is_none_or(|h| *h == Health::Healthy))
            .count();
        log.set_progress(healthy as f32 / total as f32, Some(&s.line()));
    };
    match argo
        .watch(
            prior_start.as_deref(),
            Goal::Synced(Some(&revision)),
            &seen,
            ctx.cancel_token(),
        )
        .await
    {
        Ok(done) => {
            ctx.log_line(&format!("done: {}", done.line()));
            Ok(format!(
                "{} is Synced at {} and Healthy",
                argo.config().application,
                short(&done.revision)
            ))
        }
        Err((Ending::Cancelled, _)) => {
            ctx.log_line("cancelled: terminating the sync operation");
            if let Err(e) = argo.terminate().await {
                ctx.log_line(&format!("could not terminate the operation: {e}"));
            }
            record_failure(
                &ws,
                Action::DeployBackend,
                &version,
                "cancelled; the operation was terminated",
            )
            .await;
            Err(crate::runner::TaskError::Cancelled)
        }
        Err((Ending::Failed(why), last)) => {
            if let Some(s) = last {
                for r in s.unhealthy() {
                    ctx.log_line(&format!("unhealthy: {r}"));
                }
            }
            record_failure(&ws, Action::DeployBackend, &version, &why).await;
            Err(crate::runner::TaskError::Failed(why))
        }
    }
}

/// The rollback task: audited as `deploy.rollback` on `version` (the release rolled back).
pub async fn run_rollback(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    version: String,
    id: i64,
) -> crate::runner::TaskResult {
    let fail = |e: &dyn std::fmt::Display| crate::runner::TaskError::Failed(e.to_string());
    let argo = ArgoCd::from_workspace(&ws).map_err(|e| fail(&e))?;
    let before = argo.status().await.map_err(|e| fail(&e))?;
    let Some(target) = before.history.iter().find(|h| h.id == id).cloned() else {
        return Err(crate::runner::TaskError::Failed(format!(
            "{} has no history entry {id} (known: {})",
            argo.config().application,
            before
                .history
                .iter()
                .map(|h| h.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    {
        let ws = ws.clone();
        let version = version.clone();
        let prior = json!({ "revision": before.revision, "health": before.health_recorded() });
        let intent = json!({ "application": argo.config().application, "history_id": id, "revision": target.revision });
        tokio::task::spawn_blocking(move || {
            ws.record(Event::DeployRollback(Event::values(version, prior, intent)))
        })
        .await
        .map_err(|e| fail(&e))?
        .map_err(|e| fail(&e))?;
    }
    ctx.begin_step(&format!(
        "roll back to history {id} ({})",
        short(&target.revision)
    ));
    let prior_start = before.operation.as_ref().map(|o| o.started_at.clone());
    let log = ctx.clone();
    let say = move |line: &str| log.log_line(line);
    if let Err(e) = argo
        .rollback(id, &target.revision, prior_start.as_deref(), &say)
        .await
    {
        record_failure(&ws, Action::DeployRollback, &version, &e.to_string()).await;
        return Err(fail(&e));
    }
    let log = ctx.clone();
    let seen = move |s: &AppStatus| log.log_line(&s.line());
    ctx.begin_step(&format!(
        "wait for the rollback to succeed and {} to be Healthy",
        argo.config().application
    ));
    match argo
        .watch(
            prior_start.as_deref(),
            Goal::RolledBack(&target.revision),
            &seen,
            ctx.cancel_token(),
        )
        .await
    {
        Ok(done) => Ok(format!(
            "{} rolled back to {} and Healthy ({} against Git, as Argo CD reports a rollback)",
            argo.config().application,
            short(&target.revision),
            or_unknown(done.sync.as_ref())
        )),
        Err((Ending::Cancelled, _)) => {
            let _ = argo.terminate().await;
            record_failure(
                &ws,
                Action::DeployRollback,
                &version,
                "cancelled; the operation was terminated",
            )
            .await;
            Err(crate::runner::TaskError::Cancelled)
        }
        Err((Ending::Failed(why), _)) => {
            record_failure(&ws, Action::DeployRollback, &version, &why).await;
            Err(crate::runner::TaskError::Failed(why))
        }
    }
}

async fn record_failure(ws: &Workspace, action: Action, version: &str, why: &str) {
    let failed = Event::Failed(Failed {
        action: action.as_str().to_owned(),
        target: version.to_owned(),
        error: why.to_owned(),
        entry: None,
    });
    let ws = ws.clone();
    let r = tokio::task::spawn_blocking(move || ws.record(failed)).await;
    if let Ok(Err(e)) = r {
        tracing::warn!("could not audit the failed rollout: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_reads_into_its_status() {
        let app = json!({
            "metadata": {"name": "api"},
            "status": {
                "sync": {"status": "Synced", "revision": "0123456789abcdef0123456789abcdef01234567"},
                "health": {"status": "Degraded", "message": "one pod crashes"},
                "operationState": {
                    "phase": "Succeeded", "startedAt": "2026-12-01T10:00:00Z",
                    "operation": {"sync": {"revision": "v1.2.0"}},
                    "syncResult": {"revision": "0123456789abcdef0123456789abcdef01234567",
                        "resources": [{"kind": "Job", "name": "migrate", "status": "SyncFailed", "message": "exit 1"}]}
                },
                "resources": [
                    {"kind": "Deployment", "name": "api", "status": "Synced",
                     "health": {"status": "Degraded", "message": "ProgressDeadlineExceeded"}},
                    {"kind": "ConfigMap", "name": "cfg", "status": "Synced"}
                ],
                "history": [{"id": 3, "revision": "abc", "deployedAt": "2026-11-30T10:00:00Z"},
                            {"id": "4", "revision": "def"}]
            }
        });
        let s = AppStatus::from_json("api", &app);
        assert_eq!(
            s.unhealthy(),
            ["Deployment/api Degraded: ProgressDeadlineExceeded"]
        );
        assert_eq!(s.history.iter().map(|h| h.id).collect::<Vec<_>>(), [3, 4]);
        let op = s.operation.as_ref().expect("operation");
        assert_eq!(op.requested_revision, "v1.2.0");
        assert_eq!(op.failed_resources, ["Job/migrate: SyncFailed: exit 1"]);
        assert_eq!(
            s.line(),
            "api: Synced at 0123456789, Degraded, operation Succeeded"
        );
        assert_eq!(s.sync, Some(SyncStatus::Synced));
        assert_eq!(s.health, Some(Health::Degraded));
        assert_eq!(op.phase, Some(Phase::Succeeded));
        assert_eq!(s.resources[1].health, None, "a ConfigMap has no health");
    }

    #[test]
    fn vendor_values_read_known_keep_unknown_and_write_back_as_spelled() {
        assert_eq!(Health::KNOWN.len(), 6);
        for text in Health::KNOWN {
            let health = Health::from(*text);
            assert!(!matches!(health, Health::Other(_)), "{text}");
            assert_eq!(health.to_string(), *text);
        }
        assert_eq!(Health::from("Progressing"), Health::Progressing);
        assert_eq!(SyncStatus::from("OutOfSync"), SyncStatus::OutOfSync);
        assert_eq!(Phase::from("Terminating"), Phase::Terminating);
        // A value a later Argo CD adds is kept, and said back unchanged.
        let later = Health::from("Hibernating");
        assert_eq!(later, Health::Other("Hibernating".into()));
        assert_eq!(later.to_string(), "Hibernating");
        assert!(!later.is_bad());
        // Argo CD's values are case-sensitive: another spelling is not Healthy.
        assert_eq!(Health::from("healthy"), Health::Other("healthy".into()));
    }

    #[test]
    fn the_status_json_is_as_it_was_with_strings() {
        let app = json!({
            "status": {
                "sync": {"status": "OutOfSync", "revision": "abc"},
                "health": {"status": "Hibernating"},
                "operationState": {"phase": "Running", "startedAt": "t"},
                "resources": [
                    {"kind": "Deployment", "name": "api", "status": "Synced",
                     "health": {"status": "Healthy"}},
                    {"kind": "ConfigMap", "name": "cfg"}
                ]
            }
        });
        let s = AppStatus::from_json("api", &app);
        let v = serde_json::to_value(&s).expect("json");
        assert_eq!(v["sync"], "OutOfSync");
        assert_eq!(v["health"], "Hibernating");
        assert_eq!(v["operation"]["phase"], "Running");
        assert_eq!(v["resources"][0]["health"], "Healthy");
        // Absent values were empty strings, and stay so.
        assert_eq!(v["resources"][1]["health"], "");
        assert_eq!(v["resources"][1]["sync"], "");
        let none = serde_json::to_value(AppStatus::from_json("api", &json!({}))).expect("json");
        assert_eq!((&none["sync"], &none["health"]), (&json!(""), &json!("")));
        assert_eq!(
            s.line(),
            "api: OutOfSync at abc, Hibernating, operation Running"
        );
        assert_eq!(
            AppStatus::from_json("api", &json!({})).line(),
            "api: Unknown at no revision, Unknown"
        );
    }
}
