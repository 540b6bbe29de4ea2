//! GitHub Actions through its REST API (github.com or GitHub Enterprise Server): workflow
//! dispatch, runs and jobs read with conditional requests, cancel, re-run of failed jobs,
//! artifacts and job logs through their short-lived signed URLs. Rate limits are obeyed: the
//! primary limit (`x-ratelimit-remaining`/`x-ratelimit-reset`) before the next request, and the
//! secondary limits (403/429 with `Retry-After`) as the documentation says.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ArtifactView, CiEngine, Conclusion, DispatchRequest, JobView, RemoteError, RunRef, RunView,
    Status,
};
use crate::runner::TaskContext;
use crate::workspace::config::GitHubConfig;
use crate::workspace::secrets::Secret;
use tokio_util::sync::CancellationToken;

/// The REST API version every request asks for.
pub const API_VERSION: &str = "2022-11-28";
/// How long a 204 dispatch is looked for among the workflow's runs.
const FIND_RUN_FOR: Duration = Duration::from_mins(2);
/// The longest wait for a rate limit's reset (GitHub's window is an hour).
const MAX_RESET_WAIT: Duration = Duration::from_mins(61);
/// GitHub: after a secondary rate limit without `Retry-After`, wait at least a minute.
const SECONDARY_WAIT: Duration = Duration::from_mins(1);
/// Attempts at a request answered 5xx or not at all.
const ATTEMPTS: u32 = 4;
/// The largest job log copied into the task log.
const MAX_LOG_BYTES: usize = 8 * 1024 * 1024;

/// A GitHub Actions client for one repository and workflow.
pub struct GitHub {
    api: reqwest::Client,
    /// For signed download URLs: no Authorization, no redirect limit beyond reqwest's.
    blobs: reqwest::Client,
    cfg: GitHubConfig,
    token: Secret,
    ctx: Option<TaskContext>,
    cancel: CancellationToken,
    /// Conditional requests: the last `ETag` and body per URL.
    etags: Mutex<HashMap<String, (HeaderValue, String)>>,
    /// No request before this instant (a primary limit at 0).
    blocked_until: Mutex<Option<(std::time::Instant, String)>>,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api_base", &self.cfg.api_base)
            .field("repo", &self.cfg.repo)
            .field("workflow", &self.cfg.workflow)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// A response, after rate limits and conditional requests are dealt with.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl GitHub {
    /// A client for `cfg` with `token`; with `ctx`, waits are logged to that task and its
    /// cancellation stops them.
    pub fn new(
        cfg: GitHubConfig,
        token: Secret,
        ctx: Option<TaskContext>,
    ) -> Result<Self, RemoteError> {
        // A redirect is followed by hand, so the token never goes to another host.
        let no_redirect =
            || crate::net::client_builder().redirect(reqwest::redirect::Policy::none());
        let api = crate::net::build(no_redirect().timeout(Duration::from_secs(cfg.timeout_secs)))
            .map_err(RemoteError::Config)?;
        let blobs = crate::net::build(
            no_redirect()
                .connect_timeout(crate::net::REQUEST_TIMEOUT)
                .read_timeout(crate::net::REQUEST_TIMEOUT),
        )
        .map_err(RemoteError::Config)?;
        let cancel = ctx
            .as_ref()
            .map_or_else(CancellationToken::new, |c| c.cancel_token().clone());
        Ok(Self {
            api,
            blobs,
            cfg,
            token,
            ctx,
            cancel,
            etags: Mutex::new(HashMap::new()),
            blocked_until: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &GitHubConfig {
        &self.cfg
    }

    fn repo_url(&self, path: &str) -> String {
        format!(
            "{}/repos/{}{path}",
            self.cfg.api_base.trim_end_matches('/'),
            self.cfg.repo
        )
    }

    fn workflow_path(&self) -> String {
        format!("/actions/workflows/{}", self.cfg.workflow)
    }

    fn log(&self, line: &str) {
        if let Some(ctx) = &self.ctx {
            ctx.log_line(line);
        } else {
            tracing::info!("{line}");
        }
    }

    /// Sleeps `wait` (logged with `why`), or returns `Cancelled` when `cancel` is cancelled.
    async fn wait(
        &self,
        cancel: &CancellationToken,
        wait: Duration,
        why: &str,
    ) -> Result<(), RemoteError> {
        let until = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
            .unwrap_or_else(|_| jiff::Timestamp::now());
        self.log(&format!(
            "GitHub: {why}; waiting {} (until {})",
            crate::human_duration(wait),
            crate::local_time(until, true)
        ));
        tokio::select! {
            () = cancel.cancelled() => Err(RemoteError::Cancelled),
            () = tokio::time::sleep(wait) => Ok(()),
        }
    }

    /// One API call: waits out a primary limit first, sends (conditionally when `etag`),
    /// answers a 304 from the cache, waits and retries on secondary limits and 5xx.
    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        etag: bool,
    ) -> Result<Answer, RemoteError> {
        let idempotency = crate::net::Idempotency::of_method(&method);
        self.request(&self.cancel.clone(), method, url, body, etag, idempotency)
            .await
    }

    /// [`Self::call`] stopped by `cancel` (a cancel request outlives the task's token), of a
    /// request that says whether it may be sent twice: one that may
    /// not is sent again only when it certainly did not arrive (the connection failed) or the
    /// server refused it (429); when it may have arrived (a timeout or a broken connection
    /// after sending, any 5xx) the answer is [`RemoteError::Uncertain`], for the caller to
    /// look for its effect.
    async fn request(
        &self,
        cancel: &CancellationToken,
        method: Method,
        url: &str,
        body: Option<&Value>,
        etag: bool,
        idempotency: crate::net::Idempotency,
    ) -> Result<Answer, RemoteError> {
        let shown = url
            .strip_prefix(self.cfg.api_base.trim_end_matches('/'))
            .unwrap_or(url)
            .to_owned();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let blocked = self
                .blocked_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some((until, why)) = blocked {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if !left.is_zero() {
                    self.wait(cancel, left, &why).await?;
                }
            }
            let mut req = self
                .api
                .request(method.clone(), url)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", API_VERSION)
                .bearer_auth(self.token.expose());
            let cached = etag
                .then(|| {
                    self.etags
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get(url)
                        .cloned()
                })
                .flatten();
            if let Some((tag, _)) = &cached {
                req = req.header("if-none-match", tag.clone());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let sent = tokio::select! {
                () = cancel.cancelled() => return Err(RemoteError::Cancelled),
                r = req.send() => r,
            };
            let resp = match sent {
                Ok(r) => r,
                Err(e) if !crate::net::Arrival::of_error(&e).may_retry(idempotency) => {
                    return Err(RemoteError::Uncertain(format!(
                        "{method} {shown}: {}; it may have arrived",
                        crate::net::describe(&e)
                    )));
                }
                Err(e) if attempt < ATTEMPTS => {
                    let wait = crate::net::backoff(attempt);
                    self.wait(
                        cancel,
                        wait,
                        &format!("{method} {shown}: {}", crate::net::describe(&e)),
                    )
                    .await?;
                    continue;
                }
                Err(e) => {
                    return Err(RemoteError::Http(format!(
                        "{method} {shown}: {}",
                        crate::net::describe(&e)
                    )));
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let limit = RateLimit::of(&headers);
            let text = crate::net::read_body(resp, crate::net::MAX_BODY_BYTES)
                .await
                .map_err(|e| RemoteError::Http(format!("{method} {shown}: {e}")))?;
            if let Some(limit) = &limit
                && limit.remaining == 0
            {
                // The next request would be refused: none goes out before the reset.
                *self
                    .blocked_until
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((
                    std::time::Instant::now() + limit.until_reset(),
                    format!(
                        "the {} rate limit ({} requests an hour) is used up",
                        limit.resource, limit.limit
                    ),
                ));
            }
            if status == StatusCode::NOT_MODIFIED
                && let Some((_, body)) = cached
            {
                return Ok(Answer {
                    status: StatusCode::OK,
                    headers,
                    body,
                });
            }
            if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
                let message = crate::net::error_message(&text);
                let retry_after = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(crate::net::parse_retry_after);
                let primary = limit.as_ref().is_some_and(|l| l.remaining == 0);
                let secondary = message.to_ascii_lowercase().contains("rate limit");
                if retry_after.is_some() || primary || secondary {
                    if attempt > ATTEMPTS + 2 {
                        return Err(RemoteError::Http(format!(
                            "{method} {shown}: still rate limited after {attempt} tries \
                             ({message})"
                        )));
                    }
                    if !primary {
                        let wait = retry_after.unwrap_or(SECONDARY_WAIT);
                        self.wait(cancel, wait, &format!("secondary rate limit ({message})"))
                            .await?;
                    }
                    continue;
                }
            }
            // Before any second copy of a request that may not be sent twice, its effect is
            // looked for: a gateway's 502/503/504 may have reached the origin, and an origin's
            // own 5xx may have failed after acting.
            if idempotency == crate::net::Idempotency::NonIdempotent && status.is_server_error() {
                let why = if crate::net::Arrival::of_status(status)
                    == Some(crate::net::Arrival::Uncertain)
                {
                    "it may have arrived"
                } else {
                    "it arrived and failed, perhaps after acting"
                };
                return Err(RemoteError::Uncertain(format!(
                    "{method} {shown} answered {status} ({}); {}",
                    crate::net::error_message(&text),
                    why
                )));
            }
            if status.is_server_error() && attempt < ATTEMPTS {
                self.wait(
                    cancel,
                    crate::net::backoff(attempt),
                    &format!("{method} {shown} answered {status}"),
                )
                .await?;
                continue;
            }
            if etag
                && status.is_success()
                && let Some(tag) = headers.get("etag")
            {
                self.etags
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(url.to_owned(), (tag.clone(), text.clone()));
            }
            return Ok(Answer {
                status,
                headers,
                body: text,
            });
        }
    }

    /// The answer when it has status `want`, else an error naming the request and GitHub's
    /// words (with what to do about 401/403/404).
    fn expect(
        &self,
        answer: Answer,
        want: &[StatusCode],
        what: &str,
    ) -> Result<Answer, RemoteError> {
        if want.contains(&answer.status) {
            return Ok(answer);
        }
        let message = crate::net::error_message(&answer.body);
        let hint = match answer.status {
            StatusCode::UNAUTHORIZED => format!(
                ": GitHub refused the token in ${} (expired or revoked?)",
                self.cfg.token_env
            ),
            StatusCode::FORBIDDEN => format!(
                ": the token in ${} may not do this in {} (it needs actions: write)",
                self.cfg.token_env, self.cfg.repo
            ),
            StatusCode::NOT_FOUND => format!(
                ": {} or its workflow {} is not there, or the token cannot see it",
                self.cfg.repo, self.cfg.workflow
            ),
            _ => String::new(),
        };
        Err(RemoteError::Http(format!(
            "{what}: {} ({message}){hint}",
            answer.status
        )))
    }

    /// `GET /repos/{repo}{path}` answered 200, parsed; `etag` makes it a conditional request.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        etag: bool,
        what: &str,
    ) -> Result<T, RemoteError> {
        let answer = self.expect(
            self.call(Method::GET, &self.repo_url(path), None, etag)
                .await?,
            &[StatusCode::OK],
            what,
        )?;
        Self::parse(&answer.body, what)
    }

    /// `GET /actions/runs/{id}{tail}` (`tail`: `""` for the run, `/jobs?...` for a list of
    /// it); `of` names the list in a message (`"the jobs of "`).
    async fn run_json<T: serde::de::DeserializeOwned>(
        &self,
        id: u64,
        tail: &str,
        of: &str,
        etag: bool,
    ) -> Result<T, RemoteError> {
        let (path, what) = (
            format!("/actions/runs/{id}{tail}"),
            format!("GET {of}run #{id}"),
        );
        self.get_json(&path, etag, &what).await
    }

    fn parse<T: serde::de::DeserializeOwned>(body: &str, what: &str) -> Result<T, RemoteError> {
        serde_json::from_str(body)
            .map_err(|e| RemoteError::Http(format!("{what}: unreadable answer: {e}")))
    }

    /// The workflow as GitHub knows it: `NAME (state)`, for preflight.
    pub async fn describe_workflow(&self) -> Result<String, RemoteError> {
        let what = format!("GET workflow {} in {}", self.cfg.workflow, self.cfg.repo);
        let w: WorkflowBody = self.get_json(&self.workflow_path(), true, &what).await?;
        if w.state != "active" {
            return Err(RemoteError::Http(format!(
                "workflow {} in {} is {} (enable it in the repository's Actions tab)",
                w.name, self.cfg.repo, w.state
            )));
        }
        Ok(format!("{} ({}) at {}", w.name, w.state, w.path))
    }

    /// The workflow's newest 100 `workflow_dispatch` runs. (No `created=>=...` filter:
    /// GitHub's description types `created` as a plain date-time, which the documented
    /// `>=` range syntax is not; the correlation id is what picks ours anyway.)
    async fn dispatch_runs(&self) -> Result<Vec<RunBody>, RemoteError> {
        let path = format!(
            "{}/runs?event=workflow_dispatch&per_page=100",
            self.workflow_path()
        );
        let what = format!("GET the runs of workflow {}", self.cfg.workflow);
        Ok(self
            .get_json::<RunsBody>(&path, false, &what)
            .await?
            .workflow_runs)
    }

    /// The run that carries `correlation_id` in its name; waits for it to appear (a dispatch
    /// answered 204 names no run). Another run, however recent, is never taken.
    async fn find_run(&self, correlation_id: &str) -> Result<RunRef, RemoteError> {
        self.look_for_run(correlation_id).await?.ok_or_else(|| {
            RemoteError::Http(format!(
                "GitHub accepted the dispatch but no run named with {correlation_id} appeared \
                 within {}; is `run-name` in {} still carrying inputs.correlation_id?",
                crate::human_duration(FIND_RUN_FOR),
                self.cfg.workflow
            ))
        })
    }

    /// The run that carries `correlation_id`, looked for until [`FIND_RUN_FOR`] has passed;
    /// `None` when none appeared by then.
    async fn look_for_run(&self, correlation_id: &str) -> Result<Option<RunRef>, RemoteError> {
        let deadline = std::time::Instant::now() + FIND_RUN_FOR;
        let poll = Duration::from_millis(self.cfg.poll_interval_ms.clamp(200, 5000));
        loop {
            let runs = self.dispatch_runs().await?;
            let ours: Vec<&RunBody> = runs
                .iter()
                .filter(|r| {
                    carries(&r.display_title, correlation_id) || carries(&r.name, correlation_id)
                })
                .collect();
            match ours.as_slice() {
                [one] => {
                    self.log(&format!(
                        "found run #{} by its correlation id {correlation_id} (among {} \
                         workflow_dispatch runs)",
                        one.id,
                        runs.len()
                    ));
                    return Ok(Some(RunRef {
                        id: one.id,
                        html_url: one.html_url.clone(),
                    }));
                }
                [] => {}
                many => {
                    return Err(RemoteError::Http(format!(
                        "{} runs carry the correlation id {correlation_id}: {}; not adopting any",
                        many.len(),
                        many.iter()
                            .map(|r| format!("#{}", r.id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::select! {
                () = self.cancel.cancelled() => return Err(RemoteError::Cancelled),
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Follows a 302 from the API to its signed URL, without the token.
    fn location(answer: &Answer, what: &str) -> Result<reqwest::Url, RemoteError> {
        let loc = answer
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RemoteError::Http(format!("{what}: 302 without a Location")))?;
        let url = reqwest::Url::parse(loc)
            .map_err(|e| RemoteError::Http(format!("{what}: bad Location {loc:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(RemoteError::Http(format!(
                "{what}: refusing to follow a {} link",
                url.scheme()
            )));
        }
        Ok(url)
    }
}

/// Whether `title` contains `id` as a whole word (so `rc-1` is not found in `rc-10`).
fn carries(title: &str, id: &str) -> bool {
    !id.is_empty()
        && title
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .any(|w| w == id)
}

impl CiEngine for GitHub {
    fn title(&self) -> &'static str {
        "GitHub Actions"
    }

    fn key(&self) -> &'static str {
        "github"
    }

    async fn dispatch(&self, req: &DispatchRequest) -> Result<RunRef, RemoteError> {
        let url = self.repo_url(&format!("{}/dispatches", self.workflow_path()));
        // Inputs as strings: what every GitHub version accepts for boolean inputs too.
        let body = json!({
            "ref": self.cfg.git_ref,
            "inputs": {
                "version": req.version,
                "platform": req.platform,
                "skip_signing": req.skip_signing.to_string(),
                "resume": req.resume.to_string(),
                "correlation_id": req.correlation_id,
            },
            "return_run_details": true,
        });
        let what = format!(
            "POST dispatch of {} on {} in {}",
            self.cfg.workflow, self.cfg.git_ref, self.cfg.repo
        );
        // A dispatch is a build (a signed one): it is never sent again while the first may
        // have started one. When its answer is lost, the run is looked for by the
        // correlation id it carries, and adopted; only when none appears is it sent again.
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            match self.call(Method::POST, &url, Some(&body), false).await {
                Err(RemoteError::Uncertain(why)) => {
                    self.log(&format!(
                        "the dispatch may have arrived ({why}); looking for a run with \
                         {} before dispatching again",
                        req.correlation_id
                    ));
                    if let Some(run) = self.look_for_run(&req.correlation_id).await? {
                        self.log(&format!(
                            "the dispatch had arrived: adopting run #{} {}",
                            run.id, run.html_url
                        ));
                        return Ok(run);
                    }
                    if attempt >= ATTEMPTS {
                        return Err(RemoteError::Http(format!(
                            "{what}: {why}; no run with {} appeared within {} after any of \
                             {attempt} attempts",
                            req.correlation_id,
                            crate::human_duration(FIND_RUN_FOR)
                        )));
                    }
                    self.log(&format!(
                        "no run with {} appeared within {}: the dispatch did not arrive; \
                         dispatching again",
                        req.correlation_id,
                        crate::human_duration(FIND_RUN_FOR)
                    ));
                }
                other => break other?,
            }
        };
        let answer = self.expect(answer, &[StatusCode::OK, StatusCode::NO_CONTENT], &what)?;
        if answer.status == StatusCode::OK {
            let d: DispatchBody = Self::parse(&answer.body, &what)?;
            self.log(&format!(
                "dispatched {} on {}: run #{} {}",
                self.cfg.workflow, self.cfg.git_ref, d.workflow_run_id, d.html_url
            ));
            return Ok(RunRef {
                id: d.workflow_run_id,
                html_url: d.html_url,
            });
        }
        self.log(&format!(
            "dispatched {} on {}; GitHub named no run (204), looking for {}",
            self.cfg.workflow, self.cfg.git_ref, req.correlation_id
        ));
        self.find_run(&req.correlation_id).await
    }

    async fn find_dispatched(&self, correlation_id: &str) -> Result<Option<RunRef>, RemoteError> {
        self.look_for_run(correlation_id).await
    }

    async fn run(&self, id: u64) -> Result<RunView, RemoteError> {
        let run: RunBody = self.run_json(id, "", "", true).await?;
        let jobs: JobsBody = self
            .run_json(id, "/jobs?per_page=100", "the jobs of ", true)
            .await?;
        Ok(RunView {
            id: run.id,
            html_url: run.html_url,
            title: run.display_title,
            status: run.status.unwrap_or(Status::Queued),
            conclusion: run.conclusion,
            attempt: run.run_attempt.unwrap_or(1),
            head_sha: run.head_sha.filter(|s| !s.is_empty()),
            jobs: jobs.jobs,
        })
    }

    async fn cancel(&self, id: u64) -> Result<(), RemoteError> {
        let what = format!("POST cancel of run #{id}");
        // Sent after the task was cancelled: not stopped by the task's token.
        // Cancelling twice changes nothing more: it may be sent again.
        let answer = self
            .request(
                &CancellationToken::new(),
                Method::POST,
                &self.repo_url(&format!("/actions/runs/{id}/cancel")),
                None,
                false,
                crate::net::Idempotency::Idempotent,
            )
            .await?;
        if answer.status == StatusCode::CONFLICT {
            return Err(RemoteError::Http(format!(
                "{what}: 409, it cannot be cancelled now ({})",
                crate::net::error_message(&answer.body)
            )));
        }
        self.expect(answer, &[StatusCode::ACCEPTED], &what)
            .map(|_| ())
    }

    async fn rerun_failed(&self, id: u64) -> Result<(), RemoteError> {
        let what = format!("POST rerun-failed-jobs of run #{id}");
        let sent = self
            .call(
                Method::POST,
                &self.repo_url(&format!("/actions/runs/{id}/rerun-failed-jobs")),
                None,
                false,
            )
            .await;
        match sent {
            // A second re-run would be another attempt: the run is read instead; one that
            // is no longer completed is re-running (ours arrived).
            Err(RemoteError::Uncertain(why)) => {
                let run: RunBody = self.run_json(id, "", "", false).await?;
                if run.status == Some(Status::Completed) {
                    return Err(RemoteError::Uncertain(format!(
                        "{what}: {why}; run #{id} is still completed, so it did not take: \
                         Resume asks again"
                    )));
                }
                self.log(&format!(
                    "the re-run request's answer was lost ({why}), but run #{id} is \
                     running again: it arrived"
                ));
            }
            other => {
                self.expect(other?, &[StatusCode::CREATED], &what)?;
            }
        }
        self.log(&format!(
            "asked GitHub to re-run the failed jobs of run #{id}"
        ));
        Ok(())
    }

    async fn artifacts(&self, run_id: u64) -> Result<Vec<ArtifactView>, RemoteError> {
        let list: ArtifactsBody = self
            .run_json(
                run_id,
                "/artifacts?per_page=100",
                "the artifacts of ",
                false,
            )
            .await?;
        Ok(list
            .artifacts
            .into_iter()
            .map(|a| ArtifactView {
                id: a.id,
                name: a.name,
                size_bytes: a.size_in_bytes,
                expired: a.expired,
                expires_at: a.expires_at,
            })
            .collect())
    }

    async fn download(&self, artifact: &ArtifactView, to: &Path) -> Result<u64, RemoteError> {
        let what = format!("GET artifact {} (#{})", artifact.name, artifact.id);
        let answer = self
            .call(
                Method::GET,
                &self.repo_url(&format!("/actions/artifacts/{}/zip", artifact.id)),
                None,
                false,
            )
            .await?;
        if answer.status == StatusCode::GONE {
            return Err(RemoteError::Expired(format!(
                "artifact {} has expired{} ({}); build the platform again",
                artifact.name,
                artifact
                    .expires_at
                    .as_deref()
                    .map(|t| format!(" on {t}"))
                    .unwrap_or_default(),
                crate::net::error_message(&answer.body)
            )));
        }
        let answer = self.expect(answer, &[StatusCode::FOUND], &what)?;
        let url = Self::location(&answer, &what)?;
        // The signed URL carries its own authorization; the token is not sent there.
        let sent = tokio::select! {
            () = self.cancel.cancelled() => return Err(RemoteError::Cancelled),
            r = self.blobs.get(url).send() => r,
        };
        let mut resp =
            sent.map_err(|e| RemoteError::Http(format!("{what}: {}", crate::net::describe(&e))))?;
        if !resp.status().is_success() {
            return Err(RemoteError::Http(format!(
                "{what}: the download link answered {}",
                resp.status()
            )));
        }
        // GitHub lists an artifact's `size_in_bytes` as its zip's own size (artifacts v4,
        // the only kind since 2025): more is refused as it arrives, less broke off.
        let listed = artifact.size_bytes;
        let size_error = |got: &str| {
            RemoteError::Http(format!(
                "{what}: the download is {got} bytes, but GitHub lists the artifact at \
                 {listed}; refusing it"
            ))
        };
        if let Some(n) = resp.content_length().filter(|n| *n > listed) {
            return Err(size_error(&n.to_string()));
        }
        let io = |cause: std::io::Error| RemoteError::Io {
            path: to.to_owned(),
            cause,
        };
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let mut file = tokio::fs::File::create(to).await.map_err(io)?;
        let mut written = 0u64;
        loop {
            let chunk = tokio::select! {
                () = self.cancel.cancelled() => return Err(RemoteError::Cancelled),
                c = resp.chunk() => c,
            }
            .map_err(|e| {
                RemoteError::Http(format!("{what}: broke off: {}", crate::net::describe(&e)))
            })?;
            let Some(chunk) = chunk else { break };
            if written + chunk.len() as u64 > listed {
                drop(file);
                let _ = tokio::fs::remove_file(to).await;
                return Err(size_error(&format!("more than {listed}")));
            }
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(io)?;
            written += chunk.len() as u64;
        }
        file.sync_all().await.map_err(io)?;
        if written < listed {
            drop(file);
            let _ = tokio::fs::remove_file(to).await;
            return Err(size_error(&written.to_string()));
        }
        Ok(written)
    }

    async fn job_log(&self, job_id: u64) -> Result<String, RemoteError> {
        let what = format!("GET the log of job #{job_id}");
        let answer = self.expect(
            self.call(
                Method::GET,
                &self.repo_url(&format!("/actions/jobs/{job_id}/logs")),
                None,
                false,
            )
            .await?,
            &[StatusCode::FOUND],
            &what,
        )?;
        let url = Self::location(&answer, &what)?;
        let resp = self
            .blobs
            .get(url)
            .send()
            .await
            .map_err(|e| RemoteError::Http(format!("{what}: {}", crate::net::describe(&e))))?;
        if !resp.status().is_success() {
            return Err(RemoteError::Http(format!(
                "{what}: the log link answered {}",
                resp.status()
            )));
        }
        crate::net::read_body(resp, MAX_LOG_BYTES)
            .await
            .map_err(|e| RemoteError::Http(format!("{what}: {e}")))
    }
}

/// The primary rate limit headers of a response.
struct RateLimit {
    limit: u64,
    remaining: u64,
    /// Epoch seconds.
    reset: i64,
    resource: String,
}

impl RateLimit {
    fn of(headers: &HeaderMap) -> Option<Self> {
        let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<i64>().ok();
        Some(Self {
            limit: u64::try_from(num("x-ratelimit-limit").unwrap_or(0)).unwrap_or(0),
            remaining: u64::try_from(num("x-ratelimit-remaining")?).unwrap_or(0),
            reset: num("x-ratelimit-reset")?,
            resource: headers
                .get("x-ratelimit-resource")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("core")
                .to_owned(),
        })
    }

    /// Until the reset, plus a second for clock skew, at most [`MAX_RESET_WAIT`].
    fn until_reset(&self) -> Duration {
        let now = jiff::Timestamp::now().as_second();
        let secs = u64::try_from(self.reset.saturating_sub(now).max(0)).unwrap_or(0) + 1;
        Duration::from_secs(secs).min(MAX_RESET_WAIT)
    }
}

#[derive(Deserialize)]
struct WorkflowBody {
    name: String,
    path: String,
    state: String,
}

#[derive(Deserialize)]
struct DispatchBody {
    workflow_run_id: u64,
    html_url: String,
}

#[derive(Deserialize)]
struct RunsBody {
    workflow_runs: Vec<RunBody>,
}

#[derive(Deserialize)]
struct RunBody {
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_title: String,
    html_url: String,
    status: Option<Status>,
    conclusion: Option<Conclusion>,
    run_attempt: Option<u32>,
    #[serde(default)]
    head_sha: Option<String>,
}

#[derive(Deserialize)]
struct JobsBody {
    jobs: Vec<JobView>,
}

#[derive(Deserialize)]
struct ArtifactsBody {
    artifacts: Vec<ArtifactBody>,
}

#[derive(Deserialize)]
struct ArtifactBody {
    id: u64,
    name: String,
    size_in_bytes: u64,
    expired: bool,
    expires_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correlation_id_is_matched_as_a_whole_word() {
        assert!(carries(
            "release 1.2.0 macos [rc-macos-1.2.0-0a1b2c3d]",
            "rc-macos-1.2.0-0a1b2c3d"
        ));
        assert!(!carries(
            "release 1.2.0 macos [rc-macos-1.2.0-0a1b2c3d0]",
            "rc-macos-1.2.0-0a1b2c3d"
        ));
        assert!(!carries("release 1.2.0 macos []", ""));
    }
}
