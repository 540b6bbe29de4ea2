//! The local status page (the default, and the demo's): components, incidents and maintenance in
//! `status/page.json` in the workspace, and a static `status/index.html` rendered after every
//! change that a person can open in a browser. Writes are atomic and serialized by a file lock.
//!
//! The page is a projection of the audit log ([`PageBook`]): each change is recorded first
//! (`status.page.post`, target [`PAGE_TARGET`]) with the whole page after it, then the file is
//! written and the HTML rendered. So on a shared workspace the page is one page for the team:
//! every console rolls the others' changes into its copy (the same incidents, ids and
//! component statuses), any of them can update what another posted, and a change made from
//! a page another console changed meanwhile is refused as raced, never lost. A crash between
//! entry and file is rolled forward, and `audit verify` names a page that disagrees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    ComponentStatus, IncidentChange, IncidentStatus, MaintenanceStatus, NewIncident,
    NewMaintenance, PageComponent, PageIncident, PageIncidentUpdate, StatusError, StatusPage, Step,
};
use crate::audit::{Action, Event};
use crate::store;
use crate::workspace::{Projection, Word, Workspace};

/// The target of every `status.page.post` entry: the workspace has one local page.
pub const PAGE_TARGET: &str = "status-page";

/// Finished incidents and maintenance a page keeps (the newest; the HTML shows 10), so the
/// record each change carries stays small.
pub const KEPT_FINISHED: usize = 50;
/// Updates an incident keeps on the page (the newest).
pub const KEPT_UPDATES: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PageState {
    components: Vec<PageComponent>,
    incidents: Vec<PageIncident>,
    /// The entry of the page's last change, whose `after.page` is this page; 0 for a page
    /// written before pages were recorded (not compared).
    #[serde(default)]
    audit_seq: u64,
}

/// The page as an entry carries it: everything but the entry's own number.
#[derive(Serialize, Deserialize)]
struct Carried {
    components: Vec<PageComponent>,
    incidents: Vec<PageIncident>,
}

/// The status page kept in the workspace.
#[derive(Debug, Clone)]
pub struct LocalPage {
    /// Where each change is recorded (boxed: a workspace is large beside the vendor client).
    ws: Box<Workspace>,
    dir: PathBuf,
    product: String,
    configured: Vec<String>,
}

fn page_dir(ws: &Workspace) -> PathBuf {
    ws.root().join("status")
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("page.json")
}

/// Saves `state` and renders its HTML beside it.
fn save(dir: &Path, product: &str, state: &PageState) -> Result<String, store::StateError> {
    let html = render_html(product, state);
    store::write_json(&state_path(dir), state)?;
    store::write_atomic(&dir.join("index.html"), html.as_bytes())?;
    Ok(html)
}

/// Where a shared workspace's bucket holds the rendered page, under its prefix.
pub const BUCKET_HTML: &str = "status/index.html";

/// On a shared workspace, the page rendered from entry `seq` written to the bucket too
/// ([`BUCKET_HTML`]), so a team has one page to open; an older rendering never replaces a
/// newer one. The page is recorded already: a bucket that refuses the copy is said in the
/// process log, and the next change writes it again.
fn put_in_bucket(ws: &Workspace, seq: u64, html: &str) {
    let Some(shared) = ws.shared() else { return };
    if let Err(e) = shared.put_rendered(BUCKET_HTML, seq, html.as_bytes(), "text/html") {
        tracing::warn!(
            "the status page (entry #{seq}) was not copied to {}/{BUCKET_HTML}: {e}",
            shared.url()
        );
    }
}

impl LocalPage {
    pub fn new(ws: &Workspace) -> Self {
        Self {
            ws: Box::new(ws.clone()),
            dir: page_dir(ws),
            product: ws.config().product.name.clone(),
            configured: ws.config().status_page.components.clone(),
        }
    }

    /// The rendered page.
    pub fn html_path(&self) -> PathBuf {
        self.dir.join("index.html")
    }

    fn load(&self) -> Result<PageState, StatusError> {
        let mut state: PageState = store::read_json(&state_path(&self.dir))?.unwrap_or_default();
        // Components named in the config appear (operational) until the page has them.
        for name in &self.configured {
            if !state.components.iter().any(|c| &c.name == name) {
                state.components.push(PageComponent {
                    id: name.clone(),
                    name: name.clone(),
                    status: ComponentStatus::Operational.as_str().to_owned(),
                });
            }
        }
        Ok(state)
    }

    /// Runs `change` on the state under the page's lock, records the page after it
    /// (`status.page.post`, saying `what`), then saves it and renders the HTML. On a shared
    /// workspace a page another console changed since this one last rolled the log forward
    /// is refused as raced (nothing recorded, nothing written).
    fn modify<T>(
        &self,
        what: impl FnOnce(&T) -> String,
        change: impl FnOnce(&mut PageState) -> Result<T, StatusError>,
    ) -> Result<T, StatusError> {
        // Not `store::update_json`: loading adds the configured components, and the HTML is
        // rendered under the same lock.
        let _lock = store::lock(&self.dir, "page")?;
        let mut state = self.load()?;
        let before = state.clone();
        let out = change(&mut state)?;
        if state == before {
            // Nothing changed (a retry that found its incident): nothing to record.
            return Ok(out);
        }
        prune(&mut state);
        let carried = serde_json::json!({
            "change": what(&out),
            "page": Carried {
                components: state.components.clone(),
                incidents: state.incidents.clone(),
            },
        });
        let (seq, html) = self.ws.change(
            Event::StatusPagePost(Event::values(PAGE_TARGET, serde_json::Value::Null, carried)),
            |seq| {
                state.audit_seq = seq;
                save(&self.dir, &self.product, &state).map(|html| (seq, html))
            },
        )?;
        put_in_bucket(&self.ws, seq, &html);
        Ok(out)
    }
}

/// Keeps the newest [`KEPT_FINISHED`] finished incidents and maintenance (every open one
/// stays) and the newest [`KEPT_UPDATES`] updates of each.
fn prune(state: &mut PageState) {
    let finished = state.incidents.iter().filter(|i| is_finished(i)).count();
    let mut drop = finished.saturating_sub(KEPT_FINISHED);
    // Oldest first: the page appends.
    state.incidents.retain(|i| {
        if drop > 0 && is_finished(i) {
            drop -= 1;
            return false;
        }
        true
    });
    for i in &mut state.incidents {
        // Newest first: updates are inserted at the front.
        i.incident_updates.truncate(KEPT_UPDATES);
    }
}

fn is_finished(i: &PageIncident) -> bool {
    matches!(i.status.as_str(), "resolved" | "completed")
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn new_id(name: &str) -> String {
    let seed = format!("{name}{}", jiff::Timestamp::now().as_nanosecond());
    format!("local-{}", &crate::sha256_hex(seed.as_bytes())[..12])
}

fn set_components(
    state: &mut PageState,
    components: &std::collections::BTreeMap<String, ComponentStatus>,
) -> Result<Vec<PageComponent>, StatusError> {
    let mut touched = Vec::new();
    for (id, status) in components {
        let c = state
            .components
            .iter_mut()
            .find(|c| &c.id == id)
            .ok_or_else(|| StatusError::Invalid(format!("component {id:?} is not on the page")))?;
        status.as_str().clone_into(&mut c.status);
        touched.push(c.clone());
    }
    Ok(touched)
}

impl StatusPage for LocalPage {
    async fn components(&self) -> Result<Vec<PageComponent>, StatusError> {
        Ok(self.load()?.components)
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<PageIncident, StatusError> {
        self.modify(
            |i: &PageIncident| format!("incident {} {:?}: {}", i.id, i.name, i.status),
            |state| {
                // The same rule as the vendor client: one incident per idempotency key.
                if let Some(existing) = state.incidents.iter().find(|i| {
                    i.idempotency_key() == Some(incident.idempotency_key.as_str())
                        && is_unresolved(i)
                }) {
                    return Ok(existing.clone());
                }
                let components = set_components(state, &incident.components)?;
                let at = now();
                let page = PageIncident {
                    id: new_id(&incident.name),
                    name: incident.name.clone(),
                    status: incident.status.as_str().to_owned(),
                    impact: incident.impact_override.as_str().to_owned(),
                    shortlink: None,
                    created_at: at.clone(),
                    updated_at: Some(at.clone()),
                    resolved_at: (incident.status == IncidentStatus::Resolved).then(|| at.clone()),
                    scheduled_for: None,
                    scheduled_until: None,
                    incident_updates: vec![PageIncidentUpdate {
                        id: new_id(&incident.body),
                        status: incident.status.as_str().to_owned(),
                        body: incident.body.clone(),
                        created_at: at,
                    }],
                    components,
                    metadata: serde_json::json!({
                        super::METADATA_KEY: {"idempotency_key": incident.idempotency_key}
                    }),
                };
                state.incidents.push(page.clone());
                Ok(page)
            },
        )
    }

    async fn update_incident(
        &self,
        id: &str,
        change: &IncidentChange,
    ) -> Result<PageIncident, StatusError> {
        self.modify(
            |i: &PageIncident| format!("incident {} {:?}: {}", i.id, i.name, i.status),
            |state| {
                let touched = set_components(state, &change.components)?;
                let inc = state
                    .incidents
                    .iter_mut()
                    .find(|i| i.id == id)
                    .ok_or_else(|| StatusError::NotFound {
                        what: format!("incident {id} on the local status page"),
                    })?;
                let at = now();
                change.status.as_str().clone_into(&mut inc.status);
                inc.updated_at = Some(at.clone());
                if change.status == IncidentStatus::Resolved {
                    inc.resolved_at = Some(at.clone());
                }
                for c in touched {
                    match inc.components.iter_mut().find(|x| x.id == c.id) {
                        Some(x) => *x = c,
                        None => inc.components.push(c),
                    }
                }
                inc.incident_updates.insert(
                    0,
                    PageIncidentUpdate {
                        id: new_id(&change.body),
                        status: change.status.as_str().to_owned(),
                        body: change.body.clone(),
                        created_at: at,
                    },
                );
                Ok(inc.clone())
            },
        )
    }

    async fn unresolved(&self) -> Result<Vec<PageIncident>, StatusError> {
        Ok(self
            .load()?
            .incidents
            .into_iter()
            .filter(is_unresolved)
            .collect())
    }

    async fn maintenances(&self) -> Result<Vec<PageIncident>, StatusError> {
        Ok(self
            .load()?
            .incidents
            .into_iter()
            .filter(|i| {
                i.scheduled_for.is_some()
                    && matches!(i.status.as_str(), "scheduled" | "in_progress" | "verifying")
            })
            .collect())
    }

    async fn update_maintenance(
        &self,
        id: &str,
        step: Step<'_>,
    ) -> Result<PageIncident, StatusError> {
        self.maintenance_step(id, step.status, step.body)
    }

    async fn schedule_maintenance(&self, m: &NewMaintenance) -> Result<PageIncident, StatusError> {
        self.modify(
            |m: &PageIncident| format!("maintenance {} {:?}: scheduled", m.id, m.name),
            |state| {
                let components = m
                    .components
                    .iter()
                    .map(|id| {
                        state
                            .components
                            .iter()
                            .find(|c| &c.id == id)
                            .cloned()
                            .ok_or_else(|| {
                                StatusError::Invalid(format!("component {id:?} is not on the page"))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let at = now();
                let page = PageIncident {
                    id: new_id(&m.name),
                    name: m.name.clone(),
                    status: "scheduled".into(),
                    impact: "maintenance".into(),
                    shortlink: None,
                    created_at: at.clone(),
                    updated_at: Some(at.clone()),
                    resolved_at: None,
                    scheduled_for: Some(m.scheduled_for.to_string()),
                    scheduled_until: Some(m.scheduled_until.to_string()),
                    incident_updates: vec![PageIncidentUpdate {
                        id: new_id(&m.body),
                        status: "scheduled".into(),
                        body: m.body.clone(),
                        created_at: at,
                    }],
                    components,
                    metadata: serde_json::Value::Null,
                };
                state.incidents.push(page.clone());
                Ok(page)
            },
        )
    }
}

impl LocalPage {
    fn maintenance_step(
        &self,
        id: &str,
        status: MaintenanceStatus,
        body: &str,
    ) -> Result<PageIncident, StatusError> {
        self.modify(
            |m: &PageIncident| format!("maintenance {} {:?}: {}", m.id, m.name, m.status),
            |state| {
                let m = state
                    .incidents
                    .iter_mut()
                    .find(|i| i.id == id && i.scheduled_for.is_some())
                    .ok_or_else(|| StatusError::NotFound {
                        what: format!("maintenance {id} on the local status page"),
                    })?;
                let at = now();
                status.as_str().clone_into(&mut m.status);
                m.updated_at = Some(at.clone());
                m.incident_updates.insert(
                    0,
                    PageIncidentUpdate {
                        id: new_id(body),
                        status: status.as_str().to_owned(),
                        body: body.to_owned(),
                        created_at: at,
                    },
                );
                let m = m.clone();
                // Components are under maintenance while it runs.
                let to = match status {
                    MaintenanceStatus::InProgress | MaintenanceStatus::Verifying => {
                        ComponentStatus::UnderMaintenance
                    }
                    MaintenanceStatus::Scheduled | MaintenanceStatus::Completed => {
                        ComponentStatus::Operational
                    }
                };
                for c in &m.components {
                    if let Some(page_c) = state.components.iter_mut().find(|x| x.id == c.id) {
                        to.as_str().clone_into(&mut page_c.status);
                    }
                }
                Ok(m)
            },
        )
    }
}

fn is_unresolved(i: &PageIncident) -> bool {
    matches!(
        i.status.as_str(),
        "investigating" | "identified" | "monitoring"
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn status_color(status: &str) -> &'static str {
    match status {
        "operational" | "resolved" | "completed" => "#2e7d32",
        "degraded_performance" | "monitoring" | "identified" => "#f9a825",
        "partial_outage" | "investigating" => "#ef6c00",
        "major_outage" => "#c62828",
        _ => "#1565c0",
    }
}

/// The static page: overall banner, components, open incidents with their updates, scheduled
/// maintenance, and the last resolved incidents.
fn render_html(product: &str, state: &PageState) -> String {
    let worst = state
        .components
        .iter()
        .filter_map(|c| c.status.parse::<ComponentStatus>().ok())
        .max()
        .unwrap_or(ComponentStatus::Operational);
    let banner = match worst {
        ComponentStatus::Operational => "All systems operational",
        ComponentStatus::UnderMaintenance => "Maintenance in progress",
        ComponentStatus::DegradedPerformance => "Degraded performance",
        ComponentStatus::PartialOutage => "Partial outage",
        ComponentStatus::MajorOutage => "Major outage",
    };
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{p} status</title>\n\
         <style>body{{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;color:#222}}\
         .banner{{padding:1em;color:#fff;border-radius:6px;font-size:1.3em}}\
         .row{{display:flex;justify-content:space-between;padding:.6em 0;border-bottom:1px solid #ddd}}\
         .update{{margin:.4em 0 .8em 1em}} small{{color:#666}}</style></head><body>\n\
         <h1>{p} status</h1>\n<div class=\"banner\" style=\"background:{c}\">{b}</div>\n<h2>Components</h2>\n",
        p = esc(product),
        c = status_color(worst.as_str()),
        b = banner
    );
    for comp in &state.components {
        html.push_str(&format!(
            "<div class=\"row\"><span>{}</span><span style=\"color:{}\">{}</span></div>\n",
            esc(&comp.name),
            status_color(&comp.status),
            esc(&comp.status.replace('_', " "))
        ));
    }
    let section = |title: &str, items: Vec<&PageIncident>| {
        let mut s = format!("<h2>{title}</h2>\n");
        if items.is_empty() {
            s.push_str("<p><small>None.</small></p>\n");
        }
        for i in items {
            s.push_str(&format!(
                "<h3>{} <small style=\"color:{}\">{}</small></h3>\n",
                esc(&i.name),
                status_color(&i.status),
                esc(&i.status)
            ));
            if let (Some(from), Some(until)) = (&i.scheduled_for, &i.scheduled_until) {
                s.push_str(&format!(
                    "<p><small>{} to {}</small></p>\n",
                    esc(from),
                    esc(until)
                ));
            }
            for u in &i.incident_updates {
                s.push_str(&format!(
                    "<div class=\"update\"><b>{}</b> - {}<br><small>{}</small></div>\n",
                    esc(&u.status),
                    esc(&u.body),
                    esc(&u.created_at)
                ));
            }
        }
        s
    };
    html.push_str(&section(
        "Open incidents",
        state
            .incidents
            .iter()
            .filter(|i| is_unresolved(i))
            .collect(),
    ));
    html.push_str(&section(
        "Scheduled maintenance",
        state
            .incidents
            .iter()
            .filter(|i| matches!(i.status.as_str(), "scheduled" | "in_progress" | "verifying"))
            .collect(),
    ));
    html.push_str(&section(
        "Resolved",
        state
            .incidents
            .iter()
            .rev()
            .filter(|i| i.status == "resolved")
            .take(10)
            .collect(),
    ));
    html.push_str("</body></html>\n");
    html
}

/// The local status page as the audit log speaks for it (`status/page.json`, and the
/// `status/index.html` rendered from it): each `status.page.post` entry carries the whole page
/// after its change in `after.page`, and the page keeps the entry of its last change
/// (`audit_seq`). A page the log holds newer than the file (a crash between the append and the
/// save, or, on a shared workspace, another console's post) is rolled forward from it and its
/// HTML rendered again; `audit verify` compares the file with its last entry. A page written
/// before pages were recorded (no entry number, no entry) is not compared.
#[derive(Debug)]
pub struct PageBook;

/// The page an entry carries, with the entry's number.
fn carried_page(w: &Word) -> Result<PageState, String> {
    let value = w.after.get("page").cloned().unwrap_or_default();
    serde_json::from_value::<Carried>(value)
        .map(|c| PageState {
            components: c.components,
            incidents: c.incidents,
            audit_seq: w.seq,
        })
        .map_err(|e| format!("its status page cannot be read: {e}"))
}

impl Projection for PageBook {
    fn follows(&self, action: Action) -> bool {
        action == Action::StatusPagePost
    }

    fn carries(&self, after: &serde_json::Value) -> bool {
        after.get("page").is_some()
    }

    fn marker(&self) -> &'static str {
        r#""action":"status.page."#
    }

    fn lock(&self, ws: &Workspace) -> (PathBuf, &'static str) {
        // The lock `LocalPage::modify` takes: every change is made under it.
        (page_dir(ws), "page")
    }

    fn roll_forward(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Word>,
    ) -> Result<(usize, Vec<(String, Word, String)>), store::StateError> {
        let dir = page_dir(ws);
        let file: Option<PageState> = store::read_json(&state_path(&dir))?;
        let mut applied = 0;
        let mut refused = Vec::new();
        for (target, w) in last {
            if target != PAGE_TARGET {
                refused.push((
                    target.clone(),
                    w.clone(),
                    format!("the local status page is {PAGE_TARGET}, not {target}"),
                ));
                continue;
            }
            if file.as_ref().is_some_and(|f| f.audit_seq >= w.seq) {
                continue;
            }
            match carried_page(w) {
                Ok(page) => {
                    let html = save(&dir, &ws.config().product.name, &page)?;
                    // Its writer crashed before copying it to the bucket, perhaps.
                    if ws.wrote(w) {
                        put_in_bucket(ws, w.seq, &html);
                    }
                    applied += 1;
                    tracing::info!("rolled forward entry #{} ({} {target})", w.seq, w.action);
                }
                Err(why) => refused.push((target.clone(), w.clone(), why)),
            }
        }
        Ok((applied, refused))
    }

    fn disagreement(
        &self,
        ws: &Workspace,
        last: &BTreeMap<String, Option<Word>>,
    ) -> Result<Option<(u64, String)>, store::StateError> {
        let path = state_path(&page_dir(ws));
        let file = path.display();
        let page: Option<PageState> = store::read_json(&path)?;
        let logged = last.get(PAGE_TARGET);
        let Some(page) = page else {
            return Ok(match logged {
                Some(Some(w)) => Some((
                    w.seq,
                    format!(
                        "{file} disagrees with the log: there is no status page, but entry #{} \
                         ({}) recorded it",
                        w.seq, w.action
                    ),
                )),
                _ => None,
            });
        };
        // Written before pages were recorded, and no entry since.
        if page.audit_seq == 0 && !matches!(logged, Some(Some(_))) {
            return Ok(None);
        }
        let subject = "the status page";
        let seq = page.audit_seq;
        let w = match crate::workspace::last_change(&file, subject, seq, logged) {
            Ok(w) => w,
            Err(d) => return Ok(Some(d)),
        };
        let holds = format!("has {} incidents", page.incidents.len());
        if let Err(d) = crate::workspace::is_as_of(&file, subject, &holds, seq, w) {
            return Ok(Some(d));
        }
        Ok(match carried_page(w) {
            Ok(record) if record == page => None,
            Ok(record) => Some((
                w.seq,
                format!(
                    "{file} disagrees with the log: the status page is not the page entry #{} \
                     ({}) saved: {}",
                    w.seq,
                    w.action,
                    first_difference(&record, &page)
                ),
            )),
            Err(why) => Some((
                w.seq,
                format!(
                    "{file}: the status page's last change, entry #{}: {why}",
                    w.seq
                ),
            )),
        })
    }
}

/// Where the page the log saved and the file's first differ, in words.
fn first_difference(logged: &PageState, file: &PageState) -> String {
    for c in &logged.components {
        match file.components.iter().find(|f| f.id == c.id) {
            None => return format!("component {} is in the log, not in the file", c.name),
            Some(f) if f != c => {
                return format!(
                    "component {} is {} in the log, {} in the file",
                    c.name, c.status, f.status
                );
            }
            Some(_) => {}
        }
    }
    if let Some(f) = file
        .components
        .iter()
        .find(|f| !logged.components.iter().any(|c| c.id == f.id))
    {
        return format!("component {} is in the file, not in the log", f.name);
    }
    for i in &logged.incidents {
        match file.incidents.iter().find(|f| f.id == i.id) {
            None => return format!("incident {} is in the log, not in the file", i.id),
            Some(f) if f.status != i.status => {
                return format!(
                    "incident {} is {} in the log, {} in the file",
                    i.id, i.status, f.status
                );
            }
            Some(f) if f != i => return format!("incident {} differs", i.id),
            Some(_) => {}
        }
    }
    if let Some(f) = file
        .incidents
        .iter()
        .find(|f| !logged.incidents.iter().any(|i| i.id == f.id))
    {
        return format!("incident {} is in the file, not in the log", f.id);
    }
    "the order of its components or incidents differs".to_owned()
}
