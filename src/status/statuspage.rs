//! Atlassian Statuspage REST API v1: `Authorization: OAuth <key>`, bodies wrapped in
//! `{"incident": {...}}`, about one request per second per key. Requests are paced; 420 and 429
//! are retried after `Retry-After`; 5xx and network errors back off with jitter. Creating an
//! incident is never retried blindly: before every attempt the unresolved incidents are searched
//! for one with the same name, so a retry after an ambiguous failure cannot post a duplicate.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{
    IncidentChange, NewIncident, NewMaintenance, Notify, PageComponent, PageIncident, Secret,
    StatusError, StatusPage,
};

/// How many times one request is tried.
const MAX_ATTEMPTS: u32 = 4;
/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to reach the page.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_base: String,
    pub page_id: String,
    pub key: Secret,
    /// The variable the key came from, named in errors.
    pub key_env: String,
    pub min_interval: Duration,
}

/// The Statuspage client.
pub struct StatuspageClient {
    settings: Settings,
    http: reqwest::Client,
    last_request: tokio::sync::Mutex<Option<Instant>>,
    notify: Notify,
}

impl std::fmt::Debug for StatuspageClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatuspageClient")
            .field("api_base", &self.settings.api_base)
            .field("page_id", &self.settings.page_id)
            .field("key", &self.settings.key)
            .finish()
    }
}

/// Why one attempt failed, and whether trying again can help.
enum Attempt {
    /// 420/429: not processed; wait this long.
    Throttled(u16, Duration),
    /// 5xx or the network: maybe processed.
    Transient(StatusError),
    Fatal(StatusError),
}

impl StatuspageClient {
    pub fn new(settings: Settings, notify: Notify) -> Result<Self, StatusError> {
        if settings.page_id.trim().is_empty() {
            return Err(StatusError::Config(
                "[status_page] page_id is empty: set it to the Statuspage page id".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("release-console/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StatusError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            settings,
            http,
            last_request: tokio::sync::Mutex::new(None),
            notify,
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/pages/{}{path}",
            self.settings.api_base.trim_end_matches('/'),
            self.settings.page_id
        )
    }

    /// Waits so that requests are at least `min_interval` apart.
    async fn pace(&self) {
        let mut last = self.last_request.lock().await;
        if let Some(at) = *last {
            let next = at + self.settings.min_interval;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
        *last = Some(Instant::now());
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Attempt> {
        self.pace().await;
        let url = self.url(path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("OAuth {}", self.settings.key.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Err(Attempt::Transient(StatusError::Network {
                    url,
                    message: without_url(&e),
                }));
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(if text.trim().is_empty() {
                "null"
            } else {
                &text
            })
            .map_err(|e| {
                Attempt::Fatal(StatusError::Http {
                    status: status.as_u16(),
                    message: format!("unreadable JSON from {path}: {e}"),
                })
            });
        }
        let message = error_message(&text);
        Err(match status.as_u16() {
            420 | 429 => Attempt::Throttled(
                status.as_u16(),
                retry_after.unwrap_or(Duration::from_secs(1)),
            ),
            401 => Attempt::Fatal(StatusError::Unauthorized {
                env_var: self.settings.key_env.clone(),
            }),
            404 => Attempt::Fatal(StatusError::NotFound {
                what: format!(
                    "{method} {path}{}",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(" ({message})")
                    }
                ),
            }),
            422 => Attempt::Fatal(StatusError::Rejected { message }),
            s if StatusCode::from_u16(s).is_ok_and(|c| c.is_server_error()) => {
                Attempt::Transient(StatusError::Http { status: s, message })
            }
            s => Attempt::Fatal(StatusError::Http { status: s, message }),
        })
    }

    /// One request, retried while that is safe: always after 420/429; after 5xx and network
    /// errors only when `repeatable` (reads and idempotent updates).
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        repeatable: bool,
    ) -> Result<Value, StatusError> {
        let mut last_err = None;
        for attempt in 1..=MAX_ATTEMPTS {
            match self.attempt(&method, path, body.as_ref()).await {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Throttled(status, wait)) => {
                    if attempt == MAX_ATTEMPTS {
                        return Err(StatusError::RateLimited {
                            status,
                            attempts: attempt,
                        });
                    }
                    let wait = wait.min(MAX_RETRY_AFTER);
                    (self.notify)(&format!(
                        "rate limited ({status}) on {method} {path}: retrying in {:.1} s",
                        wait.as_secs_f64()
                    ));
                    tokio::time::sleep(wait).await;
                }
                Err(Attempt::Transient(e)) => {
                    if !repeatable || attempt == MAX_ATTEMPTS {
                        return Err(e);
                    }
                    let wait = backoff(attempt);
                    (self.notify)(&format!(
                        "{e}; retrying {method} {path} in {:.1} s",
                        wait.as_secs_f64()
                    ));
                    last_err = Some(e);
                    tokio::time::sleep(wait).await;
                }
            }
        }
        Err(last_err.unwrap_or(StatusError::Http {
            status: 0,
            message: "no attempt was made".into(),
        }))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, StatusError> {
        let v = self.request(Method::GET, path, None, true).await?;
        decode(v, path)
    }
}

fn decode<T: DeserializeOwned>(v: Value, path: &str) -> Result<T, StatusError> {
    serde_json::from_value(v).map_err(|e| StatusError::Http {
        status: 200,
        message: format!("unexpected answer from {path}: {e}"),
    })
}

/// reqwest's message without the URL it sometimes repeats.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Exponential backoff from 0.5 s with up to 50% jitter.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = base.mul_f64(f64::from(nanos % 500) / 1000.0);
    base + jitter
}

/// `Retry-After` in seconds or as an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    Some(at.duration_since(now).try_into().unwrap_or(Duration::ZERO))
}

/// The `error` (string or list) or `message` of an error body, else the body itself.
fn error_message(text: &str) -> String {
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        let e = v.get("error").or_else(|| v.get("message"))?;
        Some(match e {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        })
    });
    from_json.unwrap_or_else(|| text.chars().take(200).collect())
}

fn incident_body(i: &NewIncident) -> Value {
    json!({"incident": {
        "name": i.name,
        "status": i.status.as_str(),
        "body": i.body,
        "impact_override": i.impact_override.as_str(),
        "component_ids": i.components.keys().collect::<Vec<_>>(),
        "components": i.components.iter().map(|(k, v)| (k.clone(), json!(v.as_str()))).collect::<serde_json::Map<_, _>>(),
        "deliver_notifications": i.deliver_notifications,
    }})
}

impl StatusPage for StatuspageClient {
    async fn components(&self) -> Result<Vec<PageComponent>, StatusError> {
        self.get("/components").await
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<PageIncident, StatusError> {
        let body = incident_body(incident);
        let mut last_err = None;
        for attempt in 1..=MAX_ATTEMPTS {
            // An earlier attempt (or run) may have created it even though we never heard back.
            let open: Vec<PageIncident> = self.get("/incidents/unresolved").await?;
            if let Some(existing) = open.into_iter().find(|i| i.name == incident.name) {
                (self.notify)(&format!(
                    "an unresolved incident named {:?} exists ({}): not creating a duplicate",
                    incident.name, existing.id
                ));
                return Ok(existing);
            }
            match self
                .request(Method::POST, "/incidents", Some(body.clone()), false)
                .await
            {
                Ok(v) => return decode(v, "/incidents"),
                Err(e @ (StatusError::Http { .. } | StatusError::Network { .. }))
                    if attempt < MAX_ATTEMPTS =>
                {
                    let wait = backoff(attempt);
                    (self.notify)(&format!(
                        "{e}; checking whether it was created, then retrying in {:.1} s",
                        wait.as_secs_f64()
                    ));
                    last_err = Some(e);
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(StatusError::Http {
            status: 0,
            message: "no attempt was made".into(),
        }))
    }

    async fn update_incident(
        &self,
        id: &str,
        change: &IncidentChange,
    ) -> Result<PageIncident, StatusError> {
        let body = json!({"incident": {
            "status": change.status.as_str(),
            "body": change.body,
            "component_ids": change.components.keys().collect::<Vec<_>>(),
            "components": change.components.iter().map(|(k, v)| (k.clone(), json!(v.as_str()))).collect::<serde_json::Map<_, _>>(),
            "deliver_notifications": change.deliver_notifications,
        }});
        // A PATCH to the same state is idempotent: safe to retry.
        let path = format!("/incidents/{id}");
        let v = self.request(Method::PATCH, &path, Some(body), true).await?;
        decode(v, &path)
    }

    async fn unresolved(&self) -> Result<Vec<PageIncident>, StatusError> {
        self.get("/incidents/unresolved").await
    }

    async fn schedule_maintenance(&self, m: &NewMaintenance) -> Result<PageIncident, StatusError> {
        let body = json!({"incident": {
            "name": m.name,
            "status": "scheduled",
            "body": m.body,
            "scheduled_for": m.scheduled_for.to_string(),
            "scheduled_until": m.scheduled_until.to_string(),
            "scheduled_auto_in_progress": true,
            "scheduled_auto_completed": true,
            "component_ids": m.components,
            "deliver_notifications": true,
        }});
        let v = self
            .request(Method::POST, "/incidents", Some(body), false)
            .await?;
        decode(v, "/incidents")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn error_bodies_in_every_shape() {
        assert_eq!(
            error_message(r#"{"error":"Could not authenticate"}"#),
            "Could not authenticate"
        );
        assert_eq!(
            error_message(
                r#"{"error":["Status is not included in the list","Name can't be blank"]}"#
            ),
            "Status is not included in the list; Name can't be blank"
        );
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn backoff_grows_with_bounded_jitter() {
        for attempt in 1..5 {
            let base = Duration::from_millis(500) * 2u32.pow(attempt - 1);
            let b = backoff(attempt);
            assert!(b >= base && b < base.mul_f64(1.5), "{b:?}");
        }
    }
}
