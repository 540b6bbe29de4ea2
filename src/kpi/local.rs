//! KPI samples recorded in the workspace (`kpi/samples.json`, written by `kpi record`): the
//! default source, for a team without Prometheus and for the demo. No samples means no data,
//! and a gate without data is never green.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;

use super::{KpiDef, KpiError, KpiSource, Series, Window};
use crate::store;
use crate::workspace::Workspace;

#[derive(Debug, Clone)]
pub struct LocalKpis {
    path: PathBuf,
    // Boxed: the workspace is large beside the other sources.
    ws: Box<Workspace>,
}

impl LocalKpis {
    pub fn new(ws: &Workspace) -> Self {
        Self {
            path: ws.root().join("kpi").join("samples.json"),
            ws: Box::new(ws.clone()),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, Series>, KpiError> {
        store::read_json(&self.path)
            .map(Option::unwrap_or_default)
            .map_err(KpiError::from)
    }

    /// Appends a sample taken at `at`, audited first: samples open the rollout gate, so who
    /// recorded which value is on record before it counts.
    pub fn record(&self, name: &str, value: f64, at: Timestamp) -> Result<(), KpiError> {
        if !value.is_finite() {
            return Err(KpiError::Invalid(format!(
                "{name}: {value} is not a number"
            )));
        }
        self.ws.change(
            crate::audit::Event::KpiRecord(crate::audit::Event::values(
                name,
                serde_json::Value::Null,
                serde_json::json!({"value": value, "at": at}),
            )),
            |_| {
                store::update_json(&self.path, |all: &mut BTreeMap<String, Series>| {
                    let series = all.entry(name.to_owned()).or_default();
                    series.push((at.as_millisecond() as f64 / 1000.0, value));
                    // Keep the newest 10 000 samples per KPI.
                    let excess = series.len().saturating_sub(10_000);
                    series.drain(..excess);
                    Ok::<_, store::StateError>(())
                })
            },
        )?;
        Ok(())
    }
}

impl KpiSource for LocalKpis {
    async fn range(&self, def: &KpiDef, window: Window) -> Result<Series, KpiError> {
        let (s, e) = window.seconds();
        Ok(self
            .load()?
            .remove(&def.name)
            .unwrap_or_default()
            .into_iter()
            .filter(|(t, _)| *t >= s && *t <= e)
            .collect())
    }
}
