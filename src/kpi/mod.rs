//! KPIs that gate rollouts: definitions with thresholds (in the workspace config), sources behind
//! one small trait (Prometheus HTTP API, and samples recorded in the workspace), and the gate:
//! green when every gating KPI stayed within its threshold over the hold, red when one did not,
//! unknown (never green) when there is no data to judge by.

pub mod cloudwatch;
pub mod local;
pub mod prometheus;

use std::future::Future;

use jiff::Timestamp;
use serde::Serialize;

use crate::workspace::Workspace;
use crate::workspace::config::KpiProvider;
pub use crate::workspace::config::{Direction, KpiDef, default_kpis};

/// Whether the KPIs allow the next stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum Gate {
    Green(String),
    Red(String),
    /// No data to judge by: never green.
    Unknown(String),
}

impl Gate {
    pub fn is_green(&self) -> bool {
        matches!(self, Gate::Green(_))
    }

    /// `green`, `red` or `unknown`, for people.
    pub fn label(&self) -> &'static str {
        match self {
            Gate::Green(_) => "green",
            Gate::Red(_) => "red",
            Gate::Unknown(_) => "unknown",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Gate::Green(d) | Gate::Red(d) | Gate::Unknown(d) => d,
        }
    }
}

/// What went wrong reading KPIs.
#[derive(Debug, thiserror::Error)]
pub enum KpiError {
    #[error("cannot reach Prometheus at {url}: {message}")]
    Network { url: String, message: String },
    #[error("Prometheus rejected {query:?}: {message}")]
    Query { query: String, message: String },
    /// A value or setting that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// `CloudWatch` answered with an error (its type in `cause.kind()`) or could not be reached.
    #[error("{what}: {cause}")]
    Aws {
        what: String,
        cause: Box<crate::net::aws::AwsError>,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StateError),
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
}

/// A time series: (unix seconds, value).
pub type Series = Vec<(f64, f64)>;

/// An alarm the monitoring service keeps on a KPI's metric, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
    pub updated: Option<Timestamp>,
}

/// The time a KPI is read over, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    /// The ends in seconds since the epoch, with their milliseconds (as sample times are kept
    /// and as Prometheus takes them).
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since 1970 fit in f64"
    )]
    pub fn seconds(&self) -> (f64, f64) {
        (
            self.start.as_millisecond() as f64 / 1000.0,
            self.end.as_millisecond() as f64 / 1000.0,
        )
    }
}

/// Where KPI values come from.
pub trait KpiSource: Send + Sync {
    /// Samples of `def` within `window`.
    fn range(
        &self,
        def: &KpiDef,
        window: Window,
    ) -> impl Future<Output = Result<Series, KpiError>> + Send;

    /// The alarms on `def`'s metric (none where the source has no alarms).
    fn alarms(&self, _def: &KpiDef) -> impl Future<Output = Result<Vec<Alarm>, KpiError>> + Send {
        async { Ok(Vec::new()) }
    }
}

/// The source the workspace config selects.
#[derive(Debug)]
pub enum Source {
    Local(local::LocalKpis),
    Prometheus(prometheus::Prometheus),
    CloudWatch(cloudwatch::CloudWatch),
}

impl Source {
    pub fn from_workspace(ws: &Workspace) -> Result<Self, KpiError> {
        let cfg = &ws.config().kpi;
        Ok(match cfg.provider {
            KpiProvider::Local => Source::Local(local::LocalKpis::new(ws)),
            KpiProvider::Prometheus => {
                Source::Prometheus(prometheus::Prometheus::new(&cfg.api_base)?)
            }
            KpiProvider::Cloudwatch => {
                Source::CloudWatch(cloudwatch::CloudWatch::new(&ws.config().aws)?)
            }
        })
    }
}

impl KpiSource for Source {
    async fn range(&self, def: &KpiDef, window: Window) -> Result<Series, KpiError> {
        match self {
            Source::Local(s) => s.range(def, window).await,
            Source::Prometheus(s) => s.range(def, window).await,
            Source::CloudWatch(s) => s.range(def, window).await,
        }
    }

    async fn alarms(&self, def: &KpiDef) -> Result<Vec<Alarm>, KpiError> {
        match self {
            Source::CloudWatch(s) => s.alarms(def).await,
            Source::Local(_) | Source::Prometheus(_) => Ok(Vec::new()),
        }
    }
}

/// A KPI over a window: its samples, the latest value, the worst value, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub def: KpiDef,
    pub series: Series,
    pub current: Option<f64>,
    /// The worst value in the window (max for `below`, min for `above`).
    pub worst: Option<f64>,
    /// `None`: no threshold or no data.
    pub ok: Option<bool>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
    /// The source's alarms on it (shown beside the plot; the gate does not read them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_error: Option<String>,
}

fn judge(def: &KpiDef, series: Series) -> Reading {
    let current = series.last().map(|(_, v)| *v);
    // A sample that is not a number (a rate divided by zero traffic, an overflow) is the worst
    // there is: a breach, never a gap that lets the gate stay green.
    let not_a_number = series.iter().map(|(_, v)| *v).find(|v| !v.is_finite());
    let values = series.iter().map(|(_, v)| *v).filter(|v| v.is_finite());
    let worst = not_a_number.or(match def.direction {
        Direction::Below => values.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
        Direction::Above => values.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v)))),
    });
    let ok = match (def.threshold, worst) {
        (Some(_), Some(w)) if !w.is_finite() => Some(false),
        (Some(t), Some(w)) => Some(match def.direction {
            Direction::Below => w < t,
            Direction::Above => w > t,
        }),
        _ => None,
    };
    Reading {
        def: def.clone(),
        series,
        current,
        worst,
        ok,
        error: None,
        alarms: Vec::new(),
        alarm_error: None,
    }
}

/// Reads every KPI over `[start, end]`.
pub async fn read_all<S: KpiSource>(
    source: &S,
    defs: &[KpiDef],
    start: Timestamp,
    end: Timestamp,
) -> Vec<Reading> {
    let mut out = Vec::new();
    for def in defs {
        let mut reading = match source.range(def, Window { start, end }).await {
            Ok(series) => judge(def, series),
            Err(e) => Reading {
                def: def.clone(),
                series: Vec::new(),
                current: None,
                worst: None,
                ok: None,
                error: Some(e.to_string()),
                alarms: Vec::new(),
                alarm_error: None,
            },
        };
        match source.alarms(def).await {
            Ok(a) => reading.alarms = a,
            Err(e) => reading.alarm_error = Some(e.to_string()),
        }
        out.push(reading);
    }
    out
}

fn fmt_value(v: f64, unit: &str) -> String {
    let n = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    };
    if unit.is_empty() {
        n
    } else if unit == "%" {
        format!("{n}%")
    } else {
        format!("{n} {unit}")
    }
}

/// The rollout gate from readings: red if a gating KPI left its threshold, unknown if one has
/// no data (or no gating KPI is configured), green otherwise.
pub fn gate(readings: &[Reading]) -> Gate {
    let gating: Vec<&Reading> = readings
        .iter()
        .filter(|r| r.def.gating && r.def.threshold.is_some())
        .collect();
    if gating.is_empty() {
        return Gate::Unknown("no gating KPI is configured ([[kpi.metrics]] gating = true)".into());
    }
    let breaches: Vec<String> = gating
        .iter()
        .filter(|r| r.ok == Some(false))
        .map(|r| match r.worst {
            Some(w) if !w.is_finite() => format!(
                "{} was not a number ({w}): no traffic to divide by, or a broken series",
                r.def.name
            ),
            _ => format!(
                "{} reached {} ({} {})",
                r.def.name,
                fmt_value(r.worst.unwrap_or(f64::NAN), &r.def.unit),
                match r.def.direction {
                    Direction::Below => "limit",
                    Direction::Above => "floor",
                },
                fmt_value(r.def.threshold.unwrap_or(f64::NAN), &r.def.unit)
            ),
        })
        .collect();
    if !breaches.is_empty() {
        return Gate::Red(breaches.join("; "));
    }
    let missing: Vec<String> = gating
        .iter()
        .filter(|r| r.ok.is_none())
        .map(|r| match &r.error {
            Some(e) => format!("{}: {e}", r.def.name),
            None => format!("{}: no data", r.def.name),
        })
        .collect();
    if !missing.is_empty() {
        return Gate::Unknown(missing.join("; "));
    }
    let watched: Vec<&str> = readings
        .iter()
        .filter(|r| !r.def.gating && r.def.threshold.is_some())
        .map(|r| r.def.name.as_str())
        .collect();
    let mut detail = match gating.len() {
        1 => "1 gating KPI within its threshold".to_owned(),
        n => format!("{n} gating KPIs within their thresholds"),
    };
    if !watched.is_empty() {
        detail.push_str(&format!(
            "; {} with a threshold but not gating: {}",
            watched.len(),
            watched.join(", ")
        ));
    }
    Gate::Green(detail)
}

/// Reads the configured KPIs since `since` and returns the readings and the gate.
pub async fn evaluate(ws: &Workspace, since: Timestamp) -> (Vec<Reading>, Gate) {
    let now = Timestamp::now();
    // At least the last 10 minutes, so a stage that just started has data to judge.
    let start = since.min(now - jiff::SignedDuration::from_mins(10));
    match Source::from_workspace(ws) {
        Ok(source) => {
            let readings = read_all(&source, &ws.config().kpi.metrics, start, now).await;
            let g = gate(&readings);
            (readings, g)
        }
        Err(e) => (Vec::new(), Gate::Unknown(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(name: &str, threshold: f64, values: &[f64]) -> Reading {
        let def = default_kpis()
            .into_iter()
            .find(|d| d.name == name)
            .expect("kpi");
        let def = KpiDef {
            threshold: Some(threshold),
            ..def
        };
        judge(
            &def,
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, *v))
                .collect(),
        )
    }

    #[test]
    fn a_sample_that_is_not_a_number_is_a_breach_not_a_gap() {
        let def = KpiDef {
            name: "error_rate".into(),
            title: "Error rate".into(),
            unit: "%".into(),
            query: "q".into(),
            threshold: Some(0.5),
            direction: Direction::Below,
            gating: true,
            ..KpiDef::default()
        };
        let r = judge(&def, vec![(1.0, 0.1), (2.0, f64::NAN), (3.0, 0.2)]);
        assert_eq!(r.ok, Some(false));
        assert!(r.worst.is_some_and(f64::is_nan));
        let g = gate(&[r]);
        assert!(
            matches!(&g, Gate::Red(d) if d.starts_with("error_rate was not a number (NaN)")),
            "{g:?}"
        );
        let inf = judge(&def, vec![(1.0, f64::INFINITY)]);
        assert_eq!(inf.ok, Some(false));
        // Prometheus sends them as strings; they are kept, and win over finite values.
        let v = serde_json::json!({"data": {"result": [
            {"values": [[1.0, "0.1"], [2.0, "NaN"]]},
            {"values": [[2.0, "0.3"], [3.0, "+Inf"]]}
        ]}});
        let series = prometheus::parse_matrix(&v, Direction::Below);
        assert_eq!(series.len(), 3);
        assert!(series[1].1.is_nan() && series[2].1.is_infinite());
    }

    #[test]
    fn gate_is_red_on_any_breach_unknown_without_data_green_otherwise() {
        let ok = reading("error_rate", 0.5, &[0.1, 0.2, 0.3]);
        assert_eq!(ok.worst, Some(0.3));
        assert_eq!(
            gate(std::slice::from_ref(&ok)),
            Gate::Green("1 gating KPI within its threshold".into())
        );
        let bad = reading("error_rate", 0.5, &[0.1, 0.8, 0.2]);
        assert_eq!(
            gate(&[bad]),
            Gate::Red("error_rate reached 0.80% (limit 0.50%)".into())
        );
        let none = reading("queue_depth", 100.0, &[]);
        assert!(
            matches!(gate(&[ok.clone(), none]), Gate::Unknown(d) if d == "queue_depth: no data")
        );
        let replay = reading("event_replay_rate", 800.0, &[1000.0, 700.0]);
        assert_eq!(replay.ok, Some(false), "throughput is judged by its floor");
        assert!(
            gate(&[ok, replay]).is_green(),
            "non-gating KPIs do not gate"
        );
    }
}
