//! The merged pull request each commit came in with, from GitHub's REST API: `GET
//! /repos/{owner}/{repo}/commits/{commit_sha}/pulls` ("List pull requests associated with a
//! commit"), as `@octokit/openapi` describes it. Only merged pull requests count.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::notes::PullRequest;
use crate::workspace::config::SourceGitHubConfig;
use crate::workspace::secrets::Secret;

/// The REST API version every request asks for.
pub const API_VERSION: &str = "2022-11-28";
/// A page of pull requests for one commit is small; more is refused.
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct Simple {
    number: u64,
    title: String,
    html_url: String,
    merged_at: Option<String>,
    merge_commit_sha: Option<String>,
}

/// A client for one repository's pull requests.
pub struct PullRequests {
    http: reqwest::Client,
    cfg: SourceGitHubConfig,
    token: Option<Secret>,
}

impl std::fmt::Debug for PullRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullRequests")
            .field("api_base", &self.cfg.api_base)
            .field("repo", &self.cfg.repo)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl PullRequests {
    /// `token` is `None` for a public repository read without one (a lower rate limit).
    pub fn new(cfg: SourceGitHubConfig, token: Option<Secret>) -> Result<Self, String> {
        let http = crate::net::build(
            crate::net::client_builder()
                .timeout(Duration::from_secs(cfg.timeout_secs))
                // The token never follows a redirect to another host.
                .redirect(reqwest::redirect::Policy::none()),
        )?;
        Ok(Self { http, cfg, token })
    }

    /// The merged pull request `sha` came in with, if any: the one whose merge commit it is,
    /// else the first merged one GitHub lists.
    pub async fn for_commit(&self, sha: &str) -> Result<Option<PullRequest>, String> {
        let path = format!("/repos/{}/commits/{sha}/pulls", self.cfg.repo);
        let url = format!("{}{path}", self.cfg.api_base.trim_end_matches('/'));
        let mut req = self
            .http
            .get(&url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("GitHub GET {path}: {}", crate::net::describe(&e)))?;
        let status = resp.status();
        let remaining = resp
            .headers()
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = crate::net::read_body(resp, MAX_BODY)
            .await
            .map_err(|e| format!("GitHub GET {path}: {e}"))?;
        if status == StatusCode::NOT_FOUND || status == StatusCode::UNPROCESSABLE_ENTITY {
            // A commit GitHub does not have (not pushed yet): no pull request.
            return Ok(None);
        }
        if !status.is_success() {
            let limit = if remaining.as_deref() == Some("0") {
                " (rate limit reached)"
            } else {
                ""
            };
            return Err(format!(
                "GitHub {status}{limit}: {}",
                crate::net::request_and_message(
                    &reqwest::Method::GET,
                    &path,
                    &crate::net::error_message(&body)
                )
            ));
        }
        let list: Vec<Simple> = serde_json::from_str(&body)
            .map_err(|e| format!("GitHub GET {path}: not a list of pull requests: {e}"))?;
        let merged: Vec<&Simple> = list.iter().filter(|p| p.merged_at.is_some()).collect();
        let pick = merged
            .iter()
            .find(|p| p.merge_commit_sha.as_deref() == Some(sha))
            .or_else(|| merged.first());
        Ok(pick.map(|p| PullRequest {
            number: p.number,
            title: p.title.trim().to_owned(),
            url: p.html_url.clone(),
        }))
    }
}
