//! The AWS JSON protocol (`CloudWatch`, Secrets Manager): `POST /` with `X-Amz-Target`, a JSON
//! body, signed with `SigV4` in headers; errors carry their type in `__type`.

use serde_json::Value;

use super::sigv4::{self, Credentials, Scope};

/// A date in an AWS JSON-protocol answer: epoch seconds with a fraction (the JSON protocols'
/// timestamp format), or an ISO 8601 string as some services (and moto) send.
pub fn timestamp(v: &Value) -> Option<jiff::Timestamp> {
    v.as_f64()
        .filter(|secs| secs.is_finite())
        .and_then(|secs| jiff::SignedDuration::try_from_secs_f64(secs).ok())
        .and_then(|d| jiff::Timestamp::from_duration(d).ok())
        .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
}

/// One AWS service at one endpoint.
#[derive(Debug, Clone)]
pub struct JsonApi {
    http: reqwest::Client,
    url: String,
    host: String,
    scope: Scope,
    creds: Credentials,
    /// `1.0` (`CloudWatch`) or `1.1` (Secrets Manager).
    json_version: &'static str,
}

/// A call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// The service answered with an error (`ResourceNotFoundException`, ...).
    #[error("{service} {action}: {status} {kind}: {message}")]
    Service {
        service: String,
        action: String,
        status: u16,
        kind: String,
        message: String,
    },
    #[error("{service} {action} at {url}: {detail}")]
    Network {
        service: String,
        action: String,
        url: String,
        detail: String,
    },
}

impl AwsError {
    /// The error's type, e.g. `ResourceNotFoundException` (empty for network errors).
    pub fn kind(&self) -> &str {
        match self {
            AwsError::Service { kind, .. } => kind,
            AwsError::Network { .. } => "",
        }
    }
}

impl JsonApi {
    /// `endpoint` (one URL for every service, e.g. a local stand-in) or AWS's own
    /// `https://{host_prefix}.{region}.amazonaws.com`; `service` is the signing name.
    pub fn new(
        endpoint: Option<&str>,
        host_prefix: &str,
        service: &str,
        region: &str,
        creds: Credentials,
        json_version: &'static str,
    ) -> Result<Self, String> {
        let url = endpoint
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map_or_else(
                || format!("https://{host_prefix}.{region}.amazonaws.com"),
                |e| e.trim_end_matches('/').to_owned(),
            );
        let parsed =
            reqwest::Url::parse(&url).map_err(|e| format!("[aws] endpoint {url:?}: {e}"))?;
        let mut host = parsed
            .host_str()
            .ok_or_else(|| format!("[aws] endpoint {url:?} has no host"))?
            .to_owned();
        if let Some(port) = parsed.port() {
            host = format!("{host}:{port}");
        }
        Ok(Self {
            http: super::client()?,
            url: format!("{url}/"),
            host,
            scope: Scope {
                region: region.to_owned(),
                service: service.to_owned(),
            },
            creds,
            json_version,
        })
    }

    /// Calls `target` (e.g. `GraniteServiceVersion20100801.GetMetricData`) with `body`;
    /// retries throttling and 5xx with backoff.
    pub async fn call(&self, target: &str, body: &Value) -> Result<Value, AwsError> {
        let action = target.rsplit('.').next().unwrap_or(target).to_owned();
        let service = self.scope.service.clone();
        let payload = body.to_string();
        let payload_sha = crate::sha256_hex(payload.as_bytes());
        let content_type = format!("application/x-amz-json-{}", self.json_version);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let at = jiff::Timestamp::now();
            let mut headers = vec![
                ("content-type".to_owned(), content_type.clone()),
                ("host".to_owned(), self.host.clone()),
                ("x-amz-date".to_owned(), sigv4::amz_date(at)),
                ("x-amz-target".to_owned(), target.to_owned()),
            ];
            if let Some(token) = self.creds.session_token() {
                headers.push(("x-amz-security-token".to_owned(), token.to_owned()));
            }
            let auth = sigv4::authorization(
                &sigv4::Request {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers: &headers,
                    payload_sha256: &payload_sha,
                },
                &self.creds,
                &self.scope,
                at,
            );
            let mut req = self.http.post(&self.url).header("authorization", auth);
            for (k, v) in &headers {
                if k != "host" {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            let resp = match req.body(payload.clone()).send().await {
                Ok(r) => r,
                Err(e) if attempt < 3 => {
                    tracing::warn!("{service} {action}: {}; retrying", super::describe(&e));
                    tokio::time::sleep(super::backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(AwsError::Network {
                        service,
                        action,
                        url: self.url.clone(),
                        detail: super::describe(&e),
                    });
                }
            };
            let status = resp.status().as_u16();
            let text = super::read_body(resp, super::MAX_BODY_BYTES)
                .await
                .map_err(|e| AwsError::Network {
                    service: service.clone(),
                    action: action.clone(),
                    url: self.url.clone(),
                    detail: e.to_string(),
                })?;
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(v);
            }
            let kind = v["__type"]
                .as_str()
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
                .unwrap_or_default();
            let throttled = kind.contains("Throttling") || status == 429;
            if (throttled || status >= 500) && attempt < 4 {
                tokio::time::sleep(super::backoff(attempt)).await;
                continue;
            }
            let message = v["message"]
                .as_str()
                .or_else(|| v["Message"].as_str())
                .map_or_else(|| text.chars().take(200).collect(), str::to_owned);
            return Err(AwsError::Service {
                service,
                action,
                status,
                kind,
                message,
            });
        }
    }
}
