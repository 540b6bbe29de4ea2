//! Status page and incidents: what users see during an incident (components, incidents,
//! scheduled maintenance) behind one small trait with two providers (Atlassian Statuspage API
//! v1, and a local page in the workspace), and the console's own incident records (severity,
//! timeline, response timers, postmortem).

pub mod incident;
pub mod local;
pub mod statuspage;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::workspace::Workspace;
use crate::workspace::config::StatusPageProvider;

/// Declares a closed set of API strings: `as_str`, `ALL`, and parsing that names the allowed
/// values when it refuses one.
macro_rules! api_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = StatusError;

            fn from_str(s: &str) -> Result<Self, StatusError> {
                let wanted = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| StatusError::Invalid(format!(
                        "{} {wanted:?} is not one of: {}",
                        $what,
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    )))
            }
        }
    };
}

api_enum!(
    /// Incident statuses the Statuspage API accepts for incidents.
    IncidentStatus, "incident status" {
        Investigating = "investigating",
        Identified = "identified",
        Monitoring = "monitoring",
        Resolved = "resolved",
    }
);

api_enum!(
    /// Component statuses, worst last.
    ComponentStatus, "component status" {
        Operational = "operational",
        UnderMaintenance = "under_maintenance",
        DegradedPerformance = "degraded_performance",
        PartialOutage = "partial_outage",
        MajorOutage = "major_outage",
    }
);

api_enum!(
    /// Statuses of scheduled maintenance.
    MaintenanceStatus, "maintenance status" {
        Scheduled = "scheduled",
        InProgress = "in_progress",
        Verifying = "verifying",
        Completed = "completed",
    }
);

api_enum!(
    /// Incident impact as the page shows it.
    Impact, "impact" {
        None = "none",
        Minor = "minor",
        Major = "major",
        Critical = "critical",
    }
);

api_enum!(
    /// How an incident turned out, said when it is resolved: fixed (users were affected and a
    /// change fixed it), no impact (real, but no user saw it), false alarm (nothing was wrong).
    /// The quarterly alert-fatigue review counts the last two as false positives.
    Resolution, "resolution" {
        Fixed = "fixed",
        NoImpact = "no-impact",
        FalseAlarm = "false-alarm",
    }
);

impl Resolution {
    /// Whether the page it came from was a false positive (no impact, or a false alarm).
    pub fn is_false_positive(self) -> bool {
        matches!(self, Resolution::NoImpact | Resolution::FalseAlarm)
    }
}

api_enum!(
    /// Incident severity from the incident runbook.
    Severity, "severity" {
        P0 = "P0",
        P1 = "P1",
        P2 = "P2",
        P3 = "P3",
    }
);

impl Severity {
    /// Time allowed from detection to the first public response.
    pub fn response_target(self) -> std::time::Duration {
        let minutes = match self {
            Severity::P0 => 5,
            Severity::P1 => 15,
            Severity::P2 => 60,
            Severity::P3 => 24 * 60,
        };
        std::time::Duration::from_secs(minutes * 60)
    }

    /// Who is told, from the incident runbook.
    pub fn escalation(self) -> &'static str {
        match self {
            Severity::P0 => "execs, the DevOps lead and on-call",
            Severity::P1 => "the DevOps lead and on-call",
            Severity::P2 => "on-call",
            Severity::P3 => "the ticket queue",
        }
    }

    /// The impact published with the incident.
    pub fn impact(self) -> Impact {
        match self {
            Severity::P0 => Impact::Critical,
            Severity::P1 => Impact::Major,
            Severity::P2 => Impact::Minor,
            Severity::P3 => Impact::None,
        }
    }

    /// The status affected components get unless one is given.
    pub fn component_status(self) -> ComponentStatus {
        match self {
            Severity::P0 => ComponentStatus::MajorOutage,
            Severity::P1 => ComponentStatus::PartialOutage,
            Severity::P2 | Severity::P3 => ComponentStatus::DegradedPerformance,
        }
    }

    /// The status affected components get with an incident in `status`: the severity's while
    /// investigating or identified, degraded while monitoring a fix, operational when resolved.
    pub fn component_status_for(self, status: IncidentStatus) -> ComponentStatus {
        match status {
            IncidentStatus::Investigating | IncidentStatus::Identified => self.component_status(),
            IncidentStatus::Monitoring => ComponentStatus::DegradedPerformance,
            IncidentStatus::Resolved => ComponentStatus::Operational,
        }
    }

    /// P0 and P1 are confirmed twice before anything is published.
    pub fn needs_double_confirmation(self) -> bool {
        matches!(self, Severity::P0 | Severity::P1)
    }
}

pub use crate::workspace::secrets::Secret;

/// What went wrong talking to a status page, in words a release manager can act on.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Config(String),
    #[error("the status page refused the API key (401): check ${env_var}")]
    Unauthorized { env_var: String },
    #[error("not found on the status page (404): {what}")]
    NotFound { what: String },
    #[error("the status page rejected the request (422): {message}")]
    Rejected { message: String },
    #[error("still rate limited after {attempts} attempts ({status}); try again in a minute")]
    RateLimited { status: u16, attempts: u32 },
    #[error("the status page answered {status}: {message}")]
    Http { status: u16, message: String },
    #[error("cannot reach the status page at {url}: {message}")]
    Network { url: String, message: String },
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    #[error(transparent)]
    Store(#[from] crate::store::StateError),
}

/// A component as the page has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageComponent {
    pub id: String,
    pub name: String,
    pub status: String,
}

/// One update of a page incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageIncidentUpdate {
    #[serde(default)]
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub created_at: String,
}

/// An incident (or scheduled maintenance) as the page has it; the fields of the Statuspage
/// incident object the console uses. (A missing `Option` field reads as `None`; the other
/// fields a page may leave out default.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageIncident {
    pub id: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub impact: String,
    pub shortlink: Option<String>,
    #[serde(default)]
    pub created_at: String,
    pub updated_at: Option<String>,
    pub resolved_at: Option<String>,
    pub scheduled_for: Option<String>,
    pub scheduled_until: Option<String>,
    #[serde(default)]
    pub incident_updates: Vec<PageIncidentUpdate>,
    #[serde(default)]
    pub components: Vec<PageComponent>,
    /// The incident's metadata; the console keeps its idempotency key there
    /// (`{"release_console": {"idempotency_key": ...}}`).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub metadata: serde_json::Value,
}

impl PageIncident {
    /// The console's idempotency key of this incident, if the console created it.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.metadata
            .get(METADATA_KEY)?
            .get("idempotency_key")?
            .as_str()
    }
}

/// Where in an incident's metadata the console keeps what it needs.
pub const METADATA_KEY: &str = "release_console";

/// A new incident, with component ids already resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewIncident {
    /// Names this attempt: a retry with the same key finds the incident instead of posting a
    /// second one (kept in the incident's metadata).
    pub idempotency_key: String,
    pub name: String,
    pub status: IncidentStatus,
    pub body: String,
    pub impact_override: Impact,
    /// Component id -> the status it gets.
    pub components: BTreeMap<String, ComponentStatus>,
    pub deliver_notifications: bool,
}

/// An update of an existing incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentChange {
    pub status: IncidentStatus,
    pub body: String,
    pub components: BTreeMap<String, ComponentStatus>,
    pub deliver_notifications: bool,
}

/// Scheduled maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewMaintenance {
    pub name: String,
    pub body: String,
    pub scheduled_for: jiff::Timestamp,
    pub scheduled_until: jiff::Timestamp,
    pub components: Vec<String>,
}

/// Receives progress lines (pacing, retries) from a provider.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// An update of an incident (or its resolution), as a person posts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentUpdate {
    pub incident_id: String,
    pub status: IncidentStatus,
    pub message: String,
    /// What its components show (default: from the severity; operational on resolve).
    pub component_status: Option<ComponentStatus>,
    /// How it turned out; only with the resolution (`status` resolved).
    pub resolution: Option<Resolution>,
}

/// Maintenance to schedule, as a person asks for it (components by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    pub name: String,
    pub message: String,
    pub from: jiff::Timestamp,
    pub until: jiff::Timestamp,
    pub components: Vec<String>,
}

/// Scheduled maintenance moved on: its new status and the update posted with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step<'a> {
    pub status: MaintenanceStatus,
    pub body: &'a str,
}

/// A status page: list components, create/update incidents, list the unresolved ones, schedule
/// maintenance. Implementations: [`local::LocalPage`] and [`statuspage::StatuspageClient`].
pub trait StatusPage: Send + Sync {
    fn components(&self) -> impl Future<Output = Result<Vec<PageComponent>, StatusError>> + Send;
    fn create_incident(
        &self,
        incident: &NewIncident,
    ) -> impl Future<Output = Result<PageIncident, StatusError>> + Send;
    fn update_incident(
        &self,
        id: &str,
        change: &IncidentChange,
    ) -> impl Future<Output = Result<PageIncident, StatusError>> + Send;
    fn unresolved(&self) -> impl Future<Output = Result<Vec<PageIncident>, StatusError>> + Send;
    fn schedule_maintenance(
        &self,
        maintenance: &NewMaintenance,
    ) -> impl Future<Output = Result<PageIncident, StatusError>> + Send;
    /// Maintenance that is scheduled or under way (not completed).
    fn maintenances(&self) -> impl Future<Output = Result<Vec<PageIncident>, StatusError>> + Send;
    /// Moves scheduled maintenance on: in progress, verifying, completed.
    fn update_maintenance(
        &self,
        id: &str,
        step: Step<'_>,
    ) -> impl Future<Output = Result<PageIncident, StatusError>> + Send;
}

/// The provider the workspace config selects.
#[derive(Debug)]
pub enum Provider {
    Local(local::LocalPage),
    Statuspage(statuspage::StatuspageClient),
}

impl Provider {
    /// Builds the configured provider; the API key comes from the environment variable the
    /// config names, never from the config file.
    pub fn from_workspace(ws: &Workspace, notify: Notify) -> Result<Self, StatusError> {
        let cfg = &ws.config().status_page;
        match cfg.provider {
            StatusPageProvider::Local => Ok(Provider::Local(local::LocalPage::new(ws))),
            StatusPageProvider::Statuspage => {
                let key = crate::workspace::secrets::resolve(
                    &cfg.api_key_env,
                    &cfg.api_key_secret,
                    &ws.config().aws,
                )
                .map_err(StatusError::Config)?
                .ok_or_else(|| {
                    StatusError::Config(crate::workspace::secrets::not_found_message(
                        "status_page.api_key_env",
                        &cfg.api_key_env,
                        "the Statuspage API key",
                    ))
                })?;
                Ok(Provider::Statuspage(statuspage::StatuspageClient::new(
                    statuspage::Settings {
                        api_base: cfg.api_base.clone(),
                        page_id: cfg.page_id.clone(),
                        key,
                        key_env: cfg.api_key_env.clone(),
                        min_interval: std::time::Duration::from_millis(cfg.min_request_interval_ms),
                    },
                    notify,
                )?))
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Local(_) => "local",
            Provider::Statuspage(_) => "statuspage",
        }
    }
}

/// The same call on whichever provider `self` is.
macro_rules! each_provider {
    ($self:ident, $p:ident => $call:expr) => {
        match $self {
            Provider::Local($p) => $call,
            Provider::Statuspage($p) => $call,
        }
    };
}

impl StatusPage for Provider {
    async fn components(&self) -> Result<Vec<PageComponent>, StatusError> {
        each_provider!(self, p => p.components().await)
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<PageIncident, StatusError> {
        each_provider!(self, p => p.create_incident(incident).await)
    }

    async fn update_incident(
        &self,
        id: &str,
        change: &IncidentChange,
    ) -> Result<PageIncident, StatusError> {
        each_provider!(self, p => p.update_incident(id, change).await)
    }

    async fn unresolved(&self) -> Result<Vec<PageIncident>, StatusError> {
        each_provider!(self, p => p.unresolved().await)
    }

    async fn schedule_maintenance(
        &self,
        maintenance: &NewMaintenance,
    ) -> Result<PageIncident, StatusError> {
        each_provider!(self, p => p.schedule_maintenance(maintenance).await)
    }

    async fn maintenances(&self) -> Result<Vec<PageIncident>, StatusError> {
        each_provider!(self, p => p.maintenances().await)
    }

    async fn update_maintenance(
        &self,
        id: &str,
        step: Step<'_>,
    ) -> Result<PageIncident, StatusError> {
        each_provider!(self, p => p.update_maintenance(id, step).await)
    }
}

/// Resolves component names to ids; an unknown name is refused with the names the page has.
pub fn resolve_components(
    page: &[PageComponent],
    names: &[String],
) -> Result<Vec<String>, StatusError> {
    names
        .iter()
        .map(|n| {
            page.iter()
                .find(|c| c.name.eq_ignore_ascii_case(n.trim()) || c.id == n.trim())
                .map(|c| c.id.clone())
                .ok_or_else(|| {
                    StatusError::Invalid(format!(
                        "component {n:?} is not on the status page; it has: {}",
                        page.iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_case_insensitively_and_refuse_anything_else_by_name() {
        assert_eq!(
            "Identified".parse::<IncidentStatus>().ok(),
            Some(IncidentStatus::Identified)
        );
        let err = "fixed".parse::<IncidentStatus>().expect_err("refused");
        assert_eq!(
            err.to_string(),
            "incident status \"fixed\" is not one of: investigating, identified, monitoring, resolved"
        );
        assert!("down".parse::<ComponentStatus>().is_err());
        assert_eq!("p1".parse::<Severity>().ok(), Some(Severity::P1));
    }

    #[test]
    fn severities_carry_the_runbook_targets() {
        assert_eq!(Severity::P0.response_target().as_secs(), 300);
        assert_eq!(Severity::P3.response_target().as_secs(), 86_400);
        assert_eq!(Severity::P1.impact(), Impact::Major);
        assert!(Severity::P1.needs_double_confirmation());
        assert!(!Severity::P2.needs_double_confirmation());
    }
}

/// One thing to publish, as the panel composes it: runs as a task on the shared runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Post {
    Create(incident::CreateRequest),
    Update(IncidentUpdate),
    Maintenance(Maintenance),
    /// Move scheduled maintenance on.
    MaintenanceUpdate(MaintenanceUpdate),
}

/// Scheduled maintenance moved on, as a person asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceUpdate {
    /// The page's id of the maintenance, and its name (for the preview and the log).
    pub id: String,
    pub name: String,
    pub status: MaintenanceStatus,
    pub message: String,
}

impl Post {
    /// Exactly what will be published, as `(field, value)` lines for a preview.
    pub fn preview(
        &self,
        ws: &Workspace,
        incidents: &[incident::Incident],
    ) -> Vec<(String, String)> {
        let cfg = &ws.config().status_page;
        let page = match cfg.provider {
            StatusPageProvider::Local => match ws.shared() {
                // One page for the team: recorded in the log, copied to the bucket.
                Some(shared) => format!(
                    "the team's local page ({}/{})",
                    shared.url(),
                    local::BUCKET_HTML
                ),
                None => format!(
                    "local page ({})",
                    ws.root().join("status/index.html").display()
                ),
            },
            StatusPageProvider::Statuspage => {
                format!("Statuspage page {} at {}", cfg.page_id, cfg.api_base)
            }
        };
        let mut lines = vec![("Publish to".to_owned(), page)];
        let mut push = |k: &str, v: String| lines.push((k.to_owned(), v));
        match self {
            Post::Create(req) => {
                let cs = req
                    .component_status
                    .unwrap_or(req.severity.component_status());
                push("Action", "create incident".into());
                push("Title", req.title());
                push("Status", req.status.to_string());
                push(
                    "Impact",
                    format!("{} (severity {})", req.severity.impact(), req.severity),
                );
                push(
                    "Components",
                    req.components
                        .iter()
                        .map(|c| format!("{c}: {cs}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                push("Message", req.message.trim().to_owned());
                push(
                    "Notify subscribers",
                    if req.deliver_notifications {
                        "yes"
                    } else {
                        "no"
                    }
                    .into(),
                );
                push("Escalation", req.severity.escalation().into());
                push(
                    "Detected",
                    req.detected_at.map_or_else(
                        || "now".to_owned(),
                        |t| {
                            format!(
                                "{} (the response timer runs from here)",
                                crate::local_time(t, true)
                            )
                        },
                    ),
                );
            }
            Post::Update(IncidentUpdate {
                incident_id,
                status,
                message,
                component_status,
                resolution,
            }) => {
                let inc = incidents.iter().find(|i| &i.id == incident_id);
                let cs = if *status == IncidentStatus::Resolved {
                    ComponentStatus::Operational
                } else {
                    component_status
                        .or(inc.map(|i| i.severity.component_status_for(*status)))
                        .unwrap_or(ComponentStatus::DegradedPerformance)
                };
                push(
                    "Action",
                    if *status == IncidentStatus::Resolved {
                        "resolve incident"
                    } else {
                        "post update"
                    }
                    .into(),
                );
                push(
                    "Incident",
                    inc.map_or_else(
                        || incident_id.clone(),
                        |i| format!("{} {} ({})", i.id, i.name, i.page_incident_id),
                    ),
                );
                push("Status", status.to_string());
                if *status == IncidentStatus::Resolved {
                    push(
                        "Resolution",
                        resolution.map_or_else(|| "not said".to_owned(), |r| r.to_string()),
                    );
                }
                push(
                    "Components",
                    inc.map(|i| {
                        i.components
                            .iter()
                            .map(|c| format!("{c}: {cs}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                );
                push("Message", message.trim().to_owned());
            }
            Post::MaintenanceUpdate(u) => {
                push("Action", format!("maintenance {}", u.status));
                push("Maintenance", format!("{} ({})", u.name, u.id));
                push("Message", u.message.trim().to_owned());
            }
            Post::Maintenance(m) => {
                push("Action", "schedule maintenance".into());
                push("Title", m.name.clone());
                push("Window", format!("{} to {}", m.from, m.until));
                push("Components", m.components.join(", "));
                push("Message", m.message.trim().to_owned());
            }
        }
        lines
    }

    /// Severity that decides how many confirmations the panel asks for.
    pub fn severity(&self, incidents: &[incident::Incident]) -> Option<Severity> {
        match self {
            Post::Create(req) => Some(req.severity),
            Post::Update(u) => incidents
                .iter()
                .find(|i| i.id == u.incident_id)
                .map(|i| i.severity),
            Post::Maintenance(_) | Post::MaintenanceUpdate(_) => None,
        }
    }
}

/// The task that publishes a post ([`run_post`]): one at a time, so two posts never race.
pub fn post_task_spec(ws: &Workspace) -> crate::runner::TaskSpec {
    ws.task_spec(
        "status-post",
        "status.post",
        None,
        std::time::Duration::from_mins(10),
    )
}

/// Publishes `post` as the task `ctx` belongs to; retries and pacing go to the task's log.
pub async fn run_post(
    ctx: crate::runner::TaskContext,
    ws: Workspace,
    post: Post,
) -> crate::runner::TaskResult {
    use crate::runner::TaskError;
    let log = ctx.clone();
    let notify: Notify = Arc::new(move |line: &str| log.log_line(line));
    let fail = |e: StatusError| TaskError::Failed(e.to_string());
    let page = Provider::from_workspace(&ws, notify).map_err(fail)?;
    match post {
        Post::Create(req) => {
            ctx.log_line(&format!(
                "creating {:?} on the {} status page",
                req.title(),
                page.name()
            ));
            let inc = incident::create(&ws, &page, page.name(), &req)
                .await
                .map_err(fail)?;
            Ok(format!(
                "{} created ({}, page id {})",
                inc.id, inc.status, inc.page_incident_id
            ))
        }
        Post::Update(u) => {
            ctx.log_line(&format!("posting {} to {}", u.status, u.incident_id));
            let (id, cs) = (&u.incident_id, u.component_status);
            let inc = incident::update(&ws, &page, id, (u.status, u.resolution), &u.message, cs)
                .await
                .map_err(fail)?;
            Ok(format!("{} {}", inc.id, inc.status))
        }
        Post::Maintenance(m) => {
            let m = incident::schedule_maintenance(&ws, &page, &m)
                .await
                .map_err(fail)?;
            Ok(format!("maintenance {:?} scheduled ({})", m.name, m.id))
        }
        Post::MaintenanceUpdate(u) => {
            ctx.log_line(&format!("maintenance {:?} -> {}", u.name, u.status));
            let m = incident::update_maintenance(&ws, &page, &u.id, u.status, &u.message)
                .await
                .map_err(fail)?;
            Ok(format!("maintenance {:?} is {}", m.name, m.status))
        }
    }
}

/// What the page shows now: components and open maintenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    pub components: Vec<PageComponent>,
    pub maintenances: Vec<PageIncident>,
}

/// Reads the page (network calls for Statuspage).
pub async fn fetch_page(ws: &Workspace) -> Result<PageView, StatusError> {
    let page = Provider::from_workspace(ws, Arc::new(|_: &str| {}))?;
    Ok(PageView {
        components: page.components().await?,
        maintenances: page.maintenances().await?,
    })
}

/// The message a status update starts from, so every post says the same things.
pub fn message_template(status: IncidentStatus, components: &[String]) -> String {
    let what = if components.is_empty() {
        "some services".to_owned()
    } else {
        components.join(", ")
    };
    match status {
        IncidentStatus::Investigating => format!(
            "We are investigating reports of problems with {what}. Next update within 30 minutes."
        ),
        IncidentStatus::Identified => format!(
            "We have identified the cause of the problems with {what} and are working on a fix."
        ),
        IncidentStatus::Monitoring => {
            format!("A fix for {what} has been deployed. We are monitoring the results.")
        }
        IncidentStatus::Resolved => {
            format!("This incident has been resolved: {what} are operating normally.")
        }
    }
}
