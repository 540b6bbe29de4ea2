//! The HTTP side shared by the `LaunchDarkly` and Unleash clients: auth header, JSON bodies,
//! 429 honoured (`Retry-After`, or `LaunchDarkly`'s `X-Ratelimit-Reset` in epoch milliseconds),
//! jittered backoff on 5xx for idempotent requests, and vendor errors mapped to [`FlagsError`].

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::FlagsError;
use crate::net::{MAX_RETRY_AFTER, backoff, describe, error_message, parse_retry_after};
use crate::workspace::secrets::Secret;

const MAX_ATTEMPTS: u32 = 4;

#[derive(Clone)]
pub struct Api {
    base: String,
    token: Secret,
    token_env: String,
    extra_headers: Vec<(&'static str, &'static str)>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// How long a 429 asks us to wait.
fn throttle_wait(headers: &reqwest::header::HeaderMap) -> Duration {
    if let Some(d) = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
    {
        return d;
    }
    let reset_ms = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    if let Some(ms) = reset_ms {
        let now_ms = jiff::Timestamp::now().as_millisecond();
        return Duration::from_millis(u64::try_from(ms - now_ms).unwrap_or(0));
    }
    Duration::from_secs(1)
}

impl Api {
    /// A path for [`Self::call`] from a link the server sent: absolute links on this base
    /// lose the base, relative ones are kept.
    pub fn relative(&self, href: &str) -> String {
        href.strip_prefix(&self.base).unwrap_or(href).to_owned()
    }

    pub fn new(
        base: &str,
        token: Secret,
        token_env: &str,
        extra_headers: Vec<(&'static str, &'static str)>,
    ) -> Result<Self, FlagsError> {
        if base.trim().is_empty() {
            return Err(FlagsError::Config("[flags] api_base is empty".into()));
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            token_env: token_env.to_owned(),
            extra_headers,
            http: crate::net::client().map_err(FlagsError::Config)?,
        })
    }

    /// Sends one request (retried as described in the module docs) and returns the JSON body
    /// (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        content_type: Option<&str>,
    ) -> Result<Value, FlagsError> {
        let url = format!("{}{path}", self.base);
        let repeatable = matches!(method, Method::GET | Method::PUT | Method::DELETE);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::AUTHORIZATION, self.token.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            for (k, v) in &self.extra_headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        content_type.unwrap_or("application/json"),
                    )
                    .body(b.to_string());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if repeatable && attempt < MAX_ATTEMPTS => {
                    tracing::warn!("{method} {path}: {}; retrying", describe(&e));
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(FlagsError::Network {
                        url,
                        message: describe(&e),
                    });
                }
            };
            let status = resp.status();
            if status.as_u16() == 429 {
                if attempt >= MAX_ATTEMPTS {
                    return Err(FlagsError::RateLimited { attempts: attempt });
                }
                let wait = throttle_wait(resp.headers()).min(MAX_RETRY_AFTER);
                tracing::info!("{method} {path}: rate limited; waiting {wait:?}");
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = crate::net::read_body(resp, crate::net::MAX_BODY_BYTES)
                .await
                .map_err(|e| FlagsError::Network {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
            if status.is_success() {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text).map_err(|e| FlagsError::Http {
                    status: status.as_u16(),
                    message: format!("unreadable JSON from {method} {path}: {e}"),
                });
            }
            if status.is_server_error() && repeatable && attempt < MAX_ATTEMPTS {
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            let message = error_message(&text);
            return Err(match status.as_u16() {
                400 | 422 => FlagsError::Rejected { message },
                401 | 403 => FlagsError::Unauthorized {
                    env_var: self.token_env.clone(),
                },
                404 => FlagsError::NotFound {
                    what: crate::net::request_and_message(&method, path, &message),
                },
                // LaunchDarkly answers 405 when a change needs approval, and says so; any
                // other 405 is just a method the server does not take.
                405 if message.to_ascii_lowercase().contains("approval") => {
                    FlagsError::ApprovalRequired { message }
                }
                409 => FlagsError::Conflict { message },
                s => FlagsError::Http { status: s, message },
            });
        }
    }
}
