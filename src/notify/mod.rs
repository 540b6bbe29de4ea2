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
//! The outbox is a projection of the audit log ([`OutboxBook`]): every change of a delivery
//! (`notify.queued`, `.sending`, `.pending`, `.dropped`, `.sent`, `.failed`, `.uncertain`,
//! `.retry`) is one entry carrying the delivery's whole record after it (its body without
//! secrets, as the file keeps it), appended before the file is written; a crash between the
//! two is rolled forward when the workspace is next opened, and `audit verify` names a file
//! that disagrees with the log.
//!
//! On a shared workspace each console's cache holds every console's deliveries, rolled
//! forward from the log, so each sees what the others sent, what failed and what is pending,
//! and by which console ([`Delivery::console`]). A console announces only the entries it
//! recorded itself (`Workspace::recorded_here`), and sends, retries and changes only the
//! deliveries it queued ([`Delivery::elsewhere`] marks the others': set from whether the
//! entry of their last change carries this console's tag, never from a value in the record).

pub mod events;
pub mod pagerduty;
mod projection;
pub mod slack;

pub use projection::OutboxBook;

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
    /// Who queued it and where (`ana@ana-laptop`): the console that sends it. Empty in
    /// records queued before the outbox was a projection of the log.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub console: String,
    /// The audit entry of its last change (0: saved before records kept it). Not in the
    /// record an entry carries.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub audit_seq: u64,
    /// Queued by another console of a shared workspace (the entry of its last change is not
    /// this console's): shown here, never sent, retried or changed here. Not in the record an
    /// entry carries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub elsewhere: bool,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Delivery {
    /// The record an entry carries: without the file's own bookkeeping.
    fn record(&self) -> serde_json::Value {
        let bare = Delivery {
            audit_seq: 0,
            elsewhere: false,
            ..self.clone()
        };
        // A delivery always serializes (string keys, no custom serializer that refuses).
        serde_json::to_value(&bare).unwrap_or(serde_json::Value::Null)
    }

    /// Whose it is, for a person: `ana@ana-laptop`, or `this console`.
    pub fn whose(&self) -> String {
        if self.elsewhere {
            if self.console.is_empty() {
                "another console".to_owned()
            } else {
                self.console.clone()
            }
        } else {
            "this console".to_owned()
        }
    }
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

    /// This console's deliveries that need a person (another console's are its own to
    /// retry: they are shown, not offered).
    pub fn attention(&self) -> impl Iterator<Item = &Delivery> {
        self.deliveries
            .iter()
            .filter(|d| !d.elsewhere && d.state.needs_attention())
    }

    /// How many of this console's deliveries are still to be sent.
    pub fn pending(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|d| !d.elsewhere && matches!(d.state, State::Pending | State::Waiting))
            .count()
    }
}

/// The lock every change of the outbox is made under: its entry, then its write.
const LOCK: &str = "outbox";

fn lock(ws: &Workspace) -> Result<std::fs::File, StateError> {
    store::lock(&ws.root().join("notify"), LOCK)
}

/// A change of a delivery, as its entry's action.
#[derive(Debug, Clone, Copy)]
enum Change {
    Queued,
    Sending,
    /// Due again: a failed attempt with another to come, a waiting intent whose outcome
    /// showed, an interrupted send that may go again.
    Pending,
    Dropped,
    Retry,
    /// Its end: sent, kept locally, failed or uncertain.
    End,
}

/// Records the change of delivery `d` (its whole record after it, `before` its state before)
/// and then writes the outbox `ob` with it. The caller holds the outbox lock and has checked
/// that `d` is this console's.
fn save(
    ws: &Workspace,
    ob: &mut Outbox,
    change: Change,
    before: Option<State>,
    mut d: Delivery,
) -> Result<(), NotifyError> {
    use audit::event as ev;
    let record = d.record();
    let target = d.id.clone();
    let state = |s: State| ev::DeliveryState {
        state: s.as_str().to_owned(),
    };
    let of = |record| ev::DeliveryChange {
        target: target.clone(),
        before: before.map(state),
        after: ev::DeliveryRecord { delivery: record },
    };
    let event = match change {
        Change::Queued => audit::Event::NotifyQueued(of(record)),
        Change::Sending => audit::Event::NotifySending(of(record)),
        Change::Pending => audit::Event::NotifyPending(of(record)),
        Change::Dropped => audit::Event::NotifyDropped(of(record)),
        Change::Retry => audit::Event::NotifyRetry(ev::NotifyRetry {
            target: target.clone(),
            before: (),
            after: ev::Deliveries {
                deliveries: vec![target.clone()],
                delivery: Some(record),
            },
        }),
        Change::End => {
            let end = ev::Delivery {
                target: target.clone(),
                before: state(before.unwrap_or(d.state)),
                after: ev::DeliveryEnd {
                    state: d.state.as_str().to_owned(),
                    to: d.target.label(),
                    event: d.event.name.clone(),
                    answer: d.answer.clone(),
                    delivery: Some(record),
                },
            };
            match d.state {
                State::Failed => audit::Event::NotifyFailed(end),
                State::Uncertain => audit::Event::NotifyUncertain(end),
                _ => audit::Event::NotifySent(end),
            }
        }
    };
    let path = outbox_path(ws);
    ws.change(event, |seq| {
        d.audit_seq = seq;
        d.elsewhere = false;
        match ob.deliveries.iter_mut().find(|x| x.id == d.id) {
            Some(x) => *x = d,
            None => ob.deliveries.push(d),
        }
        store::write_json(&path, ob)
    })?;
    Ok(())
}

/// A shared workspace opened read-only (its bucket did not answer): no change is recorded.
fn read_only(ws: &Workspace) -> bool {
    ws.shared()
        .and_then(crate::workspace::shared::Shared::offline)
        .is_some()
}

/// Who this console is, as a delivery names the console that queued it.
fn console(ws: &Workspace) -> String {
    format!("{}@{}", ws.actor(), crate::os::host_name())
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
/// The mark is this console's own (where it has read its log to), not a projection of it: an
/// outbox that others' deliveries rolled forward into starts without one.
pub fn init(ws: &Workspace) -> Result<(), NotifyError> {
    if ws.config().notify.is_empty() || load(ws)?.next_seq != 0 {
        return Ok(());
    }
    let _lock = lock(ws)?;
    let mut ob = load(ws)?;
    if ob.next_seq == 0 {
        (ob.next_seq, ob.offset) = ws.audit().tail()?;
        store::write_json(&outbox_path(ws), &ob)?;
    }
    Ok(())
}

/// Reads the audit entries after the outbox's mark and queues their deliveries; withdraws
/// intents that failed; releases the waiting ones whose outcome shows. Returns how many were
/// queued.
pub fn collect(ws: &Workspace) -> Result<usize, NotifyError> {
    // A shared workspace read offline records nothing: what it has not queued yet is queued
    // (its mark does not move) once the bucket answers again.
    if ws.config().notify.is_empty() || read_only(ws) {
        return Ok(0);
    }
    init(ws)?;
    let path = outbox_path(ws);
    // Most calls find nothing new: read without writing, then lock and write only if needed.
    let seen = load(ws)?;
    let (fresh, _) = ws
        .audit()
        .entries_after(seen.offset, seen.next_seq.max(1))?;
    if fresh.is_empty()
        && !seen
            .deliveries
            .iter()
            .any(|d| !d.elsewhere && d.state == State::Waiting)
    {
        return Ok(0);
    }
    let plans = std::cell::OnceCell::new();
    let _lock = lock(ws)?;
    let mut ob = load(ws)?;
    let (entries, end) = ws.audit().entries_after(ob.offset, ob.next_seq.max(1))?;
    let mut queued = 0;
    for entry in &entries {
        // On a shared workspace every console's log holds every console's entries: an event
        // is announced by the console that recorded it, or every console that reads it would
        // send it again.
        if !ws.recorded_here(entry.nonce.as_deref(), entry.seq, &entry.action) {
            continue;
        }
        let recorded = audit::Event::from_entry(entry);
        if let audit::Event::Failed(failed) = &recorded {
            let action = &failed.action;
            let withdrawn: Vec<Delivery> = ob
                .deliveries
                .iter()
                .filter(|d| {
                    !d.elsewhere
                        && d.state == State::Waiting
                        && d.event.action == *action
                        && d.event.subject == entry.target
                })
                .cloned()
                .collect();
            for mut d in withdrawn {
                d.state = State::Dropped;
                d.answer = format!("withdrawn: {action} failed");
                d.done_at = Some(entry.time);
                save(ws, &mut ob, Change::Dropped, Some(State::Waiting), d)?;
            }
            continue;
        }
        let Some(event) = events::of_event(ws, entry, recorded) else {
            continue;
        };
        for (target, body) in route(ws, &event, &ob) {
            let id = format!("{}/{}", event.key, target.id_part());
            if ob.get(&id).is_some() {
                continue;
            }
            let state = if event.confirm.is_some() {
                State::Waiting
            } else {
                State::Pending
            };
            let d = Delivery {
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
                console: console(ws),
                audit_seq: 0,
                elsewhere: false,
            };
            save(ws, &mut ob, Change::Queued, None, d)?;
            queued += 1;
        }
    }
    if let Some(last) = entries.last() {
        ob.next_seq = last.seq + 1;
    }
    ob.offset = end;
    let now = Timestamp::now();
    let waiting: Vec<Delivery> = ob
        .deliveries
        .iter()
        .filter(|d| !d.elsewhere && d.state == State::Waiting)
        .cloned()
        .collect();
    for mut d in waiting {
        let change = match &d.event.confirm {
            None => Some(Change::Pending),
            Some(c) => {
                let plans = plans.get_or_init(|| crate::flags::plan::load(ws).unwrap_or_default());
                let shown = plans.get(&c.flag).is_some_and(|p| {
                    p.history
                        .iter()
                        .any(|h| h.what == c.what && h.percent == c.percent && h.at >= d.event.at)
                });
                if shown {
                    Some(Change::Pending)
                } else if now.duration_since(d.event.at).unsigned_abs() > CONFIRM_WITHIN {
                    d.answer = "withdrawn: the change never showed in the flag's plan".into();
                    d.done_at = Some(now);
                    Some(Change::Dropped)
                } else {
                    None
                }
            }
        };
        match change {
            Some(Change::Pending) => {
                d.state = State::Pending;
                save(ws, &mut ob, Change::Pending, Some(State::Waiting), d)?;
            }
            Some(change) => {
                d.state = State::Dropped;
                save(ws, &mut ob, change, Some(State::Waiting), d)?;
            }
            None => {}
        }
    }
    // The mark, after the changes: a crash before it reads the same entries again, and their
    // deliveries are found queued (by id) and not queued twice.
    store::write_json(&path, &ob)?;
    Ok(queued)
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
    // Offline, a send could not be recorded as begun: nothing is sent until it can be.
    if read_only(ws) {
        report.pending = load(ws)?.pending();
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
            .find(|d| {
                !d.elsewhere && d.state == State::Pending && d.next_at.is_none_or(|t| t <= now)
            })
            .cloned();
        let Some(d) = due else {
            let next = ob
                .deliveries
                .iter()
                .filter(|d| !d.elsewhere && d.state == State::Pending)
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
    mark(ws, &d.id, Change::Sending, |x| {
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
            mark(ws, &d.id, Change::Pending, |x| {
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

/// A change of this console's delivery `id`, recorded as `change`.
fn mark(
    ws: &Workspace,
    id: &str,
    change: Change,
    f: impl FnOnce(&mut Delivery),
) -> Result<(), NotifyError> {
    let _lock = lock(ws)?;
    let mut ob = load(ws)?;
    let mut d = ob
        .get(id)
        .filter(|d| !d.elsewhere)
        .cloned()
        .ok_or_else(|| NotifyError::NoSuchDelivery(id.to_owned()))?;
    let before = d.state;
    f(&mut d);
    save(ws, &mut ob, change, Some(before), d)
}

/// Records a delivery's end (`notify.sent`, `notify.failed` or `notify.uncertain`, carrying
/// its record), then writes it.
fn finish(ws: &Workspace, d: &Delivery, state: State, answer: &str) -> Result<(), NotifyError> {
    mark(ws, &d.id, Change::End, |x| {
        x.state = state;
        answer.clone_into(&mut x.answer);
        x.done_at = Some(Timestamp::now());
        x.next_at = None;
    })
}

/// This console's deliveries left `sending` by a process that stopped mid-send (the send lock
/// is ours, so no one is sending them now): idempotent ones go again, the others wait for a
/// person. Another console's are its own to look for.
fn recover_interrupted(ws: &Workspace) -> Result<(), NotifyError> {
    let _lock = lock(ws)?;
    let mut ob = load(ws)?;
    let stopped: Vec<Delivery> = ob
        .deliveries
        .iter()
        .filter(|d| !d.elsewhere && d.state == State::Sending)
        .cloned()
        .collect();
    for mut d in stopped {
        if d.target.idempotency() == crate::net::Idempotency::Idempotent {
            d.state = State::Pending;
            save(ws, &mut ob, Change::Pending, Some(State::Sending), d)?;
        } else {
            d.state = State::Uncertain;
            d.answer = "uncertain: maybe delivered: the console stopped while sending this; \
                        it may have arrived. Send again sends it once more"
                .into();
            d.done_at = Some(Timestamp::now());
            save(ws, &mut ob, Change::End, Some(State::Sending), d)?;
        }
    }
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

/// Queues failed or uncertain deliveries of this console again, each audited as a
/// `notify.retry` carrying its record (a person's action: the Outbox's Retry and Send again,
/// `notify retry`, `notify resend`). `ids` names them; when empty, every failed one (never an
/// uncertain one: it may have arrived, so each is sent again only when named). Another
/// console's delivery is refused, naming that console: it is that console's to send. Returns
/// how many.
pub fn retry(ws: &Workspace, ids: &[String]) -> Result<usize, NotifyError> {
    let _lock = lock(ws)?;
    let mut ob = load(ws)?;
    for id in ids {
        match ob.get(id) {
            None => return Err(NotifyError::NoSuchDelivery(id.clone())),
            Some(d) if d.elsewhere => {
                return Err(NotifyError::Invalid(format!(
                    "delivery {id} was queued by {}: only that console sends it again",
                    d.whose()
                )));
            }
            Some(_) => {}
        }
    }
    let chosen: Vec<Delivery> = ob
        .deliveries
        .iter()
        .filter(|d| {
            !d.elsewhere
                && if ids.is_empty() {
                    d.state == State::Failed
                } else {
                    d.state.needs_attention() && ids.contains(&d.id)
                }
        })
        .cloned()
        .collect();
    let n = chosen.len();
    for mut d in chosen {
        let before = d.state;
        d.state = State::Pending;
        d.attempts = 0;
        d.next_at = None;
        save(ws, &mut ob, Change::Retry, Some(before), d)?;
    }
    Ok(n)
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
