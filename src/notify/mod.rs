//! Notifications that are never lost and never sent twice.
//!
//! Every action writes its audit entry as it happens; [`collect`] reads the entries it has not
//! seen yet ([`events::of_entry`]), routes each event to the destinations that hear it
//! (`[notify.pagerduty]`, `[[notify.slack]]`), and writes one delivery per destination to the
//! outbox (`notify/outbox.json`) before anything is sent. [`flush`] sends what is due, one
//! delivery at a time under the send lock, with backoff, `Retry-After` honoured, and every
//! outcome audited. A delivery's id is the event's idempotency key and its destination: the
//! same entry read twice never queues it twice, and a delivery already sent is never sent
//! again. A send that may have arrived without the console learning so (a timeout or a broken
//! connection after sending, a gateway's 502/503/504, a process killed mid-send) is sent again
//! by itself only when a second copy changes nothing: PagerDuty alerts go again (PagerDuty
//! folds them by `dedup_key`); a Slack message or a change event is `uncertain` ("maybe
//! delivered") until a person sends it again ([`retry`], audited). A failed notification never
//! blocks or undoes its action.
//!
//! On a shared workspace each console keeps its own outbox (in its cache folder) and announces
//! only the entries it recorded itself (`Workspace::recorded_here`): the others' adopted
//! entries, and their `notify.*` outcomes, are in its log but are not its to send.

pub mod events;
pub mod pagerduty;
pub mod slack;

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use events::Event;

use crate::audit;
use crate::store::{self, StateError};
use crate::workspace::config::Delivery as DeliverMode;
use crate::workspace::{Workspace, WorkspaceError};

/// The task kind of a send (its start and finish are not audited; each delivery is).
pub const FLUSH_KIND: &str = "notify.flush";
/// An intent (a flag change) whose outcome never showed within this is withdrawn.
const CONFIRM_WITHIN: Duration = Duration::from_hours(1);
/// The longest pause a flush takes before an attempt that is due later.
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("cannot read the audit log for new events: {0}")]
    Audit(crate::audit::AuditError),
    #[error("no delivery {0} in the outbox (`notify list` shows them)")]
    NoSuchDelivery(String),
    #[error("{0}")]
    Invalid(String),
}

// By hand, not `#[from]`: that would make the error its message names its `source()` too.
impl From<crate::audit::AuditError> for NotifyError {
    fn from(e: crate::audit::AuditError) -> Self {
        NotifyError::Audit(e)
    }
}

/// Where a delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// An incoming webhook of `[[notify.slack]]`.
    Slack { channel: String },
    /// PagerDuty Events API v2 `/v2/enqueue`: `trigger` or `resolve` of `dedup_key`.
    PagerDutyAlert { action: String, dedup_key: String },
    /// PagerDuty `/v2/change/enqueue`.
    PagerDutyChange,
}

impl Target {
    /// `slack #oncall`, `pagerduty trigger`, `pagerduty change`.
    pub fn label(&self) -> String {
        match self {
            Target::Slack { channel } => format!("slack {channel}"),
            Target::PagerDutyAlert { action, .. } => format!("pagerduty {action}"),
            Target::PagerDutyChange => "pagerduty change".to_owned(),
        }
    }

    fn id_part(&self) -> String {
        match self {
            Target::Slack { channel } => format!("slack:{}", channel.trim_start_matches('#')),
            Target::PagerDutyAlert { action, .. } => format!("pagerduty:{action}"),
            Target::PagerDutyChange => "pagerduty:change".to_owned(),
        }
    }

    /// Whether sending it again can make a second message: an alert cannot (PagerDuty folds
    /// it by `dedup_key`), a Slack message or a change event can.
    pub fn idempotency(&self) -> crate::net::Idempotency {
        if matches!(self, Target::PagerDutyAlert { .. }) {
            crate::net::Idempotency::Idempotent
        } else {
            crate::net::Idempotency::NonIdempotent
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// An intent's event, held until its outcome shows (see [`events::Confirm`]).
    Waiting,
    /// To be sent (now, or at `next_at`).
    Pending,
    /// A send began and its answer was not recorded (only seen after a crash).
    Sending,
    Sent,
    /// Kept here as delivered: `[notify] deliver = "local"`.
    Local,
    /// Not sent; `error` says why. A Retry starts over.
    Failed,
    /// A send began and the console stopped before its answer: it may have arrived.
    Uncertain,
    /// Withdrawn: its action failed or never finished.
    Dropped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Local => "local",
            State::Failed => "failed",
            State::Uncertain => "uncertain",
            State::Dropped => "dropped",
        }
    }

    /// Needs a person (a warning with Retry, or Send again).
    pub fn needs_attention(self) -> bool {
        matches!(self, State::Failed | State::Uncertain)
    }

    /// What the Outbox and `notify list` say of it: `uncertain: maybe delivered`, `failed`, ...
    pub fn describe(self) -> &'static str {
        match self {
            State::Uncertain => "uncertain: maybe delivered",
            other => other.as_str(),
        }
    }
}

/// One event to one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `{event key}/{destination}`: the idempotency key of this send.
    pub id: String,
    pub event: Event,
    pub target: Target,
    /// Exactly what is sent (secrets are added at send time, never stored).
    pub body: serde_json::Value,
    pub state: State,
    pub queued_at: Timestamp,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Timestamp>,
    /// The service's answer to the last attempt, or why it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub answer: String,
}

/// `notify/outbox.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outbox {
    /// The next audit entry to read, and where in the log it starts.
    pub next_seq: u64,
    pub offset: u64,
    pub deliveries: Vec<Delivery>,
}

impl Outbox {
    pub fn get(&self, id: &str) -> Option<&Delivery> {
        self.deliveries.iter().find(|d| d.id == id)
    }

    /// Deliveries of events about `subject` (an incident id, a version), oldest first.
    pub fn about<'a>(&'a self, subject: &'a str) -> impl Iterator<Item = &'a Delivery> + 'a {
        self.deliveries
            .iter()
            .filter(move |d| d.event.subject == subject)
    }

    pub fn attention(&self) -> impl Iterator<Item = &Delivery> {
        self.deliveries.iter().filter(|d| d.state.needs_attention())
    }

    pub fn pending(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|d| matches!(d.state, State::Pending | State::Waiting))
            .count()
    }
}

pub fn outbox_path(ws: &Workspace) -> PathBuf {
    ws.root().join("notify/outbox.json")
}

/// Reads the outbox (empty when there is none yet).
pub fn load(ws: &Workspace) -> Result<Outbox, NotifyError> {
    Ok(store::read_json(&outbox_path(ws))?.unwrap_or_default())
}

/// Starts the outbox at the log's end when notifications are configured and it has none, so
/// that what this process does from now on is announced (and history is not). Called when a
/// workspace is opened, before any action.
pub fn init(ws: &Workspace) -> Result<(), NotifyError> {
    if ws.config().notify.is_empty() || outbox_path(ws).exists() {
        return Ok(());
    }
    let (next_seq, offset) = ws.audit().tail()?;
    store::update_json(&outbox_path(ws), |ob: &mut Outbox| {
        if ob.next_seq == 0 {
            ob.next_seq = next_seq;
            ob.offset = offset;
        }
        Ok::<_, StateError>(())
    })?;
    Ok(())
}

/// Reads the audit entries after the outbox's mark and queues their deliveries; withdraws
/// intents that failed; releases the waiting ones whose outcome shows. Returns how many were
/// queued.
pub fn collect(ws: &Workspace) -> Result<usize, NotifyError> {
    if ws.config().notify.is_empty() {
        return Ok(0);
    }
    init(ws)?;
    let path = outbox_path(ws);
    // Most calls find nothing new: read without writing, then lock and write only if needed.
    let seen = load(ws)?;
    let (fresh, _) = ws
        .audit()
        .entries_after(seen.offset, seen.next_seq.max(1))?;
    if fresh.is_empty() && !seen.deliveries.iter().any(|d| d.state == State::Waiting) {
        return Ok(0);
    }
    let plans = std::cell::OnceCell::new();
    store::update_json(&path, |ob: &mut Outbox| {
        let (entries, end) = ws.audit().entries_after(ob.offset, ob.next_seq.max(1))?;
        let mut queued = 0;
        for entry in &entries {
            // On a shared workspace every console's log holds every console's entries, and
            // each keeps an outbox of its own: an event is announced by the console that
            // recorded it, or every console that reads it would send it again.
            if !ws.recorded_here(entry.nonce.as_deref()) {
                continue;
            }
            let recorded = audit::Event::from_entry(entry);
            if let audit::Event::Failed(failed) = &recorded {
                let action = &failed.action;
                for d in &mut ob.deliveries {
                    if d.state == State::Waiting
                        && d.event.action == *action
                        && d.event.subject == entry.target
                    {
                        d.state = State::Dropped;
                        d.answer = format!("withdrawn: {action} failed");
                        d.done_at = Some(entry.time);
                    }
                }
                continue;
            }
            let Some(event) = events::of_event(ws, entry, recorded) else {
                continue;
            };
            for (target, body) in route(ws, &event, ob) {
                let id = format!("{}/{}", event.key, target.id_part());
                if ob.get(&id).is_some() {
                    continue;
                }
                let state = if event.confirm.is_some() {
                    State::Waiting
                } else {
                    State::Pending
                };
                ob.deliveries.push(Delivery {
                    id,
                    event: event.clone(),
                    target,
                    body,
                    state,
                    queued_at: Timestamp::now(),
                    attempts: 0,
                    next_at: None,
                    done_at: None,
                    answer: String::new(),
                });
                queued += 1;
            }
        }
        if let Some(last) = entries.last() {
            ob.next_seq = last.seq + 1;
        }
        ob.offset = end;
        let now = Timestamp::now();
        for d in &mut ob.deliveries {
            if d.state != State::Waiting {
                continue;
            }
            let Some(c) = &d.event.confirm else {
                d.state = State::Pending;
                continue;
            };
            let plans = plans.get_or_init(|| crate::flags::plan::load(ws).unwrap_or_default());
            let shown = plans.get(&c.flag).is_some_and(|p| {
                p.history
                    .iter()
                    .any(|h| h.what == c.what && h.percent == c.percent && h.at >= d.event.at)
            });
            if shown {
                d.state = State::Pending;
            } else if now.duration_since(d.event.at).unsigned_abs() > CONFIRM_WITHIN {
                d.state = State::Dropped;
                d.answer = "withdrawn: the change never showed in the flag's plan".into();
                d.done_at = Some(now);
            }
        }
        Ok::<_, NotifyError>(queued)
    })
}

/// The destinations `event` goes to, each with the body it is sent with.
fn route(ws: &Workspace, event: &Event, ob: &Outbox) -> Vec<(Target, serde_json::Value)> {
    let cfg = &ws.config().notify;
    let mut out = Vec::new();
    if let Some(pd) = &cfg.pagerduty {
        let pages = event
            .severity
            .as_ref()
            .is_some_and(|s| pd.page_on.contains(s));
        let triggered = |key: &str| {
            ob.deliveries.iter().any(|d| {
                d.state != State::Dropped
                    && matches!(&d.target, Target::PagerDutyAlert { action, dedup_key }
                        if action == "trigger" && dedup_key == key)
            })
        };
        let alert = match event.name.as_str() {
            "incident.created" if pages => Some("trigger"),
            "incident.updated" if pages && !triggered(&event.subject) => Some("trigger"),
            "incident.resolved" if triggered(&event.subject) => Some("resolve"),
            _ => None,
        };
        if let Some(action) = alert {
            let target = Target::PagerDutyAlert {
                action: action.to_owned(),
                dedup_key: event.subject.clone(),
            };
            let body = pagerduty::alert_body(ws, event, action);
            out.push((target, body));
        }
        if pd
            .changes
            .iter()
            .any(|g| events::glob_match(g, &event.name))
        {
            out.push((Target::PagerDutyChange, pagerduty::change_body(ws, event)));
        }
    }
    for s in &cfg.slack {
        if s.events.iter().any(|g| events::glob_match(g, &event.name)) {
            out.push((
                Target::Slack {
                    channel: s.channel.clone(),
                },
                slack::message(ws, event),
            ));
        }
    }
    out
}

/// How a send ended.
#[derive(Debug)]
pub enum SendError {
    /// Worth another attempt, after `after` when the service said so.
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Not worth another attempt (a refused body, a missing secret, a gone channel).
    Final(String),
    /// It may have arrived (a timeout or a broken connection after sending, a gateway's
    /// 502/503/504) and a second copy would be a second message: never sent again by itself.
    Uncertain(String),
}

impl SendError {
    /// A transport error of a send of `idempotency`: sent again only when it certainly did
    /// not arrive, or when a second copy changes nothing.
    fn transport(
        idempotency: crate::net::Idempotency,
        e: &reqwest::Error,
        message: String,
    ) -> Self {
        if crate::net::Arrival::of_error(e).may_retry(idempotency) {
            SendError::Retry {
                message,
                after: None,
            }
        } else {
            SendError::Uncertain(message)
        }
    }
}

/// The most of a service's reply body read: its answers are a line of JSON or text, and the
/// body only explains the status, which alone decides whether the message was delivered.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// A service's answer: status, its `Retry-After` (if any) and body (at most
/// [`MAX_REPLY_BYTES`]; a longer one is replaced by a line saying so).
async fn answer(resp: reqwest::Response) -> (reqwest::StatusCode, Option<Duration>, String) {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::net::parse_retry_after);
    let body = crate::net::read_body(resp, MAX_REPLY_BYTES)
        .await
        .unwrap_or_else(|e| format!("({e})"));
    (status, retry_after, body)
}

#[cfg(test)]
mod reply_tests {
    use super::*;

    #[tokio::test]
    async fn an_endless_reply_body_is_cut_at_the_cap() {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut request = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut request).await;
            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
            // Endless, until the client hangs up.
            while sock.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        let resp = reqwest::Client::new()
            .post(format!("http://{addr}/hook"))
            .send()
            .await
            .expect("send");
        let (status, _, body) = tokio::time::timeout(Duration::from_secs(20), answer(resp))
            .await
            .expect("the reply is read only up to the cap");
        assert_eq!(status, reqwest::StatusCode::OK);
        assert!(body.contains("larger than 64 KiB"), "{body}");
    }
}

/// A refusal as a [`SendError`]: 429 and an origin's 5xx are worth another attempt; a
/// gateway's 502/503/504 too, unless a second copy would be a second message (then it is
/// uncertain); anything else not.
fn refused(
    idempotency: crate::net::Idempotency,
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    said: String,
) -> SendError {
    match crate::net::Arrival::of_status(status) {
        Some(a) if a.may_retry(idempotency) => SendError::Retry {
            message: said,
            after: retry_after,
        },
        Some(_) => SendError::Uncertain(said),
        None => SendError::Final(said),
    }
}

/// What one flush did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    pub sent: Vec<String>,
    /// Kept in the outbox as delivered (`deliver = "local"`).
    pub local: Vec<String>,
    pub failed: Vec<String>,
    /// May have arrived; left for a person to send again.
    pub uncertain: Vec<String>,
    /// Still queued when the flush stopped (waiting, or due later).
    pub pending: usize,
    /// Another process holds the send lock and is sending.
    pub busy: bool,
}

impl FlushReport {
    /// One line for a terminal, or nothing when nothing happened.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.sent.is_empty() {
            parts.push(format!("sent {}", self.sent.join(", ")));
        }
        if !self.local.is_empty() {
            parts.push(format!(
                "kept locally (deliver = \"local\") {}",
                self.local.join(", ")
            ));
        }
        if !self.failed.is_empty() {
            parts.push(format!("FAILED {}", self.failed.join("; ")));
        }
        if !self.uncertain.is_empty() {
            parts.push(format!(
                "UNCERTAIN (maybe delivered; not sent again by itself; `notify resend ID` sends \
                 it again) {}",
                self.uncertain.join("; ")
            ));
        }
        if self.pending > 0 {
            parts.push(format!(
                "{} still queued (`notify flush` sends them)",
                self.pending
            ));
        }
        if self.busy {
            parts.push("another console is sending".into());
        }
        (!parts.is_empty()).then(|| format!("notifications: {}", parts.join("; ")))
    }
}

/// Collects, then sends every due delivery until none is due before `deadline` (what is due
/// later stays queued). `log` hears each attempt. Only one process sends at a time: when
/// another holds the send lock, this returns at once with `busy`.
pub async fn flush(
    ws: &Workspace,
    deadline: std::time::Instant,
    log: &(dyn Fn(&str) + Sync),
) -> Result<FlushReport, NotifyError> {
    let mut report = FlushReport::default();
    if ws.config().notify.is_empty() {
        return Ok(report);
    }
    let ws2 = ws.clone();
    let lock = tokio::task::spawn_blocking(move || {
        collect(&ws2)?;
        try_send_lock(&ws2)
    })
    .await
    .map_err(|e| NotifyError::Invalid(format!("the outbox worker stopped: {e}")))??;
    let Some(_lock) = lock else {
        report.busy = true;
        report.pending = load(ws)?.pending();
        return Ok(report);
    };
    recover_interrupted(ws)?;
    let timeout = Duration::from_secs(ws.config().notify.timeout_secs);
    let client = crate::net::client_with_timeout(timeout).map_err(NotifyError::Invalid)?;
    loop {
        let ob = load(ws)?;
        let now = Timestamp::now();
        let due = ob
            .deliveries
            .iter()
            .find(|d| d.state == State::Pending && d.next_at.is_none_or(|t| t <= now))
            .cloned();
        let Some(d) = due else {
            let next = ob
                .deliveries
                .iter()
                .filter(|d| d.state == State::Pending)
                .filter_map(|d| d.next_at)
                .min();
            let wait = next.map(|t| now.duration_until(t).unsigned_abs());
            match wait {
                Some(w) if std::time::Instant::now() + w < deadline => {
                    tokio::time::sleep(w.min(LONGEST_PAUSE)).await;
                    continue;
                }
                _ => {
                    report.pending = ob.pending();
                    return Ok(report);
                }
            }
        };
        if std::time::Instant::now() >= deadline {
            report.pending = ob.pending();
            return Ok(report);
        }
        send_one(ws, &client, d, &mut report, log).await?;
    }
}

async fn send_one(
    ws: &Workspace,
    client: &reqwest::Client,
    d: Delivery,
    report: &mut FlushReport,
    log: &(dyn Fn(&str) + Sync),
) -> Result<(), NotifyError> {
    let label = format!("{} ({})", d.target.label(), d.event.name);
    if ws.config().notify.deliver == DeliverMode::Local {
        finish(
            ws,
            &d,
            State::Local,
            "kept locally: [notify] deliver = \"local\"",
        )?;
        log(&format!("{label}: kept locally, not sent"));
        report.local.push(label);
        return Ok(());
    }
    mark(ws, &d.id, |x| {
        x.state = State::Sending;
        x.attempts += 1;
    })?;
    log(&format!("{label}: attempt {}", d.attempts + 1));
    let result = match &d.target {
        Target::Slack { channel } => slack::send(ws, client, channel, &d.body).await,
        Target::PagerDutyAlert { .. } => {
            pagerduty::send(ws, client, "/v2/enqueue", &d.body, d.target.idempotency()).await
        }
        Target::PagerDutyChange => {
            pagerduty::send(
                ws,
                client,
                "/v2/change/enqueue",
                &d.body,
                d.target.idempotency(),
            )
            .await
        }
    };
    let max = ws.config().notify.max_attempts;
    match result {
        Ok(answer) => {
            finish(ws, &d, State::Sent, &answer)?;
            log(&format!("{label}: sent ({answer})"));
            report.sent.push(label);
        }
        Err(SendError::Retry { message, after }) if d.attempts + 1 < max => {
            let wait = after.unwrap_or_else(|| crate::net::backoff(d.attempts + 1));
            let at = Timestamp::now()
                .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                .unwrap_or_else(|_| Timestamp::now());
            mark(ws, &d.id, |x| {
                x.state = State::Pending;
                x.next_at = Some(at);
                x.answer.clone_from(&message);
            })?;
            log(&format!(
                "{label}: {message}; next attempt in {}",
                crate::human_duration(wait)
            ));
        }
        Err(SendError::Uncertain(message)) => {
            let message = format!(
                "{}: {message}; not sent again by itself (it may have arrived): Send again if \
                 it did not",
                State::Uncertain.describe()
            );
            finish(ws, &d, State::Uncertain, &message)?;
            log(&format!("{label}: {message}"));
            report.uncertain.push(format!("{label}: {message}"));
        }
        Err(SendError::Retry { message, .. } | SendError::Final(message)) => {
            finish(ws, &d, State::Failed, &message)?;
            log(&format!("{label}: FAILED: {message}"));
            report.failed.push(format!("{label}: {message}"));
        }
    }
    Ok(())
}

fn mark(ws: &Workspace, id: &str, f: impl FnOnce(&mut Delivery)) -> Result<(), NotifyError> {
    store::update_json(&outbox_path(ws), |ob: &mut Outbox| {
        let d = ob
            .deliveries
            .iter_mut()
            .find(|d| d.id == id)
            .ok_or_else(|| NotifyError::NoSuchDelivery(id.to_owned()))?;
        f(d);
        Ok(())
    })
}

/// Records a delivery's end, audited (`notify.sent`, `notify.failed` or `notify.uncertain`)
/// first.
fn finish(ws: &Workspace, d: &Delivery, state: State, answer: &str) -> Result<(), NotifyError> {
    let end = audit::event::Delivery {
        target: d.id.clone(),
        before: audit::event::DeliveryState {
            state: d.state.as_str().to_owned(),
        },
        after: audit::event::DeliveryEnd {
            state: state.as_str().to_owned(),
            to: d.target.label(),
            event: d.event.name.clone(),
            answer: answer.to_owned(),
        },
    };
    let event = match state {
        State::Failed => audit::Event::NotifyFailed(end),
        State::Uncertain => audit::Event::NotifyUncertain(end),
        _ => audit::Event::NotifySent(end),
    };
    ws.change(event, |_| {
        store::update_json(&outbox_path(ws), |ob: &mut Outbox| {
            if let Some(x) = ob.deliveries.iter_mut().find(|x| x.id == d.id) {
                x.state = state;
                answer.clone_into(&mut x.answer);
                x.done_at = Some(Timestamp::now());
                x.next_at = None;
            }
            Ok::<_, StateError>(())
        })
    })?;
    Ok(())
}

/// Deliveries left `sending` by a process that stopped mid-send (the send lock is ours, so no
/// one is sending them now): idempotent ones go again, the others wait for a person.
fn recover_interrupted(ws: &Workspace) -> Result<(), NotifyError> {
    store::update_json(&outbox_path(ws), |ob: &mut Outbox| {
        for d in &mut ob.deliveries {
            if d.state != State::Sending {
                continue;
            }
            if d.target.idempotency() == crate::net::Idempotency::Idempotent {
                d.state = State::Pending;
            } else {
                d.state = State::Uncertain;
                d.answer = "uncertain: maybe delivered: the console stopped while sending this; \
                            it may have arrived. Send again sends it once more"
                    .into();
            }
        }
        Ok::<_, StateError>(())
    })?;
    Ok(())
}

/// The send lock, when no other process holds it.
fn try_send_lock(ws: &Workspace) -> Result<Option<std::fs::File>, NotifyError> {
    let dir = ws.root().join("notify");
    std::fs::create_dir_all(&dir).map_err(|e| StateError::Io {
        path: dir.display().to_string(),
        action: "create folder",
        cause: e,
    })?;
    let path = dir.join(".send.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StateError::Io {
            path: path.display().to_string(),
            action: "open lock",
            cause: e,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(StateError::Io {
            path: path.display().to_string(),
            action: "lock",
            cause: e,
        }
        .into()),
    }
}

/// Queues failed or uncertain deliveries again, audited as `notify.retry` (a person's action:
/// the Outbox's Retry and Send again, `notify retry`, `notify resend`). `ids` names them; when
/// empty, every failed one (never an uncertain one: it may have arrived, so each is sent again
/// only when named). Returns how many.
pub fn retry(ws: &Workspace, ids: &[String]) -> Result<usize, NotifyError> {
    let ob = load(ws)?;
    for id in ids {
        if ob.get(id).is_none() {
            return Err(NotifyError::NoSuchDelivery(id.clone()));
        }
    }
    let chosen: Vec<String> = ob
        .deliveries
        .iter()
        .filter(|d| {
            if ids.is_empty() {
                d.state == State::Failed
            } else {
                d.state.needs_attention() && ids.contains(&d.id)
            }
        })
        .map(|d| d.id.clone())
        .collect();
    if chosen.is_empty() {
        return Ok(0);
    }
    ws.change(
        audit::Event::NotifyRetry(audit::event::NotifyRetry {
            target: chosen.join(" "),
            before: (),
            after: audit::event::Deliveries {
                deliveries: chosen.clone(),
            },
        }),
        |_| {
            store::update_json(&outbox_path(ws), |ob: &mut Outbox| {
                for d in &mut ob.deliveries {
                    if chosen.contains(&d.id) && d.state.needs_attention() {
                        d.state = State::Pending;
                        d.attempts = 0;
                        d.next_at = None;
                    }
                }
                Ok::<_, StateError>(())
            })
        },
    )?;
    Ok(chosen.len())
}

/// The task that sends what is due ([`flush`]), with each attempt in its log.
pub fn task_spec(ws: &Workspace) -> crate::runner::TaskSpec {
    ws.task_spec("notify", FLUSH_KIND, None, Duration::from_mins(10))
}

/// Runs [`flush`] as the task `ctx` belongs to, for up to `wait`.
pub async fn run_task(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    wait: Duration,
) -> crate::runner::TaskResult {
    let log = |line: &str| ctx.log_line(line);
    let report = flush(&ws, std::time::Instant::now() + wait, &log)
        .await
        .map_err(|e| crate::runner::TaskError::Failed(e.to_string()))?;
    if !report.failed.is_empty() || !report.uncertain.is_empty() {
        let mut why = Vec::new();
        if !report.failed.is_empty() {
            why.push(format!(
                "{} notification(s) failed: {}",
                report.failed.len(),
                report.failed.join("; ")
            ));
        }
        if !report.uncertain.is_empty() {
            why.push(format!(
                "{} notification(s) {}: {}",
                report.uncertain.len(),
                State::Uncertain.describe(),
                report.uncertain.join("; ")
            ));
        }
        return Err(crate::runner::TaskError::Failed(why.join("; ")));
    }
    Ok(report
        .summary()
        .unwrap_or_else(|| "nothing to send".to_owned()))
}

/// The secret a destination needs, resolved off the async workers (a keyring lookup blocks).
async fn secret(
    ws: &Workspace,
    env: &str,
    spec: &str,
    what: &str,
) -> Result<crate::workspace::secrets::Secret, SendError> {
    let (env, spec, aws) = (env.to_owned(), spec.to_owned(), ws.config().aws.clone());
    let shown = if spec.trim().is_empty() {
        format!("${env} (or the keyring entry {env})")
    } else {
        spec.clone()
    };
    let found =
        tokio::task::spawn_blocking(move || crate::workspace::secrets::resolve(&env, &spec, &aws))
            .await
            .map_err(|e| SendError::Final(format!("the secret lookup stopped: {e}")))?;
    match found {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(SendError::Final(format!(
            "{what}: {shown} is not set; set it, then Retry"
        ))),
        Err(e) => Err(SendError::Final(format!("{what}: {e}"))),
    }
}
