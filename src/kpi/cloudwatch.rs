//! Amazon `CloudWatch` as a KPI source: `GetMetricData` (JSON protocol, `SigV4`) over the window,
//! one `MetricStat` query per KPI (`namespace`, `metric`, `dimensions`, `stat`,
//! `period_secs`), following `NextToken`. A result that is not `Complete` (`PartialData`,
//! `Forbidden`, `InternalError`) is an error, so the gate reads it as unknown, never green.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{KpiDef, KpiError, KpiSource, Series, Window};
use crate::net::aws::JsonApi;

const TARGET: &str = "GraniteServiceVersion20100801.GetMetricData";
/// Pages followed before giving up (a window of a few hours needs one).
const MAX_PAGES: usize = 50;

#[derive(Debug, Clone)]
pub struct CloudWatch {
    api: JsonApi,
}

impl CloudWatch {
    pub fn new(cfg: &crate::workspace::config::AwsConfig) -> Result<Self, KpiError> {
        let creds =
            crate::workspace::secrets::aws_credentials(&cfg.profile).map_err(KpiError::Invalid)?;
        let endpoint = Some(cfg.endpoint.as_str()).filter(|e| !e.trim().is_empty());
        Ok(Self {
            api: JsonApi::new(
                endpoint,
                "monitoring",
                "monitoring",
                &cfg.region,
                creds,
                "1.0",
            )
            .map_err(KpiError::Invalid)?,
        })
    }

    pub fn api(&self) -> &JsonApi {
        &self.api
    }
}

/// The `GetMetricData` query of `def`.
pub fn query(def: &KpiDef) -> Result<Value, KpiError> {
    if def.namespace.trim().is_empty() || def.metric.trim().is_empty() {
        return Err(KpiError::Invalid(format!(
            "KPI {}: provider cloudwatch needs `namespace` and `metric` in its [[kpi.metrics]] entry",
            def.name
        )));
    }
    let dimensions: Vec<Value> = def
        .dimensions
        .iter()
        .map(|(k, v)| json!({"Name": k, "Value": v}))
        .collect();
    Ok(json!({
        "Id": "m0",
        "MetricStat": {
            "Metric": {"Namespace": def.namespace, "MetricName": def.metric, "Dimensions": dimensions},
            "Period": def.period_secs.unwrap_or(60),
            "Stat": if def.stat.is_empty() { "Average" } else { def.stat.as_str() },
        },
        "ReturnData": true,
    }))
}

/// The request that finds `def`'s alarms: by name when it names them, else by its metric.
pub fn alarms_request(def: &KpiDef) -> (&'static str, Value) {
    if def.alarms.is_empty() {
        let dimensions: Vec<Value> = def
            .dimensions
            .iter()
            .map(|(k, v)| json!({"Name": k, "Value": v}))
            .collect();
        (
            "GraniteServiceVersion20100801.DescribeAlarmsForMetric",
            json!({"Namespace": def.namespace, "MetricName": def.metric, "Dimensions": dimensions}),
        )
    } else {
        (
            "GraniteServiceVersion20100801.DescribeAlarms",
            json!({"AlarmNames": def.alarms, "AlarmTypes": ["MetricAlarm"]}),
        )
    }
}

impl KpiSource for CloudWatch {
    async fn alarms(&self, def: &KpiDef) -> Result<Vec<super::Alarm>, KpiError> {
        if def.namespace.trim().is_empty() && def.alarms.is_empty() {
            return Ok(Vec::new());
        }
        let (target, body) = alarms_request(def);
        let v = self
            .api
            .call(target, &body)
            .await
            .map_err(|cause| KpiError::Aws {
                what: format!("KPI {} alarms", def.name),
                cause: Box::new(cause),
            })?;
        let mut out: Vec<super::Alarm> = v["MetricAlarms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| super::Alarm {
                name: a["AlarmName"].as_str().unwrap_or("").to_owned(),
                state: a["StateValue"].as_str().unwrap_or("").to_owned(),
                reason: a["StateReason"].as_str().unwrap_or("").to_owned(),
                updated: crate::net::aws::timestamp(&a["StateUpdatedTimestamp"]),
            })
            .collect();
        for name in &def.alarms {
            if !out.iter().any(|a| &a.name == name) {
                return Err(KpiError::Invalid(format!(
                    "KPI {}: CloudWatch has no alarm named {name:?}",
                    def.name
                )));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn range(&self, def: &KpiDef, window: Window) -> Result<Series, KpiError> {
        let q = query(def)?;
        let mut series = Series::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut body = json!({
                "MetricDataQueries": [q.clone()],
                "StartTime": window.start.as_second(),
                "EndTime": window.end.as_second(),
                "ScanBy": "TimestampAscending",
            });
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let v = self
                .api
                .call(TARGET, &body)
                .await
                .map_err(|cause| KpiError::Aws {
                    what: format!("KPI {}", def.name),
                    cause: Box::new(cause),
                })?;
            for r in v["MetricDataResults"].as_array().into_iter().flatten() {
                let status = r["StatusCode"].as_str().unwrap_or("Complete");
                if status != "Complete" {
                    return Err(KpiError::Invalid(format!(
                        "KPI {}: CloudWatch returned {status} for {}/{} (not judged: unknown)",
                        def.name, def.namespace, def.metric
                    )));
                }
                let times = r["Timestamps"].as_array().cloned().unwrap_or_default();
                let values = r["Values"].as_array().cloned().unwrap_or_default();
                for (t, x) in times.iter().zip(values.iter()) {
                    let t = t.as_f64().or_else(|| {
                        t.as_str()
                            .and_then(|s| s.parse::<Timestamp>().ok())
                            .map(|ts| ts.as_millisecond() as f64 / 1000.0)
                    });
                    if let (Some(t), Some(x)) = (t, x.as_f64()) {
                        series.push((t, x));
                    }
                }
            }
            token = v["NextToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                series.sort_by(|a, b| a.0.total_cmp(&b.0));
                return Ok(series);
            }
        }
        Err(KpiError::Invalid(format!(
            "KPI {}: CloudWatch kept paging after {MAX_PAGES} pages",
            def.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kpi_without_namespace_and_metric_is_named() {
        let def = crate::workspace::config::default_kpis().remove(0);
        let e = query(&def).expect_err("no metric");
        assert!(
            e.to_string().contains("needs `namespace` and `metric`"),
            "{e}"
        );
        let mut def = def;
        def.namespace = "WireTuner/Collab".into();
        def.metric = "EventReplayRate".into();
        def.dimensions.insert("Service".into(), "collab".into());
        def.stat = "p95".into();
        let q = query(&def).expect("query");
        assert_eq!(q["MetricStat"]["Stat"], "p95");
        assert_eq!(q["MetricStat"]["Period"], 60);
        assert_eq!(
            q["MetricStat"]["Metric"]["Dimensions"],
            json!([{"Name": "Service", "Value": "collab"}])
        );
    }
}
