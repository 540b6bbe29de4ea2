//! `[kpi]`: where rollout-gating metrics come from.

use serde::{Deserialize, Serialize};

/// Which KPI source gates rollouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KpiProvider {
    #[default]
    Local,
    Prometheus,
    /// Amazon `CloudWatch` `GetMetricData` (`[aws]` says where and as whom).
    Cloudwatch,
}

/// `[kpi]`: where rollout-gating metrics come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpiConfig {
    pub provider: KpiProvider,
    pub api_base: String,
    /// The KPIs, with `PromQL` and thresholds; a rollout waits for the `gating` ones.
    pub metrics: Vec<KpiDef>,
}

impl Default for KpiConfig {
    fn default() -> Self {
        Self {
            provider: KpiProvider::Local,
            api_base: "http://127.0.0.1:9090".to_owned(),
            metrics: default_kpis(),
        }
    }
}

/// Which side of the threshold is healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Healthy while the value stays below the threshold (latency, errors).
    Below,
    /// Healthy while the value stays above the threshold (throughput).
    Above,
}

/// One KPI: how to read it and what is healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiDef {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub unit: String,
    /// `PromQL` returning one series (several are reduced to the worst).
    #[serde(default)]
    pub query: String,
    /// No threshold: shown, never gating.
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default = "default_direction")]
    pub direction: Direction,
    /// Whether a rollout waits for it.
    #[serde(default)]
    pub gating: bool,
    /// `CloudWatch`: the metric's namespace and name, its dimensions, the statistic
    /// (`Average`, `Maximum`, `p95`, ...) and the period.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub dimensions: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_secs: Option<u32>,
    /// `CloudWatch`: the alarms shown beside the plot (`DescribeAlarms`); empty: the alarms on
    /// this metric (`DescribeAlarmsForMetric`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
}

impl Default for KpiDef {
    fn default() -> Self {
        Self {
            name: String::new(),
            title: String::new(),
            unit: String::new(),
            query: String::new(),
            threshold: None,
            direction: Direction::Below,
            gating: false,
            namespace: String::new(),
            metric: String::new(),
            dimensions: std::collections::BTreeMap::new(),
            stat: String::new(),
            period_secs: None,
            alarms: Vec::new(),
        }
    }
}

fn default_direction() -> Direction {
    Direction::Below
}

/// The KPIs of WireTuner's operations runbook (its Monitoring section) as defaults; `init` writes
/// them to the config.
pub fn default_kpis() -> Vec<KpiDef> {
    let def = |name: &str,
               title: &str,
               unit: &str,
               query: &str,
               threshold: Option<f64>,
               direction,
               gating| KpiDef {
        name: name.into(),
        title: title.into(),
        unit: unit.into(),
        query: query.into(),
        threshold,
        direction,
        gating,
        ..KpiDef::default()
    };
    vec![
        def(
            "event_replay_rate",
            "Event replay rate (baseline ~1000/s)",
            "/s",
            "sum(rate(app_event_replay_total[5m]))",
            Some(800.0),
            Direction::Above,
            false,
        ),
        def(
            "snapshot_duration",
            "Snapshot duration p95",
            "ms",
            "1000 * histogram_quantile(0.95, sum(rate(app_snapshot_duration_seconds_bucket[5m])) by (le))",
            Some(500.0),
            Direction::Below,
            true,
        ),
        def(
            "ot_transform_latency",
            "OT transform latency p95",
            "ms",
            "1000 * histogram_quantile(0.95, sum(rate(app_ot_transform_seconds_bucket[5m])) by (le))",
            Some(50.0),
            Direction::Below,
            true,
        ),
        def(
            "queue_depth",
            "Queue depth",
            "",
            "max(app_queue_depth)",
            Some(100.0),
            Direction::Below,
            true,
        ),
        def(
            "error_rate",
            "Error rate (SLO < 0.5%)",
            "%",
            "100 * sum(rate(app_errors_total[5m])) / sum(rate(app_requests_total[5m]))",
            Some(0.5),
            Direction::Below,
            true,
        ),
        def(
            "active_sessions",
            "Active collaboration sessions (~200 typical)",
            "",
            "sum(app_active_sessions)",
            None,
            Direction::Above,
            false,
        ),
    ]
}
