//! PagerDuty Events API v2: `trigger` and `resolve` of an incident's alert (`/v2/enqueue`,
//! `dedup_key` = the incident id) and change events for release milestones
//! (`/v2/change/enqueue`). 429 and 5xx are retried, and so is an alert that timed out (its
//! `dedup_key` folds a second copy); a change event that may have arrived is left uncertain.
//! 400 is shown with PagerDuty's `errors`.

use serde_json::{Value, json};

use super::{Event, SendError};
use crate::workspace::Workspace;

/// PagerDuty's limit on a summary.
const SUMMARY_MAX: usize = 1024;

/// The runbook's severities as PagerDuty's.
pub fn severity(p: &str) -> &'static str {
    match p {
        "P0" => "critical",
        "P1" => "error",
        "P2" => "warning",
        _ => "info",
    }
}

fn summary(event: &Event) -> String {
    event.title.chars().take(SUMMARY_MAX).collect()
}

fn details(event: &Event) -> Value {
    let mut d = serde_json::Map::new();
    for f in &event.facts {
        d.insert(f.label.to_lowercase().replace(' ', "_"), json!(f.value));
    }
    d.insert("event".into(), json!(event.name));
    d.insert("event_key".into(), json!(event.key));
    if let Some(link) = event.links.iter().find(|l| l.text == "Status page") {
        d.insert("status_page".into(), json!(link.href));
    }
    Value::Object(d)
}

fn links(event: &Event) -> Value {
    event
        .links
        .iter()
        .map(|l| json!({ "href": l.href, "text": l.text }))
        .collect()
}

/// The `/v2/enqueue` body of `action` (`trigger`, `resolve`), without the routing key.
pub fn alert_body(ws: &Workspace, event: &Event, action: &str) -> Value {
    let product = &ws.config().product.name;
    let mut body = json!({
        "event_action": action,
        "dedup_key": event.subject,
    });
    if action == "trigger" {
        let component = event
            .fact("Components")
            .and_then(|c| c.split(", ").next())
            .unwrap_or("")
            .to_owned();
        let mut payload = json!({
            "summary": summary(event),
            "timestamp": event.at.to_string(),
            "severity": severity(event.severity.as_deref().unwrap_or("")),
            "source": product,
            "custom_details": details(event),
        });
        if !component.is_empty() {
            payload["component"] = json!(component);
        }
        body["payload"] = payload;
        body["client"] = json!("release-console");
        body["links"] = links(event);
    }
    body
}

/// The `/v2/change/enqueue` body, without the routing key.
pub fn change_body(ws: &Workspace, event: &Event) -> Value {
    json!({
        "payload": {
            "summary": summary(event),
            "timestamp": event.at.to_string(),
            "source": ws.config().product.name,
            "custom_details": details(event),
        },
        "links": links(event),
    })
}

/// Posts `body` (with the routing key added) to `path` under `api_base`. `idempotency` says
/// whether a copy that may have arrived may go again: an alert may (PagerDuty folds it by
/// `dedup_key`), a change event (no `dedup_key`) may not.
pub async fn send(
    ws: &Workspace,
    client: &reqwest::Client,
    path: &str,
    body: &Value,
    idempotency: crate::net::Idempotency,
) -> Result<String, SendError> {
    let cfg = ws.config().notify.pagerduty.as_ref().ok_or_else(|| {
        SendError::Final("no [notify.pagerduty] in the configuration any more".into())
    })?;
    let key = super::secret(
        ws,
        &cfg.routing_key_env,
        &cfg.routing_key_secret,
        "the PagerDuty routing key",
    )
    .await?;
    let mut body = body.clone();
    body["routing_key"] = json!(key.expose());
    let url = format!("{}{path}", cfg.api_base.trim_end_matches('/'));
    let resp = client.post(&url).json(&body).send().await.map_err(|e| {
        let message = format!("PagerDuty {path}: {}", crate::net::describe(&e));
        SendError::transport(idempotency, &e, message)
    })?;
    let (status, retry_after, text) = super::answer(resp).await;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let field = |k: &str| answer.get(k).and_then(Value::as_str).unwrap_or("");
    if status.is_success() {
        let dedup = field("dedup_key");
        return Ok(if dedup.is_empty() {
            format!(
                "PagerDuty {status}: {} {}",
                field("status"),
                field("message")
            )
        } else {
            format!(
                "PagerDuty {status}: {} {} (dedup_key {dedup})",
                field("status"),
                field("message")
            )
        });
    }
    let errors: Vec<&str> = answer
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let said = if answer.is_null() {
        format!(
            "PagerDuty answered {status}: {}",
            text.chars().take(200).collect::<String>()
        )
    } else {
        format!(
            "PagerDuty answered {status}: {}{}{}",
            field("status"),
            if field("message").is_empty() {
                String::new()
            } else {
                format!(": {}", field("message"))
            },
            if errors.is_empty() {
                String::new()
            } else {
                format!(" [{}]", errors.join("; "))
            }
        )
    };
    Err(super::refused(idempotency, status, retry_after, said))
}
