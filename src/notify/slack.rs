//! Slack incoming webhooks: Block Kit messages, `429` with `Retry-After` honoured, and the
//! documented error strings named as such. A webhook has no idempotency key: a message that
//! may have arrived (a timeout after sending, a gateway's 502/503/504) is left uncertain.

use serde_json::{Value, json};

use super::{Event, SendError};
use crate::workspace::Workspace;

/// Slack's limit on a header block's text.
const HEADER_MAX: usize = 150;
/// Slack's limit on a section's fields.
const FIELDS_MAX: usize = 10;

/// `&`, `<` and `>` escaped as Slack's mrkdwn wants.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The Block Kit message for `event`: a header, the facts as fields, the links, and a context
/// line with the product and the event's idempotency key.
pub fn message(ws: &Workspace, event: &Event) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": clip(&event.title, HEADER_MAX), "emoji": true },
    })];
    let fields: Vec<Value> = event
        .facts
        .iter()
        .filter(|f| !f.value.is_empty())
        .take(FIELDS_MAX)
        .map(|f| {
            json!({
                "type": "mrkdwn",
                "text": format!("*{}*\n{}", escape(&f.label), clip(&escape(&f.value), 1900)),
            })
        })
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    if !event.links.is_empty() {
        let links: Vec<String> = event
            .links
            .iter()
            .map(|l| format!("<{}|{}>", l.href, escape(&l.text)))
            .collect();
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": clip(&links.join("  ·  "), 2900) },
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!(
                "release-console · {} · {} · event `{}`",
                escape(&ws.config().product.name),
                event.name,
                event.key
            ),
        }],
    }));
    json!({ "text": event.title, "blocks": blocks })
}

/// What Slack's documented webhook errors mean.
fn explain(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_payload" => "Slack could not read the message (invalid_payload)",
        "user_not_found" => "the webhook's user no longer exists (user_not_found)",
        "channel_not_found" => {
            "the webhook's channel no longer exists (channel_not_found): make a new webhook"
        }
        "channel_is_archived" => "the webhook's channel is archived (channel_is_archived)",
        "action_prohibited" => {
            "a workspace admin restricted posting to this channel (action_prohibited)"
        }
        "posting_to_general_channel_denied" => {
            "only admins may post to this channel (posting_to_general_channel_denied)"
        }
        "no_service" | "no_service_id" | "invalid_token" => {
            "the webhook URL was revoked or is wrong (no_service): make a new webhook"
        }
        "no_text" => "the message had no text (no_text)",
        "too_many_attachments" => "the message had too many attachments (too_many_attachments)",
        _ => return None,
    })
}

/// Posts `body` to `channel`'s webhook.
pub async fn send(
    ws: &Workspace,
    client: &reqwest::Client,
    channel: &str,
    body: &Value,
) -> Result<String, SendError> {
    let cfg = ws
        .config()
        .notify
        .slack
        .iter()
        .find(|s| s.channel == channel)
        .ok_or_else(|| {
            SendError::Final(format!(
                "no [[notify.slack]] entry for {channel} in the configuration any more"
            ))
        })?;
    let url = super::secret(
        ws,
        &cfg.webhook_env,
        &cfg.webhook_secret,
        &format!("the webhook for {channel}"),
    )
    .await?;
    let resp = client
        .post(url.expose())
        .json(body)
        .send()
        .await
        // Never the URL: it is the webhook's secret. A message sent twice is posted twice:
        // one that may have arrived is not sent again by itself.
        .map_err(|e| {
            let e = e.without_url();
            let message = format!("Slack {channel}: {}", crate::net::describe(&e));
            SendError::transport(crate::net::Idempotency::NonIdempotent, &e, message)
        })?;
    let (status, retry_after, text) = super::answer(resp).await;
    let code = text.trim();
    if status.is_success() {
        return Ok(format!("Slack {channel}: {status} {}", clip(code, 80)));
    }
    let said = explain(code).map_or_else(
        || format!("Slack answered {status}: {}", clip(code, 200)),
        |why| format!("Slack answered {status}: {why}"),
    );
    Err(super::refused(
        crate::net::Idempotency::NonIdempotent,
        status,
        retry_after,
        said,
    ))
}
