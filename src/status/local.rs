//! The local status page (the default, and the demo's): components, incidents and maintenance in
//! `status/page.json` in the workspace, and a static `status/index.html` rendered after every
//! change that a person can open in a browser. Writes are atomic and serialized by a file lock.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{
    ComponentStatus, IncidentChange, IncidentStatus, MaintenanceStatus, NewIncident,
    NewMaintenance, PageComponent, PageIncident, PageIncidentUpdate, StatusError, StatusPage, Step,
};
use crate::store;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PageState {
    components: Vec<PageComponent>,
    incidents: Vec<PageIncident>,
}

/// The status page kept in the workspace.
#[derive(Debug, Clone)]
pub struct LocalPage {
    dir: PathBuf,
    product: String,
    configured: Vec<String>,
}

impl LocalPage {
    pub fn new(ws: &Workspace) -> Self {
        Self {
            dir: ws.root().join("status"),
            product: ws.config().product.name.clone(),
            configured: ws.config().status_page.components.clone(),
        }
    }

    /// The rendered page.
    pub fn html_path(&self) -> PathBuf {
        self.dir.join("index.html")
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("page.json")
    }

    fn load(&self) -> Result<PageState, StatusError> {
        let mut state: PageState = store::read_json(&self.state_path())?.unwrap_or_default();
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

    /// Runs `change` on the state under the page's lock, then saves it and renders the HTML.
    fn modify<T>(
        &self,
        change: impl FnOnce(&mut PageState) -> Result<T, StatusError>,
    ) -> Result<T, StatusError> {
        // Not `store::update_json`: loading adds the configured components, and the HTML is
        // rendered under the same lock.
        let _lock = store::lock(&self.dir, "page")?;
        let mut state = self.load()?;
        let out = change(&mut state)?;
        store::write_json(&self.state_path(), &state)?;
        store::write_atomic(
            &self.html_path(),
            render_html(&self.product, &state).as_bytes(),
        )?;
        Ok(out)
    }
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
        self.modify(|state| {
            // The same rule as the vendor client: one incident per idempotency key.
            if let Some(existing) = state.incidents.iter().find(|i| {
                i.idempotency_key() == Some(incident.idempotency_key.as_str()) && is_unresolved(i)
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
        })
    }

    async fn update_incident(
        &self,
        id: &str,
        change: &IncidentChange,
    ) -> Result<PageIncident, StatusError> {
        self.modify(|state| {
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
        })
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
        self.modify(|state| {
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
        })
    }
}

impl LocalPage {
    fn maintenance_step(
        &self,
        id: &str,
        status: MaintenanceStatus,
        body: &str,
    ) -> Result<PageIncident, StatusError> {
        self.modify(|state| {
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
        })
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
