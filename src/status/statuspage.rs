//! Atlassian Statuspage REST API v1: `Authorization: OAuth <key>`, bodies wrapped in
//! `{"incident": {...}}`, about one request per second per key. Requests are paced; 420 and 429
//! are retried after `Retry-After`; 5xx and network errors back off with jitter. Creating an
//! incident is never retried blindly: before every attempt the unresolved incidents are searched
//! for one with the same name, so a retry after an ambiguous failure cannot post a duplicate.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::net::{MAX_RETRY_AFTER, backoff, error_message, parse_retry_after};

use super::{
    IncidentChange, NewIncident, NewMaintenance, Notify, PageComponent, PageIncident, Secret,
    StatusError, StatusPage, Step,
};

/// How many times one request is tried.
const MAX_ATTEMPTS: u32 = 4;

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
            .finish_non_exhaustive()
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
        let http = crate::net::client().map_err(StatusError::Config)?;
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

    /// Waits so that requests are at least `min_interval` apart: counted from the previous
    /// request's answer (see [`Self::answered`]), so they also arrive that far apart however
    /// long the previous one took on its way.
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

    /// The previous request was answered (or failed) now: the next waits from here.
    async fn answered(&self) {
        *self.last_request.lock().await = Some(Instant::now());
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
        let sent = req.send().await;
        self.answered().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Err(Attempt::Transient(StatusError::Network {
                    url,
                    message: crate::net::describe(&e),
                }));
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = match crate::net::read_body(resp, crate::net::MAX_BODY_BYTES).await {
            Ok(text) => text,
            Err(e) => {
                return Err(Attempt::Fatal(StatusError::Network {
                    url,
                    message: e.to_string(),
                }));
            }
        };
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
                what: crate::net::request_and_message(method, path, &message),
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

fn incident_body(i: &NewIncident) -> Value {
    json!({"incident": {
        "name": i.name,
        "status": i.status.as_str(),
        "body": i.body,
        "impact_override": i.impact_override.as_str(),
        "component_ids": i.components.keys().collect::<Vec<_>>(),
        "components": i.components.iter().map(|(k, v)| (k.clone(), json!(v.as_str()))).collect::<serde_json::Map<_, _>>(),
        "deliver_notifications": i.deliver_notifications,
        "metadata": {super::METADATA_KEY: {"idempotency_key": i.idempotency_key}},
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
            if let Some(existing) = open
                .into_iter()
                .find(|i| i.idempotency_key() == Some(incident.idempotency_key.as_str()))
            {
                (self.notify)(&format!(
                    "the page already has this attempt's incident ({}, key {}): not creating a \
                     duplicate",
                    existing.id, incident.idempotency_key
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

    async fn maintenances(&self) -> Result<Vec<PageIncident>, StatusError> {
        let mut all: Vec<PageIncident> = self.get("/incidents/active_maintenance").await?;
        let upcoming: Vec<PageIncident> = self.get("/incidents/scheduled").await?;
        for m in upcoming {
            if !all.iter().any(|a| a.id == m.id) {
                all.push(m);
            }
        }
        Ok(all)
    }

    async fn update_maintenance(
        &self,
        id: &str,
        step: Step<'_>,
    ) -> Result<PageIncident, StatusError> {
        let path = format!("/incidents/{id}");
        let body = json!({"incident": {"status": step.status.as_str(), "body": step.body}});
        let v = self.request(Method::PATCH, &path, Some(body), true).await?;
        decode(v, &path)
    }
}
